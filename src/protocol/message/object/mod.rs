//! Object messages: full, compressed, cached and terse updates, kills and cache-miss requests
//! (PROTOCOL §3.9–§3.12, §3.16 and §9), with typed decoders for the blobs they carry.
//!
//! Each message is a [`MessageRepr`](crate::protocol::message::MessageRepr) whose variable
//! fields stay raw bytes, so `parse` then `emit` reproduces a body exactly (checked against every
//! object datagram of the OpenSim 0.9.2.2 captures). The blobs decode on demand:
//! - [`MotionData`]: the motion blob of a full update, chosen by its length;
//! - [`PrimShape`]: the 23 shape bytes, dequantised, and [`ShapeKind`] classification;
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
mod captures;
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
pub use shape::{HoleType, PCode, PathCurve, PrimShape, ProfileCurve, ShapeKind};
pub use terse::{ImprovedTerseObjectUpdate, TerseData, TerseObject};
pub use texture_entry::{TeField, TextureEntry};
pub use update::{ObjectData, ObjectUpdate, TextColor};

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
