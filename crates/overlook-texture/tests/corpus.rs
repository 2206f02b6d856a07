//! The texture corpus of `tests/data/opensim-0.9.2.2/assets/` (its README): every codestream
//! OpenSim served or ships decodes to its SIZ size and matches OpenJPEG 2.5.0's PNG, exactly for
//! reversible (5/3) streams and within ±1 per channel for irreversible (9/7) ones; reduced
//! decodes have the halved sizes and stay close to a box-filtered reference; prefixes of
//! codestreams decode or fail, never panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::path::PathBuf;

use overlook_texture::{DecodeOptions, DecodedTexture, J2cInfo, Progression, decode};

/// Every `.j2c` / `.j2k` of `served/` and `library/`, sorted.
fn corpus() -> Vec<PathBuf> {
    let assets = overlook_testdata::capture_path("assets");
    let mut files: Vec<PathBuf> = ["served", "library"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(assets.join(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("j2c" | "j2k")))
        .collect();
    files.sort();
    files
}

/// A reference PNG as (width, height, channels, 8-bit samples).
fn reference(codestream: &std::path::Path) -> (u32, u32, usize, Vec<u8>) {
    let file = std::fs::File::open(codestream.with_extension("png")).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    buf.truncate(frame.buffer_size());
    let channels = frame.color_type.samples();
    (frame.width, frame.height, channels, buf)
}

/// Which RGBA channels a reference with `channels` channels holds.
fn rgba_channels(channels: usize) -> &'static [usize] {
    match channels {
        1 => &[0],
        2 => &[0, 3],
        3 => &[0, 1, 2],
        4 => &[0, 1, 2, 3],
        n => panic!("{n} channels"),
    }
}

fn name(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_corpus_file_matches_openjpeg() {
    let files = corpus();
    assert_eq!(
        files.len(),
        6 + 47,
        "the README's 6 served and 47 library codestreams"
    );
    let (mut exact, mut within_one, mut reversible) = (0, 0, 0);
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let info = J2cInfo::parse(&bytes).unwrap();
        let tex = decode(&bytes, DecodeOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", name(path)));
        assert_eq!(
            (tex.width, tex.height),
            (info.width, info.height),
            "{}",
            name(path)
        );
        assert_eq!(u16::from(tex.components), info.components, "{}", name(path));
        assert_eq!(tex.rgba.len(), (tex.width * tex.height * 4) as usize);
        assert!(info.resolution_levels >= 1 && info.quality_layers >= 1);
        assert_eq!(info.bit_depth, 8);

        let (w, h, channels, pixels) = reference(path);
        assert_eq!((w, h), (tex.width, tex.height), "{}", name(path));
        assert_eq!(channels, usize::from(tex.components), "{}", name(path));
        let mut max_diff = 0u8;
        for (i, px) in pixels.chunks_exact(channels).enumerate() {
            for (&want, &c) in px.iter().zip(rgba_channels(channels)) {
                max_diff = max_diff.max(want.abs_diff(tex.rgba[i * 4 + c]));
            }
        }
        if info.reversible {
            reversible += 1;
            assert_eq!(
                max_diff,
                0,
                "{}: reversible stream off by {max_diff}",
                name(path)
            );
        } else {
            assert!(
                max_diff <= 1,
                "{}: irreversible stream off by {max_diff}",
                name(path)
            );
        }
        if max_diff == 0 {
            exact += 1;
        } else {
            within_one += 1;
        }
        let alpha_below_255 = channels == 4 && pixels.chunks_exact(4).any(|p| p[3] != 255);
        assert_eq!(tex.has_alpha, alpha_below_255, "{}", name(path));
    }
    println!(
        "{} codestreams ({reversible} reversible): {exact} equal to OpenJPEG, {within_one} within ±1",
        files.len()
    );
}

#[test]
fn the_served_plywood_header() {
    let bytes =
        overlook_testdata::read_bytes("assets/served/89556747-24cb-43ed-920b-47caed15465f.j2c");
    let info = J2cInfo::parse(&bytes).unwrap();
    assert_eq!((info.width, info.height, info.components), (512, 512, 3));
    assert_eq!(info.progression, Progression::Lrcp);
    assert_eq!(info.tiles, 1);
    // The header alone (a range request's first 600 bytes) is enough.
    assert_eq!(J2cInfo::parse(&bytes[..600]).unwrap(), info);
}

/// The mean of each `f`×`f` block (partial blocks at the edges averaged over what they hold).
fn box_filter(pixels: &[u8], w: u32, h: u32, channels: usize, f: u32) -> Vec<u8> {
    let (rw, rh) = (w.div_ceil(f), h.div_ceil(f));
    let mut out = Vec::new();
    for by in 0..rh {
        for bx in 0..rw {
            for c in 0..channels {
                let (mut sum, mut n) = (0u32, 0u32);
                for y in by * f..((by + 1) * f).min(h) {
                    for x in bx * f..((bx + 1) * f).min(w) {
                        sum += u32::from(pixels[(y * w + x) as usize * channels + c]);
                        n += 1;
                    }
                }
                out.push(((sum + n / 2) / n) as u8);
            }
        }
    }
    out
}

#[test]
fn reduced_decodes_have_halved_sizes_and_stay_close_to_the_reference() {
    let mut worst_mean = [0f64; 3];
    for path in corpus() {
        let bytes = std::fs::read(&path).unwrap();
        let info = J2cInfo::parse(&bytes).unwrap();
        let (w, h, channels, pixels) = reference(&path);
        for reduce in 1..=2u8 {
            let tex: DecodedTexture = decode(&bytes, DecodeOptions { reduce }).unwrap();
            let r = info.clamp_reduce(reduce);
            let f = 1u32 << r;
            assert_eq!(
                (tex.width, tex.height),
                (w.div_ceil(f), h.div_ceil(f)),
                "{} reduce {reduce}",
                name(&path)
            );
            assert_eq!((tex.width, tex.height), info.reduced_size(reduce));
            let small = box_filter(&pixels, w, h, channels, f);
            let (mut sum, mut n) = (0u64, 0u64);
            for (i, px) in small.chunks_exact(channels).enumerate() {
                for (&want, &c) in px.iter().zip(rgba_channels(channels)) {
                    sum += u64::from(want.abs_diff(tex.rgba[i * 4 + c]));
                    n += 1;
                }
            }
            let mean = sum as f64 / n as f64;
            worst_mean[usize::from(r)] = worst_mean[usize::from(r)].max(mean);
            let limit = MAX_MEAN_DIFF[usize::from(r)];
            assert!(
                mean < limit,
                "{} reduce {reduce}: mean |diff| {mean:.2}",
                name(&path)
            );
        }
    }
    println!(
        "worst mean |diff| against the box-filtered reference, reduce 1, 2: {:.2}, {:.2}",
        worst_mean[1], worst_mean[2]
    );
}

/// Mean absolute difference per channel allowed between a reduced decode (the wavelet's
/// low-pass band) and the full reference box-filtered to the same size, by levels discarded.
/// The wavelet's low-pass filter is not a box filter, so detailed textures differ by a few
/// levels: measured worst over the corpus 6.69 (reduce 1) and 9.75 (reduce 2), both on
/// `ca4e8c27-...`, a high-contrast pattern; most are 1–4. A misplaced or garbled image differs
/// by tens.
const MAX_MEAN_DIFF: [f64; 3] = [0.0, 8.0, 12.0];

#[test]
fn every_reduce_gives_the_size_j2c_info_predicts() {
    for path in corpus() {
        let bytes = std::fs::read(&path).unwrap();
        let info = J2cInfo::parse(&bytes).unwrap();
        // Up to 6: beyond the 5 levels these streams can discard, and beyond log2 of the
        // 8 × 512 bakes' and the 32² textures' shorter side.
        for reduce in 0..=6u8 {
            let tex = decode(&bytes, DecodeOptions { reduce }).unwrap();
            assert_eq!(
                (tex.width, tex.height),
                info.reduced_size(reduce),
                "{} reduce {reduce}",
                name(&path)
            );
        }
    }
}

/// Every prefix of `bytes` in `lengths` returns Ok or Err; returns how many decoded.
fn prefixes(bytes: &[u8], lengths: impl Iterator<Item = usize>) -> (usize, usize) {
    let (mut ok, mut total) = (0, 0);
    for len in lengths {
        let prefix = &bytes[..len];
        let _ = J2cInfo::parse(prefix);
        if let Ok(tex) = decode(prefix, DecodeOptions::default()) {
            assert_eq!(tex.rgba.len(), (tex.width * tex.height * 4) as usize);
            ok += 1;
        }
        total += 1;
    }
    (ok, total)
}

#[test]
fn every_prefix_of_the_blank_texture_decodes_or_fails() {
    let bytes =
        overlook_testdata::read_bytes("assets/served/5748decc-f629-461c-9a36-a35a221fe21f.j2c");
    assert_eq!(bytes.len(), 160);
    let (ok, total) = prefixes(&bytes, 0..=bytes.len());
    println!("blank texture: {ok} of {total} prefixes decode");
}

#[test]
fn prefixes_of_the_plywood_decode_or_fail() {
    let bytes =
        overlook_testdata::read_bytes("assets/served/89556747-24cb-43ed-920b-47caed15465f.j2c");
    let lengths = (0..bytes.len())
        .step_by(1_201)
        .chain([600, 2_048, bytes.len() - 1, bytes.len()]);
    let (ok, total) = prefixes(&bytes, lengths);
    println!("plywood: {ok} of {total} prefixes decode");
    // A range request's first 2,048 bytes hold the header and the first packets.
    assert!(decode(&bytes[..2_048], DecodeOptions::default()).is_ok());
}

#[test]
fn a_truncated_header_and_garbage_are_errors() {
    assert!(decode(b"", DecodeOptions::default()).is_err());
    assert!(decode(b"\x89PNG\r\n\x1a\n", DecodeOptions::default()).is_err());
    let bytes =
        overlook_testdata::read_bytes("assets/served/5748decc-f629-461c-9a36-a35a221fe21f.j2c");
    assert!(J2cInfo::parse(&bytes[..20]).is_err());
}
