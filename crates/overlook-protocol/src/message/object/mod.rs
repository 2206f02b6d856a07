//! Object messages: full, compressed, cached and terse updates, kills and cache-miss requests
//! (PROTOCOL §3.9–§3.12, §3.16 and §9), with typed decoders for the blobs they carry.
//!
//! Each message is a [`MessageRepr`](crate::message::MessageRepr) whose variable
//! fields stay raw bytes, so `parse` then `emit` reproduces a body exactly (checked against every
//! object datagram of the OpenSim 0.9.2.2 captures). The blobs decode on demand:
//! - [`MotionData`]: the motion blob of a full update, chosen by its length;
//! - [`PrimShape`]: the 23 shape bytes, dequantised, and [`ShapeKind`] classification
//!   ([`PCode`], defined here, says whether an object is a prim at all);
//! - [`TextureEntry`]: per-face textures, colours, mapping, material and glow;
//! - [`ExtraParams`]: flexible, light, sculpt/mesh and newer parameters;
//! - [`NameValues`]: avatar names and attachment item ids;
//! - [`CompressedObject`]: one object of `ObjectUpdateCompressed`, every flag-dependent field;
//! - [`TerseData`]: the quantised terse update, with an encoder for the simulator side.
//!
//! No decoder panics or over-reads on hostile input; an unknown code is kept as `Unknown(n)`.

mod cache;
mod compressed;
mod compressed_object;
mod extra_params;
mod kill;
mod motion;
mod name_value;
mod quant;
mod shape;
mod terse;
mod texture_entry;
mod update;

#[cfg(test)]
pub(crate) mod captures;
#[cfg(test)]
mod captures_readme;

pub use cache::{
    CacheMissType, CachedObject, ObjectRequest, ObjectUpdateCached, RequestMultipleObjects,
};
pub use compressed::{
    AttachedSound, CompressedBlock, HoverText, LEGACY_PARTICLES_LEN, ObjectUpdateCompressed,
    Particles, ScratchPad,
};
pub use compressed_object::CompressedObject;
pub use extra_params::{
    ExtraParam, ExtraParams, Flexible, Light, LightImage, ReflectionProbe, Sculpt, SculptKind,
};
pub use kill::KillObject;
pub use motion::{Motion, MotionData};
pub use name_value::{NameValue, NameValues};
pub use quant::{f32_to_u16, u16_to_f32};
pub use shape::{HoleType, PathCurve, PrimShape, ProfileCurve, ShapeKind};
pub use terse::{ImprovedTerseObjectUpdate, TerseData, TerseObject};
pub use texture_entry::{TeField, TextureEntry};
pub use update::{ObjectData, ObjectUpdate, TextColor};

use crate::message::codec::{MessageError, Reader, Writer};

/// Type codes of [`ExtraParam`] entries.
pub mod extra_param_types {
    pub use super::extra_params::{
        EXTENDED_MESH, FLEXIBLE, LIGHT, LIGHT_IMAGE, MESH, REFLECTION_PROBE, RENDER_MATERIAL,
        SCULPT,
    };
}

/// Bits of the material byte of a [`TextureEntry`] face.
pub mod te_material {
    pub use super::texture_entry::{BUMP_MASK, FULLBRIGHT, SHINY_MASK};
}

/// Bits of a compressed object's `CompressedFlags` word (PROTOCOL §3.11), each selecting an
/// optional field of [`CompressedObject`].
pub mod compressed_flags {
    /// Scratch pad (only read without [`TREE`]).
    pub const SCRATCH_PAD: u32 = 0x0001;
    /// Tree or grass species byte.
    pub const TREE: u32 = 0x0002;
    /// Hover text and its colour.
    pub const TEXT: u32 = 0x0004;
    /// Legacy particle system (86 bytes).
    pub const PARTICLES: u32 = 0x0008;
    /// Attached sound.
    pub const SOUND: u32 = 0x0010;
    /// Parent id.
    pub const PARENT: u32 = 0x0020;
    /// Texture animation.
    pub const TEXTURE_ANIM: u32 = 0x0040;
    /// Angular velocity.
    pub const ANGULAR_VELOCITY: u32 = 0x0080;
    /// Name-value text.
    pub const NAME_VALUES: u32 = 0x0100;
    /// Media URL.
    pub const MEDIA_URL: u32 = 0x0200;
    /// Particle system, new size-prefixed form.
    pub const PARTICLES_NEW: u32 = 0x0400;
    /// Every bit that selects a field.
    pub const FIELD_BITS: u32 = 0x07FF;
}

/// Bytes of the `RegionData` block that opens the simulator's object updates (`ObjectUpdate`,
/// `ObjectUpdateCompressed`, `ObjectUpdateCached`, `ImprovedTerseObjectUpdate`): `RegionHandle`
/// (u64) and `TimeDilation` (u16). The messages keep both as fields of their own.
const REGION_DATA_LEN: usize = 8 + 2;

/// Reads the `RegionData` block: `(region_handle, time_dilation)`.
fn read_region_data(r: &mut Reader<'_>) -> Result<(u64, u16), MessageError> {
    Ok((r.u64()?, r.u16()?))
}

/// Writes the `RegionData` block.
fn write_region_data(w: &mut Writer<'_>, region_handle: u64, time_dilation: u16) {
    w.u64(region_handle);
    w.u16(time_dilation);
}

/// Takes a blob with a `u32` length prefix: an extra-parameter entry, a compressed object's
/// TextureEntry, texture animation or particle blocks, a terse update's TextureEntry.
fn take_u32_prefixed<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], MessageError> {
    let len = usize::try_from(r.u32()?).map_err(|_| MessageError::Truncated)?;
    r.take(len)
}

/// What kind of object a block describes (`PCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PCode {
    /// 9: a prim (volume).
    Prim,
    /// 47: an avatar.
    Avatar,
    /// 95: grass.
    Grass,
    /// 111: a "new" tree.
    NewTree,
    /// 143: a particle system.
    ParticleSystem,
    /// 159: a legacy rock.
    Rock,
    /// 239: a text bubble.
    TextBubble,
    /// 255: a legacy tree.
    Tree,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for PCode {
    fn from(v: u8) -> Self {
        match v {
            9 => PCode::Prim,
            47 => PCode::Avatar,
            95 => PCode::Grass,
            111 => PCode::NewTree,
            143 => PCode::ParticleSystem,
            159 => PCode::Rock,
            239 => PCode::TextBubble,
            255 => PCode::Tree,
            n => PCode::Unknown(n),
        }
    }
}

impl From<PCode> for u8 {
    fn from(p: PCode) -> u8 {
        match p {
            PCode::Prim => 9,
            PCode::Avatar => 47,
            PCode::Grass => 95,
            PCode::NewTree => 111,
            PCode::ParticleSystem => 143,
            PCode::Rock => 159,
            PCode::TextBubble => 239,
            PCode::Tree => 255,
            PCode::Unknown(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcode_roundtrips_every_byte() {
        for b in 0..=255u8 {
            assert_eq!(u8::from(PCode::from(b)), b);
        }
        assert_eq!(PCode::from(47), PCode::Avatar);
        assert_eq!(PCode::from(3), PCode::Unknown(3));
    }
}
