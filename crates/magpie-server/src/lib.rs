//! The Magpie server.
//!
//! Layers, each depending only on the ones below it:
//! - [`transport`] and [`http`]: TCP framing and WebSocket, adapted to one
//!   stream/sink shape;
//! - [`session`]: one task per connection, the protocol state machine;
//! - services, one per area: [`auth`] (accounts, tokens),
//!   [`conversations`] (membership, the list, read marks), [`messages`]
//!   (send, sync, history), [`conv_settings`] (each member's own settings
//!   of a conversation) and [`typing`] (ephemeral typing notices);
//! - [`writer`] (group commit) and [`router`] (delivery to connections);
//! - storage through `magpie_store::Store`.
//!
//! [`start`] wires them together and returns a [`RunningServer`].

pub mod admin;
pub mod amend;
pub mod auth;
pub mod changes;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod conv_settings;
pub mod conversations;
pub mod devices;
pub mod directory;
pub mod drive;
pub mod error;
pub mod files;
pub mod groups;
pub mod http;
pub mod members;
pub mod messages;
pub mod metrics;
pub mod page;
pub mod people;
pub mod presence;
pub mod router;
pub mod search;
pub mod session;
pub mod state;
pub mod throttle;
pub mod transport;
pub mod typing;
pub mod web;
pub mod writer;

pub use config::Config;

use crate::auth::Auth;
use crate::metrics::Metrics;
use crate::router::LocalRouter;
use crate::state::AppState;
use crate::writer::MessageWriter;
use magpie_proto::ErrorBody;
use magpie_store::{PoolSettings, SqlStore, Store, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("initialisation: {0}")]
    Init(ErrorBody),
    #[error("cluster: {0}")]
    Cluster(#[from] cluster::ClusterError),
}

/// How often expired tokens are deleted.
const TOKEN_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// A started server. Dropping it does not stop it; call [`shutdown`].
///
/// [`shutdown`]: RunningServer::shutdown
#[derive(Debug)]
pub struct RunningServer {
    tcp_addr: SocketAddr,
    http_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    state: Arc<AppState>,
    done: JoinHandle<()>,
}

impl RunningServer {
    /// The bound TCP address (useful with port 0).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The bound HTTP/WebSocket address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound address of the separate metrics listener, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Shared state, for tests and embedding (metrics, router).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Begin a graceful shutdown without waiting for it.
    pub fn trigger_shutdown(&self) {
        self.state.shutdown.cancel();
    }

    /// Shut down gracefully: stop accepting, answer what is in flight,
    /// commit queued messages, tell clients to go away, close storage.
    pub async fn shutdown(self) {
        self.trigger_shutdown();
        self.wait().await;
    }

    /// Wait until the server has shut down (after a trigger).
    pub async fn wait(self) {
        let _ = self.done.await;
    }
}

/// Start a server on the database named by `config.database_url`, or on
/// the embedded SQLite store under `config.data_dir`.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    config.validate().map_err(StartError::Config)?;
    let store = open_store(&config).await?;
    start_with_store(config, Arc::new(store)).await
}

/// Open (and migrate) the store `config` names: the shared database at
/// `database_url`, or the embedded SQLite file under `data_dir`. Also for
/// tools that work on the data directly (`magpie admin bootstrap`).
pub async fn open_store(config: &Config) -> Result<SqlStore, StartError> {
    Ok(match &config.database_url {
        Some(url) => {
            let pool = PoolSettings {
                max_connections: config.db_max_connections,
                ..PoolSettings::default()
            };
            SqlStore::connect(url, &pool).await?
        }
        None => {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::Io {
                what: format!("creating data dir {}", config.data_dir.display()),
                source,
            })?;
            SqlStore::open_sqlite_with(&config.data_dir.join("magpie.db"), config.durable).await?
        }
    })
}

/// The file area: blobs and staged uploads under `<data_dir>/files`.
async fn open_files(config: &Config, store: Arc<dyn Store>) -> Result<files::Files, StartError> {
    let root = config.data_dir.join("files");
    let io = |what: &str| {
        let what = what.to_string();
        move |source: std::io::Error| StartError::Io { what, source }
    };
    let storage = match &config.s3 {
        Some(s3) => files::storage::BlobStorage::s3(s3),
        None => files::storage::BlobStorage::local(&root, config.durable),
    }
    .map_err(|e| StartError::Io {
        what: "opening the blob storage".to_string(),
        source: std::io::Error::other(e),
    })?;
    let limits = files::FileLimits {
        max_file_bytes: config.max_file_bytes,
        quota_bytes: config.quota_bytes,
        upload_ttl: config.upload_ttl,
        max_open_uploads: config.max_open_uploads,
    };
    files::Files::new(store, storage, root.join("staging"), limits, config.durable)
        .await
        .map_err(io("opening the file area"))
}

/// Start a server on a given store.
pub async fn start_with_store(
    config: Config,
    store: Arc<dyn Store>,
) -> Result<RunningServer, StartError> {
    config.validate().map_err(StartError::Config)?;
    let metrics = Arc::new(Metrics::new());
    let slow = metrics.slow_consumers.clone();
    let local = Arc::new(LocalRouter::new(move || {
        slow.inc();
    }));
    let router: Arc<dyn router::Router> = match &config.redis_url {
        Some(url) => {
            Arc::new(cluster::RedisRouter::connect(url, &config.cluster_name, local).await?)
        }
        None => local,
    };
    let sets = Arc::new(members::MemberSets::new(store.clone()));
    let forget = sets.clone();
    router.on_members_changed(router::MembersHook(Box::new(move |conv| {
        forget.forget(conv)
    })));
    let (writer, writer_task) = MessageWriter::spawn(
        store.clone(),
        router.clone(),
        sets.clone(),
        metrics.clone(),
        config.max_batch,
    );
    let auth = Auth::new(
        store.clone(),
        config.token_ttl,
        config.hash_queue,
        config.max_tokens_per_user,
        metrics.refusals.clone(),
        config.mode == config::ServerMode::Public,
    )
    .await
    .map_err(StartError::Init)?;
    let files = Arc::new(open_files(&config, store.clone()).await?);

    let bind = |addr: SocketAddr, what: &'static str| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Io {
                what: format!("binding {what} listener on {addr}"),
                source,
            })
    };
    let tcp = bind(config.listen_tcp, "TCP").await?;
    let http = bind(config.listen_http, "HTTP").await?;
    let local = |l: &TcpListener| {
        l.local_addr().map_err(|source| StartError::Io {
            what: "reading listener address".into(),
            source,
        })
    };
    let (tcp_addr, http_addr) = (local(&tcp)?, local(&http)?);
    let metrics_listener = match config.listen_metrics {
        Some(addr) => Some(bind(addr, "metrics").await?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(local).transpose()?;

    let state = Arc::new(AppState::new(
        config,
        store.clone(),
        router.clone(),
        auth,
        writer.clone(),
        sets,
        metrics,
        files.clone(),
    ));
    if let Some(mut departed) = router.departures() {
        // Users of a dead cluster node: tell their contacts they left.
        let presence = state.presence.clone();
        tokio::spawn(async move {
            while let Some(users) = departed.recv().await {
                presence.departed(users).await;
            }
        });
    }
    let tcp_task = tokio::spawn(transport::accept_tcp(tcp, state.clone()));
    let http_task = {
        let app = http::app(state.clone());
        let shutdown = state.shutdown.clone();
        tokio::spawn(async move {
            // Connect info carries the peer address to the WebSocket
            // handler, for per-address limits.
            axum::serve(
                http::nodelay(http),
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
        })
    };
    let metrics_task = metrics_listener.map(|listener| {
        let app = http::metrics_app(state.clone());
        let shutdown = state.shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
        })
    });
    let purge_task = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TOKEN_PURGE_INTERVAL);
            loop {
                tokio::select! {
                    () = state.shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = state.store.purge_expired_tokens(clock::now_ms()).await {
                            tracing::warn!(error = %e, "purging expired tokens failed");
                        }
                    }
                }
            }
        })
    };
    let throttle_tasks = [
        tokio::spawn(throttle::housekeeping(state.clone())),
        tokio::spawn(throttle::revalidate_tokens(state.clone())),
        tokio::spawn(files::sweep::run(files, state.shutdown.clone())),
        tokio::spawn(drive::purge::run(
            state.drive.clone(),
            state.shutdown.clone(),
        )),
    ];
    let search_task = state.config.search_indexer.then(|| {
        tokio::spawn(search::indexer::run(
            state.store.clone(),
            state.metrics.clone(),
            state.config.search_index_interval,
            state.shutdown.clone(),
        ))
    });
    tracing::info!(%tcp_addr, %http_addr, ?metrics_addr, "magpie listening");

    let done = {
        let state = state.clone();
        tokio::spawn(async move {
            state.shutdown.cancelled().await;
            tracing::info!("shutting down");
            let _ = tcp_task.await;
            let _ = purge_task.await;
            for task in throttle_tasks {
                let _ = task.await;
            }
            if let Some(task) = search_task {
                let _ = task.await;
            }
            let grace = state.config.shutdown_grace;
            // Connections see the shutdown token, finish their in-flight
            // sends, send goaway and close.
            state.connections.close();
            if tokio::time::timeout(grace * 2, state.connections.wait())
                .await
                .is_err()
            {
                tracing::warn!("connections did not close within the grace period");
            }
            let _ = tokio::time::timeout(grace, http_task).await;
            if let Some(task) = metrics_task {
                let _ = tokio::time::timeout(grace, task).await;
            }
            writer.close();
            let _ = writer_task.await;
            // Contacts of the users whose last connection was here hear
            // they went offline now, not never (this process will not be
            // around when the grace period ends).
            let _ = tokio::time::timeout(grace, state.presence.drain()).await;
            router.flush().await;
            store.close().await;
            tracing::info!("shut down");
        })
    };
    Ok(RunningServer {
        tcp_addr,
        http_addr,
        metrics_addr,
        state,
        done,
    })
}
