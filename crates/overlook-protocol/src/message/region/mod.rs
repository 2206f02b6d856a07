//! Region messages: what the simulator says about the region and who is in it —
//! `RegionHandshake` and its reply, `AgentMovementComplete`, `SimStats`,
//! `CoarseLocationUpdate` and `ParcelOverlay`.
//!
//! Layouts follow the message template (`template/message_template.msg`); PROTOCOL §3.2, §3.3,
//! §3.5, §3.13, §3.14 and §8 give OpenSim's values. `SimStats` and `CoarseLocationUpdate` live
//! in the `stats` submodule, `ParcelOverlay` in `parcel`; both are re-exported here.
//!
//! Guarantees: `parse` never panics and consumes the whole body or fails; `emit` writes exactly
//! `buffer_len()` bytes or fails; every OpenSim 0.9.2.2 capture re-emits byte for byte.

mod parcel;
mod stats;

pub use parcel::{OVERLAY_CELL, OVERLAY_CELLS_PER_PACKET, ParcelOverlay, overlay};
pub use stats::{CoarseLocation, CoarseLocationUpdate, SimStats, Stat, stat_id};

use super::circuit::{AgentIds, message_repr, read_block, write_block};
use super::codec::{MessageError, MessageRepr, Reader, text_wire_len};
use crate::types::{Uuid, Vec3};
use crate::udp::MessageId;

/// `RegionInfo.SimAccess` maturity ratings (SLV `indra_constants.h`).
pub mod sim_access {
    /// General (PG).
    pub const PG: u8 = 13;
    /// Moderate (Mature).
    pub const MATURE: u8 = 21;
    /// Adult.
    pub const ADULT: u8 = 42;
}

/// `RegionInfo4.RegionProtocols` bits (PROTOCOL §3.2).
pub mod region_protocols {
    /// The region bakes avatar appearance server-side.
    pub const SERVER_SIDE_BAKING: u64 = 0x0000_0000_0000_0001;
    /// The region supports more than six baked textures (OpenSim sets it).
    pub const MORE_BAKED_TEXTURES: u64 = 0x8000_0000_0000_0000;
}

/// One `RegionInfo4` entry of a [`RegionHandshake`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionInfo4 {
    /// `RegionFlagsExtended`: the 64-bit region flags (OpenSim: the same as `RegionFlags`).
    pub region_flags_extended: u64,
    /// `RegionProtocols`: see [`region_protocols`].
    pub region_protocols: u64,
}

/// Low 148, sim → viewer: the region's name, water height and terrain textures (PROTOCOL §3.2).
/// Answer every one with a [`RegionHandshakeReply`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegionHandshake {
    /// `RegionFlags`.
    pub region_flags: u32,
    /// `SimAccess`: see [`sim_access`].
    pub sim_access: u8,
    /// `SimName`: the region name.
    pub sim_name: String,
    /// `SimOwner`: the estate owner.
    pub sim_owner: Uuid,
    /// `IsEstateManager`: whether this agent manages the estate.
    pub is_estate_manager: bool,
    /// `WaterHeight`, metres.
    pub water_height: f32,
    /// `BillableFactor`.
    pub billable_factor: f32,
    /// `CacheID`.
    pub cache_id: Uuid,
    /// `TerrainBase0`..`3` (nil from OpenSim).
    pub terrain_base: [Uuid; 4],
    /// `TerrainDetail0`..`3`: the four terrain textures, lowest first.
    pub terrain_detail: [Uuid; 4],
    /// `TerrainStartHeight00, 01, 10, 11` (template order: SW, NW, SE, NE corners), metres.
    pub terrain_start_height: [f32; 4],
    /// `TerrainHeightRange00, 01, 10, 11` (template order: SW, NW, SE, NE corners), metres.
    pub terrain_height_range: [f32; 4],
    /// `RegionInfo2.RegionID`.
    pub region_id: Uuid,
    /// `RegionInfo3.CPUClassID`.
    pub cpu_class_id: i32,
    /// `RegionInfo3.CPURatio`.
    pub cpu_ratio: i32,
    /// `RegionInfo3.ColoName`.
    pub colo_name: String,
    /// `RegionInfo3.ProductSKU`.
    pub product_sku: String,
    /// `RegionInfo3.ProductName`.
    pub product_name: String,
    /// `RegionInfo4` (Variable; OpenSim sends one entry).
    pub region_info4: Vec<RegionInfo4>,
}

impl RegionHandshake {
    /// The fixed part of the `RegionInfo` block: everything but the `SimName` text.
    const REGION_INFO_FIXED: usize = 4 + 1 + 1 + 16 + 1 + 4 + 4 + 16 + 8 * 16 + 8 * 4;

    /// `RegionProtocols` of the first `RegionInfo4` entry, if any.
    pub fn region_protocols(&self) -> Option<u64> {
        self.region_info4.first().map(|i| i.region_protocols)
    }
}

fn read_uuids(r: &mut Reader<'_>) -> Result<[Uuid; 4], MessageError> {
    Ok([r.uuid()?, r.uuid()?, r.uuid()?, r.uuid()?])
}

fn read_f32s(r: &mut Reader<'_>) -> Result<[f32; 4], MessageError> {
    Ok([r.f32()?, r.f32()?, r.f32()?, r.f32()?])
}

message_repr! {
    RegionHandshake, "RegionHandshake", MessageId::Low(148), true,
    parse(r) {
        Ok(RegionHandshake {
            region_flags: r.u32()?,
            sim_access: r.u8()?,
            sim_name: r.string1()?,
            sim_owner: r.uuid()?,
            is_estate_manager: r.bool()?,
            water_height: r.f32()?,
            billable_factor: r.f32()?,
            cache_id: r.uuid()?,
            terrain_base: read_uuids(r)?,
            terrain_detail: read_uuids(r)?,
            terrain_start_height: read_f32s(r)?,
            terrain_height_range: read_f32s(r)?,
            region_id: r.uuid()?,
            cpu_class_id: r.i32()?,
            cpu_ratio: r.i32()?,
            colo_name: r.string1()?,
            product_sku: r.string1()?,
            product_name: r.string1()?,
            region_info4: read_block(r, |r| {
                Ok(RegionInfo4 { region_flags_extended: r.u64()?, region_protocols: r.u64()? })
            })?,
        })
    }
    emit(self, w) {
        w.u32(self.region_flags);
        w.u8(self.sim_access);
        w.string1("SimName", &self.sim_name);
        w.uuid(&self.sim_owner);
        w.bool(self.is_estate_manager);
        w.f32(self.water_height);
        w.f32(self.billable_factor);
        w.uuid(&self.cache_id);
        for id in self.terrain_base.iter().chain(&self.terrain_detail) {
            w.uuid(id);
        }
        for v in self.terrain_start_height.iter().chain(&self.terrain_height_range) {
            w.f32(*v);
        }
        w.uuid(&self.region_id);
        w.i32(self.cpu_class_id);
        w.i32(self.cpu_ratio);
        w.string1("ColoName", &self.colo_name);
        w.string1("ProductSKU", &self.product_sku);
        w.string1("ProductName", &self.product_name);
        write_block(w, "RegionInfo4", &self.region_info4, |w, i| {
            w.u64(i.region_flags_extended);
            w.u64(i.region_protocols);
        });
    }
    len(self) {
        Self::REGION_INFO_FIXED
            + text_wire_len(&self.sim_name)
            + 16
            + 4 + 4 + 3
            + text_wire_len(&self.colo_name)
            + text_wire_len(&self.product_sku)
            + text_wire_len(&self.product_name)
            + 1 + 16 * self.region_info4.len()
    }
}

/// `RegionHandshakeReply` `Flags` bits (PROTOCOL §3.3).
pub mod handshake_flags {
    /// The viewer wants every cacheable object (cache culling).
    pub const CACHE_ALL: u32 = 0x1;
    /// The viewer's object cache is empty: send full updates, not cache probes.
    pub const EMPTY_CACHE: u32 = 0x2;
    /// The viewer supports self appearance.
    pub const SELF_APPEARANCE: u32 = 0x4;
}

/// Low 149, viewer → sim: acknowledges a [`RegionHandshake`]; without it OpenSim sends no
/// objects (PROTOCOL §3.3, §5).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegionHandshakeReply {
    /// `AgentData.AgentID`, `SessionID`.
    pub agent: AgentIds,
    /// `RegionInfo.Flags`: see [`handshake_flags`].
    pub flags: u32,
}

impl RegionHandshakeReply {
    /// Overlook's reply: it keeps no object cache, so it asks for full updates
    /// ([`handshake_flags::EMPTY_CACHE`]).
    pub fn new(agent: AgentIds) -> Self {
        RegionHandshakeReply {
            agent,
            flags: handshake_flags::EMPTY_CACHE,
        }
    }
}

message_repr! {
    RegionHandshakeReply, "RegionHandshakeReply", MessageId::Low(149), true,
    parse(r) { Ok(RegionHandshakeReply { agent: AgentIds::read(r)?, flags: r.u32()? }) }
    emit(self, w) {
        self.agent.write(w);
        w.u32(self.flags);
    }
    len(self) { AgentIds::WIRE_LEN + 4 }
}

/// Low 250, sim → viewer: the agent is in the region — where, facing where (PROTOCOL §3.5).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentMovementComplete {
    /// `AgentData.AgentID`, `SessionID`.
    pub agent: AgentIds,
    /// `Data.Position`: region-local metres (avatar centre).
    pub position: Vec3,
    /// `Data.LookAt`: the facing direction (follow this, not the login reply's `look_at`).
    pub look_at: Vec3,
    /// `Data.RegionHandle`: `(x_metres << 32) | y_metres`.
    pub region_handle: u64,
    /// `Data.Timestamp`: Unix seconds.
    pub timestamp: u32,
    /// `SimData.ChannelVersion`: the simulator's version string.
    pub channel_version: String,
}

impl AgentMovementComplete {
    /// The region's south-west corner in global metres, from the handle: `(x, y)`.
    pub fn region_origin(&self) -> (u32, u32) {
        let [a, b, c, d, e, f, g, h] = self.region_handle.to_be_bytes();
        (
            u32::from_be_bytes([a, b, c, d]),
            u32::from_be_bytes([e, f, g, h]),
        )
    }
}

message_repr! {
    AgentMovementComplete, "AgentMovementComplete", MessageId::Low(250), false,
    parse(r) {
        Ok(AgentMovementComplete {
            agent: AgentIds::read(r)?,
            position: r.vec3()?,
            look_at: r.vec3()?,
            region_handle: r.u64()?,
            timestamp: r.u32()?,
            channel_version: r.string2()?,
        })
    }
    emit(self, w) {
        self.agent.write(w);
        w.vec3(&self.position);
        w.vec3(&self.look_at);
        w.u64(self.region_handle);
        w.u32(self.timestamp);
        w.string2("ChannelVersion", &self.channel_version);
    }
    len(self) { AgentIds::WIRE_LEN + 12 + 12 + 8 + 4 + 2 + text_wire_len(&self.channel_version) }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::capture::Direction;
    use crate::message::testutil::{
        self as t, CAPTURE_AGENT, IDS_HEX, check, golden, golden_in, ids, round_trip,
    };

    fn uuid(s: &str) -> Uuid {
        s.parse().unwrap()
    }

    #[test]
    fn template_headers_match() {
        t::assert_template_header::<RegionHandshake>();
        t::assert_template_header::<RegionHandshakeReply>();
        t::assert_template_header::<AgentMovementComplete>();
    }

    #[test]
    fn emits_known_bytes() {
        let handshake = RegionHandshake {
            region_flags: 0x0102_0304,
            sim_access: sim_access::MATURE,
            sim_name: "Ab".into(),
            sim_owner: Uuid([0x33; 16]),
            is_estate_manager: true,
            water_height: 20.0,
            billable_factor: 1.0,
            cache_id: Uuid([0x44; 16]),
            terrain_base: [0x51, 0x52, 0x53, 0x54].map(|b| Uuid([b; 16])),
            terrain_detail: [0x61, 0x62, 0x63, 0x64].map(|b| Uuid([b; 16])),
            terrain_start_height: [1.0, 2.0, 3.0, 4.0],
            terrain_height_range: [10.0, 20.0, 30.0, 40.0],
            region_id: Uuid([0x77; 16]),
            cpu_class_id: 9,
            cpu_ratio: -1,
            colo_name: String::new(),
            product_sku: "X".into(),
            product_name: "Full".into(),
            region_info4: vec![
                RegionInfo4 {
                    region_flags_extended: 1,
                    region_protocols: 2,
                },
                RegionInfo4 {
                    region_flags_extended: 3,
                    region_protocols: region_protocols::MORE_BAKED_TEXTURES,
                },
            ],
        };
        let uuids = |bytes: &[&str]| bytes.iter().map(|b| b.repeat(16)).collect::<String>();
        let hex = [
            "04030201 15 03416200".to_string(),
            uuids(&["33"]),
            "01 0000a041 0000803f".into(),
            uuids(&["44", "51", "52", "53", "54", "61", "62", "63", "64"]),
            "0000803f 00000040 00004040 00008040".into(),
            "00002041 0000a041 0000f041 00002042".into(),
            uuids(&["77"]),
            "09000000 ffffffff 00 025800 0546756c6c00".into(),
            "02 0100000000000000 0200000000000000 0300000000000000 0000000000000080".into(),
        ]
        .join(" ");
        check(&handshake, &hex);

        check(
            &RegionHandshakeReply::new(ids()),
            &format!("{IDS_HEX} 02000000"),
        );
        let amc = AgentMovementComplete {
            agent: ids(),
            position: Vec3::new(1.0, 2.0, 3.0),
            look_at: Vec3::new(0.0, 1.0, 0.0),
            region_handle: 0x0003_E800_0003_E800,
            timestamp: 0x0102_0304,
            channel_version: "Sim".into(),
        };
        let hex = "0000803f 00000040 00004040 00000000 0000803f 00000000 \
                   00e80300 00e80300 04030201 0400 53696d00";
        check(&amc, &format!("{IDS_HEX} {hex}"));
        assert_eq!(amc.region_origin(), (256_000, 256_000));
    }

    #[test]
    fn golden_region_handshake() {
        let all = golden::<RegionHandshake>();
        let [test] = golden_in(&all, "test-region", Direction::In)[..] else {
            panic!("one RegionHandshake")
        };
        let details = [
            "b8d3965a-ad78-bf43-699b-bff8eca6c975",
            "abb783e6-3e93-26c0-248a-247666855da3",
            "179cdabd-398a-9b6b-1391-4dc333ba321f",
            "beb169c7-11ea-fff2-efe5-0f24dc881df2",
        ];
        let expected = RegionHandshake {
            region_flags: 0x1410_8026,
            sim_access: sim_access::PG,
            sim_name: "Test Region".into(),
            sim_owner: uuid("6a1b0c2d-3e4f-4a5b-8c6d-7e8f90a1b2c3"),
            is_estate_manager: false,
            water_height: 20.0,
            billable_factor: 0.0,
            cache_id: uuid("e9718ae4-6e3d-4486-afe7-329b57f49aa4"),
            terrain_base: [Uuid::NIL; 4],
            terrain_detail: details.map(uuid),
            terrain_start_height: [10.0; 4],
            terrain_height_range: [60.0; 4],
            region_id: uuid("11111111-2222-3333-4444-555555555555"),
            cpu_class_id: 9,
            cpu_ratio: 1,
            colo_name: String::new(),
            product_sku: String::new(),
            product_name: String::new(),
            region_info4: vec![RegionInfo4 {
                region_flags_extended: 0x1410_8026,
                region_protocols: region_protocols::MORE_BAKED_TEXTURES,
            }],
        };
        assert_eq!(test, &expected);
        let [var] = golden_in(&all, "var-region", Direction::In)[..] else {
            panic!("one RegionHandshake")
        };
        assert_eq!(var.sim_name, "Var Region");
        assert_eq!(var.water_height, 20.0);
        assert_eq!(var.region_id, uuid("22222222-3333-4444-5555-666666666666"));
        assert_eq!(
            var.region_protocols(),
            Some(region_protocols::MORE_BAKED_TEXTURES)
        );
        let replies = golden::<RegionHandshakeReply>();
        for r in &replies {
            assert_eq!(r.msg.flags, handshake_flags::EMPTY_CACHE);
            assert_eq!(r.msg.agent.agent_id.to_string(), CAPTURE_AGENT);
        }
    }

    #[test]
    fn golden_agent_movement_complete() {
        let all = golden::<AgentMovementComplete>();
        for (session, handle) in [
            ("test-region", 0x0003_E800_0003_E800),
            ("test-region-fresh", 0x0003_E800_0003_E800),
            ("var-region", 0x0004_4C00_0003_E800),
        ] {
            let [amc] = golden_in(&all, session, Direction::In)[..] else {
                panic!("one AgentMovementComplete in {session}")
            };
            assert_eq!(amc.agent.agent_id.to_string(), CAPTURE_AGENT);
            assert_eq!(amc.position, Vec3::new(128.0, 128.0, 30.0));
            let Vec3 { x, y, z } = amc.look_at;
            assert!((x - 0.99).abs() < 1e-6 && (y - 0.042).abs() < 1e-6 && z == 0.0);
            assert_eq!(amc.region_handle, handle);
            assert_eq!(
                amc.channel_version,
                "OpenSim 0.9.2.2 Yeti Release (Unix/Mono)"
            );
        }
        let var = golden_in(&all, "var-region", Direction::In)[0];
        assert_eq!(var.region_origin(), (1100 * 256, 1000 * 256));
    }

    fn handshake() -> impl Strategy<Value = RegionHandshake> {
        let text = || t::text(254);
        let head = (any::<u32>(), any::<u8>(), text(), t::uuid(), any::<bool>());
        let floats = (
            t::finite(),
            t::finite(),
            [t::finite(), t::finite(), t::finite(), t::finite()],
        );
        let ids = (
            t::uuid(),
            [t::uuid(), t::uuid(), t::uuid(), t::uuid()],
            t::uuid(),
        );
        let tail = (any::<(i32, i32)>(), text(), text(), text());
        let info4 = prop::collection::vec(any::<(u64, u64)>(), 0..4);
        (head, floats, ids, tail, info4, any::<[u32; 4]>()).prop_map(
            |(
                (flags, access, name, owner, em),
                (water, bill, start),
                (cache, detail, region),
                tail,
                info4,
                range,
            )| {
                let ((cpu_class_id, cpu_ratio), colo_name, product_sku, product_name) = tail;
                RegionHandshake {
                    region_flags: flags,
                    sim_access: access,
                    sim_name: name,
                    sim_owner: owner,
                    is_estate_manager: em,
                    water_height: water,
                    billable_factor: bill,
                    cache_id: cache,
                    terrain_base: [Uuid::NIL, cache, owner, region],
                    terrain_detail: detail,
                    terrain_start_height: start,
                    terrain_height_range: range
                        .map(|r| f32::from(u16::try_from(r % 1000).unwrap())),
                    region_id: region,
                    cpu_class_id,
                    cpu_ratio,
                    colo_name,
                    product_sku,
                    product_name,
                    region_info4: info4
                        .into_iter()
                        .map(|(region_flags_extended, region_protocols)| RegionInfo4 {
                            region_flags_extended,
                            region_protocols,
                        })
                        .collect(),
                }
            },
        )
    }

    proptest! {
        #[test]
        fn roundtrip_region_handshake(h in handshake()) {
            round_trip(&h);
        }

        #[test]
        fn roundtrip_region(
            agent in t::agent_ids(),
            flags: u32,
            position in t::vec3(),
            look_at in t::vec3(),
            handle: u64,
            timestamp: u32,
            channel_version in t::text(4000),
        ) {
            round_trip(&RegionHandshakeReply { agent, flags });
            round_trip(&AgentMovementComplete {
                agent, position, look_at, region_handle: handle, timestamp, channel_version,
            });
        }

        #[test]
        fn parse_never_panics(b in t::junk()) {
            let _ = RegionHandshake::parse(&b);
            let _ = RegionHandshakeReply::parse(&b);
            let _ = AgentMovementComplete::parse(&b);
        }
    }
}
