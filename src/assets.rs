//! `AssetsPlugin`: the region's textures. Every texture the region references — the four
//! terrain detail textures of `RegionHandshake` (asked first) and every face texture of the
//! objects' TextureEntries, as they arrive — is asked of the network thread once per session
//! ([`NetCommand::FetchTextures`]); what comes back is kept in [`RegionTextures`]. The blank
//! texture and the null id mean "no texture" and are not fetched (PROTOCOL §12).
//!
//! A fetched codestream is decoded off the main thread ([`overlook_texture::decode`], on Bevy's
//! async compute pool) into an sRGB `Image` with its mip chain, which goes into the handle
//! [`TextureImages`] reserved for the texture: every material that wears it (faces, the
//! terrain) shows it from then on, one upload shared by all. Decoded textures are held within a
//! memory budget: a texture is decoded at a resolution whose longer side is at most
//! [`MAX_TEXTURE_SIDE`], and at a lower one where the images held would pass
//! [`TEXTURE_BUDGET_BYTES`] (JPEG 2000 discards resolution levels for free). A texture that
//! fails keeps no image: faces keep their tint, and a terrain detail texture becomes a texel of
//! its band's flat colour.
//!
//! **Priorities and progressive fetching.** The terrain's detail textures are asked first and
//! whole. A face texture is asked once its wearers have a place, at the priority of its largest
//! wearer's size on screen ([`on_screen_sizes`]); under [`TextureFetchPolicy::progressive`] (the
//! viewer) only its first [`FIRST_BYTES`] unless a wearer is already [`NEAR_PX`] or more across.
//! OpenSim's textures are layer-first, so that prefix decodes to a full-size, lower-quality
//! image at once, decoded at a resolution near its size on screen. Twice a second the textures
//! still partial are checked against their wearers again: one that came near and large has its
//! rest fetched and is decoded again in full. `check` fetches everything whole.
//!
//! `textures_settled` is reached once the objects have settled and every texture referenced so
//! far was decoded or failed; its time is the later of `objects_settled` and the last answer.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::tasks::{AsyncComputeTaskPool, Task, block_on, poll_once};

use crate::camera::ChaseCamera;
use crate::net::NetCommand;
use crate::net::plugin::{
    NetSystems, Outgoing, PhaseReached, RegionMessage, Session, SessionStarted, TextureNews,
};
use crate::net::textures::TextureAsk;
use crate::objects::plugin::ObjectsSystems;
use crate::scene::material::SceneTextures;
use crate::scene::{RegionInfo, RegionSystems, SceneMaterial, SceneMaterial3d};
use crate::shapes::{ShapeAssets, ShapesReferenced, ShapesSystems};
use overlook_geometry::terrain::DEFAULT_BAND_COLOURS;
use overlook_protocol::circuit::Phase;
use overlook_protocol::message::Message;
use overlook_protocol::message::object::TextureEntry;
use overlook_protocol::types::Uuid;

/// SL's "Blank Texture" (white): a face wearing it is untextured.
pub const BLANK_TEXTURE: Uuid = Uuid([
    0x57, 0x48, 0xde, 0xcc, 0xf6, 0x29, 0x46, 0x1c, 0x9a, 0x36, 0xa3, 0x5a, 0x22, 0x1f, 0xe2, 0x1f,
]);

/// What a texture decoded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Components: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
    pub components: u8,
    /// Some pixel's alpha is below 255.
    pub has_alpha: bool,
    /// Resolution levels discarded to keep within the budget (0: full size).
    pub reduce: u8,
    /// Bytes of the image held for drawing (all mip levels).
    pub image_bytes: u64,
    /// `Some(n)`: decoded from the first part of an `n`-byte codestream (lower quality); the
    /// rest comes when a wearer is near and large.
    pub partial_of: Option<u64>,
}

/// Bytes asked first of a face texture under progressive fetching: a few quality layers of a
/// 512 × 512 texture, the whole of most 128 × 128 ones (OpenSim's terrain textures are ~6 KB).
pub const FIRST_BYTES: u32 = 8192;

/// A wearer this many pixels across on screen or more wants its texture whole.
pub const NEAR_PX: f32 = 128.0;

/// Pixels per radian of the viewer's default view (720 pixels over Bevy's 45° vertical field of
/// view): turns an angular size into an on-screen one.
pub const PX_PER_RADIAN: f32 = 869.0;

/// How textures are fetched.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextureFetchPolicy {
    /// Face textures first part first, the rest when near and large (the viewer); `false`:
    /// everything whole at once (`check`, which proves the grid serves them whole).
    pub progressive: bool,
}

impl Default for TextureFetchPolicy {
    fn default() -> Self {
        TextureFetchPolicy { progressive: true }
    }
}

/// The longest side a texture is decoded at: SL's usual largest (1024). Larger ones (some grids
/// allow 2048) lose their finest level.
pub const MAX_TEXTURE_SIDE: u32 = 1024;

/// Bytes of decoded texture images (with mip chains) held at once before new textures are
/// decoded at lower resolutions: 128 MiB, thirty-odd full 1024 × 1024 textures. On a software
/// renderer GPU memory is host memory, so this bounds the viewer's resident size too.
pub const TEXTURE_BUDGET_BYTES: u64 = 128 << 20;

/// The image of each texture: a handle reserved when a material first wears the texture, filled
/// when it decodes (until then, and for good if it fails, the handle has no image and the
/// renderer draws the material untextured).
#[derive(Resource, Debug, Default)]
pub struct TextureImages {
    handles: HashMap<Uuid, Handle<Image>>,
    /// The texture of each handle.
    ids: HashMap<AssetId<Image>, Uuid>,
    /// Bytes of each texture's image held.
    sizes: HashMap<Uuid, u64>,
    /// Textures whose image has transparent pixels.
    alpha: std::collections::HashSet<Uuid>,
    /// Bytes of the images held and being decoded (all mip levels).
    pub bytes: u64,
}

impl TextureImages {
    /// The handle of `id`'s image, reserved on first use.
    pub fn handle(&mut self, images: &Assets<Image>, id: Uuid) -> Handle<Image> {
        let ids = &mut self.ids;
        self.handles
            .entry(id)
            .or_insert_with(|| {
                let handle = images.reserve_handle();
                ids.insert(handle.id(), id);
                handle
            })
            .clone()
    }

    /// The texture whose image `image` is.
    pub fn texture_of(&self, image: AssetId<Image>) -> Option<Uuid> {
        self.ids.get(&image).copied()
    }

    /// Puts `image` into `id`'s handle, replacing any earlier one, and counts its bytes; returns
    /// the handle.
    fn hold(
        &mut self,
        images: &mut Assets<Image>,
        id: Uuid,
        image: Image,
        bytes: u64,
    ) -> Handle<Image> {
        let handle = self.handle(images, id);
        // The handle was reserved by this app's `Assets<Image>`: inserting cannot fail.
        let _ = images.insert(&handle, image);
        let before = self.sizes.insert(id, bytes).unwrap_or(0);
        self.bytes = self.bytes.saturating_sub(before) + bytes;
        handle
    }

    /// Whether `id` decoded with transparent pixels.
    pub fn has_alpha(&self, id: Uuid) -> bool {
        self.alpha.contains(&id)
    }
}

/// An sRGB image of `rgba` (`width` × `height`, rows top to bottom) with its mip chain, held
/// only where it is drawn.
pub fn texture_image(rgba: Vec<u8>, width: u32, height: u32) -> Image {
    let (data, levels) = overlook_texture::mip_chain(rgba, width, height);
    let mut image = Image::new_uninit(
        Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.texture_descriptor.mip_level_count = levels;
    image.data = Some(data);
    image
}

/// One texel of a linear colour, as an sRGB image.
fn solid_image(linear: [f32; 4]) -> Image {
    let c = Color::LinearRgba(LinearRgba::from_f32_array(linear)).to_srgba();
    texture_image(c.to_u8_array().to_vec(), 1, 1)
}

/// Where one texture stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextureState {
    /// Asked for; no answer yet.
    Fetching,
    /// The codestream arrived and is being decoded.
    Decoding(Arc<[u8]>),
    /// The codestream arrived and decoded.
    Decoded(Arc<[u8]>, DecodedInfo),
    /// It could not be fetched or decoded: why (`HTTP 404`, `decode: …`).
    Failed(String),
}

/// The textures of the region, in the order first referenced.
#[derive(Resource, Debug, Default)]
pub struct RegionTextures {
    /// Every texture referenced this session, in order (terrain details first).
    pub referenced: Vec<Uuid>,
    /// Each one's state.
    pub states: HashMap<Uuid, TextureState>,
    /// Textures cannot be fetched in this session (a replay): why.
    pub unavailable: Option<String>,
    /// Bytes fetched.
    pub bytes: u64,
    /// Textures that came from the disk cache rather than the grid.
    pub from_cache: std::collections::HashSet<Uuid>,
    fetched_count: usize,
    /// Bytes counted per texture (a first part, then the whole).
    counted: HashMap<Uuid, u64>,
    /// Textures whose rest was asked for.
    rest_asked: std::collections::HashSet<Uuid>,
    /// Face textures referenced and not asked for yet (asked once their wearers are placed).
    to_ask: Vec<Uuid>,
    /// The latest answer, ms since the login request.
    last_ms: u64,
}

/// A finished decode: what it decoded to and its image.
type Decoded = Result<(DecodedInfo, Image), String>;

/// Decodes in flight, with the bytes reserved for each.
#[derive(Resource, Default)]
struct Decoding(Vec<(Uuid, u64, Task<Decoded>)>);

/// Each texture's largest wearer on screen, pixels across (as last measured).
#[derive(Resource, Debug, Default)]
pub struct OnScreen(pub HashMap<Uuid, f32>);

/// When partial textures are next checked against their wearers.
#[derive(Resource)]
struct RestCheck(Timer);

impl Default for RestCheck {
    fn default() -> Self {
        RestCheck(Timer::from_seconds(0.5, TimerMode::Repeating))
    }
}

impl RegionTextures {
    /// Textures whose codestream arrived (decoded, being decoded, or failing to decode).
    pub fn fetched(&self) -> usize {
        self.fetched_count
    }

    /// Textures that decoded.
    pub fn decoded(&self) -> usize {
        self.count(|s| matches!(s, TextureState::Decoded(..)))
    }

    /// Textures still waiting for an answer or a decode.
    pub fn pending(&self) -> usize {
        self.count(|s| matches!(s, TextureState::Fetching | TextureState::Decoding(_)))
    }

    /// The failures, in the order referenced.
    pub fn failures(&self) -> Vec<(Uuid, &str)> {
        self.referenced
            .iter()
            .filter_map(|id| match self.states.get(id) {
                Some(TextureState::Failed(f)) => Some((*id, f.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Nothing is waiting: every texture referenced was fetched or failed, or none can be.
    pub fn settled(&self) -> bool {
        self.unavailable.is_some() || self.pending() == 0
    }

    fn count(&self, f: impl Fn(&TextureState) -> bool) -> usize {
        self.states.values().filter(|s| f(s)).count()
    }

    /// Asks for the rest of a texture of which only a first part has decoded (a sculpt map that
    /// was first referenced as a face texture): marks it fetching and returns true when the
    /// caller is to send `FetchTextureRest` for it; false when it is not partial or already asked.
    pub fn want_whole(&mut self, id: Uuid) -> bool {
        let partial = matches!(
            self.states.get(&id),
            Some(TextureState::Decoded(_, info)) if info.partial_of.is_some()
        );
        if !partial || !self.rest_asked.insert(id) {
            return false;
        }
        self.states.insert(id, TextureState::Fetching);
        true
    }

    /// Adds the ids not referenced before; returns them.
    fn reference(&mut self, ids: impl IntoIterator<Item = Uuid>) -> Vec<Uuid> {
        let mut new = Vec::new();
        for id in ids {
            if id == Uuid::NIL || id == BLANK_TEXTURE || self.states.contains_key(&id) {
                continue;
            }
            self.referenced.push(id);
            self.states.insert(id, TextureState::Fetching);
            new.push(id);
        }
        new
    }
}

/// The texture ids of a TextureEntry: its default and every face exception.
pub fn texture_ids(te: &TextureEntry) -> impl Iterator<Item = Uuid> + '_ {
    std::iter::once(te.textures.default).chain(te.textures.exceptions.iter().map(|(_, id)| *id))
}

/// The face textures of the objects the objects plugin applied this frame, in arrival order
/// (it has decoded their TextureEntries already; they are not decoded twice).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct TexturesReferenced(pub Vec<Uuid>);

/// System sets of the assets plugin.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum AssetsSystems {
    /// `PreUpdate`, after `NetSystems::Receive`: references found, answers applied.
    Apply,
}

/// Texture fetching for the region's objects and terrain.
#[derive(Debug, Default)]
pub struct AssetsPlugin;

impl Plugin for AssetsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<RegionTextures>()
            .init_resource::<TextureImages>()
            .init_resource::<TextureFetchPolicy>()
            .init_resource::<OnScreen>()
            .init_resource::<RestCheck>()
            .init_resource::<Decoding>()
            .add_systems(
                PostUpdate,
                ask_by_size.after(bevy::transform::TransformSystems::Propagate),
            )
            .add_message::<TexturesReferenced>()
            .add_message::<ShapesReferenced>()
            .add_systems(
                PreUpdate,
                (reference_textures, apply_texture_news, finish_decodes)
                    .chain()
                    .in_set(AssetsSystems::Apply)
                    .after(NetSystems::Receive)
                    .after(RegionSystems::Apply)
                    .after(ObjectsSystems::Apply),
            )
            .add_systems(
                PreUpdate,
                reach_textures_settled
                    .after(AssetsSystems::Apply)
                    .after(ShapesSystems::Apply),
            );
    }
}

/// A sculpt map's fetch priority: after the terrain's textures, before any face texture.
pub const SCULPT_MAP_PRIORITY: f32 = 1.0e9;

/// Finds new texture references: the handshake's terrain textures are asked at once (first,
/// whole), then sculpt maps (whole); the objects' face textures wait for [`ask_by_size`].
fn reference_textures(
    mut started: MessageReader<SessionStarted>,
    mut messages: MessageReader<RegionMessage>,
    mut faces: MessageReader<TexturesReferenced>,
    mut shapes: MessageReader<ShapesReferenced>,
    mut textures: ResMut<RegionTextures>,
    mut outgoing: MessageWriter<Outgoing>,
) {
    if started.read().last().is_some() {
        *textures = RegionTextures::default();
    }
    let mut terrain = Vec::new();
    for RegionMessage(message) in messages.read() {
        if let Message::RegionHandshake(h) = &**message {
            terrain.extend(textures.reference(h.terrain_detail));
        }
    }
    for TexturesReferenced(ids) in faces.read() {
        let new = textures.reference(ids.iter().copied());
        textures.to_ask.extend(new);
    }
    // Sculpt maps are geometry: asked at once and whole, after the terrain's textures.
    let mut maps = Vec::new();
    for r in shapes.read() {
        maps.extend(textures.reference(r.sculpt_maps.iter().copied()));
    }
    if !maps.is_empty() && textures.unavailable.is_none() {
        let asks = maps.into_iter().map(|id| TextureAsk {
            id,
            priority: SCULPT_MAP_PRIORITY,
            first_bytes: None,
        });
        outgoing.write(Outgoing(NetCommand::FetchTextures(asks.collect())));
    }
    if !terrain.is_empty() && textures.unavailable.is_none() {
        let asks = terrain.into_iter().map(|id| TextureAsk {
            id,
            priority: f32::INFINITY,
            first_bytes: None,
        });
        outgoing.write(Outgoing(NetCommand::FetchTextures(asks.collect())));
    }
}

/// The size on screen, in pixels across, of each texture's largest wearer seen from `eye`: a
/// wearer's largest extent over its distance (at least a metre), times [`PX_PER_RADIAN`].
pub fn on_screen_sizes<'a>(
    eye: Vec3,
    wearers: impl Iterator<Item = (&'a GlobalTransform, &'a SceneMaterial3d)>,
    materials: &Assets<SceneMaterial>,
    images: &TextureImages,
) -> HashMap<Uuid, f32> {
    let mut sizes: HashMap<Uuid, f32> = HashMap::new();
    for (transform, material) in wearers {
        let Some(SceneTextures::Face(image)) = materials.get(&material.0).map(|m| &m.textures)
        else {
            continue;
        };
        let Some(id) = images.texture_of(image.id()) else {
            continue;
        };
        let m = transform.affine().matrix3;
        let extent = m
            .x_axis
            .length()
            .max(m.y_axis.length())
            .max(m.z_axis.length());
        let distance = transform.translation().distance(eye).max(1.0);
        let px = extent / distance * PX_PER_RADIAN;
        if px.is_finite() {
            let best = sizes.entry(id).or_insert(0.0);
            *best = best.max(px);
        }
    }
    sizes
}

/// Asks for the face textures referenced, at their wearers' sizes on screen (after the
/// transforms are propagated, so new wearers have their places); twice a second, asks for the
/// rest of partial textures whose wearers came near and large.
#[allow(clippy::too_many_arguments)]
fn ask_by_size(
    mut textures: ResMut<RegionTextures>,
    policy: Res<TextureFetchPolicy>,
    mut on_screen: ResMut<OnScreen>,
    mut check: ResMut<RestCheck>,
    time: Res<Time>,
    cameras: Query<&GlobalTransform, With<ChaseCamera>>,
    wearers: Query<(&GlobalTransform, &SceneMaterial3d)>,
    materials: Res<Assets<SceneMaterial>>,
    images: Res<TextureImages>,
    mut outgoing: MessageWriter<Outgoing>,
) {
    let due = check.0.tick(time.delta()).just_finished();
    if textures.to_ask.is_empty() && !due {
        return;
    }
    let eye = cameras
        .iter()
        .next()
        .map_or(Vec3::ZERO, GlobalTransform::translation);
    on_screen.0 = on_screen_sizes(eye, wearers.iter(), &materials, &images);
    let size = |id: &Uuid| on_screen.0.get(id).copied().unwrap_or(0.0);
    let to_ask = std::mem::take(&mut textures.to_ask);
    if !to_ask.is_empty() && textures.unavailable.is_none() {
        let mut asks: Vec<TextureAsk> = to_ask
            .iter()
            .map(|&id| TextureAsk {
                id,
                priority: size(&id),
                first_bytes: (policy.progressive && size(&id) < NEAR_PX).then_some(FIRST_BYTES),
            })
            .collect();
        asks.sort_by(|a, b| b.priority.total_cmp(&a.priority));
        outgoing.write(Outgoing(NetCommand::FetchTextures(asks)));
    }
    if due {
        let mut rest: Vec<(Uuid, f32)> = textures
            .states
            .iter()
            .filter(|(id, state)| {
                matches!(state, TextureState::Decoded(_, info) if info.partial_of.is_some())
                    && !textures.rest_asked.contains(id)
                    && size(id) >= NEAR_PX
            })
            .map(|(id, _)| (*id, size(id)))
            .collect();
        if !rest.is_empty() {
            rest.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (id, _) in &rest {
                textures.rest_asked.insert(*id);
                textures.states.insert(*id, TextureState::Fetching);
            }
            outgoing.write(Outgoing(NetCommand::FetchTextureRest(rest)));
        }
    }
}

/// Applies what the network thread said; a fetched codestream goes to be decoded.
fn apply_texture_news(
    mut news: MessageReader<TextureNews>,
    mut textures: ResMut<RegionTextures>,
    mut images: ResMut<TextureImages>,
    on_screen: Res<OnScreen>,
    mut decoding: ResMut<Decoding>,
    mut session: Option<ResMut<Session>>,
) {
    for n in news.read() {
        match n {
            TextureNews::Fetched(t) => {
                // An answer for an id of an earlier session is ignored.
                let Some(state) = textures.states.get_mut(&t.id) else {
                    continue;
                };
                *state = match &t.result {
                    Ok(bytes) => {
                        let codestream = bytes.clone();
                        // The resolution: within the longest side and what the budget has left;
                        // a first part, near its wearers' size on screen (twice it, 64 at least).
                        let left = TEXTURE_BUDGET_BYTES.saturating_sub(images.bytes);
                        let side = match (t.total, on_screen.0.get(&t.id)) {
                            (Some(_), Some(&px)) => decode_side(px),
                            _ => MAX_TEXTURE_SIDE,
                        };
                        // A header that does not parse decodes to an error: nothing reserved.
                        let (reduce, reserved) = overlook_texture::J2cInfo::parse(&codestream)
                            .map_or((0, 0), |info| {
                                let reduce = overlook_texture::reduce_for(&info, side, left);
                                let (w, h) = info.reduced_size(reduce);
                                (reduce, overlook_texture::mip_chain_bytes(w, h))
                            });
                        images.bytes += reserved;
                        let total = t.total;
                        let task = AsyncComputeTaskPool::get()
                            .spawn(async move { decode_texture(&codestream, reduce, total) });
                        decoding.0.push((t.id, reserved, task));
                        TextureState::Decoding(bytes.clone())
                    }
                    Err(e) => {
                        if let Some(session) = session.as_deref_mut() {
                            session.note(format!("texture {}: {e}", t.id));
                        }
                        TextureState::Failed(e.to_string())
                    }
                };
                if let Ok(bytes) = &t.result {
                    let now = bytes.len() as u64;
                    match textures.counted.insert(t.id, now) {
                        Some(before) => textures.bytes += now.saturating_sub(before),
                        None => {
                            textures.bytes += now;
                            textures.fetched_count += 1;
                        }
                    }
                    if t.cached {
                        textures.from_cache.insert(t.id);
                    }
                }
                textures.last_ms = textures.last_ms.max(t.ms);
            }
            TextureNews::Unavailable(why) => textures.unavailable = Some(why.clone()),
            // Meshes are the shapes plugin's.
            TextureNews::Mesh(_) => {}
        }
    }
}

/// The longest side worth decoding a first part at for a wearer `px` across on screen: the
/// power of two at or above twice that, 64 to [`MAX_TEXTURE_SIDE`].
pub fn decode_side(px: f32) -> u32 {
    // `max` turns NaN into the floor; `min` then caps it.
    let want = (px * 2.0).max(64.0).min(MAX_TEXTURE_SIDE as f32);
    // In 64..=1024 after the clamp: the cast is exact enough.
    #[allow(
        clippy::as_conversions,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let want = want.ceil() as u32;
    want.next_power_of_two().min(MAX_TEXTURE_SIDE)
}

/// Decodes a codestream (or its first part, of a `total`-byte whole) at `reduce` into its
/// image (off the main thread).
fn decode_texture(codestream: &[u8], reduce: u8, total: Option<u64>) -> Decoded {
    let d = overlook_texture::decode(codestream, overlook_texture::DecodeOptions { reduce })
        .map_err(|e| format!("decode: {e}"))?;
    let image_bytes = overlook_texture::mip_chain_bytes(d.width, d.height);
    let info = DecodedInfo {
        width: d.width,
        height: d.height,
        components: d.components,
        has_alpha: d.has_alpha,
        reduce,
        image_bytes,
        partial_of: total,
    };
    Ok((info, texture_image(d.rgba, d.width, d.height)))
}

/// Takes the decodes that finished: the image goes into the texture's handle; a translucent
/// one makes the materials that wear it blend. A terrain detail texture that failed becomes a
/// texel of its band's colour.
fn finish_decodes(
    mut decoding: ResMut<Decoding>,
    mut textures: ResMut<RegionTextures>,
    mut held: ResMut<TextureImages>,
    mut images: ResMut<Assets<Image>>,
    mut materials: ResMut<Assets<SceneMaterial>>,
    region: Res<RegionInfo>,
    mut session: Option<ResMut<Session>>,
) {
    let mut done = Vec::new();
    decoding.0.retain_mut(|(id, reserved, task)| {
        let Some(result) = block_on(poll_once(task)) else {
            return true;
        };
        done.push((*id, *reserved, result));
        false
    });
    for (id, reserved, result) in done {
        held.bytes = held.bytes.saturating_sub(reserved);
        let Some(TextureState::Decoding(bytes)) = textures.states.get(&id) else {
            continue;
        };
        let bytes = bytes.clone();
        let state = match result {
            Ok((info, image)) => {
                let handle = held.hold(&mut images, id, image, info.image_bytes);
                if info.has_alpha {
                    held.alpha.insert(id);
                    let wearing: Vec<AssetId<SceneMaterial>> = materials
                        .iter()
                        .filter(|(_, m)| m.textures == SceneTextures::Face(handle.clone()))
                        .map(|(m, _)| m)
                        .collect();
                    for m in wearing {
                        if let Some(mut m) = materials.get_mut(m) {
                            m.texture_alpha = true;
                        }
                    }
                }
                TextureState::Decoded(bytes, info)
            }
            Err(why) => {
                if let Some(session) = session.as_deref_mut() {
                    session.note(format!("texture {id}: {why}"));
                }
                if let Some(band) = region.terrain_detail.iter().position(|&t| t == id)
                    && let Some(&colour) = DEFAULT_BAND_COLOURS.get(band)
                {
                    let _ = held.hold(&mut images, id, solid_image(colour), 4);
                }
                TextureState::Failed(why)
            }
        };
        textures.states.insert(id, state);
    }
}

/// Records `textures_settled` once the objects settled and nothing is waiting: no texture, and
/// (with the shapes plugin) no sculpt map or mesh.
fn reach_textures_settled(
    textures: Res<RegionTextures>,
    shapes: Option<Res<ShapeAssets>>,
    mut session: ResMut<Session>,
    mut phases: MessageWriter<PhaseReached>,
) {
    let shapes_settled = shapes.as_ref().is_none_or(|s| s.settled());
    let no_meshes = shapes.as_ref().is_none_or(|s| s.meshes.is_empty());
    if session.reached(Phase::TexturesSettled)
        || textures.unavailable.is_some()
        || (textures.referenced.is_empty() && no_meshes)
        || !textures.settled()
        || !shapes_settled
    {
        return;
    }
    let Some(objects) = session.phases.get(Phase::ObjectsSettled) else {
        return;
    };
    let ms = objects
        .max(textures.last_ms)
        .max(shapes.map_or(0, |s| s.last_ms));
    session.phases.record(Phase::TexturesSettled, ms);
    phases.write(PhaseReached {
        phase: Phase::TexturesSettled,
        ms,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::textures::{TextureFailure, TextureFetched};
    use std::time::Duration;

    fn app() -> App {
        let mut app = crate::net::plugin::plugin_test_app();
        // The objects plugin decodes the TextureEntries and names their textures.
        app.add_plugins((crate::objects::plugin::ObjectsPlugin, AssetsPlugin))
            .init_resource::<Session>()
            .add_message::<PhaseReached>();
        app
    }

    /// Writes every message the live OpenSim sent in the captured Test Region session (its
    /// handshake's four terrain textures, and its prims, all wearing the plywood).
    fn send_captured_session(app: &mut App) {
        let datagrams = overlook_protocol::capture::read_udp_jsonl(
            &overlook_testdata::session_udp("test-region"),
        )
        .unwrap();
        for (id, body) in overlook_protocol::capture::inbound_bodies(&datagrams).unwrap() {
            let m = Message::parse(id, &body).unwrap();
            app.world_mut().write_message(RegionMessage(Box::new(m)));
        }
    }

    /// The texture requests written since `cursor` last read.
    fn asked(
        app: &App,
        cursor: &mut bevy::ecs::message::MessageCursor<Outgoing>,
    ) -> Vec<Vec<TextureAsk>> {
        let messages = app.world().resource::<Messages<Outgoing>>();
        cursor
            .read(messages)
            .filter_map(|Outgoing(c)| match c {
                NetCommand::FetchTextures(asks) => Some(asks.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn captured_references_are_asked_once_terrain_first_and_settle_after_the_objects() {
        let mut app = app();
        send_captured_session(&mut app);
        app.update();
        let mut cursor = bevy::ecs::message::MessageCursor::<Outgoing>::default();
        let requests = asked(&app, &mut cursor);
        assert_eq!(requests.len(), 2, "the terrain's request, then the faces'");
        // OpenSim's four terrain textures first and whole, then the plywood every prim wears
        // (PROTOCOL §12): far from the viewpoint, so its first part only.
        let plywood: Uuid = "89556747-24cb-43ed-920b-47caed15465f".parse().unwrap();
        let dirt: Uuid = "b8d3965a-ad78-bf43-699b-bff8eca6c975".parse().unwrap();
        assert!(
            requests[0]
                .iter()
                .all(|a| a.priority == f32::INFINITY && a.first_bytes.is_none())
        );
        assert_eq!(requests[1].len(), 1, "{requests:?}");
        assert_eq!(requests[1][0].id, plywood);
        assert_eq!(requests[1][0].first_bytes, Some(FIRST_BYTES));
        let ids: Vec<Uuid> = requests.iter().flatten().map(|a| a.id).collect();
        assert_eq!(ids[0], dirt);
        assert_eq!(ids.len(), 5, "{ids:?}");
        assert_eq!(ids[4], plywood);
        let textures = app.world().resource::<RegionTextures>();
        assert_eq!(textures.pending(), 5);
        assert!(!textures.settled());
        // Answers: OpenSim's own codestreams (as it served them) for three, one 404, and one
        // that is not a codestream; the objects settle at 300 ms.
        let mut served_bytes = 0;
        for (i, id) in ids.iter().enumerate() {
            let result = match i {
                2 => Err(TextureFailure::Status(404)),
                3 => Ok(Arc::from(vec![0xFF, 0x4F, 0xFF, 0x51])),
                _ => {
                    let bytes = overlook_testdata::read_bytes(&format!("assets/served/{id}.j2c"));
                    served_bytes += bytes.len() as u64;
                    Ok(Arc::from(bytes))
                }
            };
            app.world_mut()
                .write_message(TextureNews::Fetched(TextureFetched {
                    id: *id,
                    result,
                    total: None,
                    attempts: 1,
                    elapsed: Duration::from_millis(5),
                    ms: 200 + i as u64,
                    cached: false,
                }));
        }
        app.update();
        assert!(
            !app.world()
                .resource::<Session>()
                .reached(Phase::TexturesSettled)
        );
        // Decodes run on the compute pool: wait for them (bounded).
        for _ in 0..500 {
            if app.world().resource::<RegionTextures>().pending() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            app.update();
        }
        app.world_mut()
            .resource_mut::<Session>()
            .phases
            .record(Phase::ObjectsSettled, 300);
        app.update();
        let textures = app.world().resource::<RegionTextures>();
        assert_eq!(
            (textures.fetched(), textures.decoded(), textures.pending()),
            (4, 3, 0)
        );
        assert_eq!(textures.bytes, served_bytes + 4);
        let failures = textures.failures();
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert_eq!(failures[0], (ids[2], "HTTP 404"));
        // Both are in the session's log (the viewer's Log panel).
        let log = &app.world().resource::<Session>().log;
        assert!(
            log.contains(&format!("texture {}: HTTP 404", ids[2])),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|l| l.starts_with(&format!("texture {}: decode: ", ids[3]))),
            "{log:?}"
        );
        assert_eq!(failures[1].0, ids[3]);
        assert!(failures[1].1.starts_with("decode: "), "{failures:?}");
        // The plywood decoded to what its SIZ says (PROTOCOL §12: 512 × 512 RGB).
        assert_eq!(
            textures.states[&plywood],
            TextureState::Decoded(
                Arc::from(overlook_testdata::read_bytes(&format!(
                    "assets/served/{plywood}.j2c"
                ))),
                DecodedInfo {
                    width: 512,
                    height: 512,
                    components: 3,
                    has_alpha: false,
                    reduce: 0,
                    image_bytes: overlook_texture::mip_chain_bytes(512, 512),
                    partial_of: None,
                }
            )
        );
        // Its image went into the handle every face wearing it shares: sRGB, ten mip levels
        // (512 down to 1), and it is what the budget counts.
        let handle = app
            .world_mut()
            .resource_scope(|world, mut held: Mut<TextureImages>| {
                held.handle(world.resource::<Assets<Image>>(), plywood)
            });
        let images = app.world().resource::<Assets<Image>>();
        let image = images.get(&handle).expect("the plywood's image");
        assert_eq!((image.width(), image.height()), (512, 512));
        assert_eq!(image.texture_descriptor.mip_level_count, 10);
        assert_eq!(
            image.texture_descriptor.format,
            TextureFormat::Rgba8UnormSrgb
        );
        let held = app.world().resource::<TextureImages>();
        assert!(held.bytes >= overlook_texture::mip_chain_bytes(512, 512));
        assert_eq!(
            app.world()
                .resource::<Session>()
                .phases
                .get(Phase::TexturesSettled),
            Some(300)
        );
        // The same references again: nothing new is asked.
        send_captured_session(&mut app);
        app.update();
        let again = asked(&app, &mut cursor);
        assert!(again.is_empty(), "{again:?}");
    }

    /// Waits (bounded) until nothing is being decoded.
    fn wait_for_decodes(app: &mut App) {
        for _ in 0..500 {
            if app.world().resource::<Decoding>().0.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            app.update();
        }
        app.update();
    }

    #[test]
    fn a_partial_texture_is_wanted_whole_once() {
        let mut t = RegionTextures::default();
        let info = |partial_of| DecodedInfo {
            width: 64,
            height: 64,
            components: 3,
            has_alpha: false,
            reduce: 0,
            image_bytes: 0,
            partial_of,
        };
        let (partial, whole) = (Uuid([1; 16]), Uuid([2; 16]));
        let bytes: Arc<[u8]> = Arc::from(vec![0u8; 4]);
        t.states.insert(
            partial,
            TextureState::Decoded(bytes.clone(), info(Some(9000))),
        );
        t.states
            .insert(whole, TextureState::Decoded(bytes, info(None)));
        assert!(t.want_whole(partial));
        assert_eq!(t.states[&partial], TextureState::Fetching);
        assert!(!t.want_whole(partial), "asked once");
        assert!(!t.want_whole(whole), "already whole");
        assert!(!t.want_whole(Uuid([3; 16])), "unknown");
    }

    #[test]
    fn a_first_part_shows_at_once_and_its_rest_comes_when_a_wearer_is_near() {
        let mut app = app();
        send_captured_session(&mut app);
        // The viewpoint far above the region: every prim is a few pixels across.
        let camera = app
            .world_mut()
            .spawn((
                ChaseCamera::default(),
                Transform::from_xyz(128.0, 5000.0, -128.0),
            ))
            .id();
        app.update();
        let plywood: Uuid = "89556747-24cb-43ed-920b-47caed15465f".parse().unwrap();
        let whole: Arc<[u8]> = Arc::from(overlook_testdata::read_bytes(&format!(
            "assets/served/{plywood}.j2c"
        )));
        let first = Arc::from(&whole[..FIRST_BYTES as usize]);
        app.world_mut()
            .write_message(TextureNews::Fetched(TextureFetched {
                id: plywood,
                result: Ok(first),
                total: Some(whole.len() as u64),
                attempts: 1,
                elapsed: Duration::from_millis(5),
                ms: 250,
                cached: false,
            }));
        app.update();
        wait_for_decodes(&mut app);
        // The first part decoded at once, full size in the codestream's terms but reduced to
        // what a wearer a few pixels across needs (64 at the least).
        let textures = app.world().resource::<RegionTextures>();
        let Some(TextureState::Decoded(_, info)) = textures.states.get(&plywood) else {
            panic!("{:?}", textures.states.get(&plywood));
        };
        assert_eq!(info.partial_of, Some(whole.len() as u64));
        assert_eq!((info.width, info.height, info.reduce), (64, 64, 3));
        assert_eq!(textures.bytes, u64::from(FIRST_BYTES));
        // Nothing more is asked while every wearer stays small.
        let mut cursor = bevy::ecs::message::MessageCursor::<Outgoing>::default();
        let rest_asked = |app: &App, cursor: &mut bevy::ecs::message::MessageCursor<Outgoing>| {
            let messages = app.world().resource::<Messages<Outgoing>>();
            cursor
                .read(messages)
                .filter_map(|Outgoing(c)| match c {
                    NetCommand::FetchTextureRest(r) => Some(r.clone()),
                    _ => None,
                })
                .flatten()
                .collect::<Vec<_>>()
        };
        let _ = rest_asked(&app, &mut cursor);
        for _ in 0..70 {
            std::thread::sleep(Duration::from_millis(10));
            app.update();
        }
        assert!(rest_asked(&app, &mut cursor).is_empty());
        // The viewpoint comes down next to a prim: within half a second, its rest is asked.
        let prim = {
            let mut q = app
                .world_mut()
                .query::<(&crate::objects::plugin::SlObject, &GlobalTransform)>();
            q.iter(app.world())
                .find(|(o, _)| o.pcode == overlook_protocol::message::object::PCode::Prim)
                .map(|(_, t)| t.translation())
                .expect("a prim")
        };
        app.world_mut()
            .entity_mut(camera)
            .insert(Transform::from_translation(prim + Vec3::new(0.0, 0.5, 2.0)));
        let mut asked_rest = Vec::new();
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(10));
            app.update();
            asked_rest.extend(rest_asked(&app, &mut cursor));
            if !asked_rest.is_empty() {
                break;
            }
        }
        assert_eq!(asked_rest.len(), 1, "{asked_rest:?}");
        assert_eq!(asked_rest[0].0, plywood);
        assert!(asked_rest[0].1 >= NEAR_PX);
        // The whole codestream decodes at full size and replaces the first part's image.
        app.world_mut()
            .write_message(TextureNews::Fetched(TextureFetched {
                id: plywood,
                result: Ok(whole.clone()),
                total: None,
                attempts: 1,
                elapsed: Duration::from_millis(5),
                ms: 900,
                cached: false,
            }));
        app.update();
        wait_for_decodes(&mut app);
        let textures = app.world().resource::<RegionTextures>();
        let Some(TextureState::Decoded(_, info)) = textures.states.get(&plywood) else {
            panic!("{:?}", textures.states.get(&plywood));
        };
        assert_eq!((info.width, info.height, info.partial_of), (512, 512, None));
        assert_eq!(textures.bytes, whole.len() as u64, "each byte counted once");
        assert_eq!(textures.fetched(), 1);
        let held = app.world().resource::<TextureImages>();
        assert_eq!(
            held.sizes[&plywood],
            overlook_texture::mip_chain_bytes(512, 512)
        );
    }

    #[test]
    fn decode_sides_follow_the_size_on_screen() {
        assert_eq!(decode_side(0.0), 64);
        assert_eq!(decode_side(40.0), 128);
        assert_eq!(decode_side(100.0), 256);
        assert_eq!(decode_side(5000.0), MAX_TEXTURE_SIDE);
        assert_eq!(decode_side(f32::NAN), 64);
    }

    #[test]
    fn a_replay_makes_textures_unavailable_and_nothing_is_asked_after() {
        let mut app = app();
        app.world_mut()
            .write_message(TextureNews::Unavailable("replay".into()));
        app.update();
        let textures = app.world().resource::<RegionTextures>();
        assert!(textures.settled());
        assert_eq!(textures.unavailable.as_deref(), Some("replay"));
    }
}
