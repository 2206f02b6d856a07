//! JPEG 2000 textures as OpenSimulator serves them (PROTOCOL.md §12): raw codestreams (`FF 4F FF
//! 51`, SOC then SIZ, no JP2 box), 1–4 components, usually LRCP (layer-first, so a prefix of the
//! bytes holds the first quality layers).
//!
//! - [`J2cInfo::parse`] reads the main header's SIZ and COD marker segments by hand: size,
//!   components, bit depth, resolution levels, quality layers, progression order, wavelet and
//!   tiles. It needs only the header, so a range request's first few hundred bytes suffice.
//! - [`decode`] decodes to RGBA8 at full resolution or with [`DecodeOptions::reduce`] levels
//!   discarded, with the pure-Rust `hayro-jpeg2000` decoder.
//!
//! Nothing here panics on any input, and [`decode`] refuses a header that claims more than
//! [`MAX_PIXELS`] pixels before allocating for it: a hostile server can send any header.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use hayro_jpeg2000::{DecodeSettings, DecoderContext, Image};

mod mip;
pub use mip::{mip_chain, mip_chain_bytes, reduce_for};

/// The most pixels (width × height at full resolution) [`decode`] accepts: 4096 × 4096, four
/// times SL's largest texture (2048 × 2048 on some grids, 1024 × 1024 usually). A header that
/// claims more gets [`TextureError::TooLarge`] before anything is allocated.
pub const MAX_PIXELS: u64 = 4096 * 4096;

/// Why a codestream could not be read or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextureError {
    /// The bytes do not start with SOC and SIZ (`FF 4F FF 51`): not a raw J2K codestream.
    #[error("not a JPEG 2000 codestream (no SOC and SIZ markers at the start)")]
    NotACodestream,
    /// The bytes end inside the main header (before the COD marker segment was read).
    #[error("the codestream ends inside its main header ({0})")]
    Truncated(&'static str),
    /// A main-header marker segment holds values the standard does not allow.
    #[error("invalid {marker} marker segment: {why}")]
    Invalid {
        /// The marker segment (`SIZ`, `COD`, ...).
        marker: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The main header has no COD marker segment before the first tile.
    #[error("the main header has no COD marker segment")]
    MissingCod,
    /// The header claims more than [`MAX_PIXELS`] pixels.
    #[error("{width}×{height} is more than the {MAX_PIXELS} pixels a texture may have")]
    TooLarge {
        /// The width the SIZ marker claims.
        width: u32,
        /// The height the SIZ marker claims.
        height: u32,
    },
    /// A texture has 1 to 4 components (grey, grey + alpha, RGB, RGBA).
    #[error("{0} components: a texture has 1 to 4")]
    UnsupportedComponents(u16),
    /// The decoder rejected the codestream (corrupt or truncated tile data, an unsupported
    /// feature); its message.
    #[error("JPEG 2000 decoding failed: {0}")]
    Decode(String),
}

/// The order in which a codestream's packets come (COD's progression order, ISO 15444-1 A.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progression {
    /// Layer, resolution, component, position: quality layers first (what OpenSim serves).
    Lrcp,
    /// Resolution, layer, component, position: resolution levels first.
    Rlcp,
    /// Resolution, position, component, layer.
    Rpcl,
    /// Position, component, resolution, layer.
    Pcrl,
    /// Component, position, resolution, layer.
    Cprl,
}

impl Progression {
    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => Self::Lrcp,
            1 => Self::Rlcp,
            2 => Self::Rpcl,
            3 => Self::Pcrl,
            4 => Self::Cprl,
            _ => return None,
        })
    }

    /// The order's usual four-letter name (`LRCP`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Lrcp => "LRCP",
            Self::Rlcp => "RLCP",
            Self::Rpcl => "RPCL",
            Self::Pcrl => "PCRL",
            Self::Cprl => "CPRL",
        }
    }
}

impl std::fmt::Display for Progression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a codestream's main header (SIZ and COD marker segments) says about the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct J2cInfo {
    /// Image width in pixels (`Xsiz − XOsiz`).
    pub width: u32,
    /// Image height in pixels (`Ysiz − YOsiz`).
    pub height: u32,
    /// Number of components (`Csiz`): 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA for a texture.
    pub components: u16,
    /// Bits per sample of the first component (1–38).
    pub bit_depth: u8,
    /// Whether the first component's samples are signed.
    pub signed: bool,
    /// Whether any component is subsampled (`XRsiz` or `YRsiz` above 1).
    pub subsampled: bool,
    /// Resolution levels: the COD's decomposition levels + 1. [`DecodeOptions::reduce`] can
    /// discard up to one less than this.
    pub resolution_levels: u8,
    /// Quality layers (COD).
    pub quality_layers: u16,
    /// Packet order (COD).
    pub progression: Progression,
    /// The reversible 5/3 wavelet (lossless), or else the irreversible 9/7 one (COD).
    pub reversible: bool,
    /// Whether the multiple-component transform (RCT or ICT on the first three components) is
    /// used (COD).
    pub component_transform: bool,
    /// Number of tiles the SIZ's tile grid makes.
    pub tiles: u64,
}

const SOC: u16 = 0xFF4F;
const SIZ: u16 = 0xFF51;
const COD: u16 = 0xFF52;
const SOT: u16 = 0xFF90;

/// A bounds-checked big-endian reader over a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TextureError> {
        if n > self.bytes.len() {
            return Err(TextureError::Truncated(what));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, TextureError> {
        match self.take(1, what)? {
            [b] => Ok(*b),
            _ => Err(TextureError::Truncated(what)),
        }
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, TextureError> {
        match self.take(2, what)? {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(TextureError::Truncated(what)),
        }
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, TextureError> {
        match self.take(4, what)? {
            [a, b, c, d] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
            _ => Err(TextureError::Truncated(what)),
        }
    }

    /// A marker segment's body: its `L` field counts itself but not the marker.
    fn segment(&mut self, what: &'static str) -> Result<Reader<'a>, TextureError> {
        let len = self.u16(what)?;
        let body = usize::from(len)
            .checked_sub(2)
            .ok_or(TextureError::Invalid {
                marker: what,
                why: "length below 2",
            })?;
        Ok(Reader {
            bytes: self.take(body, what)?,
        })
    }
}

fn invalid(marker: &'static str, why: &'static str) -> TextureError {
    TextureError::Invalid { marker, why }
}

impl J2cInfo {
    /// Reads the main header: SOC, SIZ, then marker segments up to COD (or the first tile, SOT,
    /// which is an error: COD is mandatory). Only the header's bytes are needed.
    ///
    /// # Errors
    /// [`TextureError::NotACodestream`] without SOC and SIZ at the start,
    /// [`TextureError::Truncated`] when the bytes end before COD, [`TextureError::Invalid`] for a
    /// value the standard forbids, [`TextureError::MissingCod`] when a tile starts before COD.
    pub fn parse(bytes: &[u8]) -> Result<J2cInfo, TextureError> {
        let mut r = Reader { bytes };
        if r.u16("SOC").ok() != Some(SOC) || r.u16("SIZ").ok() != Some(SIZ) {
            return Err(TextureError::NotACodestream);
        }
        let mut siz = r.segment("SIZ")?;
        let _capabilities = siz.u16("SIZ")?;
        let (x, y) = (siz.u32("SIZ")?, siz.u32("SIZ")?);
        let (x_off, y_off) = (siz.u32("SIZ")?, siz.u32("SIZ")?);
        let (tile_w, tile_h) = (siz.u32("SIZ")?, siz.u32("SIZ")?);
        let (tile_x_off, tile_y_off) = (siz.u32("SIZ")?, siz.u32("SIZ")?);
        let components = siz.u16("SIZ")?;
        let width = x
            .checked_sub(x_off)
            .filter(|w| *w > 0)
            .ok_or(invalid("SIZ", "empty image area"))?;
        let height = y
            .checked_sub(y_off)
            .filter(|h| *h > 0)
            .ok_or(invalid("SIZ", "empty image area"))?;
        if tile_w == 0 || tile_h == 0 {
            return Err(invalid("SIZ", "zero tile size"));
        }
        if tile_x_off > x_off
            || tile_y_off > y_off
            || u64::from(tile_x_off) + u64::from(tile_w) <= u64::from(x_off)
            || u64::from(tile_y_off) + u64::from(tile_h) <= u64::from(y_off)
        {
            return Err(invalid("SIZ", "the first tile misses the image area"));
        }
        if components == 0 || components > 16384 {
            return Err(invalid("SIZ", "component count outside 1..=16384"));
        }
        let mut bit_depth = 0;
        let mut signed = false;
        let mut subsampled = false;
        for i in 0..components {
            let ssiz = siz.u8("SIZ")?;
            let (xr, yr) = (siz.u8("SIZ")?, siz.u8("SIZ")?);
            if xr == 0 || yr == 0 {
                return Err(invalid("SIZ", "zero component subsampling"));
            }
            let depth = (ssiz & 0x7F) + 1;
            if depth > 38 {
                return Err(invalid("SIZ", "bit depth above 38"));
            }
            if i == 0 {
                bit_depth = depth;
                signed = ssiz & 0x80 != 0;
            }
            subsampled |= xr > 1 || yr > 1;
        }
        let tiles_x = (u64::from(x) - u64::from(tile_x_off)).div_ceil(u64::from(tile_w));
        let tiles_y = (u64::from(y) - u64::from(tile_y_off)).div_ceil(u64::from(tile_h));
        let tiles = tiles_x.saturating_mul(tiles_y);

        loop {
            let marker = r.u16("marker before COD")?;
            match marker {
                COD => {
                    let mut cod = r.segment("COD")?;
                    let _style = cod.u8("COD")?;
                    let progression = Progression::from_byte(cod.u8("COD")?)
                        .ok_or(invalid("COD", "unknown progression order"))?;
                    let quality_layers = cod.u16("COD")?;
                    if quality_layers == 0 {
                        return Err(invalid("COD", "zero quality layers"));
                    }
                    let component_transform = cod.u8("COD")? != 0;
                    let levels = cod.u8("COD")?;
                    if levels > 32 {
                        return Err(invalid("COD", "more than 32 decomposition levels"));
                    }
                    let _block_w = cod.u8("COD")?;
                    let _block_h = cod.u8("COD")?;
                    let _block_style = cod.u8("COD")?;
                    let reversible = match cod.u8("COD")? {
                        0 => false,
                        1 => true,
                        _ => return Err(invalid("COD", "unknown wavelet transform")),
                    };
                    return Ok(J2cInfo {
                        width,
                        height,
                        components,
                        bit_depth,
                        signed,
                        subsampled,
                        resolution_levels: levels.saturating_add(1),
                        quality_layers,
                        progression,
                        reversible,
                        component_transform,
                        tiles,
                    });
                }
                SOT => return Err(TextureError::MissingCod),
                // Delimiting markers without a segment (0xFF30..=0xFF3F) carry nothing.
                0xFF30..=0xFF3F => {}
                0xFF00..=0xFFFF => {
                    r.segment("main header marker segment")?;
                }
                _ => return Err(invalid("main header", "expected a marker")),
            }
        }
    }

    /// Width and height after discarding `reduce` resolution levels (clamped to what the stream
    /// has): `ceil(size / 2^reduce)`, for an image whose area starts at the grid's origin, as
    /// every texture does.
    pub fn reduced_size(&self, reduce: u8) -> (u32, u32) {
        let r = u32::from(self.clamp_reduce(reduce));
        (
            self.width.div_ceil(1u32 << r),
            self.height.div_ceil(1u32 << r),
        )
    }

    /// `reduce` clamped to the levels the stream can discard (resolution levels − 1) and to
    /// the image's shorter side (down to 1 pixel: `floor(log2(min(width, height)))`), as
    /// [`decode`] applies it.
    pub fn clamp_reduce(&self, reduce: u8) -> u8 {
        let side = self.width.min(self.height).max(1).ilog2();
        let side = u8::try_from(side).unwrap_or(u8::MAX);
        reduce
            .min(self.resolution_levels.saturating_sub(1))
            .min(side)
    }
}

/// How to decode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Resolution levels to discard: 0 full size, 1 half (rounded up), 2 a quarter, ... Clamped
    /// to what the stream has (resolution levels − 1) and to the shorter side
    /// ([`J2cInfo::clamp_reduce`]). Discarded levels are not decoded at all.
    pub reduce: u8,
}

/// A decoded texture, always expanded to RGBA8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedTexture {
    /// Width in pixels (after any reduction).
    pub width: u32,
    /// Height in pixels (after any reduction).
    pub height: u32,
    /// The codestream's component count, 1 to 4: grey, grey + alpha, RGB, RGBA.
    pub components: u8,
    /// `width × height` RGBA8 pixels, rows top to bottom. Grey is copied into R, G and B; a
    /// second component of two is alpha; without an alpha component, alpha is 255.
    pub rgba: Vec<u8>,
    /// Whether any pixel's alpha is below 255 (false without an alpha component).
    pub has_alpha: bool,
}

/// Decodes a raw J2K codestream to RGBA8.
///
/// A prefix of a codestream (what a range request returns) decodes to what its packets hold, or
/// fails with [`TextureError::Decode`]; never a panic.
///
/// # Errors
/// Those of [`J2cInfo::parse`]; [`TextureError::TooLarge`] above [`MAX_PIXELS`];
/// [`TextureError::UnsupportedComponents`] outside 1..=4; [`TextureError::Decode`] when the
/// decoder rejects the tile data.
pub fn decode(bytes: &[u8], options: DecodeOptions) -> Result<DecodedTexture, TextureError> {
    let info = J2cInfo::parse(bytes)?;
    if u64::from(info.width) * u64::from(info.height) > MAX_PIXELS {
        return Err(TextureError::TooLarge {
            width: info.width,
            height: info.height,
        });
    }
    let components = match u8::try_from(info.components) {
        Ok(n @ 1..=4) => n,
        _ => return Err(TextureError::UnsupportedComponents(info.components)),
    };
    let reduce = info.clamp_reduce(options.reduce);
    // hayro-jpeg2000 discards floor(log2(size / target)) levels (the fewer of both axes);
    // `size >> reduce` (at least 1) gives exactly `reduce` for every size of at least 2^reduce,
    // which `clamp_reduce` ensures.
    let target = (
        (info.width >> reduce).max(1),
        (info.height >> reduce).max(1),
    );
    let settings = DecodeSettings {
        target_resolution: (reduce > 0).then_some(target),
        ..DecodeSettings::default()
    };
    let decode_err = |e: hayro_jpeg2000::DecodeError| TextureError::Decode(e.to_string());
    let image = Image::new(bytes, &settings).map_err(decode_err)?;
    let (width, height) = (image.width(), image.height());
    let mut context = DecoderContext::default();
    let decoded = image.decode(&mut context).map_err(decode_err)?;
    let planes = decoded.components();
    let pixels = usize::try_from(u64::from(width) * u64::from(height))
        .map_err(|_| TextureError::Decode("image too large for this platform".into()))?;
    // `data_u8` slices every plane to the first one's length: all must hold exactly the image.
    if planes.len() != usize::from(components) || planes.iter().any(|p| p.samples().len() != pixels)
    {
        return Err(TextureError::Decode(
            "the decoder returned planes of another size than the image".into(),
        ));
    }
    let interleaved = decoded.data_u8();
    let n = usize::from(components);
    if interleaved.len() != pixels * n {
        return Err(TextureError::Decode(
            "the decoder returned fewer samples than the image has".into(),
        ));
    }
    // Four components are RGBA already.
    let rgba = if components == 4 {
        interleaved
    } else {
        expand_to_rgba(&interleaved, components, pixels)
    };
    let has_alpha =
        matches!(components, 2 | 4) && rgba.as_chunks::<4>().0.iter().any(|&[_, _, _, a]| a != 255);
    Ok(DecodedTexture {
        width,
        height,
        components,
        rgba,
        has_alpha,
    })
}

/// Interleaved 8-bit samples of `components` channels to RGBA8 (`pixels` of them).
fn expand_to_rgba(interleaved: &[u8], components: u8, pixels: usize) -> Vec<u8> {
    let mut rgba = vec![255u8; pixels * 4];
    let out = rgba.as_chunks_mut::<4>().0.iter_mut();
    match components {
        1 => out.zip(interleaved).for_each(|(o, &g)| *o = [g, g, g, 255]),
        2 => out
            .zip(interleaved.as_chunks::<2>().0)
            .for_each(|(o, &[g, a])| *o = [g, g, g, a]),
        3 => out
            .zip(interleaved.as_chunks::<3>().0)
            .for_each(|(o, &[r, g, b])| *o = [r, g, b, 255]),
        _ => out
            .zip(interleaved.as_chunks::<4>().0)
            .for_each(|(o, p)| *o = *p),
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid main header (64 × 64 RGB, 6 resolution levels), for tests that need a `J2cInfo`.
    pub(crate) fn tiny_codestream() -> Vec<u8> {
        header(64, 64, 3, 5)
    }

    /// A SIZ + COD header: `w`×`h`, `c` 8-bit components, one tile, `levels` decompositions.
    fn header(w: u32, h: u32, c: u16, levels: u8) -> Vec<u8> {
        let mut b = vec![0xFF, 0x4F, 0xFF, 0x51];
        b.extend_from_slice(&(38 + 3 * c).to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
        for v in [w, h, 0, 0, w, h, 0, 0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&c.to_be_bytes());
        for _ in 0..c {
            b.extend_from_slice(&[7, 1, 1]);
        }
        b.extend_from_slice(&[0xFF, 0x52, 0, 12, 0, 0, 0, 5, 1, levels, 4, 4, 0, 1]);
        b
    }

    #[test]
    fn parses_a_built_header() {
        let info = J2cInfo::parse(&header(100, 50, 3, 5)).unwrap();
        assert_eq!((info.width, info.height, info.components), (100, 50, 3));
        assert_eq!((info.resolution_levels, info.quality_layers), (6, 5));
        assert_eq!(info.progression, Progression::Lrcp);
        assert!(info.reversible && info.component_transform);
        assert_eq!((info.bit_depth, info.tiles), (8, 1));
        assert_eq!(info.reduced_size(1), (50, 25));
        assert_eq!(info.reduced_size(9), (4, 2));
    }

    #[test]
    fn refuses_a_huge_header_before_decoding() {
        let err = decode(&header(4097, 4096, 3, 5), DecodeOptions::default()).unwrap_err();
        assert_eq!(
            err,
            TextureError::TooLarge {
                width: 4097,
                height: 4096
            }
        );
        let err = decode(&header(64, 64, 5, 5), DecodeOptions::default()).unwrap_err();
        assert_eq!(err, TextureError::UnsupportedComponents(5));
    }

    #[test]
    fn every_prefix_of_a_header_is_an_error_not_a_panic() {
        let h = header(64, 64, 4, 5);
        for len in 0..h.len() {
            assert!(J2cInfo::parse(&h[..len]).is_err(), "{len}");
        }
        assert!(J2cInfo::parse(&h).is_ok());
    }
}
