//! The generic encoder: a [`GenericMessage`] back to the body bytes its template describes.

use super::{FieldValue, GenericMessage};
use crate::message::codec::MessageError;
use crate::message::template::{BlockKind, FieldType, MessageDef, Template, template};
use crate::types::Quat;

/// Encodes a message body with the embedded template: the inverse of [`decode`](super::decode).
///
/// # Errors
/// [`MessageError::UnknownMessage`] for a number not in the template,
/// [`MessageError::Layout`] when the blocks or fields do not follow the template (wrong
/// order, repeat count, name or value type; a `Fixed` field of the wrong length), or
/// [`MessageError::FieldTooLong`] when a `Variable` field or block exceeds its prefix.
pub fn encode(msg: &GenericMessage) -> Result<Vec<u8>, MessageError> {
    encode_with(template(), msg)
}

/// Encodes a message body with the given template (see [`encode`]).
///
/// # Errors
/// As [`encode`].
pub fn encode_with(
    template: &'static Template,
    msg: &GenericMessage,
) -> Result<Vec<u8>, MessageError> {
    let def = template
        .by_id(msg.id)
        .ok_or(MessageError::UnknownMessage(msg.id))?;
    if def.name != msg.name {
        return Err(layout(def, "", "message name does not match its number"));
    }
    // Blocks from index `present` on are left out entirely (no count byte): only trailing
    // Variable blocks after at least one written block may be (see `decode`).
    let present = def
        .blocks
        .len()
        .checked_sub(msg.omitted)
        .filter(|n| *n > 0 || msg.omitted == 0)
        .ok_or_else(|| layout(def, "", "more blocks omitted than may be"))?;
    let mut out = Vec::new();
    let mut rest = msg.blocks.as_slice();
    for (i, b) in def.blocks.iter().enumerate() {
        let block = b.name.as_str();
        if i >= present {
            if b.kind != BlockKind::Variable {
                return Err(block_error(block, "only Variable blocks may be omitted"));
            }
            continue;
        }
        let n = rest.iter().take_while(|g| g.name == block).count();
        let (these, tail) = rest.split_at_checked(n).unwrap_or((rest, &[]));
        rest = tail;
        match b.kind {
            BlockKind::Single if n != 1 => {
                return Err(block_error(block, "a Single block must appear once"));
            }
            BlockKind::Multiple(k) if n != usize::from(k) => {
                return Err(block_error(block, "a Multiple block must repeat its count"));
            }
            BlockKind::Variable => {
                out.push(u8::try_from(n).map_err(|_| {
                    block_error(block, "a Variable block repeats at most 255 times")
                })?)
            }
            _ => {}
        }
        for g in these {
            if g.fields.len() != b.fields.len() {
                return Err(block_error(block, "wrong number of fields"));
            }
            for (fd, (name, value)) in b.fields.iter().zip(&g.fields) {
                let field = fd.name.as_str();
                if *name != field {
                    return Err(MessageError::Layout {
                        block,
                        field,
                        what: "field missing or out of order",
                    });
                }
                write_value(&mut out, block, field, fd.ty, value)?;
            }
        }
    }
    match rest.first() {
        Some(g) => Err(block_error(
            g.name,
            "block not in the template at this place",
        )),
        None => Ok(out),
    }
}

fn layout(def: &'static MessageDef, field: &'static str, what: &'static str) -> MessageError {
    MessageError::Layout {
        block: def.name.as_str(),
        field,
        what,
    }
}

fn block_error(block: &'static str, what: &'static str) -> MessageError {
    MessageError::Layout {
        block,
        field: "",
        what,
    }
}

fn write_value(
    out: &mut Vec<u8>,
    block: &'static str,
    field: &'static str,
    ty: FieldType,
    value: &FieldValue,
) -> Result<(), MessageError> {
    let too_long = |len| MessageError::FieldTooLong { field, len };
    match (ty, value) {
        (FieldType::U8, FieldValue::U8(v)) => out.push(*v),
        (FieldType::U16, FieldValue::U16(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::U32, FieldValue::U32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::U64, FieldValue::U64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::S8, FieldValue::S8(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::S16, FieldValue::S16(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::S32, FieldValue::S32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::S64, FieldValue::S64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::F32, FieldValue::F32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::F64, FieldValue::F64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (FieldType::Bool, FieldValue::Bool(v)) => out.push(u8::from(*v)),
        (FieldType::Uuid, FieldValue::Uuid(v)) => out.extend_from_slice(&v.0),
        (FieldType::Vec3, FieldValue::Vec3(v)) => put_f32s(out, [v.x, v.y, v.z]),
        (FieldType::Vec3d, FieldValue::Vec3d(v)) => {
            for c in [v.x, v.y, v.z] {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        (FieldType::Vec4, FieldValue::Vec4(v)) => put_f32s(out, [v.x, v.y, v.z, v.w]),
        (FieldType::Quat, FieldValue::Quat(q)) => put_f32s(out, quat_wire(*q)),
        (FieldType::IpAddr, FieldValue::IpAddr(v)) => out.extend_from_slice(&v.octets()),
        (FieldType::IpPort, FieldValue::IpPort(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (FieldType::Variable(1), FieldValue::Bytes(b)) => {
            out.push(u8::try_from(b.len()).map_err(|_| too_long(b.len()))?);
            out.extend_from_slice(b);
        }
        (FieldType::Variable(2), FieldValue::Bytes(b)) => {
            let n = u16::try_from(b.len()).map_err(|_| too_long(b.len()))?;
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(b);
        }
        (FieldType::Fixed(n), FieldValue::Bytes(b)) => {
            if b.len() != n {
                let what = "fixed field of the wrong length";
                return Err(MessageError::Layout { block, field, what });
            }
            out.extend_from_slice(b);
        }
        _ => {
            let what = "value of the wrong type";
            return Err(MessageError::Layout { block, field, what });
        }
    }
    Ok(())
}

fn put_f32s<const N: usize>(out: &mut Vec<u8>, v: [f32; N]) {
    for c in v {
        out.extend_from_slice(&c.to_le_bytes());
    }
}

/// The x, y, z to write: verbatim when `w` is the one the wire form implies (so decode → encode
/// is byte-exact even for non-unit or NaN components), else normalised with `w ≥ 0`.
fn quat_wire(q: Quat) -> [f32; 3] {
    if q.w.to_bits() == Quat::from_xyz(q.x, q.y, q.z).w.to_bits() {
        [q.x, q.y, q.z]
    } else {
        q.to_wire_xyz()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::generic::{decode, decode_with};
    use crate::message::testutil::{hex, leak};
    use crate::udp::MessageId;

    fn layout_what(r: Result<Vec<u8>, MessageError>) -> &'static str {
        match r {
            Err(MessageError::Layout { what, .. }) => what,
            other => panic!("expected a layout error, got {other:?}"),
        }
    }

    #[test]
    fn encode_checks_the_layout() {
        let body =
            hex("acb37376 aff3bc22b4b14b6a9a8473a08abe2c42 7c0ffee0000040008000000000000001");
        let good = decode(MessageId::Low(3), &body).unwrap();

        let mut m = good.clone();
        m.name = "AddCircuitCode";
        assert_eq!(
            layout_what(encode(&m)),
            "message name does not match its number"
        );
        let mut m = good.clone();
        m.blocks.clear();
        assert_eq!(layout_what(encode(&m)), "a Single block must appear once");
        let mut m = good.clone();
        m.blocks.push(m.blocks[0].clone());
        assert_eq!(layout_what(encode(&m)), "a Single block must appear once");
        let mut m = good.clone();
        m.blocks[0].name = "Elsewhere";
        assert_eq!(layout_what(encode(&m)), "a Single block must appear once");
        let mut m = good.clone();
        m.blocks[0].fields.pop();
        assert_eq!(layout_what(encode(&m)), "wrong number of fields");
        let mut m = good.clone();
        m.blocks[0].fields.swap(1, 2);
        assert_eq!(layout_what(encode(&m)), "field missing or out of order");
        let mut m = good.clone();
        m.blocks[0].fields[0].1 = FieldValue::S32(1);
        assert_eq!(layout_what(encode(&m)), "value of the wrong type");
        let mut m = good.clone();
        m.id = MessageId::Low(999);
        assert_eq!(
            encode(&m),
            Err(MessageError::UnknownMessage(MessageId::Low(999)))
        );

        let mut m = decode(MessageId::Fixed(0xFFFF_FFFB), &[1, 1, 0, 0, 0]).unwrap();
        let packet = m.blocks[0].clone();
        m.blocks = vec![packet; 256];
        assert_eq!(
            layout_what(encode(&m)),
            "a Variable block repeats at most 255 times"
        );
        m.blocks.truncate(255);
        assert_eq!(encode(&m).unwrap().len(), 1 + 255 * 4);

        let t = leak(
            "version 2.0 { V High 1 NotTrusted Unencoded { B Single \
             { S Variable 1 } { L Variable 2 } { F Fixed 4 } } }",
        );
        let mut m = decode_with(t, MessageId::High(1), &[0, 0, 0, 1, 2, 3, 4]).unwrap();
        m.blocks[0].fields[0].1 = FieldValue::Bytes(vec![b'x'; 255]);
        m.blocks[0].fields[1].1 = FieldValue::Bytes(vec![b'y'; 65_535]);
        assert_eq!(encode_with(t, &m).unwrap().len(), 1 + 255 + 2 + 65_535 + 4);
        m.blocks[0].fields[0].1 = FieldValue::Bytes(vec![b'x'; 256]);
        assert_eq!(
            encode_with(t, &m),
            Err(MessageError::FieldTooLong {
                field: "S",
                len: 256
            })
        );
        m.blocks[0].fields[0].1 = FieldValue::Bytes(vec![]);
        m.blocks[0].fields[1].1 = FieldValue::Bytes(vec![b'y'; 65_536]);
        assert!(matches!(
            encode_with(t, &m),
            Err(MessageError::FieldTooLong { field: "L", .. })
        ));
        m.blocks[0].fields[1].1 = FieldValue::Bytes(vec![]);
        m.blocks[0].fields[2].1 = FieldValue::Bytes(vec![1, 2, 3]);
        assert_eq!(
            layout_what(encode_with(t, &m)),
            "fixed field of the wrong length"
        );
    }

    #[test]
    fn only_trailing_variable_blocks_are_omitted() {
        let t = leak(
            "version 2.0 { T High 1 NotTrusted Unencoded { A Single { X U8 } } \
             { V Variable { Y U8 } } { S Single { Z U8 } } }",
        );
        let id = MessageId::High(1);
        let mut m = decode_with(t, id, &[7, 1, 8, 9]).unwrap();
        m.omitted = 3;
        assert_eq!(
            layout_what(encode_with(t, &m)),
            "more blocks omitted than may be"
        );
        m.omitted = 1;
        assert_eq!(
            layout_what(encode_with(t, &m)),
            "only Variable blocks may be omitted"
        );

        let t = leak(
            "version 2.0 { T High 1 NotTrusted Unencoded { A Single { X U8 } } \
             { V Variable { Y U8 } } }",
        );
        let mut m = decode_with(t, id, &[7, 1, 8]).unwrap();
        m.omitted = 1;
        assert_eq!(
            layout_what(encode_with(t, &m)),
            "block not in the template at this place"
        );
        m.blocks.pop();
        assert_eq!(encode_with(t, &m).unwrap(), [7]);
    }

    #[test]
    fn quaternions_are_twelve_bytes_and_reencode_verbatim() {
        let t =
            leak("version 2.0 { Q High 1 NotTrusted Unencoded { B Single { R LLQuaternion } } }");
        let id = MessageId::High(1);
        let wire = |x: f32, y: f32, z: f32| -> Vec<u8> {
            [x, y, z].iter().flat_map(|c| c.to_le_bytes()).collect()
        };
        // A unit quaternion, a non-unit one (w clamps to 0) and NaNs all come back bit for bit.
        for body in [
            wire(0.0, 0.0, 0.6),
            wire(2.0, -3.0, 0.5),
            wire(f32::NAN, 0.1, -0.0),
        ] {
            let m = decode_with(t, id, &body).unwrap();
            assert_eq!(encode_with(t, &m).unwrap(), body);
        }
        assert_eq!(
            decode_with(t, id, &[0; 16]),
            Err(MessageError::TrailingBytes(4))
        );
        // A quaternion built by hand with w < 0 is written as its w ≥ 0 twin.
        let mut m = decode_with(t, id, &wire(0.0, 0.0, 0.0)).unwrap();
        assert_eq!(m.blocks[0].fields[0].1, FieldValue::Quat(Quat::IDENTITY));
        m.blocks[0].fields[0].1 = FieldValue::Quat(Quat {
            x: 0.6,
            y: 0.0,
            z: 0.0,
            w: -0.8,
        });
        let back = decode_with(t, id, &encode_with(t, &m).unwrap()).unwrap();
        let FieldValue::Quat(q) = back.blocks[0].fields[0].1 else {
            panic!()
        };
        assert!(
            (q.x + 0.6).abs() < 1e-6 && (q.w - 0.8).abs() < 1e-6,
            "{q:?}"
        );
    }
}
