//! The LayerData bit reader and writer (`shared/PROTOCOL.md` §4.2).
//!
//! Bits are taken most-significant-bit first within each byte and run across byte boundaries with
//! no alignment. A field of *n* bits travels as little-endian byte chunks: the first `min(8, n)`
//! bits (MSB first) are bits 0–7 of the value, the next `min(8, n − 8)` bits are bits 8–15, and so
//! on; a final chunk of `k < 8` bits holds the low `k` bits of its byte. For `n ≤ 8` that is a
//! plain MSB-first read; a 10-bit patch id is 8 bits of low byte followed by 2 bits of high byte.
//!
//! Guarantees: the reader never reads past its slice and never panics; running out of bits is
//! [`PatchError::Truncated`]. What the writer emits, the reader reads back unchanged.

use super::{PatchError, to_usize};

/// Reads LayerData fields from a byte slice, per §4.2.
///
/// Internally it keeps up to 64 upcoming bits in an accumulator, so single-bit reads (the
/// coefficient codes) cost a shift and a compare.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    /// Bytes not yet loaded into `acc`.
    rest: &'a [u8],
    /// Loaded bits, the next one in bit 63. Bits below `acc_bits` may hold a copy of upcoming
    /// stream bits from a wide refill; they are never read before being loaded properly.
    acc: u64,
    /// How many bits of `acc` are valid (at most 64).
    acc_bits: u32,
    /// Length of the whole input in bytes, for [`BitReader::bit_pos`].
    len: usize,
}

impl<'a> BitReader<'a> {
    /// A reader positioned at the first (most significant) bit of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            acc: 0,
            acc_bits: 0,
            len: data.len(),
        }
    }

    /// Bits consumed so far.
    pub fn bit_pos(&self) -> usize {
        let loaded_bytes = self.len.saturating_sub(self.rest.len());
        loaded_bytes
            .saturating_mul(8)
            .saturating_sub(to_usize(self.acc_bits))
    }

    /// Bits left to read.
    pub fn remaining_bits(&self) -> usize {
        self.rest
            .len()
            .saturating_mul(8)
            .saturating_add(to_usize(self.acc_bits))
    }

    /// Loads whole bytes until at least 56 bits are buffered or the input is exhausted.
    #[inline]
    fn refill(&mut self) {
        if let Some((word, _)) = self.rest.split_first_chunk::<8>() {
            // Fast path: OR in eight bytes, count only the whole bytes that fit. The surplus
            // bits land exactly where the same stream bits will be loaded next time, so the OR
            // then is idempotent.
            let take = (63 - self.acc_bits) >> 3;
            self.acc |= u64::from_be_bytes(*word) >> self.acc_bits;
            self.acc_bits += take * 8;
            self.rest = self.rest.get(to_usize(take)..).unwrap_or_default();
            return;
        }
        while self.acc_bits <= 56 {
            let Some((&byte, rest)) = self.rest.split_first() else {
                break;
            };
            self.acc |= u64::from(byte) << (56 - self.acc_bits);
            self.acc_bits += 8;
            self.rest = rest;
        }
    }

    /// Makes at least `n` bits (`n ≤ 56`) visible in [`Self::window`] if the input still has
    /// them; returns how many are visible.
    #[inline]
    pub(crate) fn fill(&mut self, n: u32) -> u32 {
        if self.acc_bits < n {
            self.refill();
        }
        self.acc_bits
    }

    /// The buffered bits, the next one in bit 63. Only as many as [`Self::fill`] reported are
    /// meaningful; the bits below them are zero or later stream bits.
    #[inline]
    pub(crate) fn window(&self) -> u64 {
        self.acc
    }

    /// Consumes `n` buffered bits (at most as many as [`Self::fill`] reported).
    #[inline]
    pub(crate) fn skip(&mut self, n: u32) {
        let n = n.min(self.acc_bits);
        self.acc = self.acc.checked_shl(n).unwrap_or(0);
        self.acc_bits -= n;
    }

    /// Reads one bit.
    ///
    /// # Errors
    /// [`PatchError::Truncated`] at the end of the data.
    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, PatchError> {
        if self.acc_bits == 0 {
            self.refill();
            if self.acc_bits == 0 {
                return Err(PatchError::Truncated);
            }
        }
        let bit = self.acc >> 63 == 1;
        self.acc <<= 1;
        self.acc_bits -= 1;
        Ok(bit)
    }

    /// Reads an `nbits`-wide field (0 to 32) with the chunked byte order of §4.2.
    ///
    /// # Errors
    /// [`PatchError::Truncated`] if fewer than `nbits` bits are left (nothing is consumed then),
    /// [`PatchError::BadBitCount`] for `nbits > 32`.
    #[inline(always)]
    pub fn read_bits(&mut self, nbits: u32) -> Result<u32, PatchError> {
        if nbits > 32 {
            return Err(PatchError::BadBitCount(nbits));
        }
        if nbits == 0 {
            return Ok(0);
        }
        // `fill` leaves at least 56 bits buffered unless the input ran out, so a field it
        // cannot make visible is not there.
        if self.fill(nbits) < nbits {
            return Err(PatchError::Truncated);
        }
        // Take the field in one piece and reorder its chunks.
        let field = self.acc >> (64 - nbits);
        self.skip(nbits);
        u32::try_from(unchunk(field, nbits)).map_err(|_| PatchError::BadBitCount(nbits))
    }

    /// Reads a 32-bit IEEE-754 float (its bits as a 32-bit field).
    ///
    /// # Errors
    /// [`PatchError::Truncated`] if fewer than 32 bits are left.
    pub fn read_f32(&mut self) -> Result<f32, PatchError> {
        self.read_bits(32).map(f32::from_bits)
    }
}

/// Turns an `n`-bit field (`n ≤ 64`) read MSB-first in one piece into its value under the
/// chunked byte order of §4.2 (8-bit chunks from the top are bytes 0, 1, … of the value).
///
/// Branch-free for the coefficient widths (up to 24 bits); wider fields take a loop that
/// unrolls when `n` is a constant.
#[inline(always)]
pub(crate) fn unchunk(field: u64, n: u32) -> u64 {
    let low = |k: u32| field & ((1u64 << k) - 1);
    match n {
        0..=8 => field,
        9..=16 => {
            let k = n - 8;
            (field >> k) | (low(k) << 8)
        }
        17..=24 => {
            let k = n - 16;
            ((field >> (8 + k)) & 0xFF) | (((field >> k) & 0xFF) << 8) | (low(k) << 16)
        }
        _ => {
            let mut value = 0;
            let mut left = n.min(64);
            let mut shift = 0;
            while left > 0 {
                let k = left.min(8);
                value |= ((field >> (left - k)) & ((1 << k) - 1)) << shift;
                shift += 8;
                left -= k;
            }
            value
        }
    }
}

/// Writes LayerData fields, per §4.2; the final byte is padded with zero bits.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    /// Completed bytes.
    buf: Vec<u8>,
    /// Pending bits, the oldest in bit 63; fewer than 8 between calls.
    acc: u64,
    /// How many bits of `acc` are pending.
    acc_bits: u32,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bits written so far.
    pub fn bit_len(&self) -> usize {
        self.buf
            .len()
            .saturating_mul(8)
            .saturating_add(to_usize(self.acc_bits))
    }

    /// Appends the low `k ≤ 32` bits of `value`, most significant first (not chunked).
    #[inline]
    fn write_raw(&mut self, value: u32, k: u32) {
        let k = k.min(32);
        if k == 0 {
            return;
        }
        let masked = u64::from(value) & ((1u64 << k) - 1);
        // `acc_bits < 8` and `k ≤ 32`, so the shift stays within 25..=63.
        self.acc |= masked << (64 - self.acc_bits - k);
        self.acc_bits += k;
        while self.acc_bits >= 8 {
            let [top, ..] = self.acc.to_be_bytes();
            self.buf.push(top);
            self.acc <<= 8;
            self.acc_bits -= 8;
        }
    }

    /// Appends every bit `other` holds, in order (`other` is unchanged): a patch encoded once
    /// on its own can be measured with [`Self::bit_len`] and then copied into a layer.
    pub fn append(&mut self, other: &BitWriter) {
        for &byte in &other.buf {
            self.write_raw(u32::from(byte), 8);
        }
        if other.acc_bits > 0 {
            // The pending bits sit at the top of `acc`, the oldest in bit 63.
            let [top, ..] = other.acc.to_be_bytes();
            self.write_raw(u32::from(top) >> (8 - other.acc_bits), other.acc_bits);
        }
    }

    /// Appends one bit.
    pub fn write_bit(&mut self, bit: bool) {
        self.write_raw(u32::from(bit), 1);
    }

    /// Appends the low `nbits` bits of `value` (0 to 32; larger counts are treated as 32) with
    /// the chunked byte order of §4.2.
    pub fn write_bits(&mut self, value: u32, nbits: u32) {
        let mut left = nbits.min(32);
        let mut rest = value;
        while left > 0 {
            let k = left.min(8);
            self.write_raw(rest & 0xFF, k);
            rest >>= 8;
            left -= k;
        }
    }

    /// Appends a 32-bit IEEE-754 float as a 32-bit field.
    pub fn write_f32(&mut self, value: f32) {
        self.write_bits(value.to_bits(), 32);
    }

    /// The bytes written so far, the last one padded with zero bits.
    pub fn finish(mut self) -> Vec<u8> {
        if self.acc_bits > 0 {
            let [top, ..] = self.acc.to_be_bytes();
            self.buf.push(top);
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_copies_every_bit() {
        for bits in 0..40usize {
            let mut src = BitWriter::new();
            for i in 0..bits {
                src.write_bit(i % 3 == 0);
            }
            let mut direct = BitWriter::new();
            direct.write_bits(0b101, 3);
            let mut copied = direct.clone();
            for i in 0..bits {
                direct.write_bit(i % 3 == 0);
            }
            copied.append(&src);
            assert_eq!(copied.bit_len(), direct.bit_len());
            assert_eq!(copied.finish(), direct.finish(), "{bits} bits");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn ten_bit_patch_id_by_hand() {
        // §4.2: a 10-bit field is 8 bits of low byte, then 2 bits of high byte. Patch (3, 7) is
        // id 3 << 5 | 7 = 103 = 0x067: low byte 0x67 = 0110_0111, high bits 00.
        let mut w = BitWriter::new();
        w.write_bits(103, 10);
        assert_eq!(w.bit_len(), 10);
        assert_eq!(w.finish(), vec![0x67, 0x00]);

        // Id 0x2A5 (x = 21, y = 5): low byte 0xA5, then high bits 10 → second byte 10xx_xxxx.
        let data = [0xA5, 0b1000_0000];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(10).unwrap(), 0x2A5);
        assert_eq!(r.bit_pos(), 10);

        // Misaligned: three bits 101 first, then the same id.
        let mut w = BitWriter::new();
        w.write_bits(0b101, 3);
        w.write_bits(0x2A5, 10);
        let bytes = w.finish();
        // 101 | 1010_0101 | 10 → 1011_0100 1011_0000
        assert_eq!(bytes, vec![0b1011_0100, 0b1011_0000]);
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read_bits(3).unwrap(), 0b101);
        assert_eq!(r.read_bits(10).unwrap(), 0x2A5);
    }

    #[test]
    fn byte_aligned_wide_fields_are_little_endian() {
        let data = [0x08, 0x01, 0x10, 0x4C, 0x00, 0x00, 0xA4, 0x41];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(16).unwrap(), 264);
        assert_eq!(r.read_bits(8).unwrap(), 16);
        assert_eq!(r.read_bits(8).unwrap(), 0x4C);
        assert_eq!(r.read_f32().unwrap(), 20.5);
        assert_eq!(r.remaining_bits(), 0);
        assert_eq!(r.read_bit(), Err(PatchError::Truncated));
    }

    #[test]
    fn truncation_consumes_nothing() {
        let data = [0xFF, 0x00];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(3).unwrap(), 0b111);
        assert_eq!(r.read_bits(14), Err(PatchError::Truncated));
        assert_eq!(r.bit_pos(), 3);
        // 13 bits: 1111_1000 is the low byte, then 00000 the high bits.
        assert_eq!(r.read_bits(13).unwrap(), 0xF8);
        assert_eq!(r.read_bits(33), Err(PatchError::BadBitCount(33)));
        assert_eq!(BitReader::new(&[]).read_bits(0).unwrap(), 0);
    }

    #[test]
    fn reads_across_long_inputs() {
        // Exercise both refill paths: 40 bytes of a known pattern read in odd widths.
        let data: Vec<u8> = (0u8..40).map(|i| i.wrapping_mul(37) ^ 0x5A).collect();
        let mut bits = Vec::new();
        for byte in &data {
            for i in (0..8).rev() {
                bits.push((byte >> i) & 1 == 1);
            }
        }
        let mut r = BitReader::new(&data);
        let mut pos = 0;
        for width in [1u32, 7, 3, 8, 5, 2, 6].iter().cycle() {
            if pos + *width as usize > bits.len() {
                break;
            }
            let got = r.read_bits(*width).unwrap();
            let want = bits[pos..pos + *width as usize]
                .iter()
                .fold(0u32, |acc, &b| acc << 1 | u32::from(b));
            assert_eq!(got, want, "at bit {pos}");
            pos += *width as usize;
            assert_eq!(r.bit_pos(), pos);
        }
    }

    proptest! {
        #[test]
        fn roundtrip_bit_fields(fields in prop::collection::vec((any::<u32>(), 0u32..=32), 0..200)) {
            let mut w = BitWriter::new();
            for &(value, n) in &fields {
                w.write_bits(value, n);
            }
            let total: usize = fields.iter().map(|&(_, n)| n as usize).sum();
            prop_assert_eq!(w.bit_len(), total);
            let bytes = w.finish();
            prop_assert_eq!(bytes.len(), total.div_ceil(8));
            let mut r = BitReader::new(&bytes);
            for &(value, n) in &fields {
                let mask = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
                prop_assert_eq!(r.read_bits(n).unwrap(), value & mask);
            }
            prop_assert!(r.remaining_bits() < 8);
        }

        #[test]
        fn roundtrip_floats_and_bits(values in prop::collection::vec((any::<f32>(), any::<bool>()), 0..50)) {
            let mut w = BitWriter::new();
            for &(f, b) in &values {
                w.write_bit(b);
                w.write_f32(f);
            }
            let bytes = w.finish();
            let mut r = BitReader::new(&bytes);
            for &(f, b) in &values {
                prop_assert_eq!(r.read_bit().unwrap(), b);
                prop_assert_eq!(r.read_f32().unwrap().to_bits(), f.to_bits());
            }
        }
    }
}
