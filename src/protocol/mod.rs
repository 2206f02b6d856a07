//! The wire protocol: LLUDP packets, template messages, XML-RPC login and the sans-IO circuit.
//!
//! Nothing in here performs I/O, depends on Bevy or tokio, or panics on bytes read from the
//! network: every decoder returns a typed error instead, and the clippy lints below keep
//! unchecked indexing, `unwrap`/`expect` and truncating casts out of this layer. The layer compiles
//! for `wasm32-unknown-unknown`.
//!
//! Byte layouts follow `shared/PROTOCOL.md`; message layouts follow the LLUDP message template
//! (`src/protocol/message/template/`), which is also embedded and parsed at run time by the
//! generic decoder, an independent oracle for the typed messages.
// Tests may unwrap and index freely; the lints bind the shipped code (checked by the lib pass).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::as_conversions,
        clippy::panic
    )
)]

pub mod capture;
pub mod circuit;
pub mod login;
pub mod message;
pub mod terrain;
#[doc(hidden)]
pub mod testkit;
pub mod types;
pub mod udp;
