//! The background task that owns one connection's socket.
//!
//! Exactly one task per connection reads frames, writes requests and sends
//! heartbeats. Because the task alone owns the socket and the table of
//! requests awaiting an answer, no lock is needed anywhere: callers hand it
//! a request together with a `oneshot` sender over an mpsc channel, and the
//! task completes that sender when the response with the same id arrives.

use crate::transport::Transport;
use crate::{ClientError, Event};
use magpie_proto::{Request, RequestFrame, ServerFrame};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Request id used for heartbeat pings. Caller requests count up from 1, so
/// 0 never collides with them, and the task recognises the answers to its
/// own pings without sharing the id counter.
pub(crate) const HEARTBEAT_ID: u64 = 0;

/// How many queued commands one wake-up writes before flushing. Bounds the
/// write buffer while still batching bursts into few syscalls.
const MAX_BATCH: usize = 32;

/// Above this many outstanding requests, entries whose caller has gone away
/// (timed out or cancelled) are swept from the table.
const SWEEP_AT: usize = 1024;

/// How long a polite close waits for the server to finish its side.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Where the response to one request goes.
pub(crate) type Reply = oneshot::Sender<Result<Box<RawValue>, ClientError>>;

/// What a [`crate::Client`] asks its connection task to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write a request frame and route the response with `id` to `reply`.
    Request {
        id: u64,
        payload: Vec<u8>,
        reply: Reply,
    },
    /// Write an arbitrary payload as one frame; report when it is queued.
    Raw {
        payload: Vec<u8>,
        done: oneshot::Sender<Result<(), ClientError>>,
    },
}

/// What woke the task up on the socket side; at least one field is set.
/// Both are polled on every wake-up so that neither a stream of incoming
/// pushes nor a stream of outgoing requests can starve the other.
struct Io {
    /// The pending writes were flushed (or flushing failed).
    flushed: Option<Result<(), ClientError>>,
    /// A frame arrived (`Some(None)`: the server closed the connection).
    frame: Option<Option<Result<bytes::Bytes, ClientError>>>,
}

/// The state owned by the connection task.
#[derive(Debug)]
pub(crate) struct Connection {
    transport: Transport,
    commands: mpsc::Receiver<Box<Command>>,
    events: mpsc::Sender<Box<Event>>,
    pending: HashMap<u64, Reply>,
    heartbeat: Option<Interval>,
    /// When the oldest unanswered heartbeat ping was sent.
    ping_outstanding: Option<Instant>,
    /// A heartbeat unanswered for this long means the server is gone.
    dead_after: Duration,
    /// Bytes have been queued on the transport but not yet flushed.
    dirty: bool,
    /// The application left the push buffer full (see
    /// [`crate::ClientOptions::push_buffer`]).
    overflowed: bool,
}

impl Connection {
    pub(crate) fn new(
        transport: Transport,
        commands: mpsc::Receiver<Box<Command>>,
        events: mpsc::Sender<Box<Event>>,
        heartbeat: Option<Duration>,
        request_timeout: Duration,
    ) -> Connection {
        let heartbeat = heartbeat.filter(|p| !p.is_zero()).map(|period| {
            let mut interval = tokio::time::interval_at(Instant::now() + period, period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        let period = heartbeat.as_ref().map(Interval::period).unwrap_or_default();
        Connection {
            transport,
            commands,
            events,
            pending: HashMap::new(),
            heartbeat,
            ping_outstanding: None,
            dead_after: request_timeout.max(period),
            dirty: false,
            overflowed: false,
        }
    }

    /// Serve the connection until it ends, then fail whatever is still
    /// waiting. Dropping `events` afterwards tells the client it is closed.
    pub(crate) async fn run(mut self) {
        let reason = self.serve().await;
        tracing::debug!(%reason, pending = self.pending.len(), "connection ended");
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(ClientError::Closed));
        }
    }

    async fn serve(&mut self) -> ClientError {
        loop {
            tokio::select! {
                // Order matters under load: a due heartbeat first, then our
                // own requests (each one disables this branch until it is
                // flushed), then the socket, so that a flood of pushes
                // cannot starve requests.
                biased;
                () = tick(&mut self.heartbeat), if !self.dirty => {
                    if let Err(e) = self.on_heartbeat().await {
                        return e;
                    }
                },
                cmd = self.commands.recv(), if !self.dirty => match cmd {
                    Some(cmd) => {
                        if let Err(e) = self.on_command(cmd).await {
                            return e;
                        }
                    }
                    None => {
                        // The Client was closed or dropped.
                        self.close_politely().await;
                        return ClientError::Closed;
                    }
                },
                io = next_io(&mut self.transport, self.dirty) => {
                    match io.flushed {
                        Some(Ok(())) => self.dirty = false,
                        Some(Err(e)) => return e,
                        None => {}
                    }
                    match io.frame {
                        Some(Some(Ok(payload))) => {
                            self.on_frame(&payload);
                            if self.overflowed {
                                // Like the server with a slow connection:
                                // disconnect rather than buffer without
                                // bound. Nothing is lost: the application
                                // catches up with `sync` after reconnecting.
                                return ClientError::Protocol(
                                    "pushes were not read in time: the push buffer is full".into(),
                                );
                            }
                        }
                        Some(Some(Err(e))) => return e,
                        Some(None) => return ClientError::Closed,
                        None => {}
                    }
                }
            }
        }
    }

    /// Write one command, then whatever else is already queued (up to a
    /// batch), so that a burst of requests costs one flush. Only called when
    /// the transport has been flushed, so `ready` does not wait; later items
    /// are taken only when the transport is ready *now*, so the task never
    /// blocks on writing while it should be reading.
    async fn on_command(&mut self, cmd: Box<Command>) -> Result<(), ClientError> {
        self.transport.ready().await?;
        self.start(*cmd)?;
        for _ in 1..MAX_BATCH {
            match futures::FutureExt::now_or_never(poll_fn(|cx| self.transport.poll_ready(cx))) {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(e),
                None => break,
            }
            match self.commands.try_recv() {
                Ok(cmd) => self.start(*cmd)?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    fn start(&mut self, cmd: Command) -> Result<(), ClientError> {
        match cmd {
            Command::Request { id, payload, reply } => {
                if reply.is_closed() {
                    // The caller timed out or gave up before we got to it:
                    // it has been told the request failed, so don't send it.
                    return Ok(());
                }
                self.transport.start_send(payload)?;
                self.pending.insert(id, reply);
                if self.pending.len() > SWEEP_AT {
                    self.pending.retain(|_, reply| !reply.is_closed());
                }
            }
            Command::Raw { payload, done } => {
                let result = self.transport.start_send(payload);
                let report = match &result {
                    Ok(()) => Ok(()),
                    Err(_) => Err(ClientError::Closed),
                };
                let _ = done.send(report);
                result?;
            }
        }
        self.wrote();
        Ok(())
    }

    /// Anything we write keeps the server's idle timer at bay, so the next
    /// heartbeat is due a full period after the last write.
    fn wrote(&mut self) {
        self.dirty = true;
        if let Some(heartbeat) = &mut self.heartbeat {
            heartbeat.reset();
        }
    }

    async fn on_heartbeat(&mut self) -> Result<(), ClientError> {
        if let Some(since) = self.ping_outstanding
            && since.elapsed() >= self.dead_after
        {
            tracing::debug!("heartbeat unanswered; treating the server as gone");
            return Err(ClientError::Timeout);
        }
        let ping = RequestFrame {
            id: HEARTBEAT_ID,
            request: Request::Ping,
        }
        .to_json();
        self.transport.ready().await?;
        self.transport.start_send(ping)?;
        self.ping_outstanding.get_or_insert_with(Instant::now);
        self.wrote();
        Ok(())
    }

    /// Route one frame from the server. Bad data never ends the connection:
    /// a broken answer to a known request fails that request with
    /// [`ClientError::Protocol`]; anything else unintelligible (including
    /// push kinds newer than this library) is logged and skipped.
    fn on_frame(&mut self, payload: &[u8]) {
        match ServerFrame::parse(payload) {
            Ok(ServerFrame::Ok { id, result }) => {
                if id == HEARTBEAT_ID {
                    self.ping_outstanding = None;
                } else if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(Ok(result));
                } else {
                    tracing::debug!(id, "response to a request nobody awaits");
                }
            }
            Ok(ServerFrame::Err { id, error }) => match id {
                Some(HEARTBEAT_ID) => {
                    tracing::debug!(%error, "heartbeat ping failed");
                    self.ping_outstanding = None;
                }
                Some(id) if self.pending.contains_key(&id) => {
                    if let Some(reply) = self.pending.remove(&id) {
                        let _ = reply.send(Err(ClientError::Server(error)));
                    }
                }
                _ => self.emit(Event::UncorrelatedError(error)),
            },
            Ok(ServerFrame::Push(push)) => self.emit(Event::Push(push)),
            Err(e) => self.on_bad_frame(payload, e),
        }
    }

    /// Hand an event to the application, or note that its buffer is full.
    /// An application that dropped its receiver just loses the event.
    fn emit(&mut self, event: Event) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(Box::new(event)) {
            self.overflowed = true;
        }
    }

    fn on_bad_frame(&mut self, payload: &[u8], e: serde_json::Error) {
        let id = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v.get("id").and_then(serde_json::Value::as_u64));
        match id.and_then(|id| self.pending.remove(&id)) {
            Some(reply) => {
                let _ = reply.send(Err(ClientError::Protocol(format!(
                    "malformed response from server: {e}"
                ))));
            }
            None => {
                tracing::warn!(error = %e, len = payload.len(), "skipping malformed frame from server")
            }
        }
    }

    /// Close our side and give the server a moment to close its side, so
    /// neither end sees a reset. Frames arriving meanwhile are discarded:
    /// nobody is listening any more.
    async fn close_politely(&mut self) {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            if self.transport.close().await.is_err() {
                return;
            }
            while let Some(Ok(_)) = self.transport.recv().await {}
        })
        .await;
    }
}

/// Wait for the socket: a frame arrives, or (when `flush` is set) the
/// pending writes have been flushed. One future covering both lets a single
/// task read and write one socket without splitting it.
async fn next_io(transport: &mut Transport, flush: bool) -> Io {
    poll_fn(|cx| {
        let flushed = match flush {
            true => ready_value(transport.poll_flush(cx)),
            false => None,
        };
        let frame = ready_value(transport.poll_recv(cx));
        if flushed.is_none() && frame.is_none() {
            Poll::Pending
        } else {
            Poll::Ready(Io { flushed, frame })
        }
    })
    .await
}

fn ready_value<T>(poll: Poll<T>) -> Option<T> {
    match poll {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

async fn tick(heartbeat: &mut Option<Interval>) {
    match heartbeat {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
