//! Texture fetching on the network thread (PROTOCOL §12): `GET <cap>/?texture_id=<uuid>` on the
//! region's `ViewerAsset` capability (OpenSim's newest), else `GetTexture`, as the seed granted
//! them.
//!
//! The viewer asks with [`NetCommand::FetchTextures`](super::NetCommand::FetchTextures), most
//! important first; each id is fetched once per session, at most [`MAX_IN_FLIGHT`] at a time, in
//! the order asked. A request has [`TEXTURE_TIMEOUT`]; a transport error, a timeout or a `5xx`
//! is retried [`RETRIES`] times with a growing pause, a `4xx` (`404` unknown, `400` bad id) is
//! final. A body over [`MAX_TEXTURE_BYTES`] is refused unread. Each id ends in one
//! [`NetEvent::TextureFetched`](super::NetEvent::TextureFetched). The capability URL is the
//! session's credential: no message here contains it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::cache::TextureCache;
use super::login::{CappedRead, innermost_cause, read_body_capped};
use overlook_protocol::types::Uuid;

/// Requests in flight at once (SLV's default for HTTP texture fetches is 8 per region).
pub const MAX_IN_FLIGHT: usize = 8;
/// One request, answer included.
pub const TEXTURE_TIMEOUT: Duration = Duration::from_secs(20);
/// Tries after the first, for transport errors, timeouts and `5xx`.
pub const RETRIES: u8 = 2;
/// The largest texture read: a 2048 × 2048 RGBA codestream at OpenSim's rates is well under it.
pub const MAX_TEXTURE_BYTES: usize = 8 * 1024 * 1024;

/// Why a texture could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextureFailure {
    /// The asset service answered with this HTTP status (`404` unknown, `400` bad id, …).
    #[error("HTTP {0}")]
    Status(u16),
    /// No answer: the connection failed or timed out (after the retries).
    #[error("{0}")]
    Transport(String),
    /// The body was larger than [`MAX_TEXTURE_BYTES`].
    #[error("larger than {} MB", MAX_TEXTURE_BYTES / (1024 * 1024))]
    TooLarge,
    /// The region granted neither `ViewerAsset` nor `GetTexture`.
    #[error("the region granted no texture capability (ViewerAsset, GetTexture)")]
    NoCapability,
}

/// One texture's fetch, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextureFetched {
    /// The texture.
    pub id: Uuid,
    /// The codestream, or why there is none.
    pub result: Result<Arc<[u8]>, TextureFailure>,
    /// Requests made (1 + retries used).
    pub attempts: u8,
    /// From the first request to the end.
    pub elapsed: Duration,
    /// When it ended, ms since the login request (as phase times).
    pub ms: u64,
    /// It came from the disk cache, not the grid.
    pub cached: bool,
}

/// Where texture requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Capability {
    /// The seed has not answered yet: requests wait.
    Unknown,
    /// Requests go here.
    Url(String),
    /// The seed granted none (or failed): every request fails at once.
    None,
}

/// The fetch queue of one session.
#[derive(Debug)]
pub(super) struct TextureFetcher {
    cache: Option<Arc<TextureCache>>,
    cap: Capability,
    queue: VecDeque<Uuid>,
    asked: HashSet<Uuid>,
    in_flight: JoinSet<TextureFetched>,
}

impl TextureFetcher {
    pub(super) fn new(cache: Option<Arc<TextureCache>>) -> Self {
        TextureFetcher {
            cache,
            cap: Capability::Unknown,
            queue: VecDeque::new(),
            asked: HashSet::new(),
            in_flight: JoinSet::new(),
        }
    }

    /// Queues the ids not asked for before in this session, in order.
    pub(super) fn request(&mut self, ids: impl IntoIterator<Item = Uuid>) {
        for id in ids {
            if self.asked.insert(id) {
                self.queue.push_back(id);
            }
        }
    }

    /// The seed's answer: the texture capability among `caps` (`ViewerAsset` first), or none.
    pub(super) fn set_caps(&mut self, caps: Option<&std::collections::BTreeMap<String, String>>) {
        let url = caps.and_then(|c| c.get("ViewerAsset").or_else(|| c.get("GetTexture")));
        self.cap = match url {
            Some(u) if !u.is_empty() => Capability::Url(u.clone()),
            _ => Capability::None,
        };
    }

    /// Starts queued requests up to [`MAX_IN_FLIGHT`]; with no capability, fails them instead
    /// (returned).
    pub(super) fn start(&mut self, client: &reqwest::Client) -> Vec<TextureFetched> {
        match &self.cap {
            Capability::Unknown => Vec::new(),
            Capability::None => self
                .queue
                .drain(..)
                .map(|id| TextureFetched {
                    id,
                    result: Err(TextureFailure::NoCapability),
                    attempts: 0,
                    elapsed: Duration::ZERO,
                    ms: 0,
                    cached: false,
                })
                .collect(),
            Capability::Url(cap) => {
                while self.in_flight.len() < MAX_IN_FLIGHT {
                    let Some(id) = self.queue.pop_front() else {
                        break;
                    };
                    let url = texture_url(cap, id);
                    self.in_flight
                        .spawn(fetch(client.clone(), url, id, self.cache.clone()));
                }
                Vec::new()
            }
        }
    }

    /// The next finished fetch; pending forever while none is in flight (for `select!`).
    pub(super) async fn next(&mut self) -> Option<TextureFetched> {
        if self.in_flight.is_empty() {
            std::future::pending::<()>().await;
        }
        match self.in_flight.join_next().await {
            Some(Ok(done)) => Some(done),
            // A fetch task panicked or was cancelled: nothing to report for an unknown id.
            Some(Err(e)) => {
                tracing::warn!("texture fetch task: {e}");
                None
            }
            None => None,
        }
    }
}

/// `<cap>/?texture_id=<uuid>` (one slash, whether the capability ends with one or not).
pub fn texture_url(cap: &str, id: Uuid) -> String {
    format!("{}/?texture_id={id}", cap.trim_end_matches('/'))
}

/// Fetches one texture with retries, from the disk cache when it has it (and into the cache).
async fn fetch(
    client: reqwest::Client,
    url: String,
    id: Uuid,
    cache: Option<Arc<TextureCache>>,
) -> TextureFetched {
    let started = Instant::now();
    if let Some(cache) = &cache {
        let c = cache.clone();
        if let Ok(Some(bytes)) = tokio::task::spawn_blocking(move || c.get(id)).await {
            return TextureFetched {
                id,
                result: Ok(bytes.into()),
                attempts: 0,
                elapsed: started.elapsed(),
                ms: 0,
                cached: true,
            };
        }
    }
    let mut attempts = 0u8;
    let result = loop {
        attempts += 1;
        let once = fetch_once(&client, &url).await;
        let retry = matches!(&once, Err(TextureFailure::Transport(_)))
            || matches!(&once, Err(TextureFailure::Status(s)) if *s >= 500);
        if !retry || attempts > RETRIES {
            break once;
        }
        tokio::time::sleep(Duration::from_millis(250) * u32::from(attempts)).await;
    };
    if let (Some(cache), Ok(bytes)) = (cache, &result) {
        let bytes = bytes.clone();
        let stored = tokio::task::spawn_blocking(move || cache.put(id, &bytes)).await;
        if let Ok(Err(e)) = stored {
            tracing::warn!("texture cache: cannot store {id}: {e}");
        }
    }
    TextureFetched {
        id,
        result,
        attempts,
        elapsed: started.elapsed(),
        ms: 0,
        cached: false,
    }
}

async fn fetch_once(client: &reqwest::Client, url: &str) -> Result<Arc<[u8]>, TextureFailure> {
    // `without_url`: the capability must not end up in a message.
    let transport = |e: reqwest::Error| {
        let e = e.without_url();
        if e.is_timeout() {
            TextureFailure::Transport(format!("no answer within {TEXTURE_TIMEOUT:?}"))
        } else {
            TextureFailure::Transport(innermost_cause(&e))
        }
    };
    let response = client
        .get(url)
        .timeout(TEXTURE_TIMEOUT)
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    if !status.is_success() {
        return Err(TextureFailure::Status(status.as_u16()));
    }
    match read_body_capped(response, MAX_TEXTURE_BYTES).await {
        Ok(body) => Ok(body.into()),
        Err(CappedRead::TooLarge) => Err(TextureFailure::TooLarge),
        Err(CappedRead::Transport(e)) => Err(transport(e)),
    }
}

/// Logs in with `params`, fetches `ids` through the region's texture capability (no disk
/// cache), logs out, and returns one answer per id, in the order they came (`overlook asset
/// fetch`: the tool for a grey face).
///
/// # Errors
/// Why there is no session to fetch through: the network thread, the login, or no answer
/// within `timeout`.
pub fn fetch_through_login(
    params: super::LoginParams,
    ids: &[Uuid],
    timeout: Duration,
) -> Result<Vec<TextureFetched>, String> {
    use super::{NetCommand, NetEvent, NetHandle, NetSettings};
    let settings = NetSettings {
        report_datagrams: false,
        ..NetSettings::default()
    };
    let mut net = NetHandle::spawn(settings).map_err(|e| format!("network thread: {e}"))?;
    let deadline = Instant::now() + timeout;
    let next = |net: &NetHandle| -> Result<NetEvent, String> {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| format!("no answer within {timeout:?}"))?;
        net.events()
            .recv_timeout(left)
            .map_err(|_| format!("no answer within {timeout:?}"))
    };
    net.send(NetCommand::Login(params));
    let result = (|| {
        loop {
            match next(&net)? {
                NetEvent::LoggedIn(_) => break,
                NetEvent::LoginFailed(f) => return Err(format!("login failed: {f}")),
                NetEvent::Disconnected(why) => return Err(format!("disconnected: {why}")),
                _ => {}
            }
        }
        net.send(NetCommand::FetchTextures(ids.to_vec()));
        let wanted: HashSet<Uuid> = ids.iter().copied().collect();
        let mut got: Vec<TextureFetched> = Vec::new();
        while got.len() < wanted.len() {
            match next(&net)? {
                NetEvent::TextureFetched(t) if wanted.contains(&t.id) => got.push(t),
                NetEvent::Disconnected(why) => return Err(format!("disconnected: {why}")),
                _ => {}
            }
        }
        Ok(got)
    })();
    net.send(NetCommand::Logout);
    net.shutdown(Duration::from_secs(5));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_has_one_slash_before_the_query() {
        let id = Uuid([0x11; 16]);
        let want = format!("http://h/cap/abc/?texture_id={id}");
        assert_eq!(texture_url("http://h/cap/abc", id), want);
        assert_eq!(texture_url("http://h/cap/abc/", id), want);
    }

    #[test]
    fn each_id_is_asked_once_and_no_capability_fails_them_all() {
        let mut f = TextureFetcher::new(None);
        let (a, b) = (Uuid([1; 16]), Uuid([2; 16]));
        f.request([a, b, a]);
        f.request([b]);
        assert_eq!(f.queue, [a, b]);
        let client = super::super::login::http_client(&super::super::NetSettings::default())
            .expect("client");
        assert!(f.start(&client).is_empty(), "waits for the seed");
        let mut caps = std::collections::BTreeMap::new();
        caps.insert("EventQueueGet".to_owned(), "http://h/eq".to_owned());
        f.set_caps(Some(&caps));
        let failed = f.start(&client);
        assert_eq!(failed.len(), 2);
        assert!(
            failed
                .iter()
                .all(|t| t.result == Err(TextureFailure::NoCapability))
        );
        f.request([a]);
        assert!(f.queue.is_empty(), "not asked again");
    }
}
