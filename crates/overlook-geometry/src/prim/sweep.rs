//! Sweeping: the profile's faces along the path as triangle meshes, and the caps.
//!
//! A side face is one grid per run of profile points (a flat run splits further at its
//! corners, so edges there stay hard); normals are area-weighted across each grid's quads and
//! merged across a seam where the grid closes on itself (a round profile, a full circle path),
//! so they are smooth within a face and hard between faces. Caps are triangulated in the
//! profile plane: a fan from the centre of a solid profile, a zipper between the outer and inner
//! outline of a hollow one.

use super::path::{Path, PathPoint};
use super::profile::{FaceKind, Profile, ProfileFace, Pt, Run};
use super::{f32_of, vertex_index};
use crate::mesh::MeshData;

type V3 = [f32; 3];

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn length(a: V3) -> f32 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

/// `a / |a|`, or `None` when `a` is (nearly) zero.
fn normalize(a: V3) -> Option<V3> {
    let l = length(a);
    (l > 1e-12 && l.is_finite()).then(|| [a[0] / l, a[1] / l, a[2] / l])
}

/// Builds the mesh of one profile face.
pub(super) fn face_mesh(profile: &Profile, face: &ProfileFace, path: &Path) -> MeshData {
    let mut mesh = MeshData::default();
    match face.kind {
        FaceKind::Top => {
            if let Some(q) = path.points.last() {
                cap(&mut mesh, profile, q, true);
            }
        }
        FaceKind::Bottom => {
            if let Some(q) = path.points.first() {
                cap(&mut mesh, profile, q, false);
            }
        }
        _ => {
            let n = profile.points.len();
            let run_points = |r: &Run| -> Vec<Pt> {
                (0..r.count)
                    .filter_map(|i| profile.points.get((r.begin + i) % n.max(1)).copied())
                    .collect()
            };
            let runs: Vec<(Vec<Pt>, bool)> =
                face.runs.iter().map(|r| (run_points(r), r.flat)).collect();
            // u: along a polygon side from its parameter, else by arc length over the face.
            let total_len: f32 = runs.iter().map(|(pts, _)| arc_length(pts)).sum();
            let mut walked = 0.0;
            for (pts, flat) in &runs {
                let us: Vec<f32> = match face.side {
                    Some(side) => pts.iter().map(|p| p.t - side).collect(),
                    None => {
                        let mut acc = walked;
                        let us = pts
                            .iter()
                            .enumerate()
                            .map(|(i, p)| {
                                if let Some(prev) = i.checked_sub(1).and_then(|j| pts.get(j)) {
                                    acc += dist2(prev, p);
                                }
                                if total_len > 0.0 {
                                    acc / total_len
                                } else {
                                    0.0
                                }
                            })
                            .collect();
                        walked = acc;
                        us
                    }
                };
                let mut start = 0;
                for end in corners(pts, *flat) {
                    if let (Some(p), Some(u)) = (pts.get(start..=end), us.get(start..=end)) {
                        grid(&mut mesh, p, u, &path.points);
                    }
                    start = end;
                }
            }
        }
    }
    mesh
}

fn dist2(a: &Pt, b: &Pt) -> f32 {
    ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt()
}

fn arc_length(pts: &[Pt]) -> f32 {
    pts.windows(2)
        .map(|w| match w {
            [a, b] => dist2(a, b),
            _ => 0.0,
        })
        .sum()
}

/// Indices where a strip ends: the corners of a flat run (direction changes), and its last
/// point.
fn corners(pts: &[Pt], flat: bool) -> Vec<usize> {
    let last = pts.len().saturating_sub(1);
    let mut out = Vec::new();
    if flat {
        let dir = |a: &Pt, b: &Pt| {
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let l = (dx * dx + dy * dy).sqrt();
            (l > 1e-7).then(|| (dx / l, dy / l))
        };
        for (i, w) in pts.windows(3).enumerate() {
            if let [a, b, c] = w
                && let (Some(d1), Some(d2)) = (dir(a, b), dir(b, c))
                && d1.0 * d2.0 + d1.1 * d2.1 < 0.9999
            {
                out.push(i + 1);
            }
        }
    }
    out.push(last);
    out
}

/// Appends the grid of `pts` swept along `path`, two triangles per quad.
fn grid(mesh: &mut MeshData, pts: &[Pt], us: &[f32], path: &[PathPoint]) {
    let (cols, rows) = (pts.len(), path.len());
    if cols < 2 || rows < 2 {
        return;
    }
    let base = mesh.positions.len();
    let positions: Vec<V3> = path
        .iter()
        .flat_map(|q| pts.iter().map(move |p| q.place(p.x, p.y)))
        .collect();
    let at = |c: usize, r: usize| positions.get(r * cols + c).copied().unwrap_or_default();
    let mut normals = vec![[0.0f32; 3]; positions.len()];
    let mut total = [0.0f32; 3];
    for r in 0..rows - 1 {
        for c in 0..cols - 1 {
            // The cross product of the diagonals stays valid when one edge has collapsed.
            let n = cross(
                sub(at(c + 1, r + 1), at(c, r)),
                sub(at(c, r + 1), at(c + 1, r)),
            );
            total = add(total, n);
            for i in [
                r * cols + c,
                r * cols + c + 1,
                (r + 1) * cols + c,
                (r + 1) * cols + c + 1,
            ] {
                if let Some(v) = normals.get_mut(i) {
                    *v = add(*v, n);
                }
            }
        }
    }
    let same = |a: V3, b: V3| length(sub(a, b)) < 1e-5;
    // Merge the seam of a closed profile (first and last column coincide on every row) ...
    if (0..rows).all(|r| same(at(0, r), at(cols - 1, r))) {
        for r in 0..rows {
            merge(&mut normals, r * cols, r * cols + cols - 1);
        }
    }
    // ... and of a closed path (first and last row coincide).
    if (0..cols).all(|c| same(at(c, 0), at(c, rows - 1))) {
        for c in 0..cols {
            merge(&mut normals, c, (rows - 1) * cols + c);
        }
    }
    let fallback = normalize(total)
        .or_else(|| path.first().and_then(|q| normalize(q.axis())))
        .unwrap_or([0.0, 0.0, 1.0]);
    mesh.positions.extend_from_slice(&positions);
    mesh.normals.extend(
        normals
            .into_iter()
            .map(|n| normalize(n).unwrap_or(fallback)),
    );
    for q in path {
        mesh.uvs.extend(us.iter().map(|&u| [u, q.t]));
    }
    let idx = |c: usize, r: usize| vertex_index(base + r * cols + c);
    for r in 0..rows - 1 {
        for c in 0..cols - 1 {
            let (a, b, cc, d) = (idx(c, r), idx(c + 1, r), idx(c + 1, r + 1), idx(c, r + 1));
            mesh.indices.extend_from_slice(&[a, b, cc, a, cc, d]);
        }
    }
}

fn merge(normals: &mut [V3], a: usize, b: usize) {
    if let (Some(&na), Some(&nb)) = (normals.get(a), normals.get(b)) {
        let sum = add(na, nb);
        for i in [a, b] {
            if let Some(v) = normals.get_mut(i) {
                *v = sum;
            }
        }
    }
}

/// Appends a cap at path point `q`: the top faces along the sweep, the bottom against it.
fn cap(mesh: &mut MeshData, profile: &Profile, q: &PathPoint, top: bool) {
    let axis = q.axis();
    let normal = if top { axis } else { axis.map(|v| -v) };
    let base = mesh.positions.len();
    let push = |mesh: &mut MeshData, p: &Pt| {
        mesh.positions.push(q.place(p.x, p.y));
        mesh.normals.push(normal);
        let v = if top { p.y + 0.5 } else { 0.5 - p.y };
        mesh.uvs.push([p.x + 0.5, v]);
    };
    let mut tris: Vec<[usize; 3]> = Vec::new();
    let pts = &profile.points;
    if profile.hollow {
        // Zip the outer outline to the hollow's (walked forwards again).
        let outer = pts.get(..profile.total_out).unwrap_or_default();
        let inner: Vec<usize> = (profile.total_out..pts.len()).rev().collect();
        for p in outer {
            push(mesh, p);
        }
        for &i in &inner {
            if let Some(p) = pts.get(i) {
                push(mesh, p);
            }
        }
        // Both outlines run counter-clockwise around the origin: merge them by angle.
        let inner_pts: Vec<Pt> = inner.iter().filter_map(|&k| pts.get(k).copied()).collect();
        let a = unwrapped_angles(outer, None);
        let b = unwrapped_angles(&inner_pts, a.first().copied().zip(outer.first().copied()));
        let (n, m) = (a.len(), b.len());
        let (mut i, mut j) = (0, 0);
        while n > 0 && m > 0 && (i + 1 < n || j + 1 < m) {
            let next_a = a.get(i + 1).copied().unwrap_or(f32::INFINITY);
            let next_b = b.get(j + 1).copied().unwrap_or(f32::INFINITY);
            if next_a <= next_b {
                tris.push([i, i + 1, n + j]);
                i += 1;
            } else {
                tris.push([i, n + j + 1, n + j]);
                j += 1;
            }
        }
    } else if let Some(centre) = profile.centre {
        // A fan from the centre over the outer arc (cut profiles are star-shaped around it).
        for p in pts {
            push(mesh, p);
        }
        for i in 0..centre.saturating_sub(1) {
            tris.push([centre, i, i + 1]);
        }
    } else {
        // A closed convex outline: a fan from its centroid.
        for p in pts {
            push(mesh, p);
        }
        let n = pts.len();
        let c = pts.iter().fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
        let inv = 1.0 / f32_of(n.max(1));
        push(
            mesh,
            &Pt {
                x: c.0 * inv,
                y: c.1 * inv,
                t: 0.0,
            },
        );
        for i in 0..n {
            tris.push([n, i, (i + 1) % n]);
        }
    }
    for t in tris {
        let [a, b, c] = t.map(|i| vertex_index(base + i));
        if top {
            mesh.indices.extend_from_slice(&[a, b, c]);
        } else {
            mesh.indices.extend_from_slice(&[a, c, b]);
        }
    }
}

/// The angles of `pts` around the origin, unwrapped so they never jump by a turn. With `start`
/// (the first angle of another outline and that outline's first point) the first angle is taken
/// within half a turn of that one, so the two sequences compare.
fn unwrapped_angles(pts: &[Pt], start: Option<(f32, Pt)>) -> Vec<f32> {
    use std::f32::consts::{PI, TAU};
    let wrap = |d: f32| d - TAU * ((d + PI) / TAU).floor();
    let angle = |p: &Pt| p.y.atan2(p.x);
    let mut out = Vec::with_capacity(pts.len());
    let mut prev: Option<(f32, f32)> = None;
    for p in pts {
        let raw = angle(p);
        let a = match (prev, start) {
            (Some((last, last_raw)), _) => last + wrap(raw - last_raw),
            (None, Some((a0, p0))) => a0 + wrap(raw - angle(&p0)),
            (None, None) => raw,
        };
        out.push(a);
        prev = Some((a, raw));
    }
    out
}
