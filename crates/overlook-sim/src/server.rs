//! Runs the embedded region on tokio: the HTTP login service and the UDP region side by side,
//! on loopback by default. `overlook sim`, the viewer (when no grid is given) and the end-to-end
//! tests all start it through [`start`].
//!
//! The sans-IO [`Region`] sits behind a mutex shared by the UDP task (which owns the socket and
//! sleeps until the region's next deadline) and the login service's [`RegionGate`] calls; a
//! [`Notify`] wakes the UDP task when a gate call queued datagrams (a kick) or changed the
//! schedule (seeds granted).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use web_time::Instant;

use super::login::{LoginConfig, LoginService};
use super::region::{AgentLoad, MoverState, Region, RegionConfig, SceneSource};
use super::scene::{SceneObject, default_scene, scattered_meshes, scattered_prims};
use super::terrain::{TerrainError, TerrainSource};
use super::{Account, ExpectedCircuit, RegionGate, RegionInfo};
use overlook_protocol::message::object::{CompressedBlock, ObjectData};
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::{Uuid, f32_from_f64};

/// How to run the region.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// HTTP address for login (`127.0.0.1:9000` like OpenSim; port 0 = any free port).
    pub http: SocketAddr,
    /// UDP address of the region (port 0 = any free port).
    pub udp: SocketAddr,
    /// Region size in metres, `None` = from the terrain file, else 256×256.
    pub size: Option<(u32, u32)>,
    /// Where the terrain comes from.
    pub terrain: TerrainSource,
    /// Seed for the island and the scene.
    pub seed: u64,
    /// Who may log in.
    pub accounts: Vec<Account>,
    /// The region's name.
    pub region_name: String,
    /// Terrain patches `(x, y)` the region never sends (for testing viewers; empty normally).
    pub withheld_patches: Vec<(u32, u32)>,
    /// Prims scattered over the region besides the default scene (a load test; 0 normally).
    pub extra_prims: u32,
    /// Copies of the scene's mesh objects scattered over the region (a load test; 0 normally).
    pub extra_meshes: u32,
    /// A region archive to serve instead of the default scene ([`crate::oar::read_oar`]): its
    /// objects, its terrain (else `terrain` at the archive's size), its water height and
    /// terrain textures, and its textures and meshes beside the region's own.
    pub oar: Option<Arc<crate::oar::Oar>>,
}

impl SimConfig {
    /// Loopback on free ports, the default island, one user `Test User` / `test`.
    pub fn loopback() -> Self {
        SimConfig {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            udp: SocketAddr::from(([127, 0, 0, 1], 0)),
            size: None,
            terrain: TerrainSource::Island { seed: 1 },
            seed: 1,
            accounts: vec![test_account("Test", "User", "test")],
            region_name: "Overlook Region".to_owned(),
            withheld_patches: Vec::new(),
            extra_prims: 0,
            extra_meshes: 0,
            oar: None,
        }
    }
}

/// An account with a deterministic agent id derived from its name.
pub fn test_account(first: &str, last: &str, password: &str) -> Account {
    let mut id = [0u8; 16];
    for (i, b) in format!("{first} {last}").bytes().enumerate() {
        if let Some(slot) = id.get_mut(i % 16) {
            *slot = slot.wrapping_mul(31).wrapping_add(b);
        }
    }
    // Version-4 / variant bits, so it reads as an ordinary UUID.
    if let Some(b) = id.get_mut(6) {
        *b = (*b & 0x0F) | 0x40;
    }
    if let Some(b) = id.get_mut(8) {
        *b = (*b & 0x3F) | 0x80;
    }
    Account {
        first: first.to_owned(),
        last: last.to_owned(),
        password: password.to_owned(),
        agent_id: Uuid(id),
    }
}

/// Why the region could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The terrain could not be loaded.
    #[error("terrain: {0}")]
    Terrain(#[from] TerrainError),
    /// A socket could not be bound.
    #[error("cannot bind {what} {addr}: {source}")]
    Bind {
        /// "HTTP" or "UDP".
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The region refused its own configuration.
    #[error("region: {0}")]
    Region(String),
}

/// A running region.
#[derive(Debug)]
pub struct RunningSim {
    /// The login URI to give viewers (`http://127.0.0.1:PORT/`).
    pub login_uri: String,
    /// The region's UDP address.
    pub udp: SocketAddr,
    /// The accounts.
    pub accounts: Vec<Account>,
    /// The region's description.
    pub info: RegionInfo,
    http_task: JoinHandle<()>,
    udp_task: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl RunningSim {
    /// Each circuit's load now ([`Region::agent_loads`]): what the region holds for its
    /// clients, for load tests over real sockets (`examples/flood.rs`).
    pub fn agent_loads(&self) -> Vec<AgentLoad> {
        self.shared.lock().agent_loads()
    }

    /// Stops both tasks.
    pub fn shutdown(self) {
        self.http_task.abort();
        self.udp_task.abort();
    }

    /// Waits until either task ends (normally never).
    pub async fn wait(self) {
        let RunningSim {
            http_task,
            udp_task,
            ..
        } = self;
        tokio::select! {
            _ = http_task => {}
            _ = udp_task => {}
        }
    }
}

/// The default scene as the region's object source: movers orbit, the blinker is killed and
/// re-created, everything else is offered compressed.
pub(crate) struct DefaultScene {
    objects: Vec<SceneObject>,
}

impl DefaultScene {
    /// The region's view of `objects` (as [`default_scene`] builds them).
    pub(crate) fn new(objects: Vec<SceneObject>) -> Self {
        DefaultScene { objects }
    }
}

impl SceneSource for DefaultScene {
    fn compressed(&self, local_id: u32) -> Option<CompressedBlock> {
        let o = self.objects.iter().find(|o| o.local_id == local_id)?;
        if o.motion.is_some() || o.blink.is_some() {
            return None;
        }
        // An object that cannot be encoded compressed still goes as a full update.
        o.compressed_block(0.0).ok()
    }

    fn objects(&self) -> Vec<ObjectData> {
        self.objects.iter().map(|o| o.to_object_data(0.0)).collect()
    }

    fn movers(&self, t: f64) -> Vec<MoverState> {
        let t = f32_from_f64(t);
        self.objects
            .iter()
            .filter(|o| o.motion.is_some())
            .map(|o| MoverState {
                local_id: o.local_id,
                position: o.position_at(t),
                rotation: o.rotation_at(t),
            })
            .collect()
    }

    fn hidden(&self, t: f64) -> Vec<u32> {
        let t = f32_from_f64(t);
        self.objects
            .iter()
            .filter(|o| !o.present_at(t))
            .map(|o| o.local_id)
            .collect()
    }
}

struct Shared {
    region: Mutex<Region>,
    wake: Notify,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Region> {
        // A panic while holding the lock would be a bug in the region; keep serving anyway.
        self.region.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Gate(Arc<Shared>);

impl RegionGate for Gate {
    fn expect(&self, circuit: ExpectedCircuit) -> Result<(), String> {
        let r = self
            .0
            .lock()
            .expect_circuit(Instant::now(), circuit)
            .map_err(|e| e.to_string());
        self.0.wake.notify_one();
        r
    }

    fn is_present(&self, agent: Uuid) -> bool {
        self.0.lock().is_present(agent)
    }

    fn kick(&self, agent: Uuid, reason: &str) {
        self.0.lock().kick(Instant::now(), agent, reason);
        self.0.wake.notify_one();
    }

    fn seeds_granted(&self, agent: Uuid) {
        self.0.lock().grant_seeds(Instant::now(), agent);
        self.0.wake.notify_one();
    }
}

/// The objects a region started with `cfg` serves: the default scene on its terrain and any
/// extra prims (what [`start`] builds; tests compare what a viewer saw with it).
///
/// # Errors
/// [`SimError`] when the terrain cannot be loaded.
pub fn scene_objects(cfg: &SimConfig) -> Result<Vec<SceneObject>, SimError> {
    Ok(scene_on(&terrain_of(cfg)?, cfg))
}

fn scene_on(map: &Heightmap, cfg: &SimConfig) -> Vec<SceneObject> {
    let mut objects = match &cfg.oar {
        Some(oar) => oar.objects.clone(),
        None => default_scene(map, cfg.seed),
    };
    objects.extend(scattered_prims(map, cfg.seed, &objects, cfg.extra_prims));
    objects.extend(scattered_meshes(map, cfg.seed, &objects, cfg.extra_meshes));
    objects
}

/// The region size `cfg` asks for: its own, else an archive's (256 m when the archive does not
/// say); an island is 256 m unless told otherwise.
fn region_size(cfg: &SimConfig) -> Option<(u32, u32)> {
    cfg.size
        .or_else(|| {
            cfg.oar
                .as_ref()
                .map(|o| o.region_size.unwrap_or((256, 256)))
        })
        .or(match cfg.terrain {
            TerrainSource::Island { .. } => Some((256, 256)),
            _ => None,
        })
}

/// The terrain: an archive's own, else `cfg.terrain` at the region's size.
fn terrain_of(cfg: &SimConfig) -> Result<Heightmap, SimError> {
    match cfg.oar.as_ref().and_then(|o| o.terrain.clone()) {
        Some(map) => Ok(map),
        None => Ok(cfg.terrain.load(region_size(cfg))?),
    }
}

/// Writes the region `cfg` describes as an OpenSim region archive to `out` (`overlook sim
/// --save-oar`): its objects owned by `owner`, its terrain and settings, and every texture and
/// mesh it serves that its objects or terrain name. A real OpenSim loads it with
/// `load oar --merge` (objects and assets; `--force-terrain` for the terrain too).
///
/// # Errors
/// [`SimError`] when the terrain cannot be loaded; the writer's errors as [`SimError::Region`].
pub fn save_oar(cfg: &SimConfig, owner: Uuid, out: impl std::io::Write) -> Result<(), SimError> {
    let map = terrain_of(cfg)?;
    let objects = scene_on(&map, cfg);
    let settings = cfg.oar.as_ref().and_then(|o| o.settings.as_ref());
    let water = settings.map_or(super::terrain::WATER_HEIGHT, |s| s.water_height);
    let detail = settings.map_or(crate::textures::TERRAIN_DETAIL, |s| s.terrain_textures);
    let mut store = crate::store::AssetStore::builtin();
    if let Some(oar) = &cfg.oar {
        store = store.with(oar.served_assets());
    }
    let named = crate::store::assets_named(&detail, &objects);
    let assets: Vec<(Uuid, crate::store::AssetKind, &[u8])> = named
        .iter()
        .filter_map(|(id, _)| store.get(*id).map(|a| (*id, a.kind, &a.bytes[..])))
        .collect();
    crate::oar::write_oar(
        out,
        &crate::oar::ArchiveContent {
            region_name: &cfg.region_name,
            size: (map.size_x(), map.size_y()),
            terrain: Some(&map),
            settings: Some((detail, water)),
            objects: &objects,
            assets: &assets,
            owner,
        },
    )
    .map_err(|e| SimError::Region(format!("writing the archive: {e}")))
}

/// Starts the region: loads the terrain, builds the scene, binds both sockets and spawns the
/// HTTP and UDP tasks on the current tokio runtime.
///
/// # Errors
/// [`SimError`] when the terrain cannot be loaded or a socket cannot be bound.
pub async fn start(cfg: SimConfig) -> Result<RunningSim, SimError> {
    let map = terrain_of(&cfg)?;
    let udp = UdpSocket::bind(cfg.udp)
        .await
        .map_err(|source| SimError::Bind {
            what: "UDP",
            addr: cfg.udp,
            source,
        })?;
    let udp_addr = udp.local_addr().map_err(|source| SimError::Bind {
        what: "UDP",
        addr: cfg.udp,
        source,
    })?;
    let listener = TcpListener::bind(cfg.http)
        .await
        .map_err(|source| SimError::Bind {
            what: "HTTP",
            addr: cfg.http,
            source,
        })?;
    let http_addr = listener.local_addr().map_err(|source| SimError::Bind {
        what: "HTTP",
        addr: cfg.http,
        source,
    })?;
    let SocketAddr::V4(udp_v4) = udp_addr else {
        return Err(SimError::Region(
            "the region needs an IPv4 UDP address".into(),
        ));
    };
    let settings = cfg.oar.as_ref().and_then(|o| o.settings.as_ref());
    let info = RegionInfo {
        name: cfg.region_name.clone(),
        region_id: test_account(&cfg.region_name, "region", "").agent_id,
        size_x: map.size_x(),
        size_y: map.size_y(),
        world_x: 1000 * 256,
        world_y: 1000 * 256,
        udp: udp_v4,
        water_height: settings.map_or(super::terrain::WATER_HEIGHT, |s| s.water_height),
        terrain_detail: settings.map_or(crate::textures::TERRAIN_DETAIL, |s| s.terrain_textures),
    };
    let scene = DefaultScene::new(scene_on(&map, &cfg));
    let unix_now = web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut region_cfg = RegionConfig::default();
    region_cfg.terrain.withheld = cfg.withheld_patches;
    let region = Region::with_config(
        info.clone(),
        map,
        Box::new(scene),
        region_cfg,
        Instant::now(),
        unix_now,
    )
    .map_err(|e| SimError::Region(e.to_string()))?;
    let shared = Arc::new(Shared {
        region: Mutex::new(region),
        wake: Notify::new(),
    });
    let public_url = format!("http://{http_addr}");
    let mut login_cfg = LoginConfig::new(cfg.accounts.clone(), info.clone(), &public_url);
    if let Some(oar) = &cfg.oar {
        login_cfg.assets = login_cfg.assets.with(oar.served_assets());
    }
    let login = Arc::new(LoginService::new(login_cfg, Arc::new(Gate(shared.clone()))));
    let login_uri = login.login_uri();
    let http_task = tokio::spawn(super::login::serve(listener, login));
    let udp_task = tokio::spawn(run_udp(udp, shared.clone()));
    Ok(RunningSim {
        login_uri,
        udp: udp_addr,
        accounts: cfg.accounts,
        info,
        http_task,
        udp_task,
        shared,
    })
}

/// The UDP loop: receive, drive timers, send what the region queued.
async fn run_udp(socket: UdpSocket, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 0x2000];
    loop {
        let deadline = shared.lock().poll_timeout();
        let sleep = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(1),
        };
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    let data = buf.get(..n).unwrap_or(&[]);
                    shared.lock().handle_datagram(Instant::now(), from, data);
                }
                // ICMP "port unreachable" from a viewer that left surfaces here on some
                // platforms; it is not fatal for the region.
                Err(e) => tracing::debug!("udp receive: {e}"),
            },
            () = tokio::time::sleep(sleep) => {}
            () = shared.wake.notified() => {}
        }
        let out: Vec<(SocketAddr, Vec<u8>)> = {
            let mut region = shared.lock();
            region.handle_timeout(Instant::now());
            let mut out = Vec::new();
            while let Some(d) = region.poll_transmit() {
                out.push(d);
            }
            while let Some(ev) = region.poll_event() {
                tracing::info!("region: {ev:?}");
            }
            out
        };
        for (to, d) in out {
            if let Err(e) = socket.send_to(&d, to).await {
                tracing::debug!("udp send to {to}: {e}");
            }
        }
    }
}
