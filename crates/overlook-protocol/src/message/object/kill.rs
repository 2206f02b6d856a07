//! `KillObject` (High 16): objects that left the region (PROTOCOL §3.12).
//!
//! Carries region-local ids; OpenSim batches up to 200 per packet. The receiver removes each
//! object with its children; a later update for the same id re-creates it.

use crate::message::circuit::{message_repr, read_block, write_block};
use crate::message::codec::{MessageError, MessageRepr, Reader};
use crate::udp::MessageId;

/// `KillObject`: remove these objects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KillObject {
    /// Region-local ids (at most 255 per message).
    pub ids: Vec<u32>,
}

message_repr! {
    KillObject, "KillObject", MessageId::High(16), false,
    parse(r) { Ok(KillObject { ids: read_block(r, Reader::u32)? }) }
    emit(self, w) { write_block(w, "ObjectData", &self.ids, |w, id| w.u32(*id)); }
    len(self) { 1 + 4 * self.ids.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::testutil::template_agrees;
    use proptest::prelude::*;

    #[test]
    fn kill_bytes() {
        let msg = KillObject {
            ids: vec![665_494_776, 1],
        };
        let mut buf = [0xAAu8; 12];
        let n = msg.emit(&mut buf).unwrap();
        assert_eq!(n, 9);
        assert_eq!(&buf[..n], [2, 0xF8, 0xA4, 0xAA, 0x27, 1, 0, 0, 0]);
        assert_eq!(KillObject::parse(&buf[..n]).unwrap(), msg);
        template_agrees::<KillObject>(&buf[..n]);
        for cut in 0..n {
            assert_eq!(KillObject::parse(&buf[..cut]), Err(MessageError::Truncated));
        }
        assert_eq!(
            KillObject::parse(&buf[..n + 1]),
            Err(MessageError::TrailingBytes(1))
        );
        assert_eq!(KillObject::parse(&[0]).unwrap(), KillObject::default());
        assert_eq!(msg.emit(&mut buf[..8]), Err(MessageError::BufferTooSmall));
        let many = KillObject { ids: vec![0; 256] };
        assert!(matches!(
            many.to_bytes(),
            Err(MessageError::FieldTooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn roundtrip_kill(ids in proptest::collection::vec(any::<u32>(), 0..=255)) {
            let msg = KillObject { ids };
            let bytes = msg.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), msg.buffer_len());
            template_agrees::<KillObject>(&bytes);
            prop_assert_eq!(KillObject::parse(&bytes).unwrap(), msg);
        }

        #[test]
        fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(m) = KillObject::parse(&body) {
                prop_assert_eq!(m.to_bytes().unwrap(), body);
            }
        }
    }
}
