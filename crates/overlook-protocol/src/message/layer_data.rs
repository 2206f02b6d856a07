//! `LayerData` (High 11): terrain, wind and cloud patches as a DCT-compressed bitstream.
//!
//! This module only frames the message (PROTOCOL §3.8): a layer type byte and the bitstream as
//! raw bytes. Decoding the bitstream (PROTOCOL §4) is the terrain decoder's job. OpenSim writes
//! this message by hand and zero-codes wind but not land; the packet flag says which.
//!
//! Guarantees: `parse` never panics and consumes the whole body or fails; `emit` writes exactly
//! `buffer_len()` bytes or fails; every OpenSim 0.9.2.2 capture re-emits byte for byte.

use super::circuit::message_repr;
use super::codec::{MessageError, MessageRepr};
use crate::udp::MessageId;

/// `LayerID.Type` values (PROTOCOL §4.1). Overlook decodes only [`LAND`](layer_type::LAND) and
/// [`LAND_EXTENDED`](layer_type::LAND_EXTENDED); the rest are skipped without error.
pub mod layer_type {
    /// `L`: land, 10-bit patch ids (regions up to 256 m).
    pub const LAND: u8 = 0x4C;
    /// `M`: land with 32-bit patch ids (var regions over 256 m).
    pub const LAND_EXTENDED: u8 = 0x4D;
    /// `W`: water (not sent by OpenSim).
    pub const WATER: u8 = 0x57;
    /// `X`: water, extended.
    pub const WATER_EXTENDED: u8 = 0x58;
    /// `7`: wind (two patches: x then y components).
    pub const WIND: u8 = 0x37;
    /// `9`: wind, extended.
    pub const WIND_EXTENDED: u8 = 0x39;
    /// `8`: cloud.
    pub const CLOUD: u8 = 0x38;
    /// `:`: cloud, extended.
    pub const CLOUD_EXTENDED: u8 = 0x3A;
}

/// High 11, sim → viewer: one group of compressed patches of one layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayerData {
    /// `LayerID.Type`: see [`layer_type`]; the bitstream's group header repeats it.
    pub layer_type: u8,
    /// `LayerData.Data`: the patch bitstream (PROTOCOL §4), at most 65,535 bytes.
    pub data: Vec<u8>,
}

impl LayerData {
    /// True for the land layers ([`layer_type::LAND`], [`layer_type::LAND_EXTENDED`]).
    pub fn is_land(&self) -> bool {
        matches!(
            self.layer_type,
            layer_type::LAND | layer_type::LAND_EXTENDED
        )
    }
}

message_repr! {
    LayerData, "LayerData", MessageId::High(11), false,
    parse(r) { Ok(LayerData { layer_type: r.u8()?, data: r.var2()?.to_vec() }) }
    emit(self, w) {
        w.u8(self.layer_type);
        w.var2("Data", &self.data);
    }
    len(self) { 1 + 2 + self.data.len() }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::capture::Direction;
    use crate::message::testutil::{self as t, check, golden, golden_in, round_trip};

    #[test]
    fn template_header_matches() {
        t::assert_template_header::<LayerData>();
    }

    #[test]
    fn emits_known_bytes() {
        let land = LayerData {
            layer_type: layer_type::LAND,
            data: vec![0x08, 0x01, 0x10, 0x4C, 0x61],
        };
        check(&land, "4c 0500 0801104c61");
        assert!(land.is_land());
        let empty = LayerData {
            layer_type: layer_type::WIND,
            data: vec![],
        };
        check(&empty, "37 0000");
        assert!(!empty.is_land());
        let huge = LayerData {
            layer_type: layer_type::LAND,
            data: vec![0; 0x1_0000],
        };
        assert!(matches!(
            huge.to_bytes(),
            Err(MessageError::FieldTooLong {
                field: "Data",
                len: 0x1_0000
            })
        ));
    }

    /// Packets per layer type in one session.
    fn per_type(all: &[&LayerData]) -> [usize; 3] {
        let n = |ty| all.iter().filter(|l| l.layer_type == ty).count();
        [
            n(layer_type::LAND),
            n(layer_type::LAND_EXTENDED),
            n(layer_type::WIND),
        ]
    }

    #[test]
    fn golden_layer_data() {
        let all = golden::<LayerData>();
        // Capture README: test-region L 20 + wind 2; var-region M 47 + wind 1.
        let test = golden_in(&all, "test-region", Direction::In);
        assert_eq!(per_type(&test), [20, 0, 2]);
        let var = golden_in(&all, "var-region", Direction::In);
        assert_eq!(per_type(&var), [0, 47, 1]);
        for g in &all {
            // The group header: stride 264 (LE), patch size 16, the layer type again.
            let ty = g.msg.layer_type;
            assert_eq!(g.msg.data.get(..4), Some(&[0x08, 0x01, 0x10, ty][..]));
            assert!(g.msg.data.len() <= 1200);
        }
    }

    proptest! {
        #[test]
        fn roundtrip_layer_data(
            layer_type: u8,
            data in prop::collection::vec(any::<u8>(), 0..3000),
        ) {
            round_trip(&LayerData { layer_type, data });
        }

        #[test]
        fn parse_never_panics(b in t::junk()) {
            let _ = LayerData::parse(&b);
        }
    }
}
