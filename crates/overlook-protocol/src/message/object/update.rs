//! `ObjectUpdate` (High 12): full object updates (PROTOCOL §3.9; template `ObjectUpdate`).
//!
//! Every template field has a place in [`ObjectData`]; variable fields stay raw bytes so that
//! `emit` reproduces a parsed body exactly, and typed decoders sit alongside
//! ([`ObjectData::motion`], [`ObjectData::texture_entry`], [`ObjectData::extra_params`],
//! [`ObjectData::name_values`], …). A bad blob only fails its own decoder, never the message.

use super::PCode;
use super::extra_params::{ExtraParams, SculptKind};
use super::motion::MotionData;
use super::name_value::NameValues;
use super::shape::{PrimShape, ShapeKind};
use super::texture_entry::TextureEntry;
use super::{REGION_DATA_LEN, read_region_data, write_region_data};
use crate::message::circuit::{message_repr, read_block, write_block};
use crate::message::codec::{MessageError, MessageRepr, Reader, Writer, text_from_wire};
use crate::types::{Uuid, Vec3};
use crate::udp::MessageId;

/// Hover-text colour as on the wire: R, G, B and 255 − A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TextColor(pub [u8; 4]);

impl TextColor {
    /// The colour as RGBA (alpha un-inverted).
    pub fn rgba(&self) -> [u8; 4] {
        let [r, g, b, a] = self.0;
        [r, g, b, 255 - a]
    }

    /// The wire form of an RGBA colour.
    pub fn from_rgba([r, g, b, a]: [u8; 4]) -> Self {
        TextColor([r, g, b, 255 - a])
    }
}

/// Classifies an object from its shape and, when present, its sculpt/mesh parameters.
pub(crate) fn classify(shape: &PrimShape, extra_params: &[u8]) -> ShapeKind {
    let sculpt = ExtraParams::parse(extra_params)
        .ok()
        .and_then(|p| p.sculpt().map(|s| s.kind()));
    match sculpt {
        Some(SculptKind::Mesh) => ShapeKind::Mesh,
        Some(SculptKind::Sphere | SculptKind::Torus | SculptKind::Plane | SculptKind::Cylinder) => {
            ShapeKind::Sculpt
        }
        _ => shape.kind(),
    }
}

/// One `ObjectData` block: a whole object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectData {
    /// Region-local id (`ID`), used by terse updates, kills and parent links.
    pub id: u32,
    /// Trees: species; attachments: attach point with nibbles swapped.
    pub state: u8,
    /// The object's UUID (`FullID`); for our own avatar, the agent id.
    pub full_id: Uuid,
    /// CRC of the object's state, for the viewer cache.
    pub crc: u32,
    /// What the object is.
    pub pcode: PCode,
    /// Physical material (stone, metal, glass, wood, flesh, plastic, rubber, light).
    pub material: u8,
    /// What a click does.
    pub click_action: u8,
    /// Size in metres.
    pub scale: Vec3,
    /// The motion blob; decode with [`ObjectData::motion`].
    pub object_data: Vec<u8>,
    /// Local id of the parent (0 = root in the region).
    pub parent_id: u32,
    /// Prim flags.
    pub update_flags: u32,
    /// Shape parameters.
    pub shape: PrimShape,
    /// Per-face appearance; decode with [`ObjectData::texture_entry`].
    pub texture_entry: Vec<u8>,
    /// Texture animation (16 bytes when present).
    pub texture_anim: Vec<u8>,
    /// Name-value text; decode with [`ObjectData::name_values`].
    pub name_value: Vec<u8>,
    /// Type-specific data (trees and grass: one species byte).
    pub data: Vec<u8>,
    /// Hover text (NUL-terminated); see [`ObjectData::text`].
    pub text: Vec<u8>,
    /// Hover-text colour.
    pub text_color: TextColor,
    /// Media URL (NUL-terminated); see [`ObjectData::media_url`].
    pub media_url: Vec<u8>,
    /// Legacy particle system block.
    pub ps_block: Vec<u8>,
    /// Extra parameters; decode with [`ObjectData::extra_params`].
    pub extra_params: Vec<u8>,
    /// Attached looped sound.
    pub sound: Uuid,
    /// The owner (only meaningful with a sound or particles).
    pub owner_id: Uuid,
    /// Sound gain.
    pub gain: f32,
    /// Sound flags.
    pub sound_flags: u8,
    /// Sound cutoff radius.
    pub radius: f32,
    /// Joint type (unused).
    pub joint_type: u8,
    /// Joint pivot (unused).
    pub joint_pivot: Vec3,
    /// Joint axis or anchor (unused).
    pub joint_axis_or_anchor: Vec3,
}

impl Default for ObjectData {
    /// An all-zero block: a prim (PCode 9) with local id 0, no motion blob and empty fields.
    fn default() -> Self {
        ObjectData {
            id: 0,
            state: 0,
            full_id: Uuid::NIL,
            crc: 0,
            pcode: PCode::Prim,
            material: 0,
            click_action: 0,
            scale: Vec3::ZERO,
            object_data: Vec::new(),
            parent_id: 0,
            update_flags: 0,
            shape: PrimShape::default(),
            texture_entry: Vec::new(),
            texture_anim: Vec::new(),
            name_value: Vec::new(),
            data: Vec::new(),
            text: Vec::new(),
            text_color: TextColor::default(),
            media_url: Vec::new(),
            ps_block: Vec::new(),
            extra_params: Vec::new(),
            sound: Uuid::NIL,
            owner_id: Uuid::NIL,
            gain: 0.0,
            sound_flags: 0,
            radius: 0.0,
            joint_type: 0,
            joint_pivot: Vec3::ZERO,
            joint_axis_or_anchor: Vec3::ZERO,
        }
    }
}

impl ObjectData {
    /// Bytes of the fixed-size fields (and the length prefixes of the variable ones).
    const FIXED_LEN: usize = 4
        + 1
        + 16
        + 4
        + 1
        + 1
        + 1
        + 12
        + 1
        + 4
        + 4
        + PrimShape::WIRE_LEN
        + 2
        + 1
        + 2
        + 2
        + 1
        + 4
        + 1
        + 1
        + 1
        + 16
        + 16
        + 4
        + 1
        + 4
        + 1
        + 12
        + 12;

    fn read(r: &mut Reader<'_>) -> Result<Self, MessageError> {
        Ok(ObjectData {
            id: r.u32()?,
            state: r.u8()?,
            full_id: r.uuid()?,
            crc: r.u32()?,
            pcode: PCode::from(r.u8()?),
            material: r.u8()?,
            click_action: r.u8()?,
            scale: r.vec3()?,
            object_data: r.var1()?.to_vec(),
            parent_id: r.u32()?,
            update_flags: r.u32()?,
            shape: PrimShape::read_update(r)?,
            texture_entry: r.var2()?.to_vec(),
            texture_anim: r.var1()?.to_vec(),
            name_value: r.var2()?.to_vec(),
            data: r.var2()?.to_vec(),
            text: r.var1()?.to_vec(),
            text_color: TextColor(r.array()?),
            media_url: r.var1()?.to_vec(),
            ps_block: r.var1()?.to_vec(),
            extra_params: r.var1()?.to_vec(),
            sound: r.uuid()?,
            owner_id: r.uuid()?,
            gain: r.f32()?,
            sound_flags: r.u8()?,
            radius: r.f32()?,
            joint_type: r.u8()?,
            joint_pivot: r.vec3()?,
            joint_axis_or_anchor: r.vec3()?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.id);
        w.u8(self.state);
        w.uuid(&self.full_id);
        w.u32(self.crc);
        w.u8(u8::from(self.pcode));
        w.u8(self.material);
        w.u8(self.click_action);
        w.vec3(&self.scale);
        w.var1("ObjectData", &self.object_data);
        w.u32(self.parent_id);
        w.u32(self.update_flags);
        self.shape.write_update(w);
        w.var2("TextureEntry", &self.texture_entry);
        w.var1("TextureAnim", &self.texture_anim);
        w.var2("NameValue", &self.name_value);
        w.var2("Data", &self.data);
        w.var1("Text", &self.text);
        w.bytes(&self.text_color.0);
        w.var1("MediaURL", &self.media_url);
        w.var1("PSBlock", &self.ps_block);
        w.var1("ExtraParams", &self.extra_params);
        w.uuid(&self.sound);
        w.uuid(&self.owner_id);
        w.f32(self.gain);
        w.u8(self.sound_flags);
        w.f32(self.radius);
        w.u8(self.joint_type);
        w.vec3(&self.joint_pivot);
        w.vec3(&self.joint_axis_or_anchor);
    }

    fn wire_len(&self) -> usize {
        Self::FIXED_LEN
            + self.object_data.len()
            + self.texture_entry.len()
            + self.texture_anim.len()
            + self.name_value.len()
            + self.data.len()
            + self.text.len()
            + self.media_url.len()
            + self.ps_block.len()
            + self.extra_params.len()
    }

    /// Decodes the motion blob (position, velocity, rotation, …; avatars add a collision plane).
    ///
    /// # Errors
    /// [`MessageError::Invalid`] for a blob length no layout has.
    pub fn motion(&self) -> Result<MotionData, MessageError> {
        MotionData::parse(&self.object_data)
    }

    /// Decodes the TextureEntry.
    ///
    /// # Errors
    /// As [`TextureEntry::parse`].
    pub fn texture_entry(&self) -> Result<TextureEntry, MessageError> {
        TextureEntry::parse(&self.texture_entry)
    }

    /// Decodes the extra parameters (an empty blob means none).
    ///
    /// # Errors
    /// As [`ExtraParams::parse`].
    pub fn extra_params(&self) -> Result<ExtraParams, MessageError> {
        ExtraParams::parse(&self.extra_params)
    }

    /// Decodes the name-value text.
    pub fn name_values(&self) -> NameValues {
        NameValues::parse(&self.name_value)
    }

    /// The hover text.
    pub fn text(&self) -> String {
        text_from_wire(&self.text)
    }

    /// The media URL.
    pub fn media_url(&self) -> String {
        text_from_wire(&self.media_url)
    }

    /// The shape class, with sculpts and meshes recognised from the extra parameters.
    pub fn shape_kind(&self) -> ShapeKind {
        classify(&self.shape, &self.extra_params)
    }
}

/// `ObjectUpdate`: full updates for one or more objects.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectUpdate {
    /// The region the objects are in.
    pub region_handle: u64,
    /// Time dilation × 65535.
    pub time_dilation: u16,
    /// One block per object.
    pub objects: Vec<ObjectData>,
}

message_repr! {
    ObjectUpdate, "ObjectUpdate", MessageId::High(12), true,
    parse(r) {
        let (region_handle, time_dilation) = read_region_data(r)?;
        let objects = read_block(r, ObjectData::read)?;
        Ok(ObjectUpdate { region_handle, time_dilation, objects })
    }
    emit(self, w) {
        write_region_data(w, self.region_handle, self.time_dilation);
        write_block(w, "ObjectData", &self.objects, |w, o| o.write(w));
    }
    len(self) { REGION_DATA_LEN + 1 + self.objects.iter().map(ObjectData::wire_len).sum::<usize>() }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::message::object::motion::Motion;
    use crate::message::testutil::template_agrees;
    use crate::types::{Quat, Vec4};
    use proptest::prelude::*;

    /// A hand-built avatar block like OpenSim's.
    pub(crate) fn avatar() -> ObjectData {
        ObjectData {
            id: 665_494_845,
            full_id: Uuid([0x7c; 16]),
            pcode: PCode::Avatar,
            material: 4,
            scale: Vec3::new(0.45, 0.6, 1.9),
            object_data: MotionData::Avatar {
                collision_plane: Vec4 {
                    x: 0.0,
                    y: 0.0,
                    z: 1.0,
                    w: 25.0,
                },
                motion: Motion {
                    position: Vec3::new(128.0, 128.0, 30.0),
                    rotation: Quat::IDENTITY,
                    ..Motion::default()
                },
            }
            .to_bytes()
            .unwrap(),
            name_value: b"FirstName STRING RW SV Capture\nLastName STRING RW SV Probe\0".to_vec(),
            text: b"hello\0".to_vec(),
            text_color: TextColor::from_rgba([1, 2, 3, 255]),
            ..ObjectData::default()
        }
    }

    fn check(msg: &ObjectUpdate) -> Vec<u8> {
        let mut buf = vec![0xAA; msg.buffer_len() + 8];
        let n = msg.emit(&mut buf).unwrap();
        assert_eq!(n, msg.buffer_len());
        buf.truncate(n);
        assert_eq!(&ObjectUpdate::parse(&buf).unwrap(), msg);
        template_agrees::<ObjectUpdate>(&buf);
        buf
    }

    #[test]
    fn roundtrip_avatar_block() {
        let msg = ObjectUpdate {
            region_handle: 0x0003_E800_0003_E800,
            time_dilation: 65535,
            objects: vec![avatar()],
        };
        let bytes = check(&msg);
        assert_eq!(bytes.len(), msg.buffer_len());
        let o = &ObjectUpdate::parse(&bytes).unwrap().objects[0];
        assert_eq!(o.name_values().first_name(), Some("Capture"));
        assert_eq!(o.text(), "hello");
        assert_eq!(o.text_color.rgba(), [1, 2, 3, 255]);
        assert_eq!(o.text_color.0[3], 0);
        assert_eq!(o.motion().unwrap().motion().unwrap().position.z, 30.0);
        assert_eq!(o.shape_kind(), ShapeKind::Other);
        assert_eq!(o.extra_params().unwrap(), ExtraParams::default());
        assert_eq!(o.texture_entry().unwrap(), TextureEntry::default());
        assert_eq!(o.media_url(), "");
    }

    #[test]
    fn rejects_truncation_trailing_and_short_buffers() {
        let msg = ObjectUpdate {
            region_handle: 1,
            time_dilation: 2,
            objects: vec![avatar(), avatar()],
        };
        let bytes = check(&msg);
        for n in 0..bytes.len() {
            assert!(ObjectUpdate::parse(&bytes[..n]).is_err(), "{n}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(
            ObjectUpdate::parse(&extra),
            Err(MessageError::TrailingBytes(1))
        );
        let mut short = vec![0; bytes.len() - 1];
        assert_eq!(msg.emit(&mut short), Err(MessageError::BufferTooSmall));
        let mut long = msg.clone();
        long.objects[0].object_data = vec![0; 256];
        assert!(matches!(
            long.to_bytes(),
            Err(MessageError::FieldTooLong {
                field: "ObjectData",
                ..
            })
        ));
    }

    #[test]
    fn classifies_sculpt_and_mesh_from_extra_params() {
        use crate::message::object::extra_params::{ExtraParam, Sculpt};
        let mut o = avatar();
        o.pcode = PCode::Prim;
        o.shape.path_curve = 0x10;
        o.shape.profile_curve = 0x01;
        assert_eq!(o.shape_kind(), ShapeKind::Box);
        for (kind_byte, want) in [
            (5, ShapeKind::Mesh),
            (1, ShapeKind::Sculpt),
            (0x44, ShapeKind::Sculpt),
        ] {
            o.extra_params = ExtraParams {
                params: vec![ExtraParam::Sculpt(Sculpt {
                    texture: Uuid([1; 16]),
                    kind_byte,
                })],
            }
            .to_bytes()
            .unwrap();
            assert_eq!(o.shape_kind(), want);
        }
    }

    fn finite() -> impl Strategy<Value = f32> + Clone {
        -1.0e6f32..1.0e6
    }

    fn vec3() -> impl Strategy<Value = Vec3> {
        (finite(), finite(), finite()).prop_map(|(x, y, z)| Vec3::new(x, y, z))
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    prop_compose! {
        fn shape()(b in any::<[u8; 23]>()) -> PrimShape {
            PrimShape::read_update(&mut Reader::new(&b)).unwrap()
        }
    }

    prop_compose! {
        fn object_data()(
            (id, state, full_id, crc, pcode, material, click_action) in
                (any::<u32>(), any::<u8>(), any::<[u8; 16]>(), any::<u32>(), any::<u8>(), any::<u8>(), any::<u8>()),
            (scale, object_data, parent_id, update_flags, shape) in
                (vec3(), bytes(80), any::<u32>(), any::<u32>(), shape()),
            (texture_entry, texture_anim, name_value, data, text, text_color, media_url) in
                (bytes(100), bytes(20), bytes(60), bytes(4), bytes(20), any::<[u8; 4]>(), bytes(20)),
            (ps_block, extra_params, sound, owner_id, gain, sound_flags, radius) in
                (bytes(10), bytes(40), any::<[u8; 16]>(), any::<[u8; 16]>(), finite(), any::<u8>(), finite()),
            (joint_type, joint_pivot, joint_axis_or_anchor) in (any::<u8>(), vec3(), vec3()),
        ) -> ObjectData {
            ObjectData {
                id, state, full_id: Uuid(full_id), crc, pcode: PCode::from(pcode), material, click_action,
                scale, object_data, parent_id, update_flags, shape, texture_entry, texture_anim,
                name_value, data, text, text_color: TextColor(text_color), media_url, ps_block,
                extra_params, sound: Uuid(sound), owner_id: Uuid(owner_id), gain, sound_flags, radius,
                joint_type, joint_pivot, joint_axis_or_anchor,
            }
        }
    }

    proptest! {
        #[test]
        fn roundtrip_object_update(
            region_handle in any::<u64>(),
            time_dilation in any::<u16>(),
            objects in proptest::collection::vec(object_data(), 0..4),
        ) {
            let msg = ObjectUpdate { region_handle, time_dilation, objects };
            let bytes = msg.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), msg.buffer_len());
            template_agrees::<ObjectUpdate>(&bytes);
            prop_assert_eq!(ObjectUpdate::parse(&bytes).unwrap(), msg);
        }

        #[test]
        fn parse_never_panics(body in bytes(600)) {
            if let Ok(msg) = ObjectUpdate::parse(&body) {
                prop_assert_eq!(msg.to_bytes().unwrap(), body);
                for o in &msg.objects {
                    let _ = (o.motion(), o.texture_entry(), o.extra_params(), o.name_values(), o.shape_kind());
                }
            }
        }
    }
}
