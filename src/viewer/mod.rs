//! The desktop viewer: the Bevy app and its plugin group.
//!
//! [`ViewerPlugins`] holds one plugin per concern, talking through Messages and resources: the
//! net plugin (network thread ↔ ECS), the region, camera and UI plugins (and the terrain and
//! objects plugins as they land). [`app`] builds the windowed app.

// The headless capture (`check`, the rendered-frame tests) drives frames itself: desktop only.
#[cfg(not(target_arch = "wasm32"))]
pub mod capture;
pub mod frame_stats;

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;

use crate::camera::{CameraPlugin, ChaseCamera};
use crate::net::plugin::NetPlugin;
use crate::net::{LoginParams, NetSettings};
use crate::objects::plugin::ObjectsPlugin;
use crate::scene::RegionPlugin;
use crate::terrain::TerrainPlugin;
use crate::ui::{LoginForm, UiPlugin};

/// What the viewer starts with.
#[derive(Debug, Clone, Default)]
pub struct ViewerOptions {
    /// Where to log in: the login dialog's first contents, and what [`Self::auto_login`] uses.
    pub login: Option<LoginParams>,
    /// Log in with [`Self::login`] at once instead of waiting for the dialog (the embedded
    /// region, or a grid with a password given).
    pub auto_login: bool,
    /// Measure frame times for this long once the scene is complete, print them and exit.
    pub frame_stats: Option<std::time::Duration>,
    /// Record the session's datagrams to this `NAME.udp.jsonl` (`--record`).
    pub record: Option<std::path::PathBuf>,
    /// Play a recording instead of logging in.
    pub replay: Option<crate::net::replay::ReplaySource>,
    /// The texture disk cache directory (`None`: no cache, `--no-cache`).
    pub texture_cache: Option<std::path::PathBuf>,
}

impl ViewerOptions {
    /// The network plugin these options ask for: its auto-login, recording and replay.
    pub fn net_plugin(&self) -> NetPlugin {
        NetPlugin {
            auto_login: self.login.clone().filter(|_| self.auto_login),
            settings: NetSettings {
                record: self.record.clone(),
                texture_cache: self.texture_cache.clone(),
                ..NetSettings::default()
            },
            replay: self.replay.clone(),
        }
    }
}

/// The viewer's plugins (add `DefaultPlugins` or a headless equivalent first).
#[derive(Debug, Default)]
pub struct ViewerPlugins {
    /// Start-up options.
    pub options: ViewerOptions,
}

impl PluginGroup for ViewerPlugins {
    fn build(self) -> PluginGroupBuilder {
        PluginGroupBuilder::start::<Self>()
            .add(self.options.net_plugin())
            .add(RegionPlugin)
            .add(TerrainPlugin)
            .add(ObjectsPlugin)
            .add(crate::assets::AssetsPlugin)
            .add(crate::shapes::ShapesPlugin)
            .add(CameraPlugin)
            .add(ScenePlugin { spawn_camera: true })
            .add(UiPlugin {
                form: self.options.login.as_ref().map(LoginForm::from_params),
            })
    }
}

/// Sky, sun and (for the windowed viewer) the camera entity.
#[derive(Debug, Default)]
pub struct ScenePlugin {
    /// Spawn the chase camera rendering to the window.
    pub spawn_camera: bool,
}

/// SL's default sky at noon, roughly.
pub const SKY_COLOR: Color = Color::srgb(0.53, 0.70, 0.92);

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        // The sun and the sky light are `SceneLighting`'s defaults.
        app.add_plugins(crate::scene::SceneMaterialPlugin)
            .insert_resource(ClearColor(SKY_COLOR))
            .init_resource::<RenderPreset>()
            .add_systems(Update, apply_render_preset);
        if self.spawn_camera {
            app.add_systems(Startup, spawn_camera);
        }
    }
}

/// A camera that draws the scene: `Camera3d` without tonemapping. The scene's shader writes
/// display colours (flat colours under one sun, exposed as before), so there is nothing to
/// tone-map, and no lookup tables are built or shipped for it.
pub fn scene_camera() -> impl Bundle {
    (
        Camera3d::default(),
        bevy::core_pipeline::tonemapping::Tonemapping::None,
    )
}

fn spawn_camera(mut commands: Commands) {
    // Until AgentMovementComplete arrives: over the middle of a 256 m region, looking east.
    commands.spawn((
        scene_camera(),
        ChaseCamera::default(),
        Transform::from_xyz(100.0, 60.0, -128.0)
            .looking_at(Vec3::new(140.0, 20.0, -128.0), Vec3::Y),
    ));
}

/// Rendering settings chosen from the adapter: on a software renderer (Mesa's lavapipe, no GPU)
/// multisampling is switched off, the light preset.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderPreset {
    /// The adapter is a CPU (software) renderer.
    pub software: bool,
    /// Whether the preset has been decided (the adapter is known once rendering started).
    pub decided: bool,
}

fn apply_render_preset(
    mut commands: Commands,
    adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>,
    mut preset: ResMut<RenderPreset>,
    cameras: Query<Entity, Added<Camera3d>>,
    all_cameras: Query<Entity, With<Camera3d>>,
) {
    if !preset.decided {
        let Some(adapter) = adapter else { return };
        // wgpu's `DeviceType` is not re-exported by Bevy; its variant name is stable.
        preset.software = format!("{:?}", adapter.device_type) == "Cpu";
        preset.decided = true;
        if preset.software {
            info!(
                "software renderer ({}): the light preset, without multisampling",
                adapter.name
            );
        }
        for camera in &all_cameras {
            set_preset(&mut commands, camera, *preset);
        }
    } else {
        for camera in &cameras {
            set_preset(&mut commands, camera, *preset);
        }
    }
}

fn set_preset(commands: &mut Commands, camera: Entity, preset: RenderPreset) {
    if preset.software {
        commands.entity(camera).insert(Msaa::Off);
    }
}

/// The viewer's window: 1280×720 on the desktop; in a page, its canvas (`#overlook-canvas`),
/// sized to the page, keeping the browser's own keys (reload, devtools) working.
fn window() -> Window {
    Window {
        title: "Overlook".into(),
        #[cfg(not(target_arch = "wasm32"))]
        resolution: (1280, 720).into(),
        #[cfg(target_arch = "wasm32")]
        canvas: Some("#overlook-canvas".into()),
        #[cfg(target_arch = "wasm32")]
        fit_canvas_to_parent: true,
        #[cfg(target_arch = "wasm32")]
        prevent_default_event_handling: false,
        ..default()
    }
}

/// The windowed viewer app.
pub fn app(options: ViewerOptions) -> App {
    let mut app = App::new();
    let plugins = DefaultPlugins.set(WindowPlugin {
        primary_window: Some(window()),
        ..default()
    });
    // Rendering on the main thread, after the frame's update: a scene this small has little CPU
    // work to overlap, and without the render thread the viewer holds 6 MB less (its arena and
    // extraction copies) and shows input a frame sooner. Frame time on lavapipe unchanged
    // (BENCHMARKS.md). (A page has one thread and no render thread to disable.)
    #[cfg(not(target_arch = "wasm32"))]
    let plugins = plugins.disable::<bevy::render::pipelined_rendering::PipelinedRenderingPlugin>();
    app.add_plugins(plugins).add_plugins(ViewerPlugins {
        options: options.clone(),
    });
    if let Some(duration) = options.frame_stats {
        app.add_plugins(frame_stats::FrameStatsPlugin { duration });
    }
    app
}
