//! [`PeopleStore`] on SQL: profiles, search and the contact graph.
//!
//! Every graph change runs in one write transaction that first locks the
//! rows of the users involved, in id order (`lock_users`). That makes the
//! rules below race-free on every engine: of two crossed requests, the
//! second sees the first and makes a friendship; an accept racing a
//! cancel finds the request or does not; a block racing an accept either
//! ends the new friendship or comes first and hides the request.

use super::{SqlStore, Tx, graph, text_column};
use crate::dialect::Backend;
use crate::{Outcome, PeopleStore, ProfileFields, Refusal, Relation, Result, UserQuery, Written};
use async_trait::async_trait;
use magpie_proto::limits::{BLOCKS_MAX, CATEGORIES_MAX, FRIENDS_MAX, OUTGOING_REQUESTS_MAX};
use magpie_proto::{
    Category, CategoryId, CategoryRef, ChangeEvent, Friend, Gender, PendingRequest, Profile,
    RequestClosed, RequestOutcome, RequestStatus, UserCard, UserId,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Most users locked by one statement of `lock_many`.
const LOCK_CHUNK: usize = 500;

/// A user's card: id, username, nickname, avatar.
const CARD_SELECT: &str = "SELECT u.id, u.username, COALESCE(p.nickname, ''), COALESCE(p.avatar, '') \
     FROM users u LEFT JOIN profiles p ON p.user_id = u.id";

/// A friend row as `me` sees it, card first.
const FRIEND_SELECT: &str = "SELECT u.id, u.username, COALESCE(p.nickname, ''), COALESCE(p.avatar, ''), \
            f.remark, f.category_id, f.since \
     FROM friends f JOIN users u ON u.id = f.friend_id \
     LEFT JOIN profiles p ON p.user_id = f.friend_id";

/// A pending request with both cards.
const REQUEST_SELECT: &str = "SELECT fu.id, fu.username, COALESCE(fp.nickname, ''), COALESCE(fp.avatar, ''), \
            tu.id, tu.username, COALESCE(tp.nickname, ''), COALESCE(tp.avatar, ''), r.note, r.ts \
     FROM friend_requests r \
     JOIN users fu ON fu.id = r.from_id LEFT JOIN profiles fp ON fp.user_id = r.from_id \
     JOIN users tu ON tu.id = r.to_id LEFT JOIN profiles tp ON tp.user_id = r.to_id";

macro_rules! queries {
    ($($name:ident = $sql:expr;)*) => {
        /// The people area's fixed queries, rendered for one engine.
        #[derive(Debug)]
        pub(super) struct Queries { $($name: Arc<str>,)* }

        impl Queries {
            pub(super) fn new(b: Backend) -> Queries {
                Queries { $($name: b.render(&$sql),)* }
            }
        }
    };
}

queries! {
    lock_one = "SELECT id FROM users WHERE id = ?{for_update}";
    lock_two = "SELECT id FROM users WHERE id IN (?, ?) ORDER BY id{for_update}";
    card = format!("{CARD_SELECT} WHERE u.id = ?");
    profile = "SELECT u.id, u.username, COALESCE(p.nickname, ''), COALESCE(p.avatar, ''), \
                      COALESCE(p.signature, ''), COALESCE(p.gender, 0), p.birthday, p.phone, p.email, \
                      COALESCE(p.updated_at, 0) \
               FROM users u LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = ?";
    ensure_profile = "{insert_ignore} profiles (user_id, updated_at) VALUES (?, ?){on_conflict}";
    update_profile = "UPDATE profiles SET nickname = ?, nickname_fold = ?, avatar = ?, signature = ?, \
                      gender = ?, birthday = ?, phone = ?, email = ?, updated_at = ? WHERE user_id = ?";
    friend_ids = "SELECT friend_id FROM friends WHERE user_id = ?";
    is_friend = "SELECT 1 FROM friends WHERE user_id = ? AND friend_id = ?";
    has_blocked = "SELECT 1 FROM blocks WHERE user_id = ? AND blocked_id = ?";
    relation = "SELECT \
                  (SELECT COUNT(*) FROM friends WHERE user_id = ? AND friend_id = ?), \
                  (SELECT COUNT(*) FROM blocks WHERE user_id = ? AND blocked_id = ?), \
                  (SELECT COUNT(*) FROM blocks WHERE user_id = ? AND blocked_id = ?), \
                  (SELECT COUNT(*) FROM users a, users b WHERE a.id = ? AND b.id = ? \
                      AND a.dept_id IS NOT NULL AND b.dept_id IS NOT NULL AND a.state = 0 AND b.state = 0), \
                  (SELECT COUNT(*) FROM users WHERE id = ? AND state <> 0)";
    request = "SELECT hidden FROM friend_requests WHERE from_id = ? AND to_id = ?";
    count_outgoing = "SELECT COUNT(*) FROM friend_requests WHERE from_id = ?";
    count_friends = "SELECT COUNT(*) FROM friends WHERE user_id = ?";
    count_blocks = "SELECT COUNT(*) FROM blocks WHERE user_id = ?";
    count_categories = "SELECT COUNT(*) FROM categories WHERE user_id = ?";
    delete_request = "DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?";
    insert_request = "INSERT INTO friend_requests (from_id, to_id, note, hidden, ts) VALUES (?, ?, ?, ?, ?)";
    hide_request = "UPDATE friend_requests SET hidden = 1 WHERE from_id = ? AND to_id = ?";
    request_row = format!("{REQUEST_SELECT} WHERE r.from_id = ? AND r.to_id = ?");
    incoming = format!("{REQUEST_SELECT} WHERE r.to_id = ? AND r.hidden = 0 ORDER BY r.ts DESC, r.from_id DESC LIMIT ?");
    outgoing = format!("{REQUEST_SELECT} WHERE r.from_id = ? ORDER BY r.ts DESC, r.to_id DESC");
    insert_friend = "INSERT INTO friends (user_id, friend_id, remark, category_id, since) VALUES (?, ?, '', NULL, ?)";
    delete_friend = "DELETE FROM friends WHERE user_id = ? AND friend_id = ?";
    friend_row = format!("{FRIEND_SELECT} WHERE f.user_id = ? AND f.friend_id = ?");
    friends_page = format!("{FRIEND_SELECT} WHERE f.user_id = ? AND f.friend_id > ? ORDER BY f.friend_id LIMIT ?");
    set_remark = "UPDATE friends SET remark = ? WHERE user_id = ? AND friend_id = ?";
    set_category = "UPDATE friends SET category_id = ? WHERE user_id = ? AND friend_id = ?";
    category_owner = "SELECT id FROM categories WHERE id = ? AND user_id = ?";
    insert_category = "INSERT INTO categories (user_id, name, created_at) VALUES (?, ?, ?) RETURNING id";
    rename_category = "UPDATE categories SET name = ? WHERE id = ? AND user_id = ?";
    delete_category = "DELETE FROM categories WHERE id = ? AND user_id = ?";
    uncategorise = "UPDATE friends SET category_id = NULL WHERE user_id = ? AND category_id = ?";
    categories = "SELECT id, name FROM categories WHERE user_id = ? ORDER BY id";
    insert_block = "INSERT INTO blocks (user_id, blocked_id, ts) VALUES (?, ?, ?)";
    delete_block = "DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?";
    blocks_page = format!("{CARD_SELECT} JOIN blocks b ON b.blocked_id = u.id \
                           WHERE b.user_id = ? AND u.id > ? ORDER BY u.id LIMIT ?");
    search_email = format!("{CARD_SELECT} WHERE p.email = ? {SEARCH_TAIL}");
    search_phone = format!("{CARD_SELECT} WHERE (p.phone = ? OR u.username LIKE ? ESCAPE '!') {SEARCH_TAIL}");
    search_text = format!("{CARD_SELECT} WHERE (u.username LIKE ? ESCAPE '!' OR p.nickname_fold LIKE ? ESCAPE '!') {SEARCH_TAIL}");
}

/// The rest of every search: after the cursor, never the searcher, never
/// a disabled or deleted account, never someone who blocked the searcher.
const SEARCH_TAIL: &str = "AND u.id > ? AND u.id <> ? AND u.state = 0 \
     AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.blocked_id = ?) \
     ORDER BY u.id LIMIT ?";

/// Escape `%`, `_` and the escape character itself for `LIKE ... ESCAPE '!'`.
pub(super) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

fn gender_code(g: Gender) -> i64 {
    match g {
        Gender::Unspecified => 0,
        Gender::Male => 1,
        Gender::Female => 2,
        Gender::Other => 3,
    }
}

fn gender_from_code(code: i64) -> Gender {
    match code {
        1 => Gender::Male,
        2 => Gender::Female,
        3 => Gender::Other,
        _ => Gender::Unspecified,
    }
}

/// An optional text column (NULL: `None`).
fn opt_text(row: &AnyRow, index: usize) -> sqlx::Result<Option<String>> {
    match row.try_get::<Option<String>, _>(index) {
        Ok(v) => Ok(v),
        Err(_) => match row.try_get::<Option<Vec<u8>>, _>(index)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|e| sqlx::Error::Decode(Box::new(e))),
        },
    }
}

fn card_at(row: &AnyRow, at: usize) -> sqlx::Result<UserCard> {
    Ok(UserCard {
        user_id: row.try_get(at)?,
        user: text_column(row, at + 1)?,
        nickname: text_column(row, at + 2)?,
        avatar: text_column(row, at + 3)?,
    })
}

fn friend_from_row(row: &AnyRow) -> sqlx::Result<Friend> {
    Ok(Friend {
        user: card_at(row, 0)?,
        remark: text_column(row, 4)?,
        category: row.try_get::<Option<i64>, _>(5)?,
        since: row.try_get(6)?,
        presence: None,
    })
}

fn request_from_row(row: &AnyRow) -> sqlx::Result<PendingRequest> {
    Ok(PendingRequest {
        from: card_at(row, 0)?,
        to: card_at(row, 4)?,
        note: text_column(row, 8)?,
        ts: row.try_get(9)?,
    })
}

fn profile_from_row(row: &AnyRow) -> sqlx::Result<Profile> {
    Ok(Profile {
        user_id: row.try_get(0)?,
        user: text_column(row, 1)?,
        nickname: text_column(row, 2)?,
        avatar: text_column(row, 3)?,
        signature: text_column(row, 4)?,
        gender: gender_from_code(row.try_get(5)?),
        birthday: opt_text(row, 6)?,
        phone: opt_text(row, 7)?,
        email: opt_text(row, 8)?,
        updated_at: row.try_get(9)?,
    })
}

/// Shorthand: one query text of this module, for sqlx.
fn q(text: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(text.clone())
}

impl SqlStore {
    /// Lock the rows of `a` and `b` (which may be equal) in id order;
    /// refuses if either does not exist.
    async fn lock_users(&self, c: &mut AnyConnection, a: UserId, b: UserId) -> Tx<()> {
        let p = &self.q.people;
        let found = if a == b {
            sqlx::query(q(&p.lock_one))
                .bind(a)
                .fetch_all(&mut *c)
                .await?
                .len()
        } else {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            sqlx::query(q(&p.lock_two))
                .bind(lo)
                .bind(hi)
                .fetch_all(&mut *c)
                .await?
                .len()
        };
        let wanted = if a == b { 1 } else { 2 };
        if found < wanted {
            return Err(Refusal::UnknownUser.into());
        }
        Ok(())
    }

    async fn exists(&self, c: &mut AnyConnection, text: &Arc<str>, a: i64, b: i64) -> Tx<bool> {
        Ok(sqlx::query(q(text))
            .bind(a)
            .bind(b)
            .fetch_optional(&mut *c)
            .await?
            .is_some())
    }

    async fn count(&self, c: &mut AnyConnection, text: &Arc<str>, a: i64) -> Tx<usize> {
        let n: i64 = sqlx::query(q(text))
            .bind(a)
            .fetch_one(&mut *c)
            .await?
            .try_get(0)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    async fn card_in(&self, c: &mut AnyConnection, user: UserId) -> Tx<UserCard> {
        let row = sqlx::query(q(&self.q.people.card))
            .bind(user)
            .fetch_optional(&mut *c)
            .await?
            .ok_or(Refusal::UnknownUser)?;
        Ok(card_at(&row, 0)?)
    }

    async fn friend_in(&self, c: &mut AnyConnection, me: UserId, other: UserId) -> Tx<Friend> {
        let row = sqlx::query(q(&self.q.people.friend_row))
            .bind(me)
            .bind(other)
            .fetch_optional(&mut *c)
            .await?
            .ok_or(Refusal::NotFriends)?;
        Ok(friend_from_row(&row)?)
    }

    /// The pending request `from` → `to`: `Some(hidden)` if there is one.
    async fn request_in(
        &self,
        c: &mut AnyConnection,
        from: UserId,
        to: UserId,
    ) -> Tx<Option<bool>> {
        let row = sqlx::query(q(&self.q.people.request))
            .bind(from)
            .bind(to)
            .fetch_optional(&mut *c)
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get::<i64, _>(0)? != 0),
            None => None,
        })
    }

    async fn pending_in(
        &self,
        c: &mut AnyConnection,
        from: UserId,
        to: UserId,
    ) -> Tx<PendingRequest> {
        let row = sqlx::query(q(&self.q.people.request_row))
            .bind(from)
            .bind(to)
            .fetch_one(&mut *c)
            .await?;
        Ok(request_from_row(&row)?)
    }

    async fn delete_request_in(&self, c: &mut AnyConnection, from: UserId, to: UserId) -> Tx<()> {
        sqlx::query(q(&self.q.people.delete_request))
            .bind(from)
            .bind(to)
            .execute(&mut *c)
            .await?;
        Ok(())
    }

    /// Make `a` and `b` friends (both rows), and the changes that tell
    /// each: the request closed as accepted, then the new friend.
    async fn befriend_in(
        &self,
        c: &mut AnyConnection,
        requester: UserId,
        addressee: UserId,
        now: i64,
        events: &mut Vec<(UserId, ChangeEvent)>,
    ) -> Tx<()> {
        let p = &self.q.people;
        for user in [requester, addressee] {
            if self.count(c, &p.count_friends, user).await? >= FRIENDS_MAX {
                return Err(Refusal::LimitReached("friends").into());
            }
        }
        let closed = RequestClosed {
            from: self.card_in(c, requester).await?,
            to: self.card_in(c, addressee).await?,
            outcome: RequestOutcome::Accepted,
        };
        for (a, b) in [(requester, addressee), (addressee, requester)] {
            self.delete_request_in(c, a, b).await?;
            sqlx::query(q(&p.insert_friend))
                .bind(a)
                .bind(b)
                .bind(now)
                .execute(&mut *c)
                .await?;
        }
        for (a, b) in [(requester, addressee), (addressee, requester)] {
            events.push((a, ChangeEvent::FriendRequestClosed(closed.clone())));
            events.push((a, ChangeEvent::FriendAdded(self.friend_in(c, a, b).await?)));
        }
        Ok(())
    }

    async fn append(
        &self,
        c: &mut AnyConnection,
        now: i64,
        events: Vec<(UserId, ChangeEvent)>,
    ) -> Tx<Vec<Written>> {
        Ok(self.append_changes(c, now, events).await?)
    }

    async fn request_friend_tx(
        &self,
        c: &mut AnyConnection,
        from: UserId,
        to: UserId,
        note: &str,
        now: i64,
    ) -> Tx<Outcome<RequestStatus>> {
        let p = &self.q.people;
        self.lock_users(c, from, to).await?;
        if self.exists(c, &p.is_friend, from, to).await? {
            return Err(Refusal::AlreadyFriends.into());
        }
        if self.exists(c, &p.has_blocked, from, to).await? {
            return Err(Refusal::YouBlocked.into());
        }
        let mut events = Vec::new();
        // `to` asked first (and `from` has not blocked them, checked
        // above, so their request is visible): crossed requests make a
        // friendship.
        if self.request_in(c, to, from).await?.is_some() {
            self.befriend_in(c, to, from, now, &mut events).await?;
            let written = self.append(c, now, events).await?;
            return Ok(Outcome {
                value: RequestStatus::Friends,
                written,
            });
        }
        let hidden = self.exists(c, &p.has_blocked, to, from).await?;
        if self.request_in(c, from, to).await?.is_none()
            && self.count(c, &p.count_outgoing, from).await? >= OUTGOING_REQUESTS_MAX
        {
            return Err(Refusal::LimitReached("pending friend requests").into());
        }
        self.delete_request_in(c, from, to).await?;
        sqlx::query(q(&p.insert_request))
            .bind(from)
            .bind(to)
            .bind(note)
            .bind(i64::from(hidden))
            .bind(now)
            .execute(&mut *c)
            .await?;
        let pending = self.pending_in(c, from, to).await?;
        events.push((from, ChangeEvent::FriendRequest(pending.clone())));
        if !hidden {
            events.push((to, ChangeEvent::FriendRequest(pending)));
        }
        let written = self.append(c, now, events).await?;
        Ok(Outcome {
            value: RequestStatus::Pending,
            written,
        })
    }

    async fn answer_request_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        from: UserId,
        accept: bool,
        now: i64,
    ) -> Tx<Outcome<()>> {
        self.lock_users(c, me, from).await?;
        if self.request_in(c, from, me).await? != Some(false) {
            return Err(Refusal::NoSuchRequest.into());
        }
        let mut events = Vec::new();
        if accept {
            self.befriend_in(c, from, me, now, &mut events).await?;
        } else {
            let closed = RequestClosed {
                from: self.card_in(c, from).await?,
                to: self.card_in(c, me).await?,
                outcome: RequestOutcome::Rejected,
            };
            self.delete_request_in(c, from, me).await?;
            for user in [from, me] {
                events.push((user, ChangeEvent::FriendRequestClosed(closed.clone())));
            }
        }
        let written = self.append(c, now, events).await?;
        Ok(Outcome { value: (), written })
    }

    async fn cancel_request_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        to: UserId,
        now: i64,
    ) -> Tx<Outcome<()>> {
        self.lock_users(c, me, to).await?;
        let Some(hidden) = self.request_in(c, me, to).await? else {
            return Err(Refusal::NoSuchRequest.into());
        };
        let closed = RequestClosed {
            from: self.card_in(c, me).await?,
            to: self.card_in(c, to).await?,
            outcome: RequestOutcome::Cancelled,
        };
        self.delete_request_in(c, me, to).await?;
        let mut events = vec![(me, ChangeEvent::FriendRequestClosed(closed.clone()))];
        if !hidden {
            events.push((to, ChangeEvent::FriendRequestClosed(closed)));
        }
        let written = self.append(c, now, events).await?;
        Ok(Outcome { value: (), written })
    }

    /// End a friendship (both rows) and tell both sides.
    async fn unfriend_in(
        &self,
        c: &mut AnyConnection,
        a: UserId,
        b: UserId,
        events: &mut Vec<(UserId, ChangeEvent)>,
    ) -> Tx<()> {
        for (x, y) in [(a, b), (b, a)] {
            sqlx::query(q(&self.q.people.delete_friend))
                .bind(x)
                .bind(y)
                .execute(&mut *c)
                .await?;
        }
        events.push((a, ChangeEvent::FriendRemoved(self.card_in(c, b).await?)));
        events.push((b, ChangeEvent::FriendRemoved(self.card_in(c, a).await?)));
        Ok(())
    }

    async fn remove_friend_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        friend: UserId,
        now: i64,
    ) -> Tx<Outcome<()>> {
        self.lock_users(c, me, friend).await?;
        if !self.exists(c, &self.q.people.is_friend, me, friend).await? {
            return Err(Refusal::NotFriends.into());
        }
        let mut events = Vec::new();
        self.unfriend_in(c, me, friend, &mut events).await?;
        let written = self.append(c, now, events).await?;
        Ok(Outcome { value: (), written })
    }

    async fn set_friend_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        friend: UserId,
        remark: Option<&str>,
        category: Option<Option<CategoryId>>,
        now: i64,
    ) -> Tx<Outcome<Friend>> {
        let p = &self.q.people;
        self.lock_users(c, me, me).await?;
        if !self.exists(c, &p.is_friend, me, friend).await? {
            return Err(Refusal::NotFriends.into());
        }
        if let Some(remark) = remark {
            sqlx::query(q(&p.set_remark))
                .bind(remark)
                .bind(me)
                .bind(friend)
                .execute(&mut *c)
                .await?;
        }
        if let Some(category) = category {
            if let Some(id) = category
                && !self.exists(c, &p.category_owner, id, me).await?
            {
                return Err(Refusal::UnknownCategory.into());
            }
            sqlx::query(q(&p.set_category))
                .bind(category)
                .bind(me)
                .bind(friend)
                .execute(&mut *c)
                .await?;
        }
        let view = self.friend_in(c, me, friend).await?;
        let written = self
            .append(c, now, vec![(me, ChangeEvent::FriendUpdated(view.clone()))])
            .await?;
        Ok(Outcome {
            value: view,
            written,
        })
    }

    async fn block_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        other: UserId,
        now: i64,
    ) -> Tx<Outcome<()>> {
        let p = &self.q.people;
        self.lock_users(c, me, other).await?;
        if self.exists(c, &p.has_blocked, me, other).await? {
            return Ok(Outcome {
                value: (),
                written: Vec::new(),
            });
        }
        if self.count(c, &p.count_blocks, me).await? >= BLOCKS_MAX {
            return Err(Refusal::LimitReached("blocked users").into());
        }
        sqlx::query(q(&p.insert_block))
            .bind(me)
            .bind(other)
            .bind(now)
            .execute(&mut *c)
            .await?;
        let mut events = Vec::new();
        if self.exists(c, &p.is_friend, me, other).await? {
            self.unfriend_in(c, me, other, &mut events).await?;
        }
        let me_card = self.card_in(c, me).await?;
        let other_card = self.card_in(c, other).await?;
        if let Some(hidden) = self.request_in(c, me, other).await? {
            self.delete_request_in(c, me, other).await?;
            let closed = RequestClosed {
                from: me_card.clone(),
                to: other_card.clone(),
                outcome: RequestOutcome::Cancelled,
            };
            events.push((me, ChangeEvent::FriendRequestClosed(closed.clone())));
            if !hidden {
                events.push((other, ChangeEvent::FriendRequestClosed(closed)));
            }
        }
        if self.request_in(c, other, me).await? == Some(false) {
            sqlx::query(q(&p.hide_request))
                .bind(other)
                .bind(me)
                .execute(&mut *c)
                .await?;
            let closed = RequestClosed {
                from: other_card.clone(),
                to: me_card,
                outcome: RequestOutcome::Ignored,
            };
            events.push((me, ChangeEvent::FriendRequestClosed(closed)));
        }
        events.push((me, ChangeEvent::Blocked(other_card)));
        let written = self.append(c, now, events).await?;
        Ok(Outcome { value: (), written })
    }

    async fn unblock_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        other: UserId,
        now: i64,
    ) -> Tx<Outcome<()>> {
        self.lock_users(c, me, other).await?;
        let done = sqlx::query(q(&self.q.people.delete_block))
            .bind(me)
            .bind(other)
            .execute(&mut *c)
            .await?;
        let mut events = Vec::new();
        if done.rows_affected() > 0 {
            events.push((me, ChangeEvent::Unblocked(self.card_in(c, other).await?)));
        }
        let written = self.append(c, now, events).await?;
        Ok(Outcome { value: (), written })
    }

    /// Lock the rows of `users` in id order (in chunks, each in order),
    /// and return those that exist.
    async fn lock_many(
        &self,
        c: &mut AnyConnection,
        users: &BTreeSet<UserId>,
    ) -> Tx<BTreeSet<UserId>> {
        let ids: Vec<UserId> = users.iter().copied().collect();
        let mut found = BTreeSet::new();
        for chunk in ids.chunks(LOCK_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let lock = self.backend.render(&format!(
                "SELECT id FROM users WHERE id IN ({marks}) ORDER BY id{{for_update}}"
            ));
            let mut query = sqlx::query(AssertSqlSafe(lock));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *c).await? {
                found.insert(row.try_get::<i64, _>(0)?);
            }
        }
        Ok(found)
    }

    /// `known_friends`: the user's friends as read before the transaction
    /// (see [`PeopleStore::set_profile`] below).
    async fn set_profile_tx(
        &self,
        c: &mut AnyConnection,
        user: UserId,
        f: &ProfileFields,
        known_friends: &[UserId],
        now: i64,
    ) -> Tx<Outcome<Profile>> {
        let p = &self.q.people;
        // The change goes to every friend's stream, and appending locks
        // their rows. Locking only the user's row first (as this did)
        // took the friends' rows after it, out of id order: two friends
        // saving their profiles at once, or a profile save beside any
        // change that locks a pair in order, deadlocked on PostgreSQL and
        // MariaDB (found by tests/people.rs, friends_set_profiles_at_once).
        // So lock the user and their friends together, in id order. The
        // list read inside, under the user's lock, is still the one that
        // counts: a friend made between the two reads is locked late by
        // the append (rare; at worst a retryable deadlock).
        let mut rows: BTreeSet<UserId> = known_friends.iter().copied().collect();
        rows.insert(user);
        if !self.lock_many(c, &rows).await?.contains(&user) {
            return Err(Refusal::UnknownUser.into());
        }
        sqlx::query(q(&p.ensure_profile))
            .bind(user)
            .bind(now)
            .execute(&mut *c)
            .await?;
        sqlx::query(q(&p.update_profile))
            .bind(f.nickname.as_str())
            .bind(f.nickname.to_lowercase())
            .bind(f.avatar.as_str())
            .bind(f.signature.as_str())
            .bind(gender_code(f.gender))
            .bind(f.birthday.clone())
            .bind(f.phone.clone())
            .bind(f.email.clone())
            .bind(now)
            .bind(user)
            .execute(&mut *c)
            .await?;
        let row = sqlx::query(q(&p.profile))
            .bind(user)
            .fetch_one(&mut *c)
            .await?;
        let profile = profile_from_row(&row)?;
        let mut recipients = vec![user];
        for row in sqlx::query(q(&p.friend_ids))
            .bind(user)
            .fetch_all(&mut *c)
            .await?
        {
            recipients.push(row.try_get(0)?);
        }
        let events = recipients
            .into_iter()
            .map(|u| (u, ChangeEvent::Profile(profile.clone())))
            .collect();
        let written = self.append(c, now, events).await?;
        Ok(Outcome {
            value: profile,
            written,
        })
    }

    async fn create_category_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        name: &str,
        now: i64,
    ) -> Tx<Outcome<Category>> {
        let p = &self.q.people;
        self.lock_users(c, me, me).await?;
        if self.count(c, &p.count_categories, me).await? >= CATEGORIES_MAX {
            return Err(Refusal::LimitReached("categories").into());
        }
        let insert = sqlx::query(q(&p.insert_category))
            .bind(me)
            .bind(name)
            .bind(now);
        let id = self.insert_id(c, insert).await?;
        self.category_changed(c, me, id, name, now).await
    }

    /// Tell `me`'s devices that category `id` is now called `name`.
    async fn category_changed(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        id: CategoryId,
        name: &str,
        now: i64,
    ) -> Tx<Outcome<Category>> {
        let category = Category {
            id,
            name: name.to_string(),
        };
        let written = self
            .append(
                c,
                now,
                vec![(me, ChangeEvent::CategoryUpdated(category.clone()))],
            )
            .await?;
        Ok(Outcome {
            value: category,
            written,
        })
    }

    async fn rename_category_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        id: CategoryId,
        name: &str,
        now: i64,
    ) -> Tx<Outcome<Category>> {
        let p = &self.q.people;
        self.lock_users(c, me, me).await?;
        if !self.exists(c, &p.category_owner, id, me).await? {
            return Err(Refusal::UnknownCategory.into());
        }
        sqlx::query(q(&p.rename_category))
            .bind(name)
            .bind(id)
            .bind(me)
            .execute(&mut *c)
            .await?;
        self.category_changed(c, me, id, name, now).await
    }

    async fn delete_category_tx(
        &self,
        c: &mut AnyConnection,
        me: UserId,
        id: CategoryId,
        now: i64,
    ) -> Tx<Outcome<()>> {
        let p = &self.q.people;
        self.lock_users(c, me, me).await?;
        if !self.exists(c, &p.category_owner, id, me).await? {
            return Err(Refusal::UnknownCategory.into());
        }
        sqlx::query(q(&p.uncategorise))
            .bind(me)
            .bind(id)
            .execute(&mut *c)
            .await?;
        sqlx::query(q(&p.delete_category))
            .bind(id)
            .bind(me)
            .execute(&mut *c)
            .await?;
        let written = self
            .append(
                c,
                now,
                vec![(me, ChangeEvent::CategoryDeleted(CategoryRef { id }))],
            )
            .await?;
        Ok(Outcome { value: (), written })
    }
}

#[async_trait]
impl PeopleStore for SqlStore {
    async fn profile(&self, user: UserId) -> Result<Option<Profile>> {
        let row = sqlx::query(q(&self.q.people.profile))
            .bind(user)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| profile_from_row(&r))
            .transpose()
            .map_err(self.err())
    }

    async fn set_profile(
        &self,
        user: UserId,
        fields: &ProfileFields,
        now: i64,
    ) -> Result<Outcome<Profile>> {
        // The user's friends, read before taking a write connection (a
        // transaction waiting for a second connection could starve the
        // pool), so that the transaction can lock them in id order.
        let known_friends: Vec<UserId> = sqlx::query(q(&self.q.people.friend_ids))
            .bind(user)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())?;
        graph!(self.set_profile_tx(user, fields, &known_friends, now))
    }

    async fn search_users(
        &self,
        searcher: UserId,
        query: &UserQuery,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<UserCard>> {
        let p = &self.q.people;
        let built = match query {
            UserQuery::Email(email) => sqlx::query(q(&p.search_email)).bind(email.clone()),
            UserQuery::Phone(phone) => sqlx::query(q(&p.search_phone))
                .bind(phone.clone())
                .bind(format!("{}%", like_escape(phone))),
            UserQuery::Text(text) => {
                let text = text.to_lowercase();
                sqlx::query(q(&p.search_text))
                    .bind(format!("{}%", like_escape(&text)))
                    .bind(format!("%{}%", like_escape(&text)))
            }
        };
        let rows = built
            .bind(after)
            .bind(searcher)
            .bind(searcher)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| card_at(r, 0))
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn relation(&self, a: UserId, b: UserId) -> Result<Relation> {
        let row = sqlx::query(q(&self.q.people.relation))
            .bind(a)
            .bind(b)
            .bind(a)
            .bind(b)
            .bind(b)
            .bind(a)
            .bind(a)
            .bind(b)
            .bind(b)
            .fetch_one(&self.readers)
            .await
            .map_err(self.err())?;
        let flag = |i: usize| row.try_get::<i64, _>(i).map(|n| n > 0);
        (|| {
            Ok(Relation {
                friends: flag(0)?,
                blocks: flag(1)?,
                blocked_by: flag(2)?,
                colleagues: flag(3)?,
                b_inactive: flag(4)?,
            })
        })()
        .map_err(self.err())
    }

    async fn request_friend(
        &self,
        from: UserId,
        to: UserId,
        note: &str,
        now: i64,
    ) -> Result<Outcome<RequestStatus>> {
        graph!(self.request_friend_tx(from, to, note, now))
    }

    async fn answer_request(
        &self,
        me: UserId,
        from: UserId,
        accept: bool,
        now: i64,
    ) -> Result<Outcome<()>> {
        graph!(self.answer_request_tx(me, from, accept, now))
    }

    async fn cancel_request(&self, me: UserId, to: UserId, now: i64) -> Result<Outcome<()>> {
        graph!(self.cancel_request_tx(me, to, now))
    }

    async fn remove_friend(&self, me: UserId, friend: UserId, now: i64) -> Result<Outcome<()>> {
        graph!(self.remove_friend_tx(me, friend, now))
    }

    async fn set_friend(
        &self,
        me: UserId,
        friend: UserId,
        remark: Option<&str>,
        category: Option<Option<CategoryId>>,
        now: i64,
    ) -> Result<Outcome<Friend>> {
        graph!(self.set_friend_tx(me, friend, remark, category, now))
    }

    async fn create_category(&self, me: UserId, name: &str, now: i64) -> Result<Outcome<Category>> {
        graph!(self.create_category_tx(me, name, now))
    }

    async fn rename_category(
        &self,
        me: UserId,
        id: CategoryId,
        name: &str,
        now: i64,
    ) -> Result<Outcome<Category>> {
        graph!(self.rename_category_tx(me, id, name, now))
    }

    async fn delete_category(&self, me: UserId, id: CategoryId, now: i64) -> Result<Outcome<()>> {
        graph!(self.delete_category_tx(me, id, now))
    }

    async fn block(&self, me: UserId, other: UserId, now: i64) -> Result<Outcome<()>> {
        graph!(self.block_tx(me, other, now))
    }

    async fn unblock(&self, me: UserId, other: UserId, now: i64) -> Result<Outcome<()>> {
        graph!(self.unblock_tx(me, other, now))
    }

    async fn friends(&self, me: UserId, after: UserId, limit: u32) -> Result<Vec<Friend>> {
        let rows = sqlx::query(q(&self.q.people.friends_page))
            .bind(me)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(friend_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn categories(&self, me: UserId) -> Result<Vec<Category>> {
        let rows = sqlx::query(q(&self.q.people.categories))
            .bind(me)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| {
                Ok(Category {
                    id: r.try_get(0)?,
                    name: text_column(r, 1)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn friend_requests(
        &self,
        me: UserId,
        incoming_max: u32,
    ) -> Result<(Vec<PendingRequest>, Vec<PendingRequest>)> {
        let p = &self.q.people;
        let incoming = sqlx::query(q(&p.incoming))
            .bind(me)
            .bind(i64::from(incoming_max))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        let outgoing = sqlx::query(q(&p.outgoing))
            .bind(me)
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        let parse = |rows: Vec<AnyRow>| {
            rows.iter()
                .map(request_from_row)
                .collect::<sqlx::Result<Vec<_>>>()
        };
        Ok((
            parse(incoming).map_err(self.err())?,
            parse(outgoing).map_err(self.err())?,
        ))
    }

    async fn blocks(&self, me: UserId, after: UserId, limit: u32) -> Result<Vec<UserCard>> {
        let rows = sqlx::query(q(&self.q.people.blocks_page))
            .bind(me)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await
            .map_err(self.err())?;
        rows.iter()
            .map(|r| card_at(r, 0))
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }
}
