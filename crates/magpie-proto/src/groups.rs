//! The groups area: group conversations, their members and roles, and the
//! events that record every change to them in the group's own sequence.
//!
//! A group is a conversation of kind `group` (see [`crate::ConvKind`]):
//! it is addressed by its conversation id, its entries share one gapless
//! sequence, and members catch up with `sync` exactly as in 1:1 chats.
//! Every membership or settings change is an entry of kind `event` in
//! that sequence, carrying a [`GroupEvent`], so every device of every
//! member converges on the member list and settings without polling.

use crate::types::{ConvId, Seq, UserId};
use serde::{Deserialize, Serialize};

/// What a member may do in a group. Ordered: `Owner > Admin > Member`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRole {
    Member,
    Admin,
    Owner,
}

/// Who may become a member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinPolicy {
    /// Only owner and admins add members (`group_invite`).
    #[default]
    Invite,
    /// Anyone who knows the group id may `group_join`.
    Open,
    /// `group_join` files a request that an admin approves or rejects;
    /// the applicant is told either way through their change stream.
    Request,
}

/// A group's profile and settings, as `group_info` and `groups` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub conv: ConvId,
    pub name: String,
    pub avatar: String,
    pub description: String,
    /// The announcement (群公告) shown to members.
    pub announcement: String,
    /// The owner's username.
    pub owner: String,
    pub join_policy: JoinPolicy,
    /// How many entries before their join a new member may read (0: none).
    pub history_visible: u32,
    /// Most members the group may have.
    pub member_limit: u32,
    /// A temporary group (临时群): dissolved when its last member leaves,
    /// and it has no owner rights beyond those of admins.
    pub temporary: bool,
    /// Only the owner and admins may send.
    pub muted_all: bool,
    /// How many members it has now.
    pub members: i64,
    /// The caller's role.
    pub role: GroupRole,
    /// The group's newest seq when this was read.
    pub max_seq: Seq,
    pub created_at: i64,
}

/// One member, as `group_members` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub user_id: UserId,
    pub user: String,
    pub role: GroupRole,
    /// The member's group nickname (群名片); empty if none.
    pub nickname: String,
    /// Muted until this time (ms since the epoch); absent if not muted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<i64>,
    /// When they joined (ms since the epoch).
    pub joined_at: i64,
    /// Their presence as anyone sees it (`offline` when not connected or
    /// invisible).
    #[serde(default)]
    pub status: crate::presence::Status,
    /// Their status text, when online; absent if none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_text: String,
}

/// `group_create`: a new group with the caller as its owner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCreate {
    pub name: String,
    /// Usernames to add at once (besides the caller).
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_policy: Option<JoinPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_visible: Option<u32>,
    /// A temporary group (临时群), typically made from a 1:1 chat.
    #[serde(default)]
    pub temporary: bool,
}

/// The arguments of operations on one group as a whole (`group_info`,
/// `group_join`, `group_leave`, `group_dissolve`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    pub conv: ConvId,
}

/// `group_join`: join an open group, or ask to join one that takes
/// requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupJoin {
    pub conv: ConvId,
    /// A note for the admins (request groups), one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A pending request to join a group, as admins list it and as the
/// `group_request` change carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupJoinRequest {
    pub conv: ConvId,
    pub user_id: UserId,
    pub user: String,
    pub note: String,
    /// When it was made, or last repeated (ms since the epoch).
    pub ts: i64,
}

/// How a request to join ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinOutcome {
    /// Approved, or the applicant was invited meanwhile: now a member.
    Approved,
    Rejected,
    /// The group was dissolved.
    Dropped,
}

/// A request to join ended (`group_request_closed` change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRequestClosed {
    pub conv: ConvId,
    pub user_id: UserId,
    pub user: String,
    pub outcome: JoinOutcome,
}

/// Result of `group_requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRequestsOk {
    pub requests: Vec<GroupJoinRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<UserId>,
}

/// One page of a group's people by ascending user id: its members
/// (`group_members`) or its pending applicants (`group_requests`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPage {
    pub conv: ConvId,
    /// Continue after this user id (the `next` of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<UserId>,
    /// Page size (default 200, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `group_members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMembersOk {
    pub members: Vec<GroupMember>,
    /// Present when more follow: pass it as `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<UserId>,
}

/// `group_invite`: add users to a group (owner and admins; any member of
/// a temporary group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInvite {
    pub conv: ConvId,
    pub users: Vec<String>,
}

/// `group_remove`, `group_transfer`: an operation on one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupUser {
    pub conv: ConvId,
    pub user: String,
}

/// `group_role`: make a member an admin, or an admin a member (owner only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRoleSet {
    pub conv: ConvId,
    pub user: String,
    /// `admin` or `member`; ownership moves with `group_transfer`.
    pub role: GroupRole,
}

/// `group_mute`: mute one member for a while, or lift it (owner and
/// admins; an admin only mutes plain members).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMute {
    pub conv: ConvId,
    pub user: String,
    /// How long, in seconds; 0 lifts the mute.
    pub seconds: u64,
}

/// `group_mute_all`: only the owner and admins may send while on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMuteAll {
    pub conv: ConvId,
    pub on: bool,
}

/// `group_nickname`: set the caller's own group nickname (empty clears).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupNickname {
    pub conv: ConvId,
    pub nickname: String,
}

/// `group_set`: change a group's profile or settings (owner and admins).
/// Absent fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSet {
    pub conv: ConvId,
    #[serde(flatten)]
    pub fields: GroupFields,
}

/// The editable settings of a group; in a `group_set` and in the
/// `updated` event, only the ones that change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_policy: Option<JoinPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_visible: Option<u32>,
}

impl GroupFields {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == GroupFields::default()
    }
}

/// `groups`: one page of the caller's groups, by ascending id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ConvId>,
    /// Page size (default 200, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsOk {
    pub groups: Vec<GroupInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<ConvId>,
}

/// Result of every operation that changes a group: the position of the
/// event it wrote in the group's sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupChanged {
    pub conv: ConvId,
    /// The event's seq; absent when nothing changed (a repeat), or when
    /// the change writes no event (a join request, a rejection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<Seq>,
    /// `group_join` filed (or renewed) a request for the admins rather
    /// than joining.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requested: bool,
}

/// What an `event` entry of a group's sequence records. Users are named
/// by username. Clients must show an event of a type they do not know as
/// an unsupported notice (and still advance their cursor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GroupEvent {
    /// The group was made, with these first members (the owner first).
    Created {
        by: String,
        name: String,
        members: Vec<String>,
        temporary: bool,
    },
    /// Members added by `by`.
    Invited { by: String, users: Vec<String> },
    /// `user` joined: by themselves (an open group), or with their
    /// request approved by `by`.
    Joined {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// `user` left. When the owner of a temporary group leaves, `owner`
    /// names who owns it now.
    Left {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
    },
    /// `by` removed `user`.
    Removed { by: String, user: String },
    /// `by` gave `user` this role.
    Role {
        by: String,
        user: String,
        role: GroupRole,
    },
    /// Ownership passed from `from` (now an admin) to `to`.
    Transferred { from: String, to: String },
    /// `by` muted `user` until `until` (ms since the epoch); 0 lifted it.
    Muted {
        by: String,
        user: String,
        until: i64,
    },
    /// `by` turned mute-all on or off.
    MutedAll { by: String, on: bool },
    /// `by` changed these settings (only the changed ones are present).
    Updated {
        by: String,
        #[serde(flatten)]
        fields: GroupFields,
    },
    /// `user` set their group nickname.
    Nickname { user: String, nickname: String },
    /// `by` dissolved the group (the last entry of its sequence).
    Dissolved { by: String },
}

impl GroupEvent {
    /// Read an entry's `event` object. `None` for a type this build does
    /// not know (a newer server's).
    pub fn parse(value: &serde_json::Value) -> Option<GroupEvent> {
        serde_json::from_value(value.clone()).ok()
    }

    /// As stored and sent.
    pub fn to_value(&self) -> serde_json::Value {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A group as the caller's change stream names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCard {
    pub conv: ConvId,
    pub name: String,
    pub avatar: String,
    pub role: GroupRole,
    pub temporary: bool,
}

/// Why the caller is no longer in a group (`group_left` change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftReason {
    Left,
    Removed,
    Dissolved,
}

/// The caller left a group or was put out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLeft {
    pub conv: ConvId,
    pub reason: LeftReason,
    /// The group's last seq the caller may read.
    pub last_seq: Seq,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_flat_objects_tagged_by_type() {
        let cases = [
            (
                GroupEvent::Removed {
                    by: "alice".into(),
                    user: "bob".into(),
                },
                r#"{"type":"removed","by":"alice","user":"bob"}"#,
            ),
            (
                GroupEvent::Updated {
                    by: "alice".into(),
                    fields: GroupFields {
                        name: Some("研发群".into()),
                        ..GroupFields::default()
                    },
                },
                r#"{"type":"updated","by":"alice","name":"研发群"}"#,
            ),
            (
                GroupEvent::Role {
                    by: "a".into(),
                    user: "b".into(),
                    role: GroupRole::Admin,
                },
                r#"{"type":"role","by":"a","user":"b","role":"admin"}"#,
            ),
        ];
        for (event, json) in cases {
            assert_eq!(serde_json::to_string(&event).expect("encode"), json);
            let value: serde_json::Value = serde_json::from_str(json).expect("json");
            assert_eq!(GroupEvent::parse(&value), Some(event));
        }
        let newer = serde_json::json!({"type": "pinned", "by": "a"});
        assert_eq!(GroupEvent::parse(&newer), None);
    }

    #[test]
    fn roles_are_ordered() {
        assert!(GroupRole::Owner > GroupRole::Admin && GroupRole::Admin > GroupRole::Member);
    }
}
