//! `/relay/cap/<token>[/<path>][?<query>]`: a capability the grid named, forwarded.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use overlook_protocol::login::{parse_seed_response, seed_response_xml};

use crate::http::{
    Upstream, answer, base_url, cap_url, grid_body, not_found, page_body, plain, upstream_failed,
};
use crate::login::relay_status;
use crate::state::{CapKind, RelayState, is_token};

/// Request headers passed to the grid.
const REQUEST_HEADERS: [header::HeaderName; 3] =
    [header::CONTENT_TYPE, header::RANGE, header::ACCEPT];
/// Response headers passed to the page.
const RESPONSE_HEADERS: [header::HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::CACHE_CONTROL,
];

/// Splits the part of a request path after [`crate::CAP_PREFIX`] into its token and the path
/// below it (empty, or segments of unreserved characters: no `.`/`..` segments, no `%`
/// escapes, so nothing below the capability's own URL can be named).
pub(crate) fn split_cap_path(rest: &str) -> Option<(&str, &str)> {
    let (token, below) = rest.split_once('/').unwrap_or((rest, ""));
    if !is_token(token) {
        return None;
    }
    let safe_segment = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
    };
    let trimmed = below.strip_suffix('/').unwrap_or(below);
    if !trimmed.is_empty() && !trimmed.split('/').all(safe_segment) {
        return None;
    }
    Some((token, below))
}

/// The grid URL for a capability URL, the path below it and the query.
fn target(url: &str, below: &str, query: Option<&str>) -> Option<reqwest::Url> {
    let mut target = if below.is_empty() {
        reqwest::Url::parse(url).ok()?
    } else {
        reqwest::Url::parse(&format!("{}/{below}", url.trim_end_matches('/'))).ok()?
    };
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let joined = match target.query() {
            Some(own) if !own.is_empty() => format!("{own}&{q}"),
            _ => q.to_owned(),
        };
        target.set_query(Some(&joined));
    }
    Some(target)
}

/// Any method on `/relay/cap/…`.
pub(crate) async fn cap(State(state): State<RelayState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let Some((token, below)) = path
        .strip_prefix(crate::CAP_PREFIX)
        .and_then(split_cap_path)
    else {
        return not_found();
    };
    let found = {
        let tables = state.tables();
        tables
            .caps
            .get(token)
            .map(|c| (c.url.clone(), c.kind, c.session.clone()))
    };
    let Some((url, kind, session)) = found else {
        tracing::debug!("relay: unknown capability token");
        return not_found();
    };
    let method = request.method().clone();
    let upstream_method = match method {
        Method::GET => reqwest::Method::GET,
        Method::POST => reqwest::Method::POST,
        Method::HEAD => reqwest::Method::HEAD,
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
    };
    let Some(target) = target(&url, below, query.as_deref()) else {
        return not_found();
    };
    let (parts, body) = request.into_parts();
    let body = match page_body(&parts.headers, body, state.limits().max_login_body).await {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    let mut upstream = state.inner.client.request(upstream_method, target);
    for name in REQUEST_HEADERS {
        if let Some(v) = parts.headers.get(&name) {
            upstream = upstream.header(name.as_str(), v.as_bytes());
        }
    }
    if method == Method::POST {
        upstream = upstream.body(body);
    }
    tracing::debug!("relay session {session}: {method} capability {token}");
    let response = match upstream.send().await {
        Ok(r) => r,
        Err(_) => return upstream_failed("capability", &Upstream::Failed),
    };
    let status = relay_status(response.status());
    let mut passed = HeaderMap::new();
    for name in RESPONSE_HEADERS {
        if let Some(v) = response
            .headers()
            .get(name.as_str())
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            passed.insert(name, v);
        }
    }
    let limits = state.limits();
    let cap = match kind {
        CapKind::Plain => limits.max_asset_body,
        CapKind::Seed | CapKind::EventQueue => limits.max_reply_body,
    };
    let body = match grid_body(response, cap).await {
        Ok(b) => b,
        Err(e) => return upstream_failed("capability reply", &e),
    };
    // Seed and event-queue answers are rewritten whatever the method: none may carry a grid URL
    // to the page.
    let body = if status.is_success() {
        let base = base_url(&state, &parts.headers);
        match kind {
            CapKind::Plain => body,
            CapKind::Seed => match rewrite_seed(&state, &session, &base, &body) {
                Some(b) => b.into_bytes(),
                None => return plain(StatusCode::BAD_GATEWAY, "The grid's seed reply is not LLSD"),
            },
            CapKind::EventQueue => match crate::eq::rewrite(&state, &session, &base, &body) {
                Some(b) => b,
                None => {
                    return plain(
                        StatusCode::BAD_GATEWAY,
                        "The grid's event-queue reply is not XML",
                    );
                }
            },
        }
    } else {
        body
    };
    let mut response = answer(status, None, body);
    response.headers_mut().extend(passed);
    response
}

/// The seed reply with every capability URL replaced by a relay URL (and `EventQueueGet`'s
/// marked as the event queue).
fn rewrite_seed(state: &RelayState, session: &str, base: &str, body: &[u8]) -> Option<String> {
    let caps = parse_seed_response(body).ok()?;
    let max_caps = state.limits().max_caps;
    let mut tables = state.tables();
    let rewritten: Vec<(String, String)> = caps
        .into_iter()
        .filter_map(|(name, url)| {
            let kind = match name.as_str() {
                "EventQueueGet" => CapKind::EventQueue,
                _ => CapKind::Plain,
            };
            let t = tables.cap_token(session, &url, kind, max_caps)?;
            Some((name, cap_url(base, &t)))
        })
        .collect();
    drop(tables);
    let pairs: Vec<(&str, &str)> = rewritten
        .iter()
        .map(|(n, u)| (n.as_str(), u.as_str()))
        .collect();
    Some(seed_response_xml(&pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn cap_paths() {
        assert_eq!(split_cap_path(T), Some((T, "")));
        assert_eq!(
            split_cap_path(&format!("{T}/")),
            Some((T, "/")).map(|(t, _)| (t, ""))
        );
        assert_eq!(split_cap_path(&format!("{T}/a/b")), Some((T, "a/b")));
        for bad in [
            "..".to_owned(),
            format!("{T}/.."),
            format!("{T}/../x"),
            format!("{T}/a/./b"),
            format!("{T}/%2e%2e"),
            format!("{T}//x"),
            format!("{T}/http:"),
            "0123456789ABCDEF0123456789ABCDEF".to_owned(),
            String::new(),
        ] {
            assert_eq!(split_cap_path(&bad), None, "{bad}");
        }
    }

    #[test]
    fn targets() {
        let u =
            |url: &str, below: &str, q: Option<&str>| target(url, below, q).unwrap().to_string();
        assert_eq!(
            u("http://g/CAPS/x/", "", Some("texture_id=1")),
            "http://g/CAPS/x/?texture_id=1"
        );
        assert_eq!(u("http://g/CAPS/x/", "a", None), "http://g/CAPS/x/a");
        assert_eq!(
            u("http://g/CAPS/x?k=v", "", Some("a=b")),
            "http://g/CAPS/x?k=v&a=b"
        );
    }
}
