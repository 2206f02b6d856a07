//! The viewer circuit against a scripted region over an in-memory link with a fake clock.
//!
//! The region replays the messages a real OpenSim 0.9.2.2 sent in the `test-region` capture
//! (RegionHandshake, AgentMovementComplete, every LayerData, the avatar's ObjectUpdate, the 33
//! prims as ObjectUpdateCompressed, SimStats) with its own reliability layer, reacting to the
//! viewer the way OpenSim does (PROTOCOL §5): nothing before CompleteAgentMovement, objects only
//! after RegionHandshakeReply. The link can drop, duplicate and reorder datagrams.
// Helpers, not only #[test] functions, unwrap, index and cast: a failed step fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::panic
)]

use std::collections::VecDeque;
use std::time::Duration;

use overlook_protocol::capture::{Direction, read_udp_jsonl};
use overlook_protocol::circuit::{
    Circuit, CircuitConfig, DisconnectReason, Event, Phase, Reliability, ReliableConfig,
};
use overlook_protocol::message::{Message, ThrottleBlob};
use overlook_protocol::testkit::{LOSSY, Link, PERFECT, Wire, earliest};
use overlook_protocol::types::Uuid;
use overlook_protocol::udp::{self, MessageId, flags};
use web_time::Instant;

fn agent() -> Uuid {
    "7c0ffee0-0000-4000-8000-000000000001".parse().unwrap()
}

fn session() -> Uuid {
    "aff3bc22-b4b1-4b6a-9a84-73a08abe2c42".parse().unwrap()
}

const CIRCUIT_CODE: u32 = 0x7673_b3ac;

/// A message the region can send: number, body, whether reliable, whether zero-coded.
#[derive(Clone)]
struct Scripted {
    id: MessageId,
    body: Vec<u8>,
    flags: u8,
}

/// What OpenSim sent in the capture, grouped by when it sends it.
struct Script {
    on_complete_movement: Vec<Scripted>,
    on_handshake_reply: Vec<Scripted>,
    sim_stats: Scripted,
    logout_reply: Scripted,
}

fn load_script() -> Script {
    let text = overlook_testdata::session_udp("test-region");
    let mut movement = Vec::new();
    let mut objects = Vec::new();
    let mut sim_stats = None;
    let mut logout_reply = None;
    for d in read_udp_jsonl(&text).unwrap() {
        if d.dir != Direction::In {
            continue;
        }
        let p = udp::decode(&d.bytes).unwrap();
        let s = Scripted {
            id: p.message,
            body: p.body.to_vec(),
            flags: p.flags & (flags::RELIABLE | flags::ZEROCODED),
        };
        match p.message {
            // RegionHandshake, AgentMovementComplete, LayerData, the avatar's ObjectUpdate.
            MessageId::Low(148)
            | MessageId::Low(250)
            | MessageId::High(11)
            | MessageId::High(12) => movement.push(s),
            MessageId::High(13) => objects.push(s),
            MessageId::Low(140) => sim_stats = sim_stats.or(Some(s)),
            MessageId::Low(253) => logout_reply = Some(s),
            _ => {}
        }
    }
    Script {
        on_complete_movement: movement,
        on_handshake_reply: objects,
        sim_stats: sim_stats.unwrap(),
        logout_reply: logout_reply.unwrap(),
    }
}

/// The region end: OpenSim's reactions to the viewer, with a real reliability layer.
struct Region {
    rel: Reliability,
    script: Script,
    out: VecDeque<Vec<u8>>,
    /// Viewer messages in arrival order (names), duplicates excluded.
    seen: Vec<&'static str>,
    handshake_reply_flags: Option<u32>,
    far: Option<f32>,
    land_throttle: Option<f32>,
    movement_completed: bool,
    objects_sent: bool,
    next_ping: Option<Instant>,
}

impl Region {
    fn new(script: Script) -> Self {
        Region {
            rel: Reliability::new(ReliableConfig::default()),
            script,
            out: VecDeque::new(),
            seen: Vec::new(),
            handshake_reply_flags: None,
            far: None,
            land_throttle: None,
            movement_completed: false,
            objects_sent: false,
            next_ping: None,
        }
    }

    fn send(&mut self, now: Instant, s: &Scripted) {
        let (_, d) = self.rel.send(now, s.id, s.flags, s.body.clone());
        self.out.push_back(d);
    }

    fn handle(&mut self, now: Instant, datagram: &[u8]) {
        let p = udp::decode(datagram).unwrap();
        let receipt = self.rel.receive(now, &p);
        let msg = Message::parse(p.message, &p.body).unwrap();
        if let Message::PacketAck(a) = &msg {
            for &id in &a.packets {
                self.rel.ack(id);
            }
        }
        if p.message == MessageId::Low(3) {
            // OpenSim acks UseCircuitCode at once, unreliably.
            self.rel.flush_acks(&mut self.out);
        }
        if receipt == overlook_protocol::circuit::reliable::Receipt::Duplicate {
            return;
        }
        self.seen.push(msg.name());
        match &msg {
            Message::CompleteAgentMovement(_) if !self.movement_completed => {
                self.movement_completed = true;
                for s in self.script.on_complete_movement.clone() {
                    self.send(now, &s);
                }
                self.next_ping = Some(now + Duration::from_secs(5));
            }
            Message::RegionHandshakeReply(r) => {
                self.handshake_reply_flags = Some(r.flags);
                if !self.objects_sent {
                    self.objects_sent = true;
                    for s in self.script.on_handshake_reply.clone() {
                        self.send(now, &s);
                    }
                    let stats = self.script.sim_stats.clone();
                    self.send(now, &stats);
                }
            }
            Message::AgentUpdate(u) => self.far = Some(u.far),
            Message::AgentThrottle(t) => {
                if let ThrottleBlob::Known(k) = &t.throttles {
                    self.land_throttle = Some(k.land);
                }
            }
            Message::StartPingCheck(ping) => {
                let body = vec![ping.ping_id];
                self.send(
                    now,
                    &Scripted {
                        id: MessageId::High(2),
                        body,
                        flags: 0,
                    },
                );
            }
            Message::LogoutRequest(_) => {
                let reply = self.script.logout_reply.clone();
                self.send(now, &reply);
            }
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let _ = self.rel.poll(now, &mut self.out);
        if self.next_ping.is_some_and(|t| now >= t) {
            let body = [&[1u8][..], &self.rel.oldest_unacked().to_le_bytes()].concat();
            self.send(
                now,
                &Scripted {
                    id: MessageId::High(1),
                    body,
                    flags: 0,
                },
            );
            self.next_ping = Some(now + Duration::from_secs(5));
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.rel.next_deadline(), self.next_ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum To {
    Viewer,
    Region,
}

/// Both ends, the link and the fake clock.
struct Pair {
    now: Instant,
    viewer: Circuit,
    region: Region,
    wire: Wire<To>,
    events: Vec<Event>,
}

impl Pair {
    fn new(link: Link, seed: u64) -> Self {
        let start = Instant::now();
        let login_sent = start;
        let now = start + Duration::from_millis(120);
        let cfg = CircuitConfig::new(agent(), session(), CIRCUIT_CODE);
        Pair {
            now,
            viewer: Circuit::new(cfg, login_sent, now),
            region: Region::new(load_script()),
            wire: Wire::new(link, seed),
            events: Vec::new(),
        }
    }

    fn flush(&mut self) {
        while let Some(d) = self.viewer.poll_transmit() {
            self.wire.send(self.now, To::Region, d);
        }
        while let Some(d) = self.region.out.pop_front() {
            self.wire.send(self.now, To::Viewer, d);
        }
        while let Some(e) = self.viewer.poll_event() {
            self.events.push(e);
        }
    }

    /// Advances the clock to the next thing that happens and does it. False when nothing is
    /// left to do or `until` passed.
    fn step(&mut self, until: Instant) -> bool {
        self.flush();
        let Some(next) = earliest([
            self.wire.next_arrival(),
            self.viewer.poll_timeout(),
            self.region.poll_timeout(),
        ]) else {
            return false;
        };
        if next > until {
            return false;
        }
        self.now = self.now.max(next);
        while let Some((to, d)) = self.wire.receive(self.now) {
            match to {
                To::Viewer => self.viewer.handle_datagram(self.now, &d),
                To::Region => self.region.handle(self.now, &d),
            }
        }
        self.viewer.handle_timeout(self.now);
        self.region.handle_timeout(self.now);
        self.flush();
        true
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
        self.now = self.now.max(until);
    }

    fn phase(&self, p: Phase) -> Option<u64> {
        self.viewer.phases().get(p)
    }

    fn disconnect(&self) -> Option<&DisconnectReason> {
        self.events.iter().find_map(|e| match e {
            Event::Disconnected(r) => Some(r),
            _ => None,
        })
    }

    fn delivered(&self, name: &str) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Message(m) if m.name() == name))
            .count()
    }
}

#[test]
fn completes_the_story_on_a_perfect_link() {
    let mut pair = Pair::new(PERFECT, 1);
    pair.run_for(Duration::from_secs(8));
    for p in Phase::CIRCUIT_STORY {
        assert!(pair.phase(p).is_some(), "phase {p} not reached");
    }
    // Phases come in story order, measured from the login request.
    let times: Vec<u64> = Phase::ALL[..7]
        .iter()
        .map(|&p| pair.phase(p).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(pair.phase(Phase::LoginSent), Some(0));
    assert_eq!(pair.phase(Phase::LoginReplied), Some(120));
    // The order OpenSim needs: CompleteAgentMovement and AgentThrottle right after the circuit
    // ack, RegionHandshakeReply after the handshake, an AgentUpdate after AgentMovementComplete.
    let seen = &pair.region.seen;
    assert_eq!(
        &seen[..3],
        ["UseCircuitCode", "CompleteAgentMovement", "AgentThrottle"]
    );
    assert!(seen.contains(&"RegionHandshakeReply"));
    assert_eq!(pair.region.handshake_reply_flags, Some(0x6));
    let far = pair.region.far.expect("AgentUpdate sent");
    assert!(
        far >= 362.0,
        "Far {far} must cover the 256 m region's diagonal"
    );
    let land = pair.region.land_throttle.expect("AgentThrottle sent");
    assert_eq!(land, 4_000_000.0);
    // Every message delivered once: 22 LayerData (20 land + 2 wind), 5 compressed updates.
    assert_eq!(pair.delivered("LayerData"), 22);
    assert_eq!(pair.delivered("ObjectUpdateCompressed"), 5);
    assert_eq!(pair.delivered("RegionHandshake"), 1);
    assert_eq!(pair.viewer.stats().objects, 33);
    assert_eq!(pair.viewer.stats().malformed, 0);
    assert!(pair.disconnect().is_none());
}

#[test]
fn completes_the_story_on_a_lossy_link() {
    for seed in [7, 99, 12345] {
        let mut pair = Pair::new(LOSSY, seed);
        pair.run_for(Duration::from_secs(30));
        for p in Phase::CIRCUIT_STORY {
            assert!(
                pair.phase(p).is_some(),
                "seed {seed}: phase {p} not reached"
            );
        }
        // Duplicates and resends are delivered once.
        assert_eq!(pair.delivered("LayerData"), 22, "seed {seed}");
        assert_eq!(pair.delivered("ObjectUpdateCompressed"), 5, "seed {seed}");
        assert_eq!(pair.delivered("RegionHandshake"), 1, "seed {seed}");
        assert_eq!(pair.delivered("AgentMovementComplete"), 1, "seed {seed}");
        assert_eq!(pair.viewer.stats().objects, 33, "seed {seed}");
        let rel = pair.viewer.reliable_stats();
        assert!(
            rel.resent > 0,
            "seed {seed}: a 30 % lossy link must cause resends"
        );
        assert!(
            pair.disconnect().is_none(),
            "seed {seed}: {:?}",
            pair.disconnect()
        );
        // Logging out still completes (reply or timeout) on the bad link.
        pair.viewer.logout(pair.now);
        pair.run_for(Duration::from_secs(10));
        assert!(pair.phase(Phase::Logout).is_some(), "seed {seed}");
        assert!(matches!(
            pair.disconnect(),
            Some(DisconnectReason::LoggedOut | DisconnectReason::LogoutTimedOut(_))
        ));
    }
}

#[test]
fn answers_pings_and_measures_rtt() {
    let mut pair = Pair::new(PERFECT, 3);
    pair.run_for(Duration::from_secs(12));
    assert!(pair.region.seen.contains(&"CompletePingCheck"));
    assert!(pair.region.seen.contains(&"StartPingCheck"));
    let rtt = pair.viewer.rtt().expect("rtt measured");
    assert_eq!(rtt, Duration::from_millis(10), "two 5 ms hops");
}

#[test]
fn measures_rtt_as_soon_as_the_circuit_opens() {
    let mut pair = Pair::new(PERFECT, 3);
    pair.run_for(Duration::from_millis(500));
    assert!(pair.phase(Phase::CircuitAcked).is_some());
    assert_eq!(pair.viewer.rtt(), Some(Duration::from_millis(10)));
}

#[test]
fn keeps_the_agent_alive_with_agent_updates() {
    let mut pair = Pair::new(PERFECT, 4);
    pair.run_for(Duration::from_secs(10));
    let updates = pair
        .region
        .seen
        .iter()
        .filter(|n| **n == "AgentUpdate")
        .count();
    assert!(
        (9..=12).contains(&updates),
        "{updates} AgentUpdates in ~10 s"
    );
}

#[test]
fn logs_out_with_logout_reply() {
    let mut pair = Pair::new(PERFECT, 5);
    pair.run_for(Duration::from_secs(3));
    pair.viewer.logout(pair.now);
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.disconnect(), Some(&DisconnectReason::LoggedOut));
    assert!(pair.phase(Phase::Logout).is_some());
    assert!(pair.viewer.poll_timeout().is_none());
}

#[test]
fn times_out_when_the_region_never_answers() {
    // A region that drops everything: UseCircuitCode is never acked.
    let mut pair = Pair::new(
        Link {
            drop: 1.0,
            ..PERFECT
        },
        6,
    );
    pair.run_for(Duration::from_secs(90));
    assert_eq!(pair.disconnect(), Some(&DisconnectReason::CircuitNotAcked));
    assert!(pair.phase(Phase::CircuitAcked).is_none());
}

#[test]
fn declares_a_silent_region_dead() {
    let mut pair = Pair::new(PERFECT, 8);
    pair.run_for(Duration::from_secs(3));
    // The region goes silent (and deaf): everything from now on is lost.
    pair.wire.link.drop = 1.0;
    pair.run_for(Duration::from_secs(120));
    assert!(
        matches!(
            pair.disconnect(),
            Some(DisconnectReason::Inactive(_) | DisconnectReason::NoAck(_))
        ),
        "{:?}",
        pair.disconnect()
    );
}

#[test]
fn drops_malformed_datagrams_and_keeps_going() {
    let mut pair = Pair::new(PERFECT, 9);
    let now = pair.now;
    for junk in [
        &[][..],
        &[0x40, 0, 0, 0, 1, 0][..],
        &[0x80, 0, 0, 0, 1, 0, 0, 0][..],
        &[0xFF; 40][..],
    ] {
        pair.viewer.handle_datagram(now, junk);
    }
    assert_eq!(pair.viewer.stats().malformed, 4);
    pair.run_for(Duration::from_secs(5));
    assert!(pair.phase(Phase::TerrainComplete).is_some());
}

/// The message that closes the circuit is reported before `Disconnected`, after which nothing
/// is: a viewer that stops reading at `Disconnected` (as the app's session does) still sees the
/// `KickUser` or `LogoutReply`. Found by the `circuit_session` fuzz target, where it came after.
#[test]
fn reports_the_closing_message_before_disconnected() {
    use overlook_protocol::capture::decode_hex;
    use overlook_protocol::message::{
        AgentIds, DisableSimulator, KickUser, LogoutReply, MessageRepr,
    };
    use overlook_protocol::udp::PacketRepr;

    fn datagram<M: MessageRepr>(sequence: u32, m: &M) -> Vec<u8> {
        PacketRepr {
            flags: flags::RELIABLE,
            sequence,
            message: M::ID,
            body: m.to_bytes().unwrap().into(),
            acks: vec![],
        }
        .to_vec()
    }
    let ids = AgentIds {
        agent_id: agent(),
        session_id: session(),
    };
    let kick = datagram(
        2,
        &KickUser {
            target_ip: std::net::Ipv4Addr::LOCALHOST,
            target_port: 0,
            agent: ids,
            reason: "bye".into(),
        },
    );
    let reply = datagram(
        2,
        &LogoutReply {
            agent: ids,
            item_ids: vec![],
        },
    );
    let disable = datagram(2, &DisableSimulator);
    for (closing, logout, name) in [
        (kick, false, "KickUser"),
        (reply, true, "LogoutReply"),
        (disable, false, "DisableSimulator"),
    ] {
        let t0 = Instant::now();
        let mut c = Circuit::new(CircuitConfig::new(agent(), session(), CIRCUIT_CODE), t0, t0);
        // OpenSim's ack of UseCircuitCode opens the circuit.
        c.handle_datagram(t0, &decode_hex("000000000000fffffffb0101000000").unwrap());
        if logout {
            c.logout(t0);
        }
        c.handle_datagram(t0, &closing);
        let events: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
        assert!(
            matches!(events.last(), Some(Event::Disconnected(_))),
            "{name}: {events:?}"
        );
        // The message comes first; after it only what it caused: the phase it completed
        // (`Logout`) and the end.
        let at = events
            .iter()
            .position(|e| matches!(e, Event::Message(m) if m.name() == name))
            .unwrap_or_else(|| panic!("{name} not reported: {events:?}"));
        assert!(
            events[at + 1..]
                .iter()
                .all(|e| matches!(e, Event::Phase { .. } | Event::Disconnected(_))),
            "{name}: {events:?}"
        );
    }
}
