//! HTTP helpers: bounded bodies both ways, plain answers, and the base of relay URLs.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::state::RelayState;

/// A plain-text answer.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// 404, for unknown tokens and every path the relay has no route for.
pub(crate) fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "Not found")
}

/// Reads the page's request body, at most `cap` bytes; `Err` is the answer (413).
pub(crate) async fn page_body(
    headers: &HeaderMap,
    body: Body,
    cap: usize,
) -> Result<Vec<u8>, Response> {
    let too_large = || plain(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| u64::try_from(cap).is_ok_and(|cap| n > cap)) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, cap).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        // A body that streams past the cap (or breaks off): refused either way.
        Err(_) => Err(too_large()),
    }
}

/// Why a grid reply was not read.
pub(crate) enum Upstream {
    /// Unreachable, timed out or broken off.
    Failed,
    /// Larger than the cap.
    TooLarge,
}

/// Reads a grid reply's body, at most `cap` bytes.
pub(crate) async fn grid_body(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, Upstream> {
    if response
        .content_length()
        .is_some_and(|n| u64::try_from(cap).is_ok_and(|cap| n > cap))
    {
        return Err(Upstream::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| Upstream::Failed)? {
        if body.len().saturating_add(chunk.len()) > cap {
            return Err(Upstream::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The answer when the grid could not be asked or answered too much. What failed is logged
/// without the URL (capability URLs are credentials).
pub(crate) fn upstream_failed(what: &str, e: &Upstream) -> Response {
    match e {
        Upstream::Failed => {
            tracing::debug!("relay: the grid's {what} failed");
            plain(StatusCode::BAD_GATEWAY, "The grid did not answer")
        }
        Upstream::TooLarge => {
            tracing::warn!("relay: the grid's {what} was larger than the relay's limit");
            plain(StatusCode::BAD_GATEWAY, "The grid's answer is too large")
        }
    }
}

/// The base relay URLs are built on: the configured public URL, else `http://` + the request's
/// `Host` (when it is a plain host[:port]), else empty (relative URLs).
pub(crate) fn base_url(state: &RelayState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config().public_url {
        return url.trim_end_matches('/').to_owned();
    }
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .map_or_else(String::new, |h| format!("http://{h}"))
}

/// A capability token's relay URL.
pub(crate) fn cap_url(base: &str, token: &str) -> String {
    format!("{base}{}{token}", crate::CAP_PREFIX)
}

/// An answer with `status`, `body` and, when given, the grid's content type.
pub(crate) fn answer(
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: Vec<u8>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

/// Whether the request comes from the relay's own origin: no `Origin` header (not a browser's
/// cross-origin request), or one whose host and port are the `Host` header's. Logins and
/// WebSockets from another site's page are refused (403) so that a page elsewhere cannot use a
/// relay with configured credentials.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// 403 for [`same_origin`] failures.
pub(crate) fn cross_origin() -> Response {
    plain(StatusCode::FORBIDDEN, "Cross-origin requests are refused")
}
