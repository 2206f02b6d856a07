//! Checks what the OpenSim 0.9.2.2 captures decode to against their README and `SUMMARY.json`:
//! the per-object tables (ids, PCodes, path/profile curves, scales, positions, parents), PCode and
//! shape-class counts, the four coloured TextureEntries, the avatar's names and motion blob, and
//! that the fresh session's full updates describe the same objects as the compressed ones.

use std::collections::BTreeMap;

use super::*;
use crate::capture::SESSIONS;
use crate::message::testutil::inbound_messages;
use crate::types::{Quat, Uuid, Vec3};

/// id, sent as a full update?, PCode, PathCurve, ProfileCurve, scale, position, ParentID.
type Row = (u32, bool, u8, u8, u8, [f32; 3], [f32; 3], u32);

/// The README's object table for `test-region`: id, full update?, PCode, PathCurve, ProfileCurve,
/// scale, position, ParentID.
#[rustfmt::skip]
const TEST_REGION: &[Row] = &[
    (665494776, false, 9, 0x10, 0x01, [1.00, 1.00, 1.00], [116.00, 116.00, 22.64], 0), // box
    (665494777, false, 9, 0x10, 0x00, [1.00, 1.00, 1.00], [119.00, 116.00, 23.27], 0), // cylinder
    (665494778, false, 9, 0x10, 0x03, [1.00, 1.00, 1.00], [122.00, 116.00, 23.72], 0), // prism
    (665494779, false, 9, 0x20, 0x05, [1.00, 1.00, 1.00], [125.00, 116.00, 23.99], 0), // sphere
    (665494780, false, 9, 0x20, 0x00, [1.00, 1.00, 1.00], [128.00, 116.00, 24.08], 0), // torus
    (665494781, false, 9, 0x20, 0x01, [1.00, 1.00, 1.00], [131.00, 116.00, 23.99], 0), // tube
    (665494782, false, 9, 0x20, 0x03, [1.00, 1.00, 1.00], [116.00, 119.00, 23.27], 0), // ring
    (665494783, false, 9, 0x10, 0x01, [1.00, 1.00, 1.00], [119.00, 119.00, 23.90], 0), // pyramid (box, taper 1,1)
    (665494784, false, 9, 0x10, 0x00, [1.00, 1.00, 1.00], [122.00, 119.00, 24.35], 0), // cone (cylinder, taper 1,1)
    (665494785, false, 9, 0x10, 0x01, [1.00, 1.00, 1.00], [125.00, 119.00, 24.62], 0), // box hollow 50%
    (665494786, false, 9, 0x10, 0x20, [1.00, 1.00, 1.00], [128.00, 119.00, 24.71], 0), // cylinder hollow 40% square hole
    (665494787, false, 9, 0x10, 0x01, [1.00, 1.00, 1.00], [131.00, 119.00, 24.62], 0), // box profile cut 0.25-0.75
    (665494788, false, 9, 0x10, 0x01, [1.00, 1.00, 1.00], [116.00, 122.00, 23.72], 0), // box path cut (slice) 0.2-0.8
    (665494789, false, 9, 0x10, 0x01, [1.00, 1.00, 2.00], [119.00, 122.00, 24.85], 0), // box twist 90
    (665494790, false, 9, 0x10, 0x01, [1.00, 1.00, 2.00], [122.00, 122.00, 25.30], 0), // box twist begin -90 end 90
    (665494791, false, 9, 0x10, 0x00, [1.00, 1.00, 1.00], [125.00, 122.00, 25.07], 0), // cylinder taper 0.5 (scale 150)
    (665494792, false, 9, 0x10, 0x01, [1.00, 1.00, 1.00], [128.00, 122.00, 25.16], 0), // box top shear 0.25,-0.25
    (665494793, false, 9, 0x20, 0x05, [1.00, 1.00, 1.00], [131.00, 122.00, 25.07], 0), // sphere dimple 0.2-0.8
    (665494794, false, 9, 0x20, 0x05, [1.00, 1.00, 1.00], [116.00, 125.00, 23.99], 0), // sphere path cut 0-0.5 hollow 50%
    (665494795, false, 9, 0x20, 0x00, [1.00, 1.00, 1.00], [119.00, 125.00, 24.62], 0), // torus taper 0.5, 2 revolutions, radius offset 0.2, skew 0.1
    (665494796, false, 9, 0x20, 0x31, [1.00, 1.00, 1.00], [122.00, 125.00, 25.07], 0), // tube hollow 30% triangle hole
    (665494797, false, 9, 0x20, 0x03, [1.00, 1.00, 1.00], [125.00, 125.00, 25.34], 0), // ring twist 45
    (665494798, false, 9, 0x10, 0x13, [1.00, 1.00, 1.00], [128.00, 125.00, 25.43], 0), // prism hollow circle 50%
    (665494799, false, 9, 0x10, 0x04, [1.00, 1.00, 1.00], [131.00, 125.00, 25.34], 0), // right-triangle prism
    (665494800, false, 9, 0x10, 0x05, [1.00, 1.00, 1.00], [116.00, 128.00, 24.08], 0), // half-cylinder (half-circle profile, line path)
    (665494801, false, 9, 0x30, 0x05, [1.00, 1.00, 1.00], [119.00, 128.00, 24.71], 0), // sphere circle2 path
    (665494802, false, 9, 0x10, 0x01, [4.00, 4.00, 0.20], [136.00, 130.00, 24.44], 0), // platform 4x4x0.2 rotated 30 deg
    (665494803, false, 9, 0x10, 0x00, [0.30, 0.30, 3.00], [125.00, 128.00, 26.43], 0), // tall cylinder 0.3x0.3x3
    (665494804, false, 9, 0x10, 0x01, [1.00, 1.00, 0.50], [134.00, 122.00, 24.55], 0), // linkset root box
    (665494805, false, 9, 0x20, 0x05, [0.80, 0.80, 0.80], [0.00, 0.00, 0.65], 665494804), // linkset child sphere
    (665494806, false, 255, 0x00, 0x00, [8.00, 8.00, 8.00], [140.00, 140.00, 22.12], 0), // tree (pcode 255, oak)
    (665494807, false, 111, 0x00, 0x00, [8.00, 8.00, 8.00], [144.00, 134.00, 22.08], 0), // new tree (pcode 111, state 3)
    (665494808, false, 95, 0x00, 0x00, [1.00, 1.00, 1.00], [138.00, 146.00, 20.76], 0), // grass (pcode 95, state 2)
    (665494845, true, 47, 0x00, 0x00, [0.45, 0.60, 1.90], [128.00, 128.00, 30.00], 0), // avatar: FirstName Capture LastName Probe Title
];

/// The README's object table for `var-region`: id, full update?, PCode, PathCurve, ProfileCurve,
/// scale, position, ParentID.
#[rustfmt::skip]
const VAR_REGION: &[Row] = &[
    (221208283, false, 9, 0x10, 0x01, [1.00, 1.00, 1.00], [300.00, 300.00, 6.65], 0), // var box (300,300)
    (221208284, false, 9, 0x20, 0x05, [2.00, 2.00, 2.00], [420.00, 100.00, 21.02], 0), // var sphere on hill (420,100)
    (221208285, false, 9, 0x10, 0x00, [1.00, 1.00, 2.00], [80.00, 430.00, 11.02], 0), // var cylinder on plateau (80,430)
    (221208286, false, 9, 0x20, 0x00, [2.00, 2.00, 2.00], [260.00, 250.00, 25.50], 0), // var torus centre (260,250)
    (221208287, false, 9, 0x20, 0x01, [1.00, 1.00, 1.00], [500.00, 500.00, 0.52], 0), // var tube underwater (500,500)
    (221208288, false, 9, 0x20, 0x03, [1.00, 1.00, 1.00], [256.00, 470.00, 6.52], 0), // var ring (256,470)
    (221208289, false, 9, 0x10, 0x01, [0.50, 0.50, 4.00], [132.00, 128.00, 2.02], 0), // var tall box near spawn (132,128)
    (221208299, true, 47, 0x00, 0x00, [0.45, 0.60, 1.90], [128.00, 128.00, 30.00], 0), // avatar: FirstName Capture LastName Probe Title
];

/// What both update forms say about an object.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    full: bool,
    full_id: Uuid,
    pcode: PCode,
    state: u8,
    scale: Vec3,
    position: Vec3,
    rotation: Quat,
    parent: u32,
    shape: PrimShape,
    texture_entry: Vec<u8>,
    species: Option<u8>,
    extra_params: ExtraParams,
    name_values: NameValues,
}

/// Every object of a session by local id, from full and compressed updates.
fn objects(session: &str) -> BTreeMap<u32, Seen> {
    let mut out = BTreeMap::new();
    for (msg, _) in inbound_messages::<ObjectUpdate>(session) {
        for o in msg.objects {
            let motion = *o.motion().unwrap().motion().unwrap();
            let tree = matches!(o.pcode, PCode::Tree | PCode::NewTree | PCode::Grass);
            let seen = Seen {
                full: true,
                full_id: o.full_id,
                pcode: o.pcode,
                state: o.state,
                scale: o.scale,
                position: motion.position,
                rotation: motion.rotation,
                parent: o.parent_id,
                shape: o.shape,
                species: if tree { o.data.first().copied() } else { None },
                extra_params: o.extra_params().unwrap(),
                name_values: o.name_values(),
                texture_entry: o.texture_entry,
            };
            out.insert(o.id, seen);
        }
    }
    for (msg, _) in inbound_messages::<ObjectUpdateCompressed>(session) {
        for block in msg.objects {
            let o = block.object().unwrap();
            let seen = Seen {
                full: false,
                full_id: o.full_id,
                pcode: o.pcode,
                state: o.state,
                scale: o.scale,
                position: o.position,
                rotation: o.rotation,
                parent: o.parent(),
                shape: o.shape,
                species: o.tree_species,
                extra_params: o.extra_params().unwrap(),
                name_values: o.name_value_list(),
                texture_entry: o.texture_entry,
            };
            out.insert(o.local_id, seen);
        }
    }
    out
}

fn near(a: Vec3, b: [f32; 3], tolerance: f32) -> bool {
    (a.x - b[0]).abs() <= tolerance
        && (a.y - b[1]).abs() <= tolerance
        && (a.z - b[2]).abs() <= tolerance
}

fn check_table(session: &str, table: &[Row]) {
    let objects = objects(session);
    assert_eq!(
        objects.keys().copied().collect::<Vec<_>>(),
        table.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    for &(id, full, pcode, path, profile, scale, position, parent) in table {
        let o = &objects[&id];
        assert_eq!((o.full, u8::from(o.pcode)), (full, pcode), "{id}");
        assert_eq!(
            (o.shape.path_curve, o.shape.profile_curve),
            (path, profile),
            "{id}"
        );
        assert!(near(o.scale, scale, 0.006), "{id} scale {:?}", o.scale);
        assert!(
            near(o.position, position, 0.006),
            "{id} position {:?}",
            o.position
        );
        assert_eq!(o.parent, parent, "{id}");
    }
}

#[test]
fn test_region_objects_match_readme() {
    check_table("test-region", TEST_REGION);
    let objects = objects("test-region");
    let mut pcodes = BTreeMap::new();
    for o in objects.values() {
        *pcodes.entry(u8::from(o.pcode)).or_insert(0) += 1;
    }
    assert_eq!(
        pcodes,
        BTreeMap::from([(9, 30), (47, 1), (95, 1), (111, 1), (255, 1)])
    );
    // The linkset: the child sphere's parent is the root box, 0.65 m above it.
    let child = &objects[&665_494_805];
    assert_eq!(child.parent, 665_494_804);
    assert_eq!(objects[&child.parent].parent, 0);
    // The platform is rotated 30° about z.
    let r = objects[&665_494_802].rotation;
    assert!(
        (r.z - 15f32.to_radians().sin()).abs() < 1e-4
            && (r.w - 15f32.to_radians().cos()).abs() < 1e-4
    );
    // Trees and grass: species in State and in the species byte.
    for (id, species) in [(665_494_806, 1), (665_494_807, 3), (665_494_808, 2)] {
        assert_eq!(
            (objects[&id].state, objects[&id].species),
            (species, Some(species)),
            "{id}"
        );
        assert_eq!(objects[&id].shape.kind(), ShapeKind::Other);
    }
}

#[test]
fn var_region_objects_match_readme() {
    check_table("var-region", VAR_REGION);
}

#[test]
fn fresh_full_updates_describe_the_same_objects() {
    let compressed = objects("test-region");
    let full = objects("test-region-fresh");
    assert_eq!(full.len(), 34);
    let mut prims = 0;
    for (id, c) in compressed.iter().filter(|(_, c)| !c.full) {
        let f = &full[id];
        assert!(f.full);
        assert_eq!(
            (
                f.full_id, f.pcode, f.state, f.scale, f.position, f.rotation, f.parent
            ),
            (
                c.full_id, c.pcode, c.state, c.scale, c.position, c.rotation, c.parent
            ),
            "{id}"
        );
        // The same shape bytes in the other order, the same TextureEntry and species.
        assert_eq!(
            (f.shape, &f.texture_entry, f.species),
            (c.shape, &c.texture_entry, c.species),
            "{id}"
        );
        // An empty blob (full) and a count of 0 (compressed) both mean no extra parameters.
        assert_eq!(
            (&f.extra_params, &c.extra_params),
            (&ExtraParams::default(), &ExtraParams::default())
        );
        prims += 1;
    }
    assert_eq!(prims, 33);
    // The avatar has a new local id each login but the same name.
    let avatar = |m: &BTreeMap<u32, Seen>| {
        m.values()
            .find(|o| o.pcode == PCode::Avatar)
            .unwrap()
            .clone()
    };
    assert_eq!(avatar(&full).name_values, avatar(&compressed).name_values);
}

/// A README-style shape label: kind, then +hollow, +cut, +twist, +taper, +shear.
fn label(s: &PrimShape) -> String {
    let mut l = match s.kind() {
        ShapeKind::Box => "box",
        ShapeKind::Cylinder => "cylinder",
        ShapeKind::HalfCylinder => "cylinder(half)",
        ShapeKind::Prism => "prism",
        ShapeKind::Sphere if s.path() == PathCurve::Circle2 => "sphere(circle2)",
        ShapeKind::Sphere => "sphere",
        ShapeKind::Torus => "torus",
        ShapeKind::Tube => "tube",
        ShapeKind::Ring => "ring",
        other => panic!("unexpected {other:?}"),
    }
    .to_owned();
    for (on, m) in [
        (s.is_hollow(), "+hollow"),
        (s.is_cut(), "+cut"),
        (s.is_twisted(), "+twist"),
        (s.is_tapered(), "+taper"),
        (s.is_sheared(), "+shear"),
    ] {
        if on {
            l.push_str(m);
        }
    }
    l
}

#[test]
fn shape_classes_match_summary() {
    let summary: serde_json::Value =
        serde_json::from_str(&overlook_testdata::read_text("SUMMARY.json")).unwrap();
    for session in SESSIONS {
        let mut counts = BTreeMap::new();
        for o in objects(session).values().filter(|o| o.pcode == PCode::Prim) {
            *counts.entry(label(&o.shape)).or_insert(0u64) += 1;
        }
        let want: BTreeMap<String, u64> = summary[session]["prim_shapes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(counts, want, "{session}");
    }
}

#[test]
fn avatar_full_update() {
    for session in SESSIONS {
        let (msg, _) = inbound_messages::<ObjectUpdate>(session)
            .into_iter()
            .next()
            .unwrap();
        assert_eq!(
            msg.region_handle >> 32,
            if session == "var-region" {
                281_600
            } else {
                256_000
            }
        );
        let o = msg
            .objects
            .iter()
            .find(|o| o.pcode == PCode::Avatar)
            .unwrap();
        let nv = o.name_values();
        assert_eq!(
            (nv.first_name(), nv.last_name(), nv.title()),
            (Some("Capture"), Some("Probe"), Some(""))
        );
        assert_eq!(nv.to_bytes(), o.name_value, "re-encodes byte for byte");
        assert_eq!(
            o.full_id.to_string(),
            "7c0ffee0-0000-4000-8000-000000000001"
        );
        assert_eq!(o.object_data.len(), 76);
        let motion = o.motion().unwrap();
        assert!(motion.collision_plane().is_some());
        assert!(
            near(
                motion.motion().unwrap().position,
                [128.0, 128.0, 30.0],
                0.01
            ),
            "{motion:?}"
        );
        assert!(near(o.scale, [0.45, 0.6, 1.9], 0.01));
        assert_eq!(o.shape_kind(), ShapeKind::Other);
        assert!(o.texture_entry.is_empty() && o.extra_params.is_empty());
    }
}

#[test]
fn texture_entries_match_readme() {
    const WHITE: [u8; 4] = [255; 4];
    for session in ["test-region", "test-region-fresh"] {
        for (id, o) in objects(session) {
            if o.pcode != PCode::Prim {
                assert!(o.texture_entry.is_empty());
                continue;
            }
            let te = TextureEntry::parse(&o.texture_entry).unwrap();
            assert_eq!(te.to_bytes(), o.texture_entry, "{session} {id} re-encodes");
            assert_eq!(
                te.texture(0).to_string(),
                "89556747-24cb-43ed-920b-47caed15465f"
            );
            match id {
                // Box: faces 0/1/2 red/green/blue, the rest white.
                665_494_776 => {
                    assert_eq!(te.face_color(0), [255, 0, 0, 255]);
                    assert_eq!(te.face_color(1), [0, 255, 0, 255]);
                    assert_eq!(te.face_color(2), [0, 0, 255, 255]);
                    assert_eq!((te.face_color(3), te.default_color()), (WHITE, WHITE));
                }
                // Cylinder: alpha 0.5, face 0 fullbright.
                665_494_777 => {
                    let [r, g, b, a] = te.face_color(0);
                    assert_eq!([r, g, b], [255; 3]);
                    assert!((f32::from(a) / 255.0 - 0.5).abs() < 0.01);
                    assert_eq!(te.face_color(2), te.face_color(0));
                    assert!(te.fullbright(0) && !te.fullbright(1) && !te.fullbright(2));
                }
                // Sphere: blue (0.16, 0.35, 1.0 in the capture).
                665_494_779 => {
                    let [r, g, b, a] = te.default_color();
                    assert_eq!((b, a), (255, 255));
                    assert!(r < 64 && g < 128, "{:?}", te.default_color());
                }
                // Torus: yellow with glow 0.3.
                665_494_780 => {
                    let [r, g, b, a] = te.default_color();
                    assert_eq!((r, b, a), (255, 0, 255));
                    assert!(g > 200);
                    assert!((te.glow(0) - 0.3).abs() < 0.005, "{}", te.glow(0));
                }
                _ => {
                    assert_eq!(te.default_color(), WHITE, "{id}");
                    assert!(te.colors.exceptions.is_empty());
                }
            }
            if id != 665_494_780 {
                assert_eq!(te.glow(0), 0.0);
            }
            if id != 665_494_777 {
                assert!(!te.fullbright(0));
            }
        }
    }
    for o in objects("var-region")
        .values()
        .filter(|o| o.pcode == PCode::Prim)
    {
        let te = TextureEntry::parse(&o.texture_entry).unwrap();
        assert_eq!(te.to_bytes(), o.texture_entry);
    }
}
