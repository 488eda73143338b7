//! An async client for the Magpie instant-messaging protocol.
//!
//! The command-line client, the load generator and the integration tests
//! all talk to the server through this crate, so the protocol's
//! details (framing, request ids, the `hello` handshake, heartbeats) are
//! implemented exactly once.
//!
//! A [`Client`] is one connection. [`Client::connect`] opens it over raw TCP
//! (`tcp://host:port`) or WebSocket (`ws://host:port/ws`), performs the
//! `hello` handshake and starts one background task that owns the socket.
//! Requests may be issued concurrently from `&Client`; each is answered by
//! id, in whatever order the server replies. Pushes (new messages, read
//! marks, go-away notices) arrive at any time and are read with
//! [`Client::next_push`] or [`Client::next_event`].
//!
//! Pushes alone cannot guarantee that a message is shown exactly once and
//! in order (a push can be missed while disconnected, or arrive twice when
//! it races a `sync`). [`SyncState`] tracks what the application has shown
//! and fills gaps with `sync`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), magpie_client::ClientError> {
//! use magpie_client::{Client, Accept, SyncState};
//! use magpie_proto::Push;
//!
//! let mut client = Client::connect("tcp://127.0.0.1:7070").await?;
//! client.login("alice", "correct horse battery", Some("laptop")).await?;
//! let mut state = SyncState::new();
//! for message in state.catch_up(&client).await? {
//!     println!("{}: {}", message.from, message.body);
//! }
//! client.send("bob", "hello").await?;
//! while let Some(push) = client.next_push().await {
//!     if let Push::Message(message) = push {
//!         match state.accept(&message) {
//!             Accept::New => println!("{}: {}", message.from, message.body),
//!             Accept::Duplicate => {}
//!             Accept::Gap => {
//!                 for message in state.catch_up(&client).await? {
//!                     println!("{}: {}", message.from, message.body);
//!                 }
//!             }
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod admin;
pub mod amend;
mod connection;
pub mod conv_settings;
pub mod devices;
pub mod directory;
pub mod drive;
pub mod files;
pub mod groups;
pub mod people;
pub mod presence;
pub mod search;
pub mod sync;
mod transport;
pub mod typing;

pub use drive::{ShareClient, ShareLink};
pub use magpie_proto;
pub use people::CatchUp;
pub use sync::{Accept, SyncState};

use connection::{Command, Connection};
use magpie_proto::{
    Authenticated, ConvCursor, ConvId, Conversation, Conversations, ConversationsOk, ErrorBody,
    ErrorCode, Hello, HelloOk, History, HistoryOk, Login, Push, Read, ReadBy, ReadByOk, ReadMark,
    ReadReceipts, ReadReceiptsOk, Register, Registered, Request, RequestFrame, Resume, Send,
    SendOk, Seq, ServerFrame, Sync, SyncOk,
};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use transport::{Endpoint, Transport};

/// How many requests may wait for the connection task to write them. A
/// small bound keeps a fast caller from queueing unbounded memory when the
/// server (or the network) is slower than it.
///
/// Both channels carry boxed values: tokio allocates channel storage in
/// blocks of 32 slots up front, so small slots keep an idle connection small
/// (the load generator holds 100k+ of them).
const COMMAND_QUEUE: usize = 64;

/// How long [`Client::close`] waits for the connection task to finish.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Tunables for one connection.
///
/// The defaults suit interactive clients; the load generator lowers
/// `request_timeout` and may fix `heartbeat` to spread pings evenly.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long one request (including `hello` and connecting) may take
    /// before it fails with [`ClientError::Timeout`]. Default 30 s.
    pub request_timeout: Duration,
    /// How long the connection may be silent before the client sends a
    /// `ping`. `None` (the default) uses a third of the `idle_timeout_secs`
    /// the server announced in `hello`, so that the server never closes a
    /// healthy idle connection. `Some(Duration::ZERO)` disables heartbeats.
    pub heartbeat: Option<Duration>,
    /// The largest frame the client accepts from the server; a larger one
    /// is a protocol error. Default
    /// [`magpie_proto::frame::DEFAULT_MAX_FRAME_BYTES`].
    pub max_frame_bytes: usize,
    /// Sent in `hello` so server logs can tell clients apart. Default
    /// `magpie-client/<version>`; empty means none.
    pub client_name: String,
    /// Connect from this local address (e.g. one of 127.0.0.0/8, to get
    /// past one address's ephemeral ports under load). Default: any.
    pub bind_ip: Option<std::net::IpAddr>,
    /// Pushes (and uncorrelated errors) buffered until the application
    /// reads them. When the buffer is full the connection is closed, as the
    /// server closes a connection that does not read: memory stays bounded,
    /// and the application catches up with `sync` after reconnecting.
    /// Default 65,536.
    pub push_buffer: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(30),
            heartbeat: None,
            max_frame_bytes: magpie_proto::frame::DEFAULT_MAX_FRAME_BYTES,
            client_name: concat!("magpie-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            bind_ip: None,
            push_buffer: 65_536,
        }
    }
}

/// Everything that can go wrong talking to a server.
///
/// Errors the server answered with keep their stable
/// [`ErrorCode`] (see [`ClientError::code`]) so callers can branch on
/// them, e.g. retry when [`ErrorCode::is_retryable`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered the request with an error.
    #[error("{0}")]
    Server(ErrorBody),
    /// Connecting, reading or writing the socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket handshake or protocol failed.
    #[error("websocket error: {0}")]
    WebSocket(String),
    /// The connection is closed (by either side), so the request could not
    /// be sent or its answer will never come.
    #[error("connection closed")]
    Closed,
    /// No answer within [`ClientOptions::request_timeout`].
    #[error("request timed out")]
    Timeout,
    /// The server sent something that does not follow the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server URL could not be understood.
    #[error("invalid server url: {0}")]
    InvalidUrl(String),
}

impl ClientError {
    /// The server's error code, when the server answered with an error.
    /// Local failures (network, timeout) have none.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(body) => Some(body.code),
            _ => None,
        }
    }

    /// A short stable name for the error: the server's code (e.g.
    /// `"invalid_credentials"`) or one of `"io"`, `"websocket"`, `"closed"`,
    /// `"timeout"`, `"protocol"`, `"invalid_url"`. For logs and for command
    /// line tools that print `error: <code>: <message>`.
    pub fn code_str(&self) -> &'static str {
        match self {
            ClientError::Server(body) => body.code.as_str(),
            ClientError::Io(_) => "io",
            ClientError::WebSocket(_) => "websocket",
            ClientError::Closed => "closed",
            ClientError::Timeout => "timeout",
            ClientError::Protocol(_) => "protocol",
            ClientError::InvalidUrl(_) => "invalid_url",
        }
    }

    /// The error without its code: the server's message, or the local
    /// description. Pairs with [`ClientError::code_str`].
    pub fn message(&self) -> String {
        match self {
            ClientError::Server(body) => body.message.clone(),
            ClientError::Io(e) => e.to_string(),
            ClientError::WebSocket(m) | ClientError::Protocol(m) | ClientError::InvalidUrl(m) => {
                m.clone()
            }
            other => other.to_string(),
        }
    }

    /// Whether the same request may succeed if retried later (on a new
    /// connection for connection-level failures).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Server(body) => body.code.is_retryable(),
            ClientError::Io(_) | ClientError::Closed | ClientError::Timeout => true,
            _ => false,
        }
    }
}

/// Something the server sent that is not the answer to one of our requests.
// Events travel boxed (the push channel holds `Box<Event>`), so the size
// of a message push costs nothing per event kept.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A push: new message, read mark, go-away notice.
    Push(Push),
    /// An error frame that answers no request of ours: `"id": null` (the
    /// server could not read the frame's id) or an id we never sent, as
    /// after [`Client::send_raw`].
    UncorrelatedError(ErrorBody),
    /// The connection is closed; reported once, after every earlier event.
    Closed,
}

/// The pushes of one connection, split off with [`Client::take_pushes`].
#[derive(Debug)]
pub struct PushStream {
    events: mpsc::Receiver<Box<Event>>,
}

impl PushStream {
    /// The next push; `None` once the connection has closed and every push
    /// before has been returned. Uncorrelated errors are logged and skipped.
    pub async fn next_push(&mut self) -> Option<Push> {
        loop {
            if let Some(push) = push_of(*self.events.recv().await?) {
                return Some(push);
            }
        }
    }
}

/// The push in an event, if it is one; uncorrelated errors are logged.
fn push_of(event: Event) -> Option<Push> {
    match event {
        Event::Push(push) => Some(push),
        Event::UncorrelatedError(error) => {
            log_skipped(&error);
            None
        }
        Event::Closed => None,
    }
}

/// One connection to a Magpie server.
///
/// Requests take `&self`, so several may be in flight at once (share the
/// client by reference, or wrap it in an `Arc`). Reading pushes takes
/// `&mut self`: there is one stream of pushes per connection.
///
/// Pushes are buffered until read, up to [`ClientOptions::push_buffer`];
/// an application that falls further behind is disconnected (and catches
/// up with `sync`, see [`SyncState`]).
///
/// Dropping the client closes the connection in the background;
/// [`Client::close`] does the same and waits for it.
pub struct Client {
    commands: mpsc::Sender<Box<Command>>,
    events: mpsc::Receiver<Box<Event>>,
    closed_reported: bool,
    next_id: AtomicU64,
    request_timeout: Duration,
    hello: HelloOk,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.hello.server)
            .field("next_id", &self.next_id)
            .field("closed", &self.commands.is_closed())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connect with default [`ClientOptions`]. See [`Client::connect_with`].
    pub async fn connect(url: &str) -> Result<Client, ClientError> {
        Client::connect_with(url, ClientOptions::default()).await
    }

    /// Connect to `url` and complete the `hello` handshake.
    ///
    /// `url` is `tcp://host:port`, bare `host:port` (TCP), or
    /// `ws://host:port/ws` (a `ws://` URL without a path gets `/ws`).
    /// Connecting and `hello` together must finish within
    /// `options.request_timeout`.
    pub async fn connect_with(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let endpoint = Endpoint::parse(url)?;
        let (transport, hello) =
            tokio::time::timeout(options.request_timeout, handshake(&endpoint, &options))
                .await
                .map_err(|_| ClientError::Timeout)??;
        let heartbeat = options.heartbeat.or_else(|| {
            (hello.idle_timeout_secs > 0).then(|| Duration::from_secs(hello.idle_timeout_secs) / 3)
        });
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let (events_tx, events) = mpsc::channel(options.push_buffer.max(1));
        let connection = Connection::new(
            transport,
            commands_rx,
            events_tx,
            heartbeat,
            options.request_timeout,
        );
        let task = tokio::spawn(connection.run());
        Ok(Client {
            commands,
            events,
            closed_reported: false,
            next_id: AtomicU64::new(HELLO_ID + 1),
            request_timeout: options.request_timeout,
            hello,
            task,
        })
    }

    /// What the server said in answer to `hello`: its version and the limits
    /// it enforces (largest frame and body, idle timeout).
    pub fn server_hello(&self) -> &HelloOk {
        &self.hello
    }

    /// Whether the connection has ended. Requests on a closed client fail
    /// with [`ClientError::Closed`]; buffered pushes can still be read.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }

    /// Create an account. Does not log in.
    pub async fn register(&self, user: &str, password: &str) -> Result<Registered, ClientError> {
        self.call(Request::Register(Register {
            user: user.to_owned(),
            password: password.to_owned(),
        }))
        .await
    }

    /// Log this connection in with a password. The answer carries a session
    /// token that [`Client::resume`] accepts on later connections, so the
    /// password need not be kept. `device` names the session ("laptop").
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<Authenticated, ClientError> {
        self.login_on(user, password, device, None).await
    }

    /// [`Client::login`] naming the device's platform too (the server's
    /// default is `desktop`).
    pub async fn login_on(
        &self,
        user: &str,
        password: &str,
        device: Option<&str>,
        platform: Option<magpie_proto::Platform>,
    ) -> Result<Authenticated, ClientError> {
        self.call(Request::Login(Login {
            user: user.to_owned(),
            password: password.to_owned(),
            device: device.map(str::to_owned),
            platform,
        }))
        .await
    }

    /// Log this connection in with a token from an earlier `login`.
    pub async fn resume(&self, token: &str) -> Result<Authenticated, ClientError> {
        self.call(Request::Resume(Resume {
            token: token.to_owned(),
        }))
        .await
    }

    /// Revoke this connection's session: its token stops working.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.request(Request::Logout).await.map(drop)
    }

    /// Send `body` to user `to` with a fresh random client message id.
    ///
    /// To retry safely after a timeout or a dropped connection, use
    /// [`Client::send_with_cmid`] with the same id instead: the server
    /// stores a `cmid` only once.
    pub async fn send(&self, to: &str, body: &str) -> Result<SendOk, ClientError> {
        let cmid = uuid::Uuid::new_v4().to_string();
        self.send_with_cmid(to, &cmid, body).await
    }

    /// Send `body` to user `to` with the caller's client message id. Sending
    /// the same `cmid` again returns the first ack (`duplicate: true`) and
    /// stores nothing new.
    pub async fn send_with_cmid(
        &self,
        to: &str,
        cmid: &str,
        body: &str,
    ) -> Result<SendOk, ClientError> {
        self.call(Request::Send(Send {
            file: None,
            kind: None,
            to: Some(to.to_owned()),
            conv: None,
            cmid: cmid.to_owned(),
            body: body.to_owned(),
            mention_all: false,
            mentions: Vec::new(),
            reply: None,
        }))
        .await
    }

    /// Send `body` into conversation `conv` (of which the caller is a
    /// member) with a fresh random client message id; to retry safely, use
    /// [`Client::send_in`] with one id.
    pub async fn send_to_conv(&self, conv: ConvId, body: &str) -> Result<SendOk, ClientError> {
        let cmid = uuid::Uuid::new_v4().to_string();
        self.send_in(conv, &cmid, body).await
    }

    /// Send `body` into conversation `conv` (of which the caller is a
    /// member) with the caller's client message id; retries as for
    /// [`Client::send_with_cmid`].
    pub async fn send_in(
        &self,
        conv: ConvId,
        cmid: &str,
        body: &str,
    ) -> Result<SendOk, ClientError> {
        self.call(Request::Send(Send {
            file: None,
            kind: None,
            to: None,
            conv: Some(conv),
            cmid: cmid.to_owned(),
            body: body.to_owned(),
            mention_all: false,
            mentions: Vec::new(),
            reply: None,
        }))
        .await
    }

    /// Send `body` into group `conv` mentioning `users` (usernames) and,
    /// with `all`, everyone (owner and admins only).
    pub async fn send_mentioning(
        &self,
        conv: ConvId,
        body: &str,
        users: &[&str],
        all: bool,
    ) -> Result<SendOk, ClientError> {
        self.call(Request::Send(Send {
            file: None,
            kind: None,
            to: None,
            conv: Some(conv),
            cmid: uuid::Uuid::new_v4().to_string(),
            body: body.to_owned(),
            mentions: users.iter().map(|u| (*u).to_owned()).collect(),
            mention_all: all,
            reply: None,
        }))
        .await
    }

    /// Fetch messages above `cursors` (conversation → highest seq held;
    /// unnamed conversations count as 0), at most `limit` of them. See
    /// [`SyncState::catch_up`] for the loop that uses this.
    pub async fn sync(
        &self,
        cursors: &BTreeMap<ConvId, Seq>,
        limit: Option<u32>,
    ) -> Result<SyncOk, ClientError> {
        self.call(Request::Sync(Sync {
            cursors: cursors.clone(),
            limit,
        }))
        .await
    }

    /// One page of a conversation's history, oldest first within the page.
    pub async fn history(&self, query: History) -> Result<HistoryOk, ClientError> {
        self.call(Request::History(query)).await
    }

    /// Mark conversation `conv` read up to and including `seq`. Returns the
    /// resulting read position, which never moves backwards.
    pub async fn read(&self, conv: ConvId, seq: Seq) -> Result<ReadMark, ClientError> {
        self.call(Request::Read(Read { conv, seq })).await
    }

    /// How many members have read each of the caller's own entries `seqs`
    /// of `conv` (entries the caller did not send are left out).
    pub async fn read_receipts(
        &self,
        conv: ConvId,
        seqs: &[Seq],
    ) -> Result<ReadReceiptsOk, ClientError> {
        self.call(Request::ReadReceipts(ReadReceipts {
            conv,
            seqs: seqs.to_vec(),
        }))
        .await
    }

    /// One page of who has read (or, with `unread`, not read) one of the
    /// caller's own entries.
    pub async fn read_by(&self, query: ReadBy) -> Result<ReadByOk, ClientError> {
        self.call(Request::ReadBy(query)).await
    }

    /// One page of the user's conversations, pinned ones first, then most
    /// recently active first (hidden ones left out); pass the page's
    /// `next` as `after` for the following one.
    pub async fn conversations_page(
        &self,
        after: Option<ConvCursor>,
        limit: Option<u32>,
    ) -> Result<ConversationsOk, ClientError> {
        self.call(Request::Conversations(Conversations { after, limit }))
            .await
    }

    /// All of the user's conversations, pinned ones first, then most
    /// recently active first, page by page.
    pub async fn conversations(&self) -> Result<Vec<Conversation>, ClientError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.conversations_page(after, None).await?;
            all.extend(page.conversations);
            match page.next {
                Some(next) => after = crate::next_cursor(after, next)?,
                None => return Ok(all),
            }
        }
    }

    /// A round trip to the server. The client pings by itself when idle, so
    /// this is only needed to measure latency or check liveness.
    pub async fn ping(&self) -> Result<(), ClientError> {
        self.request(Request::Ping).await.map(drop)
    }

    /// Send any request and return its raw JSON result. The typed methods
    /// are built on this; it is public for operations they do not cover.
    pub async fn request(&self, request: Request) -> Result<Box<RawValue>, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let payload = RequestFrame { id, request }.to_json();
        let (reply, answer) = oneshot::channel();
        let exchange = async {
            self.commands
                .send(Box::new(Command::Request { id, payload, reply }))
                .await
                .map_err(|_| ClientError::Closed)?;
            answer.await.map_err(|_| ClientError::Closed)?
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    /// Write `payload` as one frame exactly as given, bypassing request ids
    /// and JSON encoding: tests use it to check how the server handles bad
    /// input. Over WebSocket it goes as a text message when it is valid
    /// UTF-8, as a binary message otherwise. The server's answer, if any,
    /// surfaces as [`Event::UncorrelatedError`] (or is dropped if it is a
    /// success). Avoid id 0: it is reserved for heartbeats.
    pub async fn send_raw(&self, payload: Vec<u8>) -> Result<(), ClientError> {
        let (done, written) = oneshot::channel();
        let exchange = async {
            self.commands
                .send(Box::new(Command::Raw { payload, done }))
                .await
                .map_err(|_| ClientError::Closed)?;
            written.await.map_err(|_| ClientError::Closed)?
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    /// The next push from the server, waiting for one if none is buffered.
    /// `None` once the connection has closed and every push that arrived
    /// before has been returned. Uncorrelated errors are skipped (use
    /// [`Client::next_event`] to see them).
    pub async fn next_push(&mut self) -> Option<Push> {
        loop {
            if let Some(push) = push_of(*self.events.recv().await?) {
                return Some(push);
            }
        }
    }

    /// Split the push stream off the client, for applications that read
    /// pushes in one task while others send through a shared `Arc<Client>`
    /// (the load generator does). Afterwards this client's own
    /// `next_push`/`next_event` report nothing.
    pub fn take_pushes(&mut self) -> PushStream {
        let (_closed, empty) = mpsc::channel(1);
        self.closed_reported = true;
        PushStream {
            events: std::mem::replace(&mut self.events, empty),
        }
    }

    /// A push that has already arrived, without waiting.
    pub fn try_next_push(&mut self) -> Option<Push> {
        loop {
            if let Some(push) = push_of(*self.events.try_recv().ok()?) {
                return Some(push);
            }
        }
    }

    /// The next push or uncorrelated error, waiting for one. After the
    /// connection closes and everything before has been returned, yields
    /// [`Event::Closed`] once, then `None`.
    pub async fn next_event(&mut self) -> Option<Event> {
        match self.events.recv().await {
            Some(event) => Some(*event),
            None if self.closed_reported => None,
            None => {
                self.closed_reported = true;
                Some(Event::Closed)
            }
        }
    }

    /// Close the connection politely (a TCP FIN or a WebSocket Close frame,
    /// then wait briefly for the server to close its side) and wait for the
    /// background task to finish.
    pub async fn close(self) {
        let Client {
            commands, mut task, ..
        } = self;
        drop(commands);
        if tokio::time::timeout(CLOSE_WAIT, &mut task).await.is_err() {
            // The server stopped reading (our writes cannot drain) and never
            // closed: give up on politeness rather than keep the task alive.
            task.abort();
        }
    }

    /// A request whose result is decoded into `T`.
    async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T, ClientError> {
        let op = request.op_name();
        let raw = self.request(request).await?;
        decode(op, &raw)
    }
}

/// The id of `hello`, always the first request on a connection.
const HELLO_ID: u64 = 1;

/// Open the transport and exchange `hello`, before the connection task
/// exists: nothing else may be sent until the server has accepted it.
async fn handshake(
    endpoint: &Endpoint,
    options: &ClientOptions,
) -> Result<(Transport, HelloOk), ClientError> {
    let mut transport =
        Transport::connect(endpoint, options.max_frame_bytes, options.bind_ip).await?;
    let client = (!options.client_name.is_empty()).then(|| options.client_name.clone());
    let hello = RequestFrame {
        id: HELLO_ID,
        request: Request::Hello(Hello {
            version: magpie_proto::PROTOCOL_VERSION,
            client,
        }),
    };
    transport.send(hello.to_json()).await?;
    loop {
        let payload = transport.recv().await.ok_or(ClientError::Closed)??;
        match ServerFrame::parse(&payload) {
            Ok(ServerFrame::Ok {
                id: HELLO_ID,
                result,
            }) => {
                return Ok((transport, decode("hello", &result)?));
            }
            Ok(ServerFrame::Err {
                id: Some(HELLO_ID) | None,
                error,
            }) => return Err(ClientError::Server(error)),
            Ok(other) => tracing::debug!(?other, "ignoring frame before hello completed"),
            Err(e) => {
                return Err(ClientError::Protocol(format!(
                    "malformed answer to hello: {e}"
                )));
            }
        }
    }
}

/// The cursor for the next page of a list, or a protocol error if the
/// server handed back the cursor just used: following it would loop
/// forever.
fn next_cursor<C: PartialEq>(after: Option<C>, next: C) -> Result<Option<C>, ClientError> {
    if after.as_ref() == Some(&next) {
        Err(ClientError::Protocol(
            "the server repeated a page cursor".into(),
        ))
    } else {
        Ok(Some(next))
    }
}

fn decode<T: DeserializeOwned>(op: &str, raw: &RawValue) -> Result<T, ClientError> {
    serde_json::from_str(raw.get())
        .map_err(|e| ClientError::Protocol(format!("unexpected result for {op}: {e}")))
}

fn log_skipped(error: &ErrorBody) {
    tracing::debug!(%error, "uncorrelated error frame skipped by next_push");
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_repeated_cursor_is_an_error_not_a_loop() {
        assert_eq!(super::next_cursor(None, 5).ok(), Some(Some(5)));
        assert_eq!(super::next_cursor(Some(4), 5).ok(), Some(Some(5)));
        assert!(super::next_cursor(Some(5), 5).is_err());
    }
}
