//! The HTTP transport's limits over real loopback sockets (module `listen`): idle and slow
//! connections are closed, logins go on meanwhile, connections beyond the cap wait, slow bodies
//! get 408, and an agent's extra event-queue polls end its oldest.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};

use super::test_support::*;
use super::*;
use overlook_protocol::login::{parse_seed_response, seed_request_xml};

/// Reads until the server closes the connection (EOF or an error such as a reset); what was
/// read, and when it closed. Panics after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Instant) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let closed = timeout(limit, read)
        .await
        .expect("the server did not close the connection");
    (seen, closed)
}

/// One keep-alive `GET /get_grid_info` on `stream`; the status. Reads exactly the answer (its
/// `Content-Length`), leaving the connection open and idle.
async fn keep_alive_get(stream: &mut TcpStream) -> u16 {
    stream
        .write_all(b"GET /get_grid_info HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "closed before the answer");
        raw.extend_from_slice(&chunk[..n]);
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap();
        if raw.len() >= split + 4 + length {
            return head.split(' ').nth(1).unwrap().parse().unwrap();
        }
    }
}

#[tokio::test]
async fn defaults_are_the_documented_limits() {
    let config = LoginConfig::new(accounts(), region(), "http://127.0.0.1:9000/");
    assert_eq!(
        config.http,
        HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    );
    assert!(config.http.request_timeout > config.event_poll_hold);
    assert_eq!(config.event_polls_per_agent, 2);
}

/// The real defaults: 300 idle connections (half silent since connecting, half after one
/// kept-alive request) do not delay a login, and all are closed 10 s after they went idle.
#[tokio::test]
async fn idle_connections_are_closed_by_the_default_timeout_and_logins_go_on() {
    const IDLE: usize = 300;
    let h = Harness::start_with(|c| c.http = HttpLimits::default()).await;
    let mut idle: Vec<(TcpStream, Instant)> = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut stream = TcpStream::connect(h.addr).await.unwrap();
        if i % 2 == 1 {
            assert_eq!(keep_alive_get(&mut stream).await, 200);
        }
        idle.push((stream, Instant::now()));
    }
    let opened = idle[0].1.elapsed();
    // A login while all of them are open is answered at once.
    let before = Instant::now();
    let s = success(h.login_as("Test", "User", "test").await);
    let login_took = before.elapsed();
    assert_eq!(s.first_name, "Test");
    assert!(
        login_took < Duration::from_secs(2),
        "login took {login_took:?}"
    );
    // None was closed yet (nothing to read, no EOF).
    let mut probe = [0u8; 16];
    for (stream, _) in &idle {
        assert!(
            matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        );
    }
    // Each is closed by the server within 12 s of going idle, and not before the 10 s timeout.
    let waits: Vec<JoinHandle<Duration>> = idle
        .into_iter()
        .map(|(mut stream, idle_since)| {
            tokio::spawn(async move {
                let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(14)).await;
                closed - idle_since
            })
        })
        .collect();
    let mut after = Vec::with_capacity(IDLE);
    for wait in waits {
        after.push(wait.await.unwrap());
    }
    let (first, last) = (after.iter().min().unwrap(), after.iter().max().unwrap());
    eprintln!(
        "{IDLE} idle connections opened in {opened:?}; login took {login_took:?}; \
         closed {first:?} .. {last:?} after going idle"
    );
    assert!(*first >= Duration::from_secs(9), "closed early: {first:?}");
    assert!(*last <= Duration::from_secs(12), "closed late: {last:?}");
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_closed_after_the_header_timeout() {
    let h = Harness::start_with(|c| c.http.header_read_timeout = Duration::from_millis(500)).await;
    // A request sent at once is not affected.
    assert_eq!(
        success(h.login_as("Test", "User", "test").await).first_name,
        "Test"
    );
    let stream = TcpStream::connect(h.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let start = Instant::now();
    let trickle = tokio::spawn(async move {
        let head = b"GET /get_grid_info HTTP/1.1\r\nHost: test\r\nX-Slow: ";
        for byte in head.iter().chain([b'a'; 200].iter()) {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            sleep(Duration::from_millis(20)).await;
        }
    });
    let mut seen = Vec::new();
    let closed = timeout(Duration::from_secs(5), read.read_to_end(&mut seen)).await;
    let took = start.elapsed();
    trickle.abort();
    assert!(closed.is_ok(), "still open after 5 s");
    assert!(!seen.starts_with(b"HTTP/1.1 200"), "served: {seen:?}");
    eprintln!("slow headers closed after {took:?}");
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let h = Harness::start_with(|c| {
        c.http.max_connections = 4;
        c.http.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(h.addr).await.unwrap());
    }
    // Let the server accept all four.
    sleep(Duration::from_millis(200)).await;
    let addr = h.addr;
    let extra = tokio::spawn(async move {
        let reply = request(addr, "GET", "/get_grid_info", None, b"").await;
        (reply.status, Instant::now())
    });
    sleep(Duration::from_millis(800)).await;
    assert!(
        !extra.is_finished(),
        "a fifth connection was served beside four"
    );
    // One held connection goes away: the waiting one is served at once.
    let freed = Instant::now();
    drop(held.pop());
    let (status, answered) = timeout(Duration::from_secs(3), extra)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    let waited = answered - freed;
    eprintln!("the fifth connection was answered {waited:?} after a slot freed");
    assert!(waited < Duration::from_millis(500), "{waited:?}");
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408_and_the_connection_closes() {
    let h = Harness::start_with(|c| c.http.request_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<?xml")
        .await
        .unwrap();
    let start = Instant::now();
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let took = closed - start;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[tokio::test]
async fn an_agents_extra_event_queue_polls_end_its_oldest() {
    let hold = Duration::from_secs(3);
    let h = Harness::start_with(|c| c.event_poll_hold = hold).await;
    let s = success(h.login_as("Test", "User", "test").await);
    let seed = seed_path(&h, &s);
    let body = seed_request_xml(&["EventQueueGet"]);
    let granted = h.post(&seed, "application/llsd+xml", body.as_bytes()).await;
    let caps = parse_seed_response(&granted.body).unwrap();
    let path = caps["EventQueueGet"]
        .strip_prefix(&h.base())
        .unwrap()
        .to_owned();
    let poll = |path: String| {
        let addr = h.addr;
        tokio::spawn(async move {
            let reply = request(
                addr,
                "POST",
                &path,
                Some("application/llsd+xml"),
                b"<llsd><map><key>ack</key><undef /><key>done</key><boolean>0</boolean></map></llsd>",
            )
            .await;
            (reply.status, Instant::now())
        })
    };
    let first = poll(path.clone());
    sleep(Duration::from_millis(200)).await;
    let second = poll(path.clone());
    sleep(Duration::from_millis(200)).await;
    assert!(!first.is_finished() && !second.is_finished());
    // A third poll of the same agent ends the first at once, with the "no events" answer.
    let third_sent = Instant::now();
    let third = poll(path.clone());
    let (status, ended) = timeout(Duration::from_secs(1), first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 502);
    let pushed_out = ended - third_sent;
    eprintln!("the oldest poll ended {pushed_out:?} after a third was sent");
    assert!(pushed_out < Duration::from_millis(500), "{pushed_out:?}");
    sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished() && !third.is_finished());
    // The two newer ones are held for the hold, then answered as before.
    let (second_status, _) = second.await.unwrap();
    let (third_status, third_ended) = third.await.unwrap();
    assert_eq!((second_status, third_status), (502, 502));
    assert!(third_ended - third_sent >= hold - Duration::from_millis(100));
}
