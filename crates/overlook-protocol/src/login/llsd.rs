//! The seed capability exchange in LLSD-XML (PROTOCOL §1.5).
//!
//! The viewer POSTs an LLSD array of capability names (`Content-Type: application/llsd+xml`) to
//! the seed URL from the login reply and gets back an LLSD map of name → URL; OpenSim only sends
//! the region's objects after answering it. Both directions are here: the viewer writes
//! [`seed_request_xml`] and reads [`parse_seed_response`]; a region writes [`seed_response_xml`]
//! and reads [`parse_seed_request`]. Only the LLSD needed for this is handled: strings and URIs,
//! with other value types skipped. Reading never panics on input: every problem is a
//! [`LoginError`].

use std::collections::BTreeMap;

use super::LoginError;
use super::xml::{Cursor, Tok, push_text_element, unexpected};

/// The seed request body: `<llsd><array><string>name</string>…</array></llsd>`, with the XML
/// declaration viewers send.
pub fn seed_request_xml(names: &[&str]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><llsd><array>");
    for name in names {
        push_text_element(&mut out, "string", name);
    }
    out.push_str("</array></llsd>");
    out
}

/// Reads a seed request: the capability names in order. `<string>` and `<uri>` items count;
/// other LLSD values in the array are skipped. Anything but an array is an error (OpenSim answers
/// 400 to that).
pub fn parse_seed_request(bytes: &[u8]) -> Result<Vec<String>, LoginError> {
    let mut c = Cursor::new(bytes)?;
    c.expect_open("llsd")?;
    c.expect_open("array")?;
    let mut names = Vec::new();
    loop {
        match c.next_significant()? {
            Tok::Open(kind) if is_text_kind(&kind) => names.push(c.text_until_close(&kind)?),
            Tok::Open(_) => c.skip_element()?,
            Tok::Close(name) if name == "array" => break,
            other => return Err(unexpected("an array item or </array>", &other)),
        }
    }
    c.expect_close("llsd")?;
    c.expect_eof()?;
    Ok(names)
}

/// The seed response body, as OpenSim writes it: `<llsd><map><key>name</key><string>url</string>
/// …</map></llsd>` (no XML declaration), entries in the given order.
pub fn seed_response_xml(caps: &[(&str, &str)]) -> String {
    let mut out = String::from("<llsd><map>");
    for (name, url) in caps {
        push_text_element(&mut out, "key", name);
        push_text_element(&mut out, "string", url);
    }
    out.push_str("</map></llsd>");
    out
}

/// Reads a seed response: capability name → URL. Values may be `<string>` or `<uri>`; keys whose
/// value is of another LLSD type are skipped. A repeated key keeps its last value.
pub fn parse_seed_response(bytes: &[u8]) -> Result<BTreeMap<String, String>, LoginError> {
    Ok(seed_response_entries(bytes)?.into_iter().collect())
}

/// [`parse_seed_response`] in document order.
fn seed_response_entries(bytes: &[u8]) -> Result<Vec<(String, String)>, LoginError> {
    let mut c = Cursor::new(bytes)?;
    c.expect_open("llsd")?;
    c.expect_open("map")?;
    let mut entries = Vec::new();
    loop {
        match c.next_significant()? {
            Tok::Open(name) if name == "key" => {
                let key = c.text_until_close("key")?;
                match c.next_significant()? {
                    Tok::Open(kind) if is_text_kind(&kind) => {
                        entries.push((key, c.text_until_close(&kind)?));
                    }
                    Tok::Open(kind) if kind != "key" => c.skip_element()?,
                    other => return Err(unexpected("the value of a <key>", &other)),
                }
            }
            Tok::Close(name) if name == "map" => break,
            other => return Err(unexpected("<key> or </map>", &other)),
        }
    }
    c.expect_close("llsd")?;
    c.expect_eof()?;
    Ok(entries)
}

/// LLSD value elements whose text is taken as a name or URL.
fn is_text_kind(kind: &str) -> bool {
    kind == "string" || kind == "uri"
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::capture::SESSIONS;
    use crate::login::test_support::capture;
    use crate::login::xml::representable;
    use proptest::prelude::*;

    const REQUESTED: [&str; 14] = [
        "EventQueueGet",
        "SimulatorFeatures",
        "FetchInventoryDescendents2",
        "FetchLib2",
        "GetTexture",
        "GetMesh",
        "GetMesh2",
        "ViewerAsset",
        "UpdateAgentInformation",
        "UpdateAgentLanguage",
        "GetDisplayNames",
        "ObjectMedia",
        "ParcelPropertiesUpdate",
        "SendPostcard",
    ];

    #[test]
    fn capture_seed_requests_parse_and_are_rewritten_byte_for_byte() {
        for session in SESSIONS {
            let bytes = capture(&format!("{session}.seed-request.xml"));
            let names = parse_seed_request(&bytes).unwrap();
            assert_eq!(names, REQUESTED);
            assert_eq!(seed_request_xml(&REQUESTED).as_bytes(), bytes.as_slice());
        }
    }

    #[test]
    fn capture_seed_responses_parse_and_are_rewritten_byte_for_byte() {
        for session in SESSIONS {
            let bytes = capture(&format!("{session}.seed-response.xml"));
            let caps = parse_seed_response(&bytes).unwrap();
            assert_eq!(caps.len(), 13, "{session}");
            // Everything asked for was granted except SendPostcard.
            let granted: Vec<&str> = REQUESTED[..13].to_vec();
            assert!(
                granted.iter().all(|name| caps.contains_key(*name)),
                "{session}"
            );
            assert!(!caps.contains_key("SendPostcard"));
            assert!(caps["EventQueueGet"].starts_with("http://127.0.0.1:9000/CE/"));
            assert!(
                caps.values()
                    .all(|url| url.starts_with("http://127.0.0.1:9000/"))
            );
            let entries = seed_response_entries(&bytes).unwrap();
            let pairs: Vec<(&str, &str)> = entries
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(seed_response_xml(&pairs).as_bytes(), bytes.as_slice());
        }
        let caps = parse_seed_response(&capture("test-region.seed-response.xml")).unwrap();
        assert_eq!(
            caps["EventQueueGet"],
            "http://127.0.0.1:9000/CE/4634cced-28af-4505-9a88-c996a36a816a"
        );
    }

    #[test]
    fn other_value_types_are_skipped_and_uri_accepted() {
        let response = "<?xml version=\"1.0\"?>\n<llsd>\n <map>\n  <key>A</key><uri>http://a/</uri>\n\
            <key>N</key><integer>5</integer><key>M</key><map><key>x</key><string>y</string></map>\
            <key>U</key><undef/><key>E</key><string/><key>A</key><string>http://a2/?x=1&amp;y=2</string>\
            </map>\n</llsd>\n";
        let caps = parse_seed_response(response.as_bytes()).unwrap();
        assert_eq!(caps.len(), 2);
        assert_eq!(caps["A"], "http://a2/?x=1&y=2");
        assert_eq!(caps["E"], "");
        let request = "<llsd><array><string>A</string><integer>1</integer><uri>B</uri>\
                       <array><string>C</string></array></array></llsd>";
        assert_eq!(parse_seed_request(request.as_bytes()).unwrap(), ["A", "B"]);
        assert_eq!(
            parse_seed_request(b"<llsd><array/></llsd>").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn malformed_llsd_is_an_error() {
        let structure = [
            &b"<llsd><map/></llsd>"[..],
            b"<llsd><string>x</string></llsd>",
            b"<notllsd><array/></notllsd>",
            b"<llsd><array>text</array></llsd>",
        ];
        for bytes in structure {
            assert!(matches!(
                parse_seed_request(bytes),
                Err(LoginError::Structure(_))
            ));
        }
        let response_errors = [
            &b"<llsd><array/></llsd>"[..],
            b"<llsd><map><key>A</key></map></llsd>",
            b"<llsd><map><key>A</key><key>B</key><string>u</string></map></llsd>",
            b"<llsd><map><string>u</string></map></llsd>",
        ];
        for bytes in response_errors {
            assert!(matches!(
                parse_seed_response(bytes),
                Err(LoginError::Structure(_))
            ));
        }
        assert_eq!(
            parse_seed_response(b"<llsd><map><key>A</key>"),
            Err(LoginError::Truncated)
        );
        assert!(matches!(
            parse_seed_request(b"<llsd><array><string>A</str"),
            Err(LoginError::Xml(_))
        ));
    }

    #[test]
    fn special_characters_are_escaped() {
        let xml = seed_request_xml(&["a&b", "<c>", "\"d'"]);
        assert!(xml.contains("<string>a&amp;b</string><string>&lt;c&gt;</string>"));
        assert_eq!(
            parse_seed_request(xml.as_bytes()).unwrap(),
            ["a&b", "<c>", "\"d'"]
        );
        let xml = seed_response_xml(&[("k&", "http://x/?a=1&b=<2>")]);
        assert_eq!(
            parse_seed_response(xml.as_bytes()).unwrap()["k&"],
            "http://x/?a=1&b=<2>"
        );
    }

    proptest! {
        #[test]
        fn seed_requests_round_trip(names in proptest::collection::vec(any::<String>(), 0..8)) {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let want: Vec<String> = names.iter().map(|n| representable(n)).collect();
            prop_assert_eq!(parse_seed_request(seed_request_xml(&refs).as_bytes()).unwrap(), want);
        }

        #[test]
        fn seed_responses_round_trip(
            caps in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..8)
        ) {
            let caps: BTreeMap<String, String> =
                caps.iter().map(|(k, v)| (representable(k), representable(v))).collect();
            let pairs: Vec<(&str, &str)> = caps.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            prop_assert_eq!(parse_seed_response(seed_response_xml(&pairs).as_bytes()).unwrap(), caps);
        }
    }
}
