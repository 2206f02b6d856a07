//! Heightmaps from grayscale PNG images (`overlook sim --terrain FILE.png --height-range MIN:MAX`).
//!
//! The image's top row is the region's north edge, so rows are flipped into the heightmap's
//! south-first layout; column 0 is the west edge. 16-bit gray maps `0..=65535` linearly onto
//! `min..=max`; 8-bit gray is accepted too and maps `0..=255` onto the same range (256 steps
//! only — coarse, but what such a file holds). Colour, palette, alpha and 1/2/4-bit images are
//! refused with [`TerrainError::PngFormat`]. Width and height (metres, one pixel per metre) must
//! each be a multiple of 256 from 256 to 4096; they are checked before the pixels are decoded.

use std::io::Cursor;

use super::{TerrainError, check_finite, from_r32};
use overlook_protocol::terrain::Heightmap;

/// A heightmap from a grayscale PNG: black is `min` metres, white is `max`.
///
/// # Errors
/// [`TerrainError::BadRange`] unless `min` and `max` are finite with `min <= max`;
/// [`TerrainError::Png`] for data the PNG decoder rejects; [`TerrainError::PngFormat`] for
/// anything but 8- or 16-bit grayscale; [`TerrainError::BadSize`] for dimensions that are no
/// region size.
pub fn from_png(bytes: &[u8], min: f32, max: f32) -> Result<Heightmap, TerrainError> {
    if !min.is_finite() || !max.is_finite() || min > max {
        return Err(TerrainError::BadRange { min, max });
    }
    let png_err = |e: png::DecodingError| TerrainError::Png(e.to_string());
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().map_err(png_err)?;
    let (width, height) = reader.info().size();
    let (color, depth) = reader.output_color_type();
    let full_scale = match (color, depth) {
        (png::ColorType::Grayscale, png::BitDepth::Sixteen) => 65535.0,
        (png::ColorType::Grayscale, png::BitDepth::Eight) => 255.0,
        (color, depth) => {
            return Err(TerrainError::PngFormat(format!(
                "{color:?} at {depth:?} bits"
            )));
        }
    };
    if !Heightmap::valid_side(width) || !Heightmap::valid_side(height) {
        return Err(TerrainError::BadSize {
            x: width,
            y: height,
        });
    }
    let len = reader
        .output_buffer_size()
        .ok_or_else(|| TerrainError::Png("image too large".to_owned()))?;
    let mut buf = vec![0; len];
    let info = reader.next_frame(&mut buf).map_err(png_err)?;
    let line = info.line_size;
    let sixteen = depth == png::BitDepth::Sixteen;
    let step = (max - min) / full_scale;
    // Assemble the `.r32` layout (south row first) and reuse its loader.
    let mut r32 = Vec::with_capacity(buf.len().saturating_mul(if sixteen { 2 } else { 4 }));
    for row in buf.chunks_exact(line.max(1)).rev() {
        let row = row.get(..line).unwrap_or(row);
        let mut push = |level: u16| {
            let h = min + f32::from(level) * step;
            r32.extend_from_slice(&h.min(max).to_le_bytes());
        };
        if sixteen {
            for px in row.chunks_exact(2) {
                if let [hi, lo] = *px {
                    push(u16::from_be_bytes([hi, lo]));
                }
            }
        } else {
            row.iter().for_each(|&v| push(u16::from(v)));
        }
    }
    let map = from_r32(&r32, width, height)?;
    check_finite(&map)?;
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG of `w` × `h` pixels with the given colour type, depth and raw (big-endian) data.
    pub(crate) fn png_bytes(
        w: u32,
        h: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    /// A 16-bit gradient: level = image row × 200 + column (top row = row 0).
    fn gradient(w: u32, h: u32) -> Vec<u8> {
        let mut data = Vec::new();
        for row in 0..h {
            for col in 0..w {
                let v = u16::try_from(row * 200 + col).unwrap();
                data.extend_from_slice(&v.to_be_bytes());
            }
        }
        png_bytes(
            w,
            h,
            png::ColorType::Grayscale,
            png::BitDepth::Sixteen,
            &data,
        )
    }

    #[test]
    fn sixteen_bit_png_flips_rows_and_maps_the_range() {
        let (w, h) = (512, 256);
        let map = from_png(&gradient(w, h), -10.0, 55.535).unwrap();
        assert_eq!((map.size_x(), map.size_y()), (w, h));
        assert!(map.is_complete());
        let step = 65.535 / 65535.0;
        // The image's top row (row 0) is the north edge: y = 255.
        let level = |row: u32, col: u32| f64::from(row * 200 + col);
        for (x, y) in [(0, 255), (7, 255), (0, 0), (511, 0), (300, 100)] {
            let row = h - 1 - y;
            let want = -10.0 + level(row, x) * step;
            let got = f64::from(map.height(x, y).unwrap());
            assert!((got - want).abs() < 1e-3, "({x},{y}) {got} vs {want}");
        }
        // North is low, south is high in this gradient.
        assert!(map.height(10, 255).unwrap() < map.height(10, 0).unwrap());
    }

    #[test]
    fn full_scale_maps_to_min_and_max() {
        let mut data = vec![0u8; 256 * 256 * 2];
        data[..2].copy_from_slice(&[0xFF, 0xFF]); // top-left pixel white
        let png = png_bytes(
            256,
            256,
            png::ColorType::Grayscale,
            png::BitDepth::Sixteen,
            &data,
        );
        let map = from_png(&png, 0.0, 128.0).unwrap();
        assert_eq!(map.height(0, 255), Some(128.0));
        assert_eq!(map.height(0, 0), Some(0.0));
        assert_eq!(map.height(1, 255), Some(0.0));
    }

    #[test]
    fn eight_bit_gray_is_accepted_with_coarse_steps() {
        let data: Vec<u8> = (0..256 * 256).map(|i| (i % 256) as u8).collect();
        let png = png_bytes(
            256,
            256,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &data,
        );
        let map = from_png(&png, 0.0, 255.0).unwrap();
        assert_eq!(map.height(0, 0), Some(0.0));
        assert_eq!(map.height(255, 0), Some(255.0));
        assert_eq!(map.height(17, 40), Some(17.0));
    }

    #[test]
    fn rejects_colour_bad_sizes_ranges_and_garbage() {
        let rgb = png_bytes(
            256,
            256,
            png::ColorType::Rgb,
            png::BitDepth::Eight,
            &vec![0; 256 * 256 * 3],
        );
        assert!(matches!(
            from_png(&rgb, 0.0, 128.0),
            Err(TerrainError::PngFormat(_))
        ));
        let odd = gradient(300, 256);
        assert!(matches!(
            from_png(&odd, 0.0, 128.0),
            Err(TerrainError::BadSize { x: 300, y: 256 })
        ));
        let small = png_bytes(
            16,
            16,
            png::ColorType::Grayscale,
            png::BitDepth::Sixteen,
            &[0; 512],
        );
        assert!(matches!(
            from_png(&small, 0.0, 1.0),
            Err(TerrainError::BadSize { .. })
        ));
        let good = gradient(256, 256);
        for (min, max) in [(5.0, 1.0), (f32::NAN, 1.0), (0.0, f32::INFINITY)] {
            assert!(matches!(
                from_png(&good, min, max),
                Err(TerrainError::BadRange { .. })
            ));
        }
        assert!(matches!(
            from_png(b"not a png", 0.0, 1.0),
            Err(TerrainError::Png(_))
        ));
        // (Cutting only the IEND trailer still decodes: the pixels are all there.)
        for cut in [8, 40, good.len() / 2] {
            assert!(from_png(&good[..cut], 0.0, 1.0).is_err(), "{cut}");
        }
    }
}
