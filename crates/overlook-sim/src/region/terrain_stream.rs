//! Streaming one agent's terrain the way OpenSim 0.9.2.2 does (PROTOCOL §8): in rounds every
//! ~0.36 s, each round taking every not-yet-sent patch within the agent's draw distance (`Far`)
//! and at most 128 beyond it, nearest first; the round's patches are packed several to a
//! `LayerData` (up to ~1000 bytes of bitstream) and released through a token bucket filled at the
//! agent's land throttle.
//!
//! Patches are packed by [`layer_data_packets`] (legacy `L` for 256 m regions, extended `M` when
//! a side is larger). The stream only produces `LayerData` bodies; the agent's circuit sends them.

use std::collections::VecDeque;
use std::time::Duration;

use web_time::Instant;

use overlook_protocol::message::LayerData;
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::Vec3;

use crate::terrain::layer_data_packets;
use crate::terrain::shape::f32_of;

/// How terrain is paced.
#[derive(Debug, Clone)]
pub struct TerrainPacing {
    /// Time between rounds (OpenSim: about 4 scene frames, 0.36 s).
    pub round_interval: Duration,
    /// Patches beyond `Far` taken per round (OpenSim: 128).
    pub beyond_far_per_round: usize,
    /// Most bytes of bitstream in one `LayerData`.
    pub max_layer_bytes: usize,
    /// Seconds of land throttle the bucket may save up (at least one packet's worth).
    pub burst: Duration,
    /// Patches `(x, y)` never sent: a region with holes in its terrain, for testing viewers
    /// (`overlook check` must name them). Empty in OpenSim.
    pub withheld: Vec<(u32, u32)>,
}

impl Default for TerrainPacing {
    fn default() -> Self {
        TerrainPacing {
            round_interval: Duration::from_millis(360),
            beyond_far_per_round: 128,
            max_layer_bytes: 1000,
            burst: Duration::from_millis(250),
            withheld: Vec::new(),
        }
    }
}

/// Where the agent stands, how far it sees and its land throttle (bytes/s).
#[derive(Debug, Clone, Copy)]
pub(super) struct Viewpoint {
    pub at: Vec3,
    pub far: f32,
    pub rate: f64,
}

/// One agent's terrain transfer.
#[derive(Debug)]
pub(super) struct TerrainStream {
    patches_x: u32,
    patches_y: u32,
    /// Per patch (row-major, south row first): already packed into a packet.
    taken: Vec<bool>,
    remaining: usize,
    /// `LayerData` bodies waiting for the bucket.
    queue: VecDeque<LayerData>,
    tokens: f64,
    refilled: Instant,
    next_round: Instant,
    /// Patches and packets released so far.
    pub(super) patches_sent: usize,
    pub(super) packets_sent: usize,
}

/// The cost of one packet in bucket bytes: its bitstream plus the headers around it.
fn cost(layer: &LayerData) -> f64 {
    f64::from(u32::try_from(layer.data.len() + 13).unwrap_or(u32::MAX))
}

impl TerrainStream {
    /// A stream for `map`, its first round due at `now`; the `withheld` patches are never sent.
    pub(super) fn new(map: &Heightmap, now: Instant, withheld: &[(u32, u32)]) -> Self {
        let (px, py) = (map.patches_x(), map.patches_y());
        let total = usize::try_from(px.saturating_mul(py)).unwrap_or(0);
        let mut stream = TerrainStream {
            patches_x: px,
            patches_y: py,
            taken: vec![false; total],
            remaining: total,
            queue: VecDeque::new(),
            tokens: f64::MAX,
            refilled: now,
            next_round: now,
            patches_sent: 0,
            packets_sent: 0,
        };
        for &(x, y) in withheld.iter().filter(|&&(x, y)| x < px && y < py) {
            if let Some(i) = stream.index(x, y)
                && let Some(taken) = stream.taken.get_mut(i)
                && !*taken
            {
                *taken = true;
                stream.remaining -= 1;
            }
        }
        stream
    }

    /// True once every patch has been released.
    pub(super) fn is_done(&self) -> bool {
        self.remaining == 0 && self.queue.is_empty()
    }

    /// Runs a round if one is due, then releases what the bucket allows at the view's rate.
    pub(super) fn poll(
        &mut self,
        now: Instant,
        map: &Heightmap,
        view: Viewpoint,
        pacing: &TerrainPacing,
        out: &mut Vec<LayerData>,
    ) {
        let Viewpoint { at, far, rate } = view;
        if self.remaining > 0 && now >= self.next_round {
            self.round(map, at, far, pacing);
            self.next_round = now + pacing.round_interval;
        }
        let max_packet = f64::from(u32::try_from(pacing.max_layer_bytes + 13).unwrap_or(0));
        let cap = (rate * pacing.burst.as_secs_f64()).max(max_packet);
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens.min(cap) + dt * rate).min(cap);
        self.refilled = now;
        while let Some(front) = self.queue.front() {
            let c = cost(front);
            // A hair short counts as enough: float dust must not stall the stream.
            if self.tokens + 1e-6 < c {
                break;
            }
            self.tokens -= c;
            if let Some(layer) = self.queue.pop_front() {
                self.packets_sent += 1;
                out.push(layer);
            }
        }
    }

    /// When [`Self::poll`] next has something to do at `rate` bytes/s.
    pub(super) fn next_deadline(&self, rate: f64) -> Option<Instant> {
        let release = self.queue.front().map(|front| {
            let missing = (cost(front) - self.tokens).max(0.0);
            let wait = if rate > 0.0 { missing / rate } else { 1.0 };
            // At least a millisecond, so a deadline is never the instant just polled.
            self.refilled + Duration::from_secs_f64(wait.clamp(0.001, 1.0))
        });
        let round = (self.remaining > 0).then_some(self.next_round);
        match (release, round) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Picks this round's patches and packs them.
    fn round(&mut self, map: &Heightmap, at: Vec3, far: f32, pacing: &TerrainPacing) {
        let mut candidates: Vec<(f32, u32, u32)> = Vec::new();
        for py in 0..self.patches_y {
            for px in 0..self.patches_x {
                if self.is_taken(px, py) {
                    continue;
                }
                let cx = f32_of(px * 16 + 8);
                let cy = f32_of(py * 16 + 8);
                let d = (cx - at.x).hypot(cy - at.y);
                candidates.push((if d.is_finite() { d } else { f32::MAX }, px, py));
            }
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        let within = candidates.iter().take_while(|c| c.0 <= far).count();
        let take = within.saturating_add(pacing.beyond_far_per_round);
        let chosen: Vec<(u32, u32)> = candidates
            .into_iter()
            .take(take)
            .map(|(_, x, y)| (x, y))
            .collect();
        self.pack(map, &chosen, pacing.max_layer_bytes);
    }

    fn index(&self, px: u32, py: u32) -> Option<usize> {
        usize::try_from(py * self.patches_x + px).ok()
    }

    fn is_taken(&self, px: u32, py: u32) -> bool {
        self.index(px, py)
            .and_then(|i| self.taken.get(i).copied())
            .unwrap_or(true)
    }

    /// Packs patches in order, several per packet, each packet's bitstream under `max_bytes`,
    /// marks them taken and queues the packets.
    fn pack(&mut self, map: &Heightmap, chosen: &[(u32, u32)], max_bytes: usize) {
        for packed in layer_data_packets(map, chosen, max_bytes) {
            for &(px, py) in &packed.patches {
                if let Some(slot) = self.index(px, py).and_then(|i| self.taken.get_mut(i)) {
                    *slot = true;
                }
                self.remaining = self.remaining.saturating_sub(1);
            }
            self.patches_sent += packed.patches.len();
            self.queue.push_back(LayerData {
                layer_type: packed.layer.code(),
                data: packed.data,
            });
        }
    }
}

/// The land rate in bytes/s for an `AgentThrottle`'s rates (bits/s), as OpenSim applies them:
/// each category at least 1000 B/s, everything scaled down when the total exceeds the
/// per-client cap of 640,000 B/s.
pub(super) fn land_rate(throttles: &overlook_protocol::message::Throttles) -> Option<f64> {
    let rates = throttles.to_array().map(|r| f64::from(r) / 8.0);
    if rates.iter().any(|r| !r.is_finite()) {
        return None;
    }
    let floors = [1000.0, 1000.0, 50.0, 50.0, 1000.0, 1000.0, 1000.0];
    let clamped: Vec<f64> = rates.iter().zip(floors).map(|(r, f)| r.max(f)).collect();
    let total: f64 = clamped.iter().sum();
    let land = clamped.get(1).copied()?;
    const CAP: f64 = 640_000.0;
    Some(if total > CAP {
        land * CAP / total
    } else {
        land
    })
}
