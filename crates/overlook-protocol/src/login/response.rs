//! The `login_to_simulator` reply: reading it (viewer side) and writing it (login service side).
//!
//! Members follow PROTOCOL §1.3/§1.4 and the OpenSim 0.9.2.2 captures: `login` is the *string*
//! `"true"`, `"false"` or `"indeterminate"` (an XML-RPC boolean is accepted too); a refusal's
//! `reason` and `message` are surfaced verbatim. Only the members a viewer needs to open the
//! circuit are typed; inventory, buddy lists and the like are ignored. Reading never panics on
//! input: every problem is a [`LoginError`], except a malformed `look_at`, which reads as `None`.

use core::net::Ipv4Addr;

use super::LoginError;
use super::members::{
    format_look_at, int_member, invalid, parse_look_at, required, required_int, strip_quotes,
    text_member, uuid_member,
};
use super::xmlrpc::{self, MethodResponse, Value};
use crate::types::{Uuid, Vec3};

/// The region size assumed when a reply has no `region_size_x` / `region_size_y` (Second Life).
pub const DEFAULT_REGION_SIZE: u32 = 256;

/// What the login service answered.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginReply {
    /// `login` = `"true"`: the region expects us.
    Success(Box<LoginSuccess>),
    /// `login` = `"false"`: refused; show `message`.
    Refused {
        /// Short machine key, e.g. `key` or `presence` (empty when absent).
        reason: String,
        /// Human-readable text, verbatim (empty when absent).
        message: String,
    },
    /// `login` = `"indeterminate"` (Second Life): log in again at `next_url`.
    Indeterminate {
        /// Where to send the login request next.
        next_url: String,
        /// Text to show meanwhile (empty when absent).
        message: String,
    },
}

/// The members of a successful login reply that a viewer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginSuccess {
    /// Our agent.
    pub agent_id: Uuid,
    /// Goes in every `AgentData` block.
    pub session_id: Uuid,
    /// The secure session (not needed for the basic messages).
    pub secure_session_id: Uuid,
    /// For `UseCircuitCode` / `CompleteAgentMovement` (sent as `i4`).
    pub circuit_code: u32,
    /// The region's UDP address.
    pub sim_ip: Ipv4Addr,
    /// The region's UDP port.
    pub sim_port: u16,
    /// World position of the region's south-west corner, metres.
    pub region_x: u32,
    /// World position of the region's south-west corner, metres.
    pub region_y: u32,
    /// Region width in metres ([`DEFAULT_REGION_SIZE`] when absent).
    pub region_size_x: u32,
    /// Region depth in metres ([`DEFAULT_REGION_SIZE`] when absent).
    pub region_size_y: u32,
    /// The stored camera direction, when present and readable.
    pub look_at: Option<Vec3>,
    /// The seed capability URL (empty when absent; Second Life has sent it blank).
    pub seed_capability: String,
    /// First name, surrounding double quotes removed.
    pub first_name: String,
    /// Last name, surrounding double quotes removed.
    pub last_name: String,
    /// The welcome message (empty when absent).
    pub message: String,
    /// Server time, when present and numeric.
    pub seconds_since_epoch: Option<i64>,
    /// The region's HTTP port, when present and in range (OpenSim 0.9.2.2 sends 0).
    pub http_port: Option<u16>,
    /// Where the agent was placed: `url`, `home` or `last`, when present.
    pub start_location: Option<String>,
}

impl LoginSuccess {
    /// The region handle: `region_x << 32 | region_y`.
    pub fn region_handle(&self) -> u64 {
        (u64::from(self.region_x) << 32) | u64::from(self.region_y)
    }

    /// The reply struct as OpenSim shapes it (`login` string, ids as strings, numbers as `i4`;
    /// a circuit code above `i32::MAX` would need `i8`, which viewers may not read, so a login
    /// service should draw codes below it as OpenSim does); optional members are left out when
    /// `None`. Add inventory and other members to the returned struct as needed.
    pub fn to_value(&self) -> Value {
        let string = |name: &str, value: String| (name.to_owned(), Value::String(value));
        let int = |name: &str, value: i64| (name.to_owned(), Value::Int(value));
        let mut members = vec![
            string("login", "true".to_owned()),
            string("first_name", self.first_name.clone()),
            string("last_name", self.last_name.clone()),
            string("agent_id", self.agent_id.to_string()),
            string("session_id", self.session_id.to_string()),
            string("secure_session_id", self.secure_session_id.to_string()),
            int("circuit_code", i64::from(self.circuit_code)),
            string("sim_ip", self.sim_ip.to_string()),
            int("sim_port", i64::from(self.sim_port)),
        ];
        if let Some(port) = self.http_port {
            members.push(int("http_port", i64::from(port)));
        }
        members.extend([
            int("region_x", i64::from(self.region_x)),
            int("region_y", i64::from(self.region_y)),
            int("region_size_x", i64::from(self.region_size_x)),
            int("region_size_y", i64::from(self.region_size_y)),
        ]);
        if let Some(look_at) = self.look_at {
            members.push(string("look_at", format_look_at(look_at)));
        }
        if let Some(start) = &self.start_location {
            members.push(string("start_location", start.clone()));
        }
        members.push(string("seed_capability", self.seed_capability.clone()));
        if let Some(seconds) = self.seconds_since_epoch {
            members.push(int("seconds_since_epoch", seconds));
        }
        members.push(string("message", self.message.clone()));
        Value::Struct(members)
    }

    /// The whole reply body, as OpenSim writes it.
    pub fn to_xml(&self) -> String {
        xmlrpc::method_response_xml(&self.to_value())
    }

    /// Reads the members of a reply struct whose `login` is `"true"`.
    fn from_struct(s: &Value) -> Result<Self, LoginError> {
        let region_size = |name: &'static str| match int_member::<u32>(s, name, "a positive u32")? {
            None => Ok(DEFAULT_REGION_SIZE),
            Some(0) => Err(invalid(name, "a positive u32", &Value::Int(0))),
            Some(size) => Ok(size),
        };
        let sim_ip = match required(s, "sim_ip")? {
            Value::String(text) => text
                .trim()
                .parse::<Ipv4Addr>()
                .map_err(|_| invalid("sim_ip", "an ipv4 address", &Value::String(text.clone())))?,
            other => return Err(invalid("sim_ip", "an ipv4 address", other)),
        };
        Ok(LoginSuccess {
            agent_id: uuid_member(s, "agent_id")?,
            session_id: uuid_member(s, "session_id")?,
            secure_session_id: uuid_member(s, "secure_session_id")?,
            circuit_code: required_int(s, "circuit_code", "a u32")?,
            sim_ip,
            sim_port: required_int(s, "sim_port", "a u16")?,
            region_x: required_int(s, "region_x", "a u32")?,
            region_y: required_int(s, "region_y", "a u32")?,
            region_size_x: region_size("region_size_x")?,
            region_size_y: region_size("region_size_y")?,
            look_at: s
                .member("look_at")
                .and_then(Value::as_str)
                .and_then(parse_look_at),
            seed_capability: text_member(s, "seed_capability"),
            first_name: strip_quotes(&text_member(s, "first_name")).to_owned(),
            last_name: strip_quotes(&text_member(s, "last_name")).to_owned(),
            message: text_member(s, "message"),
            seconds_since_epoch: int_member::<i64>(s, "seconds_since_epoch", "")
                .ok()
                .flatten(),
            http_port: int_member::<u16>(s, "http_port", "").ok().flatten(),
            start_location: s
                .member("start_location")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

impl LoginReply {
    /// Reads a reply from the response's struct parameter.
    pub fn from_value(s: &Value) -> Result<Self, LoginError> {
        if !matches!(s, Value::Struct(_)) {
            return Err(LoginError::Structure(format!(
                "login reply is a {}, not a struct",
                s.type_name()
            )));
        }
        let login = required(s, "login")?;
        let state = match login {
            Value::String(text) => text.trim().to_ascii_lowercase(),
            Value::Bool(true) => "true".to_owned(),
            Value::Bool(false) => "false".to_owned(),
            other => return Err(invalid("login", "true, false or indeterminate", other)),
        };
        match state.as_str() {
            "true" => Ok(LoginReply::Success(Box::new(LoginSuccess::from_struct(s)?))),
            "false" => Ok(LoginReply::Refused {
                reason: text_member(s, "reason"),
                message: text_member(s, "message"),
            }),
            "indeterminate" => Ok(LoginReply::Indeterminate {
                next_url: match required(s, "next_url")? {
                    Value::String(url) => url.clone(),
                    other => return Err(invalid("next_url", "a string", other)),
                },
                message: text_member(s, "message"),
            }),
            _ => Err(invalid("login", "true, false or indeterminate", login)),
        }
    }

    /// The reply struct (see [`LoginSuccess::to_value`] and [`login_refused_xml`]).
    pub fn to_value(&self) -> Value {
        let string = |name: &str, value: &str| (name.to_owned(), Value::String(value.to_owned()));
        match self {
            LoginReply::Success(success) => success.to_value(),
            LoginReply::Refused { reason, message } => Value::Struct(vec![
                string("reason", reason),
                string("message", message),
                string("login", "false"),
            ]),
            LoginReply::Indeterminate { next_url, message } => Value::Struct(vec![
                string("login", "indeterminate"),
                string("next_url", next_url),
                string("next_method", "login_to_simulator"),
                string("message", message),
            ]),
        }
    }

    /// The whole reply body.
    pub fn to_xml(&self) -> String {
        xmlrpc::method_response_xml(&self.to_value())
    }
}

/// Reads a login reply body. A `<fault>` is [`LoginError::Fault`]; a refusal is
/// `Ok(LoginReply::Refused { .. })`, not an error.
pub fn parse_login_response(bytes: &[u8]) -> Result<LoginReply, LoginError> {
    match xmlrpc::parse_method_response(bytes)? {
        MethodResponse::Success(value) => LoginReply::from_value(&value),
        MethodResponse::Fault { code, message } => Err(LoginError::Fault { code, message }),
    }
}

/// A refusal body in OpenSim's shape (`reason`, `message`, then `login` = `"false"`).
pub fn login_refused_xml(reason: &str, message: &str) -> String {
    LoginReply::Refused {
        reason: reason.to_owned(),
        message: message.to_owned(),
    }
    .to_xml()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::test_support::{capture, success};
    use crate::login::xml::representable;
    use proptest::prelude::*;

    /// The capture's reply struct with `edit` applied, written back out.
    fn edited(edit: impl FnOnce(&mut Vec<(String, Value)>)) -> String {
        let bytes = capture("test-region.login-response.xml");
        let Ok(MethodResponse::Success(Value::Struct(mut members))) =
            xmlrpc::parse_method_response(&bytes)
        else {
            panic!("capture is not a struct reply");
        };
        edit(&mut members);
        xmlrpc::method_response_xml(&Value::Struct(members))
    }

    fn set(members: &mut [(String, Value)], name: &str, value: Value) {
        members.iter_mut().find(|(n, _)| n == name).unwrap().1 = value;
    }

    #[test]
    fn success_round_trips_with_markup_in_text() {
        let mut s = success(&capture("var-region.login-response.xml"));
        s.first_name = "A&B <\"C\">".into();
        s.message = "Welcome & <b>hi</b> 'there'\r\n".into();
        s.seed_capability = "http://h/?a=1&b=2".into();
        s.circuit_code = u32::MAX;
        s.look_at = Some(Vec3::new(0.99, 0.042, -1e-5));
        s.http_port = None;
        let xml = s.to_xml();
        assert!(xml.contains("A&amp;B &lt;&quot;C&quot;&gt;"));
        assert_eq!(success(xml.as_bytes()), s);
        let reply = LoginReply::Success(Box::new(s));
        assert_eq!(
            parse_login_response(reply.to_xml().as_bytes()).unwrap(),
            reply
        );
    }

    #[test]
    fn refusal_and_indeterminate_round_trip() {
        for reply in [
            LoginReply::Refused {
                reason: "presence".into(),
                message: "a & <b> \"c\"".into(),
            },
            LoginReply::Refused {
                reason: String::new(),
                message: String::new(),
            },
            LoginReply::Indeterminate {
                next_url: "https://x/?a&b".into(),
                message: "wait".into(),
            },
        ] {
            assert_eq!(
                parse_login_response(reply.to_xml().as_bytes()).unwrap(),
                reply
            );
        }
        let no_url = edited(|m| {
            m.clear();
            m.push(("login".into(), Value::String("indeterminate".into())));
        });
        assert_eq!(
            parse_login_response(no_url.as_bytes()),
            Err(LoginError::MissingMember("next_url"))
        );
    }

    #[test]
    fn login_member_forms() {
        let bool_true = edited(|m| set(m, "login", Value::Bool(true)));
        assert_eq!(success(bool_true.as_bytes()).circuit_code, 1_987_294_124);
        let bool_false = edited(|m| set(m, "login", Value::Bool(false)));
        assert!(matches!(
            parse_login_response(bool_false.as_bytes()).unwrap(),
            LoginReply::Refused { .. }
        ));
        let upper = edited(|m| set(m, "login", Value::String(" TRUE ".into())));
        assert!(matches!(
            parse_login_response(upper.as_bytes()).unwrap(),
            LoginReply::Success(_)
        ));
        let maybe = edited(|m| set(m, "login", Value::String("maybe".into())));
        assert!(matches!(
            parse_login_response(maybe.as_bytes()),
            Err(LoginError::InvalidMember {
                member: "login",
                ..
            })
        ));
        let missing = edited(|m| m.retain(|(n, _)| n != "login"));
        assert_eq!(
            parse_login_response(missing.as_bytes()),
            Err(LoginError::MissingMember("login"))
        );
    }

    #[test]
    fn bad_members_are_reported_by_name() {
        let cases: [(&str, Value, &str); 8] = [
            ("circuit_code", Value::Int(-5), "circuit_code"),
            (
                "sim_port",
                Value::String("nine thousand".into()),
                "sim_port",
            ),
            ("sim_port", Value::Int(70_000), "sim_port"),
            ("sim_ip", Value::String("127.0.0.256".into()), "sim_ip"),
            ("agent_id", Value::String("not-a-uuid".into()), "agent_id"),
            ("region_x", Value::Double(1.0), "region_x"),
            ("region_size_x", Value::Int(0), "region_size_x"),
            ("session_id", Value::Int(1), "session_id"),
        ];
        for (name, value, member) in cases {
            let xml = edited(|m| set(m, name, value.clone()));
            match parse_login_response(xml.as_bytes()) {
                Err(LoginError::InvalidMember { member: got, .. }) => assert_eq!(got, member),
                other => panic!("{name} = {value:?}: {other:?}"),
            }
        }
        let err =
            parse_login_response(edited(|m| set(m, "circuit_code", Value::Int(-5))).as_bytes());
        assert_eq!(
            err.unwrap_err().to_string(),
            "member `circuit_code` is not a u32: int -5"
        );
        for name in [
            "circuit_code",
            "agent_id",
            "session_id",
            "sim_ip",
            "sim_port",
            "region_y",
        ] {
            let xml = edited(|m| m.retain(|(n, _)| n != name));
            match parse_login_response(xml.as_bytes()) {
                Err(LoginError::MissingMember(got)) => assert_eq!(got, name),
                other => panic!("without {name}: {other:?}"),
            }
        }
    }

    #[test]
    fn lenient_members() {
        let xml = edited(|m| {
            m.retain(|(n, _)| !n.starts_with("region_size") && n != "seed_capability");
            set(m, "first_name", Value::String("\"Quoted\"".into()));
            set(m, "sim_port", Value::String(" 9002 ".into()));
            set(m, "look_at", Value::String("garbage".into()));
            set(m, "http_port", Value::Int(-1));
            set(m, "seconds_since_epoch", Value::String("soon".into()));
        });
        let s = success(xml.as_bytes());
        assert_eq!(
            (s.region_size_x, s.region_size_y),
            (DEFAULT_REGION_SIZE, DEFAULT_REGION_SIZE)
        );
        assert_eq!(s.first_name, "Quoted");
        assert_eq!(s.sim_port, 9002);
        assert_eq!(s.seed_capability, "");
        assert_eq!(
            (s.look_at, s.http_port, s.seconds_since_epoch),
            (None, None, None)
        );
    }

    #[test]
    fn transport_level_failures() {
        let bytes = capture("test-region.login-response.xml");
        let tail = "</params></methodResponse>".len();
        assert!(bytes.ends_with(b"</params></methodResponse>"));
        assert_eq!(
            parse_login_response(&bytes[..bytes.len() - tail]),
            Err(LoginError::Truncated)
        );
        let inside_text = bytes.windows(6).position(|w| w == b"256000").unwrap() + 3;
        assert_eq!(
            parse_login_response(&bytes[..inside_text]),
            Err(LoginError::Truncated)
        );
        let inside_tag = bytes
            .windows(14)
            .position(|w| w == b"<name>region_y")
            .unwrap()
            + 3;
        assert!(
            matches!(parse_login_response(&bytes[..inside_tag]), Err(LoginError::Xml(m)) if !m.is_empty())
        );
        assert!(matches!(
            parse_login_response(b"<html><body>502</body></html>"),
            Err(LoginError::Structure(_))
        ));
        assert!(matches!(
            parse_login_response(b""),
            Err(LoginError::Truncated)
        ));
        let fault = xmlrpc::fault_response_xml(4, "Too many params");
        assert_eq!(
            parse_login_response(fault.as_bytes()),
            Err(LoginError::Fault {
                code: 4,
                message: "Too many params".into()
            })
        );
        let not_struct = xmlrpc::method_response_xml(&Value::String("true".into()));
        assert!(matches!(
            parse_login_response(not_struct.as_bytes()),
            Err(LoginError::Structure(_))
        ));
    }

    fn arb_success() -> impl Strategy<Value = LoginSuccess> {
        let text = || any::<String>().prop_map(|s| representable(&s));
        let finite = || any::<f32>().prop_filter("finite", |v| v.is_finite());
        (
            (
                any::<[u8; 16]>(),
                any::<[u8; 16]>(),
                any::<[u8; 16]>(),
                any::<u32>(),
            ),
            (
                any::<[u8; 4]>(),
                any::<u16>(),
                any::<u32>(),
                any::<u32>(),
                1u32..,
                1u32..,
            ),
            proptest::option::of((finite(), finite(), finite())),
            (text(), "[^\"]*", "[^\"]*", text()),
            (
                proptest::option::of(any::<i64>()),
                proptest::option::of(any::<u16>()),
            ),
            proptest::option::of(text()),
        )
            .prop_map(|(ids, net, look, names, nums, start)| LoginSuccess {
                agent_id: Uuid(ids.0),
                session_id: Uuid(ids.1),
                secure_session_id: Uuid(ids.2),
                circuit_code: ids.3,
                sim_ip: Ipv4Addr::from(net.0),
                sim_port: net.1,
                region_x: net.2,
                region_y: net.3,
                region_size_x: net.4,
                region_size_y: net.5,
                look_at: look.map(|(x, y, z)| Vec3::new(x, y, z)),
                seed_capability: names.0,
                first_name: representable(&names.1),
                last_name: representable(&names.2),
                message: names.3,
                seconds_since_epoch: nums.0,
                http_port: nums.1,
                start_location: start,
            })
    }

    proptest! {
        #[test]
        fn arbitrary_successes_round_trip(s in arb_success()) {
            prop_assert_eq!(success(s.to_xml().as_bytes()), s);
        }

        #[test]
        fn arbitrary_refusals_round_trip(reason in any::<String>(), message in any::<String>()) {
            let want = LoginReply::Refused {
                reason: representable(&reason),
                message: representable(&message),
            };
            let xml = login_refused_xml(&reason, &message);
            prop_assert_eq!(parse_login_response(xml.as_bytes()).unwrap(), want);
        }
    }
}
