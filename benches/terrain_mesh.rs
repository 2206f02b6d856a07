//! Terrain meshing of a 4096 m region (see BENCHMARKS.md, "Terrain meshing", for figures).
//!
//! Run: `cargo bench -p overlook-benches --bench terrain_mesh` (no Bevy). The heightmap is
//! synthetic and smooth (rolling hills with metre-scale roughness, 16.7 M samples). The baseline,
//! measured in the same process, is one 64 m chunk at full resolution; the plan is every chunk of
//! the region at the level of detail for a camera at the region's centre, meshed on all cores
//! (and, for comparison, on one). The plan's vertex count and bytes are printed once.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use overlook_geometry::terrain::{
    ChunkId, Lod, PlanStats, TerrainShading, chunk_mesh, chunks, mesh_plan, plan_lods, skirt_depths,
};
use overlook_protocol::terrain::Heightmap;

const SIZE: u32 = 4096;
const CAMERA: [f32; 2] = [2048.0, 2048.0];

/// Rolling hills 0–80 m high with a little roughness, like a large OpenSim var region.
fn synthetic() -> Heightmap {
    let mut bytes = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (fx, fy) = (x as f32, y as f32);
            let h = 40.0
                + 25.0 * (fx / 310.0).sin() * (fy / 270.0).cos()
                + 10.0 * (fx / 57.0 + fy / 83.0).sin()
                + 0.7 * (fx * 0.9).sin() * (fy * 1.3).cos();
            bytes.extend_from_slice(&h.to_le_bytes());
        }
    }
    Heightmap::from_r32(&bytes, SIZE, SIZE).expect("a 4096 m r32 heightmap")
}

fn print_stats(plan: &[(ChunkId, Lod)]) {
    let stats = PlanStats::of(plan);
    let full = PlanStats::of(
        &chunks(SIZE, SIZE)
            .map(|c| (c, Lod::FINEST))
            .collect::<Vec<_>>(),
    );
    let mut per_level = [0usize; 7];
    for (_, lod) in plan {
        per_level[usize::from(lod.level())] += 1;
    }
    println!(
        "4096 m plan, camera at the centre: {} chunks (per level 0..6: {per_level:?}), \
         {} vertices, {} indices, {:.1} MB; full detail everywhere: {} vertices, {:.1} MB",
        stats.chunks,
        stats.vertices,
        stats.indices,
        stats.bytes as f64 / 1e6,
        full.vertices,
        full.bytes as f64 / 1e6,
    );
}

/// Resident set size in MB (Linux `/proc/self/status`), if it can be read.
fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1e3)
}

fn terrain_mesh(c: &mut Criterion) {
    let hm = synthetic();
    let shading = TerrainShading::default();
    let plan = plan_lods(SIZE, SIZE, CAMERA);
    print_stats(&plan);
    if let Some(before) = rss_mb() {
        let meshes = mesh_plan(&hm, &plan, &shading);
        let after = rss_mb().unwrap_or(before);
        println!(
            "RSS with the heightmap: {before:.1} MB; holding the {} meshed chunks: {after:.1} MB \
             (+{:.1} MB)",
            meshes.len(),
            after - before
        );
    }
    let centre = ChunkId { x: 32, y: 32 };

    let mut g = c.benchmark_group("terrain_mesh");
    g.throughput(Throughput::Elements(Lod::FINEST.vertex_count() as u64));
    g.bench_function("baseline: one 64 m chunk, full resolution", |b| {
        b.iter(|| chunk_mesh(black_box(&hm), centre, Lod::FINEST, &shading))
    });
    g.sample_size(20);
    g.throughput(Throughput::Elements(PlanStats::of(&plan).vertices as u64));
    g.bench_function("4096 m plan, camera at centre, all cores", |b| {
        b.iter(|| mesh_plan(black_box(&hm), &plan, &shading))
    });
    g.bench_function("4096 m plan, camera at centre, one core", |b| {
        b.iter(|| {
            plan.iter()
                .map(|&(c, lod)| chunk_mesh(black_box(&hm), c, lod, &shading))
                .collect::<Vec<_>>()
        })
    });
    g.throughput(Throughput::Elements(plan.len() as u64));
    g.bench_function(
        "skirt_depths alone, every chunk of the plan, one core",
        |b| {
            b.iter(|| {
                plan.iter()
                    .map(|&(c, lod)| skirt_depths(black_box(&hm), c, lod)[0])
                    .sum::<f32>()
            })
        },
    );
    g.bench_function("plan_lods alone (4096 chunks)", |b| {
        b.iter(|| plan_lods(SIZE, SIZE, black_box(CAMERA)))
    });
    g.finish();
}

criterion_group!(benches, terrain_mesh);
criterion_main!(benches);
