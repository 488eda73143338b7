//! One client connection: the protocol state machine and its event loop.
//!
//! The loop is written once for both transports: it sees a stream of
//! inbound frames and a sink of outbound frames (see `transport`). One task
//! per connection owns everything about it, so there is no locking on the
//! per-connection path, and the task is small.
//!
//! The loop never waits on its own requests. Requests that change the
//! session (`hello`, `login`, `logout`, ...) and `ping` are answered at
//! once; every other request becomes a future the loop polls beside
//! everything else: `send`s in request order (their acks leave in that
//! order), the rest (`sync`, `history`, `conversations`, `read`) in
//! whatever order they finish. Meanwhile the loop keeps writing pushes and
//! keeps seeing kicks and shutdown, so a slow `sync` never makes its
//! connection look like a slow consumer. Each kind has a window
//! (`max_inflight_sends`, `max_inflight_queries`); with a window full the
//! loop stops reading, which pushes back on the client instead of
//! buffering without bound.
//!
//! The loop waits on, in priority order: server shutdown, a kick from the
//! router (too slow, or logged out elsewhere), acks, other answers, pushes
//! queued by the router, the next request, and the idle timer.
//!
//! One more timer bounds the session's standing: until it authenticates,
//! it must do so by `auth_timeout` (pings do not extend that); once it
//! has, it ends when its token expires. Limits and rates are checked
//! through `throttle`.

mod accounts;
mod admin;
mod amend;
mod conv_settings;
mod conversations;
mod devices;
mod directory;
mod drive;
mod files;
mod groups;
mod messages;
mod people;
mod search;
mod typing;

use crate::clock::now_ms;
use crate::messages::Actor;
use crate::metrics::TransportLabel;
use crate::router::{Kick, Outbox, SessionId};
use crate::state::AppState;
use crate::throttle::{Peer, SessionTicket};
use bytes::Bytes;
use futures::stream::{FuturesOrdered, FuturesUnordered};
use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use magpie_proto::response::{encode_error, encode_ok};
use magpie_proto::{
    Empty, ErrorBody, ErrorCode, GoAway, Hello, HelloOk, PROTOCOL_VERSION, Push, Request,
    RequestFrame,
};
use serde::Serialize;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What a transport hands the session.
#[derive(Debug)]
pub enum Inbound {
    /// One frame's payload, to be parsed as a request.
    Frame(Bytes),
    /// Something the transport could not accept (e.g. a binary WebSocket
    /// message); answered with this error, and the connection stays open.
    Reject(ErrorBody),
    /// Transport-level traffic (WebSocket ping/pong): proves the client is
    /// alive, nothing to answer.
    Activity,
}

/// Transport failures. Any of them ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("frame too large")]
    TooLarge,
    #[error("{0}")]
    Io(String),
}

// Conversions rather than `sink_map_err` closures: a `MapErr` sink panics
// when it fails a second time (its closure is spent), and a broken
// connection's sink does fail again when it is closed.
impl From<std::io::Error> for TransportError {
    fn from(e: std::io::Error) -> Self {
        TransportError::Io(e.to_string())
    }
}

impl From<axum::Error> for TransportError {
    fn from(e: axum::Error) -> Self {
        TransportError::Io(e.to_string())
    }
}

/// An answer on its way: resolves to the encoded response once the work
/// behind it is done.
type Answer = Pin<Box<dyn Future<Output = Bytes> + Send>>;

/// The outcome of handling one request.
enum Handled {
    /// Answered at once.
    Reply(Bytes),
    /// A `send`: its ack goes out in request order.
    Ack(Answer),
    /// Anything else that waits on storage: answered when done.
    Query(Answer),
}

/// Why the loop ended.
enum End {
    /// The client closed or the connection broke: nobody to tell.
    Gone,
    /// We close it: tell the client why first.
    GoAway(&'static str),
    /// A fatal protocol error was already answered.
    Closed,
}

/// The logged-in part of a session.
#[derive(Debug)]
struct Authed {
    actor: Actor,
    token_hash: [u8; 32],
    /// The user's session slot and the token's registration for the
    /// revocation sweep; released with this.
    ticket: SessionTicket,
}

struct Session {
    state: Arc<AppState>,
    id: SessionId,
    said_hello: bool,
    authed: Option<Authed>,
    /// Registered with the router when the session logs in.
    outbox: Arc<Outbox>,
    kick: Arc<Kick>,
    /// The client's address, for per-address limits (`None`: unknown).
    peer_ip: Option<IpAddr>,
    /// Set on login and logout: the deadline timer must be re-armed.
    auth_changed: bool,
}

/// Most frames written before one flush.
const WRITE_BATCH: usize = 64;

/// Everything the loop is waiting to answer.
#[derive(Default)]
struct InFlight {
    acks: FuturesOrdered<Answer>,
    queries: FuturesUnordered<Answer>,
}

impl InFlight {
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn len(&self) -> usize {
        self.acks.len() + self.queries.len()
    }

    /// An answer that is ready now, acks first.
    fn ready(&mut self) -> Option<Bytes> {
        if !self.acks.is_empty()
            && let Some(ack) = self.acks.next().now_or_never().flatten()
        {
            return Some(ack);
        }
        if self.queries.is_empty() {
            return None;
        }
        self.queries.next().now_or_never().flatten()
    }

    /// Every answer, as each is done (at the end of a connection).
    async fn all(&mut self) -> Option<Bytes> {
        if let Some(ack) = self.acks.next().await {
            return Some(ack);
        }
        self.queries.next().await
    }
}

/// Run one connection to its end.
///
/// `peer` is the connection's place in the connection counts, held until
/// the end.
pub async fn serve<T>(state: Arc<AppState>, mut io: T, transport: &'static str, peer: Peer)
where
    T: Stream<Item = Result<Inbound, TransportError>> + Sink<Bytes, Error = TransportError> + Unpin,
{
    let gauge = state
        .metrics
        .connections
        .get_or_create(&TransportLabel { transport })
        .clone();
    gauge.inc();
    let _counted = Counted(gauge);
    let config = &state.config;
    let (outbox, rx) = Outbox::new(
        config.send_queue,
        config.max_queue_bytes,
        state.queue_budget.clone(),
    );
    let mut queue = PushQueue {
        rx,
        outbox: outbox.clone(),
    };
    let kick = Arc::new(Kick::default());
    let mut session = Session {
        id: state.next_session_id(),
        state: state.clone(),
        said_hello: false,
        authed: None,
        outbox: outbox.clone(),
        kick: kick.clone(),
        peer_ip: peer.ip,
        auth_changed: false,
    };
    let write_timeout = config.write_timeout;
    let mut inflight = InFlight::default();
    let idle = tokio::time::sleep(config.idle_timeout);
    tokio::pin!(idle);
    let idle_deadline = || tokio::time::Instant::now() + config.idle_timeout;
    // The authentication deadline, then the token's expiry.
    let deadline = tokio::time::sleep(config.auth_timeout);
    tokio::pin!(deadline);

    let end = loop {
        if std::mem::take(&mut session.auth_changed) {
            deadline.as_mut().reset(session.deadline());
        }
        let reading = inflight.acks.len() < config.max_inflight_sends
            && inflight.queries.len() < config.max_inflight_queries;
        tokio::select! {
            biased;
            () = state.shutdown.cancelled() => break End::GoAway("shutdown"),
            () = kick.token.cancelled() => {
                break End::GoAway(kick.reason().map_or("kicked", |r| r.as_str()));
            }
            Some(ack) = inflight.acks.next(), if !inflight.acks.is_empty() => {
                if let Err(end) = write_ready(&mut io, ack, 0, &mut inflight, &mut queue, &kick, write_timeout).await {
                    break end;
                }
                // The idle clock restarts when an answer goes out, not
                // only when a request comes in (PROTOCOL.md 4.2).
                idle.as_mut().reset(idle_deadline());
            }
            Some(answer) = inflight.queries.next(), if !inflight.queries.is_empty() => {
                if let Err(end) = write_ready(&mut io, answer, 0, &mut inflight, &mut queue, &kick, write_timeout).await {
                    break end;
                }
                idle.as_mut().reset(idle_deadline());
            }
            Some(frame) = queue.rx.recv() => {
                let pushed = frame.len();
                let owed = inflight.len();
                if let Err(end) = write_ready(&mut io, frame, pushed, &mut inflight, &mut queue, &kick, write_timeout).await {
                    break end;
                }
                // Acks may have gone out behind the push; pushes alone do
                // not count as activity.
                if inflight.len() < owed {
                    idle.as_mut().reset(idle_deadline());
                }
            }
            item = io.next(), if reading => {
                let reply = match item {
                    None | Some(Err(TransportError::Io(_))) => break End::Gone,
                    Some(Err(TransportError::TooLarge)) => {
                        let error = ErrorBody::new(
                            ErrorCode::FrameTooLarge,
                            format!("frames are limited to {} bytes", config.max_frame_bytes),
                        );
                        let _ = write(&mut io, encode_error(None, &error), write_timeout).await;
                        break End::Closed;
                    }
                    Some(Ok(inbound)) => {
                        idle.as_mut().reset(idle_deadline());
                        match inbound {
                            Inbound::Activity => continue,
                            Inbound::Reject(error) => encode_error(None, &error),
                            Inbound::Frame(payload) => match session.handle(&payload).await {
                                Handled::Reply(reply) => reply,
                                Handled::Ack(ack) => {
                                    inflight.acks.push_back(ack);
                                    continue;
                                }
                                Handled::Query(answer) => {
                                    inflight.queries.push(answer);
                                    continue;
                                }
                            },
                        }
                    }
                };
                if write(&mut io, reply, write_timeout).await.is_err() {
                    break End::Gone;
                }
                // A slow answer must not use up the client's idle time.
                idle.as_mut().reset(idle_deadline());
            }
            // A client waiting for answers is not idle, even if the server
            // has stopped reading it (its pings wait behind a full window).
            () = &mut idle, if inflight.is_empty() => break End::GoAway("idle"),
            () = &mut deadline => {
                let reason = if session.authed.is_some() { "token_expired" } else { "auth_timeout" };
                state.throttle.count(reason);
                break End::GoAway(reason);
            }
        }
    };

    session.logged_out();
    // Pushes still queued will never be written (a goaway is all that
    // follows): give their bytes back to the budget now, not after the
    // goodbye, which may wait on a client that does not read.
    queue.release_all();
    if let End::GoAway(reason) = end {
        // Work already accepted will finish: answer it, so the client need
        // not retry it, then say goodbye and linger (see `linger`).
        let finish = async {
            while let Some(answer) = inflight.all().await {
                write(&mut io, answer, write_timeout).await?;
            }
            let goaway = Push::Goaway(GoAway {
                reason: reason.to_string(),
                reconnect_after_ms: if reason == "shutdown" { 1000 } else { 0 },
            });
            write(&mut io, goaway.encode(), write_timeout).await?;
            linger(&mut io).await;
            Ok::<(), ()>(())
        };
        let _ = tokio::time::timeout(config.shutdown_grace, finish).await;
    }
    let _ = tokio::time::timeout(write_timeout, io.close()).await;
    drop(peer);
}

/// The receiving end of the connection's outbox.
struct PushQueue {
    rx: mpsc::Receiver<Bytes>,
    outbox: Arc<Outbox>,
}

impl PushQueue {
    /// Stop taking pushes and give back the bytes of those still queued.
    fn release_all(&mut self) {
        self.rx.close();
        while let Ok(frame) = self.rx.try_recv() {
            self.outbox.release(frame.len());
        }
    }
}

/// Counts a connection in the `magpie_connections` gauge for as long as it
/// lives, however its task ends.
struct Counted(prometheus_client::metrics::gauge::Gauge);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Close our side and read until the client closes its own, discarding
/// what it still sends. Closing a socket that has unread input makes the
/// kernel reset the connection, and a reset can destroy answers the client
/// has not read yet: a busy client pipelining sends when the server shuts
/// down would lose the acks of messages that were stored. The caller
/// bounds how long this waits.
async fn linger<T>(io: &mut T)
where
    T: Stream<Item = Result<Inbound, TransportError>> + Sink<Bytes, Error = TransportError> + Unpin,
{
    if io.close().await.is_err() {
        return;
    }
    while let Some(Ok(_)) = io.next().await {}
}

/// Write one frame and flush it.
async fn write<T>(io: &mut T, frame: Bytes, timeout: Duration) -> Result<(), ()>
where
    T: Sink<Bytes, Error = TransportError> + Unpin,
{
    match tokio::time::timeout(timeout, io.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Write `first` and whatever else is ready behind it (acks, other
/// answers, then queued pushes: the loop's priority order), up to
/// [`WRITE_BATCH`] frames, with one flush for all of them. A commit answers
/// many sends of one connection at once; one flush makes that one write
/// syscall instead of one per ack. Pushes taken from the queue have their
/// bytes released once written; `pushed_bytes` counts `first` if it is one.
async fn write_ready<T>(
    io: &mut T,
    first: Bytes,
    mut pushed_bytes: usize,
    inflight: &mut InFlight,
    queue: &mut PushQueue,
    kick: &Kick,
    timeout: Duration,
) -> Result<(), End>
where
    T: Sink<Bytes, Error = TransportError> + Unpin,
{
    let work = async {
        io.feed(first).await?;
        for _ in 1..WRITE_BATCH {
            let next = match inflight.ready() {
                Some(answer) => answer,
                None => match queue.rx.try_recv() {
                    Ok(frame) => {
                        pushed_bytes += frame.len();
                        frame
                    }
                    Err(_) => break,
                },
            };
            io.feed(next).await?;
        }
        io.flush().await
    };
    // A kicked connection (a slow consumer) stops writing at once rather
    // than after the write timeout; its queue is released as it ends.
    let result = tokio::select! {
        result = tokio::time::timeout(timeout, work) => result.ok(),
        () = kick.token.cancelled() => {
            queue.outbox.release(pushed_bytes);
            return Err(End::GoAway(kick.reason().map_or("kicked", |r| r.as_str())));
        }
    };
    queue.outbox.release(pushed_bytes);
    match result {
        Some(Ok(())) => Ok(()),
        _ => Err(End::Gone),
    }
}

/// The answer to a request, once `work` is done.
/// A result as a JSON value, for the areas whose operations answer with
/// different types from one `match`.
fn to_value<T: Serialize>(value: T) -> Result<serde_json::Value, ErrorBody> {
    serde_json::to_value(value)
        .map_err(|_| ErrorBody::new(ErrorCode::Internal, "could not encode the answer"))
}

fn answer<T, F>(id: u64, work: F) -> Answer
where
    T: Serialize,
    F: Future<Output = Result<T, ErrorBody>> + Send + 'static,
{
    Box::pin(async move {
        match work.await {
            Ok(result) => encode_ok(id, &result),
            Err(error) => encode_error(Some(id), &error),
        }
    })
}

impl Session {
    /// Parse and answer one request.
    async fn handle(&mut self, payload: &[u8]) -> Handled {
        let frame = match RequestFrame::parse(payload) {
            Ok(frame) => frame,
            // Before hello, a well-formed request for anything else gets
            // hello_required, whatever is wrong with its op or args: the
            // client's mistake is the missing hello (PROTOCOL.md 4.1).
            Err(e) if !self.said_hello && e.op.as_deref().is_some_and(|op| op != "hello") => {
                let error =
                    ErrorBody::new(ErrorCode::HelloRequired, "the first request must be hello");
                return Handled::Reply(encode_error(e.id, &error));
            }
            Err(e) => return Handled::Reply(encode_error(e.id, &e.body)),
        };
        let id = frame.id;
        match self.dispatch(id, frame.request).await {
            Ok(handled) => handled,
            Err(error) => Handled::Reply(encode_error(Some(id), &error)),
        }
    }

    async fn dispatch(&mut self, id: u64, request: Request) -> Result<Handled, ErrorBody> {
        if !self.said_hello && !matches!(request, Request::Hello(_)) {
            return Err(ErrorBody::new(
                ErrorCode::HelloRequired,
                "the first request must be hello",
            ));
        }
        self.state.throttle.check_request(self.peer_ip, &request)?;
        match request {
            Request::Hello(hello) => self.hello(id, hello),
            Request::Ping => Ok(Handled::Reply(encode_ok(id, &Empty {}))),
            Request::Register(r) => self.register(id, r).await,
            Request::Login(l) => self.login(id, l).await,
            Request::Resume(r) => self.resume(id, r).await,
            Request::Logout => self.logout(id).await,
            Request::Send(send) => self.send(id, send).await,
            Request::Sync(req) => self.sync(id, req),
            Request::History(req) => self.history(id, req),
            Request::Read(req) => self.read(id, req).await,
            Request::ReadReceipts(req) => self.read_receipts(id, req),
            Request::ReadBy(req) => self.read_by(id, req),
            Request::Conversations(req) => self.conversations(id, req),
            Request::ConvSet(req) => self.conv_set(id, req),
            Request::ConvSettings(req) => self.conv_settings(id, req),
            Request::Typing(req) => self.typing(id, req),
            amend @ (Request::Recall(_)
            | Request::Edit(_)
            | Request::React(_)
            | Request::Forward(_)) => self.amend(id, amend),
            Request::Changes(req) => self.changes(id, req),
            Request::MessageSearch(req) => self.message_search(id, req),
            Request::Files(req) => self.files(id, req),
            Request::FileInfo(req) => self.file_info(id, req),
            Request::FileDelete(req) => self.file_delete(id, req),
            Request::FileUrl(req) => self.file_url(id, req),
            Request::GroupFiles(req) => self.group_files(id, req),
            Request::GroupFileDelete(req) => self.group_file_delete(id, req),
            Request::AvatarSet(req) => self.avatar_set(id, req),
            Request::Devices => self.devices(id),
            Request::DeviceRevoke(req) => self.device_revoke(id, req),
            Request::Directory => self.directory(id),
            Request::DeptMembers(req) => self.dept_members(id, req),
            // Administration dispatches its own operations.
            groups @ (Request::GroupCreate(_)
            | Request::GroupInfo(_)
            | Request::GroupMembers(_)
            | Request::Groups(_)
            | Request::GroupInvite(_)
            | Request::GroupJoin(_)
            | Request::GroupRequests(_)
            | Request::GroupApprove(_)
            | Request::GroupReject(_)
            | Request::GroupLeave(_)
            | Request::GroupRemove(_)
            | Request::GroupRole(_)
            | Request::GroupTransfer(_)
            | Request::GroupMute(_)
            | Request::GroupMuteAll(_)
            | Request::GroupNickname(_)
            | Request::GroupSet(_)
            | Request::GroupDissolve(_)) => self.groups(id, groups),
            admin @ (Request::AdminUserCreate(_)
            | Request::AdminUsers(_)
            | Request::AdminUser(_)
            | Request::AdminUserSet(_)
            | Request::DeptCreate(_)
            | Request::DeptUpdate(_)
            | Request::DeptDelete(_)
            | Request::AdminQuotaSet(_)
            | Request::AdminGroups(_)
            | Request::AdminGroupDissolve(_)
            | Request::AdminStats) => self.admin(id, admin),
            // The drive dispatches its own operations.
            drive @ (Request::DriveList(_)
            | Request::DriveInfo(_)
            | Request::DriveMkdir(_)
            | Request::DrivePut(_)
            | Request::DriveRename(_)
            | Request::DriveMove(_)
            | Request::DriveDelete(_)
            | Request::DriveBin(_)
            | Request::DriveRestore(_)
            | Request::DrivePurge(_)
            | Request::DriveSearch(_)
            | Request::DriveRecent(_)
            | Request::DriveQuota
            | Request::DriveShare(_)
            | Request::DriveShares(_)
            | Request::DriveUnshare(_)
            | Request::DriveSave(_)) => self.drive(id, drive),
            // The people area dispatches its own operations.
            people @ (Request::Profile(_)
            | Request::ProfileSet(_)
            | Request::Search(_)
            | Request::FriendRequest(_)
            | Request::FriendAccept(_)
            | Request::FriendReject(_)
            | Request::FriendCancel(_)
            | Request::FriendRemove(_)
            | Request::FriendSet(_)
            | Request::Friends(_)
            | Request::FriendRequests
            | Request::CategoryCreate(_)
            | Request::CategoryRename(_)
            | Request::CategoryDelete(_)
            | Request::Block(_)
            | Request::Unblock(_)
            | Request::Blocks(_)
            | Request::PresenceSet(_)) => self.people(id, people),
        }
    }

    /// `hello`: the protocol handshake, the one request allowed first.
    fn hello(&mut self, id: u64, hello: Hello) -> Result<Handled, ErrorBody> {
        if hello.version != PROTOCOL_VERSION {
            return Err(ErrorBody::new(
                ErrorCode::UnsupportedVersion,
                format!("this server speaks protocol version {PROTOCOL_VERSION}"),
            ));
        }
        self.said_hello = true;
        let config = &self.state.config;
        Ok(Handled::Reply(encode_ok(
            id,
            &HelloOk {
                version: PROTOCOL_VERSION,
                server: concat!("magpie/", env!("CARGO_PKG_VERSION")).to_string(),
                max_frame_bytes: config.max_frame_bytes as u64,
                max_body_bytes: config.max_body_bytes as u64,
                idle_timeout_secs: config.idle_timeout.as_secs(),
            },
        )))
    }

    fn authed(&self) -> Result<&Authed, ErrorBody> {
        self.authed
            .as_ref()
            .ok_or_else(|| ErrorBody::new(ErrorCode::NotAuthenticated, "log in first"))
    }

    fn require_anonymous(&self) -> Result<(), ErrorBody> {
        match self.authed {
            None => Ok(()),
            Some(_) => Err(ErrorBody::new(
                ErrorCode::AlreadyAuthenticated,
                "this connection is already logged in",
            )),
        }
    }

    /// When the deadline timer fires next: the token's expiry once
    /// authenticated, else `auth_timeout` from now (after a logout the
    /// connection gets a fresh allowance to log in again).
    fn deadline(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        match &self.authed {
            Some(authed) => {
                let left = authed.ticket.expires_at.saturating_sub(now_ms()).max(0);
                now + Duration::from_millis(left.unsigned_abs())
            }
            None => now + self.state.config.auth_timeout,
        }
    }
}
