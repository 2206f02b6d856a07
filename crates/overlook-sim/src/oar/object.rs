//! One `objects/*.xml` file: a `SceneObjectGroup` in OpenSim's "xml2" form
//! (`SceneObjectSerializer.ToXml2Format`): the root `SceneObjectPart`, then the children under
//! `OtherParts`. As OpenSim's reader does, every `SceneObjectPart` element in document order
//! is a part and the first is the root.

use overlook_protocol::message::object::{ExtraParam, ExtraParams, PrimShape, Sculpt};
use overlook_protocol::types::{Quat, Uuid, Vec3};

use super::xml::{Node, parse_bool, parse_num, walk};

/// One part as read from the archive, its blobs decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    /// `UUID`.
    pub uuid: Uuid,
    /// `Name`.
    pub name: String,
    /// `Material`.
    pub material: u8,
    /// `GroupPosition`: the root's region position (the same in every part of a group).
    pub group_position: Vec3,
    /// `OffsetPosition`: root-relative for children, zero for the root.
    pub offset_position: Vec3,
    /// `RotationOffset`: the group's rotation on the root, root-relative on children.
    pub rotation: Quat,
    /// `Scale`.
    pub scale: Vec3,
    /// The `Shape` path and profile parameters.
    pub shape: PrimShape,
    /// `Shape/PCode`.
    pub pcode: u8,
    /// `Shape/State`.
    pub state: u8,
    /// `Shape/TextureEntry`, decoded.
    pub texture_entry: Vec<u8>,
    /// The ExtraParams blob to send: `Shape/ExtraParams` decoded, completed with a sculpt
    /// entry from `SculptEntry`/`SculptTexture`/`SculptType` when the blob has none; empty for
    /// none.
    pub extra_params: Vec<u8>,
}

/// The fields of a part as they are read, before the blobs are put together.
#[derive(Default)]
struct RawPart {
    uuid: Option<Uuid>,
    name: String,
    material: u8,
    group_position: [f32; 3],
    offset_position: [f32; 3],
    rotation: Option<[f32; 4]>,
    scale: Option<[f32; 3]>,
    shape: PrimShape,
    pcode: Option<u8>,
    state: u8,
    texture_entry: String,
    extra_params: String,
    sculpt_entry: bool,
    sculpt_texture: Uuid,
    sculpt_type: u8,
}

/// Reads a group's parts. Errors are about the whole file (not XML, no parts, a bad number,
/// too many parts); a bad blob of one part is a line in `problems` and leaves that blob empty.
pub(crate) fn parse_group(
    xml: &str,
    max_depth: usize,
    max_parts: usize,
    problems: &mut Vec<String>,
) -> Result<Vec<Part>, String> {
    let mut raws: Vec<RawPart> = Vec::new();
    // Depth of the open SceneObjectPart element (its index in the path), if any.
    let mut open: Option<usize> = None;
    walk(xml, max_depth, |node| match node {
        Node::Start { path, .. } => {
            if path.last().map(String::as_str) == Some("SceneObjectPart") {
                if open.is_some() {
                    return Err("a SceneObjectPart inside another".into());
                }
                if raws.len() >= max_parts {
                    return Err(format!("more than {max_parts} parts"));
                }
                open = Some(path.len().saturating_sub(1));
                raws.push(RawPart::default());
            }
            Ok(())
        }
        Node::End { path, text } => {
            let Some(at) = open else { return Ok(()) };
            if path.len() == at.saturating_add(1) {
                open = None;
                return Ok(());
            }
            let rel = path.get(at.saturating_add(1)..).unwrap_or(&[]);
            match raws.last_mut() {
                Some(raw) => raw.set(rel, text),
                None => Ok(()),
            }
        }
    })?;
    if raws.is_empty() {
        return Err("no SceneObjectPart".into());
    }
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| raw.finish(i, problems))
        .collect()
}

/// A float that must be finite.
fn float(field: &str, text: &str) -> Result<f32, String> {
    let v: f32 = parse_num(field, text)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{field}: {text:?} is not finite"))
    }
}

/// A byte field, written by OpenSim as `byte` or `sbyte`: -128..=255, negatives as two's
/// complement.
fn byte(field: &str, text: &str) -> Result<u8, String> {
    let v: i16 = parse_num(field, text)?;
    u8::try_from(v)
        .or_else(|_| i8::try_from(v).map(i8::cast_unsigned))
        .map_err(|_| format!("{field}: {v} does not fit a byte"))
}

/// A signed byte field (same accepted range as [`byte`]).
fn sbyte(field: &str, text: &str) -> Result<i8, String> {
    byte(field, text).map(u8::cast_signed)
}

/// A 16-bit field: -32768..=65535, negatives as two's complement.
fn word(field: &str, text: &str) -> Result<u16, String> {
    let v: i32 = parse_num(field, text)?;
    u16::try_from(v)
        .or_else(|_| i16::try_from(v).map(i16::cast_unsigned))
        .map_err(|_| format!("{field}: {v} does not fit 16 bits"))
}

/// The index of a vector or quaternion component named `x`, `y`, `z` or `w`.
fn component(name: &str) -> Option<usize> {
    match name {
        "X" | "x" => Some(0),
        "Y" | "y" => Some(1),
        "Z" | "z" => Some(2),
        "W" | "w" => Some(3),
        _ => None,
    }
}

/// Sets component `name` of `v` from `text`.
fn set_component<const N: usize>(
    v: &mut [f32; N],
    field: &str,
    name: &str,
    text: &str,
) -> Result<(), String> {
    if let Some(slot) = component(name).and_then(|i| v.get_mut(i)) {
        *slot = float(field, text)?;
    }
    Ok(())
}

/// A UUID field (`<X><UUID>…</UUID></X>`, `<X><Guid>…</Guid></X>` or `<X>…</X>`).
fn uuid(field: &str, text: &str) -> Result<Uuid, String> {
    text.parse()
        .map_err(|_| format!("{field}: {text:?} is not a UUID"))
}

impl RawPart {
    /// Takes one element's text; `rel` is its path below the `SceneObjectPart`.
    fn set(&mut self, rel: &[String], text: &str) -> Result<(), String> {
        match rel {
            [a] => match a.as_str() {
                "UUID" if !text.is_empty() => self.uuid = Some(uuid("UUID", text)?),
                "Name" => text.clone_into(&mut self.name),
                "Material" => self.material = byte("Material", text)?,
                _ => {}
            },
            [a, b] => match (a.as_str(), b.as_str()) {
                ("UUID", "UUID" | "Guid") => self.uuid = Some(uuid("UUID", text)?),
                ("GroupPosition", c) => {
                    set_component(&mut self.group_position, "GroupPosition", c, text)?;
                }
                ("OffsetPosition", c) => {
                    set_component(&mut self.offset_position, "OffsetPosition", c, text)?;
                }
                ("RotationOffset", c) => {
                    let q = self.rotation.get_or_insert([0.0, 0.0, 0.0, 1.0]);
                    set_component(q, "RotationOffset", c, text)?;
                }
                ("Scale", c) => {
                    let s = self.scale.get_or_insert([1.0; 3]);
                    set_component(s, "Scale", c, text)?;
                }
                ("Shape", "SculptTexture") if !text.is_empty() => {
                    self.sculpt_texture = uuid("SculptTexture", text)?;
                }
                ("Shape", field) => self.set_shape(field, text)?,
                _ => {}
            },
            [a, b, c]
                if a == "Shape"
                    && b == "SculptTexture"
                    && matches!(c.as_str(), "UUID" | "Guid") =>
            {
                self.sculpt_texture = uuid("SculptTexture", text)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn set_shape(&mut self, field: &str, text: &str) -> Result<(), String> {
        let s = &mut self.shape;
        match field {
            "ProfileCurve" => s.profile_curve = byte(field, text)?,
            "PathCurve" => s.path_curve = byte(field, text)?,
            "PathBegin" => s.path_begin = word(field, text)?,
            "PathEnd" => s.path_end = word(field, text)?,
            "PathRadiusOffset" => s.path_radius_offset = sbyte(field, text)?,
            "PathRevolutions" => s.path_revolutions = byte(field, text)?,
            "PathScaleX" => s.path_scale_x = byte(field, text)?,
            "PathScaleY" => s.path_scale_y = byte(field, text)?,
            "PathShearX" => s.path_shear_x = byte(field, text)?,
            "PathShearY" => s.path_shear_y = byte(field, text)?,
            "PathSkew" => s.path_skew = sbyte(field, text)?,
            "PathTaperX" => s.path_taper_x = sbyte(field, text)?,
            "PathTaperY" => s.path_taper_y = sbyte(field, text)?,
            "PathTwist" => s.path_twist = sbyte(field, text)?,
            "PathTwistBegin" => s.path_twist_begin = sbyte(field, text)?,
            "ProfileBegin" => s.profile_begin = word(field, text)?,
            "ProfileEnd" => s.profile_end = word(field, text)?,
            "ProfileHollow" => s.profile_hollow = word(field, text)?,
            "PCode" => self.pcode = Some(byte(field, text)?),
            "State" => self.state = byte(field, text)?,
            "TextureEntry" => text.clone_into(&mut self.texture_entry),
            "ExtraParams" => text.clone_into(&mut self.extra_params),
            "SculptEntry" => self.sculpt_entry = parse_bool(field, text)?,
            "SculptType" => self.sculpt_type = byte(field, text)?,
            _ => {}
        }
        Ok(())
    }

    /// The finished part; `index` is its place in the group (for messages).
    fn finish(self, index: usize, problems: &mut Vec<String>) -> Result<Part, String> {
        let uuid = self
            .uuid
            .ok_or_else(|| format!("part {index} ({:?}) has no UUID", self.name))?;
        let pcode = self
            .pcode
            .ok_or_else(|| format!("part {uuid} has no Shape/PCode"))?;
        let texture_entry = decode_base64(&self.texture_entry).unwrap_or_else(|e| {
            problems.push(format!("part {uuid}: TextureEntry {e}; left empty"));
            Vec::new()
        });
        let extra_params = match decode_base64(&self.extra_params) {
            Ok(blob) => complete_extra_params(
                blob,
                self.sculpt_entry,
                self.sculpt_texture,
                self.sculpt_type,
            )
            .unwrap_or_else(|e| {
                problems.push(format!("part {uuid}: ExtraParams {e}; left empty"));
                Vec::new()
            }),
            Err(e) => {
                problems.push(format!("part {uuid}: ExtraParams {e}; left empty"));
                Vec::new()
            }
        };
        let [x, y, z, w] = self.rotation.unwrap_or([0.0, 0.0, 0.0, 1.0]);
        let rotation = if x * x + y * y + z * z + w * w > 1e-12 {
            Quat { x, y, z, w }
        } else {
            Quat::default()
        };
        let v = |[x, y, z]: [f32; 3]| Vec3::new(x, y, z);
        Ok(Part {
            uuid,
            name: self.name,
            material: self.material,
            group_position: v(self.group_position),
            offset_position: v(self.offset_position),
            rotation,
            scale: v(self.scale.unwrap_or([1.0; 3])),
            shape: self.shape,
            pcode,
            state: self.state,
            texture_entry,
            extra_params,
        })
    }
}

/// The ExtraParams blob to keep: the archive's, checked; a sculpt entry added from the shape's
/// sculpt fields when `SculptEntry` is set and the blob has none; empty when there are no
/// entries at all (a lone count byte of 0).
fn complete_extra_params(
    blob: Vec<u8>,
    sculpt_entry: bool,
    sculpt_texture: Uuid,
    sculpt_type: u8,
) -> Result<Vec<u8>, String> {
    let mut params = ExtraParams::parse(&blob).map_err(|e| format!("does not decode ({e})"))?;
    let mut changed = false;
    if sculpt_entry && params.sculpt().is_none() {
        params.params.push(ExtraParam::Sculpt(Sculpt {
            texture: sculpt_texture,
            kind_byte: sculpt_type,
        }));
        changed = true;
    }
    if params.params.is_empty() {
        Ok(Vec::new())
    } else if changed {
        params
            .to_bytes()
            .map_err(|e| format!("does not encode ({e})"))
    } else {
        Ok(blob)
    }
}

/// Decodes standard base64 (`+/`, `=` padding), ignoring whitespace.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padding = 0usize;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return Err(format!("is not base64 (byte 0x{c:02x})")),
        };
        if padding > 0 {
            return Err("is not base64 (data after padding)".into());
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).unwrap_or(0));
        }
    }
    // Leftover bits must be zero padding of 2 or 4 bits (or none).
    if bits >= 6 || acc & ((1 << bits) - 1) != 0 || padding > 2 {
        return Err("is not base64 (bad length or padding)".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("AA==").unwrap(), [0]);
        assert_eq!(decode_base64("TWFu").unwrap(), b"Man");
        assert_eq!(decode_base64("TWE=").unwrap(), b"Ma");
        assert_eq!(decode_base64("TW\nE=").unwrap(), b"Ma");
        assert_eq!(decode_base64("TWE").unwrap(), b"Ma");
        assert!(decode_base64("TWF").is_err());
        assert!(decode_base64("T").is_err());
        assert!(decode_base64("TW*=").is_err());
        assert!(decode_base64("TQ==TQ==").is_err());
    }

    #[test]
    fn byte_fields_take_signed_and_unsigned() {
        assert_eq!(byte("f", "231").unwrap(), 231);
        assert_eq!(byte("f", "-25").unwrap(), 231);
        assert_eq!(sbyte("f", "-50").unwrap(), -50);
        assert_eq!(sbyte("f", "206").unwrap(), -50);
        assert!(byte("f", "256").is_err());
        assert!(byte("f", "-129").is_err());
        assert_eq!(word("f", "50000").unwrap(), 50000);
        assert!(word("f", "70000").is_err());
    }

    #[test]
    fn sculpt_fields_complete_an_empty_blob() {
        let tex: Uuid = "01234567-89ab-cdef-0123-456789abcdef".parse().unwrap();
        let blob = complete_extra_params(vec![0], true, tex, 1).unwrap();
        let s = *ExtraParams::parse(&blob).unwrap().sculpt().unwrap();
        assert_eq!((s.texture, s.kind_byte), (tex, 1));
        assert_eq!(complete_extra_params(vec![0], false, tex, 1).unwrap(), b"");
        assert_eq!(complete_extra_params(vec![], false, tex, 1).unwrap(), b"");
        assert!(complete_extra_params(vec![1, 2], false, tex, 1).is_err());
    }
}
