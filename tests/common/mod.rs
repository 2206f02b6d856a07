//! Helpers shared by the integration tests: the OpenSim 0.9.2.2 captures that sit in
//! `shared/captures/` beside the checkout (`../shared` from the crate root, also in CI).
//!
//! Use from a test file with `mod common;`.
#![allow(dead_code)]

use std::path::PathBuf;

use overlook::protocol::capture::{CapturedDatagram, decode_hex, read_udp_jsonl};

/// The folder of the OpenSim 0.9.2.2 captures, with a trailing slash.
pub const CAPTURE_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/captures/opensim-0.9.2.2/"
);

/// The captured sessions that have UDP traffic.
pub const SESSIONS: [&str; 3] = ["test-region", "test-region-fresh", "var-region"];

/// The path of a file in the capture folder, e.g. `capture_path("SUMMARY.json")`.
pub fn capture_path(file: &str) -> PathBuf {
    PathBuf::from(CAPTURE_DIR).join(file)
}

/// The text of a file in the capture folder; panics with the path when it cannot be read.
pub fn read_capture_file(file: &str) -> String {
    let path = capture_path(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read capture file {}: {e}", path.display()))
}

/// Every datagram of a session (`"test-region"`, …; the `.udp.jsonl` suffix is optional), in
/// capture order. Panics when the file is missing or malformed.
pub fn load_capture(name: &str) -> Vec<CapturedDatagram> {
    let file = if name.ends_with(".udp.jsonl") {
        name.to_owned()
    } else {
        format!("{name}.udp.jsonl")
    };
    read_udp_jsonl(&read_capture_file(&file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Bytes from hex text; whitespace is ignored.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    decode_hex(&s).expect("hex digits")
}
