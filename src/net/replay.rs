//! Replaying a recording (`NAME.udp.jsonl`, the captures' format) through the same sans-IO
//! [`Circuit`] the network thread drives, with no network: the recorded inbound datagrams are
//! fed in at their recorded times (on an injected clock), so phases, terrain and objects come out
//! exactly as [`NetEvent`]s from a live session would. The login reply beside the recording
//! (`NAME.login-response.xml`) gives the region size and the agent; without it they are read from
//! the recorded `UseCircuitCode` and the region is taken to be 256 m.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::Sender;
use tokio::sync::mpsc;
use web_time::Instant;

use super::platform;
use super::record::sibling;
use super::{Direction, NetCommand, NetEvent, NetStats};
use overlook_protocol::capture::{self, read_udp_jsonl};
use overlook_protocol::circuit::{Circuit, CircuitConfig, Event, Phase};
use overlook_protocol::login::{LoginReply, LoginSuccess, parse_login_response};
use overlook_protocol::message::circuit::UseCircuitCode;
use overlook_protocol::message::{Message, MessageRepr};
use overlook_protocol::types::Uuid;
use overlook_protocol::udp;

/// What to replay, and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySource {
    /// The recording (read from this path unless [`Self::loaded`]; else only its name).
    pub udp: PathBuf,
    /// `None`: as fast as possible (`check --replay`); `Some(s)`: at `s` × the recorded pace.
    pub speed: Option<f64>,
    /// The recording already in memory (a page's file picker has no paths).
    pub loaded: Option<std::sync::Arc<Recording>>,
}

impl ReplaySource {
    /// The recording at `udp`, read when the replay starts.
    pub fn file(udp: PathBuf, speed: Option<f64>) -> Self {
        ReplaySource {
            udp,
            speed,
            loaded: None,
        }
    }
}

/// A recording, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// The datagrams, in order.
    pub datagrams: Vec<capture::CapturedDatagram>,
    /// What the session logged in as.
    pub login: LoginSuccess,
    /// Problems worth a warning (a missing login reply).
    pub warnings: Vec<String>,
    /// When the login reply arrived, seconds relative to the first datagram (negative: before
    /// it), from `NAME.meta.json` when present.
    pub login_t: Option<f64>,
}

impl Recording {
    /// Reads a recording and the login reply beside it.
    ///
    /// # Errors
    /// A message saying what could not be read.
    pub fn open(path: &Path) -> Result<Recording, String> {
        let text =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let reply_path = sibling(path, "login-response.xml");
        let reply = std::fs::read(&reply_path).ok();
        let meta = std::fs::read_to_string(sibling(path, "meta.json")).ok();
        Recording::from_bytes(
            &path.display().to_string(),
            &text,
            reply
                .as_deref()
                .map(|r| (reply_path.display().to_string(), r)),
            meta.as_deref(),
        )
    }

    /// Reads a recording from memory: `udp`, the `NAME.udp.jsonl` text (`name` says which in
    /// messages), with its login reply `(name, bytes)` and `meta.json` text when there are.
    ///
    /// # Errors
    /// A message saying what could not be read.
    pub fn from_bytes(
        name: &str,
        udp: &[u8],
        login_reply: Option<(String, &[u8])>,
        meta: Option<&str>,
    ) -> Result<Recording, String> {
        let text = std::str::from_utf8(udp).map_err(|e| format!("{name}: not UTF-8 text: {e}"))?;
        let datagrams = read_udp_jsonl(text).map_err(|e| format!("{name}: {e}"))?;
        let mut warnings = Vec::new();
        let (login, reply_name) = match login_reply {
            Some((reply_name, bytes)) => match parse_login_response(bytes) {
                Ok(LoginReply::Success(s)) => (*s, reply_name),
                Ok(_) => return Err(format!("{reply_name}: not a successful login")),
                Err(e) => return Err(format!("{reply_name}: {e}")),
            },
            None => {
                warnings.push(format!(
                    "no login reply beside {name}: agent from the recorded UseCircuitCode, \
                     region taken as 256 m"
                ));
                let login = from_use_circuit_code(&datagrams)
                    .ok_or_else(|| format!("{name}: no UseCircuitCode recorded"))?;
                (login, name.to_owned())
            }
        };
        super::check_region_size(login.region_size_x, login.region_size_y)
            .map_err(|e| format!("{reply_name}: {e}"))?;
        Ok(Recording {
            datagrams,
            login,
            warnings,
            login_t: meta.and_then(login_time),
        })
    }
}

/// The login's `t` in a capture's `meta.json` (`{"http": [{"what": "login", "t": -0.02, …}]}`).
fn login_time(text: &str) -> Option<f64> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value
        .get("http")?
        .as_array()?
        .iter()
        .find(|h| h.get("what").and_then(serde_json::Value::as_str) == Some("login"))?
        .get("t")?
        .as_f64()
        .filter(|t| t.is_finite() && t.abs() < 3600.0)
}

/// A stand-in login reply from the first recorded `UseCircuitCode`.
fn from_use_circuit_code(datagrams: &[capture::CapturedDatagram]) -> Option<LoginSuccess> {
    let ucc = datagrams
        .iter()
        .filter(|d| d.dir == capture::Direction::Out)
        .filter_map(|d| udp::decode(&d.bytes).ok())
        .find(|p| p.message == UseCircuitCode::ID)
        .and_then(|p| UseCircuitCode::parse(&p.body).ok())?;
    Some(LoginSuccess {
        agent_id: ucc.agent_id,
        session_id: ucc.session_id,
        secure_session_id: Uuid::NIL,
        circuit_code: ucc.code,
        sim_ip: core::net::Ipv4Addr::LOCALHOST,
        sim_port: 0,
        region_x: 0,
        region_y: 0,
        region_size_x: 256,
        region_size_y: 256,
        look_at: None,
        seed_capability: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        message: String::new(),
        seconds_since_epoch: None,
        http_port: None,
        start_location: None,
    })
}

/// The replay task: events as a live session would send them, then idle until shut down.
pub(super) async fn run(
    source: &ReplaySource,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
    events: &Sender<NetEvent>,
) {
    let send = |e: NetEvent| {
        let _ = events.send(e);
    };
    let opened = match &source.loaded {
        Some(loaded) => Ok(loaded.clone()),
        None => Recording::open(&source.udp).map(std::sync::Arc::new),
    };
    let recording = match opened {
        Ok(r) => r,
        Err(e) => {
            send(NetEvent::LoginFailed(super::LoginFailure::Replay(e)));
            return;
        }
    };
    for w in &recording.warnings {
        send(NetEvent::Warning(w.clone()));
    }
    send(NetEvent::LoggingIn {
        uri: format!("replay:{}", source.udp.display()),
    });
    send(NetEvent::LoggedIn(Box::new(recording.login.clone())));
    // Phase times count from the login: recorded in `meta.json` (before the first datagram),
    // else taken as the first datagram's time.
    let lead = Duration::try_from_secs_f64(-recording.login_t.unwrap_or(0.0)).unwrap_or_default();
    let origin = Instant::now();
    let mut cfg = CircuitConfig::new(
        recording.login.agent_id,
        recording.login.session_id,
        recording.login.circuit_code,
    );
    cfg.region_size_x = recording.login.region_size_x;
    cfg.region_size_y = recording.login.region_size_y;
    let mut circuit = Circuit::new(cfg, origin, origin);
    let started = Instant::now();
    for d in &recording.datagrams {
        match commands.try_recv() {
            Ok(NetCommand::Shutdown) | Err(mpsc::error::TryRecvError::Disconnected) => return,
            Ok(
                NetCommand::FetchTextures(_)
                | NetCommand::FetchTextureRest(_)
                | NetCommand::FetchMeshes(_),
            ) => {
                send(no_textures());
            }
            _ => {}
        }
        let at = Duration::try_from_secs_f64(d.t.max(0.0)).unwrap_or_default();
        if let Some(speed) = source.speed.filter(|s| *s > 0.0) {
            let due = at.div_f64(speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                platform::sleep(wait).await;
            }
        }
        let now = origin + lead + at;
        let ms = u64::try_from((lead + at).as_millis()).unwrap_or(u64::MAX);
        match d.dir {
            capture::Direction::In => {
                circuit.handle_timeout(now);
                circuit.handle_datagram(now, &d.bytes);
                send(NetEvent::Datagram {
                    direction: Direction::In,
                    ms,
                    bytes: d.bytes.clone(),
                });
            }
            capture::Direction::Out => send(NetEvent::Datagram {
                direction: Direction::Out,
                ms,
                bytes: d.bytes.clone(),
            }),
        }
        // What our circuit would send is not sent anywhere: the recording has the real ones.
        while circuit.poll_transmit().is_some() {}
        forward_events(&mut circuit, &send);
    }
    // Phases reached without a datagram (login sent and replied) are reported even for an
    // empty recording.
    forward_events(&mut circuit, &send);
    send(NetEvent::Stats(NetStats::of(&circuit)));
    // A recording that never got as far as the region's handshake has nothing more to show: the
    // session ends now, naming the file, instead of leaving `check` to wait for its timeout.
    if circuit.phases().get(Phase::RegionHandshake).is_none() {
        send(NetEvent::Disconnected(format!(
            "the recording {} ended before RegionHandshake ({} datagrams)",
            source.udp.display(),
            recording.datagrams.len()
        )));
    } else {
        // Past the handshake, the scene is as complete as it will get: `check` captures it now
        // instead of waiting for its timeout (a truncated recording).
        send(NetEvent::InputEnded(format!(
            "the recording {} ended ({} datagrams)",
            source.udp.display(),
            recording.datagrams.len()
        )));
    }
    // The recording is over; stay "connected" (a check is still looking) until shut down.
    while let Some(command) = commands.recv().await {
        match command {
            NetCommand::Shutdown => return,
            NetCommand::FetchTextures(_)
            | NetCommand::FetchTextureRest(_)
            | NetCommand::FetchMeshes(_) => {
                send(no_textures());
            }
            _ => {}
        }
    }
}

/// A replay has no capabilities to fetch from.
fn no_textures() -> NetEvent {
    NetEvent::TexturesUnavailable(
        "a recording is replayed: textures and meshes are not fetched".into(),
    )
}

/// Passes the circuit's events on as the network thread would; the replayed circuit closing is
/// only a warning (the recording goes on).
fn forward_events(circuit: &mut Circuit, send: &impl Fn(NetEvent)) {
    while let Some(event) = circuit.poll_event() {
        match event {
            Event::Phase { phase, ms } => send(NetEvent::Phase { phase, ms }),
            Event::Message(m) if !matches!(*m, Message::PacketAck(_)) => {
                send(NetEvent::Message(m));
            }
            Event::Message(_) => {}
            Event::Disconnected(reason) => send(NetEvent::Warning(format!(
                "the replayed circuit closed: {reason}"
            ))),
        }
    }
}
