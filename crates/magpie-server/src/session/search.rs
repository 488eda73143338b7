//! `message_search`: a thin call into [`crate::search::Search`], after
//! the per-user search rate (shared with people and drive search).

use super::{Handled, Session, answer};
use magpie_proto::{ErrorBody, MessageSearch};

impl Session {
    /// `message_search`.
    pub(super) fn message_search(
        &mut self,
        id: u64,
        req: MessageSearch,
    ) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        state.throttle.check_search(me)?;
        Ok(Handled::Query(answer(id, async move {
            state.search.message_search(me, req).await
        })))
    }
}
