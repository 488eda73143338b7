//! Shared harness for the end-to-end tests: a real server on ephemeral
//! loopback ports with its own temporary data directory, driven through the
//! client library.

#![allow(dead_code)]

use magpie_client::{Client, ClientError};
use magpie_proto::{Authenticated, Message, Push};
use magpie_server::{Config, RunningServer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tempfile::TempDir;

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub const PASSWORD: &str = "correct horse battery";

/// The two transports every behaviour is tested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Ws,
}

/// A running server and the directory it keeps its data in.
///
/// By default the server uses SQLite in a temporary directory. With
/// `MAGPIE_E2E_DATABASE` set to an admin URL without a database
/// (`postgres://postgres@127.0.0.1:5432`, `mysql://root@127.0.0.1:3306`),
/// each server gets a database of its own on that engine instead, dropped
/// when the test ends; `.ci/run` runs the suites that way for each engine.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: TempDir,
    database: Option<TestDatabase>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Start with a tweaked config (ephemeral ports and temp dir are set).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = TestDatabase::from_env().await;
        let mut config = Config::ephemeral(dir.path());
        config.database_url = database.as_ref().map(|d| d.url.clone());
        tweak(&mut config);
        let server = magpie_server::start(config).await.expect("server starts");
        TestServer {
            server: Some(server),
            dir,
            database,
        }
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("server is running")
    }

    pub fn url(&self, transport: Transport) -> String {
        let s = self.running();
        match transport {
            Transport::Tcp => format!("tcp://{}", s.tcp_addr()),
            Transport::Ws => format!("ws://{}/ws", s.http_addr()),
        }
    }

    /// Shut down gracefully and start again on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let mut config = Config::ephemeral(self.dir.path());
        config.database_url = self.database.as_ref().map(|d| d.url.clone());
        self.server = Some(magpie_server::start(config).await.expect("server restarts"));
    }
}

/// A database created for one test server on a real PostgreSQL or
/// MySQL/MariaDB, dropped when the test ends.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    async fn from_env() -> Option<TestDatabase> {
        let admin_url = std::env::var("MAGPIE_E2E_DATABASE").ok()?;
        Some(TestDatabase::create(&admin_url).await)
    }

    /// A fresh database on the engine behind `admin_url`.
    pub async fn create(admin_url: &str) -> TestDatabase {
        let admin_url = admin_url.trim_end_matches('/').to_string();
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "magpie_e2e_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
        TestDatabase {
            url: format!("{admin_url}/{name}"),
            admin_url,
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let drop_sql = if admin_url.starts_with("postgres") {
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        } else {
            format!("DROP DATABASE IF EXISTS {name}")
        };
        // Drop runs outside any async context: use a runtime of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(admin(&admin_url, &drop_sql));
            }
        })
        .join();
    }
}

/// Run one administrative statement on the engine behind `admin_url`.
async fn admin(admin_url: &str, statement: &str) {
    use sqlx::{Connection, Executor};
    let statement = sqlx::AssertSqlSafe(statement.to_string());
    if admin_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&format!("{admin_url}/postgres"))
            .await
            .expect("connect to PostgreSQL for MAGPIE_E2E_DATABASE");
        conn.execute(statement).await.expect("admin statement");
    } else {
        let mut conn = sqlx::MySqlConnection::connect(admin_url)
            .await
            .expect("connect to MySQL for MAGPIE_E2E_DATABASE");
        conn.execute(statement).await.expect("admin statement");
    }
}

/// A fresh username, unique within the test process.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}

pub async fn connect(url: &str) -> Client {
    tokio::time::timeout(WAIT, Client::connect(url))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// Register `name` (ignoring "already taken") and log in on a new connection.
pub async fn user(url: &str, name: &str) -> (Client, Authenticated) {
    let client = connect(url).await;
    match client.register(name, PASSWORD).await {
        Ok(_) => {}
        Err(e) if e.code() == Some(magpie_proto::ErrorCode::UsernameTaken) => {}
        Err(e) => panic!("register {name}: {e}"),
    }
    let auth = client.login(name, PASSWORD, None).await.expect("login");
    (client, auth)
}

/// The next message push, skipping other pushes; fails the test after WAIT.
pub async fn next_message(client: &mut Client) -> Message {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, client.next_push()).await {
            Ok(Some(Push::Message(m))) => return m,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("connection closed while waiting for a message"),
            Err(_) => panic!("no message within {WAIT:?}"),
        }
    }
}

/// Assert that no push arrives within a short while.
pub async fn assert_no_push(client: &mut Client) {
    if let Ok(Some(push)) =
        tokio::time::timeout(Duration::from_millis(300), client.next_push()).await
    {
        panic!("unexpected push {push:?}");
    }
}

/// The error code of a failed call, or a panic if it succeeded.
pub fn code_of<T: std::fmt::Debug>(result: Result<T, ClientError>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e
            .code()
            .map_or_else(|| format!("{e}"), |c| c.as_str().to_string()),
    }
}

/// Generate one `#[tokio::test]` per transport from an
/// `async fn(Transport)`.
#[macro_export]
macro_rules! on_both_transports {
    ($($name:ident),* $(,)?) => {
        mod tcp {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Transport::Tcp).await;
                }
            )*
        }
        mod ws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Transport::Ws).await;
                }
            )*
        }
    };
}
