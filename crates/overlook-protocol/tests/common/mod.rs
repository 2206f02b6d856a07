//! Helpers for the integration tests: the OpenSim 0.9.2.2 captures in the repository's
//! `tests/data/opensim-0.9.2.2/` (found by `overlook-testdata`).
//!
//! Use from a test file with `mod common;`.

use overlook_protocol::capture::{CapturedDatagram, read_udp_jsonl};

pub use overlook_testdata::{SESSIONS, read_text as read_capture_file};

/// Every datagram of a session (`"test-region"`, …), in capture order. Panics when the file is
/// missing or malformed.
pub fn load_capture(session: &str) -> Vec<CapturedDatagram> {
    read_udp_jsonl(&overlook_testdata::session_udp(session))
        .unwrap_or_else(|e| panic!("{session}: {e}"))
}
