//! Stand-in meshes for objects that are not prims: trees, grass and avatars (PROTOCOL §3.16).
//!
//! SL draws these from their own assets (tree textures, the avatar's skeleton and mesh); until
//! Overlook fetches those, it draws simple shapes made of boxes, cylinders, cones and spheres,
//! coloured through [`MeshData::colors`] (linear RGBA). All are pure data, valid by
//! [`MeshData::validate`], with outward-wound triangles and unit normals.
//!
//! Frames: trees and grass stand on their origin (OpenSim places them at ground level) and fill
//! x, y in `[-0.5, 0.5]` and z in `[0, 1]`, so the object's scale gives their size, as a prim's
//! does. The avatar is in metres around the agent's position: feet at z = −0.9, head top near
//! z = 0.86, facing +x; draw it without the object scale.

use std::f32::consts::TAU;

use crate::mesh::MeshData;
use overlook_protocol::message::object::PCode;

type Rgba = [f32; 4];

const BARK: Rgba = [0.25, 0.15, 0.07, 1.0];
const LEAVES: Rgba = [0.09, 0.35, 0.08, 1.0];
const NEEDLES: Rgba = [0.04, 0.22, 0.09, 1.0];
const GRASS: [Rgba; 3] = [
    [0.18, 0.45, 0.08, 1.0],
    [0.24, 0.52, 0.10, 1.0],
    [0.14, 0.38, 0.07, 1.0],
];
const SKIN: Rgba = [0.75, 0.52, 0.40, 1.0];
const SHIRT: Rgba = [0.10, 0.22, 0.55, 1.0];
const TROUSERS: Rgba = [0.08, 0.08, 0.12, 1.0];
const SHOES: Rgba = [0.03, 0.02, 0.02, 1.0];
const HAIR: Rgba = [0.12, 0.07, 0.03, 1.0];

/// The stand-in for a non-prim object, or `None` for prims and for objects drawn as nothing
/// (particle systems, text bubbles, legacy rocks, unknown codes).
pub fn standin(pcode: PCode, species: u8) -> Option<MeshData> {
    match pcode {
        PCode::Tree | PCode::NewTree => Some(tree(species)),
        PCode::Grass => Some(grass(species)),
        PCode::Avatar => Some(avatar()),
        _ => None,
    }
}

/// A tree: a tapered trunk under a round canopy, or stacked cones for the conifers among SL's
/// species (pines, cypresses, winter pines: 0, 7, 8, 9, 11, 13).
pub fn tree(species: u8) -> MeshData {
    let mut m = MeshData::default();
    let sides = 10;
    if matches!(species, 0 | 7 | 8 | 9 | 11 | 13) {
        frustum(&mut m, [0.0, 0.0], (0.0, 0.25), (0.07, 0.05), sides, BARK);
        for (z, r, h) in [(0.15, 0.45, 0.45), (0.4, 0.36, 0.38), (0.62, 0.26, 0.38)] {
            frustum(&mut m, [0.0, 0.0], (z, z + h), (r, 0.0), sides, NEEDLES);
        }
    } else {
        frustum(&mut m, [0.0, 0.0], (0.0, 0.5), (0.07, 0.045), sides, BARK);
        ellipsoid(&mut m, [0.0, 0.0, 0.64], [0.45, 0.45, 0.36], LEAVES);
    }
    m
}

/// Grass: a tuft of thin, two-sided blades of varying height and lean; `species` only shifts
/// the pattern, so neighbouring patches differ.
pub fn grass(species: u8) -> MeshData {
    let mut m = MeshData::default();
    let blades: u8 = 9;
    for i in 0..blades {
        let k = f32::from(i) + f32::from(species) * 0.37;
        // A fixed golden-angle scatter: deterministic and even.
        let ang = k * 2.399_963;
        let r = 0.35 * ((f32::from(i) + 0.5) / f32::from(blades)).sqrt();
        let base = [r * ang.cos(), r * ang.sin(), 0.0];
        let height = 0.6 + 0.4 * (k * 1.7).sin().abs();
        let lean = [0.12 * (k * 0.9).cos(), 0.12 * (k * 1.3).sin()];
        let facing = ang + 1.3;
        let half = [0.03 * facing.cos(), 0.03 * facing.sin()];
        let tip = [base[0] + lean[0], base[1] + lean[1], height];
        let left = [base[0] - half[0], base[1] - half[1], 0.0];
        let right = [base[0] + half[0], base[1] + half[1], 0.0];
        let colour = GRASS.get(usize::from(i % 3)).copied().unwrap_or(LEAVES);
        let n = normalize(cross(sub(right, left), sub(tip, left)));
        // Both sides, so the blade shows from everywhere.
        triangle(&mut m, [left, right, tip], n, colour);
        triangle(&mut m, [right, left, tip], n.map(|v| -v), colour);
    }
    m
}

/// A humanoid figure about 1.76 m tall, in metres around the avatar's centre (feet at
/// z = −0.9), facing +x.
pub fn avatar() -> MeshData {
    let mut m = MeshData::default();
    for side in [-1.0f32, 1.0] {
        let y = 0.1 * side;
        // Feet, legs, arms and hands.
        cuboid(
            &mut m,
            [-0.07, y - 0.05, -0.9],
            [0.16, y + 0.05, -0.84],
            SHOES,
        );
        frustum(
            &mut m,
            [0.0, y],
            (-0.84, -0.02),
            (0.065, 0.085),
            8,
            TROUSERS,
        );
        frustum(
            &mut m,
            [0.0, 0.24 * side],
            (-0.2, 0.44),
            (0.045, 0.055),
            8,
            SHIRT,
        );
        ellipsoid(&mut m, [0.0, 0.24 * side, -0.25], [0.045, 0.04, 0.07], SKIN);
    }
    // Hips, torso, shoulders, neck and head.
    cuboid(&mut m, [-0.1, -0.17, -0.08], [0.1, 0.17, 0.05], TROUSERS);
    frustum(&mut m, [0.0, 0.0], (0.05, 0.44), (0.13, 0.15), 10, SHIRT);
    ellipsoid(&mut m, [0.0, 0.0, 0.44], [0.13, 0.27, 0.06], SHIRT);
    frustum(&mut m, [0.0, 0.0], (0.48, 0.62), (0.05, 0.05), 8, SKIN);
    ellipsoid(&mut m, [0.01, 0.0, 0.74], [0.1, 0.09, 0.12], SKIN);
    ellipsoid(&mut m, [-0.02, 0.0, 0.78], [0.095, 0.092, 0.09], HAIR);
    m
}

type V3 = [f32; 3];

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalize(a: V3) -> V3 {
    let l = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
    if l > 1e-12 {
        a.map(|v| v / l)
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// The index the next pushed vertex gets.
fn next_index(m: &MeshData) -> u32 {
    u32::try_from(m.positions.len()).unwrap_or(u32::MAX)
}

fn vertex(m: &mut MeshData, p: V3, n: V3, uv: [f32; 2], colour: Rgba) {
    m.positions.push(p);
    m.normals.push(n);
    m.uvs.push(uv);
    m.colors.push(colour);
}

fn triangle(m: &mut MeshData, p: [V3; 3], n: V3, colour: Rgba) {
    let base = next_index(m);
    for (q, uv) in p.into_iter().zip([[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]]) {
        vertex(m, q, n, uv, colour);
    }
    m.indices.extend_from_slice(&[base, base + 1, base + 2]);
}

/// An axis-aligned box with flat faces.
fn cuboid(m: &mut MeshData, lo: V3, hi: V3, colour: Rgba) {
    // Each face: normal, then its corners counter-clockwise seen from outside.
    let [x0, y0, z0] = lo;
    let [x1, y1, z1] = hi;
    let faces: [(V3, [V3; 4]); 6] = [
        (
            [1.0, 0.0, 0.0],
            [[x1, y0, z0], [x1, y1, z0], [x1, y1, z1], [x1, y0, z1]],
        ),
        (
            [-1.0, 0.0, 0.0],
            [[x0, y1, z0], [x0, y0, z0], [x0, y0, z1], [x0, y1, z1]],
        ),
        (
            [0.0, 1.0, 0.0],
            [[x1, y1, z0], [x0, y1, z0], [x0, y1, z1], [x1, y1, z1]],
        ),
        (
            [0.0, -1.0, 0.0],
            [[x0, y0, z0], [x1, y0, z0], [x1, y0, z1], [x0, y0, z1]],
        ),
        (
            [0.0, 0.0, 1.0],
            [[x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]],
        ),
        (
            [0.0, 0.0, -1.0],
            [[x0, y1, z0], [x1, y1, z0], [x1, y0, z0], [x0, y0, z0]],
        ),
    ];
    for (n, corners) in faces {
        let base = next_index(m);
        for (p, uv) in corners
            .into_iter()
            .zip([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
        {
            vertex(m, p, n, uv, colour);
        }
        m.indices
            .extend_from_slice(&[base, base + 1, base + 2, base, base + 2, base + 3]);
    }
}

/// A closed, vertical truncated cone (or cone, with a zero top radius) around `(x, y)` from
/// `z.0` to `z.1`, radii `r.0` at the bottom and `r.1` at the top.
fn frustum(
    m: &mut MeshData,
    [x, y]: [f32; 2],
    z: (f32, f32),
    r: (f32, f32),
    sides: u16,
    colour: Rgba,
) {
    let (h, dr) = (z.1 - z.0, r.0 - r.1);
    let slope = normalize([h, 0.0, dr]);
    let ring = |i: u16| {
        let a = TAU * f32::from(i) / f32::from(sides);
        (a.cos(), a.sin())
    };
    let base = next_index(m);
    for i in 0..=sides {
        let (c, s) = ring(i);
        let n = [c * slope[0], s * slope[0], slope[2]];
        let u = f32::from(i) / f32::from(sides);
        vertex(m, [x + r.0 * c, y + r.0 * s, z.0], n, [u, 0.0], colour);
        vertex(m, [x + r.1 * c, y + r.1 * s, z.1], n, [u, 1.0], colour);
    }
    for i in 0..u32::from(sides) {
        let (b0, t0, b1, t1) = (
            base + 2 * i,
            base + 2 * i + 1,
            base + 2 * i + 2,
            base + 2 * i + 3,
        );
        m.indices.extend_from_slice(&[b0, b1, t1, b0, t1, t0]);
    }
    // Caps: a fan around the centre, facing down at the bottom and up at the top.
    for (zc, rc, up) in [(z.0, r.0, false), (z.1, r.1, true)] {
        if rc <= 0.0 {
            continue;
        }
        let n = [0.0, 0.0, if up { 1.0 } else { -1.0 }];
        let centre = next_index(m);
        vertex(m, [x, y, zc], n, [0.5, 0.5], colour);
        for i in 0..=sides {
            let (c, s) = ring(i);
            vertex(
                m,
                [x + rc * c, y + rc * s, zc],
                n,
                [0.5 + c / 2.0, 0.5 + s / 2.0],
                colour,
            );
        }
        for i in 0..u32::from(sides) {
            let (a, b) = (centre + 1 + i, centre + 2 + i);
            let tri = if up { [centre, a, b] } else { [centre, b, a] };
            m.indices.extend_from_slice(&tri);
        }
    }
}

/// An ellipsoid with smooth normals (8 rings of 16 segments).
fn ellipsoid(m: &mut MeshData, c: V3, r: V3, colour: Rgba) {
    let rings: u16 = 8;
    let segments = rings * 2;
    let base = next_index(m);
    for i in 0..=rings {
        let polar = std::f32::consts::PI * f32::from(i) / f32::from(rings);
        let (sp, cp) = polar.sin_cos();
        for j in 0..=segments {
            let az = TAU * f32::from(j) / f32::from(segments);
            let (sa, ca) = az.sin_cos();
            let unit = [sp * ca, sp * sa, -cp];
            let p = [
                c[0] + r[0] * unit[0],
                c[1] + r[1] * unit[1],
                c[2] + r[2] * unit[2],
            ];
            // The normal of an ellipsoid: the unit-sphere direction divided by the radii.
            let n = normalize([unit[0] / r[0], unit[1] / r[1], unit[2] / r[2]]);
            let uv = [
                f32::from(j) / f32::from(segments),
                f32::from(i) / f32::from(rings),
            ];
            vertex(m, p, n, uv, colour);
        }
    }
    let row = u32::from(segments) + 1;
    for i in 0..u32::from(rings) {
        for j in 0..u32::from(segments) {
            let a = base + i * row + j;
            let (b, c2, d) = (a + 1, a + row + 1, a + row);
            m.indices.extend_from_slice(&[a, b, c2, a, c2, d]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: V3, b: V3) -> f32 {
        a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    }

    /// Valid, coloured, unit normals, triangles wound the way their normals point.
    fn check(m: &MeshData) {
        m.validate().unwrap();
        assert_eq!(m.colors.len(), m.positions.len());
        assert!(
            m.colors
                .iter()
                .all(|c| c.iter().all(|v| (0.0..=1.0).contains(v)))
        );
        for n in &m.normals {
            assert!((dot(*n, *n).sqrt() - 1.0).abs() < 1e-4, "{n:?}");
        }
        for t in m.indices.chunks(3) {
            let p: Vec<V3> = t.iter().map(|&i| m.positions[i as usize]).collect();
            let g = cross(sub(p[1], p[0]), sub(p[2], p[0]));
            if dot(g, g).sqrt() > 1e-7 {
                let n = t
                    .iter()
                    .map(|&i| m.normals[i as usize])
                    .fold([0.0; 3], |a, n| [a[0] + n[0], a[1] + n[1], a[2] + n[2]]);
                assert!(dot(g, n) > 0.0, "{p:?}");
            }
        }
    }

    #[test]
    fn trees_and_grass_stand_in_the_unit_column() {
        for m in [tree(0), tree(1), tree(3), grass(0), grass(7)] {
            check(&m);
            let (lo, hi) = m.bounds().unwrap();
            assert!(lo[2].abs() < 1e-6 && hi[2] <= 1.0 + 1e-6, "{lo:?} {hi:?}");
            assert!(
                lo[..2].iter().chain(&hi[..2]).all(|v| v.abs() <= 0.5),
                "{lo:?} {hi:?}"
            );
            // Something near the top: a canopy or a blade tip, not a stump.
            assert!(hi[2] > 0.8);
        }
        // Conifers and broadleaves differ; canopies are green over a brown trunk.
        assert_ne!(tree(0), tree(1));
        let t = tree(1);
        let top = t
            .positions
            .iter()
            .zip(&t.colors)
            .max_by(|a, b| a.0[2].total_cmp(&b.0[2]))
            .unwrap();
        assert_eq!(*top.1, LEAVES);
        let bottom = t
            .positions
            .iter()
            .zip(&t.colors)
            .min_by(|a, b| a.0[2].total_cmp(&b.0[2]))
            .unwrap();
        assert_eq!(*bottom.1, BARK);
    }

    #[test]
    fn avatar_is_a_person_sized_figure_on_its_feet() {
        let m = avatar();
        check(&m);
        let (lo, hi) = m.bounds().unwrap();
        assert!((lo[2] + 0.9).abs() < 1e-6, "feet at {}", lo[2]);
        let height = hi[2] - lo[2];
        assert!((1.7..=1.9).contains(&height), "{height}");
        // Narrow from the front, wider across the shoulders, centred on the agent.
        assert!(hi[0] - lo[0] < 0.35 && (0.45..=0.7).contains(&(hi[1] - lo[1])));
        assert!((lo[1] + hi[1]).abs() < 1e-5);
        // Shoes at the bottom, skin (the face) at eye height, facing +x.
        let near = |z: f32| {
            m.positions
                .iter()
                .zip(&m.colors)
                .filter(move |(p, _)| (p[2] - z).abs() < 0.02)
                .map(|(_, c)| *c)
                .collect::<Vec<_>>()
        };
        assert!(near(-0.9).iter().all(|c| *c == SHOES));
        let face = m
            .positions
            .iter()
            .zip(&m.colors)
            .filter(|(p, _)| (p[2] - 0.72).abs() < 0.03);
        let front = face.max_by(|a, b| a.0[0].total_cmp(&b.0[0])).unwrap();
        assert_eq!(*front.1, SKIN);
    }

    #[test]
    fn standins_by_pcode() {
        assert_eq!(standin(PCode::Tree, 1), Some(tree(1)));
        assert_eq!(standin(PCode::NewTree, 9), Some(tree(9)));
        assert_eq!(standin(PCode::Grass, 2), Some(grass(2)));
        assert_eq!(standin(PCode::Avatar, 0), Some(avatar()));
        for p in [
            PCode::Prim,
            PCode::ParticleSystem,
            PCode::Rock,
            PCode::Unknown(3),
        ] {
            assert_eq!(standin(p, 0), None);
        }
    }
}
