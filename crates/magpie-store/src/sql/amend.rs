//! [`AmendStore`] on SQL: one transaction per amending entry, which locks
//! the conversation (its seq allocator), checks the rules against the
//! rows as they are under that lock, changes the target and appends the
//! entry.

use super::{MESSAGE_SELECT, SqlStore, Tx, graph, kind_code, kind_from_code, message_from_row};
use crate::amend::counts_to_json;
use crate::files::Unreferenced;
use crate::{AmendOp, AmendStore, Amended, NewAmend, Refusal, Result};
use async_trait::async_trait;
use magpie_proto::limits::REACTION_KINDS_MAX;
use magpie_proto::{ConvId, Message, MessageKind, Quote, ReactionChange, Recalled, Seq, UserId};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// `conversations.kind` of a group.
const KIND_GROUP: i64 = 2;
/// Most seqs in one IN-list.
const SEQS_PER_STATEMENT: usize = 200;

/// The target of an amending entry, as read under the conversation's lock.
struct Target {
    sender: UserId,
    kind: MessageKind,
    ts: i64,
}

/// The conversation and the actor's place in it, under the lock.
struct Place {
    group: bool,
    last_seq: Seq,
    version: Seq,
    joined_seq: Seq,
    role: i64,
}

impl SqlStore {
    async fn amend_tx(&self, c: &mut AnyConnection, a: &NewAmend) -> Tx<Amended> {
        let place = self.lock_place(c, a.conv, a.actor).await?;
        if a.target <= place.joined_seq {
            return Err(Refusal::NoSuchMessage.into());
        }
        let target = self.read_target(c, a.conv, a.target).await?;
        let mut released = Vec::new();
        let (kind, body, reaction) = match &a.op {
            AmendOp::Recall { window_ms } => {
                self.may_recall(c, a, &place, &target, *window_ms).await?;
                released = self.recall_target(c, a).await?;
                (MessageKind::Recall, String::new(), None)
            }
            AmendOp::Edit { body, window_ms } => {
                if target.sender != a.actor {
                    return Err(Refusal::GroupRole("only its sender may edit a message").into());
                }
                if target.kind != MessageKind::Text {
                    return Err(Refusal::NotAmendable("only text messages can be edited").into());
                }
                if a.now.saturating_sub(target.ts) > *window_ms {
                    return Err(Refusal::TooLate("the edit window has passed").into());
                }
                sqlx::query(self.query(
                    "UPDATE messages SET body = ?, edited_ts = ? WHERE conv_id = ? AND seq = ?",
                ))
                .bind(body.as_str())
                .bind(a.now)
                .bind(a.conv)
                .bind(a.target)
                .execute(&mut *c)
                .await?;
                (MessageKind::Edit, body.clone(), None)
            }
            AmendOp::React { emoji, add } => match self.react(c, a, emoji, *add).await? {
                Some(change) => (MessageKind::Reaction, String::new(), Some(change)),
                None => {
                    return Ok(Amended {
                        entry: None,
                        version: place.version,
                        released,
                    });
                }
            },
        };
        let entry = self
            .append_amending(c, a, place.last_seq + 1, kind, body, reaction)
            .await?;
        Ok(Amended {
            entry: Some(entry),
            version: place.version,
            released,
        })
    }

    /// Lock the conversation and read the actor's membership.
    async fn lock_place(&self, c: &mut AnyConnection, conv: ConvId, actor: UserId) -> Tx<Place> {
        let Some(row) = sqlx::query(self.query(
            "SELECT kind, last_seq, members_seq FROM conversations WHERE id = ?{for_update}",
        ))
        .bind(conv)
        .fetch_optional(&mut *c)
        .await?
        else {
            return Err(Refusal::NotMember.into());
        };
        let Some(member) = sqlx::query(
            self.query("SELECT joined_seq, role FROM members WHERE user_id = ? AND conv_id = ?"),
        )
        .bind(actor)
        .bind(conv)
        .fetch_optional(&mut *c)
        .await?
        else {
            return Err(Refusal::NotMember.into());
        };
        Ok(Place {
            group: row.try_get::<i64, _>(0)? == KIND_GROUP,
            last_seq: row.try_get(1)?,
            version: row.try_get(2)?,
            joined_seq: member.try_get(0)?,
            role: member.try_get(1)?,
        })
    }

    /// The target entry, which must be a message that is not recalled.
    async fn read_target(&self, c: &mut AnyConnection, conv: ConvId, seq: Seq) -> Tx<Target> {
        let Some(row) = sqlx::query(self.query(
            "SELECT sender_id, kind, ts, recalled FROM messages WHERE conv_id = ? AND seq = ?",
        ))
        .bind(conv)
        .bind(seq)
        .fetch_optional(&mut *c)
        .await?
        else {
            return Err(Refusal::NoSuchMessage.into());
        };
        let kind = kind_from_code(row.try_get(1)?)?;
        if !kind.is_message() {
            return Err(Refusal::NotAmendable(
                "only messages can be recalled, edited or reacted to",
            )
            .into());
        }
        if super::opt_text_column(&row, 3)?.is_some() {
            return Err(Refusal::NotAmendable("the message was recalled").into());
        }
        Ok(Target {
            sender: row.try_get(0)?,
            kind,
            ts: row.try_get(2)?,
        })
    }

    /// The recall rules: the sender within the window; in a group, the
    /// owner and admins at any time, over members whose role is below
    /// theirs (their own messages included).
    async fn may_recall(
        &self,
        c: &mut AnyConnection,
        a: &NewAmend,
        place: &Place,
        target: &Target,
        window_ms: i64,
    ) -> Tx<()> {
        let moderator = place.group && place.role > 0;
        if target.sender == a.actor {
            if !moderator && a.now.saturating_sub(target.ts) > window_ms {
                return Err(Refusal::TooLate("the recall window has passed").into());
            }
            return Ok(());
        }
        if moderator {
            // A sender who has left counts as a member.
            let sender_role: i64 = sqlx::query(
                self.query("SELECT role FROM members WHERE user_id = ? AND conv_id = ?"),
            )
            .bind(target.sender)
            .bind(a.conv)
            .fetch_optional(&mut *c)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?
            .unwrap_or(0);
            if place.role > sender_role {
                return Ok(());
            }
        }
        Err(Refusal::GroupRole(
            "only the sender may recall this message (or, in a group, an owner or admin above them)",
        )
        .into())
    }

    /// Empty the target: content, file, mentions, quote, reactions; rewrite
    /// the quotes of the replies to it. Returns the content no longer
    /// referenced.
    async fn recall_target(&self, c: &mut AnyConnection, a: &NewAmend) -> Tx<Vec<Unreferenced>> {
        let recalled = serde_json::to_string(&Recalled {
            by: a.actor_name.clone(),
            ts: a.now,
        })
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(self.query(
            "UPDATE messages SET body = '', attachment = NULL, mentions = NULL, reply = NULL, \
             reactions = NULL, forward = NULL, recalled = ? WHERE conv_id = ? AND seq = ?",
        ))
        .bind(recalled)
        .bind(a.conv)
        .bind(a.target)
        .execute(&mut *c)
        .await?;
        sqlx::query(self.query("DELETE FROM reactions WHERE conv_id = ? AND seq = ?"))
            .bind(a.conv)
            .bind(a.target)
            .execute(&mut *c)
            .await?;
        self.recall_quotes(c, a.conv, a.target).await?;
        let file: Option<String> = sqlx::query(
            self.query("SELECT id FROM files WHERE conv_id = ? AND seq = ? AND purpose = 2"),
        )
        .bind(a.conv)
        .bind(a.target)
        .fetch_optional(&mut *c)
        .await?
        .map(|row| super::text_column(&row, 0))
        .transpose()?;
        let mut released = Vec::new();
        if let Some(id) = file {
            released.extend(self.delete_file_tx(c, &id).await?);
        }
        Ok(released)
    }

    /// Mark the quote of every reply to `target` recalled, its excerpt
    /// gone.
    async fn recall_quotes(&self, c: &mut AnyConnection, conv: ConvId, target: Seq) -> Tx<()> {
        let rows = sqlx::query(self.query(
            "SELECT m.seq, m.reply FROM replies r \
             JOIN messages m ON m.conv_id = r.conv_id AND m.seq = r.seq \
             WHERE r.conv_id = ? AND r.target_seq = ?",
        ))
        .bind(conv)
        .bind(target)
        .fetch_all(&mut *c)
        .await?;
        for row in rows {
            let seq: Seq = row.try_get(0)?;
            let Some(mut quote) = super::opt_text_column(&row, 1)?
                .and_then(|t| serde_json::from_str::<Quote>(&t).ok())
            else {
                continue;
            };
            quote.excerpt.clear();
            quote.recalled = true;
            let text =
                serde_json::to_string(&quote).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            sqlx::query(self.query("UPDATE messages SET reply = ? WHERE conv_id = ? AND seq = ?"))
                .bind(text)
                .bind(conv)
                .bind(seq)
                .execute(&mut *c)
                .await?;
        }
        Ok(())
    }

    /// Add or take back one reaction and store the target's new counts.
    /// `None` when nothing changed.
    async fn react(
        &self,
        c: &mut AnyConnection,
        a: &NewAmend,
        emoji: &str,
        add: bool,
    ) -> Tx<Option<ReactionChange>> {
        let mut counts = self.reaction_counts(c, a.conv, a.target).await?;
        let had = counts.iter().any(|(e, _)| e == emoji);
        let changed = if add {
            if !had && counts.len() >= REACTION_KINDS_MAX {
                return Err(Refusal::LimitReached("different reactions on one message").into());
            }
            sqlx::query(self.query(
                "{insert_ignore} reactions (conv_id, seq, emoji, user_id, ts) \
                 VALUES (?, ?, ?, ?, ?){on_conflict}",
            ))
            .bind(a.conv)
            .bind(a.target)
            .bind(emoji)
            .bind(a.actor)
            .bind(a.now)
            .execute(&mut *c)
            .await?
            .rows_affected()
        } else {
            sqlx::query(self.query(
                "DELETE FROM reactions WHERE conv_id = ? AND seq = ? AND emoji = ? AND user_id = ?",
            ))
            .bind(a.conv)
            .bind(a.target)
            .bind(emoji)
            .bind(a.actor)
            .execute(&mut *c)
            .await?
            .rows_affected()
        };
        if changed == 0 {
            return Ok(None);
        }
        counts = self.reaction_counts(c, a.conv, a.target).await?;
        sqlx::query(self.query("UPDATE messages SET reactions = ? WHERE conv_id = ? AND seq = ?"))
            .bind(counts_to_json(&counts))
            .bind(a.conv)
            .bind(a.target)
            .execute(&mut *c)
            .await?;
        let count = counts
            .iter()
            .find(|(e, _)| e == emoji)
            .map_or(0, |(_, n)| *n);
        Ok(Some(ReactionChange {
            emoji: emoji.to_owned(),
            add,
            count,
        }))
    }

    /// An entry's reactions per emoji, in order of first use.
    async fn reaction_counts(
        &self,
        c: &mut AnyConnection,
        conv: ConvId,
        seq: Seq,
    ) -> sqlx::Result<Vec<(String, i64)>> {
        let rows = sqlx::query(self.query(
            "SELECT emoji, COUNT(*), MIN(ts) FROM reactions WHERE conv_id = ? AND seq = ? \
             GROUP BY emoji ORDER BY MIN(ts), emoji",
        ))
        .bind(conv)
        .bind(seq)
        .fetch_all(&mut *c)
        .await?;
        rows.iter()
            .map(|row| Ok((super::text_column(row, 0)?, row.try_get(1)?)))
            .collect()
    }

    /// Append the amending entry at `seq`: the head moves, the activity
    /// time does not (a reaction does not bring a conversation to the top
    /// of the list), and the entry is marked quiet.
    async fn append_amending(
        &self,
        c: &mut AnyConnection,
        a: &NewAmend,
        seq: Seq,
        kind: MessageKind,
        body: String,
        reaction: Option<ReactionChange>,
    ) -> Tx<Message> {
        sqlx::query(
            self.query("UPDATE conversations SET last_seq = ?, quiet_seq = ? WHERE id = ?"),
        )
        .bind(seq)
        .bind(seq)
        .bind(a.conv)
        .execute(&mut *c)
        .await?;
        // Server-written entries take cmids clients may not use (`~`).
        let cmid = format!("~{}.{seq}", a.conv);
        let stored_body = match &reaction {
            Some(change) => {
                serde_json::to_string(change).map_err(|e| sqlx::Error::Encode(Box::new(e)))?
            }
            None => body.clone(),
        };
        let insert = sqlx::query(self.query(
            "INSERT INTO messages (conv_id, seq, sender_id, kind, cmid, body, ts, target) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        ))
        .bind(a.conv)
        .bind(seq)
        .bind(a.actor)
        .bind(kind_code(kind))
        .bind(cmid.clone())
        .bind(stored_body)
        .bind(a.now)
        .bind(a.target);
        let msg_id = self.insert_id(c, insert).await?;
        sqlx::query(self.query("INSERT INTO quiet_entries (conv_id, seq) VALUES (?, ?)"))
            .bind(a.conv)
            .bind(seq)
            .execute(&mut *c)
            .await?;
        Ok(Message {
            msg_id,
            conv: a.conv,
            seq,
            kind,
            from: a.actor_name.clone(),
            body,
            ts: a.now,
            cmid,
            target: Some(a.target),
            reaction: reaction.map(Box::new),
            ..Message::default()
        })
    }
}

#[async_trait]
impl AmendStore for SqlStore {
    async fn amend(&self, amend: &NewAmend) -> Result<Amended> {
        graph!(self.amend_tx(amend))
    }

    async fn messages_at(&self, conv: ConvId, seqs: &[Seq]) -> Result<Vec<Message>> {
        let mut seqs = seqs.to_vec();
        seqs.sort_unstable();
        seqs.dedup();
        let mut messages = Vec::with_capacity(seqs.len());
        for chunk in seqs.chunks(SEQS_PER_STATEMENT) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut query = sqlx::query(self.query(&format!(
                "{MESSAGE_SELECT} WHERE m.conv_id = ? AND m.seq IN ({marks}) ORDER BY m.seq"
            )))
            .bind(conv);
            for seq in chunk {
                query = query.bind(*seq);
            }
            let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
            for row in &rows {
                messages.push(message_from_row(row).map_err(self.err())?);
            }
        }
        Ok(messages)
    }

    async fn my_reactions(
        &self,
        user: UserId,
        entries: &[(ConvId, Seq)],
    ) -> Result<Vec<(ConvId, Seq, String)>> {
        let mut by_conv: BTreeMap<ConvId, Vec<Seq>> = BTreeMap::new();
        for &(conv, seq) in entries {
            by_conv.entry(conv).or_default().push(seq);
        }
        let mut mine = Vec::new();
        for (conv, seqs) in by_conv {
            for chunk in seqs.chunks(SEQS_PER_STATEMENT) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let mut query = sqlx::query(self.query(&format!(
                    "SELECT seq, emoji FROM reactions \
                     WHERE conv_id = ? AND user_id = ? AND seq IN ({marks})"
                )))
                .bind(conv)
                .bind(user);
                for seq in chunk {
                    query = query.bind(*seq);
                }
                let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
                for row in &rows {
                    let seq: Seq = row.try_get(0).map_err(self.err())?;
                    let emoji = super::text_column(row, 1).map_err(self.err())?;
                    mine.push((conv, seq, emoji));
                }
            }
        }
        Ok(mine)
    }
}
