//! Terrain chunks: a region cut into [`CHUNK_SIZE`]-metre squares, each meshed on its own.
//!
//! A chunk is 4 × 4 patches (`shared/PROTOCOL.md` §4.6), so when a LayerData patch arrives the
//! viewer rebuilds the few chunks [`chunks_touching_patch`] names, never the whole region. Region
//! sides are multiples of 256 m, so chunks tile every region exactly.
//!
//! [`chunk_mesh`] lays a regular grid with one vertex every [`Lod::step`] metres over the chunk,
//! both edges included: a chunk shares its east and north edge vertices with its neighbours. The
//! region's last row and column of vertices (at `size_x`, `size_y`) repeat the edge samples, so
//! the mesh covers the whole region. Everything about a vertex (height, normal, uv, colour) is a
//! function of its region position and the level of detail alone, read from the global
//! heightmap: neighbouring chunks at the same level agree bit for bit on their shared edges, and
//! the normals (central differences, reaching across chunk edges) light them without a seam.
//!
//! Neighbours at different levels of detail disagree between their coarse vertices. Each chunk
//! hangs a skirt from its four edges: a vertical strip as deep as the largest gap any level of
//! detail can open along that edge ([`skirt_depths`]), which fills the crack from either side.
//!
//! A vertex's `uv` is not a texture coordinate: `uv.x` is its band coordinate `t` (§10, in
//! `[0, 3]`), which the viewer's shader blends the four detail textures by, interpolated across
//! the triangle; the textures themselves tile in world space every [`UV_METRES`]. The vertex
//! colour is the same band blend of the flat band colours, the look until the textures arrive.
//!
//! Vertex layout of a chunk mesh (tests and the viewer rely on it): first the grid, `side × side`
//! vertices (`side = 64 / step + 1`), row-major, south row first; then one skirt row per edge,
//! `side` vertices each, in the order south, east, north, west.

use super::colour::TerrainShading;
use super::lod::Lod;
use super::skirt::{add_skirt, skirt_depths};
use super::{f32_from, to_usize};
use crate::mesh::MeshData;
use overlook_protocol::terrain::{Heightmap, PATCH_SIZE};

/// Side of a chunk in metres (and samples): 4 × 4 patches.
pub const CHUNK_SIZE: u32 = 64;

/// Patches per chunk side.
const PATCHES_PER_CHUNK: u32 = CHUNK_SIZE / PATCH_SIZE;

/// Widest spacing of the central differences for normals, 15 m: the east and north edge vertices
/// of a chunk already sit on the neighbour's first sample, so this keeps every read within one
/// patch of the chunk, which [`chunks_touching_patch`] relies on.
const MAX_NORMAL_SPACING: u32 = PATCH_SIZE - 1;

/// Metres per repeat of a terrain detail texture: once per patch. The viewer's shader tiles the
/// detail textures in world space at this scale (a chunk's `uvs` carry its band coordinate).
pub const UV_METRES: f32 = 16.0;

/// A chunk of the region, counted in chunks from the south-west corner (x east, y north).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChunkId {
    /// Column, east from 0.
    pub x: u32,
    /// Row, north from 0.
    pub y: u32,
}

impl ChunkId {
    /// The chunk's south-west corner in region metres.
    pub fn origin(self) -> (u32, u32) {
        (
            self.x.saturating_mul(CHUNK_SIZE),
            self.y.saturating_mul(CHUNK_SIZE),
        )
    }
}

/// The chunk holding patch `(px, py)`.
pub fn chunk_of_patch(px: u32, py: u32) -> ChunkId {
    ChunkId {
        x: px / PATCHES_PER_CHUNK,
        y: py / PATCHES_PER_CHUNK,
    }
}

/// Every chunk of a `size_x` × `size_y` metre region, south row first.
pub fn chunks(size_x: u32, size_y: u32) -> impl Iterator<Item = ChunkId> {
    let columns = size_x.div_ceil(CHUNK_SIZE);
    (0..size_y.div_ceil(CHUNK_SIZE)).flat_map(move |y| (0..columns).map(move |x| ChunkId { x, y }))
}

/// The chunks whose mesh reads patch `(px, py)` of a `size_x` × `size_y` region: the patch's own
/// chunk, and the neighbours it borders (their edge vertices and normals read up to one patch
/// into it). Nothing for a patch outside the region.
pub fn chunks_touching_patch(
    size_x: u32,
    size_y: u32,
    px: u32,
    py: u32,
) -> impl Iterator<Item = ChunkId> {
    let columns = touched(px, size_x.div_ceil(CHUNK_SIZE));
    let rows = touched(py, size_y.div_ceil(CHUNK_SIZE));
    rows.flat_map(move |y| columns.clone().map(move |x| ChunkId { x, y }))
}

/// Chunk indices along one axis whose meshes read patch index `p` (empty when out of range).
fn touched(p: u32, chunk_count: u32) -> core::ops::Range<u32> {
    let own = p / PATCHES_PER_CHUNK;
    if own >= chunk_count {
        return 0..0;
    }
    let within = p % PATCHES_PER_CHUNK;
    let first = if within == 0 {
        own.saturating_sub(1)
    } else {
        own
    };
    let last = if within == PATCHES_PER_CHUNK - 1 {
        own.saturating_add(1).min(chunk_count - 1)
    } else {
        own
    };
    first..last + 1
}

/// The mesh of one chunk at one level of detail: the height grid, then its skirts (see the module
/// docs for the layout). Empty for a chunk outside the region.
///
/// Samples whose patch has not arrived are meshed at 0 m (as [`Heightmap::heights`] holds them):
/// mesh a chunk once [`chunks_touching_patch`] says its patches are in, or mesh it again then.
pub fn chunk_mesh(hm: &Heightmap, chunk: ChunkId, lod: Lod, shading: &TerrainShading) -> MeshData {
    let grid = Grid::new(hm);
    let (x0, y0) = chunk.origin();
    if x0 >= grid.size_x || y0 >= grid.size_y {
        return MeshData::default();
    }
    let step = lod.step();
    let side = lod.grid_side();
    let spacing = step.min(MAX_NORMAL_SPACING);
    let mut mesh = MeshData {
        positions: Vec::with_capacity(lod.vertex_count()),
        normals: Vec::with_capacity(lod.vertex_count()),
        uvs: Vec::with_capacity(lod.vertex_count()),
        colors: Vec::with_capacity(lod.vertex_count()),
        indices: Vec::with_capacity(lod.index_count()),
    };
    for j in 0..side {
        let y = y0 + j * step;
        for i in 0..side {
            let x = x0 + i * step;
            let z = grid.height(x, y);
            mesh.positions.push([f32_from(x), f32_from(y), z]);
            mesh.normals.push(grid.normal(x, y, spacing));
            let band = shading.band(x, y, z, (grid.size_x, grid.size_y));
            mesh.uvs.push([band, 0.0]);
            mesh.colors.push(shading.colour_for_band(band));
        }
    }
    for j in 0..side - 1 {
        for i in 0..side - 1 {
            let sw = j * side + i;
            let (se, nw) = (sw + 1, sw + side);
            let ne = nw + 1;
            mesh.indices.extend([sw, se, ne, sw, ne, nw]);
        }
    }
    let last = side - 1;
    let edges: [Vec<u32>; 4] = [
        (0..side).collect(),
        (0..side).map(|j| j * side + last).collect(),
        (0..side).rev().map(|i| last * side + i).collect(),
        (0..side).rev().map(|j| j * side).collect(),
    ];
    for (edge, depth) in edges.iter().zip(skirt_depths(hm, chunk, lod)) {
        add_skirt(&mut mesh, edge, depth);
    }
    mesh
}

/// The heightmap as the mesher reads it: clamped at the far edges, non-finite heights as 0 m.
pub(super) struct Grid<'a> {
    heights: &'a [f32],
    width: usize,
    pub(super) size_x: u32,
    pub(super) size_y: u32,
}

impl<'a> Grid<'a> {
    pub(super) fn new(hm: &'a Heightmap) -> Self {
        Self {
            heights: hm.heights(),
            width: to_usize(hm.size_x()),
            size_x: hm.size_x(),
            size_y: hm.size_y(),
        }
    }

    /// The height of vertex `(x, y)`: sample `(x, y)`, clamped into the region.
    pub(super) fn height(&self, x: u32, y: u32) -> f32 {
        let x = to_usize(x.min(self.size_x.saturating_sub(1)));
        let y = to_usize(y.min(self.size_y.saturating_sub(1)));
        self.heights
            .get(y * self.width + x)
            .copied()
            .filter(|h| h.is_finite())
            .unwrap_or(0.0)
    }

    /// The unit normal at vertex `(x, y)`: central differences `spacing` metres either side,
    /// one-sided at the region's edges.
    pub(super) fn normal(&self, x: u32, y: u32, spacing: u32) -> [f32; 3] {
        let (w, e) = (x.saturating_sub(spacing), (x + spacing).min(self.size_x));
        let (s, n) = (y.saturating_sub(spacing), (y + spacing).min(self.size_y));
        let dzdx = (self.height(e, y) - self.height(w, y)) / f32_from(e.saturating_sub(w).max(1));
        let dzdy = (self.height(x, n) - self.height(x, s)) / f32_from(n.saturating_sub(s).max(1));
        let len = (dzdx * dzdx + dzdy * dzdy + 1.0).sqrt();
        [-dzdx / len, -dzdy / len, 1.0 / len]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::terrain::DEFAULT_BAND_COLOURS;
    use crate::terrain::skirt::SKIRT_MARGIN;
    use overlook_protocol::terrain::DecodedPatch;
    use proptest::prelude::*;

    /// A complete heightmap with `f(x, y)` at every sample.
    pub(crate) fn map(size_x: u32, size_y: u32, f: impl Fn(u32, u32) -> f32) -> Heightmap {
        let bytes: Vec<u8> = (0..size_y)
            .flat_map(|y| (0..size_x).map(move |x| (x, y)))
            .flat_map(|(x, y)| f(x, y).to_le_bytes())
            .collect();
        Heightmap::from_r32(&bytes, size_x, size_y).unwrap()
    }

    /// Rolling hills with some metre-scale roughness, so coarse levels really differ.
    pub(crate) fn hills(x: u32, y: u32) -> f32 {
        let (x, y) = (x as f32, y as f32);
        30.0 + 12.0 * (x / 23.0).sin() * (y / 31.0).cos() + 2.0 * (x * 1.7 + y * 0.9).sin()
    }

    pub(crate) fn mesh(hm: &Heightmap, x: u32, y: u32, lod: Lod) -> MeshData {
        chunk_mesh(hm, ChunkId { x, y }, lod, &TerrainShading::default())
    }

    /// Grid vertex `(i, j)` of a chunk mesh at `lod`.
    pub(crate) fn at(lod: Lod, i: u32, j: u32) -> usize {
        (j * lod.grid_side() + i) as usize
    }

    #[test]
    fn counts_vertices_and_indices_per_level() {
        let hm = map(256, 256, hills);
        let expected = [(4485, 26_112), (1221, 6912), (357, 1920), (117, 576)];
        for (lod, (v, i)) in Lod::all().zip(expected) {
            let m = mesh(&hm, 1, 2, lod);
            assert_eq!((m.positions.len(), m.indices.len()), (v, i), "{lod:?}");
        }
        for lod in Lod::all() {
            let m = mesh(&hm, 3, 0, lod);
            assert_eq!(m.validate(), Ok(()));
            assert_eq!(m.positions.len(), lod.vertex_count());
            assert_eq!(m.indices.len(), lod.index_count());
            assert_eq!(m.colors.len(), m.positions.len());
        }
        assert_eq!(mesh(&hm, 3, 3, Lod::COARSEST).positions.len(), 4 + 4 * 2);
    }

    #[test]
    fn flat_ground_faces_straight_up() {
        let hm = map(256, 256, |_, _| 21.0);
        for lod in Lod::all() {
            for (cx, cy) in [(0, 0), (3, 3), (1, 2)] {
                let m = mesh(&hm, cx, cy, lod);
                assert!(m.normals.iter().all(|n| *n == [0.0, 0.0, 1.0]));
                let grid = lod.grid_side().pow(2) as usize;
                assert!(m.positions[..grid].iter().all(|p| p[2] == 21.0));
                // Flat ground needs only the margin.
                assert!(
                    m.positions[grid..]
                        .iter()
                        .all(|p| p[2] == 21.0 - SKIRT_MARGIN)
                );
            }
        }
    }

    #[test]
    fn slopes_tilt_the_normals() {
        // Rising 0.5 m per metre to the east and 0.25 m per metre to the north.
        let hm = map(256, 256, |x, y| 0.5 * x as f32 + 0.25 * y as f32);
        let len = (0.5f32 * 0.5 + 0.25 * 0.25 + 1.0).sqrt();
        let want = [-0.5 / len, -0.25 / len, 1.0 / len];
        for lod in Lod::all() {
            let m = mesh(&hm, 1, 1, lod);
            for (n, p) in m.normals.iter().zip(&m.positions) {
                let unit = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
                assert!((unit - 1.0).abs() < 1e-5);
                for k in 0..3 {
                    assert!((n[k] - want[k]).abs() < 1e-5, "{lod:?} at {p:?}: {n:?}");
                }
            }
        }
        // At the region's east edge the clamped last column is flat: the slope eases off there.
        let m = mesh(&hm, 3, 1, Lod::FINEST);
        let edge = m.normals[at(Lod::FINEST, 63, 10)];
        assert!(edge[0] > want[0] && edge[0] < 0.0, "{edge:?}");
        assert_eq!(m.normals[at(Lod::FINEST, 64, 10)][0], 0.0);
    }

    #[test]
    fn positions_follow_the_heightmap_and_reach_the_region_edge() {
        let hm = map(512, 256, hills);
        let m = mesh(&hm, 7, 3, Lod::FINEST);
        assert_eq!(
            m.positions[at(Lod::FINEST, 0, 0)],
            [448.0, 192.0, hills(448, 192)]
        );
        assert_eq!(
            m.positions[at(Lod::FINEST, 5, 7)],
            [453.0, 199.0, hills(453, 199)]
        );
        // The last row and column repeat the edge samples.
        assert_eq!(
            m.positions[at(Lod::FINEST, 64, 64)],
            [512.0, 256.0, hills(511, 255)]
        );
        assert_eq!(m.positions[at(Lod::FINEST, 64, 3)][2], hills(511, 195));
        let (lo, hi) = m.bounds().unwrap();
        assert_eq!((lo[0], lo[1], hi[0], hi[1]), (448.0, 192.0, 512.0, 256.0));
        let c = mesh(&hm, 2, 1, Lod::new(2).unwrap());
        assert_eq!(
            c.positions[at(Lod::new(2).unwrap(), 1, 2)],
            [132.0, 72.0, hills(132, 72)]
        );
        // The uv carries the band coordinate the colour was blended by.
        let shading = TerrainShading::default();
        let band = shading.band(132, 72, hills(132, 72), (512, 256));
        assert_eq!(c.uvs[at(Lod::new(2).unwrap(), 1, 2)], [band, 0.0]);
        assert_eq!(
            c.colors[at(Lod::new(2).unwrap(), 1, 2)],
            shading.colour_for_band(band)
        );
        // Outside the region: nothing.
        assert_eq!(mesh(&hm, 8, 0, Lod::FINEST), MeshData::default());
        assert_eq!(mesh(&hm, 0, 4, Lod::FINEST), MeshData::default());
    }

    #[test]
    fn neighbours_share_identical_edge_vertices() {
        let hm = map(512, 256, hills);
        for lod in Lod::all() {
            let last = lod.grid_side() - 1;
            for (cx, cy) in [(0, 0), (3, 1), (6, 2)] {
                let here = mesh(&hm, cx, cy, lod);
                let east = mesh(&hm, cx + 1, cy, lod);
                let north = mesh(&hm, cx, cy + 1, lod);
                for k in 0..=last {
                    let pairs = [
                        (at(lod, last, k), &east, at(lod, 0, k)),
                        (at(lod, k, last), &north, at(lod, k, 0)),
                    ];
                    for (a, other, b) in pairs {
                        assert_eq!(here.positions[a], other.positions[b], "{lod:?}");
                        assert_eq!(here.normals[a], other.normals[b], "{lod:?}");
                        assert_eq!(here.colors[a], other.colors[b], "{lod:?}");
                        assert_eq!(here.uvs[a], other.uvs[b], "{lod:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn triangles_face_up_and_skirts_face_out() {
        let hm = map(256, 256, hills);
        for lod in [Lod::FINEST, Lod::new(3).unwrap(), Lod::COARSEST] {
            let m = mesh(&hm, 1, 2, lod);
            let quads = (lod.grid_side() - 1).pow(2) as usize;
            let centre = [96.0f32, 160.0];
            for (t, tri) in m.indices.chunks(3).enumerate() {
                let [a, b, c] = [0, 1, 2].map(|k| m.positions[tri[k] as usize]);
                let (u, v) = (
                    [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
                    [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
                );
                let n = [
                    u[1] * v[2] - u[2] * v[1],
                    u[2] * v[0] - u[0] * v[2],
                    u[0] * v[1] - u[1] * v[0],
                ];
                if t < 2 * quads {
                    assert!(n[2] > 0.0, "{lod:?} surface triangle {t}");
                } else {
                    let out = [a[0] - centre[0], a[1] - centre[1]];
                    assert!(n[0] * out[0] + n[1] * out[1] > 0.0, "{lod:?} skirt {t}");
                    assert_eq!(n[2], 0.0);
                }
            }
        }
    }

    #[test]
    fn colours_follow_the_height_bands() {
        // Deep below the default bands in the west half, far above them in the east half.
        let hm = map(256, 256, |x, _| if x < 128 { -80.0 } else { 400.0 });
        let m = mesh(&hm, 0, 1, Lod::FINEST);
        assert!(m.colors.iter().all(|c| *c == DEFAULT_BAND_COLOURS[0]));
        let m = mesh(&hm, 3, 1, Lod::new(1).unwrap());
        assert!(m.colors.iter().all(|c| *c == DEFAULT_BAND_COLOURS[3]));
        // Mid-range heights blend the middle bands.
        let hm = map(256, 256, |_, _| 40.0);
        let m = mesh(&hm, 1, 1, Lod::FINEST);
        assert!(m.colors.iter().any(|c| *c != m.colors[0]));
    }

    #[test]
    fn chunk_ids_cover_var_regions() {
        assert_eq!(chunks(256, 256).count(), 16);
        let all: Vec<ChunkId> = chunks(512, 256).collect();
        assert_eq!(all.len(), 32);
        assert_eq!(all[0], ChunkId { x: 0, y: 0 });
        assert_eq!(all[8], ChunkId { x: 0, y: 1 });
        assert_eq!(all[31], ChunkId { x: 7, y: 3 });
        assert_eq!(chunks(4096, 4096).count(), 4096);
        assert_eq!(chunk_of_patch(0, 0), ChunkId { x: 0, y: 0 });
        assert_eq!(chunk_of_patch(7, 12), ChunkId { x: 1, y: 3 });
        assert_eq!(ChunkId { x: 7, y: 3 }.origin(), (448, 192));
    }

    #[test]
    fn names_the_chunks_a_patch_touches() {
        let touching = |px, py| -> Vec<(u32, u32)> {
            let mut v: Vec<_> = chunks_touching_patch(512, 256, px, py)
                .map(|c| (c.x, c.y))
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(touching(5, 6), [(1, 1)]);
        assert_eq!(touching(4, 6), [(0, 1), (1, 1)]);
        assert_eq!(touching(7, 7), [(1, 1), (1, 2), (2, 1), (2, 2)]);
        assert_eq!(touching(0, 0), [(0, 0)]);
        assert_eq!(touching(31, 15), [(7, 3)]);
        assert_eq!(touching(31, 12), [(7, 2), (7, 3)]);
        assert!(touching(32, 0).is_empty() && touching(0, 16).is_empty());
    }

    #[test]
    fn a_patch_changes_only_the_chunks_it_touches() {
        let before = map(256, 256, hills);
        for (px, py) in [(4, 4), (7, 11), (9, 6), (0, 15)] {
            let after = map(256, 256, |x, y| {
                let inside = x / 16 == px && y / 16 == py;
                hills(x, y) + if inside { 5.0 + x as f32 * 0.1 } else { 0.0 }
            });
            let listed: Vec<ChunkId> = chunks_touching_patch(256, 256, px, py).collect();
            for c in chunks(256, 256) {
                for lod in [Lod::FINEST, Lod::new(4).unwrap(), Lod::COARSEST] {
                    let changed = mesh(&before, c.x, c.y, lod) != mesh(&after, c.x, c.y, lod);
                    assert!(!changed || listed.contains(&c), "{px},{py}: {c:?} {lod:?}");
                }
            }
            // The patch's own chunk does change.
            let own = chunk_of_patch(px, py);
            assert_ne!(
                mesh(&before, own.x, own.y, Lod::FINEST),
                mesh(&after, own.x, own.y, Lod::FINEST)
            );
        }
    }

    #[test]
    fn meshes_the_corners_of_a_4096_region() {
        // Patches only where the tested chunks are (filling all 65 536 is slow in debug builds).
        let mut hm = Heightmap::new(4096, 4096).unwrap();
        let slope = |x: u32, y: u32| (x + y) as f32 * 0.01;
        for (cx, cy) in [(63, 63), (0, 63), (31, 32)] {
            for py in cy * 4..cy * 4 + 4 {
                for px in cx * 4..cx * 4 + 4 {
                    let heights = core::array::from_fn(|k| {
                        slope(px * 16 + (k % 16) as u32, py * 16 + (k / 16) as u32)
                    });
                    hm.apply(&DecodedPatch {
                        x: px,
                        y: py,
                        heights,
                    })
                    .unwrap();
                }
            }
        }
        for (cx, cy, lod) in [
            (63, 63, Lod::FINEST),
            (0, 63, Lod::COARSEST),
            (31, 32, Lod::new(2).unwrap()),
        ] {
            let m = mesh(&hm, cx, cy, lod);
            assert_eq!(m.validate(), Ok(()));
            let (lo, hi) = m.bounds().unwrap();
            let (x0, y0) = (cx * 64, cy * 64);
            assert_eq!((lo[0], lo[1]), (x0 as f32, y0 as f32));
            assert_eq!((hi[0], hi[1]), (x0 as f32 + 64.0, y0 as f32 + 64.0));
            let north = (y0 + lod.step()).min(4095);
            assert_eq!(m.positions[at(lod, 0, 1)][2], slope(x0, north));
        }
        let far = mesh(&hm, 63, 63, Lod::FINEST);
        assert_eq!(
            far.positions[at(Lod::FINEST, 64, 64)],
            [4096.0, 4096.0, slope(4095, 4095)]
        );
        assert_eq!(mesh(&hm, 64, 0, Lod::FINEST), MeshData::default());
    }

    #[test]
    fn non_finite_heights_mesh_as_zero() {
        let hm = map(
            256,
            256,
            |x, _| if x % 3 == 0 { f32::NAN } else { f32::INFINITY },
        );
        let m = mesh(&hm, 0, 0, Lod::FINEST);
        assert_eq!(m.validate(), Ok(()));
        assert!(
            m.positions
                .iter()
                .all(|p| p[2] == 0.0 || p[2] == -SKIRT_MARGIN)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn smooth_random_terrain_meshes_cleanly(
            base in -50.0f32..200.0,
            waves in prop::collection::vec((0.5f32..40.0, 3.0f32..200.0, 3.0f32..200.0), 1..4),
            chunk in (0u32..4, 0u32..4),
            level in 0u8..=6,
        ) {
            let f = |x: u32, y: u32| {
                let (x, y) = (x as f32, y as f32);
                base + waves.iter().map(|(a, kx, ky)| a * (x / kx).sin() * (y / ky).cos()).sum::<f32>()
            };
            let hm = map(256, 256, f);
            let (lo_h, hi_h) = hm.heights().iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            let lod = Lod::new(level).unwrap();
            let m = mesh(&hm, chunk.0, chunk.1, lod);
            prop_assert_eq!(m.validate(), Ok(()));
            prop_assert!(m.colors.iter().flatten().all(|c| c.is_finite()));
            prop_assert!(m.normals.iter().all(|n| ((n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt() - 1.0).abs() < 1e-4 && n[2] > 0.0));
            let grid = lod.grid_side().pow(2) as usize;
            for p in &m.positions[..grid] {
                prop_assert!(p[2] >= lo_h && p[2] <= hi_h, "{:?} outside {}..{}", p, lo_h, hi_h);
            }
            let depth_bound = 2.0 * (hi_h - lo_h) + SKIRT_MARGIN;
            for p in &m.positions[grid..] {
                prop_assert!(p[2] >= lo_h - depth_bound && p[2] < hi_h);
            }
            let (lo, hi) = m.bounds().unwrap();
            prop_assert!(hi[2] <= hi_h && lo[2] >= lo_h - depth_bound);
        }
    }
}
