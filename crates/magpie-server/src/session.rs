//! One client connection: the protocol state machine and its event loop.
//!
//! The loop is written once for both transports: it sees a stream of
//! inbound frames and a sink of outbound frames (see `transport`). One task
//! per connection owns everything about it, so there is no locking on the
//! per-connection path, and the task is small.
//!
//! The loop waits on, in priority order: server shutdown, a kick from the
//! router (too slow, or logged out elsewhere), acks of sends that became
//! durable, pushes queued by the router, the next request, and the idle
//! timer. `send`s are pipelined: the request is queued for the writer and
//! the loop moves on; acks go out in request order as they complete. With
//! `max_inflight_sends` outstanding the loop stops reading, which pushes
//! back on the client instead of buffering without bound.
//!
//! One more timer bounds the session's standing: until it authenticates,
//! it must do so by `auth_timeout` (pings do not extend that); once it
//! has, it ends when its token expires. Limits and rates are checked
//! through `throttle`.

use crate::auth::LoggedIn;
use crate::chat::{self, Actor};
use crate::clock::now_ms;
use crate::metrics::TransportLabel;
use crate::router::{Kick, SessionHandle, SessionId};
use crate::state::AppState;
use crate::throttle::{Peer, SessionTicket};
use bytes::Bytes;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use magpie_proto::response::{encode_error, encode_ok};
use magpie_proto::{
    Authenticated, Empty, ErrorBody, ErrorCode, GoAway, HelloOk, PROTOCOL_VERSION, Push,
    Registered, Request, RequestFrame, SendOk,
};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
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

/// An ack on its way: resolves to the encoded response once the writer has
/// stored the message (or failed to).
type PendingAck = Pin<Box<dyn Future<Output = Bytes> + Send>>;

/// The outcome of handling one request.
enum Handled {
    Reply(Bytes),
    Pending(PendingAck),
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
    /// Cloned into the router's handle when the session logs in.
    tx: mpsc::Sender<Bytes>,
    kick: Arc<Kick>,
    /// The client's address, for per-address limits (`None`: unknown).
    peer_ip: Option<IpAddr>,
    /// Set on login and logout: the deadline timer must be re-armed.
    auth_changed: bool,
}

/// Most frames written before one flush.
const WRITE_BATCH: usize = 64;

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
    let (tx, mut rx) = mpsc::channel(state.config.send_queue);
    let kick = Arc::new(Kick::default());
    let mut session = Session {
        id: state.next_session_id(),
        state: state.clone(),
        said_hello: false,
        authed: None,
        tx,
        kick: kick.clone(),
        peer_ip: peer.ip,
        auth_changed: false,
    };
    let config = &state.config;
    let write_timeout = config.write_timeout;
    let mut pending: FuturesOrdered<PendingAck> = FuturesOrdered::new();
    let idle = tokio::time::sleep(config.idle_timeout);
    tokio::pin!(idle);
    // The authentication deadline, then the token's expiry.
    let deadline = tokio::time::sleep(config.auth_timeout);
    tokio::pin!(deadline);

    let end = loop {
        if std::mem::take(&mut session.auth_changed) {
            deadline.as_mut().reset(session.deadline());
        }
        tokio::select! {
            biased;
            () = state.shutdown.cancelled() => break End::GoAway("shutdown"),
            () = kick.token.cancelled() => {
                break End::GoAway(kick.reason().map_or("kicked", |r| r.as_str()));
            }
            Some(ack) = pending.next(), if !pending.is_empty() => {
                if write_ready(&mut io, ack, &mut pending, &mut rx, write_timeout).await.is_err() {
                    break End::Gone;
                }
            }
            Some(frame) = rx.recv() => {
                if write_ready(&mut io, frame, &mut pending, &mut rx, write_timeout).await.is_err() {
                    break End::Gone;
                }
            }
            item = io.next(), if pending.len() < config.max_inflight_sends => {
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
                        idle.as_mut().reset(tokio::time::Instant::now() + config.idle_timeout);
                        match inbound {
                            Inbound::Activity => continue,
                            Inbound::Reject(error) => encode_error(None, &error),
                            Inbound::Frame(payload) => match session.handle(&payload).await {
                                Handled::Reply(reply) => reply,
                                Handled::Pending(ack) => {
                                    pending.push_back(ack);
                                    continue;
                                }
                            },
                        }
                    }
                };
                if write(&mut io, reply, write_timeout).await.is_err() {
                    break End::Gone;
                }
            }
            () = &mut idle => break End::GoAway("idle"),
            () = &mut deadline => {
                let reason = if session.authed.is_some() { "token_expired" } else { "auth_timeout" };
                state.throttle.count(reason);
                break End::GoAway(reason);
            }
        }
    };

    session.logged_out();
    if let End::GoAway(reason) = end {
        // Sends already queued will be stored; give their acks a chance to
        // go out so the client need not retry them.
        let finish = async {
            while let Some(ack) = pending.next().await {
                write(&mut io, ack, write_timeout).await?;
            }
            let goaway = Push::Goaway(GoAway {
                reason: reason.to_string(),
                reconnect_after_ms: if reason == "shutdown" { 1000 } else { 0 },
            });
            write(&mut io, goaway.encode(), write_timeout).await
        };
        let _ = tokio::time::timeout(config.shutdown_grace, finish).await;
    }
    let _ = tokio::time::timeout(write_timeout, io.close()).await;
    gauge.dec();
    drop(peer);
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

/// Write `first` and whatever else is ready behind it (acks first, then
/// queued pushes, the loop's priority order), up to [`WRITE_BATCH`]
/// frames, with one flush for all of them. A commit answers many sends of
/// one connection at once; one flush makes that one write syscall instead
/// of one per ack.
async fn write_ready<T>(
    io: &mut T,
    first: Bytes,
    pending: &mut FuturesOrdered<PendingAck>,
    rx: &mut mpsc::Receiver<Bytes>,
    timeout: Duration,
) -> Result<(), ()>
where
    T: Sink<Bytes, Error = TransportError> + Unpin,
{
    let work = async {
        io.feed(first).await?;
        for _ in 1..WRITE_BATCH {
            let ready_ack = if pending.is_empty() {
                None
            } else {
                pending.next().now_or_never().flatten()
            };
            let next = match ready_ack {
                Some(ack) => ack,
                None => match rx.try_recv() {
                    Ok(frame) => frame,
                    Err(_) => break,
                },
            };
            io.feed(next).await?;
        }
        io.flush().await
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

impl Session {
    /// Parse and answer one request.
    async fn handle(&mut self, payload: &[u8]) -> Handled {
        let frame = match RequestFrame::parse(payload) {
            Ok(frame) => frame,
            Err(e) => return Handled::Reply(encode_error(e.id, &e.body)),
        };
        let id = frame.id;
        match self.dispatch(id, frame.request).await {
            Ok(handled) => handled,
            Err(error) => Handled::Reply(encode_error(Some(id), &error)),
        }
    }

    async fn dispatch(&mut self, id: u64, request: Request) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let reply = |bytes| Ok(Handled::Reply(bytes));
        if !self.said_hello && !matches!(request, Request::Hello(_)) {
            return Err(ErrorBody::new(
                ErrorCode::HelloRequired,
                "the first request must be hello",
            ));
        }
        state.throttle.check_request(self.peer_ip, &request)?;
        match request {
            Request::Hello(hello) => {
                if hello.version != PROTOCOL_VERSION {
                    return Err(ErrorBody::new(
                        ErrorCode::UnsupportedVersion,
                        format!("this server speaks protocol version {PROTOCOL_VERSION}"),
                    ));
                }
                self.said_hello = true;
                let config = &state.config;
                reply(encode_ok(
                    id,
                    &HelloOk {
                        version: PROTOCOL_VERSION,
                        server: concat!("magpie/", env!("CARGO_PKG_VERSION")).to_string(),
                        max_frame_bytes: config.max_frame_bytes as u64,
                        max_body_bytes: config.max_body_bytes as u64,
                        idle_timeout_secs: config.idle_timeout.as_secs(),
                    },
                ))
            }
            Request::Ping => reply(encode_ok(id, &Empty {})),
            Request::Register(r) => {
                self.require_anonymous()?;
                let (user_id, user) = state.auth.register(&r.user, &r.password).await?;
                reply(encode_ok(id, &Registered { user_id, user }))
            }
            Request::Login(l) => {
                self.require_anonymous()?;
                let result = state
                    .auth
                    .login(&l.user, &l.password, l.device.as_deref())
                    .await;
                reply(encode_ok(id, &self.logged_in(result)?))
            }
            Request::Resume(r) => {
                self.require_anonymous()?;
                let result = state.auth.resume(&r.token).await;
                reply(encode_ok(id, &self.logged_in(result)?))
            }
            Request::Logout => {
                let authed = self.authed()?;
                state.auth.logout(&authed.token_hash).await?;
                let tag = token_tag(&authed.token_hash);
                state
                    .router
                    .kick_token(authed.actor.user_id, tag, Some(self.id));
                self.logged_out();
                reply(encode_ok(id, &Empty {}))
            }
            Request::Send(send) => {
                let actor = self.authed()?.actor.clone();
                state.throttle.check_send(actor.user_id)?;
                let received = Instant::now();
                let rx = chat::send(&state, &actor, send, now_ms()).await?;
                let metrics = state.metrics.clone();
                Ok(Handled::Pending(Box::pin(async move {
                    let frame = match rx.await {
                        Ok(Ok(a)) => encode_ok(
                            id,
                            &SendOk {
                                msg_id: a.msg_id,
                                conv: a.conv,
                                seq: a.seq,
                                ts: a.ts,
                                duplicate: a.duplicate,
                            },
                        ),
                        Ok(Err(error)) => encode_error(Some(id), &error),
                        Err(_) => encode_error(
                            Some(id),
                            &ErrorBody::new(ErrorCode::ShuttingDown, "server is shutting down"),
                        ),
                    };
                    metrics
                        .send_ack_seconds
                        .observe(received.elapsed().as_secs_f64());
                    frame
                })))
            }
            Request::Sync(req) => {
                let result = chat::sync(&state, &self.authed()?.actor, req).await?;
                reply(encode_ok(id, &result))
            }
            Request::History(req) => {
                let result = chat::history(&state, &self.authed()?.actor, req).await?;
                reply(encode_ok(id, &result))
            }
            Request::Read(req) => {
                let actor = &self.authed()?.actor;
                let mark = chat::read(&state, actor, req.conv, req.seq).await?;
                // Keep the user's other devices' unread counts in step.
                let push = Push::Read(mark.clone()).encode();
                state.router.deliver(&[actor.user_id], &push, Some(self.id));
                reply(encode_ok(id, &mark))
            }
            Request::Conversations => {
                let conversations = chat::conversations(&state, &self.authed()?.actor).await?;
                reply(encode_ok(
                    id,
                    &magpie_proto::ConversationsOk { conversations },
                ))
            }
        }
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

    /// Finish a login or resume: count it, and on success register the
    /// connection with the router so pushes start flowing.
    fn logged_in(
        &mut self,
        result: Result<LoggedIn, ErrorBody>,
    ) -> Result<Authenticated, ErrorBody> {
        let metrics = &self.state.metrics;
        let login = result.inspect_err(|_| {
            metrics.login_failures.inc();
        })?;
        let ticket = self
            .state
            .throttle
            .admit_session(
                login.user_id,
                login.token_hash,
                login.expires_at,
                self.id,
                self.kick.clone(),
            )
            .inspect_err(|_| {
                // Nobody will ever hold the token this login just created.
                if login.token.is_some() {
                    let (state, hash) = (self.state.clone(), login.token_hash);
                    tokio::spawn(async move { state.auth.logout(&hash).await });
                }
            })?;
        metrics.logins.inc();
        let actor = Actor {
            user_id: login.user_id,
            username: login.username.clone(),
            session: self.id,
        };
        self.state.router.session_opened(
            actor.user_id,
            SessionHandle {
                id: self.id,
                token_tag: token_tag(&login.token_hash),
                tx: self.tx.clone(),
                kick: self.kick.clone(),
            },
        );
        self.authed = Some(Authed {
            actor,
            token_hash: login.token_hash,
            ticket,
        });
        self.auth_changed = true;
        Ok(Authenticated {
            user_id: login.user_id,
            user: login.username,
            token: login.token,
            expires_at: login.expires_at,
        })
    }

    /// Stop receiving pushes (logout or end of connection).
    fn logged_out(&mut self) {
        if let Some(authed) = self.authed.take() {
            self.state
                .router
                .session_closed(authed.actor.user_id, self.id);
            self.auth_changed = true;
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

/// A short tag for a token hash, enough to tell a user's tokens apart.
fn token_tag(hash: &[u8; 32]) -> u64 {
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(tag)
}
