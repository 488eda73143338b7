//! Delivery between sessions.
//!
//! Services never look for a recipient's connections themselves: they hand
//! an encoded frame and a list of users to a [`Router`], which knows where
//! those users' connections are. [`LocalRouter`] knows only this process;
//! the cluster router (Redis pub/sub) implements the same trait, so no
//! service may assume that every user is connected here.
//!
//! Delivery is a non-blocking push into each connection's [`Outbox`], a
//! queue bounded in frames and in bytes, with one more byte budget shared
//! by every connection of the process ([`QueueBudget`]). A connection whose
//! queue is full, or that would take the process over its budget, is too
//! slow: it is kicked rather than allowed to slow the sender or grow memory
//! without bound, and it recovers what it missed with `sync` when it
//! reconnects. Nothing is lost because every message was stored before it
//! was routed.

use bytes::Bytes;
use magpie_proto::{ConvId, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Identifies one connection (one device session) within this process.
pub type SessionId = u64;

/// Called with a conversation whose members changed on another node.
pub struct MembersHook(pub Box<dyn Fn(ConvId) + Send + Sync>);

impl std::fmt::Debug for MembersHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MembersHook")
    }
}

/// Why a connection was closed from outside its own task; sent to the
/// client in the `goaway` push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    SlowConsumer,
    /// The token was revoked by logging out.
    Logout,
    /// The user signed this device out from another (`device_revoke`).
    Revoked,
    /// A newer login on the same platform took its place (the session
    /// policy's exclusive platforms).
    Replaced,
    /// An administrator disabled or deleted the account, or reset its
    /// password.
    Disabled,
}

impl KickReason {
    pub fn as_str(self) -> &'static str {
        match self {
            KickReason::SlowConsumer => "slow_consumer",
            KickReason::Logout => "logout",
            KickReason::Revoked => "revoked",
            KickReason::Replaced => "replaced",
            KickReason::Disabled => "account_disabled",
        }
    }

    /// The reason named by [`KickReason::as_str`], if any.
    pub fn parse(name: &str) -> Option<KickReason> {
        [
            KickReason::SlowConsumer,
            KickReason::Logout,
            KickReason::Revoked,
            KickReason::Replaced,
            KickReason::Disabled,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

/// Lets others close a connection: the connection's task watches `token`.
#[derive(Debug, Default)]
pub struct Kick {
    pub token: CancellationToken,
    reason: OnceLock<KickReason>,
}

impl Kick {
    /// Ask the connection to close; the first reason given wins.
    pub fn kick(&self, reason: KickReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<KickReason> {
        self.reason.get().copied()
    }
}

/// Bytes queued for every connection of the process, against a limit.
#[derive(Debug)]
pub struct QueueBudget {
    used: AtomicUsize,
    limit: usize,
}

impl QueueBudget {
    pub fn new(limit: usize) -> QueueBudget {
        QueueBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Bytes queued now, across all connections.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over the connection's frame or byte bound, or the process budget:
    /// the connection is too slow.
    Full,
    /// The connection is closing.
    Closed,
}

/// One connection's queue of pushes, bounded in frames (by the channel)
/// and in bytes. The session releases the bytes of each frame once it has
/// written it to the socket, so the bound covers everything the process
/// holds for the connection, including a batch in the middle of a write.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Bytes>,
    queued: AtomicUsize,
    limit: usize,
    budget: Arc<QueueBudget>,
}

impl Outbox {
    /// A queue of at most `frames` frames and `bytes` bytes, also counted
    /// against `budget`; the receiver is the session's.
    pub fn new(
        frames: usize,
        bytes: usize,
        budget: Arc<QueueBudget>,
    ) -> (Arc<Outbox>, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(frames);
        let outbox = Outbox {
            tx,
            queued: AtomicUsize::new(0),
            limit: bytes,
            budget,
        };
        (Arc::new(outbox), rx)
    }

    /// Queue `frame` without waiting. An empty queue takes one frame of any
    /// size, so that the largest frame the server makes can always go out.
    pub fn try_push(&self, frame: &Bytes) -> Result<(), Refused> {
        let len = frame.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before + len > self.limit {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        let total = self.budget.used.fetch_add(len, Ordering::AcqRel) + len;
        let result = if total > self.budget.limit {
            Err(Refused::Full)
        } else {
            self.tx.try_send(frame.clone()).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            })
        };
        if result.is_err() {
            self.release(len);
        }
        result
    }

    /// `bytes` of queued frames have been written (or dropped).
    pub fn release(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::AcqRel);
        self.budget.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes queued for this connection now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// What the router keeps per connection: small, because there may be
/// hundreds of thousands.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub id: SessionId,
    /// Identifies the login token the connection authenticated with (the
    /// first 8 bytes of its hash), so that logout can close every connection
    /// of that token.
    pub token_tag: u64,
    pub outbox: Arc<Outbox>,
    pub kick: Arc<Kick>,
}

/// A short tag for a token hash (its first 8 bytes), enough to tell a
/// user's tokens apart: how kicks find a token's connections, and a
/// device's public id.
pub fn token_tag(hash: &[u8; 32]) -> u64 {
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(tag)
}

/// Where a message frame goes.
#[async_trait::async_trait]
pub trait Router: Send + Sync + std::fmt::Debug + 'static {
    /// A connection of `user` is ready to receive pushes. Returns how many
    /// connections `user` has on this node now (1: the first).
    fn session_opened(&self, user: UserId, handle: SessionHandle) -> usize;
    /// The connection is gone (or logged out). Returns how many
    /// connections `user` still has on this node, or `None` if this one
    /// was not registered.
    fn session_closed(&self, user: UserId, session: SessionId) -> Option<usize>;
    /// Which of `users` have a connection anywhere: on this node, or on a
    /// live node of the cluster. One round trip to Redis at most, however
    /// many users; on a Redis failure, this node's view.
    async fn online(&self, users: &[UserId]) -> HashSet<UserId>;
    /// Batches of users whose node died (cluster mode), for the presence
    /// service to announce offline. Taken once; `None` on a single node.
    fn departures(&self) -> Option<mpsc::Receiver<Vec<UserId>>> {
        None
    }
    /// Queue `frame` to every connection of every user in `users`, except
    /// `except` (the connection that caused it). Returns how many
    /// connections got it. Must not block.
    fn deliver(&self, users: &[UserId], frame: &Bytes, except: Option<SessionId>) -> usize;
    /// Queue `frame` to every logged-in connection on every node.
    fn broadcast_all(&self, frame: &Bytes);
    /// Close every connection of `user` that used the token with `token_tag`,
    /// except `except`, on every node, telling them `reason`.
    fn kick_token(
        &self,
        user: UserId,
        token_tag: u64,
        except: Option<SessionId>,
        reason: KickReason,
    );
    /// Token tags of `user` with a connection open on any (live) node.
    async fn online_tokens(&self, user: UserId) -> HashSet<u64>;
    /// A group's members or rights changed here: tell the other nodes, so
    /// that they drop their cached member set (see `members.rs`). A single
    /// node has no one to tell.
    fn members_changed(&self, _conv: ConvId) {}
    /// What to call when another node says a group's members changed.
    fn on_members_changed(&self, _hook: MembersHook) {}
    /// At shutdown, after the last delivery: hand over whatever is still
    /// queued for other nodes.
    async fn flush(&self) {}
}

const SHARDS: usize = 64;

/// The in-process router: a sharded map from user to live connections.
pub struct LocalRouter {
    shards: Vec<RwLock<HashMap<UserId, Vec<SessionHandle>>>>,
    on_slow: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for LocalRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRouter")
            .field("shards", &SHARDS)
            .finish_non_exhaustive()
    }
}

impl LocalRouter {
    /// `on_slow` is called each time a connection is kicked for being slow
    /// (the server counts it in its metrics).
    pub fn new(on_slow: impl Fn() + Send + Sync + 'static) -> LocalRouter {
        LocalRouter {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            on_slow: Box::new(on_slow),
        }
    }

    fn shard(&self, user: UserId) -> &RwLock<HashMap<UserId, Vec<SessionHandle>>> {
        &self.shards[(user as u64 as usize) % SHARDS]
    }

    /// Queue `frame` to every connection on this node (logged-in ones).
    pub fn broadcast(&self, frame: &Bytes) -> usize {
        let mut delivered = 0;
        for shard in &self.shards {
            let shard = shard.read().unwrap_or_else(|p| p.into_inner());
            for handle in shard.values().flatten() {
                if handle.outbox.try_push(frame).is_ok() {
                    delivered += 1;
                }
            }
        }
        delivered
    }

    /// Forget one connection; true if it was registered.
    pub fn remove(&self, user: UserId, session: SessionId) -> bool {
        self.remove_counted(user, session).is_some()
    }

    /// Forget one connection: `user`'s remaining connections here and the
    /// removed one's token tag, or `None` if it was not registered.
    pub fn remove_counted(&self, user: UserId, session: SessionId) -> Option<(usize, u64)> {
        let mut shard = self.shard(user).write().unwrap_or_else(|p| p.into_inner());
        let list = shard.get_mut(&user)?;
        let at = list.iter().position(|h| h.id == session)?;
        let removed = list.swap_remove(at);
        let left = list.len();
        if left == 0 {
            shard.remove(&user);
        }
        Some((left, removed.token_tag))
    }

    /// Token tags of `user`'s connections on this node.
    pub fn tags_of(&self, user: UserId) -> HashSet<u64> {
        let shard = self.shard(user).read().unwrap_or_else(|p| p.into_inner());
        shard
            .get(&user)
            .map(|list| list.iter().map(|h| h.token_tag).collect())
            .unwrap_or_default()
    }

    /// Every (user, token tag) with connections here, and how many.
    pub fn tag_counts(&self) -> Vec<(UserId, u64, usize)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let shard = shard.read().unwrap_or_else(|p| p.into_inner());
            for (user, list) in shard.iter() {
                let mut counts: HashMap<u64, usize> = HashMap::new();
                for h in list {
                    *counts.entry(h.token_tag).or_default() += 1;
                }
                out.extend(counts.into_iter().map(|(tag, n)| (*user, tag, n)));
            }
        }
        out
    }

    /// Which of `users` have connections on this node.
    pub fn online_here(&self, users: &[UserId]) -> HashSet<UserId> {
        users
            .iter()
            .copied()
            .filter(|&u| self.sessions_of(u) > 0)
            .collect()
    }

    /// Every user with connections here, and how many.
    pub fn user_counts(&self) -> Vec<(UserId, usize)> {
        self.shards
            .iter()
            .flat_map(|shard| {
                let shard = shard.read().unwrap_or_else(|p| p.into_inner());
                shard
                    .iter()
                    .map(|(user, list)| (*user, list.len()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Number of connections of `user` on this node.
    pub fn sessions_of(&self, user: UserId) -> usize {
        let shard = self.shard(user).read().unwrap_or_else(|p| p.into_inner());
        shard.get(&user).map_or(0, Vec::len)
    }
}

#[async_trait::async_trait]
impl Router for LocalRouter {
    fn session_opened(&self, user: UserId, handle: SessionHandle) -> usize {
        let mut shard = self.shard(user).write().unwrap_or_else(|p| p.into_inner());
        let list = shard.entry(user).or_default();
        list.push(handle);
        list.len()
    }

    fn session_closed(&self, user: UserId, session: SessionId) -> Option<usize> {
        self.remove_counted(user, session).map(|(left, _)| left)
    }

    async fn online(&self, users: &[UserId]) -> HashSet<UserId> {
        self.online_here(users)
    }

    fn deliver(&self, users: &[UserId], frame: &Bytes, except: Option<SessionId>) -> usize {
        let mut delivered = 0;
        for &user in users {
            let shard = self.shard(user).read().unwrap_or_else(|p| p.into_inner());
            let Some(list) = shard.get(&user) else {
                continue;
            };
            for handle in list.iter().filter(|h| Some(h.id) != except) {
                match handle.outbox.try_push(frame) {
                    Ok(()) => delivered += 1,
                    Err(Refused::Full) => {
                        if handle.kick.reason().is_none() {
                            (self.on_slow)();
                        }
                        handle.kick.kick(KickReason::SlowConsumer);
                    }
                    // The connection is closing; it unregisters itself.
                    Err(Refused::Closed) => {}
                }
            }
        }
        delivered
    }

    fn kick_token(
        &self,
        user: UserId,
        token_tag: u64,
        except: Option<SessionId>,
        reason: KickReason,
    ) {
        let shard = self.shard(user).read().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = shard.get(&user) {
            for h in list
                .iter()
                .filter(|h| h.token_tag == token_tag && Some(h.id) != except)
            {
                h.kick.kick(reason);
            }
        }
    }

    async fn online_tokens(&self, user: UserId) -> HashSet<u64> {
        self.tags_of(user)
    }

    fn broadcast_all(&self, frame: &Bytes) {
        self.broadcast(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn handle(id: SessionId, cap: usize) -> (SessionHandle, mpsc::Receiver<Bytes>) {
        handle_with(id, cap, usize::MAX, Arc::new(QueueBudget::new(usize::MAX)))
    }

    fn handle_with(
        id: SessionId,
        frames: usize,
        bytes: usize,
        budget: Arc<QueueBudget>,
    ) -> (SessionHandle, mpsc::Receiver<Bytes>) {
        let (outbox, rx) = Outbox::new(frames, bytes, budget);
        (
            SessionHandle {
                id,
                token_tag: id,
                outbox,
                kick: Arc::new(Kick::default()),
            },
            rx,
        )
    }

    #[test]
    fn queues_are_bounded_in_bytes_per_connection_and_in_total() {
        let budget = Arc::new(QueueBudget::new(250));
        let router = LocalRouter::new(|| {});
        let (a, mut a_rx) = handle_with(1, 100, 100, budget.clone());
        let (b, _b_rx) = handle_with(2, 100, 1000, budget.clone());
        let (a_out, a_kick, b_kick) = (a.outbox.clone(), a.kick.clone(), b.kick.clone());
        router.session_opened(10, a);
        router.session_opened(20, b);
        let big = Bytes::from(vec![b'x'; 150]);
        let small = Bytes::from(vec![b'y'; 40]);
        // An empty queue takes one frame of any size.
        assert_eq!(router.deliver(&[10], &big, None), 1);
        assert_eq!(a_out.queued(), 150);
        assert_eq!(router.deliver(&[10], &small, None), 0, "over 100 bytes");
        assert_eq!(a_kick.reason(), Some(KickReason::SlowConsumer));
        // Writing releases the bytes, to the connection and the process.
        let frame = a_rx.try_recv().expect("queued frame");
        a_out.release(frame.len());
        assert_eq!((a_out.queued(), budget.used()), (0, 0));
        // The process budget (250) binds before b's own (1000).
        assert_eq!(router.deliver(&[20], &big, None), 1);
        assert_eq!(router.deliver(&[20], &small, None), 1);
        assert_eq!(budget.used(), 190);
        assert!(!b_kick.token.is_cancelled());
        assert_eq!(router.deliver(&[20], &big, None), 0, "process budget");
        assert_eq!(b_kick.reason(), Some(KickReason::SlowConsumer));
        assert_eq!(budget.used(), 190, "a refused frame is not counted");
    }

    #[test]
    fn delivers_to_every_session_but_the_origin() {
        let router = LocalRouter::new(|| {});
        let (a1, mut a1_rx) = handle(1, 4);
        let (a2, mut a2_rx) = handle(2, 4);
        let (b1, mut b1_rx) = handle(3, 4);
        router.session_opened(10, a1);
        router.session_opened(10, a2);
        router.session_opened(20, b1);
        let frame = Bytes::from_static(b"x");
        assert_eq!(router.deliver(&[10, 20], &frame, Some(1)), 2);
        assert!(a1_rx.try_recv().is_err());
        assert_eq!(a2_rx.try_recv().expect("a2"), frame);
        assert_eq!(b1_rx.try_recv().expect("b1"), frame);
        router.session_closed(10, 2);
        assert_eq!(router.sessions_of(10), 1);
        assert_eq!(router.deliver(&[10, 30], &frame, None), 1);
    }

    #[test]
    fn a_full_queue_kicks_the_session_once() {
        let slow = Arc::new(AtomicUsize::new(0));
        let counter = slow.clone();
        let router = LocalRouter::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let (h, _rx) = handle(1, 1);
        let kick = h.kick.clone();
        router.session_opened(10, h);
        let frame = Bytes::from_static(b"x");
        assert_eq!(router.deliver(&[10], &frame, None), 1);
        assert_eq!(router.deliver(&[10], &frame, None), 0);
        assert_eq!(router.deliver(&[10], &frame, None), 0);
        assert!(kick.token.is_cancelled());
        assert_eq!(kick.reason(), Some(KickReason::SlowConsumer));
        assert_eq!(slow.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn kick_token_spares_other_tokens_and_the_caller() {
        let router = LocalRouter::new(|| {});
        let (mut a, _ra) = handle(1, 1);
        let (mut b, _rb) = handle(2, 1);
        let (c, _rc) = handle(3, 1);
        a.token_tag = 7;
        b.token_tag = 7;
        let (ka, kb, kc) = (a.kick.clone(), b.kick.clone(), c.kick.clone());
        router.session_opened(10, a);
        router.session_opened(10, b);
        router.session_opened(10, c);
        router.kick_token(10, 7, Some(1), KickReason::Logout);
        assert!(!ka.token.is_cancelled());
        assert_eq!(kb.reason(), Some(KickReason::Logout));
        assert!(!kc.token.is_cancelled());
    }
}
