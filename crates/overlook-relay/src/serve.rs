//! [`serve`]: the relay on its own listener, with the transport limits of overlook-sim's login
//! service (`overlook_sim::login::listen`): a header-read timeout that is also the idle timeout,
//! a request timeout (408) and a connection cap (more wait in the backlog). Upgrades are enabled
//! for the WebSocket.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::state::RelayState;

/// Serves `app` (e.g. [`crate::router`] merged with the page's files) on `listener` with the
/// transport limits of `state`'s configuration, until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, state: RelayState, app: Router) {
    let limits = *state.limits();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!("relay accept: {e}");
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                ) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let tower = TowerToHyperService::new(app.clone());
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
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), handler)
                .with_upgrades();
            if let Err(e) = connection.await {
                tracing::debug!("relay connection from {peer}: {e}");
            }
            drop(permit);
        });
    }
}

/// 408, and the connection closes.
fn request_timed_out() -> Response<Body> {
    let mut response = Response::new(Body::from("Request timeout"));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
