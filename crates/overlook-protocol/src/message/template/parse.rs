//! The template grammar: a tokenizer (`{`, `}` and words, `//` comments dropped) and a
//! recursive-descent parser that builds a [`Template`] and names the line of any error.

use super::{BlockDef, BlockKind, FieldDef, FieldType, MessageDef, Template};
use crate::udp::MessageId;

/// The template version this parser reads.
const VERSION: &str = "2.0";

/// Why template text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A token other than the one the grammar allows here.
    #[error("line {line}: expected {expected}, found `{found}`")]
    Unexpected {
        /// 1-based line number.
        line: usize,
        /// What the grammar wanted.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// The text ended inside a message.
    #[error("line {line}: unexpected end of template, expected {expected}")]
    UnexpectedEnd {
        /// The last line.
        line: usize,
        /// What the grammar wanted.
        expected: &'static str,
    },
    /// The `version` line names a version this parser does not read.
    #[error("line {line}: unsupported template version {version}")]
    Version {
        /// 1-based line number.
        line: usize,
        /// The version given.
        version: String,
    },
    /// A number (message number, repeat count, size) is malformed or out of range.
    #[error("line {line}: bad {what} `{text}`")]
    BadNumber {
        /// 1-based line number.
        line: usize,
        /// Which number.
        what: &'static str,
        /// The text given.
        text: String,
    },
    /// Two messages, or two blocks of a message, share a name.
    #[error("line {line}: duplicate name `{name}`")]
    DuplicateName {
        /// 1-based line number of the second one.
        line: usize,
        /// The name.
        name: String,
    },
    /// Two messages share a frequency and number.
    #[error("line {line}: duplicate message number {id}")]
    DuplicateNumber {
        /// 1-based line number of the second one.
        line: usize,
        /// The number.
        id: MessageId,
    },
}

impl Template {
    /// Parses template text.
    ///
    /// # Errors
    /// [`TemplateError`] for the first syntax error, naming its line.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut p = Parser::new(text);
        p.expect("version", "`version`")?;
        let v = p.next("a version number")?;
        if v.text != VERSION {
            return Err(TemplateError::Version {
                line: v.line,
                version: v.text.to_owned(),
            });
        }
        let mut t = Template::default();
        while p.peek().is_some() {
            let line = p.peek().map_or(0, |tok| tok.line);
            let def = p.message()?;
            t.insert(def, line)?;
        }
        Ok(t)
    }
}

/// One token and its 1-based line.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    line: usize,
}

/// A recursive-descent parser over the template's tokens (`{`, `}` and words).
struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    last_line: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let mut tokens = Vec::new();
        let mut last_line = 1;
        for (i, raw) in text.lines().enumerate() {
            let line = i.saturating_add(1);
            last_line = line;
            let code = raw.find("//").and_then(|p| raw.get(..p)).unwrap_or(raw);
            for mut word in code.split_whitespace() {
                while let Some(p) = word.find(['{', '}']) {
                    let Some((head, rest)) = word.split_at_checked(p) else {
                        break;
                    };
                    let Some((brace, tail)) = rest.split_at_checked(1) else {
                        break;
                    };
                    for t in [head, brace] {
                        if !t.is_empty() {
                            tokens.push(Token { text: t, line });
                        }
                    }
                    word = tail;
                }
                if !word.is_empty() {
                    tokens.push(Token { text: word, line });
                }
            }
        }
        Parser {
            tokens,
            pos: 0,
            last_line,
        }
    }

    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn peek_is(&self, text: &str) -> bool {
        self.peek().is_some_and(|t| t.text == text)
    }

    fn next(&mut self, expected: &'static str) -> Result<Token<'a>, TemplateError> {
        let t = self.peek().ok_or(TemplateError::UnexpectedEnd {
            line: self.last_line,
            expected,
        })?;
        self.pos = self.pos.saturating_add(1);
        Ok(t)
    }

    fn expect(&mut self, text: &str, expected: &'static str) -> Result<Token<'a>, TemplateError> {
        let t = self.next(expected)?;
        if t.text == text {
            Ok(t)
        } else {
            Err(unexpected(t, expected))
        }
    }

    fn number<T: TryFrom<u64>>(&mut self, what: &'static str) -> Result<T, TemplateError> {
        let t = self.next(what)?;
        let parsed = match t.text.strip_prefix("0x").or(t.text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => t.text.parse::<u64>().ok(),
        };
        parsed
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| TemplateError::BadNumber {
                line: t.line,
                what,
                text: t.text.to_owned(),
            })
    }

    /// `{ Name Frequency Number Trust Encoding [flags…] block* }`
    fn message(&mut self) -> Result<MessageDef, TemplateError> {
        self.expect("{", "`{` opening a message")?;
        let name = self.next("a message name")?.text.to_owned();
        let freq = self.next("a frequency")?;
        if !matches!(freq.text, "High" | "Medium" | "Low" | "Fixed") {
            return Err(unexpected(freq, "`High`, `Medium`, `Low` or `Fixed`"));
        }
        let number_at = self.peek();
        let number: u32 = self.number("message number")?;
        let id = message_id(freq, number).ok_or_else(|| TemplateError::BadNumber {
            line: number_at.map_or(freq.line, |t| t.line),
            what: "message number",
            text: number_at.map_or_else(String::new, |t| t.text.to_owned()),
        })?;
        let trust = self.next("`Trusted` or `NotTrusted`")?;
        let trusted = match trust.text {
            "Trusted" => true,
            "NotTrusted" => false,
            _ => return Err(unexpected(trust, "`Trusted` or `NotTrusted`")),
        };
        let coding = self.next("`Zerocoded` or `Unencoded`")?;
        let zerocoded = match coding.text {
            "Zerocoded" => true,
            "Unencoded" => false,
            _ => return Err(unexpected(coding, "`Zerocoded` or `Unencoded`")),
        };
        let mut def = MessageDef {
            name,
            id,
            trusted,
            zerocoded,
            deprecated: false,
            udp_blacklisted: false,
            blocks: Vec::new(),
        };
        loop {
            let t = self.next("a block or `}`")?;
            match t.text {
                "}" => return Ok(def),
                "{" => {
                    let block = self.block()?;
                    if def.block(&block.name).is_some() {
                        return Err(TemplateError::DuplicateName {
                            line: t.line,
                            name: block.name,
                        });
                    }
                    def.blocks.push(block);
                }
                "Deprecated" | "UDPDeprecated" if def.blocks.is_empty() => def.deprecated = true,
                "UDPBlackListed" if def.blocks.is_empty() => def.udp_blacklisted = true,
                _ => return Err(unexpected(t, "a block or `}`")),
            }
        }
    }

    /// `Name Single|Multiple N|Variable field* }` (after the opening brace).
    fn block(&mut self) -> Result<BlockDef, TemplateError> {
        let name = self.next("a block name")?.text.to_owned();
        let kind = self.next("`Single`, `Multiple` or `Variable`")?;
        let kind = match kind.text {
            "Single" => BlockKind::Single,
            "Variable" => BlockKind::Variable,
            "Multiple" => BlockKind::Multiple(self.number("repeat count")?),
            _ => return Err(unexpected(kind, "`Single`, `Multiple` or `Variable`")),
        };
        let mut fields = Vec::new();
        while self.peek_is("{") {
            self.next("`{`")?;
            let field = self.next("a field name")?.text.to_owned();
            let ty = self.next("a field type")?;
            let ty = match ty.text {
                "Variable" => {
                    let width: u8 = self.number("variable length width")?;
                    if !matches!(width, 1 | 2) {
                        return Err(TemplateError::BadNumber {
                            line: ty.line,
                            what: "variable length width",
                            text: width.to_string(),
                        });
                    }
                    FieldType::Variable(width)
                }
                "Fixed" => FieldType::Fixed(self.number("fixed size")?),
                other => {
                    FieldType::from_name(other).ok_or_else(|| unexpected(ty, "a field type"))?
                }
            };
            self.expect("}", "`}` closing a field")?;
            fields.push(FieldDef { name: field, ty });
        }
        self.expect("}", "a field or `}` closing a block")?;
        Ok(BlockDef { name, kind, fields })
    }
}

fn unexpected(t: Token<'_>, expected: &'static str) -> TemplateError {
    TemplateError::Unexpected {
        line: t.line,
        expected,
        found: t.text.to_owned(),
    }
}

/// The message id for a frequency and number, if the number can travel at that frequency
/// (PROTOCOL §2.2: High/Medium 1–254, Low 1–0xFFEF, Fixed 0xFFFFFFF0–0xFFFFFFFF).
fn message_id(freq: Token<'_>, number: u32) -> Option<MessageId> {
    let byte = u8::try_from(number).ok().filter(|n| (1..=0xFE).contains(n));
    match freq.text {
        "High" => byte.map(MessageId::High),
        "Medium" => byte.map(MessageId::Medium),
        "Low" => u16::try_from(number)
            .ok()
            .filter(|n| (1..0xFFF0).contains(n))
            .map(MessageId::Low),
        "Fixed" => (number >= 0xFFFF_FFF0).then_some(MessageId::Fixed(number)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_need_no_spaces() {
        let t = Template::parse(
            "version 2.0 // v\n{Foo High 1 NotTrusted Unencoded\n{Bar Multiple 2{A U8}{B Fixed 3}}}\n\
             {\n Baz Fixed 0xFFFFFFF0 Trusted Zerocoded UDPDeprecated\n}",
        )
        .unwrap();
        let foo = t.by_name("Foo").unwrap();
        assert_eq!(foo.blocks[0].kind, BlockKind::Multiple(2));
        assert_eq!(foo.blocks[0].fields[1].ty, FieldType::Fixed(3));
        let baz = t.by_id(MessageId::Fixed(0xFFFF_FFF0)).unwrap();
        assert!(baz.trusted && baz.zerocoded && baz.deprecated && baz.blocks.is_empty());
    }

    #[test]
    fn syntax_errors_name_their_line() {
        // (text, whether it follows a valid `version 2.0` line, the line the error names)
        let cases: [(&str, bool, usize); 14] = [
            ("", false, 1),
            ("version 3.0\n", false, 1),
            ("{ A High 1 NotTrusted Unencoded }\n", false, 1),
            ("\n{ A Often 1 NotTrusted Unencoded }", true, 3),
            ("{ A High 255 NotTrusted Unencoded }", true, 2),
            ("{ A Low 0xFFF0 NotTrusted Unencoded }", true, 2),
            ("{ A Fixed 12 NotTrusted Unencoded }", true, 2),
            ("{ A High 1 Maybe Unencoded }", true, 2),
            (
                "{ A High 1 NotTrusted Unencoded\n { B Single { C U128 } } }",
                true,
                3,
            ),
            (
                "{ A High 1 NotTrusted Unencoded\n { B Single { C Variable 3 } } }",
                true,
                3,
            ),
            (
                "{ A High 1 NotTrusted Unencoded\n { B Twice { C U8 } } }",
                true,
                3,
            ),
            (
                "{ A High 1 NotTrusted Unencoded }\n{ A High 2 NotTrusted Unencoded }",
                true,
                3,
            ),
            (
                "{ A High 1 NotTrusted Unencoded }\n{ B High 1 NotTrusted Unencoded }",
                true,
                3,
            ),
            (
                "{ A High 1 NotTrusted Unencoded\n { B Single { C U8 }\n",
                true,
                3,
            ),
        ];
        for (i, (body, versioned, line)) in cases.into_iter().enumerate() {
            let text = if versioned {
                format!("version 2.0\n{body}")
            } else {
                body.to_owned()
            };
            let err = Template::parse(&text).unwrap_err();
            let got = match &err {
                TemplateError::Unexpected { line, .. }
                | TemplateError::UnexpectedEnd { line, .. }
                | TemplateError::Version { line, .. }
                | TemplateError::BadNumber { line, .. }
                | TemplateError::DuplicateName { line, .. }
                | TemplateError::DuplicateNumber { line, .. } => *line,
            };
            assert_eq!(got, line, "case {i}: {err}");
            assert!(err.to_string().starts_with("line "), "{err}");
        }
    }
}
