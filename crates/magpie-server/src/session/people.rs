//! Requests of the people area and of the change stream. Each is a thin
//! call into its service, answered when done; the changes of the contact
//! graph and profiles are rate-limited per user first.

use super::{Handled, Session, answer};
use crate::clock::now_ms;
use magpie_proto::{Changes, ErrorBody, Request};

impl Session {
    /// Every operation of the people area.
    pub(super) fn people(&mut self, id: u64, request: Request) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        let throttle = &state.throttle;
        match &request {
            Request::Search(_) => throttle.check_search(me)?,
            Request::Profile(_)
            | Request::Friends(_)
            | Request::FriendRequests
            | Request::Blocks(_) => {}
            _ => throttle.check_people(me)?,
        }
        let people = state.people.clone();
        let now = now_ms();
        Ok(Handled::Query(match request {
            Request::Profile(req) => answer(id, async move { people.profile(me, req).await }),
            Request::ProfileSet(req) => {
                answer(id, async move { people.set_profile(me, req, now).await })
            }
            Request::Search(req) => answer(id, async move { people.search(me, req).await }),
            Request::FriendRequest(req) => {
                answer(id, async move { people.request(me, req, now).await })
            }
            Request::FriendAccept(r) => {
                answer(
                    id,
                    async move { people.answer(me, &r.user, true, now).await },
                )
            }
            Request::FriendReject(r) => {
                answer(
                    id,
                    async move { people.answer(me, &r.user, false, now).await },
                )
            }
            Request::FriendCancel(r) => {
                answer(id, async move { people.cancel(me, &r.user, now).await })
            }
            Request::FriendRemove(r) => {
                answer(id, async move { people.remove(me, &r.user, now).await })
            }
            Request::FriendSet(req) => {
                answer(id, async move { people.set_friend(me, req, now).await })
            }
            Request::Friends(req) => answer(id, async move { people.friends(me, req).await }),
            Request::FriendRequests => answer(id, async move { people.requests(me).await }),
            Request::CategoryCreate(req) => {
                answer(
                    id,
                    async move { people.create_category(me, req, now).await },
                )
            }
            Request::CategoryRename(req) => {
                answer(
                    id,
                    async move { people.rename_category(me, req, now).await },
                )
            }
            Request::CategoryDelete(req) => {
                answer(
                    id,
                    async move { people.delete_category(me, req, now).await },
                )
            }
            Request::Block(r) => answer(id, async move { people.block(me, &r.user, now).await }),
            Request::Unblock(r) => {
                answer(id, async move { people.unblock(me, &r.user, now).await })
            }
            Request::Blocks(req) => answer(id, async move { people.blocks(me, req).await }),
            Request::PresenceSet(req) => {
                let presence = state.presence.clone();
                answer(id, async move { presence.set(me, req).await })
            }
            other => {
                return Err(ErrorBody::new(
                    magpie_proto::ErrorCode::Internal,
                    format!("{} is not a people operation", other.op_name()),
                ));
            }
        }))
    }

    /// `changes`: a page of the caller's change stream.
    pub(super) fn changes(&mut self, id: u64, req: Changes) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state.changes.page(me, req).await
        })))
    }
}
