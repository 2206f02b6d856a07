//! Protocol throughput on the real OpenSim captures (see BENCHMARKS.md for figures).
//!
//! Run: `cargo bench -p overlook-benches --bench protocol` (the protocol crate only, no Bevy).
//! Each group carries a baseline measured in the same process — copying the same bytes — so the
//! figures can be read as ratios that survive a change of machine.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use overlook_protocol::capture::{CapturedDatagram, read_udp_jsonl};
use overlook_protocol::message::object::{CompressedObject, ObjectUpdate, ObjectUpdateCompressed};
use overlook_protocol::message::{Message, MessageRepr};
use overlook_protocol::terrain;
use overlook_protocol::udp::{self, MessageId};

fn capture(name: &str) -> Vec<CapturedDatagram> {
    read_udp_jsonl(&overlook_testdata::session_udp(name)).expect("capture parses")
}

fn all_datagrams() -> Vec<Vec<u8>> {
    ["test-region", "test-region-fresh", "var-region"]
        .iter()
        .flat_map(|n| capture(n))
        .map(|d| d.bytes)
        .collect()
}

fn bodies(id: MessageId, names: &[&str]) -> Vec<Vec<u8>> {
    names
        .iter()
        .flat_map(|n| capture(n))
        .filter_map(|d| {
            let p = udp::decode(&d.bytes).ok()?;
            (p.message == id).then(|| p.body.into_owned())
        })
        .collect()
}

fn total_len(v: &[Vec<u8>]) -> u64 {
    v.iter().map(|b| b.len() as u64).sum()
}

/// The baseline: copy every buffer (what any decoder must at least read).
fn copy_all(v: &[Vec<u8>]) -> usize {
    v.iter().map(|b| black_box(b.clone()).len()).sum()
}

fn datagram_decode(c: &mut Criterion) {
    let datagrams = all_datagrams();
    let zerocoded: Vec<Vec<u8>> = datagrams
        .iter()
        .filter(|d| d.first().is_some_and(|f| f & 0x80 != 0))
        .cloned()
        .collect();
    let mut g = c.benchmark_group("datagram_decode");
    g.throughput(Throughput::Bytes(total_len(&datagrams)));
    g.bench_function("baseline_copy_all", |b| {
        b.iter(|| copy_all(black_box(&datagrams)))
    });
    g.bench_function("decode_all", |b| {
        b.iter(|| {
            datagrams
                .iter()
                .map(|d| udp::decode(black_box(d)).map(|p| p.body.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    g.bench_function("decode_and_parse_all", |b| {
        b.iter(|| {
            datagrams
                .iter()
                .filter_map(|d| udp::decode(black_box(d)).ok())
                .filter_map(|p| Message::parse(p.message, &p.body).ok())
                .count()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("zerocoded_decode");
    g.throughput(Throughput::Bytes(total_len(&zerocoded)));
    g.bench_function("baseline_copy", |b| {
        b.iter(|| copy_all(black_box(&zerocoded)))
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            zerocoded
                .iter()
                .map(|d| udp::decode(black_box(d)).map(|p| p.body.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    g.finish();
}

fn object_update_parse(c: &mut Criterion) {
    let full = bodies(MessageId::High(12), &["test-region-fresh"]);
    let compressed = bodies(MessageId::High(13), &["test-region", "var-region"]);
    let mut g = c.benchmark_group("object_update_parse");
    g.throughput(Throughput::Bytes(total_len(&full)));
    g.bench_function("baseline_copy_full", |b| {
        b.iter(|| copy_all(black_box(&full)))
    });
    g.bench_function("ObjectUpdate", |b| {
        b.iter(|| {
            full.iter()
                .filter_map(|m| ObjectUpdate::parse(black_box(m)).ok())
                .map(|u| u.objects.len())
                .sum::<usize>()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("object_update_compressed_parse");
    g.throughput(Throughput::Bytes(total_len(&compressed)));
    g.bench_function("baseline_copy_compressed", |b| {
        b.iter(|| copy_all(black_box(&compressed)))
    });
    g.bench_function("ObjectUpdateCompressed+objects", |b| {
        b.iter(|| {
            compressed
                .iter()
                .filter_map(|m| ObjectUpdateCompressed::parse(black_box(m)).ok())
                .flat_map(|u| u.objects)
                .filter_map(|o| CompressedObject::parse(&o.data).ok())
                .count()
        })
    });
    g.finish();
}

fn terrain_decode(c: &mut Criterion) {
    let layers: Vec<(Vec<u8>, u32)> = [("test-region", 256u32), ("var-region", 512)]
        .iter()
        .flat_map(|&(n, size)| {
            bodies(MessageId::High(11), &[n])
                .into_iter()
                .filter_map(
                    move |b| match Message::parse(MessageId::High(11), &b).ok()? {
                        Message::LayerData(l) if l.layer_type == 0x4C || l.layer_type == 0x4D => {
                            Some((l.data, size))
                        }
                        _ => None,
                    },
                )
        })
        .collect();
    let patches: u64 = layers
        .iter()
        .map(|(d, s)| terrain::decode_layer(d, *s, *s).map_or(0, |l| l.patches.len() as u64))
        .sum();
    let mut g = c.benchmark_group("terrain_decode");
    g.throughput(Throughput::Elements(patches));
    g.bench_function("all_land_patches", |b| {
        b.iter(|| {
            layers
                .iter()
                .filter_map(|(d, s)| terrain::decode_layer(black_box(d), *s, *s).ok())
                .map(|l| l.patches.len())
                .sum::<usize>()
        })
    });
    // The inverse DCT alone, on the same dequantised blocks: the tuned separable transform
    // (told how far each block's coefficients reach) against the direct 4-loop sum of §4.6.
    let blocks: Vec<terrain::DequantisedBlock> = layers
        .iter()
        .filter_map(|(d, s)| terrain::dequantised_blocks(d, *s, *s).ok())
        .flatten()
        .collect();
    assert_eq!(blocks.len() as u64, patches);
    let mut sparse: Vec<(terrain::dct::SparseBlock, f32)> = blocks
        .iter()
        .map(|b| {
            (
                terrain::dct::SparseBlock::from_block(&b.block, b.rows, b.cols),
                b.addval,
            )
        })
        .collect();
    g.bench_function("fast_idct_only", |b| {
        b.iter(|| {
            let mut acc = 0.0f32;
            let mut out = [[0.0f32; 16]; 16];
            for (blk, addval) in &mut sparse {
                terrain::dct::inverse_dct_sparse(black_box(blk), *addval, &mut out);
                acc += out[15][15];
            }
            acc
        })
    });
    g.bench_function("naive_idct", |b| b.iter(|| naive_idct_all(&blocks)));
    g.finish();
}

/// The naive direct-sum inverse DCT of every block: the in-process baseline of the terrain
/// groups.
fn naive_idct_all(blocks: &[terrain::DequantisedBlock]) -> f32 {
    let mut acc = 0.0f32;
    for blk in blocks {
        let mut out = [[blk.addval; 16]; 16];
        terrain::dct::inverse_dct_naive(black_box(&blk.block), &mut out);
        acc += out[15][15];
    }
    acc
}

/// Side of the largest region in metres, and its patches per side.
const REGION: u32 = 4096;
const REGION_PATCHES: u32 = REGION / 16;

/// A smooth synthetic 4096 m landscape: long swells, a few hills and a gentle tilt, the kind of
/// terrain where most patches hold a handful of low-frequency coefficients.
fn synthetic_height(x: u32, y: u32) -> f32 {
    let (x, y) = (x as f32, y as f32);
    let swell = 12.0 * (x / 310.0).sin() * (y / 270.0).cos();
    let hills = 25.0 * ((x - 1500.0) / 900.0).sin().powi(2) * ((y + 400.0) / 1100.0).cos();
    let ripple = 0.8 * ((x + 2.0 * y) / 37.0).sin();
    30.0 + swell + hills + ripple + 0.002 * x
}

/// The whole region's LayerData as the embedded region packs it: extended (`M`) packets of whole
/// patches, each bitstream under ~1,000 bytes, encoded once by the crate's own encoder.
fn region_4096_layers() -> Vec<Vec<u8>> {
    const MAX_BITS: usize = 1000 * 8;
    let mut packets = Vec::new();
    let mut group: Vec<(u32, u32, [f32; 256])> = Vec::new();
    let mut bits = 32 + 8;
    let mut flush = |group: &mut Vec<(u32, u32, [f32; 256])>| {
        let refs: Vec<(u32, u32, &[f32; 256])> =
            group.iter().map(|(x, y, h)| (*x, *y, h)).collect();
        packets.push(terrain::encode_layer(&refs, true));
        group.clear();
    };
    for py in 0..REGION_PATCHES {
        for px in 0..REGION_PATCHES {
            let mut heights = [0.0f32; 256];
            for (i, h) in heights.iter_mut().enumerate() {
                let (col, row) = (i as u32 % 16, i as u32 / 16);
                *h = synthetic_height(px * 16 + col, py * 16 + row);
            }
            let mut scratch = terrain::BitWriter::new();
            terrain::encode_patch(&mut scratch, &heights, px, py, true);
            if !group.is_empty() && bits + scratch.bit_len() > MAX_BITS {
                flush(&mut group);
                bits = 32 + 8;
            }
            bits += scratch.bit_len();
            group.push((px, py, heights));
        }
    }
    flush(&mut group);
    packets
}

/// A whole 4096 m region (65,536 patches) decoded straight into a `Heightmap` (the map is made
/// once: a fresh 64 MiB map would time page faults, not decoding), beside the naive IDCT of the
/// same region's first 1,024 dequantised blocks as the in-process baseline.
fn terrain_region(c: &mut Criterion) {
    let packets = region_4096_layers();
    let patches: u64 = packets
        .iter()
        .map(|d| terrain::decode_layer(d, REGION, REGION).map_or(0, |l| l.patches.len() as u64))
        .sum();
    assert_eq!(patches, u64::from(REGION_PATCHES * REGION_PATCHES));
    let mut map = terrain::Heightmap::new(REGION, REGION).expect("valid region size");
    let mut g = c.benchmark_group("terrain");
    g.sample_size(20);
    g.throughput(Throughput::Elements(patches));
    g.bench_function("region_4096", |b| {
        b.iter(|| {
            for data in &packets {
                map.apply_layer(black_box(data)).expect("decodes");
            }
            map.patches_received()
        })
    });
    // What the circuit does with the same packets: which patches arrived, no heights.
    g.bench_function("region_4096_positions", |b| {
        b.iter(|| {
            packets
                .iter()
                .map(|d| {
                    terrain::land_patch_positions(black_box(d), REGION, REGION)
                        .map_or(0, |(_, p)| p.len())
                })
                .sum::<usize>()
        })
    });
    // The same on every core: layers shared out, each thread writing straight into the map.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slices: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
    g.bench_function(format!("region_4096_{threads}_threads"), |b| {
        b.iter(|| {
            let done = map.apply_layers(black_box(&slices), threads);
            assert!(done.errors.is_empty());
            done.patches.len()
        })
    });
    g.finish();
    let blocks: Vec<terrain::DequantisedBlock> = packets
        .iter()
        .filter_map(|d| terrain::dequantised_blocks(d, REGION, REGION).ok())
        .flatten()
        .take(1024)
        .collect();
    let mut g = c.benchmark_group("terrain");
    g.sample_size(10);
    g.throughput(Throughput::Elements(blocks.len() as u64));
    g.bench_function("region_4096_naive_idct_1024", |b| {
        b.iter(|| naive_idct_all(&blocks))
    });
    g.finish();
}

criterion_group!(
    benches,
    datagram_decode,
    object_update_parse,
    terrain_decode,
    terrain_region
);
criterion_main!(benches);
