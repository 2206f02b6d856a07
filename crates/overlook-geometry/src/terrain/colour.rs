//! Terrain vertex colours by height band (`shared/PROTOCOL.md` §10).
//!
//! SL viewers pick, per terrain point, one of four detail textures (dirt, grass, rock, rock face)
//! from its height: `t = clamp((h + twiddle − start) × 4 / range, 0, 3)` shows band `floor(t)`
//! blended with band `floor(t) + 1` by `fract(t)`. `start` and `range` are interpolated
//! bilinearly over the region from the four corner values of the RegionHandshake; `twiddle` is a
//! smooth noise over the region's global position ([`super::noise`]) that breaks up the band
//! edges, continuous across region borders. Without textures, four colours blended the same way
//! give the familiar look; [`TerrainShading`] holds them.
//!
//! Guarantees: no panics; colours are finite for any finite or non-finite input (a zero or
//! negative range is treated as a tiny positive one).

use super::f32_from;
use super::noise::Octave;
use overlook_protocol::message::region::RegionHandshake;

/// Dirt, grass, rock, rock face: linear RGBA, lowest band first (sRGB in the comments).
pub const DEFAULT_BAND_COLOURS: [[f32; 4]; 4] = [
    // sRGB #7A6148: dry earth.
    [0.195, 0.120, 0.065, 1.0],
    // sRGB #5A7A34: grass.
    [0.102, 0.195, 0.034, 1.0],
    // sRGB #80776A: weathered rock.
    [0.216, 0.184, 0.144, 1.0],
    // sRGB #A7A49E: pale rock face.
    [0.386, 0.371, 0.342, 1.0],
];

/// OpenSim's default `TerrainStartHeight` (all corners), metres.
const DEFAULT_START: f32 = 10.0;
/// OpenSim's default `TerrainHeightRange` (all corners), metres.
const DEFAULT_RANGE: f32 = 60.0;
/// Smallest range used, so a zero or negative range gives hard band edges instead of NaN.
const MIN_RANGE: f32 = 1e-3;

/// The twiddle's octaves: SLV's `noise2(0.2222 · v)` over `v = global / 4.9215` (a 22 m lattice)
/// and `turbulence2(v, 2)` (4.9 m and 2.5 m lattices, the finer at half weight).
const BASE: Octave = Octave { cell: 22, seed: 1 };
const TURBULENCE: [Octave; 2] = [Octave { cell: 5, seed: 2 }, Octave { cell: 2, seed: 3 }];

/// How a region's terrain is coloured: the RegionHandshake's band heights, the region's place in
/// the grid (for the noise) and the four band colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TerrainShading {
    /// `TerrainStartHeight00, 01, 10, 11`: SW, NW, SE, NE corners, metres.
    pub start: [f32; 4],
    /// `TerrainHeightRange00, 01, 10, 11`: SW, NW, SE, NE corners, metres.
    pub range: [f32; 4],
    /// Global position of the region's south-west corner in metres (the two halves of the region
    /// handle); the noise follows it so band edges continue across region borders.
    pub origin: (u32, u32),
    /// Linear RGBA of bands 0..=3 (dirt, grass, rock, rock face by default).
    pub colours: [[f32; 4]; 4],
}

impl Default for TerrainShading {
    /// OpenSim's default bands (start 10 m, range 60 m everywhere) at the grid origin, with
    /// [`DEFAULT_BAND_COLOURS`]: what to draw before the RegionHandshake arrives.
    fn default() -> Self {
        Self {
            start: [DEFAULT_START; 4],
            range: [DEFAULT_RANGE; 4],
            origin: (0, 0),
            colours: DEFAULT_BAND_COLOURS,
        }
    }
}

impl TerrainShading {
    /// The shading a RegionHandshake asks for, for the region whose south-west corner is at global
    /// metre `origin`, with the default colours.
    pub fn from_handshake(handshake: &RegionHandshake, origin: (u32, u32)) -> Self {
        Self {
            start: handshake.terrain_start_height,
            range: handshake.terrain_height_range,
            origin,
            colours: DEFAULT_BAND_COLOURS,
        }
    }

    /// The noise added to heights before banding at region metre `(x, y)`, in metres
    /// (`2 × (noise × 6.5 + turbulence × 2.25)`, at most ±20 m).
    pub fn twiddle(&self, x: u32, y: u32) -> f32 {
        let gx = u64::from(self.origin.0) + u64::from(x);
        let gy = u64::from(self.origin.1) + u64::from(y);
        let [coarse, fine] = TURBULENCE;
        let turbulence = coarse.sample(gx, gy) + 0.5 * fine.sample(gx, gy);
        2.0 * (BASE.sample(gx, gy) * 6.5 + turbulence * 2.25)
    }

    /// The band coordinate `t` in `[0, 3]` of a point at region metre `(x, y)` with height `h`, in a
    /// region of `size_x` × `size_y` metres.
    pub fn band(&self, x: u32, y: u32, h: f32, size: (u32, u32)) -> f32 {
        let u = unit(x, size.0);
        let v = unit(y, size.1);
        let start = bilinear(self.start, u, v);
        let range = bilinear(self.range, u, v);
        let range = if range > MIN_RANGE { range } else { MIN_RANGE };
        let t = (h + self.twiddle(x, y) - start) * 4.0 / range;
        // `clamp` keeps NaN; a NaN height or corner value shows band 0.
        if t.is_nan() { 0.0 } else { t.clamp(0.0, 3.0) }
    }

    /// The vertex colour of a point at region metre `(x, y)` with height `h`.
    pub fn colour(&self, x: u32, y: u32, h: f32, size: (u32, u32)) -> [f32; 4] {
        self.colour_for_band(self.band(x, y, h, size))
    }

    /// The colour of band coordinate `t`: band `floor(t)` blended with the next by `fract(t)`.
    pub fn colour_for_band(&self, t: f32) -> [f32; 4] {
        let [c0, c1, c2, c3] = self.colours;
        let (lo, hi, f) = if t < 1.0 {
            (c0, c1, t)
        } else if t < 2.0 {
            (c1, c2, t - 1.0)
        } else if t < 3.0 {
            (c2, c3, t - 2.0)
        } else {
            (c3, c3, 0.0)
        };
        let f = f.clamp(0.0, 1.0);
        let mut out = lo;
        for (o, h) in out.iter_mut().zip(hi) {
            *o += (h - *o) * f;
        }
        out
    }
}

/// `x / size` in `[0, 1]` (a region's far edge, `x == size`, is 1).
fn unit(x: u32, size: u32) -> f32 {
    (f32_from(x) / f32_from(size.max(1))).clamp(0.0, 1.0)
}

/// Bilinear interpolation of SW, NW, SE, NE corner values at `(u, v)` (u east, v north).
fn bilinear([sw, nw, se, ne]: [f32; 4], u: f32, v: f32) -> f32 {
    let south = sw + (se - sw) * u;
    let north = nw + (ne - nw) * u;
    south + (north - south) * v
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: (u32, u32) = (256, 256);

    #[test]
    fn low_ground_is_band_0_and_high_ground_band_3() {
        let s = TerrainShading::default();
        for (x, y) in [(0, 0), (17, 200), (255, 255), (256, 3)] {
            assert_eq!(s.band(x, y, -100.0, SIZE), 0.0);
            assert_eq!(s.colour(x, y, -100.0, SIZE), DEFAULT_BAND_COLOURS[0]);
            assert_eq!(s.band(x, y, 500.0, SIZE), 3.0);
            assert_eq!(s.colour(x, y, 500.0, SIZE), DEFAULT_BAND_COLOURS[3]);
        }
    }

    #[test]
    fn bands_follow_height_and_corner_values() {
        let mut s = TerrainShading::default();
        // Without the twiddle's contribution, t is (h - start) * 4 / range.
        let twiddle = s.twiddle(100, 100);
        let t = s.band(100, 100, 40.0 - twiddle, SIZE);
        assert!((t - 2.0).abs() < 1e-4, "{t}");
        // A higher start on the east side: the same height is a lower band in the east.
        s.start = [0.0, 0.0, 40.0, 40.0];
        let west = s.band(0, 128, 40.0 - s.twiddle(0, 128), SIZE);
        let east = s.band(256, 128, 40.0 - s.twiddle(256, 128), SIZE);
        assert!(
            (west - 2.667).abs() < 1e-3 && east.abs() < 1e-4,
            "{west} {east}"
        );
        let middle = s.band(128, 128, 40.0 - s.twiddle(128, 128), SIZE);
        assert!((middle - 1.333).abs() < 1e-3, "{middle}");
        // Only the north-west corner differs: it shows at (0, size_y) and nowhere on the south edge.
        s.start = [0.0, 40.0, 0.0, 0.0];
        assert!(s.band(0, 256, 40.0 - s.twiddle(0, 256), SIZE).abs() < 1e-4);
        assert!((s.band(0, 0, 40.0 - s.twiddle(0, 0), SIZE) - 2.667).abs() < 1e-3);
    }

    #[test]
    fn blends_neighbouring_bands() {
        let s = TerrainShading::default();
        let half = s.colour_for_band(1.5);
        for k in 0..3 {
            let mid = (DEFAULT_BAND_COLOURS[1][k] + DEFAULT_BAND_COLOURS[2][k]) / 2.0;
            assert!((half[k] - mid).abs() < 1e-6);
        }
        assert_eq!(s.colour_for_band(1.0), DEFAULT_BAND_COLOURS[1]);
        assert_eq!(s.colour_for_band(2.0), DEFAULT_BAND_COLOURS[2]);
    }

    #[test]
    fn twiddle_is_bounded_smooth_and_follows_the_grid_position() {
        let s = TerrainShading::default();
        let moved = TerrainShading {
            origin: (256 * 1000, 256 * 1000),
            ..s
        };
        let mut differ = 0;
        for y in 0..64 {
            for x in 0..64 {
                let t = s.twiddle(x, y);
                assert!(t.abs() <= 20.0, "{t}");
                assert!((s.twiddle(x + 1, y) - t).abs() < 8.0);
                differ += usize::from(moved.twiddle(x, y) != t);
            }
        }
        assert!(differ > 4000, "{differ}");
        // The east edge of one region is the west edge of the next.
        let east = TerrainShading {
            origin: (256, 0),
            ..s
        };
        assert_eq!(s.twiddle(256, 40), east.twiddle(0, 40));
    }

    #[test]
    fn degenerate_inputs_stay_finite() {
        let s = TerrainShading {
            range: [0.0, -5.0, f32::NAN, 0.0],
            ..TerrainShading::default()
        };
        for h in [f32::NAN, f32::INFINITY, -1.0, 1e30] {
            let c = s.colour(10, 10, h, SIZE);
            assert!(c.iter().all(|v| v.is_finite()), "{h}: {c:?}");
        }
        assert_eq!(s.band(10, 10, f32::NAN, SIZE), 0.0);
    }

    #[test]
    fn takes_bands_from_the_handshake() {
        let hs = RegionHandshake {
            terrain_start_height: [1.0, 2.0, 3.0, 4.0],
            terrain_height_range: [5.0, 6.0, 7.0, 8.0],
            ..RegionHandshake::default()
        };
        let s = TerrainShading::from_handshake(&hs, (512, 768));
        assert_eq!(s.start, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.range, [5.0, 6.0, 7.0, 8.0]);
        assert_eq!(s.origin, (512, 768));
    }
}
