//! The viewer side of an LLUDP circuit as a sans-IO state machine (PROTOCOL §2.6, §2.7, §3.4,
//! §5, §8).
//!
//! Feed it inbound datagrams with [`Circuit::handle_datagram`] and the passage of time with
//! [`Circuit::handle_timeout`]; drain what it wants to send with [`Circuit::poll_transmit`], when
//! it next needs waking with [`Circuit::poll_timeout`] and what happened with
//! [`Circuit::poll_event`]. The caller owns the socket and the clock, so tests drive it with a
//! fake clock over an in-memory link.
//!
//! It runs the story's sequence: `UseCircuitCode` (reliable, resent) → as soon as that is acked,
//! `CompleteAgentMovement` and at once `AgentThrottle` (waiting for `RegionHandshake` instead
//! deadlocks on OpenSim) → `RegionHandshakeReply` (flags `0x6`) when the handshake arrives → on
//! `AgentMovementComplete`, at once an `AgentUpdate` whose `Far` covers the whole region (without
//! these OpenSim trickles terrain for seconds, PROTOCOL §8). Throughout: acks batched and
//! piggy-backed, duplicates re-acked but delivered once, resends with the RESENT flag on an RTO
//! from measured round trips, pings answered and sent, `AgentUpdate` keep-alive, an inactivity
//! timeout, and `LogoutRequest` with a timeout. A malformed datagram is logged, counted and
//! dropped; nothing here panics on input.

mod gaps;
mod phase;
pub mod reliable;

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use web_time::Instant;

pub use gaps::SequenceGaps;
pub use phase::{Phase, PhaseTimes};
pub use reliable::{Reliability, ReliableConfig, ReliableStats};

use crate::message::agent::{AgentUpdate, Throttles};
use crate::message::circuit::{CompletePingCheck, StartPingCheck};
use crate::message::object::{PCode, RequestMultipleObjects};
use crate::message::{Message, MessageError, MessageRepr};
use crate::terrain;
use crate::types::{Uuid, Vec3};
use crate::udp::{self, MessageId, choose_zerocoding, flags};

mod build;

/// How the circuit behaves; [`CircuitConfig::new`] gives Overlook's defaults.
#[derive(Debug, Clone)]
pub struct CircuitConfig {
    /// Our agent (login `agent_id`).
    pub agent_id: Uuid,
    /// Our session (login `session_id`).
    pub session_id: Uuid,
    /// The circuit code from the login reply.
    pub circuit_code: u32,
    /// Region width in metres (login `region_size_x`, 256 when absent).
    pub region_size_x: u32,
    /// Region depth in metres (login `region_size_y`).
    pub region_size_y: u32,
    /// Acks and resends.
    pub reliable: ReliableConfig,
    /// How often we ping the region to measure the round trip.
    pub ping_interval: Duration,
    /// How often an idle agent sends `AgentUpdate`.
    pub agent_update_interval: Duration,
    /// Silence from the region after which the circuit is declared dead.
    pub inactivity_timeout: Duration,
    /// How long to wait for `LogoutReply`.
    pub logout_timeout: Duration,
    /// A spell without new objects after which the scene counts as settled.
    pub objects_quiet: Duration,
    /// Bandwidth we ask the region for.
    pub throttles: Throttles,
    /// `RegionHandshakeReply` flags: `0x2` empty cache (full updates, no probes) | `0x4` self
    /// appearance.
    pub handshake_reply_flags: u32,
}

impl CircuitConfig {
    /// Overlook's defaults for the given login credentials and a 256 m region.
    pub fn new(agent_id: Uuid, session_id: Uuid, circuit_code: u32) -> Self {
        CircuitConfig {
            agent_id,
            session_id,
            circuit_code,
            region_size_x: 256,
            region_size_y: 256,
            reliable: ReliableConfig::default(),
            ping_interval: Duration::from_secs(5),
            agent_update_interval: Duration::from_secs(1),
            inactivity_timeout: Duration::from_secs(60),
            logout_timeout: Duration::from_secs(5),
            objects_quiet: Duration::from_millis(1500),
            throttles: Throttles::OVERLOOK,
            handshake_reply_flags: 0x6,
        }
    }

    /// The draw distance that covers the whole region from anywhere in it (its diagonal).
    pub fn far(&self) -> f32 {
        let x = f64::from(self.region_size_x);
        let y = f64::from(self.region_size_y);
        crate::types::f32_from_f64(x.hypot(y).ceil())
    }
}

/// Why the circuit closed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DisconnectReason {
    /// `LogoutReply` arrived after our `LogoutRequest`.
    #[error("logged out")]
    LoggedOut,
    /// No `LogoutReply` within the logout timeout (OpenSim sometimes loses it); closed anyway.
    #[error("logged out (no LogoutReply within {0:?})")]
    LogoutTimedOut(Duration),
    /// The region never acknowledged `UseCircuitCode`: unknown circuit code or unreachable.
    #[error(
        "the region did not acknowledge UseCircuitCode (wrong circuit code, or the region is unreachable)"
    )]
    CircuitNotAcked,
    /// A reliable message used up its resends.
    #[error("no ack for {0} after every resend")]
    NoAck(MessageId),
    /// The region was silent for too long.
    #[error("the region was silent for {0:?}")]
    Inactive(Duration),
    /// The region sent `KickUser`.
    #[error("kicked by the region: {0}")]
    Kicked(String),
    /// The region sent `DisableSimulator`.
    #[error("the region closed the circuit (DisableSimulator)")]
    SimulatorDisabled,
}

/// What the circuit reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A phase of the story was reached, `ms` after the login request.
    Phase {
        /// Which.
        phase: Phase,
        /// Milliseconds since `login_sent`.
        ms: u64,
    },
    /// A message from the region, delivered once.
    Message(Box<Message>),
    /// The circuit is closed; nothing more will be sent or reported.
    Disconnected(DisconnectReason),
}

/// Counters for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CircuitStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams dropped because they did not decode.
    pub malformed: u64,
    /// Land patches received (duplicates included).
    pub land_patches: u64,
    /// Distinct scene objects seen (avatars excluded).
    pub objects: u64,
    /// Inbound sequence numbers never received: gaps between the lowest and highest seen that
    /// no resend or late datagram filled ([`SequenceGaps`]).
    pub lost: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// `UseCircuitCode` sent, not yet acked.
    Connecting,
    /// Acked: the story runs.
    Connected,
    /// `LogoutRequest` sent.
    LoggingOut { deadline: Instant },
    /// Done.
    Closed,
}

/// The viewer end of one region circuit.
#[derive(Debug)]
pub struct Circuit {
    cfg: CircuitConfig,
    rel: Reliability,
    state: State,
    origin: Instant,
    phases: PhaseTimes,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    last_recv: Instant,
    use_circuit_sequence: u32,
    next_ping: Option<Instant>,
    ping_id: u8,
    pings: VecDeque<(u8, Instant)>,
    next_agent_update: Option<Instant>,
    position: Vec3,
    look_at: Vec3,
    control_flags: u32,
    land_seen: HashSet<(u32, u32)>,
    objects: HashSet<u32>,
    last_new_object: Option<Instant>,
    region_prims: Option<u64>,
    stats: CircuitStats,
    gaps: SequenceGaps,
}

impl Circuit {
    /// Opens the circuit: queues `UseCircuitCode`. `login_sent` is when the login request went
    /// out (phase time 0); `now` is when its reply arrived.
    pub fn new(cfg: CircuitConfig, login_sent: Instant, now: Instant) -> Self {
        let rel = Reliability::new(cfg.reliable.clone());
        let mut c = Circuit {
            cfg,
            rel,
            state: State::Connecting,
            origin: login_sent,
            phases: PhaseTimes::default(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_recv: now,
            use_circuit_sequence: 0,
            next_ping: None,
            ping_id: 0,
            pings: VecDeque::new(),
            next_agent_update: None,
            position: Vec3::new(128.0, 128.0, 25.0),
            look_at: Vec3::new(1.0, 0.0, 0.0),
            control_flags: 0,
            land_seen: HashSet::new(),
            objects: HashSet::new(),
            last_new_object: None,
            region_prims: None,
            stats: CircuitStats::default(),
            gaps: SequenceGaps::default(),
        };
        c.reach(login_sent, Phase::LoginSent);
        c.reach(now, Phase::LoginReplied);
        let msg = build::use_circuit_code(&c.cfg);
        c.use_circuit_sequence = c.send_now(now, &msg, true);
        c
    }

    /// The configuration.
    pub fn config(&self) -> &CircuitConfig {
        &self.cfg
    }

    /// When each phase was reached.
    pub fn phases(&self) -> &PhaseTimes {
        &self.phases
    }

    /// True once the circuit has closed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Counters.
    pub fn stats(&self) -> CircuitStats {
        CircuitStats {
            lost: self.gaps.lost(),
            ..self.stats
        }
    }

    /// Reliability counters.
    pub fn reliable_stats(&self) -> ReliableStats {
        self.rel.stats()
    }

    /// The smoothed round trip, once measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rel.rtt().smoothed()
    }

    /// The avatar's last known position (from `AgentMovementComplete`).
    pub fn position(&self) -> Vec3 {
        self.position
    }

    /// The avatar's look-at direction (from `AgentMovementComplete`).
    pub fn look_at(&self) -> Vec3 {
        self.look_at
    }

    fn ms_since_origin(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    fn reach(&mut self, now: Instant, phase: Phase) {
        let ms = self.ms_since_origin(now);
        if self.phases.record(phase, ms) {
            self.events.push_back(Event::Phase { phase, ms });
        }
    }

    fn close(&mut self, reason: DisconnectReason) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.events.push_back(Event::Disconnected(reason));
        }
    }

    /// Encodes and queues a message; returns its sequence number.
    fn send_now<M: MessageRepr>(&mut self, now: Instant, msg: &M, reliable: bool) -> u32 {
        match msg.to_bytes() {
            Ok(body) => {
                let mut f = if reliable { flags::RELIABLE } else { 0 };
                if M::ZEROCODED {
                    f = choose_zerocoding(f, M::ID, &body);
                }
                let (seq, d) = self.rel.send(now, M::ID, f, body);
                self.transmit.push_back(d);
                seq
            }
            Err(e) => {
                // Only our own oversized fields can fail here; nothing of the region's.
                tracing::error!("cannot encode {}: {e}", M::NAME);
                0
            }
        }
    }

    /// Sends an application message (e.g. `ChatFromViewer`) over the circuit.
    ///
    /// # Errors
    /// [`MessageError`] when the message cannot be encoded (a field too long).
    pub fn send<M: MessageRepr>(
        &mut self,
        now: Instant,
        msg: &M,
        reliable: bool,
    ) -> Result<u32, MessageError> {
        msg.to_bytes()?;
        Ok(self.send_now(now, msg, reliable))
    }

    /// Sets the `AgentUpdate` control flags (walk, turn, fly…) and sends an update at once.
    pub fn set_controls(&mut self, now: Instant, control_flags: u32) {
        if control_flags != self.control_flags {
            self.control_flags = control_flags;
            if self.state == State::Connected && self.phases.get(Phase::MovementComplete).is_some()
            {
                self.send_agent_update(now);
            }
        }
    }

    /// Starts a logout: sends `LogoutRequest` and closes on `LogoutReply` or after the logout
    /// timeout.
    pub fn logout(&mut self, now: Instant) {
        match self.state {
            State::Connected | State::Connecting => {
                let msg = build::logout_request(&self.cfg);
                self.send_now(now, &msg, true);
                self.state = State::LoggingOut {
                    deadline: now + self.cfg.logout_timeout,
                };
            }
            State::LoggingOut { .. } | State::Closed => {}
        }
    }

    /// Processes one datagram from the region. A malformed one is logged and dropped.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        self.stats.received += 1;
        self.last_recv = now;
        // Every datagram with a readable header counts towards the gaps, even one whose message
        // then fails to decode: it arrived.
        if let Ok(header) = udp::Packet::new_checked(datagram) {
            self.gaps.record(header.sequence());
        }
        let packet = match udp::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::warn!("dropped malformed datagram ({} bytes): {e}", datagram.len());
                return;
            }
        };
        let receipt = self.rel.receive(now, &packet);
        let message = match Message::parse(packet.message, &packet.body) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::warn!(
                    "dropped malformed {:?} #{}: {e}",
                    packet.message,
                    packet.sequence
                );
                return;
            }
        };
        if let Message::PacketAck(ack) = &message {
            for &id in &ack.packets {
                self.rel.ack(id);
            }
        }
        if self.state == State::Connecting && !self.rel.is_unacked(self.use_circuit_sequence) {
            self.on_circuit_acked(now);
        }
        if receipt == reliable::Receipt::Duplicate {
            return;
        }
        // The message is reported before the phases it completes and before `Disconnected`
        // when it closed the circuit (`LogoutReply`, `KickUser`, `DisableSimulator`), so whoever
        // stops at a phase (`ObjectsSettled`, say) or at the end has seen the message.
        let at = self.events.len();
        self.react(now, &message);
        if !matches!(message, Message::PacketAck(_)) {
            self.events.insert(at, Event::Message(Box::new(message)));
        }
    }

    fn on_circuit_acked(&mut self, now: Instant) {
        self.state = State::Connected;
        self.reach(now, Phase::CircuitAcked);
        let cam = build::complete_agent_movement(&self.cfg);
        self.send_now(now, &cam, true);
        let throttle = build::agent_throttle(&self.cfg);
        self.send_now(now, &throttle, true);
        // The first ping goes out at once, so the round trip (and with it the resend timeout)
        // is known within a round trip of the circuit opening, not 5 s later.
        self.next_ping = Some(now);
    }

    fn react(&mut self, now: Instant, message: &Message) {
        match message {
            Message::StartPingCheck(ping) => {
                let reply = CompletePingCheck {
                    ping_id: ping.ping_id,
                };
                self.send_now(now, &reply, false);
            }
            Message::CompletePingCheck(pong) => {
                if let Some(i) = self.pings.iter().position(|(id, _)| *id == pong.ping_id)
                    && let Some((_, sent)) = self.pings.remove(i)
                {
                    self.rel.rtt_sample(now.saturating_duration_since(sent));
                }
            }
            Message::RegionHandshake(_) => {
                self.reach(now, Phase::RegionHandshake);
                let reply = build::region_handshake_reply(&self.cfg);
                self.send_now(now, &reply, true);
            }
            Message::AgentMovementComplete(amc) => {
                self.position = amc.position;
                self.look_at = amc.look_at;
                self.reach(now, Phase::MovementComplete);
                self.send_agent_update(now);
            }
            Message::LayerData(layer) => self.count_terrain(now, &layer.data),
            Message::ObjectUpdate(u) => {
                for o in &u.objects {
                    if o.pcode != PCode::Avatar {
                        self.saw_object(now, o.id);
                    }
                }
            }
            Message::ObjectUpdateCompressed(u) => {
                for o in &u.objects {
                    if let Some((id, pcode)) = build::compressed_id(&o.data)
                        && pcode != PCode::Avatar
                    {
                        self.saw_object(now, id);
                    }
                }
            }
            Message::ObjectUpdateCached(c) => {
                // We keep no object cache: ask for every probed object in full.
                let ids: Vec<u32> = c.objects.iter().map(|o| o.id).collect();
                for chunk in ids.chunks(255) {
                    let req: RequestMultipleObjects = build::request_objects(&self.cfg, chunk);
                    self.send_now(now, &req, true);
                }
            }
            Message::SimStats(s) => {
                if let Some(total) = build::total_prims(s) {
                    self.region_prims = Some(total);
                    self.check_objects_settled(now);
                }
            }
            Message::LogoutReply(_) => {
                if matches!(self.state, State::LoggingOut { .. }) {
                    self.reach(now, Phase::Logout);
                    self.close(DisconnectReason::LoggedOut);
                }
            }
            Message::KickUser(k) => self.close(DisconnectReason::Kicked(k.reason.clone())),
            Message::DisableSimulator(_) => self.close(DisconnectReason::SimulatorDisabled),
            _ => {}
        }
    }

    fn count_terrain(&mut self, now: Instant, data: &[u8]) {
        let (sx, sy) = (self.cfg.region_size_x, self.cfg.region_size_y);
        // Which patches arrived, not their heights: the terrain plugin decodes those.
        match terrain::land_patch_positions(data, sx, sy) {
            Ok((layer, positions)) if layer.is_land() => {
                for &(x, y) in &positions {
                    self.stats.land_patches += 1;
                    self.land_seen.insert((x, y));
                }
                if !positions.is_empty() {
                    self.reach(now, Phase::FirstTerrain);
                }
                let total = u64::from(sx / 16) * u64::from(sy / 16);
                if u64::try_from(self.land_seen.len()).unwrap_or(0) >= total {
                    self.reach(now, Phase::TerrainComplete);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("undecodable LayerData: {e}"),
        }
    }

    fn saw_object(&mut self, now: Instant, local_id: u32) {
        if self.objects.insert(local_id) {
            self.stats.objects += 1;
            self.last_new_object = Some(now);
            self.reach(now, Phase::FirstObject);
            self.check_objects_settled(now);
        }
    }

    fn check_objects_settled(&mut self, now: Instant) {
        if self.phases.get(Phase::ObjectsSettled).is_some() {
            return;
        }
        let all_reported = self.region_prims.is_some_and(|n| self.stats.objects >= n);
        let quiet = self
            .last_new_object
            .is_some_and(|t| now >= t + self.cfg.objects_quiet);
        if all_reported || quiet {
            self.reach(now, Phase::ObjectsSettled);
        }
    }

    fn send_agent_update(&mut self, now: Instant) {
        let msg: AgentUpdate =
            build::agent_update(&self.cfg, self.position, self.look_at, self.control_flags);
        self.send_now(now, &msg, false);
        self.next_agent_update = Some(now + self.cfg.agent_update_interval);
    }

    /// Does whatever is due at `now`: resends, acks, pings, keep-alive, timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if let Err(e) = self.rel.poll(now, &mut self.transmit) {
            let reason =
                if e.sequence == self.use_circuit_sequence && self.state == State::Connecting {
                    DisconnectReason::CircuitNotAcked
                } else if let State::LoggingOut { .. } = self.state {
                    self.reach(now, Phase::Logout);
                    DisconnectReason::LogoutTimedOut(self.cfg.logout_timeout)
                } else {
                    DisconnectReason::NoAck(e.message)
                };
            self.close(reason);
            return;
        }
        if let State::LoggingOut { deadline } = self.state
            && now >= deadline
        {
            self.rel.flush_acks(&mut self.transmit);
            self.reach(now, Phase::Logout);
            self.close(DisconnectReason::LogoutTimedOut(self.cfg.logout_timeout));
            return;
        }
        let silent = now.saturating_duration_since(self.last_recv);
        if silent >= self.cfg.inactivity_timeout {
            self.close(DisconnectReason::Inactive(silent));
            return;
        }
        if self.state != State::Connected {
            return;
        }
        if self.next_ping.is_some_and(|t| now >= t) {
            self.ping_id = self.ping_id.wrapping_add(1);
            let ping = StartPingCheck {
                ping_id: self.ping_id,
                oldest_unacked: self.rel.oldest_unacked(),
            };
            self.send_now(now, &ping, false);
            self.pings.push_back((self.ping_id, now));
            while self.pings.len() > 8 {
                self.pings.pop_front();
            }
            self.next_ping = Some(now + self.cfg.ping_interval);
        }
        if self.next_agent_update.is_some_and(|t| now >= t) {
            self.send_agent_update(now);
        }
        self.check_objects_settled(now);
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] should next be called (`None` once closed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let mut t = self.last_recv + self.cfg.inactivity_timeout;
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                t = t.min(d);
            }
        };
        consider(self.rel.next_deadline());
        if let State::LoggingOut { deadline } = self.state {
            consider(Some(deadline));
        }
        if self.state == State::Connected {
            consider(self.next_ping);
            consider(self.next_agent_update);
            if self.phases.get(Phase::ObjectsSettled).is_none() {
                consider(self.last_new_object.map(|l| l + self.cfg.objects_quiet));
            }
        }
        Some(t)
    }
}
