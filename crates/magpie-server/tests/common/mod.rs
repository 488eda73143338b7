//! Shared harness for the end-to-end tests: a real server on ephemeral
//! loopback ports with its own temporary data directory, driven through the
//! client library.

#![allow(dead_code)]

use magpie_client::{Client, ClientError};
use magpie_proto::{Authenticated, Change, GoAway, History, HistoryOk, Message, Push};
use magpie_server::{Config, RunningServer};
pub use magpie_testkit::TestDatabase;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
        let database = match std::env::var("MAGPIE_E2E_DATABASE") {
            Ok(admin_url) => Some(TestDatabase::create(&admin_url).await),
            Err(_) => None,
        };
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

    /// Start a server on this one's data (which must be stopped) with a
    /// tweaked config.
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let mut config = Config::ephemeral(self.dir.path());
        config.database_url = self.database.as_ref().map(|d| d.url.clone());
        tweak(&mut config);
        self.server = Some(magpie_server::start(config).await.expect("server restarts"));
        self
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

/// The next `change` push, skipping others; fails after WAIT.
pub async fn next_change(client: &mut Client) -> Change {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, client.next_push()).await {
            Ok(Some(Push::Change(c))) => return c,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("connection closed while waiting for a change"),
            Err(_) => panic!("no change within {WAIT:?}"),
        }
    }
}

/// Assert that nothing was pushed to `client` before a marker: `marker`
/// (a connection of another user) sends `client`'s user a message, which
/// must be the next push `client` gets. A server routes its commits in
/// order, so a push owed to `client` from before would arrive first:
/// unlike waiting a while for nothing, this cannot pass by luck of timing.
pub async fn assert_no_push_before_marker(client: &mut Client, marker: &Client, to: &str) {
    let body = format!("marker {}", uuid::Uuid::new_v4());
    let ack = marker.send(to, &body).await.expect("marker send");
    let deadline = tokio::time::Instant::now() + WAIT;
    match tokio::time::timeout_at(deadline, client.next_push()).await {
        Ok(Some(Push::Message(m))) if m.body == body => assert_eq!(m.seq, ack.seq),
        Ok(Some(push)) => panic!("unexpected push before the marker: {push:?}"),
        Ok(None) => panic!("connection closed while waiting for the marker"),
        Err(_) => panic!("no marker within {WAIT:?}"),
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

/// A bare TCP connection that speaks frames by hand, for what the client
/// library would never send.
pub struct RawTcp(pub TcpStream);

impl RawTcp {
    pub async fn connect(server: &TestServer) -> RawTcp {
        RawTcp(
            TcpStream::connect(server.running().tcp_addr())
                .await
                .expect("connect"),
        )
    }

    pub async fn write_frame(&mut self, payload: impl AsRef<[u8]>) {
        let payload = payload.as_ref();
        let mut buf = (payload.len() as u32).to_be_bytes().to_vec();
        buf.extend_from_slice(payload);
        self.0.write_all(&buf).await.expect("write");
    }

    /// The next frame, or None once the server has closed the connection.
    pub async fn read_frame(&mut self) -> Option<Value> {
        let mut len = [0u8; 4];
        tokio::time::timeout(WAIT, self.0.read_exact(&mut len))
            .await
            .expect("frame in time")
            .ok()?;
        let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
        self.0.read_exact(&mut payload).await.expect("payload");
        Some(serde_json::from_slice(&payload).expect("server sends JSON"))
    }

    pub async fn request(&mut self, json: impl AsRef<[u8]>) -> Value {
        self.write_frame(json).await;
        self.read_frame().await.expect("response")
    }

    pub async fn hello(&mut self) {
        let r = self
            .request(r#"{"id":1,"op":"hello","args":{"version":1}}"#)
            .await;
        assert_eq!(r["result"]["version"], 1, "{r}");
    }

    pub async fn login(&mut self, user: &str) {
        let r = self
            .request(format!(
                r#"{{"id":2,"op":"login","args":{{"user":"{user}","password":"{PASSWORD}"}}}}"#
            ))
            .await;
        assert!(r["result"]["token"].is_string(), "{r}");
    }

    /// True if the server closes the connection within WAIT.
    pub async fn closed_by_server(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(WAIT, self.0.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// GET a path with a hand-written HTTP/1.1 request: (status, body).
pub async fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    bearer: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut response = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut response))
        .await
        .expect("in time")
        .expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

/// The next goaway of a connection, skipping other pushes.
pub async fn next_goaway(client: &mut Client) -> GoAway {
    tokio::time::timeout(WAIT, async {
        loop {
            match client.next_push().await {
                Some(Push::Goaway(g)) => return g,
                Some(_) => continue,
                None => panic!("closed without goaway"),
            }
        }
    })
    .await
    .expect("goaway in time")
}

/// The newest page of `client`'s 1:1 history with `peer`, default size.
pub async fn newest_history(client: &Client, peer: &str) -> HistoryOk {
    client
        .history(History {
            peer: Some(peer.to_string()),
            ..History::default()
        })
        .await
        .expect("history")
}

/// Nodes of one cluster's file area: they share a database (on the engine
/// `MAGPIE_E2E_DATABASE` names) and a new bucket of the S3-compatible
/// server `MAGPIE_TEST_S3` names. Each node has a data directory of its
/// own (`dirs`), as on separate machines.
pub struct S3Cluster {
    pub nodes: Vec<RunningServer>,
    pub dirs: Vec<TempDir>,
    _database: TestDatabase,
}

impl S3Cluster {
    pub async fn start(count: usize) -> S3Cluster {
        let endpoint = std::env::var("MAGPIE_TEST_S3").expect("MAGPIE_TEST_S3 names the S3 server");
        let admin = std::env::var("MAGPIE_E2E_DATABASE").expect("a shared database engine");
        let bucket = format!("magpie-{}", magpie_server::files::new_id());
        let made = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("create the bucket");
        assert!(made.status().is_success(), "{}", made.status());
        let database = TestDatabase::create(&admin).await;
        let mut nodes = Vec::new();
        let mut dirs = Vec::new();
        for _ in 0..count {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut config = Config::ephemeral(dir.path());
            config.database_url = Some(database.url.clone());
            config.s3 = Some(magpie_server::config::S3Config {
                bucket: bucket.clone(),
                endpoint: endpoint.clone(),
                region: "us-east-1".into(),
                access_key_id: "test".into(),
                secret_access_key: "test".into(),
            });
            nodes.push(magpie_server::start(config).await.expect("node starts"));
            dirs.push(dir);
        }
        S3Cluster {
            nodes,
            dirs,
            _database: database,
        }
    }

    pub async fn shutdown(self) {
        for node in self.nodes {
            node.shutdown().await;
        }
    }
}

/// `len` bytes of a seed-dependent pattern that no two seeds share.
pub fn random_bytes(len: usize, seed: u8) -> Vec<u8> {
    // A cheap, seed-dependent pattern that no two files share.
    let mut state = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Every file under the server's local blob storage.
pub fn blob_files(server: &TestServer) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&server.dir.path().join("files/blobs"), &mut out);
    out
}
