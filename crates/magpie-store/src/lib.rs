//! Magpie's storage boundary.
//!
//! The services talk to storage only through the [`Store`] trait, in domain
//! terms (users, tokens, messages, read marks), never in SQL. [`SqlStore`]
//! implements it for SQLite (the zero-setup default), PostgreSQL and
//! MySQL/MariaDB, with one set of migrations per engine under
//! `migrations/`.
//!
//! Architecture invariant: a method that returns `Ok` has committed durably.
//! In particular [`Store::append_batch`] returns only after its transaction
//! is synced to disk, because the server acks messages on that basis.

mod batch;
mod dialect;
mod sql;

pub use dialect::Backend;
pub use sql::{PoolSettings, SqlStore};

use async_trait::async_trait;
use magpie_proto::{ConvId, Message, Seq, UserId};

/// Errors at the storage boundary. Callers branch on the variant; the
/// wrapped text is for logs only and never reaches clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `create_user` with a username that exists.
    #[error("username already taken")]
    UsernameTaken,
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

/// An account as the auth service needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    /// PHC string (Argon2id); opaque to storage.
    pub password_hash: String,
}

/// A valid login session, found by its token hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub user_id: UserId,
    pub username: String,
    pub device: String,
    pub expires_at: i64,
}

/// A 1:1 message to be stored. The caller guarantees `sender != recipient`,
/// both users exist, and no text contains U+0000 (PostgreSQL cannot store
/// it); a batch that breaks this fails as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub sender: UserId,
    pub recipient: UserId,
    pub cmid: String,
    pub body: String,
    pub ts: i64,
}

/// The outcome of storing one [`NewMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub msg_id: i64,
    pub conv: ConvId,
    pub seq: Seq,
    /// The stored timestamp (the original one for a duplicate).
    pub ts: i64,
    /// The (sender, cmid) pair had been stored before; nothing was written.
    pub duplicate: bool,
}

/// A conversation as seen by one member, for the conversation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvSummary {
    pub conv: ConvId,
    pub peer: String,
    pub last_seq: Seq,
    pub read_seq: Seq,
    pub last: Option<Message>,
}

/// Most tokens one [`Store::trim_tokens`] call deletes, so one login never
/// does unbounded work (an account far over the cap shrinks over a few).
pub const TRIM_TOKENS_MAX: u32 = 1000;

/// Storage for everything the server keeps. See the crate docs for the
/// durability contract.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Create an account; [`StoreError::UsernameTaken`] if the name exists.
    async fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<UserId>;

    /// Look up an account by its (lower-case) username.
    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>>;

    /// Record a login session under the SHA-256 of its token.
    async fn create_token(
        &self,
        token_hash: &[u8],
        user: UserId,
        device: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()>;

    /// The session for a token hash, if it exists and has not expired (a
    /// token is expired from the millisecond `expires_at` on).
    async fn token(&self, token_hash: &[u8], now: i64) -> Result<Option<TokenRecord>>;

    /// Revoke a session. Revoking an unknown token is not an error.
    async fn revoke_token(&self, token_hash: &[u8]) -> Result<()>;

    /// Delete expired sessions; returns how many went.
    async fn purge_expired_tokens(&self, now: i64) -> Result<u64>;

    /// Keep the newest `keep` sessions of `user` (by creation time) and
    /// delete older ones, at most `TRIM_TOKENS_MAX` per call; returns how
    /// many went. The server calls it after each login to cap a user's
    /// live tokens.
    async fn trim_tokens(&self, user: UserId, keep: u32) -> Result<u64>;

    /// Which of `token_hashes` are live sessions at `now` (they exist and
    /// have not expired). The server's revocation sweep asks this for every
    /// token of its connections. This default asks one token at a time.
    async fn live_tokens(
        &self,
        token_hashes: &[[u8; 32]],
        now: i64,
    ) -> Result<std::collections::HashSet<[u8; 32]>> {
        let mut live = std::collections::HashSet::new();
        for hash in token_hashes {
            if self.token(hash, now).await?.is_some() {
                live.insert(*hash);
            }
        }
        Ok(live)
    }

    /// Store a batch of messages in one durable transaction (group commit).
    ///
    /// Results come back in input order. For each message: a (sender, cmid)
    /// pair seen before returns the original result with `duplicate` set and
    /// writes nothing; otherwise the conversation is created if needed, its
    /// next seq allocated, the message inserted and the sender's read mark
    /// moved to it. If the call fails, no message of the batch was stored
    /// and no seq was used. (The conversations a batch needs are created in
    /// a transaction of their own first, so one may exist without messages;
    /// the conversation list leaves those out.)
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Appended>>;

    /// The 1:1 conversation between two users, if they have one.
    async fn direct_conv(&self, a: UserId, b: UserId) -> Result<Option<ConvId>>;

    /// Whether `user` is a member of `conv`.
    async fn is_member(&self, user: UserId, conv: ConvId) -> Result<bool>;

    /// Every conversation of `user` with its newest seq, for sync.
    async fn conv_positions(&self, user: UserId) -> Result<Vec<(ConvId, Seq)>>;

    /// The conversation list of `user`, most recently active (newest last
    /// message) first; conversations without messages are left out.
    async fn conversations(&self, user: UserId) -> Result<Vec<ConvSummary>>;

    /// Up to `limit` messages of `conv` with seq > `after`, ascending.
    async fn messages_after(&self, conv: ConvId, after: Seq, limit: u32) -> Result<Vec<Message>>;

    /// Up to `limit` messages of `conv` with seq < `before`, ascending (the
    /// newest `limit` of them).
    async fn messages_before(&self, conv: ConvId, before: Seq, limit: u32) -> Result<Vec<Message>>;

    /// Move `user`'s read mark in `conv` forward to `seq` (clamped to the
    /// conversation's last seq; never backwards). Returns the resulting mark,
    /// or `None` if the user is not a member.
    async fn mark_read(&self, user: UserId, conv: ConvId, seq: Seq) -> Result<Option<Seq>>;

    /// Finish in-flight work and release connections (at shutdown).
    async fn close(&self) {}
}
