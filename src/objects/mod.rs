//! Object geometry: prim meshes from shape parameters (path × profile sweep, SL face numbering).
//!
//! Pure functions over [`crate::protocol::message::object::PrimShape`]; the viewer's objects
//! plugin (feature `viewer`) only uploads what they return.
