//! How the stateful fuzz targets frame the datagrams they build: the sequence number, the
//! reliable and resent flags, zero-coding when the message's template allows it and it pays, and
//! appended acks. Shared by `circuit_session` (the region's side) and `region_session` (the
//! viewer's side) through `#[path]`.

use arbitrary::Arbitrary;
use overlook_protocol::udp::{MessageId, PacketRepr, choose_zerocoding, flags};

/// Acks appended to one built datagram at most.
pub const MAX_ACKS: usize = 300;

/// An appended ack: one of the peer's recent sequence numbers, or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum AckRef {
    Recent(u8),
    Any(u32),
}

/// How a datagram the harness builds is framed.
#[derive(Arbitrary, Debug, Clone)]
pub struct Envelope {
    /// `None`: the next number of the harness's own counter (a well-behaved peer).
    pub sequence: Option<u32>,
    pub reliable: bool,
    pub resent: bool,
    pub acks: Vec<AckRef>,
}

impl Envelope {
    /// The datagram: numbered `sequence` (the harness passes the envelope's, or its own next),
    /// the envelope's flags, zero-coded when `zerocoded` allows and it is shorter, and `acks`
    /// (at most [`MAX_ACKS`] of the envelope's, resolved by the harness) appended.
    pub fn frame(
        &self,
        sequence: u32,
        acks: Vec<u32>,
        message: MessageId,
        zerocoded: bool,
        body: &[u8],
    ) -> Vec<u8> {
        let mut f = 0;
        if self.reliable {
            f |= flags::RELIABLE;
        }
        if self.resent {
            f |= flags::RESENT;
        }
        if zerocoded {
            f = choose_zerocoding(f, message, body);
        }
        PacketRepr {
            flags: f,
            sequence,
            message,
            body: body.into(),
            acks,
        }
        .to_vec()
    }
}
