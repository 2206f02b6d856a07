//! [`SceneMaterial`]: the one material everything in the scene is drawn with, and
//! [`SceneLighting`], the sun and sky light it is lit by.
//!
//! Overlook draws flat colours (it fetches no textures), so a physically based shader —
//! hundreds of instructions per pixel for environment maps, clustered lights, shadows and
//! specular lobes — buys little here and costs most of a frame on a software rasteriser.
//! `shaders/scene.wgsl` evaluates what the colours need: a Lambert diffuse term for the sun and
//! the ambient light (the energy of PBR's diffuse term, so the scene keeps its brightness),
//! full-bright faces, glow, and a Blinn-Phong highlight for water. [`super::render`] draws it.

use bevy::prelude::*;

/// `SceneMaterial::flags`: the face is full-bright (not lit). Matches `FULLBRIGHT` in
/// `shaders/scene.wgsl`.
pub const FULLBRIGHT: u32 = 1;

/// A flat-coloured, sun-lit material (see the module documentation).
#[derive(Asset, TypePath, Debug, Clone, Copy, PartialEq)]
pub struct SceneMaterial {
    /// Base colour (linear, alpha below 1 blends); multiplied by the mesh's vertex colours.
    pub color: LinearRgba,
    /// Added after lighting (glow).
    pub emissive: LinearRgba,
    /// [`FULLBRIGHT`].
    pub flags: u32,
    /// Strength of the sun's highlight (0: none).
    pub specular: f32,
}

/// The material an entity with a [`Mesh3d`] is drawn with.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct SceneMaterial3d(pub Handle<SceneMaterial>);

impl SceneMaterial {
    /// Lit by the sun and the ambient light; blended when `color`'s alpha is below 1.
    pub fn lit(color: Color) -> Self {
        SceneMaterial {
            color: color.into(),
            emissive: LinearRgba::NONE,
            flags: 0,
            specular: 0.0,
        }
    }

    /// Whether it is drawn blended, after the opaque geometry, without writing depth.
    pub fn is_blended(&self) -> bool {
        self.color.alpha < 1.0
    }

    /// Drawn at its own colour, unlit (SL's full-bright).
    #[must_use]
    pub fn fullbright(mut self, fullbright: bool) -> Self {
        if fullbright {
            self.flags |= FULLBRIGHT;
        } else {
            self.flags &= !FULLBRIGHT;
        }
        self
    }

    /// Adds `amount` (0–1) of the base colour as light of its own (SL's glow).
    #[must_use]
    pub fn glow(mut self, amount: f32) -> Self {
        let c = self.color;
        let k = amount.clamp(0.0, 1.0);
        self.emissive = LinearRgba::rgb(c.red * k, c.green * k, c.blue * k);
        self
    }

    /// A highlight of the sun of this strength (water).
    #[must_use]
    pub fn specular(mut self, strength: f32) -> Self {
        self.specular = strength.max(0.0);
        self
    }
}

/// The scene's light: one sun and a uniform sky light, in photometric units (lux for the sun;
/// the camera's exposure scales both, as a physical camera's would).
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct SceneLighting {
    /// Unit vector from the scene towards the sun, in Bevy's axes.
    pub direction_to_sun: Vec3,
    /// The sun's colour.
    pub sun_color: Color,
    /// The sun's illuminance (lux).
    pub sun_illuminance: f32,
    /// The sky light's colour.
    pub ambient_color: Color,
    /// The sky light's strength (Bevy's ambient brightness units).
    pub ambient_brightness: f32,
}

impl Default for SceneLighting {
    /// An afternoon sun from the south-west, high; a bright sky.
    fn default() -> Self {
        SceneLighting {
            direction_to_sun: -Vec3::new(0.5, -0.8, -0.35).normalize(),
            sun_color: Color::WHITE,
            sun_illuminance: 12_000.0,
            ambient_color: Color::WHITE,
            ambient_brightness: 600.0,
        }
    }
}

/// Registers [`SceneMaterial`] and [`SceneLighting`], and, where there is a renderer, the
/// scene's render plugin; without one (plugin tests) only the asset and the resource.
#[derive(Debug, Default)]
pub struct SceneMaterialPlugin;

impl Plugin for SceneMaterialPlugin {
    fn build(&self, app: &mut App) {
        app.init_asset::<SceneMaterial>()
            .init_resource::<SceneLighting>();
        if app.is_plugin_added::<bevy::render::RenderPlugin>() {
            app.add_plugins(super::render::SceneRenderPlugin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_below_one_blends() {
        assert!(!SceneMaterial::lit(Color::WHITE).is_blended());
        assert!(SceneMaterial::lit(Color::srgba(0.1, 0.3, 0.4, 0.78)).is_blended());
    }

    #[test]
    fn flags_and_glow() {
        let m = SceneMaterial::lit(Color::srgb(1.0, 0.5, 0.0))
            .fullbright(true)
            .glow(0.5);
        assert_eq!(m.flags, FULLBRIGHT);
        let linear = LinearRgba::from(Color::srgb(1.0, 0.5, 0.0));
        assert_eq!(
            m.emissive,
            LinearRgba::rgb(0.5 * linear.red, 0.5 * linear.green, 0.0)
        );
        assert_eq!(m.fullbright(false).flags, 0);
        assert_eq!(m.glow(0.0).emissive, LinearRgba::rgb(0.0, 0.0, 0.0));
    }

    #[test]
    fn the_shader_declares_what_the_rust_side_sets() {
        let wgsl = include_str!("../../shaders/scene.wgsl");
        assert!(wgsl.contains(&format!("const FULLBRIGHT: u32 = {FULLBRIGHT}u;")));
        for field in [
            "color: vec4<f32>",
            "emissive: vec4<f32>",
            "flags: u32",
            "specular: f32",
        ] {
            assert!(wgsl.contains(field), "{field}");
        }
    }
}
