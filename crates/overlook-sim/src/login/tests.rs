//! The login service over real loopback HTTP (see [`super::test_support`] for the client and the
//! mock region gate): OpenSim's replies, refusals, seed rules and transport answers.

use std::sync::Arc;

use super::test_support::*;
use super::*;
use overlook_protocol::login::xmlrpc::{self as rpc, Value};
use overlook_protocol::login::{
    LOGIN_METHOD, LoginError, LoginRequest, StartLocation, parse_grid_info, parse_login_response,
    parse_seed_response, password_hash, seed_request_xml,
};
use overlook_testdata::{SESSIONS, read_bytes as capture};

use crate::textures::{J2C_CONTENT_TYPE, MISSING, TEXTURES};

#[tokio::test]
async fn successful_login_round_trips_and_the_region_expects_the_same_circuit() {
    let h = Harness::start().await;
    let raw = h
        .post(
            "/",
            "text/xml",
            LoginRequest::new("Test", "User", "test", StartLocation::Last)
                .to_xml()
                .as_bytes(),
        )
        .await;
    assert_eq!(raw.header("access-control-allow-origin"), Some("*"));
    let body = String::from_utf8(raw.body.clone()).unwrap();
    for member in [
        "<name>login</name><value><string>true</string>",
        "<name>circuit_code</name><value><i4>",
        "<name>inventory-skeleton</name>",
        "<name>inventory-root</name>",
        "<name>buddy-list</name><value><array><data /></array>",
        "<name>agent_access</name><value><string>M</string>",
    ] {
        assert!(body.contains(member), "{member}");
    }
    let Ok(rpc::MethodResponse::Success(reply)) = rpc::parse_method_response(&raw.body) else {
        panic!("not a struct reply");
    };
    assert_eq!(
        reply.member("home").and_then(Value::as_str),
        Some(
            "{'region_handle':[r256000,r256000], 'position':[r128,r128,r26.03], \
             'look_at':[r0.99,r0.042,r0]}"
        )
    );
    let s = success(parse_login_response(&raw.body).unwrap());
    assert_eq!(s.agent_id, uuid(TEST_USER));
    assert_eq!(
        (s.first_name.as_str(), s.last_name.as_str()),
        ("Test", "User")
    );
    assert_eq!(
        (s.sim_ip.to_string(), s.sim_port),
        ("127.0.0.1".into(), 9123)
    );
    assert_eq!((s.region_x, s.region_y), (256_000, 256_000));
    assert_eq!((s.region_size_x, s.region_size_y), (256, 256));
    assert_eq!(s.region_handle(), 0x0003_E800_0003_E800);
    assert_eq!(s.look_at, Some(DEFAULT_LOOK_AT));
    assert_eq!(s.message, "Welcome, Avatar!");
    assert_eq!(s.start_location.as_deref(), Some("last"));
    assert_eq!(s.http_port, Some(h.addr.port()));
    assert!(i32::try_from(s.circuit_code).is_ok());
    assert!(s.seconds_since_epoch.unwrap() > 1_700_000_000);
    seed_path(&h, &s);
    let circuits = expected_circuits(&h.gate);
    assert_eq!(circuits.len(), 1);
    let c = &circuits[0];
    assert_eq!(
        (
            c.circuit_code,
            c.agent_id,
            c.session_id,
            c.secure_session_id
        ),
        (
            s.circuit_code,
            s.agent_id,
            s.session_id,
            s.secure_session_id
        )
    );
    assert_ne!(c.session_id, c.secure_session_id);
    assert_eq!((c.first.as_str(), c.last.as_str()), ("Test", "User"));
    assert_eq!(
        (c.start_position, c.look_at),
        (DEFAULT_START, DEFAULT_LOOK_AT)
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_captured_refusal() {
    let h = Harness::start().await;
    // The captured refused request (Test User, wrong password) gets the captured answer, byte
    // for byte.
    let reply = h
        .post("/", "text/xml", &capture("login-refused.login-request.xml"))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, capture("login-refused.login-response.xml"));
    let captured_message = "Could not authenticate your avatar. Please check your username and \
                            password, and check the grid if problems persist.";
    assert_eq!(
        h.login_as("Test", "User", "nope").await,
        refused("key", captured_message)
    );
    assert_eq!(
        h.login_as("Nobody", "Here", "test").await,
        refused("key", captured_message)
    );
    assert!(h.gate.calls().is_empty());
    // Names are matched without regard to case; the reply carries the account's spelling.
    let s = success(h.login_as("test", "USER", "test").await);
    assert_eq!(
        (s.first_name.as_str(), s.last_name.as_str()),
        ("Test", "User")
    );
}

#[tokio::test]
async fn missing_credentials_are_incomplete() {
    let h = Harness::start().await;
    let full = LoginRequest::new("Test", "User", "test", StartLocation::Last);
    for missing in ["passwd", "first", "last"] {
        let Value::Struct(mut members) = full.to_value() else {
            unreachable!()
        };
        members.retain(|(n, _)| n != missing);
        let body = rpc::method_call_xml(LOGIN_METHOD, &[Value::Struct(members)]);
        assert_eq!(
            h.login(&body).await,
            refused(
                "key",
                "Incomplete login credentials. Check your username and password."
            ),
            "without {missing}"
        );
    }
    assert!(h.gate.calls().is_empty());
}

#[tokio::test]
async fn a_second_login_while_present_is_refused_kicks_and_a_retry_succeeds() {
    let h = Harness::start().await;
    let first = success(h.login_as("Test", "User", "test").await);
    let old_seed = seed_path(&h, &first);
    let second = h.login_as("Test", "User", "test").await;
    assert_eq!(second, refused("presence", ALREADY_LOGGED_IN));
    assert!(ALREADY_LOGGED_IN.starts_with("You appear to be already logged in."));
    assert!(
        h.gate
            .calls()
            .contains(&Call::Kick(uuid(TEST_USER), KICK_REASON.into()))
    );
    let retry = success(h.login_as("Test", "User", "test").await);
    assert_ne!(retry.session_id, first.session_id);
    assert_ne!(retry.seed_capability, first.seed_capability);
    assert_eq!(expected_circuits(&h.gate).len(), 2);
    // The kicked session's seed is gone.
    let body = seed_request_xml(&["EventQueueGet"]);
    let stale = h
        .post(&old_seed, "application/llsd+xml", body.as_bytes())
        .await;
    assert_eq!(stale.status, 404);
}

#[tokio::test]
async fn the_captured_requests_are_accepted() {
    let h = Harness::start().await;
    for session in SESSIONS {
        let body = capture(&format!("{session}.login-request.xml"));
        let s = success(h.login(core::str::from_utf8(&body).unwrap()).await);
        assert_eq!(s.agent_id, uuid(PROBE));
        let c = expected_circuits(&h.gate).pop().unwrap();
        if session == "var-region" {
            // Another region's name: OpenSim's fallback to the default region.
            assert_eq!(s.start_location.as_deref(), Some("safe"));
            assert_eq!(c.start_position, DEFAULT_START);
        } else {
            assert_eq!(s.start_location.as_deref(), Some("url"));
            assert_eq!(c.start_position, Vec3::new(128.0, 128.0, 30.0));
        }
        // Free the presence so the next capture logs in again.
        h.gate.present.lock().unwrap().clear();
    }
}

#[tokio::test]
async fn start_locations_and_region_refusals() {
    let h = Harness::start().await;
    let login = |start: &str| {
        let mut request = LoginRequest::new("Test", "User", "test", StartLocation::Last);
        request.start = StartLocation::from_start_string(start);
        request.to_xml()
    };
    assert_eq!(
        h.login(&login("somewhere")).await,
        refused("Internal Error", "Error generating Login Response")
    );
    assert_eq!(
        h.login(&login("")).await,
        refused("Internal Error", "Error generating Login Response")
    );
    let s = success(h.login(&login("uri:test region&300&10&40")).await);
    assert_eq!(s.start_location.as_deref(), Some("url"));
    assert_eq!(expected_circuits(&h.gate)[0].start_position, DEFAULT_START);
    h.gate.present.lock().unwrap().clear();
    *h.gate.refuse.lock().unwrap() = Some("Region is full".into());
    assert_eq!(
        h.login(&login("home")).await,
        refused("key", "Region is full")
    );
    *h.gate.refuse.lock().unwrap() = Some(String::new());
    assert_eq!(
        h.login(&login("home")).await,
        refused("key", AUTHORIZATION_PROBLEM)
    );
}

#[tokio::test]
async fn seed_capability_follows_opensims_rules() {
    let h = Harness::start().await;
    let s = success(h.login_as("Test", "User", "test").await);
    let seed = seed_path(&h, &s);
    let names = capture("test-region.seed-request.xml");
    let granted = |calls: Vec<Call>| {
        calls
            .iter()
            .filter(|c| matches!(c, Call::SeedsGranted(_)))
            .count()
    };
    // Wrong content type, wrong method, unknown seed: 404.
    assert_eq!(h.post(&seed, "text/xml", &names).await.status, 404);
    assert_eq!(request(h.addr, "GET", &seed, None, b"").await.status, 404);
    let unknown = format!("/CAPS/{}0000/", Uuid([3; 16]));
    assert_eq!(
        h.post(&unknown, "application/llsd+xml", &names)
            .await
            .status,
        404
    );
    // Not an LLSD array: 400, and objects stay withheld.
    for bad in [
        &b"<llsd><map></map></llsd>"[..],
        b"",
        b"<llsd><array>",
        b"\xff\xfe",
    ] {
        assert_eq!(h.post(&seed, "application/llsd+xml", bad).await.status, 400);
    }
    assert_eq!(granted(h.gate.calls()), 0);
    // The captured request: the supported names, at URLs on this server.
    let reply = h.post(&seed, "application/llsd+xml", &names).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/llsd+xml"));
    let caps = parse_seed_response(&reply.body).unwrap();
    let keys: Vec<&str> = caps.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "EventQueueGet",
            "GetMesh",
            "GetMesh2",
            "GetTexture",
            "SimulatorFeatures",
            "UpdateAgentInformation",
            "UpdateAgentLanguage",
            "ViewerAsset"
        ]
    );
    assert!(caps["EventQueueGet"].starts_with(&format!("{}/CE/", h.base())));
    assert!(caps.values().all(|url| url.starts_with(&h.base())));
    assert_eq!(h.gate.calls().last(), Some(&Call::SeedsGranted(s.agent_id)));
    assert_eq!(granted(h.gate.calls()), 1);
    // Asking again gives the same URLs (a trailing slash is optional on the seed).
    let again = h
        .post(seed.trim_end_matches('/'), "application/llsd+xml", &names)
        .await;
    assert_eq!(parse_seed_response(&again.body).unwrap(), caps);
    // The granted capabilities answer minimally.
    let path = |name: &str| caps[name].strip_prefix(&h.base()).unwrap().to_owned();
    let features = request(h.addr, "GET", &path("SimulatorFeatures"), None, b"").await;
    assert_eq!(features.status, 200);
    assert!(
        String::from_utf8(features.body)
            .unwrap()
            .contains("MeshRezEnabled")
    );
    let poll = h
        .post(
            &path("EventQueueGet"),
            "application/llsd+xml",
            b"<llsd><map /></llsd>",
        )
        .await;
    assert_eq!(poll.status, 502);
    assert_eq!(
        request(h.addr, "GET", "/CE/nothing-here", None, b"")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn grid_info_and_welcome() {
    let h = Harness::start().await;
    let reply = request(h.addr, "GET", "/get_grid_info", None, b"").await;
    assert_eq!(reply.status, 200);
    let info = parse_grid_info(&reply.body).unwrap();
    assert_eq!(info.login, Some(format!("{}/", h.base())));
    assert_eq!(info.gridname.as_deref(), Some("Overlook"));
    assert_eq!(info.gridnick.as_deref(), Some("overlook"));
    assert_eq!(
        info.other.get("platform").map(String::as_str),
        Some("OpenSim")
    );
    let welcome = info.welcome.unwrap();
    let page = request(
        h.addr,
        "GET",
        welcome.strip_prefix(&h.base()).unwrap(),
        None,
        b"",
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(
        String::from_utf8(page.body)
            .unwrap()
            .contains("Test Region")
    );
}

#[tokio::test]
async fn llsd_login_gets_the_same_answer_as_llsd() {
    let h = Harness::start().await;
    let llsd = |members: &[(&str, &str)]| {
        let map = Value::Struct(
            members
                .iter()
                .map(|(n, v)| ((*n).to_owned(), Value::String((*v).to_owned())))
                .collect(),
        );
        llsd_xml(&map)
    };
    let hash = password_hash("test");
    let incomplete = llsd(&[("first", "Test"), ("last", "User")]);
    let reply = h
        .post("/", "application/llsd+xml", incomplete.as_bytes())
        .await;
    let map = parse_seed_response(&reply.body).unwrap();
    assert_eq!(map["login"], "false");
    assert_eq!(map["message"], INVALID_LLSD_CREDENTIALS);
    let good = llsd(&[
        ("first", "Test"),
        ("last", "User"),
        ("passwd", &hash),
        ("start", "last"),
    ]);
    let reply = h.post("/", "application/llsd+xml", good.as_bytes()).await;
    assert_eq!(reply.header("content-type"), Some("application/llsd+xml"));
    let body = String::from_utf8(reply.body).unwrap();
    assert!(body.contains("<key>circuit_code</key><integer>"), "{body}");
    let map = parse_seed_response(body.as_bytes()).unwrap();
    assert_eq!(map["login"], "true");
    assert_eq!(map["agent_id"], TEST_USER);
    let c = expected_circuits(&h.gate).pop().unwrap();
    assert_eq!(map["session_id"], c.session_id.to_string());
    assert!(map["seed_capability"].contains("/CAPS/"));
    assert_eq!(
        h.post("/", "application/llsd+xml", b"<nope/>").await.status,
        404
    );
}

#[tokio::test]
async fn garbage_never_panics_and_gets_opensims_transport_answers() {
    let h = Harness::start().await;
    let request_body = capture("test-region.login-request.xml");
    let mut deep =
        String::from("<methodCall><methodName>login_to_simulator</methodName><params><param>");
    deep.push_str(&"<value><array><data>".repeat(10_000));
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let not_found: Vec<&[u8]> = vec![
        b"",
        b"\xff\xfe\x00garbage",
        b"<html><body>hi</body></html>",
        b"<methodCall><methodName>login_to_simulator",
        &request_body[..request_body.len() / 2],
        deep.as_bytes(),
        &noise,
    ];
    for body in not_found {
        let reply = h.post("/", "text/xml", body).await;
        assert_eq!(
            reply.status,
            404,
            "{:?}",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
        assert_eq!(reply.body, b"Not found");
    }
    let other_method = rpc::method_call_xml("set_login_level", &[Value::Int(1)]);
    let reply = h.post("/", "text/xml", other_method.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert!(matches!(
        parse_login_response(&reply.body),
        Err(LoginError::Fault { code: -32601, .. })
    ));
    for params in [vec![], vec![Value::String("x".into())]] {
        let call = rpc::method_call_xml(LOGIN_METHOD, &params);
        let reply = h.post("/", "text/xml", call.as_bytes()).await;
        assert!(matches!(
            parse_login_response(&reply.body),
            Err(LoginError::Fault { code: -32603, .. })
        ));
    }
    assert_eq!(request(h.addr, "GET", "/", None, b"").await.status, 404);
    assert_eq!(
        request(h.addr, "GET", "/no/such/path", None, b"")
            .await
            .status,
        404
    );
    assert_eq!(
        h.post("/CAPS/", "application/llsd+xml", b"").await.status,
        404
    );
    // Still serving.
    success(h.login_as("Test", "User", "test").await);
}

#[test]
fn urls_follow_the_public_base() {
    let gate = Arc::new(MockGate::default());
    for (url, port, login) in [
        ("http://127.0.0.1:9000/", 9000, "http://127.0.0.1:9000/"),
        ("http://example.org", 80, "http://example.org/"),
        ("http://[::1]:8002//", 8002, "http://[::1]:8002/"),
        ("https://grid.example/", 0, "https://grid.example/"),
    ] {
        let mut config = LoginConfig::new(accounts(), region(), url);
        config.grid_name = "My Grid & Co".into();
        let service = LoginService::new(config, gate.clone());
        assert_eq!(
            (service.http_port(), service.login_uri()),
            (port, login.into())
        );
        let info = service.grid_info();
        assert_eq!(info.gridnick.as_deref(), Some("my-grid---co"));
        assert_eq!(
            parse_grid_info(info.to_xml().as_bytes())
                .unwrap()
                .gridname
                .as_deref(),
            Some("My Grid & Co")
        );
        let seed = service.seed_url(Uuid([0xab; 16]));
        assert_eq!(
            seed,
            format!("{}CAPS/abababab-abab-abab-abab-abababababab0000/", login)
        );
    }
}

/// Logs in and asks the seed for the captured names: the `GetTexture` and `ViewerAsset` paths.
async fn texture_caps(h: &Harness) -> [String; 2] {
    let s = success(h.login_as("Test", "User", "test").await);
    let seed = seed_path(h, &s);
    let reply = h
        .post(
            &seed,
            "application/llsd+xml",
            &capture("test-region.seed-request.xml"),
        )
        .await;
    let caps = parse_seed_response(&reply.body).unwrap();
    ["GetTexture", "ViewerAsset"].map(|name| {
        let path = caps[name].strip_prefix(&h.base()).unwrap().to_owned();
        // OpenSim's shape: `/<uuid>`, fresh per session.
        assert!(path[1..].parse::<Uuid>().is_ok(), "{path}");
        path
    })
}

/// `GET <cap>/?<query>` with optional extra header lines.
async fn get(h: &Harness, cap: &str, query: &str, extra: &str) -> Reply {
    request_with(h.addr, "GET", &format!("{cap}/?{query}"), extra).await
}

#[tokio::test]
async fn texture_caps_serve_the_shipped_textures_like_opensim() {
    let h = Harness::start().await;
    let caps = texture_caps(&h).await;
    assert_ne!(caps[0], caps[1], "each capability has its own URL");
    for cap in &caps {
        for t in &TEXTURES {
            let q = format!("texture_id={}", t.id);
            let whole = get(&h, cap, &q, "").await;
            assert_eq!(whole.status, 200, "{}", t.name);
            assert_eq!(whole.header("content-type"), Some(J2C_CONTENT_TYPE));
            assert_eq!(whole.body, t.bytes, "{} byte-exact", t.name);
            assert_eq!(whole.header("content-range"), None);
            // Without the trailing slash too (`<cap>?texture_id=`).
            let bare = request_with(h.addr, "GET", &format!("{cap}?{q}"), "").await;
            assert_eq!((bare.status, bare.body.len()), (200, t.bytes.len()));
        }
        let t = &TEXTURES[4];
        let len = t.bytes.len();
        let q = format!("texture_id={}", t.id);
        // Ranges as the viewers send them: a prefix, a later slice, open-ended, and a suffix.
        for (range, start, end) in [
            ("bytes=0-599", 0, 599),
            ("bytes=600-2047", 600, 2047),
            ("bytes=0-", 0, len - 1),
            ("bytes=1000-", 1000, len - 1),
            ("bytes=-100", len - 100, len - 1),
            ("bytes=2048-99999999", 2048, len - 1),
        ] {
            let r = get(&h, cap, &q, &format!("Range: {range}\r\n")).await;
            assert_eq!(r.status, 206, "{range}");
            assert_eq!(r.header("content-type"), Some(J2C_CONTENT_TYPE));
            assert_eq!(
                r.header("content-range"),
                Some(format!("bytes {start}-{end}/{len}").as_str()),
                "{range}"
            );
            assert_eq!(r.body, &t.bytes[start..=end], "{range}");
        }
        // A start past the end: the whole texture with 200, as OpenSim (not 416); a range
        // that does not parse is ignored.
        for range in [
            format!("bytes={len}-"),
            "bytes=9-3".to_owned(),
            "pages=1-2".to_owned(),
        ] {
            let r = get(&h, cap, &q, &format!("Range: {range}\r\n")).await;
            assert_eq!((r.status, r.body.as_slice()), (200, t.bytes), "{range}");
        }
        // Unknown and deliberately missing ids: 404, empty; malformed: 400, empty.
        for (query, status) in [
            (format!("texture_id={}", Uuid([7; 16])), 404),
            (format!("texture_id={MISSING}"), 404),
            (format!("mesh_id={}", t.id), 404),
            (format!("mesh_id={}", Uuid([7; 16])), 404),
            ("texture_id=garbage".to_owned(), 400),
            ("texture_id=".to_owned(), 400),
            (String::new(), 400),
        ] {
            let r = get(&h, cap, &query, "").await;
            assert_eq!(r.status, status, "{query}");
            assert!(r.body.is_empty(), "{query}: {:?}", r.body);
            assert_ne!(r.header("content-type"), Some(J2C_CONTENT_TYPE));
        }
        // Only GET and HEAD are served; HEAD has the headers and no body.
        let head = request_with(h.addr, "HEAD", &format!("{cap}/?{q}"), "").await;
        assert_eq!((head.status, head.body.len()), (200, 0));
        assert_eq!(head.header("content-type"), Some(J2C_CONTENT_TYPE));
        assert_eq!(
            head.header("content-length"),
            Some(len.to_string().as_str())
        );
        let post = h.post(&format!("{cap}/?{q}"), "text/plain", b"").await;
        assert_eq!(post.status, 404);
    }
    // Another session's texture capability is not this one's, and a guessed one is not found.
    let guessed = format!("/{}/?texture_id={}", Uuid([1; 16]), TEXTURES[0].id);
    assert_eq!(request_with(h.addr, "GET", &guessed, "").await.status, 404);
}

#[tokio::test]
async fn texture_caps_end_with_the_agent() {
    let h = Harness::start().await;
    let [cap, _] = texture_caps(&h).await;
    let q = format!("texture_id={}", TEXTURES[0].id);
    assert_eq!(get(&h, &cap, &q, "").await.status, 200);
    h.gate.present.lock().unwrap().clear();
    assert_eq!(get(&h, &cap, &q, "").await.status, 404);
}
