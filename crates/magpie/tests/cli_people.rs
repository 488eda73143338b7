//! The people commands of `magpie client` (profiles, search, friends,
//! categories, blocks, changes), driven as a script would drive them.

mod common;

use common::*;
use serde_json::Value;

fn names(users: &Value) -> Vec<&str> {
    users
        .as_array()
        .expect("an array")
        .iter()
        .map(|u| u["user"].as_str().unwrap_or_default())
        .collect()
}

#[test]
fn profiles_search_friends_categories_blocks_and_changes() {
    let server = start_server();
    let alice = User::register(&server.process.tcp_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");

    // A profile, set and read back; the email is stored lower-case.
    let profile = alice.json(&[
        "profile",
        "set",
        "--nickname",
        "Wonder Alice",
        "--signature",
        "down the rabbit hole",
        "--gender",
        "female",
        "--birthday",
        "2000-02-29",
        "--email",
        "Alice@Example.com",
    ]);
    assert_eq!(profile["user"], "alice");
    assert_eq!(profile["nickname"], "Wonder Alice");
    assert_eq!(profile["gender"], "female");
    assert_eq!(profile["birthday"], "2000-02-29");
    assert_eq!(profile["email"], "alice@example.com");
    let own = alice.text(&["profile"]);
    assert!(own.contains("Wonder Alice"), "{own}");
    assert!(own.contains("2000-02-29"), "{own}");

    // Not friends yet: bob sees the profile without the email.
    let seen = bob.json(&["profile", "alice"]);
    assert_eq!(seen["nickname"], "Wonder Alice");
    assert!(seen.get("email").is_none(), "{seen}");

    // Search by username prefix, by nickname and by email.
    for query in ["ali", "wonder", "alice@example.com"] {
        let found = bob.json(&["search", query]);
        assert_eq!(names(&found["users"]), ["alice"], "{query}");
        assert_eq!(found["users"][0]["nickname"], "Wonder Alice");
        assert!(found.get("next").is_none());
    }
    let none = bob.text(&["search", "zzz"]);
    assert_eq!(none.trim(), "no users found");

    // A friend request, seen from both sides, and accepted.
    let sent = alice.json(&["friend", "request", "bob", "--note", "hi, it's alice"]);
    assert_eq!(sent, serde_json::json!({"status": "pending"}));
    let requests = bob.json(&["friend", "requests"]);
    assert_eq!(requests["incoming"][0]["from"]["user"], "alice");
    assert_eq!(requests["incoming"][0]["note"], "hi, it's alice");
    assert_eq!(requests["outgoing"], serde_json::json!([]));
    let listed = alice.text(&["friend", "requests"]);
    assert!(
        listed.contains("bob") && listed.contains("hi, it's alice"),
        "{listed}"
    );
    assert_eq!(
        bob.json(&["friend", "accept", "alice"]),
        serde_json::json!({"ok": true})
    );

    // Categories and remarks appear in the friend list.
    let work = alice.json(&["category", "create", "Work"]);
    assert_eq!(work["name"], "Work");
    let work_id = work["id"].as_i64().expect("category id");
    let friend = alice.json(&["friend", "category", "bob", &work_id.to_string()]);
    assert_eq!(friend["category"], work_id);
    let friend = alice.json(&["friend", "remark", "bob", "Bobby"]);
    assert_eq!(friend["remark"], "Bobby");
    let renamed = alice.json(&["category", "rename", &work_id.to_string(), "Colleagues"]);
    assert_eq!(renamed["name"], "Colleagues");

    let list = alice.json(&["friend", "list"]);
    let friends = list["friends"].as_array().expect("friends");
    assert_eq!(friends.len(), 1, "{list}");
    assert_eq!(friends[0]["user"]["user"], "bob");
    assert_eq!(friends[0]["remark"], "Bobby");
    assert_eq!(friends[0]["category"], work_id);
    assert!(friends[0]["since"].as_i64().is_some_and(|t| t > 0));
    assert_eq!(
        list["categories"],
        serde_json::json!([{"id": work_id, "name": "Colleagues"}])
    );
    assert!(list.get("next").is_none(), "all pages: no cursor");
    let bobs = bob.json(&["friend", "list"]);
    assert_eq!(bobs["friends"][0]["user"]["user"], "alice", "{bobs}");
    assert_eq!(bobs["categories"], serde_json::json!([]));
    let text = alice.text(&["friend", "list"]);
    assert!(text.contains("bob") && text.contains("Bobby"), "{text}");
    assert!(text.contains("Colleagues"), "{text}");

    // Friends see the email now.
    assert_eq!(
        bob.json(&["profile", "alice"])["email"],
        "alice@example.com"
    );

    // Block and unblock.
    assert_eq!(
        alice.json(&["block", "bob"]),
        serde_json::json!({"ok": true})
    );
    assert_eq!(names(&alice.json(&["blocks"])["users"]), ["bob"]);
    assert_eq!(
        alice.json(&["friend", "list"])["friends"],
        serde_json::json!([])
    );
    let blocked = bob.run(&["send", "alice", "hello?"]);
    assert!(!blocked.status.success(), "blocked users cannot message");
    alice.json(&["unblock", "bob"]);
    assert_eq!(alice.json(&["blocks"])["users"], serde_json::json!([]));
    assert_eq!(alice.text(&["blocks"]).trim(), "no blocked users");

    // The change stream tells the story, in order, and ends at head.
    let changes = alice.json(&["changes"]);
    assert_eq!(changes["reset"], false);
    let list = changes["changes"].as_array().expect("changes");
    let seqs: Vec<i64> = list.iter().filter_map(|c| c["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(changes["head"].as_i64(), seqs.last().copied());
    let kinds: Vec<&str> = list.iter().filter_map(|c| c["kind"].as_str()).collect();
    for kind in [
        "profile",
        "friend_request",
        "friend_request_closed",
        "friend_added",
        "category_updated",
        "friend_updated",
        "friend_removed",
        "blocked",
        "unblocked",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let head = changes["head"].as_i64().expect("head").to_string();
    let rest = alice.json(&["changes", "--after", &head]);
    assert_eq!(rest["changes"], serde_json::json!([]));
    assert_eq!(rest["head"].to_string(), head);
    // A cursor past the head: the device must reload and start over.
    let future = alice.json(&["changes", "--after", "999"]);
    assert_eq!(future["reset"], true, "{future}");
    assert_eq!(future["head"].to_string(), head);
    let text = alice.text(&["changes", "--after", "999"]);
    assert!(text.contains("reset"), "{text}");
    let text = alice.text(&["changes", "--after", "1"]);
    assert!(text.contains("friend_request"), "{text}");
    assert!(text.contains(&format!("--after {head}")), "{text}");
}

#[test]
fn bad_input_fails_naming_the_field_and_changes_nothing() {
    let server = start_server();
    let carol = User::register(&server.process.tcp_url, "carol");
    carol.json(&[
        "profile",
        "set",
        "--nickname",
        "Carol",
        "--birthday",
        "1999-12-31",
    ]);
    let before = carol.json(&["profile"]);

    // Refused while parsing: a usage error that names the field.
    for bad in [
        &[
            "profile",
            "set",
            "--nickname",
            "Changed",
            "--birthday",
            "2001-02-30",
        ][..],
        &[
            "profile",
            "set",
            "--nickname",
            "Changed",
            "--gender",
            "robot",
        ],
        &[
            "profile",
            "set",
            "--nickname",
            "Changed",
            "--phone",
            "12-34",
        ],
        &[
            "profile",
            "set",
            "--nickname",
            "Changed",
            "--email",
            "carol",
        ],
    ] {
        let out = carol.run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        let field = bad[4].trim_start_matches("--");
        let err = stderr(&out);
        assert!(err.contains(&format!("--{field}")), "{err}");
        assert!(err.contains(&format!("{field} must")), "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = carol.run(&["profile", "set"]);
    assert_eq!(out.status.code(), Some(2), "profile set needs a field");
    assert_eq!(carol.json(&["profile"]), before, "nothing changed");

    // Refused by the server: exit status 1 and the server's code.
    let out = carol.run(&["--json", "friend", "request", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown_user"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = carol.run(&["friend", "accept", "carol"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid_args"), "{}", stderr(&out));

    // An empty value clears a field.
    let cleared = carol.json(&["profile", "set", "--birthday", "", "--nickname", ""]);
    assert!(cleared.get("birthday").is_none(), "{cleared}");
    assert_eq!(cleared["nickname"], "");
}
