//! The arguments and results of every operation, and the objects they carry.
//!
//! Identifiers are 64-bit integers; timestamps are milliseconds since the
//! Unix epoch (UTC). Optional fields may be omitted by clients.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A user's numeric id. Stable for the life of the account.
pub type UserId = i64;
/// A conversation's numeric id, shared by all its members.
pub type ConvId = i64;
/// A position in one conversation: 1 for its first message, then +1 per
/// message, with no gaps.
pub type Seq = i64;

/// `hello`: the first frame of every connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the client speaks.
    pub version: u32,
    /// Free-form client name and version, for logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// Result of `hello`: what the server speaks and the limits it enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloOk {
    pub version: u32,
    /// Server software and version, e.g. `"magpie/0.1.0"`.
    pub server: String,
    /// Largest frame payload the server accepts, in bytes.
    pub max_frame_bytes: u64,
    /// Largest message body the server accepts, in bytes.
    pub max_body_bytes: u64,
    /// The server closes a connection that sends nothing for this long;
    /// clients send `ping` well within it (a third of it is a good pace).
    pub idle_timeout_secs: u64,
}

/// `register`: create an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub user: String,
    pub password: String,
}

/// Result of `register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub user_id: UserId,
    pub user: String,
}

/// `login`: authenticate this connection with a password and get a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub user: String,
    pub password: String,
    /// A name for this device ("laptop", "phone"), shown in session lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// What kind of client this is (default `desktop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<crate::devices::Platform>,
}

/// `resume`: authenticate this connection with a token from an earlier login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub token: String,
}

/// Result of `login` and `resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticated {
    pub user_id: UserId,
    pub user: String,
    /// The session token; present only in the answer to `login`. Keep it
    /// secret: it stands in for the password until it expires or is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the token stops working (ms since the epoch).
    pub expires_at: i64,
}

/// `send`: a text message into a conversation.
///
/// Address it by exactly one of `conv` (any conversation the sender is a
/// member of) or `to` (a username: the 1:1 conversation with that user,
/// created on the first message).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Send {
    /// Recipient's username, for a 1:1 message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The conversation to post in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvId>,
    /// Client message id: unique per sender, chosen by the client (a UUID is
    /// ideal). Sending again with the same `cmid` returns the first ack and
    /// stores nothing new, so a client that lost an ack can safely retry.
    pub cmid: String,
    /// The text, at most `max_body_bytes` bytes of UTF-8.
    pub body: String,
    /// Group members the message mentions (@name), by username: their
    /// conversation-list row is flagged until they read past it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// @all: mentions every member (the owner and admins only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mention_all: bool,
    /// `text` (the default), or `file`, `image`, `voice`, `video` with
    /// `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageKind>,
    /// For a file kind: the id of a file the sender may read (one they
    /// uploaded, or one they received, to forward it). `body` is then an
    /// optional caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<crate::files::FileId>,
    /// The seq of an earlier message of the same conversation this one
    /// answers: the stored message carries a quote of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Seq>,
}

/// Result of `send`: sent only once the message is durably stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOk {
    /// Server message id, unique across the server.
    pub msg_id: i64,
    pub conv: ConvId,
    pub seq: Seq,
    /// Server timestamp (ms since the epoch).
    pub ts: i64,
    /// True when this `cmid` had been stored before and this is its first ack
    /// again.
    pub duplicate: bool,
}

/// What an entry of a conversation's sequence is. Every entry takes one
/// seq, whatever its kind, so sequences stay gapless; later kinds (system
/// events, recall, edit, files) are added here rather than as new streams.
/// Clients must show an entry of a kind they do not know as "unsupported
/// message" rather than drop it, so that their cursors stay gapless.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Plain text in `body`.
    #[default]
    Text,
    /// A change to a group (membership, roles, settings), written by the
    /// server: `body` is empty and `event` says what happened (a
    /// [`crate::groups::GroupEvent`]).
    Event,
    /// A file, in `file`; `body` is an optional caption.
    File,
    /// An image (JPEG, PNG, GIF or WebP that the server decoded), in
    /// `file`, with its dimensions and a thumbnail.
    Image,
    /// A voice message: Opus in Ogg or WebM, with its duration, in `file`.
    Voice,
    /// A video, in `file`, with its dimensions and duration where the
    /// server could read them.
    Video,
    /// `from` recalled the entry `target`: show it as "X recalled a
    /// message" (see [`crate::amend`]). Quiet: not unread.
    Recall,
    /// `from` edited the entry `target`: its text is now `body`. Quiet.
    Edit,
    /// `from` added or removed a reaction to `target` (`reaction`). Quiet.
    Reaction,
    /// A merged chat record: `body` is its title, `record` its messages.
    Record,
}

impl MessageKind {
    /// Whether entries of this kind act on an earlier entry (`target`)
    /// rather than say something new: they are not counted as unread and
    /// are never a conversation's last message.
    pub fn is_quiet(self) -> bool {
        matches!(
            self,
            MessageKind::Recall | MessageKind::Edit | MessageKind::Reaction
        )
    }

    /// Whether entries of this kind are messages a member wrote that can
    /// be replied to, forwarded, recalled or reacted to (not server events
    /// or amending entries).
    pub fn is_message(self) -> bool {
        !self.is_quiet() && self != MessageKind::Event
    }

    /// Whether entries of this kind carry a file.
    pub fn has_file(self) -> bool {
        matches!(
            self,
            MessageKind::File | MessageKind::Image | MessageKind::Voice | MessageKind::Video
        )
    }
}

/// A stored entry of a conversation, as pushed, synced and listed in
/// history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub msg_id: i64,
    pub conv: ConvId,
    pub seq: Seq,
    pub kind: MessageKind,
    /// Sender's username.
    pub from: String,
    pub body: String,
    pub ts: i64,
    /// The sender's client message id.
    pub cmid: String,
    /// For an `event` entry: what happened, a
    /// [`crate::groups::GroupEvent`] object (kept as JSON so that a type
    /// this build does not know is passed on unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<serde_json::Value>,
    /// Members the message mentions, by username (see [`Send::mentions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// The message mentions every member (@all).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mention_all: bool,
    /// For a file kind: the file as sent (its own id, readable by the
    /// conversation's members who can see this entry). Boxed: most
    /// entries have none, and a push should not pay for its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Box<crate::files::FileInfo>>,
    /// For a recall, edit or reaction entry: the seq of the entry it acts
    /// on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Seq>,
    /// For a reaction entry: what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Box<crate::amend::ReactionChange>>,
    /// The message this one answers, as quoted when it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<crate::amend::Quote>>,
    /// The message was forwarded: whose it first was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<Box<crate::amend::ForwardMark>>,
    /// For a chat record: the messages in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record: Vec<crate::amend::RecordItem>,
    /// When the text was last edited; `body` is the latest text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_ts: Option<i64>,
    /// The message was recalled: body, file, mentions, quote and reactions
    /// are gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalled: Option<Box<crate::amend::Recalled>>,
    /// Reactions, per emoji, in order of first use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<crate::amend::ReactionCount>,
}

/// `sync`: fetch every message newer than what the client already has.
///
/// The client names, per conversation, the highest seq it holds without a
/// gap; conversations it does not name count as 0 (it has nothing). The
/// server answers with messages above those positions, in (conv, seq) order,
/// at most `limit` of them; when `more` is true the client advances its
/// cursors and asks again. The number of round trips depends on how many
/// messages are missing, not on how many conversations the user has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sync {
    /// Conversation id → highest seq held. JSON object keys are the decimal
    /// conversation ids.
    #[serde(default)]
    pub cursors: BTreeMap<ConvId, Seq>,
    /// Most messages to return (default 500, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOk {
    pub messages: Vec<Message>,
    /// More messages are waiting: sync again with advanced cursors.
    pub more: bool,
}

/// `history`: one page of a conversation, newest first by position.
///
/// Name the conversation by `conv` or, for a 1:1 conversation, by `peer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Only messages with seq below this (default: from the newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Seq>,
    /// Page size (default 50, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `history`: messages in ascending seq order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryOk {
    /// The conversation the page belongs to (null if the peer and the
    /// caller have never exchanged a message).
    pub conv: Option<ConvId>,
    pub messages: Vec<Message>,
    /// Older messages exist: ask again with `before` = the first seq here.
    pub more: bool,
}

/// `read`: mark a conversation read up to and including `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read {
    pub conv: ConvId,
    pub seq: Seq,
}

/// Payload of the `receipt` push: in a 1:1 conversation, how far the
/// other member has read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceipt {
    pub conv: ConvId,
    /// The reader's username.
    pub user: String,
    /// Every entry with seq ≤ this is read by them.
    pub read_seq: Seq,
}

/// `read_receipts`: who has read the caller's own entries of a
/// conversation (a group, typically).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceipts {
    pub conv: ConvId,
    /// Seqs of entries the caller sent (at most 100); others are left out
    /// of the answer.
    pub seqs: Vec<Seq>,
}

/// How many members have read one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadCount {
    pub seq: Seq,
    /// Members (the sender aside) whose read mark is at or past it.
    pub read: i64,
    /// Members (the sender aside) who could see it and have not read it.
    pub unread: i64,
}

/// Result of `read_receipts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceiptsOk {
    pub conv: ConvId,
    pub counts: Vec<ReadCount>,
}

/// `read_by`: one page of the members who have read (or, with `unread`,
/// have not read) one of the caller's own entries, by ascending user id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadBy {
    pub conv: ConvId,
    pub seq: Seq,
    /// List those who have not read it instead.
    #[serde(default)]
    pub unread: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<UserId>,
    /// Page size (default 200, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One member in a `read_by` page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reader {
    pub user_id: UserId,
    pub user: String,
    pub read_seq: Seq,
}

/// Result of `read_by`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadByOk {
    pub users: Vec<Reader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<UserId>,
}

/// Result of `read` and payload of the `read` push: the conversation's read
/// position after the operation (it never moves backwards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMark {
    pub conv: ConvId,
    pub read_seq: Seq,
}

/// The kind of a conversation. Both kinds are one model: members, one
/// gapless sequence, read marks; a group adds roles and settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvKind {
    /// 1:1: exactly two members, for good.
    Direct,
    /// A group (see the groups area).
    Group,
}

/// The newest entry of a conversation as the conversation list shows it:
/// the body cut to an excerpt, so that a list row has a bounded size
/// whatever was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    pub msg_id: i64,
    pub seq: Seq,
    pub kind: MessageKind,
    /// Sender's username.
    pub from: String,
    /// The first [`crate::limits::EXCERPT_CHARS`] characters of the body.
    pub excerpt: String,
    /// The body is longer than the excerpt.
    pub truncated: bool,
    pub ts: i64,
    /// The message was recalled (show "X recalled a message").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recalled: bool,
}

/// One row of the conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub conv: ConvId,
    pub kind: ConvKind,
    /// The other participant's username (1:1 conversations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The group's name (groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The group's avatar reference (groups; empty if none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    pub last: Option<LastMessage>,
    /// When the conversation was last active (ms since the epoch): the
    /// list's sort key, newest first.
    pub active_ts: i64,
    pub max_seq: Seq,
    pub read_seq: Seq,
    /// Entries after `read_seq`, quiet ones (recall, edit, reaction) left
    /// out. Sending a message marks everything before it read for the
    /// sender.
    pub unread: i64,
    /// An unread entry mentions the caller (by name or @all): on every
    /// device until they read past it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mentioned: bool,
    /// The caller pinned it: pinned rows come first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// The caller's notifications are muted (see
    /// [`crate::conv_settings::ConvSettings::muted_until`]); absent: not.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub muted_until: i64,
    /// The caller marked it unread.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub marked_unread: bool,
    /// The caller's draft; absent: none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub draft: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Where a page of the conversation list ends: the next page starts after
/// the row with this `pinned`, `active_ts` and `conv` (the list's order:
/// pinned rows first, then by activity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvCursor {
    /// The row was pinned; absent: it was not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    pub active_ts: i64,
    pub conv: ConvId,
}

/// `conversations`: one page of the caller's conversation list, pinned
/// conversations first, then most recently active first; hidden ones are
/// left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversations {
    /// Continue after this row (the `next` of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ConvCursor>,
    /// Page size (default 50, at most 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `conversations`, most recently active first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationsOk {
    pub conversations: Vec<Conversation>,
    /// Present when more rows follow: pass it as `after` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<ConvCursor>,
}

/// Payload of the `goaway` push: the server is about to close the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoAway {
    /// Why: `"shutdown"`, `"slow_consumer"`, `"idle"`, `"logout"`.
    pub reason: String,
    /// Wait at least this long before reconnecting.
    pub reconnect_after_ms: u64,
}

/// The empty result of operations that return nothing (`logout`, `ping`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}
