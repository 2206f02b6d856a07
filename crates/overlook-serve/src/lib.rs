//! The accept loop of Overlook's HTTP servers — the embedded region's login service (seeds and
//! capabilities on the same router) and the browser viewer's relay — with the transport limits a
//! public service needs.
//!
//! `axum::serve` has no header timeout, no idle timeout and no connection cap, so connections are
//! served here with hyper's HTTP/1 connection builder directly:
//! - **Header read timeout** ([`HttpLimits::header_read_timeout`], default
//!   [`HEADER_READ_TIMEOUT`]): hyper starts this timer whenever a connection waits for a request
//!   head — right after accept and again after every answered request on a kept-alive
//!   connection — and closes the connection when no complete head arrived in time. So it is both
//!   the slow-headers bound and the **idle timeout** of kept-alive connections; it never runs
//!   while a request is being handled (a held `EventQueueGet` poll is not idle).
//! - **Request timeout** ([`HttpLimits::request_timeout`], default [`REQUEST_TIMEOUT`]): from the
//!   end of the head to the answer; bounds a body sent slowly or never. Expiry answers **408**
//!   and closes the connection. It must exceed any request the router holds on purpose (an
//!   event-queue poll).
//! - **Connection cap** ([`HttpLimits::max_connections`], default [`MAX_CONNECTIONS`]): the loop
//!   takes a permit before it accepts, so above the cap new connections *wait* in the kernel's
//!   listen backlog and are served as soon as one ends (every idle one ends within the header
//!   timeout) instead of being reset — a viewer that happens to arrive during a burst is late,
//!   not refused.
//! - **Upgrades** (a WebSocket) are served: an upgraded connection leaves the HTTP timers and the
//!   cap, so what it may do is the router's to bound.
//!
//! Body limits are the router's.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long a connection may take to send a complete request head, counted from accept or from
/// the previous answer; also the idle timeout of kept-alive connections. A viewer writes its
/// request head at once after connecting (one small write), and libcurl, which viewers use,
/// reconnects transparently when a reused connection was closed; 10 s is far above any real
/// round trip yet frees a silent connection's slot quickly.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take from its head to its answer: three times an event-queue hold
/// (20 s in OpenSim and the embedded region), so only a body trickled or withheld runs into it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How many connections are served at once. A viewer holds a handful (login, seed, event queue,
/// the odd capability); the cap stays well below the common 1024 soft limit on file descriptors
/// — the region runs inside the viewer's own process, which needs descriptors of its own —
/// while leaving room for hundreds of idle sockets.
pub const MAX_CONNECTIONS: usize = 512;
/// After an accept error that is not about one connection (out of descriptors, say), the loop
/// pauses this long instead of spinning (axum's `serve` waits 1 s).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Transport limits of the HTTP service (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`MAX_CONNECTIONS`]; 0 counts as 1.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Serves `router` on `listener` within `limits`, until the task is aborted. Accept errors are
/// logged; ones not about a single connection pause the loop briefly.
pub async fn serve(listener: TcpListener, router: Router, limits: HttpLimits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        // The semaphore is never closed, so this only waits.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!("accept: {e}");
                if !is_connection_error(&e) {
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
                continue;
            }
        };
        let tower = TowerToHyperService::new(router.clone());
        let request_timeout = limits.request_timeout;
        let handler = service_fn(move |request: Request<Incoming>| {
            let answer = tower.call(request);
            async move {
                match tokio::time::timeout(request_timeout, answer).await {
                    Ok(answer) => answer,
                    Err(_) => Ok(request_timed_out()),
                }
            }
        });
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), handler)
                .with_upgrades();
            if let Err(e) = connection.await {
                tracing::debug!("http connection from {peer}: {e}");
            }
            drop(permit);
        });
    }
}

/// 408, and the connection closes (its body may be half read).
fn request_timed_out() -> Response<Body> {
    let mut response = Response::new(Body::from("Request timeout"));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Errors about one connection (it went away before it was accepted), as axum classifies them.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
