//! Small deterministic 2D gradient noise for the terrain band edges (`shared/PROTOCOL.md` §10).
//!
//! SL viewers break up the borders between terrain bands with Perlin noise over the region's
//! *global* position ("twiddle"). This is the same idea, written for the one place it is used:
//! it is sampled at whole metres (mesh vertices), so it takes integer global coordinates, which
//! keeps it exact at any grid position (a region's global x runs up to 2³² m, where an `f32`
//! would lose the metre) and needs no float-to-integer casts.
//!
//! Guarantees: no panics, no allocation, results in `[-1, 1]`, identical on every platform (only
//! integer hashing and `+ − ×` on `f32`), continuous across region borders and periodic every
//! 256 cells (period far longer than any visible pattern).

use super::f32_from;

/// Lattice cells before the noise repeats.
const PERIOD: u64 = 256;

/// Where inside its metre a vertex samples the noise: gradient noise is zero on lattice points, so
/// sampling whole metres with a lattice on whole metres would pin every few vertices to zero.
const OFFSET: [f32; 2] = [0.37, 0.71];

/// One octave of gradient noise with a lattice of `cell` metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Octave {
    /// Lattice spacing in metres (at least 1).
    pub cell: u32,
    /// Picks an independent pattern.
    pub seed: u32,
}

impl Octave {
    /// The noise at global metre `(x, y)`, in `[-1, 1]`; smooth (C² between lattice cells).
    pub fn sample(self, x: u64, y: u64) -> f32 {
        let cell = u64::from(self.cell.max(1));
        let (ix, fx) = split(x, cell, OFFSET[0]);
        let (iy, fy) = split(y, cell, OFFSET[1]);
        let jx = (ix + 1) % 256;
        let jy = (iy + 1) % 256;
        let g = |cx: u32, cy: u32, dx: f32, dy: f32| gradient(hash(cx, cy, self.seed), dx, dy);
        let n00 = g(ix, iy, fx, fy);
        let n10 = g(jx, iy, fx - 1.0, fy);
        let n01 = g(ix, jy, fx, fy - 1.0);
        let n11 = g(jx, jy, fx - 1.0, fy - 1.0);
        let (u, v) = (fade(fx), fade(fy));
        let south = n00 + (n10 - n00) * u;
        let north = n01 + (n11 - n01) * u;
        (south + (north - south) * v).clamp(-1.0, 1.0)
    }
}

/// Lattice cell (mod [`PERIOD`]) and position inside it, in `[0, 1)`, of metre `m` plus `offset`.
fn split(m: u64, cell: u64, offset: f32) -> (u32, f32) {
    let index = u32::try_from((m / cell) % PERIOD).unwrap_or(0);
    let within = u32::try_from(m % cell).unwrap_or(0);
    let cell = u32::try_from(cell).unwrap_or(u32::MAX);
    (index, (f32_from(within) + offset) / f32_from(cell))
}

/// Quintic fade `6t⁵ − 15t⁴ + 10t³`: zero first and second derivatives at 0 and 1.
fn fade(t: f32) -> f32 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

/// A well-mixed 32-bit hash of a lattice point.
fn hash(x: u32, y: u32, seed: u32) -> u32 {
    let mut h =
        x.wrapping_mul(0x8DA6_B343) ^ y.wrapping_mul(0xD816_3841) ^ seed.wrapping_mul(0xCB1A_B31F);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^ (h >> 15)
}

/// Dot product of `(dx, dy)` with one of Perlin's eight 2D gradients, chosen by `hash`.
fn gradient(hash: u32, dx: f32, dy: f32) -> f32 {
    match hash & 7 {
        0 => dx + dy,
        1 => dx - dy,
        2 => -dx + dy,
        3 => -dx - dy,
        4 => dx,
        5 => -dx,
        6 => dy,
        _ => -dy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OCTAVE: Octave = Octave { cell: 5, seed: 1 };

    #[test]
    fn stays_in_range_and_is_deterministic() {
        let mut lo = f32::MAX;
        let mut hi = f32::MIN;
        for y in 0..300u64 {
            for x in 0..300u64 {
                let n = OCTAVE.sample(x, y);
                assert!((-1.0..=1.0).contains(&n), "{n} at {x},{y}");
                assert_eq!(n, OCTAVE.sample(x, y));
                lo = lo.min(n);
                hi = hi.max(n);
            }
        }
        // Not a constant: it spans a good part of its range.
        assert!(lo < -0.4 && hi > 0.4, "{lo}..{hi}");
    }

    #[test]
    fn is_smooth_between_neighbouring_metres() {
        let coarse = Octave { cell: 22, seed: 7 };
        for y in 0..100u64 {
            for x in 0..100u64 {
                let here = coarse.sample(x, y);
                // The gradient of one octave is at most about 2.5 per cell.
                assert!((coarse.sample(x + 1, y) - here).abs() < 0.15);
                assert!((coarse.sample(x, y + 1) - here).abs() < 0.15);
            }
        }
    }

    #[test]
    fn is_periodic_and_exact_at_far_grid_positions() {
        let period = 5 * PERIOD;
        let far = u64::from(u32::MAX) - 1000;
        for (x, y) in [(0, 0), (3, 17), (far, far + 7)] {
            assert_eq!(OCTAVE.sample(x, y), OCTAVE.sample(x + period, y));
            assert_eq!(OCTAVE.sample(x, y), OCTAVE.sample(x, y + 3 * period));
        }
        // Crossing 2³² m changes nothing (u64 arithmetic): still smooth there.
        let edge = u64::from(u32::MAX);
        assert!((OCTAVE.sample(edge, 9) - OCTAVE.sample(edge + 1, 9)).abs() < 0.6);
    }

    #[test]
    fn seeds_give_different_patterns() {
        let other = Octave { seed: 2, ..OCTAVE };
        let differ = (0..50u64)
            .filter(|&x| OCTAVE.sample(x, 3) != other.sample(x, 3))
            .count();
        assert!(differ > 40, "{differ}");
    }

    #[test]
    fn fade_and_split_edges() {
        assert_eq!(fade(0.0), 0.0);
        assert_eq!(fade(1.0), 1.0);
        assert_eq!(fade(0.5), 0.5);
        assert_eq!(split(0, 5, 0.5), (0, 0.1));
        assert_eq!(split(5 * 256 + 6, 5, 0.0), (1, 0.2));
    }
}
