//! The embedded region's own mesh assets, made here and encoded with [`super::encode`]: the
//! files in `crates/overlook-sim/assets/meshes/` are what [`demo_meshes`] encodes to (a test
//! holds them to it; `cargo run -p overlook-geometry --example demo_meshes` rewrites them).
//!
//! - **`knot`**: a (2, 3) torus knot tube with two faces (each half of the tube), four LODs
//!   from 96 × 10 quads down to 12 × 3.
//! - **`gem`**: a faceted brilliant with three faces (table, crown, pavilion) and flat normals,
//!   four LODs from 16 sides down to 5.
//!
//! Both fit the unit box (−0.5…0.5) as SL meshes do; the prim's scale sizes them.

use core::f32::consts::TAU;

use super::Lod;
use crate::MeshData;

/// A mesh's faces per level of detail, as [`super::encode`] takes them.
pub type Lods = Vec<(Lod, Vec<MeshData>)>;

/// `(name, LODs)` of every demo mesh, in the order the region lists them.
pub fn demo_meshes() -> Vec<(&'static str, Lods)> {
    let knot_lods = [(96, 10), (48, 6), (24, 4), (12, 3)];
    let gem_lods = [16, 10, 7, 5];
    let lods = [Lod::High, Lod::Medium, Lod::Low, Lod::Lowest];
    vec![
        (
            "knot",
            lods.iter()
                .zip(knot_lods)
                .map(|(&lod, (along, around))| (lod, knot(along, around)))
                .collect(),
        ),
        (
            "gem",
            lods.iter()
                .zip(gem_lods)
                .map(|(&lod, sides)| (lod, gem(sides)))
                .collect(),
        ),
    ]
}

/// The count `n` as a float (demo sizes are small).
fn f(n: u32) -> f32 {
    // Exact: every count here is far below 2^24.
    u16::try_from(n).map_or(0.0, f32::from)
}

/// A point on the (2, 3) torus knot's centre line at `t` (radians), and its tangent.
fn knot_centre(t: f32) -> ([f32; 3], [f32; 3]) {
    let at = |t: f32| {
        let r = 0.25 + 0.11 * (3.0 * t).cos();
        [
            r * (2.0 * t).cos(),
            r * (2.0 * t).sin(),
            0.14 * (3.0 * t).sin(),
        ]
    };
    let (a, b) = (at(t - 1e-3), at(t + 1e-3));
    (at(t), normalize(sub(b, a)))
}

/// The knot: a tube of radius 0.07 around the centre line, `along` quads along and `around`
/// across, split into two faces (the first and second half of the tube).
fn knot(along: u32, around: u32) -> Vec<MeshData> {
    let half = along / 2;
    [(0, half), (half, along)]
        .into_iter()
        .map(|(from, to)| {
            let mut m = MeshData::default();
            for i in from..=to {
                let t = TAU * f(i) / f(along);
                let (c, tangent) = knot_centre(t);
                // A frame around the tangent: the direction from the z axis, then the binormal.
                let outward = normalize([c[0], c[1], 0.0]);
                let side = normalize(cross(tangent, outward));
                let up = cross(side, tangent);
                for j in 0..=around {
                    let a = TAU * f(j) / f(around);
                    let n = add(scale(up, a.cos()), scale(side, a.sin()));
                    m.positions.push(add(c, scale(n, 0.07)));
                    m.normals.push(n);
                    m.uvs
                        .push([f(i - from) / f(to - from) * 4.0, f(j) / f(around)]);
                }
            }
            let row = around + 1;
            for i in 0..(to - from) {
                for j in 0..around {
                    let (a, b) = (i * row + j, (i + 1) * row + j);
                    m.indices.extend([a, b, a + 1, a + 1, b, b + 1]);
                }
            }
            m
        })
        .collect()
}

/// The gem: a `sides`-sided brilliant, table (face 0) on top, crown (face 1), pavilion (face 2)
/// down to a point; flat shaded (each triangle its own vertices).
fn gem(sides: u32) -> Vec<MeshData> {
    let ring = |radius: f32, z: f32, turn: f32| -> Vec<[f32; 3]> {
        (0..sides)
            .map(|i| {
                let a = TAU * (f(i) + turn) / f(sides);
                [radius * a.cos(), radius * a.sin(), z]
            })
            .collect()
    };
    let table = ring(0.28, 0.2, 0.5);
    let girdle = ring(0.5, 0.05, 0.0);
    let culet = [0.0, 0.0, -0.5];
    let mut faces = vec![
        MeshData::default(),
        MeshData::default(),
        MeshData::default(),
    ];
    let planar = |p: [f32; 3]| [p[0] + 0.5, p[1] + 0.5];
    let mut tri = |face: usize, a: [f32; 3], b: [f32; 3], c: [f32; 3]| {
        let n = normalize(cross(sub(b, a), sub(c, a)));
        if let Some(m) = faces.get_mut(face) {
            let base = u32::try_from(m.positions.len()).unwrap_or(0);
            for p in [a, b, c] {
                m.positions.push(p);
                m.normals.push(n);
                m.uvs.push(planar(p));
            }
            m.indices.extend([base, base + 1, base + 2]);
        }
    };
    let n = table.len();
    let top = [0.0, 0.0, 0.2];
    for i in 0..n {
        let j = (i + 1) % n;
        let (Some(&t0), Some(&t1), Some(&g0), Some(&g1)) =
            (table.get(i), table.get(j), girdle.get(i), girdle.get(j))
        else {
            continue;
        };
        tri(0, top, t0, t1);
        // The crown: the girdle edge up to the table's, a quad as two triangles.
        tri(1, g0, g1, t0);
        tri(1, g1, t1, t0);
        tri(2, culet, g1, g0);
    }
    faces
}

fn add(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn scale(a: [f32; 3], s: f32) -> [f32; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalize(a: [f32; 3]) -> [f32; 3] {
    let len = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
    if len > 0.0 {
        scale(a, 1.0 / len)
    } else {
        [0.0, 0.0, 1.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llmesh::{MeshAsset, encode};

    /// The committed files of the sim crate.
    fn file(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../overlook-sim/assets/meshes")
            .join(format!("{name}.llmesh"))
    }

    #[test]
    fn demo_meshes_are_whole_closed_outward_and_inside_the_unit_box() {
        for (name, lods) in demo_meshes() {
            assert_eq!(lods.len(), 4, "{name}");
            let mut triangles = Vec::new();
            for (lod, faces) in &lods {
                let mut count = 0;
                for (i, face) in faces.iter().enumerate() {
                    face.validate().unwrap();
                    assert!(face.triangle_count() > 0, "{name} {lod:?} face {i}");
                    for p in &face.positions {
                        assert!(p.iter().all(|c| c.abs() <= 0.5 + 1e-6), "{name} {p:?}");
                    }
                    count += face.triangle_count();
                }
                triangles.push(count);
            }
            assert!(
                triangles.windows(2).all(|w| w[0] > w[1]),
                "{name}: LODs get coarser: {triangles:?}"
            );
        }
        // The gem's facets face away from its axis (outward), the knot's normals away from
        // the tube's centre line.
        let gem = &demo_meshes()[1].1[0].1;
        for face in gem {
            for t in face.indices.chunks(3) {
                let p = face.positions[t[0] as usize];
                let n = face.normals[t[0] as usize];
                let c = [0.0, 0.0, p[2].clamp(-0.4, 0.15)];
                assert!(n[0] * (p[0] - c[0]) + n[1] * (p[1] - c[1]) + n[2] * (p[2] - c[2]) > 0.0);
            }
        }
    }

    #[test]
    fn the_sim_serves_what_the_encoder_makes_of_them() {
        for (name, lods) in demo_meshes() {
            let bytes = encode(&lods).unwrap();
            let committed = std::fs::read(file(name)).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (cargo run -p overlook-geometry --example demo_meshes)",
                    name
                )
            });
            assert!(
                committed == bytes,
                "{name}.llmesh is stale: cargo run -p overlook-geometry --example demo_meshes"
            );
            // And it decodes back to the same faces at every LOD.
            let asset = MeshAsset::parse(&committed).unwrap();
            for (lod, faces) in &lods {
                let back = asset.decode(*lod).unwrap();
                assert_eq!(back.len(), faces.len());
                for (a, b) in back.iter().zip(faces) {
                    assert_eq!(a.indices, b.indices);
                    for (p, q) in a.positions.iter().zip(&b.positions) {
                        assert!(p.iter().zip(q).all(|(x, y)| (x - y).abs() < 2e-5));
                    }
                }
            }
        }
    }
}
