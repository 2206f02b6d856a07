// The one fragment shader of the scene: terrain, water, prims and avatars.
//
// Overlook draws flat colours (textures are not fetched), so instead of Bevy's PBR shader it
// evaluates only what those colours need: the diffuse term of PBR for the sun and the ambient
// light, with the same energy (Lambert, 1/π, the view's exposure), so a scene looks as it did
// under `StandardMaterial` less its specular highlights. Optional: a Blinn-Phong highlight
// (water), full-bright faces and glow. On a software rasteriser (Mesa's lavapipe) this is
// several times cheaper per pixel than the PBR shader.

#import bevy_pbr::forward_io::VertexOutput
#import bevy_pbr::mesh_view_bindings::{view, lights}
#import bevy_core_pipeline::tonemapping::tone_mapping

struct SceneMaterial {
    color: vec4<f32>,
    emissive: vec4<f32>,
    flags: u32,
    specular: f32,
};

// Must match `scene::material::FULLBRIGHT`.
const FULLBRIGHT: u32 = 1u;
const INV_PI: f32 = 0.3183098862;

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> material: SceneMaterial;

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    var base = material.color;
#ifdef VERTEX_COLORS
    base = base * in.color;
#endif
    var rgb: vec3<f32>;
    if (material.flags & FULLBRIGHT) != 0u {
        rgb = base.rgb;
    } else {
        let n = normalize(in.world_normal);
        var diffuse = lights.ambient_color.rgb;
        var highlight = vec3<f32>(0.0);
        if lights.n_directional_lights > 0u {
            let sun = lights.directional_lights[0];
            diffuse += sun.color.rgb * max(dot(n, sun.direction_to_light), 0.0) * INV_PI;
            if material.specular > 0.0 {
                let to_eye = normalize(view.world_position - in.world_position.xyz);
                let half_way = normalize(sun.direction_to_light + to_eye);
                highlight = sun.color.rgb * material.specular
                    * pow(max(dot(n, half_way), 0.0), 128.0) * INV_PI;
            }
        }
        rgb = (base.rgb * diffuse + highlight) * view.exposure;
    }
    var out = vec4<f32>(rgb + material.emissive.rgb, base.a);
#ifdef TONEMAP_IN_SHADER
    out = tone_mapping(out, view.color_grading);
#endif
#ifdef BLEND_PREMULTIPLIED_ALPHA
    // Bevy blends `Blend` materials as premultiplied alpha.
    out = vec4<f32>(out.rgb * out.a, out.a);
#endif
    return out;
}
