//! `overlook web`'s origin: the bundle's files and the relay side by side, the relay's
//! auto-login on the embedded region with the password kept back, and nothing outside the
//! bundle reachable by path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use overlook::net::embedded::EmbeddedSim;
use overlook_relay::{Credentials, RelayConfig, RelayState};
use overlook_sim::server::SimConfig;

/// One HTTP/1.1 request with the path sent as is; the status and the body as text.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

#[test]
fn the_origin_serves_the_bundle_beside_the_relay_and_nothing_else() {
    // A password no reply could contain by chance.
    let sim = EmbeddedSim::start(SimConfig {
        accounts: vec![overlook_sim::server::test_account(
            "Ann",
            "Web",
            "pw-5ecret-web",
        )],
        ..SimConfig::loopback()
    })
    .unwrap();
    let bundle = std::env::temp_dir().join(format!("overlook-web-bundle-{}", std::process::id()));
    std::fs::create_dir_all(bundle.join("pkg")).unwrap();
    std::fs::write(bundle.join("index.html"), "<title>overlook</title>").unwrap();
    std::fs::write(bundle.join("pkg/viewer_bg.wasm"), b"\0asm").unwrap();
    let (first, last, password) = sim.account.clone();
    let mut config = RelayConfig::new(&sim.login_uri);
    config.credentials = Some(Credentials::new(&first, &last, &password));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (addr, server) = runtime.block_on(async {
        let state = RelayState::new(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = overlook::web::app(state.clone(), Some(bundle.clone()));
        (
            addr,
            tokio::spawn(overlook_relay::serve(listener, state, app)),
        )
    });

    let (status, _, body) = request(addr, "GET", "/");
    assert_eq!((status, body.as_str()), (200, "<title>overlook</title>"));
    let (status, head, body) = request(addr, "GET", "/pkg/viewer_bg.wasm");
    assert_eq!((status, body.as_str()), (200, "\0asm"));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/wasm")
    );
    for outside in [
        "/../Cargo.toml",
        "/pkg/../../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/.hidden",
        "/missing.js",
    ] {
        assert_eq!(request(addr, "GET", outside).0, 404, "{outside}");
    }
    // The relay answers on the same origin: auto-login logs the embedded region's account in,
    // and the page never sees the password.
    let (status, _, body) = request(addr, "POST", "/relay/auto-login");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(overlook_relay::SESSION_MEMBER), "{body}");
    assert!(body.contains("/relay/cap/"), "the seed is a relay URL");
    assert!(body.contains("Ann"), "{body}");
    assert!(!body.contains(&password));
    assert!(
        !body.contains("/CAPS/"),
        "no capability of the region's own"
    );

    server.abort();
    drop(runtime);
    let _ = std::fs::remove_dir_all(&bundle);
}
