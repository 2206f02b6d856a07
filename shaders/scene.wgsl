// The scene's one shader: terrain, water, prims and avatars (`scene::render`).
//
// Instead of a physically based shader it evaluates only what SL content under one sun needs: a
// face's texture (placed by SL's texture transform) times its tint, or the terrain's four detail
// textures blended by height band; the diffuse term of PBR for the sun and the ambient light,
// with the same energy (Lambert, 1/π, the view's exposure); a Blinn-Phong highlight where a
// material asks for one (water); full-bright faces and glow. On a software rasteriser (Mesa's
// lavapipe) this is several times cheaper per pixel than a PBR shader.

#import bevy_render::view::View


// `scene::render::SceneLightingUniform`: the sun (colour × illuminance) and the sky light.
struct SceneLighting {
    direction_to_sun: vec3<f32>,
    sun: vec3<f32>,
    ambient: vec3<f32>,
};

// Must match `scene::material::{FULLBRIGHT, TERRAIN, TEXTURED}`.
const FULLBRIGHT: u32 = 1u;
const TERRAIN: u32 = 2u;
const TEXTURED: u32 = 4u;
const INV_PI: f32 = 0.3183098862;
// Metres per repeat of a terrain detail texture (`overlook_geometry::terrain::UV_METRES`).
const TERRAIN_TILE_METRES: f32 = 16.0;

@group(0) @binding(0) var<uniform> view: View;
@group(0) @binding(1) var<uniform> lighting: SceneLighting;

// The draw's textures: a face uses the first; the terrain its four detail textures, lowest band
// first. Unused slots hold a white texel.
@group(1) @binding(0) var texture0: texture_2d<f32>;
@group(1) @binding(1) var texture1: texture_2d<f32>;
@group(1) @binding(2) var texture2: texture_2d<f32>;
@group(1) @binding(3) var texture3: texture_2d<f32>;
@group(1) @binding(4) var texture_sampler: sampler;

struct Vertex {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) color: vec4<f32>,
    // A face's texture coordinate (SL's: t grows upwards); on terrain, x is the band coordinate.
    @location(3) uv: vec2<f32>,
};

// One drawn mesh, read per instance from a vertex buffer (`scene::render::SceneInstance`; no
// storage buffer, which WebGL2 lacks).
struct Instance {
    // `world_from_local`'s columns.
    @location(4) world_x: vec4<f32>,
    @location(5) world_y: vec4<f32>,
    @location(6) world_z: vec4<f32>,
    @location(7) world_w: vec4<f32>,
    // The material's base colour (linear); multiplied by the vertex colours and the texture.
    @location(8) color: vec4<f32>,
    // Glow (added after lighting) in rgb, the highlight strength in a.
    @location(9) emissive_specular: vec4<f32>,
    // The face texture's transform (SL's repeats, offsets, rotation): s' = uv_s.xyz · (s, t, 1),
    // t' = uv_t.xyz · (s, t, 1).
    @location(10) uv_s: vec4<f32>,
    @location(11) uv_t: vec4<f32>,
    // Inverse transpose of the upper 3×3 of `world_from_local`: normals under non-uniform scale.
    @location(12) normal_x: vec3<f32>,
    @location(13) normal_y: vec3<f32>,
    @location(14) normal_z: vec3<f32>,
    // The flags, and the highlight strength's bits.
    @location(15) flags_specular: vec2<u32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) world_position: vec3<f32>,
    @location(1) world_normal: vec3<f32>,
    @location(2) color: vec4<f32>,
    // Per draw, not interpolated: glow in rgb, highlight strength in a.
    @location(3) @interpolate(flat) emissive_specular: vec4<f32>,
    @location(4) @interpolate(flat) flags: u32,
    // Face: the transformed texture coordinate, as sampled (v flipped: rows run top down).
    // Terrain: the band coordinate in x.
    @location(5) uv: vec2<f32>,
};

@vertex
fn vertex(v: Vertex, instance: Instance) -> VertexOutput {
    let world_from_local = mat4x4<f32>(instance.world_x, instance.world_y, instance.world_z, instance.world_w);
    let normal_from_local = mat3x3<f32>(instance.normal_x, instance.normal_y, instance.normal_z);
    let flags = instance.flags_specular.x;
    let world = world_from_local * vec4<f32>(v.position, 1.0);
    var out: VertexOutput;
    out.clip_position = view.clip_from_world * world;
    out.world_position = world.xyz;
    out.world_normal = normal_from_local * v.normal;
    out.color = v.color * instance.color;
    out.emissive_specular = vec4<f32>(instance.emissive_specular.rgb, bitcast<f32>(instance.flags_specular.y));
    out.flags = flags;
    if (flags & TERRAIN) != 0u {
        out.uv = v.uv;
    } else {
        let st = vec3<f32>(v.uv, 1.0);
        out.uv = vec2<f32>(dot(instance.uv_s.xyz, st), 1.0 - dot(instance.uv_t.xyz, st));
    }
    return out;
}

// Band i's weight at band coordinate t: 1 at t = i, falling to 0 one band away.
fn band_weight(t: f32, i: f32) -> f32 {
    return max(1.0 - abs(t - i), 0.0);
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    // Derivatives in uniform control flow; the samples below take them explicitly.
    let face_dx = dpdx(in.uv);
    let face_dy = dpdy(in.uv);
    // SL x east, y north is Bevy x, −z; texture rows run north to south.
    let tile = vec2<f32>(in.world_position.x, in.world_position.z) / TERRAIN_TILE_METRES;
    let tile_dx = dpdx(tile);
    let tile_dy = dpdy(tile);
    var base = in.color;
    if (in.flags & TERRAIN) != 0u {
        let t = in.uv.x;
        var detail = vec3<f32>(0.0);
        let w0 = band_weight(t, 0.0);
        let w1 = band_weight(t, 1.0);
        let w2 = band_weight(t, 2.0);
        let w3 = band_weight(t, 3.0);
        if w0 > 0.0 {
            detail += w0 * textureSampleGrad(texture0, texture_sampler, tile, tile_dx, tile_dy).rgb;
        }
        if w1 > 0.0 {
            detail += w1 * textureSampleGrad(texture1, texture_sampler, tile, tile_dx, tile_dy).rgb;
        }
        if w2 > 0.0 {
            detail += w2 * textureSampleGrad(texture2, texture_sampler, tile, tile_dx, tile_dy).rgb;
        }
        if w3 > 0.0 {
            detail += w3 * textureSampleGrad(texture3, texture_sampler, tile, tile_dx, tile_dy).rgb;
        }
        base = vec4<f32>(detail / max(w0 + w1 + w2 + w3, 1e-6), 1.0);
    } else if (in.flags & TEXTURED) != 0u {
        base = base * textureSampleGrad(texture0, texture_sampler, in.uv, face_dx, face_dy);
    }
    var rgb: vec3<f32>;
    if (in.flags & FULLBRIGHT) != 0u {
        rgb = base.rgb;
    } else {
        let n = normalize(in.world_normal);
        let diffuse = lighting.ambient
            + lighting.sun * max(dot(n, lighting.direction_to_sun), 0.0) * INV_PI;
        var highlight = vec3<f32>(0.0);
        let specular = in.emissive_specular.a;
        if specular > 0.0 {
            let to_eye = normalize(view.world_position - in.world_position);
            let half_way = normalize(lighting.direction_to_sun + to_eye);
            highlight = lighting.sun * specular * pow(max(dot(n, half_way), 0.0), 128.0) * INV_PI;
        }
        rgb = (base.rgb * diffuse + highlight) * view.exposure;
    }
    // Straight alpha: blended materials use the usual src-alpha blend.
    return vec4<f32>(rgb + in.emissive_specular.rgb, base.a);
}
