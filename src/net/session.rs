//! One session on the network thread: log in, open the circuit, pump datagrams, timers and
//! commands through the sans-IO [`Circuit`] until it closes.

use std::net::SocketAddr;

use crossbeam_channel::Sender;
use tokio::sync::mpsc;
use web_time::Instant;

use super::cache::{self, TextureCache};
use super::login::{LoginFailure, post_login, request_seed, resolve_login_uri};
use super::platform::{self, Datagrams};
use super::record::Recorder;
use super::textures::{AssetClass, TextureAsk, TextureFetcher};
use super::{Direction, LoginParams, NetCommand, NetEvent, NetSettings, NetStats, sim_address};
use overlook_protocol::circuit::{Circuit, CircuitConfig, Event};
use overlook_protocol::login::{LoginReply, LoginRequest, LoginSuccess};
use overlook_protocol::message::agent::{ChatFromViewer, ChatType};
use overlook_protocol::message::circuit::AgentIds;

/// Wait before the one retry of a login refused with `presence`.
const PRESENCE_RETRY: std::time::Duration = std::time::Duration::from_secs(3);

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Logged out, refused or disconnected: wait for the next command.
    Ended,
    /// Asked to shut down (or the command channel closed): end the thread.
    Shutdown,
}

/// The event sender with the clock of this session.
struct Reporter<'a> {
    events: &'a Sender<NetEvent>,
    origin: Instant,
}

impl Reporter<'_> {
    fn send(&self, event: NetEvent) {
        // The receiver is gone only while the app shuts down; nothing is left to tell.
        let _ = self.events.send(event);
    }

    fn ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }
}

/// Logs in with `params` and runs the circuit until it closes.
pub(super) async fn run(
    settings: &NetSettings,
    client: &reqwest::Client,
    params: &LoginParams,
    commands: &mut mpsc::UnboundedReceiver<NetCommand>,
    events: &Sender<NetEvent>,
) -> Outcome {
    let origin = Instant::now();
    let report = Reporter { events, origin };
    let login = async {
        let uri = resolve_login_uri(client, settings, &params.grid).await?;
        report.send(NetEvent::LoggingIn { uri: uri.clone() });
        let request = LoginRequest::new(
            &params.first,
            &params.last,
            &params.password,
            params.start.clone(),
        );
        let reply = post_login(client, settings, &uri, &request).await;
        // OpenSim refuses a login once with `presence` while it kicks a stale session of the
        // same account (PROTOCOL §8); a retry a moment later gets in.
        if let Ok((LoginReply::Refused { reason, message }, _)) = &reply
            && reason == "presence"
        {
            report.send(NetEvent::LoginRetried {
                reason: reason.clone(),
                message: message.clone(),
                after: PRESENCE_RETRY,
            });
            platform::sleep(PRESENCE_RETRY).await;
            return post_login(client, settings, &uri, &request).await;
        }
        reply
    };
    tokio::pin!(login);
    // The login may take a while against a slow grid: stay responsive to commands meanwhile.
    let reply = loop {
        tokio::select! {
            reply = &mut login => break reply,
            command = commands.recv() => match command {
                None | Some(NetCommand::Shutdown) => return Outcome::Shutdown,
                Some(NetCommand::Logout) => {
                    report.send(NetEvent::Disconnected("login cancelled".into()));
                    return Outcome::Ended;
                }
                Some(_) => report.send(NetEvent::Warning("still logging in".into())),
            },
        }
    };
    let (reply, raw_reply) = match reply {
        Ok((reply, raw)) => (Ok(reply), raw),
        Err(e) => (Err(e), Vec::new()),
    };
    let success = match reply {
        Ok(LoginReply::Success(success)) => success,
        Ok(LoginReply::Refused { reason, message }) => {
            report.send(NetEvent::LoginFailed(LoginFailure::Refused {
                reason,
                message,
            }));
            return Outcome::Ended;
        }
        Ok(LoginReply::Indeterminate { next_url, message }) => {
            report.send(NetEvent::LoginFailed(LoginFailure::BadReply(format!(
                "the grid asks to log in again at {next_url} ({message}); not supported"
            ))));
            return Outcome::Ended;
        }
        Err(failure) => {
            report.send(NetEvent::LoginFailed(failure));
            return Outcome::Ended;
        }
    };
    if let Err(e) = super::check_region_size(success.region_size_x, success.region_size_y) {
        report.send(NetEvent::LoginFailed(LoginFailure::BadReply(e)));
        return Outcome::Ended;
    }
    let replied = Instant::now();
    report.send(NetEvent::LoggedIn(success.clone()));
    let socket = match Datagrams::open(&raw_reply).await {
        Ok(s) => s,
        Err(e) => {
            report.send(NetEvent::Disconnected(e));
            return Outcome::Ended;
        }
    };
    let mut cfg = CircuitConfig::new(success.agent_id, success.session_id, success.circuit_code);
    cfg.region_size_x = success.region_size_x;
    cfg.region_size_y = success.region_size_y;
    let circuit = Circuit::new(cfg, origin, replied);
    let recorder =
        settings
            .record
            .as_deref()
            .and_then(|path| match Recorder::create(path, &raw_reply) {
                Ok(r) => Some(r),
                Err(e) => {
                    report.send(NetEvent::Warning(format!(
                        "cannot record to {}: {e}",
                        path.display()
                    )));
                    None
                }
            });
    pump(
        settings, client, &success, socket, circuit, commands, &report, recorder,
    )
    .await
}

/// Drives the circuit over the socket until it closes.
#[allow(clippy::too_many_arguments)]
async fn pump(
    settings: &NetSettings,
    client: &reqwest::Client,
    success: &LoginSuccess,
    socket: Datagrams,
    circuit: Circuit,
    commands: &mut mpsc::UnboundedReceiver<NetCommand>,
    report: &Reporter<'_>,
    recorder: Option<Recorder>,
) -> Outcome {
    let seed = async {
        if success.seed_capability.is_empty() {
            Err(LoginFailure::BadReply(
                "the login reply has no seed capability".into(),
            ))
        } else {
            request_seed(client, settings, &success.seed_capability).await
        }
    };
    tokio::pin!(seed);
    let mut seed_pending = true;
    // The disk caches, textures' and meshes' beside it; one that cannot be opened is a warning.
    let open_cache = |open: fn(&std::path::Path, u64) -> std::io::Result<TextureCache>,
                      what: &str| {
        let dir = settings.texture_cache.as_deref()?;
        open(dir, cache::DEFAULT_MAX_BYTES)
            .map_err(|e| {
                report.send(NetEvent::Warning(format!(
                    "{what} {}: {e}; fetching without it",
                    dir.display()
                )));
            })
            .ok()
            .map(std::sync::Arc::new)
    };
    let cache = open_cache(|dir, max| TextureCache::open(dir, max), "texture cache");
    let mesh_cache = open_cache(
        TextureCache::open_meshes,
        "mesh cache beside the texture cache",
    );
    let mut textures = TextureFetcher::new(AssetClass::Texture, cache);
    let mut meshes = TextureFetcher::new(AssetClass::Mesh, mesh_cache);
    let mut open = OpenCircuit {
        settings,
        success,
        sim: sim_address(success),
        socket,
        circuit,
        report,
        recorder,
        shutting_down: false,
    };
    let mut buf = vec![0u8; 65_536];
    let mut next_stats = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_stats {
            report.send(NetEvent::Stats(NetStats::of(&open.circuit)));
            next_stats = now + settings.stats_interval;
        }
        open.transmit(now).await;
        if let Some(outcome) = open.report_events() {
            return outcome;
        }
        for mut failed in textures.start(client) {
            failed.ms = report.ms(Instant::now());
            report.send(NetEvent::TextureFetched(failed));
        }
        for mut failed in meshes.start(client) {
            failed.ms = report.ms(Instant::now());
            report.send(NetEvent::MeshFetched(failed));
        }
        let deadline = open
            .circuit
            .poll_timeout()
            .map_or(next_stats, |t| t.min(next_stats));
        tokio::select! {
            received = open.socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => open.received(from, buf.get(..n).unwrap_or_default()),
                // e.g. ICMP port unreachable reported on the next receive: the circuit's
                // timers decide whether the region is gone.
                Err(e) => tracing::debug!("receive: {e}"),
            },
            () = platform::sleep_until(deadline) => {
                open.circuit.handle_timeout(Instant::now());
            }
            command = commands.recv() => match command {
                Some(NetCommand::FetchTextures(asks)) => textures.request(asks),
                Some(NetCommand::FetchTextureRest(asks)) => textures.request_rest(asks),
                Some(NetCommand::FetchMeshes(asks)) => meshes.request(
                    asks.into_iter().map(|(id, priority)| TextureAsk {
                        priority,
                        ..TextureAsk::whole(id)
                    }),
                ),
                other => open.command(other),
            },
            Some(mut done) = textures.next() => {
                done.ms = report.ms(Instant::now());
                textures.finished(&done);
                report.send(NetEvent::TextureFetched(done));
            }
            Some(mut done) = meshes.next() => {
                done.ms = report.ms(Instant::now());
                report.send(NetEvent::MeshFetched(done));
            }
            seed_reply = &mut seed, if seed_pending => {
                seed_pending = false;
                match seed_reply {
                    Ok(caps) => {
                        textures.set_caps(Some(&caps));
                        meshes.set_caps(Some(&caps));
                        report.send(NetEvent::SeedGranted(caps.len()));
                    }
                    Err(e) => {
                        textures.set_caps(None);
                        meshes.set_caps(None);
                        report.send(NetEvent::Warning(format!("seed capability: {e}")));
                    }
                }
            }
        }
    }
}

/// An open circuit and what it talks through: the socket, the event channel, the recording.
struct OpenCircuit<'a> {
    settings: &'a NetSettings,
    success: &'a LoginSuccess,
    sim: SocketAddr,
    socket: Datagrams,
    circuit: Circuit,
    report: &'a Reporter<'a>,
    recorder: Option<Recorder>,
    /// A shutdown was asked for: the thread ends once the logout is done.
    shutting_down: bool,
}

impl OpenCircuit<'_> {
    /// Sends everything the circuit has queued (and records and reports it).
    async fn transmit(&mut self, now: Instant) {
        while let Some(datagram) = self.circuit.poll_transmit() {
            if let Err(e) = self.socket.send_to(&datagram, self.sim).await {
                tracing::warn!("sending to {}: {e}", self.sim);
            }
            record(
                &mut self.recorder,
                self.report,
                Instant::now(),
                Direction::Out,
                &datagram,
            );
            if self.settings.report_datagrams {
                self.report.send(NetEvent::Datagram {
                    direction: Direction::Out,
                    ms: self.report.ms(now),
                    bytes: datagram,
                });
            }
        }
    }

    /// Passes the circuit's events on; once it has closed, how the session ended.
    fn report_events(&mut self) -> Option<Outcome> {
        while let Some(event) = self.circuit.poll_event() {
            match event {
                Event::Phase { phase, ms } => self.report.send(NetEvent::Phase { phase, ms }),
                Event::Message(m) => self.report.send(NetEvent::Message(m)),
                Event::Disconnected(reason) => {
                    if let Some(r) = self.recorder.as_mut()
                        && let Err(e) = r.flush()
                    {
                        self.report
                            .send(NetEvent::Warning(format!("recording: {e}")));
                    }
                    self.report
                        .send(NetEvent::Stats(NetStats::of(&self.circuit)));
                    self.report.send(NetEvent::Disconnected(reason.to_string()));
                    return Some(if self.shutting_down {
                        Outcome::Shutdown
                    } else {
                        Outcome::Ended
                    });
                }
            }
        }
        None
    }

    /// A datagram arrived: the region's goes into the circuit, anyone else's is dropped.
    fn received(&mut self, from: SocketAddr, bytes: &[u8]) {
        if from != self.sim {
            tracing::debug!("dropped a datagram from {from}, not the region");
            return;
        }
        let now = Instant::now();
        record(&mut self.recorder, self.report, now, Direction::In, bytes);
        self.circuit.handle_datagram(now, bytes);
        if self.settings.report_datagrams {
            self.report.send(NetEvent::Datagram {
                direction: Direction::In,
                ms: self.report.ms(now),
                bytes: bytes.to_vec(),
            });
        }
    }

    /// A command from the viewer (`None`: the viewer is gone, as a shutdown).
    fn command(&mut self, command: Option<NetCommand>) {
        let now = Instant::now();
        match command {
            Some(NetCommand::Chat(text)) => {
                let chat = ChatFromViewer {
                    agent: AgentIds {
                        agent_id: self.success.agent_id,
                        session_id: self.success.session_id,
                    },
                    message: text,
                    chat_type: ChatType::Normal,
                    channel: 0,
                };
                if let Err(e) = self.circuit.send(now, &chat, true) {
                    self.report
                        .send(NetEvent::Warning(format!("chat not sent: {e}")));
                }
            }
            Some(NetCommand::Controls(flags)) => self.circuit.set_controls(now, flags),
            Some(NetCommand::Logout) => self.circuit.logout(now),
            None | Some(NetCommand::Shutdown) => {
                self.shutting_down = true;
                self.circuit.logout(now);
            }
            // Taken by the pump before it gets here.
            Some(
                NetCommand::FetchTextures(_)
                | NetCommand::FetchTextureRest(_)
                | NetCommand::FetchMeshes(_),
            ) => {}
            Some(NetCommand::Login(_)) => {
                self.report
                    .send(NetEvent::Warning("already logged in; log out first".into()));
            }
        }
    }
}

/// Appends a datagram to the recording, if any; a write error stops the recording with a warning.
fn record(
    recorder: &mut Option<Recorder>,
    report: &Reporter<'_>,
    now: Instant,
    direction: Direction,
    bytes: &[u8],
) {
    if let Some(r) = recorder.as_mut()
        && let Err(e) = r.datagram(now, direction, bytes)
    {
        report.send(NetEvent::Warning(format!("recording stopped: {e}")));
        *recorder = None;
    }
}
