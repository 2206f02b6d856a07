//! `CameraPlugin`: SL's chase camera. On `AgentMovementComplete` the camera goes behind the
//! avatar along that message's look-at (not the login reply's, which is stale, PROTOCOL §8) and
//! then follows it smoothly; the mouse orbits (left drag) and zooms (wheel), Escape resets it.
//! Arrow keys / WASD (plus E/C for up/down and F to fly) send `AgentUpdate` controls so the
//! avatar walks.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;

use crate::net::NetCommand;
use crate::net::plugin::{NetSystems, Outgoing, RegionMessage};
use crate::scene::{RegionInfo, RegionSystems, impossible_agent_place, sl_to_bevy};
use overlook_protocol::message::Message;
use overlook_protocol::message::agent::control_flags as cf;

/// SL's default rear-view camera offset from the avatar, in the avatar's frame (forward, left,
/// up): `CameraOffsetRearView` = <−3, 0, 0.75>.
pub const CHASE_EYE_OFFSET: Vec3 = Vec3::new(-3.0, 0.0, 0.75);
/// SL's default focus offset (`FocusOffsetRearView` = <1, 0, 1>).
pub const CHASE_FOCUS_OFFSET: Vec3 = Vec3::new(1.0, 0.0, 1.0);

/// Where the agent's avatar is, in Bevy coordinates, and which way it faces.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Default)]
pub struct AgentPose {
    /// Position (the avatar's centre).
    pub position: Vec3,
    /// Heading: the angle of its forward direction about +Y, 0 = facing +X (SL east).
    pub heading: f32,
    /// False until `AgentMovementComplete` placed the avatar.
    pub placed: bool,
}

impl AgentPose {
    /// The heading of an SL look-at direction (only its horizontal part counts).
    pub fn heading_of(look_at_bevy: Vec3) -> f32 {
        if look_at_bevy.x == 0.0 && look_at_bevy.z == 0.0 {
            0.0
        } else {
            // Bevy's forward for heading h is (cos h, 0, −sin h): SL north (−Z) is h = 90°.
            (-look_at_bevy.z).atan2(look_at_bevy.x)
        }
    }

    /// The unit forward vector of a heading.
    pub fn forward(heading: f32) -> Vec3 {
        Vec3::new(heading.cos(), 0.0, -heading.sin())
    }
}

/// The chase camera's user adjustments, relative to SL's default placement.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct ChaseCamera {
    /// Extra yaw around the avatar, radians (mouse orbit).
    pub yaw: f32,
    /// Extra pitch, radians (mouse orbit; positive looks down from higher up).
    pub pitch: f32,
    /// Zoom factor on the eye's distance from the focus (wheel).
    pub zoom: f32,
    /// How fast the camera catches up, per second (exponential decay rate).
    pub follow_rate: f32,
}

impl Default for ChaseCamera {
    fn default() -> Self {
        ChaseCamera {
            yaw: 0.0,
            pitch: 0.0,
            zoom: 1.0,
            follow_rate: 8.0,
        }
    }
}

impl ChaseCamera {
    /// The eye position and focus point for an avatar pose, in Bevy coordinates.
    pub fn placement(&self, pose: &AgentPose) -> (Vec3, Vec3) {
        let forward = AgentPose::forward(pose.heading);
        let up = Vec3::Y;
        let left = up.cross(forward);
        let local = |v: Vec3| forward * v.x + left * v.y + up * v.z;
        let focus = pose.position + local(CHASE_FOCUS_OFFSET);
        let arm = local(CHASE_EYE_OFFSET - CHASE_FOCUS_OFFSET) * self.zoom;
        let orbit = Quat::from_axis_angle(up, self.yaw) * Quat::from_axis_angle(left, self.pitch);
        (focus + orbit * arm, focus)
    }
}

/// System sets of the camera plugin.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum CameraSystems {
    /// `Update`: input turns into orbit, zoom and avatar controls.
    Input,
    /// `PostUpdate` (before transforms propagate): the camera moves towards its placement.
    Follow,
}

/// Whether keyboard and mouse belong to the 3D view (false while the UI uses them).
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewInput {
    /// Keys drive the avatar and camera.
    pub keyboard: bool,
    /// The mouse orbits and zooms.
    pub pointer: bool,
}

impl Default for ViewInput {
    fn default() -> Self {
        ViewInput {
            keyboard: true,
            pointer: true,
        }
    }
}

/// The chase camera and avatar controls.
#[derive(Debug, Default)]
pub struct CameraPlugin;

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        // What it sends goes through the net plugin's Outgoing (registered here too, so the
        // camera runs without a network thread, as in its tests).
        app.add_message::<Outgoing>()
            .init_resource::<AgentPose>()
            .init_resource::<ViewInput>()
            .init_resource::<SentControls>()
            .add_systems(
                PreUpdate,
                place_agent_on_movement_complete
                    .after(NetSystems::Receive)
                    .after(RegionSystems::Apply),
            )
            .add_systems(
                Update,
                (orbit_and_zoom, send_controls).in_set(CameraSystems::Input),
            )
            .add_systems(
                PostUpdate,
                follow_agent
                    .in_set(CameraSystems::Follow)
                    .before(TransformSystems::Propagate),
            );
    }
}

/// `AgentMovementComplete` places the avatar and resets the camera behind it.
pub fn place_agent_on_movement_complete(
    mut messages: MessageReader<RegionMessage>,
    mut pose: ResMut<AgentPose>,
    mut cameras: Query<(&mut ChaseCamera, &mut Transform)>,
    region: Option<Res<RegionInfo>>,
) {
    let size = region.map_or(RegionInfo::default().size, |r| r.size);
    for RegionMessage(message) in messages.read() {
        // An impossible place is ignored (and reported by the region plugin): the camera stays
        // at the last good one.
        if let Message::AgentMovementComplete(m) = &**message
            && impossible_agent_place(m.position, m.look_at, size).is_none()
        {
            *pose = AgentPose {
                position: Vec3::from_array(sl_to_bevy(m.position)),
                heading: AgentPose::heading_of(Vec3::from_array(sl_to_bevy(m.look_at))),
                placed: true,
            };
            for (mut chase, mut transform) in &mut cameras {
                *chase = ChaseCamera {
                    follow_rate: chase.follow_rate,
                    ..ChaseCamera::default()
                };
                // Jump there: a camera gliding in from the old spot would show nothing useful.
                let (eye, focus) = chase.placement(&pose);
                *transform = Transform::from_translation(eye).looking_at(focus, Vec3::Y);
            }
        }
    }
}

/// Left drag orbits, the wheel zooms, Escape resets.
fn orbit_and_zoom(
    input: Res<ViewInput>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    mut cameras: Query<&mut ChaseCamera>,
) {
    for mut chase in &mut cameras {
        if input.keyboard && keys.just_pressed(KeyCode::Escape) {
            *chase = ChaseCamera {
                follow_rate: chase.follow_rate,
                ..ChaseCamera::default()
            };
        }
        if !input.pointer {
            continue;
        }
        if buttons.pressed(MouseButton::Left) && motion.delta != Vec2::ZERO {
            chase.yaw -= motion.delta.x * 0.005;
            chase.pitch = (chase.pitch + motion.delta.y * 0.005).clamp(-1.2, 1.4);
        }
        if scroll.delta.y != 0.0 {
            chase.zoom = (chase.zoom * (1.0 - scroll.delta.y * 0.1)).clamp(0.25, 100.0);
        }
    }
}

/// The control flags last sent.
#[derive(Resource, Debug, Default)]
struct SentControls(u32);

/// The `AgentUpdate` control flags for the keys held down (`fly` toggled with F).
pub fn control_flags_for(keys: &ButtonInput<KeyCode>, fly: bool) -> u32 {
    let held = |codes: &[KeyCode]| codes.iter().any(|k| keys.pressed(*k));
    let mut flags = 0;
    if held(&[KeyCode::KeyW, KeyCode::ArrowUp]) {
        flags |= cf::AT_POS;
    }
    if held(&[KeyCode::KeyS, KeyCode::ArrowDown]) {
        flags |= cf::AT_NEG;
    }
    if held(&[KeyCode::KeyA, KeyCode::ArrowLeft]) {
        flags |= cf::TURN_LEFT | cf::YAW_POS;
    }
    if held(&[KeyCode::KeyD, KeyCode::ArrowRight]) {
        flags |= cf::TURN_RIGHT | cf::YAW_NEG;
    }
    if held(&[KeyCode::KeyE, KeyCode::PageUp]) {
        flags |= cf::UP_POS;
    }
    if held(&[KeyCode::KeyC, KeyCode::PageDown]) {
        flags |= cf::UP_NEG;
    }
    if fly {
        flags |= cf::FLY;
    }
    flags
}

fn send_controls(
    input: Res<ViewInput>,
    keys: Res<ButtonInput<KeyCode>>,
    mut outgoing: MessageWriter<Outgoing>,
    mut sent: ResMut<SentControls>,
    mut fly: Local<bool>,
) {
    let flags = if input.keyboard {
        if keys.just_pressed(KeyCode::KeyF) {
            *fly = !*fly;
        }
        control_flags_for(&keys, *fly)
    } else {
        // Typing in the UI must not leave the avatar walking.
        u32::from(*fly) * cf::FLY
    };
    if flags != sent.0 {
        sent.0 = flags;
        outgoing.write(Outgoing(NetCommand::Controls(flags)));
    }
}

/// Moves the camera smoothly towards its chase placement.
pub fn follow_agent(
    time: Res<Time>,
    pose: Res<AgentPose>,
    mut cameras: Query<(&ChaseCamera, &mut Transform)>,
) {
    if !pose.placed {
        return;
    }
    let dt = time.delta_secs();
    for (chase, mut transform) in &mut cameras {
        let (eye, focus) = chase.placement(&pose);
        transform
            .translation
            .smooth_nudge(&eye, chase.follow_rate, dt);
        let target = Transform::from_translation(transform.translation).looking_at(focus, Vec3::Y);
        transform
            .rotation
            .smooth_nudge(&target.rotation, chase.follow_rate, dt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::plugin::SessionStarted;
    use overlook_protocol::message::circuit::AgentIds;
    use overlook_protocol::message::region::AgentMovementComplete;
    use overlook_protocol::types::{Uuid, Vec3 as SlVec3};

    fn movement(look_at: SlVec3) -> RegionMessage {
        movement_to(SlVec3::new(128.0, 128.0, 26.03), look_at)
    }

    fn movement_to(position: SlVec3, look_at: SlVec3) -> RegionMessage {
        RegionMessage(Box::new(Message::AgentMovementComplete(
            AgentMovementComplete {
                agent: AgentIds {
                    agent_id: Uuid::NIL,
                    session_id: Uuid::NIL,
                },
                position,
                look_at,
                region_handle: 0,
                timestamp: 0,
                channel_version: String::new(),
            },
        )))
    }

    fn app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<ButtonInput<KeyCode>>()
            .init_resource::<ButtonInput<MouseButton>>()
            .init_resource::<AccumulatedMouseMotion>()
            .init_resource::<AccumulatedMouseScroll>()
            .add_message::<RegionMessage>()
            .add_message::<SessionStarted>()
            .configure_sets(PreUpdate, NetSystems::Receive)
            .add_plugins(CameraPlugin);
        app.world_mut()
            .spawn((ChaseCamera::default(), Transform::default()));
        app
    }

    #[test]
    fn movement_complete_puts_the_camera_behind_the_avatar_along_its_look_at() {
        let mut app = app();
        // The story's look-at: nearly east.
        app.world_mut()
            .write_message(movement(SlVec3::new(0.99, 0.042, 0.0)));
        app.update();
        let pose = *app.world().resource::<AgentPose>();
        assert!(pose.placed);
        assert_eq!(pose.position, Vec3::new(128.0, 26.03, -128.0));
        let expected = 0.042f32.atan2(0.99);
        assert!((pose.heading - expected).abs() < 1e-5, "{}", pose.heading);
        let mut q = app.world_mut().query::<&Transform>();
        let t = q.single(app.world()).unwrap();
        // 3 m behind (west of) the avatar, 0.75 m up, looking east (+X) and a little up.
        let behind = pose.position - t.translation;
        assert!(
            (behind.x - 2.997).abs() < 0.02 && behind.y < 0.0,
            "{behind}"
        );
        assert!((t.translation.y - (26.03 + 0.75)).abs() < 1e-3);
        let view = t.forward();
        assert!(view.x > 0.95, "{view}");
    }

    #[test]
    fn a_north_look_at_faces_minus_z() {
        let mut app = app();
        app.world_mut()
            .write_message(movement(SlVec3::new(0.0, 1.0, 0.0)));
        app.update();
        let mut q = app.world_mut().query::<&Transform>();
        let t = q.single(app.world()).unwrap();
        assert!(t.forward().z < -0.95, "{}", t.forward());
    }

    #[test]
    fn keys_map_to_control_flags() {
        let mut keys = ButtonInput::<KeyCode>::default();
        assert_eq!(control_flags_for(&keys, false), 0);
        keys.press(KeyCode::KeyW);
        keys.press(KeyCode::ArrowLeft);
        assert_eq!(
            control_flags_for(&keys, true),
            cf::AT_POS | cf::TURN_LEFT | cf::YAW_POS | cf::FLY
        );
    }

    #[test]
    fn an_impossible_movement_complete_leaves_the_camera_where_it_was() {
        let mut app = app();
        app.world_mut()
            .write_message(movement(SlVec3::new(0.99, 0.042, 0.0)));
        app.update();
        let pose = *app.world().resource::<AgentPose>();
        let mut q = app.world_mut().query::<&Transform>();
        let before = *q.single(app.world()).unwrap();
        for (position, look_at) in [
            (
                SlVec3::new(f32::NAN, 128.0, 26.0),
                SlVec3::new(1.0, 0.0, 0.0),
            ),
            (SlVec3::new(128.0, 128.0, 1e30), SlVec3::new(1.0, 0.0, 0.0)),
            (
                SlVec3::new(128.0, 128.0, 26.0),
                SlVec3::new(f32::INFINITY, 0.0, 0.0),
            ),
        ] {
            app.world_mut()
                .write_message(movement_to(position, look_at));
            app.update();
            assert_eq!(*app.world().resource::<AgentPose>(), pose, "{position:?}");
            let mut q = app.world_mut().query::<&Transform>();
            let after = *q.single(app.world()).unwrap();
            assert!(after.translation.is_finite());
            assert!((after.translation - before.translation).length() < 1e-3);
        }
    }
}
