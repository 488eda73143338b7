//! [`ChangeStore`] on SQL, and the one way every area appends to a user's
//! change stream ([`SqlStore::append_changes`]).

use super::{SqlStore, text_column};
use crate::{ChangePage, ChangeStore, Result, Written};
use async_trait::async_trait;
use magpie_proto::{Change, ChangeEvent, UserId};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::BTreeMap;

/// Most users bound in one statement of [`SqlStore::append_changes`].
const USERS_CHUNK: usize = 500;
/// Most change rows inserted by one statement (5 parameters each).
const ROWS_CHUNK: usize = 200;

/// `?, ?, ...` for `n` parameters.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl SqlStore {
    /// Append `items` to their users' streams, inside the caller's
    /// transaction, and return them as written. Each user's seqs continue
    /// their stream without a gap: the allocator column is bumped under
    /// the user row's lock, which is held until the transaction ends, so
    /// concurrent appends (other nodes included) queue rather than
    /// interleave. Users are locked in id order, as everywhere in this
    /// crate, so two appenders cannot deadlock. Set-based: a profile change
    /// fanned out to 5,000 friends is a few statements per 500 users.
    pub(super) async fn append_changes(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        items: Vec<(UserId, ChangeEvent)>,
    ) -> sqlx::Result<Vec<Written>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut per_user: BTreeMap<UserId, i64> = BTreeMap::new();
        for (user, _) in &items {
            *per_user.entry(*user).or_default() += 1;
        }
        // Users by how many changes they get: one UPDATE per (count, chunk).
        let mut by_count: BTreeMap<i64, Vec<UserId>> = BTreeMap::new();
        for (user, count) in &per_user {
            by_count.entry(*count).or_default().push(*user);
        }
        let mut next_seq: BTreeMap<UserId, i64> = BTreeMap::new();
        for (count, users) in by_count {
            for chunk in users.chunks(USERS_CHUNK) {
                let list = marks(chunk.len());
                let lock = self.backend.render(&format!(
                    "SELECT id FROM users WHERE id IN ({list}) ORDER BY id{{for_update}}"
                ));
                let bump = self.backend.render(&format!(
                    "UPDATE users SET change_seq = change_seq + ? WHERE id IN ({list})"
                ));
                let read = self.backend.render(&format!(
                    "SELECT id, change_seq FROM users WHERE id IN ({list})"
                ));
                let mut q = sqlx::query(AssertSqlSafe(lock));
                for user in chunk {
                    q = q.bind(*user);
                }
                q.fetch_all(&mut *conn).await?;
                let mut q = sqlx::query(AssertSqlSafe(bump)).bind(count);
                for user in chunk {
                    q = q.bind(*user);
                }
                q.execute(&mut *conn).await?;
                let mut q = sqlx::query(AssertSqlSafe(read));
                for user in chunk {
                    q = q.bind(*user);
                }
                for row in q.fetch_all(&mut *conn).await? {
                    let user: i64 = row.try_get(0)?;
                    let last: i64 = row.try_get(1)?;
                    next_seq.insert(user, last - count + 1);
                }
            }
        }
        let mut written = Vec::with_capacity(items.len());
        for (user, event) in items {
            let seq = next_seq
                .get_mut(&user)
                .ok_or_else(|| sqlx::Error::RowNotFound)?;
            written.push(Written {
                user,
                change: Change {
                    seq: *seq,
                    ts: now,
                    event,
                },
            });
            *seq += 1;
        }
        for chunk in written.chunks(ROWS_CHUNK) {
            let values = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let insert = self.backend.render(&format!(
                "INSERT INTO changes (user_id, seq, kind, data, ts) VALUES {values}"
            ));
            let mut q = sqlx::query(AssertSqlSafe(insert));
            for w in chunk {
                let (kind, data) = split_event(&w.change.event)?;
                q = q
                    .bind(w.user)
                    .bind(w.change.seq)
                    .bind(kind)
                    .bind(data)
                    .bind(w.change.ts);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(written)
    }
}

/// A change's `kind` and its `data` as JSON text.
fn split_event(event: &ChangeEvent) -> sqlx::Result<(String, String)> {
    let value = serde_json::to_value(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let kind = value["kind"].as_str().unwrap_or_default().to_string();
    let data =
        serde_json::to_string(&value["data"]).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    Ok((kind, data))
}

#[async_trait]
impl ChangeStore for SqlStore {
    async fn changes(&self, user: UserId, after: i64, limit: u32) -> Result<ChangePage> {
        let head_q = self
            .backend
            .render("SELECT change_seq FROM users WHERE id = ?");
        let head: i64 = match sqlx::query(AssertSqlSafe(head_q))
            .bind(user)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?
        {
            Some(row) => row.try_get(0).map_err(self.err())?,
            None => 0,
        };
        if after > head {
            // A cursor from the future: the database was restored from a
            // backup, or the client is confused. Either way, start over.
            return Ok(ChangePage {
                changes: Vec::new(),
                head,
                reset: true,
            });
        }
        let page_q = self.backend.render(
            "SELECT seq, ts, kind, data FROM changes WHERE user_id = ? AND seq > ? \
             ORDER BY seq LIMIT ?",
        );
        let rows = sqlx::query(AssertSqlSafe(page_q))
            .bind(user)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.try_get(0).map_err(self.err())?;
            let ts: i64 = row.try_get(1).map_err(self.err())?;
            let kind = text_column(row, 2).map_err(self.err())?;
            let data = text_column(row, 3).map_err(self.err())?;
            let data: serde_json::Value = serde_json::from_str(&data)
                .map_err(|e| crate::StoreError::Backend(format!("change {user}/{seq}: {e}")))?;
            let change: Change = serde_json::from_value(
                serde_json::json!({"seq": seq, "ts": ts, "kind": kind, "data": data}),
            )
            .map_err(|e| crate::StoreError::Backend(format!("change {user}/{seq}: {e}")))?;
            changes.push(change);
        }
        let gap = after < head && changes.first().is_none_or(|c| c.seq != after + 1);
        if gap {
            return Ok(ChangePage {
                changes: Vec::new(),
                head,
                reset: true,
            });
        }
        // Changes committed after the head was read may be on the page.
        let head = changes.last().map_or(head, |c| c.seq.max(head));
        Ok(ChangePage {
            changes,
            head,
            reset: false,
        })
    }
}
