//! Server configuration: the typed, validated settings the server runs with.
//! Parsing flags, environment and TOML files is the binary's job; this crate
//! only receives the result.

pub use crate::throttle::RateLimit;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Who may start a 1:1 conversation with whom. Blocks apply in every
/// mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MessagingPolicy {
    /// Anyone may message anyone.
    #[default]
    Open,
    /// Only friends may message each other; others get `not_allowed`.
    Friends,
    /// Members of the organisation (users in the directory) may message
    /// each other; anyone else needs a friendship.
    Organisation,
}

/// How accounts come to exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServerMode {
    /// Anyone may `register`; the directory is optional.
    #[default]
    Public,
    /// Accounts are created by administrators (`magpie admin`); `register`
    /// answers `registration_closed`.
    Enterprise,
}

impl std::str::FromStr for ServerMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(ServerMode::Public),
            "enterprise" => Ok(ServerMode::Enterprise),
            other => Err(format!(
                "mode must be \"public\" or \"enterprise\", not {other:?}"
            )),
        }
    }
}

impl std::str::FromStr for MessagingPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(MessagingPolicy::Open),
            "friends" => Ok(MessagingPolicy::Friends),
            "organisation" | "organization" => Ok(MessagingPolicy::Organisation),
            other => Err(format!(
                "messaging must be \"open\", \"friends\" or \"organisation\", not {other:?}"
            )),
        }
    }
}

/// The longest token lifetime accepted.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

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
    /// Most members a new group may have.
    pub group_member_limit: u32,
    /// Largest file accepted, in bytes (tus `Tus-Max-Size`).
    pub max_file_bytes: u64,
    /// Bytes of stored content one user's files may reference.
    pub quota_bytes: u64,
    /// How long an unfinished upload may be resumed.
    pub upload_ttl: Duration,
    /// Most unfinished uploads one user may have open.
    pub max_open_uploads: u32,
    /// Keep file content in S3-compatible object storage instead of
    /// `<data_dir>/files/blobs` (what a cluster's nodes share).
    pub s3: Option<S3Config>,
    /// How long deleted drive entries stay in the bin before they are
    /// purged.
    pub drive_bin_retention: Duration,
    /// Most entries (folders and files, bin included) in one user's drive.
    pub max_drive_entries: u64,
    /// How long after sending a message its sender may recall it (group
    /// owners and admins may recall members' messages at any time).
    pub recall_window: Duration,
    /// How long after sending a text message its sender may edit it.
    pub edit_window: Duration,
    /// Typing indicators work in 1:1 conversations and in groups of at
    /// most this many members (0: in no group): in a large group they
    /// would cost a push to every member's devices per keystroke burst
    /// and tell nobody much.
    pub typing_max_members: u32,
    /// How long a `typing` notice holds without a renewal (its `ttl_ms`):
    /// clients renew at about half of it while typing, and receivers
    /// clear the indicator when it passes.
    pub typing_ttl: Duration,
    /// On shutdown, how long to wait for connections to finish.
    pub shutdown_grace: Duration,
    /// Run the search indexer on this node. In a cluster one node at a
    /// time indexes (a lease in the database), so every node may leave
    /// it on; turning it off everywhere leaves new messages findable only
    /// while they are among the newest `search_tail` entries.
    pub search_indexer: bool,
    /// How often an idle search indexer looks for new entries.
    pub search_index_interval: Duration,
    /// The newest entries not yet indexed that each search scans
    /// directly, so that a message is found as soon as it is acked (0:
    /// the index only).
    pub search_tail: usize,
    /// Searches one node runs at once; more answer `overloaded`.
    pub search_concurrency: usize,

    // Throttling and session limits (docs/DEPLOY.md, "Limits"). For the
    // counts, 0 means no limit.
    /// Most open connections on this node, both transports together.
    pub max_connections: usize,
    /// Most open connections from one client address (an IPv6 client
    /// counts per /64).
    pub max_connections_per_ip: usize,
    /// Most authenticated connections of one user on this node.
    pub max_sessions_per_user: usize,
    /// Most live tokens per user: a login revokes the user's oldest tokens
    /// beyond it.
    pub max_tokens_per_user: usize,
    /// `register`, `login` and `resume` attempts per client address.
    pub auth_rate_per_ip: RateLimit,
    /// `login` attempts per account name.
    pub login_rate_per_account: RateLimit,
    /// Messages one user may send (per node).
    pub send_rate_per_user: RateLimit,
    /// `search` requests one user may make (per node).
    pub search_rate_per_user: RateLimit,
    /// Changes to the contact graph and profile (friend requests and
    /// answers, blocks, categories, `profile_set`) one user may make (per
    /// node): each may push to many devices.
    pub people_rate_per_user: RateLimit,
    /// Extraction codes tried per client address, over all share links
    /// (each link also refuses codes after 10 wrong ones in 10 minutes).
    pub share_code_rate_per_ip: RateLimit,
    /// `typing` notices one user may send (per node), over all their
    /// conversations: each is pushed to every other member's devices.
    pub typing_rate_per_user: RateLimit,
    /// Who may message whom (`open`, `friends` or `organisation`).
    pub messaging: MessagingPolicy,
    /// `public` (open registration) or `enterprise` (accounts created by
    /// administrators).
    pub mode: ServerMode,
    /// Platforms that keep one signed-in device per user: a login on one
    /// signs the user's other devices of that platform out (`goaway`
    /// reason `replaced`).
    pub exclusive_platforms: Vec<magpie_proto::Platform>,
    /// Password hashes that may wait for a hashing thread; beyond it
    /// `register` and `login` answer `overloaded`.
    pub hash_queue: usize,
    /// A connection that has not logged in (or resumed) this long after it
    /// opened, or after its logout, is closed.
    pub auth_timeout: Duration,
    /// How often every node re-checks the tokens of its sessions, closing
    /// those whose token was revoked: the bound on a revoked session's life
    /// when the cluster bus lost the logout.
    pub token_check_interval: Duration,
    /// Reverse proxies whose `X-Forwarded-For`/`X-Real-IP` name the client
    /// (WebSocket). Connections from them with no such header, e.g. TCP
    /// through a stream proxy, get no per-address limits.
    pub trusted_proxies: Vec<IpAddr>,
}

/// An S3-compatible bucket for file content.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// The service's URL, e.g. `http://127.0.0.1:9000` for a local server;
    /// empty for AWS itself.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Config {
    /// Never shows the secret key (configs get logged).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
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
            group_member_limit: magpie_proto::limits::GROUP_MEMBER_LIMIT_DEFAULT,
            max_file_bytes: 4 * 1024 * 1024 * 1024,
            quota_bytes: 20 * 1024 * 1024 * 1024,
            upload_ttl: Duration::from_secs(24 * 3600),
            max_open_uploads: 20,
            drive_bin_retention: Duration::from_secs(30 * 24 * 3600),
            max_drive_entries: 100_000,
            recall_window: Duration::from_secs(120),
            edit_window: Duration::from_secs(24 * 3600),
            typing_max_members: 50,
            typing_ttl: Duration::from_secs(6),
            s3: None,
            shutdown_grace: Duration::from_secs(10),
            search_indexer: true,
            search_index_interval: Duration::from_millis(500),
            search_tail: 2_000,
            search_concurrency: 8,

            max_connections: 100_000,
            max_connections_per_ip: 256,
            max_sessions_per_user: 64,
            max_tokens_per_user: 100,
            auth_rate_per_ip: RateLimit::per_second(10, 100),
            login_rate_per_account: RateLimit::per_minute(10, 10),
            send_rate_per_user: RateLimit::per_second(50, 200),
            search_rate_per_user: RateLimit::per_second(1, 10),
            people_rate_per_user: RateLimit::per_second(2, 30),
            share_code_rate_per_ip: RateLimit::per_minute(20, 20),
            typing_rate_per_user: RateLimit::per_second(3, 10),
            messaging: MessagingPolicy::Open,
            mode: ServerMode::Public,
            exclusive_platforms: vec![magpie_proto::Platform::Mobile],
            hash_queue: 64,
            auth_timeout: Duration::from_secs(10),
            token_check_interval: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
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
        if self.max_drive_entries == 0 || self.drive_bin_retention.is_zero() {
            return Err("max_drive_entries and drive_bin_retention must be positive".into());
        }
        if self.max_file_bytes == 0 || self.quota_bytes == 0 || self.max_open_uploads == 0 {
            return Err("max_file_bytes, quota_bytes and max_open_uploads must be positive".into());
        }
        if self.upload_ttl < Duration::from_secs(1) {
            return Err("upload_ttl must be at least 1 second".into());
        }
        if self.typing_ttl < Duration::from_secs(1) || self.typing_ttl > Duration::from_secs(60) {
            return Err("typing_ttl must be between 1 and 60 seconds".into());
        }
        if self.search_concurrency == 0 {
            return Err("search_concurrency must be positive".into());
        }
        if self.search_index_interval < Duration::from_millis(10) {
            return Err("search_index_interval must be at least 10 ms".into());
        }
        if self.group_member_limit < 2 {
            return Err("group_member_limit must be at least 2".into());
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
        // `magpie serve` demands a minute; tests and embedders may go lower.
        // The session's expiry timer needs a bounded deadline, and a token
        // that outlives a year is a password in all but name.
        if self.token_ttl < Duration::from_secs(1) || self.token_ttl > MAX_TOKEN_TTL {
            return Err("token_ttl must be between a second and 365 days".into());
        }
        if self.hash_queue == 0 {
            return Err("hash_queue must be positive".into());
        }
        if self.auth_timeout < Duration::from_millis(100) {
            return Err("auth_timeout must be at least 100 ms".into());
        }
        if self.token_check_interval < Duration::from_millis(100) {
            return Err("token_check_interval must be at least 100 ms".into());
        }
        Ok(())
    }
}
