//! Streaming one agent's terrain the way OpenSim 0.9.2.2 does (PROTOCOL §8): in rounds every
//! ~0.36 s, each round taking every not-yet-sent patch within the agent's draw distance (`Far`)
//! and at most 128 beyond it, nearest first; the round's patches are packed several to a
//! `LayerData` (up to ~1000 bytes of bitstream) and released through the agent's land bucket
//! (see `throttle`), filled at its land throttle.
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
            withheld: Vec::new(),
        }
    }
}

/// Where the agent stands and how far it sees.
#[derive(Debug, Clone, Copy)]
pub(super) struct Viewpoint {
    pub at: Vec3,
    pub far: f32,
}

/// One agent's terrain transfer.
#[derive(Debug)]
pub(super) struct TerrainStream {
    patches_x: u32,
    patches_y: u32,
    /// Per patch (row-major, south row first): already packed into a packet.
    taken: Vec<bool>,
    remaining: usize,
    /// `LayerData` bodies waiting for the land bucket.
    queue: VecDeque<LayerData>,
    next_round: Instant,
    /// Patches and packets released so far.
    pub(super) patches_sent: usize,
    pub(super) packets_sent: usize,
}

/// The cost of one packet in bucket bytes: its bitstream plus the headers around it (the
/// datagram's 10 bytes and the block's 3).
pub(super) fn cost(layer: &LayerData) -> f64 {
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

    /// Runs a round if one is due: its patches are packed and queued for the land bucket.
    pub(super) fn round_if_due(
        &mut self,
        now: Instant,
        map: &Heightmap,
        view: Viewpoint,
        pacing: &TerrainPacing,
    ) {
        if self.remaining > 0 && now >= self.next_round {
            self.round(map, view.at, view.far, pacing);
            self.next_round = now + pacing.round_interval;
        }
    }

    /// The cost of the next packet waiting for the land bucket.
    pub(super) fn front_cost(&self) -> Option<f64> {
        self.queue.front().map(cost)
    }

    /// Takes the next packet (the land bucket let it pass).
    pub(super) fn pop_front(&mut self) -> Option<LayerData> {
        let layer = self.queue.pop_front()?;
        self.packets_sent += 1;
        Some(layer)
    }

    /// Packets packed and waiting, and their bytes.
    pub(super) fn queued(&self) -> (usize, usize) {
        let bytes = self.queue.iter().map(|l| l.data.len() + 13).sum();
        (self.queue.len(), bytes)
    }

    /// When the next round is due, while patches remain.
    pub(super) fn next_round(&self) -> Option<Instant> {
        (self.remaining > 0).then_some(self.next_round)
    }

    /// Runs a round if one is due, then releases what `bucket` allows (the agent does the same
    /// with its land bucket and its other limits).
    #[cfg(test)]
    pub(super) fn poll(
        &mut self,
        now: Instant,
        map: &Heightmap,
        view: Viewpoint,
        pacing: &TerrainPacing,
        bucket: &mut super::throttle::TokenBucket,
        out: &mut Vec<LayerData>,
    ) {
        self.round_if_due(now, map, view, pacing);
        while let Some(c) = self.front_cost() {
            if !bucket.try_take(now, c) {
                break;
            }
            out.extend(self.pop_front());
        }
    }

    /// When [`Self::poll`] next has something to do with `bucket`.
    #[cfg(test)]
    pub(super) fn next_deadline(&self, bucket: &super::throttle::TokenBucket) -> Option<Instant> {
        let release = self.front_cost().map(|c| bucket.ready_at(c));
        match (release, self.next_round()) {
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

/// The land rate in bytes/s for an `AgentThrottle`'s rates (bits/s), as OpenSim applies them
/// (see [`super::throttle::client_rates`]).
#[cfg(test)]
pub(super) fn land_rate(throttles: &overlook_protocol::message::Throttles) -> Option<f64> {
    super::throttle::client_rates(throttles).and_then(|r| r.get(1).copied())
}
