//! Headless rendering: the viewer's plugins without a window, rendering into `Image` targets,
//! so a frame can be checked on a machine with no display (Mesa lavapipe is enough).
//!
//! [`headless_app`] logs in, waits until the story is done — terrain complete and meshed,
//! objects settled — then captures [`View::Avatar`] (the chase camera) and [`View::Overview`]
//! (straight down on the whole region, north up) into [`CapturedFrames`] and exits. A timeout
//! captures whatever is there and says so.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bevy::app::ScheduleRunnerPlugin;
use bevy::camera::{Projection, RenderTarget, ScalingMode};
use bevy::prelude::*;
use bevy::render::render_resource::{PipelineCache, TextureFormat, TextureUsages};
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::render::{Render, RenderApp};
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;

use super::{ScenePlugin, ViewerOptions};
use crate::assets::RegionTextures;
use crate::camera::{CameraPlugin, ChaseCamera};
use crate::net::plugin::Session;
use crate::objects::plugin::{ObjectIndex, ObjectsPlugin};
use crate::scene::{RegionInfo, RegionPlugin, SceneCounts};
use crate::terrain::{Terrain, TerrainPlugin};
use overlook_protocol::circuit::Phase;

/// Which camera a frame comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// The chase camera behind the avatar.
    Avatar,
    /// Straight down on the whole region, north up.
    Overview,
}

/// How to capture.
#[derive(Debug, Clone)]
pub struct CaptureSettings {
    /// Size of the avatar frame in pixels.
    pub size: (u32, u32),
    /// Longest side of the overview in pixels (the other follows the region's shape).
    pub overview_px: u32,
    /// Give up waiting for the scene after this long and capture what is there.
    pub timeout: Duration,
    /// Frames rendered after the scene is complete before capturing (uploads, camera glide).
    pub settle_frames: u32,
    /// Objects count as settled once no new local id has appeared for this long after the
    /// terrain completed (`overlook check --settle-ms`); `None` waits for the circuit's
    /// `objects_settled` phase instead. Objects that move, or vanish and come back under the
    /// same local id, do not hold it up.
    pub settle: Option<Duration>,
    /// Least severe log level printed (`RUST_LOG` overrides it).
    pub log_level: bevy::log::Level,
    /// Multisampling of both cameras. On lavapipe every rendered frame costs about a second on 2
    /// cores with 4× MSAA and half that without.
    pub msaa: Msaa,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            size: (1280, 720),
            overview_px: 768,
            timeout: Duration::from_secs(60),
            settle_frames: 10,
            settle: None,
            log_level: bevy::log::Level::INFO,
            msaa: Msaa::Sample4,
        }
    }
}

/// A captured frame: RGBA8 pixels, row-major from the top.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Which camera.
    pub view: View,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 4` bytes, sRGB.
    pub rgba: Vec<u8>,
}

impl Frame {
    /// True when every pixel has the same colour (nothing but the clear colour was drawn).
    pub fn is_blank(&self) -> bool {
        let mut pixels = self.rgba.chunks_exact(4);
        let first = pixels.next();
        pixels.all(|p| Some(p) == first)
    }

    /// The share of pixels (0 to 1) that show something of the region: terrain, water, objects
    /// or avatars, told apart from the sky, which is the clear colour `clear` and nothing else
    /// (the scene draws no sky dome or fog). A pixel counts when any channel differs from
    /// `clear` by more than [`CLEAR_TOLERANCE`] (the rounding of the clear colour into sRGB).
    pub fn region_share(&self, clear: [u8; 4]) -> f64 {
        let pixels = self.rgba.chunks_exact(4);
        let total = pixels.len();
        if total == 0 {
            return 0.0;
        }
        let region = pixels
            .filter(|p| {
                p.iter()
                    .zip(&clear[..3])
                    .any(|(a, b)| a.abs_diff(*b) > CLEAR_TOLERANCE)
            })
            .count();
        region as f64 / total as f64
    }

    /// The pixel at `(x, y)` (from the top left), or `None` outside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = usize::try_from((u64::from(y) * u64::from(self.width) + u64::from(x)) * 4).ok()?;
        let p = self.rgba.get(i..i + 4)?;
        Some([p[0], p[1], p[2], p[3]])
    }
}

/// How far a pixel's channel may be from the clear colour and still be sky.
pub const CLEAR_TOLERANCE: u8 = 2;

/// The clear colour (the sky) as the capture targets store it, sRGB bytes.
pub fn clear_rgba() -> [u8; 4] {
    crate::viewer::SKY_COLOR.to_srgba().to_u8_array()
}

/// What the capture produced.
#[derive(Resource, Debug, Default)]
pub struct CapturedFrames {
    /// The frames, avatar first.
    pub frames: Vec<Frame>,
    /// True when the scene was not complete within the timeout.
    pub timed_out: bool,
    /// True when the replayed recording ended before the scene was complete by the usual rule:
    /// nothing more could arrive, so it was captured at once.
    pub input_ended: bool,
}

impl CapturedFrames {
    /// The frame of a view.
    pub fn get(&self, view: View) -> Option<&Frame> {
        self.frames.iter().find(|f| f.view == view)
    }
}

#[derive(Resource, Debug)]
struct Capture {
    settings: CaptureSettings,
    started: Option<std::time::Instant>,
    stage: Stage,
    avatar_target: Handle<Image>,
    overview_target: Handle<Image>,
    retakes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the story to finish.
    Waiting,
    /// Both cameras render; a few frames before the shots.
    Settling(u32),
    /// Screenshots of the views not yet captured are on their way.
    Shooting,
    /// Done: exit.
    Done,
}

#[derive(Component)]
struct OverviewCamera;

/// Watches for new local ids (the `settle` rule): every id ever seen, and when the last new one
/// (or the terrain's completion, whichever came later) was noticed.
#[derive(Resource, Debug, Default)]
pub struct ObjectsQuiet {
    seen: HashSet<u32>,
    /// When the last new local id appeared.
    pub last_new: Option<std::time::Instant>,
    /// When the terrain was first seen complete.
    pub terrain_done: Option<std::time::Instant>,
}

impl ObjectsQuiet {
    /// Whether no new local id has appeared for `settle` since the terrain completed.
    pub fn settled(&self, settle: Duration, now: std::time::Instant) -> bool {
        let Some(done) = self.terrain_done else {
            return false;
        };
        let since = self.last_new.map_or(done, |t| t.max(done));
        now.saturating_duration_since(since) >= settle
    }
}

fn watch_local_ids(
    mut quiet: ResMut<ObjectsQuiet>,
    index: Res<ObjectIndex>,
    session: Res<Session>,
    counts: Res<SceneCounts>,
) {
    let now = std::time::Instant::now();
    let quiet = &mut *quiet;
    let mut new = false;
    for &id in index.by_local.keys() {
        new |= quiet.seen.insert(id);
    }
    if new {
        quiet.last_new = Some(now);
    }
    if quiet.terrain_done.is_none()
        && session.reached(Phase::TerrainComplete)
        && counts.patches_total > 0
        && counts.patches_received == counts.patches_total
    {
        quiet.terrain_done = Some(now);
    }
}

/// Render pipelines still compiling, counted in the render world each frame. Pipelines compile
/// in the background (for seconds on lavapipe) and what needs them is not drawn until they are
/// ready, so a capture waits for this to reach zero.
#[derive(Resource, Debug, Clone, Default)]
struct PipelinesPending(Arc<AtomicUsize>);

fn count_waiting_pipelines(cache: Res<PipelineCache>, pending: Res<PipelinesPending>) {
    pending
        .0
        .store(cache.waiting_pipelines().count(), Ordering::Relaxed);
}

/// Shares [`PipelinesPending`] between the render world and the main world.
struct PipelineWatchPlugin(PipelinesPending);

impl Plugin for PipelineWatchPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.0.clone());
    }

    fn finish(&self, app: &mut App) {
        if let Some(render) = app.get_sub_app_mut(RenderApp) {
            render
                .insert_resource(self.0.clone())
                .add_systems(Render, count_waiting_pipelines);
        }
    }
}

/// Runs a [`headless_app`] until it exits, keeping the app (and its world, with
/// [`CapturedFrames`], the session and the terrain) for the caller to read.
pub fn run_headless(app: &mut App) -> AppExit {
    while app.plugins_state() == bevy::app::PluginsState::Adding {
        bevy::tasks::tick_global_task_pools_on_main_thread();
    }
    app.finish();
    app.cleanup();
    loop {
        let started = std::time::Instant::now();
        app.update();
        if let Some(exit) = app.should_exit() {
            return exit;
        }
        // Waiting for the network or a timeout must not spin a core: a frame that had nothing
        // to do sleeps out the rest of its slot (a rendered frame takes longer anyway).
        if let Some(rest) = HEADLESS_FRAME.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

/// The shortest headless frame: at most 20 updates a second. The network thread times its
/// events itself, so this delays what the ECS sees of them by 50 ms at most.
pub const HEADLESS_FRAME: Duration = Duration::from_millis(50);

/// A windowless app running the viewer's scene plugins against `options`' login, capturing as
/// `settings` says. Drive it with [`run_headless`], then read [`CapturedFrames`] from its world.
pub fn headless_app(options: ViewerOptions, settings: CaptureSettings) -> App {
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                ..default()
            })
            .set(bevy::log::LogPlugin {
                level: settings.log_level,
                ..default()
            })
            .disable::<WinitPlugin>()
            // As in the viewer: rendering on the main thread.
            .disable::<bevy::render::pipelined_rendering::PipelinedRenderingPlugin>(),
    )
    .add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(1)))
    .add_plugins((
        options.net_plugin(),
        RegionPlugin,
        TerrainPlugin,
        ObjectsPlugin,
        crate::assets::AssetsPlugin,
        crate::shapes::ShapesPlugin,
        CameraPlugin,
        ScenePlugin {
            spawn_camera: false,
        },
    ))
    .add_plugins(PipelineWatchPlugin(PipelinesPending::default()))
    .init_resource::<CapturedFrames>()
    .init_resource::<ObjectsQuiet>()
    .insert_resource(PendingCapture(Some(settings)))
    // The frames show every texture at full quality, and `check` proves the grid serves each
    // whole: no first-part-first fetching here.
    .insert_resource(crate::assets::TextureFetchPolicy { progressive: false })
    .add_systems(Update, watch_local_ids)
    .add_systems(Startup, spawn_capture_cameras)
    .add_systems(Last, drive_capture);
    app
}

#[derive(Resource)]
struct PendingCapture(Option<CaptureSettings>);

fn target_image(images: &mut Assets<Image>, (w, h): (u32, u32)) -> Handle<Image> {
    let mut image = Image::new_target_texture(w, h, TextureFormat::Rgba8UnormSrgb, None);
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    images.add(image)
}

fn spawn_capture_cameras(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    mut pending: ResMut<PendingCapture>,
) {
    let settings = pending.0.take().unwrap_or_default();
    let avatar_target = target_image(&mut images, settings.size);
    // Square until the region's shape is known; re-made when the overview is taken.
    let overview_target = target_image(&mut images, (settings.overview_px, settings.overview_px));
    commands.spawn((
        super::scene_camera(),
        // Inactive until the scene is complete: rendering on lavapipe costs time, and the
        // camera takes its target's size when it starts.
        Camera {
            is_active: false,
            ..default()
        },
        ChaseCamera::default(),
        settings.msaa,
        RenderTarget::Image(avatar_target.clone().into()),
        Transform::from_xyz(100.0, 60.0, -128.0)
            .looking_at(Vec3::new(140.0, 20.0, -128.0), Vec3::Y),
    ));
    commands.spawn((
        super::scene_camera(),
        Camera {
            is_active: false,
            order: 1,
            ..default()
        },
        OverviewCamera,
        settings.msaa,
        RenderTarget::Image(overview_target.clone().into()),
        Transform::default(),
    ));
    commands.insert_resource(Capture {
        settings,
        started: None,
        stage: Stage::Waiting,
        avatar_target,
        overview_target,
        retakes: 0,
    });
}

/// Whether the story has run far enough to take the pictures: the terrain complete and meshed,
/// the objects settled (by the circuit's rule, or by `settle`'s when given), and every texture
/// referenced fetched or failed.
fn scene_ready(
    session: &Session,
    counts: &SceneCounts,
    terrain: &Terrain,
    quiet: &ObjectsQuiet,
    settle: Option<Duration>,
    textures: Option<&RegionTextures>,
) -> bool {
    let settled = match settle {
        Some(settle) => quiet.settled(settle, std::time::Instant::now()),
        None => session.reached(Phase::ObjectsSettled),
    };
    settled
        && session.reached(Phase::TerrainComplete)
        && counts.patches_total > 0
        && counts.patches_received == counts.patches_total
        && terrain.dirty.is_empty()
        && textures.is_none_or(RegionTextures::settled)
}

/// The overview's size in pixels for a region: `longest` on its longer side, the other side in
/// proportion (at least 1).
pub fn overview_size((x, y): (u32, u32), longest: u32) -> (u32, u32) {
    let long = x.max(y).max(1);
    let scale = |side: u32| {
        u32::try_from(u64::from(side) * u64::from(longest) / u64::from(long))
            .unwrap_or(longest)
            .max(1)
    };
    (scale(x), scale(y))
}

/// The chase camera, not the overview camera.
type ChaseOnly = (With<ChaseCamera>, Without<OverviewCamera>);

#[allow(clippy::too_many_arguments)]
fn drive_capture(
    mut commands: Commands,
    capture: Option<ResMut<Capture>>,
    session: Res<Session>,
    counts: Res<SceneCounts>,
    terrain: Res<Terrain>,
    region: Res<RegionInfo>,
    mut frames: ResMut<CapturedFrames>,
    mut overview: Query<(&mut Camera, &mut Transform, &mut Projection), With<OverviewCamera>>,
    mut avatar_cam: Query<(&mut Camera, &mut Projection), ChaseOnly>,
    mut exit: MessageWriter<AppExit>,
    pending: Res<PipelinesPending>,
    quiet: Res<ObjectsQuiet>,
    mut images: ResMut<Assets<Image>>,
    textures: Option<Res<RegionTextures>>,
) {
    let Some(mut capture) = capture else { return };
    let started = *capture.started.get_or_insert_with(std::time::Instant::now);
    let capture = &mut *capture;
    match capture.stage {
        Stage::Waiting => {
            let ready = scene_ready(
                &session,
                &counts,
                &terrain,
                &quiet,
                capture.settings.settle,
                textures.as_deref(),
            );
            if !ready && started.elapsed() >= capture.settings.timeout {
                warn!(
                    "the scene was not complete within {:?}; capturing it as it is",
                    capture.settings.timeout
                );
                frames.timed_out = true;
            }
            // A replay that has delivered everything will not complete the scene by waiting:
            // once what arrived is meshed, it is captured as it is.
            if !ready
                && !frames.timed_out
                && session.input_ended.is_some()
                && terrain.dirty.is_empty()
            {
                frames.input_ended = true;
            }
            if ready || frames.timed_out || frames.input_ended {
                // Both cameras start together, so their pipelines compile side by side (seconds
                // each on lavapipe) and both shots go in the same frame.
                for (mut cam, mut projection) in &mut avatar_cam {
                    cam.is_active = true;
                    projection.set_changed();
                }
                if let Ok((mut cam, mut transform, mut projection)) = overview.single_mut() {
                    let (w, h) = (region.size.0 as f32, region.size.1 as f32);
                    // The region's shape: the longest side gets `overview_px` pixels.
                    let size = overview_size(region.size, capture.settings.overview_px);
                    if let Some(mut image) = images.get_mut(&capture.overview_target)
                        && (image.width(), image.height()) != size
                    {
                        image.resize(bevy::render::render_resource::Extent3d {
                            width: size.0,
                            height: size.1,
                            depth_or_array_layers: 1,
                        });
                    }
                    cam.is_active = true;
                    *transform = Transform::from_xyz(w / 2.0, 2000.0, -h / 2.0)
                        .looking_to(Vec3::NEG_Y, Vec3::NEG_Z);
                    *projection = Projection::Orthographic(OrthographicProjection {
                        scaling_mode: ScalingMode::Fixed {
                            width: w,
                            height: h,
                        },
                        far: 4000.0,
                        ..OrthographicProjection::default_3d()
                    });
                }
                capture.stage = Stage::Settling(capture.settings.settle_frames);
            }
        }
        Stage::Settling(0) if pending.0.load(Ordering::Relaxed) > 0 => {
            // Keep rendering until every pipeline is compiled.
        }
        Stage::Settling(0) => {
            for (view, target) in [
                (View::Avatar, &capture.avatar_target),
                (View::Overview, &capture.overview_target),
            ] {
                if frames.get(view).is_none() {
                    shoot(&mut commands, target.clone(), view);
                }
            }
            capture.stage = Stage::Shooting;
        }
        Stage::Settling(n) => capture.stage = Stage::Settling(n - 1),
        Stage::Shooting => {
            if frames.get(View::Avatar).is_some() && frames.get(View::Overview).is_some() {
                let mut retake = false;
                for view in [View::Avatar, View::Overview] {
                    retake |= retake_if_blank(&mut frames, view, &mut capture.retakes);
                }
                capture.stage = if retake {
                    Stage::Settling(RETAKE_FRAMES)
                } else {
                    // Frames still rendered while logging out cost seconds on lavapipe.
                    for (mut cam, _) in &mut avatar_cam {
                        cam.is_active = false;
                    }
                    if let Ok((mut cam, _, _)) = overview.single_mut() {
                        cam.is_active = false;
                    }
                    Stage::Done
                };
            }
        }
        Stage::Done => {
            exit.write(AppExit::Success);
        }
    }
}

/// Frames rendered before another try when a capture came back blank.
const RETAKE_FRAMES: u32 = 5;
/// Blank captures tolerated (all views together) before a blank frame is kept.
const MAX_RETAKES: u32 = 40;

/// A view's first frames can come back as the clear colour alone: the render world compiles
/// the pipelines for a newly active camera in the background (seconds on lavapipe) and draws
/// nothing with them until they are ready. Drops such a frame so it is taken again.
fn retake_if_blank(frames: &mut CapturedFrames, view: View, retakes: &mut u32) -> bool {
    let blank = frames.get(view).is_some_and(Frame::is_blank);
    if blank && *retakes < MAX_RETAKES {
        *retakes += 1;
        frames.frames.retain(|f| f.view != view);
        true
    } else {
        false
    }
}

fn shoot(commands: &mut Commands, target: Handle<Image>, view: View) {
    commands.spawn(Screenshot::image(target)).observe(
        move |captured: On<ScreenshotCaptured>, mut frames: ResMut<CapturedFrames>| {
            let image = &captured.image;
            let (width, height) = (image.width(), image.height());
            // The targets are RGBA8 already: take the bytes as they are (a per-pixel
            // conversion costs seconds in a debug build).
            if image.texture_descriptor.format == TextureFormat::Rgba8UnormSrgb
                && let Some(data) = &image.data
                && data.len() == width as usize * height as usize * 4
            {
                frames.frames.push(Frame {
                    view,
                    width,
                    height,
                    rgba: data.clone(),
                });
                return;
            }
            match image.clone().try_into_dynamic() {
                Ok(img) => frames.frames.push(Frame {
                    view,
                    width,
                    height,
                    rgba: img.to_rgba8().into_raw(),
                }),
                Err(e) => error!("cannot read the captured frame: {e}"),
            }
        },
    );
}

impl Frame {
    /// Writes the frame as an 8-bit RGBA PNG.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_png(&self, path: &std::path::Path) -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut encoder = png::Encoder::new(file, self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&self.rgba)
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_keeps_the_regions_shape() {
        assert_eq!(overview_size((256, 256), 768), (768, 768));
        assert_eq!(overview_size((512, 256), 768), (768, 384));
        assert_eq!(overview_size((256, 4096), 768), (48, 768));
        assert_eq!(overview_size((0, 0), 768), (1, 1));
    }

    #[test]
    fn objects_settle_only_after_terrain_and_a_quiet_spell() {
        let t0 = std::time::Instant::now();
        let ms = Duration::from_millis;
        let settle = ms(1000);
        // No terrain yet: never settled, however quiet.
        let mut quiet = ObjectsQuiet {
            last_new: Some(t0),
            ..ObjectsQuiet::default()
        };
        assert!(!quiet.settled(settle, t0 + ms(5000)));
        // Terrain done after the last new id: counted from the terrain.
        quiet.terrain_done = Some(t0 + ms(500));
        assert!(!quiet.settled(settle, t0 + ms(1400)));
        assert!(quiet.settled(settle, t0 + ms(1500)));
        // A new id later restarts the wait.
        quiet.last_new = Some(t0 + ms(1200));
        assert!(!quiet.settled(settle, t0 + ms(2100)));
        assert!(quiet.settled(settle, t0 + ms(2200)));
    }
}
