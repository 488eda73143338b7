//! A scripted stand-in for the Magpie server, so the client library can be
//! tested (framing, routing, heartbeats, failure handling) without the real
//! server and its database.
//!
//! The mock accepts one connection, answers `hello` by itself (and `ping`
//! unless told not to), and hands every other frame to the test, which
//! answers, pushes or closes through [`Mock`].

#![allow(dead_code)]

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use magpie_proto::{HelloOk, RequestFrame, response};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::codec::Framed;

/// Which transport the mock listens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Ws,
}

/// How the mock behaves on its own.
#[derive(Debug, Clone)]
pub struct Script {
    pub idle_timeout_secs: u64,
    /// Answer `ping` automatically.
    pub answer_pings: bool,
    /// Answer `hello` with this error instead of `HelloOk`.
    pub reject_hello: Option<magpie_proto::ErrorBody>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            idle_timeout_secs: 60,
            answer_pings: true,
            reject_hello: None,
        }
    }
}

/// What the mock saw from the client.
#[derive(Debug)]
pub enum Seen {
    /// A frame other than `hello`/answered `ping`: raw payload, plus the
    /// parsed request when it is one.
    Frame(Vec<u8>, Option<RequestFrame>),
    /// A ping the mock answered (or dropped) by itself: its id (0 for the
    /// client's heartbeats) and when the mock read it. The client wrote it
    /// before that, so the time is an upper bound on when it was sent.
    Ping(u64, Instant),
    /// The client closed the connection.
    Eof,
}

enum Out {
    Frame(Vec<u8>),
    Close,
}

/// The test's handle on the mock server.
#[derive(Debug)]
pub struct Mock {
    pub url: String,
    out: mpsc::UnboundedSender<Out>,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Mock {
    pub async fn start(kind: Kind, script: Script) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let url = match kind {
            Kind::Tcp => format!("tcp://{addr}"),
            Kind::Ws => format!("ws://{addr}/ws"),
        };
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (seen_tx, seen_rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let conn = match kind {
                Kind::Tcp => Conn::Tcp(Framed::new(
                    stream,
                    magpie_proto::frame::tcp_codec(magpie_proto::frame::DEFAULT_MAX_FRAME_BYTES),
                )),
                Kind::Ws => Conn::Ws(Box::new(
                    tokio_tungstenite::accept_async(stream)
                        .await
                        .expect("ws accept"),
                )),
            };
            serve(conn, script, out_rx, seen_tx).await;
        });
        Mock {
            url,
            out: out_tx,
            seen: seen_rx,
        }
    }

    /// The next thing the client did (pings excluded), within 5 s.
    pub async fn next(&mut self) -> Seen {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.seen.recv())
                .await
                .expect("mock waited too long for the client")
                .expect("mock ended")
            {
                Seen::Ping(..) => continue,
                other => return other,
            }
        }
    }

    /// The next thing the client did, pings included, within `within`.
    pub async fn next_within(&mut self, within: Duration) -> Seen {
        tokio::time::timeout(within, self.seen.recv())
            .await
            .expect("mock waited too long for the client")
            .expect("mock ended")
    }

    /// The next request the client sent.
    pub async fn request(&mut self) -> RequestFrame {
        match self.next().await {
            Seen::Frame(_, Some(frame)) => frame,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// Everything seen so far, without waiting.
    pub fn drain(&mut self) -> Vec<Seen> {
        let mut all = Vec::new();
        while let Ok(seen) = self.seen.try_recv() {
            all.push(seen);
        }
        all
    }

    pub fn send_raw(&self, payload: impl Into<Vec<u8>>) {
        let _ = self.out.send(Out::Frame(payload.into()));
    }

    pub fn ok<T: Serialize>(&self, id: u64, result: &T) {
        self.send_raw(response::encode_ok(id, result).to_vec());
    }

    pub fn err(&self, id: Option<u64>, code: magpie_proto::ErrorCode, message: &str) {
        let body = magpie_proto::ErrorBody::new(code, message);
        self.send_raw(response::encode_error(id, &body).to_vec());
    }

    pub fn push(&self, push: &magpie_proto::Push) {
        self.send_raw(push.encode().to_vec());
    }

    pub fn close(&self) {
        let _ = self.out.send(Out::Close);
    }
}

enum Conn {
    Tcp(Framed<TcpStream, tokio_util::codec::LengthDelimitedCodec>),
    Ws(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
}

impl Conn {
    async fn recv(&mut self) -> Option<Vec<u8>> {
        match self {
            Conn::Tcp(f) => f.next().await.and_then(Result::ok).map(|b| b.to_vec()),
            Conn::Ws(ws) => loop {
                match ws.next().await? {
                    Ok(WsMessage::Text(t)) => return Some(t.as_bytes().to_vec()),
                    Ok(WsMessage::Binary(b)) => return Some(b.to_vec()),
                    Ok(WsMessage::Close(_)) => continue,
                    Ok(_) => continue,
                    Err(_) => return None,
                }
            },
        }
    }

    async fn send(&mut self, payload: Vec<u8>) {
        let _ = match self {
            Conn::Tcp(f) => f.send(Bytes::from(payload)).await.map_err(|_| ()),
            Conn::Ws(ws) => ws
                .send(WsMessage::Text(
                    String::from_utf8(payload).expect("mock sends UTF-8").into(),
                ))
                .await
                .map_err(|_| ()),
        };
    }

    async fn close(&mut self) {
        let _ = match self {
            Conn::Tcp(f) => SinkExt::<Bytes>::close(f).await.map_err(|_| ()),
            Conn::Ws(ws) => ws.close().await.map_err(|_| ()),
        };
    }
}

async fn serve(
    mut conn: Conn,
    script: Script,
    mut out: mpsc::UnboundedReceiver<Out>,
    seen: mpsc::UnboundedSender<Seen>,
) {
    loop {
        tokio::select! {
            incoming = conn.recv() => {
                let received = Instant::now();
                let Some(payload) = incoming else {
                    let _ = seen.send(Seen::Eof);
                    return;
                };
                let frame = RequestFrame::parse(&payload).ok();
                match frame.as_ref().map(|f| (f.id, &f.request)) {
                    Some((id, magpie_proto::Request::Hello(_))) => {
                        let reply = match &script.reject_hello {
                            Some(body) => response::encode_error(Some(id), body),
                            None => response::encode_ok(id, &HelloOk {
                                version: magpie_proto::PROTOCOL_VERSION,
                                server: "mock/0".into(),
                                max_frame_bytes: 1 << 20,
                                max_body_bytes: 1 << 16,
                                idle_timeout_secs: script.idle_timeout_secs,
                            }),
                        };
                        conn.send(reply.to_vec()).await;
                    }
                    Some((id, magpie_proto::Request::Ping)) => {
                        let _ = seen.send(Seen::Ping(id, received));
                        if script.answer_pings {
                            conn.send(response::encode_ok(id, &magpie_proto::Empty {}).to_vec()).await;
                        }
                    }
                    _ => {
                        let _ = seen.send(Seen::Frame(payload, frame));
                    }
                }
            }
            cmd = out.recv() => match cmd {
                Some(Out::Frame(payload)) => conn.send(payload).await,
                Some(Out::Close) | None => {
                    conn.close().await;
                    // Wait for the client's side to go too.
                    while conn.recv().await.is_some() {}
                    let _ = seen.send(Seen::Eof);
                    return;
                }
            }
        }
    }
}
