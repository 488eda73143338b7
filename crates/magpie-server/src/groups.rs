//! The groups service: checking and shaping every group operation.
//!
//! Reads go straight to the store. Changes are checked here (arguments,
//! usernames, who may be added), then queued to the writer, which runs
//! each in its own transaction between message batches (see `writer.rs`
//! for why); the store applies the role rules under the group's lock
//! (`magpie_store::authorize`). Once a change is stored, the writer pushes
//! its event entry to the group, then the change-stream entries it wrote
//! (`group_joined`, `group_left`) to the users concerned.

use crate::conversations::{Conversations, unknown_conversation};
use crate::error::{from_store, invalid_args};
use crate::page::{ByteBudget, clamp_limit};
use crate::people::People;
use crate::router::Router;
use crate::writer::{GroupChange, GroupJob, MessageWriter};
use magpie_proto::limits::{
    AVATAR_MAX, GROUP_ANNOUNCEMENT_MAX, GROUP_DESCRIPTION_MAX, GROUP_HISTORY_VISIBLE_MAX,
    GROUP_INVITE_MAX, GROUP_MUTE_MAX_SECS, GROUP_NAME_MAX, NICKNAME_MAX, PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX, REQUEST_NOTE_MAX, check_line, check_text,
};
use magpie_proto::{
    ConvId, ErrorBody, ErrorCode, GroupChanged, GroupCreate, GroupFields, GroupInfo,
    GroupMembersOk, GroupPage, GroupRequestsOk, GroupRole, Groups as GroupsReq, GroupsOk, UserId,
};
use magpie_store::{GroupApplied, GroupOp, NewGroup, Store};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The groups service.
#[derive(Debug)]
pub struct Groups {
    store: Arc<dyn Store>,
    conversations: Arc<Conversations>,
    people: Arc<People>,
    router: Arc<dyn Router>,
    writer: MessageWriter,
    member_limit: u32,
    max_frame_bytes: usize,
}

impl Groups {
    pub fn new(
        store: Arc<dyn Store>,
        conversations: Arc<Conversations>,
        people: Arc<People>,
        router: Arc<dyn Router>,
        writer: MessageWriter,
        member_limit: u32,
        max_frame_bytes: usize,
    ) -> Groups {
        Groups {
            store,
            conversations,
            people,
            router,
            writer,
            member_limit,
            max_frame_bytes,
        }
    }

    /// `group_create`: the caller owns the new group; everyone named must
    /// accept messages from the caller under the server's messaging policy
    /// (so a group cannot be used to reach people who blocked the caller).
    pub async fn create(
        &self,
        me: UserId,
        req: GroupCreate,
        now: i64,
    ) -> Result<GroupInfo, ErrorBody> {
        check_name(&req.name)?;
        let fields = GroupFields {
            avatar: req.avatar,
            description: req.description,
            announcement: req.announcement,
            history_visible: req.history_visible,
            ..GroupFields::default()
        };
        check_fields(&fields)?;
        let members = self.invitees(me, &req.members).await?;
        let group = NewGroup {
            name: req.name,
            avatar: fields.avatar.unwrap_or_default(),
            description: fields.description.unwrap_or_default(),
            announcement: fields.announcement.unwrap_or_default(),
            join_policy: req.join_policy.unwrap_or_default(),
            history_visible: fields.history_visible.unwrap_or(0),
            member_limit: self.member_limit,
            temporary: req.temporary,
            members,
        };
        let applied = self
            .change(GroupChange::Create { owner: me, group }, now)
            .await?;
        self.store
            .group_info(applied.conv, me)
            .await
            .map_err(from_store)?
            .ok_or_else(unknown_conversation)
    }

    /// `group_info`: for members, or anyone for an open group (to decide
    /// whether to join).
    pub async fn info(&self, me: UserId, conv: ConvId) -> Result<GroupInfo, ErrorBody> {
        if let Some(info) = self.store.group_info(conv, me).await.map_err(from_store)? {
            return Ok(info);
        }
        self.store
            .group_public(conv)
            .await
            .map_err(from_store)?
            .ok_or_else(unknown_conversation)
    }

    /// `group_members`: members only, with their presence as anyone sees
    /// it (one presence read and one `online` check per page).
    pub async fn members(&self, me: UserId, req: GroupPage) -> Result<GroupMembersOk, ErrorBody> {
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        self.conversations.require_member_now(me, req.conv).await?;
        let rows = self
            .store
            .group_members(req.conv, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        let (mut members, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |m| m.user_id);
        let ids: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
        let chosen = self.store.presences(&ids).await.map_err(from_store)?;
        let online = self.router.online(&ids).await;
        let mut seen: std::collections::HashMap<UserId, _> = chosen
            .into_iter()
            .map(|p| {
                let connected = online.contains(&p.user_id);
                (p.user_id, crate::presence::as_seen(p, connected))
            })
            .collect();
        for member in &mut members {
            if let Some(p) = seen.remove(&member.user_id) {
                member.status = p.status;
                member.status_text = p.text;
            }
        }
        Ok(GroupMembersOk { members, next })
    }

    /// `groups`: the caller's groups.
    pub async fn list(&self, me: UserId, req: GroupsReq) -> Result<GroupsOk, ErrorBody> {
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        let rows = self
            .store
            .groups_of(me, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        let (groups, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |g| g.conv);
        Ok(GroupsOk { groups, next })
    }

    /// `group_invite`.
    pub async fn invite(
        &self,
        me: UserId,
        conv: ConvId,
        users: &[String],
        now: i64,
    ) -> Result<GroupChanged, ErrorBody> {
        if users.is_empty() {
            return Err(invalid_args("users must name at least one user"));
        }
        let users = self.invitees(me, users).await?;
        self.apply(me, conv, GroupOp::Invite(users), now).await
    }

    /// `group_remove`, `group_role`, `group_transfer`, `group_mute`: an
    /// operation on one other member, named by username.
    pub async fn on_member(
        &self,
        me: UserId,
        conv: ConvId,
        user: &str,
        op: impl FnOnce(UserId) -> Result<GroupOp, ErrorBody>,
        now: i64,
    ) -> Result<GroupChanged, ErrorBody> {
        let target = self.conversations.resolve_user(user).await?;
        if target == me {
            return Err(invalid_args("name another member, not yourself"));
        }
        self.apply(me, conv, op(target)?, now).await
    }

    /// `group_mute`: `seconds` from now, 0 lifting the mute.
    pub fn mute_op(target: UserId, seconds: u64, now: i64) -> Result<GroupOp, ErrorBody> {
        if seconds > GROUP_MUTE_MAX_SECS {
            return Err(invalid_args(format!(
                "seconds must be at most {GROUP_MUTE_MAX_SECS} (30 days)"
            )));
        }
        let until = if seconds == 0 {
            0
        } else {
            now + (seconds as i64) * 1000
        };
        Ok(GroupOp::Mute(target, until))
    }

    /// `group_role`: only admin or member (ownership moves by transfer).
    pub fn role_op(target: UserId, role: GroupRole) -> Result<GroupOp, ErrorBody> {
        if role == GroupRole::Owner {
            return Err(invalid_args(
                "role must be admin or member; use group_transfer to hand over ownership",
            ));
        }
        Ok(GroupOp::SetRole(target, role))
    }

    /// `group_nickname`.
    pub async fn nickname(
        &self,
        me: UserId,
        conv: ConvId,
        nickname: String,
        now: i64,
    ) -> Result<GroupChanged, ErrorBody> {
        check_line("nickname", &nickname, NICKNAME_MAX).map_err(invalid_args)?;
        self.apply(me, conv, GroupOp::Nickname(nickname), now).await
    }

    /// `group_set`.
    pub async fn set(
        &self,
        me: UserId,
        conv: ConvId,
        fields: GroupFields,
        now: i64,
    ) -> Result<GroupChanged, ErrorBody> {
        if fields.is_empty() {
            return Err(invalid_args("name at least one setting to change"));
        }
        if let Some(name) = &fields.name {
            check_name(name)?;
        }
        check_fields(&fields)?;
        self.apply(me, conv, GroupOp::Update(fields), now).await
    }

    /// `group_join`: join an open group, or file a request with `note`.
    pub async fn join(
        &self,
        me: UserId,
        conv: ConvId,
        note: Option<String>,
        now: i64,
    ) -> Result<GroupChanged, ErrorBody> {
        let note = note.unwrap_or_default();
        check_line("note", &note, REQUEST_NOTE_MAX).map_err(invalid_args)?;
        self.apply(me, conv, GroupOp::Join(note), now).await
    }

    /// `group_requests`: the pending requests, for the owner and admins.
    pub async fn requests(&self, me: UserId, req: GroupPage) -> Result<GroupRequestsOk, ErrorBody> {
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        let role = self
            .store
            .group_info(req.conv, me)
            .await
            .map_err(from_store)?
            .ok_or_else(unknown_conversation)?
            .role;
        if role < GroupRole::Admin {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "not allowed: only the owner and admins see requests to join",
            ));
        }
        let rows = self
            .store
            .group_requests(req.conv, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        let (requests, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |r| r.user_id);
        Ok(GroupRequestsOk { requests, next })
    }

    /// Apply a change to `conv` asked for by `me`.
    pub async fn apply(
        &self,
        me: UserId,
        conv: ConvId,
        op: GroupOp,
        now: i64,
    ) -> Result<GroupChanged, ErrorBody> {
        let change = GroupChange::Apply {
            actor: me,
            conv,
            op,
        };
        let applied = self.change(change, now).await?;
        Ok(GroupChanged {
            conv,
            seq: applied.event.map(|e| e.seq),
            requested: applied.requested,
        })
    }

    /// Queue a change to the writer and wait until it is stored (the
    /// writer pushes its event and change-stream entries, in order).
    async fn change(&self, change: GroupChange, now: i64) -> Result<GroupApplied, ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.writer.group(GroupJob { change, now, reply }).await?;
        rx.await.map_err(|_| crate::writer::lost_reply())?
    }

    /// Resolve usernames to distinct user ids (the caller left out), each
    /// one someone the caller may message.
    async fn invitees(&self, me: UserId, users: &[String]) -> Result<Vec<UserId>, ErrorBody> {
        if users.len() > GROUP_INVITE_MAX {
            return Err(invalid_args(format!(
                "at most {GROUP_INVITE_MAX} users at once"
            )));
        }
        let mut ids = BTreeSet::new();
        for name in users {
            let id = self.conversations.resolve_user(name).await?;
            if id != me {
                ids.insert(id);
            }
        }
        for &id in &ids {
            self.people.may_message(me, id).await?;
        }
        Ok(ids.into_iter().collect())
    }
}

fn check_name(name: &str) -> Result<(), ErrorBody> {
    if name.trim().is_empty() {
        return Err(invalid_args("name must not be empty"));
    }
    check_line("name", name, GROUP_NAME_MAX).map_err(invalid_args)
}

/// Check the optional settings of a `group_create` or `group_set`.
fn check_fields(f: &GroupFields) -> Result<(), ErrorBody> {
    if let Some(v) = &f.avatar {
        check_line("avatar", v, AVATAR_MAX).map_err(invalid_args)?;
    }
    if let Some(v) = &f.description {
        check_text("description", v, GROUP_DESCRIPTION_MAX).map_err(invalid_args)?;
    }
    if let Some(v) = &f.announcement {
        check_text("announcement", v, GROUP_ANNOUNCEMENT_MAX).map_err(invalid_args)?;
    }
    if let Some(n) = f.history_visible
        && n > GROUP_HISTORY_VISIBLE_MAX
    {
        return Err(invalid_args(format!(
            "history_visible must be at most {GROUP_HISTORY_VISIBLE_MAX}"
        )));
    }
    Ok(())
}
