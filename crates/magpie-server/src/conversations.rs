//! The conversations service: which conversation a request means, who is
//! in it, the conversation list and read marks.
//!
//! It is the one place that turns a username into a conversation
//! ([`Conversations::direct_with`]); everything below it (writer, router,
//! store, cluster bus) deals in conversation ids and member sets only.

use crate::error::{from_store, invalid_args};
use crate::members::{MemberSets, Members};
use crate::page::{ByteBudget, clamp_limit};
use crate::writer::{MessageWriter, ReadJob};
use magpie_proto::limits::{
    CONVERSATIONS_LIMIT_DEFAULT, CONVERSATIONS_LIMIT_MAX, normalize_username,
};
use magpie_proto::{
    ConvCursor, ConvId, Conversation, ConversationsOk, ErrorBody, ErrorCode, ReadMark, Seq, UserId,
};
use magpie_store::{MarkRead, Store};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The conversations service.
#[derive(Debug)]
pub struct Conversations {
    store: Arc<dyn Store>,
    writer: MessageWriter,
    max_frame_bytes: usize,
    users: BoundedCache<String, UserId>,
    sets: Arc<MemberSets>,
}

/// A conversation and everyone in it, as the writer and router need it.
#[derive(Debug, Clone)]
pub struct Target {
    pub conv: ConvId,
    pub members: Arc<Members>,
}

impl Conversations {
    pub fn new(
        store: Arc<dyn Store>,
        writer: MessageWriter,
        sets: Arc<MemberSets>,
        max_frame_bytes: usize,
    ) -> Self {
        Conversations {
            store,
            writer,
            max_frame_bytes,
            users: BoundedCache::new(100_000),
            sets,
        }
    }

    /// Resolve a username to a user id, or `unknown_user`. Accounts are
    /// never renamed or deleted, so a positive answer is cached for good
    /// and only misses reach the database.
    pub async fn resolve_user(&self, name: &str) -> Result<UserId, ErrorBody> {
        let unknown = || ErrorBody::new(ErrorCode::UnknownUser, format!("no user named {name:?}"));
        let name = normalize_username(name).ok_or_else(unknown)?;
        if let Some(id) = self.users.get(&name) {
            return Ok(id);
        }
        let record = self
            .store
            .user_by_name(&name)
            .await
            .map_err(from_store)?
            .ok_or_else(unknown)?;
        self.users.insert(name, record.id);
        Ok(record.id)
    }

    /// The 1:1 conversation of `me` with the user named `peer`, created on
    /// first use.
    pub async fn direct_with(&self, me: UserId, peer: &str, now: i64) -> Result<Target, ErrorBody> {
        let peer = self.resolve_user(peer).await?;
        if peer == me {
            return Err(invalid_args("cannot send a message to yourself"));
        }
        let conv = self
            .store
            .open_direct(me, peer, now)
            .await
            .map_err(from_store)?;
        // Cached after the first message: no allocation per send.
        let members = self.sets.put_direct(conv, me, peer);
        Ok(Target { conv, members })
    }

    /// The 1:1 conversation of `me` with `peer`, if they have one.
    pub async fn existing_direct(
        &self,
        me: UserId,
        peer: &str,
    ) -> Result<Option<ConvId>, ErrorBody> {
        let peer = self.resolve_user(peer).await?;
        self.store.direct_conv(me, peer).await.map_err(from_store)
    }

    /// `conv` with its members, if `user` is one of them; otherwise
    /// `unknown_conversation` (the same answer as for a conversation that
    /// does not exist, so ids cannot be probed).
    ///
    /// Members come from the member-set cache (`members.rs`), which every
    /// group change on this node clears for its group, and which message
    /// batches refresh when they find it older than the database.
    pub async fn target(&self, user: UserId, conv: ConvId) -> Result<Target, ErrorBody> {
        match self.sets.get(conv).await.map_err(from_store)? {
            Some(members) if members.get(user).is_some() => Ok(Target { conv, members }),
            _ => Err(unknown_conversation()),
        }
    }

    /// Whether `user` is a member of `conv`, or `unknown_conversation`.
    pub async fn require_member(&self, user: UserId, conv: ConvId) -> Result<(), ErrorBody> {
        self.target(user, conv).await.map(drop)
    }

    /// One page of `user`'s conversation list. Rows carry an excerpt of
    /// the last message, not the message, and the page stops early rather
    /// than outgrow a frame: the answer fits the frame limit whatever was
    /// sent to the user.
    pub async fn list(
        &self,
        user: UserId,
        req: magpie_proto::Conversations,
    ) -> Result<ConversationsOk, ErrorBody> {
        let limit = clamp_limit(
            req.limit,
            CONVERSATIONS_LIMIT_DEFAULT,
            CONVERSATIONS_LIMIT_MAX,
        )?;
        // One extra row tells whether another page exists.
        let rows = self
            .store
            .conversations(user, req.after, limit + 1)
            .await
            .map_err(from_store)?;
        let rows = rows
            .into_iter()
            .map(|c| Conversation {
                conv: c.conv,
                kind: c.kind,
                peer: c.peer,
                name: c.name,
                avatar: c.avatar,
                unread: (c.last_seq - c.read_seq).max(0),
                last: c.last,
                active_ts: c.active_ts,
                max_seq: c.last_seq,
                read_seq: c.read_seq,
            })
            .collect();
        let (conversations, more) = ByteBudget::new(self.max_frame_bytes).page(rows, limit);
        let next = match conversations.last() {
            Some(last) if more => Some(ConvCursor {
                active_ts: last.active_ts,
                conv: last.conv,
            }),
            _ => None,
        };
        Ok(ConversationsOk {
            conversations,
            next,
        })
    }

    /// Move `user`'s read mark in `conv` to `seq`, through the writer so
    /// that read marks share the message batches' transactions and syncs.
    /// The receiver yields the resulting mark once it is durable.
    pub async fn read(
        &self,
        user: UserId,
        conv: ConvId,
        seq: Seq,
        origin: crate::router::SessionId,
    ) -> Result<oneshot::Receiver<Result<ReadMark, ErrorBody>>, ErrorBody> {
        if seq < 0 {
            return Err(invalid_args("seq must not be negative"));
        }
        let (reply, rx) = oneshot::channel();
        self.writer
            .mark_read(ReadJob {
                mark: MarkRead { user, conv, seq },
                origin: Some(origin),
                reply,
            })
            .await?;
        Ok(rx)
    }
}

/// The answer for a conversation that does not exist or is not the
/// caller's: the two are indistinguishable on purpose.
pub fn unknown_conversation() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnknownConversation,
        "no such conversation, or you are not in it",
    )
}

/// A map that is simply cleared when it reaches its bound: for caches of
/// facts that never change, where a miss only costs a query.
#[derive(Debug)]
struct BoundedCache<K, V> {
    map: Mutex<HashMap<K, V>>,
    max: usize,
}

impl<K: Eq + Hash, V: Clone> BoundedCache<K, V> {
    fn new(max: usize) -> Self {
        BoundedCache {
            map: Mutex::new(HashMap::new()),
            max,
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn insert(&self, key: K, value: V) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.max {
            map.clear();
        }
        map.insert(key, value);
    }
}
