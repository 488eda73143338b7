//! Cluster routing over Redis pub/sub: [`RedisRouter`].
//!
//! Every node holds its own connections in a [`LocalRouter`] and shares one
//! Redis channel, `<cluster>:bus`, with the other nodes. Delivering a frame
//! means delivering it locally at once and queueing it for the bus; a
//! publisher task packs everything queued into **one envelope and one
//! `PUBLISH` per batch**, so a group-commit batch costs one Redis command
//! however many messages it holds. Every other node receives the envelope
//! and delivers each frame to whichever recipients it holds. No node ever
//! asks Redis where a user is before delivering: there is no per-message
//! lookup.
//!
//! Routing is best-effort by design (see ARCHITECTURE.md): storage is the
//! truth and clients catch up with `sync`. What this module guarantees is
//! that when pushes may have been lost, clients are told. When a node's
//! subscription drops and comes back (Redis restarted, network blip), it
//! sends a `resync` push to all its clients. When a publish fails, the
//! publisher keeps trying to send a resync notice to every node until one
//! gets through.
//!
//! Presence lives in Redis too: a hash per user, `<cluster>:presence:<user>`,
//! maps node id to that node's connection count. A sorted set,
//! `<cluster>:nodes`, holds each node's last heartbeat. A node that dies
//! stops beating, and its entries stop counting after [`NODE_TTL`], with no
//! cleanup needed for lookups. Each node also keeps the set of users it
//! holds, `<cluster>:node-users:<node>`; the first live node to notice a
//! dead one claims it (`SET NX`), clears its entries and hands its users to
//! the presence service, which tells their contacts they went offline. A
//! killed node's users are thus shown offline within about
//! `NODE_TTL + HEARTBEAT + presence::OFFLINE_GRACE`, never forever.

use crate::router::{KickReason, LocalRouter, MembersHook, Router, SessionHandle, SessionId};
use bytes::Bytes;
use magpie_proto::{ConvId, Empty, Push, UserId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A node whose heartbeat is older than this is dead.
pub const NODE_TTL: Duration = Duration::from_secs(10);
/// How often a node renews its heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Presence hashes of users nobody touches expire after a day.
const PRESENCE_TTL_SECS: i64 = 24 * 3600;
/// Events queued for the bus before delivery to other nodes is given up
/// (and replaced by a resync notice).
const QUEUE: usize = 65_536;
/// Bytes of frames queued for the bus before delivery to other nodes is
/// given up (and replaced by a resync notice): the event count alone would
/// let 65,536 large frames hold gigabytes.
const QUEUE_BYTES: usize = 256 << 20;
/// Most events packed into one envelope.
const MAX_ENVELOPE_EVENTS: usize = 4096;
/// Bytes of frames packed into one envelope, far below Redis's 512 MB
/// limit on a value: an envelope closes once it holds this much.
const MAX_ENVELOPE_BYTES: usize = 8 << 20;

/// Why the cluster router could not start.
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct ClusterError(#[from] redis::RedisError);

/// Something another node must hear about, or a presence update.
#[derive(Debug)]
enum BusEvent {
    Deliver {
        users: Vec<UserId>,
        frame: Bytes,
    },
    Kick {
        user: UserId,
        token_tag: u64,
        reason: KickReason,
    },
    Presence {
        user: UserId,
        /// The connection's token, for the per-device counts.
        token_tag: u64,
        delta: i64,
    },
    /// This node's absolute connection count for one token of a user
    /// (re-announced with `PresenceSet`).
    DeviceSet {
        user: UserId,
        token_tag: u64,
        count: i64,
    },
    /// This node's absolute connection count for a user (after Redis
    /// came back, possibly empty).
    PresenceSet {
        user: UserId,
        count: i64,
    },
    /// The user's last connection on this node closed.
    Left {
        user: UserId,
    },
    /// A frame for every connection of every node.
    Broadcast {
        frame: Bytes,
    },
    /// A group's members or rights changed: drop the cached member set.
    Members {
        conv: ConvId,
    },
}

impl BusEvent {
    /// Bytes of frame this event carries (what bounds the queue and an
    /// envelope).
    fn frame_bytes(&self) -> usize {
        match self {
            BusEvent::Deliver { frame, .. } | BusEvent::Broadcast { frame } => frame.len(),
            _ => 0,
        }
    }
}

/// Redis key names of one cluster.
#[derive(Debug, Clone)]
struct Keys {
    cluster: String,
    bus: String,
    nodes: String,
}

impl Keys {
    fn new(cluster: &str) -> Keys {
        Keys {
            cluster: cluster.to_string(),
            bus: format!("{cluster}:bus"),
            nodes: format!("{cluster}:nodes"),
        }
    }

    fn presence(&self, user: UserId) -> String {
        format!("{}:presence:{user}", self.cluster)
    }

    fn node_users(&self, node: &str) -> String {
        format!("{}:node-users:{node}", self.cluster)
    }

    fn devices(&self, user: UserId) -> String {
        format!("{}:devices:{user}", self.cluster)
    }

    fn reaped(&self, node: &str) -> String {
        format!("{}:reaped:{node}", self.cluster)
    }
}

/// The cluster router: local delivery plus the Redis bus.
#[derive(Debug)]
pub struct RedisRouter {
    local: Arc<LocalRouter>,
    node: Arc<str>,
    keys: Keys,
    tx: mpsc::Sender<BusEvent>,
    /// Set when an event could not even be queued; the publisher turns it
    /// into a resync notice.
    overflowed: Arc<AtomicBool>,
    /// Bytes of frames in the queue (see [`QUEUE_BYTES`]).
    queued_bytes: Arc<AtomicUsize>,
    conn: ConnectionManager,
    stop: CancellationToken,
    close_publisher: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Users of dead nodes, for the presence service (taken once).
    departures: Mutex<Option<mpsc::Receiver<Vec<UserId>>>>,
    /// Set once at startup: drops a member set another node changed.
    members_hook: Arc<OnceLock<MembersHook>>,
}

impl RedisRouter {
    /// Connect to Redis at `url` and join the cluster named `cluster`.
    /// Fails if Redis cannot be reached now; later outages are survived.
    pub async fn connect(
        url: &str,
        cluster: &str,
        local: Arc<LocalRouter>,
    ) -> Result<RedisRouter, ClusterError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        // Fail fast on a bad URL or an unreachable server.
        let mut probe = conn.clone();
        redis::cmd("PING").query_async::<()>(&mut probe).await?;

        let node: Arc<str> = node_id().into();
        let keys = Keys::new(cluster);
        let (tx, rx) = mpsc::channel(QUEUE);
        let overflowed = Arc::new(AtomicBool::new(false));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let close_publisher = CancellationToken::new();
        let publisher = Publisher {
            conn: conn.clone(),
            node: node.clone(),
            keys: keys.clone(),
            overflowed: overflowed.clone(),
            queued_bytes: queued_bytes.clone(),
            need_resync: false,
        };
        let members_hook: Arc<OnceLock<MembersHook>> = Arc::new(OnceLock::new());
        let subscriber = Subscriber {
            client,
            node: node.clone(),
            keys: keys.clone(),
            local: local.clone(),
            tx: tx.clone(),
            members_hook: members_hook.clone(),
        };
        let (departed_tx, departed_rx) = mpsc::channel(DEPARTURES_QUEUE);
        let tasks = vec![
            tokio::spawn(publisher.run(rx, close_publisher.clone())),
            tokio::spawn(subscriber.run(stop.clone())),
            tokio::spawn(restate_counts(local.clone(), tx.clone(), stop.clone())),
            tokio::spawn(heartbeat(
                conn.clone(),
                keys.clone(),
                node.clone(),
                stop.clone(),
                departed_tx,
            )),
        ];
        tracing::info!(node = %node, cluster, "joined cluster");
        Ok(RedisRouter {
            local,
            node,
            keys,
            tx,
            overflowed,
            queued_bytes,
            conn,
            stop,
            close_publisher,
            tasks: Mutex::new(tasks),
            departures: Mutex::new(Some(departed_rx)),
            members_hook,
        })
    }

    /// This node's id in the cluster.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// The live nodes on which `user` has connections.
    pub async fn online_nodes(&self, user: UserId) -> Result<Vec<String>, ClusterError> {
        let mut conn = self.conn.clone();
        let counts: HashMap<String, i64> = redis::cmd("HGETALL")
            .arg(self.keys.presence(user))
            .query_async(&mut conn)
            .await?;
        let alive = alive_nodes(&mut conn, &self.keys).await?;
        let mut nodes: Vec<String> = counts
            .into_iter()
            .filter(|(node, count)| *count > 0 && alive.contains(node))
            .map(|(node, _)| node)
            .collect();
        nodes.sort();
        Ok(nodes)
    }

    /// Which of `users` have connections on other live nodes: two round
    /// trips whatever their number (the live nodes, then one pipeline of
    /// presence hashes). This node's own entries are skipped: its local
    /// router is the truth for it, and Redis may lag behind it.
    async fn online_elsewhere(&self, users: &[UserId]) -> redis::RedisResult<Vec<UserId>> {
        let mut conn = self.conn.clone();
        let alive = alive_nodes(&mut conn, &self.keys).await?;
        let mut pipe = redis::pipe();
        for user in users {
            pipe.cmd("HGETALL").arg(self.keys.presence(*user));
        }
        let counts: Vec<HashMap<String, i64>> = pipe.query_async(&mut conn).await?;
        Ok(users
            .iter()
            .zip(counts)
            .filter(|(_, counts)| {
                counts.iter().any(|(node, count)| {
                    *count > 0 && node.as_str() != &*self.node && alive.contains(node)
                })
            })
            .map(|(user, _)| *user)
            .collect())
    }

    /// Token tags of `user` with connections on other live nodes.
    async fn tokens_elsewhere(&self, user: UserId) -> redis::RedisResult<Vec<u64>> {
        let mut conn = self.conn.clone();
        let alive = alive_nodes(&mut conn, &self.keys).await?;
        let counts: HashMap<String, i64> = redis::cmd("HGETALL")
            .arg(self.keys.devices(user))
            .query_async(&mut conn)
            .await?;
        Ok(counts
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .filter_map(|(field, _)| {
                let (node, tag) = field.split_once(':')?;
                (node != &*self.node && alive.iter().any(|n| n == node))
                    .then(|| tag.parse().ok())
                    .flatten()
            })
            .collect())
    }

    fn enqueue(&self, event: BusEvent) {
        let bytes = event.frame_bytes();
        if self.queued_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes > QUEUE_BYTES
            || self.tx.try_send(event).is_err()
        {
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }
}

#[async_trait::async_trait]
impl Router for RedisRouter {
    fn session_opened(&self, user: UserId, handle: SessionHandle) -> usize {
        let token_tag = handle.token_tag;
        let count = self.local.session_opened(user, handle);
        self.enqueue(BusEvent::Presence {
            user,
            token_tag,
            delta: 1,
        });
        count
    }

    fn session_closed(&self, user: UserId, session: SessionId) -> Option<usize> {
        let (left, token_tag) = self.local.remove_counted(user, session)?;
        self.enqueue(BusEvent::Presence {
            user,
            token_tag,
            delta: -1,
        });
        if left == 0 {
            self.enqueue(BusEvent::Left { user });
        }
        Some(left)
    }

    async fn online_tokens(&self, user: UserId) -> HashSet<u64> {
        let mut tags = self.local.tags_of(user);
        match self.tokens_elsewhere(user).await {
            Ok(found) => tags.extend(found),
            Err(e) => tracing::warn!(error = %e, "device lookup in Redis failed"),
        }
        tags
    }

    fn departures(&self) -> Option<mpsc::Receiver<Vec<UserId>>> {
        self.departures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    async fn online(&self, users: &[UserId]) -> HashSet<UserId> {
        let mut online = self.local.online_here(users);
        let rest: Vec<UserId> = users
            .iter()
            .copied()
            .filter(|u| !online.contains(u))
            .collect();
        if rest.is_empty() {
            return online;
        }
        match self.online_elsewhere(&rest).await {
            Ok(found) => online.extend(found),
            Err(e) => tracing::warn!(error = %e, "presence lookup in Redis failed"),
        }
        online
    }

    fn deliver(&self, users: &[UserId], frame: &Bytes, except: Option<SessionId>) -> usize {
        let delivered = self.local.deliver(users, frame, except);
        self.enqueue(BusEvent::Deliver {
            users: users.to_vec(),
            frame: frame.clone(),
        });
        delivered
    }

    fn members_changed(&self, conv: ConvId) {
        self.enqueue(BusEvent::Members { conv });
    }

    fn on_members_changed(&self, hook: MembersHook) {
        let _ = self.members_hook.set(hook);
    }

    fn broadcast_all(&self, frame: &Bytes) {
        self.local.broadcast(frame);
        self.enqueue(BusEvent::Broadcast {
            frame: frame.clone(),
        });
    }

    fn kick_token(
        &self,
        user: UserId,
        token_tag: u64,
        except: Option<SessionId>,
        reason: KickReason,
    ) {
        self.local.kick_token(user, token_tag, except, reason);
        self.enqueue(BusEvent::Kick {
            user,
            token_tag,
            reason,
        });
    }

    async fn flush(&self) {
        self.close_publisher.cancel();
        self.stop.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        // Leave the cluster at once rather than after NODE_TTL.
        let mut conn = self.conn.clone();
        let _ = redis::cmd("ZREM")
            .arg(&self.keys.nodes)
            .arg(&*self.node)
            .query_async::<()>(&mut conn)
            .await;
    }
}

/// A random node id: 16 hex digits.
fn node_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_secs() -> f64 {
    crate::clock::now_ms() as f64 / 1000.0
}

async fn alive_nodes(conn: &mut ConnectionManager, keys: &Keys) -> redis::RedisResult<Vec<String>> {
    redis::cmd("ZRANGEBYSCORE")
        .arg(&keys.nodes)
        .arg(now_secs() - NODE_TTL.as_secs_f64())
        .arg("+inf")
        .query_async(conn)
        .await
}

/// Sends queued events: bus events as one envelope per batch, presence as
/// hash updates, all in one pipeline.
struct Publisher {
    conn: ConnectionManager,
    node: Arc<str>,
    keys: Keys,
    overflowed: Arc<AtomicBool>,
    queued_bytes: Arc<AtomicUsize>,
    /// Other nodes may have missed events: tell them to resync.
    need_resync: bool,
}

impl Publisher {
    async fn run(mut self, mut rx: mpsc::Receiver<BusEvent>, close: CancellationToken) {
        let mut batch = Vec::with_capacity(MAX_ENVELOPE_EVENTS);
        let mut retry = tokio::time::interval(Duration::from_secs(1));
        loop {
            let mut bytes = 0;
            tokio::select! {
                first = rx.recv() => match first {
                    Some(event) => {
                        bytes += event.frame_bytes();
                        batch.push(event);
                    }
                    None => break,
                },
                _ = retry.tick(), if self.need_resync => {}
                () = close.cancelled() => {
                    // Shutting down: send what is queued, then stop.
                    rx.close();
                    while let Ok(event) = rx.try_recv() {
                        bytes += event.frame_bytes();
                        batch.push(event);
                        if batch.len() >= MAX_ENVELOPE_EVENTS || bytes >= MAX_ENVELOPE_BYTES {
                            self.publish(&mut batch, &mut bytes).await;
                        }
                    }
                    self.publish(&mut batch, &mut bytes).await;
                    break;
                }
            }
            while batch.len() < MAX_ENVELOPE_EVENTS && bytes < MAX_ENVELOPE_BYTES {
                match rx.try_recv() {
                    Ok(event) => {
                        bytes += event.frame_bytes();
                        batch.push(event);
                    }
                    Err(_) => break,
                }
            }
            self.publish(&mut batch, &mut bytes).await;
        }
    }

    /// Publish `batch` (holding `bytes` of frames) as one envelope and
    /// empty it.
    async fn publish(&mut self, batch: &mut Vec<BusEvent>, bytes: &mut usize) {
        self.queued_bytes.fetch_sub(*bytes, Ordering::AcqRel);
        *bytes = 0;
        if self.overflowed.swap(false, Ordering::Relaxed) {
            self.need_resync = true;
        }
        let mut pipe = redis::pipe();
        if let Some(envelope) = encode_envelope(&self.node, batch, self.need_resync) {
            pipe.cmd("PUBLISH")
                .arg(&self.keys.bus)
                .arg(envelope)
                .ignore();
        }
        let node_users = self.keys.node_users(&self.node);
        for event in batch.iter() {
            match event {
                BusEvent::Presence {
                    user,
                    token_tag,
                    delta,
                } => {
                    let key = self.keys.devices(*user);
                    let field = format!("{}:{token_tag}", self.node);
                    pipe.cmd("HINCRBY")
                        .arg(&key)
                        .arg(field)
                        .arg(*delta)
                        .ignore();
                    pipe.cmd("EXPIRE").arg(&key).arg(PRESENCE_TTL_SECS).ignore();
                }
                BusEvent::DeviceSet {
                    user,
                    token_tag,
                    count,
                } => {
                    let key = self.keys.devices(*user);
                    let field = format!("{}:{token_tag}", self.node);
                    pipe.cmd("HSET").arg(&key).arg(field).arg(*count).ignore();
                    pipe.cmd("EXPIRE").arg(&key).arg(PRESENCE_TTL_SECS).ignore();
                    continue;
                }
                _ => {}
            }
            match event {
                BusEvent::Presence { user, delta, .. } if *delta > 0 => {
                    pipe.cmd("SADD").arg(&node_users).arg(*user).ignore();
                }
                BusEvent::PresenceSet { user, count } if *count > 0 => {
                    pipe.cmd("SADD").arg(&node_users).arg(*user).ignore();
                }
                BusEvent::Left { user } => {
                    pipe.cmd("SREM").arg(&node_users).arg(*user).ignore();
                    continue;
                }
                _ => {}
            }
            let (user, command, value) = match event {
                BusEvent::Presence { user, delta, .. } => (user, "HINCRBY", *delta),
                BusEvent::PresenceSet { user, count } => (user, "HSET", *count),
                _ => continue,
            };
            let key = self.keys.presence(*user);
            pipe.cmd(command)
                .arg(&key)
                .arg(&*self.node)
                .arg(value)
                .ignore();
            pipe.cmd("EXPIRE").arg(&key).arg(PRESENCE_TTL_SECS).ignore();
        }
        batch.clear();
        if pipe.cmd_iter().next().is_none() {
            // Nothing for Redis (e.g. the final flush of an empty queue).
            return;
        }
        match pipe.query_async::<()>(&mut self.conn).await {
            Ok(()) => self.need_resync = false,
            Err(e) => {
                // Other nodes' clients missed these pushes. They are stored,
                // so a resync notice is all that is owed; retried until sent.
                tracing::warn!(error = %e, "publishing to the cluster bus failed");
                self.need_resync = true;
            }
        }
    }
}

/// The bus wire format: one JSON object per `PUBLISH`.
///
/// `{"node":"<id>","resync":false,"events":[{"d":[<user ids>],"f":<frame>},{"k":[<user>,<token tag>]}]}`
///
/// Frames are JSON already and are embedded as they are, not re-encoded.
/// Returns `None` when there is nothing for other nodes.
fn encode_envelope(node: &str, batch: &[BusEvent], resync: bool) -> Option<Vec<u8>> {
    let relevant = batch.iter().any(|e| {
        matches!(
            e,
            BusEvent::Deliver { .. }
                | BusEvent::Kick { .. }
                | BusEvent::Broadcast { .. }
                | BusEvent::Members { .. }
        )
    });
    if !relevant && !resync {
        return None;
    }
    let mut out = Vec::with_capacity(64 + batch.len() * 256);
    // Writing into a Vec cannot fail.
    let _ = write!(out, r#"{{"node":"{node}","resync":{resync},"events":["#);
    let mut first = true;
    for event in batch {
        let comma = if first { "" } else { "," };
        match event {
            BusEvent::Deliver { users, frame } => {
                let _ = write!(out, r#"{comma}{{"d":["#);
                for (i, user) in users.iter().enumerate() {
                    let _ = write!(out, "{}{user}", if i == 0 { "" } else { "," });
                }
                out.extend_from_slice(br#"],"f":"#);
                out.extend_from_slice(frame);
                out.push(b'}');
            }
            BusEvent::Kick {
                user,
                token_tag,
                reason,
            } => {
                let reason = reason.as_str();
                let _ = write!(out, r#"{comma}{{"k":[{user},{token_tag}],"r":"{reason}"}}"#);
            }
            BusEvent::Broadcast { frame } => {
                let _ = write!(out, r#"{comma}{{"b":"#);
                out.extend_from_slice(frame);
                out.push(b'}');
            }
            BusEvent::Members { conv } => {
                let _ = write!(out, r#"{comma}{{"g":{conv}}}"#);
            }
            BusEvent::Presence { .. }
            | BusEvent::PresenceSet { .. }
            | BusEvent::DeviceSet { .. }
            | BusEvent::Left { .. } => {
                continue;
            }
        }
        first = false;
    }
    out.extend_from_slice(b"]}");
    Some(out)
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    node: &'a str,
    #[serde(default)]
    resync: bool,
    #[serde(borrow, default)]
    events: Vec<WireEvent<'a>>,
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(default)]
    d: Option<Vec<UserId>>,
    #[serde(borrow, default)]
    f: Option<&'a RawValue>,
    #[serde(default)]
    k: Option<(UserId, u64)>,
    /// A frame for every connection.
    #[serde(borrow, default)]
    b: Option<&'a RawValue>,
    /// Why the kick (absent from older nodes: a logout).
    #[serde(borrow, default)]
    r: Option<&'a str>,
    /// A group whose members changed.
    #[serde(default)]
    g: Option<ConvId>,
}

/// Receives other nodes' envelopes and delivers them locally; resubscribes
/// after any outage and then tells local clients to resync.
struct Subscriber {
    client: redis::Client,
    node: Arc<str>,
    keys: Keys,
    local: Arc<LocalRouter>,
    /// For re-announcing presence after Redis comes back (it keeps nothing).
    tx: mpsc::Sender<BusEvent>,
    members_hook: Arc<OnceLock<MembersHook>>,
}

impl Subscriber {
    async fn run(self, stop: CancellationToken) {
        use futures::StreamExt;
        let mut connected_before = false;
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            match self.subscribe().await {
                Ok(pubsub) => {
                    backoff = Duration::from_millis(100);
                    if connected_before {
                        tracing::info!(
                            "cluster bus subscription restored; asking clients to resync"
                        );
                        self.local.broadcast(&Push::Resync(Empty {}).encode());
                        self.reannounce_presence();
                    }
                    connected_before = true;
                    let mut messages = pubsub.into_on_message();
                    loop {
                        tokio::select! {
                            () = stop.cancelled() => return,
                            message = messages.next() => match message {
                                Some(message) => self.handle(message.get_payload_bytes()),
                                None => break,
                            },
                        }
                    }
                    tracing::warn!("cluster bus subscription lost; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot subscribe to the cluster bus; retrying")
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn subscribe(&self) -> redis::RedisResult<redis::aio::PubSub> {
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.keys.bus).await?;
            Ok(pubsub)
        };
        match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "subscribing timed out",
            ))),
        }
    }

    fn handle(&self, payload: &[u8]) {
        let envelope: Envelope<'_> = match serde_json::from_slice(payload) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a malformed cluster bus message");
                return;
            }
        };
        if envelope.node == &*self.node {
            return;
        }
        if envelope.resync {
            self.local.broadcast(&Push::Resync(Empty {}).encode());
        }
        for event in envelope.events {
            if let (Some(users), Some(frame)) = (event.d, event.f) {
                let frame = Bytes::copy_from_slice(frame.get().as_bytes());
                self.local.deliver(&users, &frame, None);
            } else if let Some(frame) = event.b {
                let frame = Bytes::copy_from_slice(frame.get().as_bytes());
                self.local.broadcast(&frame);
            } else if let Some(conv) = event.g {
                if let Some(hook) = self.members_hook.get() {
                    (hook.0)(conv);
                }
            } else if let Some((user, token_tag)) = event.k {
                let reason = event
                    .r
                    .and_then(KickReason::parse)
                    .unwrap_or(KickReason::Logout);
                self.local.kick_token(user, token_tag, None, reason);
            }
        }
    }

    /// Redis may have restarted empty: state this node's connection counts
    /// again, as absolute values so that nothing is counted twice if it
    /// had kept them.
    fn reannounce_presence(&self) {
        announce_counts(&self.local, &self.tx);
    }
}

/// State this node's connection counts (per user and per token) in Redis
/// as absolute values: after Redis came back empty, and periodically so
/// that the presence hashes of long-lived connections never expire.
fn announce_counts(local: &LocalRouter, tx: &mpsc::Sender<BusEvent>) {
    for (user, count) in local.user_counts() {
        let _ = tx.try_send(BusEvent::PresenceSet {
            user,
            count: count as i64,
        });
    }
    for (user, token_tag, count) in local.tag_counts() {
        let _ = tx.try_send(BusEvent::DeviceSet {
            user,
            token_tag,
            count: count as i64,
        });
    }
}

/// How often a node restates its counts (well within `PRESENCE_TTL_SECS`).
const RESTATE_EVERY: Duration = Duration::from_secs(3600);

/// Restate this node's counts every [`RESTATE_EVERY`] until stopped.
async fn restate_counts(
    local: Arc<LocalRouter>,
    tx: mpsc::Sender<BusEvent>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(RESTATE_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => announce_counts(&local, &tx),
        }
    }
}

/// Users handed to the presence service per message of the departures
/// channel, and messages it may hold.
const DEPARTURES_CHUNK: usize = 1000;
const DEPARTURES_QUEUE: usize = 64;

/// Claim each node that stopped beating (once, cluster-wide), clear its
/// presence entries and hand its users to `departed`.
async fn reap_dead_nodes(
    conn: &mut ConnectionManager,
    keys: &Keys,
    me: &str,
    departed: &mpsc::Sender<Vec<UserId>>,
) -> redis::RedisResult<()> {
    let now = now_secs();
    let dead: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(&keys.nodes)
        .arg(now - 3600.0)
        .arg(format!("({}", now - NODE_TTL.as_secs_f64()))
        .query_async(conn)
        .await?;
    for node in dead.into_iter().filter(|n| n != me) {
        let claimed: Option<String> = redis::cmd("SET")
            .arg(keys.reaped(&node))
            .arg(me)
            .arg("NX")
            .arg("EX")
            .arg(7200)
            .query_async(conn)
            .await?;
        if claimed.is_none() {
            continue;
        }
        let users: Vec<UserId> = redis::cmd("SMEMBERS")
            .arg(keys.node_users(&node))
            .query_async(conn)
            .await?;
        let mut pipe = redis::pipe();
        for user in &users {
            pipe.cmd("HDEL")
                .arg(keys.presence(*user))
                .arg(&node)
                .ignore();
        }
        pipe.cmd("DEL").arg(keys.node_users(&node)).ignore();
        pipe.cmd("ZREM").arg(&keys.nodes).arg(&node).ignore();
        pipe.query_async::<()>(conn).await?;
        tracing::warn!(node, users = users.len(), "reaped a dead cluster node");
        for chunk in users.chunks(DEPARTURES_CHUNK) {
            let _ = departed.send(chunk.to_vec()).await;
        }
    }
    Ok(())
}

/// Keep this node's heartbeat fresh, forget long-dead nodes, and reap
/// newly dead ones.
async fn heartbeat(
    mut conn: ConnectionManager,
    keys: Keys,
    node: Arc<str>,
    stop: CancellationToken,
    departed: mpsc::Sender<Vec<UserId>>,
) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = now_secs();
        let result = redis::pipe()
            .cmd("ZADD")
            .arg(&keys.nodes)
            .arg(now)
            .arg(&*node)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&keys.nodes)
            .arg("-inf")
            .arg(now - 3600.0)
            .ignore()
            .query_async::<()>(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "cluster heartbeat failed");
            continue;
        }
        if let Err(e) = reap_dead_nodes(&mut conn, &keys, &node, &departed).await {
            tracing::warn!(error = %e, "reaping dead cluster nodes failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let frame = Push::Resync(Empty {}).encode();
        let batch = vec![
            BusEvent::Deliver {
                users: vec![1, 2],
                frame: frame.clone(),
            },
            BusEvent::Presence {
                user: 1,
                token_tag: 9,
                delta: 1,
            },
            BusEvent::Kick {
                user: 3,
                token_tag: u64::MAX,
                reason: KickReason::Replaced,
            },
        ];
        let bytes = encode_envelope("n1", &batch, true).expect("envelope");
        let envelope: Envelope<'_> = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(envelope.node, "n1");
        assert!(envelope.resync);
        assert_eq!(envelope.events.len(), 2);
        assert_eq!(envelope.events[0].d, Some(vec![1, 2]));
        assert_eq!(
            envelope.events[0].f.map(|f| f.get().as_bytes().to_vec()),
            Some(frame.to_vec())
        );
        assert_eq!(envelope.events[1].k, Some((3, u64::MAX)));
        assert_eq!(envelope.events[1].r, Some("replaced"));
    }

    #[test]
    fn a_kick_from_an_older_node_is_a_logout() {
        let old = br#"{"node":"n0","events":[{"k":[3,7]}]}"#;
        let envelope: Envelope<'_> = serde_json::from_slice(old).expect("valid JSON");
        assert_eq!(envelope.events[0].k, Some((3, 7)));
        assert_eq!(
            envelope.events[0].r.and_then(KickReason::parse),
            None,
            "decoded as a logout by the subscriber"
        );
    }

    #[test]
    fn presence_alone_needs_no_envelope() {
        let batch = vec![BusEvent::Presence {
            user: 1,
            token_tag: 9,
            delta: -1,
        }];
        assert!(encode_envelope("n1", &batch, false).is_none());
        assert!(encode_envelope("n1", &batch, true).is_some());
    }
}
