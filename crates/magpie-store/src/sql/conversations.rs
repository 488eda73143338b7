//! [`ConversationStore`] on SQL: conversations, members, the list.

use super::{SqlStore, kind_from_code, sql};
use crate::dialect::Backend;
use crate::{ConvSummary, ConversationStore, Position, Result};
use async_trait::async_trait;
use magpie_proto::limits::EXCERPT_CHARS;
use magpie_proto::{
    ConvCursor, ConvId, ConvKind, LastMessage, MessageKind, ReadCount, Reader, Seq, UserId,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Direct (1:1) conversation kind in the `conversations.kind` column.
const KIND_DIRECT: i64 = 1;

/// The conversations area's queries, rendered for one engine.
#[derive(Debug)]
pub(super) struct Queries {
    conv_by_pair: Arc<str>,
    create_conv: Arc<str>,
    add_member: Arc<str>,
    is_member: Arc<str>,
    joined_seq: Arc<str>,
    read_by: Arc<str>,
    unread_by: Arc<str>,
    members: Arc<str>,
    positions: Arc<str>,
    list_first: Arc<str>,
    list_after: Arc<str>,
}

/// The conversation list's SELECT, in [`summary_from_row`] order. The
/// body is cut in SQL, one character past the excerpt so that a longer
/// body shows as truncated, and never read whole. The last message is the
/// newest entry that is not quiet (recall, edit, reaction: kinds 7-9):
/// the head unless the head is quiet (`quiet_seq`, the newest quiet
/// entry, is the head), else found by walking back from it. The quiet
/// entries after the read mark are counted from their own table, which
/// only they are in, and only when the newest one is after the mark: a
/// conversation without amending entries pays nothing for them. The
/// member's own settings (migration 0014) come with the row; a row the
/// member hid is left out while that last message is at or before the seq
/// it was hidden at.
const LIST_SELECT: &str = "SELECT c.id, c.kind, peer.username, c.last_seq, mem.read_seq, c.last_ts, \
            m.id, m.seq, m.kind, s.username, SUBSTR(m.body, 1, {excerpt}), m.ts, g.name, g.avatar, \
            CASE WHEN mem.mention_seq > mem.read_seq \
                   OR (c.mention_all_seq > mem.read_seq AND c.mention_all_seq > mem.joined_seq) \
                 THEN 1 ELSE 0 END, \
            CASE WHEN c.quiet_seq <= mem.read_seq THEN 0 ELSE \
              (SELECT COUNT(*) FROM quiet_entries qe WHERE qe.conv_id = c.id AND qe.seq > mem.read_seq) \
            END, \
            m.recalled, mem.pinned, mem.notify_muted_until, mem.marked_unread, mem.draft \
     FROM members mem \
     JOIN conversations c ON c.id = mem.conv_id \
     LEFT JOIN users peer ON c.kind = 1 \
          AND peer.id = CASE WHEN c.user_a = mem.user_id THEN c.user_b ELSE c.user_a END \
     LEFT JOIN chat_groups g ON c.kind = 2 AND g.conv_id = c.id \
     LEFT JOIN messages m ON m.conv_id = c.id AND m.seq = \
          CASE WHEN c.quiet_seq < c.last_seq THEN c.last_seq ELSE \
            (SELECT q.seq FROM messages q WHERE q.conv_id = c.id AND q.kind NOT IN (7, 8, 9) \
             ORDER BY q.seq DESC LIMIT 1) \
          END \
     LEFT JOIN users s ON s.id = m.sender_id \
     WHERE mem.user_id = ? AND c.last_seq > mem.joined_seq \
       AND (mem.hidden_seq = 0 OR m.seq > mem.hidden_seq)";

/// Members who could see entry `seq` and whose read mark compares with it
/// by `{cmp}`. Binds: conv, the sender (left out), seq, seq, after, limit.
const READERS: &str = "SELECT m.user_id, u.username, m.read_seq \
     FROM members m JOIN users u ON u.id = m.user_id \
     WHERE m.conv_id = ? AND m.user_id <> ? AND m.joined_seq < ? AND m.read_seq {cmp} ? \
       AND m.user_id > ? ORDER BY m.user_id LIMIT ?";

impl Queries {
    pub(super) fn new(b: Backend) -> Queries {
        let list = LIST_SELECT.replace("{excerpt}", &(EXCERPT_CHARS + 1).to_string());
        let order = "ORDER BY mem.pinned DESC, c.last_ts DESC, c.id DESC LIMIT ?";
        Queries {
            conv_by_pair: b.render("SELECT id FROM conversations WHERE user_a = ? AND user_b = ?"),
            create_conv: b.render(
                "{insert_ignore} conversations (kind, user_a, user_b, last_seq, last_ts, created_at) \
                 VALUES (?, ?, ?, 0, ?, ?){on_conflict}",
            ),
            add_member: b.render(
                "{insert_ignore} members (user_id, conv_id, read_seq, joined_seq) \
                 VALUES (?, ?, 0, 0){on_conflict}",
            ),
            is_member: b.render("SELECT conv_id FROM members WHERE user_id = ? AND conv_id = ?"),
            joined_seq: b.render(
                "SELECT joined_seq FROM members WHERE user_id = ? AND conv_id = ?",
            ),
            read_by: b.render(&READERS.replace("{cmp}", ">=")),
            unread_by: b.render(&READERS.replace("{cmp}", "<")),
            members: b.render("SELECT user_id FROM members WHERE conv_id = ? ORDER BY user_id"),
            positions: b.render(
                "SELECT c.id, c.last_seq, mem.joined_seq \
                 FROM members mem JOIN conversations c ON c.id = mem.conv_id \
                 WHERE mem.user_id = ? ORDER BY c.id",
            ),
            list_first: b.render(&format!("{list} {order}")),
            list_after: b.render(&format!(
                "{list} AND (mem.pinned < ? OR (mem.pinned = ? \
                 AND (c.last_ts < ? OR (c.last_ts = ? AND c.id < ?)))) {order}"
            )),
        }
    }
}

/// User pair → 1:1 conversation id. Conversations are never deleted or
/// renumbered, so an id once seen stays right, also across nodes; caching
/// it saves a query per message sent by username.
#[derive(Debug, Default)]
pub(super) struct PairCache {
    map: Mutex<HashMap<(UserId, UserId), ConvId>>,
}

/// Bound on cached pairs; the cache is simply cleared when full.
const PAIR_CACHE_MAX: usize = 1_000_000;

impl PairCache {
    fn get(&self, pair: (UserId, UserId)) -> Option<ConvId> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&pair)
            .copied()
    }

    fn insert(&self, pair: (UserId, UserId), conv: ConvId) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= PAIR_CACHE_MAX {
            map.clear();
        }
        map.insert(pair, conv);
    }
}

fn ordered(a: UserId, b: UserId) -> (UserId, UserId) {
    if a < b { (a, b) } else { (b, a) }
}

impl SqlStore {
    /// Insert a 1:1 conversation and its two members, tolerating another
    /// node doing the same at the same moment.
    async fn create_direct(
        &self,
        conn: &mut AnyConnection,
        lo: UserId,
        hi: UserId,
        now: i64,
    ) -> sqlx::Result<ConvId> {
        let q = &self.q.conversations;
        sqlx::query(sql(&q.create_conv))
            .bind(KIND_DIRECT)
            .bind(lo)
            .bind(hi)
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        let id: i64 = sqlx::query(sql(&q.conv_by_pair))
            .bind(lo)
            .bind(hi)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        for user in [lo, hi] {
            sqlx::query(sql(&q.add_member))
                .bind(user)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(id)
    }
}

/// A conversation-list row.
fn summary_from_row(row: &AnyRow) -> sqlx::Result<ConvSummary> {
    let kind = match row.try_get::<i64, _>(1)? {
        KIND_DIRECT => ConvKind::Direct,
        super::groups::KIND_GROUP => ConvKind::Group,
        other => {
            return Err(sqlx::Error::Decode(
                format!("unknown conversation kind {other}").into(),
            ));
        }
    };
    let last = match row.try_get::<Option<i64>, _>(6)? {
        None => None,
        Some(msg_id) => {
            let body: String = row.try_get(10)?;
            let kind = kind_from_code(row.try_get(8)?)?;
            let (excerpt, truncated) = match body.char_indices().nth(EXCERPT_CHARS) {
                // An event's body is its JSON, not text to show.
                _ if kind == MessageKind::Event => (String::new(), false),
                Some((cut, _)) => (body[..cut].to_string(), true),
                None => (body, false),
            };
            Some(LastMessage {
                msg_id,
                seq: row.try_get(7)?,
                kind,
                from: row.try_get(9)?,
                excerpt,
                truncated,
                ts: row.try_get(11)?,
                recalled: super::opt_text_column(row, 16)?.is_some(),
            })
        }
    };
    Ok(ConvSummary {
        conv: row.try_get(0)?,
        kind,
        peer: row.try_get(2)?,
        name: row.try_get(12)?,
        avatar: row.try_get(13)?,
        mentioned: row.try_get::<i64, _>(14)? != 0,
        last_seq: row.try_get(3)?,
        read_seq: row.try_get(4)?,
        quiet_unread: row.try_get(15)?,
        active_ts: row.try_get(5)?,
        last,
        pinned: row.try_get::<i64, _>(17)? != 0,
        muted_until: row.try_get(18)?,
        marked_unread: row.try_get::<i64, _>(19)? != 0,
        draft: super::opt_text_column(row, 20)?.unwrap_or_default(),
    })
}

#[async_trait]
impl ConversationStore for SqlStore {
    async fn open_direct(&self, a: UserId, b: UserId, now: i64) -> Result<ConvId> {
        let pair = ordered(a, b);
        if let Some(conv) = self.direct.get(pair) {
            return Ok(conv);
        }
        let conv = match self.direct_conv(a, b).await? {
            Some(conv) => conv,
            None => {
                // Conversation and members appear together or not at all,
                // in a transaction of their own: created inside a message
                // batch, concurrent batches deadlocked on MySQL's unique key.
                let mut conn = self.write_conn().await?;
                let mut tx = self.begin_write(&mut conn).await.map_err(self.err())?;
                let conv = self
                    .create_direct(&mut tx, pair.0, pair.1, now)
                    .await
                    .map_err(self.err())?;
                tx.commit().await.map_err(self.err())?;
                conv
            }
        };
        self.direct.insert(pair, conv);
        Ok(conv)
    }

    async fn direct_conv(&self, a: UserId, b: UserId) -> Result<Option<ConvId>> {
        let (lo, hi) = ordered(a, b);
        let row = sqlx::query(sql(&self.q.conversations.conv_by_pair))
            .bind(lo)
            .bind(hi)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| r.try_get(0)).transpose().map_err(self.err())
    }

    async fn is_member(&self, user: UserId, conv: ConvId) -> Result<bool> {
        let row = sqlx::query(sql(&self.q.conversations.is_member))
            .bind(user)
            .bind(conv)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        Ok(row.is_some())
    }

    async fn joined_seq(&self, user: UserId, conv: ConvId) -> Result<Option<Seq>> {
        let row = sqlx::query(sql(&self.q.conversations.joined_seq))
            .bind(user)
            .bind(conv)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| r.try_get(0)).transpose().map_err(self.err())
    }

    async fn read_counts(
        &self,
        conv: ConvId,
        sender: UserId,
        seqs: &[Seq],
    ) -> Result<Vec<ReadCount>> {
        let mut seqs = seqs.to_vec();
        seqs.sort_unstable();
        seqs.dedup();
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; seqs.len()].join(", ");
        let own = self.backend.render(&format!(
            "SELECT seq FROM messages WHERE conv_id = ? AND sender_id = ? AND kind <> {event} \
             AND seq IN ({marks}) ORDER BY seq",
            event = super::kind_code(MessageKind::Event)
        ));
        let mut query = sqlx::query(AssertSqlSafe(own)).bind(conv).bind(sender);
        for seq in &seqs {
            query = query.bind(*seq);
        }
        let own: Vec<Seq> = query
            .fetch_all(&self.readers)
            .await
            .and_then(|rows| rows.iter().map(|r| r.try_get(0)).collect())
            .map_err(self.err())?;
        if own.is_empty() {
            return Ok(Vec::new());
        }
        // Receipts are for what the sender wrote, not for group events
        // the server wrote in their name. COUNT, not SUM: SUM is a DECIMAL
        // on MySQL.
        let columns: Vec<&str> = own
            .iter()
            .map(|_| {
                "COUNT(CASE WHEN joined_seq < ? AND read_seq >= ? THEN 1 END), \
                 COUNT(CASE WHEN joined_seq < ? AND read_seq < ? THEN 1 END)"
            })
            .collect();
        let counts = self.backend.render(&format!(
            "SELECT {} FROM members WHERE conv_id = ? AND user_id <> ?",
            columns.join(", ")
        ));
        let mut query = sqlx::query(AssertSqlSafe(counts));
        for seq in &own {
            query = query.bind(*seq).bind(*seq).bind(*seq).bind(*seq);
        }
        let row = query
            .bind(conv)
            .bind(sender)
            .fetch_one(&self.readers)
            .await
            .map_err(self.err())?;
        own.iter()
            .enumerate()
            .map(|(i, &seq)| {
                Ok(ReadCount {
                    seq,
                    read: row.try_get(2 * i)?,
                    unread: row.try_get(2 * i + 1)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn readers(
        &self,
        conv: ConvId,
        sender: UserId,
        seq: Seq,
        unread: bool,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<Reader>> {
        let q = &self.q.conversations;
        let text = if unread { &q.unread_by } else { &q.read_by };
        let rows = sqlx::query(sql(text))
            .bind(conv)
            .bind(sender)
            .bind(seq)
            .bind(seq)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| {
                Ok(Reader {
                    user_id: r.try_get(0)?,
                    user: r.try_get(1)?,
                    read_seq: r.try_get(2)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn members(&self, conv: ConvId) -> Result<Vec<UserId>> {
        let rows = sqlx::query(sql(&self.q.conversations.members))
            .bind(conv)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn positions(&self, user: UserId) -> Result<Vec<Position>> {
        let rows = sqlx::query(sql(&self.q.conversations.positions))
            .bind(user)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| {
                Ok(Position {
                    conv: r.try_get(0)?,
                    last_seq: r.try_get(1)?,
                    joined_seq: r.try_get(2)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn conversations(
        &self,
        user: UserId,
        after: Option<ConvCursor>,
        limit: u32,
    ) -> Result<Vec<ConvSummary>> {
        let q = &self.q.conversations;
        let query = match after {
            None => sqlx::query(sql(&q.list_first)).bind(user),
            Some(cursor) => sqlx::query(sql(&q.list_after))
                .bind(user)
                .bind(i64::from(cursor.pinned))
                .bind(i64::from(cursor.pinned))
                .bind(cursor.active_ts)
                .bind(cursor.active_ts)
                .bind(cursor.conv),
        };
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(summary_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }
}
