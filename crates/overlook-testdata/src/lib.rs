//! The repository's test data, found from any crate of the workspace: the real OpenSim 0.9.2.2
//! captures in `tests/data/opensim-0.9.2.2/` (UDP sessions, login, seed, event queue, the
//! server's own `.r32` heightmaps and the texture corpus; README and licence notes there).
//!
//! Tests and benchmarks take this as a dev-dependency and read files at run time, so a fresh
//! clone needs nothing beside it. It knows paths only (no protocol types), so the protocol crate's
//! own unit tests can use it without a second copy of that crate.
//!
//! The folder is found when the tests run, from the running package's `CARGO_MANIFEST_DIR`
//! (which `cargo test` and `cargo bench` set) upwards, not baked in when this crate compiles:
//! cargo reuses a compiled dependency across checkouts that share a target directory (CI's cache,
//! worktrees), and a baked-in path would point into another, maybe deleted, checkout.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository's `tests/data/`.
///
/// # Panics
/// When no folder above the running package (or this crate) holds `tests/data/opensim-0.9.2.2/`.
pub fn data_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let running = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let starts = running
            .into_iter()
            .chain([PathBuf::from(env!("CARGO_MANIFEST_DIR"))]);
        starts
            .flat_map(|start| {
                start
                    .ancestors()
                    .map(|dir| dir.join("tests").join("data"))
                    .collect::<Vec<_>>()
            })
            .find(|dir| dir.join("opensim-0.9.2.2").is_dir())
            .unwrap_or_else(|| panic!("no tests/data/opensim-0.9.2.2/ above the package"))
    })
}

/// The captured sessions that logged in and have UDP traffic (`NAME.udp.jsonl` and the rest).
pub const SESSIONS: [&str; 3] = ["test-region", "test-region-fresh", "var-region"];

/// The path of a file in the capture folder (`tests/data/opensim-0.9.2.2/`), e.g.
/// `capture_path("SUMMARY.json")`.
pub fn capture_path(file: &str) -> PathBuf {
    data_dir().join("opensim-0.9.2.2").join(file)
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

/// The regression inputs of one fuzz target (`tests/data/fuzz/<target>-<what>`), as (path,
/// bytes), sorted by path.
///
/// # Panics
/// When the folder cannot be read or holds no input for `target`.
pub fn fuzz_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = data_dir().join("fuzz");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
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
