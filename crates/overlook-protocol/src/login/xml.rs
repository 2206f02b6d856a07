//! The XML plumbing shared by the login parsers: a token cursor over quick-xml and text escaping.
//!
//! [`Cursor`] turns quick-xml's reader events into four tokens — open tag, close tag, text and
//! end of document — with text pieces, entity references and CDATA merged into one string, and
//! declarations, comments, processing instructions and doctypes skipped. Self-closing tags come
//! out as an open followed by a close. It never panics on input: every problem is a
//! [`LoginError`].

use std::collections::VecDeque;

use quick_xml::Reader;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};

use super::LoginError;

/// One token of an XML document, as the login parsers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `<name …>` (or the first half of `<name/>`).
    Open(String),
    /// `</name>` (or the second half of `<name/>`).
    Close(String),
    /// Character data with entities resolved and line ends normalised.
    Text(String),
    /// The end of the document.
    Eof,
}

impl Tok {
    /// A short description for error messages.
    fn describe(&self) -> String {
        match self {
            Tok::Open(name) => format!("<{name}>"),
            Tok::Close(name) => format!("</{name}>"),
            Tok::Text(text) => format!("text {:?}", shorten(text)),
            Tok::Eof => "end of document".to_owned(),
        }
    }
}

/// The first few characters of `text`, for error messages.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// A pull cursor over an XML document held in memory.
pub(crate) struct Cursor<'a> {
    reader: Reader<&'a [u8]>,
    queued: VecDeque<Tok>,
}

impl<'a> Cursor<'a> {
    /// Starts reading `bytes`, which must be UTF-8 (a leading byte-order mark is skipped).
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Self, LoginError> {
        let text = core::str::from_utf8(bytes).map_err(|_| LoginError::NotUtf8)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        Ok(Cursor {
            reader,
            queued: VecDeque::new(),
        })
    }

    /// The next token, text merged across entity references, CDATA sections and comments.
    pub(crate) fn next_tok(&mut self) -> Result<Tok, LoginError> {
        if let Some(tok) = self.queued.pop_front() {
            return Ok(tok);
        }
        let mut text: Option<String> = None;
        loop {
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = self.reader.error_position();
                    return Err(LoginError::Xml(format!("{e} (at byte {at})")));
                }
            };
            let tok = match event {
                Event::Text(t) => {
                    text.get_or_insert_default().push_str(&t.xml10_content());
                    continue;
                }
                Event::CData(c) => {
                    text.get_or_insert_default().push_str(&c.xml10_content());
                    continue;
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(ch)) => ch.to_string(),
                        Ok(None) => resolve_predefined_entity(&r)
                            .ok_or_else(|| {
                                LoginError::Xml(format!("unknown entity &{};", shorten(&r)))
                            })?
                            .to_owned(),
                        Err(e) => return Err(LoginError::Xml(e.to_string())),
                    };
                    text.get_or_insert_default().push_str(&resolved);
                    continue;
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
                Event::Start(start) => Tok::Open(tag_name(&start)),
                Event::Empty(start) => {
                    let name = tag_name(&start);
                    self.queued.push_back(Tok::Open(name.clone()));
                    self.queued.push_back(Tok::Close(name));
                    match self.queued.pop_front() {
                        Some(tok) => tok,
                        None => continue,
                    }
                }
                Event::End(end) => Tok::Close(end.name().as_ref().to_owned()),
                Event::Eof => Tok::Eof,
            };
            return Ok(match text {
                Some(text) => {
                    self.queued.push_front(tok);
                    Tok::Text(text)
                }
                None => tok,
            });
        }
    }

    /// The next token that is not whitespace-only text.
    pub(crate) fn next_significant(&mut self) -> Result<Tok, LoginError> {
        loop {
            match self.next_tok()? {
                Tok::Text(t) if is_blank(&t) => continue,
                tok => return Ok(tok),
            }
        }
    }

    /// Consumes `<name>`, after optional whitespace.
    pub(crate) fn expect_open(&mut self, name: &str) -> Result<(), LoginError> {
        match self.next_significant()? {
            Tok::Open(found) if found == name => Ok(()),
            other => Err(unexpected(&format!("<{name}>"), &other)),
        }
    }

    /// Consumes `</name>`, after optional whitespace.
    pub(crate) fn expect_close(&mut self, name: &str) -> Result<(), LoginError> {
        match self.next_significant()? {
            Tok::Close(found) if found == name => Ok(()),
            other => Err(unexpected(&format!("</{name}>"), &other)),
        }
    }

    /// After `<name>` was consumed: its text content up to `</name>`; child elements are an error.
    pub(crate) fn text_until_close(&mut self, name: &str) -> Result<String, LoginError> {
        let mut out = String::new();
        loop {
            match self.next_tok()? {
                Tok::Text(t) => out.push_str(&t),
                Tok::Close(found) if found == name => return Ok(out),
                other => return Err(unexpected(&format!("text or </{name}>"), &other)),
            }
        }
    }

    /// After an opening tag was consumed: skips everything up to and including its closing tag.
    pub(crate) fn skip_element(&mut self) -> Result<(), LoginError> {
        let mut depth = 1usize;
        loop {
            match self.next_tok()? {
                Tok::Open(_) => depth = depth.checked_add(1).ok_or(LoginError::TooDeep)?,
                Tok::Close(_) => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Tok::Text(_) => {}
                Tok::Eof => return Err(LoginError::Truncated),
            }
        }
    }

    /// Requires that nothing but whitespace, comments and processing instructions follow.
    pub(crate) fn expect_eof(&mut self) -> Result<(), LoginError> {
        match self.next_significant()? {
            Tok::Eof => Ok(()),
            other => Err(LoginError::Structure(format!(
                "{} after the root element",
                other.describe()
            ))),
        }
    }
}

/// The error for finding `found` where `wanted` was expected; the end of the document is
/// [`LoginError::Truncated`].
pub(crate) fn unexpected(wanted: &str, found: &Tok) -> LoginError {
    match found {
        Tok::Eof => LoginError::Truncated,
        other => LoginError::Structure(format!("expected {wanted}, found {}", other.describe())),
    }
}

/// True for text made only of XML whitespace.
pub(crate) fn is_blank(text: &str) -> bool {
    text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

fn tag_name(start: &BytesStart<'_>) -> String {
    start.name().as_ref().to_owned()
}

/// True for characters XML 1.0 can carry (production `Char`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes `raw` for element content with quick-xml's `escape`: `& < > " '` become entities and a
/// carriage return becomes `&#13;` (so a reader's line-end normalisation keeps it); characters
/// XML 1.0 cannot carry at all (most C0 controls, U+FFFE, U+FFFF) are replaced by U+FFFD.
pub(crate) fn escape_text(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect();
    escape(clean.as_str()).into_owned()
}

/// What [`escape_text`] followed by a parse gives back: `raw` with unrepresentable characters
/// replaced by U+FFFD.
#[cfg(test)]
pub(crate) fn representable(raw: &str) -> String {
    raw.chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect()
}

/// Appends `<tag>escaped text</tag>` to `out`.
pub(crate) fn push_text_element(out: &mut String, tag: &str, text: &str) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    out.push_str(&escape_text(text));
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

#[cfg(test)]
mod tests {

    use super::*;
    use proptest::prelude::*;

    fn tokens(xml: &str) -> Result<Vec<Tok>, LoginError> {
        let mut cursor = Cursor::new(xml.as_bytes())?;
        let mut out = Vec::new();
        loop {
            let tok = cursor.next_tok()?;
            if tok == Tok::Eof {
                return Ok(out);
            }
            out.push(tok);
        }
    }

    #[test]
    fn text_is_merged_across_entities_cdata_and_comments() {
        let toks = tokens("<?xml version=\"1.0\"?><a>x &amp; y&#65;<![CDATA[<z>]]><!-- c -->w</a>")
            .unwrap();
        assert_eq!(
            toks,
            vec![
                Tok::Open("a".into()),
                Tok::Text("x & yA<z>w".into()),
                Tok::Close("a".into()),
            ]
        );
    }

    #[test]
    fn empty_elements_become_open_and_close() {
        let toks = tokens("<a><b/><c /></a>").unwrap();
        assert_eq!(
            toks,
            vec![
                Tok::Open("a".into()),
                Tok::Open("b".into()),
                Tok::Close("b".into()),
                Tok::Open("c".into()),
                Tok::Close("c".into()),
                Tok::Close("a".into()),
            ]
        );
    }

    #[test]
    fn malformed_input_is_an_error_with_quick_xml_message() {
        assert!(matches!(tokens("<a></b>"), Err(LoginError::Xml(_))));
        assert!(matches!(tokens("<a>&nope;</a>"), Err(LoginError::Xml(m)) if m.contains("nope")));
        assert!(matches!(tokens("<a"), Err(LoginError::Xml(_))));
        assert_eq!(tokens("\u{feff}<a/>").unwrap().len(), 2);
        assert_eq!(Cursor::new(&[0xff, 0xfe]).err(), Some(LoginError::NotUtf8));
    }

    #[test]
    fn escaping_covers_markup_quotes_and_carriage_returns() {
        assert_eq!(
            escape_text("a&b<c>d\"e'f\rg\u{1}"),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f&#13;g\u{FFFD}"
        );
    }

    proptest! {
        #[test]
        fn escaped_text_reads_back(raw in any::<String>()) {
            let mut xml = String::new();
            push_text_element(&mut xml, "t", &raw);
            let mut cursor = Cursor::new(xml.as_bytes()).unwrap();
            cursor.expect_open("t").unwrap();
            let back = cursor.text_until_close("t").unwrap();
            prop_assert_eq!(back, representable(&raw));
            cursor.expect_eof().unwrap();
        }
    }
}
