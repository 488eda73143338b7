//! Administration, as client calls (the server checks the admin role).

use crate::{Client, ClientError};
use magpie_proto::{
    AdminGroupDissolve, AdminGroups, AdminGroupsOk, AdminQuotaSet, AdminStats, AdminUser,
    AdminUserCreate, AdminUserCreated, AdminUserSet, AdminUsers, AdminUsersOk, ConvId, Department,
    DeptCreate, DeptDelete, DeptId, DeptUpdate, DirectoryVersion, GroupChanged, Request, UserId,
    UserRef,
};

impl Client {
    /// One page of every group on the server.
    pub async fn admin_groups_page(
        &self,
        after: Option<ConvId>,
        limit: Option<u32>,
    ) -> Result<AdminGroupsOk, ClientError> {
        self.call(Request::AdminGroups(AdminGroups { after, limit }))
            .await
    }

    /// Dissolve any group, as its owner would.
    pub async fn admin_group_dissolve(&self, conv: ConvId) -> Result<GroupChanged, ClientError> {
        self.call(Request::AdminGroupDissolve(AdminGroupDissolve { conv }))
            .await
    }

    /// The answering node's own metrics.
    pub async fn admin_stats(&self) -> Result<AdminStats, ClientError> {
        self.call(Request::AdminStats).await
    }

    /// Create an account; without a password the server generates one.
    pub async fn admin_user_create(
        &self,
        account: AdminUserCreate,
    ) -> Result<AdminUserCreated, ClientError> {
        self.call(Request::AdminUserCreate(account)).await
    }

    /// One page of accounts whose username starts with `prefix`.
    pub async fn admin_users_page(
        &self,
        prefix: Option<&str>,
        after: Option<UserId>,
        limit: Option<u32>,
    ) -> Result<AdminUsersOk, ClientError> {
        self.call(Request::AdminUsers(AdminUsers {
            prefix: prefix.map(str::to_string),
            after,
            limit,
        }))
        .await
    }

    /// Every account whose username starts with `prefix`.
    pub async fn admin_users(&self, prefix: Option<&str>) -> Result<Vec<AdminUser>, ClientError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.admin_users_page(prefix, after, None).await?;
            all.extend(page.users);
            match page.next {
                Some(next) => after = crate::next_cursor(after, next)?,
                None => return Ok(all),
            }
        }
    }

    /// One account.
    pub async fn admin_user(&self, name: &str) -> Result<AdminUser, ClientError> {
        self.call(Request::AdminUser(UserRef {
            user: name.to_string(),
        }))
        .await
    }

    /// Change an account.
    pub async fn admin_user_set(&self, change: AdminUserSet) -> Result<AdminUser, ClientError> {
        self.call(Request::AdminUserSet(change)).await
    }

    /// Set user `user`'s storage quota to `bytes`, or return them to the
    /// server's default (`None`).
    pub async fn admin_quota_set(&self, user: &str, bytes: Option<u64>) -> Result<(), ClientError> {
        self.call::<magpie_proto::Empty>(Request::AdminQuotaSet(AdminQuotaSet {
            user: user.to_string(),
            bytes,
        }))
        .await
        .map(drop)
    }

    pub async fn dept_create(
        &self,
        name: &str,
        parent: Option<DeptId>,
        order: Option<i64>,
    ) -> Result<Department, ClientError> {
        self.call(Request::DeptCreate(DeptCreate {
            name: name.to_string(),
            parent,
            order,
        }))
        .await
    }

    pub async fn dept_update(&self, update: DeptUpdate) -> Result<DirectoryVersion, ClientError> {
        self.call(Request::DeptUpdate(update)).await
    }

    pub async fn dept_delete(&self, id: DeptId) -> Result<DirectoryVersion, ClientError> {
        self.call(Request::DeptDelete(DeptDelete { id })).await
    }
}
