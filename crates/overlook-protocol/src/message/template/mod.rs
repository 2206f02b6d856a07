//! The LLUDP message template (PROTOCOL §6): its parser and the lookup tables built from it.
//!
//! The template (`message_template.msg` beside this file, embedded verbatim) lists every message's
//! name, frequency and number, trust, zero-coding and block/field layout:
//!
//! ```text
//! version 2.0
//! {
//!     UseCircuitCode Low 3 NotTrusted Unencoded
//!     {
//!         CircuitCode Single
//!         {   Code        U32     }
//!         {   SessionID   LLUUID  }
//!     }
//! }
//! ```
//!
//! [`Template::parse`] reads that grammar (comments start with `//`; a message may have no
//! blocks) and reports syntax errors with their line; [`template`] parses the embedded copy once
//! and is what the generic decoder uses. Origin and licence of the embedded file: `README.md`
//! beside it.

mod parse;

use core::fmt;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::udp::MessageId;

pub use parse::TemplateError;

/// The embedded template, byte for byte as copied from `secondlife/viewer`.
pub const TEMPLATE_TEXT: &str = include_str!("message_template.msg");

/// The type of one field, as spelled in the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `U8`.
    U8,
    /// `U16`, little-endian.
    U16,
    /// `U32`, little-endian.
    U32,
    /// `U64`, little-endian.
    U64,
    /// `S8`.
    S8,
    /// `S16`, little-endian.
    S16,
    /// `S32`, little-endian.
    S32,
    /// `S64`, little-endian.
    S64,
    /// `F32`, little-endian.
    F32,
    /// `F64`, little-endian.
    F64,
    /// `LLVector3`: 3 × F32.
    Vec3,
    /// `LLVector3d`: 3 × F64.
    Vec3d,
    /// `LLVector4`: 4 × F32.
    Vec4,
    /// `LLQuaternion`: x, y, z as 3 × F32 (12 bytes; `w` is implied).
    Quat,
    /// `LLUUID`: 16 raw bytes.
    Uuid,
    /// `BOOL`: one byte.
    Bool,
    /// `IPADDR`: 4 bytes, network order.
    IpAddr,
    /// `IPPORT`: 2 bytes, big-endian.
    IpPort,
    /// `Variable 1` or `Variable 2`: a length prefix of that many bytes, then the data.
    Variable(u8),
    /// `Fixed N`: exactly N raw bytes.
    Fixed(usize),
}

impl FieldType {
    /// The number of bytes the field takes, or `None` for `Variable` fields.
    pub fn fixed_size(self) -> Option<usize> {
        Some(match self {
            FieldType::U8 | FieldType::S8 | FieldType::Bool => 1,
            FieldType::U16 | FieldType::S16 | FieldType::IpPort => 2,
            FieldType::U32 | FieldType::S32 | FieldType::F32 | FieldType::IpAddr => 4,
            FieldType::U64 | FieldType::S64 | FieldType::F64 => 8,
            FieldType::Vec3 | FieldType::Quat => 12,
            FieldType::Vec4 | FieldType::Uuid => 16,
            FieldType::Vec3d => 24,
            FieldType::Fixed(n) => n,
            FieldType::Variable(_) => return None,
        })
    }

    /// The type for a template type name that takes no size (`U32`, `LLUUID`, …).
    fn from_name(name: &str) -> Option<FieldType> {
        Some(match name {
            "U8" => FieldType::U8,
            "U16" => FieldType::U16,
            "U32" => FieldType::U32,
            "U64" => FieldType::U64,
            "S8" => FieldType::S8,
            "S16" => FieldType::S16,
            "S32" => FieldType::S32,
            "S64" => FieldType::S64,
            "F32" => FieldType::F32,
            "F64" => FieldType::F64,
            "LLVector3" => FieldType::Vec3,
            "LLVector3d" => FieldType::Vec3d,
            "LLVector4" => FieldType::Vec4,
            "LLQuaternion" => FieldType::Quat,
            "LLUUID" => FieldType::Uuid,
            "BOOL" => FieldType::Bool,
            "IPADDR" => FieldType::IpAddr,
            "IPPORT" => FieldType::IpPort,
            _ => return None,
        })
    }
}

impl fmt::Display for FieldType {
    /// Writes the template spelling (`LLUUID`, `Variable 2`, `Fixed 32`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            FieldType::U8 => "U8",
            FieldType::U16 => "U16",
            FieldType::U32 => "U32",
            FieldType::U64 => "U64",
            FieldType::S8 => "S8",
            FieldType::S16 => "S16",
            FieldType::S32 => "S32",
            FieldType::S64 => "S64",
            FieldType::F32 => "F32",
            FieldType::F64 => "F64",
            FieldType::Vec3 => "LLVector3",
            FieldType::Vec3d => "LLVector3d",
            FieldType::Vec4 => "LLVector4",
            FieldType::Quat => "LLQuaternion",
            FieldType::Uuid => "LLUUID",
            FieldType::Bool => "BOOL",
            FieldType::IpAddr => "IPADDR",
            FieldType::IpPort => "IPPORT",
            FieldType::Variable(n) => return write!(f, "Variable {n}"),
            FieldType::Fixed(n) => return write!(f, "Fixed {n}"),
        };
        f.write_str(name)
    }
}

/// One field of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// The field name.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
}

/// How often a block repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Exactly once.
    Single,
    /// Exactly N times, with no count on the wire.
    Multiple(u8),
    /// A u8 repeat count on the wire, then that many repetitions (0 allowed).
    Variable,
}

/// One block of a message: a group of fields, possibly repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDef {
    /// The block name.
    pub name: String,
    /// How it repeats.
    pub kind: BlockKind,
    /// Its fields, in wire order.
    pub fields: Vec<FieldDef>,
}

/// One message of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDef {
    /// The message name.
    pub name: String,
    /// Its frequency and number.
    pub id: MessageId,
    /// `Trusted` (sim-to-sim / server only) rather than `NotTrusted`.
    pub trusted: bool,
    /// `Zerocoded` rather than `Unencoded`: what a sender *may* do; receivers obey the packet's
    /// flag bit (PROTOCOL §2.3).
    pub zerocoded: bool,
    /// Marked `Deprecated` or `UDPDeprecated`.
    pub deprecated: bool,
    /// Marked `UDPBlackListed` (only sent over other transports now).
    pub udp_blacklisted: bool,
    /// Its blocks, in wire order (may be empty).
    pub blocks: Vec<BlockDef>,
}

impl MessageDef {
    /// The block with this name.
    pub fn block(&self, name: &str) -> Option<&BlockDef> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

impl BlockDef {
    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A parsed template with lookups by number and by name.
#[derive(Debug, Clone, Default)]
pub struct Template {
    messages: Vec<MessageDef>,
    high: Vec<Option<usize>>,
    medium: Vec<Option<usize>>,
    low: Vec<Option<usize>>,
    fixed: Vec<(u32, usize)>,
    names: HashMap<String, usize>,
}

impl Template {
    fn insert(&mut self, def: MessageDef, line: usize) -> Result<(), TemplateError> {
        let index = self.messages.len();
        if self.names.contains_key(&def.name) {
            return Err(TemplateError::DuplicateName {
                line,
                name: def.name,
            });
        }
        if self.by_id(def.id).is_some() {
            return Err(TemplateError::DuplicateNumber { line, id: def.id });
        }
        // High, Medium and Low numbers index dense tables; the three Fixed ones a short list.
        let table = match def.id {
            MessageId::High(n) => Some((&mut self.high, usize::from(n))),
            MessageId::Medium(n) => Some((&mut self.medium, usize::from(n))),
            MessageId::Low(n) => Some((&mut self.low, usize::from(n))),
            MessageId::Fixed(n) => {
                self.fixed.push((n, index));
                None
            }
        };
        if let Some((table, n)) = table {
            if table.len() <= n {
                table.resize(n.saturating_add(1), None);
            }
            if let Some(slot) = table.get_mut(n) {
                *slot = Some(index);
            }
        }
        self.names.insert(def.name.clone(), index);
        self.messages.push(def);
        Ok(())
    }

    /// Every message, in template order.
    pub fn messages(&self) -> &[MessageDef] {
        &self.messages
    }

    /// The message with this number.
    pub fn by_id(&self, id: MessageId) -> Option<&MessageDef> {
        let index = match id {
            MessageId::High(n) => self.high.get(usize::from(n)).copied().flatten(),
            MessageId::Medium(n) => self.medium.get(usize::from(n)).copied().flatten(),
            MessageId::Low(n) => self.low.get(usize::from(n)).copied().flatten(),
            MessageId::Fixed(n) => self.fixed.iter().find(|(f, _)| *f == n).map(|(_, i)| *i),
        }?;
        self.messages.get(index)
    }

    /// The message with this name.
    pub fn by_name(&self, name: &str) -> Option<&MessageDef> {
        self.messages.get(*self.names.get(name)?)
    }
}

/// The embedded template, parsed on first use.
///
/// The embedded text is fixed at build time and a test checks that it parses; should it ever
/// fail, the error is logged and an empty template is returned (every message is then unknown)
/// rather than panicking.
pub fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        Template::parse(TEMPLATE_TEXT).unwrap_or_else(|e| {
            tracing::error!("embedded message template does not parse: {e}");
            Template::default()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-1 (FIPS 180-4), enough to pin the embedded copy without a dependency.
    fn sha1_hex(data: &[u8]) -> String {
        let mut h: [u32; 5] = [
            0x6745_2301,
            0xEFCD_AB89,
            0x98BA_DCFE,
            0x1032_5476,
            0xC3D2_E1F0,
        ];
        let mut msg = data.to_vec();
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
        for chunk in msg.chunks(64) {
            let mut w = [0u32; 80];
            for i in 0..16 {
                w[i] = u32::from_be_bytes(chunk[i * 4..i * 4 + 4].try_into().unwrap());
            }
            for i in 16..80 {
                w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
            }
            let [mut a, mut b, mut c, mut d, mut e] = h;
            for (i, wi) in w.iter().enumerate() {
                let (f, k) = match i {
                    0..20 => ((b & c) | (!b & d), 0x5A82_7999),
                    20..40 => (b ^ c ^ d, 0x6ED9_EBA1),
                    40..60 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                    _ => (b ^ c ^ d, 0xCA62_C1D6),
                };
                let t = a
                    .rotate_left(5)
                    .wrapping_add(f)
                    .wrapping_add(e)
                    .wrapping_add(k)
                    .wrapping_add(*wi);
                (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
            }
            for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
                *x = x.wrapping_add(y);
            }
        }
        h.iter().map(|x| format!("{x:08x}")).collect()
    }

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(sha1_hex(long), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    }

    #[test]
    fn embedded_copy_is_verbatim() {
        assert_eq!(
            sha1_hex(TEMPLATE_TEXT.as_bytes()),
            "aaecaf01b6954c156662f572dc3ecaf26de0ca67"
        );
        assert_eq!(TEMPLATE_TEXT.lines().count(), 9287);
        assert!(TEMPLATE_TEXT.lines().any(|l| l.trim() == "version 2.0"));
    }

    #[test]
    fn embedded_template_parses() {
        let t = Template::parse(TEMPLATE_TEXT).unwrap();
        assert_eq!(t.messages().len(), 483);
        assert_eq!(template().messages().len(), 483);
        for m in t.messages() {
            assert_eq!(t.by_id(m.id).unwrap().name, m.name);
            assert_eq!(t.by_name(&m.name).unwrap().id, m.id);
        }
        assert!(t.by_id(MessageId::Low(432)).is_none());
        assert!(t.by_id(MessageId::High(33)).is_none());
        assert!(t.by_id(MessageId::Fixed(0xFFFF_FFFA)).is_none());
        assert!(t.by_name("NoSuchMessage").is_none());
    }

    #[test]
    fn highest_numbers() {
        // The header comment says "Low: 431, Medium: 18, High: 30", but the comment is stale:
        // High 31 (GenericStreamingMessage) and 32 (GameControlInput) were added without
        // updating it, and Medium stops at 17. The numbers themselves are dense from 1.
        assert!(TEMPLATE_TEXT.contains("// Low: 431\n// Medium: 18\n// High: 30\n"));
        let (mut high, mut medium, mut low, mut fixed) = (vec![], vec![], vec![], vec![]);
        for m in template().messages() {
            match m.id {
                MessageId::High(n) => high.push(u32::from(n)),
                MessageId::Medium(n) => medium.push(u32::from(n)),
                MessageId::Low(n) => low.push(u32::from(n)),
                MessageId::Fixed(n) => fixed.push(n),
            }
        }
        for (v, max) in [(&mut high, 32), (&mut medium, 17), (&mut low, 431)] {
            v.sort_unstable();
            assert_eq!(*v, (1..=max).collect::<Vec<u32>>());
        }
        fixed.sort_unstable();
        assert_eq!(fixed, [0xFFFF_FFFB, 0xFFFF_FFFC, 0xFFFF_FFFD]);
        let t = template();
        assert_eq!(
            t.by_id(MessageId::High(32)).unwrap().name,
            "GameControlInput"
        );
        assert_eq!(
            t.by_id(MessageId::Low(431)).unwrap().name,
            "ObjectBypassModUpdate"
        );
    }

    type Layout = Vec<(String, BlockKind, Vec<(String, FieldType)>)>;

    fn layout(m: &MessageDef) -> Layout {
        m.blocks
            .iter()
            .map(|b| {
                let f = b.fields.iter().map(|f| (f.name.clone(), f.ty)).collect();
                (b.name.clone(), b.kind, f)
            })
            .collect()
    }

    fn fields(list: &[(&str, FieldType)]) -> Vec<(String, FieldType)> {
        list.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect()
    }

    #[test]
    fn spot_checks() {
        let t = template();
        let m = t.by_name("UseCircuitCode").unwrap();
        assert_eq!(m.id, MessageId::Low(3));
        assert!(!m.trusted && !m.zerocoded && !m.deprecated);
        let expect = fields(&[
            ("Code", FieldType::U32),
            ("SessionID", FieldType::Uuid),
            ("ID", FieldType::Uuid),
        ]);
        assert_eq!(
            layout(m),
            [("CircuitCode".to_owned(), BlockKind::Single, expect)]
        );

        let m = t.by_name("RegionHandshake").unwrap();
        assert_eq!(
            (m.id, m.trusted, m.zerocoded),
            (MessageId::Low(148), true, true)
        );
        let names: Vec<_> = m.blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            ["RegionInfo", "RegionInfo2", "RegionInfo3", "RegionInfo4"]
        );
        assert_eq!(m.blocks[3].kind, BlockKind::Variable);
        let info = &m.blocks[0];
        assert_eq!(info.fields.len(), 24);
        assert_eq!(info.field("SimName").unwrap().ty, FieldType::Variable(1));
        assert_eq!(info.field("WaterHeight").unwrap().ty, FieldType::F32);

        let m = t.by_id(MessageId::High(12)).unwrap();
        assert_eq!(m.name, "ObjectUpdate");
        assert!(m.zerocoded);
        assert_eq!(m.blocks[0].kind, BlockKind::Single);
        let data = m.block("ObjectData").unwrap();
        assert_eq!(data.kind, BlockKind::Variable);
        assert_eq!(data.fields.len(), 46);
        assert_eq!(data.fields[0].name, "ID");
        assert_eq!(data.field("ObjectData").unwrap().ty, FieldType::Variable(1));
        assert_eq!(data.field("TextColor").unwrap().ty, FieldType::Fixed(4));
        assert_eq!(data.field("JointAxisOrAnchor").unwrap().ty, FieldType::Vec3);

        let m = t.by_id(MessageId::Fixed(0xFFFF_FFFB)).unwrap();
        assert_eq!(m.name, "PacketAck");
        let expect = fields(&[("ID", FieldType::U32)]);
        assert_eq!(
            layout(m),
            [("Packets".to_owned(), BlockKind::Variable, expect)]
        );

        let m = t.by_name("TestMessage").unwrap();
        assert_eq!(m.blocks[1].kind, BlockKind::Multiple(4));
        assert!(t.by_name("DisableSimulator").unwrap().blocks.is_empty());
        assert!(t.by_name("OpenCircuit").unwrap().udp_blacklisted);
        assert!(t.by_name("ObjectPosition").unwrap().deprecated);
        let q = t
            .by_name("ObjectRotation")
            .unwrap()
            .block("ObjectData")
            .unwrap();
        assert_eq!(q.field("Rotation").unwrap().ty, FieldType::Quat);
    }

    #[test]
    fn field_sizes() {
        assert_eq!(FieldType::Quat.fixed_size(), Some(12));
        assert_eq!(FieldType::Vec3d.fixed_size(), Some(24));
        assert_eq!(FieldType::Uuid.fixed_size(), Some(16));
        assert_eq!(FieldType::Fixed(32).fixed_size(), Some(32));
        assert_eq!(FieldType::Variable(2).fixed_size(), None);
        assert_eq!(FieldType::Quat.to_string(), "LLQuaternion");
        assert_eq!(FieldType::Variable(1).to_string(), "Variable 1");
        for m in template().messages() {
            for b in &m.blocks {
                for f in &b.fields {
                    let text = f.ty.to_string();
                    let back = match text.split_once(' ') {
                        Some(("Fixed", n)) => FieldType::Fixed(n.parse().unwrap()),
                        Some(("Variable", n)) => FieldType::Variable(n.parse().unwrap()),
                        _ => FieldType::from_name(&text).unwrap(),
                    };
                    assert_eq!(back, f.ty);
                }
            }
        }
    }
}
