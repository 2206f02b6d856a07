//! The Second Life / OpenSimulator wire protocol, sans-IO: LLUDP packets and the message
//! template, typed messages, XML-RPC login, LLSD, the terrain (`LayerData`) codec and the
//! viewer's reliable circuit.
//!
//! Nothing here performs I/O, depends on an async runtime or a game engine, or panics on bytes
//! read from the network: every decoder returns a typed error, and the crate's clippy lints
//! (`unwrap_used`, `expect_used`, `panic`, `indexing_slicing`, `as_conversions`, denied in
//! `Cargo.toml`) keep the shipped code free of the ways to panic. The caller owns the socket and
//! the clock, in the style of `quinn-proto` and smoltcp, so the same code runs on tokio, in a test
//! over an in-memory link with a fake clock, or in a browser (it builds for
//! `wasm32-unknown-unknown`). It was written against real OpenSim 0.9.2.2 traffic, and its tests
//! replay captures of it.
//!
//! # Example
//!
//! Decode a datagram captured from OpenSim, build a login request, and drive a [`Circuit`]
//! through its first exchange with a fake clock:
//!
//! ```
//! use std::time::Duration;
//!
//! use overlook_protocol::capture::decode_hex;
//! use overlook_protocol::circuit::{Circuit, CircuitConfig, Event, Phase};
//! use overlook_protocol::login::{LoginRequest, StartLocation};
//! use overlook_protocol::message::Message;
//! use overlook_protocol::types::Uuid;
//! use overlook_protocol::udp;
//! use web_time::Instant;
//!
//! // 1. OpenSim's first datagram of a real session: it acknowledges our packet #1.
//! let datagram = decode_hex("000000000000fffffffb0101000000").unwrap();
//! let packet = udp::decode(&datagram)?;
//! let Message::PacketAck(ack) = Message::parse(packet.message, &packet.body)? else {
//!     panic!("not a PacketAck");
//! };
//! assert_eq!(ack.packets, [1]);
//!
//! // 2. The XML-RPC login request a grid's login service expects (`$1$` + MD5 of the password).
//! let start = StartLocation::from_start_string("uri:Test Region&128&128&30");
//! let request = LoginRequest::new("Test", "User", "secret", start);
//! let xml = request.to_xml();
//! assert!(xml.contains("<methodName>login_to_simulator</methodName>"));
//!
//! // 3. The circuit, with the ids a login reply hands out and a clock we move by hand.
//! let agent: Uuid = "7c0ffee0-0000-4000-8000-000000000001".parse()?;
//! let session: Uuid = "aff3bc22-b4b1-4b6a-9a84-73a08abe2c42".parse()?;
//! let t0 = Instant::now();
//! let mut circuit = Circuit::new(CircuitConfig::new(agent, session, 0x7673_b3ac), t0, t0);
//!
//! // It opens with UseCircuitCode, reliable, as sequence number 1 ...
//! let first = circuit.poll_transmit().expect("UseCircuitCode");
//! let sent = udp::decode(&first)?;
//! assert!(matches!(Message::parse(sent.message, &sent.body)?, Message::UseCircuitCode(_)));
//! assert_eq!(sent.sequence, 1);
//!
//! // ... resends it when no ack comes in time ...
//! circuit.handle_timeout(t0 + Duration::from_secs(5));
//! let again = circuit.poll_transmit().expect("a resend");
//! let resent = udp::decode(&again)?;
//! assert_eq!(resent.sequence, 1);
//! assert_ne!(resent.flags & udp::flags::RESENT, 0);
//!
//! // ... and once the region's ack (the captured datagram) arrives, the circuit is open and the
//! // story goes on: CompleteAgentMovement, then AgentThrottle.
//! circuit.handle_datagram(t0 + Duration::from_millis(5_010), &datagram);
//! let mut reached = Vec::new();
//! while let Some(event) = circuit.poll_event() {
//!     if let Event::Phase { phase, .. } = event {
//!         reached.push(phase);
//!     }
//! }
//! assert!(reached.contains(&Phase::CircuitAcked));
//! let mut names = Vec::new();
//! while let Some(bytes) = circuit.poll_transmit() {
//!     let p = udp::decode(&bytes)?;
//!     names.push(Message::parse(p.message, &p.body)?.name());
//! }
//! assert_eq!(names, ["CompleteAgentMovement", "AgentThrottle"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! - [`udp`]: the packet header, message numbers, zero-coding and appended acks.
//! - [`message`]: field codecs, the embedded LLUDP message template and its generic decoder (an
//!   independent oracle), and the typed messages a viewer and a region exchange.
//! - [`login`]: XML-RPC `login_to_simulator`, the seed capability (LLSD-XML), `get_grid_info`.
//! - [`terrain`]: the `LayerData` bitstream: bit reader and writer, DCT patches, the heightmap.
//! - [`circuit`]: the viewer's circuit, `handle_*` / `poll_*` with an injected clock, and the
//!   [`circuit::Reliability`] both ends use.
//! - [`capture`]: reading captured traffic (`udp.jsonl`, one datagram a line).
//!
//! Byte layouts and OpenSim's quirks are documented beside the code that reads them; the message
//! layouts are the Second Life viewer's `message_template.msg` (LGPL-2.1 data, embedded; see
//! `src/message/template/README.md`).
//!
//! [`Circuit`]: circuit::Circuit
// Unit tests may cast freely (clippy.toml lets tests unwrap, expect, panic and index).
#![cfg_attr(test, allow(clippy::as_conversions))]

pub mod capture;
pub mod circuit;
pub mod login;
pub mod message;
pub mod relay;
pub mod terrain;
#[doc(hidden)]
pub mod testkit;
pub mod types;
pub mod udp;
