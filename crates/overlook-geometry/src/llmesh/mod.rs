//! SL / OpenSim mesh assets (`application/vnd.ll.mesh`), decoded into one [`MeshData`] per face
//! and encoded from them, by pure functions.
//!
//! # Format (PROTOCOL §12)
//!
//! An asset is a [binary LLSD](llsd) map, uncompressed and without the `<? LLSD/Binary ?>` line
//! (accepted when present, as SLV does), followed by blocks. The map names each block by key
//! (`high_lod`, `medium_lod`, `low_lod`, `lowest_lod`, `physics_convex`, `physics_mesh`, `skin`)
//! as `{offset, size}`, the offset counting from the end of the map; a block is present when its
//! size is above 0 (SLV's rule). Other keys (`version`, `creator`, `date`, …) are ignored but for
//! `version` and `404`, which [`best_available`] reads like SLV.
//!
//! A level-of-detail block is zlib-deflated binary LLSD: an array with one map per face:
//!
//! - `Position`: binary, 3 × `u16` little-endian per vertex, mapped from `0…65535` onto
//!   `PositionDomain` `{Min: [x, y, z], Max: [x, y, z]}` (default −0.5…0.5 when absent);
//! - `Normal`: binary, 3 × `u16` per vertex mapped onto −1…1 (renormalized here); when absent
//!   or empty, smooth normals are computed from the triangles;
//! - `TexCoord0`: binary, 2 × `u16` per vertex mapped onto `TexCoord0Domain`
//!   `{Min: [u, v], Max: [u, v]}` (default 0…1); when absent or empty, all zero. Kept as SL stores
//!   them (t up), like the prim builders' uvs;
//! - `TriangleList`: binary, `u16` little-endian indices, three per triangle, counter-clockwise
//!   from outside (a trailing incomplete triangle is dropped, as SLV does);
//! - `NoGeometry` (any value): a face with nothing to draw, decoded as an empty [`MeshData`].
//!
//! Skinning `Weights` and any other keys are ignored. Positions span the domain (normally
//! −0.5…0.5); the prim's scale is applied later. Coordinates are SL's: x east, y north, z up.
//!
//! # Robustness
//!
//! Everything here reads network data and returns [`MeshError`] rather than panicking. Blocks
//! must lie inside the asset; a block inflates to at most [`MAX_INFLATED`] bytes; its LLSD is
//! bounded in depth and value count ([`llsd::MAX_DEPTH`], [`llsd::MAX_VALUES`]); a LOD decodes to
//! at most [`MAX_LOD_VERTICES`] vertices and [`MAX_LOD_INDICES`] indices. A face with a
//! malformed attribute (a byte length that is not a whole number of elements, fewer normals or
//! uvs than positions, a malformed or non-finite domain, an index past the last vertex) fails the
//! whole LOD, with the face's number in the error.

pub mod demo;
pub mod llsd;

use std::fmt;

use llsd::{Llsd, LlsdError};
use miniz_oxide::inflate::TINFLStatus;

use crate::MeshData;

/// Largest inflated size of one block; a larger one is [`MeshError::TooLarge`].
pub const MAX_INFLATED: usize = 64 << 20;
/// Most vertices one face may have (its indices are `u16`).
pub const MAX_FACE_VERTICES: usize = 1 << 16;
/// Most vertices one LOD may decode to, all faces together (SL's uploader makes at most
/// 8 faces of 65 536).
pub const MAX_LOD_VERTICES: usize = 1 << 20;
/// Most triangle indices one LOD may decode to, all faces together.
pub const MAX_LOD_INDICES: usize = 1 << 23;
/// Newest header `version` SLV draws; [`best_available`] refuses newer assets.
pub const MAX_MESH_VERSION: i32 = 999;

/// The largest `u16`, the top of every quantized range.
const Q_MAX: f32 = 65535.0;

/// A mesh level of detail, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lod {
    /// `lowest_lod`
    Lowest,
    /// `low_lod`
    Low,
    /// `medium_lod`
    Medium,
    /// `high_lod`
    High,
}

impl Lod {
    /// Every LOD, lowest first (the order of [`Lod::index`]).
    pub const ALL: [Lod; 4] = [Lod::Lowest, Lod::Low, Lod::Medium, Lod::High];

    /// The header key of this LOD's block.
    pub fn key(self) -> &'static str {
        match self {
            Lod::Lowest => "lowest_lod",
            Lod::Low => "low_lod",
            Lod::Medium => "medium_lod",
            Lod::High => "high_lod",
        }
    }

    /// 0 for [`Lod::Lowest`] … 3 for [`Lod::High`] (SLV's LOD numbers).
    pub fn index(self) -> usize {
        match self {
            Lod::Lowest => 0,
            Lod::Low => 1,
            Lod::Medium => 2,
            Lod::High => 3,
        }
    }
}

impl fmt::Display for Lod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Where one block lies: `offset` bytes after the header's end, `size` bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Bytes from the end of the header.
    pub offset: usize,
    /// Length in bytes (above 0).
    pub size: usize,
}

/// A mesh asset's header: where its blocks are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeshHeader {
    /// Bytes the header takes at the start of the asset; block offsets count from here.
    pub len: usize,
    /// The `version` key, when an integer.
    pub version: Option<i32>,
    /// The header has a `404` key (the asset server's "no such mesh").
    pub not_found: bool,
    /// The LOD blocks present, indexed by [`Lod::index`].
    pub lods: [Option<Block>; 4],
    /// `physics_convex` (parsed, not decoded here).
    pub physics_convex: Option<Block>,
    /// `physics_mesh` (parsed, not decoded here).
    pub physics_mesh: Option<Block>,
    /// `skin` (parsed, not decoded here).
    pub skin: Option<Block>,
}

impl MeshHeader {
    /// The block of `lod`, when present.
    pub fn lod(&self, lod: Lod) -> Option<Block> {
        self.lods.get(lod.index()).copied().flatten()
    }

    /// See [`best_available`].
    pub fn best_available(&self, wanted: Lod) -> Option<Lod> {
        best_available(self, wanted)
    }
}

/// A parsed header with the asset's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshAsset<'a> {
    /// The whole asset.
    pub bytes: &'a [u8],
    /// Its header.
    pub header: MeshHeader,
}

impl<'a> MeshAsset<'a> {
    /// Parses the header of `bytes` (see [`parse_header`]).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MeshError> {
        Ok(MeshAsset {
            bytes,
            header: parse_header(bytes)?,
        })
    }

    /// The faces of `lod` (see [`decode_lod`]).
    pub fn decode(&self, lod: Lod) -> Result<Vec<MeshData>, MeshError> {
        decode_lod(self.bytes, &self.header, lod)
    }

    /// See [`best_available`].
    pub fn best_available(&self, wanted: Lod) -> Option<Lod> {
        best_available(&self.header, wanted)
    }

    /// The faces of [`best_available`]`(wanted)`, with the LOD they are.
    pub fn decode_best(&self, wanted: Lod) -> Result<(Lod, Vec<MeshData>), MeshError> {
        let lod = self.best_available(wanted).ok_or(MeshError::NoLod)?;
        Ok((lod, self.decode(lod)?))
    }
}

/// What is wrong with one face of a LOD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaceProblem {
    /// The face is not an LLSD map.
    NotMap,
    /// The named attribute is not binary, or its length is not a whole number of elements.
    BadLength(&'static str),
    /// The named attribute has fewer elements than there are positions.
    TooFew(&'static str),
    /// The named domain is not `{Min: [..], Max: [..]}` of finite numbers.
    BadDomain(&'static str),
    /// A triangle refers to a vertex past the last.
    IndexOutOfRange {
        /// The index.
        index: u32,
        /// The face's vertex count.
        vertices: usize,
    },
    /// More than [`MAX_FACE_VERTICES`] vertices.
    TooManyVertices(usize),
    /// A decoded position is not finite (a domain too large for `f32`).
    NonFinite,
}

impl fmt::Display for FaceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaceProblem::NotMap => write!(f, "not a map"),
            FaceProblem::BadLength(key) => write!(f, "{key} is not a whole number of elements"),
            FaceProblem::TooFew(key) => write!(f, "fewer {key} than positions"),
            FaceProblem::BadDomain(key) => write!(f, "malformed {key}"),
            FaceProblem::IndexOutOfRange { index, vertices } => {
                write!(f, "index {index} out of {vertices} vertices")
            }
            FaceProblem::TooManyVertices(n) => {
                write!(f, "{n} vertices (at most {MAX_FACE_VERTICES})")
            }
            FaceProblem::NonFinite => write!(f, "non-finite position"),
        }
    }
}

/// Why a mesh asset cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeshError {
    /// The header is not binary LLSD.
    Header(LlsdError),
    /// The header is not an LLSD map.
    HeaderNotMap,
    /// A present block (size above 0) with a negative offset.
    BadBlock(&'static str),
    /// The header has no block for this LOD.
    MissingLod(Lod),
    /// The header has no usable LOD at all ([`MeshAsset::decode_best`]).
    NoLod,
    /// The LOD's block does not lie inside the asset.
    OutOfRange {
        /// The LOD.
        lod: Lod,
        /// Its block.
        block: Block,
        /// The header's length.
        header_len: usize,
        /// The asset's length.
        asset_len: usize,
    },
    /// The LOD's block is not a zlib stream.
    Inflate(Lod),
    /// The LOD's block inflates past [`MAX_INFLATED`].
    TooLarge(Lod),
    /// The LOD's inflated block is not binary LLSD.
    Llsd {
        /// The LOD.
        lod: Lod,
        /// The LLSD error.
        error: LlsdError,
    },
    /// The LOD's LLSD is not a non-empty array of faces.
    NoFaces(Lod),
    /// The LOD decodes past [`MAX_LOD_VERTICES`] or [`MAX_LOD_INDICES`].
    TooMuchGeometry(Lod),
    /// One face of the LOD is malformed.
    Face {
        /// The LOD.
        lod: Lod,
        /// The face's number.
        face: usize,
        /// What is wrong.
        problem: FaceProblem,
    },
    /// [`encode`] was given something it cannot write.
    Encode {
        /// The LOD.
        lod: Lod,
        /// The face, when one face is at fault.
        face: Option<usize>,
        /// What is wrong.
        problem: String,
    },
}

impl fmt::Display for MeshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeshError::Header(e) => write!(f, "mesh header: {e}"),
            MeshError::HeaderNotMap => write!(f, "mesh header is not a map"),
            MeshError::BadBlock(key) => write!(f, "mesh header: {key} has a negative offset"),
            MeshError::MissingLod(lod) => write!(f, "mesh has no {lod}"),
            MeshError::NoLod => write!(f, "mesh has no usable level of detail"),
            MeshError::OutOfRange {
                lod,
                block,
                header_len,
                asset_len,
            } => write!(
                f,
                "mesh {lod} at {header_len}+{}, {} bytes, outside the asset's {asset_len}",
                block.offset, block.size
            ),
            MeshError::Inflate(lod) => write!(f, "mesh {lod} is not a zlib stream"),
            MeshError::TooLarge(lod) => {
                write!(f, "mesh {lod} inflates past {MAX_INFLATED} bytes")
            }
            MeshError::Llsd { lod, error } => write!(f, "mesh {lod}: {error}"),
            MeshError::NoFaces(lod) => write!(f, "mesh {lod} has no faces"),
            MeshError::TooMuchGeometry(lod) => write!(
                f,
                "mesh {lod} has over {MAX_LOD_VERTICES} vertices or {MAX_LOD_INDICES} indices"
            ),
            MeshError::Face { lod, face, problem } => {
                write!(f, "mesh {lod} face {face}: {problem}")
            }
            MeshError::Encode { lod, face, problem } => match face {
                Some(face) => write!(f, "cannot encode mesh {lod} face {face}: {problem}"),
                None => write!(f, "cannot encode mesh {lod}: {problem}"),
            },
        }
    }
}

impl std::error::Error for MeshError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MeshError::Header(e) | MeshError::Llsd { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// Parses the header at the start of a mesh asset.
///
/// A block key that is absent, not a map, or whose `size` is not above 0 counts as absent;
/// `offset`/`size` may be integers or reals (truncated), as SLV's `asInteger` reads them.
pub fn parse_header(bytes: &[u8]) -> Result<MeshHeader, MeshError> {
    let (value, len) = llsd::parse(bytes).map_err(MeshError::Header)?;
    if value.as_map().is_none() {
        return Err(MeshError::HeaderNotMap);
    }
    let block = |key: &'static str| -> Result<Option<Block>, MeshError> {
        let Some(b) = value.get(key) else {
            return Ok(None);
        };
        let int = |k| b.get(k).and_then(Llsd::as_integer).unwrap_or(0);
        let size = int("size");
        if size <= 0 {
            return Ok(None);
        }
        match (usize::try_from(int("offset")), usize::try_from(size)) {
            (Ok(offset), Ok(size)) => Ok(Some(Block { offset, size })),
            _ => Err(MeshError::BadBlock(key)),
        }
    };
    Ok(MeshHeader {
        len,
        version: value.get("version").and_then(Llsd::as_integer),
        not_found: value.has("404"),
        lods: [
            block(Lod::Lowest.key())?,
            block(Lod::Low.key())?,
            block(Lod::Medium.key())?,
            block(Lod::High.key())?,
        ],
        physics_convex: block("physics_convex")?,
        physics_mesh: block("physics_mesh")?,
        skin: block("skin")?,
    })
}

/// The LOD to draw when `wanted` is asked for, by SLV's rule: `wanted` when present, else the
/// nearest lower one present, else the nearest higher one. `None` when the header has no LOD,
/// says `404`, or has a `version` above [`MAX_MESH_VERSION`].
pub fn best_available(header: &MeshHeader, wanted: Lod) -> Option<Lod> {
    if header.not_found || header.version.is_some_and(|v| v > MAX_MESH_VERSION) {
        return None;
    }
    let present = |l: &&Lod| header.lod(**l).is_some();
    let w = wanted.index();
    let lower = Lod::ALL.get(..=w).unwrap_or(&[]);
    let higher = Lod::ALL.get(w..).unwrap_or(&[]);
    lower
        .iter()
        .rev()
        .find(present)
        .or_else(|| higher.iter().find(present))
        .copied()
}

/// Decodes the faces of `lod` from the asset `bytes` whose header is `header`: one [`MeshData`]
/// per face, in the asset's order (SL's face numbers); a `NoGeometry` face is an empty one.
///
/// Any malformed face fails the whole LOD ([`MeshError::Face`] names it). The meshes keep
/// [`MeshData`]'s invariants: one unit normal and one uv per position, no colours, whole
/// triangles with indices in range, finite positions.
pub fn decode_lod(bytes: &[u8], header: &MeshHeader, lod: Lod) -> Result<Vec<MeshData>, MeshError> {
    let block = header.lod(lod).ok_or(MeshError::MissingLod(lod))?;
    let data = header
        .len
        .checked_add(block.offset)
        .and_then(|start| Some((start, start.checked_add(block.size)?)))
        .and_then(|(start, end)| bytes.get(start..end))
        .ok_or(MeshError::OutOfRange {
            lod,
            block,
            header_len: header.len,
            asset_len: bytes.len(),
        })?;
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, MAX_INFLATED).map_err(
        |e| match e.status {
            TINFLStatus::HasMoreOutput => MeshError::TooLarge(lod),
            _ => MeshError::Inflate(lod),
        },
    )?;
    let (value, _) = llsd::parse(&raw).map_err(|error| MeshError::Llsd { lod, error })?;
    let faces = value
        .as_array()
        .filter(|f| !f.is_empty())
        .ok_or(MeshError::NoFaces(lod))?;
    let (mut vertices, mut indices) = (0usize, 0usize);
    let mut out = Vec::with_capacity(faces.len());
    for (face, f) in faces.iter().enumerate() {
        let mesh = decode_face(f).map_err(|problem| MeshError::Face { lod, face, problem })?;
        vertices = vertices.saturating_add(mesh.positions.len());
        indices = indices.saturating_add(mesh.indices.len());
        if vertices > MAX_LOD_VERTICES || indices > MAX_LOD_INDICES {
            return Err(MeshError::TooMuchGeometry(lod));
        }
        out.push(mesh);
    }
    Ok(out)
}

/// `bytes` as little-endian `u16`s (a trailing odd byte is not read; callers check lengths).
fn u16s(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes.chunks_exact(2).map(|c| match *c {
        [a, b] => u16::from_le_bytes([a, b]),
        _ => 0,
    })
}

/// The binary attribute `key` of `face` holding `width` bytes per element; `None` when absent
/// or empty.
fn attribute<'a>(
    face: &'a Llsd,
    key: &'static str,
    width: usize,
) -> Result<Option<&'a [u8]>, FaceProblem> {
    match face.get(key) {
        None => Ok(None),
        Some(v) => {
            let b = v.as_binary().ok_or(FaceProblem::BadLength(key))?;
            if !b.len().is_multiple_of(width) {
                return Err(FaceProblem::BadLength(key));
            }
            Ok((!b.is_empty()).then_some(b))
        }
    }
}

/// The domain `key` of `face` as `(min, max)`, or `default` when absent.
fn domain<const N: usize>(
    face: &Llsd,
    key: &'static str,
    default: ([f32; N], [f32; N]),
) -> Result<([f32; N], [f32; N]), FaceProblem> {
    let Some(d) = face.get(key) else {
        return Ok(default);
    };
    let vector = |k| -> Result<[f32; N], FaceProblem> {
        let a = d
            .get(k)
            .and_then(Llsd::as_array)
            .filter(|a| a.len() >= N)
            .ok_or(FaceProblem::BadDomain(key))?;
        let mut out = [0.0; N];
        for (o, x) in out.iter_mut().zip(a) {
            *o = x
                .as_real()
                .map(f32_of_f64)
                .filter(|v| v.is_finite())
                .ok_or(FaceProblem::BadDomain(key))?;
        }
        Ok(out)
    };
    Ok((vector("Min")?, vector("Max")?))
}

/// `min + q / 65535 × (max − min)`, per component.
fn dequantize<const N: usize>(q: [u16; N], (min, max): ([f32; N], [f32; N])) -> [f32; N] {
    let mut out = [0.0; N];
    for (((o, q), lo), hi) in out.iter_mut().zip(q).zip(min).zip(max) {
        *o = lo + f32::from(q) / Q_MAX * (hi - lo);
    }
    out
}

/// Groups `N` `u16`s per element.
fn elements<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u16; N]> + '_ {
    bytes.chunks_exact(2 * N).map(|c| {
        let mut out = [0u16; N];
        for (o, v) in out.iter_mut().zip(u16s(c)) {
            *o = v;
        }
        out
    })
}

/// One face of a LOD.
fn decode_face(face: &Llsd) -> Result<MeshData, FaceProblem> {
    if face.as_map().is_none() {
        return Err(FaceProblem::NotMap);
    }
    if face.has("NoGeometry") {
        return Ok(MeshData::default());
    }
    let position = attribute(face, "Position", 6)?.unwrap_or(&[]);
    let n = position.len() / 6;
    if n > MAX_FACE_VERTICES {
        return Err(FaceProblem::TooManyVertices(n));
    }
    let pos_domain = domain(face, "PositionDomain", ([-0.5; 3], [0.5; 3]))?;
    let positions: Vec<[f32; 3]> = elements::<3>(position)
        .map(|q| dequantize(q, pos_domain))
        .collect();
    if !positions.iter().flatten().all(|v| v.is_finite()) {
        return Err(FaceProblem::NonFinite);
    }

    let indices_bytes = attribute(face, "TriangleList", 2)?.unwrap_or(&[]);
    let whole = indices_bytes.len() / 6 * 6;
    let mut indices = Vec::with_capacity(whole / 2);
    for i in u16s(indices_bytes.get(..whole).unwrap_or(&[])) {
        if usize::from(i) >= n {
            return Err(FaceProblem::IndexOutOfRange {
                index: u32::from(i),
                vertices: n,
            });
        }
        indices.push(u32::from(i));
    }

    let normals = match attribute(face, "Normal", 6)? {
        None => smooth_normals(&positions, &indices),
        Some(b) => {
            if b.len() / 6 < n {
                return Err(FaceProblem::TooFew("Normal"));
            }
            let mut fallback: Option<Vec<[f32; 3]>> = None;
            elements::<3>(b)
                .take(n)
                .enumerate()
                .map(|(i, q)| {
                    let v = dequantize(q, ([-1.0; 3], [1.0; 3]));
                    normalize(v, MIN_NORMAL).unwrap_or_else(|| {
                        let smooth =
                            fallback.get_or_insert_with(|| smooth_normals(&positions, &indices));
                        smooth.get(i).copied().unwrap_or([0.0, 0.0, 1.0])
                    })
                })
                .collect()
        }
    };

    let uvs = match attribute(face, "TexCoord0", 4)? {
        None => vec![[0.0; 2]; n],
        Some(b) => {
            if b.len() / 4 < n {
                return Err(FaceProblem::TooFew("TexCoord0"));
            }
            let uv_domain = domain(face, "TexCoord0Domain", ([0.0; 2], [1.0; 2]))?;
            elements::<2>(b)
                .take(n)
                .map(|q| {
                    let [u, v] = dequantize(q, uv_domain);
                    // A domain near f32::MAX may overflow; uvs must stay finite too.
                    [finite_or_zero(u), finite_or_zero(v)]
                })
                .collect()
        }
    };

    Ok(MeshData {
        positions,
        normals,
        uvs,
        colors: Vec::new(),
        indices,
    })
}

fn finite_or_zero(v: f32) -> f32 {
    if v.is_finite() { v } else { 0.0 }
}

/// Shortest decoded normal taken as a direction: quantization leaves a "zero" normal up to
/// 2.6e-5 long, a real one about 1.
const MIN_NORMAL: f32 = 0.01;

/// `v / |v|`, or `None` when `|v|` is not above `min` or not finite.
fn normalize([x, y, z]: [f32; 3], min: f32) -> Option<[f32; 3]> {
    let len = (x * x + y * y + z * z).sqrt();
    let n = [x / len, y / len, z / len];
    (len.is_finite() && len > min && n.iter().all(|v| v.is_finite())).then_some(n)
}

/// Area-weighted vertex normals from the triangles; +z for a vertex on no proper triangle.
fn smooth_normals(positions: &[[f32; 3]], indices: &[u32]) -> Vec<[f32; 3]> {
    let mut acc = vec![[0.0f32; 3]; positions.len()];
    let at = |i: u32| usize::try_from(i).ok();
    for tri in indices.chunks_exact(3) {
        let &[a, b, c] = tri else { continue };
        let (Some(a), Some(b), Some(c)) = (at(a), at(b), at(c)) else {
            continue;
        };
        let (Some(pa), Some(pb), Some(pc)) = (positions.get(a), positions.get(b), positions.get(c))
        else {
            continue;
        };
        let u = [pb[0] - pa[0], pb[1] - pa[1], pb[2] - pa[2]];
        let v = [pc[0] - pa[0], pc[1] - pa[1], pc[2] - pa[2]];
        let n = [
            u[1] * v[2] - u[2] * v[1],
            u[2] * v[0] - u[0] * v[2],
            u[0] * v[1] - u[1] * v[0],
        ];
        for i in [a, b, c] {
            if let Some(s) = acc.get_mut(i) {
                for (s, n) in s.iter_mut().zip(n) {
                    *s += n;
                }
            }
        }
    }
    acc.into_iter()
        .map(|n| normalize(n, 0.0).unwrap_or([0.0, 0.0, 1.0]))
        .collect()
}

/// `x` as `f32` (rounded; out-of-range values become infinite, which callers reject).
#[allow(clippy::as_conversions)]
fn f32_of_f64(x: f64) -> f32 {
    x as f32
}

/// `t` in 0…1 as 0…65535, rounded (NaN gives 0).
#[allow(clippy::as_conversions)]
fn quantize(t: f32) -> u16 {
    // `as` saturates and maps NaN to 0; the clamp keeps the value exact.
    (t.clamp(0.0, 1.0) * Q_MAX).round() as u16
}

/// `(v − min) / (max − min)` quantized; 0 when the range is empty.
fn quantize_in(v: f32, min: f32, max: f32) -> u16 {
    let range = max - min;
    if range > 0.0 {
        quantize((v - min) / range)
    } else {
        0
    }
}

/// Writes a mesh asset holding the given LODs (each a list of faces, SL's face numbers in
/// order), which [`parse_header`] and [`decode_lod`] read back: positions within one
/// 65535th of each face's bounds, uvs likewise within their bounds, normals within one 65535th
/// of 2 per component (before renormalization). A face with no positions is written as
/// `NoGeometry`. The header holds `version: 1` and the LOD blocks; no physics or skin.
///
/// Fails for a LOD given twice or with no faces, a face that breaks [`MeshData`]'s invariants,
/// has more than [`MAX_FACE_VERTICES`] vertices or non-finite uvs, or a LOD over the decoder's
/// limits.
pub fn encode(faces_per_lod: &[(Lod, Vec<MeshData>)]) -> Result<Vec<u8>, MeshError> {
    let fail = |lod, face, problem: String| MeshError::Encode { lod, face, problem };
    let mut seen = [false; 4];
    let mut header = vec![("version".to_owned(), Llsd::Integer(1))];
    let mut body = Vec::new();
    for (lod, faces) in faces_per_lod {
        let lod = *lod;
        match seen.get_mut(lod.index()) {
            Some(s) if !*s => *s = true,
            _ => return Err(fail(lod, None, "given twice".into())),
        }
        if faces.is_empty() {
            return Err(fail(lod, None, "no faces".into()));
        }
        let vertices: usize = faces.iter().map(|f| f.positions.len()).sum();
        let indices: usize = faces.iter().map(|f| f.indices.len()).sum();
        if vertices > MAX_LOD_VERTICES || indices > MAX_LOD_INDICES {
            return Err(fail(lod, None, "over the decoder's geometry limits".into()));
        }
        let faces = faces
            .iter()
            .enumerate()
            .map(|(i, f)| encode_face(f).map_err(|p| fail(lod, Some(i), p)))
            .collect::<Result<Vec<_>, _>>()?;
        let raw = llsd::to_vec(&Llsd::Array(faces)).map_err(|e| fail(lod, None, e.to_string()))?;
        if raw.len() > MAX_INFLATED {
            return Err(fail(lod, None, format!("over {MAX_INFLATED} bytes")));
        }
        let block = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
        let (Ok(offset), Ok(size)) = (i32::try_from(body.len()), i32::try_from(block.len())) else {
            return Err(fail(lod, None, "asset over 2 GiB".into()));
        };
        header.push((
            lod.key().to_owned(),
            Llsd::Map(vec![
                ("offset".to_owned(), Llsd::Integer(offset)),
                ("size".to_owned(), Llsd::Integer(size)),
            ]),
        ));
        body.extend_from_slice(&block);
    }
    let mut out = llsd::to_vec(&Llsd::Map(header)).map_err(|e| MeshError::Encode {
        lod: Lod::High,
        face: None,
        problem: e.to_string(),
    })?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// An LLSD array of reals.
fn reals(v: &[f32]) -> Llsd {
    Llsd::Array(v.iter().map(|&x| Llsd::Real(f64::from(x))).collect())
}

/// `{Min: [..], Max: [..]}`.
fn domain_llsd(min: &[f32], max: &[f32]) -> Llsd {
    Llsd::Map(vec![
        ("Max".to_owned(), reals(max)),
        ("Min".to_owned(), reals(min)),
    ])
}

/// Per-component bounds of `items`.
fn bounds<const N: usize>(items: &[[f32; N]]) -> ([f32; N], [f32; N]) {
    let mut lo = [f32::INFINITY; N];
    let mut hi = [f32::NEG_INFINITY; N];
    for p in items {
        for ((l, h), v) in lo.iter_mut().zip(hi.iter_mut()).zip(p) {
            *l = l.min(*v);
            *h = h.max(*v);
        }
    }
    (lo, hi)
}

/// One face as the decoder expects it.
fn encode_face(f: &MeshData) -> Result<Llsd, String> {
    f.validate()?;
    if f.positions.is_empty() {
        return Ok(Llsd::Map(vec![(
            "NoGeometry".to_owned(),
            Llsd::Boolean(true),
        )]));
    }
    if f.positions.len() > MAX_FACE_VERTICES {
        return Err(format!(
            "{} vertices (at most {MAX_FACE_VERTICES})",
            f.positions.len()
        ));
    }
    if !f.uvs.iter().flatten().all(|v| v.is_finite()) {
        return Err("non-finite uv".into());
    }
    let (pmin, pmax) = bounds(&f.positions);
    let (tmin, tmax) = bounds(&f.uvs);
    let mut position = Vec::with_capacity(f.positions.len() * 6);
    for p in &f.positions {
        for ((v, lo), hi) in p.iter().zip(pmin).zip(pmax) {
            position.extend_from_slice(&quantize_in(*v, lo, hi).to_le_bytes());
        }
    }
    let mut normal = Vec::with_capacity(f.normals.len() * 6);
    for n in &f.normals {
        for v in n {
            normal.extend_from_slice(&quantize((v + 1.0) / 2.0).to_le_bytes());
        }
    }
    let mut uv = Vec::with_capacity(f.uvs.len() * 4);
    for t in &f.uvs {
        for ((v, lo), hi) in t.iter().zip(tmin).zip(tmax) {
            uv.extend_from_slice(&quantize_in(*v, lo, hi).to_le_bytes());
        }
    }
    let mut triangles = Vec::with_capacity(f.indices.len() * 2);
    for &i in &f.indices {
        let i = u16::try_from(i).map_err(|_| format!("index {i} past u16"))?;
        triangles.extend_from_slice(&i.to_le_bytes());
    }
    Ok(Llsd::Map(vec![
        ("Normal".to_owned(), Llsd::Binary(normal)),
        ("Position".to_owned(), Llsd::Binary(position)),
        ("PositionDomain".to_owned(), domain_llsd(&pmin, &pmax)),
        ("TexCoord0".to_owned(), Llsd::Binary(uv)),
        ("TexCoord0Domain".to_owned(), domain_llsd(&tmin, &tmax)),
        ("TriangleList".to_owned(), Llsd::Binary(triangles)),
    ]))
}

#[cfg(test)]
mod tests;
