//! End to end over real loopback sockets: the protocol client (login XML-RPC over HTTP, the seed
//! capability, the sans-IO `Circuit` on a UDP socket) against the embedded region started by
//! `sim::server::start`, exactly as `overlook sim` runs it.
// Its helpers (not only the #[test] functions) unwrap and index: a failed step fails the test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use overlook_protocol::circuit::{Circuit, CircuitConfig, Event, Phase, PhaseTimes};
use overlook_protocol::login::{
    LoginReply, LoginRequest, LoginSuccess, StartLocation, parse_login_response,
    parse_seed_response, seed_request_xml,
};
use overlook_protocol::message::Message;
use overlook_protocol::message::object::PCode;
use overlook_protocol::terrain::{Heightmap, decode_layer};
use overlook_protocol::types::Uuid;
use overlook_sim::server::{self, RunningSim, SimConfig, test_account};
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
async fn no_debug_output_shows_a_password() {
    let secret = "pw-5ecret-for-the-test";
    let cfg = SimConfig {
        accounts: vec![server::test_account("Ann", "Other", secret)],
        ..SimConfig::loopback()
    };
    let sim = server::start(cfg.clone()).await.unwrap();
    let login_cfg = overlook_sim::login::LoginConfig::new(
        cfg.accounts.clone(),
        sim.info.clone(),
        &sim.login_uri,
    );
    for text in [
        format!("{:?}", cfg.accounts[0]),
        format!("{cfg:?}"),
        format!("{login_cfg:?}"),
        format!("{sim:?}"),
    ] {
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("Ann"), "the rest is still shown: {text}");
    }
    sim.shutdown();
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

/// Logs in and requests the seed capability, as a viewer does before the UDP circuit.
async fn login_with_seed(sim: &RunningSim, first: &str, last: &str) -> (LoginSuccess, Instant) {
    let login_sent = Instant::now();
    let LoginReply::Success(ok) = login(&sim.login_uri, first, last, "test").await else {
        panic!("login refused for {first} {last}");
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
    (*ok, login_sent)
}

/// What one client saw.
struct Seen {
    phases: PhaseTimes,
    map: Heightmap,
    /// Full `ObjectUpdate` blocks.
    full: usize,
    /// `ObjectUpdateCompressed` blocks.
    compressed: usize,
    /// `FullID`s of avatars in full updates.
    avatars: BTreeSet<Uuid>,
}

impl Seen {
    /// Every phase of the story through `objects_settled` and the whole heightmap.
    fn settled(&self) -> bool {
        Phase::CIRCUIT_STORY
            .into_iter()
            .all(|p| self.phases.get(p).is_some())
            && self.map.is_complete()
    }
}

/// Runs the UDP circuit (blocking) against `to` until `done` or `limit`, then logs out.
fn play(
    ok: &LoginSuccess,
    login_sent: Instant,
    to: SocketAddr,
    limit: Duration,
    done: impl Fn(&Seen) -> bool,
) -> Seen {
    let size = (ok.region_size_x, ok.region_size_y);
    let mut cfg = CircuitConfig::new(ok.agent_id, ok.session_id, ok.circuit_code);
    (cfg.region_size_x, cfg.region_size_y) = size;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(to).unwrap();
    let mut circuit = Circuit::new(cfg, login_sent, Instant::now());
    let mut seen = Seen {
        phases: *circuit.phases(),
        map: Heightmap::new(size.0, size.1).unwrap(),
        full: 0,
        compressed: 0,
        avatars: BTreeSet::new(),
    };
    let mut buf = [0u8; 0x2000];
    let give_up = Instant::now() + limit;
    while Instant::now() < give_up && !done(&seen) {
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
                            seen.map.apply(&p).unwrap();
                        }
                    }
                    Message::ObjectUpdate(u) => {
                        seen.full += u.objects.len();
                        seen.avatars.extend(
                            u.objects
                                .iter()
                                .filter(|o| o.pcode == PCode::Avatar)
                                .map(|o| o.full_id),
                        );
                    }
                    Message::ObjectUpdateCompressed(u) => seen.compressed += u.objects.len(),
                    _ => {}
                },
                Event::Disconnected(r) => panic!("disconnected: {r}"),
                Event::Phase { .. } => {}
            }
        }
        seen.phases = *circuit.phases();
    }
    circuit.logout(Instant::now());
    while let Some(d) = circuit.poll_transmit() {
        let _ = socket.send(&d);
    }
    seen
}

/// Logs `first last` in and plays the circuit through `via` (or straight to the region) until
/// the story is settled.
async fn settle(sim: &RunningSim, via: Option<SocketAddr>, limit: Duration) -> Seen {
    let (ok, login_sent) = login_with_seed(sim, "Test", "User").await;
    let to = via.unwrap_or(SocketAddr::from((ok.sim_ip, ok.sim_port)));
    tokio::task::spawn_blocking(move || play(&ok, login_sent, to, limit, Seen::settled))
        .await
        .unwrap()
}

/// Asserts the whole story and the seed-1 island (within the codec's error).
fn assert_whole_region(sim: &RunningSim, seen: &Seen) {
    for p in Phase::CIRCUIT_STORY {
        assert!(
            seen.phases.get(p).is_some(),
            "phase {p} not reached: {:?}",
            seen.phases
        );
    }
    assert!(seen.map.is_complete());
    let (sx, sy) = (sim.info.size_x, sim.info.size_y);
    let truth = overlook_sim::terrain::island(sx, sy, 1).unwrap();
    let worst = seen
        .map
        .heights()
        .iter()
        .zip(truth.heights())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 0.25, "terrain differs by up to {worst} m");
    assert_eq!((seen.map.size_x(), seen.map.size_y()), (sx, sy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_and_receives_the_whole_region_over_loopback() {
    let sim = server::start(SimConfig::loopback()).await.unwrap();
    let seen = settle(&sim, None, Duration::from_secs(30)).await;
    assert_whole_region(&sim, &seen);
    // Static objects come compressed; the mover, the blinker and the avatar as full updates.
    let (full, compressed) = (seen.full, seen.compressed);
    assert!(full >= 3, "{full} full updates");
    assert!(compressed >= 25, "{compressed} compressed");
    assert!(full + compressed >= 30, "{full} + {compressed} objects");
    sim.shutdown();
}

/// A small deterministic PRNG (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A UDP relay between one client and the region that drops 30 %, duplicates 5 % and delays
/// every datagram by 0–40 ms (so reorders). Runs until `stop` or 25 s, whichever comes first.
fn lossy_proxy(region: SocketAddr, seed: u64, stop: Arc<AtomicBool>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        let mut client: Option<SocketAddr> = None;
        let mut queue: Vec<(Instant, SocketAddr, Vec<u8>)> = Vec::new();
        let mut buf = [0u8; 0x2000];
        let end = Instant::now() + Duration::from_secs(25);
        while !stop.load(Ordering::Relaxed) && Instant::now() < end {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                let to = if from == region {
                    client
                } else {
                    client = Some(from);
                    Some(region)
                };
                if let Some(to) = to.filter(|_| !rng.chance(30)) {
                    let copies = if rng.chance(5) { 2 } else { 1 };
                    for _ in 0..copies {
                        let delay = Duration::from_millis(rng.next() % 40);
                        queue.push((Instant::now() + delay, to, buf[..n].to_vec()));
                    }
                }
            }
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) = queue.drain(..).partition(|(at, ..)| *at <= now);
            queue = later;
            for (_, to, d) in due {
                let _ = socket.send_to(&d, to);
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_through_a_lossy_relay() {
    let sim = server::start(SimConfig::loopback()).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let proxy = lossy_proxy(sim.udp, 0x5EED_1234, stop.clone());
    let started = Instant::now();
    let seen = settle(&sim, Some(proxy), Duration::from_secs(20)).await;
    stop.store(true, Ordering::Relaxed);
    assert_whole_region(&sim, &seen);
    assert!(seen.full + seen.compressed >= 30);
    eprintln!("lossy login settled in {:?}", started.elapsed());
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_garbage_flood_during_login() {
    let sim = server::start(SimConfig::loopback()).await.unwrap();
    let region = sim.udp;
    let flood = std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut rng = Rng(0xBAD_F00D);
        for i in 0..2000u32 {
            let len = usize::try_from(rng.next() % 1200).unwrap();
            let mut d: Vec<u8> = (0..len).map(|_| rng.next().to_le_bytes()[0]).collect();
            // Some look like packets: flags, a sequence number, a known message number.
            if i % 3 == 0 && d.len() > 8 {
                d[0] &= 0xF0;
                d[5] = 0;
            }
            let _ = socket.send_to(&d, region);
            // Spread over about the time a login takes, so the flood overlaps it.
            if i % 4 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let seen = settle(&sim, None, Duration::from_secs(20)).await;
    flood.join().unwrap();
    assert_whole_region(&sim, &seen);
    // Still serving after the flood: a fresh login completes too.
    let again = settle(&sim, None, Duration::from_secs(20)).await;
    assert_whole_region(&sim, &again);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_see_each_other() {
    let mut cfg = SimConfig::loopback();
    cfg.accounts.push(test_account("Second", "User", "test"));
    let sim = server::start(cfg).await.unwrap();
    let (a, a_sent) = login_with_seed(&sim, "Test", "User").await;
    let (b, b_sent) = login_with_seed(&sim, "Second", "User").await;
    let (a_id, b_id) = (a.agent_id, b.agent_id);
    assert_ne!(a_id, b_id);
    let to = SocketAddr::from((a.sim_ip, a.sim_port));
    let limit = Duration::from_secs(20);
    // Neither logs out before both have seen each other: a client that left early would take
    // its avatar with it before the slower one's scene went out.
    let (a_done, b_done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let both = {
        let (a_done, b_done) = (a_done.clone(), b_done.clone());
        move || a_done.load(Ordering::SeqCst) && b_done.load(Ordering::SeqCst)
    };
    let both_b = both.clone();
    let ta = tokio::task::spawn_blocking(move || {
        play(&a, a_sent, to, limit, |s| {
            if s.settled() && s.avatars.contains(&b_id) {
                a_done.store(true, Ordering::SeqCst);
            }
            both()
        })
    });
    let tb = tokio::task::spawn_blocking(move || {
        play(&b, b_sent, to, limit, |s| {
            if s.settled() && s.avatars.contains(&a_id) {
                b_done.store(true, Ordering::SeqCst);
            }
            both_b()
        })
    });
    let (sa, sb) = (ta.await.unwrap(), tb.await.unwrap());
    assert_whole_region(&sim, &sa);
    assert_whole_region(&sim, &sb);
    assert!(
        sa.avatars.contains(&a_id) && sa.avatars.contains(&b_id),
        "{:?}",
        sa.avatars
    );
    assert!(
        sb.avatars.contains(&a_id) && sb.avatars.contains(&b_id),
        "{:?}",
        sb.avatars
    );
    sim.shutdown();
}
