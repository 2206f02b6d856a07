//! One connected agent: its circuit (a [`Reliability`] and an outbox), where it is in the
//! story's gates, its avatar's position and controls, and its terrain transfer.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;

use web_time::Instant;

use super::RegionConfig;
use super::terrain_stream::{TerrainStream, Viewpoint};
use crate::ExpectedCircuit;
use overlook_protocol::circuit::Reliability;
use overlook_protocol::message::agent::control_flags as cf;
use overlook_protocol::message::{AgentIds, MessageRepr};
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::{Quat, Vec3};
use overlook_protocol::udp::{choose_zerocoding, flags};

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
    /// Land throttle, bytes/s.
    pub land_rate: f64,
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
            land_rate: cfg.default_land_rate,
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

    /// Encodes and queues a message on this circuit.
    pub(super) fn send<M: MessageRepr>(&mut self, now: Instant, msg: &M, reliable: bool) {
        match msg.to_bytes() {
            Ok(body) => {
                let mut f = if reliable { flags::RELIABLE } else { 0 };
                if M::ZEROCODED {
                    f = choose_zerocoding(f, M::ID, &body);
                }
                let (_, d) = self.rel.send(now, M::ID, f, body);
                self.out.push_back(d);
            }
            // Only our own oversized fields (a name over 255 bytes) can fail.
            Err(e) => tracing::error!("region cannot encode {}: {e}", M::NAME),
        }
    }

    /// What the terrain stream needs to know about the agent.
    pub(super) fn viewpoint(&self) -> Viewpoint {
        Viewpoint {
            at: self.position,
            far: self.far,
            rate: self.land_rate,
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
        consider(self.rel.next_deadline());
        if self.is_root() {
            consider(Some(self.next_ping));
            consider(Some(self.next_stats));
            consider(Some(self.next_coarse));
            consider(self.initial_at.filter(|_| !self.ready));
            consider(
                self.terrain
                    .as_ref()
                    .and_then(|s| s.next_deadline(self.land_rate)),
            );
        }
        Some(t)
    }
}

/// The ground height at a point (nearest sample), 0 outside the map.
pub(super) fn ground_at(map: &Heightmap, x: f32, y: f32) -> f32 {
    let idx = super::messages::metres;
    map.height(idx(x), idx(y)).unwrap_or(0.0)
}
