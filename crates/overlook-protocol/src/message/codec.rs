//! Field codecs for message bodies (PROTOCOL §2.9): a checked [`Reader`] and a bounded
//! [`Writer`].
//!
//! Integers and floats are little-endian; `IPADDR` and `IPPORT` are network order; `Variable 1`
//! and `Variable 2` fields carry a u8 / u16-LE length prefix. Strings include their terminating
//! NUL in that length. A read past the end returns [`MessageError::Truncated`]; a write past the
//! end of the buffer is recorded and reported by [`Writer::finish`]. Nothing here panics.

use core::net::Ipv4Addr;

use crate::types::{Quat, Uuid, Vec3, Vec3d, Vec4};
use crate::udp::MessageId;

/// Why a message body could not be parsed or emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The body ended before a field did.
    #[error("truncated message")]
    Truncated,
    /// Bytes were left over after the last block.
    #[error("{0} trailing bytes after message")]
    TrailingBytes(usize),
    /// A variable field or block is longer than its length prefix can say.
    #[error("field {field} too long ({len} bytes)")]
    FieldTooLong {
        /// The field's template name.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// The output buffer is shorter than `buffer_len()`.
    #[error("emit buffer too small")]
    BufferTooSmall,
    /// The message number is not the one this type parses.
    #[error("expected message {expected}, got {got}")]
    WrongMessage {
        /// What the typed parser handles.
        expected: &'static str,
        /// What arrived.
        got: MessageId,
    },
    /// The template has no message with this number.
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    /// A field holds a value its format does not allow.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A generic message does not follow its template layout: a block out of order or repeated
    /// the wrong number of times, a field missing or renamed, or a value of the wrong type.
    #[error("{block}.{field} does not match the template: {what}")]
    Layout {
        /// The template block (or the message name when the block itself is wrong).
        block: &'static str,
        /// The field, or empty when the block as a whole is wrong.
        field: &'static str,
        /// What is wrong.
        what: &'static str,
    },
}

/// A typed message: parse from and emit to a message body (the bytes after the message number).
///
/// Implementations agree with the template: a test feeds every `emit` through the
/// template-driven generic decoder.
pub trait MessageRepr: Sized {
    /// The template name.
    const NAME: &'static str;
    /// The template number.
    const ID: MessageId;
    /// Whether the template marks it `Zerocoded` (what a sender *may* do; receivers obey the
    /// packet's flag bit).
    const ZEROCODED: bool;

    /// Parses a body. The whole body must be consumed.
    ///
    /// # Errors
    /// [`MessageError`] on truncated, trailing or invalid bytes.
    fn parse(body: &[u8]) -> Result<Self, MessageError>;

    /// The number of bytes [`Self::emit`] writes.
    fn buffer_len(&self) -> usize;

    /// Writes the body into the front of `buf`; returns the bytes written.
    ///
    /// # Errors
    /// [`MessageError::BufferTooSmall`] when `buf` is shorter than [`Self::buffer_len`], or
    /// [`MessageError::FieldTooLong`] when a variable field exceeds its prefix.
    fn emit(&self, buf: &mut [u8]) -> Result<usize, MessageError>;

    /// The emitted body as a new vector.
    ///
    /// # Errors
    /// As [`Self::emit`].
    fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        let mut v = vec![0; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }
}

/// Reads fields from the front of a body.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

macro_rules! read_le {
    ($($name:ident: $t:ty),* $(,)?) => {$(
        #[doc = concat!("Reads a little-endian `", stringify!($t), "`.")]
        ///
        /// # Errors
        /// [`MessageError::Truncated`].
        pub fn $name(&mut self) -> Result<$t, MessageError> {
            Ok(<$t>::from_le_bytes(self.array()?))
        }
    )*};
}

impl<'a> Reader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the next `n` bytes.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], MessageError> {
        if n > self.buf.len() {
            return Err(MessageError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes the next `N` bytes as an array.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], MessageError> {
        let (head, tail) = self
            .buf
            .split_first_chunk::<N>()
            .ok_or(MessageError::Truncated)?;
        self.buf = tail;
        Ok(*head)
    }

    /// Reads a `U8`.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn u8(&mut self) -> Result<u8, MessageError> {
        let [b] = self.array()?;
        Ok(b)
    }

    /// Reads an `S8`.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn i8(&mut self) -> Result<i8, MessageError> {
        Ok(i8::from_le_bytes(self.array()?))
    }

    read_le!(u16: u16, i16: i16, u32: u32, i32: i32, u64: u64, i64: i64, f32: f32, f64: f64);

    /// Reads a `BOOL` (non-zero is true).
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn bool(&mut self) -> Result<bool, MessageError> {
        Ok(self.u8()? != 0)
    }

    /// Reads an `LLUUID`.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn uuid(&mut self) -> Result<Uuid, MessageError> {
        Ok(Uuid(self.array()?))
    }

    /// Reads an `LLVector3`.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn vec3(&mut self) -> Result<Vec3, MessageError> {
        Ok(Vec3::new(self.f32()?, self.f32()?, self.f32()?))
    }

    /// Reads an `LLVector3d`.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn vec3d(&mut self) -> Result<Vec3d, MessageError> {
        Ok(Vec3d {
            x: self.f64()?,
            y: self.f64()?,
            z: self.f64()?,
        })
    }

    /// Reads an `LLVector4`.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn vec4(&mut self) -> Result<Vec4, MessageError> {
        Ok(Vec4 {
            x: self.f32()?,
            y: self.f32()?,
            z: self.f32()?,
            w: self.f32()?,
        })
    }

    /// Reads an `LLQuaternion` (12 bytes; `w` recovered).
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn quat(&mut self) -> Result<Quat, MessageError> {
        Ok(Quat::from_xyz(self.f32()?, self.f32()?, self.f32()?))
    }

    /// Reads an `IPADDR` (network order).
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn ipaddr(&mut self) -> Result<Ipv4Addr, MessageError> {
        Ok(Ipv4Addr::from(self.array::<4>()?))
    }

    /// Reads an `IPPORT` (big-endian).
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn ipport(&mut self) -> Result<u16, MessageError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a `Variable 1` field's bytes.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn var1(&mut self) -> Result<&'a [u8], MessageError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// Reads a `Variable 2` field's bytes.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn var2(&mut self) -> Result<&'a [u8], MessageError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// Reads a `Variable 1` string (one trailing NUL stripped, invalid UTF-8 replaced).
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn string1(&mut self) -> Result<String, MessageError> {
        Ok(fit_text(text_from_wire(self.var1()?), usize::from(u8::MAX)))
    }

    /// Reads a `Variable 2` string (one trailing NUL stripped, invalid UTF-8 replaced).
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn string2(&mut self) -> Result<String, MessageError> {
        Ok(fit_text(
            text_from_wire(self.var2()?),
            usize::from(u16::MAX),
        ))
    }

    /// Reads a `Variable` block's repeat count.
    ///
    /// # Errors
    /// [`MessageError::Truncated`].
    pub fn count(&mut self) -> Result<usize, MessageError> {
        Ok(usize::from(self.u8()?))
    }

    /// Checks that the whole body was read.
    ///
    /// # Errors
    /// [`MessageError::TrailingBytes`].
    pub fn finish(self) -> Result<(), MessageError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(MessageError::TrailingBytes(self.buf.len()))
        }
    }
}

/// Turns a wire string (NUL-terminated, maybe not UTF-8) into text.
pub fn text_from_wire(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Shortens `text` (at a character boundary) until its wire form fits in `max_wire` bytes.
///
/// Only text repaired from invalid UTF-8 can need it: each bad byte becomes a 3-byte U+FFFD, and
/// a parsed message must always be emittable again.
fn fit_text(mut text: String, max_wire: usize) -> String {
    while text_wire_len(&text) > max_wire {
        text.pop();
    }
    text
}

/// The wire length of a string field's content: its bytes plus a NUL, or 0 when empty.
pub fn text_wire_len(text: &str) -> usize {
    if text.is_empty() { 0 } else { text.len() + 1 }
}

/// Writes fields into the front of a buffer; an overflow is remembered and reported by
/// [`Writer::finish`].
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    error: Option<MessageError>,
}

macro_rules! write_le {
    ($($name:ident: $t:ty),* $(,)?) => {$(
        #[doc = concat!("Writes a little-endian `", stringify!($t), "`.")]
        pub fn $name(&mut self, v: $t) {
            self.bytes(&v.to_le_bytes());
        }
    )*};
}

impl<'a> Writer<'a> {
    /// Writes into `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            buf,
            pos: 0,
            error: None,
        }
    }

    /// Writes raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        let end = self.pos.saturating_add(b.len());
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.pos = end;
            }
            None => self.fail(MessageError::BufferTooSmall),
        }
    }

    fn fail(&mut self, e: MessageError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Writes a `U8`.
    pub fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    write_le!(i8: i8, u16: u16, i16: i16, u32: u32, i32: i32, u64: u64, i64: i64, f32: f32, f64: f64);

    /// Writes a `BOOL`.
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// Writes an `LLUUID`.
    pub fn uuid(&mut self, v: &Uuid) {
        self.bytes(&v.0);
    }

    /// Writes an `LLVector3`.
    pub fn vec3(&mut self, v: &Vec3) {
        self.f32(v.x);
        self.f32(v.y);
        self.f32(v.z);
    }

    /// Writes an `LLVector3d`.
    pub fn vec3d(&mut self, v: &Vec3d) {
        self.f64(v.x);
        self.f64(v.y);
        self.f64(v.z);
    }

    /// Writes an `LLVector4`.
    pub fn vec4(&mut self, v: &Vec4) {
        self.f32(v.x);
        self.f32(v.y);
        self.f32(v.z);
        self.f32(v.w);
    }

    /// Writes an `LLQuaternion` as the x, y, z of its normalised, `w ≥ 0` form.
    pub fn quat(&mut self, v: &Quat) {
        for c in v.to_wire_xyz() {
            self.f32(c);
        }
    }

    /// Writes an `IPADDR` (network order).
    pub fn ipaddr(&mut self, v: Ipv4Addr) {
        self.bytes(&v.octets());
    }

    /// Writes an `IPPORT` (big-endian).
    pub fn ipport(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    /// Writes a `Variable 1` field.
    pub fn var1(&mut self, field: &'static str, b: &[u8]) {
        match u8::try_from(b.len()) {
            Ok(n) => {
                self.u8(n);
                self.bytes(b);
            }
            Err(_) => self.fail(MessageError::FieldTooLong {
                field,
                len: b.len(),
            }),
        }
    }

    /// Writes a `Variable 2` field.
    pub fn var2(&mut self, field: &'static str, b: &[u8]) {
        match u16::try_from(b.len()) {
            Ok(n) => {
                self.u16(n);
                self.bytes(b);
            }
            Err(_) => self.fail(MessageError::FieldTooLong {
                field,
                len: b.len(),
            }),
        }
    }

    fn string(&mut self, field: &'static str, text: &str, wide: bool) {
        let len = text_wire_len(text);
        let fits = if wide {
            u16::try_from(len).map(|n| self.u16(n)).is_ok()
        } else {
            u8::try_from(len).map(|n| self.u8(n)).is_ok()
        };
        if !fits {
            self.fail(MessageError::FieldTooLong { field, len });
        } else if len > 0 {
            self.bytes(text.as_bytes());
            self.u8(0);
        }
    }

    /// Writes a `Variable 1` string with its terminating NUL (empty text = length 0).
    pub fn string1(&mut self, field: &'static str, text: &str) {
        self.string(field, text, false);
    }

    /// Writes a `Variable 2` string with its terminating NUL (empty text = length 0).
    pub fn string2(&mut self, field: &'static str, text: &str) {
        self.string(field, text, true);
    }

    /// Writes a `Variable` block's repeat count.
    pub fn count(&mut self, block: &'static str, n: usize) {
        match u8::try_from(n) {
            Ok(n) => self.u8(n),
            Err(_) => self.fail(MessageError::FieldTooLong {
                field: block,
                len: n,
            }),
        }
    }

    /// The number of bytes written so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes written, or the first error met.
    ///
    /// # Errors
    /// [`MessageError::BufferTooSmall`] or [`MessageError::FieldTooLong`].
    pub fn finish(self) -> Result<usize, MessageError> {
        match self.error {
            None => Ok(self.pos),
            Some(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_in_order() {
        let b = [
            1, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x80, 0x3F, 0x1F, 0x90, 3, b'a',
            b'b', 0,
        ];
        let mut r = Reader::new(&b);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x1234);
        assert_eq!(r.u32().unwrap(), 0x1234_5678);
        assert_eq!(r.f32().unwrap(), 1.0);
        assert_eq!(r.ipport().unwrap(), 0x1F90);
        assert_eq!(r.string1().unwrap(), "ab");
        r.finish().unwrap();
    }

    #[test]
    fn rejects_truncated_reads() {
        let mut r = Reader::new(&[5, 1, 2]);
        assert_eq!(r.var1(), Err(MessageError::Truncated));
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u32(), Err(MessageError::Truncated));
        assert_eq!(
            Reader::new(&[1]).finish(),
            Err(MessageError::TrailingBytes(1))
        );
    }

    #[test]
    fn writer_reports_overflow() {
        let mut buf = [0xAAu8; 3];
        let mut w = Writer::new(&mut buf);
        w.u16(7);
        w.u16(8);
        assert_eq!(w.finish(), Err(MessageError::BufferTooSmall));
        let long = "x".repeat(300);
        let mut buf = [0u8; 400];
        let mut w = Writer::new(&mut buf);
        w.string1("Name", &long);
        assert!(matches!(
            w.finish(),
            Err(MessageError::FieldTooLong { field: "Name", .. })
        ));
    }

    #[test]
    fn repaired_text_still_fits_its_field() {
        // 255 bytes of invalid UTF-8 become 255 U+FFFD (765 bytes) once repaired.
        let mut body = vec![255u8];
        body.extend([0xFFu8; 255]);
        let text = Reader::new(&body).string1().unwrap();
        assert!(text_wire_len(&text) <= 255);
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        w.string1("Name", &text);
        assert!(w.finish().is_ok());
    }

    #[test]
    fn strings_carry_their_nul() {
        let mut buf = [0xAAu8; 8];
        let mut w = Writer::new(&mut buf);
        w.string2("Message", "hi");
        w.string1("Empty", "");
        assert_eq!(w.finish().unwrap(), 6);
        assert_eq!(&buf[..6], &[3, 0, b'h', b'i', 0, 0]);
    }
}
