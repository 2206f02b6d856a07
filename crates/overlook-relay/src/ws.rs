//! `GET /relay/ws?session=<token>`: the session's UDP circuit carried over a WebSocket.
//!
//! Frame format, both ways: one binary message is one datagram, prefixed by the sim's address —
//! 4 bytes IPv4 address then 2 bytes port, both in network order ([`ADDRESS_PREFIX`] bytes).
//! Page → relay: the destination (one of the session's allowed sims); relay → page: the source.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use tokio::net::UdpSocket;

pub use overlook_protocol::relay::{ADDRESS_PREFIX, decode_frame, encode_frame};

use crate::http::{cross_origin, not_found, plain, same_origin};
use crate::state::{Counters, RelayState, is_token};

/// The largest WebSocket message accepted at all: larger ones end the connection (tungstenite's
/// limit); those between [`crate::Limits::max_datagram`] and this are dropped and counted.
const MAX_MESSAGE: usize = 64 * 1024;

/// A token bucket of bytes: `rate` per second, holding at most one second's worth (and at least
/// one datagram's).
struct Bucket {
    rate: u64,
    capacity: u64,
    tokens: u64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u64, max_datagram: usize, now: Instant) -> Self {
        let floor = u64::try_from(max_datagram).unwrap_or(u64::MAX);
        let capacity = rate.max(floor);
        Bucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// Takes `n` bytes if there are; a rate of 0 always has.
    fn take(&mut self, now: Instant, n: usize) -> bool {
        if self.rate == 0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_micros();
        let earned = elapsed.saturating_mul(u128::from(self.rate)) / 1_000_000;
        if earned > 0 {
            self.tokens = u64::try_from(earned)
                .unwrap_or(u64::MAX)
                .saturating_add(self.tokens)
                .min(self.capacity);
            self.last = now;
        }
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// The `session` parameter of a query string.
fn session_param(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("session="))
        .filter(|t| is_token(t))
}

/// Forgets the session when dropped: when its WebSocket ends, or when the upgrade never
/// happens.
struct SessionGuard {
    state: RelayState,
    token: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.state.tables().remove_session(&self.token);
        tracing::info!("relay session {}: ended", self.token);
    }
}

/// `GET /relay/ws?session=<token>`: 404 for an unknown session, 409 when its WebSocket is
/// already open, 503 past [`crate::Limits::max_sessions`] open WebSockets.
pub(crate) async fn websocket(
    State(state): State<RelayState>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_origin();
    }
    let Some(token) = session_param(uri.query()).map(str::to_owned) else {
        return not_found();
    };
    let mut tables = state.tables();
    let limits = state.limits();
    tables.prune(Instant::now(), limits.session_open_timeout);
    let open = tables.sessions.values().filter(|s| s.open).count();
    let Some(session) = tables.sessions.get_mut(&token) else {
        return not_found();
    };
    if session.open {
        return plain(
            StatusCode::CONFLICT,
            "The session's WebSocket is already open",
        );
    }
    if open >= limits.max_sessions.max(1) {
        Counters::bump(&state.inner.counters.refused_sessions);
        return plain(StatusCode::SERVICE_UNAVAILABLE, "Too many relay sessions");
    }
    let Ok(upgrade) = upgrade else {
        return plain(StatusCode::BAD_REQUEST, "Expected a WebSocket upgrade");
    };
    session.open = true;
    drop(tables);
    let guard = SessionGuard {
        state: state.clone(),
        token: token.clone(),
    };
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(socket, guard))
}

/// Carries datagrams between the WebSocket and a fresh UDP socket until either side ends.
async fn run(mut ws: WebSocket, guard: SessionGuard) {
    let state = guard.state.clone();
    let token = guard.token.clone();
    let udp = match UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0))).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("relay session {token}: no UDP socket: {e}");
            return;
        }
    };
    let local = udp.local_addr().ok();
    if let Some(s) = state.tables().sessions.get_mut(&token) {
        s.udp = local;
    }
    tracing::info!("relay session {token}: WebSocket open");
    let limits = *state.limits();
    let counters = &state.inner.counters;
    let now = Instant::now();
    let mut up = Bucket::new(limits.bandwidth, limits.max_datagram, now);
    let mut down = Bucket::new(limits.bandwidth, limits.max_datagram, now);
    // One byte more than the limit, to see a datagram that is too large.
    let mut buf = vec![0u8; limits.max_datagram.saturating_add(1)];
    let allowed = |addr: &SocketAddr| {
        state
            .tables()
            .sessions
            .get(&token)
            .is_some_and(|s| s.allowed.contains(addr))
    };
    loop {
        tokio::select! {
            message = ws.recv() => match message {
                Some(Ok(Message::Binary(frame))) => {
                    let Some((to, datagram)) = decode_frame(&frame) else {
                        Counters::bump(&counters.malformed);
                        continue;
                    };
                    if datagram.len() > limits.max_datagram {
                        Counters::bump(&counters.oversized);
                        tracing::debug!("relay session {token}: a {}-byte datagram dropped", datagram.len());
                    } else if !allowed(&to) {
                        Counters::bump(&counters.not_allowed);
                        tracing::debug!("relay session {token}: a datagram to {to} (not a sim of the session) dropped");
                    } else if !up.take(Instant::now(), datagram.len()) {
                        Counters::bump(&counters.over_bandwidth);
                    } else if let Err(e) = udp.send_to(datagram, to).await {
                        tracing::debug!("relay session {token}: send to {to}: {e}");
                    } else {
                        Counters::bump(&counters.to_sim);
                    }
                }
                Some(Ok(Message::Text(_))) => Counters::bump(&counters.malformed),
                // Pings are answered by the WebSocket layer.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            received = udp.recv_from(&mut buf) => match received {
                Ok((n, from)) => {
                    let Some(datagram) = buf.get(..n) else { continue };
                    if n > limits.max_datagram {
                        Counters::bump(&counters.oversized);
                    } else if !allowed(&from) {
                        Counters::bump(&counters.from_stranger);
                    } else if !down.take(Instant::now(), n) {
                        Counters::bump(&counters.over_bandwidth);
                    } else if let Some(frame) = encode_frame(from, datagram) {
                        if ws.send(Message::Binary(frame.into())).await.is_err() {
                            break;
                        }
                        Counters::bump(&counters.to_page);
                    }
                }
                // E.g. an ICMP "port unreachable" reported on the next receive.
                Err(e) => tracing::debug!("relay session {token}: receive: {e}"),
            },
        }
    }
    log_out(&state, &token, &udp).await;
    drop(guard);
}

/// The page is gone (its WebSocket closed): log its agent out of every sim it was given, from
/// the circuit's own socket, so a region does not keep the avatar until its circuit times out
/// and refuse the next login with `presence`. A region the page had logged out of ignores it.
async fn log_out(state: &RelayState, token: &str, udp: &UdpSocket) {
    let Some((agent, sims)) = state
        .tables()
        .sessions
        .get(token)
        .map(|s| (s.agent, s.allowed.clone()))
    else {
        return;
    };
    let Some(datagram) = overlook_protocol::relay::logout_datagram(agent) else {
        return;
    };
    for sim in sims {
        if let Err(e) = udp.send_to(&datagram, sim).await {
            tracing::debug!("relay session {token}: logout to {sim}: {e}");
        }
    }
    tracing::info!("relay session {token}: the page left; its agent logged out");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_limits_and_refills() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 100, t0);
        assert!(b.take(t0, 600));
        assert!(!b.take(t0, 600));
        assert!(b.take(t0, 400));
        assert!(!b.take(t0, 1));
        assert!(b.take(t0 + Duration::from_millis(500), 500));
        assert!(!b.take(t0 + Duration::from_millis(500), 1));
        let mut unlimited = Bucket::new(0, 100, t0);
        assert!(unlimited.take(t0, usize::MAX));
    }

    #[test]
    fn session_params() {
        let t = "0123456789abcdef0123456789abcdef";
        assert_eq!(session_param(Some(&format!("session={t}"))), Some(t));
        assert_eq!(session_param(Some(&format!("a=b&session={t}"))), Some(t));
        assert_eq!(session_param(Some("session=../x")), None);
        assert_eq!(session_param(None), None);
    }
}
