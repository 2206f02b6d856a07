//! Overlook: a small, fast mini-viewer for OpenSimulator and other Second Life-protocol grids.
//!
//! The crate is layered:
//! - [`protocol`]: packets, messages, login XML and the sans-IO circuit. No Bevy, no tokio;
//!   compiles for `wasm32-unknown-unknown` and never panics on wire input.
//! - the viewer (feature `viewer`): Bevy plugins that show what a region streams.
//! - `sim` (feature `sim`): the embedded OpenSim-compatible region (in progress, issue 4).

pub mod protocol;

pub mod replay;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "viewer")]
pub mod viewer;
