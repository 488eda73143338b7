//! Requests of the devices area: listing the caller's signed-in devices
//! and signing one out (answered when done).

use super::{Handled, Session, answer};
use crate::clock::now_ms;
use magpie_proto::{DeviceRevoke, ErrorBody};

impl Session {
    pub(super) fn devices(&mut self, id: u64) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let authed = self.authed()?;
        let (me, current) = (authed.actor.user_id, authed.token_hash);
        Ok(Handled::Query(answer(id, async move {
            state.devices.list(me, &current, now_ms()).await
        })))
    }

    pub(super) fn device_revoke(
        &mut self,
        id: u64,
        req: DeviceRevoke,
    ) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        state.throttle.check_people(me)?;
        Ok(Handled::Query(answer(id, async move {
            state.devices.revoke(me, &req.id, now_ms()).await
        })))
    }
}
