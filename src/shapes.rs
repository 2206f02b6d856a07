//! Sculpt maps and mesh assets: what sculpted prims and mesh objects are built from (issue 16,
//! PROTOCOL §12).
//!
//! - **Sculpt maps** are textures: the objects plugin names them ([`ShapesReferenced`]), the
//!   assets plugin fetches them whole right after the terrain's textures (or, for a map first
//!   asked as a face texture, its rest), and once a map's whole codestream has decoded there, it
//!   is decoded once more here at full size into its pixels ([`SculptPixels`]), which the
//!   objects plugin builds the surface from.
//! - **Meshes** are fetched whole through the region's `ViewerAsset` / `GetMesh2` / `GetMesh`
//!   capability, once per asset however many objects use it, and decoded off the main thread:
//!   the header, then every LOD the asset has ([`DecodedMesh`]). A LOD that does not decode is
//!   left out (the others still draw); an asset whose header does not decode, or with no LOD
//!   at all, is failed, and its objects keep their stand-in box.
//!
//! Everything is counted for `check` (`assets.meshes`), and `textures_settled` waits for the
//! meshes too.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, block_on, poll_once};

use crate::assets::{AssetsSystems, RegionTextures, TextureState};
use crate::net::NetCommand;
use crate::net::plugin::{NetSystems, Outgoing, Session, SessionStarted, TextureNews};
use overlook_geometry::MeshData;
use overlook_geometry::llmesh::{Lod, MeshAsset};
use overlook_protocol::types::Uuid;

/// Sculpt maps and meshes the objects applied this frame name (new or not).
#[derive(Message, Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapesReferenced {
    /// Sculpt maps (textures).
    pub sculpt_maps: Vec<Uuid>,
    /// Mesh assets.
    pub meshes: Vec<Uuid>,
}

/// A sculpt map's pixels at full size: RGBA, rows from the top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SculptPixels {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// `width · height` RGBA pixels.
    pub rgba: Vec<u8>,
}

/// A mesh asset's decoded levels of detail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedMesh {
    /// Faces per LOD, indexed by [`Lod::index`]; `None` where the asset has none or it did
    /// not decode.
    pub lods: [Option<Arc<Vec<MeshData>>>; 4],
    /// LODs the asset had that did not decode, with why.
    pub problems: Vec<String>,
}

impl DecodedMesh {
    /// The LOD to draw for `wanted`: it, else the nearest lower one, else the nearest higher
    /// (SL viewers draw a lower LOD while a higher one is missing).
    pub fn best(&self, wanted: Lod) -> Option<(Lod, Arc<Vec<MeshData>>)> {
        let at = |lod: Lod| {
            self.lods
                .get(lod.index())
                .and_then(Clone::clone)
                .map(|f| (lod, f))
        };
        let lower = Lod::ALL.iter().rev().filter(|l| **l <= wanted);
        let higher = Lod::ALL.iter().filter(|l| **l > wanted);
        lower.chain(higher).find_map(|&l| at(l))
    }

    /// Each LOD it has, highest first, with its faces and triangles.
    pub fn lod_sizes(&self) -> Vec<(Lod, usize, usize)> {
        Lod::ALL
            .iter()
            .rev()
            .filter_map(|&lod| {
                let faces = self.lods.get(lod.index())?.as_ref()?;
                let tris = faces.iter().map(MeshData::triangle_count).sum();
                Some((lod, faces.len(), tris))
            })
            .collect()
    }

    /// Triangles of the highest LOD it has.
    pub fn triangles(&self) -> usize {
        self.best(Lod::High).map_or(0, |(_, faces)| {
            faces.iter().map(MeshData::triangle_count).sum()
        })
    }
}

/// Where one mesh asset is.
#[derive(Debug, Clone, PartialEq)]
pub enum MeshState {
    /// Asked for; no answer yet.
    Fetching,
    /// Fetched (this many bytes); being decoded.
    Decoding(usize),
    /// Decoded.
    Ready(Arc<DecodedMesh>),
    /// Not fetched, or not decoded: why.
    Failed(String),
}

/// The region's sculpt maps and meshes.
#[derive(Resource, Debug, Default)]
pub struct ShapeAssets {
    /// Sculpt maps named by objects, in order.
    pub sculpt_maps: Vec<Uuid>,
    /// Sculpt maps decoded to pixels.
    pub pixels: HashMap<Uuid, Arc<SculptPixels>>,
    /// Sculpt maps that cannot be had (fetch or decode failed): why.
    pub map_failures: HashMap<Uuid, String>,
    /// Meshes named by objects, in order.
    pub meshes: Vec<Uuid>,
    /// Each mesh's state.
    pub mesh_states: HashMap<Uuid, MeshState>,
    /// Mesh bytes fetched.
    pub mesh_bytes: u64,
    /// Meshes that came from the disk cache.
    pub meshes_from_cache: HashSet<Uuid>,
    /// Meshes whose bytes arrived (whatever their decode did).
    fetched_count: usize,
    /// Assets cannot be fetched in this session (a replay): why.
    pub unavailable: Option<String>,
    /// Bumped whenever a map or mesh becomes ready or fails: objects waiting look again.
    pub generation: u64,
    /// The latest mesh answer, ms since the login request.
    pub last_ms: u64,
    maps_decoding: HashSet<Uuid>,
}

impl ShapeAssets {
    fn count(&self, f: impl Fn(&MeshState) -> bool) -> usize {
        self.mesh_states.values().filter(|s| f(s)).count()
    }

    /// Meshes whose bytes arrived (decoded, being decoded, or failing to decode).
    pub fn meshes_fetched(&self) -> usize {
        self.fetched_count
    }

    /// Meshes decoded.
    pub fn meshes_decoded(&self) -> usize {
        self.count(|s| matches!(s, MeshState::Ready(_)))
    }

    /// Meshes waiting for an answer or a decode.
    pub fn meshes_pending(&self) -> usize {
        self.count(|s| matches!(s, MeshState::Fetching | MeshState::Decoding(_)))
    }

    /// The mesh failures, in the order referenced.
    pub fn mesh_failures(&self) -> Vec<(Uuid, &str)> {
        self.meshes
            .iter()
            .filter_map(|id| match self.mesh_states.get(id) {
                Some(MeshState::Failed(why)) => Some((*id, why.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Sculpt maps still waiting to become pixels (or to fail).
    pub fn maps_pending(&self) -> usize {
        self.sculpt_maps
            .iter()
            .filter(|id| !self.pixels.contains_key(id) && !self.map_failures.contains_key(id))
            .count()
    }

    /// Nothing is waiting: every mesh and sculpt map is ready or failed, or none can be had.
    pub fn settled(&self) -> bool {
        self.unavailable.is_some() || (self.meshes_pending() == 0 && self.maps_pending() == 0)
    }

    /// The mesh's decoded LODs, when it is ready.
    pub fn mesh(&self, id: Uuid) -> Option<&Arc<DecodedMesh>> {
        match self.mesh_states.get(&id) {
            Some(MeshState::Ready(m)) => Some(m),
            _ => None,
        }
    }
}

/// Decodes in flight.
#[derive(Resource, Default)]
struct ShapeDecoding {
    meshes: Vec<(Uuid, Task<Result<DecodedMesh, String>>)>,
    maps: Vec<(Uuid, Task<Result<SculptPixels, String>>)>,
}

/// System sets of the shapes plugin.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum ShapesSystems {
    /// `PreUpdate`, after the assets plugin: references, answers and decodes applied.
    Apply,
}

/// Sculpt maps and meshes for the objects plugin.
#[derive(Debug, Default)]
pub struct ShapesPlugin;

impl Plugin for ShapesPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ShapeAssets>()
            .init_resource::<ShapeDecoding>()
            .add_message::<ShapesReferenced>()
            .add_message::<TextureNews>()
            .add_systems(
                PreUpdate,
                (
                    reference_shapes,
                    apply_mesh_news,
                    decode_maps,
                    finish_decodes,
                )
                    .chain()
                    .in_set(ShapesSystems::Apply)
                    .after(NetSystems::Receive)
                    .after(AssetsSystems::Apply),
            );
    }
}

fn reference_shapes(
    mut started: MessageReader<SessionStarted>,
    mut referenced: MessageReader<ShapesReferenced>,
    mut shapes: ResMut<ShapeAssets>,
    mut decoding: ResMut<ShapeDecoding>,
    mut outgoing: MessageWriter<Outgoing>,
) {
    if started.read().last().is_some() {
        *shapes = ShapeAssets::default();
        *decoding = ShapeDecoding::default();
    }
    let mut ask = Vec::new();
    for r in referenced.read() {
        for &id in &r.sculpt_maps {
            if id != Uuid::NIL && !shapes.sculpt_maps.contains(&id) {
                shapes.sculpt_maps.push(id);
            }
        }
        for &id in &r.meshes {
            if id != Uuid::NIL && !shapes.mesh_states.contains_key(&id) {
                shapes.meshes.push(id);
                shapes.mesh_states.insert(id, MeshState::Fetching);
                ask.push((id, 0.0));
            }
        }
    }
    if !ask.is_empty() && shapes.unavailable.is_none() {
        outgoing.write(Outgoing(NetCommand::FetchMeshes(ask)));
    }
}

fn apply_mesh_news(
    mut news: MessageReader<TextureNews>,
    mut shapes: ResMut<ShapeAssets>,
    mut decoding: ResMut<ShapeDecoding>,
) {
    for n in news.read() {
        match n {
            TextureNews::Mesh(t) => {
                if !shapes.mesh_states.contains_key(&t.id) {
                    continue;
                }
                shapes.last_ms = shapes.last_ms.max(t.ms);
                let state = match &t.result {
                    Ok(bytes) => {
                        shapes.mesh_bytes += bytes.len() as u64;
                        shapes.fetched_count += 1;
                        if t.cached {
                            shapes.meshes_from_cache.insert(t.id);
                        }
                        let len = bytes.len();
                        let bytes = bytes.clone();
                        let task =
                            AsyncComputeTaskPool::get().spawn(async move { decode_mesh(&bytes) });
                        decoding.meshes.push((t.id, task));
                        MeshState::Decoding(len)
                    }
                    Err(e) => {
                        shapes.generation += 1;
                        MeshState::Failed(e.to_string())
                    }
                };
                shapes.mesh_states.insert(t.id, state);
            }
            TextureNews::Unavailable(why) => shapes.unavailable = Some(why.clone()),
            TextureNews::Fetched(_) => {}
        }
    }
}

/// Decodes a mesh asset's header and every LOD it has.
///
/// # Errors
/// The header does not decode, or no LOD does.
pub fn decode_mesh(bytes: &[u8]) -> Result<DecodedMesh, String> {
    let asset = MeshAsset::parse(bytes).map_err(|e| format!("decode: {e}"))?;
    let mut mesh = DecodedMesh::default();
    for lod in Lod::ALL {
        if asset.header.lod(lod).is_none() {
            continue;
        }
        match asset.decode(lod) {
            Ok(faces) => {
                if let Some(slot) = mesh.lods.get_mut(lod.index()) {
                    *slot = Some(Arc::new(faces));
                }
            }
            Err(e) => mesh.problems.push(format!("{lod:?}: {e}")),
        }
    }
    if mesh.lods.iter().all(Option::is_none) {
        let why = if mesh.problems.is_empty() {
            "no level of detail".to_owned()
        } else {
            mesh.problems.join("; ")
        };
        return Err(format!("decode: {why}"));
    }
    Ok(mesh)
}

/// Starts decoding sculpt maps to pixels once the assets plugin has their whole codestreams;
/// a map whose fetch or decode failed there is failed here.
fn decode_maps(
    mut shapes: ResMut<ShapeAssets>,
    mut textures: ResMut<RegionTextures>,
    mut decoding: ResMut<ShapeDecoding>,
    mut outgoing: MessageWriter<Outgoing>,
) {
    if shapes.maps_pending() == 0 {
        return;
    }
    let waiting: Vec<Uuid> = shapes
        .sculpt_maps
        .iter()
        .copied()
        .filter(|id| {
            !shapes.pixels.contains_key(id)
                && !shapes.map_failures.contains_key(id)
                && !shapes.maps_decoding.contains(id)
        })
        .collect();
    let mut rest = Vec::new();
    for id in waiting {
        // A map first asked as a face texture may have only its first part: a sculpt needs
        // all of it.
        if textures.want_whole(id) {
            rest.push((id, crate::assets::SCULPT_MAP_PRIORITY));
            continue;
        }
        match textures.states.get(&id) {
            Some(TextureState::Decoded(bytes, info)) if info.partial_of.is_none() => {
                let bytes = bytes.clone();
                let task = AsyncComputeTaskPool::get().spawn(async move {
                    overlook_texture::decode(&bytes, overlook_texture::DecodeOptions::default())
                        .map(|d| SculptPixels {
                            width: d.width,
                            height: d.height,
                            rgba: d.rgba,
                        })
                        .map_err(|e| format!("decode: {e}"))
                });
                shapes.maps_decoding.insert(id);
                decoding.maps.push((id, task));
            }
            Some(TextureState::Failed(why)) => {
                shapes.map_failures.insert(id, why.clone());
                shapes.generation += 1;
            }
            _ => {}
        }
    }
    if !rest.is_empty() {
        outgoing.write(Outgoing(NetCommand::FetchTextureRest(rest)));
    }
}

fn finish_decodes(
    mut shapes: ResMut<ShapeAssets>,
    mut decoding: ResMut<ShapeDecoding>,
    mut session: Option<ResMut<Session>>,
) {
    let mut meshes = Vec::new();
    decoding.meshes.retain_mut(|(id, task)| {
        block_on(poll_once(task)).is_none_or(|r| {
            meshes.push((*id, r));
            false
        })
    });
    let mut maps = Vec::new();
    decoding.maps.retain_mut(|(id, task)| {
        block_on(poll_once(task)).is_none_or(|r| {
            maps.push((*id, r));
            false
        })
    });
    for (id, result) in meshes {
        let state = match result {
            Ok(mesh) => {
                if let Some(s) = session.as_deref_mut() {
                    for p in &mesh.problems {
                        s.note(format!("mesh {id}: {p}"));
                    }
                }
                MeshState::Ready(Arc::new(mesh))
            }
            Err(why) => {
                if let Some(s) = session.as_deref_mut() {
                    s.note(format!("mesh {id}: {why}"));
                }
                MeshState::Failed(why)
            }
        };
        shapes.mesh_states.insert(id, state);
        shapes.generation += 1;
    }
    for (id, result) in maps {
        shapes.maps_decoding.remove(&id);
        match result {
            Ok(pixels) => {
                shapes.pixels.insert(id, Arc::new(pixels));
            }
            Err(why) => {
                if let Some(s) = session.as_deref_mut() {
                    s.note(format!("sculpt map {id}: {why}"));
                }
                shapes.map_failures.insert(id, why);
            }
        }
        shapes.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_lod_is_the_one_wanted_else_lower_else_higher() {
        let faces = Arc::new(vec![MeshData::default()]);
        let mut m = DecodedMesh::default();
        m.lods[Lod::Low.index()] = Some(faces.clone());
        m.lods[Lod::High.index()] = Some(faces);
        let best = |want| m.best(want).map(|(l, _)| l);
        assert_eq!(best(Lod::High), Some(Lod::High));
        assert_eq!(best(Lod::Medium), Some(Lod::Low));
        assert_eq!(best(Lod::Low), Some(Lod::Low));
        assert_eq!(best(Lod::Lowest), Some(Lod::Low));
        assert_eq!(DecodedMesh::default().best(Lod::High), None);
    }

    #[test]
    fn the_regions_meshes_decode_with_every_lod_and_bad_ones_fail_cleanly() {
        for m in &overlook_sim::meshes::MESHES {
            let d = decode_mesh(m.bytes).unwrap();
            assert!(d.lods.iter().all(Option::is_some), "{}", m.name);
            assert!(d.problems.is_empty());
            let (_, high) = d.best(Lod::High).unwrap();
            assert_eq!(high.len(), usize::from(m.faces), "{}", m.name);
            // Truncated: an error, not a panic.
            for cut in [0, 1, 10] {
                assert!(
                    decode_mesh(&m.bytes[..cut]).is_err(),
                    "{} cut {cut}",
                    m.name
                );
            }
            // Its last block (the lowest LOD) cut short: the other LODs still decode, that one
            // is a problem, not a failure of the whole asset.
            let half = decode_mesh(&m.bytes[..m.bytes.len() - 1]).unwrap();
            assert!(half.lods[Lod::Lowest.index()].is_none(), "{}", m.name);
            assert!(half.lods.iter().any(Option::is_some), "{}", m.name);
            assert!(half.lods.iter().any(Option::is_none), "{}", m.name);
            assert_eq!(
                half.problems.len(),
                half.lods.iter().filter(|l| l.is_none()).count(),
                "{}: {:?}",
                m.name,
                half.problems
            );
        }
        assert!(
            decode_mesh(b"not a mesh")
                .unwrap_err()
                .starts_with("decode: ")
        );
    }
}
