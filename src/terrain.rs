//! `TerrainPlugin`: `LayerData` land patches fill the [`Terrain`] heightmap; only the chunks a
//! new patch touches are rebuilt (a few per frame, nearest first), each at the level of detail
//! its distance from the camera asks for; a water plane covers the region at the handshake's
//! water height.

use std::collections::{BTreeSet, HashMap, HashSet};

use bevy::prelude::*;

use crate::camera::ChaseCamera;
use crate::net::plugin::{NetSystems, RegionMessage, SessionStarted};
use crate::scene::material::SceneTextures;
use crate::scene::mesh::to_bevy_mesh;
use crate::scene::{RegionInfo, RegionSystems, SceneCounts, SceneMaterial, SceneMaterial3d};
use overlook_geometry::terrain::{
    CHUNK_SIZE, ChunkId, Lod, TerrainShading, chunk_distance, chunk_mesh, chunks_touching_patch,
    lod_for_distance, water_mesh,
};
use overlook_protocol::message::Message;
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::Uuid;

/// From this many land layers in one frame on, they are decoded on every core.
const PARALLEL_LAYERS: usize = 16;

/// Heights a region's terrain can have, metres: OpenSim's `Constants.MinTerrainHeightmap`
/// (−100) and `MaxTerrainHeightmap` (4000), which every terrain tool and loader clamps to, widened
/// by 10 m for the `LayerData` codec's rounding. A decoded patch with a height outside (or not
/// finite) is impossible terrain: reported per patch, and `check.terrain` fails.
pub const POSSIBLE_HEIGHTS: core::ops::RangeInclusive<f32> = -110.0..=4010.0;

/// Why patch `(px, py)` of `map` is impossible terrain, or `None` when its heights are possible.
pub fn impossible_patch(map: &Heightmap, px: u32, py: u32) -> Option<String> {
    let heights = map.patch(px, py)?;
    let finite = heights.iter().all(|h| h.is_finite());
    let min = heights.iter().copied().fold(f32::INFINITY, f32::min);
    let max = heights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let possible = finite && POSSIBLE_HEIGHTS.contains(&min) && POSSIBLE_HEIGHTS.contains(&max);
    (!possible).then(|| {
        // Plain metres where they are readable, exponents for the absurd ones.
        let m = |h: f32| {
            if h.abs() < 1e6 {
                format!("{h}")
            } else {
                format!("{h:e}")
            }
        };
        let range = if finite {
            format!("heights {}..{} m", m(min), m(max))
        } else {
            "heights that are not finite".to_owned()
        };
        format!(
            "terrain patch ({px},{py}): {range}, outside OpenSim's {}..{} m",
            POSSIBLE_HEIGHTS.start() + 10.0,
            POSSIBLE_HEIGHTS.end() - 10.0
        )
    })
}

/// The region's terrain as received.
#[derive(Resource, Debug, Default)]
pub struct Terrain {
    /// Heights received so far (none before the first login reply gives the region's size).
    pub heightmap: Option<Heightmap>,
    /// Band colouring from the handshake.
    pub shading: TerrainShading,
    /// Chunks waiting for a rebuild.
    pub dirty: HashSet<ChunkId>,
    /// Chunk entities and the level of detail each was built at.
    pub built: HashMap<ChunkId, (Entity, Lod)>,
    /// The water plane.
    pub water: Option<Entity>,
    /// Layers or patches that did not decode, and impossible patches, newest last.
    pub problems: Vec<String>,
    /// Patches whose latest copy has impossible heights ([`impossible_patch`]), `(px, py)`.
    pub impossible: BTreeSet<(u32, u32)>,
}

/// Terrain look settings.
#[derive(Resource, Debug, Clone)]
pub struct TerrainSettings {
    /// Chunks rebuilt per frame at most (nearest first): bounds the frame-time cost of a burst.
    pub chunks_per_frame: usize,
    /// Water colour.
    pub water_color: Color,
}

impl Default for TerrainSettings {
    fn default() -> Self {
        TerrainSettings {
            chunks_per_frame: 16,
            water_color: Color::srgba(0.12, 0.32, 0.45, 0.78),
        }
    }
}

#[derive(Resource, Debug)]
struct TerrainMaterials {
    ground: Handle<SceneMaterial>,
    water: Handle<SceneMaterial>,
}

/// Marks a terrain chunk entity.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerrainChunk(pub ChunkId);

/// Marks the water plane.
#[derive(Component, Debug, Clone, Copy)]
pub struct WaterPlane;

/// System sets of the terrain plugin.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TerrainSystems {
    /// `PreUpdate`, after `NetSystems::Receive`: patches decoded into the heightmap.
    Apply,
    /// `Update`: dirty chunks meshed.
    Mesh,
}

/// Terrain and water from `LayerData`.
#[derive(Debug, Default)]
pub struct TerrainPlugin;

impl Plugin for TerrainPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Terrain>()
            .init_resource::<TerrainSettings>()
            .init_resource::<SceneCounts>()
            .add_systems(Startup, create_materials)
            .add_systems(
                PreUpdate,
                // After the region's own messages: a handshake colours the terrain by the
                // region's origin, which the same frame's SessionStarted sets.
                apply_layer_data
                    .in_set(TerrainSystems::Apply)
                    .after(NetSystems::Receive)
                    .after(RegionSystems::Apply),
            )
            .init_resource::<crate::assets::TextureImages>()
            .add_systems(
                Update,
                (
                    wear_detail_textures,
                    refresh_lods,
                    mesh_dirty_chunks,
                    place_water,
                )
                    .chain()
                    .in_set(TerrainSystems::Mesh),
            );
    }
}

fn create_materials(
    mut commands: Commands,
    mut materials: ResMut<Assets<SceneMaterial>>,
    settings: Res<TerrainSettings>,
) {
    commands.insert_resource(TerrainMaterials {
        ground: materials.add(SceneMaterial::lit(Color::WHITE)),
        water: materials.add(SceneMaterial::lit(settings.water_color).specular(0.5)),
    });
}

/// Dresses the ground in the handshake's four detail textures (`TerrainDetail0..3`, lowest band
/// first) once it names them; the renderer draws them once all four have images, the flat band
/// colours until then.
fn wear_detail_textures(
    region: Res<RegionInfo>,
    materials_of: Option<Res<TerrainMaterials>>,
    mut materials: ResMut<Assets<SceneMaterial>>,
    mut textures: ResMut<crate::assets::TextureImages>,
    images: Res<Assets<Image>>,
) {
    let Some(terrain) = materials_of else { return };
    if !region.is_changed() || !region.handshake_received {
        return;
    }
    let wanted = if region.terrain_detail.contains(&Uuid::NIL) {
        SceneTextures::None
    } else {
        SceneTextures::Terrain(region.terrain_detail.map(|id| textures.handle(&images, id)))
    };
    if materials
        .get(&terrain.ground)
        .is_some_and(|m| m.textures != wanted)
        && let Some(mut ground) = materials.get_mut(&terrain.ground)
    {
        ground.textures = wanted;
    }
}

/// Decodes land layers into the heightmap and marks the chunks they touch.
pub fn apply_layer_data(
    mut commands: Commands,
    mut started: MessageReader<SessionStarted>,
    mut messages: MessageReader<RegionMessage>,
    mut terrain: ResMut<Terrain>,
    mut counts: ResMut<SceneCounts>,
    region: Res<RegionInfo>,
) {
    if let Some(SessionStarted(login)) = started.read().last() {
        for (_, (entity, _)) in terrain.built.drain() {
            commands.entity(entity).try_despawn();
        }
        if let Some(water) = terrain.water.take() {
            commands.entity(water).try_despawn();
        }
        terrain.heightmap = None;
        match Heightmap::new(login.region_size_x, login.region_size_y) {
            Ok(map) => terrain.heightmap = Some(map),
            Err(e) => terrain.problems.push(format!(
                "region size {}×{}: {e}",
                login.region_size_x, login.region_size_y
            )),
        }
        terrain.shading = TerrainShading::default();
        terrain.dirty.clear();
        terrain.impossible.clear();
    }
    let terrain = &mut *terrain;
    let Some(map) = terrain.heightmap.as_mut() else {
        // No session yet: nothing can be placed.
        messages.clear();
        return;
    };
    let (size_x, size_y) = (map.size_x(), map.size_y());
    // The frame's land layers are decoded together: one at a time while streaming live, in a
    // burst (a replay, a slow frame) on every core.
    let mut land: Vec<&[u8]> = Vec::new();
    for RegionMessage(message) in messages.read() {
        match &**message {
            Message::LayerData(layer) if layer.is_land() => land.push(&layer.data),
            Message::RegionHandshake(h) => {
                terrain.shading = TerrainShading::from_handshake(h, region.origin);
                // New band heights recolour everything already built.
                terrain.dirty.extend(terrain.built.keys().copied());
            }
            _ => {}
        }
    }
    if !land.is_empty() {
        let threads = if land.len() >= PARALLEL_LAYERS {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            1
        };
        let done = map.apply_layers(&land, threads);
        let written: BTreeSet<(u32, u32)> = done.patches.iter().copied().collect();
        for (x, y) in written {
            terrain
                .dirty
                .extend(chunks_touching_patch(size_x, size_y, x, y));
            // The latest copy decides: a good repeat clears an earlier impossible one.
            match impossible_patch(map, x, y) {
                Some(why) => {
                    terrain.impossible.insert((x, y));
                    terrain.problems.push(why);
                }
                None => {
                    terrain.impossible.remove(&(x, y));
                }
            }
        }
        terrain
            .problems
            .extend(done.errors.iter().map(|e| format!("LayerData: {e}")));
    }
    let new_counts = SceneCounts {
        patches_received: map.patches_received(),
        patches_total: map.patches_total(),
        patches_duplicated: map.duplicates(),
        ..*counts
    };
    counts.set_if_neq(new_counts);
    let excess = terrain.problems.len().saturating_sub(200);
    terrain.problems.drain(..excess);
}

/// The chase camera's position on the region's ground plane, SL metres.
fn camera_xy(cameras: &Query<&GlobalTransform, With<ChaseCamera>>) -> [f32; 2] {
    cameras
        .iter()
        .next()
        .map_or([128.0, 128.0], |t| [t.translation().x, -t.translation().z])
}

/// Chunks whose distance now asks for another level of detail are rebuilt.
fn refresh_lods(
    mut terrain: ResMut<Terrain>,
    cameras: Query<&GlobalTransform, With<ChaseCamera>>,
    mut last: Local<Option<[f32; 2]>>,
) {
    let camera = camera_xy(&cameras);
    // Re-plan after the camera moved a few metres, not every frame.
    if last.is_some_and(|l| (l[0] - camera[0]).hypot(l[1] - camera[1]) < 8.0) {
        return;
    }
    *last = Some(camera);
    let stale: Vec<ChunkId> = terrain
        .built
        .iter()
        .filter(|(chunk, (_, lod))| lod_for_distance(chunk_distance(**chunk, camera)) != *lod)
        .map(|(chunk, _)| *chunk)
        .collect();
    terrain.dirty.extend(stale);
}

/// Builds the nearest dirty chunks, a bounded number per frame.
fn mesh_dirty_chunks(
    mut commands: Commands,
    mut terrain: ResMut<Terrain>,
    settings: Res<TerrainSettings>,
    materials: Option<Res<TerrainMaterials>>,
    mut meshes: ResMut<Assets<Mesh>>,
    cameras: Query<&GlobalTransform, With<ChaseCamera>>,
) {
    let Some(materials) = materials else { return };
    let terrain = &mut *terrain;
    let Some(map) = terrain.heightmap.as_ref() else {
        return;
    };
    if terrain.dirty.is_empty() {
        return;
    }
    let camera = camera_xy(&cameras);
    let mut order: Vec<(f32, ChunkId)> = terrain
        .dirty
        .iter()
        .map(|c| (chunk_distance(*c, camera), *c))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (distance, chunk) in order.into_iter().take(settings.chunks_per_frame) {
        terrain.dirty.remove(&chunk);
        // A neighbour's edge patch marks this chunk too; wait for a patch of its own rather
        // than draw a flat plate at 0 m.
        if !chunk_has_patch(map, chunk) {
            continue;
        }
        let lod = lod_for_distance(distance);
        let mesh = meshes.add(to_bevy_mesh(&chunk_mesh(map, chunk, lod, &terrain.shading)));
        match terrain.built.get(&chunk).copied() {
            Some((entity, _)) => {
                commands.entity(entity).insert(Mesh3d(mesh));
                terrain.built.insert(chunk, (entity, lod));
            }
            None => {
                let entity = commands
                    .spawn((
                        TerrainChunk(chunk),
                        Mesh3d(mesh),
                        SceneMaterial3d(materials.ground.clone()),
                        Transform::IDENTITY,
                    ))
                    .id();
                terrain.built.insert(chunk, (entity, lod));
            }
        }
    }
}

/// One water plane over the region at the handshake's height, once the handshake is in.
fn place_water(
    mut commands: Commands,
    mut terrain: ResMut<Terrain>,
    region: Res<RegionInfo>,
    materials: Option<Res<TerrainMaterials>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut placed: Local<Option<(u32, u32, u32)>>,
) {
    let Some(materials) = materials else { return };
    if !region.handshake_received {
        return;
    }
    let key = (region.size.0, region.size.1, region.water_height.to_bits());
    if terrain.water.is_some() && *placed == Some(key) {
        return;
    }
    if let Some(old) = terrain.water.take() {
        commands.entity(old).try_despawn();
    }
    let mesh = meshes.add(to_bevy_mesh(&water_mesh(
        region.size.0,
        region.size.1,
        region.water_height,
    )));
    terrain.water = Some(
        commands
            .spawn((
                WaterPlane,
                Mesh3d(mesh),
                SceneMaterial3d(materials.water.clone()),
                Transform::IDENTITY,
            ))
            .id(),
    );
    *placed = Some(key);
}

/// Whether any patch of `chunk` has arrived.
fn chunk_has_patch(map: &Heightmap, chunk: ChunkId) -> bool {
    let per = CHUNK_SIZE / 16;
    let (px, py) = (chunk.x * per, chunk.y * per);
    (py..py + per).any(|y| (px..px + per).any(|x| map.has_patch(x, y)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlook_protocol::login::{LoginReply, LoginSuccess, parse_login_response};
    use overlook_protocol::message::layer_data::LayerData;
    use overlook_protocol::terrain::encode_layer;

    fn login(size: u32) -> LoginSuccess {
        let xml = overlook_testdata::read_bytes("test-region.login-response.xml");
        let LoginReply::Success(mut s) = parse_login_response(&xml).unwrap() else {
            panic!("capture is a success")
        };
        s.region_size_x = size;
        s.region_size_y = size;
        *s
    }

    fn app() -> App {
        let mut app = crate::net::plugin::plugin_test_app();
        app.add_plugins(TerrainPlugin);
        app
    }

    fn land(patches: &[(u32, u32, f32)], extended: bool) -> Message {
        let heights: Vec<[f32; 256]> = patches.iter().map(|p| [p.2; 256]).collect();
        let refs: Vec<(u32, u32, &[f32; 256])> = patches
            .iter()
            .zip(&heights)
            .map(|(p, h)| (p.0, p.1, h))
            .collect();
        Message::LayerData(LayerData {
            layer_type: if extended { 0x4D } else { 0x4C },
            data: encode_layer(&refs, extended),
        })
    }

    #[test]
    fn a_patch_meshes_only_the_chunks_it_touches() {
        let mut app = app();
        app.world_mut()
            .write_message(SessionStarted(Box::new(login(256))));
        app.update();
        // Patch (5, 6) lies inside chunk (1, 1), away from its edges.
        app.world_mut()
            .write_message(RegionMessage(Box::new(land(&[(5, 6, 30.0)], false))));
        app.update();
        let terrain = app.world().resource::<Terrain>();
        assert_eq!(
            terrain.built.keys().copied().collect::<Vec<_>>(),
            vec![ChunkId { x: 1, y: 1 }]
        );
        assert!(terrain.problems.is_empty(), "{:?}", terrain.problems);
        let counts = app.world().resource::<SceneCounts>();
        assert_eq!((counts.patches_received, counts.patches_total), (1, 256));
        let (entity, _) = terrain.built[&ChunkId { x: 1, y: 1 }];
        let mesh = app.world().get::<Mesh3d>(entity).unwrap().0.clone();
        let meshes = app.world().resource::<Assets<Mesh>>();
        let mesh = meshes.get(&mesh).unwrap();
        // The patch's heights are in the mesh (SL z → Bevy y).
        let Some(bevy::mesh::VertexAttributeValues::Float32x3(p)) =
            mesh.attribute(Mesh::ATTRIBUTE_POSITION)
        else {
            panic!()
        };
        assert!(p.iter().any(|v| (v[1] - 30.0).abs() < 0.05));
    }

    #[test]
    fn a_handshake_in_the_login_frame_colours_by_the_new_origin() {
        // A replay delivers the login reply and the handshake in one frame: the terrain must
        // see the origin the region plugin takes from that login, not the previous (0, 0).
        let mut app = app();
        app.add_plugins(crate::scene::RegionPlugin);
        let login = login(256);
        assert_ne!((login.region_x, login.region_y), (0, 0));
        let datagrams = overlook_protocol::capture::read_udp_jsonl(
            &overlook_testdata::session_udp("test-region"),
        )
        .unwrap();
        let (handshake, _) = overlook_protocol::capture::inbound_messages::<
            overlook_protocol::message::region::RegionHandshake,
        >(&datagrams)
        .unwrap()
        .remove(0);
        app.world_mut()
            .write_message(SessionStarted(Box::new(login.clone())));
        app.world_mut()
            .write_message(RegionMessage(Box::new(Message::RegionHandshake(
                handshake.clone(),
            ))));
        app.update();
        let terrain = app.world().resource::<Terrain>();
        assert_eq!(
            terrain.shading,
            TerrainShading::from_handshake(&handshake, (login.region_x, login.region_y))
        );
    }

    #[test]
    fn a_var_region_fills_and_a_repeat_counts_as_duplicate() {
        let mut app = app();
        app.world_mut()
            .write_message(SessionStarted(Box::new(login(512))));
        app.update();
        let all: Vec<(u32, u32, f32)> = (0..32)
            .flat_map(|y| (0..32).map(move |x| (x, y, 21.0)))
            .collect();
        for chunk in all.chunks(64) {
            app.world_mut()
                .write_message(RegionMessage(Box::new(land(chunk, true))));
        }
        app.world_mut()
            .write_message(RegionMessage(Box::new(land(&all[..1], true))));
        // A few frames: chunks are meshed a bounded number per frame.
        for _ in 0..8 {
            app.update();
        }
        let counts = *app.world().resource::<SceneCounts>();
        assert_eq!(counts.patches_received, 1024);
        assert_eq!(counts.patches_total, 1024);
        assert_eq!(counts.patches_duplicated, 1);
        let terrain = app.world().resource::<Terrain>();
        assert!(terrain.dirty.is_empty());
        assert_eq!(terrain.built.len(), 64, "8 × 8 chunks of 64 m");
    }

    #[test]
    fn impossible_heights_are_reported_per_patch_until_a_good_copy_replaces_them() {
        let mut app = app();
        app.world_mut()
            .write_message(SessionStarted(Box::new(login(256))));
        app.update();
        app.world_mut().write_message(RegionMessage(Box::new(land(
            &[
                (1, 1, 3.0e38),
                (2, 1, -5000.0),
                (3, 1, -1e30),
                (4, 1, 4000.0),
                (5, 1, -100.0),
            ],
            false,
        ))));
        app.update();
        let terrain = app.world().resource::<Terrain>();
        assert_eq!(
            terrain.impossible.iter().copied().collect::<Vec<_>>(),
            vec![(1, 1), (2, 1), (3, 1)],
            "{:?}",
            terrain.problems
        );
        for (x, what) in [
            (1, "heights 3e38..3e38 m, outside OpenSim's -100..4000 m"),
            (2, "heights -5000..-5000 m"),
            (3, "-1e30"),
        ] {
            assert!(
                terrain
                    .problems
                    .iter()
                    .any(|p| p.starts_with(&format!("terrain patch ({x},1): ")) && p.contains(what)),
                "{x}: {:?}",
                terrain.problems
            );
        }
        // A good copy of a patch clears it; a new session forgets them all.
        app.world_mut()
            .write_message(RegionMessage(Box::new(land(&[(1, 1, 30.0)], false))));
        app.update();
        let terrain = app.world().resource::<Terrain>();
        assert_eq!(terrain.impossible.len(), 2);
        assert!(!terrain.impossible.contains(&(1, 1)));
        app.world_mut()
            .write_message(SessionStarted(Box::new(login(256))));
        app.update();
        assert!(app.world().resource::<Terrain>().impossible.is_empty());
    }

    #[test]
    fn a_patch_with_heights_that_are_not_finite_is_impossible() {
        let mut heights = vec![20.0f32; 256 * 256];
        heights[16 * 256 * 2 + 16 * 3 + 5] = f32::NAN;
        heights[16 * 256 * 4] = f32::INFINITY;
        let bytes: Vec<u8> = heights.iter().flat_map(|h| h.to_le_bytes()).collect();
        let map = Heightmap::from_r32(&bytes, 256, 256).unwrap();
        let bad: Vec<(u32, u32)> = (0..16)
            .flat_map(|y| (0..16).map(move |x| (x, y)))
            .filter(|&(x, y)| impossible_patch(&map, x, y).is_some())
            .collect();
        assert_eq!(bad, vec![(3, 2), (0, 4)]);
        assert!(impossible_patch(&map, 3, 2).unwrap().contains("not finite"));
        assert_eq!(impossible_patch(&map, 16, 0), None, "outside the region");
    }
}
