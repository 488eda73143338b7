//! Benchmark of group commit: [`MessageStore::append_batch`] on SQLite.
//!
//! The server acks a `send` only once the message is durably stored, and it
//! stores messages in batches: everything that arrived while the previous
//! transaction was committing goes into the next one. Each transaction ends
//! in one fsync of the WAL (`synchronous = FULL`), which dominates its cost,
//! so the cost per message should fall sharply as the batch grows: that is
//! what makes the durable-ack design affordable under load.
//!
//! `append_batch/1-pair/{1,64,512}` appends batches of that many new
//! messages to the conversation of two existing users;
//! `append_batch/100-pairs/{64,512}` spreads each batch over 100
//! conversations, as many senders do on a busy server. Every message has a fresh `cmid`, so none is a duplicate; the
//! database is a real file in a temporary directory; the throughput line is
//! messages per second. Building the batch is not timed.
//!
//! The numbers depend heavily on the disk's fsync latency (a tmpfs makes
//! fsync free; a laptop SSD may take milliseconds). The bench does real
//! fsyncs, so it keeps few samples and a short measurement time.
//!
//! Run with `cargo bench -p magpie-store --bench append`.

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use magpie_proto::{ConvId, MessageKind, UserId};
use magpie_store::{AccountStore, ConversationStore, MessageStore, NewMessage, SqlStore, Store};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// A 100-byte message body.
const BODY: &str = "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs, said Magpie!!!";

/// `n` new messages, the i-th from the sender into the conversation of
/// `pairs[i % pairs.len()]`.
fn batch(pairs: &[(UserId, ConvId)], n: usize, next_cmid: &Cell<u64>) -> Vec<NewMessage> {
    (0..n)
        .map(|i| {
            let id = next_cmid.get();
            next_cmid.set(id + 1);
            let (sender, conv) = pairs[i % pairs.len()];
            NewMessage {
                file: None,
                conv,
                sender,
                kind: MessageKind::Text,
                cmid: format!("bench-{id:016x}"),
                body: BODY.to_string(),
                ts: 1_767_225_600_000 + id as i64,
                mention: None,
                ..NewMessage::default()
            }
        })
        .collect()
}

fn append_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = rt
        .block_on(SqlStore::open_sqlite(&dir.path().join("bench.db")))
        .expect("open the bench database");
    // 200 users in 100 pairs, each pair's 1:1 conversation opened up front
    // (as the server does before it stores a message); the first pair alone
    // is the one-conversation case.
    let pairs: Vec<(UserId, ConvId)> = rt.block_on(async {
        let mut pairs = Vec::new();
        for i in 0..100 {
            let user = |name: String| {
                let store = &store;
                async move {
                    store
                        .create_user(&name, "not-a-real-hash", 0)
                        .await
                        .expect("create a user")
                }
            };
            let (a, b) = (user(format!("a{i}")).await, user(format!("b{i}")).await);
            let conv = store
                .open_direct(a, b, 0)
                .await
                .expect("open a conversation");
            pairs.push((a, conv));
        }
        pairs
    });
    let next_cmid = Cell::new(0u64);

    let mut group = c.benchmark_group("append_batch");
    // Each iteration is a durable commit (milliseconds): take every sample
    // with the same iteration count instead of a linear ramp.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    let cases = [
        ("1-pair", 1usize, 1usize),
        ("1-pair", 1, 64),
        ("1-pair", 1, 512),
        ("100-pairs", 100, 64),
        ("100-pairs", 100, 512),
    ];
    for (name, spread, n) in cases {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{name}/{n}"), |b| {
            let (store, next_cmid, pairs) = (&store, &next_cmid, &pairs[..spread]);
            b.to_async(&rt).iter_custom(|iters| async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let msgs = batch(pairs, n, next_cmid);
                    let start = Instant::now();
                    let done = store.append_batch(&msgs).await.expect("append_batch");
                    timed += start.elapsed();
                    assert!(
                        done.len() == n && done.iter().all(|a| !a.duplicate),
                        "every message of the batch is new"
                    );
                }
                timed
            });
        });
    }
    group.finish();
    rt.block_on(store.close());
}

criterion_group!(benches, append_benches);
criterion_main!(benches);
