//! Mesh asset decoding (see BENCHMARKS.md, "Mesh asset decoding", for figures).
//!
//! Run: `cargo bench -p overlook-benches --bench mesh_decode` (no Bevy). The assets are made by
//! the project's own encoder (`overlook_geometry::llmesh::encode`): a UV sphere cut into 8 faces,
//! the usual shape of an SL mesh upload (one submesh per material), at four sizes — about 1 k,
//! 4 k, 16 k and 64 k triangles in its high LOD, the last near SL's 64 k-vertex-per-face limit
//! spread over the faces. Each decode inflates the LOD block (zlib), parses its binary LLSD and
//! dequantizes positions, normals and texture coordinates. Throughput is given per compressed
//! byte and per triangle; the asset sizes are printed once. The baseline, in the same run, is
//! inflating the same block alone (`miniz_oxide`, what the decoder calls): the rest is the
//! decoder's own work.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use overlook_geometry::MeshData;
use overlook_geometry::llmesh::{Lod, MeshAsset, encode};

/// Faces (submeshes) per asset.
const FACES: usize = 8;

/// A UV sphere of radius 0.5 with `rings` × `segments` quads, its rings split into [`FACES`]
/// bands, each band one face.
fn sphere_faces(rings: usize, segments: usize) -> Vec<MeshData> {
    let per_face = rings.div_ceil(FACES);
    (0..FACES)
        .map(|f| {
            let (r0, r1) = ((f * per_face).min(rings), ((f + 1) * per_face).min(rings));
            let mut m = MeshData::default();
            for r in r0..=r1 {
                let theta = std::f32::consts::PI * r as f32 / rings as f32;
                for s in 0..=segments {
                    let phi = std::f32::consts::TAU * s as f32 / segments as f32;
                    let n = [
                        theta.sin() * phi.cos(),
                        theta.sin() * phi.sin(),
                        theta.cos(),
                    ];
                    m.positions.push(n.map(|c| c * 0.5));
                    m.normals.push(n);
                    m.uvs
                        .push([s as f32 / segments as f32, 1.0 - r as f32 / rings as f32]);
                }
            }
            let cols = segments + 1;
            for r in 0..(r1 - r0) {
                for s in 0..segments {
                    let a = (r * cols + s) as u32;
                    let b = a + 1;
                    let c = a + cols as u32;
                    let d = c + 1;
                    m.indices.extend_from_slice(&[a, c, b, b, c, d]);
                }
            }
            m
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("mesh_decode");
    for (rings, segments) in [(16, 32), (32, 64), (64, 128), (128, 256)] {
        let faces = sphere_faces(rings, segments);
        let triangles: usize = faces.iter().map(MeshData::triangle_count).sum();
        let asset = encode(&[(Lod::High, faces)]).expect("the sphere encodes");
        let parsed = MeshAsset::parse(&asset).expect("its header parses");
        println!(
            "sphere {rings}×{segments}: {triangles} triangles in {FACES} faces, {} B",
            asset.len()
        );
        let name = format!("{triangles}_triangles");
        let block = parsed.header.lod(Lod::High).expect("a high LOD");
        let start = parsed.header.len + block.offset;
        let deflated = &asset[start..start + block.size];
        group.throughput(Throughput::Bytes(asset.len() as u64));
        group.bench_function(format!("{name}/inflate_only"), |b| {
            b.iter(|| {
                miniz_oxide::inflate::decompress_to_vec_zlib(black_box(deflated)).expect("inflates")
            })
        });
        group.bench_function(format!("{name}/per_byte"), |b| {
            b.iter(|| parsed.decode(black_box(Lod::High)).expect("decodes"))
        });
        group.throughput(Throughput::Elements(triangles as u64));
        group.bench_function(format!("{name}/per_triangle"), |b| {
            b.iter(|| parsed.decode(black_box(Lod::High)).expect("decodes"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
