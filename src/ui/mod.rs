//! `UiPlugin` (bevy_egui): the login dialog, a status bar, the connection timeline of the
//! story's phases, region info, a packet inspector (recent datagrams decoded through the message
//! template, filterable by name) and local chat.

mod inspector;
mod panels;

use bevy::camera::CameraOutputMode;
use bevy::camera::visibility::RenderLayers;
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy_egui::input::EguiWantsInput;
use bevy_egui::{EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass, PrimaryEguiContext};

pub use inspector::{PACKET_LOG_LEN, PacketLog, PacketRow};

use crate::camera::ViewInput;
use crate::net::plugin::{DatagramLogged, NetSystems, RegionMessage};
use overlook_protocol::message::Message;

/// The login dialog's fields.
#[derive(Resource, Clone)]
pub struct LoginForm {
    /// Login URI or grid-info URL.
    pub grid: String,
    /// First name.
    pub first: String,
    /// Last name.
    pub last: String,
    /// Password (never logged).
    pub password: String,
    /// Start location string (`last`, `home` or `uri:Region&x&y&z`).
    pub start: String,
}

impl std::fmt::Debug for LoginForm {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("grid", &self.grid)
            .field("first", &self.first)
            .field("last", &self.last)
            .field("password", &"<redacted>")
            .field("start", &self.start)
            .finish()
    }
}

impl Default for LoginForm {
    fn default() -> Self {
        LoginForm {
            grid: String::new(),
            first: String::new(),
            last: String::new(),
            password: String::new(),
            start: "last".into(),
        }
    }
}

impl LoginForm {
    /// The form as login parameters.
    pub fn params(&self) -> crate::net::LoginParams {
        crate::net::LoginParams::new(
            &self.grid,
            &self.first,
            &self.last,
            &self.password,
            &self.start,
        )
    }

    /// A form filled in with `params` (the dialog's first contents).
    pub fn from_params(params: &crate::net::LoginParams) -> Self {
        LoginForm {
            grid: params.grid.clone(),
            first: params.first.clone(),
            last: params.last.clone(),
            password: params.password.clone(),
            start: params.start.to_start_string(),
        }
    }
}

/// Local chat heard and said, newest last.
#[derive(Resource, Debug, Default)]
pub struct ChatLog {
    /// `(speaker, text)` lines.
    pub lines: Vec<(String, String)>,
    /// The line being typed.
    pub draft: String,
}

/// Frames per second, smoothed, for the status bar.
#[derive(Resource, Debug, Default)]
pub struct FrameRate(pub f32);

/// Which panels are open.
#[derive(Resource, Debug, Clone, Copy)]
pub struct UiPanels {
    /// The side panel (timeline, region, inspector, chat).
    pub side: bool,
}

impl Default for UiPanels {
    fn default() -> Self {
        UiPanels { side: true }
    }
}

/// The egui user interface.
#[derive(Debug, Default)]
pub struct UiPlugin {
    /// Pre-filled login form.
    pub form: Option<LoginForm>,
}

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        // The panels get a camera of their own over the whole window, so the 3D camera can
        // render only the part they leave free (`panels::free_viewport`).
        app.world_mut()
            .resource_mut::<EguiGlobalSettings>()
            .auto_create_primary_context = false;
        app.insert_resource(self.form.clone().unwrap_or_default())
            .add_message::<crate::net::plugin::Outgoing>()
            .init_resource::<ChatLog>()
            .init_resource::<PacketLog>()
            .init_resource::<FrameRate>()
            .init_resource::<UiPanels>()
            .add_systems(
                PreUpdate,
                (log_datagrams, collect_chat).after(NetSystems::Receive),
            )
            .add_systems(Startup, spawn_ui_camera)
            .add_systems(Update, (measure_frame_rate, route_input))
            .add_systems(EguiPrimaryContextPass, panels::draw_ui);
    }
}

/// The camera egui draws with: after the 3D view (order 1), over the whole window, drawing no
/// entity; its output is blended over what the 3D camera wrote.
fn spawn_ui_camera(mut commands: Commands) {
    commands.spawn((
        PrimaryEguiContext,
        Camera2d,
        Msaa::Off,
        RenderLayers::none(),
        Camera {
            order: 1,
            // Its own main texture (the 3D camera's may differ in multisampling) starts clear.
            clear_color: ClearColorConfig::Custom(Color::NONE),
            output_mode: CameraOutputMode::Write {
                blend_state: Some(BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            ..default()
        },
    ));
}

fn log_datagrams(mut datagrams: MessageReader<DatagramLogged>, mut log: ResMut<PacketLog>) {
    for d in datagrams.read() {
        log.push(d);
    }
}

fn collect_chat(mut messages: MessageReader<RegionMessage>, mut chat: ResMut<ChatLog>) {
    for RegionMessage(m) in messages.read() {
        if let Message::ChatFromSimulator(c) = &**m
            && !c.message.is_empty()
        {
            chat.lines.push((c.from_name.clone(), c.message.clone()));
        }
    }
}

fn measure_frame_rate(time: Res<Time>, mut fps: ResMut<FrameRate>) {
    let dt = time.delta_secs();
    if dt > 0.0 {
        let now = 1.0 / dt;
        fps.0 = if fps.0 == 0.0 {
            now
        } else {
            fps.0 * 0.95 + now * 0.05
        };
    }
}

/// Keys and mouse go to the 3D view only when egui does not want them.
fn route_input(wants: Option<Res<EguiWantsInput>>, mut input: ResMut<ViewInput>) {
    let (keyboard, pointer) = wants.map_or((true, true), |w| {
        (!w.wants_any_keyboard_input(), !w.wants_any_pointer_input())
    });
    input.set_if_neq(ViewInput { keyboard, pointer });
}
