//! The TextureEntry blob: per-face texture, colour, mapping, material, media and glow
//! (PROTOCOL §9; SLV `indra/llprimitive/llprimitive.cpp` `unpackTEMessage`/`packTEMessage`; LMV
//! `TextureEntry.cs`).
//!
//! Eleven sections follow one another, each a default value and then exceptions
//! `[face bits][value]` ended by a single `00`. Face bits are a big-endian varint of 7-bit groups
//! (high bit = more follow); bit *i* selects face *i*. Decoding stops cleanly where the data ends
//! at a section or exception boundary — the last section (material ids) and even the final `00`
//! may be missing (SLV appends it itself) — and fails on data that ends inside a value or varint.
//! Face bits wider than 64 are rejected, so hostile input cannot overflow. Exceptions that select
//! no face are dropped. [`TextureEntry::to_bytes`] writes all eleven sections with minimal
//! varints, which reproduces every TextureEntry in the OpenSim captures byte for byte.

use core::f32::consts::TAU;

use crate::message::codec::{MessageError, Reader};
use crate::types::Uuid;

/// One section: a default and the faces that differ from it.
#[derive(Debug, Clone, PartialEq)]
pub struct TeField<T> {
    /// The value of every face not named by an exception.
    pub default: T,
    /// `(face bits, value)` in wire order; a later exception overrides an earlier one.
    pub exceptions: Vec<(u64, T)>,
}

impl<T: Copy> TeField<T> {
    /// A section where every face has `default`.
    pub fn new(default: T) -> Self {
        TeField {
            default,
            exceptions: Vec::new(),
        }
    }

    /// The value for `face` (faces 64 and above always get the default).
    pub fn get(&self, face: usize) -> T {
        let bit = u32::try_from(face)
            .ok()
            .and_then(|f| 1u64.checked_shl(f))
            .unwrap_or(0);
        self.exceptions
            .iter()
            .rev()
            .find(|(faces, _)| faces & bit != 0)
            .map_or(self.default, |(_, v)| *v)
    }
}

/// A decoded TextureEntry.
#[derive(Debug, Clone, PartialEq)]
pub struct TextureEntry {
    /// Section 1: texture ids.
    pub textures: TeField<Uuid>,
    /// Section 2: RGBA colours *as on the wire*, each byte 255 − value (all zero = opaque
    /// white). Use [`TextureEntry::face_color`] for the real colour.
    pub colors: TeField<[u8; 4]>,
    /// Section 3: horizontal repeats.
    pub repeats_u: TeField<f32>,
    /// Section 4: vertical repeats.
    pub repeats_v: TeField<f32>,
    /// Section 5: horizontal offsets × 32767.
    pub offsets_u: TeField<i16>,
    /// Section 6: vertical offsets × 32767.
    pub offsets_v: TeField<i16>,
    /// Section 7: rotations, 32768 = one full turn.
    pub rotations: TeField<i16>,
    /// Section 8: bump (low 5 bits), fullbright (0x20), shiny (0xC0).
    pub materials: TeField<u8>,
    /// Section 9: media flags and texture generation.
    pub media: TeField<u8>,
    /// Section 10: glow × 255.
    pub glows: TeField<u8>,
    /// Section 11: material ids (nil when the section is absent).
    pub material_ids: TeField<Uuid>,
}

impl Default for TextureEntry {
    /// Nil texture, opaque white, repeats 1, no offset/rotation/material/media/glow.
    fn default() -> Self {
        TextureEntry {
            textures: TeField::new(Uuid::NIL),
            colors: TeField::new([0; 4]),
            repeats_u: TeField::new(1.0),
            repeats_v: TeField::new(1.0),
            offsets_u: TeField::new(0),
            offsets_v: TeField::new(0),
            rotations: TeField::new(0),
            materials: TeField::new(0),
            media: TeField::new(0),
            glows: TeField::new(0),
            material_ids: TeField::new(Uuid::NIL),
        }
    }
}

/// Fullbright bit of the material byte.
pub const FULLBRIGHT: u8 = 0x20;
/// Bump-map bits of the material byte.
pub const BUMP_MASK: u8 = 0x1F;
/// Shininess bits of the material byte.
pub const SHINY_MASK: u8 = 0xC0;

/// Reads face bits; `None` at the end of the data or at a section terminator.
fn read_face_bits(r: &mut Reader<'_>) -> Result<Option<u64>, MessageError> {
    match r.remaining().first() {
        None | Some(0) => {
            // Consume the terminator if there is one.
            if !r.is_empty() {
                r.u8()?;
            }
            return Ok(None);
        }
        Some(_) => {}
    }
    let mut bits = 0u64;
    loop {
        let b = r.u8()?;
        if bits > u64::MAX >> 7 {
            return Err(MessageError::Invalid("texture entry face bits"));
        }
        bits = (bits << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            return Ok(Some(bits));
        }
    }
}

fn write_face_bits(out: &mut Vec<u8>, mut bits: u64) {
    let mut groups = Vec::with_capacity(10);
    loop {
        groups.push(bits.to_le_bytes().first().copied().unwrap_or(0) & 0x7F);
        bits >>= 7;
        if bits == 0 {
            break;
        }
    }
    let last = groups.len().saturating_sub(1);
    for (i, g) in groups.iter().rev().enumerate() {
        out.push(if i < last { g | 0x80 } else { *g });
    }
}

/// Reads one section; `None` when the data ended before it.
fn read_field<T>(
    r: &mut Reader<'_>,
    value: impl Fn(&mut Reader<'_>) -> Result<T, MessageError>,
) -> Result<Option<TeField<T>>, MessageError> {
    if r.is_empty() {
        return Ok(None);
    }
    let default = value(r)?;
    let mut exceptions = Vec::new();
    while let Some(bits) = read_face_bits(r)? {
        let v = value(r)?;
        if bits != 0 {
            exceptions.push((bits, v));
        }
    }
    Ok(Some(TeField {
        default,
        exceptions,
    }))
}

fn write_field<T>(out: &mut Vec<u8>, field: &TeField<T>, value: impl Fn(&mut Vec<u8>, &T)) {
    value(out, &field.default);
    for (bits, v) in &field.exceptions {
        if *bits != 0 {
            write_face_bits(out, *bits);
            value(out, v);
        }
    }
    out.push(0);
}

impl TextureEntry {
    /// Decodes a TextureEntry; empty input gives [`TextureEntry::default`].
    ///
    /// # Errors
    /// [`MessageError::Truncated`] when the data ends inside a value or face-bits varint;
    /// [`MessageError::Invalid`] for face bits wider than 64; [`MessageError::TrailingBytes`]
    /// for bytes after the eleventh section.
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let mut te = TextureEntry::default();
        let mut r = Reader::new(bytes);
        macro_rules! section {
            ($field:ident, $read:expr) => {
                match read_field(&mut r, $read)? {
                    Some(f) => te.$field = f,
                    None => return Ok(te),
                }
            };
        }
        section!(textures, |r| r.uuid());
        section!(colors, |r| r.array());
        section!(repeats_u, |r| r.f32());
        section!(repeats_v, |r| r.f32());
        section!(offsets_u, |r| r.i16());
        section!(offsets_v, |r| r.i16());
        section!(rotations, |r| r.i16());
        section!(materials, |r| r.u8());
        section!(media, |r| r.u8());
        section!(glows, |r| r.u8());
        section!(material_ids, |r| r.uuid());
        r.finish()?;
        Ok(te)
    }

    /// Encodes all eleven sections.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_field(&mut out, &self.textures, |o, v| o.extend_from_slice(&v.0));
        write_field(&mut out, &self.colors, |o, v| o.extend_from_slice(v));
        write_field(&mut out, &self.repeats_u, |o, v| {
            o.extend_from_slice(&v.to_le_bytes())
        });
        write_field(&mut out, &self.repeats_v, |o, v| {
            o.extend_from_slice(&v.to_le_bytes())
        });
        write_field(&mut out, &self.offsets_u, |o, v| {
            o.extend_from_slice(&v.to_le_bytes())
        });
        write_field(&mut out, &self.offsets_v, |o, v| {
            o.extend_from_slice(&v.to_le_bytes())
        });
        write_field(&mut out, &self.rotations, |o, v| {
            o.extend_from_slice(&v.to_le_bytes())
        });
        write_field(&mut out, &self.materials, |o, v| o.push(*v));
        write_field(&mut out, &self.media, |o, v| o.push(*v));
        write_field(&mut out, &self.glows, |o, v| o.push(*v));
        write_field(&mut out, &self.material_ids, |o, v| {
            o.extend_from_slice(&v.0)
        });
        out
    }

    /// The texture of `face`.
    pub fn texture(&self, face: usize) -> Uuid {
        self.textures.get(face)
    }

    /// The RGBA colour of `face` (wire bytes un-inverted).
    pub fn face_color(&self, face: usize) -> [u8; 4] {
        self.colors.get(face).map(|b| 255 - b)
    }

    /// The RGBA colour of faces without an exception.
    pub fn default_color(&self) -> [u8; 4] {
        self.colors.default.map(|b| 255 - b)
    }

    /// Texture repeats (u, v) of `face`.
    pub fn repeats(&self, face: usize) -> (f32, f32) {
        (self.repeats_u.get(face), self.repeats_v.get(face))
    }

    /// Texture offset (u, v) of `face`, in `[-1, 1]`.
    pub fn offset(&self, face: usize) -> (f32, f32) {
        let o = |v: i16| f32::from(v) / 32767.0;
        (o(self.offsets_u.get(face)), o(self.offsets_v.get(face)))
    }

    /// Texture rotation of `face` in radians.
    pub fn rotation(&self, face: usize) -> f32 {
        f32::from(self.rotations.get(face)) / 32768.0 * TAU
    }

    /// The material byte of `face`.
    pub fn material(&self, face: usize) -> u8 {
        self.materials.get(face)
    }

    /// True when `face` is fullbright.
    pub fn fullbright(&self, face: usize) -> bool {
        self.material(face) & FULLBRIGHT != 0
    }

    /// Bump map of `face` (0 none, 1 brightness, 2 darkness, 3+ textures).
    pub fn bump(&self, face: usize) -> u8 {
        self.material(face) & BUMP_MASK
    }

    /// Shininess of `face`, 0–3.
    pub fn shiny(&self, face: usize) -> u8 {
        (self.material(face) & SHINY_MASK) >> 6
    }

    /// Media flags of `face`.
    pub fn media(&self, face: usize) -> u8 {
        self.media.get(face)
    }

    /// Glow of `face` in `[0, 1]`.
    pub fn glow(&self, face: usize) -> f32 {
        f32::from(self.glows.get(face)) / 255.0
    }

    /// Material id of `face`.
    pub fn material_id(&self, face: usize) -> Uuid {
        self.material_ids.get(face)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::decode_hex;
    use proptest::prelude::*;

    /// The captured box: faces 0/1/2 red/green/blue (OpenSim 0.9.2.2, test-region).
    const BOX: &str = "8955674724cb43ed920b47caed15465f000000000004ffff000002ff00ff000100ffff00000000803f000000803f000000000000000000000000000000000000000000000000000000000000000000";
    /// The captured cylinder: alpha 0.5, face 0 fullbright.
    const CYLINDER: &str = "8955674724cb43ed920b47caed15465f000000007f000000803f000000803f0000000000000000000000012000000000000000000000000000000000000000000000";

    #[test]
    fn decodes_captured_box() {
        let bytes = decode_hex(BOX).unwrap();
        let te = TextureEntry::parse(&bytes).unwrap();
        assert_eq!(
            te.texture(0).to_string(),
            "89556747-24cb-43ed-920b-47caed15465f"
        );
        assert_eq!(te.default_color(), [255; 4]);
        assert_eq!(te.face_color(0), [255, 0, 0, 255]);
        assert_eq!(te.face_color(1), [0, 255, 0, 255]);
        assert_eq!(te.face_color(2), [0, 0, 255, 255]);
        assert_eq!(te.face_color(3), [255; 4]);
        assert_eq!(te.face_color(1000), [255; 4]);
        assert_eq!(te.repeats(5), (1.0, 1.0));
        assert_eq!(
            (te.offset(0), te.rotation(0), te.glow(0)),
            ((0.0, 0.0), 0.0, 0.0)
        );
        assert_eq!(te.to_bytes(), bytes);
    }

    #[test]
    fn decodes_captured_cylinder() {
        let bytes = decode_hex(CYLINDER).unwrap();
        let te = TextureEntry::parse(&bytes).unwrap();
        assert_eq!(te.face_color(0)[3], 128);
        assert!(te.fullbright(0));
        assert!(!te.fullbright(1));
        assert_eq!((te.bump(0), te.shiny(0)), (0, 0));
        assert_eq!(te.to_bytes(), bytes);
    }

    #[test]
    fn stops_cleanly_at_section_ends() {
        let full = decode_hex(BOX).unwrap();
        // Without the material-id section, and without the final terminator.
        let te = TextureEntry::parse(&full[..full.len() - 17]).unwrap();
        assert_eq!(te.material_id(0), Uuid::NIL);
        assert_eq!(te.face_color(2), [0, 0, 255, 255]);
        assert!(TextureEntry::parse(&full[..full.len() - 1]).is_ok());
        // Only the texture section.
        let te = TextureEntry::parse(&full[..16]).unwrap();
        assert_eq!(te.face_color(0), [255; 4]);
        assert_eq!(TextureEntry::parse(&[]).unwrap(), TextureEntry::default());
        // Inside a value or a varint: an error.
        assert_eq!(
            TextureEntry::parse(&full[..10]),
            Err(MessageError::Truncated)
        );
        assert_eq!(
            TextureEntry::parse(&full[..20]),
            Err(MessageError::Truncated)
        );
        let mut v = full[..17].to_vec();
        v.push(0x81);
        assert_eq!(TextureEntry::parse(&v), Err(MessageError::Truncated));
        let mut extra = full.clone();
        extra.push(7);
        assert_eq!(
            TextureEntry::parse(&extra),
            Err(MessageError::TrailingBytes(1))
        );
    }

    #[test]
    fn face_bits_are_bounded() {
        let mut v = vec![0u8; 16];
        v.extend_from_slice(&[0x81; 10]);
        v.push(0x01);
        assert_eq!(
            TextureEntry::parse(&v),
            Err(MessageError::Invalid("texture entry face bits"))
        );
        // 64 bits exactly is fine: 0x81 then nine 0xFF... encodes u64::MAX.
        let mut te = TextureEntry::default();
        te.textures.exceptions.push((u64::MAX, Uuid([7; 16])));
        te.textures.exceptions.push((1 << 40, Uuid([8; 16])));
        let back = TextureEntry::parse(&te.to_bytes()).unwrap();
        assert_eq!(back, te);
        assert_eq!(back.texture(63), Uuid([7; 16]));
        assert_eq!(back.texture(40), Uuid([8; 16]));
        assert_eq!(back.texture(64), Uuid::NIL);
    }

    #[test]
    fn later_exceptions_win_and_empty_ones_drop() {
        let mut f = TeField::new(1u8);
        f.exceptions.push((0b11, 2));
        f.exceptions.push((0b10, 3));
        assert_eq!((f.get(0), f.get(1), f.get(2)), (2, 3, 1));
        // `80 00` names no face: its value is read and dropped.
        let mut v = vec![0u8; 16];
        v.extend_from_slice(&[0x80, 0x00]);
        v.extend_from_slice(&[9; 16]);
        v.push(0);
        let te = TextureEntry::parse(&v).unwrap();
        assert!(te.textures.exceptions.is_empty());
    }

    fn field<T: Clone + core::fmt::Debug>(
        v: impl Strategy<Value = T> + Clone,
    ) -> impl Strategy<Value = TeField<T>> {
        (v.clone(), proptest::collection::vec((1u64.., v), 0..4)).prop_map(
            |(default, exceptions)| TeField {
                default,
                exceptions,
            },
        )
    }

    fn finite() -> impl Strategy<Value = f32> + Clone {
        -1000.0f32..1000.0
    }

    prop_compose! {
        fn any_te()(
            textures in field(any::<[u8; 16]>().prop_map(Uuid)),
            colors in field(any::<[u8; 4]>()),
            repeats_u in field(finite()),
            repeats_v in field(finite()),
            offsets_u in field(any::<i16>()),
            offsets_v in field(any::<i16>()),
            rotations in field(any::<i16>()),
            materials in field(any::<u8>()),
            media in field(any::<u8>()),
            glows in field(any::<u8>()),
            material_ids in field(any::<[u8; 16]>().prop_map(Uuid)),
        ) -> TextureEntry {
            TextureEntry { textures, colors, repeats_u, repeats_v, offsets_u, offsets_v, rotations, materials, media, glows, material_ids }
        }
    }

    proptest! {
        #[test]
        fn roundtrip_texture_entry(te in any_te()) {
            let bytes = te.to_bytes();
            prop_assert_eq!(TextureEntry::parse(&bytes).unwrap(), te);
            for n in 0..bytes.len() {
                let _ = TextureEntry::parse(&bytes[..n]);
            }
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(te) = TextureEntry::parse(&bytes) {
                let again = TextureEntry::parse(&te.to_bytes()).unwrap();
                prop_assert_eq!(again.to_bytes(), te.to_bytes());
            }
        }
    }
}
