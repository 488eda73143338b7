//! Account administration: roles, account states, the directory place of
//! each user, and creating accounts with all of that at once.

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{AccountState, AdminUser, DeptId, Role, UserId};

/// A new account as an administrator creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub nickname: &'a str,
    pub dept: Option<DeptId>,
    pub title: &'a str,
    pub role: Role,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChange<'a> {
    pub role: Option<Role>,
    pub state: Option<AccountState>,
    /// `Some(None)`: out of the directory.
    pub dept: Option<Option<DeptId>>,
    pub title: Option<&'a str>,
    pub password_hash: Option<&'a str>,
}

/// What an account change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChanged {
    /// Tokens revoked (the account was disabled or deleted, or its
    /// password changed): their connections must be closed.
    pub revoked: Vec<[u8; 32]>,
    /// The directory's version, if the change touched the directory.
    pub directory_version: Option<i64>,
}

/// Account administration.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Create an account with its profile nickname and directory place,
    /// in one transaction ([`crate::StoreError::UsernameTaken`] if taken,
    /// [`crate::Refusal::UnknownDepartment`] for a missing department).
    /// Returns the id and, if it joined the directory, the new version.
    async fn create_account(
        &self,
        account: &NewAccount<'_>,
        now: i64,
    ) -> Result<(UserId, Option<i64>)>;

    /// An account as administrators see it.
    async fn admin_user(&self, user: UserId) -> Result<Option<AdminUser>>;

    /// Accounts with ids above `after` whose username starts with
    /// `prefix`, by id.
    async fn admin_users(&self, prefix: &str, after: UserId, limit: u32) -> Result<Vec<AdminUser>>;

    /// Change an account in one transaction (see [`AccountChanged`]).
    /// Deleting clears the profile and takes the user out of the
    /// directory; a deleted account cannot be changed again.
    async fn change_account(
        &self,
        user: UserId,
        change: &AccountChange<'_>,
        now: i64,
    ) -> Result<AccountChanged>;

    /// The role and state of an account (`None`: no such account).
    async fn standing(&self, user: UserId) -> Result<Option<(Role, AccountState)>>;
}
