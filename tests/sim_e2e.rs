//! End to end over real loopback sockets: the protocol client (login XML-RPC over HTTP, the seed
//! capability, the sans-IO `Circuit` on a UDP socket) against the embedded region started by
//! `sim::server::start`, exactly as `overlook sim` runs it.
#![cfg(feature = "sim")]

use std::net::UdpSocket;
use std::time::Duration;

use overlook::protocol::circuit::{Circuit, CircuitConfig, Event, Phase};
use overlook::protocol::login::{
    LoginReply, LoginRequest, StartLocation, parse_login_response, parse_seed_response,
    seed_request_xml,
};
use overlook::protocol::message::Message;
use overlook::protocol::terrain::{Heightmap, decode_layer};
use overlook::sim::server::{self, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use web_time::Instant;

/// A minimal HTTP/1.1 POST; returns the status code and body.
async fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status: u16 = String::from_utf8_lossy(&resp[9..12]).parse().unwrap();
    let head = String::from_utf8_lossy(&resp[..split]).to_lowercase();
    let mut body = resp[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

async fn login(uri: &str, first: &str, last: &str, password: &str) -> LoginReply {
    let req = LoginRequest::new(first, last, password, StartLocation::Last);
    let (status, body) = post(uri, "text/xml", req.to_xml().as_bytes()).await;
    assert_eq!(status, 200);
    parse_login_response(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_wrong_password_and_unknown_user_with_the_reason() {
    let sim = server::start(SimConfig::loopback()).await.unwrap();
    for (first, last, pw) in [("Test", "User", "wrong"), ("No", "Body", "test")] {
        match login(&sim.login_uri, first, last, pw).await {
            LoginReply::Refused { reason, message } => {
                assert_eq!(reason, "key");
                assert!(
                    message.starts_with("Could not authenticate your avatar"),
                    "{message}"
                );
            }
            other => panic!("{first} {last}: {other:?}"),
        }
    }
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_and_receives_the_whole_region_over_loopback() {
    let sim = server::start(SimConfig::loopback()).await.unwrap();
    let login_sent = Instant::now();
    let LoginReply::Success(ok) = login(&sim.login_uri, "Test", "User", "test").await else {
        panic!("login refused");
    };
    let (status, body) = post(
        &ok.seed_capability,
        "application/llsd+xml",
        seed_request_xml(&["EventQueueGet", "SimulatorFeatures"]).as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        parse_seed_response(&body)
            .unwrap()
            .contains_key("EventQueueGet")
    );

    let size = (ok.region_size_x, ok.region_size_y);
    let mut cfg = CircuitConfig::new(ok.agent_id, ok.session_id, ok.circuit_code);
    (cfg.region_size_x, cfg.region_size_y) = size;
    let region_addr = (ok.sim_ip, ok.sim_port);
    let expected = sim.info.clone();
    let result = tokio::task::spawn_blocking(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(region_addr).unwrap();
        let mut circuit = Circuit::new(cfg, login_sent, Instant::now());
        let mut map = Heightmap::new(size.0, size.1).unwrap();
        let (mut full, mut compressed) = (0usize, 0usize);
        let mut buf = [0u8; 0x2000];
        let give_up = Instant::now() + Duration::from_secs(30);
        while Instant::now() < give_up && circuit.phases().get(Phase::ObjectsSettled).is_none() {
            while let Some(d) = circuit.poll_transmit() {
                socket.send(&d).unwrap();
            }
            let wait = circuit
                .poll_timeout()
                .map_or(Duration::from_millis(50), |t| {
                    t.saturating_duration_since(Instant::now())
                })
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            socket.set_read_timeout(Some(wait)).unwrap();
            if let Ok(n) = socket.recv(&mut buf) {
                circuit.handle_datagram(Instant::now(), &buf[..n]);
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
                        Message::ObjectUpdate(u) => full += u.objects.len(),
                        Message::ObjectUpdateCompressed(u) => compressed += u.objects.len(),
                        _ => {}
                    },
                    Event::Disconnected(r) => panic!("disconnected: {r}"),
                    Event::Phase { .. } => {}
                }
            }
        }
        circuit.logout(Instant::now());
        (*circuit.phases(), map, full, compressed)
    })
    .await
    .unwrap();
    let (phases, map, full, compressed) = result;
    for p in Phase::ALL.into_iter().filter(|&p| p != Phase::Logout) {
        assert!(phases.get(p).is_some(), "phase {p} not reached: {phases:?}");
    }
    assert!(map.is_complete());
    // The region serves the seed-1 island: what arrived equals it within the codec's error.
    let truth = overlook::sim::terrain::island(expected.size_x, expected.size_y, 1).unwrap();
    let worst = map
        .heights()
        .iter()
        .zip(truth.heights())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 0.25, "terrain differs by up to {worst} m");
    assert_eq!(
        (map.size_x(), map.size_y()),
        (expected.size_x, expected.size_y)
    );
    // Static objects come compressed; the mover, the blinker and the avatar as full updates.
    assert!(full >= 3, "{full} full updates");
    assert!(compressed >= 25, "{compressed} compressed");
    assert!(full + compressed >= 30, "{full} + {compressed} objects");
    sim.shutdown();
}
