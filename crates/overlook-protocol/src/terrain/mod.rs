//! Terrain: the LayerData bitstream of DCT-compressed 16×16 height patches, decoded and encoded
//! bit-exactly.
//!
//! The format is specified in `shared/PROTOCOL.md` §4 (layer types §4.1, bit order §4.2, group
//! and patch headers §4.3–4.4, coefficient codes §4.5, reconstruction §4.6, OpenSim's encoder
//! §4.7) with what a live OpenSim 0.9.2.2 sends in §8. The pieces:
//!
//! - [`bits`]: the MSB-first bit reader and writer with the little-endian chunking of fields
//!   wider than 8 bits.
//! - [`dct`]: the zig-zag table, the cosine tables (built at compile time) and the separable
//!   inverse and forward 16×16 DCTs.
//! - [`patch`]: group header, patch header, coefficient codes; one patch decoded to heights.
//! - [`encode`]: one patch encoded from heights the way OpenSim does it (flat-patch shortcut
//!   included).
//! - [`layer`]: a whole LayerData `Data` field: [`decode_layer`] and [`encode_layer`].
//! - [`heightmap`]: the region's heightmap assembled from patches, for any region size from 256 m
//!   to 4096 m per side.
//!
//! Guarantees: nothing here panics on any input bytes (the decoder returns [`PatchError`]). The
//! decoder matches the captures in `shared/captures/opensim-0.9.2.2/` against the server's own
//! heightmaps (mean error 0.016 m / 0.007 m, the loss of OpenSim's quantisation). The encoder
//! follows §4.7; with [`Prescan::OpenSim0922`] it re-creates every captured land packet byte for
//! byte, which pins down the DCT arithmetic, word sizes, codes and padding.

pub mod bits;
pub mod dct;
pub mod encode;
pub mod heightmap;
pub mod layer;
pub mod patch;

#[cfg(test)]
mod captures;

pub use bits::{BitReader, BitWriter};
pub use encode::{Prescan, encode_patch, encode_patch_with};
pub use heightmap::{Heightmap, LayersApplied, PatchStatus};
pub use layer::{
    DecodedLayer, LandLayerWriter, decode_layer, dequantised_blocks, encode_layer,
    land_patch_positions,
};
pub use patch::{
    DecodedPatch, DequantisedBlock, GroupHeader, PatchHeader, decode_patch, decode_patch_into,
};

/// Side of a terrain patch in samples (and metres): every land patch is 16×16.
pub const PATCH_SIZE: u32 = 16;

/// Number of samples in one patch.
pub const PATCH_SAMPLES: usize = 256;

/// `u32 → usize`: lossless where `usize` has at least 32 bits (every target this crate builds
/// for); saturates otherwise.
fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Why a LayerData bitstream, a patch or a heightmap was rejected.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The bitstream ended before a field, a coefficient or the end-of-patches marker.
    #[error("truncated layer data")]
    Truncated,
    /// A field wider than 32 bits was requested from the bit reader.
    #[error("cannot read {0} bits as one field")]
    BadBitCount(u32),
    /// The group header announced a patch size other than 16.
    #[error("unsupported patch size {0}")]
    BadPatchSize(u8),
    /// A patch id names a patch outside the region.
    #[error("patch ({x}, {y}) outside a region of {patches_x}x{patches_y} patches")]
    PatchOutOfRange {
        /// Patch column (east) from the id.
        x: u32,
        /// Patch row (north) from the id.
        y: u32,
        /// Patches per row of the region.
        patches_x: u32,
        /// Patches per column of the region.
        patches_y: u32,
    },
    /// A patch header carried a NaN or infinite DC offset.
    #[error("non-finite dc offset")]
    NonFiniteDcOffset,
    /// A region side was not a multiple of 256 between 256 and 4096 metres.
    #[error("unsupported region size {x}x{y}")]
    BadRegionSize {
        /// Requested east-west size in metres.
        x: u32,
        /// Requested north-south size in metres.
        y: u32,
    },
    /// A raw `.r32` heightmap did not have 4 bytes per sample of the region.
    #[error("r32 heightmap of {actual} bytes, expected {expected}")]
    BadR32Length {
        /// Bytes the region size needs.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
}

/// The layer a LayerData packet carries (`LayerID.Type`, repeated in the group header; §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerType {
    /// `L` (0x4C): land of a 256 m region, 10-bit patch ids.
    Land,
    /// `M` (0x4D): land of a var region (a side over 256 m), 32-bit patch ids.
    LandExtended,
    /// `7` (0x37): wind.
    Wind,
    /// `9` (0x39): wind, extended (sent by nobody known).
    WindExtended,
    /// `8` (0x38): cloud.
    Cloud,
    /// `:` (0x3A): cloud, extended.
    CloudExtended,
    /// `W` (0x57): water.
    Water,
    /// `X` (0x58): water, extended.
    WaterExtended,
    /// Any other code, kept as it came.
    Unknown(u8),
}

impl LayerType {
    /// The layer for a wire code; unknown codes become [`LayerType::Unknown`].
    pub fn from_code(code: u8) -> Self {
        match code {
            0x4C => Self::Land,
            0x4D => Self::LandExtended,
            0x37 => Self::Wind,
            0x39 => Self::WindExtended,
            0x38 => Self::Cloud,
            0x3A => Self::CloudExtended,
            0x57 => Self::Water,
            0x58 => Self::WaterExtended,
            other => Self::Unknown(other),
        }
    }

    /// The wire code of this layer.
    pub fn code(self) -> u8 {
        match self {
            Self::Land => 0x4C,
            Self::LandExtended => 0x4D,
            Self::Wind => 0x37,
            Self::WindExtended => 0x39,
            Self::Cloud => 0x38,
            Self::CloudExtended => 0x3A,
            Self::Water => 0x57,
            Self::WaterExtended => 0x58,
            Self::Unknown(code) => code,
        }
    }

    /// True for the two land layers (`L` and `M`), the only ones a viewer decodes.
    pub fn is_land(self) -> bool {
        matches!(self, Self::Land | Self::LandExtended)
    }

    /// True where patch ids are 32 bits wide (`M`); 10 bits otherwise.
    pub fn has_extended_ids(self) -> bool {
        matches!(self, Self::LandExtended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_codes_roundtrip() {
        for code in 0..=u8::MAX {
            assert_eq!(LayerType::from_code(code).code(), code);
        }
        assert_eq!(LayerType::from_code(b'L'), LayerType::Land);
        assert_eq!(LayerType::from_code(b'M'), LayerType::LandExtended);
        assert_eq!(LayerType::from_code(b'7'), LayerType::Wind);
        assert_eq!(LayerType::from_code(b'9'), LayerType::WindExtended);
        assert_eq!(LayerType::from_code(b'8'), LayerType::Cloud);
        assert_eq!(LayerType::from_code(b':'), LayerType::CloudExtended);
        assert_eq!(LayerType::from_code(b'W'), LayerType::Water);
        assert_eq!(LayerType::from_code(b'X'), LayerType::WaterExtended);
        assert_eq!(LayerType::from_code(0x01), LayerType::Unknown(0x01));
    }

    #[test]
    fn only_land_layers_are_land() {
        let land: Vec<u8> = (0..=u8::MAX)
            .filter(|&c| LayerType::from_code(c).is_land())
            .collect();
        assert_eq!(land, vec![0x4C, 0x4D]);
        assert!(LayerType::LandExtended.has_extended_ids());
        assert!(!LayerType::Land.has_extended_ids());
    }
}
