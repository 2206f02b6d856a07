//! `overlook web`: one origin serving the browser build and the relay ([`overlook_relay`]) to
//! one grid — the embedded region, run in the same process, when no grid is given.
//!
//! The page at `/` is the build directory's `index.html` (`--bundle DIR`, default `web/dist`
//! when it exists: `bash web/build.sh` makes it), else a short page that says how to build it;
//! the relay works either way.
//!
//! Files are served from the bundle directory only: a path is a sequence of plain segments
//! (letters, digits, `-`, `_`, `.`, no `..`, no leading `.`); anything else is 404. The
//! password given for auto-login stays in the relay and never reaches the page.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

/// What the page shows when `overlook web` has no browser build to serve.
const NO_BUNDLE_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\">\
<title>overlook: error: no browser build</title></head><body><h1>Overlook</h1>\
<p>This <code>overlook web</code> has no browser build to serve. From the checkout, run \
<code>bash web/build.sh</code> (it writes <code>web/dist/</code>), then start \
<code>overlook web</code> again from there, or give it <code>--bundle DIR</code>.</p>\
<p>The relay runs meanwhile: <code>POST /relay/login</code>, <code>/relay/cap/</code>, \
the WebSocket <code>/relay/ws</code>.</p></body></html>";

/// The content type of a bundle file, by extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// The file under `root` a request path names, when it is a plain relative path (see the
/// module docs); `/` is `index.html`.
pub fn bundle_file(root: &Path, request_path: &str) -> Option<PathBuf> {
    let rel = request_path.strip_prefix('/')?;
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let mut path = root.to_path_buf();
    for segment in rel.split('/') {
        let plain = !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !plain {
            return None;
        }
        path.push(segment);
    }
    Some(path)
}

/// Serves the bundle's files (or the no-bundle page at `/`).
async fn files(State(root): State<Option<PathBuf>>, uri: Uri) -> Response {
    let Some(root) = root else {
        return if uri.path() == "/" {
            Html(NO_BUNDLE_PAGE).into_response()
        } else {
            StatusCode::NOT_FOUND.into_response()
        };
    };
    let Some(path) = bundle_file(&root, uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let read = path.clone();
    match tokio::task::spawn_blocking(move || std::fs::read(read)).await {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, content_type(&path))], bytes).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The whole origin: the relay's routes, and the bundle's files for everything else.
pub fn app(relay: overlook_relay::RelayState, bundle: Option<PathBuf>) -> Router {
    let files = Router::new().fallback(files).with_state(bundle);
    overlook_relay::router(relay).merge(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_under_the_bundle_are_files() {
        let root = Path::new("/srv/bundle");
        assert_eq!(
            bundle_file(root, "/"),
            Some(PathBuf::from("/srv/bundle/index.html"))
        );
        assert_eq!(
            bundle_file(root, "/pkg/overlook_bg.wasm"),
            Some(PathBuf::from("/srv/bundle/pkg/overlook_bg.wasm"))
        );
        for bad in [
            "/../Cargo.toml",
            "/pkg/../../etc/passwd",
            "/.git/config",
            "/a//b",
            "/a%2F..",
            "/a\\b",
            "relative",
            "/pkg/",
        ] {
            assert_eq!(bundle_file(root, bad), None, "{bad}");
        }
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(content_type(Path::new("a")), "application/octet-stream");
    }
}
