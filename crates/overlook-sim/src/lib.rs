//! The embedded, OpenSim-compatible region: a login service over HTTP and a UDP region, the
//! default target when no grid is given and the peer most tests run against (issue 4).
//!
//! Layers, mirroring the viewer side:
//! - `terrain` and `scene` build what the region serves (pure functions, no I/O), `textures` and
//!   `meshes` hold the assets it serves and references, `store` serves them by id (and those
//!   of a region archive);
//! - `region` is the UDP region as a sans-IO state machine (`handle_*` / `poll_*`, injected
//!   clock), one [`overlook_protocol::circuit::Reliability`] per connected agent;
//! - `login` is the HTTP login service (XML-RPC `login_to_simulator`, the seed capability,
//!   `get_grid_info`) on axum;
//! - `server` runs both on tokio and implements [`RegionGate`] for the login service.

// Unit tests may cast freely (clippy.toml lets tests unwrap, expect, panic and index).
#![cfg_attr(test, allow(clippy::as_conversions))]

pub mod login;
pub mod meshes;
mod mix;
pub mod oar;
pub mod region;
pub mod scene;
pub mod server;
pub mod store;
pub mod terrain;
pub mod textures;

use overlook_protocol::types::{Uuid, Vec3};

/// A user the region accepts. Its `Debug` leaves the password out, so no log line or panic
/// message of a type that holds accounts ([`server::SimConfig`], [`server::RunningSim`],
/// [`login::LoginConfig`]) shows it.
#[derive(Clone, PartialEq)]
pub struct Account {
    /// First name.
    pub first: String,
    /// Last name.
    pub last: String,
    /// The clear-text password (test accounts only).
    pub password: String,
    /// The agent id handed out at login.
    pub agent_id: Uuid,
}

impl core::fmt::Debug for Account {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("first", &self.first)
            .field("last", &self.last)
            .field("password", &"<redacted>")
            .field("agent_id", &self.agent_id)
            .finish()
    }
}

/// What the login service tells the region to expect, as OpenSim's `AgentCircuitData`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedCircuit {
    /// The circuit code in the login reply.
    pub circuit_code: u32,
    /// The agent.
    pub agent_id: Uuid,
    /// The session.
    pub session_id: Uuid,
    /// The secure session.
    pub secure_session_id: Uuid,
    /// First name (for the avatar's NameValue).
    pub first: String,
    /// Last name.
    pub last: String,
    /// Where the agent starts (region-local metres).
    pub start_position: Vec3,
    /// Which way it looks.
    pub look_at: Vec3,
}

/// How the login service talks to the region (implemented by `server`; tests use a mock).
pub trait RegionGate: Send + Sync {
    /// Asks the region to expect `circuit`; an error text becomes a `key` login refusal.
    ///
    /// # Errors
    /// The region's reason for refusing the agent.
    fn expect(&self, circuit: ExpectedCircuit) -> Result<(), String>;
    /// True while `agent` has a presence in the region (logged in, or expected and not yet
    /// connected).
    fn is_present(&self, agent: Uuid) -> bool;
    /// Closes `agent`'s presence (a second login of the same account kicks the first, as
    /// OpenSim does).
    fn kick(&self, agent: Uuid, reason: &str);
    /// The seed capability of `agent` was requested: objects may now be sent (PROTOCOL §1.5).
    fn seeds_granted(&self, agent: Uuid);
}

/// What the login service needs to know about the region it logs agents into.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionInfo {
    /// The region's name (`RegionHandshake.SimName`).
    pub name: String,
    /// The region's id.
    pub region_id: Uuid,
    /// Width in metres (256..=4096, a multiple of 256).
    pub size_x: u32,
    /// Depth in metres.
    pub size_y: u32,
    /// World position of the south-west corner in metres (`region_x` in the login reply).
    pub world_x: u32,
    /// World position of the south-west corner in metres (`region_y`).
    pub world_y: u32,
    /// The UDP address viewers connect to (`sim_ip`, `sim_port`).
    pub udp: core::net::SocketAddrV4,
    /// Water height in metres.
    pub water_height: f32,
    /// `RegionHandshake.TerrainDetail0..3`: the terrain textures, low ground to high.
    pub terrain_detail: [Uuid; 4],
}

impl RegionInfo {
    /// The region handle: `(world_x << 32) | world_y`.
    pub fn handle(&self) -> u64 {
        (u64::from(self.world_x) << 32) | u64::from(self.world_y)
    }
}

/// Greedy packing of message blocks into groups whose `header + Σ size` stays within `max` bytes
/// and 255 blocks (a Variable block's count is one byte); a block too big for `max` alone gets a
/// group of its own.
pub(crate) fn pack_blocks<T>(
    items: Vec<T>,
    size: impl Fn(&T) -> usize,
    header: usize,
    max: usize,
) -> Vec<Vec<T>> {
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut used = 0usize;
    for item in items {
        let n = size(&item);
        match groups.last_mut() {
            Some(group) if used.saturating_add(n) <= max && group.len() < 255 => {
                used += n;
                group.push(item);
            }
            _ => {
                used = header.saturating_add(n);
                groups.push(vec![item]);
            }
        }
    }
    groups
}
