//! The network thread (`net::NetHandle`) against the embedded region on loopback: the same code
//! the viewer and `overlook check` run, without Bevy.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use overlook::net::embedded::EmbeddedSim;
use overlook::net::{LoginFailure, LoginParams, NetCommand, NetEvent, NetHandle, NetSettings};
use overlook_protocol::circuit::Phase;
use overlook_protocol::login::StartLocation;
use overlook_protocol::message::Message;
use overlook_sim::server::SimConfig;

fn params(grid: &str, password: &str) -> LoginParams {
    LoginParams {
        grid: grid.to_owned(),
        first: "Test".into(),
        last: "User".into(),
        password: password.into(),
        start: StartLocation::Last,
    }
}

/// Collects events until `stop` says so or `timeout` passes; returns them all.
fn collect(
    net: &NetHandle,
    timeout: Duration,
    mut stop: impl FnMut(&NetEvent) -> bool,
) -> Vec<NetEvent> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match net.events().recv_timeout(left) {
            Ok(e) => {
                let done = stop(&e);
                out.push(e);
                if done {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    out
}

#[test]
fn logs_in_streams_the_region_and_logs_out() {
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let mut net = NetHandle::spawn(NetSettings::default()).unwrap();
    assert!(net.send(NetCommand::Login(params(&sim.login_uri, "test"))));
    let events = collect(&net, Duration::from_secs(30), |e| {
        matches!(
            e,
            NetEvent::Phase {
                phase: Phase::ObjectsSettled,
                ..
            }
        ) || matches!(e, NetEvent::Disconnected(_) | NetEvent::LoginFailed(_))
    });
    let phases: Vec<Phase> = events
        .iter()
        .filter_map(|e| match e {
            NetEvent::Phase { phase, .. } => Some(*phase),
            _ => None,
        })
        .collect();
    for p in [
        Phase::LoginSent,
        Phase::LoginReplied,
        Phase::CircuitAcked,
        Phase::RegionHandshake,
        Phase::MovementComplete,
        Phase::TerrainComplete,
        Phase::FirstObject,
        Phase::ObjectsSettled,
    ] {
        assert!(phases.contains(&p), "{p:?} missing from {phases:?}");
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NetEvent::LoggedIn(s) if s.first_name == "Test"))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NetEvent::SeedGranted(n) if *n > 0))
    );
    let handshake = events.iter().find_map(|e| match e {
        NetEvent::Message(m) => match &**m {
            Message::RegionHandshake(h) => Some(h.sim_name.clone()),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(handshake.as_deref(), Some(sim.region_name.as_str()));
    let objects: BTreeSet<u32> = events
        .iter()
        .filter_map(|e| match e {
            NetEvent::Message(m) => Some(m),
            _ => None,
        })
        .flat_map(|m| match &**m {
            Message::ObjectUpdate(u) => u.objects.iter().map(|o| o.id).collect::<Vec<_>>(),
            Message::ObjectUpdateCompressed(u) => u
                .objects
                .iter()
                .map(|b| b.object().unwrap().local_id)
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    // Exactly the region's scene and our avatar, by distinct local id. The blinker exists 7 s
    // of every 10 from the region's start, so a login slower than 7 s may miss it.
    let scene = overlook_sim::server::scene_objects(&SimConfig::loopback()).unwrap();
    let blinker = scene.iter().find(|o| o.blink.is_some()).unwrap().local_id;
    let mut expected: BTreeSet<u32> = scene.iter().map(|o| o.local_id).collect();
    let avatars: BTreeSet<u32> = objects.difference(&expected).copied().collect();
    assert_eq!(
        avatars.len(),
        1,
        "one avatar besides the scene: {avatars:?}"
    );
    expected.extend(&avatars);
    if !objects.contains(&blinker) {
        expected.remove(&blinker);
    }
    assert_eq!(objects, expected);
    assert!(
        objects.len() >= scene.len(),
        "{} of {}",
        objects.len(),
        scene.len()
    );
    // Datagrams both ways were reported for the packet inspector.
    assert!(events.iter().any(|e| matches!(
        e,
        NetEvent::Datagram {
            direction: overlook::net::Direction::Out,
            ..
        }
    )));

    assert!(net.send(NetCommand::Logout));
    let tail = collect(&net, Duration::from_secs(10), |e| {
        matches!(e, NetEvent::Disconnected(_))
    });
    assert!(
        tail.iter()
            .any(|e| matches!(e, NetEvent::Disconnected(r) if r == "logged out")),
        "{:?}",
        tail.iter()
            .filter(|e| matches!(e, NetEvent::Disconnected(_)))
            .collect::<Vec<_>>()
    );
    // The last counters come with the disconnect: everything the region sent was counted.
    let last = tail.iter().rev().find_map(|e| match e {
        NetEvent::Stats(s) => Some(*s),
        _ => None,
    });
    let last = last.expect("final stats");
    assert!(last.packets_in > 20 && last.packets_out > 5, "{last:?}");
    assert_eq!(last.malformed, 0);
    assert!(net.shutdown(Duration::from_secs(5)));
}

#[test]
fn a_refused_login_reports_the_servers_words_and_a_retry_works() {
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let net = NetHandle::spawn(NetSettings::default()).unwrap();
    net.send(NetCommand::Login(params(&sim.login_uri, "wrong")));
    let events = collect(&net, Duration::from_secs(10), |e| {
        matches!(e, NetEvent::LoginFailed(_))
    });
    let failure = events.iter().find_map(|e| match e {
        NetEvent::LoginFailed(f) => Some(f.clone()),
        _ => None,
    });
    match failure {
        Some(LoginFailure::Refused { reason, message }) => {
            assert_eq!(reason, "key");
            assert!(
                message.starts_with("Could not authenticate your avatar"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The thread is still up and a second attempt with the right password gets in.
    net.send(NetCommand::Login(params(&sim.login_uri, "test")));
    let events = collect(&net, Duration::from_secs(20), |e| {
        matches!(
            e,
            NetEvent::Phase {
                phase: Phase::MovementComplete,
                ..
            }
        )
    });
    assert!(events.iter().any(|e| matches!(
        e,
        NetEvent::Phase {
            phase: Phase::MovementComplete,
            ..
        }
    )));
}

#[test]
fn an_unreachable_grid_fails_with_a_message_and_grid_info_is_followed() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let net = NetHandle::spawn(NetSettings::default()).unwrap();
    net.send(NetCommand::Login(params(
        &format!("http://127.0.0.1:{port}/"),
        "test",
    )));
    let events = collect(&net, Duration::from_secs(15), |e| {
        matches!(e, NetEvent::LoginFailed(_))
    });
    match events.last() {
        Some(NetEvent::LoginFailed(LoginFailure::Unreachable(text))) => {
            assert!(!text.is_empty());
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }

    // A get_grid_info URL is resolved to the login URI it names.
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let info_url = format!("{}get_grid_info", sim.login_uri);
    net.send(NetCommand::Login(params(&info_url, "test")));
    let events = collect(&net, Duration::from_secs(15), |e| {
        matches!(e, NetEvent::LoggedIn(_) | NetEvent::LoginFailed(_))
    });
    let uri = events.iter().find_map(|e| match e {
        NetEvent::LoggingIn { uri } => Some(uri.clone()),
        _ => None,
    });
    assert_eq!(uri.as_deref(), Some(sim.login_uri.as_str()));
    assert!(
        matches!(events.last(), Some(NetEvent::LoggedIn(_))),
        "{:?}",
        events.last()
    );
}

/// A login service that answers every request with `body_len` bytes of XML-looking junk, with
/// or without a `Content-Length` (streamed in chunks then), and counts the bytes it sent.
fn hostile_login_service(
    body_len: usize,
    with_length: bool,
) -> (String, std::thread::JoinHandle<usize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let header = if with_length {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {body_len}\r\n\r\n"
            )
        } else {
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n".to_owned()
        };
        let mut sent = 0;
        if stream.write_all(header.as_bytes()).is_err() {
            return sent;
        }
        let chunk = vec![b'x'; 64 * 1024];
        while sent < body_len {
            let n = chunk.len().min(body_len - sent);
            if stream.write_all(&chunk[..n]).is_err() {
                break;
            }
            sent += n;
        }
        sent
    });
    (url, server)
}

/// A login service that answers one request with `body` and then closes.
fn login_service_answering(body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let header = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(header.as_bytes());
        let _ = stream.write_all(&body);
    });
    url
}

#[test]
fn a_region_size_the_viewer_cannot_use_fails_the_login_naming_it() {
    let reply = overlook_testdata::read_text("test-region.login-response.xml");
    let good = "<name>region_size_x</name><value><i4>256</i4></value>";
    assert!(reply.contains(good));
    // 0 is refused by the reply parser already (not a positive size), the others by the viewer.
    for (bad, expected) in [
        ("300", "region size 300×256 m"),
        ("8192", "region size 8192×256 m"),
        ("0", "`region_size_x` is not a positive u32: int 0"),
    ] {
        let body = reply.replace(
            good,
            &format!("<name>region_size_x</name><value><i4>{bad}</i4></value>"),
        );
        let url = login_service_answering(body.into_bytes());
        let net = NetHandle::spawn(NetSettings::default()).unwrap();
        net.send(NetCommand::Login(params(&url, "test")));
        let events = collect(&net, Duration::from_secs(15), |e| {
            matches!(e, NetEvent::LoginFailed(_) | NetEvent::LoggedIn(_))
        });
        match events.last() {
            Some(NetEvent::LoginFailed(LoginFailure::BadReply(text))) => {
                assert!(text.contains(expected), "{text}");
            }
            other => panic!("size {bad}: expected BadReply, got {other:?}"),
        }
    }
}

#[test]
fn an_oversized_login_reply_is_refused_unread() {
    let cap = overlook::net::MAX_REPLY_BYTES;
    for with_length in [true, false] {
        let (url, server) = hostile_login_service(64 * cap, with_length);
        let net = NetHandle::spawn(NetSettings::default()).unwrap();
        net.send(NetCommand::Login(params(&url, "test")));
        let events = collect(&net, Duration::from_secs(20), |e| {
            matches!(e, NetEvent::LoginFailed(_))
        });
        match events.last() {
            Some(NetEvent::LoginFailed(LoginFailure::BadReply(text))) => {
                assert!(text.contains("larger than 4 MB"), "{text}");
            }
            other => panic!("with_length {with_length}: expected BadReply, got {other:?}"),
        }
        drop(net);
        // The viewer stopped reading long before the server was done.
        let sent = server.join().unwrap();
        assert!(
            sent < 64 * cap,
            "with_length {with_length}: the whole {sent} bytes were read"
        );
    }
}

#[test]
fn a_presence_refusal_is_retried_once_and_gets_in() {
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let first = NetHandle::spawn(NetSettings::default()).unwrap();
    first.send(NetCommand::Login(params(&sim.login_uri, "test")));
    let events = collect(&first, Duration::from_secs(20), |e| {
        matches!(
            e,
            NetEvent::Phase {
                phase: Phase::MovementComplete,
                ..
            }
        )
    });
    assert!(events.iter().any(|e| matches!(e, NetEvent::LoggedIn(_))));
    // The same account again: OpenSim (and the embedded region) refuse with `presence` while
    // kicking the first session; the network thread retries once and gets in.
    let second = NetHandle::spawn(NetSettings::default()).unwrap();
    second.send(NetCommand::Login(params(&sim.login_uri, "test")));
    let events = collect(&second, Duration::from_secs(20), |e| {
        matches!(e, NetEvent::LoggedIn(_) | NetEvent::LoginFailed(_))
    });
    assert!(
        events
            .iter()
            .any(|e| matches!(e, NetEvent::LoginRetried { reason, .. } if reason == "presence")),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(NetEvent::LoggedIn(_))),
        "{:?}",
        events.last()
    );
    // The first session was kicked.
    let kicked = collect(&first, Duration::from_secs(10), |e| {
        matches!(e, NetEvent::Disconnected(_))
    });
    assert!(
        kicked
            .iter()
            .any(|e| matches!(e, NetEvent::Disconnected(r) if r.contains("kicked"))),
        "{:?}",
        kicked
            .iter()
            .filter(|e| matches!(e, NetEvent::Disconnected(_)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn records_the_session_in_the_captures_format() {
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let dir = std::env::temp_dir().join(format!("overlook-net-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("embedded.udp.jsonl");
    let mut net = NetHandle::spawn(NetSettings {
        record: Some(path.clone()),
        ..NetSettings::default()
    })
    .unwrap();
    net.send(NetCommand::Login(params(&sim.login_uri, "test")));
    collect(&net, Duration::from_secs(30), |e| {
        matches!(
            e,
            NetEvent::Phase {
                phase: Phase::ObjectsSettled,
                ..
            }
        )
    });
    net.send(NetCommand::Logout);
    collect(&net, Duration::from_secs(10), |e| {
        matches!(e, NetEvent::Disconnected(_))
    });
    assert!(net.shutdown(Duration::from_secs(5)));

    let text = std::fs::read_to_string(&path).unwrap();
    let datagrams = overlook_protocol::capture::read_udp_jsonl(&text).unwrap();
    assert!(datagrams.len() > 20, "{} datagrams", datagrams.len());
    assert_eq!(datagrams[0].t, 0.0);
    assert!(datagrams.windows(2).all(|w| w[0].t <= w[1].t));
    // The first datagram is our UseCircuitCode; every one decodes with the template, both ways.
    let first = overlook_protocol::udp::decode(&datagrams[0].bytes).unwrap();
    assert_eq!(first.message, overlook_protocol::udp::MessageId::Low(3));
    for d in &datagrams {
        let p = overlook_protocol::udp::decode(&d.bytes).unwrap();
        overlook_protocol::message::generic::decode(p.message, &p.body).unwrap();
    }
    let land = datagrams
        .iter()
        .filter(|d| {
            overlook_protocol::udp::decode(&d.bytes)
                .is_ok_and(|p| p.message == overlook_protocol::udp::MessageId::High(11))
        })
        .count();
    assert!(land > 0, "LayerData recorded");
    let reply = std::fs::read(dir.join("embedded.login-response.xml")).unwrap();
    assert!(matches!(
        overlook_protocol::login::parse_login_response(&reply).unwrap(),
        overlook_protocol::login::LoginReply::Success(_)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replays_every_capture_through_the_circuit_with_its_recorded_times() {
    use overlook::net::replay::ReplaySource;
    for (session, patches) in [
        ("test-region", 256usize),
        ("test-region-fresh", 256),
        ("var-region", 1024),
    ] {
        let mut net = NetHandle::replay(ReplaySource::file(
            overlook_testdata::capture_path(&format!("{session}.udp.jsonl")),
            None,
        ))
        .unwrap();
        let events = collect(&net, Duration::from_secs(20), |e| {
            matches!(e, NetEvent::Stats(_))
        });
        let phase_ms = |want: Phase| {
            events.iter().find_map(|e| match e {
                NetEvent::Phase { phase, ms } if *phase == want => Some(*ms),
                _ => None,
            })
        };
        let handshake = phase_ms(Phase::RegionHandshake).expect(session);
        let terrain = phase_ms(Phase::TerrainComplete).expect(session);
        assert!(
            handshake > 0 && terrain >= handshake,
            "{session}: {handshake} {terrain}"
        );
        // Phase times are the recording's, not the replay's (which takes milliseconds), counted
        // from the login reply whose time `meta.json` gives (~25 ms before the first datagram).
        assert!(terrain > 100, "{session}: terrain complete at {terrain} ms");
        let acked = phase_ms(Phase::CircuitAcked).expect(session);
        assert!(
            (10..100).contains(&acked),
            "{session}: circuit acked at {acked} ms"
        );
        let mut map = overlook_protocol::terrain::Heightmap::new(
            u32::try_from(patches.isqrt() * 16).unwrap(),
            u32::try_from(patches.isqrt() * 16).unwrap(),
        )
        .unwrap();
        for e in &events {
            if let NetEvent::Message(m) = e
                && let Message::LayerData(l) = &**m
                && l.is_land()
            {
                map.apply_layer(&l.data).unwrap();
            }
        }
        assert_eq!(map.patches_received(), patches, "{session}");
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, NetEvent::Warning(w) if w.contains("closed"))),
            "{session}"
        );
        assert!(net.shutdown(Duration::from_secs(5)));
    }
}

/// A network thread with the asset disk cache in `cache`, logged into `sim` as Test User.
fn logged_in_with_cache(sim: &EmbeddedSim, cache: &std::path::Path) -> NetHandle {
    let settings = NetSettings {
        texture_cache: Some(cache.to_owned()),
        report_datagrams: false,
        ..NetSettings::default()
    };
    let net = NetHandle::spawn(settings).unwrap();
    assert!(net.send(NetCommand::Login(params(&sim.login_uri, "test"))));
    collect(&net, Duration::from_secs(30), |e| {
        matches!(e, NetEvent::LoggedIn(_) | NetEvent::LoginFailed(_))
    });
    net
}

#[test]
fn textures_come_first_part_first_then_whole_then_from_the_disk_cache() {
    use overlook::net::textures::{TextureAsk, TextureFailure, TextureFetched};
    use overlook_sim::textures::{MISSING, TEXTURES};
    const FIRST: usize = 2048;
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let cache = std::env::temp_dir().join(format!("overlook-e2e-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let mut wanted: Vec<overlook_protocol::types::Uuid> = TEXTURES.iter().map(|t| t.id).collect();
    wanted.push(MISSING);
    let fetched = |net: &NetHandle, n: usize| {
        let mut got: Vec<TextureFetched> = Vec::new();
        collect(net, Duration::from_secs(30), |e| {
            if let NetEvent::TextureFetched(t) = e {
                got.push(t.clone());
            }
            got.len() == n
        });
        assert_eq!(got.len(), n, "{got:?}");
        got
    };
    for run in 0..2 {
        let mut net = logged_in_with_cache(&sim, &cache);
        // The first part of each: a range request the region answers with 206.
        let asks = wanted.iter().enumerate().map(|(i, &id)| TextureAsk {
            id,
            priority: i as f32,
            first_bytes: Some(FIRST as u32),
        });
        assert!(net.send(NetCommand::FetchTextures(asks.collect())));
        let firsts = fetched(&net, wanted.len());
        let mut rest = Vec::new();
        for t in &firsts {
            if t.id == MISSING {
                // Never cached: asked of the region each time, 404 each time.
                assert_eq!(t.result, Err(TextureFailure::Status(404)));
                assert!(!t.cached);
                continue;
            }
            let served = TEXTURES.iter().find(|s| s.id == t.id).unwrap();
            if run == 0 && served.bytes.len() <= FIRST {
                // A small one (a sculpt map) is whole in its first part: nothing to ask after.
                assert!(!t.cached, "{}", served.name);
                assert_eq!(t.result.as_deref().ok(), Some(served.bytes));
                assert_eq!(t.total, None, "{}", served.name);
            } else if run == 0 {
                // Over HTTP: exactly the first part, and how long the whole is.
                assert!(!t.cached, "{}", served.name);
                assert_eq!(
                    t.result.as_deref().ok(),
                    Some(&served.bytes[..FIRST]),
                    "{}",
                    served.name
                );
                assert_eq!(t.total, Some(served.bytes.len() as u64), "{}", served.name);
                rest.push((t.id, 1.0));
            } else {
                // The second run found each whole in the cache: no range, no rest to ask.
                assert!(t.cached, "{}", served.name);
                assert_eq!(
                    t.result.as_deref().ok(),
                    Some(served.bytes),
                    "{}",
                    served.name
                );
                assert_eq!(t.total, None);
            }
        }
        if run == 0 {
            // The rest of each: `Range: bytes=2048-`, put together into the whole codestream.
            assert!(net.send(NetCommand::FetchTextureRest(rest.clone())));
            for t in fetched(&net, rest.len()) {
                let served = TEXTURES.iter().find(|s| s.id == t.id).unwrap();
                assert_eq!(
                    t.result.as_deref().ok(),
                    Some(served.bytes),
                    "{}",
                    served.name
                );
                assert_eq!(t.total, None, "{}", served.name);
            }
        }
        assert!(net.send(NetCommand::Logout));
        collect(&net, Duration::from_secs(10), |e| {
            matches!(e, NetEvent::Disconnected(_))
        });
        assert!(net.shutdown(Duration::from_secs(5)));
    }
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn asset_fetch_logs_in_fetches_and_names_the_missing_one() {
    use overlook_sim::textures::{CHECKER, MISSING, TEXTURES};
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let got = overlook::net::textures::fetch_through_login(
        sim.login_params("last"),
        &[CHECKER, MISSING],
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let checker = got.iter().find(|t| t.id == CHECKER).unwrap();
    let served = TEXTURES.iter().find(|t| t.id == CHECKER).unwrap();
    assert_eq!(checker.result.as_deref().ok(), Some(served.bytes));
    assert!(!checker.cached);
    let missing = got.iter().find(|t| t.id == MISSING).unwrap();
    assert_eq!(
        missing.result,
        Err(overlook::net::textures::TextureFailure::Status(404))
    );
    // A wrong password is an error, not an empty list.
    let mut bad = sim.login_params("last");
    bad.password = "wrong".into();
    let err =
        overlook::net::textures::fetch_through_login(bad, &[CHECKER], Duration::from_secs(30))
            .unwrap_err();
    assert!(err.starts_with("login failed"), "{err}");
}

#[test]
fn meshes_come_whole_by_mesh_id_then_from_their_own_disk_cache() {
    use overlook::net::textures::{TextureFailure, TextureFetched};
    use overlook_sim::meshes::MESHES;
    use overlook_sim::textures::ORIENTED;
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let root = std::env::temp_dir().join(format!("overlook-e2e-mesh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let textures = root.join("textures");
    // A texture's id asked as a mesh is unknown (404), as OpenSim answers an id of another type.
    let mut wanted: Vec<(overlook_protocol::types::Uuid, f32)> =
        MESHES.iter().map(|m| (m.id, 1.0)).collect();
    wanted.push((ORIENTED, 0.0));
    for run in 0..2 {
        let mut net = logged_in_with_cache(&sim, &textures);
        assert!(net.send(NetCommand::FetchMeshes(wanted.clone())));
        let mut got: Vec<TextureFetched> = Vec::new();
        collect(&net, Duration::from_secs(30), |e| {
            if let NetEvent::MeshFetched(t) = e {
                got.push(t.clone());
            }
            got.len() == wanted.len()
        });
        assert_eq!(got.len(), wanted.len(), "{got:?}");
        for m in &MESHES {
            let t = got.iter().find(|t| t.id == m.id).unwrap();
            assert_eq!(t.result.as_deref().ok(), Some(m.bytes), "{}", m.name);
            assert_eq!((t.total, t.cached), (None, run == 1), "{}", m.name);
        }
        let texture = got.iter().find(|t| t.id == ORIENTED).unwrap();
        assert_eq!(texture.result, Err(TextureFailure::Status(404)));
        assert!(net.send(NetCommand::Logout));
        collect(&net, Duration::from_secs(10), |e| {
            matches!(e, NetEvent::Disconnected(_))
        });
        assert!(net.shutdown(Duration::from_secs(5)));
    }
    // Meshes live beside the textures, one file each.
    let files = std::fs::read_dir(root.join("meshes")).unwrap().count();
    assert_eq!(files, MESHES.len());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn asset_fetch_of_meshes_logs_in_fetches_them_by_mesh_id() {
    use overlook::net::textures::{AssetClass, TextureFailure, fetch_assets_through_login};
    use overlook_sim::meshes::GEM;
    use overlook_sim::textures::ORIENTED;
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let got = fetch_assets_through_login(
        sim.login_params("last"),
        AssetClass::Mesh,
        &[GEM, ORIENTED],
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let gem = got.iter().find(|t| t.id == GEM).unwrap();
    let served = overlook_sim::meshes::MESHES
        .iter()
        .find(|m| m.id == GEM)
        .unwrap();
    assert_eq!(gem.result.as_deref().ok(), Some(served.bytes));
    let decoded = overlook::shapes::decode_mesh(served.bytes).unwrap();
    assert!(decoded.lods.iter().all(Option::is_some));
    // A texture is not a mesh.
    let texture = got.iter().find(|t| t.id == ORIENTED).unwrap();
    assert_eq!(texture.result, Err(TextureFailure::Status(404)));
}
