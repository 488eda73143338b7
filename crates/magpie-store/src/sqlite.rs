//! The SQLite store: the zero-setup default, one file under the data dir.
//!
//! One connection writes and a small pool reads. SQLite allows one writer at
//! a time anyway, and a single writer connection means no `SQLITE_BUSY`
//! between our own writers; WAL mode lets readers run beside it. The journal
//! is synced on every commit (`synchronous = FULL`), which is what makes an
//! acked message survive a power cut; group commit in the server keeps that
//! to one sync per batch rather than per message.

use crate::{
    Appended, ConvSummary, NewMessage, Result, Store, StoreError, TokenRecord, UserRecord,
};
use async_trait::async_trait;
use magpie_proto::{ConvId, Message, Seq, UserId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;

/// Direct (1:1) conversation kind in the `conversations.kind` column.
const KIND_DIRECT: i64 = 1;

/// The SELECT that makes a [`Message`], in [`message_from_row`] column order.
/// A macro rather than a const so queries are built with `concat!` and stay
/// `&'static str` (sqlx refuses SQL assembled at run time).
macro_rules! message_select {
    () => {
        "SELECT m.id, m.conv_id, m.seq, s.username, r.username, m.body, m.ts, m.cmid \
         FROM messages m \
         JOIN conversations c ON c.id = m.conv_id \
         JOIN users s ON s.id = m.sender_id \
         JOIN users r ON r.id = CASE WHEN c.user_a = m.sender_id THEN c.user_b ELSE c.user_a END"
    };
}

/// SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path` and bring its
    /// schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(map_err)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.read_only(true))
            .await
            .map_err(map_err)?;
        Ok(SqliteStore { writer, readers })
    }
}

/// Map sqlx errors onto the storage boundary: transient conditions become
/// [`StoreError::Unavailable`] so the server can tell clients to retry.
fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        // sqlx reports SQLite's extended result codes (e.g. 778 for
        // SQLITE_IOERR_WRITE); the low byte is the primary code.
        sqlx::Error::Database(db) => match db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff)
        {
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
            Some(5 | 6 | 10 | 13 | 14) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        },
        _ => StoreError::Backend(e.to_string()),
    }
}

fn message_from_row(row: &SqliteRow) -> std::result::Result<Message, sqlx::Error> {
    Ok(Message {
        msg_id: row.try_get(0)?,
        conv: row.try_get(1)?,
        seq: row.try_get(2)?,
        from: row.try_get(3)?,
        to: row.try_get(4)?,
        body: row.try_get(5)?,
        ts: row.try_get(6)?,
        cmid: row.try_get(7)?,
    })
}

/// Store one message inside the batch transaction. See [`Store::append_batch`].
async fn append_one(tx: &mut Transaction<'_, Sqlite>, msg: &NewMessage) -> sqlx::Result<Appended> {
    let existing: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, conv_id, seq, ts FROM messages WHERE sender_id = ? AND cmid = ?",
    )
    .bind(msg.sender)
    .bind(&msg.cmid)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((msg_id, conv, seq, ts)) = existing {
        return Ok(Appended {
            msg_id,
            conv,
            seq,
            ts,
            duplicate: true,
        });
    }
    let conv = direct_conv_for_write(tx, msg.sender, msg.recipient, msg.ts).await?;
    let (seq,): (i64,) = sqlx::query_as(
        "UPDATE conversations SET last_seq = last_seq + 1, last_ts = ? WHERE id = ? RETURNING last_seq",
    )
    .bind(msg.ts)
    .bind(conv)
    .fetch_one(&mut **tx)
    .await?;
    let (msg_id,): (i64,) = sqlx::query_as(
        "INSERT INTO messages (conv_id, seq, sender_id, cmid, body, ts) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(conv)
    .bind(seq)
    .bind(msg.sender)
    .bind(&msg.cmid)
    .bind(&msg.body)
    .bind(msg.ts)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE members SET read_seq = ? WHERE user_id = ? AND conv_id = ?")
        .bind(seq)
        .bind(msg.sender)
        .bind(conv)
        .execute(&mut **tx)
        .await?;
    Ok(Appended {
        msg_id,
        conv,
        seq,
        ts: msg.ts,
        duplicate: false,
    })
}

/// Find or create the 1:1 conversation of two users, with both members.
async fn direct_conv_for_write(
    tx: &mut Transaction<'_, Sqlite>,
    a: UserId,
    b: UserId,
    now: i64,
) -> sqlx::Result<ConvId> {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    if let Some((id,)) =
        sqlx::query_as::<_, (i64,)>("SELECT id FROM conversations WHERE user_a = ? AND user_b = ?")
            .bind(lo)
            .bind(hi)
            .fetch_optional(&mut **tx)
            .await?
    {
        return Ok(id);
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO conversations (kind, user_a, user_b, last_seq, last_ts, created_at) \
         VALUES (?, ?, ?, 0, ?, ?) RETURNING id",
    )
    .bind(KIND_DIRECT)
    .bind(lo)
    .bind(hi)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    for user in [lo, hi] {
        sqlx::query("INSERT INTO members (user_id, conv_id, read_seq) VALUES (?, ?, 0)")
            .bind(user)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<UserId> {
        let result: sqlx::Result<(i64,)> = sqlx::query_as(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(username)
        .bind(password_hash)
        .bind(now)
        .fetch_one(&self.writer)
        .await;
        match result {
            Ok((id,)) => Ok(id),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(StoreError::UsernameTaken)
            }
            Err(e) => Err(map_err(e)),
        }
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT id, username, password_hash FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(&self.readers)
                .await
                .map_err(map_err)?;
        Ok(row.map(|(id, username, password_hash)| UserRecord {
            id,
            username,
            password_hash,
        }))
    }

    async fn create_token(
        &self,
        token_hash: &[u8],
        user: UserId,
        device: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (token_hash, user_id, device, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user)
        .bind(device)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn token(&self, token_hash: &[u8], now: i64) -> Result<Option<TokenRecord>> {
        let row: Option<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT t.user_id, u.username, t.device, t.expires_at \
             FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ? AND t.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.readers)
        .await
        .map_err(map_err)?;
        Ok(
            row.map(|(user_id, username, device, expires_at)| TokenRecord {
                user_id,
                username,
                device,
                expires_at,
            }),
        )
    }

    async fn revoke_token(&self, token_hash: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn purge_expired_tokens(&self, now: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Appended>> {
        let mut tx = self.writer.begin().await.map_err(map_err)?;
        let mut out = Vec::with_capacity(batch.len());
        for msg in batch {
            out.push(append_one(&mut tx, msg).await.map_err(map_err)?);
        }
        // With synchronous=FULL the commit returns after the WAL is synced.
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    async fn direct_conv(&self, a: UserId, b: UserId) -> Result<Option<ConvId>> {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM conversations WHERE user_a = ? AND user_b = ?")
                .bind(lo)
                .bind(hi)
                .fetch_optional(&self.readers)
                .await
                .map_err(map_err)?;
        Ok(row.map(|(id,)| id))
    }

    async fn is_member(&self, user: UserId, conv: ConvId) -> Result<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM members WHERE user_id = ? AND conv_id = ?")
                .bind(user)
                .bind(conv)
                .fetch_optional(&self.readers)
                .await
                .map_err(map_err)?;
        Ok(row.is_some())
    }

    async fn conv_positions(&self, user: UserId) -> Result<Vec<(ConvId, Seq)>> {
        sqlx::query_as(
            "SELECT c.id, c.last_seq FROM members mem JOIN conversations c ON c.id = mem.conv_id \
             WHERE mem.user_id = ? ORDER BY c.id",
        )
        .bind(user)
        .fetch_all(&self.readers)
        .await
        .map_err(map_err)
    }

    async fn conversations(&self, user: UserId) -> Result<Vec<ConvSummary>> {
        let rows = sqlx::query(
            "SELECT c.id, peer.username, c.last_seq, mem.read_seq, \
                    m.id, m.seq, s.username, m.body, m.ts, m.cmid, m.sender_id, me.username \
             FROM members mem \
             JOIN users me ON me.id = mem.user_id \
             JOIN conversations c ON c.id = mem.conv_id \
             JOIN users peer ON peer.id = CASE WHEN c.user_a = mem.user_id THEN c.user_b ELSE c.user_a END \
             LEFT JOIN messages m ON m.conv_id = c.id AND m.seq = c.last_seq \
             LEFT JOIN users s ON s.id = m.sender_id \
             WHERE mem.user_id = ? \
             ORDER BY COALESCE(m.id, 0) DESC, c.id DESC",
        )
        .bind(user)
        .fetch_all(&self.readers)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| summary_from_row(row, user))
            .collect::<sqlx::Result<_>>()
            .map_err(map_err)
    }

    async fn messages_after(&self, conv: ConvId, after: Seq, limit: u32) -> Result<Vec<Message>> {
        let rows = sqlx::query(concat!(
            message_select!(),
            " WHERE m.conv_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"
        ))
        .bind(conv)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(message_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(map_err)
    }

    async fn messages_before(&self, conv: ConvId, before: Seq, limit: u32) -> Result<Vec<Message>> {
        let rows = sqlx::query(concat!(
            message_select!(),
            " WHERE m.conv_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?"
        ))
        .bind(conv)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(map_err)?;
        let mut messages = rows
            .iter()
            .map(message_from_row)
            .collect::<sqlx::Result<Vec<_>>>()
            .map_err(map_err)?;
        messages.reverse();
        Ok(messages)
    }

    async fn mark_read(&self, user: UserId, conv: ConvId, seq: Seq) -> Result<Option<Seq>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE members SET read_seq = MAX(read_seq, MIN(?, \
                 (SELECT last_seq FROM conversations WHERE id = members.conv_id))) \
             WHERE user_id = ? AND conv_id = ? RETURNING read_seq",
        )
        .bind(seq)
        .bind(user)
        .bind(conv)
        .fetch_optional(&self.writer)
        .await
        .map_err(map_err)?;
        Ok(row.map(|(s,)| s))
    }

    async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// A conversation-list row; the last message's recipient is the member who
/// did not send it.
fn summary_from_row(
    row: &SqliteRow,
    user: UserId,
) -> std::result::Result<ConvSummary, sqlx::Error> {
    let conv: i64 = row.try_get(0)?;
    let peer: String = row.try_get(1)?;
    let last_msg_id: Option<i64> = row.try_get(4)?;
    let last = match last_msg_id {
        None => None,
        Some(msg_id) => {
            let from: String = row.try_get(6)?;
            let sender_id: i64 = row.try_get(10)?;
            let to = if sender_id == user {
                peer.clone()
            } else {
                row.try_get(11)?
            };
            Some(Message {
                msg_id,
                conv,
                seq: row.try_get(5)?,
                from,
                to,
                body: row.try_get(7)?,
                ts: row.try_get(8)?,
                cmid: row.try_get(9)?,
            })
        }
    };
    Ok(ConvSummary {
        conv,
        peer,
        last_seq: row.try_get(2)?,
        read_seq: row.try_get(3)?,
        last,
    })
}
