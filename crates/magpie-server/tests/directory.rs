//! The company directory and administration end to end: departments and
//! accounts managed by administrators (roles checked on the server),
//! directory pushes, enterprise mode with the organisation policy, and
//! disabling an account closing its sessions at once. Both transports.

mod common;

use common::*;
use magpie_client::Client;
use magpie_proto::{
    AccountState, AdminUserCreate, AdminUserSet, ChangeEvent, DeptUpdate, GroupCreate, GroupEvent,
    LeftReason, Message, MessageKind, Push, Role, Status,
};
use magpie_server::config::{MessagingPolicy, ServerMode};
use magpie_store::AccountChange;

on_both_transports!(
    administration_needs_the_admin_role,
    departments_and_accounts_form_the_directory,
    directory_changes_are_pushed_and_bad_changes_refused,
    disabling_an_account_closes_its_sessions_at_once,
    enterprise_mode_makes_colleagues_contacts,
    administrators_list_and_dissolve_any_group,
    admin_stats_reports_this_nodes_own_metrics,
);

/// Make `name` (registered or created) an administrator, directly in the
/// store, the way `magpie admin bootstrap` does before anyone is admin.
async fn promote(server: &TestServer, name: &str) {
    let store = &server.running().state().store;
    let id = store
        .user_by_name(name)
        .await
        .expect("lookup")
        .expect("user exists")
        .id;
    store
        .change_account(
            id,
            &AccountChange {
                role: Some(Role::Admin),
                ..AccountChange::default()
            },
            0,
        )
        .await
        .expect("promote");
}

async fn admin(server: &TestServer, t: Transport) -> (Client, String) {
    let name = unique("root");
    let (client, _) = user(&server.url(t), &name).await;
    promote(server, &name).await;
    (client, name)
}

async fn login(url: &str, name: &str, password: &str) -> Client {
    let client = connect(url).await;
    client.login(name, password, None).await.expect("login");
    client
}

/// The next `directory` push's version; fails after WAIT.
async fn next_directory(client: &mut Client) -> i64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, client.next_push()).await {
            Ok(Some(Push::Directory(v))) => return v.version,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("closed while waiting for a directory push"),
            Err(_) => panic!("no directory push within {WAIT:?}"),
        }
    }
}

async fn administration_needs_the_admin_role(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (plain, name) = user(&url, &unique("plain")).await;
    let forbidden = [
        code_of(
            plain
                .admin_user_create(AdminUserCreate {
                    user: unique("x"),
                    ..AdminUserCreate::default()
                })
                .await,
        ),
        code_of(plain.admin_users(None).await),
        code_of(plain.admin_user(&name.user).await),
        code_of(
            plain
                .admin_user_set(AdminUserSet {
                    user: name.user.clone(),
                    role: Some(Role::Admin),
                    ..AdminUserSet::default()
                })
                .await,
        ),
        code_of(plain.dept_create("x", None, None).await),
        code_of(
            plain
                .dept_update(DeptUpdate {
                    id: 1,
                    ..DeptUpdate::default()
                })
                .await,
        ),
        code_of(plain.dept_delete(1).await),
    ];
    assert!(forbidden.iter().all(|c| c == "forbidden"), "{forbidden:?}");
    // Nothing changed: the user is still a plain user, no department exists.
    let (root, _) = admin(&server, t).await;
    assert_eq!(
        root.admin_user(&name.user).await.expect("show").role,
        Role::User
    );
    assert!(root.directory().await.expect("tree").departments.is_empty());
    // A disabled administrator is no administrator.
    let (other_root, other_name) = admin(&server, t).await;
    root.admin_user_set(AdminUserSet {
        user: other_name,
        state: Some(AccountState::Disabled),
        ..AdminUserSet::default()
    })
    .await
    .expect("disable");
    assert!(other_root.admin_users(None).await.is_err());
}

async fn departments_and_accounts_form_the_directory(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (root, _) = admin(&server, t).await;
    let hq = root.dept_create("总部", None, Some(0)).await.expect("hq");
    let market = root
        .dept_create("市场部", Some(hq.id), Some(2))
        .await
        .expect("dept");
    let rnd = root
        .dept_create("研发部", Some(hq.id), Some(1))
        .await
        .expect("dept");
    let zhang = unique("zhang");
    let created = root
        .admin_user_create(AdminUserCreate {
            user: zhang.clone(),
            nickname: Some("张三".into()),
            dept: Some(rnd.id),
            title: Some("工程师".into()),
            ..AdminUserCreate::default()
        })
        .await
        .expect("create");
    let password = created.password.expect("a generated password");
    assert!(password.len() >= 16);
    let li = unique("li");
    root.admin_user_create(AdminUserCreate {
        user: li.clone(),
        password: Some("a fine password".into()),
        dept: Some(rnd.id),
        ..AdminUserCreate::default()
    })
    .await
    .expect("create");
    assert_eq!(
        code_of(
            root.admin_user_create(AdminUserCreate {
                user: li.clone(),
                ..AdminUserCreate::default()
            })
            .await
        ),
        "username_taken"
    );

    // The tree: parents first, siblings by order.
    let tree = root.directory().await.expect("tree");
    let names: Vec<&str> = tree.departments.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["总部", "研发部", "市场部"]);
    assert_eq!(tree.departments[1].members, 2);
    assert_eq!(tree.departments[2].members, 0);
    assert!(tree.version > 0);

    // The generated password works; members carry titles and presence.
    let z = login(&url, &zhang, &password).await;
    let members = z.dept_members(rnd.id).await.expect("members");
    let by_name = |n: &str| members.iter().find(|m| m.user.user == n).expect(n).clone();
    let me = by_name(&zhang);
    assert_eq!(
        (me.title.as_str(), me.user.nickname.as_str()),
        ("工程师", "张三")
    );
    assert_eq!(me.presence.status, Status::Online);
    assert_eq!(by_name(&li).presence.status, Status::Offline);
    assert_eq!(code_of(z.dept_members(9_999).await), "unknown_department");

    // Accounts as administrators see them.
    let shown = root.admin_user(&zhang).await.expect("show");
    assert_eq!(
        (shown.dept, shown.role, shown.state),
        (Some(rnd.id), Role::User, AccountState::Active)
    );
    let listed = root.admin_users(Some(&zhang)).await.expect("list");
    assert_eq!(listed.len(), 1);
    let moved = root
        .admin_user_set(AdminUserSet {
            user: zhang.clone(),
            dept: Some(market.id),
            title: Some("经理".into()),
            ..AdminUserSet::default()
        })
        .await
        .expect("move");
    assert_eq!(
        (moved.dept, moved.title.as_str()),
        (Some(market.id), "经理")
    );
    assert_eq!(z.directory().await.expect("tree").departments[2].members, 1);
}

async fn directory_changes_are_pushed_and_bad_changes_refused(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (root, _) = admin(&server, t).await;
    let (mut watcher, _) = user(&url, &unique("watcher")).await;
    let a = root.dept_create("A", None, None).await.expect("a");
    let v1 = next_directory(&mut watcher).await;
    let b = root.dept_create("B", Some(a.id), None).await.expect("b");
    let v2 = next_directory(&mut watcher).await;
    assert!(v2 > v1);
    // A reconnecting client learns the version from `changes`.
    assert_eq!(
        watcher
            .changes(0, None)
            .await
            .expect("changes")
            .directory_version,
        v2
    );

    // Cycles, unknown parents, non-empty deletes, bad names.
    let under_child = DeptUpdate {
        id: a.id,
        parent: Some(b.id),
        ..DeptUpdate::default()
    };
    assert_eq!(code_of(root.dept_update(under_child).await), "invalid_args");
    let under_self = DeptUpdate {
        id: a.id,
        parent: Some(a.id),
        ..DeptUpdate::default()
    };
    assert_eq!(code_of(root.dept_update(under_self).await), "invalid_args");
    assert_eq!(
        code_of(root.dept_create("C", Some(424_242), None).await),
        "unknown_department"
    );
    assert_eq!(
        code_of(root.dept_delete(a.id).await),
        "department_not_empty"
    );
    assert_eq!(
        code_of(root.dept_create("", None, None).await),
        "invalid_args"
    );
    assert_eq!(
        code_of(root.dept_create(&"名".repeat(30), None, None).await),
        "invalid_args"
    );
    assert_eq!(
        code_of(root.dept_delete(424_242).await),
        "unknown_department"
    );
    let tree = root.directory().await.expect("tree");
    assert_eq!(tree.departments.len(), 2, "refused changes changed nothing");

    // Rename, move to the top, reorder, delete: each pushed.
    root.dept_update(DeptUpdate {
        id: b.id,
        name: Some("B2".into()),
        parent: Some(0),
        order: Some(-1),
    })
    .await
    .expect("update");
    let v3 = next_directory(&mut watcher).await;
    let tree = watcher.directory().await.expect("tree");
    assert_eq!(tree.version, v3);
    let names: Vec<&str> = tree.departments.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["B2", "A"]);
    root.dept_delete(a.id)
        .await
        .expect("delete an empty department");
    assert!(next_directory(&mut watcher).await > v3);
}

async fn disabling_an_account_closes_its_sessions_at_once(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (root, _) = admin(&server, t).await;
    let name = unique("leaver");
    let (mut s1, auth) = user(&url, &name).await;
    let (mut s2, _) = user(&url, &name).await;
    let token = auth.token.expect("token");
    root.admin_user_set(AdminUserSet {
        user: name.clone(),
        state: Some(AccountState::Disabled),
        ..AdminUserSet::default()
    })
    .await
    .expect("disable");
    for s in [&mut s1, &mut s2] {
        assert_eq!(next_goaway(s).await.reason, "account_disabled");
    }
    let again = connect(&url).await;
    assert_eq!(
        code_of(again.login(&name, PASSWORD, None).await),
        "account_disabled"
    );
    assert_eq!(code_of(again.resume(&token).await), "invalid_token");
    // Others can neither message nor find a disabled account.
    assert_eq!(
        code_of(root.send(&name, "are you there?").await),
        "not_allowed"
    );
    assert!(
        root.search(&name, None, None)
            .await
            .expect("search")
            .users
            .is_empty()
    );
    assert_eq!(
        root.admin_user(&name).await.expect("show").state,
        AccountState::Disabled
    );

    root.admin_user_set(AdminUserSet {
        user: name.clone(),
        state: Some(AccountState::Active),
        password: Some("a brand new password".into()),
        ..AdminUserSet::default()
    })
    .await
    .expect("enable with a new password");
    assert_eq!(
        code_of(again.login(&name, PASSWORD, None).await),
        "invalid_credentials"
    );
    let mut back = login(&url, &name, "a brand new password").await;
    assert_eq!(
        root.search(&name, None, None)
            .await
            .expect("search")
            .users
            .len(),
        1
    );
    // A password reset signs the account's sessions out, as revoked.
    root.admin_user_set(AdminUserSet {
        user: name.clone(),
        password: Some("yet another password".into()),
        ..AdminUserSet::default()
    })
    .await
    .expect("reset");
    assert_eq!(next_goaway(&mut back).await.reason, "revoked");

    // Deleting is final, and keeps the name taken.
    root.admin_user_set(AdminUserSet {
        user: name.clone(),
        state: Some(AccountState::Deleted),
        ..AdminUserSet::default()
    })
    .await
    .expect("delete");
    assert_eq!(
        code_of(
            connect(&url)
                .await
                .login(&name, "yet another password", None)
                .await
        ),
        "account_disabled"
    );
    let revive = AdminUserSet {
        user: name.clone(),
        state: Some(AccountState::Active),
        ..AdminUserSet::default()
    };
    assert_eq!(
        code_of(root.admin_user_set(revive).await),
        "account_disabled"
    );
    assert_eq!(
        code_of(connect(&url).await.register(&name, PASSWORD).await),
        "username_taken"
    );
}

async fn enterprise_mode_makes_colleagues_contacts(t: Transport) {
    let server = TestServer::start().await;
    // Bootstrap the first administrator on the open server, then turn it
    // into an enterprise one (restart keeps the data).
    let (root, _) = admin(&server, t).await;
    let dept = root.dept_create("销售部", None, None).await.expect("dept");
    let other = root.dept_create("财务部", None, None).await.expect("dept");
    let mut accounts = Vec::new();
    for (prefix, d) in [
        ("wang", Some(dept.id)),
        ("zhao", Some(dept.id)),
        ("qian", Some(other.id)),
        ("guest", None),
    ] {
        let name = unique(prefix);
        root.admin_user_create(AdminUserCreate {
            user: name.clone(),
            password: Some(PASSWORD.into()),
            dept: d,
            ..AdminUserCreate::default()
        })
        .await
        .expect("create");
        accounts.push(name);
    }
    drop(root);
    let server = server
        .restart_with(|c| {
            c.mode = ServerMode::Enterprise;
            c.messaging = MessagingPolicy::Organisation;
        })
        .await;
    let url = server.url(t);
    assert_eq!(
        code_of(
            connect(&url)
                .await
                .register(&unique("walkin"), PASSWORD)
                .await
        ),
        "registration_closed"
    );
    let [wang, zhao, qian, guest] = [0, 1, 2, 3].map(|i| accounts[i].clone());
    let w = login(&url, &wang, PASSWORD).await;
    let mut z = login(&url, &zhao, PASSWORD).await;
    let mut q = login(&url, &qian, PASSWORD).await;
    let g = login(&url, &guest, PASSWORD).await;
    w.set_profile(magpie_proto::ProfileSet {
        phone: Some("13800138000".into()),
        ..Default::default()
    })
    .await
    .expect("profile");

    // Colleagues message each other without a friendship, across
    // departments too; an outsider may not.
    w.send(&zhao, "同事你好").await.expect("colleague");
    assert_eq!(next_message(&mut z).await.body, "同事你好");
    w.send(&qian, "hi finance").await.expect("other department");
    assert_eq!(next_message(&mut q).await.body, "hi finance");
    assert_eq!(code_of(g.send(&wang, "let me in").await), "not_allowed");
    // Colleagues see phone numbers; an outsider does not.
    assert_eq!(
        z.profile(Some(&wang)).await.expect("p").phone.as_deref(),
        Some("13800138000")
    );
    assert_eq!(g.profile(Some(&wang)).await.expect("p").phone, None);
    // Presence reaches the same department without any friendship.
    w.set_presence(Status::Busy, Some("客户会议"))
        .await
        .expect("presence");
    loop {
        match tokio::time::timeout(WAIT, z.next_push())
            .await
            .expect("presence in time")
        {
            Some(Push::Presence(p)) if p.user == wang && p.status == Status::Busy => break,
            Some(_) => {}
            None => panic!("closed"),
        }
    }
}

/// The next message push of `conv`.
async fn next_in(client: &mut Client, conv: i64) -> Message {
    loop {
        let m = next_message(client).await;
        if m.conv == conv {
            return m;
        }
    }
}

async fn administrators_list_and_dissolve_any_group(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (o, m) = (unique("gowner"), unique("gmember"));
    let (owner, _) = user(&url, &o).await;
    let (mut member, _) = user(&url, &m).await;
    let make = |name: &'static str, members: Vec<String>| {
        let owner = &owner;
        async move {
            owner
                .group_create(GroupCreate {
                    name: name.into(),
                    members,
                    ..GroupCreate::default()
                })
                .await
                .expect("create group")
                .conv
        }
    };
    let first = make("项目组 <b>", vec![m.clone()]).await;
    let second = make("second", Vec::new()).await;
    let third = make("third", vec![m.clone()]).await;
    next_in(&mut member, first).await;

    // Not for plain users, the owner included.
    for plain in [&owner, &member] {
        assert_eq!(
            code_of(plain.admin_groups_page(None, None).await),
            "forbidden"
        );
        assert_eq!(
            code_of(plain.admin_group_dissolve(first).await),
            "forbidden"
        );
        assert_eq!(code_of(plain.admin_stats().await), "forbidden");
    }

    // Every group, by id, a page at a time, with owner and member count.
    let (root, root_name) = admin(&server, t).await;
    let all = root.admin_groups_page(None, None).await.expect("list");
    assert_eq!(all.next, None);
    let convs: Vec<i64> = all.groups.iter().map(|g| g.conv).collect();
    assert_eq!(convs, [first, second, third]);
    let g = &all.groups[0];
    assert_eq!(
        (g.name.as_str(), g.owner.as_str(), g.members, g.temporary),
        ("项目组 <b>", o.as_str(), 2, false)
    );
    assert!(g.created_at > 0);
    assert_eq!(all.groups[1].members, 1);
    let page = root.admin_groups_page(None, Some(2)).await.expect("page");
    assert_eq!(page.groups.len(), 2);
    assert_eq!(page.next, Some(second));
    let rest = root
        .admin_groups_page(page.next, Some(2))
        .await
        .expect("rest");
    assert_eq!(
        (rest.groups.len(), rest.groups[0].conv, rest.next),
        (1, third, None)
    );

    // Bad arguments.
    for limit in [0, 501] {
        assert_eq!(
            code_of(root.admin_groups_page(None, Some(limit)).await),
            "invalid_args"
        );
    }
    assert_eq!(
        code_of(root.admin_groups_page(Some(-1), None).await),
        "invalid_args"
    );
    assert_eq!(code_of(root.admin_group_dissolve(0).await), "invalid_args");
    assert_eq!(
        code_of(root.admin_group_dissolve(9_999_999).await),
        "unknown_conversation"
    );

    // Dissolving, by an administrator who is no member: the members get
    // the `dissolved` event naming the administrator, then `group_left`
    // with reason `dissolved`, as when the owner dissolves it.
    let changed = root.admin_group_dissolve(first).await.expect("dissolve");
    assert_eq!(changed.conv, first);
    let event = next_in(&mut member, first).await;
    assert_eq!(Some(event.seq), changed.seq);
    assert_eq!(event.kind, MessageKind::Event);
    let parsed = GroupEvent::parse(event.event.as_ref().expect("event")).expect("known");
    assert!(
        matches!(&parsed, GroupEvent::Dissolved { by } if *by == root_name),
        "{parsed:?}"
    );
    let change = next_change(&mut member).await;
    assert!(
        matches!(&change.event, ChangeEvent::GroupLeft(left) if left.conv == first && left.reason == LeftReason::Dissolved),
        "{change:?}"
    );
    for client in [&owner, &member] {
        assert_eq!(
            code_of(client.send_to_conv(first, "anyone?").await),
            "unknown_conversation"
        );
        let left: Vec<i64> = client
            .groups()
            .await
            .expect("groups")
            .iter()
            .map(|g| g.conv)
            .collect();
        assert!(!left.contains(&first), "{left:?}");
    }
    // The owner learns it from the change stream too.
    let owner_changes = owner.changes(0, None).await.expect("changes");
    assert!(owner_changes.changes.iter().any(|c| matches!(
        &c.event,
        ChangeEvent::GroupLeft(left) if left.conv == first && left.reason == LeftReason::Dissolved
    )));
    // Gone from the list; a second dissolve finds nothing.
    let after: Vec<i64> = root
        .admin_groups_page(None, None)
        .await
        .expect("list")
        .groups
        .iter()
        .map(|g| g.conv)
        .collect();
    assert_eq!(after, [second, third]);
    assert_eq!(
        code_of(root.admin_group_dissolve(first).await),
        "unknown_conversation"
    );
    // The other groups are untouched.
    member
        .send_to_conv(third, "still here")
        .await
        .expect("send to a live group");
}

async fn admin_stats_reports_this_nodes_own_metrics(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (root, _) = admin(&server, t).await;
    let before = root.admin_stats().await.expect("stats");
    assert!(before.connections >= 1, "{before:?}");
    assert_eq!(
        before.connections,
        before.connections_tcp + before.connections_ws
    );
    assert!(before.started_at > 0 && before.started_at <= before.at);
    assert!(before.logins >= 1);

    let (a, b) = (unique("sa"), unique("sb"));
    let (alice, _) = user(&url, &a).await;
    let (_bob, _) = user(&url, &b).await;
    for i in 0..3 {
        alice.send(&b, &format!("m{i}")).await.expect("send");
    }
    let after = root.admin_stats().await.expect("stats");
    assert!(after.at >= before.at);
    assert!(after.connections >= before.connections + 2, "{after:?}");
    assert!(after.messages_in >= before.messages_in + 3, "{after:?}");
    assert!(after.messages_out > before.messages_out);
    assert!(after.logins >= before.logins + 2);
    assert!(after.send_ack_seconds.count >= before.send_ack_seconds.count + 3);
    assert!(after.store_batch_seconds.count > before.store_batch_seconds.count);
    assert!(after.store_batch_seconds.sum > before.store_batch_seconds.sum);
    assert!(after.store_batch_size.sum >= before.store_batch_size.sum + 3.0);
    // The figures agree with /metrics.
    let (_, text) = http_get(server.running().http_addr(), "/metrics", None).await;
    let counter = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics"))
    };
    assert!(counter("magpie_messages_in_total ") >= after.messages_in);
}
