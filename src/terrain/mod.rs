//! Terrain geometry: heightmap chunks to meshes, height-band colouring and the water plane.
//!
//! Pure functions over [`crate::protocol::terrain::Heightmap`]; the viewer's terrain plugin
//! (feature `viewer`) only uploads what they return.
