//! Requests of administration: accounts and departments. The admin role is
//! checked by the service for every one of them.

use super::{Handled, Session, answer};
use crate::clock::now_ms;
use magpie_proto::{ErrorBody, ErrorCode, Request};

impl Session {
    pub(super) fn admin(&mut self, id: u64, request: Request) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        let now = now_ms();
        Ok(Handled::Query(match request {
            Request::AdminUserCreate(req) => answer(id, async move {
                state.admin.create(me, &state.auth, req, now).await
            }),
            Request::AdminUsers(req) => answer(id, async move { state.admin.users(me, req).await }),
            Request::AdminUser(r) => answer(id, async move { state.admin.user(me, &r.user).await }),
            Request::AdminUserSet(req) => answer(id, async move {
                state.admin.set(me, &state.auth, req, now).await
            }),
            Request::DeptCreate(req) => {
                answer(
                    id,
                    async move { state.admin.create_dept(me, req, now).await },
                )
            }
            Request::DeptUpdate(req) => {
                answer(id, async move { state.admin.update_dept(me, req).await })
            }
            Request::DeptDelete(req) => {
                answer(id, async move { state.admin.delete_dept(me, req).await })
            }
            Request::AdminQuotaSet(req) => answer(id, async move {
                state.admin.require_admin(me).await?;
                let user = state.conversations.resolve_user(&req.user).await?;
                state.drive.set_quota(user, req.bytes).await?;
                Ok(serde_json::json!({}))
            }),
            Request::AdminGroups(req) => {
                answer(id, async move { state.admin.groups(me, req).await })
            }
            Request::AdminGroupDissolve(r) => answer(id, async move {
                state.admin.require_admin(me).await?;
                if r.conv <= 0 {
                    return Err(crate::error::invalid_args("conv must be a conversation id"));
                }
                state
                    .groups
                    .apply(me, r.conv, magpie_store::GroupOp::AdminDissolve, now)
                    .await
            }),
            Request::AdminStats => answer(id, async move {
                state.admin.require_admin(me).await?;
                Ok(state.metrics.snapshot(now_ms()))
            }),
            other => {
                return Err(ErrorBody::new(
                    ErrorCode::Internal,
                    format!("{} is not an administration operation", other.op_name()),
                ));
            }
        }))
    }
}
