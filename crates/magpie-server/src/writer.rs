//! Group commit: the one path by which messages reach storage.
//!
//! Sessions submit messages to a queue; a single writer task takes whatever
//! has queued up (up to `max_batch`), stores it in one transaction with one
//! disk sync, and only then answers each sender and routes each message to
//! its recipients. Under load the queue fills while a commit is in flight,
//! so the cost of a sync is shared by the whole batch; when idle a batch is
//! a single message and nothing waits for a timer.
//!
//! Architecture invariants:
//! - an ack is sent only after `append_batch` returned `Ok`, i.e. after the
//!   message is durable; a failed batch answers `unavailable` to every sender
//!   in it and routes nothing;
//! - messages are routed in commit order, from this one task, so pushes of
//!   one conversation leave in seq order.

use crate::error::from_store;
use crate::metrics::Metrics;
use crate::router::{Router, SessionId};
use magpie_proto::{ErrorBody, ErrorCode, Message, Push};
use magpie_store::{Appended, NewMessage, Store};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One message on its way to storage, with what is needed to route it and
/// to answer its sender.
#[derive(Debug)]
pub struct Outgoing {
    pub message: NewMessage,
    /// Sender's and recipient's usernames, for the push.
    pub from: String,
    pub to: String,
    /// The connection that sent it: it gets the ack, not a push.
    pub origin: Option<SessionId>,
    pub reply: oneshot::Sender<Result<Appended, ErrorBody>>,
}

/// Handle for submitting messages to the writer task.
#[derive(Debug, Clone)]
pub struct MessageWriter {
    tx: mpsc::Sender<Outgoing>,
    close: CancellationToken,
}

impl MessageWriter {
    /// Start the writer task.
    pub fn spawn(
        store: Arc<dyn Store>,
        router: Arc<dyn Router>,
        metrics: Arc<Metrics>,
        max_batch: usize,
    ) -> (MessageWriter, JoinHandle<()>) {
        // Room for a few batches: when full, submitters wait, which pushes
        // back on the connections (they stop reading) instead of growing.
        let (tx, rx) = mpsc::channel(max_batch * 4);
        let close = CancellationToken::new();
        let task = tokio::spawn(run(rx, close.clone(), store, router, metrics, max_batch));
        (MessageWriter { tx, close }, task)
    }

    /// Queue a message. Fails only when the server is shutting down.
    pub async fn submit(&self, outgoing: Outgoing) -> Result<(), ErrorBody> {
        self.tx
            .send(outgoing)
            .await
            .map_err(|_| ErrorBody::new(ErrorCode::ShuttingDown, "server is shutting down"))
    }

    /// Stop accepting messages; the task commits what is queued and exits.
    pub fn close(&self) {
        self.close.cancel();
    }
}

async fn run(
    mut rx: mpsc::Receiver<Outgoing>,
    close: CancellationToken,
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    metrics: Arc<Metrics>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        let first = tokio::select! {
            first = rx.recv() => first,
            () = close.cancelled() => {
                // Refuse new submissions, then drain what is queued.
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        commit(&mut batch, store.as_ref(), router.as_ref(), &metrics).await;
    }
}

/// Store one batch, then route and answer each message in it.
async fn commit(
    batch: &mut Vec<Outgoing>,
    store: &dyn Store,
    router: &dyn Router,
    metrics: &Metrics,
) {
    let messages: Vec<NewMessage> = batch
        .iter_mut()
        .map(|o| NewMessage {
            body: std::mem::take(&mut o.message.body),
            cmid: std::mem::take(&mut o.message.cmid),
            ..o.message.clone()
        })
        .collect();
    metrics.store_batch_size.observe(messages.len() as f64);
    let started = std::time::Instant::now();
    let result = store.append_batch(&messages).await;
    metrics
        .store_batch_seconds
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(appended) => {
            for ((outgoing, message), stored) in batch.drain(..).zip(messages).zip(appended) {
                if !stored.duplicate {
                    metrics.messages_in.inc();
                    let push = Push::Message(Message {
                        msg_id: stored.msg_id,
                        conv: stored.conv,
                        seq: stored.seq,
                        from: outgoing.from,
                        to: outgoing.to,
                        body: message.body,
                        ts: stored.ts,
                        cmid: message.cmid,
                    })
                    .encode();
                    let recipients = [message.sender, message.recipient];
                    let delivered = router.deliver(&recipients, &push, outgoing.origin);
                    metrics.messages_out.inc_by(delivered as u64);
                }
                // The sender may have gone; the message is stored regardless.
                let _ = outgoing.reply.send(Ok(stored));
            }
        }
        Err(e) => {
            let body = from_store(e);
            for outgoing in batch.drain(..) {
                let _ = outgoing.reply.send(Err(body.clone()));
            }
        }
    }
}
