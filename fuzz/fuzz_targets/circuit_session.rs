//! Stateful: the viewer's `Circuit` after a real handshake, then a fuzzed sequence of datagrams
//! (arbitrary bytes, captured region datagrams with fuzzed sequence, flags, acks and a flipped
//! byte, typed region messages with fuzzed fields), clock jumps, wake-ups at `poll_timeout`,
//! logouts and control changes.
//!
//! The harness keeps its own model of the circuit's reliability, built only from what the
//! circuit sends and what it is fed, and checks after every step:
//!
//! - nothing panics, every datagram the circuit sends decodes as a known message;
//! - new datagrams are numbered consecutively; a resend repeats a reliable packet that was sent
//!   and not yet acked, byte for byte in its body, at most `max_resends` times;
//! - every ack the circuit sends is for a reliable datagram it was fed and had not acked yet,
//!   and none it owes waits longer than `ack_delay` once `handle_timeout` has run;
//! - once `handle_timeout(now)` has run, no unacked packet of ours has gone `max_rto` without
//!   a (re)send and `poll_timeout()` is after `now` (a driver that sleeps until it never spins);
//!   so every reliable packet is acked or kills the circuit within `max_resends + 1` wake-ups;
//! - a step sends at most [`MAX_SENT_PER_DATAGRAM`] datagrams per datagram fed, and a wake-up at
//!   most one resend per unacked packet, the owed acks and a ping and an `AgentUpdate`;
//! - each phase is reported once, with a time no later than the clock; one `Disconnected`, and
//!   nothing sent or reported after it; `poll_timeout` is `None` exactly when closed.
#![no_main]

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use overlook_protocol::capture::decode_hex;
use overlook_protocol::circuit::{Circuit, CircuitConfig, Event, Phase, ReliableConfig};
use overlook_protocol::message::circuit::{
    AgentIds, CompletePingCheck, DisableSimulator, KickUser, LogoutReply, PacketAck, StartPingCheck,
};
use overlook_protocol::message::object::{CachedObject, ObjectUpdateCached};
use overlook_protocol::message::region::{AgentMovementComplete, SimStats, Stat, stat_id};
use overlook_protocol::message::{Message, MessageRepr};
use overlook_protocol::types::Vec3;
use overlook_protocol::udp::{self, MessageId, flags};
use web_time::Instant;

/// The captured session whose ids the circuit uses, so its datagrams are the region's own.
const CAPTURE: &str = include_str!("../../tests/data/opensim-0.9.2.2/test-region.udp.jsonl");
const AGENT: &str = "7c0ffee0-0000-4000-8000-000000000001";
const SESSION: &str = "aff3bc22-b4b1-4b6a-9a84-73a08abe2c42";
const CODE: u32 = 0x7673_b3ac;

/// One datagram fed to the circuit makes it send at most: `CompleteAgentMovement` and
/// `AgentThrottle` (when it acks `UseCircuitCode`) plus one reply (`CompletePingCheck`,
/// `RegionHandshakeReply`, `AgentUpdate`, or one `RequestMultipleObjects`: `ObjectUpdateCached`
/// holds at most 255 objects, one request's worth). Acks only ride on these or go out on a timeout.
const MAX_SENT_PER_DATAGRAM: usize = 3;
/// Operations per input, to keep executions fast.
const MAX_OPS: usize = 256;
/// Wake-ups per `Wake` operation (each must move `poll_timeout` forward; this only bounds time).
const MAX_WAKES: usize = 2_000;

#[path = "../common/envelope.rs"]
mod envelope;
use envelope::{AckRef, Envelope, MAX_ACKS};

#[derive(Arbitrary, Debug, Clone)]
enum RegionMsg {
    Ack(Vec<AckRef>),
    StartPing {
        id: u8,
        oldest: u32,
    },
    CompletePing {
        id: u8,
    },
    Movement {
        position: [f32; 3],
        look_at: [f32; 3],
        handle: u64,
    },
    Cached {
        ids: Vec<u32>,
    },
    Stats {
        total_prims: f32,
        more: Vec<(u32, f32)>,
    },
    LogoutReply,
    Kick(String),
    Disable,
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    /// Any bytes as a datagram.
    Raw(Vec<u8>),
    /// A captured region datagram, re-framed, maybe with one byte of its body changed.
    Captured {
        index: u16,
        envelope: Envelope,
        flip: Option<(u16, u8)>,
    },
    /// A typed region message.
    Message {
        envelope: Envelope,
        message: RegionMsg,
    },
    /// The clock jumps (a suspended process) and `handle_timeout` runs once.
    Jump {
        ms: u32,
    },
    /// The clock runs to `ms` later, waking at every `poll_timeout` on the way.
    Wake {
        ms: u16,
    },
    Logout,
    Controls(u32),
}

/// The harness's view of one reliable packet the circuit sent.
struct Sent {
    message: MessageId,
    body: Vec<u8>,
    last_sent: Instant,
    resends: u32,
}

/// The region's datagrams of the captured session, in order (parsed once).
fn captured_inbound() -> &'static [Vec<u8>] {
    static CAPTURED: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured: Vec<Vec<u8>> = CAPTURE
            .lines()
            .filter(|l| l.contains("\"dir\": \"in\""))
            .filter_map(|l| decode_hex(l.split("\"hex\": \"").nth(1)?.split('"').next()?))
            .collect();
        assert!(captured.len() > 50, "the capture's inbound datagrams");
        captured
    })
}

struct Harness {
    circuit: Circuit,
    reliable: ReliableConfig,
    captured: &'static [Vec<u8>],
    t0: Instant,
    now: Instant,
    /// The region's next sequence number when the envelope leaves it to us.
    region_sequence: u32,
    /// The number the circuit's next new datagram must carry.
    next_sequence: u32,
    /// The circuit's reliable packets not yet acked by anything it was fed.
    unacked: BTreeMap<u32, Sent>,
    /// The circuit's sequence numbers, newest last (for `AckRef::Recent`).
    recent: VecDeque<u32>,
    /// Acks the circuit owes: reliable datagrams fed to it, with when.
    owed: VecDeque<(u32, Instant)>,
    phases: HashSet<Phase>,
    closed: bool,
}

impl Harness {
    fn new() -> Self {
        let captured = captured_inbound();
        let t0 = Instant::now();
        let cfg = CircuitConfig::new(
            AGENT.parse().expect("agent id"),
            SESSION.parse().expect("session id"),
            CODE,
        );
        let reliable = cfg.reliable.clone();
        let circuit = Circuit::new(cfg, t0, t0);
        let mut h = Harness {
            circuit,
            reliable,
            captured,
            t0,
            now: t0,
            region_sequence: 1,
            next_sequence: 1,
            unacked: BTreeMap::new(),
            recent: VecDeque::new(),
            owed: VecDeque::new(),
            phases: HashSet::new(),
            closed: false,
        };
        h.drain(usize::MAX);
        h
    }

    /// The handshake: the region's first datagrams of the captured session, 10 ms apart, until
    /// the avatar is placed (`AgentMovementComplete`), waking the circuit as it asks.
    fn handshake(&mut self) {
        let mut i = 0;
        while !self.phases.contains(&Phase::MovementComplete) {
            let d = self
                .captured
                .get(i)
                .cloned()
                .expect("the capture places the avatar");
            i += 1;
            self.advance_to(self.now + Duration::from_millis(10));
            self.deliver(&d);
        }
        assert!(self.phases.contains(&Phase::CircuitAcked));
        // A well-behaved region goes on from the capture's numbers.
        self.region_sequence = 10_000;
    }

    fn ms(&self) -> u64 {
        u64::try_from((self.now - self.t0).as_millis()).unwrap_or(u64::MAX)
    }

    fn ack_ref(&self, r: AckRef) -> u32 {
        match r {
            AckRef::Recent(k) => {
                let n = self.recent.len();
                if n == 0 {
                    0
                } else {
                    self.recent[n - 1 - usize::from(k) % n]
                }
            }
            AckRef::Any(s) => s,
        }
    }

    fn frame(
        &mut self,
        envelope: &Envelope,
        message: MessageId,
        zero: bool,
        body: &[u8],
    ) -> Vec<u8> {
        let sequence = envelope.sequence.unwrap_or_else(|| {
            self.region_sequence = self.region_sequence.wrapping_add(1);
            self.region_sequence
        });
        let acks = envelope
            .acks
            .iter()
            .take(MAX_ACKS)
            .map(|&r| self.ack_ref(r))
            .collect();
        envelope.frame(sequence, acks, message, zero, body)
    }

    fn typed<M: MessageRepr>(&mut self, envelope: &Envelope, m: &M) -> Option<Vec<u8>> {
        let body = m.to_bytes().ok()?;
        Some(self.frame(envelope, M::ID, M::ZEROCODED, &body))
    }

    fn build(&mut self, envelope: &Envelope, message: &RegionMsg) -> Option<Vec<u8>> {
        let agent = AgentIds {
            agent_id: self.circuit.config().agent_id,
            session_id: self.circuit.config().session_id,
        };
        match message {
            RegionMsg::Ack(acks) => {
                let packets = acks.iter().take(255).map(|&r| self.ack_ref(r)).collect();
                self.typed(envelope, &PacketAck { packets })
            }
            &RegionMsg::StartPing { id, oldest } => self.typed(
                envelope,
                &StartPingCheck {
                    ping_id: id,
                    oldest_unacked: oldest,
                },
            ),
            &RegionMsg::CompletePing { id } => {
                self.typed(envelope, &CompletePingCheck { ping_id: id })
            }
            RegionMsg::Movement {
                position,
                look_at,
                handle,
            } => {
                let [x, y, z] = *position;
                let [a, b, c] = *look_at;
                let m = AgentMovementComplete {
                    agent,
                    position: Vec3::new(x, y, z),
                    look_at: Vec3::new(a, b, c),
                    region_handle: *handle,
                    timestamp: 0,
                    channel_version: "fuzz".to_owned(),
                };
                self.typed(envelope, &m)
            }
            RegionMsg::Cached { ids } => {
                let objects = ids
                    .iter()
                    .take(255)
                    .map(|&id| CachedObject {
                        id,
                        crc: 0,
                        update_flags: 0,
                    })
                    .collect();
                let m = ObjectUpdateCached {
                    region_handle: 0,
                    time_dilation: 0,
                    objects,
                };
                self.typed(envelope, &m)
            }
            RegionMsg::Stats { total_prims, more } => {
                let mut stats = vec![Stat {
                    id: stat_id::TOTAL_PRIMS,
                    value: *total_prims,
                }];
                stats.extend(more.iter().take(200).map(|&(id, value)| Stat { id, value }));
                let m = SimStats {
                    stats,
                    ..SimStats::default()
                };
                self.typed(envelope, &m)
            }
            RegionMsg::LogoutReply => {
                let m = LogoutReply {
                    agent,
                    item_ids: Vec::new(),
                };
                self.typed(envelope, &m)
            }
            RegionMsg::Kick(reason) => {
                let m = KickUser {
                    target_ip: std::net::Ipv4Addr::LOCALHOST,
                    target_port: 0,
                    agent,
                    reason: reason.chars().take(200).collect(),
                };
                self.typed(envelope, &m)
            }
            RegionMsg::Disable => self.typed(envelope, &DisableSimulator),
        }
    }

    fn captured(
        &mut self,
        index: u16,
        envelope: &Envelope,
        flip: Option<(u16, u8)>,
    ) -> Option<Vec<u8>> {
        let d = self
            .captured
            .get(usize::from(index) % self.captured.len())?
            .clone();
        let p = udp::decode(&d).ok()?;
        let mut body = p.body.to_vec();
        if let Some((at, xor)) = flip
            && !body.is_empty()
        {
            let i = usize::from(at) % body.len();
            body[i] ^= xor;
        }
        let zero = p.flags & flags::ZEROCODED != 0;
        Some(self.frame(envelope, p.message, zero, &body))
    }

    /// Feeds one datagram and checks what follows.
    fn deliver(&mut self, d: &[u8]) {
        if !self.closed {
            // The circuit's own decoders decide what it accepts; the model follows them.
            if let Ok(p) = udp::decode(d) {
                for a in &p.acks {
                    self.unacked.remove(a);
                }
                if p.is_reliable() {
                    self.owed.push_back((p.sequence, self.now));
                }
                if let Ok(Message::PacketAck(ack)) = Message::parse(p.message, &p.body) {
                    for a in &ack.packets {
                        self.unacked.remove(a);
                    }
                }
            }
        }
        self.circuit.handle_datagram(self.now, d);
        self.drain(MAX_SENT_PER_DATAGRAM);
        self.check_timeout_not_past();
    }

    /// Moves the clock to `t` and runs `handle_timeout` there.
    fn wake(&mut self, t: Instant) {
        assert!(t >= self.now);
        self.now = t;
        // Resends: one per unacked packet; acks: 255 a `PacketAck`; a ping; an `AgentUpdate`.
        let bound = self.unacked.len() + self.owed.len().div_ceil(255) + 2;
        self.circuit.handle_timeout(t);
        self.drain(bound);
        self.check_after_timeout();
    }

    fn advance_to(&mut self, target: Instant) {
        for _ in 0..MAX_WAKES {
            match self.circuit.poll_timeout() {
                Some(t) if t <= target => self.wake(t.max(self.now)),
                _ => break,
            }
        }
        self.now = self.now.max(target);
    }

    /// Drains and checks what the circuit sends and reports in this step.
    fn drain(&mut self, max_sent: usize) {
        let was_closed = self.closed;
        let mut sent = 0;
        while let Some(d) = self.circuit.poll_transmit() {
            sent += 1;
            self.sent(&d);
        }
        assert!(
            !was_closed || sent == 0,
            "{sent} datagrams sent after the circuit closed"
        );
        assert!(
            sent <= max_sent,
            "{sent} datagrams in one step (at most {max_sent})"
        );
        while let Some(e) = self.circuit.poll_event() {
            assert!(!self.closed, "an event after Disconnected: {e:?}");
            match e {
                Event::Phase { phase, ms } => {
                    assert!(self.phases.insert(phase), "{phase} reported twice");
                    assert!(
                        ms <= self.ms(),
                        "{phase} at {ms} ms, after the clock's {}",
                        self.ms()
                    );
                }
                Event::Disconnected(_) => self.closed = true,
                Event::Message(_) => {}
            }
        }
        assert_eq!(self.circuit.is_closed(), self.closed);
        assert_eq!(self.circuit.poll_timeout().is_none(), self.closed);
    }

    /// One datagram the circuit sent.
    fn sent(&mut self, d: &[u8]) {
        let p = udp::decode(d).expect("the circuit's datagram decodes");
        Message::parse(p.message, &p.body).expect("the circuit's message parses");
        let mut acks = p.acks.clone();
        if let Ok(Message::PacketAck(a)) = Message::parse(p.message, &p.body) {
            acks.extend(a.packets);
        }
        for a in acks {
            let i = self.owed.iter().position(|&(s, _)| s == a);
            let i = i.unwrap_or_else(|| panic!("ack of {a}, which the circuit does not owe"));
            self.owed.remove(i);
        }
        if p.is_resent() {
            let max = self.reliable.max_resends;
            let u = self.unacked.get_mut(&p.sequence).unwrap_or_else(|| {
                panic!("resend of #{}, not an unacked reliable packet", p.sequence)
            });
            assert_eq!(
                u.message, p.message,
                "resend of #{} changed message",
                p.sequence
            );
            assert_eq!(u.body, *p.body, "resend of #{} changed body", p.sequence);
            u.resends += 1;
            u.last_sent = self.now;
            assert!(
                u.resends <= max,
                "#{} resent {} times",
                p.sequence,
                u.resends
            );
        } else {
            assert_eq!(
                p.sequence, self.next_sequence,
                "new datagrams are numbered in order"
            );
            self.next_sequence = self.next_sequence.wrapping_add(1);
            self.recent.push_back(p.sequence);
            if self.recent.len() > 256 {
                self.recent.pop_front();
            }
            if p.is_reliable() {
                let s = Sent {
                    message: p.message,
                    body: p.body.to_vec(),
                    last_sent: self.now,
                    resends: 0,
                };
                self.unacked.insert(p.sequence, s);
            }
        }
    }

    /// Whatever came in, the next wake-up is not in the past: everything overdue was done by
    /// the last `handle_timeout`, and a datagram only adds deadlines from `now` on (the first
    /// ping is due at once when `UseCircuitCode` is acked).
    fn check_timeout_not_past(&self) {
        if let Some(next) = self.circuit.poll_timeout() {
            assert!(
                next >= self.now,
                "poll_timeout {:?} in the past",
                self.now - next
            );
        }
    }

    fn check_after_timeout(&self) {
        if self.closed {
            return;
        }
        let now = self.now;
        let next = self
            .circuit
            .poll_timeout()
            .expect("open circuit has a timeout");
        assert!(
            next > now,
            "poll_timeout {:?} not after handle_timeout's now",
            now - next
        );
        for (s, u) in &self.unacked {
            assert!(
                u.last_sent + self.reliable.max_rto > now,
                "#{s} unacked, not resent for {:?}",
                now - u.last_sent
            );
        }
        if let Some(&(s, at)) = self.owed.front() {
            assert!(
                at + self.reliable.ack_delay > now,
                "ack of #{s} owed for {:?}",
                now - at
            );
        }
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Raw(bytes) => self.deliver(bytes),
            Op::Captured {
                index,
                envelope,
                flip,
            } => {
                if let Some(d) = self.captured(*index, envelope, *flip) {
                    self.deliver(&d);
                }
            }
            Op::Message { envelope, message } => {
                if let Some(d) = self.build(envelope, message) {
                    self.deliver(&d);
                }
            }
            Op::Jump { ms } => {
                let t = self.now + Duration::from_millis(u64::from(*ms % 200_000));
                self.wake(t);
            }
            Op::Wake { ms } => {
                let target = self.now + Duration::from_millis(u64::from(*ms % 30_000));
                self.advance_to(target);
            }
            Op::Logout => {
                self.circuit.logout(self.now);
                self.drain(1);
            }
            Op::Controls(c) => {
                self.circuit.set_controls(self.now, *c);
                self.drain(1);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut h = Harness::new();
    h.handshake();
    for _ in 0..MAX_OPS {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        h.step(&op);
        if u.is_empty() {
            break;
        }
    }
});
