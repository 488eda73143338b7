//! The set-based write path for a batch of messages.
//!
//! Storing a message one statement at a time costs four statements per
//! message (duplicate check, seq bump, insert, sender's read mark). Each is
//! a round trip: to the server for PostgreSQL and MySQL, and to sqlx's
//! worker thread for SQLite, where that hop, not SQLite itself, was most of
//! the cost. Here a whole batch takes a fixed number of statements:
//!
//! 1. lock the batch's conversations, in id order, and read their
//!    `last_seq` (`SELECT ... FOR UPDATE`);
//! 2. number the messages in memory ([`Plan`]);
//! 3. move every conversation's `last_seq` in one `UPDATE ... FROM` a table
//!    of values;
//! 4. insert every message in one multi-row `INSERT`.
//!
//! On SQLite, steps 3 and 4 go as one multi-statement query (no lock
//! step: the transaction holds the database's one write lock). Whichever
//! path stored the messages (this one, or one by one for a batch with a
//! retry in it), one shared last step moves every read mark the batch
//! touches, the senders' and those asked for by `read`, in one
//! `UPDATE ... FROM` ([`update_read_marks`]): a per-message side effect is
//! written in one place only.
//!
//! Duplicates are not looked up first: the insert's unique key on
//! `(sender_id, cmid)` finds them, and the caller then redoes that batch
//! the slow way, which answers each duplicate with its original. Retries
//! are rare, so the common batch pays nothing for them.
//!
//! This module only plans and spells the statements; `sql.rs` runs them.

use crate::NewMessage;
use crate::dialect::Backend;
use magpie_proto::{ConvId, Seq};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Most rows in one multi-row statement. The insert binds nine values per
/// row, so this stays far below every engine's limit on placeholders
/// (SQLite 32,766; PostgreSQL and MySQL 65,535).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Whether a message of the batch repeats the `(sender, cmid)` of an
/// earlier one in the same batch. Such a batch goes the slow way: the
/// repeat must be answered with the first one's result.
pub(crate) fn repeats_a_cmid(batch: &[NewMessage]) -> bool {
    let mut seen = HashSet::with_capacity(batch.len());
    batch
        .iter()
        .any(|m| !seen.insert((m.sender, m.cmid.as_str())))
}

/// What a batch will write, worked out in memory. Positions are relative:
/// the k-th message of a conversation in the batch (from 1) gets seq
/// `last_seq + k`, whatever `last_seq` turns out to be when the batch holds
/// the conversation's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The position of each message within its conversation, in batch order.
    pub positions: Vec<Seq>,
    /// Per conversation, ascending by id: how many messages it gets and the
    /// newest of their timestamps (its new `last_ts`).
    pub convs: Vec<(ConvId, Seq, i64)>,
}

impl Plan {
    /// Plan `batch`. Messages of one conversation keep their batch order.
    pub fn new(batch: &[NewMessage]) -> Plan {
        let mut counts: BTreeMap<ConvId, (Seq, i64)> = BTreeMap::new();
        let mut positions = Vec::with_capacity(batch.len());
        for msg in batch {
            let count = counts.entry(msg.conv).or_insert((0, i64::MIN));
            count.0 += 1;
            count.1 = count.1.max(msg.ts);
            positions.push(count.0);
        }
        Plan {
            positions,
            convs: counts.into_iter().map(|(c, (n, ts))| (c, n, ts)).collect(),
        }
    }

    /// How many messages conversation `conv` gets (0 if none).
    pub fn count(&self, conv: ConvId) -> Seq {
        self.convs
            .binary_search_by_key(&conv, |&(c, _, _)| c)
            .map_or(0, |at| self.convs[at].1)
    }
}

/// `n` placeholders separated by commas.
fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// A derived table `v` of `rows` rows of `cols` bound values, its columns
/// named `column1`, `column2`, ... (the names PostgreSQL and SQLite give a
/// `VALUES` list; MySQL spells the same table as a `UNION ALL`, which
/// MariaDB and every MySQL version accept).
fn values_table(backend: Backend, rows: usize, cols: usize) -> String {
    let row = format!("({})", placeholders(cols));
    match backend {
        Backend::Sqlite | Backend::Postgres => {
            format!("(VALUES {}) AS v", vec![row; rows].join(", "))
        }
        Backend::MySql => {
            let first: Vec<String> = (1..=cols).map(|c| format!("? AS column{c}")).collect();
            let mut s = format!("(SELECT {}", first.join(", "));
            for _ in 1..rows {
                s.push_str(" UNION ALL SELECT ");
                s.push_str(&placeholders(cols));
            }
            s.push_str(") AS v");
            s
        }
    }
}

/// `UPDATE table SET set FROM v WHERE on`, in each engine's spelling of a
/// join in an UPDATE.
fn update_from_values(
    backend: Backend,
    table: &str,
    set: &str,
    on: &str,
    rows: usize,
    cols: usize,
) -> Arc<str> {
    let values = values_table(backend, rows, cols);
    let sql = match backend {
        Backend::Sqlite | Backend::Postgres => {
            format!("UPDATE {table} SET {set} FROM {values} WHERE {on}")
        }
        Backend::MySql => format!("UPDATE {table} JOIN {values} ON {on} SET {set}"),
    };
    backend.render(&sql)
}

/// Step 1: lock `n` conversations in id order and read their `last_seq`.
/// Binds: the ids, ascending. (SQLite needs no row lock: the batch holds
/// the database's one write lock.)
pub(crate) fn lock_conversations(backend: Backend, n: usize) -> Arc<str> {
    backend.render(&format!(
        "SELECT id, last_seq FROM conversations WHERE id IN ({}) ORDER BY id{{for_update}}",
        placeholders(n)
    ))
}

/// Step 3: set `n` conversations' heads. Binds per row: id, last_seq, last_ts.
pub(crate) fn update_conv_heads(backend: Backend, n: usize) -> Arc<str> {
    update_from_values(
        backend,
        "conversations",
        "last_seq = v.column2, last_ts = v.column3",
        "conversations.id = v.column1",
        n,
        3,
    )
}

/// Step 4: insert `n` messages. Binds per row: conv_id, seq, sender_id,
/// kind, cmid, body, ts, mentions, attachment. Returns (id, conv_id, seq) per row where the engine has
/// `RETURNING` (in no promised order); MySQL reads them back with
/// [`inserted_ids`].
pub(crate) fn insert_messages(backend: Backend, n: usize) -> Arc<str> {
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    backend.render(&format!(
        "INSERT INTO messages (conv_id, seq, sender_id, kind, cmid, body, ts, mentions, attachment) VALUES {} \
         RETURNING id, conv_id, seq",
        vec![row; n].join(", ")
    ))
}

/// For engines without `RETURNING`: (id, conv_id, seq) of the messages
/// just inserted into `n` conversations. Binds per conversation: id, first
/// seq, last seq.
pub(crate) fn inserted_ids(backend: Backend, n: usize) -> Arc<str> {
    let ranges = vec!["(conv_id = ? AND seq BETWEEN ? AND ?)"; n].join(" OR ");
    backend.render(&format!(
        "SELECT id, conv_id, seq FROM messages WHERE {ranges}"
    ))
}

/// The last step of every batch: move `n` read marks forward, each clamped
/// to its conversation's newest seq. Binds per row: user_id, conv_id,
/// read_seq.
pub(crate) fn update_read_marks(backend: Backend, n: usize) -> Arc<str> {
    update_from_values(
        backend,
        "members",
        "read_seq = {greatest}(read_seq, {least}(v.column3, \
         (SELECT last_seq FROM conversations WHERE conversations.id = members.conv_id)))",
        "members.user_id = v.column1 AND members.conv_id = v.column2",
        n,
        3,
    )
}

/// The read marks of `n` (user, conversation) pairs, as (user_id,
/// conv_id, read_seq). Binds per pair: user_id, conv_id.
pub(crate) fn read_marks(backend: Backend, n: usize) -> Arc<str> {
    let pairs = vec!["(user_id = ? AND conv_id = ?)"; n].join(" OR ");
    backend.render(&format!(
        "SELECT user_id, conv_id, read_seq FROM members WHERE {pairs}"
    ))
}

/// The membership versions of `n` conversations, as (id, members_seq).
/// Binds: the ids.
pub(crate) fn member_versions(backend: Backend, n: usize) -> Arc<str> {
    backend.render(&format!(
        "SELECT id, members_seq FROM conversations WHERE id IN ({})",
        placeholders(n)
    ))
}

/// The entries of `n` seq ranges, ascending by (conversation, seq), in the
/// column order of `select` (the message SELECT). Binds per range: conv_id,
/// after, upto.
pub(crate) fn messages_in_ranges(backend: Backend, select: &str, n: usize) -> Arc<str> {
    let ranges = vec!["(m.conv_id = ? AND m.seq > ? AND m.seq <= ?)"; n].join(" OR ");
    backend.render(&format!(
        "{select} WHERE {ranges} ORDER BY m.conv_id, m.seq"
    ))
}

/// SQLite: steps 3 and 4 of a chunk as one multi-statement query, so it
/// costs one trip to sqlx's worker thread instead of one per step. SQLite
/// needs no locking step (the transaction holds the database's one write
/// lock), and seqs are worked out in SQL from the bumped `last_seq`: the
/// message at position k of n in its conversation gets `last_seq - (n - k)`.
///
/// Binds, in order: per conversation (id, n, last_ts); per message (batch
/// index, conv_id, n - k, sender_id, kind, cmid, body, ts, mentions,
/// attachment).
/// Returns
/// (id, conv_id, seq) per message, in no promised order.
pub(crate) fn sqlite_append(convs: usize, messages: usize) -> Arc<str> {
    let b = Backend::Sqlite;
    format!(
        "UPDATE conversations SET last_seq = last_seq + v.column2, last_ts = v.column3 \
         FROM {} WHERE conversations.id = v.column1; \
         INSERT INTO messages (conv_id, seq, sender_id, kind, cmid, body, ts, mentions, attachment) \
         SELECT v.column2, c.last_seq - v.column3, v.column4, v.column5, v.column6, v.column7, \
                v.column8, v.column9, v.column10 \
         FROM {} JOIN conversations c ON c.id = v.column2 ORDER BY v.column1 \
         RETURNING id, conv_id, seq",
        values_table(b, convs, 3),
        values_table(b, messages, 10),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    use magpie_proto::{MessageKind, UserId};

    fn msg(sender: UserId, cmid: &str, ts: i64) -> NewMessage {
        msg_in(0, sender, cmid, ts)
    }

    fn msg_in(conv: ConvId, sender: UserId, cmid: &str, ts: i64) -> NewMessage {
        NewMessage {
            file: None,
            conv,
            sender,
            kind: MessageKind::Text,
            cmid: cmid.into(),
            body: String::new(),
            ts,
            mention: None,
            ..NewMessage::default()
        }
    }

    #[test]
    fn repeated_cmids_are_per_sender() {
        let cases: &[(&[(UserId, &str)], bool)] = &[
            (&[], false),
            (&[(1, "a"), (1, "b"), (2, "a")], false),
            (&[(1, "a"), (2, "b"), (1, "a")], true),
            (&[(1, "a"), (1, "A"), (1, "a ")], false),
        ];
        for (messages, want) in cases {
            let batch: Vec<NewMessage> = messages.iter().map(|&(s, c)| msg(s, c, 0)).collect();
            assert_eq!(repeats_a_cmid(&batch), *want, "{messages:?}");
        }
    }

    #[test]
    fn plan_numbers_each_conversation_in_batch_order() {
        // Users 1 and 2 talk in conversation 10; 1 and 3 in 20.
        let batch = [
            msg_in(10, 1, "a", 100),
            msg_in(20, 1, "b", 101),
            msg_in(10, 2, "c", 102),
            msg_in(10, 1, "d", 103),
            msg_in(10, 2, "e", 99),
        ];
        let plan = Plan::new(&batch);
        assert_eq!(plan.positions, [1, 1, 2, 3, 4]);
        assert_eq!(
            plan.convs,
            [(10, 4, 103), (20, 1, 101)],
            "last_ts is the newest ts, even if it came earlier"
        );
        assert_eq!((plan.count(10), plan.count(20), plan.count(30)), (4, 1, 0));
    }

    #[test]
    fn sqlite_append_binds_what_its_callers_bind() {
        let text = sqlite_append(2, 5);
        assert_eq!(text.matches('?').count(), 2 * 3 + 5 * 10);
        assert_eq!(text.matches("; ").count(), 1, "two statements");
    }

    #[test]
    fn statements_per_engine() {
        let cases: &[(Backend, Arc<str>, &str)] = &[
            (
                Backend::Sqlite,
                lock_conversations(Backend::Sqlite, 2),
                "SELECT id, last_seq FROM conversations WHERE id IN (?, ?) ORDER BY id",
            ),
            (
                Backend::Postgres,
                lock_conversations(Backend::Postgres, 2),
                "SELECT id, last_seq FROM conversations WHERE id IN ($1, $2) ORDER BY id FOR UPDATE",
            ),
            (
                Backend::Sqlite,
                update_conv_heads(Backend::Sqlite, 2),
                "UPDATE conversations SET last_seq = v.column2, last_ts = v.column3 \
                 FROM (VALUES (?, ?, ?), (?, ?, ?)) AS v WHERE conversations.id = v.column1",
            ),
            (
                Backend::Postgres,
                update_read_marks(Backend::Postgres, 1),
                "UPDATE members SET read_seq = GREATEST(read_seq, LEAST(v.column3, \
                 (SELECT last_seq FROM conversations WHERE conversations.id = members.conv_id))) \
                 FROM (VALUES ($1, $2, $3)) AS v \
                 WHERE members.user_id = v.column1 AND members.conv_id = v.column2",
            ),
            (
                Backend::MySql,
                update_conv_heads(Backend::MySql, 2),
                "UPDATE conversations JOIN (SELECT ? AS column1, ? AS column2, ? AS column3 \
                 UNION ALL SELECT ?, ?, ?) AS v ON conversations.id = v.column1 \
                 SET last_seq = v.column2, last_ts = v.column3",
            ),
            (
                Backend::Sqlite,
                insert_messages(Backend::Sqlite, 2),
                "INSERT INTO messages (conv_id, seq, sender_id, kind, cmid, body, ts, mentions, attachment) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, conv_id, seq",
            ),
            (
                Backend::MySql,
                insert_messages(Backend::MySql, 1),
                "INSERT INTO messages (conv_id, seq, sender_id, kind, cmid, body, ts, mentions, attachment) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            (
                Backend::MySql,
                inserted_ids(Backend::MySql, 2),
                "SELECT id, conv_id, seq FROM messages \
                 WHERE (conv_id = ? AND seq BETWEEN ? AND ?) OR (conv_id = ? AND seq BETWEEN ? AND ?)",
            ),
        ];
        for (backend, got, want) in cases {
            assert_eq!(&**got, *want, "{backend:?}");
        }
    }
}
