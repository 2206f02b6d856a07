//! The UDP region as a sans-IO state machine: the server-side mirror of the viewer's
//! [`Circuit`](overlook_protocol::circuit::Circuit), following PROTOCOL §5 and §8.
//!
//! Feed it datagrams with [`Region::handle_datagram`] and the passage of time with
//! [`Region::handle_timeout`]; drain what it sends with [`Region::poll_transmit`], when it next
//! needs waking with [`Region::poll_timeout`] and what happened with [`Region::poll_event`]. The
//! caller owns the socket and the clock (`web_time::Instant`), so tests run it against the
//! viewer's circuit over an in-memory link with a fake clock. Each agent has its own
//! [`Reliability`](overlook_protocol::circuit::Reliability): acks batched and piggy-backed,
//! duplicates acked again but handled once, resends with the RESENT flag.
//!
//! The story, as OpenSim 0.9.2.2 plays it:
//! - the login service announces each agent with [`Region::expect_circuit`]; a `UseCircuitCode`
//!   with an unknown code (or the wrong agent or session) is ignored, a known one is acked at once
//!   with an unreliable `PacketAck` (sequence 1 here, 0 from OpenSim: the viewer does not care);
//! - `CompleteAgentMovement` with the right circuit code → `RegionHandshake`,
//!   `AgentMovementComplete`, the agent's own avatar (`ObjectUpdate`, PCode 47) and its terrain:
//!   `LayerData` nearest-first in rounds paced by its land throttle (see `terrain_stream`);
//! - the scene (full `ObjectUpdate`s) and the other avatars only once **both**
//!   `RegionHandshakeReply` and [`Region::grant_seeds`] (the seed capability) have happened,
//!   about 0.36 s later as OpenSim does;
//! - steady state: `StartPingCheck` every 5 s (answers measure the round trip), pings answered,
//!   `SimStats` every 3 s, `CoarseLocationUpdate` every second, terse updates for moving objects
//!   and walking avatars, `KillObject` and re-creation for objects that come and go;
//! - `LogoutRequest` → `LogoutReply`, the agent leaves; 60 s of silence drops it, and so do
//!   30 s without acks while reliable packets are pending (`KickUser` first).
//!
//! Everything sent to a client goes through its throttle ([`OutboundBudget`]): token buckets per
//! `AgentThrottle` category under a total bucket; what does not fit waits, and what waits is
//! capped ([`Region::agent_loads`] shows it).
//!
//! Nothing here panics on input: a datagram that does not decode is counted and dropped.

mod agent;
mod handlers;
mod messages;
mod objects;
mod terrain_stream;
mod throttle;
mod tick;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use web_time::Instant;

pub use messages::REGION_FLAGS;
pub use objects::{
    AvatarLook, DemoScene, MoverState, SceneSource, StaticScene, avatar_object, prim_box,
};
pub use terrain_stream::TerrainPacing;
pub use throttle::{CLIENT_CAP, Category, DEFAULT_RATES, client_rates};

use self::agent::{Agent, Stage, World};
use crate::{ExpectedCircuit, RegionInfo};
use overlook_protocol::circuit::ReliableConfig;
use overlook_protocol::message::object::ObjectData;
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::{Uuid, Vec3};

/// How the region behaves; [`RegionConfig::default`] gives OpenSim's numbers.
#[derive(Debug, Clone)]
pub struct RegionConfig {
    /// Acks and resends of each agent's circuit.
    pub reliable: ReliableConfig,
    /// Interval of our `StartPingCheck`s.
    pub ping_interval: Duration,
    /// Interval of `SimStats`.
    pub stats_interval: Duration,
    /// Interval of `CoarseLocationUpdate`.
    pub coarse_interval: Duration,
    /// Silence after which an agent is dropped.
    pub inactivity_timeout: Duration,
    /// How long an expected circuit waits for its `UseCircuitCode` before it is forgotten (the
    /// same 60 s as OpenSim's dead-circuit timeout, PROTOCOL §2.6), so an unused login does not
    /// leave a presence behind for good (§8).
    pub expected_circuit_timeout: Duration,
    /// How long a departed agent's circuit still acks and resends (its `LogoutReply`).
    pub closing_linger: Duration,
    /// Delay between both object gates passing and the scene being sent (OpenSim: ~4 frames).
    pub initial_data_delay: Duration,
    /// Interval of scene ticks: movers, objects coming and going, walking avatars.
    pub scene_tick: Duration,
    /// Terrain rounds and packing.
    pub terrain: TerrainPacing,
    /// Throttle rates before `AgentThrottle`, bytes/s in wire order (OpenSim's
    /// [`DEFAULT_RATES`]: land 9125, task 18500, …).
    pub default_rates: [f64; 7],
    /// Each client's outbound budget and the caps on what waits for it.
    pub budget: OutboundBudget,
    /// Draw distance before the first `AgentUpdate`, metres.
    pub default_far: f32,
    /// Largest `ObjectUpdate` / terse body before zero-coding.
    pub max_object_body: usize,
    /// Walking speed, m/s.
    pub walk_speed: f32,
    /// Flying speed, m/s.
    pub fly_speed: f32,
    /// Turning speed, rad/s.
    pub turn_rate: f32,
    /// `AgentMovementComplete.ChannelVersion`.
    pub channel_version: String,
}

impl Default for RegionConfig {
    fn default() -> Self {
        RegionConfig {
            reliable: ReliableConfig {
                // OpenSim resends until the agent is dropped for silence.
                max_resends: 100,
                ..ReliableConfig::default()
            },
            ping_interval: Duration::from_secs(5),
            stats_interval: Duration::from_secs(3),
            coarse_interval: Duration::from_secs(1),
            inactivity_timeout: Duration::from_secs(60),
            expected_circuit_timeout: Duration::from_secs(60),
            closing_linger: Duration::from_secs(3),
            initial_data_delay: Duration::from_millis(360),
            scene_tick: Duration::from_millis(100),
            terrain: TerrainPacing::default(),
            default_rates: DEFAULT_RATES,
            budget: OutboundBudget::default(),
            default_far: 128.0,
            max_object_body: 1100,
            walk_speed: 3.0,
            fly_speed: 10.0,
            turn_rate: core::f32::consts::FRAC_PI_2,
            channel_version: "Overlook sim 0.1".to_owned(),
        }
    }
}

/// What the region may send each client and how much may wait for it.
///
/// Everything the region sends a client goes through its throttle (see `throttle`): `LayerData`
/// through the land bucket, resends through the resend bucket, everything else (objects,
/// avatars, the handshake, statistics, kills…) through the task bucket, and all of it through
/// the client's total bucket. Only the control replies named at `Agent::send` bypass the
/// category buckets. What does not fit waits: resends in the reliability table, terrain in its
/// stream, the rest in the task queue, object requests in the object queue.
#[derive(Debug, Clone)]
pub struct OutboundBudget {
    /// How much of its rate a bucket (and the total) may save up: 1 s, so what a client gets on
    /// entering (handshake, movement, the 4 KiB parcel overlay, its avatar: about 5 KB) fits
    /// OpenSim's default task rate of 18,500 B/s at once. A bucket holds at least one full
    /// datagram (1500 bytes) whatever its rate.
    pub burst: Duration,
    /// The same for the land bucket: 250 ms, the terrain pacing measured on OpenSim (§8).
    pub land_burst: Duration,
    /// Most reliable packets unacknowledged per circuit; reliable sends wait beyond it. 1024:
    /// about the bytes cap below in full-size packets.
    pub max_unacked_packets: usize,
    /// Most bytes of unacknowledged reliable packets per circuit; reliable sends wait beyond it.
    /// 1 MiB: 1.6 s at the per-client cap of 640,000 B/s, more than a round trip plus OpenSim's
    /// 500 ms of ack batching, so a client acking normally never meets it; 15 s at OpenSim's
    /// default 66,750 B/s.
    pub max_unacked_bytes: usize,
    /// Most packets in a client's task queue. 256: 64 KiB of typical 250-byte updates, and
    /// what a default task rate (18,500 B/s) delivers in a few seconds. Beyond it, the oldest
    /// unreliable packet (a terse update, `SimStats`, `CoarseLocationUpdate`: a newer one
    /// replaces it) is dropped and counted; when every queued packet is reliable the client
    /// is dropped as [`LeaveReason::Unresponsive`] at the next tick (its viewer cannot be
    /// kept consistent without them).
    pub max_queued_packets: usize,
    /// Most bytes in a client's task queue (256 KiB), as `max_queued_packets`.
    pub max_queued_bytes: usize,
    /// Most objects a client's `RequestMultipleObjects` may have waiting (4096: sixteen full
    /// requests). An object already waiting is not queued again; requests beyond the cap are
    /// dropped and counted. The scene sent on entering is not capped (one entry per object).
    pub max_object_requests: usize,
    /// A client that acknowledges nothing for this long while reliable packets are pending is
    /// dropped as [`LeaveReason::Unresponsive`] (`KickUser`, then the circuit closes).
    pub ack_timeout: Duration,
}

impl Default for OutboundBudget {
    fn default() -> Self {
        OutboundBudget {
            burst: Duration::from_secs(1),
            land_burst: Duration::from_millis(250),
            max_unacked_packets: 1024,
            max_unacked_bytes: 1 << 20,
            max_queued_packets: 256,
            max_queued_bytes: 256 << 10,
            max_object_requests: 4096,
            ack_timeout: Duration::from_secs(30),
        }
    }
}

/// One circuit's load, as [`Region::agent_loads`] reports it: what waits for its acks and what
/// waits for its budget. Cheap to take (counters, no copies).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentLoad {
    /// The client's address.
    pub addr: SocketAddr,
    /// Reliable packets sent and not yet acknowledged (≤ [`OutboundBudget::max_unacked_packets`]).
    pub unacked_packets: usize,
    /// Their bytes (≤ [`OutboundBudget::max_unacked_bytes`] plus one packet).
    pub unacked_bytes: usize,
    /// Packets waiting for the budget: the task queue and packed terrain.
    pub queued_packets: usize,
    /// Their bytes.
    pub queued_bytes: usize,
    /// Objects requested and waiting to be packed (≤ [`OutboundBudget::max_object_requests`],
    /// plus the scene on entering).
    pub queued_objects: usize,
    /// Object requests dropped because the object queue was full.
    pub dropped_requests: u64,
    /// Object requests for objects already waiting (coalesced).
    pub coalesced_requests: u64,
    /// Unreliable packets dropped from a full task queue.
    pub dropped_packets: u64,
    /// The client's total rate, bytes/s, and the most its total bucket may send above it.
    pub total_rate: f64,
    /// See `total_rate`.
    pub total_burst: f64,
}

/// Why a region could not be built or an agent not expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegionError {
    /// The heightmap does not have the region's size.
    #[error("the heightmap is {map_x}x{map_y} m but the region is {region_x}x{region_y} m")]
    SizeMismatch {
        /// Heightmap width.
        map_x: u32,
        /// Heightmap depth.
        map_y: u32,
        /// Region width.
        region_x: u32,
        /// Region depth.
        region_y: u32,
    },
    /// Two scene objects share a local id.
    #[error("two scene objects share local id {0}")]
    DuplicateLocalId(u32),
    /// The circuit code is already expected or in use.
    #[error("circuit code {0} is already in use")]
    CircuitCodeInUse(u32),
    /// The agent already has a presence here (kick it first).
    #[error("agent {0} is already present")]
    AlreadyPresent(Uuid),
}

/// Why an agent left.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaveReason {
    /// It sent `LogoutRequest`.
    LoggedOut,
    /// Nothing arrived from it for this long.
    TimedOut(Duration),
    /// A reliable packet used up its resends.
    NoAck,
    /// [`Region::kick`].
    Kicked(String),
    /// It acknowledged nothing for [`OutboundBudget::ack_timeout`] while reliable packets were
    /// pending, or its task queue overflowed with reliable packets.
    Unresponsive,
}

/// What happened, for logs.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionEvent {
    /// `UseCircuitCode` with an expected circuit code arrived.
    Connected {
        /// The agent.
        agent: Uuid,
        /// "First Last".
        name: String,
        /// Its UDP address.
        addr: SocketAddr,
    },
    /// `CompleteAgentMovement`: the agent is in the region.
    Entered {
        /// The agent.
        agent: Uuid,
        /// Where it stands.
        position: Vec3,
    },
    /// An expected circuit saw no `UseCircuitCode` in time and was forgotten.
    Expired {
        /// The agent.
        agent: Uuid,
        /// Its circuit code.
        circuit_code: u32,
    },
    /// The agent left.
    Left {
        /// The agent.
        agent: Uuid,
        /// Why.
        reason: LeaveReason,
    },
}

/// One agent, as [`Region::agents`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSummary {
    /// The agent.
    pub agent_id: Uuid,
    /// "First Last".
    pub name: String,
    /// Its UDP address.
    pub addr: SocketAddr,
    /// Its avatar's local id.
    pub local_id: u32,
    /// In the region (`CompleteAgentMovement` done).
    pub root: bool,
    /// The scene has been sent.
    pub scene_sent: bool,
    /// Where its avatar is.
    pub position: Vec3,
    /// Land patches sent so far.
    pub terrain_patches_sent: usize,
    /// Every land patch has been sent.
    pub terrain_done: bool,
}

/// Counters for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegionStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams dropped because they did not decode.
    pub malformed: u64,
    /// Datagrams from unknown addresses that did not open a circuit.
    pub ignored: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Bytes received (every datagram).
    pub received_bytes: u64,
    /// Bytes sent.
    pub sent_bytes: u64,
}

/// The region.
pub struct Region {
    info: RegionInfo,
    cfg: RegionConfig,
    map: Heightmap,
    scene: Box<dyn SceneSource>,
    objects: Vec<ObjectData>,
    object_index: HashMap<u32, usize>,
    hidden: HashSet<u32>,
    origin: Instant,
    /// The wall clock at `origin`, since the Unix epoch.
    unix_origin: Duration,
    expected: HashMap<u32, (ExpectedCircuit, bool)>,
    /// When each expected circuit code expires (entries whose code left `expected` are stale).
    expected_until: HashMap<u32, Instant>,
    agents: BTreeMap<SocketAddr, Agent>,
    transmit: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<RegionEvent>,
    next_local_id: u32,
    next_scene_tick: Instant,
    stats: RegionStats,
}

impl core::fmt::Debug for Region {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Region")
            .field("name", &self.info.name)
            .field("objects", &self.objects.len())
            .field("agents", &self.agents.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Region {
    /// A region with OpenSim's defaults ([`RegionConfig::default`]).
    ///
    /// # Errors
    /// As [`Region::with_config`].
    pub fn new(
        info: RegionInfo,
        map: Heightmap,
        scene: Box<dyn SceneSource>,
        now: Instant,
        unix_now: Duration,
    ) -> Result<Self, RegionError> {
        Self::with_config(info, map, scene, RegionConfig::default(), now, unix_now)
    }

    /// A region serving `map` and `scene`; scene time 0 is `now`, which is `unix_now` since the
    /// Unix epoch on the wall clock. The region reads no clock itself: wall-clock times it sends
    /// (`AgentMovementComplete.Timestamp`) are `unix_now` plus the time since `now`.
    ///
    /// # Errors
    /// [`RegionError::SizeMismatch`] when the heightmap is not the region's size,
    /// [`RegionError::DuplicateLocalId`] when two scene objects share a local id.
    pub fn with_config(
        info: RegionInfo,
        map: Heightmap,
        scene: Box<dyn SceneSource>,
        cfg: RegionConfig,
        now: Instant,
        unix_now: Duration,
    ) -> Result<Self, RegionError> {
        if map.size_x() != info.size_x || map.size_y() != info.size_y {
            return Err(RegionError::SizeMismatch {
                map_x: map.size_x(),
                map_y: map.size_y(),
                region_x: info.size_x,
                region_y: info.size_y,
            });
        }
        let objects = scene.objects();
        let mut object_index = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            if object_index.insert(o.id, i).is_some() {
                return Err(RegionError::DuplicateLocalId(o.id));
            }
        }
        Ok(Region {
            info,
            cfg,
            map,
            scene,
            objects,
            object_index,
            hidden: HashSet::new(),
            origin: now,
            unix_origin: unix_now,
            expected: HashMap::new(),
            expected_until: HashMap::new(),
            agents: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            next_local_id: 0x0F00_0001,
            next_scene_tick: now,
            stats: RegionStats::default(),
        })
    }

    /// The region's description.
    pub fn info(&self) -> &RegionInfo {
        &self.info
    }

    /// The terrain it serves.
    pub fn heightmap(&self) -> &Heightmap {
        &self.map
    }

    /// Counters.
    pub fn stats(&self) -> RegionStats {
        self.stats
    }

    /// Expects an agent (the login service calls this before its reply goes out) until
    /// [`RegionConfig::expected_circuit_timeout`] after `now`.
    ///
    /// # Errors
    /// [`RegionError::CircuitCodeInUse`] for a circuit code already expected or connected;
    /// [`RegionError::AlreadyPresent`] when the agent is expected or connected already.
    pub fn expect_circuit(
        &mut self,
        now: Instant,
        circuit: ExpectedCircuit,
    ) -> Result<(), RegionError> {
        let code = circuit.circuit_code;
        let in_use = self.expected.contains_key(&code)
            || self.live_agents().any(|a| a.circuit.circuit_code == code);
        if in_use {
            return Err(RegionError::CircuitCodeInUse(code));
        }
        if self.is_present(circuit.agent_id) {
            return Err(RegionError::AlreadyPresent(circuit.agent_id));
        }
        self.expected.insert(code, (circuit, false));
        self.expected_until
            .insert(code, now + self.cfg.expected_circuit_timeout);
        Ok(())
    }

    /// Forgets the expected circuits whose time ran out by `now`.
    fn expire_circuits(&mut self, now: Instant) {
        let expected = &mut self.expected;
        let events = &mut self.events;
        self.expected_until.retain(|code, until| {
            if now < *until {
                return expected.contains_key(code);
            }
            if let Some((circuit, _)) = expected.remove(code) {
                tracing::info!(
                    "region: circuit {code} of {} {} expired unused",
                    circuit.first,
                    circuit.last
                );
                events.push_back(RegionEvent::Expired {
                    agent: circuit.agent_id,
                    circuit_code: *code,
                });
            }
            false
        });
    }

    /// The agent requested its seed capability: objects may follow (PROTOCOL §1.5, §5). Returns
    /// false for an agent the region does not know.
    pub fn grant_seeds(&mut self, now: Instant, agent: Uuid) -> bool {
        if let Some((_, seeds)) = self
            .expected
            .values_mut()
            .find(|(c, _)| c.agent_id == agent)
        {
            *seeds = true;
            return true;
        }
        let cfg_delay = self.cfg.initial_data_delay;
        match self
            .agents
            .values_mut()
            .find(|a| a.circuit.agent_id == agent && !matches!(a.stage, Stage::Closing { .. }))
        {
            Some(a) => {
                a.seeds = true;
                handlers::check_gates(a, now, cfg_delay);
                true
            }
            None => false,
        }
    }

    /// True while `agent` is expected or connected.
    pub fn is_present(&self, agent: Uuid) -> bool {
        self.expected.values().any(|(c, _)| c.agent_id == agent)
            || self.live_agents().any(|a| a.circuit.agent_id == agent)
    }

    /// Ends `agent`'s presence: a connected agent gets `KickUser`. Returns false for an agent
    /// the region does not know.
    pub fn kick(&mut self, now: Instant, agent: Uuid, reason: &str) -> bool {
        let before = self.expected.len();
        self.expected.retain(|_, (c, _)| c.agent_id != agent);
        let mut found = self.expected.len() != before;
        let addr = self
            .live_agents()
            .find(|a| a.circuit.agent_id == agent)
            .map(|a| a.addr);
        if let Some(addr) = addr
            && let Some(mut a) = self.agents.remove(&addr)
        {
            let msg = messages::kick_user(a.ids(), a.addr, reason);
            a.send(now, &msg, true);
            self.leave(now, &mut a, LeaveReason::Kicked(reason.to_owned()));
            self.agents.insert(addr, a);
            found = true;
        }
        self.drain(now);
        found
    }

    /// Agents connected now.
    pub fn agents(&self) -> Vec<AgentSummary> {
        self.live_agents()
            .map(|a| AgentSummary {
                agent_id: a.circuit.agent_id,
                name: format!("{} {}", a.circuit.first, a.circuit.last),
                addr: a.addr,
                local_id: a.local_id,
                root: a.is_root(),
                scene_sent: a.ready,
                position: a.position,
                terrain_patches_sent: a.terrain.as_ref().map_or(0, |t| t.patches_sent),
                terrain_done: a.terrain.as_ref().is_some_and(|t| t.is_done()),
            })
            .collect()
    }

    fn live_agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents
            .values()
            .filter(|a| !matches!(a.stage, Stage::Closing { .. }))
    }

    /// The next datagram to send and where to.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmit.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<RegionEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] should next be called (`None` while no agent is connected
    /// or expected).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let agents = self
            .agents
            .values()
            .filter_map(|a| a.next_deadline(&self.cfg))
            .min();
        let scene = agents
            .is_some()
            .then_some(self.next_scene_tick)
            .filter(|_| self.agents.values().any(Agent::is_root));
        let expiry = self.expected_until.values().min().copied();
        [agents, scene, expiry].into_iter().flatten().min()
    }

    /// Whole seconds since the Unix epoch at `now` (0 past 2106).
    fn unix_seconds(&self, now: Instant) -> u32 {
        let since = now.saturating_duration_since(self.origin);
        u32::try_from(self.unix_origin.saturating_add(since).as_secs()).unwrap_or(0)
    }

    /// Seconds of scene time at `now`.
    fn scene_time(&self, now: Instant) -> f64 {
        now.saturating_duration_since(self.origin).as_secs_f64()
    }

    /// Releases what each agent's budget allows and moves its datagrams to the transmit queue.
    fn drain(&mut self, now: Instant) {
        let world = World {
            objects: &self.objects,
            index: &self.object_index,
            hidden: &self.hidden,
            scene: self.scene.as_ref(),
            handle: self.info.handle(),
            max_body: self.cfg.max_object_body,
        };
        for a in self.agents.values_mut() {
            a.pump(now, &world);
            while let Some(d) = a.out.pop_front() {
                self.stats.sent += 1;
                self.stats.sent_bytes += u64::try_from(d.len()).unwrap_or(u64::MAX);
                self.transmit.push_back((a.addr, d));
            }
        }
    }

    /// Each circuit's load (closing ones included): cheap counters for tests and fuzzing. The
    /// caps they stay under are [`RegionConfig::budget`]'s.
    pub fn agent_loads(&self) -> Vec<AgentLoad> {
        self.agents.values().map(Agent::load).collect()
    }

    /// A fresh local id for an avatar, clear of the scene's.
    fn allocate_local_id(&mut self) -> u32 {
        loop {
            let id = self.next_local_id;
            self.next_local_id = self.next_local_id.wrapping_add(1).max(1);
            let taken = self.object_index.contains_key(&id)
                || self.agents.values().any(|a| a.local_id == id);
            if !taken {
                return id;
            }
        }
    }
}
