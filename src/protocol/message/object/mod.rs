//! Object messages: full, compressed, cached and terse updates, kills and cache-miss requests
//! (PROTOCOL §3.9–§3.12, §3.16 and §9), with typed decoders for the blobs they carry.
//!
//! Each message is a [`MessageRepr`](crate::protocol::message::MessageRepr) whose variable
//! fields stay raw bytes, so `parse` then `emit` reproduces a body exactly. The blobs decode on
//! demand:
//! - [`MotionData`]: the motion blob of a full update, chosen by its length;
//! - [`PrimShape`]: the 23 shape bytes, dequantised, and [`ShapeKind`] classification;
//! - [`TextureEntry`]: per-face textures, colours, mapping, material and glow;
//! - [`ExtraParams`]: flexible, light, sculpt/mesh and newer parameters;
//! - [`NameValues`]: avatar names and attachment item ids;
//! - [`TerseData`]: the quantised terse update, with an encoder for the simulator side.
//!
//! No decoder panics or over-reads on hostile input; an unknown code is kept as `Unknown(n)`.

mod cache;
mod extra_params;
mod kill;
mod motion;
mod name_value;
mod quant;
mod shape;
mod terse;
mod texture_entry;
mod update;

pub use cache::{
    CacheMissType, CachedObject, ObjectRequest, ObjectUpdateCached, RequestMultipleObjects,
};
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
