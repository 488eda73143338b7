//! [`AccountStore`] on SQL: users and tokens.

use super::{SqlStore, sql};
use crate::dialect::Backend;
use crate::{AccountStore, Result, StoreError, TokenRecord, UserRecord};
use async_trait::async_trait;
use magpie_proto::UserId;
use sqlx::Row;
use std::sync::Arc;

/// The accounts area's queries, rendered for one engine.
#[derive(Debug)]
pub(super) struct Queries {
    create_user: Arc<str>,
    user_by_name: Arc<str>,
    create_token: Arc<str>,
    token: Arc<str>,
    revoke_token: Arc<str>,
    purge_tokens: Arc<str>,
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
}
