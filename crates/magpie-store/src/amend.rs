//! The amend area: entries that act on an earlier entry (recall, edit,
//! reaction), each written in one transaction with the change to its
//! target, and the reads that replies and forwards need.

use crate::Result;
use crate::files::Unreferenced;
use async_trait::async_trait;
use magpie_proto::{ConvId, Message, ReactionCount, Seq, UserId};

/// What an amending entry does to its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmendOp {
    /// Withdraw the target. Its sender may within `window_ms` of sending
    /// it; in a group, a member whose role is above the sender's (owner
    /// over admins and members, admins over members) may at any time.
    Recall { window_ms: i64 },
    /// Replace the text of the actor's own text message, within
    /// `window_ms` of sending it.
    Edit { body: String, window_ms: i64 },
    /// Add or take back the actor's reaction.
    React { emoji: String, add: bool },
}

/// One amending entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAmend {
    pub conv: ConvId,
    /// The seq of the entry acted on.
    pub target: Seq,
    pub actor: UserId,
    /// The actor's username, for the entry as pushed.
    pub actor_name: String,
    pub op: AmendOp,
    pub now: i64,
}

/// What [`AmendStore::amend`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amended {
    /// The new entry, or `None` when nothing changed (a reaction already
    /// there, or one taken back that was not).
    pub entry: Option<Message>,
    /// The conversation's membership version under the same lock (see
    /// [`crate::WriteBatch::versions`]), for routing the entry.
    pub version: Seq,
    /// Content no file references any more (a recalled file message's):
    /// the caller deletes its bytes.
    pub released: Vec<Unreferenced>,
}

/// Amending entries, and reads of single entries.
#[async_trait]
pub trait AmendStore: Send + Sync {
    /// Check and write one amending entry with the change to its target,
    /// in one transaction. Refusals: `NotMember` (not in the
    /// conversation), `NoSuchMessage` (no such entry, or from before the
    /// actor joined), `NotAmendable`, `TooLate`, `GroupRole` (someone
    /// else's message without the right), `LimitReached` (too many
    /// different reactions).
    async fn amend(&self, amend: &NewAmend) -> Result<Amended>;

    /// The entries of `conv` at `seqs` that exist, ascending.
    async fn messages_at(&self, conv: ConvId, seqs: &[Seq]) -> Result<Vec<Message>>;

    /// Of the given entries, the emoji `user` reacted with, as
    /// (conversation, seq, emoji).
    async fn my_reactions(
        &self,
        user: UserId,
        entries: &[(ConvId, Seq)],
    ) -> Result<Vec<(ConvId, Seq, String)>>;
}

/// The `reactions` column: `[[emoji, count], ...]` in order of first use.
pub fn counts_to_json(counts: &[(String, i64)]) -> Option<String> {
    if counts.is_empty() {
        return None;
    }
    serde_json::to_string(counts).ok()
}

/// Read back [`counts_to_json`]; NULL or unreadable is no reactions.
pub fn counts_from_json(text: Option<&str>) -> Vec<ReactionCount> {
    text.and_then(|t| serde_json::from_str::<Vec<(String, i64)>>(t).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(emoji, count)| ReactionCount {
            emoji,
            count,
            mine: false,
        })
        .collect()
}

/// Mark the caller's own reactions in `messages` from
/// [`AmendStore::my_reactions`].
pub fn mark_mine(messages: &mut [Message], mine: &[(ConvId, Seq, String)]) {
    for m in messages.iter_mut().filter(|m| !m.reactions.is_empty()) {
        for r in &mut m.reactions {
            r.mine = mine
                .iter()
                .any(|(c, s, e)| *c == m.conv && *s == m.seq && *e == r.emoji);
        }
    }
}
