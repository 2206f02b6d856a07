//! Captured LLUDP traffic in the `udp.jsonl` format of the repository's `tests/data/`: one JSON object per
//! datagram, `{"t": <seconds>, "dir": "in"|"out", "hex": "<bytes>"}`.
//!
//! Used by `overlook replay`, the golden-vector tests, the fuzz corpus and the benchmarks. The
//! reader is a small hand-written parser for exactly that shape (the protocol layer carries no
//! JSON dependency); a malformed line is an error naming the line, never a panic.

use core::fmt;

use crate::message::{MessageError, MessageRepr};
use crate::udp::{self, MessageId, PacketError};

/// Which way a datagram travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Simulator to viewer.
    In,
    /// Viewer to simulator.
    Out,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::In => "in",
            Direction::Out => "out",
        })
    }
}

/// One captured datagram.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedDatagram {
    /// Seconds since the first datagram of the capture.
    pub t: f64,
    /// Which way it went.
    pub dir: Direction,
    /// The whole datagram as on the wire.
    pub bytes: Vec<u8>,
}

/// Why a capture line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capture line {line}: {what}")]
pub struct CaptureError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub what: &'static str,
}

/// Reads every non-empty line of a `udp.jsonl` capture.
///
/// # Errors
/// [`CaptureError`] for the first malformed line.
pub fn read_udp_jsonl(text: &str) -> Result<Vec<CapturedDatagram>, CaptureError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(l).map_err(|what| CaptureError { line: i + 1, what }))
        .collect()
}

/// Finds `"key":` in a flat JSON object and returns the text after the colon.
fn value_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let at = line.find(&quoted)?;
    let rest = line.get(at + quoted.len()..)?.trim_start();
    Some(rest.strip_prefix(':')?.trim_start())
}

fn string_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let v = value_after(line, key)?.strip_prefix('"')?;
    v.get(..v.find('"')?)
}

fn parse_line(line: &str) -> Result<CapturedDatagram, &'static str> {
    let t_text = value_after(line, "t").ok_or("missing \"t\"")?;
    let end = t_text
        .find(|c: char| c == ',' || c == '}' || c.is_whitespace())
        .unwrap_or(t_text.len());
    // JSON has no NaN or infinity (Rust's float parser takes "NaN", "inf", "infinity").
    let t: f64 = t_text
        .get(..end)
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|t| t.is_finite())
        .ok_or("bad \"t\"")?;
    let dir = match string_value(line, "dir").ok_or("missing \"dir\"")? {
        "in" => Direction::In,
        "out" => Direction::Out,
        _ => return Err("bad \"dir\""),
    };
    let hex = string_value(line, "hex").ok_or("missing \"hex\"")?;
    let bytes = decode_hex(hex).ok_or("bad \"hex\"")?;
    Ok(CapturedDatagram { t, dir, bytes })
}

/// The captured sessions of the repository's `tests/data/opensim-0.9.2.2/`, for the tests.
#[cfg(test)]
pub(crate) use overlook_testdata::SESSIONS;

/// Why the datagrams of a capture did not decode into messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureDecodeError {
    /// A datagram is not a valid LLUDP packet.
    #[error("datagram {index}: {source}")]
    Packet {
        /// Its index among the capture's datagrams.
        index: usize,
        /// Why.
        source: PacketError,
    },
    /// A message body does not parse as its typed message.
    #[error("datagram {index}: {source}")]
    Message {
        /// Its index among the capture's datagrams.
        index: usize,
        /// Why.
        source: MessageError,
    },
}

/// The datagrams that came in (simulator to viewer), each as its message number and its
/// zero-decoded body, in capture order.
///
/// # Errors
/// [`CaptureDecodeError::Packet`] for the first datagram that is not a valid packet.
pub fn inbound_bodies(
    datagrams: &[CapturedDatagram],
) -> Result<Vec<(MessageId, Vec<u8>)>, CaptureDecodeError> {
    datagrams
        .iter()
        .enumerate()
        .filter(|(_, d)| d.dir == Direction::In)
        .map(|(index, d)| {
            let packet = udp::decode(&d.bytes)
                .map_err(|source| CaptureDecodeError::Packet { index, source })?;
            Ok((packet.message, packet.body.into_owned()))
        })
        .collect()
}

/// The incoming messages of type `M`, parsed, each with its body, in capture order.
///
/// # Errors
/// The first datagram that is not a valid packet, or the first body of `M` that does not parse.
pub fn inbound_messages<M: MessageRepr>(
    datagrams: &[CapturedDatagram],
) -> Result<Vec<(M, Vec<u8>)>, CaptureDecodeError> {
    inbound_bodies(datagrams)?
        .into_iter()
        .enumerate()
        .filter(|(_, (id, _))| *id == M::ID)
        .map(|(index, (_, body))| match M::parse(&body) {
            Ok(m) => Ok((m, body)),
            Err(source) => Err(CaptureDecodeError::Message { index, source }),
        })
        .collect()
}

/// Decodes a string of hex digit pairs.
pub fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let s = core::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines() {
        let text = "{\"t\": 0.001097, \"dir\": \"out\", \"hex\": \"4000ff\"}\n\n{\"t\": 2, \"dir\": \"in\", \"hex\": \"\"}\n";
        let d = read_udp_jsonl(text).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].dir, Direction::Out);
        assert_eq!(d[0].bytes, [0x40, 0, 0xff]);
        assert!((d[0].t - 0.001097).abs() < 1e-12);
        assert_eq!(d[1].t, 2.0);
    }

    #[test]
    fn rejects_bad_lines() {
        for (bad, what) in [
            ("{\"dir\": \"in\", \"hex\": \"00\"}", "missing \"t\""),
            (
                "{\"t\": 1, \"dir\": \"up\", \"hex\": \"00\"}",
                "bad \"dir\"",
            ),
            ("{\"t\": 1, \"dir\": \"in\", \"hex\": \"0\"}", "bad \"hex\""),
            ("{\"t\": x, \"dir\": \"in\", \"hex\": \"00\"}", "bad \"t\""),
            (
                "{\"t\": NaN, \"dir\": \"in\", \"hex\": \"00\"}",
                "bad \"t\"",
            ),
            (
                "{\"t\": inf, \"dir\": \"in\", \"hex\": \"00\"}",
                "bad \"t\"",
            ),
        ] {
            assert_eq!(read_udp_jsonl(bad), Err(CaptureError { line: 1, what }));
        }
    }
}
