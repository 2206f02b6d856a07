//! The outbound budget and the bounded reliability state (issue 14, items 1 and 2): a request
//! flood stays within the client's throttle, a client that never acks meets the caps and is
//! dropped after 30 s, garbage keeps nobody alive, repeated requests are coalesced.

use std::net::SocketAddr;
use std::time::Duration;

use super::harness::{Net, PERFECT};
use super::measure::{boxes_net, flood};
use super::more::{datagram, drain_names, expecting_one_agent};
use super::settled;
use crate::region::{LeaveReason, OutboundBudget, Region, RegionEvent};
use overlook_protocol::message::object::RequestMultipleObjects;
use overlook_protocol::message::{AgentIds, CompleteAgentMovement, StartPingCheck};
use overlook_protocol::types::Uuid;
use overlook_protocol::udp::{PacketRepr, flags};
use web_time::Instant;

/// OVERLOOK's task rate (the harness viewer's `AgentThrottle`), bytes/s.
const TASK: f64 = 62_500.0;
/// OVERLOOK's resend rate, bytes/s.
const RESEND: f64 = 18_750.0;

#[test]
fn a_request_flood_stays_within_the_budget() {
    // 255 boxes, 255 ids a request, 100 requests a second for 10 s, from a viewer that acks.
    let (mut net, v) = boxes_net(255);
    let load = net.region.agent_loads()[0];
    assert_eq!(
        load.total_rate, 625_000.0,
        "OVERLOOK's rates, under the cap"
    );
    let t = flood(&mut net, v, 255, 100, 10);
    assert!(t.in_datagrams >= 1000, "{t:?}");
    // The client's total budget over 10 s plus one full total bucket (1 s of it).
    assert!(
        t.out_bytes as f64 <= load.total_rate * 10.0 + load.total_burst,
        "{t:?}"
    );
    // Tighter: the replies are task traffic, so 10 s of the task rate plus its 1 s burst, plus
    // 2 kB/s for what is not task traffic (acks of 100 requests/s, SimStats, pings, coarse
    // locations: about 700 B/s measured).
    let ceiling = TASK * 10.0 + TASK + 2000.0 * 10.0;
    assert!(
        (t.out_bytes as f64) <= ceiling,
        "{} > {ceiling}",
        t.out_bytes
    );
    // And the budget is used: the requests are answered at the task rate.
    assert!((t.out_bytes as f64) >= TASK * 10.0 * 0.9, "{t:?}");
    assert!(t.out_bytes < t.in_bytes, "amplification {t:?}");
    assert_eq!(t.out_resent_bytes, 0);
    let load = net.region.agent_loads()[0];
    assert!(load.queued_objects <= 255, "{load:?}");
    assert!(load.unacked_packets < 50, "{load:?}");
}

#[test]
fn the_caps_hold_under_a_client_that_never_acks() {
    let (mut net, v) = boxes_net(255);
    net.deaf.insert(v);
    let t = flood(&mut net, v, 255, 100, 10);
    let load = net.region.agent_loads()[0];
    let caps = OutboundBudget::default();
    // Reliable sends stopped at the packet cap (the boxes' updates are small), and wait.
    assert_eq!(load.unacked_packets, caps.max_unacked_packets, "{load:?}");
    assert!(load.unacked_bytes <= caps.max_unacked_bytes, "{load:?}");
    assert!(load.queued_packets <= caps.max_queued_packets, "{load:?}");
    // One entry per distinct object, however many requests: the rest were coalesced. Only
    // while the cap was not yet met (the first ~3 s at the task rate) did requests add the
    // objects sent meanwhile again: at most 2 % of the 255,000 ids asked for.
    assert!(load.queued_objects <= 255, "{load:?}");
    assert!(load.coalesced_requests >= 249_900, "{load:?}");
    assert_eq!(load.dropped_requests, 0);
    // Resends go through the resend bucket: 10 s of its rate and one full bucket (1 s).
    assert!(t.out_resent_bytes > 0);
    assert!(t.out_resent_bytes as f64 <= RESEND * 10.0 + RESEND, "{t:?}");
    // All in all, no more than the total budget.
    assert!(t.out_bytes as f64 <= load.total_rate * 10.0 + load.total_burst);
}

#[test]
fn a_client_that_stops_acking_is_dropped_and_one_that_acks_is_kept() {
    // The demo scene kills and re-creates a box every 2 s: reliable data keeps coming.
    let mut net = Net::demo(PERFECT, 21);
    let a = net.login(1, true);
    let b = net.login(2, true);
    assert!(net.run_until(Duration::from_secs(10), |n| settled(n, a) && settled(n, b)));
    net.run_for(Duration::from_secs(1));
    while net.region.poll_event().is_some() {}
    // `a` still sends (its agent updates keep its circuit alive) but receives nothing, so it
    // acks nothing.
    net.deaf.insert(a);
    net.run_for(Duration::from_secs(29));
    assert!(net.region.is_present(net.viewers[a].agent));
    let la = net.region.agent_loads()[0];
    assert!(la.unacked_packets > 0, "{la:?}");
    net.run_for(Duration::from_secs(4));
    assert!(!net.region.is_present(net.viewers[a].agent));
    assert!(net.region.is_present(net.viewers[b].agent));
    let left: Vec<_> = std::iter::from_fn(|| net.region.poll_event()).collect();
    assert_eq!(
        left,
        [RegionEvent::Left {
            agent: net.viewers[a].agent,
            reason: LeaveReason::Unresponsive
        }]
    );
    // The one that acks stays, with nothing piling up.
    net.run_for(Duration::from_secs(60));
    assert!(net.region.is_present(net.viewers[b].agent));
    let lb = net
        .region
        .agent_loads()
        .into_iter()
        .find(|l| l.addr == net.viewers[b].addr)
        .unwrap();
    assert!(lb.unacked_packets < 10 && lb.queued_packets == 0, "{lb:?}");
}

/// Garbage from `from` at `t`: bytes that do not decode, packets for another agent or circuit
/// (carrying acks of every sequence the region used), and a message number nobody knows.
fn garbage(region: &mut Region, t: Instant, from: SocketAddr, seq: &mut u32) {
    let stranger = AgentIds {
        agent_id: Uuid([0x77; 16]),
        session_id: Uuid([0x78; 16]),
    };
    region.handle_datagram(t, from, &[0xFF; 3]);
    region.handle_datagram(t, from, &[0x40, 0, 0, 0, 9, 0, 0xFF, 0xFF, 0xFF, 0xFA, 1]);
    let mut forged = |body: Vec<u8>, id| {
        *seq += 1;
        PacketRepr {
            flags: flags::RELIABLE | flags::ACK,
            sequence: *seq,
            message: id,
            body: body.into(),
            acks: (1..200).collect(),
        }
        .to_vec()
    };
    use overlook_protocol::message::MessageRepr;
    let rmo = RequestMultipleObjects::cache_misses(stranger, &[1]);
    let d = forged(rmo.to_bytes().unwrap(), RequestMultipleObjects::ID);
    region.handle_datagram(t, from, &d);
    let cam = CompleteAgentMovement {
        agent: stranger,
        circuit_code: 1234,
    };
    let d = forged(cam.to_bytes().unwrap(), CompleteAgentMovement::ID);
    region.handle_datagram(t, from, &d);
    let d = forged(
        vec![1, 2, 3],
        overlook_protocol::udp::MessageId::Low(0xFEFE),
    );
    region.handle_datagram(t, from, &d);
}

#[test]
fn garbage_from_its_address_keeps_no_circuit_alive() {
    // A child circuit (nothing reliable pending): garbage every 500 ms does not stop the 60 s
    // inactivity timeout; a ping every 10 s does.
    for keep_alive in [false, true] {
        let (now, mut region, from, _, ucc) = expecting_one_agent(1, 31, (1, 2), 1);
        region.handle_datagram(now, from, &datagram(1, &ucc));
        let mut seq = 100;
        let mut t = now;
        while t < now + Duration::from_secs(70) {
            t += Duration::from_millis(500);
            garbage(&mut region, t, from, &mut seq);
            if keep_alive && (t - now).as_millis() % 10_000 == 0 {
                seq += 1;
                let ping = StartPingCheck {
                    ping_id: 1,
                    oldest_unacked: 0,
                };
                region.handle_datagram(t, from, &datagram(seq, &ping));
            }
            region.handle_timeout(t);
            drain_names(&mut region);
            if t == now + Duration::from_millis(59_500) {
                assert_eq!(region.agents().len(), 1, "keep_alive {keep_alive}");
            }
        }
        assert_eq!(region.agents().len(), usize::from(keep_alive));
        let events: Vec<_> = std::iter::from_fn(|| region.poll_event()).collect();
        if !keep_alive {
            assert!(matches!(
                events.last(),
                Some(RegionEvent::Left {
                    reason: LeaveReason::TimedOut(d),
                    ..
                }) if *d >= Duration::from_secs(60) && *d < Duration::from_millis(60_500)
            ));
        }
    }
}

#[test]
fn forged_acks_do_not_reset_the_ack_timer() {
    // In the region, with reliable packets pending (the handshake, the scene...): forged
    // packets carrying acks for all of them ack nothing, and the client goes after 30 s.
    let (now, mut region, from, ids, ucc) = expecting_one_agent(3, 32, (1, 2), 1);
    region.handle_datagram(now, from, &datagram(1, &ucc));
    let cam = CompleteAgentMovement {
        agent: ids,
        circuit_code: 32,
    };
    region.handle_datagram(now, from, &datagram(2, &cam));
    let pending = region.agent_loads()[0].unacked_packets;
    assert!(pending >= 4, "{pending}");
    let mut seq = 100;
    let mut t = now;
    let mut sent = Vec::new();
    while t < now + Duration::from_secs(29) {
        t += Duration::from_millis(500);
        garbage(&mut region, t, from, &mut seq);
        region.handle_timeout(t);
        sent.extend(drain_names(&mut region));
    }
    assert_eq!(region.agents().len(), 1);
    assert!(region.agent_loads()[0].unacked_packets >= pending);
    while t < now + Duration::from_secs(31) {
        t += Duration::from_millis(500);
        garbage(&mut region, t, from, &mut seq);
        region.handle_timeout(t);
        sent.extend(drain_names(&mut region));
    }
    assert!(region.agents().is_empty());
    assert!(sent.iter().any(|m| m.name() == "KickUser"));
    let events: Vec<_> = std::iter::from_fn(|| region.poll_event()).collect();
    assert!(matches!(
        events.last(),
        Some(RegionEvent::Left {
            reason: LeaveReason::Unresponsive,
            ..
        })
    ));
    // Nothing it said was handled: garbage counted, not acked.
    assert!(!sent.iter().any(|m| matches!(m, overlook_protocol::message::Message::PacketAck(a) if a.packets.iter().any(|&s| s > 100))));
    assert!(region.stats().ignored + region.stats().malformed >= 58 * 4);
}

#[test]
fn repeated_requests_are_coalesced() {
    // A client that never acks: nothing reliable leaves once the unacked cap is met, so what it
    // requests stays owed. 255 distinct objects requested 200 times are owed once each.
    let (mut net, v) = boxes_net(255);
    net.deaf.insert(v);
    flood(&mut net, v, 255, 100, 5);
    let load = net.region.agent_loads()[0];
    assert_eq!(load.unacked_packets, 1024, "{load:?}");
    let before = load.coalesced_requests;
    flood(&mut net, v, 255, 100, 1);
    let load = net.region.agent_loads()[0];
    assert_eq!(load.coalesced_requests - before, 100 * 255, "{load:?}");
    assert!(load.queued_objects <= 255);
    assert_eq!(load.dropped_requests, 0);
}

#[test]
fn a_full_object_queue_drops_and_counts_requests() {
    let mut cfg = crate::region::RegionConfig::default();
    cfg.budget.max_object_requests = 100;
    let scene = crate::region::StaticScene {
        objects: crate::region::DemoScene::new(255).boxes,
    };
    let mut net = Net::with_config(256, 256, Box::new(scene), cfg, PERFECT, 5);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(30), |n| settled(n, v)));
    net.deaf.insert(v);
    flood(&mut net, v, 255, 100, 5);
    let load = net.region.agent_loads()[0];
    assert_eq!(load.unacked_packets, 1024, "{load:?}");
    assert_eq!(load.queued_objects, 100, "{load:?}");
    assert!(load.dropped_requests > 0);
    // Full and blocked: each id of each request is either already owed or dropped.
    flood(&mut net, v, 255, 100, 1);
    let after = net.region.agent_loads()[0];
    assert_eq!(
        (after.dropped_requests - load.dropped_requests)
            + (after.coalesced_requests - load.coalesced_requests),
        100 * 255
    );
    assert_eq!(after.queued_objects, 100);
}
