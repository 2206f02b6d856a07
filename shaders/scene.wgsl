// The scene's one shader: terrain, water, prims and avatars (`scene::render`).
//
// Overlook draws flat colours (textures are not fetched), so instead of a physically based
// shader it evaluates only what those colours need: the diffuse term of PBR for the sun and the
// ambient light, with the same energy (Lambert, 1/π, the view's exposure), a Blinn-Phong
// highlight where a material asks for one (water), full-bright faces and glow. On a software
// rasteriser (Mesa's lavapipe) this is several times cheaper per pixel than a PBR shader.

#import bevy_render::view::View

// One drawn mesh: `scene::render::SceneInstance`.
struct SceneInstance {
    world_from_local: mat4x4<f32>,
    // Inverse transpose of the upper 3×3 of `world_from_local`: normals under non-uniform scale.
    normal_from_local: mat3x3<f32>,
    // The material's base colour (linear); multiplied by the vertex colours.
    color: vec4<f32>,
    // Added after lighting (glow).
    emissive: vec4<f32>,
    flags: u32,
    specular: f32,
};

// `scene::render::SceneLightingUniform`: the sun (colour × illuminance) and the sky light.
struct SceneLighting {
    direction_to_sun: vec3<f32>,
    sun: vec3<f32>,
    ambient: vec3<f32>,
};

// Must match `scene::material::FULLBRIGHT`.
const FULLBRIGHT: u32 = 1u;
const INV_PI: f32 = 0.3183098862;

@group(0) @binding(0) var<uniform> view: View;
@group(0) @binding(1) var<uniform> lighting: SceneLighting;
@group(0) @binding(2) var<storage, read> instances: array<SceneInstance>;

struct Vertex {
    // The draw's first instance is its index in `instances`.
    @builtin(instance_index) instance: u32,
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) color: vec4<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) world_position: vec3<f32>,
    @location(1) world_normal: vec3<f32>,
    @location(2) color: vec4<f32>,
    // Per draw, not interpolated: glow in rgb, highlight strength in a.
    @location(3) @interpolate(flat) emissive_specular: vec4<f32>,
    @location(4) @interpolate(flat) flags: u32,
};

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    let instance = instances[v.instance];
    let world = instance.world_from_local * vec4<f32>(v.position, 1.0);
    var out: VertexOutput;
    out.clip_position = view.clip_from_world * world;
    out.world_position = world.xyz;
    out.world_normal = instance.normal_from_local * v.normal;
    out.color = v.color * instance.color;
    out.emissive_specular = vec4<f32>(instance.emissive.rgb, instance.specular);
    out.flags = instance.flags;
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let base = in.color;
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
