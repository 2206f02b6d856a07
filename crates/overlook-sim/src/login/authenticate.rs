//! The login decision, as OpenSim's `LLLoginHandlers` and `LLLoginService.Login` make it.
//!
//! Order of the checks (OpenSim 0.9): the request must carry `first`, `last` and `passwd`
//! (`web_login_key` stands in for `passwd`) → the account must exist and the password match →
//! an agent that is still present is kicked and this login refused with `presence` (so a retry
//! succeeds, PROTOCOL §8) → the start location is resolved (`last`, `home`, `uri:` with a
//! fallback to the default placement; anything else throws inside OpenSim and ends as its
//! generic `Internal Error`) → a circuit code and session ids are drawn and the region is asked
//! to expect the agent (its refusal text becomes a `key` refusal) → a seed capability is issued.
//! Every refusal's `reason` and `message` are OpenSim's, word for word.

use crate::{Account, ExpectedCircuit};
use overlook_protocol::login::xmlrpc::Value;
use overlook_protocol::login::{LoginSuccess, StartLocation, password_hash};
use overlook_protocol::types::Vec3;

use super::LoginService;

/// OpenSim's `LLLoginHandlers.FailedXMLRPCResponse`: `first`, `last` or `passwd` missing.
pub const INCOMPLETE_CREDENTIALS: &str =
    "Incomplete login credentials. Check your username and password.";
/// OpenSim's `LLLoginHandlers.FailedOSDResponse`: the same for an LLSD login.
pub const INVALID_LLSD_CREDENTIALS: &str =
    "Invalid login credentials. Check your username and passwd.";
/// OpenSim's `LLFailedLoginResponse.UserProblem`: unknown user or wrong password (the
/// `login-refused` capture).
pub const USER_PROBLEM: &str = "Could not authenticate your avatar. Please check your username \
     and password, and check the grid if problems persist.";
/// OpenSim's `LLFailedLoginResponse.AlreadyLoggedInProblem`.
pub const ALREADY_LOGGED_IN: &str = "You appear to be already logged in. If this is not the case \
     please wait for your session to timeout. If this takes longer than a few minutes please \
     contact the grid owner. Please wait 5 minutes if you are going to connect to a region nearby \
     to the region you were at previously.";
/// OpenSim's `LLFailedLoginResponse.InternalError` message (its `reason` is `Internal Error`).
pub const INTERNAL_ERROR: &str = "Error generating Login Response";
/// OpenSim's `LLFailedLoginResponse.AuthorizationProblem`: used when the region refuses the
/// agent without saying why.
pub const AUTHORIZATION_PROBLEM: &str =
    "Error connecting to grid. Unable to authorize your session into the region.";
/// What the region is told when a second login kicks the first (OpenSim 0.9.2.2's `KickUser`).
pub const KICK_REASON: &str = "New login detected";

/// Why a login was refused; [`LoginRefusal::reason`] and [`LoginRefusal::message`] are the
/// reply's members.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefusal {
    /// An XML-RPC request without `first`, `last` or `passwd`.
    #[error("incomplete login credentials")]
    IncompleteCredentials,
    /// An LLSD request without `first`, `last` or `passwd`.
    #[error("incomplete llsd login credentials")]
    InvalidLlsdCredentials,
    /// No account has this name.
    #[error("unknown user")]
    UnknownUser,
    /// The account exists; the password is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// The agent was still present; it has been kicked, so a retry succeeds.
    #[error("already logged in")]
    AlreadyLoggedIn,
    /// The `start` member is neither `last`, `home` nor a well-formed `uri:` (OpenSim throws
    /// while parsing it and answers with its generic failure).
    #[error("unreadable start location")]
    BadStart,
    /// The region refused to expect the agent; the text is its reason.
    #[error("region refused the agent: {0}")]
    RegionRefused(String),
    /// No random ids could be drawn for the session (the OS's random source failed).
    #[error(transparent)]
    NoIds(#[from] super::ids::IdError),
}

impl LoginRefusal {
    /// The reply's `reason` member.
    pub fn reason(&self) -> &'static str {
        match self {
            LoginRefusal::AlreadyLoggedIn => "presence",
            LoginRefusal::BadStart | LoginRefusal::NoIds(_) => "Internal Error",
            _ => "key",
        }
    }

    /// The reply's `message` member, OpenSim's text.
    pub fn message(&self) -> &str {
        match self {
            LoginRefusal::IncompleteCredentials => INCOMPLETE_CREDENTIALS,
            LoginRefusal::InvalidLlsdCredentials => INVALID_LLSD_CREDENTIALS,
            LoginRefusal::UnknownUser | LoginRefusal::WrongPassword => USER_PROBLEM,
            LoginRefusal::AlreadyLoggedIn => ALREADY_LOGGED_IN,
            LoginRefusal::BadStart | LoginRefusal::NoIds(_) => INTERNAL_ERROR,
            LoginRefusal::RegionRefused(text) if text.trim().is_empty() => AUTHORIZATION_PROBLEM,
            LoginRefusal::RegionRefused(text) => text,
        }
    }
}

/// The members of a login request that decide it.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    /// First name.
    pub first: String,
    /// Last name.
    pub last: String,
    /// `$1$` + md5 hex of the password, or the clear-text password (OpenSim accepts both).
    pub passwd: String,
    /// The `start` member verbatim (empty when absent).
    pub start: String,
}

impl core::fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("first", &self.first)
            .field("last", &self.last)
            .field("passwd", &"<redacted>")
            .field("start", &self.start)
            .finish()
    }
}

impl LoginAttempt {
    /// Reads the XML-RPC call's struct parameter as OpenSim does: members of any type count
    /// (their text is taken, as C#'s `ToString()` would), `web_login_key` stands in for
    /// `passwd` as `$1$<key>`.
    ///
    /// # Errors
    /// [`LoginRefusal::IncompleteCredentials`] when `first`, `last` or `passwd` is missing.
    pub fn from_xmlrpc(params: &Value) -> Result<Self, LoginRefusal> {
        let text = |name: &str| params.member(name).map(value_text);
        let passwd = text("passwd").or_else(|| text("web_login_key").map(|k| format!("$1${k}")));
        match (text("first"), text("last"), passwd) {
            (Some(first), Some(last), Some(passwd)) => Ok(LoginAttempt {
                first,
                last,
                passwd,
                start: text("start").unwrap_or_default(),
            }),
            _ => Err(LoginRefusal::IncompleteCredentials),
        }
    }

    /// Reads an LLSD login map (string members only, as [`overlook_protocol::login::parse_seed_response`]
    /// returns them).
    ///
    /// # Errors
    /// [`LoginRefusal::InvalidLlsdCredentials`] when `first`, `last` or `passwd` is missing.
    pub fn from_llsd(
        map: &std::collections::BTreeMap<String, String>,
    ) -> Result<Self, LoginRefusal> {
        match (map.get("first"), map.get("last"), map.get("passwd")) {
            (Some(first), Some(last), Some(passwd)) => Ok(LoginAttempt {
                first: first.clone(),
                last: last.clone(),
                passwd: passwd.clone(),
                start: map.get("start").cloned().unwrap_or_default(),
            }),
            _ => Err(LoginRefusal::InvalidLlsdCredentials),
        }
    }
}

/// The text of a scalar as C# `ToString()` gives it (XML-RPC values of the wrong type still count
/// as present in OpenSim's handler).
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) | Value::DateTime(s) | Value::Base64(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Double(d) => d.to_string(),
        Value::Array(_) => "System.Collections.ArrayList".to_owned(),
        Value::Struct(_) => "System.Collections.Hashtable".to_owned(),
    }
}

/// True when `passwd` (`$1$` + md5 hex, or clear text) is `account`'s password. As in OpenSim,
/// the hex digits must be lowercase (OpenSim hashes the hex text again with the salt).
pub(super) fn password_matches(account: &Account, passwd: &str) -> bool {
    let given = if passwd.starts_with("$1$") {
        passwd.to_owned()
    } else {
        password_hash(passwd)
    };
    given == password_hash(&account.password)
}

impl LoginService {
    /// Decides a login and, on success, has the region expect the agent and issues its seed
    /// capability. The returned value is the reply's typed core; [`LoginService::reply_value`]
    /// adds the members OpenSim sends besides.
    ///
    /// # Errors
    /// The refusal, with OpenSim's `reason` and `message`.
    pub fn login(&self, attempt: &LoginAttempt) -> Result<LoginSuccess, LoginRefusal> {
        let account = self
            .find_account(&attempt.first, &attempt.last)
            .ok_or(LoginRefusal::UnknownUser)?;
        if !password_matches(account, &attempt.passwd) {
            return Err(LoginRefusal::WrongPassword);
        }
        let agent_id = account.agent_id;
        if self.gate.is_present(agent_id) {
            self.gate.kick(agent_id, KICK_REASON);
            self.seeds().forget_agent(agent_id);
            return Err(LoginRefusal::AlreadyLoggedIn);
        }
        let (start_position, start_location) = self.destination(&attempt.start)?;
        let look_at = self.config.default_look_at;
        let circuit = ExpectedCircuit {
            circuit_code: self.ids.circuit_code()?,
            agent_id,
            session_id: self.ids.uuid()?,
            secure_session_id: self.ids.uuid()?,
            first: account.first.clone(),
            last: account.last.clone(),
            start_position,
            look_at,
        };
        let seed = self.ids.uuid()?;
        self.gate
            .expect(circuit.clone())
            .map_err(LoginRefusal::RegionRefused)?;
        self.seeds().issue(seed, agent_id);
        let region = &self.config.region;
        Ok(LoginSuccess {
            agent_id,
            session_id: circuit.session_id,
            secure_session_id: circuit.secure_session_id,
            circuit_code: circuit.circuit_code,
            sim_ip: *region.udp.ip(),
            sim_port: region.udp.port(),
            region_x: region.world_x,
            region_y: region.world_y,
            region_size_x: region.size_x,
            region_size_y: region.size_y,
            look_at: Some(look_at),
            seed_capability: self.seed_url(seed),
            first_name: account.first.clone(),
            last_name: account.last.clone(),
            message: self.config.welcome_message.clone(),
            seconds_since_epoch: Some(unix_seconds()),
            http_port: Some(self.http_port()),
            start_location: Some(start_location.to_owned()),
        })
    }

    /// The account called `first last` (case-insensitive, like OpenSim on MySQL).
    fn find_account(&self, first: &str, last: &str) -> Option<&Account> {
        self.config.accounts.iter().find(|a| {
            a.first.to_lowercase() == first.to_lowercase()
                && a.last.to_lowercase() == last.to_lowercase()
        })
    }

    /// Where the agent starts and the reply's `start_location`: `last` and `home` use the default
    /// placement; `uri:` naming this region uses the given position when it lies inside the region,
    /// another name falls back to the default region as OpenSim does (`safe`).
    fn destination(&self, start: &str) -> Result<(Vec3, &'static str), LoginRefusal> {
        let region = &self.config.region;
        let default = self.config.default_start;
        match StartLocation::from_start_string(start) {
            StartLocation::Last => Ok((default, "last")),
            StartLocation::Home => Ok((default, "home")),
            StartLocation::Uri {
                region: name,
                x,
                y,
                z,
            } if name.to_lowercase() == region.name.to_lowercase() => {
                // Region sides are at most 4096 m: exact in f64, and so is every f32 coordinate.
                let inside = f64::from(x) < f64::from(region.size_x)
                    && f64::from(y) < f64::from(region.size_y);
                Ok((if inside { Vec3::new(x, y, z) } else { default }, "url"))
            }
            StartLocation::Uri { .. } => Ok((default, "safe")),
            StartLocation::Other(_) => Err(LoginRefusal::BadStart),
        }
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlook_protocol::types::Uuid;

    fn account() -> Account {
        Account {
            first: "Test".into(),
            last: "User".into(),
            password: "test".into(),
            agent_id: Uuid([7; 16]),
        }
    }

    #[test]
    fn passwords_match_in_both_forms_and_only_lowercase_hex() {
        let a = account();
        assert!(password_matches(&a, &password_hash("test")));
        assert!(password_matches(&a, "test"));
        assert!(!password_matches(&a, "Test"));
        assert!(!password_matches(&a, &password_hash("test").to_uppercase()));
        assert!(!password_matches(&a, "$1$"));
        assert!(!password_matches(&a, ""));
    }

    #[test]
    fn refusals_carry_opensims_reason_and_text() {
        assert_eq!(LoginRefusal::WrongPassword.reason(), "key");
        assert_eq!(LoginRefusal::UnknownUser.message(), USER_PROBLEM);
        assert_eq!(LoginRefusal::AlreadyLoggedIn.reason(), "presence");
        assert!(ALREADY_LOGGED_IN.starts_with("You appear to be already logged in. If this"));
        assert_eq!(LoginRefusal::BadStart.reason(), "Internal Error");
        assert_eq!(LoginRefusal::BadStart.message(), INTERNAL_ERROR);
        // No randomness for the session's ids: OpenSim's generic failure, not a made-up id.
        let no_ids = LoginRefusal::from(super::super::ids::IdError("test".into()));
        assert_eq!(no_ids.reason(), "Internal Error");
        assert_eq!(no_ids.message(), INTERNAL_ERROR);
        let region = LoginRefusal::RegionRefused("full".into());
        assert_eq!((region.reason(), region.message()), ("key", "full"));
        let silent = LoginRefusal::RegionRefused(" ".into());
        assert_eq!(silent.message(), AUTHORIZATION_PROBLEM);
    }

    #[test]
    fn attempts_read_members_of_any_type() {
        let s = |v: &str| Value::String(v.into());
        let params = Value::Struct(vec![
            ("first".into(), s("A")),
            ("last".into(), Value::Int(3)),
            ("web_login_key".into(), s("k")),
        ]);
        let attempt = LoginAttempt::from_xmlrpc(&params).unwrap();
        assert_eq!(
            (
                attempt.last.as_str(),
                attempt.passwd.as_str(),
                attempt.start.as_str()
            ),
            ("3", "$1$k", "")
        );
        assert!(!format!("{attempt:?}").contains("$1$k"));
        for missing in ["first", "last", "web_login_key"] {
            let Value::Struct(mut members) = params.clone() else {
                unreachable!()
            };
            members.retain(|(n, _)| n != missing);
            assert_eq!(
                LoginAttempt::from_xmlrpc(&Value::Struct(members)),
                Err(LoginRefusal::IncompleteCredentials)
            );
        }
        assert_eq!(
            LoginAttempt::from_xmlrpc(&Value::Int(1)),
            Err(LoginRefusal::IncompleteCredentials)
        );
        let map = [("first", "A"), ("last", "B")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into_iter()
            .collect();
        assert_eq!(
            LoginAttempt::from_llsd(&map),
            Err(LoginRefusal::InvalidLlsdCredentials)
        );
    }
}
