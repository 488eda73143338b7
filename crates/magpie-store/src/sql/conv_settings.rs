//! [`ConvSettingsStore`] on SQL: the settings columns of `members`
//! (migration 0014), each change written with its `conv_settings` change
//! in one transaction.
//!
//! Locking: a change locks the conversation's row, then the user's, then
//! the member's, and appends (the user's row again). That is the order
//! every other writer of these rows keeps. A message batch locks its
//! conversations, then takes the senders' user rows in share mode (the
//! foreign-key check of its insert) and then member rows (read marks); a
//! group change locks its conversation, then member rows, then the users
//! it tells. Taking the member row before the user row here deadlocked
//! against a batch in the same conversation on PostgreSQL (the test
//! `settings_race_batches_and_each_other_on_two_nodes` caught it):
//! holding the conversation first makes the two wait in turn instead.

use super::{SqlStore, Tx, graph, opt_text_column};
use crate::conv_settings::{ConvSettingsStore, SettingsUpdate};
use crate::dialect::Backend;
use crate::{Outcome, Refusal, Result, Written};
use async_trait::async_trait;
use magpie_proto::{ChangeEvent, ConvId, ConvSettings, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::sync::Arc;

/// The settings of a member row, in [`settings_from_row`] order after the
/// conversation id.
const SETTINGS_COLUMNS: &str =
    "conv_id, pinned, notify_muted_until, marked_unread, hidden_seq, draft";

/// The settings area's queries, rendered for one engine.
#[derive(Debug)]
pub(super) struct Queries {
    lock_conv: Arc<str>,
    lock_user: Arc<str>,
    lock: Arc<str>,
    update: Arc<str>,
    marked: Arc<str>,
    list: Arc<str>,
}

impl Queries {
    pub(super) fn new(b: Backend) -> Queries {
        Queries {
            lock: b.render(&format!(
                "SELECT {SETTINGS_COLUMNS} FROM members WHERE user_id = ? AND conv_id = ?{{for_update}}"
            )),
            lock_conv: b.render("SELECT last_seq FROM conversations WHERE id = ?{for_update}"),
            lock_user: b.render("SELECT id FROM users WHERE id = ?{for_update}"),
            update: b.render(
                "UPDATE members SET pinned = ?, notify_muted_until = ?, marked_unread = ?, \
                 hidden_seq = ?, draft = ? WHERE user_id = ? AND conv_id = ?",
            ),
            marked: b.render("SELECT marked_unread FROM members WHERE user_id = ? AND conv_id = ?"),
            list: b.render(&format!(
                "SELECT {SETTINGS_COLUMNS} FROM members WHERE user_id = ? AND conv_id > ? \
                 AND (pinned <> 0 OR notify_muted_until <> 0 OR marked_unread <> 0 \
                      OR hidden_seq <> 0 OR draft IS NOT NULL) \
                 ORDER BY conv_id LIMIT ?"
            )),
        }
    }
}

/// Shorthand: one query text of this module, for sqlx.
fn q(text: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(text.clone())
}

/// A member row's settings, from [`SETTINGS_COLUMNS`] at `at`.
fn settings_from_row(row: &AnyRow) -> sqlx::Result<ConvSettings> {
    Ok(ConvSettings {
        conv: row.try_get(0)?,
        pinned: row.try_get::<i64, _>(1)? != 0,
        muted_until: row.try_get(2)?,
        marked_unread: row.try_get::<i64, _>(3)? != 0,
        hidden_seq: row.try_get(4)?,
        draft: opt_text_column(row, 5)?.unwrap_or_default(),
    })
}

impl SqlStore {
    /// Lock `conv`'s row, `user`'s and `user`'s membership row of `conv`,
    /// in that order (see the module's docs), and read the conversation's
    /// newest seq and the member's settings; refuses if `user` is not a
    /// member (or `conv` does not exist).
    async fn lock_settings(
        &self,
        c: &mut AnyConnection,
        user: UserId,
        conv: ConvId,
    ) -> Tx<(i64, ConvSettings)> {
        let qs = &self.q.conv_settings;
        let Some(head) = sqlx::query(q(&qs.lock_conv))
            .bind(conv)
            .fetch_optional(&mut *c)
            .await?
        else {
            return Err(Refusal::NotMember.into());
        };
        let last_seq: i64 = head.try_get(0)?;
        sqlx::query(q(&qs.lock_user))
            .bind(user)
            .fetch_optional(&mut *c)
            .await?;
        let row = sqlx::query(q(&qs.lock))
            .bind(user)
            .bind(conv)
            .fetch_optional(&mut *c)
            .await?;
        match row {
            Some(row) => Ok((last_seq, settings_from_row(&row)?)),
            None => Err(Refusal::NotMember.into()),
        }
    }

    /// Write `new` over the locked row and append it to `user`'s stream.
    async fn write_settings(
        &self,
        c: &mut AnyConnection,
        user: UserId,
        new: &ConvSettings,
        now: i64,
    ) -> Tx<Vec<Written>> {
        let draft = (!new.draft.is_empty()).then_some(new.draft.as_str());
        sqlx::query(q(&self.q.conv_settings.update))
            .bind(i64::from(new.pinned))
            .bind(new.muted_until)
            .bind(i64::from(new.marked_unread))
            .bind(new.hidden_seq)
            .bind(draft)
            .bind(user)
            .bind(new.conv)
            .execute(&mut *c)
            .await?;
        Ok(self
            .append_changes(c, now, vec![(user, ChangeEvent::ConvSettings(new.clone()))])
            .await?)
    }

    async fn set_conv_settings_tx(
        &self,
        c: &mut AnyConnection,
        user: UserId,
        conv: ConvId,
        update: &SettingsUpdate,
        now: i64,
    ) -> Tx<Outcome<ConvSettings>> {
        let (last_seq, old) = self.lock_settings(c, user, conv).await?;
        let mut new = old.clone();
        if let Some(pinned) = update.pinned {
            new.pinned = pinned;
        }
        if let Some(until) = update.muted_until {
            new.muted_until = until;
        }
        if let Some(marked) = update.marked_unread {
            new.marked_unread = marked;
        }
        if let Some(draft) = &update.draft {
            new.draft.clone_from(draft);
        }
        match update.hidden {
            None => {}
            Some(false) => new.hidden_seq = 0,
            // Up to the newest entry (read under the conversation's lock,
            // so no entry is between it and this write): a later one has
            // a higher seq and brings the conversation back.
            Some(true) => new.hidden_seq = last_seq,
        }
        if new == old {
            return Ok(Outcome {
                value: old,
                written: Vec::new(),
            });
        }
        let written = self.write_settings(c, user, &new, now).await?;
        Ok(Outcome {
            value: new,
            written,
        })
    }

    async fn clear_unread_mark_tx(
        &self,
        c: &mut AnyConnection,
        user: UserId,
        conv: ConvId,
        now: i64,
    ) -> Tx<Vec<Written>> {
        let mut settings = match self.lock_settings(c, user, conv).await {
            Ok((_, settings)) => settings,
            // Left the conversation meanwhile: nothing to clear.
            Err(super::TxError::Refused(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        if !settings.marked_unread {
            return Ok(Vec::new());
        }
        settings.marked_unread = false;
        self.write_settings(c, user, &settings, now).await
    }
}

#[async_trait]
impl ConvSettingsStore for SqlStore {
    async fn set_conv_settings(
        &self,
        user: UserId,
        conv: ConvId,
        update: &SettingsUpdate,
        now: i64,
    ) -> Result<Outcome<ConvSettings>> {
        graph!(self.set_conv_settings_tx(user, conv, update, now))
    }

    async fn conv_settings(
        &self,
        user: UserId,
        after: ConvId,
        limit: u32,
    ) -> Result<Vec<ConvSettings>> {
        let rows = sqlx::query(q(&self.q.conv_settings.list))
            .bind(user)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(settings_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn clear_unread_mark(
        &self,
        user: UserId,
        conv: ConvId,
        now: i64,
    ) -> Result<Vec<Written>> {
        // The usual read finds no mark: one primary-key read, no write
        // transaction (and on SQLite no turn on the writer).
        let marked: Option<i64> = sqlx::query(q(&self.q.conv_settings.marked))
            .bind(user)
            .bind(conv)
            .fetch_optional(&self.readers)
            .await
            .and_then(|row| row.map(|r| r.try_get(0)).transpose())
            .map_err(self.err())?;
        if marked.unwrap_or(0) == 0 {
            return Ok(Vec::new());
        }
        graph!(self.clear_unread_mark_tx(user, conv, now))
    }
}
