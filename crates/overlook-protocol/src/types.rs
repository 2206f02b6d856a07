//! Plain value types shared by the protocol layer: UUIDs, vectors and quaternions.
//!
//! Wire encodings (PROTOCOL §2.9): a UUID is 16 raw bytes in textual order; vectors are
//! little-endian `f32`s; a quaternion travels as its x, y, z of a normalised value with `w ≥ 0`
//! recovered on read.

use core::fmt;
use core::str::FromStr;

/// A 128-bit UUID as it travels on the wire: 16 bytes in textual order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID.
    pub const NIL: Uuid = Uuid([0; 16]);

    /// True for the all-zero UUID.
    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The text was not a UUID in the 8-4-4-4-12 hex form (or 32 bare hex digits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid uuid")]
pub struct UuidParseError;

impl FromStr for Uuid {
    type Err = UuidParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut out = [0u8; 16];
        let mut n = 0usize;
        let mut hi: Option<u8> = None;
        for (i, c) in s.chars().enumerate() {
            if c == '-' {
                if !matches!(i, 8 | 13 | 18 | 23) || s.len() != 36 {
                    return Err(UuidParseError);
                }
                continue;
            }
            let v = c.to_digit(16).ok_or(UuidParseError)?;
            let v = u8::try_from(v).map_err(|_| UuidParseError)?;
            match hi.take() {
                None => hi = Some(v),
                Some(h) => {
                    let slot = out.get_mut(n).ok_or(UuidParseError)?;
                    *slot = (h << 4) | v;
                    n += 1;
                }
            }
        }
        if n == 16 && hi.is_none() {
            Ok(Uuid(out))
        } else {
            Err(UuidParseError)
        }
    }
}

/// A 3-component `f32` vector (`LLVector3`).
#[derive(Clone, Copy, PartialEq, Default, Debug)]
pub struct Vec3 {
    /// East.
    pub x: f32,
    /// North.
    pub y: f32,
    /// Up.
    pub z: f32,
}

impl Vec3 {
    /// The zero vector.
    pub const ZERO: Vec3 = Vec3::new(0.0, 0.0, 0.0);

    /// Builds a vector from its components.
    pub const fn new(x: f32, y: f32, z: f32) -> Self {
        Vec3 { x, y, z }
    }
}

impl fmt::Display for Vec3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}, {}, {}>", self.x, self.y, self.z)
    }
}

/// A 3-component `f64` vector (`LLVector3d`).
#[derive(Clone, Copy, PartialEq, Default, Debug)]
pub struct Vec3d {
    /// East.
    pub x: f64,
    /// North.
    pub y: f64,
    /// Up.
    pub z: f64,
}

/// A 4-component `f32` vector (`LLVector4`), e.g. an avatar's collision plane.
#[derive(Clone, Copy, PartialEq, Default, Debug)]
pub struct Vec4 {
    /// First component.
    pub x: f32,
    /// Second component.
    pub y: f32,
    /// Third component.
    pub z: f32,
    /// Fourth component.
    pub w: f32,
}

/// A rotation quaternion (`LLQuaternion`).
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Quat {
    /// x (imaginary i).
    pub x: f32,
    /// y (imaginary j).
    pub y: f32,
    /// z (imaginary k).
    pub z: f32,
    /// w (real part).
    pub w: f32,
}

impl Default for Quat {
    fn default() -> Self {
        Quat::IDENTITY
    }
}

impl Quat {
    /// The identity rotation.
    pub const IDENTITY: Quat = Quat {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        w: 1.0,
    };

    /// Rebuilds a quaternion from the x, y, z that travel on the wire: `w = √max(0, 1−x²−y²−z²)`.
    pub fn from_xyz(x: f32, y: f32, z: f32) -> Self {
        let w = (1.0 - x * x - y * y - z * z).max(0.0).sqrt();
        Quat { x, y, z, w }
    }

    /// The x, y, z to put on the wire: normalised, signs flipped so that `w ≥ 0`.
    pub fn to_wire_xyz(self) -> [f32; 3] {
        let n = (self.x * self.x + self.y * self.y + self.z * self.z + self.w * self.w).sqrt();
        let (n, s) = if n > 0.0 && n.is_finite() {
            (n, if self.w < 0.0 { -1.0 } else { 1.0 })
        } else {
            return [0.0; 3];
        };
        // Already unit length (as every quaternion read off the wire is, up to rounding): keep
        // the components bit for bit so parse → emit reproduces the original bytes.
        let n = if (n - 1.0).abs() <= 1e-5 { 1.0 } else { n };
        [s * self.x / n, s * self.y / n, s * self.z / n]
    }

    /// A rotation of `angle` radians about the vertical (z) axis.
    pub fn from_yaw(angle: f32) -> Self {
        let (s, c) = (angle * 0.5).sin_cos();
        Quat {
            x: 0.0,
            y: 0.0,
            z: s,
            w: c,
        }
    }
}

/// `f64 → f32`, rounding to nearest (values beyond `f32`'s range become ±∞, NaN stays NaN): the
/// one float narrowing of the protocol and the embedded region (wire fields are `f32`, clocks and
/// geometry are computed in `f64`).
#[allow(clippy::as_conversions)]
pub fn f32_from_f64(v: f64) -> f32 {
    v as f32
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn uuid_roundtrip_text() {
        let s = "7c0ffee0-0000-4000-8000-000000000001";
        let u: Uuid = s.parse().unwrap();
        assert_eq!(u.0[0], 0x7c);
        assert_eq!(u.0[15], 0x01);
        assert_eq!(u.to_string(), s);
        let bare: Uuid = "7c0ffee000004000800000000000000 1"
            .replace(' ', "")
            .parse()
            .unwrap();
        assert_eq!(bare, u);
    }

    #[test]
    fn uuid_rejects_bad_text() {
        for bad in [
            "",
            "xyz",
            "7c0ffee0-0000-4000-8000-00000000000",
            "7c0ffee0-0000-4000-8000-0000000000011",
            "7c0ffee00-000-4000-8000-000000000001",
        ] {
            assert!(bad.parse::<Uuid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn quat_wire_roundtrip() {
        let q = Quat::from_yaw(1.0);
        let [x, y, z] = q.to_wire_xyz();
        let back = Quat::from_xyz(x, y, z);
        assert!((back.w - q.w).abs() < 1e-6);
        let neg = Quat {
            x: 0.1,
            y: 0.2,
            z: 0.3,
            w: -0.9,
        };
        let [x, _, _] = neg.to_wire_xyz();
        assert!(x < 0.0);
    }
}
