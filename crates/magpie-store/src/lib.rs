//! Magpie's storage boundary.
//!
//! The services talk to storage only through traits named for their areas,
//! in domain terms, never in SQL:
//! - [`AccountStore`]: accounts and login tokens;
//! - [`ConversationStore`]: conversations, their members and the
//!   conversation list;
//! - [`MessageStore`]: the entries of each conversation's sequence, and the
//!   write batch that appends them and moves read marks;
//! - [`PeopleStore`]: profiles, search and the contact graph (friends,
//!   requests, categories, blocks);
//! - [`DirectoryStore`]: departments and who is in which;
//! - [`AdminStore`]: roles, account states, accounts created whole;
//! - [`DeviceStore`]: login tokens as signed-in devices;
//! - [`PresenceStore`]: the status each user chose, and their contacts;
//! - [`GroupStore`]: groups, their members and roles, and every change
//!   to them as an event in the group's sequence;
//! - [`FileStore`]: content stored once by hash, the files people hold
//!   over it, and resumable uploads;
//! - [`AmendStore`]: recall, edit and reactions, each an entry written
//!   with the change to the entry it acts on;
//! - [`ConvSettingsStore`]: each member's own settings of a conversation
//!   (pinned, muted, marked unread, hidden, draft), synced to their
//!   devices through the change stream;
//! - [`SearchStore`]: the full-text index of messages, kept by a
//!   background indexer, and search over it;
//! - [`ChangeStore`]: each user's change stream, which every state change
//!   around a user appends to in its own transaction.
//!
//! [`Store`] is all of them together, which is what the server holds.
//! [`SqlStore`] implements every area for SQLite (the zero-setup default),
//! PostgreSQL and MySQL/MariaDB, with one set of migrations per engine under
//! `migrations/`. A new area (people, groups, files) adds a trait here, a
//! module under `sql/`, and its supertrait bound on [`Store`].
//!
//! Architecture invariants:
//! - below the session, a conversation id is the only address: nothing in
//!   this crate's message path knows about sender/recipient pairs (only
//!   [`ConversationStore::open_direct`] maps a pair to its conversation);
//! - a method that returns `Ok` has committed durably. In particular
//!   [`MessageStore::commit_batch`] returns only after its transaction is
//!   synced to disk (unless an operator chose SQLite's non-durable mode),
//!   because the server acks messages on that basis.

mod accounts;
mod admin;
pub mod amend;
mod batch;
mod changes;
pub mod conv_settings;
mod conversations;
mod devices;
mod dialect;
mod directory;
pub mod drive;
pub mod files;
mod groups;
mod messages;
mod people;
mod presence;
pub mod search;
mod sql;

pub use accounts::{AccountStore, TRIM_TOKENS_MAX, TokenRecord, UserRecord};
pub use admin::{AccountChange, AccountChanged, AdminStore, NewAccount};
pub use amend::{AmendOp, AmendStore, Amended, NewAmend};
pub use changes::{ChangePage, ChangeStore};
pub use conv_settings::{ConvSettingsStore, SettingsUpdate};
pub use conversations::{ConvSummary, ConversationStore, Position};
pub use devices::{DEVICES_LISTED, DeviceRecord, DeviceStore};
pub use dialect::Backend;
pub use directory::DirectoryStore;
pub use drive::DriveStore;
pub use files::FileStore;
pub use groups::{
    GroupApplied, GroupOp, GroupStore, MemberEntry, MemberSet, NewGroup, RuleFacts, authorize,
};
pub use messages::{
    Appended, Committed, Forwarding, MarkRead, Mentions, MessageStore, NewMessage, SeqRange,
    WriteBatch,
};
pub use people::{Outcome, PeopleStore, ProfileFields, Refusal, Relation, UserQuery, Written};
pub use presence::PresenceStore;
pub use search::SearchStore;
pub use sql::{PoolSettings, SqlStore, sqlite_search_path};

/// Errors at the storage boundary. Callers branch on the variant; the
/// wrapped text is for logs only and never reaches clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `create_user` with a username that exists.
    #[error("username already taken")]
    UsernameTaken,
    /// A rule of the contact graph refused the change; nothing was
    /// written.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// The database cannot be reached or is busy; nothing was written and
    /// the same call may succeed later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug, corruption or a schema mismatch.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Storage for everything the server keeps: every area's trait. See the
/// crate docs for the durability contract.
#[async_trait::async_trait]
pub trait Store:
    AccountStore
    + ConversationStore
    + MessageStore
    + PeopleStore
    + ChangeStore
    + PresenceStore
    + DeviceStore
    + DirectoryStore
    + AdminStore
    + GroupStore
    + FileStore
    + DriveStore
    + AmendStore
    + ConvSettingsStore
    + SearchStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    /// Finish in-flight work and release connections (at shutdown).
    async fn close(&self) {}
}
