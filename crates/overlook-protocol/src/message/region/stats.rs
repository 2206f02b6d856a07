//! Region statistics and the mini-map: `SimStats` and `CoarseLocationUpdate`.
//!
//! Layouts follow the message template (`template/message_template.msg`); PROTOCOL §3.13, §3.14
//! and §8 give OpenSim's values. Re-exported from [`super`].
//!
//! Guarantees: `parse` never panics and consumes the whole body or fails; `emit` writes exactly
//! `buffer_len()` bytes or fails; every OpenSim 0.9.2.2 capture re-emits byte for byte.

use crate::message::circuit::{message_repr, read_block, write_block};
use crate::message::codec::{MessageError, MessageRepr, Reader, Writer};
use crate::types::Uuid;
use crate::udp::MessageId;

/// `SimStats` stat ids (OS `OpenSim/Framework/SimStats.cs` `StatsID`; PROTOCOL §3.14).
pub mod stat_id {
    /// Time dilation (1.0 = real time).
    pub const TIME_DILATION: u32 = 0;
    /// Simulator frames per second.
    pub const SIM_FPS: u32 = 1;
    /// Physics frames per second.
    pub const PHYSICS_FPS: u32 = 2;
    /// Agent updates per second.
    pub const AGENT_UPDATES: u32 = 3;
    /// Frame time, ms.
    pub const FRAME_MS: u32 = 4;
    /// Network time, ms.
    pub const NET_MS: u32 = 5;
    /// Other time, ms.
    pub const OTHER_MS: u32 = 6;
    /// Physics time, ms.
    pub const PHYSICS_MS: u32 = 7;
    /// Agent time, ms.
    pub const AGENT_MS: u32 = 8;
    /// Image time, ms.
    pub const IMAGE_MS: u32 = 9;
    /// Script time, ms.
    pub const SCRIPT_MS: u32 = 10;
    /// Total prims.
    pub const TOTAL_PRIMS: u32 = 11;
    /// Active (physical) prims.
    pub const ACTIVE_PRIMS: u32 = 12;
    /// Root agents.
    pub const AGENTS: u32 = 13;
    /// Child agents.
    pub const CHILD_AGENTS: u32 = 14;
    /// Active scripts.
    pub const ACTIVE_SCRIPTS: u32 = 15;
    /// Inbound packets per second.
    pub const IN_PACKETS: u32 = 17;
    /// Outbound packets per second.
    pub const OUT_PACKETS: u32 = 18;
    /// Unacked bytes, KB.
    pub const UNACKED_KB: u32 = 24;
}

/// One `Stat` entry of [`SimStats`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stat {
    /// `StatID`: see [`stat_id`].
    pub id: u32,
    /// `StatValue`.
    pub value: f32,
}

/// Low 140, sim → viewer: region statistics, about every 3 s (PROTOCOL §3.14).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimStats {
    /// `Region.RegionX`: grid units (metres / 256).
    pub region_x: u32,
    /// `Region.RegionY`: grid units (metres / 256).
    pub region_y: u32,
    /// `Region.RegionFlags`.
    pub region_flags: u32,
    /// `Region.ObjectCapacity`: the prim limit.
    pub object_capacity: u32,
    /// `Stat` (Variable).
    pub stats: Vec<Stat>,
    /// `PidStat.PID` (0 from OpenSim).
    pub pid: i32,
    /// `RegionInfo.RegionFlagsExtended` (Variable; OpenSim sends none).
    pub region_flags_extended: Vec<u64>,
}

impl SimStats {
    /// The value of the first stat with this id.
    pub fn stat(&self, id: u32) -> Option<f32> {
        self.stats.iter().find(|s| s.id == id).map(|s| s.value)
    }
}

message_repr! {
    SimStats, "SimStats", MessageId::Low(140), false,
    parse(r) {
        Ok(SimStats {
            region_x: r.u32()?,
            region_y: r.u32()?,
            region_flags: r.u32()?,
            object_capacity: r.u32()?,
            stats: read_block(r, |r| Ok(Stat { id: r.u32()?, value: r.f32()? }))?,
            pid: r.i32()?,
            region_flags_extended: read_block(r, Reader::u64)?,
        })
    }
    emit(self, w) {
        w.u32(self.region_x);
        w.u32(self.region_y);
        w.u32(self.region_flags);
        w.u32(self.object_capacity);
        write_block(w, "Stat", &self.stats, |w, s| {
            w.u32(s.id);
            w.f32(s.value);
        });
        w.i32(self.pid);
        write_block(w, "RegionInfo", &self.region_flags_extended, |w, f| w.u64(*f));
    }
    len(self) { 16 + 1 + 8 * self.stats.len() + 4 + 1 + 8 * self.region_flags_extended.len() }
}

/// One `Location` entry of [`CoarseLocationUpdate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CoarseLocation {
    /// `X`, whole metres; in a var region OpenSim 0.9.2.2 scales it by 256 / region size.
    pub x: u8,
    /// `Y`, whole metres (scaled like `x`).
    pub y: u8,
    /// `Z`: height / 4 (0 when above 1024 m).
    pub z: u8,
}

impl CoarseLocation {
    /// The height in metres (`Z × 4`).
    pub fn height(&self) -> f32 {
        f32::from(self.z) * 4.0
    }
}

/// Medium 6, sim → viewer: rough positions of the avatars in the region, for the mini-map
/// (PROTOCOL §3.13).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CoarseLocationUpdate {
    /// `Location` (Variable), parallel to [`Self::agent_ids`].
    pub locations: Vec<CoarseLocation>,
    /// `Index.You`: our own entry, or −1.
    pub you: i16,
    /// `Index.Prey`: −1.
    pub prey: i16,
    /// `AgentData.AgentID` (Variable), parallel to [`Self::locations`].
    pub agent_ids: Vec<Uuid>,
}

message_repr! {
    CoarseLocationUpdate, "CoarseLocationUpdate", MessageId::Medium(6), false,
    parse(r) {
        Ok(CoarseLocationUpdate {
            locations: read_block(r, |r| {
                Ok(CoarseLocation { x: r.u8()?, y: r.u8()?, z: r.u8()? })
            })?,
            you: r.i16()?,
            prey: r.i16()?,
            agent_ids: read_block(r, Reader::uuid)?,
        })
    }
    emit(self, w) {
        write_block(w, "Location", &self.locations, |w: &mut Writer<'_>, l| {
            w.u8(l.x);
            w.u8(l.y);
            w.u8(l.z);
        });
        w.i16(self.you);
        w.i16(self.prey);
        write_block(w, "AgentData", &self.agent_ids, |w, id| w.uuid(id));
    }
    len(self) { 1 + 3 * self.locations.len() + 4 + 1 + 16 * self.agent_ids.len() }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::capture::Direction;
    use crate::message::testutil::{
        self as t, CAPTURE_AGENT, check, golden, golden_in, round_trip,
    };

    #[test]
    fn template_headers_match() {
        t::assert_template_header::<SimStats>();
        t::assert_template_header::<CoarseLocationUpdate>();
    }

    #[test]
    fn emits_known_bytes() {
        let stats = SimStats {
            region_x: 1000,
            region_y: 1001,
            region_flags: 6,
            object_capacity: 15_000,
            stats: vec![
                Stat { id: 0, value: 1.0 },
                Stat {
                    id: stat_id::AGENTS,
                    value: 2.0,
                },
            ],
            pid: -1,
            region_flags_extended: vec![0x8000_0000_0000_0001],
        };
        let hex = "e8030000 e9030000 06000000 983a0000 \
                   02 00000000 0000803f 0d000000 00000040 ffffffff 01 0100000000000080";
        check(&stats, hex);
        assert_eq!(stats.stat(stat_id::AGENTS), Some(2.0));
        assert_eq!(stats.stat(stat_id::SCRIPT_MS), None);

        let coarse = CoarseLocationUpdate {
            locations: vec![
                CoarseLocation {
                    x: 127,
                    y: 127,
                    z: 6,
                },
                CoarseLocation { x: 1, y: 2, z: 3 },
            ],
            you: 0,
            prey: -1,
            agent_ids: vec![Uuid([0x11; 16])],
        };
        check(
            &coarse,
            &format!("02 7f7f06 010203 0000 ffff 01 {}", "11".repeat(16)),
        );
        assert_eq!(coarse.locations[0].height(), 24.0);
        check(&CoarseLocationUpdate::default(), "00 0000 0000 00");
    }

    #[test]
    fn golden_stats_and_coarse_locations() {
        let stats = golden::<SimStats>();
        for g in &stats {
            let s = &g.msg;
            let x = if g.session == "var-region" {
                1100
            } else {
                1000
            };
            assert_eq!((s.region_x, s.region_y), (x, 1000));
            assert_eq!(s.stat(stat_id::AGENTS), Some(1.0));
            assert!(
                s.stat(stat_id::TIME_DILATION)
                    .is_some_and(|d| d > 0.0 && d <= 1.0)
            );
            assert_eq!((s.pid, s.region_flags_extended.len()), (0, 0));
        }
        let coarse = golden::<CoarseLocationUpdate>();
        for g in &coarse {
            let c = &g.msg;
            assert_eq!((c.you, c.prey), (0, -1));
            assert_eq!(c.locations.len(), 1);
            assert_eq!(c.agent_ids.len(), 1);
            assert_eq!(c.agent_ids[0].to_string(), CAPTURE_AGENT);
        }
        let test = golden_in(&coarse, "test-region", Direction::In);
        assert_eq!(
            test[0].locations[0],
            CoarseLocation {
                x: 127,
                y: 127,
                z: 6
            }
        );
        // The 512 m region's agent stands at (128, 128, 0.83) (its terse updates) and is reported
        // at (64, 64): OpenSim 0.9.2.2 scales X/Y by 256 / region size there; it does not wrap
        // them as PROTOCOL §3.13 reads. In the 256 m region (127.999, 127.999, 26.05) truncates.
        let var = golden_in(&coarse, "var-region", Direction::In);
        assert_eq!(var[0].locations[0], CoarseLocation { x: 64, y: 64, z: 0 });
    }

    proptest! {
        #[test]
        fn roundtrip_stats(
            region: [u32; 4],
            stats in prop::collection::vec((any::<u32>(), t::finite()), 0..=255),
            pid: i32,
            extended in prop::collection::vec(any::<u64>(), 0..=255),
        ) {
            let [region_x, region_y, region_flags, object_capacity] = region;
            round_trip(&SimStats {
                region_x, region_y, region_flags, object_capacity,
                stats: stats.into_iter().map(|(id, value)| Stat { id, value }).collect(),
                pid,
                region_flags_extended: extended,
            });
        }

        #[test]
        fn roundtrip_coarse_locations(
            locations in prop::collection::vec(any::<[u8; 3]>(), 0..=255),
            index: (i16, i16),
            agent_ids in prop::collection::vec(t::uuid(), 0..=255),
        ) {
            round_trip(&CoarseLocationUpdate {
                locations: locations
                    .into_iter()
                    .map(|[x, y, z]| CoarseLocation { x, y, z })
                    .collect(),
                you: index.0,
                prey: index.1,
                agent_ids,
            });
        }

        #[test]
        fn parse_never_panics(b in t::junk()) {
            let _ = SimStats::parse(&b);
            let _ = CoarseLocationUpdate::parse(&b);
        }
    }
}
