//! The embedded region's terrain: where the heights come from and how they go on the wire.
//!
//! - [`island`]: a deterministic, seeded procedural island shaped like OpenSim's default
//!   ("pinhead island": `max(25 − 0.01·r², 10 − 0.001·r², 0)` around the centre, water at
//!   20 m), with low value noise on the flanks and sea floor and a flattened beach band at the
//!   waterline. The centre is exactly 25 m, so an avatar placed at `<128, 128>` of a 256 m region
//!   stands at about 26 m, as in the captures (PROTOCOL §8).
//! - [`from_r32`] and [`from_png`]: heightmaps from files (OpenSim's `terrain save` `.r32`, or a
//!   16-bit grayscale PNG mapped to a height range); [`TerrainSource`] picks one and loads it.
//! - [`layer_data_packets`]: the LayerData `Data` blobs of chosen patches of a heightmap, each
//!   patch encoded once and several packed per blob in the order given, as OpenSim 0.9.2.2 sends
//!   them (PROTOCOL §4.7, §8); the region's terrain stream picks the patches, nearest first
//!   around the agent, in paced rounds.
//! - [`height_at`] and [`collision_plane`]: the ground under a point, for placing objects and
//!   avatars.
//!
//! Everything here is a pure function of its arguments except [`TerrainSource::load`], which
//! reads the file it names. Nothing panics on file contents: bad input is a [`TerrainError`].

use std::path::PathBuf;

use overlook_protocol::terrain::{DecodedPatch, Heightmap, PATCH_SIZE, PatchError};
use overlook_protocol::types::{Vec3, Vec4};

mod packets;
mod png_map;
pub(crate) mod shape;

pub use packets::{PackedLayer, layer_data_packets};
pub use png_map::from_png;

/// Water height of the default region, metres.
pub const WATER_HEIGHT: f32 = 20.0;

/// Height of the island's centre, metres.
pub const ISLAND_PEAK: f32 = 25.0;

/// Why a heightmap could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TerrainError {
    /// A region side was not a multiple of 256 between 256 and 4096 metres.
    #[error("unsupported region size {x}x{y} (each side 256..=4096, a multiple of 256)")]
    BadSize {
        /// East-west size.
        x: u32,
        /// North-south size.
        y: u32,
    },
    /// An `.r32` file did not hold 4 bytes per square metre of the region.
    #[error("r32 heightmap of {actual} bytes, expected {expected} for the region size")]
    BadR32Length {
        /// Bytes the region size needs.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// An `.r32` file's length is no valid square region (when no size was given).
    #[error("r32 heightmap of {0} bytes is no square region of 256..=4096 m; give the size")]
    UnknownR32Size(usize),
    /// A height was NaN or infinite.
    #[error("non-finite height at ({x}, {y})")]
    NonFinite {
        /// East.
        x: u32,
        /// North.
        y: u32,
    },
    /// The height range was not finite with `min <= max`.
    #[error("bad height range {min}:{max}")]
    BadRange {
        /// Height of black.
        min: f32,
        /// Height of white.
        max: f32,
    },
    /// The PNG could not be decoded.
    #[error("PNG: {0}")]
    Png(String),
    /// The PNG is not grayscale at 8 or 16 bits.
    #[error("PNG must be 16-bit (or 8-bit) grayscale, got {0}")]
    PngFormat(String),
    /// A heightmap file's size disagrees with the region size asked for.
    #[error("heightmap is {got_x}x{got_y} m but the region is {want_x}x{want_y} m")]
    SizeMismatch {
        /// The file's east-west size.
        got_x: u32,
        /// The file's north-south size.
        got_y: u32,
        /// The requested east-west size.
        want_x: u32,
        /// The requested north-south size.
        want_y: u32,
    },
    /// A terrain file name with no known extension (`.r32`, `.raw`, `.png`).
    #[error("unknown terrain file type {0:?} (expected .r32 or .png)")]
    UnknownFileType(PathBuf),
    /// The heightmap refused a patch (not expected from the generators here).
    #[error("heightmap: {0}")]
    Heightmap(PatchError),
    /// Reading the file failed.
    #[error("reading {path:?}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl From<PatchError> for TerrainError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::BadR32Length { expected, actual } => {
                TerrainError::BadR32Length { expected, actual }
            }
            PatchError::BadRegionSize { x, y } => TerrainError::BadSize { x, y },
            other => TerrainError::Heightmap(other),
        }
    }
}

/// The seeded procedural island for a region of `size_x` × `size_y` metres.
///
/// Centred on the region; the radial profile is OpenSim's default island scaled by
/// `min(size_x, size_y) / 256` (so a 256 m region gets OpenSim's exact shape: 25 m at the centre,
/// the coast about 22 m out, a shelf 0–10 m deep below the water out to 100 m). Value noise of up
/// to ±1.5 m (cells of 64, 32 and 16 m, seeded by `seed`) roughens everything beyond 20 m from
/// the centre (scaled), and heights between 19.2 and 21.6 m are remapped to a gentler slope
/// around 20.4 m: the beach. The central 20 m are the same for every seed.
///
/// # Errors
/// [`TerrainError::BadSize`] unless both sides are multiples of 256 from 256 to 4096.
pub fn island(size_x: u32, size_y: u32, seed: u64) -> Result<Heightmap, TerrainError> {
    let mut map = Heightmap::new(size_x, size_y)?;
    let profile = shape::Island::new(size_x, size_y, seed);
    for py in 0..size_y / PATCH_SIZE {
        for px in 0..size_x / PATCH_SIZE {
            let mut patch = DecodedPatch {
                x: px,
                y: py,
                heights: [0.0; 256],
            };
            for (i, h) in (0u32..).zip(patch.heights.iter_mut()) {
                *h = profile.height(px * PATCH_SIZE + i % 16, py * PATCH_SIZE + i / 16);
            }
            map.apply(&patch)?;
        }
    }
    Ok(map)
}

/// A heightmap from raw `.r32` bytes: little-endian `f32`, row-major, the south row (y = 0)
/// first and west first in each row — OpenSim's `terrain save` layout.
///
/// # Errors
/// [`TerrainError::BadSize`] for an invalid region size, [`TerrainError::BadR32Length`] unless
/// there are exactly `4 · size_x · size_y` bytes, [`TerrainError::NonFinite`] for a NaN or
/// infinite height.
pub fn from_r32(bytes: &[u8], size_x: u32, size_y: u32) -> Result<Heightmap, TerrainError> {
    if !Heightmap::valid_side(size_x) || !Heightmap::valid_side(size_y) {
        return Err(TerrainError::BadSize {
            x: size_x,
            y: size_y,
        });
    }
    let map = Heightmap::from_r32(bytes, size_x, size_y)?;
    check_finite(&map)?;
    Ok(map)
}

/// Rejects a heightmap with a NaN or infinite sample.
pub(crate) fn check_finite(map: &Heightmap) -> Result<(), TerrainError> {
    let width = usize::try_from(map.size_x()).unwrap_or(usize::MAX).max(1);
    match map.heights().iter().position(|h| !h.is_finite()) {
        None => Ok(()),
        Some(i) => Err(TerrainError::NonFinite {
            x: u32::try_from(i % width).unwrap_or(u32::MAX),
            y: u32::try_from(i / width).unwrap_or(u32::MAX),
        }),
    }
}

/// Where the region's heights come from (`overlook sim --terrain FILE --height-range MIN:MAX
/// --seed N`).
#[derive(Debug, Clone, PartialEq)]
pub enum TerrainSource {
    /// The procedural [`island`].
    Island {
        /// Noise seed.
        seed: u64,
    },
    /// An OpenSim `.r32` file ([`from_r32`]).
    R32(PathBuf),
    /// A grayscale PNG ([`from_png`]): black is `min`, white is `max`.
    Png {
        /// The file.
        path: PathBuf,
        /// Height of black, metres.
        min: f32,
        /// Height of white, metres.
        max: f32,
    },
}

impl Default for TerrainSource {
    /// The island with seed 0.
    fn default() -> Self {
        TerrainSource::Island { seed: 0 }
    }
}

impl TerrainSource {
    /// The default PNG height range, `0:128`.
    pub const DEFAULT_RANGE: (f32, f32) = (0.0, 128.0);

    /// A file source chosen by extension: `.r32`/`.raw` or `.png` (case-insensitive); `range` is
    /// used for PNGs.
    ///
    /// # Errors
    /// [`TerrainError::UnknownFileType`] for any other extension.
    pub fn from_path(path: impl Into<PathBuf>, range: (f32, f32)) -> Result<Self, TerrainError> {
        let path = path.into();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("r32" | "raw") => Ok(TerrainSource::R32(path)),
            Some("png") => Ok(TerrainSource::Png {
                path,
                min: range.0,
                max: range.1,
            }),
            _ => Err(TerrainError::UnknownFileType(path)),
        }
    }

    /// Makes the heightmap. `size` is the region size asked for; `None` lets a file decide (a
    /// PNG by its dimensions, an `.r32` when its length is a square region) and gives the island
    /// 256 × 256 m.
    ///
    /// # Errors
    /// Any [`TerrainError`]: unreadable or malformed file, invalid size, or a file whose size
    /// disagrees with `size`.
    pub fn load(&self, size: Option<(u32, u32)>) -> Result<Heightmap, TerrainError> {
        if let Some((x, y)) = size
            && (!Heightmap::valid_side(x) || !Heightmap::valid_side(y))
        {
            return Err(TerrainError::BadSize { x, y });
        }
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| TerrainError::Io {
                path: path.clone(),
                source,
            })
        };
        match self {
            TerrainSource::Island { seed } => {
                let (x, y) = size.unwrap_or((256, 256));
                island(x, y, *seed)
            }
            TerrainSource::R32(path) => {
                let bytes = read(path)?;
                let (x, y) = match size {
                    Some(s) => s,
                    None => square_r32_side(bytes.len())
                        .map(|s| (s, s))
                        .ok_or(TerrainError::UnknownR32Size(bytes.len()))?,
                };
                from_r32(&bytes, x, y)
            }
            TerrainSource::Png { path, min, max } => {
                let map = from_png(&read(path)?, *min, *max)?;
                match size {
                    Some((x, y)) if (x, y) != (map.size_x(), map.size_y()) => {
                        Err(TerrainError::SizeMismatch {
                            got_x: map.size_x(),
                            got_y: map.size_y(),
                            want_x: x,
                            want_y: y,
                        })
                    }
                    _ => Ok(map),
                }
            }
        }
    }
}

/// The side of a square region whose `.r32` file has `len` bytes.
fn square_r32_side(len: usize) -> Option<u32> {
    (1..=16u32)
        .map(|k| k * 256)
        .find(|&s| usize::try_from(s).ok().map(|s| s * s * 4) == Some(len))
}

/// The ground height at region position `(x, y)` metres, bilinear between samples; positions
/// outside the region are clamped to its edge. Patches not received read as 0.
pub fn height_at(map: &Heightmap, x: f32, y: f32) -> f32 {
    let max_x = map.size_x().saturating_sub(1);
    let max_y = map.size_y().saturating_sub(1);
    let fx = x.clamp(0.0, shape::f32_of(max_x));
    let fy = y.clamp(0.0, shape::f32_of(max_y));
    let (x0, y0) = (shape::floor_u32(fx), shape::floor_u32(fy));
    let (x1, y1) = ((x0 + 1).min(max_x), (y0 + 1).min(max_y));
    let (tx, ty) = (fx - shape::f32_of(x0), fy - shape::f32_of(y0));
    let h = |x, y| map.height(x, y).unwrap_or(0.0);
    let south = h(x0, y0) + (h(x1, y0) - h(x0, y0)) * tx;
    let north = h(x0, y1) + (h(x1, y1) - h(x0, y1)) * tx;
    south + (north - south) * ty
}

/// The ground plane under `(x, y)` as an avatar's collision plane `(n.x, n.y, n.z, d)`: unit
/// normal `n` from the height gradient and `d = n · p` for the ground point `p` (the form
/// OpenSim sends once an avatar stands, PROTOCOL §3.9).
pub fn collision_plane(map: &Heightmap, x: f32, y: f32) -> Vec4 {
    let dzdx = (height_at(map, x + 1.0, y) - height_at(map, x - 1.0, y)) * 0.5;
    let dzdy = (height_at(map, x, y + 1.0) - height_at(map, x, y - 1.0)) * 0.5;
    let len = (dzdx * dzdx + dzdy * dzdy + 1.0).sqrt();
    let n = Vec3::new(-dzdx / len, -dzdy / len, 1.0 / len);
    let z = height_at(map, x, y);
    Vec4 {
        x: n.x,
        y: n.y,
        z: n.z,
        w: n.x * x + n.y * y + n.z * z,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED_R32: &str = "test-region.terrain.r32";

    fn edge_samples(map: &Heightmap) -> Vec<f32> {
        let (w, h) = (map.size_x(), map.size_y());
        let mut out = Vec::new();
        for x in 0..w {
            out.push(map.height(x, 0).unwrap());
            out.push(map.height(x, h - 1).unwrap());
        }
        for y in 0..h {
            out.push(map.height(0, y).unwrap());
            out.push(map.height(w - 1, y).unwrap());
        }
        out
    }

    #[test]
    fn island_is_deterministic_per_seed() {
        let a = island(256, 256, 42).unwrap();
        assert_eq!(a, island(256, 256, 42).unwrap());
        let b = island(256, 256, 43).unwrap();
        let differing = a
            .heights()
            .iter()
            .zip(b.heights())
            .filter(|(x, y)| (*x - *y).abs() > 0.01)
            .count();
        assert!(differing > 10_000, "{differing}");
    }

    #[test]
    fn island_has_opensims_shape() {
        let map = island(256, 256, 0).unwrap();
        assert!(map.is_complete());
        assert_eq!(map.height(128, 128), Some(ISLAND_PEAK));
        assert!((height_at(&map, 128.0, 128.0) - 25.0).abs() < 0.01);
        // The placement of the captures: 25 m ground, the avatar's centre ~1 m above it.
        let max = map.heights().iter().copied().fold(f32::MIN, f32::max);
        assert!((max - 25.0).abs() < 0.01, "{max}");
        let above = map.heights().iter().filter(|&&h| h > WATER_HEIGHT).count();
        let below = map.heights().iter().filter(|&&h| h < WATER_HEIGHT).count();
        // A coast: an island of roughly 22 m radius (~1500 m²), the rest under water.
        assert!((800..4000).contains(&above), "{above} samples above water");
        assert!(below > 60_000);
        // Land below the water: a shelf between 0 and 10 m out to ~100 m.
        let shelf = map.height(128 + 60, 128).unwrap();
        assert!((3.0..10.0).contains(&shelf), "{shelf}");
        assert!(edge_samples(&map).iter().all(|&h| h < WATER_HEIGHT - 15.0));
        // The beach: just above the water the ground is flatter than the cone above it.
        let ring = |r: f32| height_at(&map, 128.0 + r, 128.0);
        assert!(ring(10.0) > 23.0 && ring(30.0) < WATER_HEIGHT);
    }

    #[test]
    fn larger_and_oblong_regions_keep_the_island_centred() {
        for (w, h) in [(512, 256), (256, 512), (1024, 1024)] {
            let map = island(w, h, 9).unwrap();
            assert_eq!((map.size_x(), map.size_y()), (w, h));
            assert!(map.is_complete());
            assert_eq!(map.height(w / 2, h / 2), Some(ISLAND_PEAK), "{w}x{h}");
            assert!(edge_samples(&map).iter().all(|&h| h < WATER_HEIGHT));
            let above = map.heights().iter().filter(|&&v| v > WATER_HEIGHT).count();
            assert!(above > 800, "{w}x{h}: {above}");
        }
        // 1024 m: the island is scaled up 4×.
        let big = island(1024, 1024, 9).unwrap();
        assert!(big.height(512 + 60, 512).unwrap() > WATER_HEIGHT);
    }

    #[test]
    fn bad_sizes_are_errors() {
        for (w, h) in [(300, 256), (0, 256), (256, 8192), (128, 128)] {
            assert!(matches!(island(w, h, 0), Err(TerrainError::BadSize { .. })));
            assert!(matches!(
                from_r32(&[], w, h),
                Err(TerrainError::BadSize { .. })
            ));
        }
    }

    #[test]
    fn r32_roundtrips_the_captured_heightmap() {
        let bytes = overlook_testdata::read_bytes(CAPTURED_R32);
        let map = from_r32(&bytes, 256, 256).unwrap();
        // Spot heights from the captures' README.
        assert_eq!(map.height(128, 128), Some(25.0));
        assert!((map.height(40, 210).unwrap() - 15.0).abs() < 0.01);
        assert!((map.height(210, 200).unwrap() + 4.0).abs() < 0.01);
        let back: Vec<u8> = map.heights().iter().flat_map(|h| h.to_le_bytes()).collect();
        assert_eq!(back, bytes);
        // The same file through the source loader, size inferred from its length.
        let loaded = TerrainSource::R32(overlook_testdata::capture_path(CAPTURED_R32))
            .load(None)
            .unwrap();
        assert_eq!(loaded, map);
    }

    #[test]
    fn bad_r32_inputs_are_errors() {
        let bytes = overlook_testdata::read_bytes(CAPTURED_R32);
        assert!(matches!(
            from_r32(&bytes[..bytes.len() - 1], 256, 256),
            Err(TerrainError::BadR32Length {
                expected: 262_144,
                actual: 262_143
            })
        ));
        assert!(matches!(
            from_r32(&bytes, 512, 256),
            Err(TerrainError::BadR32Length { .. })
        ));
        let mut nan = bytes.clone();
        nan[4 * (256 * 3 + 5)..][..4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(matches!(
            from_r32(&nan, 256, 256),
            Err(TerrainError::NonFinite { x: 5, y: 3 })
        ));
        assert!(matches!(
            TerrainSource::R32("/nonexistent/x.r32".into()).load(None),
            Err(TerrainError::Io { .. })
        ));
    }

    #[test]
    fn sources_load_by_extension_and_check_sizes() {
        let dir = std::env::temp_dir().join(format!("overlook-terrain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data = vec![0u8; 512 * 256 * 2];
        let png = png_map_test_png(512, 256, &data);
        let png_path = dir.join("flat.PNG");
        std::fs::write(&png_path, png).unwrap();
        let source = TerrainSource::from_path(&png_path, (12.0, 40.0)).unwrap();
        let map = source.load(None).unwrap();
        assert_eq!((map.size_x(), map.size_y()), (512, 256));
        assert_eq!(map.height(3, 3), Some(12.0));
        assert!(matches!(
            source.load(Some((256, 256))),
            Err(TerrainError::SizeMismatch { got_x: 512, .. })
        ));
        let r32_path = dir.join("odd.r32");
        std::fs::write(&r32_path, [0u8; 12]).unwrap();
        let r32 = TerrainSource::from_path(&r32_path, TerrainSource::DEFAULT_RANGE).unwrap();
        assert!(matches!(
            r32.load(None),
            Err(TerrainError::UnknownR32Size(12))
        ));
        assert!(matches!(
            TerrainSource::from_path("terrain.tif", (0.0, 1.0)),
            Err(TerrainError::UnknownFileType(_))
        ));
        assert!(matches!(
            TerrainSource::default().load(Some((256, 300))),
            Err(TerrainError::BadSize { .. })
        ));
        assert_eq!(
            TerrainSource::default().load(None).unwrap(),
            island(256, 256, 0).unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn png_map_test_png(w: u32, h: u32, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Sixteen);
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn ground_queries_interpolate_and_clamp() {
        let bytes: Vec<u8> = (0..256u32 * 256)
            .flat_map(|i| (f32::from(u16::try_from(i % 256).unwrap()) * 0.5).to_le_bytes())
            .collect();
        // A ramp rising 0.5 m per metre eastwards.
        let ramp = from_r32(&bytes, 256, 256).unwrap();
        assert!((height_at(&ramp, 10.5, 77.25) - 5.25).abs() < 1e-5);
        assert_eq!(height_at(&ramp, -5.0, -5.0), 0.0);
        assert_eq!(height_at(&ramp, 1e6, 1e6), 127.5);
        let plane = collision_plane(&ramp, 100.0, 100.0);
        let n = (1.0f32 + 0.25).sqrt();
        assert!((plane.x + 0.5 / n).abs() < 1e-4 && plane.y.abs() < 1e-6);
        assert!((plane.z - 1.0 / n).abs() < 1e-4);
        // The ground point lies on the plane.
        let on = plane.x * 100.0 + plane.y * 100.0 + plane.z * 50.0;
        assert!((on - plane.w).abs() < 1e-3);
    }
}
