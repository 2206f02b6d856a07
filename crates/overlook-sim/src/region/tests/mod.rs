//! The region against the viewer's own [`Circuit`](overlook_protocol::circuit::Circuit) over an
//! in-memory link with a fake clock (perfect, and 30 % loss with duplication and reordering).

mod budget;
mod compressed;
mod harness;
mod measure;
mod more;

use std::time::Duration;

use harness::{LOSSY, Net, PERFECT};

use super::{LeaveReason, RegionEvent};
use overlook_protocol::circuit::Phase;
use overlook_protocol::message::Message;
use overlook_protocol::message::layer_data::layer_type;
use overlook_protocol::message::object::PCode;

/// The story up to `objects_settled`: what the circuit reaches.
const STORY: [Phase; 9] = Phase::CIRCUIT_STORY;

/// Every phase of the story up to `objects_settled` reached.
fn settled(net: &Net, i: usize) -> bool {
    STORY.iter().all(|&p| net.viewers[i].phase(p).is_some())
}

#[test]
fn perfect_link_plays_the_whole_story() {
    let mut net = Net::demo(PERFECT, 1);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, v)));
    let viewer = &net.viewers[v];
    for p in STORY {
        assert!(viewer.phase(p).is_some(), "phase {p} not reached");
    }
    // Terrain at 4 Mbit/s on loopback: well under a second, as OpenSim with a raised throttle.
    let terrain_ms = viewer.phase(Phase::TerrainComplete).unwrap();
    assert!(terrain_ms < 600, "terrain took {terrain_ms} ms");
    assert!(net.terrain_error(v) <= 0.25, "{}", net.terrain_error(v));
    assert_eq!(viewer.count("RegionHandshake"), 1);
    assert_eq!(viewer.count("AgentMovementComplete"), 1);
    // OpenSim's order (PROTOCOL §5): the handshake, the movement, then the terrain.
    let names: Vec<&str> = viewer.messages().map(Message::name).collect();
    let first = |name: &str| names.iter().position(|n| *n == name).unwrap();
    assert!(first("RegionHandshake") < first("AgentMovementComplete"));
    assert!(
        first("AgentMovementComplete") < first("LayerData"),
        "{:?}",
        &names[..names.len().min(8)]
    );
    // Several patches per packet, every packet a legacy land layer under ~1000 bytes.
    let layers: Vec<_> = viewer
        .messages()
        .filter_map(|m| match m {
            Message::LayerData(l) => Some(l),
            _ => None,
        })
        .collect();
    assert!(
        layers.len() < 64,
        "{} LayerData for 256 patches",
        layers.len()
    );
    assert!(layers.iter().all(|l| l.layer_type == layer_type::LAND));
    assert!(layers.iter().all(|l| l.data.len() <= 1000));
    // Its own avatar, named, and the five boxes.
    let blocks = viewer.object_blocks();
    let me = blocks
        .iter()
        .find(|o| o.full_id == viewer.agent)
        .expect("own avatar");
    assert_eq!(me.pcode, PCode::Avatar);
    assert_eq!(me.object_data.len(), 76);
    assert_eq!(me.name_values().first_name(), Some("Test1"));
    assert_eq!(me.name_values().last_name(), Some("User"));
    assert_eq!(viewer.circuit.stats().objects, 5);
    assert_eq!(viewer.circuit.stats().malformed, 0);
    let amc = viewer
        .messages()
        .find_map(|m| match m {
            Message::AgentMovementComplete(a) => Some(a.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(amc.channel_version, "Overlook sim 0.1");
    assert_eq!((amc.position.x, amc.position.y), (128.0, 128.0));
    assert_eq!(amc.region_handle, net.region.info().handle());
    let events: Vec<_> = std::iter::from_fn(|| net.region.poll_event()).collect();
    assert!(matches!(events[0], RegionEvent::Connected { .. }));
    assert!(matches!(events[1], RegionEvent::Entered { .. }));
}

#[test]
fn lossy_link_still_plays_the_whole_story() {
    for seed in [7, 99, 12345] {
        let mut net = Net::demo(LOSSY, seed);
        let v = net.login(1, true);
        assert!(
            net.run_until(Duration::from_secs(40), |n| settled(n, v)),
            "seed {seed}: {:?}",
            net.viewers[v].circuit.phases()
        );
        let viewer = &net.viewers[v];
        for p in STORY {
            assert!(
                viewer.phase(p).is_some(),
                "seed {seed}: phase {p} not reached"
            );
        }
        assert_eq!(viewer.count("RegionHandshake"), 1, "seed {seed}");
        assert_eq!(viewer.count("AgentMovementComplete"), 1, "seed {seed}");
        assert!(net.terrain_error(v) <= 0.25, "seed {seed}");
        assert_eq!(
            viewer.terrain.duplicates(),
            0,
            "seed {seed}: duplicates delivered ({} LayerData)",
            viewer.count("LayerData")
        );
        assert_eq!(viewer.circuit.stats().objects, 5, "seed {seed}");
        assert!(viewer.circuit.reliable_stats().resent > 0, "seed {seed}");
    }
}

fn var_region(sx: u32, sy: u32) {
    let mut net = Net::empty(sx, sy, PERFECT, 3);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(10), |n| {
        n.viewers[v].phase(Phase::TerrainComplete).is_some()
    }));
    let viewer = &net.viewers[v];
    assert!(viewer.terrain.is_complete());
    assert!(net.terrain_error(v) <= 0.25, "{}", net.terrain_error(v));
    assert!(
        viewer
            .messages()
            .filter_map(|m| match m {
                Message::LayerData(l) => Some(l.layer_type),
                _ => None,
            })
            .all(|t| t == layer_type::LAND_EXTENDED)
    );
    let ms = viewer.phase(Phase::TerrainComplete).unwrap();
    assert!(ms < 2000, "{sx}x{sy}: terrain took {ms} ms");
}

#[test]
fn var_region_512_completes_with_extended_layers() {
    var_region(512, 512);
}

#[test]
fn var_region_256_by_512_completes_with_extended_layers() {
    var_region(256, 512);
}

#[test]
fn no_seed_capability_means_terrain_and_own_avatar_only() {
    let mut net = Net::demo(PERFECT, 4);
    let v = net.login(1, false);
    net.run_for(Duration::from_secs(8));
    let viewer = &net.viewers[v];
    assert!(viewer.phase(Phase::TerrainComplete).is_some());
    assert!(viewer.phase(Phase::FirstObject).is_none());
    let blocks = viewer.object_blocks();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].full_id, viewer.agent);
    assert_eq!(viewer.count("ImprovedTerseObjectUpdate"), 0);
    assert_eq!(viewer.count("KillObject"), 0);
    assert_eq!(viewer.count("ObjectUpdateCompressed"), 0);
    // The seed request opens the second gate.
    let agent = viewer.agent;
    assert!(net.region.grant_seeds(net.now, agent));
    assert!(net.run_until(Duration::from_secs(3), |n| settled(n, v)));
    assert_eq!(net.viewers[v].circuit.stats().objects, 5);
}

#[test]
fn unknown_circuit_code_gets_no_answer() {
    let mut net = Net::demo(PERFECT, 6);
    let v = net.login_with(1, 0xBAD, 0x1001, true);
    net.run_for(Duration::from_secs(8));
    let viewer = &net.viewers[v];
    assert_eq!(viewer.circuit.stats().received, 0);
    assert!(viewer.phase(Phase::CircuitAcked).is_none());
    assert!(net.region.stats().ignored >= 1);
    assert!(net.region.poll_event().is_none());
    assert!(net.region.agents().is_empty());
    // The expected circuit is still waiting for its rightful owner.
    assert!(net.region.is_present(viewer.agent));
}

#[test]
fn two_viewers_see_each_other() {
    let mut net = Net::demo(PERFECT, 8);
    let a = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, a)));
    let b = net.login(2, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, b)));
    net.run_for(Duration::from_secs(1));
    let (ida, idb) = (net.viewers[a].agent, net.viewers[b].agent);
    let sees = |i: usize, who| {
        net.viewers[i]
            .object_blocks()
            .iter()
            .any(|o| o.full_id == who && o.pcode == PCode::Avatar)
    };
    assert!(sees(a, idb), "the first viewer sees the second");
    assert!(sees(b, ida), "the second viewer sees the first");
    // CoarseLocationUpdate lists both.
    let coarse = net.viewers[a]
        .messages()
        .filter_map(|m| match m {
            Message::CoarseLocationUpdate(c) => Some(c.clone()),
            _ => None,
        })
        .last()
        .unwrap();
    assert_eq!(coarse.agent_ids.len(), 2);
    assert!(coarse.you >= 0);
    // When the second leaves, the first is told to remove its avatar.
    net.viewers[b].circuit.logout(net.now);
    net.run_for(Duration::from_secs(2));
    assert!(net.viewers[a].count("KillObject") >= 1);
}

#[test]
fn logout_gets_logout_reply() {
    let mut net = Net::demo(PERFECT, 9);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, v)));
    net.viewers[v].circuit.logout(net.now);
    net.run_for(Duration::from_secs(1));
    let viewer = &net.viewers[v];
    assert_eq!(viewer.count("LogoutReply"), 1);
    assert!(viewer.circuit.is_closed());
    assert!(!net.region.is_present(viewer.agent));
    let left: Vec<_> = std::iter::from_fn(|| net.region.poll_event())
        .filter_map(|e| match e {
            RegionEvent::Left { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(left, [LeaveReason::LoggedOut]);
    // The lingering circuit is forgotten a few seconds later.
    net.run_for(Duration::from_secs(5));
    assert!(net.region.poll_timeout().is_none());
}

#[test]
fn two_viewers_see_each_other_on_a_lossy_link() {
    let mut net = Net::demo(LOSSY, 21);
    let a = net.login(1, true);
    let b = net.login(2, true);
    assert!(net.run_until(Duration::from_secs(40), |n| settled(n, a) && settled(n, b)));
    net.run_for(Duration::from_secs(3));
    let (ida, idb) = (net.viewers[a].agent, net.viewers[b].agent);
    let sees = |i: usize, who| {
        net.viewers[i]
            .object_blocks()
            .iter()
            .any(|o| o.full_id == who && o.pcode == PCode::Avatar)
    };
    assert!(sees(a, idb) && sees(b, ida));
    assert!(net.terrain_error(a) <= 0.25 && net.terrain_error(b) <= 0.25);
}
