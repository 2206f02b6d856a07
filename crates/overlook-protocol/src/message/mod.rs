//! LLUDP messages: field codecs, the template-driven generic decoder and typed messages.
//!
//! Every message in the template ([`mod@template`]) decodes into the generic form
//! ([`generic`]); the messages Overlook acts on also have typed `Repr`s ([`MessageRepr`]) with
//! `parse`, `emit` and `buffer_len`, one module per family: [`circuit`], [`region`], [`agent`],
//! [`layer_data`], [`object`]. [`Message`] dispatches a message number to the typed parser. Bad
//! bytes give a [`MessageError`], never a panic.

pub mod agent;
pub mod circuit;
pub mod codec;
mod dispatch;
pub mod generic;
pub mod layer_data;
pub mod object;
pub mod region;
pub mod template;

#[cfg(test)]
pub(crate) mod testutil;

pub use agent::{
    AgentThrottle, AgentUpdate, Audible, ChatFromSimulator, ChatFromViewer, ChatType, SourceType,
    ThrottleBlob, Throttles,
};
pub use circuit::{
    AgentIds, CompleteAgentMovement, CompletePingCheck, DisableSimulator, KickUser, LogoutReply,
    LogoutRequest, PacketAck, StartPingCheck, UseCircuitCode,
};
pub use codec::{MessageError, MessageRepr, Reader, Writer};
pub use dispatch::Message;
pub use generic::{FieldValue, GenericBlock, GenericMessage};
pub use layer_data::LayerData;
pub use object::{
    ImprovedTerseObjectUpdate, KillObject, ObjectUpdate, ObjectUpdateCached,
    ObjectUpdateCompressed, RequestMultipleObjects,
};
pub use region::{
    AgentMovementComplete, CoarseLocation, CoarseLocationUpdate, ParcelOverlay, RegionHandshake,
    RegionHandshakeReply, RegionInfo4, SimStats, Stat,
};
pub use template::{
    BlockDef, BlockKind, FieldDef, FieldType, MessageDef, Template, TemplateError, template,
};
