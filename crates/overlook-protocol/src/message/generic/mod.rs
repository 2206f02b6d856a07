//! The template-driven generic message codec: any message body ⇄ [`GenericMessage`].
//!
//! [`decode`] walks the template's layout for a message number ([`super::template()`]):
//! `Single` blocks once, `Multiple N` blocks N times, `Variable` blocks after their u8 repeat
//! count, each field by its type (PROTOCOL §2.9). The whole body must be consumed. [`encode`] is
//! the exact inverse: for every body that [`decode`] accepts, `encode(&decode(body)?)` returns
//! the same bytes, with one exception: a `BOOL` byte other than 0 or 1 comes back as 1.
//!
//! **Omitted trailing `Variable` blocks.** A body may end where its trailing `Variable` blocks
//! would begin, without even their count bytes: the SL viewer's reader takes them as 0
//! repetitions ("missing variable blocks at end of message are legal", SLV
//! `lltemplatemessagereader.cpp` `decodeData`), and OpenSim 0.9.2.2 relies on it — its
//! `AvatarAppearance` stops after `AppearanceHover`, leaving out `AttachmentBlock`. [`decode`]
//! accepts that when at least one block came before, and records how many blocks were left out
//! in [`GenericMessage::omitted`] so that [`encode`] leaves them out again. Any other short body
//! is [`MessageError::Truncated`].
//!
//! The generic form drives logging and `overlook replay`, and is the independent oracle the
//! typed messages are tested against. Its [`Display`](core::fmt::Display) prints a readable dump
//! (`display.rs`).

mod display;
mod encode;

pub use encode::{encode, encode_with};

use core::net::Ipv4Addr;

use super::codec::{MessageError, Reader};
use super::template::{BlockKind, FieldType, Template, template};
use crate::types::{Quat, Uuid, Vec3, Vec3d, Vec4};
use crate::udp::MessageId;

/// A decoded message of any kind: its blocks and fields as the template names them.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericMessage {
    /// The template name.
    pub name: &'static str,
    /// The message number.
    pub id: MessageId,
    /// One entry per block repetition, in wire order (a `Variable` block repeated 0 times has
    /// none; a `Multiple 4` block has 4).
    pub blocks: Vec<GenericBlock>,
    /// How many trailing `Variable` blocks of the template were absent from the body
    /// altogether, count byte included (see the module docs); 0 for a complete body.
    pub omitted: usize,
}

/// One repetition of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericBlock {
    /// The template block name.
    pub name: &'static str,
    /// Every field, in template order, with its value.
    pub fields: Vec<(&'static str, FieldValue)>,
}

/// The value of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// `U8`.
    U8(u8),
    /// `U16`.
    U16(u16),
    /// `U32`.
    U32(u32),
    /// `U64`.
    U64(u64),
    /// `S8`.
    S8(i8),
    /// `S16`.
    S16(i16),
    /// `S32`.
    S32(i32),
    /// `S64`.
    S64(i64),
    /// `F32`.
    F32(f32),
    /// `F64`.
    F64(f64),
    /// `BOOL` (any non-zero byte reads as true).
    Bool(bool),
    /// `LLUUID`.
    Uuid(Uuid),
    /// `LLVector3`.
    Vec3(Vec3),
    /// `LLVector3d`.
    Vec3d(Vec3d),
    /// `LLVector4`.
    Vec4(Vec4),
    /// `LLQuaternion`: x, y, z as on the wire, `w` recovered. Written back verbatim when `w`
    /// is the one its x, y, z imply (as for every decoded value), else normalised first.
    Quat(Quat),
    /// `IPADDR`.
    IpAddr(Ipv4Addr),
    /// `IPPORT`.
    IpPort(u16),
    /// `Variable 1`, `Variable 2` (without the length prefix; strings keep their NUL) or
    /// `Fixed N`.
    Bytes(Vec<u8>),
}

impl FieldValue {
    /// The value a field of type `ty` has when all its bytes are zero (an empty `Variable`).
    pub fn zero(ty: FieldType) -> FieldValue {
        match ty {
            FieldType::U8 => FieldValue::U8(0),
            FieldType::U16 => FieldValue::U16(0),
            FieldType::U32 => FieldValue::U32(0),
            FieldType::U64 => FieldValue::U64(0),
            FieldType::S8 => FieldValue::S8(0),
            FieldType::S16 => FieldValue::S16(0),
            FieldType::S32 => FieldValue::S32(0),
            FieldType::S64 => FieldValue::S64(0),
            FieldType::F32 => FieldValue::F32(0.0),
            FieldType::F64 => FieldValue::F64(0.0),
            FieldType::Bool => FieldValue::Bool(false),
            FieldType::Uuid => FieldValue::Uuid(Uuid::NIL),
            FieldType::Vec3 => FieldValue::Vec3(Vec3::ZERO),
            FieldType::Vec3d => FieldValue::Vec3d(Vec3d::default()),
            FieldType::Vec4 => FieldValue::Vec4(Vec4::default()),
            FieldType::Quat => FieldValue::Quat(Quat::IDENTITY),
            FieldType::IpAddr => FieldValue::IpAddr(Ipv4Addr::UNSPECIFIED),
            FieldType::IpPort => FieldValue::IpPort(0),
            FieldType::Variable(_) => FieldValue::Bytes(Vec::new()),
            FieldType::Fixed(n) => FieldValue::Bytes(vec![0; n]),
        }
    }

    /// An unsigned integer or `BOOL` value, widened.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            FieldValue::U8(v) => Some(u64::from(v)),
            FieldValue::U16(v) | FieldValue::IpPort(v) => Some(u64::from(v)),
            FieldValue::U32(v) => Some(u64::from(v)),
            FieldValue::U64(v) => Some(v),
            FieldValue::Bool(v) => Some(u64::from(v)),
            _ => None,
        }
    }

    /// The bytes of a `Variable` or `Fixed` field.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            FieldValue::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl GenericMessage {
    /// The first repetition of the block with this name.
    pub fn block(&self, name: &str) -> Option<&GenericBlock> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// Every repetition of the block with this name.
    pub fn blocks_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s GenericBlock> {
        self.blocks.iter().filter(move |b| b.name == name)
    }
}

impl GenericBlock {
    /// The value of the field with this name.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// Decodes a message body (the bytes after the message number, zero-decoded) with the embedded
/// template.
///
/// # Errors
/// [`MessageError::UnknownMessage`] when the template has no such number,
/// [`MessageError::Truncated`] when the body ends early (other than before trailing `Variable`
/// blocks, see the module docs), [`MessageError::TrailingBytes`] when bytes are left after the
/// last block.
pub fn decode(id: MessageId, body: &[u8]) -> Result<GenericMessage, MessageError> {
    decode_with(template(), id, body)
}

/// Decodes a message body with the given template (see [`decode`]).
///
/// # Errors
/// As [`decode`].
pub fn decode_with(
    template: &'static Template,
    id: MessageId,
    body: &[u8],
) -> Result<GenericMessage, MessageError> {
    let def = template.by_id(id).ok_or(MessageError::UnknownMessage(id))?;
    let mut r = Reader::new(body);
    let mut blocks = Vec::new();
    let mut omitted = 0;
    for (i, b) in def.blocks.iter().enumerate() {
        let reps = match b.kind {
            BlockKind::Single => 1,
            BlockKind::Multiple(n) => usize::from(n),
            BlockKind::Variable if r.is_empty() && i > 0 => {
                let rest = def.blocks.get(i..).unwrap_or_default();
                if rest.iter().all(|b| b.kind == BlockKind::Variable) {
                    omitted = rest.len();
                    break;
                }
                return Err(MessageError::Truncated);
            }
            BlockKind::Variable => r.count()?,
        };
        for _ in 0..reps {
            let fields = b
                .fields
                .iter()
                .map(|f| Ok((f.name.as_str(), read_value(&mut r, f.ty)?)))
                .collect::<Result<_, MessageError>>()?;
            blocks.push(GenericBlock {
                name: b.name.as_str(),
                fields,
            });
        }
    }
    r.finish()?;
    Ok(GenericMessage {
        name: def.name.as_str(),
        id,
        blocks,
        omitted,
    })
}

fn read_value(r: &mut Reader<'_>, ty: FieldType) -> Result<FieldValue, MessageError> {
    Ok(match ty {
        FieldType::U8 => FieldValue::U8(r.u8()?),
        FieldType::U16 => FieldValue::U16(r.u16()?),
        FieldType::U32 => FieldValue::U32(r.u32()?),
        FieldType::U64 => FieldValue::U64(r.u64()?),
        FieldType::S8 => FieldValue::S8(r.i8()?),
        FieldType::S16 => FieldValue::S16(r.i16()?),
        FieldType::S32 => FieldValue::S32(r.i32()?),
        FieldType::S64 => FieldValue::S64(r.i64()?),
        FieldType::F32 => FieldValue::F32(r.f32()?),
        FieldType::F64 => FieldValue::F64(r.f64()?),
        FieldType::Bool => FieldValue::Bool(r.bool()?),
        FieldType::Uuid => FieldValue::Uuid(r.uuid()?),
        FieldType::Vec3 => FieldValue::Vec3(r.vec3()?),
        FieldType::Vec3d => FieldValue::Vec3d(r.vec3d()?),
        FieldType::Vec4 => FieldValue::Vec4(r.vec4()?),
        FieldType::Quat => FieldValue::Quat(r.quat()?),
        FieldType::IpAddr => FieldValue::IpAddr(r.ipaddr()?),
        FieldType::IpPort => FieldValue::IpPort(r.ipport()?),
        FieldType::Variable(1) => FieldValue::Bytes(r.var1()?.to_vec()),
        FieldType::Variable(2) => FieldValue::Bytes(r.var2()?.to_vec()),
        FieldType::Variable(_) => return Err(MessageError::Invalid("variable field width")),
        FieldType::Fixed(n) => FieldValue::Bytes(r.take(n)?.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::testutil::{hex, leak};

    #[test]
    fn decodes_use_circuit_code() {
        // The first datagram of the `test-region` capture, after `FF FF 00 03`.
        let body =
            hex("acb37376 aff3bc22b4b14b6a9a8473a08abe2c42 7c0ffee0000040008000000000000001");
        let m = decode(MessageId::Low(3), &body).unwrap();
        assert_eq!(m.name, "UseCircuitCode");
        let b = m.block("CircuitCode").unwrap();
        assert_eq!(b.field("Code"), Some(&FieldValue::U32(0x7673_B3AC)));
        let id: Uuid = "7c0ffee0-0000-4000-8000-000000000001".parse().unwrap();
        assert_eq!(b.field("ID"), Some(&FieldValue::Uuid(id)));
        assert_eq!(encode(&m).unwrap(), body);
        let text = m.to_string();
        assert!(text.starts_with("UseCircuitCode (Low 3)\n  CircuitCode\n    Code: 1987294124"));
        assert!(
            text.ends_with("ID: 7c0ffee0-0000-4000-8000-000000000001"),
            "{text}"
        );
    }

    #[test]
    fn variable_and_multiple_blocks() {
        let ack = FieldValue::U32;
        let body = [2, 1, 0, 0, 0, 0x10, 0, 0, 0];
        let m = decode(MessageId::Fixed(0xFFFF_FFFB), &body).unwrap();
        let ids: Vec<_> = m
            .blocks_named("Packets")
            .map(|b| b.fields[0].1.clone())
            .collect();
        assert_eq!(ids, [ack(1), ack(16)]);
        assert_eq!(encode(&m).unwrap(), body);
        assert!(m.to_string().contains("\n  Packets[1]\n    ID: 16"));
        let none = decode(MessageId::Fixed(0xFFFF_FFFB), &[0]).unwrap();
        assert!(none.blocks.is_empty());
        assert_eq!(encode(&none).unwrap(), [0]);

        // TestMessage: one Single block, then NeighborBlock Multiple 4 with no count byte.
        let body: Vec<u8> = (0..52).collect();
        let m = decode(MessageId::Low(1), &body).unwrap();
        assert_eq!(m.blocks.len(), 5);
        assert_eq!(m.blocks_named("NeighborBlock").count(), 4);
        assert_eq!(
            m.blocks[4].field("Test2"),
            Some(&ack(u32::from_le_bytes([48, 49, 50, 51])))
        );
        assert_eq!(encode(&m).unwrap(), body);
    }

    #[test]
    fn rejects_bad_bodies() {
        assert_eq!(
            decode(MessageId::Low(999), &[]),
            Err(MessageError::UnknownMessage(MessageId::Low(999)))
        );
        assert_eq!(
            decode(MessageId::Low(3), &[0; 35]),
            Err(MessageError::Truncated)
        );
        assert_eq!(
            decode(MessageId::Low(3), &[0; 38]),
            Err(MessageError::TrailingBytes(2))
        );
        let disable = decode(MessageId::Low(152), &[]).unwrap();
        assert_eq!(
            (disable.name, disable.blocks.len()),
            ("DisableSimulator", 0)
        );
        assert_eq!(
            decode(MessageId::Low(152), &[0]),
            Err(MessageError::TrailingBytes(1))
        );
        // A Variable block's count promises more than the body holds.
        assert_eq!(
            decode(MessageId::Fixed(0xFFFF_FFFB), &[3, 1, 0, 0, 0]),
            Err(MessageError::Truncated)
        );
        // A Variable 1 field's length runs past the end.
        let t = leak("version 2.0 { V High 1 NotTrusted Unencoded { B Single { S Variable 1 } } }");
        assert_eq!(
            decode_with(t, MessageId::High(1), &[4, b'a', 0]),
            Err(MessageError::Truncated)
        );
    }

    #[test]
    fn trailing_variable_blocks_may_be_omitted() {
        let t = leak(
            "version 2.0 { T High 1 NotTrusted Unencoded { A Single { X U8 } } \
             { V Variable { Y U8 } } { W Variable { Z U8 } } }",
        );
        let id = MessageId::High(1);
        for (body, omitted, blocks) in [
            (&[7][..], 2, 1),
            (&[7, 0], 1, 1),
            (&[7, 1, 9], 1, 2),
            (&[7, 0, 0], 0, 1),
            (&[7, 1, 9, 1, 8], 0, 3),
        ] {
            let m = decode_with(t, id, body).unwrap();
            assert_eq!((m.omitted, m.blocks.len()), (omitted, blocks), "{body:?}");
            assert_eq!(encode_with(t, &m).unwrap(), body);
        }
        assert_eq!(decode_with(t, id, &[]), Err(MessageError::Truncated));
        assert_eq!(decode_with(t, id, &[7, 2, 9]), Err(MessageError::Truncated));
        let dump = decode_with(t, id, &[7]).unwrap().to_string();
        assert!(dump.ends_with("\n  (2 trailing blocks omitted)"), "{dump}");

        // Not when nothing came before, nor when a Single block follows.
        let t = leak("version 2.0 { T High 1 NotTrusted Unencoded { V Variable { Y U8 } } }");
        assert_eq!(decode_with(t, id, &[]), Err(MessageError::Truncated));
        let t = leak(
            "version 2.0 { T High 1 NotTrusted Unencoded { A Single { X U8 } } \
             { V Variable { Y U8 } } { S Single { Z U8 } } }",
        );
        assert_eq!(decode_with(t, id, &[7]), Err(MessageError::Truncated));
        assert_eq!(decode_with(t, id, &[7, 0, 5]).unwrap().omitted, 0);
    }
}
