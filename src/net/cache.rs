//! The texture disk cache (issue 15): one file per texture id in the platform's cache directory
//! (`$XDG_CACHE_HOME/overlook/textures`, else `~/.cache/overlook/textures`; macOS
//! `~/Library/Caches/overlook/textures`; Windows `%LOCALAPPDATA%\overlook\textures`), bounded in
//! size with least-recently-used eviction, surviving restarts.
//!
//! A file is `OVLKTX01`, the codestream's length (u64 LE) and its FNV-1a 64 hash (u64 LE), then
//! the codestream. An entry whose header, length or hash does not match (a torn write, a disk
//! error, another program) is deleted and counts as a miss, so the texture is fetched again.
//! Writes go to a temporary file renamed into place, so a reader never sees half a file. A hit
//! refreshes the file's modification time, which is what eviction orders by.
//!
//! Meshes have a cache of their own beside it (`…/overlook/meshes`, files `<id>.llmesh`,
//! [`TextureCache::open_meshes`]), with the same format and bound.
//!
//! The viewer uses it; `overlook check` does not (it verifies what the grid serves now).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use overlook_protocol::types::Uuid;

/// The cache's default size bound: 512 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024 * 1024;

const MAGIC: &[u8; 8] = b"OVLKTX01";
const HEADER: usize = 24;

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The platform's cache directory for textures, when one can be found.
pub fn default_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(target_os = "windows") {
        env("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Caches"))
    } else {
        env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))
    }?;
    Some(base.join("overlook").join("textures"))
}

/// A size-bounded directory of texture codestreams.
#[derive(Debug)]
pub struct TextureCache {
    dir: PathBuf,
    /// The files' extension: `j2c` (textures) or `llmesh` (meshes).
    ext: &'static str,
    max_bytes: u64,
    /// Bytes on disk (file sizes), kept as entries come and go.
    total: Mutex<u64>,
}

impl TextureCache {
    /// Opens (creating) the cache in `dir`, bounded to `max_bytes`.
    ///
    /// # Errors
    /// When the directory cannot be created or listed.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> io::Result<TextureCache> {
        Self::open_with(dir.into(), max_bytes, "j2c")
    }

    /// Opens (creating) the mesh cache beside the texture cache in `texture_dir` (its sibling
    /// `meshes`), bounded to `max_bytes`.
    ///
    /// # Errors
    /// When the directory cannot be created or listed.
    pub fn open_meshes(texture_dir: &Path, max_bytes: u64) -> io::Result<TextureCache> {
        let dir = texture_dir
            .parent()
            .map_or_else(|| texture_dir.join("meshes"), |p| p.join("meshes"));
        Self::open_with(dir, max_bytes, "llmesh")
    }

    fn open_with(dir: PathBuf, max_bytes: u64, ext: &'static str) -> io::Result<TextureCache> {
        fs::create_dir_all(&dir)?;
        let cache = TextureCache {
            dir,
            ext,
            max_bytes,
            total: Mutex::new(0),
        };
        let total = cache.entries()?.iter().map(|(_, len, _)| len).sum();
        *cache.lock() = total;
        cache.evict()?;
        Ok(cache)
    }

    /// Where it keeps its files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk now.
    pub fn total_bytes(&self) -> u64 {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.total
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn path(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.{}", self.ext))
    }

    /// The cached codestream of `id`; a damaged entry is deleted and is a miss.
    pub fn get(&self, id: Uuid) -> Option<Vec<u8>> {
        let path = self.path(id);
        let file = fs::read(&path).ok()?;
        let valid = file.len() >= HEADER
            && file.get(..8) == Some(&MAGIC[..])
            && file
                .get(8..16)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
                == Some((file.len() - HEADER) as u64)
            && file
                .get(16..24)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
                == file.get(HEADER..).map(fnv1a);
        if !valid {
            tracing::warn!(
                "texture cache: {} is damaged; fetching it again",
                path.display()
            );
            if fs::remove_file(&path).is_ok() {
                let mut total = self.lock();
                *total = total.saturating_sub(file.len() as u64);
            }
            return None;
        }
        // Recently used: eviction goes by modification time.
        if let Ok(f) = fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        file.get(HEADER..).map(<[u8]>::to_vec)
    }

    /// Stores `bytes` as `id`, then evicts the least recently used entries over the bound.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn put(&self, id: Uuid, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(id);
        let old = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let tmp = self.dir.join(format!(".{id}.{}.tmp", std::process::id()));
        let mut file = Vec::with_capacity(HEADER + bytes.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        file.extend_from_slice(&fnv1a(bytes).to_le_bytes());
        file.extend_from_slice(bytes);
        fs::write(&tmp, &file)?;
        fs::rename(&tmp, &path)?;
        {
            let mut total = self.lock();
            *total = total.saturating_sub(old) + file.len() as u64;
        }
        self.evict()
    }

    /// `(path, length, modified)` of every entry.
    fn entries(&self) -> io::Result<Vec<(PathBuf, u64, SystemTime)>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let path = e.path();
            if path.extension().is_some_and(|x| x == self.ext)
                && let Ok(m) = e.metadata()
            {
                out.push((
                    path,
                    m.len(),
                    m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                ));
            }
        }
        Ok(out)
    }

    /// Deletes the least recently used entries until the total is within the bound.
    fn evict(&self) -> io::Result<()> {
        if self.total_bytes() <= self.max_bytes {
            return Ok(());
        }
        let mut entries = self.entries()?;
        entries.sort_by_key(|(_, _, modified)| *modified);
        let mut total = self.lock();
        for (path, len, _) in entries {
            if *total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                *total = total.saturating_sub(len);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("overlook-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn entries_survive_a_reopen_and_damage_is_a_miss() {
        let d = dir("reopen");
        let (a, b) = (Uuid([1; 16]), Uuid([2; 16]));
        let cache = TextureCache::open(&d, 1 << 20).unwrap();
        assert_eq!(cache.get(a), None);
        cache.put(a, b"\xff\x4f\xff\x51codestream a").unwrap();
        cache.put(b, b"\xff\x4f\xff\x51codestream b").unwrap();
        drop(cache);
        let cache = TextureCache::open(&d, 1 << 20).unwrap();
        assert_eq!(
            cache.get(a).as_deref(),
            Some(&b"\xff\x4f\xff\x51codestream a"[..])
        );
        assert_eq!(cache.total_bytes(), 2 * (HEADER as u64 + 16));
        // One byte flipped: the hash no longer matches; the entry goes and is a miss.
        let path = cache.path(b);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert_eq!(cache.get(b), None);
        assert!(!path.exists());
        // Cut short: a miss too.
        fs::write(cache.path(a), &MAGIC[..]).unwrap();
        assert_eq!(cache.get(a), None);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn the_least_recently_used_go_first_when_over_the_bound() {
        let d = dir("lru");
        let entry = HEADER as u64 + 1000;
        let cache = TextureCache::open(&d, 3 * entry).unwrap();
        let ids: Vec<Uuid> = (1..=4u8).map(|i| Uuid([i; 16])).collect();
        for id in &ids[..3] {
            cache.put(*id, &[7u8; 1000]).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        // The first is used again: the second is now the least recent.
        assert!(cache.get(ids[0]).is_some());
        std::thread::sleep(Duration::from_millis(20));
        cache.put(ids[3], &[7u8; 1000]).unwrap();
        assert!(cache.total_bytes() <= 3 * entry);
        assert!(cache.get(ids[1]).is_none(), "the least recently used went");
        for i in [0, 2, 3] {
            assert!(cache.get(ids[i]).is_some(), "{i}");
        }
        // Reopened with a smaller bound, it shrinks at once.
        drop(cache);
        let cache = TextureCache::open(&d, entry).unwrap();
        assert!(cache.total_bytes() <= entry);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn the_default_dir_follows_xdg() {
        if cfg!(target_os = "linux")
            && let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty())
        {
            assert_eq!(
                default_dir(),
                Some(PathBuf::from(xdg).join("overlook/textures"))
            );
        } else if cfg!(target_os = "linux") {
            let home = PathBuf::from(std::env::var_os("HOME").unwrap());
            assert_eq!(default_dir(), Some(home.join(".cache/overlook/textures")));
        }
    }
}
