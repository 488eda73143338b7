//! The per-conversation settings contract ([`ConvSettingsStore`] and what
//! the conversation list does with the settings), as one suite every
//! backend must pass: each change written with its `conv_settings` change
//! on the member's own stream (and nobody else's), changes that change
//! nothing writing nothing, refusals for non-members, pinned rows first
//! with a cursor that pages through them, hidden rows coming back with a
//! new message but not with a quiet entry, the unread mark cleared by a
//! read, settings leaving with the member, and two nodes racing settings
//! against message batches and read marks on the same member rows.
//!
//! As in tests/store.rs every test starts from an empty store, and the
//! `contract_suite!` macro at the bottom instantiates the suite per engine.
//!
//! [`ConvSettingsStore`]: magpie_store::ConvSettingsStore

use magpie_proto::{
    Change, ChangeEvent, ConvCursor, ConvId, ConvSettings, GroupRole, JoinPolicy, MUTED_FOREVER,
    MessageKind, Seq, UserId,
};
use magpie_store::{
    AmendOp, ConvSettingsStore, ConvSummary, GroupOp, GroupStore, MarkRead, MessageStore, NewAmend,
    NewGroup, NewMessage, Refusal, SettingsUpdate, SqlStore, Store, StoreError, WriteBatch,
    Written,
};
use std::sync::Arc;

mod common;
use common::{Harness, T0, user};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A fetch-everything limit for lists and streams.
const ALL: u32 = 10_000;

/// The 1:1 conversation of `a` and `b`, as the server opens it.
async fn dm(store: &dyn Store, a: UserId, b: UserId) -> ConvId {
    store.open_direct(a, b, T0).await.expect("open_direct")
}

/// `sender` posts `body` in `conv` at `ts`; returns its seq.
async fn post(store: &dyn Store, conv: ConvId, sender: UserId, body: &str, ts: i64) -> Seq {
    let message = NewMessage {
        conv,
        sender,
        kind: MessageKind::Text,
        cmid: uuid(),
        body: body.to_owned(),
        ts,
        ..NewMessage::default()
    };
    let mut out = store.append_batch(&[message]).await.expect("append_batch");
    out.remove(0).seq
}

/// A cmid no other message of the test has.
fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("cm-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// `user` changes `update` on `conv`, which must be allowed.
async fn set(
    store: &dyn Store,
    user: UserId,
    conv: ConvId,
    update: SettingsUpdate,
) -> (ConvSettings, Vec<Written>) {
    let outcome = store
        .set_conv_settings(user, conv, &update, T0)
        .await
        .unwrap_or_else(|e| panic!("user {user} sets {update:?} on {conv}: {e}"));
    (outcome.value, outcome.written)
}

fn pin(on: bool) -> SettingsUpdate {
    SettingsUpdate {
        pinned: Some(on),
        ..SettingsUpdate::default()
    }
}

fn hide(on: bool) -> SettingsUpdate {
    SettingsUpdate {
        hidden: Some(on),
        ..SettingsUpdate::default()
    }
}

/// `user`'s whole stream, checked gapless from 1.
async fn stream(store: &dyn Store, user: UserId) -> Vec<Change> {
    let page = store.changes(user, 0, ALL).await.expect("changes");
    assert!(!page.reset);
    let seqs: Vec<i64> = page.changes.iter().map(|c| c.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "user {user}'s stream is gapless from 1"
    );
    page.changes
}

/// The settings in `user`'s stream, in order.
async fn settings_changes(store: &dyn Store, user: UserId) -> Vec<ConvSettings> {
    stream(store, user)
        .await
        .into_iter()
        .map(|c| match c.event {
            ChangeEvent::ConvSettings(s) => s,
            other => panic!("unexpected change {other:?}"),
        })
        .collect()
}

/// `user`'s whole conversation list.
async fn list(store: &dyn Store, user: UserId) -> Vec<ConvSummary> {
    store
        .conversations(user, None, ALL)
        .await
        .expect("conversations")
}

fn convs(rows: &[ConvSummary]) -> Vec<ConvId> {
    rows.iter().map(|r| r.conv).collect()
}

/// Every non-default setting of `user`.
async fn listed(store: &dyn Store, user: UserId) -> Vec<ConvSettings> {
    store
        .conv_settings(user, 0, ALL)
        .await
        .expect("conv_settings")
}

fn refusal<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Refusal {
    match result {
        Err(StoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------

async fn settings_round_trip_with_one_change_each(store: &dyn Store) {
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let conv = dm(store, a, b).await;
    post(store, conv, b, "hi", T0 + 1).await;
    assert_eq!(listed(store, a).await, Vec::new(), "nothing set yet");

    let update = SettingsUpdate {
        pinned: Some(true),
        muted_until: Some(MUTED_FOREVER),
        marked_unread: Some(true),
        hidden: None,
        draft: Some("半句话 — to be continued".into()),
    };
    let (value, written) = set(store, a, conv, update).await;
    let want = ConvSettings {
        conv,
        pinned: true,
        muted_until: MUTED_FOREVER,
        marked_unread: true,
        hidden_seq: 0,
        draft: "半句话 — to be continued".into(),
    };
    assert_eq!(value, want);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].user, a);
    assert_eq!(written[0].change.seq, 1);
    assert_eq!(written[0].change.ts, T0);
    assert_eq!(
        written[0].change.event,
        ChangeEvent::ConvSettings(want.clone())
    );
    assert_eq!(settings_changes(store, a).await, vec![want.clone()]);
    assert_eq!(stream(store, b).await, Vec::new(), "bob is told nothing");
    assert_eq!(listed(store, a).await, vec![want.clone()]);
    assert_eq!(listed(store, b).await, Vec::new());

    // The list row carries them; bob's row is untouched.
    let row = &list(store, a).await[0];
    assert!(row.pinned && row.marked_unread);
    assert_eq!(
        (row.muted_until, row.draft.as_str()),
        (MUTED_FOREVER, want.draft.as_str())
    );
    let theirs = &list(store, b).await[0];
    assert!(!theirs.pinned && !theirs.marked_unread);
    assert_eq!((theirs.muted_until, theirs.draft.as_str()), (0, ""));

    // Only the fields named change; back to the defaults, nothing listed.
    let (value, _) = set(
        store,
        a,
        conv,
        SettingsUpdate {
            muted_until: Some(T0 + 60_000),
            ..SettingsUpdate::default()
        },
    )
    .await;
    assert_eq!(
        value,
        ConvSettings {
            muted_until: T0 + 60_000,
            ..want.clone()
        }
    );
    let reset = SettingsUpdate {
        pinned: Some(false),
        muted_until: Some(0),
        marked_unread: Some(false),
        hidden: Some(false),
        draft: Some(String::new()),
    };
    let (value, written) = set(store, a, conv, reset).await;
    assert!(value.is_default(), "{value:?}");
    assert_eq!(written[0].change.seq, 3);
    assert_eq!(listed(store, a).await, Vec::new());
    let row = &list(store, a).await[0];
    assert!(!row.pinned && !row.marked_unread && row.draft.is_empty());
}

async fn a_change_that_changes_nothing_writes_nothing(store: &dyn Store) {
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let conv = dm(store, a, b).await;
    post(store, conv, a, "hi", T0).await;
    let (_, written) = set(store, a, conv, pin(false)).await;
    assert_eq!(written, Vec::new(), "already unpinned");
    let (first, written) = set(store, a, conv, pin(true)).await;
    assert_eq!(written.len(), 1);
    let (again, written) = set(store, a, conv, pin(true)).await;
    assert_eq!((again, written), (first, Vec::new()));
    // Hiding twice at the same newest entry, or clearing an empty draft.
    set(store, a, conv, hide(true)).await;
    let (_, written) = set(store, a, conv, hide(true)).await;
    assert_eq!(written, Vec::new());
    let (_, written) = set(
        store,
        a,
        conv,
        SettingsUpdate {
            draft: Some(String::new()),
            ..SettingsUpdate::default()
        },
    )
    .await;
    assert_eq!(written, Vec::new());
    assert_eq!(stream(store, a).await.len(), 2);
}

async fn non_members_are_refused_and_nothing_is_written(store: &dyn Store) {
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let c = user(store, "carol").await;
    let conv = dm(store, a, b).await;
    post(store, conv, a, "private", T0).await;
    for update in [pin(true), hide(true)] {
        let r = store.set_conv_settings(c, conv, &update, T0).await;
        assert_eq!(refusal(r), Refusal::NotMember);
        let r = store.set_conv_settings(a, conv + 1000, &update, T0).await;
        assert_eq!(refusal(r), Refusal::NotMember, "no such conversation");
    }
    assert_eq!(
        store
            .clear_unread_mark(c, conv, T0)
            .await
            .expect("clear as a stranger"),
        Vec::new()
    );
    for who in [a, b, c] {
        assert_eq!(stream(store, who).await, Vec::new());
        assert_eq!(listed(store, who).await, Vec::new());
    }
    assert_eq!(convs(&list(store, c).await), Vec::<ConvId>::new());
}

async fn pinned_rows_come_first_and_the_cursor_pages_through_them(store: &dyn Store) {
    let a = user(store, "alice").await;
    let mut peers = Vec::new();
    for name in ["bob", "carol", "dave", "erin", "frank"] {
        peers.push(user(store, name).await);
    }
    // Five conversations, the later the more recent; two of them tied.
    let mut conv_of = Vec::new();
    for (i, &peer) in peers.iter().enumerate() {
        let conv = dm(store, a, peer).await;
        let ts = if i == 4 { T0 + 30 } else { T0 + 10 * i as i64 };
        post(store, conv, peer, "hello", ts).await;
        conv_of.push(conv);
    }
    let [c0, c1, c2, c3, c4] = conv_of[..] else {
        panic!("five conversations")
    };
    assert_eq!(convs(&list(store, a).await), vec![c4, c3, c2, c1, c0]);
    set(store, a, c1, pin(true)).await;
    set(store, a, c3, pin(true)).await;
    let want = vec![c3, c1, c4, c2, c0];
    let whole = list(store, a).await;
    assert_eq!(convs(&whole), want, "pinned first, then by activity");
    assert_eq!(
        whole.iter().map(|r| r.pinned).collect::<Vec<_>>(),
        [true, true, false, false, false]
    );
    // Page by page, one row at a time, as the server pages.
    for limit in [1, 2, 3] {
        let mut walked = Vec::new();
        let mut after: Option<ConvCursor> = None;
        loop {
            let page = store.conversations(a, after, limit).await.expect("a page");
            let Some(last) = page.last() else { break };
            after = Some(ConvCursor {
                pinned: last.pinned,
                active_ts: last.active_ts,
                conv: last.conv,
            });
            walked.extend(convs(&page));
        }
        assert_eq!(walked, want, "limit {limit}");
    }
    // Others' pins change nothing for alice, and hers nothing for them.
    assert_eq!(convs(&list(store, peers[1]).await), vec![c1]);
    assert!(!list(store, peers[1]).await[0].pinned);
}

async fn hidden_rows_come_back_with_a_message_not_with_a_quiet_entry(store: &dyn Store) {
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let c = user(store, "carol").await;
    let ab = dm(store, a, b).await;
    let ac = dm(store, a, c).await;
    let first = post(store, ab, b, "one", T0).await;
    post(store, ab, b, "two", T0 + 1).await;
    post(store, ac, c, "other", T0 + 2).await;

    let (hidden, written) = set(store, a, ab, hide(true)).await;
    assert_eq!(hidden.hidden_seq, 2, "hidden up to the newest entry");
    assert_eq!(written.len(), 1);
    assert_eq!(convs(&list(store, a).await), vec![ac]);
    assert_eq!(listed(store, a).await, vec![hidden.clone()], "still listed");
    assert_eq!(
        convs(&list(store, b).await),
        vec![ab],
        "bob's list keeps it"
    );
    assert_eq!(
        store
            .messages_after(ab, 0, ALL)
            .await
            .expect("history")
            .len(),
        2,
        "nothing deleted"
    );

    // A reaction is a quiet entry: it takes a seq but does not bring the
    // conversation back.
    let reacted = store
        .amend(&NewAmend {
            conv: ab,
            target: first,
            actor: b,
            actor_name: "bob".into(),
            op: AmendOp::React {
                emoji: "👍".into(),
                add: true,
            },
            now: T0 + 3,
        })
        .await
        .expect("react");
    assert_eq!(reacted.entry.map(|e| e.seq), Some(3));
    assert_eq!(convs(&list(store, a).await), vec![ac]);

    // A message does, with no write to the settings.
    post(store, ab, b, "are you there?", T0 + 4).await;
    assert_eq!(convs(&list(store, a).await), vec![ab, ac]);
    assert_eq!(stream(store, a).await.len(), 1);

    // Hidden again, then shown again by hand.
    let (again, _) = set(store, a, ab, hide(true)).await;
    assert_eq!(again.hidden_seq, 4);
    assert_eq!(convs(&list(store, a).await), vec![ac]);
    let (shown, _) = set(store, a, ab, hide(false)).await;
    assert_eq!(shown.hidden_seq, 0);
    assert_eq!(convs(&list(store, a).await), vec![ab, ac]);
}

async fn a_read_clears_the_unread_mark_with_one_change(store: &dyn Store) {
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let conv = dm(store, a, b).await;
    post(store, conv, b, "hi", T0).await;
    assert_eq!(
        store.clear_unread_mark(a, conv, T0).await.expect("clear"),
        Vec::new(),
        "no mark: nothing written"
    );
    set(
        store,
        a,
        conv,
        SettingsUpdate {
            marked_unread: Some(true),
            draft: Some("keep me".into()),
            ..SettingsUpdate::default()
        },
    )
    .await;
    let written = store
        .clear_unread_mark(a, conv, T0 + 5)
        .await
        .expect("clear");
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].change.seq, 2);
    assert_eq!(written[0].change.ts, T0 + 5);
    assert_eq!(
        written[0].change.event,
        ChangeEvent::ConvSettings(ConvSettings {
            draft: "keep me".into(),
            ..ConvSettings::defaults(conv)
        }),
        "only the mark goes"
    );
    assert_eq!(
        store.clear_unread_mark(a, conv, T0).await.expect("again"),
        Vec::new()
    );
    assert!(!list(store, a).await[0].marked_unread);
    assert_eq!(stream(store, a).await.len(), 2);
}

async fn settings_leave_with_the_member(store: &dyn Store) {
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let conv = store
        .create_group(
            a,
            &NewGroup {
                name: "研发群".into(),
                avatar: String::new(),
                description: String::new(),
                announcement: String::new(),
                join_policy: JoinPolicy::Invite,
                history_visible: 0,
                member_limit: 100,
                temporary: false,
                members: vec![b],
            },
            T0,
        )
        .await
        .expect("create_group")
        .conv;
    let (pinned, _) = set(store, b, conv, pin(true)).await;
    assert!(pinned.pinned);
    assert_eq!(listed(store, b).await, vec![pinned]);
    store
        .apply_group(b, conv, &GroupOp::Leave, T0 + 1)
        .await
        .expect("leave");
    assert_eq!(listed(store, b).await, Vec::new());
    let r = store.set_conv_settings(b, conv, &pin(true), T0).await;
    assert_eq!(refusal(r), Refusal::NotMember);
    // Invited back, they start from the defaults.
    store
        .apply_group(a, conv, &GroupOp::Invite(vec![b]), T0 + 2)
        .await
        .expect("invite");
    assert_eq!(listed(store, b).await, Vec::new());
    let members = store.member_set(conv).await.expect("members").expect("set");
    assert!(
        members
            .members
            .iter()
            .any(|m| m.user == b && m.role == GroupRole::Member)
    );
}

async fn the_settings_list_pages_by_conversation(store: &dyn Store) {
    let a = user(store, "alice").await;
    let mut all = Vec::new();
    for name in ["bob", "carol", "dave", "erin"] {
        let peer = user(store, name).await;
        let conv = dm(store, a, peer).await;
        post(store, conv, peer, "hi", T0).await;
        if name != "carol" {
            all.push(set(store, a, conv, pin(true)).await.0);
        }
    }
    let mut walked = Vec::new();
    let mut after = 0;
    loop {
        let page = store.conv_settings(a, after, 2).await.expect("page");
        let Some(last) = page.last() else { break };
        after = last.conv;
        walked.extend(page);
    }
    assert_eq!(walked, all, "ascending by conversation, defaults left out");
}

/// Settings, the list's view of them and their changes are durable.
async fn settings_survive_reopen<H: Harness>(harness: H) {
    let store = harness.store();
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let conv = dm(store, a, b).await;
    post(store, conv, b, "hi", T0).await;
    let (value, _) = set(
        store,
        a,
        conv,
        SettingsUpdate {
            pinned: Some(true),
            draft: Some("on the desktop".into()),
            ..SettingsUpdate::default()
        },
    )
    .await;
    let harness = harness.reopen().await;
    let store = harness.store();
    assert_eq!(listed(store, a).await, vec![value.clone()]);
    assert_eq!(settings_changes(store, a).await, vec![value]);
    let row = &list(store, a).await[0];
    assert!(row.pinned);
    assert_eq!(row.draft, "on the desktop");
    harness.close().await;
}

/// Two nodes write one member's settings at once, while message batches
/// (which move the same member rows' read marks) and reads commit beside
/// them: every change lands, the stream stays gapless, and the last
/// values win field by field. On PostgreSQL and MariaDB this is where a
/// lock-order mistake would show as a deadlock.
async fn settings_race_batches_and_each_other_on_two_nodes<H: Harness>(harness: H) {
    let store = harness.store();
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let conv = dm(store, a, b).await;
    post(store, conv, b, "start", T0).await;
    let nodes: (Arc<SqlStore>, Arc<SqlStore>) = (
        Arc::new(harness.another_node().await),
        Arc::new(harness.another_node().await),
    );
    const ROUNDS: usize = 20;
    let mut tasks = Vec::new();
    for node in 0..2usize {
        let store = if node == 0 {
            nodes.0.clone()
        } else {
            nodes.1.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut written = 0;
            for i in 0..ROUNDS {
                let update = if node == 0 {
                    pin(i % 2 == 0)
                } else {
                    SettingsUpdate {
                        draft: Some(format!("draft {i}")),
                        ..SettingsUpdate::default()
                    }
                };
                let outcome = store
                    .set_conv_settings(a, conv, &update, T0)
                    .await
                    .unwrap_or_else(|e| panic!("node {node} round {i}: {e}"));
                written += outcome.written.len();
                let batch = WriteBatch {
                    messages: vec![NewMessage {
                        conv,
                        sender: if node == 0 { a } else { b },
                        kind: MessageKind::Text,
                        cmid: format!("race-{node}-{i}"),
                        body: "x".into(),
                        ts: T0 + i as i64,
                        ..NewMessage::default()
                    }],
                    reads: vec![MarkRead {
                        user: a,
                        conv,
                        seq: i as i64,
                    }],
                    versions: Vec::new(),
                };
                store
                    .commit_batch(&batch)
                    .await
                    .unwrap_or_else(|e| panic!("node {node} batch {i}: {e}"));
            }
            written
        }));
    }
    let mut written = 0;
    for task in tasks {
        written += task.await.expect("task");
    }
    assert_eq!(written, 2 * ROUNDS, "every change changed something");
    let changes = settings_changes(store, a).await;
    assert_eq!(changes.len(), written);
    let last = listed(store, a).await;
    assert_eq!(
        last,
        vec![ConvSettings {
            conv,
            pinned: false,
            draft: format!("draft {}", ROUNDS - 1),
            ..ConvSettings::default()
        }]
    );
    assert_eq!(changes.last(), last.last());
    for node in [nodes.0, nodes.1] {
        Store::close(&*node).await;
    }
    harness.close().await;
}

/// A member's settings changes race an owner removing and inviting them
/// again on another node (member rows written, then the member told
/// through their stream): no deadlock, every change either lands or is
/// refused as from a non-member, and the member's stream stays gapless.
async fn settings_race_group_changes_on_two_nodes<H: Harness>(harness: H) {
    let store = harness.store();
    let a = user(store, "alice").await;
    let b = user(store, "bob").await;
    let conv = store
        .create_group(
            a,
            &NewGroup {
                name: "g".into(),
                avatar: String::new(),
                description: String::new(),
                announcement: String::new(),
                join_policy: JoinPolicy::Invite,
                history_visible: 0,
                member_limit: 100,
                temporary: false,
                members: vec![b],
            },
            T0,
        )
        .await
        .expect("create_group")
        .conv;
    let nodes: (Arc<SqlStore>, Arc<SqlStore>) = (
        Arc::new(harness.another_node().await),
        Arc::new(harness.another_node().await),
    );
    const ROUNDS: usize = 20;
    let owner = nodes.0.clone();
    let changes = tokio::spawn(async move {
        for i in 0..ROUNDS {
            let op = if i % 2 == 0 {
                GroupOp::Remove(b)
            } else {
                GroupOp::Invite(vec![b])
            };
            owner
                .apply_group(a, conv, &op, T0 + i as i64)
                .await
                .unwrap_or_else(|e| panic!("round {i}: {op:?}: {e}"));
        }
    });
    let member = nodes.1.clone();
    let settings = tokio::spawn(async move {
        for i in 0..ROUNDS {
            match member
                .set_conv_settings(b, conv, &pin(i % 2 == 0), T0)
                .await
            {
                Ok(_) | Err(StoreError::Refused(Refusal::NotMember)) => {}
                Err(e) => panic!("round {i}: {e}"),
            }
        }
    });
    changes.await.expect("group changes");
    settings.await.expect("settings changes");
    stream(store, b).await;
    for node in [nodes.0, nodes.1] {
        Store::close(&*node).await;
    }
    harness.close().await;
}

// ---------------------------------------------------------------------------
// The suite, per backend
// ---------------------------------------------------------------------------

common::contract_suite! {
    store: [
        settings_round_trip_with_one_change_each,
        a_change_that_changes_nothing_writes_nothing,
        non_members_are_refused_and_nothing_is_written,
        pinned_rows_come_first_and_the_cursor_pages_through_them,
        hidden_rows_come_back_with_a_message_not_with_a_quiet_entry,
        a_read_clears_the_unread_mark_with_one_change,
        settings_leave_with_the_member,
        the_settings_list_pages_by_conversation,
    ],
    harness: [
        settings_survive_reopen,
        settings_race_batches_and_each_other_on_two_nodes,
        settings_race_group_changes_on_two_nodes,
    ],
}
