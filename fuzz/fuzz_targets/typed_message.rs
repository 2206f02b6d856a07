//! Every typed message: parse → emit → parse gives the same value, and emit matches the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlook_protocol::{message::Message, udp};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = udp::decode(data) {
        if let Ok(m) = Message::parse(p.message, &p.body) {
            let body = m.to_bytes().expect("parsed message must emit");
            let again = Message::parse(p.message, &body).expect("emitted message must parse");
            // NaN floats compare unequal; compare the re-emitted bytes instead.
            assert_eq!(again.to_bytes().expect("emit"), body);
        }
    }
});
