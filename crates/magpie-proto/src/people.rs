//! The people area: profiles, search, friends and friend requests, friend
//! categories and the blocklist.
//!
//! Users are named on the wire by username (`user`), the handle people
//! type; objects also carry the numeric `user_id`, which never changes and
//! is what clients key their caches by.

use crate::types::UserId;
use serde::{Deserialize, Serialize};

/// A friend category's id (QQ's 分组), unique across the server.
pub type CategoryId = i64;

/// A user as lists show them: enough to draw a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCard {
    pub user_id: UserId,
    /// Username.
    pub user: String,
    /// Display name; empty when the user set none (show the username).
    pub nickname: String,
    /// Avatar reference; empty when none.
    pub avatar: String,
}

/// What a user says about their gender; `unspecified` unless they chose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    #[default]
    Unspecified,
    Male,
    Female,
    Other,
}

/// A user's profile. `phone` and `email` are present only for the user
/// themself and their friends (and, in a directory, their colleagues);
/// everyone else sees them absent, the same as unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub user_id: UserId,
    pub user: String,
    pub nickname: String,
    pub avatar: String,
    /// A one-line status text (QQ's 个性签名).
    pub signature: String,
    pub gender: Gender,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When the profile last changed (ms since the epoch; 0: never).
    pub updated_at: i64,
}

/// Arguments naming one other user: `profile`, `friend_accept`,
/// `friend_reject`, `friend_cancel`, `friend_remove`, `block`, `unblock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub user: String,
}

/// `profile`: read a profile (the caller's own when `user` is omitted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileGet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `profile_set`: change fields of the caller's profile. Omitted fields
/// keep their value; an empty string clears a field (for `gender`,
/// `unspecified` does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `search`: find users. A query with `@` matches an email exactly; one of
/// digits (optionally after `+`) matches a phone exactly and usernames by
/// prefix; anything else matches usernames by prefix and nicknames by
/// substring. Results are ordered by user id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Search {
    pub query: String,
    /// Continue after this user id (the `next` of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<UserId>,
    /// Page size (default 20, at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `search` and `blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersOk {
    pub users: Vec<UserCard>,
    /// Present when more rows follow: pass it as `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<UserId>,
}

/// Arguments of the paged lists keyed by user id (`friends`, `blocks`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<UserId>,
    /// Page size (default 200, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `friend_request`: ask `user` to be friends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequest {
    pub user: String,
    /// A short note shown with the request.
    #[serde(default)]
    pub note: String,
}

/// What became of a `friend_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for the other user's answer.
    Pending,
    /// The other user had asked too: the two are now friends.
    Friends,
}

/// Result of `friend_request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequestOk {
    pub status: RequestStatus,
}

/// A friend request waiting for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    pub from: UserCard,
    pub to: UserCard,
    pub note: String,
    /// When it was last sent (a repeated request updates it).
    pub ts: i64,
}

/// How a friend request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    Accepted,
    Rejected,
    Cancelled,
    /// The addressee blocked the requester. Only the addressee's devices
    /// are told; to the requester the request still looks pending.
    Ignored,
}

/// Payload of the `friend_request_closed` change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestClosed {
    pub from: UserCard,
    pub to: UserCard,
    pub outcome: RequestOutcome,
}

/// Result of `friend_requests`: pending requests to and from the caller,
/// newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestsOk {
    pub incoming: Vec<PendingRequest>,
    pub outgoing: Vec<PendingRequest>,
}

/// A named list of friends (QQ's 分组). A friend is in at most one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
}

/// One of the caller's friends, with what only the caller sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friend {
    pub user: UserCard,
    /// The caller's private alias for this friend; empty when none.
    pub remark: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<CategoryId>,
    /// When the friendship began (ms since the epoch).
    pub since: i64,
    /// The friend's presence now, in `friends` results (absent in
    /// changes: presence arrives as `presence` pushes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<crate::presence::PresenceState>,
}

/// Result of `friends`: one page of the caller's friends by user id, and
/// (on every page) the caller's categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendsOk {
    pub friends: Vec<Friend>,
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<UserId>,
}

/// `friend_set`: change what the caller keeps about a friend. Omitted
/// fields keep their value; `remark: ""` clears the alias and
/// `category: 0` takes the friend out of any category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendSet {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<CategoryId>,
}

/// `category_create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCreate {
    pub name: String,
}

/// `category_rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRename {
    pub id: CategoryId,
    pub name: String,
}

/// `category_delete`: its friends are left in no category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryDelete {
    pub id: CategoryId,
}
