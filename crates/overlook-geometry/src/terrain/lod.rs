//! Level of detail for terrain chunks: which grid step each chunk gets for a camera position.
//!
//! A chunk at level `L` has a vertex every `2^L` metres (levels 0..=6: steps 1, 2, 4 … 64 m, the
//! last one a single quad per 64 m chunk). The level grows by one each time the distance from the
//! camera to the chunk doubles ([`lod_for_distance`]): full detail within [`LOD0_DISTANCE`],
//! 2 m up to twice that, and so on. Each ring of chunks then holds about the same number of
//! vertices, so a whole plan stays small however large the region: a 4096 m region (16.7 M
//! samples) with the camera at its centre (the worst place) is meshed in 157 k vertices and
//! 10.3 MB ([`PlanStats`]), where full detail everywhere would take 18.4 M vertices and 1.3 GB.
//! [`LOD0_DISTANCE`] is the one knob: doubling it roughly quadruples those figures.
//!
//! Neighbouring chunks of a plan differ by at most one level (their distances differ by at most
//! one chunk side); the skirts of [`super::chunk_mesh`] hide the cracks between them whatever the
//! difference. [`mesh_plan`] meshes a whole plan on every core with `std::thread::scope`.
//!
//! Guarantees: no panics; any camera position (outside the region, NaN) gives a valid plan.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::chunk::{CHUNK_SIZE, ChunkId, chunk_mesh, chunks};
use super::colour::TerrainShading;
use super::{f32_from, to_usize};
use crate::mesh::MeshData;
use overlook_protocol::terrain::Heightmap;

/// Distance from the camera (metres, horizontal) within which chunks get full detail; each
/// doubling of the distance halves the detail.
pub const LOD0_DISTANCE: f32 = 64.0;

/// A level of detail: a vertex every [`Lod::step`] metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Lod(u8);

impl Lod {
    /// One vertex per sample.
    pub const FINEST: Self = Self(0);
    /// One quad per chunk.
    pub const COARSEST: Self = Self(6);

    /// Level `level`, or `None` beyond [`Lod::COARSEST`].
    pub const fn new(level: u8) -> Option<Self> {
        if level <= Self::COARSEST.0 {
            Some(Self(level))
        } else {
            None
        }
    }

    /// Every level, finest first.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..=Self::COARSEST.0).map(Self)
    }

    /// The level number, 0 (finest) to 6.
    pub const fn level(self) -> u8 {
        self.0
    }

    /// Metres (samples) between neighbouring vertices: 1, 2, 4 … 64.
    pub const fn step(self) -> u32 {
        1 << self.0
    }

    /// Grid vertices along a chunk side, both edges included: `64 / step + 1`.
    pub const fn grid_side(self) -> u32 {
        CHUNK_SIZE / self.step() + 1
    }

    /// Vertices of a chunk mesh at this level: the grid and four skirt rows.
    pub fn vertex_count(self) -> usize {
        let side = to_usize(self.grid_side());
        side * side + 4 * side
    }

    /// Indices of a chunk mesh at this level: two triangles per grid quad and per skirt segment.
    pub fn index_count(self) -> usize {
        let quads = to_usize(self.grid_side() - 1);
        6 * quads * quads + 4 * 6 * quads
    }
}

/// The level of detail for a chunk whose nearest point is `distance` metres from the camera:
/// level 0 below [`LOD0_DISTANCE`], one more per doubling, [`Lod::COARSEST`] beyond (and for NaN).
pub fn lod_for_distance(distance: f32) -> Lod {
    let mut limit = LOD0_DISTANCE;
    for lod in Lod::all() {
        if distance < limit {
            return lod;
        }
        limit *= 2.0;
    }
    Lod::COARSEST
}

/// Horizontal distance from `camera` (region metres) to the nearest point of `chunk`; 0 inside.
pub fn chunk_distance(chunk: ChunkId, camera: [f32; 2]) -> f32 {
    let (x0, y0) = chunk.origin();
    let gap = |lo: u32, c: f32| {
        let lo = f32_from(lo);
        let hi = lo + f32_from(CHUNK_SIZE);
        (lo - c).max(c - hi).max(0.0)
    };
    gap(x0, camera[0]).hypot(gap(y0, camera[1]))
}

/// Every chunk of a `size_x` × `size_y` region with its level of detail for a camera at region
/// position `camera` (x, y in metres; it may lie outside the region), south row first.
pub fn plan_lods(size_x: u32, size_y: u32, camera: [f32; 2]) -> Vec<(ChunkId, Lod)> {
    chunks(size_x, size_y)
        .map(|c| (c, lod_for_distance(chunk_distance(c, camera))))
        .collect()
}

/// What a plan costs once meshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanStats {
    /// Chunks in the plan.
    pub chunks: usize,
    /// Vertices of all chunk meshes, skirts included.
    pub vertices: usize,
    /// Indices of all chunk meshes.
    pub indices: usize,
    /// Bytes of vertex attributes and indices ([`PlanStats::VERTEX_BYTES`] per vertex, 4 per
    /// index): one copy, as held on the CPU or uploaded to the GPU.
    pub bytes: usize,
}

impl PlanStats {
    /// Bytes per vertex: position, normal (3 × f32 each), uv (2 × f32), colour (4 × f32).
    pub const VERTEX_BYTES: usize = 48;

    /// The cost of meshing `plan`, from the level counts alone (nothing is meshed).
    pub fn of(plan: &[(ChunkId, Lod)]) -> Self {
        let (vertices, indices) = plan.iter().fold((0, 0), |(v, i), (_, lod)| {
            (v + lod.vertex_count(), i + lod.index_count())
        });
        Self {
            chunks: plan.len(),
            vertices,
            indices,
            bytes: vertices * Self::VERTEX_BYTES + indices * 4,
        }
    }
}

/// Meshes every chunk of `plan`, in plan order, on all available cores (on the calling thread
/// alone on wasm, which cannot spawn threads).
pub fn mesh_plan(
    hm: &Heightmap,
    plan: &[(ChunkId, Lod)],
    shading: &TerrainShading,
) -> Vec<MeshData> {
    let threads = if cfg!(target_family = "wasm") {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(plan.len())
    };
    if threads <= 1 {
        return plan
            .iter()
            .map(|&(c, lod)| chunk_mesh(hm, c, lod, shading))
            .collect();
    }
    // Work stealing by index: the costly full-detail chunks are few and clustered, so a static
    // split would leave one core with most of the work.
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(c, lod)) = plan.get(i) else {
                return done;
            };
            done.push((i, chunk_mesh(hm, c, lod, shading)));
        }
    };
    let mut slots: Vec<Option<MeshData>> = vec![None; plan.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        for done in handles.into_iter().filter_map(|h| h.join().ok()) {
            for (i, mesh) in done {
                if let Some(slot) = slots.get_mut(i) {
                    *slot = Some(mesh);
                }
            }
        }
    });
    slots
        .into_iter()
        .zip(plan)
        .map(|(slot, &(c, lod))| slot.unwrap_or_else(|| chunk_mesh(hm, c, lod, shading)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terrain::chunk::tests::map;
    use std::collections::{HashMap, HashSet};

    /// Memory allowed for the terrain meshes of a whole 4096 m region, one copy: the viewer's
    /// budget is 250 MB in all, of which the heightmap alone takes 64 MB.
    const PLAN_BUDGET: usize = 24 << 20;

    #[test]
    fn levels_double_their_step() {
        let steps: Vec<u32> = Lod::all().map(Lod::step).collect();
        assert_eq!(steps, [1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(Lod::FINEST.grid_side(), 65);
        assert_eq!(Lod::COARSEST.grid_side(), 2);
        assert_eq!(Lod::new(6), Some(Lod::COARSEST));
        assert_eq!(Lod::new(7), None);
        assert_eq!(Lod::new(3).map(Lod::level), Some(3));
    }

    #[test]
    fn detail_halves_as_distance_doubles() {
        let cases = [
            (0.0, 0),
            (-5.0, 0),
            (63.9, 0),
            (64.0, 1),
            (127.0, 1),
            (128.0, 2),
            (300.0, 3),
            (1000.0, 4),
            (2047.0, 5),
            (2048.0, 6),
            (1e9, 6),
            (f32::INFINITY, 6),
            (f32::NAN, 6),
        ];
        for (d, level) in cases {
            assert_eq!(lod_for_distance(d).level(), level, "{d}");
        }
    }

    #[test]
    fn measures_distance_to_the_nearest_point_of_a_chunk() {
        let c = ChunkId { x: 1, y: 2 };
        assert_eq!(chunk_distance(c, [70.0, 150.0]), 0.0);
        assert_eq!(chunk_distance(c, [128.0, 128.0]), 0.0);
        assert_eq!(chunk_distance(c, [10.0, 150.0]), 54.0);
        assert_eq!(chunk_distance(c, [131.0, 196.0]), 5.0);
        assert_eq!(chunk_distance(c, [-100.0, -100.0]), (164.0f32).hypot(228.0));
    }

    #[test]
    fn plans_every_chunk_once_with_detail_near_the_camera() {
        for (sx, sy, camera) in [
            (256, 256, [128.0, 128.0]),
            (512, 256, [500.0, 10.0]),
            (4096, 4096, [2048.0, 2048.0]),
            (4096, 1024, [-300.0, 5000.0]),
        ] {
            let plan = plan_lods(sx, sy, camera);
            let ids: HashSet<ChunkId> = plan.iter().map(|(c, _)| *c).collect();
            assert_eq!(ids.len(), plan.len());
            assert_eq!(ids, chunks(sx, sy).collect());
            let levels: HashMap<ChunkId, Lod> = plan.iter().copied().collect();
            for (c, lod) in &plan {
                assert_eq!(*lod, lod_for_distance(chunk_distance(*c, camera)));
                // Neighbours differ by at most one level.
                for n in [ChunkId { x: c.x + 1, ..*c }, ChunkId { y: c.y + 1, ..*c }] {
                    if let Some(other) = levels.get(&n) {
                        assert!(lod.level().abs_diff(other.level()) <= 1, "{c:?} {n:?}");
                    }
                }
            }
        }
        let plan = plan_lods(4096, 4096, [2048.0, 2048.0]);
        let at = |x, y| plan.iter().find(|(c, _)| *c == ChunkId { x, y }).unwrap().1;
        assert_eq!(at(32, 32), Lod::FINEST);
        assert_eq!(at(31, 31), Lod::FINEST);
        assert_eq!(at(0, 0), Lod::COARSEST);
        assert_eq!(at(63, 32), Lod::new(5).unwrap());
    }

    #[test]
    fn a_4096_region_fits_the_memory_budget_from_anywhere() {
        let full = PlanStats::of(
            &chunks(4096, 4096)
                .map(|c| (c, Lod::FINEST))
                .collect::<Vec<_>>(),
        );
        assert!(full.bytes > 1_000_000_000, "{full:?}");
        let mut worst = PlanStats::default();
        for y in (-512..=4608).step_by(128) {
            for x in (-512..=4608).step_by(128) {
                let stats = PlanStats::of(&plan_lods(4096, 4096, [x as f32, y as f32]));
                assert_eq!(stats.chunks, 4096);
                if stats.bytes > worst.bytes {
                    worst = stats;
                }
            }
        }
        assert!(worst.bytes < PLAN_BUDGET, "{worst:?}");
        let centre = PlanStats::of(&plan_lods(4096, 4096, [2048.0, 2048.0]));
        assert!(centre.vertices < 250_000, "{centre:?}");
    }

    #[test]
    fn meshes_a_plan_in_order_with_the_counts_it_predicts() {
        let hm = map(512, 256, |x, y| {
            (x as f32 * 0.05).sin() * 4.0 + y as f32 * 0.02
        });
        let shading = TerrainShading::default();
        let plan = plan_lods(512, 256, [100.0, 60.0]);
        let meshes = mesh_plan(&hm, &plan, &shading);
        assert_eq!(meshes.len(), plan.len());
        for ((c, lod), m) in plan.iter().zip(&meshes) {
            assert_eq!(*m, chunk_mesh(&hm, *c, *lod, &shading), "{c:?}");
        }
        let stats = PlanStats::of(&plan);
        let vertices: usize = meshes.iter().map(|m| m.positions.len()).sum();
        let indices: usize = meshes.iter().map(|m| m.indices.len()).sum();
        assert_eq!((stats.vertices, stats.indices), (vertices, indices));
        assert_eq!(stats.bytes, vertices * 48 + indices * 4);
        assert!(mesh_plan(&hm, &[], &shading).is_empty());
    }
}
