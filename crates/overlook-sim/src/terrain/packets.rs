//! LayerData packing: land patches, each encoded once, several to a `Data` blob the way
//! OpenSim 0.9.2.2 packs them (PROTOCOL §4.7, §8). The region's terrain stream sends what
//! [`layer_data_packets`] makes.

use overlook_protocol::terrain::{BitWriter, Heightmap, LandLayerWriter, LayerType, encode_patch};

/// One LayerData `Data` blob and the patches it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedLayer {
    /// The layer: [`LayerType::Land`] for 256 × 256 m regions, [`LayerType::LandExtended`] when
    /// either side is larger.
    pub layer: LayerType,
    /// The bitstream: group header, the patches, the end marker, zero padding to a byte.
    pub data: Vec<u8>,
    /// The patches `(px, py)` in the blob, in order.
    pub patches: Vec<(u32, u32)>,
}

/// Encodes the patches of `map` named by `order` into LayerData `Data` blobs: each blob is a
/// group header, as many whole patches as fit in `max_bytes`, the end marker and padding —
/// OpenSim 0.9.2.2 packs ~1000 bytes this way (PROTOCOL §8). Legacy `L` layers for 256 × 256 m
/// regions, extended `M` (32-bit patch ids) when either side is larger.
///
/// Patches go out in `order` (patches outside the region are skipped; repeats are sent again),
/// each encoded exactly once: its bits are measured and then appended to its blob. A blob never
/// exceeds `max_bytes` unless a single patch alone does, in which case that patch gets a blob of
/// its own. The bytes are those of `encode_layer` over each blob's patches.
pub fn layer_data_packets(
    map: &Heightmap,
    order: &[(u32, u32)],
    max_bytes: usize,
) -> Vec<PackedLayer> {
    let extended = map.size_x() > 256 || map.size_y() > 256;
    let max_bits = max_bytes.saturating_mul(8);
    let mut packets = Vec::new();
    let mut current: Option<(LandLayerWriter, Vec<(u32, u32)>)> = None;
    for &(px, py) in order {
        let Some(heights) = map.patch(px, py) else {
            continue;
        };
        let mut one = BitWriter::new();
        encode_patch(&mut one, &heights, px, py, extended);
        if let Some(full) =
            current.take_if(|(layer, _)| layer.finished_bit_len() + one.bit_len() > max_bits)
        {
            packets.push(close(full));
        }
        let (layer, patches) =
            current.get_or_insert_with(|| (LandLayerWriter::new(extended), Vec::new()));
        layer.append_patch(&one);
        patches.push((px, py));
    }
    packets.extend(current.map(close));
    packets
}

/// A finished blob and its patches.
fn close((layer, patches): (LandLayerWriter, Vec<(u32, u32)>)) -> PackedLayer {
    PackedLayer {
        layer: layer.layer(),
        data: layer.finish(),
        patches,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::terrain::island;
    use overlook_protocol::terrain::{DecodedPatch, decode_layer, encode_layer};

    /// Every patch of the map, ring by ring around patch `(cx, cy)` (squared distance, then row,
    /// then column), as OpenSim orders a region's terrain around an agent.
    fn rings(map: &Heightmap, cx: u32, cy: u32) -> Vec<(u32, u32)> {
        let mut order: Vec<(u32, u32)> = (0..map.patches_y())
            .flat_map(|py| (0..map.patches_x()).map(move |px| (px, py)))
            .collect();
        order.sort_by_key(|&(px, py)| (px.abs_diff(cx).pow(2) + py.abs_diff(cy).pow(2), py, px));
        order
    }

    /// Decodes every blob and checks coverage (each patch exactly once), the patch lists, the
    /// layer and the heights.
    fn check(map: &Heightmap, packets: &[PackedLayer], max_bytes: usize, layer: LayerType) {
        let mut decoded = Heightmap::new(map.size_x(), map.size_y()).unwrap();
        let mut seen = BTreeSet::new();
        for packet in packets {
            assert_eq!(packet.layer, layer);
            let data = &packet.data;
            assert!(data.len() <= max_bytes, "{} > {max_bytes}", data.len());
            let layer_data = decode_layer(data, map.size_x(), map.size_y()).unwrap();
            assert_eq!(layer_data.layer, layer);
            assert!(!layer_data.patches.is_empty());
            let ids: Vec<_> = layer_data.patches.iter().map(|p| (p.x, p.y)).collect();
            assert_eq!(ids, packet.patches);
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

    /// The packing before patches were encoded once: each patch encoded to measure it, the
    /// patches grouped greedily under `max_bytes`, each group encoded again by `encode_layer`.
    fn encoded_twice(map: &Heightmap, order: &[(u32, u32)], max_bytes: usize) -> Vec<Vec<u8>> {
        let extended = map.size_x() > 256 || map.size_y() > 256;
        let max_bits = max_bytes.saturating_mul(8);
        let mut groups: Vec<Vec<(u32, u32, [f32; 256])>> = Vec::new();
        let mut group = Vec::new();
        let mut bits = 32 + 8;
        for &(px, py) in order {
            let Some(heights) = map.patch(px, py) else {
                continue;
            };
            let mut scratch = BitWriter::new();
            encode_patch(&mut scratch, &heights, px, py, extended);
            let patch_bits = scratch.bit_len();
            if !group.is_empty() && bits + patch_bits > max_bits {
                groups.push(std::mem::take(&mut group));
                bits = 32 + 8;
            }
            bits += patch_bits;
            group.push((px, py, heights));
        }
        if !group.is_empty() {
            groups.push(group);
        }
        groups
            .iter()
            .map(|g| {
                let refs: Vec<(u32, u32, &[f32; 256])> =
                    g.iter().map(|(x, y, h)| (*x, *y, h)).collect();
                encode_layer(&refs, extended)
            })
            .collect()
    }

    #[test]
    fn legacy_region_roundtrips_every_patch_once() {
        let map = island(256, 256, 7).unwrap();
        let packets = layer_data_packets(&map, &rings(&map, 8, 8), 1000);
        check(&map, &packets, 1000, LayerType::Land);
        // Several patches per packet, as OpenSim 0.9.2.2 sends (20 land packets for 256 m there).
        assert!(packets.len() < 64, "{} packets", packets.len());
        assert_eq!(&packets[0].data[..4], &[0x08, 0x01, 0x10, 0x4C]);
        // The first packet starts with the agent's patch (8, 8).
        let first = decode_layer(&packets[0].data, 256, 256).unwrap();
        assert_eq!((first.patches[0].x, first.patches[0].y), (8, 8));
    }

    #[test]
    fn var_regions_use_extended_layers() {
        for (w, h) in [(512, 256), (256, 512), (1024, 1024)] {
            let map = island(w, h, 3).unwrap();
            let packets = layer_data_packets(&map, &rings(&map, 8, 8), 1000);
            check(&map, &packets, 1000, LayerType::LandExtended);
            assert_eq!(&packets[0].data[..4], &[0x08, 0x01, 0x10, 0x4D]);
        }
    }

    #[test]
    fn tiny_limits_give_one_patch_per_packet_and_bad_ids_are_skipped() {
        let map = island(256, 256, 1).unwrap();
        let order = [(8, 8), (99, 0), (0, 0), (3, 200)];
        let packets = layer_data_packets(&map, &order, 1);
        assert_eq!(packets.len(), 2);
        for (packet, id) in packets.iter().zip([(8, 8), (0, 0)]) {
            assert_eq!(packet.patches, [id]);
            assert_eq!(
                decode_layer(&packet.data, 256, 256).unwrap().patches.len(),
                1
            );
        }
        assert!(layer_data_packets(&map, &[], 1000).is_empty());
        assert!(layer_data_packets(&map, &[(16, 0), (0, 16)], 1000).is_empty());
    }

    #[test]
    fn bytes_match_encoding_each_group_with_encode_layer() {
        let regions = [
            (island(256, 256, 5).unwrap(), (3, 12)),
            (island(512, 256, 2).unwrap(), (20, 4)),
        ];
        for (map, (cx, cy)) in &regions {
            let mut order = rings(map, *cx, *cy);
            // A repeat and a patch outside the region, handled alike.
            order.insert(5, order[2]);
            order.insert(9, (999, 0));
            for max_bytes in [0, 60, 100, 333, 500, 1000, 1400, 100_000] {
                let packets = layer_data_packets(map, &order, max_bytes);
                let data: Vec<Vec<u8>> = packets.iter().map(|p| p.data.clone()).collect();
                assert_eq!(
                    data,
                    encoded_twice(map, &order, max_bytes),
                    "max {max_bytes}"
                );
                let sent: usize = packets.iter().map(|p| p.patches.len()).sum();
                assert_eq!(sent, map.patches_total() + 1);
            }
        }
    }

    #[test]
    fn packed_patches_decode_to_the_heights_of_the_map() {
        // Whole and half metres survive the flat-patch shortcut exactly.
        let mut map = Heightmap::new(256, 256).unwrap();
        for (k, (py, px)) in (0..16u32)
            .flat_map(|y| (0..16u32).map(move |x| (y, x)))
            .enumerate()
        {
            let z = f32::from(u16::try_from(k % 97).unwrap()) * 0.5 - 10.0;
            map.apply(&DecodedPatch {
                x: px,
                y: py,
                heights: [z; 256],
            })
            .unwrap();
        }
        let chosen = [(3, 4), (15, 15), (0, 0), (7, 9), (12, 1)];
        let packets = layer_data_packets(&map, &chosen, 40);
        assert!(packets.len() > 1);
        let decoded: Vec<DecodedPatch> = packets
            .iter()
            .flat_map(|p| decode_layer(&p.data, 256, 256).unwrap().patches)
            .collect();
        assert_eq!(decoded.len(), chosen.len());
        for (patch, &(px, py)) in decoded.iter().zip(&chosen) {
            assert_eq!((patch.x, patch.y), (px, py));
            assert_eq!(patch.heights, map.patch(px, py).unwrap());
        }
        // Real terrain decodes exactly as each patch sent alone would.
        let island = island(256, 256, 11).unwrap();
        let order = rings(&island, 8, 8);
        for packet in layer_data_packets(&island, &order, 1000) {
            for patch in decode_layer(&packet.data, 256, 256).unwrap().patches {
                let heights = island.patch(patch.x, patch.y).unwrap();
                let alone = encode_layer(&[(patch.x, patch.y, &heights)], false);
                assert_eq!(decode_layer(&alone, 256, 256).unwrap().patches, [patch]);
            }
        }
    }
}
