//! A small, generic XML-RPC value model: parser and writer for `methodCall` and `methodResponse`.
//!
//! Covers the XML-RPC specification's types (`string`, `i4`/`int`, the common `i8` extension,
//! `boolean`, `double`, `dateTime.iso8601`, `base64`, `array`, `struct`) and `<fault>` responses.
//! A `<value>` with no type element is a string. The login code builds on it; an embedded login
//! service can use it for both directions. It never panics on input: arbitrary bytes give a
//! [`LoginError`], and values nested deeper than [`MAX_DEPTH`] are refused with
//! [`LoginError::TooDeep`] instead of recursing without bound.

use super::LoginError;
use super::xml::{Cursor, Tok, escape_text, is_blank, push_text_element, shorten, unexpected};

/// How deeply arrays and structs may nest before a document is refused.
pub const MAX_DEPTH: usize = 32;

/// One XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<string>` or a `<value>` with bare text.
    String(String),
    /// `<i4>`, `<int>` (32-bit) or `<i8>` (64-bit extension).
    Int(i64),
    /// `<boolean>` (`1`/`0`; `true`/`false` are accepted too).
    Bool(bool),
    /// `<double>`.
    Double(f64),
    /// `<dateTime.iso8601>`, kept as its (trimmed) text.
    DateTime(String),
    /// `<base64>`, kept as its (trimmed, still encoded) text.
    Base64(String),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<struct>`: members in document order (duplicates kept; [`Value::member`] finds the first).
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// The first member called `name`, if this is a struct that has one.
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number of an integer value.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of an array value.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The XML-RPC type name, for error messages (`"string"`, `"i4"`, `"struct"`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
        }
    }

    /// A short description (type and value) for error messages.
    pub fn describe(&self) -> String {
        match self {
            Value::String(s) | Value::DateTime(s) | Value::Base64(s) => {
                format!("{} {:?}", self.type_name(), shorten(s))
            }
            Value::Int(n) => format!("int {n}"),
            Value::Bool(b) => format!("boolean {b}"),
            Value::Double(d) => format!("double {d}"),
            Value::Array(items) => format!("array of {}", items.len()),
            Value::Struct(members) => format!("struct of {}", members.len()),
        }
    }

    /// Appends this value as `<value>…</value>` to `out`, text escaped.
    pub fn write_xml(&self, out: &mut String) {
        out.push_str("<value>");
        match self {
            Value::String(s) => push_text_element(out, "string", s),
            Value::Int(n) => match i32::try_from(*n) {
                Ok(small) => push_text_element(out, "i4", &small.to_string()),
                Err(_) => push_text_element(out, "i8", &n.to_string()),
            },
            Value::Bool(b) => push_text_element(out, "boolean", if *b { "1" } else { "0" }),
            Value::Double(d) => push_text_element(out, "double", &d.to_string()),
            Value::DateTime(s) => push_text_element(out, "dateTime.iso8601", s),
            Value::Base64(s) => push_text_element(out, "base64", s),
            Value::Array(items) if items.is_empty() => out.push_str("<array><data /></array>"),
            Value::Array(items) => {
                out.push_str("<array><data>");
                for item in items {
                    item.write_xml(out);
                }
                out.push_str("</data></array>");
            }
            Value::Struct(members) => {
                out.push_str("<struct>");
                for (name, value) in members {
                    out.push_str("<member><name>");
                    out.push_str(&escape_text(name));
                    out.push_str("</name>");
                    value.write_xml(out);
                    out.push_str("</member>");
                }
                out.push_str("</struct>");
            }
        }
        out.push_str("</value>");
    }
}

/// A parsed `methodCall`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// The `methodName`, e.g. `login_to_simulator`.
    pub method: String,
    /// The parameters in order.
    pub params: Vec<Value>,
}

/// A parsed `methodResponse`.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodResponse {
    /// The single `<param>` of a normal response.
    Success(Value),
    /// A `<fault>` response.
    Fault {
        /// `faultCode` (0 when absent).
        code: i64,
        /// `faultString` (empty when absent).
        message: String,
    },
}

/// Parses an XML-RPC `methodCall` document.
pub fn parse_method_call(bytes: &[u8]) -> Result<MethodCall, LoginError> {
    let mut c = Cursor::new(bytes)?;
    c.expect_open("methodCall")?;
    c.expect_open("methodName")?;
    let method = c.text_until_close("methodName")?.trim().to_owned();
    let mut params = Vec::new();
    match c.next_significant()? {
        Tok::Close(name) if name == "methodCall" => {}
        Tok::Open(name) if name == "params" => {
            params = parse_params(&mut c)?;
            c.expect_close("methodCall")?;
        }
        other => return Err(unexpected("<params>", &other)),
    }
    c.expect_eof()?;
    Ok(MethodCall { method, params })
}

/// Parses an XML-RPC `methodResponse` document: exactly one `<param>`, or a `<fault>`.
pub fn parse_method_response(bytes: &[u8]) -> Result<MethodResponse, LoginError> {
    let mut c = Cursor::new(bytes)?;
    c.expect_open("methodResponse")?;
    let response = match c.next_significant()? {
        Tok::Open(name) if name == "params" => {
            let mut params = parse_params(&mut c)?.into_iter();
            match (params.next(), params.next()) {
                (Some(value), None) => MethodResponse::Success(value),
                (None, _) => return Err(LoginError::Structure("response has no <param>".into())),
                (Some(_), Some(_)) => {
                    return Err(LoginError::Structure(
                        "response has several <param>s".into(),
                    ));
                }
            }
        }
        Tok::Open(name) if name == "fault" => {
            c.expect_open("value")?;
            let value = parse_value_body(&mut c, 0)?;
            c.expect_close("fault")?;
            if !matches!(value, Value::Struct(_)) {
                return Err(LoginError::Structure(format!(
                    "fault value is a {}, not a struct",
                    value.type_name()
                )));
            }
            MethodResponse::Fault {
                code: value
                    .member("faultCode")
                    .and_then(Value::as_int)
                    .unwrap_or(0),
                message: value
                    .member("faultString")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }
        }
        other => return Err(unexpected("<params> or <fault>", &other)),
    };
    c.expect_close("methodResponse")?;
    c.expect_eof()?;
    Ok(response)
}

/// After `<params>`: every `<param><value>…</value></param>` up to and including `</params>`.
fn parse_params(c: &mut Cursor<'_>) -> Result<Vec<Value>, LoginError> {
    let mut params = Vec::new();
    loop {
        match c.next_significant()? {
            Tok::Open(name) if name == "param" => {
                c.expect_open("value")?;
                params.push(parse_value_body(c, 0)?);
                c.expect_close("param")?;
            }
            Tok::Close(name) if name == "params" => return Ok(params),
            other => return Err(unexpected("<param> or </params>", &other)),
        }
    }
}

/// After `<value>`: the value, up to and including `</value>`.
fn parse_value_body(c: &mut Cursor<'_>, depth: usize) -> Result<Value, LoginError> {
    if depth > MAX_DEPTH {
        return Err(LoginError::TooDeep);
    }
    let mut bare = String::new();
    loop {
        match c.next_tok()? {
            Tok::Text(t) => bare.push_str(&t),
            Tok::Close(name) if name == "value" => return Ok(Value::String(bare)),
            Tok::Open(kind) => {
                if !is_blank(&bare) {
                    return Err(LoginError::Structure(format!(
                        "text {:?} beside <{kind}> in a <value>",
                        shorten(&bare)
                    )));
                }
                let value = parse_typed(c, &kind, depth)?;
                c.expect_close("value")?;
                return Ok(value);
            }
            other => return Err(unexpected("a value or </value>", &other)),
        }
    }
}

/// After `<kind>`: the typed value, up to and including `</kind>`.
fn parse_typed(c: &mut Cursor<'_>, kind: &str, depth: usize) -> Result<Value, LoginError> {
    let bad = |text: &str| LoginError::Structure(format!("bad <{kind}> {:?}", shorten(text)));
    Ok(match kind {
        "string" => Value::String(c.text_until_close(kind)?),
        "i4" | "int" => {
            let text = c.text_until_close(kind)?;
            let n: i32 = text.trim().parse().map_err(|_| bad(&text))?;
            Value::Int(i64::from(n))
        }
        "i8" => {
            let text = c.text_until_close(kind)?;
            Value::Int(text.trim().parse().map_err(|_| bad(&text))?)
        }
        "boolean" => {
            let text = c.text_until_close(kind)?;
            match text.trim() {
                "1" | "true" => Value::Bool(true),
                "0" | "false" => Value::Bool(false),
                _ => return Err(bad(&text)),
            }
        }
        "double" => {
            let text = c.text_until_close(kind)?;
            Value::Double(text.trim().parse().map_err(|_| bad(&text))?)
        }
        "dateTime.iso8601" => Value::DateTime(c.text_until_close(kind)?.trim().to_owned()),
        "base64" => Value::Base64(c.text_until_close(kind)?.trim().to_owned()),
        "array" => {
            let mut items = Vec::new();
            c.expect_open("data")?;
            loop {
                match c.next_significant()? {
                    Tok::Open(name) if name == "value" => {
                        items.push(parse_value_body(c, depth.saturating_add(1))?);
                    }
                    Tok::Close(name) if name == "data" => break,
                    other => return Err(unexpected("<value> or </data>", &other)),
                }
            }
            c.expect_close("array")?;
            Value::Array(items)
        }
        "struct" => {
            let mut members = Vec::new();
            loop {
                match c.next_significant()? {
                    Tok::Open(name) if name == "member" => {
                        c.expect_open("name")?;
                        let name = c.text_until_close("name")?;
                        c.expect_open("value")?;
                        let value = parse_value_body(c, depth.saturating_add(1))?;
                        c.expect_close("member")?;
                        members.push((name, value));
                    }
                    Tok::Close(name) if name == "struct" => break,
                    other => return Err(unexpected("<member> or </struct>", &other)),
                }
            }
            Value::Struct(members)
        }
        other => {
            return Err(LoginError::Structure(format!(
                "unknown xml-rpc type <{}>",
                shorten(other)
            )));
        }
    })
}

/// Writes a `methodCall` document (with an XML declaration, as viewers send it).
pub fn method_call_xml(method: &str, params: &[Value]) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?><methodCall>");
    push_text_element(&mut out, "methodName", method);
    out.push_str("<params>");
    for param in params {
        out.push_str("<param>");
        param.write_xml(&mut out);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>");
    out
}

/// Writes a `methodResponse` document with one parameter, shaped as OpenSim writes it.
pub fn method_response_xml(value: &Value) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><methodResponse><params><param>");
    value.write_xml(&mut out);
    out.push_str("</param></params></methodResponse>");
    out
}

/// Writes a `methodResponse` document carrying a `<fault>`.
pub fn fault_response_xml(code: i64, message: &str) -> String {
    let fault = Value::Struct(vec![
        ("faultCode".to_owned(), Value::Int(code)),
        ("faultString".to_owned(), Value::String(message.to_owned())),
    ]);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><methodResponse><fault>");
    fault.write_xml(&mut out);
    out.push_str("</fault></methodResponse>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::test_support::capture;
    use crate::login::xml::representable;
    use proptest::prelude::*;

    fn response_value(xml: &str) -> Result<Value, LoginError> {
        match parse_method_response(xml.as_bytes())? {
            MethodResponse::Success(value) => Ok(value),
            fault => panic!("unexpected {fault:?}"),
        }
    }

    fn wrap(inner: &str) -> String {
        format!("<methodResponse><params><param>{inner}</param></params></methodResponse>")
    }

    #[test]
    fn every_scalar_type_parses() {
        let cases = [
            (
                "<value>bare &amp; text</value>",
                Value::String("bare & text".into()),
            ),
            ("<value></value>", Value::String(String::new())),
            ("<value/>", Value::String(String::new())),
            ("<value>  </value>", Value::String("  ".into())),
            ("<value><string/></value>", Value::String(String::new())),
            (
                "<value>\n <string> x </string>\n</value>",
                Value::String(" x ".into()),
            ),
            ("<value><i4>-7</i4></value>", Value::Int(-7)),
            ("<value><int> 42 </int></value>", Value::Int(42)),
            (
                "<value><i8>8589934592</i8></value>",
                Value::Int(8_589_934_592),
            ),
            ("<value><boolean>1</boolean></value>", Value::Bool(true)),
            (
                "<value><boolean>false</boolean></value>",
                Value::Bool(false),
            ),
            ("<value><double>-1.5</double></value>", Value::Double(-1.5)),
            (
                "<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>",
                Value::DateTime("19980717T14:08:55".into()),
            ),
            (
                "<value><base64> eW91 </base64></value>",
                Value::Base64("eW91".into()),
            ),
            (
                "<value><array><data/></array></value>",
                Value::Array(vec![]),
            ),
            ("<value><struct></struct></value>", Value::Struct(vec![])),
        ];
        for (xml, want) in cases {
            assert_eq!(response_value(&wrap(xml)).unwrap(), want, "{xml}");
        }
    }

    #[test]
    fn nested_values_and_member_lookup() {
        let xml = wrap(
            "<value><struct>\n<member><name>a</name><value><array><data>\
             <value><i4>1</i4></value><value>two</value></data></array></value></member>\
             <member><name>a</name><value>second</value></member></struct></value>",
        );
        let value = response_value(&xml).unwrap();
        let a = value.member("a").unwrap().as_array().unwrap();
        assert_eq!(a, [Value::Int(1), Value::String("two".into())]);
        assert_eq!(value.member("missing"), None);
        assert_eq!(Value::Int(1).member("a"), None);
    }

    #[test]
    fn bad_values_are_structure_errors() {
        let bad = [
            "<value><i4>12x</i4></value>",
            "<value><i4>4294967296</i4></value>",
            "<value><boolean>yes</boolean></value>",
            "<value><double>one</double></value>",
            "<value><nil/></value>",
            "<value>text<string>x</string></value>",
            "<value><string><b>x</b></string></value>",
            "<value><array><value>1</value></array></value>",
            "<value><struct><member><value>1</value></member></struct></value>",
        ];
        for xml in bad {
            assert!(
                matches!(response_value(&wrap(xml)), Err(LoginError::Structure(_))),
                "{xml}"
            );
        }
        let two = "<methodResponse><params><param><value>1</value></param>\
                   <param><value>2</value></param></params></methodResponse>";
        assert!(matches!(
            parse_method_response(two.as_bytes()),
            Err(LoginError::Structure(_))
        ));
        let trailing = format!("{}<extra/>", wrap("<value>1</value>"));
        assert!(matches!(
            response_value(&trailing),
            Err(LoginError::Structure(_))
        ));
        assert_eq!(
            response_value("<methodResponse><params><param><value><string>x"),
            Err(LoginError::Truncated)
        );
    }

    #[test]
    fn faults_parse_and_write() {
        let xml = fault_response_xml(-32601, "no such method <login>");
        assert_eq!(
            parse_method_response(xml.as_bytes()).unwrap(),
            MethodResponse::Fault {
                code: -32601,
                message: "no such method <login>".into()
            }
        );
        let bare = "<methodResponse><fault><value><struct/></value></fault></methodResponse>";
        assert_eq!(
            parse_method_response(bare.as_bytes()).unwrap(),
            MethodResponse::Fault {
                code: 0,
                message: String::new()
            }
        );
    }

    #[test]
    fn method_calls_parse_and_write() {
        let xml = method_call_xml("a&b", &[Value::Int(1), Value::String("<x>".into())]);
        let call = parse_method_call(xml.as_bytes()).unwrap();
        assert_eq!(call.method, "a&b");
        assert_eq!(call.params, [Value::Int(1), Value::String("<x>".into())]);
        let no_params = "<methodCall><methodName>m</methodName></methodCall>";
        assert_eq!(parse_method_call(no_params.as_bytes()).unwrap().params, []);
    }

    #[test]
    fn capture_response_is_a_struct_with_all_members() {
        let bytes = capture("test-region.login-response.xml");
        let MethodResponse::Success(value) = parse_method_response(&bytes).unwrap() else {
            panic!("fault");
        };
        let Value::Struct(members) = &value else {
            panic!("not a struct")
        };
        assert_eq!(members.len(), 39);
        assert_eq!(
            members[0],
            ("login".to_owned(), Value::String("true".into()))
        );
        let skeleton = value
            .member("inventory-skeleton")
            .unwrap()
            .as_array()
            .unwrap();
        assert!(!skeleton.is_empty());
        assert!(skeleton.iter().all(|f| f.member("folder_id").is_some()));
        assert_eq!(value.member("max-agent-groups"), Some(&Value::Int(42)));
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<String>().prop_map(|s| Value::String(representable(&s))),
            any::<i64>().prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>()
                .prop_filter("finite", |d| d.is_finite())
                .prop_map(Value::Double),
            "[0-9T:-]{0,20}".prop_map(Value::DateTime),
            "[A-Za-z0-9+/=]{0,20}".prop_map(Value::Base64),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(
                    (any::<String>().prop_map(|s| representable(&s)), inner),
                    0..6
                )
                .prop_map(Value::Struct),
            ]
        })
    }

    proptest! {
        #[test]
        fn values_round_trip(value in arb_value()) {
            let xml = method_response_xml(&value);
            prop_assert_eq!(
                parse_method_response(xml.as_bytes()).unwrap(),
                MethodResponse::Success(value.clone())
            );
            let call = method_call_xml("m", std::slice::from_ref(&value));
            prop_assert_eq!(parse_method_call(call.as_bytes()).unwrap().params, vec![value]);
        }
    }
}
