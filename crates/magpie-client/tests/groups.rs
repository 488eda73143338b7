//! The groups calls against the scripted mock server: each sends its own
//! operation with the arguments the protocol names, and the listing calls
//! read every page.

mod mock;

use magpie_client::{Client, ClientError};
use magpie_proto::{
    GroupChanged, GroupFields, GroupInfo, GroupMember, GroupMembersOk, GroupRole, GroupsOk,
    JoinPolicy, Request,
};
use mock::{Kind, Mock, Script};

async fn connected() -> (Mock, Client) {
    let mock = Mock::start(Kind::Tcp, Script::default()).await;
    let client = Client::connect(&mock.url).await.expect("connect");
    (mock, client)
}

fn member(user_id: i64) -> GroupMember {
    GroupMember {
        user_id,
        user: format!("u{user_id}"),
        role: GroupRole::Member,
        nickname: String::new(),
        muted_until: None,
        joined_at: 1,
        status: magpie_proto::Status::Offline,
        status_text: String::new(),
    }
}

fn info(conv: i64) -> GroupInfo {
    GroupInfo {
        conv,
        name: format!("g{conv}"),
        avatar: String::new(),
        description: String::new(),
        announcement: String::new(),
        owner: "alice".into(),
        join_policy: JoinPolicy::Invite,
        history_visible: 0,
        member_limit: 500,
        temporary: false,
        muted_all: false,
        members: 2,
        role: GroupRole::Owner,
        max_seq: 1,
        created_at: 1,
    }
}

#[tokio::test]
async fn group_members_follows_the_cursor_to_the_last_page() {
    let (mut mock, client) = connected().await;
    let server = async {
        let f = mock.request().await;
        let Request::GroupMembers(args) = f.request else {
            panic!("expected group_members, got {:?}", f.request)
        };
        assert_eq!((args.conv, args.after), (7, None));
        let page = GroupMembersOk {
            members: vec![member(1), member(2)],
            next: Some(2),
        };
        mock.ok(f.id, &page);
        let f = mock.request().await;
        let Request::GroupMembers(args) = f.request else {
            panic!("expected group_members")
        };
        assert_eq!((args.conv, args.after), (7, Some(2)));
        let page = GroupMembersOk {
            members: vec![member(5)],
            next: None,
        };
        mock.ok(f.id, &page);
    };
    let (all, ()) = tokio::join!(client.group_members(7), server);
    let ids: Vec<i64> = all.expect("members").iter().map(|m| m.user_id).collect();
    assert_eq!(ids, [1, 2, 5]);
}

#[tokio::test]
async fn groups_stops_when_the_server_repeats_a_cursor() {
    let (mut mock, client) = connected().await;
    let server = async {
        for _ in 0..2 {
            let f = mock.request().await;
            assert!(matches!(f.request, Request::Groups(_)), "{:?}", f.request);
            let page = GroupsOk {
                groups: vec![info(3)],
                next: Some(3),
            };
            mock.ok(f.id, &page);
        }
    };
    let (res, ()) = tokio::join!(client.groups(), server);
    assert!(matches!(res, Err(ClientError::Protocol(_))), "{res:?}");
}

#[tokio::test]
async fn changes_send_their_own_operation_and_arguments() {
    let (mut mock, client) = connected().await;
    let changed = GroupChanged {
        conv: 7,
        seq: Some(4),
        requested: false,
    };
    let server = async {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let f = mock.request().await;
            seen.push(f.request);
            mock.ok(f.id, &changed);
        }
        seen
    };
    let calls = async {
        let fields = GroupFields {
            name: Some("R&D".into()),
            ..GroupFields::default()
        };
        let answers = [
            client.group_invite(7, &["bob", "carol"]).await,
            client.group_mute(7, "bob", 0).await,
            client.group_role(7, "bob", GroupRole::Admin).await,
            client.group_set(7, fields).await,
        ];
        answers.map(|a| a.expect("changed"))
    };
    let (answers, seen) = tokio::join!(calls, server);
    assert!(answers.iter().all(|a| *a == changed));
    let wire: Vec<serde_json::Value> = seen
        .iter()
        .map(|r| serde_json::to_value(r).expect("encode"))
        .collect();
    assert_eq!(
        wire,
        [
            serde_json::json!({"op": "group_invite", "args": {"conv": 7, "users": ["bob", "carol"]}}),
            serde_json::json!({"op": "group_mute", "args": {"conv": 7, "user": "bob", "seconds": 0}}),
            serde_json::json!({"op": "group_role", "args": {"conv": 7, "user": "bob", "role": "admin"}}),
            serde_json::json!({"op": "group_set", "args": {"conv": 7, "name": "R&D"}}),
        ]
    );
}
