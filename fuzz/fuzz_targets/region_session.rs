//! Stateful: the embedded region (`overlook_sim::region::Region`, 256 m, flat, a small demo
//! scene) with one agent that logged in properly (`UseCircuitCode`, `CompleteAgentMovement`,
//! `RegionHandshakeReply`, seeds granted, its first seconds acked), then a fuzzed sequence of
//! datagrams from that agent's address (arbitrary bytes; typed viewer messages with fuzzed
//! fields: `RequestMultipleObjects` ids, `AgentUpdate` floats NaN and infinities included,
//! `PacketAck` sequence numbers, `AgentThrottle` rates, pings, a second `UseCircuitCode`,
//! `LogoutRequest`), datagrams from a stranger's address, clock jumps, wake-ups at
//! `poll_timeout`, and kicks.
//!
//! After every step [`check_region_invariants`] holds: nothing panics; `poll_timeout` is `Some`
//! while an agent is connected, never in the past, and after `handle_timeout(now)` later than
//! `now` (the server's loop sleeps until it: an unmoved deadline would spin it); every agent's
//! position is finite; every datagram the region sends decodes as a known message, goes to an
//! address that opened a circuit, and a resend repeats an earlier reliable packet to the same
//! address; the datagrams and bytes drained in one step stay under fixed bounds (the region's
//! whole content, terrain and scene, is finite, so only a runaway loop could pass them).
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use overlook_protocol::message::agent::{AgentThrottle, AgentUpdate, ThrottleBlob, Throttles};
use overlook_protocol::message::circuit::{
    AgentIds, CompleteAgentMovement, CompletePingCheck, LogoutRequest, PacketAck, StartPingCheck,
    UseCircuitCode,
};
use overlook_protocol::message::object::RequestMultipleObjects;
use overlook_protocol::message::region::RegionHandshakeReply;
use overlook_protocol::message::{Message, MessageRepr};
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::{Quat, Uuid, Vec3};
use overlook_protocol::udp::{self, MessageId};
use overlook_sim::region::{DemoScene, Region, RegionConfig};
use overlook_sim::{ExpectedCircuit, RegionInfo};
use web_time::Instant;

const AGENT: Uuid = Uuid([0x21; 16]);
const SESSION: Uuid = Uuid([0xDE; 16]);
const CODE: u32 = 0x0BAD_C0DE;
/// The demo scene's prims (local ids 1..=N).
const PRIMS: u32 = 4;
/// The most bytes a datagram can carry (the protocol's expanded limit).
const MAX_DATAGRAM: usize = 8192;
const MAX_OPS: usize = 256;
const MAX_WAKES: usize = 2_000;
/// Datagrams one step may drain. The region's content is finite: 256 land patches (OpenSim
/// packs several a datagram), a few prims, its periodic messages, and resends of what is
/// unacked; a wake-up after a long jump resends everything unacked at once. Generous, so that
/// only a loop that keeps producing trips it.
const MAX_STEP_DATAGRAMS: usize = 4_096;
/// Bytes one step may drain (as above; a datagram is at most ~1.2 kB before zero-coding).
const MAX_STEP_BYTES: usize = 8 << 20;

#[path = "../common/envelope.rs"]
mod envelope;
use envelope::{AckRef, Envelope, MAX_ACKS};

#[derive(Arbitrary, Debug, Clone)]
enum ViewerMsg {
    Ack(Vec<AckRef>),
    /// Ids: small ones hit the scene (and the avatar's own id, 0x0F00_0001).
    RequestObjects(Vec<u32>),
    Update {
        rotation: [f32; 4],
        camera: [f32; 3],
        at: [f32; 3],
        far: f32,
        controls: u32,
        state: u8,
        flags: u8,
    },
    Throttle {
        rates: [f32; 7],
        gen_counter: u32,
    },
    RawThrottle(Vec<u8>),
    StartPing {
        id: u8,
        oldest: u32,
    },
    CompletePing {
        id: u8,
    },
    HandshakeReply(u32),
    CompleteMovement {
        code: u32,
    },
    UseCircuitCode {
        code: u32,
    },
    Logout,
    /// With someone else's ids.
    ForeignLogout,
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Raw(Vec<u8>),
    Message {
        envelope: Envelope,
        message: ViewerMsg,
    },
    /// From another address: any bytes, or a `UseCircuitCode` (the agent's code or another).
    StrangerRaw(Vec<u8>),
    StrangerCircuit {
        code: Option<u32>,
    },
    Jump {
        ms: u32,
    },
    Wake {
        ms: u16,
    },
    Kick,
}

struct Harness {
    region: Region,
    now: Instant,
    viewer: SocketAddr,
    stranger: SocketAddr,
    viewer_sequence: u32,
    /// Every reliable datagram the region sent, by address and sequence number: message, body.
    reliable_sent: HashMap<(SocketAddr, u32), (MessageId, Vec<u8>)>,
    /// The region's recent sequence numbers to the viewer, newest last.
    recent: Vec<u32>,
    /// Addresses that sent a `UseCircuitCode` (the only ones the region may answer).
    opened: Vec<SocketAddr>,
}

fn ids() -> AgentIds {
    AgentIds {
        agent_id: AGENT,
        session_id: SESSION,
    }
}

impl Harness {
    fn new() -> Self {
        let t0 = Instant::now();
        let info = RegionInfo {
            name: "Fuzz Region".to_owned(),
            region_id: Uuid([0x11; 16]),
            size_x: 256,
            size_y: 256,
            world_x: 256_000,
            world_y: 256_000,
            udp: "127.0.0.1:9000".parse().expect("addr"),
            water_height: 20.0,
            terrain_detail: overlook_sim::textures::TERRAIN_DETAIL,
        };
        let map = Heightmap::new(256, 256).expect("a 256 m heightmap");
        let scene = Box::new(DemoScene::new(PRIMS));
        let region =
            Region::new(info, map, scene, t0, Duration::from_secs(1_795_521_600)).expect("region");
        Harness {
            region,
            now: t0,
            viewer: "10.0.0.1:40001".parse().expect("addr"),
            stranger: "10.0.0.2:40002".parse().expect("addr"),
            viewer_sequence: 0,
            reliable_sent: HashMap::new(),
            recent: Vec::new(),
            opened: Vec::new(),
        }
    }

    /// The login: expected, seeds granted, then `UseCircuitCode`, `CompleteAgentMovement` and
    /// `RegionHandshakeReply`, and two seconds in which the viewer acks everything.
    fn login(&mut self) {
        let circuit = ExpectedCircuit {
            circuit_code: CODE,
            agent_id: AGENT,
            session_id: SESSION,
            secure_session_id: Uuid([0x55; 16]),
            first: "Fuzz".to_owned(),
            last: "User".to_owned(),
            start_position: Vec3::new(128.0, 128.0, 1.0),
            look_at: Vec3::new(1.0, 0.0, 0.0),
        };
        self.region
            .expect_circuit(self.now, circuit)
            .expect("expected");
        assert!(self.region.grant_seeds(self.now, AGENT));
        let reliable = Envelope {
            sequence: None,
            reliable: true,
            resent: false,
            acks: Vec::new(),
        };
        let ucc = UseCircuitCode {
            code: CODE,
            session_id: SESSION,
            agent_id: AGENT,
        };
        let d = self.typed(&reliable, &ucc).expect("UseCircuitCode");
        self.deliver(self.viewer, &d);
        let cam = CompleteAgentMovement {
            agent: ids(),
            circuit_code: CODE,
        };
        let d = self.typed(&reliable, &cam).expect("CompleteAgentMovement");
        self.deliver(self.viewer, &d);
        let reply = RegionHandshakeReply {
            agent: ids(),
            flags: 0x6,
        };
        let d = self.typed(&reliable, &reply).expect("RegionHandshakeReply");
        self.deliver(self.viewer, &d);
        for _ in 0..20 {
            let target = self.now + Duration::from_millis(100);
            self.advance_to(target);
            self.ack_everything();
        }
        let agents = self.region.agents();
        assert!(
            agents.len() == 1 && agents[0].root,
            "the agent is in the region: {agents:?}"
        );
    }

    fn ack_everything(&mut self) {
        let all: Vec<u32> = self
            .reliable_sent
            .keys()
            .filter(|(a, _)| *a == self.viewer)
            .map(|&(_, s)| s)
            .collect();
        for chunk in all.chunks(255) {
            let plain = Envelope {
                sequence: None,
                reliable: false,
                resent: false,
                acks: Vec::new(),
            };
            let d = self
                .typed(
                    &plain,
                    &PacketAck {
                        packets: chunk.to_vec(),
                    },
                )
                .expect("ack");
            self.deliver(self.viewer, &d);
        }
    }

    fn ack_ref(&self, r: AckRef) -> u32 {
        match r {
            AckRef::Recent(k) if !self.recent.is_empty() => {
                let n = self.recent.len();
                self.recent[n - 1 - usize::from(k) % n]
            }
            AckRef::Recent(k) => u32::from(k),
            AckRef::Any(s) => s,
        }
    }

    fn typed<M: MessageRepr>(&mut self, envelope: &Envelope, m: &M) -> Option<Vec<u8>> {
        let body = m.to_bytes().ok()?;
        let sequence = envelope.sequence.unwrap_or_else(|| {
            self.viewer_sequence = self.viewer_sequence.wrapping_add(1);
            self.viewer_sequence
        });
        let acks = envelope
            .acks
            .iter()
            .take(MAX_ACKS)
            .map(|&r| self.ack_ref(r))
            .collect();
        Some(envelope.frame(sequence, acks, M::ID, M::ZEROCODED, &body))
    }

    fn build(&mut self, envelope: &Envelope, message: &ViewerMsg) -> Option<Vec<u8>> {
        match message {
            ViewerMsg::Ack(acks) => {
                let packets = acks.iter().take(255).map(|&r| self.ack_ref(r)).collect();
                self.typed(envelope, &PacketAck { packets })
            }
            ViewerMsg::RequestObjects(ids_) => {
                let local: Vec<u32> = ids_.iter().take(255).copied().collect();
                self.typed(
                    envelope,
                    &RequestMultipleObjects::cache_misses(ids(), &local),
                )
            }
            ViewerMsg::Update {
                rotation,
                camera,
                at,
                far,
                controls,
                state,
                flags,
            } => {
                let [x, y, z, w] = *rotation;
                let q = Quat { x, y, z, w };
                let at = Vec3::new(at[0], at[1], at[2]);
                let m = AgentUpdate {
                    agent: ids(),
                    body_rotation: q,
                    head_rotation: q,
                    state: *state,
                    camera_center: Vec3::new(camera[0], camera[1], camera[2]),
                    camera_at_axis: at,
                    camera_left_axis: Vec3::new(-at.y, at.x, 0.0),
                    camera_up_axis: Vec3::new(0.0, 0.0, 1.0),
                    far: *far,
                    control_flags: *controls,
                    flags: *flags,
                };
                self.typed(envelope, &m)
            }
            ViewerMsg::Throttle { rates, gen_counter } => {
                let [resend, land, wind, cloud, task, texture, asset] = *rates;
                let throttles = Throttles {
                    resend,
                    land,
                    wind,
                    cloud,
                    task,
                    texture,
                    asset,
                };
                let m = AgentThrottle {
                    agent: ids(),
                    circuit_code: CODE,
                    gen_counter: *gen_counter,
                    throttles: ThrottleBlob::Known(throttles),
                };
                self.typed(envelope, &m)
            }
            ViewerMsg::RawThrottle(blob) => {
                let m = AgentThrottle {
                    agent: ids(),
                    circuit_code: CODE,
                    gen_counter: 0,
                    throttles: ThrottleBlob::Raw(blob.iter().take(255).copied().collect()),
                };
                self.typed(envelope, &m)
            }
            &ViewerMsg::StartPing { id, oldest } => self.typed(
                envelope,
                &StartPingCheck {
                    ping_id: id,
                    oldest_unacked: oldest,
                },
            ),
            &ViewerMsg::CompletePing { id } => {
                self.typed(envelope, &CompletePingCheck { ping_id: id })
            }
            &ViewerMsg::HandshakeReply(flags) => self.typed(
                envelope,
                &RegionHandshakeReply {
                    agent: ids(),
                    flags,
                },
            ),
            &ViewerMsg::CompleteMovement { code } => self.typed(
                envelope,
                &CompleteAgentMovement {
                    agent: ids(),
                    circuit_code: code,
                },
            ),
            &ViewerMsg::UseCircuitCode { code } => self.typed(
                envelope,
                &UseCircuitCode {
                    code,
                    session_id: SESSION,
                    agent_id: AGENT,
                },
            ),
            ViewerMsg::Logout => self.typed(envelope, &LogoutRequest { agent: ids() }),
            ViewerMsg::ForeignLogout => {
                let agent = AgentIds {
                    agent_id: Uuid([0x77; 16]),
                    session_id: SESSION,
                };
                self.typed(envelope, &LogoutRequest { agent })
            }
        }
    }

    fn deliver(&mut self, from: SocketAddr, d: &[u8]) {
        if let Ok(p) = udp::decode(d)
            && let Ok(Message::UseCircuitCode(_)) = Message::parse(p.message, &p.body)
            && !self.opened.contains(&from)
        {
            self.opened.push(from);
        }
        self.region.handle_datagram(self.now, from, d);
        self.drain();
        check_region_invariants(&self.region, self.now, false);
    }

    fn wake(&mut self, t: Instant) {
        assert!(t >= self.now);
        self.now = t;
        self.region.handle_timeout(t);
        self.drain();
        check_region_invariants(&self.region, self.now, true);
    }

    fn advance_to(&mut self, target: Instant) {
        for _ in 0..MAX_WAKES {
            match self.region.poll_timeout() {
                Some(t) if t <= target => self.wake(t.max(self.now)),
                _ => break,
            }
        }
        self.now = self.now.max(target);
    }

    /// Drains what the region sends in one step and checks it.
    fn drain(&mut self) {
        let (mut datagrams, mut bytes) = (0, 0);
        while let Some((to, d)) = self.region.poll_transmit() {
            datagrams += 1;
            bytes += d.len();
            assert!(
                self.opened.contains(&to),
                "a datagram to {to}, which opened no circuit"
            );
            let p = udp::decode(&d).expect("the region's datagram decodes");
            Message::parse(p.message, &p.body).expect("the region's message parses");
            if p.is_resent() {
                let (message, body) = self
                    .reliable_sent
                    .get(&(to, p.sequence))
                    .unwrap_or_else(|| panic!("resend of #{} never sent to {to}", p.sequence));
                assert_eq!(
                    *message, p.message,
                    "resend of #{} changed message",
                    p.sequence
                );
                assert_eq!(*body, *p.body, "resend of #{} changed body", p.sequence);
            } else if p.is_reliable() {
                self.reliable_sent
                    .insert((to, p.sequence), (p.message, p.body.to_vec()));
            }
            if to == self.viewer {
                self.recent.push(p.sequence);
                if self.recent.len() > 512 {
                    self.recent.drain(..256);
                }
            }
        }
        assert!(
            datagrams <= MAX_STEP_DATAGRAMS,
            "{datagrams} datagrams in one step"
        );
        assert!(bytes <= MAX_STEP_BYTES, "{bytes} bytes in one step");
        while self.region.poll_event().is_some() {}
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Raw(bytes) => self.deliver(self.viewer, bytes),
            Op::Message { envelope, message } => {
                if let Some(d) = self.build(envelope, message) {
                    self.deliver(self.viewer, &d);
                }
            }
            Op::StrangerRaw(bytes) => self.deliver(self.stranger, bytes),
            Op::StrangerCircuit { code } => {
                let plain = Envelope {
                    sequence: Some(1),
                    reliable: true,
                    resent: false,
                    acks: Vec::new(),
                };
                let ucc = UseCircuitCode {
                    code: code.unwrap_or(CODE),
                    session_id: SESSION,
                    agent_id: AGENT,
                };
                if let Some(d) = self.typed(&plain, &ucc) {
                    self.deliver(self.stranger, &d);
                }
            }
            Op::Jump { ms } => {
                let t = self.now + Duration::from_millis(u64::from(*ms % 200_000));
                self.wake(t);
            }
            Op::Wake { ms } => {
                let target = self.now + Duration::from_millis(u64::from(*ms % 10_000));
                self.advance_to(target);
            }
            Op::Kick => {
                self.region.kick(self.now, AGENT, "fuzz");
                self.drain();
                check_region_invariants(&self.region, self.now, false);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The region's invariants, in one place: besides the harness's drain bounds above, every
// circuit's load (`Region::agent_loads`) within the caps of `OutboundBudget`.
// ---------------------------------------------------------------------------------------------

/// Checks what the region exposes after a step at `now`; `after_timeout` when the step was
/// `handle_timeout(now)`.
fn check_region_invariants(region: &Region, now: Instant, after_timeout: bool) {
    let agents = region.agents();
    let next = region.poll_timeout();
    if !agents.is_empty() {
        assert!(
            next.is_some(),
            "poll_timeout is None with {} agents connected",
            agents.len()
        );
    }
    if let Some(next) = next {
        // A datagram only adds deadlines from `now` on; `handle_timeout` did all that was due.
        if after_timeout {
            assert!(
                next > now,
                "poll_timeout {:?} not after handle_timeout's now",
                now - next
            );
        } else {
            assert!(next >= now, "poll_timeout {:?} in the past", now - next);
        }
    }
    for a in &agents {
        let p = a.position;
        assert!(
            p.x.is_finite() && p.y.is_finite() && p.z.is_finite(),
            "agent {} at {p:?}",
            a.name
        );
        assert!(
            a.terrain_patches_sent <= 256,
            "{} land patches sent",
            a.terrain_patches_sent
        );
    }
    let s = region.stats();
    assert!(s.malformed + s.ignored <= s.received, "{s:?}");
    let caps = RegionConfig::default().budget;
    for load in region.agent_loads() {
        assert!(load.unacked_packets <= caps.max_unacked_packets, "{load:?}");
        // The cap is checked before a send: the last packet may cross it.
        assert!(
            load.unacked_bytes <= caps.max_unacked_bytes + MAX_DATAGRAM,
            "{load:?}"
        );
        // Requested objects are a set: at most the cap, plus the scene and the avatars owed on
        // entering.
        assert!(
            load.queued_objects <= caps.max_object_requests + PRIMS as usize + 8,
            "{load:?}"
        );
        if after_timeout {
            // Beyond its caps, a task queue drops its oldest unreliable packet or, all of them
            // reliable, the client at the tick; packed terrain (at most a round of the
            // region's 256 patches) waits beside it.
            assert!(
                load.queued_packets <= caps.max_queued_packets + 256,
                "{load:?}"
            );
            assert!(
                load.queued_bytes <= caps.max_queued_bytes + 256 * MAX_DATAGRAM,
                "{load:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut h = Harness::new();
    h.login();
    for _ in 0..MAX_OPS {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        h.step(&op);
        if u.is_empty() {
            break;
        }
    }
});
