//! `overlook replay`: decodes a captured `udp.jsonl` file with the template-driven decoder and
//! prints each message (or a per-direction summary). A packet inspector for region traffic.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use overlook_protocol::capture::{self, Direction};
use overlook_protocol::message::generic;
use overlook_protocol::udp::{self, flags};

/// What a replay saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Datagrams in the file.
    pub datagrams: usize,
    /// Datagrams that failed to decode (packet or message).
    pub errors: usize,
}

/// Why a replay could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// A line of the file is not a captured datagram.
    #[error(transparent)]
    Capture(#[from] capture::CaptureError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Write(#[from] io::Error),
}

/// Decodes every datagram of `path` and writes the dump (or summary) to `out`.
///
/// # Errors
/// [`ReplayError`] when the file cannot be read or parsed, or the output cannot be written.
/// Datagrams that fail to decode are reported in the output and counted, not fatal.
pub fn run(path: &Path, summary: bool, out: &mut impl Write) -> Result<ReplayReport, ReplayError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let datagrams = capture::read_udp_jsonl(&text)?;
    let mut report = ReplayReport {
        datagrams: datagrams.len(),
        errors: 0,
    };
    let mut counts: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    for d in &datagrams {
        let arrow = match d.dir {
            Direction::In => "sim → viewer",
            Direction::Out => "viewer → sim",
        };
        let packet = match udp::decode(&d.bytes) {
            Ok(p) => p,
            Err(e) => {
                report.errors += 1;
                writeln!(
                    out,
                    "{:9.3} {arrow} bad datagram ({} bytes): {e}",
                    d.t,
                    d.bytes.len()
                )?;
                continue;
            }
        };
        match generic::decode(packet.message, &packet.body) {
            Ok(m) => {
                *counts.entry((d.dir.to_string(), m.name)).or_default() += 1;
                if !summary {
                    let f = flags::letters(packet.flags);
                    writeln!(out, "{:9.3} {arrow} #{} [{f}] {m}", d.t, packet.sequence)?;
                    if !packet.acks.is_empty() {
                        writeln!(out, "          appended acks: {:?}", packet.acks)?;
                    }
                }
            }
            Err(e) => {
                report.errors += 1;
                writeln!(
                    out,
                    "{:9.3} {arrow} #{} {}: {e}",
                    d.t, packet.sequence, packet.message
                )?;
            }
        }
    }
    if summary {
        for ((dir, name), n) in &counts {
            writeln!(out, "{dir:>3} {name:<32} {n}")?;
        }
    }
    writeln!(
        out,
        "{} datagrams, {} errors",
        report.datagrams, report.errors
    )?;
    Ok(report)
}
