//! Event-queue replies (LLSD-XML, PROTOCOL §13): every capability URL they name becomes a relay
//! URL of the same session, and every sim address they name (`EnableSimulator`'s `IP`/`Port`,
//! `TeleportFinish`'s and `CrossedRegion`'s `SimIP`/`SimPort`, `EstablishAgentCommunication`'s
//! `sim-ip-and-port`) becomes an allowed UDP destination of the session.
//!
//! The reply is rewritten as a stream of XML events: a `<string>` or `<uri>` whose text is an
//! `http(s)://` URL is replaced (by an empty string when the session has no room for another
//! capability); everything else is written back as it came.

use std::net::{Ipv4Addr, SocketAddr};

use base64::Engine;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use crate::http::cap_url;
use crate::state::{CapKind, RelayState, Tables};

/// Keys whose URL is a seed capability.
const SEED_KEYS: [&str; 2] = ["seed-capability", "SeedCapability"];

/// One open `<map>`: the sim address parts seen in it.
#[derive(Default)]
struct MapFrame {
    ip: Option<Ipv4Addr>,
    port: Option<u16>,
}

/// A value element being read: its start tag, the events inside and its text.
struct Value {
    start: BytesStart<'static>,
    inner: Vec<Event<'static>>,
    text: String,
}

/// Rewrites an event-queue reply for `session`; `None` when it is not well-formed XML.
pub(crate) fn rewrite(
    state: &RelayState,
    session: &str,
    base: &str,
    body: &[u8],
) -> Option<Vec<u8>> {
    let limits = *state.limits();
    let mut tables = state.tables();
    let mut learned = Vec::new();
    let out = rewrite_with(body, &mut learned, |url, kind| {
        tables
            .cap_token(session, url, kind, limits.max_caps)
            .map(|t| cap_url(base, &t))
    })?;
    for addr in learned {
        Tables::allow(&mut tables, session, addr, limits.max_sims);
    }
    Some(out)
}

/// The rewrite itself: `mint` gives the relay URL for a grid URL; sim addresses go to
/// `learned`.
pub(crate) fn rewrite_with(
    body: &[u8],
    learned: &mut Vec<SocketAddr>,
    mut mint: impl FnMut(&str, CapKind) -> Option<String>,
) -> Option<Vec<u8>> {
    let mut reader = Reader::from_reader(body);
    let mut writer = Writer::new(Vec::with_capacity(body.len()));
    let mut maps: Vec<MapFrame> = Vec::new();
    let mut key: Option<String> = None;
    let mut last_key = String::new();
    let mut value: Option<Value> = None;
    loop {
        let event = reader.read_event().ok()?;
        if let Some(v) = value.as_mut() {
            match event {
                Event::End(end) if end.local_name().as_ref() == v.start.local_name().as_ref() => {
                    let v = value.take()?;
                    finish_value(
                        &mut writer,
                        v,
                        &last_key,
                        maps.last_mut(),
                        learned,
                        &mut mint,
                    )?;
                }
                Event::Text(t) => {
                    v.text.push_str(&t.xml10_content());
                    v.inner.push(Event::Text(t.into_owned()));
                }
                Event::CData(t) => {
                    v.text.push_str(&t.xml10_content());
                    v.inner.push(Event::CData(t.into_owned()));
                }
                Event::GeneralRef(r) => {
                    v.text.push(resolve(&r)?);
                    v.inner.push(Event::GeneralRef(r.into_owned()));
                }
                Event::Eof => return None,
                other => v.inner.push(other.into_owned()),
            }
            continue;
        }
        match &event {
            Event::Eof => break,
            Event::Start(tag) => match tag.local_name().as_ref() {
                "map" => maps.push(MapFrame::default()),
                "key" => key = Some(String::new()),
                "string" | "uri" | "binary" | "integer" => {
                    value = Some(Value {
                        start: tag.clone().into_owned(),
                        inner: Vec::new(),
                        text: String::new(),
                    });
                    continue;
                }
                _ => {}
            },
            Event::End(tag) => match tag.local_name().as_ref() {
                "map" => {
                    if let Some(MapFrame {
                        ip: Some(ip),
                        port: Some(port),
                    }) = maps.pop()
                    {
                        learned.push(SocketAddr::from((ip, port)));
                    }
                }
                "key" => last_key = key.take().unwrap_or_default(),
                _ => {}
            },
            Event::Text(t) => {
                if let Some(k) = key.as_mut() {
                    k.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(k) = key.as_mut() {
                    k.push(resolve(r)?);
                }
            }
            _ => {}
        }
        writer.write_event(event).ok()?;
    }
    Some(writer.into_inner())
}

/// The character an entity reference stands for.
fn resolve(r: &quick_xml::events::BytesRef<'_>) -> Option<char> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => Some(c),
        Ok(None) => match r.as_ref() {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            "quot" => Some('"'),
            _ => None,
        },
        Err(_) => None,
    }
}

/// Writes a value element back, its URL replaced; notes the sim address parts it holds.
fn finish_value(
    writer: &mut Writer<Vec<u8>>,
    v: Value,
    key: &str,
    map: Option<&mut MapFrame>,
    learned: &mut Vec<SocketAddr>,
    mint: &mut impl FnMut(&str, CapKind) -> Option<String>,
) -> Option<()> {
    let name = v.start.local_name().as_ref().to_owned();
    let text = v.text.trim();
    let is_text = name == "string" || name == "uri";
    if is_text && (text.starts_with("http://") || text.starts_with("https://")) {
        let cap = if SEED_KEYS.contains(&key) {
            CapKind::Seed
        } else {
            CapKind::Plain
        };
        let url = mint(text, cap).unwrap_or_default();
        writer.write_event(Event::Start(v.start)).ok()?;
        writer.write_event(Event::Text(BytesText::new(&url))).ok()?;
        writer.write_event(Event::End(BytesEnd::new(name))).ok()?;
        return Some(());
    }
    if let Some(map) = map {
        match (key, name.as_str()) {
            ("IP" | "SimIP", "binary") => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok();
                if let Some(octets) = bytes.and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                    map.ip = Some(Ipv4Addr::from(octets));
                }
            }
            ("IP" | "SimIP", "string") => map.ip = text.parse().ok(),
            ("IP" | "SimIP", "integer") => {
                // LLSD integers are signed 32-bit: an address in network order, read as i32.
                map.ip = text
                    .parse::<i32>()
                    .ok()
                    .map(|n| Ipv4Addr::from(n.to_be_bytes()));
            }
            ("Port" | "SimPort", "integer") => map.port = text.parse().ok(),
            ("sim-ip-and-port", "string") => {
                if let Ok(addr) = text.parse::<SocketAddr>() {
                    learned.push(addr);
                }
            }
            _ => {}
        }
    } else if key == "sim-ip-and-port"
        && let Ok(addr) = text.parse::<SocketAddr>()
    {
        learned.push(addr);
    }
    writer.write_event(Event::Start(v.start)).ok()?;
    for e in v.inner {
        writer.write_event(e).ok()?;
    }
    writer.write_event(Event::End(BytesEnd::new(name))).ok()?;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = r#"<?xml version="1.0"?><llsd><map><key>events</key><array>
<map><key>message</key><string>EnableSimulator</string><key>body</key><map><key>SimulatorInfo</key><array><map><key>Handle</key><binary encoding="base64">AAEAAAABAAA=</binary><key>IP</key><binary encoding="base64">CgAAAg==</binary><key>Port</key><integer>9001</integer></map></array></map></map>
<map><key>message</key><string>EstablishAgentCommunication</string><key>body</key><map><key>agent-id</key><uuid>11111111-2222-3333-4444-555555555555</uuid><key>sim-ip-and-port</key><string>10.0.0.2:9001</string><key>seed-capability</key><string>http://grid:9001/CAPS/seed-a/</string></map></map>
<map><key>message</key><string>TeleportFinish</string><key>body</key><map><key>Info</key><array><map><key>SeedCapability</key><uri>https://grid:9002/CAPS/seed-b/?x=1&amp;y=2</uri><key>SimIP</key><binary encoding="base64">CgAAAw==</binary><key>SimPort</key><integer>9002</integer><key>Note</key><string>a &lt;b&gt; c</string></map></array></map></map>
</array><key>id</key><integer>3</integer></map></llsd>"#;

    #[test]
    fn rewrites_urls_and_learns_sims() {
        let mut minted = Vec::new();
        let mut learned = Vec::new();
        let out = rewrite_with(REPLY.as_bytes(), &mut learned, |url, kind| {
            minted.push((url.to_owned(), kind));
            Some(format!("http://relay/relay/cap/{}", minted.len()))
        })
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            minted,
            [
                ("http://grid:9001/CAPS/seed-a/".to_owned(), CapKind::Seed),
                (
                    "https://grid:9002/CAPS/seed-b/?x=1&y=2".to_owned(),
                    CapKind::Seed
                ),
            ]
        );
        assert!(!out.contains("CAPS"), "{out}");
        assert!(
            out.contains("<string>http://relay/relay/cap/1</string>"),
            "{out}"
        );
        assert!(out.contains("<uri>http://relay/relay/cap/2</uri>"), "{out}");
        // Everything else is as it came.
        assert!(out.contains("<string>a &lt;b&gt; c</string>"), "{out}");
        assert!(out.contains("<integer>9001</integer>"), "{out}");
        assert!(
            out.contains(r#"<binary encoding="base64">CgAAAg==</binary>"#),
            "{out}"
        );
        let v = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            learned,
            [v("10.0.0.2:9001"), v("10.0.0.2:9001"), v("10.0.0.3:9002")]
        );
    }

    #[test]
    fn a_url_without_room_becomes_empty_and_bad_xml_is_refused() {
        let mut learned = Vec::new();
        let out = rewrite_with(REPLY.as_bytes(), &mut learned, |_, _| None).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("CAPS"), "{out}");
        assert!(out.contains("<uri></uri>"), "{out}");
        assert!(
            rewrite_with(
                b"<llsd><map><key>a</key><string>x</map></llsd>",
                &mut learned,
                |_, _| None
            )
            .is_none()
        );
        assert!(rewrite_with(b"<llsd><string>never closed", &mut learned, |_, _| None).is_none());
    }
}
