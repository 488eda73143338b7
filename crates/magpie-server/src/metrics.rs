//! Prometheus metrics, held in an explicit registry (no global recorder) so
//! that several servers can run in one test process without mixing counts.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Label telling the two transports apart.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    pub transport: &'static str,
}

/// Label naming the limit that refused something, or why a session was
/// closed by the server's own checks (see `throttle`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabel {
    pub reason: &'static str,
}

/// A histogram that also keeps its running sum and count where the server
/// can read them (`admin_stats`): prometheus-client only exposes them to
/// its encoder.
#[derive(Debug, Clone)]
pub struct Observed {
    histogram: Histogram,
    count: Arc<AtomicU64>,
    /// The sum's f64 bits.
    sum: Arc<AtomicU64>,
}

impl Observed {
    fn new(buckets: impl Iterator<Item = f64>) -> Observed {
        Observed {
            histogram: Histogram::new(buckets),
            count: Arc::new(AtomicU64::new(0)),
            sum: Arc::new(AtomicU64::new(0f64.to_bits())),
        }
    }

    /// Record one value.
    pub fn observe(&self, v: f64) {
        self.histogram.observe(v);
        // Sum first, then count: a reader may see a sum ahead of its
        // count, never a count without its value.
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The running totals since the start.
    pub fn totals(&self) -> magpie_proto::HistogramTotals {
        magpie_proto::HistogramTotals {
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

/// Every metric the server exports at `/metrics`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// When this registry was made (ms since the epoch): the node's start.
    started_at: i64,
    pub connections: Family<TransportLabel, Gauge>,
    pub logins: Counter,
    pub login_failures: Counter,
    pub messages_in: Counter,
    pub messages_out: Counter,
    pub slow_consumers: Counter,
    pub send_ack_seconds: Observed,
    pub store_batch_size: Observed,
    pub store_batch_seconds: Observed,
    pub refusals: Family<RefusalLabel, Counter>,
    /// Time to answer one `message_search` (storage work, not the frame).
    pub search_seconds: Observed,
    /// Entries the search indexer has read (and indexed if they had text).
    pub search_indexed: Counter,
    /// Time of one search indexing step (read, terms, write).
    pub search_index_seconds: Observed,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("magpie");
        let connections = Family::<TransportLabel, Gauge>::default();
        let logins = Counter::default();
        let login_failures = Counter::default();
        let messages_in = Counter::default();
        let messages_out = Counter::default();
        let slow_consumers = Counter::default();
        let send_ack_seconds = Observed::new(exponential_buckets(0.000_1, 2.0, 18));
        let store_batch_size = Observed::new(exponential_buckets(1.0, 2.0, 12));
        let store_batch_seconds = Observed::new(exponential_buckets(0.000_1, 2.0, 18));
        registry.register(
            "connections",
            "Open client connections",
            connections.clone(),
        );
        registry.register("logins", "Successful logins and resumes", logins.clone());
        registry.register(
            "login_failures",
            "Rejected logins and resumes",
            login_failures.clone(),
        );
        registry.register(
            "messages_in",
            "Messages durably stored",
            messages_in.clone(),
        );
        registry.register(
            "messages_out",
            "Message pushes queued to client connections",
            messages_out.clone(),
        );
        registry.register(
            "slow_consumer_disconnects",
            "Connections closed because they could not keep up",
            slow_consumers.clone(),
        );
        registry.register(
            "send_ack_seconds",
            "Time from receiving a send to writing its ack",
            send_ack_seconds.histogram.clone(),
        );
        registry.register(
            "store_batch_size",
            "Messages per group-commit transaction",
            store_batch_size.histogram.clone(),
        );
        registry.register(
            "store_batch_seconds",
            "Time to store one group-commit batch, including its disk sync",
            store_batch_seconds.histogram.clone(),
        );
        let search_seconds = Observed::new(exponential_buckets(0.000_1, 2.0, 18));
        let search_indexed = Counter::default();
        let search_index_seconds = Observed::new(exponential_buckets(0.000_1, 2.0, 18));
        registry.register(
            "search_seconds",
            "Time to answer one message_search",
            search_seconds.histogram.clone(),
        );
        registry.register(
            "search_indexed_entries",
            "Entries read by the search indexer",
            search_indexed.clone(),
        );
        registry.register(
            "search_index_step_seconds",
            "Time of one search indexing step",
            search_index_seconds.histogram.clone(),
        );
        let refusals = Family::<RefusalLabel, Counter>::default();
        registry.register(
            "refusals",
            "Connections and requests refused by a limit, and sessions closed for auth_timeout, token_expired or token_revoked",
            refusals.clone(),
        );
        Metrics {
            registry,
            started_at: crate::clock::now_ms(),
            refusals,
            search_seconds,
            search_indexed,
            search_index_seconds,
            connections,
            logins,
            login_failures,
            messages_in,
            messages_out,
            slow_consumers,
            send_ack_seconds,
            store_batch_size,
            store_batch_seconds,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Metrics {
    /// The figures `admin_stats` answers with, read at `at`.
    pub fn snapshot(&self, at: i64) -> magpie_proto::AdminStats {
        let gauge = |transport: &'static str| {
            self.connections
                .get(&TransportLabel { transport })
                .map_or(0, |g| u64::try_from(g.get()).unwrap_or(0))
        };
        let (tcp, ws) = (gauge("tcp"), gauge("ws"));
        magpie_proto::AdminStats {
            at,
            started_at: self.started_at,
            connections: tcp + ws,
            connections_tcp: tcp,
            connections_ws: ws,
            logins: self.logins.get(),
            login_failures: self.login_failures.get(),
            messages_in: self.messages_in.get(),
            messages_out: self.messages_out.get(),
            slow_consumer_disconnects: self.slow_consumers.get(),
            send_ack_seconds: self.send_ack_seconds.totals(),
            store_batch_seconds: self.store_batch_seconds.totals(),
            store_batch_size: self.store_batch_size.totals(),
            search_seconds: self.search_seconds.totals(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
