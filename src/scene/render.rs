//! [`SceneRenderPlugin`]: draws every [`Mesh3d`] that has a [`SceneMaterial3d`], on `bevy_render`
//! and `bevy_core_pipeline` alone.
//!
//! Bevy's PBR renderer (`bevy_pbr`) builds and keeps, whether a scene uses them or not, about
//! 35 pipelines — shadows, clustered lights, environment maps, atmosphere, SSAO, occlusion
//! culling — plus its view bindings and GPU-culling buffers. On a software renderer each
//! pipeline is an LLVM compile whose state stays resident, and the whole of it was ~55 MB of
//! the viewer's memory for a scene that is flat colours under one sun (BENCHMARKS.md). This
//! plugin is what the scene needs and nothing else:
//!
//! - **Extract:** for each active 3D camera, the meshes its frustum culling kept
//!   ([`VisibleEntities`]) become [`SceneInstance`]s (transform, normal matrix, material) in one
//!   [`SceneFrame`], rebuilt every frame, and [`SceneDraw`]s: opaque meshes that share a mesh and
//!   textures — prims share one mesh per distinct shape, faces one upload per texture — are one
//!   instanced draw ([`plan_batches`]).
//! - **Prepare:** the instances go to one vertex buffer (stepped per instance: no storage
//!   buffer, so the same pipeline runs on WebGL2, which has none), the lighting to one uniform,
//!   and one bind group holds it with the view uniform. Each distinct set of textures drawn gets a
//!   second bind group (kept while drawn, keyed by the texture views, so a texture that arrives
//!   or changes gets a new one); a slot whose image is not there yet holds a white texel.
//! - **Queue:** every draw is a [`Transparent3d`] item of its view: the opaque ones first,
//!   nearest first (the depth test then rejects hidden pixels before they are shaded), and the
//!   blended ones after them, farthest first ([`sorting_info`]).
//! - **Draw:** one `draw_indexed` per draw out of Bevy's mesh allocator, with the instance
//!   buffer bound at its members' run of [`SceneInstance`]s (an offset, not a first instance:
//!   WebGL2 has no base instance).
//!
//! Two pipelines per camera format: opaque (writes depth) and blended (does not).

use std::any::TypeId;
use std::ops::Range;

use bevy::asset::uuid_handle;
use bevy::camera::visibility::VisibleEntities;
use bevy::core_pipeline::core_3d::{CORE_3D_DEPTH_FORMAT, Transparent3d, TransparentSortingInfo3d};
use bevy::ecs::query::ROQueryItem;
use bevy::ecs::system::SystemParamItem;
use bevy::ecs::system::lifetimeless::SRes;
use bevy::math::{Affine3A, Mat3};
use bevy::mesh::{Mesh, MeshVertexBufferLayoutRef, PrimitiveTopology, VertexBufferLayout};
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use bevy::render::mesh::allocator::MeshAllocator;
use bevy::render::mesh::{RenderMesh, RenderMeshBufferInfo};
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_phase::{
    AddRenderCommand, DrawFunctions, PhaseItem, PhaseItemExtraIndex, RenderCommand,
    RenderCommandResult, SetItemPipeline, TrackedRenderPass, ViewSortedRenderPhases,
};
use bevy::render::render_resource::binding_types::{sampler, texture_2d, uniform_buffer};
use bevy::render::render_resource::*;
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::sync_world::{MainEntity, RenderEntity};
use bevy::render::texture::GpuImage;
use bevy::render::view::{ExtractedView, Msaa, ViewUniform, ViewUniformOffset, ViewUniforms};
use bevy::render::{Extract, ExtractSchedule, Render, RenderApp, RenderStartup, RenderSystems};

use super::material::{
    SceneLighting, SceneMaterial, SceneMaterial3d, SceneTextures, TERRAIN, TEXTURED,
};

/// The shader, embedded in the binary.
pub const SCENE_SHADER: Handle<Shader> = uuid_handle!("6a1f2c57-0d8e-4f4b-9a53-3f0e7c2b91d4");

/// Added to the sort key of every opaque draw so that all of them sort before every blended
/// one (whose keys are view-space depths, a few kilometres at most).
pub const OPAQUE_FIRST: f32 = 1.0e6;

/// Draws the scene's meshes (see the module documentation).
#[derive(Debug, Default)]
pub struct SceneRenderPlugin;

impl Plugin for SceneRenderPlugin {
    fn build(&self, app: &mut App) {
        let shader = Shader::from_wgsl(
            include_str!("../../shaders/scene.wgsl"),
            "overlook/shaders/scene.wgsl",
        );
        app.world_mut()
            .resource_mut::<Assets<Shader>>()
            .insert(SCENE_SHADER.id(), shader)
            .expect("a uuid handle's slot is always free");
        let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
            return;
        };
        render_app
            .init_resource::<SceneFrame>()
            .init_resource::<SpecializedMeshPipelines<ScenePipeline>>()
            .add_render_command::<Transparent3d, DrawScene>()
            .add_systems(RenderStartup, init_scene_pipeline)
            .add_systems(ExtractSchedule, extract_scene)
            .add_systems(
                Render,
                (
                    queue_scene.in_set(RenderSystems::Queue),
                    prepare_scene_buffers.in_set(RenderSystems::PrepareResources),
                    prepare_scene_bind_group.in_set(RenderSystems::PrepareBindGroups),
                ),
            );
    }
}

/// One drawn mesh as the shader reads it: per-instance vertex attributes 4 to 15 of
/// `shaders/scene.wgsl` ([`SceneInstance::LAYOUT`]), byte for byte.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SceneInstance {
    /// Local to world.
    pub world_from_local: Mat4,
    /// The material's base colour (linear).
    pub color: Vec4,
    /// The material's glow (linear).
    pub emissive: Vec4,
    /// The first row of the face texture's transform (`w` unused).
    pub uv_s: Vec4,
    /// The second row of the face texture's transform (`w` unused).
    pub uv_t: Vec4,
    /// The inverse transpose of `world_from_local`'s 3×3 part: normals under non-uniform scale.
    pub normal_from_local: Mat3,
    /// The material's flags ([`super::material::FULLBRIGHT`]), with [`TERRAIN`] or [`TEXTURED`]
    /// where the textures are ready.
    pub flags: u32,
    /// The material's highlight strength.
    pub specular: f32,
    /// Zero: the size a multiple of the matrices' alignment, with no padding byte undefined.
    pub padding: u32,
}

impl SceneInstance {
    /// Bytes per instance in the instance buffer.
    pub const SIZE: u64 = std::mem::size_of::<SceneInstance>() as u64;

    /// The instance buffer's layout: the matrix's columns at locations 4–7, colour, glow and
    /// the two texture-transform rows at 8–11, the normal matrix's columns at 12–14, and the
    /// flags with the highlight strength's bits at 15. With the mesh's four attributes that is
    /// 16, WebGL2's limit.
    pub const LAYOUT: [VertexAttribute; 12] = [
        instance_attribute(VertexFormat::Float32x4, 0, 4),
        instance_attribute(VertexFormat::Float32x4, 16, 5),
        instance_attribute(VertexFormat::Float32x4, 32, 6),
        instance_attribute(VertexFormat::Float32x4, 48, 7),
        instance_attribute(VertexFormat::Float32x4, 64, 8),
        instance_attribute(VertexFormat::Float32x4, 80, 9),
        instance_attribute(VertexFormat::Float32x4, 96, 10),
        instance_attribute(VertexFormat::Float32x4, 112, 11),
        instance_attribute(VertexFormat::Float32x3, 128, 12),
        instance_attribute(VertexFormat::Float32x3, 140, 13),
        instance_attribute(VertexFormat::Float32x3, 152, 14),
        instance_attribute(VertexFormat::Uint32x2, 164, 15),
    ];

    /// The instance of a mesh placed by `transform` with `material`; `None` when the transform
    /// is degenerate (a zero scale: nothing to draw, and no normal matrix). `textures_ready`:
    /// the material's textures have images, so it is drawn with them.
    pub fn new(
        transform: &GlobalTransform,
        material: &SceneMaterial,
        textures_ready: bool,
    ) -> Option<Self> {
        let affine = transform.affine();
        let linear = Mat3::from(affine.matrix3);
        let determinant = linear.determinant();
        if !determinant.is_finite() || determinant.abs() < 1e-12 {
            return None;
        }
        let [s, t] = material.uv_transform;
        let textured = match (&material.textures, textures_ready) {
            (SceneTextures::Face(_), true) => TEXTURED,
            (SceneTextures::Terrain(_), true) => TERRAIN,
            _ => 0,
        };
        Some(SceneInstance {
            world_from_local: Mat4::from(affine),
            normal_from_local: linear.inverse().transpose(),
            color: material.color.to_vec4(),
            emissive: material.emissive.to_vec4(),
            uv_s: Vec3::from_array(s).extend(0.0),
            uv_t: Vec3::from_array(t).extend(0.0),
            flags: (material.flags & !(TERRAIN | TEXTURED)) | textured,
            specular: material.specular,
            padding: 0,
        })
    }
}

const fn instance_attribute(format: VertexFormat, offset: u64, location: u32) -> VertexAttribute {
    VertexAttribute {
        format,
        offset,
        shader_location: location,
    }
}

/// The lighting as the shader reads it (`SceneLighting` in `shaders/scene.wgsl`).
#[derive(ShaderType, Debug, Clone, Copy, Default, PartialEq)]
pub struct SceneLightingUniform {
    /// Unit vector towards the sun.
    pub direction_to_sun: Vec3,
    /// The sun's linear colour times its illuminance.
    pub sun: Vec3,
    /// The sky light's linear colour times its brightness.
    pub ambient: Vec3,
}

impl From<&SceneLighting> for SceneLightingUniform {
    fn from(l: &SceneLighting) -> Self {
        SceneLightingUniform {
            direction_to_sun: l.direction_to_sun.normalize_or(Vec3::Y),
            sun: LinearRgba::from(l.sun_color).to_vec3() * l.sun_illuminance,
            ambient: LinearRgba::from(l.ambient_color).to_vec3() * l.ambient_brightness,
        }
    }
}

/// One draw of the frame: one mesh, drawn once per instance of a run of [`SceneInstance`]s.
#[derive(Debug, Clone, Copy)]
pub struct SceneDraw {
    /// The first member's entity in the main world (the phase item's key).
    pub main_entity: MainEntity,
    /// The mesh every member draws.
    pub mesh: AssetId<Mesh>,
    /// Index of the members' textures in [`SceneFrame::texture_sets`].
    pub textures: u32,
    /// The members blend (a blended draw has one member).
    pub blended: bool,
    /// The first (nearest) member's local to world, for the mesh's centre when sorting.
    pub world_from_local: Affine3A,
    /// Index of the first member's instance.
    pub first_instance: u32,
    /// How many members.
    pub instances: u32,
}

/// The images of a draw's four texture slots.
pub type TextureSet = [Option<AssetId<Image>>; 4];

/// The frame's draws and the GPU side of them.
#[derive(Resource)]
pub struct SceneFrame {
    /// In the order of their instances (`first_instance` grows).
    pub draws: Vec<SceneDraw>,
    /// The distinct texture sets of the frame's draws; the first is the untextured one.
    pub texture_sets: Vec<TextureSet>,
    instances: RawBufferVec<SceneInstance>,
    lighting: UniformBuffer<SceneLightingUniform>,
    bind_group: Option<BindGroup>,
    /// One per texture set, in its order.
    texture_bind_groups: Vec<BindGroup>,
    /// Texture bind groups by their views, kept while drawn.
    texture_cache: HashMap<[TextureViewId; 4], BindGroup>,
}

impl Default for SceneFrame {
    fn default() -> Self {
        let mut instances = RawBufferVec::new(BufferUsages::VERTEX);
        instances.set_label(Some("overlook_scene_instances"));
        SceneFrame {
            draws: Vec::new(),
            texture_sets: vec![[None; 4]],
            instances,
            lighting: UniformBuffer::default(),
            bind_group: None,
            texture_bind_groups: Vec::new(),
            texture_cache: HashMap::default(),
        }
    }
}

/// On a view: the indices of [`SceneFrame::draws`] its camera sees.
#[derive(Component, Debug, Default, Clone)]
pub struct SceneViewDraws(pub Vec<u32>);

/// The layouts shared by both pipelines, the texture sampler and the white texel of empty
/// slots.
#[derive(Resource)]
pub struct ScenePipeline {
    layout: BindGroupLayoutDescriptor,
    textures_layout: BindGroupLayoutDescriptor,
    sampler: Sampler,
    white: TextureView,
}

/// Anisotropic filtering on a GPU: terrain and faces seen at a grazing angle keep their detail.
pub const ANISOTROPY: u16 = 8;

/// The sampler's anisotropy on an adapter of `device_type` (wgpu's `DeviceType`, by its debug
/// name): none on a CPU (software) renderer, where 8× filtering made a frame of the demo scene
/// on lavapipe 1.5× as long (BENCHMARKS.md, "Textures in the viewer"); [`ANISOTROPY`] elsewhere.
pub fn anisotropy_for(device_type: &str) -> u16 {
    if device_type == "Cpu" { 1 } else { ANISOTROPY }
}

fn init_scene_pipeline(
    mut commands: Commands,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>,
) {
    let anisotropy = adapter.map_or(ANISOTROPY, |a| {
        anisotropy_for(&format!("{:?}", a.device_type))
    });
    // Repeating (SL's texture repeats and the terrain's tiling), trilinear.
    let texture_sampler = device.create_sampler(&SamplerDescriptor {
        label: Some("overlook_scene_sampler"),
        address_mode_u: AddressMode::Repeat,
        address_mode_v: AddressMode::Repeat,
        address_mode_w: AddressMode::Repeat,
        mag_filter: FilterMode::Linear,
        min_filter: FilterMode::Linear,
        mipmap_filter: MipmapFilterMode::Linear,
        anisotropy_clamp: anisotropy,
        ..default()
    });
    let white = device
        .create_texture_with_data(
            &queue,
            &TextureDescriptor {
                label: Some("overlook_scene_white"),
                size: Extent3d {
                    width: 1,
                    height: 1,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: TextureDimension::D2,
                format: TextureFormat::Rgba8UnormSrgb,
                usage: TextureUsages::TEXTURE_BINDING,
                view_formats: &[],
            },
            TextureDataOrder::default(),
            &[255; 4],
        )
        .create_view(&TextureViewDescriptor::default());
    commands.insert_resource(ScenePipeline {
        textures_layout: BindGroupLayoutDescriptor::new(
            "overlook_scene_textures_layout",
            &BindGroupLayoutEntries::sequential(
                ShaderStages::FRAGMENT,
                (
                    texture_2d(TextureSampleType::Float { filterable: true }),
                    texture_2d(TextureSampleType::Float { filterable: true }),
                    texture_2d(TextureSampleType::Float { filterable: true }),
                    texture_2d(TextureSampleType::Float { filterable: true }),
                    sampler(SamplerBindingType::Filtering),
                ),
            ),
        ),
        sampler: texture_sampler,
        white,
        layout: BindGroupLayoutDescriptor::new(
            "overlook_scene_layout",
            &BindGroupLayoutEntries::sequential(
                ShaderStages::VERTEX_FRAGMENT,
                (
                    uniform_buffer::<ViewUniform>(true),
                    uniform_buffer::<SceneLightingUniform>(false),
                ),
            ),
        ),
    });
}

/// What a pipeline is specialised on beside the mesh layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScenePipelineKey {
    /// The view's colour format (HDR or not, sRGB or not).
    pub target_format: TextureFormat,
    /// The view's MSAA sample count.
    pub samples: u32,
    /// Blended (no depth write) or opaque.
    pub blended: bool,
    /// The mesh's topology.
    pub topology: PrimitiveTopology,
}

impl SpecializedMeshPipeline for ScenePipeline {
    type Key = ScenePipelineKey;

    fn specialize(
        &self,
        key: Self::Key,
        layout: &MeshVertexBufferLayoutRef,
    ) -> Result<RenderPipelineDescriptor, SpecializedMeshPipelineError> {
        let vertex_layout: VertexBufferLayout = layout.0.get_layout(&[
            Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
            Mesh::ATTRIBUTE_NORMAL.at_shader_location(1),
            Mesh::ATTRIBUTE_COLOR.at_shader_location(2),
            Mesh::ATTRIBUTE_UV_0.at_shader_location(3),
        ])?;
        Ok(RenderPipelineDescriptor {
            label: Some(
                if key.blended {
                    "overlook_scene_blended"
                } else {
                    "overlook_scene_opaque"
                }
                .into(),
            ),
            layout: vec![self.layout.clone(), self.textures_layout.clone()],
            vertex: VertexState {
                shader: SCENE_SHADER,
                entry_point: Some("vertex".into()),
                buffers: vec![
                    vertex_layout,
                    VertexBufferLayout {
                        array_stride: SceneInstance::SIZE,
                        step_mode: VertexStepMode::Instance,
                        attributes: SceneInstance::LAYOUT.to_vec(),
                    },
                ],
                ..default()
            },
            primitive: PrimitiveState {
                topology: key.topology,
                cull_mode: Some(Face::Back),
                ..default()
            },
            depth_stencil: Some(DepthStencilState {
                format: CORE_3D_DEPTH_FORMAT,
                depth_write_enabled: Some(!key.blended),
                // Bevy's depth is reversed: near is 1.
                depth_compare: Some(CompareFunction::GreaterEqual),
                stencil: StencilState::default(),
                bias: DepthBiasState::default(),
            }),
            multisample: MultisampleState {
                count: key.samples,
                mask: !0,
                alpha_to_coverage_enabled: false,
            },
            fragment: Some(FragmentState {
                shader: SCENE_SHADER,
                entry_point: Some("fragment".into()),
                targets: vec![Some(ColorTargetState {
                    format: key.target_format,
                    blend: key.blended.then_some(BlendState::ALPHA_BLENDING),
                    write_mask: ColorWrites::ALL,
                })],
                ..default()
            }),
            ..default()
        })
    }
}

/// What opaque meshes must share to be drawn as one batch: the mesh and the texture set (an index
/// in [`SceneFrame::texture_sets`]).
pub type BatchKey = (AssetId<Mesh>, u32);

/// The order in which one view draws its visible meshes, and its batches: `(order, batches)`,
/// where each batch is a range of `order` drawn as one instanced draw.
///
/// `meshes[i]` is visible mesh `i`: its mesh and texture set (the batch key), whether it blends,
/// its distance from the camera. Opaque meshes that share a mesh and textures (prims share one
/// mesh per distinct shape) form one batch, nearest member first, and the batches come in the
/// order of their nearest members; every blended mesh is a batch of its own, as they must be
/// sorted one by one.
pub fn plan_batches(meshes: &[(BatchKey, bool, f32)]) -> (Vec<usize>, Vec<Range<usize>>) {
    let mut opaque: Vec<usize> = (0..meshes.len()).filter(|&i| !meshes[i].1).collect();
    opaque.sort_by(|&a, &b| meshes[a].2.total_cmp(&meshes[b].2));
    let mut group_of: HashMap<BatchKey, usize> = HashMap::default();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in opaque {
        let group = *group_of.entry(meshes[i].0).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        if let Some(members) = groups.get_mut(group) {
            members.push(i);
        }
    }
    let mut order = Vec::with_capacity(meshes.len());
    let mut batches = Vec::with_capacity(groups.len());
    for members in groups {
        batches.push(order.len()..order.len() + members.len());
        order.extend(members);
    }
    for i in (0..meshes.len()).filter(|&i| meshes[i].1) {
        batches.push(order.len()..order.len() + 1);
        order.push(i);
    }
    (order, batches)
}

/// One visible mesh of a view, before batching.
struct VisibleMesh {
    entity: Entity,
    mesh: AssetId<Mesh>,
    textures: u32,
    blended: bool,
    distance: f32,
    instance: SceneInstance,
    world_from_local: Affine3A,
}

/// Gathers what every active 3D camera sees into the frame's batches and instances.
#[allow(clippy::type_complexity)]
fn extract_scene(
    mut commands: Commands,
    mut frame: ResMut<SceneFrame>,
    cameras: Extract<
        Query<(RenderEntity, &Camera, &VisibleEntities, &GlobalTransform), With<Camera3d>>,
    >,
    meshes: Extract<Query<(&GlobalTransform, &Mesh3d, &SceneMaterial3d)>>,
    materials: Extract<Res<Assets<SceneMaterial>>>,
    images: Extract<Res<Assets<Image>>>,
    lighting: Extract<Option<Res<SceneLighting>>>,
) {
    let frame = frame.as_mut();
    frame.draws.clear();
    frame.instances.clear();
    frame.texture_sets.clear();
    frame.texture_sets.push([None; 4]);
    let mut set_index: HashMap<TextureSet, u32> = HashMap::default();
    set_index.insert([None; 4], 0);
    let lighting = lighting
        .as_deref()
        .map(SceneLightingUniform::from)
        .unwrap_or_else(|| SceneLightingUniform::from(&SceneLighting::default()));
    frame.lighting.set(lighting);
    for (render_entity, camera, visible, camera_transform) in &cameras {
        let mut draws = Vec::new();
        if camera.is_active {
            let eye = camera_transform.translation();
            let visible: Vec<VisibleMesh> = visible
                .get(TypeId::of::<Mesh3d>())
                .iter()
                .filter_map(|&entity| {
                    let (transform, mesh, material) = meshes.get(entity).ok()?;
                    let material = materials.get(&material.0)?;
                    // Drawn with its textures once every one has an image; untextured until.
                    let set = material.textures.slots();
                    let ready = set.iter().flatten().all(|&id| images.contains(id));
                    let set = if ready { set } else { [None; 4] };
                    let next = u32::try_from(set_index.len()).ok()?;
                    let textures = *set_index.entry(set).or_insert_with(|| {
                        frame.texture_sets.push(set);
                        next
                    });
                    Some(VisibleMesh {
                        entity,
                        mesh: mesh.id(),
                        textures,
                        blended: material.is_blended(),
                        distance: transform.translation().distance_squared(eye),
                        instance: SceneInstance::new(transform, material, ready)?,
                        world_from_local: transform.affine(),
                    })
                })
                .collect();
            let keys: Vec<_> = visible
                .iter()
                .map(|v| ((v.mesh, v.textures), v.blended, v.distance))
                .collect();
            let (order, batches) = plan_batches(&keys);
            for batch in batches {
                let (Some(members), Ok(count)) =
                    (order.get(batch.clone()), u32::try_from(batch.len()))
                else {
                    continue;
                };
                let (Some(first), Ok(first_instance), Ok(index)) = (
                    members.first().and_then(|&i| visible.get(i)),
                    u32::try_from(frame.instances.len()),
                    u32::try_from(frame.draws.len()),
                ) else {
                    continue;
                };
                frame.draws.push(SceneDraw {
                    main_entity: MainEntity::from(first.entity),
                    mesh: first.mesh,
                    textures: first.textures,
                    blended: first.blended,
                    world_from_local: first.world_from_local,
                    first_instance,
                    instances: count,
                });
                for v in members.iter().filter_map(|&i| visible.get(i)) {
                    frame.instances.push(v.instance);
                }
                draws.push(index);
            }
        }
        commands
            .entity(render_entity)
            .try_insert(SceneViewDraws(draws));
    }
}

fn prepare_scene_buffers(
    mut frame: ResMut<SceneFrame>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
) {
    let frame = frame.as_mut();
    frame.instances.write_buffer(&device, &queue);
    frame.lighting.write_buffer(&device, &queue);
}

fn prepare_scene_bind_group(
    mut frame: ResMut<SceneFrame>,
    pipeline: Res<ScenePipeline>,
    pipeline_cache: Res<PipelineCache>,
    view_uniforms: Res<ViewUniforms>,
    images: Res<RenderAssets<GpuImage>>,
    device: Res<RenderDevice>,
) {
    let frame = frame.as_mut();
    // The texture sets first: one bind group each, reused while its views stay the same.
    let textures_layout = pipeline_cache.get_bind_group_layout(&pipeline.textures_layout);
    let mut kept: HashMap<[TextureViewId; 4], BindGroup> = HashMap::default();
    frame.texture_bind_groups.clear();
    for set in &frame.texture_sets {
        let views = set.map(|slot| {
            slot.and_then(|id| images.get(id))
                .map_or(&pipeline.white, |image| &image.texture_view)
        });
        let key = views.map(|v| v.id());
        let group = kept
            .get(&key)
            .or_else(|| frame.texture_cache.get(&key))
            .cloned()
            .unwrap_or_else(|| {
                device.create_bind_group(
                    "overlook_scene_textures",
                    &textures_layout,
                    &BindGroupEntries::sequential((
                        views[0],
                        views[1],
                        views[2],
                        views[3],
                        &pipeline.sampler,
                    )),
                )
            });
        kept.insert(key, group.clone());
        frame.texture_bind_groups.push(group);
    }
    frame.texture_cache = kept;
    frame.bind_group = None;
    let (Some(view), Some(lighting)) = (view_uniforms.uniforms.binding(), frame.lighting.binding())
    else {
        return;
    };
    frame.bind_group = Some(device.create_bind_group(
        "overlook_scene_bind_group",
        &pipeline_cache.get_bind_group_layout(&pipeline.layout),
        &BindGroupEntries::sequential((view, lighting)),
    ));
}

/// How a draw sorts in its view's [`Transparent3d`] phase, whose key is the view-space z of
/// `mesh_center` plus `depth_bias`, drawn in ascending order.
///
/// Blended draws sort by their centre: farthest first, as blending needs. Opaque draws sort by
/// their centre mirrored through the camera, which negates the key, so the nearest is drawn
/// first and the depth test spares the shading of what it hides; [`OPAQUE_FIRST`] puts all of
/// them before the blended ones.
pub fn sorting_info(center: Vec3, camera: Vec3, blended: bool) -> TransparentSortingInfo3d {
    if blended {
        TransparentSortingInfo3d::Sorted {
            mesh_center: center,
            depth_bias: 0.0,
        }
    } else {
        TransparentSortingInfo3d::Sorted {
            mesh_center: 2.0 * camera - center,
            depth_bias: -OPAQUE_FIRST,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn queue_scene(
    draw_functions: Res<DrawFunctions<Transparent3d>>,
    pipeline: Res<ScenePipeline>,
    mut pipelines: ResMut<SpecializedMeshPipelines<ScenePipeline>>,
    pipeline_cache: Res<PipelineCache>,
    frame: Res<SceneFrame>,
    meshes: Res<RenderAssets<RenderMesh>>,
    mut phases: ResMut<ViewSortedRenderPhases<Transparent3d>>,
    views: Query<(&ExtractedView, &Msaa, &SceneViewDraws)>,
) {
    let draw_function = draw_functions.read().id::<DrawScene>();
    for (view, msaa, view_draws) in &views {
        let Some(phase) = phases.get_mut(&view.retained_view_entity) else {
            continue;
        };
        let camera = view.world_from_view.translation();
        for &index in &view_draws.0 {
            let Some(draw) = frame.draws.get(index as usize) else {
                continue;
            };
            let Some(mesh) = meshes.get(draw.mesh) else {
                continue;
            };
            let key = ScenePipelineKey {
                target_format: view.target_format,
                samples: msaa.samples(),
                blended: draw.blended,
                topology: mesh.primitive_topology(),
            };
            let pipeline_id =
                match pipelines.specialize(&pipeline_cache, &pipeline, key, &mesh.layout) {
                    Ok(id) => id,
                    Err(error) => {
                        warn_once!("a scene mesh cannot be drawn: {error}");
                        continue;
                    }
                };
            let center = draw.world_from_local.transform_point3(mesh.aabb_center);
            phase.add_transient(Transparent3d {
                sorting_info: sorting_info(center, camera, draw.blended),
                distance: 0.0,
                pipeline: pipeline_id,
                entity: (Entity::PLACEHOLDER, draw.main_entity),
                draw_function,
                // One item, whatever its instance count: a sorted phase skips the
                // `batch_range.len() - 1` items after one (as merged into it). The draw
                // command reads the count from the draw.
                batch_range: draw.first_instance..draw.first_instance + 1,
                extra_index: PhaseItemExtraIndex::None,
                indexed: matches!(mesh.buffer_info, RenderMeshBufferInfo::Indexed { .. }),
            });
        }
    }
}

/// Sets the item's pipeline, then draws its mesh.
type DrawScene = (SetItemPipeline, DrawSceneMesh);

/// Binds the frame's bind group at the view's offset and draws the item's [`SceneDraw`] (found by
/// its first instance, the start of the item's batch range): its mesh, once per member.
pub struct DrawSceneMesh;

impl<P: PhaseItem> RenderCommand<P> for DrawSceneMesh {
    type Param = (
        SRes<SceneFrame>,
        SRes<RenderAssets<RenderMesh>>,
        SRes<MeshAllocator>,
    );
    type ViewQuery = &'static ViewUniformOffset;
    type ItemQuery = ();

    fn render<'w>(
        item: &P,
        view_offset: ROQueryItem<'w, '_, Self::ViewQuery>,
        _entity: Option<ROQueryItem<'w, '_, Self::ItemQuery>>,
        (frame, meshes, allocator): SystemParamItem<'w, '_, Self::Param>,
        pass: &mut TrackedRenderPass<'w>,
    ) -> RenderCommandResult {
        let frame = frame.into_inner();
        let meshes = meshes.into_inner();
        let allocator = allocator.into_inner();
        let first = item.batch_range().start;
        let draw = frame
            .draws
            .binary_search_by_key(&first, |d| d.first_instance)
            .ok()
            .and_then(|i| frame.draws.get(i));
        let (Some(bind_group), Some(draw), Some(instance_buffer)) =
            (frame.bind_group.as_ref(), draw, frame.instances.buffer())
        else {
            return RenderCommandResult::Skip;
        };
        let Some(textures) = frame.texture_bind_groups.get(draw.textures as usize) else {
            return RenderCommandResult::Skip;
        };
        let instances = 0..draw.instances;
        let (Some(mesh), Some(vertices)) = (
            meshes.get(draw.mesh),
            allocator.mesh_vertex_slice(&draw.mesh),
        ) else {
            return RenderCommandResult::Skip;
        };
        pass.set_bind_group(0, bind_group, &[view_offset.offset]);
        pass.set_bind_group(1, textures, &[]);
        pass.set_vertex_buffer(0, vertices.buffer.slice(..));
        pass.set_vertex_buffer(
            1,
            instance_buffer.slice(u64::from(first) * SceneInstance::SIZE..),
        );
        match &mesh.buffer_info {
            RenderMeshBufferInfo::Indexed {
                index_format,
                count,
            } => {
                let Some(indices) = allocator.mesh_index_slice(&draw.mesh) else {
                    return RenderCommandResult::Skip;
                };
                pass.set_index_buffer(indices.buffer.slice(..), *index_format);
                pass.draw_indexed(
                    indices.range.start..indices.range.start + count,
                    i32::try_from(vertices.range.start).unwrap_or(i32::MAX),
                    instances,
                );
            }
            RenderMeshBufferInfo::NonIndexed => {
                pass.draw(vertices.range, instances);
            }
        }
        RenderCommandResult::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy::render::render_phase::ViewRangefinder3d;

    /// The keys `sort_phase_system` gives these draws, seen from a camera at `camera` looking
    /// along −z.
    fn keys(camera: Vec3, draws: &[(Vec3, bool)]) -> Vec<f32> {
        let view = Affine3A::from_translation(camera);
        let rangefinder = ViewRangefinder3d::from_world_from_view(&view);
        draws
            .iter()
            .map(|&(center, blended)| {
                sorting_info(center, camera, blended).sort_distance(&rangefinder)
            })
            .collect()
    }

    #[test]
    fn anisotropic_filtering_is_for_gpus() {
        assert_eq!(anisotropy_for("Cpu"), 1);
        assert_eq!(anisotropy_for("DiscreteGpu"), ANISOTROPY);
        assert_eq!(anisotropy_for("IntegratedGpu"), ANISOTROPY);
    }

    #[test]
    fn opaque_draws_come_first_nearest_first_then_blended_farthest_first() {
        let camera = Vec3::new(10.0, 20.0, 30.0);
        let near = camera - Vec3::Z * 5.0;
        let far = camera - Vec3::Z * 3000.0;
        let k = keys(
            camera,
            &[(far, false), (near, false), (far, true), (near, true)],
        );
        let (opaque_far, opaque_near, blended_far, blended_near) = (k[0], k[1], k[2], k[3]);
        assert!(opaque_near < opaque_far, "{k:?}");
        assert!(opaque_far < blended_far, "{k:?}");
        assert!(blended_far < blended_near, "{k:?}");
    }

    #[test]
    fn opaque_meshes_sharing_a_mesh_batch_nearest_first_and_blended_ones_stay_alone() {
        let (a, b, c) = (
            AssetId::<Mesh>::invalid(),
            AssetId::<Mesh>::from(bevy::asset::uuid::Uuid::from_u128(1)),
            AssetId::<Mesh>::from(bevy::asset::uuid::Uuid::from_u128(2)),
        );
        // ((mesh, textures), blended, distance) of seven visible meshes.
        let meshes = [
            ((a, 0), false, 30.0),
            ((b, 0), false, 5.0),
            ((a, 0), false, 10.0),
            ((c, 0), true, 1.0),
            ((b, 0), false, 50.0),
            ((c, 0), true, 2.0),
            // Mesh a with other textures: a batch of its own.
            ((a, 1), false, 20.0),
        ];
        let (order, batches) = plan_batches(&meshes);
        // Mesh b's batch first (its nearest member is at 5), then a's, then a's with the other
        // textures, each nearest first; the two blended ones alone, after them.
        assert_eq!(order, vec![1, 4, 2, 0, 6, 3, 5]);
        assert_eq!(batches, vec![0..2, 2..4, 4..5, 5..6, 6..7]);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..7).collect::<Vec<_>>(), "every mesh exactly once");
        assert_eq!(plan_batches(&[]), (Vec::new(), Vec::new()));
    }

    #[test]
    fn instances_carry_the_material_and_a_normal_matrix_for_non_uniform_scale() {
        let material = SceneMaterial::lit(Color::srgba(1.0, 0.5, 0.0, 0.5))
            .fullbright(true)
            .specular(0.25);
        let transform = GlobalTransform::from(
            Transform::from_xyz(1.0, 2.0, 3.0).with_scale(Vec3::new(2.0, 1.0, 4.0)),
        );
        let instance = SceneInstance::new(&transform, &material, true).unwrap();
        assert_eq!(instance.color, material.color.to_vec4());
        // Untextured: no texture flag, whatever `textures_ready` says.
        assert_eq!(instance.flags, super::super::material::FULLBRIGHT);
        // A face texture: TEXTURED once ready, not before; the transform rows go along.
        let uv = [[2.0, 0.0, -0.5], [0.0, 1.0, 0.25]];
        let textured = material.clone().textured(Handle::default(), uv);
        let ready = SceneInstance::new(&transform, &textured, true).unwrap();
        assert_eq!(ready.flags, super::super::material::FULLBRIGHT | TEXTURED);
        assert_eq!(ready.uv_s, Vec4::new(2.0, 0.0, -0.5, 0.0));
        assert_eq!(ready.uv_t, Vec4::new(0.0, 1.0, 0.25, 0.0));
        let waiting = SceneInstance::new(&transform, &textured, false).unwrap();
        assert_eq!(waiting.flags, super::super::material::FULLBRIGHT);
        // Terrain textures: TERRAIN once ready.
        let mut ground = SceneMaterial::lit(Color::WHITE);
        ground.textures = SceneTextures::Terrain(std::array::from_fn(|_| Handle::default()));
        assert_eq!(
            SceneInstance::new(&transform, &ground, true).unwrap().flags,
            TERRAIN
        );
        assert_eq!(
            SceneInstance::new(&transform, &ground, false)
                .unwrap()
                .flags,
            0
        );
        assert_eq!(instance.specular, 0.25);
        assert_eq!(
            instance.world_from_local.w_axis,
            Vec4::new(1.0, 2.0, 3.0, 1.0)
        );
        // A normal of a face tilted 45° in the unscaled mesh stays perpendicular to that face
        // once scaled: the face's tangent (1, 0, −1) scales to (2, 0, −4).
        let normal = (instance.normal_from_local * Vec3::new(1.0, 0.0, 1.0)).normalize();
        assert!(
            normal.dot(Vec3::new(2.0, 0.0, -4.0)).abs() < 1e-6,
            "{normal}"
        );
        // Nothing to draw at zero scale.
        let flat = GlobalTransform::from(Transform::from_scale(Vec3::new(1.0, 0.0, 1.0)));
        assert_eq!(SceneInstance::new(&flat, &material, false), None);
    }

    #[test]
    fn the_shader_reads_what_the_rust_side_writes() {
        let wgsl = include_str!("../../shaders/scene.wgsl");
        for field in [
            "direction_to_sun: vec3<f32>",
            "sun: vec3<f32>",
            "ambient: vec3<f32>",
        ] {
            assert!(wgsl.contains(field), "{field}");
        }
        // The texture group: four textures and the sampler.
        for (i, name) in ["texture0", "texture1", "texture2", "texture3"]
            .iter()
            .enumerate()
        {
            assert!(wgsl.contains(&format!(
                "@group(1) @binding({i}) var {name}: texture_2d<f32>;"
            )));
        }
        assert!(wgsl.contains("@group(1) @binding(4) var texture_sampler: sampler;"));
        assert!(wgsl.contains("@location(3) uv: vec2<f32>"));
        // The layout's two bindings, in order, and no storage buffer (WebGL2 has none).
        assert!(wgsl.contains("@group(0) @binding(0) var<uniform> view: View;"));
        assert!(wgsl.contains("@group(0) @binding(1) var<uniform> lighting: SceneLighting;"));
        assert!(!wgsl.contains("var<storage"));
        // The instance attributes where the layout puts them.
        for (location, name) in [
            (4, "world_x"),
            (7, "world_w"),
            (8, "color"),
            (9, "emissive_specular"),
            (10, "uv_s"),
            (11, "uv_t"),
            (12, "normal_x"),
            (14, "normal_z"),
            (15, "flags_specular"),
        ] {
            let attribute = SceneInstance::LAYOUT
                .iter()
                .find(|a| a.shader_location == location)
                .unwrap();
            assert!(
                wgsl.contains(&format!("@location({location}) {name}:")),
                "{name} at {location}"
            );
            assert!(attribute.offset + attribute.format.size() <= SceneInstance::SIZE);
        }
    }

    #[test]
    fn the_instance_layout_covers_the_struct_byte_for_byte() {
        assert_eq!(SceneInstance::SIZE, 176);
        let mut covered: Vec<(u64, u64)> = SceneInstance::LAYOUT
            .iter()
            .map(|a| (a.offset, a.offset + a.format.size()))
            .collect();
        covered.sort_unstable();
        let mut end = 0;
        for (start, stop) in covered {
            assert_eq!(start, end, "a gap or an overlap at byte {start}");
            end = stop;
        }
        // Everything but the padding word.
        assert_eq!(end, SceneInstance::SIZE - 4);
        // The fields sit where the layout reads them.
        let i = SceneInstance {
            world_from_local: Mat4::from_cols_array(&std::array::from_fn(|k| k as f32)),
            color: Vec4::splat(16.0),
            emissive: Vec4::splat(17.0),
            uv_s: Vec4::splat(18.0),
            uv_t: Vec4::splat(19.0),
            normal_from_local: Mat3::from_cols_array(&std::array::from_fn(|k| 20.0 + k as f32)),
            flags: 7,
            specular: 0.5,
            padding: 0,
        };
        let bytes = bytemuck::bytes_of(&i);
        let f32_at = |o: usize| f32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        assert_eq!(f32_at(48), 12.0, "world_from_local's fourth column");
        assert_eq!(f32_at(64), 16.0);
        assert_eq!(f32_at(80), 17.0);
        assert_eq!(f32_at(112), 19.0);
        assert_eq!(f32_at(128), 20.0);
        assert_eq!(f32_at(160), 28.0);
        assert_eq!(u32::from_le_bytes(bytes[164..168].try_into().unwrap()), 7);
        assert_eq!(f32_at(168), 0.5);
    }

    #[test]
    fn default_lighting_shows_a_texture_at_its_own_colour() {
        let uniform = SceneLightingUniform::from(&SceneLighting::default());
        assert!((uniform.direction_to_sun.length() - 1.0).abs() < 1e-6);
        assert!(uniform.direction_to_sun.y > 0.7, "the sun is high");
        // What the shader multiplies an albedo by, at the camera's default exposure: about
        // one on level ground in the sun (a texture keeps its colours: plywood stays tan, grass
        // green), a little over on a face turned to the sun, and the sky light alone on a face
        // turned away, dark but not black.
        let exposure = bevy::camera::Exposure::default().exposure();
        let lit = |n: Vec3| {
            (uniform.ambient.x
                + uniform.sun.x * n.dot(uniform.direction_to_sun).max(0.0) / std::f32::consts::PI)
                * exposure
        };
        let ground = lit(Vec3::Y);
        let facing = lit(uniform.direction_to_sun);
        let away = lit(-uniform.direction_to_sun);
        assert!((0.95..1.2).contains(&ground), "level ground: {ground}");
        assert!((1.0..1.4).contains(&facing), "facing the sun: {facing}");
        assert!((0.25..0.45).contains(&away), "turned away: {away}");
    }
}
