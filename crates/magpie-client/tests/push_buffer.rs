//! The bound on pushes buffered for the application
//! ([`ClientOptions::push_buffer`]): an application that stops reading is
//! disconnected once the buffer is full, rather than buffering without
//! bound, and keeps what was buffered before.

mod mock;

use magpie_client::{Client, ClientError, ClientOptions, Event};
use magpie_proto::{Message, MessageKind, Push, ReadMark, Request};
use mock::{Kind, Mock, Script, Seen};
use std::time::Duration;
use tokio::time::Instant;

const KINDS: [Kind; 2] = [Kind::Tcp, Kind::Ws];

/// The small buffer under test.
const PUSH_BUFFER: usize = 8;
/// Pushes the server sends while the application reads none: well past
/// [`PUSH_BUFFER`], far below the default buffer.
const PUSHES: i64 = 3 * PUSH_BUFFER as i64;
/// Generous bound for anything that should happen promptly.
const DEADLINE: Duration = Duration::from_secs(5);

fn message(seq: i64) -> Message {
    Message {
        file: None,
        msg_id: 100 + seq,
        conv: 1,
        seq,
        kind: MessageKind::Text,
        from: "bob".into(),
        body: format!("m{seq}"),
        ts: 1,
        cmid: format!("c{seq}"),
        event: None,
        mention_all: false,
        mentions: Vec::new(),
        ..Message::default()
    }
}

fn options(push_buffer: usize) -> ClientOptions {
    ClientOptions {
        push_buffer,
        // Short enough that a request the client wrongly leaves waiting
        // fails the test as a timeout soon, long enough never to fire on
        // a healthy run.
        request_timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    }
}

/// Connect with `options`, then, while a `read` request waits for its
/// answer, have the server push messages 1..=[`PUSHES`] and only then
/// answer the request. The application reads nothing meanwhile. Returns
/// the request's outcome.
async fn push_while_a_request_waits(
    kind: Kind,
    options: ClientOptions,
) -> (Mock, Client, Result<ReadMark, ClientError>) {
    let mut mock = Mock::start(kind, Script::default()).await;
    let client = Client::connect_with(&mock.url, options)
        .await
        .expect("connect to the mock");
    let (answer, ()) = tokio::join!(client.read(1, 5), async {
        let frame = mock.request().await;
        assert!(
            matches!(frame.request, Request::Read(_)),
            "{kind:?}: {frame:?}"
        );
        for seq in 1..=PUSHES {
            mock.push(&Push::Message(message(seq)));
        }
        mock.ok(
            frame.id,
            &ReadMark {
                conv: 1,
                read_seq: 5,
            },
        );
    });
    (mock, client, answer)
}

/// A full push buffer closes the connection: the waiting request fails
/// with `Closed`, the socket is closed, and the pushes buffered before
/// the overflow are still delivered, in order, followed by `Closed`.
#[tokio::test]
async fn unread_pushes_beyond_the_buffer_close_the_connection() {
    for kind in KINDS {
        let (mut mock, mut client, answer) =
            push_while_a_request_waits(kind, options(PUSH_BUFFER)).await;
        match answer {
            Err(ClientError::Closed) => {}
            other => panic!("{kind:?}: the waiting request ended with {other:?}"),
        }
        assert!(
            matches!(mock.next().await, Seen::Eof),
            "{kind:?}: the client should have closed the socket"
        );
        let deadline = Instant::now() + DEADLINE;
        while !client.is_closed() {
            assert!(
                Instant::now() < deadline,
                "{kind:?}: the client never reported being closed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let err = client.ping().await.expect_err("a closed client");
        assert!(matches!(err, ClientError::Closed), "{kind:?}: {err:?}");

        // Exactly what fitted in the buffer, through both reading APIs.
        let half = PUSH_BUFFER as i64 / 2;
        for seq in 1..=half {
            assert_eq!(
                client.next_push().await,
                Some(Push::Message(message(seq))),
                "{kind:?}"
            );
        }
        for seq in half + 1..=PUSH_BUFFER as i64 {
            assert_eq!(
                client.next_event().await,
                Some(Event::Push(Push::Message(message(seq)))),
                "{kind:?}"
            );
        }
        assert_eq!(client.next_event().await, Some(Event::Closed), "{kind:?}");
        assert_eq!(client.next_event().await, None, "{kind:?}");
        assert_eq!(client.next_push().await, None, "{kind:?}");
    }
}

/// The same pushes with the default buffer: nothing closes, the request
/// is answered and every push arrives.
#[tokio::test]
async fn the_same_pushes_fit_the_default_buffer() {
    assert!(ClientOptions::default().push_buffer > PUSHES as usize);
    for kind in KINDS {
        let (_mock, mut client, answer) =
            push_while_a_request_waits(kind, options(ClientOptions::default().push_buffer)).await;
        let mark = answer.expect("the request is answered");
        assert_eq!(
            mark,
            ReadMark {
                conv: 1,
                read_seq: 5
            }
        );
        assert!(!client.is_closed(), "{kind:?}");
        for seq in 1..=PUSHES {
            assert_eq!(
                client.next_event().await,
                Some(Event::Push(Push::Message(message(seq)))),
                "{kind:?}"
            );
        }
        assert_eq!(client.try_next_push(), None, "{kind:?}");
        client.ping().await.expect("the connection is still up");
        assert!(!client.is_closed(), "{kind:?}");
        client.close().await;
    }
}
