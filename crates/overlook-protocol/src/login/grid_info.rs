//! `get_grid_info`: the grid's self-description (PROTOCOL §11).
//!
//! `GET <grid>/get_grid_info` answers `<gridinfo><login>http://host:port/</login><gridname>…
//! </gridname>…</gridinfo>`. Viewers take `login` as the login URI and `gridname` as the display
//! name; OpenSim's `GridInfoService` adds keys such as `about`, `register`, `help`, `password`,
//! `economy` and `platform`, kept here in [`GridInfo::other`]. Reading never panics on input:
//! every problem is a [`LoginError`].

use std::collections::BTreeMap;

use super::LoginError;
use super::xml::{Cursor, Tok, push_text_element, unexpected};

/// The keys [`GridInfo`] has fields for; every other key goes to [`GridInfo::other`].
const KNOWN_KEYS: [&str; 4] = ["login", "gridname", "gridnick", "welcome"];

/// What `get_grid_info` says about a grid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GridInfo {
    /// The login URI (`login`).
    pub login: Option<String>,
    /// The grid's display name (`gridname`).
    pub gridname: Option<String>,
    /// The grid's short name (`gridnick`).
    pub gridnick: Option<String>,
    /// The URL of the grid's welcome/splash page (`welcome`).
    pub welcome: Option<String>,
    /// Every other key with its text, e.g. `platform` → `OpenSim`.
    pub other: BTreeMap<String, String>,
}

impl GridInfo {
    /// The document as OpenSim writes it: the known keys first, then [`GridInfo::other`] in key
    /// order. Keys of `other` that are not plain XML names, or that repeat a known key, are left
    /// out (they could not be read back as written).
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\"?><gridinfo>");
        let known = [&self.login, &self.gridname, &self.gridnick, &self.welcome];
        for (key, value) in KNOWN_KEYS.iter().zip(known) {
            if let Some(value) = value {
                push_text_element(&mut out, key, value);
            }
        }
        for (key, value) in &self.other {
            if is_plain_name(key) && !KNOWN_KEYS.contains(&key.as_str()) {
                push_text_element(&mut out, key, value);
            }
        }
        out.push_str("</gridinfo>");
        out
    }
}

/// Reads a `get_grid_info` answer. Values are trimmed of surrounding whitespace (OpenSim copies
/// them from its ini files); an element with child elements is skipped; a repeated key keeps its
/// last value.
pub fn parse_grid_info(bytes: &[u8]) -> Result<GridInfo, LoginError> {
    let mut c = Cursor::new(bytes)?;
    c.expect_open("gridinfo")?;
    let mut info = GridInfo::default();
    loop {
        match c.next_significant()? {
            Tok::Open(key) => {
                let Some(value) = element_text(&mut c, &key)? else {
                    continue;
                };
                let value = value.trim_matches([' ', '\t', '\n', '\r']).to_owned();
                match key.as_str() {
                    "login" => info.login = Some(value),
                    "gridname" => info.gridname = Some(value),
                    "gridnick" => info.gridnick = Some(value),
                    "welcome" => info.welcome = Some(value),
                    _ => {
                        info.other.insert(key, value);
                    }
                }
            }
            Tok::Close(name) if name == "gridinfo" => break,
            other => return Err(unexpected("an element or </gridinfo>", &other)),
        }
    }
    c.expect_eof()?;
    Ok(info)
}

/// After `<key>`: its text up to `</key>`, or `None` (the element skipped) when it has children.
fn element_text(c: &mut Cursor<'_>, key: &str) -> Result<Option<String>, LoginError> {
    let mut text = String::new();
    loop {
        match c.next_tok()? {
            Tok::Text(t) => text.push_str(&t),
            Tok::Close(name) if name == key => return Ok(Some(text)),
            Tok::Open(_) => {
                c.skip_element()?;
                c.skip_element()?;
                return Ok(None);
            }
            other => return Err(unexpected(&format!("text or </{key}>"), &other)),
        }
    }
}

/// True for names written as-is as an element name: a letter or `_`, then letters, digits,
/// `_`, `-` or `.` (no `:`, no `xml` prefix).
fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::login::xml::representable;
    use proptest::prelude::*;

    /// Shaped like OpenSim's `GridInfoHandlers` output: one element per line.
    const OPENSIM: &str = "<gridinfo>\n<platform>OpenSim</platform>\n\
        <login>http://127.0.0.1:9000/</login>\n<gridname>Overlook Test &amp; Grid</gridname>\n\
        <gridnick>overlook</gridnick>\n<welcome>http://127.0.0.1:9000/welcome</welcome>\n\
        <economy>http://127.0.0.1:9000/</economy>\n<about> http://127.0.0.1:9000/about </about>\n\
        <register/>\n</gridinfo>\n";

    #[test]
    fn opensim_shaped_grid_info_parses() {
        let info = parse_grid_info(OPENSIM.as_bytes()).unwrap();
        assert_eq!(info.login.as_deref(), Some("http://127.0.0.1:9000/"));
        assert_eq!(info.gridname.as_deref(), Some("Overlook Test & Grid"));
        assert_eq!(info.gridnick.as_deref(), Some("overlook"));
        assert_eq!(
            info.welcome.as_deref(),
            Some("http://127.0.0.1:9000/welcome")
        );
        assert_eq!(info.other.len(), 4);
        assert_eq!(info.other["platform"], "OpenSim");
        assert_eq!(info.other["about"], "http://127.0.0.1:9000/about");
        assert_eq!(info.other["register"], "");
        assert_eq!(parse_grid_info(info.to_xml().as_bytes()).unwrap(), info);
    }

    #[test]
    fn sparse_and_odd_documents() {
        let info = parse_grid_info(b"<?xml version=\"1.0\"?><gridinfo/>").unwrap();
        assert_eq!(info, GridInfo::default());
        let nested = b"<gridinfo><extra><a>1</a></extra><gridname>G</gridname></gridinfo>";
        let info = parse_grid_info(nested).unwrap();
        assert_eq!(info.gridname.as_deref(), Some("G"));
        assert!(info.other.is_empty());
        let twice = b"<gridinfo><login>a</login><login>b</login></gridinfo>";
        assert_eq!(parse_grid_info(twice).unwrap().login.as_deref(), Some("b"));
    }

    #[test]
    fn malformed_grid_info_is_an_error() {
        assert!(matches!(
            parse_grid_info(b"<html/>"),
            Err(LoginError::Structure(_))
        ));
        assert!(matches!(
            parse_grid_info(b"<gridinfo>x</gridinfo>"),
            Err(LoginError::Structure(_))
        ));
        assert_eq!(
            parse_grid_info(b"<gridinfo><login>http://"),
            Err(LoginError::Truncated)
        );
        assert!(matches!(
            parse_grid_info(b"<gridinfo><login></gridinfo>"),
            Err(LoginError::Xml(_))
        ));
        assert_eq!(parse_grid_info(b"\xff"), Err(LoginError::NotUtf8));
    }

    #[test]
    fn writer_escapes_and_drops_unwritable_keys() {
        let mut info = GridInfo {
            login: Some("http://h/?a=1&b=2".into()),
            gridname: Some("<Grid> \"quoted\"".into()),
            ..GridInfo::default()
        };
        info.other.insert("bad key".into(), "x".into());
        info.other.insert("login".into(), "shadow".into());
        info.other.insert("xmlish".into(), "x".into());
        info.other.insert("help".into(), "y".into());
        let xml = info.to_xml();
        assert!(xml.contains("<login>http://h/?a=1&amp;b=2</login>"));
        let back = parse_grid_info(xml.as_bytes()).unwrap();
        assert_eq!(back.login, info.login);
        assert_eq!(back.gridname, info.gridname);
        assert_eq!(
            back.other.into_iter().collect::<Vec<_>>(),
            [("help".into(), "y".into())]
        );
    }

    fn arb_value() -> impl Strategy<Value = String> {
        any::<String>().prop_map(|s| {
            representable(&s)
                .trim_matches([' ', '\t', '\n', '\r'])
                .to_owned()
        })
    }

    proptest! {
        #[test]
        fn grid_info_round_trips(
            known in proptest::collection::vec(proptest::option::of(arb_value()), 4),
            other in proptest::collection::btree_map("[a-z_][a-z0-9_.-]{0,10}", arb_value(), 0..5),
        ) {
            let other = other
                .into_iter()
                .filter(|(k, _)| !KNOWN_KEYS.contains(&k.as_str()) && !k.starts_with("xml"))
                .collect();
            let info = GridInfo {
                login: known[0].clone(),
                gridname: known[1].clone(),
                gridnick: known[2].clone(),
                welcome: known[3].clone(),
                other,
            };
            prop_assert_eq!(parse_grid_info(info.to_xml().as_bytes()).unwrap(), info);
        }
    }
}
