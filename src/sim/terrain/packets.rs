//! LayerData packing: the patch order OpenSim 0.9.2.2 sends in and the `Data` blobs of several
//! patches each (PROTOCOL §4.7, §8).

use super::shape::{f32_of, floor_u32};
use crate::protocol::terrain::patch::{END_OF_PATCHES, GroupHeader};
use crate::protocol::terrain::{
    BitReader, BitWriter, Heightmap, LayerType, PATCH_SIZE, encode_patch,
};

/// Every patch `(px, py)` of a region, nearest first to the patch under `around` (metres):
/// ordered by squared distance in patches, then row, then column. OpenSim 0.9.2.2 sends
/// terrain in this order, ring by ring around the agent's patch (PROTOCOL §8).
pub fn nearest_first(size_x: u32, size_y: u32, around: (f32, f32)) -> Vec<(u32, u32)> {
    let (nx, ny) = (size_x / PATCH_SIZE, size_y / PATCH_SIZE);
    let centre =
        |v: f32, n: u32| floor_u32(v.max(0.0) / f32_of(PATCH_SIZE)).min(n.saturating_sub(1));
    let (cx, cy) = (centre(around.0, nx), centre(around.1, ny));
    let mut order: Vec<(u32, u32)> = (0..ny)
        .flat_map(|py| (0..nx).map(move |px| (px, py)))
        .collect();
    order.sort_by_key(|&(px, py)| {
        let (dx, dy) = (u64::from(px.abs_diff(cx)), u64::from(py.abs_diff(cy)));
        (dx * dx + dy * dy, py, px)
    });
    order
}

/// Encodes the patches of `map` named by `order` into LayerData `Data` blobs: each blob is a
/// group header, as many whole patches as fit in `max_bytes`, the end marker and padding —
/// OpenSim 0.9.2.2 packs ~1000 bytes this way (PROTOCOL §8). Legacy `L` layers for 256 × 256 m
/// regions, extended `M` (32-bit patch ids) when either side is larger.
///
/// Patches are encoded in `order` (patches outside the region are skipped; repeats are encoded
/// again). A blob never exceeds `max_bytes` unless a single patch alone does, in which case that
/// patch gets a blob of its own.
pub fn layer_data_packets(map: &Heightmap, order: &[(u32, u32)], max_bytes: usize) -> Vec<Vec<u8>> {
    let extended = map.size_x() > 256 || map.size_y() > 256;
    let layer = if extended {
        LayerType::LandExtended
    } else {
        LayerType::Land
    };
    let max_bits = max_bytes.saturating_mul(8);
    let mut packets = Vec::new();
    let mut current: Option<BitWriter> = None;
    for &(px, py) in order {
        let Some(heights) = map.patch(px, py) else {
            continue;
        };
        let mut one = BitWriter::new();
        encode_patch(&mut one, &heights, px, py, extended);
        let bits = one.bit_len();
        if let Some(w) = current.take() {
            if w.bit_len() + bits + 8 <= max_bits {
                current = Some(w);
            } else {
                packets.push(close(w));
            }
        }
        let w = current.get_or_insert_with(|| {
            let mut w = BitWriter::new();
            GroupHeader::opensim(layer).write(&mut w);
            w
        });
        append_bits(w, &one.finish(), bits);
    }
    if let Some(w) = current {
        packets.push(close(w));
    }
    packets
}

/// Writes the end-of-patches marker and pads to a byte.
fn close(mut w: BitWriter) -> Vec<u8> {
    w.write_bits(u32::from(END_OF_PATCHES), 8);
    w.finish()
}

/// Appends the first `bits` bits of `bytes` (MSB first) to `w`.
fn append_bits(w: &mut BitWriter, bytes: &[u8], bits: usize) {
    let mut r = BitReader::new(bytes);
    for _ in 0..bits {
        match r.read_bit() {
            Ok(bit) => w.write_bit(bit),
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::collections::BTreeSet;

    use super::*;
    use crate::protocol::terrain::decode_layer;
    use crate::sim::terrain::island;

    /// Decodes every blob and checks coverage (each patch exactly once) and the heights.
    fn check(map: &Heightmap, packets: &[Vec<u8>], max_bytes: usize, layer: LayerType) {
        let mut decoded = Heightmap::new(map.size_x(), map.size_y()).unwrap();
        let mut seen = BTreeSet::new();
        for data in packets {
            assert!(data.len() <= max_bytes, "{} > {max_bytes}", data.len());
            let layer_data = decode_layer(data, map.size_x(), map.size_y()).unwrap();
            assert_eq!(layer_data.layer, layer);
            assert!(!layer_data.patches.is_empty());
            for p in &layer_data.patches {
                assert!(seen.insert((p.x, p.y)), "patch {:?} twice", (p.x, p.y));
                decoded.apply(p).unwrap();
            }
        }
        assert!(decoded.is_complete());
        assert_eq!(seen.len(), map.patches_total());
        let worst = map
            .heights()
            .iter()
            .zip(decoded.heights())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 0.25, "max error {worst}");
    }

    #[test]
    fn legacy_region_roundtrips_every_patch_once() {
        let map = island(256, 256, 7).unwrap();
        let order = nearest_first(256, 256, (128.0, 128.0));
        let packets = layer_data_packets(&map, &order, 1000);
        check(&map, &packets, 1000, LayerType::Land);
        // Several patches per packet, as OpenSim 0.9.2.2 sends (20 land packets for 256 m there).
        assert!(packets.len() < 64, "{} packets", packets.len());
        assert_eq!(&packets[0][..4], &[0x08, 0x01, 0x10, 0x4C]);
        // The first packet starts with the agent's patch (8, 8).
        let first = decode_layer(&packets[0], 256, 256).unwrap();
        assert_eq!((first.patches[0].x, first.patches[0].y), (8, 8));
    }

    #[test]
    fn var_regions_use_extended_layers() {
        for (w, h) in [(512, 256), (256, 512), (1024, 1024)] {
            let map = island(w, h, 3).unwrap();
            let order = nearest_first(w, h, (128.0, 128.0));
            let packets = layer_data_packets(&map, &order, 1000);
            check(&map, &packets, 1000, LayerType::LandExtended);
            assert_eq!(&packets[0][..4], &[0x08, 0x01, 0x10, 0x4D]);
        }
    }

    #[test]
    fn tiny_limits_give_one_patch_per_packet_and_bad_ids_are_skipped() {
        let map = island(256, 256, 1).unwrap();
        let order = [(8, 8), (99, 0), (0, 0), (3, 200)];
        let packets = layer_data_packets(&map, &order, 1);
        assert_eq!(packets.len(), 2);
        for data in &packets {
            assert_eq!(decode_layer(data, 256, 256).unwrap().patches.len(), 1);
        }
        assert!(layer_data_packets(&map, &[], 1000).is_empty());
    }

    #[test]
    fn nearest_first_is_a_permutation_in_rings() {
        let order = nearest_first(512, 256, (128.0, 128.0));
        assert_eq!(order.len(), 32 * 16);
        let unique: BTreeSet<_> = order.iter().copied().collect();
        assert_eq!(unique.len(), order.len());
        assert_eq!(order[0], (8, 8));
        let d = |&(x, y): &(u32, u32)| x.abs_diff(8).pow(2) + y.abs_diff(8).pow(2);
        assert!(order.windows(2).all(|w| d(&w[0]) <= d(&w[1])));
        assert_eq!(&order[1..5], &[(8, 7), (7, 8), (9, 8), (8, 9)]);
        // Positions outside the region clamp to its edge patches.
        assert_eq!(nearest_first(256, 256, (-50.0, 1e9))[0], (0, 15));
        assert_eq!(nearest_first(256, 256, (f32::NAN, 0.0))[0], (0, 0));
    }
}
