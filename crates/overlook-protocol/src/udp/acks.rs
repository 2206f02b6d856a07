//! Appended acks (PROTOCOL §2.4): with flag `0x10` the last byte of a datagram is a count N and
//! the N·4 bytes before it are acknowledged sequence numbers, big-endian.

use super::PacketError;

/// The most acks one datagram can append (the count is one byte).
pub const MAX_APPENDED_ACKS: usize = 255;

/// Splits `datagram` (which has the appended-ack flag) into the part before the acks and the
/// raw ack bytes.
///
/// # Errors
/// [`PacketError::BadAckCount`] when the count does not fit between the header and the end.
pub(super) fn split(datagram: &[u8], header_len: usize) -> Result<(&[u8], &[u8]), PacketError> {
    let (&count, rest) = datagram.split_last().ok_or(PacketError::Truncated)?;
    let ack_len = usize::from(count) * 4;
    let bad = PacketError::BadAckCount {
        count,
        len: datagram.len(),
    };
    // At least the header and a one-byte message number must precede the acks.
    let body_end = rest
        .len()
        .checked_sub(ack_len)
        .filter(|&end| end > header_len)
        .ok_or(bad)?;
    Ok(rest.split_at(body_end))
}

/// Iterates over big-endian sequence numbers in raw appended-ack bytes.
#[derive(Clone, Debug)]
pub struct AckIter<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl<'a> AckIter<'a> {
    /// Iterates over `raw`, whose length is a multiple of four (a trailing partial chunk is
    /// ignored).
    pub fn new(raw: &'a [u8]) -> Self {
        AckIter {
            chunks: raw.chunks_exact(4),
        }
    }
}

impl Iterator for AckIter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let c = self.chunks.next()?;
        let b: [u8; 4] = c.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for AckIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_one_ack() {
        // LS appended_acks.bin ends `00 00 00 04 01`: one ack of #4.
        let d = [0x10, 0, 0, 0, 1, 0, 0x05, 0xAA, 0, 0, 0, 4, 1];
        let (body, acks) = split(&d, 6).unwrap();
        assert_eq!(body, &d[..8]);
        assert_eq!(AckIter::new(acks).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn rejects_count_past_start() {
        let d = [0x10, 0, 0, 0, 1, 0, 0x05, 0, 0, 0, 4, 2];
        assert!(matches!(
            split(&d, 6),
            Err(PacketError::BadAckCount { count: 2, .. })
        ));
        // Acks that would eat the message number.
        let d = [0x10, 0, 0, 0, 1, 0, 0, 0, 0, 4, 1];
        assert!(split(&d, 6).is_err());
    }
}
