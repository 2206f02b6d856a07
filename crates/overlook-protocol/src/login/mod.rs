//! Login: the XML-RPC `login_to_simulator` exchange, the seed capability and `get_grid_info`.
//!
//! Bytes in, typed values out, and typed values back to bytes (PROTOCOL §1 and §11). No HTTP is
//! done here: the caller POSTs [`LoginRequest::to_xml`] to the login URI and hands the body of the
//! answer to [`parse_login_response`]; then it POSTs [`seed_request_xml`] to the
//! [`LoginSuccess::seed_capability`] URL and reads the answer with [`parse_seed_response`]. The
//! writers for the other direction ([`LoginSuccess::to_xml`], [`login_refused_xml`],
//! [`seed_response_xml`], [`GridInfo::to_xml`]) produce what OpenSim 0.9.2.2 sends, for an
//! embedded login service and for round-trip tests.
//!
//! Every parser here never panics on input: arbitrary bytes give a [`LoginError`], never a panic,
//! and nesting is bounded so hostile input cannot exhaust the stack.
//!
//! Layout: [`xmlrpc`] is a small generic XML-RPC value model; `request`, `response`, `llsd` and
//! `grid_info` build the login-specific types on top of it; `members` reads typed struct members
//! (and the `look_at` format); `xml` is the shared quick-xml cursor and text escaping.

pub mod xmlrpc;

mod grid_info;
mod llsd;
mod members;
mod request;
mod response;
mod xml;

pub use grid_info::{GridInfo, parse_grid_info};
pub use llsd::{parse_seed_request, parse_seed_response, seed_request_xml, seed_response_xml};
pub use members::{format_look_at, parse_look_at};
pub use request::{DEFAULT_OPTIONS, LOGIN_METHOD, LoginRequest, StartLocation, password_hash};
pub use response::{
    DEFAULT_REGION_SIZE, LoginReply, LoginSuccess, login_refused_xml, parse_login_response,
};

/// Everything that can go wrong while reading login, seed-capability or grid-info XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The body is not valid UTF-8 (all of these documents are UTF-8).
    #[error("body is not utf-8")]
    NotUtf8,
    /// quick-xml rejected the document; the text is its message and the byte offset.
    #[error("malformed xml: {0}")]
    Xml(String),
    /// The document ended before its root element was closed.
    #[error("xml ends early")]
    Truncated,
    /// The XML is well-formed but not shaped as expected (wrong element, stray text, …).
    #[error("unexpected xml: {0}")]
    Structure(String),
    /// Elements are nested deeper than the parser accepts.
    #[error("xml nested too deeply")]
    TooDeep,
    /// A method call names another method than `login_to_simulator`.
    #[error("unexpected method `{0}`")]
    UnexpectedMethod(String),
    /// The server answered with an XML-RPC `<fault>`.
    #[error("xml-rpc fault {code}: {message}")]
    Fault {
        /// The `faultCode` member.
        code: i64,
        /// The `faultString` member.
        message: String,
    },
    /// A member the protocol requires is absent.
    #[error("missing member `{0}`")]
    MissingMember(&'static str),
    /// A member is present but its value has the wrong type or is out of range.
    #[error("member `{member}` is not {expected}: {found}")]
    InvalidMember {
        /// The member's name.
        member: &'static str,
        /// What the member should have been, e.g. "a u16".
        expected: &'static str,
        /// A short description of what was found (type and value, shortened).
        found: String,
    },
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Reading the shared OpenSim 0.9.2.2 captures at test run time, and the login replies in
    //! them.

    use super::{LoginReply, LoginSuccess, parse_login_response};
    /// Reads one capture file, e.g. `capture("test-region.login-response.xml")`.
    pub use overlook_testdata::read_bytes as capture;

    /// Parses a login reply that must be a success.
    pub fn success(bytes: &[u8]) -> LoginSuccess {
        match parse_login_response(bytes).unwrap() {
            LoginReply::Success(success) => *success,
            other => panic!("not a success: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{capture, success};
    use super::*;
    use crate::types::{Uuid, Vec3};
    use core::net::Ipv4Addr;
    use proptest::prelude::*;

    fn uuid(text: &str) -> Uuid {
        text.parse().unwrap()
    }

    #[test]
    fn capture_test_region_parses() {
        let s = success(&capture("test-region.login-response.xml"));
        assert_eq!(s.agent_id, uuid("7c0ffee0-0000-4000-8000-000000000001"));
        assert_eq!(s.session_id, uuid("aff3bc22-b4b1-4b6a-9a84-73a08abe2c42"));
        assert_eq!(
            s.secure_session_id,
            uuid("314cb255-8c0f-4547-bad8-915a555b8399")
        );
        assert_eq!(s.circuit_code, 1_987_294_124);
        assert_eq!(s.sim_ip, Ipv4Addr::LOCALHOST);
        assert_eq!(s.sim_port, 9000);
        assert_eq!((s.region_x, s.region_y), (256_000, 256_000));
        assert_eq!((s.region_size_x, s.region_size_y), (256, 256));
        assert_eq!(s.region_handle(), 0x0003_E800_0003_E800);
        assert_eq!(s.look_at, Some(Vec3::new(0.0, 1.0, 0.0)));
        assert_eq!(
            s.seed_capability,
            "http://127.0.0.1:9000/CAPS/2446ea17-fc9d-4b39-87f9-dc54bbe02a8a0000/"
        );
        assert_eq!(
            (s.first_name.as_str(), s.last_name.as_str()),
            ("Capture", "Probe")
        );
        assert_eq!(s.message, "Welcome, Avatar!");
        assert_eq!(s.seconds_since_epoch, Some(1_795_518_674));
        assert_eq!(s.http_port, Some(0));
        assert_eq!(s.start_location.as_deref(), Some("url"));
    }

    #[test]
    fn capture_fresh_and_var_region_parse() {
        let fresh = success(&capture("test-region-fresh.login-response.xml"));
        assert_eq!(fresh.agent_id, uuid("7c0ffee0-0000-4000-8000-000000000001"));
        assert_eq!(
            fresh.session_id,
            uuid("fa773f57-9461-46ff-ac03-e769c75d8f17")
        );
        assert_eq!(fresh.circuit_code, 1_429_171_683);
        assert_eq!((fresh.sim_ip, fresh.sim_port), (Ipv4Addr::LOCALHOST, 9000));
        assert_eq!(fresh.region_handle(), 0x0003_E800_0003_E800);
        assert_eq!((fresh.region_size_x, fresh.region_size_y), (256, 256));
        assert_eq!(fresh.look_at, Some(Vec3::new(0.0, 1.0, 0.0)));
        assert_eq!(fresh.seconds_since_epoch, Some(1_795_518_760));

        let var = success(&capture("var-region.login-response.xml"));
        assert_eq!(var.agent_id, uuid("7c0ffee0-0000-4000-8000-000000000001"));
        assert_eq!(var.session_id, uuid("62969150-489c-4def-872f-77e8f6c8ae27"));
        assert_eq!(
            var.secure_session_id,
            uuid("ccc41392-d64f-4ad4-a9d8-8bbb3d29c064")
        );
        assert_eq!(var.circuit_code, 853_110_888);
        assert_eq!((var.sim_ip, var.sim_port), (Ipv4Addr::LOCALHOST, 9001));
        assert_eq!((var.region_x, var.region_y), (281_600, 256_000));
        assert_eq!(var.region_handle(), 0x0004_4C00_0003_E800);
        assert_eq!((var.region_size_x, var.region_size_y), (512, 512));
        assert_eq!(var.look_at, Some(Vec3::new(0.0, 1.0, 0.0)));
    }

    #[test]
    fn capture_refusal_is_verbatim_and_rewritten_byte_for_byte() {
        let bytes = capture("login-refused.login-response.xml");
        let message = "Could not authenticate your avatar. Please check your username and \
                       password, and check the grid if problems persist.";
        assert_eq!(
            parse_login_response(&bytes).unwrap(),
            LoginReply::Refused {
                reason: "key".into(),
                message: message.into()
            }
        );
        assert_eq!(
            login_refused_xml("key", message).as_bytes(),
            bytes.as_slice()
        );
    }

    #[test]
    fn error_messages_are_short_and_lowercase() {
        let errors = [
            LoginError::NotUtf8,
            LoginError::Xml("x".into()),
            LoginError::Truncated,
            LoginError::Structure("x".into()),
            LoginError::TooDeep,
            LoginError::UnexpectedMethod("x".into()),
            LoginError::Fault {
                code: 1,
                message: "x".into(),
            },
            LoginError::MissingMember("circuit_code"),
            LoginError::InvalidMember {
                member: "sim_port",
                expected: "a u16",
                found: "x".into(),
            },
        ];
        for e in errors {
            let text = e.to_string();
            let first = text.chars().next().unwrap();
            assert!(first.is_lowercase(), "{text}");
            assert!(text.len() < 60, "{text}");
        }
        assert_eq!(
            LoginError::MissingMember("circuit_code").to_string(),
            "missing member `circuit_code`"
        );
    }

    /// Every parser in this module, fed the same bytes.
    fn run_all_parsers(bytes: &[u8]) {
        let _ = parse_login_response(bytes);
        let _ = LoginRequest::parse(bytes);
        let _ = parse_seed_request(bytes);
        let _ = parse_seed_response(bytes);
        let _ = parse_grid_info(bytes);
        let _ = xmlrpc::parse_method_call(bytes);
        let _ = xmlrpc::parse_method_response(bytes);
        if let Ok(text) = core::str::from_utf8(bytes) {
            let _ = parse_look_at(text);
            let _ = StartLocation::from_start_string(text);
        }
    }

    #[test]
    fn every_truncation_of_every_capture_is_an_error_not_a_panic() {
        type Parser = fn(&[u8]) -> bool;
        let files: [(&str, Parser); 5] = [
            ("test-region.login-response.xml", |b| {
                parse_login_response(b).is_ok()
            }),
            ("login-refused.login-response.xml", |b| {
                parse_login_response(b).is_ok()
            }),
            ("test-region.login-request.xml", |b| {
                LoginRequest::parse(b).is_ok()
            }),
            ("test-region.seed-request.xml", |b| {
                parse_seed_request(b).is_ok()
            }),
            ("test-region.seed-response.xml", |b| {
                parse_seed_response(b).is_ok()
            }),
        ];
        for (file, parses) in files {
            let bytes = capture(file);
            assert!(parses(&bytes), "{file}");
            // Every strict prefix that stops before the root element's closing `>` is refused.
            let end = bytes.iter().rposition(|&b| b == b'>').unwrap();
            // Step through the big response quickly; the small files byte by byte.
            let step = if bytes.len() > 4000 { 37 } else { 1 };
            for cut in (0..=end).step_by(step) {
                let head = &bytes[..cut];
                run_all_parsers(head);
                assert!(!parses(head), "{file} cut at {cut} parsed");
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut doc = String::from("<methodResponse><params><param>");
        for _ in 0..100_000 {
            doc.push_str("<value><array><data>");
        }
        assert_eq!(
            parse_login_response(doc.as_bytes()),
            Err(LoginError::TooDeep)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            run_all_parsers(&bytes);
        }

        #[test]
        fn xml_shaped_noise_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("<value>"), Just("</value>"), Just("<struct>"), Just("</struct>"),
                    Just("<member>"), Just("</member>"), Just("<name>"), Just("</name>"),
                    Just("<array>"), Just("<data>"), Just("</data>"), Just("</array>"),
                    Just("<string>"), Just("</string>"), Just("<i4>"), Just("</i4>"),
                    Just("<llsd>"), Just("</llsd>"), Just("<map>"), Just("<key>"), Just("</key>"),
                    Just("<methodResponse>"), Just("<params>"), Just("<param>"), Just("<fault>"),
                    Just("<gridinfo>"), Just("</gridinfo>"), Just("&amp;"), Just("&#0;"),
                    Just("&bogus;"), Just("login"), Just("true"), Just("-1"), Just("<data/>"),
                ],
                0..40,
            )
        ) {
            run_all_parsers(parts.concat().as_bytes());
        }
    }
}
