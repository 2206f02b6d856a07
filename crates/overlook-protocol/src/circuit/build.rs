//! The messages the viewer circuit composes, and small conversions it needs.

use super::CircuitConfig;
use crate::message::agent::{AgentThrottle, AgentUpdate, ThrottleBlob};
use crate::message::circuit::{AgentIds, CompleteAgentMovement, LogoutRequest, UseCircuitCode};
use crate::message::object::{CompressedObject, PCode, RequestMultipleObjects};
use crate::message::region::{RegionHandshakeReply, SimStats, stat_id};
use crate::types::{Quat, Vec3};

fn ids(cfg: &CircuitConfig) -> AgentIds {
    AgentIds {
        agent_id: cfg.agent_id,
        session_id: cfg.session_id,
    }
}

pub(super) fn use_circuit_code(cfg: &CircuitConfig) -> UseCircuitCode {
    UseCircuitCode {
        code: cfg.circuit_code,
        session_id: cfg.session_id,
        agent_id: cfg.agent_id,
    }
}

pub(super) fn complete_agent_movement(cfg: &CircuitConfig) -> CompleteAgentMovement {
    CompleteAgentMovement {
        agent: ids(cfg),
        circuit_code: cfg.circuit_code,
    }
}

pub(super) fn agent_throttle(cfg: &CircuitConfig) -> AgentThrottle {
    AgentThrottle {
        agent: ids(cfg),
        circuit_code: cfg.circuit_code,
        gen_counter: 0,
        throttles: ThrottleBlob::Known(cfg.throttles),
    }
}

pub(super) fn region_handshake_reply(cfg: &CircuitConfig) -> RegionHandshakeReply {
    RegionHandshakeReply {
        agent: ids(cfg),
        flags: cfg.handshake_reply_flags,
    }
}

pub(super) fn logout_request(cfg: &CircuitConfig) -> LogoutRequest {
    LogoutRequest { agent: ids(cfg) }
}

pub(super) fn request_objects(cfg: &CircuitConfig, local_ids: &[u32]) -> RequestMultipleObjects {
    RequestMultipleObjects::cache_misses(ids(cfg), local_ids)
}

/// An `AgentUpdate` for an avatar at `position` looking along `look_at` (flattened to the
/// horizontal), with a camera 8 m behind and 3 m above it.
pub(super) fn agent_update(
    cfg: &CircuitConfig,
    position: Vec3,
    look_at: Vec3,
    control_flags: u32,
) -> AgentUpdate {
    let len = look_at.x.hypot(look_at.y);
    let (ax, ay) = if len > 1e-6 && len.is_finite() {
        (look_at.x / len, look_at.y / len)
    } else {
        (1.0, 0.0)
    };
    let at = Vec3::new(ax, ay, 0.0);
    let rotation = Quat::from_yaw(ay.atan2(ax));
    AgentUpdate {
        agent: ids(cfg),
        body_rotation: rotation,
        head_rotation: rotation,
        state: 0,
        camera_center: Vec3::new(
            position.x - 8.0 * ax,
            position.y - 8.0 * ay,
            position.z + 3.0,
        ),
        camera_at_axis: at,
        // Left of "at" in a right-handed, z-up frame.
        camera_left_axis: Vec3::new(-ay, ax, 0.0),
        camera_up_axis: Vec3::new(0.0, 0.0, 1.0),
        far: cfg.far(),
        control_flags,
        flags: 0,
    }
}

/// The local id and PCode of an `ObjectUpdateCompressed` data blob.
pub(super) fn compressed_id(data: &[u8]) -> Option<(u32, PCode)> {
    let o = CompressedObject::parse(data).ok()?;
    Some((o.local_id, o.pcode))
}

/// The region's prim count from `SimStats`, if it reports one.
pub(super) fn total_prims(s: &SimStats) -> Option<u64> {
    let v = s.stat(stat_id::TOTAL_PRIMS)?;
    f32_to_count(v)
}

/// A non-negative, finite `f32` count as an integer (saturating).
#[allow(clippy::as_conversions)]
fn f32_to_count(v: f32) -> Option<u64> {
    // `as` from float to int saturates and maps NaN to 0; the checks keep nonsense out.
    (v.is_finite() && v >= 0.0).then_some(v.round() as u64)
}
