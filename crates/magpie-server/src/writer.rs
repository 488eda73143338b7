//! Group commit: the one path by which messages and read marks reach
//! storage, and the fanout that follows it.
//!
//! Sessions submit jobs to a queue; a single writer task takes whatever
//! has queued up (up to `max_batch`), stores it in one transaction with one
//! disk sync, answers each job, and hands the batch's pushes to the fanout
//! task. Under load the queue fills while a commit is in flight, so the
//! cost of a sync is shared by the whole batch; when idle a batch is a
//! single job and nothing waits for a timer.
//!
//! Routing runs in its own task, so a large fanout never delays the next
//! batch's commit or its acks. Each push is encoded once, whatever the
//! number of recipients.
//!
//! Architecture invariants:
//! - an ack is sent only after `commit_batch` returned `Ok`, i.e. after the
//!   message is durable (in SQLite's non-durable mode, after it is in the
//!   WAL: it survives a crash of the process but maybe not a power cut); a
//!   failed batch answers `unavailable` to every job in it and routes
//!   nothing;
//! - batches are routed in commit order by one fanout task, so pushes of
//!   one conversation leave in seq order;
//! - a duplicate (a retried `cmid`) is pushed again: its first attempt may
//!   have been committed by a batch whose outcome the sender never learnt,
//!   and whose pushes may never have gone out. Clients drop what they have.

use crate::error::from_store;
use crate::metrics::Metrics;
use crate::router::{Router, SessionId};
use magpie_proto::{ConvId, ErrorBody, ErrorCode, Message, Push, ReadMark, Seq, UserId};
use magpie_store::{Appended, MarkRead, NewMessage, SeqRange, Store, WriteBatch};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One message on its way to storage, with what is needed to route it and
/// to answer its sender.
#[derive(Debug)]
pub struct Outgoing {
    pub message: NewMessage,
    /// Sender's username, for the push.
    pub from: String,
    /// Everyone in the conversation: they get the push.
    pub members: Arc<[UserId]>,
    /// The connection that sent it: it gets the ack, not a push.
    pub origin: Option<SessionId>,
    pub reply: oneshot::Sender<Result<Appended, ErrorBody>>,
}

/// One read mark on its way to storage.
#[derive(Debug)]
pub struct ReadJob {
    pub mark: MarkRead,
    /// The connection that asked: the user's other devices get a push.
    pub origin: Option<SessionId>,
    pub reply: oneshot::Sender<Result<ReadMark, ErrorBody>>,
}

/// What the writer stores.
#[derive(Debug)]
enum Job {
    Send(Outgoing),
    Read(ReadJob),
}

/// One frame for the members of a conversation.
#[derive(Debug)]
struct Delivery {
    frame: bytes::Bytes,
    users: Arc<[UserId]>,
    except: Option<SessionId>,
    /// A message (counted in `messages_out`), not a read mark.
    message: bool,
}

/// Handle for submitting jobs to the writer task.
#[derive(Debug, Clone)]
pub struct MessageWriter {
    tx: mpsc::Sender<Job>,
    close: CancellationToken,
}

/// Batches of pushes queued for the fanout task. When it falls this far
/// behind, the writer waits: backpressure instead of unbounded memory.
const FANOUT_QUEUE: usize = 64;

impl MessageWriter {
    /// Start the writer task and its fanout task; the handle resolves when
    /// both are done.
    pub fn spawn(
        store: Arc<dyn Store>,
        router: Arc<dyn Router>,
        metrics: Arc<Metrics>,
        max_batch: usize,
    ) -> (MessageWriter, JoinHandle<()>) {
        // Room for a few batches: when full, submitters wait, which pushes
        // back on the connections (they stop reading) instead of growing.
        let (tx, rx) = mpsc::channel(max_batch * 4);
        let (fanout_tx, fanout_rx) = mpsc::channel(FANOUT_QUEUE);
        let close = CancellationToken::new();
        let fanout = tokio::spawn(fanout(fanout_rx, router.clone(), metrics.clone()));
        let writer = Writer {
            store,
            router,
            metrics,
            fanout: fanout_tx,
        };
        let closing = close.clone();
        let task = tokio::spawn(async move {
            writer.run(rx, closing, max_batch).await;
            let _ = fanout.await;
        });
        (MessageWriter { tx, close }, task)
    }

    /// Queue a message. Fails only when the server is shutting down.
    pub async fn send(&self, outgoing: Outgoing) -> Result<(), ErrorBody> {
        self.submit(Job::Send(outgoing)).await
    }

    /// Queue a read mark. Fails only when the server is shutting down.
    pub async fn mark_read(&self, job: ReadJob) -> Result<(), ErrorBody> {
        self.submit(Job::Read(job)).await
    }

    async fn submit(&self, job: Job) -> Result<(), ErrorBody> {
        self.tx.send(job).await.map_err(|_| shutting_down())
    }

    /// Stop accepting jobs; the task commits what is queued and exits.
    pub fn close(&self) {
        self.close.cancel();
    }
}

fn shutting_down() -> ErrorBody {
    ErrorBody::new(ErrorCode::ShuttingDown, "server is shutting down")
}

struct Writer {
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    metrics: Arc<Metrics>,
    fanout: mpsc::Sender<Vec<Delivery>>,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Job>, close: CancellationToken, max_batch: usize) {
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
            self.commit(&mut batch).await;
        }
    }

    /// Store one batch, answer each job, and queue its pushes.
    async fn commit(&self, batch: &mut Vec<Job>) {
        let mut sends = Vec::new();
        let mut reads = Vec::new();
        let mut write = WriteBatch::default();
        for job in batch.drain(..) {
            match job {
                Job::Send(mut outgoing) => {
                    let message = NewMessage {
                        body: std::mem::take(&mut outgoing.message.body),
                        cmid: std::mem::take(&mut outgoing.message.cmid),
                        ..outgoing.message.clone()
                    };
                    write.messages.push(message);
                    sends.push(outgoing);
                }
                Job::Read(read) => {
                    write.reads.push(read.mark);
                    reads.push(read);
                }
            }
        }
        let metrics = &self.metrics;
        metrics
            .store_batch_size
            .observe(write.messages.len() as f64);
        let started = std::time::Instant::now();
        let result = self.store.commit_batch(&write).await;
        metrics
            .store_batch_seconds
            .observe(started.elapsed().as_secs_f64());
        let committed = match result {
            Ok(committed) => committed,
            Err(e) => {
                let body = from_store(e);
                for outgoing in sends {
                    let _ = outgoing.reply.send(Err(body.clone()));
                }
                for read in reads {
                    let _ = read.reply.send(Err(body.clone()));
                }
                return;
            }
        };
        let mut deliveries = Vec::with_capacity(sends.len() + reads.len());
        for ((outgoing, message), stored) in sends
            .into_iter()
            .zip(write.messages)
            .zip(committed.appended)
        {
            if stored.duplicate {
                self.push_again(stored.conv, stored.seq, outgoing.origin);
            } else {
                metrics.messages_in.inc();
                let push = Push::Message(Message {
                    msg_id: stored.msg_id,
                    conv: stored.conv,
                    seq: stored.seq,
                    kind: message.kind,
                    from: outgoing.from,
                    body: message.body,
                    ts: stored.ts,
                    cmid: message.cmid,
                });
                deliveries.push(Delivery {
                    frame: push.encode(),
                    users: outgoing.members,
                    except: outgoing.origin,
                    message: true,
                });
            }
            // The sender may have gone; the message is stored regardless.
            let _ = outgoing.reply.send(Ok(stored));
        }
        for (read, mark) in reads.into_iter().zip(committed.reads) {
            let answer = match mark {
                Some(read_seq) => {
                    let mark = ReadMark {
                        conv: read.mark.conv,
                        read_seq,
                    };
                    // Keep the user's other devices' unread counts in step.
                    deliveries.push(Delivery {
                        frame: Push::Read(mark.clone()).encode(),
                        users: Arc::from([read.mark.user]),
                        except: read.origin,
                        message: false,
                    });
                    Ok(mark)
                }
                None => Err(crate::conversations::unknown_conversation()),
            };
            let _ = read.reply.send(answer);
        }
        if !deliveries.is_empty() {
            // Fails only once the fanout task is gone (shutdown): the
            // messages are stored, and clients catch up with sync.
            let _ = self.fanout.send(deliveries).await;
        }
    }

    /// Push a stored entry again to the members of its conversation, for a
    /// duplicate (see the module docs). Rare, so it reads the entry back
    /// in a task of its own rather than hold up the commit loop.
    fn push_again(&self, conv: ConvId, seq: Seq, except: Option<SessionId>) {
        let store = self.store.clone();
        let router = self.router.clone();
        tokio::spawn(async move {
            let range = [SeqRange {
                conv,
                after: seq - 1,
                upto: seq,
            }];
            let (entry, members) =
                match tokio::try_join!(store.messages_in(&range), store.members(conv)) {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::warn!(error = %e, conv, seq, "re-pushing a duplicate failed");
                        return;
                    }
                };
            for message in entry {
                router.deliver(&members, &Push::Message(message).encode(), except);
            }
        });
    }
}

/// Route each committed batch, in commit order.
async fn fanout(
    mut rx: mpsc::Receiver<Vec<Delivery>>,
    router: Arc<dyn Router>,
    metrics: Arc<Metrics>,
) {
    while let Some(batch) = rx.recv().await {
        for delivery in batch {
            let delivered = router.deliver(&delivery.users, &delivery.frame, delivery.except);
            if delivery.message {
                metrics.messages_out.inc_by(delivered as u64);
            }
        }
    }
}
