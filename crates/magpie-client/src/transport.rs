//! The two ways of carrying Magpie JSON documents, behind one type.
//!
//! The protocol is identical over raw TCP (length-prefixed frames) and
//! WebSocket (one text message per document). Everything above this module
//! (the connection task, the request/response routing) only ever sees whole
//! payloads, so it is written once. The transport is driven by `poll_*`
//! methods rather than async functions so that the connection task can read
//! and flush at the same time on a single socket without splitting it (which
//! would cost an extra allocation and lock per connection).

use crate::ClientError;
use bytes::Bytes;
use futures::{Sink, Stream};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage, protocol::WebSocketConfig};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// Initial read and write buffer size per connection. Magpie frames are
/// usually a few hundred bytes; the load generator holds 100k+ connections,
/// so buffers start small and only grow for the rare large frame.
const BUFFER_BYTES: usize = 4 * 1024;

/// Where to connect, parsed from a server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// Raw TCP to `host:port`.
    Tcp(String),
    /// WebSocket to the full `ws://` (or `wss://`) URL.
    Ws(String),
}

impl Endpoint {
    /// Accepts `tcp://host:port`, bare `host:port` (TCP) and
    /// `ws://host:port/path`. A WebSocket URL without a path gets the
    /// server's default path `/ws`.
    pub(crate) fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let url = url.trim();
        let invalid = |why: &str| ClientError::InvalidUrl(format!("{url:?}: {why}"));
        if let Some((scheme, rest)) = url.split_once("://") {
            match scheme.to_ascii_lowercase().as_str() {
                "tcp" => {
                    let addr = rest.strip_suffix('/').unwrap_or(rest);
                    check_host_port(addr).map_err(invalid)?;
                    Ok(Endpoint::Tcp(addr.to_owned()))
                }
                "ws" | "wss" => {
                    let (authority, path) = match rest.find('/') {
                        Some(i) => rest.split_at(i),
                        None => (rest, ""),
                    };
                    if authority.is_empty() {
                        return Err(invalid("missing host"));
                    }
                    if path.is_empty() {
                        Ok(Endpoint::Ws(format!("{url}/ws")))
                    } else {
                        Ok(Endpoint::Ws(url.to_owned()))
                    }
                }
                other => Err(invalid(&format!(
                    "unsupported scheme {other:?} (use tcp:// or ws://)"
                ))),
            }
        } else {
            check_host_port(url).map_err(invalid)?;
            Ok(Endpoint::Tcp(url.to_owned()))
        }
    }
}

/// A TCP address must be `host:port` with a non-empty host and a numeric port.
fn check_host_port(addr: &str) -> Result<(), &'static str> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err("expected host:port");
    };
    if host.is_empty() || host.contains('/') {
        return Err("expected host:port");
    }
    port.parse::<u16>().map_err(|_| "invalid port")?;
    Ok(())
}

type TcpFramed = Framed<TcpStream, LengthDelimitedCodec>;

/// One open connection to the server.
pub(crate) enum Transport {
    Tcp(TcpFramed),
    Ws(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Tcp(_) => f.write_str("Transport::Tcp"),
            Transport::Ws(_) => f.write_str("Transport::Ws"),
        }
    }
}

/// Connect to `addr` (`host:port`), from the source address `bind_ip` when
/// given. The load generator spreads its connections over many loopback
/// addresses this way: one source address has only ~28k ephemeral ports.
/// With `IP_BIND_ADDRESS_NO_PORT` the kernel picks the port at connect time,
/// per destination, instead of reserving one at bind time.
async fn tcp_connect(addr: &str, bind_ip: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = bind_ip else {
        return TcpStream::connect(addr).await;
    };
    let mut last_error = None;
    for target in tokio::net::lookup_host(addr).await? {
        if target.is_ipv4() != ip.is_ipv4() {
            continue;
        }
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(target),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        // socket2 does not wrap this option; nix does, safely.
        #[cfg(target_os = "linux")]
        nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::IpBindAddressNoPort,
            &true,
        )
        .map_err(std::io::Error::from)?;
        socket.bind(&std::net::SocketAddr::new(ip, 0).into())?;
        socket.set_nonblocking(true)?;
        let socket = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(socket));
        match socket.connect(target).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no address of {addr} matches {ip}"),
        )
    }))
}

impl Transport {
    /// Open the socket (and do the WebSocket handshake). Nagle is disabled:
    /// requests are small and latency matters more than packet count.
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        max_frame_bytes: usize,
        bind_ip: Option<std::net::IpAddr>,
    ) -> Result<Transport, ClientError> {
        match endpoint {
            Endpoint::Tcp(addr) => {
                let stream = tcp_connect(addr, bind_ip).await?;
                stream.set_nodelay(true)?;
                let codec = magpie_proto::frame::tcp_codec(max_frame_bytes);
                let mut framed = Framed::with_capacity(stream, codec, BUFFER_BYTES);
                // The write buffer is allocated on first use and then sized
                // by what is actually written; an idle connection (most of
                // the load generator's) never needs 4 KiB of it.
                *framed.write_buffer_mut() = bytes::BytesMut::new();
                Ok(Transport::Tcp(framed))
            }
            Endpoint::Ws(url) => {
                let config = WebSocketConfig::default()
                    .read_buffer_size(BUFFER_BYTES)
                    .write_buffer_size(BUFFER_BYTES)
                    .max_message_size(Some(max_frame_bytes))
                    .max_frame_size(Some(max_frame_bytes));
                let (ws, _response) = match bind_ip {
                    None => {
                        tokio_tungstenite::connect_async_with_config(
                            url.as_str(),
                            Some(config),
                            true,
                        )
                        .await
                    }
                    Some(ip) => {
                        let host_port = url
                            .trim_start_matches("ws://")
                            .split('/')
                            .next()
                            .unwrap_or_default();
                        let stream = tcp_connect(host_port, Some(ip)).await?;
                        stream.set_nodelay(true)?;
                        tokio_tungstenite::client_async_with_config(
                            url.as_str(),
                            MaybeTlsStream::Plain(stream),
                            Some(config),
                        )
                        .await
                    }
                }
                .map_err(connect_error)?;
                Ok(Transport::Ws(Box::new(ws)))
            }
        }
    }

    /// The next payload from the server; `None` once the server closed the
    /// connection. WebSocket control messages are handled here and never
    /// surface.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, ClientError>>> {
        match self {
            Transport::Tcp(framed) => Poll::Ready(match ready!(Pin::new(framed).poll_next(cx)) {
                None => None,
                Some(Ok(frame)) => Some(Ok(frame.freeze())),
                Some(Err(e)) => Some(Err(tcp_error(e))),
            }),
            Transport::Ws(ws) => loop {
                match ready!(Pin::new(&mut **ws).poll_next(cx)) {
                    None => return Poll::Ready(None),
                    Some(Ok(WsMessage::Text(text))) => return Poll::Ready(Some(Ok(text.into()))),
                    Some(Ok(WsMessage::Binary(data))) => return Poll::Ready(Some(Ok(data))),
                    // Pings are answered by tungstenite itself; after a Close
                    // the next poll finishes the close handshake and ends
                    // the stream.
                    Some(Ok(
                        WsMessage::Ping(_)
                        | WsMessage::Pong(_)
                        | WsMessage::Close(_)
                        | WsMessage::Frame(_),
                    )) => continue,
                    Some(Err(
                        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                    )) => return Poll::Ready(None),
                    Some(Err(e)) => return Poll::Ready(Some(Err(ws_error(e)))),
                }
            },
        }
    }

    /// Ready to accept one more payload into the write buffer.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        match self {
            Transport::Tcp(framed) => <TcpFramed as Sink<Bytes>>::poll_ready(Pin::new(framed), cx)
                .map_err(ClientError::Io),
            Transport::Ws(ws) => Pin::new(&mut **ws).poll_ready(cx).map_err(ws_error),
        }
    }

    /// Queue one payload as one frame; call only after `poll_ready` said
    /// ready. WebSocket payloads go as text when they are UTF-8 (all real
    /// JSON is), as binary otherwise (only tests send such garbage).
    pub(crate) fn start_send(&mut self, payload: Vec<u8>) -> Result<(), ClientError> {
        match self {
            Transport::Tcp(framed) => Pin::new(framed)
                .start_send(Bytes::from(payload))
                .map_err(ClientError::Io),
            Transport::Ws(ws) => {
                let message = match String::from_utf8(payload) {
                    Ok(text) => WsMessage::Text(text.into()),
                    Err(e) => WsMessage::Binary(Bytes::from(e.into_bytes())),
                };
                Pin::new(&mut **ws).start_send(message).map_err(ws_error)
            }
        }
    }

    /// Write everything queued to the socket.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        match self {
            Transport::Tcp(framed) => <TcpFramed as Sink<Bytes>>::poll_flush(Pin::new(framed), cx)
                .map_err(ClientError::Io),
            Transport::Ws(ws) => Pin::new(&mut **ws).poll_flush(cx).map_err(ws_error),
        }
    }

    /// Flush, then close our side: a TCP FIN, or a WebSocket Close frame.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        match self {
            Transport::Tcp(framed) => <TcpFramed as Sink<Bytes>>::poll_close(Pin::new(framed), cx)
                .map_err(ClientError::Io),
            Transport::Ws(ws) => Pin::new(&mut **ws).poll_close(cx).map_err(ws_error),
        }
    }

    /// Async form of [`Transport::poll_recv`].
    pub(crate) async fn recv(&mut self) -> Option<Result<Bytes, ClientError>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Async form of [`Transport::poll_ready`].
    pub(crate) async fn ready(&mut self) -> Result<(), ClientError> {
        poll_fn(|cx| self.poll_ready(cx)).await
    }

    /// Write one payload and flush it (used only before the connection task
    /// takes over, i.e. for `hello`).
    pub(crate) async fn send(&mut self, payload: Vec<u8>) -> Result<(), ClientError> {
        self.ready().await?;
        self.start_send(payload)?;
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Async form of [`Transport::poll_close`].
    pub(crate) async fn close(&mut self) -> Result<(), ClientError> {
        poll_fn(|cx| self.poll_close(cx)).await
    }
}

/// The length codec reports an oversized or malformed frame as
/// `InvalidData`; that is the server breaking the protocol, not the network.
fn tcp_error(e: std::io::Error) -> ClientError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        ClientError::Protocol(format!("bad frame from server: {e}"))
    } else {
        ClientError::Io(e)
    }
}

fn ws_error(e: tungstenite::Error) -> ClientError {
    match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            ClientError::Closed
        }
        tungstenite::Error::Io(e) => ClientError::Io(e),
        tungstenite::Error::Capacity(e) => {
            ClientError::Protocol(format!("message from server too large: {e}"))
        }
        tungstenite::Error::Protocol(e) => ClientError::WebSocket(e.to_string()),
        tungstenite::Error::Utf8(e) => ClientError::Protocol(format!("invalid UTF-8: {e}")),
        other => ClientError::WebSocket(other.to_string()),
    }
}

fn connect_error(e: tungstenite::Error) -> ClientError {
    match e {
        tungstenite::Error::Url(e) => ClientError::InvalidUrl(e.to_string()),
        tungstenite::Error::Http(response) => ClientError::WebSocket(format!(
            "handshake rejected with HTTP status {}",
            response.status()
        )),
        other => ws_error(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let cases: &[(&str, Option<Endpoint>)] = &[
            (
                "tcp://127.0.0.1:7070",
                Some(Endpoint::Tcp("127.0.0.1:7070".into())),
            ),
            (
                "tcp://localhost:7070/",
                Some(Endpoint::Tcp("localhost:7070".into())),
            ),
            ("TCP://[::1]:7070", Some(Endpoint::Tcp("[::1]:7070".into()))),
            ("example.org:1", Some(Endpoint::Tcp("example.org:1".into()))),
            (
                "ws://127.0.0.1:8080/ws",
                Some(Endpoint::Ws("ws://127.0.0.1:8080/ws".into())),
            ),
            (
                "ws://127.0.0.1:8080",
                Some(Endpoint::Ws("ws://127.0.0.1:8080/ws".into())),
            ),
            ("tcp://127.0.0.1", None),
            ("tcp://:7070", None),
            ("127.0.0.1:notaport", None),
            ("127.0.0.1:70000", None),
            ("http://127.0.0.1:80/ws", None),
            ("ws:///ws", None),
            ("", None),
        ];
        for (url, want) in cases {
            let got = Endpoint::parse(url);
            match (want, got) {
                (Some(want), Ok(got)) => assert_eq!(&got, want, "{url}"),
                (None, Err(ClientError::InvalidUrl(_))) => {}
                (want, got) => panic!("{url}: wanted {want:?}, got {got:?}"),
            }
        }
    }
}
