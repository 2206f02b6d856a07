//! The compressed object inside each `ObjectUpdateCompressed` block (PROTOCOL §3.11; SLV
//! `llviewerobject.cpp` / `llvovolume.cpp` `OUT_FULL_COMPRESSED`; OpenSim `LLClientView.cs`
//! `CreateCompressedUpdateBlockZC`).
//!
//! [`CompressedObject::parse`] decodes every flag-dependent field in wire order and must consume
//! the data exactly; [`CompressedObject::to_bytes`] writes it back byte for byte. The flags word
//! is not stored as such: the optional fields say which bits are set, and
//! [`CompressedObject::extra_flags`] keeps the bits that select no field (unknown bits, or the
//! scratch-pad bit when the tree bit shadows it, as SLV reads `if tree … else if scratchpad`).

use super::PCode;
use super::compressed::{AttachedSound, HoverText, LEGACY_PARTICLES_LEN, Particles, ScratchPad};
use super::compressed_flags as cf;
use super::extra_params::ExtraParams;
use super::name_value::NameValues;
use super::shape::{PrimShape, ShapeKind};
use super::take_u32_prefixed;
use super::texture_entry::TextureEntry;
use super::update::{TextColor, classify};
use crate::message::codec::{MessageError, Reader, Writer};
use crate::types::{Quat, Uuid, Vec3};

/// One object of an `ObjectUpdateCompressed` block.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressedObject {
    /// The object's UUID.
    pub full_id: Uuid,
    /// Region-local id.
    pub local_id: u32,
    /// What the object is.
    pub pcode: PCode,
    /// Trees: species; attachments: attach point with nibbles swapped.
    pub state: u8,
    /// CRC for the viewer cache.
    pub crc: u32,
    /// Physical material.
    pub material: u8,
    /// What a click does.
    pub click_action: u8,
    /// Size in metres.
    pub scale: Vec3,
    /// Region-local for roots, parent-relative for children.
    pub position: Vec3,
    /// Rotation.
    pub rotation: Quat,
    /// The owner (zero unless there is a sound or particles).
    pub owner_id: Uuid,
    /// Flag 0x80.
    pub angular_velocity: Option<Vec3>,
    /// Flag 0x20: local id of the parent.
    pub parent_id: Option<u32>,
    /// Flag 0x02: tree or grass species.
    pub tree_species: Option<u8>,
    /// Flag 0x01 (only read without 0x02).
    pub scratch_pad: Option<ScratchPad>,
    /// Flag 0x04.
    pub text: Option<HoverText>,
    /// Flag 0x200: the URL without its NUL.
    pub media_url: Option<Vec<u8>>,
    /// Flag 0x08: the legacy particle block, [`LEGACY_PARTICLES_LEN`] bytes.
    pub legacy_particles: Option<Vec<u8>>,
    /// The extra-parameter blob (count and entries, always present); see
    /// [`CompressedObject::extra_params`].
    pub extra_params: Vec<u8>,
    /// Flag 0x10.
    pub sound: Option<AttachedSound>,
    /// Flag 0x100: name-value text without its NUL.
    pub name_values: Option<Vec<u8>>,
    /// Shape parameters (compressed order on the wire).
    pub shape: PrimShape,
    /// The TextureEntry bytes (a `u32` length on the wire).
    pub texture_entry: Vec<u8>,
    /// Flag 0x40: texture animation bytes (a `u32` length on the wire).
    pub texture_anim: Option<Vec<u8>>,
    /// Flag 0x400.
    pub particles: Option<Particles>,
    /// Flag bits that select no field here; ORed into the flags word on emit.
    pub extra_flags: u32,
}

/// Reads bytes up to a NUL and skips the NUL.
fn read_cstr(r: &mut Reader<'_>) -> Result<Vec<u8>, MessageError> {
    let rest = r.remaining();
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(MessageError::Truncated)?;
    let s = r.take(end)?.to_vec();
    r.u8()?;
    Ok(s)
}

fn write_cstr(w: &mut Writer<'_>, s: &[u8]) -> Result<(), MessageError> {
    if s.contains(&0) {
        return Err(MessageError::Invalid(
            "NUL inside a compressed-object string",
        ));
    }
    w.bytes(s);
    w.u8(0);
    Ok(())
}

/// Reads a `u32`-length-prefixed blob.
fn read_blob(r: &mut Reader<'_>) -> Result<Vec<u8>, MessageError> {
    Ok(take_u32_prefixed(r)?.to_vec())
}

fn write_blob(w: &mut Writer<'_>, field: &'static str, b: &[u8]) -> Result<(), MessageError> {
    let len = u32::try_from(b.len()).map_err(|_| MessageError::FieldTooLong {
        field,
        len: b.len(),
    })?;
    w.u32(len);
    w.bytes(b);
    Ok(())
}

impl CompressedObject {
    /// Decodes one block's `Data`, which must be consumed exactly.
    ///
    /// # Errors
    /// [`MessageError::Truncated`] when a field runs past the end (including a string without
    /// its NUL), [`MessageError::TrailingBytes`] when bytes are left over.
    pub fn parse(data: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(data);
        let full_id = r.uuid()?;
        let local_id = r.u32()?;
        let pcode = PCode::from(r.u8()?);
        let state = r.u8()?;
        let crc = r.u32()?;
        let material = r.u8()?;
        let click_action = r.u8()?;
        let scale = r.vec3()?;
        let position = r.vec3()?;
        let rotation = r.quat()?;
        let flags = r.u32()?;
        let owner_id = r.uuid()?;
        let has = |bit: u32| flags & bit != 0;
        let angular_velocity = if has(cf::ANGULAR_VELOCITY) {
            Some(r.vec3()?)
        } else {
            None
        };
        let parent_id = if has(cf::PARENT) {
            Some(r.u32()?)
        } else {
            None
        };
        let (tree_species, scratch_pad) = if has(cf::TREE) {
            (Some(r.u8()?), None)
        } else if has(cf::SCRATCH_PAD) {
            let size = r.u32()?;
            (
                None,
                Some(ScratchPad {
                    size,
                    data: read_blob(&mut r)?,
                }),
            )
        } else {
            (None, None)
        };
        let text = if has(cf::TEXT) {
            Some(HoverText {
                text: read_cstr(&mut r)?,
                color: TextColor(r.array()?),
            })
        } else {
            None
        };
        let media_url = if has(cf::MEDIA_URL) {
            Some(read_cstr(&mut r)?)
        } else {
            None
        };
        let legacy_particles = if has(cf::PARTICLES) {
            Some(r.take(LEGACY_PARTICLES_LEN)?.to_vec())
        } else {
            None
        };
        let extra_len = ExtraParams::wire_len(r.remaining())?;
        let extra_params = r.take(extra_len)?.to_vec();
        let sound = if has(cf::SOUND) {
            Some(AttachedSound {
                sound_id: r.uuid()?,
                gain: r.f32()?,
                flags: r.u8()?,
                radius: r.f32()?,
            })
        } else {
            None
        };
        let name_values = if has(cf::NAME_VALUES) {
            Some(read_cstr(&mut r)?)
        } else {
            None
        };
        let shape = PrimShape::read_compressed(&mut r)?;
        let texture_entry = read_blob(&mut r)?;
        let texture_anim = if has(cf::TEXTURE_ANIM) {
            Some(read_blob(&mut r)?)
        } else {
            None
        };
        let particles = if has(cf::PARTICLES_NEW) {
            Some(Particles {
                system: read_blob(&mut r)?,
                particle: read_blob(&mut r)?,
            })
        } else {
            None
        };
        r.finish()?;
        let mut obj = CompressedObject {
            full_id,
            local_id,
            pcode,
            state,
            crc,
            material,
            click_action,
            scale,
            position,
            rotation,
            owner_id,
            angular_velocity,
            parent_id,
            tree_species,
            scratch_pad,
            text,
            media_url,
            legacy_particles,
            extra_params,
            sound,
            name_values,
            shape,
            texture_entry,
            texture_anim,
            particles,
            extra_flags: 0,
        };
        obj.extra_flags = flags & !obj.field_flags();
        Ok(obj)
    }

    /// The flag bits implied by the optional fields.
    fn field_flags(&self) -> u32 {
        [
            (self.angular_velocity.is_some(), cf::ANGULAR_VELOCITY),
            (self.parent_id.is_some(), cf::PARENT),
            (self.tree_species.is_some(), cf::TREE),
            (self.scratch_pad.is_some(), cf::SCRATCH_PAD),
            (self.text.is_some(), cf::TEXT),
            (self.media_url.is_some(), cf::MEDIA_URL),
            (self.legacy_particles.is_some(), cf::PARTICLES),
            (self.sound.is_some(), cf::SOUND),
            (self.name_values.is_some(), cf::NAME_VALUES),
            (self.texture_anim.is_some(), cf::TEXTURE_ANIM),
            (self.particles.is_some(), cf::PARTICLES_NEW),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit)
    }

    /// The `CompressedFlags` word as it goes on the wire.
    pub fn compressed_flags(&self) -> u32 {
        self.field_flags() | self.extra_flags
    }

    fn check(&self) -> Result<(), MessageError> {
        let shadowed = if self.tree_species.is_some() {
            cf::SCRATCH_PAD
        } else {
            0
        };
        if self.extra_flags & cf::FIELD_BITS & !shadowed != 0 {
            return Err(MessageError::Invalid("extra flag bit selects a field"));
        }
        if self.tree_species.is_some() && self.scratch_pad.is_some() {
            return Err(MessageError::Invalid(
                "tree species and scratch pad are exclusive",
            ));
        }
        if self
            .legacy_particles
            .as_ref()
            .is_some_and(|p| p.len() != LEGACY_PARTICLES_LEN)
        {
            return Err(MessageError::Invalid("legacy particle block length"));
        }
        if ExtraParams::wire_len(&self.extra_params).ok() != Some(self.extra_params.len()) {
            return Err(MessageError::Invalid("extra params blob"));
        }
        Ok(())
    }

    /// The encoded length.
    pub fn wire_len(&self) -> usize {
        let opt = |o: Option<usize>| o.unwrap_or(0);
        84 + opt(self.angular_velocity.map(|_| 12))
            + opt(self.parent_id.map(|_| 4))
            + opt(self.tree_species.map(|_| 1))
            + opt(self.scratch_pad.as_ref().map(|s| 8 + s.data.len()))
            + opt(self.text.as_ref().map(|t| t.text.len() + 5))
            + opt(self.media_url.as_ref().map(|m| m.len() + 1))
            + opt(self.legacy_particles.as_ref().map(Vec::len))
            + self.extra_params.len()
            + opt(self.sound.map(|_| 25))
            + opt(self.name_values.as_ref().map(|n| n.len() + 1))
            + PrimShape::WIRE_LEN
            + 4
            + self.texture_entry.len()
            + opt(self.texture_anim.as_ref().map(|t| 4 + t.len()))
            + opt(self
                .particles
                .as_ref()
                .map(|p| 8 + p.system.len() + p.particle.len()))
    }

    /// Encodes the object.
    ///
    /// # Errors
    /// [`MessageError::Invalid`] when [`Self::extra_flags`] names a field bit, tree species and
    /// scratch pad are both set, the legacy particle block is not 86 bytes, the extra-params
    /// blob is malformed or a string contains NUL; [`MessageError::FieldTooLong`] for a blob
    /// over `u32::MAX` bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        self.check()?;
        let mut out = vec![0; self.wire_len()];
        let mut w = Writer::new(&mut out);
        w.uuid(&self.full_id);
        w.u32(self.local_id);
        w.u8(u8::from(self.pcode));
        w.u8(self.state);
        w.u32(self.crc);
        w.u8(self.material);
        w.u8(self.click_action);
        w.vec3(&self.scale);
        w.vec3(&self.position);
        write_rotation(&mut w, &self.rotation);
        w.u32(self.compressed_flags());
        w.uuid(&self.owner_id);
        if let Some(v) = &self.angular_velocity {
            w.vec3(v);
        }
        if let Some(p) = self.parent_id {
            w.u32(p);
        }
        if let Some(t) = self.tree_species {
            w.u8(t);
        } else if let Some(s) = &self.scratch_pad {
            w.u32(s.size);
            write_blob(&mut w, "ScratchPad", &s.data)?;
        }
        if let Some(t) = &self.text {
            write_cstr(&mut w, &t.text)?;
            w.bytes(&t.color.0);
        }
        if let Some(m) = &self.media_url {
            write_cstr(&mut w, m)?;
        }
        if let Some(p) = &self.legacy_particles {
            w.bytes(p);
        }
        w.bytes(&self.extra_params);
        if let Some(s) = &self.sound {
            w.uuid(&s.sound_id);
            w.f32(s.gain);
            w.u8(s.flags);
            w.f32(s.radius);
        }
        if let Some(n) = &self.name_values {
            write_cstr(&mut w, n)?;
        }
        self.shape.write_compressed(&mut w);
        write_blob(&mut w, "TextureEntry", &self.texture_entry)?;
        if let Some(t) = &self.texture_anim {
            write_blob(&mut w, "TextureAnim", t)?;
        }
        if let Some(p) = &self.particles {
            write_blob(&mut w, "ParticleSystem", &p.system)?;
            write_blob(&mut w, "ParticleData", &p.particle)?;
        }
        w.finish()?;
        Ok(out)
    }

    /// Decodes the extra parameters.
    ///
    /// # Errors
    /// As [`ExtraParams::parse`].
    pub fn extra_params(&self) -> Result<ExtraParams, MessageError> {
        ExtraParams::parse(&self.extra_params)
    }

    /// Decodes the TextureEntry.
    ///
    /// # Errors
    /// As [`TextureEntry::parse`].
    pub fn texture_entry(&self) -> Result<TextureEntry, MessageError> {
        TextureEntry::parse(&self.texture_entry)
    }

    /// Decodes the name-value text (empty without flag 0x100).
    pub fn name_value_list(&self) -> NameValues {
        self.name_values
            .as_deref()
            .map(NameValues::parse)
            .unwrap_or_default()
    }

    /// The parent's local id, 0 for a root.
    pub fn parent(&self) -> u32 {
        self.parent_id.unwrap_or(0)
    }

    /// The shape class, with sculpts and meshes recognised from the extra parameters.
    pub fn shape_kind(&self) -> ShapeKind {
        classify(&self.shape, &self.extra_params)
    }
}

/// Writes a rotation so that a parsed one (w recovered from x, y, z) goes back bit for bit; any
/// other value is normalised with `w ≥ 0` first.
pub(crate) fn write_rotation(w: &mut Writer<'_>, q: &Quat) {
    // Compare bits, not values: a NaN read off the wire must still go back unchanged.
    if q.w.to_bits() == Quat::from_xyz(q.x, q.y, q.z).w.to_bits() {
        w.f32(q.x);
        w.f32(q.y);
        w.f32(q.z);
    } else {
        w.quat(q);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::message::object::extra_params::{ExtraParam, Light};

    pub(crate) fn base() -> CompressedObject {
        CompressedObject {
            full_id: Uuid([0x44; 16]),
            local_id: 665_494_806,
            pcode: PCode::Tree,
            state: 1,
            crc: 7,
            material: 0,
            click_action: 0,
            scale: Vec3::new(8.0, 8.0, 8.0),
            position: Vec3::new(140.0, 140.0, 22.12),
            rotation: Quat::IDENTITY,
            owner_id: Uuid::NIL,
            angular_velocity: None,
            parent_id: None,
            tree_species: Some(1),
            scratch_pad: None,
            text: None,
            media_url: None,
            legacy_particles: None,
            extra_params: vec![0],
            sound: None,
            name_values: None,
            shape: PrimShape::default(),
            texture_entry: Vec::new(),
            texture_anim: None,
            particles: None,
            extra_flags: 0,
        }
    }

    /// Every optional field present.
    pub(crate) fn rich() -> CompressedObject {
        CompressedObject {
            pcode: PCode::Prim,
            rotation: Quat::from_yaw(0.7),
            angular_velocity: Some(Vec3::new(0.0, 0.0, 1.5)),
            parent_id: Some(665_494_804),
            tree_species: None,
            scratch_pad: Some(ScratchPad {
                size: 3,
                data: vec![1, 2, 3],
            }),
            text: Some(HoverText {
                text: b"Hi".to_vec(),
                color: TextColor::from_rgba([255, 0, 0, 255]),
            }),
            media_url: Some(b"http://example.org/".to_vec()),
            legacy_particles: Some(vec![0x5A; LEGACY_PARTICLES_LEN]),
            extra_params: ExtraParams {
                params: vec![ExtraParam::Light(Light {
                    color: [255; 4],
                    radius: 10.0,
                    cutoff: 0.0,
                    falloff: 0.75,
                })],
            }
            .to_bytes()
            .unwrap(),
            sound: Some(AttachedSound {
                sound_id: Uuid([9; 16]),
                gain: 0.5,
                flags: 1,
                radius: 20.0,
            }),
            name_values: Some(
                b"AttachItemID STRING RW SV 00000000-0000-0000-0000-000000000001".to_vec(),
            ),
            shape: PrimShape::with_curves(0x20, 0x05),
            texture_entry: TextureEntry::default().to_bytes(),
            texture_anim: Some(vec![1; 16]),
            particles: Some(Particles {
                system: vec![2; 68],
                particle: vec![3; 18],
            }),
            extra_flags: 0x8000_0000,
            ..base()
        }
    }

    #[test]
    fn tree_is_the_fixed_113_byte_form() {
        let bytes = base().to_bytes().unwrap();
        assert_eq!(bytes.len(), 113);
        assert_eq!(
            u32::from_le_bytes(bytes[64..68].try_into().unwrap()),
            cf::TREE
        );
        // Species byte, extra-params count 0, 23 shape bytes and the TE length: all but the
        // species are zero.
        assert_eq!(bytes[84], 1);
        assert!(bytes[85..].iter().all(|&b| b == 0));
        let back = CompressedObject::parse(&bytes).unwrap();
        assert_eq!(back, base());
        assert_eq!(back.shape_kind(), ShapeKind::Other);
        assert_eq!(back.parent(), 0);
    }

    #[test]
    fn roundtrip_every_optional_field() {
        let obj = rich();
        let bytes = obj.to_bytes().unwrap();
        assert_eq!(bytes.len(), obj.wire_len());
        let back = CompressedObject::parse(&bytes).unwrap();
        assert_eq!(back, obj);
        assert_eq!(back.compressed_flags(), 0x8000_07FD);
        assert_eq!(back.parent(), 665_494_804);
        assert_eq!(back.shape_kind(), ShapeKind::Sphere);
        assert_eq!(back.extra_params().unwrap().light().unwrap().radius, 10.0);
        assert_eq!(back.texture_entry().unwrap(), TextureEntry::default());
        assert_eq!(back.name_value_list().entries[0].name, "AttachItemID");
        assert!(base().name_value_list().entries.is_empty());
    }

    #[test]
    fn rejects_every_truncation_and_trailing_bytes() {
        for obj in [base(), rich()] {
            let bytes = obj.to_bytes().unwrap();
            for n in 0..bytes.len() {
                assert!(CompressedObject::parse(&bytes[..n]).is_err(), "{n}");
            }
            let mut extra = bytes.clone();
            extra.push(0);
            assert_eq!(
                CompressedObject::parse(&extra),
                Err(MessageError::TrailingBytes(1))
            );
        }
    }

    #[test]
    fn tree_bit_shadows_scratch_pad() {
        let mut bytes = base().to_bytes().unwrap();
        bytes[64] |= 0x01;
        let obj = CompressedObject::parse(&bytes).unwrap();
        assert_eq!(
            (obj.tree_species, obj.scratch_pad.as_ref(), obj.extra_flags),
            (Some(1), None, 0x01)
        );
        assert_eq!(obj.to_bytes().unwrap(), bytes);
    }
}
