//! A streaming walk over an XML document with a depth limit, on quick-xml's pull parser.
//!
//! The archive's XML files are flat records (`<X>1.5</X>` leaves under a few levels of
//! containers), so the walk hands the caller each element's start and end with the path of
//! element names from the root, and at the end the element's own text (entities resolved,
//! trimmed). Attributes are ignored except where [`Node::Start`] hands the element over.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// One step of the walk.
pub(crate) enum Node<'a> {
    /// An element opened; `path` ends with its name.
    Start {
        /// Local names from the root to this element.
        path: &'a [String],
        /// The start tag (for attributes).
        tag: &'a BytesStart<'a>,
    },
    /// An element closed; `path` ends with its name, `text` is its own trimmed text.
    End {
        /// Local names from the root to this element.
        path: &'a [String],
        /// The text directly inside it.
        text: &'a str,
    },
}

/// Walks `text`, calling `visit` for every element start and end. The walk stops at the first
/// error: the parser's, a depth over `max_depth`, an unclosed element at the end, or the
/// visitor's own.
pub(crate) fn walk(
    text: &str,
    max_depth: usize,
    mut visit: impl FnMut(Node<'_>) -> Result<(), String>,
) -> Result<(), String> {
    // A UTF-8 byte order mark is not XML.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    // Element names from the root; only `..depth` are open (the rest are kept to reuse their
    // allocations).
    let mut path: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut own_text = String::new();
    let mut seen_root = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            )
        })?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(tag) | Event::Empty(tag) => {
                if depth == 0 && seen_root {
                    return Err("more than one root element".into());
                }
                seen_root = true;
                if depth >= max_depth {
                    return Err(format!("elements nested deeper than {max_depth}"));
                }
                let name = tag.local_name().into_inner();
                match path.get_mut(depth) {
                    Some(slot) => name.clone_into(slot),
                    None => path.push(name.to_owned()),
                }
                depth += 1;
                own_text.clear();
                let open = path.get(..depth).unwrap_or_default();
                visit(Node::Start {
                    path: open,
                    tag: &tag,
                })?;
                if empty {
                    visit(Node::End {
                        path: open,
                        text: "",
                    })?;
                    depth -= 1;
                }
            }
            Event::End(_) => {
                visit(Node::End {
                    path: path.get(..depth).unwrap_or_default(),
                    text: own_text.trim(),
                })?;
                own_text.clear();
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                if depth == 0 {
                    if !t.trim().is_empty() {
                        return Err("text outside the root element".into());
                    }
                } else {
                    own_text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => own_text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(format!("unknown entity &{other};")),
                    },
                    Err(e) => return Err(format!("bad character reference: {e}")),
                };
                own_text.push(resolved);
            }
            Event::Eof => {
                if depth > 0 {
                    let open = path.get(..depth).unwrap_or_default();
                    return Err(format!("document ends inside <{}>", open.join("/")));
                }
                if !seen_root {
                    return Err("no root element".into());
                }
                return Ok(());
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// Parses a number the way .NET writes them (`1.5`, `-2`, `1E-05`), trimmed.
pub(crate) fn parse_num<T: core::str::FromStr>(field: &str, text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{field}: {text:?} is not a number of the expected range"))
}

/// Parses a .NET boolean (`true`/`True`/`false`/`False`; `1`/`0` too).
pub(crate) fn parse_bool(field: &str, text: &str) -> Result<bool, String> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") || t == "1" => Ok(true),
        t if t.eq_ignore_ascii_case("false") || t == "0" => Ok(false),
        other => Err(format!("{field}: {other:?} is not a boolean")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(xml: &str, depth: usize) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        walk(xml, depth, |node| {
            if let Node::End { path, text } = node {
                out.push((path.join("/"), text.to_owned()));
            }
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn leaves_with_entities_and_cdata() {
        let got = leaves(
            "<?xml version=\"1.0\"?><a><b> x &amp; &#65;</b><c/><d><![CDATA[<y>]]></d></a>",
            8,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("a/b".into(), "x & A".into()),
                ("a/c".into(), String::new()),
                ("a/d".into(), "<y>".into()),
                ("a".into(), String::new()),
            ]
        );
    }

    #[test]
    fn refuses_bad_documents() {
        assert!(leaves("<a><b></a>", 8).is_err());
        assert!(leaves("<a>", 8).is_err());
        assert!(leaves("", 8).is_err());
        assert!(leaves("not xml", 8).is_err());
        assert!(leaves("<a/><b/>", 8).is_err());
        assert!(leaves("<a>&bogus;</a>", 8).is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(leaves(&deep, 64).unwrap_err().contains("deeper"));
        assert!(leaves(&deep, 128).is_ok());
    }
}
