//! Overlook: a small, fast mini-viewer for OpenSimulator and other Second Life-protocol grids.
//!
//! The crate is layered:
//! - [`protocol`]: packets, messages, login XML and the sans-IO circuit. No Bevy, no tokio;
//!   compiles for `wasm32-unknown-unknown` and never panics on wire input.
//! - [`geometry`], [`terrain`], [`objects`]: meshes built by pure functions (no Bevy): terrain
//!   chunks with level of detail and prim sweeps. Always compiled, so they test without Bevy.
//! - the viewer (feature `viewer`): Bevy plugins that show what a region streams.
//! - `sim` (feature `sim`): the embedded OpenSim-compatible region.

#[cfg(feature = "viewer")]
pub mod camera;
#[cfg(feature = "viewer")]
pub mod check;
pub mod geometry;
#[cfg(feature = "net")]
pub mod net;
pub mod objects;
pub mod protocol;
pub mod terrain;

pub mod replay;
pub mod scene;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "viewer")]
pub mod ui;
#[cfg(feature = "viewer")]
pub mod viewer;
