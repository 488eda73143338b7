//! The groups area's contract ([`GroupStore`], and what groups add to the
//! message and conversation areas), as one suite every backend must pass:
//! creating a group, every change to it, the events that record them in
//! the group's own sequence among its messages, the membership version a
//! message batch reads, and the races between nodes that the
//! conversation's lock exists for.
//!
//! As in tests/store.rs and tests/people.rs, every test starts from an
//! empty store, and the `groups_suite!` macro at the bottom instantiates
//! the suite for one backend. Three checks run on every call the helpers
//! make, so that each test states only what is particular to it: a
//! conversation read back must be gapless from 1 ([`entries`]); a change
//! that writes an event must write it as the conversation's newest entry
//! and move the membership version to it ([`event`]); and a change that
//! is refused or repeats the state must write nothing at all ([`refused`],
//! [`no_op`]).
//!
//! [`GroupStore`]: magpie_store::GroupStore

use GroupRole::{Admin, Member, Owner};
use magpie_proto::{
    Change, ChangeEvent, ConvId, ConvKind, GroupCard, GroupEvent, GroupFields, GroupInfo,
    GroupLeft, GroupMember, GroupRole, JoinPolicy, LastMessage, LeftReason, Message, MessageKind,
    Seq, UserId,
};
use magpie_store::{
    Appended, Committed, ConvSummary, GroupApplied, GroupOp, GroupStore, MemberEntry, MemberSet,
    MessageStore, NewGroup, NewMessage, Refusal, SqlStore, Store, StoreError, WriteBatch, Written,
};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

mod common;
use common::{Harness, T0, user};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A fetch-everything limit for lists, entries and streams.
const ALL: u32 = 10_000;

/// How many times each race runs (each time in a new group).
const ROUNDS: usize = 10;

/// A test user: id and username (events name users by username).
#[derive(Debug, Clone)]
struct Who {
    id: UserId,
    name: String,
}

async fn who(store: &dyn Store, name: &str) -> Who {
    Who {
        id: user(store, name).await,
        name: name.into(),
    }
}

/// Several users at once, with ids ascending in the order named.
async fn people<const N: usize>(store: &dyn Store, names: [&str; N]) -> [Who; N] {
    let mut out = Vec::with_capacity(N);
    for name in names {
        out.push(who(store, name).await);
    }
    out.try_into().expect("one user per name")
}

/// An id no user has.
fn ghost(users: &[&Who]) -> UserId {
    users.iter().map(|w| w.id).max().unwrap_or(0) + 1000
}

fn ids(users: &[&Who]) -> Vec<UserId> {
    users.iter().map(|w| w.id).collect()
}

fn names(users: &[&Who]) -> Vec<String> {
    users.iter().map(|w| w.name.clone()).collect()
}

/// A permanent, invite-only group with `members` besides its owner, with
/// the settings the service fills in when the client names none.
fn group(name: &str, members: &[&Who]) -> NewGroup {
    NewGroup {
        name: name.into(),
        avatar: String::new(),
        description: String::new(),
        announcement: String::new(),
        join_policy: JoinPolicy::Invite,
        history_visible: 0,
        member_limit: 100,
        temporary: false,
        members: ids(members),
    }
}

/// `owner` makes `new` at `T0`.
async fn create(store: &dyn Store, owner: &Who, new: &NewGroup) -> ConvId {
    store
        .create_group(owner.id, new, T0)
        .await
        .expect("create_group")
        .conv
}

/// `actor` applies `op`, which must not be refused.
async fn apply(
    store: &dyn Store,
    actor: &Who,
    conv: ConvId,
    op: &GroupOp,
    now: i64,
) -> GroupApplied {
    let applied = store
        .apply_group(actor.id, conv, op, now)
        .await
        .unwrap_or_else(|e| panic!("{op:?} by {}: {e}", actor.name));
    assert_eq!(applied.conv, conv);
    applied
}

/// `actor` applies `op`, which must write an event: what it did, and the
/// event. Checks that the entry returned is the one stored, as the
/// conversation's newest entry, written by `actor` at `now`; that the
/// membership version moved to it (unless the group is gone); and that
/// every change returned is stored on its user's stream.
async fn event(
    store: &dyn Store,
    actor: &Who,
    conv: ConvId,
    op: GroupOp,
    now: i64,
) -> (GroupApplied, GroupEvent) {
    let applied = apply(store, actor, conv, &op, now).await;
    let entry = applied
        .event
        .clone()
        .unwrap_or_else(|| panic!("{op:?} by {} wrote an event", actor.name));
    assert_eq!(
        entries(store, conv).await.last(),
        Some(&entry),
        "{op:?}: the event returned is the newest entry, as stored"
    );
    assert_eq!((entry.from.as_str(), entry.ts), (actor.name.as_str(), now));
    if let Some(set) = store.member_set(conv).await.expect("member_set") {
        assert_eq!(
            set.version, entry.seq,
            "{op:?} moved the membership version"
        );
    }
    for w in &applied.written {
        assert_eq!(w.change.ts, now);
        let stored = stream(store, w.user).await;
        let at = usize::try_from(w.change.seq - 1).expect("change seqs from 1");
        assert_eq!(stored.get(at), Some(&w.change), "user {}", w.user);
    }
    let parsed = event_of(&entry);
    (applied, parsed)
}

/// What a change could have written to `conv`: its entries, its member
/// set (with version, roles and mutes) and its members' nicknames.
async fn snapshot(
    store: &dyn Store,
    conv: ConvId,
) -> (Vec<Message>, Option<MemberSet>, Vec<GroupMember>) {
    (
        entries(store, conv).await,
        store.member_set(conv).await.expect("member_set"),
        store
            .group_members(conv, 0, ALL)
            .await
            .expect("group_members"),
    )
}

/// `actor` applies `op`, which changes nothing: it must write nothing
/// (no seq used, no change on anyone's stream) and say so.
async fn no_op(store: &dyn Store, actor: &Who, conv: ConvId, op: GroupOp) {
    let before = snapshot(store, conv).await;
    let applied = apply(store, actor, conv, &op, T0 + 500).await;
    let nothing = GroupApplied {
        conv,
        event: None,
        gone: Vec::new(),
        came: Vec::new(),
        written: Vec::new(),
        requested: false,
    };
    assert_eq!(applied, nothing, "{op:?} by {} is a repeat", actor.name);
    assert_eq!(snapshot(store, conv).await, before, "{op:?} wrote nothing");
}

/// `actor` applies `op`, which must be refused with a refusal of `want`'s
/// kind (compared by kind: the text in `GroupRole` and `LimitReached` is
/// for people), writing nothing.
async fn refused(store: &dyn Store, actor: &Who, conv: ConvId, op: GroupOp, want: Refusal) {
    let before = snapshot(store, conv).await;
    let got = match store.apply_group(actor.id, conv, &op, T0 + 500).await {
        Err(StoreError::Refused(r)) => r,
        other => panic!("{op:?} by {}: expected {want:?}, got {other:?}", actor.name),
    };
    assert_eq!(
        std::mem::discriminant(&got),
        std::mem::discriminant(&want),
        "{op:?} by {}: {got:?}",
        actor.name
    );
    assert_eq!(
        snapshot(store, conv).await,
        before,
        "refused {op:?} wrote nothing"
    );
}

/// The refusal `result` must be.
fn refusal<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Refusal {
    match result {
        Err(StoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Every entry of `conv`, checked gapless from 1.
async fn entries(store: &dyn Store, conv: ConvId) -> Vec<Message> {
    let all = store
        .messages_after(conv, 0, ALL)
        .await
        .expect("messages_after");
    let seqs: Vec<Seq> = all.iter().map(|m| m.seq).collect();
    let gapless: Vec<Seq> = (1..=all.len() as Seq).collect();
    assert_eq!(
        seqs, gapless,
        "conversation {conv}'s entries are gapless from 1"
    );
    all
}

/// The group event an entry records; it must be an event entry.
fn event_of(entry: &Message) -> GroupEvent {
    assert_eq!(
        entry.kind,
        MessageKind::Event,
        "entry {} is an event",
        entry.seq
    );
    assert_eq!(
        entry.body, "",
        "an event's body is empty: the event says it"
    );
    let value = entry
        .event
        .as_ref()
        .expect("an event entry carries its event");
    GroupEvent::parse(value).unwrap_or_else(|| panic!("a known event: {value}"))
}

/// A text message of `sender` whose cmid is its body (tests keep bodies
/// unique per sender).
fn text(conv: ConvId, sender: &Who, body: &str, ts: i64) -> NewMessage {
    NewMessage {
        file: None,
        conv,
        sender: sender.id,
        kind: MessageKind::Text,
        cmid: body.into(),
        body: body.into(),
        ts,
        mention: None,
        ..NewMessage::default()
    }
}

/// `sender` says `body` in `conv`, in a batch of its own.
async fn say(store: &dyn Store, conv: ConvId, sender: &Who, body: &str, ts: i64) -> Appended {
    let out = store
        .append_batch(&[text(conv, sender, body, ts)])
        .await
        .expect("append_batch");
    assert!(!out[0].duplicate);
    out[0]
}

async fn commit(store: &dyn Store, batch: WriteBatch) -> Committed {
    store.commit_batch(&batch).await.expect("commit_batch")
}

/// `conv`'s member set, which must exist.
async fn member_set(store: &dyn Store, conv: ConvId) -> MemberSet {
    store
        .member_set(conv)
        .await
        .expect("member_set")
        .unwrap_or_else(|| panic!("conversation {conv} has members"))
}

/// The members of `conv` with their roles, ascending by user.
async fn roles(store: &dyn Store, conv: ConvId) -> Vec<(UserId, GroupRole)> {
    member_set(store, conv)
        .await
        .members
        .iter()
        .map(|m| (m.user, m.role))
        .collect()
}

/// One member's entry in the member set.
async fn entry(store: &dyn Store, conv: ConvId, who: &Who) -> MemberEntry {
    member_set(store, conv)
        .await
        .members
        .into_iter()
        .find(|m| m.user == who.id)
        .unwrap_or_else(|| panic!("{} is a member", who.name))
}

/// The group as `who`, a member, sees it.
async fn info(store: &dyn Store, conv: ConvId, who: &Who) -> GroupInfo {
    store
        .group_info(conv, who.id)
        .await
        .expect("group_info")
        .unwrap_or_else(|| panic!("{} sees group {conv}", who.name))
}

async fn groups_of(store: &dyn Store, who: &Who) -> Vec<GroupInfo> {
    store.groups_of(who.id, 0, ALL).await.expect("groups_of")
}

/// `who`'s conversation-list row for `conv`, if listed.
async fn row(store: &dyn Store, who: &Who, conv: ConvId) -> Option<ConvSummary> {
    store
        .conversations(who.id, None, ALL)
        .await
        .expect("conversations")
        .into_iter()
        .find(|s| s.conv == conv)
}

/// `user`'s whole change stream, checked gapless from 1.
async fn stream(store: &dyn Store, user: UserId) -> Vec<Change> {
    let page = store.changes(user, 0, ALL).await.expect("changes");
    let seqs: Vec<i64> = page.changes.iter().map(|c| c.seq).collect();
    let gapless: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, gapless, "user {user}'s stream is gapless from 1");
    page.changes
}

async fn events(store: &dyn Store, who: &Who) -> Vec<ChangeEvent> {
    stream(store, who.id)
        .await
        .into_iter()
        .map(|c| c.event)
        .collect()
}

fn joined(conv: ConvId, name: &str, role: GroupRole, temporary: bool) -> ChangeEvent {
    ChangeEvent::GroupJoined(GroupCard {
        conv,
        name: name.into(),
        avatar: String::new(),
        role,
        temporary,
    })
}

fn left(conv: ConvId, reason: LeftReason, last_seq: Seq) -> ChangeEvent {
    ChangeEvent::GroupLeft(GroupLeft {
        conv,
        reason,
        last_seq,
    })
}

/// What a change wrote to the change streams is exactly `want`: per user
/// the same changes in the same order, for nobody else anything.
fn check_written(written: &[Written], want: Vec<(&Who, ChangeEvent)>) {
    let mut got: BTreeMap<UserId, Vec<ChangeEvent>> = BTreeMap::new();
    for w in written {
        got.entry(w.user).or_default().push(w.change.event.clone());
    }
    let mut wanted: BTreeMap<UserId, Vec<ChangeEvent>> = BTreeMap::new();
    for (who, event) in want {
        wanted.entry(who.id).or_default().push(event);
    }
    assert_eq!(got, wanted, "changes written, per user");
}

fn sorted(mut users: Vec<UserId>) -> Vec<UserId> {
    users.sort_unstable();
    users
}

// ---------------------------------------------------------------------------
// Creating a group
// ---------------------------------------------------------------------------

/// A new group's sequence starts with its `created` event at seq 1, sent
/// as a flat JSON object that names the owner first.
async fn a_group_begins_with_its_created_event(store: &dyn Store) {
    // The owner has the highest id: "first" must not be "lowest id".
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let applied = store
        .create_group(carol.id, &group("研发群", &[&alice, &bob]), T0 + 1)
        .await
        .expect("create_group");
    let conv = applied.conv;
    let stored = entries(store, conv).await;
    assert_eq!(stored.len(), 1, "the created event and nothing else");
    let created = &stored[0];
    assert_eq!(
        (created.seq, created.kind, created.from.as_str(), created.ts),
        (1, MessageKind::Event, "carol", T0 + 1)
    );
    let json = created.event.as_ref().expect("event");
    assert_eq!(json["type"], "created");
    assert_eq!(
        json["members"],
        serde_json::json!(["carol", "alice", "bob"])
    );
    assert_eq!(
        event_of(created),
        GroupEvent::Created {
            by: "carol".into(),
            name: "研发群".into(),
            members: names(&[&carol, &alice, &bob]),
            temporary: false,
        }
    );
    assert_eq!(applied.event.as_ref(), Some(created), "returned as stored");
    assert_eq!(sorted(applied.came), ids(&[&alice, &bob, &carol]));
    assert!(applied.gone.is_empty());
}

/// The member set of a new group: the owner as owner, the others as
/// members, everyone from the start, at version 1 (the created event).
/// A 1:1 conversation has one too, at version 0.
async fn a_new_group_has_its_owner_and_members(store: &dyn Store) {
    let [alice, bob, carol, dave] = people(store, ["alice", "bob", "carol", "dave"]).await;
    let conv = create(store, &bob, &group("g", &[&carol, &alice])).await;
    let member = |who: &Who, role| MemberEntry {
        user: who.id,
        joined_seq: 0,
        muted_until: 0,
        role,
    };
    assert_eq!(
        member_set(store, conv).await,
        MemberSet {
            version: 1,
            group: true,
            muted_all: false,
            members: vec![
                member(&alice, Member),
                member(&bob, Owner),
                member(&carol, Member)
            ],
        }
    );
    // The conversations area sees the same members.
    assert_eq!(
        store.members(conv).await.expect("members"),
        ids(&[&alice, &bob, &carol])
    );
    assert!(!store.is_member(dave.id, conv).await.expect("is_member"));
    // The owner has read the event they wrote; the others have it unread.
    for (who, read) in [(&bob, 1), (&alice, 0), (&carol, 0)] {
        let listed = row(store, who, conv).await.expect("listed");
        assert_eq!(
            (listed.last_seq, listed.read_seq),
            (1, read),
            "{}",
            who.name
        );
    }
    let listed = |who: &Who, role| GroupMember {
        user_id: who.id,
        user: who.name.clone(),
        role,
        nickname: String::new(),
        muted_until: None,
        joined_at: T0,
        // The store keeps no presence; the server fills it in.
        status: magpie_proto::Status::Offline,
        status_text: String::new(),
    };
    assert_eq!(
        store
            .group_members(conv, 0, ALL)
            .await
            .expect("group_members"),
        [
            listed(&alice, Member),
            listed(&bob, Owner),
            listed(&carol, Member)
        ]
    );
    assert_eq!(
        store
            .group_members(conv, alice.id, 1)
            .await
            .expect("group_members"),
        [listed(&bob, Owner)],
        "paged by user id"
    );

    let dm = store
        .open_direct(alice.id, dave.id, T0)
        .await
        .expect("open_direct");
    assert_eq!(
        member_set(store, dm).await,
        MemberSet {
            version: 0,
            group: false,
            muted_all: false,
            members: vec![member(&alice, Member), member(&dave, Member)],
        }
    );
    assert_eq!(
        store
            .member_set(conv + dm + 1000)
            .await
            .expect("member_set"),
        None
    );
}

/// `group_info` shows the group to its members only, each with their own
/// role; `group_public` shows an open group to anyone; `groups_of` lists
/// a user's groups by id.
async fn group_info_is_for_members(store: &dyn Store) {
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let new = NewGroup {
        avatar: "av".into(),
        description: "about".into(),
        announcement: "news".into(),
        history_visible: 5,
        member_limit: 50,
        ..group("g", &[&bob])
    };
    let conv = create(store, &alice, &new).await;
    let want = GroupInfo {
        conv,
        name: "g".into(),
        avatar: "av".into(),
        description: "about".into(),
        announcement: "news".into(),
        owner: "alice".into(),
        join_policy: JoinPolicy::Invite,
        history_visible: 5,
        member_limit: 50,
        temporary: false,
        muted_all: false,
        members: 2,
        role: Owner,
        max_seq: 1,
        created_at: T0,
    };
    assert_eq!(info(store, conv, &alice).await, want);
    let as_member = GroupInfo {
        role: Member,
        ..want.clone()
    };
    assert_eq!(info(store, conv, &bob).await, as_member);
    assert_eq!(
        store.group_info(conv, carol.id).await.expect("group_info"),
        None
    );
    assert_eq!(
        store.group_public(conv).await.expect("group_public"),
        None,
        "an invite-only group is not shown to outsiders"
    );
    assert_eq!(groups_of(store, &alice).await, [want]);
    assert_eq!(
        groups_of(store, &bob).await,
        std::slice::from_ref(&as_member)
    );
    assert!(groups_of(store, &carol).await.is_empty());

    let open = NewGroup {
        join_policy: JoinPolicy::Open,
        ..group("open", &[&bob])
    };
    let open = create(store, &carol, &open).await;
    let public = store
        .group_public(open)
        .await
        .expect("group_public")
        .expect("an open group is shown to anyone");
    assert_eq!(public, info(store, open, &bob).await, "as a member sees it");
    assert_eq!(groups_of(store, &bob).await, [as_member, public]);
    assert_eq!(
        store
            .groups_of(bob.id, conv, ALL)
            .await
            .expect("groups_of")
            .len(),
        1
    );

    // A 1:1 conversation is no group.
    let dm = store
        .open_direct(alice.id, bob.id, T0)
        .await
        .expect("open_direct");
    assert_eq!(
        store.group_info(dm, alice.id).await.expect("group_info"),
        None
    );
    assert_eq!(store.group_public(dm).await.expect("group_public"), None);
}

/// Everyone a new group starts with is told on their change stream, with
/// their role; nobody else is.
async fn every_first_member_is_told_it_joined(store: &dyn Store) {
    let [alice, bob, carol, dave] = people(store, ["alice", "bob", "carol", "dave"]).await;
    let new = NewGroup {
        temporary: true,
        ..group("g", &[&bob, &carol])
    };
    let applied = store
        .create_group(alice.id, &new, T0 + 7)
        .await
        .expect("create_group");
    let conv = applied.conv;
    check_written(
        &applied.written,
        vec![
            (&alice, joined(conv, "g", Owner, true)),
            (&bob, joined(conv, "g", Member, true)),
            (&carol, joined(conv, "g", Member, true)),
        ],
    );
    for w in &applied.written {
        assert_eq!(w.change.ts, T0 + 7);
        assert_eq!(
            stream(store, w.user).await,
            std::slice::from_ref(&w.change),
            "stored as returned"
        );
    }
    assert!(stream(store, dave.id).await.is_empty());
}

/// The member limit counts the owner; a group over it is not made.
async fn a_group_over_its_limit_is_refused(store: &dyn Store) {
    let [owner, a, b, c] = people(store, ["owner", "a", "b", "c"]).await;
    let others = [&a, &b, &c];
    // (member limit, members besides the owner, allowed?)
    let cases = [
        (3, 2, true),
        (3, 3, false),
        (1, 0, true),
        (1, 1, false),
        (4, 3, true),
    ];
    let mut made = 0;
    for (limit, n, allowed) in cases {
        let new = NewGroup {
            member_limit: limit,
            ..group("g", &others[..n])
        };
        let result = store.create_group(owner.id, &new, T0).await;
        if allowed {
            result.unwrap_or_else(|e| panic!("limit {limit}, {n} others: {e}"));
            made += 1;
        } else {
            let r = refusal(result);
            assert!(
                matches!(r, Refusal::LimitReached(_)),
                "limit {limit}: {r:?}"
            );
        }
        assert_eq!(
            groups_of(store, &owner).await.len(),
            made,
            "limit {limit}, {n} others"
        );
        assert_eq!(stream(store, owner.id).await.len(), made);
    }
}

/// A group naming a user who does not exist is refused whole: no
/// conversation, no membership, no change for anyone.
async fn a_group_with_an_unknown_user_is_refused_whole(store: &dyn Store) {
    let [alice, bob] = people(store, ["alice", "bob"]).await;
    let ghost = ghost(&[&alice, &bob]);
    let new = NewGroup {
        members: vec![bob.id, ghost],
        ..group("g", &[])
    };
    let r = refusal(store.create_group(alice.id, &new, T0).await);
    assert_eq!(r, Refusal::UnknownUser);
    let r = refusal(store.create_group(ghost, &group("g", &[&bob]), T0).await);
    assert_eq!(r, Refusal::UnknownUser, "an unknown owner");
    for who in [&alice, &bob] {
        assert!(groups_of(store, who).await.is_empty());
        assert!(store.positions(who.id).await.expect("positions").is_empty());
        assert!(stream(store, who.id).await.is_empty());
    }
    // The store goes on as before.
    let conv = create(store, &alice, &group("g", &[&bob])).await;
    assert_eq!(entries(store, conv).await.len(), 1);
}

// ---------------------------------------------------------------------------
// Inviting and joining
// ---------------------------------------------------------------------------

/// An invited member joins right before the invite event, less the
/// `history_visible` entries before it they may read, and has read up to
/// just before it; the inviter has read their own event.
async fn invited_members_see_history_visible_entries(store: &dyn Store) {
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    // (history_visible, messages before the invite); more history than
    // there is shows it all.
    let cases: [(u32, usize); 4] = [(0, 3), (2, 3), (4, 3), (10, 1)];
    for (round, (visible, sent)) in cases.into_iter().enumerate() {
        let new = NewGroup {
            history_visible: visible,
            ..group("g", &[&bob])
        };
        let conv = create(store, &alice, &new).await;
        for i in 0..sent {
            say(store, conv, &bob, &format!("r{round}m{i}"), T0 + 1).await;
        }
        let now = T0 + 10;
        let (applied, ev) = event(store, &alice, conv, GroupOp::Invite(vec![carol.id]), now).await;
        let seq = 2 + sent as Seq;
        assert_eq!(applied.event.as_ref().map(|e| e.seq), Some(seq));
        assert_eq!(
            ev,
            GroupEvent::Invited {
                by: "alice".into(),
                users: names(&[&carol]),
            }
        );
        assert_eq!(applied.came, [carol.id]);
        check_written(
            &applied.written,
            vec![(&carol, joined(conv, "g", Member, false))],
        );

        let joined_seq = (seq - 1 - Seq::from(visible)).max(0);
        let case = format!("history_visible {visible}, {sent} sent");
        assert_eq!(
            entry(store, conv, &carol).await,
            MemberEntry {
                user: carol.id,
                joined_seq,
                muted_until: 0,
                role: Member,
            },
            "{case}"
        );
        let position = store
            .positions(carol.id)
            .await
            .expect("positions")
            .into_iter()
            .find(|p| p.conv == conv)
            .expect("a position in the group");
        assert_eq!(
            (position.last_seq, position.joined_seq),
            (seq, joined_seq),
            "{case}"
        );
        let marks = (
            row(store, &carol, conv).await.expect("listed").read_seq,
            row(store, &alice, conv).await.expect("listed").read_seq,
        );
        assert_eq!(
            marks,
            (seq - 1, seq),
            "{case}: invitee's and inviter's marks"
        );
        assert_eq!(info(store, conv, &carol).await.members, 3);
    }
}

/// An invite of members only writes nothing; an invite of some members
/// and some new people adds the new ones, each once.
async fn re_inviting_members_writes_nothing(store: &dyn Store) {
    let [alice, bob, carol, dave] = people(store, ["alice", "bob", "carol", "dave"]).await;
    let conv = create(store, &alice, &group("g", &[&bob])).await;
    no_op(store, &alice, conv, GroupOp::Invite(vec![bob.id])).await;
    no_op(store, &alice, conv, GroupOp::Invite(vec![bob.id, alice.id])).await;
    let invite = GroupOp::Invite(vec![dave.id, bob.id, carol.id, dave.id]);
    let (applied, ev) = event(store, &alice, conv, invite, T0 + 1).await;
    assert_eq!(
        ev,
        GroupEvent::Invited {
            by: "alice".into(),
            users: names(&[&carol, &dave]),
        }
    );
    assert_eq!(sorted(applied.came), ids(&[&carol, &dave]));
    assert_eq!(roles(store, conv).await.len(), 4);
    assert_eq!(info(store, conv, &bob).await.members, 4);
    no_op(
        store,
        &alice,
        conv,
        GroupOp::Invite(vec![carol.id, dave.id]),
    )
    .await;
    assert_eq!(entries(store, conv).await.len(), 2);
}

/// Who may invite, and an invite that cannot be done whole is not done.
async fn invites_follow_roles_and_the_limit(store: &dyn Store) {
    let [alice, bob, carol, dave, erin] =
        people(store, ["alice", "bob", "carol", "dave", "erin"]).await;
    let ghost = ghost(&[&alice, &bob, &carol, &dave, &erin]);
    let new = NewGroup {
        member_limit: 4,
        ..group("g", &[&bob, &carol])
    };
    let conv = create(store, &alice, &new).await;
    let invite = |users: &[&Who]| GroupOp::Invite(ids(users));
    refused(store, &bob, conv, invite(&[&dave]), Refusal::GroupRole("")).await;
    refused(store, &dave, conv, invite(&[&erin]), Refusal::NotMember).await;
    refused(
        store,
        &alice,
        conv,
        GroupOp::Invite(vec![dave.id, ghost]),
        Refusal::UnknownUser,
    )
    .await;
    // Two would take the group to 5: neither is added.
    refused(
        store,
        &alice,
        conv,
        invite(&[&dave, &erin]),
        Refusal::LimitReached(""),
    )
    .await;

    event(store, &alice, conv, GroupOp::SetRole(bob.id, Admin), T0 + 1).await;
    let (_, ev) = event(store, &bob, conv, invite(&[&dave]), T0 + 2).await;
    assert_eq!(
        ev,
        GroupEvent::Invited {
            by: "bob".into(),
            users: names(&[&dave]),
        },
        "an admin invites"
    );
    assert_eq!(info(store, conv, &alice).await.members, 4);
    refused(
        store,
        &alice,
        conv,
        invite(&[&erin]),
        Refusal::LimitReached(""),
    )
    .await;

    // Only a live group takes invites.
    let dm = store
        .open_direct(alice.id, erin.id, T0)
        .await
        .expect("open_direct");
    refused(store, &alice, dm, invite(&[&bob]), Refusal::NotMember).await;
    refused(
        store,
        &alice,
        conv + dm + 1000,
        invite(&[&bob]),
        Refusal::NotMember,
    )
    .await;
}

/// Anyone may join an open group, once, while there is room; nobody may
/// join an invite-only one.
async fn joining_needs_an_open_group_with_room(store: &dyn Store) {
    let [alice, bob, carol, dave] = people(store, ["alice", "bob", "carol", "dave"]).await;
    let closed = create(store, &alice, &group("closed", &[])).await;
    refused(
        store,
        &bob,
        closed,
        GroupOp::Join(String::new()),
        Refusal::InviteOnly,
    )
    .await;
    refused(
        store,
        &alice,
        closed,
        GroupOp::Join(String::new()),
        Refusal::AlreadyMember,
    )
    .await;

    let new = NewGroup {
        join_policy: JoinPolicy::Open,
        member_limit: 3,
        history_visible: 1,
        ..group("open", &[])
    };
    let open = create(store, &alice, &new).await;
    say(store, open, &alice, "hello", T0 + 1).await;
    let (applied, ev) = event(store, &bob, open, GroupOp::Join(String::new()), T0 + 2).await;
    assert_eq!(
        ev,
        GroupEvent::Joined {
            user: "bob".into(),
            by: None,
        }
    );
    assert_eq!(applied.came, [bob.id]);
    assert!(applied.gone.is_empty());
    check_written(
        &applied.written,
        vec![(&bob, joined(open, "open", Member, false))],
    );
    // Joined at seq 3, seeing one entry before it; the joiner wrote the
    // event, so has read it.
    assert_eq!(entry(store, open, &bob).await.joined_seq, 1);
    assert_eq!(row(store, &bob, open).await.expect("listed").read_seq, 3);

    refused(
        store,
        &bob,
        open,
        GroupOp::Join(String::new()),
        Refusal::AlreadyMember,
    )
    .await;
    event(store, &carol, open, GroupOp::Join(String::new()), T0 + 3).await;
    refused(
        store,
        &dave,
        open,
        GroupOp::Join(String::new()),
        Refusal::LimitReached(""),
    )
    .await;
    assert_eq!(info(store, open, &alice).await.members, 3);
}

// ---------------------------------------------------------------------------
// Leaving and removal
// ---------------------------------------------------------------------------

/// A member who leaves is gone from the group and told so; the owner of a
/// permanent group cannot leave it.
async fn leaving_ends_the_membership(store: &dyn Store) {
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let conv = create(store, &alice, &group("g", &[&bob, &carol])).await;
    let (applied, ev) = event(store, &bob, conv, GroupOp::Leave, T0 + 1).await;
    assert_eq!(
        ev,
        GroupEvent::Left {
            user: "bob".into(),
            owner: None,
        }
    );
    assert_eq!((applied.gone, applied.came), (vec![bob.id], vec![]));
    check_written(
        &applied.written,
        vec![(&bob, left(conv, LeftReason::Left, 2))],
    );
    assert_eq!(
        roles(store, conv).await,
        [(alice.id, Owner), (carol.id, Member)]
    );
    assert_eq!(info(store, conv, &carol).await.members, 2);
    assert!(!store.is_member(bob.id, conv).await.expect("is_member"));
    assert_eq!(
        store.group_info(conv, bob.id).await.expect("group_info"),
        None
    );
    assert!(groups_of(store, &bob).await.is_empty());
    assert_eq!(row(store, &bob, conv).await, None, "gone from bob's list");

    refused(store, &bob, conv, GroupOp::Leave, Refusal::NotMember).await;
    refused(
        store,
        &alice,
        conv,
        GroupOp::Leave,
        Refusal::OwnerMustTransfer,
    )
    .await;
}

/// The owner removes anyone else, an admin plain members only, a member
/// nobody; the removed are told why.
async fn removal_follows_roles(store: &dyn Store) {
    let [owner, admin, admin2, m1, m2, outsider] =
        people(store, ["owner", "admin", "admin2", "m1", "m2", "outsider"]).await;
    let conv = create(store, &owner, &group("g", &[&admin, &admin2, &m1, &m2])).await;
    for a in [&admin, &admin2] {
        event(store, &owner, conv, GroupOp::SetRole(a.id, Admin), T0).await;
    }
    let remove = |who: &Who| GroupOp::Remove(who.id);
    let role = Refusal::GroupRole("");
    refused(store, &admin, conv, remove(&admin2), role).await;
    refused(store, &admin, conv, remove(&owner), role).await;
    refused(store, &m1, conv, remove(&m2), role).await;
    refused(
        store,
        &admin,
        conv,
        remove(&outsider),
        Refusal::TargetNotMember,
    )
    .await;
    refused(store, &outsider, conv, remove(&m1), Refusal::NotMember).await;

    for (i, (actor, target)) in [(&admin, &m1), (&owner, &admin2)].into_iter().enumerate() {
        let (applied, ev) = event(store, actor, conv, remove(target), T0 + 1 + i as i64).await;
        let seq = applied.event.as_ref().expect("event").seq;
        assert_eq!(
            ev,
            GroupEvent::Removed {
                by: actor.name.clone(),
                user: target.name.clone(),
            }
        );
        assert_eq!(applied.gone, [target.id]);
        check_written(
            &applied.written,
            vec![(target, left(conv, LeftReason::Removed, seq))],
        );
        assert!(!store.is_member(target.id, conv).await.expect("is_member"));
    }
    assert_eq!(
        roles(store, conv).await,
        [(owner.id, Owner), (admin.id, Admin), (m2.id, Member)]
    );
    assert_eq!(info(store, conv, &m2).await.members, 3);
}

// ---------------------------------------------------------------------------
// Roles, mutes, nicknames, settings
// ---------------------------------------------------------------------------

/// The owner appoints and demotes admins, and hands the group over: the
/// roles swap and the group names its new owner.
async fn roles_are_set_by_the_owner_and_ownership_transferred(store: &dyn Store) {
    let [alice, bob, carol, dave] = people(store, ["alice", "bob", "carol", "dave"]).await;
    let conv = create(store, &alice, &group("g", &[&bob, &carol])).await;
    let (applied, ev) = event(store, &alice, conv, GroupOp::SetRole(bob.id, Admin), T0).await;
    assert_eq!(
        ev,
        GroupEvent::Role {
            by: "alice".into(),
            user: "bob".into(),
            role: Admin,
        }
    );
    assert!(applied.written.is_empty() && applied.came.is_empty() && applied.gone.is_empty());
    assert_eq!(
        roles(store, conv).await,
        [(alice.id, Owner), (bob.id, Admin), (carol.id, Member)]
    );
    assert_eq!(info(store, conv, &bob).await.role, Admin);
    no_op(store, &alice, conv, GroupOp::SetRole(bob.id, Admin)).await;
    let role = Refusal::GroupRole("");
    refused(store, &bob, conv, GroupOp::SetRole(carol.id, Admin), role).await;
    refused(store, &alice, conv, GroupOp::SetRole(bob.id, Owner), role).await;
    refused(
        store,
        &alice,
        conv,
        GroupOp::SetRole(alice.id, Member),
        role,
    )
    .await;
    refused(
        store,
        &alice,
        conv,
        GroupOp::SetRole(dave.id, Admin),
        Refusal::TargetNotMember,
    )
    .await;
    let (_, ev) = event(store, &alice, conv, GroupOp::SetRole(bob.id, Member), T0).await;
    assert!(
        matches!(ev, GroupEvent::Role { role: Member, .. }),
        "{ev:?}"
    );

    refused(store, &bob, conv, GroupOp::Transfer(carol.id), role).await;
    refused(
        store,
        &alice,
        conv,
        GroupOp::Transfer(dave.id),
        Refusal::TargetNotMember,
    )
    .await;
    let (_, ev) = event(store, &alice, conv, GroupOp::Transfer(carol.id), T0).await;
    assert_eq!(
        ev,
        GroupEvent::Transferred {
            from: "alice".into(),
            to: "carol".into(),
        }
    );
    assert_eq!(
        roles(store, conv).await,
        [(alice.id, Admin), (bob.id, Member), (carol.id, Owner)]
    );
    assert_eq!(info(store, conv, &bob).await.owner, "carol");
    refused(store, &alice, conv, GroupOp::Transfer(bob.id), role).await;
    refused(
        store,
        &carol,
        conv,
        GroupOp::Leave,
        Refusal::OwnerMustTransfer,
    )
    .await;
    // The former owner is an admin now, free to leave.
    event(store, &alice, conv, GroupOp::Leave, T0).await;
}

/// Mutes show in the member set (what send checks read) and the member
/// list; lifting a mute that is not on, or repeating mute-all, is a repeat.
async fn mutes_show_in_the_member_set(store: &dyn Store) {
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let conv = create(store, &alice, &group("g", &[&bob, &carol])).await;
    let until = T0 + 60_000;
    let (_, ev) = event(store, &alice, conv, GroupOp::Mute(bob.id, until), T0 + 1).await;
    assert_eq!(
        ev,
        GroupEvent::Muted {
            by: "alice".into(),
            user: "bob".into(),
            until,
        }
    );
    assert_eq!(entry(store, conv, &bob).await.muted_until, until);
    let listed = store
        .group_members(conv, 0, ALL)
        .await
        .expect("group_members");
    let muted: Vec<Option<i64>> = listed.iter().map(|m| m.muted_until).collect();
    assert_eq!(muted, [None, Some(until), None]);
    refused(
        store,
        &bob,
        conv,
        GroupOp::Mute(carol.id, until),
        Refusal::GroupRole(""),
    )
    .await;

    let (_, ev) = event(store, &alice, conv, GroupOp::Mute(bob.id, 0), T0 + 2).await;
    assert!(matches!(ev, GroupEvent::Muted { until: 0, .. }), "{ev:?}");
    assert_eq!(entry(store, conv, &bob).await.muted_until, 0);
    no_op(store, &alice, conv, GroupOp::Mute(bob.id, 0)).await;
    // A mute that has run out is lifted already.
    event(store, &alice, conv, GroupOp::Mute(carol.id, T0 + 3), T0 + 2).await;
    no_op(store, &alice, conv, GroupOp::Mute(carol.id, 0)).await;

    for on in [true, false] {
        let (_, ev) = event(store, &alice, conv, GroupOp::MuteAll(on), T0 + 4).await;
        assert_eq!(
            ev,
            GroupEvent::MutedAll {
                by: "alice".into(),
                on,
            }
        );
        assert_eq!(member_set(store, conv).await.muted_all, on);
        assert_eq!(info(store, conv, &carol).await.muted_all, on);
        no_op(store, &alice, conv, GroupOp::MuteAll(on)).await;
        refused(
            store,
            &bob,
            conv,
            GroupOp::MuteAll(!on),
            Refusal::GroupRole(""),
        )
        .await;
    }
}

/// Each member sets their own group nickname.
async fn nicknames_are_each_members_own(store: &dyn Store) {
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let conv = create(store, &alice, &group("g", &[&bob])).await;
    let nickname = |s: &str| GroupOp::Nickname(s.into());
    let (_, ev) = event(store, &bob, conv, nickname("小王"), T0).await;
    assert_eq!(
        ev,
        GroupEvent::Nickname {
            user: "bob".into(),
            nickname: "小王".into(),
        }
    );
    let nicknames = || async {
        store
            .group_members(conv, 0, ALL)
            .await
            .expect("group_members")
            .into_iter()
            .map(|m| m.nickname)
            .collect::<Vec<_>>()
    };
    assert_eq!(nicknames().await, ["", "小王"]);
    no_op(store, &bob, conv, nickname("小王")).await;
    event(store, &bob, conv, nickname(""), T0).await;
    assert_eq!(nicknames().await, ["", ""]);
    refused(store, &carol, conv, nickname("x"), Refusal::NotMember).await;
}

/// A settings change records only the fields that change; one that
/// changes none is a repeat.
async fn updates_record_only_what_changed(store: &dyn Store) {
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let new = NewGroup {
        description: "old".into(),
        ..group("g", &[&bob])
    };
    let conv = create(store, &alice, &new).await;
    let asked = GroupFields {
        name: Some("新名字".into()),
        description: Some("old".into()),
        announcement: Some("明天开会".into()),
        ..GroupFields::default()
    };
    let (applied, ev) = event(store, &alice, conv, GroupOp::Update(asked.clone()), T0).await;
    assert_eq!(
        ev,
        GroupEvent::Updated {
            by: "alice".into(),
            fields: GroupFields {
                name: Some("新名字".into()),
                announcement: Some("明天开会".into()),
                ..GroupFields::default()
            },
        }
    );
    let json = applied.event.and_then(|e| e.event).expect("event");
    let keys: BTreeSet<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["type", "by", "name", "announcement"]));
    let seen = info(store, conv, &bob).await;
    assert_eq!(
        (
            seen.name.as_str(),
            seen.description.as_str(),
            seen.announcement.as_str()
        ),
        ("新名字", "old", "明天开会")
    );
    assert_eq!(
        row(store, &bob, conv)
            .await
            .expect("listed")
            .name
            .as_deref(),
        Some("新名字")
    );
    no_op(store, &alice, conv, GroupOp::Update(asked)).await;
    no_op(store, &alice, conv, GroupOp::Update(GroupFields::default())).await;
    let rename = GroupOp::Update(GroupFields {
        name: Some("x".into()),
        ..GroupFields::default()
    });
    refused(store, &bob, conv, rename, Refusal::GroupRole("")).await;

    // Opening the group shows it to outsiders, with its new settings.
    assert_eq!(store.group_public(conv).await.expect("group_public"), None);
    let open = GroupFields {
        join_policy: Some(JoinPolicy::Open),
        history_visible: Some(3),
        ..GroupFields::default()
    };
    event(store, &alice, conv, GroupOp::Update(open), T0).await;
    let public = store
        .group_public(conv)
        .await
        .expect("group_public")
        .expect("open");
    assert_eq!(
        (public.join_policy, public.history_visible),
        (JoinPolicy::Open, 3)
    );
    // Newcomers are told the group's current name.
    let (applied, _) = event(store, &carol, conv, GroupOp::Join(String::new()), T0).await;
    check_written(
        &applied.written,
        vec![(&carol, joined(conv, "新名字", Member, false))],
    );
}

// ---------------------------------------------------------------------------
// Dissolving, temporary groups
// ---------------------------------------------------------------------------

/// The owner dissolves the group: its event is its last entry, everyone
/// is out and told so, and nothing applies to it any more.
async fn dissolving_ends_the_group_for_everyone(store: &dyn Store) {
    let [alice, bob, carol, dave] = people(store, ["alice", "bob", "carol", "dave"]).await;
    let new = NewGroup {
        join_policy: JoinPolicy::Open,
        ..group("g", &[&bob, &carol])
    };
    let conv = create(store, &alice, &new).await;
    event(store, &alice, conv, GroupOp::SetRole(bob.id, Admin), T0).await;
    refused(store, &bob, conv, GroupOp::Dissolve, Refusal::GroupRole("")).await;
    refused(store, &dave, conv, GroupOp::Dissolve, Refusal::NotMember).await;

    let (applied, ev) = event(store, &alice, conv, GroupOp::Dissolve, T0 + 5).await;
    assert_eq!(ev, GroupEvent::Dissolved { by: "alice".into() });
    assert_eq!(applied.event.as_ref().map(|e| e.seq), Some(3));
    assert_eq!(sorted(applied.gone.clone()), ids(&[&alice, &bob, &carol]));
    check_written(
        &applied.written,
        vec![
            (&alice, left(conv, LeftReason::Dissolved, 3)),
            (&bob, left(conv, LeftReason::Dissolved, 3)),
            (&carol, left(conv, LeftReason::Dissolved, 3)),
        ],
    );
    assert_eq!(store.member_set(conv).await.expect("member_set"), None);
    assert!(store.members(conv).await.expect("members").is_empty());
    for who in [&alice, &bob, &carol] {
        assert_eq!(
            store.group_info(conv, who.id).await.expect("group_info"),
            None
        );
        assert!(groups_of(store, who).await.is_empty());
        assert_eq!(row(store, who, conv).await, None);
    }
    assert_eq!(store.group_public(conv).await.expect("group_public"), None);
    // Joining it (it was open) finds no group.
    refused(
        store,
        &dave,
        conv,
        GroupOp::Join(String::new()),
        Refusal::NotMember,
    )
    .await;
    refused(store, &alice, conv, GroupOp::Dissolve, Refusal::NotMember).await;
    assert_eq!(
        entries(store, conv).await.len(),
        3,
        "the dissolved event stays last"
    );
}

/// A temporary group: any member brings people in; the owner may leave,
/// and an admin (else the earliest member) takes over; the last member
/// to leave dissolves it.
async fn a_temporary_group_lives_while_anyone_is_in_it(store: &dyn Store) {
    // Erin has the lowest id but joins last: the successor is by joining
    // order, not by id.
    let [erin, alice, bob, carol, dave] =
        people(store, ["erin", "alice", "bob", "carol", "dave"]).await;
    let new = NewGroup {
        temporary: true,
        join_policy: JoinPolicy::Open,
        ..group("temp", &[&bob, &carol, &dave])
    };
    let conv = create(store, &alice, &new).await;
    let (applied, _) = event(store, &bob, conv, GroupOp::Invite(vec![erin.id]), T0).await;
    check_written(
        &applied.written,
        vec![(&erin, joined(conv, "temp", Member, true))],
    );
    event(store, &alice, conv, GroupOp::SetRole(dave.id, Admin), T0).await;

    // (who leaves, the owner after it): an admin first; then, with none
    // left, whoever joined first (bob and carol at once: the lower id).
    let steps = [
        (&alice, &dave),
        (&dave, &bob),
        (&carol, &bob),
        (&bob, &erin),
    ];
    let mut previous_owner = alice.id;
    for (leaver, owner) in steps {
        let (applied, ev) = event(store, leaver, conv, GroupOp::Leave, T0).await;
        // The event names the new owner when the owner left.
        let handed_on = previous_owner == leaver.id;
        assert_eq!(
            ev,
            GroupEvent::Left {
                user: leaver.name.clone(),
                owner: handed_on.then(|| owner.name.clone()),
            }
        );
        previous_owner = owner.id;
        let seq = applied.event.as_ref().expect("event").seq;
        check_written(
            &applied.written,
            vec![(leaver, left(conv, LeftReason::Left, seq))],
        );
        let now = roles(store, conv).await;
        let owners: Vec<UserId> = now
            .iter()
            .filter(|(_, r)| *r == Owner)
            .map(|(u, _)| *u)
            .collect();
        assert_eq!(owners, [owner.id], "after {} left", leaver.name);
        assert_eq!(info(store, conv, owner).await.owner, owner.name);
        assert_eq!(info(store, conv, owner).await.members, now.len() as i64);
    }
    let (applied, ev) = event(store, &erin, conv, GroupOp::Leave, T0).await;
    assert_eq!(
        ev,
        GroupEvent::Left {
            user: "erin".into(),
            owner: None,
        }
    );
    let seq = applied.event.as_ref().expect("event").seq;
    assert_eq!(applied.gone, [erin.id]);
    check_written(
        &applied.written,
        vec![(&erin, left(conv, LeftReason::Left, seq))],
    );
    assert_eq!(store.member_set(conv).await.expect("member_set"), None);
    assert_eq!(
        store.group_info(conv, erin.id).await.expect("group_info"),
        None
    );
    assert_eq!(
        store.group_public(conv).await.expect("group_public"),
        None,
        "dissolved"
    );
    refused(
        store,
        &alice,
        conv,
        GroupOp::Join(String::new()),
        Refusal::NotMember,
    )
    .await;
}

// ---------------------------------------------------------------------------
// One sequence, the conversation list, the membership version
// ---------------------------------------------------------------------------

/// One step of a scripted conversation.
enum Step<'a> {
    /// Messages in one batch.
    Say(&'a [(&'a Who, &'a str)]),
    /// A change that writes an event.
    Change(&'a Who, GroupOp),
    /// A change that writes nothing.
    Repeat(&'a Who, GroupOp),
}

/// Events and messages take the next seq of one sequence, whichever way
/// they are written, and the conversation list shows the group by name
/// with its newest entry, event or message.
async fn events_and_messages_share_one_sequence(store: &dyn Store) {
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let conv = create(store, &alice, &group("研发群", &[&bob])).await;
    let steps = [
        Step::Say(&[(&alice, "hello"), (&bob, "hi")]),
        Step::Change(&alice, GroupOp::Invite(vec![carol.id])),
        Step::Say(&[(&carol, "hey")]),
        Step::Change(&alice, GroupOp::MuteAll(true)),
        Step::Repeat(&alice, GroupOp::MuteAll(true)),
        Step::Repeat(&alice, GroupOp::Invite(vec![carol.id])),
        Step::Say(&[(&alice, "a2"), (&alice, "a3"), (&bob, "b2")]),
        Step::Change(&bob, GroupOp::Nickname("b".into())),
        Step::Say(&[(&bob, "last")]),
    ];
    // Who wrote each entry and whether it is an event, by seq from 1.
    let mut want: Vec<(String, MessageKind)> = vec![("alice".into(), MessageKind::Event)];
    let mut ts = T0;
    for step in steps {
        ts += 1;
        let next = want.len() as Seq + 1;
        match step {
            Step::Say(said) => {
                let batch: Vec<NewMessage> =
                    said.iter().map(|(w, s)| text(conv, w, s, ts)).collect();
                let done = commit(
                    store,
                    WriteBatch {
                        messages: batch,
                        ..WriteBatch::default()
                    },
                )
                .await;
                let seqs: Vec<Seq> = done.appended.iter().map(|a| a.seq).collect();
                let gapless: Vec<Seq> = (next..next + said.len() as Seq).collect();
                assert_eq!(seqs, gapless, "{said:?}");
                want.extend(
                    said.iter()
                        .map(|(w, _)| (w.name.clone(), MessageKind::Text)),
                );
            }
            Step::Change(actor, op) => {
                let (applied, _) = event(store, actor, conv, op, ts).await;
                assert_eq!(applied.event.map(|e| e.seq), Some(next));
                want.push((actor.name.clone(), MessageKind::Event));
            }
            Step::Repeat(actor, op) => no_op(store, actor, conv, op).await,
        }
    }
    let stored = entries(store, conv).await;
    let got: Vec<(String, MessageKind)> = stored.iter().map(|m| (m.from.clone(), m.kind)).collect();
    assert_eq!(got, want);

    let last = stored.last().expect("entries");
    let listed = ConvSummary {
        conv,
        kind: ConvKind::Group,
        peer: None,
        name: Some("研发群".into()),
        avatar: Some(String::new()),
        last_seq: last.seq,
        read_seq: last.seq,
        active_ts: last.ts,
        last: Some(LastMessage {
            msg_id: last.msg_id,
            seq: last.seq,
            kind: MessageKind::Text,
            from: "bob".into(),
            excerpt: "last".into(),
            truncated: false,
            ts: last.ts,
            recalled: false,
        }),
        mentioned: false,
        quiet_unread: 0,
        pinned: false,
        muted_until: 0,
        marked_unread: false,
        draft: String::new(),
    };
    assert_eq!(row(store, &bob, conv).await, Some(listed.clone()));
    assert_eq!(
        row(store, &carol, conv).await.map(|r| (r.kind, r.name)),
        Some((ConvKind::Group, listed.name.clone()))
    );

    // With an event newest, the list shows it, without a text excerpt.
    let announce = GroupOp::Update(GroupFields {
        announcement: Some("read me".into()),
        ..GroupFields::default()
    });
    let (applied, _) = event(store, &alice, conv, announce, ts + 1).await;
    let ev = applied.event.expect("event");
    assert_eq!(
        row(store, &bob, conv).await.and_then(|r| r.last),
        Some(LastMessage {
            msg_id: ev.msg_id,
            seq: ev.seq,
            kind: MessageKind::Event,
            from: "alice".into(),
            excerpt: String::new(),
            truncated: false,
            ts: ts + 1,
            recalled: false,
        })
    );
}

/// A batch that writes to a group and asks for its membership version
/// reads the seq of its newest group event, inside the batch: messages do
/// not move it, events do. (The server asks for the groups a batch writes
/// to, so every batch here has a message.)
async fn a_batch_reads_the_membership_version(store: &dyn Store) {
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let conv = create(store, &alice, &group("g", &[&bob])).await;
    let dm = store
        .open_direct(alice.id, carol.id, T0)
        .await
        .expect("open_direct");
    let done = commit(
        store,
        WriteBatch {
            messages: vec![text(conv, &alice, "m1", T0), text(conv, &bob, "m2", T0)],
            versions: vec![conv, dm],
            ..WriteBatch::default()
        },
    )
    .await;
    let seqs: Vec<Seq> = done.appended.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(
        done.versions.into_iter().collect::<BTreeMap<_, _>>(),
        BTreeMap::from([(conv, 1), (dm, 0)]),
        "the created event's seq; a 1:1 conversation's members never change"
    );

    // One message from bob with the version read beside it.
    let mut sent = 0;
    let mut version_with_a_message = async || {
        sent += 1;
        let batch = WriteBatch {
            messages: vec![text(conv, &bob, &format!("b{sent}"), T0)],
            versions: vec![conv],
            ..WriteBatch::default()
        };
        let done = commit(store, batch).await;
        assert_eq!(done.versions.len(), 1);
        let (of, version) = done.versions[0];
        assert_eq!(of, conv);
        assert!(
            version < done.appended[0].seq,
            "an event before the message"
        );
        version
    };
    assert_eq!(version_with_a_message().await, 1, "messages do not move it");
    let mut last = 1;
    for op in [GroupOp::Invite(vec![carol.id]), GroupOp::MuteAll(true)] {
        let (applied, _) = event(store, &alice, conv, op, T0).await;
        let seq = applied.event.expect("event").seq;
        assert!(seq > last);
        assert_eq!(version_with_a_message().await, seq);
        assert_eq!(member_set(store, conv).await.version, seq);
        last = seq;
    }
    no_op(store, &alice, conv, GroupOp::MuteAll(true)).await;
    say(store, conv, &carol, "c1", T0).await;
    assert_eq!(
        version_with_a_message().await,
        last,
        "a repeat does not move it"
    );
}

/// A group as it was, after the database is closed and opened again:
/// entries, members with their roles, mutes and nicknames, settings; and
/// its sequence carries on from where it was.
async fn groups_survive_reopen<H: Harness>(harness: H) {
    let store = harness.store();
    let [alice, bob, carol] = people(store, ["alice", "bob", "carol"]).await;
    let new = NewGroup {
        temporary: true,
        history_visible: 7,
        ..group("群", &[&bob])
    };
    let conv = create(store, &alice, &new).await;
    say(store, conv, &bob, "hi", T0 + 1).await;
    event(store, &alice, conv, GroupOp::Invite(vec![carol.id]), T0 + 2).await;
    event(
        store,
        &alice,
        conv,
        GroupOp::Mute(bob.id, T0 + 9_000),
        T0 + 3,
    )
    .await;
    event(store, &carol, conv, GroupOp::Nickname("c".into()), T0 + 4).await;
    event(store, &alice, conv, GroupOp::MuteAll(true), T0 + 5).await;
    let before = (snapshot(store, conv).await, info(store, conv, &carol).await);

    let harness = harness.reopen().await;
    let store = harness.store();
    assert_eq!(
        (snapshot(store, conv).await, info(store, conv, &carol).await),
        before
    );
    let (applied, _) = event(store, &bob, conv, GroupOp::Leave, T0 + 6).await;
    assert_eq!(applied.event.map(|e| e.seq), Some(7));
    harness.close().await;
}

// ---------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------

/// `call` again while it fails for a transient reason, at most 100 times:
/// for message batches, which may be told to try again (nothing written)
/// as in tests/store.rs. Group changes in the races are not retried: they
/// take the conversation's lock before reading anything, so they never
/// collide with each other or with a batch; a transient failure there
/// (typically two writers taking the same seq, caught by the unique key)
/// would mean the lock is missing.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Err(StoreError::Unavailable(_)) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

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
async fn two_nodes<H: Harness>(harness: &H) -> [Arc<SqlStore>; 2] {
    [
        Arc::new(harness.another_node().await),
        Arc::new(harness.another_node().await),
    ]
}

async fn close_nodes(nodes: [Arc<SqlStore>; 2]) {
    for node in nodes {
        Store::close(&*node).await;
    }
}

/// What one joiner does, by their number: join and leave a few times,
/// and the odd-numbered ones join once more, so they end as members.
fn schedule(i: usize) -> Vec<GroupOp> {
    const CYCLES: usize = 3;
    let mut ops = Vec::new();
    for _ in 0..CYCLES {
        ops.extend([GroupOp::Join(String::new()), GroupOp::Leave]);
    }
    if i % 2 == 1 {
        ops.push(GroupOp::Join(String::new()));
    }
    ops
}

/// The race: from two nodes at once, users join and leave an open
/// group, its owner removes members, and batches of messages go in. No
/// group change fails (see [`retrying`]); every entry gets exactly one seq
/// with no gaps; every join, leave and removal is one event; replaying the
/// events gives the member set the store reports (and its count); each
/// batch read the version of the newest event before its messages; and
/// each user's change stream says the same.
async fn joins_leaves_removals_and_sends_from_two_nodes<H: Harness>(harness: H) {
    const JOINERS: usize = 8;
    const REMOVED: usize = 4;
    const BATCHES: usize = 6;
    const PER_BATCH: usize = 3;
    let store = harness.store();
    let owner = who(store, "owner").await;
    let mut joiners = Vec::new();
    for i in 0..JOINERS {
        joiners.push(who(store, &format!("j{i}")).await);
    }
    let mut removed = Vec::new();
    for i in 0..REMOVED {
        removed.push(who(store, &format!("r{i}")).await);
    }
    let new = NewGroup {
        join_policy: JoinPolicy::Open,
        ..group("race", &removed.iter().collect::<Vec<_>>())
    };
    let conv = create(store, &owner, &new).await;
    let nodes = two_nodes(&harness).await;
    let start = Arc::new(Barrier::new(JOINERS + 1 + 2));

    let mut members_tasks = Vec::new();
    for (i, j) in joiners.iter().enumerate() {
        let (node, start, id) = (nodes[i % 2].clone(), start.clone(), j.id);
        members_tasks.push(tokio::spawn(async move {
            start.wait().await;
            for op in schedule(i) {
                node.apply_group(id, conv, &op, T0)
                    .await
                    .unwrap_or_else(|e| panic!("j{i}: {op:?}: {e}"));
            }
        }));
    }
    let (node, go, by) = (nodes[1].clone(), start.clone(), owner.id);
    let victims = ids(&removed.iter().collect::<Vec<_>>());
    members_tasks.push(tokio::spawn(async move {
        go.wait().await;
        for victim in victims {
            node.apply_group(by, conv, &GroupOp::Remove(victim), T0)
                .await
                .unwrap_or_else(|e| panic!("remove {victim}: {e}"));
        }
    }));
    let mut senders = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        let (node, start, sender) = (node.clone(), start.clone(), owner.clone());
        senders.push(tokio::spawn(async move {
            start.wait().await;
            let mut done = Vec::new();
            for b in 0..BATCHES {
                let batch = WriteBatch {
                    messages: (0..PER_BATCH)
                        .map(|k| text(conv, &sender, &format!("n{n}b{b}m{k}"), T0))
                        .collect(),
                    versions: vec![conv],
                    ..WriteBatch::default()
                };
                // A retry resends the same cmids: never stored twice.
                let committed = retrying(|| node.commit_batch(&batch))
                    .await
                    .unwrap_or_else(|e| panic!("node {n} batch {b}: {e}"));
                done.push(committed);
            }
            done
        }));
    }
    for task in members_tasks {
        task.await.expect("membership task");
    }
    let mut batches = Vec::new();
    for task in senders {
        batches.extend(task.await.expect("sender task"));
    }
    close_nodes(nodes).await;

    // Every entry once, gapless (checked by `entries`), and as many as
    // were written.
    let stored = entries(store, conv).await;
    let changes: usize = (0..JOINERS).map(|i| schedule(i).len()).sum();
    let sent = 2 * BATCHES * PER_BATCH;
    assert_eq!(stored.len(), 1 + changes + REMOVED + sent);
    let cmids: BTreeSet<&str> = stored
        .iter()
        .filter(|m| m.kind == MessageKind::Text)
        .map(|m| m.cmid.as_str())
        .collect();
    assert_eq!(cmids.len(), sent, "each message stored once");

    // Replay the events in seq order: a join only by a non-member, a
    // leave or removal only of a member.
    let mut everyone: Vec<&Who> = vec![&owner];
    everyone.extend(&joiners);
    everyone.extend(&removed);
    let id_of: BTreeMap<&str, UserId> = everyone.iter().map(|w| (w.name.as_str(), w.id)).collect();
    let mut members: BTreeSet<UserId> = BTreeSet::new();
    let mut history: BTreeMap<UserId, Vec<(&str, Seq)>> = BTreeMap::new();
    let mut event_seqs = Vec::new();
    for m in stored.iter().filter(|m| m.kind == MessageKind::Event) {
        event_seqs.push(m.seq);
        let (user, what) = match event_of(m) {
            GroupEvent::Created { members: first, .. } => {
                members.extend(first.iter().map(|n| id_of[n.as_str()]));
                continue;
            }
            GroupEvent::Joined { user, .. } => (id_of[user.as_str()], "joined"),
            GroupEvent::Left { user, .. } => (id_of[user.as_str()], "left"),
            GroupEvent::Removed { user, by } => {
                assert_eq!(by, "owner");
                (id_of[user.as_str()], "removed")
            }
            other => panic!("seq {}: unexpected {other:?}", m.seq),
        };
        let was = if what == "joined" {
            members.insert(user)
        } else {
            members.remove(&user)
        };
        assert!(
            was,
            "seq {}: {what} by user {user} at odds with the membership",
            m.seq
        );
        history.entry(user).or_default().push((what, m.seq));
    }
    for (i, j) in joiners.iter().enumerate() {
        let want: Vec<&str> = schedule(i)
            .iter()
            .map(|op| {
                if matches!(op, GroupOp::Join(_)) {
                    "joined"
                } else {
                    "left"
                }
            })
            .collect();
        let got: Vec<&str> = history[&j.id].iter().map(|(what, _)| *what).collect();
        assert_eq!(got, want, "{}'s events, once each, in order", j.name);
    }
    for r in &removed {
        assert_eq!(history[&r.id].len(), 1, "{} removed once", r.name);
    }
    let mut want: BTreeSet<UserId> = BTreeSet::from([owner.id]);
    want.extend(
        joiners
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, j)| j.id),
    );
    assert_eq!(members, want, "the events replayed");
    let set = member_set(store, conv).await;
    let ids_in_set: BTreeSet<UserId> = set.members.iter().map(|m| m.user).collect();
    assert_eq!(ids_in_set, want, "the member set converged");
    assert_eq!(set.version, *event_seqs.last().expect("events"));
    assert_eq!(info(store, conv, &owner).await.members, want.len() as i64);

    // Each batch's messages are consecutive, and the version it read is
    // that of the newest event before them.
    for done in &batches {
        let first = done.appended[0].seq;
        let seqs: Vec<Seq> = done.appended.iter().map(|a| a.seq).collect();
        assert_eq!(seqs, (first..first + PER_BATCH as Seq).collect::<Vec<_>>());
        let before = event_seqs.iter().copied().filter(|&s| s < first).max();
        assert_eq!(done.versions, [(conv, before.expect("created first"))]);
    }

    // Each user was told of every join and departure, at its event's seq.
    for who in joiners.iter().chain(&removed) {
        let told: Vec<(&str, Option<Seq>)> = events(store, who)
            .await
            .iter()
            .map(|e| match e {
                ChangeEvent::GroupJoined(_) => ("joined", None),
                ChangeEvent::GroupLeft(l) if l.reason == LeftReason::Left => {
                    ("left", Some(l.last_seq))
                }
                ChangeEvent::GroupLeft(l) => ("removed", Some(l.last_seq)),
                other => panic!("{}: unexpected {other:?}", who.name),
            })
            .collect();
        let mut want: Vec<(&str, Option<Seq>)> = Vec::new();
        if removed.iter().any(|r| r.id == who.id) {
            want.push(("joined", None)); // by the group's creation
        }
        for &(what, seq) in &history[&who.id] {
            want.push((what, (what != "joined").then_some(seq)));
        }
        assert_eq!(told, want, "{}'s change stream", who.name);
    }
    harness.close().await;
}

/// Two nodes fill a group's last place at once, by invites (from the
/// owner and an admin) or by joins: one gets in, the other is refused.
async fn two_nodes_race_for_the_last_place<H: Harness>(harness: H) {
    let store = harness.store();
    let nodes = two_nodes(&harness).await;
    for round in 0..ROUNDS {
        let names = ["owner", "admin", "x", "y"].map(|n| format!("{n}{round}"));
        let [owner, admin, x, y] = people(store, names.each_ref().map(String::as_str)).await;
        let by_join = round % 2 == 0;
        let new = NewGroup {
            member_limit: 3,
            join_policy: if by_join {
                JoinPolicy::Open
            } else {
                JoinPolicy::Invite
            },
            ..group("g", &[&admin])
        };
        let conv = create(store, &owner, &new).await;
        event(store, &owner, conv, GroupOp::SetRole(admin.id, Admin), T0).await;
        let [n1, n2] = nodes.clone();
        let (x_op, y_op) = if by_join {
            (
                (x.id, GroupOp::Join(String::new())),
                (y.id, GroupOp::Join(String::new())),
            )
        } else {
            (
                (owner.id, GroupOp::Invite(vec![x.id])),
                (admin.id, GroupOp::Invite(vec![y.id])),
            )
        };
        let (rx, ry) = at_once(
            async move { n1.apply_group(x_op.0, conv, &x_op.1, T0).await },
            async move { n2.apply_group(y_op.0, conv, &y_op.1, T0).await },
        )
        .await;
        let (winner, loser) = match (rx, ry) {
            (Ok(_), lost) => (&x, lost),
            (lost, Ok(_)) => (&y, lost),
            (a, b) => panic!("round {round}: neither got in: {a:?}, {b:?}"),
        };
        let r = refusal(loser);
        assert!(
            matches!(r, Refusal::LimitReached(_)),
            "round {round}: {r:?}"
        );
        assert_eq!(
            roles(store, conv)
                .await
                .into_iter()
                .map(|(u, _)| u)
                .collect::<BTreeSet<_>>(),
            BTreeSet::from([owner.id, admin.id, winner.id]),
            "round {round}"
        );
        assert_eq!(info(store, conv, &owner).await.members, 3);
        assert_eq!(entries(store, conv).await.len(), 3, "round {round}");
    }
    close_nodes(nodes).await;
    harness.close().await;
}

// ---------------------------------------------------------------------------
// The suite, per backend
// ---------------------------------------------------------------------------

common::contract_suite! {
    store: [
        a_group_begins_with_its_created_event,
        a_new_group_has_its_owner_and_members,
        group_info_is_for_members,
        every_first_member_is_told_it_joined,
        a_group_over_its_limit_is_refused,
        a_group_with_an_unknown_user_is_refused_whole,
        invited_members_see_history_visible_entries,
        re_inviting_members_writes_nothing,
        invites_follow_roles_and_the_limit,
        joining_needs_an_open_group_with_room,
        leaving_ends_the_membership,
        removal_follows_roles,
        roles_are_set_by_the_owner_and_ownership_transferred,
        mutes_show_in_the_member_set,
        nicknames_are_each_members_own,
        updates_record_only_what_changed,
        dissolving_ends_the_group_for_everyone,
        a_temporary_group_lives_while_anyone_is_in_it,
        events_and_messages_share_one_sequence,
        a_batch_reads_the_membership_version,
    ],
    harness: [
        groups_survive_reopen,
        joins_leaves_removals_and_sends_from_two_nodes,
        two_nodes_race_for_the_last_place,
    ],
}
