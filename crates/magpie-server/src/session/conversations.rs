//! Requests of the conversations area: the conversation list and read
//! marks (answered when done; a read mark once it is durable).

use super::{Handled, Session, answer};
use magpie_proto::{Conversations, ErrorBody, ErrorCode, Read};

impl Session {
    pub(super) fn conversations(
        &mut self,
        id: u64,
        req: Conversations,
    ) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let user = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state.conversations.list(user, req).await
        })))
    }

    pub(super) async fn read(&mut self, id: u64, req: Read) -> Result<Handled, ErrorBody> {
        let user = self.authed()?.actor.user_id;
        let marked = self
            .state
            .conversations
            .read(user, req.conv, req.seq, self.id)
            .await?;
        Ok(Handled::Query(answer(id, async move {
            marked.await.unwrap_or_else(|_| {
                Err(ErrorBody::new(
                    ErrorCode::ShuttingDown,
                    "server is shutting down",
                ))
            })
        })))
    }
}
