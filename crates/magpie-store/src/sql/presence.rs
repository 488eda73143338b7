//! [`PresenceStore`] on SQL: two columns of `users`, and the friends table.

use super::{SqlStore, text_column};
use crate::{PresenceStore, Result};
use async_trait::async_trait;
use magpie_proto::{PresenceState, Status, UserId};
use sqlx::{AssertSqlSafe, Row};

/// Most users bound in one `presences` query.
const CHUNK: usize = 500;

fn status_code(status: Status) -> i64 {
    match status {
        Status::Online | Status::Offline => 0,
        Status::Away => 1,
        Status::Busy => 2,
        Status::Invisible => 3,
    }
}

fn status_from_code(code: i64) -> Status {
    match code {
        1 => Status::Away,
        2 => Status::Busy,
        3 => Status::Invisible,
        _ => Status::Online,
    }
}

#[async_trait]
impl PresenceStore for SqlStore {
    async fn contacts(&self, user: UserId) -> Result<Vec<UserId>> {
        // Friends, and the members of the user's own department (whom the
        // user has not blocked).
        let q = self.backend.render(
            "SELECT friend_id FROM friends WHERE user_id = ? \
             UNION \
             SELECT u.id FROM users u JOIN users me ON me.id = ? \
             WHERE me.dept_id IS NOT NULL AND u.dept_id = me.dept_id AND u.id <> me.id \
               AND u.state = 0 \
               AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = me.id AND b.blocked_id = u.id)",
        );
        let rows = sqlx::query(AssertSqlSafe(q))
            .bind(user)
            .bind(user)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn set_presence(&self, user: UserId, status: Status, text: &str) -> Result<()> {
        let q = self
            .backend
            .render("UPDATE users SET presence = ?, presence_text = ? WHERE id = ?");
        sqlx::query(AssertSqlSafe(q))
            .bind(status_code(status))
            .bind(text)
            .bind(user)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn presences(&self, users: &[UserId]) -> Result<Vec<PresenceState>> {
        let mut out = Vec::with_capacity(users.len());
        for chunk in users.chunks(CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let q = self.backend.render(&format!(
                "SELECT id, username, presence, presence_text FROM users WHERE id IN ({marks})"
            ));
            let mut query = sqlx::query(AssertSqlSafe(q));
            for user in chunk {
                query = query.bind(*user);
            }
            let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
            for row in rows {
                let state = (|| {
                    Ok::<_, sqlx::Error>(PresenceState {
                        user_id: row.try_get(0)?,
                        user: text_column(&row, 1)?,
                        status: status_from_code(row.try_get(2)?),
                        text: text_column(&row, 3)?,
                    })
                })()
                .map_err(self.err())?;
                out.push(state);
            }
        }
        Ok(out)
    }
}
