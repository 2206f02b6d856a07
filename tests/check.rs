//! `overlook check` end to end, through its library entry point (`check::run`) against the
//! embedded region: a passing run (which also has to retry a `presence` refusal first), a wrong
//! password (exit 2 with the server's message) and a region that sends no terrain (exit 1 naming
//! the missing patches). Each run renders with lavapipe, so the runs are few and share their
//! assertions; a mutex keeps them one at a time (one headless app per process at once).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use overlook::check::{CheckArgs, CheckOutcome, run};
use overlook::net::embedded::EmbeddedSim;
use overlook::net::{LoginParams, NetCommand, NetEvent, NetHandle, NetSettings};
use overlook_protocol::circuit::Phase;
use overlook_protocol::login::StartLocation;
use overlook_protocol::message::object::PCode;
use overlook_protocol::terrain::Heightmap;
use overlook_sim::server::SimConfig;
use overlook_sim::terrain::TerrainSource;
use serde_json::Value;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read_report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json written");
    serde_json::from_str(&text).expect("report.json is JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

/// Logs `Test User` in with the network thread alone and keeps the session open, so the next
/// login of the same account is refused with `presence`.
fn present_elsewhere(login_uri: &str) -> NetHandle {
    let net = NetHandle::spawn(NetSettings::default()).unwrap();
    assert!(net.send(NetCommand::Login(LoginParams {
        grid: login_uri.to_owned(),
        first: "Test".into(),
        last: "User".into(),
        password: "test".into(),
        start: StartLocation::Last,
    })));
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match net.events().recv_timeout(left) {
            Ok(NetEvent::Phase {
                phase: Phase::RegionHandshake,
                ..
            }) => return net,
            Ok(NetEvent::LoginFailed(f)) => panic!("first login failed: {f}"),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("the first session never reached the handshake");
}

#[test]
fn check_passes_on_the_embedded_region_and_writes_every_file() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let _other = present_elsewhere(&sim.login_uri);
    let dir = out_dir("check-pass");
    let mut args = CheckArgs::embedded(&dir);
    args.grid = Some(sim.login_uri.clone());
    (args.first, args.last, args.password) = sim.account.clone();
    args.min_objects = 30;
    let outcome: CheckOutcome = run(&args);
    assert_eq!(outcome.code, 0, "errors: {:?}", outcome.errors);

    for f in [
        "frame.png",
        "overview.png",
        "heightmap.png",
        "heightmap.r32",
        "report.json",
        "junit.xml",
    ] {
        let len = std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{f} missing or empty");
    }
    let r = read_report(&dir);
    assert_eq!(r["region"]["name"], "Overlook Region");
    assert_eq!(r["region"]["size"], serde_json::json!([256, 256]));
    assert_eq!(r["region"]["water_height"].as_f64(), Some(20.0));
    assert_eq!(r["agent"]["position"][0].as_f64(), Some(128.0));
    assert!(r["agent"]["look_at"][0].as_f64().unwrap() > 0.9);
    assert_eq!(r["terrain"]["patches_expected"], 256);
    assert_eq!(r["terrain"]["patches_received"], 256);
    let min = r["terrain"]["height_min"].as_f64().unwrap();
    let max = r["terrain"]["height_max"].as_f64().unwrap();
    let mean = r["terrain"]["height_mean"].as_f64().unwrap();
    // The island: sea floor a little below zero, hills above the 20 m water.
    assert!((-10.0..0.0).contains(&min), "min {min}");
    assert!((20.0..60.0).contains(&max), "max {max}");
    assert!(min < mean && mean < max);
    // Exactly the region's scene and our avatar: every object by PCode and by shape. The
    // blinker is killed 3 s of every 10 and re-created, so it may be missing at the capture.
    let scene = overlook_sim::server::scene_objects(&SimConfig::loopback()).unwrap();
    let total = r["objects"]["total"].as_u64().unwrap() as usize;
    assert!(
        total == scene.len() + 1 || total == scene.len(),
        "{total} objects, the scene has {}",
        scene.len()
    );
    let blinker_present = total == scene.len() + 1;
    let mut by_pcode = serde_json::Map::new();
    let mut by_shape = serde_json::Map::new();
    let count = |map: &mut serde_json::Map<String, Value>, key: String| {
        let n = map.entry(key).or_insert(Value::from(0u64));
        *n = Value::from(n.as_u64().unwrap() + 1);
    };
    for o in scene
        .iter()
        .filter(|o| blinker_present || o.blink.is_none())
    {
        count(&mut by_pcode, u8::from(o.pcode).to_string());
        let shape = if o.pcode == PCode::Prim {
            overlook::check::report::shape_name(o.to_object_data(0.0).shape_kind())
        } else {
            "other"
        };
        count(&mut by_shape, shape.to_owned());
    }
    count(&mut by_pcode, "47".to_owned());
    count(&mut by_shape, "other".to_owned());
    assert_eq!(r["objects"]["by_pcode"], Value::Object(by_pcode));
    assert_eq!(r["objects"]["by_shape"], Value::Object(by_shape));
    assert_eq!(r["objects"]["invalid"], 0);
    assert_eq!(r["objects"]["parent_cycles"], 0);
    assert_eq!(r["terrain"]["patches_impossible"], serde_json::json!([]));
    // Its textures: every one it serves fetched byte for byte once, the one it never serves
    // failed with 404 (fetched over real loopback sockets, through ViewerAsset).
    let textures = &r["assets"]["textures"];
    let served = &overlook_sim::textures::TEXTURES;
    assert_eq!(textures["referenced"], served.len() + 1);
    assert_eq!(textures["fetched"], served.len());
    assert_eq!(textures["decoded"], served.len());
    assert_eq!(textures["pending"], 0);
    assert_eq!(
        textures["bytes"],
        served.iter().map(|t| t.bytes.len()).sum::<usize>()
    );
    assert_eq!(
        textures["failed"],
        serde_json::json!([{
            "uuid": overlook_sim::textures::MISSING.to_string(),
            "reason": "HTTP 404",
        }])
    );
    assert!(
        strings(&r["warnings"])
            .iter()
            .any(|w| w.contains(&overlook_sim::textures::MISSING.to_string())),
        "the missing texture is a warning"
    );
    // Its meshes, fetched by `mesh_id` and decoded, and its sculpt maps (textures, counted
    // above) decoded to pixels: every sculpty and mesh object drawn from them, none a box.
    let meshes = &r["assets"]["meshes"];
    let served = &overlook_sim::meshes::MESHES;
    assert_eq!(meshes["referenced"], served.len());
    assert_eq!(meshes["fetched"], served.len());
    assert_eq!(meshes["decoded"], served.len());
    assert_eq!(meshes["pending"], 0);
    assert_eq!(meshes["failed"], serde_json::json!([]));
    assert_eq!(
        meshes["bytes"],
        served.iter().map(|m| m.bytes.len()).sum::<usize>()
    );
    assert_eq!(meshes["objects_drawn"], 2);
    assert_eq!(meshes["objects_as_box"], 0);
    let sculpts = &r["assets"]["sculpts"];
    let maps = overlook_sim::textures::SCULPT_MAPS.len();
    assert_eq!(sculpts["maps_referenced"], maps);
    assert_eq!(sculpts["maps_decoded"], maps);
    assert_eq!(sculpts["objects_drawn"], 4);
    assert_eq!(sculpts["objects_as_box"], 0);
    // The region's frames: the avatar's view and the overview show terrain, water and objects.
    assert!(r["frames"]["frame_region_share"].as_f64().unwrap() > 0.2);
    assert!(r["frames"]["overview_region_share"].as_f64().unwrap() > 0.99);
    // The scene alone is 25 datagrams from this region (14 LayerData, 9 ObjectUpdate and
    // ObjectUpdateCompressed, RegionHandshake, AgentMovementComplete; counted in a `--record`
    // of a check). Terse updates, pings and statistics come on top at a rate, so how many more
    // arrive depends on how long the check runs.
    let (packets_in, packets_out) = (
        r["packets"]["in"].as_u64().unwrap(),
        r["packets"]["out"].as_u64().unwrap(),
    );
    assert!(packets_in >= 25, "{packets_in} in");
    assert!(
        packets_out > 5 && packets_out < packets_in,
        "{packets_out} out"
    );
    assert!(r["rtt_ms"].as_f64().is_some());
    assert!(r["login"]["message"].is_string());
    assert!(r["login"].get("session_id").is_none() && r["login"].get("seed_capability").is_none());
    assert!(strings(&r["errors"]).is_empty());
    assert!(
        strings(&r["warnings"])
            .iter()
            .any(|w| w.contains("retried")),
        "the presence refusal was not retried: {:?}",
        r["warnings"]
    );

    // The timeline: the story's phases in order, from login_sent at 0.
    let timeline: Vec<(String, u64)> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["phase"].as_str().unwrap().to_owned(),
                e["ms"].as_u64().unwrap(),
            )
        })
        .collect();
    let ids: Vec<&str> = timeline.iter().map(|(p, _)| p.as_str()).collect();
    let order: Vec<&str> = Phase::ALL.iter().map(|p| p.id()).collect();
    for w in ids.windows(2) {
        let (a, b) = (
            order.iter().position(|p| *p == w[0]),
            order.iter().position(|p| *p == w[1]),
        );
        assert!(a < b, "phases out of order: {ids:?}");
    }
    for p in [
        "login_sent",
        "region_handshake",
        "terrain_complete",
        "first_object",
    ] {
        assert!(ids.contains(&p), "{p} missing from {ids:?}");
    }
    assert_eq!(timeline[0], ("login_sent".to_owned(), 0));
    assert!(timeline.windows(2).all(|w| w[0].1 <= w[1].1));

    // heightmap.r32: exactly the decoded terrain, and close to what the region serves.
    let r32 = std::fs::read(dir.join("heightmap.r32")).unwrap();
    assert_eq!(r32.len(), 256 * 256 * 4);
    let decoded = outcome.heightmap.as_ref().expect("the terrain");
    assert_eq!(&Heightmap::from_r32(&r32, 256, 256).unwrap(), decoded);
    let served = TerrainSource::Island { seed: 1 }
        .load(Some((256, 256)))
        .unwrap();
    let worst = served
        .heights()
        .iter()
        .zip(decoded.heights())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1.0, "decoded terrain off by {worst} m");

    // heightmap.png: 16-bit grayscale, north up, spanning min..max.
    let png = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(dir.join("heightmap.png")).unwrap(),
    ));
    let mut reader = png.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (256, 256));
    assert_eq!(info.bit_depth, png::BitDepth::Sixteen);
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let px = |x: usize, y: usize| {
        u16::from_be_bytes([buf[(y * 256 + x) * 2], buf[(y * 256 + x) * 2 + 1]])
    };
    let (hmin, hmax) = (min as f32, max as f32);
    for (x, y) in [(0, 0), (128, 128), (200, 17), (255, 255)] {
        // Pixel row y is region row 255 - y.
        let h = decoded.height(x as u32, 255 - y as u32).unwrap();
        let want = ((h - hmin) / (hmax - hmin) * 65535.0).round() as i32;
        assert!((i32::from(px(x, y)) - want).abs() <= 1, "({x},{y})");
    }

    // junit.xml: a test case per phase and per check, none failed.
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    for p in Phase::ALL {
        assert!(junit.contains(&format!("name=\"phase.{}\"", p.id())));
    }
    for c in ["login", "circuit", "terrain", "objects", "frames"] {
        assert!(junit.contains(&format!("name=\"check.{c}\"")));
    }
    assert!(junit.contains("failures=\"0\""), "{junit}");
}

#[test]
fn wrong_password_exits_2_with_the_servers_message() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let dir = out_dir("check-refused");
    let mut args = CheckArgs::embedded(&dir);
    args.grid = Some(sim.login_uri.clone());
    args.first = "Test".into();
    args.last = "User".into();
    args.password = "wrong".into();
    let started = Instant::now();
    let outcome = run(&args);
    assert_eq!(outcome.code, 2);
    // It fails fast instead of waiting for the timeout.
    assert!(started.elapsed() < Duration::from_secs(40));
    let r = read_report(&dir);
    let errors = strings(&r["errors"]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Could not authenticate your avatar")),
        "{errors:?}"
    );
    assert_eq!(r["exit_code"], 2);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"check.login\"><failure"), "{junit}");
    assert!(!dir.join("heightmap.r32").exists());
}

#[test]
fn region_without_terrain_exits_1_naming_the_missing_patches() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = out_dir("check-no-terrain");
    // The embedded region (no --grid), told never to send a patch.
    let mut args = CheckArgs::embedded(&dir);
    args.embedded.withheld_patches = (0..16).flat_map(|y| (0..16).map(move |x| (x, y))).collect();
    args.timeout = Duration::from_secs(6);
    let outcome = run(&args);
    assert_eq!(outcome.code, 1, "errors: {:?}", outcome.errors);
    let r = read_report(&dir);
    assert_eq!(r["terrain"]["patches_expected"], 256);
    assert_eq!(r["terrain"]["patches_received"], 0);
    assert_eq!(
        r["terrain"]["patches_missing"].as_array().unwrap().len(),
        256
    );
    let errors = strings(&r["errors"]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("256 of 256 terrain patches missing: (0,0) (1,0)")),
        "{errors:?}"
    );
    // Connected all the same: the handshake and objects arrived.
    let ids: Vec<String> = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["phase"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.iter().any(|p| p == "region_handshake"), "{ids:?}");
    assert!(!ids.iter().any(|p| p == "terrain_complete"), "{ids:?}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"check.terrain\"><failure"), "{junit}");
}

/// The distinct local ids of every full and compressed object update in a capture.
fn captured_local_ids(udp: &Path) -> std::collections::BTreeSet<u32> {
    use overlook_protocol::message::Message;
    let text = std::fs::read_to_string(udp).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for d in overlook_protocol::capture::read_udp_jsonl(&text).unwrap() {
        if d.dir != overlook_protocol::capture::Direction::In {
            continue;
        }
        let p = overlook_protocol::udp::decode(&d.bytes).unwrap();
        match Message::parse(p.message, &p.body).unwrap() {
            Message::ObjectUpdate(u) => ids.extend(u.objects.iter().map(|o| o.id)),
            Message::ObjectUpdateCompressed(u) => {
                ids.extend(u.objects.iter().map(|b| b.object().unwrap().local_id));
            }
            Message::KillObject(k) => {
                for id in &k.ids {
                    ids.remove(id);
                }
            }
            _ => {}
        }
    }
    ids
}

#[test]
fn a_recording_that_cannot_replay_ends_at_once_naming_it() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = out_dir("check-replay-broken");
    std::fs::create_dir_all(&dir).unwrap();
    let reply = overlook_testdata::read_bytes("test-region.login-response.xml");
    let first_lines: Vec<String> = overlook_testdata::session_udp("test-region")
        .lines()
        .take(3)
        .map(str::to_owned)
        .collect();
    let nan = first_lines[0].replacen(r#""t": "#, r#""t": NaN, "x": "#, 1);
    for (name, text, expected) in [
        (
            "empty",
            String::new(),
            "ended before RegionHandshake (0 datagrams)",
        ),
        (
            "truncated",
            first_lines.join("\n"),
            "ended before RegionHandshake (3 datagrams)",
        ),
        ("nan", nan, "capture line 1: bad \"t\""),
    ] {
        let udp = dir.join(format!("{name}.udp.jsonl"));
        std::fs::write(&udp, text).unwrap();
        std::fs::write(dir.join(format!("{name}.login-response.xml")), &reply).unwrap();
        let mut args = CheckArgs::embedded(dir.join(name));
        args.replay = Some(udp.clone());
        args.timeout = Duration::from_secs(60);
        let started = Instant::now();
        let outcome = run(&args);
        assert_eq!(outcome.code, 2, "{name}: {:#}", outcome.report);
        // At once, not after the 60 s timeout.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name}: {:?}",
            started.elapsed()
        );
        assert!(
            outcome
                .errors
                .iter()
                .any(|e| e.contains(&udp.display().to_string()) && e.contains(expected)),
            "{name}: {:?}",
            outcome.errors
        );
    }
}

#[test]
fn a_recording_cut_after_the_handshake_is_checked_at_once_as_it_was() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = out_dir("check-replay-cut");
    std::fs::create_dir_all(&dir).unwrap();
    // The first 20 datagrams of the capture: the handshake and part of the terrain.
    let udp = dir.join("cut.udp.jsonl");
    let cut = overlook_testdata::session_udp("test-region")
        .lines()
        .take(20)
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&udp, cut).unwrap();
    std::fs::write(
        dir.join("cut.login-response.xml"),
        overlook_testdata::read_bytes("test-region.login-response.xml"),
    )
    .unwrap();
    let mut args = CheckArgs::embedded(dir.join("out"));
    args.replay = Some(udp.clone());
    args.timeout = Duration::from_secs(60);
    let started = Instant::now();
    let outcome = run(&args);
    // Connected, terrain incomplete: 1, at once rather than after the 60 s timeout.
    assert_eq!(outcome.code, 1, "{:#}", outcome.report);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let r = &outcome.report;
    let received = r["terrain"]["patches_received"].as_u64().unwrap();
    assert!(received > 0 && received < 256, "{received} patches");
    assert_eq!(
        r["terrain"]["patches_missing"].as_array().unwrap().len() as u64,
        256 - received
    );
    let warnings = strings(&r["warnings"]);
    let expected = format!(
        "the recording {} ended (20 datagrams) before the terrain was complete; captured as it was",
        udp.display()
    );
    assert!(warnings.contains(&expected), "{warnings:?}");
    assert!(
        !warnings.iter().any(|w| w.contains("within")),
        "not a timeout: {warnings:?}"
    );
}

#[test]
fn every_capture_replays_and_checks_cleanly_with_every_prim_and_patch() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (session, size, r32) in [
        ("test-region", 256u32, Some("test-region.terrain.r32")),
        ("test-region-fresh", 256, None),
        ("var-region", 512, Some("var-region.terrain.r32")),
    ] {
        let udp = overlook_testdata::capture_path(&format!("{session}.udp.jsonl"));
        let dir = out_dir(&format!("check-replay-{session}"));
        let mut args = CheckArgs::embedded(&dir);
        args.replay = Some(udp.clone());
        let outcome: CheckOutcome = run(&args);
        assert_eq!(outcome.code, 0, "{session}: {:#}", outcome.report);
        let r = read_report(&dir);
        let patches = u64::from(size / 16).pow(2);
        assert_eq!(
            r["region"]["size"],
            serde_json::json!([size, size]),
            "{session}"
        );
        assert_eq!(r["terrain"]["patches_expected"], patches, "{session}");
        assert_eq!(r["terrain"]["patches_received"], patches, "{session}");
        // Every prim and avatar of the capture is there at the end.
        let ids = captured_local_ids(&udp);
        assert_eq!(r["objects"]["total"], ids.len() as u64, "{session}");
        // Phase times are the recording's.
        let terrain_ms = strings_to_ms(&r["timeline"], "terrain_complete");
        assert!(
            terrain_ms > 100,
            "{session}: terrain complete at {terrain_ms} ms"
        );
        // The heightmap written is the server's own within the codec's error (PROTOCOL §8).
        let written = std::fs::read(dir.join("heightmap.r32")).unwrap();
        assert_eq!(written.len() as u64, u64::from(size) * u64::from(size) * 4);
        if let Some(r32) = r32 {
            let server =
                Heightmap::from_r32(&overlook_testdata::read_bytes(r32), size, size).unwrap();
            let ours = Heightmap::from_r32(&written, size, size).unwrap();
            let mean_error = server
                .heights()
                .iter()
                .zip(ours.heights())
                .map(|(a, b)| f64::from((a - b).abs()))
                .sum::<f64>()
                / f64::from(size * size);
            assert!(
                mean_error <= 0.02,
                "{session}: mean |error| {mean_error:.4} m"
            );
        }
    }
}

fn strings_to_ms(timeline: &Value, phase: &str) -> u64 {
    timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["phase"] == phase)
        .and_then(|t| t["ms"].as_u64())
        .unwrap_or_else(|| panic!("{phase} missing from {timeline}"))
}

/// The archive a live OpenSim 0.9.2.2 saved (`save oar`) after loading the embedded region's
/// scene (`overlook sim --save-oar` on the Test Region's terrain, `load oar`): terrain,
/// settings, 41 objects with their sculpties and meshes, and the 13 textures and meshes they
/// use. `check --oar` on it reports what `check` against that live OpenSim reported
/// (`opensim-saved-demo.live-report.json`, the live run's report).
#[test]
fn an_archive_opensim_saved_checks_like_the_live_opensim_that_saved_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let data = overlook_testdata::data_dir().join("oar");
    let oar = overlook::net::embedded::load_oar(&data.join("opensim-saved-demo.oar")).unwrap();
    assert!(oar.problems.is_empty(), "{:?}", oar.problems);
    let live: Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("opensim-saved-demo.live-report.json")).unwrap(),
    )
    .unwrap();
    let dir = out_dir("check-oar");
    let mut args = CheckArgs::embedded(&dir);
    args.embedded = SimConfig {
        oar: Some(oar),
        ..SimConfig::loopback()
    };
    args.require_textures = true;
    let outcome = run(&args);
    let r = read_report(&dir);
    // The one texture the scene names and nobody serves fails here as it did there.
    assert_eq!(outcome.code, 1, "errors: {:?}", outcome.errors);
    assert_eq!(
        r["assets"]["textures"]["failed"],
        live["assets"]["textures"]["failed"]
    );
    // The same terrain: every patch, the same extremes; the mean within what the two regions'
    // LayerData encoders round differently (a few µm).
    for key in [
        "patches_expected",
        "patches_received",
        "height_min",
        "height_max",
    ] {
        assert_eq!(r["terrain"][key], live["terrain"][key], "{key}");
    }
    let mean = |v: &Value| v["terrain"]["height_mean"].as_f64().unwrap();
    assert!(
        (mean(&r) - mean(&live)).abs() < 1e-3,
        "{} {}",
        mean(&r),
        mean(&live)
    );
    assert_eq!(r["region"]["size"], live["region"]["size"]);
    assert_eq!(r["region"]["water_height"], live["region"]["water_height"]);
    // The same objects, by PCode and by shape (blinker and all: OpenSim does not animate it),
    // and the same assets, fetched, decoded and drawn.
    assert_eq!(r["objects"], live["objects"]);
    for class in ["textures", "meshes", "sculpts"] {
        assert_eq!(r["assets"][class], live["assets"][class], "{class}");
    }
}

/// The archives the project's OpenSim setup writes (objects only) and loads into its two
/// regions: `check --oar` on each, on that region's own heightmap, reports the objects and
/// terrain `check` reported against the live OpenSim that loaded it (`*.live-report.json`, the
/// live runs' reports, 2026-12-08).
#[test]
fn the_setups_archives_check_like_the_live_regions_that_loaded_them() {
    use overlook_sim::terrain::TerrainSource;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let data = overlook_testdata::data_dir().join("oar");
    for region in ["test-region", "var-region"] {
        let oar = overlook::net::embedded::load_oar(&data.join(format!("{region}.oar"))).unwrap();
        let live: Value = serde_json::from_str(
            &std::fs::read_to_string(data.join(format!("{region}.live-report.json"))).unwrap(),
        )
        .unwrap();
        let dir = out_dir(&format!("check-{region}"));
        let mut args = CheckArgs::embedded(&dir);
        args.embedded = SimConfig {
            oar: Some(oar),
            terrain: TerrainSource::R32(overlook_testdata::capture_path(&format!(
                "{region}.terrain.r32"
            ))),
            ..SimConfig::loopback()
        };
        let outcome = run(&args);
        assert_eq!(outcome.code, 0, "{region}: {:?}", outcome.errors);
        let r = read_report(&dir);
        assert_eq!(r["objects"], live["objects"], "{region}");
        assert_eq!(r["region"]["size"], live["region"]["size"], "{region}");
        for key in [
            "patches_expected",
            "patches_received",
            "height_min",
            "height_max",
        ] {
            assert_eq!(r["terrain"][key], live["terrain"][key], "{region} {key}");
        }
        let mean = |v: &Value| v["terrain"]["height_mean"].as_f64().unwrap();
        assert!((mean(&r) - mean(&live)).abs() < 1e-3, "{region}");
        // OpenSim serves its library's plywood, which the archive names and does not carry:
        // here it is the one texture that fails, and it is named.
        assert_eq!(live["assets"]["textures"]["failed"], serde_json::json!([]));
        assert_eq!(
            r["assets"]["textures"]["failed"],
            serde_json::json!([{
                "uuid": "89556747-24cb-43ed-920b-47caed15465f",
                "reason": "HTTP 404",
            }])
        );
    }
}
