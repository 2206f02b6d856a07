//! Reading typed members out of an XML-RPC login struct, and the `look_at` vector format.
//!
//! Login replies come from servers of many ages (OpenSim, Second Life, forks), so these helpers
//! are strict where a viewer cannot go on without a value (ids, circuit, address: absent or
//! malformed is a [`LoginError`] naming the member) and lenient where it can (names, messages,
//! `look_at`, informational numbers). Integers are accepted as XML-RPC ints or as strings holding
//! a decimal integer. Nothing here panics on input.

use super::LoginError;
use super::xmlrpc::Value;
use crate::types::{Uuid, Vec3};

/// Reads a `look_at` string leniently: `[r0.99,r0.042,r0]`, `[r0.99, r0.042, r0]`,
/// `[r1E-05,r-0.5,r1]`, with or without the `r`s and brackets, extra spaces allowed.
/// Anything else (including non-finite numbers) is `None`.
pub fn parse_look_at(text: &str) -> Option<Vec3> {
    let text = text.trim();
    let text = text.strip_prefix('[').unwrap_or(text);
    let text = text.strip_suffix(']').unwrap_or(text);
    let mut parts = text.split(',').map(|part| {
        let part = part.trim();
        let part = part
            .strip_prefix('r')
            .or_else(|| part.strip_prefix('R'))
            .unwrap_or(part);
        part.trim().parse::<f32>().ok().filter(|v| v.is_finite())
    });
    let (x, y, z) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() {
        return None;
    }
    Some(Vec3::new(x, y, z))
}

/// Writes a `look_at` string the way OpenSim does: `[r<x>,r<y>,r<z>]`.
pub fn format_look_at(v: Vec3) -> String {
    format!("[r{},r{},r{}]", v.x, v.y, v.z)
}

/// A member that must be present.
pub(crate) fn required<'v>(s: &'v Value, name: &'static str) -> Result<&'v Value, LoginError> {
    s.member(name).ok_or(LoginError::MissingMember(name))
}

/// The error for a member whose value is not what `expected` describes.
pub(crate) fn invalid(member: &'static str, expected: &'static str, found: &Value) -> LoginError {
    LoginError::InvalidMember {
        member,
        expected,
        found: found.describe(),
    }
}

/// A string member's text, or empty when absent or not a string.
pub(crate) fn text_member(s: &Value, name: &str) -> String {
    s.member(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A required member holding a UUID string.
pub(crate) fn uuid_member(s: &Value, name: &'static str) -> Result<Uuid, LoginError> {
    let value = required(s, name)?;
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| invalid(name, "a uuid", value))
}

/// An integer member (an `i4`, or a string holding a decimal integer) converted to `T`.
pub(crate) fn int_member<T: TryFrom<i64>>(
    s: &Value,
    name: &'static str,
    expected: &'static str,
) -> Result<Option<T>, LoginError> {
    let Some(value) = s.member(name) else {
        return Ok(None);
    };
    let number = match value {
        Value::Int(n) => Some(*n),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    };
    number
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| invalid(name, expected, value))
}

/// A required integer member converted to `T`.
pub(crate) fn required_int<T: TryFrom<i64>>(
    s: &Value,
    name: &'static str,
    expected: &'static str,
) -> Result<T, LoginError> {
    int_member(s, name, expected)?.ok_or(LoginError::MissingMember(name))
}

/// `"Name"` → `Name` (Second Life quotes some names); anything else unchanged.
pub(crate) fn strip_quotes(name: &str) -> &str {
    name.strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name)
}

/// A string member: `None` when absent, an error when present with another type.
pub(crate) fn string_member(
    params: &Value,
    name: &'static str,
) -> Result<Option<String>, LoginError> {
    match params.member(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(LoginError::InvalidMember {
            member: name,
            expected: "a string",
            found: other.describe(),
        }),
    }
}

/// A flag OpenSim ignores: a boolean, a non-zero int or the text `true`/`1`/`y`; else `false`.
pub(crate) fn flag_member(params: &Value, name: &str) -> bool {
    match params.member(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Int(n)) => *n != 0,
        Some(Value::String(s)) => {
            matches!(
                s.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "y" | "yes"
            )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn look_at_is_lenient() {
        let v = |x, y, z| Some(Vec3::new(x, y, z));
        assert_eq!(parse_look_at("[r0.99,r0.042,r0]"), v(0.99, 0.042, 0.0));
        assert_eq!(parse_look_at("[r0.99, r0.042, r0]"), v(0.99, 0.042, 0.0));
        assert_eq!(parse_look_at("[r1E-05,r-0.5,r1]"), v(1e-5, -0.5, 1.0));
        assert_eq!(parse_look_at("[r0,r1,r0]"), v(0.0, 1.0, 0.0));
        assert_eq!(parse_look_at("0.5,0.25,1"), v(0.5, 0.25, 1.0));
        assert_eq!(parse_look_at("  [ r 1 ,r2 , R3 ]  "), v(1.0, 2.0, 3.0));
        assert_eq!(parse_look_at("[r1,r2,r3"), v(1.0, 2.0, 3.0));
        for bad in [
            "",
            "[]",
            "[r1,r2]",
            "[r1,r2,r3,r4]",
            "[rx,r2,r3]",
            "[r1,r2,rNaN]",
            "[r1,r2,rinf]",
            "[[r1,r2,r3]]",
            "[r1;r2;r3]",
            "[rr1,r2,r3]",
        ] {
            assert_eq!(parse_look_at(bad), None, "{bad:?}");
        }
        assert_eq!(format_look_at(Vec3::new(0.0, 1.0, 0.0)), "[r0,r1,r0]");
    }

    fn reply(members: &[(&str, Value)]) -> Value {
        Value::Struct(
            members
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn integers_convert_with_range_checks() {
        let s = reply(&[
            ("int", Value::Int(9000)),
            ("text", Value::String(" 9001 ".into())),
            ("negative", Value::Int(-1)),
            ("big", Value::Int(70_000)),
            ("double", Value::Double(9000.0)),
            ("word", Value::String("nine".into())),
        ]);
        assert_eq!(int_member::<u16>(&s, "int", "a u16"), Ok(Some(9000)));
        assert_eq!(int_member::<u16>(&s, "text", "a u16"), Ok(Some(9001)));
        assert_eq!(int_member::<u16>(&s, "absent", "a u16"), Ok(None));
        assert_eq!(int_member::<i64>(&s, "negative", "an i64"), Ok(Some(-1)));
        for name in ["negative", "big", "double", "word"] {
            assert!(matches!(
                int_member::<u16>(&s, name, "a u16"),
                Err(LoginError::InvalidMember {
                    expected: "a u16",
                    ..
                })
            ));
        }
        assert_eq!(
            required_int::<u32>(&s, "circuit_code", "a u32"),
            Err(LoginError::MissingMember("circuit_code"))
        );
    }

    #[test]
    fn strings_uuids_and_flags() {
        let s = reply(&[
            (
                "id",
                Value::String(" 7c0ffee0-0000-4000-8000-000000000001 ".into()),
            ),
            ("bad_id", Value::String("7c0ffee0".into())),
            ("name", Value::String("\"Quoted\"".into())),
            ("number", Value::Int(1)),
            ("yes", Value::String("Yes".into())),
            ("no", Value::String("nope".into())),
        ]);
        assert_eq!(
            uuid_member(&s, "id").unwrap().to_string(),
            "7c0ffee0-0000-4000-8000-000000000001"
        );
        assert!(matches!(
            uuid_member(&s, "bad_id"),
            Err(LoginError::InvalidMember { .. })
        ));
        assert!(matches!(
            uuid_member(&s, "number"),
            Err(LoginError::InvalidMember { .. })
        ));
        assert_eq!(
            uuid_member(&s, "agent_id"),
            Err(LoginError::MissingMember("agent_id"))
        );
        assert_eq!(strip_quotes(&text_member(&s, "name")), "Quoted");
        assert_eq!(strip_quotes("\""), "\"");
        assert_eq!(strip_quotes("\"a"), "\"a");
        assert_eq!(text_member(&s, "number"), "");
        assert_eq!(string_member(&s, "name"), Ok(Some("\"Quoted\"".into())));
        assert_eq!(string_member(&s, "absent"), Ok(None));
        assert!(matches!(
            string_member(&s, "number"),
            Err(LoginError::InvalidMember {
                member: "number",
                expected: "a string",
                ..
            })
        ));
        assert!(flag_member(&s, "yes") && flag_member(&s, "number"));
        assert!(!flag_member(&s, "no") && !flag_member(&s, "absent") && !flag_member(&s, "id"));
    }

    proptest! {
        #[test]
        fn look_at_formats_round_trip(x in any::<f32>(), y in any::<f32>(), z in any::<f32>()) {
            let v = Vec3::new(x, y, z);
            let back = parse_look_at(&format_look_at(v));
            if x.is_finite() && y.is_finite() && z.is_finite() {
                prop_assert_eq!(back, Some(v));
            } else {
                prop_assert_eq!(back, None);
            }
        }
    }
}
