//! Server → client frames.
//!
//! Three shapes, told apart by their keys:
//! - success: `{"id": 7, "result": {...}}`
//! - failure: `{"id": 7, "error": {"code": "...", "message": "..."}}`
//!   (`"id": null` when the request was too broken to have one)
//! - push: `{"push": "message", "data": {...}}`, not tied to any request.

use crate::error::{ErrorBody, ErrorCode};
#[cfg(test)]
use crate::types::MessageKind;
use crate::types::{Empty, GoAway, Message, ReadMark};
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
    /// The server is closing this connection; reconnect later.
    Goaway(GoAway),
    /// Pushes may have been lost (the server's link to other nodes broke
    /// and recovered): call `sync` to catch up. Carries no data.
    Resync(Empty),
}

impl Push {
    /// Encode once; the same bytes go to every recipient connection.
    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
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
        // types of this crate never do.
        Err(e) => encode_error(
            Some(id),
            &ErrorBody::new(ErrorCode::Internal, e.to_string()),
        ),
    }
}

/// Encode a failure response.
pub fn encode_error(id: Option<u64>, error: &ErrorBody) -> Bytes {
    Bytes::from(serde_json::to_vec(&ErrFrame { id, error }).unwrap_or_default())
}

/// A decoded server frame, as a client sees it.
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

    #[test]
    fn push_round_trip() {
        let push = Push::Message(Message {
            msg_id: 1,
            conv: 2,
            seq: 3,
            kind: MessageKind::Text,
            from: "a".into(),
            body: "hi".into(),
            ts: 5,
            cmid: "c".into(),
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
