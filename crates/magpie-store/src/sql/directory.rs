//! [`DirectoryStore`] on SQL: the `departments` table, `users.dept_id`
//! and `users.title`, and the version in `meta`.

use super::{SqlStore, Tx, graph, text_column};
use crate::{DirectoryStore, Refusal, Result};
use async_trait::async_trait;
use magpie_proto::limits::DEPTS_MAX;
use magpie_proto::{Department, DeptId, UserCard, UserId};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::sync::Arc;

/// The version row of `meta`.
const VERSION: &str = "directory_version";

impl SqlStore {
    /// A query of this module, rendered for the engine.
    pub(super) fn dq(&self, template: &str) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(self.backend.render(template))
    }

    /// Bump the directory's version inside the caller's transaction (the
    /// row lock orders concurrent directory changes) and return it.
    pub(super) async fn bump_directory(&self, c: &mut AnyConnection) -> sqlx::Result<i64> {
        sqlx::query(self.dq("UPDATE meta SET value = value + 1 WHERE name = ?"))
            .bind(VERSION)
            .execute(&mut *c)
            .await?;
        sqlx::query(self.dq("SELECT value FROM meta WHERE name = ?"))
            .bind(VERSION)
            .fetch_one(&mut *c)
            .await?
            .try_get(0)
    }

    /// Whether department `id` exists (inside a transaction).
    pub(super) async fn dept_exists(
        &self,
        c: &mut AnyConnection,
        id: DeptId,
    ) -> sqlx::Result<bool> {
        Ok(
            sqlx::query(self.dq("SELECT id FROM departments WHERE id = ?"))
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
                .is_some(),
        )
    }

    async fn create_dept_tx(
        &self,
        c: &mut AnyConnection,
        name: &str,
        parent: Option<DeptId>,
        order: i64,
        now: i64,
    ) -> Tx<(DeptId, i64)> {
        // Bumping first takes the version row's lock: directory changes
        // run one at a time, so the checks below stay true until commit.
        let version = self.bump_directory(c).await?;
        if let Some(parent) = parent
            && !self.dept_exists(c, parent).await?
        {
            return Err(Refusal::UnknownDepartment.into());
        }
        let count: i64 = sqlx::query(self.dq("SELECT COUNT(*) FROM departments"))
            .fetch_one(&mut *c)
            .await?
            .try_get(0)?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= DEPTS_MAX {
            return Err(Refusal::LimitReached("departments").into());
        }
        let insert = sqlx::query(self.dq(
            "INSERT INTO departments (name, parent_id, position, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        ))
        .bind(name)
        .bind(parent)
        .bind(order)
        .bind(now);
        let id = self.insert_id(c, insert).await?;
        Ok((id, version))
    }

    async fn update_dept_tx(
        &self,
        c: &mut AnyConnection,
        id: DeptId,
        name: Option<&str>,
        parent: Option<Option<DeptId>>,
        order: Option<i64>,
    ) -> Tx<i64> {
        let version = self.bump_directory(c).await?;
        if !self.dept_exists(c, id).await? {
            return Err(Refusal::UnknownDepartment.into());
        }
        if let Some(name) = name {
            sqlx::query(self.dq("UPDATE departments SET name = ? WHERE id = ?"))
                .bind(name)
                .bind(id)
                .execute(&mut *c)
                .await?;
        }
        if let Some(order) = order {
            sqlx::query(self.dq("UPDATE departments SET position = ? WHERE id = ?"))
                .bind(order)
                .bind(id)
                .execute(&mut *c)
                .await?;
        }
        if let Some(parent) = parent {
            // Walk up from the new parent: meeting `id` means a cycle. The
            // tree is bounded (DEPTS_MAX), and so is the walk.
            let mut at = parent;
            let mut steps = 0;
            while let Some(node) = at {
                if node == id {
                    return Err(Refusal::InvalidMove.into());
                }
                let row = sqlx::query(self.dq("SELECT parent_id FROM departments WHERE id = ?"))
                    .bind(node)
                    .fetch_optional(&mut *c)
                    .await?
                    .ok_or(Refusal::UnknownDepartment)?;
                at = row.try_get::<Option<i64>, _>(0)?;
                steps += 1;
                if steps > DEPTS_MAX {
                    return Err(Refusal::InvalidMove.into());
                }
            }
            sqlx::query(self.dq("UPDATE departments SET parent_id = ? WHERE id = ?"))
                .bind(parent)
                .bind(id)
                .execute(&mut *c)
                .await?;
        }
        Ok(version)
    }

    async fn delete_dept_tx(&self, c: &mut AnyConnection, id: DeptId) -> Tx<i64> {
        let version = self.bump_directory(c).await?;
        if !self.dept_exists(c, id).await? {
            return Err(Refusal::UnknownDepartment.into());
        }
        let used = sqlx::query(
            self.dq("SELECT (SELECT COUNT(*) FROM users WHERE dept_id = ?) + \
                    (SELECT COUNT(*) FROM departments WHERE parent_id = ?)"),
        )
        .bind(id)
        .bind(id)
        .fetch_one(&mut *c)
        .await?
        .try_get::<i64, _>(0)?;
        if used > 0 {
            return Err(Refusal::DepartmentNotEmpty.into());
        }
        sqlx::query(self.dq("DELETE FROM departments WHERE id = ?"))
            .bind(id)
            .execute(&mut *c)
            .await?;
        Ok(version)
    }
}

#[async_trait]
impl DirectoryStore for SqlStore {
    async fn directory(&self) -> Result<(i64, Vec<Department>)> {
        // One read transaction would be tidier; the version is read first,
        // so a change racing this read is at worst seen with an older
        // version and reloaded on its push.
        let version = self.directory_version().await?;
        let rows = sqlx::query(self.dq("SELECT d.id, d.name, d.parent_id, d.position, \
                    (SELECT COUNT(*) FROM users u WHERE u.dept_id = d.id AND u.state = 0) \
             FROM departments d ORDER BY d.id"))
        .fetch_all(&self.readers)
        .await
        .map_err(self.err())?;
        let departments = rows
            .iter()
            .map(|r| {
                Ok(Department {
                    id: r.try_get(0)?,
                    name: text_column(r, 1)?,
                    parent: r.try_get(2)?,
                    order: r.try_get(3)?,
                    members: r.try_get(4)?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())?;
        Ok((version, departments))
    }

    async fn directory_version(&self) -> Result<i64> {
        sqlx::query(self.dq("SELECT value FROM meta WHERE name = ?"))
            .bind(VERSION)
            .fetch_one(&self.readers)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(self.err())
    }

    async fn dept_members(
        &self,
        dept: DeptId,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<(UserCard, String)>> {
        let exists = sqlx::query(self.dq("SELECT id FROM departments WHERE id = ?"))
            .bind(dept)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        if exists.is_none() {
            return Err(Refusal::UnknownDepartment.into());
        }
        let rows = sqlx::query(self.dq(
            "SELECT u.id, u.username, COALESCE(p.nickname, ''), COALESCE(p.avatar, ''), u.title \
             FROM users u LEFT JOIN profiles p ON p.user_id = u.id \
             WHERE u.dept_id = ? AND u.state = 0 AND u.id > ? ORDER BY u.id LIMIT ?",
        ))
        .bind(dept)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(self.err())?;
        rows.iter()
            .map(|r| {
                Ok((
                    UserCard {
                        user_id: r.try_get(0)?,
                        user: text_column(r, 1)?,
                        nickname: text_column(r, 2)?,
                        avatar: text_column(r, 3)?,
                    },
                    text_column(r, 4)?,
                ))
            })
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn dept_of(&self, user: UserId) -> Result<Option<DeptId>> {
        let row = sqlx::query(self.dq("SELECT dept_id FROM users WHERE id = ? AND state = 0"))
            .bind(user)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        match row {
            Some(row) => row.try_get(0).map_err(self.err()),
            None => Ok(None),
        }
    }

    async fn create_dept(
        &self,
        name: &str,
        parent: Option<DeptId>,
        order: i64,
        now: i64,
    ) -> Result<(DeptId, i64)> {
        graph!(self.create_dept_tx(name, parent, order, now))
    }

    async fn update_dept(
        &self,
        id: DeptId,
        name: Option<&str>,
        parent: Option<Option<DeptId>>,
        order: Option<i64>,
    ) -> Result<i64> {
        graph!(self.update_dept_tx(id, name, parent, order))
    }

    async fn delete_dept(&self, id: DeptId) -> Result<i64> {
        graph!(self.delete_dept_tx(id))
    }
}
