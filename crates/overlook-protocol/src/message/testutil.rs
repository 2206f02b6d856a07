//! Test helpers for the typed messages: the table-driven `check` round trip, golden vectors from
//! the OpenSim 0.9.2.2 captures (`tests/data/opensim-0.9.2.2/`, read at run time), a
//! template oracle for each message's header constants, and proptest strategies.

use core::fmt::Debug;

use proptest::prelude::*;

use super::circuit::AgentIds;
use super::codec::{MessageError, MessageRepr};
use super::template::Template;
use crate::capture::{Direction, SESSIONS, decode_hex, read_udp_jsonl};
use crate::types::{Quat, Uuid, Vec3};
use crate::udp::{self, MessageId};

const TEMPLATE: &str = include_str!("template/message_template.msg");

/// The captured session's datagrams (`tests/data/opensim-0.9.2.2/SESSION.udp.jsonl`).
pub(crate) fn session(session: &str) -> Vec<crate::capture::CapturedDatagram> {
    read_udp_jsonl(&overlook_testdata::session_udp(session)).unwrap()
}

/// The incoming datagrams of a captured session as (message, zero-decoded body).
pub(crate) fn inbound_bodies(session_name: &str) -> Vec<(MessageId, Vec<u8>)> {
    crate::capture::inbound_bodies(&session(session_name)).unwrap()
}

/// The parsed messages of type `M` in a captured session, each with its body.
pub(crate) fn inbound_messages<M: MessageRepr>(session_name: &str) -> Vec<(M, Vec<u8>)> {
    crate::capture::inbound_messages(&session(session_name)).unwrap()
}

/// Hex digits (whitespace ignored) to bytes.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: String = s.split_whitespace().collect();
    decode_hex(&digits).expect("test hex")
}

/// Parses a template text and leaks it, for the generic decoder's `&'static Template`.
pub fn leak(text: &str) -> &'static Template {
    Box::leak(Box::new(Template::parse(text).unwrap()))
}

/// Emits `m` into a junk-filled buffer, compares with `expected_hex`, parses it back, and checks
/// that every truncation and one extra byte are rejected.
pub fn check<M: MessageRepr + PartialEq + Debug>(m: &M, expected_hex: &str) {
    let expected = hex(expected_hex);
    assert_eq!(m.buffer_len(), expected.len(), "{} buffer_len", M::NAME);
    let mut buf = vec![0xAA; expected.len() + 8];
    let n = m.emit(&mut buf).unwrap();
    assert_eq!(n, expected.len(), "{} emit length", M::NAME);
    assert_eq!(&buf[..n], &expected[..], "{} emitted bytes", M::NAME);
    assert!(
        buf[n..].iter().all(|&b| b == 0xAA),
        "{} wrote past its end",
        M::NAME
    );
    assert_eq!(M::parse(&expected).as_ref(), Ok(m), "{} parse", M::NAME);
    template_agrees::<M>(&expected);
    if let Some(short) = expected.len().checked_sub(1) {
        let mut small = vec![0xAA; short];
        assert_eq!(m.emit(&mut small), Err(MessageError::BufferTooSmall));
    }
    assert_rejects_damage::<M>(&expected);
}

/// Every strict prefix of `body` fails to parse; `body` plus one byte gives `TrailingBytes(1)`.
pub fn assert_rejects_damage<M: MessageRepr>(body: &[u8]) {
    for len in 0..body.len() {
        assert!(
            M::parse(&body[..len]).is_err(),
            "{} parsed a {len}-byte prefix of {} bytes",
            M::NAME,
            body.len()
        );
    }
    let mut longer = body.to_vec();
    longer.push(0);
    assert_eq!(
        M::parse(&longer).err(),
        Some(MessageError::TrailingBytes(1)),
        "{} with an extra byte",
        M::NAME
    );
}

/// `parse(emit(m)) == m`, with `buffer_len` equal to what was written, and the template as an
/// independent oracle: the emitted body decodes generically, to its exact length, and encodes
/// back to the same bytes.
pub fn round_trip<M: MessageRepr + PartialEq + Debug>(m: &M) {
    let bytes = m.to_bytes().unwrap();
    assert_eq!(bytes.len(), m.buffer_len(), "{} buffer_len", M::NAME);
    assert_eq!(M::parse(&bytes).as_ref(), Ok(m), "{} round trip", M::NAME);
    template_agrees::<M>(&bytes);
}

/// The template-driven generic decoder reads `body` as message `M` exactly (name, every byte)
/// and writes it back unchanged.
pub fn template_agrees<M: MessageRepr>(body: &[u8]) {
    let g = super::generic::decode(M::ID, body)
        .unwrap_or_else(|e| panic!("{}: template decode of typed emit failed: {e}", M::NAME));
    assert_eq!(g.name, M::NAME);
    assert_eq!(
        super::generic::encode(&g).unwrap(),
        body,
        "{}: template re-encode differs from typed emit",
        M::NAME
    );
}

/// One captured message.
#[derive(Debug)]
pub struct Golden<M> {
    /// The session it came from.
    pub session: &'static str,
    /// Which way it went.
    pub dir: Direction,
    /// The parsed message.
    pub msg: M,
}

/// Every captured message of type `M`, each checked to parse, re-emit byte for byte and reject
/// damage; the number per session and direction is checked against the capture README.
pub fn golden<M: MessageRepr + PartialEq + Debug>() -> Vec<Golden<M>> {
    let readme = overlook_testdata::read_text("README.md");
    let mut out = Vec::new();
    for session in SESSIONS {
        let text = overlook_testdata::session_udp(session);
        let mut counts = [0usize; 2];
        for d in read_udp_jsonl(&text).unwrap() {
            let packet = udp::decode(&d.bytes).unwrap();
            if packet.message != M::ID {
                continue;
            }
            let body: &[u8] = &packet.body;
            let msg = M::parse(body)
                .unwrap_or_else(|e| panic!("{} in {session} at t={}: {e}", M::NAME, d.t));
            assert_eq!(
                msg.to_bytes().unwrap(),
                body,
                "{} re-emit in {session}",
                M::NAME
            );
            assert_eq!(msg.buffer_len(), body.len());
            assert_rejects_damage::<M>(body);
            counts[usize::from(d.dir == Direction::Out)] += 1;
            out.push(Golden {
                session,
                dir: d.dir,
                msg,
            });
        }
        for (i, dir) in [Direction::In, Direction::Out].into_iter().enumerate() {
            assert_eq!(
                counts[i],
                readme_count(&readme, session, dir, M::NAME),
                "{} {dir} count in {session}",
                M::NAME
            );
        }
    }
    out
}

/// The captured messages of type `M` from one session and direction.
pub fn golden_in<'a, M>(all: &'a [Golden<M>], session: &str, dir: Direction) -> Vec<&'a M> {
    all.iter()
        .filter(|g| g.session == session && g.dir == dir)
        .map(|g| &g.msg)
        .collect()
}

/// The README's per-session message count (`Name N` or `Name N [Z k]`; 0 when not listed).
fn readme_count(readme: &str, session: &str, dir: Direction, name: &str) -> usize {
    let heading = format!("### `{session}`");
    let row = match dir {
        Direction::In => "| sim -> viewer |",
        Direction::Out => "| viewer -> sim |",
    };
    let line = readme
        .lines()
        .skip_while(|l| !l.starts_with(&heading))
        .skip(1)
        .take_while(|l| !l.starts_with("### "))
        .find_map(|l| l.strip_prefix(row))
        .unwrap_or_else(|| panic!("README has no {row} row for {session}"));
    line.trim_end_matches(['|', ' '])
        .split(", ")
        .find_map(|item| {
            let mut words = item.split_whitespace();
            (words.next() == Some(name)).then(|| words.next().unwrap().parse().unwrap())
        })
        .unwrap_or(0)
}

/// Checks `NAME`, `ID` and `ZEROCODED` against the template's header line for the message.
pub fn assert_template_header<M: MessageRepr>() {
    let words: Vec<&str> = TEMPLATE
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| {
            w.first() == Some(&M::NAME)
                && matches!(w.get(1), Some(&("High" | "Medium" | "Low" | "Fixed")))
        })
        .unwrap_or_else(|| panic!("{} not in the template", M::NAME));
    let number = match words[2].strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).unwrap(),
        None => words[2].parse().unwrap(),
    };
    let id = match words[1] {
        "High" => MessageId::High(u8::try_from(number).unwrap()),
        "Medium" => MessageId::Medium(u8::try_from(number).unwrap()),
        "Low" => MessageId::Low(u16::try_from(number).unwrap()),
        _ => MessageId::Fixed(number),
    };
    assert_eq!(M::ID, id, "{} number", M::NAME);
    assert_eq!(M::ZEROCODED, words[4] == "Zerocoded", "{} coding", M::NAME);
}

/// Any UUID.
pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<[u8; 16]>().prop_map(Uuid)
}

/// Any agent / session id pair.
pub fn agent_ids() -> impl Strategy<Value = AgentIds> {
    (uuid(), uuid()).prop_map(|(agent_id, session_id)| AgentIds {
        agent_id,
        session_id,
    })
}

/// Any finite `f32` (both signs, normal, subnormal, zero).
pub fn finite() -> impl Strategy<Value = f32> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

/// Any vector of finite components.
pub fn vec3() -> impl Strategy<Value = Vec3> {
    (finite(), finite(), finite()).prop_map(|(x, y, z)| Vec3::new(x, y, z))
}

/// A unit quaternion as it comes off the wire: from the normalised x, y, z with `w ≥ 0`.
pub fn quat() -> impl Strategy<Value = Quat> {
    prop::array::uniform4(-1.0f32..1.0).prop_map(|[x, y, z, w]| {
        let n = (x * x + y * y + z * z + w * w).sqrt();
        if n < 1e-3 {
            return Quat::IDENTITY;
        }
        let s = if w < 0.0 { -n } else { n };
        Quat::from_xyz(x / s, y / s, z / s)
    })
}

/// Text without NUL of at most `max_bytes` UTF-8 bytes.
pub fn text(max_bytes: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..=max_bytes / 4)
        .prop_map(|cs| cs.into_iter().filter(|&c| c != '\0').collect())
}

/// `AgentIds` of 0x11 bytes and 0x22 bytes, and their wire form.
pub const IDS_HEX: &str = concat!(
    "11111111 11111111 11111111 11111111 ",
    "22222222 22222222 22222222 22222222 "
);

/// The `AgentIds` that [`IDS_HEX`] encodes.
pub fn ids() -> AgentIds {
    AgentIds {
        agent_id: Uuid([0x11; 16]),
        session_id: Uuid([0x22; 16]),
    }
}

/// The capturing client's agent id (capture README).
pub const CAPTURE_AGENT: &str = "7c0ffee0-0000-4000-8000-000000000001";

/// Arbitrary bytes (for the never-panic property).
pub fn junk() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..400)
}
