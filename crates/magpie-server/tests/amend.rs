//! Recall, edit, reactions, replies and forwards end to end, through the
//! client library on both transports: each amending entry reaching every
//! device in the sequence, a device that was offline converging by the
//! ordinary `sync`, history showing every message as it is now, and a
//! test per refusal of the rules.

mod common;

use common::*;
use magpie_client::Client;
use magpie_client::files::{FileClient, SendTo};
use magpie_proto::{
    Forward, GroupCreate, GroupRole, History, Message, MessageKind, ReactionCount, Seq,
};
use std::collections::BTreeMap;
use std::time::Duration;

on_both_transports!(
    a_recall_empties_the_message_on_every_device_and_in_storage,
    recall_rules_the_sender_within_the_window_and_group_moderators_any_time,
    an_edit_replaces_the_text_everywhere_within_the_window,
    reactions_count_per_emoji_converge_and_are_not_unread,
    a_reply_quotes_its_original_and_the_quote_follows_a_recall,
    forwards_copy_readable_messages_one_by_one_or_as_a_record,
    bad_amend_input_gets_clear_errors,
);

/// Every entry of `conv` as `client` may read it now, oldest first.
async fn history_of(client: &Client, conv: i64) -> Vec<Message> {
    client
        .history(History {
            conv: Some(conv),
            limit: Some(500),
            ..History::default()
        })
        .await
        .expect("history")
        .messages
}

/// The entry at `seq` of `conv`, as history shows it to `client`.
async fn entry_at(client: &Client, conv: i64, seq: Seq) -> Message {
    history_of(client, conv)
        .await
        .into_iter()
        .find(|m| m.seq == seq)
        .expect("entry in history")
}

/// Everything a device holding nothing of `conv` gets from `sync`.
async fn synced(client: &Client, conv: i64, after: Seq) -> Vec<Message> {
    let cursors = BTreeMap::from([(conv, after)]);
    let page = client.sync(&cursors, Some(1000)).await.expect("sync");
    page.messages
        .into_iter()
        .filter(|m| m.conv == conv)
        .collect()
}

/// The caller's conversation-list row of `conv`.
async fn row_of(client: &Client, conv: i64) -> magpie_proto::Conversation {
    client
        .conversations()
        .await
        .expect("list")
        .into_iter()
        .find(|r| r.conv == conv)
        .expect("listed")
}

async fn group_of(owner: &Client, members: &[&str]) -> i64 {
    owner
        .group_create(GroupCreate {
            name: "amend".into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            ..GroupCreate::default()
        })
        .await
        .expect("group")
        .conv
}

async fn a_recall_empties_the_message_on_every_device_and_in_storage(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("ra"), unique("rb"));
    let (alice, auth) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let first = alice.send(&b, "keep me").await.expect("send");
    let secret = alice.send(&b, "the secret plan").await.expect("send");
    let conv = secret.conv;
    next_message(&mut bob).await;
    next_message(&mut bob).await;

    // A file message, whose content goes with it.
    let base = format!("http://{}", server.running().http_addr());
    let files = FileClient::new(&base, auth.token.as_deref().expect("token")).expect("files");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plan.txt");
    std::fs::write(&path, b"file of the plan").expect("write");
    let (_, uploaded) = files
        .upload_file(&path, "plan.txt", None, |_, _| {})
        .await
        .expect("upload");
    let sent_file = alice
        .send_file(
            SendTo::Conv(conv),
            MessageKind::File,
            &uploaded.id,
            "caption",
        )
        .await
        .expect("send file");
    let file_msg = next_message(&mut bob).await;
    let file_id = file_msg.file.as_ref().expect("file").id.clone();
    bob.file_info(&file_id)
        .await
        .expect("bob may read the file");

    let done = alice.recall(conv, secret.seq).await.expect("recall");
    let entry = done.entry.expect("a recall entry");
    assert_eq!(
        (entry.kind, entry.target, entry.from.as_str()),
        (MessageKind::Recall, Some(secret.seq), a.as_str())
    );
    let pushed = next_message(&mut bob).await;
    assert_eq!((pushed.kind, pushed.seq), (MessageKind::Recall, entry.seq));

    // History, for both, shows the message recalled and nothing of it.
    for client in [&alice, &bob] {
        let m = entry_at(client, conv, secret.seq).await;
        assert!(m.body.is_empty(), "{m:?}");
        assert_eq!(m.recalled.as_ref().map(|r| r.by.as_str()), Some(a.as_str()));
        assert_eq!(entry_at(client, conv, first.seq).await.body, "keep me");
    }
    // A device that was offline gets the message as it is now and the
    // recall entry from a plain sync, from scratch or from its cursor.
    let (phone, _) = user(&url, &b).await;
    let all = synced(&phone, conv, 0).await;
    let at = |seq| all.iter().find(|m| m.seq == seq).expect("synced");
    assert!(at(secret.seq).recalled.is_some() && at(secret.seq).body.is_empty());
    assert_eq!(at(entry.seq).kind, MessageKind::Recall);
    let tail = synced(&phone, conv, sent_file.seq).await;
    assert_eq!(
        tail.iter().map(|m| (m.kind, m.target)).collect::<Vec<_>>(),
        vec![(MessageKind::Recall, Some(secret.seq))]
    );
    // The list does not show it, and the recall is not unread.
    let row = row_of(&bob, conv).await;
    assert_eq!(row.last.as_ref().map(|l| l.seq), Some(sent_file.seq));
    assert_eq!(row.unread, 3, "three messages, the recall not counted");

    // Recalling the file message removes its file.
    alice
        .recall(conv, sent_file.seq)
        .await
        .expect("recall file");
    next_message(&mut bob).await;
    assert_eq!(code_of(bob.file_info(&file_id).await), "unknown_file");
    let m = entry_at(&bob, conv, sent_file.seq).await;
    assert!(m.file.is_none() && m.body.is_empty() && m.recalled.is_some());
    let row = row_of(&bob, conv).await;
    assert!(
        row.last
            .as_ref()
            .is_some_and(|l| l.recalled && l.excerpt.is_empty())
    );

    // Twice is refused; so is recalling someone else's message in 1:1.
    assert_eq!(
        code_of(alice.recall(conv, secret.seq).await),
        "not_amendable"
    );
    assert_eq!(code_of(bob.recall(conv, first.seq).await), "forbidden");
    assert_eq!(
        code_of(alice.recall(conv, entry.seq).await),
        "not_amendable"
    );
}

async fn recall_rules_the_sender_within_the_window_and_group_moderators_any_time(t: Transport) {
    let server = TestServer::start_with(|c| c.recall_window = Duration::from_millis(300)).await;
    let url = server.url(t);
    let (o, b, c) = (unique("mo"), unique("mb"), unique("mc"));
    let (owner, _) = user(&url, &o).await;
    let (bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    let conv = group_of(&owner, &[&b, &c]).await;
    owner
        .group_role(conv, &b, GroupRole::Admin)
        .await
        .expect("bob admin");
    let by_carol = carol.send_to_conv(conv, "carol 1").await.expect("send");
    let by_carol_2 = carol.send_to_conv(conv, "carol 2").await.expect("send");
    let by_owner = owner.send_to_conv(conv, "owner").await.expect("send");
    let quick = carol.send_to_conv(conv, "oops").await.expect("send");
    carol
        .recall(conv, quick.seq)
        .await
        .expect("within the window");
    tokio::time::sleep(Duration::from_millis(400)).await;

    assert_eq!(code_of(carol.recall(conv, by_carol.seq).await), "too_late");
    assert_eq!(code_of(carol.recall(conv, by_owner.seq).await), "forbidden");
    // An admin over a member, the owner over anyone, at any time.
    bob.recall(conv, by_carol.seq).await.expect("admin recalls");
    assert_eq!(code_of(bob.recall(conv, by_owner.seq).await), "forbidden");
    owner
        .recall(conv, by_carol_2.seq)
        .await
        .expect("owner recalls");
    owner
        .recall(conv, by_owner.seq)
        .await
        .expect("own, any time");
    // Someone outside the group cannot even see it.
    let (outsider, _) = user(&url, &unique("mx")).await;
    assert_eq!(
        code_of(outsider.recall(conv, by_owner.seq).await),
        "unknown_conversation"
    );
}

async fn an_edit_replaces_the_text_everywhere_within_the_window(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("ea"), unique("eb"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let sent = alice.send(&b, "meet at 3").await.expect("send");
    let conv = sent.conv;
    next_message(&mut bob).await;
    let read = bob.read(conv, sent.seq).await.expect("read");
    assert_eq!(read.read_seq, sent.seq);

    alice.edit(conv, sent.seq, "meet at 4").await.expect("edit");
    let last = alice
        .edit(conv, sent.seq, "meet at 4, room 2")
        .await
        .expect("edit again")
        .entry
        .expect("entry");
    let first_push = next_message(&mut bob).await;
    let second_push = next_message(&mut bob).await;
    assert_eq!(
        (first_push.kind, first_push.body.as_str()),
        (MessageKind::Edit, "meet at 4")
    );
    assert_eq!(second_push.seq, last.seq);
    for client in [&alice, &bob] {
        let m = entry_at(client, conv, sent.seq).await;
        assert_eq!(m.body, "meet at 4, room 2");
        assert_eq!(m.edited_ts, Some(last.ts));
    }
    // Edits are not unread, and do not become the list's last message.
    let row = row_of(&bob, conv).await;
    assert_eq!((row.unread, row.last.map(|l| l.seq)), (0, Some(sent.seq)));
    // An offline device applies the entries in order and ends on the
    // latest text, as does one that reads history afresh.
    let mut local = synced(&bob, conv, 0).await;
    let (mut target, rest): (Vec<Message>, Vec<Message>) =
        local.drain(..).partition(|m| m.seq == sent.seq);
    let mut target = target.pop().expect("original");
    for e in &rest {
        magpie_client::amend::apply(&mut target, e, &b);
    }
    assert_eq!(target.body, "meet at 4, room 2");

    // Refusals: someone else's, empty, too large, past the window.
    assert_eq!(
        code_of(bob.edit(conv, sent.seq, "hacked").await),
        "forbidden"
    );
    assert_eq!(
        code_of(alice.edit(conv, sent.seq, "").await),
        "invalid_args"
    );
    let huge = "x".repeat(magpie_proto::frame::DEFAULT_MAX_BODY_BYTES + 1);
    assert_eq!(
        code_of(alice.edit(conv, sent.seq, &huge).await),
        "body_too_large"
    );
    assert_eq!(
        code_of(alice.edit(conv, last.seq, "edit an edit").await),
        "not_amendable"
    );
    assert_eq!(
        code_of(alice.edit(conv, 999, "nothing").await),
        "unknown_message"
    );
    drop(server);

    let server = TestServer::start_with(|c| c.edit_window = Duration::from_millis(200)).await;
    let url = server.url(t);
    let (alice, _) = user(&url, &a).await;
    drop(user(&url, &b).await);
    let sent = alice.send(&b, "typo").await.expect("send");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        code_of(alice.edit(sent.conv, sent.seq, "fixed").await),
        "too_late"
    );
    alice.recall(sent.conv, sent.seq).await.expect("recall");
    assert_eq!(
        code_of(alice.edit(sent.conv, sent.seq, "fixed").await),
        "not_amendable"
    );
}

async fn reactions_count_per_emoji_converge_and_are_not_unread(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, b, c) = (unique("xo"), unique("xb"), unique("xc"));
    let (owner, _) = user(&url, &o).await;
    let (mut bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    let conv = group_of(&owner, &[&b, &c]).await;
    next_message(&mut bob).await;
    let sent = owner.send_to_conv(conv, "lunch?").await.expect("send");
    next_message(&mut bob).await;
    bob.read(conv, sent.seq).await.expect("read");

    bob.react(conv, sent.seq, "👍", false).await.expect("react");
    let entry = carol
        .react(conv, sent.seq, "👍", false)
        .await
        .expect("react")
        .entry
        .expect("entry");
    let change = entry.reaction.as_ref().expect("change");
    assert_eq!(
        (change.emoji.as_str(), change.add, change.count),
        ("👍", true, 2)
    );
    owner
        .react(conv, sent.seq, "❤️", false)
        .await
        .expect("react");
    // Adding again changes nothing and writes nothing.
    assert!(
        bob.react(conv, sent.seq, "👍", false)
            .await
            .expect("again")
            .entry
            .is_none()
    );
    let pushed: Vec<Message> = vec![next_message(&mut bob).await, next_message(&mut bob).await];
    assert!(pushed.iter().all(|m| m.kind == MessageKind::Reaction));

    let counts = |m: Message| -> Vec<(String, i64, bool)> {
        m.reactions
            .into_iter()
            .map(|ReactionCount { emoji, count, mine }| (emoji, count, mine))
            .collect()
    };
    assert_eq!(
        counts(entry_at(&bob, conv, sent.seq).await),
        vec![("👍".into(), 2, true), ("❤️".into(), 1, false)]
    );
    assert_eq!(
        counts(entry_at(&owner, conv, sent.seq).await),
        vec![("👍".into(), 2, false), ("❤️".into(), 1, true)]
    );
    // Reactions are not unread for anyone.
    assert_eq!(row_of(&bob, conv).await.unread, 0);
    assert_eq!(
        row_of(&carol, conv).await.last.map(|l| l.seq),
        Some(sent.seq)
    );

    bob.react(conv, sent.seq, "👍", true)
        .await
        .expect("take back");
    assert!(
        bob.react(conv, sent.seq, "👍", true)
            .await
            .expect("again")
            .entry
            .is_none()
    );
    let synced_now = synced(&bob, conv, 0).await;
    let original = synced_now
        .iter()
        .find(|m| m.seq == sent.seq)
        .expect("synced");
    assert_eq!(
        counts(original.clone()),
        vec![("👍".into(), 1, false), ("❤️".into(), 1, false)]
    );
    // A fresh device applying every reaction entry to the original as
    // first sent ends where history is.
    let mut replayed = Message {
        reactions: Vec::new(),
        ..original.clone()
    };
    for e in synced_now
        .iter()
        .filter(|m| m.kind == MessageKind::Reaction)
    {
        magpie_client::amend::apply(&mut replayed, e, &b);
    }
    assert_eq!(replayed.reactions, original.reactions);

    // At most 20 different emoji on one message.
    for i in 0..18 {
        carol
            .react(conv, sent.seq, &format!("e{i}"), false)
            .await
            .expect("react");
    }
    assert_eq!(
        code_of(carol.react(conv, sent.seq, "one-too-many", false).await),
        "limit_reached"
    );
    carol
        .react(conv, sent.seq, "❤️", false)
        .await
        .expect("an emoji already there is fine");
    // Not a member; not a message (the group's creation event).
    let (outsider, _) = user(&url, &unique("xx")).await;
    assert_eq!(
        code_of(outsider.react(conv, sent.seq, "👍", false).await),
        "unknown_conversation"
    );
    assert_eq!(
        code_of(bob.react(conv, 1, "👍", false).await),
        "not_amendable"
    );
}

async fn a_reply_quotes_its_original_and_the_quote_follows_a_recall(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, b, n) = (unique("qo"), unique("qb"), unique("qn"));
    let (owner, _) = user(&url, &o).await;
    let (mut bob, _) = user(&url, &b).await;
    let (newcomer, _) = user(&url, &n).await;
    let conv = group_of(&owner, &[&b]).await;
    next_message(&mut bob).await;
    let long = "问".repeat(300);
    let original = owner.send_to_conv(conv, &long).await.expect("send");
    next_message(&mut bob).await;
    let reply = bob.reply(conv, original.seq, "答").await.expect("reply");
    let quote = entry_at(&owner, conv, reply.seq)
        .await
        .reply
        .expect("quote");
    assert_eq!(
        (quote.seq, quote.from.as_str(), quote.kind, quote.recalled),
        (original.seq, o.as_str(), MessageKind::Text, false)
    );
    assert_eq!(
        quote.excerpt.chars().count(),
        magpie_proto::limits::EXCERPT_CHARS,
        "a bounded excerpt"
    );

    owner.recall(conv, original.seq).await.expect("recall");
    let quote = entry_at(&bob, conv, reply.seq).await.reply.expect("quote");
    assert!(quote.recalled && quote.excerpt.is_empty(), "{quote:?}");
    assert_eq!(quote.from, o, "who was quoted stays");

    // Refusals: a recalled message, no such entry, an entry from before
    // the caller joined.
    assert_eq!(
        code_of(bob.reply(conv, original.seq, "again").await),
        "not_amendable"
    );
    assert_eq!(
        code_of(bob.reply(conv, 9_999, "?").await),
        "unknown_message"
    );
    owner
        .group_invite(conv, &[n.as_str()])
        .await
        .expect("invite");
    assert_eq!(
        code_of(newcomer.reply(conv, reply.seq, "before my time").await),
        "unknown_message"
    );
}

async fn forwards_copy_readable_messages_one_by_one_or_as_a_record(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, c) = (unique("fa"), unique("fb"), unique("fc"));
    let (alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let (mut carol, _) = user(&url, &c).await;
    let one = alice.send(&b, "first").await.expect("send");
    let two = bob.send(&a, "second").await.expect("send");
    let src = one.conv;
    let group = group_of(&bob, &[&c]).await;
    next_message(&mut carol).await;

    let forward = |seqs: Vec<Seq>, merge: bool, cmid: &str| Forward {
        conv: src,
        seqs,
        to_convs: vec![group],
        to_users: vec![c.clone()],
        merge,
        cmid: cmid.into(),
    };
    let made = bob
        .forward(forward(vec![two.seq, one.seq], false, "fw1"))
        .await
        .expect("forward");
    assert_eq!(made.messages.len(), 4, "two messages to two places");
    let in_group = history_of(&carol, group).await;
    let copies: Vec<(String, String)> = in_group
        .iter()
        .filter_map(|m| {
            m.forwarded
                .as_ref()
                .map(|f| (m.body.clone(), f.from.clone()))
        })
        .collect();
    assert_eq!(
        copies,
        vec![("first".into(), a.clone()), ("second".into(), b.clone())],
        "in seq order, each marked with its first sender"
    );
    assert!(
        in_group
            .iter()
            .all(|m| m.from == b || m.kind == MessageKind::Event)
    );
    // Retrying the same forward stores nothing new.
    let again = bob
        .forward(forward(vec![two.seq, one.seq], false, "fw1"))
        .await
        .expect("retry");
    assert_eq!(again.messages, made.messages);

    let merged = bob
        .forward(forward(vec![one.seq, two.seq], true, "fw2"))
        .await
        .expect("merge");
    assert_eq!(merged.messages.len(), 2, "one record per destination");
    let record = entry_at(&carol, group, merged.messages[0].seq).await;
    assert_eq!(record.kind, MessageKind::Record);
    assert_eq!(
        record
            .record
            .iter()
            .map(|i| (i.from.as_str(), i.body.as_str()))
            .collect::<Vec<_>>(),
        vec![(a.as_str(), "first"), (b.as_str(), "second")]
    );
    // Forwarding a forward keeps the first sender.
    let copy_seq = made.messages[0].seq;
    let refwd = carol
        .forward(Forward {
            conv: group,
            seqs: vec![copy_seq],
            to_convs: Vec::new(),
            to_users: vec![a.clone()],
            merge: false,
            cmid: "fw3".into(),
        })
        .await
        .expect("forward a forward");
    let m = entry_at(&alice, refwd.messages[0].conv, refwd.messages[0].seq).await;
    assert_eq!(m.forwarded.map(|f| f.from), Some(a.clone()));

    // Refusals: a conversation the caller is not in, a destination they
    // are not in, a recalled message, nothing to forward.
    assert_eq!(
        code_of(
            carol
                .forward(Forward {
                    conv: src,
                    seqs: vec![one.seq],
                    to_convs: vec![group],
                    to_users: Vec::new(),
                    merge: false,
                    cmid: "x1".into(),
                })
                .await
        ),
        "unknown_conversation"
    );
    let (outsider, _) = user(&url, &unique("fx")).await;
    let lone = outsider.send(&a, "hi").await.expect("send");
    assert_eq!(
        code_of(
            alice
                .forward(Forward {
                    conv: src,
                    seqs: vec![one.seq],
                    to_convs: vec![group],
                    to_users: Vec::new(),
                    merge: false,
                    cmid: "x2".into(),
                })
                .await
        ),
        "unknown_conversation"
    );
    outsider.recall(lone.conv, lone.seq).await.expect("recall");
    assert_eq!(
        code_of(
            alice
                .forward(Forward {
                    conv: lone.conv,
                    seqs: vec![lone.seq],
                    to_convs: Vec::new(),
                    to_users: vec![b.clone()],
                    merge: false,
                    cmid: "x3".into(),
                })
                .await
        ),
        "not_amendable"
    );
    assert_eq!(
        code_of(bob.forward(forward(Vec::new(), false, "x4")).await),
        "invalid_args"
    );
}

async fn bad_amend_input_gets_clear_errors(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b) = (unique("ba"), unique("bb"));
    let (alice, _) = user(&url, &a).await;
    drop(user(&url, &b).await);
    let sent = alice.send(&b, "hi").await.expect("send");
    let conv = sent.conv;
    for bad in ["", "two words", "\u{7}", &"😀".repeat(17)] {
        assert_eq!(
            code_of(alice.react(conv, sent.seq, bad, false).await),
            "invalid_args",
            "{bad:?}"
        );
    }
    assert_eq!(code_of(alice.recall(conv, -1).await), "unknown_message");
    assert_eq!(
        code_of(alice.recall(99_999, 1).await),
        "unknown_conversation"
    );
    let too_many = Forward {
        conv,
        seqs: (1..=101).collect(),
        to_convs: vec![conv],
        to_users: Vec::new(),
        merge: false,
        cmid: "many".into(),
    };
    assert_eq!(code_of(alice.forward(too_many).await), "invalid_args");
    let no_target = Forward {
        conv,
        seqs: vec![sent.seq],
        to_convs: Vec::new(),
        to_users: Vec::new(),
        merge: false,
        cmid: "none".into(),
    };
    assert_eq!(code_of(alice.forward(no_target).await), "invalid_args");
    let long_cmid = Forward {
        conv,
        seqs: vec![sent.seq],
        to_convs: vec![conv],
        to_users: Vec::new(),
        merge: false,
        cmid: "c".repeat(60),
    };
    assert_eq!(code_of(alice.forward(long_cmid).await), "invalid_args");
    // Nothing of it was stored.
    assert_eq!(history_of(&alice, conv).await.len(), 1);
}
