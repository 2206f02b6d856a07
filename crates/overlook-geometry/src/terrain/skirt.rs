//! Skirts: vertical strips hanging from a terrain chunk's edges, which hide the cracks between
//! neighbouring chunks meshed at different levels of detail.
//!
//! Two neighbours at different [`Lod`]s share their edge's end points but not the vertices in
//! between, so their surfaces part along the edge. Rather than stitching each pair of levels
//! (which would tie a chunk's mesh to its neighbours' levels, and rebuild it when they change),
//! every chunk hangs a skirt under each edge, facing out of the chunk. It is deep enough to reach
//! below the other surface wherever this one is the higher ([`skirt_depths`]), so from either
//! side the crack shows the skirt, coloured and lit like the edge above it, never the sky.
//!
//! Guarantees: no panics; depths are finite (the mesher reads non-finite heights as 0 m) and at
//! least [`SKIRT_MARGIN`].

use super::chunk::{CHUNK_SIZE, ChunkId, Grid};
use super::lod::Lod;
use super::{f32_from, to_usize};
use crate::mesh::MeshData;
use overlook_protocol::terrain::Heightmap;

/// Extra skirt depth beyond the largest gap, so rasterisation never shows a pixel-wide crack.
pub const SKIRT_MARGIN: f32 = 0.5;

/// How far each skirt of a chunk hangs below its edge at `lod`, in metres: south, east, north,
/// west.
///
/// Along an edge, every level of detail interpolates the same 65 samples; two levels `a`, `b`
/// differ at most by `dev(a) + dev(b)`, where `dev` is the largest distance of a sample from its
/// level's polyline. So a skirt `dev(lod) + max dev(any) + margin` deep covers the crack to any
/// neighbour, whichever side is the higher.
pub fn skirt_depths(hm: &Heightmap, chunk: ChunkId, lod: Lod) -> [f32; 4] {
    let grid = Grid::new(hm);
    let (x0, y0) = chunk.origin();
    let (x1, y1) = (x0 + CHUNK_SIZE, y0 + CHUNK_SIZE);
    let along = |f: &dyn Fn(u32) -> (u32, u32)| -> f32 {
        let profile: [f32; PROFILE] = core::array::from_fn(|k| {
            let (x, y) = f(u32::try_from(k).unwrap_or(0));
            grid.height(x, y)
        });
        let devs = Lod::all().map(|l| deviation(&profile, l.step()));
        let (own, worst) = devs
            .zip(Lod::all())
            .fold((0.0, 0.0), |(own, worst), (d, l)| {
                (if l == lod { d } else { own }, f32::max(worst, d))
            });
        own + worst + SKIRT_MARGIN
    };
    [
        along(&|k| (x0 + k, y0)),
        along(&|k| (x1, y0 + k)),
        along(&|k| (x0 + k, y1)),
        along(&|k| (x0, y0 + k)),
    ]
}

/// Samples along a chunk edge, both corners included.
const PROFILE: usize = 65;

/// Largest distance of a sample of `profile` from the polyline through every `step`-th sample
/// (within a few ulps: the line is stepped by addition, which [`SKIRT_MARGIN`] more than covers).
fn deviation(profile: &[f32], step: u32) -> f32 {
    if step <= 1 {
        return 0.0;
    }
    let s = to_usize(step);
    // Exact: steps are powers of two.
    let per_sample = 1.0 / f32_from(step);
    let mut worst = 0.0f32;
    for segment in profile.windows(s + 1).step_by(s) {
        let (Some(&first), Some(&last)) = (segment.first(), segment.last()) else {
            continue;
        };
        let slope = (last - first) * per_sample;
        let mut line = first;
        for &h in segment {
            worst = worst.max((h - line).abs());
            line += slope;
        }
    }
    worst
}

/// Hangs a skirt `depth` metres deep under the vertices `edge` (in counter-clockwise order around
/// the chunk, seen from above), facing out of the chunk.
pub(super) fn add_skirt(mesh: &mut MeshData, edge: &[u32], depth: f32) {
    let Ok(base) = u32::try_from(mesh.positions.len()) else {
        return;
    };
    for &top in edge {
        let t = to_usize(top);
        let (Some(&[x, y, z]), Some(&n), Some(&uv), Some(&c)) = (
            mesh.positions.get(t),
            mesh.normals.get(t),
            mesh.uvs.get(t),
            mesh.colors.get(t),
        ) else {
            return;
        };
        mesh.positions.push([x, y, z - depth]);
        mesh.normals.push(n);
        mesh.uvs.push(uv);
        mesh.colors.push(c);
    }
    for ((pair, a_low), b_low) in edge.windows(2).zip(base..).zip(base + 1..) {
        if let &[a, b] = pair {
            mesh.indices.extend([a, a_low, b_low, a, b_low, b]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terrain::chunk::tests::{at, hills, map, mesh};

    #[test]
    fn measures_how_far_samples_leave_a_level() {
        let profile: Vec<f32> = (0..=64)
            .map(|k| if k == 3 { 2.0 } else { k as f32 })
            .collect();
        assert_eq!(deviation(&profile, 1), 0.0);
        // Sample 3 sits 1 m below the line through samples 2 and 4.
        assert_eq!(deviation(&profile, 2), 1.0);
        assert_eq!(deviation(&profile, 64), 1.0);
        let flat = vec![5.0; 65];
        assert!(Lod::all().all(|l| deviation(&flat, l.step()) == 0.0));
        let hm = map(256, 256, |_, _| 3.0);
        assert_eq!(
            skirt_depths(&hm, ChunkId { x: 1, y: 1 }, Lod::FINEST),
            [SKIRT_MARGIN; 4]
        );
    }

    /// The surface height along the shared edge `k = 0..=64` of a chunk mesh, interpolated
    /// between its edge vertices (`vertex(i)` gives the grid index of edge vertex `i`).
    fn edge_line(m: &MeshData, lod: Lod, vertex: impl Fn(u32) -> usize) -> Vec<f32> {
        let step = lod.step();
        (0..=CHUNK_SIZE)
            .map(|k| {
                let (i, f) = (k / step, (k % step) as f32 / step as f32);
                let a = m.positions[vertex(i)][2];
                let b = m.positions[vertex((i + 1).min(lod.grid_side() - 1))][2];
                a + (b - a) * f
            })
            .collect()
    }

    #[test]
    fn skirts_cover_the_gap_between_levels() {
        let hm = map(256, 256, hills);
        for a in Lod::all() {
            for b in Lod::all() {
                // West chunk (1, 1) at level a, east chunk (2, 1) at level b.
                let west = mesh(&hm, 1, 1, a);
                let east = mesh(&hm, 2, 1, b);
                let wl = edge_line(&west, a, |j| at(a, a.grid_side() - 1, j));
                let el = edge_line(&east, b, |j| at(b, 0, j));
                let [_, west_depth, ..] = skirt_depths(&hm, ChunkId { x: 1, y: 1 }, a);
                let [.., east_depth] = skirt_depths(&hm, ChunkId { x: 2, y: 1 }, b);
                for (k, (w, e)) in wl.iter().zip(&el).enumerate() {
                    // The higher surface's skirt reaches below the lower surface.
                    let covered = if w >= e {
                        w - west_depth <= *e
                    } else {
                        e - east_depth <= *w
                    };
                    assert!(covered, "{a:?}/{b:?} at {k}: {w} vs {e}");
                }
                if a != b {
                    // The levels really open a gap here, which the skirts must close.
                    assert!(wl.iter().zip(&el).any(|(w, e)| (w - e).abs() > 0.1));
                }
            }
        }
    }
}
