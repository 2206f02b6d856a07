//! The encoder: 16×16 heights to a LayerData patch, the way OpenSim does it.
//!
//! Spec: `shared/PROTOCOL.md` §4.7 (zmin/zmax, the flat-patch shortcut, prequant 10, forward DCT,
//! word size, clamping, coefficient codes), with the §4.4 header and §4.5 codes of [`super::patch`].
//!
//! Guarantees: no panics and no allocation beyond the writer's buffer, for any heights.
//! [`encode_patch`] follows §4.7 exactly; [`encode_patch_with`] and [`Prescan::OpenSim0922`]
//! reproduce OpenSim 0.9.2.2's bytes exactly (every land patch and packet of the captures in
//! `shared/captures/opensim-0.9.2.2/` re-encodes byte for byte).

use super::PATCH_SAMPLES;
use super::bits::BitWriter;
use super::dct::{forward_dct_quantise, trunc_to_i32};
use super::patch::{PatchHeader, pow2, prequant_i32};

/// OpenSim's `prequant` for real (non-flat) patches: quant byte high nibble 8.
const OPENSIM_PREQUANT: u32 = 10;

/// Smallest word size OpenSim starts its search from (`prequant / 2`).
const OPENSIM_MIN_WBITS: u32 = OPENSIM_PREQUANT / 2;

/// Largest word size the quant byte can express (low nibble 15 + 2).
const MAX_WBITS: u32 = 17;

/// How the encoder finds a patch's lowest and highest height (OpenSim `PrescanPatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prescan {
    /// The true minimum and maximum of the 256 heights (§4.7 step 1). Use this.
    #[default]
    Exact,
    /// OpenSim 0.9.2.2's scan, reproduced to match its packets bit for bit: it walks the patch
    /// column by column (x outer, y inner) starting from `zmin = 99999999, zmax = −99999999` and
    /// tests `if h > zmax {..} else if h < zmin {..}`, so a sample that raises the running
    /// maximum is never considered for the minimum. Heights rising from the south-west corner
    /// are therefore skipped, `dc_offset` can exceed the true minimum, and a patch that is flat
    /// but for a lower south-west corner is sent as flat.
    OpenSim0922,
}

impl Prescan {
    /// `(zmin, zmax)` of a patch as this scan sees it.
    fn scan(self, heights: &[f32; 256]) -> (f32, f32) {
        match self {
            Self::Exact => heights.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &h| {
                (if h < lo { h } else { lo }, if h > hi { h } else { hi })
            }),
            Self::OpenSim0922 => {
                let (mut zmin, mut zmax) = (99_999_999.0f32, -99_999_999.0f32);
                for col in 0..16 {
                    for h in heights.iter().skip(col).step_by(16) {
                        if *h > zmax {
                            zmax = *h;
                        } else if *h < zmin {
                            zmin = *h;
                        }
                    }
                }
                (zmin, zmax)
            }
        }
    }
}

/// Encodes one patch the way OpenSim does (§4.7): header, coefficient codes, end of block.
///
/// `heights` is indexed `row * 16 + col` (row = north); `(x, y)` is the patch position, which
/// must fit the id width (x, y < 32 for 10-bit ids, < 65536 for `extended` 32-bit ids; extra
/// bits are dropped). A patch whose heights span less than about 0.005 m takes OpenSim's flat
/// shortcut (`q = 0`, range 1, `dc = zmin − 0.5`, no coefficients) and decodes to `zmin`
/// (exactly, whenever `zmin − 0.5` is representable, e.g. for whole and half metres).
/// Otherwise prequant is 10, the word size is the smallest of 5..=17 bits that holds every
/// coefficient, and magnitudes are clamped to `2^wbits − 1`.
///
/// Heights should be finite; NaN or infinite heights produce a patch that decodes to garbage,
/// without panicking. Same as [`encode_patch_with`] and [`Prescan::Exact`].
pub fn encode_patch(w: &mut BitWriter, heights: &[f32; 256], x: u32, y: u32, extended: bool) {
    encode_patch_with(w, heights, x, y, extended, Prescan::Exact);
}

/// [`encode_patch`] with a choice of how the height range is found; [`Prescan::OpenSim0922`]
/// reproduces OpenSim 0.9.2.2's output exactly.
pub fn encode_patch_with(
    w: &mut BitWriter,
    heights: &[f32; 256],
    x: u32,
    y: u32,
    extended: bool,
    prescan: Prescan,
) {
    let (zmin, zmax) = prescan.scan(heights);
    let frange = (zmax - zmin) + 1.0;

    if is_flat(frange) {
        let header = PatchHeader {
            quant_wbits: 0x00,
            dc_offset: zmin - 0.5,
            range: 1,
            x,
            y,
        };
        header.write(w, extended);
        w.write_bits(0b10, 2);
        return;
    }

    // OpenSim `CompressPatch` works with an `int` range and sends its low 16 bits. The exact
    // scan clamps it into 1..=65535 (it only leaves that for spans over 65 km or non-finite
    // heights), so the scaling and the header agree; OpenSim's own scan keeps OpenSim's
    // arithmetic, including a negative range when it found no minimum.
    let range_i = match prescan {
        Prescan::Exact => trunc_to_i32(frange).clamp(1, i32::from(u16::MAX)),
        Prescan::OpenSim0922 => trunc_to_i32(frange),
    };
    let range = u16::try_from(range_i & 0xFFFF).unwrap_or(0);
    let range_f = i32_to_f32(range_i);
    let premult = (1.0 / range_f) * pow2(prequant_i32(OPENSIM_PREQUANT));
    let sub = 0.5 * range_f + zmin;
    let mut samples = [[0.0f32; 16]; 16];
    for (dst, src) in samples.as_flattened_mut().iter_mut().zip(heights.iter()) {
        *dst = (src - sub) * premult;
    }
    let coefs = forward_dct_quantise(&samples);

    let max_abs = coefs.iter().map(|q| q.unsigned_abs()).max().unwrap_or(0);
    let mut wbits = OPENSIM_MIN_WBITS;
    while wbits < MAX_WBITS && max_abs > (1u32 << wbits) {
        wbits += 1;
    }
    let header = PatchHeader {
        quant_wbits: quant_byte(OPENSIM_PREQUANT, wbits),
        dc_offset: zmin,
        range,
        x,
        y,
    };
    header.write(w, extended);

    // OpenSim `EncodePatch`: codes up to the last non-zero coefficient, then EOB unless that was
    // coefficient 255.
    let clamp = (1u32 << wbits) - 1;
    let used = coefs
        .iter()
        .rposition(|&q| q != 0)
        .map_or(0, |last| last + 1);
    for &q in coefs.iter().take(used) {
        if q == 0 {
            w.write_bit(false);
        } else {
            w.write_bits(if q < 0 { 0b111 } else { 0b110 }, 3);
            w.write_bits(q.unsigned_abs().min(clamp), wbits);
        }
    }
    if used < PATCH_SAMPLES {
        w.write_bits(0b10, 2);
    }
}

/// OpenSim's flat test: `Math.Round((double)frange, 2) == 1.0` (C# rounds half to even).
fn is_flat(frange: f32) -> bool {
    (f64::from(frange) * 100.0).round_ties_even() == 100.0
}

/// C#'s `(float)i`: rounds to the nearest `f32` (exact below 2^24); `as` never panics here.
#[allow(clippy::as_conversions)]
fn i32_to_f32(i: i32) -> f32 {
    i as f32
}

/// The quant byte `(prequant − 2) << 4 | (wbits − 2)`, both nibbles masked.
fn quant_byte(prequant: u32, wbits: u32) -> u8 {
    let hi = u8::try_from(prequant.saturating_sub(2) & 0x0F).unwrap_or(0);
    let lo = u8::try_from(wbits.saturating_sub(2) & 0x0F).unwrap_or(0);
    hi << 4 | lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terrain::bits::BitReader;
    use crate::terrain::patch::{DecodedPatch, decode_patch, read_coefficients};

    fn encode_one(heights: &[f32; 256], x: u32, y: u32, extended: bool) -> Vec<u8> {
        let mut w = BitWriter::new();
        encode_patch(&mut w, heights, x, y, extended);
        w.finish()
    }

    fn decode_one(bytes: &[u8], extended: bool) -> (PatchHeader, DecodedPatch) {
        let mut r = BitReader::new(bytes);
        let header = PatchHeader::read(&mut r, extended).unwrap().unwrap();
        let patch = decode_patch(&mut r, &header).unwrap();
        (header, patch)
    }

    /// A smooth, deterministic test surface: a tilted plane carrying a gentle wave (periods of
    /// 40 m or more, 15 % of the height), spanning about `span` metres above `base`.
    fn smooth_patch(seed: u32, base: f32, span: f32) -> [f32; 256] {
        let s = seed as f32;
        let (fx, fy) = (
            0.05 + (s * 0.37).fract() * 0.1,
            0.05 + (s * 0.71).fract() * 0.1,
        );
        let (px, py) = (s * 1.3, s * 0.9);
        let tilt = (s * 0.13).fract();
        let mut h = [0.0; 256];
        for (k, v) in h.iter_mut().enumerate() {
            let (row, col) = ((k / 16) as f32, (k % 16) as f32);
            let wave = 0.5 + 0.5 * (col * fx + px).sin() * (row * fy + py).cos();
            let plane = (col * tilt + row * (1.0 - tilt)) / 15.0;
            *v = base + span * (0.15 * wave + 0.85 * plane);
        }
        h
    }

    #[test]
    fn flat_patch_is_exact_and_uses_shortcut() {
        let cases = [
            (21.0f32, 3, 7, false),
            (-4.25, 0, 31, false),
            (0.0, 500, 2, true),
            (20.0, 9, 9, false),
        ];
        for (z, x, y, ext) in cases {
            let bytes = encode_one(&[z; 256], x, y, ext);
            let (header, patch) = decode_one(&bytes, ext);
            assert_eq!(header.quant_wbits, 0);
            assert_eq!(header.range, 1);
            assert_eq!(header.dc_offset, z - 0.5);
            assert_eq!((patch.x, patch.y), (x, y));
            assert!(
                patch.heights.iter().all(|&h| h == z),
                "{z}: {:?}",
                &patch.heights[..4]
            );
        }
        // 0.1 − 0.5 is not exact in f32: the decoder returns 0.1 within one ulp.
        let (_, patch) = decode_one(&encode_one(&[0.1; 256], 1, 1, false), false);
        assert!(
            patch
                .heights
                .iter()
                .all(|&h| (h - 0.1).abs() <= f32::EPSILON)
        );
        // Nearly flat (span 0.004 m) still takes the shortcut; 0.01 m does not.
        let mut h = [5.0f32; 256];
        h[17] = 5.004;
        assert_eq!(
            decode_one(&encode_one(&h, 1, 1, false), false)
                .0
                .quant_wbits,
            0
        );
        h[17] = 5.01;
        assert_eq!(
            decode_one(&encode_one(&h, 1, 1, false), false)
                .0
                .quant_wbits
                >> 4,
            8
        );
    }

    /// Encodes and decodes `heights`; returns (max error, range).
    fn roundtrip_error(heights: &[f32; 256], x: u32, y: u32, ext: bool) -> (f32, u16) {
        let (header, patch) = decode_one(&encode_one(heights, x, y, ext), ext);
        assert_eq!((patch.x, patch.y), (x, y));
        assert_eq!(header.prequant(), 10);
        let max_err = heights
            .iter()
            .zip(patch.heights.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        (max_err, header.range)
    }

    #[test]
    fn smooth_patches_roundtrip_within_quantisation_error() {
        // OpenSim's quantiser truncates (prequant 10, divisor 1 + 2(u + v)), which costs about
        // 1 % of a patch's range: within 0.25 m up to 20 m ranges, a little more beyond.
        let mut max_range = 0;
        for seed in 0..60u32 {
            let span = 0.5 + (seed as f32) * 0.5; // up to 30 m
            let heights = smooth_patch(seed, (seed as f32) * 3.0 - 40.0, span);
            for ext in [false, true] {
                let (x, y) = if ext {
                    (seed * 7 + 40, 255 - seed)
                } else {
                    (seed % 32, 31 - seed % 32)
                };
                let (err, range) = roundtrip_error(&heights, x, y, ext);
                let r = f32::from(range);
                assert!(
                    err <= 0.01 * r + 0.05,
                    "seed {seed}, range {range}: max error {err}"
                );
                assert!(
                    range > 20 || err < 0.25,
                    "seed {seed}, range {range}: max error {err}"
                );
                max_range = max_range.max(range);
            }
        }
        assert!(max_range >= 25, "ranges reach 25 m and more");
    }

    #[test]
    fn curved_patches_roundtrip_within_three_percent_of_range() {
        type Shape = fn(f32, f32, f32) -> f32;
        let shapes: [(&str, Shape); 3] = [
            ("wave", |c, r, s| {
                0.5 + 0.5 * (c * (0.05 + s * 0.004) + s).sin() * (r * 0.15 + s * 0.7).cos()
            }),
            ("hill", |c, r, s| {
                (-((c - 4.0 - s * 0.1).powi(2) + (r - 9.0).powi(2)) / 60.0).exp()
            }),
            ("bowl", |c, r, _| {
                ((c - 7.5).powi(2) + (r - 7.5).powi(2)) / 112.5
            }),
        ];
        for (name, shape) in shapes {
            for seed in 0..50u32 {
                for span in [5.0f32, 10.0, 20.0, 30.0] {
                    let heights: [f32; 256] = core::array::from_fn(|k| {
                        10.0 + span * shape((k % 16) as f32, (k / 16) as f32, seed as f32)
                    });
                    let (err, range) = roundtrip_error(&heights, 1, 2, false);
                    let bound = 0.03 * f32::from(range) + 0.02;
                    assert!(
                        err <= bound,
                        "{name} seed {seed} range {range}: max error {err}"
                    );
                }
            }
        }
    }

    fn coefficients(bytes: &[u8]) -> (PatchHeader, [i32; 256]) {
        let mut r = BitReader::new(bytes);
        let header = PatchHeader::read(&mut r, false).unwrap().unwrap();
        let mut coefs = [0; 256];
        read_coefficients(&mut r, header.wbits(), &mut coefs).unwrap();
        (header, coefs)
    }

    #[test]
    fn word_size_grows_with_the_coefficients() {
        // A vertical step of 60 m: large coefficients need more than the minimum 5 bits.
        let h: [f32; 256] = core::array::from_fn(|k| if k % 16 < 8 { 0.0 } else { 60.0 });
        let (header, coefs) = coefficients(&encode_one(&h, 2, 2, false));
        let max = coefs.iter().map(|c| c.unsigned_abs()).max().unwrap();
        assert!(header.wbits() > 5);
        assert!(max <= 1 << header.wbits() && max > 1 << (header.wbits() - 1));
        assert_eq!(header.quant_wbits >> 4, 8);
        assert_eq!(quant_byte(10, 17), 0x8F);
    }

    #[test]
    fn opensim_0922_scan_quirks() {
        let emit = |h: &[f32; 256], prescan| {
            let mut w = BitWriter::new();
            encode_patch_with(&mut w, h, 4, 4, false, prescan);
            w.finish()
        };
        // Flat at 10 m but for a 2 m lower south-west corner: OpenSim 0.9.2.2 sends it flat.
        let mut h = [10.0f32; 256];
        h[0] = 8.0;
        let (header, patch) = decode_one(&emit(&h, Prescan::OpenSim0922), false);
        assert_eq!((header.quant_wbits, patch.heights[0]), (0, 10.0));
        let (header, patch) = decode_one(&emit(&h, Prescan::Exact), false);
        assert_eq!((header.dc_offset, header.range), (8.0, 3));
        assert!(
            patch.heights[0] < 9.0,
            "the dip survives: {}",
            patch.heights[0]
        );

        // Heights rising at every step of its column-by-column walk: that scan never finds a
        // minimum (zmin stays 99999999), the range goes negative (−10^8, sent as its low 16
        // bits), every sample collapses to the same value and only a DC coefficient is left.
        // A viewer would draw the patch some 100 000 km high.
        let ramp: [f32; 256] =
            core::array::from_fn(|k| (k % 16) as f32 * 0.2 + (k / 16) as f32 * 0.01);
        let (header, coefs) = coefficients(&emit(&ramp, Prescan::OpenSim0922));
        assert_eq!(header.dc_offset, 99_999_999.0);
        assert_eq!(header.range, (-100_000_000i32 & 0xFFFF) as u16);
        assert_eq!((header.wbits(), coefs[0]), (13, 8191));
        assert!(coefs[1..].iter().all(|&c| c == 0));
        // The exact scan encodes the same ramp properly.
        let (header, patch) = decode_one(&emit(&ramp, Prescan::Exact), false);
        assert_eq!(header.dc_offset, 0.0);
        assert!(
            patch
                .heights
                .iter()
                .zip(&ramp)
                .all(|(a, b)| (a - b).abs() < 0.05)
        );
    }
}
