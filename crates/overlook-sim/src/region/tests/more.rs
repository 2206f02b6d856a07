//! Gates with a hand-driven client, garbage, walking, the scene's movers and kill cycle,
//! silence, kicks, and the terrain stream on its own.

use std::net::SocketAddr;
use std::time::Duration;

use web_time::Instant;

use super::harness::{Net, PERFECT, UNIX_START, info, smooth_map};
use super::{STORY, settled};
use crate::ExpectedCircuit;
use crate::region::terrain_stream::{TerrainPacing, TerrainStream, Viewpoint, land_rate};
use crate::region::throttle::{MIN_BUCKET, TokenBucket};
use crate::region::{DemoScene, LeaveReason, Region, RegionEvent, StaticScene};
use overlook_protocol::message::agent::control_flags;
use overlook_protocol::message::object::{PCode, TerseData};
use overlook_protocol::message::region::{ParcelOverlay, overlay};
use overlook_protocol::message::{
    AgentIds, CompleteAgentMovement, Message, MessageRepr, RegionHandshakeReply, UseCircuitCode,
};
use overlook_protocol::terrain::decode_layer;
use overlook_protocol::types::{Uuid, Vec3};
use overlook_protocol::udp::{self, PacketRepr, flags};

pub(super) fn datagram<M: MessageRepr>(seq: u32, msg: &M) -> Vec<u8> {
    PacketRepr {
        flags: flags::RELIABLE,
        sequence: seq,
        message: M::ID,
        body: msg.to_bytes().unwrap().into(),
        acks: vec![],
    }
    .to_vec()
}

/// Names of the messages the region sent to a hand-driven client.
pub(super) fn drain_names(region: &mut Region) -> Vec<Message> {
    std::iter::from_fn(|| region.poll_transmit())
        .map(|(_, d)| {
            let p = udp::decode(&d).unwrap();
            Message::parse(p.message, &p.body).unwrap()
        })
        .collect()
}

/// `n` boxes that stay put.
fn boxes(n: u32) -> StaticScene {
    StaticScene {
        objects: DemoScene::new(n).boxes,
    }
}

/// A region of `boxes` boxes expecting one agent (ids filled with the bytes of `ids`) on circuit
/// `code`, with the agent's address (loopback host `host`), ids and `UseCircuitCode`.
pub(super) fn expecting_one_agent(
    boxes_n: u32,
    code: u32,
    ids: (u8, u8),
    host: u8,
) -> (Instant, Region, SocketAddr, AgentIds, UseCircuitCode) {
    let now = Instant::now();
    let mut region = Region::new(
        info(256, 256),
        smooth_map(256, 256),
        Box::new(boxes(boxes_n)),
        now,
        UNIX_START,
    )
    .unwrap();
    let (agent_id, session_id) = (Uuid([ids.0; 16]), Uuid([ids.1; 16]));
    region
        .expect_circuit(
            now,
            ExpectedCircuit {
                circuit_code: code,
                agent_id,
                session_id,
                secure_session_id: Uuid::NIL,
                first: "A".into(),
                last: "B".into(),
                start_position: Vec3::new(128.0, 128.0, 30.0),
                look_at: Vec3::new(1.0, 0.0, 0.0),
            },
        )
        .unwrap();
    let from = SocketAddr::from(([127, 0, 0, host], 5000));
    let ucc = UseCircuitCode {
        code,
        session_id,
        agent_id,
    };
    let ids = AgentIds {
        agent_id,
        session_id,
    };
    (now, region, from, ids, ucc)
}

#[test]
fn objects_wait_for_both_gates() {
    let (now, mut region, from, ids, ucc) = expecting_one_agent(3, 77, (1, 2), 1);
    region.handle_datagram(now, from, &datagram(1, &ucc));
    let first = drain_names(&mut region);
    assert_eq!(first.len(), 1, "only the ack before CompleteAgentMovement");
    assert!(matches!(&first[0], Message::PacketAck(a) if a.packets == [1]));
    // Nothing region-related while the agent is a child, however long.
    let mut t = now;
    for _ in 0..50 {
        t += Duration::from_millis(100);
        region.handle_timeout(t);
    }
    assert!(
        drain_names(&mut region)
            .iter()
            .all(|m| m.name() == "PacketAck")
    );
    let cam = CompleteAgentMovement {
        agent: ids,
        circuit_code: 77,
    };
    region.handle_datagram(t, from, &datagram(2, &cam));
    region.grant_seeds(t, ids.agent_id);
    let mut sent = Vec::new();
    for _ in 0..50 {
        t += Duration::from_millis(100);
        region.handle_timeout(t);
        sent.extend(drain_names(&mut region));
    }
    let names: Vec<&str> = sent.iter().map(Message::name).collect();
    assert!(names.contains(&"RegionHandshake"));
    assert!(names.contains(&"AgentMovementComplete"));
    assert!(names.contains(&"LayerData"));
    let prims = |msgs: &[Message]| {
        msgs.iter()
            .filter_map(|m| match m {
                Message::ObjectUpdate(u) => {
                    Some(u.objects.iter().filter(|o| o.pcode == PCode::Prim).count())
                }
                _ => None,
            })
            .sum::<usize>()
    };
    assert_eq!(prims(&sent), 0, "seeds alone do not open the scene");
    assert!(!names.contains(&"KillObject"));
    // The handshake reply is the second gate.
    let reply = RegionHandshakeReply {
        agent: ids,
        flags: 0,
    };
    region.handle_datagram(t, from, &datagram(3, &reply));
    let mut later = Vec::new();
    for _ in 0..10 {
        t += Duration::from_millis(100);
        region.handle_timeout(t);
        later.extend(drain_names(&mut region));
    }
    assert_eq!(prims(&later), 3, "flags without 0x2 still get full updates");
}

#[test]
fn garbage_flood_neither_panics_nor_stalls() {
    let mut net = Net::demo(PERFECT, 11);
    let v = net.login(1, true);
    let viewer_addr = net.viewers[v].addr;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..3000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 90) as usize;
        let mut d: Vec<u8> = (0..len).map(|k| (x >> (k % 56)) as u8).collect();
        if i % 3 == 0 && d.len() > 6 {
            // Plausible headers with garbage bodies, some reliable, some zero-coded.
            d[0] = [0x40, 0xC0, 0x00, 0x10][(i / 3 % 4) as usize];
        }
        let from = if i % 2 == 0 {
            viewer_addr
        } else {
            format!("10.9.{}.{}:{}", i % 200, i % 250, 1000 + i)
                .parse()
                .unwrap()
        };
        net.inject(from, d);
    }
    assert!(net.run_until(Duration::from_secs(10), |n| settled(n, v)));
    for p in STORY {
        assert!(net.viewers[v].phase(p).is_some(), "phase {p}");
    }
    let stats = net.region.stats();
    assert!(stats.malformed + stats.ignored > 1000, "{stats:?}");
    assert_eq!(net.region.agents().len(), 1);
}

/// Terse positions of `local_id` the viewer received, in order.
fn terse_positions(net: &Net, v: usize, local_id: u32) -> Vec<TerseData> {
    net.viewers[v]
        .messages()
        .filter_map(|m| match m {
            Message::ImprovedTerseObjectUpdate(u) => Some(u.objects.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|o| o.terse().ok())
        .filter(|t| t.local_id == local_id)
        .collect()
}

#[test]
fn walking_forward_moves_the_avatar() {
    let mut net = Net::demo(PERFECT, 12);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, v)));
    let me = net.region.agents()[0].clone();
    let start = me.position;
    net.viewers[v]
        .circuit
        .set_controls(net.now, control_flags::AT_POS);
    net.run_for(Duration::from_secs(2));
    net.viewers[v].circuit.set_controls(net.now, 0);
    net.run_for(Duration::from_millis(500));
    let terse = terse_positions(&net, v, me.local_id);
    assert!(terse.len() >= 5, "{} terse updates", terse.len());
    assert!(
        terse.iter().all(|t| t.collision_plane.is_some()),
        "avatar form"
    );
    let end = terse.last().unwrap();
    // Look-at <0.99, 0.042>: about 6 m east.
    let moved = end.position.x - start.x;
    assert!((5.0..7.5).contains(&moved), "moved {moved} m east");
    assert!((end.position.y - start.y).abs() < 0.6);
    assert!(end.velocity.x.abs() < 0.01, "the last update says stopped");
    assert_eq!(net.region.agents()[0].position.x, end.position.x);
    // Turning left changes the heading, not the place.
    net.viewers[v]
        .circuit
        .set_controls(net.now, control_flags::TURN_LEFT);
    net.run_for(Duration::from_secs(1));
    net.viewers[v].circuit.set_controls(net.now, 0);
    net.run_for(Duration::from_millis(300));
    let turned = terse_positions(&net, v, me.local_id)
        .last()
        .copied()
        .unwrap();
    assert!((turned.position.x - end.position.x).abs() < 0.01);
    assert!(turned.rotation.z.abs() > 0.5, "{:?}", turned.rotation);
    // Flying up leaves the ground.
    net.viewers[v]
        .circuit
        .set_controls(net.now, control_flags::FLY | control_flags::UP_POS);
    net.run_for(Duration::from_secs(1));
    let flown = terse_positions(&net, v, me.local_id)
        .last()
        .copied()
        .unwrap();
    assert!(
        flown.position.z > end.position.z + 5.0,
        "{} → {}",
        end.position.z,
        flown.position.z
    );
}

#[test]
fn movers_and_the_kill_cycle_reach_the_viewer() {
    let mut net = Net::demo(PERFECT, 13);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, v)));
    net.run_for(Duration::from_secs(5));
    let orbit = terse_positions(&net, v, 1);
    assert!(
        orbit.len() > 10,
        "{} terse updates of the mover",
        orbit.len()
    );
    let first = orbit.first().unwrap().position;
    let last = orbit.last().unwrap().position;
    assert!((first.x - last.x).abs() + (first.y - last.y).abs() > 0.5);
    let viewer = &net.viewers[v];
    let kills: Vec<u32> = viewer
        .messages()
        .filter_map(|m| match m {
            Message::KillObject(k) => Some(k.ids.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(kills.contains(&2), "{kills:?}");
    assert!(!kills.contains(&1));
    let recreated = viewer.object_blocks().iter().filter(|o| o.id == 2).count();
    assert!(recreated >= 2, "box 2 sent {recreated} times");
    // SimStats reports the scene's prim count; the viewer settles on it.
    let prims = viewer
        .messages()
        .find_map(|m| match m {
            Message::SimStats(s) => {
                s.stat(overlook_protocol::message::region::stat_id::TOTAL_PRIMS)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(prims, 5.0);
}

#[test]
fn silence_drops_the_agent_after_a_minute() {
    // A scene that stays put: nothing reliable is pending while the client is silent (with
    // pending reliable data it goes after 30 s: `budget::a_client_that_stops_acking_is_dropped`).
    let mut net = Net::new(256, 256, Box::new(boxes(5)), PERFECT, 14);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, v)));
    // The acks of the last objects arrive; then nothing is pending.
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.region.agent_loads()[0].unacked_packets, 0);
    while net.region.poll_event().is_some() {}
    net.wire.link.drop = 1.0;
    net.run_for(Duration::from_secs(59));
    assert!(net.region.is_present(net.viewers[v].agent));
    net.run_for(Duration::from_secs(3));
    assert!(!net.region.is_present(net.viewers[v].agent));
    assert!(matches!(
        net.region.poll_event(),
        Some(RegionEvent::Left {
            reason: LeaveReason::TimedOut(_),
            ..
        })
    ));
}

#[test]
fn kick_sends_kick_user() {
    let mut net = Net::demo(PERFECT, 15);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(5), |n| settled(n, v)));
    let agent = net.viewers[v].agent;
    assert!(net.region.kick(net.now, agent, "New login detected"));
    net.run_for(Duration::from_secs(1));
    assert!(net.viewers[v].circuit.is_closed());
    assert!(!net.region.is_present(agent));
    assert!(!net.region.kick(net.now, agent, "again"));
}

fn view(at: Vec3, far: f32) -> Viewpoint {
    Viewpoint { at, far }
}

/// A land bucket at `rate` bytes/s as the region gives each agent (250 ms of burst).
fn land(rate: f64, now: Instant) -> TokenBucket {
    TokenBucket::new(rate, Duration::from_millis(250), MIN_BUCKET, now)
}

#[test]
fn terrain_rounds_go_nearest_first_and_cover_the_region() {
    let map = smooth_map(512, 512);
    let t0 = Instant::now();
    let mut s = TerrainStream::new(&map, t0, &[]);
    let pacing = TerrainPacing::default();
    let at = Vec3::new(100.0, 300.0, 25.0);
    let mut out = Vec::new();
    let mut bucket = land(1e9, t0);
    // Far 64 m: the first round takes the ~50 patches within it plus 128 beyond.
    s.poll(t0, &map, view(at, 64.0), &pacing, &mut bucket, &mut out);
    let first: Vec<(u32, u32)> = out
        .iter()
        .flat_map(|l| decode_layer(&l.data, 512, 512).unwrap().patches)
        .map(|p| (p.x, p.y))
        .collect();
    assert!(
        (128 + 40..128 + 60).contains(&first.len()),
        "{}",
        first.len()
    );
    assert_eq!(first[0], (6, 18), "the agent's own patch first");
    let dist =
        |&(x, y): &(u32, u32)| ((x * 16 + 8) as f32 - at.x).hypot((y * 16 + 8) as f32 - at.y);
    assert!(first.windows(2).all(|w| dist(&w[0]) <= dist(&w[1]) + 1e-3));
    assert!(out.iter().all(|l| l.data.len() <= 1000));
    let mut t = t0;
    while !s.is_done() {
        t += pacing.round_interval;
        s.poll(t, &map, view(at, 64.0), &pacing, &mut bucket, &mut out);
        assert!(t < t0 + Duration::from_secs(10));
    }
    assert_eq!(s.patches_sent, 1024);
    // 896 patches beyond Far at 128 a round: seven more rounds.
    assert_eq!(t, t0 + pacing.round_interval * 7);
}

#[test]
fn withheld_terrain_patches_are_never_sent() {
    let map = smooth_map(256, 256);
    let t0 = Instant::now();
    // Two holes, one twice, and one outside the region (ignored).
    let withheld = [(3, 4), (15, 0), (3, 4), (16, 0)];
    let mut s = TerrainStream::new(&map, t0, &withheld);
    let pacing = TerrainPacing::default();
    let at = Vec3::new(128.0, 128.0, 25.0);
    let (mut out, mut t) = (Vec::new(), t0);
    let mut bucket = land(1e9, t0);
    while !s.is_done() {
        s.poll(t, &map, view(at, 512.0), &pacing, &mut bucket, &mut out);
        t += pacing.round_interval;
        assert!(
            t < t0 + Duration::from_secs(10),
            "the stream never finished"
        );
    }
    let sent: Vec<(u32, u32)> = out
        .iter()
        .flat_map(|l| decode_layer(&l.data, 256, 256).unwrap().patches)
        .map(|p| (p.x, p.y))
        .collect();
    assert_eq!(sent.len(), 254);
    assert!(!sent.contains(&(3, 4)) && !sent.contains(&(15, 0)));
    // Everything withheld: done at once, nothing sent.
    let all: Vec<(u32, u32)> = (0..16).flat_map(|y| (0..16).map(move |x| (x, y))).collect();
    let mut s = TerrainStream::new(&map, t0, &all);
    let mut out = Vec::new();
    s.poll(
        t0,
        &map,
        view(at, 512.0),
        &pacing,
        &mut land(1e9, t0),
        &mut out,
    );
    assert!(s.is_done() && out.is_empty());
}

#[test]
fn terrain_is_paced_by_the_land_throttle() {
    let map = smooth_map(256, 256);
    let t0 = Instant::now();
    let mut s = TerrainStream::new(&map, t0, &[]);
    let pacing = TerrainPacing::default();
    let at = Vec3::new(128.0, 128.0, 25.0);
    let (mut out, mut t) = (Vec::new(), t0);
    let mut bucket = land(9125.0, t0);
    while !s.is_done() {
        s.poll(t, &map, view(at, 512.0), &pacing, &mut bucket, &mut out);
        t = s
            .next_deadline(&bucket)
            .unwrap_or(t)
            .max(t + Duration::from_millis(1));
    }
    let bytes: usize = out.iter().map(|l| l.data.len() + 13).sum();
    let secs = t.duration_since(t0).as_secs_f64();
    let expected = (bytes as f64 - 9125.0 * 0.25) / 9125.0;
    assert!((secs - expected).abs() < 0.3, "{bytes} bytes in {secs} s");
    // The rates of AgentThrottle, bits/s → bytes/s, with OpenSim's floor and cap.
    use overlook_protocol::message::Throttles;
    assert_eq!(land_rate(&Throttles::OVERLOOK), Some(500_000.0));
    let tiny = Throttles {
        land: 8.0,
        ..Throttles::OVERLOOK
    };
    assert_eq!(land_rate(&tiny), Some(1000.0));
    let huge = Throttles {
        land: 80_000_000.0,
        ..Throttles::OVERLOOK
    };
    assert!(land_rate(&huge).unwrap() < 640_000.0);
    let nan = Throttles {
        land: f32::NAN,
        ..Throttles::OVERLOOK
    };
    assert_eq!(land_rate(&nan), None);
}

#[test]
fn unused_expected_circuit_expires() {
    let (now, mut region, from, ids, ucc) = expecting_one_agent(1, 5, (3, 4), 0);
    let timeout = Duration::from_secs(60);
    assert_eq!(region.poll_timeout(), Some(now + timeout));
    region.handle_timeout(now + timeout - Duration::from_millis(1));
    assert!(region.is_present(ids.agent_id));
    assert_eq!(region.poll_event(), None);
    region.handle_timeout(now + timeout);
    assert_eq!(
        region.poll_event(),
        Some(RegionEvent::Expired {
            agent: ids.agent_id,
            circuit_code: 5
        })
    );
    assert!(!region.is_present(ids.agent_id));
    assert_eq!(region.poll_timeout(), None);
    // The code is unknown now: a late UseCircuitCode connects nobody.
    region.handle_datagram(now + timeout, from, &datagram(1, &ucc));
    assert!(region.agents().is_empty());
    assert_eq!(region.poll_event(), None);
}

/// What a region sends an agent that connects at its start and completes its movement
/// `delay` later.
fn sent_on_entering(delay: Duration) -> Vec<Message> {
    let (now, mut region, from, ids, ucc) = expecting_one_agent(1, 5, (3, 4), 0);
    region.handle_datagram(now, from, &datagram(1, &ucc));
    let cam = CompleteAgentMovement {
        agent: ids,
        circuit_code: 5,
    };
    region.handle_datagram(now + delay, from, &datagram(2, &cam));
    drain_names(&mut region)
}

#[test]
fn movement_complete_timestamp_follows_the_injected_clock() {
    let stamps: Vec<u32> = sent_on_entering(Duration::from_secs(90))
        .into_iter()
        .filter_map(|m| match m {
            Message::AgentMovementComplete(amc) => Some(amc.timestamp),
            _ => None,
        })
        .collect();
    assert_eq!(stamps, [u32::try_from(UNIX_START.as_secs()).unwrap() + 90]);
}

#[test]
fn entering_sends_the_parcel_overlay() {
    let overlays: Vec<ParcelOverlay> = sent_on_entering(Duration::ZERO)
        .into_iter()
        .filter_map(|m| match m {
            Message::ParcelOverlay(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(
        overlays,
        ParcelOverlay::single_parcel(256, 256, overlay::OWNED_BY_OTHER)
    );
    assert_eq!(overlays.len(), 4);
}

#[test]
fn used_expected_circuit_does_not_expire() {
    let (now, mut region, from, ids, ucc) = expecting_one_agent(1, 5, (3, 4), 0);
    region.handle_datagram(now, from, &datagram(1, &ucc));
    let t = now + Duration::from_secs(61);
    region.handle_timeout(t);
    let events: Vec<RegionEvent> = core::iter::from_fn(|| region.poll_event()).collect();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RegionEvent::Expired { .. })),
        "{events:?}"
    );
    assert!(
        matches!(events.first(), Some(RegionEvent::Connected { agent, .. }) if *agent == ids.agent_id)
    );
}

#[test]
fn duplicates_are_acked_and_handled_once() {
    let (now, mut region, from, ids, ucc) = expecting_one_agent(1, 5, (3, 4), 2);
    // A resent UseCircuitCode is acked again at once.
    region.handle_datagram(now, from, &datagram(1, &ucc));
    region.handle_datagram(now, from, &datagram(1, &ucc));
    let acks = drain_names(&mut region);
    assert_eq!(acks.len(), 2);
    assert!(
        acks.iter()
            .all(|m| matches!(m, Message::PacketAck(a) if a.packets == [1]))
    );
    let cam = CompleteAgentMovement {
        agent: ids,
        circuit_code: 5,
    };
    region.handle_datagram(now, from, &datagram(2, &cam));
    region.handle_datagram(now, from, &datagram(2, &cam));
    let t = now + Duration::from_millis(200);
    region.handle_timeout(t);
    let (mut sent, mut acked) = (Vec::new(), Vec::new());
    while let Some((_, d)) = region.poll_transmit() {
        let p = udp::decode(&d).unwrap();
        acked.extend(p.acks.iter().copied());
        let m = Message::parse(p.message, &p.body).unwrap();
        if let Message::PacketAck(a) = &m {
            acked.extend(a.packets.iter().copied());
        }
        sent.push(m);
    }
    let handshakes = sent
        .iter()
        .filter(|m| m.name() == "RegionHandshake")
        .count();
    assert_eq!(handshakes, 1, "handled once");
    // Both copies are acknowledged (piggy-backed or in a PacketAck).
    assert_eq!(acked.iter().filter(|&&s| s == 2).count(), 2, "{acked:?}");
    // The wrong session's CompleteAgentMovement would have been ignored; a second agent with
    // a circuit code already in use is refused.
    let again = region.expect_circuit(
        now,
        ExpectedCircuit {
            circuit_code: 5,
            agent_id: Uuid([9; 16]),
            session_id: Uuid([9; 16]),
            secure_session_id: Uuid::NIL,
            first: "C".into(),
            last: "D".into(),
            start_position: Vec3::new(1.0, 1.0, 1.0),
            look_at: Vec3::new(1.0, 0.0, 0.0),
        },
    );
    assert_eq!(again, Err(crate::region::RegionError::CircuitCodeInUse(5)));
}

#[test]
fn an_agent_starting_in_the_air_enters_standing_on_the_ground() {
    // Found by the third-party client check (tests/third_party): in a 512 m region the default
    // start (128, 128, 26.03) is over water, and the avatar hung 27 m above it until it moved.
    let (now, mut region, from, ids, ucc) = expecting_one_agent(0, 9, (1, 2), 1);
    let ground = region.heightmap().height(128, 128).unwrap();
    assert!(30.0 - ground > 3.0, "the test starts the agent in the air");
    region.handle_datagram(now, from, &datagram(1, &ucc));
    let cam = CompleteAgentMovement {
        agent: ids,
        circuit_code: 9,
    };
    region.handle_datagram(now, from, &datagram(2, &cam));
    let sent = drain_names(&mut region);
    let amc = sent
        .iter()
        .find_map(|m| match m {
            Message::AgentMovementComplete(a) => Some(a.position),
            _ => None,
        })
        .unwrap();
    let avatar = sent
        .iter()
        .find_map(|m| match m {
            Message::ObjectUpdate(u) => u.objects.iter().find(|o| o.pcode == PCode::Avatar),
            _ => None,
        })
        .unwrap();
    let shown = avatar.motion().unwrap().motion().unwrap().position;
    for z in [amc.z, shown.z, region.agents()[0].position.z] {
        assert!((z - (ground + 0.95)).abs() < 1e-3, "z {z}, ground {ground}");
    }
}
