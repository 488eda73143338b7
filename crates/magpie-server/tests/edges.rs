//! Protocol edge cases a client written from docs/PROTOCOL.md alone runs
//! into, and the HTTP port's access rules, each checked over the wire
//! against a real server: raw frames where the client library would refuse
//! to produce them.

mod common;

use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};

/// `(id, error code)` of a response; the code is None for a success.
fn outcome(r: &Value) -> (Option<u64>, Option<&str>) {
    (r["id"].as_u64(), r["error"]["code"].as_str())
}

#[tokio::test]
async fn invalid_utf8_anywhere_in_the_payload_is_a_bad_frame() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(&server).await;
    raw.hello().await;
    // The bytes sit in a field the server ignores (PROTOCOL.md 2.1).
    for payload in [
        &b"{\"id\":6,\"op\":\"ping\",\"x\":\"\xc3(\"}"[..],
        b"{\"id\":7,\"op\":\"ping\",\"args\":{\"x\":\"\xff\"}}",
    ] {
        let r = raw.request(payload).await;
        assert_eq!(outcome(&r), (None, Some("bad_frame")), "{r}");
        assert!(r["id"].is_null(), "{r}");
    }
    let r = raw.request(r#"{"id":8,"op":"ping"}"#).await;
    assert_eq!(outcome(&r), (Some(8), None), "the connection stays open");
}

#[tokio::test]
async fn args_must_be_an_object_and_positional_args_store_nothing() {
    let server = TestServer::start().await;
    let url = server.url(Transport::Tcp);
    let (alice, bob) = (unique("alice"), unique("bob"));
    user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    let mut raw = RawTcp::connect(&server).await;
    raw.hello().await;
    raw.login(&alice).await;

    let r = raw
        .request(format!(
            r#"{{"id":5,"op":"send","args":["{bob}","cm-1","hi"]}}"#
        ))
        .await;
    assert_eq!(outcome(&r), (Some(5), Some("invalid_args")), "{r}");
    for (id, bad) in [(6, r#""cursors""#), (7, "[]"), (8, "17")] {
        let r = raw
            .request(format!(r#"{{"id":{id},"op":"sync","args":{bad}}}"#))
            .await;
        assert_eq!(outcome(&r), (Some(id), Some("invalid_args")), "{r}");
    }
    let r = raw.request(r#"{"id":9,"op":"ping","args":[]}"#).await;
    assert_eq!(outcome(&r), (Some(9), Some("invalid_args")), "{r}");
    // Absent or null args still mean "no arguments".
    for (id, args) in [(10, ""), (11, r#","args":null"#), (12, r#","args":{}"#)] {
        let r = raw
            .request(format!(r#"{{"id":{id},"op":"ping"{args}}}"#))
            .await;
        assert_eq!(outcome(&r), (Some(id), None), "{r}");
    }
    let r = raw.request(r#"{"id":13,"op":"sync","args":null}"#).await;
    assert_eq!(outcome(&r), (Some(13), None), "{r}");

    // Nothing was stored by the positional send.
    let page = b.sync(&BTreeMap::new(), None).await.expect("sync");
    assert!(page.messages.is_empty(), "{:?}", page.messages);
    // The same message with named arguments is stored.
    let r = raw
        .request(format!(
            r#"{{"id":14,"op":"send","args":{{"to":"{bob}","cmid":"cm-1","body":"hi"}}}}"#
        ))
        .await;
    assert_eq!(r["result"]["seq"], 1, "{r}");
}

#[tokio::test]
async fn before_hello_hello_required_wins_over_other_errors() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(&server).await;
    for (id, request) in [
        (1, r#"{"id":1,"op":"teleport"}"#),
        (2, r#"{"id":2,"op":"send","args":["bob","cm-1","hi"]}"#),
        (3, r#"{"id":3,"op":"send"}"#),
        (4, r#"{"id":4,"op":"ping","args":5}"#),
        (5, r#"{"id":5,"op":"ping"}"#),
    ] {
        let r = raw.request(request).await;
        assert_eq!(outcome(&r), (Some(id), Some("hello_required")), "{r}");
    }
    // A frame that is not a well-formed envelope stays a bad frame.
    for request in ["not json", r#"{"id":6,"op":5}"#, r#"{"op":"ping"}"#] {
        let r = raw.request(request).await;
        assert_eq!(r["error"]["code"], "bad_frame", "{request}: {r}");
    }
    // A malformed hello is answered as such.
    let r = raw.request(r#"{"id":7,"op":"hello","args":[1]}"#).await;
    assert_eq!(outcome(&r), (Some(7), Some("invalid_args")), "{r}");
    raw.hello().await;
    let r = raw.request(r#"{"id":8,"op":"teleport"}"#).await;
    assert_eq!(outcome(&r), (Some(8), Some("unknown_op")), "{r}");
}

#[tokio::test]
async fn a_second_hello_is_answered_and_changes_nothing() {
    let server = TestServer::start().await;
    let url = server.url(Transport::Tcp);
    let alice = unique("alice");
    user(&url, &alice).await;
    let mut raw = RawTcp::connect(&server).await;
    raw.hello().await;
    raw.login(&alice).await;
    let r = raw
        .request(r#"{"id":3,"op":"hello","args":{"version":1}}"#)
        .await;
    assert_eq!(r["result"]["version"], 1, "{r}");
    let r = raw
        .request(r#"{"id":4,"op":"hello","args":{"version":99}}"#)
        .await;
    assert_eq!(outcome(&r), (Some(4), Some("unsupported_version")), "{r}");
    // Still logged in.
    let r = raw.request(r#"{"id":5,"op":"conversations"}"#).await;
    assert!(r["result"]["conversations"].is_array(), "{r}");
    let r = raw
        .request(format!(
            r#"{{"id":6,"op":"login","args":{{"user":"{alice}","password":"{PASSWORD}"}}}}"#
        ))
        .await;
    assert_eq!(outcome(&r), (Some(6), Some("already_authenticated")), "{r}");
}

#[tokio::test]
async fn deep_nesting_gets_an_answer_not_a_crash() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(&server).await;
    raw.hello().await;
    let n = 100_000;
    let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
    // Skipped where ignored...
    let r = raw
        .request(format!(r#"{{"id":2,"op":"ping","x":{deep}}}"#))
        .await;
    assert_eq!(outcome(&r), (Some(2), None), "{r}");
    // ...refused with the request's id where read...
    let r = raw
        .request(format!(
            r#"{{"id":3,"op":"hello","args":{{"version":{deep}}}}}"#
        ))
        .await;
    assert_eq!(outcome(&r), (Some(3), Some("invalid_args")), "{r}");
    // ...and a bad frame when it is the whole payload.
    let r = raw.request(&deep).await;
    assert_eq!(outcome(&r), (None, Some("bad_frame")), "{r}");
    let r = raw.request(r#"{"id":4,"op":"ping"}"#).await;
    assert_eq!(outcome(&r), (Some(4), None), "{r}");
}

/// The idle clock measures the client's silence while the server owes it
/// nothing (PROTOCOL.md 4.2). Storage is made slow by holding SQLite's
/// write lock from outside, so only the embedded engine runs this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_clock_does_not_run_while_acks_are_owed() {
    if std::env::var("MAGPIE_E2E_DATABASE").is_ok() {
        return;
    }
    let server = TestServer::start_with(|c| {
        c.idle_timeout = Duration::from_secs(1);
        c.max_inflight_sends = 1;
    })
    .await;
    let url = server.url(Transport::Tcp);
    let (alice, bob, carol) = (unique("alice"), unique("bob"), unique("carol"));
    for name in [&alice, &bob, &carol] {
        user(&url, name).await;
    }
    // Alice pings while she waits, but with her send window full the
    // server does not read the pings; Carol just waits for her ack.
    let mut a = RawTcp::connect(&server).await;
    a.hello().await;
    a.login(&alice).await;
    let mut c = RawTcp::connect(&server).await;
    c.hello().await;
    c.login(&carol).await;

    let hold = Duration::from_millis(2500);
    let lock =
        magpie_testkit::hold_sqlite_write_lock(&server.dir.path().join("magpie.db"), hold).await;
    let send = |to: &str, id: u32| {
        format!(r#"{{"id":{id},"op":"send","args":{{"to":"{to}","cmid":"c{id}","body":"slow"}}}}"#)
    };
    a.write_frame(send(&bob, 10).as_bytes()).await;
    c.write_frame(send(&bob, 20).as_bytes()).await;
    for id in 11..18 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.write_frame(format!(r#"{{"id":{id},"op":"ping"}}"#).as_bytes())
            .await;
    }
    // Alice: her ack, then the answers to every ping; no goaway.
    let ack = a.read_frame().await.expect("ack");
    assert_eq!(outcome(&ack), (Some(10), None), "{ack}");
    for id in 11..18 {
        let r = a.read_frame().await.expect("ping answer, not a close");
        assert_eq!(outcome(&r), (Some(id), None), "{r}");
    }
    // Carol: the ack, and after it a full idle period before the goaway.
    let ack = c.read_frame().await.expect("ack");
    let acked = Instant::now();
    assert_eq!(outcome(&ack), (Some(20), None), "{ack}");
    let goaway = c.read_frame().await.expect("goaway");
    assert_eq!(goaway["data"]["reason"], "idle", "{goaway}");
    assert!(
        acked.elapsed() >= Duration::from_millis(800),
        "closed {:?} after the ack",
        acked.elapsed()
    );
    lock.await.expect("lock released");
}

/// A raw WebSocket client.
type RawWs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Open /ws with an optional Origin header; Err(status) if refused.
async fn ws_connect(server: &TestServer, origin: Option<&str>) -> Result<RawWs, u16> {
    let mut request = server
        .url(Transport::Ws)
        .into_client_request()
        .expect("request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header value"));
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("upgrade in time")
    {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("upgrade failed: {e}"),
    }
}

/// The next message from the server.
async fn ws_next(ws: &mut RawWs) -> Message {
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("message in time")
        .expect("stream open")
        .expect("message")
}

async fn ws_ping_works(ws: &mut RawWs) {
    ws.send(Message::text(
        r#"{"id":1,"op":"hello","args":{"version":1}}"#,
    ))
    .await
    .expect("send");
    match ws_next(ws).await {
        Message::Text(t) => assert!(t.contains("\"result\""), "{t}"),
        other => panic!("expected the hello result, got {other:?}"),
    }
}

/// The close frame's code, skipping anything before it.
async fn ws_close_code(ws: &mut RawWs) -> Option<CloseCode> {
    loop {
        match ws_next(ws).await {
            Message::Close(frame) => return frame.map(|f| f.code),
            Message::Text(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_websocket_text_message_that_is_not_utf8_closes_with_1007() {
    let server = TestServer::start().await;
    let mut ws = ws_connect(&server, None).await.expect("upgrade");
    ws_ping_works(&mut ws).await;
    let frame = Frame::message(
        b"{\"id\":2,\"op\":\"ping\",\"x\":\"\xc3(\"}".to_vec(),
        OpCode::Data(Data::Text),
        true,
    );
    ws.send(Message::Frame(frame)).await.expect("send");
    assert_eq!(ws_close_code(&mut ws).await, Some(CloseCode::Invalid));
}

#[tokio::test]
async fn an_oversized_websocket_message_gets_frame_too_large_then_close_1009() {
    let server = TestServer::start_with(|c| {
        c.max_frame_bytes = 8192;
        c.max_body_bytes = 1024;
    })
    .await;
    let mut ws = ws_connect(&server, None).await.expect("upgrade");
    ws_ping_works(&mut ws).await;
    ws.send(Message::text("x".repeat(10_000)))
        .await
        .expect("send");
    match ws_next(&mut ws).await {
        Message::Text(t) => {
            let r: Value = serde_json::from_str(&t).expect("json");
            assert_eq!(outcome(&r), (None, Some("frame_too_large")), "{r}");
        }
        other => panic!("expected frame_too_large, got {other:?}"),
    }
    assert_eq!(ws_close_code(&mut ws).await, Some(CloseCode::Size));
}

#[tokio::test]
async fn websocket_origins_are_checked() {
    let server = TestServer::start_with(|c| {
        c.ws_allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let own = format!("http://{}", server.running().http_addr());
    // No Origin (a native client), the server's own origin, a listed one.
    for origin in [None, Some(own.as_str()), Some("https://app.example.com")] {
        let mut ws = ws_connect(&server, origin)
            .await
            .unwrap_or_else(|status| panic!("{origin:?} refused with {status}"));
        ws_ping_works(&mut ws).await;
    }
    for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        assert_eq!(
            ws_connect(&server, Some(origin)).await.err(),
            Some(403),
            "{origin}"
        );
    }
    // Nothing else on the port is affected.
    assert_eq!(
        http_get(server.running().http_addr(), "/healthz", None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn metrics_can_live_on_their_own_listener_behind_a_token() {
    let server = TestServer::start_with(|c| {
        c.listen_metrics = Some(([127, 0, 0, 1], 0).into());
        c.metrics_token = Some("s3cret".into());
    })
    .await;
    let main = server.running().http_addr();
    let metrics = server.running().metrics_addr().expect("metrics listener");
    assert_ne!(main, metrics);
    // Not on the main port, whatever the token.
    assert_eq!(http_get(main, "/metrics", Some("s3cret")).await.0, 404);
    assert_eq!(http_get(main, "/healthz", None).await.0, 200);
    // On its own port, only with the token.
    assert_eq!(http_get(metrics, "/metrics", None).await.0, 401);
    assert_eq!(http_get(metrics, "/metrics", Some("wrong")).await.0, 401);
    let (status, body) = http_get(metrics, "/metrics", Some("s3cret")).await;
    assert_eq!(status, 200);
    assert!(body.contains("magpie_logins_total"), "{body}");
    // Only metrics there.
    assert_eq!(http_get(metrics, "/ws", None).await.0, 404);
}

#[tokio::test]
async fn a_metrics_token_guards_metrics_on_the_main_port() {
    let server = TestServer::start_with(|c| c.metrics_token = Some("s3cret".into())).await;
    let main = server.running().http_addr();
    assert_eq!(server.running().metrics_addr(), None);
    assert_eq!(http_get(main, "/metrics", None).await.0, 401);
    assert_eq!(http_get(main, "/metrics", Some("s3cret")).await.0, 200);
}
