//! Prim shape parameters (PROTOCOL §3.16; SLV `indra/llmath/llvolume.h`,
//! `indra/llprimitive/llvolumemessage.cpp`).
//!
//! [`PrimShape`] keeps the 23 wire bytes as they travel (so emit is byte-exact) and offers the
//! dequantised values as methods. The same fields come in two orders: `ObjectUpdate` puts
//! `ProfileCurve` right after `PathCurve`, `ObjectUpdateCompressed` puts it after the path group.
//! [`PrimShape::kind`] classifies the shape the way SLV's tool placer and LMV's `Primitive.Type`
//! do. Nothing here panics.

use crate::message::codec::{MessageError, Reader, Writer};

/// The path a profile is swept along (`PathCurve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathCurve {
    /// 0x10: straight line.
    Line,
    /// 0x20: circle.
    Circle,
    /// 0x30: circle, second kind (SLV `LL_PCODE_PATH_CIRCLE2`).
    Circle2,
    /// 0x40: test path.
    Test,
    /// 0x80: flexible (drawn as a line).
    Flexible,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for PathCurve {
    fn from(v: u8) -> Self {
        match v {
            0x10 => PathCurve::Line,
            0x20 => PathCurve::Circle,
            0x30 => PathCurve::Circle2,
            0x40 => PathCurve::Test,
            0x80 => PathCurve::Flexible,
            n => PathCurve::Unknown(n),
        }
    }
}

/// The cross-section shape (low nibble of `ProfileCurve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileCurve {
    /// 0: circle.
    Circle,
    /// 1: square.
    Square,
    /// 2: isosceles triangle.
    IsoTriangle,
    /// 3: equilateral triangle.
    EquilateralTriangle,
    /// 4: right triangle.
    RightTriangle,
    /// 5: half circle.
    HalfCircle,
    /// 6–15.
    Unknown(u8),
}

impl From<u8> for ProfileCurve {
    fn from(v: u8) -> Self {
        match v & 0x0F {
            0 => ProfileCurve::Circle,
            1 => ProfileCurve::Square,
            2 => ProfileCurve::IsoTriangle,
            3 => ProfileCurve::EquilateralTriangle,
            4 => ProfileCurve::RightTriangle,
            5 => ProfileCurve::HalfCircle,
            n => ProfileCurve::Unknown(n),
        }
    }
}

/// The shape of the hollow (high nibble of `ProfileCurve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoleType {
    /// 0x00: same as the profile.
    Same,
    /// 0x10: circle.
    Circle,
    /// 0x20: square.
    Square,
    /// 0x30: triangle.
    Triangle,
    /// 0x40–0xF0, as the high nibble.
    Unknown(u8),
}

impl From<u8> for HoleType {
    fn from(v: u8) -> Self {
        match v & 0xF0 {
            0x00 => HoleType::Same,
            0x10 => HoleType::Circle,
            0x20 => HoleType::Square,
            0x30 => HoleType::Triangle,
            n => HoleType::Unknown(n),
        }
    }
}

/// A coarse classification of an object's geometry (PROTOCOL §3.16 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShapeKind {
    /// Line path, square profile (also pyramids and wedges: boxes with taper).
    Box,
    /// Line path, circle profile (also cones).
    Cylinder,
    /// Line path, half-circle profile.
    HalfCylinder,
    /// Line path, any triangle profile.
    Prism,
    /// Circle path with a half-circle profile, a circle2 path with a round profile, or a circle
    /// path and circle profile with path scale Y above 0.75 (LMV).
    Sphere,
    /// Circle path, circle profile.
    Torus,
    /// Circle path, square profile.
    Tube,
    /// Circle path, equilateral-triangle profile.
    Ring,
    /// A sculpted prim (ExtraParams sculpt type 1–4); only object-level classifiers return it.
    Sculpt,
    /// A mesh (ExtraParams sculpt type 5); only object-level classifiers return it.
    Mesh,
    /// Anything else (trees, grass and avatars carry all-zero shape bytes).
    Other,
}

/// The 23 bytes of prim shape parameters, raw as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PrimShape {
    /// `PathCurve` (see [`PathCurve`]).
    pub path_curve: u8,
    /// `ProfileCurve`: profile in the low nibble, hole type in the high nibble.
    pub profile_curve: u8,
    /// `PathBegin`: begin cut × 50000.
    pub path_begin: u16,
    /// `PathEnd`: 50000 − end cut × 50000.
    pub path_end: u16,
    /// `PathScaleX`: 200 − scale × 100.
    pub path_scale_x: u8,
    /// `PathScaleY`: 200 − scale × 100.
    pub path_scale_y: u8,
    /// `PathShearX`: shear × 100 as a signed byte.
    pub path_shear_x: u8,
    /// `PathShearY`: shear × 100 as a signed byte.
    pub path_shear_y: u8,
    /// `PathTwist`: twist × 100 (end twist, in turns of 180°).
    pub path_twist: i8,
    /// `PathTwistBegin`: twist × 100.
    pub path_twist_begin: i8,
    /// `PathRadiusOffset`: offset × 100.
    pub path_radius_offset: i8,
    /// `PathTaperX`: taper × 100.
    pub path_taper_x: i8,
    /// `PathTaperY`: taper × 100.
    pub path_taper_y: i8,
    /// `PathRevolutions`: (revolutions − 1) / 0.015.
    pub path_revolutions: u8,
    /// `PathSkew`: skew × 100.
    pub path_skew: i8,
    /// `ProfileBegin`: begin cut × 50000.
    pub profile_begin: u16,
    /// `ProfileEnd`: 50000 − end cut × 50000.
    pub profile_end: u16,
    /// `ProfileHollow`: hollow × 50000.
    pub profile_hollow: u16,
}

/// Quantum of the cut and hollow fields.
const CUT_QUANTUM: f32 = 2.0e-5;
/// Quantum of the scale, shear, twist, taper, radius-offset and skew fields.
const PATH_QUANTUM: f32 = 0.01;
/// Quantum of the revolutions field.
const REV_QUANTUM: f32 = 0.015;

fn signed(v: u8) -> f32 {
    f32::from(v.cast_signed()) * PATH_QUANTUM
}

impl PrimShape {
    /// Size on the wire in either order.
    pub const WIRE_LEN: usize = 23;

    /// A plain box: line path, square profile, nothing else set.
    pub const BOX: PrimShape = PrimShape::with_curves(0x10, 0x01);

    /// A shape with this `PathCurve` and `ProfileCurve`, path scale 1 × 1 (`100`) and every
    /// other parameter at its default: no cut, hollow, twist, taper, shear.
    pub const fn with_curves(path_curve: u8, profile_curve: u8) -> Self {
        PrimShape {
            path_curve,
            profile_curve,
            path_begin: 0,
            path_end: 0,
            path_scale_x: 100,
            path_scale_y: 100,
            path_shear_x: 0,
            path_shear_y: 0,
            path_twist: 0,
            path_twist_begin: 0,
            path_radius_offset: 0,
            path_taper_x: 0,
            path_taper_y: 0,
            path_revolutions: 0,
            path_skew: 0,
            profile_begin: 0,
            profile_end: 0,
            profile_hollow: 0,
        }
    }

    fn read_path(
        r: &mut Reader<'_>,
        path_curve: u8,
        profile_curve: u8,
    ) -> Result<Self, MessageError> {
        Ok(PrimShape {
            path_curve,
            profile_curve,
            path_begin: r.u16()?,
            path_end: r.u16()?,
            path_scale_x: r.u8()?,
            path_scale_y: r.u8()?,
            path_shear_x: r.u8()?,
            path_shear_y: r.u8()?,
            path_twist: r.i8()?,
            path_twist_begin: r.i8()?,
            path_radius_offset: r.i8()?,
            path_taper_x: r.i8()?,
            path_taper_y: r.i8()?,
            path_revolutions: r.u8()?,
            path_skew: r.i8()?,
            profile_begin: 0,
            profile_end: 0,
            profile_hollow: 0,
        })
    }

    fn read_profile_tail(mut self, r: &mut Reader<'_>) -> Result<Self, MessageError> {
        self.profile_begin = r.u16()?;
        self.profile_end = r.u16()?;
        self.profile_hollow = r.u16()?;
        Ok(self)
    }

    fn write_path(&self, w: &mut Writer<'_>) {
        w.u16(self.path_begin);
        w.u16(self.path_end);
        w.u8(self.path_scale_x);
        w.u8(self.path_scale_y);
        w.u8(self.path_shear_x);
        w.u8(self.path_shear_y);
        w.i8(self.path_twist);
        w.i8(self.path_twist_begin);
        w.i8(self.path_radius_offset);
        w.i8(self.path_taper_x);
        w.i8(self.path_taper_y);
        w.u8(self.path_revolutions);
        w.i8(self.path_skew);
    }

    /// Reads the `ObjectUpdate` order: `PathCurve`, `ProfileCurve`, path fields, profile fields.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn read_update(r: &mut Reader<'_>) -> Result<Self, MessageError> {
        let path_curve = r.u8()?;
        let profile_curve = r.u8()?;
        Self::read_path(r, path_curve, profile_curve)?.read_profile_tail(r)
    }

    /// Writes the `ObjectUpdate` order.
    pub fn write_update(&self, w: &mut Writer<'_>) {
        w.u8(self.path_curve);
        w.u8(self.profile_curve);
        self.write_path(w);
        w.u16(self.profile_begin);
        w.u16(self.profile_end);
        w.u16(self.profile_hollow);
    }

    /// Reads the `ObjectUpdateCompressed` order: `PathCurve`, path fields, `ProfileCurve`,
    /// profile fields.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn read_compressed(r: &mut Reader<'_>) -> Result<Self, MessageError> {
        let path_curve = r.u8()?;
        let mut shape = Self::read_path(r, path_curve, 0)?;
        shape.profile_curve = r.u8()?;
        shape.read_profile_tail(r)
    }

    /// Writes the `ObjectUpdateCompressed` order.
    pub fn write_compressed(&self, w: &mut Writer<'_>) {
        w.u8(self.path_curve);
        self.write_path(w);
        w.u8(self.profile_curve);
        w.u16(self.profile_begin);
        w.u16(self.profile_end);
        w.u16(self.profile_hollow);
    }

    /// The path curve.
    pub fn path(&self) -> PathCurve {
        PathCurve::from(self.path_curve)
    }

    /// The profile (cross-section) curve.
    pub fn profile(&self) -> ProfileCurve {
        ProfileCurve::from(self.profile_curve)
    }

    /// The hollow's shape.
    pub fn hole(&self) -> HoleType {
        HoleType::from(self.profile_curve)
    }

    /// Path begin cut in `[0, 1]` (0 = uncut).
    pub fn path_begin_cut(&self) -> f32 {
        f32::from(self.path_begin) * CUT_QUANTUM
    }

    /// Path end cut in `[0, 1]` (1 = uncut; the wire value 0 means 1).
    pub fn path_end_cut(&self) -> f32 {
        (50000.0 - f32::from(self.path_end)) * CUT_QUANTUM
    }

    /// Profile begin cut in `[0, 1]`.
    pub fn profile_begin_cut(&self) -> f32 {
        f32::from(self.profile_begin) * CUT_QUANTUM
    }

    /// Profile end cut in `[0, 1]` (1 = uncut).
    pub fn profile_end_cut(&self) -> f32 {
        (50000.0 - f32::from(self.profile_end)) * CUT_QUANTUM
    }

    /// Hollow fraction in `[0, 0.99]`.
    pub fn hollow(&self) -> f32 {
        f32::from(self.profile_hollow) * CUT_QUANTUM
    }

    /// Path scale (x, y): 1.0 is untapered; for circular paths it is the hole size.
    pub fn scale(&self) -> (f32, f32) {
        let s = |v: u8| (200.0 - f32::from(v)) * PATH_QUANTUM;
        (s(self.path_scale_x), s(self.path_scale_y))
    }

    /// Top shear (x, y) in `[-0.5, 0.5]`.
    pub fn shear(&self) -> (f32, f32) {
        (signed(self.path_shear_x), signed(self.path_shear_y))
    }

    /// End twist in `[-1, 1]` (× 180° for linear paths, × 360° for circular ones).
    pub fn twist(&self) -> f32 {
        f32::from(self.path_twist) * PATH_QUANTUM
    }

    /// Begin twist in `[-1, 1]`.
    pub fn twist_begin(&self) -> f32 {
        f32::from(self.path_twist_begin) * PATH_QUANTUM
    }

    /// Radius offset in `[-1, 1]`.
    pub fn radius_offset(&self) -> f32 {
        f32::from(self.path_radius_offset) * PATH_QUANTUM
    }

    /// Taper (x, y) in `[-1, 1]` (circular paths; linear paths taper through [`Self::scale`]).
    pub fn taper(&self) -> (f32, f32) {
        let t = |v: i8| f32::from(v) * PATH_QUANTUM;
        (t(self.path_taper_x), t(self.path_taper_y))
    }

    /// Revolutions in `[1, 4]`.
    pub fn revolutions(&self) -> f32 {
        1.0 + f32::from(self.path_revolutions) * REV_QUANTUM
    }

    /// Skew in `[-1, 1]`.
    pub fn skew(&self) -> f32 {
        f32::from(self.path_skew) * PATH_QUANTUM
    }

    /// True when the path is a line (or flexible, drawn as a line).
    pub fn is_linear(&self) -> bool {
        matches!(self.path(), PathCurve::Line | PathCurve::Flexible)
    }

    /// Classifies the shape (PROTOCOL §3.16; captures win: a circle2 path with a half-circle
    /// profile is the sphere that SLV builds, too).
    pub fn kind(&self) -> ShapeKind {
        use ProfileCurve as P;
        if self.is_linear() {
            return match self.profile() {
                P::Square => ShapeKind::Box,
                P::Circle => ShapeKind::Cylinder,
                P::HalfCircle => ShapeKind::HalfCylinder,
                P::IsoTriangle | P::EquilateralTriangle | P::RightTriangle => ShapeKind::Prism,
                P::Unknown(_) => ShapeKind::Other,
            };
        }
        match (self.path(), self.profile()) {
            (PathCurve::Circle, P::HalfCircle) => ShapeKind::Sphere,
            (PathCurve::Circle, P::Circle) if self.scale().1 > 0.75 => ShapeKind::Sphere,
            (PathCurve::Circle, P::Circle) => ShapeKind::Torus,
            (PathCurve::Circle, P::Square) => ShapeKind::Tube,
            (PathCurve::Circle, P::EquilateralTriangle) => ShapeKind::Ring,
            (PathCurve::Circle2, P::Circle | P::HalfCircle) => ShapeKind::Sphere,
            _ => ShapeKind::Other,
        }
    }

    /// True when the profile is hollowed.
    pub fn is_hollow(&self) -> bool {
        self.profile_hollow != 0
    }

    /// True when the path or the profile is cut (or dimpled).
    pub fn is_cut(&self) -> bool {
        self.path_begin != 0
            || self.path_end != 0
            || self.profile_begin != 0
            || self.profile_end != 0
    }

    /// True when either end is twisted.
    pub fn is_twisted(&self) -> bool {
        self.path_twist != 0 || self.path_twist_begin != 0
    }

    /// True when the shape is tapered: taper fields on any path, or a path scale other than 1 on
    /// a linear path (on circular paths the scale is the hole size, not a taper).
    pub fn is_tapered(&self) -> bool {
        self.path_taper_x != 0
            || self.path_taper_y != 0
            || (self.is_linear() && (self.path_scale_x != 100 || self.path_scale_y != 100))
    }

    /// True when the top is sheared.
    pub fn is_sheared(&self) -> bool {
        self.path_shear_x != 0 || self.path_shear_y != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_hex(hex: &str) -> Vec<u8> {
        crate::capture::decode_hex(hex).unwrap()
    }

    #[test]
    fn two_wire_orders() {
        // The captured torus (taper 0.5, 2 revolutions, radius offset 0.2, skew 0.1), compressed
        // order, and the same prim in ObjectUpdate order.
        let compressed = from_hex("200000000064af00000000143200430a00000000000000");
        let update = from_hex("20000000000064af00000000143200430a000000000000");
        let a = PrimShape::read_compressed(&mut Reader::new(&compressed)).unwrap();
        let b = PrimShape::read_update(&mut Reader::new(&update)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.kind(), ShapeKind::Torus);
        assert_eq!(a.scale(), (1.0, 0.25));
        assert!((a.radius_offset() - 0.2).abs() < 1e-6);
        assert!((a.taper().0 - 0.5).abs() < 1e-6);
        assert!((a.revolutions() - 2.005).abs() < 1e-5);
        assert!((a.skew() - 0.1).abs() < 1e-6);
        let mut buf = [0xAAu8; 23];
        let mut w = Writer::new(&mut buf);
        a.write_compressed(&mut w);
        assert_eq!(w.finish().unwrap(), 23);
        assert_eq!(buf.as_slice(), compressed.as_slice());
        let mut w = Writer::new(&mut buf);
        a.write_update(&mut w);
        assert_eq!(w.finish().unwrap(), 23);
        assert_eq!(buf.as_slice(), update.as_slice());
    }

    #[test]
    fn dequantises_cuts_hollow_shear_twist() {
        let s = PrimShape {
            path_curve: 0x10,
            profile_curve: 0x21,
            path_begin: 10000,
            path_end: 10000,
            path_scale_x: 150,
            path_scale_y: 200,
            path_shear_x: 25,
            path_shear_y: 0xE7,
            path_twist: 50,
            path_twist_begin: -50,
            profile_begin: 12500,
            profile_end: 12500,
            profile_hollow: 25000,
            ..PrimShape::default()
        };
        assert!((s.path_begin_cut() - 0.2).abs() < 1e-6);
        assert!((s.path_end_cut() - 0.8).abs() < 1e-6);
        assert!((s.profile_begin_cut() - 0.25).abs() < 1e-6);
        assert!((s.profile_end_cut() - 0.75).abs() < 1e-6);
        assert!((s.hollow() - 0.5).abs() < 1e-6);
        assert_eq!(s.scale(), (0.5, 0.0));
        assert_eq!(s.shear(), (0.25, -0.25));
        assert_eq!((s.twist(), s.twist_begin()), (0.5, -0.5));
        assert_eq!(s.revolutions(), 1.0);
        assert_eq!(s.hole(), HoleType::Square);
        assert_eq!(s.kind(), ShapeKind::Box);
        assert!(s.is_cut() && s.is_hollow() && s.is_twisted() && s.is_tapered() && s.is_sheared());
        assert!(!PrimShape::default().is_cut());
        assert_eq!(PrimShape::default().kind(), ShapeKind::Other);
    }

    #[test]
    fn classifies_per_protocol_table() {
        let k = |path: u8, profile: u8, scale_y: u8| {
            PrimShape {
                path_scale_y: scale_y,
                ..PrimShape::with_curves(path, profile)
            }
            .kind()
        };
        assert_eq!(k(0x10, 0x01, 100), ShapeKind::Box);
        assert_eq!(k(0x80, 0x01, 100), ShapeKind::Box);
        assert_eq!(k(0x10, 0x00, 100), ShapeKind::Cylinder);
        assert_eq!(k(0x10, 0x20, 100), ShapeKind::Cylinder);
        assert_eq!(k(0x10, 0x05, 100), ShapeKind::HalfCylinder);
        for tri in [2, 3, 4, 0x13] {
            assert_eq!(k(0x10, tri, 100), ShapeKind::Prism);
        }
        assert_eq!(k(0x20, 0x05, 100), ShapeKind::Sphere);
        assert_eq!(k(0x20, 0x00, 175), ShapeKind::Torus);
        assert_eq!(k(0x20, 0x00, 100), ShapeKind::Sphere);
        assert_eq!(k(0x20, 0x01, 175), ShapeKind::Tube);
        assert_eq!(k(0x20, 0x31, 175), ShapeKind::Tube);
        assert_eq!(k(0x20, 0x03, 175), ShapeKind::Ring);
        assert_eq!(k(0x20, 0x02, 175), ShapeKind::Other);
        assert_eq!(k(0x30, 0x05, 100), ShapeKind::Sphere);
        assert_eq!(k(0x30, 0x00, 100), ShapeKind::Sphere);
        assert_eq!(k(0x30, 0x01, 100), ShapeKind::Other);
        assert_eq!(k(0x40, 0x01, 100), ShapeKind::Other);
        assert_eq!(k(0x10, 0x0F, 100), ShapeKind::Other);
    }

    #[test]
    fn rejects_truncated_shape() {
        let bytes = [0x10u8; 23];
        for n in 0..23 {
            assert_eq!(
                PrimShape::read_update(&mut Reader::new(&bytes[..n])),
                Err(MessageError::Truncated)
            );
            assert_eq!(
                PrimShape::read_compressed(&mut Reader::new(&bytes[..n])),
                Err(MessageError::Truncated)
            );
        }
    }
}
