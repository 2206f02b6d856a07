//! Prim mesh tests: SL face counts per shape (from `LLProfile::generate`'s face order), the
//! geometry of boxes, spheres and tori, taper, twist and cuts, every prim of the OpenSim
//! captures, and arbitrary shape bytes (no panic, valid, bounded).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use overlook_protocol::capture::{inbound_messages, read_udp_jsonl};
use overlook_protocol::message::object::{ObjectUpdate, ObjectUpdateCompressed, PCode};
use overlook_testdata::SESSIONS;

/// Every object of a captured session as (local id, PCode, shape), from full and compressed
/// updates in arrival order (an object sent both ways appears twice).
fn object_shapes(session: &str) -> Vec<(u32, PCode, PrimShape)> {
    let datagrams = read_udp_jsonl(&overlook_testdata::session_udp(session)).unwrap();
    let full = inbound_messages::<ObjectUpdate>(&datagrams)
        .unwrap()
        .into_iter()
        .flat_map(|(m, _)| m.objects)
        .map(|o| (o.id, o.pcode, o.shape));
    let compressed = inbound_messages::<ObjectUpdateCompressed>(&datagrams)
        .unwrap()
        .into_iter()
        .flat_map(|(m, _)| m.objects)
        .map(|b| {
            let o = b.object().unwrap();
            (o.local_id, o.pcode, o.shape)
        });
    full.chain(compressed).collect()
}

/// A shape with SL's defaults for its path and profile (path scale 1, or the torus-style hole
/// size 0.25 on circular paths unless the profile is a half circle).
fn shape(path: u8, profile: u8) -> PrimShape {
    let circle = path == 0x20 && profile & 0x0F != 5;
    PrimShape {
        path_scale_y: if circle { 175 } else { 100 },
        ..PrimShape::with_curves(path, profile)
    }
}

const BOX: (u8, u8) = (0x10, 0x01);
const CYLINDER: (u8, u8) = (0x10, 0x00);
const PRISM: (u8, u8) = (0x10, 0x03);
const SPHERE: (u8, u8) = (0x20, 0x05);
const TORUS: (u8, u8) = (0x20, 0x00);
const TUBE: (u8, u8) = (0x20, 0x01);
const RING: (u8, u8) = (0x20, 0x03);

fn of((path, profile): (u8, u8)) -> PrimShape {
    shape(path, profile)
}

fn hollow(mut s: PrimShape, fraction: f32) -> PrimShape {
    s.profile_hollow = quant(fraction);
    s
}

fn profile_cut(mut s: PrimShape, begin: f32, end: f32) -> PrimShape {
    s.profile_begin = quant(begin);
    s.profile_end = quant(1.0 - end);
    s
}

fn path_cut(mut s: PrimShape, begin: f32, end: f32) -> PrimShape {
    s.path_begin = quant(begin);
    s.path_end = quant(1.0 - end);
    s
}

/// A cut or hollow fraction in wire units.
fn quant(f: f32) -> u16 {
    (f * 50000.0).round() as u16
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn len(a: [f32; 3]) -> f32 {
    dot(a, a).sqrt()
}

/// Checks what every mesh must satisfy and returns it; with `winding`, also that triangles wind
/// the way their vertex normals point (not true where a twist folds a shape through its axis).
fn check_with(s: &PrimShape, detail: Detail, winding: bool) -> PrimMesh {
    let m = prim_mesh(s, detail);
    assert_eq!(m.faces.len(), face_count(s), "{s:?}");
    for (i, f) in m.faces.iter().enumerate() {
        assert_eq!(usize::from(f.face), i);
        f.mesh.validate().unwrap();
        for n in &f.mesh.normals {
            assert!(
                (len(*n) - 1.0).abs() < 1e-3,
                "face {i}: normal {n:?} of {s:?}"
            );
        }
        for t in f.mesh.indices.chunks(3).filter(|_| winding) {
            let p = t
                .iter()
                .map(|&i| f.mesh.positions[i as usize])
                .collect::<Vec<_>>();
            let e1 = [p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]];
            let e2 = [p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]];
            let g = [
                e1[1] * e2[2] - e1[2] * e2[1],
                e1[2] * e2[0] - e1[0] * e2[2],
                e1[0] * e2[1] - e1[1] * e2[0],
            ];
            if len(g) > 1e-4 {
                let n = t
                    .iter()
                    .map(|&i| f.mesh.normals[i as usize])
                    .fold([0.0; 3], |a, n| [a[0] + n[0], a[1] + n[1], a[2] + n[2]]);
                assert!(dot(g, n) > 0.0, "face {i} winds against its normals: {s:?}");
            }
        }
    }
    m
}

fn check(s: &PrimShape, detail: Detail) -> PrimMesh {
    check_with(s, detail, true)
}

#[test]
fn face_counts_follow_slv() {
    #[rustfmt::skip]
    let table: Vec<(&str, PrimShape, usize)> = vec![
        ("box", of(BOX), 6),
        ("hollow box", hollow(of(BOX), 0.5), 7),
        ("box, profile cut 0.25-0.75", profile_cut(of(BOX), 0.25, 0.75), 6),
        ("box, profile cut 0.375-0.875", profile_cut(of(BOX), 0.375, 0.875), 7),
        ("box, path cut", path_cut(of(BOX), 0.2, 0.8), 6),
        ("hollow cut box", profile_cut(hollow(of(BOX), 0.5), 0.1, 0.9), 9),
        ("cylinder", of(CYLINDER), 3),
        ("hollow cylinder", hollow(of(CYLINDER), 0.4), 4),
        ("cut cylinder", profile_cut(of(CYLINDER), 0.2, 0.7), 5),
        ("hollow cut cylinder", profile_cut(hollow(of(CYLINDER), 0.4), 0.2, 0.7), 6),
        ("prism", of(PRISM), 5),
        ("hollow prism", hollow(of(PRISM), 0.5), 6),
        ("sphere", of(SPHERE), 1),
        // SLV keeps a hollow half circle open: two (degenerate) cut faces at the poles.
        ("hollow sphere", hollow(of(SPHERE), 0.5), 4),
        ("dimpled sphere", profile_cut(of(SPHERE), 0.2, 0.8), 3),
        ("path-cut sphere", path_cut(of(SPHERE), 0.0, 0.5), 3),
        ("torus", of(TORUS), 1),
        ("hollow torus", hollow(of(TORUS), 0.5), 2),
        ("path-cut torus", path_cut(of(TORUS), 0.25, 1.0), 3),
        ("twisted torus", PrimShape { path_twist: 50, ..of(TORUS) }, 3),
        ("tube", of(TUBE), 4),
        ("hollow tube", hollow(of(TUBE), 0.3), 5),
        ("ring", of(RING), 3),
        ("half cylinder", of((0x10, 0x05)), 3),
        ("flexible box", of((0x80, 0x01)), 6),
    ];
    for (name, s, want) in table {
        assert_eq!(face_count(&s), want, "{name}");
        for d in [Detail::Low, Detail::Medium, Detail::High] {
            let m = check(&s, d);
            assert!(
                m.faces.iter().all(|f| !f.mesh.indices.is_empty()),
                "{name}: an empty face"
            );
        }
    }
}

#[test]
fn box_faces_are_flat_and_face_outwards() {
    let m = check(&of(BOX), Detail::Medium);
    let want = [
        [0.0, 0.0, 1.0],
        [0.0, -1.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [-1.0, 0.0, 0.0],
        [0.0, 0.0, -1.0],
    ];
    for (f, n) in m.faces.iter().zip(want) {
        for (p, got) in f.mesh.positions.iter().zip(&f.mesh.normals) {
            assert!(
                len([got[0] - n[0], got[1] - n[1], got[2] - n[2]]) < 1e-5,
                "face {}: {got:?}",
                f.face
            );
            // Each face lies on its side of the unit box.
            assert!((dot(*p, n) - 0.5).abs() < 1e-5, "face {}: {p:?}", f.face);
        }
    }
    let (lo, hi) = m.bounds().unwrap();
    assert!(
        lo.iter().chain(&hi).all(|v| (v.abs() - 0.5).abs() < 1e-5),
        "{lo:?} {hi:?}"
    );
}

#[test]
fn convex_shapes_have_outward_normals() {
    for s in [
        of(BOX),
        of(CYLINDER),
        of(SPHERE),
        path_cut(of(CYLINDER), 0.1, 0.9),
    ] {
        let m = check(&s, Detail::High);
        let centre = [
            0.0,
            0.0,
            (s.path_begin_cut() + s.path_end_cut()) / 2.0 - 0.5,
        ];
        for f in &m.faces {
            for (p, n) in f.mesh.positions.iter().zip(&f.mesh.normals) {
                let r = [p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]];
                assert!(dot(r, *n) > 0.0, "face {} at {p:?}: {n:?}", f.face);
            }
        }
    }
}

#[test]
fn sphere_vertices_lie_on_radius_half() {
    for d in [Detail::Low, Detail::Medium, Detail::High] {
        let m = check(&of(SPHERE), d);
        let mesh = &m.faces[0].mesh;
        for (p, n) in mesh.positions.iter().zip(&mesh.normals) {
            assert!((len(*p) - 0.5).abs() < 1e-5, "{p:?}");
            // Smooth: the normal is close to the radial direction.
            assert!(dot(*p, *n) / len(*p) > 0.9, "{p:?} {n:?}");
        }
    }
}

#[test]
fn torus_has_a_hole_around_the_x_axis() {
    let m = check(&of(TORUS), Detail::High);
    let mesh = &m.faces[0].mesh;
    // Tube centre at radius 0.375 from the x axis, tube radius 0.125 radially, 0.5 along x.
    let radial = |p: &[f32; 3]| (p[1] * p[1] + p[2] * p[2]).sqrt();
    let min = mesh.positions.iter().map(radial).fold(f32::MAX, f32::min);
    let max = mesh.positions.iter().map(radial).fold(0.0, f32::max);
    assert!(
        (min - 0.25).abs() < 0.01 && (max - 0.5).abs() < 0.01,
        "{min} {max}"
    );
    let (lo, hi) = m.bounds().unwrap();
    assert!((lo[0] + 0.5).abs() < 1e-5 && (hi[0] - 0.5).abs() < 1e-5);
}

#[test]
fn taper_shrinks_the_top() {
    // Path scale 0.5 (wire 150) on a box: the top is half the bottom; 0 makes a pyramid.
    for (wire, half) in [(150, 0.25), (200, 0.0)] {
        let m = check(
            &PrimShape {
                path_scale_x: wire,
                path_scale_y: wire,
                ..of(BOX)
            },
            Detail::Medium,
        );
        let top = m.faces[0].mesh.bounds().unwrap();
        let bottom = m.faces[5].mesh.bounds().unwrap();
        assert!(
            (top.1[0] - half).abs() < 1e-5 && (top.1[1] - half).abs() < 1e-5,
            "{top:?}"
        );
        assert!((bottom.1[0] - 0.5).abs() < 1e-5 && (bottom.1[1] - 0.5).abs() < 1e-5);
    }
    // Scale above 1 tapers the bottom instead.
    let m = check(
        &PrimShape {
            path_scale_x: 50,
            ..of(BOX)
        },
        Detail::Medium,
    );
    assert!((m.faces[5].mesh.bounds().unwrap().1[0] - 0.25).abs() < 1e-5);
    assert!((m.faces[0].mesh.bounds().unwrap().1[0] - 0.5).abs() < 1e-5);
}

#[test]
fn twist_rotates_the_top() {
    // Twist 0.25 turns the top of a box by 45°: its corners move onto the axes.
    let m = check(
        &PrimShape {
            path_twist: 25,
            ..of(BOX)
        },
        Detail::Medium,
    );
    let top = &m.faces[0].mesh.positions;
    let corner = 0.5 * 2f32.sqrt();
    assert!(
        top.iter()
            .any(|p| (p[0] - corner).abs() < 1e-4 && p[1].abs() < 1e-4)
    );
    assert!(top.iter().all(|p| (p[2] - 0.5).abs() < 1e-6));
    let bottom = m.faces[5].mesh.bounds().unwrap();
    assert!((bottom.1[0] - 0.5).abs() < 1e-5);
    // The sides now curve: more than one row of quads along the path.
    assert!(m.faces[1].mesh.triangle_count() > 2);
}

#[test]
fn cuts_and_hollow_shape_the_box() {
    let m = check(&path_cut(of(BOX), 0.2, 0.8), Detail::Medium);
    let (lo, hi) = m.bounds().unwrap();
    assert!((lo[2] + 0.3).abs() < 1e-5 && (hi[2] - 0.3).abs() < 1e-5);
    // The hollow's wall faces the axis.
    let m = check(&hollow(of(BOX), 0.5), Detail::Medium);
    let inner = &m.faces[5].mesh;
    for (p, n) in inner.positions.iter().zip(&inner.normals) {
        assert!(p[0].abs().max(p[1].abs()) <= 0.25 + 1e-5 && n[0] * p[0] + n[1] * p[1] < 0.0);
    }
    // The profile starts at the (-x, -y) corner: 0.25..0.75 keeps the +x and +y sides and cuts
    // along the diagonal; 0.125..0.625 cuts through the middle of the -y and +y sides.
    let m = check(&profile_cut(of(BOX), 0.25, 0.75), Detail::Medium);
    for face in [4, 5] {
        assert!(
            m.faces[face]
                .mesh
                .positions
                .iter()
                .all(|p| (p[0] + p[1]).abs() < 1e-5)
        );
    }
    assert!(
        m.faces
            .iter()
            .all(|f| f.mesh.positions.iter().all(|p| p[0] + p[1] > -1e-5))
    );
    let m = check(&profile_cut(of(BOX), 0.125, 0.625), Detail::Medium);
    assert_eq!(m.faces.len(), 7);
    for face in [5, 6] {
        assert!(
            m.faces[face]
                .mesh
                .positions
                .iter()
                .all(|p| p[0].abs() < 1e-5)
        );
    }
    assert!(
        m.faces
            .iter()
            .all(|f| f.mesh.positions.iter().all(|p| p[0] > -1e-5))
    );
}

/// SL's face count for each captured prim, by local id (derived from `LLProfile::generate`).
#[rustfmt::skip]
const CAPTURED: &[(u32, &str, usize)] = &[
    (665494776, "box", 6), (665494777, "cylinder", 3), (665494778, "prism (equilateral)", 5),
    (665494779, "sphere", 1), (665494780, "torus", 1), (665494781, "tube", 4),
    (665494782, "ring", 3), (665494783, "pyramid", 6), (665494784, "cone", 3),
    (665494785, "box hollow 50%", 7), (665494786, "cylinder hollow 40% square hole", 4),
    (665494787, "box profile cut 0.25-0.75", 6), (665494788, "box path cut 0.2-0.8", 6),
    (665494789, "box twist 90", 6), (665494790, "box twist -90..90", 6),
    (665494791, "cylinder taper 0.5", 3), (665494792, "box top shear", 6),
    (665494793, "sphere dimple 0.2-0.8", 3), (665494794, "sphere path cut 0-0.5 hollow 50%", 6),
    (665494795, "torus taper, 2 revolutions, radius offset, skew (open path)", 3),
    (665494796, "tube hollow 30% triangle hole", 5), (665494797, "ring twist 45 (open path)", 5),
    (665494798, "prism hollow circle 50%", 6), (665494799, "right-triangle prism", 5),
    (665494800, "half cylinder", 3), (665494801, "sphere on circle2 path", 1),
    (665494802, "platform box", 6), (665494803, "tall cylinder", 3),
    (665494804, "linkset root box", 6), (665494805, "linkset child sphere", 1),
    (221208283, "var box", 6), (221208284, "var sphere", 1), (221208285, "var cylinder", 3),
    (221208286, "var torus", 1), (221208287, "var tube", 4), (221208288, "var ring", 3),
    (221208289, "var tall box", 6),
];

#[test]
fn every_captured_prim_meshes() {
    let mut shapes = BTreeMap::new();
    for session in SESSIONS {
        for (id, pcode, s) in object_shapes(session) {
            if pcode == PCode::Prim {
                shapes.insert(id, s);
            }
        }
    }
    let mut want = CAPTURED.iter().map(|c| c.0).collect::<Vec<_>>();
    want.sort_unstable();
    assert_eq!(shapes.keys().copied().collect::<Vec<_>>(), want);
    for &(id, name, faces) in CAPTURED {
        let s = &shapes[&id];
        assert_eq!(face_count(s), faces, "{name}");
        for d in [Detail::Low, Detail::Medium, Detail::High] {
            // A 90° twist folds the captured ring through its axis, as in SL.
            let m = check_with(s, d, !s.is_twisted());
            // Shapes that fill their box do so within the tessellation's chord error.
            let plain = !(s.is_cut() || s.is_twisted() || s.is_tapered() || s.is_sheared())
                && s.path_radius_offset == 0
                && s.path_skew == 0
                && s.path_revolutions == 0
                && !matches!(s.profile_curve & 0x0F, 2..=4)
                && s.path_curve != 0x30;
            let (lo, hi) = m.bounds().unwrap();
            if plain {
                // A half circle swept along a line fills only the box's y ≤ 0 half.
                let half = s.profile_curve & 0x0F == 5 && s.is_linear();
                let want_hi = [0.5, if half { 0.0 } else { 0.5 }, 0.5];
                for k in 0..3 {
                    assert!(
                        (lo[k] + 0.5).abs() < 0.04 && (hi[k] - want_hi[k]).abs() < 0.04,
                        "{name} {d:?}: {lo:?} {hi:?}"
                    );
                }
            }
            assert!(lo.iter().chain(&hi).all(|v| v.abs() <= 1.5), "{name}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_shapes_mesh_validly(bytes in proptest::array::uniform23(any::<u8>()), detail in 0..3usize) {
        let s = PrimShape::read_update(&mut overlook_protocol::message::codec::Reader::new(&bytes)).unwrap();
        let detail = [Detail::Low, Detail::Medium, Detail::High][detail];
        let m = prim_mesh(&s, detail);
        prop_assert_eq!(m.faces.len(), face_count(&s));
        prop_assert!(m.faces.len() <= 9);
        for f in &m.faces {
            prop_assert!(f.mesh.validate().is_ok());
            for p in &f.mesh.positions {
                prop_assert!(p.iter().all(|v| v.abs() <= 1.5), "{:?}", p);
            }
            for n in &f.mesh.normals {
                prop_assert!((len(*n) - 1.0).abs() < 1e-3);
            }
        }
    }
}
