//! LayerData bitstreams: the decoder never panics, whether fed a captured datagram's layer or
//! raw bytes, for legacy and var-region sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlook_protocol::{message::Message, terrain, udp};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = udp::decode(data) {
        if let Ok(Message::LayerData(l)) = Message::parse(p.message, &p.body) {
            let _ = terrain::decode_layer(&l.data, 256, 256);
            let _ = terrain::decode_layer(&l.data, 512, 512);
        }
    }
    let _ = terrain::decode_layer(data, 256, 256);
    let _ = terrain::decode_layer(data, 1024, 512);
});
