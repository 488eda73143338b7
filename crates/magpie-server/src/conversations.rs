//! The conversations service: which conversation a request means, who is
//! in it, the conversation list and read marks.
//!
//! It is the one place that turns a username into a conversation
//! ([`Conversations::direct_with`]); everything below it (writer, router,
//! store, cluster bus) deals in conversation ids and member sets only.

use crate::error::{from_store, invalid_args};
use crate::members::{MemberSets, Members, NotSender};
use crate::page::{ByteBudget, clamp_limit};
use crate::writer::{MessageWriter, ReadJob};
use magpie_proto::limits::{
    CONVERSATIONS_LIMIT_DEFAULT, CONVERSATIONS_LIMIT_MAX, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX,
    READ_RECEIPTS_MAX, normalize_username,
};
use magpie_proto::{
    ConvCursor, ConvId, Conversation, ConversationsOk, ErrorBody, ErrorCode, ReadBy, ReadByOk,
    ReadMark, ReadReceipts, ReadReceiptsOk, Seq, UserId,
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

    /// `conv` with its members, if `user` may send there at `now`:
    /// otherwise `unknown_conversation` for a non-member (the same answer
    /// as for a conversation that does not exist, so ids cannot be probed)
    /// or `muted`.
    ///
    /// Members come from the member-set cache (`members.rs`), which every
    /// group change clears for its group, and which routing refreshes when
    /// it finds it older than the database.
    pub async fn target(&self, user: UserId, conv: ConvId, now: i64) -> Result<Target, ErrorBody> {
        match self
            .sets
            .sender(conv, user, now)
            .await
            .map_err(from_store)?
        {
            Ok(members) => Ok(Target { conv, members }),
            Err(refused) => Err(not_sender(refused)),
        }
    }

    /// One page of `user`'s conversation list: pinned rows first, hidden
    /// ones left out, each with the user's settings of it. Rows carry an
    /// excerpt of the last message, not the message, and the page stops early rather
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
                unread: (c.last_seq - c.read_seq - c.quiet_unread).max(0),
                last: c.last,
                active_ts: c.active_ts,
                max_seq: c.last_seq,
                read_seq: c.read_seq,
                mentioned: c.mentioned,
                pinned: c.pinned,
                muted_until: c.muted_until,
                marked_unread: c.marked_unread,
                draft: c.draft,
            })
            .collect();
        let (conversations, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |last| ConvCursor {
                pinned: last.pinned,
                active_ts: last.active_ts,
                conv: last.conv,
            });
        Ok(ConversationsOk {
            conversations,
            next,
        })
    }

    /// Move `reader`'s read mark in `conv` to `seq`, through the writer so
    /// that read marks share the message batches' transactions and syncs.
    /// The receiver yields the resulting mark once it is durable. In a 1:1
    /// conversation the other member gets a `receipt` push.
    pub async fn read(
        &self,
        reader: &crate::messages::Actor,
        conv: ConvId,
        seq: Seq,
    ) -> Result<oneshot::Receiver<Result<ReadMark, ErrorBody>>, ErrorBody> {
        let user = reader.user_id;
        if seq < 0 {
            return Err(invalid_args("seq must not be negative"));
        }
        let (reply, rx) = oneshot::channel();
        self.writer
            .mark_read(ReadJob {
                mark: MarkRead { user, conv, seq },
                reader: reader.username.clone(),
                origin: Some(reader.session),
                reply,
            })
            .await?;
        Ok(rx)
    }
}

impl Conversations {
    /// `read_receipts`: how many members have read each of the caller's
    /// own entries. Membership is checked in the database.
    pub async fn receipts(
        &self,
        me: UserId,
        req: ReadReceipts,
    ) -> Result<ReadReceiptsOk, ErrorBody> {
        if req.seqs.is_empty() || req.seqs.len() > READ_RECEIPTS_MAX {
            return Err(invalid_args(format!(
                "seqs must name 1-{READ_RECEIPTS_MAX} entries"
            )));
        }
        self.require_member_now(me, req.conv).await?;
        let counts = self
            .store
            .read_counts(req.conv, me, &req.seqs)
            .await
            .map_err(from_store)?;
        Ok(ReadReceiptsOk {
            conv: req.conv,
            counts,
        })
    }

    /// `read_by`: who has read (or not) one of the caller's own entries.
    pub async fn read_by(&self, me: UserId, req: ReadBy) -> Result<ReadByOk, ErrorBody> {
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        self.require_member_now(me, req.conv).await?;
        let own = self
            .store
            .read_counts(req.conv, me, &[req.seq])
            .await
            .map_err(from_store)?;
        if own.is_empty() {
            return Err(invalid_args(format!(
                "seq {} is not an entry you sent in this conversation",
                req.seq
            )));
        }
        let rows = self
            .store
            .readers(
                req.conv,
                me,
                req.seq,
                req.unread,
                req.after.unwrap_or(0),
                limit + 1,
            )
            .await
            .map_err(from_store)?;
        let (users, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |r| r.user_id);
        Ok(ReadByOk { users, next })
    }

    /// `unknown_conversation` unless `user` is a member of `conv` now, by
    /// the database (reads that reveal others' state do not trust a cache
    /// another node may not have refreshed yet).
    pub async fn require_member_now(&self, user: UserId, conv: ConvId) -> Result<(), ErrorBody> {
        match self
            .store
            .joined_seq(user, conv)
            .await
            .map_err(from_store)?
        {
            Some(_) => Ok(()),
            None => Err(unknown_conversation()),
        }
    }
}

/// The answer to a sender a member set refuses.
pub fn not_sender(refused: NotSender) -> ErrorBody {
    match refused {
        NotSender::NotMember => unknown_conversation(),
        NotSender::Muted => ErrorBody::new(
            ErrorCode::Muted,
            "you are muted in this group, or only admins may speak now",
        ),
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
