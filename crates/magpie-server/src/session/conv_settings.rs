//! Requests of the per-conversation settings: `conv_set` (rate-limited
//! with the people area's changes: each pushes to every device of the
//! user) and `conv_settings`, each a thin call into the service.

use super::{Handled, Session, answer};
use crate::clock::now_ms;
use magpie_proto::{ConvSet, ConvSettingsList, ErrorBody};

impl Session {
    pub(super) fn conv_set(&mut self, id: u64, req: ConvSet) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        state.throttle.check_people(me)?;
        Ok(Handled::Query(answer(id, async move {
            state.conv_settings.set(me, req, now_ms()).await
        })))
    }

    pub(super) fn conv_settings(
        &mut self,
        id: u64,
        req: ConvSettingsList,
    ) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state.conv_settings.list(me, req).await
        })))
    }
}
