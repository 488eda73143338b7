//! [`SqlStore`]: the one implementation of every storage area for all
//! three engines, on sqlx's `Any` driver. Engine differences are rendered
//! into each area's query table at open time (see `dialect`); the logic in
//! the area modules is shared.
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

mod accounts;
mod admin;
mod amend;
mod changes;
mod conv_settings;
mod conversations;
mod devices;
mod directory;
mod drive;
mod files;
mod groups;
mod messages;
mod people;
mod presence;
mod search;

use crate::dialect::Backend;
use crate::{Refusal, Result, StoreError};
use magpie_proto::{Message, MessageKind};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Connection, Executor, Row};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

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

/// Every fixed query, rendered for one engine, one table per area.
#[derive(Debug)]
struct Queries {
    accounts: accounts::Queries,
    conversations: conversations::Queries,
    conv_settings: conv_settings::Queries,
    messages: messages::Queries,
    people: people::Queries,
}

impl Queries {
    fn new(b: Backend) -> Queries {
        Queries {
            accounts: accounts::Queries::new(b),
            conversations: conversations::Queries::new(b),
            conv_settings: conv_settings::Queries::new(b),
            messages: messages::Queries::new(b),
            people: people::Queries::new(b),
        }
    }
}

// Transactions of the areas whose rules may refuse a change.

/// What can end a graph transaction early.
pub(super) enum TxError {
    Sql(sqlx::Error),
    Refused(Refusal),
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        TxError::Sql(e)
    }
}

impl From<Refusal> for TxError {
    fn from(r: Refusal) -> Self {
        TxError::Refused(r)
    }
}

pub(super) type Tx<T> = std::result::Result<T, TxError>;

/// Run `$call` (a `*_tx` method taking the connection first) in one write
/// transaction, committed if it succeeds.
macro_rules! graph {
    ($store:ident . $method:ident ( $($arg:expr),* )) => {{
        let mut conn = $store.write_conn().await?;
        let mut tx = $store.begin_write(&mut conn).await.map_err($store.err())?;
        let result = $store.$method(&mut tx, $($arg),*).await;
        $store.finish(tx, result).await
    }};
}

pub(super) use graph;

/// Wrap a rendered query for sqlx. Every query string comes from the
/// constant templates of this crate, never from input: input is always
/// bound.
fn sql(q: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(q.clone())
}

/// [`crate::Store`] on SQLite, PostgreSQL or MySQL/MariaDB.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
    writer: AnyPool,
    readers: AnyPool,
    q: Arc<Queries>,
    /// Statements whose text depends on a batch's shape (how many rows),
    /// rendered once per shape rather than once per batch.
    shapes: Arc<Shapes>,
    direct: Arc<conversations::PairCache>,
    /// The search index's connections: on SQLite a database file of its
    /// own (so indexing never takes the messages' one write lock), on the
    /// networked engines the main pool.
    search_writer: AnyPool,
    search_readers: AnyPool,
    /// SQLite: set by the checkpointer when the WAL is large and copied
    /// out; the writer then lets the WAL start over (see
    /// [`SqlStore::restart_wal_if_due`]).
    wal_restart_due: Arc<AtomicBool>,
}

/// Which multi-row statement a cached text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    SqliteAppend,
    LockConversations,
    UpdateHeads,
    InsertMessages,
    InsertedIds,
    UpdateReadMarks,
    ReadMarks,
    Ranges,
    MemberVersions,
}

/// Rendered multi-row statements by (shape, rows, second dimension).
#[derive(Debug, Default)]
struct Shapes {
    map: Mutex<HashMap<(Shape, usize, usize), Arc<str>>>,
}

/// Bound on cached statement texts; the cache is cleared when full. Batch
/// sizes cluster, so a few hundred shapes cover a busy server.
const SHAPES_MAX: usize = 1024;

impl Shapes {
    /// The text for `key`, rendered by `render` the first time.
    fn get(&self, key: (Shape, usize, usize), render: impl FnOnce() -> Arc<str>) -> Arc<str> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(text) = map.get(&key) {
            return text.clone();
        }
        if map.len() >= SHAPES_MAX {
            map.clear();
        }
        let text = render();
        map.insert(key, text.clone());
        text
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
        let (search_writer, search_readers) = open_sqlite_search(path).await?;
        Ok(SqlStore {
            backend: Backend::Sqlite,
            search_writer,
            search_readers,
            writer,
            readers,
            q: Arc::new(Queries::new(Backend::Sqlite)),
            shapes: Arc::default(),
            direct: Arc::default(),
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
            search_writer: pool.clone(),
            search_readers: pool.clone(),
            writer: pool.clone(),
            readers: pool,
            q: Arc::new(Queries::new(backend)),
            shapes: Arc::default(),
            direct: Arc::default(),
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

    /// End a graph transaction: commit on success, roll back on a
    /// refusal or an error.
    pub(super) async fn finish<T>(
        &self,
        tx: sqlx::Transaction<'_, sqlx::Any>,
        result: Tx<T>,
    ) -> Result<T> {
        match result {
            Ok(value) => {
                tx.commit().await.map_err(self.err())?;
                Ok(value)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                match e {
                    TxError::Sql(e) => Err(self.err()(e)),
                    TxError::Refused(r) => Err(StoreError::Refused(r)),
                }
            }
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
}

#[async_trait::async_trait]
impl crate::Store for SqlStore {
    async fn close(&self) {
        self.search_readers.close().await;
        self.search_writer.close().await;
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// The SQLite file of the search index beside the database at `path`:
/// `magpie.db` → `magpie-search.db`.
pub fn sqlite_search_path(path: &Path) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "magpie".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-search.db"))
}

/// Open (creating and migrating) the search index's own SQLite file:
/// one writer (the indexer) and a small read-only pool (queries). It is
/// derived data, rebuilt from the messages if lost, so commits are not
/// synced (`synchronous = NORMAL`: a crash can lose the last steps, never
/// corrupt the file) and SQLite checkpoints it by itself.
async fn open_sqlite_search(path: &Path) -> Result<(AnyPool, AnyPool)> {
    let sqlite_err = |e| classify(Backend::Sqlite, e);
    let search = sqlite_search_path(path);
    let url = |read_only: bool| {
        use sqlx::ConnectOptions;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&search)
            .create_if_missing(!read_only)
            .read_only(read_only);
        AnyConnectOptions::from_url(&options.to_url_lossy()).map_err(sqlite_err)
    };
    let writer = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 5000;",
                )
                .await
                .map(|_| ())
            })
        })
        .connect_with(url(false)?)
        .await
        .map_err(sqlite_err)?;
    sqlx::migrate!("./migrations/sqlite_search")
        .run(&writer)
        .await
        .map_err(|e| StoreError::Backend(format!("search index migration failed: {e}")))?;
    let readers = AnyPoolOptions::new()
        .max_connections(2)
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
    Ok((writer, readers))
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
/// [`text_column`] for a nullable column.
fn opt_text_column(row: &AnyRow, index: usize) -> sqlx::Result<Option<String>> {
    match row.try_get::<Option<String>, _>(index) {
        Ok(text) => Ok(text),
        Err(_) => row
            .try_get::<Option<Vec<u8>>, _>(index)?
            .map(|bytes| String::from_utf8(bytes).map_err(|e| sqlx::Error::Decode(Box::new(e))))
            .transpose(),
    }
}

fn text_column(row: &AnyRow, index: usize) -> sqlx::Result<String> {
    match row.try_get::<String, _>(index) {
        Ok(text) => Ok(text),
        Err(_) => String::from_utf8(row.try_get::<Vec<u8>, _>(index)?)
            .map_err(|e| sqlx::Error::Decode(Box::new(e))),
    }
}

/// The stored code of an entry kind.
fn kind_code(kind: MessageKind) -> i64 {
    match kind {
        MessageKind::Text => 1,
        MessageKind::Event => 2,
        MessageKind::File => 3,
        MessageKind::Image => 4,
        MessageKind::Voice => 5,
        MessageKind::Video => 6,
        MessageKind::Recall => 7,
        MessageKind::Edit => 8,
        MessageKind::Reaction => 9,
        MessageKind::Record => 10,
    }
}

/// The entry kind of a stored code. An unknown code is a newer server's
/// kind in a shared database: refuse rather than mislabel it.
fn kind_from_code(code: i64) -> sqlx::Result<MessageKind> {
    match code {
        1 => Ok(MessageKind::Text),
        2 => Ok(MessageKind::Event),
        3 => Ok(MessageKind::File),
        4 => Ok(MessageKind::Image),
        5 => Ok(MessageKind::Voice),
        6 => Ok(MessageKind::Video),
        7 => Ok(MessageKind::Recall),
        8 => Ok(MessageKind::Edit),
        9 => Ok(MessageKind::Reaction),
        10 => Ok(MessageKind::Record),
        other => Err(sqlx::Error::Decode(
            format!("unknown message kind {other}").into(),
        )),
    }
}

/// The SELECT that makes a [`Message`], in [`message_from_row`] order.
/// It joins only the sender: entries are addressed by conversation, and
/// nothing here depends on the kind of conversation.
const MESSAGE_SELECT: &str = "SELECT m.id, m.conv_id, m.seq, m.kind, s.username, m.body, m.ts, m.cmid, \
            m.mentions, m.attachment, m.target, m.edited_ts, m.recalled, m.reactions, m.reply, \
            m.forward \
     FROM messages m JOIN users s ON s.id = m.sender_id";

/// A JSON column decoded as `T`; `None` when NULL or unreadable (a value
/// this build cannot read is left out rather than failing the page).
fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    index: usize,
) -> sqlx::Result<Option<T>> {
    Ok(opt_text_column(row, index)?.and_then(|text| serde_json::from_str(&text).ok()))
}

fn message_from_row(row: &AnyRow) -> sqlx::Result<Message> {
    let kind = kind_from_code(row.try_get(3)?)?;
    let body: String = row.try_get(5)?;
    // An event entry stores its event as JSON in `body`; it is sent as
    // the `event` object, kept as a JSON value so that a newer server's
    // event type passes through unchanged. A reaction entry stores what
    // it changed the same way.
    let (body, event, reaction) = match kind {
        MessageKind::Event => {
            let event =
                serde_json::from_str(&body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            (String::new(), Some(event), None)
        }
        MessageKind::Reaction => (String::new(), None, serde_json::from_str(&body).ok()),
        _ => (body, None, None),
    };
    let conv = row.try_get(1)?;
    let seq = row.try_get(2)?;
    let file = json_column::<magpie_proto::FileInfo>(row, 9)?.map(|file| {
        Box::new(magpie_proto::FileInfo {
            conv: Some(conv),
            seq: Some(seq),
            ..file
        })
    });
    let (mentions, mention_all) = match opt_text_column(row, 8)? {
        Some(text) => crate::Mentions::names_from_json(&text),
        None => (Vec::new(), false),
    };
    // `forward` holds a chat record's items (an array) or a forwarded
    // message's mark (an object).
    let (forwarded, record) = match kind {
        MessageKind::Record => (None, json_column(row, 15)?.unwrap_or_default()),
        _ => (json_column(row, 15)?, Vec::new()),
    };
    Ok(Message {
        msg_id: row.try_get(0)?,
        conv,
        seq,
        kind,
        from: row.try_get(4)?,
        body,
        ts: row.try_get(6)?,
        cmid: text_column(row, 7)?,
        event,
        mentions,
        mention_all,
        file,
        target: row.try_get(10)?,
        reaction,
        reply: json_column(row, 14)?.map(Box::new),
        forwarded,
        record,
        edited_ts: row.try_get(11)?,
        recalled: json_column(row, 12)?,
        reactions: crate::amend::counts_from_json(opt_text_column(row, 13)?.as_deref()),
    })
}
