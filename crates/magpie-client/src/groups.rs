//! The groups area, as client calls: one method per operation, named
//! like it, plus [`Client::group_members`] and [`Client::groups`] that
//! read every page.
//!
//! A group is a conversation: send into it with
//! [`Client::send_to_conv`], read it with `sync` and `history` as any
//! other. Every method that changes a group answers with the position of
//! the event it wrote ([`GroupChanged`]); the event itself reaches every
//! member (the caller's other devices too) through the group's sequence.

use crate::{Client, ClientError};
use magpie_proto::{
    ConvId, GroupChanged, GroupCreate, GroupFields, GroupInfo, GroupInvite, GroupJoin,
    GroupJoinRequest, GroupMember, GroupMembersOk, GroupMute, GroupMuteAll, GroupNickname,
    GroupPage, GroupRef, GroupRequestsOk, GroupRole, GroupRoleSet, GroupSet, GroupUser, Groups,
    GroupsOk, Request, UserId,
};

fn group(conv: ConvId) -> GroupRef {
    GroupRef { conv }
}

fn member(conv: ConvId, user: &str) -> GroupUser {
    GroupUser {
        conv,
        user: user.to_owned(),
    }
}

impl Client {
    /// Make a new group with the caller as its owner (and `create.members`
    /// in it from the start).
    pub async fn group_create(&self, create: GroupCreate) -> Result<GroupInfo, ClientError> {
        self.call(Request::GroupCreate(create)).await
    }

    /// A group's profile and settings, and the caller's role in it.
    pub async fn group_info(&self, conv: ConvId) -> Result<GroupInfo, ClientError> {
        self.call(Request::GroupInfo(group(conv))).await
    }

    /// One page of a group's members, by ascending user id.
    pub async fn group_members_page(
        &self,
        conv: ConvId,
        after: Option<UserId>,
        limit: Option<u32>,
    ) -> Result<GroupMembersOk, ClientError> {
        self.call(Request::GroupMembers(GroupPage { conv, after, limit }))
            .await
    }

    /// Every member of a group, page by page.
    pub async fn group_members(&self, conv: ConvId) -> Result<Vec<GroupMember>, ClientError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.group_members_page(conv, after, None).await?;
            all.extend(page.members);
            match page.next {
                Some(next) => after = crate::next_cursor(after, next)?,
                None => return Ok(all),
            }
        }
    }

    /// One page of the caller's groups, by ascending id.
    pub async fn groups_page(
        &self,
        after: Option<ConvId>,
        limit: Option<u32>,
    ) -> Result<GroupsOk, ClientError> {
        self.call(Request::Groups(Groups { after, limit })).await
    }

    /// Every group the caller is in, page by page.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, ClientError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.groups_page(after, None).await?;
            all.extend(page.groups);
            match page.next {
                Some(next) => after = crate::next_cursor(after, next)?,
                None => return Ok(all),
            }
        }
    }

    /// Add `users` (usernames) to a group: owner and admins, or any
    /// member of a temporary group.
    pub async fn group_invite(
        &self,
        conv: ConvId,
        users: &[&str],
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupInvite(GroupInvite {
            conv,
            users: users.iter().map(|u| (*u).to_owned()).collect(),
        }))
        .await
    }

    /// Join an open group by its id (an invite-only group refuses).
    pub async fn group_join(&self, conv: ConvId) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupJoin(GroupJoin { conv, note: None }))
            .await
    }

    /// Ask to join a group that takes requests (`requested` in the
    /// answer), or join an open one; `note` is for the admins.
    pub async fn group_ask(&self, conv: ConvId, note: &str) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupJoin(GroupJoin {
            conv,
            note: Some(note.to_owned()),
        }))
        .await
    }

    /// One page of a group's pending requests to join (owner and admins).
    pub async fn group_requests_page(
        &self,
        conv: ConvId,
        after: Option<UserId>,
        limit: Option<u32>,
    ) -> Result<GroupRequestsOk, ClientError> {
        self.call(Request::GroupRequests(GroupPage { conv, after, limit }))
            .await
    }

    /// Every pending request to join a group, page by page.
    pub async fn group_requests(&self, conv: ConvId) -> Result<Vec<GroupJoinRequest>, ClientError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.group_requests_page(conv, after, None).await?;
            all.extend(page.requests);
            match page.next {
                Some(next) => after = crate::next_cursor(after, next)?,
                None => return Ok(all),
            }
        }
    }

    /// Let an applicant in (owner and admins).
    pub async fn group_approve(
        &self,
        conv: ConvId,
        user: &str,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupApprove(member(conv, user))).await
    }

    /// Turn an applicant down (owner and admins); they are told.
    pub async fn group_reject(
        &self,
        conv: ConvId,
        user: &str,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupReject(member(conv, user))).await
    }

    /// Leave a group. The owner of a permanent group must transfer
    /// ownership (or dissolve it) first.
    pub async fn group_leave(&self, conv: ConvId) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupLeave(group(conv))).await
    }

    /// Put `user` out of a group (owner and admins, over lower roles).
    pub async fn group_remove(
        &self,
        conv: ConvId,
        user: &str,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupRemove(member(conv, user))).await
    }

    /// Make a member an admin or an admin a plain member (owner only);
    /// ownership itself moves only with [`Client::group_transfer`].
    pub async fn group_role(
        &self,
        conv: ConvId,
        user: &str,
        role: GroupRole,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupRole(GroupRoleSet {
            conv,
            user: user.to_owned(),
            role,
        }))
        .await
    }

    /// Hand ownership to `user`; the caller stays on as an admin.
    pub async fn group_transfer(
        &self,
        conv: ConvId,
        user: &str,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupTransfer(member(conv, user))).await
    }

    /// Keep `user` from sending for `seconds`; 0 lifts a mute.
    pub async fn group_mute(
        &self,
        conv: ConvId,
        user: &str,
        seconds: u64,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupMute(GroupMute {
            conv,
            user: user.to_owned(),
            seconds,
        }))
        .await
    }

    /// Turn mute-all on (only the owner and admins may send) or off.
    pub async fn group_mute_all(
        &self,
        conv: ConvId,
        on: bool,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupMuteAll(GroupMuteAll { conv, on }))
            .await
    }

    /// Set the caller's own nickname in a group; empty clears it.
    pub async fn group_nickname(
        &self,
        conv: ConvId,
        nickname: &str,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupNickname(GroupNickname {
            conv,
            nickname: nickname.to_owned(),
        }))
        .await
    }

    /// Change a group's profile or settings (owner and admins); fields
    /// left `None` keep their value.
    pub async fn group_set(
        &self,
        conv: ConvId,
        fields: GroupFields,
    ) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupSet(GroupSet { conv, fields }))
            .await
    }

    /// End a group for everyone (owner only). Every member gets the
    /// `dissolved` event, its last entry, and then loses access: keep what
    /// should stay readable on the device.
    pub async fn group_dissolve(&self, conv: ConvId) -> Result<GroupChanged, ClientError> {
        self.call(Request::GroupDissolve(group(conv))).await
    }
}
