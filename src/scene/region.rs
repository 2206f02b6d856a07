//! `RegionPlugin`: the [`RegionInfo`] resource, from the login reply (size, origin) and
//! `RegionHandshake` (name, flags, water, terrain corners and textures); `AgentMovementComplete`
//! places the agent. The circuit answers the handshake itself.

use bevy::prelude::*;

use crate::net::plugin::{NetSystems, RegionMessage, SessionStarted};
use overlook_protocol::message::Message;
use overlook_protocol::message::region::RegionHandshake;
use overlook_protocol::types::{Uuid, Vec3 as SlVec3};

/// What is known about the region the agent is in.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct RegionInfo {
    /// Region name (from the handshake; empty before it).
    pub name: String,
    /// `RegionFlags`.
    pub flags: u32,
    /// `SimAccess` maturity byte.
    pub sim_access: u8,
    /// Water height, metres.
    pub water_height: f32,
    /// `TerrainStartHeight00, 01, 10, 11`.
    pub terrain_start_height: [f32; 4],
    /// `TerrainHeightRange00, 01, 10, 11`.
    pub terrain_height_range: [f32; 4],
    /// `TerrainDetail0..3` texture ids.
    pub terrain_detail: [Uuid; 4],
    /// Width and depth in metres (login reply).
    pub size: (u32, u32),
    /// The region's south-west corner in world metres (login reply).
    pub origin: (u32, u32),
    /// Whether the handshake has arrived.
    pub handshake_received: bool,
    /// The agent's position from `AgentMovementComplete`, region metres (SL axes).
    pub agent_position: Option<SlVec3>,
    /// The agent's look-at from `AgentMovementComplete` (SL axes).
    pub agent_look_at: Option<SlVec3>,
    /// Our agent id (login reply).
    pub agent_id: Uuid,
    /// Impossible values the region sent (a non-finite place or water height), which were
    /// ignored: the last good value stays.
    pub problems: Vec<String>,
}

/// Why an `AgentMovementComplete` place cannot be real (the bounds of a root object,
/// [`impossible_placement`](crate::objects::state::impossible_placement)), or `None`.
pub fn impossible_agent_place(
    position: SlVec3,
    look_at: SlVec3,
    size: (u32, u32),
) -> Option<String> {
    if let Some(why) = crate::objects::state::impossible_placement(
        0,
        position,
        overlook_protocol::types::Quat::default(),
        None,
        size,
    ) {
        return Some(why);
    }
    (!(look_at.x.is_finite() && look_at.y.is_finite() && look_at.z.is_finite())).then(|| {
        format!(
            "look-at <{}, {}, {}> is not finite",
            look_at.x, look_at.y, look_at.z
        )
    })
}

/// OpenSim's water height bounds, metres (`Constants.MinWaterHeight`, `MaxWaterHeight`).
pub const WATER_HEIGHTS: core::ops::RangeInclusive<f32> = 0.0..=8000.0;

impl Default for RegionInfo {
    fn default() -> Self {
        RegionInfo {
            name: String::new(),
            flags: 0,
            sim_access: 0,
            water_height: 20.0,
            terrain_start_height: [10.0; 4],
            terrain_height_range: [60.0; 4],
            terrain_detail: [Uuid::NIL; 4],
            size: (256, 256),
            origin: (0, 0),
            handshake_received: false,
            agent_position: None,
            agent_look_at: None,
            agent_id: Uuid::NIL,
            problems: Vec::new(),
        }
    }
}

impl RegionInfo {
    /// Applies a `RegionHandshake`.
    pub fn apply_handshake(&mut self, h: &RegionHandshake) {
        self.name.clone_from(&h.sim_name);
        self.flags = h.region_flags;
        self.sim_access = h.sim_access;
        self.water_height = h.water_height;
        self.terrain_start_height = h.terrain_start_height;
        self.terrain_height_range = h.terrain_height_range;
        self.terrain_detail = h.terrain_detail;
        self.handshake_received = true;
    }
}

/// What has arrived of the region so far, for the status bar and `check`: written by the terrain
/// and objects plugins.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SceneCounts {
    /// Distinct land patches received.
    pub patches_received: usize,
    /// Land patches the region has (from its size).
    pub patches_total: usize,
    /// Repeated land patches.
    pub patches_duplicated: usize,
    /// Objects present (avatars included).
    pub objects: usize,
    /// Avatars present.
    pub avatars: usize,
}

/// System sets of the region plugin.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegionSystems {
    /// `PreUpdate`, after [`NetSystems::Receive`]: the frame's messages update [`RegionInfo`].
    /// Systems that read it for the same frame's messages (terrain colouring by the region's
    /// origin, placing objects) run after this set.
    Apply,
}

/// Keeps [`RegionInfo`] up to date.
#[derive(Debug, Default)]
pub struct RegionPlugin;

impl Plugin for RegionPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<RegionInfo>()
            .init_resource::<SceneCounts>()
            .configure_sets(PreUpdate, RegionSystems::Apply.after(NetSystems::Receive))
            .add_systems(
                PreUpdate,
                apply_region_messages.in_set(RegionSystems::Apply),
            );
    }
}

/// A new session resets the region; the handshake and movement fill it in.
pub fn apply_region_messages(
    mut started: MessageReader<SessionStarted>,
    mut messages: MessageReader<RegionMessage>,
    mut region: ResMut<RegionInfo>,
) {
    for SessionStarted(login) in started.read() {
        *region = RegionInfo {
            size: (login.region_size_x, login.region_size_y),
            origin: (login.region_x, login.region_y),
            agent_id: login.agent_id,
            ..RegionInfo::default()
        };
    }
    for RegionMessage(message) in messages.read() {
        match &**message {
            Message::RegionHandshake(h) => {
                let water = region.water_height;
                region.apply_handshake(h);
                if !WATER_HEIGHTS.contains(&h.water_height) {
                    region.water_height = water;
                    region.problems.push(format!(
                        "RegionHandshake: water height {} is outside OpenSim's {}..{} m; ignored",
                        h.water_height,
                        WATER_HEIGHTS.start(),
                        WATER_HEIGHTS.end()
                    ));
                }
            }
            Message::AgentMovementComplete(m) => {
                if let Some(why) = impossible_agent_place(m.position, m.look_at, region.size) {
                    region.problems.push(format!(
                        "AgentMovementComplete: {why}; the avatar stays at its last good place"
                    ));
                } else {
                    region.agent_position = Some(m.position);
                    region.agent_look_at = Some(m.look_at);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::plugin::SessionStarted;
    use overlook_protocol::login::LoginSuccess;
    use overlook_protocol::message::circuit::AgentIds;
    use overlook_protocol::message::region::AgentMovementComplete;

    fn app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_message::<RegionMessage>()
            .add_message::<SessionStarted>()
            .add_plugins(RegionPlugin);
        app
    }

    fn login() -> LoginSuccess {
        let xml = overlook_testdata::read_bytes("var-region.login-response.xml");
        match overlook_protocol::login::parse_login_response(&xml).unwrap() {
            overlook_protocol::login::LoginReply::Success(s) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn applies_the_login_reply_handshake_and_movement() {
        let mut app = app();
        let login = login();
        app.world_mut()
            .write_message(SessionStarted(Box::new(login.clone())));
        let handshake = RegionHandshake {
            region_flags: 0x1234,
            sim_access: 13,
            sim_name: "Var Region".into(),
            sim_owner: Uuid::NIL,
            is_estate_manager: false,
            water_height: 21.5,
            billable_factor: 1.0,
            cache_id: Uuid::NIL,
            terrain_base: [Uuid::NIL; 4],
            terrain_detail: [Uuid([7; 16]); 4],
            terrain_start_height: [10.0, 11.0, 12.0, 13.0],
            terrain_height_range: [60.0, 61.0, 62.0, 63.0],
            region_id: Uuid::NIL,
            cpu_class_id: 0,
            cpu_ratio: 0,
            colo_name: String::new(),
            product_sku: String::new(),
            product_name: String::new(),
            region_info4: Vec::new(),
        };
        app.world_mut()
            .write_message(RegionMessage(Box::new(Message::RegionHandshake(handshake))));
        app.world_mut()
            .write_message(RegionMessage(Box::new(Message::AgentMovementComplete(
                AgentMovementComplete {
                    agent: AgentIds {
                        agent_id: login.agent_id,
                        session_id: login.session_id,
                    },
                    position: SlVec3::new(128.0, 128.0, 26.03),
                    look_at: SlVec3::new(0.99, 0.042, 0.0),
                    region_handle: login.region_handle(),
                    timestamp: 0,
                    channel_version: String::new(),
                },
            ))));
        app.update();
        let r = app.world().resource::<RegionInfo>();
        assert!(r.handshake_received);
        assert_eq!(r.name, "Var Region");
        assert_eq!(r.flags, 0x1234);
        assert_eq!(r.water_height, 21.5);
        assert_eq!(r.terrain_start_height, [10.0, 11.0, 12.0, 13.0]);
        assert_eq!(r.terrain_height_range[3], 63.0);
        assert_eq!(r.size, (login.region_size_x, login.region_size_y));
        assert_ne!(
            r.size,
            (256, 256),
            "the var-region capture is larger than 256 m"
        );
        assert_eq!(r.agent_position, Some(SlVec3::new(128.0, 128.0, 26.03)));
        assert_eq!(r.agent_look_at, Some(SlVec3::new(0.99, 0.042, 0.0)));
        assert_eq!(r.agent_id, login.agent_id);
    }

    #[test]
    fn impossible_places_and_water_are_reported_and_the_last_good_ones_kept() {
        let mut app = app();
        let login = login();
        app.world_mut()
            .write_message(SessionStarted(Box::new(login.clone())));
        let movement = |position: SlVec3| {
            RegionMessage(Box::new(Message::AgentMovementComplete(
                AgentMovementComplete {
                    agent: AgentIds {
                        agent_id: login.agent_id,
                        session_id: login.session_id,
                    },
                    position,
                    look_at: SlVec3::new(1.0, 0.0, 0.0),
                    region_handle: login.region_handle(),
                    timestamp: 0,
                    channel_version: String::new(),
                },
            )))
        };
        app.world_mut()
            .write_message(movement(SlVec3::new(100.0, 100.0, 30.0)));
        app.update();
        app.world_mut()
            .write_message(movement(SlVec3::new(f32::NAN, 100.0, 30.0)));
        let mut handshake = overlook_protocol::capture::inbound_messages::<RegionHandshake>(
            &overlook_protocol::capture::read_udp_jsonl(&overlook_testdata::session_udp(
                "var-region",
            ))
            .unwrap(),
        )
        .unwrap()
        .remove(0)
        .0;
        handshake.water_height = f32::NAN;
        app.world_mut()
            .write_message(RegionMessage(Box::new(Message::RegionHandshake(handshake))));
        app.update();
        let r = app.world().resource::<RegionInfo>();
        assert_eq!(r.agent_position, Some(SlVec3::new(100.0, 100.0, 30.0)));
        assert_eq!(r.water_height, 20.0, "the default stays");
        assert!(r.handshake_received);
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems[0].starts_with("AgentMovementComplete: position <NaN"));
        assert!(r.problems[1].contains("water height NaN"));
    }
}
