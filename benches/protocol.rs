//! Protocol throughput on the real OpenSim captures (see BENCHMARKS.md for figures).
//!
//! Run: `cargo bench --no-default-features --bench protocol` (the protocol layer only, no Bevy).
//! Each group carries a baseline measured in the same process — copying the same bytes — so the
//! figures can be read as ratios that survive a change of machine.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use overlook::protocol::capture::{CapturedDatagram, read_udp_jsonl};
use overlook::protocol::message::object::{CompressedObject, ObjectUpdate, ObjectUpdateCompressed};
use overlook::protocol::message::{Message, MessageRepr};
use overlook::protocol::terrain;
use overlook::protocol::udp::{self, MessageId};

fn capture(name: &str) -> Vec<CapturedDatagram> {
    let path = format!(
        "{}/../shared/captures/opensim-0.9.2.2/{name}.udp.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    read_udp_jsonl(&text).expect("capture parses")
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
    g.bench_function("fast_idct_only", |b| {
        b.iter(|| {
            let mut acc = 0.0f32;
            for blk in &blocks {
                let mut out = [[blk.addval; 16]; 16];
                terrain::dct::inverse_dct_add(black_box(&blk.block), blk.rows, blk.cols, &mut out);
                acc += out[15][15];
            }
            acc
        })
    });
    g.bench_function("naive_idct", |b| {
        b.iter(|| {
            let mut acc = 0.0f32;
            for blk in &blocks {
                let mut out = [[blk.addval; 16]; 16];
                terrain::dct::inverse_dct_naive(black_box(&blk.block), &mut out);
                acc += out[15][15];
            }
            acc
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    datagram_decode,
    object_update_parse,
    terrain_decode
);
criterion_main!(benches);
