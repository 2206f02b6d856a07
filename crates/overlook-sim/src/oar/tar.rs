//! A small, bounded reader of the tar stream inside an OAR.
//!
//! Reads POSIX ustar and GNU headers (512-byte blocks, octal or base-256 sizes, header checksum),
//! GNU `L` long names (`././@LongLink`) and pax `x` extended headers (`path=`, `size=`). Other
//! entry types (directories, links, devices, `g` global headers, GNU `K` long link names) are
//! reported as [`EntryKind::Other`] so the caller can skip them. Nothing is allocated before
//! its size has been checked against the limits; the stream ends at a zero block or at the end
//! of input between entries.

use std::io::Read;

use super::OarError;

/// Size of a tar block.
const BLOCK: usize = 512;
/// The most bytes a GNU long name or a pax header may hold.
const MAX_META_BYTES: u64 = 64 * 1024;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A regular file (`0`, NUL or `7`).
    File,
    /// A directory (`5`).
    Directory,
    /// Anything else (links, devices, fifos, global pax headers...).
    Other,
}

/// One entry's header, resolved through any long-name or pax header before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its path, as in the archive (not yet checked for traversal).
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// The size of its data in bytes.
    pub size: u64,
}

/// Reads entries from an uncompressed tar stream.
pub(crate) struct TarReader<R> {
    inner: R,
    /// Bytes of the current entry's data (with padding) not yet read.
    pending: u64,
    /// True once the end of the archive was seen.
    done: bool,
}

impl<R: Read> TarReader<R> {
    /// A reader over `inner`.
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            pending: 0,
            done: false,
        }
    }

    /// The next entry, or `None` at the end of the archive. Skips whatever of the previous
    /// entry's data was not read.
    ///
    /// # Errors
    /// Truncation, a bad checksum or header field, an oversized long name or pax header, or
    /// the underlying reader's error.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, OarError> {
        self.skip_pending()?;
        let mut long_name: Option<String> = None;
        let mut pax_path: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            if self.done {
                return Ok(None);
            }
            let mut block = [0u8; BLOCK];
            let got = read_full(&mut self.inner, &mut block)
                .map_err(|e| OarError::from_io(e, "a tar header"))?;
            if got == 0 && long_name.is_none() && pax_path.is_none() && pax_size.is_none() {
                // EOF where a header would start: an archive without its zero blocks.
                self.done = true;
                return Ok(None);
            }
            if got < BLOCK {
                return Err(OarError::Truncated {
                    context: "a tar header".into(),
                });
            }
            if block.iter().all(|&b| b == 0) {
                self.done = true;
                return Ok(None);
            }
            let header = Header::parse(&block)?;
            let size = pax_size.take().unwrap_or(header.size);
            match header.typeflag {
                b'L' => {
                    let data = self.read_meta(size, "GNU long name")?;
                    long_name = Some(c_string(&data));
                }
                b'x' => {
                    let data = self.read_meta(size, "pax header")?;
                    let (path, psize) = parse_pax(&data)?;
                    if path.is_some() {
                        pax_path = path;
                    }
                    pax_size = psize;
                }
                b'g' | b'K' => {
                    // Global pax headers and long link names change nothing we read.
                    self.read_meta(size, "tar metadata")?;
                }
                flag => {
                    let path = pax_path
                        .take()
                        .or_else(|| long_name.take())
                        .unwrap_or_else(|| header.name.clone());
                    let kind = match flag {
                        b'0' | 0 | b'7' => EntryKind::File,
                        b'5' => EntryKind::Directory,
                        _ => EntryKind::Other,
                    };
                    // Only regular files carry data (a hard link's size field may be set
                    // but no data follows; GNU and POSIX both say so).
                    let size = match kind {
                        EntryKind::File => size,
                        EntryKind::Directory | EntryKind::Other => {
                            if matches!(flag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6') {
                                0
                            } else {
                                size
                            }
                        }
                    };
                    self.pending = padded(size)?;
                    return Ok(Some(Entry { path, kind, size }));
                }
            }
        }
    }

    /// Reads whatever follows the end of the archive (record padding) to the end of the
    /// input, so the stream underneath can check its trailer.
    ///
    /// # Errors
    /// The underlying reader's error (a bad gzip checksum, a limit, truncation).
    pub fn drain(&mut self) -> Result<(), OarError> {
        std::io::copy(&mut self.inner, &mut std::io::sink())
            .map_err(|e| OarError::from_io(e, "the end of the archive"))?;
        Ok(())
    }

    /// The reader underneath.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Reads the current entry's data, which the caller has checked is `size` bytes and within
    /// its limits.
    ///
    /// # Errors
    /// Truncation or the underlying reader's error.
    pub fn read_data(&mut self, entry: &Entry) -> Result<Vec<u8>, OarError> {
        let len = usize::try_from(entry.size).map_err(|_| OarError::EntryTooLarge {
            path: entry.path.clone(),
            size: entry.size,
            limit: u64::try_from(usize::MAX).unwrap_or(u64::MAX),
        })?;
        // Grown as the data arrives, so a header that lies about its size costs nothing.
        let mut data = Vec::with_capacity(len.min(1 << 20));
        let got = (&mut self.inner)
            .take(entry.size)
            .read_to_end(&mut data)
            .map_err(|e| OarError::from_io(e, &format!("entry {}", entry.path)))?;
        if got < len {
            return Err(OarError::Truncated {
                context: format!("entry {}", entry.path),
            });
        }
        self.pending = self.pending.saturating_sub(entry.size);
        self.skip_pending()?;
        Ok(data)
    }

    /// Skips the rest of the current entry's data.
    fn skip_pending(&mut self) -> Result<(), OarError> {
        if self.pending == 0 {
            return Ok(());
        }
        let want = self.pending;
        let skipped = std::io::copy(&mut (&mut self.inner).take(want), &mut std::io::sink())
            .map_err(|e| OarError::from_io(e, "tar entry data"))?;
        self.pending = 0;
        if skipped < want {
            return Err(OarError::Truncated {
                context: "tar entry data".into(),
            });
        }
        Ok(())
    }

    /// Reads a metadata entry's data (long name, pax header), bounded by [`MAX_META_BYTES`].
    fn read_meta(&mut self, size: u64, what: &str) -> Result<Vec<u8>, OarError> {
        if size > MAX_META_BYTES {
            return Err(OarError::BadTar {
                reason: format!("{what} of {size} bytes (at most {MAX_META_BYTES})"),
            });
        }
        self.pending = padded(size)?;
        let entry = Entry {
            path: what.to_owned(),
            kind: EntryKind::Other,
            size,
        };
        self.read_data(&entry)
    }
}

/// `size` rounded up to whole blocks.
fn padded(size: u64) -> Result<u64, OarError> {
    size.checked_add(511)
        .map(|s| s / 512 * 512)
        .ok_or_else(|| OarError::BadTar {
            reason: format!("entry size {size} overflows"),
        })
}

/// Fills `buf` as far as the input goes; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0usize;
    while let Some(rest) = buf.get_mut(n..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n = n.saturating_add(k),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The fields of one header block that matter here.
struct Header {
    name: String,
    size: u64,
    typeflag: u8,
}

impl Header {
    fn parse(block: &[u8; BLOCK]) -> Result<Self, OarError> {
        let field = |start: usize, len: usize| -> &[u8] {
            block.get(start..start.saturating_add(len)).unwrap_or(&[])
        };
        let stored = parse_octal(field(148, 8)).ok_or_else(|| OarError::BadTar {
            reason: "unreadable header checksum".into(),
        })?;
        let mut unsigned: u64 = 0;
        let mut signed: i64 = 0;
        for (i, &b) in block.iter().enumerate() {
            let b = if (148..156).contains(&i) { b' ' } else { b };
            unsigned += u64::from(b);
            signed += i64::from(b.cast_signed());
        }
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            return Err(OarError::BadTar {
                reason: format!("header checksum {stored:o} does not match {unsigned:o}"),
            });
        }
        let size_field = field(124, 12);
        let size = if size_field.first().is_some_and(|&b| b & 0x80 != 0) {
            parse_base256(size_field)
        } else {
            parse_octal(size_field)
        }
        .ok_or_else(|| OarError::BadTar {
            reason: "unreadable entry size".into(),
        })?;
        let mut name = c_string(field(0, 100));
        // POSIX ustar ("ustar\0") splits long paths into prefix and name; GNU ("ustar  \0")
        // uses those bytes for other things.
        if field(257, 6) == b"ustar\0" {
            let prefix = c_string(field(345, 155));
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        Ok(Header {
            name,
            size,
            typeflag: block.get(156).copied().unwrap_or(0),
        })
    }
}

/// The text up to the first NUL (invalid UTF-8 replaced).
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or(&[])).into_owned()
}

/// An octal number padded with spaces or NULs; `None` for any other byte or an overflow.
fn parse_octal(bytes: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut seen_digit = false;
    let mut ended = false;
    for &b in bytes {
        match b {
            b'0'..=b'7' if !ended => {
                value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
                seen_digit = true;
            }
            b' ' | 0 => {
                if seen_digit {
                    ended = true;
                }
            }
            _ => return None,
        }
    }
    Some(value)
}

/// A GNU base-256 number: the first byte's top bit marks it, the rest is big-endian. Negative
/// values (bit 6 of the first byte) and values over `u64` are refused.
fn parse_base256(bytes: &[u8]) -> Option<u64> {
    let (&first, rest) = bytes.split_first()?;
    if first & 0x40 != 0 {
        return None;
    }
    let mut value = u64::from(first & 0x3F);
    for &b in rest {
        value = value.checked_mul(256)?.checked_add(u64::from(b))?;
    }
    Some(value)
}

/// The `path` and `size` records of a pax extended header (`"<len> <key>=<value>\n"` each).
fn parse_pax(data: &[u8]) -> Result<(Option<String>, Option<u64>), OarError> {
    let bad = |reason: &str| OarError::BadTar {
        reason: format!("pax header: {reason}"),
    };
    let mut path = None;
    let mut size = None;
    let mut rest = data;
    while !rest.is_empty() && rest.first() != Some(&0) {
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("record without a length"))?;
        let len: usize = std::str::from_utf8(rest.get(..space).unwrap_or(&[]))
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad record length"))?;
        let record = rest
            .get(..len)
            .filter(|r| len > space && r.last() == Some(&b'\n'))
            .ok_or_else(|| bad("record runs past its end"))?;
        let body = record
            .get(space.saturating_add(1)..len.saturating_sub(1))
            .unwrap_or(&[]);
        if let Some(eq) = body.iter().position(|&b| b == b'=') {
            let key = body.get(..eq).unwrap_or(&[]);
            let value = body.get(eq.saturating_add(1)..).unwrap_or(&[]);
            match key {
                b"path" => path = Some(String::from_utf8_lossy(value).into_owned()),
                b"size" => {
                    size = Some(
                        std::str::from_utf8(value)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or_else(|| bad("bad size"))?,
                    );
                }
                _ => {}
            }
        }
        rest = rest.get(len..).unwrap_or(&[]);
    }
    Ok((path, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields() {
        assert_eq!(parse_octal(b"00000001750\0"), Some(0o1750));
        assert_eq!(parse_octal(b"  1750 \0"), Some(0o1750));
        assert_eq!(parse_octal(b"\0\0\0"), Some(0));
        assert_eq!(parse_octal(b"17 5"), None);
        assert_eq!(parse_octal(b"9"), None);
        assert_eq!(parse_octal(b"77777777777777777777777777"), None);
    }

    #[test]
    fn base256_fields() {
        let mut field = [0u8; 12];
        field[0] = 0x80;
        field[7] = 1;
        field[11] = 2;
        assert_eq!(parse_base256(&field), Some((1 << 32) + 2));
        field[0] = 0xC0;
        assert_eq!(parse_base256(&field), None);
    }

    #[test]
    fn pax_records() {
        let data = b"30 path=objects/a_long_name.xml\n11 size=42\n";
        // "30 path=objects/a_long_name.xml\n" is 32 bytes: a wrong length is refused.
        assert!(parse_pax(data).is_err());
        let data = b"32 path=objects/a_long_name.xml\n12 size=420\n";
        assert_eq!(
            parse_pax(data).unwrap(),
            (Some("objects/a_long_name.xml".into()), Some(420))
        );
    }
}
