//! Mipmaps and the resolution to decode at: what a renderer needs to hold a decoded texture
//! within a memory budget and sample it without shimmer.

use crate::J2cInfo;

/// Bytes per RGBA8 pixel.
const RGBA: usize = 4;

/// The mip chain of a `width` × `height` RGBA8 image (`rgba`, rows top to bottom): the image,
/// then each level half the size of the one before (rounded down, at least 1), down to 1 × 1,
/// concatenated level after level as a GPU upload takes them. Returns the data and the number of
/// levels.
///
/// Each pixel of a level is the mean of the 2 × 2 pixels under it in the level above (the last
/// row or column repeated where a side is odd). Input of the wrong length is returned as one
/// level, untouched.
pub fn mip_chain(rgba: Vec<u8>, width: u32, height: u32) -> (Vec<u8>, u32) {
    let (w, h) = (to_usize(width), to_usize(height));
    if w == 0 || h == 0 || rgba.len() != w * h * RGBA {
        return (rgba, 1);
    }
    let mut data = rgba;
    let mut levels = 1;
    let (mut start, mut w, mut h) = (0usize, w, h);
    while w > 1 || h > 1 {
        let (nw, nh) = ((w / 2).max(1), (h / 2).max(1));
        let mut next = Vec::with_capacity(nw * nh * RGBA);
        {
            let src = data.get(start..start + w * h * RGBA).unwrap_or_default();
            let at = |x: usize, y: usize, c: usize| {
                u32::from(
                    src.get((y.min(h - 1) * w + x.min(w - 1)) * RGBA + c)
                        .copied()
                        .unwrap_or(0),
                )
            };
            for y in 0..nh {
                for x in 0..nw {
                    for c in 0..RGBA {
                        let sum = at(2 * x, 2 * y, c)
                            + at(2 * x + 1, 2 * y, c)
                            + at(2 * x, 2 * y + 1, c)
                            + at(2 * x + 1, 2 * y + 1, c);
                        next.push(u8::try_from((sum + 2) / 4).unwrap_or(u8::MAX));
                    }
                }
            }
        }
        start = data.len();
        data.extend_from_slice(&next);
        (w, h) = (nw, nh);
        levels += 1;
    }
    (data, levels)
}

/// Bytes of an RGBA8 `width` × `height` image with its whole mip chain.
pub fn mip_chain_bytes(width: u32, height: u32) -> u64 {
    let (mut w, mut h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let mut total = w * h * 4;
    while w > 1 || h > 1 {
        (w, h) = ((w / 2).max(1), (h / 2).max(1));
        total += w * h * 4;
    }
    total
}

/// The resolution levels to discard so that the decoded image's longer side is at most
/// `max_side` and it fits, with its mip chain, in `budget` bytes — or, when even the smallest
/// level the stream offers does not, that smallest level (clamped like [`crate::decode`]).
pub fn reduce_for(info: &J2cInfo, max_side: u32, budget: u64) -> u8 {
    let most = info.clamp_reduce(u8::MAX);
    (0..=most)
        .find(|&r| {
            let (w, h) = info.reduced_size(r);
            w.max(h) <= max_side && mip_chain_bytes(w, h) <= budget
        })
        .unwrap_or(most)
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_halves_down_to_one_pixel_and_averages() {
        // 4 × 2: left half black, right half white, alpha 255.
        let mut img = Vec::new();
        for _ in 0..2 {
            for x in 0..4 {
                let v = if x < 2 { 0 } else { 255 };
                img.extend_from_slice(&[v, v, v, 255]);
            }
        }
        let (data, levels) = mip_chain(img.clone(), 4, 2);
        // 4×2, 2×1, 1×1.
        assert_eq!(levels, 3);
        assert_eq!(data.len(), (8 + 2 + 1) * 4);
        assert_eq!(&data[..32], &img[..]);
        assert_eq!(&data[32..40], &[0, 0, 0, 255, 255, 255, 255, 255]);
        assert_eq!(&data[40..44], &[128, 128, 128, 255]);
        assert_eq!(mip_chain_bytes(4, 2), 44);
    }

    #[test]
    fn odd_sides_repeat_their_edge_and_bad_input_is_one_level() {
        let (data, levels) = mip_chain(vec![10; 3 * 3 * 4], 3, 3);
        assert_eq!(levels, 2);
        assert!(data.iter().all(|&b| b == 10));
        assert_eq!(mip_chain(vec![1; 7], 2, 2), (vec![1; 7], 1));
        assert_eq!(mip_chain(Vec::new(), 0, 0), (Vec::new(), 1));
        assert_eq!(mip_chain_bytes(1, 1), 4);
    }

    fn info(side: u32, levels: u8) -> J2cInfo {
        let mut i = J2cInfo::parse(&crate::tests::tiny_codestream()).unwrap();
        i.width = side;
        i.height = side;
        i.resolution_levels = levels;
        i
    }

    #[test]
    fn reduce_keeps_the_side_and_the_budget() {
        let big = info(2048, 6);
        assert_eq!(reduce_for(&big, 4096, u64::MAX), 0);
        assert_eq!(reduce_for(&big, 1024, u64::MAX), 1);
        assert_eq!(reduce_for(&big, 512, u64::MAX), 2);
        // 512 × 512 with mips is 1,398,100 bytes: a 1 MB budget asks for 256 × 256.
        assert_eq!(reduce_for(&big, 4096, 1_000_000), 3);
        // Nothing fits: the smallest the stream has (5 levels discarded).
        assert_eq!(reduce_for(&big, 4096, 0), 5);
    }
}
