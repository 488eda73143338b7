//! The conversations area: which conversations exist, who is in them, and
//! each member's view of them (position, read mark, the conversation list).

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{ConvCursor, ConvId, ConvKind, LastMessage, ReadCount, Reader, Seq, UserId};

/// A conversation as seen by one member, for the conversation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvSummary {
    pub conv: ConvId,
    pub kind: ConvKind,
    /// The other member's username, for a 1:1 conversation.
    pub peer: Option<String>,
    /// A group's name and avatar.
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub last_seq: Seq,
    pub read_seq: Seq,
    /// Quiet entries (recall, edit, reaction) after the read mark: they
    /// are not unread.
    pub quiet_unread: i64,
    /// The sort key of the list: the newest entry's timestamp.
    pub active_ts: i64,
    /// The newest entry that is not quiet, its body cut to an excerpt.
    pub last: Option<LastMessage>,
    /// An entry after the member's read mark mentions them.
    pub mentioned: bool,
    /// The member's own settings of it (hidden ones are not listed).
    pub pinned: bool,
    /// Notifications muted: 0, -1 (until unmuted) or until a time (ms).
    pub muted_until: i64,
    pub marked_unread: bool,
    pub draft: String,
}

/// One member's position in one conversation, for sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub conv: ConvId,
    /// The conversation's newest seq.
    pub last_seq: Seq,
    /// The member sees only entries after this seq.
    pub joined_seq: Seq,
}

/// Conversations and membership.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// The 1:1 conversation between two distinct users, created (with both
    /// as members) if they have none. Safe to call from several nodes at
    /// once: they all get the same conversation.
    async fn open_direct(&self, a: UserId, b: UserId, now: i64) -> Result<ConvId>;

    /// The 1:1 conversation between two users, if they have one.
    async fn direct_conv(&self, a: UserId, b: UserId) -> Result<Option<ConvId>>;

    /// Whether `user` is a member of `conv`.
    async fn is_member(&self, user: UserId, conv: ConvId) -> Result<bool>;

    /// Where `user` joined `conv` (they see entries after it), or `None`
    /// if they are not a member: the authoritative check for reads.
    async fn joined_seq(&self, user: UserId, conv: ConvId) -> Result<Option<Seq>>;

    /// Of `seqs`, the entries `sender` wrote in `conv`, each with how many
    /// other members have read it and how many could see it but have not
    /// (members who joined after it are not counted). Ascending by seq;
    /// one scan of the members whatever the number of seqs.
    async fn read_counts(
        &self,
        conv: ConvId,
        sender: UserId,
        seqs: &[Seq],
    ) -> Result<Vec<ReadCount>>;

    /// Members of `conv` other than `sender` who could see entry `seq` and
    /// have read it (or, with `unread`, have not), with ids above `after`,
    /// by id, at most `limit`.
    async fn readers(
        &self,
        conv: ConvId,
        sender: UserId,
        seq: Seq,
        unread: bool,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<Reader>>;

    /// Every member of `conv`, ascending (empty if it does not exist).
    async fn members(&self, conv: ConvId) -> Result<Vec<UserId>>;

    /// Every conversation of `user` with its newest seq and the user's
    /// join position, ascending by conversation, for sync.
    async fn positions(&self, user: UserId) -> Result<Vec<Position>>;

    /// One page of `user`'s conversation list: pinned ones first, then
    /// most recently active first (ties broken by descending id), starting
    /// after `after`, at most `limit` rows. Conversations without entries
    /// are left out, and so are those `user` hid, until an entry that is
    /// not quiet comes after the point they were hidden at.
    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConvCursor>,
        limit: u32,
    ) -> Result<Vec<ConvSummary>>;
}
