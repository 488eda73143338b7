//! The people area end to end: profiles, search, friends and requests,
//! categories, blocks, the messaging policy, and the change stream that
//! carries all of it to every device, live or after reconnecting. Every
//! flow runs on both transports against a real server.

mod common;

use common::*;
use magpie_client::Client;
use magpie_proto::{
    Change, ChangeEvent, ErrorCode, Gender, ProfileSet, RequestOutcome, RequestStatus,
};
use magpie_server::config::MessagingPolicy;
use magpie_server::config::RateLimit;

on_both_transports!(
    profile_changes_reach_every_device_and_friends_and_hide_private_fields,
    a_request_reaches_an_offline_user_across_a_restart_and_the_answer_comes_back,
    crossed_requests_make_a_friendship_and_repeats_update_the_pending_one,
    reject_cancel_and_remove_tell_both_sides,
    remarks_and_categories_sync_across_devices,
    a_block_refuses_messages_and_requests_without_revealing_itself,
    the_friends_policy_needs_a_friendship_and_keeps_old_history_readable,
    search_finds_by_username_nickname_phone_and_email,
    bad_input_and_acting_for_others_is_refused_and_changes_nothing,
    the_change_stream_is_gapless_and_matches_the_pushes,
);

/// The kinds of `changes`, for compact assertions.
fn kinds(changes: &[Change]) -> Vec<&'static str> {
    changes.iter().map(|c| kind(&c.event)).collect()
}

fn kind(event: &ChangeEvent) -> &'static str {
    match event {
        ChangeEvent::FriendRequest(_) => "friend_request",
        ChangeEvent::FriendRequestClosed(_) => "friend_request_closed",
        ChangeEvent::FriendAdded(_) => "friend_added",
        ChangeEvent::FriendUpdated(_) => "friend_updated",
        ChangeEvent::FriendRemoved(_) => "friend_removed",
        ChangeEvent::CategoryUpdated(_) => "category_updated",
        ChangeEvent::CategoryDeleted(_) => "category_deleted",
        ChangeEvent::Blocked(_) => "blocked",
        ChangeEvent::Unblocked(_) => "unblocked",
        ChangeEvent::Profile(_) => "profile",
        ChangeEvent::GroupJoined(_) => "group_joined",
        ChangeEvent::GroupLeft(_) => "group_left",
        ChangeEvent::GroupRequest(_) => "group_request",
        ChangeEvent::GroupRequestClosed(_) => "group_request_closed",
        ChangeEvent::DriveEntry(_) => "drive_entry",
        ChangeEvent::DriveRemoved(_) => "drive_removed",
        ChangeEvent::ConvSettings(_) => "conv_settings",
        ChangeEvent::Unknown { .. } => "unknown",
    }
}

/// Make `a` and `b` friends (b accepts a's request).
async fn befriend(a: &Client, b: &Client, b_name: &str, a_name: &str) {
    assert_eq!(
        a.friend_request(b_name, "hi").await.expect("request"),
        RequestStatus::Pending
    );
    b.friend_accept(a_name).await.expect("accept");
}

/// Everything in `client`'s stream from the start.
async fn all_changes(client: &Client) -> Vec<Change> {
    let caught = client.catch_up_changes(0).await.expect("changes");
    assert!(!caught.reset);
    caught.changes
}

fn friend_names(friends: &[magpie_proto::Friend]) -> Vec<String> {
    friends.iter().map(|f| f.user.user.clone()).collect()
}

async fn profile_changes_reach_every_device_and_friends_and_hide_private_fields(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob, carol, dave) = (
        unique("alice"),
        unique("bob"),
        unique("carol"),
        unique("dave"),
    );
    let (a1, _) = user(&url, &alice).await;
    let (mut a2, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;
    let (c, _) = user(&url, &carol).await;
    let (d, _) = user(&url, &dave).await;
    befriend(&a1, &b, &bob, &alice).await;
    befriend(&a1, &c, &carol, &alice).await;
    c.close().await;
    let before = all_changes(&b).await.len();

    let update = ProfileSet {
        nickname: Some("小鸟 🐦".into()),
        signature: Some("在路上".into()),
        gender: Some(Gender::Female),
        birthday: Some("1990-02-28".into()),
        phone: Some("+8613800138000".into()),
        email: Some("Alice@Example.com".into()),
        ..ProfileSet::default()
    };
    let mine = a1.set_profile(update).await.expect("profile_set");
    assert_eq!(mine.nickname, "小鸟 🐦");
    assert_eq!(mine.email.as_deref(), Some("alice@example.com"));

    // Live: the other device of alice, and her online friend.
    for device in [&mut a2, &mut b] {
        loop {
            let change = next_change(device).await;
            if let ChangeEvent::Profile(p) = change.event {
                assert_eq!(p, mine);
                break;
            }
        }
    }
    // Offline friend: after reconnecting.
    let (c, _) = user(&url, &carol).await;
    let caught = all_changes(&c).await;
    assert!(
        caught
            .iter()
            .any(|ch| ch.event == ChangeEvent::Profile(mine.clone())),
        "{caught:?}"
    );
    // A stranger's stream has nothing of it.
    assert!(all_changes(&d).await.is_empty());
    assert_eq!(all_changes(&b).await.len(), before + 1);

    // Friends see phone and email; a stranger does not.
    let seen_by_friend = b.profile(Some(&alice)).await.expect("profile");
    assert_eq!(seen_by_friend, mine);
    let seen_by_stranger = d.profile(Some(&alice)).await.expect("profile");
    assert_eq!(seen_by_stranger.phone, None);
    assert_eq!(seen_by_stranger.email, None);
    assert_eq!(seen_by_stranger.nickname, mine.nickname);
    assert_eq!(a2.profile(None).await.expect("own"), mine);

    // Clearing: empty strings clear optional fields.
    let cleared = a1
        .set_profile(ProfileSet {
            phone: Some(String::new()),
            birthday: Some(String::new()),
            ..ProfileSet::default()
        })
        .await
        .expect("clear");
    assert_eq!((cleared.phone, cleared.birthday), (None, None));
    assert_eq!(cleared.nickname, mine.nickname, "untouched fields stay");
}

async fn a_request_reaches_an_offline_user_across_a_restart_and_the_answer_comes_back(
    t: Transport,
) {
    let mut server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    b.close().await;
    assert_eq!(
        a.friend_request(&bob, "我是爱丽丝").await.expect("request"),
        RequestStatus::Pending
    );
    a.close().await;
    server.restart().await;
    let url = server.url(t);

    let (mut a1, _) = user(&url, &alice).await;
    let (mut a2, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    let caught = all_changes(&b).await;
    assert_eq!(kinds(&caught), ["friend_request"]);
    match &caught[0].event {
        ChangeEvent::FriendRequest(r) => {
            assert_eq!(
                (r.from.user.as_str(), r.note.as_str()),
                (alice.as_str(), "我是爱丽丝")
            );
        }
        other => panic!("{other:?}"),
    }
    let requests = b.friend_requests().await.expect("requests");
    assert_eq!(requests.incoming.len(), 1);
    assert!(requests.outgoing.is_empty());

    b.friend_accept(&alice).await.expect("accept");
    // Both of alice's devices are told, in order.
    for device in [&mut a1, &mut a2] {
        let closed = next_change(device).await;
        match closed.event {
            ChangeEvent::FriendRequestClosed(c) => assert_eq!(c.outcome, RequestOutcome::Accepted),
            other => panic!("{other:?}"),
        }
        let added = next_change(device).await;
        assert_eq!(added.seq, closed.seq + 1);
        match added.event {
            ChangeEvent::FriendAdded(f) => assert_eq!(f.user.user, bob),
            other => panic!("{other:?}"),
        }
    }
    let (friends, _) = a1.friends().await.expect("friends");
    assert_eq!(friend_names(&friends), [bob.as_str()]);
    let (friends, _) = b.friends().await.expect("friends");
    assert_eq!(friend_names(&friends), [alice.as_str()]);
    assert!(
        b.friend_requests()
            .await
            .expect("requests")
            .incoming
            .is_empty()
    );
    // Asking again is refused: they are friends.
    assert_eq!(
        code_of(a1.friend_request(&bob, "").await),
        "already_friends"
    );
}

async fn crossed_requests_make_a_friendship_and_repeats_update_the_pending_one(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    a.friend_request(&bob, "first").await.expect("request");
    a.friend_request(&bob, "second").await.expect("repeat");
    let out = a.friend_requests().await.expect("requests").outgoing;
    assert_eq!(out.len(), 1, "a repeat updates, it does not pile up");
    assert_eq!(out[0].note, "second");
    let incoming = b.friend_requests().await.expect("requests").incoming;
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].note, "second");

    // Bob asks back: that is an acceptance.
    assert_eq!(
        b.friend_request(&alice, "you too").await.expect("crossed"),
        RequestStatus::Friends
    );
    let (friends, _) = a.friends().await.expect("friends");
    assert_eq!(friend_names(&friends), [bob.as_str()]);
    assert!(a.friend_requests().await.expect("r").outgoing.is_empty());
    assert!(b.friend_requests().await.expect("r").incoming.is_empty());
}

async fn reject_cancel_and_remove_tell_both_sides(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (mut a, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;

    let outcome_of = |c: Change| match c.event {
        ChangeEvent::FriendRequestClosed(closed) => closed.outcome,
        other => panic!("{other:?}"),
    };
    a.friend_request(&bob, "").await.expect("request");
    next_change(&mut a).await;
    next_change(&mut b).await;
    b.friend_reject(&alice).await.expect("reject");
    assert_eq!(
        outcome_of(next_change(&mut a).await),
        RequestOutcome::Rejected
    );
    assert_eq!(
        outcome_of(next_change(&mut b).await),
        RequestOutcome::Rejected
    );
    assert_eq!(code_of(b.friend_accept(&alice).await), "no_such_request");

    a.friend_request(&bob, "again").await.expect("request");
    next_change(&mut a).await;
    next_change(&mut b).await;
    a.friend_cancel(&bob).await.expect("cancel");
    assert_eq!(
        outcome_of(next_change(&mut a).await),
        RequestOutcome::Cancelled
    );
    assert_eq!(
        outcome_of(next_change(&mut b).await),
        RequestOutcome::Cancelled
    );
    assert_eq!(code_of(b.friend_accept(&alice).await), "no_such_request");
    assert_eq!(code_of(a.friend_cancel(&bob).await), "no_such_request");

    befriend(&a, &b, &bob, &alice).await;
    for device in [&mut a, &mut b] {
        while kind(&next_change(device).await.event) != "friend_added" {}
    }
    b.friend_remove(&alice).await.expect("remove");
    for (device, other) in [(&mut a, &bob), (&mut b, &alice)] {
        match next_change(device).await.event {
            ChangeEvent::FriendRemoved(card) => assert_eq!(&card.user, other),
            e => panic!("{e:?}"),
        }
    }
    assert!(a.friends().await.expect("friends").0.is_empty());
    assert!(b.friends().await.expect("friends").0.is_empty());
    assert_eq!(code_of(a.friend_remove(&bob).await), "not_friends");
}

async fn remarks_and_categories_sync_across_devices(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob, carol) = (unique("alice"), unique("bob"), unique("carol"));
    let (a1, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    let (c, _) = user(&url, &carol).await;
    befriend(&a1, &b, &bob, &alice).await;
    let cursor = a1.catch_up_changes(0).await.expect("changes").head;

    let classmates = a1.category_create("同学").await.expect("create");
    let updated = a1
        .friend_set(&bob, Some("小鲍"), Some(classmates.id))
        .await
        .expect("set");
    assert_eq!(updated.remark, "小鲍");
    assert_eq!(updated.category, Some(classmates.id));
    let renamed = a1
        .category_rename(classmates.id, "大学同学")
        .await
        .expect("rename");

    // Another device of alice, offline meanwhile, catches up in one go.
    let (a2, _) = user(&url, &alice).await;
    let caught = a2.catch_up_changes(cursor).await.expect("catch up");
    assert_eq!(
        kinds(&caught.changes),
        ["category_updated", "friend_updated", "category_updated"]
    );
    let (friends, categories) = a2.friends().await.expect("friends");
    assert_eq!(categories, [renamed]);
    assert_eq!(friends[0].remark, "小鲍");
    assert_eq!(friends[0].category, Some(classmates.id));
    // Remarks and categories are private: bob's view of alice is plain.
    let (bobs, bob_categories) = b.friends().await.expect("friends");
    assert_eq!(bobs[0].remark, "");
    assert!(bob_categories.is_empty());
    // Someone else's category cannot be used or renamed.
    let carols = c.category_create("mine").await.expect("create");
    assert_eq!(
        code_of(a1.friend_set(&bob, None, Some(carols.id)).await),
        "unknown_category"
    );
    assert_eq!(
        code_of(a1.category_rename(carols.id, "x").await),
        "unknown_category"
    );
    assert_eq!(
        code_of(a1.category_delete(carols.id).await),
        "unknown_category"
    );

    // Deleting a category leaves its friends in none.
    a1.category_delete(classmates.id).await.expect("delete");
    let (friends, categories) = a2.friends().await.expect("friends");
    assert!(categories.is_empty());
    assert_eq!(friends[0].category, None);
    // Clearing the remark; 0 means no category.
    let cleared = a1.friend_set(&bob, Some(""), Some(0)).await.expect("set");
    assert_eq!((cleared.remark.as_str(), cleared.category), ("", None));
}

async fn a_block_refuses_messages_and_requests_without_revealing_itself(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob, marker) = (unique("alice"), unique("bob"), unique("marker"));
    let (mut a, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;
    let (m, _) = user(&url, &marker).await;
    b.set_profile(ProfileSet {
        nickname: Some("Bobby".into()),
        ..ProfileSet::default()
    })
    .await
    .expect("profile");
    befriend(&a, &b, &bob, &alice).await;
    a.send(&bob, "before the block").await.expect("send");
    while kind(&next_change(&mut a).await.event) != "friend_added" {}
    while kind(&next_change(&mut b).await.event) != "friend_added" {}
    next_message(&mut b).await;

    b.block(&alice).await.expect("block");
    b.block(&alice).await.expect("blocking twice is harmless");
    // Alice sees an unfriend, nothing more.
    match next_change(&mut a).await.event {
        ChangeEvent::FriendRemoved(card) => assert_eq!(card.user, bob),
        e => panic!("{e:?}"),
    }
    // Messages: refused, with the code any refusal gets.
    assert_eq!(code_of(a.send(&bob, "hello?").await), "not_allowed");
    // Requests: alice is told it is pending; bob hears nothing of it.
    assert_eq!(
        a.friend_request(&bob, "please").await.expect("request"),
        RequestStatus::Pending
    );
    assert_eq!(a.friend_requests().await.expect("r").outgoing.len(), 1);
    assert!(b.friend_requests().await.expect("r").incoming.is_empty());
    // Search: alice no longer finds bob, by name or nickname.
    assert!(
        a.search(&bob, None, None)
            .await
            .expect("search")
            .users
            .is_empty()
    );
    assert!(
        a.search("bobby", None, None)
            .await
            .expect("search")
            .users
            .is_empty()
    );
    // Bob's own devices know whom he blocked; nothing else reached him.
    let blocks = b.blocks(None, None).await.expect("blocks");
    assert_eq!(blocks.users.len(), 1);
    assert_eq!(blocks.users[0].user, alice);
    while kind(&next_change(&mut b).await.event) != "blocked" {}
    assert_no_push_before_marker(&mut b, &m, &bob).await;
    // Bob cannot message or befriend alice while he blocks her.
    let own_block = b.send(&alice, "hi").await.expect_err("refused");
    assert_eq!(own_block.code_str(), "not_allowed");
    assert!(own_block.message().contains("unblock"), "{own_block}");
    assert_eq!(code_of(b.friend_request(&alice, "").await), "not_allowed");
    // History stays readable for both.
    assert_eq!(newest_history(&a, &bob).await.messages.len(), 1);

    b.unblock(&alice).await.expect("unblock");
    assert!(b.blocks(None, None).await.expect("blocks").users.is_empty());
    a.send(&bob, "after the unblock").await.expect("send");
    assert_eq!(
        a.search(&bob, None, None)
            .await
            .expect("search")
            .users
            .len(),
        1
    );
}

async fn the_friends_policy_needs_a_friendship_and_keeps_old_history_readable(t: Transport) {
    let server = TestServer::start_with(|c| c.messaging = MessagingPolicy::Friends).await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;
    assert_eq!(code_of(a.send(&bob, "hi stranger").await), "not_allowed");
    assert!(
        a.conversations().await.expect("list").is_empty(),
        "a refused first message opens no conversation"
    );
    befriend(&a, &b, &bob, &alice).await;
    let ack = a.send(&bob, "hi friend").await.expect("send");
    assert_eq!(next_message(&mut b).await.body, "hi friend");
    b.send_to_conv(ack.conv, "hi back")
        .await
        .expect("reply by conv");
    a.friend_remove(&bob).await.expect("unfriend");
    assert_eq!(code_of(a.send(&bob, "still there?").await), "not_allowed");
    assert_eq!(code_of(b.send_to_conv(ack.conv, "?").await), "not_allowed");
    let history = newest_history(&b, &alice).await;
    assert_eq!(history.messages.len(), 2, "history stays readable");
}

async fn search_finds_by_username_nickname_phone_and_email(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let prefix = unique("srch");
    let (wang, li, me) = (
        format!("{prefix}wang"),
        format!("{prefix}li"),
        format!("{prefix}me"),
    );
    let (w, _) = user(&url, &wang).await;
    let (l, _) = user(&url, &li).await;
    let (s, _) = user(&url, &me).await;
    w.set_profile(ProfileSet {
        nickname: Some("王小明".into()),
        phone: Some("13800138000".into()),
        ..ProfileSet::default()
    })
    .await
    .expect("profile");
    l.set_profile(ProfileSet {
        nickname: Some("Li Lei".into()),
        email: Some("li@example.com".into()),
        ..ProfileSet::default()
    })
    .await
    .expect("profile");
    let names = |ok: magpie_proto::UsersOk| -> Vec<String> {
        ok.users.into_iter().map(|u| u.user).collect()
    };
    assert_eq!(
        names(s.search("小明", None, None).await.expect("s")),
        [wang.as_str()]
    );
    assert_eq!(
        names(s.search("li lei", None, None).await.expect("s")),
        [li.as_str()]
    );
    assert_eq!(
        names(s.search("13800138000", None, None).await.expect("s")),
        [wang.as_str()]
    );
    assert_eq!(
        names(s.search("LI@example.com", None, None).await.expect("s")),
        [li.as_str()]
    );
    assert!(
        names(s.search("1380013", None, None).await.expect("s")).is_empty(),
        "phones match exactly"
    );
    // By username prefix, never the searcher, paged by id.
    let first = s.search(&prefix, None, Some(1)).await.expect("s");
    assert_eq!(first.users.len(), 1);
    let next = first.next.expect("a second page");
    let second = s.search(&prefix, Some(next), Some(5)).await.expect("s");
    let mut all = names(first);
    all.extend(names(second.clone()));
    all.sort();
    let mut want = vec![wang, li];
    want.sort();
    assert_eq!(all, want);
    assert_eq!(second.next, None);
    // Wildcards are literal.
    assert!(s.search("%", None, None).await.expect("s").users.is_empty());
}

async fn bad_input_and_acting_for_others_is_refused_and_changes_nothing(t: Transport) {
    let server = TestServer::start_with(|c| {
        c.search_rate_per_user = RateLimit::per_minute(1, 3);
    })
    .await;
    let url = server.url(t);
    let (alice, bob, carol) = (unique("alice"), unique("bob"), unique("carol"));
    let (a, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    let (c, _) = user(&url, &carol).await;
    let before = a.profile(None).await.expect("profile");
    for bad in [
        ProfileSet {
            birthday: Some("2001-02-30".into()),
            ..ProfileSet::default()
        },
        ProfileSet {
            phone: Some("call me".into()),
            ..ProfileSet::default()
        },
        ProfileSet {
            email: Some("not-an-email".into()),
            ..ProfileSet::default()
        },
        ProfileSet {
            nickname: Some("two\nlines".into()),
            ..ProfileSet::default()
        },
        ProfileSet {
            nickname: Some("名".repeat(30)),
            ..ProfileSet::default()
        },
        ProfileSet {
            nickname: Some("ok".into()),
            signature: Some("x".repeat(300)),
            ..ProfileSet::default()
        },
    ] {
        assert_eq!(
            code_of(a.set_profile(bad.clone()).await),
            "invalid_args",
            "{bad:?}"
        );
    }
    assert_eq!(
        a.profile(None).await.expect("profile"),
        before,
        "nothing changed"
    );
    // Setting nothing new stores and tells nothing either.
    a.set_profile(ProfileSet::default())
        .await
        .expect("empty update");
    a.set_profile(ProfileSet {
        nickname: Some(before.nickname.clone()),
        ..ProfileSet::default()
    })
    .await
    .expect("same value");
    assert!(all_changes(&a).await.is_empty());

    // Acting on requests that are not one's own.
    a.friend_request(&bob, "").await.expect("request");
    assert_eq!(code_of(c.friend_accept(&alice).await), "no_such_request");
    assert_eq!(code_of(c.friend_cancel(&bob).await), "no_such_request");
    assert_eq!(code_of(a.friend_accept(&bob).await), "no_such_request");
    assert_eq!(code_of(b.friend_cancel(&alice).await), "no_such_request");
    assert_eq!(
        code_of(c.friend_set(&alice, Some("x"), None).await),
        "not_friends"
    );
    assert_eq!(code_of(a.friend_request(&alice, "").await), "invalid_args");
    assert_eq!(
        code_of(a.friend_request("nobody-here", "").await),
        "unknown_user"
    );
    assert_eq!(
        code_of(a.friend_request(&carol, &"x".repeat(300)).await),
        "invalid_args"
    );
    assert_eq!(code_of(a.category_create("").await), "invalid_args");
    assert_eq!(
        code_of(a.friend_set(&bob, None, Some(-3)).await),
        "invalid_args"
    );
    assert_eq!(
        code_of(a.friend_set(&bob, None, None).await),
        "invalid_args"
    );
    let pending = b.friend_requests().await.expect("r");
    assert_eq!(pending.incoming.len(), 1, "the real request is untouched");

    // Search input and its rate.
    assert_eq!(code_of(a.search("  ", None, None).await), "invalid_args");
    assert_eq!(
        code_of(a.search(&"x".repeat(65), None, None).await),
        "invalid_args"
    );
    let mut limited = false;
    for _ in 0..5 {
        if let Err(e) = a.search("abc", None, None).await {
            assert_eq!(e.code(), Some(ErrorCode::RateLimited));
            limited = true;
            break;
        }
    }
    assert!(limited, "search is rate-limited per user");

    // The change stream: a cursor from the future resets; a negative one
    // is refused.
    let page = a.changes(1_000, None).await.expect("changes");
    assert!(page.reset);
    assert!(page.changes.is_empty());
    assert_eq!(code_of(a.changes(-1, None).await), "invalid_args");
    assert_eq!(code_of(a.changes(0, Some(0)).await), "invalid_args");

    // Nothing of the people area works before logging in.
    let anon = connect(&url).await;
    assert_eq!(code_of(anon.profile(None).await), "not_authenticated");
    assert_eq!(
        code_of(anon.friend_request(&bob, "").await),
        "not_authenticated"
    );
    assert_eq!(code_of(anon.changes(0, None).await), "not_authenticated");
}

async fn the_change_stream_is_gapless_and_matches_the_pushes(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob, carol) = (unique("alice"), unique("bob"), unique("carol"));
    let (a, _) = user(&url, &alice).await;
    let (mut watcher, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    let (c, _) = user(&url, &carol).await;
    befriend(&a, &b, &bob, &alice).await;
    c.friend_request(&alice, "").await.expect("request");
    a.friend_reject(&carol).await.expect("reject");
    let cat = a.category_create("work").await.expect("category");
    a.friend_set(&bob, Some("B"), Some(cat.id))
        .await
        .expect("set");
    a.block(&carol).await.expect("block");
    a.unblock(&carol).await.expect("unblock");
    a.set_profile(ProfileSet {
        nickname: Some("A".into()),
        ..ProfileSet::default()
    })
    .await
    .expect("profile");

    let stored = all_changes(&a).await;
    let seqs: Vec<i64> = stored.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=stored.len() as i64).collect::<Vec<_>>());
    let mut pushed = Vec::new();
    while pushed.len() < stored.len() {
        pushed.push(next_change(&mut watcher).await);
    }
    pushed.sort_by_key(|c| c.seq);
    assert_eq!(pushed, stored, "every change was pushed, exactly as stored");
    // Small pages walk the same stream.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = a.changes(after, Some(2)).await.expect("page");
        after = page.changes.last().map_or(after, |c| c.seq);
        paged.extend(page.changes);
        if !page.more {
            break;
        }
    }
    assert_eq!(paged, stored);
}
