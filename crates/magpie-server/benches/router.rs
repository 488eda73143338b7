//! Micro-benchmarks of push fanout through [`LocalRouter::deliver`].
//!
//! Every stored message is handed to the router, which queues the encoded
//! frame (a shared `Bytes`, encoded once) into the bounded queue of every
//! connection of every recipient with a non-blocking `try_send`. This runs
//! on the sender's task, so its cost per delivered copy bounds how fast one
//! node can fan messages out:
//!
//! - `deliver/1_user_1_session`: the 1:1 chat case, one copy.
//! - `deliver/1000_users_1_session_each`: one frame to 1,000 users (a big
//!   broadcast or group), 1,000 copies; divide by 1,000 (or read the
//!   throughput) for the cost per copy, which includes the shard lookup and
//!   read lock per user.
//!
//! The queues are drained outside the timed region (every few dozen
//! deliveries), so they never fill and nobody is kicked as a slow consumer:
//! what is measured is the steady state of a healthy server.
//!
//! Run with `cargo bench -p magpie-server --bench router`.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use magpie_proto::{Message, MessageKind, Push, UserId};
use magpie_server::router::{Kick, LocalRouter, Outbox, QueueBudget, Router, SessionHandle};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Queue capacity of each bench connection; deliveries between two drains
/// stay below it.
const QUEUE: usize = 256;
/// Deliveries between two (untimed) drains of every queue.
const DRAIN_EVERY: u64 = 200;

/// A router with `users` users (ids 1..=users), one session each, and the
/// receiving ends of their queues.
fn router_with(users: usize) -> (LocalRouter, Vec<UserId>, Vec<mpsc::Receiver<Bytes>>) {
    let router = LocalRouter::new(|| panic!("a bench queue filled up: drain more often"));
    let mut ids = Vec::with_capacity(users);
    let mut receivers = Vec::with_capacity(users);
    let budget = Arc::new(QueueBudget::new(usize::MAX));
    for i in 1..=users {
        let user = i as UserId;
        // Bounded in frames only: the drains below do not release bytes.
        let (outbox, rx) = Outbox::new(QUEUE, usize::MAX, budget.clone());
        router.session_opened(
            user,
            SessionHandle {
                id: i as u64,
                token_tag: i as u64,
                outbox,
                kick: Arc::new(Kick::default()),
            },
        );
        ids.push(user);
        receivers.push(rx);
    }
    (router, ids, receivers)
}

/// A realistic pushed frame: a message push with a 100-byte body.
fn frame() -> Bytes {
    Push::Message(Message {
        file: None,
        msg_id: 1_234_567,
        conv: 4_321,
        seq: 98_765,
        kind: MessageKind::Text,
        from: "alice".into(),
        body: "x".repeat(100),
        ts: 1_767_225_600_000,
        cmid: "6f1c2a3e-8d4b-4f7a-9e21-0c5d7b3a9f18".into(),
        event: None,
        mention_all: false,
        mentions: Vec::new(),
        ..Message::default()
    })
    .encode()
}

fn drain(receivers: &mut [mpsc::Receiver<Bytes>]) {
    for rx in receivers {
        while rx.try_recv().is_ok() {}
    }
}

fn bench_fanout(c: &mut Criterion, name: &str, users: usize) {
    let (router, ids, mut receivers) = router_with(users);
    let frame = frame();
    let mut group = c.benchmark_group("deliver");
    group.throughput(Throughput::Elements(users as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let chunk = left.min(DRAIN_EVERY);
                let start = Instant::now();
                for _ in 0..chunk {
                    let n = router.deliver(black_box(&ids), black_box(&frame), None);
                    debug_assert_eq!(n, users);
                    black_box(n);
                }
                timed += start.elapsed();
                drain(&mut receivers);
                left -= chunk;
            }
            timed
        });
    });
    group.finish();
}

fn deliver_benches(c: &mut Criterion) {
    bench_fanout(c, "1_user_1_session", 1);
    bench_fanout(c, "1000_users_1_session_each", 1_000);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = deliver_benches
}
criterion_main!(benches);
