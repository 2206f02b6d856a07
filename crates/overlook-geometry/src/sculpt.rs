//! Sculpted prims: the triangle mesh of an SL sculpty, built from its sculpt map.
//!
//! A sculpted prim (ExtraParams type `0x30`, PROTOCOL §12) carries a texture, the sculpt map,
//! whose pixels are the surface's vertices: pixel `(r, g, b)` is the point `(r, g, b) / 255 − 0.5`
//! in the prim's unit box (the object's scale and rotation are applied by its transform). The
//! construction follows SLV's `LLVolume::sculpt`, `sculpt_calc_mesh_resolution`,
//! `sculptGenerateMapVertices`, `sculptGetSurfaceArea` and the sculpt branch of
//! `LLVolumeFace::createSide` (`indra/llmath/llvolume.cpp`):
//!
//! - **Grid size** ([`sculpt_resolution`]): the level of detail allows `sides²` vertices (8, 16
//!   or 32 sides for [`Detail::Low`], [`Detail::Medium`], [`Detail::High`]; SLV's
//!   `sculpt_sides` of the detail scale), and the map `width · height / 4`; the smaller budget is
//!   split into `quads_s × quads_t` following the map's aspect ratio, each at least 4 (SLV's
//!   order of clamps, so tiny maps can end with a single row of quads). The grid has one more
//!   vertex than quads each way: a 64×64 map at [`Detail::High`] gives 33×33 vertices, a 64×32
//!   map 33×17. The grid depends on the map's size only through these budgets, so a huge map
//!   costs no more than a 64×64 one.
//! - **Sampling**: grid column `c` of `C` reads map column `⌊c·width/(C−1)⌋`, grid row `r` of
//!   `R` reads row `⌊r·height/(R−1)⌋` counted **from the map's bottom row** (SLV's decoded images
//!   start at the bottom; [`SculptMap`] rows run top to bottom as the texture decoder returns
//!   them). The last column/row (index `width`/`height`) is stitched by the type: it wraps to
//!   column 0 for spheres, tori and cylinders and to row 0 for tori, otherwise it repeats the last
//!   column/row; a sphere's first and last rows all read the middle pixel of the map's bottom
//!   and top row, so each pole collapses to one point.
//! - **Texture coordinates**: `(c/(C−1), r/(R−1))`, so `t = 0` is the map's bottom row (SL's t
//!   points up) and a texture lines up with the sculpt map it is painted with.
//! - **Triangles**: two per grid quad, `(bl, tr, tl)` and `(bl, br, tr)` with `c` to the right
//!   and `r` up, counter-clockwise seen from outside for a map drawn as SL's tools draw them
//!   (longitude rising to the right, z rising upwards). Seam and pole vertices stay duplicated,
//!   as in SLV, so the texture seam is sharp; their normals are shared so the surface is smooth.
//! - **Invert and mirror**: mirror negates x; invert XOR mirror reads the map's columns right to
//!   left (texture coordinates follow the column read). Invert alone turns the surface inside
//!   out (triangles reversed, normals pointing in); mirror alone mirrors it and keeps it facing
//!   out; both mirror it and turn it inside out.
//! - **Normals**: each vertex sums the (area-weighted) normals of its triangles; spheres then
//!   give every vertex of a pole the pole's sum, closed seams (columns for spheres, tori and
//!   cylinders; rows for tori) add their two sides, and the result is normalised (`+z` where
//!   a vertex touches no area).
//! - **Degenerate maps**: a surface whose area (SLV's `sculptGetSurfaceArea`) is below
//!   [`SCULPT_MIN_AREA`] or above [`SCULPT_MAX_AREA`] is replaced by SLV's stand-in, a sphere of
//!   radius 0.3 on the same grid ([`SculptSurface::Placeholder`]), whatever the type and flags.
//!
//! Guarantees: no input panics; a map with zero width or height, or an `rgba` slice shorter than
//! `width · height · 4`, gives an empty mesh; every other map gives `R · C` vertices and
//! `2 (R−1)(C−1)` triangles that pass [`MeshData::validate`], with unit normals and positions in
//! `[-0.5, 0.5]³`. A sculpty has a single SL face, face 0.

use crate::mesh::MeshData;
use crate::prim::Detail;

/// Smallest surface area (unit box) SLV draws as a sculpt; below it the map is degenerate.
pub const SCULPT_MIN_AREA: f32 = 0.002;

/// Largest surface area (unit box) SLV draws as a sculpt; above it the map is noise.
pub const SCULPT_MAX_AREA: f32 = 384.0;

/// Radius of the stand-in sphere drawn for a degenerate map (SLV's placeholder).
pub const PLACEHOLDER_RADIUS: f32 = 0.3;

/// How a sculpt map's edges are stitched (the low three bits of the sculpt type byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SculptType {
    /// Type 1: the columns wrap around and the first and last rows each collapse to a pole.
    Sphere,
    /// Type 2: the columns and the rows both wrap around.
    Torus,
    /// Type 3: nothing is stitched; the surface has a border all round.
    Plane,
    /// Type 4: the columns wrap around; the first and last rows are open ends.
    Cylinder,
}

impl SculptType {
    /// Flag bit of the sculpt type byte: the surface is turned inside out.
    pub const INVERT: u8 = 0x40;
    /// Flag bit of the sculpt type byte: the surface is mirrored in x.
    pub const MIRROR: u8 = 0x80;
    /// Mask of the stitching type in the sculpt type byte.
    pub const TYPE_MASK: u8 = 0x07;

    /// Decodes the sculpt type byte of ExtraParams `0x30` into `(type, invert, mirror)`.
    ///
    /// `None` for type 0 (no sculpt), 5 (a mesh, not a sculpt map) and the unused 6 and 7.
    pub fn from_byte(b: u8) -> Option<(SculptType, bool, bool)> {
        let kind = match b & Self::TYPE_MASK {
            1 => SculptType::Sphere,
            2 => SculptType::Torus,
            3 => SculptType::Plane,
            4 => SculptType::Cylinder,
            _ => return None,
        };
        Some((kind, b & Self::INVERT != 0, b & Self::MIRROR != 0))
    }

    /// The type's value in the low bits of the sculpt type byte.
    pub fn to_bits(self) -> u8 {
        match self {
            SculptType::Sphere => 1,
            SculptType::Torus => 2,
            SculptType::Plane => 3,
            SculptType::Cylinder => 4,
        }
    }

    /// Whether the last grid column wraps to the map's first column.
    fn wraps_columns(self) -> bool {
        !matches!(self, SculptType::Plane)
    }
}

/// A decoded sculpt map: 8-bit RGBA pixels, rows from the top of the picture to its bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SculptMap<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width · height` RGBA pixels, row by row from the top; extra bytes are ignored.
    pub rgba: &'a [u8],
}

impl SculptMap<'_> {
    /// Whether the map has pixels and its slice holds all of them.
    pub fn is_usable(&self) -> bool {
        let needed = u64::from(self.width)
            .checked_mul(u64::from(self.height))
            .and_then(|n| n.checked_mul(4));
        self.width > 0
            && self.height > 0
            && needed
                .and_then(|n| usize::try_from(n).ok())
                .is_some_and(|n| self.rgba.len() >= n)
    }

    /// The RGB of pixel `(x, y)` with `y` counted from the **bottom** row (SLV's order), or
    /// `None` outside the map or the slice.
    fn rgb_from_bottom(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let row = u64::from(self.height - 1 - y);
        let at = (row * u64::from(self.width) + u64::from(x)) * 4;
        let at = usize::try_from(at).ok()?;
        let px = self.rgba.get(at..at.checked_add(3)?)?;
        match *px {
            [r, g, b] => Some([r, g, b]),
            _ => None,
        }
    }
}

/// Which surface [`sculpt_mesh`] built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SculptSurface {
    /// The map's surface.
    Map,
    /// The stand-in sphere: the map's surface area was out of SLV's range.
    Placeholder,
    /// Nothing: the map was empty or its pixel slice too short.
    Empty,
}

/// SLV's `sculpt_sides`: the grid's side length budget for a detail scale.
fn sculpt_sides(detail: Detail) -> u64 {
    let scale = detail.scale();
    if scale <= 1.0 {
        6
    } else if scale <= 2.0 {
        8
    } else if scale <= 3.0 {
        16
    } else {
        32
    }
}

/// The vertex grid `(columns, rows)` for a `width × height` map at `detail`, after SLV's
/// `sculpt_calc_mesh_resolution` (in exact integer arithmetic).
///
/// The vertex budget is `min(sides², width·height/4)` (the LOD's alone when the map has fewer
/// than 4 pixels); the rows of quads are `⌊√(budget · height / width)⌋`, at least 4, the
/// columns of quads `budget / rows`, at least 4, and the rows again `budget / columns` (at least
/// 1). The grid has one more vertex than quads each way: `(columns + 1, rows + 1)`, at most
/// 257 × 257. A zero width or height counts as a square map.
pub fn sculpt_resolution(width: u32, height: u32, detail: Detail) -> (usize, usize) {
    let sides = sculpt_sides(detail);
    let lod = sides * sides;
    let map = u64::from(width) * u64::from(height) / 4;
    let budget = if map > 0 { lod.min(map) } else { lod };
    // ⌊√(budget / ratio)⌋ with ratio = width / height; ⌊√x⌋ = ⌊√⌊x⌋⌋ for x ≥ 0.
    let scaled = if width == 0 || height == 0 {
        budget
    } else {
        budget * u64::from(height) / u64::from(width)
    };
    let quads_s = scaled.isqrt().max(4);
    let quads_t = (budget / quads_s).max(4);
    let quads_s = (budget / quads_t).max(1);
    let count = |q: u64| usize::try_from(q + 1).unwrap_or(2);
    (count(quads_t), count(quads_s))
}

/// Builds the mesh of a sculpted prim (its one face, face 0) from its sculpt map, in the prim's
/// unit box. See the module documentation for the construction; bad input gives an empty mesh.
pub fn sculpt_mesh(
    map: &SculptMap,
    kind: SculptType,
    invert: bool,
    mirror: bool,
    detail: Detail,
) -> MeshData {
    sculpt_mesh_surface(map, kind, invert, mirror, detail).0
}

/// [`sculpt_mesh`], also saying which surface it built (the map's, the stand-in or none).
pub fn sculpt_mesh_surface(
    map: &SculptMap,
    kind: SculptType,
    invert: bool,
    mirror: bool,
    detail: Detail,
) -> (MeshData, SculptSurface) {
    if !map.is_usable() {
        return (MeshData::default(), SculptSurface::Empty);
    }
    let (cols, rows) = sculpt_resolution(map.width, map.height, detail);
    let grid = Grid { cols, rows };
    let reverse = invert != mirror;
    let Some((positions, uvs)) = map_vertices(map, grid, kind, reverse, mirror) else {
        return (MeshData::default(), SculptSurface::Empty);
    };
    let indices = grid.indices();
    let area = surface_area(&positions, grid);
    if !(SCULPT_MIN_AREA..=SCULPT_MAX_AREA).contains(&area) {
        return (placeholder(grid, indices), SculptSurface::Placeholder);
    }
    let normals = normals(&positions, &indices, grid, kind);
    let mesh = MeshData {
        positions,
        normals,
        uvs,
        colors: Vec::new(),
        indices,
    };
    (mesh, SculptSurface::Map)
}

/// A vertex grid: `cols × rows`, vertex `(c, r)` at index `r · cols + c`.
#[derive(Debug, Clone, Copy)]
struct Grid {
    /// Vertices per row (≥ 2).
    cols: usize,
    /// Rows of vertices (≥ 2).
    rows: usize,
}

impl Grid {
    /// Index of vertex `(c, r)`.
    fn at(self, c: usize, r: usize) -> usize {
        r * self.cols + c
    }

    /// Two triangles per quad, `(bl, tr, tl)` and `(bl, br, tr)` (SLV's `createSide` order).
    fn indices(self) -> Vec<u32> {
        let quads = self.cols.saturating_sub(1) * self.rows.saturating_sub(1);
        let mut out = Vec::with_capacity(quads * 6);
        for r in 0..self.rows.saturating_sub(1) {
            for c in 0..self.cols.saturating_sub(1) {
                let bl = vertex_index(self.at(c, r));
                let br = vertex_index(self.at(c + 1, r));
                let tl = vertex_index(self.at(c, r + 1));
                let tr = vertex_index(self.at(c + 1, r + 1));
                out.extend_from_slice(&[bl, tr, tl, bl, br, tr]);
            }
        }
        out
    }

    /// Texture coordinate of grid column `c` (the column actually read) and row `r`.
    fn uv(self, c: usize, r: usize) -> [f32; 2] {
        [
            f32_of(c) / f32_of(self.cols - 1),
            f32_of(r) / f32_of(self.rows - 1),
        ]
    }
}

/// Positions and texture coordinates of a grid's vertices.
type GridVertices = (Vec<[f32; 3]>, Vec<[f32; 2]>);

/// SLV's `sculptGenerateMapVertices`: positions and texture coordinates of the grid, read from
/// the map with the type's stitching. `None` only if a pixel could not be read (a usable map
/// always can).
fn map_vertices(
    map: &SculptMap,
    grid: Grid,
    kind: SculptType,
    reverse: bool,
    mirror: bool,
) -> Option<GridVertices> {
    let (w, h) = (u64::from(map.width), u64::from(map.height));
    let last_c = u64::try_from(grid.cols - 1).ok()?;
    let last_r = u64::try_from(grid.rows - 1).ok()?;
    let n = grid.cols * grid.rows;
    let mut positions = Vec::with_capacity(n);
    let mut uvs = Vec::with_capacity(n);
    for r in 0..grid.rows {
        for c in 0..grid.cols {
            let read_c = if reverse { grid.cols - 1 - c } else { c };
            let mut x = u64::try_from(read_c).ok()? * w / last_c;
            let mut y = u64::try_from(r).ok()? * h / last_r;
            let pole = kind == SculptType::Sphere && (y == 0 || y == h);
            if y == h {
                y = if kind == SculptType::Torus { 0 } else { h - 1 };
            }
            if pole {
                x = w / 2;
            }
            if x == w {
                x = if kind.wraps_columns() { 0 } else { w - 1 };
            }
            let rgb = map.rgb_from_bottom(u32::try_from(x).ok()?, u32::try_from(y).ok()?)?;
            let [px, py, pz] = rgb.map(|v| f32::from(v) / 255.0 - 0.5);
            positions.push([if mirror { -px } else { px }, py, pz]);
            uvs.push(grid.uv(read_c, r));
        }
    }
    Some((positions, uvs))
}

/// SLV's `sculptGetSurfaceArea`: the sum over grid quads of half the lengths of the two corner
/// cross products (the quad's area for a planar quad).
fn surface_area(positions: &[[f32; 3]], grid: Grid) -> f32 {
    let p = |c: usize, r: usize| positions.get(grid.at(c, r)).copied().unwrap_or_default();
    let mut area = 0.0;
    for r in 0..grid.rows.saturating_sub(1) {
        for c in 0..grid.cols.saturating_sub(1) {
            let (p1, p2, p3, p4) = (p(c, r), p(c, r + 1), p(c + 1, r), p(c + 1, r + 1));
            let a = length(cross(sub(p1, p2), sub(p1, p3)));
            let b = length(cross(sub(p4, p2), sub(p4, p3)));
            area += (a + b) / 2.0;
        }
    }
    area
}

/// Smooth vertex normals: summed triangle normals, stitched across poles and closed seams as
/// SLV's `createSide` does for sculpts, then normalised.
fn normals(positions: &[[f32; 3]], indices: &[u32], grid: Grid, kind: SculptType) -> Vec<[f32; 3]> {
    let mut acc = vec![[0.0f32; 3]; positions.len()];
    let pos = |i: u32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| positions.get(i))
            .copied()
    };
    for tri in indices.chunks_exact(3) {
        let &[a, b, c] = tri else { continue };
        let (Some(pa), Some(pb), Some(pc)) = (pos(a), pos(b), pos(c)) else {
            continue;
        };
        let n = cross(sub(pb, pa), sub(pc, pa));
        for i in [a, b, c] {
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| acc.get_mut(i)) {
                *slot = add(*slot, n);
            }
        }
    }
    let Grid { cols, rows } = grid;
    if kind == SculptType::Sphere {
        for r in [0, rows - 1] {
            let row = grid.at(0, r)..grid.at(0, r) + cols;
            if let Some(vs) = acc.get_mut(row) {
                let sum = vs.iter().fold([0.0; 3], |s, v| add(s, *v));
                vs.fill(sum);
            }
        }
    }
    if kind.wraps_columns() {
        for r in 0..rows {
            share(&mut acc, grid.at(0, r), grid.at(cols - 1, r));
        }
    }
    if kind == SculptType::Torus {
        for c in 0..cols {
            share(&mut acc, grid.at(c, 0), grid.at(c, rows - 1));
        }
    }
    acc.into_iter().map(normalize_or_up).collect()
}

/// Gives vertices `i` and `j` the sum of their normals.
fn share(acc: &mut [[f32; 3]], i: usize, j: usize) {
    if let (Some(&a), Some(&b)) = (acc.get(i), acc.get(j)) {
        let n = add(a, b);
        for k in [i, j] {
            if let Some(slot) = acc.get_mut(k) {
                *slot = n;
            }
        }
    }
}

/// SLV's stand-in for a degenerate map: a sphere of [`PLACEHOLDER_RADIUS`] on the grid, poles at
/// the first (south) and last (north) rows, facing out; flags are ignored.
fn placeholder(grid: Grid, indices: Vec<u32>) -> MeshData {
    let n = grid.cols * grid.rows;
    let mut positions = Vec::with_capacity(n);
    let mut normals = Vec::with_capacity(n);
    let mut uvs = Vec::with_capacity(n);
    for r in 0..grid.rows {
        for c in 0..grid.cols {
            let [u, v] = grid.uv(c, r);
            let polar = std::f32::consts::PI * (1.0 - v);
            let lon = std::f32::consts::TAU * u;
            let dir = [
                polar.sin() * lon.cos(),
                polar.sin() * lon.sin(),
                polar.cos(),
            ];
            positions.push(dir.map(|d| d * PLACEHOLDER_RADIUS));
            normals.push(normalize_or_up(dir));
            uvs.push([u, v]);
        }
    }
    MeshData {
        positions,
        normals,
        uvs,
        colors: Vec::new(),
        indices,
    }
}

/// `a − b`.
fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `a + b`.
fn add(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a × b`.
fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Euclidean length.
fn length(a: [f32; 3]) -> f32 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

/// `a` scaled to unit length, or `+z` when it is (nearly) zero or not finite.
fn normalize_or_up(a: [f32; 3]) -> [f32; 3] {
    let len = length(a);
    if len.is_finite() && len > 1e-12 {
        a.map(|v| v / len)
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// A grid count as `f32` (exact: grids stay below 258 vertices a side).
fn f32_of(n: usize) -> f32 {
    u16::try_from(n).map_or(f32::from(u16::MAX), f32::from)
}

/// A vertex index as `u32` (grids stay far below 2³² vertices).
fn vertex_index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    //! Maps drawn in the test (sphere, torus, cylinder, plane, noise, constant): grid sizes,
    //! closure of the stitched types, fidelity to the drawn surface, invert and mirror, the
    //! stand-in for degenerate maps, and arbitrary maps (no panic, invariants hold).

    use std::collections::HashMap;
    use std::f32::consts::{PI, TAU};

    use proptest::prelude::*;

    use super::*;

    /// A `w × h` map whose pixel `(x, y)`, `y` counted from the bottom row, is `f(x, y)` (a
    /// point in the unit box), stored top row first as a decoder returns it.
    fn draw(w: u32, h: u32, f: impl Fn(u32, u32) -> [f32; 3]) -> Vec<u8> {
        let mut rgba = Vec::with_capacity((w * h * 4) as usize);
        for row in 0..h {
            let y = h - 1 - row;
            for x in 0..w {
                let p = f(x, y);
                for v in p {
                    rgba.push(((v + 0.5) * 255.0).round().clamp(0.0, 255.0) as u8);
                }
                rgba.push(255);
            }
        }
        rgba
    }

    /// A sphere of radius 0.5: longitude with x, latitude with y (south pole on the bottom row,
    /// north pole on the top row), as SL's tools draw sphere maps.
    fn sphere_map(w: u32, h: u32) -> Vec<u8> {
        draw(w, h, |x, y| {
            let lon = TAU * x as f32 / w as f32;
            let polar = PI * (1.0 - y as f32 / (h - 1) as f32);
            [
                0.5 * polar.sin() * lon.cos(),
                0.5 * polar.sin() * lon.sin(),
                0.5 * polar.cos(),
            ]
        })
    }

    /// Torus radii: ring 0.3, tube 0.15.
    const RING: f32 = 0.3;
    const TUBE: f32 = 0.15;

    /// A torus about z: longitude with x, the tube's angle with y (wrapping).
    fn torus_map(w: u32, h: u32) -> Vec<u8> {
        draw(w, h, |x, y| {
            let lon = TAU * x as f32 / w as f32;
            let tube = TAU * y as f32 / h as f32;
            let rad = RING + TUBE * tube.cos();
            [rad * lon.cos(), rad * lon.sin(), TUBE * tube.sin()]
        })
    }

    /// An open cylinder of radius 0.5 about z: longitude with x, z from −0.5 to 0.5 with y.
    fn cylinder_map(w: u32, h: u32) -> Vec<u8> {
        draw(w, h, |x, y| {
            let lon = TAU * x as f32 / w as f32;
            [
                0.5 * lon.cos(),
                0.5 * lon.sin(),
                y as f32 / (h - 1) as f32 - 0.5,
            ]
        })
    }

    /// The square z = 0: x from −0.5 to 0.5 with the map's x, y likewise.
    fn plane_map(w: u32, h: u32) -> Vec<u8> {
        draw(w, h, |x, y| {
            [
                x as f32 / (w - 1) as f32 - 0.5,
                y as f32 / (h - 1) as f32 - 0.5,
                0.0,
            ]
        })
    }

    fn build(
        rgba: &[u8],
        w: u32,
        h: u32,
        kind: SculptType,
        invert: bool,
        mirror: bool,
        detail: Detail,
    ) -> MeshData {
        let map = SculptMap {
            width: w,
            height: h,
            rgba,
        };
        let (mesh, surface) = sculpt_mesh_surface(&map, kind, invert, mirror, detail);
        assert_eq!(surface, SculptSurface::Map);
        mesh
    }

    fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
        a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    }

    /// Checks the [`MeshData`] invariants, unit normals and the unit box.
    fn check(m: &MeshData) {
        m.validate().unwrap();
        for n in &m.normals {
            assert!((length(*n) - 1.0).abs() < 1e-4, "{n:?}");
        }
        for p in &m.positions {
            assert!(p.iter().all(|v| v.abs() <= 0.5), "{p:?}");
        }
        for uv in &m.uvs {
            assert!(uv.iter().all(|v| (0.0..=1.0).contains(v)), "{uv:?}");
        }
    }

    /// Edges of the surface with vertices welded by position (seams and poles are duplicated
    /// vertices at one point): how many non-degenerate triangles use each edge.
    fn welded_edges(m: &MeshData) -> HashMap<(usize, usize), usize> {
        let mut ids = HashMap::new();
        let id: Vec<usize> = m
            .positions
            .iter()
            .map(|p| {
                let next = ids.len();
                *ids.entry(p.map(f32::to_bits)).or_insert(next)
            })
            .collect();
        let mut edges = HashMap::new();
        for t in m.indices.chunks(3) {
            let [a, b, c] = [0, 1, 2].map(|k| id[t[k] as usize]);
            if a == b || b == c || a == c {
                continue;
            }
            for (u, v) in [(a, b), (b, c), (c, a)] {
                *edges.entry((u.min(v), u.max(v))).or_insert(0) += 1;
            }
        }
        edges
    }

    /// Position of welded id → a position (for boundary checks).
    fn boundary_points(m: &MeshData) -> Vec<[f32; 3]> {
        let mut first = HashMap::new();
        for p in &m.positions {
            let next = first.len();
            first.entry(p.map(f32::to_bits)).or_insert((next, *p));
        }
        let by_id: HashMap<usize, [f32; 3]> = first.into_values().collect();
        welded_edges(m)
            .into_iter()
            .filter(|&(_, n)| n == 1)
            .flat_map(|((a, b), _)| [by_id[&a], by_id[&b]])
            .collect()
    }

    /// Unit normal of triangle `t` times twice its area, and its centroid.
    fn face(m: &MeshData, t: &[u32]) -> ([f32; 3], [f32; 3]) {
        let [a, b, c] = [0, 1, 2].map(|k| m.positions[t[k] as usize]);
        let n = cross(sub(b, a), sub(c, a));
        let centre = add(add(a, b), c).map(|v| v / 3.0);
        (n, centre)
    }

    #[test]
    fn type_byte() {
        assert_eq!(SculptType::from_byte(0), None);
        assert_eq!(SculptType::from_byte(5), None);
        assert_eq!(SculptType::from_byte(6), None);
        assert_eq!(SculptType::from_byte(7 | 0xC0), None);
        assert_eq!(
            SculptType::from_byte(1),
            Some((SculptType::Sphere, false, false))
        );
        assert_eq!(
            SculptType::from_byte(2 | 0x40),
            Some((SculptType::Torus, true, false))
        );
        assert_eq!(
            SculptType::from_byte(3 | 0x80),
            Some((SculptType::Plane, false, true))
        );
        assert_eq!(
            SculptType::from_byte(4 | 0xC0),
            Some((SculptType::Cylinder, true, true))
        );
        for kind in [
            SculptType::Sphere,
            SculptType::Torus,
            SculptType::Plane,
            SculptType::Cylinder,
        ] {
            assert_eq!(
                SculptType::from_byte(kind.to_bits()),
                Some((kind, false, false))
            );
        }
    }

    #[test]
    fn grid_size_follows_lod_and_aspect() {
        // 64×64: the LOD's budget (32², 16², 8² quads).
        assert_eq!(sculpt_resolution(64, 64, Detail::High), (33, 33));
        assert_eq!(sculpt_resolution(64, 64, Detail::Medium), (17, 17));
        assert_eq!(sculpt_resolution(64, 64, Detail::Low), (9, 9));
        // The map's budget (w·h/4) and its aspect ratio: twice as wide, twice the columns.
        assert_eq!(sculpt_resolution(64, 32, Detail::High), (33, 17));
        assert_eq!(sculpt_resolution(32, 64, Detail::High), (17, 33));
        assert_eq!(sculpt_resolution(128, 32, Detail::High), (65, 17));
        assert_eq!(sculpt_resolution(32, 32, Detail::High), (17, 17));
        // Large maps are held to the LOD; extreme ratios to at least 4 quads.
        assert_eq!(sculpt_resolution(1024, 1024, Detail::High), (33, 33));
        assert_eq!(sculpt_resolution(u32::MAX, 1, Detail::High), (257, 5));
        assert_eq!(sculpt_resolution(1, u32::MAX, Detail::High), (5, 257));
        // Tiny maps: SLV's clamps leave a single row of quads; under 4 pixels, the LOD decides.
        assert_eq!(sculpt_resolution(2, 2, Detail::High), (5, 2));
        assert_eq!(sculpt_resolution(4, 4, Detail::High), (5, 2));
        assert_eq!(sculpt_resolution(8, 8, Detail::High), (5, 5));
        assert_eq!(sculpt_resolution(1, 1, Detail::Low), (9, 9));
        for w in 1..80 {
            for h in 1..80 {
                for d in [Detail::Low, Detail::Medium, Detail::High] {
                    let (c, r) = sculpt_resolution(w, h, d);
                    assert!((5..=257).contains(&c) && (2..=257).contains(&r), "{w}x{h}");
                    assert!((c - 1) * (r - 1) <= 1024);
                }
            }
        }
    }

    #[test]
    fn vertex_and_triangle_counts() {
        for (w, h) in [(64, 64), (64, 32), (32, 64), (16, 16), (8, 8), (3, 5)] {
            let rgba = sphere_map(w, h);
            for kind in [
                SculptType::Sphere,
                SculptType::Torus,
                SculptType::Plane,
                SculptType::Cylinder,
            ] {
                for d in [Detail::Low, Detail::Medium, Detail::High] {
                    let map = SculptMap {
                        width: w,
                        height: h,
                        rgba: &rgba,
                    };
                    let m = sculpt_mesh(&map, kind, false, false, d);
                    let (c, r) = sculpt_resolution(w, h, d);
                    assert_eq!(m.positions.len(), c * r);
                    assert_eq!(m.triangle_count(), 2 * (c - 1) * (r - 1));
                    assert!(m.colors.is_empty());
                    check(&m);
                }
            }
        }
        // 64×64 at High: 33×33 vertices, 32×32 quads.
        let rgba = sphere_map(64, 64);
        let m = build(
            &rgba,
            64,
            64,
            SculptType::Sphere,
            false,
            false,
            Detail::High,
        );
        assert_eq!((m.positions.len(), m.triangle_count()), (33 * 33, 2048));
        // 64×32: twice as wide as tall.
        let rgba = plane_map(64, 32);
        let m = build(&rgba, 64, 32, SculptType::Plane, false, false, Detail::High);
        assert_eq!(
            (m.positions.len(), m.triangle_count()),
            (33 * 17, 2 * 32 * 16)
        );
    }

    #[test]
    fn sphere_is_closed_and_reproduces_the_sphere() {
        let rgba = sphere_map(64, 64);
        for d in [Detail::Low, Detail::Medium, Detail::High] {
            let m = build(&rgba, 64, 64, SculptType::Sphere, false, false, d);
            check(&m);
            let edges = welded_edges(&m);
            assert!(!edges.is_empty());
            assert!(
                edges.values().all(|&n| n == 2),
                "{d:?}: open or non-manifold"
            );
            let (cols, rows) = sculpt_resolution(64, 64, d);
            // Poles: each end row is one point, with one normal.
            for r in [0, rows - 1] {
                let row = &m.positions[r * cols..(r + 1) * cols];
                assert!(row.iter().all(|p| p == &row[0]));
                let z = row[0][2];
                assert!((z.abs() - 0.5).abs() < 2.0 / 255.0, "pole at {z}");
                let nrow = &m.normals[r * cols..(r + 1) * cols];
                assert!(nrow.iter().all(|n| dot(*n, nrow[0]) > 0.9999));
                assert!(nrow[0][2].signum() == z.signum() && nrow[0][2].abs() > 0.99);
            }
            // The seam: the first and last columns coincide and share normals.
            for r in 0..rows {
                let (a, b) = (r * cols, r * cols + cols - 1);
                assert_eq!(m.positions[a], m.positions[b]);
                assert!(dot(m.normals[a], m.normals[b]) > 0.9999);
                assert_eq!(m.uvs[a], [0.0, m.uvs[b][1]]);
                assert_eq!(m.uvs[b][0], 1.0);
            }
            for (p, n) in m.positions.iter().zip(&m.normals) {
                assert!((length(*p) - 0.5).abs() < 2.0 / 255.0, "{p:?}");
                assert!(dot(*n, *p) > 0.0, "normal {n:?} at {p:?} points in");
                // Smooth: close to the sphere's own normal.
                assert!(dot(*n, p.map(|v| v / length(*p))) > 0.9, "{n:?} at {p:?}");
            }
            for t in m.indices.chunks(3) {
                let (n, centre) = face(&m, t);
                assert!(dot(n, centre) >= 0.0, "triangle {t:?} faces in");
            }
        }
    }

    #[test]
    fn torus_is_closed_without_boundary() {
        let rgba = torus_map(64, 32);
        for d in [Detail::Low, Detail::Medium, Detail::High] {
            let m = build(&rgba, 64, 32, SculptType::Torus, false, false, d);
            check(&m);
            let edges = welded_edges(&m);
            assert!(edges.values().all(|&n| n == 2), "{d:?}");
            // Both seams share normals.
            let (cols, rows) = sculpt_resolution(64, 32, d);
            for r in 0..rows {
                let (a, b) = (r * cols, r * cols + cols - 1);
                assert_eq!(m.positions[a], m.positions[b]);
                assert!(dot(m.normals[a], m.normals[b]) > 0.9999);
            }
            for c in 0..cols {
                let (a, b) = (c, (rows - 1) * cols + c);
                assert_eq!(m.positions[a], m.positions[b]);
                assert!(dot(m.normals[a], m.normals[b]) > 0.9999);
            }
            // Outward: away from the ring through the tube's middle.
            for (p, n) in m.positions.iter().zip(&m.normals) {
                let rad = (p[0] * p[0] + p[1] * p[1]).sqrt();
                let ring = [p[0] / rad * RING, p[1] / rad * RING, 0.0];
                assert!(dot(*n, sub(*p, ring)) > 0.0, "{n:?} at {p:?}");
            }
        }
    }

    #[test]
    fn cylinder_is_open_only_at_its_ends() {
        let rgba = cylinder_map(64, 64);
        let m = build(
            &rgba,
            64,
            64,
            SculptType::Cylinder,
            false,
            false,
            Detail::High,
        );
        check(&m);
        let edges = welded_edges(&m);
        assert!(edges.values().all(|&n| n == 1 || n == 2));
        let boundary = boundary_points(&m);
        assert!(!boundary.is_empty());
        assert!(
            boundary.iter().all(|p| (p[2].abs() - 0.5).abs() < 1e-6),
            "{boundary:?}"
        );
        assert!(boundary.iter().any(|p| p[2] > 0.0) && boundary.iter().any(|p| p[2] < 0.0));
        for (p, n) in m.positions.iter().zip(&m.normals) {
            assert!(dot(*n, [p[0], p[1], 0.0]) > 0.0, "{n:?} at {p:?}");
        }
        // The seam shares normals; the ends are not stitched.
        let cols = 33;
        for r in 0..33 {
            assert!(dot(m.normals[r * cols], m.normals[r * cols + cols - 1]) > 0.9999);
        }
        assert_ne!(m.positions[0], m.positions[32 * cols]);
    }

    #[test]
    fn plane_has_a_border_all_round() {
        let rgba = plane_map(32, 64);
        let m = build(
            &rgba,
            32,
            64,
            SculptType::Plane,
            false,
            false,
            Detail::Medium,
        );
        check(&m);
        let edges = welded_edges(&m);
        assert!(edges.values().all(|&n| n == 1 || n == 2));
        let boundary = boundary_points(&m);
        let on_border =
            |p: &[f32; 3]| (p[0].abs() - 0.5).abs() < 1e-6 || (p[1].abs() - 0.5).abs() < 1e-6;
        assert!(boundary.iter().all(on_border));
        for side in [
            |p: &[f32; 3]| p[0] < -0.49,
            |p: &[f32; 3]| p[0] > 0.49,
            |p: &[f32; 3]| p[1] < -0.49,
            |p: &[f32; 3]| p[1] > 0.49,
        ] {
            assert!(boundary.iter().any(side));
        }
        // Every normal is +z; the corners map to the picture's corners, t up.
        assert!(m.normals.iter().all(|n| n[2] > 0.9999));
        let (cols, rows) = sculpt_resolution(32, 64, Detail::Medium);
        let corner = |c: usize, r: usize| {
            let i = r * cols + c;
            let [x, y, z] = m.positions[i];
            assert!(z.abs() < 1.0 / 255.0);
            ([x, y], m.uvs[i])
        };
        assert_eq!(corner(0, 0), ([-0.5, -0.5], [0.0, 0.0]));
        assert_eq!(corner(cols - 1, rows - 1), ([0.5, 0.5], [1.0, 1.0]));
        assert_eq!(corner(0, rows - 1), ([-0.5, 0.5], [0.0, 1.0]));
        assert_eq!(corner(cols - 1, 0), ([0.5, -0.5], [1.0, 0.0]));
    }

    #[test]
    fn rows_are_read_from_the_bottom_of_the_picture() {
        // A plane whose picture's top row is lifted to z = 0.5: only the last grid row is.
        let (w, h) = (16u32, 16u32);
        let mut rgba = plane_map(w, h);
        for px in rgba[..(w * 4) as usize].chunks_mut(4) {
            px[2] = 255;
        }
        let m = build(&rgba, w, h, SculptType::Plane, false, false, Detail::High);
        let (cols, rows) = sculpt_resolution(w, h, Detail::High);
        for (i, (p, uv)) in m.positions.iter().zip(&m.uvs).enumerate() {
            let top = i / cols == rows - 1;
            assert_eq!(p[2] == 0.5, top, "vertex {i}: {p:?}");
            assert_eq!(uv[1] == 1.0, top);
        }
    }

    #[test]
    fn invert_turns_the_surface_inside_out() {
        let rgba = sphere_map(64, 64);
        let out = build(
            &rgba,
            64,
            64,
            SculptType::Sphere,
            false,
            false,
            Detail::High,
        );
        let inv = build(&rgba, 64, 64, SculptType::Sphere, true, false, Detail::High);
        check(&inv);
        let cols = 33;
        assert_eq!(out.positions.len(), inv.positions.len());
        assert_eq!(out.indices, inv.indices);
        let mut min_dot = 1.0f32;
        for i in 0..inv.positions.len() {
            let (r, c) = (i / cols, i % cols);
            let j = r * cols + (cols - 1 - c);
            // The same vertex (columns read right to left), texture coordinates with it.
            assert_eq!(inv.positions[i], out.positions[j]);
            assert_eq!(inv.uvs[i], out.uvs[j]);
            assert!(dot(inv.normals[i], inv.positions[i]) < 0.0);
            min_dot = min_dot.min(-dot(inv.normals[i], out.normals[j]));
        }
        assert!(min_dot > 0.9, "normals not flipped: {min_dot}");
        for t in inv.indices.chunks(3) {
            let (n, centre) = face(&inv, t);
            assert!(dot(n, centre) <= 0.0, "triangle {t:?} faces out");
        }
        assert!(welded_edges(&inv).values().all(|&n| n == 2));
    }

    #[test]
    fn mirror_negates_x_and_stays_outward() {
        let rgba = sphere_map(64, 64);
        let out = build(
            &rgba,
            64,
            64,
            SculptType::Sphere,
            false,
            false,
            Detail::High,
        );
        let mir = build(&rgba, 64, 64, SculptType::Sphere, false, true, Detail::High);
        check(&mir);
        let cols = 33;
        for i in 0..mir.positions.len() {
            let (r, c) = (i / cols, i % cols);
            let j = r * cols + (cols - 1 - c);
            let [x, y, z] = out.positions[j];
            assert_eq!(mir.positions[i], [-x, y, z]);
            assert_eq!(mir.uvs[i], out.uvs[j]);
            assert!(dot(mir.normals[i], mir.positions[i]) > 0.0);
        }
        for t in mir.indices.chunks(3) {
            let (n, centre) = face(&mir, t);
            assert!(dot(n, centre) >= 0.0);
        }
        // Both flags: mirrored and inside out.
        let both = build(&rgba, 64, 64, SculptType::Sphere, true, true, Detail::High);
        for i in 0..both.positions.len() {
            let [x, y, z] = out.positions[i];
            assert_eq!(both.positions[i], [-x, y, z]);
            assert!(dot(both.normals[i], both.positions[i]) < 0.0);
        }
    }

    #[test]
    fn degenerate_maps_get_the_placeholder_sphere() {
        // A constant map has no area.
        let rgba = vec![128u8; 64 * 64 * 4];
        let map = SculptMap {
            width: 64,
            height: 64,
            rgba: &rgba,
        };
        let (m, surface) = sculpt_mesh_surface(&map, SculptType::Plane, true, true, Detail::High);
        assert_eq!(surface, SculptSurface::Placeholder);
        check(&m);
        assert_eq!(m.positions.len(), 33 * 33);
        for (p, n) in m.positions.iter().zip(&m.normals) {
            assert!((length(*p) - PLACEHOLDER_RADIUS).abs() < 1e-5);
            assert!(dot(*n, *p) > 0.0);
        }
        // Noise: every sample a different corner of the box, far more area than SLV allows.
        let rgba = draw(64, 64, |x, y| {
            let (a, b) = ((x / 2) % 2, (y / 2) % 2);
            [a as f32 - 0.5, b as f32 - 0.5, ((a + b) % 2) as f32 - 0.5]
        });
        let map = SculptMap {
            width: 64,
            height: 64,
            rgba: &rgba,
        };
        let (_, surface) = sculpt_mesh_surface(&map, SculptType::Plane, false, false, Detail::High);
        assert_eq!(surface, SculptSurface::Placeholder);
    }

    #[test]
    fn bad_maps_give_an_empty_mesh() {
        let rgba = sphere_map(8, 8);
        for (w, h, len) in [
            (0, 8, rgba.len()),
            (8, 0, rgba.len()),
            (8, 8, rgba.len() - 1),
            (9, 8, rgba.len()),
            (u32::MAX, u32::MAX, rgba.len()),
            (8, 8, 0),
        ] {
            let map = SculptMap {
                width: w,
                height: h,
                rgba: &rgba[..len],
            };
            assert!(!map.is_usable());
            let (m, surface) =
                sculpt_mesh_surface(&map, SculptType::Sphere, false, false, Detail::High);
            assert_eq!(surface, SculptSurface::Empty);
            assert_eq!(m, MeshData::default());
        }
        // Extra bytes are ignored.
        let mut long = rgba.clone();
        long.extend_from_slice(&[1, 2, 3]);
        let a = build(&rgba, 8, 8, SculptType::Sphere, false, false, Detail::Low);
        let b = build(&long, 8, 8, SculptType::Sphere, false, false, Detail::Low);
        assert_eq!(a, b);
    }

    fn map_strategy() -> impl Strategy<Value = (u32, u32, Vec<u8>, usize)> {
        (0..=70u32, 0..=70u32).prop_flat_map(|(w, h)| {
            let n = (w * h * 4) as usize;
            (
                Just(w),
                Just(h),
                proptest::collection::vec(any::<u8>(), n),
                prop_oneof![4 => Just(0usize), 1 => 0..=n],
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_maps_mesh_validly(
            (w, h, rgba, cut) in map_strategy(),
            type_byte in any::<u8>(),
            detail in 0..3usize,
        ) {
            let detail = [Detail::Low, Detail::Medium, Detail::High][detail];
            let Some((kind, invert, mirror)) = SculptType::from_byte(type_byte) else {
                prop_assert!(matches!(type_byte & 7, 0 | 5 | 6 | 7));
                return Ok(());
            };
            let map = SculptMap { width: w, height: h, rgba: &rgba[..rgba.len() - cut] };
            let (m, surface) = sculpt_mesh_surface(&map, kind, invert, mirror, detail);
            prop_assert!(m.validate().is_ok());
            if w == 0 || h == 0 || cut > 0 {
                prop_assert_eq!(surface, SculptSurface::Empty);
                prop_assert_eq!(&m, &MeshData::default());
                return Ok(());
            }
            let (c, r) = sculpt_resolution(w, h, detail);
            prop_assert_eq!(m.positions.len(), c * r);
            prop_assert_eq!(m.triangle_count(), 2 * (c - 1) * (r - 1));
            for n in &m.normals {
                prop_assert!((length(*n) - 1.0).abs() < 1e-4, "{:?}", n);
            }
            for p in &m.positions {
                prop_assert!(p.iter().all(|v| v.abs() <= 0.5), "{:?}", p);
            }
        }
    }
}
