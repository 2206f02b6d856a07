//! Inputs the fuzz targets once crashed on (`tests/data/fuzz/<target>-<what>`), replayed with the
//! same invariants the targets check, so the fixes stay fixed without a fuzzer.
// Tests may unwrap, index and panic; the crate's `[lints]` bind its shipped code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::panic
)]

use overlook_protocol::message::{Message, generic};
use overlook_protocol::udp;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/fuzz");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(target))
        })
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no regression inputs for {target}");
    v
}

#[test]
fn generic_reencode_is_idempotent() {
    for (name, data) in inputs("generic_decode") {
        let p = udp::decode(&data).unwrap();
        let m = generic::decode(p.message, &p.body).unwrap();
        let body = generic::encode(&m).unwrap();
        let again = generic::decode(p.message, &body).unwrap();
        assert_eq!(generic::encode(&again).unwrap(), body, "{name}");
    }
}

#[test]
fn parsed_typed_messages_always_emit() {
    for (name, data) in inputs("typed_message") {
        let p = udp::decode(&data).unwrap();
        let m = Message::parse(p.message, &p.body).unwrap();
        let body = m.to_bytes().unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = Message::parse(p.message, &body).unwrap();
        assert_eq!(again.to_bytes().unwrap(), body, "{name}");
    }
}
