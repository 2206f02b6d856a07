//! The `GetTexture` / `ViewerAsset` / `GetMesh` / `GetMesh2` capabilities: what a
//! `GET <cap>/?texture_id=<uuid>` or `?mesh_id=<uuid>` is answered, decided without I/O (PROTOCOL §12; `tests/data/opensim-0.9.2.2/assets/README.md`
//! has what the live OpenSim 0.9.2.2 answered, OpenSim's `GetAssetsHandler` the rest).
//!
//! - The first query pair whose key names an asset type decides: `texture_id` and `mesh_id`
//!   are looked up in the region's [`AssetStore`] (its own textures and meshes, and those of a
//!   region archive) and must name an asset of that kind; OpenSim's other asset keys
//!   (`sound_id`, `landmark_id`, …) name assets this region serves none of. No query at all: **400**; only unknown keys:
//!   **404** (OpenSim: "Unknown type").
//! - An empty or malformed id: **400**, empty body (observed for `texture_id=garbage`). An
//!   unknown id — [`crate::textures::MISSING`] among them — or an id of another type: **404**,
//!   empty body (observed).
//! - Found: **200**, `Content-Type: image/x-j2c` (a texture, observed) or
//!   `application/vnd.ll.mesh` (a mesh), the whole asset (observed). With
//!   `Range: bytes=A-B` **206** and `Content-Range: bytes A-B/total`, `B` clamped to the last
//!   byte; `bytes=A-` is from `A` to the end (observed: `bytes=0-` is a 206 with everything).
//!   The suffix form `bytes=-N` is the last `N` bytes, as RFC 9110 says (OpenSim reads it as
//!   `0-N`; viewers do not send it). A start at or past the end is answered like OpenSim does,
//!   **200 with the whole codestream**, not RFC 9110's 416: OpenSim's comment is that viewers
//!   send such starts for small textures and would flag a good texture bad on an error. A range
//!   header that does not parse, has several ranges, or ends before it starts is ignored (200,
//!   everything), as RFC 9110 allows.
//!
//! Unlike OpenSim the answers carry no `Server: OSWebServer` and do not force
//! `Connection: close`: keeping the connection lets a viewer fetch many small textures over one
//! socket, and libcurl (which viewers use) handles both.

use overlook_protocol::types::Uuid;

use crate::store::{Asset, AssetKind, AssetStore};

/// OpenSim's `GetAssetsHandler` query keys other than `texture_id` and `mesh_id` (assets this
/// region serves none of).
const OTHER_ASSET_KEYS: [&str; 17] = [
    "sound_id",
    "callcard_id",
    "landmark_id",
    "script_id",
    "clothing_id",
    "object_id",
    "notecard_id",
    "lsltext_id",
    "lslbyte_id",
    "txtr_tga_id",
    "bodypart_id",
    "snd_wav_id",
    "img_tga_id",
    "jpeg_id",
    "animatn_id",
    "gesture_id",
    "settings_id",
];

/// How an asset request is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AssetAnswer {
    /// 200 with the whole asset.
    Whole(Asset),
    /// 206 with `bytes[start..=end]` and `Content-Range: bytes start-end/len`.
    Partial {
        /// The asset.
        asset: Asset,
        /// First byte served.
        start: usize,
        /// Last byte served (inclusive).
        end: usize,
    },
    /// 400, empty body.
    BadRequest,
    /// 404, empty body.
    NotFound,
}

/// The answer to a request with URL query `query` (without the `?`) and `Range` header `range`.
pub(super) fn answer(store: &AssetStore, query: Option<&str>, range: Option<&str>) -> AssetAnswer {
    let pairs = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")));
    let mut any = false;
    let mut asked = None;
    for (key, value) in pairs {
        any = true;
        let kind = match key {
            "texture_id" => Some(AssetKind::Texture),
            "mesh_id" => Some(AssetKind::Mesh),
            _ => None,
        };
        if kind.is_some() || OTHER_ASSET_KEYS.contains(&key) {
            asked = Some((kind, value));
            break;
        }
    }
    let Some((kind, value)) = asked else {
        return if any {
            AssetAnswer::NotFound
        } else {
            AssetAnswer::BadRequest
        };
    };
    let Ok(id) = value.parse::<Uuid>() else {
        return AssetAnswer::BadRequest;
    };
    let Some(asset) = store.get(id).filter(|a| Some(a.kind) == kind) else {
        return AssetAnswer::NotFound;
    };
    let asset = asset.clone();
    match range.and_then(|r| byte_range(r, asset.bytes.len())) {
        Some((start, end)) => AssetAnswer::Partial { asset, start, end },
        None => AssetAnswer::Whole(asset),
    }
}

/// The inclusive byte range a `Range` header asks of a body of `len` bytes, or `None` when the
/// header is to be ignored (see the module docs; a start at or past the end is ignored too).
fn byte_range(header: &str, len: usize) -> Option<(usize, usize)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let last_byte = len.checked_sub(1)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        // Suffix: the last N bytes.
        if !digits(last) {
            return None;
        }
        let n: usize = last.parse().unwrap_or(usize::MAX);
        if n == 0 {
            return None;
        }
        return Some((len.saturating_sub(n), last_byte));
    }
    if !digits(first) {
        return None;
    }
    let start: usize = first.parse().ok()?;
    if start > last_byte {
        return None;
    }
    let end = if last.is_empty() {
        last_byte
    } else if digits(last) {
        last.parse::<usize>().unwrap_or(usize::MAX).min(last_byte)
    } else {
        return None;
    };
    (end >= start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meshes::GEM;
    use crate::textures::{CHECKER, MISSING, ORIENTED, TEXTURES};

    fn q(id: Uuid) -> String {
        format!("texture_id={id}")
    }

    fn answer(query: Option<&str>, range: Option<&str>) -> AssetAnswer {
        super::answer(&AssetStore::builtin(), query, range)
    }

    fn get(id: Uuid) -> Asset {
        AssetStore::builtin().get(id).unwrap().clone()
    }

    #[test]
    fn queries_decide_like_opensim() {
        let oriented = get(ORIENTED);
        assert_eq!(
            answer(Some(&q(ORIENTED)), None),
            AssetAnswer::Whole(oriented.clone())
        );
        assert_eq!(
            answer(Some(&format!("foo=1&texture_id={CHECKER}&mesh_id=x")), None),
            AssetAnswer::Whole(get(CHECKER))
        );
        // Meshes by `mesh_id`; an id of the other kind is unknown either way.
        assert_eq!(
            answer(Some(&format!("mesh_id={GEM}")), None),
            AssetAnswer::Whole(get(GEM))
        );
        assert_eq!(get(GEM).kind, AssetKind::Mesh);
        assert_eq!(answer(Some(&q(GEM)), None), AssetAnswer::NotFound);
        assert_eq!(answer(Some(&q(MISSING)), None), AssetAnswer::NotFound);
        assert_eq!(answer(Some(&q(Uuid([7; 16]))), None), AssetAnswer::NotFound);
        assert_eq!(
            answer(Some(&format!("mesh_id={ORIENTED}")), None),
            AssetAnswer::NotFound
        );
        assert_eq!(
            answer(Some("sound_id=garbage"), None),
            AssetAnswer::BadRequest
        );
        assert_eq!(
            answer(Some("texture_id=garbage"), None),
            AssetAnswer::BadRequest
        );
        assert_eq!(answer(Some("texture_id="), None), AssetAnswer::BadRequest);
        assert_eq!(answer(Some("texture_id"), None), AssetAnswer::BadRequest);
        assert_eq!(answer(Some("what=ever"), None), AssetAnswer::NotFound);
        assert_eq!(answer(Some(""), None), AssetAnswer::BadRequest);
        assert_eq!(answer(None, None), AssetAnswer::BadRequest);
        // Ids in upper case are ids too.
        let upper = q(ORIENTED)
            .to_uppercase()
            .replace("TEXTURE_ID", "texture_id");
        assert_eq!(answer(Some(&upper), None), AssetAnswer::Whole(oriented));
    }

    #[test]
    fn ranges() {
        let len = 1000;
        assert_eq!(byte_range("bytes=0-599", len), Some((0, 599)));
        assert_eq!(byte_range("bytes=600-2047", len), Some((600, 999)));
        assert_eq!(byte_range("bytes=0-", len), Some((0, 999)));
        assert_eq!(byte_range("bytes=999-", len), Some((999, 999)));
        assert_eq!(byte_range("bytes=5-5", len), Some((5, 5)));
        assert_eq!(byte_range("bytes=-100", len), Some((900, 999)));
        assert_eq!(byte_range("bytes=-5000", len), Some((0, 999)));
        assert_eq!(byte_range(" bytes= 10 - 20 ", len), Some((10, 20)));
        assert_eq!(
            byte_range("bytes=0-99999999999999999999999999", len),
            Some((0, 999))
        );
        for ignored in [
            "bytes=1000-",
            "bytes=5000-6000",
            "bytes=-0",
            "bytes=20-10",
            "bytes=0-1,5-6",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=1--2",
            "bytes=-",
            "items=0-1",
            "bytes 0-1",
            "",
        ] {
            assert_eq!(byte_range(ignored, len), None, "{ignored}");
        }
        assert_eq!(byte_range("bytes=0-", 0), None);
        let first = get(TEXTURES[0].id);
        assert_eq!(
            answer(Some(&q(TEXTURES[0].id)), Some("bytes=0-599")),
            AssetAnswer::Partial {
                asset: first.clone(),
                start: 0,
                end: 599
            }
        );
        assert_eq!(
            answer(Some(&q(TEXTURES[0].id)), Some("bytes=999999-")),
            AssetAnswer::Whole(first)
        );
    }
}
