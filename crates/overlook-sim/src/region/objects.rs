//! What the region shows besides terrain: the scene as a [`SceneSource`] (objects as full
//! `ObjectUpdate` blocks, optionally also as `ObjectUpdateCompressed` blocks for those that stay
//! put, objects that move, objects that come and go), the avatars it builds itself
//! ([`avatar_object`]), and the packing of both into datagram-sized messages.
//!
//! The scene is handed over already encoded so the region does not depend on how it was made:
//! the default scene module builds `ObjectData` blocks, tests build a few by hand.

use crate::pack_blocks;
use overlook_protocol::message::MessageRepr;
use overlook_protocol::message::object::{
    CompressedBlock, ImprovedTerseObjectUpdate, Motion, MotionData, ObjectData, ObjectUpdate,
    ObjectUpdateCompressed, PCode, PrimShape, TerseData, TerseObject, TextureEntry,
};
use overlook_protocol::types::{Quat, Uuid, Vec3, Vec4, f32_from_f64};

/// Where a moving object is at some instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoverState {
    /// The object's local id (one of [`SceneSource::objects`]).
    pub local_id: u32,
    /// Region-local position (parent-relative for a child prim).
    pub position: Vec3,
    /// Rotation.
    pub rotation: Quat,
}

/// The objects a region serves. Time `t` is in seconds since the region was created.
///
/// Implementations must be cheap to call: the region asks for movers and hidden objects on every
/// scene tick (10 Hz by default) while agents are in the scene.
pub trait SceneSource: Send {
    /// Every object as a full `ObjectUpdate` block, local ids unique (the region refuses
    /// duplicates). Called once, when the region is created.
    fn objects(&self) -> Vec<ObjectData>;

    /// Objects that move, with where they are at `t`; sent as `ImprovedTerseObjectUpdate`.
    fn movers(&self, _t: f64) -> Vec<MoverState> {
        Vec::new()
    }

    /// Local ids of objects that are absent at `t`. When an object becomes absent the region
    /// sends `KillObject`; when it comes back, a fresh full `ObjectUpdate`.
    fn hidden(&self, _t: f64) -> Vec<u32> {
        Vec::new()
    }

    /// The object as an `ObjectUpdateCompressed` block, for objects that stay as they are:
    /// OpenSim sends objects unchanged for a while compressed and recently changed ones as
    /// full updates. `None` (the default) sends the object as a full `ObjectUpdate`; objects
    /// that move or come and go should answer `None`. Only the first sending of the scene to
    /// an agent uses this; a re-created object is always a full update.
    fn compressed(&self, _local_id: u32) -> Option<CompressedBlock> {
        None
    }
}

/// A scene of objects that never move or vanish.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaticScene {
    /// The objects.
    pub objects: Vec<ObjectData>,
}

impl SceneSource for StaticScene {
    fn objects(&self) -> Vec<ObjectData> {
        self.objects.clone()
    }
}

/// A small scene for tests and demos: a row of boxes, one that circles and one that blinks
/// (killed and re-created every `blink_period` seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoScene {
    /// The boxes; the first circles, the second blinks (when there are that many).
    pub boxes: Vec<ObjectData>,
    /// Centre of the circling box's path.
    pub orbit_centre: Vec3,
    /// Radius of the path in metres.
    pub orbit_radius: f32,
    /// Seconds per turn.
    pub orbit_period: f64,
    /// Seconds the blinking box is present, then as long absent.
    pub blink_period: f64,
}

impl DemoScene {
    /// `n` 1 m boxes in a row east of `(100, 100, 30)`, local ids `1..=n`.
    pub fn new(n: u32) -> Self {
        let boxes = (1..=n)
            .map(|i| {
                let x = 100.0 + 2.0 * small_f32(i);
                prim_box(i, Vec3::new(x, 100.0, 30.0), Vec3::new(1.0, 1.0, 1.0))
            })
            .collect();
        DemoScene {
            boxes,
            orbit_centre: Vec3::new(110.0, 110.0, 32.0),
            orbit_radius: 4.0,
            orbit_period: 8.0,
            blink_period: 2.0,
        }
    }
}

impl SceneSource for DemoScene {
    fn objects(&self) -> Vec<ObjectData> {
        self.boxes.clone()
    }

    fn movers(&self, t: f64) -> Vec<MoverState> {
        let Some(first) = self.boxes.first() else {
            return Vec::new();
        };
        let period = self.orbit_period.max(0.1);
        let angle = f32_from_f64(t / period * core::f64::consts::TAU);
        let c = self.orbit_centre;
        vec![MoverState {
            local_id: first.id,
            position: Vec3::new(
                c.x + self.orbit_radius * angle.cos(),
                c.y + self.orbit_radius * angle.sin(),
                c.z,
            ),
            rotation: Quat::from_yaw(angle),
        }]
    }

    fn hidden(&self, t: f64) -> Vec<u32> {
        let period = self.blink_period.max(0.1);
        match self.boxes.get(1) {
            // Odd half-periods: absent.
            Some(b) if (t / period).floor().rem_euclid(2.0) >= 1.0 => vec![b.id],
            _ => Vec::new(),
        }
    }
}

/// A small count as `f32` (exact below 2^24).
#[allow(clippy::as_conversions, clippy::cast_precision_loss)]
fn small_f32(v: u32) -> f32 {
    v as f32
}

/// A plain box prim (PCode 9, default texture) at `position`.
pub fn prim_box(local_id: u32, position: Vec3, scale: Vec3) -> ObjectData {
    let [a, b, c, d] = local_id.to_be_bytes();
    let full_id = [a, b, c, d, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0xB0];
    let motion = MotionData::Prim(Motion {
        position,
        ..Motion::default()
    });
    ObjectData {
        id: local_id,
        state: 0,
        full_id: Uuid(full_id),
        crc: 1,
        pcode: PCode::Prim,
        material: 3,
        click_action: 0,
        scale,
        object_data: motion.to_bytes().unwrap_or_default(),
        parent_id: 0,
        update_flags: 0,
        shape: PrimShape::BOX,
        texture_entry: TextureEntry::default().to_bytes(),
        ..ObjectData::default()
    }
}

/// Who an avatar is and where it stands, for [`avatar_object`].
#[derive(Debug, Clone, PartialEq)]
pub struct AvatarLook<'a> {
    /// Region-local id.
    pub local_id: u32,
    /// The agent id (`FullID`).
    pub agent_id: Uuid,
    /// First name.
    pub first: &'a str,
    /// Last name.
    pub last: &'a str,
    /// Centre of the avatar, region metres.
    pub position: Vec3,
    /// Body rotation.
    pub rotation: Quat,
    /// Height of the ground under it (the foot plane).
    pub ground: f32,
}

/// An avatar's full `ObjectUpdate` block as OpenSim builds it: PCode 47, the 76-byte motion
/// blob with the foot plane, `NameValue` FirstName / LastName / Title.
pub fn avatar_object(a: &AvatarLook<'_>) -> ObjectData {
    // The block OpenSim 0.9.2.2 sends (byte-equal to the captured one), standing on the ground:
    // the collision plane is the foot plane under the avatar.
    let standing = MotionData::Avatar {
        collision_plane: Vec4 {
            x: 0.0,
            y: 0.0,
            z: 1.0,
            w: a.ground,
        },
        motion: Motion {
            position: a.position,
            rotation: a.rotation,
            ..Motion::default()
        },
    };
    ObjectData {
        object_data: standing.to_bytes().unwrap_or_default(),
        ..crate::scene::avatar_object(
            a.local_id, a.agent_id, a.first, a.last, a.position, a.rotation,
        )
    }
}

/// A terse update block for an object or (with `ground`) an avatar.
pub(super) fn terse_block(
    local_id: u32,
    position: Vec3,
    velocity: Vec3,
    rotation: Quat,
    ground: Option<f32>,
) -> TerseObject {
    let data = TerseData {
        local_id,
        state: 0,
        collision_plane: ground.map(|g| Vec4 {
            x: 0.0,
            y: 0.0,
            z: 1.0,
            w: g,
        }),
        position,
        velocity,
        acceleration: Vec3::ZERO,
        rotation,
        angular_velocity: Vec3::ZERO,
    };
    TerseObject {
        data: data.to_bytes(),
        texture_entry: Vec::new(),
    }
}

/// Splits full update blocks into `ObjectUpdate` messages whose bodies stay under `max_body`
/// bytes (before zero-coding) and 255 blocks; a block bigger than that travels alone.
pub(super) fn pack_updates(
    handle: u64,
    blocks: Vec<ObjectData>,
    max_body: usize,
) -> Vec<ObjectUpdate> {
    let message = |objects| ObjectUpdate {
        region_handle: handle,
        time_dilation: u16::MAX,
        objects,
    };
    let header = message(Vec::new()).buffer_len();
    let size = |o: &ObjectData| message(vec![o.clone()]).buffer_len() - header;
    pack_blocks(blocks, size, header, max_body)
        .into_iter()
        .map(message)
        .collect()
}

/// Splits terse blocks into `ImprovedTerseObjectUpdate` messages under `max_body` bytes.
pub(super) fn pack_terse(
    handle: u64,
    blocks: Vec<TerseObject>,
    max_body: usize,
) -> Vec<ImprovedTerseObjectUpdate> {
    let message = |objects| ImprovedTerseObjectUpdate {
        region_handle: handle,
        time_dilation: u16::MAX,
        objects,
    };
    // Var1 data length, Var2 texture-entry length, the bytes.
    let size = |b: &TerseObject| 3 + b.data.len() + b.texture_entry.len();
    pack_blocks(blocks, size, message(Vec::new()).buffer_len(), max_body)
        .into_iter()
        .map(message)
        .collect()
}

/// Splits compressed blocks into `ObjectUpdateCompressed` messages whose bodies stay under
/// `max_body` bytes; a block bigger than that travels alone.
pub(super) fn pack_compressed(
    handle: u64,
    blocks: Vec<CompressedBlock>,
    max_body: usize,
) -> Vec<ObjectUpdateCompressed> {
    let message = |objects| ObjectUpdateCompressed {
        region_handle: handle,
        time_dilation: u16::MAX,
        objects,
    };
    // Update flags, the Var2 length, the data.
    let size = |b: &CompressedBlock| 6 + b.data.len();
    pack_blocks(blocks, size, message(Vec::new()).buffer_len(), max_body)
        .into_iter()
        .map(message)
        .collect()
}
