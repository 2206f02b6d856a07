//! What a relay is built from: the one grid it talks to, optional auto-login credentials, and
//! its limits.

use std::fmt;
use std::time::Duration;

/// Everything a relay is built from.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The grid's login URI, e.g. `http://127.0.0.1:9000/`: the only login service the relay
    /// talks to. `get_grid_info` is fetched from the same URI joined with `get_grid_info`.
    pub login_uri: String,
    /// When set, `POST /relay/auto-login` logs in with these; the password never goes to the
    /// page.
    pub credentials: Option<Credentials>,
    /// The base URL relay capability URLs are built on, e.g. `https://viewer.example.org`
    /// (no trailing `/` needed). `None`: `http://` and the request's `Host` header, or a
    /// relative `/relay/cap/…` URL when the request has none.
    pub public_url: Option<String>,
    /// Sessions, sizes, bandwidth and timeouts.
    pub limits: Limits,
}

impl RelayConfig {
    /// A relay to the grid at `login_uri`, without credentials, with [`Limits::default`].
    pub fn new(login_uri: &str) -> Self {
        RelayConfig {
            login_uri: login_uri.to_owned(),
            credentials: None,
            public_url: None,
            limits: Limits::default(),
        }
    }
}

impl fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConfig")
            .field("login_uri", &self.login_uri)
            .field("credentials", &self.credentials)
            .field("public_url", &self.public_url)
            .field("limits", &self.limits)
            .finish()
    }
}

/// An account the relay logs in itself (`POST /relay/auto-login`). Its `Debug` leaves the
/// password out.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// First name.
    pub first: String,
    /// Last name.
    pub last: String,
    /// The clear-text password (hashed into the request; never sent to the page, never logged).
    pub password: String,
    /// The start location as a login request names it: `last`, `home` or a `uri:` string.
    pub start: String,
}

impl Credentials {
    /// `first last` with `password`, starting at `last`.
    pub fn new(first: &str, last: &str, password: &str) -> Self {
        Credentials {
            first: first.to_owned(),
            last: last.to_owned(),
            password: password.to_owned(),
            start: "last".to_owned(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("first", &self.first)
            .field("last", &self.last)
            .field("password", &"<redacted>")
            .field("start", &self.start)
            .finish()
    }
}

/// Default for [`Limits::max_sessions`].
pub const MAX_SESSIONS: usize = 16;
/// Default for [`Limits::max_datagram`]: LLUDP datagrams are at most ~1.5 KB in practice (MTU);
/// 8 KiB leaves room for any sender.
pub const MAX_DATAGRAM: usize = 8 * 1024;
/// Default for [`Limits::bandwidth`]: 2 MB/s each way per session (a region's initial burst of
/// terrain and objects is a few hundred KB/s; textures go over HTTP, not this).
pub const BANDWIDTH: u64 = 2_000_000;
/// Default for [`Limits::max_login_body`] and [`Limits::max_reply_body`].
pub const MAX_LOGIN_BODY: usize = 4 * 1024 * 1024;
/// Default for [`Limits::max_asset_body`].
pub const MAX_ASSET_BODY: usize = 16 * 1024 * 1024;

/// The relay's bounds. Every count and size is per session unless it says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Live sessions at once, over all pages (a session lives from its login until its
    /// WebSocket closes, or [`Limits::session_open_timeout`] when none opens). A login past it is
    /// answered **503** before the grid is asked; so is a WebSocket past it. 0 counts as 1.
    pub max_sessions: usize,
    /// The largest datagram relayed either way (without the frame's address prefix); larger
    /// ones are dropped and counted.
    pub max_datagram: usize,
    /// Bytes per second each way through one session's WebSocket (a token bucket holding one
    /// second's worth); datagrams over it are dropped and counted, as a congested link would.
    /// 0: unlimited.
    pub bandwidth: u64,
    /// The largest request body the page may send: login XML-RPC and capability requests
    /// (**413** past it).
    pub max_login_body: usize,
    /// The largest login, grid info, seed or event-queue reply read from the grid (**502** past
    /// it).
    pub max_reply_body: usize,
    /// The largest reply of any other capability (assets: textures, meshes) read from the grid
    /// (**502** past it).
    pub max_asset_body: usize,
    /// Capability URLs remembered per session; past it, further URLs a reply names are left
    /// out of the rewritten reply.
    pub max_caps: usize,
    /// Sim addresses one session may send to (the login's and those its event queue named).
    pub max_sims: usize,
    /// How long a session waits for its WebSocket after the login before it is forgotten.
    pub session_open_timeout: Duration,
    /// Connecting to the grid.
    pub connect_timeout: Duration,
    /// One request to the grid, from sending to the whole reply read. Above the event queue's
    /// hold (OpenSim: ~20–30 s).
    pub upstream_timeout: Duration,
    /// [`crate::serve`]: how long a connection may take to send a request head (also the idle
    /// timeout of kept-alive connections).
    pub header_read_timeout: Duration,
    /// [`crate::serve`]: from a request's head to its answer (408 past it); above
    /// [`Limits::upstream_timeout`].
    pub request_timeout: Duration,
    /// [`crate::serve`]: HTTP connections served at once; more wait in the listen backlog. A
    /// WebSocket, once upgraded, no longer counts (see [`Limits::max_sessions`]).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: MAX_SESSIONS,
            max_datagram: MAX_DATAGRAM,
            bandwidth: BANDWIDTH,
            max_login_body: MAX_LOGIN_BODY,
            max_reply_body: MAX_LOGIN_BODY,
            max_asset_body: MAX_ASSET_BODY,
            max_caps: 256,
            max_sims: 32,
            session_open_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            upstream_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(90),
            max_connections: 256,
        }
    }
}
