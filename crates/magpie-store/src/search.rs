//! Full-text search over messages: the index, kept beside the messages
//! by a background indexer, and the query that reads it.
//!
//! The index is derived data. Nothing on the send path writes it: an
//! indexer ([`SearchStore::search_index_step`]) follows `messages.id` from
//! a persisted watermark, in batches, and turns each entry into terms
//! ([`text`]): a message into its own, a recall into the removal of its
//! target's, an edit into the replacement of its target's by the current
//! text. So the index can always be rebuilt from the messages, and it
//! lags them by the indexer's last pass; the entries written since are
//! scanned directly by every query (the *tail*, bounded), so a message is
//! found as soon as it is acked.
//!
//! Layout (the same on every engine; on SQLite in a file of its own, so
//! that indexing never takes the message database's one write lock):
//! - `search_terms (term, conv_id, msg_id)`: one row per distinct term of a
//!   message, keyed so that one conversation's messages holding a term
//!   are one index range, newest last;
//! - `search_docs (msg_id, conv_id, terms)`: the terms a message was
//!   indexed with, so a recall or an edit can remove exactly those (a
//!   recalled message's text is gone by then);
//! - `search_index`: the watermark, how far the indexer got, and the lease
//!   that lets one node of a cluster index at a time.
//!
//! A query ([`SearchStore::message_search`]) reads, for each conversation
//! the caller can read, the newest postings of the query's most
//! selective term below the cursor (a bounded window per conversation,
//! with the query's other terms checked by primary-key probes), merges
//! the conversations newest first, and checks each candidate against the
//! message as it is now: not recalled, visible to the caller (after their
//! join), within the filters, and really containing the query
//! ([`text::Query::find`]). Work per request is bounded
//! ([`SearchLimits`]); a page cut short by the bound carries a cursor to go
//! on from.

pub mod text;

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{ConvId, MessageKind, SearchHit, UserId};
use std::collections::BTreeMap;

/// How long an indexer's claim lasts without being renewed: a node that
/// dies mid-indexing is replaced after this.
pub const LEASE_MS: i64 = 30_000;

/// How long a hole in `messages.id` is waited for before the watermark
/// passes it. A hole is a transaction that has taken ids and not yet
/// committed (PostgreSQL and MySQL hand ids out at insert), or one that
/// rolled back and never will.
pub const GAP_GRACE_MS: i64 = 60_000;

/// Whether entries of `kind` have text to search: messages, files with
/// their caption and name, chat records with their items. Events and the
/// amending entries (recall, edit, reaction) have none of their own.
pub fn is_searchable(kind: MessageKind) -> bool {
    matches!(
        kind,
        MessageKind::Text
            | MessageKind::File
            | MessageKind::Image
            | MessageKind::Voice
            | MessageKind::Video
            | MessageKind::Record
    )
}

/// The text a message is searched by: its body, the name of its file, and
/// for a chat record its items' text and file names, one per line.
/// `attachment` and `forward` are the stored JSON columns; what does not
/// parse is left out rather than failing the message.
pub fn searchable_text(body: &str, attachment: Option<&str>, forward: Option<&str>) -> String {
    let mut text = body.to_owned();
    let mut add = |part: &str| {
        if !part.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(part);
        }
    };
    if let Some(file) = attachment.and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
        && let Some(name) = file.get("name").and_then(|n| n.as_str())
    {
        add(name);
    }
    if let Some(serde_json::Value::Array(items)) =
        forward.and_then(|f| serde_json::from_str::<serde_json::Value>(f).ok())
    {
        for item in &items {
            for field in ["body", "file_name"] {
                if let Some(part) = item.get(field).and_then(|p| p.as_str()) {
                    add(part);
                }
            }
        }
    }
    text
}

/// Bounds on one query's work, so that one user's search cannot slow the
/// database for everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Index rows read (after the first pass over every conversation)
    /// before the page is cut short with a cursor.
    pub postings: usize,
    /// Newest entries not yet indexed that are scanned directly.
    pub tail: usize,
    /// Longest excerpt, in characters.
    pub excerpt_chars: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            postings: 20_000,
            tail: 2_000,
            excerpt_chars: magpie_proto::MESSAGE_SEARCH_EXCERPT_CHARS,
        }
    }
}

/// One search, checked by the caller: the query parsed, the sender
/// resolved, the conversation (if any) one the user can read.
#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    pub user: UserId,
    pub query: &'a text::Query,
    pub conv: Option<ConvId>,
    pub from: Option<UserId>,
    /// Sent at or after (ms).
    pub after_ts: Option<i64>,
    /// Sent before (ms).
    pub before_ts: Option<i64>,
    /// Only messages with a smaller id (the previous page's cursor).
    pub before: Option<i64>,
    /// Hits wanted, at least 1.
    pub limit: usize,
    pub limits: SearchLimits,
}

/// One page of hits, newest first, and where to go on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// More may follow below this message id.
    pub next: Option<i64>,
}

/// What one node's indexer remembers between steps: how far it has
/// indexed and which ids it passed that were not committed yet. Lost on
/// restart, when indexing resumes from the persisted watermark (indexing
/// again what was indexed is harmless).
#[derive(Debug, Clone, Default)]
pub struct IndexCursor {
    /// Every entry up to here was seen, except `gaps`.
    pub high: i64,
    /// Ids below `high` not seen yet, with when they were first missed.
    pub gaps: BTreeMap<i64, i64>,
    /// This node held the lease at its last step.
    pub held: bool,
}

/// What one indexing step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexStep {
    /// Entries read (messages, recalls, edits and the rest).
    pub entries: usize,
    /// Messages whose terms were written or removed.
    pub messages: usize,
    /// Nothing to do: call again later rather than at once.
    pub idle: bool,
    /// Another node holds the lease.
    pub standby: bool,
}

/// The index's persisted progress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexState {
    /// Every entry with an id up to here is indexed.
    pub watermark: i64,
    /// The highest entry indexed (entries between the watermark and here
    /// may be missing while their transactions were open).
    pub indexed_to: i64,
    /// The node indexing, and until when its claim holds (ms).
    pub holder: String,
    pub lease_until: i64,
}

/// Storage of the search index, and search.
#[async_trait]
pub trait SearchStore {
    /// One page of the messages `req.user` can read that match
    /// `req.query`, newest first.
    async fn message_search(&self, req: &SearchRequest<'_>) -> Result<SearchPage>;

    /// Index the entries after `cursor`, at most `batch`, if this node
    /// (`node`, unique per process) holds or can take the lease. Reads
    /// without a transaction; writes (only when there is work) in one
    /// transaction of the index that also renews the lease and moves the
    /// watermark, so a step is all or nothing and resumable anywhere.
    async fn search_index_step(
        &self,
        node: &str,
        now: i64,
        batch: usize,
        cursor: &mut IndexCursor,
    ) -> Result<IndexStep>;

    /// The index's persisted progress.
    async fn search_index_state(&self) -> Result<IndexState>;
}
