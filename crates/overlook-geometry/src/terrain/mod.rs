//! Terrain geometry: heightmap chunks to meshes, height-band colouring and the water plane.
//!
//! Pure functions over [`overlook_protocol::terrain::Heightmap`]; the viewer's terrain plugin
//! (in the `overlook` app) only uploads what they return. Coordinates are SL's, region-local: x east,
//! y north, z up, metres.
//!
//! - [`chunk`]: the region cut into square [`CHUNK_SIZE`] chunks of 4 × 4 patches, so a patch
//!   that arrives rebuilds only the chunks that read it ([`chunks_touching_patch`]);
//!   [`chunk_mesh`] meshes one chunk, seamless with its neighbours at the same [`Lod`].
//! - [`skirt`]: the skirts hanging from every chunk edge that hide the cracks between
//!   neighbours at different levels of detail.
//! - [`lod`]: distance-based level of detail ([`lod_for_distance`]), the plan for a whole region
//!   ([`plan_lods`]), its memory ([`PlanStats`]) and [`mesh_plan`], which meshes a plan on all
//!   cores.
//! - [`colour`]: vertex colours from the four height bands of `shared/PROTOCOL.md` §10
//!   ([`TerrainShading`]), with a small deterministic gradient noise ([`noise`]) for the band
//!   edges.
//! - [`water`]: the flat water plane over the region.
//!
//! The mesh covers the region from 0 to its full size (256 m for a classic region): a region of
//! 256 × 256 samples has vertices at 0..=256, the last row and column repeating the edge samples
//! (clamping), so neighbouring regions' meshes meet at the region border without a strip of
//! nothing between them.
//!
//! Guarantees: nothing here panics (the lints below are denied outside tests); non-finite heights
//! are meshed as 0 m, so every mesh passes [`crate::mesh::MeshData::validate`].

pub mod chunk;
pub mod colour;
pub mod lod;
pub mod noise;
pub mod skirt;
pub mod water;

pub use chunk::{
    CHUNK_SIZE, ChunkId, UV_METRES, chunk_mesh, chunk_of_patch, chunks, chunks_touching_patch,
};
pub use colour::{DEFAULT_BAND_COLOURS, TerrainShading};
pub use lod::{
    LOD0_DISTANCE, Lod, PlanStats, chunk_distance, lod_for_distance, mesh_plan, plan_lods,
};
pub use skirt::{SKIRT_MARGIN, skirt_depths};
pub use water::{WATER_TILE, WATER_UV_METRES, water_mesh};

/// `u32 → f32` without `as`: exact up to 2²⁴ (every coordinate and count meshed here is far
/// smaller), rounded to nearest above.
fn f32_from(v: u32) -> f32 {
    let hi = u16::try_from(v >> 16).unwrap_or(u16::MAX);
    let lo = u16::try_from(v & 0xFFFF).unwrap_or(u16::MAX);
    f32::from(hi) * 65_536.0 + f32::from(lo)
}

/// `u32 → usize`: lossless where `usize` has at least 32 bits; saturates otherwise.
fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_u32_to_f32_exactly_for_coordinates() {
        for v in [0u32, 1, 255, 256, 4096, 65_535, 65_536, 70_001, 1 << 24] {
            assert_eq!(f32_from(v), v as f32, "{v}");
        }
        assert_eq!(to_usize(4096), 4096);
    }
}
