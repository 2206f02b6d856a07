//! The `login_to_simulator` request: building it (viewer side) and reading it (login service side).
//!
//! Members and their meaning follow PROTOCOL §1.2; the writer reproduces what the capturing client
//! sent to OpenSim 0.9.2.2 byte for byte. The start location follows OpenSim's
//! `LLLoginService.FindDestination`: `last`, `home`, or `uri:<region>&<x>&<y>&<z>` with
//! non-negative plain decimals; any other text is kept as [`StartLocation::Other`]. Reading never
//! panics on input: every problem is a [`LoginError`].

use core::fmt;

use md5::{Digest, Md5};

use super::LoginError;
use super::members::{flag_member, string_member};
use super::xmlrpc::{self, Value};

/// The XML-RPC method a viewer calls to log in.
pub const LOGIN_METHOD: &str = "login_to_simulator";

/// The `options` the reference viewer asks for; OpenSim ignores them, Second Life uses them.
pub const DEFAULT_OPTIONS: [&str; 6] = [
    "inventory-root",
    "inventory-skeleton",
    "buddy-list",
    "login-flags",
    "global-textures",
    "max-agent-groups",
];

/// The `passwd` member for a clear-text password: `"$1$"` + lowercase hex MD5 of its UTF-8 bytes.
///
/// ```
/// let h = overlook_protocol::login::password_hash("capture");
/// assert!(h.starts_with("$1$"));
/// assert_eq!(h.len(), 35);
/// ```
pub fn password_hash(clear: &str) -> String {
    let digest = Md5::digest(clear.as_bytes());
    let mut out = String::with_capacity(35);
    out.push_str("$1$");
    for byte in digest.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Where the agent asks to arrive (the `start` member).
#[derive(Debug, Clone, PartialEq)]
pub enum StartLocation {
    /// `last`: where the agent last logged out.
    Last,
    /// `home`: the agent's home location.
    Home,
    /// `uri:<region>&<x>&<y>&<z>`: a region by name and a region-local position in metres.
    Uri {
        /// The region name (non-empty, without `&`).
        region: String,
        /// East, metres (non-negative).
        x: f32,
        /// North, metres (non-negative).
        y: f32,
        /// Up, metres (non-negative).
        z: f32,
    },
    /// Anything else, verbatim (OpenSim answers such a request with its generic login failure).
    Other(String),
}

impl StartLocation {
    /// Reads a `start` string the way OpenSim does (regex
    /// `^uri:(?<region>[^&]+)&(?<x>\d+[.]?\d*)&(?<y>…)&(?<z>…)$`, or exactly `last` / `home`).
    /// Never fails: text that matches none of these is kept in [`StartLocation::Other`].
    pub fn from_start_string(text: &str) -> Self {
        match text {
            "last" => StartLocation::Last,
            "home" => StartLocation::Home,
            _ => parse_uri(text).unwrap_or_else(|| StartLocation::Other(text.to_owned())),
        }
    }

    /// The `start` string; the inverse of [`StartLocation::from_start_string`] for every value
    /// it produces. (A `Uri` with negative or non-finite coordinates, or a region name that is
    /// empty or contains `&`, writes text that reads back as `Other`.)
    pub fn to_start_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for StartLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartLocation::Last => f.write_str("last"),
            StartLocation::Home => f.write_str("home"),
            StartLocation::Uri { region, x, y, z } => write!(f, "uri:{region}&{x}&{y}&{z}"),
            StartLocation::Other(text) => f.write_str(text),
        }
    }
}

/// The `uri:` form, or `None` when `text` does not match OpenSim's pattern exactly.
fn parse_uri(text: &str) -> Option<StartLocation> {
    let rest = text.strip_prefix("uri:")?;
    let mut parts = rest.split('&');
    let region = parts.next().filter(|r| !r.is_empty())?;
    let x = parse_plain_decimal(parts.next()?)?;
    let y = parse_plain_decimal(parts.next()?)?;
    let z = parse_plain_decimal(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    Some(StartLocation::Uri {
        region: region.to_owned(),
        x,
        y,
        z,
    })
}

/// `\d+[.]?\d*` (ASCII digits) as a finite `f32`.
fn parse_plain_decimal(text: &str) -> Option<f32> {
    let (whole, frac) = match text.split_once('.') {
        Some((whole, frac)) => (whole, frac),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) {
        return None;
    }
    text.parse::<f32>().ok().filter(|v| v.is_finite())
}

/// The members of a `login_to_simulator` call (PROTOCOL §1.2).
#[derive(Clone, PartialEq)]
pub struct LoginRequest {
    /// First name.
    pub first: String,
    /// Last name (`Resident` on grids without last names).
    pub last: String,
    /// The password in `$1$` + md5-hex form; see [`password_hash`].
    pub passwd: String,
    /// Where to arrive.
    pub start: StartLocation,
    /// Viewer product name, e.g. `Overlook`.
    pub channel: String,
    /// Viewer version, e.g. `0.1.0`.
    pub version: String,
    /// Short OS tag: `lnx`, `win` or `mac`.
    pub platform: String,
    /// OS version text.
    pub platform_version: String,
    /// Opaque machine hash (OpenSim only compares it with its deny list).
    pub mac: String,
    /// Opaque serial hash (OpenSim only compares it with its deny list).
    pub id0: String,
    /// Whether the user accepted the terms of service (ignored by OpenSim).
    pub agree_to_tos: bool,
    /// Whether the user read the critical message (ignored by OpenSim).
    pub read_critical: bool,
    /// Extra data asked for, e.g. `inventory-skeleton` (ignored by OpenSim).
    pub options: Vec<String>,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("first", &self.first)
            .field("last", &self.last)
            .field("passwd", &"<redacted>")
            .field("start", &self.start)
            .field("channel", &self.channel)
            .field("version", &self.version)
            .field("platform", &self.platform)
            .field("platform_version", &self.platform_version)
            .field("mac", &self.mac)
            .field("id0", &self.id0)
            .field("agree_to_tos", &self.agree_to_tos)
            .field("read_critical", &self.read_critical)
            .field("options", &self.options)
            .finish()
    }
}

impl LoginRequest {
    /// A request as Overlook sends it: the password hashed, channel `Overlook`, this crate's
    /// version, the platform tag of the build target, zeroed `mac`/`id0`, both agreement flags set
    /// and [`DEFAULT_OPTIONS`].
    pub fn new(first: &str, last: &str, clear_password: &str, start: StartLocation) -> Self {
        let platform = if cfg!(target_os = "windows") {
            "win"
        } else if cfg!(target_os = "macos") {
            "mac"
        } else {
            "lnx"
        };
        LoginRequest {
            first: first.to_owned(),
            last: last.to_owned(),
            passwd: password_hash(clear_password),
            start,
            channel: "Overlook".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            platform: platform.to_owned(),
            platform_version: String::new(),
            mac: "0".repeat(32),
            id0: "0".repeat(32),
            agree_to_tos: true,
            read_critical: true,
            options: DEFAULT_OPTIONS.iter().map(|&o| o.to_owned()).collect(),
        }
    }

    /// The call's single struct parameter, members in the order viewers send them.
    pub fn to_value(&self) -> Value {
        let string = |name: &str, value: &str| (name.to_owned(), Value::String(value.to_owned()));
        Value::Struct(vec![
            string("first", &self.first),
            string("last", &self.last),
            string("passwd", &self.passwd),
            string("start", &self.start.to_start_string()),
            string("channel", &self.channel),
            string("version", &self.version),
            string("platform", &self.platform),
            string("platform_version", &self.platform_version),
            string("mac", &self.mac),
            string("id0", &self.id0),
            ("agree_to_tos".to_owned(), Value::Bool(self.agree_to_tos)),
            ("read_critical".to_owned(), Value::Bool(self.read_critical)),
            (
                "options".to_owned(),
                Value::Array(self.options.iter().cloned().map(Value::String).collect()),
            ),
        ])
    }

    /// The request body to POST (`Content-Type: text/xml`).
    pub fn to_xml(&self) -> String {
        xmlrpc::method_call_xml(LOGIN_METHOD, &[self.to_value()])
    }

    /// Reads a request body as OpenSim's login handler does: `first`, `last` and `passwd` are
    /// required (`web_login_key` stands in for `passwd` as `$1$<key>`); other members default to
    /// empty / `false`, a missing `start` reads as `Other("")`, and unknown members are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, LoginError> {
        let call = xmlrpc::parse_method_call(bytes)?;
        if call.method != LOGIN_METHOD {
            return Err(LoginError::UnexpectedMethod(call.method));
        }
        let params = match call.params.first() {
            Some(value @ Value::Struct(_)) => value,
            Some(other) => {
                return Err(LoginError::Structure(format!(
                    "login parameter is a {}, not a struct",
                    other.type_name()
                )));
            }
            None => return Err(LoginError::Structure("login call has no parameter".into())),
        };
        let required = |name: &'static str| {
            string_member(params, name)?.ok_or(LoginError::MissingMember(name))
        };
        let optional = |name: &'static str| {
            Ok::<_, LoginError>(string_member(params, name)?.unwrap_or_default())
        };
        let first = required("first")?;
        let last = required("last")?;
        let passwd = match string_member(params, "passwd")? {
            Some(passwd) => passwd,
            None => match string_member(params, "web_login_key")? {
                Some(key) => format!("$1${key}"),
                None => return Err(LoginError::MissingMember("passwd")),
            },
        };
        let options = params
            .member("options")
            .and_then(Value::as_array)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        Ok(LoginRequest {
            first,
            last,
            passwd,
            start: StartLocation::from_start_string(&optional("start")?),
            channel: optional("channel")?,
            version: optional("version")?,
            platform: optional("platform")?,
            platform_version: optional("platform_version")?,
            mac: optional("mac")?,
            id0: optional("id0")?,
            agree_to_tos: flag_member(params, "agree_to_tos"),
            read_critical: flag_member(params, "read_critical"),
            options,
        })
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::capture::SESSIONS;
    use crate::login::test_support::capture;
    use crate::login::xml::representable;
    use proptest::prelude::*;

    #[test]
    fn password_hash_is_dollar_one_and_md5_hex() {
        // `printf capture | md5sum` and `printf wrong-password | md5sum`.
        assert_eq!(
            password_hash("capture"),
            "$1$d7ba9bbfda42b9657f14ee37ef76150b"
        );
        assert_eq!(
            password_hash("wrong-password"),
            "$1$30b12a085a0c408d4ef554dd7a4ee467"
        );
        assert_eq!(password_hash(""), "$1$d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn capture_requests_parse() {
        for session in SESSIONS {
            let request =
                LoginRequest::parse(&capture(&format!("{session}.login-request.xml"))).unwrap();
            assert_eq!(
                (request.first.as_str(), request.last.as_str()),
                ("Capture", "Probe")
            );
            assert_eq!(request.passwd, password_hash("capture"));
            let region = if session == "var-region" {
                "Var Region"
            } else {
                "Test Region"
            };
            assert_eq!(
                request.start,
                StartLocation::Uri {
                    region: region.into(),
                    x: 128.0,
                    y: 128.0,
                    z: 30.0
                }
            );
            assert_eq!(request.channel, "Overlook capture probe");
            assert_eq!(request.version, "0.1.0");
            assert_eq!(request.platform, "lnx");
            assert_eq!(request.platform_version, "Linux");
            assert_eq!(request.mac, "0".repeat(32));
            assert!(request.agree_to_tos && request.read_critical);
            assert_eq!(request.options, DEFAULT_OPTIONS);
        }
        let refused = LoginRequest::parse(&capture("login-refused.login-request.xml")).unwrap();
        assert_eq!(
            (refused.first.as_str(), refused.last.as_str()),
            ("Test", "User")
        );
        assert!(refused.passwd.starts_with("$1$"));
        assert_eq!(refused.passwd.len(), 35);
        assert_eq!(refused.passwd, password_hash("wrong-password"));
        assert_eq!(
            refused.start.to_start_string(),
            "uri:Test Region&128&128&30"
        );
    }

    #[test]
    fn writer_reproduces_the_capture_requests_byte_for_byte() {
        let files = SESSIONS.map(|s| format!("{s}.login-request.xml"));
        for file in files
            .iter()
            .map(String::as_str)
            .chain(["login-refused.login-request.xml"])
        {
            let bytes = capture(file);
            let request = LoginRequest::parse(&bytes).unwrap();
            // The capturing client ended its request bodies with a newline.
            let body = bytes.strip_suffix(b"\n").unwrap();
            assert_eq!(request.to_xml().as_bytes(), body, "{file}");
        }
    }

    #[test]
    fn start_strings_follow_opensim() {
        use StartLocation as S;
        let uri = |r: &str, x, y, z| S::Uri {
            region: r.into(),
            x,
            y,
            z,
        };
        assert_eq!(S::from_start_string("last"), S::Last);
        assert_eq!(S::from_start_string("home"), S::Home);
        assert_eq!(
            S::from_start_string("uri:A b&1.5&2.&3"),
            uri("A b", 1.5, 2.0, 3.0)
        );
        assert_eq!(S::from_start_string("uri:R&0&0&0"), uri("R", 0.0, 0.0, 0.0));
        for other in [
            "",
            "Last",
            "uri:",
            "uri:&1&2&3",
            "uri:R&1&2",
            "uri:R&1&2&3&4",
            "uri:R&-1&2&3",
            "uri:R&.5&2&3",
            "uri:R&1e3&2&3",
            "uri:R& 1&2&3",
            "uri:R&1&2&3 ",
            "uri:R&x&2&3",
            "uri:R&1..2&2&3",
            "uri:R&١&2&3",
        ] {
            assert_eq!(
                S::from_start_string(other),
                S::Other(other.into()),
                "{other:?}"
            );
        }
        assert_eq!(
            uri("Test Region", 128.0, 128.0, 30.0).to_string(),
            "uri:Test Region&128&128&30"
        );
        assert_eq!(
            uri("R", 0.25, 1e-7, 1e20).to_start_string(),
            "uri:R&0.25&0.0000001&100000000000000000000"
        );
    }

    #[test]
    fn required_members_and_types_are_checked() {
        let base = LoginRequest::new("Test", "User", "pw", StartLocation::Last);
        let without = |name: &str| {
            let Value::Struct(mut members) = base.to_value() else {
                unreachable!()
            };
            members.retain(|(n, _)| n != name);
            xmlrpc::method_call_xml(LOGIN_METHOD, &[Value::Struct(members)])
        };
        for name in ["first", "last", "passwd"] {
            assert_eq!(
                LoginRequest::parse(without(name).as_bytes()),
                Err(LoginError::MissingMember(match name {
                    "first" => "first",
                    "last" => "last",
                    _ => "passwd",
                }))
            );
        }
        let no_start = LoginRequest::parse(without("start").as_bytes()).unwrap();
        assert_eq!(no_start.start, StartLocation::Other(String::new()));
        let minimal = xmlrpc::method_call_xml(
            LOGIN_METHOD,
            &[Value::Struct(vec![
                ("first".into(), Value::String("A".into())),
                ("last".into(), Value::Int(3)),
            ])],
        );
        assert!(matches!(
            LoginRequest::parse(minimal.as_bytes()),
            Err(LoginError::InvalidMember { member: "last", .. })
        ));
        let web_key = xmlrpc::method_call_xml(
            LOGIN_METHOD,
            &[Value::Struct(vec![
                ("first".into(), Value::String("A".into())),
                ("last".into(), Value::String("B".into())),
                ("web_login_key".into(), Value::String("k".into())),
                ("agree_to_tos".into(), Value::String("true".into())),
            ])],
        );
        let parsed = LoginRequest::parse(web_key.as_bytes()).unwrap();
        assert_eq!(parsed.passwd, "$1$k");
        assert!(parsed.agree_to_tos && !parsed.read_critical);
        let other_method = xmlrpc::method_call_xml("set_login_level", &[base.to_value()]);
        assert_eq!(
            LoginRequest::parse(other_method.as_bytes()),
            Err(LoginError::UnexpectedMethod("set_login_level".into()))
        );
        let not_struct = xmlrpc::method_call_xml(LOGIN_METHOD, &[Value::Int(1)]);
        assert!(matches!(
            LoginRequest::parse(not_struct.as_bytes()),
            Err(LoginError::Structure(_))
        ));
        assert!(!format!("{base:?}").contains(&base.passwd));
    }

    fn arb_text() -> impl Strategy<Value = String> {
        any::<String>().prop_map(|s| representable(&s))
    }

    fn arb_start() -> impl Strategy<Value = StartLocation> {
        prop_oneof![
            Just(StartLocation::Last),
            Just(StartLocation::Home),
            ("[^&]+", 0.0f32..1e7, 0.0f32..1e7, 0.0f32..1e7).prop_map(|(region, x, y, z)| {
                StartLocation::Uri {
                    region: representable(&region),
                    x,
                    y,
                    z,
                }
            }),
            arb_text().prop_map(|s| StartLocation::from_start_string(&s)),
        ]
    }

    proptest! {
        #[test]
        fn requests_round_trip(
            names in (arb_text(), arb_text(), arb_text(), arb_text()),
            start in arb_start(),
            flags in (any::<bool>(), any::<bool>()),
            options in proptest::collection::vec(arb_text(), 0..4),
        ) {
            let mut request = LoginRequest::new(&names.0, &names.1, &names.2, start);
            request.channel = names.3;
            request.mac = "a&b<c>\"d'".into();
            (request.agree_to_tos, request.read_critical) = flags;
            request.options = options;
            let xml = request.to_xml();
            prop_assert_eq!(LoginRequest::parse(xml.as_bytes()).unwrap(), request);
        }

        #[test]
        fn start_strings_round_trip(start in arb_start()) {
            let text = start.to_start_string();
            prop_assert_eq!(StartLocation::from_start_string(&text), start);
        }
    }
}
