//! The water plane: one flat sheet at the region's water height (RegionHandshake `WaterHeight`,
//! `shared/PROTOCOL.md` §3.2) over the whole region, whatever its size.
//!
//! The sheet is a grid of [`WATER_TILE`]-metre quads (one quad for a classic 256 m region, 16 × 16
//! for a 4096 m one) rather than one huge quad, so per-vertex work in the viewer (fog, lighting)
//! interpolates over sensible distances. It has no colours: the viewer's water material gives it
//! its look. Texture coordinates are region metres over [`WATER_UV_METRES`].
//!
//! Guarantees: no panics; a non-finite height is drawn at 0 m; a zero-sized region gives an empty
//! mesh.

use super::{f32_from, to_usize};
use crate::mesh::MeshData;

/// Side of one water quad in metres.
pub const WATER_TILE: u32 = 256;

/// Metres per unit of water texture coordinate.
pub const WATER_UV_METRES: f32 = 32.0;

/// The water plane over a `size_x` × `size_y` metre region at `height` metres, facing up.
///
/// Sides that are not multiples of [`WATER_TILE`] end with a narrower row or column of quads, so
/// the plane always spans exactly `0..=size_x` × `0..=size_y`.
pub fn water_mesh(size_x: u32, size_y: u32, height: f32) -> MeshData {
    let z = if height.is_finite() { height } else { 0.0 };
    let xs = stops(size_x);
    let ys = stops(size_y);
    if xs.len() < 2 || ys.len() < 2 {
        return MeshData::default();
    }
    let mut mesh = MeshData::default();
    for &y in &ys {
        for &x in &xs {
            let (fx, fy) = (f32_from(x), f32_from(y));
            mesh.positions.push([fx, fy, z]);
            mesh.normals.push([0.0, 0.0, 1.0]);
            mesh.uvs.push([fx / WATER_UV_METRES, fy / WATER_UV_METRES]);
        }
    }
    let Ok(side) = u32::try_from(xs.len()) else {
        return MeshData::default();
    };
    let rows = u32::try_from(ys.len()).unwrap_or(0);
    for j in 0..rows.saturating_sub(1) {
        for i in 0..side - 1 {
            let sw = j * side + i;
            let (se, nw) = (sw + 1, sw + side);
            mesh.indices.extend([sw, se, nw + 1, sw, nw + 1, nw]);
        }
    }
    mesh
}

/// Vertex positions along one side: every [`WATER_TILE`] metres from 0, then `size`.
fn stops(size: u32) -> Vec<u32> {
    if size == 0 {
        return Vec::new();
    }
    let mut out: Vec<u32> = (0..size).step_by(to_usize(WATER_TILE)).collect();
    out.push(size);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_a_classic_region_with_one_quad() {
        let m = water_mesh(256, 256, 20.0);
        assert_eq!(m.validate(), Ok(()));
        assert_eq!((m.positions.len(), m.triangle_count()), (4, 2));
        assert_eq!(m.bounds(), Some(([0.0, 0.0, 20.0], [256.0, 256.0, 20.0])));
        assert!(m.colors.is_empty());
    }

    #[test]
    fn covers_var_regions_exactly() {
        for (x, y, quads) in [(512, 256, 2), (4096, 4096, 256), (768, 1024, 12)] {
            let m = water_mesh(x, y, 21.5);
            assert_eq!(m.validate(), Ok(()));
            assert_eq!(m.triangle_count(), 2 * quads, "{x}x{y}");
            let max = [x as f32, y as f32, 21.5];
            assert_eq!(m.bounds(), Some(([0.0, 0.0, 21.5], max)));
        }
    }

    #[test]
    fn a_partial_tile_still_reaches_the_edge() {
        let m = water_mesh(300, 100, 0.0);
        assert_eq!(m.validate(), Ok(()));
        assert_eq!(m.triangle_count(), 4);
        assert_eq!(m.bounds(), Some(([0.0, 0.0, 0.0], [300.0, 100.0, 0.0])));
    }

    #[test]
    fn faces_up_and_winds_counter_clockwise() {
        let m = water_mesh(512, 512, 5.0);
        assert!(m.normals.iter().all(|n| *n == [0.0, 0.0, 1.0]));
        for t in m.indices.chunks(3) {
            let [a, b, c] = [0, 1, 2].map(|k| m.positions[t[k] as usize]);
            let cross_z = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
            assert!(cross_z > 0.0, "{t:?}");
        }
        // UVs are region metres over WATER_UV_METRES.
        let far = m
            .positions
            .iter()
            .position(|p| p[0] == 512.0 && p[1] == 512.0);
        assert_eq!(m.uvs[far.unwrap()], [16.0, 16.0]);
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(water_mesh(0, 256, 20.0), MeshData::default());
        assert_eq!(water_mesh(256, 0, 20.0), MeshData::default());
        let m = water_mesh(256, 256, f32::NAN);
        assert_eq!(m.validate(), Ok(()));
        assert!(m.positions.iter().all(|p| p[2] == 0.0));
    }
}
