//! The readable dump of a [`GenericMessage`] (logging, `overlook replay`).

use core::fmt;

use super::{FieldValue, GenericMessage};

/// Text longer than this many characters is cut in the dump.
const MAX_TEXT_CHARS: usize = 160;
/// Binary fields longer than this many bytes are cut in the dump.
const MAX_HEX_BYTES: usize = 32;

/// The text of a field that holds printable UTF-8 ending in one NUL.
fn as_text(b: &[u8]) -> Option<&str> {
    let text = core::str::from_utf8(b.strip_suffix(&[0])?).ok()?;
    let printable = |c: char| !c.is_control() || matches!(c, '\n' | '\r' | '\t');
    text.chars().all(printable).then_some(text)
}

impl fmt::Display for FieldValue {
    /// One line: numbers in decimal (`U64` also in hex), vectors as `<x, y, z>`, `Variable`
    /// and `Fixed` fields as quoted text when they are printable UTF-8 ending in NUL, else as
    /// hex; long values are cut with `…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::U8(v) => write!(f, "{v}"),
            FieldValue::U16(v) | FieldValue::IpPort(v) => write!(f, "{v}"),
            FieldValue::U32(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v} ({v:#018x})"),
            FieldValue::S8(v) => write!(f, "{v}"),
            FieldValue::S16(v) => write!(f, "{v}"),
            FieldValue::S32(v) => write!(f, "{v}"),
            FieldValue::S64(v) => write!(f, "{v}"),
            FieldValue::F32(v) => write!(f, "{v}"),
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::Uuid(v) => write!(f, "{v}"),
            FieldValue::Vec3(v) => write!(f, "{v}"),
            FieldValue::Vec3d(v) => write!(f, "<{}, {}, {}>", v.x, v.y, v.z),
            FieldValue::Vec4(v) => write!(f, "<{}, {}, {}, {}>", v.x, v.y, v.z, v.w),
            FieldValue::Quat(q) => write!(f, "<{}, {}, {}, {}>", q.x, q.y, q.z, q.w),
            FieldValue::IpAddr(v) => write!(f, "{v}"),
            FieldValue::Bytes(b) if b.is_empty() => f.write_str("\"\""),
            FieldValue::Bytes(b) => match as_text(b) {
                Some(text) if text.chars().count() <= MAX_TEXT_CHARS => write!(f, "{text:?}"),
                Some(text) => {
                    let cut: String = text.chars().take(MAX_TEXT_CHARS).collect();
                    write!(f, "{cut:?}… ({} bytes)", b.len())
                }
                None => {
                    write!(f, "[{} bytes]", b.len())?;
                    for byte in b.iter().take(MAX_HEX_BYTES) {
                        write!(f, " {byte:02x}")?;
                    }
                    if b.len() > MAX_HEX_BYTES {
                        f.write_str(" …")?;
                    }
                    Ok(())
                }
            },
        }
    }
}

impl fmt::Display for GenericMessage {
    /// A multi-line dump: `Name (Low 148)`, then each block (`Name[i]` when it repeats) and
    /// its fields as `Field: value`, indented; last, a note when trailing blocks were omitted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.id)?;
        let mut index = 0usize;
        let mut previous = "";
        for b in &self.blocks {
            index = if b.name == previous {
                index.saturating_add(1)
            } else {
                0
            };
            previous = b.name;
            let repeats = self.blocks_named(b.name).nth(1).is_some();
            if repeats {
                write!(f, "\n  {}[{index}]", b.name)?;
            } else {
                write!(f, "\n  {}", b.name)?;
            }
            for (name, value) in &b.fields {
                write!(f, "\n    {name}: {value}")?;
            }
        }
        match self.omitted {
            0 => {}
            1 => f.write_str("\n  (1 trailing block omitted)")?,
            n => write!(f, "\n  ({n} trailing blocks omitted)")?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Quat;
    use core::net::Ipv4Addr;

    #[test]
    fn dump_shows_text_or_hex() {
        let show = |b: &[u8]| FieldValue::Bytes(b.to_vec()).to_string();
        assert_eq!(show(b"Test Region\0"), "\"Test Region\"");
        assert_eq!(show(b"two\nlines\0"), "\"two\\nlines\"");
        assert_eq!(show(b""), "\"\"");
        assert_eq!(show(b"no nul"), "[6 bytes] 6e 6f 20 6e 75 6c");
        assert_eq!(show(&[0xFF, 0xFE, 0]), "[3 bytes] ff fe 00");
        assert_eq!(show(&[1, 0]), "[2 bytes] 01 00");
        let long = show(&[0xAB; 40]);
        assert!(
            long.starts_with("[40 bytes] ab ab") && long.ends_with(" ab …"),
            "{long}"
        );
        assert_eq!(long.matches("ab").count(), 32);
        let mut text = "é".repeat(200).into_bytes();
        text.push(0);
        let cut = show(&text);
        assert!(cut.ends_with("\"… (401 bytes)"), "{cut}");
        assert_eq!(cut.matches('é').count(), MAX_TEXT_CHARS);
        assert_eq!(
            FieldValue::U64(0x0003_E800_0003_E800).to_string(),
            "1099511628032000 (0x0003e8000003e800)"
        );
        let q = FieldValue::Quat(Quat::IDENTITY).to_string();
        assert_eq!(q, "<0, 0, 0, 1>");
        assert_eq!(FieldValue::IpPort(9000).to_string(), "9000");
        assert_eq!(
            FieldValue::IpAddr(Ipv4Addr::LOCALHOST).to_string(),
            "127.0.0.1"
        );
    }
}
