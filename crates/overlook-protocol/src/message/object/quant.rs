//! Fixed-point quantisation used by the object messages (PROTOCOL §3.10; SLV
//! `indra/llmath/llquantize.h`).
//!
//! [`u16_to_f32`] maps `0..=65535` linearly onto `[lower, upper]` and snaps values closer to zero
//! than one quantisation step to exactly `0.0` (so OpenSim's `0x7FFF` "zero" decodes as zero);
//! [`f32_to_u16`] is its inverse with clamping and round-to-nearest. Neither panics: NaN encodes as
//! the code for `0.0` (clamped into range), and a degenerate range saturates.

/// Decodes a U16-quantised value in `[lower, upper]`, snapping |v| < one step to `0.0`.
pub fn u16_to_f32(value: u16, lower: f32, upper: f32) -> f32 {
    let delta = upper - lower;
    let v = f32::from(value) / 65535.0 * delta + lower;
    let step = delta / 65535.0;
    if v.abs() < step { 0.0 } else { v }
}

/// Encodes `value` as U16 in `[lower, upper]` (clamped, rounded to nearest).
///
/// NaN is treated as `0.0`. A range with `upper <= lower` yields `0`.
pub fn f32_to_u16(value: f32, lower: f32, upper: f32) -> u16 {
    let delta = upper - lower;
    if delta.is_nan() || delta <= 0.0 {
        return 0;
    }
    let v = if value.is_nan() { 0.0 } else { value };
    let v = v.max(lower).min(upper);
    saturating_u16(((v - lower) / delta * 65535.0 + 0.5).floor())
}

/// Converts a float already rounded to an integer value to `u16`, saturating at both ends.
// A float → int `as` cast saturates (and maps NaN to 0) since Rust 1.45; that is exactly the
// behaviour wanted here, and no lossless `From`/`TryFrom` exists for floats.
#[allow(clippy::as_conversions)]
fn saturating_u16(v: f32) -> u16 {
    v as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opensim_zero_snaps_to_zero() {
        // OpenSim truncates (0 + 128) / 256 * 65535 = 32767.5 to 0x7FFF.
        assert_eq!(u16_to_f32(0x7FFF, -128.0, 128.0), 0.0);
        assert_eq!(u16_to_f32(0x8000, -128.0, 128.0), 0.0);
        assert_eq!(u16_to_f32(0x7FFF, -1.0, 1.0), 0.0);
        assert_eq!(u16_to_f32(0xFFFF, -1.0, 1.0), 1.0);
        assert_eq!(u16_to_f32(0, -64.0, 64.0), -64.0);
    }

    #[test]
    fn encode_clamps_and_rounds() {
        assert_eq!(f32_to_u16(1.0, -1.0, 1.0), 0xFFFF);
        assert_eq!(f32_to_u16(5.0, -1.0, 1.0), 0xFFFF);
        assert_eq!(f32_to_u16(-5.0, -1.0, 1.0), 0);
        assert_eq!(f32_to_u16(f32::NAN, -1.0, 1.0), 0x8000);
        assert_eq!(f32_to_u16(f32::INFINITY, -64.0, 64.0), 0xFFFF);
        assert_eq!(f32_to_u16(1.0, 1.0, 1.0), 0);
        assert_eq!(f32_to_u16(1.0, f32::NAN, 1.0), 0);
        assert_eq!(
            u16_to_f32(f32_to_u16(0.0, -128.0, 128.0), -128.0, 128.0),
            0.0
        );
    }

    #[test]
    fn roundtrip_within_one_step() {
        for (lo, hi) in [(-128.0f32, 128.0f32), (-64.0, 64.0), (-1.0, 1.0)] {
            let step = (hi - lo) / 65535.0;
            let mut v = lo;
            while v <= hi {
                let back = u16_to_f32(f32_to_u16(v, lo, hi), lo, hi);
                assert!((back - v).abs() <= step, "{v} -> {back} in [{lo}, {hi}]");
                v += 0.37;
            }
        }
    }
}
