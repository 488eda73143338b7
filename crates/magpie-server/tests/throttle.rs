//! Limits, rates and session lifetimes (issue #8, items 3 and 4), end to
//! end through a real server: connection caps at accept, rate limits on
//! authentication and sends, the per-user session cap, the bounded
//! password hashing queue, the authentication deadline, token expiry and
//! revocation that the cluster bus never announced.

mod common;

use common::*;
use magpie_client::{Client, ClientError};
use magpie_proto::ErrorBody;
use magpie_server::auth::hash_token;
use magpie_server::config::RateLimit;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_both_transports!(
    connections_per_address_are_capped_at_accept,
    authentication_attempts_per_address_are_rate_limited,
    login_attempts_per_account_are_rate_limited,
    sessions_per_user_are_capped,
    sends_per_user_are_rate_limited_and_not_stored,
    a_session_ends_when_its_token_expires,
    a_revoked_token_closes_its_sessions_without_the_bus,
    a_login_beyond_the_token_cap_revokes_the_oldest,
);

/// One cell an hour: within a test, nothing refills.
fn burst_of(n: u32) -> RateLimit {
    RateLimit {
        count: 1,
        per: Duration::from_secs(3600),
        burst: n,
    }
}

/// The server's error body for a failed call.
fn error_of<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorBody {
    match result {
        Err(ClientError::Server(body)) => body,
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// Connect, expecting success; retries while the server is still
/// releasing a connection that was just closed (the release follows the
/// close, it cannot precede it).
async fn connect_when_free(url: &str) -> Client {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match Client::connect(url).await {
            Ok(c) => return c,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("a freed slot was never reused: {e}"),
        }
    }
}

/// A WebSocket upgrade request by hand (to set forwarding headers and see
/// the HTTP status of a refusal). Returns the status and the open socket.
async fn ws_upgrade(server: &TestServer, forwarded_for: Option<&str>) -> (u16, TcpStream) {
    let mut s = TcpStream::connect(server.running().http_addr())
        .await
        .expect("connect");
    let xff = forwarded_for.map_or_else(String::new, |v| format!("X-Forwarded-For: {v}\r\n"));
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{xff}\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    // Read the status line and headers only; the socket stays open.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, s.read(&mut byte))
            .await
            .expect("response in time")
            .expect("read");
        assert_eq!(n, 1, "closed before the response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, s)
}

/// The value of one sample line in the metrics text, or 0 if absent.
fn metric(server: &TestServer, line_prefix: &str) -> u64 {
    server
        .running()
        .state()
        .metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn connections_per_address_are_capped_at_accept(t: Transport) {
    let server = TestServer::start_with(|c| c.max_connections_per_ip = 2).await;
    let url = server.url(t);
    let first = connect(&url).await;
    let _second = connect(&url).await;
    match t {
        Transport::Tcp => {
            let mut raw = RawTcp::connect(&server).await;
            let goaway = raw.read_frame().await.expect("told why");
            assert_eq!(goaway["push"], "goaway", "{goaway}");
            assert_eq!(goaway["data"]["reason"], "too_many_connections");
            assert!(goaway["data"]["reconnect_after_ms"].as_u64() > Some(0));
            assert!(raw.closed_by_server().await);
        }
        Transport::Ws => {
            let (status, _) = ws_upgrade(&server, None).await;
            assert_eq!(status, 429);
        }
    }
    assert!(Client::connect(&url).await.is_err(), "still full");
    assert!(
        metric(
            &server,
            "magpie_refusals_total{reason=\"max_connections_per_ip\"}"
        ) >= 2
    );
    // Closing a connection frees its place.
    first.close().await;
    let third = connect_when_free(&url).await;
    third.ping().await.expect("usable");
}

#[tokio::test]
async fn the_node_wide_connection_cap_holds_on_both_transports() {
    let server = TestServer::start_with(|c| c.max_connections = 1).await;
    let only = connect(&server.url(Transport::Tcp)).await;
    let mut raw = RawTcp::connect(&server).await;
    let goaway = raw.read_frame().await.expect("told why");
    assert_eq!(goaway["data"]["reason"], "server_full", "{goaway}");
    assert!(raw.closed_by_server().await);
    let (status, _) = ws_upgrade(&server, None).await;
    assert_eq!(status, 503);
    only.ping()
        .await
        .expect("the admitted connection is unaffected");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let server = TestServer::start_with(|c| {
        c.max_connections_per_ip = 1;
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    // The test plays the proxy: every connection comes from 127.0.0.1,
    // but each names its client.
    let (a, _a) = ws_upgrade(&server, Some("198.51.100.1")).await;
    let (b, _b) = ws_upgrade(&server, Some("198.51.100.2")).await;
    assert_eq!((a, b), (101, 101));
    // A client can prepend whatever it likes; the proxy's entry decides.
    let (again, _) = ws_upgrade(&server, Some("203.0.113.9, 198.51.100.1")).await;
    assert_eq!(again, 429);
    // TCP from the proxy has no header: no per-address limit applies.
    let url = server.url(Transport::Tcp);
    let (c1, c2) = (connect(&url).await, connect(&url).await);
    c1.ping().await.expect("c1");
    c2.ping().await.expect("c2");
}

async fn authentication_attempts_per_address_are_rate_limited(t: Transport) {
    let server = TestServer::start_with(|c| {
        c.auth_rate_per_ip = burst_of(4);
        c.login_rate_per_account = RateLimit::OFF;
    })
    .await;
    let url = server.url(t);
    let c = connect(&url).await;
    let name = unique("alice");
    c.register(&name, PASSWORD).await.expect("register");
    assert_eq!(
        code_of(c.login(&name, "wrong password", None).await),
        "invalid_credentials"
    );
    assert_eq!(code_of(c.resume("not-a-token").await), "invalid_token");
    c.login(&name, PASSWORD, None)
        .await
        .expect("fourth attempt");
    c.logout().await.expect("logout");
    // The fifth attempt from this address, on any connection, is refused
    // before the password is even looked at.
    let other = connect(&url).await;
    let e = error_of(other.login(&name, PASSWORD, None).await);
    assert_eq!(e.code.as_str(), "rate_limited");
    assert!(e.retry_after_ms.is_some_and(|ms| ms > 0), "{e:?}");
    assert_eq!(
        code_of(other.register(&unique("bob"), PASSWORD).await),
        "rate_limited"
    );
    assert_eq!(code_of(other.resume("x").await), "rate_limited");
    other.ping().await.expect("other requests pass");
    assert!(
        metric(
            &server,
            "magpie_refusals_total{reason=\"auth_rate_per_ip\"}"
        ) >= 3
    );
}

async fn login_attempts_per_account_are_rate_limited(t: Transport) {
    let server = TestServer::start_with(|c| {
        c.auth_rate_per_ip = RateLimit::OFF;
        c.login_rate_per_account = burst_of(2);
    })
    .await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let c = connect(&url).await;
    c.register(&alice, PASSWORD).await.expect("register");
    c.register(&bob, PASSWORD).await.expect("register");
    for _ in 0..2 {
        assert_eq!(
            code_of(c.login(&alice, "guess guess", None).await),
            "invalid_credentials"
        );
    }
    // Now even the right password waits, whatever the letter case.
    let e = error_of(c.login(&alice.to_uppercase(), PASSWORD, None).await);
    assert_eq!(e.code.as_str(), "rate_limited");
    assert!(e.retry_after_ms.is_some(), "{e:?}");
    // Other accounts are not affected.
    c.login(&bob, PASSWORD, None).await.expect("bob logs in");
}

async fn sessions_per_user_are_capped(t: Transport) {
    let server = TestServer::start_with(|c| c.max_sessions_per_user = 2).await;
    let url = server.url(t);
    let name = unique("alice");
    let (first, auth) = user(&url, &name).await;
    let (_second, _) = user(&url, &name).await;
    let third = connect(&url).await;
    let e = error_of(third.login(&name, PASSWORD, None).await);
    assert_eq!(e.code.as_str(), "too_many_sessions", "{e:?}");
    let token = auth.token.expect("token");
    assert_eq!(code_of(third.resume(&token).await), "too_many_sessions");
    // The refused connection stays open and unauthenticated.
    third.ping().await.expect("still open");
    assert_eq!(code_of(third.conversations().await), "not_authenticated");
    // Another user is not affected.
    user(&url, &unique("bob")).await;
    // A logout frees a slot.
    first.logout().await.expect("logout");
    third
        .login(&name, PASSWORD, None)
        .await
        .expect("a slot is free");
}

async fn sends_per_user_are_rate_limited_and_not_stored(t: Transport) {
    let server = TestServer::start_with(|c| c.send_rate_per_user = burst_of(3)).await;
    let url = server.url(t);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&url, &alice).await;
    let (b, _) = user(&url, &bob).await;
    for i in 0..3 {
        a.send(&bob, &format!("m{i}"))
            .await
            .expect("within the burst");
    }
    let e = error_of(a.send(&bob, "one too many").await);
    assert_eq!(e.code.as_str(), "rate_limited");
    assert!(e.retry_after_ms.is_some_and(|ms| ms > 1000), "{e:?}");
    // The limit is per user, across the user's connections.
    let (a2, _) = user(&url, &alice).await;
    assert_eq!(code_of(a2.send(&bob, "other device").await), "rate_limited");
    b.send(&alice, "bob has his own budget")
        .await
        .expect("bob sends");
    let page = newest_history(&b, &alice).await;
    let bodies: Vec<_> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["m0", "m1", "m2", "bob has his own budget"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_queue_answers_overloaded() {
    let server = TestServer::start_with(|c| c.hash_queue = 1).await;
    let url = server.url(Transport::Tcp);
    let name = unique("alice");
    let c = connect(&url).await;
    c.register(&name, PASSWORD).await.expect("register");

    // Occupy every hashing thread with a job that waits for a release,
    // then fill the one queue place.
    let hasher = server.running().state().auth.hasher().clone();
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(released));
    let blocker = || {
        let (released, started_tx) = (released.clone(), started_tx.clone());
        move || {
            let _ = started_tx.send(());
            let _ = released.lock().map(|r| r.recv());
        }
    };
    let mut running = Vec::new();
    for _ in 0..hasher.threads() {
        let (hasher, job) = (hasher.clone(), blocker());
        running.push(tokio::spawn(async move { hasher.run(job).await }));
        started.recv().await.expect("a thread took the job");
    }
    // Polled once, the queued job has been submitted: it waits for its
    // result, with every thread busy.
    let mut queued = Box::pin(hasher.run(blocker()));
    assert!(futures::poll!(&mut queued).is_pending(), "queued");

    let e = error_of(c.login(&name, PASSWORD, None).await);
    assert_eq!(e.code.as_str(), "overloaded", "{e:?}");
    assert!(e.retry_after_ms.is_some(), "{e:?}");
    assert_eq!(
        code_of(c.register(&unique("bob"), PASSWORD).await),
        "overloaded"
    );
    assert!(metric(&server, "magpie_refusals_total{reason=\"hash_queue\"}") >= 2);
    for _ in 0..=running.len() {
        release.send(()).expect("release");
    }
    for job in running {
        job.await.expect("join").expect("the blocking job ran");
    }
    queued.await.expect("the queued job ran");
    c.login(&name, PASSWORD, None)
        .await
        .expect("logins work again once the queue drains");
}

/// Ping over raw TCP until the server closes the connection; the goaway
/// reason it gave.
async fn ping_until_closed(raw: &mut RawTcp) -> String {
    let run = async {
        for id in 2u64.. {
            raw.write_frame(&format!(r#"{{"id":{id},"op":"ping"}}"#))
                .await;
            loop {
                match raw.read_frame().await {
                    None => panic!("closed without goaway"),
                    Some(f) if f["push"] == "goaway" => {
                        return f["data"]["reason"].as_str().unwrap_or_default().to_string();
                    }
                    Some(f) if f["id"] == id => break,
                    Some(_) => continue,
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        unreachable!()
    };
    tokio::time::timeout(WAIT, run)
        .await
        .expect("closed in time")
}

#[tokio::test]
async fn an_unauthenticated_connection_is_closed_at_the_deadline_despite_pings() {
    let server = TestServer::start_with(|c| c.auth_timeout = Duration::from_millis(300)).await;
    let url = server.url(Transport::Tcp);
    let (authed, _) = user(&url, &unique("alice")).await;
    let mut raw = RawTcp::connect(&server).await;
    raw.write_frame(r#"{"id":1,"op":"hello","args":{"version":1}}"#)
        .await;
    assert_eq!(
        raw.read_frame().await.expect("hello")["result"]["version"],
        1
    );
    assert_eq!(ping_until_closed(&mut raw).await, "auth_timeout");
    assert!(raw.closed_by_server().await);
    // Connections that never say hello get the same deadline. By the time
    // this one is closed, the logged-in connection, older than both, is
    // well past its own: logging in lifted it.
    let mut silent = RawTcp::connect(&server).await;
    let goaway = silent.read_frame().await.expect("goaway");
    assert_eq!(goaway["data"]["reason"], "auth_timeout");
    authed
        .ping()
        .await
        .expect("a logged-in connection has no deadline");
    // A logout gives the connection a fresh deadline, not an instant close.
    authed.logout().await.expect("logout");
    authed.ping().await.expect("still open right after logout");
    assert!(metric(&server, "magpie_refusals_total{reason=\"auth_timeout\"}") >= 2);
}

async fn a_session_ends_when_its_token_expires(t: Transport) {
    let server = TestServer::start_with(|c| c.token_ttl = Duration::from_secs(1)).await;
    let url = server.url(t);
    let name = unique("alice");
    let (mut a, auth) = user(&url, &name).await;
    let goaway = next_goaway(&mut a).await;
    assert_eq!(goaway.reason, "token_expired");
    assert!(a.ping().await.is_err(), "closed");
    let c = connect(&url).await;
    let token = auth.token.expect("token");
    assert_eq!(code_of(c.resume(&token).await), "invalid_token");
}

async fn a_revoked_token_closes_its_sessions_without_the_bus(t: Transport) {
    let server =
        TestServer::start_with(|c| c.token_check_interval = Duration::from_millis(200)).await;
    let url = server.url(t);
    let name = unique("alice");
    let (mut a1, auth) = user(&url, &name).await;
    let token = auth.token.expect("token");
    let mut a1_again = connect(&url).await;
    a1_again.resume(&token).await.expect("resume");
    let (other_device, _) = user(&url, &name).await;

    // Revoke it in the database only, as a logout on another node whose
    // kick the bus lost would leave it.
    let state = server.running().state();
    state
        .store
        .revoke_token(&hash_token(&token))
        .await
        .expect("revoke");
    assert_eq!(next_goaway(&mut a1).await.reason, "logout");
    assert_eq!(next_goaway(&mut a1_again).await.reason, "logout");
    // The same sweep checked the other device's token and left it alone.
    other_device.ping().await.expect("other token unaffected");
    assert_eq!(
        metric(&server, "magpie_refusals_total{reason=\"token_revoked\"}"),
        2
    );
}

async fn a_login_beyond_the_token_cap_revokes_the_oldest(t: Transport) {
    let server = TestServer::start_with(|c| {
        c.max_tokens_per_user = 2;
        c.token_check_interval = Duration::from_millis(200);
    })
    .await;
    let url = server.url(t);
    let name = unique("alice");
    let mut tokens = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (client, auth) = user(&url, &name).await;
        tokens.push(auth.token.expect("token"));
        clients.push(client);
    }
    // The oldest token is gone, and its connection is told so.
    assert_eq!(next_goaway(&mut clients[0]).await.reason, "logout");
    let c = connect(&url).await;
    assert_eq!(code_of(c.resume(&tokens[0]).await), "invalid_token");
    // The two newest still work.
    for token in &tokens[1..] {
        let c = connect(&url).await;
        c.resume(token).await.expect("a newer token resumes");
    }
    clients[2]
        .ping()
        .await
        .expect("the newest session is untouched");
}
