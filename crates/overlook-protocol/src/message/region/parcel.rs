//! `ParcelOverlay` (Low 196, sim → viewer, reliable, zero-coded): the region's parcel map, one
//! byte per 4 × 4 m cell, row-major from the south-west corner, in pieces of 1,024 cells — 4
//! packets for a 256 m region, 16 for 512 m (message template; PROTOCOL §5 step 5e, §8).
//!
//! Each cell byte is an ownership type in the low bits ([`overlay`]`::OWNED_BY_OTHER`, …) with
//! flags for a parcel border on the cell's west or south side.

use super::super::circuit::message_repr;
use super::super::codec::{MessageError, MessageRepr};
use crate::udp::MessageId;

/// Cell bytes of a [`ParcelOverlay`] (OpenSim `LandChannel` constants, SLV `llviewerparceloverlay`).
pub mod overlay {
    /// Public land.
    pub const PUBLIC: u8 = 0x00;
    /// Owned by someone other than the viewer's agent.
    pub const OWNED_BY_OTHER: u8 = 0x01;
    /// Owned by a group.
    pub const OWNED_BY_GROUP: u8 = 0x02;
    /// Owned by the viewer's agent.
    pub const OWNED_BY_SELF: u8 = 0x03;
    /// For sale.
    pub const FOR_SALE: u8 = 0x04;
    /// Being auctioned.
    pub const AUCTION: u8 = 0x05;
    /// Mask of the ownership type.
    pub const TYPE_MASK: u8 = 0x07;
    /// A parcel border runs along the cell's west side.
    pub const BORDER_WEST: u8 = 0x40;
    /// A parcel border runs along the cell's south side.
    pub const BORDER_SOUTH: u8 = 0x80;
}

/// Side of an overlay cell in metres.
pub const OVERLAY_CELL: u32 = 4;

/// Cells per `ParcelOverlay` packet.
pub const OVERLAY_CELLS_PER_PACKET: usize = 1024;

/// Low 196, sim → viewer: one piece of the region's parcel overlay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParcelOverlay {
    /// `ParcelData.SequenceID`: which piece, from 0 at the south-west.
    pub sequence_id: i32,
    /// `ParcelData.Data`: one byte per cell (see [`overlay`]).
    pub data: Vec<u8>,
}

message_repr! {
    ParcelOverlay, "ParcelOverlay", MessageId::Low(196), true,
    parse(r) { Ok(ParcelOverlay { sequence_id: r.i32()?, data: r.var2()?.to_vec() }) }
    emit(self, w) {
        w.i32(self.sequence_id);
        w.var2("Data", &self.data);
    }
    len(self) { 4 + 2 + self.data.len() }
}

impl ParcelOverlay {
    /// The overlay of a region of `size_x` × `size_y` metres that is one parcel whose cells are
    /// all `kind` (an [`overlay`] type): borders along the region's west and south edges only,
    /// as OpenSim draws them, cut into [`OVERLAY_CELLS_PER_PACKET`]-cell packets.
    pub fn single_parcel(size_x: u32, size_y: u32, kind: u8) -> Vec<ParcelOverlay> {
        let (cells_x, cells_y) = (size_x / OVERLAY_CELL, size_y / OVERLAY_CELL);
        let kind = kind & overlay::TYPE_MASK;
        let cells: Vec<u8> = (0..cells_y)
            .flat_map(|y| {
                (0..cells_x).map(move |x| {
                    let west = if x == 0 { overlay::BORDER_WEST } else { 0 };
                    let south = if y == 0 { overlay::BORDER_SOUTH } else { 0 };
                    kind | west | south
                })
            })
            .collect();
        cells
            .chunks(OVERLAY_CELLS_PER_PACKET)
            .zip(0i32..)
            .map(|(data, sequence_id)| ParcelOverlay {
                sequence_id,
                data: data.to_vec(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Direction;
    use crate::message::testutil::{self as t, check, golden, golden_in, round_trip};

    #[test]
    fn template_header_matches() {
        t::assert_template_header::<ParcelOverlay>();
    }

    #[test]
    fn emits_known_bytes() {
        let m = ParcelOverlay {
            sequence_id: 3,
            data: vec![0xC1, 0x81, 0x01],
        };
        check(&m, "03000000 0300 c18101");
        round_trip(&m);
        t::template_agrees::<ParcelOverlay>(&m.to_bytes().unwrap());
    }

    #[test]
    fn one_parcel_is_what_opensim_sent() {
        let all = golden::<ParcelOverlay>();
        for (session, size) in [("test-region", 256), ("var-region", 512)] {
            let mut sent: Vec<ParcelOverlay> = golden_in(&all, session, Direction::In)
                .into_iter()
                .cloned()
                .collect();
            sent.sort_by_key(|p| p.sequence_id);
            let ours = ParcelOverlay::single_parcel(size, size, overlay::OWNED_BY_OTHER);
            assert_eq!(sent, ours, "{session}");
        }
    }

    #[test]
    fn one_parcel_over_a_256m_region_is_four_packets() {
        let packets = ParcelOverlay::single_parcel(256, 256, overlay::OWNED_BY_OTHER);
        assert_eq!(packets.len(), 4);
        for (i, p) in packets.iter().enumerate() {
            assert_eq!(p.sequence_id, i as i32);
            assert_eq!(p.data.len(), 1024);
        }
        let all: Vec<u8> = packets.iter().flat_map(|p| p.data.clone()).collect();
        let cell = |x: usize, y: usize| all[y * 64 + x];
        assert_eq!(cell(0, 0), 0xC1);
        assert_eq!(cell(1, 0), 0x81);
        assert_eq!(cell(63, 0), 0x81);
        assert_eq!(cell(0, 1), 0x41);
        assert_eq!(cell(0, 63), 0x41);
        assert_eq!(cell(5, 40), 0x01);
        assert_eq!(all.iter().filter(|&&b| b == 0x01).count(), 63 * 63);
        // A var region: 512 × 256 m is 128 × 64 cells, 8 packets.
        assert_eq!(ParcelOverlay::single_parcel(512, 256, 0).len(), 8);
        assert_eq!(ParcelOverlay::single_parcel(512, 512, 0).len(), 16);
    }
}
