//! `magpie serve`: settings from flags, environment and a TOML file, merged
//! in that order of precedence over the built-in defaults.

use anyhow::Context;
use magpie_server::Config;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Server settings. Every field can come from a flag, an environment
/// variable or the `--config` TOML file (same names, with underscores).
#[derive(clap::Args, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// TOML file with any of the settings below; flags and environment
    /// variables override it.
    #[arg(long, env = "MAGPIE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Directory for the database [default: ./magpie-data].
    #[arg(long, env = "MAGPIE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Embedded SQLite: "full" syncs every commit (an ack survives a power
    /// cut), "normal" only survives process crashes (faster) [default: full].
    #[arg(long, env = "MAGPIE_SQLITE_SYNC", value_parser = ["full", "normal"])]
    pub sqlite_sync: Option<String>,
    /// Shared database instead of the embedded SQLite: postgres://... or
    /// mysql://... (mariadb:// also accepted) [default: none].
    #[arg(long, env = "MAGPIE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Most connections to the shared database [default: 16].
    #[arg(long, env = "MAGPIE_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,
    /// Redis for cluster mode: redis://host:6379 (needs --database-url) [default: none].
    #[arg(long, env = "MAGPIE_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Cluster name: prefixes the cluster's keys in Redis [default: magpie].
    #[arg(long, env = "MAGPIE_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// Raw TCP listener address [default: 0.0.0.0:7070].
    #[arg(long, env = "MAGPIE_LISTEN_TCP")]
    pub listen_tcp: Option<SocketAddr>,
    /// HTTP listener (WebSocket at /ws, /healthz, /metrics) [default: 0.0.0.0:7071].
    #[arg(long, env = "MAGPIE_LISTEN_HTTP")]
    pub listen_http: Option<SocketAddr>,
    /// Serve /metrics only on this separate address (e.g. 127.0.0.1:9090);
    /// the HTTP listener then answers 404 for /metrics [default: none].
    #[arg(long, env = "MAGPIE_LISTEN_METRICS")]
    pub listen_metrics: Option<SocketAddr>,
    /// Require "Authorization: Bearer TOKEN" for /metrics [default: none].
    #[arg(long, env = "MAGPIE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Comma-separated browser origins (https://app.example.com) allowed to
    /// open /ws besides the server's own; "*" allows any. Requests without
    /// an Origin header are always allowed [default: same origin only].
    #[arg(long, env = "MAGPIE_WS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub ws_allowed_origins: Option<Vec<String>>,
    /// Largest frame a client may send, in bytes [default: 1048576].
    #[arg(long, env = "MAGPIE_MAX_FRAME_BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// Largest message body, in bytes [default: 65536].
    #[arg(long, env = "MAGPIE_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Close connections silent for this many seconds [default: 60].
    #[arg(long, env = "MAGPIE_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Login tokens expire after this many seconds [default: 2592000 (30 days)].
    #[arg(long, env = "MAGPIE_TOKEN_TTL_SECS")]
    pub token_ttl_secs: Option<u64>,
    /// Frames queued per connection before it is dropped as too slow [default: 1024].
    #[arg(long, env = "MAGPIE_SEND_QUEUE")]
    pub send_queue: Option<usize>,
    /// Bytes of pushes queued per connection before it is dropped as too
    /// slow [default: 2097152].
    #[arg(long, env = "MAGPIE_MAX_QUEUE_BYTES")]
    pub max_queue_bytes: Option<usize>,
    /// Bytes of pushes queued for all connections together; a push beyond
    /// it drops its connection as too slow [default: 1073741824].
    #[arg(long, env = "MAGPIE_MAX_QUEUE_BYTES_TOTAL")]
    pub max_queue_bytes_total: Option<usize>,
    /// Unacknowledged sends per connection before the server stops reading
    /// it until acks go out [default: 256].
    #[arg(long, env = "MAGPIE_MAX_INFLIGHT_SENDS")]
    pub max_inflight_sends: Option<usize>,
    /// Other requests in flight per connection (sync, history,
    /// conversations, read) before the server stops reading it until
    /// answers go out [default: 16].
    #[arg(long, env = "MAGPIE_MAX_INFLIGHT_QUERIES")]
    pub max_inflight_queries: Option<usize>,
    /// Close a connection whose writes do not finish in this many seconds [default: 10].
    #[arg(long, env = "MAGPIE_WRITE_TIMEOUT_SECS")]
    pub write_timeout_secs: Option<u64>,
    /// Most messages per group-commit transaction [default: 512].
    #[arg(long, env = "MAGPIE_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Most members a new group may have [default: 2000].
    #[arg(long, env = "MAGPIE_GROUP_MEMBER_LIMIT")]
    pub group_member_limit: Option<u32>,
    /// Largest file accepted, in bytes [default: 4 GiB].
    #[arg(long, env = "MAGPIE_MAX_FILE_BYTES")]
    pub max_file_bytes: Option<u64>,
    /// Bytes of stored content one user's files may reference [default: 20 GiB].
    #[arg(long, env = "MAGPIE_QUOTA_BYTES")]
    pub quota_bytes: Option<u64>,
    /// Seconds an unfinished upload may be resumed [default: 86400].
    #[arg(long, env = "MAGPIE_UPLOAD_TTL_SECS")]
    pub upload_ttl_secs: Option<u64>,
    /// Most unfinished uploads one user may have open [default: 20].
    #[arg(long, env = "MAGPIE_MAX_OPEN_UPLOADS")]
    pub max_open_uploads: Option<u32>,
    /// Days deleted drive entries stay in the bin [default: 30].
    #[arg(long, env = "MAGPIE_DRIVE_BIN_DAYS")]
    pub drive_bin_days: Option<u64>,
    /// Most entries (folders and files) in one user's drive [default: 100000].
    #[arg(long, env = "MAGPIE_MAX_DRIVE_ENTRIES")]
    pub max_drive_entries: Option<u64>,
    /// Seconds after sending during which a sender may recall a message
    /// (group owners and admins may recall members' messages at any time)
    /// [default: 120].
    #[arg(long, env = "MAGPIE_RECALL_WINDOW_SECS")]
    pub recall_window_secs: Option<u64>,
    /// Seconds after sending during which a sender may edit a text message
    /// [default: 86400].
    #[arg(long, env = "MAGPIE_EDIT_WINDOW_SECS")]
    pub edit_window_secs: Option<u64>,
    /// Typing indicators in groups of at most this many members (1:1
    /// conversations always; 0: in no group) [default: 50].
    #[arg(long, env = "MAGPIE_TYPING_MAX_MEMBERS")]
    pub typing_max_members: Option<u32>,
    /// Seconds a typing notice holds on the receivers' screens without a
    /// renewal, 1-60 [default: 6].
    #[arg(long, env = "MAGPIE_TYPING_TTL_SECS")]
    pub typing_ttl_secs: Option<u64>,
    /// "on" or "off": run the message search indexer on this node (in a
    /// cluster one node at a time indexes, whichever holds the lease)
    /// [default: on].
    #[arg(long, env = "MAGPIE_SEARCH_INDEXER")]
    pub search_indexer: Option<String>,
    /// Newest not-yet-indexed entries each message search scans directly,
    /// so a message is found as soon as it is acked; 0 = the index only
    /// [default: 2000].
    #[arg(long, env = "MAGPIE_SEARCH_TAIL")]
    pub search_tail: Option<usize>,
    /// Message searches one node runs at once; more answer "overloaded"
    /// [default: 8].
    #[arg(long, env = "MAGPIE_SEARCH_CONCURRENCY")]
    pub search_concurrency: Option<usize>,
    /// Keep file content in this S3-compatible bucket instead of the data
    /// directory (what a cluster's nodes share) [default: none].
    #[arg(long, env = "MAGPIE_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// The S3 service's URL, e.g. http://127.0.0.1:9000 [default: AWS].
    #[arg(long, env = "MAGPIE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The S3 region [default: us-east-1].
    #[arg(long, env = "MAGPIE_S3_REGION")]
    pub s3_region: Option<String>,
    /// The S3 access key id.
    #[arg(long, env = "MAGPIE_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// The S3 secret access key (prefer the environment variable).
    #[arg(long, env = "MAGPIE_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Seconds to let connections finish at shutdown [default: 10].
    #[arg(long, env = "MAGPIE_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Log filter, e.g. "info" or "magpie_server=debug" [default: info].
    #[arg(long, env = "MAGPIE_LOG")]
    pub log: Option<String>,

    // Throttling and session limits (docs/DEPLOY.md, "Limits"). Counts
    // take 0 for no limit; rates take "off", "N/s", "N/min" or "N/h",
    // optionally followed by ",burst=B".
    /// Most open connections on this node [default: 100000].
    #[arg(long, env = "MAGPIE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most open connections per client address (IPv6: per /64) [default: 256].
    #[arg(long, env = "MAGPIE_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// Most logged-in connections per user on this node [default: 64].
    #[arg(long, env = "MAGPIE_MAX_SESSIONS_PER_USER")]
    pub max_sessions_per_user: Option<usize>,
    /// Most live login tokens per user; a login revokes the oldest beyond
    /// it [default: 100].
    #[arg(long, env = "MAGPIE_MAX_TOKENS_PER_USER")]
    pub max_tokens_per_user: Option<usize>,
    /// register/login/resume attempts per client address [default: 10/s,burst=100].
    #[arg(long, env = "MAGPIE_AUTH_RATE_PER_IP")]
    pub auth_rate_per_ip: Option<String>,
    /// login attempts per account name [default: 10/min,burst=10].
    #[arg(long, env = "MAGPIE_LOGIN_RATE_PER_ACCOUNT")]
    pub login_rate_per_account: Option<String>,
    /// Messages one user may send [default: 50/s,burst=200].
    #[arg(long, env = "MAGPIE_SEND_RATE_PER_USER")]
    pub send_rate_per_user: Option<String>,
    /// search requests one user may make [default: 1/s,burst=10].
    #[arg(long, env = "MAGPIE_SEARCH_RATE_PER_USER")]
    pub search_rate_per_user: Option<String>,
    /// Friend requests and answers, blocks, category and profile changes
    /// one user may make [default: 2/s,burst=30].
    #[arg(long, env = "MAGPIE_PEOPLE_RATE_PER_USER")]
    pub people_rate_per_user: Option<String>,
    /// Extraction codes of share links tried per client address
    /// [default: 20/min,burst=20].
    #[arg(long, env = "MAGPIE_SHARE_CODE_RATE_PER_IP")]
    pub share_code_rate_per_ip: Option<String>,
    /// typing notices one user may send, over all conversations
    /// [default: 3/s,burst=10].
    #[arg(long, env = "MAGPIE_TYPING_RATE_PER_USER")]
    pub typing_rate_per_user: Option<String>,
    /// Platforms that keep one signed-in device per user, comma-separated
    /// (desktop, mobile, web, cli, bot), or "none" [default: mobile].
    #[arg(long, env = "MAGPIE_EXCLUSIVE_PLATFORMS")]
    pub exclusive_platforms: Option<String>,
    /// "public" (anyone may register) or "enterprise" (accounts are
    /// created with `magpie admin`) [default: public].
    #[arg(long, env = "MAGPIE_MODE")]
    pub mode: Option<String>,
    /// Who may message whom: "open" (anyone), "friends" or "organisation"
    /// (colleagues in the directory, and friends) [default: open].
    #[arg(long, env = "MAGPIE_MESSAGING")]
    pub messaging: Option<String>,
    /// Password hashes that may wait for a thread before logins get
    /// "overloaded" [default: 64].
    #[arg(long, env = "MAGPIE_HASH_QUEUE")]
    pub hash_queue: Option<usize>,
    /// Seconds a connection has to log in or resume [default: 10].
    #[arg(long, env = "MAGPIE_AUTH_TIMEOUT_SECS")]
    pub auth_timeout_secs: Option<u64>,
    /// Seconds between re-checks of every session's token, which bounds how
    /// long a revoked session lives on any node [default: 30].
    #[arg(long, env = "MAGPIE_TOKEN_CHECK_INTERVAL_SECS")]
    pub token_check_interval_secs: Option<u64>,
    /// Reverse proxies whose X-Forwarded-For/X-Real-IP headers name the
    /// client, comma-separated addresses [default: none].
    #[arg(long, env = "MAGPIE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<IpAddr>>,
}

impl ServeArgs {
    /// Flags/environment first, then the file, for every setting.
    fn or(self, file: ServeArgs) -> ServeArgs {
        ServeArgs {
            config: self.config,
            data_dir: self.data_dir.or(file.data_dir),
            sqlite_sync: self.sqlite_sync.or(file.sqlite_sync),
            database_url: self.database_url.or(file.database_url),
            db_max_connections: self.db_max_connections.or(file.db_max_connections),
            redis_url: self.redis_url.or(file.redis_url),
            cluster_name: self.cluster_name.or(file.cluster_name),
            listen_tcp: self.listen_tcp.or(file.listen_tcp),
            listen_http: self.listen_http.or(file.listen_http),
            listen_metrics: self.listen_metrics.or(file.listen_metrics),
            metrics_token: self.metrics_token.or(file.metrics_token),
            ws_allowed_origins: self.ws_allowed_origins.or(file.ws_allowed_origins),
            max_frame_bytes: self.max_frame_bytes.or(file.max_frame_bytes),
            max_body_bytes: self.max_body_bytes.or(file.max_body_bytes),
            idle_timeout_secs: self.idle_timeout_secs.or(file.idle_timeout_secs),
            token_ttl_secs: self.token_ttl_secs.or(file.token_ttl_secs),
            send_queue: self.send_queue.or(file.send_queue),
            max_queue_bytes: self.max_queue_bytes.or(file.max_queue_bytes),
            max_queue_bytes_total: self.max_queue_bytes_total.or(file.max_queue_bytes_total),
            max_inflight_sends: self.max_inflight_sends.or(file.max_inflight_sends),
            max_inflight_queries: self.max_inflight_queries.or(file.max_inflight_queries),
            write_timeout_secs: self.write_timeout_secs.or(file.write_timeout_secs),
            max_batch: self.max_batch.or(file.max_batch),
            group_member_limit: self.group_member_limit.or(file.group_member_limit),
            max_file_bytes: self.max_file_bytes.or(file.max_file_bytes),
            quota_bytes: self.quota_bytes.or(file.quota_bytes),
            upload_ttl_secs: self.upload_ttl_secs.or(file.upload_ttl_secs),
            max_open_uploads: self.max_open_uploads.or(file.max_open_uploads),
            drive_bin_days: self.drive_bin_days.or(file.drive_bin_days),
            max_drive_entries: self.max_drive_entries.or(file.max_drive_entries),
            recall_window_secs: self.recall_window_secs.or(file.recall_window_secs),
            edit_window_secs: self.edit_window_secs.or(file.edit_window_secs),
            typing_max_members: self.typing_max_members.or(file.typing_max_members),
            typing_ttl_secs: self.typing_ttl_secs.or(file.typing_ttl_secs),
            search_indexer: self.search_indexer.or(file.search_indexer),
            search_tail: self.search_tail.or(file.search_tail),
            search_concurrency: self.search_concurrency.or(file.search_concurrency),
            s3_bucket: self.s3_bucket.or(file.s3_bucket),
            s3_endpoint: self.s3_endpoint.or(file.s3_endpoint),
            s3_region: self.s3_region.or(file.s3_region),
            s3_access_key_id: self.s3_access_key_id.or(file.s3_access_key_id),
            s3_secret_access_key: self.s3_secret_access_key.or(file.s3_secret_access_key),
            shutdown_grace_secs: self.shutdown_grace_secs.or(file.shutdown_grace_secs),
            log: self.log.or(file.log),

            max_connections: self.max_connections.or(file.max_connections),
            max_connections_per_ip: self.max_connections_per_ip.or(file.max_connections_per_ip),
            max_sessions_per_user: self.max_sessions_per_user.or(file.max_sessions_per_user),
            max_tokens_per_user: self.max_tokens_per_user.or(file.max_tokens_per_user),
            auth_rate_per_ip: self.auth_rate_per_ip.or(file.auth_rate_per_ip),
            login_rate_per_account: self.login_rate_per_account.or(file.login_rate_per_account),
            send_rate_per_user: self.send_rate_per_user.or(file.send_rate_per_user),
            search_rate_per_user: self.search_rate_per_user.or(file.search_rate_per_user),
            people_rate_per_user: self.people_rate_per_user.or(file.people_rate_per_user),
            share_code_rate_per_ip: self.share_code_rate_per_ip.or(file.share_code_rate_per_ip),
            typing_rate_per_user: self.typing_rate_per_user.or(file.typing_rate_per_user),
            messaging: self.messaging.or(file.messaging),
            mode: self.mode.or(file.mode),
            exclusive_platforms: self.exclusive_platforms.or(file.exclusive_platforms),
            hash_queue: self.hash_queue.or(file.hash_queue),
            auth_timeout_secs: self.auth_timeout_secs.or(file.auth_timeout_secs),
            token_check_interval_secs: self
                .token_check_interval_secs
                .or(file.token_check_interval_secs),
            trusted_proxies: self.trusted_proxies.or(file.trusted_proxies),
        }
    }

    /// Merge with the config file (if any) and apply defaults.
    pub fn resolve(self) -> anyhow::Result<(Config, String)> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => ServeArgs::default(),
        };
        let s = self.or(file);
        let d = Config::default();
        let secs = Duration::from_secs;
        let config = Config {
            data_dir: s.data_dir.unwrap_or(d.data_dir),
            durable: match s.sqlite_sync.as_deref() {
                None | Some("full") => true,
                Some("normal") => false,
                Some(other) => {
                    anyhow::bail!("sqlite_sync must be \"full\" or \"normal\", not {other:?}")
                }
            },
            database_url: s.database_url,
            db_max_connections: s.db_max_connections.unwrap_or(d.db_max_connections),
            redis_url: s.redis_url,
            cluster_name: s.cluster_name.unwrap_or(d.cluster_name),
            listen_tcp: s.listen_tcp.unwrap_or(d.listen_tcp),
            listen_http: s.listen_http.unwrap_or(d.listen_http),
            listen_metrics: s.listen_metrics,
            metrics_token: s.metrics_token,
            ws_allowed_origins: s
                .ws_allowed_origins
                .unwrap_or_default()
                .into_iter()
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            max_frame_bytes: s.max_frame_bytes.unwrap_or(d.max_frame_bytes),
            max_body_bytes: s.max_body_bytes.unwrap_or(d.max_body_bytes),
            idle_timeout: s.idle_timeout_secs.map_or(d.idle_timeout, secs),
            token_ttl: s.token_ttl_secs.map_or(d.token_ttl, secs),
            send_queue: s.send_queue.unwrap_or(d.send_queue),
            max_queue_bytes: s.max_queue_bytes.unwrap_or(d.max_queue_bytes),
            max_queue_bytes_total: s.max_queue_bytes_total.unwrap_or(d.max_queue_bytes_total),
            max_inflight_sends: s.max_inflight_sends.unwrap_or(d.max_inflight_sends),
            max_inflight_queries: s.max_inflight_queries.unwrap_or(d.max_inflight_queries),
            write_timeout: s.write_timeout_secs.map_or(d.write_timeout, secs),
            max_batch: s.max_batch.unwrap_or(d.max_batch),
            group_member_limit: s.group_member_limit.unwrap_or(d.group_member_limit),
            max_file_bytes: s.max_file_bytes.unwrap_or(d.max_file_bytes),
            quota_bytes: s.quota_bytes.unwrap_or(d.quota_bytes),
            upload_ttl: s.upload_ttl_secs.map_or(d.upload_ttl, secs),
            max_open_uploads: s.max_open_uploads.unwrap_or(d.max_open_uploads),
            drive_bin_retention: s.drive_bin_days.map_or(d.drive_bin_retention, |days| {
                secs(days.saturating_mul(86_400))
            }),
            max_drive_entries: s.max_drive_entries.unwrap_or(d.max_drive_entries),
            recall_window: s.recall_window_secs.map_or(d.recall_window, secs),
            edit_window: s.edit_window_secs.map_or(d.edit_window, secs),
            typing_max_members: s.typing_max_members.unwrap_or(d.typing_max_members),
            typing_ttl: s.typing_ttl_secs.map_or(d.typing_ttl, secs),
            search_indexer: match s.search_indexer.as_deref() {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => {
                    anyhow::bail!("search_indexer must be \"on\" or \"off\", not {other:?}")
                }
            },
            search_index_interval: d.search_index_interval,
            search_tail: s.search_tail.unwrap_or(d.search_tail),
            search_concurrency: s.search_concurrency.unwrap_or(d.search_concurrency),
            s3: s.s3_bucket.map(|bucket| magpie_server::config::S3Config {
                bucket,
                endpoint: s.s3_endpoint.unwrap_or_default(),
                region: s.s3_region.unwrap_or_else(|| "us-east-1".to_string()),
                access_key_id: s.s3_access_key_id.unwrap_or_default(),
                secret_access_key: s.s3_secret_access_key.unwrap_or_default(),
            }),
            shutdown_grace: s.shutdown_grace_secs.map_or(d.shutdown_grace, secs),

            max_connections: s.max_connections.unwrap_or(d.max_connections),
            max_connections_per_ip: s.max_connections_per_ip.unwrap_or(d.max_connections_per_ip),
            max_sessions_per_user: s.max_sessions_per_user.unwrap_or(d.max_sessions_per_user),
            max_tokens_per_user: s.max_tokens_per_user.unwrap_or(d.max_tokens_per_user),
            auth_rate_per_ip: rate(s.auth_rate_per_ip, d.auth_rate_per_ip, "auth_rate_per_ip")?,
            login_rate_per_account: rate(
                s.login_rate_per_account,
                d.login_rate_per_account,
                "login_rate_per_account",
            )?,
            send_rate_per_user: rate(
                s.send_rate_per_user,
                d.send_rate_per_user,
                "send_rate_per_user",
            )?,
            search_rate_per_user: rate(
                s.search_rate_per_user,
                d.search_rate_per_user,
                "search_rate_per_user",
            )?,
            people_rate_per_user: rate(
                s.people_rate_per_user,
                d.people_rate_per_user,
                "people_rate_per_user",
            )?,
            share_code_rate_per_ip: rate(
                s.share_code_rate_per_ip,
                d.share_code_rate_per_ip,
                "share_code_rate_per_ip",
            )?,
            typing_rate_per_user: rate(
                s.typing_rate_per_user,
                d.typing_rate_per_user,
                "typing_rate_per_user",
            )?,
            messaging: match s.messaging.as_deref() {
                None => d.messaging,
                Some(m) => m.parse().map_err(|e: String| anyhow::anyhow!(e))?,
            },
            mode: match s.mode.as_deref() {
                None => d.mode,
                Some(m) => m.parse().map_err(|e: String| anyhow::anyhow!(e))?,
            },
            exclusive_platforms: match s.exclusive_platforms.as_deref() {
                None => d.exclusive_platforms,
                Some("none") | Some("") => Vec::new(),
                Some(list) => list
                    .split(',')
                    .map(|p| p.trim().parse::<magpie_proto::Platform>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| anyhow::anyhow!("exclusive_platforms: {e}"))?,
            },
            hash_queue: s.hash_queue.unwrap_or(d.hash_queue),
            auth_timeout: s.auth_timeout_secs.map_or(d.auth_timeout, secs),
            token_check_interval: s
                .token_check_interval_secs
                .map_or(d.token_check_interval, secs),
            trusted_proxies: s.trusted_proxies.unwrap_or(d.trusted_proxies),
            // No `..d`: every setting is named here, so a new Config field
            // does not compile until it has a flag (or a reason not to).
        };
        // The server accepts shorter lifetimes (tests use them); an
        // operator asking for less than a minute has made a mistake.
        if config.token_ttl < Duration::from_secs(60) {
            anyhow::bail!("token_ttl_secs must be at least 60");
        }
        config.validate().map_err(|e| anyhow::anyhow!(e))?;
        Ok((config, s.log.unwrap_or_else(|| "info".to_string())))
    }
}

/// A rate setting from its text form, or the default.
fn rate(
    value: Option<String>,
    default: magpie_server::config::RateLimit,
    name: &str,
) -> anyhow::Result<magpie_server::config::RateLimit> {
    match value {
        None => Ok(default),
        Some(text) => text.parse().map_err(|e| anyhow::anyhow!("{name}: {e}")),
    }
}

/// Print the startup banner in one write, ignoring failures: whoever
/// started the server may read only its first line and close the pipe
/// (test harnesses and supervisors do), and `println!` would then panic on
/// the broken pipe and take the whole server down with it.
fn announce(banner: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(banner.as_bytes());
    let _ = stdout.flush();
}

/// Run the server until SIGINT or SIGTERM, then shut down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let server = magpie_server::start(config).await?;
    let mut banner = format!(
        "magpie serving: tcp://{} ws://{}/ws\n\
         magpie web client: http://{2}/ (admin console: http://{2}/admin)\n",
        server.tcp_addr(),
        server.http_addr(),
        server.http_addr()
    );
    if let Some(addr) = server.metrics_addr() {
        banner.push_str(&format!("magpie metrics: http://{addr}/metrics\n"));
    }
    announce(&banner);
    wait_for_signal().await?;
    tracing::info!("signal received, shutting down");
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_file_overrides_defaults() {
        let file: ServeArgs = toml::from_str(
            "data_dir = \"/from/file\"\nlisten_tcp = \"127.0.0.1:9000\"\nidle_timeout_secs = 5\n",
        )
        .expect("toml");
        let flags = ServeArgs {
            data_dir: Some("/from/flag".into()),
            ..ServeArgs::default()
        };
        let merged = flags.or(file);
        assert_eq!(merged.data_dir, Some(PathBuf::from("/from/flag")));
        assert_eq!(
            merged.listen_tcp,
            Some("127.0.0.1:9000".parse().expect("addr"))
        );
        assert_eq!(merged.idle_timeout_secs, Some(5));
        assert_eq!(merged.listen_http, None);
    }

    #[test]
    fn sqlite_sync_is_full_unless_asked_otherwise() {
        let durable = |sync: Option<&str>| {
            ServeArgs {
                sqlite_sync: sync.map(str::to_string),
                ..ServeArgs::default()
            }
            .resolve()
            .map(|(config, _)| config.durable)
        };
        assert!(durable(None).expect("default"));
        assert!(durable(Some("full")).expect("full"));
        assert!(!durable(Some("normal")).expect("normal"));
        assert!(durable(Some("off")).is_err(), "only full or normal");
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        assert!(toml::from_str::<ServeArgs>("listen_tpc = \"x\"").is_err());
    }

    #[test]
    fn every_setting_reaches_the_config() {
        let file: ServeArgs = toml::from_str(
            "listen_metrics = \"127.0.0.1:9090\"\nmetrics_token = \"t0k\"\n\
             ws_allowed_origins = [\"https://a.example\", \" https://b.example \"]\n\
             max_inflight_sends = 7\nwrite_timeout_secs = 3\n",
        )
        .expect("toml");
        let (config, _) = ServeArgs::default().or(file).resolve().expect("valid");
        assert_eq!(
            config.listen_metrics,
            Some("127.0.0.1:9090".parse().expect("addr"))
        );
        assert_eq!(config.metrics_token.as_deref(), Some("t0k"));
        assert_eq!(
            config.ws_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(config.max_inflight_sends, 7);
        assert_eq!(config.write_timeout, Duration::from_secs(3));
        let defaults = ServeArgs::default().resolve().expect("defaults").0;
        assert_eq!(defaults.max_inflight_sends, 256);
        assert!(defaults.ws_allowed_origins.is_empty());
        assert_eq!(defaults.listen_metrics, None);
    }

    #[test]
    fn flags_parse_as_documented() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let cli = Cli::try_parse_from([
            "serve",
            "--max-inflight-sends",
            "9",
            "--ws-allowed-origins",
            "https://a.example,https://b.example",
            "--listen-metrics",
            "127.0.0.1:0",
        ])
        .expect("flags");
        let (config, _) = cli.serve.resolve().expect("valid");
        assert_eq!(config.max_inflight_sends, 9);
        assert_eq!(
            config.ws_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert!(config.listen_metrics.is_some());
        for bad in [
            &["serve", "--max-inflight-sends", "0"][..],
            &["serve", "--ws-allowed-origins", "example.com"],
            &["serve", "--metrics-token", ""],
        ] {
            let cli = Cli::try_parse_from(bad).expect("parses");
            assert!(cli.serve.resolve().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_come_from_flags_and_file() {
        let file: ServeArgs = toml::from_str(
            "send_rate_per_user = \"off\"\nmax_connections_per_ip = 0\ntrusted_proxies = [\"10.0.0.1\"]\n",
        )
        .expect("toml");
        let flags = ServeArgs {
            auth_rate_per_ip: Some("5/min,burst=7".into()),
            ..ServeArgs::default()
        };
        let (config, _) = flags.or(file).resolve().expect("resolve");
        assert!(config.send_rate_per_user.is_off());
        assert_eq!(config.max_connections_per_ip, 0);
        assert_eq!(
            config.auth_rate_per_ip,
            magpie_server::config::RateLimit::per_minute(5, 7)
        );
        assert_eq!(
            config.trusted_proxies,
            ["10.0.0.1".parse::<IpAddr>().expect("ip")]
        );
        assert_eq!(
            config.max_sessions_per_user,
            Config::default().max_sessions_per_user
        );
        let bad = ServeArgs {
            send_rate_per_user: Some("lots".into()),
            ..ServeArgs::default()
        };
        assert!(bad.resolve().is_err());
        let short = ServeArgs {
            token_ttl_secs: Some(5),
            ..ServeArgs::default()
        };
        assert!(
            short.resolve().is_err(),
            "the CLI keeps tokens at a minute or more"
        );
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let args = ServeArgs {
            max_body_bytes: Some(10_000_000),
            ..ServeArgs::default()
        };
        assert!(args.resolve().is_err());
    }
}
