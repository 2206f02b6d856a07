//! The relay against the embedded region (`overlook_sim::server::start`) over real loopback
//! sockets: a client that speaks only to the relay — XML-RPC login, the seed, an asset, and the
//! UDP circuit through the WebSocket — completes the story; the relay reaches nothing the grid
//! did not name; its limits hold.
// A failed step fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use overlook_protocol::circuit::{Circuit, CircuitConfig, Event, Phase};
use overlook_protocol::login::xmlrpc::{self, MethodResponse, Value};
use overlook_protocol::login::{
    LoginReply, LoginRequest, LoginSuccess, StartLocation, parse_login_response,
    parse_seed_response, password_hash, seed_request_xml,
};
use overlook_protocol::message::Message;
use overlook_protocol::terrain::{Heightmap, decode_layer};
use overlook_relay::{
    Credentials, RelayConfig, RelayState, SESSION_MEMBER, Stats, decode_frame, encode_frame,
    router, serve,
};
use overlook_sim::server::{self, RunningSim, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite;
use web_time::Instant;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A running relay in front of a running region.
struct Rig {
    sim: RunningSim,
    relay: RelayState,
    /// `http://127.0.0.1:PORT`
    base: String,
    addr: SocketAddr,
    http: reqwest::Client,
}

async fn rig(tune: impl FnOnce(&mut RelayConfig)) -> Rig {
    let sim = server::start(SimConfig::loopback()).await.unwrap();
    let mut config = RelayConfig::new(&sim.login_uri);
    tune(&mut config);
    let relay = RelayState::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, relay.clone(), router(relay.clone())));
    Rig {
        sim,
        relay,
        base: format!("http://{addr}"),
        addr,
        http: reqwest::Client::new(),
    }
}

impl Rig {
    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    /// Logs Test User in through `/relay/login`: the reply's text, its success and the session.
    async fn login(&self) -> (String, LoginSuccess, String) {
        let req = LoginRequest::new("Test", "User", "test", StartLocation::Last);
        let (status, body) = self
            .post("/relay/login", "text/xml", req.to_xml().into_bytes())
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        success(&body)
    }

    async fn websocket(&self, session: &str) -> Ws {
        let url = format!("ws://{}/relay/ws?session={session}", self.addr);
        tokio_tungstenite::connect_async(url).await.unwrap().0
    }

    /// The status a WebSocket request is refused with.
    async fn websocket_refused(&self, session: &str) -> u16 {
        let url = format!("ws://{}/relay/ws?session={session}", self.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tungstenite::Error::Http(r)) => r.status().as_u16(),
            Ok(_) => panic!("the WebSocket for {session} opened"),
            Err(e) => panic!("{e}"),
        }
    }

    /// The status of a request sent exactly as written (no client-side path normalisation).
    async fn raw_status(&self, method: &str, path: &str) -> u16 {
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.unwrap();
        String::from_utf8_lossy(&resp[9..12]).parse().unwrap()
    }
}

/// A successful relayed login reply: its text, its typed members and its session token.
fn success(body: &[u8]) -> (String, LoginSuccess, String) {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let LoginReply::Success(ok) = parse_login_response(body).unwrap() else {
        panic!("login refused: {text}");
    };
    let MethodResponse::Success(value) = xmlrpc::parse_method_response(body).unwrap() else {
        panic!("fault: {text}");
    };
    let session = value
        .member(SESSION_MEMBER)
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    (text, *ok, session)
}

/// Asserts the reply names no real capability and no password.
fn assert_no_secrets(text: &str) {
    assert!(
        !text.contains("/CAPS/"),
        "a real capability URL leaked: {text}"
    );
    assert!(!text.contains(&password_hash("test")), "{text}");
    assert!(!text.to_lowercase().contains("passw"), "{text}");
}

/// Reads until the region has sent the story (or `limit`), driving the circuit over `ws`.
async fn play(
    ws: &mut Ws,
    ok: &LoginSuccess,
    login_sent: Instant,
    limit: Duration,
) -> (Circuit, Heightmap, usize) {
    let sim = SocketAddr::from((ok.sim_ip, ok.sim_port));
    let size = (ok.region_size_x, ok.region_size_y);
    let mut cfg = CircuitConfig::new(ok.agent_id, ok.session_id, ok.circuit_code);
    (cfg.region_size_x, cfg.region_size_y) = size;
    let mut circuit = Circuit::new(cfg, login_sent, Instant::now());
    let mut map = Heightmap::new(size.0, size.1).unwrap();
    let mut objects = 0;
    let give_up = Instant::now() + limit;
    let settled = |c: &Circuit, m: &Heightmap| {
        Phase::CIRCUIT_STORY
            .into_iter()
            .all(|p| c.phases().get(p).is_some())
            && m.is_complete()
    };
    while Instant::now() < give_up && !settled(&circuit, &map) {
        while let Some(d) = circuit.poll_transmit() {
            let frame = encode_frame(sim, &d).unwrap();
            ws.send(tungstenite::Message::binary(frame)).await.unwrap();
        }
        let wait = circuit
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| {
                t.saturating_duration_since(Instant::now())
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        if let Ok(Some(message)) = tokio::time::timeout(wait, ws.next()).await {
            match message.unwrap() {
                tungstenite::Message::Binary(frame) => {
                    let (from, datagram) = decode_frame(&frame).unwrap();
                    assert_eq!(from, sim, "a datagram from elsewhere reached the page");
                    circuit.handle_datagram(Instant::now(), datagram);
                }
                other => panic!("unexpected message {other:?}"),
            }
        }
        circuit.handle_timeout(Instant::now());
        while let Some(e) = circuit.poll_event() {
            match e {
                Event::Message(m) => match *m {
                    Message::LayerData(l) => {
                        for p in decode_layer(&l.data, size.0, size.1).unwrap().patches {
                            map.apply(&p).unwrap();
                        }
                    }
                    Message::ObjectUpdate(u) => objects += u.objects.len(),
                    Message::ObjectUpdateCompressed(u) => objects += u.objects.len(),
                    _ => {}
                },
                Event::Disconnected(r) => panic!("disconnected: {r}"),
                Event::Phase { .. } => {}
            }
        }
    }
    (circuit, map, objects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_the_relay_completes_the_story() {
    let rig = rig(|_| {}).await;
    let login_sent = Instant::now();
    let (text, ok, session) = rig.login().await;
    assert_no_secrets(&text);
    let cap_prefix = format!("{}/relay/cap/", rig.base);
    assert!(
        ok.seed_capability.starts_with(&cap_prefix),
        "{}",
        ok.seed_capability
    );
    // The sim is the real one: the page addresses its frames to it.
    assert_eq!(SocketAddr::from((ok.sim_ip, ok.sim_port)), rig.sim.udp);

    // Grid info, forwarded.
    let r = rig
        .http
        .get(format!("{}/relay/get_grid_info", rig.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info = overlook_protocol::login::parse_grid_info(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(info.login.as_deref(), Some(rig.sim.login_uri.as_str()));

    // The seed, through the relay: every granted capability is a relay URL.
    let seed = ok.seed_capability.strip_prefix(&rig.base).unwrap();
    let (status, body) = rig
        .post(
            seed,
            "application/llsd+xml",
            seed_request_xml(&["EventQueueGet", "ViewerAsset"]).into_bytes(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!String::from_utf8_lossy(&body).contains("/CAPS/"));
    let caps = parse_seed_response(&body).unwrap();
    assert_eq!(
        caps.keys().collect::<Vec<_>>(),
        ["EventQueueGet", "ViewerAsset"]
    );
    assert!(
        caps.values().all(|u| u.starts_with(&cap_prefix)),
        "{caps:?}"
    );

    // A texture through the relayed ViewerAsset: the region's bytes, whole and by range.
    let id = overlook_sim::textures::ORIENTED;
    let truth = overlook_sim::textures::TEXTURES
        .iter()
        .find(|t| t.id == id)
        .unwrap()
        .bytes;
    let url = format!("{}/?texture_id={id}", caps["ViewerAsset"]);
    let r = rig.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/x-j2c");
    assert_eq!(r.bytes().await.unwrap(), truth);
    let r = rig
        .http
        .get(&url)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-99/{}", truth.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), &truth[..100]);

    // The circuit, through the WebSocket.
    let mut ws = rig.websocket(&session).await;
    let (mut circuit, map, objects) = play(&mut ws, &ok, login_sent, Duration::from_secs(30)).await;
    for p in Phase::CIRCUIT_STORY {
        assert!(
            circuit.phases().get(p).is_some(),
            "phase {p:?} not reached: {:?}",
            circuit.phases()
        );
    }
    assert!(map.is_complete());
    assert!(objects >= 30, "{objects} objects");
    let stats = rig.relay.stats();
    assert!(stats.to_sim > 0 && stats.to_page > 0, "{stats:?}");
    assert_eq!(
        stats.dropped_not_allowed + stats.dropped_from_stranger + stats.dropped_oversized,
        0,
        "{stats:?}"
    );

    // Logging out and closing ends the session and its capabilities.
    circuit.logout(Instant::now());
    while let Some(d) = circuit.poll_transmit() {
        ws.send(tungstenite::Message::binary(
            encode_frame(rig.sim.udp, &d).unwrap(),
        ))
        .await
        .unwrap();
    }
    ws.close(None).await.unwrap();
    let gone = Instant::now() + Duration::from_secs(5);
    while !rig.relay.sessions().is_empty() && Instant::now() < gone {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(rig.relay.sessions().is_empty());
    assert_eq!(rig.http.get(&url).send().await.unwrap().status(), 404);
    rig.sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_login_keeps_the_password_and_needs_credentials() {
    let password = "pw-kept-by-the-relay";
    let mut cfg = SimConfig::loopback();
    cfg.accounts = vec![server::test_account("Auto", "Login", password)];
    let sim = server::start(cfg).await.unwrap();
    let mut config = RelayConfig::new(&sim.login_uri);
    config.credentials = Some(Credentials::new("Auto", "Login", password));
    assert!(!format!("{config:?}").contains(password));
    let relay = RelayState::new(config).unwrap();
    assert!(!format!("{relay:?}").contains(password));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, relay.clone(), router(relay.clone())));
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/relay/auto-login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    let (text, ok, session) = success(&body);
    assert_eq!(
        (ok.first_name.as_str(), ok.last_name.as_str()),
        ("Auto", "Login")
    );
    assert!(
        !text.contains(password) && !text.contains(&password_hash(password)),
        "{text}"
    );
    assert!(!text.contains("/CAPS/"), "{text}");
    assert_eq!(relay.sessions().len(), 1);
    assert_eq!(relay.sessions()[0].token, session);
    // The page learns that it may log in at once, and as whom; never the password.
    let info = reqwest::get(format!("http://{addr}/relay/info"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        info,
        r#"{"auto_login": true, "first": "Auto", "last": "Login", "start": "last"}"#
    );

    // No credentials: no auto-login, and the page is told so.
    let rig = rig(|_| {}).await;
    let (status, _) = rig.post("/relay/auto-login", "text/xml", Vec::new()).await;
    assert_eq!(status, 404);
    let info = reqwest::get(format!("{}/relay/info", rig.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(info, r#"{"auto_login": false}"#);
    sim.shutdown();
    rig.sim.shutdown();
}

/// Waits until `f(stats)` or 2 s.
async fn stats_until(relay: &RelayState, f: impl Fn(&Stats) -> bool) -> Stats {
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        let s = relay.stats();
        if f(&s) || Instant::now() > end {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaches_nothing_the_grid_did_not_name() {
    let rig = rig(|_| {}).await;
    let (_, ok, session) = rig.login().await;
    let mut ws = rig.websocket(&session).await;

    // A frame to another local UDP socket never reaches it.
    let decoy = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let decoy_addr = decoy.local_addr().unwrap();
    ws.send(tungstenite::Message::binary(
        encode_frame(decoy_addr, b"hello").unwrap(),
    ))
    .await
    .unwrap();
    let stats = stats_until(&rig.relay, |s| s.dropped_not_allowed == 1).await;
    assert_eq!(stats.dropped_not_allowed, 1, "{stats:?}");
    assert_eq!(stats.to_sim, 0);
    let mut buf = [0u8; 64];
    let got = tokio::time::timeout(Duration::from_millis(300), decoy.recv_from(&mut buf)).await;
    assert!(got.is_err(), "the decoy received {got:?}");

    // A datagram from the decoy to the session's socket never reaches the page.
    let udp = rig.relay.sessions()[0].udp.unwrap();
    decoy
        .send_to(b"spoof", ("127.0.0.1", udp.port()))
        .await
        .unwrap();
    let stats = stats_until(&rig.relay, |s| s.dropped_from_stranger == 1).await;
    assert_eq!(stats.dropped_from_stranger, 1, "{stats:?}");
    let got = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(got.is_err(), "the page received {got:?}");

    // The connection is still good: the real sim answers UseCircuitCode.
    let mut cfg = CircuitConfig::new(ok.agent_id, ok.session_id, ok.circuit_code);
    (cfg.region_size_x, cfg.region_size_y) = (ok.region_size_x, ok.region_size_y);
    let mut circuit = Circuit::new(cfg, Instant::now(), Instant::now());
    while let Some(d) = circuit.poll_transmit() {
        ws.send(tungstenite::Message::binary(
            encode_frame(rig.sim.udp, &d).unwrap(),
        ))
        .await
        .unwrap();
    }
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (from, _) = decode_frame(&first.into_data())
        .map(|(a, d)| (a, d.to_vec()))
        .unwrap();
    assert_eq!(from, rig.sim.udp);

    // No route reaches an arbitrary URL, and unknown or malformed tokens are 404.
    let seed_token = ok.seed_capability.rsplit('/').next().unwrap().to_owned();
    let sim_http = rig
        .sim
        .login_uri
        .trim_end_matches('/')
        .strip_prefix("http://")
        .unwrap()
        .to_owned();
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    for path in [
        "/relay/cap/../..".to_owned(),
        "/relay/cap/..%2F..%2Fget_grid_info".to_owned(),
        "/relay/cap/ffffffffffffffffffffffffffffffff".to_owned(),
        format!("/relay/cap/{seed_token}/../../get_grid_info"),
        format!("/relay/cap/{seed_token}/..%2F..%2Fget_grid_info"),
        format!("/relay/cap/{seed_token}%2F..%2F..%2Fget_grid_info"),
        format!("/relay/cap/{seed_token}/%2e%2e/"),
        format!("/relay/cap/http://{sim_http}/get_grid_info"),
        format!(
            "/relay/cap/{}",
            enc(&format!("http://{sim_http}/get_grid_info"))
        ),
        format!("/relay/cap/?url=http://{sim_http}/get_grid_info"),
        "/relay/get_grid_info/../cap/x".to_owned(),
        format!("/relay/proxy?url=http://{sim_http}/"),
        format!("/relay/http://{sim_http}/"),
        "/relay/ws?session=ffffffffffffffffffffffffffffffff".to_owned(),
        "/relay/ws?session=../../".to_owned(),
    ] {
        assert_eq!(rig.raw_status("GET", &path).await, 404, "{path}");
    }
    // The seed itself still answers (so the 404s above are about the paths).
    let seed_request = seed_request_xml(&["ViewerAsset"]).into_bytes();
    let (status, _) = rig
        .post(
            &format!("/relay/cap/{seed_token}"),
            "application/llsd+xml",
            seed_request,
        )
        .await;
    assert_eq!(status, 200);
    // Only login_to_simulator goes to the login URI.
    let call = xmlrpc::method_call_xml("admin_shutdown", &[Value::Struct(Vec::new())]);
    let (status, _) = rig
        .post("/relay/login", "text/xml", call.into_bytes())
        .await;
    assert_eq!(status, 400);
    // A page from another site cannot log in.
    let r = rig
        .http
        .post(format!("{}/relay/login", rig.base))
        .header("origin", "http://evil.example")
        .body(LoginRequest::new("Test", "User", "test", StartLocation::Last).to_xml())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    rig.sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold() {
    let rig = rig(|c| {
        c.limits.max_sessions = 1;
        c.limits.max_login_body = 64 * 1024;
    })
    .await;
    // Unknown session.
    assert_eq!(
        rig.websocket_refused("0123456789abcdef0123456789abcdef")
            .await,
        404
    );
    // A body over the login limit.
    let (status, _) = rig
        .post("/relay/login", "text/xml", vec![b' '; 64 * 1024 + 1])
        .await;
    assert_eq!(status, 413);
    let (_, _, session) = rig.login().await;
    let mut ws = rig.websocket(&session).await;
    // One WebSocket per session; and the second session is refused before the grid is asked.
    assert_eq!(rig.websocket_refused(&session).await, 409);
    let req = LoginRequest::new("Test", "User", "test", StartLocation::Last);
    let (status, _) = rig
        .post("/relay/login", "text/xml", req.to_xml().into_bytes())
        .await;
    assert_eq!(status, 503);
    assert_eq!(rig.relay.stats().refused_sessions, 1);
    // An oversized frame is dropped, not forwarded, and the connection stays.
    let frame = encode_frame(rig.sim.udp, &vec![0u8; overlook_relay::MAX_DATAGRAM + 1]).unwrap();
    ws.send(tungstenite::Message::binary(frame)).await.unwrap();
    let stats = stats_until(&rig.relay, |s| s.dropped_oversized == 1).await;
    assert_eq!((stats.dropped_oversized, stats.to_sim), (1, 0), "{stats:?}");
    ws.send(tungstenite::Message::binary(
        encode_frame(rig.sim.udp, b"x").unwrap(),
    ))
    .await
    .unwrap();
    let stats = stats_until(&rig.relay, |s| s.to_sim == 1).await;
    assert_eq!(stats.to_sim, 1, "{stats:?}");
    // When the session ends, a new one fits.
    ws.close(None).await.unwrap();
    drop(ws);
    let end = Instant::now() + Duration::from_secs(5);
    while !rig.relay.sessions().is_empty() && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // (The region refuses the first login of an agent it still holds, as OpenSim does, and
    // kicks it; the next one succeeds.)
    let req = LoginRequest::new("Test", "User", "test", StartLocation::Last);
    let mut again = None;
    for _ in 0..3 {
        let (status, body) = rig
            .post("/relay/login", "text/xml", req.to_xml().into_bytes())
            .await;
        assert_eq!(status, 200);
        if let LoginReply::Success(_) = parse_login_response(&body).unwrap() {
            again = Some(success(&body).2);
            break;
        }
    }
    assert_ne!(again.unwrap(), session);
    rig.sim.shutdown();
}

/// A page that goes away without logging out (a closed tab): the relay logs its agent out, so
/// the region lets it go at once instead of keeping it until the circuit times out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_leaves_is_logged_out_by_the_relay() {
    let rig = rig(|_| {}).await;
    let login_sent = Instant::now();
    let (_, ok, session) = rig.login().await;
    let mut ws = rig.websocket(&session).await;
    let _ = play(&mut ws, &ok, login_sent, Duration::from_secs(30)).await;
    assert_eq!(rig.sim.agent_loads().len(), 1, "the agent is in the region");
    // Gone, with no LogoutRequest of its own.
    drop(ws);
    let gone = Instant::now() + Duration::from_secs(5);
    while !rig.sim.agent_loads().is_empty() && Instant::now() < gone {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        rig.sim.agent_loads().is_empty(),
        "the region still holds the agent 5 s after its page left"
    );
    assert!(rig.relay.sessions().is_empty());
    rig.sim.shutdown();
}
