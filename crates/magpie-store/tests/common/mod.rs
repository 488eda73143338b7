//! What the contract suites share: the [`Harness`] that gives each test a
//! fresh store on one backend (SQLite, PostgreSQL, MySQL/MariaDB), and the
//! few helpers every suite uses. Each test file includes it with
//! `mod common;`; everything here is used by every file that does, so the
//! module needs no `dead_code` allowance (keep it that way: a helper only
//! one suite needs belongs in that suite).

use magpie_proto::UserId;
use magpie_store::{PoolSettings, SqlStore, Store};
use std::path::PathBuf;
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------

/// How the suite gets at one backend: a fresh, empty store, and a way to
/// close it and open it again on the same data.
pub trait Harness: Sized {
    /// A new store over an empty database.
    async fn fresh() -> Self;
    /// The store under test.
    fn store(&self) -> &dyn Store;
    /// Close the store completely, then open a new one on the same data.
    async fn reopen(self) -> Self;
    /// Close the store and release the database.
    async fn close(self);
    /// A second store on the same database, as another node would open it.
    async fn another_node(&self) -> SqlStore;
}

/// SQLite in a file under a temporary directory.
pub struct SqliteHarness {
    // Keeps the directory (and the database in it) alive; removed on drop.
    _dir: TempDir,
    path: PathBuf,
    store: SqlStore,
}

impl Harness for SqliteHarness {
    async fn fresh() -> Self {
        let dir = TempDir::new().expect("create a temporary directory");
        let path = dir.path().join("magpie.db");
        let store = SqlStore::open_sqlite(&path)
            .await
            .expect("open a new SQLite store");
        SqliteHarness {
            _dir: dir,
            path,
            store,
        }
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn reopen(self) -> Self {
        let SqliteHarness { _dir, path, store } = self;
        store.close().await;
        drop(store);
        let store = SqlStore::open_sqlite(&path)
            .await
            .expect("reopen the SQLite store on the same file");
        SqliteHarness { _dir, path, store }
    }

    async fn close(self) {
        self.store.close().await;
    }

    async fn another_node(&self) -> SqlStore {
        SqlStore::open_sqlite(&self.path)
            .await
            .expect("second SQLite store")
    }
}

/// A database of its own on a real server (PostgreSQL or MariaDB), created
/// for one test and dropped after it (even if the test panicked), so tests
/// run in parallel and leave nothing behind. The server comes from an
/// environment variable naming an admin URL without a database path.
struct ServerHarness {
    db: magpie_testkit::TestDatabase,
    store: SqlStore,
}

impl ServerHarness {
    async fn create(admin_env: &str, default_admin: &str) -> ServerHarness {
        let admin_url = std::env::var(admin_env).unwrap_or_else(|_| default_admin.to_string());
        let db = magpie_testkit::TestDatabase::create(&admin_url).await;
        let store = connect(&db.url).await;
        ServerHarness { db, store }
    }

    async fn reopen_server(mut self) -> ServerHarness {
        self.store.close().await;
        self.store = self.second_store().await;
        self
    }

    async fn drop_database(self) {
        // Closing first lets the drop (when `db` goes) find no connections.
        self.store.close().await;
    }

    async fn second_store(&self) -> SqlStore {
        connect(&self.db.url).await
    }
}

async fn connect(url: &str) -> SqlStore {
    SqlStore::connect(url, &PoolSettings::default())
        .await
        .unwrap_or_else(|e| panic!("connect to the test database: {e}"))
}

/// PostgreSQL from `MAGPIE_TEST_POSTGRES` (default: local trust auth).
pub struct PostgresHarness(ServerHarness);
/// MySQL or MariaDB from `MAGPIE_TEST_MYSQL` (default: local root).
pub struct MySqlHarness(ServerHarness);

macro_rules! server_harness {
    ($name:ident, $env:literal, $default:literal) => {
        impl Harness for $name {
            async fn fresh() -> Self {
                $name(ServerHarness::create($env, $default).await)
            }
            fn store(&self) -> &dyn Store {
                &self.0.store
            }
            async fn reopen(self) -> Self {
                $name(self.0.reopen_server().await)
            }
            async fn close(self) {
                self.0.drop_database().await;
            }
            async fn another_node(&self) -> SqlStore {
                self.0.second_store().await
            }
        }
    };
}

server_harness!(
    PostgresHarness,
    "MAGPIE_TEST_POSTGRES",
    "postgres://postgres@127.0.0.1:5432"
);
server_harness!(
    MySqlHarness,
    "MAGPIE_TEST_MYSQL",
    "mysql://root@127.0.0.1:3306"
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A plausible timestamp (ms since the epoch) that tests count up from.
pub const T0: i64 = 1_700_000_000_000;

/// A PHC-looking password hash, unique per user so mix-ups show.
pub fn hash_for(name: &str) -> String {
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${name}aGFzaA")
}

pub async fn user(store: &dyn Store, name: &str) -> UserId {
    store
        .create_user(name, &hash_for(name), T0)
        .await
        .expect("create_user with a fresh name")
}

// ---------------------------------------------------------------------------
// Suites
// ---------------------------------------------------------------------------

/// Instantiate a contract suite on every backend: a module per engine
/// (`sqlite`; `postgres` and `mysql` ignored unless asked for, as
/// `.ci/run` does), with one test per function named. A `store:` function
/// takes `&dyn Store` on a fresh store; a `harness:` function takes the
/// harness itself (to reopen the store or open a second node).
macro_rules! contract_suite {
    (store: [$($test:ident),* $(,)?], harness: [$($htest:ident),* $(,)?] $(,)?) => {
        $crate::common::contract_suite!(@backend sqlite, $crate::common::SqliteHarness, [];
            [$($test),*]; [$($htest),*]);
        // The server engines run under `.ci/run`, which starts them;
        // locally: `cargo test -p magpie-store --test <suite> -- --ignored`.
        $crate::common::contract_suite!(@backend postgres, $crate::common::PostgresHarness,
            [#[ignore = "needs PostgreSQL; .ci/run runs it"]];
            [$($test),*]; [$($htest),*]);
        $crate::common::contract_suite!(@backend mysql, $crate::common::MySqlHarness,
            [#[ignore = "needs MySQL/MariaDB; .ci/run runs it"]];
            [$($test),*]; [$($htest),*]);
    };
    (@backend $backend:ident, $harness:ty, $attrs:tt; [$($test:ident),*]; [$($htest:ident),*]) => {
        mod $backend {
            use $crate::common::Harness as _;

            $( $crate::common::contract_suite!(@store $attrs, $harness, $test); )*
            $( $crate::common::contract_suite!(@harness $attrs, $harness, $htest); )*
        }
    };
    (@store [$(#[$attr:meta])*], $harness:ty, $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $test() {
            let harness = <$harness>::fresh().await;
            super::$test(harness.store()).await;
            harness.close().await;
        }
    };
    (@harness [$(#[$attr:meta])*], $harness:ty, $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $test() {
            super::$test(<$harness>::fresh().await).await;
        }
    };
}

pub(crate) use contract_suite;
