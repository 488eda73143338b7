//! Message search end to end, on both transports (and, through `.ci/run`,
//! on PostgreSQL and MariaDB): hits newest first with excerpts, paging and
//! filters, recalled messages never found, edited ones by their new text
//! only, each refusal (a group left, a conversation not one's own, bad
//! input, the rate), and the background indexer serving searches on its
//! own (with the unindexed tail turned off).

mod common;

use common::*;
use magpie_client::Client;
use magpie_proto::{
    Edit, GroupCreate, MessageKind, MessageSearch, MessageSearchOk, Recall, Request,
};
use magpie_server::config::RateLimit;
use std::time::Duration;

on_both_transports!(
    hits_come_newest_first_with_excerpts_and_pages,
    filters_narrow_the_hits,
    recalled_never_found_and_edited_by_new_text_only,
    group_leavers_and_strangers_find_nothing,
    bad_input_and_the_rate_are_refused,
    the_indexer_serves_searches_alone,
);

/// A server whose search rate does not get in the way of a test making
/// many searches.
async fn server() -> TestServer {
    TestServer::start_with(|c| c.search_rate_per_user = RateLimit::OFF).await
}

fn query(text: &str) -> MessageSearch {
    MessageSearch {
        query: text.to_owned(),
        ..MessageSearch::default()
    }
}

async fn find(client: &Client, q: MessageSearch) -> MessageSearchOk {
    client.message_search(q).await.expect("message_search")
}

fn bodies(page: &MessageSearchOk) -> Vec<&str> {
    page.hits.iter().map(|h| h.excerpt.as_str()).collect()
}

async fn hits_come_newest_first_with_excerpts_and_pages(t: Transport) {
    let server = server().await;
    let url = server.url(t);
    let (alice_name, bob_name) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &alice_name).await;
    let (bob, _) = user(&url, &bob_name).await;
    let texts = [
        "明天下午三点开会议，你好吗",
        "Meet me at the Café",
        "会议室在三楼",
        "カタカナのテスト 🎉",
        "naïve question about the 会议",
    ];
    let mut acks = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let (from, to) = if i % 2 == 0 {
            (&alice, &bob_name)
        } else {
            (&bob, &alice_name)
        };
        acks.push(from.send(to, text).await.expect("send"));
    }
    // Chinese inside a sentence without spaces, newest first.
    let page = find(&bob, query("会议")).await;
    assert_eq!(bodies(&page), [texts[4], texts[2], texts[0]]);
    assert_eq!(page.next, None);
    let hit = &page.hits[0];
    assert_eq!(
        (hit.msg_id, hit.conv, hit.seq, hit.from.as_str(), hit.kind),
        (
            acks[4].msg_id,
            acks[4].conv,
            acks[4].seq,
            alice_name.as_str(),
            MessageKind::Text
        )
    );
    assert_eq!(hit.ts, acks[4].ts);
    assert_eq!(hit.highlights, vec![[25, 2]]);
    for (q, want) in [
        ("你好", vec![texts[0]]),
        ("cafe", vec![texts[1]]),
        ("CAFÉ", vec![texts[1]]),
        ("テスト", vec![texts[3]]),
        ("🎉", vec![texts[3]]),
        ("naive 会议", vec![texts[4]]),
        ("nothing", vec![]),
    ] {
        assert_eq!(bodies(&find(&alice, query(q)).await), want, "{q}");
    }
    // Pages of two, following the cursor, nothing twice.
    let mut seen = Vec::new();
    let mut q = MessageSearch {
        limit: Some(2),
        ..query("会")
    };
    loop {
        let page = find(&alice, q.clone()).await;
        assert!(page.hits.len() <= 2);
        seen.extend(page.hits.iter().map(|h| h.msg_id));
        match page.next {
            Some(next) => q.before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, [acks[4].msg_id, acks[2].msg_id, acks[0].msg_id]);
    // The client's helper does the same.
    let all = alice
        .message_search_all(query("会"), 100)
        .await
        .expect("all pages");
    assert_eq!(all.len(), 3);
    // A long message shows an excerpt around the match.
    let long = format!("{} the needle {}", "hay ".repeat(100), "straw ".repeat(100));
    alice.send(&bob_name, &long).await.expect("send long");
    let page = find(&bob, query("needle")).await;
    let excerpt = &page.hits[0].excerpt;
    assert!(excerpt.chars().count() <= 120, "{excerpt}");
    assert!(
        excerpt.contains("the needle") && excerpt.starts_with('…'),
        "{excerpt}"
    );
}

async fn filters_narrow_the_hits(t: Transport) {
    let server = server().await;
    let url = server.url(t);
    let (a, b, c) = (unique("alice"), unique("bob"), unique("carol"));
    let (alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    let to_bob = alice.send(&b, "weekly report one").await.expect("send");
    let from_bob = bob.send(&a, "weekly report two").await.expect("send");
    let from_carol = carol.send(&a, "weekly report three").await.expect("send");
    let ids = |page: MessageSearchOk| page.hits.iter().map(|h| h.msg_id).collect::<Vec<_>>();
    let all = ids(find(&alice, query("report")).await);
    assert_eq!(all, [from_carol.msg_id, from_bob.msg_id, to_bob.msg_id]);
    let in_bob_chat = MessageSearch {
        conv: Some(to_bob.conv),
        ..query("report")
    };
    assert_eq!(
        ids(find(&alice, in_bob_chat).await),
        [from_bob.msg_id, to_bob.msg_id]
    );
    let from = MessageSearch {
        from: Some(c.clone()),
        ..query("report")
    };
    assert_eq!(ids(find(&alice, from).await), [from_carol.msg_id]);
    let window = MessageSearch {
        after_ts: Some(from_bob.ts),
        before_ts: Some(from_carol.ts + 1),
        ..query("report")
    };
    let got = ids(find(&alice, window).await);
    assert!(got.contains(&from_carol.msg_id) && got.contains(&from_bob.msg_id));
    assert!(!got.contains(&to_bob.msg_id) || to_bob.ts == from_bob.ts);
    // Carol sees only her own conversation with alice.
    assert_eq!(
        ids(find(&carol, query("report")).await),
        [from_carol.msg_id]
    );
}

async fn recalled_never_found_and_edited_by_new_text_only(t: Transport) {
    let server = server().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let edited = alice
        .send(&b, "budget meeting at noon")
        .await
        .expect("send");
    let recalled = alice.send(&b, "the secret budget").await.expect("send");
    assert_eq!(find(&bob, query("budget")).await.hits.len(), 2);
    alice
        .request(Request::Edit(Edit {
            conv: edited.conv,
            seq: edited.seq,
            body: "lunch plans instead".into(),
        }))
        .await
        .expect("edit");
    alice
        .request(Request::Recall(Recall {
            conv: recalled.conv,
            seq: recalled.seq,
        }))
        .await
        .expect("recall");
    for who in [&alice, &bob] {
        assert!(find(who, query("budget")).await.hits.is_empty());
        assert!(find(who, query("secret")).await.hits.is_empty());
        let page = find(who, query("lunch")).await;
        assert_eq!(page.hits.len(), 1);
        assert_eq!(page.hits[0].msg_id, edited.msg_id);
        assert!(page.hits[0].edited);
    }
}

async fn group_leavers_and_strangers_find_nothing(t: Transport) {
    let server = server().await;
    let url = server.url(t);
    let (a, b, c, d) = (
        unique("alice"),
        unique("bob"),
        unique("carol"),
        unique("dave"),
    );
    let (alice, _) = user(&url, &a).await;
    let (_bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    let (dave, _) = user(&url, &d).await;
    let group = alice
        .group_create(GroupCreate {
            name: "项目组".into(),
            members: vec![b.clone(), c.clone()],
            ..GroupCreate::default()
        })
        .await
        .expect("group");
    alice
        .send_to_conv(group.conv, "项目会议纪要")
        .await
        .expect("send");
    assert_eq!(find(&carol, query("会议")).await.hits.len(), 1);
    carol.group_leave(group.conv).await.expect("leave");
    alice
        .send_to_conv(group.conv, "会议之后的消息")
        .await
        .expect("send");
    // Nothing of the group, from before or after leaving...
    assert!(find(&carol, query("会议")).await.hits.is_empty());
    // ...and naming it is refused, as for a stranger.
    let in_group = MessageSearch {
        conv: Some(group.conv),
        ..query("会议")
    };
    assert_eq!(
        code_of(carol.message_search(in_group.clone()).await),
        "unknown_conversation"
    );
    assert!(find(&dave, query("会议")).await.hits.is_empty());
    assert_eq!(
        code_of(dave.message_search(in_group.clone()).await),
        "unknown_conversation"
    );
    assert_eq!(find(&alice, in_group).await.hits.len(), 2);
    // Dave joins: only what comes after.
    alice.group_invite(group.conv, &[&d]).await.expect("invite");
    alice
        .send_to_conv(group.conv, "欢迎参加会议")
        .await
        .expect("send");
    assert_eq!(bodies(&find(&dave, query("会议")).await), ["欢迎参加会议"]);
}

async fn bad_input_and_the_rate_are_refused(t: Transport) {
    let server = TestServer::start_with(|c| {
        c.search_rate_per_user = RateLimit::per_minute(1, 10);
    })
    .await;
    let url = server.url(t);
    let (alice, _) = user(&url, &unique("alice")).await;
    let bad = [
        query(""),
        query("   "),
        query("?!"),
        query("a"),
        query(&"长".repeat(101)),
        MessageSearch {
            limit: Some(0),
            ..query("ok")
        },
        MessageSearch {
            limit: Some(51),
            ..query("ok")
        },
        MessageSearch {
            after_ts: Some(10),
            before_ts: Some(10),
            ..query("ok")
        },
        MessageSearch {
            before: Some(0),
            ..query("ok")
        },
    ];
    for q in bad {
        assert_eq!(
            code_of(alice.message_search(q.clone()).await),
            "invalid_args",
            "{q:?}"
        );
    }
    let stranger = MessageSearch {
        from: Some("nobody-at-all".into()),
        ..query("ok")
    };
    assert_eq!(
        code_of(alice.message_search(stranger).await),
        "unknown_user"
    );
    // The burst of ten is used up above: the next is refused.
    let err = alice
        .message_search(query("ok"))
        .await
        .expect_err("rate limited");
    assert_eq!(err.code(), Some(magpie_proto::ErrorCode::RateLimited));
}

/// Search until `check` holds of the page, within the test's wait.
async fn eventually(client: &Client, q: MessageSearch, check: impl Fn(&MessageSearchOk) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page = find(client, q.clone()).await;
        if check(&page) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the index never showed it: {page:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_indexer_serves_searches_alone(t: Transport) {
    let server = TestServer::start_with(|c| {
        c.search_rate_per_user = RateLimit::OFF;
        c.search_tail = 0;
        c.search_index_interval = Duration::from_millis(20);
    })
    .await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let first = alice.send(&b, "indexed 会议 message").await.expect("send");
    eventually(&bob, query("会议"), |p| p.hits.len() == 1).await;
    alice
        .request(Request::Edit(Edit {
            conv: first.conv,
            seq: first.seq,
            body: "rewritten text".into(),
        }))
        .await
        .expect("edit");
    eventually(&bob, query("rewritten"), |p| p.hits.len() == 1).await;
    assert!(find(&bob, query("会议")).await.hits.is_empty());
    alice
        .request(Request::Recall(Recall {
            conv: first.conv,
            seq: first.seq,
        }))
        .await
        .expect("recall");
    assert!(find(&bob, query("rewritten")).await.hits.is_empty());
    // Messages sent before a restart are found after it.
    let mut server = server;
    bob.send(&a, "before the restart").await.expect("send");
    eventually(&alice, query("restart"), |p| p.hits.len() == 1).await;
    drop(alice);
    drop(bob);
    server.restart().await;
    let (alice, _) = user(&server.url(t), &a).await;
    assert_eq!(find(&alice, query("restart")).await.hits.len(), 1);
}
