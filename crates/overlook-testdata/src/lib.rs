//! The repository's test data, found from any crate of the workspace: the real OpenSim 0.9.2.2
//! captures in `tests/data/opensim-0.9.2.2/` (UDP sessions, login, seed, event queue, the
//! server's own `.r32` heightmaps and the texture corpus; README and licence notes there).
//!
//! Tests and benchmarks take this as a dev-dependency and read files at run time, so a fresh
//! clone needs nothing beside it. It knows paths only (no protocol types), so the protocol crate's
//! own unit tests can use it without a second copy of that crate.

use std::path::PathBuf;

/// The folder of the OpenSim 0.9.2.2 captures, absolute, with a trailing slash.
pub const CAPTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/opensim-0.9.2.2/"
);

/// The captured sessions that logged in and have UDP traffic (`NAME.udp.jsonl` and the rest).
pub const SESSIONS: [&str; 3] = ["test-region", "test-region-fresh", "var-region"];

/// The path of a file in the capture folder, e.g. `capture_path("SUMMARY.json")`.
pub fn capture_path(file: &str) -> PathBuf {
    PathBuf::from(CAPTURES).join(file)
}

/// The bytes of a file in the capture folder.
///
/// # Panics
/// When the file cannot be read, naming it: test data that is missing is a broken checkout.
pub fn read_bytes(file: &str) -> Vec<u8> {
    let path = capture_path(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read test data {}: {e}", path.display()))
}

/// The text of a file in the capture folder.
///
/// # Panics
/// When the file cannot be read or is not UTF-8, naming it.
pub fn read_text(file: &str) -> String {
    String::from_utf8(read_bytes(file)).unwrap_or_else(|e| panic!("test data {file}: {e}"))
}

/// The `udp.jsonl` text of a captured session, e.g. `session_udp("test-region")`.
///
/// # Panics
/// As [`read_text`].
pub fn session_udp(session: &str) -> String {
    read_text(&format!("{session}.udp.jsonl"))
}

/// The folder of the inputs the fuzz targets once crashed on (`tests/data/fuzz/`), named
/// `<target>-<what>`.
pub const FUZZ_REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/fuzz");

/// The regression inputs of one fuzz target, as (path, bytes), sorted by path.
///
/// # Panics
/// When the folder cannot be read or holds no input for `target`.
pub fn fuzz_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let entries = std::fs::read_dir(FUZZ_REGRESSIONS)
        .unwrap_or_else(|e| panic!("cannot read {FUZZ_REGRESSIONS}: {e}"));
    let mut inputs: Vec<(String, Vec<u8>)> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(target))
        })
        .map(|p| {
            let bytes =
                std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (p.display().to_string(), bytes)
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no regression inputs for {target}");
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_session_has_its_files() {
        for session in SESSIONS {
            for ext in [
                "udp.jsonl",
                "login-response.xml",
                "login-request.xml",
                "meta.json",
            ] {
                let file = format!("{session}.{ext}");
                assert!(!read_bytes(&file).is_empty(), "{file} is empty");
            }
        }
        assert!(capture_path("assets/README.md").is_file());
    }
}
