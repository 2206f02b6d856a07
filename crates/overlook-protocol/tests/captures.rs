//! Golden-vector tests over every datagram of the OpenSim 0.9.2.2 captures
//! (`shared/captures/opensim-0.9.2.2/`): framing and the template-driven generic codec decode
//! each one and re-emit it byte for byte, and the per-message counts agree with the capture's
//! own README table and `SUMMARY.json`.
// Helpers, not only #[test] functions, unwrap, index and cast: a failed step fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;

use common::{SESSIONS, load_capture, read_capture_file};
use overlook_protocol::capture::Direction;
use overlook_protocol::message::generic::{self, FieldValue, GenericMessage};
use overlook_protocol::message::{MessageError, template};
use overlook_protocol::types::Vec3;
use overlook_protocol::udp::{self, MessageId, flags};

/// One captured datagram, decoded.
struct Decoded {
    dir: Direction,
    flags: u8,
    len: usize,
    id: MessageId,
    body: Vec<u8>,
    msg: GenericMessage,
}

/// Decodes a whole session; panics naming the first datagram that does not decode.
fn decode_session(session: &str) -> Vec<Decoded> {
    load_capture(session)
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let p = udp::decode(&d.bytes).unwrap_or_else(|e| panic!("{session} #{i}: {e}"));
            let msg = generic::decode(p.message, &p.body)
                .unwrap_or_else(|e| panic!("{session} #{i} {}: {e}", p.message));
            Decoded {
                dir: d.dir,
                flags: p.flags,
                len: d.bytes.len(),
                id: p.message,
                body: p.body.into_owned(),
                msg,
            }
        })
        .collect()
}

#[test]
fn every_datagram_decodes_and_reemits_byte_exact() {
    let mut total = 0;
    let mut failures = Vec::new();
    for session in SESSIONS {
        for (i, d) in load_capture(session).iter().enumerate() {
            total += 1;
            let at = format!("{session} #{i} ({})", d.dir);
            let p = match udp::decode(&d.bytes) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!("{at}: udp::decode: {e}"));
                    continue;
                }
            };
            if p.to_vec() != d.bytes {
                failures.push(format!(
                    "{at} {}: header/zero-coding/acks re-emit",
                    p.message
                ));
            }
            let msg = match generic::decode(p.message, &p.body) {
                Ok(m) => m,
                Err(e) => {
                    failures.push(format!("{at} {}: generic::decode: {e}", p.message));
                    continue;
                }
            };
            match generic::encode(&msg) {
                Ok(body) if body == *p.body => {}
                Ok(_) => failures.push(format!("{at} {}: body re-encode differs", msg.name)),
                Err(e) => failures.push(format!("{at} {}: generic::encode: {e}", msg.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(total, 126 + 126 + 200);
}

type Counts = BTreeMap<String, usize>;

/// Per-direction message counts and zero-coded counts of a session, as decoded here.
fn count(decoded: &[Decoded]) -> [Counts; 4] {
    let mut c: [Counts; 4] = Default::default();
    for d in decoded {
        let side = if d.dir == Direction::In { 0 } else { 1 };
        *c[side].entry(d.msg.name.to_owned()).or_default() += 1;
        if d.flags & flags::ZEROCODED != 0 {
            *c[side + 2].entry(d.msg.name.to_owned()).or_default() += 1;
        }
    }
    c
}

/// Parses a README table cell: `AgentUpdate 26 [Z 26], CompletePingCheck 5, …`.
fn parse_cell(cell: &str) -> [Counts; 2] {
    let mut all = Counts::new();
    let mut zero = Counts::new();
    for item in cell.split(',') {
        let words: Vec<&str> = item.split_whitespace().collect();
        let (name, n) = (words[0].to_owned(), words[1].parse().unwrap());
        all.insert(name.clone(), n);
        if let [_, _, "[Z", z] = words[..] {
            zero.insert(name, z.trim_end_matches(']').parse().unwrap());
        }
    }
    [all, zero]
}

#[test]
fn message_counts_match_the_capture_readme() {
    let readme = read_capture_file("README.md");
    for session in SESSIONS {
        let decoded = decode_session(session);
        let [sim, viewer, sim_z, viewer_z] = count(&decoded);
        let heading = format!("### `{session}`");
        let section = readme.split(&heading).nth(1).unwrap();
        let section = section.split("\n### ").next().unwrap();
        let row = |label: &str| {
            let line = section.lines().find(|l| l.starts_with(label)).unwrap();
            parse_cell(line.split('|').nth(2).unwrap())
        };
        let [want_sim, want_sim_z] = row("| sim -> viewer |");
        let [want_viewer, want_viewer_z] = row("| viewer -> sim |");
        assert_eq!(sim, want_sim, "{session} sim -> viewer");
        assert_eq!(sim_z, want_sim_z, "{session} sim -> viewer zero-coded");
        assert_eq!(viewer, want_viewer, "{session} viewer -> sim");
        assert_eq!(
            viewer_z, want_viewer_z,
            "{session} viewer -> sim zero-coded"
        );

        // "- 126 datagrams over 25.3 s (in: 33429 bytes, out: 2305 bytes)."
        let bytes = |dir| -> usize {
            let d = decoded.iter().filter(|d| d.dir == dir);
            d.map(|d| d.len).sum()
        };
        let stats = format!("- {} datagrams over ", decoded.len());
        let line = section.lines().find(|l| l.starts_with(&stats)).unwrap();
        let sizes = format!(
            "(in: {} bytes, out: {} bytes)",
            bytes(Direction::In),
            bytes(Direction::Out)
        );
        assert!(line.contains(&sizes), "{session}: {line} vs {sizes}");
        assert!(line.contains("Appended-ack packets: none. Resent (0x20) packets: none."));
        assert!(
            decoded
                .iter()
                .all(|d| d.flags & (flags::ACK | flags::RESENT) == 0)
        );
    }
}

#[test]
fn message_counts_match_summary_json() {
    let summary: serde_json::Value =
        serde_json::from_str(&read_capture_file("SUMMARY.json")).unwrap();
    let counts = |v: &serde_json::Value| -> Counts {
        let map = v.as_object().unwrap();
        map.iter()
            .map(|(k, n)| (k.clone(), usize::try_from(n.as_u64().unwrap()).unwrap()))
            .collect()
    };
    for session in SESSIONS {
        let s = &summary[session];
        let decoded = decode_session(session);
        let [sim, viewer, sim_z, _] = count(&decoded);
        assert_eq!(s["datagrams"].as_u64().unwrap(), decoded.len() as u64);
        assert_eq!(sim, counts(&s["in"]), "{session} in");
        assert_eq!(viewer, counts(&s["out"]), "{session} out");
        assert_eq!(sim_z, counts(&s["zerocoded_in"]), "{session} zerocoded_in");

        // LayerData packets by layer type: LayerID.Type is 'L', 'M' or '7' (wind).
        let mut layers = Counts::new();
        for d in decoded.iter().filter(|d| d.msg.name == "LayerData") {
            let ty = d.msg.block("LayerID").unwrap().field("Type").unwrap();
            let ty = u8::try_from(ty.as_u64().unwrap()).unwrap();
            *layers.entry(char::from(ty).to_string()).or_default() += 1;
        }
        assert_eq!(layers, counts(&s["layerdata_packets"]), "{session} layers");
    }
    // Spot checks straight from the README table.
    let [sim, viewer, ..] = count(&decode_session("test-region"));
    assert_eq!(sim["LayerData"], 22);
    assert_eq!(sim["ObjectUpdateCompressed"], 5);
    assert_eq!(sim["SimStats"], 8);
    assert_eq!(viewer["AgentUpdate"], 26);
    assert_eq!(count(&decode_session("var-region"))[0]["LayerData"], 48);
}

fn first<'a>(decoded: &'a [Decoded], name: &str) -> &'a Decoded {
    decoded.iter().find(|d| d.msg.name == name).unwrap()
}

fn text(v: &FieldValue) -> &str {
    std::str::from_utf8(v.as_bytes().unwrap().strip_suffix(&[0]).unwrap()).unwrap()
}

#[test]
fn region_values_match_summary_json() {
    let summary: serde_json::Value =
        serde_json::from_str(&read_capture_file("SUMMARY.json")).unwrap();
    for session in SESSIONS {
        let region = &summary[session]["region"];
        let decoded = decode_session(session);
        let hs = &first(&decoded, "RegionHandshake").msg;
        let info = hs.block("RegionInfo").unwrap();
        assert_eq!(text(info.field("SimName").unwrap()), region["SimName"]);
        let water = region["WaterHeight"].as_f64().unwrap();
        assert_eq!(
            info.field("WaterHeight"),
            Some(&FieldValue::F32(water as f32))
        );
        let flags = region["RegionFlags"].as_u64().unwrap();
        assert_eq!(info.field("RegionFlags").unwrap().as_u64(), Some(flags));

        let amc = &first(&decoded, "AgentMovementComplete").msg;
        let data = amc.block("Data").unwrap();
        assert_eq!(
            data.field("Position"),
            Some(&FieldValue::Vec3(Vec3::new(128.0, 128.0, 30.0)))
        );
        let handle = region["RegionHandle"].as_u64().unwrap();
        assert_eq!(data.field("RegionHandle"), Some(&FieldValue::U64(handle)));
        let channel = amc
            .block("SimData")
            .unwrap()
            .field("ChannelVersion")
            .unwrap();
        assert_eq!(text(channel), region["ChannelVersion"]);
    }
}

/// Every cut of a golden body is an error, except a cut exactly where trailing `Variable`
/// blocks begin: the SL viewer reads those as omitted (see `opensim_omits_…` below), so that
/// prefix is a valid, shorter message. RegionHandshake (before `RegionInfo4`) and ObjectUpdate
/// (before `ObjectData`) have one such cut each; AgentMovementComplete and LayerData none.
#[test]
fn truncated_golden_bodies_are_rejected() {
    let decoded = decode_session("test-region-fresh");
    for (name, valid_cuts) in [
        ("RegionHandshake", vec!["RegionInfo4"]),
        ("ObjectUpdate", vec!["ObjectData"]),
        ("AgentMovementComplete", vec![]),
        ("LayerData", vec![]),
    ] {
        let d = first(&decoded, name);
        assert!(d.body.len() > 20, "{name}");
        let mut omitted_at = Vec::new();
        for n in 0..d.body.len() {
            let Ok(short) = generic::decode(d.id, &d.body[..n]) else {
                continue;
            };
            let def = template().by_id(d.id).unwrap();
            let first_omitted = &def.blocks[def.blocks.len() - short.omitted];
            omitted_at.push(first_omitted.name.as_str());
            assert_eq!(
                short.blocks[..],
                d.msg.blocks[..short.blocks.len()],
                "{name}"
            );
            assert_eq!(generic::encode(&short).unwrap(), &d.body[..n]);
        }
        assert_eq!(omitted_at, valid_cuts, "{name}: cuts that decode");
        let mut longer = d.body.clone();
        longer.push(0);
        assert_eq!(
            generic::decode(d.id, &longer),
            Err(MessageError::TrailingBytes(1))
        );
    }
}

/// OpenSim 0.9.2.2's `AvatarAppearance` (its libOpenMetaverse packet class predates the
/// template's `AttachmentBlock`) ends after `AppearanceHover`: the body stops where the
/// `AttachmentBlock` count byte would be. The SL viewer's reader takes a missing trailing
/// Variable block as 0 repetitions, so the generic codec decodes it with `omitted == 1` and
/// re-encodes it byte for byte. No other captured message omits anything.
#[test]
fn opensim_omits_avatar_appearance_attachment_block() {
    let mut seen = 0;
    for session in SESSIONS {
        for d in decode_session(session) {
            if d.msg.name != "AvatarAppearance" {
                assert_eq!(d.msg.omitted, 0, "{session} {}", d.msg.name);
                continue;
            }
            seen += 1;
            assert_eq!(d.msg.omitted, 1);
            assert!(d.msg.block("AttachmentBlock").is_none());
            let hover = d.msg.block("AppearanceHover").unwrap();
            assert_eq!(
                hover.field("HoverHeight"),
                Some(&FieldValue::Vec3(Vec3::ZERO))
            );
            assert_eq!(d.msg.blocks_named("VisualParam").count(), 218);
            // The body's last bytes are the hover block: count 1, then 12 zero bytes.
            assert_eq!(
                d.body[d.body.len() - 13..],
                [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            );
            assert_eq!(generic::encode(&d.msg).unwrap(), d.body);
            let mut complete = d.msg.clone();
            complete.omitted = 0;
            let mut with_count = d.body.clone();
            with_count.push(0);
            assert_eq!(generic::encode(&complete).unwrap(), with_count);
            assert!(d.msg.to_string().ends_with("(1 trailing block omitted)"));
        }
    }
    assert_eq!(seen, 3);
}

#[test]
fn corrupted_capture_bodies_never_panic() {
    for session in SESSIONS {
        for d in decode_session(session) {
            for at in 0..d.body.len() {
                for flip in [0x01, 0xFF] {
                    let mut body = d.body.clone();
                    body[at] ^= flip;
                    if let Ok(m) = generic::decode(d.id, &body) {
                        let again = generic::encode(&m).unwrap();
                        assert_eq!(again.len(), body.len());
                    }
                }
            }
        }
    }
}

#[test]
fn every_message_dumps() {
    for session in SESSIONS {
        for d in decode_session(session) {
            let dump = d.msg.to_string();
            assert!(
                dump.starts_with(&format!("{} ({})", d.msg.name, d.id)),
                "{dump}"
            );
            let def = template().by_id(d.id).unwrap();
            assert_eq!(def.name, d.msg.name);
        }
    }
    let decoded = decode_session("test-region");
    let dump = first(&decoded, "RegionHandshake").msg.to_string();
    assert!(
        dump.contains("\n  RegionInfo\n    RegionFlags: 336625702\n"),
        "{dump}"
    );
    assert!(dump.contains("\n    SimName: \"Test Region\"\n"), "{dump}");
    assert!(dump.contains("\n    WaterHeight: 20\n"), "{dump}");
    let dump = first(&decoded, "AgentMovementComplete").msg.to_string();
    assert!(
        dump.contains("RegionHandle: 1099511628032000 (0x0003e8000003e800)"),
        "{dump}"
    );
    assert!(dump.contains("Position: <128, 128, 30>"), "{dump}");
}
