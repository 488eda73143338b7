//! [`SearchStore`] on SQL: the indexer's steps and the query, written
//! once for the three engines (see [`crate::search`] for the layout).
//!
//! The index tables live in `search_writer`/`search_readers`: on SQLite a
//! database file of its own (`<name>-search.db`, synced lazily: it can be
//! rebuilt from the messages), on PostgreSQL and MySQL the main pool.
//! Messages and members are read from the main readers; no statement joins
//! the two, so the split costs nothing.

use super::{SqlStore, kind_from_code, opt_text_column, text_column};
use crate::dialect::Backend;
use crate::search::text;
use crate::search::{
    GAP_GRACE_MS, IndexCursor, IndexState, IndexStep, LEASE_MS, SearchPage, SearchRequest,
    SearchStore, is_searchable, searchable_text,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use magpie_proto::{ConvId, SearchHit, Seq};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Executor, Row};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Conversations scanned by one statement (one `UNION ALL` arm each).
const CONVS_PER_STATEMENT: usize = 50;
/// The largest window of postings read per conversation in one round.
const WINDOW_MAX: usize = 400;
/// Candidates checked against their messages per statement.
const VERIFY_CHUNK: usize = 100;
/// Rows per multi-row insert into the index.
const INSERT_CHUNK: usize = 300;
/// Ids per `IN` list.
const IN_CHUNK: usize = 500;

/// The entry kinds an indexer step reads the target of: messages (their
/// own row), recalls and edits (the row they act on).
const INDEXED_KINDS: &str = "1, 3, 4, 5, 6, 7, 8, 10";

/// The columns of a message a hit is made from, in [`Candidate::from_row`]
/// order.
const HIT_COLUMNS: &str = "t.id, t.conv_id, t.seq, t.kind, s.username, t.body, t.ts, \
     t.attachment, t.forward, t.edited_ts, t.sender_id";

/// A message as read for checking against a query.
struct Candidate {
    id: i64,
    conv: ConvId,
    seq: Seq,
    kind: i64,
    from: String,
    body: String,
    ts: i64,
    attachment: Option<String>,
    forward: Option<String>,
    edited: bool,
    sender: i64,
}

impl Candidate {
    fn from_row(row: &AnyRow) -> sqlx::Result<Candidate> {
        Ok(Candidate {
            id: row.try_get(0)?,
            conv: row.try_get(1)?,
            seq: row.try_get(2)?,
            kind: row.try_get(3)?,
            from: text_column(row, 4)?,
            body: text_column(row, 5)?,
            ts: row.try_get(6)?,
            attachment: opt_text_column(row, 7)?,
            forward: opt_text_column(row, 8)?,
            edited: row.try_get::<Option<i64>, _>(9)?.is_some(),
            sender: row.try_get(10)?,
        })
    }

    /// The hit this message makes for `req`, if it is one: visible (seq
    /// after the caller's join), within the filters, searchable, and
    /// holding every piece of the query.
    fn hit(&self, req: &SearchRequest<'_>, joined: &HashMap<ConvId, Seq>) -> Option<SearchHit> {
        let kind = kind_from_code(self.kind).ok()?;
        let visible = joined.get(&self.conv).is_some_and(|&j| self.seq > j);
        if !visible
            || !is_searchable(kind)
            || req.before.is_some_and(|b| self.id >= b)
            || req.from.is_some_and(|f| f != self.sender)
            || req.after_ts.is_some_and(|t| self.ts < t)
            || req.before_ts.is_some_and(|t| self.ts >= t)
        {
            return None;
        }
        let text = searchable_text(
            &self.body,
            self.attachment.as_deref(),
            self.forward.as_deref(),
        );
        let folded = text::fold(&text);
        let found = req.query.find(&folded)?;
        let (excerpt, highlights) = text::excerpt(&text, &folded, &found, req.limits.excerpt_chars);
        Some(SearchHit {
            msg_id: self.id,
            conv: self.conv,
            seq: self.seq,
            from: self.from.clone(),
            ts: self.ts,
            kind,
            excerpt,
            highlights,
            edited: self.edited,
        })
    }
}

/// The terms of a message as stored in `search_docs.terms`: 8 bytes each,
/// little-endian.
fn encode_terms(terms: &[i64]) -> Vec<u8> {
    terms.iter().flat_map(|t| t.to_le_bytes()).collect()
}

fn decode_terms(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            i64::from_le_bytes(b)
        })
        .collect()
}

/// `?, ?, ...` for `n` values.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// One message to (re)index: its conversation and current terms (empty
/// when it was recalled or has no text).
struct Doc {
    msg: i64,
    conv: ConvId,
    terms: Vec<i64>,
}

/// What an indexer step read: the entries after the cursor (and any
/// earlier holes now filled), and the rows they concern as they are now.
struct Work {
    /// Every entry id read.
    seen: Vec<i64>,
    /// The messages concerned, by id (last read wins: all were read in
    /// one statement or two, so they agree).
    docs: BTreeMap<i64, Doc>,
}

/// The message an indexer entry concerns, as it is now.
struct Target {
    msg: i64,
    conv: ConvId,
    kind: i64,
    body: String,
    attachment: Option<String>,
    forward: Option<String>,
    recalled: bool,
}

/// A row of the indexer's read: the entry, and the message it concerns
/// (none for events, reactions and targets that do not exist).
struct EntryRow {
    id: i64,
    target: Option<Target>,
}

fn entry_row(row: &AnyRow) -> sqlx::Result<EntryRow> {
    let id: i64 = row.try_get(0)?;
    let target_id: Option<i64> = row.try_get(1)?;
    let target = match target_id {
        None => None,
        Some(msg) => Some(Target {
            msg,
            conv: row.try_get(2)?,
            kind: row.try_get(3)?,
            body: text_column(row, 4)?,
            attachment: opt_text_column(row, 5)?,
            forward: opt_text_column(row, 6)?,
            recalled: row.try_get::<i64, _>(7)? != 0,
        }),
    };
    Ok(EntryRow { id, target })
}

impl SqlStore {
    /// The caller's conversations and where they joined each.
    async fn joined_convs(&self, user: i64, conv: Option<ConvId>) -> Result<HashMap<ConvId, Seq>> {
        let q = match conv {
            Some(_) => "SELECT conv_id, joined_seq FROM members WHERE user_id = ? AND conv_id = ?",
            None => "SELECT conv_id, joined_seq FROM members WHERE user_id = ?",
        };
        let mut query = sqlx::query(AssertSqlSafe(self.backend.render(q))).bind(user);
        if let Some(conv) = conv {
            query = query.bind(conv);
        }
        let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    /// Messages by id, as they are now (recalled ones left out).
    async fn candidates(&self, ids: &[i64]) -> Result<Vec<Candidate>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(VERIFY_CHUNK) {
            let q = self.backend.render(&format!(
                "SELECT {HIT_COLUMNS} FROM messages t JOIN users s ON s.id = t.sender_id \
                 WHERE t.recalled IS NULL AND t.id IN ({})",
                marks(chunk.len())
            ));
            let mut query = sqlx::query(AssertSqlSafe(q));
            for id in chunk {
                query = query.bind(*id);
            }
            let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
            for row in &rows {
                out.push(Candidate::from_row(row).map_err(self.err())?);
            }
        }
        Ok(out)
    }

    /// The hits among the entries written after the index's
    /// `indexed_to`: scanned directly (the newest `tail` of them), so a
    /// message is found as soon as it is stored. An edit entry stands for
    /// the message it edited.
    async fn tail_hits(
        &self,
        req: &SearchRequest<'_>,
        joined: &HashMap<ConvId, Seq>,
        indexed_to: i64,
    ) -> Result<Vec<SearchHit>> {
        if req.limits.tail == 0 || joined.is_empty() {
            return Ok(Vec::new());
        }
        let q = self.backend.render(&format!(
            "SELECT {HIT_COLUMNS} \
             FROM (SELECT id, conv_id, seq, kind, target FROM messages WHERE id > ? \
                   ORDER BY id DESC LIMIT ?) e \
             JOIN messages t ON t.conv_id = e.conv_id \
                AND t.seq = CASE WHEN e.kind = 8 THEN e.target ELSE e.seq END \
             JOIN members mb ON mb.user_id = ? AND mb.conv_id = t.conv_id \
             JOIN users s ON s.id = t.sender_id \
             WHERE e.kind IN (1, 3, 4, 5, 6, 8, 10) AND t.recalled IS NULL \
               AND t.seq > mb.joined_seq"
        ));
        let rows = sqlx::query(AssertSqlSafe(q))
            .bind(indexed_to)
            .bind(i64::try_from(req.limits.tail).unwrap_or(i64::MAX))
            .bind(req.user)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        let mut hits = Vec::new();
        for row in &rows {
            let candidate = Candidate::from_row(row).map_err(self.err())?;
            if req.conv.is_some_and(|c| c != candidate.conv) {
                continue;
            }
            if let Some(hit) = candidate.hit(req, joined) {
                hits.push(hit);
            }
        }
        Ok(hits)
    }

    /// One round of the index scan over `convs`: per conversation, the
    /// newest `window` postings of the driving term below its bound, each
    /// with whether the other terms are there too. Rows (conv, msg,
    /// matched) in no particular order.
    async fn scan_round(
        &self,
        terms: &[i64],
        convs: &[(ConvId, i64)],
        window: usize,
    ) -> Result<Vec<(ConvId, i64, bool)>> {
        let Some((driver, others)) = terms.split_first() else {
            return Ok(Vec::new());
        };
        let flag = if others.is_empty() {
            "CAST(1 AS {int})".to_owned()
        } else {
            let probes = others
                .iter()
                .map(|_| {
                    "EXISTS (SELECT 1 FROM search_terms x WHERE x.term = ? \
                     AND x.conv_id = d.conv_id AND x.msg_id = d.msg_id)"
                })
                .collect::<Vec<_>>()
                .join(" AND ");
            format!("CAST(CASE WHEN {probes} THEN 1 ELSE 0 END AS {{int}})")
        };
        let arm = format!(
            "SELECT d.conv_id, d.msg_id, {flag} FROM (SELECT conv_id, msg_id FROM search_terms \
             WHERE term = ? AND conv_id = ? AND msg_id < ? ORDER BY msg_id DESC LIMIT ?) d"
        );
        let window = i64::try_from(window).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        for chunk in convs.chunks(CONVS_PER_STATEMENT) {
            let q = self
                .backend
                .render(&vec![arm.as_str(); chunk.len()].join(" UNION ALL "));
            let mut query = sqlx::query(AssertSqlSafe(q));
            for &(conv, upper) in chunk {
                for term in others {
                    query = query.bind(*term);
                }
                query = query.bind(*driver).bind(conv).bind(upper).bind(window);
            }
            let rows = query
                .fetch_all(&self.search_readers)
                .await
                .map_err(self.err())?;
            for row in &rows {
                let conv: i64 = row.try_get(0).map_err(self.err())?;
                let msg: i64 = row.try_get(1).map_err(self.err())?;
                let matched: i64 = row.try_get(2).map_err(self.err())?;
                out.push((conv, msg, matched != 0));
            }
        }
        Ok(out)
    }

    /// The hits the index holds, newest first, with the id down to which
    /// they are complete (`i64::MIN`: everything was looked at).
    async fn index_hits(
        &self,
        req: &SearchRequest<'_>,
        joined: &HashMap<ConvId, Seq>,
    ) -> Result<(Vec<SearchHit>, i64)> {
        let upper = req.before.unwrap_or(i64::MAX);
        // (conv, exclusive upper bound) of the conversations not yet
        // read to the end.
        let mut active: Vec<(ConvId, i64)> = joined.keys().map(|&c| (c, upper)).collect();
        active.sort_unstable();
        // Matching postings read but not yet checked: msg id → conv.
        let mut pool: BTreeMap<i64, ConvId> = BTreeMap::new();
        let mut hits = Vec::new();
        let mut window = (req.limit + 1).clamp(2, WINDOW_MAX);
        let mut scanned = 0usize;
        let mut first = true;
        loop {
            if active.is_empty() {
                // Everything read: check what is left.
                let ids: Vec<i64> = pool.keys().rev().copied().collect();
                self.check(req, joined, &ids, &mut hits).await?;
                return Ok((hits, i64::MIN));
            }
            // The first round always reads every conversation, so each
            // request makes progress; later rounds stop at the budget.
            if !first && scanned >= req.limits.postings {
                let frontier = active.iter().map(|a| a.1).max().unwrap_or(i64::MIN);
                return Ok((hits, frontier));
            }
            first = false;
            let rows = self.scan_round(&req.query.terms, &active, window).await?;
            scanned += rows.len();
            let mut per_conv: HashMap<ConvId, (usize, i64)> = HashMap::new();
            for (conv, msg, matched) in rows {
                let entry = per_conv.entry(conv).or_insert((0, i64::MAX));
                entry.0 += 1;
                entry.1 = entry.1.min(msg);
                if matched {
                    pool.insert(msg, conv);
                }
            }
            // A conversation that filled its window may hold more below
            // its lowest row; one that did not is done.
            active = active
                .into_iter()
                .filter_map(|(conv, _)| match per_conv.get(&conv) {
                    Some(&(n, lowest)) if n >= window => Some((conv, lowest)),
                    _ => None,
                })
                .collect();
            // Every posting at or above the frontier has been read, in
            // every conversation: those candidates are in final order.
            let frontier = active.iter().map(|a| a.1).max().unwrap_or(i64::MIN);
            let ready: Vec<i64> = pool.range(frontier..).rev().map(|(&m, _)| m).collect();
            for chunk in ready.chunks(VERIFY_CHUNK) {
                self.check(req, joined, chunk, &mut hits).await?;
                for id in chunk {
                    pool.remove(id);
                }
                if hits.len() > req.limit {
                    // Complete down to the last one checked.
                    let lowest = chunk.last().copied().unwrap_or(frontier);
                    return Ok((hits, lowest));
                }
            }
            window = (window * 2).min(WINDOW_MAX);
        }
    }

    /// Check candidates `ids` (newest first) against their messages and
    /// append the hits, keeping the order.
    async fn check(
        &self,
        req: &SearchRequest<'_>,
        joined: &HashMap<ConvId, Seq>,
        ids: &[i64],
        hits: &mut Vec<SearchHit>,
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut found: Vec<SearchHit> = self
            .candidates(ids)
            .await?
            .iter()
            .filter_map(|c| c.hit(req, joined))
            .collect();
        found.sort_unstable_by_key(|h| std::cmp::Reverse(h.msg_id));
        hits.extend(found);
        Ok(())
    }

    /// The indexer's read: entries after `after` (at most `batch`), or
    /// the entries `ids` (holes being waited for), each with the message
    /// it concerns.
    async fn index_read(&self, after: i64, batch: usize, ids: &[i64]) -> Result<Vec<EntryRow>> {
        let select = format!(
            "SELECT e.id, t.id, t.conv_id, t.kind, t.body, t.attachment, t.forward, \
                    CAST(CASE WHEN t.recalled IS NULL THEN 0 ELSE 1 END AS {{int}}) \
             FROM messages e LEFT JOIN messages t ON e.kind IN ({INDEXED_KINDS}) \
                AND t.conv_id = e.conv_id \
                AND t.seq = CASE WHEN e.kind IN (7, 8) THEN e.target ELSE e.seq END"
        );
        let mut out = Vec::new();
        if ids.is_empty() {
            let q = self
                .backend
                .render(&format!("{select} WHERE e.id > ? ORDER BY e.id LIMIT ?"));
            let rows = sqlx::query(AssertSqlSafe(q))
                .bind(after)
                .bind(i64::try_from(batch).unwrap_or(i64::MAX))
                .fetch_all(&self.readers)
                .await
                .map_err(self.err())?;
            for row in &rows {
                out.push(entry_row(row).map_err(self.err())?);
            }
        } else {
            for chunk in ids.chunks(IN_CHUNK) {
                let q = self
                    .backend
                    .render(&format!("{select} WHERE e.id IN ({})", marks(chunk.len())));
                let mut query = sqlx::query(AssertSqlSafe(q));
                for id in chunk {
                    query = query.bind(*id);
                }
                let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
                for row in &rows {
                    out.push(entry_row(row).map_err(self.err())?);
                }
            }
        }
        Ok(out)
    }

    async fn read_index_state(&self) -> Result<IndexState> {
        let row = sqlx::query(AssertSqlSafe(self.backend.render(
            "SELECT watermark, indexed_to, holder, lease_until FROM search_index WHERE id = 1",
        )))
        .fetch_optional(&self.search_readers)
        .await
        .map_err(self.err())?;
        match row {
            Some(row) => Ok(IndexState {
                watermark: row.try_get(0).map_err(self.err())?,
                indexed_to: row.try_get(1).map_err(self.err())?,
                holder: text_column(&row, 2).map_err(self.err())?,
                lease_until: row.try_get(3).map_err(self.err())?,
            }),
            None => Err(StoreError::Backend("search_index has no row".into())),
        }
    }

    /// The write half of a step, in one transaction of the index: claim
    /// or renew the lease (which also serialises indexers), replace each
    /// message's terms, move the watermark. `false` if another node
    /// holds the lease.
    async fn index_write(
        &self,
        conn: &mut AnyConnection,
        node: &str,
        now: i64,
        docs: &BTreeMap<i64, Doc>,
        watermark: i64,
        indexed_to: i64,
    ) -> sqlx::Result<Option<usize>> {
        let claimed = sqlx::query(AssertSqlSafe(self.backend.render(
            "UPDATE search_index SET holder = ?, lease_until = ? \
             WHERE id = 1 AND (holder = ? OR lease_until < ?)",
        )))
        .bind(node)
        .bind(now.saturating_add(LEASE_MS))
        .bind(node)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        if self.backend == Backend::Postgres {
            // The index is derived: a commit lost in a crash is redone
            // from the watermark, which is lost with it. So no wait for
            // the WAL flush here.
            conn.execute("SET LOCAL synchronous_commit = off").await?;
        }
        // The terms each message was indexed with before.
        let ids: Vec<i64> = docs.keys().copied().collect();
        let mut old: HashMap<i64, Vec<i64>> = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let q = self.backend.render(&format!(
                "SELECT msg_id, terms FROM search_docs WHERE msg_id IN ({})",
                marks(chunk.len())
            ));
            let mut query = sqlx::query(AssertSqlSafe(q));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *conn).await? {
                let bytes: Vec<u8> = row.try_get(1)?;
                old.insert(row.try_get(0)?, decode_terms(&bytes));
            }
        }
        let mut inserts: Vec<(i64, ConvId, i64)> = Vec::new();
        let mut changed: Vec<&Doc> = Vec::new();
        let mut written = 0;
        for doc in docs.values() {
            let before: &[i64] = old.get(&doc.msg).map_or(&[], Vec::as_slice);
            if before == doc.terms.as_slice()
                && (old.contains_key(&doc.msg) || doc.terms.is_empty())
            {
                continue;
            }
            written += 1;
            let keep: HashSet<i64> = doc.terms.iter().copied().collect();
            let gone: Vec<i64> = before
                .iter()
                .copied()
                .filter(|t| !keep.contains(t))
                .collect();
            for chunk in gone.chunks(IN_CHUNK) {
                let q = self.backend.render(&format!(
                    "DELETE FROM search_terms WHERE conv_id = ? AND msg_id = ? AND term IN ({})",
                    marks(chunk.len())
                ));
                let mut query = sqlx::query(AssertSqlSafe(q)).bind(doc.conv).bind(doc.msg);
                for term in chunk {
                    query = query.bind(*term);
                }
                query.execute(&mut *conn).await?;
            }
            let had: HashSet<i64> = before.iter().copied().collect();
            inserts.extend(
                doc.terms
                    .iter()
                    .filter(|t| !had.contains(t))
                    .map(|&t| (t, doc.conv, doc.msg)),
            );
            changed.push(doc);
        }
        for chunk in inserts.chunks(INSERT_CHUNK) {
            let q = self.backend.render(&format!(
                "{{insert_ignore}} search_terms (term, conv_id, msg_id) VALUES {}{{on_conflict}}",
                vec!["(?, ?, ?)"; chunk.len()].join(", ")
            ));
            let mut query = sqlx::query(AssertSqlSafe(q));
            for &(term, conv, msg) in chunk {
                query = query.bind(term).bind(conv).bind(msg);
            }
            query.execute(&mut *conn).await?;
        }
        let changed_ids: Vec<i64> = changed.iter().map(|d| d.msg).collect();
        for chunk in changed_ids.chunks(IN_CHUNK) {
            let q = self.backend.render(&format!(
                "DELETE FROM search_docs WHERE msg_id IN ({})",
                marks(chunk.len())
            ));
            let mut query = sqlx::query(AssertSqlSafe(q));
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *conn).await?;
        }
        let kept: Vec<&&Doc> = changed.iter().filter(|d| !d.terms.is_empty()).collect();
        for chunk in kept.chunks(INSERT_CHUNK) {
            let q = self.backend.render(&format!(
                "INSERT INTO search_docs (msg_id, conv_id, terms) VALUES {}",
                vec!["(?, ?, ?)"; chunk.len()].join(", ")
            ));
            let mut query = sqlx::query(AssertSqlSafe(q));
            for doc in chunk {
                query = query
                    .bind(doc.msg)
                    .bind(doc.conv)
                    .bind(encode_terms(&doc.terms));
            }
            query.execute(&mut *conn).await?;
        }
        sqlx::query(AssertSqlSafe(self.backend.render(
            "UPDATE search_index SET watermark = ?, indexed_to = ? WHERE id = 1",
        )))
        .bind(watermark)
        .bind(indexed_to)
        .execute(&mut *conn)
        .await?;
        Ok(Some(written))
    }
}

/// Turn what an indexer step read into the messages to index, with their
/// current terms (CPU work: run off the async threads).
fn plan(rows: Vec<EntryRow>) -> Work {
    let mut work = Work {
        seen: Vec::with_capacity(rows.len()),
        docs: BTreeMap::new(),
    };
    for row in rows {
        work.seen.push(row.id);
        let Some(Target {
            msg,
            conv,
            kind,
            body,
            attachment,
            forward,
            recalled,
        }) = row.target
        else {
            continue;
        };
        if work.docs.contains_key(&msg) {
            continue;
        }
        let searchable = kind_from_code(kind).is_ok_and(is_searchable);
        let terms = if recalled || !searchable {
            Vec::new()
        } else {
            let text = searchable_text(&body, attachment.as_deref(), forward.as_deref());
            text::terms(&text::fold(&text))
        };
        work.docs.insert(msg, Doc { msg, conv, terms });
    }
    work
}

#[async_trait]
impl SearchStore for SqlStore {
    async fn message_search(&self, req: &SearchRequest<'_>) -> Result<SearchPage> {
        let joined = self.joined_convs(req.user, req.conv).await?;
        if joined.is_empty() {
            return Ok(SearchPage {
                hits: Vec::new(),
                next: None,
            });
        }
        let state = self.read_index_state().await?;
        let tail = self.tail_hits(req, &joined, state.indexed_to).await?;
        let (indexed, complete_to) = self.index_hits(req, &joined).await?;
        // Both lists are exact at and above `complete_to`; merge them
        // newest first (a message indexed since the tail was read is in
        // both).
        let mut all: Vec<SearchHit> = tail
            .into_iter()
            .chain(indexed)
            .filter(|h| h.msg_id >= complete_to)
            .collect();
        all.sort_unstable_by_key(|h| std::cmp::Reverse(h.msg_id));
        all.dedup_by_key(|h| h.msg_id);
        let next = if all.len() > req.limit {
            all.truncate(req.limit);
            all.last().map(|h| h.msg_id)
        } else if complete_to > i64::MIN {
            Some(complete_to)
        } else {
            None
        };
        Ok(SearchPage { hits: all, next })
    }

    async fn search_index_step(
        &self,
        node: &str,
        now: i64,
        batch: usize,
        cursor: &mut IndexCursor,
    ) -> Result<IndexStep> {
        let state = self.read_index_state().await?;
        let mine = state.holder == node;
        if !mine && !state.holder.is_empty() && state.lease_until >= now {
            cursor.held = false;
            return Ok(IndexStep {
                idle: true,
                standby: true,
                ..IndexStep::default()
            });
        }
        if !cursor.held || !mine {
            // (Re)starting, or taking over: from the durable watermark.
            cursor.high = state.watermark;
            cursor.gaps.clear();
        }
        // Read first, without a transaction: an idle step writes nothing
        // and holds no lock.
        let rows = self.index_read(cursor.high, batch.max(1), &[]).await?;
        let waited: Vec<i64> = cursor.gaps.keys().copied().collect();
        let filled = if waited.is_empty() {
            Vec::new()
        } else {
            self.index_read(0, 0, &waited).await?
        };
        if rows.is_empty() && filled.is_empty() {
            cursor
                .gaps
                .retain(|_, seen| now.saturating_sub(*seen) < GAP_GRACE_MS);
            return Ok(IndexStep {
                idle: true,
                ..IndexStep::default()
            });
        }
        let work = tokio::task::spawn_blocking(move || {
            let mut all = filled;
            all.extend(rows);
            plan(all)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("search planning failed: {e}")))?;
        // Where the cursor goes: past everything read, remembering the
        // holes (ids taken by transactions not yet committed) for a while.
        let seen: HashSet<i64> = work.seen.iter().copied().collect();
        let mut gaps = cursor.gaps.clone();
        gaps.retain(|id, first| !seen.contains(id) && now.saturating_sub(*first) < GAP_GRACE_MS);
        let high = work
            .seen
            .iter()
            .copied()
            .max()
            .unwrap_or(cursor.high)
            .max(cursor.high);
        let mut expected = cursor.high + 1;
        let mut fresh: Vec<i64> = work
            .seen
            .iter()
            .copied()
            .filter(|&i| i > cursor.high)
            .collect();
        fresh.sort_unstable();
        for id in fresh {
            // Bounded: a hole wider than this is a rolled-back batch far
            // more likely than open transactions.
            for missing in expected..id.min(expected.saturating_add(10_000)) {
                gaps.insert(missing, now);
            }
            expected = id + 1;
        }
        let watermark = gaps.keys().next().map_or(high, |&g| g - 1);
        let mut conn = self
            .search_writer
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut tx = self.begin_write(&mut conn).await.map_err(self.err())?;
        let written = match self
            .index_write(&mut tx, node, now, &work.docs, watermark, high)
            .await
        {
            Ok(Some(written)) => {
                tx.commit().await.map_err(self.err())?;
                written
            }
            Ok(None) => {
                let _ = tx.rollback().await;
                cursor.held = false;
                return Ok(IndexStep {
                    idle: true,
                    standby: true,
                    ..IndexStep::default()
                });
            }
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(self.err()(e));
            }
        };
        cursor.held = true;
        cursor.high = high;
        cursor.gaps = gaps;
        Ok(IndexStep {
            entries: work.seen.len(),
            messages: written,
            idle: false,
            standby: false,
        })
    }

    async fn search_index_state(&self) -> Result<IndexState> {
        self.read_index_state().await
    }
}
