//! The company directory: departments, who is in which, and the
//! directory's version. Every change is one transaction that also bumps
//! the version, so a client holding version N knows whether its copy is
//! current.

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{Department, DeptId, UserCard, UserId};

/// Reading and changing the directory.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// The version and every department (with its active member count),
    /// in no particular order.
    async fn directory(&self) -> Result<(i64, Vec<Department>)>;

    /// The directory's version.
    async fn directory_version(&self) -> Result<i64>;

    /// Active members of `dept` with ids above `after`, by id, with their
    /// titles; [`crate::Refusal::UnknownDepartment`] if it does not exist.
    async fn dept_members(
        &self,
        dept: DeptId,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<(UserCard, String)>>;

    /// The department of `user`, if any.
    async fn dept_of(&self, user: UserId) -> Result<Option<DeptId>>;

    /// Create a department; returns its id and the new version.
    async fn create_dept(
        &self,
        name: &str,
        parent: Option<DeptId>,
        order: i64,
        now: i64,
    ) -> Result<(DeptId, i64)>;

    /// Rename, move (`Some(None)`: to the top level) or reorder; refuses a
    /// move under itself or a descendant. Returns the new version.
    async fn update_dept(
        &self,
        id: DeptId,
        name: Option<&str>,
        parent: Option<Option<DeptId>>,
        order: Option<i64>,
    ) -> Result<i64>;

    /// Delete an empty department; returns the new version.
    async fn delete_dept(&self, id: DeptId) -> Result<i64>;
}
