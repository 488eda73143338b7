//! The group commands of `magpie client` (create, members, roles, mutes,
//! removal) and posting in a group with `send --group`, driven as a
//! script would drive them against a real server.

use magpie_testkit::ServerProcess;
use serde_json::Value;
use std::process::{Command, Output};

const PASSWORD: &str = "correct horse battery";

struct Server {
    process: ServerProcess,
    _dir: tempfile::TempDir,
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let command = ServerProcess::serve_command(env!("CARGO_BIN_EXE_magpie"), dir.path());
    Server {
        process: ServerProcess::spawn(command),
        _dir: dir,
    }
}

/// One user of the test: registered, logged in once, and from then on
/// using the session token (a password login per command would soon hit
/// the per-account login rate limit).
struct User {
    server: String,
    name: String,
    token: String,
}

impl User {
    fn register(server: &str, name: &str) -> User {
        let with_password = |op: &str| {
            let mut cmd = bare(server, name);
            cmd.env("MAGPIE_PASSWORD", PASSWORD).arg(op);
            let out = cmd.output().expect("run magpie client");
            assert!(out.status.success(), "{op} {name}: {}", stderr(&out));
            out
        };
        with_password("register");
        let login: Value =
            serde_json::from_slice(&with_password("login").stdout).expect("login JSON");
        User {
            server: server.to_string(),
            name: name.to_string(),
            token: login["token"].as_str().expect("token").to_string(),
        }
    }

    /// `magpie client ARGS` as this user.
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = bare(&self.server, &self.name);
        cmd.env("MAGPIE_TOKEN", &self.token).args(args);
        cmd.output().expect("run magpie client")
    }

    /// `magpie client ARGS` as this user, logging in with the password
    /// (--user and MAGPIE_PASSWORD) instead of the session token.
    fn run_with_password(&self, args: &[&str]) -> Output {
        let mut cmd = bare(&self.server, &self.name);
        cmd.env("MAGPIE_PASSWORD", PASSWORD).args(args);
        cmd.output().expect("run magpie client")
    }

    /// `magpie client --json ARGS`, which must succeed and print exactly
    /// one JSON document.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let lines = self.lines(&all);
        assert_eq!(lines.len(), 1, "{args:?}: one document: {lines:?}");
        lines.into_iter().next().expect("one document")
    }

    /// A messaging command (`send`, `history`, `conversations`), which
    /// must succeed; it prints one JSON document per line.
    fn lines(&self, args: &[&str]) -> Vec<Value> {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
            .collect()
    }

    /// `magpie client ARGS` in text mode, which must succeed.
    fn text(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn bare(server: &str, user: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_magpie"));
    cmd.args(["client", "--server", server, "--user", user]);
    cmd.env_remove("MAGPIE_PASSWORD")
        .env_remove("MAGPIE_TOKEN")
        .env_remove("MAGPIE_SERVER")
        .env_remove("MAGPIE_USER");
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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
    let ack = &carol.lines(&["send", "--conv", &conv, "hi all"])[0];
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
