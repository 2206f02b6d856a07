//! The relay's shared state: sessions, the capability tokens that stand for the grid's URLs, and
//! counters.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::config::RelayConfig;

/// Why a relay could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The login URI is not an absolute `http`/`https` URL.
    #[error("the login URI {0:?} is not an http(s) URL")]
    LoginUri(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A random token: 16 bytes from the OS CSPRNG as 32 lowercase hex digits.
pub(crate) fn token() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `text` looks like a token: 32 lowercase hex digits.
pub(crate) fn is_token(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a capability's replies are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CapKind {
    /// A seed: its reply's URLs become tokens.
    Seed,
    /// `EventQueueGet`: its reply's URLs become tokens, its sim addresses allowed.
    EventQueue,
    /// Anything else (assets): passed through.
    Plain,
}

/// One capability behind a token.
pub(crate) struct Cap {
    /// The grid's URL (a credential: never logged).
    pub url: String,
    pub kind: CapKind,
    /// The session that owns it.
    pub session: String,
}

/// One page session, from its login until its WebSocket closes.
pub(crate) struct Session {
    /// Where its datagrams may go (and come from): the login's sim first.
    pub allowed: Vec<SocketAddr>,
    /// The grid's URL → its token, so a URL named twice keeps one token.
    pub tokens: HashMap<String, String>,
    /// Whether a WebSocket serves it.
    pub open: bool,
    /// Its UDP socket's address while a WebSocket serves it.
    pub udp: Option<SocketAddr>,
    pub created: Instant,
    /// The agent and session ids of its login: what a `LogoutRequest` on its behalf names.
    pub agent: overlook_protocol::message::circuit::AgentIds,
}

#[derive(Default)]
pub(crate) struct Tables {
    pub sessions: HashMap<String, Session>,
    pub caps: HashMap<String, Cap>,
}

impl Tables {
    /// Forgets `session` and its capabilities.
    pub fn remove_session(&mut self, session: &str) {
        if self.sessions.remove(session).is_some() {
            self.caps.retain(|_, cap| cap.session != session);
        }
    }

    /// Forgets sessions whose WebSocket never came within `timeout`.
    pub fn prune(&mut self, now: Instant, timeout: std::time::Duration) {
        let stale: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.open && now.saturating_duration_since(s.created) > timeout)
            .map(|(t, _)| t.clone())
            .collect();
        for t in stale {
            tracing::debug!("relay session {t} never opened its WebSocket; forgotten");
            self.remove_session(&t);
        }
    }

    /// The token for `url` in `session`, minted when new; `None` when the session is gone, its
    /// capability table is full or no randomness is available.
    pub fn cap_token(
        &mut self,
        session: &str,
        url: &str,
        kind: CapKind,
        max_caps: usize,
    ) -> Option<String> {
        let s = self.sessions.get_mut(session)?;
        if let Some(t) = s.tokens.get(url) {
            return Some(t.clone());
        }
        if s.tokens.len() >= max_caps {
            tracing::warn!(
                "relay session {session}: more than {max_caps} capabilities; one left out"
            );
            return None;
        }
        let t = token()?;
        s.tokens.insert(url.to_owned(), t.clone());
        self.caps.insert(
            t.clone(),
            Cap {
                url: url.to_owned(),
                kind,
                session: session.to_owned(),
            },
        );
        Some(t)
    }

    /// Allows `addr` for `session` (at most `max_sims` addresses).
    pub fn allow(&mut self, session: &str, addr: SocketAddr, max_sims: usize) {
        if let Some(s) = self.sessions.get_mut(session)
            && !s.allowed.contains(&addr)
        {
            if s.allowed.len() < max_sims {
                tracing::debug!("relay session {session}: sim {addr} allowed");
                s.allowed.push(addr);
            } else {
                tracing::warn!(
                    "relay session {session}: more than {max_sims} sims; {addr} not allowed"
                );
            }
        }
    }
}

/// Counters of what the relay did and dropped, over all sessions.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub to_sim: AtomicU64,
    pub to_page: AtomicU64,
    pub not_allowed: AtomicU64,
    pub oversized: AtomicU64,
    pub malformed: AtomicU64,
    pub over_bandwidth: AtomicU64,
    pub from_stranger: AtomicU64,
    pub refused_sessions: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of the relay's counters ([`RelayState::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams sent from the page to a sim.
    pub to_sim: u64,
    /// Datagrams received from a sim and sent to the page.
    pub to_page: u64,
    /// Frames from the page addressed to a sim the session was not given: dropped.
    pub dropped_not_allowed: u64,
    /// Frames or datagrams larger than [`crate::Limits::max_datagram`]: dropped.
    pub dropped_oversized: u64,
    /// Frames from the page too short for their address prefix, or text frames: dropped.
    pub dropped_malformed: u64,
    /// Datagrams over a session's bandwidth either way: dropped.
    pub dropped_over_bandwidth: u64,
    /// Datagrams that reached a session's UDP socket from an address not allowed: dropped.
    pub dropped_from_stranger: u64,
    /// Logins and WebSockets refused because [`crate::Limits::max_sessions`] were live.
    pub refused_sessions: u64,
}

/// What a session looks like from outside ([`RelayState::sessions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its token.
    pub token: String,
    /// The sim addresses it may send to.
    pub allowed: Vec<SocketAddr>,
    /// Its UDP socket's local address while its WebSocket is open.
    pub udp: Option<SocketAddr>,
    /// How many capability tokens it holds.
    pub caps: usize,
}

pub(crate) struct Inner {
    pub config: RelayConfig,
    pub client: reqwest::Client,
    pub tables: Mutex<Tables>,
    pub counters: Counters,
}

/// The relay: its configuration, HTTP client, sessions and counters. Cheap to clone (one
/// `Arc`); hand it to [`crate::router`].
#[derive(Clone)]
pub struct RelayState {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for RelayState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayState")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl RelayState {
    /// A relay for `config`.
    ///
    /// # Errors
    /// [`RelayError`] when the login URI is not an http(s) URL or the HTTP client cannot be
    /// built.
    pub fn new(config: RelayConfig) -> Result<Self, RelayError> {
        let uri = reqwest::Url::parse(config.login_uri.trim())
            .map_err(|_| RelayError::LoginUri(config.login_uri.clone()))?;
        if !matches!(uri.scheme(), "http" | "https") {
            return Err(RelayError::LoginUri(config.login_uri.clone()));
        }
        // reqwest is built without a default crypto provider; install ring's once per process
        // (a second install fails harmlessly).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(config.limits.connect_timeout)
            .timeout(config.limits.upstream_timeout)
            // A redirect could lead anywhere: the relay only follows what the grid names.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Overlook-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RelayError::Client(e.to_string()))?;
        Ok(RelayState {
            inner: Arc::new(Inner {
                config,
                client,
                tables: Mutex::new(Tables::default()),
                counters: Counters::default(),
            }),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &RelayConfig {
        &self.inner.config
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            to_sim: get(&c.to_sim),
            to_page: get(&c.to_page),
            dropped_not_allowed: get(&c.not_allowed),
            dropped_oversized: get(&c.oversized),
            dropped_malformed: get(&c.malformed),
            dropped_over_bandwidth: get(&c.over_bandwidth),
            dropped_from_stranger: get(&c.from_stranger),
            refused_sessions: get(&c.refused_sessions),
        }
    }

    /// The live sessions.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.tables()
            .sessions
            .iter()
            .map(|(token, s)| SessionInfo {
                token: token.clone(),
                allowed: s.allowed.clone(),
                udp: s.udp,
                caps: s.tokens.len(),
            })
            .collect()
    }

    pub(crate) fn tables(&self) -> MutexGuard<'_, Tables> {
        self.inner
            .tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn limits(&self) -> &crate::config::Limits {
        &self.inner.config.limits
    }
}
