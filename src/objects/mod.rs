//! The viewer's objects: [`state`] turns every full object update into one [`state::ObjectState`]
//! (sub-blobs decoded once, problems recorded); [`plugin`] keeps one entity per object and gives
//! it the mesh `overlook_geometry` builds (prim sweeps, stand-ins).
pub mod plugin;
pub mod state;
