//! Typing indicators: "alice is typing…" in a 1:1 conversation or a small
//! group.
//!
//! They are ephemeral on purpose: the server stores nothing and keeps no
//! state, it only checks the request and pushes a `typing` notice to the
//! other members' connections (on every node). A notice holds for
//! `ttl_ms`; a client that keeps typing renews it well within that (every
//! few seconds), and a receiver clears the indicator when the time passes
//! without a renewal, a notice with `active: false` arrives, or a message
//! from that user does. Nothing is caught up after a reconnect.

use crate::types::{ConvId, UserId};
use serde::{Deserialize, Serialize};

/// `typing`: the caller is typing in `conv` (or, with `active: false`,
/// stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub conv: ConvId,
    /// `false`: the caller stopped (cleared the text, or sent it).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// The `typing` push: a member of `conv` is typing (or stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingNotice {
    pub conv: ConvId,
    pub user_id: UserId,
    /// The typist's username.
    pub user: String,
    pub active: bool,
    /// How long the notice holds without a renewal, in milliseconds.
    pub ttl_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_defaults_to_true() {
        let t: Typing = serde_json::from_str(r#"{"conv": 4}"#).expect("decode");
        assert_eq!(
            t,
            Typing {
                conv: 4,
                active: true
            }
        );
        let t: Typing = serde_json::from_str(r#"{"conv": 4, "active": false}"#).expect("decode");
        assert!(!t.active);
    }
}
