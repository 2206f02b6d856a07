//! Login: the XML-RPC `login_to_simulator` exchange, the seed capability and `get_grid_info`.
//!
//! Bytes in, typed values out, and typed values back to bytes (PROTOCOL §1 and §11). No HTTP is
//! done here. The seed capability exchange is [`seed_request_xml`] / [`parse_seed_response`]
//! (and the other direction, [`parse_seed_request`] / [`seed_response_xml`], for an embedded
//! region); [`parse_grid_info`] reads `get_grid_info`.
//!
//! Every parser here never panics on input: arbitrary bytes give a [`LoginError`], never a panic,
//! and nesting is bounded so hostile input cannot exhaust the stack.
//!
//! Layout: [`xmlrpc`] is a small generic XML-RPC value model; `llsd` and `grid_info` read and
//! write the seed capability and grid info; `xml` is the shared quick-xml cursor and text
//! escaping.

pub mod xmlrpc;

mod grid_info;
mod llsd;
mod xml;

pub use grid_info::{GridInfo, parse_grid_info};
pub use llsd::{parse_seed_request, parse_seed_response, seed_request_xml, seed_response_xml};

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
    //! Reading the shared OpenSim 0.9.2.2 captures at test run time.
    #![allow(clippy::panic)]

    /// The directory of the captures, beside the checkout.
    pub const CAPTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/captures/opensim-0.9.2.2/"
    );

    /// Reads one capture file, e.g. `capture("test-region.login-response.xml")`.
    pub fn capture(name: &str) -> Vec<u8> {
        let path = format!("{CAPTURES}{name}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    /// The three sessions that logged in successfully.
    pub const SESSIONS: [&str; 3] = ["test-region", "test-region-fresh", "var-region"];
}
