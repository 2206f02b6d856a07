//! The path: where, how rotated and how scaled the profile is placed along the sweep.
//!
//! Follows SLV's `LLPath::generate` and `LLPath::genNGon` (`indra/llmath/llvolume.cpp`): a line
//! runs along z from −0.5 to 0.5 with shear, twist and a top/bottom scale; a circle turns the
//! profile around the x axis (radius from the hole size, radius offset and skew, twist in whole
//! turns, taper along the way, several revolutions). Each point carries a rotation whose z axis
//! is the sweep direction, so profiles wound counter-clockwise give outward-facing triangles.

use std::f32::consts::{PI, TAU};

use super::params::{Params, PathKind};
use super::profile::{MIN_DETAIL_FACES, TABLE_SCALE};
use super::{f32_of, floor_usize};

/// A row-major 3×3 rotation.
pub(super) type Mat3 = [[f32; 3]; 3];

/// One point of the path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PathPoint {
    /// Where the profile's origin goes.
    pub pos: [f32; 3],
    /// The profile plane's rotation (its z axis along the sweep).
    pub rot: Mat3,
    /// Scale of the profile's x and y.
    pub scale: [f32; 2],
    /// Path parameter (texture v).
    pub t: f32,
}

impl PathPoint {
    /// Places a profile point `(x, y)`.
    pub(super) fn place(&self, x: f32, y: f32) -> [f32; 3] {
        let v = [x * self.scale[0], y * self.scale[1], 0.0];
        let r = mul(&self.rot, v);
        [r[0] + self.pos[0], r[1] + self.pos[1], r[2] + self.pos[2]]
    }

    /// The profile plane's normal (the sweep direction).
    pub(super) fn axis(&self) -> [f32; 3] {
        mul(&self.rot, [0.0, 0.0, 1.0])
    }
}

/// `m · v`.
pub(super) fn mul(m: &Mat3, v: [f32; 3]) -> [f32; 3] {
    let row = |r: &[f32; 3]| r[0] * v[0] + r[1] * v[1] + r[2] * v[2];
    [row(&m[0]), row(&m[1]), row(&m[2])]
}

/// Rotation about z by `a`.
fn rot_z(a: f32) -> Mat3 {
    let (s, c) = a.sin_cos();
    [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
}

/// Rotation about x by `a`, applied after rotation `m`.
fn rot_x_after(a: f32, m: &Mat3) -> Mat3 {
    let (s, c) = a.sin_cos();
    let [r0, r1, r2] = *m;
    let mix = |i: usize| {
        let (a1, a2) = (col(&r1, i), col(&r2, i));
        (c * a1 - s * a2, s * a1 + c * a2)
    };
    let (m10, m20) = mix(0);
    let (m11, m21) = mix(1);
    let (m12, m22) = mix(2);
    [r0, [m10, m11, m12], [m20, m21, m22]]
}

fn col(row: &[f32; 3], i: usize) -> f32 {
    row.get(i).copied().unwrap_or(0.0)
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// A generated path.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Path {
    /// At least two points.
    pub points: Vec<PathPoint>,
    /// True when the ends do not meet, so the profile gets caps.
    pub open: bool,
}

impl Path {
    /// Generates the path for `params` at `detail` (SL's LOD scale), with at least `split + 2`
    /// points on a line.
    pub(super) fn new(params: &Params, detail: f32, split: usize) -> Path {
        let twist_mag = (params.twist_begin - params.twist_end).abs();
        let mut path = match params.path {
            PathKind::Line => Self::line(params, detail, twist_mag, split),
            PathKind::Circle => {
                let sides =
                    floor_usize(MIN_DETAIL_FACES * detail + twist_mag * 3.5 * (detail - 0.5));
                Self::circle(params, floor_usize(f32_of(sides) * params.revolutions))
            }
            PathKind::Circle2 => {
                let mut path = Self::circle(params, floor_usize(MIN_DETAIL_FACES * detail));
                for (i, p) in path.points.iter_mut().enumerate() {
                    p.pos[0] = if i % 2 == 0 { 0.5 } else { -0.5 };
                }
                path
            }
        };
        if params.twist_begin != params.twist_end {
            path.open = true;
        }
        path
    }

    fn line(params: &Params, detail: f32, twist_mag: f32, split: usize) -> Path {
        let np = (floor_usize(twist_mag * 3.5 * (detail - 0.5)) + 2).max(split + 2);
        let step = 1.0 / f32_of(np - 1);
        // Scale above 1 shrinks the bottom instead of the top.
        let begin_scale = params.scale.map(|s| if s > 1.0 { 2.0 - s } else { 1.0 });
        let end_scale = params.scale.map(|s| s.min(1.0));
        let points = (0..np)
            .map(|i| {
                let t = lerp(params.path_begin, params.path_end, f32_of(i) * step);
                PathPoint {
                    pos: [params.shear[0] * t, params.shear[1] * t, t - 0.5],
                    rot: rot_z(lerp(PI * params.twist_begin, PI * params.twist_end, t)),
                    scale: [
                        lerp(begin_scale[0], end_scale[0], t),
                        lerp(begin_scale[1], end_scale[1], t),
                    ],
                    t,
                }
            })
            .collect();
        Path { points, open: true }
    }

    /// SLV `LLPath::genNGon`: a circle of `sides` segments around the x axis, cut to
    /// `path_begin..path_end`.
    fn circle(params: &Params, sides: usize) -> Path {
        let sides = sides.max(1);
        let n = f32_of(sides);
        let skew = params.skew;
        let hole_x = params.scale[0] * (1.0 - skew.abs());
        let hole_y = params.scale[1];
        // Negative taper tapers the beginning instead of the end.
        let taper = params.taper.map(|t| {
            let end = 1.0 - t;
            if end > 1.0 {
                (2.0 - end, 1.0)
            } else {
                (1.0, end)
            }
        });
        let mut radius_start = TABLE_SCALE.get(sides).copied().unwrap_or(0.5) * (1.0 - hole_y);
        let mut radius_end = radius_start;
        if params.radius_offset < 0.0 {
            radius_start *= 1.0 + params.radius_offset;
        } else {
            radius_end *= 1.0 - params.radius_offset;
        }
        let open = params.path_end - params.path_begin < 1.0
            || skew.abs() > 0.001
            || taper.iter().any(|(b, e)| (e - b).abs() > 0.001)
            || (radius_end - radius_start).abs() > 0.001;
        let point = |t: f32| {
            let ang = TAU * params.revolutions * t;
            let radius = lerp(radius_start, radius_end, t);
            let (s, c) = (ang.sin() * radius, ang.cos() * radius);
            let twist = lerp(params.twist_begin, params.twist_end, t) * TAU - PI;
            let [(xb, xe), (yb, ye)] = taper;
            PathPoint {
                pos: [
                    params.shear[0] * s + lerp(-skew, skew, t) * 0.5,
                    c + params.shear[1] * s,
                    s,
                ],
                rot: rot_x_after(ang, &rot_z(twist)),
                scale: [hole_x * lerp(xb, xe, t), hole_y * lerp(yb, ye, t)],
                t,
            }
        };
        let mut points = vec![point(params.path_begin)];
        // Interior points snap to the sides' grid, so a cut moves only the end points.
        let mut k = floor_usize(params.path_begin * n) + 1;
        while f32_of(k) / n < params.path_end && k <= sides {
            points.push(point(f32_of(k) / n));
            k += 1;
        }
        points.push(point(params.path_end));
        Path { points, open }
    }
}
