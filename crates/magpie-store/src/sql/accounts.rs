//! [`AccountStore`] on SQL: users and tokens.

use super::{SqlStore, sql};
use crate::dialect::Backend;
use crate::{AccountStore, Result, StoreError, TokenRecord, UserRecord};
use async_trait::async_trait;
use magpie_proto::UserId;
use sqlx::Row;
use std::collections::HashSet;
use std::sync::Arc;

/// Most token hashes bound in one `live_tokens` query (well below every
/// engine's limit on bound parameters).
const LIVE_TOKENS_CHUNK: usize = 500;

/// The accounts area's queries, rendered for one engine.
#[derive(Debug)]
pub(super) struct Queries {
    create_user: Arc<str>,
    user_by_name: Arc<str>,
    create_token: Arc<str>,
    token: Arc<str>,
    revoke_token: Arc<str>,
    purge_tokens: Arc<str>,
    newest_tokens: Arc<str>,
}

impl Queries {
    pub(super) fn new(b: Backend) -> Queries {
        Queries {
            create_user: b.render(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?) RETURNING id",
            ),
            user_by_name: b
                .render("SELECT id, username, password_hash FROM users WHERE username = ?"),
            create_token: b.render(
                "INSERT INTO tokens (token_hash, user_id, device, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            ),
            token: b.render(
                "SELECT t.user_id, u.username, t.device, t.expires_at \
                 FROM tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = ? AND t.expires_at > ?",
            ),
            revoke_token: b.render("DELETE FROM tokens WHERE token_hash = ?"),
            purge_tokens: b.render("DELETE FROM tokens WHERE expires_at <= ?"),
            newest_tokens: b.render(
                "SELECT token_hash FROM tokens WHERE user_id = ? \
                 ORDER BY created_at DESC, token_hash DESC LIMIT ?",
            ),
        }
    }
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<UserId> {
        let mut conn = self.write_conn().await?;
        let insert = sqlx::query(sql(&self.q.accounts.create_user))
            .bind(username)
            .bind(password_hash)
            .bind(now);
        match self.insert_id(&mut conn, insert).await {
            Ok(id) => Ok(id),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(StoreError::UsernameTaken)
            }
            Err(e) => Err(self.err()(e)),
        }
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(sql(&self.q.accounts.user_by_name))
            .bind(username)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| {
            Ok(UserRecord {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
                password_hash: r.try_get(2)?,
            })
        })
        .transpose()
        .map_err(self.err())
    }

    async fn create_token(
        &self,
        token_hash: &[u8],
        user: UserId,
        device: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(sql(&self.q.accounts.create_token))
            .bind(token_hash.to_vec())
            .bind(user)
            .bind(device)
            .bind(now)
            .bind(expires_at)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn token(&self, token_hash: &[u8], now: i64) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(sql(&self.q.accounts.token))
            .bind(token_hash.to_vec())
            .bind(now)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| {
            Ok(TokenRecord {
                user_id: r.try_get(0)?,
                username: r.try_get(1)?,
                device: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            })
        })
        .transpose()
        .map_err(self.err())
    }

    async fn revoke_token(&self, token_hash: &[u8]) -> Result<()> {
        sqlx::query(sql(&self.q.accounts.revoke_token))
            .bind(token_hash.to_vec())
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn purge_expired_tokens(&self, now: i64) -> Result<u64> {
        let done = sqlx::query(sql(&self.q.accounts.purge_tokens))
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(done.rows_affected())
    }

    async fn trim_tokens(&self, user: UserId, keep: u32) -> Result<u64> {
        // Two steps, not one DELETE with a subquery: MySQL can neither
        // LIMIT inside IN (...) nor delete from a table it selects from.
        let rows = sqlx::query(sql(&self.q.accounts.newest_tokens))
            .bind(user)
            .bind(i64::from(keep) + i64::from(crate::TRIM_TOKENS_MAX))
            .fetch_all(&self.writer)
            .await
            .map_err(self.err())?;
        let mut deleted = 0;
        for row in rows.iter().skip(keep as usize) {
            let hash: Vec<u8> = row.try_get(0).map_err(self.err())?;
            self.revoke_token(&hash).await?;
            deleted += 1;
        }
        Ok(deleted)
    }

    async fn live_tokens(&self, token_hashes: &[[u8; 32]], now: i64) -> Result<HashSet<[u8; 32]>> {
        let mut live = HashSet::new();
        // One query per chunk: the sweep stays a handful of trips even at
        // 100k connections. The query text depends only on the chunk size.
        for chunk in token_hashes.chunks(LIVE_TOKENS_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let q = self.backend.render(&format!(
                "SELECT token_hash FROM tokens WHERE expires_at > ? AND token_hash IN ({marks})"
            ));
            let mut query = sqlx::query(sql(&q)).bind(now);
            for hash in chunk {
                query = query.bind(hash.to_vec());
            }
            let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
            for row in rows {
                let hash: Vec<u8> = row.try_get(0).map_err(self.err())?;
                if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                    live.insert(hash);
                }
            }
        }
        Ok(live)
    }
}
