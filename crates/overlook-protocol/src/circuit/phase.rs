//! The phases of the connection story, with their time in milliseconds since the login request
//! was sent. The ids are shared by the UI timeline, `overlook check`'s report and its JUnit cases.

use core::fmt;

/// One step of the connection story (`shared/CONNECTION_STORY.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// The XML-RPC login request was sent (time 0).
    LoginSent,
    /// The login reply arrived.
    LoginReplied,
    /// The region acknowledged `UseCircuitCode`.
    CircuitAcked,
    /// `RegionHandshake` arrived.
    RegionHandshake,
    /// `AgentMovementComplete` placed the avatar.
    MovementComplete,
    /// The first land patch arrived.
    FirstTerrain,
    /// Every land patch of the region's size has arrived.
    TerrainComplete,
    /// The first scene object (not an avatar) arrived.
    FirstObject,
    /// The scene objects stopped arriving (all the region reports, or a quiet spell).
    ObjectsSettled,
    /// Every texture referenced once the objects settled was fetched or failed. The viewer
    /// reaches it (textures come over HTTP); the circuit never does.
    TexturesSettled,
    /// The circuit was closed after `LogoutRequest`.
    Logout,
}

impl Phase {
    /// Every phase in story order.
    pub const ALL: [Phase; 11] = [
        Phase::LoginSent,
        Phase::LoginReplied,
        Phase::CircuitAcked,
        Phase::RegionHandshake,
        Phase::MovementComplete,
        Phase::FirstTerrain,
        Phase::TerrainComplete,
        Phase::FirstObject,
        Phase::ObjectsSettled,
        Phase::TexturesSettled,
        Phase::Logout,
    ];

    /// The phases the circuit itself reaches on a whole story, `login_sent` to
    /// `objects_settled` (not `textures_settled`, which the viewer reaches over HTTP, nor
    /// `logout`).
    pub const CIRCUIT_STORY: [Phase; 9] = {
        let [story @ .., Phase::TexturesSettled, Phase::Logout] = Phase::ALL else {
            unreachable!()
        };
        story
    };

    /// The stable id used in reports and JUnit case names.
    pub fn id(self) -> &'static str {
        match self {
            Phase::LoginSent => "login_sent",
            Phase::LoginReplied => "login_replied",
            Phase::CircuitAcked => "circuit_acked",
            Phase::RegionHandshake => "region_handshake",
            Phase::MovementComplete => "movement_complete",
            Phase::FirstTerrain => "first_terrain",
            Phase::TerrainComplete => "terrain_complete",
            Phase::FirstObject => "first_object",
            Phase::ObjectsSettled => "objects_settled",
            Phase::TexturesSettled => "textures_settled",
            Phase::Logout => "logout",
        }
    }

    /// Looks a phase up by its id.
    pub fn from_id(id: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.id() == id)
    }

    fn index(self) -> usize {
        Phase::ALL.iter().position(|&p| p == self).unwrap_or(0)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// When each phase was reached, in milliseconds since `login_sent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    ms: [Option<u64>; Phase::ALL.len()],
}

impl PhaseTimes {
    /// The time of `phase`, if reached.
    pub fn get(&self, phase: Phase) -> Option<u64> {
        self.ms.get(phase.index()).copied().flatten()
    }

    /// Records `phase` at `ms` unless it was already reached; returns whether it was new.
    pub fn record(&mut self, phase: Phase, ms: u64) -> bool {
        match self.ms.get_mut(phase.index()) {
            Some(slot @ None) => {
                *slot = Some(ms);
                true
            }
            _ => false,
        }
    }

    /// Every reached phase with its time, in story order.
    pub fn iter(&self) -> impl Iterator<Item = (Phase, u64)> + '_ {
        Phase::ALL
            .into_iter()
            .filter_map(|p| self.get(p).map(|ms| (p, ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::from_id(p.id()), Some(p));
        }
        assert_eq!(Phase::LoginSent.id(), "login_sent");
        assert_eq!(Phase::Logout.id(), "logout");
    }

    #[test]
    fn every_phase_can_be_recorded_once() {
        let mut times = PhaseTimes::default();
        for (ms, p) in (0u64..).zip(Phase::ALL) {
            assert!(times.record(p, ms), "{p}");
            assert!(!times.record(p, ms + 100), "{p} twice");
        }
        assert!(
            Phase::ALL
                .into_iter()
                .zip(0u64..)
                .all(|(p, ms)| times.get(p) == Some(ms))
        );
    }

    #[test]
    fn records_first_time_only() {
        let mut t = PhaseTimes::default();
        assert!(t.record(Phase::FirstTerrain, 10));
        assert!(!t.record(Phase::FirstTerrain, 20));
        assert_eq!(t.get(Phase::FirstTerrain), Some(10));
        assert_eq!(t.iter().collect::<Vec<_>>(), [(Phase::FirstTerrain, 10)]);
    }
}
