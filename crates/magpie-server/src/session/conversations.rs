//! Requests of the conversations area: the conversation list and read
//! marks (answered when done; a read mark once it is durable, and once
//! the conversation's unread mark, if any, is cleared).

use super::{Handled, Session, answer};
use crate::clock::now_ms;
use magpie_proto::{Conversations, ErrorBody, ErrorCode, Read, ReadBy, ReadReceipts};

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
        let actor = self.authed()?.actor.clone();
        let marked = self
            .state
            .conversations
            .read(&actor, req.conv, req.seq)
            .await?;
        let state = self.state.clone();
        Ok(Handled::Query(answer(id, async move {
            let mark = marked.await.unwrap_or_else(|_| {
                Err(ErrorBody::new(
                    ErrorCode::ShuttingDown,
                    "server is shutting down",
                ))
            })?;
            // A read clears the conversation's unread mark (answered
            // after, so a list read next never shows it still set).
            state
                .conv_settings
                .read_done(actor.user_id, mark.conv, now_ms())
                .await;
            Ok(mark)
        })))
    }

    pub(super) fn read_receipts(
        &mut self,
        id: u64,
        req: ReadReceipts,
    ) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state.conversations.receipts(me, req).await
        })))
    }

    pub(super) fn read_by(&mut self, id: u64, req: ReadBy) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state.conversations.read_by(me, req).await
        })))
    }
}
