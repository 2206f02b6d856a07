//! Tests of the default scene and its encoders, including comparisons with the OpenSim 0.9.2.2
//! captures (read at run time from `shared/captures/opensim-0.9.2.2/`).

use std::collections::{BTreeMap, BTreeSet};

use super::encode::TIME_DILATION;
use super::*;
use crate::terrain::{WATER_HEIGHT, island};
use crate::textures::{CHECKER, LEAF_ALPHA, MISSING, ORIENTED};
use overlook_protocol::capture::{inbound_messages, read_udp_jsonl};
use overlook_protocol::message::object::{
    CompressedObject, ObjectData, ObjectUpdate, ObjectUpdateCompressed, ShapeKind, TeField,
    TerseData, TextureEntry,
};
use overlook_protocol::message::{MessageRepr, generic};

const HANDLE: u64 = 0x0003_E800_0003_E800;

fn scene() -> (Heightmap, Vec<SceneObject>) {
    let map = island(256, 256, 11).unwrap();
    let objects = default_scene(&map, 11);
    (map, objects)
}

/// `te` as OpenSim's captured prims wore it: plywood on every face, no repeats, offsets or
/// rotations — ours differ from the captures only in those (the region's own textures).
fn as_plywood(te: &[u8]) -> Vec<u8> {
    TextureEntry {
        textures: TeField::new(PLYWOOD),
        repeats_u: TeField::new(1.0),
        repeats_v: TeField::new(1.0),
        offsets_u: TeField::new(0),
        offsets_v: TeField::new(0),
        rotations: TeField::new(0),
        ..TextureEntry::parse(te).unwrap()
    }
    .to_bytes()
}

fn by_name<'a>(objects: &'a [SceneObject], name: &str) -> &'a SceneObject {
    objects.iter().find(|o| o.name == name).unwrap()
}

/// The typed parser and the template-driven generic decoder both read `msg` back exactly.
fn roundtrip<M: MessageRepr + PartialEq + core::fmt::Debug>(msg: &M) -> Vec<u8> {
    let bytes = msg.to_bytes().unwrap();
    assert_eq!(&M::parse(&bytes).unwrap(), msg);
    let g = generic::decode(M::ID, &bytes).unwrap();
    assert_eq!(g.name, M::NAME);
    assert_eq!(generic::encode(&g).unwrap(), bytes);
    bytes
}

/// The parsed messages of type `M` the simulator sent in a captured session.
fn captured<M: MessageRepr>(session: &str) -> Vec<M> {
    let datagrams = read_udp_jsonl(&overlook_testdata::session_udp(session)).unwrap();
    inbound_messages::<M>(&datagrams)
        .unwrap()
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

#[test]
fn scene_has_unique_ids_a_linkset_and_animated_objects() {
    let (_, objects) = scene();
    assert_eq!(objects.len(), 42);
    let ids: BTreeSet<_> = objects.iter().map(|o| o.local_id).collect();
    let uuids: BTreeSet<_> = objects.iter().map(|o| o.full_id).collect();
    assert_eq!((ids.len(), uuids.len()), (42, 42));
    assert!(
        ids.iter()
            .all(|id| (SCENE_FIRST_ID..SCENE_FIRST_ID + 4096).contains(id))
    );
    for u in &uuids {
        assert_eq!((u.0[6] >> 4, u.0[8] >> 6), (4, 2), "version 4, RFC variant");
    }
    let root = by_name(&objects, "linkset root box");
    let child = by_name(&objects, "linkset child sphere");
    assert_eq!(child.parent_id, root.local_id);
    assert!(objects.iter().position(|o| o == root) < objects.iter().position(|o| o == child));
    assert_eq!(objects.iter().filter(|o| o.parent_id != 0).count(), 1);
    assert_eq!(objects.iter().filter(|o| o.motion.is_some()).count(), 1);
    assert_eq!(objects.iter().filter(|o| o.blink.is_some()).count(), 1);
    let plants: Vec<_> = objects
        .iter()
        .filter(|o| o.is_plant())
        .map(|o| o.pcode)
        .collect();
    assert_eq!(plants, [PCode::Tree, PCode::NewTree, PCode::Grass]);
    // Same seed, same scene; another seed, other UUIDs.
    let map = island(256, 256, 11).unwrap();
    assert_eq!(default_scene(&map, 11), objects);
    assert_ne!(default_scene(&map, 12)[0].full_id, objects[0].full_id);
}

#[test]
fn everything_stands_on_the_island_above_water() {
    for (w, h) in [(256, 256), (512, 256), (1024, 1024)] {
        let map = island(w, h, 5).unwrap();
        let (cx, cy) = island_centre(w, h);
        for o in default_scene(&map, 5).iter().filter(|o| o.parent_id == 0) {
            let p = o.position;
            let ground = height_at(&map, p.x, p.y);
            assert!(ground > WATER_HEIGHT, "{} at {p} on {ground}", o.name);
            assert!(p.z >= ground - 0.01, "{} below ground", o.name);
            assert!(
                (p.x - cx).hypot(p.y - cy) < 25.0,
                "{} far from the centre",
                o.name
            );
        }
    }
    let (map, _) = scene();
    let spawn = spawn_point(&map);
    assert_eq!((spawn.x, spawn.y), (128.0, 128.0));
    assert!((spawn.z - 26.03).abs() < 0.01, "{spawn}");
}

#[test]
fn full_updates_parse_with_both_decoders_and_show_every_shape() {
    let (_, objects) = scene();
    let blocks: Vec<ObjectData> = objects.iter().map(|o| o.to_object_data(0.0)).collect();
    let mut kinds = BTreeMap::new();
    for msg in object_updates(HANDLE, blocks.clone(), 1100) {
        assert!(msg.buffer_len() <= 1100);
        assert_eq!(msg.time_dilation, TIME_DILATION);
        let bytes = roundtrip(&msg);
        for o in ObjectUpdate::parse(&bytes).unwrap().objects {
            let source = objects.iter().find(|s| s.local_id == o.id).unwrap();
            let position = o.motion().unwrap().motion().unwrap().position;
            assert_eq!(position, source.position);
            assert_eq!(o.object_data.len(), 60);
            o.texture_entry().unwrap();
            *kinds.entry(format!("{:?}", o.shape_kind())).or_insert(0) += 1;
        }
    }
    for kind in [
        ShapeKind::Box,
        ShapeKind::Cylinder,
        ShapeKind::Prism,
        ShapeKind::Sphere,
        ShapeKind::Torus,
        ShapeKind::Tube,
        ShapeKind::Ring,
    ] {
        assert!(
            kinds.contains_key(&format!("{kind:?}")),
            "{kind:?} missing: {kinds:?}"
        );
    }
    // Packing keeps every block, in order.
    let packed: Vec<ObjectData> = object_updates(HANDLE, blocks.clone(), 1100)
        .into_iter()
        .flat_map(|m| m.objects)
        .collect();
    assert_eq!(packed, blocks);
    assert_eq!(
        object_updates(HANDLE, blocks.clone(), 1).len(),
        blocks.len()
    );
}

#[test]
fn compressed_objects_parse_to_exact_length_like_opensims() {
    let (_, objects) = scene();
    let mut blocks = Vec::new();
    for o in &objects {
        let block = o.compressed_block(0.0).unwrap();
        let parsed = CompressedObject::parse(&block.data).unwrap();
        assert_eq!(parsed, o.to_compressed(0.0));
        assert_eq!(parsed.parent(), o.parent_id);
        // The sizes OpenSim produced for the same objects (captures, `test-region`), plus the
        // bytes of our per-face texture settings (a few faces wear other textures).
        let te_extra = if o.is_plant() {
            0
        } else {
            o.texture_entry.len() - as_plywood(&o.texture_entry).len()
        };
        if !o.extra_params.is_empty() {
            // Sculpties and meshes are not in the captures: exact parsing is all there is.
            blocks.push(block);
            continue;
        }
        let want = te_extra
            + match o.name.as_str() {
                "box" => 191,
                "cylinder" => 178,
                "linkset child sphere" => 180,
                _ if o.is_plant() => 113,
                _ => 176,
            };
        assert_eq!(block.data.len(), want, "{}", o.name);
        blocks.push(block);
    }
    let messages = compressed_updates(HANDLE, blocks.clone(), 1100);
    assert!(messages.len() >= 5);
    for msg in &messages {
        assert!(msg.buffer_len() <= 1100);
        let bytes = roundtrip(msg);
        for b in ObjectUpdateCompressed::parse(&bytes).unwrap().objects {
            b.object().unwrap().texture_entry().unwrap();
        }
    }
    let all: Vec<_> = messages.into_iter().flat_map(|m| m.objects).collect();
    assert_eq!(all, blocks);
}

#[test]
fn scene_matches_the_captured_opensim_objects() {
    let (_, objects) = scene();
    let captured: Vec<ObjectData> = captured::<ObjectUpdate>("test-region-fresh")
        .into_iter()
        .flat_map(|m| m.objects)
        .filter(|o| o.pcode != PCode::Avatar)
        .collect();
    assert_eq!(captured.len(), 33);
    let mine_of = |c: &ObjectData| {
        let p = c.motion().unwrap().motion().unwrap().position;
        objects
            .iter()
            .find(|o| {
                if c.parent_id != 0 {
                    o.parent_id != 0
                } else {
                    o.parent_id == 0 && o.position.x == p.x && o.position.y == p.y
                }
            })
            .unwrap()
    };
    for c in &captured {
        let mine = mine_of(c).to_object_data(0.0);
        let (mp, cp) = (
            *mine.motion().unwrap().motion().unwrap(),
            *c.motion().unwrap().motion().unwrap(),
        );
        assert!(
            (mp.position.z - cp.position.z).abs() < 0.2,
            "{mp:?} vs {cp:?}"
        );
        assert!((mp.rotation.z - cp.rotation.z).abs() < 1e-5);
        // Everything else but the identity and the textures is what OpenSim sent (its prims
        // wear plywood everywhere, ours the region's own textures).
        if !c.texture_entry.is_empty() {
            assert_eq!(as_plywood(&c.texture_entry), c.texture_entry);
        }
        let same = ObjectData {
            id: c.id,
            full_id: c.full_id,
            crc: c.crc,
            parent_id: c.parent_id,
            object_data: c.object_data.clone(),
            texture_entry: if mine.texture_entry.is_empty() {
                Vec::new()
            } else {
                as_plywood(&mine.texture_entry)
            },
            ..mine
        };
        assert_eq!(&same, c, "{}", mine_of(c).name);
    }
}

#[test]
fn avatar_block_is_the_one_opensim_sends() {
    let captured = captured::<ObjectUpdate>("test-region-fresh")
        .into_iter()
        .flat_map(|m| m.objects)
        .find(|o| o.pcode == PCode::Avatar)
        .unwrap();
    let motion = *captured.motion().unwrap().motion().unwrap();
    let mine = avatar_object(
        captured.id,
        "7c0ffee0-0000-4000-8000-000000000001".parse().unwrap(),
        "Capture",
        "Probe",
        motion.position,
        motion.rotation,
    );
    assert_eq!(mine, captured);
    let msg = ObjectUpdate {
        region_handle: HANDLE,
        time_dilation: TIME_DILATION,
        objects: vec![mine],
    };
    let bytes = roundtrip(&msg);
    let o = &ObjectUpdate::parse(&bytes).unwrap().objects[0];
    let names = o.name_values();
    assert_eq!(
        (names.first_name(), names.last_name()),
        (Some("Capture"), Some("Probe"))
    );
    assert_eq!(names.title(), Some(""));
    assert_eq!(o.object_data.len(), 76);
    assert!(o.motion().unwrap().collision_plane().is_some());
}

#[test]
fn the_mover_orbits_and_encodes_terse_updates() {
    let (map, objects) = scene();
    let mover = objects.iter().find(|o| o.motion.is_some()).unwrap();
    let orbit = mover.motion.unwrap();
    assert_eq!(mover.position, mover.position_at(0.0));
    let p0 = mover.position_at(0.0);
    let quarter = mover.position_at(orbit.period_secs / 4.0);
    assert!((p0.x - quarter.x - orbit.radius).abs() < 1e-3);
    assert!((quarter.y - p0.y - orbit.radius).abs() < 1e-3);
    let again = mover.position_at(orbit.period_secs * 3.0);
    assert!((again.x - p0.x).abs() < 1e-3 && (again.y - p0.y).abs() < 1e-3);
    for k in 0..24 {
        let t = f32_of(k) * 0.7;
        let p = mover.position_at(t);
        assert!(p.z > height_at(&map, p.x, p.y) + 0.3, "under ground at {t}");
        let v = mover.velocity_at(t);
        let r = Vec3::new(p.x - orbit.centre.x, p.y - orbit.centre.y, 0.0);
        assert!((v.x * r.x + v.y * r.y).abs() < 1e-3, "velocity is tangent");
        let bytes = mover.terse(t).to_bytes();
        assert_eq!(bytes.len(), TerseData::PRIM_LEN);
        let back = TerseData::parse(&bytes).unwrap();
        assert_eq!((back.local_id, back.position), (mover.local_id, p));
        assert!((back.velocity.x - v.x).abs() < 0.01 && back.collision_plane.is_none());
    }
    // Everything else stands still.
    let still = by_name(&objects, "box");
    assert_eq!(still.position_at(5.0), still.position);
    assert_eq!(still.velocity_at(5.0), Vec3::ZERO);
}

#[test]
fn the_blinker_is_deleted_and_recreated() {
    let (_, objects) = scene();
    let blinker = objects.iter().find(|o| o.blink.is_some()).unwrap();
    let blink = blinker.blink.unwrap();
    assert!(blinker.present_at(0.0));
    assert!(!blinker.present_at(blink.present_secs + 0.1));
    assert!(blinker.present_at(blink.period_secs + 0.1));
    assert!(!blinker.present_at(-0.5));
    let changes = (0..100)
        .filter(|&k| {
            let t = f32_of(k) * 0.5;
            blinker.present_at(t) != blinker.present_at(t + 0.5)
        })
        .count();
    assert!(changes >= 8, "{changes}");
    assert!(
        objects
            .iter()
            .filter(|o| o.blink.is_none())
            .all(|o| o.present_at(8.0))
    );
}

#[test]
fn coloured_faces_are_distinct() {
    let (_, objects) = scene();
    let te = |name: &str| TextureEntry::parse(&by_name(&objects, name).texture_entry).unwrap();
    let the_box = te("box");
    assert_eq!(the_box.face_color(0), [255, 0, 0, 255]);
    assert_eq!(the_box.face_color(1), [0, 255, 0, 255]);
    assert_eq!(the_box.face_color(2), [0, 0, 255, 255]);
    assert_eq!(the_box.face_color(3), [255; 4]);
    assert_eq!(te("torus").default_color(), [255, 220, 0, 255]);
    assert!((te("torus").glow(0) - 0.3).abs() < 0.005);
    assert!(te("cylinder").fullbright(0) && !te("cylinder").fullbright(1));
    assert_eq!(te("orbiting sphere").default_color(), [0, 255, 255, 255]);
    assert_eq!(te("blinking box").default_color(), [255, 0, 255, 255]);
    assert_eq!(te("prism").texture(0), ORIENTED);
}

#[test]
fn a_few_faces_show_the_other_served_textures() {
    let (_, objects) = scene();
    let te = |name: &str| TextureEntry::parse(&by_name(&objects, name).texture_entry).unwrap();
    let platform = te("platform 4x4x0.2 rotated 30 deg");
    assert_eq!(platform.texture(0), CHECKER);
    assert_eq!(platform.repeats(0), (4.0, 4.0));
    assert_eq!(
        (platform.texture(1), platform.repeats(1)),
        (ORIENTED, (1.0, 1.0))
    );
    let cut = te("box profile cut 0.25-0.75");
    assert_eq!((cut.texture(1), cut.texture(2)), (CHECKER, CHECKER));
    let (u, v) = cut.offset(1);
    assert!(
        (u - 0.25).abs() < 1e-3 && (v - 0.5).abs() < 1e-3,
        "{u}, {v}"
    );
    assert!((cut.rotation(1) - core::f32::consts::FRAC_PI_4).abs() < 1e-3);
    assert_eq!(cut.repeats(2), (2.0, 1.0));
    assert_eq!(
        (cut.texture(0), cut.offset(2), cut.rotation(2)),
        (ORIENTED, (0.0, 0.0), 0.0)
    );
    let hollow = te("box hollow 50%");
    assert!((0..8).all(|f| hollow.texture(f) == LEAF_ALPHA));
    let prism = te("right-triangle prism");
    assert_eq!((prism.texture(0), prism.texture(1)), (MISSING, ORIENTED));
    // Colours stay white on all of them.
    for t in [platform, cut, hollow, prism] {
        assert_eq!(t.default_color(), [255; 4]);
        assert!(t.colors.exceptions.is_empty());
    }
    // Every other prim wears the oriented texture on every face.
    let special = [
        "platform 4x4x0.2 rotated 30 deg",
        "box profile cut 0.25-0.75",
        "box hollow 50%",
        "right-triangle prism",
    ];
    let plain = |o: &&SceneObject| !o.texture_entry.is_empty() && o.extra_params.is_empty();
    for o in objects.iter().filter(plain) {
        if !special.contains(&o.name.as_str()) {
            let t = TextureEntry::parse(&o.texture_entry).unwrap();
            assert!((0..8).all(|f| t.texture(f) == ORIENTED), "{}", o.name);
        }
    }
}

#[test]
fn a_sculpty_of_each_type_and_two_meshes_name_served_assets() {
    use overlook_protocol::message::object::{ExtraParams, SculptKind, ShapeKind};
    let (_, objects) = scene();
    let store = crate::store::AssetStore::builtin();
    let sculpted: Vec<(&str, SculptKind, crate::store::AssetKind)> = objects
        .iter()
        .filter(|o| !o.extra_params.is_empty())
        .map(|o| {
            let params = ExtraParams::parse(&o.extra_params).unwrap();
            let sculpt = params.sculpt().unwrap();
            // The wire forms say so too.
            let kind = o.to_object_data(0.0).shape_kind();
            assert_eq!(kind, o.to_compressed(0.0).shape_kind(), "{}", o.name);
            let want = if sculpt.kind() == SculptKind::Mesh {
                ShapeKind::Mesh
            } else {
                ShapeKind::Sculpt
            };
            assert_eq!(kind, want, "{}", o.name);
            let asset = store
                .get(sculpt.texture)
                .unwrap_or_else(|| panic!("{}", o.name));
            (o.name.as_str(), sculpt.kind(), asset.kind)
        })
        .collect();
    use crate::store::AssetKind::{Mesh, Texture};
    assert_eq!(
        sculpted,
        [
            ("sculpty sphere (pumpkin)", SculptKind::Sphere, Texture),
            ("sculpty torus (wavy ring)", SculptKind::Torus, Texture),
            ("sculpty plane (wave sheet)", SculptKind::Plane, Texture),
            ("sculpty cylinder (vase)", SculptKind::Cylinder, Texture),
            ("mesh knot", SculptKind::Mesh, Mesh),
            ("mesh gem", SculptKind::Mesh, Mesh),
        ]
    );
}

#[test]
fn scattered_prims_stand_on_the_ground_across_the_region_with_fresh_ids() {
    let (map, objects) = scene();
    let extra = scattered_prims(&map, 11, &objects, 500);
    assert_eq!(extra.len(), 500);
    let last_scene_id = objects.iter().map(|o| o.local_id).max().unwrap();
    let ids: BTreeSet<u32> = objects.iter().chain(&extra).map(|o| o.local_id).collect();
    assert_eq!(ids.len(), objects.len() + 500, "local ids are unique");
    let uuids: BTreeSet<_> = objects.iter().chain(&extra).map(|o| o.full_id).collect();
    assert_eq!(uuids.len(), objects.len() + 500, "UUIDs are unique");
    let (mut west, mut east) = (false, false);
    for o in &extra {
        assert!(o.local_id > last_scene_id);
        assert!(o.is_standalone_prim());
        let (x, y) = (o.position.x, o.position.y);
        assert!(
            (1.0..255.0).contains(&x) && (1.0..255.0).contains(&y),
            "{x}, {y}"
        );
        let ground = height_at(&map, x, y);
        assert!((o.position.z - (ground + o.scale.z / 2.0)).abs() < 1e-3);
        west |= x < 64.0;
        east |= x > 192.0;
    }
    assert!(west && east, "spread over the region, not only the island");
    // Every stand-alone prim shape of the scene is used.
    let shapes: BTreeSet<String> = extra.iter().map(|o| format!("{:?}", o.shape)).collect();
    let templates = objects
        .iter()
        .filter(|o| o.is_standalone_prim())
        .map(|o| format!("{:?}", o.shape))
        .collect::<BTreeSet<_>>();
    assert_eq!(shapes, templates);
    assert_eq!(
        scattered_prims(&map, 11, &objects, 500),
        extra,
        "deterministic"
    );
}

#[test]
fn scattered_meshes_copy_only_the_mesh_objects_with_fresh_ids() {
    use overlook_protocol::message::object::ShapeKind;
    let (map, mut objects) = scene();
    objects.extend(scattered_prims(&map, 11, &objects, 50));
    let meshes = super::scattered_meshes(&map, 11, &objects, 300);
    assert_eq!(meshes.len(), 300);
    assert!(
        meshes
            .iter()
            .all(|o| o.to_object_data(0.0).shape_kind() == ShapeKind::Mesh)
    );
    let ids: BTreeSet<u32> = objects.iter().chain(&meshes).map(|o| o.local_id).collect();
    assert_eq!(ids.len(), objects.len() + 300, "local ids are unique");
    let uuids: BTreeSet<_> = objects.iter().chain(&meshes).map(|o| o.full_id).collect();
    assert_eq!(uuids.len(), objects.len() + 300);
}
