//! What `overlook check` read from the app's world ([`Collected`]), the checks and the exit code
//! ([`evaluate`]), and the files: `report.json`, `junit.xml`, `heightmap.r32` (OpenSim's
//! `terrain save` layout) and `heightmap.png` (16-bit grayscale, north up).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use bevy::prelude::World;
use serde_json::{Value, json};

use super::CheckArgs;
use super::plugin::CheckProgress;
use crate::assets::RegionTextures;
use crate::net::NetStats;
use crate::net::plugin::{Session, SessionState};
use crate::objects::plugin::{ObjectIndex, SlObject};
use crate::scene::{RegionInfo, SceneCounts};
use crate::terrain::Terrain;
use crate::viewer::capture::{CapturedFrames, Frame, View, clear_rgba};
use overlook_protocol::circuit::Phase;
use overlook_protocol::login::LoginSuccess;
use overlook_protocol::message::object::{PCode, ShapeKind};
use overlook_protocol::terrain::Heightmap;

/// Everything the check needs from the app once it has exited.
#[derive(Debug, Default)]
pub struct Collected {
    /// The app ran at all (false when the embedded region did not start).
    pub ran: bool,
    /// The login reply.
    pub login: Option<Box<LoginSuccess>>,
    /// The login failed: the server's message (or why it could not be reached).
    pub login_failed: Option<String>,
    /// Why the app gave up early (refused login, closed circuit, no handshake in time).
    pub gave_up: Option<String>,
    /// A `presence` refusal was retried.
    pub retried: bool,
    /// Phases reached, ms since `login_sent`, in order.
    pub timeline: Vec<(Phase, u64)>,
    /// The region as the handshake and login described it.
    pub region: Option<RegionInfo>,
    /// Patch and object counts.
    pub counts: SceneCounts,
    /// The decoded terrain.
    pub heightmap: Option<Heightmap>,
    /// Distinct local ids present at the end, avatars included.
    pub objects_total: usize,
    /// Distinct objects that sent an impossible place, rotation or size (not drawn).
    pub objects_invalid: usize,
    /// Distinct objects whose parent link would have closed a cycle (shown as roots).
    pub parent_cycles: usize,
    /// Patches whose heights are impossible, `(px, py)`.
    pub terrain_impossible: Vec<(u32, u32)>,
    /// The region's textures, as fetched.
    pub textures: AssetSummary,
    /// The region's mesh assets, as fetched (`bytes` the assets' sizes).
    pub meshes: AssetSummary,
    /// Sculpt maps named by objects, and how many became pixels.
    pub sculpt_maps: (usize, usize),
    /// Sculpties and mesh objects drawn from their assets, and those a box stands in for.
    pub shaped: crate::objects::plugin::ShapeCounts,
    /// Objects by PCode.
    pub by_pcode: BTreeMap<u8, usize>,
    /// Objects by shape (`box`, `sphere`, … `other`).
    pub by_shape: BTreeMap<String, usize>,
    /// Circuit counters.
    pub stats: NetStats,
    /// The network thread's warnings.
    pub warnings: Vec<String>,
    /// How the session failed or ended: a refused or failed login, a disconnect.
    pub session_errors: Vec<String>,
    /// Terrain and object problems.
    pub problems: Vec<String>,
    /// The avatar's frame.
    pub frame: Option<Frame>,
    /// The overview from above.
    pub overview: Option<Frame>,
    /// The scene was not complete within the timeout.
    pub timed_out: bool,
    /// The replayed recording ended before the scene was complete (captured at once).
    pub input_ended: Option<String>,
}

/// The report's name of a prim shape (`objects.by_shape`).
pub fn shape_name(kind: ShapeKind) -> &'static str {
    match kind {
        ShapeKind::Box => "box",
        ShapeKind::Cylinder => "cylinder",
        ShapeKind::HalfCylinder => "half_cylinder",
        ShapeKind::Prism => "prism",
        ShapeKind::Sphere => "sphere",
        ShapeKind::Torus => "torus",
        ShapeKind::Tube => "tube",
        ShapeKind::Ring => "ring",
        ShapeKind::Sculpt => "sculpt",
        ShapeKind::Mesh => "mesh",
        ShapeKind::Other => "other",
    }
}

impl Collected {
    /// Reads the world of a headless app that has exited.
    pub fn from_world(world: &mut World) -> Collected {
        let mut c = Collected {
            ran: true,
            ..Collected::default()
        };
        let mut query = world.query::<&SlObject>();
        let mut ids = std::collections::HashSet::new();
        for o in query.iter(world) {
            if ids.insert(o.local_id) {
                *c.by_pcode.entry(u8::from(o.pcode)).or_default() += 1;
                let shape = if o.pcode == PCode::Prim {
                    shape_name(o.kind)
                } else {
                    "other"
                };
                *c.by_shape.entry(shape.to_owned()).or_default() += 1;
            }
        }
        c.objects_total = ids.len();
        if let Some(session) = world.get_resource::<Session>() {
            c.login.clone_from(&session.login);
            if let SessionState::Failed(text) = &session.state {
                c.login_failed = Some(text.clone());
            }
            c.timeline = session.phases.iter().collect();
            c.timeline.sort_by_key(|&(_, ms)| ms);
            c.stats = session.stats;
            c.warnings.clone_from(&session.warnings);
            if session.warnings_dropped > 0 {
                c.warnings
                    .push(format!("… and {} more warnings", session.warnings_dropped));
            }
            if let Some(failure) = &session.login_failure {
                c.session_errors.push(format!("login failed: {failure}"));
            }
            if let SessionState::Disconnected(reason) = &session.state {
                c.session_errors.push(format!("disconnected: {reason}"));
            }
            c.retried = !session.login_retries.is_empty();
        }
        if let Some(progress) = world.get_resource::<CheckProgress>() {
            c.gave_up.clone_from(&progress.gave_up);
        }
        c.region = world.get_resource::<RegionInfo>().cloned();
        c.counts = world
            .get_resource::<SceneCounts>()
            .copied()
            .unwrap_or_default();
        if let Some(terrain) = world.get_resource::<Terrain>() {
            c.heightmap.clone_from(&terrain.heightmap);
            c.problems.extend(terrain.problems.iter().cloned());
            c.terrain_impossible = terrain.impossible.iter().copied().collect();
        }
        if let Some(index) = world.get_resource::<ObjectIndex>() {
            c.problems.extend(index.problems.iter().cloned());
            c.objects_invalid = index.invalid_count();
            c.parent_cycles = index.cycles.len();
        }
        if let Some(region) = world.get_resource::<RegionInfo>() {
            c.problems.extend(region.problems.iter().cloned());
        }
        if let Some(t) = world.get_resource::<RegionTextures>() {
            c.textures = AssetSummary {
                referenced: t.referenced.len(),
                fetched: t.fetched(),
                decoded: t.decoded(),
                pending: t.pending(),
                failed: t
                    .failures()
                    .into_iter()
                    .map(|(id, why)| (id, why.to_owned()))
                    .collect(),
                bytes: t.bytes,
                unavailable: t.unavailable.clone(),
            };
        }
        if let Some(s) = world.get_resource::<crate::shapes::ShapeAssets>() {
            c.meshes = AssetSummary {
                referenced: s.meshes.len(),
                fetched: s.meshes_fetched(),
                decoded: s.meshes_decoded(),
                pending: s.meshes_pending(),
                failed: s
                    .mesh_failures()
                    .into_iter()
                    .map(|(id, why)| (id, why.to_owned()))
                    .collect(),
                bytes: s.mesh_bytes,
                unavailable: s.unavailable.clone(),
            };
            c.sculpt_maps = (s.sculpt_maps.len(), s.pixels.len());
        }
        if let Some(counts) = world.get_resource::<crate::objects::plugin::ShapeCounts>() {
            c.shaped = *counts;
        }
        if let Some(frames) = world.get_resource::<CapturedFrames>() {
            c.frame = frames.get(View::Avatar).cloned();
            c.overview = frames.get(View::Overview).cloned();
            c.timed_out = frames.timed_out;
            if frames.input_ended {
                c.input_ended = world
                    .get_resource::<Session>()
                    .and_then(|s| s.input_ended.clone());
            }
        }
        c
    }
}

/// One class of the region's assets (textures, or meshes) at the end of a check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetSummary {
    /// Distinct assets the terrain and the objects reference (blank and null excluded).
    pub referenced: usize,
    /// Fetched.
    pub fetched: usize,
    /// Fetched and decoded.
    pub decoded: usize,
    /// Still waiting for an answer.
    pub pending: usize,
    /// Could not be fetched: the id and why (`HTTP 404`, …).
    pub failed: Vec<(overlook_protocol::types::Uuid, String)>,
    /// Bytes fetched.
    pub bytes: u64,
    /// Assets could not be fetched at all (a replay): why.
    pub unavailable: Option<String>,
}

/// One check, one JUnit test case.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// `phase.<id>` or `check.<name>`.
    pub name: String,
    /// Passed (or skipped, with `skipped`).
    pub passed: bool,
    /// Not applicable (a phase after the capture, e.g. `logout`).
    pub skipped: bool,
    /// What went wrong, or a note.
    pub message: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, passed: bool, message: Option<String>) -> Self {
        Check {
            name: name.into(),
            passed,
            skipped: false,
            message,
        }
    }
}

/// Heights' min, max and mean.
pub fn height_stats(map: &Heightmap) -> Option<(f32, f32, f64)> {
    let h = map.heights();
    let min = h.iter().copied().reduce(f32::min)?;
    let max = h.iter().copied().reduce(f32::max)?;
    let mean = h.iter().map(|&v| f64::from(v)).sum::<f64>() / h.len() as f64;
    Some((min, max, mean))
}

/// The phases a check needs before it counts as connected (exit 2 without them).
const CONNECT_PHASES: [Phase; 4] = [
    Phase::LoginSent,
    Phase::LoginReplied,
    Phase::CircuitAcked,
    Phase::RegionHandshake,
];

/// Missing patches named in a message: the first few, then a count.
fn name_patches(missing: &[(u32, u32)]) -> String {
    const SHOWN: usize = 12;
    let mut s = missing
        .iter()
        .take(SHOWN)
        .map(|(x, y)| format!("({x},{y})"))
        .collect::<Vec<_>>()
        .join(" ");
    if missing.len() > SHOWN {
        let _ = write!(s, " … and {} more", missing.len() - SHOWN);
    }
    s
}

/// The checks, the exit code and the report.
pub fn evaluate(args: &CheckArgs, c: &Collected, mut errors: Vec<String>) -> super::CheckOutcome {
    let mut warnings = c.warnings.clone();
    errors.extend(c.session_errors.iter().cloned());
    warnings.extend(c.problems.iter().cloned());
    if c.retried {
        warnings.push("the login was refused as already present and retried".into());
    }
    if let Some(g) = &c.gave_up
        && !errors
            .iter()
            .any(|e| e.contains(g.as_str()) || g.contains(e.as_str()))
    {
        errors.push(g.clone());
    }
    let (mut checks, circuit) = connection_checks(c);
    let missing: Vec<(u32, u32)> = c
        .heightmap
        .as_ref()
        .map(|m| m.missing().collect())
        .unwrap_or_default();
    // Counting each frame's pixels once: the check and the report both use the shares.
    let shares = region_shares(c);
    checks.extend(scene_checks(args, c, circuit, &missing, shares));
    if let Some(ended) = &c.input_ended
        && circuit
        && !missing.is_empty()
    {
        warnings.push(format!(
            "{ended} before the terrain was complete; captured as it was"
        ));
    }
    if circuit && !args.require_textures {
        for (id, why) in c.textures.failed.iter().take(20) {
            warnings.push(format!(
                "texture {id} could not be fetched or decoded: {why}"
            ));
        }
        if c.textures.failed.len() > 20 {
            warnings.push(format!(
                "… and {} more textures could not be fetched or decoded",
                c.textures.failed.len() - 20
            ));
        }
        for (id, why) in c.meshes.failed.iter().take(20) {
            warnings.push(format!("mesh {id} could not be fetched or decoded: {why}"));
        }
    }
    if circuit && c.timed_out {
        warnings.push(format!(
            "the scene was not complete within {:?}; captured as it was",
            args.timeout
        ));
    }
    for ch in checks.iter().filter(|ch| !ch.passed && !ch.skipped) {
        if let Some(m) = &ch.message
            && !errors.iter().any(|e| e.contains(m.as_str()))
        {
            errors.push(m.clone());
        }
    }
    checks.extend(phase_checks(c));
    let code = if !circuit {
        2
    } else if checks.iter().all(|ch| ch.passed || ch.skipped) {
        0
    } else {
        1
    };
    let report = build_report(args, c, &checks, &missing, shares, code, &errors, &warnings);
    super::CheckOutcome {
        code,
        report,
        checks,
        errors,
        files: Vec::new(),
        heightmap: None,
    }
}

/// `check.login` and `check.circuit` (a failure of either is exit 2), and whether the circuit
/// opened (`RegionHandshake` reached).
fn connection_checks(c: &Collected) -> (Vec<Check>, bool) {
    let reached = |p: Phase| c.timeline.iter().any(|&(q, _)| q == p);
    let logged_in = c.login.is_some();
    let login = Check::new(
        "check.login",
        logged_in,
        (!logged_in).then(|| {
            c.login_failed
                .clone()
                .or_else(|| c.gave_up.clone())
                .unwrap_or_else(|| "not logged in".into())
        }),
    );
    let circuit = logged_in && reached(Phase::RegionHandshake);
    let mut circuit_check = Check::new(
        "check.circuit",
        circuit,
        (!circuit).then(|| {
            c.gave_up
                .clone()
                .unwrap_or_else(|| "no RegionHandshake".into())
        }),
    );
    if !logged_in {
        circuit_check.skipped = true;
        circuit_check.message = Some("not logged in".into());
    }
    (vec![login, circuit_check], circuit)
}

/// `check.terrain`, `check.objects` and `check.frames` (a failure is exit 1); skipped, not
/// failed, when the circuit never opened.
fn scene_checks(
    args: &CheckArgs,
    c: &Collected,
    circuit: bool,
    missing: &[(u32, u32)],
    shares: Shares,
) -> Vec<Check> {
    let expected = c.heightmap.as_ref().map_or(0, Heightmap::patches_total);
    let impossible = &c.terrain_impossible;
    let terrain_ok = circuit && expected > 0 && missing.is_empty() && impossible.is_empty();
    let terrain_msg = (!terrain_ok).then(|| {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!(
                "{} of {expected} terrain patches missing: {}",
                missing.len(),
                name_patches(missing)
            ));
        }
        if !impossible.is_empty() {
            parts.push(format!(
                "{} terrain patches with impossible heights: {}",
                impossible.len(),
                name_patches(impossible)
            ));
        }
        if parts.is_empty() {
            "no terrain".to_owned()
        } else {
            parts.join("; ")
        }
    });
    let enough = c.objects_total >= args.min_objects;
    let objects_ok = circuit && enough && c.objects_invalid == 0 && c.parent_cycles == 0;
    let objects_msg = (!objects_ok).then(|| {
        let mut parts = Vec::new();
        if !enough {
            parts.push(format!(
                "{} objects, fewer than --min-objects {}",
                c.objects_total, args.min_objects
            ));
        }
        if c.objects_invalid > 0 {
            parts.push(format!(
                "{} objects with an impossible place, rotation or size (not drawn; see warnings)",
                c.objects_invalid
            ));
        }
        if c.parent_cycles > 0 {
            parts.push(format!(
                "{} objects in parent cycles (shown as roots; see warnings)",
                c.parent_cycles
            ));
        }
        parts.join("; ")
    });
    let frame_problems = frame_problems(shares);
    let frames_ok = circuit && frame_problems.is_empty();
    let mut checks = vec![
        Check::new("check.terrain", terrain_ok, terrain_msg),
        Check::new("check.objects", objects_ok, objects_msg),
        Check::new(
            "check.frames",
            frames_ok,
            (!frames_ok).then(|| frame_problems.join("; ")),
        ),
    ];
    // Textures and meshes: failures are warnings, or a failing check with `--require-textures`.
    let texture_problem = [
        asset_problem("textures", &c.textures),
        asset_problem("meshes", &c.meshes),
    ]
    .into_iter()
    .flatten()
    .reduce(|a, b| format!("{a}; {b}"));
    let mut textures = Check::new(
        "check.textures",
        texture_problem.is_none() || !args.require_textures,
        texture_problem.clone(),
    );
    if !args.require_textures {
        textures.skipped = true;
        textures.message = Some(texture_problem.map_or_else(
            || "not required (--require-textures); every texture fetched".to_owned(),
            |p| format!("not required (--require-textures): {p}"),
        ));
    }
    checks.push(textures);
    if !circuit {
        // Nothing to judge the scene by: those checks are skipped, not failed.
        for ch in &mut checks {
            ch.skipped = true;
            ch.message = Some("not connected".into());
        }
    }
    checks
}

/// The least share of a frame's pixels that must show something of the region (terrain,
/// water, objects, avatars: anything but the sky) for `check.frames` to pass. The avatar's own
/// view of the embedded region shows 37 % and its overview 100 %; a camera at a place that
/// holds nothing (the sky alone) shows 0 %. 1 % of 1280 × 720 is a 96-pixel square.
pub const MIN_REGION_SHARE: f64 = 0.01;

/// The share of each captured frame that shows the region, `(frame, overview)`; `None` for a
/// frame not rendered.
type Shares = (Option<f64>, Option<f64>);

/// Counts the pixels of each captured frame that show the region ([`Frame::region_share`]).
fn region_shares(c: &Collected) -> Shares {
    let clear = clear_rgba();
    (
        c.frame.as_ref().map(|f| f.region_share(clear)),
        c.overview.as_ref().map(|f| f.region_share(clear)),
    )
}

/// Why `check.frames` fails: a frame not rendered, or one showing nothing of the region.
fn frame_problems((frame, overview): Shares) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, share) in [("frame.png", frame), ("overview.png", overview)] {
        match share {
            None => problems.push(format!("{name} not rendered")),
            Some(share) if share < MIN_REGION_SHARE => problems.push(format!(
                "{name} shows nothing of the region: {:.2} % of its pixels differ from the sky, \
                 under the {} % of terrain, water or objects it needs",
                share * 100.0,
                MIN_REGION_SHARE * 100.0
            )),
            Some(_) => {}
        }
    }
    problems
}

/// One test case per phase of the story: the connecting phases fail when not reached, later
/// ones (counted through the checks above) are skipped.
fn phase_checks(c: &Collected) -> Vec<Check> {
    Phase::ALL
        .into_iter()
        .map(|phase| {
            let ms = c
                .timeline
                .iter()
                .find(|&&(q, _)| q == phase)
                .map(|&(_, ms)| ms);
            let mut check = Check::new(
                format!("phase.{}", phase.id()),
                ms.is_some(),
                ms.map(|ms| format!("{ms} ms")),
            );
            if ms.is_none() {
                if CONNECT_PHASES.contains(&phase) {
                    check.message = Some("not reached".into());
                } else {
                    // A phase the story had not reached when the capture was taken (`logout`
                    // always) is skipped.
                    check.skipped = true;
                    check.message = Some("not reached before the capture".into());
                }
            }
            check
        })
        .collect()
}

fn vec3(v: Option<overlook_protocol::types::Vec3>) -> Value {
    v.map_or(Value::Null, |v| json!([v.x, v.y, v.z]))
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    args: &CheckArgs,
    c: &Collected,
    checks: &[Check],
    missing: &[(u32, u32)],
    shares: Shares,
    code: u8,
    errors: &[String],
    warnings: &[String],
) -> Value {
    let region = c.region.as_ref();
    let login = c.login.as_ref().map_or(Value::Null, |l| {
        // No secrets: no session ids, circuit code or capability URLs.
        json!({
            "first_name": l.first_name,
            "last_name": l.last_name,
            "agent_id": l.agent_id.to_string(),
            "sim_ip": l.sim_ip.to_string(),
            "sim_port": l.sim_port,
            "region_x": l.region_x,
            "region_y": l.region_y,
            "region_size_x": l.region_size_x,
            "region_size_y": l.region_size_y,
            "message": l.message,
            "start_location": l.start_location,
            "seconds_since_epoch": l.seconds_since_epoch,
            "look_at": vec3(l.look_at),
        })
    });
    let stats = height_stats_opt(c.heightmap.as_ref());
    let by_pcode: BTreeMap<String, usize> = c
        .by_pcode
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    json!({
        "result": match code { 0 => "pass", 1 => "fail", _ => "error" },
        "exit_code": code,
        "settings": {
            "grid": args.grid.as_deref().unwrap_or("embedded"),
            "timeout_s": args.timeout.as_secs_f64(),
            "settle_ms": args.settle.as_millis() as u64,
            "min_objects": args.min_objects,
        },
        "region": {
            "name": region.map(|r| r.name.clone()),
            "size": region.map(|r| [r.size.0, r.size.1]),
            "water_height": region.filter(|r| r.handshake_received).map(|r| r.water_height),
            "origin": region.map(|r| [r.origin.0, r.origin.1]),
            "flags": region.map(|r| r.flags),
            "sim_access": region.map(|r| r.sim_access),
        },
        "login": login,
        "agent": {
            "position": vec3(region.and_then(|r| r.agent_position)),
            "look_at": vec3(region.and_then(|r| r.agent_look_at)),
        },
        "timeline": c.timeline.iter().map(|&(p, ms)| json!({"phase": p.id(), "ms": ms})).collect::<Vec<_>>(),
        "terrain": {
            "patches_expected": c.heightmap.as_ref().map_or(0, Heightmap::patches_total),
            "patches_received": c.heightmap.as_ref().map_or(0, Heightmap::patches_received),
            "patches_duplicated": c.heightmap.as_ref().map_or(0, Heightmap::duplicates),
            "patches_missing": missing.iter().map(|&(x, y)| [x, y]).collect::<Vec<_>>(),
            "patches_impossible": c.terrain_impossible.iter().map(|&(x, y)| [x, y]).collect::<Vec<_>>(),
            "height_min": stats.map(|s| s.0),
            "height_max": stats.map(|s| s.1),
            "height_mean": stats.map(|s| s.2),
        },
        "objects": {
            "total": c.objects_total,
            "invalid": c.objects_invalid,
            "parent_cycles": c.parent_cycles,
            "by_pcode": by_pcode,
            "by_shape": c.by_shape,
        },
        "packets": {
            "in": c.stats.packets_in,
            "out": c.stats.packets_out,
            "resent": c.stats.reliable.resent,
            "lost": c.stats.lost_in,
            "duplicates": c.stats.reliable.duplicates,
            "malformed": c.stats.malformed,
        },
        "rtt_ms": c.stats.rtt.map(|d| d.as_secs_f64() * 1000.0),
        "assets": {
            "textures": asset_json(&c.textures, json!({
                "unavailable": c.textures.unavailable,
            })),
            "meshes": asset_json(&c.meshes, json!({
                "objects_drawn": c.shaped.meshes_drawn,
                "objects_as_box": c.shaped.meshes_boxed,
            })),
            "sculpts": {
                "maps_referenced": c.sculpt_maps.0,
                "maps_decoded": c.sculpt_maps.1,
                "objects_drawn": c.shaped.sculpts_drawn,
                "objects_as_box": c.shaped.sculpts_boxed,
            },
        },
        "frames": {
            "frame_region_share": shares.0,
            "overview_region_share": shares.1,
        },
        "checks": checks.iter().map(|ch| json!({
            "name": ch.name,
            "result": if ch.skipped { "skipped" } else if ch.passed { "pass" } else { "fail" },
            "message": ch.message,
        })).collect::<Vec<_>>(),
        "errors": errors,
        "warnings": warnings,
    })
}

/// One class of assets in `report.json`: the counts, the failures and the bytes every class has,
/// and `extra` (an object) beside them.
fn asset_json(t: &AssetSummary, extra: serde_json::Value) -> serde_json::Value {
    let mut v = json!({
        "referenced": t.referenced,
        "fetched": t.fetched,
        "decoded": t.decoded,
        "pending": t.pending,
        "failed": t.failed.iter().map(|(id, why)| json!({
            "uuid": id.to_string(),
            "reason": why,
        })).collect::<Vec<_>>(),
        "bytes": t.bytes,
    });
    if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

/// What is wrong with one class of assets (`textures`, `meshes`), if anything.
fn asset_problem(noun: &str, t: &AssetSummary) -> Option<String> {
    if let Some(why) = &t.unavailable {
        return (t.referenced > 0 || noun == "textures")
            .then(|| format!("{noun} not checked: {why}"));
    }
    if t.failed.is_empty() && t.pending == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if !t.failed.is_empty() {
        let named: Vec<String> = t
            .failed
            .iter()
            .take(8)
            .map(|(id, why)| format!("{id} ({why})"))
            .collect();
        let more = t.failed.len().saturating_sub(named.len());
        parts.push(format!(
            "{} of {} {noun} could not be fetched or decoded: {}{}",
            t.failed.len(),
            t.referenced,
            named.join(", "),
            if more > 0 {
                format!(" … and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if t.pending > 0 {
        parts.push(format!("{} {noun} never answered", t.pending));
    }
    Some(parts.join("; "))
}

fn height_stats_opt(map: Option<&Heightmap>) -> Option<(f32, f32, f64)> {
    map.and_then(height_stats)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `junit.xml`: one test case per check and per phase.
pub fn junit(checks: &[Check]) -> String {
    let failures = checks.iter().filter(|c| !c.passed && !c.skipped).count();
    let skipped = checks.iter().filter(|c| c.skipped).count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites><testsuite name=\"overlook check\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        checks.len()
    );
    for c in checks {
        let name = xml_escape(&c.name);
        let msg = xml_escape(c.message.as_deref().unwrap_or(""));
        if c.skipped {
            let _ = writeln!(
                s,
                "  <testcase classname=\"overlook.check\" name=\"{name}\"><skipped message=\"{msg}\"/></testcase>"
            );
        } else if c.passed {
            let _ = writeln!(
                s,
                "  <testcase classname=\"overlook.check\" name=\"{name}\"/>"
            );
        } else {
            let _ = writeln!(
                s,
                "  <testcase classname=\"overlook.check\" name=\"{name}\"><failure message=\"{msg}\"/></testcase>"
            );
        }
    }
    s.push_str("</testsuite></testsuites>\n");
    s
}

/// OpenSim's `terrain save` `.r32`: little-endian `f32`, row-major, south row first, west first.
pub fn r32(map: &Heightmap) -> Vec<u8> {
    map.heights().iter().flat_map(|h| h.to_le_bytes()).collect()
}

/// 16-bit grayscale samples, top row north: `(h − min) / (max − min) × 65535` (0 when flat).
pub fn heightmap_gray16(map: &Heightmap) -> Vec<u16> {
    let (min, max, _) = height_stats(map).unwrap_or((0.0, 0.0, 0.0));
    let range = max - min;
    let w = map.size_x() as usize;
    map.heights()
        .chunks_exact(w)
        .rev()
        .flatten()
        .map(|&h| {
            if range > 0.0 {
                ((h - min) / range * 65535.0).round().clamp(0.0, 65535.0) as u16
            } else {
                0
            }
        })
        .collect()
}

/// Writes [`heightmap_gray16`] as a 16-bit grayscale PNG.
///
/// # Errors
/// When the file cannot be written.
pub fn write_heightmap_png(map: &Heightmap, path: &Path) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, map.size_x(), map.size_y());
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Sixteen);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    let bytes: Vec<u8> = heightmap_gray16(map)
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    writer
        .write_image_data(&bytes)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::capture::CLEAR_TOLERANCE;
    use overlook_protocol::terrain::DecodedPatch;

    fn map() -> Heightmap {
        let mut bytes = Vec::new();
        for y in 0..256u32 {
            for x in 0..256u32 {
                bytes.extend_from_slice(&(10.0 + y as f32 + x as f32 / 1000.0).to_le_bytes());
            }
        }
        Heightmap::from_r32(&bytes, 256, 256).unwrap()
    }

    #[test]
    fn r32_is_south_row_first_little_endian() {
        let m = map();
        let b = r32(&m);
        assert_eq!(b.len(), 256 * 256 * 4);
        assert_eq!(f32::from_le_bytes(b[0..4].try_into().unwrap()), 10.0);
        // Second sample: one metre east.
        assert_eq!(f32::from_le_bytes(b[4..8].try_into().unwrap()), 10.001);
        assert_eq!(Heightmap::from_r32(&b, 256, 256).unwrap(), m);
    }

    #[test]
    fn gray16_puts_north_on_top_and_spans_the_range() {
        let g = heightmap_gray16(&map());
        assert_eq!(g.len(), 256 * 256);
        // Top-left is the north-west corner, the highest row.
        assert!(g[0] > 65000, "{}", g[0]);
        assert_eq!(g[255 * 256], 0, "south-west corner is the minimum");
        assert_eq!(g[255], 65535, "north-east corner is the maximum");
    }

    fn login() -> Box<LoginSuccess> {
        let xml = overlook_testdata::read_bytes("test-region.login-response.xml");
        match overlook_protocol::login::parse_login_response(&xml).unwrap() {
            overlook_protocol::login::LoginReply::Success(s) => s,
            other => panic!("{other:?}"),
        }
    }

    fn connected(map: Heightmap, objects: usize) -> Collected {
        Collected {
            ran: true,
            login: Some(login()),
            timeline: Phase::ALL[..9].iter().map(|&p| (p, 10)).collect(),
            heightmap: Some(map),
            objects_total: objects,
            frame: Some(Frame {
                view: View::Avatar,
                width: 1,
                height: 1,
                rgba: vec![0; 4],
            }),
            overview: Some(Frame {
                view: View::Overview,
                width: 1,
                height: 1,
                rgba: vec![0; 4],
            }),
            ..Collected::default()
        }
    }

    fn args(min_objects: usize) -> CheckArgs {
        CheckArgs {
            min_objects,
            ..CheckArgs::embedded("unused")
        }
    }

    #[test]
    fn exit_codes_follow_the_checks() {
        // Everything there: 0, logout skipped.
        let o = evaluate(&args(30), &connected(map(), 36), Vec::new());
        assert_eq!(o.code, 0, "{:?}", o.errors);
        assert!(o.errors.is_empty());
        assert!(
            o.checks
                .iter()
                .any(|c| c.name == "phase.logout" && c.skipped)
        );
        // Too few objects: 1, saying so.
        let o = evaluate(&args(40), &connected(map(), 36), Vec::new());
        assert_eq!(o.code, 1);
        assert!(
            o.errors.iter().any(|e| e.contains("36 objects")),
            "{:?}",
            o.errors
        );
        // Three patches missing: 1, naming them.
        let mut partial = Heightmap::new(256, 256).unwrap();
        for y in 0..16 {
            for x in 0..16 {
                if ![(3, 4), (15, 0), (7, 9)].contains(&(x, y)) {
                    let heights = [1.0; 256];
                    partial.apply(&DecodedPatch { x, y, heights }).unwrap();
                }
            }
        }
        let o = evaluate(&args(0), &connected(partial, 36), Vec::new());
        assert_eq!(o.code, 1);
        assert!(
            o.errors
                .iter()
                .any(|e| e == "3 of 256 terrain patches missing: (15,0) (3,4) (7,9)"),
            "{:?}",
            o.errors
        );
        assert_eq!(o.report["terrain"]["patches_received"], 253);
        // Logged in, but no handshake: 2, the scene's checks skipped.
        let mut c = connected(map(), 36);
        c.timeline.truncate(3);
        c.gave_up = Some("no RegionHandshake within 60s".into());
        let o = evaluate(&args(0), &c, Vec::new());
        assert_eq!(o.code, 2);
        assert_eq!(o.errors, vec!["no RegionHandshake within 60s".to_owned()]);
        assert!(
            o.checks
                .iter()
                .any(|c| c.name == "check.terrain" && c.skipped)
        );
        // Refused: 2 with the server's words.
        let c = Collected {
            ran: true,
            login_failed: Some("Could not authenticate your avatar.".into()),
            session_errors: vec![
                "login failed: login refused (key): Could not authenticate your avatar.".into(),
            ],
            ..Collected::default()
        };
        let o = evaluate(&args(0), &c, Vec::new());
        assert_eq!(o.code, 2);
        assert_eq!(o.errors.len(), 1, "{:?}", o.errors);
        assert!(o.errors[0].contains("Could not authenticate"));
    }

    /// A 100 × 100 frame of sky with `region` pixels of terrain colour.
    fn sky_with(view: View, region: usize) -> Frame {
        let sky = clear_rgba();
        let mut rgba: Vec<u8> = sky.repeat(100 * 100);
        for px in rgba.chunks_exact_mut(4).take(region) {
            px.copy_from_slice(&[90, 120, 60, 255]);
        }
        // Within the tolerance of the clear colour: still sky.
        rgba[4 * 9999] = sky[0] + CLEAR_TOLERANCE;
        Frame {
            view,
            width: 100,
            height: 100,
            rgba,
        }
    }

    #[test]
    fn a_frame_of_sky_alone_fails_check_frames() {
        let mut c = connected(map(), 36);
        c.frame = Some(sky_with(View::Avatar, 0));
        c.overview = Some(sky_with(View::Overview, 100));
        let o = evaluate(&args(0), &c, Vec::new());
        assert_eq!(o.code, 1);
        let frames = o.checks.iter().find(|c| c.name == "check.frames").unwrap();
        assert!(!frames.passed);
        assert_eq!(
            frames.message.as_deref(),
            Some(
                "frame.png shows nothing of the region: 0.00 % of its pixels differ from the sky, \
                 under the 1 % of terrain, water or objects it needs"
            )
        );
        assert_eq!(o.report["frames"]["frame_region_share"].as_f64(), Some(0.0));
        assert_eq!(
            o.report["frames"]["overview_region_share"].as_f64(),
            Some(0.01)
        );
        // 99 pixels of 10,000 are under 1 %; 100 are enough.
        c.frame = Some(sky_with(View::Avatar, 99));
        let o = evaluate(&args(0), &c, Vec::new());
        assert_eq!(o.code, 1);
        c.frame = Some(sky_with(View::Avatar, 100));
        let o = evaluate(&args(0), &c, Vec::new());
        assert_eq!(o.code, 0, "{:?}", o.errors);
        // A frame not rendered at all.
        c.overview = None;
        let o = evaluate(&args(0), &c, Vec::new());
        assert!(
            o.errors.iter().any(|e| e == "overview.png not rendered"),
            "{:?}",
            o.errors
        );
    }

    #[test]
    fn impossible_objects_cycles_and_terrain_fail_their_checks() {
        let mut c = connected(map(), 36);
        c.objects_invalid = 2;
        c.parent_cycles = 1;
        c.terrain_impossible = vec![(1, 1), (2, 1)];
        let o = evaluate(&args(30), &c, Vec::new());
        assert_eq!(o.code, 1);
        let message = |name: &str| {
            o.checks
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| c.message.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            message("check.objects"),
            "2 objects with an impossible place, rotation or size (not drawn; see warnings); \
             1 objects in parent cycles (shown as roots; see warnings)"
        );
        assert_eq!(
            message("check.terrain"),
            "2 terrain patches with impossible heights: (1,1) (2,1)"
        );
        assert_eq!(o.report["objects"]["invalid"], 2);
        assert_eq!(o.report["objects"]["parent_cycles"], 1);
        assert_eq!(
            o.report["terrain"]["patches_impossible"],
            serde_json::json!([[1, 1], [2, 1]])
        );
        assert!(o.errors.iter().any(|e| e.contains("impossible heights")));
    }

    #[test]
    fn names_missing_patches_briefly() {
        assert_eq!(name_patches(&[(3, 4), (15, 0)]), "(3,4) (15,0)");
        let many: Vec<_> = (0..20).map(|x| (x, 0)).collect();
        assert!(name_patches(&many).ends_with("… and 8 more"));
    }

    #[test]
    fn junit_counts_failures_and_escapes() {
        let checks = vec![
            Check::new("check.a", true, None),
            Check::new("check.b", false, Some("x < y & \"z\"".into())),
        ];
        let x = junit(&checks);
        assert!(x.contains("tests=\"2\" failures=\"1\""));
        assert!(x.contains("x &lt; y &amp; &quot;z&quot;"));
    }
}
