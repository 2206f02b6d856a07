//! The embedded region's login service over HTTP (axum on tokio), shaped like OpenSim 0.9.2.2's.
//!
//! Endpoints (see [`LoginService::router`]):
//! - `POST /`: XML-RPC `login_to_simulator` (module `authenticate` has the decision and
//!   OpenSim's refusal texts, see [`LoginRefusal`]); with `Content-Type: application/llsd+xml`
//!   the same login as LLSD, as OpenSim's `HandleLLSDLogin` answers it.
//! - `POST /CAPS/<uuid>0000/`: the seed capability (module `caps`), and the few capabilities it
//!   grants ([`SUPPORTED_CAPS`]), among them `GetTexture` and `ViewerAsset`, which serve the
//!   region's textures ([`crate::textures`]) like OpenSim (module `assets`).
//! - `GET /get_grid_info`: the grid's self-description (PROTOCOL §11); `GET /welcome`: a tiny
//!   splash page for the `welcome` URL it names.
//!
//! Transport-level behaviour follows OpenSim's `BaseHttpServer`: a body that is not XML-RPC at
//! all (malformed XML, another root element) gets **404 `Not found`** in `text/plain` — OpenSim
//! deserializes, catches the `XmlException` and falls through to its "handler not found" answer;
//! it sends neither a fault nor a login refusal. Another method name gets an XML-RPC fault
//! `-32601` (`Requested method [..] not found`), a call whose first parameter is not a struct a
//! fault `-32603` (the handler's cast throws). Everything else is HTTP 200 with a login reply.
//!
//! Nothing here panics on input: bodies go through the protocol layer's parsers, locks recover
//! from poisoning, and axum bounds request bodies (2 MB). The transport is bounded too (module
//! `listen`, [`HttpLimits`]): a header read timeout that is also the idle timeout of kept-alive
//! connections, a request timeout, and a cap on concurrent connections; and an agent holds at
//! most [`EVENT_POLLS_PER_AGENT`] event-queue polls (module `polls`).

mod assets;
mod authenticate;
mod caps;
mod http;
mod ids;
mod listen;
mod polls;
mod reply;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use overlook_protocol::login::GridInfo;
use overlook_protocol::types::{Uuid, Vec3};

use super::{Account, RegionGate, RegionInfo};

pub use authenticate::{
    ALREADY_LOGGED_IN, AUTHORIZATION_PROBLEM, INCOMPLETE_CREDENTIALS, INTERNAL_ERROR,
    INVALID_LLSD_CREDENTIALS, KICK_REASON, LoginAttempt, LoginRefusal, USER_PROBLEM,
};
pub use caps::{CapKind, SUPPORTED_CAPS};
pub use http::bind_loopback;
pub use ids::{IdError, IdSource};
pub use listen::{HEADER_READ_TIMEOUT, HttpLimits, MAX_CONNECTIONS, REQUEST_TIMEOUT, serve};
pub use polls::EVENT_POLLS_PER_AGENT;
pub use reply::llsd_xml;

/// Where an agent starts when the request names no position in this region: the middle of the
/// default island, standing on it (PROTOCOL §8, the connection story).
pub const DEFAULT_START: Vec3 = Vec3::new(128.0, 128.0, 26.03);
/// The direction an agent looks at login (OpenSim's `AgentMovementComplete.LookAt`).
pub const DEFAULT_LOOK_AT: Vec3 = Vec3::new(0.99, 0.042, 0.0);
/// The reply's `message`, as the captured OpenSim sent it.
pub const WELCOME_MESSAGE: &str = "Welcome, Avatar!";
/// How long an `EventQueueGet` poll is held before the "no events" 502.
pub const EVENT_POLL_HOLD: Duration = Duration::from_secs(20);

/// Everything the login service is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginConfig {
    /// The accounts that may log in.
    pub accounts: Vec<Account>,
    /// The region agents are sent to.
    pub region: RegionInfo,
    /// The service's public base URL, e.g. `http://127.0.0.1:9000/` (a trailing `/` is optional).
    /// Seed and capability URLs and the grid info's `login` are built on it.
    pub public_url: String,
    /// The grid's display name (`gridname`; `gridnick` is derived from it).
    pub grid_name: String,
    /// Where agents start by default (see [`DEFAULT_START`]).
    pub default_start: Vec3,
    /// Which way agents look at login (see [`DEFAULT_LOOK_AT`]).
    pub default_look_at: Vec3,
    /// The reply's `message` (see [`WELCOME_MESSAGE`]).
    pub welcome_message: String,
    /// How long an `EventQueueGet` poll is held (see [`EVENT_POLL_HOLD`]).
    pub event_poll_hold: Duration,
    /// How many `EventQueueGet` polls one agent may hold (see [`EVENT_POLLS_PER_AGENT`]).
    pub event_polls_per_agent: usize,
    /// Timeouts and the connection cap of the HTTP transport (see [`HttpLimits`]).
    pub http: HttpLimits,
    /// The textures and meshes the asset capabilities serve.
    pub assets: crate::store::AssetStore,
}

impl LoginConfig {
    /// A configuration with the defaults: grid name `Overlook`, [`DEFAULT_START`],
    /// [`DEFAULT_LOOK_AT`], [`WELCOME_MESSAGE`], [`EVENT_POLL_HOLD`], [`EVENT_POLLS_PER_AGENT`],
    /// the default [`HttpLimits`] and the region's own assets.
    pub fn new(accounts: Vec<Account>, region: RegionInfo, public_url: &str) -> Self {
        LoginConfig {
            accounts,
            region,
            public_url: public_url.to_owned(),
            grid_name: "Overlook".to_owned(),
            default_start: DEFAULT_START,
            default_look_at: DEFAULT_LOOK_AT,
            welcome_message: WELCOME_MESSAGE.to_owned(),
            event_poll_hold: EVENT_POLL_HOLD,
            event_polls_per_agent: EVENT_POLLS_PER_AGENT,
            http: HttpLimits::default(),
            assets: crate::store::AssetStore::builtin(),
        }
    }
}

/// The login service: accounts, the region gate, issued seeds. Share it as `Arc<LoginService>`.
pub struct LoginService {
    config: LoginConfig,
    /// `public_url` without its trailing `/`.
    base: String,
    gate: Arc<dyn RegionGate>,
    ids: IdSource,
    seeds: Mutex<caps::SeedTable>,
    polls: polls::Polls,
}

impl core::fmt::Debug for LoginService {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoginService")
            .field("base", &self.base)
            .field("region", &self.config.region.name)
            .field("accounts", &self.config.accounts.len())
            .finish_non_exhaustive()
    }
}

impl LoginService {
    /// A service for `config` that logs agents in through `gate`.
    pub fn new(config: LoginConfig, gate: Arc<dyn RegionGate>) -> Self {
        let base = config.public_url.trim_end_matches('/').to_owned();
        LoginService {
            config,
            base,
            gate,
            ids: IdSource::new(),
            seeds: Mutex::new(caps::SeedTable::default()),
            polls: polls::Polls::default(),
        }
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &LoginConfig {
        &self.config
    }

    /// The login URI viewers are given: the base URL with a trailing `/`.
    pub fn login_uri(&self) -> String {
        format!("{}/", self.base)
    }

    /// The seed capability URL of `seed`: `<base>/CAPS/<uuid>0000/`, as OpenSim writes it.
    fn seed_url(&self, seed: Uuid) -> String {
        format!("{}/CAPS/{}/", self.base, caps::seed_segment(seed))
    }

    /// The port of the public URL (the reply's `http_port`): explicit, else 80 for `http`, else 0.
    fn http_port(&self) -> u16 {
        let rest = self
            .base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or_default();
        match authority.rsplit_once(':') {
            Some((_, port)) if !port.contains(']') => port.parse().unwrap_or(0),
            _ if self.base.starts_with("http://") => 80,
            _ => 0,
        }
    }

    /// What `get_grid_info` answers: login URI, grid name and nick, the welcome page, and
    /// `platform` = `OpenSim`.
    pub fn grid_info(&self) -> GridInfo {
        let nick: String = self
            .config
            .grid_name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let mut info = GridInfo {
            login: Some(self.login_uri()),
            gridname: Some(self.config.grid_name.clone()),
            gridnick: Some(nick),
            welcome: Some(format!("{}/welcome", self.base)),
            ..GridInfo::default()
        };
        info.other
            .insert("platform".to_owned(), "OpenSim".to_owned());
        info
    }

    /// The seed table, recovered if a panicking thread poisoned the lock.
    fn seeds(&self) -> MutexGuard<'_, caps::SeedTable> {
        self.seeds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
