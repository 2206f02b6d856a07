//! `ObjectsPlugin`: one entity per local id from `ObjectUpdate`, `ObjectUpdateCompressed`,
//! `ImprovedTerseObjectUpdate` and `KillObject` (`ObjectUpdateCached` is answered by the circuit
//! with `RequestMultipleObjects`).
//!
//! An object entity carries position and rotation only; its geometry hangs below it in child
//! entities carrying the scale, one per face, so linked children (also children of the entity)
//! are placed relative to their root without inheriting its size. A child whose root has not
//! arrived is kept hidden until it does; a kill removes the object with its children. Prim meshes
//! are built once per distinct shape and materials once per distinct face look ([`FaceLook`]:
//! tint, full-bright, glow, texture and its transform); a textured face wears its texture's one
//! image ([`TextureImages`]), shown once it decodes.
//!
//! Impossible data is reported, never drawn: a full update whose place, rotation or size cannot
//! be real ([`impossible_placement`]) removes the object
//! (with its linked children) instead of drawing it; a terse update that would move an object
//! somewhere impossible is ignored, so the object (our own avatar, and the camera with it) stays
//! at its last good place. Either way the object is counted in [`ObjectIndex::invalid`] and
//! named in [`ObjectIndex::problems`]. A parent link that would close a cycle (a self-parent
//! included) is reported the same way and the object is shown as a root.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;

use super::state::{ObjectState, impossible_placement};
use crate::assets::{TextureImages, TexturesReferenced, texture_ids};
use crate::camera::AgentPose;
use crate::net::plugin::{NetSystems, RegionMessage, SessionStarted};
use crate::scene::mesh::{sl_scale_to_bevy, to_bevy_mesh};
use crate::scene::{
    RegionInfo, RegionSystems, SceneCounts, SceneMaterial, SceneMaterial3d, sl_quat_to_bevy,
    sl_to_bevy,
};
use crate::shapes::{SculptPixels, ShapeAssets, ShapesReferenced};
use overlook_geometry::llmesh::Lod;
use overlook_geometry::prim::{Detail, prim_mesh};
use overlook_geometry::sculpt::{SculptMap, SculptType, sculpt_mesh};
use overlook_geometry::standin::standin;
use overlook_protocol::message::Message;
use overlook_protocol::message::object::{PCode, PrimShape, ShapeKind, TerseData};
use overlook_protocol::types::Uuid;

/// An object of the region.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct SlObject {
    /// Region-local id.
    pub local_id: u32,
    /// Its UUID.
    pub full_id: Uuid,
    /// Parent local id (0 = root).
    pub parent: u32,
    /// What it is.
    pub pcode: PCode,
    /// Geometry class.
    pub kind: ShapeKind,
}

/// An avatar's name, from its name values (drawn as a label).
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct AvatarName(pub String);

/// Marks our own avatar.
#[derive(Component, Debug, Clone, Copy)]
pub struct OwnAvatar;

/// A sculpty or mesh object: its state (to rebuild its geometry) and what it shows now.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct AssetShape {
    /// The object as last updated.
    pub state: Box<ObjectState>,
    /// The level of detail its geometry is built at ([`Lod::index`]), `None` while its box
    /// stands in (the map or mesh has not arrived, or failed).
    pub drawn: Option<usize>,
    /// The level of detail its size on screen asks for.
    pub wanted: Lod,
}

/// How many sculpties and mesh objects show their own shape, and how many a box stands in for.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShapeCounts {
    /// Sculpties drawn from their map.
    pub sculpts_drawn: usize,
    /// Sculpties still a box.
    pub sculpts_boxed: usize,
    /// Mesh objects drawn from their asset.
    pub meshes_drawn: usize,
    /// Mesh objects still a box.
    pub meshes_boxed: usize,
}

/// The level of detail for an object of bounding radius `radius` at `distance` from the eye,
/// as SL viewers choose it (SLV `LLVolumeLODGroup::getDetailFromTan` with its default
/// `RenderVolumeLODFactor` 1.25): the radius over the distance, times the factor, against the
/// thresholds 0.03, 0.06 and 0.24.
pub fn lod_for(radius: f32, distance: f32) -> Lod {
    let tan = radius * LOD_FACTOR / distance.max(0.01);
    if tan.is_nan() || tan < 0.03 {
        Lod::Lowest
    } else if tan < 0.06 {
        Lod::Low
    } else if tan < 0.24 {
        Lod::Medium
    } else {
        Lod::High
    }
}

/// SLV's default `RenderVolumeLODFactor`.
pub const LOD_FACTOR: f32 = 1.25;

/// A sculpt surface's detail for a level of detail (the two lowest share SL's low detail).
fn sculpt_detail(lod: Lod) -> Detail {
    match lod {
        Lod::Lowest | Lod::Low => Detail::Low,
        Lod::Medium => Detail::Medium,
        Lod::High => Detail::High,
    }
}

/// Marks a geometry entity below an object (one per face).
#[derive(Component, Debug, Clone, Copy)]
pub struct ObjectGeometry;

/// Local id → entity, and children waiting for their parent.
#[derive(Resource, Debug, Default)]
pub struct ObjectIndex {
    /// Every object present.
    pub by_local: HashMap<u32, Entity>,
    /// Parent local id → children that arrived before it.
    pub waiting: HashMap<u32, Vec<u32>>,
    /// Child local id → parent local id, for every linked object present.
    pub parents: HashMap<u32, u32>,
    /// Blobs that did not decode and impossible data, newest last (for the log and `check`).
    pub problems: Vec<String>,
    /// Local ids that sent an impossible place, rotation or size this session (at most
    /// [`MAX_TRACKED`]; [`ObjectIndex::invalid_count`] counts the rest).
    pub invalid: HashSet<u32>,
    /// Local ids whose parent link would have closed a cycle (shown as roots).
    pub cycles: HashSet<u32>,
    /// Ids past [`MAX_TRACKED`] in `invalid` or `cycles`.
    pub untracked: usize,
}

/// How many distinct ids [`ObjectIndex::invalid`] and [`ObjectIndex::cycles`] keep each: a
/// region sending millions of impossible objects cannot grow them without bound.
pub const MAX_TRACKED: usize = 65_536;

/// Adds `id` to `set` while it holds fewer than [`MAX_TRACKED`]; past that, counts it in
/// `untracked` instead.
fn track(set: &mut HashSet<u32>, untracked: &mut usize, id: u32) {
    if set.len() < MAX_TRACKED || set.contains(&id) {
        set.insert(id);
    } else {
        *untracked += 1;
    }
}

/// Parent links followed before a chain counts as a cycle (SL linksets are one level deep;
/// an attachment or a seated avatar adds one or two).
const MAX_LINK_DEPTH: usize = 64;

impl ObjectIndex {
    /// Distinct objects that sent impossible data this session.
    pub fn invalid_count(&self) -> usize {
        self.invalid.len() + self.untracked
    }

    fn note_invalid(&mut self, id: u32, why: String) {
        track(&mut self.invalid, &mut self.untracked, id);
        self.problems.push(why);
    }

    fn note_cycle(&mut self, id: u32, why: String) {
        track(&mut self.cycles, &mut self.untracked, id);
        self.problems.push(why);
    }

    /// True when linking `id` to `parent` would close a cycle: `parent` is `id` or descends
    /// from it (or the chain is deeper than any real one).
    fn closes_cycle(&self, id: u32, parent: u32) -> bool {
        let mut p = parent;
        for _ in 0..MAX_LINK_DEPTH {
            if p == id {
                return true;
            }
            match self.parents.get(&p) {
                Some(&next) => p = next,
                None => return false,
            }
        }
        true
    }
}

/// How a face looks: what its material is made of, and the key materials are shared by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaceLook {
    /// Tint, sRGB RGBA.
    pub color: [u8; 4],
    /// Full-bright.
    pub fullbright: bool,
    /// Glow × 255.
    pub glow: u8,
    /// The texture, `None` for the null id and the blank texture (untextured).
    pub texture: Option<Uuid>,
    /// The texture transform ([`crate::scene::material::te_uv_transform`]), as bits (a key).
    pub uv_bits: [[u32; 3]; 2],
}

impl FaceLook {
    /// The look of `face` of `state`.
    pub fn of(state: &ObjectState, face: u8) -> Self {
        let glow = (state.glow(face).clamp(0.0, 1.0) * 255.0).round();
        // Saturating float → int: `as` on an f32 in 0..=255 is exact.
        #[allow(
            clippy::as_conversions,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let glow = glow as u8;
        FaceLook {
            color: state.face_color(face),
            fullbright: state.fullbright(face),
            glow,
            texture: state.texture(face),
            uv_bits: state.uv_transform(face).map(|row| row.map(f32::to_bits)),
        }
    }
}

/// An object's uploaded meshes, one per SL face number.
type FaceMeshes = Vec<(u8, Handle<Mesh>)>;

/// Meshes and materials already uploaded.
#[derive(Resource, Debug, Default)]
struct AssetCache {
    prims: HashMap<PrimShape, Vec<(u8, Handle<Mesh>)>>,
    /// Sculpt surfaces by (map, type byte, detail) and mesh LODs by (asset, 5, LOD): one upload
    /// each, however many objects draw it.
    shaped: HashMap<(Uuid, u8, u8), FaceMeshes>,
    standins: HashMap<(u8, u8), Handle<Mesh>>,
    materials: HashMap<FaceLook, Handle<SceneMaterial>>,
    white: Option<Handle<SceneMaterial>>,
}

/// What spawning geometry needs: the caches, the mesh and material assets, and the texture
/// images faces wear.
#[derive(SystemParam)]
struct Looks<'w> {
    cache: ResMut<'w, AssetCache>,
    meshes: ResMut<'w, Assets<Mesh>>,
    materials: ResMut<'w, Assets<SceneMaterial>>,
    textures: ResMut<'w, TextureImages>,
    images: Res<'w, Assets<Image>>,
    shapes: Option<Res<'w, ShapeAssets>>,
}

/// System sets of the objects plugin.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectsSystems {
    /// `PreUpdate`, after `NetSystems::Receive`: updates spawn, move and remove entities.
    Apply,
}

/// Objects from the region's object messages.
#[derive(Debug, Default)]
pub struct ObjectsPlugin;

impl Plugin for ObjectsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ObjectIndex>()
            .add_message::<TexturesReferenced>()
            .init_resource::<AssetCache>()
            .init_resource::<TextureImages>()
            .init_resource::<SceneCounts>()
            .init_resource::<AgentPose>()
            .init_resource::<ShapeCounts>()
            .add_message::<ShapesReferenced>()
            .add_systems(
                PreUpdate,
                refresh_asset_shapes
                    .after(ObjectsSystems::Apply)
                    .after(crate::shapes::ShapesSystems::Apply),
            )
            .add_systems(
                PreUpdate,
                (apply_object_messages, track_own_avatar)
                    .chain()
                    .in_set(ObjectsSystems::Apply)
                    .after(NetSystems::Receive)
                    .after(RegionSystems::Apply),
            );
    }
}

impl Looks<'_> {
    /// The shared material of a face look.
    fn material(&mut self, look: FaceLook) -> Handle<SceneMaterial> {
        if let Some(m) = self.cache.materials.get(&look) {
            return m.clone();
        }
        let [r, g, b, a] = look.color;
        let mut material = SceneMaterial::lit(Color::srgba_u8(r, g, b, a))
            .fullbright(look.fullbright)
            .glow(f32::from(look.glow) / 255.0);
        if let Some(id) = look.texture {
            let image = self.textures.handle(&self.images, id);
            material = material.textured(image, look.uv_bits.map(|row| row.map(f32::from_bits)));
            material.texture_alpha = self.textures.has_alpha(id);
        }
        let handle = self.materials.add(material);
        self.cache.materials.insert(look, handle.clone());
        handle
    }

    fn white(&mut self) -> Handle<SceneMaterial> {
        let materials = &mut self.materials;
        self.cache
            .white
            .get_or_insert_with(|| materials.add(SceneMaterial::lit(Color::WHITE)))
            .clone()
    }
}

impl Looks<'_> {
    /// The uploaded face meshes of a sculpty or mesh object at `wanted`, with the level of
    /// detail they are; `None` while its map or asset is not ready (or failed, or gave no
    /// surface).
    fn shaped(&mut self, state: &ObjectState, wanted: Lod) -> Option<(usize, FaceMeshes)> {
        let (id, kind_byte) = state.sculpt?;
        let shapes = self.shapes.as_ref()?;
        // What to build from, only read on a cache miss: a sculpt map, or a mesh's decoded LOD.
        enum Source {
            Sculpt(Arc<SculptPixels>, SculptType, bool, bool, Detail),
            Mesh(Arc<Vec<overlook_geometry::MeshData>>),
        }
        let (lod, source) = if let Some((kind, invert, mirror)) = SculptType::from_byte(kind_byte) {
            let pixels = shapes.pixels.get(&id)?.clone();
            let detail = sculpt_detail(wanted);
            // The two lowest LODs share a detail: key them as one.
            let lod = match detail {
                Detail::Low => Lod::Low,
                Detail::Medium => Lod::Medium,
                Detail::High => Lod::High,
            };
            (lod, Source::Sculpt(pixels, kind, invert, mirror, detail))
        } else {
            let (lod, faces) = shapes.mesh(id)?.best(wanted)?;
            (lod, Source::Mesh(faces))
        };
        let key = (id, kind_byte, u8::try_from(lod.index()).unwrap_or(0));
        if let Some(faces) = self.cache.shaped.get(&key) {
            // An empty entry: the map or LOD gave no surface; its box stays, not rebuilt.
            return (!faces.is_empty()).then(|| (lod.index(), faces.clone()));
        }
        let built = match source {
            Source::Sculpt(pixels, kind, invert, mirror, detail) => {
                let map = SculptMap {
                    width: pixels.width,
                    height: pixels.height,
                    rgba: &pixels.rgba,
                };
                Arc::new(vec![sculpt_mesh(&map, kind, invert, mirror, detail)])
            }
            Source::Mesh(faces) => faces,
        };
        let meshes = &mut self.meshes;
        let faces: Vec<(u8, Handle<Mesh>)> = built
            .iter()
            .zip(0u8..)
            .filter(|(m, _)| !m.indices.is_empty())
            .map(|(m, face)| (face, meshes.add(to_bevy_mesh(m))))
            .collect();
        self.cache.shaped.insert(key, faces.clone());
        (!faces.is_empty()).then_some((lod.index(), faces))
    }
}

/// Spawns the geometry children of an object; for a sculpty or mesh object, at `wanted`, and
/// returns the level of detail drawn (`None`: its box stands in).
fn spawn_geometry(
    commands: &mut Commands,
    entity: Entity,
    state: &ObjectState,
    looks: &mut Looks,
    wanted: Lod,
) -> Option<usize> {
    let mut drawn = None;
    let scale = sl_scale_to_bevy(state.scale).abs().max(Vec3::splat(0.001));
    let mut parts: Vec<(Handle<Mesh>, Handle<SceneMaterial>, Transform)> = Vec::new();
    match state.pcode {
        PCode::Avatar | PCode::Tree | PCode::NewTree | PCode::Grass => {
            let pcode = u8::from(state.pcode);
            let meshes = &mut looks.meshes;
            let mesh = looks
                .cache
                .standins
                .entry((pcode, state.species))
                .or_insert_with(|| {
                    meshes.add(to_bevy_mesh(
                        &standin(state.pcode, state.species).unwrap_or_default(),
                    ))
                })
                .clone();
            // The avatar figure is in metres; trees and grass stand on their origin, unit sized.
            let transform = if state.pcode == PCode::Avatar {
                Transform::IDENTITY
            } else {
                Transform::from_scale(scale).with_translation(Vec3::new(0.0, -scale.y * 0.5, 0.0))
            };
            parts.push((mesh, looks.white(), transform));
        }
        PCode::Prim | PCode::Rock | PCode::Unknown(_) => {
            // Sculpties and meshes are built from their asset; until it is here (or if it
            // fails) their bounding box stands in.
            let shaped = if matches!(state.kind, ShapeKind::Sculpt | ShapeKind::Mesh) {
                looks.shaped(state, wanted)
            } else {
                None
            };
            let faces = if let Some((lod, faces)) = shaped {
                drawn = Some(lod);
                faces
            } else {
                let shape = if matches!(state.kind, ShapeKind::Sculpt | ShapeKind::Mesh) {
                    PrimShape::BOX
                } else {
                    state.shape
                };
                let meshes = &mut looks.meshes;
                looks
                    .cache
                    .prims
                    .entry(shape)
                    .or_insert_with(|| {
                        prim_mesh(&shape, Detail::Medium)
                            .faces
                            .iter()
                            .map(|f| (f.face, meshes.add(to_bevy_mesh(&f.mesh))))
                            .collect()
                    })
                    .clone()
            };
            for (face, mesh) in faces {
                let material = looks.material(FaceLook::of(state, face));
                parts.push((mesh, material, Transform::from_scale(scale)));
            }
        }
        // Particle systems and text bubbles have no geometry of their own.
        PCode::ParticleSystem | PCode::TextBubble => {}
    }
    commands.entity(entity).with_children(|c| {
        for (mesh, material, transform) in parts {
            c.spawn((
                ObjectGeometry,
                Mesh3d(mesh),
                SceneMaterial3d(material),
                transform,
            ));
        }
    });
    drawn
}

/// Builds sculpties and meshes again when their asset arrives or their size on screen asks
/// for another level of detail (checked four times a second, and whenever an asset arrives),
/// and counts what is drawn.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn refresh_asset_shapes(
    mut commands: Commands,
    mut looks: Looks,
    mut objects: Query<(Entity, &mut AssetShape, &GlobalTransform, Option<&Children>)>,
    geometry: Query<(), With<ObjectGeometry>>,
    cameras: Query<&GlobalTransform, With<crate::camera::ChaseCamera>>,
    time: Res<Time>,
    mut timer: Local<Option<Timer>>,
    mut seen: Local<u64>,
    mut counts: ResMut<ShapeCounts>,
) {
    let timer = timer.get_or_insert_with(|| Timer::from_seconds(0.25, TimerMode::Repeating));
    let due = timer.tick(time.delta()).just_finished();
    let generation = looks.shapes.as_ref().map_or(0, |s| s.generation);
    if !due && generation == *seen {
        return;
    }
    *seen = generation;
    let eye = cameras.iter().next().map(GlobalTransform::translation);
    let mut tally = ShapeCounts::default();
    for (entity, mut shape, global, children) in &mut objects {
        let wanted = eye.map_or(shape.wanted, |eye| {
            let s = shape.state.scale;
            let radius = Vec3::new(s.x, s.y, s.z).length() / 2.0;
            lod_for(radius, global.translation().distance(eye))
        });
        let available = looks.shaped(&shape.state, wanted).map(|(lod, _)| lod);
        if available != shape.drawn {
            for child in children.into_iter().flatten() {
                if geometry.contains(*child) {
                    commands.entity(*child).despawn();
                }
            }
            let state = shape.state.clone();
            shape.drawn = spawn_geometry(&mut commands, entity, &state, &mut looks, wanted);
        }
        shape.wanted = wanted;
        let drawn = shape.drawn.is_some();
        match (shape.state.kind, drawn) {
            (ShapeKind::Sculpt, true) => tally.sculpts_drawn += 1,
            (ShapeKind::Sculpt, false) => tally.sculpts_boxed += 1,
            (_, true) => tally.meshes_drawn += 1,
            (_, false) => tally.meshes_boxed += 1,
        }
    }
    if *counts != tally {
        *counts = tally;
    }
}

/// Applies full, compressed and terse updates and kills.
#[allow(clippy::too_many_arguments)]
fn apply_object_messages(
    mut commands: Commands,
    mut started: MessageReader<SessionStarted>,
    mut messages: MessageReader<RegionMessage>,
    mut index: ResMut<ObjectIndex>,
    mut looks: Looks,
    region: Res<RegionInfo>,
    mut counts: ResMut<SceneCounts>,
    mut objects: Query<(&mut SlObject, &mut Transform, Option<&Children>)>,
    geometry: Query<(), With<ObjectGeometry>>,
    mut textures: MessageWriter<TexturesReferenced>,
    mut shaped: MessageWriter<ShapesReferenced>,
) {
    let mut referenced = Vec::new();
    let mut shapes = ShapesReferenced::default();
    if started.read().last().is_some() {
        for (_, entity) in index.by_local.drain() {
            commands.entity(entity).try_despawn();
        }
        index.waiting.clear();
        index.parents.clear();
        index.invalid.clear();
        index.cycles.clear();
        index.untracked = 0;
    }
    let mut touched = false;
    for RegionMessage(message) in messages.read() {
        let states: Vec<ObjectState> = match &**message {
            Message::ObjectUpdate(u) => u.objects.iter().map(ObjectState::from_update).collect(),
            Message::ObjectUpdateCompressed(u) => {
                let mut states = Vec::with_capacity(u.objects.len());
                for block in &u.objects {
                    match block.object() {
                        Ok(o) => states.push(ObjectState::from_compressed(&o)),
                        Err(e) => index.problems.push(format!("compressed object: {e}")),
                    }
                }
                states
            }
            Message::ImprovedTerseObjectUpdate(u) => {
                for t in &u.objects {
                    match t.terse() {
                        Ok(t) => apply_terse(&mut index, &region, &mut objects, &t),
                        Err(e) => index.problems.push(format!("terse update: {e}")),
                    }
                }
                continue;
            }
            Message::KillObject(k) => {
                for id in &k.ids {
                    kill(&mut commands, &mut index, *id);
                }
                touched = true;
                continue;
            }
            _ => continue,
        };
        touched = true;
        for state in states {
            if let Some(te) = &state.texture_entry {
                referenced.extend(texture_ids(te));
            }
            if let Some((id, kind_byte)) = state.sculpt {
                if SculptType::from_byte(kind_byte).is_some() {
                    shapes.sculpt_maps.push(id);
                } else {
                    shapes.meshes.push(id);
                }
            }
            upsert(
                &mut commands,
                &mut index,
                &mut looks,
                &region,
                &mut objects,
                &geometry,
                state,
            );
        }
    }
    if !referenced.is_empty() {
        textures.write(TexturesReferenced(referenced));
    }
    if shapes != ShapesReferenced::default() {
        shaped.write(shapes);
    }
    if touched {
        let avatars = objects
            .iter()
            .filter(|(o, _, _)| {
                o.pcode == PCode::Avatar && index.by_local.contains_key(&o.local_id)
            })
            .count();
        counts.objects = index.by_local.len();
        counts.avatars = avatars;
    }
    let excess = index.problems.len().saturating_sub(200);
    index.problems.drain(..excess);
}

fn object_transform(state: &ObjectState) -> Transform {
    Transform::from_translation(Vec3::from_array(sl_to_bevy(state.position)))
        .with_rotation(Quat::from_array(sl_quat_to_bevy(state.rotation)).normalize())
}

#[allow(clippy::too_many_arguments)]
fn upsert(
    commands: &mut Commands,
    index: &mut ObjectIndex,
    looks: &mut Looks,
    region: &RegionInfo,
    objects: &mut Query<(&mut SlObject, &mut Transform, Option<&Children>)>,
    geometry: &Query<(), With<ObjectGeometry>>,
    mut state: ObjectState,
) {
    index.problems.extend(state.problems.iter().cloned());
    if state.parent != 0 && index.closes_cycle(state.local_id, state.parent) {
        let id = state.local_id;
        index.note_cycle(
            id,
            format!(
                "object {id}: parent {} would close a parent cycle; shown as a root",
                state.parent
            ),
        );
        state.parent = 0;
    }
    if let Some(why) = state.impossible(region.size) {
        let id = state.local_id;
        let known = index.by_local.contains_key(&id);
        index.note_invalid(
            id,
            format!(
                "object {id} ({:?}): {why}; not drawn{}",
                state.pcode,
                if known { ", removed" } else { "" }
            ),
        );
        if known {
            kill(commands, index, id);
        }
        return;
    }
    let component = SlObject {
        local_id: state.local_id,
        full_id: state.full_id,
        parent: state.parent,
        pcode: state.pcode,
        kind: state.kind,
    };
    let transform = object_transform(&state);
    let entity = match index.by_local.get(&state.local_id) {
        Some(&entity) => {
            // A full update replaces the geometry (shape, scale or colours may have changed).
            if let Ok((mut o, mut t, children)) = objects.get_mut(entity) {
                *o = component;
                *t = transform;
                for child in children.into_iter().flatten() {
                    if geometry.contains(*child) {
                        commands.entity(*child).despawn();
                    }
                }
            } else {
                commands.entity(entity).insert((component, transform));
                // Spawned this frame: its first geometry is not in the query yet; drop it.
                commands.entity(entity).despawn_related::<Children>();
            }
            entity
        }
        None => {
            let entity = commands
                .spawn((component, transform, Visibility::Inherited))
                .id();
            index.by_local.insert(state.local_id, entity);
            entity
        }
    };
    let mut e = commands.entity(entity);
    if state.pcode == PCode::Avatar {
        if let Some(name) = &state.name {
            e.insert(AvatarName(name.clone()));
        }
        if state.full_id == region.agent_id {
            e.insert(OwnAvatar);
        }
    }
    if state.parent == 0 {
        index.parents.remove(&state.local_id);
    } else {
        index.parents.insert(state.local_id, state.parent);
    }
    if state.parent == 0 {
        e.remove::<ChildOf>().insert(Visibility::Inherited);
    } else if let Some(&parent) = index.by_local.get(&state.parent) {
        e.insert((ChildOf(parent), Visibility::Inherited));
    } else {
        // The root has not arrived: keep the child hidden until it does.
        e.remove::<ChildOf>().insert(Visibility::Hidden);
        let waiting = index.waiting.entry(state.parent).or_default();
        if !waiting.contains(&state.local_id) {
            waiting.push(state.local_id);
        }
    }
    if matches!(state.kind, ShapeKind::Sculpt | ShapeKind::Mesh) && state.sculpt.is_some() {
        // Medium until its size on screen is measured (`refresh_asset_shapes`).
        let drawn = spawn_geometry(commands, entity, &state, looks, Lod::Medium);
        e = commands.entity(entity);
        e.insert(AssetShape {
            state: Box::new(state.clone()),
            drawn,
            wanted: Lod::Medium,
        });
    } else {
        commands.entity(entity).remove::<AssetShape>();
        spawn_geometry(commands, entity, &state, looks, Lod::Medium);
    }
    // Adopt children that arrived before this root.
    for child in index.waiting.remove(&state.local_id).unwrap_or_default() {
        if let Some(&c) = index.by_local.get(&child) {
            commands
                .entity(c)
                .insert((ChildOf(entity), Visibility::Inherited));
        }
    }
}

fn apply_terse(
    index: &mut ObjectIndex,
    region: &RegionInfo,
    objects: &mut Query<(&mut SlObject, &mut Transform, Option<&Children>)>,
    t: &TerseData,
) {
    if let Some(&entity) = index.by_local.get(&t.local_id)
        && let Ok((o, mut transform, _)) = objects.get_mut(entity)
    {
        let parent = index.parents.get(&t.local_id).copied().unwrap_or(0);
        if let Some(why) = impossible_placement(parent, t.position, t.rotation, None, region.size) {
            index.note_invalid(
                t.local_id,
                format!(
                    "object {} ({:?}): terse update: {why}; ignored, it stays where it was",
                    t.local_id, o.pcode
                ),
            );
            return;
        }
        transform.translation = Vec3::from_array(sl_to_bevy(t.position));
        transform.rotation = Quat::from_array(sl_quat_to_bevy(t.rotation)).normalize();
    }
}

/// Removes an object, its linked children and their index entries.
fn kill(commands: &mut Commands, index: &mut ObjectIndex, id: u32) {
    let mut doomed = vec![id];
    while let Some(gone) = doomed.pop() {
        // Despawning is recursive for linked children already adopted; waiting ones are not
        // attached, so each goes explicitly.
        if let Some(entity) = index.by_local.remove(&gone) {
            commands.entity(entity).try_despawn();
        }
        index.parents.remove(&gone);
        index.waiting.remove(&gone);
        doomed.extend(
            index
                .parents
                .iter()
                .filter(|&(_, p)| *p == gone)
                .map(|(c, _)| *c),
        );
    }
    index
        .waiting
        .values_mut()
        .for_each(|v| v.retain(|c| *c != id));
}

/// Our own avatar, when it is not seated on something, whose transform changed.
type OwnAvatarMoved = (With<OwnAvatar>, Without<ChildOf>, Changed<Transform>);

/// Our avatar's updates move the camera's target.
fn track_own_avatar(own: Query<&Transform, OwnAvatarMoved>, mut pose: ResMut<AgentPose>) {
    if let Some(t) = own.iter().next()
        && pose.placed
    {
        pose.position = t.translation;
        let forward = t.rotation * Vec3::X;
        if forward.x != 0.0 || forward.z != 0.0 {
            pose.heading = (-forward.z).atan2(forward.x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlook_protocol::message::object::{
        ImprovedTerseObjectUpdate, KillObject, ObjectData, ObjectUpdate, TerseObject,
    };
    use overlook_protocol::types::{Quat as SlQuat, Vec3 as SlVec3};

    fn app() -> App {
        let mut app = crate::net::plugin::plugin_test_app();
        app.add_plugins(ObjectsPlugin);
        app
    }

    #[test]
    fn the_level_of_detail_follows_size_on_screen_like_slv() {
        // A 2 m object (radius ~1.73 m for a 2 m cube) from near to far: the thresholds at
        // radius × 1.25 / distance = 0.24, 0.06 and 0.03.
        let r = 3f32.sqrt();
        let at = |tan: f32| r * LOD_FACTOR / tan;
        assert_eq!(lod_for(r, 1.0), Lod::High);
        assert_eq!(lod_for(r, at(0.24) * 0.99), Lod::High);
        assert_eq!(lod_for(r, at(0.24) * 1.01), Lod::Medium);
        assert_eq!(lod_for(r, at(0.06) * 1.01), Lod::Low);
        assert_eq!(lod_for(r, at(0.03) * 1.01), Lod::Lowest);
        assert_eq!(lod_for(r, 0.0), Lod::High, "at the eye");
        assert_eq!(lod_for(f32::NAN, 10.0), Lod::Lowest);
        // Sculpt surfaces: the two lowest share SL's low detail.
        assert_eq!(sculpt_detail(Lod::Lowest), Detail::Low);
        assert_eq!(sculpt_detail(Lod::Low), Detail::Low);
        assert_eq!(sculpt_detail(Lod::High), Detail::High);
    }

    fn motion(x: f32, y: f32, z: f32) -> Vec<u8> {
        let mut blob = vec![0u8; 60];
        for (i, v) in [x, y, z].into_iter().enumerate() {
            blob[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        blob
    }

    fn prim(id: u32, parent: u32, at: (f32, f32, f32)) -> ObjectData {
        ObjectData {
            id,
            parent_id: parent,
            full_id: Uuid([u8::try_from(id).unwrap(); 16]),
            scale: SlVec3::new(1.0, 2.0, 3.0),
            object_data: motion(at.0, at.1, at.2),
            shape: PrimShape::BOX,
            ..ObjectData::default()
        }
    }

    fn send(app: &mut App, m: Message) {
        app.world_mut().write_message(RegionMessage(Box::new(m)));
        app.update();
    }

    fn update(objects: Vec<ObjectData>) -> Message {
        Message::ObjectUpdate(ObjectUpdate {
            region_handle: 0,
            time_dilation: 0,
            objects,
        })
    }

    fn entity(app: &App, id: u32) -> Option<Entity> {
        app.world()
            .resource::<ObjectIndex>()
            .by_local
            .get(&id)
            .copied()
    }

    #[test]
    fn spawns_a_box_with_six_faces_at_its_position_and_scale() {
        let mut app = app();
        send(&mut app, update(vec![prim(10, 0, (100.0, 50.0, 25.0))]));
        let e = entity(&app, 10).expect("spawned");
        let world = app.world();
        assert_eq!(
            world.get::<Transform>(e).unwrap().translation,
            Vec3::new(100.0, 25.0, -50.0)
        );
        let faces = world.get::<Children>(e).unwrap();
        assert_eq!(faces.len(), 6, "a box has six faces");
        let face = world.get::<Transform>(faces[0]).unwrap();
        assert_eq!(
            face.scale,
            Vec3::new(1.0, 3.0, 2.0),
            "SL scale in Bevy axes"
        );
        assert_eq!(world.resource::<SceneCounts>().objects, 1);
    }

    #[test]
    fn an_orphan_waits_hidden_until_its_root_arrives() {
        let mut app = app();
        send(&mut app, update(vec![prim(21, 20, (1.0, 0.0, 0.0))]));
        let child = entity(&app, 21).unwrap();
        assert_eq!(
            app.world().get::<Visibility>(child),
            Some(&Visibility::Hidden)
        );
        assert!(app.world().get::<ChildOf>(child).is_none());
        send(&mut app, update(vec![prim(20, 0, (10.0, 10.0, 10.0))]));
        let root = entity(&app, 20).unwrap();
        assert_eq!(
            app.world().get::<ChildOf>(child).map(ChildOf::parent),
            Some(root)
        );
        assert_eq!(
            app.world().get::<Visibility>(child),
            Some(&Visibility::Inherited)
        );
        // Placed relative to the root: 1 m east of it.
        app.update();
        let gt = app.world().get::<GlobalTransform>(child).unwrap();
        assert!((gt.translation() - Vec3::new(11.0, 10.0, -10.0)).length() < 1e-4);
        assert!(app.world().resource::<ObjectIndex>().waiting.is_empty());
    }

    #[test]
    fn a_terse_update_moves_and_a_kill_removes_the_linkset() {
        let mut app = app();
        send(
            &mut app,
            update(vec![
                prim(30, 0, (5.0, 5.0, 5.0)),
                prim(31, 30, (0.0, 0.0, 1.0)),
            ]),
        );
        let root = entity(&app, 30).unwrap();
        let terse = TerseData {
            local_id: 30,
            state: 0,
            collision_plane: None,
            position: SlVec3::new(6.0, 7.0, 8.0),
            velocity: SlVec3::ZERO,
            acceleration: SlVec3::ZERO,
            rotation: SlQuat::default(),
            angular_velocity: SlVec3::ZERO,
        };
        send(
            &mut app,
            Message::ImprovedTerseObjectUpdate(ImprovedTerseObjectUpdate {
                region_handle: 0,
                time_dilation: 0,
                objects: vec![TerseObject {
                    data: terse.to_bytes(),
                    texture_entry: Vec::new(),
                }],
            }),
        );
        assert_eq!(
            app.world().get::<Transform>(root).unwrap().translation,
            Vec3::new(6.0, 8.0, -7.0)
        );
        let child = entity(&app, 31).unwrap();
        send(&mut app, Message::KillObject(KillObject { ids: vec![30] }));
        assert!(app.world().get_entity(root).is_err());
        assert!(
            app.world().get_entity(child).is_err(),
            "children go with their root"
        );
        let index = app.world().resource::<ObjectIndex>();
        assert!(index.by_local.is_empty() && index.parents.is_empty());
        assert_eq!(app.world().resource::<SceneCounts>().objects, 0);
    }

    #[test]
    fn every_captured_object_spawns_with_geometry() {
        let mut app = app();
        let states = crate::objects::state::tests::captured_objects();
        let ids: std::collections::BTreeSet<u32> = states.iter().map(|s| s.local_id).collect();
        // Replay the captured sessions' object messages.
        for m in crate::objects::state::tests::captured_messages() {
            app.world_mut().write_message(RegionMessage(Box::new(m)));
        }
        app.update();
        let index = app.world().resource::<ObjectIndex>();
        assert_eq!(
            index
                .by_local
                .keys()
                .copied()
                .collect::<std::collections::BTreeSet<_>>(),
            ids
        );
        assert!(index.problems.is_empty(), "{:?}", index.problems);
        let mut with_geometry = 0;
        for e in index.by_local.values() {
            if app
                .world()
                .get::<Children>(*e)
                .is_some_and(|c| !c.is_empty())
            {
                with_geometry += 1;
            }
        }
        assert_eq!(with_geometry, ids.len());
    }

    fn terse(id: u32, position: SlVec3) -> Message {
        let data = TerseData {
            local_id: id,
            state: 0,
            collision_plane: None,
            position,
            velocity: SlVec3::ZERO,
            acceleration: SlVec3::ZERO,
            rotation: SlQuat::default(),
            angular_velocity: SlVec3::ZERO,
        };
        Message::ImprovedTerseObjectUpdate(ImprovedTerseObjectUpdate {
            region_handle: 0,
            time_dilation: 0,
            objects: vec![TerseObject {
                data: data.to_bytes(),
                texture_entry: Vec::new(),
            }],
        })
    }

    fn problems(app: &App) -> Vec<String> {
        app.world().resource::<ObjectIndex>().problems.clone()
    }

    #[test]
    fn objects_at_impossible_places_are_counted_named_and_not_drawn() {
        let mut app = app();
        let mut huge = prim(42, 0, (10.0, 10.0, 10.0));
        huge.scale = SlVec3::new(1.0, f32::INFINITY, 1.0);
        let mut flat = prim(43, 0, (10.0, 10.0, 10.0));
        flat.scale = SlVec3::new(-1.0, 1.0, 1.0);
        send(
            &mut app,
            update(vec![
                prim(40, 0, (f32::NAN, 10.0, 10.0)),
                prim(41, 0, (1e30, 10.0, 10.0)),
                huge,
                flat,
                prim(44, 0, (128.0, 128.0, 30.0)),
            ]),
        );
        for id in 40..=43 {
            assert!(entity(&app, id).is_none(), "object {id} drawn");
        }
        assert!(entity(&app, 44).is_some(), "the good one is drawn");
        let index = app.world().resource::<ObjectIndex>();
        assert_eq!(index.invalid_count(), 4);
        assert_eq!(index.by_local.len(), 1);
        for (id, what) in [
            (40, "not finite"),
            (41, "outside the region"),
            (42, "size"),
            (43, "size"),
        ] {
            assert!(
                index
                    .problems
                    .iter()
                    .any(|p| p.starts_with(&format!("object {id} ")) && p.contains(what)),
                "{id}: {:?}",
                index.problems
            );
        }
        assert_eq!(app.world().resource::<SceneCounts>().objects, 1);
    }

    #[test]
    fn an_update_to_an_impossible_place_removes_a_drawn_object_and_its_children() {
        let mut app = app();
        send(
            &mut app,
            update(vec![
                prim(50, 0, (5.0, 5.0, 5.0)),
                prim(51, 50, (0.0, 0.0, 1.0)),
            ]),
        );
        let (root, child) = (entity(&app, 50).unwrap(), entity(&app, 51).unwrap());
        send(&mut app, update(vec![prim(50, 0, (5.0, 5.0, -1e9))]));
        assert!(app.world().get_entity(root).is_err());
        assert!(app.world().get_entity(child).is_err());
        let index = app.world().resource::<ObjectIndex>();
        assert_eq!(index.invalid_count(), 1);
        assert!(index.problems.iter().any(|p| p.contains("removed")));
        // A good update brings it back; it stays counted as having sent impossible data.
        send(&mut app, update(vec![prim(50, 0, (5.0, 5.0, 5.0))]));
        assert!(entity(&app, 50).is_some());
        assert_eq!(app.world().resource::<ObjectIndex>().invalid_count(), 1);
    }

    #[test]
    fn a_terse_update_to_an_impossible_place_is_ignored_and_reported() {
        let mut app = app();
        send(&mut app, update(vec![prim(60, 0, (5.0, 5.0, 5.0))]));
        let e = entity(&app, 60).unwrap();
        for bad in [
            SlVec3::new(f32::NAN, 5.0, 5.0),
            SlVec3::new(5.0, f32::NEG_INFINITY, 5.0),
            SlVec3::new(5.0, 5.0, 3.4e38),
        ] {
            send(&mut app, terse(60, bad));
            assert_eq!(
                app.world().get::<Transform>(e).unwrap().translation,
                Vec3::new(5.0, 5.0, -5.0),
                "{bad:?}"
            );
        }
        assert_eq!(app.world().resource::<ObjectIndex>().invalid_count(), 1);
        assert_eq!(
            problems(&app)
                .iter()
                .filter(|p| p.starts_with("object 60 ") && p.contains("terse update"))
                .count(),
            3
        );
        // A good one still moves it.
        send(&mut app, terse(60, SlVec3::new(6.0, 6.0, 6.0)));
        assert_eq!(
            app.world().get::<Transform>(e).unwrap().translation,
            Vec3::new(6.0, 6.0, -6.0)
        );
    }

    #[test]
    fn the_own_avatar_sent_to_nan_keeps_the_camera_at_its_last_good_place() {
        let mut app = app();
        let agent = Uuid([7; 16]);
        app.world_mut().resource_mut::<RegionInfo>().agent_id = agent;
        app.world_mut().resource_mut::<AgentPose>().placed = true;
        let mut avatar = prim(70, 0, (128.0, 128.0, 26.0));
        avatar.pcode = PCode::Avatar;
        avatar.full_id = agent;
        send(&mut app, update(vec![avatar.clone()]));
        app.update();
        let good = app.world().resource::<AgentPose>().position;
        assert_eq!(good, Vec3::new(128.0, 26.0, -128.0));
        send(&mut app, terse(70, SlVec3::new(f32::NAN, 128.0, 26.0)));
        app.update();
        assert_eq!(app.world().resource::<AgentPose>().position, good);
        avatar.object_data = motion(f32::NAN, f32::NAN, f32::NAN);
        send(&mut app, update(vec![avatar]));
        app.update();
        let pose = app.world().resource::<AgentPose>();
        assert_eq!(pose.position, good);
        assert!(pose.position.is_finite() && pose.heading.is_finite());
        let problems = problems(&app);
        assert_eq!(
            problems
                .iter()
                .filter(|p| p.starts_with("object 70 (Avatar)"))
                .count(),
            2,
            "{problems:?}"
        );
    }

    #[test]
    fn parent_cycles_and_self_parents_are_reported_and_shown_as_roots() {
        let mut app = app();
        // A self-parent, and a two-object cycle arriving in one message and then in two.
        send(&mut app, update(vec![prim(80, 80, (10.0, 10.0, 10.0))]));
        let e80 = entity(&app, 80).unwrap();
        assert!(app.world().get::<ChildOf>(e80).is_none());
        assert_eq!(
            app.world().get::<Visibility>(e80),
            Some(&Visibility::Inherited)
        );
        send(
            &mut app,
            update(vec![
                prim(81, 82, (1.0, 0.0, 0.0)),
                prim(82, 81, (20.0, 20.0, 20.0)),
            ]),
        );
        let (e81, e82) = (entity(&app, 81).unwrap(), entity(&app, 82).unwrap());
        // 81 arrived first and waits for 82; 82's link back to 81 would close the cycle, so
        // 82 is a root and adopts 81.
        assert!(app.world().get::<ChildOf>(e82).is_none());
        assert_eq!(
            app.world().get::<ChildOf>(e81).map(ChildOf::parent),
            Some(e82)
        );
        app.update();
        let index = app.world().resource::<ObjectIndex>();
        assert_eq!(
            index
                .cycles
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>(),
            [80, 82].into()
        );
        assert!(
            index
                .problems
                .iter()
                .any(|p| p.starts_with("object 80: parent 80"))
        );
        assert!(
            index
                .problems
                .iter()
                .any(|p| p.starts_with("object 82: parent 81"))
        );
        assert!(!index.parents.contains_key(&80) && !index.parents.contains_key(&82));
        // Transforms propagate without looping: the child is 1 m east of its root.
        let gt = app.world().get::<GlobalTransform>(e81).unwrap();
        assert!((gt.translation() - Vec3::new(21.0, 20.0, -20.0)).length() < 1e-4);
        // A later update of 81 that closes the loop the other way is refused too.
        send(&mut app, update(vec![prim(82, 81, (20.0, 20.0, 20.0))]));
        assert!(
            app.world()
                .get::<ChildOf>(entity(&app, 82).unwrap())
                .is_none()
        );
    }
}
