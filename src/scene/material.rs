//! [`SceneMaterial`]: the one material everything in the scene is drawn with.
//!
//! Overlook draws flat colours (it fetches no textures), so Bevy's PBR shader — hundreds of
//! instructions per pixel for environment maps, clustered lights, shadows and specular lobes —
//! buys little here and costs most of a frame on a software rasteriser. `shaders/scene.wgsl`
//! evaluates what the colours need: PBR's diffuse term for the sun and the ambient light (the
//! same energy, so the scene keeps its brightness), full-bright faces, glow, and a Blinn-Phong
//! highlight for water. No prepass and no shadow pipelines are built for it.

use bevy::asset::uuid_handle;
use bevy::pbr::{Material, MaterialPlugin};
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, ShaderType};
use bevy::shader::ShaderRef;

/// The shader, embedded in the binary.
pub const SCENE_SHADER: Handle<Shader> = uuid_handle!("6a1f2c57-0d8e-4f4b-9a53-3f0e7c2b91d4");

/// `SceneMaterialParams::flags`: the face is full-bright (not lit). Matches `FULLBRIGHT` in
/// `shaders/scene.wgsl`.
pub const FULLBRIGHT: u32 = 1;

/// The material's uniform, as the shader reads it.
#[derive(ShaderType, Debug, Clone, Copy, PartialEq)]
pub struct SceneMaterialParams {
    /// Base colour (linear, alpha below 1 blends); multiplied by the mesh's vertex colours.
    pub color: LinearRgba,
    /// Added after lighting (glow).
    pub emissive: LinearRgba,
    /// [`FULLBRIGHT`].
    pub flags: u32,
    /// Strength of the sun's highlight (0: none).
    pub specular: f32,
}

/// A flat-coloured, sun-lit material (see the module documentation).
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone, PartialEq)]
pub struct SceneMaterial {
    /// The uniform.
    #[uniform(0)]
    pub params: SceneMaterialParams,
    /// Opaque unless the colour's alpha is below 1.
    pub alpha_mode: AlphaMode,
}

impl SceneMaterial {
    /// Lit by the sun and the ambient light; blended when `color`'s alpha is below 1.
    pub fn lit(color: Color) -> Self {
        let alpha = color.alpha();
        SceneMaterial {
            params: SceneMaterialParams {
                color: color.into(),
                emissive: LinearRgba::NONE,
                flags: 0,
                specular: 0.0,
            },
            alpha_mode: if alpha < 1.0 {
                AlphaMode::Blend
            } else {
                AlphaMode::Opaque
            },
        }
    }

    /// Drawn at its own colour, unlit (SL's full-bright).
    #[must_use]
    pub fn fullbright(mut self, fullbright: bool) -> Self {
        if fullbright {
            self.params.flags |= FULLBRIGHT;
        } else {
            self.params.flags &= !FULLBRIGHT;
        }
        self
    }

    /// Adds `amount` (0–1) of the base colour as light of its own (SL's glow).
    #[must_use]
    pub fn glow(mut self, amount: f32) -> Self {
        let c = self.params.color;
        let k = amount.clamp(0.0, 1.0);
        self.params.emissive = LinearRgba::rgb(c.red * k, c.green * k, c.blue * k);
        self
    }

    /// A highlight of the sun of this strength (water).
    #[must_use]
    pub fn specular(mut self, strength: f32) -> Self {
        self.params.specular = strength.max(0.0);
        self
    }
}

impl Material for SceneMaterial {
    fn fragment_shader() -> ShaderRef {
        SCENE_SHADER.into()
    }

    fn alpha_mode(&self) -> AlphaMode {
        self.alpha_mode
    }

    fn enable_prepass() -> bool {
        false
    }

    fn enable_shadows() -> bool {
        false
    }
}

/// Registers [`SceneMaterial`] and its shader; without a renderer (plugin tests) only the asset.
#[derive(Debug, Default)]
pub struct SceneMaterialPlugin;

impl Plugin for SceneMaterialPlugin {
    fn build(&self, app: &mut App) {
        if app.is_plugin_added::<bevy::render::RenderPlugin>() {
            let shader = Shader::from_wgsl(
                include_str!("../../shaders/scene.wgsl"),
                "overlook/shaders/scene.wgsl",
            );
            app.world_mut()
                .resource_mut::<Assets<Shader>>()
                .insert(SCENE_SHADER.id(), shader)
                .expect("a uuid handle's slot is always free");
            app.add_plugins(MaterialPlugin::<SceneMaterial>::default());
        } else {
            app.init_asset::<SceneMaterial>();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_below_one_blends() {
        assert_eq!(
            SceneMaterial::lit(Color::WHITE).alpha_mode,
            AlphaMode::Opaque
        );
        assert_eq!(
            SceneMaterial::lit(Color::srgba(0.1, 0.3, 0.4, 0.78)).alpha_mode,
            AlphaMode::Blend
        );
    }

    #[test]
    fn flags_and_glow() {
        let m = SceneMaterial::lit(Color::srgb(1.0, 0.5, 0.0))
            .fullbright(true)
            .glow(0.5);
        assert_eq!(m.params.flags, FULLBRIGHT);
        let linear = LinearRgba::from(Color::srgb(1.0, 0.5, 0.0));
        assert_eq!(
            m.params.emissive,
            LinearRgba::rgb(0.5 * linear.red, 0.5 * linear.green, 0.0)
        );
        assert_eq!(m.clone().fullbright(false).params.flags, 0);
        assert_eq!(m.glow(0.0).params.emissive, LinearRgba::rgb(0.0, 0.0, 0.0));
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
