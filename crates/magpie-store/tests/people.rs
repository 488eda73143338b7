//! The people area's contract ([`PeopleStore`] and [`ChangeStore`]), as one
//! suite every backend must pass: profiles, search, friend requests,
//! friends and categories, blocks, the change stream, and the races that
//! the graph's locking exists for.
//!
//! As in tests/store.rs, every test starts from an empty store, so ids,
//! seqs and lists are asserted exactly, and the `people_suite!` macro at
//! the bottom instantiates the suite for one backend. Every change a test
//! makes is checked twice: as the `written` its call returned, and on the
//! streams of the users it concerns (and of nobody else), which must stay
//! gapless from 1.
//!
//! [`PeopleStore`]: magpie_store::PeopleStore
//! [`ChangeStore`]: magpie_store::ChangeStore

use magpie_proto::limits::{CATEGORIES_MAX, OUTGOING_REQUESTS_MAX};
use magpie_proto::{
    Category, CategoryId, CategoryRef, Change, ChangeEvent, Friend, Gender, PendingRequest,
    Profile, RequestClosed, RequestOutcome, RequestStatus, UserCard, UserId,
};
use magpie_store::{
    ChangePage, PeopleStore, ProfileFields, Refusal, Relation, SqlStore, Store, StoreError,
    UserQuery, Written,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

mod common;
use common::{Harness, T0, user};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A fetch-everything limit for lists and streams.
const ALL: u32 = 10_000;

/// How many times each race runs (each time between new users).
const ROUNDS: usize = 10;

/// A test user: id and username.
#[derive(Debug, Clone)]
struct Who {
    id: UserId,
    name: String,
}

impl Who {
    /// Their card while they have no nickname or avatar.
    fn card(&self) -> UserCard {
        self.card_as("", "")
    }

    fn card_as(&self, nickname: &str, avatar: &str) -> UserCard {
        UserCard {
            user_id: self.id,
            user: self.name.clone(),
            nickname: nickname.into(),
            avatar: avatar.into(),
        }
    }

    /// Their profile while they have set none.
    fn blank_profile(&self) -> Profile {
        Profile {
            user_id: self.id,
            user: self.name.clone(),
            nickname: String::new(),
            avatar: String::new(),
            signature: String::new(),
            gender: Gender::Unspecified,
            birthday: None,
            phone: None,
            email: None,
            updated_at: 0,
        }
    }
}

async fn who(store: &dyn Store, name: &str) -> Who {
    Who {
        id: user(store, name).await,
        name: name.into(),
    }
}

/// `who` as a friend, as the other side of the friendship sees them.
fn friend(who: &Who, remark: &str, category: Option<CategoryId>, since: i64) -> Friend {
    friend_with(who.card(), remark, category, since)
}

fn friend_with(card: UserCard, remark: &str, category: Option<CategoryId>, since: i64) -> Friend {
    Friend {
        user: card,
        remark: remark.into(),
        category,
        since,
        presence: None,
    }
}

fn pending(from: &Who, to: &Who, note: &str, ts: i64) -> PendingRequest {
    PendingRequest {
        from: from.card(),
        to: to.card(),
        note: note.into(),
        ts,
    }
}

fn closed(from: &Who, to: &Who, outcome: RequestOutcome) -> ChangeEvent {
    ChangeEvent::FriendRequestClosed(RequestClosed {
        from: from.card(),
        to: to.card(),
        outcome,
    })
}

/// The refusal `result` must be.
fn refusal<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Refusal {
    match result {
        Err(StoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// `user`'s whole change stream, checked gapless from 1 up to its head.
async fn stream(store: &dyn Store, user: UserId) -> Vec<Change> {
    let page = store.changes(user, 0, ALL).await.expect("changes");
    assert!(!page.reset, "user {user}: reading from 0 never resets");
    let seqs: Vec<i64> = page.changes.iter().map(|c| c.seq).collect();
    let gapless: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, gapless, "user {user}'s stream is gapless from 1");
    assert_eq!(page.head, seqs.len() as i64, "user {user}'s head");
    page.changes
}

/// The events of `user`'s whole stream (checked gapless).
async fn events(store: &dyn Store, user: UserId) -> Vec<ChangeEvent> {
    stream(store, user)
        .await
        .into_iter()
        .map(|c| c.event)
        .collect()
}

/// The heads of several users' streams, to show that they did not move.
async fn heads(store: &dyn Store, users: &[&Who]) -> Vec<i64> {
    let mut out = Vec::new();
    for who in users {
        out.push(stream(store, who.id).await.len() as i64);
    }
    out
}

/// What a graph change wrote is exactly `want`: for each user named there
/// the same changes in the same order, for nobody else anything; each
/// stamped `now`; and each the newest on that user's stream, as stored.
async fn check_written(
    store: &dyn Store,
    written: &[Written],
    now: i64,
    want: Vec<(UserId, ChangeEvent)>,
) {
    let mut got: BTreeMap<UserId, Vec<Change>> = BTreeMap::new();
    for w in written {
        got.entry(w.user).or_default().push(w.change.clone());
    }
    let mut wanted: BTreeMap<UserId, Vec<ChangeEvent>> = BTreeMap::new();
    for (user, event) in want {
        wanted.entry(user).or_default().push(event);
    }
    let got_events: BTreeMap<UserId, Vec<ChangeEvent>> = got
        .iter()
        .map(|(u, cs)| (*u, cs.iter().map(|c| c.event.clone()).collect()))
        .collect();
    assert_eq!(got_events, wanted, "changes written, per user");
    for (user, changes) in got {
        assert!(changes.iter().all(|c| c.ts == now), "stamped {now}");
        let stored = stream(store, user).await;
        assert!(stored.len() >= changes.len());
        assert_eq!(
            stored[stored.len() - changes.len()..],
            changes[..],
            "user {user}'s newest changes are the ones written"
        );
    }
}

/// Every change in `written` is on its user's stream at its seq, as
/// returned (for races, where which change is newest is not known).
async fn check_stored(store: &dyn Store, written: &[Written]) {
    for w in written {
        let stored = stream(store, w.user).await;
        let at = usize::try_from(w.change.seq - 1).expect("seq from 1");
        assert_eq!(stored.get(at), Some(&w.change), "user {}", w.user);
    }
}

/// `from` asks `to`, who accepts: friends since `now`.
async fn befriend(store: &dyn Store, from: &Who, to: &Who, now: i64) {
    let asked = store
        .request_friend(from.id, to.id, "", now)
        .await
        .expect("request_friend");
    assert_eq!(asked.value, RequestStatus::Pending);
    store
        .answer_request(to.id, from.id, true, now)
        .await
        .expect("accept");
}

async fn set_nickname(store: &dyn Store, who: &Who, nickname: &str) {
    let fields = ProfileFields {
        nickname: nickname.into(),
        ..ProfileFields::default()
    };
    store
        .set_profile(who.id, &fields, T0)
        .await
        .expect("set_profile");
}

async fn friends(store: &dyn Store, who: &Who) -> Vec<Friend> {
    store.friends(who.id, 0, ALL).await.expect("friends")
}

async fn requests(store: &dyn Store, who: &Who) -> (Vec<PendingRequest>, Vec<PendingRequest>) {
    store
        .friend_requests(who.id, ALL)
        .await
        .expect("friend_requests")
}

async fn relation(store: &dyn Store, a: &Who, b: &Who) -> Relation {
    store.relation(a.id, b.id).await.expect("relation")
}

/// No requests either way, no friendship.
const NO_REQUESTS: (Vec<PendingRequest>, Vec<PendingRequest>) = (Vec::new(), Vec::new());

/// The ids `searcher` finds with `query`, all of them.
async fn search(store: &dyn Store, searcher: &Who, query: UserQuery) -> Vec<UserId> {
    store
        .search_users(searcher.id, &query, 0, ALL)
        .await
        .expect("search_users")
        .into_iter()
        .map(|c| c.user_id)
        .collect()
}

/// No users (an empty list of ids, typed).
const NONE: [UserId; 0] = [];

fn text(q: &str) -> UserQuery {
    UserQuery::Text(q.into())
}

// ---------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------

async fn a_new_user_has_the_default_profile(store: &dyn Store) {
    let alice = who(store, "alice").await;
    assert_eq!(
        store.profile(alice.id).await.expect("profile"),
        Some(alice.blank_profile())
    );
    assert_eq!(stream(store, alice.id).await, []);
}

async fn profile_of_an_unknown_user_is_none(store: &dyn Store) {
    let alice = who(store, "alice").await;
    assert_eq!(store.profile(alice.id + 1).await.expect("profile"), None);
    assert_eq!(store.profile(0).await.expect("profile"), None);
    let fields = ProfileFields {
        nickname: "ghost".into(),
        ..ProfileFields::default()
    };
    assert_eq!(
        refusal(store.set_profile(alice.id + 1, &fields, T0).await),
        Refusal::UnknownUser
    );
    assert_eq!(store.profile(alice.id + 1).await.expect("profile"), None);
}

async fn set_profile_round_trips_every_field(store: &dyn Store) {
    let bob = who(store, "bob").await;
    let fields = ProfileFields {
        nickname: "王小明 🐦".into(),
        avatar: "https://img.example.com/头像.png?a=1&b=%20".into(),
        signature: "好好学习，天天向上 ✨ \"q\" 'q' \\ % _ !".into(),
        gender: Gender::Female,
        birthday: Some("1990-02-28".into()),
        phone: Some("+8613800138000".into()),
        email: Some("xiaoming@example.com".into()),
    };
    let want = Profile {
        user_id: bob.id,
        user: "bob".into(),
        nickname: fields.nickname.clone(),
        avatar: fields.avatar.clone(),
        signature: fields.signature.clone(),
        gender: Gender::Female,
        birthday: Some("1990-02-28".into()),
        phone: Some("+8613800138000".into()),
        email: Some("xiaoming@example.com".into()),
        updated_at: T0 + 1,
    };
    let out = store
        .set_profile(bob.id, &fields, T0 + 1)
        .await
        .expect("set_profile");
    assert_eq!(out.value, want);
    check_written(
        store,
        &out.written,
        T0 + 1,
        vec![(bob.id, ChangeEvent::Profile(want.clone()))],
    )
    .await;
    assert_eq!(store.profile(bob.id).await.expect("profile"), Some(want));

    // Every other gender; the optional fields cleared (NULL again), the
    // text fields emptied.
    for (i, gender) in [Gender::Male, Gender::Other, Gender::Unspecified]
        .into_iter()
        .enumerate()
    {
        let now = T0 + 2 + i as i64;
        let fields = ProfileFields {
            nickname: "Bob".into(),
            gender,
            ..ProfileFields::default()
        };
        let want = Profile {
            nickname: "Bob".into(),
            gender,
            updated_at: now,
            ..bob.blank_profile()
        };
        let out = store
            .set_profile(bob.id, &fields, now)
            .await
            .expect("set_profile");
        assert_eq!(out.value, want);
        check_written(
            store,
            &out.written,
            now,
            vec![(bob.id, ChangeEvent::Profile(want.clone()))],
        )
        .await;
        assert_eq!(store.profile(bob.id).await.expect("profile"), Some(want));
    }
    assert_eq!(stream(store, bob.id).await.len(), 4);
}

/// A profile change goes to the user and each friend, and to nobody else:
/// not to someone with a pending request either way, not to a blocked
/// user, not to a stranger. Cards elsewhere show the new nickname.
async fn set_profile_tells_the_user_and_each_friend(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    let dave = who(store, "dave").await;
    let erin = who(store, "erin").await;
    let gil = who(store, "gil").await;
    let hal = who(store, "hal").await;
    befriend(store, &alice, &bob, T0 + 1).await;
    befriend(store, &carol, &alice, T0 + 2).await;
    store
        .request_friend(alice.id, dave.id, "hi dave", T0 + 3)
        .await
        .expect("request_friend");
    store.block(alice.id, erin.id, T0 + 4).await.expect("block");
    store
        .request_friend(gil.id, alice.id, "hi alice", T0 + 5)
        .await
        .expect("request_friend");
    let bystanders = [&dave, &erin, &gil, &hal];
    let before = heads(store, &bystanders).await;

    let fields = ProfileFields {
        nickname: "Alice 🌸".into(),
        avatar: "a.png".into(),
        ..ProfileFields::default()
    };
    let out = store
        .set_profile(alice.id, &fields, T0 + 10)
        .await
        .expect("set_profile");
    let want = Profile {
        nickname: "Alice 🌸".into(),
        avatar: "a.png".into(),
        updated_at: T0 + 10,
        ..alice.blank_profile()
    };
    assert_eq!(out.value, want);
    let event = ChangeEvent::Profile(want);
    check_written(
        store,
        &out.written,
        T0 + 10,
        vec![
            (alice.id, event.clone()),
            (bob.id, event.clone()),
            (carol.id, event),
        ],
    )
    .await;
    assert_eq!(heads(store, &bystanders).await, before, "nobody else");

    let card = alice.card_as("Alice 🌸", "a.png");
    assert_eq!(
        friends(store, &bob).await,
        [friend_with(card.clone(), "", None, T0 + 1)]
    );
    let (incoming, _) = requests(store, &dave).await;
    assert_eq!(incoming[0].from, card);
    let (_, outgoing) = requests(store, &gil).await;
    assert_eq!(outgoing[0].to, card);
}

// ---------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------

async fn search_matches_username_prefixes(store: &dyn Store) {
    let zed = who(store, "zed").await;
    let alice = who(store, "alice").await;
    let alicia = who(store, "alicia").await;
    let _bob = who(store, "bob").await;
    let _malice = who(store, "malice").await;
    assert_eq!(
        search(store, &zed, text("ali")).await,
        [alice.id, alicia.id]
    );
    assert_eq!(
        search(store, &zed, text("ALIC")).await,
        [alice.id, alicia.id]
    );
    assert_eq!(search(store, &zed, text("alici")).await, [alicia.id]);
    assert_eq!(search(store, &zed, text("lice")).await, NONE, "prefix only");
    // The cards are whole.
    set_nickname(store, &alicia, "Ali 🐈").await;
    assert_eq!(
        store
            .search_users(zed.id, &text("alici"), 0, ALL)
            .await
            .expect("search_users"),
        [alicia.card_as("Ali 🐈", "")]
    );
}

async fn search_matches_chinese_nickname_substrings(store: &dyn Store) {
    let zed = who(store, "zed").await;
    let a = who(store, "wang").await;
    let b = who(store, "tongxue").await;
    let c = who(store, "li").await;
    set_nickname(store, &a, "王小明").await;
    set_nickname(store, &b, "小明同学").await;
    set_nickname(store, &c, "李小红").await;
    assert_eq!(search(store, &zed, text("小明")).await, [a.id, b.id]);
    assert_eq!(search(store, &zed, text("王")).await, [a.id]);
    assert_eq!(search(store, &zed, text("明同")).await, [b.id]);
    assert_eq!(search(store, &zed, text("小")).await, [a.id, b.id, c.id]);
    assert_eq!(search(store, &zed, text("小明红")).await, NONE);
}

async fn search_ignores_the_case_of_nicknames(store: &dyn Store) {
    let zed = who(store, "zed").await;
    let bobby = who(store, "bobby").await;
    let ecole = who(store, "ecole").await;
    set_nickname(store, &bobby, "Bobby TABLES").await;
    set_nickname(store, &ecole, "ÉCOLE Été").await;
    assert_eq!(search(store, &zed, text("by tab")).await, [bobby.id]);
    assert_eq!(search(store, &zed, text("TABLES")).await, [bobby.id]);
    assert_eq!(search(store, &zed, text("bObBy")).await, [bobby.id]);
    assert_eq!(search(store, &zed, text("école été")).await, [ecole.id]);
    assert_eq!(search(store, &zed, text("ÉCOLE ÉTÉ")).await, [ecole.id]);
}

/// A phone query matches phones exactly and usernames by prefix.
async fn search_matches_phones_exactly(store: &dyn Store) {
    let zed = who(store, "zed").await;
    let intl = who(store, "intl").await;
    let local = who(store, "local").await;
    let fan = who(store, "1380fan").await;
    for (w, phone) in [(&intl, "+8613800138000"), (&local, "13800138000")] {
        let fields = ProfileFields {
            phone: Some(phone.into()),
            ..ProfileFields::default()
        };
        store
            .set_profile(w.id, &fields, T0)
            .await
            .expect("set_profile");
    }
    let phone = |p: &str| UserQuery::Phone(p.into());
    assert_eq!(search(store, &zed, phone("13800138000")).await, [local.id]);
    assert_eq!(
        search(store, &zed, phone("+8613800138000")).await,
        [intl.id]
    );
    assert_eq!(search(store, &zed, phone("1380013800")).await, NONE);
    assert_eq!(search(store, &zed, phone("1380")).await, [fan.id]);
    assert_eq!(search(store, &zed, phone("13800")).await, NONE);
}

async fn search_matches_emails_exactly(store: &dyn Store) {
    let zed = who(store, "zed").await;
    let emma = who(store, "emma").await;
    let emcn = who(store, "emcn").await;
    for (w, email) in [
        (&emma, "xiaoming@example.com"),
        (&emcn, "xiaoming@example.com.cn"),
    ] {
        let fields = ProfileFields {
            email: Some(email.into()),
            ..ProfileFields::default()
        };
        store
            .set_profile(w.id, &fields, T0)
            .await
            .expect("set_profile");
    }
    let email = |e: &str| UserQuery::Email(e.into());
    assert_eq!(
        search(store, &zed, email("xiaoming@example.com")).await,
        [emma.id]
    );
    assert_eq!(
        search(store, &zed, email("xiaoming@example.com.cn")).await,
        [emcn.id]
    );
    assert_eq!(search(store, &zed, email("xiaoming@example")).await, NONE);
    assert_eq!(search(store, &zed, email("@example.com")).await, NONE);
    assert_eq!(search(store, &zed, email("%@example.com")).await, NONE);
    assert_eq!(
        search(store, &zed, text("xiaoming")).await,
        NONE,
        "not text"
    );
}

/// `%`, `_`, `!` (the escape character) and `\` in a query are plain
/// characters.
async fn search_takes_like_metacharacters_literally(store: &dyn Store) {
    let zed = who(store, "zed").await;
    let under = who(store, "a_cd").await;
    let plain = who(store, "abcd").await;
    let pct = who(store, "pct").await;
    let nopct = who(store, "nopct").await;
    let bang = who(store, "bang").await;
    let nobang = who(store, "nobang").await;
    let slash = who(store, "slash").await;
    set_nickname(store, &pct, "100% real").await;
    set_nickname(store, &nopct, "100 real").await;
    set_nickname(store, &bang, "wow!").await;
    set_nickname(store, &nobang, "wow").await;
    set_nickname(store, &slash, r"C:\temp").await;
    assert_eq!(search(store, &zed, text("a_")).await, [under.id]);
    assert_eq!(
        search(store, &zed, text("_")).await,
        NONE,
        "no username starts with _"
    );
    assert_eq!(search(store, &zed, text("ab")).await, [plain.id]);
    assert_eq!(search(store, &zed, text("0%")).await, [pct.id]);
    assert_eq!(search(store, &zed, text("%")).await, [pct.id]);
    assert_eq!(search(store, &zed, text("%r")).await, NONE);
    assert_eq!(search(store, &zed, text("w!")).await, [bang.id]);
    assert_eq!(search(store, &zed, text("!")).await, [bang.id]);
    assert_eq!(search(store, &zed, text("!%")).await, NONE);
    assert_eq!(search(store, &zed, text(r"\t")).await, [slash.id]);
    assert_eq!(search(store, &zed, text(r"\")).await, [slash.id]);
    assert_eq!(
        search(store, &zed, UserQuery::Phone("_".into())).await,
        NONE
    );
    assert_eq!(
        search(store, &zed, UserQuery::Phone("%".into())).await,
        NONE
    );
}

async fn search_pages_by_after(store: &dyn Store) {
    let zed = who(store, "zed").await;
    let mut sams = Vec::new();
    for i in 1..=5 {
        sams.push(who(store, &format!("sam{i}")).await.id);
    }
    let page = |after: UserId| async move {
        store
            .search_users(zed.id, &text("sam"), after, 2)
            .await
            .expect("search_users")
            .into_iter()
            .map(|c| c.user_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(0).await, sams[0..2]);
    assert_eq!(page(sams[1]).await, sams[2..4]);
    assert_eq!(page(sams[3]).await, sams[4..5]);
    assert_eq!(page(sams[4]).await, NONE);
    // `after` need not be a result.
    assert_eq!(page(sams[0] - 1).await, sams[0..2]);
    assert_eq!(page(zed.id).await, sams[0..2], "zed was created first");
}

/// Never the searcher; never anyone who blocked the searcher (blocking
/// someone does not hide them from one's own search).
async fn search_leaves_out_the_searcher_and_whoever_blocked_them(store: &dyn Store) {
    let me = who(store, "sam0").await;
    let s1 = who(store, "sam1").await;
    let s2 = who(store, "sam2").await;
    let s3 = who(store, "sam3").await;
    set_nickname(store, &s1, "sam0 fan").await;
    assert_eq!(search(store, &me, text("sam")).await, [s1.id, s2.id, s3.id]);
    assert_eq!(search(store, &me, text("sam0")).await, [s1.id]);
    store.block(s2.id, me.id, T0).await.expect("block");
    store.block(me.id, s3.id, T0).await.expect("block");
    assert_eq!(search(store, &me, text("sam")).await, [s1.id, s3.id]);
    assert_eq!(search(store, &s3, text("sam")).await, [s1.id, s2.id]);
    assert_eq!(search(store, &s1, text("sam")).await, [me.id, s2.id, s3.id]);
    store.unblock(s2.id, me.id, T0).await.expect("unblock");
    assert_eq!(search(store, &me, text("sam")).await, [s1.id, s2.id, s3.id]);
}

// ---------------------------------------------------------------------------
// Friend requests
// ---------------------------------------------------------------------------

/// A new request is pending and both sides hear of it, with cards that
/// show profiles.
async fn a_request_is_pending_and_told_to_both(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    set_nickname(store, &bob, "Bob 🐦").await;
    let out = store
        .request_friend(alice.id, bob.id, "你好 👋", T0 + 1)
        .await
        .expect("request_friend");
    assert_eq!(out.value, RequestStatus::Pending);
    let request = PendingRequest {
        to: bob.card_as("Bob 🐦", ""),
        ..pending(&alice, &bob, "你好 👋", T0 + 1)
    };
    let event = ChangeEvent::FriendRequest(request.clone());
    check_written(
        store,
        &out.written,
        T0 + 1,
        vec![(alice.id, event.clone()), (bob.id, event)],
    )
    .await;
    assert_eq!(
        requests(store, &alice).await,
        (vec![], vec![request.clone()])
    );
    assert_eq!(requests(store, &bob).await, (vec![request], vec![]));
    assert_eq!(requests(store, &carol).await, NO_REQUESTS);
    assert_eq!(stream(store, carol.id).await, []);
    assert_eq!(relation(store, &alice, &bob).await, Relation::default());
    assert_eq!(friends(store, &alice).await, []);
}

/// Asking again updates the note and time of the one pending request,
/// and tells both again.
async fn a_repeated_request_updates_the_pending_one(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store
        .request_friend(alice.id, bob.id, "hi", T0 + 1)
        .await
        .expect("request_friend");
    let out = store
        .request_friend(alice.id, bob.id, "hi again", T0 + 2)
        .await
        .expect("request_friend");
    assert_eq!(out.value, RequestStatus::Pending);
    let request = pending(&alice, &bob, "hi again", T0 + 2);
    let event = ChangeEvent::FriendRequest(request.clone());
    check_written(
        store,
        &out.written,
        T0 + 2,
        vec![(alice.id, event.clone()), (bob.id, event)],
    )
    .await;
    assert_eq!(
        requests(store, &alice).await,
        (vec![], vec![request.clone()])
    );
    assert_eq!(requests(store, &bob).await, (vec![request], vec![]));
    assert_eq!(stream(store, alice.id).await.len(), 2);
}

/// Pending lists are newest first (ties by the other user's id, highest
/// first); `incoming_max` keeps the newest incoming ones only.
async fn request_lists_are_newest_first(store: &dyn Store) {
    let me = who(store, "me").await;
    let a = who(store, "aaa").await;
    let b = who(store, "bbb").await;
    let c = who(store, "ccc").await;
    let d = who(store, "ddd").await;
    let x = who(store, "xxx").await;
    let y = who(store, "yyy").await;
    for (w, now) in [(&b, T0), (&a, T0 + 1), (&c, T0 + 2), (&d, T0 + 2)] {
        store
            .request_friend(w.id, me.id, "in", now)
            .await
            .expect("request_friend");
    }
    for (w, now) in [(&y, T0 + 3), (&x, T0 + 4)] {
        store
            .request_friend(me.id, w.id, "out", now)
            .await
            .expect("request_friend");
    }
    let incoming = vec![
        pending(&d, &me, "in", T0 + 2),
        pending(&c, &me, "in", T0 + 2),
        pending(&a, &me, "in", T0 + 1),
        pending(&b, &me, "in", T0),
    ];
    let outgoing = vec![
        pending(&me, &x, "out", T0 + 4),
        pending(&me, &y, "out", T0 + 3),
    ];
    assert_eq!(
        requests(store, &me).await,
        (incoming.clone(), outgoing.clone())
    );
    assert_eq!(
        store
            .friend_requests(me.id, 2)
            .await
            .expect("friend_requests"),
        (incoming[..2].to_vec(), outgoing.clone())
    );
    assert_eq!(
        store
            .friend_requests(me.id, 0)
            .await
            .expect("friend_requests"),
        (vec![], outgoing)
    );
}

async fn crossed_requests_make_friends(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store
        .request_friend(alice.id, bob.id, "hi bob", T0 + 1)
        .await
        .expect("request_friend");
    let out = store
        .request_friend(bob.id, alice.id, "hi alice", T0 + 2)
        .await
        .expect("request_friend");
    assert_eq!(out.value, RequestStatus::Friends);
    // The request that was pending (alice's) is the one accepted.
    let accepted = closed(&alice, &bob, RequestOutcome::Accepted);
    check_written(
        store,
        &out.written,
        T0 + 2,
        vec![
            (alice.id, accepted.clone()),
            (
                alice.id,
                ChangeEvent::FriendAdded(friend(&bob, "", None, T0 + 2)),
            ),
            (bob.id, accepted),
            (
                bob.id,
                ChangeEvent::FriendAdded(friend(&alice, "", None, T0 + 2)),
            ),
        ],
    )
    .await;
    assert_eq!(
        friends(store, &alice).await,
        [friend(&bob, "", None, T0 + 2)]
    );
    assert_eq!(
        friends(store, &bob).await,
        [friend(&alice, "", None, T0 + 2)]
    );
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(requests(store, &bob).await, NO_REQUESTS);
    let friends_only = Relation {
        friends: true,
        ..Relation::default()
    };
    assert_eq!(relation(store, &alice, &bob).await, friends_only);
    assert_eq!(relation(store, &bob, &alice).await, friends_only);
}

async fn accepting_makes_friends(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    store
        .request_friend(alice.id, bob.id, "hi", T0 + 1)
        .await
        .expect("request_friend");
    store
        .request_friend(carol.id, bob.id, "me too", T0 + 2)
        .await
        .expect("request_friend");
    let out = store
        .answer_request(bob.id, alice.id, true, T0 + 3)
        .await
        .expect("accept");
    let accepted = closed(&alice, &bob, RequestOutcome::Accepted);
    check_written(
        store,
        &out.written,
        T0 + 3,
        vec![
            (alice.id, accepted.clone()),
            (
                alice.id,
                ChangeEvent::FriendAdded(friend(&bob, "", None, T0 + 3)),
            ),
            (bob.id, accepted),
            (
                bob.id,
                ChangeEvent::FriendAdded(friend(&alice, "", None, T0 + 3)),
            ),
        ],
    )
    .await;
    assert_eq!(
        friends(store, &alice).await,
        [friend(&bob, "", None, T0 + 3)]
    );
    assert_eq!(
        friends(store, &bob).await,
        [friend(&alice, "", None, T0 + 3)]
    );
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    // Carol's request is untouched.
    let carols = pending(&carol, &bob, "me too", T0 + 2);
    assert_eq!(requests(store, &bob).await, (vec![carols.clone()], vec![]));
    assert_eq!(requests(store, &carol).await, (vec![], vec![carols]));
    assert_eq!(stream(store, carol.id).await.len(), 1);
    assert!(relation(store, &bob, &alice).await.friends);
    assert!(!relation(store, &bob, &carol).await.friends);
}

async fn rejecting_closes_the_request_for_both(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store
        .request_friend(alice.id, bob.id, "hi", T0 + 1)
        .await
        .expect("request_friend");
    let out = store
        .answer_request(bob.id, alice.id, false, T0 + 2)
        .await
        .expect("reject");
    let rejected = closed(&alice, &bob, RequestOutcome::Rejected);
    check_written(
        store,
        &out.written,
        T0 + 2,
        vec![(alice.id, rejected.clone()), (bob.id, rejected)],
    )
    .await;
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(requests(store, &bob).await, NO_REQUESTS);
    assert_eq!(relation(store, &alice, &bob).await, Relation::default());
    assert_eq!(friends(store, &bob).await, []);
    // Alice may ask again.
    let again = store
        .request_friend(alice.id, bob.id, "please", T0 + 3)
        .await
        .expect("request_friend");
    assert_eq!(again.value, RequestStatus::Pending);
}

async fn cancelling_closes_the_request_for_both(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store
        .request_friend(alice.id, bob.id, "hi", T0 + 1)
        .await
        .expect("request_friend");
    let out = store
        .cancel_request(alice.id, bob.id, T0 + 2)
        .await
        .expect("cancel");
    let cancelled = closed(&alice, &bob, RequestOutcome::Cancelled);
    check_written(
        store,
        &out.written,
        T0 + 2,
        vec![(alice.id, cancelled.clone()), (bob.id, cancelled)],
    )
    .await;
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(requests(store, &bob).await, NO_REQUESTS);
    assert_eq!(
        refusal(store.cancel_request(alice.id, bob.id, T0 + 3).await),
        Refusal::NoSuchRequest
    );
    assert_eq!(
        refusal(store.answer_request(bob.id, alice.id, true, T0 + 3).await),
        Refusal::NoSuchRequest
    );
}

/// Only the addressee answers, only the requester cancels, and only a
/// pending request; a refusal writes nothing.
async fn answering_needs_a_pending_request_to_me(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    store
        .request_friend(alice.id, bob.id, "hi", T0 + 1)
        .await
        .expect("request_friend");
    let everyone = [&alice, &bob, &carol];
    let before = heads(store, &everyone).await;
    for accept in [true, false] {
        // Carol was not asked; alice asked, she was not asked.
        for (me, from) in [(&carol, &alice), (&alice, &bob), (&bob, &carol)] {
            assert_eq!(
                refusal(store.answer_request(me.id, from.id, accept, T0 + 2).await),
                Refusal::NoSuchRequest,
                "{} answering {}",
                me.name,
                from.name
            );
        }
    }
    // Only alice can withdraw it.
    for (me, to) in [(&bob, &alice), (&carol, &bob), (&alice, &carol)] {
        assert_eq!(
            refusal(store.cancel_request(me.id, to.id, T0 + 2).await),
            Refusal::NoSuchRequest
        );
    }
    assert_eq!(
        heads(store, &everyone).await,
        before,
        "refusals write nothing"
    );
    store
        .answer_request(bob.id, alice.id, true, T0 + 3)
        .await
        .expect("accept");
    // Answered: not pending any more.
    for accept in [true, false] {
        assert_eq!(
            refusal(store.answer_request(bob.id, alice.id, accept, T0 + 4).await),
            Refusal::NoSuchRequest
        );
    }
    assert_eq!(
        refusal(store.cancel_request(alice.id, bob.id, T0 + 4).await),
        Refusal::NoSuchRequest
    );
}

async fn a_request_to_a_friend_is_refused(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    befriend(store, &alice, &bob, T0 + 1).await;
    let before = heads(store, &[&alice, &bob]).await;
    for (from, to) in [(&alice, &bob), (&bob, &alice)] {
        assert_eq!(
            refusal(store.request_friend(from.id, to.id, "again?", T0 + 2).await),
            Refusal::AlreadyFriends
        );
    }
    assert_eq!(heads(store, &[&alice, &bob]).await, before);
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
}

/// Every graph change naming a user that does not exist is refused.
async fn graph_changes_with_an_unknown_user_are_refused(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let ghost = alice.id + 1000;
    let unknown = Refusal::UnknownUser;
    assert_eq!(
        refusal(store.request_friend(alice.id, ghost, "", T0).await),
        unknown
    );
    assert_eq!(
        refusal(store.request_friend(ghost, alice.id, "", T0).await),
        unknown
    );
    assert_eq!(
        refusal(store.answer_request(alice.id, ghost, true, T0).await),
        unknown
    );
    assert_eq!(
        refusal(store.cancel_request(alice.id, ghost, T0).await),
        unknown
    );
    assert_eq!(
        refusal(store.remove_friend(alice.id, ghost, T0).await),
        unknown
    );
    assert_eq!(refusal(store.block(alice.id, ghost, T0).await), unknown);
    assert_eq!(refusal(store.unblock(alice.id, ghost, T0).await), unknown);
    assert_eq!(
        refusal(store.create_category(ghost, "x", T0).await),
        unknown
    );
    assert_eq!(
        store.relation(alice.id, ghost).await.expect("relation"),
        Relation::default()
    );
    assert_eq!(stream(store, alice.id).await, []);
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
}

/// At most OUTGOING_REQUESTS_MAX pending requests from one user; a repeat
/// of a pending one is not a new one, and a withdrawn one frees a place.
async fn outgoing_requests_are_limited(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let mut targets = Vec::new();
    for i in 0..=OUTGOING_REQUESTS_MAX {
        targets.push(user(store, &format!("t{i}")).await);
    }
    for (i, to) in targets[..OUTGOING_REQUESTS_MAX].iter().enumerate() {
        let out = store
            .request_friend(alice.id, *to, "hi", T0 + i as i64)
            .await
            .expect("request_friend under the limit");
        assert_eq!(out.value, RequestStatus::Pending);
    }
    let last = targets[OUTGOING_REQUESTS_MAX];
    let head = stream(store, alice.id).await.len();
    assert_eq!(
        refusal(
            store
                .request_friend(alice.id, last, "one more", T0 + 500)
                .await
        ),
        Refusal::LimitReached("pending friend requests")
    );
    assert_eq!(stream(store, alice.id).await.len(), head, "nothing written");
    assert_eq!(stream(store, last).await, []);
    // A repeat is fine; so is an answer to a request made to her.
    store
        .request_friend(alice.id, targets[0], "hi again", T0 + 501)
        .await
        .expect("repeat at the limit");
    store
        .request_friend(last, alice.id, "hi alice", T0 + 502)
        .await
        .expect("request to alice");
    let out = store
        .request_friend(alice.id, last, "crossed", T0 + 503)
        .await
        .expect("crossed request at the limit");
    assert_eq!(out.value, RequestStatus::Friends);
    let extra = user(store, "extra").await;
    assert_eq!(
        refusal(store.request_friend(alice.id, extra, "", T0 + 504).await),
        Refusal::LimitReached("pending friend requests")
    );
    store
        .cancel_request(alice.id, targets[1], T0 + 505)
        .await
        .expect("cancel");
    store
        .request_friend(alice.id, extra, "", T0 + 506)
        .await
        .expect("a place was freed");
    let (_, outgoing) = requests(store, &alice).await;
    assert_eq!(outgoing.len(), OUTGOING_REQUESTS_MAX);
}

// ---------------------------------------------------------------------------
// Friends and categories
// ---------------------------------------------------------------------------

async fn removing_a_friend_ends_both_sides(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    befriend(store, &alice, &bob, T0 + 1).await;
    befriend(store, &alice, &carol, T0 + 2).await;
    let out = store
        .remove_friend(bob.id, alice.id, T0 + 3)
        .await
        .expect("remove_friend");
    check_written(
        store,
        &out.written,
        T0 + 3,
        vec![
            (bob.id, ChangeEvent::FriendRemoved(alice.card())),
            (alice.id, ChangeEvent::FriendRemoved(bob.card())),
        ],
    )
    .await;
    assert_eq!(
        friends(store, &alice).await,
        [friend(&carol, "", None, T0 + 2)]
    );
    assert_eq!(friends(store, &bob).await, []);
    assert_eq!(relation(store, &alice, &bob).await, Relation::default());
    assert_eq!(relation(store, &bob, &alice).await, Relation::default());
    for (me, other) in [(&alice, &bob), (&bob, &alice), (&bob, &carol)] {
        assert_eq!(
            refusal(store.remove_friend(me.id, other.id, T0 + 4).await),
            Refusal::NotFriends
        );
    }
    // Request, accepted, added, removed.
    assert_eq!(stream(store, bob.id).await.len(), 4);
}

async fn friends_page_by_id(store: &dyn Store) {
    let me = who(store, "me").await;
    let mut all = Vec::new();
    for i in 0..5 {
        let f = who(store, &format!("friend{i}")).await;
        befriend(store, &f, &me, T0 + i).await;
        all.push(friend(&f, "", None, T0 + i));
    }
    let page =
        |after: UserId| async move { store.friends(me.id, after, 2).await.expect("friends") };
    assert_eq!(page(0).await, all[0..2]);
    assert_eq!(page(all[1].user.user_id).await, all[2..4]);
    assert_eq!(page(all[3].user.user_id).await, all[4..5]);
    assert_eq!(page(all[4].user.user_id).await, []);
    assert_eq!(friends(store, &me).await, all);
}

async fn set_friend_changes_remark_and_category(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    befriend(store, &alice, &bob, T0 + 1).await;
    let made = store
        .create_category(alice.id, "同学 🎓", T0 + 2)
        .await
        .expect("create_category");
    let cat = made.value.id;
    let bob_head = stream(store, bob.id).await.len();

    let step = |remark: Option<&'static str>, category: Option<Option<CategoryId>>, now: i64| {
        let (alice, bob) = (alice.id, bob.id);
        async move {
            store
                .set_friend(alice, bob, remark, category, now)
                .await
                .expect("set_friend")
        }
    };
    for (remark, category, now, want) in [
        // Both at once.
        (
            Some("小B"),
            Some(Some(cat)),
            T0 + 3,
            friend(&bob, "小B", Some(cat), T0 + 1),
        ),
        // Out of the category, remark kept.
        (None, Some(None), T0 + 4, friend(&bob, "小B", None, T0 + 1)),
        // Back in, remark kept.
        (
            None,
            Some(Some(cat)),
            T0 + 5,
            friend(&bob, "小B", Some(cat), T0 + 1),
        ),
        // Remark cleared, category kept.
        (Some(""), None, T0 + 6, friend(&bob, "", Some(cat), T0 + 1)),
    ] {
        let out = step(remark, category, now).await;
        assert_eq!(out.value, want);
        check_written(
            store,
            &out.written,
            now,
            vec![(alice.id, ChangeEvent::FriendUpdated(want.clone()))],
        )
        .await;
        assert_eq!(friends(store, &alice).await, [want]);
    }
    // Bob's side is his own.
    assert_eq!(
        friends(store, &bob).await,
        [friend(&alice, "", None, T0 + 1)]
    );
    assert_eq!(stream(store, bob.id).await.len(), bob_head);
}

async fn set_friend_refuses_a_stranger_and_another_users_category(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    befriend(store, &alice, &bob, T0 + 1).await;
    let carols = store
        .create_category(carol.id, "carol's", T0 + 2)
        .await
        .expect("create_category")
        .value
        .id;
    let before = heads(store, &[&alice, &bob, &carol]).await;
    assert_eq!(
        refusal(
            store
                .set_friend(alice.id, bob.id, Some("x"), Some(Some(carols)), T0 + 3)
                .await
        ),
        Refusal::UnknownCategory
    );
    assert_eq!(
        refusal(
            store
                .set_friend(alice.id, bob.id, None, Some(Some(carols + 1000)), T0 + 3)
                .await
        ),
        Refusal::UnknownCategory
    );
    assert_eq!(
        refusal(
            store
                .set_friend(alice.id, carol.id, Some("x"), None, T0 + 3)
                .await
        ),
        Refusal::NotFriends
    );
    assert_eq!(heads(store, &[&alice, &bob, &carol]).await, before);
    assert_eq!(
        friends(store, &alice).await,
        [friend(&bob, "", None, T0 + 1)],
        "the refused change left no trace (not even the remark)"
    );
}

async fn categories_are_created_renamed_and_deleted(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    befriend(store, &alice, &bob, T0 + 1).await;
    befriend(store, &alice, &carol, T0 + 1).await;
    let bobs = store
        .create_category(bob.id, "bob's", T0 + 2)
        .await
        .expect("create_category")
        .value;

    let mut made = Vec::new();
    for (i, name) in ["家人", "同事 💼"].into_iter().enumerate() {
        let now = T0 + 3 + i as i64;
        let out = store
            .create_category(alice.id, name, now)
            .await
            .expect("create_category");
        assert_eq!(out.value.name, name);
        check_written(
            store,
            &out.written,
            now,
            vec![(alice.id, ChangeEvent::CategoryUpdated(out.value.clone()))],
        )
        .await;
        made.push(out.value);
    }
    assert!(made[0].id < made[1].id);
    assert_eq!(store.categories(alice.id).await.expect("categories"), made);

    let renamed = Category {
        id: made[0].id,
        name: "亲人".into(),
    };
    let out = store
        .rename_category(alice.id, made[0].id, "亲人", T0 + 5)
        .await
        .expect("rename_category");
    assert_eq!(out.value, renamed);
    check_written(
        store,
        &out.written,
        T0 + 5,
        vec![(alice.id, ChangeEvent::CategoryUpdated(renamed.clone()))],
    )
    .await;
    assert_eq!(
        store.categories(alice.id).await.expect("categories"),
        [renamed.clone(), made[1].clone()]
    );

    let work = made[1].id;
    for f in [&bob, &carol] {
        store
            .set_friend(alice.id, f.id, None, Some(Some(work)), T0 + 6)
            .await
            .expect("set_friend");
    }
    let out = store
        .delete_category(alice.id, work, T0 + 7)
        .await
        .expect("delete_category");
    check_written(
        store,
        &out.written,
        T0 + 7,
        vec![(
            alice.id,
            ChangeEvent::CategoryDeleted(CategoryRef { id: work }),
        )],
    )
    .await;
    assert_eq!(
        store.categories(alice.id).await.expect("categories"),
        std::slice::from_ref(&renamed)
    );
    assert_eq!(
        friends(store, &alice).await,
        [
            friend(&bob, "", None, T0 + 1),
            friend(&carol, "", None, T0 + 1)
        ],
        "its friends are in no category"
    );

    // Someone else's category, and one that is gone.
    let before = heads(store, &[&alice, &bob]).await;
    for id in [bobs.id, work] {
        assert_eq!(
            refusal(store.rename_category(alice.id, id, "mine", T0 + 8).await),
            Refusal::UnknownCategory
        );
        assert_eq!(
            refusal(store.delete_category(alice.id, id, T0 + 8).await),
            Refusal::UnknownCategory
        );
    }
    assert_eq!(heads(store, &[&alice, &bob]).await, before);
    assert_eq!(store.categories(bob.id).await.expect("categories"), [bobs]);
    assert_eq!(
        store.categories(alice.id).await.expect("categories"),
        [renamed]
    );
}

async fn categories_are_limited(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let mut ids = Vec::new();
    for i in 0..CATEGORIES_MAX {
        ids.push(
            store
                .create_category(alice.id, &format!("c{i}"), T0)
                .await
                .expect("create_category under the limit")
                .value
                .id,
        );
    }
    let head = stream(store, alice.id).await.len();
    assert_eq!(head, CATEGORIES_MAX);
    assert_eq!(
        refusal(store.create_category(alice.id, "one more", T0).await),
        Refusal::LimitReached("categories")
    );
    assert_eq!(stream(store, alice.id).await.len(), head);
    store
        .delete_category(alice.id, ids[7], T0)
        .await
        .expect("delete_category");
    store
        .create_category(alice.id, "one more", T0)
        .await
        .expect("a place was freed");
    let names: Vec<String> = store
        .categories(alice.id)
        .await
        .expect("categories")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names.len(), CATEGORIES_MAX);
    assert_eq!(names.last().map(String::as_str), Some("one more"));
    assert!(!names.contains(&"c7".to_string()));
}

// ---------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------

async fn blocking_a_friend_ends_the_friendship(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    befriend(store, &alice, &bob, T0 + 1).await;
    let out = store.block(alice.id, bob.id, T0 + 2).await.expect("block");
    check_written(
        store,
        &out.written,
        T0 + 2,
        vec![
            (alice.id, ChangeEvent::FriendRemoved(bob.card())),
            (alice.id, ChangeEvent::Blocked(bob.card())),
            (bob.id, ChangeEvent::FriendRemoved(alice.card())),
        ],
    )
    .await;
    assert_eq!(friends(store, &alice).await, []);
    assert_eq!(friends(store, &bob).await, []);
    assert_eq!(
        relation(store, &alice, &bob).await,
        Relation {
            friends: false,
            blocks: true,
            blocked_by: false,
            colleagues: false,
            b_inactive: false,
        }
    );
    assert_eq!(
        relation(store, &bob, &alice).await,
        Relation {
            friends: false,
            blocks: false,
            blocked_by: true,
            colleagues: false,
            b_inactive: false,
        }
    );
    assert_eq!(
        store.blocks(alice.id, 0, ALL).await.expect("blocks"),
        [bob.card()]
    );
    assert_eq!(store.blocks(bob.id, 0, ALL).await.expect("blocks"), []);
}

async fn blocking_withdraws_my_pending_request(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store
        .request_friend(alice.id, bob.id, "hi", T0 + 1)
        .await
        .expect("request_friend");
    let out = store.block(alice.id, bob.id, T0 + 2).await.expect("block");
    let cancelled = closed(&alice, &bob, RequestOutcome::Cancelled);
    check_written(
        store,
        &out.written,
        T0 + 2,
        vec![
            (alice.id, cancelled.clone()),
            (alice.id, ChangeEvent::Blocked(bob.card())),
            (bob.id, cancelled),
        ],
    )
    .await;
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(requests(store, &bob).await, NO_REQUESTS);
}

/// Blocking someone who asked me hides their request from me, and only
/// me: to them it still looks pending.
async fn blocking_hides_their_pending_request(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store
        .request_friend(bob.id, alice.id, "hi alice", T0 + 1)
        .await
        .expect("request_friend");
    let out = store.block(alice.id, bob.id, T0 + 2).await.expect("block");
    check_written(
        store,
        &out.written,
        T0 + 2,
        vec![
            (alice.id, closed(&bob, &alice, RequestOutcome::Ignored)),
            (alice.id, ChangeEvent::Blocked(bob.card())),
        ],
    )
    .await;
    let bobs = pending(&bob, &alice, "hi alice", T0 + 1);
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(requests(store, &bob).await, (vec![], vec![bobs.clone()]));
    assert_eq!(
        events(store, bob.id).await,
        [ChangeEvent::FriendRequest(bobs.clone())],
        "bob is told nothing"
    );
    assert_eq!(
        refusal(store.answer_request(alice.id, bob.id, true, T0 + 3).await),
        Refusal::NoSuchRequest,
        "a hidden request cannot be answered"
    );
    // Unblocking does not bring it back (alice's devices saw it closed)...
    store
        .unblock(alice.id, bob.id, T0 + 4)
        .await
        .expect("unblock");
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(requests(store, &bob).await, (vec![], vec![bobs]));
    // ...but bob asking again does.
    let out = store
        .request_friend(bob.id, alice.id, "hi again", T0 + 5)
        .await
        .expect("request_friend");
    let again = pending(&bob, &alice, "hi again", T0 + 5);
    let event = ChangeEvent::FriendRequest(again.clone());
    check_written(
        store,
        &out.written,
        T0 + 5,
        vec![(bob.id, event.clone()), (alice.id, event)],
    )
    .await;
    assert_eq!(requests(store, &alice).await, (vec![again], vec![]));
}

/// Withdrawing a hidden request tells only the requester (the addressee
/// saw it closed when they blocked).
async fn cancelling_a_hidden_request_tells_only_the_requester(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store
        .request_friend(bob.id, alice.id, "hi", T0 + 1)
        .await
        .expect("request_friend");
    store.block(alice.id, bob.id, T0 + 2).await.expect("block");
    let alice_head = stream(store, alice.id).await.len();
    let out = store
        .cancel_request(bob.id, alice.id, T0 + 3)
        .await
        .expect("cancel");
    check_written(
        store,
        &out.written,
        T0 + 3,
        vec![(bob.id, closed(&bob, &alice, RequestOutcome::Cancelled))],
    )
    .await;
    assert_eq!(stream(store, alice.id).await.len(), alice_head);
    assert_eq!(requests(store, &bob).await, NO_REQUESTS);
}

async fn a_request_to_someone_i_blocked_is_refused(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store.block(alice.id, bob.id, T0 + 1).await.expect("block");
    let before = heads(store, &[&alice, &bob]).await;
    assert_eq!(
        refusal(store.request_friend(alice.id, bob.id, "hi", T0 + 2).await),
        Refusal::YouBlocked
    );
    assert_eq!(heads(store, &[&alice, &bob]).await, before);
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(requests(store, &bob).await, NO_REQUESTS);
}

/// A request from someone I blocked is stored, but only they see it.
async fn a_request_from_someone_i_blocked_stays_hidden(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    store.block(alice.id, bob.id, T0 + 1).await.expect("block");
    let alice_head = stream(store, alice.id).await.len();
    let out = store
        .request_friend(bob.id, alice.id, "let me in", T0 + 2)
        .await
        .expect("request_friend");
    assert_eq!(out.value, RequestStatus::Pending, "looks pending to bob");
    let bobs = pending(&bob, &alice, "let me in", T0 + 2);
    check_written(
        store,
        &out.written,
        T0 + 2,
        vec![(bob.id, ChangeEvent::FriendRequest(bobs.clone()))],
    )
    .await;
    assert_eq!(stream(store, alice.id).await.len(), alice_head);
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(requests(store, &bob).await, (vec![], vec![bobs]));
    // A repeat stays hidden too.
    let out = store
        .request_friend(bob.id, alice.id, "please", T0 + 3)
        .await
        .expect("request_friend");
    assert_eq!(out.written.len(), 1);
    assert_eq!(out.written[0].user, bob.id);
    assert_eq!(requests(store, &alice).await, NO_REQUESTS);
    assert_eq!(stream(store, alice.id).await.len(), alice_head);
}

async fn blocking_twice_writes_nothing_and_unblocking_undoes_it(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let first = store.block(alice.id, bob.id, T0 + 1).await.expect("block");
    check_written(
        store,
        &first.written,
        T0 + 1,
        vec![(alice.id, ChangeEvent::Blocked(bob.card()))],
    )
    .await;
    let again = store.block(alice.id, bob.id, T0 + 2).await.expect("block");
    assert_eq!(again.written, []);
    assert_eq!(stream(store, alice.id).await.len(), 1);
    assert_eq!(
        store.blocks(alice.id, 0, ALL).await.expect("blocks"),
        [bob.card()]
    );

    let out = store
        .unblock(alice.id, bob.id, T0 + 3)
        .await
        .expect("unblock");
    check_written(
        store,
        &out.written,
        T0 + 3,
        vec![(alice.id, ChangeEvent::Unblocked(bob.card()))],
    )
    .await;
    assert_eq!(relation(store, &alice, &bob).await, Relation::default());
    assert_eq!(relation(store, &bob, &alice).await, Relation::default());
    assert_eq!(store.blocks(alice.id, 0, ALL).await.expect("blocks"), []);
    let again = store
        .unblock(alice.id, bob.id, T0 + 4)
        .await
        .expect("unblock");
    assert_eq!(again.written, []);
    assert_eq!(stream(store, alice.id).await.len(), 2);
    assert_eq!(stream(store, bob.id).await, []);
    // Friends again are possible.
    befriend(store, &bob, &alice, T0 + 5).await;
    assert!(relation(store, &alice, &bob).await.friends);
}

async fn relation_reports_friends_and_blocks_each_way(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    let r = |friends, blocks, blocked_by| Relation {
        friends,
        blocks,
        blocked_by,
        colleagues: false,
        b_inactive: false,
    };
    assert_eq!(relation(store, &alice, &bob).await, r(false, false, false));
    befriend(store, &alice, &bob, T0).await;
    assert_eq!(relation(store, &alice, &bob).await, r(true, false, false));
    assert_eq!(relation(store, &bob, &alice).await, r(true, false, false));
    assert_eq!(
        relation(store, &alice, &carol).await,
        r(false, false, false)
    );
    store.block(carol.id, alice.id, T0).await.expect("block");
    assert_eq!(relation(store, &alice, &carol).await, r(false, false, true));
    assert_eq!(relation(store, &carol, &alice).await, r(false, true, false));
    store.block(alice.id, carol.id, T0).await.expect("block");
    assert_eq!(relation(store, &alice, &carol).await, r(false, true, true));
    assert_eq!(relation(store, &carol, &alice).await, r(false, true, true));
    assert_eq!(relation(store, &alice, &bob).await, r(true, false, false));
    assert_eq!(
        relation(store, &alice, &alice).await,
        r(false, false, false)
    );
}

async fn blocks_page_by_id(store: &dyn Store) {
    let me = who(store, "me").await;
    let mut cards = Vec::new();
    for i in 0..5 {
        let other = who(store, &format!("pest{i}")).await;
        store.block(me.id, other.id, T0).await.expect("block");
        cards.push(other.card());
    }
    let page = |after: UserId| async move { store.blocks(me.id, after, 2).await.expect("blocks") };
    assert_eq!(page(0).await, cards[0..2]);
    assert_eq!(page(cards[1].user_id).await, cards[2..4]);
    assert_eq!(page(cards[3].user_id).await, cards[4..5]);
    assert_eq!(page(cards[4].user_id).await, []);
}

// ---------------------------------------------------------------------------
// The change stream
// ---------------------------------------------------------------------------

/// Each user's stream counts from 1 without gaps, whatever mix of changes
/// and users each call touches.
async fn change_seqs_are_gapless_per_user(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    let carol = who(store, "carol").await;
    let mut all = Vec::new();
    let mut record = |out: Vec<Written>| all.extend(out);
    record(
        store
            .request_friend(alice.id, bob.id, "", T0 + 1)
            .await
            .expect("request")
            .written,
    );
    record(
        store
            .create_category(alice.id, "x", T0 + 2)
            .await
            .expect("category")
            .written,
    );
    record(
        store
            .request_friend(carol.id, alice.id, "", T0 + 3)
            .await
            .expect("request")
            .written,
    );
    record(
        store
            .answer_request(bob.id, alice.id, true, T0 + 4)
            .await
            .expect("accept")
            .written,
    );
    record(
        store
            .set_profile(bob.id, &ProfileFields::default(), T0 + 5)
            .await
            .expect("profile")
            .written,
    );
    record(
        store
            .block(alice.id, carol.id, T0 + 6)
            .await
            .expect("block")
            .written,
    );
    record(
        store
            .remove_friend(alice.id, bob.id, T0 + 7)
            .await
            .expect("remove")
            .written,
    );
    // Every written change, per user, is 1, 2, 3, ... in the order written.
    let mut per_user: BTreeMap<UserId, Vec<i64>> = BTreeMap::new();
    for w in &all {
        per_user.entry(w.user).or_default().push(w.change.seq);
    }
    for (user, seqs) in &per_user {
        let gapless: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(*seqs, gapless, "user {user}");
    }
    // alice: request, category, carol's request, closed + added, bob's
    // profile, closed (ignored) + blocked, removed.
    assert_eq!(per_user[&alice.id].len(), 9);
    check_stored(store, &all).await;
    for w in [&alice, &bob, &carol] {
        assert_eq!(stream(store, w.id).await.len(), per_user[&w.id].len());
    }
}

async fn changes_page_after_a_seq(store: &dyn Store) {
    let alice = who(store, "alice").await;
    for i in 0..7 {
        store
            .create_category(alice.id, &format!("c{i}"), T0 + i)
            .await
            .expect("create_category");
    }
    let all = stream(store, alice.id).await;
    assert_eq!(all.len(), 7);
    let page = |after: i64, limit: u32| async move {
        store
            .changes(alice.id, after, limit)
            .await
            .expect("changes")
    };
    let want = |from: usize, to: usize| ChangePage {
        changes: all[from..to].to_vec(),
        head: 7,
        reset: false,
    };
    assert_eq!(page(0, 3).await, want(0, 3));
    assert_eq!(page(3, 3).await, want(3, 6));
    assert_eq!(page(6, 3).await, want(6, 7));
    assert_eq!(page(7, 3).await, want(7, 7), "caught up");
    assert_eq!(page(2, 1).await, want(2, 3));
    assert_eq!(page(0, ALL).await, want(0, 7));
    assert_eq!(all[6].ts, T0 + 6);
    assert_eq!(
        all[0].event,
        ChangeEvent::CategoryUpdated(Category {
            id: all_ids(store, &alice).await[0],
            name: "c0".into()
        })
    );
}

async fn all_ids(store: &dyn Store, who: &Who) -> Vec<CategoryId> {
    store
        .categories(who.id)
        .await
        .expect("categories")
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// A cursor beyond the head (a restored database, a confused client)
/// resets; a user without changes has head 0.
async fn changes_reset_when_after_is_beyond_the_head(store: &dyn Store) {
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    for i in 0..3 {
        store
            .create_category(alice.id, &format!("c{i}"), T0)
            .await
            .expect("create_category");
    }
    let reset = |head| ChangePage {
        changes: vec![],
        head,
        reset: true,
    };
    assert_eq!(
        store.changes(alice.id, 4, 10).await.expect("changes"),
        reset(3)
    );
    assert_eq!(
        store.changes(alice.id, 1000, 10).await.expect("changes"),
        reset(3)
    );
    assert_eq!(
        store.changes(bob.id, 1, 10).await.expect("changes"),
        reset(0)
    );
    let empty = ChangePage {
        changes: vec![],
        head: 0,
        reset: false,
    };
    assert_eq!(store.changes(bob.id, 0, 10).await.expect("changes"), empty);
    assert_eq!(
        store.changes(bob.id + 1000, 0, 10).await.expect("changes"),
        empty,
        "an unknown user has an empty stream"
    );
}

async fn changes_survive_reopen<H: Harness>(harness: H) {
    let store = harness.store();
    let alice = who(store, "alice").await;
    let bob = who(store, "bob").await;
    befriend(store, &alice, &bob, T0 + 1).await;
    let fields = ProfileFields {
        nickname: "王小明 🐦".into(),
        email: Some("a@example.com".into()),
        ..ProfileFields::default()
    };
    store
        .set_profile(alice.id, &fields, T0 + 2)
        .await
        .expect("set_profile");
    store.block(bob.id, alice.id, T0 + 3).await.expect("block");
    let before_alice = stream(store, alice.id).await;
    let before_bob = stream(store, bob.id).await;
    let profile = store.profile(alice.id).await.expect("profile");
    assert_eq!(before_alice.len(), 5);

    let harness = harness.reopen().await;
    let store = harness.store();
    assert_eq!(stream(store, alice.id).await, before_alice);
    assert_eq!(stream(store, bob.id).await, before_bob);
    assert_eq!(store.profile(alice.id).await.expect("profile"), profile);
    assert!(relation(store, &bob, &alice).await.blocks);
    // The allocator carries on.
    let out = store
        .create_category(alice.id, "after", T0 + 4)
        .await
        .expect("create_category");
    assert_eq!(out.written[0].change.seq, 6);
    assert_eq!(stream(store, alice.id).await.len(), 6);
    harness.close().await;
}

// ---------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------

/// Run `a` and `b` at once, each in a task of its own, released together.
async fn at_once<A, B>(
    a: impl Future<Output = A> + Send + 'static,
    b: impl Future<Output = B> + Send + 'static,
) -> (A, B)
where
    A: Send + 'static,
    B: Send + 'static,
{
    let start = Arc::new(Barrier::new(2));
    let (sa, sb) = (start.clone(), start);
    let ta = tokio::spawn(async move {
        sa.wait().await;
        a.await
    });
    let tb = tokio::spawn(async move {
        sb.wait().await;
        b.await
    });
    (ta.await.expect("task a"), tb.await.expect("task b"))
}

/// Two more stores on the harness's database, as two other nodes.
async fn two_nodes<H: Harness>(harness: &H) -> (Arc<SqlStore>, Arc<SqlStore>) {
    (
        Arc::new(harness.another_node().await),
        Arc::new(harness.another_node().await),
    )
}

async fn close_nodes(nodes: (Arc<SqlStore>, Arc<SqlStore>)) {
    for node in [nodes.0, nodes.1] {
        Store::close(&*node).await;
    }
}

/// Never friends while either blocks the other.
async fn check_not_friends_and_blocked(store: &dyn Store, a: &Who, b: &Who) {
    let r = relation(store, a, b).await;
    assert!(!(r.friends && (r.blocks || r.blocked_by)), "{r:?}");
}

/// Two users ask each other at the same moment, through two nodes: one
/// request is stored first, the other finds it and makes the friendship.
async fn crossed_requests_race_to_one_friendship<H: Harness>(harness: H) {
    let store = harness.store();
    let nodes = two_nodes(&harness).await;
    for round in 0..ROUNDS {
        let a = who(store, &format!("a{round}")).await;
        let b = who(store, &format!("b{round}")).await;
        let (n1, n2) = (nodes.0.clone(), nodes.1.clone());
        let (ra, rb) = at_once(
            async move { n1.request_friend(a.id, b.id, "from a", T0 + 1).await },
            async move { n2.request_friend(b.id, a.id, "from b", T0 + 2).await },
        )
        .await;
        let (ra, rb) = (ra.expect("a asks"), rb.expect("b asks"));
        let (first, second, note, asked, since) = match (ra.value, rb.value) {
            (RequestStatus::Pending, RequestStatus::Friends) => (&a, &b, "from a", T0 + 1, T0 + 2),
            (RequestStatus::Friends, RequestStatus::Pending) => (&b, &a, "from b", T0 + 2, T0 + 1),
            other => panic!("round {round}: exactly one request finds the other: {other:?}"),
        };
        let request = ChangeEvent::FriendRequest(pending(first, second, note, asked));
        let accepted = closed(first, second, RequestOutcome::Accepted);
        assert_eq!(
            events(store, first.id).await,
            [
                request.clone(),
                accepted.clone(),
                ChangeEvent::FriendAdded(friend(second, "", None, since))
            ],
            "round {round}"
        );
        assert_eq!(
            events(store, second.id).await,
            [
                request,
                accepted,
                ChangeEvent::FriendAdded(friend(first, "", None, since))
            ],
            "round {round}"
        );
        check_stored(store, &ra.written).await;
        check_stored(store, &rb.written).await;
        assert_eq!(friends(store, &a).await, [friend(&b, "", None, since)]);
        assert_eq!(friends(store, &b).await, [friend(&a, "", None, since)]);
        assert_eq!(requests(store, &a).await, NO_REQUESTS);
        assert_eq!(requests(store, &b).await, NO_REQUESTS);
    }
    close_nodes(nodes).await;
    harness.close().await;
}

/// The addressee accepts while the requester withdraws: exactly one of
/// them finds the request.
async fn accept_races_cancel<H: Harness>(harness: H) {
    let store = harness.store();
    let nodes = two_nodes(&harness).await;
    for round in 0..ROUNDS {
        let a = who(store, &format!("a{round}")).await;
        let b = who(store, &format!("b{round}")).await;
        store
            .request_friend(a.id, b.id, "hi", T0 + 1)
            .await
            .expect("request_friend");
        let (n1, n2) = (nodes.0.clone(), nodes.1.clone());
        let (accepted, cancelled) = at_once(
            async move { n1.answer_request(b.id, a.id, true, T0 + 2).await },
            async move { n2.cancel_request(a.id, b.id, T0 + 3).await },
        )
        .await;
        let request = ChangeEvent::FriendRequest(pending(&a, &b, "hi", T0 + 1));
        match (accepted, cancelled) {
            (Ok(out), Err(StoreError::Refused(Refusal::NoSuchRequest))) => {
                let closed = closed(&a, &b, RequestOutcome::Accepted);
                assert_eq!(
                    events(store, a.id).await,
                    [
                        request.clone(),
                        closed.clone(),
                        ChangeEvent::FriendAdded(friend(&b, "", None, T0 + 2))
                    ]
                );
                assert_eq!(
                    events(store, b.id).await,
                    [
                        request,
                        closed,
                        ChangeEvent::FriendAdded(friend(&a, "", None, T0 + 2))
                    ]
                );
                check_stored(store, &out.written).await;
                assert_eq!(friends(store, &a).await, [friend(&b, "", None, T0 + 2)]);
                assert_eq!(friends(store, &b).await, [friend(&a, "", None, T0 + 2)]);
            }
            (Err(StoreError::Refused(Refusal::NoSuchRequest)), Ok(out)) => {
                let closed = closed(&a, &b, RequestOutcome::Cancelled);
                assert_eq!(events(store, a.id).await, [request.clone(), closed.clone()]);
                assert_eq!(events(store, b.id).await, [request, closed]);
                check_stored(store, &out.written).await;
                assert_eq!(friends(store, &a).await, []);
                assert_eq!(friends(store, &b).await, []);
                assert_eq!(relation(store, &a, &b).await, Relation::default());
            }
            other => panic!("round {round}: exactly one finds the request: {other:?}"),
        }
        assert_eq!(requests(store, &a).await, NO_REQUESTS);
        assert_eq!(requests(store, &b).await, NO_REQUESTS);
    }
    close_nodes(nodes).await;
    harness.close().await;
}

/// The addressee accepts while one of the two blocks the other (the
/// requester in even rounds, the addressee's other device in odd ones).
/// Either the block comes first and the accept finds no request, or the
/// friendship is made and the block ends it: never friends and blocked.
async fn block_races_accept<H: Harness>(harness: H) {
    let store = harness.store();
    let nodes = two_nodes(&harness).await;
    for round in 0..ROUNDS {
        let a = who(store, &format!("a{round}")).await;
        let b = who(store, &format!("b{round}")).await;
        store
            .request_friend(a.id, b.id, "hi", T0 + 1)
            .await
            .expect("request_friend");
        let requester_blocks = round % 2 == 0;
        let (blocker, blocked) = if requester_blocks { (&a, &b) } else { (&b, &a) };
        let (n1, n2) = (nodes.0.clone(), nodes.1.clone());
        let (me, other) = (blocker.id, blocked.id);
        let (accepted, blocking) = at_once(
            async move { n1.answer_request(b.id, a.id, true, T0 + 2).await },
            async move { n2.block(me, other, T0 + 3).await },
        )
        .await;
        let blocking = blocking.expect("block");
        check_stored(store, &blocking.written).await;
        let request = ChangeEvent::FriendRequest(pending(&a, &b, "hi", T0 + 1));
        let blocked_event = ChangeEvent::Blocked(blocked.card());
        match accepted {
            Ok(out) => {
                // Friends, then unfriended by the block.
                check_stored(store, &out.written).await;
                let closed = closed(&a, &b, RequestOutcome::Accepted);
                let history = |me: &Who, other: &Who| {
                    let mut h = vec![
                        request.clone(),
                        closed.clone(),
                        ChangeEvent::FriendAdded(friend(other, "", None, T0 + 2)),
                        ChangeEvent::FriendRemoved(other.card()),
                    ];
                    if me.id == blocker.id {
                        h.push(blocked_event.clone());
                    }
                    h
                };
                assert_eq!(events(store, a.id).await, history(&a, &b), "round {round}");
                assert_eq!(events(store, b.id).await, history(&b, &a), "round {round}");
                assert_eq!(requests(store, &a).await, NO_REQUESTS);
                assert_eq!(requests(store, &b).await, NO_REQUESTS);
            }
            Err(StoreError::Refused(Refusal::NoSuchRequest)) if requester_blocks => {
                // The block withdrew a's request first.
                let closed = closed(&a, &b, RequestOutcome::Cancelled);
                assert_eq!(
                    events(store, a.id).await,
                    [request.clone(), closed.clone(), blocked_event],
                    "round {round}"
                );
                assert_eq!(
                    events(store, b.id).await,
                    [request, closed],
                    "round {round}"
                );
                assert_eq!(requests(store, &a).await, NO_REQUESTS);
                assert_eq!(requests(store, &b).await, NO_REQUESTS);
            }
            Err(StoreError::Refused(Refusal::NoSuchRequest)) => {
                // b's block hid a's request first.
                assert_eq!(
                    events(store, b.id).await,
                    [
                        request.clone(),
                        closed(&a, &b, RequestOutcome::Ignored),
                        blocked_event
                    ],
                    "round {round}"
                );
                assert_eq!(events(store, a.id).await, [request], "round {round}");
                assert_eq!(requests(store, &b).await, NO_REQUESTS);
                assert_eq!(
                    requests(store, &a).await,
                    (vec![], vec![pending(&a, &b, "hi", T0 + 1)])
                );
            }
            Err(e) => panic!("round {round}: accept failed: {e}"),
        }
        assert_eq!(friends(store, &a).await, []);
        assert_eq!(friends(store, &b).await, []);
        assert_eq!(
            relation(store, blocker, blocked).await,
            Relation {
                friends: false,
                blocks: true,
                blocked_by: false,
                colleagues: false,
                b_inactive: false,
            }
        );
        check_not_friends_and_blocked(store, &a, &b).await;
    }
    close_nodes(nodes).await;
    harness.close().await;
}

/// Two friends change their profiles at once: each change goes to both
/// streams, which stay gapless, and neither call fails (each locks the
/// other's row to append to their stream).
async fn friends_set_profiles_at_once<H: Harness>(harness: H) {
    let store = harness.store();
    let nodes = two_nodes(&harness).await;
    for round in 0..ROUNDS {
        let a = who(store, &format!("a{round}")).await;
        let b = who(store, &format!("b{round}")).await;
        befriend(store, &a, &b, T0).await;
        let (n1, n2) = (nodes.0.clone(), nodes.1.clone());
        let fields = |nickname: &str| ProfileFields {
            nickname: nickname.into(),
            ..ProfileFields::default()
        };
        let (fa, fb) = (fields("A"), fields("B"));
        let (ra, rb) = at_once(
            async move { n1.set_profile(a.id, &fa, T0 + 1).await },
            async move { n2.set_profile(b.id, &fb, T0 + 2).await },
        )
        .await;
        let (ra, rb) = (
            ra.unwrap_or_else(|e| panic!("round {round}: a's profile: {e}")),
            rb.unwrap_or_else(|e| panic!("round {round}: b's profile: {e}")),
        );
        check_stored(store, &ra.written).await;
        check_stored(store, &rb.written).await;
        for w in [&a, &b] {
            let mut got: Vec<ChangeEvent> = events(store, w.id).await.split_off(3);
            got.sort_by_key(|e| match e {
                ChangeEvent::Profile(p) => p.updated_at,
                _ => 0,
            });
            assert_eq!(
                got,
                [
                    ChangeEvent::Profile(ra.value.clone()),
                    ChangeEvent::Profile(rb.value.clone())
                ],
                "round {round}"
            );
        }
    }
    close_nodes(nodes).await;
    harness.close().await;
}

/// A profile save races the acceptance that makes a new friend: either
/// the friendship comes first and the new friend is sent the profile, or
/// the save comes first and the friendship's changes carry the new card.
/// Either way the new friend ends up seeing the new nickname.
async fn profile_save_races_a_new_friendship<H: Harness>(harness: H) {
    let store = harness.store();
    let nodes = two_nodes(&harness).await;
    for round in 0..ROUNDS {
        let a = who(store, &format!("a{round}")).await;
        let b = who(store, &format!("b{round}")).await;
        let c = who(store, &format!("c{round}")).await;
        befriend(store, &c, &a, T0).await;
        store
            .request_friend(a.id, b.id, "hi", T0 + 1)
            .await
            .expect("request_friend");
        let (n1, n2) = (nodes.0.clone(), nodes.1.clone());
        let fields = ProfileFields {
            nickname: "新名字".into(),
            ..ProfileFields::default()
        };
        let (saved, accepted) = at_once(
            async move { n1.set_profile(a.id, &fields, T0 + 2).await },
            async move { n2.answer_request(b.id, a.id, true, T0 + 3).await },
        )
        .await;
        let saved = saved.unwrap_or_else(|e| panic!("round {round}: set_profile: {e}"));
        let accepted = accepted.unwrap_or_else(|e| panic!("round {round}: accept: {e}"));
        check_stored(store, &saved.written).await;
        check_stored(store, &accepted.written).await;
        let profile = ChangeEvent::Profile(saved.value.clone());
        let request = ChangeEvent::FriendRequest(pending(&a, &b, "hi", T0 + 1));
        let new_card = a.card_as("新名字", "");
        let b_events = events(store, b.id).await;
        if b_events.contains(&profile) {
            // Friends first: b was told of the new profile.
            let want = vec![
                request,
                closed(&a, &b, RequestOutcome::Accepted),
                ChangeEvent::FriendAdded(friend(&a, "", None, T0 + 3)),
                profile.clone(),
            ];
            assert_eq!(b_events, want, "round {round}");
        } else {
            // The save first: the friendship shows the new card.
            let want = vec![
                request,
                ChangeEvent::FriendRequestClosed(RequestClosed {
                    from: new_card.clone(),
                    to: b.card(),
                    outcome: RequestOutcome::Accepted,
                }),
                ChangeEvent::FriendAdded(friend_with(new_card.clone(), "", None, T0 + 3)),
            ];
            assert_eq!(b_events, want, "round {round}");
        }
        assert_eq!(
            friends(store, &b).await,
            [friend_with(new_card, "", None, T0 + 3)]
        );
        assert!(
            events(store, c.id).await.contains(&profile),
            "round {round}"
        );
        assert!(
            events(store, a.id).await.contains(&profile),
            "round {round}"
        );
    }
    close_nodes(nodes).await;
    harness.close().await;
}

/// Requests between unrelated pairs at once do not get in each other's
/// way: neither fails.
async fn unrelated_requests_at_once<H: Harness>(harness: H) {
    let store = harness.store();
    let nodes = two_nodes(&harness).await;
    for round in 0..ROUNDS {
        let a = who(store, &format!("a{round}")).await;
        let b = who(store, &format!("b{round}")).await;
        let c = who(store, &format!("c{round}")).await;
        let d = who(store, &format!("d{round}")).await;
        let (n1, n2) = (nodes.0.clone(), nodes.1.clone());
        let (ab, cd) = at_once(
            async move { n1.request_friend(a.id, b.id, "", T0).await },
            async move { n2.request_friend(c.id, d.id, "", T0).await },
        )
        .await;
        ab.unwrap_or_else(|e| panic!("round {round}: a asks b: {e}"));
        cd.unwrap_or_else(|e| panic!("round {round}: c asks d: {e}"));
        let (n1, n2) = (nodes.0.clone(), nodes.1.clone());
        let (ba, dc) = at_once(
            async move { n1.answer_request(b.id, a.id, true, T0).await },
            async move { n2.answer_request(d.id, c.id, true, T0).await },
        )
        .await;
        ba.unwrap_or_else(|e| panic!("round {round}: b accepts: {e}"));
        dc.unwrap_or_else(|e| panic!("round {round}: d accepts: {e}"));
        for w in [&a, &b, &c, &d] {
            assert_eq!(friends(store, w).await.len(), 1);
            assert_eq!(stream(store, w.id).await.len(), 3);
        }
    }
    close_nodes(nodes).await;
    harness.close().await;
}

// ---------------------------------------------------------------------------
// The suite, per backend
// ---------------------------------------------------------------------------

common::contract_suite! {
    store: [
        a_new_user_has_the_default_profile,
        profile_of_an_unknown_user_is_none,
        set_profile_round_trips_every_field,
        set_profile_tells_the_user_and_each_friend,
        search_matches_username_prefixes,
        search_matches_chinese_nickname_substrings,
        search_ignores_the_case_of_nicknames,
        search_matches_phones_exactly,
        search_matches_emails_exactly,
        search_takes_like_metacharacters_literally,
        search_pages_by_after,
        search_leaves_out_the_searcher_and_whoever_blocked_them,
        a_request_is_pending_and_told_to_both,
        a_repeated_request_updates_the_pending_one,
        request_lists_are_newest_first,
        crossed_requests_make_friends,
        accepting_makes_friends,
        rejecting_closes_the_request_for_both,
        cancelling_closes_the_request_for_both,
        answering_needs_a_pending_request_to_me,
        a_request_to_a_friend_is_refused,
        graph_changes_with_an_unknown_user_are_refused,
        outgoing_requests_are_limited,
        removing_a_friend_ends_both_sides,
        friends_page_by_id,
        set_friend_changes_remark_and_category,
        set_friend_refuses_a_stranger_and_another_users_category,
        categories_are_created_renamed_and_deleted,
        categories_are_limited,
        blocking_a_friend_ends_the_friendship,
        blocking_withdraws_my_pending_request,
        blocking_hides_their_pending_request,
        cancelling_a_hidden_request_tells_only_the_requester,
        a_request_to_someone_i_blocked_is_refused,
        a_request_from_someone_i_blocked_stays_hidden,
        blocking_twice_writes_nothing_and_unblocking_undoes_it,
        relation_reports_friends_and_blocks_each_way,
        blocks_page_by_id,
        change_seqs_are_gapless_per_user,
        changes_page_after_a_seq,
        changes_reset_when_after_is_beyond_the_head,
    ],
    harness: [
        changes_survive_reopen,
        crossed_requests_race_to_one_friendship,
        accept_races_cancel,
        block_races_accept,
        friends_set_profiles_at_once,
        profile_save_races_a_new_friendship,
        unrelated_requests_at_once,
    ],
}
