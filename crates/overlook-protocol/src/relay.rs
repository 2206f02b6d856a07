//! The browser relay's wire format (`overlook web`, the `overlook-relay` crate): what a page and
//! the relay beside it exchange, so both ends share one definition.
//!
//! A page cannot speak UDP, so the relay carries the circuit over a WebSocket: each binary
//! message is one datagram prefixed by a sim's address, [`ADDRESS_PREFIX`] = 6 bytes, the IPv4
//! address then the port, both in network order. Page → relay the prefix is the destination,
//! relay → page the source. A relayed login reply carries the session's token in the string
//! member [`SESSION_MEMBER`], which names the WebSocket (`/relay/ws?session=<token>`).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::login::xmlrpc::{self, MethodResponse, Value};
use crate::message::MessageRepr;
use crate::message::circuit::{AgentIds, LogoutRequest};
use crate::udp::PacketRepr;

/// The member the relay adds to a successful login reply: the session's token.
pub const SESSION_MEMBER: &str = "relay_session";

/// The length of the address prefix of every frame: IPv4 (4) + port (2).
pub const ADDRESS_PREFIX: usize = 6;

/// Prefixes `datagram` with `addr` (an IPv4 address; `None` for IPv6).
pub fn encode_frame(addr: SocketAddr, datagram: &[u8]) -> Option<Vec<u8>> {
    let SocketAddr::V4(v4) = addr else {
        return None;
    };
    let mut frame = Vec::with_capacity(ADDRESS_PREFIX + datagram.len());
    frame.extend_from_slice(&v4.ip().octets());
    frame.extend_from_slice(&v4.port().to_be_bytes());
    frame.extend_from_slice(datagram);
    Some(frame)
}

/// Splits a frame into its address and datagram; `None` when shorter than the prefix.
pub fn decode_frame(frame: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let (prefix, datagram) = frame.split_first_chunk::<ADDRESS_PREFIX>()?;
    let [a, b, c, d, p0, p1] = *prefix;
    let addr = SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), u16::from_be_bytes([p0, p1]));
    Some((SocketAddr::V4(addr), datagram))
}

/// The relay session token of a relayed login reply (`None`: not a success, or not relayed).
pub fn session_token(login_reply: &[u8]) -> Option<String> {
    let MethodResponse::Success(value) = xmlrpc::parse_method_response(login_reply).ok()? else {
        return None;
    };
    value
        .member(SESSION_MEMBER)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The sequence number of the relay's own `LogoutRequest`: far above any a page's session sends
/// (one a few hundred datagrams a minute would take years to reach), so a region never takes it
/// for a resend of an earlier packet.
pub const LOGOUT_SEQUENCE: u32 = 0x7FFF_FFF0;

/// An unreliable `LogoutRequest` for `agent`, which the relay sends to the session's region when
/// a page's WebSocket closes (the tab closed, the network dropped): a page cannot send anything
/// once it is gone, and the region would otherwise keep the avatar until its circuit times out
/// (and refuse the next login with `presence`). A region ignores it when the page logged out
/// already (the circuit is closed). `None` only if the message cannot be encoded.
pub fn logout_datagram(agent: AgentIds) -> Option<Vec<u8>> {
    let body = LogoutRequest { agent }.to_bytes().ok()?;
    Some(
        PacketRepr {
            flags: 0,
            sequence: LOGOUT_SEQUENCE,
            message: LogoutRequest::ID,
            body: body.into(),
            acks: Vec::new(),
        }
        .to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_their_address() {
        let addr: SocketAddr = "10.1.2.3:9000".parse().unwrap();
        let frame = encode_frame(addr, b"abc").unwrap();
        assert_eq!(frame, [10, 1, 2, 3, 0x23, 0x28, b'a', b'b', b'c']);
        assert_eq!(decode_frame(&frame), Some((addr, &b"abc"[..])));
        assert_eq!(decode_frame(&frame[..6]), Some((addr, &b""[..])));
        assert_eq!(decode_frame(&frame[..5]), None);
        assert_eq!(encode_frame("[::1]:9".parse().unwrap(), b""), None);
    }

    #[test]
    fn the_relays_logout_is_an_unreliable_logout_request_for_the_agent() {
        use crate::types::Uuid;
        let agent = AgentIds {
            agent_id: Uuid([1; 16]),
            session_id: Uuid([2; 16]),
        };
        let datagram = logout_datagram(agent).unwrap();
        let packet = crate::udp::decode(&datagram).unwrap();
        assert!(!packet.is_reliable());
        assert_eq!(packet.sequence, LOGOUT_SEQUENCE);
        assert_eq!(packet.message, LogoutRequest::ID);
        assert_eq!(LogoutRequest::parse(&packet.body).unwrap().agent, agent);
    }

    #[test]
    fn the_session_token_is_read_from_a_relayed_reply_only() {
        let reply = |member: &str| {
            format!(
                "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>\
                 <member><name>login</name><value><string>true</string></value></member>\
                 <member><name>{member}</name><value><string>00ff</string></value></member>\
                 </struct></value></param></params></methodResponse>"
            )
        };
        assert_eq!(
            session_token(reply(SESSION_MEMBER).as_bytes()).as_deref(),
            Some("00ff")
        );
        assert_eq!(session_token(reply("other").as_bytes()), None);
        assert_eq!(session_token(b"not xml"), None);
    }
}
