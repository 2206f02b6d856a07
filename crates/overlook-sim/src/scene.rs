//! The embedded region's default scene, as plain data: every prim shape and its variants, a
//! linkset, trees and grass, one object that moves and one that is deleted and re-created.
//!
//! The 33 objects of the OpenSim 0.9.2.2 captures (`shared/captures/opensim-0.9.2.2/README.md`,
//! "Scene content") are reproduced with the same names, shapes, scales, texture entries and
//! offsets from the island centre, so a 256 m region shows the captured scene at the captured
//! positions; two objects are added: a cyan sphere orbiting ([`SceneObject::motion`], sent as
//! ImprovedTerseObjectUpdate) and a magenta box that blinks ([`SceneObject::blink`], sent as
//! KillObject and a fresh update). Heights come from the heightmap, so every object stands on
//! the ground wherever the terrain came from.
//!
//! Encoders to the wire forms ([`SceneObject::to_object_data`],
//! [`SceneObject::to_compressed`], [`SceneObject::terse`], [`avatar_object`]) live in
//! [`encode`]. Everything here is pure; the region decides when to send what.

use core::f32::consts::TAU;

use crate::terrain::height_at;
use crate::terrain::shape::{f32_of, splitmix64};
use overlook_protocol::message::object::{ExtraParam, ExtraParams, PCode, PrimShape, Sculpt};
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::{Quat, Uuid, Vec3};

pub mod encode;
mod layout;

pub use encode::{avatar_object, compressed_updates, object_updates};
use layout::{BLINKER, Entry, Kind, LINK_CHILD, MOVER, layout};

/// Local ids of the default scene: object `i` of [`default_scene`] has `SCENE_FIRST_ID + i`.
/// Give avatars and anything else ids outside `SCENE_FIRST_ID..SCENE_FIRST_ID + 4096`.
pub const SCENE_FIRST_ID: u32 = 0x2000_0000;

/// OpenSim's default plywood texture, on every face of a new prim (and of the captures' prims;
/// this region's prims wear its own [`crate::textures::ORIENTED`] instead).
pub const PLYWOOD: Uuid = Uuid([
    0x89, 0x55, 0x67, 0x47, 0x24, 0xcb, 0x43, 0xed, 0x92, 0x0b, 0x47, 0xca, 0xed, 0x15, 0x46, 0x5f,
]);

/// `UpdateFlags` of a prim as OpenSim sent them to its owner in the captures (modify, copy,
/// any/you owner, move, inventory empty, transfer, owner modify).
pub const PRIM_FLAGS: u32 = 0x1002_093C;
/// `UpdateFlags` of trees and grass in the captures: [`PRIM_FLAGS`] plus phantom.
pub const TREE_FLAGS: u32 = 0x1002_0D3C;

/// A circular path the moving object follows at constant height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orbit {
    /// Centre of the circle (region metres).
    pub centre: Vec3,
    /// Radius, metres.
    pub radius: f32,
    /// Seconds per turn (anticlockwise seen from above).
    pub period_secs: f32,
}

impl Orbit {
    /// The angle at time `t` seconds, radians.
    fn angle(&self, t: f32) -> f32 {
        let period = self.period_secs.max(1e-3);
        TAU * t.rem_euclid(period) / period
    }

    /// Where the object is at `t` seconds: `centre + radius·(cos, sin, 0)`.
    pub fn position_at(&self, t: f32) -> Vec3 {
        let (s, c) = self.angle(t).sin_cos();
        Vec3::new(
            self.centre.x + self.radius * c,
            self.centre.y + self.radius * s,
            self.centre.z,
        )
    }

    /// Its velocity at `t`, metres per second (tangent to the circle).
    pub fn velocity_at(&self, t: f32) -> Vec3 {
        let (s, c) = self.angle(t).sin_cos();
        let speed = TAU * self.radius / self.period_secs.max(1e-3);
        Vec3::new(-speed * s, speed * c, 0.0)
    }

    /// Its rotation at `t`: facing along the direction of travel.
    pub fn rotation_at(&self, t: f32) -> Quat {
        Quat::from_yaw(self.angle(t) + TAU / 4.0)
    }
}

/// An object that is deleted and re-created over and over: present for the first
/// `present_secs` of every `period_secs`, starting at `t = 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blink {
    /// Length of one cycle, seconds.
    pub period_secs: f32,
    /// How long the object exists in each cycle, seconds.
    pub present_secs: f32,
}

impl Blink {
    /// Whether the object exists at `t` seconds (negative times count as cycle time too).
    pub fn present_at(&self, t: f32) -> bool {
        t.rem_euclid(self.period_secs.max(1e-3)) < self.present_secs
    }
}

/// One object of the scene.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneObject {
    /// What it was called when rezzed (not sent in updates; OpenSim sends names only in
    /// ObjectProperties).
    pub name: String,
    /// Region-local id.
    pub local_id: u32,
    /// The object's UUID.
    pub full_id: Uuid,
    /// CRC for the viewer cache.
    pub crc: u32,
    /// Prim, tree, new tree or grass.
    pub pcode: PCode,
    /// Trees and grass: the species.
    pub state: u8,
    /// Physical material (3 wood for prims, 0 for plants, as OpenSim sends).
    pub material: u8,
    /// Local id of the root prim for a linkset child, 0 for roots.
    pub parent_id: u32,
    /// Region-local for roots, root-relative for children; for the mover, where it is at t = 0.
    pub position: Vec3,
    /// Rotation (root-relative for children).
    pub rotation: Quat,
    /// Size, metres.
    pub scale: Vec3,
    /// Shape parameters (all zero for plants).
    pub shape: PrimShape,
    /// TextureEntry bytes (empty for plants).
    pub texture_entry: Vec<u8>,
    /// The `ExtraParams` blob as sent in a full update (empty: none; sculpts and meshes carry
    /// their 0x30 entry here).
    pub extra_params: Vec<u8>,
    /// `UpdateFlags`.
    pub update_flags: u32,
    /// `Some` for the object that moves.
    pub motion: Option<Orbit>,
    /// `Some` for the object that is deleted and re-created.
    pub blink: Option<Blink>,
}

impl SceneObject {
    /// Where the object is at `t` seconds.
    pub fn position_at(&self, t: f32) -> Vec3 {
        self.motion.map_or(self.position, |m| m.position_at(t))
    }

    /// Its rotation at `t` seconds.
    pub fn rotation_at(&self, t: f32) -> Quat {
        self.motion.map_or(self.rotation, |m| m.rotation_at(t))
    }

    /// Its velocity at `t` seconds.
    pub fn velocity_at(&self, t: f32) -> Vec3 {
        self.motion.map_or(Vec3::ZERO, |m| m.velocity_at(t))
    }

    /// Whether it exists at `t` seconds.
    pub fn present_at(&self, t: f32) -> bool {
        self.blink.is_none_or(|b| b.present_at(t))
    }

    /// True for trees and grass (sent with a species byte and no shape).
    pub fn is_plant(&self) -> bool {
        matches!(self.pcode, PCode::Tree | PCode::NewTree | PCode::Grass)
    }

    /// A prim that stands on its own: no parent, not moving, not blinking (what
    /// [`scattered_prims`] copies).
    pub fn is_standalone_prim(&self) -> bool {
        self.pcode == PCode::Prim
            && self.parent_id == 0
            && self.motion.is_none()
            && self.blink.is_none()
    }
}

/// The island's centre for a region of `size_x` × `size_y` metres (where [`default_scene`]
/// builds and where the default avatar stands).
pub fn island_centre(size_x: u32, size_y: u32) -> (f32, f32) {
    (f32_of(size_x) / 2.0, f32_of(size_y) / 2.0)
}

/// How far an avatar's centre is above the ground it stands on (the captures: 26.04 on 25.0 m,
/// the story's 26.03).
pub const AVATAR_STAND_HEIGHT: f32 = 1.03;

/// The default spawn point: the island centre, standing on the ground (`<128, 128, 26.03>` on
/// the default 256 m island).
pub fn spawn_point(map: &Heightmap) -> Vec3 {
    let (x, y) = island_centre(map.size_x(), map.size_y());
    Vec3::new(x, y, height_at(map, x, y) + AVATAR_STAND_HEIGHT)
}

/// A deterministic version-4 UUID for object `index` of the scene made with `seed`.
fn object_uuid(seed: u64, index: u64) -> Uuid {
    let a = splitmix64(seed ^ 0x5CE4_E000_0000_0000 ^ index);
    let b = splitmix64(a);
    let mut v = (u128::from(a) << 64) | u128::from(b);
    // Version 4 (byte 6 high nibble) and the RFC 4122 variant (byte 8 top bits 10).
    v = (v & !(0xF << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    Uuid(v.to_be_bytes())
}

/// The default scene on `map`, around the island centre: the 33 captured objects and the two
/// animated ones, each standing on the ground (`z = ground + height / 2` for prims, the ground
/// for plants). Object `i` gets local id [`SCENE_FIRST_ID`]` + i`; UUIDs and CRCs derive from
/// `seed`. Roots come before their children.
pub fn default_scene(map: &Heightmap, seed: u64) -> Vec<SceneObject> {
    let (cx, cy) = island_centre(map.size_x(), map.size_y());
    let mut objects: Vec<SceneObject> = Vec::new();
    for (entry, index) in layout().into_iter().zip(0u32..) {
        let Entry {
            name,
            offset: (dx, dy),
            scale,
            yaw_deg,
            kind,
        } = entry;
        let (x, y) = (cx + dx, cy + dy);
        let ground = height_at(map, x, y);
        let mut extra_params = Vec::new();
        let (pcode, state, material, shape, texture_entry, update_flags, z) = match kind {
            Kind::Prim(shape, te) => (
                PCode::Prim,
                0,
                3,
                shape,
                te,
                PRIM_FLAGS,
                ground + scale.z / 2.0,
            ),
            Kind::Asset(te, texture, kind_byte) => {
                // SL's shape for sculpties and meshes: circle path, circle profile.
                extra_params = ExtraParams {
                    params: vec![ExtraParam::Sculpt(Sculpt { texture, kind_byte })],
                }
                .to_bytes()
                .unwrap_or_default();
                (
                    PCode::Prim,
                    0,
                    3,
                    PrimShape::with_curves(0x20, 0x00),
                    te,
                    PRIM_FLAGS,
                    ground + scale.z / 2.0,
                )
            }
            Kind::Plant(pcode, species) => (
                pcode,
                species,
                0,
                PrimShape::default(),
                Vec::new(),
                TREE_FLAGS,
                ground,
            ),
        };
        let idx = u64::from(index);
        let mut object = SceneObject {
            name: name.to_owned(),
            local_id: SCENE_FIRST_ID + index,
            full_id: object_uuid(seed, idx),
            crc: u32::try_from(splitmix64(seed.wrapping_add(idx)) >> 32).unwrap_or(0),
            pcode,
            state,
            material,
            parent_id: 0,
            position: Vec3::new(x, y, z),
            rotation: Quat::from_yaw(yaw_deg.to_radians()),
            scale,
            shape,
            texture_entry,
            extra_params,
            update_flags,
            motion: None,
            blink: None,
        };
        let i = usize::try_from(index).unwrap_or(usize::MAX);
        if i == LINK_CHILD
            && let Some(root) = objects.last()
        {
            object.parent_id = root.local_id;
            // Resting on top of the root.
            object.position = Vec3::new(0.0, 0.0, (root.scale.z + object.scale.z) / 2.0);
        }
        if i == MOVER {
            let radius = 2.5;
            let highest = (0..8)
                .map(|k| {
                    let a = TAU * f32_of(k) / 8.0;
                    height_at(map, x + radius * a.cos(), y + radius * a.sin())
                })
                .fold(ground, f32::max);
            let orbit = Orbit {
                centre: Vec3::new(x, y, highest + 1.0),
                radius,
                period_secs: 12.0,
            };
            object.position = orbit.position_at(0.0);
            object.rotation = orbit.rotation_at(0.0);
            object.motion = Some(orbit);
        }
        if i == BLINKER {
            object.blink = Some(Blink {
                period_secs: 10.0,
                present_secs: 7.0,
            });
        }
        objects.push(object);
    }
    objects
}

/// `count` more prims scattered over the whole region, each standing on the ground: a load test
/// for viewers (`overlook sim --extra-prims N`). They are copies of `scene`'s stand-alone prims
/// (no parent, not moving or blinking), cycled, at pseudo-random places and headings drawn
/// from `seed`. Local ids follow the highest of `scene`'s; UUIDs are as unique as the scene's.
pub fn scattered_prims(
    map: &Heightmap,
    seed: u64,
    scene: &[SceneObject],
    count: u32,
) -> Vec<SceneObject> {
    scattered_copies(map, seed, scene, count, |_| true)
}

/// [`scattered_prims`] of `scene`'s mesh objects only (`overlook sim --extra-meshes N`: many
/// objects sharing few mesh assets, as a region with furniture has).
pub fn scattered_meshes(
    map: &Heightmap,
    seed: u64,
    scene: &[SceneObject],
    count: u32,
) -> Vec<SceneObject> {
    use overlook_protocol::message::object::{ExtraParams, SculptKind};
    let is_mesh = |o: &SceneObject| {
        ExtraParams::parse(&o.extra_params)
            .ok()
            .and_then(|p| p.sculpt().map(|s| s.kind() == SculptKind::Mesh))
            .unwrap_or(false)
    };
    scattered_copies(map, seed ^ 0x4D45_5348, scene, count, is_mesh)
}

fn scattered_copies(
    map: &Heightmap,
    seed: u64,
    scene: &[SceneObject],
    count: u32,
    keep: impl Fn(&SceneObject) -> bool,
) -> Vec<SceneObject> {
    let templates: Vec<&SceneObject> = scene
        .iter()
        .filter(|o| o.is_standalone_prim() && keep(o))
        .collect();
    let first_id = scene
        .iter()
        .map(|o| o.local_id)
        .max()
        .unwrap_or(SCENE_FIRST_ID)
        + 1;
    let (size_x, size_y) = (f32_of(map.size_x()), f32_of(map.size_y()));
    let unit = |v: u64| f32_of(u32::try_from(v >> 40).unwrap_or(0)) / f32_of(1 << 24);
    let mut out = Vec::new();
    for (k, template) in (0..count).zip(templates.iter().cycle()) {
        let index = 1_000_000 + u64::from(k);
        let r = splitmix64(seed ^ 0x5CA7_7E40_0000_0000 ^ index);
        let (x, y) = (
            unit(r) * (size_x - 2.0) + 1.0,
            unit(splitmix64(r)) * (size_y - 2.0) + 1.0,
        );
        let yaw = unit(splitmix64(r ^ 1)) * TAU;
        let mut object = (*template).clone();
        object.local_id = first_id + k;
        object.full_id = object_uuid(seed, index);
        object.crc = u32::try_from(r >> 32).unwrap_or(0);
        object.position = Vec3::new(x, y, height_at(map, x, y) + object.scale.z / 2.0);
        object.rotation = Quat::from_yaw(yaw);
        out.push(object);
    }
    out
}

#[cfg(test)]
mod tests;
