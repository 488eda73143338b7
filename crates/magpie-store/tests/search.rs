//! Message search ([`SearchStore`]) as one suite every backend must pass:
//! a corpus in Chinese, Japanese, Korean, accented Latin, full-width
//! forms and emoji with the hits each query must find (through the
//! unindexed tail and through the index, which must agree), paging and
//! filters, who sees what (joins, leaves), recalls and edits, the
//! indexer's watermark and lease across restarts and nodes, and the
//! bound on one query's work.
//!
//! [`SearchStore`]: magpie_store::SearchStore

use magpie_proto::{ConvId, JoinPolicy, MessageKind, UserId};
use magpie_store::search::text::Query;
use magpie_store::search::{
    IndexCursor, LEASE_MS, SearchLimits, SearchPage, SearchRequest, SearchStore,
};
use magpie_store::{AmendOp, GroupOp, NewAmend, NewGroup, NewMessage, Store};

mod common;
use common::{Harness, T0, user};

/// Index everything there is, as one node would.
async fn index_all(store: &dyn Store, node: &str, now: i64) -> usize {
    let mut cursor = IndexCursor::default();
    let mut messages = 0;
    for _ in 0..1000 {
        let step = store
            .search_index_step(node, now, 100, &mut cursor)
            .await
            .expect("index step");
        messages += step.messages;
        if step.idle {
            return messages;
        }
    }
    panic!("the indexer never went idle");
}

/// Limits with only the tail (nothing from the index) or only the index.
fn tail_only() -> SearchLimits {
    SearchLimits {
        tail: 10_000,
        ..SearchLimits::default()
    }
}

fn index_only() -> SearchLimits {
    SearchLimits {
        tail: 0,
        ..SearchLimits::default()
    }
}

/// Search as `user` with defaults, limit 50.
async fn search(store: &dyn Store, user: UserId, query: &str, limits: SearchLimits) -> SearchPage {
    let q = Query::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
    store
        .message_search(&SearchRequest {
            user,
            query: &q,
            conv: None,
            from: None,
            after_ts: None,
            before_ts: None,
            before: None,
            limit: 50,
            limits,
        })
        .await
        .expect("message_search")
}

fn text(conv: ConvId, sender: UserId, cmid: &str, body: &str, ts: i64) -> NewMessage {
    NewMessage {
        conv,
        sender,
        kind: MessageKind::Text,
        cmid: cmid.to_owned(),
        body: body.to_owned(),
        ts,
        ..NewMessage::default()
    }
}

/// Append one message; its id.
async fn post(store: &dyn Store, conv: ConvId, sender: UserId, body: &str, ts: i64) -> i64 {
    let cmid = format!("c{ts}-{sender}");
    store
        .append_batch(&[text(conv, sender, &cmid, body, ts)])
        .await
        .expect("append")[0]
        .msg_id
}

fn group(members: &[UserId]) -> NewGroup {
    NewGroup {
        name: "g".into(),
        avatar: String::new(),
        description: String::new(),
        announcement: String::new(),
        join_policy: JoinPolicy::Invite,
        history_visible: 0,
        member_limit: 100,
        temporary: false,
        members: members.to_vec(),
    }
}

/// The ids `req` finds.
async fn found(store: &dyn Store, req: SearchRequest<'_>) -> Vec<i64> {
    ids(&store.message_search(&req).await.expect("search"))
}

fn ids(page: &SearchPage) -> Vec<i64> {
    page.hits.iter().map(|h| h.msg_id).collect()
}

/// The corpus: each message, and each query with the messages (by index
/// into the corpus) it must find.
const CORPUS: &[&str] = &[
    "明天下午三点开会议，你好吗",       // 0
    "会议室在三楼",                     // 1
    "Meet me at the Café de Flore",     // 2
    "CAFÉ AU LAIT s'il vous plaît",     // 3
    "明日の会議は十時からです",         // 4
    "カタカナのテストメッセージ",       // 5
    "한국어 검색 테스트입니다",         // 6
    "party tonight 🎉🎉",               // 7
    "ok 👍🏽 see you",                    // 8
    "Naïve résumé for the 会议 room",   // 9
    "Ｆｕｌｌｗｉｄｔｈ text ３点 ﾃｽﾄ", // 10
    "nothing to see here",              // 11
];

const QUERIES: &[(&str, &[usize])] = &[
    ("你好", &[0]),
    ("会议", &[0, 1, 9]),
    ("会", &[0, 1, 4, 9]),
    ("會議", &[]),
    ("会議", &[4]),
    ("cafe", &[2, 3]),
    ("CAFÉ", &[2, 3]),
    ("café au", &[3]),
    ("caf", &[2, 3]),
    ("テスト", &[5, 10]),
    ("カタカナ", &[5]),
    ("검색", &[6]),
    ("테스트", &[6]),
    ("🎉", &[7]),
    ("👍", &[8]),
    ("resume naive", &[9]),
    ("room 会议", &[9]),
    ("fullwidth", &[10]),
    ("3点", &[10]),
    ("三点", &[0]),
    ("meet", &[2]),
    ("see", &[8, 11]),
    ("ee", &[]),
    ("zzz", &[]),
    ("你们", &[]),
];

/// Every corpus query finds what it must, newest first, the same through
/// the tail (before indexing) and through the index (after).
async fn corpus_matches(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let conv = store.open_direct(alice, bob, T0).await.expect("dm");
    let mut msg_ids = Vec::new();
    for (i, body) in CORPUS.iter().enumerate() {
        let sender = if i % 2 == 0 { alice } else { bob };
        msg_ids.push(post(store, conv, sender, body, T0 + i as i64).await);
    }
    for limits in [tail_only(), index_only()] {
        if limits.tail == 0 {
            assert_eq!(index_all(store, "n1", T0).await, CORPUS.len());
        }
        for (query, want) in QUERIES {
            let mut want: Vec<i64> = want.iter().map(|&i| msg_ids[i]).collect();
            want.reverse();
            for who in [alice, bob] {
                let page = search(store, who, query, limits).await;
                assert_eq!(ids(&page), want, "{query:?} (tail {})", limits.tail);
                assert_eq!(page.next, None);
            }
        }
    }
    // A hit shows where the match is, on the original text.
    let page = search(store, alice, "cafe", index_only()).await;
    let hit = &page.hits[1];
    assert_eq!(hit.excerpt, CORPUS[2]);
    assert_eq!(hit.highlights, vec![[15, 4]]);
    assert_eq!(hit.from, "alice");
    assert_eq!(hit.kind, MessageKind::Text);
}

/// A message posted by a test: (id, conversation, sender, ts).
type Posted = (i64, ConvId, UserId, i64);

/// Pages follow each other newest first with no repeats; each filter
/// narrows; nobody finds what they cannot read.
async fn paging_filters_and_visibility(store: &dyn Store) {
    let [alice, bob, carol, dave] = [
        user(store, "alice").await,
        user(store, "bob").await,
        user(store, "carol").await,
        user(store, "dave").await,
    ];
    let dm = store.open_direct(alice, bob, T0).await.expect("dm");
    let g = store
        .create_group(alice, &group(&[bob, carol]), T0)
        .await
        .expect("group")
        .conv;
    let mut all = Vec::new();
    for i in 0..9i64 {
        let (conv, sender) = match i % 3 {
            0 => (dm, alice),
            1 => (g, bob),
            _ => (g, carol),
        };
        all.push((
            post(
                store,
                conv,
                sender,
                &format!("quarterly report {i}"),
                T0 + i * 10,
            )
            .await,
            conv,
            sender,
            T0 + i * 10,
        ));
    }
    index_all(store, "n1", T0).await;
    let q = Query::parse("report").expect("q");
    let base = SearchRequest {
        user: alice,
        query: &q,
        conv: None,
        from: None,
        after_ts: None,
        before_ts: None,
        before: None,
        limit: 4,
        limits: SearchLimits::default(),
    };
    // Pages of 4: 4, 4, 1, newest first.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .message_search(&SearchRequest {
                before,
                ..base.clone()
            })
            .await
            .expect("page");
        assert!(page.hits.len() <= 4);
        seen.extend(ids(&page));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let mut want: Vec<i64> = all.iter().map(|a| a.0).collect();
    want.reverse();
    assert_eq!(seen, want);
    let only = |f: &dyn Fn(&Posted) -> bool| -> Vec<i64> {
        all.iter().rev().filter(|a| f(a)).map(|a| a.0).collect()
    };
    let wide = SearchRequest {
        limit: 50,
        ..base.clone()
    };
    assert_eq!(
        found(
            store,
            SearchRequest {
                conv: Some(g),
                ..wide.clone()
            }
        )
        .await,
        only(&|a| a.1 == g)
    );
    assert_eq!(
        found(
            store,
            SearchRequest {
                from: Some(carol),
                ..wide.clone()
            }
        )
        .await,
        only(&|a| a.2 == carol)
    );
    assert_eq!(
        found(
            store,
            SearchRequest {
                after_ts: Some(T0 + 30),
                before_ts: Some(T0 + 70),
                ..wide.clone()
            }
        )
        .await,
        only(&|a| a.3 >= T0 + 30 && a.3 < T0 + 70)
    );
    // Carol is not in the 1:1; she leaves the group and finds nothing of
    // it, before or after indexing what follows.
    assert_eq!(
        found(
            store,
            SearchRequest {
                user: carol,
                ..wide.clone()
            }
        )
        .await,
        only(&|a| a.1 == g)
    );
    store
        .apply_group(carol, g, &GroupOp::Leave, T0 + 100)
        .await
        .expect("leave");
    post(store, g, bob, "report after carol left", T0 + 110).await;
    assert!(
        found(
            store,
            SearchRequest {
                user: carol,
                ..wide.clone()
            }
        )
        .await
        .is_empty()
    );
    index_all(store, "n1", T0).await;
    assert!(
        found(
            store,
            SearchRequest {
                user: carol,
                ..wide.clone()
            }
        )
        .await
        .is_empty()
    );
    // Dave joins late: only what came after his join.
    store
        .apply_group(alice, g, &GroupOp::Invite(vec![dave]), T0 + 120)
        .await
        .expect("invite");
    let late = post(store, g, bob, "report for dave", T0 + 130).await;
    assert_eq!(
        found(
            store,
            SearchRequest {
                user: dave,
                ..wide.clone()
            }
        )
        .await,
        vec![late]
    );
    index_all(store, "n1", T0).await;
    assert_eq!(
        found(
            store,
            SearchRequest {
                user: dave,
                limits: index_only(),
                ..wide.clone()
            }
        )
        .await,
        vec![late]
    );
    // A conversation the caller is not in finds nothing.
    assert!(
        found(
            store,
            SearchRequest {
                user: dave,
                conv: Some(dm),
                ..wide.clone()
            }
        )
        .await
        .is_empty()
    );
}

/// A recalled message is never found; an edited one by its new text only,
/// through the tail and through the index; the indexer drops a recalled
/// message's terms.
async fn recalls_and_edits(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let dm = store.open_direct(alice, bob, T0).await.expect("dm");
    let edited = post(store, dm, alice, "budget meeting at noon", T0).await;
    let recalled = post(store, dm, alice, "secret budget plan", T0 + 1).await;
    assert_eq!(index_all(store, "n1", T0).await, 2);
    let amend = |seq, op| NewAmend {
        conv: dm,
        target: seq,
        actor: alice,
        actor_name: "alice".into(),
        op,
        now: T0 + 10,
    };
    store
        .amend(&amend(
            1,
            AmendOp::Edit {
                body: "lunch plans instead".into(),
                window_ms: 1_000_000,
            },
        ))
        .await
        .expect("edit");
    store
        .amend(&amend(
            2,
            AmendOp::Recall {
                window_ms: 1_000_000,
            },
        ))
        .await
        .expect("recall");
    for limits in [tail_only(), index_only()] {
        if limits.tail == 0 {
            // The edit and the recall each re-index their target.
            assert_eq!(index_all(store, "n1", T0).await, 2);
        }
        assert!(
            search(store, bob, "budget", limits).await.hits.is_empty(),
            "{limits:?}"
        );
        assert!(
            search(store, bob, "secret", limits).await.hits.is_empty(),
            "{limits:?}"
        );
        let page = search(store, bob, "lunch", limits).await;
        assert_eq!(ids(&page), vec![edited], "{limits:?}");
        assert!(page.hits[0].edited);
        assert_eq!(page.hits[0].excerpt, "lunch plans instead");
    }
    let _ = recalled;
    // Indexing again changes nothing.
    assert_eq!(index_all(store, "n1", T0).await, 0);
}

/// The watermark survives a restart (indexing resumes, not restarts); a
/// second node stands by while the first holds the lease and takes over
/// once it lapses.
async fn indexer_resumes_and_hands_over<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let dm = store.open_direct(alice, bob, T0).await.expect("dm");
    for i in 0..5 {
        post(store, dm, alice, &format!("hello {i}"), T0 + i).await;
    }
    assert_eq!(index_all(store, "n1", T0).await, 5);
    let state = store.search_index_state().await.expect("state");
    assert_eq!(
        (state.holder.as_str(), state.watermark, state.indexed_to),
        ("n1", 5, 5)
    );
    let harness = harness.reopen().await;
    let store = harness.store();
    post(store, dm, bob, "hello again", T0 + 10).await;
    // A fresh cursor on the same node resumes at the watermark.
    assert_eq!(index_all(store, "n1", T0 + 1).await, 1);
    // Another node stands by while n1's lease holds...
    let other = harness.another_node().await;
    post(store, dm, bob, "hello from n2", T0 + 20).await;
    let mut cursor = IndexCursor::default();
    let step = other
        .search_index_step("n2", T0 + 2, 100, &mut cursor)
        .await
        .expect("step");
    assert!(step.standby && step.idle);
    // ...and takes over when it lapses.
    let later = T0 + 2 + LEASE_MS + 1;
    assert_eq!(index_all(&other, "n2", later).await, 1);
    assert_eq!(
        store.search_index_state().await.expect("state").holder,
        "n2"
    );
    let page = search(store, alice, "hello", index_only()).await;
    assert_eq!(page.hits.len(), 7);
    other.close().await;
    harness.close().await;
}

/// A query that would read more postings than its budget stops with a
/// cursor; following the cursors finds everything, once, newest first.
async fn work_per_query_is_bounded(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let mut want = Vec::new();
    for (i, peer) in ["bob", "carol", "dave"].iter().enumerate() {
        let peer = user(store, peer).await;
        let conv = store.open_direct(alice, peer, T0).await.expect("dm");
        for j in 0..20i64 {
            // The long word drives the scan (it looks rarer); the short
            // one leaves a quarter of its postings.
            let body = if j % 4 == 0 {
                "alphanumerics zeta"
            } else {
                "alphanumerics gamma"
            };
            let id = post(
                store,
                conv,
                if j % 2 == 0 { alice } else { peer },
                body,
                T0 + j * 3 + i as i64,
            )
            .await;
            if j % 4 == 0 {
                want.push(id);
            }
        }
    }
    index_all(store, "n1", T0).await;
    want.sort_unstable_by(|a, b| b.cmp(a));
    let q = Query::parse("alphanumerics zeta").expect("q");
    let mut before = None;
    let mut seen = Vec::new();
    let mut short = false;
    for _ in 0..100 {
        let page = store
            .message_search(&SearchRequest {
                user: alice,
                query: &q,
                conv: None,
                from: None,
                after_ts: None,
                before_ts: None,
                before,
                limit: 5,
                limits: SearchLimits {
                    postings: 4,
                    ..index_only()
                },
            })
            .await
            .expect("page");
        short |= page.hits.len() < 5 && page.next.is_some();
        seen.extend(ids(&page));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, want);
    assert!(short, "the budget never cut a page short");
}

common::contract_suite!(
    store: [
        corpus_matches,
        paging_filters_and_visibility,
        recalls_and_edits,
        work_per_query_is_bounded,
    ],
    harness: [indexer_resumes_and_hands_over],
);
