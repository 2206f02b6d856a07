//! The packet inspector's data: the most recent datagrams, named through the message template;
//! a row's full decode (every block and field) is made only when it is shown.

use std::collections::VecDeque;

use bevy::prelude::*;

use crate::net::Direction;
use crate::net::plugin::DatagramLogged;
use overlook_protocol::message::generic;
use overlook_protocol::message::template::template;
use overlook_protocol::udp::{self, flags};

/// How many datagrams the inspector keeps.
pub const PACKET_LOG_LEN: usize = 2000;

/// One datagram as the inspector lists it.
#[derive(Debug, Clone)]
pub struct PacketRow {
    /// Which way.
    pub direction: Direction,
    /// Milliseconds since the login request.
    pub ms: u64,
    /// Template name, or why it did not decode.
    pub name: String,
    /// Sequence number.
    pub sequence: u32,
    /// `R`, `Z`, `r` (resent), `A` (acks appended), or `-`.
    pub flags: String,
    /// Size on the wire.
    pub len: usize,
    /// The datagram.
    pub bytes: Vec<u8>,
}

impl PacketRow {
    /// Reads the header and names the message; a bad datagram is listed with its error.
    pub fn new(direction: Direction, ms: u64, bytes: Vec<u8>) -> Self {
        let (name, sequence, f) = match udp::decode(&bytes) {
            Ok(p) => {
                let name = template()
                    .by_id(p.message)
                    .map_or_else(|| p.message.to_string(), |d| d.name.clone());
                let f = flags::letters(p.flags);
                (name, p.sequence, f)
            }
            Err(e) => (format!("(bad datagram: {e})"), 0, "----".into()),
        };
        PacketRow {
            direction,
            ms,
            name,
            sequence,
            flags: f,
            len: bytes.len(),
            bytes,
        }
    }

    /// Every block and field, through the template (the `overlook replay` format).
    pub fn decoded(&self) -> String {
        match udp::decode(&self.bytes) {
            Ok(p) => match generic::decode(p.message, &p.body) {
                Ok(m) => {
                    let mut text = m.to_string();
                    if !p.acks.is_empty() {
                        text.push_str(&format!("\nappended acks: {:?}", p.acks));
                    }
                    text
                }
                Err(e) => format!("{}: {e}", p.message),
            },
            Err(e) => format!("bad datagram: {e}"),
        }
    }
}

/// The most recent datagrams, oldest first.
#[derive(Resource, Debug, Default)]
pub struct PacketLog {
    /// The rows.
    pub rows: VecDeque<PacketRow>,
    /// Only rows whose name contains this (case-insensitive) are listed.
    pub filter: String,
    /// The row whose decode is shown (index into `rows`).
    pub selected: Option<usize>,
    /// Whether new rows are being taken (pause to read).
    pub paused: bool,
    /// Datagrams logged in all, both ways.
    pub total: u64,
}

impl PacketLog {
    /// Adds a datagram, dropping the oldest beyond [`PACKET_LOG_LEN`].
    pub fn push(&mut self, d: &DatagramLogged) {
        self.total += 1;
        if self.paused {
            return;
        }
        self.rows
            .push_back(PacketRow::new(d.direction, d.ms, d.bytes.clone()));
        if self.rows.len() > PACKET_LOG_LEN {
            self.rows.pop_front();
            self.selected = self.selected.and_then(|i| i.checked_sub(1));
        }
    }

    /// Indices of the rows that pass the filter.
    pub fn visible(&self) -> Vec<usize> {
        let filter = self.filter.trim().to_lowercase();
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| filter.is_empty() || r.name.to_lowercase().contains(&filter))
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlook_protocol::capture::read_udp_jsonl;

    #[test]
    fn names_filters_and_decodes_captured_datagrams() {
        let text = overlook_testdata::read_text("test-region.udp.jsonl");
        let mut log = PacketLog::default();
        for d in read_udp_jsonl(&text).unwrap() {
            log.push(&DatagramLogged {
                direction: Direction::In,
                ms: 0,
                bytes: d.bytes,
            });
        }
        assert!(log.rows.iter().all(|r| !r.name.starts_with("(bad")));
        log.filter = "regionhandshake".into();
        let visible = log.visible();
        // RegionHandshake and RegionHandshakeReply.
        let names: Vec<&str> = visible.iter().map(|&i| log.rows[i].name.as_str()).collect();
        assert!(names.contains(&"RegionHandshake"), "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("RegionHandshake")));
        let handshake = visible
            .iter()
            .find(|&&i| log.rows[i].name == "RegionHandshake")
            .unwrap();
        let text = log.rows[*handshake].decoded();
        assert!(text.contains("SimName"), "{text}");
        assert!(text.contains("WaterHeight"), "{text}");
    }

    #[test]
    fn keeps_only_the_newest_rows() {
        let mut log = PacketLog::default();
        for i in 0..PACKET_LOG_LEN + 5 {
            log.push(&DatagramLogged {
                direction: Direction::Out,
                ms: u64::try_from(i).unwrap(),
                bytes: vec![0xFF; 3],
            });
        }
        assert_eq!(log.rows.len(), PACKET_LOG_LEN);
        assert_eq!(log.rows.front().unwrap().ms, 5);
        assert!(log.rows[0].name.starts_with("(bad datagram"));
        assert_eq!(log.total, u64::try_from(PACKET_LOG_LEN + 5).unwrap());
    }
}
