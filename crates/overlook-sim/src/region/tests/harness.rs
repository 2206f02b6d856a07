//! Viewers (the protocol's [`Circuit`]) and a [`Region`] over an in-memory link with a fake
//! clock that can drop, duplicate and reorder datagrams.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use web_time::Instant;

use super::super::{DemoScene, Region, RegionConfig, SceneSource, StaticScene};
use crate::{ExpectedCircuit, RegionInfo};
use overlook_protocol::circuit::{Circuit, CircuitConfig, Event, Phase};
use overlook_protocol::message::Message;
use overlook_protocol::message::object::ObjectData;
use overlook_protocol::terrain::{Heightmap, decode_layer};
use overlook_protocol::types::{Uuid, Vec3};

/// A smooth synthetic island: ~25 m in the middle, falling towards the edges, with ripples.
/// The wall clock when a test region starts: 2026-11-24 12:00:00 UTC.
pub const UNIX_START: Duration = Duration::from_secs(1_795_521_600);

pub fn smooth_map(sx: u32, sy: u32) -> Heightmap {
    let mut bytes = Vec::with_capacity((sx * sy * 4) as usize);
    for y in 0..sy {
        for x in 0..sx {
            let (fx, fy) = (x as f32, y as f32);
            let h =
                18.0 + 7.0 * (fx / 61.0).sin() * (fy / 47.0).cos() + 3.0 * ((fx + fy) / 33.0).sin();
            bytes.extend_from_slice(&h.to_le_bytes());
        }
    }
    Heightmap::from_r32(&bytes, sx, sy).unwrap()
}

pub fn info(sx: u32, sy: u32) -> RegionInfo {
    RegionInfo {
        name: "Test Region".to_owned(),
        region_id: Uuid([0x11; 16]),
        size_x: sx,
        size_y: sy,
        world_x: 256_000,
        world_y: 256_000,
        udp: "127.0.0.1:9001".parse().unwrap(),
        water_height: 20.0,
        terrain_detail: crate::textures::TERRAIN_DETAIL,
    }
}

pub use overlook_protocol::testkit::{LOSSY, Link, PERFECT};
use overlook_protocol::testkit::{Wire, earliest};

/// One viewer and what it saw.
pub struct Viewer {
    pub addr: SocketAddr,
    pub agent: Uuid,
    pub circuit: Circuit,
    pub events: Vec<Event>,
    pub terrain: Heightmap,
}

impl Viewer {
    pub fn phase(&self, p: Phase) -> Option<u64> {
        self.circuit.phases().get(p)
    }

    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.events.iter().filter_map(|e| match e {
            Event::Message(m) => Some(&**m),
            _ => None,
        })
    }

    pub fn count(&self, name: &str) -> usize {
        self.messages().filter(|m| m.name() == name).count()
    }

    /// Every full update block received, in order.
    pub fn object_blocks(&self) -> Vec<&ObjectData> {
        self.messages()
            .filter_map(|m| match m {
                Message::ObjectUpdate(u) => Some(u.objects.iter()),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

/// Bytes between the region and one address, as the wire carried them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Traffic {
    /// Datagrams and bytes delivered to the region from the address.
    pub in_datagrams: u64,
    pub in_bytes: u64,
    /// Datagrams and bytes the region sent to the address.
    pub out_datagrams: u64,
    pub out_bytes: u64,
    /// Of those, first sends of reliable packets, and resends.
    pub out_reliable_bytes: u64,
    pub out_resent_bytes: u64,
}

/// Where a datagram in flight goes.
#[derive(Clone, Copy)]
pub enum To {
    Region(SocketAddr),
    Viewer(usize),
}

/// The region, its viewers, the link and the clock.
pub struct Net {
    pub now: Instant,
    pub region: Region,
    pub viewers: Vec<Viewer>,
    pub wire: Wire<To>,
    /// Traffic per viewer address (injected datagrams included).
    pub traffic: HashMap<SocketAddr, Traffic>,
    /// Viewers that receive nothing (a client that never acks): the region's datagrams to them
    /// are counted and dropped.
    pub deaf: HashSet<usize>,
    stuck: u64,
}

impl Net {
    pub fn new(sx: u32, sy: u32, scene: Box<dyn SceneSource>, link: Link, seed: u64) -> Self {
        Self::with_config(sx, sy, scene, RegionConfig::default(), link, seed)
    }

    pub fn with_config(
        sx: u32,
        sy: u32,
        scene: Box<dyn SceneSource>,
        cfg: RegionConfig,
        link: Link,
        seed: u64,
    ) -> Self {
        let now = Instant::now();
        let region = Region::with_config(
            info(sx, sy),
            smooth_map(sx, sy),
            scene,
            cfg,
            now,
            UNIX_START,
        )
        .unwrap();
        Net {
            now,
            region,
            viewers: Vec::new(),
            wire: Wire::new(link, seed.max(1)),
            traffic: HashMap::new(),
            deaf: HashSet::new(),
            stuck: 0,
        }
    }

    pub fn demo(link: Link, seed: u64) -> Self {
        Self::new(256, 256, Box::new(DemoScene::new(5)), link, seed)
    }

    pub fn empty(sx: u32, sy: u32, link: Link, seed: u64) -> Self {
        Self::new(sx, sy, Box::new(StaticScene::default()), link, seed)
    }

    /// Announces an agent to the region (as the login service would) and starts its viewer.
    /// `code` is what the viewer uses; the region expects `code` unless `expected` says otherwise.
    pub fn login_with(&mut self, n: u8, code: u32, expected_code: u32, seeds: bool) -> usize {
        let agent = Uuid([n; 16]);
        let session = Uuid([n ^ 0xFF; 16]);
        let ground = self.region.heightmap().height(128, 128).unwrap();
        self.region
            .expect_circuit(
                self.now,
                ExpectedCircuit {
                    circuit_code: expected_code,
                    agent_id: agent,
                    session_id: session,
                    secure_session_id: Uuid([n ^ 0x55; 16]),
                    first: format!("Test{n}"),
                    last: "User".to_owned(),
                    start_position: Vec3::new(128.0, 128.0, ground + 0.95),
                    look_at: Vec3::new(0.99, 0.042, 0.0),
                },
            )
            .unwrap();
        if seeds {
            assert!(self.region.grant_seeds(self.now, agent));
        }
        let mut cfg = CircuitConfig::new(agent, session, code);
        cfg.region_size_x = self.region.info().size_x;
        cfg.region_size_y = self.region.info().size_y;
        let terrain = Heightmap::new(cfg.region_size_x, cfg.region_size_y).unwrap();
        let addr: SocketAddr = format!("10.0.0.{n}:{}", 40000 + u16::from(n))
            .parse()
            .unwrap();
        self.viewers.push(Viewer {
            addr,
            agent,
            circuit: Circuit::new(cfg, self.now, self.now),
            events: Vec::new(),
            terrain,
        });
        self.viewers.len() - 1
    }

    pub fn login(&mut self, n: u8, seeds: bool) -> usize {
        let code = 0x1000 + u32::from(n);
        self.login_with(n, code, code, seeds)
    }

    fn put_on_wire(&mut self, to: To, d: Vec<u8>) {
        self.wire.send(self.now, to, d);
    }

    /// Sends raw bytes to the region from `from` (garbage, forged packets).
    pub fn inject(&mut self, from: SocketAddr, d: Vec<u8>) {
        self.put_on_wire(To::Region(from), d);
    }

    fn flush(&mut self) {
        for i in 0..self.viewers.len() {
            while let Some(d) = self.viewers[i].circuit.poll_transmit() {
                let from = self.viewers[i].addr;
                self.put_on_wire(To::Region(from), d);
            }
            while let Some(e) = self.viewers[i].circuit.poll_event() {
                let v = &mut self.viewers[i];
                if let Event::Message(m) = &e
                    && let Message::LayerData(l) = &**m
                    && l.is_land()
                {
                    let layer = decode_layer(&l.data, v.terrain.size_x(), v.terrain.size_y())
                        .expect("the region's terrain decodes");
                    for p in &layer.patches {
                        v.terrain.apply(p).unwrap();
                    }
                }
                v.events.push(e);
            }
        }
        while let Some((addr, d)) = self.region.poll_transmit() {
            let t = self.traffic.entry(addr).or_default();
            t.out_datagrams += 1;
            t.out_bytes += d.len() as u64;
            if let Ok(p) = overlook_protocol::udp::decode(&d) {
                if p.is_resent() {
                    t.out_resent_bytes += d.len() as u64;
                } else if p.is_reliable() {
                    t.out_reliable_bytes += d.len() as u64;
                }
            }
            if let Some(i) = self.viewers.iter().position(|v| v.addr == addr)
                && self.deaf.contains(&i)
            {
                continue;
            }
            if let Some(i) = self.viewers.iter().position(|v| v.addr == addr) {
                self.put_on_wire(To::Viewer(i), d);
            }
        }
    }

    fn step(&mut self, until: Instant) -> bool {
        self.flush();
        let deadlines = self.viewers.iter().map(|v| v.circuit.poll_timeout());
        let next =
            earliest(deadlines.chain([self.wire.next_arrival(), self.region.poll_timeout()]));
        let Some(next) = next else {
            return false;
        };
        if next > until {
            return false;
        }
        if next <= self.now {
            self.stuck += 1;
            if self.stuck > 10000 {
                panic!(
                    "stuck: wire {:?} viewers {:?} region {:?} now {:?}",
                    self.wire.next_arrival(),
                    self.viewers
                        .iter()
                        .map(|v| v.circuit.poll_timeout())
                        .collect::<Vec<_>>(),
                    self.region.poll_timeout(),
                    self.now
                );
            }
        } else {
            self.stuck = 0;
        }
        self.now = self.now.max(next);
        while let Some((to, d)) = self.wire.receive(self.now) {
            match to {
                To::Viewer(i) => self.viewers[i].circuit.handle_datagram(self.now, &d),
                To::Region(from) => {
                    let t = self.traffic.entry(from).or_default();
                    t.in_datagrams += 1;
                    t.in_bytes += d.len() as u64;
                    self.region.handle_datagram(self.now, from, &d)
                }
            }
        }
        for v in &mut self.viewers {
            v.circuit.handle_timeout(self.now);
        }
        self.region.handle_timeout(self.now);
        self.flush();
        true
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
        self.now = self.now.max(until);
    }

    /// Runs until `f` holds or `limit` passes; true when it held.
    pub fn run_until(&mut self, limit: Duration, mut f: impl FnMut(&Net) -> bool) -> bool {
        let until = self.now + limit;
        loop {
            if f(self) {
                return true;
            }
            if !self.step(until) {
                return f(self);
            }
        }
    }

    /// Largest |viewer height − region height| over the whole map.
    pub fn terrain_error(&self, i: usize) -> f32 {
        let region = self.region.heightmap().heights();
        let viewer = self.viewers[i].terrain.heights();
        region
            .iter()
            .zip(viewer)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }
}
