//! Full-text search over the caller's messages (`message_search`).
//!
//! A query finds the messages of every conversation the caller can read
//! (1:1 chats, and groups from where they joined), newest first, one page
//! at a time. Matching ignores case and accents (`cafe` finds `Café`),
//! finds Chinese, Japanese and Korean text by any run of characters inside
//! a sentence without spaces (`会议` finds `明天开会议`), and Latin words by
//! their beginning (`meet` finds `meeting`). Every word of the query must
//! occur. Recalled messages are never found, and an edited message is found
//! by its current text only. See docs/PROTOCOL.md, "Message search".

use crate::types::{ConvId, MessageKind, Seq};
use serde::{Deserialize, Serialize};

/// Longest query, in characters: a search box, not a document.
pub const MESSAGE_SEARCH_QUERY_MAX: usize = 100;
/// Hits per page when the caller does not say.
pub const MESSAGE_SEARCH_LIMIT_DEFAULT: u32 = 20;
/// Most hits one page may ask for.
pub const MESSAGE_SEARCH_LIMIT_MAX: u32 = 50;
/// Longest excerpt of a hit, in characters, so a page stays small
/// whatever the messages hold.
pub const MESSAGE_SEARCH_EXCERPT_CHARS: usize = 120;

/// `message_search`: one page of the caller's messages matching `query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSearch {
    /// The words to find, 1 to [`MESSAGE_SEARCH_QUERY_MAX`] characters.
    pub query: String,
    /// Only this conversation (which the caller must be able to read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvId>,
    /// Only messages sent by this user (a username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only messages sent at or after this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_ts: Option<i64>,
    /// Only messages sent before this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_ts: Option<i64>,
    /// The cursor: continue with messages older than this (the `next` of
    /// the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// Page size, 1 to [`MESSAGE_SEARCH_LIMIT_MAX`] (default
    /// [`MESSAGE_SEARCH_LIMIT_DEFAULT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The message's server id; hits are ordered by it, newest first.
    pub msg_id: i64,
    pub conv: ConvId,
    pub seq: Seq,
    /// The sender's username.
    pub from: String,
    pub ts: i64,
    pub kind: MessageKind,
    /// The text around the first match, at most
    /// [`MESSAGE_SEARCH_EXCERPT_CHARS`] characters, with `…` where it was
    /// cut; line breaks are shown as spaces.
    pub excerpt: String,
    /// Where the query's words are in `excerpt`: `[start, length]` pairs,
    /// counted in Unicode characters (code points), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub highlights: Vec<[u32; 2]>,
    /// The message was edited; the hit is on its current text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
}

/// The answer to `message_search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSearchOk {
    /// Newest first.
    pub hits: Vec<SearchHit>,
    /// More may follow: ask again with `before` set to this. A page can be
    /// short (even empty) with `next` set when the server stopped at its
    /// work limit for one request; the next page goes on from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}
