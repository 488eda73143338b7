//! The amend area: entries that act on an earlier entry of the same
//! conversation (recall, edit, reaction), and the operations that write
//! them; plus forwarding, which makes new entries from existing ones.
//!
//! An amending entry takes a seq like any other, so a device that was
//! offline converges by the ordinary `sync`; its `target` names the entry
//! it acts on. The server also changes the target itself in the same
//! transaction, so `history` and a fresh `sync` show every entry as it is
//! now. See docs/PROTOCOL.md section 10 for how a client applies them.

use crate::types::{ConvId, MessageKind, Seq};
use serde::{Deserialize, Serialize};

/// `recall`: withdraw an entry. The sender may recall their own message
/// within the server's recall window; a group's owner and admins may
/// recall any member's message at any time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recall {
    pub conv: ConvId,
    pub seq: Seq,
}

/// `edit`: replace the text of one of the caller's own text messages
/// within the server's edit window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub conv: ConvId,
    pub seq: Seq,
    /// The new text, at most `max_body_bytes` bytes.
    pub body: String,
}

/// `react`: add (or, with `remove`, take back) the caller's reaction to an
/// entry. Adding one already there, or removing one that is not, changes
/// nothing and writes no entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct React {
    pub conv: ConvId,
    pub seq: Seq,
    /// An emoji (or short token): 1 to [`crate::limits::EMOJI_CHARS_MAX`]
    /// characters, no whitespace or control characters.
    pub emoji: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove: bool,
}

/// Result of `recall`, `edit` and `react`: the amending entry written
/// (null for a `react` that changed nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendOk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<crate::types::Message>,
}

/// `forward`: copy entries of one conversation into others, either each as
/// a new message marked forwarded, or (`merge`) all as one chat-record
/// message. Only entries the caller can read are forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// Where the entries are.
    pub conv: ConvId,
    /// Their seqs (1 to [`crate::limits::FORWARD_MAX`]), forwarded in
    /// ascending order.
    pub seqs: Vec<Seq>,
    /// Destination conversations (at most
    /// [`crate::limits::FORWARD_TARGETS_MAX`]) ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_convs: Vec<ConvId>,
    /// ... and users, by username (their 1:1 conversations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_users: Vec<String>,
    /// One chat-record message instead of one message per entry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merge: bool,
    /// Client id of this forward: each new message's cmid is derived from
    /// it, so a retried forward stores nothing twice.
    pub cmid: String,
}

/// One new message a `forward` made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarded {
    pub conv: ConvId,
    pub seq: Seq,
    pub msg_id: i64,
    pub cmid: String,
}

/// Result of `forward`: the new messages, by destination then source order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardOk {
    pub messages: Vec<Forwarded>,
}

/// A reply's quote of the entry it answers: enough to draw it without
/// fetching. Rewritten (excerpt emptied, `recalled` set) when that entry
/// is recalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub seq: Seq,
    /// The quoted entry's sender.
    pub from: String,
    pub kind: MessageKind,
    /// Its first [`crate::limits::EXCERPT_CHARS`] characters (or the file
    /// name of a file kind).
    pub excerpt: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recalled: bool,
}

/// The mark of a forwarded message: whose message it first was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardMark {
    /// The original sender.
    pub from: String,
    /// When they sent it.
    pub ts: i64,
}

/// One message inside a chat record (kind `record`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordItem {
    pub from: String,
    pub ts: i64,
    pub kind: MessageKind,
    /// The text (at most [`crate::limits::RECORD_ITEM_BYTES`] bytes of it),
    /// or a file's caption.
    pub body: String,
    /// A file kind's name, for the record's listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// How an entry was recalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recalled {
    /// Who recalled it (the sender, or a group owner or admin).
    pub by: String,
    pub ts: i64,
}

/// One emoji's reactions to an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
    /// The caller is among them (history and sync answers; always false
    /// in pushes, which are encoded once for everyone).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mine: bool,
}

/// What a `reaction` entry did: `from` added or removed `emoji`, after
/// which the target has `count` of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionChange {
    pub emoji: String,
    pub add: bool,
    pub count: i64,
}
