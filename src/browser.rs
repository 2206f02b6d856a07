//! The viewer in a page (`wasm32-unknown-unknown`, built by `web/build.sh`, served with its
//! relay by `overlook web`).
//!
//! The same plugins as the desktop viewer ([`crate::viewer::ViewerPlugins`]); what differs is
//! only here and in the network layer's platform module:
//! - **Login:** the page asks its relay (`GET /relay/info`) whether `overlook web` holds an
//!   account. If it does, the page logs in at once through `/relay/auto-login` (the password
//!   stays on the server); else the login dialog opens with `/relay/login` as the grid.
//! - **Replay:** `queue_replay` (the page's file picker, drag and drop, or `?replay=URL`)
//!   plays a recording in place of the session, with no network.
//! - **Automation:** `document.title` names the latest phase of the story reached,
//!   `overlook: <phase id>` (e.g. `overlook: objects_settled`), or `overlook: error: <why>` when
//!   the login fails, the session ends or the viewer panics, and the root element's
//!   `data-overlook-phases` lists every phase reached ([`PageTitle`]), so a driver can wait.
//!
//! The page's own pieces (the `web_sys` calls) build for `wasm32` only; the rest (what the relay's
//! answer means, what the title says) is tested on the desktop.

#[cfg(target_arch = "wasm32")]
pub use page::{queue_replay, run};

use bevy::prelude::*;

use crate::net::LoginParams;
use crate::net::plugin::{PhaseReached, Session, SessionState};
use overlook_protocol::circuit::Phase;
use overlook_protocol::login::StartLocation;

/// How the page logs in: the relay's routes, and whether the relay holds the password.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayLogin {
    /// The login: `<origin>/relay/auto-login` or `<origin>/relay/login` as the grid.
    pub params: LoginParams,
    /// `/relay/auto-login` is configured: log in at once.
    pub password_kept: bool,
}

/// The login a `/relay/info` answer calls for, for a page at `origin`; `None` when `info` is
/// not such an answer.
pub fn relay_login(origin: &str, info: &str) -> Option<RelayLogin> {
    let value: serde_json::Value = serde_json::from_str(info).ok()?;
    let auto = value.get("auto_login")?.as_bool()?;
    let text = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let route = if auto { "auto-login" } else { "login" };
    Some(RelayLogin {
        params: LoginParams {
            grid: format!("{origin}/relay/{route}"),
            first: text("first"),
            last: text("last"),
            password: String::new(),
            start: StartLocation::from_start_string(&text("start")),
        },
        password_kept: auto,
    })
}

/// What the page shows a driver: its title, `overlook: <latest phase>` or
/// `overlook: error: <why>`, and every phase of the session reached so far (the root element's
/// `data-overlook-phases`, ids separated by spaces): phases a frame apart show in the title only
/// as the later one, and the story's phases do not always come in its order (objects may
/// arrive before the terrain is complete).
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct PageTitle {
    /// The title.
    pub title: String,
    /// The phases reached, in the order they were.
    pub phases: Vec<Phase>,
}

/// The page's own systems: the title (and, in a page, replays handed over).
#[derive(Debug, Default)]
pub struct BrowserPlugin;

impl Plugin for BrowserPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TitleState>()
            .init_resource::<PageTitle>()
            .add_systems(Update, show_progress_in_title);
        #[cfg(target_arch = "wasm32")]
        app.add_systems(PreUpdate, page::start_pending_replay)
            .add_systems(Last, page::apply_title);
    }
}

/// What the title shows now.
#[derive(Resource, Debug, Default)]
struct TitleState {
    /// The latest phase: its time since the login, its place in the story, and it.
    latest: Option<(u64, usize, Phase)>,
    error: bool,
}

/// `overlook: <latest phase reached>` (by its time; the story's order among equal times), or
/// `overlook: error: <why>` once the login failed or the session ended; a new session starts
/// over.
fn show_progress_in_title(
    mut phases: MessageReader<PhaseReached>,
    session: Res<Session>,
    mut state: ResMut<TitleState>,
    mut title: ResMut<PageTitle>,
) {
    let mut changed = false;
    for reached in phases.read() {
        if reached.phase == Phase::Logout || title.phases.contains(&reached.phase) {
            continue;
        }
        title.phases.push(reached.phase);
        let rank = Phase::ALL
            .iter()
            .position(|&q| q == reached.phase)
            .unwrap_or(0);
        let key = (reached.ms, rank, reached.phase);
        if state
            .latest
            .is_none_or(|(ms, r, _)| (key.0, key.1) > (ms, r))
        {
            state.latest = Some(key);
            changed = true;
        }
    }
    let failure = match &session.state {
        SessionState::Failed(why) => Some(why.clone()),
        SessionState::Disconnected(why) => Some(format!("disconnected: {why}")),
        _ => None,
    };
    match failure {
        Some(why) if !state.error => {
            state.error = true;
            title.title = format!("overlook: error: {why}");
        }
        None if state.error => {
            // Logging in again (the dialog): the story starts over.
            *state = TitleState::default();
            *title = PageTitle {
                title: "overlook: logging in".into(),
                phases: Vec::new(),
            };
        }
        _ => {}
    }
    if changed
        && !state.error
        && let Some((_, _, phase)) = state.latest
    {
        title.title = format!("overlook: {}", phase.id());
    }
}

#[cfg(target_arch = "wasm32")]
mod page {
    use std::cell::RefCell;
    use std::sync::Arc;

    use bevy::prelude::*;

    use super::{BrowserPlugin, PageTitle, RelayLogin, TitleState, relay_login};
    use crate::net::plugin::{Net, Session};
    use crate::net::replay::{Recording, ReplaySource};
    use crate::viewer::ViewerOptions;

    thread_local! {
        /// A recording handed over by the page, waiting for the next frame.
        static PENDING_REPLAY: RefCell<Option<ReplaySource>> = const { RefCell::new(None) };
    }

    /// Starts the viewer in the page: asks the relay how to log in, then runs the app on the
    /// page's event loop.
    pub fn run() {
        wasm_bindgen_futures::spawn_local(async {
            let origin = page_origin();
            let login = match relay_info(&origin).await {
                Ok(login) => login,
                Err(e) => {
                    set_title(&format!("overlook: error: {e}"));
                    return;
                }
            };
            // A page opened to replay a recording (`?replay=URL`) does not log in meanwhile.
            let auto_login = login.password_kept && query_param("replay").is_none();
            let options = ViewerOptions {
                login: Some(login.params),
                auto_login,
                ..ViewerOptions::default()
            };
            let mut app = crate::viewer::app(options);
            app.add_plugins(BrowserPlugin);
            set_panic_title();
            app.run();
        });
    }

    /// The value of `name` in the page's query string (`?replay=…&speed=2`), if there.
    fn query_param(name: &str) -> Option<String> {
        let search = web_sys::window()?.location().search().ok()?;
        search
            .trim_start_matches('?')
            .split('&')
            .find_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key == name).then(|| js_sys::decode_uri_component(value).ok().map(String::from))
            })
            .flatten()
    }

    /// The page's origin, e.g. `http://127.0.0.1:8080`.
    fn page_origin() -> String {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }

    /// Asks the relay whether it logs in itself, and as whom.
    async fn relay_info(origin: &str) -> Result<RelayLogin, String> {
        let url = format!("{origin}/relay/info");
        let response = reqwest::get(&url)
            .await
            .map_err(|e| format!("cannot reach the relay at {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the relay at {url} answered HTTP {}: is this page served by `overlook web`?",
                response.status().as_u16()
            ));
        }
        let text = response
            .text()
            .await
            .map_err(|e| format!("reading {url}: {e}"))?;
        relay_login(origin, &text).ok_or_else(|| format!("{url}: not the relay's answer: {text}"))
    }

    /// Plays `recording` (a `NAME.udp.jsonl`'s bytes, with its `NAME.login-response.xml` when
    /// given) in place of the session, from the next frame on.
    ///
    /// # Errors
    /// What could not be read, for the page to show.
    pub fn queue_replay(recording: &[u8], login_reply: Option<&[u8]>) -> Result<(), String> {
        let name = "the recording";
        let recording = Recording::from_bytes(
            name,
            recording,
            login_reply.map(|r| ("its login reply".to_owned(), r)),
            None,
        )?;
        // At the recorded pace, or `?speed=N` times it.
        let speed = query_param("speed")
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(1.0);
        PENDING_REPLAY.with(|p| {
            *p.borrow_mut() = Some(ReplaySource {
                udp: name.into(),
                speed: Some(speed),
                loaded: Some(Arc::new(recording)),
            });
        });
        set_title("overlook: replay");
        Ok(())
    }

    /// Replaces the session with a replay the page handed over.
    pub(super) fn start_pending_replay(
        mut commands: Commands,
        mut session: ResMut<Session>,
        mut title: ResMut<TitleState>,
        mut page: ResMut<PageTitle>,
    ) {
        let Some(source) = PENDING_REPLAY.with(|p| p.borrow_mut().take()) else {
            return;
        };
        match crate::net::NetHandle::replay(source) {
            Ok(handle) => {
                // The old session's task logs out as its handle drops.
                commands.insert_resource(Net(handle));
                *session = Session::default();
                *title = TitleState::default();
                *page = PageTitle::default();
            }
            Err(e) => set_title(&format!("overlook: error: cannot replay: {e}")),
        }
    }

    /// Writes [`PageTitle`] into the document when it changed.
    pub(super) fn apply_title(title: Res<PageTitle>) {
        if !title.is_changed() || title.title.is_empty() {
            return;
        }
        set_title(&title.title);
        let ids: Vec<&str> = title.phases.iter().map(|p| p.id()).collect();
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("data-overlook-phases", &ids.join(" "));
        }
    }

    fn set_title(title: &str) {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(title);
        }
    }

    /// A panic also goes to the title (after the hook already installed, which logs it).
    fn set_panic_title() {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            set_title(&format!("overlook: error: panic: {info}"));
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relays_answer_picks_auto_login_or_the_dialog() {
        let origin = "http://127.0.0.1:8080";
        let auto = relay_login(
            origin,
            r#"{"auto_login": true, "first": "Test", "last": "User", "start": "uri:Var Region&64&64&30"}"#,
        )
        .unwrap();
        assert!(auto.password_kept);
        assert_eq!(auto.params.grid, "http://127.0.0.1:8080/relay/auto-login");
        assert_eq!(
            (auto.params.first.as_str(), auto.params.last.as_str()),
            ("Test", "User")
        );
        assert!(auto.params.password.is_empty(), "the page never has it");
        assert_eq!(
            auto.params.start,
            StartLocation::from_start_string("uri:Var Region&64&64&30")
        );
        let dialog = relay_login(origin, r#"{"auto_login": false}"#).unwrap();
        assert!(!dialog.password_kept);
        assert_eq!(dialog.params.grid, "http://127.0.0.1:8080/relay/login");
        assert!(dialog.params.first.is_empty());
        assert_eq!(relay_login(origin, "<html>not found</html>"), None);
        assert_eq!(relay_login(origin, r#"{"auto_login": "yes"}"#), None);
    }

    fn app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<Session>()
            .add_message::<PhaseReached>()
            .add_plugins(BrowserPlugin);
        app
    }

    fn reach(app: &mut App, phase: Phase, ms: u64) {
        app.world_mut().write_message(PhaseReached { phase, ms });
    }

    fn title(app: &App) -> &str {
        &app.world().resource::<PageTitle>().title
    }

    #[test]
    fn the_title_names_the_latest_phase_then_an_error() {
        let mut app = app();
        app.update();
        assert_eq!(title(&app), "");
        reach(&mut app, Phase::RegionHandshake, 40);
        reach(&mut app, Phase::LoginReplied, 10);
        app.update();
        assert_eq!(title(&app), "overlook: region_handshake");
        reach(&mut app, Phase::ObjectsSettled, 900);
        reach(&mut app, Phase::TerrainComplete, 300);
        app.update();
        assert_eq!(title(&app), "overlook: objects_settled");
        // Every phase is there for a driver, in the order they came.
        assert_eq!(
            app.world().resource::<PageTitle>().phases,
            [
                Phase::RegionHandshake,
                Phase::LoginReplied,
                Phase::ObjectsSettled,
                Phase::TerrainComplete
            ]
        );
        // The latest by time, not by the story's order: an object that came before the terrain
        // was complete does not take the title back.
        reach(&mut app, Phase::FirstObject, 250);
        app.update();
        assert_eq!(title(&app), "overlook: objects_settled");
        assert_eq!(
            app.world().resource::<PageTitle>().phases.last(),
            Some(&Phase::FirstObject)
        );
        // Logging out is not progress.
        reach(&mut app, Phase::Logout, 2000);
        app.update();
        assert_eq!(title(&app), "overlook: objects_settled");
        app.world_mut().resource_mut::<Session>().state =
            SessionState::Disconnected("the region stopped answering".into());
        app.update();
        assert_eq!(
            title(&app),
            "overlook: error: disconnected: the region stopped answering"
        );
        // A failed login (the dialog's next try) is named in the server's words.
        app.world_mut().resource_mut::<Session>().state =
            SessionState::LoggingIn { uri: "x".into() };
        app.update();
        assert_eq!(title(&app), "overlook: logging in");
        app.world_mut().resource_mut::<Session>().state =
            SessionState::Failed("Could not authenticate your avatar.".into());
        app.update();
        assert_eq!(
            title(&app),
            "overlook: error: Could not authenticate your avatar."
        );
    }
}
