//! Groups end to end, through the client library on both transports:
//! creating, sending and catching up; every membership change as an event
//! in the group's sequence and in the change stream of who came or went;
//! removed members getting nothing after their removal; newcomers seeing
//! history from their join; every refusal of the role rules; bad input;
//! and joins and leaves racing with sends.

mod common;

use common::*;
use magpie_client::{Client, SyncState};
use magpie_proto::{
    ChangeEvent, ConvKind, GroupCreate, GroupEvent, GroupFields, GroupRole, History, JoinOutcome,
    JoinPolicy, LeftReason, Message, MessageKind, Push, ReadBy, ReadCount,
};
use std::collections::BTreeSet;

on_both_transports!(
    a_group_message_reaches_every_member_once_and_in_order,
    membership_changes_are_events_in_the_sequence_and_changes_of_who_came_or_went,
    a_removed_member_gets_nothing_after_and_cannot_read_or_send,
    newcomers_see_history_from_their_join,
    the_role_rules_refuse_what_a_role_may_not_do,
    mutes_silence_members_but_not_admins,
    dissolving_ends_the_group_for_everyone,
    bad_group_input_gets_clear_errors,
    joins_and_leaves_racing_with_sends_keep_the_sequence_and_converge,
    read_receipts_count_readers_in_a_group_and_reach_the_peer_in_1_1,
    join_requests_are_approved_or_rejected_and_the_applicant_is_told,
    mentions_flag_the_mentioned_until_they_read_past_them,
);

/// The `event` of an entry, parsed.
fn event_of(m: &Message) -> GroupEvent {
    assert_eq!(m.kind, MessageKind::Event, "{m:?}");
    GroupEvent::parse(m.event.as_ref().expect("event object")).expect("a known event")
}

/// The next message push that belongs to `conv`.
async fn next_in(client: &mut Client, conv: i64) -> Message {
    loop {
        let m = next_message(client).await;
        if m.conv == conv {
            return m;
        }
    }
}

/// Everything `client` may read of `conv`, oldest first.
async fn whole_history(client: &Client, conv: i64) -> Vec<Message> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = client
            .history(History {
                conv: Some(conv),
                before,
                limit: Some(500),
                ..History::default()
            })
            .await
            .expect("history");
        let first = page.messages.first().map(|m| m.seq);
        all.splice(0..0, page.messages);
        match (page.more, first) {
            (true, Some(seq)) => before = Some(seq),
            _ => return all,
        }
    }
}

/// A group of `owner` with `members`, invite-only.
async fn group(owner: &Client, name: &str, members: &[&str]) -> i64 {
    owner
        .group_create(GroupCreate {
            name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            ..GroupCreate::default()
        })
        .await
        .expect("group_create")
        .conv
}

async fn a_group_message_reaches_every_member_once_and_in_order(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, c) = (unique("ga"), unique("gb"), unique("gc"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let (mut bob_phone, _) = user(&url, &b).await;
    // Carol exists but stays offline until the end.
    drop(user(&url, &c).await);

    let info = alice
        .group_create(GroupCreate {
            name: "研发群 🐦".into(),
            members: vec![b.clone(), c.clone()],
            ..GroupCreate::default()
        })
        .await
        .expect("create");
    assert_eq!(
        (info.role, info.members, info.max_seq),
        (GroupRole::Owner, 3, 1)
    );
    let conv = info.conv;
    // The `created` event is entry 1, pushed to every device of members.
    for device in [&mut bob, &mut bob_phone] {
        let created = next_in(device, conv).await;
        assert_eq!(created.seq, 1);
        assert!(
            matches!(event_of(&created), GroupEvent::Created { by, members, .. }
                if by == a && members == vec![a.clone(), b.clone(), c.clone()])
        );
    }

    let mut acks = Vec::new();
    for i in 0..20 {
        acks.push(
            alice
                .send_to_conv(conv, &format!("m{i}"))
                .await
                .expect("send"),
        );
    }
    let seqs: Vec<i64> = acks.iter().map(|a| a.seq).collect();
    assert_eq!(
        seqs,
        (2..=21).collect::<Vec<_>>(),
        "the group's own gapless seqs"
    );
    for device in [&mut bob, &mut bob_phone] {
        for (i, ack) in acks.iter().enumerate() {
            let m = next_in(device, conv).await;
            assert_eq!(
                (m.seq, m.body.as_str(), m.from.as_str()),
                (ack.seq, &*format!("m{i}"), &*a)
            );
        }
    }
    // One device's send reaches the user's other device and the others.
    let ack = bob.send_to_conv(conv, "from bob").await.expect("bob sends");
    assert_eq!(next_in(&mut bob_phone, conv).await.seq, ack.seq);

    // Carol catches up with the same `sync` as for 1:1: everything, in
    // order, once.
    let (carol, _) = user(&url, &c).await;
    let mut state = SyncState::new();
    let caught: Vec<Message> = state
        .catch_up(&carol)
        .await
        .expect("catch up")
        .into_iter()
        .filter(|m| m.conv == conv)
        .collect();
    assert_eq!(
        caught.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=22).collect::<Vec<_>>()
    );
    // The conversation list names the group, with the unread count.
    let rows = carol.conversations().await.expect("conversations");
    let row = rows.iter().find(|r| r.conv == conv).expect("listed");
    assert_eq!(
        (row.kind, row.name.as_deref(), row.unread),
        (ConvKind::Group, Some("研发群 🐦"), 22)
    );
    let groups = carol.groups().await.expect("groups");
    assert_eq!(groups.iter().map(|g| g.conv).collect::<Vec<_>>(), [conv]);
    assert_eq!(groups[0].role, GroupRole::Member);
}

async fn membership_changes_are_events_in_the_sequence_and_changes_of_who_came_or_went(
    t: Transport,
) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, d) = (unique("ma"), unique("mb"), unique("md"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    // Dave is offline when he is added.
    drop(user(&url, &d).await);
    let conv = group(&alice, "team", &[&b]).await;
    next_in(&mut bob, conv).await;

    let invited = alice.group_invite(conv, &[&d]).await.expect("invite");
    assert_eq!(invited.seq, Some(2));
    let m = next_in(&mut bob, conv).await;
    assert!(
        matches!(event_of(&m), GroupEvent::Invited { by, users } if by == a && users == vec![d.clone()])
    );
    // Inviting a member again changes nothing and writes nothing.
    assert_eq!(
        alice.group_invite(conv, &[&d]).await.expect("again").seq,
        None
    );

    alice
        .group_role(conv, &b, GroupRole::Admin)
        .await
        .expect("make admin");
    assert!(matches!(event_of(&next_in(&mut bob, conv).await),
        GroupEvent::Role { user, role: GroupRole::Admin, .. } if user == b));
    alice
        .group_set(
            conv,
            GroupFields {
                name: Some("核心组".into()),
                announcement: Some("周五发布\n请准时".into()),
                ..GroupFields::default()
            },
        )
        .await
        .expect("set");
    assert!(matches!(event_of(&next_in(&mut bob, conv).await),
        GroupEvent::Updated { fields, .. } if fields.name.as_deref() == Some("核心组") && fields.description.is_none()));
    bob.group_nickname(conv, "小鲍").await.expect("nickname");
    alice.group_transfer(conv, &b).await.expect("transfer");
    assert!(matches!(
        event_of(&next_in(&mut bob, conv).await),
        GroupEvent::Nickname { .. }
    ));
    assert!(matches!(event_of(&next_in(&mut bob, conv).await),
        GroupEvent::Transferred { from, to } if from == a && to == b));
    let info = bob.group_info(conv).await.expect("info");
    assert_eq!(
        (info.owner.as_str(), info.role, info.name.as_str()),
        (&*b, GroupRole::Owner, "核心组")
    );
    assert_eq!(info.announcement, "周五发布\n请准时");
    let members = bob.group_members(conv).await.expect("members");
    let roles: Vec<(&str, GroupRole, &str)> = members
        .iter()
        .map(|m| (m.user.as_str(), m.role, m.nickname.as_str()))
        .collect();
    assert!(roles.contains(&(&*a, GroupRole::Admin, "")), "{roles:?}");
    assert!(
        roles.contains(&(&*b, GroupRole::Owner, "小鲍")),
        "{roles:?}"
    );
    assert!(roles.contains(&(&*d, GroupRole::Member, "")), "{roles:?}");
    // With presence: alice is connected, dave is not.
    let status = |name: &str| members.iter().find(|m| m.user == name).map(|m| m.status);
    assert_eq!(status(&a), Some(magpie_proto::Status::Online));
    assert_eq!(status(&d), Some(magpie_proto::Status::Offline));

    // Dave, offline throughout, finds the group through his change stream
    // and its events through sync.
    let (dave, _) = user(&url, &d).await;
    let changes = dave.catch_up_changes(0).await.expect("changes").changes;
    assert!(changes.iter().any(|c| matches!(&c.event,
        ChangeEvent::GroupJoined(card) if card.conv == conv && card.role == GroupRole::Member)));
    let mut state = SyncState::new();
    let seen: Vec<i64> = state
        .catch_up(&dave)
        .await
        .expect("catch up")
        .iter()
        .filter(|m| m.conv == conv)
        .map(|m| m.seq)
        .collect();
    assert_eq!(seen.first(), Some(&2), "from his own `invited` on");
    assert_eq!(seen, (2..=6).collect::<Vec<_>>());

    // Leaving: the leaver's other devices learn it from the stream too.
    let (mut dave_phone, _) = user(&url, &d).await;
    dave.group_leave(conv).await.expect("leave");
    let change = next_change(&mut dave_phone).await;
    assert!(matches!(change.event, ChangeEvent::GroupLeft(left)
        if left.conv == conv && left.reason == LeftReason::Left && left.last_seq == 7));
    assert!(
        matches!(event_of(&next_in(&mut bob, conv).await), GroupEvent::Left { user, .. } if user == d)
    );
}

async fn a_removed_member_gets_nothing_after_and_cannot_read_or_send(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, m) = (unique("ra"), unique("rb"), unique("rm"));
    let (alice, _) = user(&url, &a).await;
    let (mut bob, _) = user(&url, &b).await;
    let (marker, _) = user(&url, &m).await;
    let conv = group(&alice, "room", &[&b]).await;
    next_in(&mut bob, conv).await;
    alice.send_to_conv(conv, "before").await.expect("send");
    assert_eq!(next_in(&mut bob, conv).await.body, "before");

    alice.group_remove(conv, &b).await.expect("remove");
    // The removal is the last entry bob gets, and his stream says so.
    let removed = next_in(&mut bob, conv).await;
    assert!(matches!(event_of(&removed), GroupEvent::Removed { by, user } if by == a && user == b));
    let change = next_change(&mut bob).await;
    assert!(matches!(change.event, ChangeEvent::GroupLeft(left)
        if left.conv == conv && left.reason == LeftReason::Removed));

    alice.send_to_conv(conv, "after").await.expect("send after");
    // Nothing of the group reaches bob: the marker's message comes first.
    assert_no_push_before_marker(&mut bob, &marker, &b).await;
    assert_eq!(
        code_of(bob.send_to_conv(conv, "still here?").await),
        "unknown_conversation"
    );
    assert_eq!(
        code_of(
            bob.history(History {
                conv: Some(conv),
                ..History::default()
            })
            .await
        ),
        "unknown_conversation"
    );
    assert_eq!(
        code_of(bob.group_members(conv).await),
        "unknown_conversation"
    );
    let mut state = SyncState::new();
    let synced = state.catch_up(&bob).await.expect("catch up");
    assert!(synced.iter().all(|m| m.conv != conv), "{synced:?}");
    assert!(bob.groups().await.expect("groups").is_empty());
}

async fn newcomers_see_history_from_their_join(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, c) = (unique("na"), unique("nb"), unique("nc"));
    let (alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    let conv = group(&alice, "history", &[]).await;
    for i in 0..5 {
        alice
            .send_to_conv(conv, &format!("old{i}"))
            .await
            .expect("send");
    }
    alice.group_invite(conv, &[&b]).await.expect("invite bob");
    let seen = whole_history(&bob, conv).await;
    assert_eq!(seen.iter().map(|m| m.seq).collect::<Vec<_>>(), [7]);
    assert!(matches!(event_of(&seen[0]), GroupEvent::Invited { .. }));

    // A group may show newcomers the last N entries before their join.
    alice
        .group_set(
            conv,
            GroupFields {
                history_visible: Some(2),
                ..GroupFields::default()
            },
        )
        .await
        .expect("history_visible");
    let joined = alice.group_invite(conv, &[&c]).await.expect("invite carol");
    assert_eq!(joined.seq, Some(9));
    let seen = whole_history(&carol, conv).await;
    assert_eq!(seen.iter().map(|m| m.seq).collect::<Vec<_>>(), [7, 8, 9]);
    let mut state = SyncState::new();
    let synced: Vec<i64> = state
        .catch_up(&carol)
        .await
        .expect("catch up")
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(synced, [7, 8, 9]);
}

async fn the_role_rules_refuse_what_a_role_may_not_do(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, ad, m1, m2, out) = (
        unique("oo"),
        unique("oa"),
        unique("om"),
        unique("on"),
        unique("ox"),
    );
    let (owner, _) = user(&url, &o).await;
    let (admin, _) = user(&url, &ad).await;
    let (member, _) = user(&url, &m1).await;
    drop(user(&url, &m2).await);
    let (outsider, _) = user(&url, &out).await;
    let conv = group(&owner, "rules", &[&ad, &m1, &m2]).await;
    owner
        .group_role(conv, &ad, GroupRole::Admin)
        .await
        .expect("admin");

    // Each refusal, and that it changed nothing.
    assert_eq!(
        code_of(member.group_invite(conv, &[&out]).await),
        "forbidden"
    );
    assert_eq!(code_of(member.group_remove(conv, &m2).await), "forbidden");
    assert_eq!(code_of(member.group_remove(conv, &ad).await), "forbidden");
    assert_eq!(code_of(admin.group_remove(conv, &o).await), "forbidden");
    assert_eq!(
        code_of(admin.group_role(conv, &m1, GroupRole::Admin).await),
        "forbidden"
    );
    assert_eq!(code_of(admin.group_transfer(conv, &m1).await), "forbidden");
    assert_eq!(code_of(admin.group_dissolve(conv).await), "forbidden");
    assert_eq!(
        code_of(
            member
                .group_set(
                    conv,
                    GroupFields {
                        name: Some("x".into()),
                        ..GroupFields::default()
                    }
                )
                .await
        ),
        "forbidden"
    );
    assert_eq!(
        code_of(member.group_mute_all(conv, true).await),
        "forbidden"
    );
    assert_eq!(code_of(owner.group_leave(conv).await), "not_allowed");
    assert_eq!(
        code_of(outsider.send_to_conv(conv, "let me in").await),
        "unknown_conversation"
    );
    assert_eq!(
        code_of(outsider.group_members(conv).await),
        "unknown_conversation"
    );
    assert_eq!(
        code_of(outsider.group_info(conv).await),
        "unknown_conversation"
    );
    assert_eq!(code_of(outsider.group_join(conv).await), "not_allowed");
    assert_eq!(
        code_of(outsider.group_invite(conv, &[&out]).await),
        "unknown_conversation"
    );
    assert_eq!(
        code_of(owner.group_remove(conv, &out).await),
        "unknown_user"
    );
    let members = owner.group_members(conv).await.expect("members");
    assert_eq!(members.len(), 4, "nothing changed");

    // What the roles may do.
    admin
        .group_remove(conv, &m2)
        .await
        .expect("admin removes a member");
    owner
        .group_set(
            conv,
            GroupFields {
                join_policy: Some(JoinPolicy::Open),
                ..GroupFields::default()
            },
        )
        .await
        .expect("open the group");
    assert_eq!(
        outsider
            .group_info(conv)
            .await
            .expect("public info")
            .members,
        3
    );
    outsider.group_join(conv).await.expect("join an open group");
    outsider
        .send_to_conv(conv, "hello all")
        .await
        .expect("a member now");
    owner.group_transfer(conv, &ad).await.expect("transfer");
    owner
        .group_leave(conv)
        .await
        .expect("a former owner may leave");
}

async fn mutes_silence_members_but_not_admins(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, m) = (unique("uo"), unique("um"));
    let (owner, _) = user(&url, &o).await;
    let (member, _) = user(&url, &m).await;
    let conv = group(&owner, "quiet", &[&m]).await;
    owner.group_mute(conv, &m, 600).await.expect("mute");
    assert_eq!(code_of(member.send_to_conv(conv, "hm").await), "muted");
    owner.group_mute(conv, &m, 0).await.expect("unmute");
    member
        .send_to_conv(conv, "free again")
        .await
        .expect("unmuted");
    owner.group_mute_all(conv, true).await.expect("mute all");
    assert_eq!(code_of(member.send_to_conv(conv, "hm").await), "muted");
    owner
        .send_to_conv(conv, "owners speak")
        .await
        .expect("owner speaks");
    owner.group_mute_all(conv, false).await.expect("unmute all");
    member
        .send_to_conv(conv, "all free")
        .await
        .expect("member speaks");
    let members = owner.group_members(conv).await.expect("members");
    assert!(members.iter().all(|m| m.muted_until.is_none()));
}

async fn dissolving_ends_the_group_for_everyone(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, m) = (unique("do"), unique("dm"));
    let (owner, _) = user(&url, &o).await;
    let (mut member, _) = user(&url, &m).await;
    let conv = group(&owner, "short-lived", &[&m]).await;
    next_in(&mut member, conv).await;
    owner.group_dissolve(conv).await.expect("dissolve");
    assert!(
        matches!(event_of(&next_in(&mut member, conv).await), GroupEvent::Dissolved { by } if by == o)
    );
    let change = next_change(&mut member).await;
    assert!(
        matches!(change.event, ChangeEvent::GroupLeft(left) if left.reason == LeftReason::Dissolved)
    );
    for client in [&owner, &member] {
        assert_eq!(
            code_of(client.send_to_conv(conv, "anyone?").await),
            "unknown_conversation"
        );
        assert!(client.groups().await.expect("groups").is_empty());
    }

    // A temporary group ends when its last member leaves; its owner may
    // leave first, handing it on.
    let temp = owner
        .group_create(GroupCreate {
            name: "ad hoc".into(),
            members: vec![m.clone()],
            temporary: true,
            ..GroupCreate::default()
        })
        .await
        .expect("temporary")
        .conv;
    owner
        .group_leave(temp)
        .await
        .expect("owner leaves a temporary group");
    assert_eq!(member.group_info(temp).await.expect("info").owner, m);
    member.group_leave(temp).await.expect("last one out");
    assert_eq!(
        code_of(member.group_info(temp).await),
        "unknown_conversation"
    );
}

async fn bad_group_input_gets_clear_errors(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, m) = (unique("bo"), unique("bm"));
    let (owner, _) = user(&url, &o).await;
    drop(user(&url, &m).await);
    let create = |name: &str| GroupCreate {
        name: name.into(),
        ..GroupCreate::default()
    };
    for name in ["", "   ", "a\u{7}b", &"x".repeat(65)] {
        assert_eq!(
            code_of(owner.group_create(create(name)).await),
            "invalid_args",
            "{name:?}"
        );
    }
    let unknown = GroupCreate {
        members: vec!["nobody-by-that-name".into()],
        ..create("g")
    };
    assert_eq!(code_of(owner.group_create(unknown).await), "unknown_user");
    let conv = group(&owner, "g", &[&m]).await;
    assert_eq!(
        code_of(owner.group_set(conv, GroupFields::default()).await),
        "invalid_args"
    );
    let long = GroupFields {
        announcement: Some("公".repeat(1000)),
        ..GroupFields::default()
    };
    assert_eq!(code_of(owner.group_set(conv, long).await), "invalid_args");
    assert_eq!(
        code_of(owner.group_role(conv, &m, GroupRole::Owner).await),
        "invalid_args"
    );
    assert_eq!(
        code_of(owner.group_mute(conv, &m, 31 * 24 * 3600).await),
        "invalid_args"
    );
    assert_eq!(code_of(owner.group_remove(conv, &o).await), "invalid_args");
    assert_eq!(code_of(owner.group_invite(conv, &[]).await), "invalid_args");
    assert_eq!(
        code_of(owner.send_in(conv, "~1.2", "sneaky").await),
        "invalid_args"
    );
    assert_eq!(
        code_of(owner.group_info(987_654_321).await),
        "unknown_conversation"
    );
    // None of it wrote an entry.
    assert_eq!(owner.group_info(conv).await.expect("info").max_seq, 1);
}

/// Joins and leaves of an open group by several users race with a stream
/// of sends. Afterwards the sequence is gapless, every message is in it
/// once, and replaying the events gives exactly the member list.
async fn joins_and_leaves_racing_with_sends_keep_the_sequence_and_converge(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let o = unique("ro");
    let (owner, _) = user(&url, &o).await;
    let conv = owner
        .group_create(GroupCreate {
            name: "busy".into(),
            join_policy: Some(JoinPolicy::Open),
            ..GroupCreate::default()
        })
        .await
        .expect("create")
        .conv;
    let mut tasks = Vec::new();
    for n in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let name = unique(&format!("rj{n}x"));
            let (client, _) = user(&url, &name).await;
            for round in 0..4 {
                client.group_join(conv).await.expect("join");
                client
                    .send_to_conv(conv, &format!("{name} {round}"))
                    .await
                    .expect("member sends");
                if round < 3 || n % 2 == 0 {
                    client.group_leave(conv).await.expect("leave");
                }
            }
        }));
    }
    let sends = 30;
    for i in 0..sends {
        owner
            .send_to_conv(conv, &format!("owner {i}"))
            .await
            .expect("send");
    }
    for task in tasks {
        task.await.expect("task");
    }
    let entries = whole_history(&owner, conv).await;
    let seqs: Vec<i64> = entries.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=entries.len() as i64).collect::<Vec<_>>(),
        "gapless"
    );
    let texts = entries
        .iter()
        .filter(|m| m.kind == MessageKind::Text)
        .count();
    assert_eq!(texts, sends + 16);
    let mut members: BTreeSet<String> = BTreeSet::new();
    for m in &entries {
        if m.kind != MessageKind::Event {
            continue;
        }
        match event_of(m) {
            GroupEvent::Created { members: first, .. } => members.extend(first),
            GroupEvent::Joined { user, .. } => assert!(members.insert(user)),
            GroupEvent::Left { user, .. } => assert!(members.remove(&user)),
            other => panic!("unexpected {other:?}"),
        }
    }
    let listed: BTreeSet<String> = owner
        .group_members(conv)
        .await
        .expect("members")
        .into_iter()
        .map(|m| m.user)
        .collect();
    assert_eq!(members, listed);
    assert_eq!(listed.len(), 3, "the owner and the two who stayed");
}

/// Group receipts are positions, read on request: how many have read each
/// of my entries, and who. In 1:1, the peer's position is pushed to me.
async fn read_receipts_count_readers_in_a_group_and_reach_the_peer_in_1_1(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (a, b, c, d) = (unique("ea"), unique("eb"), unique("ec"), unique("ed"));
    let (alice, _) = user(&url, &a).await;
    let (bob, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    drop(user(&url, &d).await);
    let conv = group(&alice, "receipts", &[&b, &c]).await;
    let first = alice.send_to_conv(conv, "one").await.expect("send").seq;
    let second = alice.send_to_conv(conv, "two").await.expect("send").seq;
    let bobs = bob.send_to_conv(conv, "bob's").await.expect("send").seq;
    bob.read(conv, second).await.expect("bob reads both");
    carol.read(conv, first).await.expect("carol reads one");
    // Dave joins after: he is not counted for entries before his join.
    alice.group_invite(conv, &[&d]).await.expect("invite");

    let counts = alice
        .read_receipts(conv, &[first, second, bobs, 999])
        .await
        .expect("receipts")
        .counts;
    assert_eq!(
        counts,
        [
            ReadCount {
                seq: first,
                read: 2,
                unread: 0
            },
            ReadCount {
                seq: second,
                read: 1,
                unread: 1
            },
        ],
        "bob's entry and a missing one are left out"
    );
    let page = |unread: bool| ReadBy {
        conv,
        seq: second,
        unread,
        after: None,
        limit: None,
    };
    let read: Vec<String> = alice
        .read_by(page(false))
        .await
        .expect("read_by")
        .users
        .into_iter()
        .map(|r| r.user)
        .collect();
    assert_eq!(read, [b.as_str()]);
    let unread: Vec<String> = alice
        .read_by(page(true))
        .await
        .expect("unread_by")
        .users
        .into_iter()
        .map(|r| r.user)
        .collect();
    assert_eq!(unread, [c.as_str()]);
    // Only for one's own entries, and only for members.
    assert_eq!(
        code_of(
            alice
                .read_by(ReadBy {
                    seq: bobs,
                    ..page(false)
                })
                .await
        ),
        "invalid_args"
    );
    let (outsider, _) = user(&url, &unique("ee")).await;
    assert_eq!(
        code_of(outsider.read_receipts(conv, &[first]).await),
        "unknown_conversation"
    );
    assert_eq!(
        code_of(alice.read_receipts(conv, &[]).await),
        "invalid_args"
    );
    // Reading is a position, not a row per entry: a group read pushes no
    // receipt to the others.

    // 1:1: the peer's read position is pushed to the sender.
    let (mut alice2, _) = user(&url, &a).await;
    let ack = bob.send(&a, "ping").await.expect("direct");
    next_message(&mut alice2).await;
    alice2.read(ack.conv, ack.seq).await.expect("alice reads");
    let (mut bob2, _) = user(&url, &b).await;
    let ack2 = alice.send(&b, "pong").await.expect("direct back");
    next_message(&mut bob2).await;
    bob.read(ack2.conv, ack2.seq).await.expect("bob reads");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, alice2.next_push()).await {
            Ok(Some(Push::Receipt(r))) => {
                assert_eq!(
                    (r.conv, r.user.as_str(), r.read_seq),
                    (ack2.conv, &*b, ack2.seq)
                );
                break;
            }
            Ok(Some(_)) => continue,
            other => panic!("no receipt: {other:?}"),
        }
    }
}

/// A group that takes requests: an applicant asks (with a note), the
/// admins hear of it and list it, one is approved and joins, another is
/// rejected; the applicants are told through their change stream, also
/// when offline, and every refusal holds.
async fn join_requests_are_approved_or_rejected_and_the_applicant_is_told(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, ad, x, y, m) = (
        unique("qo"),
        unique("qa"),
        unique("qx"),
        unique("qy"),
        unique("qm"),
    );
    let (owner, _) = user(&url, &o).await;
    let (mut admin, _) = user(&url, &ad).await;
    let (mut xavier, _) = user(&url, &x).await;
    let (member, _) = user(&url, &m).await;
    drop(user(&url, &y).await);
    let conv = owner
        .group_create(GroupCreate {
            name: "by request".into(),
            members: vec![ad.clone(), m.clone()],
            join_policy: Some(JoinPolicy::Request),
            ..GroupCreate::default()
        })
        .await
        .expect("create")
        .conv;
    owner
        .group_role(conv, &ad, GroupRole::Admin)
        .await
        .expect("admin");
    // An outsider may see the group to ask, and asking joins nobody.
    assert_eq!(xavier.group_info(conv).await.expect("public").members, 3);
    let asked = xavier.group_ask(conv, "我是新同事").await.expect("ask");
    assert!(asked.requested && asked.seq.is_none(), "{asked:?}");
    let filed = loop {
        if let ChangeEvent::GroupRequest(r) = next_change(&mut admin).await.event {
            break r;
        }
    };
    assert_eq!(
        (filed.conv, filed.user.as_str(), filed.note.as_str()),
        (conv, &*x, "我是新同事")
    );
    assert!(matches!(
        next_change(&mut xavier).await.event,
        ChangeEvent::GroupRequest(_)
    ));
    assert_eq!(
        code_of(xavier.send_to_conv(conv, "am I in?").await),
        "unknown_conversation"
    );
    // Asking again renews the note, not a second request.
    xavier.group_ask(conv, "again").await.expect("renew");
    let (yvonne, _) = user(&url, &y).await;
    yvonne.group_ask(conv, "").await.expect("ask");
    let pending = owner.group_requests(conv).await.expect("requests");
    let listed: Vec<(&str, &str)> = pending
        .iter()
        .map(|r| (r.user.as_str(), r.note.as_str()))
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(
        listed.contains(&(&*x, "again")) && listed.contains(&(&*y, "")),
        "{listed:?}"
    );

    // Only managers list and answer.
    assert_eq!(code_of(member.group_requests(conv).await), "forbidden");
    assert_eq!(code_of(member.group_approve(conv, &x).await), "forbidden");
    assert_eq!(
        code_of(xavier.group_requests(conv).await),
        "unknown_conversation"
    );
    assert_eq!(code_of(owner.group_approve(conv, &m).await), "not_allowed");
    let nobody = unique("qn");
    drop(user(&url, &nobody).await);
    assert_eq!(
        code_of(owner.group_reject(conv, &nobody).await),
        "no_such_request"
    );

    // Approved: a `joined` event by the approver, then the stream.
    let approved = admin.group_approve(conv, &x).await.expect("approve");
    let joined = loop {
        let got = next_in(&mut xavier, conv).await;
        if got.seq == approved.seq.expect("an event") {
            break got;
        }
    };
    assert!(
        matches!(event_of(&joined), GroupEvent::Joined { user, by } if user == x && by.as_deref() == Some(&*ad))
    );
    let mut closed = None;
    while closed.is_none() {
        if let ChangeEvent::GroupRequestClosed(c) = next_change(&mut xavier).await.event {
            closed = Some(c);
        }
    }
    assert_eq!(closed.map(|c| c.outcome), Some(JoinOutcome::Approved));
    xavier
        .send_to_conv(conv, "thanks!")
        .await
        .expect("a member now");

    // Rejected while offline: told at the next login, through the stream.
    drop(yvonne);
    owner.group_reject(conv, &y).await.expect("reject");
    let (yvonne, _) = user(&url, &y).await;
    let changes = yvonne.catch_up_changes(0).await.expect("changes").changes;
    assert!(changes.iter().any(|c| matches!(&c.event,
        ChangeEvent::GroupRequestClosed(r) if r.conv == conv && r.outcome == JoinOutcome::Rejected)));
    assert_eq!(
        code_of(yvonne.send_to_conv(conv, "no?").await),
        "unknown_conversation"
    );
    assert!(
        owner
            .group_requests(conv)
            .await
            .expect("requests")
            .is_empty()
    );
    // A note is one line.
    assert_eq!(
        code_of(yvonne.group_ask(conv, "two\nlines").await),
        "invalid_args"
    );
}

/// @name and @all: the message carries them, the mentioned member's
/// conversation row is flagged on every device until they read past it,
/// and only members may be named, and only managers mention everyone.
async fn mentions_flag_the_mentioned_until_they_read_past_them(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, b, c, x) = (unique("to"), unique("tb"), unique("tc"), unique("tx"));
    let (owner, _) = user(&url, &o).await;
    let (mut bob, _) = user(&url, &b).await;
    let (bob_phone, _) = user(&url, &b).await;
    let (carol, _) = user(&url, &c).await;
    drop(user(&url, &x).await);
    let conv = group(&owner, "mentions", &[&b, &c]).await;
    next_in(&mut bob, conv).await;
    let flagged = |rows: Vec<magpie_proto::Conversation>| {
        rows.into_iter()
            .find(|r| r.conv == conv)
            .expect("listed")
            .mentioned
    };

    let upper = b.to_uppercase();
    let ack = carol
        .send_mentioning(conv, "bob, look", &[&upper, &upper], false)
        .await
        .expect("mention bob");
    let pushed = next_in(&mut bob, conv).await;
    assert_eq!(
        (pushed.mentions.clone(), pushed.mention_all),
        (vec![b.clone()], false)
    );
    assert!(
        flagged(bob_phone.conversations().await.expect("list")),
        "on every device"
    );
    assert!(
        !flagged(owner.conversations().await.expect("list")),
        "not mentioned"
    );
    let history = whole_history(&owner, conv).await;
    assert_eq!(
        history.last().map(|m| m.mentions.clone()),
        Some(vec![b.clone()])
    );
    // Reading past it clears the flag, on every device.
    bob.read(conv, ack.seq).await.expect("read");
    assert!(!flagged(bob_phone.conversations().await.expect("list")));

    // @all flags everyone but the sender, from an admin or the owner only.
    assert_eq!(
        code_of(carol.send_mentioning(conv, "everyone!", &[], true).await),
        "forbidden"
    );
    owner
        .send_mentioning(conv, "all hands", &[], true)
        .await
        .expect("owner mentions all");
    assert!(flagged(bob.conversations().await.expect("list")));
    assert!(flagged(carol.conversations().await.expect("list")));
    assert!(!flagged(owner.conversations().await.expect("list")));

    // Only members may be named; mentions are for groups.
    assert_eq!(
        code_of(owner.send_mentioning(conv, "hey", &[&x], false).await),
        "unknown_user"
    );
    let direct = owner.send(&b, "1:1").await.expect("direct").conv;
    assert_eq!(
        code_of(owner.send_mentioning(direct, "hey", &[&b], false).await),
        "invalid_args"
    );
    let many: Vec<String> = (0..51).map(|_| b.clone()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        code_of(owner.send_mentioning(conv, "hey", &many, false).await),
        "invalid_args"
    );
}
