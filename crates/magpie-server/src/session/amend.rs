//! Requests of the amend area: recall, edit, react and forward. Each
//! writes entries, so each takes the sender's send rate (a forward one
//! slot per message it makes).

use super::{Handled, Session, answer, to_value};
use crate::clock::now_ms;
use magpie_proto::{ErrorBody, ErrorCode, Request};

impl Session {
    /// `recall`, `edit`, `react` and `forward`.
    pub(super) fn amend(&mut self, id: u64, request: Request) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let actor = self.authed()?.actor.clone();
        match &request {
            Request::Forward(req) => {
                let made = req.seqs.len().max(1) * (req.to_convs.len() + req.to_users.len()).max(1);
                let made = if req.merge {
                    made / req.seqs.len().max(1)
                } else {
                    made
                };
                state
                    .throttle
                    .check_send_n(actor.user_id, u32::try_from(made).unwrap_or(u32::MAX))?;
            }
            _ => state.throttle.check_send(actor.user_id)?,
        }
        Ok(Handled::Query(answer(id, async move {
            let messages = &state.messages;
            let now = now_ms();
            match request {
                Request::Recall(req) => messages.recall(&actor, req, now).await.and_then(to_value),
                Request::Edit(req) => messages.edit(&actor, req, now).await.and_then(to_value),
                Request::React(req) => messages.react(&actor, req, now).await.and_then(to_value),
                Request::Forward(req) => {
                    messages.forward(&actor, req, now).await.and_then(to_value)
                }
                other => Err(ErrorBody::new(
                    ErrorCode::Internal,
                    format!("{} is not an amend operation", other.op_name()),
                )),
            }
        })))
    }
}
