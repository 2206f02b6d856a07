//! Agent messages: what the viewer says about its avatar and what is said to it —
//! `AgentUpdate`, `AgentThrottle`, and (in the `chat` submodule, re-exported here)
//! `ChatFromViewer` and `ChatFromSimulator`.
//!
//! Layouts follow the message template (`template/message_template.msg`); PROTOCOL §3.6, §3.7,
//! §3.15 and §8 say what OpenSim does with them.
//!
//! Guarantees: `parse` never panics and consumes the whole body or fails; `emit` writes exactly
//! `buffer_len()` bytes or fails; every OpenSim 0.9.2.2 capture re-emits byte for byte.

mod chat;

pub use chat::{Audible, ChatFromSimulator, ChatFromViewer, ChatType, SourceType};

use super::circuit::{AgentIds, message_repr};
use super::codec::{MessageError, MessageRepr, Reader};
use crate::types::{Quat, Vec3};
use crate::udp::MessageId;

/// `AgentUpdate.ControlFlags` bits (SLV `indra/llcommon/indra_constants.h`; PROTOCOL §3.6).
pub mod control_flags {
    /// Move forward.
    pub const AT_POS: u32 = 0x0000_0001;
    /// Move backward.
    pub const AT_NEG: u32 = 0x0000_0002;
    /// Strafe left.
    pub const LEFT_POS: u32 = 0x0000_0004;
    /// Strafe right.
    pub const LEFT_NEG: u32 = 0x0000_0008;
    /// Up (jump / fly up).
    pub const UP_POS: u32 = 0x0000_0010;
    /// Down (crouch / fly down).
    pub const UP_NEG: u32 = 0x0000_0020;
    /// Pitch up.
    pub const PITCH_POS: u32 = 0x0000_0040;
    /// Pitch down.
    pub const PITCH_NEG: u32 = 0x0000_0080;
    /// Turn left.
    pub const YAW_POS: u32 = 0x0000_0100;
    /// Turn right.
    pub const YAW_NEG: u32 = 0x0000_0200;
    /// Run forward / backward.
    pub const FAST_AT: u32 = 0x0000_0400;
    /// Run sideways.
    pub const FAST_LEFT: u32 = 0x0000_0800;
    /// Fast up / down.
    pub const FAST_UP: u32 = 0x0000_1000;
    /// Flying.
    pub const FLY: u32 = 0x0000_2000;
    /// Stop moving.
    pub const STOP: u32 = 0x0000_4000;
    /// Finish the current animation.
    pub const FINISH_ANIM: u32 = 0x0000_8000;
    /// Stand up.
    pub const STAND_UP: u32 = 0x0001_0000;
    /// Sit on the ground.
    pub const SIT_ON_GROUND: u32 = 0x0002_0000;
    /// In mouselook.
    pub const MOUSELOOK: u32 = 0x0004_0000;
    /// Nudge forward.
    pub const NUDGE_AT_POS: u32 = 0x0008_0000;
    /// Nudge backward.
    pub const NUDGE_AT_NEG: u32 = 0x0010_0000;
    /// Nudge left.
    pub const NUDGE_LEFT_POS: u32 = 0x0020_0000;
    /// Nudge right.
    pub const NUDGE_LEFT_NEG: u32 = 0x0040_0000;
    /// Nudge up.
    pub const NUDGE_UP_POS: u32 = 0x0080_0000;
    /// Nudge down.
    pub const NUDGE_UP_NEG: u32 = 0x0100_0000;
    /// Turn left in place.
    pub const TURN_LEFT: u32 = 0x0200_0000;
    /// Turn right in place.
    pub const TURN_RIGHT: u32 = 0x0400_0000;
    /// Away.
    pub const AWAY: u32 = 0x0800_0000;
    /// Left mouse button pressed.
    pub const LBUTTON_DOWN: u32 = 0x1000_0000;
    /// Left mouse button released.
    pub const LBUTTON_UP: u32 = 0x2000_0000;
    /// Left mouse button pressed in mouselook.
    pub const ML_LBUTTON_DOWN: u32 = 0x4000_0000;
    /// Left mouse button released in mouselook.
    pub const ML_LBUTTON_UP: u32 = 0x8000_0000;
}

/// `AgentUpdate.State` bits (SLV `llagent.cpp`).
pub mod agent_state {
    /// Typing.
    pub const TYPING: u8 = 0x04;
    /// Editing.
    pub const EDITING: u8 = 0x10;
}

/// `AgentUpdate.Flags` bits (SLV `llviewermessage.cpp`).
pub mod agent_flags {
    /// Hide the name tag title.
    pub const HIDE_TITLE: u8 = 0x01;
    /// The viewer is driving an autopilot.
    pub const CLIENT_AUTOPILOT: u8 = 0x02;
}

/// High 4, viewer → sim: the avatar's rotation, camera, draw distance and controls
/// (PROTOCOL §3.6). `Far` sent after `AgentMovementComplete` sets how much terrain OpenSim
/// streams (§8).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentUpdate {
    /// `AgentID`, `SessionID`.
    pub agent: AgentIds,
    /// `BodyRotation`.
    pub body_rotation: Quat,
    /// `HeadRotation`.
    pub head_rotation: Quat,
    /// `State`: see [`agent_state`].
    pub state: u8,
    /// `CameraCenter`: camera position, region metres.
    pub camera_center: Vec3,
    /// `CameraAtAxis`: camera forward.
    pub camera_at_axis: Vec3,
    /// `CameraLeftAxis`: camera left.
    pub camera_left_axis: Vec3,
    /// `CameraUpAxis`: camera up.
    pub camera_up_axis: Vec3,
    /// `Far`: draw distance, metres.
    pub far: f32,
    /// `ControlFlags`: see [`control_flags`].
    pub control_flags: u32,
    /// `Flags`: see [`agent_flags`].
    pub flags: u8,
}

message_repr! {
    AgentUpdate, "AgentUpdate", MessageId::High(4), true,
    parse(r) {
        Ok(AgentUpdate {
            agent: AgentIds::read(r)?,
            body_rotation: r.quat()?,
            head_rotation: r.quat()?,
            state: r.u8()?,
            camera_center: r.vec3()?,
            camera_at_axis: r.vec3()?,
            camera_left_axis: r.vec3()?,
            camera_up_axis: r.vec3()?,
            far: r.f32()?,
            control_flags: r.u32()?,
            flags: r.u8()?,
        })
    }
    emit(self, w) {
        self.agent.write(w);
        w.quat(&self.body_rotation);
        w.quat(&self.head_rotation);
        w.u8(self.state);
        for v in [
            &self.camera_center,
            &self.camera_at_axis,
            &self.camera_left_axis,
            &self.camera_up_axis,
        ] {
            w.vec3(v);
        }
        w.f32(self.far);
        w.u32(self.control_flags);
        w.u8(self.flags);
    }
    len(self) { AgentIds::WIRE_LEN + 2 * 12 + 1 + 4 * 12 + 4 + 4 + 1 }
}

/// The seven throttle rates of [`AgentThrottle`], in **bits per second** (PROTOCOL §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Throttles {
    /// Resends.
    pub resend: f32,
    /// Land (terrain `LayerData`, parcel overlay).
    pub land: f32,
    /// Wind.
    pub wind: f32,
    /// Clouds.
    pub cloud: f32,
    /// Tasks (object updates).
    pub task: f32,
    /// Textures (UDP image data).
    pub texture: f32,
    /// Assets.
    pub asset: f32,
}

impl Throttles {
    /// The blob's length: seven little-endian `f32`s.
    pub const WIRE_LEN: usize = 28;

    /// OpenSim's per-client cap, `client_throttle_max_bps` = 640,000 bytes/s, in bits/s. Above
    /// it OpenSim scales every rate down.
    pub const OPENSIM_CLIENT_CAP: f32 = 5_120_000.0;

    /// Overlook's rates: land 4 Mbit/s so terrain streams in well under a second (PROTOCOL §8),
    /// task 500 kbit/s, resend 150 kbit/s, texture 200 kbit/s, asset and wind and cloud
    /// 50 kbit/s. Total 5,000,000 bit/s = 625,000 B/s, under OpenSim's 5.1 Mbit/s per-client cap
    /// ([`Self::OPENSIM_CLIENT_CAP`], 640,000 B/s) so it never scales our land rate down, and
    /// every rate above OpenSim's per-category floor (1000 B/s; 50 B/s for wind and cloud).
    pub const OVERLOOK: Throttles = Throttles {
        resend: 150_000.0,
        land: 4_000_000.0,
        wind: 50_000.0,
        cloud: 50_000.0,
        task: 500_000.0,
        texture: 200_000.0,
        asset: 50_000.0,
    };

    /// The rates in wire order.
    pub fn to_array(&self) -> [f32; 7] {
        [
            self.resend,
            self.land,
            self.wind,
            self.cloud,
            self.task,
            self.texture,
            self.asset,
        ]
    }

    /// The sum of the seven rates, bits/s.
    pub fn total(&self) -> f32 {
        self.to_array().iter().sum()
    }

    /// The 28-byte wire blob.
    pub fn to_bytes(&self) -> [u8; Self::WIRE_LEN] {
        let mut out = [0; Self::WIRE_LEN];
        for (dst, v) in out.chunks_exact_mut(4).zip(self.to_array()) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Reads a blob; `None` unless it is exactly [`Self::WIRE_LEN`] bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != Self::WIRE_LEN {
            return None;
        }
        let mut r = Reader::new(b);
        let mut f = || r.f32().ok();
        Some(Throttles {
            resend: f()?,
            land: f()?,
            wind: f()?,
            cloud: f()?,
            task: f()?,
            texture: f()?,
            asset: f()?,
        })
    }
}

/// The `Throttles` field of [`AgentThrottle`]: typed when it is the usual 28 bytes, kept raw
/// otherwise, so any blob parses and is written back as read.
#[derive(Debug, Clone, PartialEq)]
pub enum ThrottleBlob {
    /// A 28-byte blob.
    Known(Throttles),
    /// A blob of any other length (a `Raw` of exactly 28 bytes reads back as `Known`).
    Raw(Vec<u8>),
}

impl ThrottleBlob {
    /// Types a blob.
    pub fn from_wire(b: &[u8]) -> Self {
        match Throttles::from_bytes(b) {
            Some(t) => ThrottleBlob::Known(t),
            None => ThrottleBlob::Raw(b.to_vec()),
        }
    }

    /// The blob's length on the wire (without its length byte).
    pub fn wire_len(&self) -> usize {
        match self {
            ThrottleBlob::Known(_) => Throttles::WIRE_LEN,
            ThrottleBlob::Raw(b) => b.len(),
        }
    }
}

/// Low 81, viewer → sim: sets the per-category send rates (PROTOCOL §3.7).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentThrottle {
    /// `AgentData.AgentID`, `SessionID`.
    pub agent: AgentIds,
    /// `AgentData.CircuitCode`.
    pub circuit_code: u32,
    /// `Throttle.GenCounter` (0).
    pub gen_counter: u32,
    /// `Throttle.Throttles`.
    pub throttles: ThrottleBlob,
}

impl AgentThrottle {
    /// Overlook's throttle message ([`Throttles::OVERLOOK`], generation 0).
    pub fn overlook(agent: AgentIds, circuit_code: u32) -> Self {
        AgentThrottle {
            agent,
            circuit_code,
            gen_counter: 0,
            throttles: ThrottleBlob::Known(Throttles::OVERLOOK),
        }
    }
}

message_repr! {
    AgentThrottle, "AgentThrottle", MessageId::Low(81), true,
    parse(r) {
        Ok(AgentThrottle {
            agent: AgentIds::read(r)?,
            circuit_code: r.u32()?,
            gen_counter: r.u32()?,
            throttles: ThrottleBlob::from_wire(r.var1()?),
        })
    }
    emit(self, w) {
        self.agent.write(w);
        w.u32(self.circuit_code);
        w.u32(self.gen_counter);
        match &self.throttles {
            ThrottleBlob::Known(t) => w.var1("Throttles", &t.to_bytes()),
            ThrottleBlob::Raw(b) => w.var1("Throttles", b),
        }
    }
    len(self) { AgentIds::WIRE_LEN + 4 + 4 + 1 + self.throttles.wire_len() }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::capture::Direction;
    use crate::message::testutil::{
        self as t, CAPTURE_AGENT, IDS_HEX, check, golden, golden_in, ids, round_trip,
    };

    #[test]
    fn template_headers_match() {
        t::assert_template_header::<AgentUpdate>();
        t::assert_template_header::<AgentThrottle>();
    }

    #[test]
    fn emits_known_bytes() {
        let update = AgentUpdate {
            agent: ids(),
            body_rotation: Quat::from_xyz(0.0, 0.0, 0.6),
            head_rotation: Quat::IDENTITY,
            state: agent_state::TYPING,
            camera_center: Vec3::new(120.0, 128.0, 33.0),
            camera_at_axis: Vec3::new(1.0, 0.0, 0.0),
            camera_left_axis: Vec3::new(0.0, 1.0, 0.0),
            camera_up_axis: Vec3::new(0.0, 0.0, 1.0),
            far: 128.0,
            control_flags: control_flags::AT_POS | control_flags::FLY,
            flags: agent_flags::HIDE_TITLE,
        };
        let hex = "00000000 00000000 9a99193f 00000000 00000000 00000000 04 \
                   0000f042 00000043 00000442 0000803f 00000000 00000000 \
                   00000000 0000803f 00000000 00000000 00000000 0000803f \
                   00000043 01200000 01";
        check(&update, &format!("{IDS_HEX} {hex}"));

        let throttle = AgentThrottle::overlook(ids(), 0x0102_0304);
        let hex = "04030201 00000000 1c 007c1248 0024744a 00504347 00504347 \
                   0024f448 00504348 00504347";
        check(&throttle, &format!("{IDS_HEX} {hex}"));
        let odd = AgentThrottle {
            throttles: ThrottleBlob::Raw(vec![1, 2, 3]),
            ..throttle.clone()
        };
        check(&odd, &format!("{IDS_HEX} 04030201 00000000 03 010203"));
        let empty = AgentThrottle {
            throttles: ThrottleBlob::Raw(vec![]),
            ..throttle
        };
        check(&empty, &format!("{IDS_HEX} 04030201 00000000 00"));
    }

    #[test]
    fn overlook_throttles_fit_opensim() {
        let t = Throttles::OVERLOOK;
        assert_eq!(t.land, 4_000_000.0);
        assert_eq!(t.total(), 5_000_000.0);
        assert!(t.total() < Throttles::OPENSIM_CLIENT_CAP);
        assert!(
            t.total() < 5_100_000.0,
            "under the 5.1 Mbit/s cap as the brief words it"
        );
        // OpenSim's floors are 1000 B/s per category, 50 B/s for wind and cloud.
        assert!(t.to_array().iter().all(|&r| r >= 400.0));
        assert!(
            [t.resend, t.land, t.task, t.texture, t.asset]
                .iter()
                .all(|&r| r >= 8000.0)
        );
        assert_eq!(Throttles::from_bytes(&t.to_bytes()), Some(t));
        assert_eq!(Throttles::from_bytes(&[0; 27]), None);
        assert_eq!(Throttles::from_bytes(&[0; 29]), None);
    }

    #[test]
    fn golden_agent_messages() {
        let updates = golden::<AgentUpdate>();
        for u in &updates {
            let u = &u.msg;
            assert_eq!(u.agent.agent_id.to_string(), CAPTURE_AGENT);
            assert_eq!((u.far, u.control_flags, u.flags, u.state), (128.0, 0, 0, 0));
            assert_eq!(u.body_rotation, Quat::IDENTITY);
            assert_eq!(u.camera_at_axis, Vec3::new(1.0, 0.0, 0.0));
        }
        let throttles = golden::<AgentThrottle>();
        let [first] = golden_in(&throttles, "test-region", Direction::Out)[..] else {
            panic!("one AgentThrottle")
        };
        let expected = Throttles {
            resend: 150_000.0,
            land: 1_000_000.0,
            wind: 50_000.0,
            cloud: 50_000.0,
            task: 500_000.0,
            texture: 500_000.0,
            asset: 200_000.0,
        };
        assert_eq!(first.throttles, ThrottleBlob::Known(expected));
        assert_eq!(first.gen_counter, 0);
    }

    fn throttles() -> impl Strategy<Value = ThrottleBlob> {
        prop_oneof![
            prop::array::uniform7(t::finite()).prop_map(
                |[resend, land, wind, cloud, task, texture, asset]| {
                    ThrottleBlob::Known(Throttles {
                        resend,
                        land,
                        wind,
                        cloud,
                        task,
                        texture,
                        asset,
                    })
                }
            ),
            prop::collection::vec(any::<u8>(), 0..=255)
                .prop_filter("28 bytes read back as Known", |b| b.len()
                    != Throttles::WIRE_LEN)
                .prop_map(ThrottleBlob::Raw),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip_agent_update(
            agent in t::agent_ids(),
            rotations in (t::quat(), t::quat()),
            state: u8,
            camera in prop::array::uniform4(t::vec3()),
            far in t::finite(),
            control_flags: u32,
            flags: u8,
        ) {
            let [camera_center, camera_at_axis, camera_left_axis, camera_up_axis] = camera;
            round_trip(&AgentUpdate {
                agent,
                body_rotation: rotations.0,
                head_rotation: rotations.1,
                state,
                camera_center, camera_at_axis, camera_left_axis, camera_up_axis,
                far, control_flags, flags,
            });
        }

        #[test]
        fn roundtrip_agent_throttle(
            agent in t::agent_ids(),
            codes: (u32, u32),
            throttles in throttles(),
        ) {
            let (circuit_code, gen_counter) = codes;
            round_trip(&AgentThrottle { agent, circuit_code, gen_counter, throttles });
        }

        #[test]
        fn parse_never_panics(b in t::junk()) {
            let _ = AgentUpdate::parse(&b);
            let _ = AgentThrottle::parse(&b);
        }
    }
}
