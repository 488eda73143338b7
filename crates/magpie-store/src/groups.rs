//! The groups area: group conversations, their members with roles, and
//! the rules of who may change what ([`authorize`]).
//!
//! A group is a conversation of kind group: the same `conversations`,
//! `members` and `messages` rows as a 1:1 chat, plus a `chat_groups` row
//! for its profile and settings. Every change is one transaction that
//! locks the conversation row, checks the rules against what it read
//! under that lock, writes the change, appends an `event` entry at the
//! conversation's next seq (so the change is delivered and synced like a
//! message), moves `conversations.members_seq` to that seq (the version
//! that member-set caches compare against), and appends `group_joined`
//! or `group_left` to the change stream of each user who came or went.

use crate::{Refusal, Result, Written};
use async_trait::async_trait;
use magpie_proto::{
    AdminGroup, ConvId, GroupFields, GroupInfo, GroupJoinRequest, GroupMember, GroupRole,
    JoinPolicy, Message, Seq, UserId,
};

/// A new group, as the service has checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub name: String,
    pub avatar: String,
    pub description: String,
    pub announcement: String,
    pub join_policy: JoinPolicy,
    pub history_visible: u32,
    pub member_limit: u32,
    pub temporary: bool,
    /// The first members besides the owner, distinct, owner excluded.
    pub members: Vec<UserId>,
}

/// A change to an existing group, asked for by one member (the actor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOp {
    /// Add these users (distinct; current members are skipped).
    Invite(Vec<UserId>),
    /// The actor joins an open group, or asks to join one that takes
    /// requests (with this note).
    Join(String),
    /// Let a pending applicant in.
    Approve(UserId),
    /// Turn a pending applicant down.
    Reject(UserId),
    /// The actor leaves.
    Leave,
    Remove(UserId),
    /// Make a member an admin or an admin a member.
    SetRole(UserId, GroupRole),
    /// Hand ownership to another member; the owner becomes an admin.
    Transfer(UserId),
    /// Mute a member until this time (ms since the epoch); 0 lifts it.
    Mute(UserId, i64),
    MuteAll(bool),
    /// The actor's own group nickname.
    Nickname(String),
    /// Change settings: only the fields that are set.
    Update(GroupFields),
    Dissolve,
    /// Dissolve on an administrator's word: the actor (an administrator,
    /// checked by the service) need not be a member. Everything else is as
    /// the owner's [`GroupOp::Dissolve`]: the `dissolved` event (naming the
    /// administrator), `group_left` with reason `dissolved` for every
    /// member, pending requests dropped.
    AdminDissolve,
}

/// One membership as the member-set cache keeps it: 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberEntry {
    pub user: UserId,
    /// The member sees entries after this seq only.
    pub joined_seq: Seq,
    /// Muted until (ms since the epoch); 0 if not.
    pub muted_until: i64,
    pub role: GroupRole,
}

/// Everyone in a conversation, as routing and send checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSet {
    /// `conversations.members_seq` when read: the seq of the newest
    /// membership or settings event (0 for a 1:1 conversation, whose
    /// members never change).
    pub version: Seq,
    pub group: bool,
    pub muted_all: bool,
    /// Ascending by user.
    pub members: Vec<MemberEntry>,
}

/// What a group change did, for the service to answer and push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupApplied {
    pub conv: ConvId,
    /// The event entry written, or `None` when the change was a no-op
    /// (a repeat): nothing was written then.
    pub event: Option<Message>,
    /// Users who were members before and are not after (they get the
    /// event, then nothing more).
    pub gone: Vec<UserId>,
    /// Users who became members.
    pub came: Vec<UserId>,
    /// Change-stream entries written.
    pub written: Vec<Written>,
    /// A join request was filed or renewed rather than a member added.
    pub requested: bool,
}

/// What the rules look at: the group's state and the two people involved,
/// as read under the conversation's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleFacts {
    pub join_policy: JoinPolicy,
    pub temporary: bool,
    /// The actor's role, `None` if not a member.
    pub actor: Option<GroupRole>,
    /// The other member's role for ops naming one; `None` if not a member.
    pub target: Option<GroupRole>,
}

/// Whether `op` may happen. Pure: the store calls it with what it read
/// under the conversation's lock, and the rules are tested as a table.
pub fn authorize(op: &GroupOp, f: RuleFacts) -> Result<(), Refusal> {
    use GroupRole::{Admin, Member, Owner};
    if matches!(op, GroupOp::AdminDissolve) {
        return Ok(());
    }
    if matches!(op, GroupOp::Join(_)) {
        return match (f.actor, f.join_policy) {
            (Some(_), _) => Err(Refusal::AlreadyMember),
            (None, JoinPolicy::Open | JoinPolicy::Request) => Ok(()),
            (None, JoinPolicy::Invite) => Err(Refusal::InviteOnly),
        };
    }
    let actor = f.actor.ok_or(Refusal::NotMember)?;
    let manager = actor >= Admin;
    let target = || f.target.ok_or(Refusal::TargetNotMember);
    match op {
        GroupOp::Join(_) => Ok(()),
        GroupOp::Approve(_) | GroupOp::Reject(_) if !manager => Err(Refusal::GroupRole(
            "only the owner and admins answer requests",
        )),
        GroupOp::Approve(_) | GroupOp::Reject(_) if f.target.is_some() => {
            Err(Refusal::AlreadyMember)
        }
        GroupOp::Approve(_) | GroupOp::Reject(_) => Ok(()),
        // In a temporary group anyone may bring people in (as from a 1:1
        // chat); elsewhere owner and admins do.
        GroupOp::Invite(_) if manager || f.temporary => Ok(()),
        GroupOp::Leave if actor == Owner && !f.temporary => Err(Refusal::OwnerMustTransfer),
        GroupOp::Leave | GroupOp::Nickname(_) => Ok(()),
        GroupOp::Remove(_) | GroupOp::Mute(..) => {
            let target = target()?;
            // Owner acts on anyone else; an admin only on plain members.
            if target < actor && manager {
                Ok(())
            } else {
                Err(Refusal::GroupRole(
                    "only the owner, or an admin for plain members",
                ))
            }
        }
        GroupOp::SetRole(_, role) => {
            let target = target()?;
            if actor != Owner {
                Err(Refusal::GroupRole("only the owner appoints admins"))
            } else if *role == Owner || target == Owner {
                Err(Refusal::GroupRole("ownership moves with group_transfer"))
            } else {
                Ok(())
            }
        }
        GroupOp::Transfer(_) => {
            let target = target()?;
            if actor != Owner {
                Err(Refusal::GroupRole("only the owner transfers the group"))
            } else if target == Owner {
                Err(Refusal::GroupRole("you own this group already"))
            } else {
                Ok(())
            }
        }
        GroupOp::Dissolve | GroupOp::AdminDissolve if actor == Owner => Ok(()),
        GroupOp::Dissolve | GroupOp::AdminDissolve => {
            Err(Refusal::GroupRole("only the owner dissolves the group"))
        }
        GroupOp::Invite(_) | GroupOp::MuteAll(_) | GroupOp::Update(_) if manager => Ok(()),
        GroupOp::Invite(_) | GroupOp::MuteAll(_) | GroupOp::Update(_) => {
            let _ = Member;
            Err(Refusal::GroupRole("only the owner and admins"))
        }
    }
}

/// Groups: their profiles, members and every change to them.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Make a group owned by `owner` with `group.members`, writing its
    /// `created` event at seq 1.
    async fn create_group(&self, owner: UserId, group: &NewGroup, now: i64)
    -> Result<GroupApplied>;

    /// Apply one change asked for by `actor`, or refuse it (nothing is
    /// written then). See [`authorize`] for the rules; besides them: an
    /// invite that would take the group over its limit is refused whole,
    /// and a change that changes nothing writes nothing.
    async fn apply_group(
        &self,
        actor: UserId,
        conv: ConvId,
        op: &GroupOp,
        now: i64,
    ) -> Result<GroupApplied>;

    /// The group as `user` sees it, if it exists and `user` is a member
    /// (`role` is theirs).
    async fn group_info(&self, conv: ConvId, user: UserId) -> Result<Option<GroupInfo>>;

    /// The group's profile for someone who is not a member (to join it):
    /// `None` unless it exists and is open or takes requests. `role` is
    /// Member.
    async fn group_public(&self, conv: ConvId) -> Result<Option<GroupInfo>>;

    /// Pending requests to join `conv` from users with ids above `after`,
    /// by id, at most `limit`.
    async fn group_requests(
        &self,
        conv: ConvId,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<GroupJoinRequest>>;

    /// Members with ids above `after`, by id, at most `limit`.
    async fn group_members(
        &self,
        conv: ConvId,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<GroupMember>>;

    /// `user`'s groups with ids above `after`, by id, at most `limit`.
    async fn groups_of(&self, user: UserId, after: ConvId, limit: u32) -> Result<Vec<GroupInfo>>;

    /// Every group that is not dissolved with an id above `after`, by id,
    /// at most `limit`, with its owner and member count (for
    /// administrators).
    async fn admin_groups(&self, after: ConvId, limit: u32) -> Result<Vec<AdminGroup>>;

    /// Everyone in a conversation (any kind) with the version it was read
    /// at, in one consistent read; `None` if it has no members (unknown or
    /// dissolved).
    async fn member_set(&self, conv: ConvId) -> Result<Option<MemberSet>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use GroupRole::{Admin, Member, Owner};

    fn facts(actor: Option<GroupRole>, target: Option<GroupRole>) -> RuleFacts {
        RuleFacts {
            join_policy: JoinPolicy::Invite,
            temporary: false,
            actor,
            target,
        }
    }

    /// (op, actor, target, allowed?) for a permanent invite-only group.
    #[test]
    fn the_rules_as_a_table() {
        let update = GroupOp::Update(GroupFields::default());
        let cases: &[(GroupOp, Option<GroupRole>, Option<GroupRole>, bool)] = &[
            (GroupOp::Invite(vec![1]), Some(Member), None, false),
            (GroupOp::Invite(vec![1]), Some(Admin), None, true),
            (GroupOp::Invite(vec![1]), None, None, false),
            (GroupOp::Remove(1), Some(Admin), Some(Member), true),
            (GroupOp::Remove(1), Some(Admin), Some(Admin), false),
            (GroupOp::Remove(1), Some(Member), Some(Member), false),
            (GroupOp::Remove(1), Some(Owner), Some(Admin), true),
            (GroupOp::Remove(1), Some(Owner), None, false),
            (GroupOp::Mute(1, 5), Some(Admin), Some(Member), true),
            (GroupOp::Mute(1, 5), Some(Admin), Some(Owner), false),
            (GroupOp::SetRole(1, Admin), Some(Owner), Some(Member), true),
            (GroupOp::SetRole(1, Admin), Some(Admin), Some(Member), false),
            (GroupOp::SetRole(1, Owner), Some(Owner), Some(Admin), false),
            (GroupOp::Transfer(1), Some(Owner), Some(Member), true),
            (GroupOp::Transfer(1), Some(Admin), Some(Member), false),
            (GroupOp::Transfer(1), Some(Owner), None, false),
            (GroupOp::Dissolve, Some(Owner), None, true),
            (GroupOp::Dissolve, Some(Admin), None, false),
            (GroupOp::Leave, Some(Owner), None, false),
            (GroupOp::Leave, Some(Member), None, true),
            (GroupOp::Nickname("x".into()), Some(Member), None, true),
            (GroupOp::Nickname("x".into()), None, None, false),
            (GroupOp::MuteAll(true), Some(Member), None, false),
            (GroupOp::MuteAll(true), Some(Admin), None, true),
            (update.clone(), Some(Member), None, false),
            (update, Some(Admin), None, true),
            (GroupOp::Join(String::new()), None, None, false),
            (GroupOp::Join(String::new()), Some(Member), None, false),
            (GroupOp::Approve(1), Some(Admin), None, true),
            (GroupOp::Approve(1), Some(Member), None, false),
            (GroupOp::Approve(1), Some(Owner), Some(Member), false),
            (GroupOp::Reject(1), Some(Owner), None, true),
            (GroupOp::Reject(1), Some(Member), None, false),
        ];
        for (op, actor, target, allowed) in cases {
            assert_eq!(
                authorize(op, facts(*actor, *target)).is_ok(),
                *allowed,
                "{op:?} by {actor:?} on {target:?}"
            );
        }
    }

    #[test]
    fn open_and_temporary_groups_relax_joining_inviting_and_leaving() {
        let open = RuleFacts {
            join_policy: JoinPolicy::Open,
            ..facts(None, None)
        };
        assert!(authorize(&GroupOp::Join(String::new()), open).is_ok());
        let by_request = RuleFacts {
            join_policy: JoinPolicy::Request,
            ..facts(None, None)
        };
        assert!(authorize(&GroupOp::Join(String::new()), by_request).is_ok());
        let temporary = RuleFacts {
            temporary: true,
            ..facts(Some(Member), None)
        };
        assert!(authorize(&GroupOp::Invite(vec![2]), temporary).is_ok());
        let owner_of_temporary = RuleFacts {
            actor: Some(Owner),
            ..temporary
        };
        assert!(authorize(&GroupOp::Leave, owner_of_temporary).is_ok());
    }
}
