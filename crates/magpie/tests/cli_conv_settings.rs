//! The per-conversation settings and typing commands of `magpie client`
//! (`pin`, `mute`, `hide`, `mark-unread`, `draft`, `settings`, `typing`),
//! driven as a script would drive them: JSON and text output, each `--off`,
//! what `conversations` shows, refusals with their exit status, and usage
//! mistakes caught before connecting.

mod common;

use common::*;
use serde_json::{Value, json};

/// `conversations` as (conv, pinned) pairs, in the order listed.
fn listed(user: &User) -> Vec<(i64, bool)> {
    user.lines(&["conversations"])
        .iter()
        .map(|c| {
            (
                c["conv"].as_i64().expect("conv"),
                c["pinned"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn conv_of(ack: &[Value]) -> i64 {
    ack[0]["conv"].as_i64().expect("conv")
}

#[test]
fn pin_mute_hide_mark_draft_and_typing() {
    let server = start_server();
    let alice = User::register(&server.process.tcp_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");
    let carol = User::register(&server.process.tcp_url, "carol");
    let with_bob = conv_of(&alice.lines(&["send", "bob", "hi bob"]));
    let with_carol = conv_of(&carol.lines(&["send", "alice", "hi alice"]));
    let b = with_bob.to_string();
    assert_eq!(listed(&alice), vec![(with_carol, false), (with_bob, false)]);

    // Pin: JSON is the conversation's settings; the list puts it first.
    let pinned = alice.json(&["pin", &b]);
    assert_eq!(
        pinned,
        json!({"conv": with_bob, "pinned": true, "muted_until": 0,
               "marked_unread": false, "hidden_seq": 0, "draft": ""})
    );
    assert_eq!(listed(&alice), vec![(with_bob, true), (with_carol, false)]);
    let text = alice.text(&["pin", &b]);
    assert_eq!(text.trim(), format!("conversation {with_bob}: pinned"));

    // Mute: forever, for a while, off.
    assert_eq!(alice.json(&["mute", &b])["muted_until"], -1);
    let until = alice.json(&["mute", &b, "--for", "3600"])["muted_until"]
        .as_i64()
        .expect("until");
    assert!(until > 1_700_000_000_000, "{until}");
    assert!(
        alice
            .text(&["mute", &b, "--for", "60"])
            .contains("muted until")
    );
    assert_eq!(alice.json(&["mute", &b, "--off"])["muted_until"], 0);

    // Mark unread, and the mark shows in the list.
    assert_eq!(alice.json(&["mark-unread", &b])["marked_unread"], true);
    let rows = alice.lines(&["conversations"]);
    assert_eq!(rows[0]["marked_unread"], true, "{rows:?}");
    assert_eq!(
        alice.json(&["mark-unread", &b, "--off"])["marked_unread"],
        false
    );

    // A draft: saved, printed back (as text and JSON), cleared.
    let draft = "to be continued…\nsecond line";
    assert_eq!(alice.json(&["draft", &b, draft])["draft"], draft);
    assert_eq!(alice.text(&["draft", &b]).trim_end(), draft);
    assert_eq!(alice.json(&["draft", &b])["draft"], draft);
    assert_eq!(alice.lines(&["conversations"])[0]["draft"], draft);
    assert_eq!(alice.json(&["draft", &b, "--clear"])["draft"], "");
    assert_eq!(
        alice.text(&["draft", &b]).trim(),
        format!("conversation {with_bob}: no draft")
    );

    // Hide: gone from the list until bob writes again.
    assert!(alice.json(&["hide", &b])["hidden_seq"].as_i64() > Some(0));
    assert_eq!(listed(&alice), vec![(with_carol, false)]);
    let all = alice.json(&["settings"]);
    assert_eq!(all["settings"][0]["conv"], with_bob, "{all}");
    assert!(alice.text(&["settings"]).contains("hidden up to #1"));
    bob.lines(&["send", "alice", "back again"]);
    assert_eq!(listed(&alice), vec![(with_bob, true), (with_carol, false)]);
    alice.json(&["hide", &b]);
    assert_eq!(alice.json(&["hide", &b, "--off"])["hidden_seq"], 0);
    assert_eq!(listed(&alice).len(), 2);

    // The changes show in the change stream, by kind.
    let changes = alice.json(&["changes"]);
    let kinds: Vec<&str> = changes["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["kind"].as_str().unwrap_or_default())
        .collect();
    assert!(!kinds.is_empty() && kinds.iter().all(|k| *k == "conv_settings"));
    assert!(alice.text(&["changes"]).contains("conv_settings"));

    // Bob's settings are his own.
    assert_eq!(bob.json(&["settings"]), json!({"settings": []}));
    assert_eq!(
        bob.text(&["settings"]).trim(),
        "no conversation has settings"
    );

    // Typing: told, stopped; refused where alice is not a member.
    assert_eq!(alice.json(&["typing", &b]), json!({"ok": true}));
    assert!(
        alice
            .text(&["typing", &b, "--stop"])
            .contains("stopped typing")
    );
    let stranger = carol.run(&["typing", &b]);
    assert_eq!(stranger.status.code(), Some(1));
    assert!(
        stderr(&stranger).contains("unknown_conversation"),
        "{}",
        stderr(&stranger)
    );
    let stranger = carol.run(&["pin", &b]);
    assert_eq!(stranger.status.code(), Some(1));
    assert!(stderr(&stranger).contains("unknown_conversation"));
}

#[test]
fn usage_mistakes_exit_2_before_connecting() {
    // No server at all: a usage mistake is reported before connecting.
    for args in [
        &["pin"][..],
        &["pin", "not-a-number"],
        &["mute", "1", "--for", "10", "--off"],
        &["mute", "1", "--until", "0"],
        &["draft", "1", "text", "--clear"],
        &["typing"],
    ] {
        let out = bare("tcp://127.0.0.1:1", "alice")
            .env("MAGPIE_TOKEN", "t")
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

/// `listen` prints only what arrives after it starts, also in a
/// conversation the user hid (which the list leaves out): a new message
/// there is new, not a gap that would replay the history.
#[test]
fn listen_treats_a_hidden_conversation_as_known() {
    use std::io::BufRead;
    use std::process::Stdio;
    let server = start_server();
    let alice = User::register(&server.process.tcp_url, "alice");
    let bob = User::register(&server.process.tcp_url, "bob");
    for text in ["old one", "old two"] {
        bob.lines(&["send", "alice", text]);
    }
    let conv = conv_of(&alice.lines(&["send", "bob", "old three"]));
    alice.json(&["hide", &conv.to_string()]);
    assert!(alice.lines(&["conversations"]).is_empty());

    let mut listen = bare(&alice.server, &alice.name);
    listen
        .env("MAGPIE_TOKEN", &alice.token)
        .args(["listen", "--count", "1", "--timeout", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut listener = listen.spawn().expect("listen");
    let mut err = std::io::BufReader::new(listener.stderr.take().expect("stderr"));
    let mut ready = String::new();
    err.read_line(&mut ready).expect("read stderr");
    assert_eq!(ready.trim(), "listening");
    bob.lines(&["send", "alice", "new"]);
    let heard = listener.wait_with_output().expect("listener ends");
    drop(err);
    assert!(heard.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&heard.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["body"], "new");
    assert_eq!(lines[0]["seq"], 4);
}
