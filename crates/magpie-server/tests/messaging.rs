//! End-to-end behaviour of accounts and 1:1 messaging, on both transports.

mod common;

use common::*;
use magpie_client::{Accept, SyncState};
use magpie_proto::{ErrorCode, History, MessageKind, Push};
use std::collections::BTreeMap;

on_both_transports!(
    accounts_and_sessions,
    token_resumes_a_session_and_logout_revokes_it,
    every_device_of_both_users_gets_each_message,
    offline_recipient_gets_messages_on_next_connect,
    retried_send_is_stored_and_delivered_once,
    reconnect_and_sync_recovers_exactly_the_missed_messages,
    history_pages_backwards_without_gaps,
    read_marks_and_unread_counts,
    concurrent_senders_get_gapless_seqs_delivered_in_order,
    pages_of_large_messages_stay_within_the_frame_limit,
);

async fn accounts_and_sessions(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let client = connect(&url).await;
    let name = unique("acct");

    // Validation happens before anything is stored.
    assert_eq!(
        code_of(client.register("x", PASSWORD).await),
        "invalid_username"
    );
    assert_eq!(
        code_of(client.register("bad name", PASSWORD).await),
        "invalid_username"
    );
    assert_eq!(
        code_of(client.register(&name, "short").await),
        "invalid_password"
    );

    let registered = client
        .register(&name.to_uppercase(), PASSWORD)
        .await
        .expect("register");
    assert_eq!(registered.user, name, "usernames are stored lower-case");
    assert_eq!(
        code_of(client.register(&name, PASSWORD).await),
        "username_taken"
    );

    // Unknown user and wrong password are the same error.
    assert_eq!(
        code_of(client.login(&name, "wrong password", None).await),
        "invalid_credentials"
    );
    assert_eq!(
        code_of(client.login("nobody-here", PASSWORD, None).await),
        "invalid_credentials"
    );

    // Nothing that needs a session works before login.
    assert_eq!(code_of(client.send(&name, "hi").await), "not_authenticated");
    assert_eq!(code_of(client.conversations().await), "not_authenticated");
    assert_eq!(
        code_of(client.sync(&BTreeMap::new(), None).await),
        "not_authenticated"
    );

    let auth = client
        .login(&name, PASSWORD, Some("laptop"))
        .await
        .expect("login");
    assert_eq!(auth.user_id, registered.user_id);
    assert!(auth.token.as_ref().is_some_and(|t| t.len() >= 40));
    assert!(auth.expires_at > magpie_server::clock::now_ms());
    assert_eq!(
        code_of(client.login(&name, PASSWORD, None).await),
        "already_authenticated"
    );
    assert_eq!(
        code_of(client.register(&unique("other"), PASSWORD).await),
        "already_authenticated"
    );
    assert!(
        client
            .conversations()
            .await
            .expect("conversations")
            .is_empty()
    );
}

async fn token_resumes_a_session_and_logout_revokes_it(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let alice = unique("alice");
    let bob = unique("bob");
    let (_b, _) = user(&url, &bob).await;
    let (first, auth) = user(&url, &alice).await;
    let token = auth.token.expect("login returns a token");

    // A second connection resumes without the password.
    let second = connect(&url).await;
    let resumed = second.resume(&token).await.expect("resume");
    assert_eq!(resumed.user_id, auth.user_id);
    assert_eq!(resumed.user, alice);
    assert!(resumed.token.is_none(), "resume does not mint a new token");
    second
        .send(&bob, "from resumed session")
        .await
        .expect("send");

    assert_eq!(
        code_of(connect(&url).await.resume("not-a-token").await),
        "invalid_token"
    );

    // Logout revokes the token: it no longer resumes, the connection is
    // logged out, and the other connection using the token is closed.
    let mut first = first;
    second.logout().await.expect("logout");
    assert_eq!(
        code_of(second.send(&bob, "after logout").await),
        "not_authenticated"
    );
    assert_eq!(
        code_of(connect(&url).await.resume(&token).await),
        "invalid_token"
    );
    let goaway = tokio::time::timeout(WAIT, async {
        loop {
            match first.next_push().await {
                Some(Push::Goaway(g)) => return Some(g),
                Some(_) => continue,
                None => return None,
            }
        }
    })
    .await
    .expect("kicked in time")
    .expect("goaway before close");
    assert_eq!(goaway.reason, "logout");

    // The password still works and makes a new token.
    let third = connect(&url).await;
    let again = third
        .login(&alice, PASSWORD, None)
        .await
        .expect("login again");
    assert_ne!(again.token, Some(token));
}

async fn every_device_of_both_users_gets_each_message(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a1, _) = user(&url, &alice).await;
    let (mut a2, _) = user(&url, &alice).await;
    let (mut b1, _) = user(&url, &bob).await;
    let (mut b2, _) = user(&url, &bob).await;
    let mut a1 = a1;

    let ack = a1.send(&bob, "hello 你好 🐦").await.expect("send");
    assert_eq!(ack.seq, 1);
    assert!(!ack.duplicate);
    for device in [&mut a2, &mut b1, &mut b2] {
        let m = next_message(device).await;
        assert_eq!((m.msg_id, m.conv, m.seq), (ack.msg_id, ack.conv, ack.seq));
        assert_eq!(m.from, alice);
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.body, "hello 你好 🐦");
        assert_eq!(m.ts, ack.ts);
    }
    // A reply lands in the same conversation with the next seq. It is the
    // next push the first sender sees: a sending connection gets the ack,
    // not a push of its own message.
    let reply = b2.send(&alice, "hi back").await.expect("reply");
    assert_eq!((reply.conv, reply.seq), (ack.conv, 2));
    for device in [&mut a1, &mut a2, &mut b1] {
        let m = next_message(device).await;
        assert_eq!((m.seq, m.from.as_str()), (2, bob.as_str()));
    }
    assert_no_push_before_marker(&mut b2, &a1, &bob).await;
}

async fn offline_recipient_gets_messages_on_next_connect(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (b, _) = user(&url, &bob).await;
    b.close().await;
    let (a, _) = user(&url, &alice).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(a.send(&bob, &format!("offline {i}")).await.expect("send"));
    }

    let (b, _) = user(&url, &bob).await;
    let mut state = SyncState::new();
    let missed = state.catch_up(&b).await.expect("sync");
    let bodies: Vec<_> = missed.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "offline 0",
            "offline 1",
            "offline 2",
            "offline 3",
            "offline 4"
        ]
    );
    let seqs: Vec<_> = missed.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(missed[0].msg_id, sent[0].msg_id);
    // Syncing again finds nothing new.
    assert!(state.catch_up(&b).await.expect("sync again").is_empty());
}

async fn retried_send_is_stored_and_delivered_once(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;

    let first = a
        .send_with_cmid(&bob, "cmid-1", "only once")
        .await
        .expect("send");
    assert!(!first.duplicate);
    // The retry can even come from another connection of the same user.
    let (a2, _) = user(&url, &alice).await;
    let retry = a2
        .send_with_cmid(&bob, "cmid-1", "only once")
        .await
        .expect("retry");
    assert!(retry.duplicate);
    assert_eq!(
        (retry.msg_id, retry.conv, retry.seq, retry.ts),
        (first.msg_id, first.conv, first.seq, first.ts)
    );

    // The retry is pushed again: its sender cannot know whether the first
    // attempt's push went out (the commit may have succeeded while its
    // outcome was lost). The copies are identical, so a client shows the
    // message once.
    let (pushed, again) = (next_message(&mut b).await, next_message(&mut b).await);
    assert_eq!(pushed.msg_id, first.msg_id);
    assert_eq!(again, pushed);
    let mut shown = SyncState::new();
    assert_eq!(shown.accept(&pushed), Accept::New);
    assert_eq!(shown.accept(&again), Accept::Duplicate);
    let page = newest_history(&b, &alice).await;
    assert_eq!(page.messages.len(), 1);

    // The same cmid from a different sender is a different message.
    let other = b
        .send_with_cmid(&alice, "cmid-1", "mine")
        .await
        .expect("send");
    assert!(!other.duplicate);
    assert_eq!(other.seq, 2);
    // Nothing more for the recipient: no third copy, no push of its own.
    assert_no_push_before_marker(&mut b, &a, &bob).await;
}

async fn reconnect_and_sync_recovers_exactly_the_missed_messages(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob, carol) = (unique("alice"), unique("bob"), unique("carol"));
    let (a, _) = user(&url, &alice).await;
    let (c, _) = user(&url, &carol).await;
    let (mut b, auth) = user(&url, &bob).await;
    let token = auth.token.expect("token");

    let mut state = SyncState::new();
    for i in 0..3 {
        a.send(&bob, &format!("a{i}")).await.expect("send");
        let m = next_message(&mut b).await;
        assert_eq!(state.accept(&m), Accept::New);
    }
    // Cut the connection without a goodbye, then keep sending.
    drop(b);
    for i in 3..23 {
        a.send(&bob, &format!("a{i}")).await.expect("send");
        c.send(&bob, &format!("c{i}")).await.expect("send");
    }

    let b = connect(&url).await;
    b.resume(&token).await.expect("resume");
    let missed = state.catch_up(&b).await.expect("catch up");
    let from_a: Vec<_> = missed
        .iter()
        .filter(|m| m.from == alice)
        .map(|m| (m.seq, m.body.clone()))
        .collect();
    let from_c: Vec<_> = missed
        .iter()
        .filter(|m| m.from == carol)
        .map(|m| (m.seq, m.body.clone()))
        .collect();
    assert_eq!(
        from_a,
        (3..23)
            .map(|i| (i as i64 + 1, format!("a{i}")))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        from_c,
        (3..23)
            .map(|i| (i as i64 - 2, format!("c{i}")))
            .collect::<Vec<_>>()
    );
    assert_eq!(missed.len(), 40);

    // A small page size forces several round trips and still gets it all.
    let mut fresh = SyncState::new();
    let mut all = Vec::new();
    loop {
        let page = b.sync(fresh.cursors(), Some(7)).await.expect("sync page");
        assert!(page.messages.len() <= 7);
        for m in &page.messages {
            assert_eq!(fresh.accept(m), Accept::New, "pages are contiguous");
        }
        all.extend(page.messages);
        if !page.more {
            break;
        }
    }
    assert_eq!(all.len(), 43);
}

async fn history_pages_backwards_without_gaps(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob, eve) = (unique("alice"), unique("bob"), unique("eve"));
    let (a, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    let (e, _) = user(&url, &eve).await;
    for i in 1..=120 {
        a.send(&bob, &format!("m{i}")).await.expect("send");
    }
    let q = |before: Option<i64>| History {
        peer: Some(alice.clone()),
        before,
        limit: Some(50),
        ..History::default()
    };
    let p1 = b.history(q(None)).await.expect("page 1");
    let seqs = |p: &magpie_proto::HistoryOk| p.messages.iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(seqs(&p1), (71..=120).collect::<Vec<_>>());
    assert!(p1.more);
    assert_eq!(p1.messages[0].body, "m71");
    let p2 = b.history(q(Some(71))).await.expect("page 2");
    assert_eq!(seqs(&p2), (21..=70).collect::<Vec<_>>());
    assert!(p2.more);
    let p3 = b.history(q(Some(21))).await.expect("page 3");
    assert_eq!(seqs(&p3), (1..=20).collect::<Vec<_>>());
    assert!(!p3.more);

    // By conversation id too; but only for members.
    let conv = p1.conv.expect("conv id");
    let by_conv = a
        .history(History {
            conv: Some(conv),
            limit: Some(5),
            ..History::default()
        })
        .await
        .expect("by conv");
    assert_eq!(seqs(&by_conv), (116..=120).collect::<Vec<_>>());
    assert_eq!(
        code_of(
            e.history(History {
                conv: Some(conv),
                ..History::default()
            })
            .await
        ),
        "unknown_conversation"
    );
    assert_eq!(code_of(e.read(conv, 1).await), "unknown_conversation");
    // Eve has no conversation with alice: an empty page, not an error.
    let none = e.history(q(None)).await.expect("empty history");
    assert_eq!(
        (none.conv, none.messages.len(), none.more),
        (None, 0, false)
    );
    // Malformed queries.
    assert_eq!(code_of(b.history(History::default()).await), "invalid_args");
    assert_eq!(
        code_of(
            b.history(History {
                conv: Some(conv),
                peer: Some(alice.clone()),
                ..History::default()
            })
            .await
        ),
        "invalid_args"
    );
    assert_eq!(
        code_of(
            b.history(History {
                limit: Some(501),
                ..q(None)
            })
            .await
        ),
        "invalid_args"
    );
    assert_eq!(
        code_of(
            b.history(History {
                limit: Some(0),
                ..q(None)
            })
            .await
        ),
        "invalid_args"
    );
    assert_eq!(
        code_of(
            b.history(History {
                peer: Some("ghost-user".into()),
                ..History::default()
            })
            .await
        ),
        "unknown_user"
    );
}

async fn read_marks_and_unread_counts(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (b1, _) = user(&url, &bob).await;
    let (mut b2, _) = user(&url, &bob).await;
    for i in 1..=3 {
        a.send(&bob, &format!("n{i}")).await.expect("send");
    }
    for _ in 0..3 {
        next_message(&mut b2).await;
    }
    let list = b1.conversations().await.expect("conversations");
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!(
        (c.peer.as_deref(), c.max_seq, c.read_seq, c.unread),
        (Some(alice.as_str()), 3, 0, 3)
    );
    let last = c.last.as_ref().expect("last message");
    assert_eq!(
        (last.excerpt.as_str(), last.truncated, last.from.as_str()),
        ("n3", false, alice.as_str())
    );
    // The sender has read everything up to its own message.
    let theirs = &a.conversations().await.expect("conversations")[0];
    assert_eq!(
        (theirs.peer.as_deref(), theirs.unread, theirs.read_seq),
        (Some(bob.as_str()), 0, 3)
    );

    let mark = b1.read(c.conv, 2).await.expect("read");
    assert_eq!(mark.read_seq, 2);
    // The user's other device learns of it.
    let pushed = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Push::Read(r)) = b2.next_push().await {
                return r;
            }
        }
    })
    .await
    .expect("read push");
    assert_eq!(pushed, mark);
    assert_eq!(b1.conversations().await.expect("list")[0].unread, 1);
    // Never backwards; clamped to the newest message.
    assert_eq!(b1.read(c.conv, 1).await.expect("read").read_seq, 2);
    assert_eq!(b1.read(c.conv, 1000).await.expect("read").read_seq, 3);
    assert_eq!(b1.conversations().await.expect("list")[0].unread, 0);
    assert_eq!(code_of(b1.read(c.conv, -1).await), "invalid_args");
    assert_eq!(
        code_of(b1.read(c.conv + 1000, 1).await),
        "unknown_conversation"
    );

    // Most recently active first.
    let carol = unique("carol");
    let (cc, _) = user(&url, &carol).await;
    cc.send(&bob, "newer").await.expect("send");
    let list = b1.conversations().await.expect("list");
    assert_eq!(
        list.iter().map(|c| c.peer.as_deref()).collect::<Vec<_>>(),
        [Some(carol.as_str()), Some(alice.as_str())]
    );
}

async fn concurrent_senders_get_gapless_seqs_delivered_in_order(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let bob = unique("bob");
    let (mut b, _) = user(&url, &bob).await;
    let senders = 4;
    let per_sender = 50;
    let mut tasks = Vec::new();
    for s in 0..senders {
        let (url, bob) = (url.clone(), bob.clone());
        tasks.push(tokio::spawn(async move {
            // Two devices of the same user write into the same conversation.
            let name = format!("{bob}-peer{}", s / 2);
            let (c, _) = user(&url, &name).await;
            let mut acks = Vec::new();
            for i in 0..per_sender {
                acks.push(c.send(&bob, &format!("{s}:{i}")).await.expect("send"));
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for task in tasks {
        acks.extend(task.await.expect("sender task"));
    }
    let mut by_conv: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for a in &acks {
        by_conv.entry(a.conv).or_default().push(a.seq);
    }
    assert_eq!(by_conv.len(), 2);
    for seqs in by_conv.values_mut() {
        seqs.sort_unstable();
        assert_eq!(*seqs, (1..=(2 * per_sender) as i64).collect::<Vec<_>>());
    }
    let mut state = SyncState::new();
    for _ in 0..senders * per_sender {
        let m = next_message(&mut b).await;
        assert_eq!(state.accept(&m), Accept::New, "push out of order: {m:?}");
    }
    let (marker, _) = user(&url, &unique("marker")).await;
    assert_no_push_before_marker(&mut b, &marker, &bob).await;
}

#[tokio::test]
async fn unsupported_protocol_version_is_refused() {
    let server = TestServer::start().await;
    let client = connect(&server.url(Transport::Tcp)).await;
    let err = client
        .request(magpie_proto::Request::Hello(magpie_proto::Hello {
            version: 99,
            client: None,
        }))
        .await
        .expect_err("version 99");
    assert_eq!(err.code(), Some(ErrorCode::UnsupportedVersion));
    // The connection still works with the right version.
    client.ping().await.expect("ping");
}

async fn pages_of_large_messages_stay_within_the_frame_limit(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    let max_body = a.server_hello().max_body_bytes as usize;
    let max_frame = a.server_hello().max_frame_bytes as usize;
    // Control characters: each byte grows sixfold in JSON (\u0001).
    let worst = "\u{1}".repeat(max_body);
    for _ in 0..6 {
        a.send(&bob, &worst).await.expect("send");
    }
    let first = b
        .history(History {
            peer: Some(alice.clone()),
            limit: Some(500),
            ..History::default()
        })
        .await
        .expect("history within the frame limit");
    assert!(first.more, "the page was cut by size");
    assert!(!first.messages.is_empty() && first.messages.len() < 6);
    assert!(first.messages.len() * max_body * 6 < max_frame);
    assert_eq!(
        first.messages.last().map(|m| m.seq),
        Some(6),
        "newest first"
    );

    let mut state = SyncState::new();
    let mut pages = 0;
    let mut all = Vec::new();
    loop {
        let page = b
            .sync(state.cursors(), Some(1000))
            .await
            .expect("sync within the frame limit");
        pages += 1;
        for m in &page.messages {
            assert_eq!(state.accept(m), Accept::New);
            assert_eq!(m.body, worst);
        }
        all.extend(page.messages);
        if !page.more {
            break;
        }
    }
    assert_eq!(all.len(), 6);
    assert!(pages > 1, "six worst-case messages do not fit one frame");
}
