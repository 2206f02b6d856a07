//! Golden tests against the OpenSim 0.9.2.2 captures (`tests/data/opensim-0.9.2.2/`, read at
//! run time): every object datagram of the three sessions parses and re-emits byte for byte, every
//! truncation of one fails, every compressed object and terse block decodes, and mutated captures
//! never make a parser panic. What the objects decode to is checked in `captures_readme`.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::capture::SESSIONS;
use crate::message::testutil::{
    assert_template_header, golden, inbound_bodies, inbound_messages, template_agrees,
};
use crate::message::{MessageError, MessageRepr};
use crate::types::Vec3;
use crate::udp::MessageId;

/// Parses a body with the parser for its message and re-emits it; `None` for other messages.
fn reemit(id: MessageId, body: &[u8]) -> Option<Result<Vec<u8>, MessageError>> {
    fn go<M: MessageRepr>(body: &[u8]) -> Result<Vec<u8>, MessageError> {
        M::parse(body)?.to_bytes()
    }
    Some(match id {
        ObjectUpdate::ID => go::<ObjectUpdate>(body),
        ObjectUpdateCompressed::ID => go::<ObjectUpdateCompressed>(body),
        ObjectUpdateCached::ID => go::<ObjectUpdateCached>(body),
        ImprovedTerseObjectUpdate::ID => go::<ImprovedTerseObjectUpdate>(body),
        KillObject::ID => go::<KillObject>(body),
        _ => return None,
    })
}

#[test]
fn every_object_datagram_roundtrips() {
    let expected: [(&str, [(u8, usize); 5]); 3] = [
        ("test-region", [(12, 1), (13, 5), (14, 0), (15, 8), (16, 0)]),
        (
            "test-region-fresh",
            [(12, 6), (13, 0), (14, 0), (15, 7), (16, 0)],
        ),
        ("var-region", [(12, 1), (13, 1), (14, 0), (15, 24), (16, 0)]),
    ];
    for (session, counts) in expected {
        let mut seen = BTreeMap::new();
        for (id, body) in inbound_bodies(session) {
            if let Some(again) = reemit(id, &body) {
                assert_eq!(again.unwrap(), body, "{session} {id}");
                if let MessageId::High(n) = id {
                    *seen.entry(n).or_insert(0) += 1;
                }
            }
        }
        for (n, count) in counts {
            assert_eq!(
                seen.get(&n).copied().unwrap_or(0),
                count,
                "{session} High {n}"
            );
        }
    }
}

#[test]
fn headers_match_the_template() {
    assert_template_header::<ObjectUpdate>();
    assert_template_header::<ObjectUpdateCompressed>();
    assert_template_header::<ObjectUpdateCached>();
    assert_template_header::<ImprovedTerseObjectUpdate>();
    assert_template_header::<KillObject>();
    assert_template_header::<RequestMultipleObjects>();
}

/// `golden` checks each captured message's re-emit, damage rejection and the README's count per
/// session and direction (none of the last three appear); the template agrees with every one.
#[test]
fn golden_messages_agree_with_the_template() {
    fn all<M: MessageRepr + PartialEq + core::fmt::Debug>() -> usize {
        let g = golden::<M>();
        for m in &g {
            template_agrees::<M>(&m.msg.to_bytes().unwrap());
        }
        g.len()
    }
    assert_eq!(all::<ObjectUpdate>(), 8);
    assert_eq!(all::<ObjectUpdateCompressed>(), 6);
    assert_eq!(all::<ImprovedTerseObjectUpdate>(), 39);
    assert_eq!(all::<ObjectUpdateCached>(), 0);
    assert_eq!(all::<KillObject>(), 0);
    assert_eq!(all::<RequestMultipleObjects>(), 0);
}

#[test]
fn every_golden_truncation_fails() {
    for session in SESSIONS {
        for (id, body) in inbound_bodies(session) {
            if reemit(id, &body).is_none() {
                continue;
            }
            for n in 0..body.len() {
                assert!(
                    reemit(id, &body[..n]).unwrap().is_err(),
                    "{session} {id} cut at {n}"
                );
            }
            let mut extra = body.clone();
            extra.push(0);
            assert_eq!(
                reemit(id, &extra).unwrap(),
                Err(MessageError::TrailingBytes(1))
            );
        }
    }
}

#[test]
fn every_compressed_data_parses_exactly() {
    for (session, want) in [
        ("test-region", 33),
        ("test-region-fresh", 0),
        ("var-region", 7),
    ] {
        let mut count = 0;
        for (msg, _) in inbound_messages::<ObjectUpdateCompressed>(session) {
            for block in &msg.objects {
                let obj = block.object().unwrap();
                assert_eq!(
                    obj.to_bytes().unwrap(),
                    block.data,
                    "{session} {}",
                    obj.local_id
                );
                assert_eq!(obj.wire_len(), block.data.len());
                for n in 0..block.data.len() {
                    assert!(CompressedObject::parse(&block.data[..n]).is_err(), "{n}");
                }
                let mut extra = block.data.clone();
                extra.push(0);
                assert_eq!(
                    CompressedObject::parse(&extra),
                    Err(MessageError::TrailingBytes(1))
                );
                // OpenSim sends trees and grass in the fixed 113-byte form.
                if obj.tree_species.is_some() {
                    assert_eq!(
                        (block.data.len(), obj.compressed_flags()),
                        (113, compressed_flags::TREE)
                    );
                }
                count += 1;
            }
        }
        assert_eq!(count, want, "{session}");
    }
}

#[test]
fn every_terse_block_decodes() {
    for (session, avatar) in [
        ("test-region", 665_494_845),
        ("test-region-fresh", 665_494_847),
        ("var-region", 221_208_299),
    ] {
        let mut last_z = f32::INFINITY;
        let mut count = 0;
        for (msg, _) in inbound_messages::<ImprovedTerseObjectUpdate>(session) {
            for o in &msg.objects {
                let t = o.terse().unwrap();
                assert_eq!(t.local_id, avatar, "{session}");
                assert!(t.collision_plane.is_some());
                assert_eq!(o.texture_entry_bytes().unwrap(), None);
                assert_eq!(t.acceleration, Vec3::ZERO);
                // The avatar starts at z = 30 and falls; on landing it settles up by a few cm.
                assert!(
                    t.position.z <= last_z + 0.1 && t.position.z < 30.0,
                    "{session} {t:?}"
                );
                last_z = t.position.z;
                assert!((t.position.x - 128.0).abs() < 0.5 && (t.position.y - 128.0).abs() < 0.5);
                let r = t.rotation;
                assert!((r.x * r.x + r.y * r.y + r.z * r.z + r.w * r.w - 1.0).abs() < 1e-5);
                count += 1;
            }
        }
        assert!(count >= 7, "{session}: {count}");
    }
}

/// Every object-message body of every session, for mutation tests.
fn all_bodies() -> Vec<(MessageId, Vec<u8>)> {
    SESSIONS
        .iter()
        .flat_map(|s| inbound_bodies(s))
        .filter(|(id, body)| reemit(*id, body).is_some())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_captures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        thread_local! {
            static BODIES: Vec<(MessageId, Vec<u8>)> = all_bodies();
        }
        let (id, mut body) = BODIES.with(|b| pick.get(b).clone());
        for (at, v) in edits {
            let i = at.index(body.len());
            body[i] = v;
        }
        if truncate {
            body.truncate(cut.index(body.len() + 1));
        }
        if let Ok(again) = reemit(id, &body).unwrap() {
            prop_assert_eq!(again, body.clone());
        }
        // Exercise every sub-decoder on whatever survives.
        if let Ok(m) = ObjectUpdate::parse(&body) {
            for o in &m.objects {
                let _ = (o.motion(), o.texture_entry(), o.extra_params(), o.name_values(), o.shape_kind());
            }
        }
        if let Ok(m) = ObjectUpdateCompressed::parse(&body) {
            for b in &m.objects {
                if let Ok(o) = b.object() {
                    prop_assert_eq!(o.to_bytes().unwrap(), b.data.clone());
                    let _ = (o.texture_entry(), o.extra_params(), o.name_value_list(), o.shape_kind());
                }
            }
        }
        if let Ok(m) = ImprovedTerseObjectUpdate::parse(&body) {
            for o in &m.objects {
                let _ = (o.terse(), o.texture_entry_bytes());
            }
        }
    }
}
