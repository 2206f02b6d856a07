//! `--record NAME.udp.jsonl`: every datagram of a session with its time and direction, in the
//! JSON-lines format of `shared/captures/` (`{"t": seconds since the first datagram, "dir":
//! "in"|"out", "hex": …}`), and the login reply beside it as `NAME.login-response.xml`, as the
//! captures have it. `overlook replay` reads the result.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use web_time::Instant;

use super::Direction;

/// The file beside a recording: `NAME.udp.jsonl` → `NAME.<suffix>`.
pub fn sibling(recording: &Path, suffix: &str) -> PathBuf {
    let name = recording
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".udp.jsonl").unwrap_or(&name);
    recording.with_file_name(format!("{stem}.{suffix}"))
}

/// Writes a session's datagrams as they pass.
#[derive(Debug)]
pub(super) struct Recorder {
    out: BufWriter<File>,
    first: Option<Instant>,
    line: String,
}

impl Recorder {
    /// Creates the recording and writes the login reply beside it.
    pub(super) fn create(path: &Path, login_response: &[u8]) -> std::io::Result<Recorder> {
        std::fs::write(sibling(path, "login-response.xml"), login_response)?;
        Ok(Recorder {
            out: BufWriter::new(File::create(path)?),
            first: None,
            line: String::new(),
        })
    }

    /// Appends one datagram.
    pub(super) fn datagram(
        &mut self,
        now: Instant,
        direction: Direction,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        let first = *self.first.get_or_insert(now);
        let t = now.saturating_duration_since(first).as_secs_f64();
        self.line.clear();
        let _ = write!(
            self.line,
            "{{\"t\": {t:.6}, \"dir\": \"{direction}\", \"hex\": \""
        );
        for b in bytes {
            let _ = write!(self.line, "{b:02x}");
        }
        self.line.push_str("\"}\n");
        self.out.write_all(self.line.as_bytes())
    }

    /// Writes out what is buffered.
    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlook_protocol::capture::{self, read_udp_jsonl};

    #[test]
    fn writes_the_captures_format_and_the_login_reply_beside_it() {
        let dir = std::env::temp_dir().join(format!("overlook-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("session.udp.jsonl");
        let mut r = Recorder::create(&path, b"<methodResponse/>").unwrap();
        let t0 = Instant::now();
        r.datagram(t0, Direction::Out, &[0x40, 0, 0, 0, 1, 0])
            .unwrap();
        r.datagram(
            t0 + std::time::Duration::from_millis(1500),
            Direction::In,
            &[0xff],
        )
        .unwrap();
        r.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let datagrams = read_udp_jsonl(&text).unwrap();
        assert_eq!(datagrams.len(), 2);
        assert_eq!(datagrams[0].t, 0.0);
        assert_eq!(datagrams[0].dir, capture::Direction::Out);
        assert_eq!(datagrams[0].bytes, vec![0x40, 0, 0, 0, 1, 0]);
        assert!((datagrams[1].t - 1.5).abs() < 1e-6);
        assert_eq!(datagrams[1].dir, capture::Direction::In);
        assert_eq!(
            std::fs::read(dir.join("session.login-response.xml")).unwrap(),
            b"<methodResponse/>"
        );
        assert_eq!(
            sibling(Path::new("/x/a.b.udp.jsonl"), "meta.json"),
            PathBuf::from("/x/a.b.meta.json")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
