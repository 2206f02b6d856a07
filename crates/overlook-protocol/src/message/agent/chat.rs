//! Local chat: `ChatFromViewer` (Low 80) and `ChatFromSimulator` (Low 139), with their
//! enumerations.
//!
//! Layouts follow the message template (`template/message_template.msg`); PROTOCOL §3.15 gives
//! the codes (SLV `indra/llui/llchat.h`). Enumerations keep codes they do not know as
//! `Unknown(n)`, so no value read from the wire is an error and every one is written back as read.
//! Re-exported from [`super`].
//!
//! Guarantees: `parse` never panics and consumes the whole body or fails; `emit` writes exactly
//! `buffer_len()` bytes or fails.

use crate::message::circuit::{AgentIds, message_repr};
use crate::message::codec::{MessageError, MessageRepr, text_wire_len};
use crate::types::{Uuid, Vec3};
use crate::udp::MessageId;

/// Declares a u8 wire enumeration with an `Unknown(n)` catch-all and lossless `From`
/// conversions both ways (for codes other than the listed ones).
macro_rules! wire_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = $n:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)+
            /// A code not listed here, kept as read.
            Unknown(u8),
        }

        impl From<u8> for $name {
            fn from(n: u8) -> Self {
                match n {
                    $($n => $name::$v,)+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                match v {
                    $($name::$v => $n,)+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

wire_enum! {
    /// How chat was said (SLV `indra/llui/llchat.h` `EChatType`).
    pub enum ChatType {
        /// Whisper (10 m).
        Whisper = 0,
        /// Say (20 m).
        Normal = 1,
        /// Shout (100 m).
        Shout = 2,
        /// The speaker started typing.
        StartTyping = 4,
        /// The speaker stopped typing.
        StopTyping = 5,
        /// Script debug channel.
        Debug = 6,
        /// Region-wide (`llRegionSay`).
        Region = 7,
        /// To the owner only (`llOwnerSay`).
        OwnerSay = 8,
        /// To one avatar (`llRegionSayTo`).
        Direct = 9,
    }
}

wire_enum! {
    /// Who said it (SLV `llchat.h` `EChatSourceType`).
    pub enum SourceType {
        /// The system.
        System = 0,
        /// An avatar.
        Agent = 1,
        /// An object.
        Object = 2,
        /// A teleport notice.
        Teleport = 3,
        /// A source the sender did not name (SLV `CHAT_SOURCE_UNKNOWN`).
        Unspecified = 4,
        /// The region.
        Region = 5,
    }
}

wire_enum! {
    /// How well we heard it (SLV `llchat.h` `EChatAudible`; −1 travels as `0xFF`).
    pub enum Audible {
        /// Out of range: the text is not shown (−1).
        Not = 0xFF,
        /// Barely audible.
        Barely = 0,
        /// Fully audible.
        Fully = 1,
    }
}

/// Low 80, viewer → sim: local chat from our avatar (PROTOCOL §3.15).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatFromViewer {
    /// `AgentData.AgentID`, `SessionID`.
    pub agent: AgentIds,
    /// `ChatData.Message`.
    pub message: String,
    /// `ChatData.Type`.
    pub chat_type: ChatType,
    /// `ChatData.Channel` (0 = public).
    pub channel: i32,
}

message_repr! {
    ChatFromViewer, "ChatFromViewer", MessageId::Low(80), true,
    parse(r) {
        Ok(ChatFromViewer {
            agent: AgentIds::read(r)?,
            message: r.string2()?,
            chat_type: r.u8()?.into(),
            channel: r.i32()?,
        })
    }
    emit(self, w) {
        self.agent.write(w);
        w.string2("Message", &self.message);
        w.u8(self.chat_type.into());
        w.i32(self.channel);
    }
    len(self) { AgentIds::WIRE_LEN + 2 + text_wire_len(&self.message) + 1 + 4 }
}

/// Low 139, sim → viewer: chat heard by our avatar (PROTOCOL §3.15).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatFromSimulator {
    /// `FromName`: the speaker's name.
    pub from_name: String,
    /// `SourceID`: the speaking agent or object.
    pub source_id: Uuid,
    /// `OwnerID`: the object's owner.
    pub owner_id: Uuid,
    /// `SourceType`.
    pub source_type: SourceType,
    /// `ChatType`.
    pub chat_type: ChatType,
    /// `Audible`.
    pub audible: Audible,
    /// `Position`: the speaker, region metres.
    pub position: Vec3,
    /// `Message`: UTF-8 text.
    pub message: String,
}

message_repr! {
    ChatFromSimulator, "ChatFromSimulator", MessageId::Low(139), false,
    parse(r) {
        Ok(ChatFromSimulator {
            from_name: r.string1()?,
            source_id: r.uuid()?,
            owner_id: r.uuid()?,
            source_type: r.u8()?.into(),
            chat_type: r.u8()?.into(),
            audible: r.u8()?.into(),
            position: r.vec3()?,
            message: r.string2()?,
        })
    }
    emit(self, w) {
        w.string1("FromName", &self.from_name);
        w.uuid(&self.source_id);
        w.uuid(&self.owner_id);
        w.u8(self.source_type.into());
        w.u8(self.chat_type.into());
        w.u8(self.audible.into());
        w.vec3(&self.position);
        w.string2("Message", &self.message);
    }
    len(self) {
        1 + text_wire_len(&self.from_name) + 16 + 16 + 3 + 12 + 2 + text_wire_len(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::message::testutil::{self as t, IDS_HEX, check, golden, ids, round_trip};

    #[test]
    fn template_headers_match() {
        t::assert_template_header::<ChatFromViewer>();
        t::assert_template_header::<ChatFromSimulator>();
    }

    #[test]
    fn emits_known_bytes() {
        let say = ChatFromViewer {
            agent: ids(),
            message: "hi".into(),
            chat_type: ChatType::Normal,
            channel: -1,
        };
        check(&say, &format!("{IDS_HEX} 0300 686900 01 ffffffff"));
        let heard = ChatFromSimulator {
            from_name: "Bo".into(),
            source_id: Uuid([0x11; 16]),
            owner_id: Uuid([0x22; 16]),
            source_type: SourceType::Agent,
            chat_type: ChatType::Shout,
            audible: Audible::Not,
            position: Vec3::new(1.0, 2.0, 3.0),
            message: String::new(),
        };
        let hex = format!("03 426f00 {IDS_HEX} 01 02 ff 0000803f 00000040 00004040 0000");
        check(&heard, &hex);
        let strange = ChatFromSimulator {
            source_type: SourceType::Unknown(9),
            chat_type: ChatType::Unknown(3),
            audible: Audible::Unknown(7),
            ..heard
        };
        let hex = format!("03 426f00 {IDS_HEX} 09 03 07 0000803f 00000040 00004040 0000");
        check(&strange, &hex);
    }

    #[test]
    fn enums_keep_every_code() {
        for n in 0..=u8::MAX {
            assert_eq!(u8::from(ChatType::from(n)), n);
            assert_eq!(u8::from(SourceType::from(n)), n);
            assert_eq!(u8::from(Audible::from(n)), n);
        }
        assert_eq!(ChatType::from(9), ChatType::Direct);
        assert_eq!(ChatType::from(3), ChatType::Unknown(3));
        assert_eq!(SourceType::from(4), SourceType::Unspecified);
        assert_eq!(Audible::from(0xFF), Audible::Not);
    }

    #[test]
    fn golden_chat() {
        // No chat in the captures; the README counts (0) are still checked.
        assert!(golden::<ChatFromViewer>().is_empty());
        assert!(golden::<ChatFromSimulator>().is_empty());
    }

    proptest! {
        #[test]
        fn roundtrip_chat(
            agent in t::agent_ids(),
            message in t::text(4000),
            kinds: (u8, u8, u8),
            channel: i32,
            from_name in t::text(254),
            sources in (t::uuid(), t::uuid()),
            position in t::vec3(),
        ) {
            round_trip(&ChatFromViewer {
                agent, message: message.clone(), chat_type: kinds.0.into(), channel,
            });
            round_trip(&ChatFromSimulator {
                from_name,
                source_id: sources.0,
                owner_id: sources.1,
                source_type: kinds.1.into(),
                chat_type: kinds.0.into(),
                audible: kinds.2.into(),
                position,
                message,
            });
        }

        #[test]
        fn parse_never_panics(b in t::junk()) {
            let _ = ChatFromViewer::parse(&b);
            let _ = ChatFromSimulator::parse(&b);
        }
    }
}
