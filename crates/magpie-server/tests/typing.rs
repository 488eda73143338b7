//! Typing indicators end to end, on both transports (and, through
//! `.ci/run`, on PostgreSQL and MariaDB): a notice reaches the other
//! members of a 1:1 conversation or a small group, never the typist's own
//! devices, and is stored nowhere; and each refusal: a conversation the
//! typist is not in, a peer who blocked them, a group that muted them, a
//! group above `typing_max_members`, and the per-user rate. The cluster
//! case (a notice crossing nodes) is in tests/cluster.rs.

mod common;

use common::*;
use magpie_client::Client;
use magpie_proto::{ConvId, GroupCreate, Push, TypingNotice};
use magpie_server::config::RateLimit;

on_both_transports!(
    a_notice_reaches_the_peer_and_not_the_typist,
    a_notice_is_stored_nowhere,
    every_other_member_of_a_small_group_is_told,
    typing_in_a_conversation_i_am_not_in_is_refused,
    typing_to_a_peer_who_blocked_me_is_refused,
    typing_while_muted_in_a_group_is_refused,
    typing_in_a_group_above_the_limit_is_refused,
    typing_is_rate_limited,
);

/// The next `typing` push to `client`, skipping others; fails after WAIT.
async fn next_typing(client: &mut Client) -> TypingNotice {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, client.next_push()).await {
            Ok(Some(Push::Typing(t))) => return t,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("connection closed while waiting for a typing notice"),
            Err(_) => panic!("no typing notice within {WAIT:?}"),
        }
    }
}

/// A group of `owner` with `members`.
async fn group(owner: &Client, members: &[&str]) -> ConvId {
    owner
        .group_create(GroupCreate {
            name: "typists".into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            ..GroupCreate::default()
        })
        .await
        .expect("group_create")
        .conv
}

async fn a_notice_reaches_the_peer_and_not_the_typist(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, c) = (unique("alice"), unique("bob"), unique("carol"));
    let (mut desktop, auth) = user(&url, &a).await;
    let (mut phone, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    let conv = desktop.send(&b, "hi").await.expect("send").conv;
    next_message(&mut bob).await;
    next_message(&mut phone).await;

    desktop.typing(conv, true).await.expect("typing");
    assert_eq!(
        next_typing(&mut bob).await,
        TypingNotice {
            conv,
            user_id: auth.user_id,
            user: a.clone(),
            active: true,
            ttl_ms: 6000,
        }
    );
    desktop.typing(conv, false).await.expect("stopped");
    let stopped = next_typing(&mut bob).await;
    assert!(!stopped.active);
    // The typist's other device was told nothing.
    assert_no_push_before_marker(&mut phone, &carol, &a).await;
    // Bob types back: alice's devices both see it.
    bob.typing(conv, true).await.expect("bob types");
    for device in [&mut desktop, &mut phone] {
        let notice = next_typing(device).await;
        assert_eq!((notice.user.as_str(), notice.active), (b.as_str(), true));
    }
}

async fn a_notice_is_stored_nowhere(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let ack = alice.send(&b, "hi").await.expect("send");
    next_message(&mut bob).await;
    for _ in 0..3 {
        alice.typing(ack.conv, true).await.expect("typing");
        next_typing(&mut bob).await;
    }
    // Nothing in the conversation, nothing in either stream, and the
    // list still shows the message as the last entry.
    let synced = bob.sync(&Default::default(), None).await.expect("sync");
    assert_eq!(synced.messages.len(), 1);
    assert_eq!(newest_history(&alice, &b).await.messages.len(), 1);
    for client in [&alice, &bob] {
        assert_eq!(client.catch_up_changes(0).await.expect("changes").head, 0);
        let row = &client.conversations().await.expect("list")[0];
        assert_eq!(row.max_seq, ack.seq);
    }
    // A device connecting now is told nothing of earlier notices.
    let (mut late, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &unique("carol")).await;
    assert_no_push_before_marker(&mut late, &carol, &b).await;
}

async fn every_other_member_of_a_small_group_is_told(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, c) = (unique("alice"), unique("bob"), unique("carol"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let (mut carol, _) = user(&url, &c).await;
    let conv = group(&alice, &[&b, &c]).await;
    alice.typing(conv, true).await.expect("typing");
    for member in [&mut bob, &mut carol] {
        let notice = next_typing(member).await;
        assert_eq!((notice.conv, notice.user.as_str()), (conv, a.as_str()));
    }
}

async fn typing_in_a_conversation_i_am_not_in_is_refused(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, m) = (unique("alice"), unique("bob"), unique("mallory"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let (mallory, _) = user(&url, &m).await;
    let conv = alice.send(&b, "private").await.expect("send").conv;
    next_message(&mut bob).await;
    for target in [conv, conv + 10_000] {
        assert_eq!(
            code_of(mallory.typing(target, true).await),
            "unknown_conversation"
        );
    }
    let anonymous = connect(&url).await;
    assert_eq!(
        code_of(anonymous.typing(conv, true).await),
        "not_authenticated"
    );
    assert_no_push_before_marker(&mut bob, &alice, &b).await;
}

async fn typing_to_a_peer_who_blocked_me_is_refused(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let conv = alice.send(&b, "hi").await.expect("send").conv;
    next_message(&mut bob).await;
    bob.block(&a).await.expect("block");
    assert_eq!(code_of(alice.typing(conv, true).await), "not_allowed");
    // Nor the other way: the blocker is told to unblock first.
    assert_eq!(code_of(bob.typing(conv, true).await), "not_allowed");
    bob.unblock(&a).await.expect("unblock");
    alice.typing(conv, true).await.expect("typing again");
    assert!(next_typing(&mut bob).await.active);
}

async fn typing_while_muted_in_a_group_is_refused(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let conv = group(&alice, &[&b]).await;
    alice.group_mute(conv, &b, 600).await.expect("mute bob");
    assert_eq!(code_of(bob.typing(conv, true).await), "muted");
    alice.group_mute(conv, &b, 0).await.expect("unmute bob");
    bob.typing(conv, true).await.expect("typing after the mute");
}

async fn typing_in_a_group_above_the_limit_is_refused(t: Transport) {
    let server = TestServer::start_with(|c| c.typing_max_members = 3).await;
    let url = server.url(t);
    let (a, b, c, d) = (
        unique("alice"),
        unique("bob"),
        unique("carol"),
        unique("dave"),
    );
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let (_carol, _) = user(&url, &c).await;
    let (_dave, _) = user(&url, &d).await;
    let small = group(&alice, &[&b, &c]).await;
    let large = group(&alice, &[&b, &c, &d]).await;
    alice.typing(small, true).await.expect("three members");
    assert_eq!(next_typing(&mut bob).await.conv, small);
    let refused = alice.typing(large, true).await;
    match &refused {
        Err(e) => assert!(e.to_string().contains("more than 3"), "{e}"),
        Ok(()) => panic!("typing in a group of four"),
    }
    assert_eq!(code_of(refused), "not_allowed");
    // 1:1 conversations are never above the limit.
    let direct = alice.send(&b, "hi").await.expect("send").conv;
    alice.typing(direct, true).await.expect("1:1");
    assert_eq!(next_typing(&mut bob).await.conv, direct);
}

async fn typing_is_rate_limited(t: Transport) {
    let server = TestServer::start_with(|c| {
        c.typing_rate_per_user = RateLimit::per_minute(1, 2);
    })
    .await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let conv = alice.send(&b, "hi").await.expect("send").conv;
    next_message(&mut bob).await;
    alice.typing(conv, true).await.expect("first");
    alice.typing(conv, true).await.expect("second");
    let refused = alice.typing(conv, true).await;
    assert_eq!(code_of(refused), "rate_limited");
    // Two notices reached bob, and no third.
    next_typing(&mut bob).await;
    next_typing(&mut bob).await;
    assert_no_push_before_marker(&mut bob, &alice, &b).await;
    // The limit is the typist's: bob is not limited by alice's notices.
    bob.typing(conv, true).await.expect("bob types");
}
