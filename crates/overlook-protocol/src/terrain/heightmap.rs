//! A region's heightmap, assembled from decoded terrain patches.
//!
//! Spec: `shared/PROTOCOL.md` §4.6 ("Heightmap assembly": `size / 16` patches per edge, patch
//! (x, y) covering world `(16x .. 16x+15, 16y .. 16y+15)`), §4.8 (the same patch may arrive more
//! than once; the last one wins) and §1.3 / §8 (var regions: any multiple of 256 m up to 4096 m per
//! side, not necessarily square).
//!
//! Layout: one `f32` per square metre, row-major, the south row (y = 0) first and west (x = 0)
//! first in each row — the layout of OpenSim's `terrain save` `.r32` files, so a heightmap can be
//! compared with, or loaded from, one directly.
//!
//! Guarantees: no method panics; patches outside the region are refused with an error.

use super::dct::SparseBlock;
#[cfg(doc)]
use super::decode_layer;
use super::layer::for_each_patch;
use super::patch::{DecodedPatch, decode_heights, patches_for};
use super::{LayerType, PATCH_SIZE, PatchError, to_usize};

/// What [`Heightmap::apply`] did with a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchStatus {
    /// The first copy of this patch.
    New,
    /// The patch had arrived before; the new heights replaced the old ones.
    Duplicate,
}

/// What [`Heightmap::apply_layers`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayersApplied {
    /// Patches written, `(x, y)`, repeats included, in no particular order.
    pub patches: Vec<(u32, u32)>,
    /// One error per layer that failed part-way.
    pub errors: Vec<PatchError>,
}

/// Heights of a whole region, filled in patch by patch.
#[derive(Debug, Clone, PartialEq)]
pub struct Heightmap {
    size_x: u32,
    size_y: u32,
    /// `size_x · size_y` heights, row-major, south row first; 0.0 where no patch has arrived.
    heights: Samples,
    /// One flag per patch, row-major (patch row `py`, column `px` at `py · patches_x + px`).
    received: Vec<bool>,
    received_count: usize,
    duplicates: usize,
}

/// Heights whose first sample starts a 64-byte cache line. A patch row is 16 samples, 64 bytes,
/// and every patch starts at a multiple of 16 samples, so each row it writes is one whole line
/// (16 lines per patch) rather than straddling two (32, each read before it is written): on a
/// 4096 m region, 64 MiB written patch by patch, that is memory traffic, not arithmetic.
#[derive(Debug)]
struct Samples {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

impl Samples {
    /// Samples in a cache line.
    const LINE: usize = 16;

    fn zeroed(len: usize) -> Self {
        let buf = vec![0.0f32; len.saturating_add(Self::LINE)];
        let misaligned = (buf.as_ptr().addr() % 64) / 4;
        let start = Self::LINE.saturating_sub(misaligned) % Self::LINE;
        Samples { buf, start, len }
    }

    fn as_slice(&self) -> &[f32] {
        self.buf
            .get(self.start..self.start.saturating_add(self.len))
            .unwrap_or_default()
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        self.buf
            .get_mut(self.start..self.start.saturating_add(self.len))
            .unwrap_or_default()
    }
}

impl Clone for Samples {
    fn clone(&self) -> Self {
        let mut copy = Samples::zeroed(self.len);
        copy.as_mut_slice().copy_from_slice(self.as_slice());
        copy
    }
}

impl PartialEq for Samples {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Heightmap {
    /// Smallest region side in metres.
    pub const MIN_SIZE: u32 = 256;
    /// Largest region side in metres.
    pub const MAX_SIZE: u32 = 4096;

    /// Whether a region side is one OpenSim accepts, and so one a heightmap can have: a
    /// multiple of 256 metres from [`Self::MIN_SIZE`] to [`Self::MAX_SIZE`].
    pub fn valid_side(side: u32) -> bool {
        (Self::MIN_SIZE..=Self::MAX_SIZE).contains(&side) && side.is_multiple_of(256)
    }

    /// An empty heightmap for a region of `size_x` × `size_y` metres.
    ///
    /// # Errors
    /// [`PatchError::BadRegionSize`] unless both sides are [valid](Self::valid_side).
    pub fn new(size_x: u32, size_y: u32) -> Result<Self, PatchError> {
        if !Self::valid_side(size_x) || !Self::valid_side(size_y) {
            return Err(PatchError::BadRegionSize {
                x: size_x,
                y: size_y,
            });
        }
        let samples = to_usize(size_x).saturating_mul(to_usize(size_y));
        let patches = to_usize(patches_for(size_x)).saturating_mul(to_usize(patches_for(size_y)));
        Ok(Self {
            size_x,
            size_y,
            heights: Samples::zeroed(samples),
            received: vec![false; patches],
            received_count: 0,
            duplicates: 0,
        })
    }

    /// A complete heightmap from raw `.r32` bytes (little-endian `f32`, row-major, south row
    /// first), as written by OpenSim's `terrain save`.
    ///
    /// # Errors
    /// [`PatchError::BadRegionSize`] as for [`Heightmap::new`]; [`PatchError::BadR32Length`]
    /// unless `bytes` holds exactly one `f32` per square metre.
    pub fn from_r32(bytes: &[u8], size_x: u32, size_y: u32) -> Result<Self, PatchError> {
        let mut map = Self::new(size_x, size_y)?;
        let expected = map.heights().len().saturating_mul(4);
        if bytes.len() != expected {
            return Err(PatchError::BadR32Length {
                expected,
                actual: bytes.len(),
            });
        }
        let (words, _) = bytes.as_chunks::<4>();
        for (h, word) in map.heights.as_mut_slice().iter_mut().zip(words) {
            *h = f32::from_le_bytes(*word);
        }
        map.received.fill(true);
        map.received_count = map.received.len();
        Ok(map)
    }

    /// East-west size in metres.
    pub fn size_x(&self) -> u32 {
        self.size_x
    }

    /// North-south size in metres.
    pub fn size_y(&self) -> u32 {
        self.size_y
    }

    /// Patches per row (`size_x / 16`).
    pub fn patches_x(&self) -> u32 {
        patches_for(self.size_x)
    }

    /// Patches per column (`size_y / 16`).
    pub fn patches_y(&self) -> u32 {
        patches_for(self.size_y)
    }

    /// Writes a decoded patch into the map; a repeated patch replaces the earlier copy.
    ///
    /// # Errors
    /// [`PatchError::PatchOutOfRange`] if the patch lies outside the region (the map is unchanged).
    pub fn apply(&mut self, patch: &DecodedPatch) -> Result<PatchStatus, PatchError> {
        let index = self
            .patch_index(patch.x, patch.y)
            .ok_or(PatchError::PatchOutOfRange {
                x: patch.x,
                y: patch.y,
                patches_x: self.patches_x(),
                patches_y: self.patches_y(),
            })?;
        let (rows, _) = patch.heights.as_chunks::<16>();
        self.write_patch(patch.x, patch.y, rows);
        let seen = self
            .received
            .get_mut(index)
            .map(|flag| core::mem::replace(flag, true));
        Ok(self.note(seen))
    }

    /// Decodes the `Data` field of a land LayerData message straight into the map, without
    /// collecting the patches first (what a viewer wants; [`decode_layer`] then
    /// [`Heightmap::apply`] gives the same heights). Returns the layer type; other layers than
    /// land are skipped and change nothing.
    ///
    /// Each patch is written once its coefficients have been read without error, so after an
    /// error the patches before the bad one have been applied (they are valid patches).
    ///
    /// # Errors
    /// As [`decode_layer`], for the map's region size.
    pub fn apply_layer(&mut self, data: &[u8]) -> Result<LayerType, PatchError> {
        let mut block = SparseBlock::new();
        let mut heights = [[0.0f32; 16]; 16];
        for_each_patch(data, self.size_x, self.size_y, |r, header| {
            decode_heights(r, header, &mut heights, &mut block)?;
            self.write_patch(header.x, header.y, &heights);
            let seen = self
                .patch_index(header.x, header.y)
                .and_then(|i| self.received.get_mut(i))
                .map(|flag| core::mem::replace(flag, true));
            self.note(seen);
            Ok(())
        })
    }

    /// Decodes many land layers into the map on up to `threads` threads (one for a single layer,
    /// and always one on wasm, which cannot spawn threads: there `threads` is ignored) and returns the patches written, in no particular order, with the errors of
    /// the layers that failed (their patches before the bad one are applied, as with
    /// [`Heightmap::apply_layer`]).
    ///
    /// For bulk input — a replay, a burst of packets in one frame, a benchmark — where decoding
    /// dominates: layers are shared out among the threads, and each writes its patches straight
    /// into the map, one lock per patch row. When two layers carry the same patch, which copy
    /// stays is not defined (a live stream's repeats arrive in separate frames, in order).
    pub fn apply_layers(&mut self, layers: &[&[u8]], threads: usize) -> LayersApplied {
        let threads = if cfg!(target_family = "wasm") {
            1
        } else {
            threads.clamp(1, layers.len().max(1))
        };
        let (size_x, size_y) = (self.size_x, self.size_y);
        let width = to_usize(size_x);
        let side = to_usize(PATCH_SIZE);
        let rows: Vec<std::sync::Mutex<&mut [f32]>> = self
            .heights
            .as_mut_slice()
            .chunks_mut(width.saturating_mul(side).max(1))
            .map(std::sync::Mutex::new)
            .collect();
        let decode_part = |part: &[&[u8]]| {
            let mut block = SparseBlock::new();
            let mut heights = [[0.0f32; 16]; 16];
            let mut done = LayersApplied::default();
            for data in part {
                // The lock of the patch row being written, kept while the layer's patches stay
                // in that row (the usual order), taken again when they move on.
                let mut held: Option<(u32, std::sync::MutexGuard<'_, &mut [f32]>)> = None;
                let result = for_each_patch(data, size_x, size_y, |r, header| {
                    decode_heights(r, header, &mut heights, &mut block)?;
                    if held.as_ref().is_none_or(|(y, _)| *y != header.y) {
                        held = None;
                        // A poisoned lock only means another thread panicked mid-copy; the
                        // slice is still plain floats.
                        held = rows.get(to_usize(header.y)).map(|row| {
                            let guard = row
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            (header.y, guard)
                        });
                    }
                    if let Some((_, row)) = held.as_mut() {
                        let x0 = to_usize(header.x).saturating_mul(side);
                        for (dst, src) in row.chunks_mut(width.max(1)).zip(&heights) {
                            if let Some(dst) = dst.get_mut(x0..x0.saturating_add(side)) {
                                dst.copy_from_slice(src);
                            }
                        }
                    }
                    done.patches.push((header.x, header.y));
                    Ok(())
                });
                if let Err(e) = result {
                    done.errors.push(e);
                }
            }
            done
        };
        let per_thread = layers.len().div_ceil(threads).max(1);
        let mut done = if threads == 1 {
            decode_part(layers)
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = layers
                    .chunks(per_thread)
                    .map(|part| scope.spawn(|| decode_part(part)))
                    .collect();
                let mut all = LayersApplied::default();
                for handle in handles {
                    match handle.join() {
                        Ok(part) => {
                            all.patches.extend(part.patches);
                            all.errors.extend(part.errors);
                        }
                        Err(_) => all.errors.push(PatchError::Truncated),
                    }
                }
                all
            })
        };
        drop(rows);
        for &(x, y) in &done.patches {
            let seen = self
                .patch_index(x, y)
                .and_then(|i| self.received.get_mut(i))
                .map(|flag| core::mem::replace(flag, true));
            self.note(seen);
        }
        done.patches.shrink_to_fit();
        done
    }

    /// Copies 16 rows of 16 heights to patch `(px, py)`; rows outside the map are dropped.
    #[inline]
    fn write_patch(&mut self, px: u32, py: u32, rows: &[[f32; 16]]) {
        let side = to_usize(PATCH_SIZE);
        let width = to_usize(self.size_x);
        let x0 = to_usize(px).saturating_mul(side);
        let start = to_usize(py)
            .saturating_mul(side)
            .saturating_mul(width)
            .saturating_add(x0);
        let Some(area) = self.heights.as_mut_slice().get_mut(start..) else {
            return;
        };
        for (dst, src) in area.chunks_mut(width.max(1)).zip(rows) {
            if let Some(dst) = dst.get_mut(..side) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Counts a patch as received; `seen` is whether it had been before.
    fn note(&mut self, seen: Option<bool>) -> PatchStatus {
        if seen == Some(true) {
            self.duplicates = self.duplicates.saturating_add(1);
            PatchStatus::Duplicate
        } else {
            self.received_count = self.received_count.saturating_add(1);
            PatchStatus::New
        }
    }

    /// The height at metre `(x, y)` (x east, y north), or `None` outside the region or where its
    /// patch has not arrived yet.
    pub fn height(&self, x: u32, y: u32) -> Option<f32> {
        if x >= self.size_x || y >= self.size_y {
            return None;
        }
        let index = self.patch_index(x / PATCH_SIZE, y / PATCH_SIZE)?;
        if !self.received.get(index).copied().unwrap_or(false) {
            return None;
        }
        let offset = to_usize(y)
            .saturating_mul(to_usize(self.size_x))
            .saturating_add(to_usize(x));
        self.heights.as_slice().get(offset).copied()
    }

    /// The 256 heights of patch `(px, py)` (index `row * 16 + col`), or `None` outside the region.
    /// Samples of a patch that has not arrived are 0.0.
    pub fn patch(&self, px: u32, py: u32) -> Option<[f32; 256]> {
        self.patch_index(px, py)?;
        let side = to_usize(PATCH_SIZE);
        let width = to_usize(self.size_x);
        let x0 = to_usize(px).saturating_mul(side);
        let y0 = to_usize(py).saturating_mul(side);
        let mut out = [0.0f32; 256];
        let (rows, _) = out.as_chunks_mut::<16>();
        for (row, dst) in rows.iter_mut().enumerate() {
            let start = (y0 + row).saturating_mul(width).saturating_add(x0);
            let src = self
                .heights
                .as_slice()
                .get(start..start.saturating_add(side))?;
            dst.copy_from_slice(<&[f32; 16]>::try_from(src).ok()?);
        }
        Some(out)
    }

    /// Whether patch `(px, py)` has arrived.
    pub fn has_patch(&self, px: u32, py: u32) -> bool {
        self.patch_index(px, py)
            .and_then(|i| self.received.get(i).copied())
            .unwrap_or(false)
    }

    /// Distinct patches received so far.
    pub fn patches_received(&self) -> usize {
        self.received_count
    }

    /// Patches the region has in all.
    pub fn patches_total(&self) -> usize {
        self.received.len()
    }

    /// True once every patch has arrived.
    pub fn is_complete(&self) -> bool {
        self.received_count == self.received.len()
    }

    /// Patches not received yet, as `(px, py)`, south row first.
    pub fn missing(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let patches_x = to_usize(self.patches_x()).max(1);
        self.received
            .iter()
            .enumerate()
            .filter(|&(_, &seen)| !seen)
            .filter_map(move |(i, _)| {
                let px = u32::try_from(i % patches_x).ok()?;
                let py = u32::try_from(i / patches_x).ok()?;
                Some((px, py))
            })
    }

    /// How many patches arrived again after their first copy.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// All heights, row-major, south row first (the `.r32` layout); 0.0 where no patch arrived.
    pub fn heights(&self) -> &[f32] {
        self.heights.as_slice()
    }

    /// Index of patch `(px, py)` in `received`, if inside the region.
    fn patch_index(&self, px: u32, py: u32) -> Option<usize> {
        if px >= self.patches_x() || py >= self.patches_y() {
            return None;
        }
        to_usize(py)
            .checked_mul(to_usize(self.patches_x()))?
            .checked_add(to_usize(px))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terrain::{decode_layer, encode_layer};

    #[test]
    fn apply_layer_matches_decode_then_apply() {
        let rough = |px: u32, py: u32| {
            let mut h = [0.0f32; 256];
            for (i, h) in h.iter_mut().enumerate() {
                let (x, y) = (
                    (px * 16) as f32 + (i % 16) as f32,
                    (py * 16) as f32 + (i / 16) as f32,
                );
                *h = 20.0 + 8.0 * (x / 23.0).sin() * (y / 17.0).cos() + 0.3 * ((x * y) / 5.0).sin();
            }
            h
        };
        let heights: Vec<(u32, u32, [f32; 256])> = [(0, 0), (5, 3), (31, 31), (7, 20), (5, 3)]
            .iter()
            .map(|&(x, y)| (x, y, rough(x, y)))
            .chain([(2, 2, [4.5f32; 256])])
            .collect();
        let refs: Vec<(u32, u32, &[f32; 256])> =
            heights.iter().map(|(x, y, h)| (*x, *y, h)).collect();
        let data = encode_layer(&refs, true);
        let mut direct = Heightmap::new(512, 512).unwrap();
        assert_eq!(direct.apply_layer(&data), Ok(LayerType::LandExtended));
        let mut via = Heightmap::new(512, 512).unwrap();
        for p in &decode_layer(&data, 512, 512).unwrap().patches {
            via.apply(p).unwrap();
        }
        assert_eq!(direct, via);
        assert_eq!((direct.patches_received(), direct.duplicates()), (5, 1));
        // A patch outside the region stops the layer with the error `decode_layer` gives.
        let mut small = Heightmap::new(256, 256).unwrap();
        assert!(matches!(
            small.apply_layer(&data),
            Err(PatchError::PatchOutOfRange { x: 31, y: 31, .. })
        ));
        assert_eq!(small.patches_received(), 2);
    }

    #[test]
    fn apply_layers_on_threads_matches_one_by_one() {
        // A 768 × 512 region in layers of 7 patches each, some flat, decoded on 1 and 3 threads.
        let (w, h) = (768u32, 512u32);
        let all: Vec<(u32, u32, [f32; 256])> = (0..h / 16)
            .flat_map(|py| (0..w / 16).map(move |px| (px, py)))
            .map(|(px, py)| {
                let heights = core::array::from_fn(|k| {
                    let (x, y) = (
                        (px * 16) as f32 + (k % 16) as f32,
                        (py * 16) as f32 + (k / 16) as f32,
                    );
                    if px % 5 == 0 {
                        21.0
                    } else {
                        20.0 + 6.0 * (x / 19.0).sin() + 4.0 * (y / 29.0).cos()
                    }
                });
                (px, py, heights)
            })
            .collect();
        let layers: Vec<Vec<u8>> = all
            .chunks(7)
            .map(|c| {
                let refs: Vec<(u32, u32, &[f32; 256])> =
                    c.iter().map(|(x, y, h)| (*x, *y, h)).collect();
                encode_layer(&refs, true)
            })
            .collect();
        let slices: Vec<&[u8]> = layers.iter().map(Vec::as_slice).collect();
        let mut one = Heightmap::new(w, h).unwrap();
        for data in &slices {
            one.apply_layer(data).unwrap();
        }
        for threads in [1, 3] {
            let mut many = Heightmap::new(w, h).unwrap();
            let done = many.apply_layers(&slices, threads);
            assert!(done.errors.is_empty(), "{:?}", done.errors);
            assert_eq!(done.patches.len(), all.len());
            assert_eq!(many, one, "{threads} threads");
            assert!(many.is_complete());
        }
        // A layer that does not fit the region reports its error; the others still land.
        let mut small = Heightmap::new(256, 256).unwrap();
        let done = small.apply_layers(&slices, 2);
        assert!(!done.errors.is_empty());
        assert!(small.patches_received() > 0);
        assert_eq!(
            small.patches_received(),
            done.patches.len() - small.duplicates()
        );
    }

    fn patch(x: u32, y: u32, f: impl Fn(usize, usize) -> f32) -> DecodedPatch {
        DecodedPatch {
            x,
            y,
            heights: core::array::from_fn(|k| f(k % 16, k / 16)),
        }
    }

    #[test]
    fn rejects_bad_region_sizes() {
        for (x, y) in [(0, 256), (128, 256), (256, 300), (4352, 256), (256, 8192)] {
            assert_eq!(
                Heightmap::new(x, y),
                Err(PatchError::BadRegionSize { x, y })
            );
        }
        for (x, y) in [(256, 256), (512, 256), (4096, 4096), (768, 1024)] {
            let map = Heightmap::new(x, y).unwrap();
            assert_eq!(map.patches_total(), (x / 16 * (y / 16)) as usize);
            assert_eq!((map.size_x(), map.size_y()), (x, y));
        }
    }

    #[test]
    fn places_patches_and_tracks_progress() {
        let mut map = Heightmap::new(512, 256).unwrap();
        assert_eq!(map.patches_total(), 512);
        assert_eq!(map.missing().count(), 512);
        assert_eq!(map.height(0, 0), None);

        let p = patch(31, 15, |col, row| (row * 100 + col) as f32);
        assert_eq!(map.apply(&p), Ok(PatchStatus::New));
        assert_eq!(map.height(31 * 16 + 3, 15 * 16 + 2), Some(203.0));
        assert_eq!(map.height(511, 255), Some(1515.0));
        assert_eq!(map.height(512, 0), None);
        assert_eq!(map.heights()[255 * 512 + 511], 1515.0);
        // Each patch row starts a cache line, in this map and in its clone.
        assert_eq!(map.heights().as_ptr().addr() % 64, 0);
        let copy = map.clone();
        assert_eq!(copy.heights().as_ptr().addr() % 64, 0);
        assert_eq!(copy, map);
        assert_eq!(map.patch(31, 15).unwrap(), p.heights);
        assert!(map.has_patch(31, 15));
        assert!(!map.missing().any(|xy| xy == (31, 15)));
        assert_eq!(map.missing().next(), Some((0, 0)));

        let again = patch(31, 15, |_, _| 7.0);
        assert_eq!(map.apply(&again), Ok(PatchStatus::Duplicate));
        assert_eq!(map.height(511, 255), Some(7.0));
        assert_eq!((map.patches_received(), map.duplicates()), (1, 1));

        assert!(matches!(
            map.apply(&patch(32, 0, |_, _| 0.0)),
            Err(PatchError::PatchOutOfRange { .. })
        ));
        assert!(matches!(
            map.apply(&patch(0, 16, |_, _| 0.0)),
            Err(PatchError::PatchOutOfRange { .. })
        ));

        for py in 0..16 {
            for px in 0..32 {
                map.apply(&patch(px, py, |_, _| 1.0)).unwrap();
            }
        }
        assert!(map.is_complete());
        assert_eq!(map.missing().count(), 0);
        assert_eq!(map.duplicates(), 2);
    }

    #[test]
    fn loads_r32() {
        let heights: Vec<f32> = (0..256 * 512).map(|i| i as f32 * 0.5).collect();
        let bytes: Vec<u8> = heights.iter().flat_map(|h| h.to_le_bytes()).collect();
        let map = Heightmap::from_r32(&bytes, 256, 512).unwrap();
        assert!(map.is_complete());
        assert_eq!(map.heights(), &heights[..]);
        assert_eq!(map.height(3, 2), Some((2 * 256 + 3) as f32 * 0.5));
        assert_eq!(
            Heightmap::from_r32(&bytes[1..], 256, 512),
            Err(PatchError::BadR32Length {
                expected: bytes.len(),
                actual: bytes.len() - 1
            })
        );
    }
}
