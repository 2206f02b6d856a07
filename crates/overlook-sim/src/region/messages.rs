//! The messages the region composes, with the values a standalone OpenSim 0.9.2.2 sends
//! (taken from the `test-region` capture where the protocol leaves them open).

use crate::RegionInfo;
use overlook_protocol::message::region::{RegionInfo4, sim_access, stat_id};
use overlook_protocol::message::{
    AgentIds, AgentMovementComplete, CoarseLocation, CoarseLocationUpdate, KickUser, LogoutReply,
    RegionHandshake, SimStats, Stat,
};
use overlook_protocol::types::{Uuid, Vec3};

/// `RegionFlags` of the captured standalone region (allow landmark, set home, direct teleport,
/// public, …); also sent as `RegionFlagsExtended`.
pub const REGION_FLAGS: u32 = 0x1410_8026;

/// `RegionProtocols`: more than six baked textures (bit 63), as OpenSim 0.9.2.2.
const REGION_PROTOCOLS: u64 = 1 << 63;

/// `RegionHandshake` for `info`: name, water height, its terrain textures (the region's own
/// [`TERRAIN_DETAIL`](crate::textures::TERRAIN_DETAIL) — dirt, grass, rock, snow — unless an
/// archive names others) and OpenSim's default
/// start heights (10 m) and ranges (60 m) at the four corners.
pub(super) fn region_handshake(info: &RegionInfo) -> RegionHandshake {
    RegionHandshake {
        region_flags: REGION_FLAGS,
        sim_access: sim_access::PG,
        sim_name: info.name.clone(),
        sim_owner: Uuid::NIL,
        is_estate_manager: false,
        water_height: info.water_height,
        billable_factor: 1.0,
        cache_id: info.region_id,
        terrain_base: [Uuid::NIL; 4],
        terrain_detail: info.terrain_detail,
        terrain_start_height: [10.0; 4],
        terrain_height_range: [60.0; 4],
        region_id: info.region_id,
        cpu_class_id: 9,
        cpu_ratio: 1,
        colo_name: String::new(),
        product_sku: String::new(),
        product_name: String::new(),
        region_info4: vec![RegionInfo4 {
            region_flags_extended: u64::from(REGION_FLAGS),
            region_protocols: REGION_PROTOCOLS,
        }],
    }
}

/// `AgentMovementComplete`: where the agent is, which way it looks (flattened and normalised
/// like OpenSim, `<0.99, 0.042, 0>` when degenerate).
pub(super) fn agent_movement_complete(
    agent: AgentIds,
    position: Vec3,
    look_at: Vec3,
    region_handle: u64,
    timestamp: u32,
    channel_version: &str,
) -> AgentMovementComplete {
    AgentMovementComplete {
        agent,
        position,
        look_at: flat_look_at(look_at),
        region_handle,
        timestamp,
        channel_version: channel_version.to_owned(),
    }
}

/// A look-at with z dropped and normalised; OpenSim's default when that leaves nothing.
pub(super) fn flat_look_at(v: Vec3) -> Vec3 {
    let len = v.x.hypot(v.y);
    if len > 1e-3 && len.is_finite() {
        Vec3::new(v.x / len, v.y / len, 0.0)
    } else {
        Vec3::new(0.99, 0.042, 0.0)
    }
}

/// `SimStats` with the numbers a viewer shows: prims in the scene and agents present.
pub(super) fn sim_stats(info: &RegionInfo, total_prims: usize, agents: usize) -> SimStats {
    let count = |n: usize| f32::from(u16::try_from(n).unwrap_or(u16::MAX));
    let stats = [
        (stat_id::TIME_DILATION, 1.0),
        (stat_id::SIM_FPS, 55.0),
        (stat_id::PHYSICS_FPS, 55.0),
        (stat_id::TOTAL_PRIMS, count(total_prims)),
        (stat_id::ACTIVE_PRIMS, 0.0),
        (stat_id::AGENTS, count(agents)),
        (stat_id::CHILD_AGENTS, 0.0),
    ];
    SimStats {
        region_x: info.world_x / 256,
        region_y: info.world_y / 256,
        region_flags: REGION_FLAGS,
        object_capacity: 15_000,
        stats: stats
            .into_iter()
            .map(|(id, value)| Stat { id, value })
            .collect(),
        pid: 0,
        region_flags_extended: Vec::new(),
    }
}

/// One avatar's entry of a `CoarseLocationUpdate`: metres east and north wrapped to a byte as
/// OpenSim does, height / 4 (0 above 1020 m).
pub(super) fn coarse_location(p: Vec3) -> CoarseLocation {
    let byte = |v: f32| {
        let v = if v.is_finite() {
            v.max(0.0).floor()
        } else {
            0.0
        };
        // Below 2^24 a float-to-u32 conversion via u16 steps is exact; wrap like a C# byte cast.
        u8::try_from(metres(v) % 256).unwrap_or(0)
    };
    let z = if p.z.is_finite() && p.z >= 0.0 && p.z < 1020.0 {
        u8::try_from(metres(p.z / 4.0)).unwrap_or(0)
    } else {
        0
    };
    CoarseLocation {
        x: byte(p.x),
        y: byte(p.y),
        z,
    }
}

/// A non-negative metre value as an integer (saturating, NaN → 0).
#[allow(
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
pub(super) fn metres(v: f32) -> u32 {
    v as u32
}

/// `CoarseLocationUpdate` of every avatar, `you` the index of the receiver's own entry.
pub(super) fn coarse_update(entries: &[(Uuid, Vec3)], you: Uuid) -> CoarseLocationUpdate {
    let entries = entries.get(..entries.len().min(60)).unwrap_or(&[]);
    let you = entries
        .iter()
        .position(|(id, _)| *id == you)
        .and_then(|i| i16::try_from(i).ok())
        .unwrap_or(-1);
    CoarseLocationUpdate {
        locations: entries.iter().map(|(_, p)| coarse_location(*p)).collect(),
        you,
        prey: -1,
        agent_ids: entries.iter().map(|(id, _)| *id).collect(),
    }
}

/// `LogoutReply` with OpenSim's single zero item id.
pub(super) fn logout_reply(agent: AgentIds) -> LogoutReply {
    LogoutReply {
        agent,
        item_ids: vec![Uuid::NIL],
    }
}

/// `KickUser` for an agent at `addr`.
pub(super) fn kick_user(agent: AgentIds, addr: core::net::SocketAddr, reason: &str) -> KickUser {
    let (ip, port) = match addr {
        core::net::SocketAddr::V4(a) => (*a.ip(), a.port()),
        core::net::SocketAddr::V6(a) => (core::net::Ipv4Addr::UNSPECIFIED, a.port()),
    };
    KickUser {
        target_ip: ip,
        target_port: port,
        agent,
        reason: reason.to_owned(),
    }
}
