//! [`serve`]: the relay on its own listener, through [`overlook_serve`]'s accept loop (the
//! embedded region's too): a header-read timeout that is also the idle timeout, a request
//! timeout (408) and a connection cap (more wait in the backlog), with upgrades for the
//! WebSocket.

use axum::Router;
use tokio::net::TcpListener;

use crate::state::RelayState;

/// Serves `app` (e.g. [`crate::router`] merged with the page's files) on `listener` with the
/// transport limits of `state`'s configuration, until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, state: RelayState, app: Router) {
    let limits = state.limits();
    let http = overlook_serve::HttpLimits {
        header_read_timeout: limits.header_read_timeout,
        request_timeout: limits.request_timeout,
        max_connections: limits.max_connections,
    };
    overlook_serve::serve(listener, app, http).await;
}
