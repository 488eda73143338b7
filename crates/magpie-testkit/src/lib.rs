//! Test support for Magpie's integration suites. Tests use real engines,
//! never mocks: this crate creates what one test needs on them and removes
//! it afterwards, so that suites can run in parallel and leave nothing
//! behind.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A free loopback port (bound and released; fine for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Wait until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A database created for one test on a real PostgreSQL or MySQL/MariaDB,
/// dropped when the value is dropped (even if the test panicked).
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database, for `--database-url`.
    pub url: String,
}

impl TestDatabase {
    /// A fresh database on the engine behind `admin_url`, a URL without a
    /// database path (`postgres://postgres@127.0.0.1:5432`,
    /// `mysql://root@127.0.0.1:3306`).
    pub async fn create(admin_url: &str) -> TestDatabase {
        static N: AtomicUsize = AtomicUsize::new(0);
        let admin_url = admin_url.trim_end_matches('/').to_string();
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

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run an administrative statement on this database's server.
    pub async fn admin(&self, statement: &str) {
        admin(&self.admin_url, statement).await;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = if admin_url.starts_with("postgres") {
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)
        } else {
            format!("DROP DATABASE IF EXISTS {}", self.name)
        };
        // Drop runs outside any async context: use a runtime of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(admin(&admin_url, &statement));
            }
        })
        .join();
    }
}

/// Run one administrative statement on the engine behind `admin_url`.
pub async fn admin(admin_url: &str, statement: &str) {
    use sqlx::{Connection, Executor};
    let sql = sqlx::AssertSqlSafe(statement.to_string());
    if admin_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&format!("{admin_url}/postgres"))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is needed: {e}"));
        conn.execute(sql).await.expect(statement);
    } else {
        let mut conn = sqlx::MySqlConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("MySQL/MariaDB at {admin_url} is needed: {e}"));
        conn.execute(sql).await.expect(statement);
    }
}

/// Take SQLite's write lock on the database file at `path` and hold it for
/// `hold` in the background: every write the server attempts meanwhile
/// waits in SQLite's busy handler, which makes storage slow on demand.
/// Returns once the lock is held; the task ends when it is released.
pub async fn hold_sqlite_write_lock(
    path: &std::path::Path,
    hold: Duration,
) -> tokio::task::JoinHandle<()> {
    use sqlx::{Connection, Executor};
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    conn.execute("BEGIN IMMEDIATE").await.expect("write lock");
    tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        let _ = conn.execute("ROLLBACK").await;
        let _ = conn.close().await;
    })
}

/// The admin URL of the engine the end-to-end suites should use, from
/// `MAGPIE_E2E_DATABASE`, or local PostgreSQL.
pub fn e2e_admin_url() -> String {
    std::env::var("MAGPIE_E2E_DATABASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// A private `redis-server` on a port of its own, so a test can kill and
/// restart it without disturbing anything else.
#[derive(Debug)]
pub struct RedisProcess {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl RedisProcess {
    /// Start on a free port.
    pub fn start() -> RedisProcess {
        RedisProcess::start_on(free_port())
    }

    /// Start on `port` (to restart one that was killed).
    pub fn start_on(port: u16) -> RedisProcess {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for the cluster suites");
        wait_for_port(port, "redis-server");
        RedisProcess { child, port }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `magpie serve` child process, started from a prepared command and
/// killed when dropped. Its addresses come from the banner it prints
/// (`magpie serving: tcp://... ws://.../ws`), so it can use port 0.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// `tcp://host:port`
    pub tcp_url: String,
    /// `ws://host:port/ws`
    pub ws_url: String,
}

impl ServerProcess {
    /// `bin serve` on ephemeral loopback ports over `data_dir`, logging
    /// warnings only: the usual single-node test server.
    pub fn serve_command(bin: &str, data_dir: &std::path::Path) -> Command {
        let mut command = Command::new(bin);
        command
            .args(["serve", "--listen-tcp", "127.0.0.1:0"])
            .args(["--listen-http", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .env("MAGPIE_LOG", "warn");
        command
    }

    /// Spawn `command` (a `magpie serve ...` invocation) and wait for its
    /// banner.
    pub fn spawn(mut command: Command) -> ServerProcess {
        use std::io::BufRead;
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn magpie serve");
        let mut banner = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut banner)
            .expect("read the banner");
        let word = |prefix: &str| {
            banner
                .split_whitespace()
                .find(|w| w.starts_with(prefix))
                .unwrap_or_else(|| panic!("server did not start; banner {banner:?}"))
                .to_string()
        };
        ServerProcess {
            tcp_url: word("tcp://"),
            ws_url: word("ws://"),
            child,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL it and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM it (a graceful drain); does not wait.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
