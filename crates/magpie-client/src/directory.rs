//! The company directory, as client calls.

use crate::{Client, ClientError};
use magpie_proto::{DeptId, DeptMembers, DeptMembersOk, DirectoryOk, Member, Request, UserId};

impl Client {
    /// The whole department tree and its version.
    pub async fn directory(&self) -> Result<DirectoryOk, ClientError> {
        self.call(Request::Directory).await
    }

    /// One page of a department's members.
    pub async fn dept_members_page(
        &self,
        dept: DeptId,
        after: Option<UserId>,
        limit: Option<u32>,
    ) -> Result<DeptMembersOk, ClientError> {
        self.call(Request::DeptMembers(DeptMembers { dept, after, limit }))
            .await
    }

    /// Every member of a department, page by page.
    pub async fn dept_members(&self, dept: DeptId) -> Result<Vec<Member>, ClientError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.dept_members_page(dept, after, None).await?;
            all.extend(page.members);
            match page.next {
                Some(next) => after = crate::next_cursor(after, next)?,
                None => return Ok(all),
            }
        }
    }
}
