//! The browser viewer's relay (issue 17): a page cannot speak UDP and cannot POST XML-RPC to
//! another origin, so `overlook web` serves the page and this relay on one origin. The relay
//! talks to **one grid only** — the login URI of its [`RelayConfig`] — and to the sim addresses
//! and capability URLs that grid's replies name. No route takes a URL or an address from the
//! page: it is not an open proxy.
//!
//! # Use
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use overlook_relay::{RelayConfig, RelayState, router, serve};
//! let state = RelayState::new(RelayConfig::new("http://127.0.0.1:9000/"))?;
//! // Merge with the page's own routes (static files) as needed.
//! let app = router(state.clone());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, state, app).await;
//! # Ok(()) }
//! ```
//!
//! # Routes
//! - `POST /relay/login`: the page's XML-RPC `login_to_simulator` call (anything else is
//!   **400**; the grid's XML-RPC port may serve other methods, e.g. OpenSim's RemoteAdmin),
//!   forwarded to the login URI. The reply goes back as XML-RPC, with any password-like member
//!   removed; on success `seed_capability` is replaced by a relay URL and a string member
//!   [`SESSION_MEMBER`] (`relay_session`) is added: the **session token** (32 hex digits). The
//!   reply's `sim_ip`/`sim_port` are kept as they are — they are the session's first (and, until
//!   the event queue names others, only) allowed UDP destination. A refusal or fault passes
//!   through (password-like members removed); a grid HTTP error passes its status and body.
//! - `POST /relay/auto-login`: the same, with the request built by the relay from
//!   [`RelayConfig::credentials`] (the page's body is ignored); **404** when none are
//!   configured. The password never reaches the page.
//! - `GET /relay/get_grid_info`: the grid's `get_grid_info` (the login URI joined with
//!   `get_grid_info`), forwarded.
//! - `GET /relay/info`: what the page needs to know before it logs in, as JSON:
//!   `{"auto_login": true, "first": "Test", "last": "User", "start": "last"}` when
//!   `/relay/auto-login` is configured (names and start only), `{"auto_login": false}` else.
//! - `GET|POST|HEAD /relay/cap/<token>[/<path>][?<query>]`: the capability behind `<token>`.
//!   Tokens are minted for the login's seed, for every URL a seed reply names (so
//!   `EventQueueGet`, `ViewerAsset`, `GetTexture`, `GetMesh2`, … all go through the relay) and
//!   for every URL an event-queue reply names (e.g. a neighbour's or teleport target's seed).
//!   `Content-Type`, `Range` and `Accept` go to the grid; status, `Content-Type`,
//!   `Content-Range`, `Accept-Ranges` and `Cache-Control` come back. A seed reply is rewritten
//!   (each URL → a relay URL); an event-queue reply too, and the sims it names (`EnableSimulator`,
//!   `EstablishAgentCommunication`, `CrossedRegion`, `TeleportFinish`) become allowed UDP
//!   destinations of the session. `<path>` may only be segments of unreserved characters (no
//!   `.`/`..`, no `%` escapes): anything else, and an unknown token, is **404**.
//! - `GET /relay/ws?session=<token>`: the session's WebSocket (**404** unknown session, **409**
//!   already open, **503** too many). The relay opens one UDP socket for it (`0.0.0.0:0`). Each
//!   binary message is one datagram prefixed by an address, [`ADDRESS_PREFIX`] = 6 bytes: the
//!   IPv4 address then the port, both in network order ([`encode_frame`], [`decode_frame`]).
//!   Page → relay, the prefix is the destination: a sim the session was given, else the frame is
//!   dropped and counted ([`Stats::dropped_not_allowed`]); the connection stays. Relay → page,
//!   it is the source; datagrams from any other address are dropped and counted
//!   ([`Stats::dropped_from_stranger`]). Text messages are dropped and counted. The session ends
//!   (its tokens with it) when its WebSocket closes; the relay then sends every sim of the
//!   session an unreliable `LogoutRequest` for its agent
//!   (`overlook_protocol::relay::logout_datagram`), since a closed tab cannot, and a region
//!   would keep the avatar until its circuit timed out.
//!
//! Logins and WebSockets whose `Origin` header names another host than `Host` are **403**.
//! Relay URLs in replies are absolute: [`RelayConfig::public_url`], else `http://` + the
//! request's `Host`.
//!
//! # Limits ([`Limits`]; defaults)
//! - Live sessions: 16. A login past it is **503** before the grid is asked; a session that
//!   opens no WebSocket is forgotten after 120 s.
//! - Datagram size either way: 8 KiB (larger: dropped and counted); WebSocket messages over
//!   64 KiB end the connection.
//! - Bandwidth per session each way: 2 MB/s, a token bucket holding one second (over it:
//!   dropped and counted, as congestion would).
//! - Page request bodies (login, capabilities): 4 MiB (**413**).
//! - Grid replies: login, grid info, seed and event queue 4 MiB; other capabilities (assets)
//!   16 MiB (**502** past them).
//! - Capability URLs per session: 256; sims per session: 32.
//! - Grid connect 10 s, whole grid request 60 s; redirects are not followed.
//! - In [`serve`]: header-read / idle timeout 10 s, request timeout 90 s (**408**), 256 HTTP
//!   connections (a WebSocket, once upgraded, counts against the session limit instead).
//!
//! # Logging
//! Capability URLs and passwords are credentials: they are never logged, nor shown by any
//! `Debug` ([`Credentials`] redacts the password). Tokens are logged at most.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod caps;
mod config;
mod eq;
mod http;
mod login;
mod serve;
mod state;
mod ws;

use axum::Router;
use axum::routing::{any, get, post};

pub use config::{
    BANDWIDTH, Credentials, Limits, MAX_ASSET_BODY, MAX_DATAGRAM, MAX_LOGIN_BODY, MAX_SESSIONS,
    RelayConfig,
};
pub use login::SESSION_MEMBER;
pub use serve::serve;
pub use state::{RelayError, RelayState, SessionInfo, Stats};
pub use ws::{ADDRESS_PREFIX, decode_frame, encode_frame};

/// The path every relay route is under.
pub const PREFIX: &str = "/relay";
/// The path capability URLs start with.
pub const CAP_PREFIX: &str = "/relay/cap/";

/// The relay's routes (see the crate docs), for `state`. Paths under [`PREFIX`] it does not
/// know are left to the router's fallback (404 unless merged with one).
pub fn router(state: RelayState) -> Router {
    Router::new()
        .route("/relay/login", post(login::login))
        .route("/relay/auto-login", post(login::auto_login))
        .route("/relay/get_grid_info", get(login::grid_info))
        .route("/relay/info", get(login::info))
        .route("/relay/cap/{*rest}", any(caps::cap))
        .route("/relay/ws", get(ws::websocket))
        .with_state(state)
}

/// Builds a relay for `config` and serves it alone on `listener` (see [`serve`]).
///
/// # Errors
/// [`RelayError`] when the relay cannot be built.
pub async fn serve_relay(
    listener: tokio::net::TcpListener,
    config: RelayConfig,
) -> Result<(), RelayError> {
    let state = RelayState::new(config)?;
    serve(listener, state.clone(), router(state)).await;
    Ok(())
}
