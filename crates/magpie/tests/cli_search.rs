//! `magpie client message-search`, driven as a script would drive it:
//! JSON and text output, filters, paging, and mistakes refused.

mod common;

use common::*;

#[test]
fn message_search_prints_hits_filters_and_pages() {
    let server = start_server();
    let alice = User::register(&server.process.tcp_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");
    let sent = alice.lines(&["send", "bob", "明天下午三点开会议，你好吗"]);
    let first = &sent[0];
    bob.lines(&["send", "alice", "Café meeting moved"]);
    alice.lines(&["send", "bob", "会议室 in building B"]);

    // JSON: the server's answer, newest first.
    let found = bob.json(&["message-search", "会议"]);
    let hits = found["hits"].as_array().expect("hits");
    let excerpts: Vec<&str> = hits
        .iter()
        .map(|h| h["excerpt"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        excerpts,
        ["会议室 in building B", "明天下午三点开会议，你好吗"]
    );
    assert_eq!(hits[1]["msg_id"], first["msg_id"]);
    assert_eq!(hits[1]["from"], "alice");
    assert!(found.get("next").is_none(), "{found}");

    // Filters and paging.
    let conv = first["conv"].as_i64().expect("conv").to_string();
    let mine = alice.json(&["message-search", "cafe", "--from", "bob", "--conv", &conv]);
    assert_eq!(mine["hits"][0]["excerpt"], "Café meeting moved");
    let page = bob.json(&["message-search", "会议", "--limit", "1"]);
    let next = page["next"].as_i64().expect("a next page").to_string();
    let rest = bob.json(&["message-search", "会议", "--limit", "1", "--page", &next]);
    assert_eq!(rest["hits"][0]["excerpt"], "明天下午三点开会议，你好吗");
    let late = bob.json(&["message-search", "会议", "--after", "4102444800000"]);
    assert_eq!(late["hits"].as_array().map(Vec::len), Some(0));

    // Text: a table, or a plain "no messages found".
    let text = bob.text(&["message-search", "你好"]);
    assert!(
        text.contains("明天下午三点开会议") && text.contains("alice"),
        "{text}"
    );
    assert!(
        bob.text(&["message-search", "nothing"])
            .contains("no messages found")
    );

    // Mistakes: usage (exit 2) before connecting; the server's refusals
    // (exit 1) with their code.
    for args in [
        &["message-search", " "][..],
        &["message-search", "ok", "--limit", "0"],
        &["message-search", "ok", "--limit", "51"],
    ] {
        let out = bob.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = bob.run(&["message-search", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid_args"), "{}", stderr(&out));
    let out = bob.run(&["message-search", "ok", "--conv", "999999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown_conversation"),
        "{}",
        stderr(&out)
    );
}
