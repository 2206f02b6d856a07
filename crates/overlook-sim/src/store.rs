//! The assets the region serves over `GetTexture` / `ViewerAsset` / `GetMesh` / `GetMesh2`
//! (PROTOCOL §12): textures (raw JPEG 2000 codestreams) and meshes (`application/vnd.ll.mesh`),
//! by asset id.
//!
//! [`AssetStore::builtin`] holds the region's own set ([`crate::textures`], [`crate::meshes`]);
//! a region archive (`--oar`) adds its own. The store is shared by reference counting, so the
//! login service and every request see one copy of the bytes.

use std::collections::HashMap;
use std::sync::Arc;

use overlook_protocol::types::Uuid;

/// What an asset is, as far as the capabilities care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetKind {
    /// A texture (also a sculpt map): asked with `texture_id`.
    Texture,
    /// A mesh: asked with `mesh_id`.
    Mesh,
}

impl AssetKind {
    /// The `Content-Type` OpenSim serves it with.
    pub fn content_type(self) -> &'static str {
        match self {
            AssetKind::Texture => crate::textures::J2C_CONTENT_TYPE,
            AssetKind::Mesh => MESH_CONTENT_TYPE,
        }
    }

    /// The query key that asks for this kind (`texture_id`, `mesh_id`).
    pub fn query_key(self) -> &'static str {
        match self {
            AssetKind::Texture => "texture_id",
            AssetKind::Mesh => "mesh_id",
        }
    }
}

/// The media type meshes are served with.
pub const MESH_CONTENT_TYPE: &str = "application/vnd.ll.mesh";

/// One served asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Texture or mesh.
    pub kind: AssetKind,
    /// The bytes, as served.
    pub bytes: Arc<[u8]>,
}

/// The region's assets by id; cheap to clone (shared).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetStore {
    assets: Arc<HashMap<Uuid, Asset>>,
}

impl AssetStore {
    /// The region's own textures and meshes.
    pub fn builtin() -> Self {
        let textures = crate::textures::TEXTURES
            .iter()
            .map(|t| (t.id, AssetKind::Texture, t.bytes));
        let meshes = crate::meshes::MESHES
            .iter()
            .map(|m| (m.id, AssetKind::Mesh, m.bytes));
        textures
            .chain(meshes)
            .map(|(id, kind, bytes)| (id, kind, Arc::from(bytes)))
            .collect()
    }

    /// This store with `more` added (an id already held is replaced).
    #[must_use]
    pub fn with(self, more: impl IntoIterator<Item = (Uuid, AssetKind, Arc<[u8]>)>) -> Self {
        let mut assets = Arc::unwrap_or_clone(self.assets);
        for (id, kind, bytes) in more {
            assets.insert(id, Asset { kind, bytes });
        }
        AssetStore {
            assets: Arc::new(assets),
        }
    }

    /// The asset with id `id`.
    pub fn get(&self, id: Uuid) -> Option<&Asset> {
        self.assets.get(&id)
    }

    /// How many assets of `kind` it holds.
    pub fn count(&self, kind: AssetKind) -> usize {
        self.assets.values().filter(|a| a.kind == kind).count()
    }
}

/// SL's blank texture, which viewers draw as untextured (never fetched).
const BLANK_TEXTURE: Uuid = Uuid([
    0x57, 0x48, 0xde, 0xcc, 0xf6, 0x29, 0x46, 0x1c, 0x9a, 0x36, 0xa3, 0x5a, 0x22, 0x1f, 0xe2, 0x1f,
]);

/// The textures and meshes a region with these terrain textures and objects names — terrain
/// textures, face textures, sculpt maps and meshes — each once, in the order first named; the
/// null id and the blank texture are not assets.
pub fn assets_named(
    terrain_textures: &[Uuid],
    objects: &[crate::scene::SceneObject],
) -> Vec<(Uuid, AssetKind)> {
    use overlook_protocol::message::object::{ExtraParams, SculptKind, TextureEntry};
    let mut named: Vec<(Uuid, AssetKind)> = terrain_textures
        .iter()
        .map(|t| (*t, AssetKind::Texture))
        .collect();
    for o in objects {
        if let Ok(te) = TextureEntry::parse(&o.texture_entry) {
            named.push((te.textures.default, AssetKind::Texture));
            named.extend(
                te.textures
                    .exceptions
                    .iter()
                    .map(|(_, t)| (*t, AssetKind::Texture)),
            );
        }
        if let Some(s) = ExtraParams::parse(&o.extra_params)
            .ok()
            .and_then(|p| p.sculpt().copied())
        {
            let kind = match s.kind() {
                SculptKind::Mesh => AssetKind::Mesh,
                _ => AssetKind::Texture,
            };
            named.push((s.texture, kind));
        }
    }
    let mut seen = std::collections::HashSet::new();
    named.retain(|(id, _)| *id != Uuid::NIL && *id != BLANK_TEXTURE && seen.insert(*id));
    named
}

impl FromIterator<(Uuid, AssetKind, Arc<[u8]>)> for AssetStore {
    fn from_iter<T: IntoIterator<Item = (Uuid, AssetKind, Arc<[u8]>)>>(iter: T) -> Self {
        AssetStore::default().with(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_store_holds_every_texture_and_mesh_once() {
        let store = AssetStore::builtin();
        assert_eq!(
            store.count(AssetKind::Texture),
            crate::textures::TEXTURES.len()
        );
        assert_eq!(store.count(AssetKind::Mesh), crate::meshes::MESHES.len());
        for t in &crate::textures::TEXTURES {
            let a = store.get(t.id).unwrap();
            assert_eq!((a.kind, &a.bytes[..]), (AssetKind::Texture, t.bytes));
        }
        assert!(store.get(crate::textures::MISSING).is_none());
        let more = store.with([(Uuid([5; 16]), AssetKind::Mesh, Arc::from(&b"m"[..]))]);
        assert_eq!(more.get(Uuid([5; 16])).unwrap().kind, AssetKind::Mesh);
    }
}
