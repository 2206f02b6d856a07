//! The default scene's static objects as `ObjectUpdateCompressed`, the rest as full updates.

use std::collections::BTreeSet;
use std::time::Duration;

use super::harness::{LOSSY, Net, PERFECT, smooth_map};
use super::settled;
use crate::scene::default_scene;
use crate::server::DefaultScene;
use overlook_protocol::message::object::PCode;
use overlook_protocol::message::{Message, MessageRepr};

/// A region serving the default scene on the harness map; also the scene's ids, and the ids of
/// the objects that move or blink.
fn default_net(link: super::harness::Link) -> (Net, BTreeSet<u32>, BTreeSet<u32>) {
    let objects = default_scene(&smooth_map(256, 256), 7);
    let all = objects.iter().map(|o| o.local_id).collect();
    let animated = objects
        .iter()
        .filter(|o| o.motion.is_some() || o.blink.is_some())
        .map(|o| o.local_id)
        .collect();
    let net = Net::new(256, 256, Box::new(DefaultScene::new(objects)), link, 3);
    (net, all, animated)
}

/// Object ids seen in full updates (avatars left out) and in compressed ones.
fn seen(net: &Net, v: usize) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let full = net.viewers[v]
        .object_blocks()
        .into_iter()
        .filter(|b| b.pcode != PCode::Avatar)
        .map(|b| b.id)
        .collect();
    let compressed = net.viewers[v]
        .messages()
        .filter_map(|m| match m {
            Message::ObjectUpdateCompressed(u) => Some(u.objects.iter()),
            _ => None,
        })
        .flatten()
        .map(|b| b.object().unwrap().local_id)
        .collect();
    (full, compressed)
}

#[test]
fn static_objects_arrive_compressed_and_animated_ones_full() {
    let (mut net, all, animated) = default_net(PERFECT);
    assert!(!animated.is_empty());
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, v)));
    // Long enough for the blinker to vanish and come back.
    net.run_for(Duration::from_secs(12));
    let viewer = &net.viewers[v];
    assert!(viewer.count("ObjectUpdate") > 0);
    let packets: Vec<_> = viewer
        .messages()
        .filter_map(|m| match m {
            Message::ObjectUpdateCompressed(u) => Some(u),
            _ => None,
        })
        .collect();
    assert!(!packets.is_empty(), "no ObjectUpdateCompressed");
    // Several blocks per packet, every packet under ~1100 bytes.
    assert!(packets.iter().any(|p| p.objects.len() > 1));
    for p in &packets {
        assert!(p.buffer_len() <= 1100, "{} bytes", p.buffer_len());
    }
    let (full, compressed) = seen(&net, v);
    assert!(
        compressed.is_disjoint(&animated),
        "animated objects sent compressed"
    );
    assert!(animated.is_subset(&full), "{animated:?} not in {full:?}");
    let union: BTreeSet<u32> = full.union(&compressed).copied().collect();
    assert_eq!(union, all);
    // The re-created blinker came back as a full update, never compressed.
    assert!(viewer.count("KillObject") > 0);
}

#[test]
fn lossy_link_still_delivers_every_object() {
    let (mut net, all, _) = default_net(LOSSY);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(30), |n| settled(n, v)));
    net.run_for(Duration::from_secs(3));
    let (full, compressed) = seen(&net, v);
    assert!(!compressed.is_empty());
    let union: BTreeSet<u32> = full.union(&compressed).copied().collect();
    assert_eq!(union, all);
}

#[test]
fn the_handshake_and_the_scene_name_only_served_textures_or_the_missing_one() {
    use crate::textures::{CHECKER, LEAF_ALPHA, MISSING, ORIENTED, TERRAIN_DETAIL, texture};
    use overlook_protocol::message::object::TextureEntry;
    use overlook_protocol::types::Uuid;

    let (mut net, _, _) = default_net(PERFECT);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, v)));
    let viewer = &net.viewers[v];
    let handshake = viewer
        .messages()
        .find_map(|m| match m {
            Message::RegionHandshake(h) => Some(h.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(handshake.terrain_detail, TERRAIN_DETAIL);
    // Every TextureEntry the viewer received, full and compressed: each texture id it names.
    let mut entries: Vec<Vec<u8>> = viewer
        .object_blocks()
        .into_iter()
        .map(|b| b.texture_entry.clone())
        .collect();
    for m in viewer.messages() {
        if let Message::ObjectUpdateCompressed(u) = m {
            entries.extend(u.objects.iter().map(|b| b.object().unwrap().texture_entry));
        }
    }
    let mut named = BTreeSet::new();
    for bytes in entries.iter().filter(|b| !b.is_empty()) {
        let te = TextureEntry::parse(bytes).unwrap();
        named.insert(te.textures.default);
        named.extend(te.textures.exceptions.iter().map(|&(_, id)| id));
    }
    named.remove(&Uuid::NIL); // the avatar's: no texture
    assert_eq!(
        named,
        BTreeSet::from([ORIENTED, CHECKER, LEAF_ALPHA, MISSING])
    );
    for id in named.iter().chain(&handshake.terrain_detail) {
        assert!(texture(*id).is_some() || *id == MISSING, "{id} not served");
    }
    assert!(texture(MISSING).is_none());
}
