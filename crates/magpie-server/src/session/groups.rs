//! Requests of the groups area: thin calls into the groups service,
//! answered when done (a change once it is stored). Changes are
//! rate-limited per user like the people area's.

use super::{Handled, Session, answer, to_value};
use crate::clock::now_ms;
use crate::groups::Groups;
use magpie_proto::{ErrorBody, Request};

impl Session {
    /// Every operation of the groups area.
    pub(super) fn groups(&mut self, id: u64, request: Request) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        if !matches!(
            request,
            Request::GroupInfo(_)
                | Request::GroupMembers(_)
                | Request::Groups(_)
                | Request::GroupRequests(_)
        ) {
            state.throttle.check_people(me)?;
        }
        let now = now_ms();
        Ok(Handled::Query(answer(id, async move {
            let groups = &state.groups;
            match request {
                Request::GroupCreate(req) => groups.create(me, req, now).await.and_then(to_value),
                Request::GroupInfo(r) => groups.info(me, r.conv).await.and_then(to_value),
                Request::GroupMembers(req) => groups.members(me, req).await.and_then(to_value),
                Request::Groups(req) => groups.list(me, req).await.and_then(to_value),
                Request::GroupInvite(r) => groups
                    .invite(me, r.conv, &r.users, now)
                    .await
                    .and_then(to_value),
                Request::GroupJoin(r) => groups
                    .join(me, r.conv, r.note, now)
                    .await
                    .and_then(to_value),
                Request::GroupRequests(req) => groups.requests(me, req).await.and_then(to_value),
                Request::GroupApprove(r) => groups
                    .on_member(
                        me,
                        r.conv,
                        &r.user,
                        |u| Ok(magpie_store::GroupOp::Approve(u)),
                        now,
                    )
                    .await
                    .and_then(to_value),
                Request::GroupReject(r) => groups
                    .on_member(
                        me,
                        r.conv,
                        &r.user,
                        |u| Ok(magpie_store::GroupOp::Reject(u)),
                        now,
                    )
                    .await
                    .and_then(to_value),
                Request::GroupLeave(r) => groups
                    .apply(me, r.conv, magpie_store::GroupOp::Leave, now)
                    .await
                    .and_then(to_value),
                Request::GroupDissolve(r) => groups
                    .apply(me, r.conv, magpie_store::GroupOp::Dissolve, now)
                    .await
                    .and_then(to_value),
                Request::GroupMuteAll(r) => groups
                    .apply(me, r.conv, magpie_store::GroupOp::MuteAll(r.on), now)
                    .await
                    .and_then(to_value),
                Request::GroupRemove(r) => groups
                    .on_member(
                        me,
                        r.conv,
                        &r.user,
                        |u| Ok(magpie_store::GroupOp::Remove(u)),
                        now,
                    )
                    .await
                    .and_then(to_value),
                Request::GroupTransfer(r) => groups
                    .on_member(
                        me,
                        r.conv,
                        &r.user,
                        |u| Ok(magpie_store::GroupOp::Transfer(u)),
                        now,
                    )
                    .await
                    .and_then(to_value),
                Request::GroupRole(r) => groups
                    .on_member(me, r.conv, &r.user, |u| Groups::role_op(u, r.role), now)
                    .await
                    .and_then(to_value),
                Request::GroupMute(r) => groups
                    .on_member(
                        me,
                        r.conv,
                        &r.user,
                        |u| Groups::mute_op(u, r.seconds, now),
                        now,
                    )
                    .await
                    .and_then(to_value),
                Request::GroupNickname(r) => groups
                    .nickname(me, r.conv, r.nickname, now)
                    .await
                    .and_then(to_value),
                Request::GroupSet(r) => groups
                    .set(me, r.conv, r.fields, now)
                    .await
                    .and_then(to_value),
                other => Err(magpie_proto::ErrorBody::new(
                    magpie_proto::ErrorCode::Internal,
                    format!("{} is not a groups operation", other.op_name()),
                )),
            }
        })))
    }
}
