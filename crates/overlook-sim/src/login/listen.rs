//! The accept loop of the login service (login, seeds and capabilities, all on one router):
//! [`overlook_serve`]'s, with its transport limits — a header-read timeout that is also the idle
//! timeout of kept-alive connections ([`HEADER_READ_TIMEOUT`]), a request timeout answering 408
//! ([`REQUEST_TIMEOUT`], above the event-queue hold), and a connection cap above which new
//! connections wait in the listen backlog ([`MAX_CONNECTIONS`]). The body limit is axum's (2 MB,
//! see the module docs of `login`).

use std::sync::Arc;

use tokio::net::TcpListener;

use super::LoginService;

pub use overlook_serve::{HEADER_READ_TIMEOUT, HttpLimits, MAX_CONNECTIONS, REQUEST_TIMEOUT};

/// Serves `service` on `listener` with the limits of its configuration, until the task is
/// aborted.
pub async fn serve(listener: TcpListener, service: Arc<LoginService>) {
    let limits = service.config().http;
    overlook_serve::serve(listener, service.router(), limits).await;
}
