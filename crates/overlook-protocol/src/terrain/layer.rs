//! A whole LayerData `Data` field: group header, patches, end-of-patches marker.
//!
//! Spec: `shared/PROTOCOL.md` §4.3–4.5 for the layout, §4.7 step 7 and §4.8 for how OpenSim
//! packs patches, §8 for what OpenSim 0.9.2.2 actually sent (2–79 patches per packet, many flat).
//!
//! Guarantees: [`decode_layer`] never panics on any bytes; it either returns every patch of a
//! land layer, each inside the region, or an error (a packet is all or nothing, as in SLV). Wind,
//! cloud and water layers are recognised and skipped without error. [`encode_layer`] produces
//! the bytes OpenSim produces for the same patches, except where OpenSim 0.9.2.2 misjudges a
//! patch's height range (see [`super::Prescan`]).

use super::bits::{BitReader, BitWriter};
use super::dct::SparseBlock;
use super::encode::encode_patch;
use super::patch::{
    DecodedPatch, DequantisedBlock, END_OF_PATCHES, GroupHeader, PatchHeader, decode_heights,
    patches_for, read_dequantised, skip_patch,
};
use super::{LayerType, PatchError};

/// The patches of one LayerData packet.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedLayer {
    /// The layer named by the group header.
    pub layer: LayerType,
    /// The decoded patches in packet order; empty for layers other than land.
    pub patches: Vec<DecodedPatch>,
}

/// Decodes the `Data` field of a LayerData message (starting with the group header
/// `08 01 10 4C`) for a region of `region_size_x` × `region_size_y` metres.
///
/// Land layers (`L`, `M`) are decoded in full; for any other layer the result carries the layer
/// type and no patches. Bits after the end-of-patches marker are ignored (OpenSim may leave stale
/// bits in the padding).
///
/// # Errors
/// - [`PatchError::Truncated`] if the data ends before the end-of-patches marker;
/// - [`PatchError::BadPatchSize`] if a land layer's patch size is not 16;
/// - [`PatchError::PatchOutOfRange`] for a patch outside the region's `size / 16` patches;
/// - [`PatchError::NonFiniteDcOffset`] for a NaN or infinite patch offset.
///
/// # Example
/// The flat patch of PROTOCOL §4.7's golden vector: 256 heights of exactly 21.0 at patch (3, 7).
/// ```
/// use overlook_protocol::terrain::decode_layer;
///
/// let data = [0x08, 0x01, 0x10, 0x4C, 0x00, 0x00, 0x00, 0xA4, 0x41, 0x01, 0x00, 0x67, 0x26, 0x10];
/// let layer = decode_layer(&data, 256, 256)?;
/// assert_eq!((layer.patches[0].x, layer.patches[0].y), (3, 7));
/// assert!(layer.patches[0].heights.iter().all(|&h| h == 21.0));
/// # Ok::<(), overlook_protocol::terrain::PatchError>(())
/// ```
pub fn decode_layer(
    data: &[u8],
    region_size_x: u32,
    region_size_y: u32,
) -> Result<DecodedLayer, PatchError> {
    let mut patches = Vec::new();
    // Coefficient scratch shared by the patches.
    let mut block = SparseBlock::new();
    let layer = for_each_patch(data, region_size_x, region_size_y, |r, header| {
        if patches.capacity() == 0 {
            // A patch takes at least 68 bits; reserve for what the data could hold, capped.
            patches.reserve((data.len() / 9).min(256));
        }
        // Decode straight into the vector's slot: a patch is 1 KiB, not worth copying around.
        patches.push(DecodedPatch {
            x: header.x,
            y: header.y,
            heights: [0.0; 256],
        });
        match patches.last_mut() {
            Some(patch) => {
                let (grid, _) = patch.heights.as_chunks_mut::<16>();
                match <&mut [[f32; 16]; 16]>::try_from(grid) {
                    Ok(grid) => decode_heights(r, header, grid, &mut block),
                    Err(_) => Ok(()),
                }
            }
            None => Ok(()),
        }
    })?;
    Ok(DecodedLayer { layer, patches })
}

/// Which patches a LayerData `Data` field holds, `(x, y)` in packet order, with its layer type:
/// the packet is checked exactly as [`decode_layer`] checks it (the same errors for the same
/// bytes, all or nothing), but no heights are reconstructed. For counting what arrived, as the
/// circuit does for its terrain phases, at a fraction of a decode's cost.
///
/// # Errors
/// As [`decode_layer`].
pub fn land_patch_positions(
    data: &[u8],
    region_size_x: u32,
    region_size_y: u32,
) -> Result<(LayerType, Vec<(u32, u32)>), PatchError> {
    let mut positions = Vec::new();
    let layer = for_each_patch(data, region_size_x, region_size_y, |r, header| {
        skip_patch(r, header)?;
        positions.push((header.x, header.y));
        Ok(())
    })?;
    Ok((layer, positions))
}

/// The dequantised coefficient blocks of a land layer's patches, in packet order, checked as
/// [`decode_layer`] checks them; empty for other layers. For benchmarks and tests that compare
/// inverse DCTs on real data.
///
/// # Errors
/// As [`decode_layer`].
#[doc(hidden)]
pub fn dequantised_blocks(
    data: &[u8],
    region_size_x: u32,
    region_size_y: u32,
) -> Result<Vec<DequantisedBlock>, PatchError> {
    let mut blocks = Vec::new();
    for_each_patch(data, region_size_x, region_size_y, |r, header| {
        blocks.push(read_dequantised(r, header)?);
        Ok(())
    })?;
    Ok(blocks)
}

/// Reads the group header and every patch header of a layer, calling `f` to consume each patch's
/// coefficients; returns the layer type. Does nothing past the group header for non-land layers.
#[inline(always)]
pub(crate) fn for_each_patch(
    data: &[u8],
    region_size_x: u32,
    region_size_y: u32,
    mut f: impl FnMut(&mut BitReader<'_>, &PatchHeader) -> Result<(), PatchError>,
) -> Result<LayerType, PatchError> {
    let mut r = BitReader::new(data);
    let group = GroupHeader::read(&mut r)?;
    let layer = group.layer;
    if !layer.is_land() {
        return Ok(layer);
    }
    if group.patch_size != 16 {
        return Err(PatchError::BadPatchSize(group.patch_size));
    }
    let extended = layer.has_extended_ids();
    let (patches_x, patches_y) = (patches_for(region_size_x), patches_for(region_size_y));
    while let Some(header) = PatchHeader::read(&mut r, extended)? {
        if header.x >= patches_x || header.y >= patches_y {
            return Err(PatchError::PatchOutOfRange {
                x: header.x,
                y: header.y,
                patches_x,
                patches_y,
            });
        }
        f(&mut r, &header)?;
    }
    Ok(layer)
}

/// Encodes land patches `(x, y, heights)` into a LayerData `Data` field the way OpenSim does:
/// group header (stride 264, patch size 16, `L` or `M` when `extended`), the patches
/// ([`encode_patch`]), the end-of-patches marker, and zero bits up to the next byte boundary.
pub fn encode_layer(patches: &[(u32, u32, &[f32; 256])], extended: bool) -> Vec<u8> {
    let mut layer = LandLayerWriter::new(extended);
    for &(x, y, heights) in patches {
        encode_patch(&mut layer.bits, heights, x, y, extended);
    }
    layer.finish()
}

/// A land LayerData `Data` field being written: OpenSim's group header (`L`, or `M` when
/// `extended`), then whole patches, then — on [`Self::finish`] — the end-of-patches marker and
/// padding. [`encode_layer`] writes one from a list of patches; a packer that keeps each field
/// under a size encodes a patch on its own, measures it and appends it here.
#[derive(Debug, Clone)]
pub struct LandLayerWriter {
    bits: BitWriter,
    layer: LayerType,
}

impl LandLayerWriter {
    /// Bits of the end-of-patches marker.
    const END_BITS: usize = 8;

    /// A field with just its group header.
    pub fn new(extended: bool) -> Self {
        let layer = if extended {
            LayerType::LandExtended
        } else {
            LayerType::Land
        };
        let mut bits = BitWriter::new();
        GroupHeader::opensim(layer).write(&mut bits);
        LandLayerWriter { bits, layer }
    }

    /// `Land` or `LandExtended`.
    pub fn layer(&self) -> LayerType {
        self.layer
    }

    /// The bits [`Self::finish`] would give now, before padding: what is written plus the end
    /// marker.
    pub fn finished_bit_len(&self) -> usize {
        self.bits.bit_len().saturating_add(Self::END_BITS)
    }

    /// Appends a patch already encoded on its own (by [`encode_patch`] with this field's
    /// `extended`).
    pub fn append_patch(&mut self, patch: &BitWriter) {
        self.bits.append(patch);
    }

    /// The field's bytes: the end-of-patches marker, then zero bits to a byte boundary.
    pub fn finish(mut self) -> Vec<u8> {
        self.bits.write_bits(u32::from(END_OF_PATCHES), 8);
        self.bits.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// §4.7 golden vectors: whole UDP datagrams of a flat 21.0 m patch at (3, 7).
    const GOLDEN_LEGACY: [u8; 24] = [
        0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0B, 0x4C, 0x0E, 0x00, 0x08, 0x01, 0x10, 0x4C, 0x00,
        0x00, 0x00, 0xA4, 0x41, 0x01, 0x00, 0x67, 0x26, 0x10,
    ];
    const GOLDEN_EXTENDED: [u8; 27] = [
        0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0B, 0x4D, 0x11, 0x00, 0x08, 0x01, 0x10, 0x4D, 0x00,
        0x00, 0x00, 0xA4, 0x41, 0x01, 0x00, 0x07, 0x00, 0x03, 0x00, 0x98, 0x40,
    ];

    /// The LayerData body of a golden datagram: type byte, then `Data` (u16 LE length).
    fn golden_data(datagram: &[u8]) -> (u8, &[u8]) {
        assert_eq!(&datagram[..7], &[0x40, 0, 0, 0, 1, 0, 0x0B]);
        let len = usize::from(u16::from_le_bytes([datagram[8], datagram[9]]));
        assert_eq!(datagram.len(), 10 + len);
        (datagram[7], &datagram[10..])
    }

    #[test]
    fn golden_vectors_decode_to_flat_21m_at_3_7() {
        for (datagram, layer) in [
            (&GOLDEN_LEGACY[..], LayerType::Land),
            (&GOLDEN_EXTENDED[..], LayerType::LandExtended),
        ] {
            let (type_byte, data) = golden_data(datagram);
            assert_eq!(LayerType::from_code(type_byte), layer);
            // A 256 m region for the legacy vector, 512 m for the extended one.
            let size = if layer == LayerType::Land { 256 } else { 512 };
            let decoded = decode_layer(data, size, size).unwrap();
            assert_eq!(decoded.layer, layer);
            assert_eq!(decoded.patches.len(), 1);
            let patch = &decoded.patches[0];
            assert_eq!((patch.x, patch.y), (3, 7));
            assert!(patch.heights.iter().all(|&h| h == 21.0));
        }
    }

    #[test]
    fn encode_layer_reproduces_golden_vectors() {
        let flat = [21.0f32; 256];
        let (_, legacy) = golden_data(&GOLDEN_LEGACY);
        assert_eq!(encode_layer(&[(3, 7, &flat)], false), legacy);
        let (_, extended) = golden_data(&GOLDEN_EXTENDED);
        assert_eq!(encode_layer(&[(3, 7, &flat)], true), extended);
    }

    #[test]
    fn every_truncation_is_an_error() {
        for datagram in [&GOLDEN_LEGACY[..], &GOLDEN_EXTENDED[..]] {
            let (_, data) = golden_data(datagram);
            for len in 0..data.len() {
                assert_eq!(
                    decode_layer(&data[..len], 512, 512),
                    Err(PatchError::Truncated),
                    "length {len}"
                );
            }
        }
        // A real (non-flat) multi-patch layer, cut at every byte.
        let hills: Vec<[f32; 256]> = (0..3)
            .map(|i| core::array::from_fn(|k| ((k % 16) as f32 * 0.4 + i as f32).sin() * 9.0))
            .collect();
        let patches: Vec<_> = hills
            .iter()
            .enumerate()
            .map(|(i, h)| (i as u32, 1, h))
            .collect();
        let data = encode_layer(&patches, false);
        assert_eq!(decode_layer(&data, 256, 256).unwrap().patches.len(), 3);
        for len in 0..data.len() {
            assert_eq!(
                decode_layer(&data[..len], 256, 256),
                Err(PatchError::Truncated)
            );
        }
    }

    #[test]
    fn rejects_patches_outside_the_region() {
        let flat = [1.0f32; 256];
        let data = encode_layer(&[(16, 0, &flat)], false);
        assert_eq!(
            decode_layer(&data, 256, 256),
            Err(PatchError::PatchOutOfRange {
                x: 16,
                y: 0,
                patches_x: 16,
                patches_y: 16
            })
        );
        assert_eq!(decode_layer(&data, 512, 256).unwrap().patches[0].x, 16);
        let data = encode_layer(&[(3, 32, &flat)], true);
        assert!(matches!(
            decode_layer(&data, 512, 512),
            Err(PatchError::PatchOutOfRange { x: 3, y: 32, .. })
        ));
        assert_eq!(decode_layer(&data, 512, 1024).unwrap().patches[0].y, 32);
    }

    #[test]
    fn skips_other_layers_and_checks_patch_size() {
        // Wind: any content after the header is ignored.
        let wind = [0x08, 0x01, 0x10, 0x37, 0xFF, 0xFF];
        let decoded = decode_layer(&wind, 256, 256).unwrap();
        assert_eq!(decoded.layer, LayerType::Wind);
        assert!(decoded.patches.is_empty());
        assert_eq!(
            decode_layer(&[0x08, 0x01, 0x10, 0x99], 256, 256)
                .unwrap()
                .layer,
            LayerType::Unknown(0x99)
        );
        assert_eq!(
            decode_layer(&[0x08, 0x01, 0x20, 0x4C, 0x61], 256, 256),
            Err(PatchError::BadPatchSize(32))
        );
        // An empty land layer is valid.
        assert!(
            decode_layer(&[0x08, 0x01, 0x10, 0x4C, 0x61], 256, 256)
                .unwrap()
                .patches
                .is_empty()
        );
    }

    #[test]
    fn aligned_end_gets_no_spare_byte() {
        // Legacy flat patch: 32 + 68 + 8 = 108 bits → 14 bytes. Two patches: 176 bits = 22
        // bytes exactly, and (as a captured OpenSim packet of 7280 bits shows) no spare byte.
        let flat = [3.0f32; 256];
        assert_eq!(encode_layer(&[(0, 0, &flat)], false).len(), 14);
        let two = encode_layer(&[(0, 0, &flat), (1, 0, &flat)], false);
        assert_eq!(two.len(), 22);
        assert_eq!(decode_layer(&two, 256, 256).unwrap().patches.len(), 2);
    }

    /// [`land_patch_positions`] must say what [`decode_layer`] says, error or patch list.
    fn positions_agree_with_decoding(data: &[u8], size_x: u32, size_y: u32) {
        let scanned = land_patch_positions(data, size_x, size_y);
        let decoded = decode_layer(data, size_x, size_y).map(|l| {
            (
                l.layer,
                l.patches.iter().map(|p| (p.x, p.y)).collect::<Vec<_>>(),
            )
        });
        assert_eq!(scanned, decoded);
    }

    #[test]
    fn positions_agree_with_decoding_on_golden_truncated_and_bad_layers() {
        for datagram in [&GOLDEN_LEGACY[..], &GOLDEN_EXTENDED[..]] {
            let (_, data) = golden_data(datagram);
            assert_eq!(
                land_patch_positions(data, 512, 512).unwrap().1,
                vec![(3, 7)]
            );
            for len in 0..=data.len() {
                positions_agree_with_decoding(&data[..len], 512, 512);
            }
        }
        let flat = [1.0f32; 256];
        positions_agree_with_decoding(&encode_layer(&[(16, 0, &flat)], false), 256, 256);
        positions_agree_with_decoding(&[0x08, 0x01, 0x10, 0x37, 0xFF, 0xFF], 256, 256);
        positions_agree_with_decoding(&[0x08, 0x01, 0x20, 0x4C, 0x61], 256, 256);
        // A NaN offset: `dc_offset` is the four bytes after the quant byte.
        let mut nan = encode_layer(&[(2, 2, &flat)], false);
        nan[5..9].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(
            land_patch_positions(&nan, 256, 256),
            Err(PatchError::NonFiniteDcOffset)
        );
        positions_agree_with_decoding(&nan, 256, 256);
    }

    proptest! {
        #[test]
        fn positions_agree_with_decoding_on_any_bytes(
            data in prop::collection::vec(any::<u8>(), 0..600),
            extended in any::<bool>(),
        ) {
            let mut data = data;
            if data.len() >= 4 {
                data[2] = 0x10;
                data[3] = if extended { 0x4D } else { 0x4C };
            }
            positions_agree_with_decoding(&data, 4096, 4096);
            positions_agree_with_decoding(&data, 256, 256);
        }

        #[test]
        fn positions_agree_with_decoding_on_mutated_layers(
            flips in prop::collection::vec((0usize..2000, 0u8..8), 0..8),
        ) {
            let hill: [f32; 256] = core::array::from_fn(|k| ((k / 16) as f32 * 0.3).cos() * 12.0);
            let mut data = encode_layer(&[(1, 2, &hill), (2, 2, &hill), (15, 15, &hill)], false);
            for (pos, bit) in flips {
                let len = data.len();
                data[pos % len] ^= 1 << bit;
            }
            positions_agree_with_decoding(&data, 256, 256);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in prop::collection::vec(any::<u8>(), 0..600),
            land in any::<bool>(),
            extended in any::<bool>(),
        ) {
            let mut data = data;
            if land && data.len() >= 4 {
                data[2] = 0x10;
                data[3] = if extended { 0x4D } else { 0x4C };
            }
            let _ = decode_layer(&data, 4096, 4096);
            let _ = decode_layer(&data, 256, 256);
        }

        #[test]
        fn mutated_valid_layers_never_panic(flips in prop::collection::vec((0usize..2000, 0u8..8), 1..8)) {
            let hill: [f32; 256] = core::array::from_fn(|k| ((k / 16) as f32 * 0.3).cos() * 12.0);
            let mut data = encode_layer(&[(1, 2, &hill), (2, 2, &hill)], false);
            for (pos, bit) in flips {
                let len = data.len();
                data[pos % len] ^= 1 << bit;
            }
            let _ = decode_layer(&data, 256, 256);
        }
    }
}
