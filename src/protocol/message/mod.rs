//! LLUDP messages: field codecs, the template-driven generic decoder and typed messages.
//!
//! Every message in the template ([`mod@template`]) decodes into the generic form
//! ([`generic`]); the messages Overlook acts on also have typed `Repr`s ([`MessageRepr`]) with
//! `parse`, `emit` and `buffer_len`. Bad bytes give a [`MessageError`], never a panic.

pub mod codec;
pub mod generic;
pub mod template;

pub use codec::{MessageError, MessageRepr, Reader, Writer};
pub use generic::{FieldValue, GenericBlock, GenericMessage};
pub use template::{
    BlockDef, BlockKind, FieldDef, FieldType, MessageDef, Template, TemplateError, template,
};
