//! Test support for the login service: a mock region gate that records every call, a served
//! service on a free loopback port, and a tiny HTTP/1.1 client on `tokio::net::TcpStream` (one
//! request per connection, `Connection: close`, read until the server closes; no extra crates).

use std::collections::HashSet;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{LoginConfig, LoginService, bind_loopback, serve};
use crate::{Account, ExpectedCircuit, RegionGate, RegionInfo};
use overlook_protocol::login::{
    LoginReply, LoginRequest, LoginSuccess, StartLocation, parse_login_response,
};
use overlook_protocol::types::Uuid;

/// What the mock gate was asked.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Call {
    Expect(ExpectedCircuit),
    Kick(Uuid, String),
    SeedsGranted(Uuid),
}

/// A region gate that records calls; `expect` makes an agent present unless `refuse` is set.
#[derive(Default)]
pub(super) struct MockGate {
    pub(super) calls: Mutex<Vec<Call>>,
    pub(super) present: Mutex<HashSet<Uuid>>,
    pub(super) refuse: Mutex<Option<String>>,
}

impl MockGate {
    pub(super) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl RegionGate for MockGate {
    fn expect(&self, circuit: ExpectedCircuit) -> Result<(), String> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Expect(circuit.clone()));
        if let Some(text) = self.refuse.lock().unwrap().clone() {
            return Err(text);
        }
        self.present.lock().unwrap().insert(circuit.agent_id);
        Ok(())
    }
    fn is_present(&self, agent: Uuid) -> bool {
        self.present.lock().unwrap().contains(&agent)
    }
    fn kick(&self, agent: Uuid, reason: &str) {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Kick(agent, reason.into()));
        self.present.lock().unwrap().remove(&agent);
    }
    fn seeds_granted(&self, agent: Uuid) {
        self.calls.lock().unwrap().push(Call::SeedsGranted(agent));
    }
}

pub(super) const TEST_USER: &str = "7e57a6e0-0000-4000-8000-000000000001";
pub(super) const PROBE: &str = "7c0ffee0-0000-4000-8000-000000000001";

pub(super) fn uuid(text: &str) -> Uuid {
    text.parse().unwrap()
}

pub(super) fn region() -> RegionInfo {
    RegionInfo {
        name: "Test Region".into(),
        region_id: Uuid([5; 16]),
        size_x: 256,
        size_y: 256,
        world_x: 256_000,
        world_y: 256_000,
        udp: "127.0.0.1:9123".parse().unwrap(),
        water_height: 20.0,
        terrain_detail: crate::textures::TERRAIN_DETAIL,
    }
}

pub(super) fn accounts() -> Vec<Account> {
    vec![
        Account {
            first: "Test".into(),
            last: "User".into(),
            password: "test".into(),
            agent_id: uuid(TEST_USER),
        },
        Account {
            first: "Capture".into(),
            last: "Probe".into(),
            password: "capture".into(),
            agent_id: uuid(PROBE),
        },
    ]
}

/// A served login service on a free loopback port; aborted on drop.
pub(super) struct Harness {
    pub(super) addr: SocketAddr,
    pub(super) gate: Arc<MockGate>,
    task: JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Harness {
    pub(super) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`Harness::start`] (a 50 ms event-poll hold), with the configuration adjusted first.
    pub(super) async fn start_with(adjust: impl FnOnce(&mut LoginConfig)) -> Self {
        let listener = bind_loopback().await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = LoginConfig::new(accounts(), region(), &format!("http://{addr}/"));
        config.event_poll_hold = Duration::from_millis(50);
        adjust(&mut config);
        let gate = Arc::new(MockGate::default());
        let service = Arc::new(LoginService::new(config, gate.clone()));
        let task = tokio::spawn(serve(listener, service));
        Harness { addr, gate, task }
    }

    pub(super) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(super) async fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        request(self.addr, "POST", path, Some(content_type), body).await
    }

    pub(super) async fn login(&self, body: &str) -> LoginReply {
        let reply = self.post("/", "text/xml", body.as_bytes()).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), Some("text/xml"));
        parse_login_response(&reply.body).unwrap()
    }

    pub(super) async fn login_as(&self, first: &str, last: &str, password: &str) -> LoginReply {
        self.login(&LoginRequest::new(first, last, password, StartLocation::Last).to_xml())
            .await
    }
}

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Reply {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection; the whole answer, read until the server closes.
pub(super) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply {
    let extra = content_type.map_or(String::new(), |ct| format!("Content-Type: {ct}\r\n"));
    exchange(addr, method, path, &extra, body).await
}

/// A request without a body, with `extra` header lines (each ending in `\r\n`).
pub(super) async fn request_with(addr: SocketAddr, method: &str, path: &str, extra: &str) -> Reply {
    exchange(addr, method, path, extra, b"").await
}

async fn exchange(addr: SocketAddr, method: &str, path: &str, extra: &str, body: &[u8]) -> Reply {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut out = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(extra.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        let mut rest = out.as_slice();
        while !rest.is_empty() {
            stream.writable().await.unwrap();
            match stream.try_write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("write: {e}"),
            }
        }
        let mut raw = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            stream.readable().await.unwrap();
            match stream.try_read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("http exchange timed out");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let reply = Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    assert_ne!(reply.header("transfer-encoding"), Some("chunked"));
    reply
}

pub(super) fn success(reply: LoginReply) -> LoginSuccess {
    match reply {
        LoginReply::Success(s) => *s,
        other => panic!("not a success: {other:?}"),
    }
}

pub(super) fn refused(reason: &str, message: &str) -> LoginReply {
    LoginReply::Refused {
        reason: reason.into(),
        message: message.into(),
    }
}

pub(super) fn expected_circuits(gate: &MockGate) -> Vec<ExpectedCircuit> {
    gate.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Expect(circuit) => Some(circuit),
            _ => None,
        })
        .collect()
}

/// The seed URL's path, checked to have OpenSim's shape `/CAPS/<uuid>0000/`.
pub(super) fn seed_path(h: &Harness, s: &LoginSuccess) -> String {
    let path = s.seed_capability.strip_prefix(&h.base()).unwrap();
    let segment = path
        .strip_prefix("/CAPS/")
        .unwrap()
        .strip_suffix("0000/")
        .unwrap();
    assert!(
        segment.parse::<Uuid>().is_ok() && segment.len() == 36,
        "{path}"
    );
    path.to_owned()
}
