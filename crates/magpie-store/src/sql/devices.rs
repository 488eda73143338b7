//! [`DeviceStore`] on SQL: the `tokens` table, with its platform and
//! last-seen columns.

use super::{SqlStore, text_column};
use crate::devices::{DEVICES_LISTED, DeviceRecord};
use crate::{DeviceStore, Result};
use async_trait::async_trait;
use magpie_proto::{Platform, UserId};
use sqlx::{AssertSqlSafe, Row};

fn platform_code(p: Platform) -> i64 {
    match p {
        Platform::Desktop => 1,
        Platform::Mobile => 2,
        Platform::Web => 3,
        Platform::Cli => 4,
        Platform::Bot => 5,
    }
}

fn platform_from_code(code: i64) -> Platform {
    match code {
        2 => Platform::Mobile,
        3 => Platform::Web,
        4 => Platform::Cli,
        5 => Platform::Bot,
        _ => Platform::Desktop,
    }
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn create_device_token(
        &self,
        token_hash: &[u8],
        user: UserId,
        name: &str,
        platform: Platform,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let q = self.backend.render(
            "INSERT INTO tokens (token_hash, user_id, device, platform, created_at, last_seen, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        );
        sqlx::query(AssertSqlSafe(q))
            .bind(token_hash.to_vec())
            .bind(user)
            .bind(name)
            .bind(platform_code(platform))
            .bind(now)
            .bind(now)
            .bind(expires_at)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn devices(&self, user: UserId, now: i64) -> Result<Vec<DeviceRecord>> {
        let q = self.backend.render(
            "SELECT token_hash, device, platform, created_at, last_seen, expires_at FROM tokens \
             WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, token_hash DESC LIMIT ?",
        );
        let rows = sqlx::query(AssertSqlSafe(q))
            .bind(user)
            .bind(now)
            .bind(i64::from(DEVICES_LISTED))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let record = (|| {
                let hash: Vec<u8> = row.try_get(0)?;
                let token_hash = <[u8; 32]>::try_from(hash.as_slice())
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Ok::<_, sqlx::Error>(DeviceRecord {
                    token_hash,
                    name: text_column(&row, 1)?,
                    platform: platform_from_code(row.try_get(2)?),
                    created_at: row.try_get(3)?,
                    last_seen: row.try_get(4)?,
                    expires_at: row.try_get(5)?,
                })
            })()
            .map_err(self.err())?;
            out.push(record);
        }
        Ok(out)
    }

    async fn touch_token(&self, token_hash: &[u8], now: i64) -> Result<()> {
        let q = self
            .backend
            .render("UPDATE tokens SET last_seen = ? WHERE token_hash = ? AND last_seen < ?");
        sqlx::query(AssertSqlSafe(q))
            .bind(now)
            .bind(token_hash.to_vec())
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(())
    }
}
