//! `ObjectUpdateCompressed` (High 13): objects in the compressed layout (PROTOCOL §3.11), and
//! the value types of a compressed object's optional fields.
//!
//! The message keeps each block's `Data` raw, so `parse` then `emit` is byte-exact whatever the
//! data holds; [`CompressedBlock::object`] decodes it into a [`CompressedObject`].

use super::compressed_object::CompressedObject;
use super::update::TextColor;
use super::{REGION_DATA_LEN, read_region_data, write_region_data};
use crate::message::circuit::{message_repr, read_block, write_block};
use crate::message::codec::{MessageError, MessageRepr};
use crate::types::Uuid;
use crate::udp::MessageId;

/// Hover text with its colour (flag 0x04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoverText {
    /// The text without its NUL (must not contain NUL).
    pub text: Vec<u8>,
    /// The colour, alpha inverted as on the wire.
    pub color: TextColor,
}

/// An attached looped sound (flag 0x10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttachedSound {
    /// The sound asset.
    pub sound_id: Uuid,
    /// Gain.
    pub gain: f32,
    /// Sound flags.
    pub flags: u8,
    /// Cutoff radius.
    pub radius: f32,
}

/// The scratch pad (flag 0x01, never sent by OpenSim): SLV reads a `u32` size and then a
/// `u32`-length-prefixed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchPad {
    /// The first size word (SLV allocates this many bytes).
    pub size: u32,
    /// The length-prefixed blob.
    pub data: Vec<u8>,
}

/// A particle system in the new, size-prefixed form (flag 0x400): `u32` size + system block,
/// `u32` size + particle block (SLV `LLPartSysData::unpack`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Particles {
    /// The system block (68 bytes in current viewers).
    pub system: Vec<u8>,
    /// The particle data block (18–22 bytes in current viewers).
    pub particle: Vec<u8>,
}

/// Size of the legacy particle block (flag 0x08).
pub const LEGACY_PARTICLES_LEN: usize = 86;

/// One `ObjectData` block: the update flags and the raw compressed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedBlock {
    /// Prim flags.
    pub update_flags: u32,
    /// The compressed object; decode with [`CompressedBlock::object`].
    pub data: Vec<u8>,
}

impl CompressedBlock {
    /// Decodes the compressed object.
    ///
    /// # Errors
    /// As [`CompressedObject::parse`].
    pub fn object(&self) -> Result<CompressedObject, MessageError> {
        CompressedObject::parse(&self.data)
    }
}

/// `ObjectUpdateCompressed`: objects in the compressed layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUpdateCompressed {
    /// The region the objects are in.
    pub region_handle: u64,
    /// Time dilation × 65535.
    pub time_dilation: u16,
    /// One block per object.
    pub objects: Vec<CompressedBlock>,
}

message_repr! {
    ObjectUpdateCompressed, "ObjectUpdateCompressed", MessageId::High(13), false,
    parse(r) {
        let (region_handle, time_dilation) = read_region_data(r)?;
        let objects = read_block(r, |r| {
            Ok(CompressedBlock { update_flags: r.u32()?, data: r.var2()?.to_vec() })
        })?;
        Ok(ObjectUpdateCompressed { region_handle, time_dilation, objects })
    }
    emit(self, w) {
        write_region_data(w, self.region_handle, self.time_dilation);
        write_block(w, "ObjectData", &self.objects, |w, o| {
            w.u32(o.update_flags);
            w.var2("Data", &o.data);
        });
    }
    len(self) {
        REGION_DATA_LEN + 1 + self.objects.iter().map(|o| 6 + o.data.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::compressed_flags as cf;
    use super::super::compressed_object::tests::{base, rich};
    use super::*;
    use crate::message::codec::Reader;
    use crate::message::object::PCode;
    use crate::message::object::extra_params::{ExtraParam, ExtraParams};
    use crate::message::object::shape::PrimShape;
    use crate::message::testutil::template_agrees;
    use crate::types::{Quat, Vec3};
    use proptest::prelude::*;

    #[test]
    fn refuses_inconsistent_objects() {
        let bad = |o: CompressedObject| o.to_bytes().unwrap_err();
        assert!(matches!(
            bad(CompressedObject {
                extra_flags: cf::PARENT,
                ..base()
            }),
            MessageError::Invalid(_)
        ));
        assert!(matches!(
            bad(CompressedObject {
                tree_species: None,
                extra_flags: cf::SCRATCH_PAD,
                ..base()
            }),
            MessageError::Invalid(_)
        ));
        assert!(matches!(
            bad(CompressedObject {
                scratch_pad: Some(ScratchPad {
                    size: 0,
                    data: vec![]
                }),
                ..base()
            }),
            MessageError::Invalid(_)
        ));
        assert!(matches!(
            bad(CompressedObject {
                legacy_particles: Some(vec![0; 85]),
                ..base()
            }),
            MessageError::Invalid(_)
        ));
        assert!(matches!(
            bad(CompressedObject {
                extra_params: vec![],
                ..base()
            }),
            MessageError::Invalid(_)
        ));
        assert!(matches!(
            bad(CompressedObject {
                extra_params: vec![0, 0],
                ..base()
            }),
            MessageError::Invalid(_)
        ));
        assert!(matches!(
            bad(CompressedObject {
                media_url: Some(b"a\0b".to_vec()),
                ..base()
            }),
            MessageError::Invalid(_)
        ));
    }

    #[test]
    fn strings_need_their_nul() {
        let obj = CompressedObject {
            media_url: Some(b"x".to_vec()),
            tree_species: None,
            ..base()
        };
        let bytes = obj.to_bytes().unwrap();
        assert_eq!(CompressedObject::parse(&bytes).unwrap(), obj);
        // Remove the URL's NUL: the parse must not run on into the next fields.
        let at = 84 + 1;
        let mut broken = bytes.clone();
        broken.remove(at);
        assert!(CompressedObject::parse(&broken).is_err());
    }

    #[test]
    fn message_roundtrip_and_truncation() {
        let msg = ObjectUpdateCompressed {
            region_handle: 0x0003_E800_0003_E800,
            time_dilation: 65535,
            objects: vec![
                CompressedBlock {
                    update_flags: 0x1002_093C,
                    data: rich().to_bytes().unwrap(),
                },
                CompressedBlock {
                    update_flags: 0x1002_0D3C,
                    data: base().to_bytes().unwrap(),
                },
            ],
        };
        let bytes = msg.to_bytes().unwrap();
        assert_eq!(bytes.len(), msg.buffer_len());
        let back = ObjectUpdateCompressed::parse(&bytes).unwrap();
        assert_eq!(back, msg);
        template_agrees::<ObjectUpdateCompressed>(&bytes);
        assert_eq!(back.objects[1].object().unwrap(), base());
        for n in 0..bytes.len() {
            assert!(ObjectUpdateCompressed::parse(&bytes[..n]).is_err(), "{n}");
        }
        let mut extra = bytes;
        extra.push(1);
        assert_eq!(
            ObjectUpdateCompressed::parse(&extra),
            Err(MessageError::TrailingBytes(1))
        );
    }

    fn finite() -> impl Strategy<Value = f32> + Clone {
        -1.0e5f32..1.0e5
    }

    fn vec3() -> impl Strategy<Value = Vec3> + Clone {
        (finite(), finite(), finite()).prop_map(|(x, y, z)| Vec3::new(x, y, z))
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    fn cstr(max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
        proptest::collection::vec(1u8..=255, 0..max)
    }

    fn rotation() -> impl Strategy<Value = Quat> {
        (-1.0f32..1.0, -1.0f32..1.0, -1.0f32..1.0, -1.0f32..1.0).prop_map(|(x, y, z, w)| {
            let n = (x * x + y * y + z * z + w * w).sqrt().max(1e-3);
            let s = if w < 0.0 { -n } else { n };
            Quat::from_xyz(x / s, y / s, z / s)
        })
    }

    fn extra_params() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec((any::<u16>(), bytes(30)), 0..4).prop_map(|entries| {
            ExtraParams {
                params: entries
                    .into_iter()
                    .map(|(kind, data)| ExtraParam::Unknown { kind, data })
                    .collect(),
            }
            .to_bytes()
            .unwrap()
        })
    }

    prop_compose! {
        fn object()(
            (full_id, local_id, pcode, state, crc, material, click_action) in
                (any::<[u8; 16]>(), any::<u32>(), any::<u8>(), any::<u8>(), any::<u32>(), any::<u8>(), any::<u8>()),
            (scale, position, rotation, owner_id) in (vec3(), vec3(), rotation(), any::<[u8; 16]>()),
            (angular_velocity, parent_id, tree_or_pad, text, media_url, legacy_particles) in (
                proptest::option::of(vec3()),
                proptest::option::of(any::<u32>()),
                prop_oneof![
                    Just((None, None)),
                    any::<u8>().prop_map(|t| (Some(t), None)),
                    (any::<u32>(), bytes(20)).prop_map(|(size, data)| (None, Some(ScratchPad { size, data }))),
                ],
                proptest::option::of((cstr(30), any::<[u8; 4]>())),
                proptest::option::of(cstr(30)),
                proptest::option::of(proptest::collection::vec(any::<u8>(), LEGACY_PARTICLES_LEN)),
            ),
            (extra_params, sound, name_values, shape, texture_entry, texture_anim, particles) in (
                extra_params(),
                proptest::option::of((any::<[u8; 16]>(), finite(), any::<u8>(), finite())),
                proptest::option::of(cstr(60)),
                any::<[u8; 23]>(),
                bytes(80),
                proptest::option::of(bytes(20)),
                proptest::option::of((bytes(70), bytes(24))),
            ),
            unknown_bits in any::<u32>(),
            shadow in any::<bool>(),
        ) -> CompressedObject {
            let (tree_species, scratch_pad) = tree_or_pad;
            let mut extra_flags = unknown_bits & !cf::FIELD_BITS;
            if shadow && tree_species.is_some() {
                extra_flags |= cf::SCRATCH_PAD;
            }
            CompressedObject {
                full_id: Uuid(full_id), local_id, pcode: PCode::from(pcode), state, crc, material,
                click_action, scale, position, rotation, owner_id: Uuid(owner_id), angular_velocity,
                parent_id, tree_species, scratch_pad,
                text: text.map(|(text, c)| HoverText { text, color: TextColor(c) }),
                media_url, legacy_particles, extra_params,
                sound: sound.map(|(id, gain, flags, radius)| AttachedSound { sound_id: Uuid(id), gain, flags, radius }),
                name_values,
                shape: PrimShape::read_compressed(&mut Reader::new(&shape)).unwrap(),
                texture_entry, texture_anim,
                particles: particles.map(|(system, particle)| Particles { system, particle }),
                extra_flags,
            }
        }
    }

    proptest! {
        #[test]
        fn roundtrip_compressed_object(obj in object()) {
            let bytes = obj.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), obj.wire_len());
            let back = CompressedObject::parse(&bytes).unwrap();
            prop_assert_eq!(&back, &obj);
            prop_assert_eq!(back.to_bytes().unwrap(), bytes.clone());
            // Inside a message, as the template reads it.
            let msg = ObjectUpdateCompressed {
                region_handle: 1,
                time_dilation: 2,
                objects: vec![CompressedBlock { update_flags: 3, data: bytes }],
            };
            let body = msg.to_bytes().unwrap();
            template_agrees::<ObjectUpdateCompressed>(&body);
            prop_assert_eq!(ObjectUpdateCompressed::parse(&body).unwrap().objects[0].object().unwrap(), obj);
        }

        #[test]
        fn parse_never_panics(data in bytes(300)) {
            if let Ok(obj) = CompressedObject::parse(&data) {
                prop_assert_eq!(obj.to_bytes().unwrap(), data);
            }
        }

        #[test]
        fn mutated_objects_never_panic(obj in object(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let mut data = obj.to_bytes().unwrap();
            for (at, v) in edits {
                let at = at % data.len();
                data[at] = v;
            }
            if let Ok(obj) = CompressedObject::parse(&data) {
                prop_assert_eq!(obj.to_bytes().unwrap(), data);
            }
        }
    }
}
