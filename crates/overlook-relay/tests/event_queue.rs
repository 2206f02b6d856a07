//! The event queue through the relay, against a small fake grid: the capability URLs an
//! event-queue reply names become relay URLs, and the sim it names (a teleport's target)
//! becomes a UDP destination of the session — and a source the page hears from.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use futures_util::{SinkExt, StreamExt};
use overlook_protocol::login::xmlrpc::{self, MethodResponse, Value};
use overlook_protocol::login::{
    LoginRequest, LoginSuccess, StartLocation, parse_seed_response, seed_request_xml,
    seed_response_xml,
};
use overlook_protocol::types::Uuid;
use overlook_relay::{RelayConfig, RelayState, decode_frame, encode_frame, router, serve};
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite;

/// A grid that logs anyone in to `sim`, grants `EventQueueGet` and answers one poll with a
/// `TeleportFinish` to `target`.
async fn fake_grid(sim: SocketAddr, target: SocketAddr) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ok = LoginSuccess {
        agent_id: Uuid([1; 16]),
        session_id: Uuid([2; 16]),
        secure_session_id: Uuid([3; 16]),
        circuit_code: 7,
        sim_ip: Ipv4Addr::LOCALHOST,
        sim_port: sim.port(),
        region_x: 256_000,
        region_y: 256_000,
        region_size_x: 256,
        region_size_y: 256,
        look_at: None,
        seed_capability: format!("{base}/CAPS/seed/"),
        first_name: "Test".into(),
        last_name: "User".into(),
        message: String::new(),
        seconds_since_epoch: None,
        http_port: None,
        start_location: None,
    };
    let login = ok.to_xml();
    let seed = seed_response_xml(&[("EventQueueGet", &format!("{base}/CAPS/eq/"))]);
    let eq = format!(
        "<llsd><map><key>events</key><array><map><key>message</key><string>TeleportFinish</string>\
         <key>body</key><map><key>Info</key><array><map>\
         <key>SeedCapability</key><string>{base}/CAPS/seed2/</string>\
         <key>SimIP</key><binary encoding=\"base64\">fwAAAQ==</binary>\
         <key>SimPort</key><integer>{}</integer>\
         </map></array></map></map></array><key>id</key><integer>1</integer></map></llsd>",
        target.port()
    );
    let app = Router::new()
        .route("/", post(move || async move { login }))
        .route("/CAPS/seed/", post(move || async move { seed }))
        .route("/CAPS/eq/", post(move || async move { eq }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("{base}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_queue_urls_are_relayed_and_its_sims_allowed() {
    let sim = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (sim_addr, target_addr) = (sim.local_addr().unwrap(), target.local_addr().unwrap());
    let grid = fake_grid(sim_addr, target_addr).await;
    let relay = RelayState::new(RelayConfig::new(&grid)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, relay.clone(), router(relay.clone())));
    let http = reqwest::Client::new();
    let post = |url: String, body: String| {
        let http = http.clone();
        async move {
            let r = http.post(url).body(body).send().await.unwrap();
            assert_eq!(r.status(), 200);
            String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap()
        }
    };

    let reply = post(
        format!("http://{addr}/relay/login"),
        LoginRequest::new("Test", "User", "x", StartLocation::Last).to_xml(),
    )
    .await;
    let MethodResponse::Success(v) = xmlrpc::parse_method_response(reply.as_bytes()).unwrap()
    else {
        panic!("{reply}");
    };
    let seed = v.member("seed_capability").and_then(Value::as_str).unwrap();
    let session = v.member("relay_session").and_then(Value::as_str).unwrap();
    let caps = parse_seed_response(
        post(seed.to_owned(), seed_request_xml(&["EventQueueGet"]))
            .await
            .as_bytes(),
    )
    .unwrap();
    let events = post(
        caps["EventQueueGet"].clone(),
        "<llsd><map/></llsd>".to_owned(),
    )
    .await;
    assert!(!events.contains("/CAPS/"), "{events}");
    assert!(
        events.contains(&format!("<string>http://{addr}/relay/cap/")),
        "{events}"
    );
    assert!(events.contains("TeleportFinish"), "{events}");
    let info = &relay.sessions()[0];
    assert_eq!(info.allowed, [sim_addr, target_addr]);
    assert_eq!(info.caps, 3);

    // The teleport's target is now reachable both ways.
    let url = format!("ws://{addr}/relay/ws?session={session}");
    let mut ws = tokio_tungstenite::connect_async(url).await.unwrap().0;
    let frame = encode_frame(target_addr, b"to the target").unwrap();
    ws.send(tungstenite::Message::binary(frame)).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, relay_udp) = tokio::time::timeout(Duration::from_secs(5), target.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"to the target");
    target.send_to(b"from the target", relay_udp).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .into_data();
    assert_eq!(
        decode_frame(&got),
        Some((target_addr, &b"from the target"[..]))
    );
}
