//! The group commands of `magpie client` (create, members, roles, mutes,
//! removal) and posting in a group with `send --group`, driven as a
//! script would drive them against a real server.

mod common;

use common::*;
use serde_json::Value;

/// `user → role` of a `group members --json` answer, in its order.
fn roles(members: &Value) -> Vec<(String, String)> {
    members["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            let field = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
            (field("user"), field("role"))
        })
        .collect()
}

/// The member `user` of a `group members --json` answer.
fn member<'a>(members: &'a Value, user: &str) -> &'a Value {
    members["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"] == user)
        .unwrap_or_else(|| panic!("{user} in {members}"))
}

#[test]
fn a_group_is_made_posted_in_and_read_by_its_members() {
    let server = start_server();
    let alice = User::register(&server.process.tcp_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");
    let carol = User::register(&server.process.tcp_url, "carol");

    // Made by alice with bob and carol in it from the start.
    let group = alice.json(&[
        "group",
        "create",
        "Team",
        "--member",
        "bob",
        "--member",
        "carol",
        "--announcement",
        "ship it",
    ]);
    assert_eq!(group["name"], "Team");
    assert_eq!(group["owner"], "alice");
    assert_eq!(group["role"], "owner");
    assert_eq!(group["members"], 3);
    assert_eq!(group["announcement"], "ship it");
    let id = group["conv"].as_i64().expect("the group's id");
    let conv = id.to_string();
    let info = bob.text(&["group", "info", &conv]);
    assert!(info.contains("Team") && info.contains("ship it"), "{info}");

    // Posted in with --group; --conv names the same conversation.
    let ack = &alice.lines(&["send", "--group", &conv, "hello team"])[0];
    assert_eq!(ack["conv"], id, "{ack}");
    let ack = &carol.lines(&["send", "--conv", &conv, "--mention", "bob", "hi all"])[0];
    assert_eq!(ack["conv"], id, "{ack}");

    // Bob reads it all: the `created` event first, then the messages.
    let history = bob.lines(&["history", "--group", &conv]);
    let created = &history[0];
    assert_eq!(created["kind"], "event", "{created}");
    assert_eq!(created["seq"], 1);
    assert_eq!(created["event"]["type"], "created");
    assert_eq!(created["event"]["by"], "alice");
    assert_eq!(created["event"]["name"], "Team");
    assert_eq!(
        created["event"]["members"],
        serde_json::json!(["alice", "bob", "carol"])
    );
    let texts: Vec<(&str, &str)> = history
        .iter()
        .filter(|m| m["kind"] == "text")
        .map(|m| {
            (
                m["from"].as_str().unwrap_or(""),
                m["body"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(texts, [("alice", "hello team"), ("carol", "hi all")]);
    let last = history.last().expect("entries");
    assert_eq!(last["mentions"], serde_json::json!(["bob"]), "{last}");
    // Bob's row carries the mention until he reads past it.
    let rows = bob.lines(&["conversations"]);
    assert_eq!(rows[0]["mentioned"], true, "{rows:?}");

    // The group is in bob's lists, by name.
    let mine = bob.json(&["group", "list"]);
    assert_eq!(mine["groups"][0]["conv"], id, "{mine}");
    assert_eq!(mine["groups"][0]["role"], "member");
    let row = bob
        .lines(&["conversations"])
        .into_iter()
        .find(|c| c["conv"] == id)
        .expect("the group in the conversation list");
    assert_eq!(row["kind"], "group", "{row}");
    assert_eq!(row["name"], "Team", "{row}");

    // Roles: alice makes carol an admin; members lists everyone's.
    let changed = alice.json(&["group", "role", &conv, "carol", "admin"]);
    assert_eq!(changed["conv"], id);
    assert!(changed["seq"].as_i64().is_some(), "{changed}");
    let members = bob.json(&["group", "members", &conv]);
    let mut listed = roles(&members);
    listed.sort();
    let expected = [("alice", "owner"), ("bob", "member"), ("carol", "admin")];
    assert_eq!(
        listed,
        expected.map(|(u, r)| (u.to_owned(), r.to_owned())),
        "{members}"
    );
    let text = bob.text(&["group", "members", &conv]);
    let carol_line = text.lines().find(|l| l.contains("carol")).expect("carol");
    assert!(carol_line.contains("admin"), "{text}");

    // Muted for ten minutes (a duration with a unit), then unmuted.
    alice.json(&["group", "mute", &conv, "bob", "10m"]);
    let members = alice.json(&["group", "members", &conv]);
    assert!(
        member(&members, "bob")["muted_until"].as_i64().is_some(),
        "{members}"
    );
    let refused = bob.run(&["send", "--group", &conv, "let me talk"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("muted"), "{}", stderr(&refused));
    alice.json(&["group", "unmute", &conv, "bob"]);
    let members = alice.json(&["group", "members", &conv]);
    assert!(
        member(&members, "bob").get("muted_until").is_none(),
        "{members}"
    );
    bob.lines(&["send", "--group", &conv, "thanks"]);
}

#[test]
fn refusals_and_bad_input_fail_clearly() {
    let server = start_server();
    let alice = User::register(&server.process.tcp_url, "alice");
    let bob = User::register(&server.process.tcp_url, "bob");
    let group = alice.json(&["group", "create", "Club", "--member", "bob"]);
    let conv = group["conv"].as_i64().expect("the group's id").to_string();

    // A plain member cannot put the owner out: the server refuses.
    let out = bob.run(&["group", "remove", &conv, "alice"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("forbidden"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    // The same with the password: the member named is not taken for the
    // --user to log in as.
    let out = bob.run_with_password(&["group", "remove", &conv, "alice"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("forbidden"), "{}", stderr(&out));
    let members = alice.json(&["group", "members", &conv]);
    assert_eq!(roles(&members).len(), 2, "nobody removed: {members}");

    // Refused while parsing: a usage error that names what is wrong, and
    // nothing is sent.
    for bad in ["10x", "0", "1.5h", "soon"] {
        let out = alice.run(&["group", "mute", &conv, "bob", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("duration"), "{bad}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    let members = alice.json(&["group", "members", &conv]);
    assert!(
        member(&members, "bob").get("muted_until").is_none(),
        "{members}"
    );
    let out = alice.run(&["group", "set", &conv]);
    assert_eq!(out.status.code(), Some(2), "set needs a field");
    let out = alice.run(&["group", "role", &conv, "bob", "owner"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("group transfer"), "{}", stderr(&out));
}

#[test]
fn a_group_that_takes_requests_lets_in_whom_the_admins_approve() {
    let server = start_server();
    let alice = User::register(&server.process.tcp_url, "alice");
    let bob = User::register(&server.process.tcp_url, "bob");
    let carol = User::register(&server.process.ws_url, "carol");
    let group = alice.json(&["group", "create", "Door"]);
    let id = group["conv"].as_i64().expect("the group's id");
    let conv = id.to_string();
    let changed = alice.json(&["group", "set", &conv, "--policy", "request"]);
    assert!(changed["seq"].as_i64().is_some(), "{changed}");
    assert_eq!(
        alice.json(&["group", "info", &conv])["join_policy"],
        "request"
    );

    // Bob asks, with a note: a request for the admins, not a membership.
    let asked = bob.json(&["group", "join", &conv, "--note", "hi"]);
    assert_eq!(asked["conv"], id, "{asked}");
    assert_eq!(asked["requested"], true, "{asked}");
    assert!(asked.get("seq").is_none(), "no event yet: {asked}");
    let refused = bob.run(&["send", "--group", &conv, "am I in?"]);
    assert_eq!(refused.status.code(), Some(1), "not a member yet");

    // Alice sees it with its note, and lets bob in.
    let pending = alice.json(&["group", "requests", &conv]);
    let requests = pending["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 1, "{pending}");
    assert_eq!(requests[0]["user"], "bob", "{pending}");
    assert_eq!(requests[0]["note"], "hi", "{pending}");
    let approved = alice.json(&["group", "approve", &conv, "bob"]);
    assert!(approved["seq"].as_i64().is_some(), "{approved}");
    let ack = &bob.lines(&["send", "--group", &conv, "thanks for having me"])[0];
    assert_eq!(ack["conv"], id, "{ack}");

    // Carol asks without a note (in text mode); alice turns her down.
    let text = carol.text(&["group", "join", &conv]);
    assert!(
        text.contains("request sent to the group's admins"),
        "{text}"
    );
    let pending = alice.json(&["group", "requests", &conv]);
    assert_eq!(pending["requests"][0]["user"], "carol", "{pending}");
    let rejected = alice.json(&["group", "reject", &conv, "carol"]);
    assert_eq!(rejected["conv"], id, "{rejected}");
    let text = alice.text(&["group", "requests", &conv]);
    assert!(text.contains("no pending requests"), "{text}");
    let refused = carol.run(&["send", "--group", &conv, "let me in"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("unknown_conversation"),
        "{}",
        stderr(&refused)
    );
}
