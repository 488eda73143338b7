//! The messages area: the entries of each conversation's sequence, and the
//! write batch through which every write of the hot path goes (new entries
//! and read marks), so that a batch costs one transaction and one sync.

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{ConvId, Message, MessageKind, Seq, UserId};

/// An entry to append to a conversation. The caller guarantees that the
/// sender is a member of the conversation (the store does not check it:
/// the server does, from its member cache, before queueing) and that no
/// text contains U+0000 (PostgreSQL cannot store it). A batch naming a
/// conversation or sender that does not exist fails as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessage {
    pub conv: ConvId,
    pub sender: UserId,
    pub kind: MessageKind,
    pub cmid: String,
    pub body: String,
    pub ts: i64,
    /// Whom a group message mentions, as the server checked it.
    pub mention: Option<Mentions>,
    /// For a file kind: the file as sent, with the id of the file row the
    /// batch makes for it (purpose message, this conversation and seq).
    pub file: Option<Box<magpie_proto::FileInfo>>,
    /// A reply's quote of the entry it answers (same conversation).
    pub reply: Option<Box<magpie_proto::Quote>>,
    /// A forwarded message's mark, or a chat record's items.
    pub forward: Option<Box<Forwarding>>,
}

/// Where a forwarded message came from: one message's mark, or the items
/// of a merged chat record (kind `record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarding {
    Mark(magpie_proto::ForwardMark),
    Record(Vec<magpie_proto::RecordItem>),
}

impl Forwarding {
    /// As stored in `messages.forward`: an object or an array.
    pub fn to_json(&self) -> Option<String> {
        match self {
            Forwarding::Mark(mark) => serde_json::to_string(mark).ok(),
            Forwarding::Record(items) => serde_json::to_string(items).ok(),
        }
    }
}

/// The members a message mentions by name (ids for their flags, names for
/// the message as shown), and whether it mentions everyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mentions {
    pub users: Vec<(UserId, String)>,
    pub all: bool,
}

impl Mentions {
    /// As stored in `messages.mentions` and read back by
    /// [`Mentions::names_from_json`].
    pub fn to_json(&self) -> String {
        let names: Vec<&str> = self.users.iter().map(|(_, n)| n.as_str()).collect();
        serde_json::json!({"users": names, "all": self.all}).to_string()
    }

    /// The usernames and the @all flag of a stored `mentions` value; an
    /// unreadable one counts as none.
    pub fn names_from_json(text: &str) -> (Vec<String>, bool) {
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let users = value["users"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (users, value["all"].as_bool().unwrap_or(false))
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub msg_id: i64,
    /// The conversation it is in (the original's, for a duplicate).
    pub conv: ConvId,
    pub seq: Seq,
    /// The stored timestamp (the original one for a duplicate).
    pub ts: i64,
    /// The (sender, cmid) pair had been stored before; nothing was written.
    pub duplicate: bool,
}

/// Move `user`'s read mark in `conv` forward to `seq`, clamped to the
/// conversation's newest seq; it never moves backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkRead {
    pub user: UserId,
    pub conv: ConvId,
    pub seq: Seq,
}

/// Everything one group commit writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub messages: Vec<NewMessage>,
    pub reads: Vec<MarkRead>,
    /// Conversations whose membership version (`members_seq`) to read
    /// inside the batch: the groups the batch writes to. Routing compares
    /// it with its cached member set, so that a message is never pushed
    /// by a member list older than the message.
    pub versions: Vec<ConvId>,
}

/// The outcome of a [`WriteBatch`], in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    pub appended: Vec<Appended>,
    /// Each read mark after the batch, or `None` where the user is not a
    /// member of the conversation.
    pub reads: Vec<Option<Seq>>,
    /// The membership version of each conversation asked for in
    /// [`WriteBatch::versions`], as of this batch, in no promised order
    /// (empty for a batch with neither messages nor reads).
    pub versions: Vec<(ConvId, Seq)>,
}

/// The entries of `conv` with `after < seq <= upto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub conv: ConvId,
    pub after: Seq,
    pub upto: Seq,
}

/// Conversation entries.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Store a batch in one durable transaction (group commit).
    ///
    /// For each message: a (sender, cmid) pair seen before returns the
    /// original result with `duplicate` set and writes nothing; otherwise
    /// the conversation's next seq is allocated, the message inserted and
    /// the sender's read mark moved to it. Then each read mark moves. If
    /// the call fails, nothing of the batch was stored and no seq was used.
    async fn commit_batch(&self, batch: &WriteBatch) -> Result<Committed>;

    /// [`MessageStore::commit_batch`] with messages only.
    async fn append_batch(&self, messages: &[NewMessage]) -> Result<Vec<Appended>> {
        let batch = WriteBatch {
            messages: messages.to_vec(),
            ..WriteBatch::default()
        };
        Ok(self.commit_batch(&batch).await?.appended)
    }

    /// Move one read mark (a batch of its own). Returns the resulting mark,
    /// or `None` if the user is not a member.
    async fn mark_read(&self, user: UserId, conv: ConvId, seq: Seq) -> Result<Option<Seq>> {
        let batch = WriteBatch {
            reads: vec![MarkRead { user, conv, seq }],
            ..WriteBatch::default()
        };
        Ok(self.commit_batch(&batch).await?.reads.pop().flatten())
    }

    /// The entries of every range, ascending by (conversation, seq), in a
    /// bounded number of statements whatever the number of ranges. Ranges
    /// must not overlap (sync asks for one range per conversation);
    /// overlapping ones may return an entry twice and out of order.
    async fn messages_in(&self, ranges: &[SeqRange]) -> Result<Vec<Message>>;

    /// Up to `limit` entries of `conv` with seq > `after`, ascending.
    async fn messages_after(&self, conv: ConvId, after: Seq, limit: u32) -> Result<Vec<Message>>;

    /// Up to `limit` entries of `conv` with seq < `before`, ascending (the
    /// newest `limit` of them).
    async fn messages_before(&self, conv: ConvId, before: Seq, limit: u32) -> Result<Vec<Message>>;
}
