//! Benchmark of what the amend area adds, on SQLite:
//! - `list/{plain,quiet_tails}`: one page (50 rows) of the conversation
//!   list of a user in 200 conversations of 20 messages each. `plain`:
//!   no amending entries (the common case); `quiet_tails`: every
//!   conversation ends with 5 reactions, so the list walks back past them
//!   to its last message and counts them out of unread. The ratio is the
//!   cost of quiet entries to the list.
//! - `amend/react`: one reaction added and taken back (two transactions,
//!   each a durable commit), on a message that already has 10 emoji from
//!   20 users.
//! - `history/{plain,reacted}`: one page of 50 entries of one
//!   conversation, without reactions, and with every message reacted to
//!   (the page then also reads the caller's own reactions).
//!
//! The fixture is written on a non-durable connection, then the database
//! is reopened durable for the measurements. Run with
//! `cargo bench -p magpie-store --bench amend` (about a minute).

use criterion::{Criterion, criterion_group, criterion_main};
use magpie_proto::{ConvId, MessageKind, Seq, UserId};
use magpie_store::{
    AccountStore, AmendOp, AmendStore, ConversationStore, MessageStore, NewAmend, NewMessage,
    SqlStore, Store,
};
use std::path::Path;
use tokio::runtime::Runtime;

const T0: i64 = 1_700_000_000_000;
const CONVERSATIONS: usize = 200;
const MESSAGES: usize = 20;

struct Fixture {
    me: UserId,
    /// A user in the same conversations whose tails are quiet.
    other: UserId,
    /// The conversation and message the `react` case reacts to.
    react_conv: ConvId,
    target: Seq,
}

async fn users(store: &SqlStore, prefix: &str, n: usize) -> Vec<UserId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(
            store
                .create_user(&format!("{prefix}{i}"), "$argon2id$x", T0)
                .await
                .expect("user"),
        );
    }
    ids
}

async fn say(store: &SqlStore, conv: ConvId, sender: UserId, n: usize, tag: &str) {
    let batch: Vec<NewMessage> = (0..n)
        .map(|i| NewMessage {
            conv,
            sender,
            kind: MessageKind::Text,
            cmid: format!("{tag}-{conv}-{i}"),
            body: format!("message {i} of a benchmark conversation"),
            ts: T0 + i as i64,
            ..NewMessage::default()
        })
        .collect();
    store.append_batch(&batch).await.expect("append");
}

async fn react(store: &SqlStore, conv: ConvId, seq: Seq, actor: UserId, emoji: &str, add: bool) {
    store
        .amend(&NewAmend {
            conv,
            target: seq,
            actor,
            actor_name: "x".into(),
            op: AmendOp::React {
                emoji: emoji.into(),
                add,
            },
            now: T0 + 1_000,
        })
        .await
        .expect("react");
}

async fn build(path: &Path) -> Fixture {
    let store = SqlStore::open_sqlite_with(path, false).await.expect("open");
    let me = users(&store, "me", 1).await[0];
    let peers = users(&store, "peer", CONVERSATIONS * 2 + 1).await;
    // `me` has plain conversations; `other` the same shape with quiet tails.
    let other = peers[0];
    let mut reacted_conv = 0;
    for (i, pair) in peers[1..].chunks(2).take(CONVERSATIONS).enumerate() {
        let plain = store.open_direct(me, pair[0], T0).await.expect("open");
        say(&store, plain, pair[0], MESSAGES, "p").await;
        let quiet = store.open_direct(other, pair[1], T0).await.expect("open");
        say(&store, quiet, pair[1], MESSAGES, "q").await;
        for e in ["👍", "❤️", "😂", "🎉", "👀"] {
            react(&store, quiet, MESSAGES as Seq, other, e, true).await;
        }
        if i == 0 {
            reacted_conv = plain;
        }
    }
    // One conversation of `me` where every message has reactions.
    for seq in 1..=MESSAGES as Seq {
        react(&store, reacted_conv, seq, me, "👍", true).await;
    }
    // The react target: 10 emoji from 20 users' worth of rows.
    let crowd = users(&store, "crowd", 20).await;
    let target_conv = store
        .open_direct(crowd[0], crowd[1], T0)
        .await
        .expect("open");
    say(&store, target_conv, crowd[0], 1, "t").await;
    for (i, &u) in crowd[..2].iter().enumerate() {
        for e in 0..5 {
            react(&store, target_conv, 1, u, &format!("e{}", i * 5 + e), true).await;
        }
    }
    Store::close(&store).await;
    Fixture {
        me,
        other,
        react_conv: target_conv,
        target: 1,
    }
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("amend.db");
    let fixture = rt.block_on(build(&path));
    let store = rt.block_on(SqlStore::open_sqlite(&path)).expect("reopen");
    let history_conv = rt.block_on(async {
        store
            .conversations(fixture.me, None, 1000)
            .await
            .expect("list")
            .into_iter()
            .map(|r| r.conv)
            .min()
            .expect("a conversation")
    });

    let mut list = c.benchmark_group("list");
    list.bench_function("plain", |b| {
        b.to_async(&rt).iter(|| async {
            store
                .conversations(fixture.me, None, 50)
                .await
                .expect("list")
        })
    });
    list.bench_function("quiet_tails", |b| {
        b.to_async(&rt).iter(|| async {
            store
                .conversations(fixture.other, None, 50)
                .await
                .expect("list")
        })
    });
    list.finish();

    let mut amend = c.benchmark_group("amend");
    let crowd_actor =
        rt.block_on(async { store.members(fixture.react_conv).await.expect("members")[0] });
    amend.bench_function("react", |b| {
        b.to_async(&rt).iter(|| async {
            react(
                &store,
                fixture.react_conv,
                fixture.target,
                crowd_actor,
                "🙂",
                true,
            )
            .await;
            react(
                &store,
                fixture.react_conv,
                fixture.target,
                crowd_actor,
                "🙂",
                false,
            )
            .await;
        })
    });
    amend.finish();

    let mut history = c.benchmark_group("history");
    let plain_conv = rt.block_on(async {
        store
            .conversations(fixture.me, None, 1000)
            .await
            .expect("list")
            .into_iter()
            .map(|r| r.conv)
            .max()
            .expect("a conversation")
    });
    for (name, conv) in [("plain", plain_conv), ("reacted", history_conv)] {
        history.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let mut page = store
                    .messages_before(conv, Seq::MAX, 50)
                    .await
                    .expect("page");
                let reacted: Vec<(ConvId, Seq)> = page
                    .iter()
                    .filter(|m| !m.reactions.is_empty())
                    .map(|m| (m.conv, m.seq))
                    .collect();
                if !reacted.is_empty() {
                    let mine = store
                        .my_reactions(fixture.me, &reacted)
                        .await
                        .expect("mine");
                    magpie_store::amend::mark_mine(&mut page, &mine);
                }
                page
            })
        });
    }
    history.finish();
    rt.block_on(Store::close(&store));
}

criterion_group!(benches, bench);
criterion_main!(benches);
