//! Terrain geometry: heightmap chunks to meshes, height-band colouring and the water plane.
//!
//! Pure functions over [`crate::protocol::terrain::Heightmap`]; the viewer's terrain plugin
//! (feature `viewer`) only uploads what they return. Coordinates are SL's, region-local: x east,
//! y north, z up, metres.
//!
//! - [`colour`]: vertex colours from the four height bands of `shared/PROTOCOL.md` §10
//!   ([`TerrainShading`]), with a small deterministic gradient noise ([`noise`]) for the band
//!   edges.
//!
//! Guarantees: nothing here panics (the lints below are denied outside tests).

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::as_conversions,
        clippy::panic
    )
)]

pub mod colour;
pub mod noise;

pub use colour::{DEFAULT_BAND_COLOURS, TerrainShading};

/// `u32 → f32` without `as`: exact up to 2²⁴ (every coordinate and count meshed here is far
/// smaller), rounded to nearest above.
fn f32_from(v: u32) -> f32 {
    let hi = u16::try_from(v >> 16).unwrap_or(u16::MAX);
    let lo = u16::try_from(v & 0xFFFF).unwrap_or(u16::MAX);
    f32::from(hi) * 65_536.0 + f32::from(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_u32_to_f32_exactly_for_coordinates() {
        for v in [0u32, 1, 255, 256, 4096, 65_535, 65_536, 70_001, 1 << 24] {
            assert_eq!(f32_from(v), v as f32, "{v}");
        }
    }
}
