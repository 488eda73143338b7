//! Server configuration: the typed, validated settings the server runs with.
//! Parsing flags, environment and TOML files is the binary's job; this crate
//! only receives the result.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server needs to start. `Default` gives the documented
/// defaults (see README.md).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the SQLite database lives (created if missing), when no
    /// `database_url` is given.
    pub data_dir: PathBuf,
    /// Embedded SQLite only: sync every commit to disk (`true`, the
    /// default: an ack survives a power cut) or only survive process
    /// crashes (`false`, faster; the last acks may be lost in a power cut).
    pub durable: bool,
    /// A shared database instead of the embedded one:
    /// `postgres://user:pass@host/db` or `mysql://user:pass@host/db`.
    pub database_url: Option<String>,
    /// Most connections this node opens to a shared database.
    pub db_max_connections: u32,
    /// Redis for cluster mode (`redis://host:6379`): nodes sharing one
    /// database and one Redis deliver to each other's clients.
    pub redis_url: Option<String>,
    /// Names the cluster's keys and channel in Redis, so that several
    /// clusters can share one Redis.
    pub cluster_name: String,
    /// Raw TCP listener (length-prefixed JSON frames).
    pub listen_tcp: SocketAddr,
    /// HTTP listener: WebSocket at /ws, /healthz, and /metrics unless
    /// `listen_metrics` moves it elsewhere.
    pub listen_http: SocketAddr,
    /// A separate listener for /metrics only (e.g. on a private address).
    /// When set, the main HTTP listener answers 404 for /metrics.
    pub listen_metrics: Option<SocketAddr>,
    /// When set, /metrics requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Browser origins (`https://chat.example.com`) allowed to open /ws
    /// besides the server's own (an Origin that matches the Host header).
    /// `*` allows any. Requests without an Origin (non-browser clients) are
    /// always allowed.
    pub ws_allowed_origins: Vec<String>,
    /// Largest frame payload accepted from a client.
    pub max_frame_bytes: usize,
    /// Largest message body accepted in `send`.
    pub max_body_bytes: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A write to a client that does not finish in this long closes it.
    pub write_timeout: Duration,
    /// How long a login token stays valid.
    pub token_ttl: Duration,
    /// Frames queued for one connection before it counts as too slow and
    /// is disconnected (it then recovers what it missed with `sync`).
    pub send_queue: usize,
    /// Bytes of pushes queued for one connection before it counts as too
    /// slow (one frame of any size is always accepted into an empty queue).
    pub max_queue_bytes: usize,
    /// Bytes of pushes queued for all connections together; a push that
    /// would exceed it disconnects its connection as too slow.
    pub max_queue_bytes_total: usize,
    /// Unacknowledged `send`s one connection may have in flight; beyond it
    /// the server stops reading that connection until acks go out.
    pub max_inflight_sends: usize,
    /// Other requests (`sync`, `history`, `conversations`, `read`) one
    /// connection may have in flight; beyond it the server stops reading
    /// that connection until answers go out.
    pub max_inflight_queries: usize,
    /// Most messages committed in one transaction (group commit).
    pub max_batch: usize,
    /// On shutdown, how long to wait for connections to finish.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("magpie-data"),
            durable: true,
            database_url: None,
            db_max_connections: 16,
            redis_url: None,
            cluster_name: "magpie".to_string(),
            listen_tcp: SocketAddr::from(([0, 0, 0, 0], 7070)),
            listen_http: SocketAddr::from(([0, 0, 0, 0], 7071)),
            listen_metrics: None,
            metrics_token: None,
            ws_allowed_origins: Vec::new(),
            max_frame_bytes: magpie_proto::frame::DEFAULT_MAX_FRAME_BYTES,
            max_body_bytes: magpie_proto::frame::DEFAULT_MAX_BODY_BYTES,
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            send_queue: 1024,
            max_queue_bytes: 2 * 1024 * 1024,
            max_queue_bytes_total: 1024 * 1024 * 1024,
            max_inflight_sends: 256,
            max_inflight_queries: 16,
            max_batch: 512,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// A config for tests and embedding: loopback, ephemeral ports.
    pub fn ephemeral(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            listen_tcp: SocketAddr::from(([127, 0, 0, 1], 0)),
            listen_http: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Config::default()
        }
    }

    /// Reject settings the server cannot run with, with a reason.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_frame_bytes < 1024 {
            return Err("max_frame_bytes must be at least 1024".into());
        }
        // A body can grow sixfold in JSON (each control byte becomes
        // \u00XX); one message must always fit in one frame.
        if self.max_body_bytes == 0
            || self.max_body_bytes.saturating_mul(6).saturating_add(1024) > self.max_frame_bytes
        {
            return Err(
                "max_body_bytes must be positive and at most (max_frame_bytes - 1024) / 6".into(),
            );
        }
        if self.idle_timeout < Duration::from_secs(1) {
            return Err("idle_timeout must be at least 1 second".into());
        }
        if self.send_queue == 0
            || self.max_inflight_sends == 0
            || self.max_inflight_queries == 0
            || self.max_batch == 0
        {
            return Err(
                "send_queue, max_inflight_sends, max_inflight_queries and max_batch must be positive"
                    .into(),
            );
        }
        if self.max_queue_bytes == 0 || self.max_queue_bytes_total < self.max_queue_bytes {
            return Err(
                "max_queue_bytes must be positive and at most max_queue_bytes_total".into(),
            );
        }
        if let Some(url) = &self.database_url
            && magpie_store::Backend::from_url(url).is_none()
        {
            return Err(
                "database_url must start with postgres://, mysql://, mariadb:// or sqlite://"
                    .into(),
            );
        }
        if self.cluster_name.is_empty()
            || !self
                .cluster_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err("cluster_name must be non-empty: a-z, A-Z, 0-9, '_', '-', '.'".into());
        }
        if self.redis_url.is_some() && self.database_url.is_none() {
            return Err(
                "cluster mode (redis_url) needs a shared database_url: every node must see the same data"
                    .into(),
            );
        }
        if self.db_max_connections == 0 {
            return Err("db_max_connections must be positive".into());
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.is_empty()) {
            return Err("metrics_token must not be empty".into());
        }
        if let Some(bad) = self
            .ws_allowed_origins
            .iter()
            .find(|o| o.as_str() != "*" && o.as_str() != "null" && !o.contains("://"))
        {
            return Err(format!(
                "ws_allowed_origins: {bad:?} is not an origin (scheme://host[:port], \"null\" or \"*\")"
            ));
        }
        if self.token_ttl < Duration::from_secs(60) {
            return Err("token_ttl must be at least a minute".into());
        }
        Ok(())
    }
}
