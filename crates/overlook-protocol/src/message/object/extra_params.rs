//! The `ExtraParams` blob: flexible, light, sculpt/mesh, projector and newer per-object
//! parameters (PROTOCOL §3.9; SLV `indra/llprimitive/llprimitive.{h,cpp}`).
//!
//! Layout: a `u8` count, then per entry a `u16` type, a `u32` length and that many bytes. An
//! entry whose type is known *and* whose length is the one SLV accepts (`LLNetworkData::isValid`)
//! decodes into its typed variant; anything else is kept as [`ExtraParam::Unknown`], so decoding
//! is lossless and [`ExtraParams::to_bytes`] reproduces the input. An empty blob (what OpenSim puts
//! in a full `ObjectUpdate` without parameters) means no entries. Every length is bounds-checked.

use super::take_u32_prefixed;
use crate::message::codec::{MessageError, Reader, Writer};
use crate::types::{Uuid, Vec3};

/// Type code of [`ExtraParam::Flexible`].
pub const FLEXIBLE: u16 = 0x10;
/// Type code of [`ExtraParam::Light`].
pub const LIGHT: u16 = 0x20;
/// Type code of [`ExtraParam::Sculpt`].
pub const SCULPT: u16 = 0x30;
/// Type code of [`ExtraParam::LightImage`].
pub const LIGHT_IMAGE: u16 = 0x40;
/// Type code of [`ExtraParam::Mesh`] (LMV writes mesh sculpt data under it).
pub const MESH: u16 = 0x60;
/// Type code of [`ExtraParam::ExtendedMesh`].
pub const EXTENDED_MESH: u16 = 0x70;
/// Type code of [`ExtraParam::RenderMaterial`].
pub const RENDER_MATERIAL: u16 = 0x80;
/// Type code of [`ExtraParam::ReflectionProbe`].
pub const REFLECTION_PROBE: u16 = 0x90;

/// Flexible-prim parameters (16 bytes), kept as the packed wire bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flexible {
    /// Tension × 10 in the low 7 bits; bit 7 is softness bit 1.
    pub tension: u8,
    /// Drag × 10 in the low 7 bits; bit 7 is softness bit 0.
    pub drag: u8,
    /// (Gravity + 10) × 10.
    pub gravity: u8,
    /// Wind sensitivity × 10.
    pub wind: u8,
    /// A constant user force.
    pub user_force: Vec3,
}

impl Flexible {
    /// Simulated sections as a power of two, 0–3 (SLV `mSimulateLOD`).
    pub fn softness(&self) -> u8 {
        ((self.tension >> 6) & 2) | ((self.drag >> 7) & 1)
    }

    /// Tension in `[0, 10]`.
    pub fn tension(&self) -> f32 {
        f32::from(self.tension & 0x7F) / 10.0
    }

    /// Drag (air friction) in `[0, 10]`.
    pub fn drag(&self) -> f32 {
        f32::from(self.drag & 0x7F) / 10.0
    }

    /// Gravity in `[-10, 10]`.
    pub fn gravity(&self) -> f32 {
        f32::from(self.gravity) / 10.0 - 10.0
    }

    /// Wind sensitivity in `[0, 10]`.
    pub fn wind(&self) -> f32 {
        f32::from(self.wind) / 10.0
    }
}

/// Point-light parameters (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Light {
    /// RGB and intensity (alpha), 0–255 each.
    pub color: [u8; 4],
    /// Radius in metres.
    pub radius: f32,
    /// Cutoff.
    pub cutoff: f32,
    /// Falloff.
    pub falloff: f32,
}

/// What a sculpt or mesh texture describes (low bits of the type byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SculptKind {
    /// 0: none.
    None,
    /// 1: sphere.
    Sphere,
    /// 2: torus.
    Torus,
    /// 3: plane.
    Plane,
    /// 4: cylinder.
    Cylinder,
    /// 5: a mesh asset.
    Mesh,
    /// Any other value of the low 6 bits.
    Unknown(u8),
}

/// Sculpt or mesh parameters (17 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sculpt {
    /// The sculpt texture or mesh asset.
    pub texture: Uuid,
    /// The raw type byte: kind in the low bits, 0x40 invert, 0x80 mirror.
    pub kind_byte: u8,
}

impl Sculpt {
    /// The kind (flags masked off).
    pub fn kind(&self) -> SculptKind {
        match self.kind_byte & 0x3F {
            0 => SculptKind::None,
            1 => SculptKind::Sphere,
            2 => SculptKind::Torus,
            3 => SculptKind::Plane,
            4 => SculptKind::Cylinder,
            5 => SculptKind::Mesh,
            n => SculptKind::Unknown(n),
        }
    }

    /// True when the sculpt is drawn inside out.
    pub fn inverted(&self) -> bool {
        self.kind_byte & 0x40 != 0
    }

    /// True when the sculpt is mirrored.
    pub fn mirrored(&self) -> bool {
        self.kind_byte & 0x80 != 0
    }
}

/// Projector ("light image") parameters (28 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LightImage {
    /// The projected texture.
    pub texture: Uuid,
    /// Field of view, focus and ambiance.
    pub params: Vec3,
}

/// Reflection-probe parameters (9 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReflectionProbe {
    /// Ambiance.
    pub ambiance: f32,
    /// Near clip distance.
    pub clip_distance: f32,
    /// Flags (box volume, dynamic, mirror).
    pub flags: u8,
}

/// One decoded entry.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtraParam {
    /// 0x10.
    Flexible(Flexible),
    /// 0x20.
    Light(Light),
    /// 0x30: sculpt texture, or a mesh when the kind is [`SculptKind::Mesh`].
    Sculpt(Sculpt),
    /// 0x40.
    LightImage(LightImage),
    /// 0x60: the sculpt layout under the mesh type code.
    Mesh(Sculpt),
    /// 0x70: extended-mesh flags (bit 0: animated mesh).
    ExtendedMesh(u32),
    /// 0x80: GLTF material per face, `(face, material id)`.
    RenderMaterial(Vec<(u8, Uuid)>),
    /// 0x90.
    ReflectionProbe(ReflectionProbe),
    /// Any other type, or a known type with a length SLV would reject.
    Unknown {
        /// The type code.
        kind: u16,
        /// The entry's bytes.
        data: Vec<u8>,
    },
}

impl ExtraParam {
    /// The type code on the wire.
    pub fn type_code(&self) -> u16 {
        match self {
            ExtraParam::Flexible(_) => FLEXIBLE,
            ExtraParam::Light(_) => LIGHT,
            ExtraParam::Sculpt(_) => SCULPT,
            ExtraParam::LightImage(_) => LIGHT_IMAGE,
            ExtraParam::Mesh(_) => MESH,
            ExtraParam::ExtendedMesh(_) => EXTENDED_MESH,
            ExtraParam::RenderMaterial(_) => RENDER_MATERIAL,
            ExtraParam::ReflectionProbe(_) => REFLECTION_PROBE,
            ExtraParam::Unknown { kind, .. } => *kind,
        }
    }

    fn decode(kind: u16, data: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(data);
        let typed = match (kind, data.len()) {
            (FLEXIBLE, 16) => ExtraParam::Flexible(Flexible {
                tension: r.u8()?,
                drag: r.u8()?,
                gravity: r.u8()?,
                wind: r.u8()?,
                user_force: r.vec3()?,
            }),
            (LIGHT, 16) => ExtraParam::Light(Light {
                color: r.array()?,
                radius: r.f32()?,
                cutoff: r.f32()?,
                falloff: r.f32()?,
            }),
            (SCULPT | MESH, 17) => {
                let s = Sculpt {
                    texture: r.uuid()?,
                    kind_byte: r.u8()?,
                };
                if kind == SCULPT {
                    ExtraParam::Sculpt(s)
                } else {
                    ExtraParam::Mesh(s)
                }
            }
            (LIGHT_IMAGE, 28) => ExtraParam::LightImage(LightImage {
                texture: r.uuid()?,
                params: r.vec3()?,
            }),
            (EXTENDED_MESH, 4) => ExtraParam::ExtendedMesh(r.u32()?),
            (RENDER_MATERIAL, n) if n > 1 && Some(n) == render_material_len(data) => {
                let count = r.count()?;
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    entries.push((r.u8()?, r.uuid()?));
                }
                ExtraParam::RenderMaterial(entries)
            }
            (REFLECTION_PROBE, 9) => ExtraParam::ReflectionProbe(ReflectionProbe {
                ambiance: r.f32()?,
                clip_distance: r.f32()?,
                flags: r.u8()?,
            }),
            _ => {
                return Ok(ExtraParam::Unknown {
                    kind,
                    data: data.to_vec(),
                });
            }
        };
        r.finish()?;
        Ok(typed)
    }

    /// The entry's data bytes (without type and length).
    ///
    /// # Errors
    /// [`MessageError::FieldTooLong`] for a render-material list of more than 255 faces.
    pub fn data(&self) -> Result<Vec<u8>, MessageError> {
        let mut out = vec![0; self.data_len()];
        let mut w = Writer::new(&mut out);
        match self {
            ExtraParam::Flexible(f) => {
                w.bytes(&[f.tension, f.drag, f.gravity, f.wind]);
                w.vec3(&f.user_force);
            }
            ExtraParam::Light(l) => {
                w.bytes(&l.color);
                w.f32(l.radius);
                w.f32(l.cutoff);
                w.f32(l.falloff);
            }
            ExtraParam::Sculpt(s) | ExtraParam::Mesh(s) => {
                w.uuid(&s.texture);
                w.u8(s.kind_byte);
            }
            ExtraParam::LightImage(l) => {
                w.uuid(&l.texture);
                w.vec3(&l.params);
            }
            ExtraParam::ExtendedMesh(flags) => w.u32(*flags),
            ExtraParam::RenderMaterial(entries) => {
                w.count("RenderMaterial", entries.len());
                for (face, id) in entries {
                    w.u8(*face);
                    w.uuid(id);
                }
            }
            ExtraParam::ReflectionProbe(p) => {
                w.f32(p.ambiance);
                w.f32(p.clip_distance);
                w.u8(p.flags);
            }
            ExtraParam::Unknown { data, .. } => w.bytes(data),
        }
        w.finish()?;
        Ok(out)
    }

    fn data_len(&self) -> usize {
        match self {
            ExtraParam::Flexible(_) | ExtraParam::Light(_) => 16,
            ExtraParam::Sculpt(_) | ExtraParam::Mesh(_) => 17,
            ExtraParam::LightImage(_) => 28,
            ExtraParam::ExtendedMesh(_) => 4,
            ExtraParam::RenderMaterial(e) => e.len().saturating_mul(17).saturating_add(1),
            ExtraParam::ReflectionProbe(_) => 9,
            ExtraParam::Unknown { data, .. } => data.len(),
        }
    }
}

/// The length a render-material entry must have for its count byte.
fn render_material_len(data: &[u8]) -> Option<usize> {
    let count = usize::from(*data.first()?);
    count.checked_mul(17)?.checked_add(1)
}

/// All extra parameters of an object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExtraParams {
    /// The entries in wire order.
    pub params: Vec<ExtraParam>,
}

impl ExtraParams {
    /// Decodes a whole blob.
    ///
    /// # Errors
    /// [`MessageError::Truncated`] when an entry runs past the end, or
    /// [`MessageError::TrailingBytes`] when bytes follow the last entry.
    pub fn parse(blob: &[u8]) -> Result<Self, MessageError> {
        if blob.is_empty() {
            return Ok(ExtraParams::default());
        }
        let mut r = Reader::new(blob);
        let params = Self::read(&mut r)?;
        r.finish()?;
        Ok(params)
    }

    /// Reads a blob from the front of `r` (as embedded in a compressed object).
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn read(r: &mut Reader<'_>) -> Result<Self, MessageError> {
        let count = r.count()?;
        let mut params = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = r.u16()?;
            params.push(ExtraParam::decode(kind, take_u32_prefixed(r)?)?);
        }
        Ok(ExtraParams { params })
    }

    /// The wire length of the blob at the front of `bytes`, without decoding the entries.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn wire_len(bytes: &[u8]) -> Result<usize, MessageError> {
        let mut r = Reader::new(bytes);
        for _ in 0..r.count()? {
            r.u16()?;
            take_u32_prefixed(&mut r)?;
        }
        Ok(bytes.len() - r.remaining().len())
    }

    /// The sculpt or mesh entry, if any (type 0x30, else 0x60).
    pub fn sculpt(&self) -> Option<&Sculpt> {
        let find = |want: u16| {
            self.params.iter().find_map(|p| match p {
                ExtraParam::Sculpt(s) if want == SCULPT => Some(s),
                ExtraParam::Mesh(s) if want == MESH => Some(s),
                _ => None,
            })
        };
        find(SCULPT).or_else(|| find(MESH))
    }

    /// The light entry, if any.
    pub fn light(&self) -> Option<&Light> {
        self.params.iter().find_map(|p| match p {
            ExtraParam::Light(l) => Some(l),
            _ => None,
        })
    }

    /// Encodes the blob (count and entries).
    ///
    /// # Errors
    /// [`MessageError::FieldTooLong`] with more than 255 entries or an entry over `u32::MAX`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        let mut out = Vec::new();
        out.push(
            u8::try_from(self.params.len()).map_err(|_| MessageError::FieldTooLong {
                field: "ExtraParams",
                len: self.params.len(),
            })?,
        );
        for p in &self.params {
            let data = p.data()?;
            let len = u32::try_from(data.len()).map_err(|_| MessageError::FieldTooLong {
                field: "ExtraParams entry",
                len: data.len(),
            })?;
            out.extend_from_slice(&p.type_code().to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&data);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uuid(b: u8) -> Uuid {
        Uuid([b; 16])
    }

    fn every_kind() -> ExtraParams {
        ExtraParams {
            params: vec![
                ExtraParam::Flexible(Flexible {
                    tension: 0x80 | 10,
                    drag: 0x80 | 20,
                    gravity: 100,
                    wind: 5,
                    user_force: Vec3::new(0.0, 1.0, 0.0),
                }),
                ExtraParam::Light(Light {
                    color: [255, 128, 0, 200],
                    radius: 10.0,
                    cutoff: 0.0,
                    falloff: 0.75,
                }),
                ExtraParam::Sculpt(Sculpt {
                    texture: uuid(1),
                    kind_byte: 0x40 | 2,
                }),
                ExtraParam::LightImage(LightImage {
                    texture: uuid(2),
                    params: Vec3::new(1.0, 10.0, 0.5),
                }),
                ExtraParam::Mesh(Sculpt {
                    texture: uuid(3),
                    kind_byte: 5,
                }),
                ExtraParam::ExtendedMesh(1),
                ExtraParam::RenderMaterial(vec![(0, uuid(4)), (3, uuid(5))]),
                ExtraParam::ReflectionProbe(ReflectionProbe {
                    ambiance: 0.5,
                    clip_distance: 2.0,
                    flags: 1,
                }),
                ExtraParam::Unknown {
                    kind: 0x50,
                    data: vec![1, 2, 3],
                },
                // A known type with a length SLV rejects stays raw.
                ExtraParam::Unknown {
                    kind: FLEXIBLE,
                    data: vec![1, 2, 3, 4],
                },
            ],
        }
    }

    #[test]
    fn roundtrips_every_kind() {
        let params = every_kind();
        let bytes = params.to_bytes().unwrap();
        assert_eq!(ExtraParams::wire_len(&bytes).unwrap(), bytes.len());
        assert_eq!(ExtraParams::parse(&bytes).unwrap(), params);
        let back = ExtraParams::parse(&bytes).unwrap();
        let flex = match &back.params[0] {
            ExtraParam::Flexible(f) => *f,
            other => panic!("{other:?}"),
        };
        assert_eq!(flex.softness(), 3);
        assert_eq!(
            (flex.tension(), flex.drag(), flex.gravity(), flex.wind()),
            (1.0, 2.0, 0.0, 0.5)
        );
        let sculpt = back.sculpt().unwrap();
        assert_eq!(sculpt.kind(), SculptKind::Torus);
        assert!(sculpt.inverted() && !sculpt.mirrored());
        assert_eq!(back.light().unwrap().radius, 10.0);
    }

    #[test]
    fn mesh_entry_found_when_no_sculpt() {
        let p = ExtraParams {
            params: vec![ExtraParam::Mesh(Sculpt {
                texture: uuid(9),
                kind_byte: 0x85,
            })],
        };
        let s = ExtraParams::parse(&p.to_bytes().unwrap()).unwrap();
        assert_eq!(s.sculpt().unwrap().kind(), SculptKind::Mesh);
        assert!(s.sculpt().unwrap().mirrored());
    }

    #[test]
    fn empty_blob_and_zero_count() {
        assert_eq!(ExtraParams::parse(&[]).unwrap(), ExtraParams::default());
        assert_eq!(ExtraParams::parse(&[0]).unwrap(), ExtraParams::default());
        assert_eq!(ExtraParams::default().to_bytes().unwrap(), [0]);
        assert_eq!(
            ExtraParams::parse(&[0, 0]),
            Err(MessageError::TrailingBytes(1))
        );
    }

    #[test]
    fn rejects_every_truncation() {
        let bytes = every_kind().to_bytes().unwrap();
        for n in 1..bytes.len() {
            assert_eq!(
                ExtraParams::parse(&bytes[..n]),
                Err(MessageError::Truncated),
                "{n}"
            );
            assert_eq!(
                ExtraParams::wire_len(&bytes[..n]),
                Err(MessageError::Truncated),
                "{n}"
            );
        }
        // A length that claims more than the blob holds.
        assert_eq!(
            ExtraParams::parse(&[1, 0x20, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0]),
            Err(MessageError::Truncated)
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_is_lossless(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = ExtraParams::parse(&bytes)
                && !bytes.is_empty()
            {
                prop_assert_eq!(p.to_bytes().unwrap(), bytes);
            }
        }

        #[test]
        fn structured_roundtrip(
            entries in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..8)
        ) {
            let mut bytes = vec![u8::try_from(entries.len()).unwrap()];
            for (kind, data) in &entries {
                bytes.extend_from_slice(&kind.to_le_bytes());
                bytes.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
                bytes.extend_from_slice(data);
            }
            let p = ExtraParams::parse(&bytes).unwrap();
            prop_assert_eq!(p.params.len(), entries.len());
            prop_assert_eq!(p.to_bytes().unwrap(), bytes);
        }
    }
}
