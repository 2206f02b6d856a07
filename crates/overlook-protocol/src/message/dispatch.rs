//! [`Message`]: one enum over every typed message, with dispatch from a message number.
//!
//! Messages without a typed `Repr` stay as [`Message::Other`] (number and raw body); the
//! template-driven [`super::generic`] decoder can still show them. `parse` fails only when a
//! typed message's bytes are bad — an unknown number is not an error here.

use super::agent::{AgentThrottle, AgentUpdate, ChatFromSimulator, ChatFromViewer};
use super::circuit::{
    CompleteAgentMovement, CompletePingCheck, DisableSimulator, KickUser, LogoutReply,
    LogoutRequest, PacketAck, StartPingCheck, UseCircuitCode,
};
use super::layer_data::LayerData;
use super::object::{
    ImprovedTerseObjectUpdate, KillObject, ObjectUpdate, ObjectUpdateCached,
    ObjectUpdateCompressed, RequestMultipleObjects,
};
use super::region::{
    AgentMovementComplete, CoarseLocationUpdate, ParcelOverlay, RegionHandshake,
    RegionHandshakeReply, SimStats,
};
use super::template::template;
use super::{MessageError, MessageRepr};
use crate::udp::MessageId;

macro_rules! messages {
    ($($ty:ident),* $(,)?) => {
        /// A message from either direction, typed where Overlook has a `Repr` for it.
        // RegionHandshake is the big one (~300 bytes); messages travel boxed in circuit events,
        // so boxing each variant would only add allocations to the hot path.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq)]
        pub enum Message {
            $(
                #[doc = concat!("`", stringify!($ty), "`.")]
                $ty($ty),
            )*
            /// A message without a typed `Repr`: its number and raw (zero-decoded) body.
            Other {
                /// The message number.
                id: MessageId,
                /// The body after the number.
                body: Vec<u8>,
            },
        }

        impl Message {
            /// Parses a body with the typed parser for `id`, or keeps it raw as
            /// [`Message::Other`].
            ///
            /// # Errors
            /// [`MessageError`] when `id` has a typed parser and the body does not parse.
            pub fn parse(id: MessageId, body: &[u8]) -> Result<Message, MessageError> {
                $(
                    if id == <$ty as MessageRepr>::ID {
                        return Ok(Message::$ty(<$ty as MessageRepr>::parse(body)?));
                    }
                )*
                Ok(Message::Other { id, body: body.to_vec() })
            }

            /// The message number.
            pub fn id(&self) -> MessageId {
                match self {
                    $(Message::$ty(_) => <$ty as MessageRepr>::ID,)*
                    Message::Other { id, .. } => *id,
                }
            }

            /// The template name (`"?"` for a number the template does not know).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Message::$ty(_) => <$ty as MessageRepr>::NAME,)*
                    Message::Other { id, .. } => template().by_id(*id).map_or("?", |d| d.name.as_str()),
                }
            }

            /// Whether the template allows zero-coding it.
            pub fn zerocoded(&self) -> bool {
                match self {
                    $(Message::$ty(_) => <$ty as MessageRepr>::ZEROCODED,)*
                    Message::Other { id, .. } => template().by_id(*id).is_some_and(|d| d.zerocoded),
                }
            }

            /// The body bytes.
            ///
            /// # Errors
            /// As [`MessageRepr::emit`].
            pub fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
                match self {
                    $(Message::$ty(m) => m.to_bytes(),)*
                    Message::Other { body, .. } => Ok(body.clone()),
                }
            }
        }

        $(
            impl From<$ty> for Message {
                fn from(m: $ty) -> Message {
                    Message::$ty(m)
                }
            }
        )*
    };
}

messages!(
    PacketAck,
    UseCircuitCode,
    CompleteAgentMovement,
    StartPingCheck,
    CompletePingCheck,
    LogoutRequest,
    LogoutReply,
    KickUser,
    DisableSimulator,
    RegionHandshake,
    RegionHandshakeReply,
    AgentMovementComplete,
    SimStats,
    CoarseLocationUpdate,
    ParcelOverlay,
    AgentUpdate,
    AgentThrottle,
    ChatFromViewer,
    ChatFromSimulator,
    LayerData,
    ObjectUpdate,
    ObjectUpdateCompressed,
    ObjectUpdateCached,
    ImprovedTerseObjectUpdate,
    KillObject,
    RequestMultipleObjects,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::generic;

    #[test]
    fn dispatches_by_number() {
        let m = Message::parse(MessageId::High(1), &[7, 1, 0, 0, 0]).unwrap();
        assert_eq!(
            m,
            Message::StartPingCheck(StartPingCheck {
                ping_id: 7,
                oldest_unacked: 1
            })
        );
        assert_eq!(m.name(), "StartPingCheck");
        assert_eq!(m.id(), MessageId::High(1));
        assert!(Message::parse(MessageId::High(1), &[7]).is_err());
    }

    #[test]
    fn keeps_untyped_messages_raw() {
        // SimulatorViewerTimeMessage, Low 150: no typed Repr.
        let m = Message::parse(MessageId::Low(150), &[1, 2, 3]).unwrap();
        assert_eq!(m.name(), "SimulatorViewerTimeMessage");
        assert_eq!(m.to_bytes().unwrap(), [1, 2, 3]);
        let unknown = Message::parse(MessageId::Low(4000), &[]).unwrap();
        assert_eq!(unknown.name(), "?");
    }

    /// Every typed message's number, name and zero-coding agree with the template.
    #[test]
    fn typed_headers_match_the_template() {
        for (id, name, zc) in [
            (PacketAck::ID, PacketAck::NAME, PacketAck::ZEROCODED),
            (
                ObjectUpdate::ID,
                ObjectUpdate::NAME,
                ObjectUpdate::ZEROCODED,
            ),
            (
                ObjectUpdateCompressed::ID,
                ObjectUpdateCompressed::NAME,
                ObjectUpdateCompressed::ZEROCODED,
            ),
            (KillObject::ID, KillObject::NAME, KillObject::ZEROCODED),
            (
                RequestMultipleObjects::ID,
                RequestMultipleObjects::NAME,
                RequestMultipleObjects::ZEROCODED,
            ),
            (
                ImprovedTerseObjectUpdate::ID,
                ImprovedTerseObjectUpdate::NAME,
                ImprovedTerseObjectUpdate::ZEROCODED,
            ),
            (
                ObjectUpdateCached::ID,
                ObjectUpdateCached::NAME,
                ObjectUpdateCached::ZEROCODED,
            ),
        ] {
            let def = template().by_id(id).unwrap();
            assert_eq!((def.name.as_str(), def.zerocoded), (name, zc));
        }
        // And a generic decode of an emitted body is exact.
        let body = Message::StartPingCheck(StartPingCheck {
            ping_id: 3,
            oldest_unacked: 9,
        })
        .to_bytes()
        .unwrap();
        let g = generic::decode(MessageId::High(1), &body).unwrap();
        assert_eq!(generic::encode(&g).unwrap(), body);
    }
}
