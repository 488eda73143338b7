//! The accounts area: users and their login tokens.

use crate::Result;
use async_trait::async_trait;
use magpie_proto::UserId;
use std::collections::HashSet;

/// Most tokens one [`AccountStore::trim_tokens`] call deletes, so one login
/// never does unbounded work (an account far over the cap shrinks over a
/// few).
pub const TRIM_TOKENS_MAX: u32 = 1000;

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

/// Accounts and login tokens.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Create an account; [`crate::StoreError::UsernameTaken`] if the name
    /// exists.
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
    /// delete older ones, at most [`TRIM_TOKENS_MAX`] per call; returns how
    /// many went. The server calls it after each login to cap a user's
    /// live tokens.
    async fn trim_tokens(&self, user: UserId, keep: u32) -> Result<u64>;

    /// Which of `token_hashes` are live sessions at `now` (they exist and
    /// have not expired). The server's revocation sweep asks this for every
    /// token of its connections.
    async fn live_tokens(&self, token_hashes: &[[u8; 32]], now: i64) -> Result<HashSet<[u8; 32]>>;
}
