//! Object geometry: prim meshes from shape parameters (path × profile sweep, SL face numbering)
//! and stand-in meshes for the objects that are not prims (trees, grass, avatars).
//!
//! Pure functions over [`crate::protocol::message::object::PrimShape`]; the viewer's objects
//! plugin (feature `viewer`) only uploads what they return. Shape bytes come from the network,
//! so nothing here may panic: the lints below keep unchecked indexing, `unwrap`/`expect` and
//! `as` casts out of the shipped code.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::as_conversions,
        clippy::panic
    )
)]

#[cfg(feature = "viewer")]
pub mod plugin;
pub mod prim;
pub mod standin;
pub mod state;
