//! [`MessageStore`] on SQL: the group-commit write path and the reads of
//! conversation entries. The statements of the set-based path are spelled
//! in `batch.rs`; this module runs them.

use super::{AnyQuery, MESSAGE_SELECT, Shape, SqlStore, kind_code, message_from_row, sql};
use crate::batch::{self, Plan};
use crate::dialect::Backend;
use crate::{
    Appended, Committed, MarkRead, Mentions, MessageStore, NewMessage, Result, SeqRange, WriteBatch,
};
use async_trait::async_trait;
use magpie_proto::{ConvId, Message, Seq, UserId};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Most ranges or pairs in one OR-list statement: far below every engine's
/// placeholder limit, and small enough for their planners to use the
/// (conv_id, seq) and (user_id, conv_id) keys for each.
const PREDICATES_PER_STATEMENT: usize = 200;

/// The messages area's fixed queries, rendered for one engine.
#[derive(Debug)]
pub(super) struct Queries {
    find_cmid: Arc<str>,
    bump_seq: Arc<str>,
    read_last_seq: Arc<str>,
    insert_message: Arc<str>,
    messages_after: Arc<str>,
    messages_before: Arc<str>,
}

impl Queries {
    pub(super) fn new(b: Backend) -> Queries {
        Queries {
            find_cmid: b.render(
                "SELECT id, conv_id, seq, ts FROM messages WHERE sender_id = ? AND cmid = ?",
            ),
            bump_seq: b.render(
                "UPDATE conversations SET last_seq = last_seq + 1, last_ts = ? WHERE id = ? RETURNING last_seq",
            ),
            read_last_seq: b.render("SELECT last_seq FROM conversations WHERE id = ?"),
            insert_message: batch::insert_messages(b, 1),
            messages_after: b.render(&format!(
                "{MESSAGE_SELECT} WHERE m.conv_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"
            )),
            messages_before: b.render(&format!(
                "{MESSAGE_SELECT} WHERE m.conv_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?"
            )),
        }
    }
}

/// Bind one message row in the column order of every message insert:
/// conv_id, seq, sender_id, kind, cmid, body, ts, mentions, attachment.
fn bind_message<'q>(query: AnyQuery<'q>, msg: &'q NewMessage, seq: Seq) -> AnyQuery<'q> {
    query
        .bind(msg.conv)
        .bind(seq)
        .bind(msg.sender)
        .bind(kind_code(msg.kind))
        .bind(&msg.cmid)
        .bind(&msg.body)
        .bind(msg.ts)
        .bind(msg.mention.as_ref().map(Mentions::to_json))
        .bind(attachment_json(msg))
}

/// The `attachment` column of a message: its file as JSON, if it has one.
fn attachment_json(msg: &NewMessage) -> Option<String> {
    msg.file
        .as_ref()
        .and_then(|file| serde_json::to_string(file).ok())
}

/// The result for a message stored by the set-based path, whose id was
/// read back into `msg_ids`.
fn appended(
    msg: &NewMessage,
    seq: Seq,
    msg_ids: &HashMap<(ConvId, Seq), i64>,
) -> sqlx::Result<Appended> {
    let msg_id = *msg_ids
        .get(&(msg.conv, seq))
        .ok_or_else(|| sqlx::Error::Protocol("an inserted message has no id".into()))?;
    Ok(stored(msg, seq, msg_id))
}

/// The result for `msg`, newly stored at `seq` as row `msg_id`.
fn stored(msg: &NewMessage, seq: Seq, msg_id: i64) -> Appended {
    Appended {
        msg_id,
        conv: msg.conv,
        seq,
        ts: msg.ts,
        duplicate: false,
    }
}

impl SqlStore {
    /// A cached multi-row statement (see [`super::Shapes`]).
    fn shaped(&self, shape: Shape, a: usize, b: usize) -> Arc<str> {
        let backend = self.backend;
        self.shapes.get((shape, a, b), || match shape {
            Shape::SqliteAppend => batch::sqlite_append(a, b),
            Shape::LockConversations => batch::lock_conversations(backend, a),
            Shape::UpdateHeads => batch::update_conv_heads(backend, a),
            Shape::InsertMessages => batch::insert_messages(backend, a),
            Shape::InsertedIds => batch::inserted_ids(backend, a),
            Shape::UpdateReadMarks => batch::update_read_marks(backend, a),
            Shape::ReadMarks => batch::read_marks(backend, a),
            Shape::Ranges => batch::messages_in_ranges(backend, MESSAGE_SELECT, a),
            Shape::MemberVersions => batch::member_versions(backend, a),
        })
    }

    /// Store the messages of a batch the fast way (see `batch`): a fixed
    /// number of statements, whatever its size. Fails with a unique
    /// violation if a message repeats an earlier `(sender, cmid)`; the
    /// caller then rolls back and goes [`SqlStore::append_one_by_one`].
    async fn append_set(
        &self,
        conn: &mut AnyConnection,
        batch: &[NewMessage],
    ) -> sqlx::Result<Vec<Appended>> {
        if self.backend == Backend::Sqlite {
            let mut appended = Vec::with_capacity(batch.len());
            for chunk in batch.chunks(batch::ROWS_PER_STATEMENT) {
                appended.extend(self.append_sqlite_chunk(conn, chunk).await?);
            }
            return Ok(appended);
        }
        let b = self.backend;
        let plan = Plan::new(batch);
        // Lock in ascending id order, so concurrent batches on several nodes
        // cannot deadlock each other.
        let mut last_seqs: HashMap<ConvId, Seq> = HashMap::with_capacity(plan.convs.len());
        for chunk in plan.convs.chunks(batch::ROWS_PER_STATEMENT) {
            let text = self.shaped(Shape::LockConversations, chunk.len(), 0);
            let mut query = sqlx::query(sql(&text));
            for &(id, _, _) in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&mut *conn).await? {
                last_seqs.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
        let last = |conv: ConvId| {
            last_seqs.get(&conv).copied().ok_or_else(|| {
                sqlx::Error::Protocol("a conversation of the batch is missing".into())
            })
        };

        for chunk in plan.convs.chunks(batch::ROWS_PER_STATEMENT) {
            let text = self.shaped(Shape::UpdateHeads, chunk.len(), 0);
            let mut query = sqlx::query(sql(&text));
            for &(conv, n, ts) in chunk {
                query = query.bind(conv).bind(last(conv)? + n).bind(ts);
            }
            query.execute(&mut *conn).await?;
        }

        let mut rows: Vec<(&NewMessage, Seq)> = Vec::with_capacity(batch.len());
        for (msg, &k) in batch.iter().zip(&plan.positions) {
            rows.push((msg, last(msg.conv)? + k));
        }
        let mut msg_ids: HashMap<(ConvId, Seq), i64> = HashMap::with_capacity(batch.len());
        for chunk in rows.chunks(batch::ROWS_PER_STATEMENT) {
            let text = self.shaped(Shape::InsertMessages, chunk.len(), 0);
            let mut query = sqlx::query(sql(&text));
            for &(msg, seq) in chunk {
                query = bind_message(query, msg, seq);
            }
            if b.has_returning() {
                for row in query.fetch_all(&mut *conn).await? {
                    msg_ids.insert((row.try_get(1)?, row.try_get(2)?), row.try_get(0)?);
                }
            } else {
                query.execute(&mut *conn).await?;
            }
        }
        if !b.has_returning() {
            for chunk in plan.convs.chunks(batch::ROWS_PER_STATEMENT) {
                let text = self.shaped(Shape::InsertedIds, chunk.len(), 0);
                let mut query = sqlx::query(sql(&text));
                for &(conv, n, _) in chunk {
                    query = query.bind(conv).bind(last(conv)? + 1).bind(last(conv)? + n);
                }
                for row in query.fetch_all(&mut *conn).await? {
                    msg_ids.insert((row.try_get(1)?, row.try_get(2)?), row.try_get(0)?);
                }
            }
        }
        rows.iter()
            .map(|&(msg, seq)| appended(msg, seq, &msg_ids))
            .collect()
    }

    /// SQLite: store up to [`batch::ROWS_PER_STATEMENT`] messages in one
    /// multi-statement query (see [`batch::sqlite_append`]).
    async fn append_sqlite_chunk(
        &self,
        conn: &mut AnyConnection,
        batch: &[NewMessage],
    ) -> sqlx::Result<Vec<Appended>> {
        let plan = Plan::new(batch);
        let text = self.shaped(Shape::SqliteAppend, plan.convs.len(), batch.len());
        let mut query = sqlx::query(sql(&text));
        for &(conv, n, ts) in &plan.convs {
            query = query.bind(conv).bind(n).bind(ts);
        }
        for (i, (msg, &k)) in batch.iter().zip(&plan.positions).enumerate() {
            query = query
                .bind(i as i64)
                .bind(msg.conv)
                .bind(plan.count(msg.conv) - k)
                .bind(msg.sender)
                .bind(kind_code(msg.kind))
                .bind(&msg.cmid)
                .bind(&msg.body)
                .bind(msg.ts)
                .bind(msg.mention.as_ref().map(Mentions::to_json))
                .bind(attachment_json(msg));
        }
        let mut msg_ids: HashMap<(ConvId, Seq), i64> = HashMap::with_capacity(batch.len());
        // The first seq each conversation got in this chunk.
        let mut first: HashMap<ConvId, Seq> = HashMap::with_capacity(plan.convs.len());
        for row in query.fetch_all(&mut *conn).await? {
            let (id, conv, seq): (i64, ConvId, Seq) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            msg_ids.insert((conv, seq), id);
            let low = first.entry(conv).or_insert(seq);
            *low = (*low).min(seq);
        }
        batch
            .iter()
            .zip(&plan.positions)
            .map(|(msg, &k)| {
                let seq = first.get(&msg.conv).map_or(0, |f| f + k - 1);
                appended(msg, seq, &msg_ids)
            })
            .collect()
    }

    /// Store the messages of a batch one at a time, inside the batch
    /// transaction: the way for batches that repeat a cmid, because each
    /// repeat must be found and answered with its original.
    async fn append_one_by_one(
        &self,
        conn: &mut AnyConnection,
        batch: &[NewMessage],
    ) -> sqlx::Result<Vec<Appended>> {
        // Lock conversations in ascending id order (see `append_set`). The
        // sort is stable: one conversation's messages keep their order.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| batch[i].conv);
        let mut results: Vec<Option<Appended>> = vec![None; batch.len()];
        for i in order {
            results[i] = Some(self.append_one(conn, &batch[i]).await?);
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// Store one message inside the batch transaction; see
    /// [`MessageStore::commit_batch`].
    async fn append_one(
        &self,
        conn: &mut AnyConnection,
        msg: &NewMessage,
    ) -> sqlx::Result<Appended> {
        let q = &self.q.messages;
        if let Some(row) = sqlx::query(sql(&q.find_cmid))
            .bind(msg.sender)
            .bind(&msg.cmid)
            .fetch_optional(&mut *conn)
            .await?
        {
            return Ok(Appended {
                msg_id: row.try_get(0)?,
                conv: row.try_get(1)?,
                seq: row.try_get(2)?,
                ts: row.try_get(3)?,
                duplicate: true,
            });
        }
        let bump = sqlx::query(sql(&q.bump_seq)).bind(msg.ts).bind(msg.conv);
        let seq: i64 = if self.backend.has_returning() {
            bump.fetch_one(&mut *conn).await?.try_get(0)?
        } else {
            bump.execute(&mut *conn).await?;
            sqlx::query(sql(&q.read_last_seq))
                .bind(msg.conv)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?
        };
        let insert = bind_message(sqlx::query(sql(&q.insert_message)), msg, seq);
        let msg_id = self.insert_id(conn, insert).await?;
        Ok(stored(msg, seq, msg_id))
    }

    /// The last step of every batch, whichever way its messages went: move
    /// each sender's read mark to its own newest new message, and each read
    /// mark asked for, in one statement per chunk; then read back the marks
    /// asked for. Marks are updated in (user, conversation) order, so that
    /// concurrent batches on several nodes lock member rows in one order.
    async fn move_read_marks(
        &self,
        conn: &mut AnyConnection,
        messages: &[NewMessage],
        appended: &[Appended],
        reads: &[MarkRead],
    ) -> sqlx::Result<Vec<Option<Seq>>> {
        let mut marks: BTreeMap<(UserId, ConvId), Seq> = BTreeMap::new();
        let mut raise = |user: UserId, conv: ConvId, seq: Seq| {
            let mark = marks.entry((user, conv)).or_insert(seq);
            *mark = (*mark).max(seq);
        };
        for (msg, stored) in messages.iter().zip(appended) {
            if !stored.duplicate {
                raise(msg.sender, stored.conv, stored.seq);
            }
        }
        for read in reads {
            raise(read.user, read.conv, read.seq);
        }
        let marks: Vec<(UserId, ConvId, Seq)> =
            marks.into_iter().map(|((u, c), s)| (u, c, s)).collect();
        for chunk in marks.chunks(batch::ROWS_PER_STATEMENT) {
            let text = self.shaped(Shape::UpdateReadMarks, chunk.len(), 0);
            let mut query = sqlx::query(sql(&text));
            for &(user, conv, seq) in chunk {
                query = query.bind(user).bind(conv).bind(seq);
            }
            query.execute(&mut *conn).await?;
        }
        if reads.is_empty() {
            return Ok(Vec::new());
        }
        let mut asked: Vec<(UserId, ConvId)> = reads.iter().map(|r| (r.user, r.conv)).collect();
        asked.sort_unstable();
        asked.dedup();
        let mut found: HashMap<(UserId, ConvId), Seq> = HashMap::with_capacity(asked.len());
        for chunk in asked.chunks(PREDICATES_PER_STATEMENT) {
            let text = self.shaped(Shape::ReadMarks, chunk.len(), 0);
            let mut query = sqlx::query(sql(&text));
            for &(user, conv) in chunk {
                query = query.bind(user).bind(conv);
            }
            for row in query.fetch_all(&mut *conn).await? {
                found.insert((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?);
            }
        }
        Ok(reads
            .iter()
            .map(|r| found.get(&(r.user, r.conv)).copied())
            .collect())
    }

    /// Store a whole batch in the transaction `conn` is in.
    async fn write_batch(
        &self,
        conn: &mut AnyConnection,
        batch: &WriteBatch,
        set_based: bool,
    ) -> sqlx::Result<Committed> {
        let appended = if set_based {
            self.append_set(conn, &batch.messages).await?
        } else {
            self.append_one_by_one(conn, &batch.messages).await?
        };
        let reads = self
            .move_read_marks(conn, &batch.messages, &appended, &batch.reads)
            .await?;
        self.flag_mentions(conn, &batch.messages, &appended).await?;
        self.attach_files(conn, &batch.messages, &appended).await?;
        self.annotate(conn, &batch.messages, &appended).await?;
        let versions = self.member_versions(conn, &batch.versions).await?;
        Ok(Committed {
            appended,
            reads,
            versions,
        })
    }

    /// Move the mention flags of the batch's new messages that mention
    /// someone: each named member's `mention_seq`, or the conversation's
    /// `mention_all_seq`. A statement per such message: mentions are rare
    /// next to messages, and a batch without any pays nothing.
    async fn flag_mentions(
        &self,
        conn: &mut AnyConnection,
        messages: &[NewMessage],
        appended: &[Appended],
    ) -> sqlx::Result<()> {
        for (msg, stored) in messages.iter().zip(appended) {
            let Some(mention) = msg.mention.as_ref().filter(|_| !stored.duplicate) else {
                continue;
            };
            if mention.all {
                let text = self.backend.render(
                    "UPDATE conversations SET mention_all_seq = {greatest}(mention_all_seq, ?) \
                     WHERE id = ?",
                );
                sqlx::query(AssertSqlSafe(text))
                    .bind(stored.seq)
                    .bind(stored.conv)
                    .execute(&mut *conn)
                    .await?;
            }
            for chunk in mention.users.chunks(PREDICATES_PER_STATEMENT) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let text = self.backend.render(&format!(
                    "UPDATE members SET mention_seq = {{greatest}}(mention_seq, ?) \
                     WHERE conv_id = ? AND user_id IN ({marks})"
                ));
                let mut query = sqlx::query(AssertSqlSafe(text))
                    .bind(stored.seq)
                    .bind(stored.conv);
                for (user, _) in chunk {
                    query = query.bind(*user);
                }
                query.execute(&mut *conn).await?;
            }
        }
        Ok(())
    }

    /// Make the file row of each new message that carries a file (purpose
    /// message, at its conversation and seq) and count its reference to
    /// the content, in the batch's transaction. Both statements go through
    /// the blob row, so if the content was deleted since the send was
    /// checked (its last other reference dropped in that instant), neither
    /// writes: the message still describes the file, whose download then
    /// answers 404, and no count is left wrong.
    async fn attach_files(
        &self,
        conn: &mut AnyConnection,
        messages: &[NewMessage],
        appended: &[Appended],
    ) -> sqlx::Result<()> {
        for (msg, stored) in messages.iter().zip(appended) {
            let Some(file) = msg.file.as_ref().filter(|_| !stored.duplicate) else {
                continue;
            };
            let Some(sha256) = magpie_proto::from_hex(&file.sha256) else {
                continue;
            };
            let add = self
                .backend
                .render("UPDATE blobs SET refs = refs + 1 WHERE sha256 = ?");
            sqlx::query(AssertSqlSafe(add))
                .bind(sha256.clone())
                .execute(&mut *conn)
                .await?;
            let insert = self.backend.render(
                "INSERT INTO files (id, owner, sha256, name, purpose, conv_id, seq, created_at) \
                 SELECT ?, ?, sha256, ?, 2, ?, ?, ? FROM blobs WHERE sha256 = ?",
            );
            sqlx::query(AssertSqlSafe(insert))
                .bind(file.id.as_str())
                .bind(msg.sender)
                .bind(file.name.as_str())
                .bind(stored.conv)
                .bind(stored.seq)
                .bind(stored.ts)
                .bind(sha256)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Store the quote of each new reply (and its row in `replies`, by
    /// which a recall of the quoted entry finds it) and the mark or items
    /// of each forwarded message. Statements per such message only, like
    /// mentions: a batch of plain messages pays nothing.
    async fn annotate(
        &self,
        conn: &mut AnyConnection,
        messages: &[NewMessage],
        appended: &[Appended],
    ) -> sqlx::Result<()> {
        for (msg, stored) in messages.iter().zip(appended) {
            if stored.duplicate || (msg.reply.is_none() && msg.forward.is_none()) {
                continue;
            }
            let reply = msg
                .reply
                .as_ref()
                .and_then(|quote| serde_json::to_string(quote).ok());
            let forward = msg.forward.as_ref().and_then(|f| f.to_json());
            let set = self
                .backend
                .render("UPDATE messages SET reply = ?, forward = ? WHERE conv_id = ? AND seq = ?");
            sqlx::query(AssertSqlSafe(set))
                .bind(reply)
                .bind(forward)
                .bind(stored.conv)
                .bind(stored.seq)
                .execute(&mut *conn)
                .await?;
            if let Some(quote) = &msg.reply {
                let link = self
                    .backend
                    .render("INSERT INTO replies (conv_id, target_seq, seq) VALUES (?, ?, ?)");
                sqlx::query(AssertSqlSafe(link))
                    .bind(stored.conv)
                    .bind(quote.seq)
                    .bind(stored.seq)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// The membership version of each of `convs`, read inside the batch's
    /// transaction, after its conversations were locked (by the seq bump):
    /// no group change can slip between these messages and this read.
    async fn member_versions(
        &self,
        conn: &mut AnyConnection,
        convs: &[ConvId],
    ) -> sqlx::Result<Vec<(ConvId, Seq)>> {
        let mut convs = convs.to_vec();
        convs.sort_unstable();
        convs.dedup();
        let mut versions = Vec::with_capacity(convs.len());
        for chunk in convs.chunks(PREDICATES_PER_STATEMENT) {
            let text = self.shaped(Shape::MemberVersions, chunk.len(), 0);
            let mut query = sqlx::query(sql(&text));
            for conv in chunk {
                query = query.bind(*conv);
            }
            for row in query.fetch_all(&mut *conn).await? {
                versions.push((row.try_get(0)?, row.try_get(1)?));
            }
        }
        Ok(versions)
    }

    /// Run a page query of one conversation (`conv`, a seq bound, a limit).
    async fn fetch_messages(
        &self,
        query: &Arc<str>,
        conv: ConvId,
        seq: Seq,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(sql(query))
            .bind(conv)
            .bind(seq)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(message_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }
}

#[async_trait]
impl MessageStore for SqlStore {
    async fn commit_batch(&self, batch: &WriteBatch) -> Result<Committed> {
        if batch.messages.is_empty() && batch.reads.is_empty() {
            return Ok(Committed::default());
        }
        let err = self.err();
        let mut conn = self.write_conn().await?;
        // Before this batch, not after the last one: that one's acks
        // should not wait for it.
        self.restart_wal_if_due(&mut conn).await;
        // SQLite: synchronous=FULL makes each commit return after the WAL
        // is synced. PostgreSQL and MySQL: their default durable commit.
        if !batch::repeats_a_cmid(&batch.messages) {
            let mut tx = self.begin_write(&mut conn).await.map_err(&err)?;
            match self.write_batch(&mut tx, batch, true).await {
                Ok(committed) => {
                    tx.commit().await.map_err(&err)?;
                    return Ok(committed);
                }
                // A retried message: redo the batch one message at a time.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    tx.rollback().await.map_err(&err)?;
                }
                Err(e) => return Err(err(e)),
            }
        }
        let mut tx = self.begin_write(&mut conn).await.map_err(&err)?;
        let committed = self
            .write_batch(&mut tx, batch, false)
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        Ok(committed)
    }

    async fn messages_in(&self, ranges: &[SeqRange]) -> Result<Vec<Message>> {
        let mut ranges: Vec<SeqRange> = ranges
            .iter()
            .filter(|r| r.upto > r.after)
            .copied()
            .collect();
        ranges.sort_unstable_by_key(|r| (r.conv, r.after));
        let mut messages = Vec::new();
        for chunk in ranges.chunks(PREDICATES_PER_STATEMENT) {
            let text = self.shaped(Shape::Ranges, chunk.len(), 0);
            let mut query = sqlx::query(sql(&text));
            for r in chunk {
                query = query.bind(r.conv).bind(r.after).bind(r.upto);
            }
            let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
            for row in &rows {
                messages.push(message_from_row(row).map_err(self.err())?);
            }
        }
        Ok(messages)
    }

    async fn messages_after(&self, conv: ConvId, after: Seq, limit: u32) -> Result<Vec<Message>> {
        self.fetch_messages(&self.q.messages.messages_after, conv, after, limit)
            .await
    }

    async fn messages_before(&self, conv: ConvId, before: Seq, limit: u32) -> Result<Vec<Message>> {
        // The query takes the newest `limit` (descending); callers get them ascending.
        let mut messages = self
            .fetch_messages(&self.q.messages.messages_before, conv, before, limit)
            .await?;
        messages.reverse();
        Ok(messages)
    }
}
