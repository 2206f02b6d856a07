//! The `ObjectData` motion blob of a full `ObjectUpdate` block, selected by its length
//! (PROTOCOL §3.9; SLV `llviewerobject.cpp`).
//!
//! 60 bytes: position, velocity, acceleration, rotation (12-byte quaternion, `w` recovered),
//! angular velocity, all `f32` — prims. 76 bytes: a collision plane (`LLVector4`) in front of
//! those 60 — avatars. 124 / 140 bytes: the same prefixes followed by an extension this decoder
//! ignores. 16 / 32 / 48 bytes are the quantised legacy forms nobody sends; they decode as
//! [`MotionData::Unsupported`] so the message still goes through. Any other length is an error.

use crate::message::codec::{MessageError, Reader, Writer};
use crate::types::{Quat, Vec3, Vec4};

/// Position and motion of an object, full precision.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Motion {
    /// Region-local for roots, parent-relative for children.
    pub position: Vec3,
    /// Metres per second.
    pub velocity: Vec3,
    /// Metres per second squared.
    pub acceleration: Vec3,
    /// Rotation (parent-relative for children).
    pub rotation: Quat,
    /// Radians per second about each axis.
    pub angular_velocity: Vec3,
}

impl Motion {
    /// Size of the prim layout.
    pub const WIRE_LEN: usize = 60;

    fn read(r: &mut Reader<'_>) -> Result<Self, MessageError> {
        Ok(Motion {
            position: r.vec3()?,
            velocity: r.vec3()?,
            acceleration: r.vec3()?,
            rotation: r.quat()?,
            angular_velocity: r.vec3()?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.vec3(&self.position);
        w.vec3(&self.velocity);
        w.vec3(&self.acceleration);
        w.quat(&self.rotation);
        w.vec3(&self.angular_velocity);
    }
}

/// A decoded `ObjectData` motion blob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MotionData {
    /// The 60-byte prim layout (or the 124-byte one, extension ignored).
    Prim(Motion),
    /// The 76-byte avatar layout (or the 140-byte one, extension ignored).
    Avatar {
        /// The plane the avatar stands on (SLV `setFootPlane`).
        collision_plane: Vec4,
        /// Position and motion.
        motion: Motion,
    },
    /// A quantised legacy layout (16, 32 or 48 bytes) this decoder does not handle; the length.
    Unsupported(usize),
}

impl MotionData {
    /// Length of the avatar layout.
    pub const AVATAR_LEN: usize = 76;

    /// Decodes a blob by its length.
    ///
    /// # Errors
    /// [`MessageError::Invalid`] for a length that is none of 16, 32, 48, 60, 76, 124 or 140.
    pub fn parse(blob: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(blob);
        match blob.len() {
            60 | 124 => Ok(MotionData::Prim(Motion::read(&mut r)?)),
            76 | 140 => Ok(MotionData::Avatar {
                collision_plane: r.vec4()?,
                motion: Motion::read(&mut r)?,
            }),
            n @ (16 | 32 | 48) => Ok(MotionData::Unsupported(n)),
            _ => Err(MessageError::Invalid("ObjectData motion length")),
        }
    }

    /// Position and motion, unless the layout is unsupported.
    pub fn motion(&self) -> Option<&Motion> {
        match self {
            MotionData::Prim(m) | MotionData::Avatar { motion: m, .. } => Some(m),
            MotionData::Unsupported(_) => None,
        }
    }

    /// The avatar's collision plane, if this is the avatar layout.
    pub fn collision_plane(&self) -> Option<Vec4> {
        match self {
            MotionData::Avatar {
                collision_plane, ..
            } => Some(*collision_plane),
            _ => None,
        }
    }

    /// Encodes the 60- or 76-byte layout.
    ///
    /// # Errors
    /// [`MessageError::Invalid`] for [`MotionData::Unsupported`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        let (len, plane, motion) = match self {
            MotionData::Prim(m) => (Motion::WIRE_LEN, None, m),
            MotionData::Avatar {
                collision_plane,
                motion,
            } => (Self::AVATAR_LEN, Some(collision_plane), motion),
            MotionData::Unsupported(_) => {
                return Err(MessageError::Invalid("unsupported motion layout"));
            }
        };
        let mut out = vec![0; len];
        let mut w = Writer::new(&mut out);
        if let Some(p) = plane {
            w.vec4(p);
        }
        motion.write(&mut w);
        w.finish()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Motion {
        Motion {
            position: Vec3::new(128.0, 128.0, 30.0),
            velocity: Vec3::new(0.0, 0.0, -4.5),
            acceleration: Vec3::new(0.0, 0.0, -9.8),
            rotation: Quat::from_yaw(0.5),
            angular_velocity: Vec3::new(0.0, 0.0, 0.25),
        }
    }

    #[test]
    fn decodes_by_length() {
        let prim = MotionData::Prim(sample()).to_bytes().unwrap();
        assert_eq!(prim.len(), 60);
        let back = MotionData::parse(&prim).unwrap();
        assert_eq!(back.motion().unwrap().position, sample().position);
        assert_eq!(back.collision_plane(), None);
        let avatar = MotionData::Avatar {
            collision_plane: Vec4 {
                x: 0.0,
                y: 0.0,
                z: 1.0,
                w: 25.0,
            },
            motion: sample(),
        };
        let bytes = avatar.to_bytes().unwrap();
        assert_eq!(bytes.len(), 76);
        let back = MotionData::parse(&bytes).unwrap();
        assert_eq!(back.collision_plane().unwrap().w, 25.0);
        assert_eq!(back.motion().unwrap().velocity.z, -4.5);
        assert!((back.motion().unwrap().rotation.w - sample().rotation.w).abs() < 1e-6);
    }

    #[test]
    fn extended_lengths_parse_their_prefix() {
        let mut prim = MotionData::Prim(sample()).to_bytes().unwrap();
        prim.extend_from_slice(&[0xEE; 64]);
        assert!(
            matches!(MotionData::parse(&prim).unwrap(), MotionData::Prim(m) if m.position.z == 30.0)
        );
        let mut avatar = MotionData::Avatar {
            collision_plane: Vec4::default(),
            motion: sample(),
        }
        .to_bytes()
        .unwrap();
        avatar.extend_from_slice(&[0xEE; 64]);
        assert!(
            matches!(MotionData::parse(&avatar).unwrap(), MotionData::Avatar { motion, .. } if motion.position.x == 128.0)
        );
    }

    #[test]
    fn quantised_lengths_are_unsupported_and_others_fail() {
        for n in [16, 32, 48] {
            assert_eq!(
                MotionData::parse(&vec![0; n]).unwrap(),
                MotionData::Unsupported(n)
            );
            assert!(MotionData::Unsupported(n).to_bytes().is_err());
            assert_eq!(MotionData::Unsupported(n).motion(), None);
        }
        for n in [0, 1, 12, 59, 61, 75, 77, 123, 141, 255] {
            assert_eq!(
                MotionData::parse(&vec![0; n]),
                Err(MessageError::Invalid("ObjectData motion length"))
            );
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = MotionData::parse(&bytes);
        }
    }
}
