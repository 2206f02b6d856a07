//! One terrain patch on the wire: the group header, the patch header, the coefficient codes, and
//! the reconstruction of 16×16 heights from them (the encoder is in [`super::encode`]).
//!
//! Spec: `shared/PROTOCOL.md` §4.3 (group header), §4.4 (patch header, 10- and 32-bit ids), §4.5
//! (coefficient codes) and §4.6 (reconstruction).
//!
//! Guarantees: readers never panic and report [`PatchError::Truncated`] when the bits run out;
//! [`decode_patch`] allocates nothing and touches only the coefficient rows and columns that the
//! patch actually uses.

use super::bits::{BitReader, BitWriter, unchunk};
use super::dct::{DEQUANT_ZZ, SparseBlock, UNZIGZAG, inverse_dct_sparse};
use super::{LayerType, PATCH_SAMPLES, PATCH_SIZE, PatchError};

/// The quant byte that ends the patch list (`END_OF_PATCHES`).
pub const END_OF_PATCHES: u8 = 97;

/// The stride OpenSim writes in every group header (viewers ignore it).
pub const OPENSIM_STRIDE: u16 = 264;

/// The header that opens every LayerData bitstream (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupHeader {
    /// Row stride; OpenSim always sends 264 and viewers ignore it.
    pub stride: u16,
    /// Samples per patch edge; 16 for every land layer.
    pub patch_size: u8,
    /// The layer type, repeating `LayerID.Type`.
    pub layer: LayerType,
}

impl GroupHeader {
    /// The header OpenSim writes for a land layer: stride 264, patch size 16.
    pub fn opensim(layer: LayerType) -> Self {
        Self {
            stride: OPENSIM_STRIDE,
            patch_size: 16,
            layer,
        }
    }

    /// Reads the 32-bit group header.
    ///
    /// # Errors
    /// [`PatchError::Truncated`] if fewer than 32 bits are left.
    pub fn read(r: &mut BitReader<'_>) -> Result<Self, PatchError> {
        let stride = r.read_bits(16)?;
        let patch_size = r.read_bits(8)?;
        let layer = r.read_bits(8)?;
        Ok(Self {
            stride: u16::try_from(stride).map_err(|_| PatchError::Truncated)?,
            patch_size: u8::try_from(patch_size).map_err(|_| PatchError::Truncated)?,
            layer: LayerType::from_code(u8::try_from(layer).map_err(|_| PatchError::Truncated)?),
        })
    }

    /// Writes the 32-bit group header.
    pub fn write(&self, w: &mut BitWriter) {
        w.write_bits(u32::from(self.stride), 16);
        w.write_bits(u32::from(self.patch_size), 8);
        w.write_bits(u32::from(self.layer.code()), 8);
    }
}

/// The header of one patch (§4.4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PatchHeader {
    /// High nibble `prequant − 2`, low nibble `wbits − 2`; `0x00` for OpenSim's flat patches.
    pub quant_wbits: u8,
    /// Height offset added to every sample.
    pub dc_offset: f32,
    /// Height range the coefficients are scaled to.
    pub range: u16,
    /// Patch column, counted east from the region's west edge.
    pub x: u32,
    /// Patch row, counted north from the region's south edge.
    pub y: u32,
}

impl PatchHeader {
    /// `prequant`: the quantisation shift, `(quant_wbits >> 4) + 2`.
    pub fn prequant(&self) -> u32 {
        u32::from(self.quant_wbits >> 4) + 2
    }

    /// SLV `decompress_patch`'s `mult = range / 2^prequant`, the scale of the coefficients.
    #[inline]
    pub fn mult(&self) -> f32 {
        f32::from(self.range) * pow2(-prequant_i32(self.prequant()))
    }

    /// SLV `decompress_patch`'s `addval = mult·2^(prequant−1) + dc_offset` (= `range/2 +
    /// dc_offset`), the height every sample starts from.
    #[inline]
    pub fn addval(&self) -> f32 {
        self.mult() * pow2(prequant_i32(self.prequant()) - 1) + self.dc_offset
    }

    /// The header's DC offset is a number every height can start from.
    ///
    /// # Errors
    /// [`PatchError::NonFiniteDcOffset`] for a NaN or infinite offset.
    fn check_offset(&self) -> Result<(), PatchError> {
        if self.dc_offset.is_finite() {
            Ok(())
        } else {
            Err(PatchError::NonFiniteDcOffset)
        }
    }

    /// Bits per coefficient magnitude, `(quant_wbits & 0x0F) + 2` (2 to 17).
    pub fn wbits(&self) -> u32 {
        u32::from(self.quant_wbits & 0x0F) + 2
    }

    /// The wire patch id: `x << 5 | y` in 10 bits, or `x << 16 | y` in 32 bits when `extended`.
    /// Bits of `x` or `y` that do not fit are dropped.
    pub fn patch_id(&self, extended: bool) -> u32 {
        if extended {
            (self.x << 16) | (self.y & 0xFFFF)
        } else {
            ((self.x << 5) | (self.y & 0x1F)) & 0x3FF
        }
    }

    /// Reads a patch header; `Ok(None)` at the end-of-patches marker (nothing else is read then).
    ///
    /// `extended` selects 32-bit patch ids (layer `M`) over 10-bit ones.
    ///
    /// # Errors
    /// [`PatchError::Truncated`] if the bits run out.
    pub fn read(r: &mut BitReader<'_>, extended: bool) -> Result<Option<Self>, PatchError> {
        let quant_wbits = u8::try_from(r.read_bits(8)?).map_err(|_| PatchError::Truncated)?;
        if quant_wbits == END_OF_PATCHES {
            return Ok(None);
        }
        let dc_offset = r.read_f32()?;
        let range = u16::try_from(r.read_bits(16)?).map_err(|_| PatchError::Truncated)?;
        let (x, y) = if extended {
            let id = r.read_bits(32)?;
            (id >> 16, id & 0xFFFF)
        } else {
            let id = r.read_bits(10)?;
            (id >> 5, id & 0x1F)
        };
        Ok(Some(Self {
            quant_wbits,
            dc_offset,
            range,
            x,
            y,
        }))
    }

    /// Writes the patch header.
    pub fn write(&self, w: &mut BitWriter, extended: bool) {
        w.write_bits(u32::from(self.quant_wbits), 8);
        w.write_f32(self.dc_offset);
        w.write_bits(u32::from(self.range), 16);
        w.write_bits(self.patch_id(extended), if extended { 32 } else { 10 });
    }
}

/// One decoded patch: 16×16 heights in metres.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedPatch {
    /// Patch column (east); the patch covers world x `16·x ..= 16·x + 15`.
    pub x: u32,
    /// Patch row (north); the patch covers world y `16·y ..= 16·y + 15`.
    pub y: u32,
    /// Heights, index `row * 16 + col` with row = y (north) and col = x (east).
    pub heights: [f32; 256],
}

/// Walks the coefficient codes of one patch (§4.5), calling `f(zigzag_index, value)` for every
/// non-zero code. Stops after an end-of-block code or after coefficient 255.
///
/// Works on the reader's 64-bit window: a run of zero codes is one `leading_zeros`, a value is
/// one 3-bit prefix plus its magnitude field. Near the end of the data, where the window cannot
/// hold a whole code, it falls back to reading bit by bit.
#[inline(always)]
fn for_each_coefficient(
    r: &mut BitReader<'_>,
    wbits: u32,
    mut f: impl FnMut(usize, i32),
) -> Result<(), PatchError> {
    if !(1..=17).contains(&wbits) {
        // Not from a quant byte (those give 2..=17); keep the general reader.
        return for_each_coefficient_slow(r, wbits, 0, f);
    }
    // Longest code: prefix 11s plus the magnitude.
    let longest = 3 + wbits;
    let mut i = 0usize;
    while i < PATCH_SAMPLES {
        let avail = r.fill(longest);
        if avail < longest {
            return for_each_coefficient_slow(r, wbits, i, f);
        }
        let window = r.window();
        if window >> 63 == 0 {
            // A run of zero codes, as long as the window and the patch allow.
            let run = window.leading_zeros().min(avail);
            let run = usize::try_from(run).unwrap_or(0).min(PATCH_SAMPLES - i);
            r.skip(u32::try_from(run).unwrap_or(0));
            i += run;
            continue;
        }
        if (window >> 62) & 1 == 0 {
            r.skip(2);
            return Ok(());
        }
        let negative = (window >> 61) & 1 == 1;
        let field = (window << 3) >> (64 - wbits);
        r.skip(longest);
        let magnitude = i32::try_from(unchunk(field, wbits)).unwrap_or(i32::MAX);
        f(i, if negative { -magnitude } else { magnitude });
        i += 1;
    }
    Ok(())
}

/// The bit-by-bit form of [`for_each_coefficient`], from coefficient `start` on.
fn for_each_coefficient_slow(
    r: &mut BitReader<'_>,
    wbits: u32,
    start: usize,
    mut f: impl FnMut(usize, i32),
) -> Result<(), PatchError> {
    for i in start..PATCH_SAMPLES {
        if !r.read_bit()? {
            continue;
        }
        if !r.read_bit()? {
            return Ok(());
        }
        let negative = r.read_bit()?;
        // `wbits ≤ 17`, so the magnitude always fits an i32.
        let magnitude = i32::try_from(r.read_bits(wbits)?).unwrap_or(i32::MAX);
        f(i, if negative { -magnitude } else { magnitude });
    }
    Ok(())
}

/// Reads the coefficient codes of one patch into `out`, in transmission (zig-zag) order; the
/// coefficients after an end-of-block are zero.
///
/// # Errors
/// [`PatchError::Truncated`] if the bits run out (`out` then holds what was read).
pub fn read_coefficients(
    r: &mut BitReader<'_>,
    wbits: u32,
    out: &mut [i32; 256],
) -> Result<(), PatchError> {
    *out = [0; 256];
    for_each_coefficient(r, wbits, |i, v| {
        if let Some(slot) = out.get_mut(i) {
            *slot = v;
        }
    })
}

/// Reads the coefficients following `header` and reconstructs the patch's heights (§4.6).
///
/// The dequantisation, the `range / 2^prequant` scale and the offset are folded into the inverse
/// DCT, which only runs over the rows and columns that hold non-zero coefficients; a patch without
/// coefficients (OpenSim's flat patches) costs no DCT at all and comes out exactly
/// `range/2 + dc_offset` everywhere.
///
/// # Errors
/// [`PatchError::Truncated`] if the bits run out; [`PatchError::NonFiniteDcOffset`] for a NaN or
/// infinite DC offset.
pub fn decode_patch(
    r: &mut BitReader<'_>,
    header: &PatchHeader,
) -> Result<DecodedPatch, PatchError> {
    let mut patch = DecodedPatch {
        x: header.x,
        y: header.y,
        heights: [0.0; 256],
    };
    decode_patch_into(r, header, &mut patch.heights)?;
    Ok(patch)
}

/// [`decode_patch`] writing into caller-provided heights (index `row * 16 + col`), so a decoder
/// can fill its output in place.
///
/// # Errors
/// As [`decode_patch`]; `heights` is unspecified after an error.
pub fn decode_patch_into(
    r: &mut BitReader<'_>,
    header: &PatchHeader,
    heights: &mut [f32; 256],
) -> Result<(), PatchError> {
    let mut block = SparseBlock::new();
    let (grid, _) = heights.as_chunks_mut::<16>();
    match <&mut [[f32; 16]; 16]>::try_from(grid) {
        Ok(grid) => decode_heights(r, header, grid, &mut block),
        Err(_) => Ok(()),
    }
}

/// [`decode_patch_into`] with a caller-kept coefficient scratch block (its contents on entry do
/// not matter), so a layer decoder reuses one for all its patches. Every height is written: the
/// inverse DCT of the coefficients plus [`PatchHeader::addval`].
///
/// # Errors
/// As [`decode_patch`]; `heights` is unchanged after an error.
#[inline]
pub(crate) fn decode_heights(
    r: &mut BitReader<'_>,
    header: &PatchHeader,
    heights: &mut [[f32; 16]; 16],
    block: &mut SparseBlock,
) -> Result<(), PatchError> {
    dequantise_into(r, header, block)?;
    inverse_dct_sparse(block, header.addval(), heights);
    Ok(())
}

/// Reads past the coefficients following `header`, checking what [`decode_heights`] checks (a
/// finite DC offset, enough bits) without dequantising or transforming anything: for readers
/// that only need to know which patches a layer holds.
///
/// # Errors
/// As [`decode_patch`].
#[inline]
pub(crate) fn skip_patch(r: &mut BitReader<'_>, header: &PatchHeader) -> Result<(), PatchError> {
    header.check_offset()?;
    for_each_coefficient(r, header.wbits(), |_, _| {})
}

/// A patch's coefficients after de-zig-zag, dequantisation and scaling (§4.6 steps 1 and 3),
/// ready for the inverse DCT: `heights = addval + IDCT(block)`.
///
/// Exposed for the benchmark and tests that compare inverse DCTs on real blocks; decoders use
/// [`decode_patch_into`].
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub struct DequantisedBlock {
    /// `block[v][u]`: coefficient at vertical frequency `v`, horizontal frequency `u`, already
    /// multiplied by `1 + 2(u + v)` and by `mult = range / 2^prequant`.
    pub block: [[f32; 16]; 16],
    /// One past the last row (`v`) holding a non-zero coefficient; 0 for a flat patch.
    pub rows: usize,
    /// One past the last column (`u`) holding a non-zero coefficient; 0 for a flat patch.
    pub cols: usize,
    /// The offset every height starts from, `range/2 + dc_offset`.
    pub addval: f32,
}

/// Reads the coefficients following `header` into a [`DequantisedBlock`].
///
/// # Errors
/// As [`decode_patch`].
#[doc(hidden)]
#[inline]
pub fn read_dequantised(
    r: &mut BitReader<'_>,
    header: &PatchHeader,
) -> Result<DequantisedBlock, PatchError> {
    let mut sparse = SparseBlock::new();
    dequantise_into(r, header, &mut sparse)?;
    let mut block = [[0.0f32; 16]; 16];
    let flat = block.as_flattened_mut();
    for (pos, value) in sparse.entries() {
        if let Some(slot) = flat.get_mut(usize::from(pos)) {
            *slot = value;
        }
    }
    let reach = |mask: u16| 16 - usize::try_from(mask.leading_zeros()).unwrap_or(16);
    Ok(DequantisedBlock {
        block,
        rows: reach(sparse.rows()),
        cols: reach(sparse.cols()),
        addval: header.addval(),
    })
}

/// Reads the coefficients following `header` into `block` (emptied first), de-zig-zagged,
/// dequantised and multiplied by `mult`.
#[inline(always)]
fn dequantise_into(
    r: &mut BitReader<'_>,
    header: &PatchHeader,
    block: &mut SparseBlock,
) -> Result<(), PatchError> {
    header.check_offset()?;
    let mult = header.mult();
    let wbits = header.wbits();
    block.refill(|push| {
        for_each_coefficient(r, wbits, |i, value| {
            let k = UNZIGZAG.get(i).copied().unwrap_or(0);
            let factor = DEQUANT_ZZ.get(i).copied().unwrap_or(0.0);
            push(k, exact_f32(value) * factor * mult);
        })
    })
}

/// `prequant` (2..=17 from a quant byte, or OpenSim's 10) as an `i32` exponent.
pub(crate) fn prequant_i32(prequant: u32) -> i32 {
    i32::try_from(prequant).unwrap_or(0)
}

/// `2^e` exactly, built from its exponent bits for f32's normal range (−126..=127).
pub(crate) fn pow2(e: i32) -> f32 {
    match e.checked_add(127).and_then(|b| u32::try_from(b).ok()) {
        Some(biased @ 1..=254) => f32::from_bits(biased << 23),
        _ => 2.0f32.powi(e),
    }
}

/// `i32 → f32` for coefficient values, which have at most 17 significant bits.
///
/// Exact for |v| < 2^24; `as` from an integer to a float never panics.
#[allow(clippy::as_conversions)]
fn exact_f32(v: i32) -> f32 {
    v as f32
}

/// The region sizes in patches for a region size in metres (`size / 16`).
pub(crate) fn patches_for(size: u32) -> u32 {
    size / PATCH_SIZE
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::f64::consts::PI;
    use proptest::prelude::*;

    fn decode_one(bytes: &[u8], extended: bool) -> (PatchHeader, DecodedPatch) {
        let mut r = BitReader::new(bytes);
        let header = PatchHeader::read(&mut r, extended).unwrap().unwrap();
        let patch = decode_patch(&mut r, &header).unwrap();
        (header, patch)
    }

    #[test]
    fn decodes_single_coefficients_per_formula() {
        // prequant 10, wbits 10, range 1024, dc −512: mult = 1, addval = 0.
        let header = |x, y| PatchHeader {
            quant_wbits: 0x88,
            dc_offset: -512.0,
            range: 1024,
            x,
            y,
        };
        let emit = |codes: &[(bool, u32)]| {
            let mut w = BitWriter::new();
            header(5, 9).write(&mut w, false);
            for &(negative, m) in codes {
                if m == 0 {
                    w.write_bit(false);
                } else {
                    w.write_bits(if negative { 0b111 } else { 0b110 }, 3);
                    w.write_bits(m, 10);
                }
            }
            w.write_bits(0b10, 2);
            w.finish()
        };
        // DC only: H = (1/8)·(1/√2)²·160 = 10 everywhere.
        let (h, patch) = decode_one(&emit(&[(false, 160)]), false);
        assert_eq!((h, patch.x, patch.y), (header(5, 9), 5, 9));
        assert!(patch.heights.iter().all(|&v| (v - 10.0).abs() < 1e-4));
        // Zig-zag index 1 is (row 0, col 1), dequantised ×3: H = (1/8)(1/√2)·(−8·3)·c(1, col).
        let (_, patch) = decode_one(&emit(&[(false, 0), (true, 8)]), false);
        for (k, &v) in patch.heights.iter().enumerate() {
            let col = (k % 16) as f64;
            let want = -24.0 / (8.0 * 2f64.sqrt()) * ((2.0 * col + 1.0) * PI / 32.0).cos();
            assert!((f64::from(v) - want).abs() < 1e-4, "k {k}: {v} vs {want}");
        }
        // Index 2 is (row 1, col 0): the same shape along rows.
        let (_, patch) = decode_one(&emit(&[(false, 0), (false, 0), (false, 8)]), false);
        assert!((patch.heights[0] - patch.heights[16 * 15]).abs() > 1.0);
        assert!((patch.heights[0] - patch.heights[15]).abs() < 1e-5);
    }

    proptest! {
        #[test]
        fn fast_coefficient_reader_matches_bitwise_reader(
            data in prop::collection::vec(any::<u8>(), 0..400),
            wbits in 0u32..=20,
            skip in 0u32..8,
        ) {
            let mut fast = BitReader::new(&data);
            let mut slow = BitReader::new(&data);
            let _ = fast.read_bits(skip);
            let _ = slow.read_bits(skip);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let ra = for_each_coefficient(&mut fast, wbits, |i, v| a.push((i, v)));
            let rb = for_each_coefficient_slow(&mut slow, wbits, 0, |i, v| b.push((i, v)));
            prop_assert_eq!(ra, rb);
            prop_assert_eq!(a, b);
            if ra.is_ok() {
                prop_assert_eq!(fast.bit_pos(), slow.bit_pos());
            }
        }
    }

    #[test]
    fn header_ids_roundtrip() {
        for (ext, x, y) in [
            (false, 31, 31),
            (false, 0, 0),
            (true, 255, 3),
            (true, 65535, 65535),
        ] {
            let header = PatchHeader {
                quant_wbits: 0x8A,
                dc_offset: -3.5,
                range: 40,
                x,
                y,
            };
            let mut w = BitWriter::new();
            header.write(&mut w, ext);
            assert_eq!(w.bit_len(), if ext { 88 } else { 66 });
            let bytes = w.finish();
            let back = PatchHeader::read(&mut BitReader::new(&bytes), ext)
                .unwrap()
                .unwrap();
            assert_eq!(back, header);
            assert_eq!(back.wbits(), 12);
            assert_eq!(back.prequant(), 10);
        }
    }

    #[test]
    fn end_marker_and_nonfinite_offset() {
        assert_eq!(
            PatchHeader::read(&mut BitReader::new(&[0x61]), false),
            Ok(None)
        );
        let header = PatchHeader {
            quant_wbits: 0,
            dc_offset: f32::NAN,
            range: 1,
            x: 0,
            y: 0,
        };
        assert_eq!(
            decode_patch(&mut BitReader::new(&[0x80]), &header),
            Err(PatchError::NonFiniteDcOffset)
        );
    }

    #[test]
    fn coefficients_without_eob_end_at_255() {
        // 256 "zero" codes and no EOB: the next bits belong to whatever follows.
        let mut w = BitWriter::new();
        for _ in 0..255 {
            w.write_bit(false);
        }
        w.write_bits(0b110, 3);
        w.write_bits(5, 4);
        w.write_bits(0xAB, 8);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        let mut coefs = [1; 256];
        read_coefficients(&mut r, 4, &mut coefs).unwrap();
        assert_eq!(coefs[255], 5);
        assert!(coefs[..255].iter().all(|&c| c == 0));
        assert_eq!(r.read_bits(8).unwrap(), 0xAB);
    }
}
