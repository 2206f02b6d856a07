//! The profile: a prim's cross-section as a 2D point list, and the faces it splits into.
//!
//! Follows the structure of SLV's `LLProfile::generate` (`indra/llmath/llvolume.cpp`) so that
//! face numbers match SL's TextureEntry numbering: the points run counter-clockwise around the
//! outside (an n-gon cut at the profile's begin and end), then clockwise around the hollow, or
//! end in the centre point when the profile is cut but not hollow. Faces are pushed in SL's
//! order: top cap (only on an open path), outer sides, hollow, bottom cap, then the two cut
//! faces; a face's position in [`Profile::faces`] is its TextureEntry index.

use std::f32::consts::FRAC_1_SQRT_2;

use super::params::{HoleKind, Params, ProfileKind};
use super::{f32_of, floor_usize};

/// SLV's radius compensation for polygons (and circular paths) with few sides, so they fill the
/// unit box; indexed by the number of sides of a full turn.
pub(super) const TABLE_SCALE: [f32; 8] = [1.0, 1.0, 1.0, 0.5, FRAC_1_SQRT_2, 0.53, 0.525, 0.5];
/// Base circle sides per unit of detail (SLV `MIN_DETAIL_FACES`).
pub(super) const MIN_DETAIL_FACES: f32 = 6.0;

/// One profile point: position in the unit square and the profile parameter (texture u source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pt {
    pub x: f32,
    pub y: f32,
    pub t: f32,
}

impl Pt {
    fn lerp(self, o: Pt, f: f32) -> Pt {
        Pt {
            x: self.x + (o.x - self.x) * f,
            y: self.y + (o.y - self.y) * f,
            t: self.t + (o.t - self.t) * f,
        }
    }
}

/// What a face is; caps have no points of their own (they fill the whole profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FaceKind {
    /// SLV's `LL_FACE_PATH_BEGIN` cap, drawn at the path's end (the top of a box).
    Top,
    /// SLV's `LL_FACE_PATH_END` cap, drawn at the path's start (the bottom of a box).
    Bottom,
    /// An outer side (one per polygon side, or the whole round side).
    Outer,
    /// The hollow's wall.
    Inner,
    /// The cut face at the profile's begin.
    CutBegin,
    /// The cut face at the profile's end.
    CutEnd,
}

/// A run of consecutive profile points (indices wrap around the point list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    pub begin: usize,
    pub count: usize,
    /// Hard edges at the run's corners instead of smooth normals across them.
    pub flat: bool,
}

/// One face of the profile, in SL order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ProfileFace {
    pub kind: FaceKind,
    /// The points swept along the path (empty for caps).
    pub runs: Vec<Run>,
    /// For polygon sides: the side's index, so u = t − side spans 0..1 across a whole side.
    pub side: Option<f32>,
}

impl ProfileFace {
    fn cap(kind: FaceKind) -> Self {
        ProfileFace {
            kind,
            runs: Vec::new(),
            side: None,
        }
    }

    fn swept(kind: FaceKind, begin: usize, count: usize, flat: bool) -> Self {
        ProfileFace {
            kind,
            runs: vec![Run { begin, count, flat }],
            side: None,
        }
    }
}

/// A generated profile.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Profile {
    /// Outer points, then the hollow's points reversed (or the centre point of a cut profile).
    pub points: Vec<Pt>,
    /// How many of `points` are outer points when hollow; `points.len()` otherwise.
    pub total_out: usize,
    /// True when hollow.
    pub hollow: bool,
    /// True when the profile is cut (the loop is open and has cut faces).
    pub open: bool,
    /// Index of the centre point of a cut (or half-circle) solid profile.
    pub centre: Option<usize>,
    /// Faces in TextureEntry order.
    pub faces: Vec<ProfileFace>,
}

/// Appends an n-gon arc from `begin` to `end` (fractions of a full turn of `1 / ang_scale`),
/// with `split` extra points on every edge: SLV `LLProfile::genNGon`. Returns whether the arc
/// leaves the profile open.
fn ngon(
    out: &mut Vec<Pt>,
    params: &Params,
    sides: usize,
    offset: f32,
    ang_scale: f32,
    split: usize,
) -> bool {
    let sides = sides.max(1);
    let n = f32_of(sides);
    let (begin, end) = (params.profile_begin, params.profile_end);
    let total_sides = floor_usize(n / ang_scale + 0.5);
    let scale = TABLE_SCALE.get(total_sides).copied().unwrap_or(0.5);
    let at = |k: usize| {
        let t = f32_of(k) / n;
        let ang = std::f32::consts::TAU * (t * ang_scale + offset);
        Pt {
            x: ang.cos() * scale,
            y: ang.sin() * scale,
            t,
        }
    };
    let start = out.len();
    let push = |out: &mut Vec<Pt>, p: Pt| {
        if let Some(&last) = out.get(start..).and_then(<[Pt]>::last) {
            for i in 1..=split {
                out.push(last.lerp(p, f32_of(i) / f32_of(split + 1)));
            }
        }
        out.push(p);
    };
    let first = floor_usize(begin * n);
    let fraction = (begin - f32_of(first) / n) * n;
    // Skip a begin point that lies almost exactly on the next corner.
    if fraction < 0.9999 {
        out.push(at(first).lerp(at(first + 1), fraction));
    }
    let mut k = first + 1;
    while f32_of(k) / n < end && k <= sides {
        push(out, at(k));
        k += 1;
    }
    let fraction = (end - f32_of(k - 1) / n) * n;
    if fraction > 0.0001 {
        push(out, at(k - 1).lerp(at(k), fraction));
    }
    (end - begin) * ang_scale < 0.99
}

impl Profile {
    /// Generates the profile for `params`; `path_open` adds the two caps.
    ///
    /// The faces come in SL's TextureEntry order: top cap, outer sides and hollow (by profile
    /// kind: [`Self::polygon`] or [`Self::round`]), bottom cap, then the cut faces
    /// ([`Self::push_cut_faces`]).
    pub(super) fn new(params: &Params, path_open: bool, detail: f32, split: usize) -> Profile {
        let mut p = Profile {
            points: Vec::new(),
            total_out: 0,
            hollow: params.hollow > 0.0,
            open: false,
            centre: None,
            faces: Vec::new(),
        };
        let circle_detail = MIN_DETAIL_FACES * detail;
        match params.profile {
            ProfileKind::Square | ProfileKind::Triangle => {
                p.polygon(params, path_open, circle_detail, split);
            }
            ProfileKind::Circle | ProfileKind::HalfCircle => {
                p.round(params, path_open, circle_detail, split);
            }
        }
        if path_open {
            p.faces.push(ProfileFace::cap(FaceKind::Bottom));
        }
        if p.open {
            p.push_cut_faces();
        }
        p
    }

    /// A square or triangle profile: the outer polygon with `t` counting whole sides, the top
    /// cap on an open path, one flat outer face per side the profile cut leaves, then the hollow.
    fn polygon(&mut self, params: &Params, path_open: bool, circle_detail: f32, split: usize) {
        let square = params.profile == ProfileKind::Square;
        let (sides, offset) = if square { (4, -0.375) } else { (3, 0.0) };
        self.outer(params, sides, offset, 1.0, split);
        let n = f32_of(sides);
        for pt in &mut self.points {
            pt.t *= n;
        }
        if path_open {
            self.faces.push(ProfileFace::cap(FaceKind::Top));
        }
        let first = floor_usize(params.profile_begin * n);
        let last = floor_usize(params.profile_end * n + 0.999);
        for (face_num, side) in (first..last).enumerate() {
            let mut face =
                ProfileFace::swept(FaceKind::Outer, face_num * (split + 1), split + 2, true);
            face.side = Some(f32_of(side));
            self.faces.push(face);
        }
        if !self.hollow {
            return;
        }
        // Triangles fill half the box, so their hollow is halved (SLV).
        let (amount, offset) = if square {
            (params.hollow, -0.375)
        } else {
            (params.hollow / 2.0, 0.0)
        };
        match (params.hole, params.profile) {
            (HoleKind::Circle, _) => {
                self.hole(params, false, circle_detail, offset, amount, 1.0, 0);
            }
            (HoleKind::Triangle, _) | (HoleKind::Same, ProfileKind::Triangle) => {
                self.hole(params, true, 3.0, offset, amount, 1.0, split);
            }
            _ => self.hole(params, true, 4.0, offset, amount, 1.0, split),
        }
    }

    /// A circle or half-circle profile: the outer arc (its side count lined up with the
    /// corners of a square hole), the top cap on an open path, one smooth outer face, the
    /// hollow, and for a half circle SLV's closing rules ([`Self::close_half_circle`]).
    fn round(&mut self, params: &Params, path_open: bool, circle_detail: f32, split: usize) {
        let half = params.profile == ProfileKind::HalfCircle;
        let (ang_scale, offset, per_corner) = if half {
            (0.5, 0.5, 2.0)
        } else {
            (1.0, 0.0, 4.0)
        };
        let mut detail = circle_detail * ang_scale;
        // A square hole needs a side count that lines the corners up.
        if self.hollow && params.hole == HoleKind::Square {
            detail = (detail / per_corner).ceil() * per_corner;
        }
        self.outer(params, floor_usize(detail), offset, ang_scale, 0);
        if path_open {
            self.faces.push(ProfileFace::cap(FaceKind::Top));
        }
        let count = self.points.len() - usize::from(self.centre.is_some());
        self.faces
            .push(ProfileFace::swept(FaceKind::Outer, 0, count, false));
        if self.hollow {
            let amount = params.hollow;
            match params.hole {
                HoleKind::Square => {
                    self.hole(
                        params,
                        true,
                        4.0 * ang_scale,
                        offset,
                        amount,
                        ang_scale,
                        split,
                    );
                }
                HoleKind::Triangle => {
                    self.hole(params, true, 3.0, offset, amount, ang_scale, split);
                }
                HoleKind::Circle | HoleKind::Same => {
                    self.hole(params, false, detail, offset, amount, ang_scale, 0);
                }
            }
        }
        if half {
            self.close_half_circle(params);
        }
    }

    /// The two cut faces of an open profile: at the profile's begin (from the last point back
    /// to the first), and at its end (from the outer end to the hollow's first point when
    /// hollow, to the centre point when solid).
    fn push_cut_faces(&mut self) {
        let total = self.points.len();
        self.faces.push(ProfileFace::swept(
            FaceKind::CutBegin,
            total.saturating_sub(1),
            2,
            true,
        ));
        let end_at = if self.hollow {
            self.total_out.saturating_sub(1)
        } else {
            total.saturating_sub(2)
        };
        self.faces
            .push(ProfileFace::swept(FaceKind::CutEnd, end_at, 2, true));
    }

    /// The outer arc, plus the centre point when the profile is cut and solid.
    fn outer(&mut self, params: &Params, sides: usize, offset: f32, ang_scale: f32, split: usize) {
        self.open = ngon(&mut self.points, params, sides, offset, ang_scale, split);
        if self.open && !self.hollow {
            self.centre = Some(self.points.len());
            self.points.push(Pt {
                x: 0.0,
                y: 0.0,
                t: 0.0,
            });
        }
        self.total_out = self.points.len();
    }

    /// Appends the hollow (SLV `addHole`): an n-gon scaled by `amount`, walked backwards.
    #[allow(clippy::too_many_arguments)]
    fn hole(
        &mut self,
        params: &Params,
        flat: bool,
        sides: f32,
        offset: f32,
        amount: f32,
        ang_scale: f32,
        split: usize,
    ) {
        self.total_out = self.points.len();
        let mut inner = Vec::new();
        ngon(
            &mut inner,
            params,
            floor_usize(sides),
            offset,
            ang_scale,
            split,
        );
        self.faces.push(ProfileFace::swept(
            FaceKind::Inner,
            self.total_out,
            inner.len(),
            flat,
        ));
        self.points.extend(inner.into_iter().rev().map(|p| Pt {
            x: p.x * amount,
            y: p.y * amount,
            t: p.t,
        }));
    }

    /// SLV's special case for spheres: a half circle is open when cut; uncut and solid it is
    /// closed through the centre (the flat side lies on the path axis of a sphere).
    fn close_half_circle(&mut self, params: &Params) {
        if params.profile_end - params.profile_begin < 1.0 {
            self.open = true;
        } else if !self.hollow {
            self.open = false;
            if let Some(&first) = self.points.first() {
                self.points.push(first);
            }
            // On a straight path the flat side would be a hole; draw it as part of the outer
            // face (SLV leaves it out, but there it only shows on unusual half cylinders).
            let arc = self.points.len().saturating_sub(3);
            if let Some(outer) = self.faces.iter_mut().find(|f| f.kind == FaceKind::Outer)
                && params.is_linear()
            {
                outer.runs.push(Run {
                    begin: arc,
                    count: 3,
                    flat: true,
                });
            }
        }
    }
}
