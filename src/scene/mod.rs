//! The region as a scene: [`RegionPlugin`] applies `RegionHandshake` and the login reply to the
//! [`RegionInfo`] resource, and this module converts SL coordinates to Bevy's.
//!
//! SL is right-handed with x east, y north, z up; Bevy is right-handed with y up. The mapping
//! `(x, y, z)_SL → (x, z, −y)_Bevy` is a rotation, so triangle winding survives it.

pub mod material;
pub mod mesh;
mod region;
pub mod render;

pub use material::{SceneLighting, SceneMaterial, SceneMaterial3d, SceneMaterialPlugin};
pub use region::{
    RegionInfo, RegionPlugin, RegionSystems, SceneCounts, WATER_HEIGHTS, impossible_agent_place,
};

use overlook_protocol::types::{Quat, Vec3};

/// An SL position or direction in Bevy's axes: `(x, z, −y)`.
pub fn sl_to_bevy(v: Vec3) -> [f32; 3] {
    [v.x, v.z, -v.y]
}

/// An SL `[x, y, z]` array in Bevy's axes.
pub fn sl_array_to_bevy([x, y, z]: [f32; 3]) -> [f32; 3] {
    [x, z, -y]
}

/// An SL rotation in Bevy's axes, as `[x, y, z, w]`: the same rotation, its axis mapped like a
/// position.
pub fn sl_quat_to_bevy(q: Quat) -> [f32; 4] {
    [q.x, q.z, -q.y, q.w]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_sl_axes_to_bevy_axes() {
        // East stays +x, north goes to −z (into the screen), up goes to +y.
        assert_eq!(sl_to_bevy(Vec3::new(1.0, 0.0, 0.0)), [1.0, 0.0, 0.0]);
        assert_eq!(sl_to_bevy(Vec3::new(0.0, 1.0, 0.0)), [0.0, 0.0, -1.0]);
        assert_eq!(sl_to_bevy(Vec3::new(0.0, 0.0, 1.0)), [0.0, 1.0, 0.0]);
        // The mapping is a rotation: east × north = up in both frames.
        let [ex, ey, ez] = sl_array_to_bevy([1.0, 0.0, 0.0]);
        let [nx, ny, nz] = sl_array_to_bevy([0.0, 1.0, 0.0]);
        let cross = [ey * nz - ez * ny, ez * nx - ex * nz, ex * ny - ey * nx];
        assert_eq!(cross, sl_array_to_bevy([0.0, 0.0, 1.0]));
    }

    #[test]
    fn maps_a_yaw_about_up_to_a_yaw_about_bevy_y() {
        // 90° about SL z (up) is 90° about Bevy y.
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert_eq!(
            sl_quat_to_bevy(Quat {
                x: 0.0,
                y: 0.0,
                z: h,
                w: h
            }),
            [0.0, h, -0.0, h]
        );
    }
}
