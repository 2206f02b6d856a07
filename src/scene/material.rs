//! [`SceneMaterial`]: the one material everything in the scene is drawn with, and
//! [`SceneLighting`], the sun and sky light it is lit by.
//!
//! A physically based shader — hundreds of instructions per pixel for environment maps,
//! clustered lights, shadows and specular lobes — buys little for SL content (diffuse textures
//! under one sun) and costs most of a frame on a software rasteriser. `shaders/scene.wgsl`
//! evaluates what the scene needs: a face's texture ([`SceneTextures::Face`], placed by SL's
//! texture transform, [`te_uv_transform`]) times its tint, or the terrain's four detail textures
//! blended by height band ([`SceneTextures::Terrain`]); a Lambert diffuse term for the sun and
//! the ambient light (the energy of PBR's diffuse term, so the scene keeps its brightness);
//! full-bright faces, glow, and a Blinn-Phong highlight for water. [`super::render`] draws it.
//!
//! A texture is an `Image` asset (sRGB, with mipmaps); until its handle has an image — the
//! texture is still being fetched or decoded, or it failed — the face is drawn untextured in its
//! tint, and the terrain in its flat band colours.

use bevy::prelude::*;

/// `SceneMaterial::flags`: the face is full-bright (not lit). Matches `FULLBRIGHT` in
/// `shaders/scene.wgsl`.
pub const FULLBRIGHT: u32 = 1;
/// Set by the renderer, not by materials: the draw's four detail textures are ready and the
/// terrain is drawn with them (`TERRAIN` in the shader).
pub const TERRAIN: u32 = 2;
/// Set by the renderer, not by materials: the draw's face texture is ready (`TEXTURED` in the
/// shader).
pub const TEXTURED: u32 = 4;

/// What a material samples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SceneTextures {
    /// Nothing: the colour alone.
    #[default]
    None,
    /// One texture, at the mesh's texture coordinates through [`SceneMaterial::uv_transform`].
    Face(Handle<Image>),
    /// The terrain's four detail textures, lowest band first: blended by the band coordinate in
    /// the mesh's `uv.x`, tiled in world space every `UV_METRES` (the terrain chunk mesh).
    Terrain([Handle<Image>; 4]),
}

impl SceneTextures {
    /// The images, four slots (unused ones `None`).
    pub fn slots(&self) -> [Option<AssetId<Image>>; 4] {
        match self {
            SceneTextures::None => [None; 4],
            SceneTextures::Face(h) => [Some(h.id()), None, None, None],
            SceneTextures::Terrain(hs) => hs.each_ref().map(|h| Some(h.id())),
        }
    }
}

/// The identity texture transform: `s' = s`, `t' = t`.
pub const UV_IDENTITY: [[f32; 3]; 2] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];

/// SL's texture transform of a face (TextureEntry repeats, offsets, rotation in radians) as two
/// rows: `s' = row0 · (s, t, 1)`, `t' = row1 · (s, t, 1)`.
///
/// As SL viewers apply it (`LLFace`'s `xform`): about the face's centre, rotate by `rotation`
/// (`s' = s cos + t sin`, `t' = −s sin + t cos`), then scale by the repeats, then add the
/// offset. Non-finite inputs give the identity rather than NaN coordinates.
pub fn te_uv_transform(repeats: (f32, f32), offset: (f32, f32), rotation: f32) -> [[f32; 3]; 2] {
    if ![repeats.0, repeats.1, offset.0, offset.1, rotation]
        .iter()
        .all(|v| v.is_finite())
    {
        return UV_IDENTITY;
    }
    let (sin, cos) = rotation.sin_cos();
    let (ms, mt) = repeats;
    // s' = ms (cos (s − ½) + sin (t − ½)) + os + ½, and t' likewise.
    let a = [ms * cos, ms * sin];
    let b = [-mt * sin, mt * cos];
    [
        [a[0], a[1], offset.0 + 0.5 - 0.5 * (a[0] + a[1])],
        [b[0], b[1], offset.1 + 0.5 - 0.5 * (b[0] + b[1])],
    ]
}

/// A sun-lit material (see the module documentation).
#[derive(Asset, TypePath, Debug, Clone, PartialEq)]
pub struct SceneMaterial {
    /// Base colour (linear, alpha below 1 blends); multiplied by the mesh's vertex colours.
    pub color: LinearRgba,
    /// Added after lighting (glow).
    pub emissive: LinearRgba,
    /// [`FULLBRIGHT`].
    pub flags: u32,
    /// Strength of the sun's highlight (0: none).
    pub specular: f32,
    /// What it samples.
    pub textures: SceneTextures,
    /// A face texture's transform ([`te_uv_transform`]).
    pub uv_transform: [[f32; 3]; 2],
    /// The face texture has transparent pixels: drawn blended.
    pub texture_alpha: bool,
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
            textures: SceneTextures::None,
            uv_transform: UV_IDENTITY,
            texture_alpha: false,
        }
    }

    /// Whether it is drawn blended, after the opaque geometry, without writing depth: its tint
    /// or its texture is translucent.
    pub fn is_blended(&self) -> bool {
        self.color.alpha < 1.0
            || (self.texture_alpha && matches!(self.textures, SceneTextures::Face(_)))
    }

    /// Wears `texture` placed by `uv_transform`.
    #[must_use]
    pub fn textured(mut self, texture: Handle<Image>, uv_transform: [[f32; 3]; 2]) -> Self {
        self.textures = SceneTextures::Face(texture);
        self.uv_transform = uv_transform;
        self
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
    /// An afternoon sun from the south-west, high; a bright sky. At the camera's default
    /// exposure, level ground in the sun shows a texture at about its own colour (as SL's noon
    /// does), a face turned away at about a third.
    fn default() -> Self {
        SceneLighting {
            direction_to_sun: -Vec3::new(0.5, -0.8, -0.35).normalize(),
            sun_color: Color::WHITE,
            sun_illuminance: 3_000.0,
            ambient_color: Color::WHITE,
            ambient_brightness: 350.0,
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
    fn a_translucent_texture_blends_a_face() {
        let mut m = SceneMaterial::lit(Color::WHITE).textured(Handle::default(), UV_IDENTITY);
        assert!(!m.is_blended());
        m.texture_alpha = true;
        assert!(m.is_blended());
        assert_eq!(m.textures.slots()[1], None);
    }

    /// `te_uv_transform` applied to `(s, t)`.
    fn apply(m: [[f32; 3]; 2], s: f32, t: f32) -> (f32, f32) {
        let [a, b] = m;
        (a[0] * s + a[1] * t + a[2], b[0] * s + b[1] * t + b[2])
    }

    fn close(a: (f32, f32), b: (f32, f32)) -> bool {
        (a.0 - b.0).abs() < 1e-6 && (a.1 - b.1).abs() < 1e-6
    }

    #[test]
    fn te_transform_rotates_then_repeats_about_the_centre_then_offsets_like_sl() {
        // Defaults (repeats 1, no offset or rotation): the identity.
        assert_eq!(te_uv_transform((1.0, 1.0), (0.0, 0.0), 0.0), UV_IDENTITY);
        // Two repeats across: the centre stays, the edges go to −½ and 1½.
        let m = te_uv_transform((2.0, 1.0), (0.0, 0.0), 0.0);
        assert!(close(apply(m, 0.5, 0.5), (0.5, 0.5)));
        assert!(close(apply(m, 0.0, 0.0), (-0.5, 0.0)));
        assert!(close(apply(m, 1.0, 1.0), (1.5, 1.0)));
        // An offset shifts after scaling.
        let m = te_uv_transform((1.0, 1.0), (0.25, -0.1), 0.0);
        assert!(close(apply(m, 0.0, 0.0), (0.25, -0.1)));
        // A quarter turn about the centre: SL's s' = s cos + t sin, t' = −s sin + t cos, so the
        // face's right edge (s = 1, t = ½) samples the texture's top edge (t' = 0).
        let m = te_uv_transform((1.0, 1.0), (0.0, 0.0), std::f32::consts::FRAC_PI_2);
        assert!(
            close(apply(m, 1.0, 0.5), (0.5, 0.0)),
            "{:?}",
            apply(m, 1.0, 0.5)
        );
        assert!(close(apply(m, 0.5, 1.0), (1.0, 0.5)));
        // Nonsense on the wire gives the identity, not NaN coordinates.
        assert_eq!(
            te_uv_transform((f32::NAN, 1.0), (0.0, 0.0), 0.0),
            UV_IDENTITY
        );
        assert_eq!(
            te_uv_transform((1.0, 1.0), (0.0, 0.0), f32::INFINITY),
            UV_IDENTITY
        );
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
        assert_eq!(m.clone().fullbright(false).flags, 0);
        assert_eq!(m.glow(0.0).emissive, LinearRgba::rgb(0.0, 0.0, 0.0));
    }

    #[test]
    fn the_shader_declares_what_the_rust_side_sets() {
        let wgsl = include_str!("../../shaders/scene.wgsl");
        assert!(wgsl.contains(&format!("const FULLBRIGHT: u32 = {FULLBRIGHT}u;")));
        assert!(wgsl.contains(&format!("const TERRAIN: u32 = {TERRAIN}u;")));
        assert!(wgsl.contains(&format!("const TEXTURED: u32 = {TEXTURED}u;")));
        for field in [
            "color: vec4<f32>",
            "emissive_specular: vec4<f32>",
            "flags_specular: vec2<u32>",
            "uv_s: vec4<f32>",
            "uv_t: vec4<f32>",
        ] {
            assert!(wgsl.contains(field), "{field}");
        }
    }
}
