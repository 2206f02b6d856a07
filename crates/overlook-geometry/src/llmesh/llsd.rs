//! Binary LLSD (`application/llsd+binary`), the serialization inside SL mesh assets.
//!
//! One marker byte per value, lengths and counts as big-endian `u32`:
//!
//! | marker | value |
//! |---|---|
//! | `!` | undefined |
//! | `1` / `0` | true / false |
//! | `i` | integer: `i32` big-endian |
//! | `r` | real: `f64` big-endian |
//! | `d` | date: `f64` seconds since the epoch, **little-endian** (SLV writes it unswapped) |
//! | `u` | UUID: 16 bytes |
//! | `s` / `l` / `b` | string / URI / binary: `u32` length, then the bytes |
//! | `[` | array: `u32` count, the values, `]` |
//! | `{` | map: `u32` count, per entry `k` + `u32` length + key bytes, then the value; `}` |
//!
//! A stream may start with SLV's deprecated `<? LLSD/Binary ?>` line, which [`parse`] skips
//! (SL mesh assets carry none). SLV's notation-style quoted strings (`'…'`, `"…"`) as values or
//! keys are not accepted. Strings that are not UTF-8 are decoded lossily.
//!
//! [`parse`] reads network data: it never panics, nests at most [`MAX_DEPTH`] containers deep,
//! and never reserves more elements than the remaining bytes could hold, whatever count a
//! container claims.

use std::fmt;

/// How many containers (arrays and maps) may nest inside one another.
pub const MAX_DEPTH: usize = 64;

/// How many values one [`parse`] may produce in all. A mesh LOD holds about a dozen per face
/// and a header a few dozen; the bound keeps a small, highly compressed block of one-byte values
/// from growing into gigabytes of [`Llsd`].
pub const MAX_VALUES: usize = 1 << 16;

/// SLV's deprecated header line, skipped when a stream starts with it (with or without `\n`).
pub const DEPRECATED_PREFIX: &[u8] = b"<? LLSD/Binary ?>";

/// One LLSD value.
#[derive(Debug, Clone, PartialEq)]
pub enum Llsd {
    /// `!`
    Undefined,
    /// `1` or `0`.
    Boolean(bool),
    /// `i`: a signed 32-bit integer.
    Integer(i32),
    /// `r`: a double.
    Real(f64),
    /// `s`: a string.
    String(String),
    /// `u`: a UUID's 16 bytes, in order.
    Uuid([u8; 16]),
    /// `d`: seconds since the Unix epoch.
    Date(f64),
    /// `l`: a URI.
    Uri(String),
    /// `b`: raw bytes.
    Binary(Vec<u8>),
    /// `[`…`]`
    Array(Vec<Llsd>),
    /// `{`…`}`: entries in stream order (a key may repeat; [`Llsd::get`] finds the first).
    Map(Vec<(String, Llsd)>),
}

impl Llsd {
    /// The value of `key` when `self` is a map holding it.
    pub fn get(&self, key: &str) -> Option<&Llsd> {
        self.as_map()?
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    /// Whether `self` is a map holding `key` (with any value, undefined included).
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The entries of a map.
    pub fn as_map(&self) -> Option<&[(String, Llsd)]> {
        match self {
            Llsd::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The elements of an array.
    pub fn as_array(&self) -> Option<&[Llsd]> {
        match self {
            Llsd::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The bytes of a binary value.
    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Llsd::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// A real or an integer as `f64`.
    pub fn as_real(&self) -> Option<f64> {
        match *self {
            Llsd::Real(r) => Some(r),
            Llsd::Integer(i) => Some(f64::from(i)),
            _ => None,
        }
    }

    /// An integer, or a finite real truncated towards zero when it fits in `i32`.
    pub fn as_integer(&self) -> Option<i32> {
        match *self {
            Llsd::Integer(i) => Some(i),
            Llsd::Real(r) => real_to_i32(r),
            _ => None,
        }
    }
}

/// `r` truncated towards zero, when finite and within `i32`.
#[allow(clippy::as_conversions)]
fn real_to_i32(r: f64) -> Option<i32> {
    let t = r.trunc();
    // Checked range first, so the saturating `as` is exact.
    (t.is_finite() && t >= f64::from(i32::MIN) && t <= f64::from(i32::MAX)).then_some(t as i32)
}

/// Why a byte stream is not binary LLSD, with the byte offset where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlsdError {
    /// The stream ends inside a value.
    Truncated {
        /// Offset of the value or length that does not fit.
        at: usize,
    },
    /// A byte that starts no value.
    UnknownMarker {
        /// Its offset.
        at: usize,
        /// The byte.
        marker: u8,
    },
    /// A map entry that does not start with `k` (or `s`).
    BadKey {
        /// Its offset.
        at: usize,
        /// The byte found.
        marker: u8,
    },
    /// An array or map not closed by `]` / `}` after its count of elements.
    Unterminated {
        /// Offset where the closing byte was expected.
        at: usize,
    },
    /// Containers nested deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Offset of the container that went too deep.
        at: usize,
    },
    /// More than [`MAX_VALUES`] values in one stream.
    TooMany {
        /// Offset of the value over the budget.
        at: usize,
    },
    /// (Writing) a string, binary or container longer than a `u32` can count.
    TooLong,
}

impl fmt::Display for LlsdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlsdError::Truncated { at } => write!(f, "LLSD truncated at byte {at}"),
            LlsdError::UnknownMarker { at, marker } => {
                write!(f, "unknown LLSD marker 0x{marker:02x} at byte {at}")
            }
            LlsdError::BadKey { at, marker } => {
                write!(f, "LLSD map key marker 0x{marker:02x} at byte {at}")
            }
            LlsdError::Unterminated { at } => {
                write!(f, "LLSD container not closed at byte {at}")
            }
            LlsdError::TooDeep { at } => write!(
                f,
                "LLSD nested more than {MAX_DEPTH} containers deep at byte {at}"
            ),
            LlsdError::TooMany { at } => {
                write!(f, "more than {MAX_VALUES} LLSD values at byte {at}")
            }
            LlsdError::TooLong => write!(f, "LLSD value too long for a u32 length"),
        }
    }
}

impl std::error::Error for LlsdError {}

/// Parses one binary LLSD value from the start of `bytes` (after an optional
/// [`DEPRECATED_PREFIX`] line) and returns it with the number of bytes it took, prefix included.
/// Bytes after the value are not looked at.
pub fn parse(bytes: &[u8]) -> Result<(Llsd, usize), LlsdError> {
    let mut start = 0;
    if bytes.starts_with(DEPRECATED_PREFIX) {
        start = DEPRECATED_PREFIX.len();
        if bytes.get(start) == Some(&b'\n') {
            start += 1;
        }
    }
    let mut r = Reader {
        bytes,
        pos: start,
        values: 0,
    };
    let value = r.value(MAX_DEPTH)?;
    Ok((value, r.pos))
}

/// A cursor over the input; every read is checked.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Values read so far, against [`MAX_VALUES`].
    values: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], LlsdError> {
        let at = self.pos;
        let s = at
            .checked_add(n)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or(LlsdError::Truncated { at })?;
        self.pos = at.saturating_add(n);
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], LlsdError> {
        let at = self.pos;
        self.take(N)?
            .try_into()
            .map_err(|_| LlsdError::Truncated { at })
    }

    fn byte(&mut self) -> Result<u8, LlsdError> {
        let [b] = self.fixed::<1>()?;
        Ok(b)
    }

    /// A big-endian `u32` length or count.
    fn count(&mut self) -> Result<usize, LlsdError> {
        let at = self.pos;
        let n = u32::from_be_bytes(self.fixed()?);
        usize::try_from(n).map_err(|_| LlsdError::Truncated { at })
    }

    /// A length-prefixed byte run.
    fn sized(&mut self) -> Result<&'a [u8], LlsdError> {
        let n = self.count()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, LlsdError> {
        Ok(String::from_utf8_lossy(self.sized()?).into_owned())
    }

    fn close(&mut self, expected: u8) -> Result<(), LlsdError> {
        let at = self.pos;
        match self.byte() {
            Ok(b) if b == expected => Ok(()),
            _ => Err(LlsdError::Unterminated { at }),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Llsd, LlsdError> {
        let at = self.pos;
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(LlsdError::TooMany { at });
        }
        let marker = self.byte()?;
        Ok(match marker {
            b'!' => Llsd::Undefined,
            b'1' => Llsd::Boolean(true),
            b'0' => Llsd::Boolean(false),
            b'i' => Llsd::Integer(i32::from_be_bytes(self.fixed()?)),
            b'r' => Llsd::Real(f64::from_be_bytes(self.fixed()?)),
            b'd' => Llsd::Date(f64::from_le_bytes(self.fixed()?)),
            b'u' => Llsd::Uuid(self.fixed()?),
            b's' => Llsd::String(self.string()?),
            b'l' => Llsd::Uri(self.string()?),
            b'b' => Llsd::Binary(self.sized()?.to_vec()),
            b'[' => {
                let depth = depth.checked_sub(1).ok_or(LlsdError::TooDeep { at })?;
                let n = self.count()?;
                // Every element takes at least its marker byte.
                let mut items = Vec::with_capacity(n.min(self.remaining()));
                for _ in 0..n {
                    items.push(self.value(depth)?);
                }
                self.close(b']')?;
                Llsd::Array(items)
            }
            b'{' => {
                let depth = depth.checked_sub(1).ok_or(LlsdError::TooDeep { at })?;
                let n = self.count()?;
                // Every entry takes at least `k`, a length and a value marker.
                let mut entries = Vec::with_capacity(n.min(self.remaining() / 6));
                for _ in 0..n {
                    let key_at = self.pos;
                    match self.byte()? {
                        b'k' | b's' => {}
                        marker => return Err(LlsdError::BadKey { at: key_at, marker }),
                    }
                    let key = self.string()?;
                    let value = self.value(depth)?;
                    entries.push((key, value));
                }
                self.close(b'}')?;
                Llsd::Map(entries)
            }
            marker => return Err(LlsdError::UnknownMarker { at, marker }),
        })
    }
}

/// Appends `value` as binary LLSD (no prefix line) to `out`.
///
/// Fails only when a string, binary or container is longer than a `u32` can count; `out` may
/// then hold part of the value.
pub fn write(value: &Llsd, out: &mut Vec<u8>) -> Result<(), LlsdError> {
    fn len(out: &mut Vec<u8>, n: usize) -> Result<(), LlsdError> {
        let n = u32::try_from(n).map_err(|_| LlsdError::TooLong)?;
        out.extend_from_slice(&n.to_be_bytes());
        Ok(())
    }
    fn sized(out: &mut Vec<u8>, marker: u8, bytes: &[u8]) -> Result<(), LlsdError> {
        out.push(marker);
        len(out, bytes.len())?;
        out.extend_from_slice(bytes);
        Ok(())
    }
    match value {
        Llsd::Undefined => out.push(b'!'),
        Llsd::Boolean(true) => out.push(b'1'),
        Llsd::Boolean(false) => out.push(b'0'),
        Llsd::Integer(i) => {
            out.push(b'i');
            out.extend_from_slice(&i.to_be_bytes());
        }
        Llsd::Real(r) => {
            out.push(b'r');
            out.extend_from_slice(&r.to_be_bytes());
        }
        Llsd::Date(d) => {
            out.push(b'd');
            out.extend_from_slice(&d.to_le_bytes());
        }
        Llsd::Uuid(u) => {
            out.push(b'u');
            out.extend_from_slice(u);
        }
        Llsd::String(s) => sized(out, b's', s.as_bytes())?,
        Llsd::Uri(s) => sized(out, b'l', s.as_bytes())?,
        Llsd::Binary(b) => sized(out, b'b', b)?,
        Llsd::Array(items) => {
            out.push(b'[');
            len(out, items.len())?;
            for item in items {
                write(item, out)?;
            }
            out.push(b']');
        }
        Llsd::Map(entries) => {
            out.push(b'{');
            len(out, entries.len())?;
            for (key, v) in entries {
                sized(out, b'k', key.as_bytes())?;
                write(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// `value` as binary LLSD.
pub fn to_vec(value: &Llsd) -> Result<Vec<u8>, LlsdError> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Llsd) {
        let bytes = to_vec(v).unwrap();
        let (back, used) = parse(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        // NaN != NaN: compare the bytes again instead.
        assert_eq!(to_vec(&back).unwrap(), bytes, "{v:?}");
    }

    fn every_type() -> Llsd {
        Llsd::Map(vec![
            ("undef".into(), Llsd::Undefined),
            ("t".into(), Llsd::Boolean(true)),
            ("f".into(), Llsd::Boolean(false)),
            ("i".into(), Llsd::Integer(-123_456)),
            ("r".into(), Llsd::Real(-0.125e10)),
            ("s".into(), Llsd::String("höhe".into())),
            ("u".into(), Llsd::Uuid(*b"0123456789abcdef")),
            ("d".into(), Llsd::Date(1.7e9)),
            ("l".into(), Llsd::Uri("http://127.0.0.1:9000/".into())),
            ("b".into(), Llsd::Binary(vec![0, 1, 2, 255])),
            (
                "a".into(),
                Llsd::Array(vec![
                    Llsd::Integer(1),
                    Llsd::Array(vec![]),
                    Llsd::Map(vec![]),
                ]),
            ),
        ])
    }

    #[test]
    fn every_value_type_round_trips() {
        let all = every_type();
        for (_, v) in all.as_map().unwrap() {
            round_trip(v);
        }
        round_trip(&all);
        round_trip(&Llsd::Real(f64::NAN));
        round_trip(&Llsd::Integer(i32::MIN));
        round_trip(&Llsd::String(String::new()));
        let (back, _) = parse(&to_vec(&all).unwrap()).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn known_encodings() {
        assert_eq!(to_vec(&Llsd::Integer(1)).unwrap(), b"i\0\0\0\x01");
        assert_eq!(
            to_vec(&Llsd::Real(1.0)).unwrap(),
            [b'r', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            to_vec(&Llsd::Map(vec![("a".into(), Llsd::Boolean(true))])).unwrap(),
            b"{\0\0\0\x01k\0\0\0\x01a1}"
        );
        assert_eq!(
            to_vec(&Llsd::Array(vec![Llsd::Undefined])).unwrap(),
            b"[\0\0\0\x01!]"
        );
        // The date is the one little-endian number.
        assert_eq!(
            to_vec(&Llsd::Date(1.0)).unwrap(),
            [b'd', 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]
        );
    }

    #[test]
    fn accessors() {
        let all = every_type();
        assert_eq!(all.get("i").and_then(Llsd::as_integer), Some(-123_456));
        assert_eq!(all.get("i").and_then(Llsd::as_real), Some(-123_456.0));
        assert_eq!(Llsd::Real(2.9).as_integer(), Some(2));
        assert_eq!(Llsd::Real(1e20).as_integer(), None);
        assert_eq!(Llsd::Real(f64::NAN).as_integer(), None);
        assert_eq!(
            all.get("b").and_then(Llsd::as_binary),
            Some(&[0u8, 1, 2, 255][..])
        );
        assert_eq!(
            all.get("a").and_then(Llsd::as_array).map(<[_]>::len),
            Some(3)
        );
        assert!(all.has("undef"));
        assert!(!all.has("missing"));
        assert!(Llsd::Integer(1).get("i").is_none());
    }

    #[test]
    fn prefix_is_skipped_and_trailing_bytes_ignored() {
        let mut bytes = b"<? LLSD/Binary ?>\n".to_vec();
        bytes.extend(to_vec(&Llsd::Integer(7)).unwrap());
        bytes.extend(b"trailing");
        assert_eq!(parse(&bytes).unwrap(), (Llsd::Integer(7), 18 + 5));
        let mut bytes = b"<? LLSD/Binary ?>".to_vec();
        bytes.push(b'1');
        assert_eq!(parse(&bytes).unwrap(), (Llsd::Boolean(true), 18));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = to_vec(&every_type()).unwrap();
        for n in 0..bytes.len() {
            assert!(parse(&bytes[..n]).is_err(), "prefix of {n} bytes parsed");
        }
    }

    #[test]
    fn malformed_streams() {
        assert_eq!(
            parse(b"x"),
            Err(LlsdError::UnknownMarker {
                at: 0,
                marker: b'x'
            })
        );
        assert_eq!(
            parse(b"{\0\0\0\x01x\0\0\0\x01a1}"),
            Err(LlsdError::BadKey {
                at: 5,
                marker: b'x'
            })
        );
        assert_eq!(
            parse(b"[\0\0\0\x011!"),
            Err(LlsdError::Unterminated { at: 6 })
        );
        assert_eq!(
            parse(b"s\0\0\0\x05abc"),
            Err(LlsdError::Truncated { at: 5 })
        );
        assert!(matches!(
            parse(b"'a'"),
            Err(LlsdError::UnknownMarker { .. })
        ));
    }

    #[test]
    fn huge_counts_do_not_preallocate() {
        // 4 G elements claimed, a few bytes present: an error, not an abort.
        assert!(matches!(
            parse(b"[\xff\xff\xff\xff!!!"),
            Err(LlsdError::Truncated { .. })
        ));
        assert!(parse(b"{\xff\xff\xff\xffk\0\0\0\x01a!").is_err());
        assert!(parse(b"b\xff\xff\xff\xff\0").is_err());
        assert!(parse(b"s\xff\xff\xff\xff").is_err());
    }

    #[test]
    fn value_count_is_bounded() {
        let mut ok = b"[\0\0\xff\xff".to_vec();
        ok.extend(std::iter::repeat_n(b'!', MAX_VALUES - 1));
        ok.push(b']');
        assert!(parse(&ok).is_ok());
        let mut bomb = b"[\0\x01\0\0".to_vec();
        bomb.extend(std::iter::repeat_n(b'!', MAX_VALUES));
        bomb.push(b']');
        assert!(matches!(parse(&bomb), Err(LlsdError::TooMany { .. })));
    }

    #[test]
    fn nesting_is_bounded() {
        let nest = |depth: usize| {
            let mut v = b"[\0\0\0\x01".repeat(depth);
            v.push(b'!');
            v.extend(std::iter::repeat_n(b']', depth));
            v
        };
        assert!(parse(&nest(MAX_DEPTH)).is_ok());
        assert!(matches!(
            parse(&nest(MAX_DEPTH + 1)),
            Err(LlsdError::TooDeep { .. })
        ));
        // A bomb far deeper than the limit fails fast without exhausting the stack.
        assert!(matches!(
            parse(&nest(1_000_000)),
            Err(LlsdError::TooDeep { .. })
        ));
        let maps = b"{\0\0\0\x01k\0\0\0\0".repeat(100_000);
        assert!(matches!(parse(&maps), Err(LlsdError::TooDeep { .. })));
    }

    #[test]
    fn errors_display() {
        for e in [
            LlsdError::Truncated { at: 1 },
            LlsdError::UnknownMarker { at: 1, marker: 0 },
            LlsdError::BadKey { at: 1, marker: 0 },
            LlsdError::Unterminated { at: 1 },
            LlsdError::TooDeep { at: 1 },
            LlsdError::TooMany { at: 1 },
            LlsdError::TooLong,
        ] {
            assert!(!e.to_string().is_empty());
        }
    }
}
