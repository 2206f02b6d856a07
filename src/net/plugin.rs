//! `NetPlugin`: the Bevy side of the network thread, both ways. A [`NetSystems::Receive`] system
//! in `PreUpdate` drains the thread's events into the [`Session`] resource and typed Messages;
//! plugins write [`Outgoing`] commands, which a [`NetSystems::Send`] system in `Last` hands to the
//! thread. Closing the app logs out.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::app::AppExit;
use bevy::prelude::*;

use super::{
    Direction, LoginFailure, LoginParams, NetCommand, NetEvent, NetHandle, NetSettings, NetStats,
};
use overlook_protocol::circuit::{Phase, PhaseTimes};
use overlook_protocol::login::LoginSuccess;
use overlook_protocol::message::Message;

/// System sets of the net plugin.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum NetSystems {
    /// `PreUpdate`: network events become [`Session`] state and Messages.
    Receive,
    /// `Last`: the frame's [`Outgoing`] commands go to the network thread.
    Send,
}

/// A command for the network thread, written by any plugin (chat, controls, a login from the
/// dialog) and sent once per frame in [`NetSystems::Send`].
#[derive(Message, Debug, Clone)]
pub struct Outgoing(pub NetCommand);

/// The network thread. Absent when the thread could not start (the UI then says so). Plugins
/// write [`Outgoing`] rather than use it.
#[derive(Resource, Debug)]
pub struct Net(pub NetHandle);

impl Net {
    /// Queues a command for the network thread.
    pub fn send(&self, command: NetCommand) {
        if !self.0.send(command) {
            warn!("the network thread has ended");
        }
    }
}

/// Where the session stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SessionState {
    /// Not logged in.
    #[default]
    Idle,
    /// A login request is out.
    LoggingIn {
        /// The login URI.
        uri: String,
    },
    /// The circuit is open (or opening).
    Connected,
    /// The login failed: the reason, for people (a refusal in the server's own words).
    Failed(String),
    /// The session ended.
    Disconnected(String),
}

/// Everything known about the current session, for the UI and `check`.
#[derive(Resource, Debug, Default)]
pub struct Session {
    /// Where it stands.
    pub state: SessionState,
    /// The login parameters last used (the password is kept only for a retry from the dialog).
    pub params: Option<LoginParams>,
    /// The login reply.
    pub login: Option<Box<LoginSuccess>>,
    /// When each phase of the story was reached.
    pub phases: PhaseTimes,
    /// Latest circuit counters.
    pub stats: NetStats,
    /// Capabilities granted by the seed, once it answered.
    pub seed_caps: Option<usize>,
    /// Warnings and errors, newest last.
    pub log: VecDeque<String>,
    /// Region messages received, by name (for the status bar and the inspector).
    pub messages_in: u64,
    /// Why the last login failed.
    pub login_failure: Option<LoginFailure>,
    /// Refusals of this login that the network thread retried (`presence`), as `reason` codes.
    pub login_retries: Vec<String>,
    /// The network thread's warnings (the first [`MAX_WARNINGS`]), oldest first.
    pub warnings: Vec<String>,
    /// Warnings past [`MAX_WARNINGS`], counted only.
    pub warnings_dropped: u64,
    /// The replayed recording has no more datagrams ([`NetEvent::InputEnded`]): its words.
    pub input_ended: Option<String>,
}

impl Session {
    /// Adds a line to the session's log (the viewer's Log panel; the last 200 are kept).
    pub fn note(&mut self, line: String) {
        info!("{line}");
        self.log.push_back(line);
        while self.log.len() > 200 {
            self.log.pop_front();
        }
    }

    /// Whether `phase` has been reached.
    pub fn reached(&self, phase: Phase) -> bool {
        self.phases.get(phase).is_some()
    }
}

/// The most warnings [`Session::warnings`] keeps; later ones are counted.
pub const MAX_WARNINGS: usize = 1000;

/// A message from the region, decoded (one per message, in arrival order).
#[derive(Message, Debug, Clone)]
pub struct RegionMessage(pub Box<Message>);

/// A datagram as it went over the wire (packet inspector, recording).
#[derive(Message, Debug, Clone)]
pub struct DatagramLogged {
    /// Which way.
    pub direction: Direction,
    /// Milliseconds since the login request.
    pub ms: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A phase of the story was reached.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct PhaseReached {
    /// Which.
    pub phase: Phase,
    /// Milliseconds since the login request.
    pub ms: u64,
}

/// A new session started (login accepted): plugins reset their region state.
#[derive(Message, Debug, Clone)]
pub struct SessionStarted(pub Box<LoginSuccess>);

/// What the network thread says about textures and meshes.
#[derive(Message, Debug, Clone)]
pub enum TextureNews {
    /// One texture fetched, or failed.
    Fetched(crate::net::textures::TextureFetched),
    /// One mesh fetched, or failed.
    Mesh(crate::net::textures::TextureFetched),
    /// None can be fetched in this session: why.
    Unavailable(String),
}

/// Connects the viewer to the network thread.
#[derive(Debug, Default)]
pub struct NetPlugin {
    /// Log in with these as soon as the app starts.
    pub auto_login: Option<LoginParams>,
    /// Thread settings.
    pub settings: NetSettings,
    /// Play this recording instead of going on the network.
    pub replay: Option<super::replay::ReplaySource>,
}

impl Plugin for NetPlugin {
    fn build(&self, app: &mut App) {
        let mut session = Session::default();
        let handle = match &self.replay {
            Some(source) => NetHandle::replay(source.clone()),
            None => NetHandle::spawn(self.settings.clone()),
        };
        match handle {
            Ok(handle) => {
                if let Some(params) = &self.auto_login {
                    handle.send(NetCommand::Login(params.clone()));
                    session.params = Some(params.clone());
                    session.state = SessionState::LoggingIn {
                        uri: params.grid.clone(),
                    };
                }
                app.insert_resource(Net(handle));
            }
            Err(e) => session.state = SessionState::Failed(format!("cannot start networking: {e}")),
        }
        app.insert_resource(session)
            .add_message::<RegionMessage>()
            .add_message::<DatagramLogged>()
            .add_message::<PhaseReached>()
            .add_message::<SessionStarted>()
            .add_message::<Outgoing>()
            .add_message::<TextureNews>()
            .add_systems(PreUpdate, receive_net_events.in_set(NetSystems::Receive))
            .add_systems(
                Last,
                (send_net_commands.in_set(NetSystems::Send), log_out_on_exit).chain(),
            );
    }
}

/// Most events handled per frame, so a burst cannot stall a frame for long; the rest wait.
const EVENTS_PER_FRAME: usize = 20_000;

/// Drains the network thread's events into [`Session`] and Messages.
pub fn receive_net_events(
    net: Option<Res<Net>>,
    mut session: ResMut<Session>,
    mut region: MessageWriter<RegionMessage>,
    mut datagrams: MessageWriter<DatagramLogged>,
    mut phases: MessageWriter<PhaseReached>,
    mut started: MessageWriter<SessionStarted>,
    mut textures: MessageWriter<TextureNews>,
) {
    let Some(net) = net else { return };
    for event in net.0.events().try_iter().take(EVENTS_PER_FRAME) {
        match event {
            NetEvent::LoggingIn { uri } => {
                session.login_retries.clear();
                session.state = SessionState::LoggingIn { uri };
            }
            NetEvent::LoggedIn(success) => {
                session.state = SessionState::Connected;
                session.login_failure = None;
                session.phases = PhaseTimes::default();
                session.messages_in = 0;
                session.note(format!(
                    "logged in as {} {} (region at {}:{})",
                    success.first_name, success.last_name, success.sim_ip, success.sim_port
                ));
                session.login = Some(success.clone());
                started.write(SessionStarted(success));
            }
            NetEvent::LoginRetried {
                reason,
                message,
                after,
            } => {
                session.note(format!(
                    "login refused ({reason}): {message} — retrying in {} s",
                    after.as_secs()
                ));
                session.login_retries.push(reason);
            }
            NetEvent::LoginFailed(failure) => {
                let text = match &failure {
                    LoginFailure::Refused { message, .. } if !message.is_empty() => message.clone(),
                    other => other.to_string(),
                };
                session.note(format!("login failed: {failure}"));
                session.state = SessionState::Failed(text);
                session.login_failure = Some(failure);
            }
            NetEvent::SeedGranted(n) => session.seed_caps = Some(n),
            NetEvent::Warning(w) => {
                session.note(format!("warning: {w}"));
                if session.warnings.len() < MAX_WARNINGS {
                    session.warnings.push(w);
                } else {
                    session.warnings_dropped += 1;
                }
            }
            NetEvent::Phase { phase, ms } => {
                session.phases.record(phase, ms);
                phases.write(PhaseReached { phase, ms });
            }
            NetEvent::Message(m) => {
                session.messages_in += 1;
                region.write(RegionMessage(m));
            }
            NetEvent::Datagram {
                direction,
                ms,
                bytes,
            } => {
                datagrams.write(DatagramLogged {
                    direction,
                    ms,
                    bytes,
                });
            }
            NetEvent::Stats(stats) => session.stats = stats,
            NetEvent::Disconnected(reason) => {
                session.note(format!("disconnected: {reason}"));
                session.state = SessionState::Disconnected(reason);
            }
            NetEvent::TextureFetched(t) => {
                if let Err(why) = &t.result {
                    session.note(format!("texture {} could not be fetched: {why}", t.id));
                }
                textures.write(TextureNews::Fetched(t));
            }
            NetEvent::MeshFetched(t) => {
                if let Err(why) = &t.result {
                    session.note(format!("mesh {} could not be fetched: {why}", t.id));
                }
                textures.write(TextureNews::Mesh(t));
            }
            NetEvent::TexturesUnavailable(why) => {
                textures.write(TextureNews::Unavailable(why));
            }
            NetEvent::InputEnded(what) => {
                session.note(what.clone());
                session.input_ended = Some(what);
            }
        }
    }
}

/// Hands the frame's [`Outgoing`] commands to the network thread; a login also shows in the
/// [`Session`] at once (the dialog closes while the request is out).
pub fn send_net_commands(
    net: Option<Res<Net>>,
    mut outgoing: MessageReader<Outgoing>,
    mut session: ResMut<Session>,
) {
    let Some(net) = net else {
        outgoing.clear();
        return;
    };
    for Outgoing(command) in outgoing.read() {
        if let NetCommand::Login(params) = command {
            session.state = SessionState::LoggingIn {
                uri: params.grid.clone(),
            };
            session.params = Some(params.clone());
        }
        net.send(command.clone());
    }
}

/// Closing the window logs out (waiting briefly for `LogoutReply`).
fn log_out_on_exit(mut exits: MessageReader<AppExit>, net: Option<ResMut<Net>>) {
    if exits.read().next().is_some()
        && let Some(mut net) = net
    {
        net.0.shutdown(Duration::from_secs(6));
    }
}

/// A headless app for plugin tests: `MinimalPlugins`, assets for meshes and materials, transform
/// propagation, the region resource and the net plugin's Messages (without its thread), ready
/// for the plugin under test.
#[cfg(test)]
pub(crate) fn plugin_test_app() -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        bevy::asset::AssetPlugin::default(),
        bevy::transform::TransformPlugin,
    ))
    .init_asset::<Mesh>()
    .init_asset::<Image>()
    .init_asset::<crate::scene::SceneMaterial>()
    .init_resource::<crate::scene::RegionInfo>()
    .add_message::<RegionMessage>()
    .add_message::<SessionStarted>()
    .add_message::<Outgoing>()
    .add_message::<TextureNews>()
    .configure_sets(PreUpdate, NetSystems::Receive);
    app
}
