//! The `RequestMultipleObjects` flood of issue 14: one logged-in client asks for 255 objects 100
//! times a second. Helpers for the budget tests, and a measurement (ignored; it prints figures):
//!
//! ```sh
//! cargo test -p overlook-sim --lib -- --ignored --nocapture measure_request_flood
//! ```

use std::time::Duration;

use super::harness::{Net, PERFECT, Traffic};
use super::settled;
use crate::region::{DemoScene, StaticScene};
use overlook_protocol::message::object::RequestMultipleObjects;
use overlook_protocol::message::{AgentIds, MessageRepr};
use overlook_protocol::types::Uuid;
use overlook_protocol::udp::{PacketRepr, flags};

/// A region of `n` boxes that stay put, one viewer logged in with its scene settled.
pub fn boxes_net(n: u32) -> (Net, usize) {
    let scene = StaticScene {
        objects: DemoScene::new(n).boxes,
    };
    let mut net = Net::new(256, 256, Box::new(scene), PERFECT, 5);
    let v = net.login(1, true);
    assert!(net.run_until(Duration::from_secs(30), |n| settled(n, v)));
    net.run_for(Duration::from_secs(1));
    (net, v)
}

/// A reliable `RequestMultipleObjects` for every box of viewer `n`, with sequence `seq` (far
/// above the viewer's own).
pub fn request_all(n: u8, boxes: u32, seq: u32) -> Vec<u8> {
    let ids = AgentIds {
        agent_id: Uuid([n; 16]),
        session_id: Uuid([n ^ 0xFF; 16]),
    };
    let local: Vec<u32> = (1..=boxes.min(255)).collect();
    let msg = RequestMultipleObjects::cache_misses(ids, &local);
    PacketRepr {
        flags: flags::RELIABLE,
        sequence: seq,
        message: RequestMultipleObjects::ID,
        body: msg.to_bytes().unwrap().into(),
        acks: vec![],
    }
    .to_vec()
}

/// Sequence numbers of the flood, far above the viewer's own.
static SEQUENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0x0010_0000);

/// Floods the region from viewer `v`'s address: `per_second` requests for every box, evenly
/// spaced, for `secs` seconds. Returns the traffic of that address during the flood.
pub fn flood(net: &mut Net, v: usize, boxes: u32, per_second: u32, secs: u32) -> Traffic {
    let addr = net.viewers[v].addr;
    let before = net.traffic.get(&addr).copied().unwrap_or_default();
    let step = Duration::from_secs(1) / per_second;
    for _ in 0..per_second * secs {
        // Fresh sequence numbers each time (a repeated one is a duplicate, not a request).
        let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        net.inject(addr, request_all(1, boxes, seq));
        net.run_for(step);
    }
    let after = net.traffic.get(&addr).copied().unwrap_or_default();
    Traffic {
        in_datagrams: after.in_datagrams - before.in_datagrams,
        in_bytes: after.in_bytes - before.in_bytes,
        out_datagrams: after.out_datagrams - before.out_datagrams,
        out_bytes: after.out_bytes - before.out_bytes,
        out_reliable_bytes: after.out_reliable_bytes - before.out_reliable_bytes,
        out_resent_bytes: after.out_resent_bytes - before.out_resent_bytes,
    }
}

fn report(label: &str, net: &Net, v: usize, t: &Traffic, secs: u32) {
    let addr = net.viewers[v].addr;
    let a = net.region.agents.get(&addr);
    let unacked = a.map_or(0, |a| a.rel.unacked_len());
    let out_queue = a.map_or(0, |a| a.out.len());
    let s = f64::from(secs);
    println!(
        "{label}: in {} B ({} datagrams, {:.0} B/s); out {} B ({} datagrams, {:.0} B/s), of which \
         {} B first sends of reliable packets and {} B resends; amplification {:.1}x \
         ({:.1}x without resends); after the flood: {unacked} unacked reliable packets, \
         {out_queue} datagrams in the agent's outbox",
        t.in_bytes,
        t.in_datagrams,
        t.in_bytes as f64 / s,
        t.out_bytes,
        t.out_datagrams,
        t.out_bytes as f64 / s,
        t.out_reliable_bytes,
        t.out_resent_bytes,
        t.out_bytes as f64 / t.in_bytes as f64,
        (t.out_bytes - t.out_resent_bytes) as f64 / t.in_bytes as f64,
    );
    // (Not on the code before the budget, which had no such view.)
    for load in net.region.agent_loads() {
        println!("  {load:?}");
    }
}

#[test]
#[ignore = "a measurement: prints figures"]
fn measure_request_flood() {
    const BOXES: u32 = 255;
    const SECS: u32 = 10;
    // A viewer that acks everything.
    let (mut net, v) = boxes_net(BOXES);
    let t = flood(&mut net, v, BOXES, 100, SECS);
    report("acking viewer", &net, v, &t, SECS);
    // A client that never acks (it receives nothing).
    let (mut net, v) = boxes_net(BOXES);
    net.deaf.insert(v);
    let t = flood(&mut net, v, BOXES, 100, SECS);
    report("client that never acks", &net, v, &t, SECS);
}
