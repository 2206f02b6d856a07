//! HTTP on the network thread: grid info, the XML-RPC login and the seed capability, over
//! reqwest with rustls. Every failure becomes a [`LoginFailure`] that says what to tell the user.

use std::time::Duration;

use super::NetSettings;
use overlook_protocol::login::{
    LoginError, LoginReply, LoginRequest, parse_grid_info, parse_login_response,
    parse_seed_response, seed_request_xml,
};

/// Why a login did not produce a circuit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoginFailure {
    /// The login service said no; `message` is its own text, verbatim.
    #[error("login refused ({reason}): {message}")]
    Refused {
        /// OpenSim's short key (`key`, `presence`, …).
        reason: String,
        /// The text to show.
        message: String,
    },
    /// The service could not be reached (DNS, connection refused, TLS…).
    #[error("cannot reach the login service: {0}")]
    Unreachable(String),
    /// No answer in time.
    #[error("the login service did not answer within {0:?}")]
    TimedOut(Duration),
    /// It answered, but not with a login reply.
    #[error("unexpected login reply: {0}")]
    BadReply(String),
    /// A recording to replay could not be read: the text names the file (and the line).
    #[error("cannot replay {0}")]
    Replay(String),
}

impl From<LoginError> for LoginFailure {
    fn from(e: LoginError) -> Self {
        LoginFailure::BadReply(e.to_string())
    }
}

/// Capabilities a viewer asks the seed for (the region answers those it has).
const SEED_CAPS: [&str; 5] = [
    "EventQueueGet",
    "SimulatorFeatures",
    "ViewerAsset",
    "GetTexture",
    "GetMesh",
];

/// The HTTP client of the network thread.
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn http_client(settings: &NetSettings) -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a default crypto provider; install ring's once per process
    // (a second install fails harmlessly).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.login_timeout)
        .user_agent(concat!("Overlook/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The HTTP client of the page: the browser's fetch, which sets its own agent and connection
/// timeouts (each request keeps its own timeout).
#[cfg(target_arch = "wasm32")]
pub(super) fn http_client(_settings: &NetSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().build()
}

fn failure(e: &reqwest::Error, timeout: Duration) -> LoginFailure {
    if e.is_timeout() {
        LoginFailure::TimedOut(timeout)
    } else {
        LoginFailure::Unreachable(innermost_cause(e))
    }
}

/// The text of an error's innermost cause, which says most ("Connection refused", "dns error").
pub(super) fn innermost_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

/// Why [`read_body_capped`] stopped.
pub(super) enum CappedRead {
    /// The body is larger than the cap (by its `Content-Length` or as it streamed).
    TooLarge,
    /// The transfer failed.
    Transport(reqwest::Error),
}

/// Reads a response body of at most `cap` bytes: a larger one is refused by its
/// `Content-Length` before reading, or as soon as it streams past the cap.
pub(super) async fn read_body_capped(
    #[cfg_attr(target_arch = "wasm32", allow(unused_mut))] mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, CappedRead> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(CappedRead::TooLarge);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(CappedRead::Transport)? {
            if body.len() + chunk.len() > cap {
                return Err(CappedRead::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
    // The browser's fetch reads the body whole; the cap still holds for what it read.
    #[cfg(target_arch = "wasm32")]
    {
        let body = response.bytes().await.map_err(CappedRead::Transport)?;
        if body.len() > cap {
            return Err(CappedRead::TooLarge);
        }
        Ok(body.to_vec())
    }
}

/// The most bytes read of a login reply, grid info or seed reply. OpenSim 0.9.2.2's login reply
/// is ~24 KB and its seed reply ~1 KB; a reply past this is refused unread instead of growing
/// memory with it.
pub const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;

/// Reads a reply's body, at most [`MAX_REPLY_BYTES`] of it: a larger one (by its
/// `Content-Length` or as it streams) is an error naming `what` and `url`.
async fn read_capped(
    response: reqwest::Response,
    what: &str,
    url: &str,
    timeout: Duration,
) -> Result<Vec<u8>, LoginFailure> {
    read_body_capped(response, MAX_REPLY_BYTES)
        .await
        .map_err(|e| match e {
            CappedRead::TooLarge => LoginFailure::BadReply(format!(
                "the {what} from {url} is larger than {} MB; refused unread",
                MAX_REPLY_BYTES / (1024 * 1024)
            )),
            CappedRead::Transport(e) => failure(&e, timeout),
        })
}

/// The scheme, host and port of `url` (a capability's origin: its path is the secret part), or
/// "the grid" when it does not parse.
fn origin(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(
        |_| "the grid".to_owned(),
        |u| u.origin().ascii_serialization(),
    )
}

/// The login URI for what the user typed: a `…/get_grid_info` URL is fetched and its `login`
/// member used; anything else is the login URI itself.
///
/// # Errors
/// [`LoginFailure`] when grid info cannot be fetched or read.
pub async fn resolve_login_uri(
    client: &reqwest::Client,
    settings: &NetSettings,
    grid: &str,
) -> Result<String, LoginFailure> {
    let grid = grid.trim();
    if !grid.trim_end_matches('/').ends_with("get_grid_info") {
        return Ok(grid.to_owned());
    }
    let response = client
        .get(grid)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| failure(&e, settings.login_timeout))?;
    let body = read_capped(response, "grid info", grid, settings.login_timeout).await?;
    parse_grid_info(&body)?
        .login
        .filter(|l| !l.is_empty())
        .ok_or_else(|| LoginFailure::BadReply(format!("{grid} names no login URI")))
}

/// Posts `login_to_simulator` and reads the reply.
///
/// # Errors
/// [`LoginFailure`]: unreachable, timed out, an HTTP error status, or an unreadable reply.
/// A refusal is not an error here: it is [`LoginReply::Refused`]. The reply's raw bytes come
/// with it (for recordings).
pub(super) async fn post_login(
    client: &reqwest::Client,
    settings: &NetSettings,
    uri: &str,
    request: &LoginRequest,
) -> Result<(LoginReply, Vec<u8>), LoginFailure> {
    let response = client
        .post(uri)
        .header(reqwest::header::CONTENT_TYPE, "text/xml")
        .body(request.to_xml())
        .send()
        .await
        .map_err(|e| failure(&e, settings.login_timeout))?;
    let status = response.status();
    let body = read_capped(response, "login reply", uri, settings.login_timeout).await?;
    if !status.is_success() {
        return Err(LoginFailure::BadReply(format!(
            "HTTP {status} from {uri}: {}",
            String::from_utf8_lossy(body.get(..200).unwrap_or(&body))
        )));
    }
    Ok((parse_login_response(&body)?, body))
}

/// Asks the seed capability for the region's capabilities; returns how many it granted.
/// OpenSim sends no objects until this request has been made.
///
/// # Errors
/// [`LoginFailure`] describing what went wrong (reported as a warning: the circuit stays up).
pub(super) async fn request_seed(
    client: &reqwest::Client,
    settings: &NetSettings,
    seed: &str,
) -> Result<std::collections::BTreeMap<String, String>, LoginFailure> {
    let response = client
        .post(seed)
        .header(reqwest::header::CONTENT_TYPE, "application/llsd+xml")
        .body(seed_request_xml(&SEED_CAPS))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        // The seed's URL is a credential: no message names more of it than its origin.
        .map_err(|e| failure(&e.without_url(), settings.login_timeout))?;
    let body = read_capped(
        response,
        "seed reply",
        &origin(seed),
        settings.login_timeout,
    )
    .await?;
    Ok(parse_seed_response(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A one-shot HTTP server answering `head` then `body_len` bytes of `x`; its URL with `path`.
    fn server(head: &'static str, body_len: usize, path: &str) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(head.as_bytes());
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < body_len {
                let n = chunk.len().min(body_len - sent);
                if stream.write_all(&chunk[..n]).is_err() {
                    break;
                }
                sent += n;
            }
        });
        url
    }

    fn seed_error(head: &'static str, body_len: usize) -> String {
        let secret = "/CAPS/5f1e0c2a-seed-secret-0000/";
        let url = server(head, body_len, secret);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = http_client(&NetSettings::default()).unwrap();
        let error = runtime
            .block_on(request_seed(&client, &NetSettings::default(), &url))
            .unwrap_err()
            .to_string();
        assert!(
            !error.contains("seed-secret"),
            "the seed's path leaked: {error}"
        );
        error
    }

    #[test]
    fn a_failing_seed_is_reported_without_its_secret_path() {
        let too_large = seed_error(
            "HTTP/1.1 200 OK\r\nContent-Type: application/llsd+xml\r\nConnection: close\r\n\r\n",
            5 * 1024 * 1024,
        );
        assert!(too_large.contains("larger than 4 MB"), "{too_large}");
        assert!(
            too_large.contains("http://127.0.0.1:"),
            "names the origin: {too_large}"
        );
        let refused = seed_error("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0);
        assert!(refused.contains("404"), "{refused}");
    }
}
