//! Requests of the messages area: send (acked in order, once durable),
//! sync and history (answered when their page is read).

use super::{Handled, Session, answer};
use crate::clock::now_ms;
use magpie_proto::{ErrorBody, ErrorCode, History, SendOk, Sync};
use std::time::Instant;

impl Session {
    pub(super) async fn send(
        &mut self,
        id: u64,
        send: magpie_proto::Send,
    ) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let actor = self.authed()?.actor.clone();
        state.throttle.check_send(actor.user_id)?;
        let received = Instant::now();
        let stored = state.messages.send(&actor, send, now_ms()).await?;
        let metrics = state.metrics.clone();
        Ok(Handled::Ack(answer(id, async move {
            let ack = match stored.await {
                Ok(Ok(a)) => Ok(SendOk {
                    msg_id: a.msg_id,
                    conv: a.conv,
                    seq: a.seq,
                    ts: a.ts,
                    duplicate: a.duplicate,
                }),
                Ok(Err(error)) => Err(error),
                Err(_) => Err(ErrorBody::new(
                    ErrorCode::ShuttingDown,
                    "server is shutting down",
                )),
            };
            metrics
                .send_ack_seconds
                .observe(received.elapsed().as_secs_f64());
            ack
        })))
    }

    pub(super) fn sync(&mut self, id: u64, req: Sync) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let actor = self.authed()?.actor.clone();
        Ok(Handled::Query(answer(id, async move {
            state.messages.sync(&actor, req).await
        })))
    }

    pub(super) fn history(&mut self, id: u64, req: History) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let actor = self.authed()?.actor.clone();
        Ok(Handled::Query(answer(id, async move {
            state.messages.history(&actor, req).await
        })))
    }
}
