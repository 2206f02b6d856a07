//! The viewer-cache probe and its answer: `ObjectUpdateCached` (High 14) and
//! `RequestMultipleObjects` (Medium 3) (PROTOCOL §3.11; SLV `llviewerregion.h`).
//!
//! A simulator that believes the viewer caches objects sends only `(ID, CRC, UpdateFlags)`; a
//! viewer without the object (or with another CRC) asks for it with `RequestMultipleObjects`, and
//! the simulator answers with a full update. OpenSim 0.9.2.2 sent no probes in the captures.

use super::{REGION_DATA_LEN, read_region_data, write_region_data};
use crate::message::circuit::{AgentIds, message_repr, read_block, write_block};
use crate::message::codec::{MessageError, MessageRepr};
use crate::udp::MessageId;

/// One probe: an object the simulator thinks the viewer may have cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CachedObject {
    /// Region-local id.
    pub id: u32,
    /// CRC of the current state; compare with the cached copy's.
    pub crc: u32,
    /// Prim flags.
    pub update_flags: u32,
}

/// `ObjectUpdateCached`: cache probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUpdateCached {
    /// The region the objects are in.
    pub region_handle: u64,
    /// Time dilation × 65535.
    pub time_dilation: u16,
    /// One block per object.
    pub objects: Vec<CachedObject>,
}

message_repr! {
    ObjectUpdateCached, "ObjectUpdateCached", MessageId::High(14), false,
    parse(r) {
        let (region_handle, time_dilation) = read_region_data(r)?;
        let objects = read_block(r, |r| {
            Ok(CachedObject { id: r.u32()?, crc: r.u32()?, update_flags: r.u32()? })
        })?;
        Ok(ObjectUpdateCached { region_handle, time_dilation, objects })
    }
    emit(self, w) {
        write_region_data(w, self.region_handle, self.time_dilation);
        write_block(w, "ObjectData", &self.objects, |w, o| {
            w.u32(o.id);
            w.u32(o.crc);
            w.u32(o.update_flags);
        });
    }
    len(self) { REGION_DATA_LEN + 1 + 12 * self.objects.len() }
}

/// Why the viewer asks for an object (`CacheMissType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheMissType {
    /// 0: the object is not in the cache; send it whole.
    Full,
    /// 1: the cached copy has another CRC.
    CrcMismatch,
    /// Any other value.
    Unknown(u8),
}

impl CacheMissType {
    /// Wire value of [`CacheMissType::Full`].
    pub const FULL: u8 = 0;
    /// Wire value of [`CacheMissType::CrcMismatch`].
    pub const CRC_MISMATCH: u8 = 1;
}

impl From<u8> for CacheMissType {
    fn from(v: u8) -> Self {
        match v {
            Self::FULL => CacheMissType::Full,
            Self::CRC_MISMATCH => CacheMissType::CrcMismatch,
            n => CacheMissType::Unknown(n),
        }
    }
}

impl From<CacheMissType> for u8 {
    fn from(c: CacheMissType) -> u8 {
        match c {
            CacheMissType::Full => CacheMissType::FULL,
            CacheMissType::CrcMismatch => CacheMissType::CRC_MISMATCH,
            CacheMissType::Unknown(n) => n,
        }
    }
}

/// One requested object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectRequest {
    /// Why it is requested.
    pub cache_miss_type: CacheMissType,
    /// Region-local id.
    pub id: u32,
}

/// `RequestMultipleObjects`: ask for full updates of objects the viewer lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMultipleObjects {
    /// The agent and session.
    pub agent: AgentIds,
    /// The objects wanted (at most 255 per message).
    pub objects: Vec<ObjectRequest>,
}

impl RequestMultipleObjects {
    /// Asks for every object in `local_ids` in full ([`CacheMissType::Full`]), as a viewer
    /// without a cache answers `ObjectUpdateCached`. Send at most 255 ids per message.
    pub fn cache_misses(agent: AgentIds, local_ids: &[u32]) -> Self {
        RequestMultipleObjects {
            agent,
            objects: local_ids
                .iter()
                .map(|&id| ObjectRequest {
                    cache_miss_type: CacheMissType::Full,
                    id,
                })
                .collect(),
        }
    }
}

message_repr! {
    RequestMultipleObjects, "RequestMultipleObjects", MessageId::Medium(3), true,
    parse(r) {
        let agent = AgentIds::read(r)?;
        let objects = read_block(r, |r| {
            Ok(ObjectRequest { cache_miss_type: CacheMissType::from(r.u8()?), id: r.u32()? })
        })?;
        Ok(RequestMultipleObjects { agent, objects })
    }
    emit(self, w) {
        self.agent.write(w);
        write_block(w, "ObjectData", &self.objects, |w, o| {
            w.u8(u8::from(o.cache_miss_type));
            w.u32(o.id);
        });
    }
    len(self) { AgentIds::WIRE_LEN + 1 + 5 * self.objects.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::testutil::template_agrees;
    use crate::types::Uuid;
    use proptest::prelude::*;

    fn check<M: MessageRepr + PartialEq + core::fmt::Debug>(msg: &M) -> Vec<u8> {
        let mut buf = vec![0xAA; msg.buffer_len() + 4];
        let n = msg.emit(&mut buf).unwrap();
        assert_eq!(n, msg.buffer_len());
        buf.truncate(n);
        assert_eq!(&M::parse(&buf).unwrap(), msg);
        template_agrees::<M>(&buf);
        for cut in 0..n {
            assert!(M::parse(&buf[..cut]).is_err(), "{cut}");
        }
        let mut extra = buf.clone();
        extra.push(0);
        assert_eq!(
            M::parse(&extra).unwrap_err(),
            MessageError::TrailingBytes(1)
        );
        buf
    }

    #[test]
    fn cached_probe_bytes() {
        let msg = ObjectUpdateCached {
            region_handle: 0x0003_E800_0003_E800,
            time_dilation: 0xFFFF,
            objects: vec![CachedObject {
                id: 0x2755_A5F8,
                crc: 0xBBD0_E2C0,
                update_flags: 0x1002_093C,
            }],
        };
        let bytes = check(&msg);
        assert_eq!(
            bytes,
            [
                0x00, 0xE8, 0x03, 0x00, 0x00, 0xE8, 0x03, 0x00, 0xFF, 0xFF, 1, 0xF8, 0xA5, 0x55,
                0x27, 0xC0, 0xE2, 0xD0, 0xBB, 0x3C, 0x09, 0x02, 0x10
            ]
        );
    }

    #[test]
    fn request_multiple_objects_bytes() {
        let msg = RequestMultipleObjects {
            agent: AgentIds {
                agent_id: Uuid([1; 16]),
                session_id: Uuid([2; 16]),
            },
            objects: vec![
                ObjectRequest {
                    cache_miss_type: CacheMissType::Full,
                    id: 5,
                },
                ObjectRequest {
                    cache_miss_type: CacheMissType::CrcMismatch,
                    id: 0x0102_0304,
                },
            ],
        };
        let bytes = check(&msg);
        assert_eq!(&bytes[32..], [2, 0, 5, 0, 0, 0, 1, 4, 3, 2, 1]);
        assert_eq!(CacheMissType::from(7), CacheMissType::Unknown(7));
        let misses = RequestMultipleObjects::cache_misses(msg.agent, &[5, 6]);
        assert_eq!(
            misses.objects[1],
            ObjectRequest {
                cache_miss_type: CacheMissType::Full,
                id: 6
            }
        );
        assert_eq!(misses.agent, msg.agent);
        for b in 0..=255u8 {
            assert_eq!(u8::from(CacheMissType::from(b)), b);
        }
    }

    #[test]
    fn too_many_blocks_is_an_error() {
        let msg = RequestMultipleObjects {
            agent: AgentIds::default(),
            objects: vec![
                ObjectRequest {
                    cache_miss_type: CacheMissType::Full,
                    id: 0,
                };
                256
            ],
        };
        assert!(matches!(
            msg.to_bytes(),
            Err(MessageError::FieldTooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn roundtrip_cached(handle in any::<u64>(), td in any::<u16>(), ids in proptest::collection::vec(any::<(u32, u32, u32)>(), 0..50)) {
            let msg = ObjectUpdateCached {
                region_handle: handle,
                time_dilation: td,
                objects: ids.into_iter().map(|(id, crc, update_flags)| CachedObject { id, crc, update_flags }).collect(),
            };
            let bytes = msg.to_bytes().unwrap();
            template_agrees::<ObjectUpdateCached>(&bytes);
            prop_assert_eq!(ObjectUpdateCached::parse(&bytes).unwrap(), msg);
        }

        #[test]
        fn roundtrip_request(ids in proptest::collection::vec(any::<(u8, u32)>(), 0..50)) {
            let msg = RequestMultipleObjects {
                agent: AgentIds { agent_id: Uuid([3; 16]), session_id: Uuid([4; 16]) },
                objects: ids.into_iter().map(|(t, id)| ObjectRequest { cache_miss_type: CacheMissType::from(t), id }).collect(),
            };
            let bytes = msg.to_bytes().unwrap();
            template_agrees::<RequestMultipleObjects>(&bytes);
            prop_assert_eq!(RequestMultipleObjects::parse(&bytes).unwrap(), msg);
        }

        #[test]
        fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(m) = ObjectUpdateCached::parse(&body) {
                prop_assert_eq!(m.to_bytes().unwrap(), body.clone());
            }
            if let Ok(m) = RequestMultipleObjects::parse(&body) {
                prop_assert_eq!(m.to_bytes().unwrap(), body);
            }
        }
    }
}
