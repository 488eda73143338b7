//! Bad input, slow and silent clients, framing edge cases, shutdown and the
//! HTTP endpoints. None of these may crash the server, block other clients
//! or corrupt stored data.

mod common;

use common::*;
use magpie_client::Event;
use magpie_proto::{ErrorCode, Push, ServerFrame};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

on_both_transports!(bad_requests_get_precise_errors_and_harm_nothing);

async fn bad_requests_get_precise_errors_and_harm_nothing(t: Transport) {
    let server = TestServer::start().await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (mut a, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    a.send(&bob, "before").await.expect("send");

    // Semantic errors, correlated to their request.
    assert_eq!(code_of(a.send("ghost-user", "hi").await), "unknown_user");
    assert_eq!(code_of(a.send("x", "hi").await), "unknown_user");
    assert_eq!(code_of(a.send(&alice, "to myself").await), "invalid_args");
    assert_eq!(code_of(a.send(&bob, "").await), "invalid_args");
    assert_eq!(code_of(a.send(&bob, "nul \0 inside").await), "invalid_args");
    assert_eq!(
        code_of(a.send_with_cmid(&bob, "", "no cmid").await),
        "invalid_args"
    );
    assert_eq!(
        code_of(a.send_with_cmid(&bob, &"c".repeat(65), "long cmid").await),
        "invalid_args"
    );
    let max_body = a.server_hello().max_body_bytes as usize;
    assert_eq!(
        code_of(a.send(&bob, &"x".repeat(max_body + 1)).await),
        "body_too_large"
    );
    a.send(&bob, &"y".repeat(max_body))
        .await
        .expect("a body of exactly the limit is fine");
    // Apostrophes and quotes are data, not SQL.
    let tricky = "'); DROP TABLE messages; -- \"quoted\" \\ 你好";
    a.send(&bob, tricky).await.expect("send tricky");

    // Broken frames: answered with id null (or the id when readable).
    // (Request ids far above what the library has issued, so the answers
    // arrive as uncorrelated errors; id echo is checked over raw TCP below.)
    let cases: &[(&[u8], ErrorCode)] = &[
        (b"this is not json", ErrorCode::BadFrame),
        (b"{\"op\":\"ping\"}", ErrorCode::BadFrame),
        (b"{\"id\":900041,\"op\":\"teleport\"}", ErrorCode::UnknownOp),
        (
            b"{\"id\":900042,\"op\":\"send\",\"args\":{\"to\":7}}",
            ErrorCode::InvalidArgs,
        ),
        (
            b"{\"id\":900043,\"op\":\"read\",\"args\":{\"conv\":\"one\",\"seq\":1}}",
            ErrorCode::InvalidArgs,
        ),
        (
            b"{\"id\":900044,\"op\":\"sync\",\"args\":{\"limit\":5000}}",
            ErrorCode::InvalidArgs,
        ),
        (b"\xff\xfe\xfd invalid utf-8", ErrorCode::BadFrame),
    ];
    for (payload, code) in cases {
        a.send_raw(payload.to_vec()).await.expect("send raw");
        let event = tokio::time::timeout(WAIT, a.next_event())
            .await
            .expect("answer in time");
        match event {
            Some(Event::UncorrelatedError(body)) => {
                assert_eq!(body.code, *code, "{}", String::from_utf8_lossy(payload))
            }
            other => panic!(
                "{}: expected an error event, got {other:?}",
                String::from_utf8_lossy(payload)
            ),
        }
    }

    // The connection, the other user and the stored data are all intact.
    a.ping().await.expect("still usable");
    let page = newest_history(&b, &alice).await;
    let bodies: Vec<_> = page.messages.iter().map(|m| m.body.len()).collect();
    assert_eq!(bodies, [6, max_body, tricky.len()]);
    assert_eq!(page.messages[2].body, tricky);
}

#[tokio::test]
async fn tcp_frames_are_found_however_the_bytes_arrive() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(&server).await;
    // Two requests in one write.
    let mut both = Vec::new();
    for (id, op) in [(1, r#"{"version":1}"#), (2, "{}")] {
        let op_name = if id == 1 { "hello" } else { "ping" };
        let p = format!(r#"{{"id":{id},"op":"{op_name}","args":{op}}}"#);
        both.extend_from_slice(&(p.len() as u32).to_be_bytes());
        both.extend_from_slice(p.as_bytes());
    }
    raw.0.write_all(&both).await.expect("write");
    assert_eq!(raw.read_frame().await.expect("hello")["id"], 1);
    assert_eq!(raw.read_frame().await.expect("ping")["id"], 2);

    // One request dribbled a byte at a time.
    let p = br#"{"id":3,"op":"ping"}"#;
    let mut bytes = (p.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(p);
    for byte in bytes {
        raw.0.write_all(&[byte]).await.expect("write");
        raw.0.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let r = raw.read_frame().await.expect("ping");
    assert_eq!(r["id"], 3);
    assert!(r["result"].is_object());
}

#[tokio::test]
async fn the_first_request_must_be_hello() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(&server).await;
    let r = raw
        .request(r#"{"id":1,"op":"login","args":{"user":"alice","password":"whatever1"}}"#)
        .await;
    assert_eq!(r["id"], 1);
    assert_eq!(r["error"]["code"], "hello_required");
    raw.hello().await;
    assert!(raw.request(r#"{"id":2,"op":"ping"}"#).await["result"].is_object());
    // Errors echo the request id whenever the envelope is readable.
    let r = raw.request(r#"{"id":77,"op":"teleport"}"#).await;
    assert_eq!(
        (r["id"].as_u64(), r["error"]["code"].as_str()),
        (Some(77), Some("unknown_op"))
    );
    let r = raw
        .request(r#"{"id":78,"op":"send","args":{"to":1}}"#)
        .await;
    assert_eq!(
        (r["id"].as_u64(), r["error"]["code"].as_str()),
        (Some(78), Some("invalid_args"))
    );
    let r = raw.request("not json").await;
    assert_eq!(
        (r["id"].is_null(), r["error"]["code"].as_str()),
        (true, Some("bad_frame"))
    );
}

#[tokio::test]
async fn an_oversized_tcp_frame_is_refused_and_the_connection_closed() {
    let server = TestServer::start_with(|c| {
        c.max_frame_bytes = 8192;
        c.max_body_bytes = 1024;
    })
    .await;
    let url = server.url(Transport::Tcp);
    let (witness, _) = user(&url, &unique("witness")).await;
    let mut raw = RawTcp::connect(&server).await;
    raw.hello().await;
    // Announce 1 GiB: refused before a byte of it is buffered.
    raw.0
        .write_all(&(1u32 << 30).to_be_bytes())
        .await
        .expect("write");
    let r = raw.read_frame().await.expect("error frame");
    assert_eq!(r["error"]["code"], "frame_too_large");
    assert!(raw.closed_by_server().await);
    witness.ping().await.expect("other clients unaffected");
}

#[tokio::test]
async fn an_oversized_websocket_message_closes_the_connection() {
    let server = TestServer::start_with(|c| {
        c.max_frame_bytes = 8192;
        c.max_body_bytes = 1024;
    })
    .await;
    let url = server.url(Transport::Ws);
    let (witness, _) = user(&url, &unique("witness")).await;
    let mut big = connect(&url).await;
    big.send_raw(vec![b'x'; 10_000]).await.expect("send");
    let closed = tokio::time::timeout(WAIT, async {
        while big
            .next_event()
            .await
            .is_some_and(|e| !matches!(e, Event::Closed))
        {}
    })
    .await;
    assert!(closed.is_ok(), "connection closed");
    assert!(big.ping().await.is_err());
    witness.ping().await.expect("other clients unaffected");
}

#[tokio::test]
async fn binary_websocket_messages_are_rejected() {
    let server = TestServer::start().await;
    let mut c = connect(&server.url(Transport::Ws)).await;
    c.send_raw(vec![0xff, 0x00, 0x01]).await.expect("send");
    match tokio::time::timeout(WAIT, c.next_event())
        .await
        .expect("in time")
    {
        Some(Event::UncorrelatedError(e)) => assert_eq!(e.code, ErrorCode::BadFrame),
        other => panic!("expected bad_frame, got {other:?}"),
    }
    c.ping().await.expect("still usable");
}

#[tokio::test]
async fn a_silent_connection_is_closed_and_a_heartbeating_one_is_not() {
    let server = TestServer::start_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let mut raw = RawTcp::connect(&server).await;
    raw.hello().await;
    let client = connect(&server.url(Transport::Ws)).await;
    let goaway = raw.read_frame().await.expect("goaway before close");
    assert_eq!(goaway["push"], "goaway");
    assert_eq!(goaway["data"]["reason"], "idle");
    assert!(raw.closed_by_server().await);
    // The library pings every idle_timeout/3, so it outlives the timeout.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    client
        .ping()
        .await
        .expect("heartbeats keep the connection open");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_without_slowing_the_sender() {
    // 300 sends in a burst: the per-user send rate (200 at once) is not
    // what this measures, and on a fast run it refused the last ones.
    let server = TestServer::start_with(|c| {
        c.send_queue = 8;
        c.send_rate_per_user = magpie_server::config::RateLimit::OFF;
    })
    .await;
    let url = server.url(Transport::Tcp);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    user(&url, &bob).await;
    // Bob's second device logs in over raw TCP and never reads again.
    let mut raw = RawTcp::connect(&server).await;
    raw.hello().await;
    let login =
        format!(r#"{{"id":2,"op":"login","args":{{"user":"{bob}","password":"{PASSWORD}"}}}}"#);
    assert!(raw.request(&login).await["result"]["token"].is_string());

    let body = "z".repeat(60_000);
    for _ in 0..300 {
        tokio::time::timeout(WAIT, a.send(&bob, &body))
            .await
            .expect("sender never blocks")
            .expect("send");
    }
    let metrics = server.running().state().metrics.render();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("magpie_slow_consumer_disconnects_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    // Bob recovers everything by syncing on a new connection.
    let (b, _) = user(&url, &bob).await;
    let missed = magpie_client::SyncState::new()
        .catch_up(&b)
        .await
        .expect("sync");
    assert_eq!(missed.len(), 300);
}

#[tokio::test]
async fn graceful_shutdown_acks_in_flight_sends_and_says_goaway() {
    let mut server = TestServer::start().await;
    let url = server.url(Transport::Tcp);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (mut b, _) = user(&url, &bob).await;
    a.send(&bob, "before shutdown").await.expect("send");
    next_message(&mut b).await;

    server.running().trigger_shutdown();
    let goaway = next_goaway(&mut b).await;
    assert_eq!(goaway.reason, "shutdown");
    server.restart().await;
    let url = server.url(Transport::Tcp);
    let (b, _) = user(&url, &bob).await;
    let all = magpie_client::SyncState::new()
        .catch_up(&b)
        .await
        .expect("sync");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, "before shutdown");
}

#[tokio::test]
async fn health_and_metrics_endpoints() {
    let server = TestServer::start().await;
    let url = server.url(Transport::Tcp);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (_b, _) = user(&url, &bob).await;
    a.send(&bob, "counted").await.expect("send");

    let (status, body) = http_get(server.running().http_addr(), "/healthz", None).await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, metrics) = http_get(server.running().http_addr(), "/metrics", None).await;
    assert_eq!(status, 200);
    for needle in [
        "magpie_connections{transport=\"tcp\"} 2",
        "magpie_logins_total 2",
        "magpie_messages_in_total 1",
        "magpie_messages_out_total 1",
        "magpie_send_ack_seconds_count 1",
        "magpie_store_batch_size_count 1",
    ] {
        assert!(metrics.contains(needle), "missing {needle:?} in\n{metrics}");
    }
    assert_eq!(
        http_get(server.running().http_addr(), "/nope", None)
            .await
            .0,
        404
    );
}

#[test]
fn server_frames_parse() {
    // Guard for the harness itself: what RawTcp reads is what the library parses.
    let bytes = Push::Goaway(magpie_proto::GoAway {
        reason: "idle".into(),
        reconnect_after_ms: 0,
    })
    .encode();
    assert!(matches!(
        ServerFrame::parse(&bytes),
        Ok(ServerFrame::Push(_))
    ));
}
