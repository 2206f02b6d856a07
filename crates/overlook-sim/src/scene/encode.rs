//! The wire forms of scene objects and avatars, as OpenSim 0.9.2.2 builds them (PROTOCOL
//! §3.9–§3.11; what the captures show):
//!
//! - [`SceneObject::to_object_data`]: a full `ObjectUpdate` block — 60-byte motion blob, the
//!   object's extra parameters (none for plain prims), the species byte in `Data` for plants;
//! - [`SceneObject::to_compressed`] / [`SceneObject::compressed_block`]: an
//!   `ObjectUpdateCompressed` object — the extra parameters (`00` for none), the parent flag for
//!   linkset children, and OpenSim's fixed 113-byte form for plants;
//! - [`SceneObject::terse`]: the 44-byte `ImprovedTerseObjectUpdate` data of the moving object;
//! - [`avatar_object`]: an avatar's full block — 76-byte motion blob with collision plane and the
//!   `FirstName`/`LastName`/`Title` name-values;
//! - [`object_updates`] / [`compressed_updates`]: blocks packed into messages under a size limit.

use super::SceneObject;
use crate::pack_blocks;
use overlook_protocol::message::object::{
    CompressedBlock, CompressedObject, Motion, MotionData, NameValue, NameValues, ObjectData,
    ObjectUpdate, ObjectUpdateCompressed, PCode, TerseData,
};
use overlook_protocol::message::{MessageError, MessageRepr};
use overlook_protocol::types::{Quat, Uuid, Vec3, Vec4};

/// `TimeDilation` of an unloaded region (1.0 × 65535), as in the captures.
pub const TIME_DILATION: u16 = 65535;

/// An avatar's size as OpenSim sends it for the default shape.
pub const AVATAR_SCALE: Vec3 = Vec3::new(0.45, 0.6, 1.9);

/// The collision plane OpenSim puts in an avatar's first update, before it stands on anything.
pub const NO_COLLISION_PLANE: Vec4 = Vec4 {
    x: 0.0,
    y: 0.0,
    z: 0.0,
    w: 1.0,
};

/// A full `ObjectData` block with every field empty or zero but the identity, PCode and motion.
fn blank(id: u32, full_id: Uuid, pcode: PCode, object_data: Vec<u8>) -> ObjectData {
    ObjectData {
        id,
        full_id,
        pcode,
        object_data,
        ..ObjectData::default()
    }
}

impl SceneObject {
    /// The motion at `t` seconds: position, velocity and rotation (no acceleration or spin).
    fn motion_at(&self, t: f32) -> Motion {
        Motion {
            position: self.position_at(t),
            velocity: self.velocity_at(t),
            acceleration: Vec3::ZERO,
            rotation: self.rotation_at(t),
            angular_velocity: Vec3::ZERO,
        }
    }

    /// The full `ObjectUpdate` block of this object as it is at `t` seconds.
    pub fn to_object_data(&self, t: f32) -> ObjectData {
        // A 60-byte prim layout always encodes.
        let motion = MotionData::Prim(self.motion_at(t))
            .to_bytes()
            .unwrap_or_default();
        ObjectData {
            state: self.state,
            crc: self.crc,
            material: self.material,
            scale: self.scale,
            parent_id: self.parent_id,
            update_flags: self.update_flags,
            shape: self.shape,
            texture_entry: self.texture_entry.clone(),
            extra_params: self.extra_params.clone(),
            data: if self.is_plant() {
                vec![self.state]
            } else {
                Vec::new()
            },
            ..blank(self.local_id, self.full_id, self.pcode, motion)
        }
    }

    /// The `ObjectUpdateCompressed` object of this object as it is at `t` seconds.
    pub fn to_compressed(&self, t: f32) -> CompressedObject {
        let motion = self.motion_at(t);
        CompressedObject {
            full_id: self.full_id,
            local_id: self.local_id,
            pcode: self.pcode,
            state: self.state,
            crc: self.crc,
            material: self.material,
            click_action: 0,
            scale: self.scale,
            position: motion.position,
            rotation: motion.rotation,
            owner_id: Uuid::NIL,
            angular_velocity: None,
            parent_id: (self.parent_id != 0).then_some(self.parent_id),
            tree_species: self.is_plant().then_some(self.state),
            scratch_pad: None,
            text: None,
            media_url: None,
            legacy_particles: None,
            // The compressed form always has the count byte: `00` for none.
            extra_params: if self.extra_params.is_empty() {
                vec![0]
            } else {
                self.extra_params.clone()
            },
            sound: None,
            name_values: None,
            shape: self.shape,
            texture_entry: self.texture_entry.clone(),
            texture_anim: None,
            particles: None,
            extra_flags: 0,
        }
    }

    /// The `ObjectUpdateCompressed` block (update flags and encoded object) at `t` seconds.
    ///
    /// # Errors
    /// As [`CompressedObject::to_bytes`] (not expected for scene objects).
    pub fn compressed_block(&self, t: f32) -> Result<CompressedBlock, MessageError> {
        Ok(CompressedBlock {
            update_flags: self.update_flags,
            data: self.to_compressed(t).to_bytes()?,
        })
    }

    /// The `ImprovedTerseObjectUpdate` data at `t` seconds (encode with
    /// [`TerseData::to_bytes`]: 44 bytes).
    pub fn terse(&self, t: f32) -> TerseData {
        let motion = self.motion_at(t);
        TerseData {
            local_id: self.local_id,
            state: 0,
            collision_plane: None,
            position: motion.position,
            velocity: motion.velocity,
            acceleration: Vec3::ZERO,
            rotation: motion.rotation,
            angular_velocity: Vec3::ZERO,
        }
    }
}

/// An avatar's full `ObjectUpdate` block as OpenSim sends it: PCode 47, material 4 (flesh),
/// scale 0.45 × 0.6 × 1.9, a 76-byte motion blob with [`NO_COLLISION_PLANE`] (replace
/// `object_data` with a [`MotionData::Avatar`] of the ground plane once it stands), zero shape
/// and flags, and the NameValue
/// `FirstName STRING RW SV <first>\nLastName STRING RW SV <last>\nTitle STRING RW SV \0`.
pub fn avatar_object(
    local_id: u32,
    agent_id: Uuid,
    first: &str,
    last: &str,
    position: Vec3,
    rotation: Quat,
) -> ObjectData {
    let motion = MotionData::Avatar {
        collision_plane: NO_COLLISION_PLANE,
        motion: Motion {
            position,
            rotation,
            ..Motion::default()
        },
    };
    let names = NameValues {
        entries: vec![
            NameValue::string("FirstName", first),
            NameValue::string("LastName", last),
            NameValue::string("Title", ""),
        ],
    };
    ObjectData {
        material: 4,
        scale: AVATAR_SCALE,
        name_value: names.to_bytes(),
        ..blank(
            local_id,
            agent_id,
            PCode::Avatar,
            motion.to_bytes().unwrap_or_default(),
        )
    }
}

/// Packs full blocks into `ObjectUpdate` messages of at most `max_body` body bytes each (before
/// zero-coding; OpenSim keeps packets under 1200 bytes, so ~1100 is a good limit) and at most
/// 255 blocks. A block too large for the limit alone gets a message of its own.
pub fn object_updates(
    region_handle: u64,
    blocks: Vec<ObjectData>,
    max_body: usize,
) -> Vec<ObjectUpdate> {
    let message = |objects| ObjectUpdate {
        region_handle,
        time_dilation: TIME_DILATION,
        objects,
    };
    let size =
        |o: &ObjectData| message(vec![o.clone()]).buffer_len() - message(vec![]).buffer_len();
    pack_blocks(blocks, size, message(vec![]).buffer_len(), max_body)
        .into_iter()
        .map(message)
        .collect()
}

/// Packs compressed blocks into `ObjectUpdateCompressed` messages of at most `max_body` body
/// bytes and 255 blocks each (as [`object_updates`]).
pub fn compressed_updates(
    region_handle: u64,
    blocks: Vec<CompressedBlock>,
    max_body: usize,
) -> Vec<ObjectUpdateCompressed> {
    let message = |objects| ObjectUpdateCompressed {
        region_handle,
        time_dilation: TIME_DILATION,
        objects,
    };
    // update flags, Var2 length, data
    let size = |b: &CompressedBlock| 4 + 2 + b.data.len();
    pack_blocks(blocks, size, message(vec![]).buffer_len(), max_body)
        .into_iter()
        .map(message)
        .collect()
}
