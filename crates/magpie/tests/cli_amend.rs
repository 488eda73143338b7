//! The amend commands of `magpie client` (`recall`, `edit`, `react`,
//! `reply`, `forward`) driven as a script would drive them: each prints
//! the server's answer as one JSON line, history then shows the message
//! as it is now, and a refusal is an `error: <code>` on stderr with exit
//! status 1.

mod common;

use common::*;
use serde_json::Value;

/// Seq and conversation of a `send` acknowledgement.
fn sent(user: &User, args: &[&str]) -> (i64, i64) {
    let ack = &user.lines(args)[0];
    (
        ack["conv"].as_i64().expect("conv"),
        ack["seq"].as_i64().expect("seq"),
    )
}

/// The entry at `seq` of `conv` as `user`'s history shows it.
fn entry(user: &User, conv: i64, seq: i64) -> Value {
    user.lines(&["history", "--conv", &conv.to_string()])
        .into_iter()
        .find(|m| m["seq"].as_i64() == Some(seq))
        .expect("in history")
}

#[test]
fn recall_edit_react_reply_and_forward_from_the_command_line() {
    let server = start_server();
    let url = &server.process.tcp_url;
    let alice = User::register(url, "amendalice");
    let bob = User::register(url, "amendbob");
    let carol = User::register(url, "amendcarol");
    let (conv, first) = sent(&alice, &["send", "amendbob", "meet at 3"]);
    let (_, second) = sent(&alice, &["send", "amendbob", "wrong chat"]);
    let (c, s) = (conv.to_string(), first.to_string());

    let edited = alice.lines(&["edit", &c, &s, "meet at 4"]);
    assert_eq!(edited[0]["entry"]["kind"], "edit");
    assert_eq!(entry(&bob, conv, first)["body"], "meet at 4");
    assert!(entry(&bob, conv, first)["edited_ts"].is_i64());

    let reacted = bob.lines(&["react", &c, &s, "👍"]);
    assert_eq!(reacted[0]["entry"]["reaction"]["count"], 1);
    let shown = entry(&bob, conv, first);
    assert_eq!(shown["reactions"][0]["emoji"], "👍");
    assert_eq!(shown["reactions"][0]["mine"], true);
    // Taking back twice: the second changes nothing and says so.
    bob.lines(&["react", &c, &s, "👍", "--remove"]);
    let nothing = bob.lines(&["react", &c, &s, "👍", "--remove"]);
    assert_eq!(nothing[0], serde_json::json!({}));

    let reply = bob.lines(&["reply", &c, &s, "ok!"]);
    let reply_seq = reply[0]["seq"].as_i64().expect("seq");
    assert_eq!(
        entry(&alice, conv, reply_seq)["reply"]["excerpt"],
        "meet at 4"
    );

    alice.lines(&["recall", &c, &second.to_string()]);
    let gone = entry(&bob, conv, second);
    assert_eq!(gone["recalled"]["by"], "amendalice");
    assert!(gone.get("body").is_none_or(|b| b == ""));

    let forwarded = bob.lines(&["forward", &c, &s, "--to", "amendcarol", "--merge"]);
    let made = &forwarded[0]["messages"][0];
    let record = entry(
        &carol,
        made["conv"].as_i64().expect("conv"),
        made["seq"].as_i64().expect("seq"),
    );
    assert_eq!(record["kind"], "record");
    assert_eq!(record["record"][0]["body"], "meet at 4");

    // Refusals are errors with their code and exit status 1.
    for (who, args, code) in [
        (&bob, vec!["edit", &c, &s, "mine now"], "forbidden"),
        (&alice, vec!["recall", &c, "999"], "unknown_message"),
        (&carol, vec!["recall", &c, &s], "unknown_conversation"),
        (&bob, vec!["react", &c, &s, "two words"], "invalid_args"),
    ] {
        let out = who.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).starts_with(&format!("error: {code}:")),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // A forward without a destination is a usage error, before any
    // request.
    let out = bob.run(&["forward", &c, &s]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
