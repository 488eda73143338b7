//! The client library against a scripted mock server, over both transports.

mod mock;

use magpie_client::{Accept, Client, ClientError, ClientOptions, Event, SyncState};
use magpie_proto::{
    ConvKind, Conversation, ConversationsOk, Empty, ErrorBody, ErrorCode, GoAway, History,
    HistoryOk, Message, MessageKind, Push, ReadMark, Request, SendOk, SyncOk,
};
use mock::{Kind, Mock, Script, Seen};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

const KINDS: [Kind; 2] = [Kind::Tcp, Kind::Ws];

fn message(conv: i64, seq: i64) -> Message {
    Message {
        file: None,
        msg_id: conv * 100 + seq,
        conv,
        seq,
        kind: MessageKind::Text,
        from: "bob".into(),
        body: format!("m{conv}.{seq}"),
        ts: 1,
        cmid: format!("c{conv}.{seq}"),
        event: None,
        mention_all: false,
        mentions: Vec::new(),
        ..Message::default()
    }
}

async fn connected(kind: Kind, script: Script) -> (Mock, Client) {
    let mock = Mock::start(kind, script).await;
    let client = Client::connect(&mock.url).await.expect("connect");
    (mock, client)
}

#[tokio::test]
async fn hello_is_exchanged_on_connect() {
    for kind in KINDS {
        let (_mock, client) = connected(kind, Script::default()).await;
        assert_eq!(client.server_hello().server, "mock/0", "{kind:?}");
        assert_eq!(client.server_hello().idle_timeout_secs, 60);
        assert!(!client.is_closed());
        assert!(format!("{client:?}").contains("mock/0"));
        client.close().await;
    }
}

#[tokio::test]
async fn rejected_hello_is_a_server_error() {
    for kind in KINDS {
        let mock = Mock::start(
            kind,
            Script {
                reject_hello: Some(ErrorBody::new(ErrorCode::UnsupportedVersion, "no")),
                ..Script::default()
            },
        )
        .await;
        let err = Client::connect(&mock.url).await.expect_err("must fail");
        assert_eq!(err.code(), Some(ErrorCode::UnsupportedVersion), "{kind:?}");
        assert_eq!(err.to_string(), "unsupported_version: no");
    }
}

#[tokio::test]
async fn bad_urls_are_rejected_before_connecting() {
    for url in ["http://x:1", "tcp://nohost", "", "wss:///"] {
        let err = Client::connect(url).await.expect_err(url);
        assert!(matches!(err, ClientError::InvalidUrl(_)), "{url}: {err:?}");
        assert_eq!(err.code(), None);
        assert_eq!(err.code_str(), "invalid_url");
    }
}

#[tokio::test]
async fn connection_refused_is_an_io_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = Client::connect(&addr.to_string())
        .await
        .expect_err("refused");
    assert!(matches!(err, ClientError::Io(_)), "{err:?}");
}

/// Responses are routed by id, whatever order the server answers in.
#[tokio::test]
async fn concurrent_requests_are_routed_by_id() {
    for kind in KINDS {
        let (mut mock, client) = connected(kind, Script::default()).await;
        let send = client.send_with_cmid("bob", "cmid-1", "hi");
        let convs = client.conversations();
        let read = client.read(3, 4);
        let server = async {
            let a = mock.request().await;
            let b = mock.request().await;
            let c = mock.request().await;
            assert_eq!(
                [a.id, b.id, c.id]
                    .iter()
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
                3
            );
            // Answer in reverse order of arrival.
            for frame in [c, b, a] {
                match frame.request {
                    Request::Send(s) => {
                        assert_eq!(
                            (s.to.as_deref(), s.conv, s.cmid.as_str(), s.body.as_str()),
                            (Some("bob"), None, "cmid-1", "hi")
                        );
                        mock.ok(
                            frame.id,
                            &SendOk {
                                msg_id: 9,
                                conv: 3,
                                seq: 5,
                                ts: 7,
                                duplicate: false,
                            },
                        );
                    }
                    Request::Conversations(_) => mock.ok(
                        frame.id,
                        &ConversationsOk {
                            conversations: vec![Conversation {
                                conv: 3,
                                kind: ConvKind::Direct,
                                peer: Some("bob".into()),
                                name: None,
                                avatar: None,
                                last: None,
                                active_ts: 1,
                                max_seq: 5,
                                read_seq: 4,
                                unread: 1,
                                mentioned: false,
                                pinned: false,
                                muted_until: 0,
                                marked_unread: false,
                                draft: String::new(),
                            }],
                            next: None,
                        },
                    ),
                    Request::Read(r) => mock.ok(
                        frame.id,
                        &ReadMark {
                            conv: r.conv,
                            read_seq: r.seq,
                        },
                    ),
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        let (ack, convs, read, ()) = tokio::join!(send, convs, read, server);
        assert_eq!(ack.expect("send").seq, 5, "{kind:?}");
        assert_eq!(
            convs.expect("conversations")[0].peer.as_deref(),
            Some("bob")
        );
        assert_eq!(
            read.expect("read"),
            ReadMark {
                conv: 3,
                read_seq: 4
            }
        );
        client.close().await;
    }
}

#[tokio::test]
async fn ids_start_after_hello_and_increase() {
    let (mut mock, client) = connected(Kind::Tcp, Script::default()).await;
    // The mock answers ping by itself.
    client.ping().await.expect("ping");
    let (res, first) = tokio::join!(client.history(History::default()), async {
        let f = mock.request().await;
        mock.ok(
            f.id,
            &HistoryOk {
                conv: None,
                messages: vec![],
                more: false,
            },
        );
        f.id
    });
    res.expect("history");
    // hello = 1, ping = 2, history = 3.
    assert_eq!(first, 3);
}

#[tokio::test]
async fn send_uses_a_fresh_uuid_each_time() {
    let (mut mock, client) = connected(Kind::Tcp, Script::default()).await;
    let mut cmids = Vec::new();
    for _ in 0..2 {
        let (res, ()) = tokio::join!(client.send("bob", "x"), async {
            let f = mock.request().await;
            if let Request::Send(s) = f.request {
                cmids.push(s.cmid);
            }
            mock.ok(
                f.id,
                &SendOk {
                    msg_id: 1,
                    conv: 1,
                    seq: 1,
                    ts: 1,
                    duplicate: false,
                },
            );
        });
        res.expect("send");
    }
    assert_eq!(cmids.len(), 2);
    assert_ne!(cmids[0], cmids[1]);
    assert_eq!(cmids[0].len(), 36, "uuid text form");
}

#[tokio::test]
async fn server_errors_keep_their_code() {
    for kind in KINDS {
        let (mut mock, client) = connected(kind, Script::default()).await;
        let (res, ()) = tokio::join!(client.login("alice", "wrong", None), async {
            let f = mock.request().await;
            mock.err(
                Some(f.id),
                ErrorCode::InvalidCredentials,
                "bad user or password",
            );
        });
        let err = res.expect_err("login must fail");
        assert_eq!(err.code(), Some(ErrorCode::InvalidCredentials), "{kind:?}");
        assert_eq!(err.code_str(), "invalid_credentials");
        assert_eq!(err.message(), "bad user or password");
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn pushes_and_uncorrelated_errors_arrive_in_order_then_closed() {
    for kind in KINDS {
        let (mock, mut client) = connected(kind, Script::default()).await;
        mock.push(&Push::Message(message(1, 1)));
        mock.err(None, ErrorCode::BadFrame, "what");
        mock.push(&Push::Read(ReadMark {
            conv: 1,
            read_seq: 1,
        }));
        mock.push(&Push::Goaway(GoAway {
            reason: "shutdown".into(),
            reconnect_after_ms: 5,
        }));
        mock.close();
        assert_eq!(
            client.next_event().await,
            Some(Event::Push(Push::Message(message(1, 1)))),
            "{kind:?}"
        );
        assert_eq!(
            client.next_event().await,
            Some(Event::UncorrelatedError(ErrorBody::new(
                ErrorCode::BadFrame,
                "what"
            )))
        );
        assert!(matches!(
            client.next_event().await,
            Some(Event::Push(Push::Read(_)))
        ));
        assert!(matches!(
            client.next_event().await,
            Some(Event::Push(Push::Goaway(_)))
        ));
        assert_eq!(client.next_event().await, Some(Event::Closed));
        assert_eq!(client.next_event().await, None);
        assert!(client.is_closed());
        let err = client.ping().await.expect_err("closed");
        assert!(matches!(err, ClientError::Closed), "{err:?}");
    }
}

#[tokio::test]
async fn next_push_skips_errors_and_ends_after_draining() {
    for kind in KINDS {
        let (mock, mut client) = connected(kind, Script::default()).await;
        mock.push(&Push::Message(message(1, 1)));
        mock.err(Some(999), ErrorCode::UnknownOp, "nope");
        mock.push(&Push::Message(message(1, 2)));
        mock.close();
        assert_eq!(
            client.next_push().await,
            Some(Push::Message(message(1, 1))),
            "{kind:?}"
        );
        assert_eq!(client.next_push().await, Some(Push::Message(message(1, 2))));
        assert_eq!(client.next_push().await, None);
        assert_eq!(client.try_next_push(), None);
    }
}

#[tokio::test]
async fn try_next_push_does_not_wait() {
    let (mock, mut client) = connected(Kind::Ws, Script::default()).await;
    assert_eq!(client.try_next_push(), None);
    mock.push(&Push::Message(message(2, 1)));
    // A round trip guarantees the push, sent earlier, has been read.
    client.ping().await.expect("ping");
    assert_eq!(client.try_next_push(), Some(Push::Message(message(2, 1))));
    assert_eq!(client.try_next_push(), None);
}

#[tokio::test]
async fn pending_requests_fail_with_closed_when_the_server_goes() {
    for kind in KINDS {
        let (mut mock, client) = connected(kind, Script::default()).await;
        let (res, ()) = tokio::join!(client.conversations(), async {
            mock.request().await;
            mock.close();
        });
        assert!(matches!(res, Err(ClientError::Closed)), "{kind:?}: {res:?}");
    }
}

#[tokio::test]
async fn requests_time_out() {
    let mock = Mock::start(Kind::Tcp, Script::default()).await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(200),
        ..ClientOptions::default()
    };
    let client = Client::connect_with(&mock.url, options)
        .await
        .expect("connect");
    let err = client.conversations().await.expect_err("no answer");
    assert!(matches!(err, ClientError::Timeout), "{err:?}");
    assert!(err.is_retryable());
    // A late answer to the abandoned request is harmless.
    mock.ok(
        2,
        &ConversationsOk {
            conversations: vec![],
            next: None,
        },
    );
    client.ping().await.expect("connection still fine");
}

#[tokio::test]
async fn unexpected_result_shape_is_a_protocol_error() {
    for kind in KINDS {
        let (mut mock, client) = connected(kind, Script::default()).await;
        let (res, ()) = tokio::join!(client.conversations(), async {
            let f = mock.request().await;
            mock.ok(f.id, &Empty {});
        });
        assert!(
            matches!(res, Err(ClientError::Protocol(_))),
            "{kind:?}: {res:?}"
        );
    }
}

#[tokio::test]
async fn garbage_from_the_server_does_not_kill_the_connection() {
    for kind in KINDS {
        let (mut mock, mut client) = connected(kind, Script::default()).await;
        mock.send_raw("not json at all");
        mock.send_raw(r#"{"push":"typing","data":{}}"#);
        mock.send_raw(r#"{"id":"seven"}"#);
        mock.send_raw("[]");
        let (res, ()) = tokio::join!(client.conversations(), async {
            let f = mock.request().await;
            // Malformed answer to a pending request fails just that request.
            mock.send_raw(format!(r#"{{"id":{},"neither":true}}"#, f.id));
        });
        assert!(
            matches!(res, Err(ClientError::Protocol(_))),
            "{kind:?}: {res:?}"
        );
        client.ping().await.expect("still connected");
        assert_eq!(client.try_next_push(), None);
    }
}

#[tokio::test]
async fn oversized_frames_from_the_server_end_the_connection() {
    for kind in KINDS {
        let mock = Mock::start(kind, Script::default()).await;
        let options = ClientOptions {
            max_frame_bytes: 1024,
            ..ClientOptions::default()
        };
        let mut client = Client::connect_with(&mock.url, options)
            .await
            .expect("connect");
        let big = Push::Message(Message {
            body: "x".repeat(4096),
            ..message(1, 1)
        });
        mock.push(&big);
        assert_eq!(client.next_push().await, None, "{kind:?}");
    }
}

#[tokio::test]
async fn send_raw_writes_the_payload_verbatim() {
    for kind in KINDS {
        let (mut mock, mut client) = connected(kind, Script::default()).await;
        client
            .send_raw(b"{\"id\":77,\"op\":\"bogus\"}".to_vec())
            .await
            .expect("raw");
        client
            .send_raw(vec![0xff, 0x00, 0x01])
            .await
            .expect("raw binary");
        client.send_raw(Vec::new()).await.expect("raw empty");
        for want in [
            &b"{\"id\":77,\"op\":\"bogus\"}"[..],
            &[0xff, 0x00, 0x01],
            b"",
        ] {
            match mock.next().await {
                Seen::Frame(payload, _) => assert_eq!(payload, want, "{kind:?}"),
                other => panic!("{other:?}"),
            }
        }
        mock.err(
            Some(77),
            ErrorCode::UnknownOp,
            "unknown operation \"bogus\"",
        );
        match client.next_event().await {
            Some(Event::UncorrelatedError(e)) => assert_eq!(e.code, ErrorCode::UnknownOp),
            other => panic!("{other:?}"),
        }
    }
}

// Heartbeat timing without counting pings in a wall-clock window.
//
// Counting pings in a fixed window puts an upper bound on how long timers
// and tasks may take, which a loaded machine breaks. The paused clock
// (`start_paused`) would make counts exact, but it needs tokio's
// `test-util` feature, which this crate does not enable. So each property
// is checked in a form that load cannot break:
//
// - Not too often: the client's timers never fire early (tokio rounds
//   deadlines up) and each ping re-arms the heartbeat a period after it is
//   written, so the k-th ping cannot reach the mock before `start + k *
//   period`, where `start` is taken before connecting. Load only makes the
//   pings later, so it cannot break this lower bound. (The gap between two
//   pings as the mock reads them has no such bound: a late read of one ping
//   brings it closer to the next.)
// - Not too seldom: we don't time pings. We order them against a request
//   instead. The test sleeps until a moment by which the next heartbeat is
//   due, then sends a request. The test's sleep and the client's heartbeat
//   use the same timer driver, which fires every timer due by a given
//   moment in one pass, before any task runs (`#[tokio::test]` runs
//   everything on one thread). So when the test wakes, the heartbeat has
//   fired.
//   The connection task polls a due heartbeat before new requests (a
//   `biased` select), and one connection delivers frames in order. So the
//   heartbeat ping reaches the mock before the request. Load delays both
//   but cannot swap them.
// - Disabled: the same ordering, asserting no heartbeat comes first.

/// Generous bound on waiting for something that must happen; only a broken
/// client comes near it, however loaded the machine.
const DEADLINE: Duration = Duration::from_secs(10);

/// The next heartbeat (a ping with id 0): when the mock read it.
async fn next_heartbeat(mock: &mut Mock) -> Instant {
    match mock.next_within(DEADLINE).await {
        Seen::Ping(0, at) => at,
        other => panic!("expected a heartbeat, got {other:?}"),
    }
}

/// Wait for `n` heartbeats from a client that connected (and has written
/// nothing since) after `start`. Asserts that they come no more often than
/// `period`. Returns when the last one was read: by then it had been
/// written.
async fn expect_heartbeats(mock: &mut Mock, start: Instant, period: Duration, n: u32) -> Instant {
    let mut last = start;
    for k in 1..=n {
        last = next_heartbeat(mock).await;
        let earliest = start + period * k;
        assert!(
            last >= earliest,
            "heartbeat {k} came {:?} after connecting: sooner than {k} × {period:?}",
            last - start,
        );
    }
    last
}

/// Sleep until `at`, then send a request (a `ping`, which the mock answers)
/// and return how many heartbeats reached the mock before it.
async fn heartbeats_before_a_request_at(mock: &mut Mock, client: &Client, at: Instant) -> usize {
    tokio::time::sleep_until(at).await;
    let (res, heartbeats) = tokio::join!(client.ping(), async {
        let mut heartbeats = 0;
        loop {
            match mock.next_within(DEADLINE).await {
                Seen::Ping(0, _) => heartbeats += 1,
                Seen::Ping(..) => return heartbeats,
                other => panic!("expected pings, got {other:?}"),
            }
        }
    });
    res.expect("ping");
    heartbeats
}

/// A client pinging every `period`: `n` heartbeats come no more often than
/// that. The next one is due no later than a period after the last one. We
/// test that at 5/4 of a period; any margin would do, as the check only
/// orders two timers.
async fn check_heartbeat_period(
    mock: &mut Mock,
    client: &Client,
    start: Instant,
    period: Duration,
    n: u32,
) {
    let last = expect_heartbeats(mock, start, period, n).await;
    let heartbeats = heartbeats_before_a_request_at(mock, client, last + period * 5 / 4).await;
    assert!(
        heartbeats >= 1,
        "no heartbeat within 5/4 of a period of {period:?} after the last one"
    );
}

#[tokio::test]
async fn heartbeat_pings_while_idle() {
    for kind in KINDS {
        let mut mock = Mock::start(kind, Script::default()).await;
        let period = Duration::from_millis(50);
        let options = ClientOptions {
            heartbeat: Some(period),
            ..ClientOptions::default()
        };
        let start = Instant::now();
        let client = Client::connect_with(&mock.url, options)
            .await
            .expect("connect");
        check_heartbeat_period(&mut mock, &client, start, period, 5).await;
        assert!(!client.is_closed(), "{kind:?}");
        client.close().await;
    }
}

#[tokio::test]
async fn heartbeat_defaults_to_a_third_of_the_idle_timeout() {
    let mut mock = Mock::start(
        Kind::Tcp,
        Script {
            idle_timeout_secs: 1,
            ..Script::default()
        },
    )
    .await;
    let start = Instant::now();
    let client = Client::connect(&mock.url).await.expect("connect");
    // Not too often catches a shorter default; not too seldom (checked at
    // 5/4 of a third, about 417 ms) catches a longer one such as the whole
    // idle timeout, or half of it.
    check_heartbeat_period(&mut mock, &client, start, Duration::from_secs(1) / 3, 3).await;
    client.close().await;
}

#[tokio::test]
async fn heartbeat_can_be_disabled() {
    let mut mock = Mock::start(
        Kind::Tcp,
        Script {
            idle_timeout_secs: 1,
            ..Script::default()
        },
    )
    .await;
    let options = ClientOptions {
        heartbeat: Some(Duration::ZERO),
        ..ClientOptions::default()
    };
    let client = Client::connect_with(&mock.url, options)
        .await
        .expect("connect");
    // Stay idle for the whole idle timeout: three default periods. A
    // heartbeat left enabled would be due by then, so it would reach the
    // mock before the request.
    let idle_until = Instant::now() + Duration::from_secs(1);
    let heartbeats = heartbeats_before_a_request_at(&mut mock, &client, idle_until).await;
    assert_eq!(heartbeats, 0);
    client.close().await;
}

#[tokio::test]
async fn unanswered_heartbeats_close_the_connection() {
    let mock = Mock::start(
        Kind::Tcp,
        Script {
            answer_pings: false,
            ..Script::default()
        },
    )
    .await;
    let options = ClientOptions {
        heartbeat: Some(Duration::from_millis(50)),
        request_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let mut client = Client::connect_with(&mock.url, options)
        .await
        .expect("connect");
    let ended = tokio::time::timeout(Duration::from_secs(3), client.next_event()).await;
    assert_eq!(ended.expect("closed in time"), Some(Event::Closed));
}

#[tokio::test]
async fn close_is_polite() {
    for kind in KINDS {
        let (mut mock, client) = connected(kind, Script::default()).await;
        client.close().await;
        assert!(matches!(mock.next().await, Seen::Eof), "{kind:?}");
    }
}

#[tokio::test]
async fn dropping_the_client_closes_the_connection() {
    let (mut mock, client) = connected(Kind::Ws, Script::default()).await;
    drop(client);
    assert!(matches!(mock.next().await, Seen::Eof));
}

#[tokio::test]
async fn catch_up_pages_through_sync_and_skips_what_it_has() {
    for kind in KINDS {
        let (mut mock, client) = connected(kind, Script::default()).await;
        let mut state = SyncState::new();
        assert_eq!(state.accept(&message(1, 1)), Accept::New);
        let server = async {
            // Page 1: the client has conv 1 up to 1.
            let f = mock.request().await;
            let Request::Sync(sync) = f.request else {
                panic!("expected sync")
            };
            assert_eq!(sync.cursors, BTreeMap::from([(1, 1)]));
            assert_eq!(sync.limit, Some(1000));
            mock.ok(
                f.id,
                &SyncOk {
                    messages: vec![message(1, 1), message(1, 2), message(2, 1)],
                    more: true,
                },
            );
            // Page 2: cursors advanced.
            let f = mock.request().await;
            let Request::Sync(sync) = f.request else {
                panic!("expected sync")
            };
            assert_eq!(sync.cursors, BTreeMap::from([(1, 2), (2, 1)]));
            mock.ok(
                f.id,
                &SyncOk {
                    messages: vec![message(2, 2)],
                    more: false,
                },
            );
        };
        let (fresh, ()) = tokio::join!(state.catch_up(&client), server);
        let fresh = fresh.expect("catch up");
        let got: Vec<(i64, i64)> = fresh.iter().map(|m| (m.conv, m.seq)).collect();
        assert_eq!(got, [(1, 2), (2, 1), (2, 2)], "{kind:?}");
        assert_eq!(state.position(2), 2);
        assert_eq!(state.accept(&message(2, 2)), Accept::Duplicate);
    }
}

#[tokio::test]
async fn catch_up_refuses_to_loop_without_progress() {
    let (mut mock, client) = connected(Kind::Tcp, Script::default()).await;
    // A server that keeps answering with what the client holds, and says
    // there is more.
    let mut state = SyncState::from_cursors(BTreeMap::from([(1, 5)]));
    let (res, ()) = tokio::join!(state.catch_up(&client), async {
        let f = mock.request().await;
        mock.ok(
            f.id,
            &SyncOk {
                messages: vec![message(1, 5)],
                more: true,
            },
        );
    });
    assert!(matches!(res, Err(ClientError::Protocol(_))), "{res:?}");
}

/// A group joined later starts above 0: sync's run for it begins at the
/// join, and is taken from there; a hole inside a run is still a hole.
#[tokio::test]
async fn catch_up_starts_a_conversation_where_sync_starts_it() {
    let (mut mock, client) = connected(Kind::Tcp, Script::default()).await;
    let mut state = SyncState::new();
    let (res, ()) = tokio::join!(state.catch_up(&client), async {
        let f = mock.request().await;
        mock.ok(
            f.id,
            &SyncOk {
                messages: vec![message(7, 41), message(7, 42), message(7, 44)],
                more: false,
            },
        );
    });
    let got: Vec<i64> = res.expect("catch up").iter().map(|m| m.seq).collect();
    assert_eq!(got, [41, 42]);
    assert_eq!(state.position(7), 42);
}

#[tokio::test]
async fn many_pipelined_requests() {
    for kind in KINDS {
        let (mut mock, client) = connected(kind, Script::default()).await;
        let n = 500;
        let requests = futures::future::join_all((0..n).map(|i| {
            let client = &client;
            async move { client.send_with_cmid("bob", &format!("c{i}"), "x").await }
        }));
        let server = async {
            for _ in 0..n {
                let f = mock.request().await;
                let Request::Send(s) = f.request else {
                    panic!()
                };
                let seq: i64 = s.cmid[1..].parse().expect("cmid");
                mock.ok(
                    f.id,
                    &SendOk {
                        msg_id: seq,
                        conv: 1,
                        seq,
                        ts: 0,
                        duplicate: false,
                    },
                );
            }
        };
        let (acks, ()) = tokio::join!(requests, server);
        for (i, ack) in acks.into_iter().enumerate() {
            assert_eq!(ack.expect("ack").seq, i as i64, "{kind:?}");
        }
    }
}
