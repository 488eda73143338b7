//! Requests of the directory: the department tree and a department's
//! members (answered when done).

use super::{Handled, Session, answer};
use magpie_proto::{DeptMembers, ErrorBody};

impl Session {
    pub(super) fn directory(&mut self, id: u64) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        self.authed()?;
        Ok(Handled::Query(answer(id, async move {
            state.directory.tree().await
        })))
    }

    pub(super) fn dept_members(&mut self, id: u64, req: DeptMembers) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state.directory.members(me, req).await
        })))
    }
}
