//! Prim meshes from shape parameters: SL's path × profile sweep, one mesh per SL face.
//!
//! [`prim_mesh`] turns the 23 shape bytes of an object update ([`PrimShape`], PROTOCOL §3.16)
//! into triangle meshes in the prim's unit box `[-0.5, 0.5]³` (SL axes: x east, y north, z up;
//! the object's scale and rotation are applied by its transform). The construction follows
//! SLV's `LLProfile`, `LLPath` and `LLVolume` (`indra/llmath/llvolume.cpp`), so shapes, cuts,
//! hollows, twists, tapers, shears, skews and revolutions come out as SL draws them, and face
//! `i` of a [`PrimMesh`] is the face that TextureEntry face `i` paints (PROTOCOL §9).
//!
//! Face numbering (SL order; each entry only where it applies): the top cap (open paths:
//! lines, cut or tapered circles), the outer sides (one per polygon side, one for a round
//! profile), the hollow, the bottom cap, the profile-cut faces at the begin and the end cut.
//! So a box is top 0, sides 1–4, bottom 5; a hollow box adds the hollow as 5 and moves the
//! bottom to 6; a cylinder is 0 top, 1 side, 2 bottom; a sphere and a torus have one face.
//!
//! Guarantees: no input panics (values are clamped as SLV clamps a received shape, see
//! `params.rs`); every mesh passes [`MeshData::validate`]; every position lies within
//! `[-1.5, 1.5]³`; normals are unit length, smooth within a face and hard between faces.

mod params;
mod path;
mod profile;
mod sweep;

#[cfg(test)]
mod tests;

use crate::mesh::MeshData;
use overlook_protocol::message::object::PrimShape;

use params::{Params, PathKind, ProfileKind};
use path::Path;
use profile::Profile;

/// Tessellation level, after SL's volume LOD (SLV `LLVolumeLODGroup` detail scales).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Detail {
    /// SL LOD 1 (scale 1.5): 9-sided circles.
    Low,
    /// SL LOD 2 (scale 2.5): 15-sided circles; the viewer's default.
    #[default]
    Medium,
    /// SL LOD 3 (scale 4): 24-sided circles, what SL shows close up.
    High,
}

impl Detail {
    /// SL's detail scale for this level.
    pub fn scale(self) -> f32 {
        match self {
            Detail::Low => 1.5,
            Detail::Medium => 2.5,
            Detail::High => 4.0,
        }
    }
}

/// One SL face of a prim.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimFace {
    /// SL face index, as TextureEntry numbers faces.
    pub face: u8,
    /// The face's triangles (no vertex colours).
    pub mesh: MeshData,
}

/// A prim's faces, in face-index order (`faces[i].face == i`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrimMesh {
    /// One entry per SL face; a face can be empty where SL's would be degenerate.
    pub faces: Vec<PrimFace>,
}

impl PrimMesh {
    /// Bounds `(min, max)` over all faces, or `None` when there are no vertices.
    pub fn bounds(&self) -> Option<([f32; 3], [f32; 3])> {
        self.faces
            .iter()
            .filter_map(|f| f.mesh.bounds())
            .reduce(|(lo, hi), (l, h)| {
                (
                    [lo[0].min(l[0]), lo[1].min(l[1]), lo[2].min(l[2])],
                    [hi[0].max(h[0]), hi[1].max(h[1]), hi[2].max(h[2])],
                )
            })
    }

    /// Triangles over all faces.
    pub fn triangle_count(&self) -> usize {
        self.faces.iter().map(|f| f.mesh.triangle_count()).sum()
    }
}

/// Profile edges get extra points (SLV `split`), except on a scaled straight polygon sweep.
fn split(params: &Params, detail: f32) -> usize {
    let polygon = matches!(params.profile, ProfileKind::Square | ProfileKind::Triangle);
    if params.path == PathKind::Line && params.scale != [1.0, 1.0] && polygon {
        0
    } else {
        floor_usize(detail * 0.66)
    }
}

/// Builds a prim's meshes, one per SL face, in its unit box.
pub fn prim_mesh(shape: &PrimShape, detail: Detail) -> PrimMesh {
    let params = Params::new(shape);
    let scale = detail.scale();
    let split = split(&params, scale);
    let path = Path::new(&params, scale, split);
    let profile = Profile::new(&params, path.open, scale, split);
    let faces = profile
        .faces
        .iter()
        .enumerate()
        .map(|(i, f)| PrimFace {
            face: u8::try_from(i).unwrap_or(u8::MAX),
            mesh: sweep::face_mesh(&profile, f, &path),
        })
        .collect();
    PrimMesh { faces }
}

/// SL's number of faces for a shape (what TextureEntry needs to cover), at most 9.
pub fn face_count(shape: &PrimShape) -> usize {
    let params = Params::new(shape);
    let scale = Detail::Low.scale();
    let path = Path::new(&params, scale, 0);
    Profile::new(&params, path.open, scale, 0).faces.len()
}

/// Largest count the float helpers convert; far above any side or point count used here.
const MAX_COUNT: usize = 1 << 16;

/// `floor(v)` as `usize`, clamped to `0..=MAX_COUNT` (NaN gives 0).
#[allow(clippy::as_conversions)]
fn floor_usize(v: f32) -> usize {
    // `as` saturates and maps NaN to 0; the clamp keeps loops bounded.
    (v.floor() as usize).min(MAX_COUNT)
}

/// A count as `f32` (exact: counts stay far below 2²⁴).
#[allow(clippy::as_conversions)]
fn f32_of(n: usize) -> f32 {
    n as f32
}

/// A vertex index as `u32` (meshes here stay far below 2³² vertices).
fn vertex_index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
