//! The two transports, each adapted to the stream + sink the session loop
//! expects. Everything protocol-specific lives in `session`; these only
//! frame bytes.

use crate::session::{self, Inbound, TransportError};
use crate::state::AppState;
use crate::throttle::{ConnRefused, Peer};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use magpie_proto::frame::tcp_codec;
use magpie_proto::{ErrorBody, ErrorCode, GoAway, Push};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, LengthDelimitedCodecError};

/// Initial read buffer of a TCP connection. Most frames are small; the
/// buffer grows for a large one and idle connections stay cheap.
const TCP_READ_BUFFER: usize = 1024;

/// Accept TCP connections until shutdown.
pub async fn accept_tcp(listener: TcpListener, state: Arc<AppState>) {
    loop {
        let accepted = tokio::select! {
            () = state.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, addr)) => {
                // A stream proxy hides the client: no per-address limits then.
                let ip = state.throttle.client_ip(addr.ip(), None, None);
                match state.throttle.admit_connection(ip) {
                    Ok(peer) => {
                        let state2 = state.clone();
                        state.connections.spawn(serve_tcp(state2, stream, peer));
                    }
                    Err(refused) => refuse_tcp(&stream, refused),
                }
            }
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Tell a refused client why, if its socket takes the few bytes at once
/// (a fresh socket's send buffer always does), then close it. Never waits:
/// the accept loop must not be slowed by the clients it refuses.
fn refuse_tcp(stream: &TcpStream, refused: ConnRefused) {
    let goaway = Push::Goaway(GoAway {
        reason: refused.reason().to_string(),
        reconnect_after_ms: REFUSED_RECONNECT_AFTER_MS,
    })
    .encode();
    let mut frame = Vec::with_capacity(4 + goaway.len());
    frame.extend_from_slice(&u32::try_from(goaway.len()).unwrap_or(0).to_be_bytes());
    frame.extend_from_slice(&goaway);
    let _ = stream.try_write(&frame);
}

/// How long a client refused at accept is asked to wait.
pub const REFUSED_RECONNECT_AFTER_MS: u64 = 5000;

async fn serve_tcp(state: Arc<AppState>, stream: TcpStream, peer: Peer) {
    let _ = stream.set_nodelay(true);
    let codec = tcp_codec(state.config.max_frame_bytes);
    let framed = Framed::with_capacity(stream, codec, TCP_READ_BUFFER);
    // The codec encodes both `Bytes` and `&[u8]`: name the item type.
    let io = SinkExt::<Bytes>::sink_err_into::<TransportError>(framed).map(|item| {
        item.map(|b| Inbound::Frame(b.freeze()))
            .map_err(classify_tcp)
    });
    session::serve(state, io, "tcp", peer).await;
}

fn classify_tcp(e: std::io::Error) -> TransportError {
    if e.get_ref()
        .is_some_and(|inner| inner.is::<LengthDelimitedCodecError>())
    {
        TransportError::TooLarge
    } else {
        TransportError::Io(e.to_string())
    }
}

/// Run a session over an upgraded WebSocket.
pub async fn serve_ws(state: Arc<AppState>, socket: WebSocket, peer: Peer) {
    let socket = ClosingWebSocket {
        socket,
        close: None,
    };
    let io = socket
        .map(|item| match item {
            Ok(Message::Text(text)) => Ok(Inbound::Frame(Bytes::from(text))),
            Ok(Message::Binary(_)) => Ok(Inbound::Reject(ErrorBody::new(
                ErrorCode::BadFrame,
                "send JSON in text messages; binary messages are not used",
            ))),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_)) => Ok(Inbound::Activity),
            Err(e) => Err(classify_ws(e)),
        })
        .sink_err_into::<TransportError>()
        .with(|frame: Bytes| {
            // Every frame we send is serde_json output, hence UTF-8.
            futures::future::ready(
                Utf8Bytes::try_from(frame)
                    .map(Message::Text)
                    .map_err(|_| TransportError::Io("outbound frame is not UTF-8".into())),
            )
        });
    session::serve(state, io, "ws", peer).await;
}

/// A WebSocket that remembers why reading it failed, so that closing it
/// sends the close frame with the standard status code (RFC 6455 7.4.1):
/// 1007 for a text message that is not UTF-8, 1009 for a message over the
/// size limit, 1002 for other protocol violations. Without it, the session
/// (which sees only "the transport failed") would close without a code.
struct ClosingWebSocket {
    socket: WebSocket,
    /// Set by a read error; sent (once) when the sink is closed.
    close: Option<CloseFrame>,
}

impl ClosingWebSocket {
    fn close_frame_for(e: &axum::Error) -> Option<CloseFrame> {
        use tokio_tungstenite::tungstenite::Error as WsError;
        let (code, reason) = match std::error::Error::source(e)?.downcast_ref::<WsError>()? {
            WsError::Utf8(_) => (close_code::INVALID, "text message is not valid UTF-8"),
            WsError::Capacity(_) => (close_code::SIZE, "message too large"),
            WsError::Protocol(_) => (close_code::PROTOCOL, "protocol violation"),
            _ => return None,
        };
        Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })
    }
}

impl Stream for ClosingWebSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.socket.poll_next_unpin(cx));
        if let Some(Err(e)) = &item {
            self.close = Self::close_frame_for(e);
        }
        Poll::Ready(item)
    }
}

impl Sink<Message> for ClosingWebSocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.socket.poll_ready_unpin(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.socket.start_send_unpin(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.socket.poll_flush_unpin(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.close.is_some() {
            ready!(self.socket.poll_ready_unpin(cx))?;
            let frame = self.close.take();
            // tungstenite starts the closing handshake with this frame; the
            // close below then only flushes it.
            self.socket.start_send_unpin(Message::Close(frame))?;
        }
        self.socket.poll_close_unpin(cx)
    }
}

fn classify_ws(e: axum::Error) -> TransportError {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e.into_inner().downcast::<WsError>() {
        Ok(inner) if matches!(*inner, WsError::Capacity(_)) => TransportError::TooLarge,
        Ok(inner) => TransportError::Io(inner.to_string()),
        Err(other) => TransportError::Io(other.to_string()),
    }
}
