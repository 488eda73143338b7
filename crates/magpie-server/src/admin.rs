//! The administration service: accounts (create, list, show, change:
//! role, state, directory place, password) and departments. Every
//! operation first checks, on the server, that the caller's account has
//! the admin role and is active; nothing a client says about itself
//! counts.

use crate::auth::{Auth, generated_password};
use crate::conversations::Conversations;
use crate::directory::Directory;
use crate::error::{from_store, invalid_args};
use crate::page::{ByteBudget, clamp_limit};
use crate::people::People;
use crate::router::{KickReason, Router, token_tag};
use magpie_proto::limits::{
    DEPT_NAME_MAX, NICKNAME_MAX, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, TITLE_MAX, check_line,
    normalize_username,
};
use magpie_proto::{
    AccountState, AdminGroups, AdminGroupsOk, AdminUser, AdminUserCreate, AdminUserCreated,
    AdminUserSet, AdminUsers, AdminUsersOk, Department, DeptCreate, DeptDelete, DeptId, DeptUpdate,
    DirectoryVersion, ErrorBody, ErrorCode, Role, UserId,
};
use magpie_store::{AccountChange, NewAccount, Store};
use std::sync::Arc;

/// The administration service.
#[derive(Debug)]
pub struct Admin {
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    conversations: Arc<Conversations>,
    directory: Arc<Directory>,
    people: Arc<People>,
    max_frame_bytes: usize,
}

/// A department id from the wire: `0` means none.
fn dept_choice(dept: DeptId) -> Result<Option<DeptId>, ErrorBody> {
    match dept {
        0 => Ok(None),
        d if d > 0 => Ok(Some(d)),
        _ => Err(invalid_args("dept must be a department id, or 0 for none")),
    }
}

fn check_dept_name(name: &str) -> Result<(), ErrorBody> {
    if name.trim().is_empty() {
        return Err(invalid_args("a department needs a name"));
    }
    check_line("name", name, DEPT_NAME_MAX).map_err(invalid_args)
}

impl Admin {
    pub fn new(
        store: Arc<dyn Store>,
        router: Arc<dyn Router>,
        conversations: Arc<Conversations>,
        directory: Arc<Directory>,
        people: Arc<People>,
        max_frame_bytes: usize,
    ) -> Admin {
        Admin {
            store,
            router,
            conversations,
            directory,
            people,
            max_frame_bytes,
        }
    }

    /// `forbidden` unless `me` is an active administrator.
    pub async fn require_admin(&self, me: UserId) -> Result<(), ErrorBody> {
        match self.store.standing(me).await.map_err(from_store)? {
            Some((Role::Admin, AccountState::Active)) => Ok(()),
            _ => Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "this needs an administrator account",
            )),
        }
    }

    async fn account(&self, user: UserId) -> Result<AdminUser, ErrorBody> {
        self.store
            .admin_user(user)
            .await
            .map_err(from_store)?
            .ok_or_else(|| ErrorBody::new(ErrorCode::UnknownUser, "no such user"))
    }

    /// `admin_user_create`.
    pub async fn create(
        &self,
        me: UserId,
        auth: &Auth,
        req: AdminUserCreate,
        now: i64,
    ) -> Result<AdminUserCreated, ErrorBody> {
        self.require_admin(me).await?;
        let username = normalize_username(&req.user).ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::InvalidUsername,
                "usernames are 3-32 characters of a-z, 0-9, '_', '.', '-'",
            )
        })?;
        let nickname = req.nickname.unwrap_or_default();
        check_line("nickname", &nickname, NICKNAME_MAX).map_err(invalid_args)?;
        let title = req.title.unwrap_or_default();
        check_line("title", &title, TITLE_MAX).map_err(invalid_args)?;
        let dept = dept_choice(req.dept.unwrap_or(0))?;
        let (password, generated) = match req.password {
            Some(p) => (p, false),
            None => (generated_password(), true),
        };
        let hash = auth.hash_new_password(&password).await?;
        let (user_id, version) = self
            .store
            .create_account(
                &NewAccount {
                    username: &username,
                    password_hash: &hash,
                    nickname: &nickname,
                    dept,
                    title: &title,
                    role: req.role.unwrap_or_default(),
                },
                now,
            )
            .await
            .map_err(from_store)?;
        if let Some(version) = version {
            self.directory.announce(version);
        }
        Ok(AdminUserCreated {
            user_id,
            user: username,
            password: generated.then_some(password),
        })
    }

    /// `admin_users`.
    pub async fn users(&self, me: UserId, req: AdminUsers) -> Result<AdminUsersOk, ErrorBody> {
        self.require_admin(me).await?;
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        let prefix = req.prefix.unwrap_or_default().to_ascii_lowercase();
        check_line("prefix", &prefix, 32).map_err(invalid_args)?;
        let rows = self
            .store
            .admin_users(&prefix, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        let (users, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |u| u.user_id);
        Ok(AdminUsersOk { users, next })
    }

    /// `admin_user`.
    pub async fn user(&self, me: UserId, name: &str) -> Result<AdminUser, ErrorBody> {
        self.require_admin(me).await?;
        let user = self.conversations.resolve_user(name).await?;
        self.account(user).await
    }

    /// `admin_user_set`: one transaction; then the account's revoked
    /// sessions are closed on every node and a directory change announced.
    pub async fn set(
        &self,
        me: UserId,
        auth: &Auth,
        req: AdminUserSet,
        now: i64,
    ) -> Result<AdminUser, ErrorBody> {
        self.require_admin(me).await?;
        let user = self.conversations.resolve_user(&req.user).await?;
        if let Some(title) = &req.title {
            check_line("title", title, TITLE_MAX).map_err(invalid_args)?;
        }
        let dept = req.dept.map(dept_choice).transpose()?;
        let hash = match &req.password {
            Some(p) => Some(auth.hash_new_password(p).await?),
            None => None,
        };
        let changed = self
            .store
            .change_account(
                user,
                &AccountChange {
                    role: req.role,
                    state: req.state,
                    dept,
                    title: req.title.as_deref(),
                    password_hash: hash.as_deref(),
                },
                now,
            )
            .await
            .map_err(from_store)?;
        // A disabled or deleted account is told so; a password reset
        // only revokes the sessions.
        let reason = match req.state {
            Some(AccountState::Disabled | AccountState::Deleted) => KickReason::Disabled,
            _ => KickReason::Revoked,
        };
        for token in &changed.revoked {
            self.router.kick_token(user, token_tag(token), None, reason);
        }
        if req.state.is_some() || req.dept.is_some() {
            self.people.forget_relations();
        }
        if let Some(version) = changed.directory_version {
            self.directory.announce(version);
        }
        self.account(user).await
    }

    /// `dept_create`.
    pub async fn create_dept(
        &self,
        me: UserId,
        req: DeptCreate,
        now: i64,
    ) -> Result<Department, ErrorBody> {
        self.require_admin(me).await?;
        check_dept_name(&req.name)?;
        let parent = dept_choice(req.parent.unwrap_or(0))?;
        let order = req.order.unwrap_or(0);
        let (id, version) = self
            .store
            .create_dept(&req.name, parent, order, now)
            .await
            .map_err(from_store)?;
        self.directory.announce(version);
        Ok(Department {
            id,
            name: req.name,
            parent,
            order,
            members: 0,
        })
    }

    /// `dept_update`: rename, move, reorder.
    pub async fn update_dept(
        &self,
        me: UserId,
        req: DeptUpdate,
    ) -> Result<DirectoryVersion, ErrorBody> {
        self.require_admin(me).await?;
        if let Some(name) = &req.name {
            check_dept_name(name)?;
        }
        let parent = req.parent.map(dept_choice).transpose()?;
        let version = self
            .store
            .update_dept(req.id, req.name.as_deref(), parent, req.order)
            .await
            .map_err(from_store)?;
        self.directory.announce(version);
        Ok(DirectoryVersion { version })
    }

    /// `dept_delete`: only an empty department.
    pub async fn delete_dept(
        &self,
        me: UserId,
        req: DeptDelete,
    ) -> Result<DirectoryVersion, ErrorBody> {
        self.require_admin(me).await?;
        let version = self.store.delete_dept(req.id).await.map_err(from_store)?;
        self.directory.announce(version);
        Ok(DirectoryVersion { version })
    }

    /// `admin_groups`: every group, a page at a time.
    pub async fn groups(&self, me: UserId, req: AdminGroups) -> Result<AdminGroupsOk, ErrorBody> {
        self.require_admin(me).await?;
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        let after = req.after.unwrap_or(0);
        if after < 0 {
            return Err(invalid_args("after must be a conversation id"));
        }
        let rows = self
            .store
            .admin_groups(after, limit + 1)
            .await
            .map_err(from_store)?;
        let (groups, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |g| g.conv);
        Ok(AdminGroupsOk { groups, next })
    }
}
