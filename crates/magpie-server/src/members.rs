//! The member-set cache: who is in each conversation, held in memory so
//! that sending and routing never query the database per message or per
//! member.
//!
//! Each entry is a conversation's [`MemberSet`] with the version it was
//! read at (`conversations.members_seq`: the seq of the newest group
//! event). Staleness is caught by comparison, not by timing: every message
//! batch reads the versions of the groups it writes to under their locks
//! ([`magpie_store::WriteBatch::versions`]), and routing asks for a set at
//! least that new ([`MemberSets::at_least`]), reloading when the cached
//! one is older. A message at seq S then goes to the members whose
//! `joined_seq` < S: never to someone who joined after it (their set is
//! newer but they are filtered out) and never to someone removed before it
//! (absent from any set at least as new as the message). This holds across
//! nodes without any invalidation message: the database orders group
//! changes and messages, and every node compares against it.
//!
//! Memory: one [`MemberEntry`] (32 bytes) plus one user id (8 bytes) per
//! membership, so a 10,000-member group costs about 400 KB; the cache is
//! bounded by the total of memberships it holds and simply cleared when
//! full (a miss costs one query).

use magpie_proto::{ConvId, GroupRole, Seq, UserId};
use magpie_store::{MemberEntry, MemberSet, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Memberships held before the cache is cleared: about 40 MB.
const MEMBERSHIPS_MAX: usize = 1_000_000;

/// A cached conversation: its member set and the user ids routing needs.
#[derive(Debug)]
pub struct Members {
    pub set: MemberSet,
    /// Every member, ascending: the recipients of an entry newer than
    /// every join.
    pub users: Arc<[UserId]>,
    /// The highest `joined_seq` of any member.
    max_joined: Seq,
}

impl Members {
    fn new(set: MemberSet) -> Members {
        let users: Arc<[UserId]> = set.members.iter().map(|m| m.user).collect();
        let max_joined = set.members.iter().map(|m| m.joined_seq).max().unwrap_or(0);
        Members {
            set,
            users,
            max_joined,
        }
    }

    /// `user`'s membership, if they are a member.
    pub fn get(&self, user: UserId) -> Option<&MemberEntry> {
        self.set
            .members
            .binary_search_by_key(&user, |m| m.user)
            .ok()
            .map(|at| &self.set.members[at])
    }

    /// Who may see the entry at `seq`: members who joined before it. The
    /// shared list when everyone did (the usual case: no copy).
    pub fn recipients_at(&self, seq: Seq) -> Arc<[UserId]> {
        if seq > self.max_joined {
            return self.users.clone();
        }
        self.set
            .members
            .iter()
            .filter(|m| m.joined_seq < seq)
            .map(|m| m.user)
            .collect()
    }

    /// Whether `user` may send here at `now`: a member, and in a group
    /// neither muted nor silenced by mute-all (owner and admins never are).
    pub fn allows(&self, user: UserId, now: i64) -> Result<(), NotSender> {
        match self.get(user) {
            None => Err(NotSender::NotMember),
            Some(m) if m.role >= GroupRole::Admin => Ok(()),
            Some(m) if self.set.muted_all || m.muted_until > now => Err(NotSender::Muted),
            Some(_) => Ok(()),
        }
    }
}

/// Why a member set refuses a sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSender {
    NotMember,
    Muted,
}

/// The cache, shared by the conversations service and the writer.
#[derive(Debug)]
pub struct MemberSets {
    store: Arc<dyn Store>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<ConvId, Arc<Members>>,
    memberships: usize,
    /// Bumped by every [`MemberSets::forget`]. A load that began before a
    /// forget may have read the database before the change committed, so
    /// it returns what it read but does not cache it.
    forgets: u64,
}

impl MemberSets {
    pub fn new(store: Arc<dyn Store>) -> MemberSets {
        MemberSets {
            store,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached set of `conv`, loaded on a miss; `None` if the
    /// conversation has no members (unknown or dissolved).
    pub async fn get(&self, conv: ConvId) -> Result<Option<Arc<Members>>, StoreError> {
        if let Some(found) = self.cached().map.get(&conv) {
            return Ok(Some(found.clone()));
        }
        self.load(conv).await
    }

    /// A set of `conv` at least as new as `version`, reloading if the
    /// cached one is older.
    pub async fn at_least(
        &self,
        conv: ConvId,
        version: Seq,
    ) -> Result<Option<Arc<Members>>, StoreError> {
        if let Some(found) = self.cached().map.get(&conv)
            && found.set.version >= version
        {
            return Ok(Some(found.clone()));
        }
        self.load(conv).await
    }

    /// `conv`'s members if `user` may send there at `now`. A refusal is
    /// checked again against the database first: the cached set may
    /// predate a join or an unmute made on another node (or here, by a
    /// load that raced the change).
    pub async fn sender(
        &self,
        conv: ConvId,
        user: UserId,
        now: i64,
    ) -> Result<Result<Arc<Members>, NotSender>, StoreError> {
        if let Some(members) = self.get(conv).await?
            && members.allows(user, now).is_ok()
        {
            return Ok(Ok(members));
        }
        Ok(match self.load(conv).await? {
            Some(members) => members.allows(user, now).map(|()| members),
            None => Err(NotSender::NotMember),
        })
    }

    /// Read `conv`'s set from the database and cache it, unless a newer
    /// one was cached meanwhile or a change was forgotten meanwhile.
    async fn load(&self, conv: ConvId) -> Result<Option<Arc<Members>>, StoreError> {
        let forgets = self.cached().forgets;
        let Some(set) = self.store.member_set(conv).await? else {
            // Gone (dissolved): drop whatever was cached.
            let mut inner = self.cached();
            if let Some(old) = inner.map.remove(&conv) {
                inner.memberships -= old.users.len();
            }
            return Ok(None);
        };
        let loaded = Arc::new(Members::new(set));
        let mut inner = self.cached();
        if inner.forgets != forgets {
            return Ok(Some(loaded));
        }
        if let Some(held) = inner.map.get(&conv)
            && held.set.version > loaded.set.version
        {
            return Ok(Some(held.clone()));
        }
        if inner.memberships + loaded.users.len() > MEMBERSHIPS_MAX {
            inner.map.clear();
            inner.memberships = 0;
        }
        inner.memberships += loaded.users.len();
        if let Some(old) = inner.map.insert(conv, loaded.clone()) {
            inner.memberships -= old.users.len();
        }
        Ok(Some(loaded))
    }

    /// Drop `conv`'s set (it changed here; the next use reloads it).
    pub fn forget(&self, conv: ConvId) {
        let mut inner = self.cached();
        inner.forgets += 1;
        if let Some(old) = inner.map.remove(&conv) {
            inner.memberships -= old.users.len();
        }
    }

    /// Cache a 1:1 conversation's members without a query: they are the
    /// two users, from the start and for good.
    pub fn put_direct(&self, conv: ConvId, a: UserId, b: UserId) -> Arc<Members> {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let entry = |user| MemberEntry {
            user,
            joined_seq: 0,
            muted_until: 0,
            role: GroupRole::Member,
        };
        let members = Arc::new(Members::new(MemberSet {
            version: 0,
            group: false,
            muted_all: false,
            members: vec![entry(lo), entry(hi)],
        }));
        let mut inner = self.cached();
        if let Some(held) = inner.map.get(&conv) {
            return held.clone();
        }
        if inner.memberships + 2 > MEMBERSHIPS_MAX {
            inner.map.clear();
            inner.memberships = 0;
        }
        inner.memberships += 2;
        inner.map.insert(conv, members.clone());
        members
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(members: &[(UserId, Seq, GroupRole, i64)], muted_all: bool) -> Members {
        Members::new(MemberSet {
            version: 5,
            group: true,
            muted_all,
            members: members
                .iter()
                .map(|&(user, joined_seq, role, muted_until)| MemberEntry {
                    user,
                    joined_seq,
                    muted_until,
                    role,
                })
                .collect(),
        })
    }

    #[test]
    fn an_entry_goes_to_members_who_joined_before_it() {
        let m = set(
            &[
                (1, 0, GroupRole::Owner, 0),
                (2, 0, GroupRole::Member, 0),
                (3, 7, GroupRole::Member, 0),
            ],
            false,
        );
        assert_eq!(&*m.recipients_at(7), &[1, 2], "3 joined at 7: sees 8 on");
        assert_eq!(&*m.recipients_at(8), &[1, 2, 3]);
        assert!(Arc::ptr_eq(&m.recipients_at(8), &m.users), "no copy");
    }

    #[test]
    fn mutes_spare_admins_and_end_on_time() {
        let m = set(
            &[(1, 0, GroupRole::Admin, 0), (2, 0, GroupRole::Member, 100)],
            false,
        );
        assert_eq!(m.allows(2, 99), Err(NotSender::Muted));
        assert_eq!(m.allows(2, 100), Ok(()));
        assert_eq!(m.allows(3, 0), Err(NotSender::NotMember));
        let all = set(
            &[(1, 0, GroupRole::Admin, 0), (2, 0, GroupRole::Member, 0)],
            true,
        );
        assert_eq!(all.allows(2, 0), Err(NotSender::Muted));
        assert_eq!(all.allows(1, 0), Ok(()));
    }
}
