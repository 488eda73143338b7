//! The `typing` request: rate-limited per user first (a refused notice
//! costs no lookup), then checked and pushed by the typing service.

use super::{Handled, Session, answer};
use crate::clock::now_ms;
use magpie_proto::{ErrorBody, Typing};

impl Session {
    pub(super) fn typing(&mut self, id: u64, req: Typing) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let actor = self.authed()?.actor.clone();
        state.throttle.check_typing(actor.user_id)?;
        Ok(Handled::Query(answer(id, async move {
            state.typing.typing(&actor, req, now_ms()).await
        })))
    }
}
