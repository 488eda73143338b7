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
