//! The change stream: how every device of a user converges on the state
//! around them (friends, requests, categories, blocks, contacts'
//! profiles), with the same guarantee messages have.
//!
//! Each user has one stream of changes numbered 1, 2, 3, ... without gaps.
//! Every state change that concerns a user appends to their stream in the
//! same transaction that makes it, and is pushed live as a `change` push.
//! A device keeps the highest seq it has applied and asks `changes` for
//! what follows after reconnecting (PROTOCOL.md section 10).
//!
//! Changes carry the new state of the thing they are about, not a
//! difference, so applying one twice, or one a snapshot already reflects,
//! is harmless.

use crate::people::{
    Category, CategoryId, Friend, PendingRequest, Profile, RequestClosed, UserCard,
};
use serde::{Deserialize, Serialize};

/// One entry of a user's change stream, as pushed and as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawChange")]
pub struct Change {
    /// Position in the caller's stream: 1, 2, 3, ... with no gaps.
    pub seq: i64,
    /// When it happened (ms since the epoch).
    pub ts: i64,
    pub event: ChangeEvent,
}

impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Known<'a> {
            seq: i64,
            ts: i64,
            #[serde(flatten)]
            event: &'a ChangeEvent,
        }
        #[derive(Serialize)]
        struct Other<'a> {
            seq: i64,
            ts: i64,
            kind: &'a str,
            data: &'a serde_json::Value,
        }
        match &self.event {
            // Passed on as read, so that a node that does not know a kind
            // (a rolling upgrade) still serves it to clients that may.
            ChangeEvent::Unknown { kind, data } => Other {
                seq: self.seq,
                ts: self.ts,
                kind,
                data,
            }
            .serialize(s),
            event => Known {
                seq: self.seq,
                ts: self.ts,
                event,
            }
            .serialize(s),
        }
    }
}

/// What changed: `{"kind": "...", "data": {...}}`. Clients must skip kinds
/// they do not know (and still advance their cursor): later areas add
/// kinds here rather than streams of their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum ChangeEvent {
    /// A friend request was sent or re-sent, to or by the caller.
    FriendRequest(PendingRequest),
    /// A pending request to or by the caller was answered or withdrawn.
    FriendRequestClosed(RequestClosed),
    /// A new friend.
    FriendAdded(Friend),
    /// The caller changed a friend's remark or category (on some device).
    FriendUpdated(Friend),
    /// No longer friends (either side removed the other).
    FriendRemoved(UserCard),
    /// The caller created or renamed a category.
    CategoryUpdated(Category),
    /// The caller deleted a category; its friends are in none now.
    CategoryDeleted(CategoryRef),
    /// The caller blocked this user.
    Blocked(UserCard),
    /// The caller unblocked this user.
    Unblocked(UserCard),
    /// The caller's or a contact's profile changed.
    Profile(Profile),
    /// The caller is now in this group (created it, was added, joined).
    GroupJoined(crate::groups::GroupCard),
    /// The caller is no longer in this group.
    GroupLeft(crate::groups::GroupLeft),
    /// A request to join a group the caller manages (or the caller's own
    /// request) was filed or repeated.
    GroupRequest(crate::groups::GroupJoinRequest),
    /// Such a request ended.
    GroupRequestClosed(crate::groups::GroupRequestClosed),
    /// An entry of the caller's drive was made, renamed, moved, deleted to
    /// the bin or restored (on some device): its new state. An entry with
    /// `trashed_at` is in the bin.
    DriveEntry(Box<crate::drive::DriveEntry>),
    /// Entries left the caller's bin for good (purged).
    DriveRemoved(crate::drive::DriveRemoved),
    /// The caller changed their settings of a conversation (pinned,
    /// muted, marked unread, hidden, draft) on some device, or a `read`
    /// cleared its unread mark: the conversation's whole settings.
    ConvSettings(crate::conv_settings::ConvSettings),
    /// A kind this build does not know (a newer server's), kept as read:
    /// clients skip it; a server passes it on unchanged.
    #[serde(skip)]
    Unknown {
        kind: String,
        data: serde_json::Value,
    },
}

impl ChangeEvent {
    /// Every kind this build knows, as on the wire.
    pub const KINDS: &'static [&'static str] = &[
        "friend_request",
        "friend_request_closed",
        "friend_added",
        "friend_updated",
        "friend_removed",
        "category_updated",
        "category_deleted",
        "blocked",
        "unblocked",
        "profile",
        "group_joined",
        "group_left",
        "group_request",
        "group_request_closed",
        "drive_entry",
        "drive_removed",
        "conv_settings",
    ];
}

/// A change as read, before its kind is looked at: a change of a kind
/// this build does not know must still decode (as
/// [`ChangeEvent::Unknown`]) so that its seq is not lost.
#[derive(Deserialize)]
struct RawChange {
    seq: i64,
    ts: i64,
    kind: String,
    #[serde(default)]
    data: serde_json::Value,
}

impl TryFrom<RawChange> for Change {
    type Error = serde_json::Error;

    fn try_from(raw: RawChange) -> Result<Change, serde_json::Error> {
        let event = if ChangeEvent::KINDS.contains(&raw.kind.as_str()) {
            serde_json::from_value(serde_json::json!({"kind": raw.kind, "data": raw.data}))?
        } else {
            ChangeEvent::Unknown {
                kind: raw.kind,
                data: raw.data,
            }
        };
        Ok(Change {
            seq: raw.seq,
            ts: raw.ts,
            event,
        })
    }
}

/// Payload naming a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRef {
    pub id: CategoryId,
}

/// `changes`: the caller's changes after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// The highest seq the device has applied (0: none).
    #[serde(default)]
    pub after: i64,
    /// Most changes to return (default 200, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesOk {
    /// In seq order, starting right after `after`.
    pub changes: Vec<Change>,
    /// More changes follow: ask again after the last one here.
    pub more: bool,
    /// The newest seq of the caller's stream when this was read.
    pub head: i64,
    /// The company directory's version: reload it (`directory`) if newer
    /// than the one held.
    #[serde(default)]
    pub directory_version: i64,
    /// The changes right after `after` are no longer kept: `changes` is
    /// empty, and the device must reload its state (`friends`,
    /// `friend_requests`, `blocks`, profiles) and continue from `head`.
    pub reset: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id: i64, name: &str) -> UserCard {
        UserCard {
            user_id: id,
            user: name.into(),
            nickname: String::new(),
            avatar: String::new(),
        }
    }

    #[test]
    fn changes_round_trip_with_kind_and_data() {
        let change = Change {
            seq: 3,
            ts: 10,
            event: ChangeEvent::FriendRemoved(card(2, "bob")),
        };
        let json = serde_json::to_value(&change).expect("encode");
        assert_eq!(json["kind"], "friend_removed");
        assert_eq!(json["data"]["user"], "bob");
        assert_eq!(json["seq"], 3);
        let back: Change = serde_json::from_value(json).expect("decode");
        assert_eq!(back, change);
    }

    #[test]
    fn an_unknown_kind_decodes_as_unknown_and_keeps_its_seq() {
        let json = r#"{"seq":9,"ts":1,"kind":"file_shared","data":{"group":4}}"#;
        let change: Change = serde_json::from_str(json).expect("decode");
        assert_eq!(change.seq, 9);
        assert!(
            matches!(&change.event, ChangeEvent::Unknown { kind, .. } if kind == "file_shared")
        );
        // Passed on exactly as it came.
        let again: serde_json::Value = serde_json::to_value(&change).expect("encode");
        let original: serde_json::Value = serde_json::from_str(json).expect("json");
        assert_eq!(again, original);
    }

    #[test]
    fn a_known_kind_with_bad_data_is_an_error() {
        let json = r#"{"seq":9,"ts":1,"kind":"blocked","data":{"user":4}}"#;
        assert!(serde_json::from_str::<Change>(json).is_err());
    }

    #[test]
    fn kinds_lists_every_variant() {
        let category = Category {
            id: 1,
            name: "x".into(),
        };
        let events = [
            ChangeEvent::Blocked(card(1, "a")),
            ChangeEvent::CategoryUpdated(category),
            ChangeEvent::CategoryDeleted(CategoryRef { id: 1 }),
            ChangeEvent::ConvSettings(crate::conv_settings::ConvSettings::defaults(4)),
        ];
        for event in events {
            let json = serde_json::to_value(&event).expect("encode");
            let kind = json["kind"].as_str().expect("kind");
            assert!(ChangeEvent::KINDS.contains(&kind), "{kind}");
        }
    }
}
