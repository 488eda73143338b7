//! [`AdminStore`] on SQL: `users.role`, `users.state`, the directory
//! columns, and the tokens an account change revokes.

use super::people::like_escape;
use super::{SqlStore, Tx, graph, text_column};
use crate::{AccountChange, AccountChanged, AdminStore, NewAccount, Refusal, Result};
use async_trait::async_trait;
use magpie_proto::{AccountState, AdminUser, Role, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

fn role_code(role: Role) -> i64 {
    match role {
        Role::User => 0,
        Role::Admin => 1,
    }
}

fn role_from_code(code: i64) -> Role {
    if code == 1 { Role::Admin } else { Role::User }
}

fn state_code(state: AccountState) -> i64 {
    match state {
        AccountState::Active => 0,
        AccountState::Disabled => 1,
        AccountState::Deleted => 2,
    }
}

fn state_from_code(code: i64) -> AccountState {
    match code {
        0 => AccountState::Active,
        1 => AccountState::Disabled,
        _ => AccountState::Deleted,
    }
}

/// An [`AdminUser`], in [`admin_user_from_row`] order.
const ADMIN_SELECT: &str = "SELECT u.id, u.username, COALESCE(p.nickname, ''), u.role, u.state, \
            u.dept_id, u.title, u.created_at \
     FROM users u LEFT JOIN profiles p ON p.user_id = u.id";

fn admin_user_from_row(r: &AnyRow) -> sqlx::Result<AdminUser> {
    Ok(AdminUser {
        user_id: r.try_get(0)?,
        user: text_column(r, 1)?,
        nickname: text_column(r, 2)?,
        role: role_from_code(r.try_get(3)?),
        state: state_from_code(r.try_get(4)?),
        dept: r.try_get(5)?,
        title: text_column(r, 6)?,
        created_at: r.try_get(7)?,
    })
}

impl SqlStore {
    async fn create_account_tx(
        &self,
        c: &mut AnyConnection,
        a: &NewAccount<'_>,
        now: i64,
    ) -> Tx<(UserId, Option<i64>)> {
        let version = match a.dept {
            Some(dept) => {
                let version = self.bump_directory(c).await?;
                if !self.dept_exists(c, dept).await? {
                    return Err(Refusal::UnknownDepartment.into());
                }
                Some(version)
            }
            None => None,
        };
        let taken = sqlx::query(self.dq("SELECT id FROM users WHERE username = ?"))
            .bind(a.username)
            .fetch_optional(&mut *c)
            .await?;
        if taken.is_some() {
            return Err(Refusal::UsernameTaken.into());
        }
        let insert = sqlx::query(self.dq(
            "INSERT INTO users (username, password_hash, created_at, role, dept_id, title) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        ))
        .bind(a.username)
        .bind(a.password_hash)
        .bind(now)
        .bind(role_code(a.role))
        .bind(a.dept)
        .bind(a.title);
        let id = self.insert_id(c, insert).await?;
        if !a.nickname.is_empty() {
            sqlx::query(self.dq(
                "INSERT INTO profiles (user_id, nickname, nickname_fold, updated_at) VALUES (?, ?, ?, ?)",
            ))
            .bind(id)
            .bind(a.nickname)
            .bind(a.nickname.to_lowercase())
            .bind(now)
            .execute(&mut *c)
            .await?;
        }
        Ok((id, version))
    }

    /// Delete every token of `user`, returning their hashes.
    async fn revoke_all_in(&self, c: &mut AnyConnection, user: UserId) -> Tx<Vec<[u8; 32]>> {
        let rows = sqlx::query(self.dq("SELECT token_hash FROM tokens WHERE user_id = ?"))
            .bind(user)
            .fetch_all(&mut *c)
            .await?;
        let mut hashes = Vec::with_capacity(rows.len());
        for row in rows {
            let hash: Vec<u8> = row.try_get(0)?;
            if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                hashes.push(hash);
            }
        }
        sqlx::query(self.dq("DELETE FROM tokens WHERE user_id = ?"))
            .bind(user)
            .execute(&mut *c)
            .await?;
        Ok(hashes)
    }

    async fn change_account_tx(
        &self,
        c: &mut AnyConnection,
        user: UserId,
        ch: &AccountChange<'_>,
    ) -> Tx<AccountChanged> {
        let row = sqlx::query(self.dq("SELECT state, dept_id FROM users WHERE id = ?{for_update}"))
            .bind(user)
            .fetch_optional(&mut *c)
            .await?
            .ok_or(Refusal::UnknownUser)?;
        let state = state_from_code(row.try_get(0)?);
        let had_dept: Option<i64> = row.try_get(1)?;
        if state == AccountState::Deleted {
            return Err(Refusal::AccountDeleted.into());
        }
        let deleting = ch.state == Some(AccountState::Deleted);
        let touches_directory =
            ch.dept.is_some() || ch.title.is_some() || (ch.state.is_some() && had_dept.is_some());
        let directory_version = if touches_directory {
            Some(self.bump_directory(c).await?)
        } else {
            None
        };
        if let Some(Some(dept)) = ch.dept
            && !self.dept_exists(c, dept).await?
        {
            return Err(Refusal::UnknownDepartment.into());
        }
        if let Some(role) = ch.role {
            sqlx::query(self.dq("UPDATE users SET role = ? WHERE id = ?"))
                .bind(role_code(role))
                .bind(user)
                .execute(&mut *c)
                .await?;
        }
        if let Some(dept) = ch.dept {
            sqlx::query(self.dq("UPDATE users SET dept_id = ? WHERE id = ?"))
                .bind(dept)
                .bind(user)
                .execute(&mut *c)
                .await?;
        }
        if let Some(title) = ch.title {
            sqlx::query(self.dq("UPDATE users SET title = ? WHERE id = ?"))
                .bind(title)
                .bind(user)
                .execute(&mut *c)
                .await?;
        }
        if let Some(hash) = ch.password_hash {
            sqlx::query(self.dq("UPDATE users SET password_hash = ? WHERE id = ?"))
                .bind(hash)
                .bind(user)
                .execute(&mut *c)
                .await?;
        }
        if let Some(new_state) = ch.state {
            sqlx::query(self.dq("UPDATE users SET state = ? WHERE id = ?"))
                .bind(state_code(new_state))
                .bind(user)
                .execute(&mut *c)
                .await?;
        }
        if deleting {
            // Gone from the directory, search and every profile view; the
            // username stays taken so that history keeps its meaning.
            sqlx::query(
                self.dq("UPDATE users SET dept_id = NULL, title = '', role = 0 WHERE id = ?"),
            )
            .bind(user)
            .execute(&mut *c)
            .await?;
            sqlx::query(self.dq("DELETE FROM profiles WHERE user_id = ?"))
                .bind(user)
                .execute(&mut *c)
                .await?;
        }
        let signs_out = ch.password_hash.is_some()
            || matches!(
                ch.state,
                Some(AccountState::Disabled | AccountState::Deleted)
            );
        let revoked = if signs_out {
            self.revoke_all_in(c, user).await?
        } else {
            Vec::new()
        };
        Ok(AccountChanged {
            revoked,
            directory_version,
        })
    }
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn create_account(
        &self,
        account: &NewAccount<'_>,
        now: i64,
    ) -> Result<(UserId, Option<i64>)> {
        graph!(self.create_account_tx(account, now))
    }

    async fn admin_user(&self, user: UserId) -> Result<Option<AdminUser>> {
        let row = sqlx::query(self.dq(&format!("{ADMIN_SELECT} WHERE u.id = ?")))
            .bind(user)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| admin_user_from_row(&r))
            .transpose()
            .map_err(self.err())
    }

    async fn admin_users(&self, prefix: &str, after: UserId, limit: u32) -> Result<Vec<AdminUser>> {
        let rows = sqlx::query(self.dq(&format!(
            "{ADMIN_SELECT} WHERE u.username LIKE ? ESCAPE '!' AND u.id > ? ORDER BY u.id LIMIT ?"
        )))
        .bind(format!("{}%", like_escape(prefix)))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(self.err())?;
        rows.iter()
            .map(admin_user_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn change_account(
        &self,
        user: UserId,
        change: &AccountChange<'_>,
        _now: i64,
    ) -> Result<AccountChanged> {
        graph!(self.change_account_tx(user, change))
    }

    async fn standing(&self, user: UserId) -> Result<Option<(Role, AccountState)>> {
        let row = sqlx::query(self.dq("SELECT role, state FROM users WHERE id = ?"))
            .bind(user)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|r| {
            Ok((
                role_from_code(r.try_get(0)?),
                state_from_code(r.try_get(1)?),
            ))
        })
        .transpose()
        .map_err(self.err())
    }
}
