//! Inbound datagrams: opening circuits, the agent's messages, entering and leaving the region,
//! and the scene sent once both object gates have passed.

use std::net::SocketAddr;
use std::time::Duration;

use web_time::Instant;

use super::agent::{Agent, Stage, ground_at};
use super::objects::{AvatarLook, avatar_object, pack_updates};
use super::terrain_stream::TerrainStream;
use super::throttle::client_rates;
use super::{LeaveReason, Region, RegionEvent, messages};
use overlook_protocol::circuit::reliable::Receipt;
use overlook_protocol::message::object::{KillObject, ObjectData};
use overlook_protocol::message::region::{ParcelOverlay, overlay};
use overlook_protocol::message::{AgentUpdate, CompletePingCheck, Message, ThrottleBlob};
use overlook_protocol::udp::{self, PacketRepr};

/// Height of a standing avatar's centre above the ground when the start position says nothing
/// sensible.
const STAND_HEIGHT: f32 = 0.95;

/// Schedules the scene once the agent is in the region and both gates (handshake reply, seed
/// capability) have passed.
pub(super) fn check_gates(a: &mut Agent, now: Instant, delay: Duration) {
    if a.is_root() && a.seeds && a.handshake_reply.is_some() && a.initial_at.is_none() {
        a.initial_at = Some(now + delay);
    }
}

impl Region {
    /// Processes one datagram from `from`. A datagram that does not decode is counted and
    /// dropped; one from an unknown address is ignored unless it is a `UseCircuitCode` with an
    /// expected circuit code.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.stats.received += 1;
        self.stats.received_bytes += u64::try_from(datagram.len()).unwrap_or(u64::MAX);
        let packet = match udp::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!("region: malformed datagram from {from}: {e}");
                return;
            }
        };
        match self.agents.remove(&from) {
            Some(mut a) => {
                self.on_agent_packet(now, &mut a, &packet);
                self.agents.insert(from, a);
            }
            None => self.on_stranger(now, from, &packet),
        }
        self.drain(now);
    }

    /// A datagram from an address without a circuit: only `UseCircuitCode` opens one.
    fn on_stranger(&mut self, now: Instant, from: SocketAddr, packet: &PacketRepr<'_>) {
        let ucc = match Message::parse(packet.message, &packet.body) {
            Ok(Message::UseCircuitCode(u)) => u,
            Ok(m) => {
                self.stats.ignored += 1;
                tracing::debug!("region: {} from {from} without a circuit", m.name());
                return;
            }
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!("region: malformed {:?} from {from}: {e}", packet.message);
                return;
            }
        };
        let matches = self
            .expected
            .get(&ucc.code)
            .is_some_and(|(c, _)| c.agent_id == ucc.agent_id && c.session_id == ucc.session_id);
        if !matches {
            self.stats.ignored += 1;
            tracing::info!(
                "region: ignored UseCircuitCode {} from {from} (unknown circuit)",
                ucc.code
            );
            return;
        }
        let Some((circuit, seeds)) = self.expected.remove(&ucc.code) else {
            return;
        };
        let local_id = self.allocate_local_id();
        let mut a = Agent::new(circuit, from, seeds, local_id, &self.cfg, now);
        a.rel.receive(now, packet);
        // OpenSim acks UseCircuitCode at once, unreliably.
        a.rel.flush_acks(&mut a.out);
        self.events.push_back(RegionEvent::Connected {
            agent: a.circuit.agent_id,
            name: format!("{} {}", a.circuit.first, a.circuit.last),
            addr: from,
        });
        self.agents.insert(from, a);
    }

    /// A datagram from an agent's address. Only a valid datagram of its circuit (see
    /// [`Agent::accepts`]) is acked, keeps the circuit alive and is handled: garbage and packets
    /// for another agent are counted and dropped without touching its timers.
    fn on_agent_packet(&mut self, now: Instant, a: &mut Agent, packet: &PacketRepr<'_>) {
        let message = match Message::parse(packet.message, &packet.body) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!(
                    "region: malformed {:?} from {}: {e}",
                    packet.message,
                    a.addr
                );
                return;
            }
        };
        if !a.accepts(&message) {
            self.stats.ignored += 1;
            tracing::debug!(
                "region: {} from {} not of its circuit",
                message.name(),
                a.addr
            );
            return;
        }
        a.last_recv = now;
        let pending = a.rel.unacked_len();
        let receipt = a.rel.receive(now, packet);
        if let Message::PacketAck(ack) = &message {
            for &id in &ack.packets {
                a.rel.ack(id);
            }
        }
        if a.rel.unacked_len() < pending {
            a.acked_at = now;
        }
        if matches!(message, Message::UseCircuitCode(_)) {
            // A resent UseCircuitCode: our ack was lost; ack again at once.
            a.rel.flush_acks(&mut a.out);
        }
        if receipt == Receipt::Duplicate || matches!(a.stage, Stage::Closing { .. }) {
            return;
        }
        self.react(now, a, message);
    }

    fn react(&mut self, now: Instant, a: &mut Agent, message: Message) {
        match message {
            Message::CompleteAgentMovement(c)
                if a.owns(&c.agent)
                    && c.circuit_code == a.circuit.circuit_code
                    && a.stage == Stage::Child =>
            {
                self.enter(now, a);
            }
            Message::RegionHandshakeReply(r) if a.owns(&r.agent) => {
                a.handshake_reply = Some(r.flags);
                check_gates(a, now, self.cfg.initial_data_delay);
            }
            Message::AgentUpdate(u) if a.owns(&u.agent) => self.agent_update(now, a, &u),
            Message::AgentThrottle(t) if a.owns(&t.agent) => {
                if let ThrottleBlob::Known(rates) = &t.throttles
                    && let Some(rates) = client_rates(rates)
                {
                    a.throttle.set_rates(now, rates);
                }
            }
            Message::StartPingCheck(p) => {
                let reply = CompletePingCheck { ping_id: p.ping_id };
                a.send(now, &reply, false);
            }
            Message::CompletePingCheck(p) => {
                if let Some(i) = a.pings.iter().position(|(id, _)| *id == p.ping_id)
                    && let Some((_, sent)) = a.pings.remove(i)
                {
                    a.rel.rtt_sample(now.saturating_duration_since(sent));
                }
            }
            Message::LogoutRequest(l) if a.owns(&l.agent) => {
                let reply = messages::logout_reply(a.ids());
                a.send(now, &reply, true);
                self.leave(now, a, LeaveReason::LoggedOut);
            }
            Message::RequestMultipleObjects(r) if a.owns(&r.agent) && a.ready => {
                // Owed, not sent: the objects are packed as the task budget allows, a repeated
                // request for an object still owed is coalesced, and the queue is capped.
                for o in &r.objects {
                    if self.object_index.contains_key(&o.id) && !self.hidden.contains(&o.id) {
                        a.owe_object(o.id, false, true);
                    }
                }
            }
            _ => {}
        }
    }

    /// `AgentUpdate`: draw distance, body rotation, controls.
    fn agent_update(&mut self, now: Instant, a: &mut Agent, u: &AgentUpdate) {
        if u.far.is_finite() {
            a.far = u.far.clamp(32.0, 8192.0);
        }
        if !a.is_root() {
            return;
        }
        // Finish the motion under the old controls before switching.
        if a.is_moving() {
            a.integrate(now, &self.map, &self.cfg);
        }
        a.moved_at = now;
        a.viewer_turned(u.body_rotation);
        if u.control_flags != a.controls {
            a.controls = u.control_flags;
            if !a.is_moving() {
                a.velocity = overlook_protocol::types::Vec3::ZERO;
            }
            // Starting, stopping or changing direction: tell everyone.
            a.motion_dirty = true;
        }
    }

    /// `CompleteAgentMovement`: the agent becomes root; handshake, movement, its avatar, terrain.
    fn enter(&mut self, now: Instant, a: &mut Agent) {
        a.stage = Stage::Root;
        let ground = ground_at(&self.map, a.position.x, a.position.y);
        let offset = a.position.z - ground;
        if (0.0..=3.0).contains(&offset) {
            a.stand_offset = offset;
        } else {
            // Under the ground or hanging in the air (the default start over a var region's
            // water): stand on the ground, as OpenSim's avatar lands there.
            a.stand_offset = STAND_HEIGHT;
            a.position.z = ground + STAND_HEIGHT;
        }
        a.moved_at = now;
        a.next_stats = now;
        a.next_coarse = now;
        a.next_ping = now + self.cfg.ping_interval;
        let handshake = messages::region_handshake(&self.info);
        a.send(now, &handshake, true);
        let timestamp = self.unix_seconds(now);
        let amc = messages::agent_movement_complete(
            a.ids(),
            a.position,
            a.circuit.look_at,
            self.info.handle(),
            timestamp,
            &self.cfg.channel_version,
        );
        a.send(now, &amc, true);
        // The parcel overlay: the whole region is one parcel, owned by someone else (§5 step 5e).
        for overlay in ParcelOverlay::single_parcel(
            self.info.size_x,
            self.info.size_y,
            overlay::OWNED_BY_OTHER,
        ) {
            a.send(now, &overlay, true);
        }
        // The own avatar, to the agent and to everyone who has the scene already.
        let avatar = self.avatar_block(a);
        for msg in pack_updates(self.info.handle(), vec![avatar.clone()], usize::MAX) {
            a.send(now, &msg, true);
            for other in self.agents.values_mut().filter(|o| o.ready) {
                other.send(now, &msg, true);
                other.known.insert(a.local_id);
            }
        }
        // Terrain: the first round now, released through the land bucket as it allows.
        let mut stream = TerrainStream::new(&self.map, now, &self.cfg.terrain.withheld);
        stream.round_if_due(now, &self.map, a.viewpoint(), &self.cfg.terrain);
        a.terrain = Some(stream);
        self.events.push_back(RegionEvent::Entered {
            agent: a.circuit.agent_id,
            position: a.position,
        });
        check_gates(a, now, self.cfg.initial_data_delay);
    }

    /// An avatar's full update block as it is now.
    pub(super) fn avatar_block(&self, a: &Agent) -> ObjectData {
        avatar_object(&AvatarLook {
            local_id: a.local_id,
            agent_id: a.circuit.agent_id,
            first: &a.circuit.first,
            last: &a.circuit.last,
            position: a.position,
            rotation: a.rotation(),
            ground: ground_at(&self.map, a.position.x, a.position.y),
        })
    }

    /// Both gates passed and the delay is over: the other avatars, then the scene.
    pub(super) fn send_initial(&mut self, now: Instant, a: &mut Agent) {
        a.ready = true;
        let avatars: Vec<ObjectData> = self
            .agents
            .values()
            .filter(|o| o.is_root() && o.addr != a.addr)
            .map(|o| self.avatar_block(o))
            .collect();
        for block in &avatars {
            a.known.insert(block.id);
        }
        let handle = self.info.handle();
        let max = self.cfg.max_object_body;
        for msg in pack_updates(handle, avatars, max) {
            a.send(now, &msg, true);
        }
        // The scene is owed, object by object, and packed as the task budget allows: those the
        // scene offers compressed as `ObjectUpdateCompressed` (after the full ones, as before),
        // the rest full.
        let (mut full, mut compressed) = (Vec::new(), Vec::new());
        for o in self.objects.iter().filter(|o| !self.hidden.contains(&o.id)) {
            if self.scene.compressed(o.id).is_some() {
                compressed.push(o.id);
            } else {
                full.push(o.id);
            }
        }
        for id in full {
            a.owe_object(id, false, false);
        }
        for id in compressed {
            a.owe_object(id, true, false);
        }
    }

    /// The agent leaves: others forget its avatar; its circuit lingers to deliver the last
    /// messages.
    pub(super) fn leave(&mut self, now: Instant, a: &mut Agent, reason: LeaveReason) {
        if matches!(a.stage, Stage::Closing { .. }) {
            return;
        }
        let was_root = a.is_root();
        a.stage = Stage::Closing {
            until: now + self.cfg.closing_linger,
        };
        // Nothing more but acks and resends: what waited for the budget goes.
        a.task.clear();
        a.task_bytes = 0;
        a.owed.clear();
        a.owed_set.clear();
        a.terrain = None;
        if was_root {
            let kill = KillObject {
                ids: vec![a.local_id],
            };
            for other in self.agents.values_mut() {
                if other.known.remove(&a.local_id) {
                    other.send(now, &kill, true);
                }
            }
        }
        tracing::info!(
            "region: {} {} left: {reason:?}",
            a.circuit.first,
            a.circuit.last
        );
        self.events.push_back(RegionEvent::Left {
            agent: a.circuit.agent_id,
            reason,
        });
    }
}
