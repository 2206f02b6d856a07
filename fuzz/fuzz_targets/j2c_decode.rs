//! JPEG 2000 codestreams: `J2cInfo::parse` and `decode` at reduce 0..=3 never panic on any
//! bytes, and a decoded texture holds width × height RGBA pixels of the header's component count.
//! Headers above `MAX_PIXELS` are refused by the crate itself (cheaply: that path is fuzzed too);
//! for throughput this target skips decoding headers between 128 × 128 pixels and that limit (a
//! 512 × 512 seed decoded four times ran at ~13 inputs/s; the code paths are the same at 128 × 128,
//! 32 × 32 and 8 × 512, which the seeds also hold).
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlook_texture::{DecodeOptions, J2cInfo, MAX_PIXELS, decode};

const FUZZ_PIXELS: u64 = 128 * 128;

fuzz_target!(|data: &[u8]| {
    let info = J2cInfo::parse(data);
    if let Ok(info) = &info {
        let pixels = u64::from(info.width) * u64::from(info.height);
        if pixels > FUZZ_PIXELS && pixels <= MAX_PIXELS {
            return;
        }
    }
    for reduce in 0..=3 {
        if let Ok(tex) = decode(data, DecodeOptions { reduce }) {
            let info = info.as_ref().expect("a decoded stream has a header");
            assert_eq!(u16::from(tex.components), info.components);
            let pixels = usize::try_from(tex.width).unwrap() * usize::try_from(tex.height).unwrap();
            assert_eq!(tex.rgba.len(), pixels * 4);
        }
    }
});
