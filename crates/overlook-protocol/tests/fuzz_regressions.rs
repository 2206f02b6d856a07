//! Inputs the fuzz targets once crashed on (`tests/data/fuzz/<target>-<what>`), replayed with the
//! same invariants the targets check, so the fixes stay fixed without a fuzzer.

use overlook_protocol::message::{Message, generic};
use overlook_protocol::udp;

use overlook_testdata::fuzz_inputs as inputs;

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
