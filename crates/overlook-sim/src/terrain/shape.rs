//! The procedural island's shape: OpenSim's default radial profile, seeded value noise and the
//! beach remap, evaluated per sample in `f64` (deterministic for a given seed and size).
//!
//! OpenSim's default terrain (`TerrainChannel` "pinhead island") is
//! `max(25 − 0.01·r², 10 − 0.001·r², 0)` with `r` the distance in metres from the region centre;
//! the captured Test Region's `.r32` has exactly this profile away from its console edits.

use overlook_protocol::types::f32_from_f64;

pub(crate) use crate::mix::splitmix64;

/// Noise cell sizes (metres) and their amplitudes (sum 1).
const OCTAVES: [(u32, f64); 3] = [(64, 0.57), (32, 0.29), (16, 0.14)];
/// Largest noise amplitude, metres.
const NOISE_AMPLITUDE: f64 = 1.5;
/// Scaled radius where noise starts to fade in, and where it is at full strength.
const NOISE_FADE: (f64, f64) = (20.0, 40.0);
/// The band of heights remapped into a beach: start and width, metres.
const BEACH: (f64, f64) = (19.2, 2.4);
/// How much the beach flattens the slope at its middle (slope × (1 − 2·β)).
const BEACH_FLATTEN: f64 = 0.4;

/// The island for one region size and seed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Island {
    seed: u64,
    centre: (f64, f64),
    /// Metres of this region per metre of OpenSim's 256 m profile.
    scale: f64,
}

impl Island {
    /// The island of a `size_x` × `size_y` region.
    pub(super) fn new(size_x: u32, size_y: u32, seed: u64) -> Self {
        let side = f64::from(size_x.min(size_y).max(1));
        Island {
            seed,
            centre: (f64::from(size_x) / 2.0, f64::from(size_y) / 2.0),
            scale: side / 256.0,
        }
    }

    /// The height of sample `(x, y)`.
    pub(super) fn height(&self, x: u32, y: u32) -> f32 {
        let dx = f64::from(x) - self.centre.0;
        let dy = f64::from(y) - self.centre.1;
        let u = (dx * dx + dy * dy).sqrt() / self.scale;
        let base = profile(u);
        let weight = NOISE_AMPLITUDE * smoothstep(NOISE_FADE.0, NOISE_FADE.1, u);
        let h = if weight > 0.0 {
            base + weight * fbm(self.seed, x, y)
        } else {
            base
        };
        f32_from_f64(beach(h))
    }
}

/// OpenSim's default island at `u` metres from the centre, with its two creases (where the cone
/// meets the shelf, ~39 m out, and where the shelf meets the floor, 100 m out) rounded over
/// 2 m of height so the DCT codec reproduces them closely.
pub(super) fn profile(u: f64) -> f64 {
    let u2 = u * u;
    smooth_max(
        smooth_max(25.0 - 0.01 * u2, 10.0 - 0.001 * u2, CREASE),
        0.0,
        CREASE,
    )
}

/// Height over which the profile's creases are rounded, metres.
const CREASE: f64 = 2.0;

/// `max(a, b)`, blended quadratically where the two are within `k` of each other (exactly the
/// maximum elsewhere).
fn smooth_max(a: f64, b: f64, k: f64) -> f64 {
    let h = (k - (a - b).abs()).max(0.0) / k;
    a.max(b) + h * h * k / 4.0
}

/// Hermite smoothstep of `v` between `a` and `b`.
fn smoothstep(a: f64, b: f64, v: f64) -> f64 {
    let t = ((v - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Remaps heights in the beach band to a gentler slope at its middle; monotonic, continuous in
/// value and slope, the identity outside the band.
pub(super) fn beach(h: f64) -> f64 {
    let (start, width) = BEACH;
    let t = (h - start) / width;
    if !(0.0..=1.0).contains(&t) {
        return h;
    }
    use core::f64::consts::TAU;
    // g(t) = t + β (sin 2πt / 2π − sin 4πt / 4π): g(0)=0, g(1)=1, g'(0)=g'(1)=1, g'(½)=1−2β.
    let g = t + BEACH_FLATTEN * ((TAU * t).sin() / TAU - (2.0 * TAU * t).sin() / (2.0 * TAU));
    start + width * g
}

/// Fractal value noise in about `[-1, 1]` at sample `(x, y)`.
fn fbm(seed: u64, x: u32, y: u32) -> f64 {
    OCTAVES
        .iter()
        .zip(0u64..)
        .map(|(&(cell, amplitude), octave)| amplitude * value_noise(seed ^ octave, x, y, cell))
        .sum()
}

/// Value noise in `[-1, 1]`: random values at the corners of `cell`-metre squares, blended with
/// a quintic fade. Integer lattice arithmetic, so no float-to-int conversions.
fn value_noise(seed: u64, x: u32, y: u32, cell: u32) -> f64 {
    let cell = cell.max(1);
    let (ix, iy) = (x / cell, y / cell);
    let fade = |r: u32| {
        let t = f64::from(r) / f64::from(cell);
        t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
    };
    let (tx, ty) = (fade(x % cell), fade(y % cell));
    let corner = |cx: u32, cy: u32| lattice(seed, cell, cx, cy);
    let south = lerp(corner(ix, iy), corner(ix + 1, iy), tx);
    let north = lerp(corner(ix, iy + 1), corner(ix + 1, iy + 1), tx);
    lerp(south, north, ty)
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

/// The random value in `[-1, 1]` of lattice point `(cx, cy)`.
fn lattice(seed: u64, cell: u32, cx: u32, cy: u32) -> f64 {
    let key = (u64::from(cx) << 32 | u64::from(cy)) ^ u64::from(cell).rotate_left(48);
    let bits = splitmix64(splitmix64(seed) ^ key);
    // The top 21 bits as a fraction in [0, 1).
    let unit = f64::from(u32::try_from(bits >> 43).unwrap_or(0)) / f64::from(1u32 << 21);
    unit * 2.0 - 1.0
}

/// `u32 → f32`, exact for every value below 2²⁴ (all region coordinates).
#[allow(clippy::as_conversions)]
pub(crate) fn f32_of(v: u32) -> f32 {
    v as f32
}

/// `floor(v)` as `u32`: negative and NaN give 0, values past `u32::MAX` saturate (Rust's
/// float-to-int `as` semantics).
#[allow(clippy::as_conversions)]
pub(crate) fn floor_u32(v: f32) -> u32 {
    v.floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_matches_opensim_default_island() {
        // Heights of the captured Test Region's .r32 along a radius from (128, 128).
        for (r, want) in [
            (0.0, 25.0),
            (20.0, 21.0),
            (30.0, 16.0),
            (50.0, 7.5),
            (120.0, 0.0),
        ] {
            assert!((profile(r) - want).abs() < 1e-9, "{r}");
        }
        // Near the creases the rounding lifts the profile by at most k/4 = 0.5 m.
        for (r, crease) in [(40.0, 9.0), (44.0, 8.064), (100.0, 0.0)] {
            let lift = profile(r) - crease;
            assert!((0.0..=0.5).contains(&lift), "{r}: {lift}");
        }
    }

    #[test]
    fn beach_is_monotonic_continuous_and_flatter_at_its_middle() {
        let (start, width) = BEACH;
        assert_eq!(beach(start - 0.5), start - 0.5);
        assert_eq!(beach(start + width + 0.5), start + width + 0.5);
        assert!((beach(start) - start).abs() < 1e-12);
        assert!((beach(start + width) - (start + width)).abs() < 1e-12);
        let mut last = f64::MIN;
        for i in 0..=1000 {
            let h = start - 0.1 + f64::from(i) * (width + 0.2) / 1000.0;
            let b = beach(h);
            assert!(b > last, "not increasing at {h}");
            last = b;
        }
        let slope = |h: f64| (beach(h + 1e-4) - beach(h - 1e-4)) / 2e-4;
        assert!((slope(start + width / 2.0) - (1.0 - 2.0 * BEACH_FLATTEN)).abs() < 1e-3);
        assert!((slope(start) - 1.0).abs() < 1e-3 && (slope(start + width) - 1.0).abs() < 1e-3);
    }

    #[test]
    fn noise_is_bounded_seeded_and_continuous() {
        let mut differs = 0;
        for y in (0..300).step_by(7) {
            for x in (0..300).step_by(5) {
                let n = fbm(1, x, y);
                assert!((-1.0..=1.0).contains(&n), "{n}");
                assert_eq!(n, fbm(1, x, y));
                if (n - fbm(2, x, y)).abs() > 1e-6 {
                    differs += 1;
                }
                // Neighbouring samples differ by little: smooth enough for the DCT codec.
                assert!((fbm(1, x + 1, y) - n).abs() < 0.1);
            }
        }
        assert!(differs > 1000, "{differs}");
    }

    #[test]
    fn conversions_saturate() {
        assert_eq!(floor_u32(-3.5), 0);
        assert_eq!(floor_u32(f32::NAN), 0);
        assert_eq!(floor_u32(7.9), 7);
        assert_eq!(f32_of(4096), 4096.0);
        assert_eq!(f32_from_f64(0.5), 0.5);
    }
}
