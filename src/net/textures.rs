//! Texture fetching on the network thread (PROTOCOL §12): `GET <cap>/?texture_id=<uuid>` on the
//! region's `ViewerAsset` capability (OpenSim's newest), else `GetTexture`, as the seed granted
//! them.
//!
//! The viewer asks with [`NetCommand::FetchTextures`](super::NetCommand::FetchTextures): each id
//! once per session, with a priority ([`TextureAsk`]); at most [`MAX_IN_FLIGHT`] requests run at
//! a time, the highest priority started first (terrain detail textures, then faces by their size
//! on screen), ties in the order asked. A request has [`TEXTURE_TIMEOUT`]; a transport error, a
//! timeout or a `5xx` is retried [`RETRIES`] times with a growing pause, a `4xx` (`404` unknown,
//! `400` bad id) is final. A body over [`MAX_TEXTURE_BYTES`] is refused unread. Each ask ends in
//! one [`NetEvent::TextureFetched`](super::NetEvent::TextureFetched). The capability URL is the
//! session's credential: no message here contains it.
//!
//! **Progressive fetching**, as SL viewers do (PROTOCOL §12): an ask with `first_bytes` sends
//! `Range: bytes=0-(n−1)` and reports that prefix with the codestream's whole length
//! ([`TextureFetched::total`]); OpenSim's textures are layer-first, so the prefix decodes to a
//! full-size, lower-quality image at once. [`NetCommand::FetchTextureRest`](super::NetCommand::FetchTextureRest)
//! later fetches the remainder (`Range: bytes=n-`) when the viewer wants the full quality. A
//! server that ignores `Range` (`200`) simply sends everything. Only whole codestreams go into
//! the disk cache, and a cached one is whole at once.
//!
//! **Meshes** go through a second fetcher of the same kind ([`AssetClass::Mesh`]):
//! `GET <cap>/?mesh_id=<uuid>` on `ViewerAsset`, else `GetMesh2`, else `GetMesh`, always whole
//! (a mesh is small next to its textures), with the same retries, limits and disk cache (its own
//! folder).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::FuturesUnordered;
use web_time::Instant;

use super::cache::TextureCache;
use super::login::{CappedRead, innermost_cause, read_body_capped};
use super::platform;
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
    /// A range answer that does not fit the request.
    #[error("{0}")]
    BadRange(String),
    /// The region granted none of the capabilities for this class of asset.
    #[error("the region granted no {} capability ({})", .0.noun(), .0.caps().join(", "))]
    NoCapability(AssetClass),
}

/// What a fetcher fetches: where it asks, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetClass {
    /// Textures and sculpt maps: `texture_id`, on `ViewerAsset` or `GetTexture`.
    Texture,
    /// Meshes: `mesh_id`, on `ViewerAsset`, `GetMesh2` or `GetMesh`.
    Mesh,
}

impl AssetClass {
    /// The capabilities that serve it, the preferred first.
    pub fn caps(self) -> &'static [&'static str] {
        match self {
            AssetClass::Texture => &["ViewerAsset", "GetTexture"],
            AssetClass::Mesh => &["ViewerAsset", "GetMesh2", "GetMesh"],
        }
    }

    /// Its query key.
    pub fn key(self) -> &'static str {
        match self {
            AssetClass::Texture => "texture_id",
            AssetClass::Mesh => "mesh_id",
        }
    }

    /// Its name in messages.
    pub fn noun(self) -> &'static str {
        match self {
            AssetClass::Texture => "texture",
            AssetClass::Mesh => "mesh",
        }
    }
}

/// What the viewer asks of one texture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextureAsk {
    /// The texture.
    pub id: Uuid,
    /// Higher is fetched sooner: the terrain's detail textures `f32::INFINITY`, a face its
    /// size on screen in pixels.
    pub priority: f32,
    /// `Some(n)`: only the first `n` bytes for now (a range request; the rest on
    /// `FetchTextureRest`); `None`: the whole codestream.
    pub first_bytes: Option<u32>,
}

impl TextureAsk {
    /// The whole of `id`, at no particular priority (`check`, `overlook asset fetch`).
    pub fn whole(id: Uuid) -> Self {
        TextureAsk {
            id,
            priority: 0.0,
            first_bytes: None,
        }
    }
}

/// One texture's fetch, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextureFetched {
    /// The texture.
    pub id: Uuid,
    /// The codestream (or its first part, see `total`), or why there is none.
    pub result: Result<Arc<[u8]>, TextureFailure>,
    /// `Some(n)`: `result` is the first part of an `n`-byte codestream; `None`: all of it.
    pub total: Option<u64>,
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

/// A request waiting to start: the ask, and the part already fetched when it asks for the rest.
#[derive(Debug, Clone)]
struct Pending {
    ask: TextureAsk,
    have: Option<Arc<[u8]>>,
}

/// The fetch queue of one session.
#[derive(Debug)]
pub(super) struct TextureFetcher {
    class: AssetClass,
    cache: Option<Arc<TextureCache>>,
    cap: Capability,
    queue: Vec<Pending>,
    asked: HashSet<Uuid>,
    /// First parts fetched whose rest has not been asked for.
    partial: HashMap<Uuid, Arc<[u8]>>,
    /// Run inside the network task (no runtime to spawn on in a page), polled by [`Self::next`].
    in_flight: FuturesUnordered<LocalBoxFuture<'static, TextureFetched>>,
}

impl TextureFetcher {
    pub(super) fn new(class: AssetClass, cache: Option<Arc<TextureCache>>) -> Self {
        TextureFetcher {
            class,
            cache,
            cap: Capability::Unknown,
            queue: Vec::new(),
            asked: HashSet::new(),
            partial: HashMap::new(),
            in_flight: FuturesUnordered::new(),
        }
    }

    /// Queues the asks for ids not asked for before in this session.
    pub(super) fn request(&mut self, asks: impl IntoIterator<Item = TextureAsk>) {
        for ask in asks {
            if self.asked.insert(ask.id) {
                self.queue.push(Pending { ask, have: None });
            }
        }
    }

    /// Queues the rest of textures whose first part was fetched, at these priorities; ids with
    /// no first part pending are ignored.
    pub(super) fn request_rest(&mut self, asks: impl IntoIterator<Item = (Uuid, f32)>) {
        for (id, priority) in asks {
            if let Some(have) = self.partial.remove(&id) {
                self.queue.push(Pending {
                    ask: TextureAsk {
                        id,
                        priority,
                        first_bytes: None,
                    },
                    have: Some(have),
                });
            }
        }
    }

    /// Notes a finished fetch: a first part is kept for its rest.
    pub(super) fn finished(&mut self, done: &TextureFetched) {
        if let (Some(_), Ok(bytes)) = (done.total, &done.result) {
            self.partial.insert(done.id, bytes.clone());
        }
    }

    /// The next request to start: the highest priority, the earliest asked among equals.
    fn pop(&mut self) -> Option<Pending> {
        let best =
            self.queue
                .iter()
                .enumerate()
                .fold(None, |best: Option<(usize, f32)>, (i, p)| match best {
                    Some((_, b)) if b >= p.ask.priority => best,
                    _ => Some((i, p.ask.priority)),
                })?;
        Some(self.queue.remove(best.0))
    }

    /// The seed's answer: the first capability of the class among `caps`, or none.
    pub(super) fn set_caps(&mut self, caps: Option<&std::collections::BTreeMap<String, String>>) {
        let url = caps.and_then(|c| self.class.caps().iter().find_map(|name| c.get(*name)));
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
                .map(|p| TextureFetched {
                    id: p.ask.id,
                    result: Err(TextureFailure::NoCapability(self.class)),
                    total: None,
                    attempts: 0,
                    elapsed: Duration::ZERO,
                    ms: 0,
                    cached: false,
                })
                .collect(),
            Capability::Url(cap) => {
                let cap = cap.clone();
                while self.in_flight.len() < MAX_IN_FLIGHT {
                    let Some(p) = self.pop() else {
                        break;
                    };
                    let url = asset_url(&cap, self.class, p.ask.id);
                    self.in_flight.push(Box::pin(fetch(
                        client.clone(),
                        url,
                        p,
                        self.cache.clone(),
                    )));
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
        self.in_flight.next().await
    }
}

/// `<cap>/?texture_id=<uuid>` (one slash, whether the capability ends with one or not).
pub fn texture_url(cap: &str, id: Uuid) -> String {
    asset_url(cap, AssetClass::Texture, id)
}

/// `<cap>/?texture_id=<uuid>` or `<cap>/?mesh_id=<uuid>` by class.
pub fn asset_url(cap: &str, class: AssetClass, id: Uuid) -> String {
    format!("{}/?{}={id}", cap.trim_end_matches('/'), class.key())
}

/// Fetches one texture (or its first part, or its rest) with retries, from the disk cache when
/// it has it (and a whole one into the cache).
async fn fetch(
    client: reqwest::Client,
    url: String,
    pending: Pending,
    cache: Option<Arc<TextureCache>>,
) -> TextureFetched {
    let started = Instant::now();
    let Pending { ask, have } = pending;
    let id = ask.id;
    if let Some(cache) = cache.as_ref().filter(|_| have.is_none()) {
        let c = cache.clone();
        if let Some(Some(bytes)) = platform::blocking(move || c.get(id)).await {
            return TextureFetched {
                id,
                result: Ok(bytes.into()),
                total: None,
                attempts: 0,
                elapsed: started.elapsed(),
                ms: 0,
                cached: true,
            };
        }
    }
    // The byte range to ask for: the rest after what we have, or the first part.
    let from = have.as_ref().map_or(0, |h| h.len() as u64);
    let range = match (from, ask.first_bytes) {
        (0, None) => None,
        (0, Some(n)) => Some(format!("bytes=0-{}", u64::from(n.max(1)) - 1)),
        (from, _) => Some(format!("bytes={from}-")),
    };
    let mut attempts = 0u8;
    let result = loop {
        attempts += 1;
        let once = fetch_once(&client, &url, range.as_deref()).await;
        let retry = matches!(&once, Err(TextureFailure::Transport(_)))
            || matches!(&once, Err(TextureFailure::Status(s)) if *s >= 500);
        if !retry || attempts > RETRIES {
            break once;
        }
        platform::sleep(Duration::from_millis(250) * u32::from(attempts)).await;
    };
    let (result, total) = match result {
        Ok(reply) => match assemble(have.as_deref(), reply) {
            Ok((bytes, total)) => (Ok(bytes), total),
            Err(e) => (Err(e), None),
        },
        // Asking for the rest of a codestream that had none left.
        Err(TextureFailure::Status(416)) if have.is_some() => {
            (Ok(have.unwrap_or_else(|| Arc::from(Vec::new()))), None)
        }
        Err(e) => (Err(e), None),
    };
    if let (Some(cache), Ok(bytes), None) = (cache, &result, total) {
        let bytes = bytes.clone();
        let stored = platform::blocking(move || cache.put(id, &bytes)).await;
        if let Some(Err(e)) = stored {
            tracing::warn!("texture cache: cannot store {id}: {e}");
        }
    }
    TextureFetched {
        id,
        result,
        total,
        attempts,
        elapsed: started.elapsed(),
        ms: 0,
        cached: false,
    }
}

/// One answer's body, and its `Content-Range` (first byte, whole length) when it was partial.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    body: Vec<u8>,
    range: Option<(u64, u64)>,
}

/// The codestream so far from what we had and an answer: `(bytes, total)`, `total` the whole
/// length while it is still incomplete. A whole answer (`200`) replaces what we had, as does a
/// range from the start; a range that neither starts at 0 nor continues what we had is an
/// error.
fn assemble(have: Option<&[u8]>, reply: Reply) -> Result<(Arc<[u8]>, Option<u64>), TextureFailure> {
    let (bytes, total): (Vec<u8>, Option<u64>) = match (have, reply.range) {
        (_, None) => (reply.body, None),
        (Some(have), Some((start, total))) if start == have.len() as u64 => {
            let mut all = Vec::with_capacity(have.len() + reply.body.len());
            all.extend_from_slice(have);
            all.extend_from_slice(&reply.body);
            (all, Some(total))
        }
        (_, Some((0, total))) => (reply.body, Some(total)),
        (have, Some((start, _))) => {
            return Err(TextureFailure::BadRange(format!(
                "the server sent bytes from {start} when asked from {}",
                have.map_or(0, <[u8]>::len)
            )));
        }
    };
    let total = total.filter(|&t| (bytes.len() as u64) < t);
    Ok((bytes.into(), total))
}

/// `Content-Range: bytes a-b/total` → `(a, total)`.
fn content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (start, _) = span.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()?))
}

async fn fetch_once(
    client: &reqwest::Client,
    url: &str,
    range: Option<&str>,
) -> Result<Reply, TextureFailure> {
    // `without_url`: the capability must not end up in a message.
    let transport = |e: reqwest::Error| {
        let e = e.without_url();
        if e.is_timeout() {
            TextureFailure::Transport(format!("no answer within {TEXTURE_TIMEOUT:?}"))
        } else {
            TextureFailure::Transport(innermost_cause(&e))
        }
    };
    let mut request = client.get(url).timeout(TEXTURE_TIMEOUT);
    if let Some(range) = range {
        request = request.header(reqwest::header::RANGE, range);
    }
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    if !status.is_success() {
        return Err(TextureFailure::Status(status.as_u16()));
    }
    let range = (status == reqwest::StatusCode::PARTIAL_CONTENT)
        .then(|| {
            response
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(content_range)
        })
        .flatten();
    match read_body_capped(response, MAX_TEXTURE_BYTES).await {
        Ok(body) => Ok(Reply { body, range }),
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
#[cfg(not(target_arch = "wasm32"))]
pub fn fetch_through_login(
    params: super::LoginParams,
    ids: &[Uuid],
    timeout: Duration,
) -> Result<Vec<TextureFetched>, String> {
    fetch_assets_through_login(params, AssetClass::Texture, ids, timeout)
}

/// [`fetch_through_login`] for either class: textures, or meshes through the region's
/// `ViewerAsset` / `GetMesh2` / `GetMesh` (`overlook asset fetch --mesh`).
///
/// # Errors
/// As [`fetch_through_login`].
#[cfg(not(target_arch = "wasm32"))]
pub fn fetch_assets_through_login(
    params: super::LoginParams,
    class: AssetClass,
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
        net.send(match class {
            AssetClass::Texture => {
                NetCommand::FetchTextures(ids.iter().map(|&id| TextureAsk::whole(id)).collect())
            }
            AssetClass::Mesh => NetCommand::FetchMeshes(ids.iter().map(|&id| (id, 0.0)).collect()),
        });
        let wanted: HashSet<Uuid> = ids.iter().copied().collect();
        let mut got: Vec<TextureFetched> = Vec::new();
        while got.len() < wanted.len() {
            match next(&net)? {
                NetEvent::TextureFetched(t)
                    if class == AssetClass::Texture && wanted.contains(&t.id) =>
                {
                    got.push(t);
                }
                NetEvent::MeshFetched(t) if class == AssetClass::Mesh && wanted.contains(&t.id) => {
                    got.push(t);
                }
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
        assert_eq!(
            asset_url("http://h/cap/abc/", AssetClass::Mesh, id),
            format!("http://h/cap/abc/?mesh_id={id}")
        );
    }

    #[test]
    fn each_id_is_asked_once_and_no_capability_fails_them_all() {
        let mut f = TextureFetcher::new(AssetClass::Texture, None);
        let (a, b) = (Uuid([1; 16]), Uuid([2; 16]));
        f.request([a, b, a].map(TextureAsk::whole));
        f.request([TextureAsk::whole(b)]);
        assert_eq!(f.queue.iter().map(|p| p.ask.id).collect::<Vec<_>>(), [a, b]);
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
                .all(|t| t.result == Err(TextureFailure::NoCapability(AssetClass::Texture)))
        );
        f.request([TextureAsk::whole(a)]);
        assert!(f.queue.is_empty(), "not asked again");
        assert_eq!(
            TextureFailure::NoCapability(AssetClass::Mesh).to_string(),
            "the region granted no mesh capability (ViewerAsset, GetMesh2, GetMesh)"
        );
        // Meshes take the first of their capabilities the seed granted.
        let mut m = TextureFetcher::new(AssetClass::Mesh, None);
        caps.insert("GetMesh".to_owned(), "http://h/m1".to_owned());
        caps.insert("GetMesh2".to_owned(), "http://h/m2".to_owned());
        caps.insert("GetTexture".to_owned(), "http://h/t".to_owned());
        m.set_caps(Some(&caps));
        assert_eq!(m.cap, Capability::Url("http://h/m2".to_owned()));
        f.set_caps(Some(&caps));
        assert_eq!(f.cap, Capability::Url("http://h/t".to_owned()));
    }

    #[test]
    fn the_highest_priority_starts_first_and_equals_in_the_order_asked() {
        let mut f = TextureFetcher::new(AssetClass::Texture, None);
        let ask = |n: u8, priority: f32| TextureAsk {
            id: Uuid([n; 16]),
            priority,
            first_bytes: Some(8192),
        };
        f.request([
            ask(1, 10.0),
            ask(2, 300.0),
            ask(3, f32::INFINITY),
            ask(4, 10.0),
        ]);
        let order: Vec<u8> = std::iter::from_fn(|| f.pop())
            .map(|p| p.ask.id.0[0])
            .collect();
        assert_eq!(order, [3, 2, 1, 4]);
    }

    #[test]
    fn a_first_part_waits_for_its_rest_which_goes_with_it() {
        let mut f = TextureFetcher::new(AssetClass::Texture, None);
        let id = Uuid([9; 16]);
        f.request_rest([(id, 5.0)]);
        assert!(f.queue.is_empty(), "no first part: nothing to ask");
        let first: Arc<[u8]> = Arc::from(vec![1u8; 100]);
        f.finished(&TextureFetched {
            id,
            result: Ok(first.clone()),
            total: Some(300),
            attempts: 1,
            elapsed: Duration::ZERO,
            ms: 0,
            cached: false,
        });
        f.request_rest([(id, 5.0)]);
        let rest = f.pop().expect("the rest is queued");
        assert_eq!(rest.have.as_deref(), Some(&first[..]));
        assert_eq!(rest.ask.first_bytes, None);
        f.request_rest([(id, 5.0)]);
        assert!(f.queue.is_empty(), "asked once");
    }

    #[test]
    fn answers_assemble_into_the_codestream() {
        assert_eq!(content_range("bytes 0-8191/79234"), Some((0, 79234)));
        assert_eq!(content_range("bytes 8192-79233/79234"), Some((8192, 79234)));
        assert_eq!(content_range("bytes */79234"), None);
        assert_eq!(content_range("garbage"), None);
        let reply = |body: Vec<u8>, range| Reply { body, range };
        // A first part of a longer codestream: partial, with its total.
        let (first, total) = assemble(None, reply(vec![1; 10], Some((0, 25)))).unwrap();
        assert_eq!((first.len(), total), (10, Some(25)));
        // Its rest continues it: whole.
        let (all, total) = assemble(Some(&first), reply(vec![2; 15], Some((10, 25)))).unwrap();
        assert_eq!((all.len(), total), (25, None));
        assert_eq!(&all[..10], &[1; 10]);
        assert_eq!(&all[10..], &[2; 15]);
        // A first part that is everything, and a server ignoring the range: whole answers.
        assert_eq!(
            assemble(None, reply(vec![1; 25], Some((0, 25)))).unwrap().1,
            None
        );
        assert_eq!(
            assemble(Some(&first), reply(vec![3; 25], None)).unwrap(),
            (Arc::from(vec![3; 25]), None)
        );
        // A range that does not continue what we had is an error, not a corrupt codestream.
        assert!(matches!(
            assemble(Some(&first), reply(vec![3; 5], Some((20, 25)))),
            Err(TextureFailure::BadRange(_))
        ));
    }
}
