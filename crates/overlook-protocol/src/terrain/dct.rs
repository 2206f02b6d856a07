//! The 16×16 DCT of terrain patches: zig-zag order, cosine tables, the separable inverse DCT used
//! by the decoder and the forward DCT + quantisation of OpenSim's encoder.
//!
//! Spec: `shared/PROTOCOL.md` §4.6 (de-zig-zag, dequantise, inverse DCT) and §4.7 (forward DCT,
//! quantise). All tables are built by `const fn`s at compile time, so there is no start-up cost
//! and no lazy initialisation; the cosines use the same single-precision angles as the reference
//! implementations (`cos(f32((2n+1)·u) · f32(π)/32)`), which is what makes the forward DCT agree
//! with OpenSim's coefficient for coefficient.
//!
//! Guarantees: no function here panics or allocates. Table construction indexes arrays, but only
//! in `const` evaluation, where an out-of-bounds index would be a compile error.

/// Samples per patch edge.
const N: usize = 16;

/// `1/√2` as the reference implementations spell it (`OO_SQRT2`, a single-precision constant).
pub const OO_SQRT2: f32 = core::f32::consts::FRAC_1_SQRT_2;

/// Zig-zag position of each coefficient: `ZIGZAG[row * 16 + col]` is the index in the
/// transmitted coefficient sequence of the coefficient at vertical frequency `row` and horizontal
/// frequency `col` (§4.6 table; SLV `build_decopy_matrix`, OpenSim `BuildCopyMatrix16`).
pub static ZIGZAG: [u8; 256] = build_zigzag();

/// Inverse of [`ZIGZAG`]: `UNZIGZAG[i]` is `row * 16 + col` of the `i`-th transmitted coefficient.
pub static UNZIGZAG: [u8; 256] = invert(&build_zigzag());

/// The dequantisation factor of each transmitted coefficient, in transmission order:
/// `DEQUANT_ZZ[i] = 1 + 2(row + col)` for the coefficient at `UNZIGZAG[i]`.
pub static DEQUANT_ZZ: [f32; 256] = build_dequant_zz(&invert(&build_zigzag()));

/// `COS[u][n] = cos((2n + 1)·u·π/32)`, with the angle rounded to `f32` first as in SLV
/// (`setup_patch_icosines`) and OpenSim (`SetupCosines16`).
pub static COS: [[f32; 16]; 16] = build_cos();

/// [`COS`] transposed: `COS_T[n][u] = c(u, n)`, for [`inverse_dct_naive`].
static COS_T: [[f32; 16]; 16] = transpose(&build_cos());

/// Vertical-pass table of the inverse DCT, transposed for contiguous access:
/// `ICOL_HALF[y][v] = w(v)·COS[v][y]` with `w(0) = 1/√2`, `w(v > 0) = 1`, for output rows
/// `y < 8` (rows `15 − y` follow by symmetry).
static ICOL_HALF: [[f32; 16]; 8] = build_icol_half(&build_cos());

/// Vertical table of the inverse DCT, whole rows: `ICOL[v][y] = w(v)·COS[v][y]`.
static ICOL: [[f32; 16]; 16] = build_icol(&build_cos());

/// Horizontal table of the inverse DCT, whole rows: `IROW[u][x] = w(u)·COS[u][x]·2/16`.
static IROW: [[f32; 16]; 16] = build_irow(&build_cos());

/// Horizontal-pass table of the inverse DCT: `IROW_HALF[u][x] = w(u)·COS[u][x]·2/16` (the 2/16
/// is exact) for output columns `x < 8` (columns `15 − x` follow by symmetry).
static IROW_HALF: [[f32; 8]; 16] = build_irow_half(&build_cos());

/// OpenSim's quantisation factors `QUANT[v][u] = (2/16) / (1 + 2(u + v))` in `f32`
/// (`BuildQuantizeTable16`).
static QUANT: [[f32; 16]; 16] = build_quant();

/// The dequantisation factor `1 + 2(row + col)` of a coefficient (§4.6 step 1).
#[inline]
pub fn dequant_factor(row: u8, col: u8) -> f32 {
    f32::from(1 + 2 * (u16::from(row) + u16::from(col)))
}

/// The non-zero coefficients of one patch, dequantised and scaled, as a list: what the decoder
/// reads a patch into, and all the inverse DCT needs. Also records which rows and columns of
/// the 16×16 block they occupy, so the transform can skip the empty ones, and carries the
/// transform's scratch lines (kept zero between transforms, so a patch clears only what it used).
///
/// Holds at most 256 entries (one per coefficient); [`SparseBlock::push`] ignores more.
#[derive(Debug, Clone)]
pub struct SparseBlock {
    /// `row * 16 + col` of each entry.
    pos: [u8; 256],
    /// The value of each entry.
    val: [f32; 256],
    /// Entries in use.
    len: usize,
    /// Bit `v` set where row (vertical frequency) `v` holds an entry.
    rows: u16,
    /// Bit `u` set where column (horizontal frequency) `u` holds an entry.
    cols: u16,
    /// The first pass's output, one line per used row (or column); all zero between transforms.
    lines: Lines,
}

/// Sixteen lines of sixteen samples, aligned so that the SIMD loads of the transform can be
/// folded into its multiplies.
#[derive(Debug, Clone)]
#[repr(C, align(16))]
struct Lines([[f32; 16]; 16]);

impl Default for SparseBlock {
    fn default() -> Self {
        Self::new()
    }
}

impl SparseBlock {
    /// An empty block (all coefficients zero).
    pub const fn new() -> Self {
        Self {
            pos: [0; 256],
            val: [0.0; 256],
            len: 0,
            rows: 0,
            cols: 0,
            lines: Lines([[0.0; 16]; 16]),
        }
    }

    /// Empties the block.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
        self.rows = 0;
        self.cols = 0;
    }

    /// True when no coefficient has been pushed: the inverse DCT of the block is zero.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds coefficient `value` at `pos = row * 16 + col` (a position should be pushed once).
    #[inline(always)]
    pub fn push(&mut self, pos: u8, value: f32) {
        if let (Some(p), Some(v)) = (self.pos.get_mut(self.len), self.val.get_mut(self.len)) {
            *p = pos;
            *v = value;
            self.len += 1;
            self.rows |= 1 << (pos >> 4);
            self.cols |= 1 << (pos & 0x0F);
        }
    }

    /// Refills the block: `read` is handed a `push(pos, value)` and calls it for each non-zero
    /// coefficient. The count and the row and column masks live in locals meanwhile, not in
    /// the block, so the per-coefficient work stays in registers (updating the block's own
    /// fields made every push wait on the previous one's store).
    #[inline(always)]
    pub fn refill<E>(
        &mut self,
        read: impl FnOnce(&mut dyn FnMut(u8, f32)) -> Result<(), E>,
    ) -> Result<(), E> {
        let (pos, val) = (&mut self.pos, &mut self.val);
        let (mut len, mut rows, mut cols) = (0usize, 0u16, 0u16);
        let result = read(&mut |p: u8, v: f32| {
            if let (Some(ps), Some(vs)) = (pos.get_mut(len), val.get_mut(len)) {
                *ps = p;
                *vs = v;
                len += 1;
                rows |= 1 << (p >> 4);
                cols |= 1 << (p & 0x0F);
            }
        });
        self.len = len;
        self.rows = rows;
        self.cols = cols;
        result
    }

    /// The non-zero coefficients of `block[..rows][..cols]`.
    pub fn from_block(block: &[[f32; 16]; 16], rows: usize, cols: usize) -> Self {
        let mut sparse = Self::new();
        for (v, row) in (0u8..).zip(block.iter()).take(rows) {
            for (u, &b) in (0u8..).zip(row.iter()).take(cols) {
                if b != 0.0 {
                    sparse.push(v << 4 | u, b);
                }
            }
        }
        sparse
    }

    /// Bit `v` set where row (vertical frequency) `v` holds a coefficient.
    pub fn rows(&self) -> u16 {
        self.rows
    }

    /// Bit `u` set where column (horizontal frequency) `u` holds a coefficient.
    pub fn cols(&self) -> u16 {
        self.cols
    }

    /// The entries as `(row * 16 + col, value)`, in the order pushed.
    #[inline]
    pub fn entries(&self) -> impl Iterator<Item = (u8, f32)> + '_ {
        self.pos
            .iter()
            .copied()
            .zip(self.val.iter().copied())
            .take(self.len)
    }
}

/// Inverse DCT of a dequantised block, added onto `out` (§4.6 step 2).
///
/// `block[v][u]` is the coefficient at vertical frequency `v`, horizontal frequency `u`, already
/// dequantised (and scaled, if the caller folds `mult` in). Only the first `rows` rows and `cols`
/// columns of `block` are read. `out[y][x] += (1/8)·Σ_v Σ_u w(v)·w(u)·block[v][u]·c(v,y)·c(u,x)`
/// for the (up to 16) rows of `out`, so `out` pre-filled with the patch's `addval` yields heights
/// directly. The decoder uses [`inverse_dct_sparse`] on the coefficient list it reads instead.
pub fn inverse_dct_add(block: &[[f32; 16]; 16], rows: usize, cols: usize, out: &mut [[f32; 16]]) {
    let mut sparse = SparseBlock::from_block(block, rows, cols);
    if sparse.is_empty() {
        return;
    }
    let mut full = [[0.0f32; 16]; 16];
    inverse_dct_sparse(&mut sparse, 0.0, &mut full);
    for (o, f) in out.iter_mut().zip(full.iter()) {
        for (o, f) in o.iter_mut().zip(f.iter()) {
            *o += f;
        }
    }
}

/// Inverse DCT of a block given as its non-zero coefficients, plus `base`:
/// `out[y][x] = base + (1/8)·Σ_v Σ_u w(v)·w(u)·block[v][u]·c(v,y)·c(u,x)` (every sample of `out`
/// is written; `block` only lends its scratch lines).
///
/// Separable, with precomputed cosine tables, in whichever order is cheaper for this block:
/// the first pass touches each non-zero coefficient once (16 multiply-adds); the second runs
/// only over the rows (or columns) that hold coefficients, 128 multiply-adds each, using the
/// symmetry `c(u, 15 − n) = (−1)^u · c(u, n)` — even and odd frequencies are summed separately
/// for the first 8 outputs and give the last 8 by sum and difference. An empty block costs a
/// fill.
#[inline]
pub fn inverse_dct_sparse(block: &mut SparseBlock, base: f32, out: &mut [[f32; 16]; 16]) {
    if block.is_empty() {
        *out = [[base; 16]; 16];
    } else if 3 * block.cols.count_ones() < 4 * block.rows.count_ones() + 3 {
        columns_first(block, base, out);
    } else {
        rows_first(block, base, out);
    }
}

/// The compact numbering of the set bits of a 16-bit mask, even bits first: `slot[b]` for each
/// set bit `b`, the bits in slot order, how many are even, and how many in all.
#[inline(always)]
fn slots(mask: u16) -> ([u8; 16], [u8; 16], usize, usize) {
    let (mut slot, mut bit) = ([0u8; 16], [0u8; 16]);
    let mut n = 0u8;
    for half in [mask & 0x5555, mask & 0xAAAA] {
        let mut m = half;
        for b in 0u8..16 {
            if m & 1 != 0 {
                if let (Some(s), Some(t)) = (
                    slot.get_mut(usize::from(b)),
                    bit.get_mut(usize::from(n & 15)),
                ) {
                    *s = n;
                    *t = b;
                }
                n += 1;
            }
            m >>= 1;
            if m == 0 {
                break;
            }
        }
    }
    let even = usize::from(u8::try_from((mask & 0x5555).count_ones()).unwrap_or(0));
    (slot, bit, even, usize::from(n))
}

/// The first pass: each coefficient `(pos, value)` is added to the line of its row (or column)
/// `(line, freq) = split(pos)`, as `value · table[freq]`.
#[inline(always)]
fn first_pass<'a>(
    entries: impl Iterator<Item = (&'a u8, &'a f32)>,
    split: impl Fn(u8) -> (u8, u8),
    slot: &[u8; 16],
    table: &[[f32; 16]; 16],
    lines: &mut [[f32; 16]; 16],
) {
    for (&pos, &value) in entries {
        let (line, freq) = split(pos);
        let s = slot.get(usize::from(line & 15)).copied().unwrap_or(0);
        if let (Some(line), Some(t)) = (
            lines.get_mut(usize::from(s & 15)),
            table.get(usize::from(freq & 15)),
        ) {
            axpy(line, t, value);
        }
    }
}

/// Rows first: `line[v] = (2/16)·Σ_u w(u)·block[v][u]·c(u, ·)` for each used row `v`, then
/// `out[y] = base + Σ_v w(v)·c(v,y)·line[v]`, rows `y` and `15 − y` together.
#[inline(always)]
fn rows_first(block: &mut SparseBlock, base: f32, out: &mut [[f32; 16]; 16]) {
    let (slot, bit, even, n) = slots(block.rows);
    let lines = &mut block.lines.0;
    let entries = block.pos.iter().zip(block.val.iter()).take(block.len);
    first_pass(entries, |pos| (pos >> 4, pos & 0x0F), &slot, &IROW, lines);
    let (top, bottom) = out.split_at_mut(8);
    let pairs = top
        .iter_mut()
        .zip(bottom.iter_mut().rev())
        .zip(ICOL_HALF.iter());
    for ((out_top, out_bottom), icol) in pairs {
        let (mut e, mut d) = ([0.0f32; 16], [0.0f32; 16]);
        for (acc, range) in [(&mut e, 0..even), (&mut d, even..n)] {
            let (Some(lines), Some(bits)) = (lines.get(range.clone()), bit.get(range)) else {
                continue;
            };
            for (line, &v) in lines.iter().zip(bits) {
                axpy(
                    acc,
                    line,
                    icol.get(usize::from(v & 15)).copied().unwrap_or(0.0),
                );
            }
        }
        for (((t, b), e), d) in out_top
            .iter_mut()
            .zip(out_bottom.iter_mut())
            .zip(&e)
            .zip(&d)
        {
            *t = base + (e + d);
            *b = base + (e - d);
        }
    }
    for line in lines.iter_mut().take(n) {
        *line = [0.0; 16];
    }
}

/// Columns first: `column[u] = Σ_v w(v)·block[v][u]·c(v, ·)` for each used column `u`, then
/// `out[y][x] = base + (2/16)·Σ_u w(u)·c(u,x)·column[u][y]`, columns `x` and `15 − x` together.
#[inline(always)]
fn columns_first(block: &mut SparseBlock, base: f32, out: &mut [[f32; 16]; 16]) {
    let (slot, bit, even, n) = slots(block.cols);
    let columns = &mut block.lines.0;
    let entries = block.pos.iter().zip(block.val.iter()).take(block.len);
    first_pass(entries, |pos| (pos & 0x0F, pos >> 4), &slot, &ICOL, columns);
    // Two output rows per step, so each column's weights are loaded once for both.
    let (out, _) = out.as_chunks_mut::<2>();
    for (k, [row0, row1]) in out.iter_mut().enumerate() {
        let mut acc = [[0.0f32; 8]; 4];
        let [e0, e1, d0, d1] = &mut acc;
        for ((a0, a1), range) in [
            ((&mut *e0, &mut *e1), 0..even),
            ((&mut *d0, &mut *d1), even..n),
        ] {
            let (Some(columns), Some(bits)) = (columns.get(range.clone()), bit.get(range)) else {
                continue;
            };
            for (column, &u) in columns.iter().zip(bits) {
                let (pairs, _) = column.as_chunks::<2>();
                if let (Some(&[c0, c1]), Some(w)) =
                    (pairs.get(k), IROW_HALF.get(usize::from(u & 15)))
                {
                    axpy(a0, w, c0);
                    axpy(a1, w, c1);
                }
            }
        }
        for (row, e, d) in [(row0, &*e0, &*d0), (row1, &*e1, &*d1)] {
            let (lo, hi) = row.split_at_mut(8);
            for ((l, e), d) in lo.iter_mut().zip(e).zip(d) {
                *l = base + (e + d);
            }
            for ((h, e), d) in hi.iter_mut().rev().zip(e).zip(d) {
                *h = base + (e - d);
            }
        }
    }
    for column in columns.iter_mut().take(n) {
        *column = [0.0; 16];
    }
}

/// The reference inverse DCT: the direct four-loop sum of §4.6, one 256-term sum per output
/// sample, added onto `out`.
///
/// `out[y][x] += (1/8)·Σ_v Σ_u w(v)·w(u)·block[v][u]·c(v,y)·c(u,x)` with the same `f32` cosines
/// as [`inverse_dct_add`]. About 65,000 multiply-adds per patch: it exists as the baseline the
/// fast transform is tested and benchmarked against, not for decoding.
pub fn inverse_dct_naive(block: &[[f32; 16]; 16], out: &mut [[f32; 16]; 16]) {
    let w = |k: usize| if k == 0 { OO_SQRT2 } else { 1.0 };
    for (out_row, cos_y) in out.iter_mut().zip(COS_T.iter()) {
        for (o, cos_x) in out_row.iter_mut().zip(COS_T.iter()) {
            let mut sum = 0.0f32;
            for (v, (block_row, &cv)) in block.iter().zip(cos_y.iter()).enumerate() {
                for (u, (&b, &cu)) in block_row.iter().zip(cos_x.iter()).enumerate() {
                    sum += w(v) * w(u) * b * cv * cu;
                }
            }
            *o += sum * 0.125;
        }
    }
}

/// `acc += a·x` lane by lane (vectorises).
#[inline(always)]
fn axpy<const L: usize>(acc: &mut [f32; L], x: &[f32; L], a: f32) {
    for (acc, &x) in acc.iter_mut().zip(x.iter()) {
        *acc += a * x;
    }
}

/// OpenSim's forward DCT and quantisation (§4.7 step 4), in its exact `f32` operation order.
///
/// `samples[y][x]` are the prepared samples `(h − sub)·premult`. Returns the quantised
/// coefficients in transmission (zig-zag) order, each `trunc(G[v][u] / (1 + 2(u + v)))` where the
/// row pass is unscaled and the column pass carries the 2/16.
pub fn forward_dct_quantise(samples: &[[f32; 16]; 16]) -> [i32; 256] {
    // Row pass (OpenSim `DCTLine16`): rowdct[u][y] = w(u)·Σ_n samples[y][n]·c(u,n). The u = 0 sum
    // multiplies by c = 1.0, which is exact, so one dot product serves all u.
    let mut rowdct = [[0.0f32; 16]; 16];
    for (u, (dst, cos_u)) in rowdct.iter_mut().zip(COS.iter()).enumerate() {
        for (d, sample_row) in dst.iter_mut().zip(samples.iter()) {
            let total = dot(sample_row, cos_u);
            *d = if u == 0 { OO_SQRT2 * total } else { total };
        }
    }
    // Column pass (OpenSim `DCTColumn16Wbits`): for horizontal frequency u, over rows n.
    let mut out = [0i32; 256];
    for (u, column) in rowdct.iter().enumerate() {
        for (v, (cos_v, quant_v)) in COS.iter().zip(QUANT.iter()).enumerate() {
            let total = dot(column, cos_v);
            let scaled = if v == 0 { OO_SQRT2 * total } else { total };
            let q = quant_v.get(u).copied().unwrap_or(0.0);
            let pos = ZIGZAG.get(v * N + u).copied().unwrap_or(0);
            if let Some(slot) = out.get_mut(usize::from(pos)) {
                *slot = trunc_to_i32(scaled * q);
            }
        }
    }
    out
}

/// Sequential single-precision dot product `Σ_n a[n]·b[n]`, n ascending (OpenSim's order).
#[inline]
fn dot(a: &[f32; 16], b: &[f32; 16]) -> f32 {
    a.iter().zip(b.iter()).fold(0.0f32, |t, (&a, &b)| t + a * b)
}

/// C#'s `(int)x` for the values that occur: truncation toward zero.
///
/// Rust's `as` from float to int truncates toward zero and saturates (NaN → 0), so it cannot
/// wrap or panic; out-of-range values, which OpenSim never produces, clamp to `i32::MIN/MAX`.
#[allow(clippy::as_conversions)]
#[inline]
pub fn trunc_to_i32(x: f32) -> i32 {
    x as i32
}

#[allow(clippy::indexing_slicing)]
const fn build_zigzag() -> [u8; 256] {
    // The walk of SLV `build_decopy_matrix` / OpenSim `BuildCopyMatrix16`: step right (or down at
    // the edge), run diagonally down-left, step down (or right), run diagonally up-right.
    let mut table = [0u8; 256];
    let (mut i, mut j) = (0usize, 0usize);
    let (mut diag, mut right) = (false, true);
    let mut count = 0u8;
    loop {
        table[j * N + i] = count;
        if count == 255 {
            break;
        }
        count += 1;
        if !diag {
            if right {
                if i < N - 1 {
                    i += 1;
                } else {
                    j += 1;
                }
                right = false;
            } else {
                if j < N - 1 {
                    j += 1;
                } else {
                    i += 1;
                }
                right = true;
            }
            diag = true;
        } else if right {
            i += 1;
            j -= 1;
            if i == N - 1 || j == 0 {
                diag = false;
            }
        } else {
            i -= 1;
            j += 1;
            if j == N - 1 || i == 0 {
                diag = false;
            }
        }
    }
    table
}

#[allow(clippy::indexing_slicing, clippy::as_conversions)]
const fn invert(table: &[u8; 256]) -> [u8; 256] {
    let mut inv = [0u8; 256];
    let mut k = 0;
    while k < 256 {
        inv[table[k] as usize] = k as u8;
        k += 1;
    }
    inv
}

/// `cos` in `f64` for `const` evaluation: reduce to [0, π/2] and sum the Taylor series, which
/// converges there to well below `f64` rounding (checked against `f64::cos` in the tests).
const fn const_cos(x: f64) -> f64 {
    use core::f64::consts::{FRAC_PI_2, PI, TAU};
    let mut x = if x < 0.0 { -x } else { x };
    while x > PI {
        x -= TAU;
    }
    if x < 0.0 {
        x = -x;
    }
    let (x, sign) = if x > FRAC_PI_2 {
        (PI - x, -1.0)
    } else {
        (x, 1.0)
    };
    let x2 = x * x;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while k < 40.0 {
        term = -term * x2 / (k * (k + 1.0));
        sum += term;
        k += 2.0;
    }
    sign * sum
}

#[allow(clippy::indexing_slicing, clippy::as_conversions)]
const fn build_cos() -> [[f32; 16]; 16] {
    let mut table = [[0.0f32; 16]; 16];
    let mut u = 0;
    while u < N {
        let mut n = 0;
        while n < N {
            // Small integers (≤ 465) are exact in f32; the angle is rounded once, as in SLV.
            let m = ((2 * n + 1) * u) as f32;
            let angle = m * (core::f32::consts::PI / 32.0);
            table[u][n] = const_cos(angle as f64) as f32;
            n += 1;
        }
        u += 1;
    }
    table
}

#[allow(clippy::indexing_slicing, clippy::as_conversions)]
const fn build_dequant_zz(unzigzag: &[u8; 256]) -> [f32; 256] {
    let mut table = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        let k = unzigzag[i] as usize;
        table[i] = (1 + 2 * (k / N + k % N)) as f32;
        i += 1;
    }
    table
}

#[allow(clippy::indexing_slicing)]
const fn transpose(table: &[[f32; 16]; 16]) -> [[f32; 16]; 16] {
    let mut out = [[0.0f32; 16]; 16];
    let mut i = 0;
    while i < N {
        let mut j = 0;
        while j < N {
            out[j][i] = table[i][j];
            j += 1;
        }
        i += 1;
    }
    out
}

#[allow(clippy::indexing_slicing)]
const fn build_icol_half(cos: &[[f32; 16]; 16]) -> [[f32; 16]; 8] {
    let mut table = [[0.0f32; 16]; 8];
    let mut n = 0;
    while n < N / 2 {
        let mut v = 0;
        while v < N {
            table[n][v] = if v == 0 {
                OO_SQRT2 * cos[v][n]
            } else {
                cos[v][n]
            };
            v += 1;
        }
        n += 1;
    }
    table
}

#[allow(clippy::indexing_slicing)]
const fn build_icol(cos: &[[f32; 16]; 16]) -> [[f32; 16]; 16] {
    let mut table = [[0.0f32; 16]; 16];
    let mut v = 0;
    while v < N {
        let mut n = 0;
        while n < N {
            table[v][n] = if v == 0 {
                OO_SQRT2 * cos[v][n]
            } else {
                cos[v][n]
            };
            n += 1;
        }
        v += 1;
    }
    table
}

#[allow(clippy::indexing_slicing)]
const fn build_irow(cos: &[[f32; 16]; 16]) -> [[f32; 16]; 16] {
    let mut table = build_icol(cos);
    let mut u = 0;
    while u < N {
        let mut n = 0;
        while n < N {
            table[u][n] *= 2.0 / 16.0;
            n += 1;
        }
        u += 1;
    }
    table
}

#[allow(clippy::indexing_slicing)]
const fn build_irow_half(cos: &[[f32; 16]; 16]) -> [[f32; 8]; 16] {
    let mut table = [[0.0f32; 8]; 16];
    let mut u = 0;
    while u < N {
        let mut n = 0;
        while n < N / 2 {
            let w = if u == 0 {
                OO_SQRT2 * cos[u][n]
            } else {
                cos[u][n]
            };
            table[u][n] = w * (2.0 / 16.0);
            n += 1;
        }
        u += 1;
    }
    table
}

#[allow(clippy::indexing_slicing, clippy::as_conversions)]
const fn build_quant() -> [[f32; 16]; 16] {
    let mut table = [[0.0f32; 16]; 16];
    let mut v = 0;
    while v < N {
        let mut u = 0;
        while u < N {
            // OpenSim: oosob / (1.0f + 2.0f * (i + (float)j)), all in f32.
            table[v][u] = (2.0f32 / 16.0) / (1.0 + 2.0 * (u as f32 + v as f32));
            u += 1;
        }
        v += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::as_conversions,
        clippy::needless_range_loop
    )]

    use super::*;

    /// The zig-zag table exactly as printed in PROTOCOL.md §4.6 (row = y, col = x).
    const SPEC_ZIGZAG: [[u8; 16]; 16] = [
        [0, 1, 5, 6, 14, 15, 27, 28, 44, 45, 65, 66, 90, 91, 119, 120],
        [
            2, 4, 7, 13, 16, 26, 29, 43, 46, 64, 67, 89, 92, 118, 121, 150,
        ],
        [
            3, 8, 12, 17, 25, 30, 42, 47, 63, 68, 88, 93, 117, 122, 149, 151,
        ],
        [
            9, 11, 18, 24, 31, 41, 48, 62, 69, 87, 94, 116, 123, 148, 152, 177,
        ],
        [
            10, 19, 23, 32, 40, 49, 61, 70, 86, 95, 115, 124, 147, 153, 176, 178,
        ],
        [
            20, 22, 33, 39, 50, 60, 71, 85, 96, 114, 125, 146, 154, 175, 179, 200,
        ],
        [
            21, 34, 38, 51, 59, 72, 84, 97, 113, 126, 145, 155, 174, 180, 199, 201,
        ],
        [
            35, 37, 52, 58, 73, 83, 98, 112, 127, 144, 156, 173, 181, 198, 202, 219,
        ],
        [
            36, 53, 57, 74, 82, 99, 111, 128, 143, 157, 172, 182, 197, 203, 218, 220,
        ],
        [
            54, 56, 75, 81, 100, 110, 129, 142, 158, 171, 183, 196, 204, 217, 221, 234,
        ],
        [
            55, 76, 80, 101, 109, 130, 141, 159, 170, 184, 195, 205, 216, 222, 233, 235,
        ],
        [
            77, 79, 102, 108, 131, 140, 160, 169, 185, 194, 206, 215, 223, 232, 236, 245,
        ],
        [
            78, 103, 107, 132, 139, 161, 168, 186, 193, 207, 214, 224, 231, 237, 244, 246,
        ],
        [
            104, 106, 133, 138, 162, 167, 187, 192, 208, 213, 225, 230, 238, 243, 247, 252,
        ],
        [
            105, 134, 137, 163, 166, 188, 191, 209, 212, 226, 229, 239, 242, 248, 251, 253,
        ],
        [
            135, 136, 164, 165, 189, 190, 210, 211, 227, 228, 240, 241, 249, 250, 254, 255,
        ],
    ];

    #[test]
    fn zigzag_matches_spec_table() {
        for row in 0..16 {
            for col in 0..16 {
                assert_eq!(
                    ZIGZAG[row * 16 + col],
                    SPEC_ZIGZAG[row][col],
                    "({col},{row})"
                );
            }
        }
        for i in 0..256 {
            assert_eq!(usize::from(ZIGZAG[usize::from(UNZIGZAG[i])]), i);
            let k = UNZIGZAG[i];
            assert_eq!(DEQUANT_ZZ[i], dequant_factor(k >> 4, k & 15));
        }
    }

    #[test]
    fn cosines_match_runtime_cos() {
        // Same f32 angle, libm cos: the const Taylor series must round to the same f32.
        for u in 0..16 {
            for n in 0..16 {
                let angle = ((2 * n + 1) * u) as f32 * (core::f32::consts::PI / 32.0);
                assert_eq!(COS[u][n], (angle as f64).cos() as f32, "c({u},{n})");
                let exact = ((2 * n + 1) as f64 * u as f64 * core::f64::consts::PI / 32.0).cos();
                // The f32 angle is off by up to half an ulp of 46 rad (2e-6).
                assert!((f64::from(COS[u][n]) - exact).abs() < 3e-6);
            }
        }
        assert!((COS[1][0] - 0.995185).abs() < 1e-6);
        assert!((const_cos(-2.5) - (-2.5f64).cos()).abs() < 1e-15);
    }

    /// The naive 4-loop inverse DCT straight from the §4.6 formula, in f64.
    fn naive_idct(block: &[[f32; 16]; 16]) -> [[f64; 16]; 16] {
        let w = |k: usize| {
            if k == 0 {
                core::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        let c = |u: usize, n: usize| {
            ((2 * n + 1) as f64 * u as f64 * core::f64::consts::PI / 32.0).cos()
        };
        let mut out = [[0.0; 16]; 16];
        for y in 0..16 {
            for x in 0..16 {
                let mut s = 0.0;
                for v in 0..16 {
                    for u in 0..16 {
                        s += w(v) * w(u) * f64::from(block[v][u]) * c(v, y) * c(u, x);
                    }
                }
                out[y][x] = s / 8.0;
            }
        }
        out
    }

    #[test]
    fn separable_idct_matches_naive() {
        let mut block = [[0.0f32; 16]; 16];
        let mut seed = 12345u32;
        for row in block.iter_mut().take(9) {
            for b in row.iter_mut().take(11) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = ((seed >> 16) % 200) as f32 - 100.0;
            }
        }
        let want = naive_idct(&block);
        let mut full = [[1.5f32; 16]; 16];
        inverse_dct_add(&block, 16, 16, &mut full);
        let mut sparse = [[1.5f32; 16]; 16];
        inverse_dct_add(&block, 9, 11, &mut sparse);
        for y in 0..16 {
            for x in 0..16 {
                assert!((f64::from(full[y][x]) - 1.5 - want[y][x]).abs() < 1e-3);
                assert!((sparse[y][x] - full[y][x]).abs() < 1e-3);
            }
        }
        let mut untouched = [[2.0f32; 16]; 16];
        inverse_dct_add(&block, 0, 16, &mut untouched);
        assert_eq!(untouched, [[2.0f32; 16]; 16]);
    }

    #[test]
    fn sparse_idct_matches_naive_in_either_order() {
        // Wide (one row, five columns: rows first), tall (five rows, one column: columns first)
        // and scattered, each reused from one scratch block, which must come back clean.
        let wide = [
            (0u8, 0u8, 40.0f32),
            (0, 1, -7.5),
            (0, 4, 3.0),
            (0, 9, 1.25),
            (0, 15, -2.0),
        ];
        let tall = [
            (0u8, 3u8, 12.0f32),
            (1, 3, -4.0),
            (6, 3, 2.5),
            (11, 3, 1.0),
            (15, 3, -0.5),
        ];
        let scattered = [
            (2u8, 7u8, 9.0f32),
            (5, 1, -3.0),
            (5, 2, 6.0),
            (14, 12, 0.75),
        ];
        let mut sparse = SparseBlock::new();
        for entries in [&wide[..], &tall[..], &scattered[..], &wide[..]] {
            let mut block = [[0.0f32; 16]; 16];
            sparse.clear();
            for &(v, u, b) in entries {
                block[usize::from(v)][usize::from(u)] = b;
                sparse.push(v << 4 | u, b);
            }
            let want = naive_idct(&block);
            let mut out = [[f32::NAN; 16]; 16];
            inverse_dct_sparse(&mut sparse, 0.5, &mut out);
            for y in 0..16 {
                for x in 0..16 {
                    assert!(
                        (f64::from(out[y][x]) - 0.5 - want[y][x]).abs() < 1e-3,
                        "({x},{y})"
                    );
                }
            }
        }
        sparse.clear();
        let mut flat = [[0.0f32; 16]; 16];
        inverse_dct_sparse(&mut sparse, 7.0, &mut flat);
        assert_eq!(flat, [[7.0f32; 16]; 16]);
    }

    proptest::proptest! {
        /// The fast transform, given how far the coefficients reach, equals the direct sum
        /// (`f32`, same cosines) and the `f64` formula on random sparse blocks.
        #[test]
        fn fast_idct_matches_naive_on_random_blocks(
            values in proptest::collection::vec(-100.0f32..100.0, 256),
            rows in 0usize..=16,
            cols in 0usize..=16,
            zero_every in 1usize..5,
            base in -50.0f32..50.0,
        ) {
            let mut block = [[0.0f32; 16]; 16];
            for (k, &value) in values.iter().enumerate() {
                let (v, u) = (k / 16, k % 16);
                if v < rows && u < cols && k % zero_every == 0 {
                    block[v][u] = value;
                }
            }
            let mut fast = [[base; 16]; 16];
            inverse_dct_add(&block, rows, cols, &mut fast);
            let mut naive = [[base; 16]; 16];
            inverse_dct_naive(&block, &mut naive);
            let exact = naive_idct(&block);
            for y in 0..16 {
                for x in 0..16 {
                    proptest::prop_assert!(
                        (fast[y][x] - naive[y][x]).abs() < 1e-3,
                        "({}, {}): {} vs {}", x, y, fast[y][x], naive[y][x]
                    );
                    let want = f64::from(base) + exact[y][x];
                    proptest::prop_assert!((f64::from(naive[y][x]) - want).abs() < 1e-3);
                }
            }
        }
    }

    #[test]
    fn forward_then_inverse_recovers_samples() {
        // Without quantisation loss (scale the samples up so truncation is negligible).
        let mut samples = [[0.0f32; 16]; 16];
        for (y, row) in samples.iter_mut().enumerate() {
            for (x, s) in row.iter_mut().enumerate() {
                *s = 20_000.0 * ((x as f32 * 0.3).sin() + (y as f32 * 0.2).cos());
            }
        }
        let coefs = forward_dct_quantise(&samples);
        let mut block = [[0.0f32; 16]; 16];
        for (i, &q) in coefs.iter().enumerate() {
            let k = usize::from(UNZIGZAG[i]);
            let (row, col) = (k / 16, k % 16);
            block[row][col] = q as f32 * dequant_factor(row as u8, col as u8);
        }
        let mut out = [[0.0f32; 16]; 16];
        inverse_dct_add(&block, 16, 16, &mut out);
        for y in 0..16 {
            for x in 0..16 {
                // Truncation costs at most (1 + 2(u+v)) per coefficient; relative error is small.
                assert!((out[y][x] - samples[y][x]).abs() < 200.0, "({x},{y})");
            }
        }
    }

    #[test]
    fn quant_table_is_opensims() {
        assert_eq!(QUANT[0][0], 0.125);
        assert_eq!(QUANT[1][2], 0.125 / 7.0);
        assert_eq!(dequant_factor(15, 15), 61.0);
        assert_eq!(trunc_to_i32(-2.9), -2);
        assert_eq!(trunc_to_i32(f32::NAN), 0);
    }
}
