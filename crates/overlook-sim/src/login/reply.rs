//! The body of a successful login reply: the typed core from [`LoginSuccess::to_value`] plus the
//! members OpenSim 0.9.2.2 sends besides (the `test-region` capture), so that full viewers, which
//! expect an inventory skeleton, a buddy list and the like, accept the reply.
//!
//! The inventory is a fixed skeleton of the standard folders with ids derived from the agent's id
//! (stable across logins); the library has only its root. Nothing is stored behind these folders:
//! they exist so that viewers find the folders they look for. LLSD logins get the same members
//! as an LLSD map ([`llsd_xml`]).

use overlook_protocol::login::xmlrpc::Value;
use overlook_protocol::login::{LoginSuccess, format_look_at};
use overlook_protocol::types::Uuid;

use super::LoginService;
use super::ids::derived_uuid;

/// OpenSim's library root folder id (the `inventory-lib-root` of every OpenSim reply).
const LIBRARY_ROOT: &str = "00000112-000f-0000-0000-000100bba000";
/// OpenSim's library owner id.
const LIBRARY_OWNER: &str = "11111111-1111-0000-0000-000100bba000";

/// The agent's inventory folders: name and `type_default` (the asset type the folder holds;
/// 8 is the root), in the capture's order.
const FOLDERS: [(&str, i64); 18] = [
    ("My Inventory", 8),
    ("Animations", 20),
    ("Body Parts", 13),
    ("Calling Cards", 2),
    ("Clothing", 5),
    ("Current Outfit", 46),
    ("Favorites", 23),
    ("Gestures", 21),
    ("Landmarks", 3),
    ("Lost And Found", 16),
    ("Notecards", 7),
    ("Objects", 6),
    ("Photo Album", 15),
    ("Scripts", 10),
    ("Sounds", 1),
    ("Textures", 0),
    ("Trash", 14),
    ("Settings", 56),
];

/// OpenSim's classified categories.
const CLASSIFIED_CATEGORIES: [&str; 9] = [
    "Shopping",
    "Land Rental",
    "Property Rental",
    "Special Attraction",
    "New Products",
    "Employment",
    "Wanted",
    "Service",
    "Personal",
];

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn record(members: &[(&str, Value)]) -> Value {
    Value::Struct(
        members
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    )
}

/// One `inventory-skeleton` entry.
fn folder(name: &str, id: Uuid, parent: Uuid, type_default: i64) -> Value {
    record(&[
        ("name", string(name)),
        ("folder_id", Value::String(id.to_string())),
        ("type_default", Value::Int(type_default)),
        ("version", Value::Int(1)),
        ("parent_id", Value::String(parent.to_string())),
    ])
}

/// The id of the agent's root inventory folder.
pub(super) fn inventory_root(agent: Uuid) -> Uuid {
    derived_uuid(agent, 0)
}

impl LoginService {
    /// The full reply struct for `success`: its typed members, then OpenSim's others (`home`,
    /// `inventory-*`, `buddy-list`, `login-flags`, `global-textures`, `agent_access`, …).
    pub fn reply_value(&self, success: &LoginSuccess) -> Value {
        let Value::Struct(mut members) = success.to_value() else {
            return success.to_value();
        };
        let root = inventory_root(success.agent_id);
        let skeleton = FOLDERS
            .iter()
            .zip(0u64..)
            .map(|(&(name, kind), salt)| {
                let parent = if salt == 0 { Uuid::NIL } else { root };
                folder(name, derived_uuid(success.agent_id, salt), parent, kind)
            })
            .collect();
        let library_root: Uuid = LIBRARY_ROOT.parse().unwrap_or(Uuid::NIL);
        let categories = CLASSIFIED_CATEGORIES
            .iter()
            .zip(1i64..)
            .map(|(name, id)| {
                record(&[
                    ("category_id", Value::Int(id)),
                    ("category_name", string(name)),
                ])
            })
            .collect();
        let flag = |yes: bool| string(if yes { "Y" } else { "N" });
        let extras = [
            ("home", Value::String(self.home_text())),
            ("agent_access", string("M")),
            ("agent_access_max", string("A")),
            ("real_id", Value::String(Uuid::NIL.to_string())),
            ("max-agent-groups", Value::Int(42)),
            ("map-server-url", Value::String(self.login_uri())),
            ("buddy-list", Value::Array(Vec::new())),
            ("gestures", Value::Array(Vec::new())),
            ("event_categories", Value::Array(Vec::new())),
            ("event_notifications", Value::Array(Vec::new())),
            ("classified_categories", Value::Array(categories)),
            (
                "inventory-root",
                Value::Array(vec![record(&[(
                    "folder_id",
                    Value::String(root.to_string()),
                )])]),
            ),
            ("inventory-skeleton", Value::Array(skeleton)),
            (
                "inventory-lib-root",
                Value::Array(vec![record(&[("folder_id", string(LIBRARY_ROOT))])]),
            ),
            (
                "inventory-lib-owner",
                Value::Array(vec![record(&[("agent_id", string(LIBRARY_OWNER))])]),
            ),
            (
                "inventory-skel-lib",
                Value::Array(vec![folder("OpenSim Library", library_root, Uuid::NIL, 8)]),
            ),
            (
                "initial-outfit",
                Value::Array(vec![record(&[
                    ("folder_name", string("Nightclub Female")),
                    ("gender", string("female")),
                ])]),
            ),
            (
                "login-flags",
                Value::Array(vec![record(&[
                    ("daylight_savings", flag(false)),
                    ("ever_logged_in", flag(true)),
                    ("stipend_since_login", flag(false)),
                    ("gendered", flag(true)),
                ])]),
            ),
            (
                "global-textures",
                Value::Array(vec![record(&[
                    (
                        "moon_texture_id",
                        string("ec4b9f0b-d008-45c6-96a4-01dd947ac621"),
                    ),
                    (
                        "cloud_texture_id",
                        string("dc4b9f0b-d008-45c6-96a4-01dd947ac621"),
                    ),
                    (
                        "sun_texture_id",
                        string("cce0f112-878f-4586-a2e2-a8f104bba271"),
                    ),
                ])]),
            ),
            (
                "ui-config",
                Value::Array(vec![record(&[("allow_first_life", flag(true))])]),
            ),
        ];
        members.extend(extras.into_iter().map(|(n, v)| (n.to_owned(), v)));
        Value::Struct(members)
    }

    /// The `home` member: `{'region_handle':[r<x>,r<y>], 'position':[r..], 'look_at':[r..]}`
    /// with this region and the default placement.
    fn home_text(&self) -> String {
        let region = &self.config.region;
        format!(
            "{{'region_handle':[r{},r{}], 'position':{}, 'look_at':{}}}",
            region.world_x,
            region.world_y,
            format_look_at(self.config.default_start),
            format_look_at(self.config.default_look_at),
        )
    }
}

/// `value` as an LLSD-XML document (`<llsd>…</llsd>`): strings, integers, booleans, reals,
/// arrays and maps, as OpenSim's `ToOSDMap` sends an LLSD login reply.
pub fn llsd_xml(value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><llsd>");
    push_llsd(&mut out, value);
    out.push_str("</llsd>");
    out
}

fn push_llsd(out: &mut String, value: &Value) {
    let mut element = |tag: &str, text: &str| {
        out.push_str(&format!("<{tag}>{}</{tag}>", escape(text)));
    };
    match value {
        Value::String(s) => element("string", s),
        Value::Int(n) => element("integer", &n.to_string()),
        Value::Bool(b) => element("boolean", if *b { "1" } else { "0" }),
        Value::Double(d) => element("real", &d.to_string()),
        Value::DateTime(s) => element("date", s),
        Value::Base64(s) => element("binary", s),
        Value::Array(items) => {
            out.push_str("<array>");
            for item in items {
                push_llsd(out, item);
            }
            out.push_str("</array>");
        }
        Value::Struct(members) => {
            out.push_str("<map>");
            for (name, item) in members {
                out.push_str(&format!("<key>{}</key>", escape(name)));
                push_llsd(out, item);
            }
            out.push_str("</map>");
        }
    }
}

/// Escapes XML text (the five predefined entities).
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlook_protocol::login::parse_seed_response;

    #[test]
    fn llsd_writer_shapes_and_escapes() {
        let value = Value::Struct(vec![
            ("login".into(), Value::String("true".into())),
            ("a&b".into(), Value::Int(-3)),
            (
                "list".into(),
                Value::Array(vec![Value::Bool(true), Value::Double(0.5)]),
            ),
            ("text".into(), Value::String("<x> & 'y'".into())),
        ]);
        let xml = llsd_xml(&value);
        assert!(
            xml.contains("<key>a&amp;b</key><integer>-3</integer>"),
            "{xml}"
        );
        assert!(xml.contains("<array><boolean>1</boolean><real>0.5</real></array>"));
        // The seed-response reader takes the string members of a map and skips the rest.
        let map = parse_seed_response(xml.as_bytes()).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map["login"], "true");
        assert_eq!(map["text"], "<x> & 'y'");
    }

    #[test]
    fn folders_have_distinct_types_and_the_root_first() {
        let mut types: Vec<i64> = FOLDERS.iter().map(|f| f.1).collect();
        assert_eq!(types[0], 8);
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), FOLDERS.len());
        let agent = Uuid([1; 16]);
        assert_eq!(inventory_root(agent), derived_uuid(agent, 0));
        assert_eq!(escape("a'\"b"), "a&apos;&quot;b");
    }
}
