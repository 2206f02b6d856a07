//! The network side of the viewer: one task owns the HTTP login, the seed capability request,
//! the circuit's socket and the sans-IO [`Circuit`]; it sleeps until the circuit's next
//! deadline, a datagram or a command. On the desktop the task is a thread running a tokio
//! runtime and the socket is UDP; in a page (`wasm32`) it runs on the page's event loop and the
//! datagrams go through `overlook web`'s relay (`platform.rs`).
//!
//! [`NetHandle::spawn`] starts it. [`NetCommand`]s go in through a tokio channel (a synchronous
//! `send`, so Bevy systems can call it); [`NetEvent`]s come out through a crossbeam channel that
//! the Bevy side drains once per frame. Nothing here depends on Bevy: `overlook check` and the
//! tests drive the same thread without a window.
//!
//! Failures never end the thread: an unreachable grid times out with a message, a refused login
//! reports the server's own `reason` and `message`, a dead circuit reports why, and a new
//! [`NetCommand::Login`] tries again.
//!
//! [`Circuit`]: overlook_protocol::circuit::Circuit

pub mod cache;
mod login;
mod platform;
pub mod record;
pub mod replay;
mod session;
pub mod textures;

#[cfg(not(target_arch = "wasm32"))]
pub mod embedded;
pub mod plugin;

use std::net::SocketAddr;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use tokio::sync::mpsc;

pub use login::{LoginFailure, MAX_REPLY_BYTES, resolve_login_uri};

use overlook_protocol::circuit::{Phase, ReliableStats};
use overlook_protocol::login::{LoginSuccess, StartLocation};
use overlook_protocol::message::Message;

/// What to log in with.
#[derive(Clone, PartialEq)]
pub struct LoginParams {
    /// The login URI (`http://host:port/`), or a grid's `…/get_grid_info` URL to read it from.
    pub grid: String,
    /// First name.
    pub first: String,
    /// Last name.
    pub last: String,
    /// The clear-text password (hashed before it is sent, as viewers do).
    pub password: String,
    /// Where to arrive.
    pub start: StartLocation,
}

impl LoginParams {
    /// Login parameters from text as a person typed it: grid and names trimmed, the start string
    /// (`last`, `home` or `uri:Region&x&y&z`) parsed; the password is kept as given.
    pub fn new(grid: &str, first: &str, last: &str, password: &str, start: &str) -> Self {
        LoginParams {
            grid: grid.trim().to_owned(),
            first: first.trim().to_owned(),
            last: last.trim().to_owned(),
            password: password.to_owned(),
            start: StartLocation::from_start_string(start.trim()),
        }
    }

    /// Whether everything a login needs is there, so it can go out without asking.
    pub fn is_complete(&self) -> bool {
        !self.grid.is_empty()
            && !self.first.is_empty()
            && !self.last.is_empty()
            && !self.password.is_empty()
    }
}

impl std::fmt::Debug for LoginParams {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginParams")
            .field("grid", &self.grid)
            .field("first", &self.first)
            .field("last", &self.last)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

/// Timeouts of the network thread.
#[derive(Debug, Clone)]
pub struct NetSettings {
    /// Connecting to the login service.
    pub connect_timeout: Duration,
    /// The whole login request, reply included.
    pub login_timeout: Duration,
    /// How often [`NetEvent::Stats`] is reported while a circuit is open.
    pub stats_interval: Duration,
    /// Whether every datagram is reported as [`NetEvent::Datagram`] (packet inspector).
    pub report_datagrams: bool,
    /// Record each session's datagrams to this `NAME.udp.jsonl` (and its login reply beside it),
    /// in the format of `shared/captures/`.
    pub record: Option<std::path::PathBuf>,
    /// Keep fetched textures in this disk cache directory ([`cache`]; `None`: fetch every
    /// texture from the grid, as `check` does).
    pub texture_cache: Option<std::path::PathBuf>,
}

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings {
            connect_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(30),
            stats_interval: Duration::from_millis(250),
            report_datagrams: true,
            record: None,
            texture_cache: None,
        }
    }
}

/// Sent to the network thread.
#[derive(Debug, Clone)]
pub enum NetCommand {
    /// Log in and open the circuit (ignored while a session is running).
    Login(LoginParams),
    /// Say something in local chat.
    Chat(String),
    /// Set the `AgentUpdate` control flags (walk, turn, fly).
    Controls(u32),
    /// Log out of the current session; the thread stays up for another login.
    Logout,
    /// Log out if connected, then end the thread.
    Shutdown,
    /// Fetch these textures (highest priority first; each once per session, whole or its first
    /// part): each ends in a [`NetEvent::TextureFetched`], or one
    /// [`NetEvent::TexturesUnavailable`] when none can be.
    FetchTextures(Vec<textures::TextureAsk>),
    /// Fetch the rest of these textures, whose first part was fetched, at these priorities:
    /// each ends in a [`NetEvent::TextureFetched`] with the whole codestream.
    FetchTextureRest(Vec<(overlook_protocol::types::Uuid, f32)>),
    /// Fetch these meshes, whole, at these priorities (higher first; each once per session):
    /// each ends in a [`NetEvent::MeshFetched`], or one [`NetEvent::TexturesUnavailable`] when
    /// no asset can be fetched (a replay).
    FetchMeshes(Vec<(overlook_protocol::types::Uuid, f32)>),
}

/// Counters of the open circuit, reported every [`NetSettings::stats_interval`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NetStats {
    /// Smoothed ping round trip, once measured.
    pub rtt: Option<Duration>,
    /// Datagrams received.
    pub packets_in: u64,
    /// Datagrams sent (resends and acks included).
    pub packets_out: u64,
    /// Datagrams dropped because they did not decode.
    pub malformed: u64,
    /// Inbound sequence numbers never received (gaps no resend filled).
    pub lost_in: u64,
    /// Acks, resends and duplicates.
    pub reliable: ReliableStats,
}

impl NetStats {
    /// The counters of a circuit now.
    pub fn of(circuit: &overlook_protocol::circuit::Circuit) -> NetStats {
        let c = circuit.stats();
        let reliable = circuit.reliable_stats();
        NetStats {
            rtt: circuit.rtt(),
            packets_in: c.received,
            packets_out: reliable.sent,
            malformed: c.malformed,
            lost_in: c.lost,
            reliable,
        }
    }
}

/// Which way a datagram went: the captures' own type, so a recording writes what a replay reads.
pub use overlook_protocol::capture::Direction;

/// Reported by the network thread.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// A login request is on its way to `uri`.
    LoggingIn {
        /// The login URI (resolved from grid info when needed).
        uri: String,
    },
    /// The login service accepted us; the circuit opens next.
    LoggedIn(Box<LoginSuccess>),
    /// The login was refused with a reason worth one retry (OpenSim's `presence`, while it
    /// kicks a stale session of the same account); the same request goes out again `after`.
    LoginRetried {
        /// The refusal's `reason` code.
        reason: String,
        /// The refusal's message, in the server's words.
        message: String,
        /// The wait before the retry.
        after: Duration,
    },
    /// The login failed: refused (the server's words), unreachable, timed out or unreadable.
    LoginFailed(LoginFailure),
    /// The seed capability answered with this many capabilities.
    SeedGranted(usize),
    /// A problem worth showing that did not end the session (e.g. the seed request failed).
    Warning(String),
    /// A phase of the story was reached, `ms` after the login request.
    Phase {
        /// Which.
        phase: Phase,
        /// Milliseconds since `login_sent`.
        ms: u64,
    },
    /// A message from the region, decoded and delivered once.
    Message(Box<Message>),
    /// A datagram, as sent or received (only with [`NetSettings::report_datagrams`]).
    Datagram {
        /// Which way.
        direction: Direction,
        /// Milliseconds since the login request.
        ms: u64,
        /// The bytes on the wire.
        bytes: Vec<u8>,
    },
    /// Circuit counters.
    Stats(NetStats),
    /// The session ended (logout, kick, timeout…): the reason, for people.
    Disconnected(String),
    /// A texture was fetched, or could not be ([`textures`]).
    TextureFetched(textures::TextureFetched),
    /// A mesh was fetched, or could not be (the same record as a texture's, always whole).
    MeshFetched(textures::TextureFetched),
    /// Textures cannot be fetched at all in this session (a replay): the reason.
    TexturesUnavailable(String),
    /// A replayed recording has delivered its last datagram: nothing more will arrive, so
    /// whoever waits for the scene can stop waiting. The text names the recording.
    InputEnded(String),
}

/// The viewer's end of the network thread.
#[derive(Debug)]
pub struct NetHandle {
    commands: mpsc::UnboundedSender<NetCommand>,
    events: Receiver<NetEvent>,
    /// The desktop's thread (a page's task cannot be joined).
    #[cfg(not(target_arch = "wasm32"))]
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NetHandle {
    /// Starts the network task: on the desktop a thread with its own single-threaded tokio
    /// runtime, in a page a task on its event loop.
    ///
    /// # Errors
    /// When the runtime or the thread cannot be created (out of resources).
    pub fn spawn(settings: NetSettings) -> std::io::Result<NetHandle> {
        NetHandle::start("overlook-net", move |commands, events| async move {
            run(settings, commands, events).await;
        })
    }

    /// Starts a task that plays a recording as a session's events, with no network.
    ///
    /// # Errors
    /// When the thread cannot be created.
    pub fn replay(source: replay::ReplaySource) -> std::io::Result<NetHandle> {
        NetHandle::start("overlook-replay", move |commands, events| async move {
            replay::run(&source, commands, &events).await;
        })
    }

    /// Runs `task` on its own thread (a current-thread tokio runtime's) with the two channels.
    #[cfg(not(target_arch = "wasm32"))]
    fn start<F: Future<Output = ()> + 'static>(
        name: &str,
        task: impl FnOnce(mpsc::UnboundedReceiver<NetCommand>, Sender<NetEvent>) -> F + Send + 'static,
    ) -> std::io::Result<NetHandle> {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || runtime.block_on(task(cmd_rx, ev_tx)))?;
        Ok(NetHandle {
            commands: cmd_tx,
            events: ev_rx,
            thread: Some(thread),
        })
    }

    /// Runs `task` on the page's event loop with the two channels.
    #[cfg(target_arch = "wasm32")]
    fn start<F: Future<Output = ()> + 'static>(
        _name: &str,
        task: impl FnOnce(mpsc::UnboundedReceiver<NetCommand>, Sender<NetEvent>) -> F,
    ) -> std::io::Result<NetHandle> {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        wasm_bindgen_futures::spawn_local(task(cmd_rx, ev_tx));
        Ok(NetHandle {
            commands: cmd_tx,
            events: ev_rx,
        })
    }

    /// Queues a command; returns false when the thread has ended.
    pub fn send(&self, command: NetCommand) -> bool {
        self.commands.send(command).is_ok()
    }

    /// The event stream.
    pub fn events(&self) -> &Receiver<NetEvent> {
        &self.events
    }

    /// Sends [`NetCommand::Shutdown`] and waits up to `timeout` for the thread to log out and
    /// end. Returns true when it ended in time.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn shutdown(&mut self, timeout: Duration) -> bool {
        let _ = self.commands.send(NetCommand::Shutdown);
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let deadline = std::time::Instant::now() + timeout;
        while !thread.is_finished() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        thread.join().is_ok()
    }

    /// Sends [`NetCommand::Shutdown`]: the page's task logs out on its own (a page cannot wait
    /// for it). Returns true.
    #[cfg(target_arch = "wasm32")]
    pub fn shutdown(&mut self, _timeout: Duration) -> bool {
        self.commands.send(NetCommand::Shutdown).is_ok()
    }
}

impl Drop for NetHandle {
    fn drop(&mut self) {
        #[cfg(not(target_arch = "wasm32"))]
        if self.thread.is_some() {
            self.shutdown(Duration::from_secs(6));
        }
        #[cfg(target_arch = "wasm32")]
        self.shutdown(Duration::ZERO);
    }
}

/// The thread's main loop: wait for a login, run the session, repeat.
async fn run(
    settings: NetSettings,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
    events: Sender<NetEvent>,
) {
    let client = match login::http_client(&settings) {
        Ok(c) => c,
        Err(e) => {
            let _ = events.send(NetEvent::LoginFailed(LoginFailure::Unreachable(format!(
                "cannot create the HTTP client: {e}"
            ))));
            return;
        }
    };
    while let Some(command) = commands.recv().await {
        match command {
            NetCommand::Login(params) => {
                let outcome =
                    session::run(&settings, &client, &params, &mut commands, &events).await;
                if outcome == session::Outcome::Shutdown {
                    return;
                }
            }
            NetCommand::Shutdown => return,
            NetCommand::Chat(_)
            | NetCommand::Controls(_)
            | NetCommand::Logout
            | NetCommand::FetchTextures(_)
            | NetCommand::FetchTextureRest(_)
            | NetCommand::FetchMeshes(_) => {
                let _ = events.send(NetEvent::Warning("not connected".into()));
            }
        }
    }
}

/// Whether the viewer can use a login reply's region size: Second Life regions are 256 m, and
/// OpenSim's var regions are multiples of 256 m up to 4096 m a side. Anything else (0, a size
/// off that grid, a larger one) is refused before a circuit opens, naming the value.
///
/// # Errors
/// The reason, for people.
pub fn check_region_size(size_x: u32, size_y: u32) -> Result<(), String> {
    let usable = overlook_protocol::terrain::Heightmap::valid_side;
    if usable(size_x) && usable(size_y) {
        Ok(())
    } else {
        Err(format!(
            "region size {size_x}×{size_y} m: the viewer needs multiples of 256 m from 256 to \
             4096 m a side"
        ))
    }
}

/// The UDP address of a login reply.
fn sim_address(success: &LoginSuccess) -> SocketAddr {
    SocketAddr::from((success.sim_ip, success.sim_port))
}
