//! Datagram decode: header, zero-coding, appended acks. Whatever decodes must re-emit to bytes
//! that decode to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlook_protocol::udp;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = udp::decode(data) {
        let again = p.to_vec();
        let q = udp::decode(&again).expect("re-emitted packet must decode");
        assert_eq!(p.sequence, q.sequence);
        assert_eq!(p.message, q.message);
        assert_eq!(p.body, q.body);
        assert_eq!(p.acks, q.acks);
    }
});
