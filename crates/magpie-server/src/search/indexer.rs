//! The background search indexer: follows `messages.id` from the
//! persisted watermark in batches ([`magpie_store::SearchStore::search_index_step`]).
//!
//! Nothing on the send path waits for it: the writer commits and acks as
//! before, and this task reads what was committed afterwards. It yields
//! to the send path in two ways. Each busy step is followed by a pause
//! as long as the step took times (1 + the messages stored per second
//! since the last step / [`YIELD_PER`]): on an idle server a backlog is
//! indexed with at most half of one core, and the busier the send path
//! the smaller the indexer's share (about 9% of a core at 10,000
//! messages/s, 3% at 30,000), so a saturated server keeps its send
//! throughput and the index catches up when the load falls. And on
//! SQLite the index is a database file of its own, so indexing never
//! holds the messages' write lock.
//!
//! Every node runs it; one at a time does the work (the lease in
//! `search_index`). The first step comes an interval after start, and an
//! idle step only reads, so a node that starts or stops (a test dropping
//! its database) is never caught inside an indexing transaction.

use crate::clock::now_ms;
use crate::metrics::Metrics;
use magpie_store::Store;
use magpie_store::search::IndexCursor;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Entries read per step: large enough that a step's fixed costs (two
/// reads, one transaction) are shared, small enough that a step stays
/// short (tens of milliseconds).
pub const BATCH: usize = 500;

/// Messages stored per second that add one more step's time to the
/// pause after a step (see the module docs).
const YIELD_PER: f64 = 1_000.0;

/// The longest pause between two busy steps.
const PAUSE_MAX: Duration = Duration::from_secs(2);

/// Run the indexer until `shutdown`, pausing `interval` whenever there is
/// nothing to do.
pub async fn run(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let node = crate::files::new_id();
    let mut cursor = IndexCursor::default();
    let mut pause = interval;
    // Streak of busy steps, for one log line when a backlog is done.
    let mut streak: Option<(Instant, u64)> = None;
    // The send path's recent rate, from the messages-stored counter.
    let mut stored = (Instant::now(), metrics.messages_in.get());
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        let started = Instant::now();
        let step = store
            .search_index_step(&node, now_ms(), BATCH, &mut cursor)
            .await;
        let took = started.elapsed();
        pause = match step {
            Ok(step) if step.idle => {
                if let Some((since, entries)) = streak.take()
                    && entries >= BATCH as u64
                {
                    let secs = since.elapsed().as_secs_f64();
                    tracing::info!(
                        entries,
                        seconds = secs,
                        per_second = entries as f64 / secs.max(0.001),
                        "search index caught up"
                    );
                }
                interval
            }
            Ok(step) => {
                metrics.search_indexed.inc_by(step.entries as u64);
                metrics.search_index_seconds.observe(took.as_secs_f64());
                streak.get_or_insert((started, 0)).1 += step.entries as u64;
                let now = (Instant::now(), metrics.messages_in.get());
                let secs = now.0.duration_since(stored.0).as_secs_f64().max(0.001);
                let rate = now.1.saturating_sub(stored.1) as f64 / secs;
                stored = now;
                took.mul_f64(1.0 + rate / YIELD_PER).min(PAUSE_MAX)
            }
            Err(e) => {
                tracing::warn!(error = %e, "search indexing step failed; retrying");
                interval
            }
        };
    }
}
