//! A streaming, bounded reader of OpenSim region archives (OAR, `save oar` / `load oar`).
//!
//! An OAR is a gzip-compressed tar (OpenSim's `ArchiveWriteRequest` / `ArchiveReadRequest`):
//! - `archive.xml`: the control file (version, region size in `size_in_meters`);
//! - `objects/<name>_<x>-<y>-<z>__<uuid>.xml`: one `SceneObjectGroup` each, "xml2" format;
//! - `assets/<uuid>_<kind>.<ext>`: assets, the kind from the suffix ([`OarAssetKind`]);
//! - `terrains/<region>.r32`: the heightmap, `f32` little-endian, row-major, south row first;
//! - `settings/<region>.xml`: region settings (terrain textures, water height...);
//! - `landdata/`, and others: counted and skipped.
//!
//! Multi-region archives (control version 1.x) keep each region under `regions/<dir>/`; the
//! first region found is read and the others are skipped with a problem line.
//!
//! [`read_oar`] reads the archive in one pass from any [`Read`], never holding more than one
//! entry beside what it returns. Every size is checked against [`OarLimits`] before it is read;
//! hostile input gives an [`OarError`] naming the entry, or a line in [`Oar::problems`] when only
//! one object, asset or setting is affected. Nothing here panics.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use overlook_protocol::message::object::PCode;
use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::Uuid;

use crate::scene::{PRIM_FLAGS, SCENE_FIRST_ID, SceneObject, TREE_FLAGS};
use crate::store::AssetKind;

mod object;
mod settings;
mod tar;
mod write;
mod xml;

#[cfg(test)]
mod tests;

pub use settings::{DEFAULT_TERRAIN_TEXTURES, OarSettings};
pub use write::{ArchiveContent, write_oar};

use tar::{EntryKind, TarReader};

/// The bounds [`read_oar`] reads within. Exceeding one is an [`OarError`] (a part count over
/// [`OarLimits::max_parts_per_group`] only skips that object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OarLimits {
    /// Most bytes read from the compressed input (2 GiB).
    pub max_compressed_bytes: u64,
    /// Most bytes of the tar stream inside, headers and skipped entries included (4 GiB): the
    /// bound on a decompression bomb.
    pub max_uncompressed_bytes: u64,
    /// Largest single entry (256 MiB; a 4096 m region's `.r32` is 64 MiB).
    pub max_entry_bytes: u64,
    /// Most tar entries, of any kind (1,000,000).
    pub max_entries: u64,
    /// Most objects (`objects/*.xml` files, one linkset each) (100,000).
    pub max_groups: usize,
    /// Most parts of one object (256, Second Life's linkset limit); a larger object is skipped
    /// with a problem line.
    pub max_parts_per_group: usize,
    /// Most parts in all (500,000).
    pub max_parts: usize,
    /// Most assets kept (100,000).
    pub max_assets: usize,
    /// Most asset bytes kept in all (2 GiB).
    pub max_asset_bytes: u64,
    /// Deepest element nesting in any XML file (64; OpenSim's files nest 5 deep or so).
    pub max_xml_depth: usize,
}

impl Default for OarLimits {
    fn default() -> Self {
        OarLimits {
            max_compressed_bytes: 2 << 30,
            max_uncompressed_bytes: 4 << 30,
            max_entry_bytes: 256 << 20,
            max_entries: 1_000_000,
            max_groups: 100_000,
            max_parts_per_group: 256,
            max_parts: 500_000,
            max_assets: 100_000,
            max_asset_bytes: 2 << 30,
            max_xml_depth: 64,
        }
    }
}

/// What an asset is, from its file-name suffix (OpenSim's `ArchiveConstants`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OarAssetKind {
    /// `_texture.jp2`: a JPEG 2000 texture.
    Texture,
    /// `_texture.tga`.
    TextureTga,
    /// `_image.jpg`.
    ImageJpeg,
    /// `_image.tga`.
    ImageTga,
    /// `_mesh.llmesh`: a mesh asset.
    Mesh,
    /// `_object.xml`: an object in inventory.
    Object,
    /// `_notecard.txt`.
    Notecard,
    /// `_script.lsl`: LSL source.
    Script,
    /// `_bytecode.lso`.
    Bytecode,
    /// `_sound.ogg`.
    Sound,
    /// `_sound.wav`.
    SoundWav,
    /// `_animation.bvh`.
    Animation,
    /// `_gesture.txt`.
    Gesture,
    /// `_bodypart.txt`.
    Bodypart,
    /// `_clothing.txt`.
    Clothing,
    /// `_landmark.txt`.
    Landmark,
    /// `_callingcard.txt`.
    CallingCard,
    /// `_folder.txt`.
    Folder,
    /// `_simstate.bin`.
    Simstate,
    /// `_material.xml`: an OpenSim (legacy) material.
    OsMaterial,
    /// `_settings.bin`: an environment settings asset.
    Settings,
    /// `_prmat.dat`: a GLTF (PBR) material.
    Material,
    /// Any other suffix, as written after the UUID (e.g. `_thing.bin`); kept, with a problem
    /// line.
    Other(String),
}

/// Suffixes and kinds, as in OpenSim's `ArchiveConstants.ASSET_TYPE_TO_EXTENSION`.
const ASSET_SUFFIXES: [(&str, OarAssetKind); 22] = [
    ("_texture.jp2", OarAssetKind::Texture),
    ("_texture.tga", OarAssetKind::TextureTga),
    ("_image.jpg", OarAssetKind::ImageJpeg),
    ("_image.tga", OarAssetKind::ImageTga),
    ("_mesh.llmesh", OarAssetKind::Mesh),
    ("_object.xml", OarAssetKind::Object),
    ("_notecard.txt", OarAssetKind::Notecard),
    ("_script.lsl", OarAssetKind::Script),
    ("_bytecode.lso", OarAssetKind::Bytecode),
    ("_sound.ogg", OarAssetKind::Sound),
    ("_sound.wav", OarAssetKind::SoundWav),
    ("_animation.bvh", OarAssetKind::Animation),
    ("_gesture.txt", OarAssetKind::Gesture),
    ("_bodypart.txt", OarAssetKind::Bodypart),
    ("_clothing.txt", OarAssetKind::Clothing),
    ("_landmark.txt", OarAssetKind::Landmark),
    ("_callingcard.txt", OarAssetKind::CallingCard),
    ("_folder.txt", OarAssetKind::Folder),
    ("_simstate.bin", OarAssetKind::Simstate),
    ("_material.xml", OarAssetKind::OsMaterial),
    ("_settings.bin", OarAssetKind::Settings),
    ("_prmat.dat", OarAssetKind::Material),
];

impl OarAssetKind {
    /// The kind a file-name suffix (`_texture.jp2`, with its underscore) stands for.
    pub fn from_suffix(suffix: &str) -> Self {
        ASSET_SUFFIXES
            .iter()
            .find(|(s, _)| *s == suffix)
            .map_or_else(
                || OarAssetKind::Other(suffix.to_owned()),
                |(_, k)| k.clone(),
            )
    }

    /// The file-name suffix OpenSim writes for this kind (with its underscore).
    pub fn suffix(&self) -> &str {
        match self {
            OarAssetKind::Other(s) => s,
            kind => ASSET_SUFFIXES
                .iter()
                .find(|(_, k)| k == kind)
                .map_or("", |(s, _)| s),
        }
    }
}

/// One asset of the archive, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OarAsset {
    /// What it is.
    pub kind: OarAssetKind,
    /// Its data as stored.
    pub bytes: Vec<u8>,
}

/// Counts of what was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OarStats {
    /// Tar entries, of every kind.
    pub entries: u64,
    /// Bytes read from the compressed input.
    pub bytes_compressed: u64,
    /// Bytes of the tar stream (headers and padding included).
    pub bytes_uncompressed: u64,
    /// Objects (linksets) loaded.
    pub groups: usize,
    /// Parts loaded (the length of [`Oar::objects`]).
    pub parts: usize,
    /// Assets kept, by kind.
    pub assets: BTreeMap<OarAssetKind, usize>,
    /// Entries skipped, by top-level folder (`landdata`, `regions/<other>`...; directories and
    /// links under `(non-file)`).
    pub ignored: BTreeMap<String, usize>,
}

/// A region archive's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Oar {
    /// `archive.xml`'s `size_in_meters`; `None` in archives older than 0.8, which are 256 × 256.
    pub region_size: Option<(u32, u32)>,
    /// The region's name, from the settings or terrain file name, if the archive has one.
    pub region_name: Option<String>,
    /// The control file's version (`major`, `minor`), if it had one.
    pub version: Option<(u32, u32)>,
    /// `settings/<region>.xml`.
    pub settings: Option<OarSettings>,
    /// `terrains/<region>.r32`.
    pub terrain: Option<Heightmap>,
    /// Every part of every object, each root before its children, with local ids
    /// `SCENE_FIRST_ID + n` in this order. Roots are at region positions; children carry their
    /// root's id in `parent_id` and root-relative positions and rotations.
    pub objects: Vec<SceneObject>,
    /// `assets/<uuid><suffix>`.
    pub assets: BTreeMap<Uuid, OarAsset>,
    /// What was skipped or repaired without failing the whole archive, one line each.
    pub problems: Vec<String>,
    /// Counts.
    pub stats: OarStats,
}

/// Why an archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OarError {
    /// The input does not start with the gzip magic bytes.
    #[error("not a gzip stream (an OAR is a .tar.gz)")]
    NotGzip,
    /// The compressed stream is corrupt.
    #[error("corrupt gzip data in {context}: {message}")]
    Gzip {
        /// Where in the archive.
        context: String,
        /// The decoder's message.
        message: String,
    },
    /// The archive ends in the middle of something.
    #[error("archive truncated in {context}")]
    Truncated {
        /// What was being read.
        context: String,
    },
    /// A tar header is malformed.
    #[error("malformed tar archive: {reason}")]
    BadTar {
        /// What is wrong.
        reason: String,
    },
    /// An entry's path is absolute or climbs out of the archive.
    #[error("unsafe path in archive: {path:?}")]
    UnsafePath {
        /// The path as stored.
        path: String,
    },
    /// An entry is larger than [`OarLimits::max_entry_bytes`].
    #[error("entry {path} is {size} bytes, over the limit of {limit}")]
    EntryTooLarge {
        /// The entry.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More data than [`OarLimits::max_compressed_bytes`] or
    /// [`OarLimits::max_uncompressed_bytes`] (a decompression bomb).
    #[error("more than {limit} {what} bytes")]
    TooMuchData {
        /// `compressed` or `uncompressed`.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// More of something than the limits allow.
    #[error("more than {limit} {what} (at {path})")]
    TooMany {
        /// `entries`, `objects`, `parts`, `assets` or `asset bytes`.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// The entry that went over.
        path: String,
    },
    /// The input could not be read.
    #[error("reading the archive: {0}")]
    Io(std::io::Error),
}

/// The marker error of [`Bounded`]: the limit was reached.
#[derive(Debug)]
struct LimitHit {
    what: &'static str,
    limit: u64,
}

impl core::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "more than {} {} bytes", self.limit, self.what)
    }
}

impl std::error::Error for LimitHit {}

/// The marker error of the outermost [`Bounded`]: the caller's reader failed.
#[derive(Debug)]
struct SourceError(std::io::Error);

impl core::fmt::Display for SourceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {}

impl OarError {
    /// The error for an I/O failure while reading `context`.
    fn from_io(e: std::io::Error, context: &str) -> Self {
        if let Some(hit) = e.get_ref().and_then(|i| i.downcast_ref::<LimitHit>()) {
            return OarError::TooMuchData {
                what: hit.what,
                limit: hit.limit,
            };
        }
        if e.get_ref().is_some_and(|i| i.is::<SourceError>()) {
            let inner = e
                .into_inner()
                .and_then(|i| i.downcast::<SourceError>().ok())
                .map_or_else(|| std::io::Error::other("read failed"), |s| s.0);
            return OarError::Io(inner);
        }
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof => OarError::Truncated {
                context: context.to_owned(),
            },
            _ => OarError::Gzip {
                context: context.to_owned(),
                message: e.to_string(),
            },
        }
    }
}

/// Counts the bytes read through it and fails once more than `limit` have passed.
struct Bounded<R> {
    inner: R,
    count: u64,
    limit: u64,
    what: &'static str,
    /// Wrap the inner reader's errors as [`SourceError`] (the caller's reader).
    source: bool,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.count > self.limit {
            return Err(std::io::Error::other(LimitHit {
                what: self.what,
                limit: self.limit,
            }));
        }
        // One byte past the limit is enough to tell that it was passed.
        let room = self.limit.saturating_sub(self.count).saturating_add(1);
        let want = usize::try_from(room).map_or(buf.len(), |r| r.min(buf.len()));
        let buf = buf.get_mut(..want).unwrap_or_default();
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if self.source && e.kind() != std::io::ErrorKind::Interrupted => {
                return Err(std::io::Error::other(SourceError(e)));
            }
            Err(e) => return Err(e),
        };
        self.count = self
            .count
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if self.count > self.limit {
            return Err(std::io::Error::other(LimitHit {
                what: self.what,
                limit: self.limit,
            }));
        }
        Ok(n)
    }
}

impl Oar {
    /// The textures and meshes it carries, as the region serves them.
    pub fn served_assets(&self) -> Vec<(Uuid, AssetKind, std::sync::Arc<[u8]>)> {
        self.assets
            .iter()
            .filter_map(|(id, a)| {
                let kind = match a.kind {
                    OarAssetKind::Texture => AssetKind::Texture,
                    OarAssetKind::Mesh => AssetKind::Mesh,
                    _ => return None,
                };
                Some((*id, kind, std::sync::Arc::from(a.bytes.as_slice())))
            })
            .collect()
    }

    /// The textures and meshes its objects and settings name that it does not carry: face
    /// textures, sculpt maps, meshes and terrain textures, each once, in the order first named.
    /// A region serving it answers `404` for these unless its own set has them
    /// ([`AssetStore::builtin`](crate::store::AssetStore::builtin)).
    pub fn missing_assets(&self) -> Vec<(Uuid, AssetKind)> {
        let terrain = self
            .settings
            .as_ref()
            .map(|s| s.terrain_textures.to_vec())
            .unwrap_or_default();
        let builtin = crate::store::AssetStore::builtin();
        crate::store::assets_named(&terrain, &self.objects)
            .into_iter()
            .filter(|(id, _)| !self.assets.contains_key(id) && builtin.get(*id).is_none())
            .collect()
    }
}

type Compressed<R> = Bounded<std::io::Chain<std::io::Cursor<[u8; 2]>, R>>;
type Stream<R> = std::io::BufReader<Bounded<flate2::read::GzDecoder<Compressed<R>>>>;

/// Reads a whole region archive from `reader` (a `.oar` file's bytes) within `limits`.
///
/// # Errors
/// [`OarError`]: not gzip, corrupt or truncated data, a malformed tar header, an unsafe path,
/// or a limit exceeded. Problems confined to one object, asset, terrain or settings file are
/// not errors: they are listed in [`Oar::problems`].
pub fn read_oar<R: Read>(reader: R, limits: &OarLimits) -> Result<Oar, OarError> {
    let mut tar = open(reader, limits)?;
    let mut loader = Loader::new(limits);
    loop {
        let next = tar.next_entry();
        let entry = match next {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => return Err(e),
        };
        loader.stats.entries = loader.stats.entries.saturating_add(1);
        if loader.stats.entries > limits.max_entries {
            return Err(OarError::TooMany {
                what: "entries",
                limit: limits.max_entries,
                path: entry.path,
            });
        }
        let path = safe_path(&entry.path)?;
        if entry.kind != EntryKind::File {
            loader.ignore("(non-file)");
            continue;
        }
        if entry.size > limits.max_entry_bytes {
            return Err(OarError::EntryTooLarge {
                path: entry.path,
                size: entry.size,
                limit: limits.max_entry_bytes,
            });
        }
        let Some((what, rest)) = loader.route(&path) else {
            continue;
        };
        let data = tar.read_data(&entry)?;
        loader.take(what, &path, rest, data)?;
    }
    // The gzip trailer (CRC and length) comes after the tar's end: check it too.
    tar.drain()?;
    let counted = tar.get_ref().get_ref();
    loader.stats.bytes_uncompressed = counted.count;
    loader.stats.bytes_compressed = counted.inner.get_ref().count;
    Ok(loader.finish())
}

/// The tar stream inside the gzip of `reader`, both bounded.
fn open<R: Read>(mut reader: R, limits: &OarLimits) -> Result<TarReader<Stream<R>>, OarError> {
    let mut magic = [0u8; 2];
    let mut got = 0usize;
    while let Some(rest) = magic.get_mut(got..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => got = got.saturating_add(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(OarError::Io(e)),
        }
    }
    if magic != [0x1f, 0x8b] {
        return Err(OarError::NotGzip);
    }
    let compressed = Bounded {
        inner: std::io::Cursor::new(magic).chain(reader),
        count: 0,
        limit: limits.max_compressed_bytes,
        what: "compressed",
        source: true,
    };
    let stream = Bounded {
        inner: flate2::read::GzDecoder::new(compressed),
        count: 0,
        limit: limits.max_uncompressed_bytes,
        what: "uncompressed",
        source: false,
    };
    // Inflating into a large buffer, not header by header.
    Ok(TarReader::new(std::io::BufReader::with_capacity(
        64 << 10,
        stream,
    )))
}

/// `path` without a leading `./`, refused when absolute or with a `..` component (either
/// slash counts as a separator).
fn safe_path(path: &str) -> Result<String, OarError> {
    let unsafe_path = || OarError::UnsafePath {
        path: path.to_owned(),
    };
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    let drive = p.as_bytes().get(1) == Some(&b':');
    if p.starts_with('/') || p.starts_with('\\') || drive {
        return Err(unsafe_path());
    }
    if p.split(['/', '\\']).any(|c| c == "..") {
        return Err(unsafe_path());
    }
    Ok(p.to_owned())
}

/// What an entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Control,
    Object,
    Asset,
    Terrain,
    Settings,
}

/// The archive as it is being read.
struct Loader<'l> {
    limits: &'l OarLimits,
    control: Option<settings::Control>,
    /// The `regions/<dir>` read from a multi-region archive.
    region_dir: Option<String>,
    settings: Option<OarSettings>,
    settings_name: Option<String>,
    /// The terrain file's name and bytes, decoded at the end when the region size is known.
    terrain: Option<(String, Vec<u8>)>,
    objects: Vec<SceneObject>,
    part_ids: HashSet<Uuid>,
    assets: BTreeMap<Uuid, OarAsset>,
    asset_bytes: u64,
    problems: Vec<String>,
    stats: OarStats,
}

impl<'l> Loader<'l> {
    fn new(limits: &'l OarLimits) -> Self {
        Loader {
            limits,
            control: None,
            region_dir: None,
            settings: None,
            settings_name: None,
            terrain: None,
            objects: Vec::new(),
            part_ids: HashSet::new(),
            assets: BTreeMap::new(),
            asset_bytes: 0,
            problems: Vec::new(),
            stats: OarStats::default(),
        }
    }

    fn ignore(&mut self, folder: &str) {
        let n = self.stats.ignored.entry(folder.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// What `path` is for and its path inside its region, or `None` (counted as ignored).
    fn route<'p>(&mut self, path: &'p str) -> Option<(Role, &'p str)> {
        let mut rest = path;
        if let Some(inner) = path.strip_prefix("regions/") {
            let (dir, tail) = inner.split_once('/').unwrap_or((inner, ""));
            match &self.region_dir {
                None => {
                    self.region_dir = Some(dir.to_owned());
                }
                Some(d) if d == dir => {}
                Some(d) => {
                    if !self.stats.ignored.keys().any(|k| k.starts_with("regions/")) {
                        self.problems.push(format!(
                            "multi-region archive: only region {d:?} is read, {dir:?} and any \
                             other are skipped"
                        ));
                    }
                    self.ignore(&format!("regions/{dir}"));
                    return None;
                }
            }
            rest = tail;
        }
        let role = if rest == "archive.xml" && rest.len() == path.len() {
            Role::Control
        } else if rest.starts_with("objects/") {
            Role::Object
        } else if rest.starts_with("assets/") {
            Role::Asset
        } else if rest.starts_with("terrains/") {
            Role::Terrain
        } else if rest.starts_with("settings/") {
            Role::Settings
        } else {
            let top = rest.split('/').next().unwrap_or("");
            let top = if rest.contains('/') {
                top.to_owned()
            } else {
                "(top level)".to_owned()
            };
            self.ignore(&top);
            return None;
        };
        Some((role, rest))
    }

    /// Takes one entry's data.
    fn take(&mut self, role: Role, path: &str, rest: &str, data: Vec<u8>) -> Result<(), OarError> {
        match role {
            Role::Control => self.take_control(path, &data),
            Role::Object => return self.take_object(path, &data),
            Role::Asset => return self.take_asset(path, rest, data),
            Role::Terrain => self.take_terrain(path, rest, data),
            Role::Settings => self.take_settings(path, rest, &data),
        }
        Ok(())
    }

    fn take_control(&mut self, path: &str, data: &[u8]) {
        if self.control.is_some() {
            self.problems
                .push(format!("{path}: a second control file; ignored"));
            return;
        }
        let text = String::from_utf8_lossy(data);
        match settings::parse_control(&text, self.limits.max_xml_depth, &mut self.problems) {
            Ok(c) => {
                if let Some((major, minor)) = c.version
                    && major > 1
                {
                    self.problems.push(format!(
                        "{path}: archive version {major}.{minor} is newer than 1.x; read as far \
                         as understood"
                    ));
                }
                self.control = Some(c);
            }
            Err(e) => self
                .problems
                .push(format!("{path}: unreadable control file ({e}); ignored")),
        }
    }

    fn take_object(&mut self, path: &str, data: &[u8]) -> Result<(), OarError> {
        if self.stats.groups >= self.limits.max_groups {
            return Err(OarError::TooMany {
                what: "objects",
                limit: u64::try_from(self.limits.max_groups).unwrap_or(u64::MAX),
                path: path.to_owned(),
            });
        }
        let Ok(text) = std::str::from_utf8(data) else {
            self.problems
                .push(format!("{path}: not UTF-8 text; object skipped"));
            return Ok(());
        };
        let mut part_problems = Vec::new();
        let parts = match object::parse_group(
            text,
            self.limits.max_xml_depth,
            self.limits.max_parts_per_group,
            &mut part_problems,
        ) {
            Ok(parts) => parts,
            Err(e) => {
                self.problems.push(format!("{path}: {e}; object skipped"));
                return Ok(());
            }
        };
        let mut seen = HashSet::new();
        if let Some(dup) = parts
            .iter()
            .find(|p| self.part_ids.contains(&p.uuid) || !seen.insert(p.uuid))
        {
            self.problems.push(format!(
                "{path}: part {} has the UUID of another part; object skipped",
                dup.uuid
            ));
            return Ok(());
        }
        if self.objects.len().saturating_add(parts.len()) > self.limits.max_parts {
            return Err(OarError::TooMany {
                what: "parts",
                limit: u64::try_from(self.limits.max_parts).unwrap_or(u64::MAX),
                path: path.to_owned(),
            });
        }
        self.problems
            .extend(part_problems.into_iter().map(|p| format!("{path}: {p}")));
        let mut root_id = 0u32;
        for (i, part) in parts.into_iter().enumerate() {
            let n = u32::try_from(self.objects.len()).unwrap_or(u32::MAX);
            let local_id = SCENE_FIRST_ID.saturating_add(n);
            let (parent_id, position) = if i == 0 {
                root_id = local_id;
                (0, part.group_position)
            } else {
                (root_id, part.offset_position)
            };
            let pcode = PCode::from(part.pcode);
            let update_flags = match pcode {
                PCode::Tree | PCode::NewTree | PCode::Grass => TREE_FLAGS,
                _ => PRIM_FLAGS,
            };
            self.part_ids.insert(part.uuid);
            self.objects.push(SceneObject {
                crc: crc_of(local_id, part.uuid),
                name: part.name,
                local_id,
                full_id: part.uuid,
                pcode,
                state: part.state,
                material: part.material,
                parent_id,
                position,
                rotation: part.rotation,
                scale: part.scale,
                shape: part.shape,
                texture_entry: part.texture_entry,
                extra_params: part.extra_params,
                update_flags,
                motion: None,
                blink: None,
            });
        }
        self.stats.groups = self.stats.groups.saturating_add(1);
        Ok(())
    }

    fn take_asset(&mut self, path: &str, rest: &str, bytes: Vec<u8>) -> Result<(), OarError> {
        let name = rest.strip_prefix("assets/").unwrap_or(rest);
        let Some(sep) = name.rfind('_') else {
            self.problems.push(format!(
                "{path}: no _<kind> suffix after the UUID; asset skipped"
            ));
            return Ok(());
        };
        let (id, suffix) = name.split_at(sep);
        let Ok(id) = id.parse::<Uuid>() else {
            self.problems
                .push(format!("{path}: {id:?} is not a UUID; asset skipped"));
            return Ok(());
        };
        let kind = OarAssetKind::from_suffix(suffix);
        if let OarAssetKind::Other(s) = &kind {
            self.problems
                .push(format!("{path}: unknown asset suffix {s:?}; kept as Other"));
        }
        if self.assets.contains_key(&id) {
            self.problems.push(format!(
                "{path}: asset {id} is in the archive twice; first kept"
            ));
            return Ok(());
        }
        if self.assets.len() >= self.limits.max_assets {
            return Err(OarError::TooMany {
                what: "assets",
                limit: u64::try_from(self.limits.max_assets).unwrap_or(u64::MAX),
                path: path.to_owned(),
            });
        }
        self.asset_bytes = self
            .asset_bytes
            .saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        if self.asset_bytes > self.limits.max_asset_bytes {
            return Err(OarError::TooMany {
                what: "asset bytes",
                limit: self.limits.max_asset_bytes,
                path: path.to_owned(),
            });
        }
        let n = self.stats.assets.entry(kind.clone()).or_insert(0);
        *n = n.saturating_add(1);
        self.assets.insert(id, OarAsset { kind, bytes });
        Ok(())
    }

    fn take_terrain(&mut self, path: &str, rest: &str, data: Vec<u8>) {
        let name = rest.strip_prefix("terrains/").unwrap_or(rest);
        let Some(stem) = name
            .len()
            .checked_sub(4)
            .and_then(|at| name.get(at..).map(|ext| (at, ext)))
            .filter(|(_, ext)| ext.eq_ignore_ascii_case(".r32"))
            .and_then(|(at, _)| name.get(..at))
        else {
            self.problems.push(format!(
                "{path}: only .r32 terrains are read (OpenSim writes .r32); terrain skipped"
            ));
            return;
        };
        if self.terrain.is_some() {
            self.problems
                .push(format!("{path}: a second terrain; ignored"));
            return;
        }
        self.terrain = Some((stem.to_owned(), data));
    }

    fn take_settings(&mut self, path: &str, rest: &str, data: &[u8]) {
        let name = rest.strip_prefix("settings/").unwrap_or(rest);
        let Some(stem) = name.strip_suffix(".xml") else {
            self.problems
                .push(format!("{path}: not a settings .xml; ignored"));
            return;
        };
        if self.settings.is_some() {
            self.problems
                .push(format!("{path}: a second settings file; ignored"));
            return;
        }
        let text = String::from_utf8_lossy(data);
        match settings::parse_settings(&text, self.limits.max_xml_depth) {
            Ok(s) => {
                self.settings = Some(s);
                self.settings_name = Some(stem.to_owned());
            }
            Err(e) => self
                .problems
                .push(format!("{path}: unreadable settings ({e}); ignored")),
        }
    }

    fn finish(mut self) -> Oar {
        let control = self.control.take().unwrap_or_default();
        let region_size = match &self.region_dir {
            Some(dir) => control
                .regions
                .iter()
                .find(|(d, _)| d == dir)
                .and_then(|(_, s)| *s),
            None => control
                .size
                .or_else(|| control.regions.first().and_then(|(_, s)| *s)),
        };
        let mut region_name = self.settings_name.take();
        let terrain = self.terrain.take().and_then(|(stem, bytes)| {
            if region_name.is_none() {
                region_name = Some(stem.clone());
            }
            self.decode_terrain(&stem, &bytes, region_size)
        });
        self.stats.parts = self.objects.len();
        Oar {
            region_size,
            region_name,
            version: control.version,
            settings: self.settings,
            terrain,
            objects: self.objects,
            assets: self.assets,
            problems: self.problems,
            stats: self.stats,
        }
    }

    /// The heightmap of an `.r32`: the region's size when the length fits it, else the square
    /// the length gives (as OpenSim's loader guesses it).
    fn decode_terrain(
        &mut self,
        stem: &str,
        bytes: &[u8],
        region_size: Option<(u32, u32)>,
    ) -> Option<Heightmap> {
        let samples = u64::try_from(bytes.len() / 4).unwrap_or(u64::MAX);
        let fits = |(x, y): (u32, u32)| u64::from(x) * u64::from(y) == samples;
        let size = region_size.filter(|&s| fits(s)).or_else(|| {
            u32::try_from(samples.isqrt())
                .ok()
                .map(|s| (s, s))
                .filter(|&s| fits(s))
        });
        let Some((x, y)) = size.filter(|_| bytes.len().is_multiple_of(4)) else {
            self.problems.push(format!(
                "terrains/{stem}.r32: {} bytes fit no region size; terrain skipped",
                bytes.len()
            ));
            return None;
        };
        match Heightmap::from_r32(bytes, x, y) {
            Ok(map) => {
                if region_size.is_some_and(|s| s != (x, y)) {
                    self.problems.push(format!(
                        "terrains/{stem}.r32: {x}x{y} samples, not the archive's region size"
                    ));
                }
                Some(map)
            }
            Err(e) => {
                self.problems
                    .push(format!("terrains/{stem}.r32: {e}; terrain skipped"));
                None
            }
        }
    }
}

/// A deterministic CRC for the viewer cache: FNV-1a over the local id and UUID.
fn crc_of(local_id: u32, id: Uuid) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in local_id.to_le_bytes().into_iter().chain(id.0) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}
