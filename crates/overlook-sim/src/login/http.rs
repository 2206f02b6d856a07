//! The HTTP side of the login service: the axum router, its handlers, and serving it on tokio.
//!
//! Handlers only translate between HTTP and the service: status codes, content types and the
//! XML-RPC / LLSD envelopes. Response headers follow the captures (`Content-Type: text/xml` and
//! `Access-Control-Allow-Origin: *` on login replies).

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use tokio::net::TcpListener;

use overlook_protocol::login::xmlrpc::{self, Value};
use overlook_protocol::login::{
    LOGIN_METHOD, login_refused_xml, parse_seed_request, parse_seed_response, seed_response_xml,
};

use super::LoginService;
use super::assets::{self, AssetAnswer};
use super::authenticate::{LoginAttempt, LoginRefusal};
use super::caps::{CapKind, is_llsd_xml, seed_path_segment, simulator_features_xml};
use super::reply::llsd_xml;
use crate::store::AssetStore;

/// XML-RPC fault code for an unknown method (xmlrpc-epi, as OpenSim uses it).
const FAULT_METHOD_NOT_FOUND: i64 = -32601;
/// XML-RPC fault code for a handler that threw.
const FAULT_INTERNAL: i64 = -32603;

type Shared = State<Arc<LoginService>>;

impl LoginService {
    /// The routes: `/` (login), `/get_grid_info`, `/welcome`, and — through the fallback — the
    /// seed capabilities `/CAPS/<seed>/` and the capabilities they grant; anything else is 404.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/", any(login_root))
            .route("/get_grid_info", get(grid_info))
            .route("/welcome", get(welcome))
            .fallback(capabilities)
            .with_state(self)
    }
}

/// A listener on `127.0.0.1` with a free port (tests, and `--http 127.0.0.1:0`).
///
/// # Errors
/// The bind error.
pub async fn bind_loopback() -> io::Result<TcpListener> {
    TcpListener::bind((core::net::Ipv4Addr::LOCALHOST, 0)).await
}

/// OpenSim's answer when no handler takes a request: 404, `text/plain`, `Not found`.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "Not found",
    )
        .into_response()
}

/// A 200 XML-RPC body as OpenSim's login handler sends it.
fn xml_reply(body: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/xml"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

/// A 200 LLSD-XML body.
fn llsd_reply(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/llsd+xml")],
        body,
    )
        .into_response()
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// `/`: the login, XML-RPC or (for `application/llsd+xml`) LLSD.
async fn login_root(
    State(service): Shared,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return not_found();
    }
    if is_llsd_xml(content_type(&headers)) {
        llsd_login(&service, &body)
    } else {
        xmlrpc_login(&service, &body)
    }
}

/// Decides a login (logging the outcome): the full reply struct, or the refusal.
fn decide(
    service: &LoginService,
    attempt: Result<LoginAttempt, LoginRefusal>,
) -> Result<Value, LoginRefusal> {
    let attempt = attempt?;
    match service.login(&attempt) {
        Ok(success) => {
            tracing::info!(first = %success.first_name, last = %success.last_name, "login accepted");
            Ok(service.reply_value(&success))
        }
        Err(refusal) => {
            tracing::info!(first = %attempt.first, last = %attempt.last, %refusal, "login refused");
            Err(refusal)
        }
    }
}

fn xmlrpc_login(service: &LoginService, body: &[u8]) -> Response {
    let Ok(call) = xmlrpc::parse_method_call(body) else {
        return not_found();
    };
    if call.method != LOGIN_METHOD {
        let text = format!("Requested method [{}] not found", call.method);
        return xml_reply(xmlrpc::fault_response_xml(FAULT_METHOD_NOT_FOUND, &text));
    }
    let Some(params @ Value::Struct(_)) = call.params.first() else {
        let text = format!(
            "Requested method [{LOGIN_METHOD}] threw exception: the first parameter is not a struct"
        );
        return xml_reply(xmlrpc::fault_response_xml(FAULT_INTERNAL, &text));
    };
    match decide(service, LoginAttempt::from_xmlrpc(params)) {
        Ok(reply) => xml_reply(xmlrpc::method_response_xml(&reply)),
        Err(refusal) => xml_reply(login_refused_xml(refusal.reason(), refusal.message())),
    }
}

fn llsd_login(service: &LoginService, body: &[u8]) -> Response {
    let Ok(map) = parse_seed_response(body) else {
        return not_found();
    };
    let reply = decide(service, LoginAttempt::from_llsd(&map)).unwrap_or_else(|refusal| {
        Value::Struct(vec![
            ("reason".into(), Value::String(refusal.reason().into())),
            ("message".into(), Value::String(refusal.message().into())),
            ("login".into(), Value::String("false".into())),
        ])
    });
    llsd_reply(llsd_xml(&reply))
}

/// `GET /get_grid_info`.
async fn grid_info(State(service): Shared) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml")],
        service.grid_info().to_xml(),
    )
        .into_response()
}

/// `GET /welcome`: the splash page named by `get_grid_info`.
async fn welcome(State(service): Shared) -> Response {
    let grid = super::reply::escape(&service.config.grid_name);
    let region = super::reply::escape(&service.config.region.name);
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{grid}</title></head>\
         <body><h1>{grid}</h1><p>Region {region}, embedded in Overlook.</p></body></html>"
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// The fallback: seeds under `/CAPS/`, then granted capabilities, else 404.
async fn capabilities(
    State(service): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if let Some(segment) = seed_path_segment(path) {
        return seed(&service, segment, &method, &headers, &body);
    }
    let Some((agent, kind)) = service.seeds().cap(path) else {
        return not_found();
    };
    if !service.gate.is_present(agent) {
        return not_found();
    }
    match kind {
        CapKind::EventQueueGet => {
            // Held until the hold ends or a newer poll of the agent beyond the bound ends it;
            // dropping `poll` (also when the client goes away) unregisters it.
            let mut poll = service
                .polls
                .open(agent, service.config.event_polls_per_agent);
            tokio::select! {
                () = tokio::time::sleep(service.config.event_poll_hold) => {}
                _ = &mut poll.ended => {}
            }
            drop(poll);
            (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/plain")],
                "Upstream error: ",
            )
                .into_response()
        }
        CapKind::SimulatorFeatures => llsd_reply(simulator_features_xml(&service.config.grid_name)),
        CapKind::Acknowledge => llsd_reply("<llsd><map></map></llsd>".to_owned()),
        CapKind::Assets => asset(&service.config.assets, &method, &uri, &headers),
    }
}

/// `GetTexture` / `ViewerAsset` / `GetMesh` / `GetMesh2` (see module `assets`): `GET` (or
/// `HEAD`) only, else 404 like an unknown path. Error answers have empty bodies, as OpenSim's.
fn asset(store: &AssetStore, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    if *method != Method::GET && *method != Method::HEAD {
        return not_found();
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    match assets::answer(store, uri.query(), range) {
        AssetAnswer::Whole(asset) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, asset.kind.content_type())],
            Bytes::from_owner(asset.bytes),
        )
            .into_response(),
        AssetAnswer::Partial { asset, start, end } => {
            let range = format!("bytes {start}-{end}/{}", asset.bytes.len());
            let body = Bytes::from_owner(asset.bytes.clone()).slice(start..=end);
            (
                StatusCode::PARTIAL_CONTENT,
                [
                    (header::CONTENT_TYPE, asset.kind.content_type().to_owned()),
                    (header::CONTENT_RANGE, range),
                ],
                body,
            )
                .into_response()
        }
        AssetAnswer::BadRequest => StatusCode::BAD_REQUEST.into_response(),
        AssetAnswer::NotFound => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `/CAPS/<segment>/`: OpenSim's `SeedCapRequest` rules (see [`super::caps`]).
fn seed(
    service: &LoginService,
    segment: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let Some(agent) = service.seeds().agent_of(segment) else {
        return not_found();
    };
    if *method != Method::POST || !is_llsd_xml(content_type(headers)) {
        return not_found();
    }
    if !service.gate.is_present(agent) {
        service.seeds().forget_agent(agent);
        return not_found();
    }
    let Ok(names) = parse_seed_request(body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let granted = match service
        .seeds()
        .grant(segment, &names, || service.ids.uuid())
    {
        Ok(granted) => granted,
        Err(e) => {
            tracing::error!("seed capability: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let urls: Vec<(String, String)> = granted
        .into_iter()
        .map(|(name, path)| (name, format!("{}{path}", service.base)))
        .collect();
    let pairs: Vec<(&str, &str)> = urls.iter().map(|(n, u)| (n.as_str(), u.as_str())).collect();
    service.gate.seeds_granted(agent);
    llsd_reply(seed_response_xml(&pairs))
}
