//! Object messages: full, compressed, cached and terse updates, kills and cache-miss requests
//! (PROTOCOL §3.9–§3.12, §3.16 and §9), with typed decoders for the blobs they carry.
//!
//! So far: [`PrimShape`], the 23 shape bytes, dequantised, with [`ShapeKind`] classification, and
//! the U16 quantisation helpers. Nothing here panics on hostile input; an unknown code is kept as
//! `Unknown(n)`.

mod quant;
mod shape;

pub use quant::{f32_to_u16, u16_to_f32};
pub use shape::{HoleType, PCode, PathCurve, PrimShape, ProfileCurve, ShapeKind};
