//! The people service: profiles, search, friends and requests, categories,
//! blocks, and the messaging policy that depends on them.
//!
//! It validates and authorises each operation, then makes the change in
//! one store transaction, which also appends to the change stream of every
//! user concerned; the changes it gets back are pushed through
//! [`Changes::push`]. Who may see what:
//! - phone and email: the user and their friends only;
//! - search never finds the searcher, anyone who blocked them, or a
//!   disabled or deleted account;
//! - a blocked user is told nothing that reveals the block (PROTOCOL.md).

use crate::changes::Changes;
use crate::config::MessagingPolicy;
use crate::conversations::Conversations;
use crate::error::{from_store, invalid_args};
use crate::page::{ByteBudget, clamp_limit};
use crate::presence::Presence;
use magpie_proto::limits::{
    AVATAR_MAX, CATEGORY_NAME_MAX, INCOMING_REQUESTS_LISTED, NICKNAME_MAX, PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX, REMARK_MAX, REQUEST_NOTE_MAX, SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX,
    SEARCH_QUERY_MAX, SIGNATURE_MAX, check_line, is_birthday, is_email, is_phone,
};
use magpie_proto::{
    Category, CategoryCreate, CategoryDelete, CategoryRename, Empty, ErrorBody, ErrorCode, Friend,
    FriendRequest, FriendRequestOk, FriendSet, FriendsOk, Page, Profile, ProfileGet, ProfileSet,
    RequestStatus, RequestsOk, Search, UserId, UsersOk,
};
use magpie_store::{Outcome, ProfileFields, Relation, Store, UserQuery};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a cluster node trusts a cached relation between two users. A
/// change made on this node takes effect at once (it drops the entry); one
/// made on another node of the cluster takes effect here within this time.
pub const RELATION_TTL: Duration = Duration::from_secs(5);
/// The same for a single node, where every change goes through this
/// service and drops its entry: only changes made to the database behind
/// the server's back (`magpie admin bootstrap`) wait for it.
pub const RELATION_TTL_SINGLE_NODE: Duration = Duration::from_secs(60);
/// Bound on cached relations; the cache is cleared when full.
const RELATIONS_MAX: usize = 200_000;

/// The people service.
#[derive(Debug)]
pub struct People {
    store: Arc<dyn Store>,
    conversations: Arc<Conversations>,
    changes: Arc<Changes>,
    presence: Arc<Presence>,
    policy: MessagingPolicy,
    max_frame_bytes: usize,
    /// Cached relations, each with the moment it stops being trusted.
    relations: Mutex<HashMap<(UserId, UserId), (Relation, Instant)>>,
    relation_ttl: Duration,
}

impl People {
    pub fn new(
        store: Arc<dyn Store>,
        conversations: Arc<Conversations>,
        changes: Arc<Changes>,
        presence: Arc<Presence>,
        policy: MessagingPolicy,
        max_frame_bytes: usize,
        relation_ttl: Duration,
    ) -> People {
        People {
            store,
            conversations,
            changes,
            presence,
            policy,
            max_frame_bytes,
            relations: Mutex::default(),
            relation_ttl,
        }
    }

    /// Whether `sender` may message `peer` in their 1:1 conversation:
    /// `not_allowed` if either blocked the other (the blocker is told it is
    /// their own block), if `peer`'s account is disabled or deleted, or if
    /// the policy needs a friendship (or colleagues) they lack. Cached per
    /// pair (see [`RELATION_TTL`]), so a busy conversation costs no query
    /// per message.
    pub async fn may_message(&self, sender: UserId, peer: UserId) -> Result<(), ErrorBody> {
        let relation = self.relation(sender, peer).await?;
        let by_policy = match self.policy {
            MessagingPolicy::Open => true,
            MessagingPolicy::Friends => relation.friends,
            MessagingPolicy::Organisation => relation.friends || relation.colleagues,
        };
        if relation.blocks {
            // The caller's own block: telling them reveals nothing.
            return Err(ErrorBody::new(
                ErrorCode::NotAllowed,
                "you have blocked this user; unblock them first",
            ));
        }
        if !relation.blocked_by && !relation.b_inactive && by_policy {
            Ok(())
        } else {
            Err(not_allowed())
        }
    }

    async fn relation(&self, a: UserId, b: UserId) -> Result<Relation, ErrorBody> {
        if let Some((relation, until)) = self.cache().get(&(a, b))
            && Instant::now() < *until
        {
            return Ok(*relation);
        }
        let relation = self.store.relation(a, b).await.map_err(from_store)?;
        // Between half the lifetime and all of it, at random: entries
        // cached together (every pair of a busy server after a restart)
        // must not all expire, and hit the database, in the same instant.
        // A burst of such refreshes every few seconds showed as a p99.9
        // latency bump in the A/B benchmark.
        let life = self.relation_ttl.mul_f64(0.5 + rand::random::<f64>() / 2.0);
        let mut cache = self.cache();
        if cache.len() >= RELATIONS_MAX {
            cache.clear();
        }
        cache.insert((a, b), (relation, Instant::now() + life));
        Ok(relation)
    }

    /// Forget every cached relation (an administrator changed who is in
    /// the organisation, or an account's state).
    pub fn forget_relations(&self) {
        self.cache().clear();
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(UserId, UserId), (Relation, Instant)>> {
        self.relations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forget what is cached about `a` and `b`, both ways round, and push
    /// what the change wrote.
    fn changed<T>(&self, a: UserId, b: UserId, outcome: Outcome<T>) -> T {
        {
            let mut cache = self.cache();
            cache.remove(&(a, b));
            cache.remove(&(b, a));
        }
        self.changes.push(outcome.written);
        outcome.value
    }

    /// The user named `name`, who must not be `me`.
    async fn other(&self, me: UserId, name: &str, what: &str) -> Result<UserId, ErrorBody> {
        let other = self.conversations.resolve_user(name).await?;
        if other == me {
            return Err(invalid_args(format!("cannot {what} yourself")));
        }
        Ok(other)
    }

    /// `profile`: the caller's own, or another user's with phone and email
    /// left out unless the two are friends.
    pub async fn profile(&self, me: UserId, req: ProfileGet) -> Result<Profile, ErrorBody> {
        let user = match &req.user {
            Some(name) => self.conversations.resolve_user(name).await?,
            None => me,
        };
        let mut profile = self
            .store
            .profile(user)
            .await
            .map_err(from_store)?
            .ok_or_else(|| ErrorBody::new(ErrorCode::UnknownUser, "no such user"))?;
        // Phone and email: for the user, friends and colleagues only.
        let relation = self.store.relation(me, user).await.map_err(from_store)?;
        if user != me && !(relation.friends || relation.colleagues) {
            profile.phone = None;
            profile.email = None;
        }
        Ok(profile)
    }

    /// `profile_set`: merge the given fields into the profile, check them
    /// all, store, and tell the user's devices and friends.
    pub async fn set_profile(
        &self,
        me: UserId,
        req: ProfileSet,
        now: i64,
    ) -> Result<Profile, ErrorBody> {
        let current = self
            .store
            .profile(me)
            .await
            .map_err(from_store)?
            .ok_or_else(|| ErrorBody::new(ErrorCode::UnknownUser, "no such user"))?;
        let fields = merge_profile(current.clone(), req)?;
        if fields == fields_of(&current) {
            // Nothing changes: nothing to store or tell anyone.
            return Ok(current);
        }
        let outcome = self
            .store
            .set_profile(me, &fields, now)
            .await
            .map_err(from_store)?;
        self.changes.push(outcome.written);
        Ok(outcome.value)
    }

    /// `search`: one page of users matching the query.
    pub async fn search(&self, me: UserId, req: Search) -> Result<UsersOk, ErrorBody> {
        let limit = clamp_limit(req.limit, SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX)?;
        let query = parse_query(&req.query)?;
        let users = self
            .store
            .search_users(me, &query, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        Ok(self.page_of_users(users, limit))
    }

    /// `friend_request`.
    pub async fn request(
        &self,
        me: UserId,
        req: FriendRequest,
        now: i64,
    ) -> Result<FriendRequestOk, ErrorBody> {
        check_line("note", &req.note, REQUEST_NOTE_MAX).map_err(invalid_args)?;
        let to = self.other(me, &req.user, "befriend").await?;
        let outcome = self
            .store
            .request_friend(me, to, &req.note, now)
            .await
            .map_err(from_store)?;
        let status = self.changed(me, to, outcome);
        if status == RequestStatus::Friends {
            self.presence.introduce(me, to).await;
        }
        Ok(FriendRequestOk { status })
    }

    /// `friend_accept` and `friend_reject`.
    pub async fn answer(
        &self,
        me: UserId,
        from: &str,
        accept: bool,
        now: i64,
    ) -> Result<Empty, ErrorBody> {
        let from = self.other(me, from, "answer").await?;
        let outcome = self
            .store
            .answer_request(me, from, accept, now)
            .await
            .map_err(from_store)?;
        self.changed(me, from, outcome);
        if accept {
            self.presence.introduce(me, from).await;
        }
        Ok(Empty {})
    }

    /// `friend_cancel`.
    pub async fn cancel(&self, me: UserId, to: &str, now: i64) -> Result<Empty, ErrorBody> {
        let to = self.other(me, to, "cancel a request to").await?;
        let outcome = self
            .store
            .cancel_request(me, to, now)
            .await
            .map_err(from_store)?;
        self.changed(me, to, outcome);
        Ok(Empty {})
    }

    /// `friend_remove`.
    pub async fn remove(&self, me: UserId, friend: &str, now: i64) -> Result<Empty, ErrorBody> {
        let friend = self.other(me, friend, "unfriend").await?;
        let outcome = self
            .store
            .remove_friend(me, friend, now)
            .await
            .map_err(from_store)?;
        self.changed(me, friend, outcome);
        Ok(Empty {})
    }

    /// `friend_set`: remark and category, private to the caller.
    pub async fn set_friend(
        &self,
        me: UserId,
        req: FriendSet,
        now: i64,
    ) -> Result<Friend, ErrorBody> {
        if req.remark.is_none() && req.category.is_none() {
            return Err(invalid_args("friend_set needs a remark or a category"));
        }
        if let Some(remark) = &req.remark {
            check_line("remark", remark, REMARK_MAX).map_err(invalid_args)?;
        }
        let category = match req.category {
            None => None,
            Some(0) => Some(None),
            Some(id) if id > 0 => Some(Some(id)),
            Some(_) => {
                return Err(invalid_args(
                    "category must be a category id, or 0 for none",
                ));
            }
        };
        let friend = self
            .other(me, &req.user, "set a remark or category on")
            .await?;
        let outcome = self
            .store
            .set_friend(me, friend, req.remark.as_deref(), category, now)
            .await
            .map_err(from_store)?;
        self.changes.push(outcome.written);
        Ok(outcome.value)
    }

    /// `friends`: one page of the caller's friends, and their categories.
    pub async fn friends(&self, me: UserId, req: Page) -> Result<FriendsOk, ErrorBody> {
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        let categories = self.store.categories(me).await.map_err(from_store)?;
        let rows = self
            .store
            .friends(me, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        let mut rows = rows;
        // Presence for the page's rows only (the extra row is not shown).
        let shown = rows.len().min(limit as usize);
        self.presence.decorate(&mut rows[..shown]).await?;
        let mut budget = ByteBudget::new(self.max_frame_bytes);
        budget.take(&categories);
        let (friends, next) = budget.page_after(rows, limit, |f| f.user.user_id);
        Ok(FriendsOk {
            friends,
            categories,
            next,
        })
    }

    /// `friend_requests`: pending requests both ways, newest first.
    pub async fn requests(&self, me: UserId) -> Result<RequestsOk, ErrorBody> {
        let (incoming, outgoing) = self
            .store
            .friend_requests(me, INCOMING_REQUESTS_LISTED as u32)
            .await
            .map_err(from_store)?;
        // Both lists are bounded by count; the budget bounds their bytes
        // too (the newest are kept).
        let mut budget = ByteBudget::new(self.max_frame_bytes);
        let outgoing: Vec<_> = outgoing
            .into_iter()
            .take_while(|r| budget.take(r))
            .collect();
        let incoming: Vec<_> = incoming
            .into_iter()
            .take_while(|r| budget.take(r))
            .collect();
        Ok(RequestsOk { incoming, outgoing })
    }

    /// `category_create`.
    pub async fn create_category(
        &self,
        me: UserId,
        req: CategoryCreate,
        now: i64,
    ) -> Result<Category, ErrorBody> {
        check_category_name(&req.name)?;
        let outcome = self
            .store
            .create_category(me, &req.name, now)
            .await
            .map_err(from_store)?;
        self.changes.push(outcome.written);
        Ok(outcome.value)
    }

    /// `category_rename`.
    pub async fn rename_category(
        &self,
        me: UserId,
        req: CategoryRename,
        now: i64,
    ) -> Result<Category, ErrorBody> {
        check_category_name(&req.name)?;
        let outcome = self
            .store
            .rename_category(me, req.id, &req.name, now)
            .await
            .map_err(from_store)?;
        self.changes.push(outcome.written);
        Ok(outcome.value)
    }

    /// `category_delete`.
    pub async fn delete_category(
        &self,
        me: UserId,
        req: CategoryDelete,
        now: i64,
    ) -> Result<Empty, ErrorBody> {
        let outcome = self
            .store
            .delete_category(me, req.id, now)
            .await
            .map_err(from_store)?;
        self.changes.push(outcome.written);
        Ok(Empty {})
    }

    /// `block`.
    pub async fn block(&self, me: UserId, other: &str, now: i64) -> Result<Empty, ErrorBody> {
        let other = self.other(me, other, "block").await?;
        let outcome = self.store.block(me, other, now).await.map_err(from_store)?;
        self.changed(me, other, outcome);
        Ok(Empty {})
    }

    /// `unblock`.
    pub async fn unblock(&self, me: UserId, other: &str, now: i64) -> Result<Empty, ErrorBody> {
        let other = self.other(me, other, "unblock").await?;
        let outcome = self
            .store
            .unblock(me, other, now)
            .await
            .map_err(from_store)?;
        self.changed(me, other, outcome);
        Ok(Empty {})
    }

    /// `blocks`: one page of the users the caller has blocked.
    pub async fn blocks(&self, me: UserId, req: Page) -> Result<UsersOk, ErrorBody> {
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        let users = self
            .store
            .blocks(me, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        Ok(self.page_of_users(users, limit))
    }

    /// A page of cards from `limit + 1` rows, within a frame.
    fn page_of_users(&self, rows: Vec<magpie_proto::UserCard>, limit: u32) -> UsersOk {
        let (users, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |u| u.user_id);
        UsersOk { users, next }
    }
}

/// The answer when the recipient does not take messages (or requests)
/// from the caller: the same whatever the reason, so that a block cannot
/// be told apart from the policy.
pub fn not_allowed() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NotAllowed,
        "this user does not accept messages from you",
    )
}

fn check_category_name(name: &str) -> Result<(), ErrorBody> {
    if name.trim().is_empty() {
        return Err(invalid_args("a category needs a name"));
    }
    check_line("name", name, CATEGORY_NAME_MAX).map_err(invalid_args)
}

/// What a search query asks for: an email (has `@`), a phone (digits), or
/// text (usernames by prefix, nicknames by substring).
fn parse_query(query: &str) -> Result<UserQuery, ErrorBody> {
    let query = query.trim();
    if query.is_empty() {
        return Err(invalid_args("query must not be empty"));
    }
    check_line("query", query, SEARCH_QUERY_MAX).map_err(invalid_args)?;
    Ok(if query.contains('@') {
        UserQuery::Email(query.to_lowercase())
    } else if is_phone(query) {
        UserQuery::Phone(query.to_string())
    } else {
        UserQuery::Text(query.to_string())
    })
}

/// A profile's editable fields.
fn fields_of(p: &Profile) -> ProfileFields {
    ProfileFields {
        nickname: p.nickname.clone(),
        avatar: p.avatar.clone(),
        signature: p.signature.clone(),
        gender: p.gender,
        birthday: p.birthday.clone(),
        phone: p.phone.clone(),
        email: p.email.clone(),
    }
}

/// The profile after applying `update` to `current`, every field checked.
fn merge_profile(current: Profile, update: ProfileSet) -> Result<ProfileFields, ErrorBody> {
    let line = |field: &str, value: Option<String>, old: String, max: usize| match value {
        None => Ok(old),
        Some(v) => check_line(field, &v, max).map(|()| v).map_err(invalid_args),
    };
    // An empty string clears an optional field; anything else must pass
    // its format check.
    let optional =
        |field: &str, value: Option<String>, old: Option<String>, ok: fn(&str) -> bool| match value
        {
            None => Ok(old),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) if ok(&v) => Ok(Some(v)),
            Some(_) => Err(invalid_args(format!("{field} is not valid"))),
        };
    Ok(ProfileFields {
        nickname: line("nickname", update.nickname, current.nickname, NICKNAME_MAX)?,
        avatar: line("avatar", update.avatar, current.avatar, AVATAR_MAX)?,
        signature: line(
            "signature",
            update.signature,
            current.signature,
            SIGNATURE_MAX,
        )?,
        gender: update.gender.unwrap_or(current.gender),
        birthday: optional("birthday", update.birthday, current.birthday, is_birthday)?,
        phone: optional("phone", update.phone, current.phone, is_phone)?,
        email: optional(
            "email",
            update.email.map(|e| e.to_lowercase()),
            current.email,
            is_email,
        )?,
    })
}
