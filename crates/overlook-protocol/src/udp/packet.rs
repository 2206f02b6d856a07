//! The packet header view, message numbers and whole-datagram decode/encode (PROTOCOL §2.1,
//! §2.2).
//!
//! Layout: flags (1), sequence (4, big-endian), extra-header length (1), then — zero-coded if
//! flag `0x80` — the message number (1, 2 or 4 bytes) and the body, then appended acks if flag
//! `0x10`. No accessor of [`Packet`] panics once [`Packet::new_checked`] succeeds.

use std::borrow::Cow;
use std::fmt;

use super::acks::{self, AckIter};
use super::{PacketError, zerocode};

/// Header flag bits.
pub mod flags {
    /// The message number and body are zero-coded.
    pub const ZEROCODED: u8 = 0x80;
    /// The receiver must acknowledge this packet.
    pub const RELIABLE: u8 = 0x40;
    /// This is a resend of an earlier packet with the same sequence number.
    pub const RESENT: u8 = 0x20;
    /// Acks are appended after the body.
    pub const ACK: u8 = 0x10;

    /// The flags as four letters, `-` for a clear bit: `R`eliable, `Z`ero-coded, `r`esent,
    /// `A`cks appended (packet inspector, `overlook replay`).
    pub fn letters(flags: u8) -> String {
        [(RELIABLE, 'R'), (ZEROCODED, 'Z'), (RESENT, 'r'), (ACK, 'A')]
            .iter()
            .map(|&(bit, c)| if flags & bit != 0 { c } else { '-' })
            .collect()
    }
}

mod field {
    use core::ops::Range;
    pub const FLAGS: usize = 0;
    pub const SEQUENCE: Range<usize> = 1..5;
    pub const EXTRA: usize = 5;
}

/// Length of the fixed header: flags, sequence, extra-header length.
pub const HEADER_LEN: usize = 6;
/// The shortest valid datagram: the header and a one-byte message number.
pub const MIN_PACKET_LEN: usize = HEADER_LEN + 1;
/// The most bytes a zero-coded message number and body may expand to (SLV `NET_BUFFER_SIZE`).
pub const MAX_EXPANDED_LEN: usize = 0x2000;

/// A read-only view of a datagram's fixed header and raw payload.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking it holds at least a header and a message-number byte, that
    /// the extra-header length is zero, and that any appended-ack count fits.
    ///
    /// # Errors
    /// [`PacketError::Truncated`], [`PacketError::ExtraHeader`] or [`PacketError::BadAckCount`].
    pub fn new_checked(buffer: T) -> Result<Self, PacketError> {
        let b = buffer.as_ref();
        if b.len() < MIN_PACKET_LEN {
            return Err(PacketError::Truncated);
        }
        let extra = b.get(field::EXTRA).copied().unwrap_or(0);
        if extra != 0 {
            return Err(PacketError::ExtraHeader(extra));
        }
        let packet = Packet { buffer };
        packet.split()?;
        Ok(packet)
    }

    fn split(&self) -> Result<(&[u8], &[u8]), PacketError> {
        split_datagram(self.buffer.as_ref())
    }

    /// The flags byte.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref().get(field::FLAGS).copied().unwrap_or(0)
    }

    /// The sequence number.
    pub fn sequence(&self) -> u32 {
        self.buffer
            .as_ref()
            .get(field::SEQUENCE)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map_or(0, u32::from_be_bytes)
    }

    /// True when the sender wants an ack.
    pub fn is_reliable(&self) -> bool {
        self.flags() & flags::RELIABLE != 0
    }

    /// True for a resend.
    pub fn is_resent(&self) -> bool {
        self.flags() & flags::RESENT != 0
    }

    /// True when the payload is zero-coded.
    pub fn is_zerocoded(&self) -> bool {
        self.flags() & flags::ZEROCODED != 0
    }

    /// The message number and body, still zero-coded if [`Self::is_zerocoded`].
    pub fn payload(&self) -> &[u8] {
        self.split().map_or(&[][..], |(p, _)| p)
    }

    /// The appended acks (empty without the ack flag).
    pub fn acks(&self) -> AckIter<'_> {
        AckIter::new(self.split().map_or(&[][..], |(_, a)| a))
    }
}

/// Splits a datagram into its payload (message number and body) and raw appended acks.
fn split_datagram(b: &[u8]) -> Result<(&[u8], &[u8]), PacketError> {
    let has_acks = b.get(field::FLAGS).is_some_and(|f| f & flags::ACK != 0);
    let (before, acks) = if has_acks {
        acks::split(b, HEADER_LEN)?
    } else {
        (b, &[][..])
    };
    let payload = before.get(HEADER_LEN..).ok_or(PacketError::Truncated)?;
    Ok((payload, acks))
}

/// A message number as it travels (PROTOCOL §2.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageId {
    /// One byte, 1–254.
    High(u8),
    /// `FF nn`.
    Medium(u8),
    /// `FF FF hi lo`.
    Low(u16),
    /// `FF FF FF nn`, written as the full 32-bit number (e.g. `0xFFFF_FFFB`).
    Fixed(u32),
}

impl MessageId {
    /// Reads a message number from the front of a (zero-decoded) payload; returns it and the
    /// number of bytes it took.
    ///
    /// # Errors
    /// [`PacketError::Truncated`] or [`PacketError::BadMessageNumber`].
    pub fn parse(payload: &[u8]) -> Result<(MessageId, usize), PacketError> {
        match payload {
            [] => Err(PacketError::Truncated),
            [0xFF, 0xFF, hi, lo, ..] => {
                let n = u16::from_be_bytes([*hi, *lo]);
                if n >= 0xFFF0 {
                    Ok((MessageId::Fixed(0xFFFF_0000 | u32::from(n)), 4))
                } else if n == 0 {
                    Err(PacketError::BadMessageNumber)
                } else {
                    Ok((MessageId::Low(n), 4))
                }
            }
            [0xFF, 0xFF, ..] => Err(PacketError::Truncated),
            [0xFF, n, ..] => Ok((MessageId::Medium(*n), 2)),
            [0xFF] => Err(PacketError::Truncated),
            [0, ..] => Err(PacketError::BadMessageNumber),
            [n, ..] => Ok((MessageId::High(*n), 1)),
        }
    }

    /// How many bytes the number takes on the wire.
    pub fn wire_len(self) -> usize {
        match self {
            MessageId::High(_) => 1,
            MessageId::Medium(_) => 2,
            MessageId::Low(_) | MessageId::Fixed(_) => 4,
        }
    }

    /// Appends the wire form to `out`.
    pub fn write(self, out: &mut Vec<u8>) {
        match self {
            MessageId::High(n) => out.push(n),
            MessageId::Medium(n) => out.extend_from_slice(&[0xFF, n]),
            MessageId::Low(n) => {
                out.extend_from_slice(&[0xFF, 0xFF]);
                out.extend_from_slice(&n.to_be_bytes());
            }
            MessageId::Fixed(n) => out.extend_from_slice(&n.to_be_bytes()),
        }
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageId::High(n) => write!(f, "High {n}"),
            MessageId::Medium(n) => write!(f, "Medium {n}"),
            MessageId::Low(n) => write!(f, "Low {n}"),
            MessageId::Fixed(n) => write!(f, "Fixed {n:#010X}"),
        }
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A decoded datagram: header fields, message number, plain body and appended acks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRepr<'a> {
    /// The flags byte as received (see [`flags`]).
    pub flags: u8,
    /// The sequence number.
    pub sequence: u32,
    /// The message number.
    pub message: MessageId,
    /// The message body after the number, zero-decoded. Borrowed unless it was zero-coded.
    pub body: Cow<'a, [u8]>,
    /// Appended acks, in wire order.
    pub acks: Vec<u32>,
}

/// Decodes a whole datagram: strips the acks, zero-decodes, reads the message number.
///
/// # Errors
/// Any [`PacketError`]; the datagram should then be logged and dropped.
///
/// # Example
/// OpenSim's first datagram of every session: an unreliable `PacketAck` of our packet #1, with
/// sequence number 0.
/// ```
/// use overlook_protocol::udp::{self, MessageId};
///
/// let datagram = [0x00, 0, 0, 0, 0, 0x00, 0xFF, 0xFF, 0xFF, 0xFB, 0x01, 0x01, 0, 0, 0];
/// let packet = udp::decode(&datagram)?;
/// assert_eq!(packet.sequence, 0);
/// assert!(!packet.is_reliable());
/// assert_eq!(packet.message, MessageId::Fixed(0xFFFF_FFFB));
/// assert_eq!(&packet.body[..], &[0x01, 0x01, 0, 0, 0]);
/// assert_eq!(packet.to_vec(), datagram);
/// # Ok::<(), overlook_protocol::udp::PacketError>(())
/// ```
pub fn decode(datagram: &[u8]) -> Result<PacketRepr<'_>, PacketError> {
    let packet = Packet::new_checked(datagram)?;
    let (payload, raw_acks) = split_datagram(datagram)?;
    let acks = AckIter::new(raw_acks).collect();
    let (message, body) = if packet.is_zerocoded() {
        let mut plain = Vec::with_capacity(payload.len() * 2);
        zerocode::decode(payload, &mut plain)?;
        let (message, n) = MessageId::parse(&plain)?;
        plain.drain(..n);
        (message, Cow::Owned(plain))
    } else {
        let (message, n) = MessageId::parse(payload)?;
        (
            message,
            Cow::Borrowed(payload.get(n..).ok_or(PacketError::Truncated)?),
        )
    };
    Ok(PacketRepr {
        flags: packet.flags(),
        sequence: packet.sequence(),
        message,
        body,
        acks,
    })
}

impl PacketRepr<'_> {
    /// True when the sender wants an ack.
    pub fn is_reliable(&self) -> bool {
        self.flags & flags::RELIABLE != 0
    }

    /// True for a resend.
    pub fn is_resent(&self) -> bool {
        self.flags & flags::RESENT != 0
    }

    /// Appends the datagram to `out`. The payload is zero-coded when `flags` has
    /// [`flags::ZEROCODED`]; the ack flag is set from whether `acks` is empty (at most
    /// [`super::MAX_APPENDED_ACKS`] are written).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let acks = self
            .acks
            .get(..super::MAX_APPENDED_ACKS)
            .unwrap_or(&self.acks);
        let mut flags = self.flags & !flags::ACK;
        if !acks.is_empty() {
            flags |= flags::ACK;
        }
        out.push(flags);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.push(0);
        if flags & flags::ZEROCODED != 0 {
            let mut plain = Vec::with_capacity(self.message.wire_len() + self.body.len());
            self.message.write(&mut plain);
            plain.extend_from_slice(&self.body);
            zerocode::encode(&plain, out);
        } else {
            self.message.write(out);
            out.extend_from_slice(&self.body);
        }
        for ack in acks {
            out.extend_from_slice(&ack.to_be_bytes());
        }
        if !acks.is_empty() {
            // `acks` holds at most 255 entries.
            out.push(u8::try_from(acks.len()).unwrap_or(u8::MAX));
        }
    }

    /// The emitted datagram as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER_LEN + self.message.wire_len() + self.body.len() + 1);
        self.emit(&mut v);
        v
    }
}

/// Sets the zero-coding flag only when it makes `payload` (message number + body) shorter —
/// what both SLV and OpenSim do. Returns the flags to use.
pub fn choose_zerocoding(flags: u8, message: MessageId, body: &[u8]) -> u8 {
    let mut plain = Vec::with_capacity(message.wire_len() + body.len());
    message.write(&mut plain);
    plain.extend_from_slice(body);
    if zerocode::encoded_len(&plain) < plain.len() {
        flags | flags::ZEROCODED
    } else {
        flags & !flags::ZEROCODED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::testutil::hex;
    use proptest::prelude::*;

    #[test]
    fn message_numbers() {
        let cases: [(&str, MessageId); 5] = [
            ("0C", MessageId::High(12)),
            ("FF 06", MessageId::Medium(6)),
            ("FF FF 00 94", MessageId::Low(148)),
            ("FF FF FF FB", MessageId::Fixed(0xFFFF_FFFB)),
            ("FF FF 01 AF", MessageId::Low(431)),
        ];
        for (h, id) in cases {
            let b = hex(h);
            assert_eq!(MessageId::parse(&b).unwrap(), (id, b.len()));
            let mut out = Vec::new();
            id.write(&mut out);
            assert_eq!(out, b);
            assert_eq!(id.wire_len(), b.len());
        }
        assert!(MessageId::parse(&[]).is_err());
        assert!(MessageId::parse(&[0xFF]).is_err());
        assert!(MessageId::parse(&[0xFF, 0xFF, 0x00]).is_err());
        assert!(MessageId::parse(&[0x00]).is_err());
    }

    #[test]
    fn decodes_opensim_first_ack() {
        // The region's first datagram in every capture: unreliable PacketAck, sequence 0.
        let d = hex("000000000000fffffffb0101000000");
        let p = decode(&d).unwrap();
        assert_eq!(p.sequence, 0);
        assert_eq!(p.message, MessageId::Fixed(0xFFFF_FFFB));
        assert_eq!(&*p.body, &[1, 1, 0, 0, 0]);
        assert_eq!(p.to_vec(), d);
    }

    #[test]
    fn decodes_zerocoded_region_handshake_number() {
        // `C0 <seq> 00 FF FF 00 01 94`: the 00 high byte of 148 is coded as `00 01`.
        let d = hex("c000000001 00 ffff000194 26 80");
        let p = decode(&d).unwrap();
        assert_eq!(p.message, MessageId::Low(148));
        assert_eq!(&*p.body, &[0x26, 0x80]);
        assert_eq!(p.to_vec(), d);
    }

    #[test]
    fn header_view() {
        let d = hex("5000000102 00 0b aa 00000007 00000009 02");
        let p = Packet::new_checked(&d[..]).unwrap();
        assert!(p.is_reliable());
        assert!(!p.is_resent());
        assert_eq!(p.sequence(), 0x0102);
        assert_eq!(p.payload(), &[0x0b, 0xaa]);
        assert_eq!(p.acks().collect::<Vec<_>>(), [7, 9]);
        let r = decode(&d).unwrap();
        assert_eq!(r.acks, [7, 9]);
        assert_eq!(r.to_vec(), d);
    }

    #[test]
    fn rejects_truncated_header() {
        let d = hex("400000000100ffff0003");
        for n in 0..MIN_PACKET_LEN {
            assert_eq!(decode(&d[..n]).unwrap_err(), PacketError::Truncated);
        }
        assert!(decode(&d[..7]).is_err(), "FF alone is a truncated number");
    }

    #[test]
    fn rejects_extra_header() {
        assert_eq!(
            decode(&hex("40000000010201")).unwrap_err(),
            PacketError::ExtraHeader(2)
        );
    }

    #[test]
    fn chooses_zerocoding_only_when_shorter() {
        let id = MessageId::High(4);
        assert_eq!(choose_zerocoding(0x40, id, &[0; 10]), 0xC0);
        assert_eq!(choose_zerocoding(0xC0, id, &[1, 2, 3]), 0x40);
    }

    fn any_id() -> impl Strategy<Value = MessageId> {
        prop_oneof![
            (1u8..=254).prop_map(MessageId::High),
            (0u8..=254).prop_map(MessageId::Medium),
            (1u16..0xFFF0).prop_map(MessageId::Low),
            (0xFFF0u32..=0xFFFF).prop_map(|n| MessageId::Fixed(0xFFFF_0000 | n)),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip_packet(
            flags in any::<u8>(),
            sequence in any::<u32>(),
            message in any_id(),
            body in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..300),
            acks in proptest::collection::vec(any::<u32>(), 0..20),
        ) {
            let repr = PacketRepr {
                flags: flags & !flags::ACK,
                sequence,
                message,
                body: Cow::Owned(body),
                acks,
            };
            let bytes = repr.to_vec();
            let back = decode(&bytes).unwrap();
            prop_assert_eq!(back.flags & !flags::ACK, repr.flags);
            prop_assert_eq!(back.sequence, repr.sequence);
            prop_assert_eq!(back.message, repr.message);
            prop_assert_eq!(&back.body, &repr.body);
            prop_assert_eq!(&back.acks, &repr.acks);
            prop_assert_eq!(back.to_vec(), bytes);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.payload(), p.acks().count(), p.sequence());
            }
        }
    }
}
