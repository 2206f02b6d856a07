//! The `NameValue` text of an object: one `Name TYPE CLASS SENDTO value` entry per line
//! (PROTOCOL §3.9; SLV `indra/llmessage/llnamevalue.cpp`).
//!
//! Avatars carry `FirstName`, `LastName` and `Title`; attachment roots carry `AttachItemID`.
//! Parsing never fails: the text is decoded lossily, stops at the first NUL, and a line that does
//! not have the class and send-to words keeps everything after the type as its value.

use core::fmt;

/// Access classes a line may carry after its type (SLV `NameValueClassStrings`).
const CLASSES: [&str; 3] = ["R", "RW", "CB"];
/// Send-to words a line may carry after its class (SLV `NameValueSendtoStrings`).
const SEND_TO: [&str; 4] = ["S", "DS", "SV", "DSV"];

/// One name-value line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameValue {
    /// The name, e.g. `FirstName`.
    pub name: String,
    /// The type word, e.g. `STRING`.
    pub kind: String,
    /// The access class (`R`, `RW`, `CB`), empty when the line has none.
    pub class: String,
    /// Who it is sent to (`S`, `DS`, `SV`, `DSV`), empty when the line has none.
    pub send_to: String,
    /// The value: the rest of the line, which may contain spaces or be empty.
    pub value: String,
}

impl NameValue {
    /// A `STRING RW SV` entry, the form OpenSim uses for avatar names.
    pub fn string(name: &str, value: &str) -> Self {
        NameValue {
            name: name.to_owned(),
            kind: "STRING".to_owned(),
            class: "RW".to_owned(),
            send_to: "SV".to_owned(),
            value: value.to_owned(),
        }
    }

    /// Parses one line (without its newline).
    fn parse_line(line: &str) -> Option<Self> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (name, rest) = split_word(line);
        if name.is_empty() {
            return None;
        }
        let (kind, mut rest) = split_word(rest);
        let mut class = "";
        let mut send_to = "";
        let (word, after) = split_word(rest);
        if CLASSES.contains(&word) {
            class = word;
            rest = after;
            let (word, after) = split_word(rest);
            if SEND_TO.contains(&word) {
                send_to = word;
                rest = after;
            }
        }
        Some(NameValue {
            name: name.to_owned(),
            kind: kind.to_owned(),
            class: class.to_owned(),
            send_to: send_to.to_owned(),
            value: rest.to_owned(),
        })
    }
}

impl fmt::Display for NameValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.kind)?;
        for word in [&self.class, &self.send_to] {
            if !word.is_empty() {
                write!(f, " {word}")?;
            }
        }
        write!(f, " {}", self.value)
    }
}

/// Splits off the first space-separated word; the rest starts after exactly one separator.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    match s.find([' ', '\t']) {
        Some(at) => (s.get(..at).unwrap_or(s), s.get(at + 1..).unwrap_or("")),
        None => (s, ""),
    }
}

/// All name-value lines of an object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameValues {
    /// The entries in wire order.
    pub entries: Vec<NameValue>,
}

impl NameValues {
    /// Parses wire text (a trailing NUL and anything after the first NUL are ignored).
    pub fn parse(bytes: &[u8]) -> Self {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let text = String::from_utf8_lossy(bytes.get(..end).unwrap_or(bytes));
        NameValues {
            entries: text.split('\n').filter_map(NameValue::parse_line).collect(),
        }
    }

    /// The value of the first entry called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value.as_str())
    }

    /// An avatar's first name.
    pub fn first_name(&self) -> Option<&str> {
        self.get("FirstName")
    }

    /// An avatar's last name.
    pub fn last_name(&self) -> Option<&str> {
        self.get("LastName")
    }

    /// An avatar's group title (often empty).
    pub fn title(&self) -> Option<&str> {
        self.get("Title")
    }

    /// The wire text: lines joined by `\n`, NUL-terminated; empty when there are no entries.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let mut text = self
            .entries
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes();
        text.push(0);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AVATAR: &[u8] =
        b"FirstName STRING RW SV Capture\nLastName STRING RW SV Probe\nTitle STRING RW SV \0";

    #[test]
    fn parses_avatar_names() {
        let nv = NameValues::parse(AVATAR);
        assert_eq!(nv.entries.len(), 3);
        assert_eq!(nv.first_name(), Some("Capture"));
        assert_eq!(nv.last_name(), Some("Probe"));
        assert_eq!(nv.title(), Some(""));
        assert_eq!(nv.entries[0].kind, "STRING");
        assert_eq!(nv.entries[0].class, "RW");
        assert_eq!(nv.entries[0].send_to, "SV");
        assert_eq!(nv.get("AttachItemID"), None);
        assert_eq!(nv.to_bytes(), AVATAR);
    }

    #[test]
    fn values_keep_spaces_and_odd_lines_survive() {
        let nv = NameValues::parse(
            b"Title STRING RW SV Lord of the Rings\r\n\nBare\nOld STRING a b\0junk",
        );
        assert_eq!(nv.title(), Some("Lord of the Rings"));
        assert_eq!(nv.get("Bare"), Some(""));
        let old = &nv.entries[2];
        assert_eq!(
            (old.class.as_str(), old.send_to.as_str(), old.value.as_str()),
            ("", "", "a b")
        );
        assert_eq!(nv.entries.len(), 3);
        assert!(NameValues::parse(b"").entries.is_empty());
        assert!(NameValues::parse(b"").to_bytes().is_empty());
    }

    #[test]
    fn builds_avatar_text() {
        let nv = NameValues {
            entries: vec![
                NameValue::string("FirstName", "Capture"),
                NameValue::string("LastName", "Probe"),
                NameValue::string("Title", ""),
            ],
        };
        assert_eq!(nv.to_bytes(), AVATAR);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let nv = NameValues::parse(&bytes);
            // Re-encoding what was understood reads back the same entries.
            prop_assert_eq!(NameValues::parse(&nv.to_bytes()).entries.len(), nv.entries.len());
        }
    }
}
