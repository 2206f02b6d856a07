//! Zero-coding (PROTOCOL §2.3): runs of zero bytes become `00 n`.
//!
//! The encoder splits runs longer than 255 (`00 FF 00 k`). The decoder accepts only `00 n` with
//! `n ≥ 1`; a zero count or a missing count byte is malformed (SLV and LMV disagree on those
//! degenerate forms and no encoder emits them). Output is capped at [`MAX_EXPANDED_LEN`] so a
//! hostile datagram cannot blow up memory.

use super::packet::MAX_EXPANDED_LEN;

/// Why a zero-coded payload could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZeroCodeError {
    /// A `00` was the last byte, with no run length after it.
    #[error("zero run without a count")]
    MissingCount,
    /// A `00 00` pair: a run of zero zeros.
    #[error("zero run of length 0")]
    ZeroCount,
    /// Expanding would exceed the 8 KiB buffer a viewer keeps.
    #[error("zero-coded payload expands past {MAX_EXPANDED_LEN} bytes")]
    TooLong,
}

/// Appends the zero-coded form of `input` to `out`.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    let mut run: u8 = 0;
    for &b in input {
        if b == 0 {
            if run == u8::MAX {
                out.extend_from_slice(&[0, run]);
                run = 0;
            }
            run += 1;
        } else {
            if run > 0 {
                out.extend_from_slice(&[0, run]);
                run = 0;
            }
            out.push(b);
        }
    }
    if run > 0 {
        out.extend_from_slice(&[0, run]);
    }
}

/// The length [`encode`] would produce for `input`.
pub fn encoded_len(input: &[u8]) -> usize {
    let mut len = 0usize;
    let mut run: u8 = 0;
    for &b in input {
        if b == 0 {
            if run == u8::MAX {
                len += 2;
                run = 0;
            }
            run += 1;
        } else {
            if run > 0 {
                len += 2;
                run = 0;
            }
            len += 1;
        }
    }
    if run > 0 {
        len += 2;
    }
    len
}

/// Appends the expansion of zero-coded `input` to `out`.
///
/// # Errors
/// [`ZeroCodeError`] for a malformed run or when `out` would grow past [`MAX_EXPANDED_LEN`].
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), ZeroCodeError> {
    let limit = MAX_EXPANDED_LEN;
    let mut rest = input;
    loop {
        // Copy the run of non-zero bytes up to the next `00 n` in one go.
        let literal_len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let (literal, tail) = rest.split_at(literal_len);
        if out.len() + literal.len() > limit {
            return Err(ZeroCodeError::TooLong);
        }
        out.extend_from_slice(literal);
        let [_zero, tail @ ..] = tail else {
            return Ok(());
        };
        let (&n, tail) = tail.split_first().ok_or(ZeroCodeError::MissingCount)?;
        if n == 0 {
            return Err(ZeroCodeError::ZeroCount);
        }
        let n = usize::from(n);
        if out.len() + n > limit {
            return Err(ZeroCodeError::TooLong);
        }
        out.resize(out.len() + n, 0);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(input: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode(input, &mut v);
        v
    }

    #[test]
    fn encodes_runs() {
        assert_eq!(enc(&[1, 0, 0, 0, 2]), [1, 0, 3, 2]);
        assert_eq!(enc(&[0]), [0, 1]);
        assert!(enc(&[]).is_empty());
        let long = vec![0u8; 300];
        assert_eq!(enc(&long), [0, 255, 0, 45]);
        assert_eq!(enc(&[0u8; 255]), [0, 255]);
        assert_eq!(enc(&[0u8; 256]), [0, 255, 0, 1]);
    }

    #[test]
    fn rejects_degenerate_runs() {
        let mut out = Vec::new();
        assert_eq!(decode(&[5, 0], &mut out), Err(ZeroCodeError::MissingCount));
        assert_eq!(
            decode(&[0, 0, 5], &mut Vec::new()),
            Err(ZeroCodeError::ZeroCount)
        );
    }

    #[test]
    fn caps_expansion() {
        // 33 runs of 255 zeros = 8415 bytes > 8192.
        let bomb: Vec<u8> = (0..33).flat_map(|_| [0u8, 255]).collect();
        assert_eq!(decode(&bomb, &mut Vec::new()), Err(ZeroCodeError::TooLong));
        let ok: Vec<u8> = (0..32).flat_map(|_| [0u8, 255]).collect();
        let mut out = Vec::new();
        decode(&ok, &mut out).unwrap();
        assert_eq!(out.len(), 32 * 255);
    }

    proptest! {
        #[test]
        fn roundtrip_zerocode(input in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..2000)) {
            let coded = enc(&input);
            prop_assert_eq!(coded.len(), encoded_len(&input));
            let mut out = Vec::new();
            decode(&coded, &mut out).unwrap();
            prop_assert_eq!(out, input);
        }

        #[test]
        fn decode_never_panics(input in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&input, &mut Vec::new());
        }
    }
}
