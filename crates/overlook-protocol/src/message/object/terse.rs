//! `ImprovedTerseObjectUpdate` (High 15): compact position/motion updates (PROTOCOL §3.10;
//! OpenSim `LLClientView.cs` `CreateImprovedTerseBlock`; SLV `llviewerobject.cpp`
//! `OUT_TERSE_IMPROVED`).
//!
//! Each block's `Data` stays raw in the message; [`TerseData`] decodes and encodes it: local id,
//! state, an avatar flag with a collision plane, a full-precision position, then velocity (±128),
//! acceleration (±64), rotation (±1, renormalised) and angular velocity (±64) as U16 quantised
//! values (see [`u16_to_f32`]). 44 bytes for prims, 60 for avatars. Although the template says
//! Unencoded, OpenSim zero-codes these packets; the packet layer obeys the header flag.

use super::quant::{f32_to_u16, u16_to_f32};
use super::{REGION_DATA_LEN, read_region_data, take_u32_prefixed, write_region_data};
use crate::message::circuit::{message_repr, read_block, write_block};
use crate::message::codec::{MessageError, MessageRepr, Reader, Writer};
use crate::types::{Quat, Vec3, Vec4};
use crate::udp::MessageId;

/// Velocity range (m/s).
const VELOCITY: f32 = 128.0;
/// Acceleration range (m/s²).
const ACCELERATION: f32 = 64.0;
/// Angular-velocity range (rad/s).
const ANGULAR_VELOCITY: f32 = 64.0;

/// A decoded terse update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TerseData {
    /// Region-local id of the object.
    pub local_id: u32,
    /// Attachment point (nibble-swapped) or 0.
    pub state: u8,
    /// The avatar's collision plane; `Some` exactly when the object is an avatar.
    pub collision_plane: Option<Vec4>,
    /// Position (full precision).
    pub position: Vec3,
    /// Velocity, quantised to ±128 m/s.
    pub velocity: Vec3,
    /// Acceleration, quantised to ±64 m/s².
    pub acceleration: Vec3,
    /// Rotation, quantised per component and renormalised.
    pub rotation: Quat,
    /// Angular velocity, quantised to ±64 rad/s.
    pub angular_velocity: Vec3,
}

fn read_q3(r: &mut Reader<'_>, range: f32) -> Result<Vec3, MessageError> {
    let mut c = || r.u16().map(|v| u16_to_f32(v, -range, range));
    Ok(Vec3::new(c()?, c()?, c()?))
}

fn write_q3(w: &mut Writer<'_>, v: &Vec3, range: f32) {
    for c in [v.x, v.y, v.z] {
        w.u16(f32_to_u16(c, -range, range));
    }
}

/// Normalises a quaternion; a zero or non-finite one becomes the identity (SLV `normQuat`).
fn normalise(q: Quat) -> Quat {
    let n = (q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w).sqrt();
    if n > 1e-6 && n.is_finite() {
        Quat {
            x: q.x / n,
            y: q.y / n,
            z: q.z / n,
            w: q.w / n,
        }
    } else {
        Quat::IDENTITY
    }
}

impl TerseData {
    /// Length of a prim's data.
    pub const PRIM_LEN: usize = 44;
    /// Length of an avatar's data.
    pub const AVATAR_LEN: usize = 60;

    /// Decodes a block's `Data`.
    ///
    /// # Errors
    /// [`MessageError::Truncated`] for short data, [`MessageError::TrailingBytes`] for long.
    pub fn parse(data: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(data);
        let local_id = r.u32()?;
        let state = r.u8()?;
        let collision_plane = if r.bool()? { Some(r.vec4()?) } else { None };
        let position = r.vec3()?;
        let velocity = read_q3(&mut r, VELOCITY)?;
        let acceleration = read_q3(&mut r, ACCELERATION)?;
        let mut c = || r.u16().map(|v| u16_to_f32(v, -1.0, 1.0));
        let rotation = normalise(Quat {
            x: c()?,
            y: c()?,
            z: c()?,
            w: c()?,
        });
        let angular_velocity = read_q3(&mut r, ANGULAR_VELOCITY)?;
        r.finish()?;
        Ok(TerseData {
            local_id,
            state,
            collision_plane,
            position,
            velocity,
            acceleration,
            rotation,
            angular_velocity,
        })
    }

    /// The encoded length: 44, or 60 with a collision plane.
    pub fn wire_len(&self) -> usize {
        if self.collision_plane.is_some() {
            Self::AVATAR_LEN
        } else {
            Self::PRIM_LEN
        }
    }

    /// Encodes the data (values outside their range are clamped; the rotation is normalised).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0; self.wire_len()];
        let mut w = Writer::new(&mut out);
        w.u32(self.local_id);
        w.u8(self.state);
        w.bool(self.collision_plane.is_some());
        if let Some(p) = &self.collision_plane {
            w.vec4(p);
        }
        w.vec3(&self.position);
        write_q3(&mut w, &self.velocity, VELOCITY);
        write_q3(&mut w, &self.acceleration, ACCELERATION);
        let q = normalise(self.rotation);
        for c in [q.x, q.y, q.z, q.w] {
            w.u16(f32_to_u16(c, -1.0, 1.0));
        }
        write_q3(&mut w, &self.angular_velocity, ANGULAR_VELOCITY);
        // The buffer is exactly `wire_len` long and nothing here is variable-length, so the
        // writer cannot have failed.
        let _ = w.finish();
        out
    }
}

/// One `ObjectData` block: the raw terse data and an optional TextureEntry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerseObject {
    /// The terse data; decode with [`TerseObject::terse`].
    pub data: Vec<u8>,
    /// Empty, or (OpenSim) a `u32` length followed by TextureEntry bytes.
    pub texture_entry: Vec<u8>,
}

impl TerseObject {
    /// Decodes the terse data.
    ///
    /// # Errors
    /// As [`TerseData::parse`].
    pub fn terse(&self) -> Result<TerseData, MessageError> {
        TerseData::parse(&self.data)
    }

    /// The TextureEntry bytes inside the field, if there are any.
    ///
    /// # Errors
    /// [`MessageError::Truncated`] or [`MessageError::TrailingBytes`] when the `u32` length
    /// disagrees with the field.
    pub fn texture_entry_bytes(&self) -> Result<Option<&[u8]>, MessageError> {
        if self.texture_entry.is_empty() {
            return Ok(None);
        }
        let mut r = Reader::new(&self.texture_entry);
        let te = take_u32_prefixed(&mut r)?;
        r.finish()?;
        Ok(Some(te))
    }
}

/// `ImprovedTerseObjectUpdate`: position and motion of one or more objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImprovedTerseObjectUpdate {
    /// The region the objects are in.
    pub region_handle: u64,
    /// Time dilation × 65535.
    pub time_dilation: u16,
    /// One block per object.
    pub objects: Vec<TerseObject>,
}

message_repr! {
    ImprovedTerseObjectUpdate, "ImprovedTerseObjectUpdate", MessageId::High(15), false,
    parse(r) {
        let (region_handle, time_dilation) = read_region_data(r)?;
        let objects = read_block(r, |r| {
            Ok(TerseObject { data: r.var1()?.to_vec(), texture_entry: r.var2()?.to_vec() })
        })?;
        Ok(ImprovedTerseObjectUpdate { region_handle, time_dilation, objects })
    }
    emit(self, w) {
        write_region_data(w, self.region_handle, self.time_dilation);
        write_block(w, "ObjectData", &self.objects, |w, o| {
            w.var1("Data", &o.data);
            w.var2("TextureEntry", &o.texture_entry);
        });
    }
    len(self) {
        let objects = self.objects.iter().map(|o| 3 + o.data.len() + o.texture_entry.len());
        REGION_DATA_LEN + 1 + objects.sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::decode_hex;
    use crate::message::testutil::template_agrees;
    use proptest::prelude::*;

    /// The falling avatar's first terse update in var-region (OpenSim 0.9.2.2).
    const FALLING: &str = "eb5e2f0d00010000000000000000000000000000803f00000043000000437f28e841ff7fff7f957bff7fff7fff7fff7fff7fff7fffffff7fff7fff7f";

    #[test]
    fn decodes_captured_avatar() {
        let t = TerseData::parse(&decode_hex(FALLING).unwrap()).unwrap();
        assert_eq!(t.local_id, 221_208_299);
        assert_eq!(
            t.collision_plane,
            Some(Vec4 {
                x: 0.0,
                y: 0.0,
                z: 0.0,
                w: 1.0
            })
        );
        assert_eq!((t.position.x, t.position.y), (128.0, 128.0));
        assert!((t.position.z - 29.02).abs() < 0.01);
        // 0x7FFF is OpenSim's zero; 0x7B95 is about -4.4 m/s (falling).
        assert_eq!((t.velocity.x, t.velocity.y), (0.0, 0.0));
        assert!((t.velocity.z + 4.416).abs() < 0.01, "{}", t.velocity.z);
        assert_eq!(t.acceleration, Vec3::ZERO);
        assert_eq!(t.rotation, Quat::IDENTITY);
        assert_eq!(t.angular_velocity, Vec3::ZERO);
        // Re-encoding keeps every value within one quantisation step.
        let again = TerseData::parse(&t.to_bytes()).unwrap();
        assert_eq!(again.position, t.position);
        assert!((again.velocity.z - t.velocity.z).abs() <= 256.0 / 65535.0);
    }

    #[test]
    fn prim_layout_and_length_checks() {
        let t = TerseData {
            local_id: 7,
            state: 0x20,
            collision_plane: None,
            position: Vec3::new(1.0, 2.0, 3.0),
            velocity: Vec3::new(500.0, -500.0, 0.0),
            acceleration: Vec3::ZERO,
            rotation: Quat {
                x: 0.0,
                y: 0.0,
                z: 0.0,
                w: 0.0,
            },
            angular_velocity: Vec3::new(0.0, 0.0, 1.0),
        };
        let bytes = t.to_bytes();
        assert_eq!(bytes.len(), TerseData::PRIM_LEN);
        let back = TerseData::parse(&bytes).unwrap();
        // Clamped to the range, and a zero rotation becomes the identity.
        assert_eq!((back.velocity.x, back.velocity.y), (128.0, -128.0));
        assert_eq!(back.rotation, Quat::IDENTITY);
        for n in 0..bytes.len() {
            assert!(TerseData::parse(&bytes[..n]).is_err());
        }
        let mut long = bytes;
        long.push(0);
        assert_eq!(TerseData::parse(&long), Err(MessageError::TrailingBytes(1)));
    }

    #[test]
    fn texture_entry_field_carries_a_u32_length() {
        let mut o = TerseObject {
            data: Vec::new(),
            texture_entry: Vec::new(),
        };
        assert_eq!(o.texture_entry_bytes(), Ok(None));
        o.texture_entry = vec![2, 0, 0, 0, 0xAB, 0xCD];
        assert_eq!(o.texture_entry_bytes(), Ok(Some(&[0xAB, 0xCD][..])));
        o.texture_entry = vec![3, 0, 0, 0, 0xAB, 0xCD];
        assert_eq!(o.texture_entry_bytes(), Err(MessageError::Truncated));
        o.texture_entry = vec![1, 0, 0, 0, 0xAB, 0xCD];
        assert_eq!(o.texture_entry_bytes(), Err(MessageError::TrailingBytes(1)));
    }

    #[test]
    fn message_roundtrip_and_truncation() {
        let msg = ImprovedTerseObjectUpdate {
            region_handle: 0x0004_4C00_0003_E800,
            time_dilation: 65535,
            objects: vec![
                TerseObject {
                    data: decode_hex(FALLING).unwrap(),
                    texture_entry: Vec::new(),
                },
                TerseObject {
                    data: vec![1; 44],
                    texture_entry: vec![0, 0, 0, 0],
                },
            ],
        };
        let bytes = msg.to_bytes().unwrap();
        assert_eq!(bytes.len(), msg.buffer_len());
        assert_eq!(ImprovedTerseObjectUpdate::parse(&bytes).unwrap(), msg);
        template_agrees::<ImprovedTerseObjectUpdate>(&bytes);
        for n in 0..bytes.len() {
            assert!(
                ImprovedTerseObjectUpdate::parse(&bytes[..n]).is_err(),
                "{n}"
            );
        }
        let mut extra = bytes;
        extra.push(0);
        assert_eq!(
            ImprovedTerseObjectUpdate::parse(&extra),
            Err(MessageError::TrailingBytes(1))
        );
    }

    fn range(r: f32) -> impl Strategy<Value = Vec3> {
        (-r..r, -r..r, -r..r).prop_map(|(x, y, z)| Vec3::new(x, y, z))
    }

    fn close(a: Vec3, b: Vec3, step: f32) -> bool {
        (a.x - b.x).abs() <= step && (a.y - b.y).abs() <= step && (a.z - b.z).abs() <= step
    }

    proptest! {
        #[test]
        fn roundtrip_terse_within_one_step(
            local_id in any::<u32>(),
            state in any::<u8>(),
            plane in proptest::option::of((-10.0f32..10.0, -10.0f32..10.0, -10.0f32..10.0, -100.0f32..100.0)),
            position in range(1000.0),
            velocity in range(128.0),
            acceleration in range(64.0),
            angular_velocity in range(64.0),
            (x, y, z, w) in (-1.0f32..1.0, -1.0f32..1.0, -1.0f32..1.0, 0.1f32..1.0),
        ) {
            let n = (x * x + y * y + z * z + w * w).sqrt();
            let rotation = Quat { x: x / n, y: y / n, z: z / n, w: w / n };
            let t = TerseData {
                local_id, state,
                collision_plane: plane.map(|(x, y, z, w)| Vec4 { x, y, z, w }),
                position, velocity, acceleration, rotation, angular_velocity,
            };
            let back = TerseData::parse(&t.to_bytes()).unwrap();
            prop_assert_eq!((back.local_id, back.state, back.collision_plane, back.position),
                (t.local_id, t.state, t.collision_plane, t.position));
            prop_assert!(close(back.velocity, t.velocity, 256.0 / 65535.0));
            prop_assert!(close(back.acceleration, t.acceleration, 128.0 / 65535.0));
            prop_assert!(close(back.angular_velocity, t.angular_velocity, 128.0 / 65535.0));
            let r = back.rotation;
            let dot = r.x * rotation.x + r.y * rotation.y + r.z * rotation.z + r.w * rotation.w;
            prop_assert!(dot > 0.9999, "{:?} vs {:?}", r, rotation);
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..80), body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = TerseData::parse(&data);
            if let Ok(msg) = ImprovedTerseObjectUpdate::parse(&body) {
                prop_assert_eq!(msg.to_bytes().unwrap(), body);
                for o in &msg.objects {
                    let _ = (o.terse(), o.texture_entry_bytes());
                }
            }
        }
    }
}
