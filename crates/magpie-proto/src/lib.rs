//! The Magpie wire protocol.
//!
//! One protocol, two transports: raw TCP carries each JSON document in a
//! length-prefixed frame ([`frame`]), WebSocket carries one JSON document per
//! text message. Both carry exactly the same JSON, so everything above the
//! transport (the server's sessions, the client library) is written once.
//!
//! A client sends [`request`] frames, each with a request id; the server
//! answers each with a [`response`] carrying the same id, and sends [`Push`]
//! frames (new messages, read marks, go-away notices) at any time.
//! `docs/PROTOCOL.md` is the language-neutral description of all of this.

pub mod admin;
pub mod amend;
pub mod changes;
pub mod conv_settings;
pub mod devices;
pub mod directory;
pub mod drive;
pub mod error;
pub mod files;
pub mod frame;
pub mod groups;
pub mod limits;
pub mod people;
pub mod presence;
pub mod request;
pub mod response;
pub mod search;
pub mod types;
pub mod typing;

pub use admin::*;
pub use amend::*;
pub use changes::*;
pub use conv_settings::*;
pub use devices::*;
pub use directory::*;
pub use drive::*;
pub use error::{ErrorBody, ErrorCode};
pub use files::*;
pub use groups::*;
pub use people::*;
pub use presence::*;
pub use request::{ParseError, Request, RequestFrame};
pub use response::{Push, ServerFrame};
pub use search::*;
pub use types::*;
pub use typing::*;

/// The protocol version this build speaks. A client announces its version in
/// `hello`; the server refuses versions it does not know rather than guess.
pub const PROTOCOL_VERSION: u32 = 1;
