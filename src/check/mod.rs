//! `overlook check`: headless verification of a region for CI. Logs in (to the embedded region
//! when no grid is given), waits for the story — terrain complete, objects settled by the
//! `settle` rule — renders the avatar's frame and an overview offscreen (no window, no display;
//! Mesa lavapipe is enough), and writes `frame.png`, `overview.png`, `heightmap.png`,
//! `heightmap.r32`, `report.json` and `junit.xml` into the output folder.
//!
//! The exit code says pass or fail ([`CheckOutcome::code`]): 0 every check passed, 1 connected
//! but a check failed, 2 no login or no circuit. The report's keys are listed in the README.

pub mod plugin;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::net::LoginParams;
use crate::net::embedded::EmbeddedSim;
use crate::net::replay::ReplaySource;
use crate::viewer::ViewerOptions;
use crate::viewer::capture::{CaptureSettings, headless_app, run_headless};
use overlook_sim::server::SimConfig;

pub use report::{Check, Collected};

/// What to check and how. Its `Debug` leaves the password out.
#[derive(Clone)]
pub struct CheckArgs {
    /// The grid's login URI or `get_grid_info` URL; `None` = the embedded region.
    pub grid: Option<String>,
    /// First name (with `grid`).
    pub first: String,
    /// Last name (with `grid`).
    pub last: String,
    /// Password (with `grid`).
    pub password: String,
    /// Where to arrive: `last`, `home` or `uri:Region&x&y&z`.
    pub start: String,
    /// Output folder (created when missing).
    pub out: PathBuf,
    /// Give up waiting for the scene after this long.
    pub timeout: Duration,
    /// Objects are settled once no new local id appeared for this long after the terrain.
    pub settle: Duration,
    /// Fewer objects than this at the end fail the check.
    pub min_objects: usize,
    /// A texture that could not be fetched fails the check (`check.textures`).
    pub require_textures: bool,
    /// The embedded region's configuration (used when `grid` is `None`).
    pub embedded: SimConfig,
    /// Record the session to this `NAME.udp.jsonl` (`--record`).
    pub record: Option<PathBuf>,
    /// Check this recording instead of logging in (`--replay`).
    pub replay: Option<PathBuf>,
}

impl std::fmt::Debug for CheckArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckArgs")
            .field("grid", &self.grid)
            .field("first", &self.first)
            .field("last", &self.last)
            .field("password", &"<redacted>")
            .field("start", &self.start)
            .field("out", &self.out)
            .field("timeout", &self.timeout)
            .field("settle", &self.settle)
            .field("min_objects", &self.min_objects)
            .field("require_textures", &self.require_textures)
            .field("embedded", &self.embedded)
            .field("record", &self.record)
            .field("replay", &self.replay)
            .finish()
    }
}

impl CheckArgs {
    /// The embedded region, writing into `out`, with the CLI's defaults (60 s, 1000 ms, 0).
    pub fn embedded(out: impl Into<PathBuf>) -> Self {
        CheckArgs {
            grid: None,
            first: String::new(),
            last: String::new(),
            password: String::new(),
            start: "last".to_owned(),
            out: out.into(),
            timeout: Duration::from_secs(60),
            settle: Duration::from_millis(1000),
            min_objects: 0,
            require_textures: false,
            embedded: SimConfig::loopback(),
            record: None,
            replay: None,
        }
    }
}

/// The result of a check.
#[derive(Debug)]
pub struct CheckOutcome {
    /// 0 pass, 1 a check failed, 2 no login or circuit.
    pub code: u8,
    /// The report as written to `report.json`.
    pub report: serde_json::Value,
    /// The checks, as in `junit.xml`.
    pub checks: Vec<Check>,
    /// Errors (also in the report).
    pub errors: Vec<String>,
    /// The files written.
    pub files: Vec<PathBuf>,
    /// The terrain as decoded (what `heightmap.r32` holds), once logged in.
    pub heightmap: Option<overlook_protocol::terrain::Heightmap>,
}

/// Runs the check described by `args`, printing progress on stderr.
pub fn run(args: &CheckArgs) -> CheckOutcome {
    let wall = Instant::now();
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        let errors = vec![format!("cannot create {}: {e}", args.out.display())];
        return CheckOutcome {
            code: 2,
            report: serde_json::json!({ "errors": errors }),
            checks: Vec::new(),
            errors,
            files: Vec::new(),
            heightmap: None,
        };
    }
    let (login, embedded, errors) = match target(args) {
        Ok((login, embedded)) => (login, embedded, Vec::new()),
        Err(e) => (None, None, vec![e]),
    };
    let collected = if errors.is_empty() {
        run_app(args, login)
    } else {
        Collected::default()
    };
    // Logging out happened when the app exited; only now may the region go.
    drop(embedded);
    let mut outcome = report::evaluate(args, &collected, errors);
    let mut files = Vec::new();
    write_files(&args.out, &collected, &mut outcome, &mut files);
    outcome.report["wall_ms"] = serde_json::json!(wall.elapsed().as_millis() as u64);
    write_reports(&args.out, &mut outcome, &mut files);
    outcome.files = files;
    outcome.heightmap = collected.heightmap;
    print_summary(&outcome, wall, &args.out);
    outcome
}

/// Where to log in: a grid's login, the embedded region (started here, returned so it lives
/// until the check is done) or, for a replay, nowhere.
fn target(args: &CheckArgs) -> Result<(Option<LoginParams>, Option<EmbeddedSim>), String> {
    match &args.grid {
        _ if args.replay.is_some() => Ok((None, None)),
        Some(grid) => Ok((
            Some(LoginParams::new(
                grid,
                &args.first,
                &args.last,
                &args.password,
                &args.start,
            )),
            None,
        )),
        None => {
            let sim = EmbeddedSim::start(args.embedded.clone())
                .map_err(|e| format!("cannot start the embedded region: {e}"))?;
            eprintln!(
                "check: embedded region \"{}\" at {}",
                sim.region_name, sim.login_uri
            );
            Ok((Some(sim.login_params(&args.start)), Some(sim)))
        }
    }
}

/// Runs the headless viewer with the check's plugin until the scene is shot (or the check gives
/// up) and collects what it saw.
fn run_app(args: &CheckArgs, login: Option<LoginParams>) -> Collected {
    let replay = args.replay.clone().map(|udp| ReplaySource::file(udp, None));
    if let Some(r) = &replay {
        eprintln!("check: replaying {}", r.udp.display());
    } else if let Some(login) = &login {
        eprintln!(
            "check: logging in to {} as {} {}",
            login.grid, login.first, login.last
        );
    }
    let options = ViewerOptions {
        auto_login: login.is_some(),
        login,
        frame_stats: None,
        record: args.record.clone(),
        replay,
        // A check verifies what the grid serves now: no disk cache.
        texture_cache: None,
    };
    let mut app = headless_app(
        options,
        CaptureSettings {
            timeout: args.timeout,
            settle: Some(args.settle),
            // The check's own progress lines say what happens; Bevy's INFO lines would drown
            // them.
            log_level: bevy::log::Level::WARN,
            // Each rendered frame costs most of a second on lavapipe: no multisampling, and two
            // frames before the shots (pipelines compiling are waited for regardless; the chase
            // camera's glide is timed, not counted in frames).
            msaa: bevy::render::view::Msaa::Off,
            settle_frames: 2,
            ..CaptureSettings::default()
        },
    );
    app.add_plugins(plugin::CheckPlugin {
        timeout: args.timeout,
        settle: args.settle,
    });
    run_headless(&mut app);
    Collected::from_world(app.world_mut())
}

/// Writes `junit.xml` and `report.json`; a failure to write is printed and becomes an error.
fn write_reports(out: &Path, outcome: &mut CheckOutcome, files: &mut Vec<PathBuf>) {
    let json = serde_json::to_string_pretty(&outcome.report).unwrap_or_default();
    let reports = [
        ("junit.xml", report::junit(&outcome.checks)),
        ("report.json", json),
    ];
    for (name, text) in reports {
        let path = out.join(name);
        match std::fs::write(&path, text) {
            Ok(()) => files.push(path),
            Err(e) => {
                let e = format!("cannot write {}: {e}", path.display());
                eprintln!("check: {e}");
                outcome.errors.push(e);
            }
        }
    }
}

/// One line per check, then the exit code.
fn print_summary(outcome: &CheckOutcome, wall: Instant, out: &Path) {
    for c in &outcome.checks {
        let result = if c.skipped {
            "skipped"
        } else if c.passed {
            "ok"
        } else {
            "FAILED"
        };
        let message = c
            .message
            .as_deref()
            .map(|m| format!(" — {m}"))
            .unwrap_or_default();
        eprintln!("check: {:<24} {result}{message}", c.name);
    }
    eprintln!(
        "check: exit {} after {:.1} s; report in {}",
        outcome.code,
        wall.elapsed().as_secs_f64(),
        out.join("report.json").display()
    );
}

/// Writes the frames and the heightmaps (those that exist), noting failures as errors.
fn write_files(out: &Path, c: &Collected, outcome: &mut CheckOutcome, files: &mut Vec<PathBuf>) {
    let mut note = |r: std::io::Result<()>, path: PathBuf| match r {
        Ok(()) => files.push(path),
        Err(e) => outcome
            .errors
            .push(format!("cannot write {}: {e}", path.display())),
    };
    for (frame, name) in [(&c.frame, "frame.png"), (&c.overview, "overview.png")] {
        if let Some(frame) = frame {
            let path = out.join(name);
            note(frame.write_png(&path), path);
        }
    }
    if let Some(map) = &c.heightmap {
        let path = out.join("heightmap.r32");
        note(std::fs::write(&path, report::r32(map)), path);
        let path = out.join("heightmap.png");
        note(report::write_heightmap_png(map, &path), path);
    }
    if let Some(errors) = outcome.report.get_mut("errors") {
        *errors = serde_json::json!(outcome.errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_debug_output_shows_a_password() {
        let secret = "pw-5ecret-for-the-test";
        let mut args = CheckArgs::embedded("/tmp/overlook-unused");
        args.first = "Ann".into();
        args.password = secret.into();
        args.embedded.accounts = vec![overlook_sim::server::test_account("Ann", "Other", secret)];
        let params = LoginParams::new("http://127.0.0.1:1/", "Ann", "Other", secret, "last");
        let form = crate::ui::LoginForm::from_params(&params);
        let sim = EmbeddedSim::start(args.embedded.clone()).unwrap();
        assert_eq!(sim.login_params("last").password, secret, "the sim has it");
        for text in [
            format!("{args:?}"),
            format!("{params:?}"),
            format!("{form:?}"),
            format!("{sim:?}"),
        ] {
            assert!(!text.contains(secret), "{text}");
            assert!(text.contains("Ann"), "the rest is still shown: {text}");
        }
    }
}
