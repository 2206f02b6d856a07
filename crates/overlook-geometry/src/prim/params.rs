//! Shape parameters, dequantised from [`PrimShape`] and clamped the way SLV clamps a received
//! shape (`LLVolumeMessage::constrainVolumeParams` in `indra/llprimitive/llvolumemessage.cpp`
//! feeds every unpacked shape through the checked `LLVolumeParams` setters of
//! `indra/llmath/llvolume.cpp`; the setters run in the same order here, because later limits
//! depend on earlier values).
//!
//! Every field of [`Params`] is finite and inside SL's range for any 23 input bytes, so the
//! sweep downstream never sees a degenerate cut or an out-of-range hollow.

use overlook_protocol::message::object::PrimShape;

/// Smallest distance between a begin and an end cut (SLV `MIN_CUT_DELTA`).
const MIN_CUT_DELTA: f32 = 0.02;
/// Largest hollow (SLV `HOLLOW_MAX`).
const HOLLOW_MAX: f32 = 0.95;
/// Largest square hollow in a round or equilateral profile (SLV `HOLLOW_MAX_SQUARE`).
const HOLLOW_MAX_SQUARE: f32 = 0.7;
/// Hole size limits on a circular path (SLV `HOLE_X_MIN` … `HOLE_Y_MAX`).
const HOLE_X: (f32, f32) = (0.05, 1.0);
const HOLE_Y: (f32, f32) = (0.05, 0.5);
/// Largest skew magnitude (SLV `SKEW_MAX`).
const SKEW_MAX: f32 = 0.95;

/// The path the profile is swept along (`PathCurve & 0xF0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PathKind {
    /// Straight line along z: line, flexible (drawn unbent), test and unknown codes.
    Line,
    /// A circle around the x axis.
    Circle,
    /// SL's second circle: the circle with x alternating between ±0.5 on every path point.
    Circle2,
}

/// The cross-section (`ProfileCurve & 0x0F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProfileKind {
    /// Circle.
    Circle,
    /// Square (also any unknown code, as SLV's `setType` does).
    Square,
    /// Isosceles, equilateral or right triangle: SLV generates all three alike.
    Triangle,
    /// Half circle (spheres).
    HalfCircle,
}

/// The hollow's shape (`ProfileCurve & 0xF0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HoleKind {
    /// The profile's own shape (and unknown codes).
    Same,
    /// Circle.
    Circle,
    /// Square.
    Square,
    /// Triangle.
    Triangle,
}

/// A shape's parameters as floats, within SL's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Params {
    pub path: PathKind,
    pub profile: ProfileKind,
    pub hole: HoleKind,
    /// Profile cut, `0 ≤ begin ≤ end − 0.02`, `end ≤ 1`.
    pub profile_begin: f32,
    pub profile_end: f32,
    /// Hollow fraction, `0 ..= 0.95`.
    pub hollow: f32,
    /// Path cut, like the profile cut.
    pub path_begin: f32,
    pub path_end: f32,
    /// Twist at the path's begin and end, `-1 ..= 1` (half turns on a line, turns on a circle).
    pub twist_begin: f32,
    pub twist_end: f32,
    /// Path scale: top size on a line (`0 ..= 2`, above 1 shrinks the bottom), hole size on a
    /// circle.
    pub scale: [f32; 2],
    /// Top shear, `-0.5 ..= 0.5`.
    pub shear: [f32; 2],
    /// Taper along a circular path, `-1 ..= 1`.
    pub taper: [f32; 2],
    /// Revolutions of a circular path, `1 ..= 4`.
    pub revolutions: f32,
    /// Radius offset of a circular path.
    pub radius_offset: f32,
    /// Skew of a circular path, `-0.95 ..= 0.95`.
    pub skew: f32,
}

/// Orders begin and end cuts as SLV's `setBeginAndEndS`/`setBeginAndEndT` do.
fn cut(begin: f32, end: f32) -> (f32, f32) {
    let begin = begin.clamp(0.0, 1.0 - MIN_CUT_DELTA);
    let end = end.clamp(MIN_CUT_DELTA, 1.0);
    (begin.clamp(0.0, end - MIN_CUT_DELTA), end)
}

impl Params {
    /// Dequantises and clamps a shape; total for every input.
    pub(super) fn new(shape: &PrimShape) -> Params {
        let path = match shape.path_curve & 0xF0 {
            0x20 => PathKind::Circle,
            0x30 => PathKind::Circle2,
            _ => PathKind::Line,
        };
        let (profile, hole) = match shape.profile_curve & 0x0F {
            0 => (ProfileKind::Circle, Self::hole_of(shape.profile_curve)),
            1 => (ProfileKind::Square, Self::hole_of(shape.profile_curve)),
            2..=4 => (ProfileKind::Triangle, Self::hole_of(shape.profile_curve)),
            5 => (ProfileKind::HalfCircle, Self::hole_of(shape.profile_curve)),
            // SLV's setType: a bad profile becomes a square and loses its hole type.
            _ => (ProfileKind::Square, HoleKind::Same),
        };
        let (profile_begin, profile_end) = cut(shape.profile_begin_cut(), shape.profile_end_cut());
        let (path_begin, path_end) = cut(shape.path_begin_cut(), shape.path_end_cut());

        let equilateral = shape.profile_curve & 0x0F == 3;
        let max_hollow = match (hole, profile) {
            (HoleKind::Square, ProfileKind::Circle | ProfileKind::HalfCircle) => HOLLOW_MAX_SQUARE,
            (HoleKind::Square, ProfileKind::Triangle) if equilateral => HOLLOW_MAX_SQUARE,
            _ => HOLLOW_MAX,
        };
        let hollow = shape.hollow().clamp(0.0, max_hollow);
        let twist_begin = shape.twist_begin().clamp(-1.0, 1.0);
        let twist_end = shape.twist().clamp(-1.0, 1.0);

        // On a circle (not a sphere) the scale is the hole size, which SLV restricts further.
        let (sx, sy) = shape.scale();
        let scale = if path == PathKind::Circle && profile != ProfileKind::HalfCircle {
            [sx.clamp(HOLE_X.0, HOLE_X.1), sy.clamp(HOLE_Y.0, HOLE_Y.1)]
        } else {
            [sx.clamp(0.0, 2.0), sy.clamp(0.0, 2.0)]
        };
        let (hx, hy) = shape.shear();
        let shear = [hx.clamp(-0.5, 0.5), hy.clamp(-0.5, 0.5)];
        let (tx, ty) = shape.taper();
        let taper = [tx.clamp(-1.0, 1.0), ty.clamp(-1.0, 1.0)];
        let revolutions = shape.revolutions().clamp(1.0, 4.0);
        let radius_offset = if path == PathKind::Circle && profile != ProfileKind::HalfCircle {
            Self::limit_radius_offset(shape.radius_offset(), scale[1], taper[1])
        } else {
            0.0
        };
        let skew = Self::limit_skew(shape.skew(), revolutions, scale[0]);
        Params {
            path,
            profile,
            hole,
            profile_begin,
            profile_end,
            hollow,
            path_begin,
            path_end,
            twist_begin,
            twist_end,
            scale,
            shear,
            taper,
            revolutions,
            radius_offset,
            skew,
        }
    }

    fn hole_of(profile_curve: u8) -> HoleKind {
        match profile_curve & 0xF0 {
            0x10 => HoleKind::Circle,
            0x20 => HoleKind::Square,
            0x30 => HoleKind::Triangle,
            _ => HoleKind::Same,
        }
    }

    /// SLV `setRadiusOffset`: the offset may not push the profile through the path's centre.
    fn limit_radius_offset(offset: f32, hole_y: f32, taper_y: f32) -> f32 {
        let offset = offset.clamp(-1.0, 1.0);
        // A taper towards the same side widens the allowed range; the other way it does not.
        let helps = !(offset > 0.0 && taper_y < 0.0 || offset < 0.0 && taper_y > 0.0);
        let taper_mag = if helps { taper_y.abs() } else { 0.0 };
        // hole_y ≤ 0.5 here, so the division is safe.
        let max = 1.0 - hole_y.abs() * (1.0 - taper_mag) / (1.0 - hole_y.abs());
        if offset.abs() > max {
            max.copysign(offset)
        } else {
            offset
        }
    }

    /// SLV `setSkew`: more than one revolution needs a minimum skew so the turns do not overlap.
    fn limit_skew(skew: f32, revolutions: f32, scale_x: f32) -> f32 {
        let skew = skew.clamp(-SKEW_MAX, SKEW_MAX);
        let min = if (revolutions - 1.0).abs() < 0.001 {
            0.0
        } else {
            1.0 - 1.0 / (revolutions * scale_x + 1.0)
        };
        if skew.abs() < min {
            if skew < 0.0 { -min } else { min }
        } else {
            skew
        }
    }

    /// True for a straight path.
    pub(super) fn is_linear(&self) -> bool {
        self.path == PathKind::Line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(path: u8, profile: u8) -> PrimShape {
        PrimShape::with_curves(path, profile)
    }

    #[test]
    fn a_plain_box_keeps_its_values() {
        let p = Params::new(&shape(0x10, 0x01));
        assert_eq!(
            (p.path, p.profile, p.hole),
            (PathKind::Line, ProfileKind::Square, HoleKind::Same)
        );
        assert_eq!(
            (p.profile_begin, p.profile_end, p.path_begin, p.path_end),
            (0.0, 1.0, 0.0, 1.0)
        );
        assert_eq!((p.scale, p.hollow, p.revolutions), ([1.0, 1.0], 0.0, 1.0));
    }

    #[test]
    fn clamps_like_slv_setters() {
        let mut s = shape(0x20, 0x20);
        s.profile_begin = 40000; // 0.8
        s.profile_end = 15000; // end 0.7: begin is pulled below it
        s.profile_hollow = 49000; // 0.98, square hole in a circle: 0.7
        s.path_scale_y = 0; // hole y 2.0 → 0.5
        s.path_twist = 127;
        let p = Params::new(&s);
        assert!((p.profile_end - 0.7).abs() < 1e-6);
        assert!((p.profile_begin - 0.68).abs() < 1e-6);
        assert_eq!(p.hollow, 0.7);
        assert_eq!(p.scale[1], 0.5);
        assert_eq!(p.twist_end, 1.0);
        // Cuts that meet keep MIN_CUT_DELTA apart; end 0 (wire 50000) becomes 0.02.
        let mut s = shape(0x10, 0x01);
        s.path_begin = 50000;
        s.path_end = 50000;
        let p = Params::new(&s);
        assert_eq!((p.path_begin, p.path_end), (0.0, 0.02));
    }

    #[test]
    fn skew_has_a_minimum_for_several_revolutions() {
        // The captured torus: 2 revolutions with skew 0.1 is raised to 1 − 1/3.
        let mut s = shape(0x20, 0x00);
        s.path_revolutions = 67;
        s.path_skew = 10;
        let p = Params::new(&s);
        let want = 1.0 - 1.0 / (p.revolutions + 1.0);
        assert!((p.skew - want).abs() < 1e-6, "{}", p.skew);
    }

    #[test]
    fn unknown_codes_fall_back() {
        let p = Params::new(&shape(0x70, 0x4F));
        assert_eq!(
            (p.path, p.profile, p.hole),
            (PathKind::Line, ProfileKind::Square, HoleKind::Same)
        );
        assert_eq!(Params::new(&shape(0x80, 0x40)).hole, HoleKind::Same);
        assert_eq!(Params::new(&shape(0x30, 0x05)).path, PathKind::Circle2);
    }
}
