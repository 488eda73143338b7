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
//! number of recipients. A group message goes to the members of a member
//! set at least as new as the membership version its batch read (see
//! `members.rs`), so it never reaches someone removed before it or added
//! after it.
//!
//! Group changes (create, invite, remove, ...) pass through the writer too,
//! one transaction each between batches, in queue order: their event
//! entries take seqs in the same conversations as messages, and going
//! through the one fanout task keeps every conversation's pushes in seq
//! order on each connection.
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
use crate::members::{MemberSets, Members};
use crate::metrics::Metrics;
use crate::router::{Router, SessionId};
use magpie_proto::{
    ConvId, ErrorBody, ErrorCode, Message, Push, ReadMark, ReadReceipt, Seq, UserId,
};
use magpie_store::{
    Amended, Appended, Forwarding, GroupApplied, GroupOp, MarkRead, NewAmend, NewGroup, NewMessage,
    SeqRange, Store, WriteBatch,
};
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
    /// The conversation's members as cached when the send was checked:
    /// they get the push (a newer set is used if the batch finds this one
    /// stale).
    pub members: Arc<Members>,
    /// The connection that sent it: it gets the ack, not a push.
    pub origin: Option<SessionId>,
    pub reply: oneshot::Sender<Result<Appended, ErrorBody>>,
}

/// One read mark on its way to storage.
#[derive(Debug)]
pub struct ReadJob {
    pub mark: MarkRead,
    /// The reader's username, for the other member's `receipt` push.
    pub reader: String,
    /// The connection that asked: the user's other devices get a push.
    pub origin: Option<SessionId>,
    pub reply: oneshot::Sender<Result<ReadMark, ErrorBody>>,
}

/// A change to a group on its way to storage.
#[derive(Debug)]
pub struct GroupJob {
    pub change: GroupChange,
    pub now: i64,
    pub reply: oneshot::Sender<Result<GroupApplied, ErrorBody>>,
}

/// Which group change.
#[derive(Debug)]
pub enum GroupChange {
    Create {
        owner: UserId,
        group: NewGroup,
    },
    Apply {
        actor: UserId,
        conv: ConvId,
        op: GroupOp,
    },
}

/// A recall, edit or reaction on its way to storage.
#[derive(Debug)]
pub struct AmendJob {
    pub amend: NewAmend,
    /// The connection that asked: its answer carries the entry, so it
    /// gets no push of it.
    pub origin: Option<SessionId>,
    pub reply: oneshot::Sender<Result<Amended, ErrorBody>>,
}

/// What the writer stores: batched writes, or a group change or an
/// amending entry on its own.
#[derive(Debug)]
enum Job {
    Send(Outgoing),
    Read(ReadJob),
    Group(GroupJob),
    Amend(AmendJob),
}

/// One frame and who gets it.
#[derive(Debug)]
struct Delivery {
    frame: bytes::Bytes,
    to: To,
    except: Option<SessionId>,
    /// A message (counted in `messages_out`), not a read mark.
    message: bool,
}

/// The recipients of a [`Delivery`].
#[derive(Debug)]
enum To {
    Users(Arc<[UserId]>),
    /// The other member of `conv` if it is a 1:1 conversation (nobody in
    /// a group: group receipts are read on request, not pushed to all).
    Peer {
        conv: ConvId,
        reader: UserId,
    },
    /// The members who may see entry `seq` of `conv`, by a member set at
    /// least as new as `version` (`hint` if it is), and `also` (members
    /// who left with this entry: it is the last they get).
    Entry {
        conv: ConvId,
        seq: Seq,
        version: Seq,
        hint: Option<Arc<Members>>,
        also: Vec<UserId>,
    },
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
        sets: Arc<MemberSets>,
        metrics: Arc<Metrics>,
        max_batch: usize,
    ) -> (MessageWriter, JoinHandle<()>) {
        // Room for a few batches: when full, submitters wait, which pushes
        // back on the connections (they stop reading) instead of growing.
        let (tx, rx) = mpsc::channel(max_batch * 4);
        let (fanout_tx, fanout_rx) = mpsc::channel(FANOUT_QUEUE);
        let close = CancellationToken::new();
        let fanout = tokio::spawn(fanout(
            fanout_rx,
            router.clone(),
            sets.clone(),
            metrics.clone(),
        ));
        let writer = Writer {
            store,
            router,
            sets,
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

    /// Queue a group change. Fails only when the server is shutting down.
    pub async fn group(&self, job: GroupJob) -> Result<(), ErrorBody> {
        self.submit(Job::Group(job)).await
    }

    /// Queue an amending entry. Fails only when the server is shutting
    /// down.
    pub async fn amend(&self, job: AmendJob) -> Result<(), ErrorBody> {
        self.submit(Job::Amend(job)).await
    }

    async fn submit(&self, job: Job) -> Result<(), ErrorBody> {
        self.tx.send(job).await.map_err(|_| shutting_down())
    }

    /// Stop accepting jobs; the task commits what is queued and exits.
    pub fn close(&self) {
        self.close.cancel();
    }
}

/// A job that `process` should have taken out of the batch.
fn misrouted() -> ErrorBody {
    ErrorBody::new(ErrorCode::Internal, "a job reached the wrong writer path")
}

/// A newly stored message as pushed to the members.
fn pushed(message: NewMessage, stored: &Appended, from: String) -> Message {
    let file = message.file.map(|mut file| {
        file.conv = Some(stored.conv);
        file.seq = Some(stored.seq);
        file
    });
    let (forwarded, record) = match message.forward.map(|f| *f) {
        Some(Forwarding::Mark(mark)) => (Some(Box::new(mark)), Vec::new()),
        Some(Forwarding::Record(items)) => (None, items),
        None => (None, Vec::new()),
    };
    Message {
        file,
        msg_id: stored.msg_id,
        conv: stored.conv,
        seq: stored.seq,
        kind: message.kind,
        from,
        body: message.body,
        ts: stored.ts,
        cmid: message.cmid,
        mention_all: message.mention.as_ref().is_some_and(|m| m.all),
        mentions: message
            .mention
            .map(|m| m.users.into_iter().map(|(_, name)| name).collect())
            .unwrap_or_default(),
        reply: message.reply,
        forwarded,
        record,
        ..Message::default()
    }
}

fn shutting_down() -> ErrorBody {
    ErrorBody::new(ErrorCode::ShuttingDown, "server is shutting down")
}

/// The answer when a queued job's reply never came: the writer stopped
/// (shutdown) before storing it.
pub fn lost_reply() -> ErrorBody {
    shutting_down()
}

struct Writer {
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    sets: Arc<MemberSets>,
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
            self.process(&mut batch).await;
        }
    }

    /// Store what was taken from the queue, in queue order: writes up to
    /// a group change as one batch, then the group change, and so on.
    async fn process(&self, jobs: &mut Vec<Job>) {
        let mut pending = Vec::with_capacity(jobs.len());
        for job in jobs.drain(..) {
            match job {
                Job::Group(group) => {
                    if !pending.is_empty() {
                        self.commit(&mut pending).await;
                    }
                    self.apply_group(group).await;
                }
                Job::Amend(amend) => {
                    if !pending.is_empty() {
                        self.commit(&mut pending).await;
                    }
                    self.apply_amend(amend).await;
                }
                other => pending.push(other),
            }
        }
        if !pending.is_empty() {
            self.commit(&mut pending).await;
        }
    }

    /// Store one group change in its own transaction, answer it, and
    /// queue the push of its event entry behind the batches before it.
    async fn apply_group(&self, job: GroupJob) {
        let result = match &job.change {
            GroupChange::Create { owner, group } => {
                self.store.create_group(*owner, group, job.now).await
            }
            GroupChange::Apply { actor, conv, op } => {
                self.store.apply_group(*actor, *conv, op, job.now).await
            }
        };
        let applied = match result {
            Ok(applied) => applied,
            Err(e) => {
                let _ = job.reply.send(Err(from_store(e)));
                return;
            }
        };
        let mut deliveries = Vec::with_capacity(1 + applied.written.len());
        if let Some(event) = &applied.event {
            // The members changed (or their rights did): the next send
            // check here, and on every other node, reloads them.
            self.sets.forget(applied.conv);
            self.router.members_changed(applied.conv);
            deliveries.push(Delivery {
                frame: Push::Message(event.clone()).encode(),
                to: To::Entry {
                    conv: applied.conv,
                    seq: event.seq,
                    version: event.seq,
                    hint: None,
                    also: applied.gone.clone(),
                },
                // Every device of the actor gets it too: the answer says
                // only the seq.
                except: None,
                message: true,
            });
        }
        // The change-stream entries (`group_joined`, `group_left`) after
        // the event, so that a device learns of the group's change first.
        for w in &applied.written {
            deliveries.push(Delivery {
                frame: Push::Change(w.change.clone()).encode(),
                to: To::Users(Arc::from([w.user])),
                except: None,
                message: false,
            });
        }
        if !deliveries.is_empty() {
            let _ = self.fanout.send(deliveries).await;
        }
        let _ = job.reply.send(Ok(applied));
    }

    /// Store one amending entry in its own transaction (it reads and
    /// changes its target under the conversation's lock), answer it, and
    /// queue its push behind the batches before it, so that it reaches
    /// every device after the entry it acts on.
    async fn apply_amend(&self, job: AmendJob) {
        let amended = match self.store.amend(&job.amend).await {
            Ok(amended) => amended,
            Err(e) => {
                let _ = job.reply.send(Err(from_store(e)));
                return;
            }
        };
        if let Some(entry) = &amended.entry {
            let delivery = Delivery {
                frame: Push::Message(entry.clone()).encode(),
                to: To::Entry {
                    conv: entry.conv,
                    seq: entry.seq,
                    version: amended.version,
                    hint: None,
                    also: Vec::new(),
                },
                except: job.origin,
                message: true,
            };
            let _ = self.fanout.send(vec![delivery]).await;
        }
        let _ = job.reply.send(Ok(amended));
    }

    /// Check a group message's sender again against the member set as the
    /// writer knows it now. The session checked it when the send arrived,
    /// but a group change queued before this message (on this node, the
    /// writer applies them in order and forgets the set) may have removed
    /// or muted the sender since. A 1:1 conversation's members never change.
    async fn recheck_sender(&self, outgoing: &mut Outgoing) -> Result<(), ErrorBody> {
        if !outgoing.members.set.group {
            return Ok(());
        }
        let (conv, sender) = (outgoing.message.conv, outgoing.message.sender);
        let members = self
            .sets
            .sender(conv, sender, outgoing.message.ts)
            .await
            .map_err(from_store)?
            .map_err(crate::conversations::not_sender)?;
        outgoing.members = members;
        Ok(())
    }

    /// Store one batch, answer each job, and queue its pushes.
    async fn commit(&self, batch: &mut Vec<Job>) {
        let mut sends = Vec::new();
        let mut reads = Vec::new();
        let mut write = WriteBatch::default();
        for job in batch.drain(..) {
            match job {
                Job::Send(mut outgoing) => {
                    if let Err(refused) = self.recheck_sender(&mut outgoing).await {
                        let _ = outgoing.reply.send(Err(refused));
                        continue;
                    }
                    let message = NewMessage {
                        body: std::mem::take(&mut outgoing.message.body),
                        cmid: std::mem::take(&mut outgoing.message.cmid),
                        ..outgoing.message.clone()
                    };
                    if outgoing.members.set.group {
                        write.versions.push(message.conv);
                    }
                    write.messages.push(message);
                    sends.push(outgoing);
                }
                Job::Read(read) => {
                    write.reads.push(read.mark);
                    reads.push(read);
                }
                // `process` takes group changes and amending entries out
                // before a commit.
                Job::Group(group) => {
                    let _ = group.reply.send(Err(misrouted()));
                }
                Job::Amend(amend) => {
                    let _ = amend.reply.send(Err(misrouted()));
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
        let versions: std::collections::HashMap<ConvId, Seq> =
            committed.versions.iter().copied().collect();
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
                let push = Push::Message(pushed(message, &stored, outgoing.from));
                let to = if outgoing.members.set.group {
                    To::Entry {
                        conv: stored.conv,
                        seq: stored.seq,
                        version: versions.get(&stored.conv).copied().unwrap_or(Seq::MAX),
                        hint: Some(outgoing.members),
                        also: Vec::new(),
                    }
                } else {
                    To::Users(outgoing.members.users.clone())
                };
                deliveries.push(Delivery {
                    frame: push.encode(),
                    to,
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
                        to: To::Users(Arc::from([read.mark.user])),
                        except: read.origin,
                        message: false,
                    });
                    let receipt = ReadReceipt {
                        conv: read.mark.conv,
                        user: read.reader,
                        read_seq,
                    };
                    deliveries.push(Delivery {
                        frame: Push::Receipt(receipt).encode(),
                        to: To::Peer {
                            conv: read.mark.conv,
                            reader: read.mark.user,
                        },
                        except: None,
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
        let sets = self.sets.clone();
        tokio::spawn(async move {
            let range = [SeqRange {
                conv,
                after: seq - 1,
                upto: seq,
            }];
            let (entry, members) = match tokio::try_join!(store.messages_in(&range), sets.get(conv))
            {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, conv, seq, "re-pushing a duplicate failed");
                    return;
                }
            };
            let Some(members) = members else { return };
            for message in entry {
                let users = members.recipients_at(seq);
                router.deliver(&users, &Push::Message(message).encode(), except);
            }
        });
    }
}

/// Route each committed batch, in commit order.
async fn fanout(
    mut rx: mpsc::Receiver<Vec<Delivery>>,
    router: Arc<dyn Router>,
    sets: Arc<MemberSets>,
    metrics: Arc<Metrics>,
) {
    while let Some(batch) = rx.recv().await {
        for delivery in batch {
            let Some(users) = recipients(delivery.to, &sets).await else {
                continue;
            };
            let delivered = router.deliver(&users, &delivery.frame, delivery.except);
            if delivery.message {
                metrics.messages_out.inc_by(delivered as u64);
            }
        }
    }
}

/// Who gets a delivery. A stale hint costs one query, here in the fanout
/// task (which keeps the order) rather than in the commit loop. If the
/// members cannot be read, the push is dropped: it is stored, and clients
/// catch up with `sync`.
async fn recipients(to: To, sets: &MemberSets) -> Option<Arc<[UserId]>> {
    let (conv, seq, version, hint, also) = match to {
        To::Users(users) => return Some(users),
        To::Peer { conv, reader } => {
            return match sets.get(conv).await {
                Ok(Some(members)) if !members.set.group => Some(
                    members
                        .users
                        .iter()
                        .copied()
                        .filter(|&u| u != reader)
                        .collect(),
                ),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, conv, "reading members for a receipt failed");
                    None
                }
            };
        }
        To::Entry {
            conv,
            seq,
            version,
            hint,
            also,
        } => (conv, seq, version, hint, also),
    };
    let members = match hint {
        Some(hint) if hint.set.version >= version => Some(hint),
        _ => match sets.at_least(conv, version).await {
            Ok(members) => members,
            Err(e) => {
                tracing::warn!(error = %e, conv, seq, "reading members to route an entry failed");
                return None;
            }
        },
    };
    let shared = members.map(|m| m.recipients_at(seq));
    if also.is_empty() {
        return Some(shared.unwrap_or_else(|| Arc::from([])));
    }
    let mut users = shared.map_or_else(Vec::new, |u| u.to_vec());
    users.extend(also);
    users.sort_unstable();
    users.dedup();
    Some(users.into())
}
