//! The people area: profiles, search, and the contact graph (friends,
//! friend requests, categories, blocks).
//!
//! Every method that changes the graph is one transaction that also
//! appends to the change stream of each user it concerns (see
//! [`crate::ChangeStore`]) and returns those changes, so the caller can
//! push them. The rules (who may do what, what each side is told) are
//! enforced here, inside the transaction, because only there are they
//! race-free: two crossed requests, or an accept racing a cancel, end in
//! one consistent state whatever the engine. The rules refused come back
//! as [`crate::StoreError::Refused`].

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{
    Category, CategoryId, Change, Friend, Gender, PendingRequest, Profile, RequestStatus, UserCard,
    UserId,
};

/// A change appended to `user`'s stream, for the server to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub user: UserId,
    pub change: Change,
}

/// The result of a graph change: its value and the changes it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<T> {
    pub value: T,
    pub written: Vec<Written>,
}

/// Why the graph refused a change. Each maps to one protocol error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such user")]
    UnknownUser,
    #[error("already friends")]
    AlreadyFriends,
    #[error("not friends")]
    NotFriends,
    #[error("no such pending request")]
    NoSuchRequest,
    #[error("no such category")]
    UnknownCategory,
    /// The caller has blocked the other user: unblock first.
    #[error("you have blocked this user")]
    YouBlocked,
    #[error("limit reached: {0}")]
    LimitReached(&'static str),
    #[error("no such department")]
    UnknownDepartment,
    #[error("the department has members or children")]
    DepartmentNotEmpty,
    /// A department or a drive folder cannot move under itself or a
    /// descendant.
    #[error("cannot move under itself or its own descendant")]
    InvalidMove,
    #[error("username already taken")]
    UsernameTaken,
    /// A deleted account cannot be changed.
    #[error("the account is deleted")]
    AccountDeleted,
    /// The caller is not in the group (or it does not exist).
    #[error("not a member of the group")]
    NotMember,
    /// The user acted on is not in the group.
    #[error("that user is not a member of the group")]
    TargetNotMember,
    #[error("already a member of the group")]
    AlreadyMember,
    /// `group_join` on a group that only admits by invitation.
    #[error("the group is invite-only")]
    InviteOnly,
    /// The owner of a permanent group must transfer it or dissolve it.
    #[error("the owner must transfer the group first")]
    OwnerMustTransfer,
    /// The caller's role does not allow the change; says who may.
    #[error("not allowed: {0}")]
    GroupRole(&'static str),
    /// No such file or upload (or not one the caller may see).
    #[error("no such file")]
    NoSuchFile,
    /// The owner's storage quota would be exceeded.
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// No such drive entry of the caller's (or not in the drive now).
    #[error("no such drive entry")]
    NoSuchEntry,
    /// The destination folder already has an entry of that name.
    #[error("the name is already used in that folder")]
    NameTaken,
    /// No such share link (revoked, or its entry purged).
    #[error("no such share")]
    NoSuchShare,
    /// No such entry in the conversation, or not one the caller can see.
    #[error("no such message")]
    NoSuchMessage,
    /// The entry cannot take this change; says why.
    #[error("{0}")]
    NotAmendable(&'static str),
    /// The window for this change has passed; says which.
    #[error("{0}")]
    TooLate(&'static str),
}

/// A profile's editable fields, as a whole (the service merges an update
/// into the current profile before writing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFields {
    pub nickname: String,
    pub avatar: String,
    pub signature: String,
    pub gender: Gender,
    pub birthday: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// What a search matches, already told apart by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserQuery {
    /// Exact email.
    Email(String),
    /// Exact phone, or usernames starting with the digits.
    Phone(String),
    /// Usernames starting with it, or nicknames containing it (compared
    /// lower-cased).
    Text(String),
}

/// How two users stand, seen from `a`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    pub friends: bool,
    /// `a` has blocked `b`.
    pub blocks: bool,
    /// `b` has blocked `a`.
    pub blocked_by: bool,
    /// Both are active members of the organisation (in the directory).
    pub colleagues: bool,
    /// `b`'s account is disabled or deleted.
    pub b_inactive: bool,
}

/// Profiles, search and the contact graph.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// A user's whole profile (hidden fields included: the service decides
    /// who sees them), or `None` for an unknown user.
    async fn profile(&self, user: UserId) -> Result<Option<Profile>>;

    /// Replace a user's profile fields, and append a `profile` change to
    /// the stream of the user and of each friend.
    async fn set_profile(
        &self,
        user: UserId,
        fields: &ProfileFields,
        now: i64,
    ) -> Result<Outcome<Profile>>;

    /// Users matching `query` with ids above `after`, by id, at most
    /// `limit`; never `searcher`, nor anyone who has blocked `searcher`.
    async fn search_users(
        &self,
        searcher: UserId,
        query: &UserQuery,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<UserCard>>;

    /// How `a` and `b` stand.
    async fn relation(&self, a: UserId, b: UserId) -> Result<Relation>;

    /// `from` asks `to` to be friends (see PROTOCOL.md for every case: a
    /// repeat updates the pending request, a crossed request makes a
    /// friendship, a request to someone who blocked `from` stays hidden).
    async fn request_friend(
        &self,
        from: UserId,
        to: UserId,
        note: &str,
        now: i64,
    ) -> Result<Outcome<RequestStatus>>;

    /// `me` accepts or rejects the pending request of `from`.
    async fn answer_request(
        &self,
        me: UserId,
        from: UserId,
        accept: bool,
        now: i64,
    ) -> Result<Outcome<()>>;

    /// `me` withdraws their pending request to `to`.
    async fn cancel_request(&self, me: UserId, to: UserId, now: i64) -> Result<Outcome<()>>;

    /// End the friendship of `me` and `friend`, on both sides.
    async fn remove_friend(&self, me: UserId, friend: UserId, now: i64) -> Result<Outcome<()>>;

    /// Change `me`'s remark for a friend and/or their category
    /// (`Some(None)`: no category).
    async fn set_friend(
        &self,
        me: UserId,
        friend: UserId,
        remark: Option<&str>,
        category: Option<Option<CategoryId>>,
        now: i64,
    ) -> Result<Outcome<Friend>>;

    async fn create_category(&self, me: UserId, name: &str, now: i64) -> Result<Outcome<Category>>;

    async fn rename_category(
        &self,
        me: UserId,
        id: CategoryId,
        name: &str,
        now: i64,
    ) -> Result<Outcome<Category>>;

    /// Delete a category; its friends are left in none.
    async fn delete_category(&self, me: UserId, id: CategoryId, now: i64) -> Result<Outcome<()>>;

    /// `me` blocks `other`: ends a friendship and `me`'s request to them,
    /// hides their request to `me`. Blocking twice changes nothing.
    async fn block(&self, me: UserId, other: UserId, now: i64) -> Result<Outcome<()>>;

    /// Undo a block; unblocking someone not blocked changes nothing.
    async fn unblock(&self, me: UserId, other: UserId, now: i64) -> Result<Outcome<()>>;

    /// `me`'s friends with ids above `after`, by id, at most `limit`.
    async fn friends(&self, me: UserId, after: UserId, limit: u32) -> Result<Vec<Friend>>;

    /// `me`'s categories, oldest first.
    async fn categories(&self, me: UserId) -> Result<Vec<Category>>;

    /// Pending requests to `me` (the newest `incoming_max`, hidden ones
    /// left out) and from `me`, newest first.
    async fn friend_requests(
        &self,
        me: UserId,
        incoming_max: u32,
    ) -> Result<(Vec<PendingRequest>, Vec<PendingRequest>)>;

    /// Users `me` has blocked with ids above `after`, by id.
    async fn blocks(&self, me: UserId, after: UserId, limit: u32) -> Result<Vec<UserCard>>;
}
