//! `POST /relay/login`, `POST /relay/auto-login` and `GET /relay/get_grid_info`.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use overlook_protocol::login::xmlrpc::{self, MethodResponse, Value};
use overlook_protocol::login::{
    LOGIN_METHOD, LoginReply, LoginRequest, StartLocation, parse_login_response,
};

use crate::http::{
    answer, base_url, cap_url, cross_origin, grid_body, page_body, plain, same_origin,
    upstream_failed,
};
use crate::state::{CapKind, Counters, RelayState, Session, token};

pub use overlook_protocol::relay::SESSION_MEMBER;

/// `POST /relay/login`: the page's `login_to_simulator` call, forwarded.
pub(crate) async fn login(
    State(state): State<RelayState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !same_origin(&headers) {
        return cross_origin();
    }
    let body = match page_body(&headers, body, state.limits().max_login_body).await {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    // Only the login method: the grid's XML-RPC port may serve others (OpenSim's RemoteAdmin).
    match xmlrpc::parse_method_call(&body) {
        Ok(call) if call.method == LOGIN_METHOD => {}
        _ => return plain(StatusCode::BAD_REQUEST, "Not a login_to_simulator call"),
    }
    forward_login(&state, &headers, body).await
}

/// `POST /relay/auto-login`: logs in with the configured credentials (404 without them). The
/// request body is ignored.
pub(crate) async fn auto_login(State(state): State<RelayState>, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return cross_origin();
    }
    let Some(c) = &state.config().credentials else {
        return crate::http::not_found();
    };
    let request = LoginRequest::new(
        &c.first,
        &c.last,
        &c.password,
        StartLocation::from_start_string(&c.start),
    );
    forward_login(&state, &headers, request.to_xml().into_bytes()).await
}

/// `GET /relay/info`: whether auto-login is configured, and as whom (never the password).
pub(crate) async fn info(State(state): State<RelayState>) -> Response {
    let body = match &state.config().credentials {
        Some(c) => format!(
            "{{\"auto_login\": true, \"first\": {}, \"last\": {}, \"start\": {}}}",
            json_string(&c.first),
            json_string(&c.last),
            json_string(&c.start)
        ),
        None => "{\"auto_login\": false}".to_owned(),
    };
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a new session would fit; prunes forgotten ones first.
fn has_room(state: &RelayState) -> bool {
    let limits = state.limits();
    let mut tables = state.tables();
    tables.prune(Instant::now(), limits.session_open_timeout);
    tables.sessions.len() < limits.max_sessions.max(1)
}

fn refuse_session(state: &RelayState) -> Response {
    Counters::bump(&state.inner.counters.refused_sessions);
    tracing::info!(
        "relay: a login refused: {} sessions live",
        state.limits().max_sessions
    );
    plain(StatusCode::SERVICE_UNAVAILABLE, "Too many relay sessions")
}

async fn forward_login(state: &RelayState, headers: &HeaderMap, body: Vec<u8>) -> Response {
    if !has_room(state) {
        return refuse_session(state);
    }
    let sent = state
        .inner
        .client
        .post(state.config().login_uri.trim())
        .header(reqwest::header::CONTENT_TYPE, "text/xml")
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(_) => return upstream_failed("login", &crate::http::Upstream::Failed),
    };
    let status = response.status();
    let reply = match grid_body(response, state.limits().max_reply_body).await {
        Ok(b) => b,
        Err(e) => return upstream_failed("login reply", &e),
    };
    let xml = HeaderValue::from_static("text/xml");
    if !status.is_success() {
        return answer(relay_status(status), Some(xml), reply);
    }
    match rewrite_login_reply(state, headers, &reply) {
        Ok(Some(body)) => answer(StatusCode::OK, Some(xml), body.into_bytes()),
        Ok(None) => refuse_session(state),
        Err(()) => plain(
            StatusCode::BAD_GATEWAY,
            "The grid's login reply is not XML-RPC",
        ),
    }
}

/// The grid's status for the page (one reqwest and axum agree on).
pub(crate) fn relay_status(status: reqwest::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY)
}

/// Members never passed to the page.
fn is_secret_member(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("passw") || name == "web_login_key"
}

/// The login reply for the page: secrets removed and, on success, the seed replaced by a relay
/// URL and [`SESSION_MEMBER`] added, the session registered with the reply's sim as its one
/// allowed UDP destination. `Ok(None)`: no room for the session. `Err`: not XML-RPC.
fn rewrite_login_reply(
    state: &RelayState,
    headers: &HeaderMap,
    reply: &[u8],
) -> Result<Option<String>, ()> {
    let parsed = xmlrpc::parse_method_response(reply).map_err(|_| ())?;
    let MethodResponse::Success(Value::Struct(members)) = parsed else {
        // A fault: nothing to rewrite.
        return Ok(Some(String::from_utf8_lossy(reply).into_owned()));
    };
    let mut members: Vec<(String, Value)> = members
        .into_iter()
        .filter(|(name, _)| !is_secret_member(name))
        .collect();
    let success = match parse_login_response(reply) {
        Ok(LoginReply::Success(ok)) => ok,
        // A refusal (or Second Life's "indeterminate"): passed on, secrets removed.
        _ => return Ok(Some(xmlrpc::method_response_xml(&Value::Struct(members)))),
    };
    let Some(session) = token() else {
        return Err(());
    };
    let sim = SocketAddr::from((success.sim_ip, success.sim_port));
    let seed_token = {
        let limits = state.limits();
        let mut tables = state.tables();
        if tables.sessions.len() >= limits.max_sessions.max(1) {
            return Ok(None);
        }
        tables.sessions.insert(
            session.clone(),
            Session {
                allowed: vec![sim],
                tokens: Default::default(),
                open: false,
                udp: None,
                created: Instant::now(),
                agent: overlook_protocol::message::circuit::AgentIds {
                    agent_id: success.agent_id,
                    session_id: success.session_id,
                },
            },
        );
        if success.seed_capability.is_empty() {
            None
        } else {
            tables.cap_token(
                &session,
                &success.seed_capability,
                CapKind::Seed,
                limits.max_caps,
            )
        }
    };
    tracing::info!("relay session {session}: logged in; sim {sim}");
    let base = base_url(state, headers);
    let seed = seed_token.map_or_else(String::new, |t| cap_url(&base, &t));
    for (name, value) in &mut members {
        if name == "seed_capability" {
            *value = Value::String(seed.clone());
        }
    }
    members.push((SESSION_MEMBER.to_owned(), Value::String(session)));
    Ok(Some(xmlrpc::method_response_xml(&Value::Struct(members))))
}

/// `GET /relay/get_grid_info`: the grid's self-description, forwarded.
pub(crate) async fn grid_info(State(state): State<RelayState>) -> Response {
    let Ok(url) =
        reqwest::Url::parse(state.config().login_uri.trim()).and_then(|u| u.join("get_grid_info"))
    else {
        return plain(StatusCode::BAD_GATEWAY, "No grid info");
    };
    let response = match state.inner.client.get(url).send().await {
        Ok(r) => r,
        Err(_) => return upstream_failed("grid info", &crate::http::Upstream::Failed),
    };
    let status = relay_status(response.status());
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    match grid_body(response, state.limits().max_reply_body).await {
        Ok(body) => answer(status, content_type, body),
        Err(e) => upstream_failed("grid info", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_members() {
        assert!(is_secret_member("passwd"));
        assert!(is_secret_member("Password"));
        assert!(is_secret_member("web_login_key"));
        assert!(!is_secret_member("seed_capability"));
    }
}
