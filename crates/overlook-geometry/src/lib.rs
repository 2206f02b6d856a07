//! Triangle meshes for what a Second Life-protocol region streams, built by pure functions: no
//! Bevy, no GPU, no I/O. The viewer uploads what these return and nothing else, so the geometry is
//! tested, fuzzed and benchmarked without compiling a renderer.
//!
//! - [`mesh`]: [`MeshData`], the plain indexed triangle list every builder returns.
//! - [`terrain`]: the region's heightmap cut into chunks, meshed at a level of detail with skirts,
//!   height-band colours and the water plane.
//! - [`prim`]: prim meshes from shape parameters (path × profile sweep, SL face numbering).
//! - [`sculpt`]: sculpted prims, a surface read from a sculpt map (sphere, torus, plane or
//!   cylinder stitching, invert and mirror, SL's grid size per level of detail).
//! - [`llmesh`]: SL mesh assets (`application/vnd.ll.mesh`) decoded into per-face meshes and
//!   encoded from them, with the binary LLSD they are written in.
//! - [`standin`]: stand-in meshes for objects that are not prims (trees, grass, avatars).
//!
//! Coordinates are SL's: x east, y north, z up, metres. Shape bytes and heights come from the
//! network, so nothing here may panic: `Cargo.toml`'s `[lints]` keep unchecked indexing,
//! `unwrap`/`expect` and `as` casts out of the shipped code.
// Unit tests may cast freely (clippy.toml lets tests unwrap, expect, panic and index).
#![cfg_attr(test, allow(clippy::as_conversions))]

pub mod llmesh;
pub mod mesh;
pub mod prim;
pub mod sculpt;
pub mod standin;
pub mod terrain;

pub use mesh::MeshData;
