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
//! `textures_settled` is reached once the objects have settled and every texture referenced so
//! far was decoded or failed; its time is the later of `objects_settled` and the last answer.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::tasks::{AsyncComputeTaskPool, Task, block_on, poll_once};

use crate::net::NetCommand;
use crate::net::plugin::{
    NetSystems, Outgoing, PhaseReached, RegionMessage, Session, SessionStarted, TextureNews,
};
use crate::objects::plugin::ObjectsSystems;
use crate::scene::material::SceneTextures;
use crate::scene::{RegionInfo, RegionSystems, SceneMaterial};
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
    /// Textures whose image has transparent pixels.
    alpha: std::collections::HashSet<Uuid>,
    /// Bytes of the images held and being decoded (all mip levels).
    pub bytes: u64,
}

impl TextureImages {
    /// The handle of `id`'s image, reserved on first use.
    pub fn handle(&mut self, images: &Assets<Image>, id: Uuid) -> Handle<Image> {
        self.handles
            .entry(id)
            .or_insert_with(|| images.reserve_handle())
            .clone()
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
    /// The latest answer, ms since the login request.
    last_ms: u64,
}

/// A finished decode: what it decoded to and its image.
type Decoded = Result<(DecodedInfo, Image), String>;

/// Decodes in flight, with the bytes reserved for each.
#[derive(Resource, Default)]
struct Decoding(Vec<(Uuid, u64, Task<Decoded>)>);

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
            .init_resource::<Decoding>()
            .add_message::<TexturesReferenced>()
            .add_systems(
                PreUpdate,
                (
                    reference_textures,
                    apply_texture_news,
                    finish_decodes,
                    reach_textures_settled,
                )
                    .chain()
                    .in_set(AssetsSystems::Apply)
                    .after(NetSystems::Receive)
                    .after(RegionSystems::Apply)
                    .after(ObjectsSystems::Apply),
            );
    }
}

/// Finds new texture references (the handshake's terrain textures first, then the objects'
/// face textures) and asks for them.
fn reference_textures(
    mut started: MessageReader<SessionStarted>,
    mut messages: MessageReader<RegionMessage>,
    mut faces: MessageReader<TexturesReferenced>,
    mut textures: ResMut<RegionTextures>,
    mut outgoing: MessageWriter<Outgoing>,
) {
    if started.read().last().is_some() {
        *textures = RegionTextures::default();
    }
    let mut new = Vec::new();
    for RegionMessage(message) in messages.read() {
        if let Message::RegionHandshake(h) = &**message {
            new.extend(textures.reference(h.terrain_detail));
        }
    }
    for TexturesReferenced(ids) in faces.read() {
        new.extend(textures.reference(ids.iter().copied()));
    }
    if !new.is_empty() && textures.unavailable.is_none() {
        outgoing.write(Outgoing(NetCommand::FetchTextures(new)));
    }
}

/// Applies what the network thread said; a fetched codestream goes to be decoded.
fn apply_texture_news(
    mut news: MessageReader<TextureNews>,
    mut textures: ResMut<RegionTextures>,
    mut images: ResMut<TextureImages>,
    mut decoding: ResMut<Decoding>,
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
                        // The resolution: within the longest side and what the budget has left.
                        let left = TEXTURE_BUDGET_BYTES.saturating_sub(images.bytes);
                        let reduce = overlook_texture::J2cInfo::parse(&codestream)
                            .map(|info| overlook_texture::reduce_for(&info, MAX_TEXTURE_SIDE, left))
                            .unwrap_or(0);
                        let reserved = overlook_texture::J2cInfo::parse(&codestream)
                            .map(|info| {
                                let (w, h) = info.reduced_size(reduce);
                                overlook_texture::mip_chain_bytes(w, h)
                            })
                            .unwrap_or(0);
                        images.bytes += reserved;
                        let task = AsyncComputeTaskPool::get()
                            .spawn(async move { decode_texture(&codestream, reduce) });
                        decoding.0.push((t.id, reserved, task));
                        TextureState::Decoding(bytes.clone())
                    }
                    Err(e) => TextureState::Failed(e.to_string()),
                };
                if let Ok(bytes) = &t.result {
                    textures.bytes += bytes.len() as u64;
                    textures.fetched_count += 1;
                    if t.cached {
                        textures.from_cache.insert(t.id);
                    }
                }
                textures.last_ms = textures.last_ms.max(t.ms);
            }
            TextureNews::Unavailable(why) => textures.unavailable = Some(why.clone()),
        }
    }
}

/// Decodes a codestream at `reduce` into its image (off the main thread).
fn decode_texture(codestream: &[u8], reduce: u8) -> Decoded {
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
                held.bytes += info.image_bytes;
                let handle = held.handle(&images, id);
                // The handle was reserved by this app's `Assets<Image>`: inserting cannot fail.
                let _ = images.insert(&handle, image);
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
                if let Some(band) = region.terrain_detail.iter().position(|&t| t == id)
                    && let Some(&colour) = DEFAULT_BAND_COLOURS.get(band)
                {
                    let handle = held.handle(&images, id);
                    let _ = images.insert(&handle, solid_image(colour));
                }
                TextureState::Failed(why)
            }
        };
        textures.states.insert(id, state);
    }
}

/// Records `textures_settled` once the objects settled and nothing is waiting.
fn reach_textures_settled(
    textures: Res<RegionTextures>,
    mut session: ResMut<Session>,
    mut phases: MessageWriter<PhaseReached>,
) {
    if session.reached(Phase::TexturesSettled)
        || textures.unavailable.is_some()
        || textures.referenced.is_empty()
        || !textures.settled()
    {
        return;
    }
    let Some(objects) = session.phases.get(Phase::ObjectsSettled) else {
        return;
    };
    let ms = objects.max(textures.last_ms);
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

    /// The texture requests written since `cursor` last read.
    fn asked(
        app: &App,
        cursor: &mut bevy::ecs::message::MessageCursor<Outgoing>,
    ) -> Vec<Vec<Uuid>> {
        let messages = app.world().resource::<Messages<Outgoing>>();
        cursor
            .read(messages)
            .filter_map(|Outgoing(c)| match c {
                NetCommand::FetchTextures(ids) => Some(ids.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn captured_references_are_asked_once_terrain_first_and_settle_after_the_objects() {
        let mut app = app();
        let datagrams = overlook_protocol::capture::read_udp_jsonl(
            &overlook_testdata::session_udp("test-region"),
        )
        .unwrap();
        for (id, body) in overlook_protocol::capture::inbound_bodies(&datagrams).unwrap() {
            let m = Message::parse(id, &body).unwrap();
            app.world_mut().write_message(RegionMessage(Box::new(m)));
        }
        app.update();
        let mut cursor = bevy::ecs::message::MessageCursor::<Outgoing>::default();
        let requests = asked(&app, &mut cursor);
        assert_eq!(requests.len(), 1, "one request for the frame's references");
        let ids = &requests[0];
        // OpenSim's four terrain textures, then the plywood every prim wears (PROTOCOL §12).
        let plywood: Uuid = "89556747-24cb-43ed-920b-47caed15465f".parse().unwrap();
        let dirt: Uuid = "b8d3965a-ad78-bf43-699b-bff8eca6c975".parse().unwrap();
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
        for (id, body) in overlook_protocol::capture::inbound_bodies(&datagrams).unwrap() {
            let m = Message::parse(id, &body).unwrap();
            app.world_mut().write_message(RegionMessage(Box::new(m)));
        }
        app.update();
        let again = asked(&app, &mut cursor);
        assert!(again.is_empty(), "{again:?}");
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
