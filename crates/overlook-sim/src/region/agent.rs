//! One connected agent: its circuit (a [`Reliability`] and an outbox), where it is in the
//! story's gates, its avatar's position and controls, and its terrain transfer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

use web_time::Instant;

use super::objects::{SceneSource, pack_compressed, pack_updates};
use super::terrain_stream::{TerrainStream, Viewpoint};
use super::throttle::{Category, Throttle};
use super::{AgentLoad, OutboundBudget, RegionConfig};
use crate::ExpectedCircuit;
use overlook_protocol::circuit::Reliability;
use overlook_protocol::circuit::reliable::ResendsExhausted;
use overlook_protocol::message::agent::control_flags as cf;
use overlook_protocol::message::object::ObjectData;
use overlook_protocol::message::{AgentIds, Message, MessageRepr, generic};
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::{Quat, Vec3};
use overlook_protocol::udp::{MessageId, choose_zerocoding, flags};

/// Bytes as a bucket amount.
pub(super) fn f64_of(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The replies that never wait for a category bucket (their bytes are debited from the client's
/// total bucket, see [`Throttle::debit`]): each answers something the client sent or ends the
/// circuit, so none can amplify a flood, and holding them back would break the circuit itself.
/// `PacketAck` (from the reliability layer, not named here) costs at most 4 bytes per reliable
/// packet received plus a header per 255; `CompletePingCheck` answers one `StartPingCheck` with
/// fewer bytes than it; `StartPingCheck` is ours, every 5 s; `LogoutReply` and `KickUser` go once
/// per circuit. Delaying them behind a backlog would make the viewer resend, mismeasure its ping
/// or miss its logout.
const CONTROL: [&str; 4] = [
    "CompletePingCheck",
    "StartPingCheck",
    "LogoutReply",
    "KickUser",
];

/// A message waiting in the task queue: encoded, not yet numbered (a sequence number is given
/// when it leaves, so waiting does not count against its resend timer).
#[derive(Debug)]
pub(super) struct Pending {
    id: MessageId,
    flags: u8,
    body: Vec<u8>,
}

impl Pending {
    /// Its datagram's size without appended acks (a header of 6 and a message number ≤ 4).
    fn cost(&self) -> usize {
        self.body.len() + 10
    }

    fn reliable(&self) -> bool {
        self.flags & flags::RELIABLE != 0
    }
}

/// What the pump needs of the region to pack requested objects.
pub(super) struct World<'a> {
    pub objects: &'a [ObjectData],
    pub index: &'a HashMap<u32, usize>,
    pub hidden: &'a HashSet<u32>,
    pub scene: &'a dyn SceneSource,
    pub handle: u64,
    pub max_body: usize,
}

/// Control bits that move or turn the avatar.
pub(super) const MOTION_FLAGS: u32 = cf::AT_POS
    | cf::AT_NEG
    | cf::LEFT_POS
    | cf::LEFT_NEG
    | cf::UP_POS
    | cf::UP_NEG
    | cf::NUDGE_AT_POS
    | cf::NUDGE_AT_NEG
    | cf::NUDGE_LEFT_POS
    | cf::NUDGE_LEFT_NEG
    | cf::NUDGE_UP_POS
    | cf::NUDGE_UP_NEG
    | cf::TURN_LEFT
    | cf::TURN_RIGHT
    | cf::YAW_POS
    | cf::YAW_NEG;

/// Where an agent is in the story.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stage {
    /// `UseCircuitCode` accepted; waiting for `CompleteAgentMovement`.
    Child,
    /// In the region.
    Root,
    /// Gone (logged out, kicked): only acks and resends until `until`.
    Closing {
        /// When the circuit is forgotten.
        until: Instant,
    },
}

/// One agent's circuit and presence.
#[derive(Debug)]
pub(super) struct Agent {
    pub circuit: ExpectedCircuit,
    pub addr: SocketAddr,
    pub rel: Reliability,
    pub out: VecDeque<Vec<u8>>,
    pub stage: Stage,
    /// The avatar's local id.
    pub local_id: u32,
    /// The seed capability was requested.
    pub seeds: bool,
    /// `RegionHandshakeReply` flags, once it arrived.
    pub handshake_reply: Option<u32>,
    /// When the scene is due (both gates passed, plus OpenSim's ~4 frames).
    pub initial_at: Option<Instant>,
    /// The scene and the other avatars were sent.
    pub ready: bool,
    /// Local ids of other avatars this agent has been sent.
    pub known: HashSet<u32>,
    pub position: Vec3,
    pub velocity: Vec3,
    pub yaw: f32,
    /// The last body rotation the viewer sent (the viewer's rotation wins when it changes).
    pub viewer_rotation: Option<Quat>,
    pub controls: u32,
    /// When motion was last integrated.
    pub moved_at: Instant,
    /// A terse update is owed (the avatar moved, or stopped).
    pub motion_dirty: bool,
    /// Height of the avatar's centre above the ground while walking.
    pub stand_offset: f32,
    pub far: f32,
    /// The outbound budget: a bucket per category and the total.
    pub throttle: Throttle,
    /// The caps on what waits.
    pub limits: OutboundBudget,
    /// Messages of the task category waiting for the budget (or for acks).
    pub task: VecDeque<Pending>,
    /// Bytes of their bodies.
    pub task_bytes: usize,
    /// Objects owed a full update, in order, with whether to send them compressed; `owed_set`
    /// holds the same ids so a repeated request is coalesced.
    pub owed: VecDeque<(u32, bool)>,
    pub owed_set: HashSet<u32>,
    pub dropped_requests: u64,
    pub coalesced_requests: u64,
    pub dropped_packets: u64,
    /// The task queue overflowed with reliable packets: the agent is to be dropped.
    pub overflowed: bool,
    /// When an ack last removed a pending packet, or pending packets last started.
    pub acked_at: Instant,
    pub terrain: Option<TerrainStream>,
    pub last_recv: Instant,
    pub next_ping: Instant,
    pub ping_id: u8,
    pub pings: VecDeque<(u8, Instant)>,
    pub next_stats: Instant,
    pub next_coarse: Instant,
}

impl Agent {
    pub(super) fn new(
        circuit: ExpectedCircuit,
        addr: SocketAddr,
        seeds: bool,
        local_id: u32,
        cfg: &RegionConfig,
        now: Instant,
    ) -> Self {
        let position = circuit.start_position;
        let yaw = {
            let l = super::messages::flat_look_at(circuit.look_at);
            l.y.atan2(l.x)
        };
        Agent {
            circuit,
            addr,
            rel: Reliability::new(cfg.reliable.clone()),
            out: VecDeque::new(),
            stage: Stage::Child,
            local_id,
            seeds,
            handshake_reply: None,
            initial_at: None,
            ready: false,
            known: HashSet::new(),
            position,
            velocity: Vec3::ZERO,
            yaw,
            viewer_rotation: None,
            controls: 0,
            moved_at: now,
            motion_dirty: false,
            stand_offset: 0.0,
            far: cfg.default_far,
            throttle: Throttle::new(
                cfg.default_rates,
                cfg.budget.burst,
                cfg.budget.land_burst,
                now,
            ),
            limits: cfg.budget.clone(),
            task: VecDeque::new(),
            task_bytes: 0,
            owed: VecDeque::new(),
            owed_set: HashSet::new(),
            dropped_requests: 0,
            coalesced_requests: 0,
            dropped_packets: 0,
            overflowed: false,
            acked_at: now,
            terrain: None,
            last_recv: now,
            next_ping: now + cfg.ping_interval,
            ping_id: 0,
            pings: VecDeque::new(),
            next_stats: now,
            next_coarse: now,
        }
    }

    /// The agent's `AgentID`/`SessionID` pair.
    pub(super) fn ids(&self) -> AgentIds {
        AgentIds {
            agent_id: self.circuit.agent_id,
            session_id: self.circuit.session_id,
        }
    }

    /// True when a message's ids are this agent's (OpenSim drops the others).
    pub(super) fn owns(&self, ids: &AgentIds) -> bool {
        *ids == self.ids()
    }

    pub(super) fn is_root(&self) -> bool {
        self.stage == Stage::Root
    }

    /// Encodes a message and sends it through the budget: the control replies named in
    /// [`CONTROL`] at once, everything else through the task queue (see [`Self::pump`]).
    pub(super) fn send<M: MessageRepr>(&mut self, now: Instant, msg: &M, reliable: bool) {
        let Some((id, f, body)) = encode(msg, reliable) else {
            return;
        };
        if CONTROL.contains(&M::NAME) {
            self.transmit(now, id, f, body, None);
        } else {
            self.enqueue(Pending { id, flags: f, body });
        }
    }

    /// Numbers and sends a datagram now, debiting `category` and the total (only the total for
    /// a control reply).
    fn transmit(
        &mut self,
        now: Instant,
        id: MessageId,
        f: u8,
        body: Vec<u8>,
        category: Option<Category>,
    ) {
        if f & flags::RELIABLE != 0 && self.rel.unacked_len() == 0 {
            // Pending packets start now: the ack timeout counts from here.
            self.acked_at = now;
        }
        let (_, d) = self.rel.send(now, id, f, body);
        let cost = f64_of(d.len());
        match category {
            Some(c) => self.throttle.take(c, cost),
            None => self.throttle.debit(cost),
        }
        self.out.push_back(d);
    }

    /// Queues a task message; beyond the queue's caps the oldest unreliable one is dropped (a
    /// newer one replaces it), and a queue of reliable ones only marks the agent overflowed.
    fn enqueue(&mut self, p: Pending) {
        self.task_bytes += p.body.len();
        self.task.push_back(p);
        while self.task.len() > self.limits.max_queued_packets
            || self.task_bytes > self.limits.max_queued_bytes
        {
            let Some(i) = self.task.iter().position(|p| !p.reliable()) else {
                if !self.overflowed {
                    tracing::info!(
                        "region: {} {}'s task queue is full of reliable packets",
                        self.circuit.first,
                        self.circuit.last
                    );
                }
                self.overflowed = true;
                break;
            };
            if let Some(old) = self.task.remove(i) {
                self.task_bytes = self.task_bytes.saturating_sub(old.body.len());
                self.dropped_packets += 1;
            }
        }
    }

    /// Owes `id` a full update (`compressed`: as `ObjectUpdateCompressed`). An object already
    /// owed is not queued again; with `capped`, a full object queue drops the request.
    pub(super) fn owe_object(&mut self, id: u32, compressed: bool, capped: bool) {
        if self.owed_set.contains(&id) {
            self.coalesced_requests += 1;
            return;
        }
        if capped && self.owed.len() >= self.limits.max_object_requests {
            self.dropped_requests += 1;
            return;
        }
        self.owed_set.insert(id);
        self.owed.push_back((id, compressed));
    }

    /// True when a reliable packet of `cost` bytes may go without passing the unacked caps (a
    /// circuit with nothing pending may always send one).
    fn room(&self, cost: f64) -> bool {
        let n = self.rel.unacked_len();
        n == 0
            || (n < self.limits.max_unacked_packets
                && f64_of(self.rel.unacked_bytes()) + cost <= f64_of(self.limits.max_unacked_bytes))
    }

    /// Resends what is due, as far as the resend bucket (and the total) allows, and the acks
    /// owed; the `PacketAck`s are debited from the total.
    pub(super) fn poll_resends(&mut self, now: Instant) -> Result<(), ResendsExhausted> {
        self.throttle.refill(now);
        let before = self.out.len();
        let mut resent = 0.0;
        let throttle = &mut self.throttle;
        let result = self.rel.poll_budgeted(now, &mut self.out, &mut |len| {
            let cost = f64_of(len);
            let ok = throttle.has(Category::Resend, cost);
            if ok {
                throttle.take(Category::Resend, cost);
                resent += cost;
            }
            ok
        });
        let new: f64 = self.out.iter().skip(before).map(|d| f64_of(d.len())).sum();
        self.throttle.debit((new - resent).max(0.0));
        result
    }

    /// Releases what the budget allows: the task queue (refilled from the owed objects whenever
    /// it runs empty) through the task bucket, then packed terrain through the land bucket;
    /// reliable packets only while the unacked caps allow. The task queue goes first so the
    /// story keeps OpenSim's order: `RegionHandshake` and `AgentMovementComplete` before the
    /// first `LayerData` queued beside them (PROTOCOL §5).
    pub(super) fn pump(&mut self, now: Instant, world: &World<'_>) {
        if matches!(self.stage, Stage::Closing { .. }) {
            return;
        }
        self.throttle.refill(now);
        loop {
            if self.task.is_empty() {
                self.feed(now, world);
            }
            let Some(front) = self.task.front() else {
                break;
            };
            let c = f64_of(front.cost());
            if (front.reliable() && !self.room(c)) || !self.throttle.has(Category::Task, c) {
                break;
            }
            let Some(p) = self.task.pop_front() else {
                break;
            };
            self.task_bytes = self.task_bytes.saturating_sub(p.body.len());
            self.transmit(now, p.id, p.flags, p.body, Some(Category::Task));
        }
        if let Some(mut stream) = self.terrain.take() {
            while let Some(c) = stream.front_cost() {
                if !self.room(c) || !self.throttle.has(Category::Land, c) {
                    break;
                }
                let Some(layer) = stream.pop_front() else {
                    break;
                };
                if let Some((id, f, body)) = encode(&layer, true) {
                    self.transmit(now, id, f, body, Some(Category::Land));
                }
            }
            self.terrain = Some(stream);
        }
    }

    /// Packs the next owed objects (up to 16 of one kind, still present) into the task queue.
    fn feed(&mut self, now: Instant, world: &World<'_>) {
        while self.task.is_empty() {
            let Some(&(_, compressed)) = self.owed.front() else {
                return;
            };
            let mut ids = Vec::new();
            while ids.len() < 16 {
                match self.owed.front() {
                    Some(&(id, c)) if c == compressed => {
                        self.owed.pop_front();
                        self.owed_set.remove(&id);
                        if !world.hidden.contains(&id) {
                            ids.push(id);
                        }
                    }
                    _ => break,
                }
            }
            if compressed {
                let blocks = ids.iter().filter_map(|&id| world.scene.compressed(id));
                for msg in pack_compressed(world.handle, blocks.collect(), world.max_body) {
                    self.send(now, &msg, true);
                }
            } else {
                let blocks = ids
                    .iter()
                    .filter_map(|id| world.index.get(id))
                    .filter_map(|&i| world.objects.get(i).cloned());
                for msg in pack_updates(world.handle, blocks.collect(), world.max_body) {
                    self.send(now, &msg, true);
                }
            }
        }
    }

    /// The circuit's load.
    pub(super) fn load(&self) -> AgentLoad {
        let (terrain_packets, terrain_bytes) = self.terrain.as_ref().map_or((0, 0), |t| t.queued());
        AgentLoad {
            addr: self.addr,
            unacked_packets: self.rel.unacked_len(),
            unacked_bytes: self.rel.unacked_bytes(),
            queued_packets: self.task.len() + terrain_packets,
            queued_bytes: self.task_bytes + 10 * self.task.len() + terrain_bytes,
            queued_objects: self.owed.len(),
            dropped_requests: self.dropped_requests,
            coalesced_requests: self.coalesced_requests,
            dropped_packets: self.dropped_packets,
            total_rate: self.throttle.total_rate(),
            total_burst: self.throttle.total_capacity(),
        }
    }

    /// True when an inbound message may be this circuit's: a typed message carrying agent ids
    /// must carry this agent's, any other must be a message the template knows whose body
    /// decodes, and whose `AgentData` (when it opens with one) names this agent. Only such
    /// datagrams keep the circuit alive and are acked.
    pub(super) fn accepts(&self, message: &Message) -> bool {
        let c = &self.circuit;
        match message {
            Message::UseCircuitCode(u) => {
                u.code == c.circuit_code && u.agent_id == c.agent_id && u.session_id == c.session_id
            }
            Message::CompleteAgentMovement(m) => self.owns(&m.agent),
            Message::RegionHandshakeReply(m) => self.owns(&m.agent),
            Message::AgentUpdate(m) => self.owns(&m.agent),
            Message::AgentThrottle(m) => self.owns(&m.agent),
            Message::LogoutRequest(m) => self.owns(&m.agent),
            Message::RequestMultipleObjects(m) => self.owns(&m.agent),
            Message::Other { id, body } => match generic::decode(*id, body) {
                Err(_) => false,
                Ok(g) => g
                    .blocks
                    .first()
                    .filter(|b| b.name == "AgentData")
                    .is_none_or(|b| {
                        b.fields.iter().all(|(name, v)| match (*name, v) {
                            ("AgentID", generic::FieldValue::Uuid(u)) => *u == c.agent_id,
                            ("SessionID", generic::FieldValue::Uuid(u)) => *u == c.session_id,
                            _ => true,
                        })
                    }),
            },
            _ => true,
        }
    }

    /// What the terrain stream needs to know about the agent.
    pub(super) fn viewpoint(&self) -> Viewpoint {
        Viewpoint {
            at: self.position,
            far: self.far,
        }
    }

    /// The avatar's rotation.
    pub(super) fn rotation(&self) -> Quat {
        Quat::from_yaw(self.yaw)
    }

    /// Takes the viewer's body rotation when it changed since its last update.
    pub(super) fn viewer_turned(&mut self, q: Quat) {
        if self.viewer_rotation != Some(q) {
            self.viewer_rotation = Some(q);
            let yaw = (2.0 * (q.w * q.z + q.x * q.y)).atan2(1.0 - 2.0 * (q.y * q.y + q.z * q.z));
            if yaw.is_finite() && (yaw - self.yaw).abs() > 1e-4 {
                self.yaw = yaw;
                self.motion_dirty = true;
            }
        }
    }

    /// True while control flags move or turn the avatar.
    pub(super) fn is_moving(&self) -> bool {
        self.controls & MOTION_FLAGS != 0
    }

    /// Advances the avatar to `now` under its control flags: walk (or fly) along its body
    /// rotation, strafe, turn, climb when flying; on foot it follows the ground.
    pub(super) fn integrate(&mut self, now: Instant, map: &Heightmap, cfg: &RegionConfig) {
        let dt = now
            .saturating_duration_since(self.moved_at)
            .as_secs_f32()
            .min(1.0);
        self.moved_at = now;
        let f = self.controls;
        let axis = |pos: u32, neg: u32| {
            f32::from(i8::from(f & pos != 0)) - f32::from(i8::from(f & neg != 0))
        };
        let turn = axis(cf::TURN_LEFT | cf::YAW_POS, cf::TURN_RIGHT | cf::YAW_NEG);
        let fwd = axis(cf::AT_POS | cf::NUDGE_AT_POS, cf::AT_NEG | cf::NUDGE_AT_NEG);
        let left = axis(
            cf::LEFT_POS | cf::NUDGE_LEFT_POS,
            cf::LEFT_NEG | cf::NUDGE_LEFT_NEG,
        );
        let up = axis(cf::UP_POS | cf::NUDGE_UP_POS, cf::UP_NEG | cf::NUDGE_UP_NEG);
        let flying = f & cf::FLY != 0;
        let speed = if flying {
            cfg.fly_speed
        } else {
            cfg.walk_speed
        };
        if turn != 0.0 {
            self.yaw = (self.yaw + turn * cfg.turn_rate * dt).rem_euclid(core::f32::consts::TAU);
        }
        let (s, c) = self.yaw.sin_cos();
        let vx = (fwd * c - left * s) * speed;
        let vy = (fwd * s + left * c) * speed;
        let vz = if flying { up * speed } else { 0.0 };
        let max_x = f32::from(u16::try_from(map.size_x()).unwrap_or(u16::MAX)) - 0.01;
        let max_y = f32::from(u16::try_from(map.size_y()).unwrap_or(u16::MAX)) - 0.01;
        let old = self.position;
        let x = (old.x + vx * dt).clamp(0.0, max_x);
        let y = (old.y + vy * dt).clamp(0.0, max_y);
        let ground = ground_at(map, x, y);
        let z = if flying {
            (old.z + vz * dt).max(ground + self.stand_offset)
        } else {
            ground + self.stand_offset
        };
        self.position = Vec3::new(x, y, z);
        self.velocity = if self.is_moving() {
            Vec3::new(vx, vy, vz)
        } else {
            Vec3::ZERO
        };
        if self.position != old || turn != 0.0 {
            self.motion_dirty = true;
        }
    }

    /// The earliest instant something of this agent's own is due.
    pub(super) fn next_deadline(&self, cfg: &RegionConfig) -> Option<Instant> {
        let mut t = match self.stage {
            Stage::Closing { until } => return Some(until),
            Stage::Child | Stage::Root => self.last_recv + cfg.inactivity_timeout,
        };
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                t = t.min(d);
            }
        };
        consider(self.rel.next_ack_deadline());
        if let Some((due, len)) = self.rel.next_resend() {
            consider(Some(
                due.max(self.throttle.ready_at(Category::Resend, f64_of(len))),
            ));
        }
        if self.rel.unacked_len() > 0 {
            consider(Some(self.acked_at + self.limits.ack_timeout));
        }
        if self.overflowed {
            consider(Some(self.last_recv));
        }
        if let Some(front) = self.task.front() {
            let c = f64_of(front.cost());
            if !front.reliable() || self.room(c) {
                consider(Some(self.throttle.ready_at(Category::Task, c)));
            }
        }
        if self.is_root() {
            consider(Some(self.next_ping));
            consider(Some(self.next_stats));
            consider(Some(self.next_coarse));
            consider(self.initial_at.filter(|_| !self.ready));
            if let Some(stream) = &self.terrain {
                consider(stream.next_round());
                if let Some(c) = stream.front_cost()
                    && self.room(c)
                {
                    consider(Some(self.throttle.ready_at(Category::Land, c)));
                }
            }
        }
        Some(t)
    }
}

/// A message's id, flags and body, or `None` (logged) when it cannot be encoded: only our own
/// oversized fields (a name over 255 bytes) can fail.
fn encode<M: MessageRepr>(msg: &M, reliable: bool) -> Option<(MessageId, u8, Vec<u8>)> {
    match msg.to_bytes() {
        Ok(body) => {
            let mut f = if reliable { flags::RELIABLE } else { 0 };
            if M::ZEROCODED {
                f = choose_zerocoding(f, M::ID, &body);
            }
            Some((M::ID, f, body))
        }
        Err(e) => {
            tracing::error!("region cannot encode {}: {e}", M::NAME);
            None
        }
    }
}

/// The ground height at a point (nearest sample), 0 outside the map.
pub(super) fn ground_at(map: &Heightmap, x: f32, y: f32) -> f32 {
    let idx = super::messages::metres;
    map.height(idx(x), idx(y)).unwrap_or(0.0)
}
