//! Cluster mode in one process: several real servers sharing one real
//! database and one real Redis, each on its own ports. Needs PostgreSQL (or
//! the engine named by `MAGPIE_E2E_DATABASE`) and `redis-server`; `.ci/run`
//! runs these with `--ignored`.

mod common;

use common::*;
use magpie_client::{Accept, SyncState};
use magpie_proto::Push;
use magpie_server::Config;
use magpie_testkit::RedisProcess;
use std::collections::HashMap;
use std::time::Duration;

/// Nodes of one cluster: one database, one Redis, a unique cluster name.
struct Cluster {
    nodes: Vec<TestServer>,
    name: String,
    redis: RedisProcess,
    _db: TestDatabase,
}

impl Cluster {
    async fn start(size: usize) -> Cluster {
        let admin = std::env::var("MAGPIE_E2E_DATABASE")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let db = TestDatabase::create(&admin).await;
        let redis = RedisProcess::start();
        let name = unique("cluster");
        let mut nodes = Vec::new();
        for _ in 0..size {
            let (url, redis_url, name) = (db.url.clone(), redis.url(), name.clone());
            nodes.push(
                TestServer::start_with(move |c: &mut Config| {
                    c.database_url = Some(url);
                    c.redis_url = Some(redis_url);
                    c.cluster_name = name;
                })
                .await,
            );
        }
        Cluster {
            nodes,
            name,
            redis,
            _db: db,
        }
    }

    fn url(&self, node: usize) -> String {
        self.nodes[node].url(Transport::Tcp)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn every_device_gets_each_message_whichever_node_it_is_on() {
    let cluster = Cluster::start(2).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (mut a1, _) = user(&cluster.url(0), &alice).await;
    let (mut a2, _) = user(&cluster.url(1), &alice).await;
    let (mut b1, _) = user(&cluster.url(0), &bob).await;
    let (mut b2, _) = user(&cluster.url(1), &bob).await;

    let ack = a1.send(&bob, "across nodes").await.expect("send");
    for device in [&mut a2, &mut b1, &mut b2] {
        let m = next_message(device).await;
        assert_eq!(
            (m.msg_id, m.seq, m.body.as_str()),
            (ack.msg_id, 1, "across nodes")
        );
    }
    // The reply is a1's next push: a sender gets no push of its own message.
    let reply = b2.send(&alice, "and back").await.expect("reply");
    assert_eq!(reply.seq, 2);
    for device in [&mut a1, &mut a2, &mut b1] {
        assert_eq!(next_message(device).await.seq, 2);
    }
    assert_no_push_before_marker(&mut b2, &a1, &bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn both_nodes_writing_one_conversation_stay_gapless_and_ordered() {
    let cluster = Cluster::start(2).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (mut b, _) = user(&cluster.url(0), &bob).await;
    let mut senders = Vec::new();
    for node in 0..2 {
        let (url, alice, bob) = (cluster.url(node), alice.clone(), bob.clone());
        senders.push(tokio::spawn(async move {
            let (a, _) = user(&url, &alice).await;
            for i in 0..40 {
                a.send(&bob, &format!("n{node}-{i}")).await.expect("send");
            }
        }));
    }
    for s in senders {
        s.await.expect("sender");
    }
    // Pushes from two nodes may interleave out of seq order; the client
    // algorithm (drop duplicates, fill gaps with sync) still shows each
    // message once, in order.
    let mut state = SyncState::new();
    let mut shown = Vec::new();
    while shown.len() < 80 {
        let m = next_message(&mut b).await;
        match state.accept(&m) {
            Accept::New => shown.push(m.seq),
            Accept::Duplicate => {}
            Accept::Gap => shown.extend(
                state
                    .catch_up(&b)
                    .await
                    .expect("catch up")
                    .iter()
                    .map(|m| m.seq),
            ),
        }
    }
    assert_eq!(shown, (1..=80).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn logout_closes_the_token_on_every_node() {
    let cluster = Cluster::start(2).await;
    let alice = unique("alice");
    let (a1, auth) = user(&cluster.url(0), &alice).await;
    let mut elsewhere = connect(&cluster.url(1)).await;
    elsewhere
        .resume(auth.token.as_deref().expect("token"))
        .await
        .expect("resume");
    a1.logout().await.expect("logout");
    let reason = tokio::time::timeout(WAIT, async {
        loop {
            match elsewhere.next_push().await {
                Some(Push::Goaway(g)) => return g.reason,
                Some(_) => continue,
                None => panic!("closed without goaway"),
            }
        }
    })
    .await
    .expect("kicked in time");
    assert_eq!(reason, "logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn presence_in_redis_follows_connections() {
    let cluster = Cluster::start(2).await;
    let alice = unique("alice");
    let (a0, auth) = user(&cluster.url(0), &alice).await;
    let (a1, _) = user(&cluster.url(1), &alice).await;
    let (_a1b, _) = user(&cluster.url(1), &alice).await;
    let client = redis::Client::open(cluster.redis.url()).expect("redis url");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let key = format!("{}:presence:{}", cluster.name, auth.user_id);
    let counts = || {
        let mut conn = conn.clone();
        let key = key.clone();
        async move {
            let mut counts: Vec<i64> = redis::cmd("HVALS")
                .arg(&key)
                .query_async::<Vec<i64>>(&mut conn)
                .await
                .expect("hvals");
            counts.retain(|c| *c > 0);
            counts.sort_unstable();
            counts
        }
    };
    let eventually = |want: Vec<i64>| {
        let counts = &counts;
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let got = counts().await;
                if got == want {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "presence {got:?}, want {want:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    eventually(vec![1, 2]).await;
    let nodes: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{}:nodes", cluster.name))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn.clone())
        .await
        .expect("nodes");
    assert_eq!(nodes.len(), 2, "both nodes beat: {nodes:?}");
    a0.close().await;
    eventually(vec![2]).await;
    a1.close().await;
    eventually(vec![1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn a_redis_restart_loses_nothing_clients_are_told_to_resync() {
    let mut cluster = Cluster::start(2).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&cluster.url(0), &alice).await;
    let (mut b, _) = user(&cluster.url(1), &bob).await;
    let mut state = SyncState::new();
    let first = a.send(&bob, "before").await.expect("send");
    assert_eq!(state.accept(&next_message(&mut b).await), Accept::New);

    // Redis goes away: sends still succeed (the database is the truth),
    // but node 1 cannot hear node 0.
    let port = cluster.redis.port;
    cluster.redis.kill();
    let mut acked = vec![first.seq];
    for i in 0..10 {
        acked.push(
            a.send(&bob, &format!("during outage {i}"))
                .await
                .expect("send without redis")
                .seq,
        );
    }
    cluster.redis = RedisProcess::start_on(port);

    // Bob is told to resync and then has everything, once each.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut seen: HashMap<i64, usize> = HashMap::new();
    seen.insert(first.seq, 1);
    loop {
        let push = tokio::time::timeout_at(deadline, b.next_push())
            .await
            .expect("resync notice in time");
        match push {
            Some(Push::Resync(_)) => break,
            Some(Push::Message(m)) => {
                if state.accept(&m) == Accept::New {
                    *seen.entry(m.seq).or_default() += 1;
                }
            }
            Some(_) => {}
            None => panic!("connection closed"),
        }
    }
    for m in state.catch_up(&b).await.expect("catch up") {
        *seen.entry(m.seq).or_default() += 1;
    }
    let mut seqs: Vec<i64> = seen.keys().copied().collect();
    seqs.sort_unstable();
    assert_eq!(seqs, acked);
    assert!(seen.values().all(|n| *n == 1));

    // And live delivery across nodes works again.
    let after = a.send(&bob, "after").await.expect("send");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let m = tokio::time::timeout_at(deadline, next_message(&mut b))
            .await
            .expect("live again");
        if m.seq == after.seq {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn friend_requests_and_answers_cross_nodes_and_blocks_reach_every_node() {
    use magpie_proto::{ChangeEvent, RequestOutcome, RequestStatus};
    let cluster = Cluster::start(2).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (mut a0, _) = user(&cluster.url(0), &alice).await;
    let (mut a1, _) = user(&cluster.url(1), &alice).await;
    let (mut b1, _) = user(&cluster.url(1), &bob).await;

    // Asked on node 0, seen live on node 1.
    assert_eq!(
        a0.friend_request(&bob, "hi").await.expect("request"),
        RequestStatus::Pending
    );
    match next_change(&mut b1).await.event {
        ChangeEvent::FriendRequest(r) => assert_eq!(r.from.user, alice),
        other => panic!("{other:?}"),
    }
    // Answered on node 1, seen live by the requester's devices on both.
    b1.friend_accept(&alice).await.expect("accept");
    for device in [&mut a0, &mut a1] {
        let mut seen = Vec::new();
        while seen.len() < 3 {
            seen.push(next_change(device).await);
        }
        assert!(matches!(seen[0].event, ChangeEvent::FriendRequest(_)));
        match &seen[1].event {
            ChangeEvent::FriendRequestClosed(c) => assert_eq!(c.outcome, RequestOutcome::Accepted),
            other => panic!("{other:?}"),
        }
        assert!(matches!(seen[2].event, ChangeEvent::FriendAdded(_)));
    }
    a0.send(&bob, "friends now").await.expect("send");

    // A block made on node 1 stops sends through node 0 within the
    // relation cache's lifetime (at once on the node that made it).
    b1.block(&alice).await.expect("block");
    assert_eq!(
        code_of(a1.send(&bob, "same node as the block").await),
        "not_allowed"
    );
    let deadline =
        tokio::time::Instant::now() + magpie_server::people::RELATION_TTL + Duration::from_secs(2);
    loop {
        match a0.send(&bob, "other node").await {
            Err(e) if e.code_str() == "not_allowed" => break,
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => panic!("the block never reached node 0: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn devices_show_online_on_any_node_and_sign_out_crosses_nodes() {
    use magpie_proto::Platform;
    let cluster = Cluster::start(2).await;
    let alice = unique("alice");
    user(&cluster.url(0), &alice).await.0.close().await;
    let laptop = connect(&cluster.url(0)).await;
    laptop
        .login_on(&alice, PASSWORD, Some("laptop"), Some(Platform::Desktop))
        .await
        .expect("login");
    let mut phone = connect(&cluster.url(1)).await;
    phone
        .login_on(&alice, PASSWORD, Some("phone"), Some(Platform::Mobile))
        .await
        .expect("login");
    // The phone is on the other node; its connection count reaches Redis
    // through the publisher, so allow it a moment.
    let deadline = tokio::time::Instant::now() + WAIT;
    let phone_device = loop {
        let devices = laptop.devices().await.expect("devices");
        let phone_device = devices
            .into_iter()
            .find(|d| d.name == "phone")
            .expect("listed");
        if phone_device.online || tokio::time::Instant::now() > deadline {
            break phone_device;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(phone_device.online, "a device on another node shows online");
    // Signed out from node 0, closed on node 1 with the reason.
    laptop
        .device_revoke(&phone_device.id)
        .await
        .expect("revoke");
    assert_eq!(next_goaway(&mut phone).await.reason, "revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn a_drained_nodes_users_go_offline_for_contacts_elsewhere() {
    use magpie_proto::Status;
    let mut cluster = Cluster::start(2).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&cluster.url(0), &alice).await;
    let (mut b, _) = user(&cluster.url(1), &bob).await;
    a.friend_request(&bob, "").await.expect("request");
    b.friend_accept(&alice).await.expect("accept");
    let status_of_alice = |push: Option<Push>| match push {
        Some(Push::Presence(p)) if p.user == alice => Some(p.status),
        _ => None,
    };
    loop {
        let push = tokio::time::timeout(WAIT, b.next_push())
            .await
            .expect("online");
        if status_of_alice(push) == Some(Status::Online) {
            break;
        }
    }
    // Node 0 shuts down gracefully: alice's connection goes with it, and
    // the node is gone before its grace period would have ended.
    let node0 = cluster.nodes[0].server.take().expect("running");
    node0.shutdown().await;
    loop {
        let push = tokio::time::timeout(WAIT, b.next_push())
            .await
            .expect("alice shown offline after the drain");
        if status_of_alice(push) == Some(Status::Offline) {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn disabling_an_account_on_one_node_closes_its_sessions_on_every_node() {
    use magpie_proto::{AccountState, AdminUserSet, Role};
    let cluster = Cluster::start(2).await;
    let (root_name, leaver) = (unique("root"), unique("leaver"));
    let (root, _) = user(&cluster.url(0), &root_name).await;
    let store = &cluster.nodes[0].running().state().store;
    let root_id = store
        .user_by_name(&root_name)
        .await
        .expect("lookup")
        .expect("exists")
        .id;
    store
        .change_account(
            root_id,
            &magpie_store::AccountChange {
                role: Some(Role::Admin),
                ..Default::default()
            },
            0,
        )
        .await
        .expect("promote");
    let (mut far, _) = user(&cluster.url(1), &leaver).await;
    root.admin_user_set(AdminUserSet {
        user: leaver.clone(),
        state: Some(AccountState::Disabled),
        ..AdminUserSet::default()
    })
    .await
    .expect("disable");
    assert_eq!(next_goaway(&mut far).await.reason, "account_disabled");
    let again = connect(&cluster.url(1)).await;
    assert_eq!(
        code_of(again.login(&leaver, PASSWORD, None).await),
        "account_disabled"
    );
}

/// A group spread over two nodes: members on either node get every entry
/// once, in order; a removal on one node stops pushes and sends on the
/// other at once (the other node's member set is dropped through the bus
/// and checked again by its writer), and the removed member cannot read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn a_group_spans_nodes_and_a_removal_holds_on_every_node() {
    use magpie_proto::{GroupCreate, History, MessageKind};
    let cluster = Cluster::start(2).await;
    let (a, b, c, m) = (unique("ga"), unique("gb"), unique("gc"), unique("gm"));
    let (alice, _) = user(&cluster.url(0), &a).await;
    let (mut bob, _) = user(&cluster.url(1), &b).await;
    let (mut carol, _) = user(&cluster.url(1), &c).await;
    let (marker, _) = user(&cluster.url(0), &m).await;
    let conv = alice
        .group_create(GroupCreate {
            name: "two nodes".into(),
            members: vec![b.clone(), c.clone()],
            ..GroupCreate::default()
        })
        .await
        .expect("create")
        .conv;
    // Bob speaks first on node 1, so node 1 holds the group's members.
    bob.send_to_conv(conv, "hi from node 1").await.expect("bob");
    for i in 0..10 {
        alice
            .send_to_conv(conv, &format!("n0-{i}"))
            .await
            .expect("send");
    }
    let mut state = SyncState::new();
    let mut shown = Vec::new();
    while shown.len() < 12 {
        let got = next_message(&mut carol).await;
        match state.accept(&got) {
            Accept::New => shown.push(got.seq),
            Accept::Duplicate => {}
            Accept::Gap => shown.extend(
                state
                    .catch_up(&carol)
                    .await
                    .expect("catch up")
                    .iter()
                    .map(|m| m.seq),
            ),
        }
    }
    assert_eq!(shown, (1..=12).collect::<Vec<_>>());

    alice
        .group_remove(conv, &b)
        .await
        .expect("remove on node 0");
    // Bob's last entry is his removal; then nothing, and node 1 refuses
    // his sends at once.
    loop {
        let got = next_message(&mut bob).await;
        if got.kind == MessageKind::Event && got.seq == 13 {
            break;
        }
    }
    let left = next_change(&mut bob).await;
    assert!(matches!(left.event, magpie_proto::ChangeEvent::GroupLeft(l) if l.conv == conv));
    let refused = bob.send_to_conv(conv, "still in?").await;
    assert_eq!(code_of(refused), "unknown_conversation");
    alice.send_to_conv(conv, "after").await.expect("send after");
    assert_no_push_before_marker(&mut bob, &marker, &b).await;
    let read = bob
        .history(History {
            conv: Some(conv),
            ..History::default()
        })
        .await;
    assert_eq!(code_of(read), "unknown_conversation");
}

/// The next `typing` push to `client`, skipping others.
async fn next_typing(client: &mut magpie_client::Client) -> magpie_proto::TypingNotice {
    tokio::time::timeout(WAIT, async {
        loop {
            match client.next_push().await {
                Some(Push::Typing(t)) => return t,
                Some(_) => continue,
                None => panic!("closed while waiting for a typing notice"),
            }
        }
    })
    .await
    .expect("typing notice in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and redis-server; .ci/run runs it"]
async fn typing_crosses_nodes_and_settings_reach_devices_on_the_other_node() {
    let cluster = Cluster::start(2).await;
    let (a, b, c) = (unique("alice"), unique("bob"), unique("carol"));
    let (mut alice, auth) = user(&cluster.url(0), &a).await;
    let (mut alice_phone, _) = user(&cluster.url(1), &a).await;
    let (mut bob, _) = user(&cluster.url(1), &b).await;
    let (mut carol, _) = user(&cluster.url(1), &c).await;
    let direct = alice.send(&b, "hi").await.expect("send").conv;
    next_message(&mut bob).await;
    next_message(&mut alice_phone).await;

    // A notice from node 0 reaches bob on node 1, through the bus.
    alice.typing(direct, true).await.expect("typing");
    let notice = next_typing(&mut bob).await;
    assert_eq!(
        (notice.conv, notice.user_id, notice.active, notice.ttl_ms),
        (direct, auth.user_id, true, 6000)
    );
    // And back: both of alice's devices, one per node, see bob typing.
    bob.typing(direct, false).await.expect("stopped");
    for device in [&mut alice, &mut alice_phone] {
        let notice = next_typing(device).await;
        assert_eq!((notice.user.as_str(), notice.active), (b.as_str(), false));
    }
    // In a small group, every other member on the other node.
    let group = alice
        .group_create(magpie_proto::GroupCreate {
            name: "across".into(),
            members: vec![b.clone(), c.clone()],
            ..magpie_proto::GroupCreate::default()
        })
        .await
        .expect("group")
        .conv;
    alice.typing(group, true).await.expect("group typing");
    for member in [&mut bob, &mut carol] {
        assert_eq!(next_typing(member).await.conv, group);
    }

    // A setting changed on node 0 reaches the device on node 1.
    let pinned = alice.pin(direct, true).await.expect("pin");
    let change = loop {
        let change = next_change(&mut alice_phone).await;
        if let magpie_proto::ChangeEvent::ConvSettings(s) = change.event {
            break s;
        }
    };
    assert_eq!(change, pinned);
    assert!(alice_phone.conversations().await.expect("list")[0].pinned);
}
