//! [`SqlStore`]: the one implementation of [`Store`] for all three engines,
//! on sqlx's `Any` driver. Engine differences are rendered into the query
//! table at open time (see `dialect`); the logic below is shared.
//!
//! SQLite (the embedded default) gets one writer connection and a small
//! read-only pool: SQLite allows one writer at a time anyway, and WAL lets
//! readers run beside it. Its journal is synced on every commit
//! (`synchronous = FULL`), which is what makes an acked message survive a
//! power cut; group commit keeps that to one sync per batch.
//!
//! PostgreSQL and MySQL/MariaDB get one pool, sized by configuration, that
//! may be shared by several Magpie nodes. Sequence numbers stay gapless
//! there because the seq bump takes the conversation's row lock until the
//! transaction ends; batches lock conversations in a fixed order so that
//! two nodes' batches cannot deadlock each other.

use crate::batch::{self, Plan};
use crate::dialect::Backend;
use crate::{
    Appended, ConvSummary, NewMessage, Result, Store, StoreError, TokenRecord, UserRecord,
};
use async_trait::async_trait;
use magpie_proto::{ConvId, Message, Seq, UserId};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Connection, Executor, Row};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

/// Direct (1:1) conversation kind in the `conversations.kind` column.
const KIND_DIRECT: i64 = 1;

/// Connection pool settings for the networked engines.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections this node opens to the database.
    pub max_connections: u32,
    /// How long a query waits for a free connection before the request
    /// fails with a retryable error.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Every query, rendered for one engine.
#[derive(Debug)]
struct Queries {
    create_user: Arc<str>,
    user_by_name: Arc<str>,
    create_token: Arc<str>,
    token: Arc<str>,
    revoke_token: Arc<str>,
    purge_tokens: Arc<str>,
    find_cmid: Arc<str>,
    conv_by_pair: Arc<str>,
    create_conv: Arc<str>,
    add_member: Arc<str>,
    bump_seq: Arc<str>,
    read_last_seq: Arc<str>,
    insert_message: Arc<str>,
    sender_read: Arc<str>,
    is_member: Arc<str>,
    positions: Arc<str>,
    conversations: Arc<str>,
    messages_after: Arc<str>,
    messages_before: Arc<str>,
    mark_read: Arc<str>,
    read_mark: Arc<str>,
}

/// The SELECT that makes a [`Message`], in [`message_from_row`] order.
const MESSAGE_SELECT: &str = "SELECT m.id, m.conv_id, m.seq, s.username, r.username, m.body, m.ts, m.cmid \
     FROM messages m \
     JOIN conversations c ON c.id = m.conv_id \
     JOIN users s ON s.id = m.sender_id \
     JOIN users r ON r.id = CASE WHEN c.user_a = m.sender_id THEN c.user_b ELSE c.user_a END";

impl Queries {
    fn new(b: Backend) -> Queries {
        Queries {
            create_user: b.render(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?) RETURNING id",
            ),
            user_by_name: b.render("SELECT id, username, password_hash FROM users WHERE username = ?"),
            create_token: b.render(
                "INSERT INTO tokens (token_hash, user_id, device, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            ),
            token: b.render(
                "SELECT t.user_id, u.username, t.device, t.expires_at \
                 FROM tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = ? AND t.expires_at > ?",
            ),
            revoke_token: b.render("DELETE FROM tokens WHERE token_hash = ?"),
            purge_tokens: b.render("DELETE FROM tokens WHERE expires_at <= ?"),
            find_cmid: b.render(
                "SELECT id, conv_id, seq, ts FROM messages WHERE sender_id = ? AND cmid = ?",
            ),
            conv_by_pair: b.render("SELECT id FROM conversations WHERE user_a = ? AND user_b = ?"),
            create_conv: b.render(
                "{insert_ignore} conversations (kind, user_a, user_b, last_seq, last_ts, created_at) \
                 VALUES (?, ?, ?, 0, ?, ?){on_conflict}",
            ),
            add_member: b.render(
                "{insert_ignore} members (user_id, conv_id, read_seq) VALUES (?, ?, 0){on_conflict}",
            ),
            bump_seq: b.render(
                "UPDATE conversations SET last_seq = last_seq + 1, last_ts = ? WHERE id = ? RETURNING last_seq",
            ),
            read_last_seq: b.render("SELECT last_seq FROM conversations WHERE id = ?"),
            insert_message: b.render(
                "INSERT INTO messages (conv_id, seq, sender_id, cmid, body, ts) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            ),
            sender_read: b.render("UPDATE members SET read_seq = ? WHERE user_id = ? AND conv_id = ?"),
            is_member: b.render("SELECT conv_id FROM members WHERE user_id = ? AND conv_id = ?"),
            positions: b.render(
                "SELECT c.id, c.last_seq FROM members mem JOIN conversations c ON c.id = mem.conv_id \
                 WHERE mem.user_id = ? ORDER BY c.id",
            ),
            conversations: b.render(
                "SELECT c.id, peer.username, c.last_seq, mem.read_seq, \
                        m.id, m.seq, s.username, m.body, m.ts, m.cmid, m.sender_id, me.username \
                 FROM members mem \
                 JOIN users me ON me.id = mem.user_id \
                 JOIN conversations c ON c.id = mem.conv_id \
                 JOIN users peer ON peer.id = CASE WHEN c.user_a = mem.user_id THEN c.user_b ELSE c.user_a END \
                 LEFT JOIN messages m ON m.conv_id = c.id AND m.seq = c.last_seq \
                 LEFT JOIN users s ON s.id = m.sender_id \
                 WHERE mem.user_id = ? AND c.last_seq > 0 \
                 ORDER BY m.id DESC",
            ),
            messages_after: b.render(&format!(
                "{MESSAGE_SELECT} WHERE m.conv_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"
            )),
            messages_before: b.render(&format!(
                "{MESSAGE_SELECT} WHERE m.conv_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?"
            )),
            mark_read: b.render(
                "UPDATE members SET read_seq = {greatest}(read_seq, {least}(?, \
                     (SELECT last_seq FROM conversations WHERE id = members.conv_id))) \
                 WHERE user_id = ? AND conv_id = ? RETURNING read_seq",
            ),
            read_mark: b.render("SELECT read_seq FROM members WHERE user_id = ? AND conv_id = ?"),
        }
    }
}

/// Most token hashes bound in one `live_tokens` query (well below every
/// engine's limit on bound parameters).
const LIVE_TOKENS_CHUNK: usize = 500;

/// Wrap a rendered query for sqlx. Every query string comes from the
/// constant templates above, never from input: input is always bound.
fn sql(q: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(q.clone())
}

/// [`Store`] on SQLite, PostgreSQL or MySQL/MariaDB.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
    writer: AnyPool,
    readers: AnyPool,
    q: Arc<Queries>,
    convs: Arc<ConvCache>,
    /// SQLite: set by the checkpointer when the WAL is large and copied
    /// out; the writer then lets the WAL start over (see
    /// [`SqlStore::restart_wal_if_due`]).
    wal_restart_due: Arc<AtomicBool>,
}

/// User pair → 1:1 conversation id. Conversations are never deleted or
/// renumbered, so an id once seen stays right, also across nodes; caching
/// it saves two statements per stored message.
#[derive(Debug, Default)]
struct ConvCache {
    map: std::sync::Mutex<HashMap<(UserId, UserId), ConvId>>,
}

/// Bound on cached pairs; the cache is simply cleared when full.
const CONV_CACHE_MAX: usize = 1_000_000;

impl ConvCache {
    fn get(&self, pair: (UserId, UserId)) -> Option<ConvId> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&pair)
            .copied()
    }

    fn insert(&self, pair: (UserId, UserId), conv: ConvId) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CONV_CACHE_MAX {
            map.clear();
        }
        map.insert(pair, conv);
    }
}

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

impl SqlStore {
    /// Open (creating if needed) the SQLite database file at `path`, with
    /// every commit synced to disk (the durable default).
    pub async fn open_sqlite(path: &Path) -> Result<SqlStore> {
        SqlStore::open_sqlite_with(path, true).await
    }

    /// Like [`SqlStore::open_sqlite`]; `durable = false` selects
    /// `synchronous = NORMAL`: commits survive a crash of the process but
    /// the last ones may be lost in a power cut. For benchmarks against
    /// non-persistent brokers, and for operators who choose that trade.
    pub async fn open_sqlite_with(path: &Path, durable: bool) -> Result<SqlStore> {
        install_drivers();
        let sqlite_err = |e| classify(Backend::Sqlite, e);
        let url = |read_only: bool| {
            use sqlx::ConnectOptions;
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(!read_only)
                .read_only(read_only);
            AnyConnectOptions::from_url(&options.to_url_lossy()).map_err(sqlite_err)
        };
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    // 1 KiB pages (for a new database; an existing one keeps
                    // its size): a busy server's commit touches one index
                    // leaf per conversation and per sender, and the WAL
                    // writes each whole page. Smaller pages cut that volume
                    // about fourfold; at 10k msg/s p99 fell from 90 to 21 ms
                    // (docs/BENCHMARKS.md).
                    // Auto-checkpoints would run inside a commit and stall
                    // every ack behind a sync of the main file; a background
                    // task checkpoints instead (see `spawn_checkpointer`).
                    conn.execute(
                        "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; \
                         PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                         PRAGMA wal_autocheckpoint = 0;",
                    )
                    .await?;
                    conn.execute(AssertSqlSafe(format!(
                        "PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
                    )))
                    .await?;
                    if !durable {
                        conn.execute("PRAGMA synchronous = NORMAL;").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(url(false)?)
            .await
            .map_err(sqlite_err)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        let wal_restart_due = Arc::new(AtomicBool::new(false));
        spawn_checkpointer(url(false)?, &writer, wal_restart_due.clone());
        let readers = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 5000;")
                        .await
                        .map(|_| ())
                })
            })
            .connect_with(url(true)?)
            .await
            .map_err(sqlite_err)?;
        Ok(SqlStore {
            backend: Backend::Sqlite,
            writer,
            readers,
            q: Arc::new(Queries::new(Backend::Sqlite)),
            convs: Arc::default(),
            wal_restart_due,
        })
    }

    /// Connect to the database at `url` (`sqlite://`, `postgres://`,
    /// `mysql://` or `mariadb://`) and bring its schema up to date. Several
    /// nodes may do this at once: migrations take a database lock.
    pub async fn connect(url: &str, pool: &PoolSettings) -> Result<SqlStore> {
        install_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Backend(
                "database URL must start with sqlite://, postgres://, mysql:// or mariadb://"
                    .into(),
            )
        })?;
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            return SqlStore::open_sqlite(Path::new(path)).await;
        }
        let url = match url.split_once("://") {
            Some(("mariadb", rest)) => format!("mysql://{rest}"),
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(|e| classify(backend, e))?;
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout);
        if backend == Backend::MySql {
            // Read committed, as in PostgreSQL: a row another node just
            // inserted (a new conversation) is visible to the next statement.
            pool_options = pool_options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; \
                         SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION';",
                    )
                    .await
                    .map(|_| ())
                })
            });
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| classify(backend, e))?;
        let migrated = match backend {
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await,
            _ => sqlx::migrate!("./migrations/mysql").run(&pool).await,
        };
        migrated.map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        Ok(SqlStore {
            backend,
            writer: pool.clone(),
            readers: pool,
            q: Arc::new(Queries::new(backend)),
            convs: Arc::default(),
            wal_restart_due: Arc::default(),
        })
    }

    /// The engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The error mapping for this store's engine.
    fn err(&self) -> impl Fn(sqlx::Error) -> StoreError + use<> {
        let backend = self.backend;
        move |e| classify(backend, e)
    }

    /// A writer connection. Failing to get one means nothing ran, so any
    /// error here is worth retrying, whatever the engine said.
    async fn write_conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        self.writer
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Begin a write transaction. SQLite's default (deferred) transaction
    /// starts as a reader and fails at once with `SQLITE_BUSY` if another
    /// writer got there first; `BEGIN IMMEDIATE` takes the write lock up
    /// front, where `busy_timeout` makes it wait its turn instead.
    async fn begin_write<'c>(
        &self,
        conn: &'c mut AnyConnection,
    ) -> sqlx::Result<sqlx::Transaction<'c, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await,
            _ => conn.begin().await,
        }
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

    /// Insert a row and return its new id.
    async fn insert_id<'q>(
        &self,
        conn: &mut AnyConnection,
        query: AnyQuery<'q>,
    ) -> sqlx::Result<i64> {
        if self.backend.has_returning() {
            query.fetch_one(&mut *conn).await?.try_get(0)
        } else {
            let done = query.execute(&mut *conn).await?;
            done.last_insert_id()
                .ok_or_else(|| sqlx::Error::Protocol("no insert id returned".into()))
        }
    }

    /// SQLite: when the checkpointer says so, copy the last few WAL frames
    /// into the database from the writer connection itself, before the
    /// next batch. The WAL is then fully copied when the writer next begins,
    /// so that transaction starts the WAL over from its beginning. Done
    /// from the checkpointer instead (`RESTART`), the same step waits in
    /// SQLite's busy handler for the writer (stalling acks for 5-8 ms at
    /// 10k msg/s), and then for every reader, however long it reads.
    async fn restart_wal_if_due(&self, conn: &mut AnyConnection) {
        if self.wal_restart_due.swap(false, Ordering::Relaxed)
            && let Err(e) = passive_checkpoint(conn).await
        {
            tracing::warn!(error = %e, "WAL checkpoint on the writer failed");
        }
    }

    /// Store a batch the fast way (see `batch`): a fixed number of
    /// statements, whatever its size. `convs[i]` is the conversation of
    /// `batch[i]`. Fails with a unique violation if a message repeats an
    /// earlier `(sender, cmid)`; the caller then rolls back and goes
    /// [`SqlStore::append_one_by_one`].
    async fn append_set(
        &self,
        conn: &mut AnyConnection,
        batch: &[NewMessage],
        convs: &[ConvId],
    ) -> sqlx::Result<Vec<Appended>> {
        if self.backend == Backend::Sqlite {
            let mut appended = Vec::with_capacity(batch.len());
            let chunks = batch.chunks(batch::ROWS_PER_STATEMENT);
            for (msgs, convs) in chunks.zip(convs.chunks(batch::ROWS_PER_STATEMENT)) {
                appended.extend(self.append_sqlite_chunk(conn, msgs, convs).await?);
            }
            return Ok(appended);
        }
        let b = self.backend;
        let plan = Plan::new(batch, convs);
        // Lock in ascending id order, so concurrent batches on several nodes
        // cannot deadlock each other.
        let mut last_seqs: HashMap<ConvId, Seq> = HashMap::with_capacity(plan.convs.len());
        for chunk in plan.convs.chunks(batch::ROWS_PER_STATEMENT) {
            let text = batch::lock_conversations(b, chunk.len());
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
            let text = batch::update_conv_heads(b, chunk.len());
            let mut query = sqlx::query(sql(&text));
            for &(conv, n, ts) in chunk {
                query = query.bind(conv).bind(last(conv)? + n).bind(ts);
            }
            query.execute(&mut *conn).await?;
        }

        let mut rows: Vec<(&NewMessage, ConvId, Seq)> = Vec::with_capacity(batch.len());
        for ((msg, &conv), &k) in batch.iter().zip(convs).zip(&plan.positions) {
            rows.push((msg, conv, last(conv)? + k));
        }
        let mut msg_ids: HashMap<(ConvId, Seq), i64> = HashMap::with_capacity(batch.len());
        for chunk in rows.chunks(batch::ROWS_PER_STATEMENT) {
            let text = batch::insert_messages(b, chunk.len());
            let mut query = sqlx::query(sql(&text));
            for &(msg, conv, seq) in chunk {
                query = bind_message(query, msg, conv, seq);
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
                let text = batch::inserted_ids(b, chunk.len());
                let mut query = sqlx::query(sql(&text));
                for &(conv, n, _) in chunk {
                    query = query.bind(conv).bind(last(conv)? + 1).bind(last(conv)? + n);
                }
                for row in query.fetch_all(&mut *conn).await? {
                    msg_ids.insert((row.try_get(1)?, row.try_get(2)?), row.try_get(0)?);
                }
            }
        }

        for chunk in plan.read_marks.chunks(batch::ROWS_PER_STATEMENT) {
            let text = batch::update_read_marks(b, chunk.len());
            let mut query = sqlx::query(sql(&text));
            for &(user, conv, k) in chunk {
                query = query.bind(user).bind(conv).bind(last(conv)? + k);
            }
            query.execute(&mut *conn).await?;
        }

        rows.iter()
            .map(|&(msg, conv, seq)| appended(msg, conv, seq, &msg_ids))
            .collect()
    }

    /// SQLite: store up to [`batch::ROWS_PER_STATEMENT`] messages in one
    /// multi-statement query (see [`batch::sqlite_append`]).
    async fn append_sqlite_chunk(
        &self,
        conn: &mut AnyConnection,
        batch: &[NewMessage],
        convs: &[ConvId],
    ) -> sqlx::Result<Vec<Appended>> {
        let plan = Plan::new(batch, convs);
        let text = batch::sqlite_append(plan.convs.len(), batch.len(), plan.read_marks.len());
        let mut query = sqlx::query(sql(&text));
        for &(conv, n, ts) in &plan.convs {
            query = query.bind(conv).bind(n).bind(ts);
        }
        for (i, ((msg, &conv), &k)) in batch.iter().zip(convs).zip(&plan.positions).enumerate() {
            query = query
                .bind(i as i64)
                .bind(conv)
                .bind(plan.count(conv) - k)
                .bind(msg.sender)
                .bind(&msg.cmid)
                .bind(&msg.body)
                .bind(msg.ts);
        }
        for &(user, conv, k) in &plan.read_marks {
            query = query.bind(user).bind(conv).bind(plan.count(conv) - k);
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
            .zip(convs)
            .zip(&plan.positions)
            .map(|((msg, &conv), &k)| {
                let seq = first.get(&conv).map_or(0, |f| f + k - 1);
                appended(msg, conv, seq, &msg_ids)
            })
            .collect()
    }

    /// Store a batch one message at a time, in a transaction of its own:
    /// the way for batches that repeat a cmid, because each repeat must be
    /// found and answered with its original.
    async fn append_one_by_one(
        &self,
        conn: &mut AnyConnection,
        batch: &[NewMessage],
        convs: &[ConvId],
    ) -> sqlx::Result<Vec<Appended>> {
        // Lock conversations in ascending id order (see `append_set`). The
        // sort is stable: one conversation's messages keep their order.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| convs[i]);
        let mut tx = self.begin_write(conn).await?;
        let mut results: Vec<Option<Appended>> = vec![None; batch.len()];
        for i in order {
            results[i] = Some(self.append_one(&mut tx, &batch[i], convs[i]).await?);
        }
        tx.commit().await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// Store one message of conversation `conv` inside the batch
    /// transaction; see [`Store::append_batch`].
    async fn append_one(
        &self,
        conn: &mut AnyConnection,
        msg: &NewMessage,
        conv: ConvId,
    ) -> sqlx::Result<Appended> {
        let q = &self.q;
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
        let bump = sqlx::query(sql(&q.bump_seq)).bind(msg.ts).bind(conv);
        let seq: i64 = if self.backend.has_returning() {
            bump.fetch_one(&mut *conn).await?.try_get(0)?
        } else {
            bump.execute(&mut *conn).await?;
            sqlx::query(sql(&q.read_last_seq))
                .bind(conv)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?
        };
        let insert = bind_message(sqlx::query(sql(&q.insert_message)), msg, conv, seq);
        let msg_id = self.insert_id(conn, insert).await?;
        sqlx::query(sql(&q.sender_read))
            .bind(seq)
            .bind(msg.sender)
            .bind(conv)
            .execute(&mut *conn)
            .await?;
        Ok(Appended {
            msg_id,
            conv,
            seq,
            ts: msg.ts,
            duplicate: false,
        })
    }

    /// The 1:1 conversation of each message of a batch, creating those
    /// that do not exist yet, each in its own short transaction before the
    /// batch transaction. Creating them inside it made concurrent batches
    /// on MySQL deadlock on the unique key; an empty conversation left by a
    /// failed batch is harmless (the retry fills it, and lists skip
    /// conversations without messages).
    async fn direct_convs_for(
        &self,
        conn: &mut AnyConnection,
        batch: &[NewMessage],
    ) -> sqlx::Result<Vec<ConvId>> {
        let mut convs = Vec::with_capacity(batch.len());
        for m in batch {
            let (lo, hi) = ordered(m.sender, m.recipient);
            let conv = match self.convs.get((lo, hi)) {
                Some(conv) => conv,
                None => {
                    let found = sqlx::query(sql(&self.q.conv_by_pair))
                        .bind(lo)
                        .bind(hi)
                        .fetch_optional(&mut *conn)
                        .await?;
                    let conv = match found {
                        Some(row) => row.try_get(0)?,
                        None => {
                            // Conversation and members appear together or not at all.
                            let mut tx = self.begin_write(conn).await?;
                            let conv = self.create_direct_conv(&mut tx, lo, hi, m.ts).await?;
                            tx.commit().await?;
                            conv
                        }
                    };
                    self.convs.insert((lo, hi), conv);
                    conv
                }
            };
            convs.push(conv);
        }
        Ok(convs)
    }

    /// Insert a 1:1 conversation and its two members, tolerating another
    /// node doing the same at the same moment.
    async fn create_direct_conv(
        &self,
        conn: &mut AnyConnection,
        lo: UserId,
        hi: UserId,
        now: i64,
    ) -> sqlx::Result<ConvId> {
        let find = || sqlx::query(sql(&self.q.conv_by_pair)).bind(lo).bind(hi);
        sqlx::query(sql(&self.q.create_conv))
            .bind(KIND_DIRECT)
            .bind(lo)
            .bind(hi)
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        let id: i64 = find().fetch_one(&mut *conn).await?.try_get(0)?;
        for user in [lo, hi] {
            sqlx::query(sql(&self.q.add_member))
                .bind(user)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(id)
    }
}

/// How often the SQLite checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL size beyond which the WAL is made to start over. Under writes
/// without pause it never restarts by itself: the writer can only rewind
/// it when a checkpoint has copied every frame, and by then the writer has
/// written more. So at this size the checkpointer catches up and asks the
/// writer to copy the rest between two batches (`wal_restart_due`).
const WAL_RESTART_BYTES: i64 = 64 << 20;
/// WAL size at which the checkpointer stops asking and forces a `RESTART`
/// checkpoint, which holds the writer back for a few milliseconds: when
/// readers kept the writer from rewinding the WAL for this long.
const WAL_FORCE_RESTART_BYTES: i64 = 4 * WAL_RESTART_BYTES;
/// Extra passive passes before the writer's turn.
const CATCH_UP_PASSES: usize = 2;
/// The WAL file is cut back to this size when it restarts: above the
/// steady-state size (so no truncation in the hot path) but bounded after
/// a burst.
const WAL_SIZE_LIMIT: i64 = 2 * WAL_RESTART_BYTES;

/// Checkpoint the SQLite WAL from a connection of its own, beside the
/// writer rather than inside its commits. `PASSIVE` never waits for the
/// writer or readers, so acks never queue behind the main file's sync. The
/// task ends when the writer pool is closed.
fn spawn_checkpointer(options: AnyConnectOptions, writer: &AnyPool, restart_due: Arc<AtomicBool>) {
    let writer = writer.clone();
    tokio::spawn(async move {
        let Ok(mut conn) = sqlx::AnyConnection::connect_with(&options).await else {
            tracing::warn!("no checkpoint connection; the WAL will grow until restart");
            return;
        };
        let _ = conn.execute("PRAGMA busy_timeout = 5000;").await;
        let page_size: i64 = match sqlx::query("PRAGMA page_size;").fetch_one(&mut conn).await {
            Ok(row) => row.try_get(0).unwrap_or(4096),
            Err(_) => 4096,
        };
        let page_size = page_size.max(512);
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        while !writer.is_closed() {
            tick.tick().await;
            let frames = match passive_checkpoint(&mut conn).await {
                Ok(frames) => frames,
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                    continue;
                }
            };
            let wal_bytes = frames * page_size;
            if wal_bytes > WAL_FORCE_RESTART_BYTES {
                if let Err(e) = conn.execute("PRAGMA wal_checkpoint(RESTART);").await {
                    tracing::warn!(error = %e, "WAL restart checkpoint failed");
                }
            } else if wal_bytes > WAL_RESTART_BYTES {
                // Each further pass copies what came in during the one
                // before, so the writer's share (which stalls acks: about
                // 5 ms at 10k msg/s) is small.
                for _ in 0..CATCH_UP_PASSES {
                    let _ = passive_checkpoint(&mut conn).await;
                }
                restart_due.store(true, Ordering::Relaxed);
            }
        }
        // A final full checkpoint leaves a compact database behind.
        let _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE);").await;
        let _ = conn.close().await;
    });
}

/// One `PASSIVE` checkpoint: copies what it can without waiting for
/// anyone. Returns the number of frames in the WAL.
async fn passive_checkpoint(conn: &mut AnyConnection) -> sqlx::Result<i64> {
    // The result row is (busy, frames in the WAL, frames copied).
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE);")
        .fetch_one(conn)
        .await?
        .try_get(1)
}

/// A query on the `Any` driver, as the statements here are built.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, <sqlx::Any as sqlx::Database>::Arguments>;

/// Bind one message row in the column order of every message insert:
/// conv_id, seq, sender_id, cmid, body, ts.
fn bind_message<'q>(
    query: AnyQuery<'q>,
    msg: &'q NewMessage,
    conv: ConvId,
    seq: Seq,
) -> AnyQuery<'q> {
    query
        .bind(conv)
        .bind(seq)
        .bind(msg.sender)
        .bind(&msg.cmid)
        .bind(&msg.body)
        .bind(msg.ts)
}

/// The result for a message stored by the set-based path, whose id was
/// read back into `msg_ids`.
fn appended(
    msg: &NewMessage,
    conv: ConvId,
    seq: Seq,
    msg_ids: &HashMap<(ConvId, Seq), i64>,
) -> sqlx::Result<Appended> {
    let msg_id = *msg_ids
        .get(&(conv, seq))
        .ok_or_else(|| sqlx::Error::Protocol("an inserted message has no id".into()))?;
    Ok(Appended {
        msg_id,
        conv,
        seq,
        ts: msg.ts,
        duplicate: false,
    })
}

fn ordered(a: UserId, b: UserId) -> (UserId, UserId) {
    if a < b { (a, b) } else { (b, a) }
}

/// Map sqlx errors onto the storage boundary: conditions that go away by
/// themselves become [`StoreError::Unavailable`], so the server tells
/// clients to retry rather than report a failure.
fn classify(backend: Backend, e: sqlx::Error) -> StoreError {
    let transient = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        {
            // sqlx reports MySQL errors by SQLSTATE; the error number is
            // the precise one.
            Some(mysql) => {
                is_transient_code(backend, &mysql.number().to_string())
                    || mysql.code() == Some("40001")
            }
            None => is_transient_code(backend, &db.code().unwrap_or_default()),
        },
        _ => false,
    };
    if transient {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

/// Database error codes that mean "try again".
fn is_transient_code(backend: Backend, code: &str) -> bool {
    match backend {
        // Primary result codes (the low byte of the extended codes sqlx
        // reports): BUSY, LOCKED, IOERR, FULL, CANTOPEN.
        Backend::Sqlite => code
            .parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14)),
        // SQLSTATE classes: connection exception, insufficient resources,
        // operator intervention (e.g. shutdown), system error (I/O);
        // serialisation failure, deadlock; database not accepting
        // connections; and a unique-key race between two nodes storing the
        // same (sender, cmid), which a retry resolves as a duplicate.
        Backend::Postgres => {
            matches!(code.get(..2), Some("08" | "53" | "57" | "58"))
                || matches!(code, "40001" | "40P01" | "55000" | "23505")
        }
        // Deadlock, lock wait timeout, too many connections, read-only
        // (failover in progress), server gone / lost, duplicate-key race.
        Backend::MySql => code
            .parse::<i32>()
            .is_ok_and(|c| matches!(c, 1213 | 1205 | 1040 | 1290 | 2006 | 2013 | 1062)),
    }
}

/// A text column that some engines store as bytes (the MySQL `cmid`).
fn text_column(row: &AnyRow, index: usize) -> sqlx::Result<String> {
    match row.try_get::<String, _>(index) {
        Ok(text) => Ok(text),
        Err(_) => String::from_utf8(row.try_get::<Vec<u8>, _>(index)?)
            .map_err(|e| sqlx::Error::Decode(Box::new(e))),
    }
}

fn message_from_row(row: &AnyRow) -> sqlx::Result<Message> {
    Ok(Message {
        msg_id: row.try_get(0)?,
        conv: row.try_get(1)?,
        seq: row.try_get(2)?,
        from: row.try_get(3)?,
        to: row.try_get(4)?,
        body: row.try_get(5)?,
        ts: row.try_get(6)?,
        cmid: text_column(row, 7)?,
    })
}

/// A conversation-list row; the last message's recipient is the member who
/// did not send it.
fn summary_from_row(row: &AnyRow, user: UserId) -> sqlx::Result<ConvSummary> {
    let conv: i64 = row.try_get(0)?;
    let peer: String = row.try_get(1)?;
    let last = match row.try_get::<Option<i64>, _>(4)? {
        None => None,
        Some(msg_id) => {
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
                from: row.try_get(6)?,
                to,
                body: row.try_get(7)?,
                ts: row.try_get(8)?,
                cmid: text_column(row, 9)?,
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

#[async_trait]
impl Store for SqlStore {
    async fn create_user(&self, username: &str, password_hash: &str, now: i64) -> Result<UserId> {
        let mut conn = self.write_conn().await?;
        let insert = sqlx::query(sql(&self.q.create_user))
            .bind(username)
            .bind(password_hash)
            .bind(now);
        match self.insert_id(&mut conn, insert).await {
            Ok(id) => Ok(id),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(StoreError::UsernameTaken)
            }
            Err(e) => Err(self.err()(e)),
        }
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(sql(&self.q.user_by_name))
            .bind(username)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| {
            Ok(UserRecord {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
                password_hash: r.try_get(2)?,
            })
        })
        .transpose()
        .map_err(self.err())
    }

    async fn create_token(
        &self,
        token_hash: &[u8],
        user: UserId,
        device: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(sql(&self.q.create_token))
            .bind(token_hash.to_vec())
            .bind(user)
            .bind(device)
            .bind(now)
            .bind(expires_at)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn token(&self, token_hash: &[u8], now: i64) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(sql(&self.q.token))
            .bind(token_hash.to_vec())
            .bind(now)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| {
            Ok(TokenRecord {
                user_id: r.try_get(0)?,
                username: r.try_get(1)?,
                device: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            })
        })
        .transpose()
        .map_err(self.err())
    }

    async fn revoke_token(&self, token_hash: &[u8]) -> Result<()> {
        sqlx::query(sql(&self.q.revoke_token))
            .bind(token_hash.to_vec())
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    async fn purge_expired_tokens(&self, now: i64) -> Result<u64> {
        let done = sqlx::query(sql(&self.q.purge_tokens))
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(done.rows_affected())
    }

    async fn trim_tokens(&self, user: UserId, keep: u32) -> Result<u64> {
        // Two steps, not one DELETE with a subquery: MySQL can neither
        // LIMIT inside IN (...) nor delete from a table it selects from.
        let newest_first = self.backend.render(
            "SELECT token_hash FROM tokens WHERE user_id = ? \
             ORDER BY created_at DESC, token_hash DESC LIMIT ?",
        );
        let rows = sqlx::query(sql(&newest_first))
            .bind(user)
            .bind(i64::from(keep) + i64::from(crate::TRIM_TOKENS_MAX))
            .fetch_all(&self.writer)
            .await
            .map_err(self.err())?;
        let mut deleted = 0;
        for row in rows.iter().skip(keep as usize) {
            let hash: Vec<u8> = row.try_get(0).map_err(self.err())?;
            self.revoke_token(&hash).await?;
            deleted += 1;
        }
        Ok(deleted)
    }

    async fn live_tokens(
        &self,
        token_hashes: &[[u8; 32]],
        now: i64,
    ) -> Result<std::collections::HashSet<[u8; 32]>> {
        let mut live = std::collections::HashSet::new();
        // One query per chunk: the sweep stays a handful of trips even at
        // 100k connections. The query text depends only on the chunk size.
        for chunk in token_hashes.chunks(LIVE_TOKENS_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let q = self.backend.render(&format!(
                "SELECT token_hash FROM tokens WHERE expires_at > ? AND token_hash IN ({marks})"
            ));
            let mut query = sqlx::query(sql(&q)).bind(now);
            for hash in chunk {
                query = query.bind(hash.to_vec());
            }
            let rows = query.fetch_all(&self.readers).await.map_err(self.err())?;
            for row in rows {
                let hash: Vec<u8> = row.try_get(0).map_err(self.err())?;
                if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                    live.insert(hash);
                }
            }
        }
        Ok(live)
    }

    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Appended>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.write_conn().await?;
        // Before this batch, not after the last one: that one's acks
        // should not wait for it.
        self.restart_wal_if_due(&mut conn).await;
        let convs = self
            .direct_convs_for(&mut conn, batch)
            .await
            .map_err(self.err())?;
        // SQLite: synchronous=FULL makes each commit return after the WAL
        // is synced. PostgreSQL and MySQL: their default durable commit.
        if !batch::repeats_a_cmid(batch) {
            let mut tx = self.begin_write(&mut conn).await.map_err(self.err())?;
            match self.append_set(&mut tx, batch, &convs).await {
                Ok(appended) => {
                    tx.commit().await.map_err(self.err())?;
                    return Ok(appended);
                }
                // A retried message: redo the batch one message at a time.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    tx.rollback().await.map_err(self.err())?;
                }
                Err(e) => return Err(self.err()(e)),
            }
        }
        self.append_one_by_one(&mut conn, batch, &convs)
            .await
            .map_err(self.err())
    }

    async fn direct_conv(&self, a: UserId, b: UserId) -> Result<Option<ConvId>> {
        let (lo, hi) = ordered(a, b);
        let row = sqlx::query(sql(&self.q.conv_by_pair))
            .bind(lo)
            .bind(hi)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| r.try_get(0)).transpose().map_err(self.err())
    }

    async fn is_member(&self, user: UserId, conv: ConvId) -> Result<bool> {
        let row = sqlx::query(sql(&self.q.is_member))
            .bind(user)
            .bind(conv)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        Ok(row.is_some())
    }

    async fn conv_positions(&self, user: UserId) -> Result<Vec<(ConvId, Seq)>> {
        let rows = sqlx::query(sql(&self.q.positions))
            .bind(user)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn conversations(&self, user: UserId) -> Result<Vec<ConvSummary>> {
        let rows = sqlx::query(sql(&self.q.conversations))
            .bind(user)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|row| summary_from_row(row, user))
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn messages_after(&self, conv: ConvId, after: Seq, limit: u32) -> Result<Vec<Message>> {
        self.fetch_messages(&self.q.messages_after, conv, after, limit)
            .await
    }

    async fn messages_before(&self, conv: ConvId, before: Seq, limit: u32) -> Result<Vec<Message>> {
        // The query takes the newest `limit` (descending); callers get them ascending.
        let mut messages = self
            .fetch_messages(&self.q.messages_before, conv, before, limit)
            .await?;
        messages.reverse();
        Ok(messages)
    }

    async fn mark_read(&self, user: UserId, conv: ConvId, seq: Seq) -> Result<Option<Seq>> {
        let update = sqlx::query(sql(&self.q.mark_read))
            .bind(seq)
            .bind(user)
            .bind(conv);
        if self.backend.has_returning() {
            let row = update
                .fetch_optional(&self.writer)
                .await
                .map_err(self.err())?;
            return row.map(|r| r.try_get(0)).transpose().map_err(self.err());
        }
        let mut conn = self.write_conn().await?;
        let mut tx = self.begin_write(&mut conn).await.map_err(self.err())?;
        update.execute(&mut *tx).await.map_err(self.err())?;
        let row = sqlx::query(sql(&self.q.read_mark))
            .bind(user)
            .bind(conv)
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.err())?;
        tx.commit().await.map_err(self.err())?;
        row.map(|r| r.try_get(0)).transpose().map_err(self.err())
    }

    async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}
