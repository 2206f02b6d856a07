//! JPEG 2000 texture decoding (see BENCHMARKS.md, "Texture decoding", for figures).
//!
//! Run: `cargo bench -p overlook-benches --bench texture_decode` (no Bevy). The decoder the
//! viewer uses (`overlook_texture::decode`: hayro-jpeg2000, to RGBA8) against OpenJPEG itself
//! (C, the vendored 2.5.3 of `openjpeg-sys`, built here with cc; decoding to its own integer
//! planes, no conversion), both single-threaded, on the repository's texture corpus
//! (`tests/data/opensim-0.9.2.2/assets/`): every file at full size and at `reduce` 2, and the
//! served plywood alone. Throughput is in pixels of the decoded image; divide to get time per
//! megapixel. Before timing, it prints how far the two decoders' pixels are apart (all files,
//! reduce 0..=2): OpenJPEG at reduced resolution is the reference the tests have no PNG for.
// The only unsafe code in the workspace: calls into OpenJPEG's C API for the baseline.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openjpeg_sys as opj;
use overlook_texture::{DecodeOptions, decode};

/// Every codestream of the corpus, sorted by path.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let assets = overlook_testdata::capture_path("assets");
    let mut files: Vec<PathBuf> = ["served", "library"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(assets.join(dir)).expect("the texture corpus"))
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("j2c" | "j2k")))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("a corpus file"))
        })
        .collect()
}

/// A read cursor over a byte slice, OpenJPEG's stream user data.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

unsafe extern "C" fn read(buf: *mut c_void, n: usize, user: *mut c_void) -> usize {
    let cursor = unsafe { &mut *user.cast::<Cursor<'_>>() };
    let left = cursor.bytes.len() - cursor.pos;
    if left == 0 {
        return usize::MAX; // OpenJPEG's end of stream: (OPJ_SIZE_T)-1
    }
    let n = n.min(left);
    unsafe {
        std::ptr::copy_nonoverlapping(cursor.bytes.as_ptr().add(cursor.pos), buf.cast::<u8>(), n);
    }
    cursor.pos += n;
    n
}

unsafe extern "C" fn skip(n: i64, user: *mut c_void) -> i64 {
    let cursor = unsafe { &mut *user.cast::<Cursor<'_>>() };
    let to = (cursor.pos as i64 + n).clamp(0, cursor.bytes.len() as i64);
    let moved = to - cursor.pos as i64;
    cursor.pos = to as usize;
    moved
}

unsafe extern "C" fn seek(to: i64, user: *mut c_void) -> i32 {
    let cursor = unsafe { &mut *user.cast::<Cursor<'_>>() };
    if to < 0 || to as usize > cursor.bytes.len() {
        return 0;
    }
    cursor.pos = to as usize;
    1
}

/// An image OpenJPEG decoded: width, height and each component's samples (`prec` bits).
struct OpjImage {
    width: u32,
    height: u32,
    planes: Vec<Vec<i32>>,
}

/// Decodes a raw codestream with OpenJPEG (single-threaded: no thread pool unless
/// `OPJ_NUM_THREADS` is set), discarding `reduce` levels. `copy` copies the planes out (for the
/// comparison); the timed runs only decode.
fn openjpeg_decode(bytes: &[u8], reduce: u32, copy: bool) -> Option<OpjImage> {
    unsafe {
        let mut cursor = Cursor { bytes, pos: 0 };
        let stream = opj::opj_stream_create(1 << 20, 1);
        opj::opj_stream_set_read_function(stream, Some(read));
        opj::opj_stream_set_skip_function(stream, Some(skip));
        opj::opj_stream_set_seek_function(stream, Some(seek));
        opj::opj_stream_set_user_data(stream, (&raw mut cursor).cast(), None);
        opj::opj_stream_set_user_data_length(stream, bytes.len() as u64);
        let codec = opj::opj_create_decompress(opj::CODEC_FORMAT::OPJ_CODEC_J2K);
        let mut params = std::mem::zeroed::<opj::opj_dparameters_t>();
        opj::opj_set_default_decoder_parameters(&mut params);
        params.cp_reduce = reduce;
        let mut image: *mut opj::opj_image_t = std::ptr::null_mut();
        let ok = opj::opj_setup_decoder(codec, &mut params) != 0
            && opj::opj_read_header(stream, codec, &mut image) != 0
            && opj::opj_decode(codec, stream, image) != 0
            && opj::opj_end_decompress(codec, stream) != 0;
        let result = (ok && !image.is_null()).then(|| {
            let img = &*image;
            let comps = std::slice::from_raw_parts(img.comps, img.numcomps as usize);
            let planes = if copy {
                comps
                    .iter()
                    .map(|c| std::slice::from_raw_parts(c.data, (c.w * c.h) as usize).to_vec())
                    .collect()
            } else {
                Vec::new()
            };
            OpjImage {
                width: comps[0].w,
                height: comps[0].h,
                planes,
            }
        });
        if !image.is_null() {
            opj::opj_image_destroy(image);
        }
        opj::opj_destroy_codec(codec);
        opj::opj_stream_destroy(stream);
        result
    }
}

/// hayro-jpeg2000 alone, as `overlook_texture::decode` calls it, stopping at its planes; returns
/// the samples of the first plane.
fn hayro_planes(bytes: &[u8], reduce: u8) -> usize {
    let info = overlook_texture::J2cInfo::parse(bytes).expect("a header");
    let r = info.clamp_reduce(reduce);
    let settings = hayro_jpeg2000::DecodeSettings {
        target_resolution: (r > 0).then_some(((info.width >> r).max(1), (info.height >> r).max(1))),
        ..hayro_jpeg2000::DecodeSettings::default()
    };
    let image = hayro_jpeg2000::Image::new(bytes, &settings).expect("parses");
    let mut ctx = hayro_jpeg2000::DecoderContext::default();
    let decoded = image.decode(&mut ctx).expect("decodes");
    decoded.components()[0].samples().len()
}

/// Prints the largest per-channel difference between the two decoders, and how many images are
/// equal, for reduce 0, 1 and 2.
fn compare(corpus: &[(String, Vec<u8>)]) {
    for reduce in 0..=2u8 {
        let (mut equal, mut max, mut sum, mut n) = (0, 0u8, 0u64, 0u64);
        for (name, bytes) in corpus {
            let ours = decode(bytes, DecodeOptions { reduce }).expect(name);
            let theirs = openjpeg_decode(bytes, u32::from(reduce), true).expect(name);
            assert_eq!(
                (ours.width, ours.height),
                (theirs.width, theirs.height),
                "{name}"
            );
            let channels: &[usize] = match theirs.planes.len() {
                1 => &[0],
                2 => &[0, 3],
                3 => &[0, 1, 2],
                _ => &[0, 1, 2, 3],
            };
            let mut file_max = 0u8;
            for (plane, &c) in theirs.planes.iter().zip(channels) {
                for (i, &v) in plane.iter().enumerate() {
                    let d = (v.clamp(0, 255) as u8).abs_diff(ours.rgba[i * 4 + c]);
                    file_max = file_max.max(d);
                    sum += u64::from(d);
                    n += 1;
                }
            }
            max = max.max(file_max);
            equal += usize::from(file_max == 0);
        }
        println!(
            "reduce {reduce}: {equal} of {} images equal to OpenJPEG's, largest difference {max}, \
             mean {:.4}",
            corpus.len(),
            sum as f64 / n as f64
        );
    }
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    compare(&corpus);
    let plywood: Vec<_> = corpus
        .iter()
        .filter(|(name, _)| name.starts_with("89556747"))
        .cloned()
        .collect();
    for (label, files, reduce) in [
        ("corpus_full", &corpus, 0u8),
        ("corpus_reduce2", &corpus, 2),
        ("plywood_512_full", &plywood, 0),
    ] {
        let pixels: u64 = files
            .iter()
            .map(|(_, b)| {
                let t = decode(b, DecodeOptions { reduce }).expect("decodes");
                u64::from(t.width) * u64::from(t.height)
            })
            .sum();
        let mut group = c.benchmark_group(format!("texture_decode/{label}"));
        group.throughput(Throughput::Elements(pixels));
        group.bench_function("openjpeg_c", |b| {
            b.iter(|| {
                for (_, bytes) in files.iter() {
                    black_box(openjpeg_decode(black_box(bytes), u32::from(reduce), false));
                }
            });
        });
        // The decoder alone, to its f32 planes (no 8-bit conversion or RGBA expansion): what
        // OpenJPEG's figure above times.
        group.bench_function("hayro_planes", |b| {
            b.iter(|| {
                for (_, bytes) in files.iter() {
                    black_box(hayro_planes(black_box(bytes), reduce));
                }
            });
        });
        group.bench_function("overlook_texture", |b| {
            b.iter(|| {
                for (_, bytes) in files.iter() {
                    black_box(decode(black_box(bytes), DecodeOptions { reduce }).ok());
                }
            });
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // Kept short: seconds, not minutes (CI only builds the benches).
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
