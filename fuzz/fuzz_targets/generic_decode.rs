//! Template-driven generic decode of any message. What decodes must encode, and the encoded
//! form must decode to a message that encodes to the same bytes (a BOOL byte of 42 reads as true
//! and is written as 1, so the first re-encode may differ from the input, the second may not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlook_protocol::{message::generic, udp};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = udp::decode(data) {
        if let Ok(m) = generic::decode(p.message, &p.body) {
            let body = generic::encode(&m).expect("decoded message must encode");
            let again = generic::decode(p.message, &body).expect("encoded message must decode");
            assert_eq!(generic::encode(&again).expect("encode"), body);
            let _ = m.to_string();
        }
    }
});
