//! Per-conversation settings end to end, on both transports (and, through
//! `.ci/run`, on PostgreSQL and MariaDB): a change on one device reaches
//! the user's other devices as a `change` push and a device that was
//! offline through `changes`; the conversation list puts pinned rows
//! first, leaves hidden ones out until a new message, and carries mute,
//! the unread mark and the draft; a `read` clears the unread mark on every
//! device; the other members never see any of it; and each refusal.

mod common;

use common::*;
use magpie_client::Client;
use magpie_proto::{
    ChangeEvent, ConvId, ConvSet, ConvSettings, GroupCreate, MUTED_FOREVER, Request,
};
use magpie_server::config::RateLimit;

on_both_transports!(
    a_change_reaches_every_device_and_an_offline_one_catches_up,
    a_draft_started_on_the_desktop_is_there_on_the_phone,
    the_list_puts_pins_first_and_pages_through_them,
    a_hidden_conversation_comes_back_with_a_new_message,
    mute_forever_until_a_time_and_off,
    a_read_clears_the_unread_mark_on_every_device,
    the_other_members_see_none_of_it,
    settings_of_a_conversation_i_am_not_in_are_refused,
    settings_of_a_group_i_left_are_refused,
    bad_settings_are_refused_and_change_nothing,
    settings_changes_are_rate_limited,
);

/// The settings of the next `conv_settings` change pushed to `client`.
async fn next_settings(client: &mut Client) -> (i64, ConvSettings) {
    let change = next_change(client).await;
    match change.event {
        ChangeEvent::ConvSettings(s) => (change.seq, s),
        other => panic!("expected a conv_settings change, got {other:?}"),
    }
}

/// A 1:1 conversation of `a` with `b_name`, with one message from `a`.
async fn dm(a: &Client, b_name: &str, body: &str) -> ConvId {
    a.send(b_name, body).await.expect("send").conv
}

/// `client`'s list, as conversation ids in order.
async fn list_ids(client: &Client) -> Vec<ConvId> {
    client
        .conversations()
        .await
        .expect("conversations")
        .iter()
        .map(|c| c.conv)
        .collect()
}

async fn a_change_reaches_every_device_and_an_offline_one_catches_up(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (mut desktop, auth) = user(&url, &a).await;
    let (mut phone, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let conv = dm(&bob, &a, "hello").await;
    next_message(&mut desktop).await;
    next_message(&mut phone).await;

    let pinned = desktop.pin(conv, true).await.expect("pin");
    assert_eq!(
        pinned,
        ConvSettings {
            pinned: true,
            ..ConvSettings::defaults(conv)
        }
    );
    // Every device, the one that asked included, gets the change.
    for device in [&mut desktop, &mut phone] {
        assert_eq!(next_settings(device).await, (1, pinned.clone()));
    }

    // The phone goes offline; changes made meanwhile reach it by `changes`.
    phone.close().await;
    let muted = desktop.mute_forever(conv).await.expect("mute");
    let marked = desktop.mark_unread(conv, true).await.expect("mark");
    assert_eq!(muted.muted_until, MUTED_FOREVER);
    assert!(marked.pinned && marked.marked_unread);
    let phone = connect(&url).await;
    phone
        .resume(auth.token.as_deref().expect("token"))
        .await
        .expect("resume");
    let caught = phone.catch_up_changes(1).await.expect("changes");
    assert!(!caught.reset);
    assert_eq!(caught.head, 3);
    let events: Vec<ChangeEvent> = caught.changes.into_iter().map(|c| c.event).collect();
    assert_eq!(
        events,
        vec![
            ChangeEvent::ConvSettings(muted),
            ChangeEvent::ConvSettings(marked.clone())
        ]
    );
    // A new device loads them all at once, and the list carries them.
    assert_eq!(
        phone.conv_settings().await.expect("conv_settings"),
        vec![marked]
    );
    let row = &phone.conversations().await.expect("list")[0];
    assert!(row.pinned && row.marked_unread);
    assert_eq!(row.muted_until, MUTED_FOREVER);
}

async fn a_draft_started_on_the_desktop_is_there_on_the_phone(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (mut desktop, _) = user(&url, &a).await;
    let (_bob, _) = user(&url, &b).await;
    let conv = dm(&desktop, &b, "see you").await;
    let text = "Dear Bob,\nabout tomorrow: 我们";
    let saved = desktop.set_draft(conv, text).await.expect("draft");
    assert_eq!(saved.draft, text);
    next_settings(&mut desktop).await;
    let (phone, _) = user(&url, &a).await;
    let row = &phone.conversations().await.expect("list")[0];
    assert_eq!(row.draft, text);
    // Saving the same text again changes nothing and writes nothing.
    desktop.set_draft(conv, text).await.expect("same draft");
    // Sent from the phone: the phone clears it, for every device.
    phone.send_to_conv(conv, text).await.expect("send");
    let cleared = phone.set_draft(conv, "").await.expect("clear");
    assert_eq!(cleared.draft, "");
    let (seq, settings) = next_settings(&mut desktop).await;
    assert_eq!((seq, settings), (2, cleared));
    assert!(desktop.conv_settings().await.expect("listed").is_empty());
}

async fn the_list_puts_pins_first_and_pages_through_them(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let a = unique("alice");
    let (alice, _) = user(&url, &a).await;
    let mut convs = Vec::new();
    for i in 0..4 {
        let peer = unique("peer");
        let (p, _) = user(&url, &peer).await;
        convs.push(dm(&p, &a, &format!("hi {i}")).await);
    }
    // Newest first: 3, 2, 1, 0.
    assert_eq!(
        list_ids(&alice).await,
        vec![convs[3], convs[2], convs[1], convs[0]]
    );
    alice.pin(convs[0], true).await.expect("pin");
    alice.pin(convs[2], true).await.expect("pin");
    let want = vec![convs[2], convs[0], convs[3], convs[1]];
    assert_eq!(list_ids(&alice).await, want);
    // One row per page: the cursor carries the pin across the boundary.
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = alice
            .conversations_page(after, Some(1))
            .await
            .expect("page");
        walked.extend(page.conversations.iter().map(|c| c.conv));
        if page.conversations.first().is_some_and(|c| c.pinned) {
            assert!(page.next.is_some_and(|n| n.pinned), "{:?}", page.next);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(walked, want);
    alice.pin(convs[2], false).await.expect("unpin");
    assert_eq!(
        list_ids(&alice).await,
        vec![convs[0], convs[3], convs[2], convs[1]]
    );
}

async fn a_hidden_conversation_comes_back_with_a_new_message(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, c) = (unique("alice"), unique("bob"), unique("carol"));
    let (mut alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    let with_bob = dm(&bob, &a, "one").await;
    let ack = bob.send(&a, "two").await.expect("send");
    let with_carol = dm(&carol, &a, "other").await;
    let hidden = alice.hide(with_bob, true).await.expect("hide");
    assert_eq!(hidden.hidden_seq, ack.seq);
    assert_eq!(list_ids(&alice).await, vec![with_carol]);
    // Still listed among the settings, with everything kept.
    assert_eq!(alice.conv_settings().await.expect("settings"), vec![hidden]);
    assert_eq!(newest_history(&alice, &b).await.messages.len(), 2);
    // A reaction is quiet: it does not bring it back; a message does.
    bob.request(Request::React(magpie_proto::React {
        conv: with_bob,
        seq: ack.seq,
        emoji: "👍".into(),
        remove: false,
    }))
    .await
    .expect("react");
    assert_eq!(list_ids(&alice).await, vec![with_carol]);
    bob.send(&a, "are you there?").await.expect("send");
    assert_eq!(list_ids(&alice).await, vec![with_bob, with_carol]);
    // Hide it again, then show it by hand.
    alice.hide(with_bob, true).await.expect("hide");
    assert_eq!(list_ids(&alice).await, vec![with_carol]);
    alice.hide(with_bob, false).await.expect("show");
    assert_eq!(list_ids(&alice).await, vec![with_bob, with_carol]);
    // Bob's list never changed.
    assert_eq!(list_ids(&bob).await, vec![with_bob]);
    // Alice's stream: hide, hide, show (the message wrote nothing).
    let seqs: Vec<(i64, i64)> = alice
        .catch_up_changes(0)
        .await
        .expect("changes")
        .changes
        .into_iter()
        .map(|c| match c.event {
            ChangeEvent::ConvSettings(s) => (c.seq, s.hidden_seq),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(seqs, vec![(1, ack.seq), (2, ack.seq + 2), (3, 0)]);
    assert_eq!(next_settings(&mut alice).await.0, 1);
}

async fn mute_forever_until_a_time_and_off(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (mut alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let conv = dm(&bob, &a, "hi").await;
    next_message(&mut alice).await;
    let until = magpie_server::clock::now_ms() + 3_600_000;
    let muted = alice.mute(conv, until).await.expect("mute for an hour");
    assert_eq!(muted.muted_until, until);
    assert!(muted.muted_at(until - 1) && !muted.muted_at(until));
    assert_eq!(
        alice.conversations().await.expect("list")[0].muted_until,
        until
    );
    // Muted is about alerts: messages still arrive.
    bob.send(&a, "still delivered").await.expect("send");
    assert_eq!(next_message(&mut alice).await.body, "still delivered");
    let forever = alice.mute_forever(conv).await.expect("forever");
    assert_eq!(forever.muted_until, MUTED_FOREVER);
    let off = alice.mute(conv, 0).await.expect("unmute");
    assert_eq!(off.muted_until, 0);
    assert_eq!(alice.conversations().await.expect("list")[0].muted_until, 0);
    // A time in the past (or in seconds, not ms) is a mistake.
    for bad in [magpie_server::clock::now_ms() - 1, 1_700_000_000, -2] {
        assert_eq!(
            code_of(alice.mute(conv, bad).await),
            "invalid_args",
            "{bad}"
        );
    }
}

async fn a_read_clears_the_unread_mark_on_every_device(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (mut desktop, _) = user(&url, &a).await;
    let (mut phone, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let ack = bob.send(&a, "hi").await.expect("send");
    desktop.read(ack.conv, ack.seq).await.expect("read");
    let marked = desktop.mark_unread(ack.conv, true).await.expect("mark");
    assert!(marked.marked_unread);
    assert_eq!(next_settings(&mut phone).await.1, marked);
    let row = &phone.conversations().await.expect("list")[0];
    assert!(row.marked_unread);
    assert_eq!(row.unread, 0, "marked, with nothing unread");
    // Reading on the phone, even with nothing new, clears it everywhere.
    let mark = phone.read(ack.conv, ack.seq).await.expect("read");
    assert_eq!(mark.read_seq, ack.seq);
    assert!(
        !phone.conversations().await.expect("list")[0].marked_unread,
        "cleared by the time the read is answered"
    );
    assert_eq!(next_settings(&mut desktop).await, (1, marked.clone()));
    let (seq, cleared) = next_settings(&mut desktop).await;
    assert_eq!(
        (seq, cleared),
        (
            2,
            ConvSettings {
                marked_unread: false,
                ..marked
            }
        )
    );
    // Another read writes nothing more.
    phone.read(ack.conv, ack.seq).await.expect("read again");
    assert_eq!(phone.catch_up_changes(0).await.expect("changes").head, 2);
}

async fn the_other_members_see_none_of_it(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, c) = (unique("alice"), unique("bob"), unique("carol"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    let conv = alice
        .group_create(GroupCreate {
            name: "team".into(),
            members: vec![b.clone(), c.clone()],
            ..GroupCreate::default()
        })
        .await
        .expect("group")
        .conv;
    alice.send_to_conv(conv, "hello team").await.expect("send");
    alice.pin(conv, true).await.expect("pin");
    alice.set_draft(conv, "secret").await.expect("draft");
    alice.hide(conv, true).await.expect("hide");
    let row = bob
        .conversations()
        .await
        .expect("list")
        .into_iter()
        .find(|r| r.conv == conv)
        .expect("bob still lists the group");
    assert!(!row.pinned && row.draft.is_empty());
    assert!(bob.conv_settings().await.expect("bob's").is_empty());
    // Bob's stream has his group membership only; no settings of alice.
    let bobs = bob.catch_up_changes(0).await.expect("changes");
    assert!(
        bobs.changes
            .iter()
            .all(|c| !matches!(c.event, ChangeEvent::ConvSettings(_))),
        "{:?}",
        bobs.changes
    );
    // Bob's pushes: the group's creation, his membership, the message,
    // and then nothing of alice's settings.
    while next_message(&mut bob).await.body != "hello team" {}
    assert_no_push_before_marker(&mut bob, &carol, &b).await;
}

async fn settings_of_a_conversation_i_am_not_in_are_refused(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, m) = (unique("alice"), unique("bob"), unique("mallory"));
    let (alice, _) = user(&url, &a).await;
    let (_bob, _) = user(&url, &b).await;
    let (mallory, _) = user(&url, &m).await;
    let conv = dm(&alice, &b, "private").await;
    for (what, set) in [
        ("pin", mallory.pin(conv, true).await),
        ("hide", mallory.hide(conv, true).await),
        ("draft", mallory.set_draft(conv, "x").await),
        (
            "unknown conversation",
            mallory.pin(conv + 10_000, true).await,
        ),
    ] {
        assert_eq!(code_of(set), "unknown_conversation", "{what}");
    }
    assert_eq!(mallory.catch_up_changes(0).await.expect("changes").head, 0);
    assert!(mallory.conv_settings().await.expect("listed").is_empty());
    // Not logged in at all.
    let anonymous = connect(&url).await;
    assert_eq!(
        code_of(anonymous.pin(conv, true).await),
        "not_authenticated"
    );
}

async fn settings_of_a_group_i_left_are_refused(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let conv = alice
        .group_create(GroupCreate {
            name: "short-lived".into(),
            members: vec![b.clone()],
            ..GroupCreate::default()
        })
        .await
        .expect("group")
        .conv;
    bob.pin(conv, true).await.expect("pin while a member");
    bob.group_leave(conv).await.expect("leave");
    assert_eq!(code_of(bob.pin(conv, false).await), "unknown_conversation");
    assert!(
        bob.conv_settings().await.expect("listed").is_empty(),
        "the settings left with him"
    );
}

async fn bad_settings_are_refused_and_change_nothing(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (_bob, _) = user(&url, &b).await;
    let conv = dm(&alice, &b, "hi").await;
    let nothing = alice
        .conv_set(ConvSet {
            conv,
            ..ConvSet::default()
        })
        .await;
    assert_eq!(code_of(nothing), "invalid_args", "no setting named");
    let long = "x".repeat(magpie_proto::limits::DRAFT_MAX + 1);
    assert_eq!(code_of(alice.set_draft(conv, &long).await), "invalid_args");
    assert_eq!(
        code_of(alice.set_draft(conv, "nul\u{0}").await),
        "invalid_args"
    );
    let exact = "é".repeat(magpie_proto::limits::DRAFT_MAX / 2);
    assert_eq!(
        alice.set_draft(conv, &exact).await.expect("4 KiB").draft,
        exact
    );
    let limit = alice
        .request(Request::ConvSettings(magpie_proto::ConvSettingsList {
            after: None,
            limit: Some(0),
        }))
        .await;
    assert_eq!(code_of(limit), "invalid_args");
    // Only the exact draft was written.
    assert_eq!(alice.catch_up_changes(0).await.expect("changes").head, 1);
}

async fn settings_changes_are_rate_limited(t: Transport) {
    let server = TestServer::start_with(|c| {
        c.people_rate_per_user = RateLimit::per_minute(1, 2);
    })
    .await;
    let url = server.url(t);
    let (a, b) = (unique("alice"), unique("bob"));
    let (alice, _) = user(&url, &a).await;
    let (_bob, _) = user(&url, &b).await;
    let conv = dm(&alice, &b, "hi").await;
    alice.pin(conv, true).await.expect("first");
    alice.pin(conv, false).await.expect("second");
    let refused = alice.pin(conv, true).await;
    match &refused {
        Err(e) => assert!(e.to_string().contains("too fast"), "{e}"),
        Ok(s) => panic!("not limited: {s:?}"),
    }
    assert_eq!(code_of(refused), "rate_limited");
    // Reading settings is not limited.
    alice.conv_settings().await.expect("listed");
}
