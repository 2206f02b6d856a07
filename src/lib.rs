//! Overlook: a small, fast mini-viewer for OpenSimulator and other Second Life-protocol grids.
//!
//! This crate is the app: the network thread, the Bevy plugins and the `overlook` binary's
//! commands. The layers below it are crates of their own, so an import the wrong way does not
//! compile:
//! - [`overlook_protocol`]: packets, messages, login XML, LLSD, the terrain codec and the sans-IO
//!   circuit. No Bevy, no tokio, no sockets; builds for `wasm32-unknown-unknown`.
//! - [`overlook_geometry`]: meshes built by pure functions (terrain chunks with level of detail,
//!   prim sweeps, stand-ins); depends on the protocol only.
//! - [`overlook_sim`]: the embedded OpenSim-compatible region; depends on the protocol only.
//!
//! Here, from the wire up:
//! - [`net`]: the network thread (tokio: login over HTTP, the UDP circuit) and its channels into
//!   Bevy ([`net::plugin`]);
//! - [`scene`], [`terrain`], [`objects`], [`assets`] (textures), [`shapes`] (sculpt maps and
//!   meshes), [`camera`], [`ui`]: one Bevy plugin per concern;
//! - [`viewer`]: the app and its headless capture; [`check`]: `overlook check`; [`replay`]:
//!   `overlook replay --print`; [`web`]: `overlook web` (the relay and the browser build's files);
//!   [`browser`]: the viewer in a page (the same plugins, built for `wasm32-unknown-unknown`).

pub mod assets;
pub mod browser;
pub mod camera;
#[cfg(not(target_arch = "wasm32"))]
pub mod check;
pub mod net;
pub mod objects;
pub mod replay;
pub mod scene;
pub mod shapes;
pub mod terrain;
pub mod ui;
pub mod viewer;
#[cfg(not(target_arch = "wasm32"))]
pub mod web;
