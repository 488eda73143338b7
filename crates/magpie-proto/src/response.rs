//! Server → client frames.
//!
//! Three shapes, told apart by their keys:
//! - success: `{"id": 7, "result": {...}}`
//! - failure: `{"id": 7, "error": {"code": "...", "message": "..."}}`
//!   (`"id": null` when the request was too broken to have one)
//! - push: `{"push": "message", "data": {...}}`, not tied to any request.

use crate::error::ErrorBody;
#[cfg(test)]
use crate::types::MessageKind;
use crate::types::{Empty, GoAway, Message, ReadMark, ReadReceipt};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Events the server sends without being asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "push", content = "data", rename_all = "snake_case")]
pub enum Push {
    /// A new message in one of the user's conversations, sent to every
    /// device of every member except the connection that sent it.
    Message(Message),
    /// The user's read position moved on another of their devices.
    Read(ReadMark),
    /// The other member of a 1:1 conversation read up to a point.
    Receipt(ReadReceipt),
    /// The server is closing this connection; reconnect later.
    Goaway(GoAway),
    /// A new entry of the user's change stream (friends, requests,
    /// blocks, profiles), sent to every device of the user.
    Change(crate::changes::Change),
    /// A contact's presence changed (or the caller's own, from another
    /// device).
    Presence(crate::presence::PresenceState),
    /// The company directory changed: reload it if newer than held.
    Directory(crate::directory::DirectoryVersion),
    /// Another member of a conversation is typing (or stopped): never
    /// stored, cleared by the client after `ttl_ms` without a renewal.
    Typing(crate::typing::TypingNotice),
    /// Pushes may have been lost (the server's link to other nodes broke
    /// and recovered): call `sync` to catch up. Carries no data.
    Resync(Empty),
}

impl Push {
    /// Encode once; the same bytes go to every recipient connection.
    ///
    /// Never returns an empty or malformed frame: should encoding ever fail,
    /// the recipients get a `resync` push instead, which is exactly what a
    /// lost push calls for (catch up with `sync`).
    pub fn encode(&self) -> Bytes {
        serde_json::to_vec(self).map_or_else(|_| resync_frame(), Bytes::from)
    }
}

/// `{"push":"resync","data":{}}`, written by hand so that it cannot fail.
fn resync_frame() -> Bytes {
    Bytes::from_static(br#"{"push":"resync","data":{}}"#)
}

/// An `internal` error written by hand, so that it cannot fail: the last
/// resort when a response could not be encoded. A `u64` id is always valid
/// JSON as formatted by `Display`.
fn internal_error_frame(id: Option<u64>) -> Bytes {
    const TAIL: &str =
        r#","error":{"code":"internal","message":"the response could not be encoded"}}"#;
    match id {
        Some(id) => Bytes::from(format!(r#"{{"id":{id}{TAIL}"#)),
        None => Bytes::from(format!(r#"{{"id":null{TAIL}"#)),
    }
}

#[derive(Serialize)]
struct OkFrame<'a, T> {
    id: u64,
    result: &'a T,
}

#[derive(Serialize)]
struct ErrFrame<'a> {
    id: Option<u64>,
    error: &'a ErrorBody,
}

/// Encode a success response.
pub fn encode_ok<T: Serialize>(id: u64, result: &T) -> Bytes {
    match serde_json::to_vec(&OkFrame { id, result }) {
        Ok(v) => Bytes::from(v),
        // Only a Serialize impl that fails on purpose gets here; the result
        // types of this crate never do. The client still gets an answer
        // to its request, never an empty frame.
        Err(_) => internal_error_frame(Some(id)),
    }
}

/// Encode a failure response. Never returns an empty or malformed frame:
/// if the error itself cannot be encoded, the client gets `internal`.
pub fn encode_error(id: Option<u64>, error: &ErrorBody) -> Bytes {
    serde_json::to_vec(&ErrFrame { id, error })
        .map_or_else(|_| internal_error_frame(id), Bytes::from)
}

/// A decoded server frame, as a client sees it.
// A message push is far larger than an answer's envelope, but a frame is
// parsed and consumed at once, never held in bulk: boxing would only add
// an allocation per push.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ServerFrame {
    /// A success response; `result` is decoded by the caller that knows
    /// which operation it asked for.
    Ok {
        id: u64,
        result: Box<RawValue>,
    },
    Err {
        id: Option<u64>,
        error: ErrorBody,
    },
    Push(Push),
}

#[derive(Deserialize)]
struct RawServerFrame {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    push: Option<String>,
}

impl ServerFrame {
    /// Decode a frame from the server.
    pub fn parse(payload: &[u8]) -> Result<ServerFrame, serde_json::Error> {
        let raw: RawServerFrame = serde_json::from_slice(payload)?;
        if raw.push.is_some() {
            return serde_json::from_slice(payload).map(ServerFrame::Push);
        }
        match (raw.error, raw.result, raw.id) {
            (Some(error), _, id) => Ok(ServerFrame::Err { id, error }),
            (None, Some(result), Some(id)) => Ok(ServerFrame::Ok { id, result }),
            _ => Err(serde::de::Error::custom(
                "server frame has neither push, error nor id+result",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::types::SendOk;

    #[test]
    fn ok_round_trip() {
        let ack = SendOk {
            msg_id: 1,
            conv: 2,
            seq: 3,
            ts: 4,
            duplicate: false,
        };
        let bytes = encode_ok(9, &ack);
        match ServerFrame::parse(&bytes).expect("parse") {
            ServerFrame::Ok { id, result } => {
                assert_eq!(id, 9);
                assert_eq!(
                    serde_json::from_str::<SendOk>(result.get()).expect("ack"),
                    ack
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn error_round_trip() {
        let body = ErrorBody::new(ErrorCode::InvalidArgs, "nope");
        let bytes = encode_error(None, &body);
        match ServerFrame::parse(&bytes).expect("parse") {
            ServerFrame::Err { id, error } => {
                assert_eq!(id, None);
                assert_eq!(error, body);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A result whose serialisation fails, as a buggy type's would.
    struct Unencodable;

    impl Serialize for Unencodable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("cannot encode"))
        }
    }

    #[test]
    fn an_unencodable_result_becomes_an_internal_error_with_the_id() {
        let bytes = encode_ok(42, &Unencodable);
        match ServerFrame::parse(&bytes).expect("a well-formed frame") {
            ServerFrame::Err { id, error } => {
                assert_eq!((id, error.code), (Some(42), ErrorCode::Internal))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_fallback_frames_are_well_formed() {
        for (id, frame) in [
            (Some(u64::MAX), internal_error_frame(Some(u64::MAX))),
            (Some(0), internal_error_frame(Some(0))),
            (None, internal_error_frame(None)),
        ] {
            match ServerFrame::parse(&frame).expect("parse") {
                ServerFrame::Err { id: got, error } => {
                    assert_eq!((got, error.code), (id, ErrorCode::Internal))
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(matches!(
            ServerFrame::parse(&resync_frame()),
            Ok(ServerFrame::Push(Push::Resync(_)))
        ));
        // The hand-written resync is byte-for-byte what encoding produces.
        assert_eq!(
            resync_frame(),
            Bytes::from(serde_json::to_vec(&Push::Resync(Empty {})).expect("encode"))
        );
    }

    #[test]
    fn push_round_trip() {
        let push = Push::Message(Message {
            file: None,
            msg_id: 1,
            conv: 2,
            seq: 3,
            kind: MessageKind::Text,
            from: "a".into(),
            body: "hi".into(),
            ts: 5,
            cmid: "c".into(),
            event: None,
            mention_all: false,
            mentions: Vec::new(),
            ..Message::default()
        });
        let bytes = push.encode();
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(json["push"], "message");
        assert_eq!(json["data"]["seq"], 3);
        match ServerFrame::parse(&bytes).expect("parse") {
            ServerFrame::Push(p) => assert_eq!(p, push),
            other => panic!("unexpected {other:?}"),
        }
    }
}
