//! Administration: accounts and the directory, for users whose role is
//! `admin`. Roles live on the server; every `admin_*` and `dept_*`
//! change is authorised there, whatever the client claims.

use crate::directory::DeptId;
use crate::types::UserId;
use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    User,
    /// May manage accounts and the directory.
    Admin,
}

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    #[default]
    Active,
    /// Cannot sign in; its sessions were closed. Can be enabled again.
    Disabled,
    /// Removed: cannot sign in, left out of the directory and search, its
    /// profile cleared. Its messages stay in others' history. Final.
    Deleted,
}

/// `admin_user_create`: create an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserCreate {
    pub user: String,
    /// Omitted: the server generates one and returns it, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<DeptId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// Result of `admin_user_create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserCreated {
    pub user_id: UserId,
    pub user: String,
    /// The generated password, when none was given. Shown only here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// An account as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub user_id: UserId,
    pub user: String,
    pub nickname: String,
    pub role: Role,
    pub state: AccountState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<DeptId>,
    pub title: String,
    pub created_at: i64,
}

/// `admin_users`: one page of accounts by id, optionally only those whose
/// username starts with `prefix`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUsers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<UserId>,
    /// Page size (default 200, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `admin_users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUsersOk {
    pub users: Vec<AdminUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<UserId>,
}

/// `admin_user_set`: change an account. Omitted fields stay; `dept: 0`
/// takes the user out of the directory. Disabling or deleting closes the
/// account's sessions on every node at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserSet {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AccountState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<DeptId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A new password; every session of the account is signed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `dept_create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeptCreate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<DeptId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
}

/// `dept_update`: rename, move (`parent: 0` makes it top-level) or
/// reorder. A department cannot move under itself or its descendants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeptUpdate {
    pub id: DeptId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<DeptId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
}

/// `dept_delete`: only an empty department (no members, no children).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeptDelete {
    pub id: DeptId,
}

/// `admin_groups`: one page of every group that is not dissolved, by
/// conversation id, whoever its members are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminGroups {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<crate::types::ConvId>,
    /// Page size (default 200, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A group as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminGroup {
    pub conv: crate::types::ConvId,
    pub name: String,
    pub owner_id: UserId,
    /// The owner's username.
    pub owner: String,
    pub members: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub temporary: bool,
    pub created_at: i64,
}

/// Result of `admin_groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminGroupsOk {
    pub groups: Vec<AdminGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<crate::types::ConvId>,
}

/// `admin_group_dissolve`: dissolve any group, as its owner would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminGroupDissolve {
    pub conv: crate::types::ConvId,
}

/// A histogram's running totals: the sum of the observed values and how
/// many there were, both since the node started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramTotals {
    pub sum: f64,
    pub count: u64,
}

/// Result of `admin_stats`: this node's own metrics, as at `at`. Counters
/// and histogram totals only grow (from the node's start): a rate is the
/// difference of two answers over the difference of their `at`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdminStats {
    /// When the figures were read (ms since the epoch, the node's clock).
    pub at: i64,
    /// When this node started (ms since the epoch).
    pub started_at: i64,
    /// Open client connections on this node now (both transports).
    pub connections: u64,
    pub connections_tcp: u64,
    pub connections_ws: u64,
    pub logins: u64,
    pub login_failures: u64,
    /// Messages durably stored by this node.
    pub messages_in: u64,
    /// Message pushes queued to this node's connections.
    pub messages_out: u64,
    pub slow_consumer_disconnects: u64,
    /// Seconds from receiving a send to writing its ack.
    pub send_ack_seconds: HistogramTotals,
    /// Seconds to store one group-commit batch.
    pub store_batch_seconds: HistogramTotals,
    /// Messages per group-commit batch.
    pub store_batch_size: HistogramTotals,
    /// Seconds to answer one `message_search`.
    pub search_seconds: HistogramTotals,
}
