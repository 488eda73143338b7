//! The `Store` contract, as one suite every backend must pass.
//!
//! Every test is a backend-neutral function taking `&dyn Store` (or, for the
//! few that must close and reopen the database, a [`Harness`]). The
//! `store_suite!` macro at the bottom instantiates the whole suite as
//! `#[tokio::test]`s for one backend. Adding PostgreSQL or MySQL means
//! writing a `Harness` for it and one more `store_suite!` line.
//!
//! Each test starts from an empty store, so ids, seqs and lists can be
//! asserted exactly.

use magpie_proto::limits::EXCERPT_CHARS;
use magpie_proto::{ConvCursor, ConvId, ConvKind, LastMessage, Message, MessageKind, Seq, UserId};
use magpie_store::{
    Appended, Committed, ConvSummary, ConversationStore, MarkRead, MessageStore, NewMessage,
    Position, SeqRange, SqlStore, Store, StoreError, TokenRecord, UserRecord, WriteBatch,
};
use std::collections::{BTreeMap, BTreeSet};

// The backends (the `Harness` and one implementation per engine) and the
// helpers every suite shares: tests/common/mod.rs.
mod common;
use common::{Harness, T0, hash_for, user};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A fixed, fetch-everything limit for reading whole conversations back.
const ALL: u32 = 10_000;

/// The 1:1 conversation of `a` and `b`, opened (created if need be) the
/// way the server does before it stores a message between them.
async fn dm(store: &dyn Store, a: UserId, b: UserId) -> ConvId {
    store
        .open_direct(a, b, T0)
        .await
        .expect("open_direct between two users")
}

fn new_msg(conv: ConvId, sender: UserId, cmid: &str, body: &str, ts: i64) -> NewMessage {
    NewMessage {
        file: None,
        conv,
        sender,
        kind: MessageKind::Text,
        cmid: cmid.to_owned(),
        body: body.to_owned(),
        ts,
        mention: None,
        ..NewMessage::default()
    }
}

/// Append a single message from `sender` to `recipient` (in their 1:1
/// conversation) in a batch of its own.
async fn send(
    store: &dyn Store,
    sender: UserId,
    recipient: UserId,
    cmid: &str,
    body: &str,
    ts: i64,
) -> Appended {
    let conv = dm(store, sender, recipient).await;
    let mut out = store
        .append_batch(&[new_msg(conv, sender, cmid, body, ts)])
        .await
        .expect("append_batch of one message");
    assert_eq!(out.len(), 1, "one result per message");
    out.remove(0)
}

async fn all_messages(store: &dyn Store, conv: ConvId) -> Vec<Message> {
    store
        .messages_after(conv, 0, ALL)
        .await
        .expect("messages_after")
}

fn seqs(messages: &[Message]) -> Vec<Seq> {
    messages.iter().map(|m| m.seq).collect()
}

/// `user`'s conversation-list row for `conv`.
async fn summary(store: &dyn Store, user: UserId, conv: ConvId) -> ConvSummary {
    store
        .conversations(user, None, ALL)
        .await
        .expect("conversations")
        .into_iter()
        .find(|s| s.conv == conv)
        .unwrap_or_else(|| panic!("user {user} has no row for conversation {conv}"))
}

/// `user`'s whole conversation list, in one page.
async fn list(store: &dyn Store, user: UserId) -> Vec<ConvSummary> {
    store
        .conversations(user, None, ALL)
        .await
        .expect("conversations")
}

/// A 1:1 conversation's position (members of a 1:1 conversation join it
/// at its start).
fn direct_position(conv: ConvId, last_seq: Seq) -> Position {
    Position {
        conv,
        last_seq,
        joined_seq: 0,
    }
}

// ---------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------

async fn create_user_and_look_it_up(store: &dyn Store) {
    assert_eq!(
        store.user_by_name("alice").await.expect("user_by_name"),
        None,
        "empty store has no users"
    );
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    assert_ne!(alice, bob, "user ids are distinct");

    assert_eq!(
        store.user_by_name("alice").await.expect("user_by_name"),
        Some(UserRecord {
            id: alice,
            username: "alice".into(),
            password_hash: hash_for("alice"),
        })
    );
    assert_eq!(
        store.user_by_name("bob").await.expect("user_by_name"),
        Some(UserRecord {
            id: bob,
            username: "bob".into(),
            password_hash: hash_for("bob"),
        })
    );
    assert_eq!(
        store.user_by_name("carol").await.expect("user_by_name"),
        None
    );
    // A prefix or an extension of a name is a different name.
    assert_eq!(store.user_by_name("ali").await.expect("user_by_name"), None);
    assert_eq!(
        store.user_by_name("alice2").await.expect("user_by_name"),
        None
    );
}

async fn create_user_rejects_a_taken_name(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let again = store.create_user("alice", "another-hash", T0 + 1).await;
    assert!(
        matches!(again, Err(StoreError::UsernameTaken)),
        "expected UsernameTaken, got {again:?}"
    );
    // The original account is untouched.
    assert_eq!(
        store.user_by_name("alice").await.expect("user_by_name"),
        Some(UserRecord {
            id: alice,
            username: "alice".into(),
            password_hash: hash_for("alice"),
        })
    );
    // The failure leaves the store usable.
    let bob = user(store, "bob").await;
    assert_ne!(alice, bob);
}

async fn usernames_with_every_allowed_character(store: &dyn Store) {
    let name = "a.b-c_d.0123456789_xyz";
    let id = user(store, name).await;
    let record = store
        .user_by_name(name)
        .await
        .expect("user_by_name")
        .expect("the user exists");
    assert_eq!(record.id, id);
    assert_eq!(record.username, name);
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// SHA-256-sized token hashes, distinct per seed.
fn token_hash(seed: u8) -> Vec<u8> {
    (0..32u8).map(|i| i.wrapping_mul(7) ^ seed).collect()
}

async fn token_create_and_lookup(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let (laptop, phone, bobs) = (token_hash(1), token_hash(2), token_hash(3));
    let expires = T0 + 30 * 24 * 3600 * 1000;
    store
        .create_token(&laptop, alice, "laptop", T0, expires)
        .await
        .expect("create_token");
    store
        .create_token(&phone, alice, "phone", T0, expires + 5)
        .await
        .expect("create_token");
    store
        .create_token(&bobs, bob, "", T0, expires)
        .await
        .expect("create_token with an empty device name");

    assert_eq!(
        store.token(&laptop, T0).await.expect("token"),
        Some(TokenRecord {
            user_id: alice,
            username: "alice".into(),
            device: "laptop".into(),
            expires_at: expires,
        })
    );
    assert_eq!(
        store.token(&phone, T0 + 1000).await.expect("token"),
        Some(TokenRecord {
            user_id: alice,
            username: "alice".into(),
            device: "phone".into(),
            expires_at: expires + 5,
        })
    );
    assert_eq!(
        store.token(&bobs, T0).await.expect("token"),
        Some(TokenRecord {
            user_id: bob,
            username: "bob".into(),
            device: String::new(),
            expires_at: expires,
        })
    );
    assert_eq!(
        store.token(&token_hash(99), T0).await.expect("token"),
        None,
        "an unknown hash finds nothing"
    );
    // A hash is matched whole, not by prefix.
    assert_eq!(store.token(&laptop[..16], T0).await.expect("token"), None);
}

async fn expired_token_is_not_returned(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let hash = token_hash(1);
    let expires = T0 + 1000;
    store
        .create_token(&hash, alice, "laptop", T0, expires)
        .await
        .expect("create_token");
    assert!(
        store
            .token(&hash, expires - 1)
            .await
            .expect("token")
            .is_some(),
        "valid until the last millisecond before expires_at"
    );
    assert_eq!(
        store.token(&hash, expires).await.expect("token"),
        None,
        "expired at expires_at"
    );
    assert_eq!(store.token(&hash, expires + 1).await.expect("token"), None);
    // Expiry is judged by the `now` passed in, not by deletion: an earlier
    // `now` still finds it (no purge has run).
    assert!(store.token(&hash, T0).await.expect("token").is_some());
}

async fn revoke_token_removes_only_that_session(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let (laptop, phone) = (token_hash(1), token_hash(2));
    let expires = T0 + 1_000_000;
    store
        .create_token(&laptop, alice, "laptop", T0, expires)
        .await
        .expect("create_token");
    store
        .create_token(&phone, alice, "phone", T0, expires)
        .await
        .expect("create_token");

    store.revoke_token(&laptop).await.expect("revoke_token");
    assert_eq!(store.token(&laptop, T0).await.expect("token"), None);
    assert_eq!(
        store
            .token(&phone, T0)
            .await
            .expect("token")
            .map(|t| t.device),
        Some("phone".to_owned()),
        "the user's other session survives"
    );

    // Revoking again, or revoking something that never existed, is fine.
    store.revoke_token(&laptop).await.expect("revoke twice");
    store
        .revoke_token(&token_hash(99))
        .await
        .expect("revoke an unknown token");
    assert!(store.token(&phone, T0).await.expect("token").is_some());
}

async fn live_tokens_reports_only_unexpired_unrevoked_ones(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let hash = |seed: u8| -> [u8; 32] { token_hash(seed).try_into().expect("32 bytes") };
    let all: Vec<[u8; 32]> = (0..=255u8).map(hash).collect();
    for (i, h) in all.iter().enumerate() {
        let expires = if i % 3 == 0 { T0 + 10 } else { T0 + 1000 };
        store
            .create_token(h, alice, "d", T0, expires)
            .await
            .expect("create_token");
    }
    store.revoke_token(&all[1]).await.expect("revoke_token");
    let mut asked = all.clone();
    asked.extend([[0xee; 32], [0xef; 32]]); // never existed
    // Repeats, and more than one chunk of the batched query.
    for _ in 0..3 {
        asked.extend(asked.clone().into_iter().take(300));
    }
    let live = store
        .live_tokens(&asked, T0 + 10)
        .await
        .expect("live_tokens");
    let expected: std::collections::HashSet<[u8; 32]> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0 && *i != 1)
        .map(|(_, h)| *h)
        .collect();
    assert_eq!(
        live, expected,
        "expired at T0+10, revoked and unknown ones are not live"
    );
    assert!(store.live_tokens(&[], T0).await.expect("empty").is_empty());
}

async fn trim_tokens_keeps_the_newest(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    // Created in shuffled order: age decides, not insertion order.
    for (seed, created) in [(1u8, 30), (2, 10), (3, 50), (4, 20), (5, 40)] {
        store
            .create_token(&token_hash(seed), alice, "d", T0 + created, T0 + 1_000_000)
            .await
            .expect("create_token");
    }
    store
        .create_token(&token_hash(9), bob, "d", T0, T0 + 1_000_000)
        .await
        .expect("create_token");
    assert_eq!(store.trim_tokens(alice, 3).await.expect("trim"), 2);
    let live = |seed| async move {
        store
            .token(&token_hash(seed), T0)
            .await
            .expect("token")
            .is_some()
    };
    assert!(!live(2).await && !live(4).await, "the two oldest went");
    assert!(live(1).await && live(3).await && live(5).await);
    assert!(live(9).await, "other users keep theirs");
    assert_eq!(store.trim_tokens(alice, 3).await.expect("trim"), 0);
    assert_eq!(store.trim_tokens(alice, 0).await.expect("trim"), 3);
}

async fn purge_expired_tokens_counts_and_keeps_valid_ones(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let (t100, t200, t300, revoked) = (token_hash(1), token_hash(2), token_hash(3), token_hash(4));
    store
        .create_token(&t100, alice, "a", T0, T0 + 100)
        .await
        .expect("create_token");
    store
        .create_token(&t200, bob, "b", T0, T0 + 200)
        .await
        .expect("create_token");
    store
        .create_token(&t300, alice, "c", T0, T0 + 300)
        .await
        .expect("create_token");
    store
        .create_token(&revoked, bob, "d", T0, T0 + 50)
        .await
        .expect("create_token");
    store.revoke_token(&revoked).await.expect("revoke_token");

    assert_eq!(
        store.purge_expired_tokens(T0).await.expect("purge"),
        0,
        "nothing has expired yet"
    );
    // Expired means expires_at <= now, the same rule `token` applies; the
    // revoked token is already gone and is not counted.
    assert_eq!(
        store.purge_expired_tokens(T0 + 200).await.expect("purge"),
        2
    );
    assert_eq!(
        store.purge_expired_tokens(T0 + 200).await.expect("purge"),
        0,
        "a second purge finds nothing"
    );
    // Purged tokens are gone even for an earlier `now`; the valid one stays.
    assert_eq!(store.token(&t100, T0).await.expect("token"), None);
    assert_eq!(store.token(&t200, T0).await.expect("token"), None);
    assert_eq!(
        store
            .token(&t300, T0 + 299)
            .await
            .expect("token")
            .map(|t| t.user_id),
        Some(alice)
    );
    assert_eq!(
        store
            .purge_expired_tokens(T0 + 10_000)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(store.token(&t300, T0).await.expect("token"), None);
}

// ---------------------------------------------------------------------------
// append_batch
// ---------------------------------------------------------------------------

async fn append_empty_batch(store: &dyn Store) {
    let out = store.append_batch(&[]).await.expect("empty batch");
    assert!(out.is_empty());
}

async fn append_assigns_gapless_seqs(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;

    let ab = dm(store, alice, bob).await;

    // Five in one batch, then three in batches of their own.
    let batch: Vec<NewMessage> = (1..=5)
        .map(|i| new_msg(ab, alice, &format!("c{i}"), &format!("body {i}"), T0 + i))
        .collect();
    let mut results = store.append_batch(&batch).await.expect("append_batch");
    assert_eq!(results.len(), 5);
    for i in 6..=8 {
        results.push(
            send(
                store,
                alice,
                bob,
                &format!("c{i}"),
                &format!("body {i}"),
                T0 + i,
            )
            .await,
        );
    }

    let conv = results[0].conv;
    assert_eq!(conv, ab, "stored in the conversation it was addressed to");
    for (i, r) in results.iter().enumerate() {
        let n = i as i64 + 1;
        assert_eq!(r.conv, conv, "all in one conversation");
        assert_eq!(r.seq, n, "seq of message {n}");
        assert_eq!(r.ts, T0 + n, "new message keeps its ts");
        assert!(!r.duplicate);
    }
    let ids: BTreeSet<i64> = results.iter().map(|r| r.msg_id).collect();
    assert_eq!(ids.len(), 8, "msg_ids are distinct");

    let stored = all_messages(store, conv).await;
    assert_eq!(seqs(&stored), (1..=8).collect::<Vec<_>>());
    for (m, r) in stored.iter().zip(&results) {
        assert_eq!(m.msg_id, r.msg_id);
        assert_eq!(m.ts, r.ts);
        assert_eq!(m.body, format!("body {}", m.seq));
        assert_eq!(m.cmid, format!("c{}", m.seq));
    }
}

async fn conversations_have_independent_seqs(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;

    let (ab, ac, bc) = (
        dm(store, alice, bob).await,
        dm(store, alice, carol).await,
        dm(store, bob, carol).await,
    );
    assert_eq!(BTreeSet::from([ab, ac, bc]).len(), 3, "three conversations");

    // Interleaved in one batch; results come back in input order.
    let batch = [
        new_msg(ab, alice, "1", "ab1", T0 + 1),
        new_msg(ac, alice, "2", "ac1", T0 + 2),
        new_msg(ab, alice, "3", "ab2", T0 + 3),
        new_msg(bc, bob, "4", "bc1", T0 + 4),
        new_msg(ac, carol, "5", "ac2", T0 + 5),
        new_msg(ab, alice, "6", "ab3", T0 + 6),
    ];
    let out = store.append_batch(&batch).await.expect("append_batch");
    let got: Vec<(ConvId, Seq)> = out.iter().map(|r| (r.conv, r.seq)).collect();
    assert_eq!(
        got,
        vec![(ab, 1), (ac, 1), (ab, 2), (bc, 1), (ac, 2), (ab, 3)]
    );

    // A later batch continues each conversation where it left off.
    let out = store
        .append_batch(&[
            new_msg(bc, carol, "7", "bc2", T0 + 7),
            new_msg(ab, bob, "8", "ab4", T0 + 8),
        ])
        .await
        .expect("append_batch");
    assert_eq!((out[0].conv, out[0].seq), (bc, 2));
    assert_eq!((out[1].conv, out[1].seq), (ab, 4));

    let bodies = |msgs: Vec<Message>| msgs.into_iter().map(|m| m.body).collect::<Vec<_>>();
    assert_eq!(
        bodies(all_messages(store, ab).await),
        ["ab1", "ab2", "ab3", "ab4"]
    );
    assert_eq!(bodies(all_messages(store, ac).await), ["ac1", "ac2"]);
    assert_eq!(bodies(all_messages(store, bc).await), ["bc1", "bc2"]);
}

async fn reply_lands_in_the_same_conversation(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let first = send(store, alice, bob, "a1", "hi bob", T0 + 1).await;
    let reply = send(store, bob, alice, "b1", "hi alice", T0 + 2).await;
    assert_eq!(reply.conv, first.conv);
    assert_eq!((first.seq, reply.seq), (1, 2));

    let stored = all_messages(store, first.conv).await;
    assert_eq!(
        stored,
        vec![
            Message {
                file: None,
                msg_id: first.msg_id,
                conv: first.conv,
                seq: 1,
                kind: MessageKind::Text,
                from: "alice".into(),
                body: "hi bob".into(),
                ts: T0 + 1,
                cmid: "a1".into(),
                event: None,
                mention_all: false,
                mentions: Vec::new(),
                ..Message::default()
            },
            Message {
                file: None,
                msg_id: reply.msg_id,
                conv: first.conv,
                seq: 2,
                kind: MessageKind::Text,
                from: "bob".into(),
                body: "hi alice".into(),
                ts: T0 + 2,
                cmid: "b1".into(),
                event: None,
                mention_all: false,
                mentions: Vec::new(),
                ..Message::default()
            },
        ]
    );
    assert_eq!(
        store.direct_conv(bob, alice).await.expect("direct_conv"),
        Some(first.conv),
        "it is the pair's 1:1 conversation"
    );
}

async fn resend_in_a_later_batch_is_a_duplicate(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let first = send(store, alice, bob, "cmid-1", "original", T0 + 1).await;
    assert!(!first.duplicate);

    // The retry differs in body and ts; the original wins.
    let retry = send(store, alice, bob, "cmid-1", "changed", T0 + 50).await;
    assert_eq!(
        retry,
        Appended {
            duplicate: true,
            ..first
        }
    );

    let stored = all_messages(store, first.conv).await;
    assert_eq!(stored.len(), 1, "the retry stored nothing");
    assert_eq!(stored[0].body, "original");
    assert_eq!(stored[0].ts, T0 + 1);
    assert_eq!(
        store.positions(alice).await.expect("positions"),
        vec![direct_position(first.conv, 1)],
        "the retry allocated no seq"
    );

    // The next new message follows without a gap.
    let next = send(store, alice, bob, "cmid-2", "next", T0 + 60).await;
    assert_eq!(
        (next.conv, next.seq, next.duplicate),
        (first.conv, 2, false)
    );
    // And retrying an older one still answers with its own original result.
    let again = send(store, alice, bob, "cmid-1", "x", T0 + 70).await;
    assert_eq!(
        again,
        Appended {
            duplicate: true,
            ..first
        }
    );
    assert_eq!(seqs(&all_messages(store, first.conv).await), [1, 2]);
}

async fn duplicate_within_one_batch(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let ab = dm(store, alice, bob).await;
    let out = store
        .append_batch(&[
            new_msg(ab, alice, "c1", "one", T0 + 1),
            new_msg(ab, alice, "c2", "two", T0 + 2),
            new_msg(ab, alice, "c1", "one again", T0 + 3),
            new_msg(ab, alice, "c3", "three", T0 + 4),
        ])
        .await
        .expect("append_batch");
    assert_eq!(out.len(), 4);
    assert!(!out[0].duplicate && !out[1].duplicate && !out[3].duplicate);
    assert_eq!(
        out[2],
        Appended {
            duplicate: true,
            ..out[0]
        },
        "the second occurrence reports the first"
    );
    assert_eq!((out[0].seq, out[1].seq, out[3].seq), (1, 2, 3));
    assert!(out.iter().all(|a| a.conv == ab));

    let stored = all_messages(store, out[0].conv).await;
    let got: Vec<(&str, &str)> = stored
        .iter()
        .map(|m| (m.cmid.as_str(), m.body.as_str()))
        .collect();
    assert_eq!(got, [("c1", "one"), ("c2", "two"), ("c3", "three")]);
}

/// A batch of new messages in several conversations with one resend among
/// them: the resend reports its original, every new message gets the next
/// seq of its own conversation, and the read marks follow.
async fn resend_inside_a_batch_of_new_messages(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let first = send(store, alice, bob, "a1", "first", T0 + 1).await;
    let ac = dm(store, alice, carol).await;
    let out = store
        .append_batch(&[
            new_msg(first.conv, bob, "b1", "to alice", T0 + 2),
            new_msg(ac, alice, "a2", "to carol", T0 + 3),
            new_msg(first.conv, alice, "a1", "first, resent", T0 + 4),
            new_msg(first.conv, alice, "a3", "to bob", T0 + 5),
        ])
        .await
        .expect("append_batch");
    assert_eq!(
        out[2],
        Appended {
            duplicate: true,
            ..first
        }
    );
    assert!(!out[0].duplicate && !out[1].duplicate && !out[3].duplicate);
    assert_eq!((out[0].conv, out[0].seq), (first.conv, 2));
    assert_eq!((out[3].conv, out[3].seq), (first.conv, 3));
    assert_eq!((out[1].conv, out[1].seq), (ac, 1));
    assert_ne!(out[1].conv, first.conv);
    assert_eq!(seqs(&all_messages(store, first.conv).await), [1, 2, 3]);
    assert_eq!(summary(store, alice, first.conv).await.read_seq, 3);
    assert_eq!(summary(store, bob, first.conv).await.read_seq, 2);
    assert_eq!(summary(store, alice, out[1].conv).await.read_seq, 1);
    assert_eq!(summary(store, carol, out[1].conv).await.read_seq, 0);
}

/// A batch bigger than one multi-row statement takes (1,200 messages in
/// three conversations, both directions): every message is stored once,
/// each conversation's seqs are gapless in batch order, message ids grow
/// with seq, and each sender's read mark sits on its own last message.
async fn batch_larger_than_one_statement(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let ab = dm(store, alice, bob).await;
    let ac = dm(store, carol, alice).await;
    let bc = dm(store, bob, carol).await;
    let senders = [(alice, ab), (bob, ab), (carol, ac), (bob, bc)];
    let batch: Vec<NewMessage> = (0..1_200)
        .map(|i| {
            let (from, conv) = senders[i % senders.len()];
            new_msg(
                conv,
                from,
                &format!("m{i}"),
                &format!("body {i}"),
                T0 + i as i64,
            )
        })
        .collect();
    let out = store.append_batch(&batch).await.expect("append_batch");
    assert_eq!(out.len(), batch.len());
    assert!(out.iter().all(|a| !a.duplicate));
    assert!(
        out.iter().zip(&batch).all(|(a, m)| a.conv == m.conv),
        "every ack names its message's conversation"
    );
    for (conv, expected) in [(ab, 600), (ac, 300), (bc, 300)] {
        let stored = all_messages(store, conv).await;
        assert_eq!(seqs(&stored), (1..=expected).collect::<Vec<Seq>>());
        assert!(stored.windows(2).all(|w| w[0].msg_id < w[1].msg_id));
        // Batch order is seq order, and every ack names its own message.
        let acked: Vec<(Seq, &str)> = out
            .iter()
            .zip(&batch)
            .filter(|(a, _)| a.conv == conv)
            .map(|(a, m)| (a.seq, m.cmid.as_str()))
            .collect();
        let got: Vec<(Seq, &str)> = stored.iter().map(|m| (m.seq, m.cmid.as_str())).collect();
        assert_eq!(acked, got, "conv {conv}");
    }
    // Alice sent the messages i % 4 == 0 to bob; the last is i = 1196, seq 599.
    assert_eq!(summary(store, alice, ab).await.read_seq, 599);
    assert_eq!(summary(store, bob, ab).await.read_seq, 600);
    assert_eq!(summary(store, carol, ac).await.read_seq, 300);
    assert_eq!(summary(store, alice, ac).await.read_seq, 0);
    assert_eq!(summary(store, bob, bc).await.read_seq, 300);
}

async fn cmid_is_scoped_per_sender(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    // The same cmid from two senders names two different messages.
    let a = send(store, alice, bob, "same", "from alice", T0 + 1).await;
    let b = send(store, bob, alice, "same", "from bob", T0 + 2).await;
    assert!(!a.duplicate && !b.duplicate);
    assert_ne!(a.msg_id, b.msg_id);
    assert_eq!((a.seq, b.seq), (1, 2));
    assert_eq!(all_messages(store, a.conv).await.len(), 2);
}

async fn cmid_comparison_is_exact(store: &dyn Store) {
    // cmids are opaque byte strings: no case folding, no trimming. (Guards
    // against case-insensitive or PAD SPACE collations.)
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let cmids = ["abc", "ABC", "abc ", "ábc"];
    let mut out = Vec::new();
    for (i, cmid) in cmids.iter().enumerate() {
        out.push(send(store, alice, bob, cmid, "x", T0 + i as i64).await);
    }
    assert!(out.iter().all(|r| !r.duplicate), "{out:?}");
    assert_eq!(out.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let stored: Vec<String> = all_messages(store, out[0].conv)
        .await
        .into_iter()
        .map(|m| m.cmid)
        .collect();
    assert_eq!(stored, cmids);
}

async fn duplicate_cmid_to_another_recipient_returns_the_original(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let first = send(store, alice, bob, "c1", "to bob", T0 + 1).await;
    let again = send(store, alice, carol, "c1", "to carol", T0 + 2).await;
    assert_eq!(
        again,
        Appended {
            duplicate: true,
            ..first
        }
    );
    assert_no_messages_between(store, alice, carol).await;
    assert!(list(store, carol).await.is_empty());
}

async fn failed_batch_stores_nothing(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let ab = dm(store, alice, bob).await;
    let nobody: UserId = 987_654_321;
    let no_conv: ConvId = ab + 987_654_321;
    // The second message of each batch cannot be stored by any backend (a
    // conversation or a sender that does not exist); the whole batch must
    // fail and leave no trace.
    for (what, bad) in [
        (
            "unknown conversation",
            new_msg(no_conv, alice, "c2", "to nowhere", T0 + 2),
        ),
        (
            "unknown sender",
            new_msg(ab, nobody, "c2", "from nobody", T0 + 2),
        ),
    ] {
        let result = store
            .append_batch(&[new_msg(ab, alice, "c1", "fine", T0 + 1), bad])
            .await;
        assert!(result.is_err(), "{what}: expected an error, got {result:?}");
        assert_no_messages_between(store, alice, bob).await;
        assert!(list(store, alice).await.is_empty(), "{what}");
        assert_eq!(
            store.positions(bob).await.expect("positions"),
            vec![direct_position(ab, 0)],
            "{what}: no seq was allocated"
        );
        assert!(
            all_messages(store, no_conv).await.is_empty(),
            "{what}: nothing in the unknown conversation"
        );
        // Asking for seq 0 moves nothing and answers the current mark.
        assert_eq!(
            store.mark_read(alice, ab, 0).await.expect("mark_read"),
            Some(0),
            "{what}: the sender's read mark did not move"
        );
    }

    // The cmid was not consumed and no seq was allocated.
    let ok = send(store, alice, bob, "c1", "fine", T0 + 3).await;
    assert_eq!((ok.conv, ok.seq, ok.duplicate), (ab, 1, false));
    assert_eq!(all_messages(store, ok.conv).await.len(), 1);
    assert_eq!(summary(store, alice, ab).await.read_seq, 1);
}

/// Nothing was stored between two users. The contract allows an empty
/// conversation to exist (made before a batch that then failed), but it
/// holds no message and uses no seq.
async fn assert_no_messages_between(store: &dyn Store, a: UserId, b: UserId) {
    if let Some(conv) = store.direct_conv(a, b).await.expect("direct_conv") {
        assert!(
            all_messages(store, conv).await.is_empty(),
            "conv {conv} has messages"
        );
        let positions = store.positions(a).await.expect("positions");
        assert!(
            positions.contains(&direct_position(conv, 0)),
            "{positions:?}"
        );
    }
}

async fn concurrent_appends_stay_gapless(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let ab = dm(store, alice, bob).await;
    let one = |i: i64| {
        let sender = if i % 2 == 0 { alice } else { bob };
        async move {
            let batch = [
                new_msg(ab, sender, &format!("c{i}a"), "x", T0 + i),
                new_msg(ab, sender, &format!("c{i}b"), "y", T0 + i),
            ];
            store.append_batch(&batch).await.expect("append_batch")
        }
    };
    let (r0, r1, r2, r3, r4, r5) = tokio::join!(one(0), one(1), one(2), one(3), one(4), one(5));
    let all: Vec<Appended> = [r0, r1, r2, r3, r4, r5].into_iter().flatten().collect();
    let conv = all[0].conv;
    assert_eq!(conv, ab);
    assert!(all.iter().all(|r| r.conv == conv && !r.duplicate));
    let got: BTreeSet<Seq> = all.iter().map(|r| r.seq).collect();
    assert_eq!(got, (1..=12).collect(), "each seq exactly once, no gaps");
    // Each batch is one transaction: its two messages are adjacent.
    for pair in all.chunks(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "{pair:?}");
    }
    assert_eq!(
        seqs(&all_messages(store, conv).await),
        (1..=12).collect::<Vec<_>>()
    );
}

async fn sender_read_mark_moves_to_its_own_message(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let mut last = send(store, alice, bob, "a1", "1", T0 + 1).await;
    for i in 2..=3 {
        last = send(store, alice, bob, &format!("a{i}"), "x", T0 + i).await;
    }
    let conv = last.conv;
    assert_eq!(summary(store, alice, conv).await.read_seq, 3);
    assert_eq!(
        summary(store, bob, conv).await.read_seq,
        0,
        "recipient has read nothing"
    );

    let reply = send(store, bob, alice, "b1", "y", T0 + 10).await;
    assert_eq!(reply.seq, 4);
    assert_eq!(summary(store, bob, conv).await.read_seq, 4);
    assert_eq!(
        summary(store, alice, conv).await.read_seq,
        3,
        "the other member's mark does not move"
    );

    // A duplicate writes nothing, so it moves no read mark either.
    store
        .mark_read(bob, conv, 2)
        .await
        .expect("mark_read")
        .expect("bob is a member");
    let dup = send(store, alice, bob, "a1", "1", T0 + 20).await;
    assert!(dup.duplicate);
    assert_eq!(summary(store, alice, conv).await.read_seq, 3);
}

// ---------------------------------------------------------------------------
// Conversations and membership
// ---------------------------------------------------------------------------

async fn direct_conv_is_symmetric(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    assert_eq!(
        store.direct_conv(alice, bob).await.expect("direct_conv"),
        None
    );

    let ab = send(store, bob, alice, "b1", "x", T0).await.conv;
    assert_eq!(
        store.direct_conv(alice, bob).await.expect("direct_conv"),
        Some(ab)
    );
    assert_eq!(
        store.direct_conv(bob, alice).await.expect("direct_conv"),
        Some(ab)
    );
    assert_eq!(
        store.direct_conv(alice, carol).await.expect("direct_conv"),
        None
    );
    assert_eq!(
        store.direct_conv(carol, bob).await.expect("direct_conv"),
        None
    );

    let ac = send(store, alice, carol, "a1", "x", T0 + 1).await.conv;
    assert_ne!(ab, ac);
    assert_eq!(
        store.direct_conv(carol, alice).await.expect("direct_conv"),
        Some(ac)
    );
    assert_eq!(
        store.direct_conv(alice, bob).await.expect("direct_conv"),
        Some(ab)
    );
}

async fn is_member_only_for_participants(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let ab = send(store, alice, bob, "a1", "x", T0).await.conv;
    let ac = send(store, alice, carol, "a2", "x", T0 + 1).await.conv;

    assert!(store.is_member(alice, ab).await.expect("is_member"));
    assert!(
        store.is_member(bob, ab).await.expect("is_member"),
        "the recipient is a member"
    );
    assert!(!store.is_member(carol, ab).await.expect("is_member"));
    assert!(store.is_member(carol, ac).await.expect("is_member"));
    assert!(!store.is_member(bob, ac).await.expect("is_member"));
    let no_conv = ab.max(ac) + 1000;
    assert!(!store.is_member(alice, no_conv).await.expect("is_member"));
    assert!(!store.is_member(987_654_321, ab).await.expect("is_member"));
}

async fn positions_list_every_conversation(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let dave = user(store, "dave").await;
    assert!(store.positions(alice).await.expect("positions").is_empty());

    let mut ab = 0;
    for i in 1..=3 {
        ab = send(store, alice, bob, &format!("a{i}"), "x", T0 + i)
            .await
            .conv;
    }
    let ac = send(store, carol, alice, "c1", "x", T0 + 10).await.conv;
    let bc = send(store, bob, carol, "b1", "x", T0 + 11).await.conv;
    // Opened but never written to: listed, at seq 0.
    let ad = dm(store, dave, alice).await;

    // Ascending by conversation; every 1:1 member joined at seq 0.
    let positions = |user: UserId| async move { store.positions(user).await.expect("positions") };
    let ascending = |pairs: &[(ConvId, Seq)]| {
        let mut want: Vec<Position> = pairs.iter().map(|&(c, s)| direct_position(c, s)).collect();
        want.sort_unstable_by_key(|p| p.conv);
        want
    };
    assert_eq!(
        positions(alice).await,
        ascending(&[(ab, 3), (ac, 1), (ad, 0)])
    );
    assert_eq!(positions(bob).await, ascending(&[(ab, 3), (bc, 1)]));
    assert_eq!(positions(carol).await, ascending(&[(ac, 1), (bc, 1)]));
    assert_eq!(positions(dave).await, ascending(&[(ad, 0)]));
    assert!(
        positions(987_654_321).await.is_empty(),
        "an unknown user has none"
    );

    // Reading does not change positions; sending does.
    assert_eq!(
        store.mark_read(bob, ab, 3).await.expect("mark_read"),
        Some(3)
    );
    assert_eq!(positions(bob).await, ascending(&[(ab, 3), (bc, 1)]));
    send(store, bob, alice, "b2", "x", T0 + 12).await;
    assert_eq!(
        positions(alice).await,
        ascending(&[(ab, 4), (ac, 1), (ad, 0)])
    );
}

/// What the conversation list shows of a stored message.
fn last_of(m: &Message) -> LastMessage {
    LastMessage {
        msg_id: m.msg_id,
        seq: m.seq,
        kind: m.kind,
        from: m.from.clone(),
        excerpt: m.body.clone(),
        truncated: false,
        ts: m.ts,
        recalled: false,
    }
}

async fn conversation_list_shows_peer_last_message_and_marks(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let dave = user(store, "dave").await;
    assert!(list(store, alice).await.is_empty());

    let a1 = send(store, alice, bob, "a1", "hello bob", T0 + 1000).await;
    let c1 = send(store, carol, alice, "c1", "hello alice", T0 + 2000).await;
    let b1 = send(store, bob, alice, "b1", "hi alice", T0 + 3000).await;
    let (ab, ac) = (a1.conv, c1.conv);
    // A conversation without entries is not listed.
    let ad = dm(store, alice, dave).await;

    let alice_list = list(store, alice).await;
    assert_eq!(
        alice_list,
        vec![
            ConvSummary {
                conv: ab,
                kind: ConvKind::Direct,
                peer: Some("bob".into()),
                name: None,
                avatar: None,
                last_seq: 2,
                read_seq: 1,
                active_ts: T0 + 3000,
                last: Some(LastMessage {
                    msg_id: b1.msg_id,
                    seq: 2,
                    kind: MessageKind::Text,
                    from: "bob".into(),
                    excerpt: "hi alice".into(),
                    truncated: false,
                    ts: T0 + 3000,
                    recalled: false,
                }),
                mentioned: false,
                quiet_unread: 0,
                pinned: false,
                muted_until: 0,
                marked_unread: false,
                draft: String::new(),
            },
            ConvSummary {
                conv: ac,
                kind: ConvKind::Direct,
                peer: Some("carol".into()),
                name: None,
                avatar: None,
                last_seq: 1,
                read_seq: 0,
                active_ts: T0 + 2000,
                last: Some(LastMessage {
                    msg_id: c1.msg_id,
                    seq: 1,
                    kind: MessageKind::Text,
                    from: "carol".into(),
                    excerpt: "hello alice".into(),
                    truncated: false,
                    ts: T0 + 2000,
                    recalled: false,
                }),
                mentioned: false,
                quiet_unread: 0,
                pinned: false,
                muted_until: 0,
                marked_unread: false,
                draft: String::new(),
            },
        ]
    );
    assert!(alice_list.iter().all(|s| s.conv != ad));
    assert!(list(store, dave).await.is_empty());

    // The same conversation seen by the other member: peer and read mark
    // are the viewer's, the last message is the same.
    let bob_list = list(store, bob).await;
    assert_eq!(bob_list.len(), 1);
    assert_eq!(bob_list[0].conv, ab);
    assert_eq!(bob_list[0].kind, ConvKind::Direct);
    assert_eq!(bob_list[0].peer.as_deref(), Some("alice"));
    assert_eq!(bob_list[0].last_seq, 2);
    assert_eq!(bob_list[0].read_seq, 2);
    assert_eq!(bob_list[0].active_ts, T0 + 3000);
    assert_eq!(bob_list[0].last, alice_list[0].last);

    // Alice answers carol: that conversation becomes the most recent, and
    // its last message is alice's.
    let a2 = send(store, alice, carol, "a2", "hey carol", T0 + 4000).await;
    let alice_list = list(store, alice).await;
    assert_eq!(
        alice_list.iter().map(|s| s.conv).collect::<Vec<_>>(),
        [ac, ab],
        "most recently active first"
    );
    assert_eq!(alice_list[0].peer.as_deref(), Some("carol"));
    assert_eq!((alice_list[0].last_seq, alice_list[0].read_seq), (2, 2));
    assert_eq!(alice_list[0].active_ts, T0 + 4000);
    assert_eq!(
        alice_list[0].last,
        Some(LastMessage {
            msg_id: a2.msg_id,
            seq: 2,
            kind: MessageKind::Text,
            from: "alice".into(),
            excerpt: "hey carol".into(),
            truncated: false,
            ts: T0 + 4000,
            recalled: false,
        })
    );
    let carol_list = list(store, carol).await;
    assert_eq!(carol_list.len(), 1);
    assert_eq!(carol_list[0].peer.as_deref(), Some("alice"));
    assert_eq!(
        carol_list[0].read_seq, 1,
        "carol read up to her own message"
    );
    assert_eq!(carol_list[0].last, alice_list[0].last);

    // The last message agrees with the message log.
    let log = all_messages(store, ac).await;
    assert_eq!(log.last().map(last_of), alice_list[0].last);

    // A duplicate does not make a conversation more recent.
    send(store, alice, bob, "a1", "hello bob", T0 + 5000).await;
    let after_dup = list(store, alice).await;
    assert_eq!(
        after_dup.iter().map(|s| s.conv).collect::<Vec<_>>(),
        [ac, ab]
    );
    assert_eq!(after_dup, alice_list, "nothing in the list changed");
    assert!(list(store, dave).await.is_empty());
}

/// Walk `user`'s conversation list in pages of `limit` rows, each page
/// starting after the last row of the one before, until a page comes back
/// empty. Checks every page's size on the way.
async fn walk_list(store: &dyn Store, user: UserId, limit: u32) -> Vec<ConvSummary> {
    let mut rows: Vec<ConvSummary> = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = store
            .conversations(user, after, limit)
            .await
            .expect("conversations");
        assert!(
            page.len() <= limit as usize,
            "a page of {} rows for limit {limit}",
            page.len()
        );
        let Some(last) = page.last() else {
            return rows;
        };
        after = Some(ConvCursor {
            pinned: last.pinned,
            active_ts: last.active_ts,
            conv: last.conv,
        });
        rows.extend(page);
    }
    panic!("the list of user {user} never ended: {rows:?}");
}

async fn conversation_list_pages_by_cursor(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let mut peers = Vec::new();
    for i in 1..=5 {
        peers.push(user(store, &format!("peer{i}")).await);
    }
    let mut convs = Vec::new();
    for &peer in &peers {
        convs.push(dm(store, alice, peer).await);
    }
    // Activity in an order unlike the ids'; conversation 2 then gets a
    // newer message and moves to the front.
    let activity = [(0, 30), (1, 50), (2, 10), (3, 40), (4, 20), (2, 60)];
    for (n, (i, dt)) in activity.into_iter().enumerate() {
        send(store, peers[i], alice, &format!("m{n}"), "x", T0 + dt).await;
    }
    let want = [
        (convs[2], T0 + 60),
        (convs[1], T0 + 50),
        (convs[3], T0 + 40),
        (convs[0], T0 + 30),
        (convs[4], T0 + 20),
    ];
    let whole = list(store, alice).await;
    let got: Vec<(ConvId, i64)> = whole.iter().map(|s| (s.conv, s.active_ts)).collect();
    assert_eq!(got, want, "newest activity first");
    for s in &whole {
        assert_eq!(
            s.last.as_ref().map(|m| m.ts),
            Some(s.active_ts),
            "active_ts is the newest entry's ts"
        );
    }

    // Pages of 2: 2 + 2 + 1 rows, each conversation exactly once, in order.
    let first = store
        .conversations(alice, None, 2)
        .await
        .expect("conversations");
    assert_eq!(first, whole[..2]);
    let cursor = |s: &ConvSummary| ConvCursor {
        pinned: s.pinned,
        active_ts: s.active_ts,
        conv: s.conv,
    };
    let second = store
        .conversations(alice, Some(cursor(&first[1])), 2)
        .await
        .expect("conversations");
    assert_eq!(second, whole[2..4]);
    let third = store
        .conversations(alice, Some(cursor(&second[1])), 2)
        .await
        .expect("conversations");
    assert_eq!(third, whole[4..]);
    assert!(
        store
            .conversations(alice, Some(cursor(&third[0])), 2)
            .await
            .expect("conversations")
            .is_empty(),
        "nothing after the last row"
    );
    for limit in [1, 2, 3, 5, 6] {
        assert_eq!(walk_list(store, alice, limit).await, whole, "limit {limit}");
    }

    // Equal activity: the ties are ordered by descending id, and a page
    // boundary inside a tie loses and repeats nothing.
    let zed = user(store, "zed").await;
    let mut tied = Vec::new();
    for (i, &peer) in peers.iter().enumerate() {
        tied.push(
            send(store, peer, zed, &format!("z{i}"), "same time", T0 + 1_000)
                .await
                .conv,
        );
    }
    tied.sort_unstable_by(|a, b| b.cmp(a));
    let whole = list(store, zed).await;
    assert_eq!(whole.iter().map(|s| s.conv).collect::<Vec<_>>(), tied);
    assert!(whole.iter().all(|s| s.active_ts == T0 + 1_000));
    for limit in [1, 2, 3, 4, 5] {
        assert_eq!(walk_list(store, zed, limit).await, whole, "limit {limit}");
    }
    let page = store
        .conversations(
            zed,
            Some(ConvCursor {
                pinned: false,
                active_ts: T0 + 1_000,
                conv: tied[1],
            }),
            2,
        )
        .await
        .expect("conversations");
    assert_eq!(
        page.iter().map(|s| s.conv).collect::<Vec<_>>(),
        tied[2..4],
        "after a row of a tie: the rest of the tie, by id"
    );
    // A cursor between two activity values starts at the next older one.
    let page = store
        .conversations(
            alice,
            Some(ConvCursor {
                pinned: false,
                active_ts: T0 + 45,
                conv: 0,
            }),
            ALL,
        )
        .await
        .expect("conversations");
    assert_eq!(
        page.iter().map(|s| s.conv).collect::<Vec<_>>(),
        [convs[3], convs[0], convs[4]]
    );
}

async fn conversation_list_shows_an_excerpt_of_the_last_message(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    assert_eq!(EXCERPT_CHARS, 128, "the cases below are sized for 128");
    // 1 + 3 + 4 bytes: a byte count and a character count differ here.
    let long: String = "a你🐦".repeat(100);
    assert_eq!(long.chars().count(), 300);
    let first_128: String = long.chars().take(128).collect();
    let cases: Vec<(String, String, bool)> = vec![
        (long.clone(), first_128, true),
        ("short 你好 🐦".into(), "short 你好 🐦".into(), false),
        ("你".repeat(128), "你".repeat(128), false),
        ("🐦".repeat(129), "🐦".repeat(128), true),
        ("x".repeat(129), "x".repeat(128), true),
        (String::new(), String::new(), false),
    ];
    let mut conv = 0;
    for (i, (body, excerpt, truncated)) in cases.into_iter().enumerate() {
        let sent = send(store, alice, bob, &format!("a{i}"), &body, T0 + i as i64).await;
        conv = sent.conv;
        let want = Some(LastMessage {
            msg_id: sent.msg_id,
            seq: sent.seq,
            kind: MessageKind::Text,
            from: "alice".into(),
            excerpt: excerpt.clone(),
            truncated,
            ts: T0 + i as i64,
            recalled: false,
        });
        assert_eq!(
            excerpt.chars().count(),
            body.chars().count().min(128),
            "case {i}"
        );
        assert_eq!(summary(store, alice, conv).await.last, want, "case {i}");
        assert_eq!(summary(store, bob, conv).await.last, want, "case {i}");
    }
    // The message itself is stored whole.
    let stored = all_messages(store, conv).await;
    assert_eq!(stored[0].body, long);
}

async fn members_of_a_direct_conversation(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    // Opened by the later-created user first: members still come ascending.
    let ab = store
        .open_direct(bob, alice, T0)
        .await
        .expect("open_direct");
    let bc = store
        .open_direct(bob, carol, T0)
        .await
        .expect("open_direct");
    assert_ne!(ab, bc);
    let ascending = |a: UserId, b: UserId| if a < b { vec![a, b] } else { vec![b, a] };
    assert_eq!(
        store.members(ab).await.expect("members"),
        ascending(alice, bob)
    );
    assert_eq!(
        store.members(bc).await.expect("members"),
        ascending(bob, carol)
    );
    assert!(
        store
            .members(ab.max(bc) + 1000)
            .await
            .expect("members")
            .is_empty(),
        "no members for a conversation that does not exist"
    );

    // Opening again, either way round, is the same conversation and
    // changes nothing.
    assert_eq!(
        store
            .open_direct(alice, bob, T0 + 5)
            .await
            .expect("open_direct"),
        ab
    );
    assert_eq!(
        store
            .open_direct(bob, alice, T0 + 9)
            .await
            .expect("open_direct"),
        ab
    );
    assert_eq!(
        store.members(ab).await.expect("members"),
        ascending(alice, bob)
    );
    assert_eq!(
        store.direct_conv(alice, bob).await.expect("direct_conv"),
        Some(ab)
    );
    for (u, conv) in [(alice, ab), (bob, ab), (bob, bc), (carol, bc)] {
        assert!(store.is_member(u, conv).await.expect("is_member"));
    }
    assert!(!store.is_member(carol, ab).await.expect("is_member"));
    assert!(!store.is_member(alice, bc).await.expect("is_member"));
    let mut want = vec![direct_position(ab, 0), direct_position(bc, 0)];
    want.sort_unstable_by_key(|p| p.conv);
    assert_eq!(
        store.positions(bob).await.expect("positions"),
        want,
        "two conversations, nothing in them"
    );

    // Members are there from the start: sending changes nothing.
    send(store, alice, bob, "a1", "x", T0 + 10).await;
    assert_eq!(
        store.members(ab).await.expect("members"),
        ascending(alice, bob)
    );
}

// ---------------------------------------------------------------------------
// Reading messages
// ---------------------------------------------------------------------------

/// Ten messages alternating alice → bob, bob → alice; returns their conv.
async fn ten_message_conversation(store: &dyn Store) -> (UserId, UserId, ConvId) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let conv = dm(store, alice, bob).await;
    let batch: Vec<NewMessage> = (1..=10)
        .map(|i| {
            let sender = if i % 2 == 1 { alice } else { bob };
            new_msg(
                conv,
                sender,
                &format!("m{i}"),
                &format!("message {i}"),
                T0 + i,
            )
        })
        .collect();
    let out = store.append_batch(&batch).await.expect("append_batch");
    assert!(out.iter().all(|a| a.conv == conv));
    (alice, bob, conv)
}

async fn messages_after_pages_forward(store: &dyn Store) {
    let (alice, bob, conv) = ten_message_conversation(store).await;
    // Noise in another conversation must not leak in.
    let carol = user(store, "carol").await;
    let other = send(store, alice, carol, "x1", "other", T0 + 100)
        .await
        .conv;
    let _ = bob;

    let all = store
        .messages_after(conv, 0, 100)
        .await
        .expect("messages_after");
    assert_eq!(seqs(&all), (1..=10).collect::<Vec<_>>());
    for m in &all {
        let from = if m.seq % 2 == 1 { "alice" } else { "bob" };
        assert_eq!(m.conv, conv);
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.from.as_str(), from, "seq {}", m.seq);
        assert_eq!(m.body, format!("message {}", m.seq));
        assert_eq!(m.cmid, format!("m{}", m.seq));
        assert_eq!(m.ts, T0 + m.seq);
    }

    let page = |after: Seq, limit: u32| async move {
        seqs(
            &store
                .messages_after(conv, after, limit)
                .await
                .expect("messages_after"),
        )
    };
    assert_eq!(page(0, 3).await, [1, 2, 3]);
    assert_eq!(page(3, 4).await, [4, 5, 6, 7], "strictly after the cursor");
    assert_eq!(page(8, 4).await, [9, 10], "short last page");
    assert_eq!(page(9, 1).await, [10]);
    assert_eq!(
        page(10, 5).await,
        Vec::<Seq>::new(),
        "nothing after the end"
    );
    assert_eq!(page(50, 5).await, Vec::<Seq>::new());
    assert_eq!(
        page(0, 0).await,
        Vec::<Seq>::new(),
        "limit 0 returns nothing"
    );
    assert_eq!(page(-5, 2).await, [1, 2]);

    // Walking the cursor forward visits each message exactly once.
    let mut cursor = 0;
    let mut walked = Vec::new();
    loop {
        let got = page(cursor, 3).await;
        let Some(&last) = got.last() else { break };
        walked.extend(got);
        cursor = last;
    }
    assert_eq!(walked, (1..=10).collect::<Vec<_>>());

    assert_eq!(seqs(&all_messages(store, other).await), [1]);
    let no_conv = conv.max(other) + 1000;
    assert!(
        store
            .messages_after(no_conv, 0, 10)
            .await
            .expect("messages_after")
            .is_empty()
    );
}

async fn messages_before_pages_backward(store: &dyn Store) {
    let (alice, _bob, conv) = ten_message_conversation(store).await;
    let carol = user(store, "carol").await;
    let other = send(store, alice, carol, "x1", "other", T0 + 100)
        .await
        .conv;

    let page = |before: Seq, limit: u32| async move {
        seqs(
            &store
                .messages_before(conv, before, limit)
                .await
                .expect("messages_before"),
        )
    };
    assert_eq!(page(11, 3).await, [8, 9, 10], "the newest 3, ascending");
    assert_eq!(page(Seq::MAX, 3).await, [8, 9, 10], "from the newest");
    assert_eq!(page(8, 3).await, [5, 6, 7], "strictly before the cursor");
    assert_eq!(page(3, 5).await, [1, 2], "short first page");
    assert_eq!(page(2, 1).await, [1]);
    assert_eq!(page(1, 5).await, Vec::<Seq>::new(), "nothing before seq 1");
    assert_eq!(page(0, 5).await, Vec::<Seq>::new());
    assert_eq!(
        page(11, 0).await,
        Vec::<Seq>::new(),
        "limit 0 returns nothing"
    );
    assert_eq!(page(11, 100).await, (1..=10).collect::<Vec<_>>());

    let full = store
        .messages_before(conv, 11, 100)
        .await
        .expect("messages_before");
    assert_eq!(
        full,
        all_messages(store, conv).await,
        "same messages as messages_after"
    );

    // Walking backwards with before = first seq of the page visits every
    // message once; pages prepended give the whole log in order.
    let mut before = Seq::MAX;
    let mut pages: Vec<Vec<Seq>> = Vec::new();
    loop {
        let got = page(before, 4).await;
        let Some(&first) = got.first() else { break };
        pages.push(got);
        before = first;
    }
    assert_eq!(pages, vec![vec![7, 8, 9, 10], vec![3, 4, 5, 6], vec![1, 2]]);

    let other_page = store
        .messages_before(other, Seq::MAX, 10)
        .await
        .expect("messages_before");
    assert_eq!(other_page.len(), 1);
    assert_eq!(other_page[0].body, "other");
    let no_conv = conv.max(other) + 1000;
    assert!(
        store
            .messages_before(no_conv, Seq::MAX, 10)
            .await
            .expect("messages_before")
            .is_empty()
    );
}

/// `messages_in` over many ranges in several conversations: more ranges
/// than one statement takes, given out of order, with empty ones and ones
/// that find nothing among them. The answer is exactly the entries inside
/// the ranges, ascending by (conversation, seq), as `messages_after` has
/// them.
async fn messages_in_reads_many_ranges_at_once(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let convs = [
        (dm(store, alice, bob).await, [alice, bob]),
        (dm(store, alice, carol).await, [carol, alice]),
        (dm(store, bob, carol).await, [bob, carol]),
    ];
    const PER_CONV: Seq = 200;
    let batch: Vec<NewMessage> = (0..PER_CONV * 3)
        .map(|i| {
            let (conv, senders) = convs[(i % 3) as usize];
            let sender = senders[(i / 3 % 2) as usize];
            new_msg(conv, sender, &format!("m{i}"), &format!("body {i}"), T0 + i)
        })
        .collect();
    store.append_batch(&batch).await.expect("append_batch");
    let mut stored: BTreeMap<(ConvId, Seq), Message> = BTreeMap::new();
    for &(conv, _) in &convs {
        let all = all_messages(store, conv).await;
        assert_eq!(seqs(&all), (1..=PER_CONV).collect::<Vec<_>>());
        stored.extend(all.into_iter().map(|m| ((m.conv, m.seq), m)));
    }

    let [(c1, _), (c2, _), (c3, _)] = convs;
    let range = |conv, after, upto| SeqRange { conv, after, upto };
    let mut ranges = Vec::new();
    // c1: every odd seq alone (100 ranges).
    ranges.extend(
        (1..=PER_CONV)
            .filter(|k| k % 2 == 1)
            .map(|k| range(c1, k - 1, k)),
    );
    // c2: every seq but multiples of 4 alone (150 ranges, so the split
    // between two statements falls inside this conversation).
    ranges.extend(
        (1..=PER_CONV)
            .filter(|k| k % 4 != 0)
            .map(|k| range(c2, k - 1, k)),
    );
    // c3: every third seq up to 150 alone, then two wider ranges.
    ranges.extend(
        (1..=150)
            .filter(|k| k % 3 == 0)
            .map(|k| range(c3, k - 1, k)),
    );
    ranges.push(range(c3, 160, 175));
    ranges.push(range(c3, 190, PER_CONV + 50));
    let wanted = ranges.len();
    assert!(
        wanted > 200,
        "{wanted} ranges: more than one statement's worth"
    );
    // Ranges that find nothing: empty, inverted, past the end, and in a
    // conversation that does not exist.
    let no_conv = c1.max(c2).max(c3) + 1000;
    let nothing = [
        range(c1, 10, 10),
        range(c2, 20, 5),
        range(c3, PER_CONV, PER_CONV + 100),
        range(no_conv, 0, 100),
        range(c1, -5, 0),
    ];
    // Out of order: reversed, with the empty ones spread among the rest.
    ranges.reverse();
    for (i, r) in nothing.into_iter().enumerate() {
        ranges.insert(i * 61, r);
    }

    let inside = |conv: ConvId, seq: Seq| {
        ranges
            .iter()
            .any(|r| r.conv == conv && r.after < seq && seq <= r.upto)
    };
    let want: Vec<Message> = stored
        .iter()
        .filter(|&(&(conv, seq), _)| inside(conv, seq))
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(want.len(), 100 + 150 + 50 + 15 + 10);
    let got = store.messages_in(&ranges).await.expect("messages_in");
    let keys = |ms: &[Message]| ms.iter().map(|m| (m.conv, m.seq)).collect::<Vec<_>>();
    assert_eq!(
        keys(&got),
        keys(&want),
        "exactly the entries of the ranges, in order"
    );
    assert_eq!(got, want, "the same entries as messages_after");

    // A few ranges, and none.
    let got = store
        .messages_in(&[range(c3, 0, 2), range(c1, 199, 200), range(c2, 5, 5)])
        .await
        .expect("messages_in");
    let mut want = vec![(c1, 200), (c3, 1), (c3, 2)];
    want.sort_unstable();
    assert_eq!(keys(&got), want);
    assert!(
        store
            .messages_in(&[])
            .await
            .expect("messages_in")
            .is_empty()
    );
    assert!(
        store
            .messages_in(&nothing)
            .await
            .expect("messages_in")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------
// Read marks
// ---------------------------------------------------------------------------

async fn mark_read_moves_forward_only_and_clamps(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let mut conv = 0;
    for i in 1..=3 {
        conv = send(store, alice, bob, &format!("a{i}"), "x", T0 + i)
            .await
            .conv;
    }
    send(store, bob, alice, "b1", "x", T0 + 4).await;
    send(store, bob, alice, "b2", "x", T0 + 5).await;
    // Now: last_seq 5, alice read 3 (her own), bob read 5 (his own).

    let mark = |user: UserId, seq: Seq| async move {
        store.mark_read(user, conv, seq).await.expect("mark_read")
    };
    assert_eq!(mark(alice, 4).await, Some(4));
    assert_eq!(mark(alice, 2).await, Some(4), "never backwards");
    assert_eq!(mark(alice, 4).await, Some(4), "same position is a no-op");
    assert_eq!(mark(alice, 0).await, Some(4));
    assert_eq!(mark(alice, -1).await, Some(4));
    assert_eq!(mark(alice, 99).await, Some(5), "clamped to last_seq");
    assert_eq!(mark(alice, Seq::MAX).await, Some(5));
    assert_eq!(
        summary(store, alice, conv).await.read_seq,
        5,
        "the mark is stored"
    );
    assert_eq!(summary(store, bob, conv).await.read_seq, 5);

    // Clamping follows the conversation as it grows.
    send(store, bob, alice, "b3", "x", T0 + 6).await;
    assert_eq!(summary(store, alice, conv).await.read_seq, 5);
    assert_eq!(mark(alice, 100).await, Some(6));

    // Not a member, or no such conversation: None, and nothing changes.
    assert_eq!(mark(carol, 1).await, None);
    assert_eq!(
        store
            .mark_read(alice, conv + 1000, 1)
            .await
            .expect("mark_read"),
        None
    );
    assert!(list(store, carol).await.is_empty());
    assert!(!store.is_member(carol, conv).await.expect("is_member"));
}

/// One batch with new messages and read marks: the marks move after the
/// messages (so a mark may point at a message of the same batch), clamp to
/// the conversation's newest seq, never move back, answer `None` for a
/// non-member, and come back in input order.
async fn commit_batch_with_messages_and_reads(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let dave = user(store, "dave").await;
    let ab = dm(store, alice, bob).await;
    let ac = dm(store, alice, carol).await;
    let ad = dm(store, alice, dave).await;
    send(store, alice, bob, "a1", "x", T0 + 1).await;
    send(store, alice, bob, "a2", "x", T0 + 2).await;
    let no_conv = ab.max(ac).max(ad) + 1000;

    let read = |user, conv, seq| MarkRead { user, conv, seq };
    let batch = WriteBatch {
        messages: vec![
            new_msg(ab, bob, "b1", "x", T0 + 3),
            new_msg(ac, carol, "c1", "x", T0 + 4),
            new_msg(ab, alice, "a3", "x", T0 + 5),
        ],
        reads: vec![
            // Up to alice's message of this very batch.
            read(bob, ab, 4),
            read(carol, ab, 1),
            read(alice, ac, 99),
            read(bob, ab, 1),
            read(alice, no_conv, 1),
            read(dave, ad, 5),
            read(alice, ab, 2),
            read(carol, ac, -1),
        ],
        versions: Vec::new(),
    };
    let committed = store.commit_batch(&batch).await.expect("commit_batch");
    let stored = |a: &Appended| (a.conv, a.seq, a.duplicate);
    assert_eq!(
        committed.appended.iter().map(stored).collect::<Vec<_>>(),
        [(ab, 3, false), (ac, 1, false), (ab, 4, false)]
    );
    assert_eq!(
        committed.reads,
        [
            Some(4),
            None,
            Some(1),
            Some(4),
            None,
            Some(0),
            Some(4),
            Some(1)
        ],
        "per read, in input order: the mark after the batch (clamped, \
         never backwards; the sender's own newest message counts) or None \
         for a non-member"
    );
    assert_eq!(summary(store, bob, ab).await.read_seq, 4);
    assert_eq!(summary(store, alice, ab).await.read_seq, 4);
    assert_eq!(summary(store, alice, ac).await.read_seq, 1);
    assert_eq!(summary(store, carol, ac).await.read_seq, 1);
    assert_eq!(
        store.mark_read(dave, ad, 0).await.expect("mark_read"),
        Some(0)
    );
    assert!(!store.is_member(carol, ab).await.expect("is_member"));
    assert_eq!(
        list(store, carol)
            .await
            .iter()
            .map(|s| s.conv)
            .collect::<Vec<_>>(),
        [ac],
        "a read does not make a member"
    );

    // The same with a resent message among the new ones (the batch is
    // redone one message at a time): the reads are answered alike.
    let committed = store
        .commit_batch(&WriteBatch {
            messages: vec![
                new_msg(ab, alice, "a3", "resent", T0 + 6),
                new_msg(ab, bob, "b2", "x", T0 + 7),
            ],
            reads: vec![read(alice, ab, 6), read(carol, ab, 5), read(bob, ab, 1)],
            versions: Vec::new(),
        })
        .await
        .expect("commit_batch");
    assert_eq!(
        committed.appended.iter().map(stored).collect::<Vec<_>>(),
        [(ab, 4, true), (ab, 5, false)]
    );
    assert_eq!(committed.reads, [Some(5), None, Some(5)]);
    assert_eq!(seqs(&all_messages(store, ab).await), [1, 2, 3, 4, 5]);

    // Reads only, and nothing at all.
    let committed = store
        .commit_batch(&WriteBatch {
            messages: Vec::new(),
            reads: vec![read(carol, ac, 1), read(bob, ac, 1)],
            versions: Vec::new(),
        })
        .await
        .expect("commit_batch");
    assert_eq!(
        committed,
        Committed {
            appended: Vec::new(),
            reads: vec![Some(1), None],
            versions: Vec::new(),
        }
    );
    assert_eq!(
        store
            .commit_batch(&WriteBatch::default())
            .await
            .expect("commit_batch"),
        Committed::default()
    );
}

async fn mark_read_is_per_member(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let mut conv = 0;
    for i in 1..=4 {
        conv = send(store, alice, bob, &format!("a{i}"), "x", T0 + i)
            .await
            .conv;
    }
    assert_eq!(
        store.mark_read(bob, conv, 2).await.expect("mark_read"),
        Some(2)
    );
    assert_eq!(summary(store, bob, conv).await.read_seq, 2);
    assert_eq!(summary(store, alice, conv).await.read_seq, 4);
    assert_eq!(
        store.mark_read(bob, conv, 3).await.expect("mark_read"),
        Some(3)
    );
    assert_eq!(summary(store, bob, conv).await.read_seq, 3);
}

// ---------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------

async fn awkward_bodies_round_trip_exactly(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let ab = dm(store, alice, bob).await;
    // 8 bytes per repetition: 1 + 3 + 4; 8192 of them are exactly 64 KiB.
    let big: String = "a你🐦".repeat(8192);
    assert_eq!(big.len(), 64 * 1024);
    let bodies: Vec<String> = vec![
        "it's".into(),
        "\"double\" and 'single' quotes, `backticks`".into(),
        "Robert'); DROP TABLE messages;--".into(),
        "'; DELETE FROM users WHERE '1'='1".into(),
        "\\' \\\" \\\\ \\n (backslashes)".into(),
        "% _ ? ?1 $1 :name @p (placeholders and wildcards)".into(),
        "line one\nline two\r\n\ttabbed".into(),
        "你好，世界！中文消息".into(),
        "emoji 🐦🔥 family 👨‍👩‍👧 flag 🇳🇿 skin 👍🏽".into(),
        "e\u{301} vs é, عربى, עברית, \u{200b}zero-width".into(),
        " ".into(),
        "x".into(),
        big,
    ];
    let batch: Vec<NewMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| new_msg(ab, alice, &format!("c{i}"), b, T0 + i as i64))
        .collect();
    let out = store.append_batch(&batch).await.expect("append_batch");
    let conv = out[0].conv;
    assert_eq!(conv, ab);

    let stored = all_messages(store, conv).await;
    assert_eq!(stored.len(), bodies.len());
    for (m, b) in stored.iter().zip(&bodies) {
        assert!(
            m.body.as_bytes() == b.as_bytes(),
            "body of seq {} changed",
            m.seq
        );
    }
    let backward = store
        .messages_before(conv, Seq::MAX, ALL)
        .await
        .expect("messages_before");
    assert_eq!(backward, stored);
    let bobs = list(store, bob).await;
    let last = bobs[0]
        .last
        .as_ref()
        .expect("the 64 KiB body as the last message");
    assert_eq!(last.seq, bodies.len() as Seq);
    // 42 whole repetitions are 126 characters; then "a你".
    assert_eq!(
        last.excerpt,
        format!("{}a你", "a你🐦".repeat(42)),
        "its excerpt is its first 128 characters, exactly"
    );
    assert!(last.truncated);
    // Injection attempts did nothing: the users are intact.
    assert!(
        store
            .user_by_name("alice")
            .await
            .expect("user_by_name")
            .is_some()
    );
    assert!(
        store
            .user_by_name("bob")
            .await
            .expect("user_by_name")
            .is_some()
    );
}

async fn awkward_cmids_and_devices_round_trip(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let cmids = [
        "it's \"quoted\"",
        "'); DROP TABLE messages;--",
        "消息-🐦-1",
        &"z".repeat(64),
    ];
    for (i, cmid) in cmids.iter().enumerate() {
        let first = send(store, alice, bob, cmid, "x", T0 + i as i64).await;
        assert!(!first.duplicate);
        let again = send(store, alice, bob, cmid, "x", T0 + 100).await;
        assert_eq!(
            again,
            Appended {
                duplicate: true,
                ..first
            },
            "{cmid}"
        );
    }
    let conv = store
        .direct_conv(alice, bob)
        .await
        .expect("direct_conv")
        .expect("conversation exists");
    let stored: Vec<String> = all_messages(store, conv)
        .await
        .into_iter()
        .map(|m| m.cmid)
        .collect();
    assert_eq!(stored, cmids);

    let device = "Alice's \"Pixel\" 手机 📱";
    let hash = token_hash(1);
    store
        .create_token(&hash, alice, device, T0, T0 + 1000)
        .await
        .expect("create_token");
    assert_eq!(
        store
            .token(&hash, T0)
            .await
            .expect("token")
            .map(|t| t.device),
        Some(device.to_owned())
    );
    // Token hashes are raw bytes, including zeros and high bytes.
    let raw = [0u8, 0xff, 0x27, 0x22, 0x5c, 0x00, 0x80];
    store
        .create_token(&raw, bob, "raw", T0, T0 + 1000)
        .await
        .expect("create_token");
    assert_eq!(
        store
            .token(&raw, T0)
            .await
            .expect("token")
            .map(|t| t.user_id),
        Some(bob)
    );
    assert_eq!(store.token(&raw[..5], T0).await.expect("token"), None);
}

// ---------------------------------------------------------------------------
// Durability across reopen
// ---------------------------------------------------------------------------

async fn data_survives_reopen<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let hash = token_hash(7);
    store
        .create_token(&hash, alice, "laptop", T0, T0 + 1_000_000)
        .await
        .expect("create_token");
    let ab = dm(store, alice, bob).await;
    let batch: Vec<NewMessage> = (1..=5)
        .map(|i| {
            new_msg(
                ab,
                alice,
                &format!("c{i}"),
                &format!("durable {i} 🐦"),
                T0 + i,
            )
        })
        .collect();
    let acks = store.append_batch(&batch).await.expect("append_batch");
    let conv = acks[0].conv;
    assert_eq!(conv, ab);
    let reply = send(store, bob, alice, "b1", "reply", T0 + 10).await;
    assert_eq!(
        store.mark_read(alice, conv, 6).await.expect("mark_read"),
        Some(6)
    );
    let before_messages = all_messages(store, conv).await;
    let before_alice_list = list(store, alice).await;
    let before_bob_list = list(store, bob).await;
    assert_eq!(before_alice_list.len(), 1);

    let harness = harness.reopen().await;
    let store = harness.store();

    assert_eq!(
        store.user_by_name("alice").await.expect("user_by_name"),
        Some(UserRecord {
            id: alice,
            username: "alice".into(),
            password_hash: hash_for("alice"),
        })
    );
    assert_eq!(
        store.token(&hash, T0).await.expect("token"),
        Some(TokenRecord {
            user_id: alice,
            username: "alice".into(),
            device: "laptop".into(),
            expires_at: T0 + 1_000_000,
        })
    );
    let after_messages = all_messages(store, conv).await;
    assert_eq!(after_messages, before_messages);
    assert_eq!(seqs(&after_messages), [1, 2, 3, 4, 5, 6]);
    assert_eq!(after_messages[5].msg_id, reply.msg_id);
    assert_eq!(list(store, alice).await, before_alice_list);
    assert_eq!(list(store, bob).await, before_bob_list);
    assert_eq!(
        store.members(conv).await.expect("members"),
        [alice.min(bob), alice.max(bob)]
    );
    assert_eq!(summary(store, alice, conv).await.read_seq, 6);
    assert_eq!(
        store.direct_conv(bob, alice).await.expect("direct_conv"),
        Some(conv)
    );
    assert_eq!(dm(store, bob, alice).await, conv, "opening again finds it");
    assert!(store.is_member(bob, conv).await.expect("is_member"));

    // Idempotency and seq allocation carry on across the restart.
    let retry = send(store, alice, bob, "c3", "durable 3 🐦", T0 + 99).await;
    assert_eq!(
        retry,
        Appended {
            duplicate: true,
            ..acks[2]
        }
    );
    let next = send(store, alice, bob, "c7", "after restart", T0 + 100).await;
    assert_eq!((next.conv, next.seq, next.duplicate), (conv, 7, false));
    assert!(
        store.create_user("bob", "h", T0).await.is_err(),
        "usernames stay taken"
    );

    harness.close().await;
}

async fn every_write_kind_survives_reopen<H: Harness>(harness: H) {
    // Revocations, purges and read marks are writes too.
    let store = harness.store();
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let (revoked, expired, kept) = (token_hash(1), token_hash(2), token_hash(3));
    for (hash, expires) in [(&revoked, T0 + 500), (&expired, T0 + 10), (&kept, T0 + 500)] {
        store
            .create_token(hash, alice, "d", T0, expires)
            .await
            .expect("create_token");
    }
    store.revoke_token(&revoked).await.expect("revoke_token");
    assert_eq!(store.purge_expired_tokens(T0 + 10).await.expect("purge"), 1);
    let mut conv = 0;
    for i in 1..=3 {
        conv = send(store, alice, bob, &format!("a{i}"), "x", T0 + i)
            .await
            .conv;
    }
    assert_eq!(
        store.mark_read(bob, conv, 2).await.expect("mark_read"),
        Some(2)
    );

    let harness = harness.reopen().await;
    let store = harness.store();
    assert_eq!(store.token(&revoked, T0).await.expect("token"), None);
    assert_eq!(store.token(&expired, T0).await.expect("token"), None);
    assert!(store.token(&kept, T0).await.expect("token").is_some());
    assert_eq!(summary(store, bob, conv).await.read_seq, 2);
    assert_eq!(summary(store, alice, conv).await.read_seq, 3);
    harness.close().await;
}

// ---------------------------------------------------------------------------
// The suite, per backend
// ---------------------------------------------------------------------------

common::contract_suite! {
    store: [
        create_user_and_look_it_up,
        create_user_rejects_a_taken_name,
        usernames_with_every_allowed_character,
        token_create_and_lookup,
        expired_token_is_not_returned,
        revoke_token_removes_only_that_session,
        purge_expired_tokens_counts_and_keeps_valid_ones,
        live_tokens_reports_only_unexpired_unrevoked_ones,
        trim_tokens_keeps_the_newest,
        append_empty_batch,
        append_assigns_gapless_seqs,
        conversations_have_independent_seqs,
        reply_lands_in_the_same_conversation,
        resend_in_a_later_batch_is_a_duplicate,
        duplicate_within_one_batch,
        resend_inside_a_batch_of_new_messages,
        batch_larger_than_one_statement,
        cmid_is_scoped_per_sender,
        cmid_comparison_is_exact,
        duplicate_cmid_to_another_recipient_returns_the_original,
        failed_batch_stores_nothing,
        concurrent_appends_stay_gapless,
        sender_read_mark_moves_to_its_own_message,
        direct_conv_is_symmetric,
        is_member_only_for_participants,
        positions_list_every_conversation,
        conversation_list_shows_peer_last_message_and_marks,
        conversation_list_pages_by_cursor,
        conversation_list_shows_an_excerpt_of_the_last_message,
        members_of_a_direct_conversation,
        messages_after_pages_forward,
        messages_before_pages_backward,
        messages_in_reads_many_ranges_at_once,
        mark_read_moves_forward_only_and_clamps,
        commit_batch_with_messages_and_reads,
        mark_read_is_per_member,
        awkward_bodies_round_trip_exactly,
        awkward_cmids_and_devices_round_trip,
    ],
    harness: [
        data_survives_reopen,
        every_write_kind_survives_reopen,
        several_nodes_share_one_conversation_without_gaps,
        open_direct_is_the_same_from_every_node,
    ],
}

/// `open_direct` from two nodes: the pair's one conversation whichever
/// node asks, which way round, and in which order, also when both create
/// it at the same moment.
async fn open_direct_is_the_same_from_every_node<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let dave = user(store, "dave").await;
    let other = harness.another_node().await;

    // Opened here, found there (that node has nothing cached).
    let ab = dm(store, alice, bob).await;
    assert_eq!(open_direct_retrying(&other, bob, alice).await, ab);
    assert_eq!(open_direct_retrying(&other, alice, bob).await, ab);
    // Opened there, found here.
    let cb = open_direct_retrying(&other, carol, bob).await;
    assert_ne!(cb, ab);
    assert_eq!(
        store.direct_conv(bob, carol).await.expect("direct_conv"),
        Some(cb)
    );
    assert_eq!(dm(store, bob, carol).await, cb);
    assert_eq!(dm(store, carol, bob).await, cb);
    assert_eq!(
        store.members(cb).await.expect("members"),
        [bob.min(carol), bob.max(carol)]
    );

    // Both nodes at once, from opposite ends, for a new pair.
    let third = harness.another_node().await;
    let (x, y, z) = tokio::join!(
        open_direct_retrying(&other, alice, dave),
        open_direct_retrying(&third, dave, alice),
        open_direct_retrying(&other, dave, alice),
    );
    assert_eq!((x, y), (z, z), "one conversation for the pair");
    assert_eq!(dm(store, alice, dave).await, z);
    assert_eq!(
        store.members(z).await.expect("members"),
        [alice.min(dave), alice.max(dave)]
    );
    let mut want = vec![direct_position(ab, 0), direct_position(z, 0)];
    want.sort_unstable_by_key(|p| p.conv);
    assert_eq!(
        store.positions(alice).await.expect("positions"),
        want,
        "alice is in exactly two conversations"
    );
    assert_eq!(
        store.positions(dave).await.expect("positions"),
        [direct_position(z, 0)]
    );

    // A message stored through one node is in the conversation the other
    // one opened.
    let sent = other
        .append_batch(&[new_msg(z, dave, "d1", "hi", T0 + 1)])
        .await
        .expect("append_batch");
    assert_eq!((sent[0].conv, sent[0].seq), (z, 1));
    assert_eq!(seqs(&all_messages(store, z).await), [1]);

    other.close().await;
    third.close().await;
    harness.close().await;
}

/// `open_direct` on `store`, retrying transient failures (two nodes
/// racing to create the same conversation may be told to try again).
async fn open_direct_retrying(store: &SqlStore, a: UserId, b: UserId) -> ConvId {
    let mut retries = 0;
    loop {
        match store.open_direct(a, b, T0).await {
            Ok(conv) => return conv,
            Err(StoreError::Unavailable(_)) if retries < 100 => {
                retries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(e) => panic!("open_direct({a}, {b}): {e}"),
        }
    }
}

/// Several nodes (separate stores on one database) open the same
/// conversations at once, then write into them at once, in batches that
/// touch two conversations in different orders. They all get the same
/// conversations; every message gets exactly one seq, with no gaps, and
/// no batch deadlocks for good: a transient failure is retried with the
/// same cmids, as the server's clients do.
async fn several_nodes_share_one_conversation_without_gaps<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    const NODES: usize = 3;
    const BATCHES: usize = 15;
    let mut tasks = Vec::new();
    for node in 0..NODES {
        let other = harness.another_node().await;
        tasks.push(tokio::spawn(async move {
            // Each node opens the pairs itself, from either end.
            let (ab, ac) = if node % 2 == 0 {
                (
                    open_direct_retrying(&other, alice, bob).await,
                    open_direct_retrying(&other, alice, carol).await,
                )
            } else {
                (
                    open_direct_retrying(&other, bob, alice).await,
                    open_direct_retrying(&other, carol, alice).await,
                )
            };
            let mut acks = Vec::new();
            let mut retries = 0;
            for b in 0..BATCHES {
                let mut batch = vec![
                    new_msg(
                        ab,
                        alice,
                        &format!("n{node}b{b}m0"),
                        "to bob",
                        T0 + b as i64,
                    ),
                    new_msg(
                        ab,
                        bob,
                        &format!("n{node}b{b}m1"),
                        "to alice",
                        T0 + b as i64,
                    ),
                    new_msg(
                        ac,
                        alice,
                        &format!("n{node}b{b}m2"),
                        "to carol",
                        T0 + b as i64,
                    ),
                ];
                if node % 2 == 1 {
                    batch.reverse();
                }
                let appended = loop {
                    match other.append_batch(&batch).await {
                        Ok(appended) => break appended,
                        Err(StoreError::Unavailable(_)) if retries < 100 => {
                            retries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                        Err(e) => panic!("node {node} batch {b}: {e}"),
                    }
                };
                acks.extend(batch.into_iter().zip(appended));
            }
            other.close().await;
            ((ab, ac), acks)
        }));
    }
    let mut opened = BTreeSet::new();
    let mut acks = Vec::new();
    for task in tasks {
        let (convs, node_acks) = task.await.expect("node task");
        opened.insert(convs);
        acks.extend(node_acks);
    }
    assert_eq!(acks.len(), NODES * BATCHES * 3);
    assert!(acks.iter().all(|(_, a)| !a.duplicate));
    assert!(acks.iter().all(|(m, a)| a.conv == m.conv));
    let ab = store
        .direct_conv(alice, bob)
        .await
        .expect("direct_conv")
        .expect("a-b conv");
    let ac = store
        .direct_conv(alice, carol)
        .await
        .expect("direct_conv")
        .expect("a-c conv");
    assert_ne!(ab, ac);
    assert_eq!(
        opened,
        BTreeSet::from([(ab, ac)]),
        "every node opened the same two conversations"
    );
    assert_eq!(
        store.positions(alice).await.expect("positions").len(),
        2,
        "and no others"
    );
    for (conv, expected) in [(ab, NODES * BATCHES * 2), (ac, NODES * BATCHES)] {
        let stored = all_messages(store, conv).await;
        assert_eq!(
            seqs(&stored),
            (1..=expected as i64).collect::<Vec<_>>(),
            "conv {conv}"
        );
        let cmids: BTreeSet<&str> = stored.iter().map(|m| m.cmid.as_str()).collect();
        assert_eq!(
            cmids.len(),
            expected,
            "each cmid stored once in conv {conv}"
        );
        // Every ack names the seq its message really got.
        for (msg, ack) in acks.iter().filter(|(_, a)| a.conv == conv) {
            let at = stored
                .iter()
                .find(|m| m.seq == ack.seq)
                .expect("acked seq stored");
            assert_eq!(at.cmid, msg.cmid);
        }
    }
    harness.close().await;
}
