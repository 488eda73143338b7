//! The state every connection shares, passed explicitly (no globals).

use crate::auth::Auth;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::router::{Router, SessionId};
use crate::throttle::{Limits, Throttle};
use crate::writer::MessageWriter;
use magpie_proto::UserId;
use magpie_store::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared server state.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub router: Arc<dyn Router>,
    pub auth: Auth,
    pub writer: MessageWriter,
    pub metrics: Arc<Metrics>,
    pub users: UserCache,
    /// Connection caps, rate limits and session limits.
    pub throttle: Throttle,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub connections: TaskTracker,
    next_session: AtomicU64,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        router: Arc<dyn Router>,
        auth: Auth,
        writer: MessageWriter,
        metrics: Arc<Metrics>,
    ) -> AppState {
        let throttle = Throttle::new(Limits::from_config(&config), metrics.refusals.clone());
        AppState {
            throttle,
            config,
            store,
            router,
            auth,
            writer,
            metrics,
            users: UserCache::default(),
            shutdown: CancellationToken::new(),
            connections: TaskTracker::new(),
            next_session: AtomicU64::new(1),
        }
    }

    /// A process-unique id for a new connection.
    pub fn next_session_id(&self) -> SessionId {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }
}

/// Username → id for users known to exist. Sending resolves the recipient
/// on every message; accounts are never renamed or deleted, so a positive
/// answer can be cached for good and only misses reach the database.
#[derive(Debug, Default)]
pub struct UserCache {
    map: Mutex<HashMap<String, UserId>>,
}

/// Bound on cached names; the cache is simply cleared when it is full.
const USER_CACHE_MAX: usize = 100_000;

impl UserCache {
    pub fn get(&self, name: &str) -> Option<UserId> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied()
    }

    pub fn insert(&self, name: String, id: UserId) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= USER_CACHE_MAX {
            map.clear();
        }
        map.insert(name, id);
    }
}
