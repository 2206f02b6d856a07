//! LLUDP framing (PROTOCOL §2): the packet header, message numbers, zero-coding and appended
//! acks.
//!
//! [`decode`] turns a datagram into a [`PacketRepr`] (header fields, message number, zero-decoded
//! body, appended acks) and [`PacketRepr::emit`] writes one back; both are byte-exact for every
//! datagram in the OpenSim captures. Nothing here panics on input: every length is checked and a
//! bad datagram yields a [`PacketError`].

mod acks;
mod packet;
pub mod zerocode;

pub use acks::{AckIter, MAX_APPENDED_ACKS};
pub use packet::{
    HEADER_LEN, MAX_EXPANDED_LEN, MIN_PACKET_LEN, MessageId, Packet, PacketRepr, choose_zerocoding,
    decode, flags,
};

/// Why a datagram could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The datagram is shorter than its header, message number or declared acks.
    #[error("truncated packet")]
    Truncated,
    /// The extra-header length byte was not zero (never seen in practice; PROTOCOL §2.1).
    #[error("unsupported extra header of {0} bytes")]
    ExtraHeader(u8),
    /// The appended-ack count claims more acks than the datagram holds.
    #[error("appended ack count {count} does not fit in {len} bytes")]
    BadAckCount {
        /// The count byte.
        count: u8,
        /// The datagram length.
        len: usize,
    },
    /// The zero-coded payload is malformed.
    #[error(transparent)]
    ZeroCode(#[from] zerocode::ZeroCodeError),
    /// The message number is not a valid encoding (e.g. `FF FF` followed by nothing).
    #[error("invalid message number")]
    BadMessageNumber,
}
