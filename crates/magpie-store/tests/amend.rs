//! The amend area's contract ([`AmendStore`]) on every backend: the rules
//! checked under the conversation's lock, the target changed with the
//! entry in one transaction, quiet entries left out of unread and of the
//! list's last message, and reactions racing from many members ending
//! with counts that match their rows and a gapless sequence.
//!
//! [`AmendStore`]: magpie_store::AmendStore

use futures::future::join_all;
use magpie_proto::{ConvId, MessageKind, Seq, UserId};
use magpie_store::{AmendOp, Amended, NewAmend, NewMessage, Refusal, Result, Store, StoreError};

mod common;
use common::{Harness, T0, user};

const HOUR: i64 = 3_600_000;

fn text(conv: ConvId, sender: UserId, cmid: &str, body: &str, ts: i64) -> NewMessage {
    NewMessage {
        conv,
        sender,
        kind: MessageKind::Text,
        cmid: cmid.into(),
        body: body.into(),
        ts,
        ..NewMessage::default()
    }
}

async fn post(store: &dyn Store, conv: ConvId, sender: UserId, body: &str, ts: i64) -> Seq {
    let cmid = format!("{sender}-{body}-{ts}");
    store
        .append_batch(&[text(conv, sender, &cmid, body, ts)])
        .await
        .expect("append")[0]
        .seq
}

async fn amend(
    store: &dyn Store,
    conv: ConvId,
    target: Seq,
    (actor, name): (UserId, &str),
    op: AmendOp,
    now: i64,
) -> Result<Amended> {
    store
        .amend(&NewAmend {
            conv,
            target,
            actor,
            actor_name: name.into(),
            op,
            now,
        })
        .await
}

fn refusal(result: Result<Amended>) -> Refusal {
    match result {
        Err(StoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn recall() -> AmendOp {
    AmendOp::Recall {
        window_ms: 2 * 60_000,
    }
}

fn react(emoji: &str, add: bool) -> AmendOp {
    AmendOp::React {
        emoji: emoji.into(),
        add,
    }
}

async fn the_rules_are_checked_and_the_target_changed_with_the_entry(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let eve = user(store, "eve").await;
    let conv = store.open_direct(alice, bob, T0).await.expect("open");
    let first = post(store, conv, alice, "hello", T0).await;
    let second = post(store, conv, alice, "secret", T0 + 1).await;
    let a = (alice, "alice");
    let b = (bob, "bob");

    // Someone else's message; someone outside; no such entry.
    assert!(matches!(
        refusal(amend(store, conv, second, b, recall(), T0 + 2).await),
        Refusal::GroupRole(_)
    ));
    assert_eq!(
        refusal(amend(store, conv, second, (eve, "eve"), recall(), T0 + 2).await),
        Refusal::NotMember
    );
    assert_eq!(
        refusal(amend(store, conv, 99, a, recall(), T0 + 2).await),
        Refusal::NoSuchMessage
    );
    // Past the window.
    assert!(matches!(
        refusal(amend(store, conv, first, a, recall(), T0 + HOUR).await),
        Refusal::TooLate(_)
    ));
    let edit = |body: &str| AmendOp::Edit {
        body: body.into(),
        window_ms: 24 * HOUR,
    };
    assert!(matches!(
        refusal(amend(store, conv, first, b, edit("mine"), T0 + 2).await),
        Refusal::GroupRole(_)
    ));
    assert!(matches!(
        refusal(amend(store, conv, first, a, edit("late"), T0 + 25 * HOUR).await),
        Refusal::TooLate(_)
    ));
    // Refusals wrote nothing.
    let all = store.messages_after(conv, 0, 100).await.expect("read");
    assert_eq!(all.len(), 2);

    let edited = amend(store, conv, first, a, edit("hello!"), T0 + 3)
        .await
        .expect("edit")
        .entry
        .expect("entry");
    assert_eq!((edited.seq, edited.target), (3, Some(first)));
    let recalled = amend(store, conv, second, a, recall(), T0 + 4)
        .await
        .expect("recall")
        .entry
        .expect("entry");
    assert_eq!((recalled.kind, recalled.seq), (MessageKind::Recall, 4));
    assert!(matches!(
        refusal(amend(store, conv, second, a, recall(), T0 + 5).await),
        Refusal::NotAmendable(_)
    ));
    assert!(matches!(
        refusal(amend(store, conv, second, b, react("👍", true), T0 + 5).await),
        Refusal::NotAmendable(_)
    ));
    assert!(matches!(
        refusal(amend(store, conv, edited.seq, b, react("👍", true), T0 + 5).await),
        Refusal::NotAmendable(_)
    ));

    let now = store
        .messages_at(conv, &[first, second])
        .await
        .expect("read");
    assert_eq!(
        (now[0].body.as_str(), now[0].edited_ts),
        ("hello!", Some(T0 + 3))
    );
    assert!(now[1].body.is_empty());
    assert_eq!(
        now[1].recalled.as_ref().map(|r| r.by.as_str()),
        Some("alice")
    );

    // Quiet entries: not unread, not the list's last message, not moving
    // the activity time.
    let row = store
        .conversations(bob, None, 10)
        .await
        .expect("list")
        .into_iter()
        .find(|r| r.conv == conv)
        .expect("row");
    assert_eq!((row.last_seq, row.read_seq, row.quiet_unread), (4, 0, 2));
    assert_eq!(
        row.last.as_ref().map(|l| (l.seq, l.recalled)),
        Some((second, true))
    );
    assert_eq!(row.active_ts, T0 + 1);
}

async fn racing_reactions_keep_counts_exact_and_the_sequence_gapless(store: &dyn Store) {
    let mut people = Vec::new();
    for i in 0..12 {
        people.push(user(store, &format!("racer{i}")).await);
    }
    let conv = store
        .open_direct(people[0], people[1], T0)
        .await
        .expect("open");
    let target = post(store, conv, people[0], "react to me", T0).await;
    // Only members may react: the two of the 1:1, each with many emoji
    // and some taken back, all at once.
    let members = [(people[0], "racer0"), (people[1], "racer1")];
    let mut calls = Vec::new();
    for (i, emoji) in ["👍", "❤️", "😂", "🎉", "👀", "🙏"].iter().enumerate() {
        for &who in &members {
            calls.push((who, react(emoji, true), T0 + 10 + i as i64));
            if i % 2 == 0 {
                calls.push((who, react(emoji, false), T0 + 20 + i as i64));
            }
        }
    }
    let results = join_all(
        calls
            .iter()
            .map(|(who, op, now)| amend(store, conv, target, *who, op.clone(), *now)),
    )
    .await;
    let written = results
        .into_iter()
        .filter_map(|r| r.expect("amend").entry)
        .count();
    let all = store.messages_after(conv, 0, 1000).await.expect("read");
    let seqs: Vec<Seq> = all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=all.len() as Seq).collect::<Vec<_>>(), "gapless");
    assert_eq!(all.len(), 1 + written);
    // Each emoji's count is what its entries say last, and what the
    // target holds.
    let target_now = &store.messages_at(conv, &[target]).await.expect("read")[0];
    for r in &target_now.reactions {
        let last = all
            .iter()
            .rev()
            .find_map(|m| m.reaction.as_ref().filter(|c| c.emoji == r.emoji))
            .expect("an entry for each emoji");
        assert_eq!(last.count, r.count, "{}", r.emoji);
        assert!((1..=2).contains(&r.count));
    }
    // Whatever the interleaving, replaying the entries in seq order gives
    // the stored counts.
    let mut replayed = magpie_proto::Message {
        reactions: Vec::new(),
        ..target_now.clone()
    };
    for m in all.iter().filter(|m| m.kind == MessageKind::Reaction) {
        let change = m.reaction.as_ref().expect("change");
        match replayed
            .reactions
            .iter_mut()
            .find(|r| r.emoji == change.emoji)
        {
            Some(r) => r.count = change.count,
            None => replayed.reactions.push(magpie_proto::ReactionCount {
                emoji: change.emoji.clone(),
                count: change.count,
                mine: false,
            }),
        }
        replayed.reactions.retain(|r| r.count > 0);
    }
    let mut want: Vec<(String, i64)> = target_now
        .reactions
        .iter()
        .map(|r| (r.emoji.clone(), r.count))
        .collect();
    let mut got: Vec<(String, i64)> = replayed
        .reactions
        .iter()
        .map(|r| (r.emoji.clone(), r.count))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let mine = store
        .my_reactions(people[1], &[(conv, target)])
        .await
        .expect("mine");
    for (_, _, emoji) in &mine {
        assert!(target_now.reactions.iter().any(|r| &r.emoji == emoji));
    }
}

/// Two nodes on one database amend the same message at once: every
/// entry gets one seq, and after a reopen the message is as the last
/// entries left it.
async fn two_nodes_amend_one_message_and_it_survives_reopen<H: Harness>(harness: H) {
    let alice;
    let conv;
    let target;
    {
        let store = harness.store();
        alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        conv = store.open_direct(alice, bob, T0).await.expect("open");
        target = post(store, conv, alice, "two nodes", T0).await;
        let (one, two) = (harness.another_node().await, harness.another_node().await);
        let (a, b) = (
            amend(
                &one,
                conv,
                target,
                (alice, "alice"),
                react("👍", true),
                T0 + 1,
            ),
            amend(&two, conv, target, (bob, "bob"), react("👍", true), T0 + 1),
        );
        let (a, b) = futures::join!(a, b);
        let seqs = [a, b].map(|r| r.expect("amend").entry.expect("entry").seq);
        assert_eq!(
            seqs.iter().copied().min().zip(seqs.iter().copied().max()),
            Some((2, 3))
        );
        Store::close(&one).await;
        Store::close(&two).await;
    }
    let harness = harness.reopen().await;
    let store = harness.store();
    let now = &store.messages_at(conv, &[target]).await.expect("read")[0];
    assert_eq!(
        now.reactions
            .iter()
            .map(|r| (r.emoji.as_str(), r.count))
            .collect::<Vec<_>>(),
        vec![("👍", 2)]
    );
    amend(store, conv, target, (alice, "alice"), recall(), T0 + 2)
        .await
        .expect("recall after reopen");
    harness.close().await;
}

common::contract_suite! {
    store: [
        the_rules_are_checked_and_the_target_changed_with_the_entry,
        racing_reactions_keep_counts_exact_and_the_sequence_gapless,
    ],
    harness: [two_nodes_amend_one_message_and_it_survives_reopen],
}
