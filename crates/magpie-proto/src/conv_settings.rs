//! Per-conversation settings of one user: pinned, notifications muted,
//! marked unread, hidden from the list, and a draft.
//!
//! They are the user's own, never seen by the other members, and the same
//! on every device of the user: each change is one transaction that also
//! appends a `conv_settings` change (the conversation's whole settings) to
//! the user's change stream, so every device gets it live as a `change`
//! push and a device that was away finds it with `changes` (see
//! [`crate::changes`]). The conversation list carries them on its rows,
//! and `conv_settings` lists every conversation whose settings are not the
//! defaults (hidden ones included, which the list leaves out).

use crate::types::{ConvId, Seq};
use serde::{Deserialize, Serialize};

/// `muted_until` for notifications muted until unmuted.
pub const MUTED_FOREVER: i64 = -1;

/// One user's settings of one conversation: the `conv_settings` change,
/// the result of `conv_set`, and the rows of `conv_settings`. Carried
/// whole (never as a difference), so applying one twice is harmless.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSettings {
    pub conv: ConvId,
    /// Shown above the unpinned conversations of the list.
    #[serde(default)]
    pub pinned: bool,
    /// Notifications muted: `0` not muted, [`MUTED_FOREVER`] (`-1`) until
    /// unmuted, otherwise until this time (ms since the epoch). Messages
    /// are still delivered; clients only stop alerting. Not a group's
    /// speaking mute (`group_mute`).
    #[serde(default)]
    pub muted_until: i64,
    /// Marked unread by the user: shown as unread even with nothing
    /// unread. A `read` of the conversation clears it.
    #[serde(default)]
    pub marked_unread: bool,
    /// Hidden from the list up to this seq (`0`: not hidden). The
    /// conversation stays out of the list while its newest entry that is
    /// not quiet (recall, edit, reaction) has a seq at most this; a new
    /// message brings it back by itself. Nothing is deleted.
    #[serde(default)]
    pub hidden_seq: Seq,
    /// The text the user was writing, for every device: empty for none.
    #[serde(default)]
    pub draft: String,
}

impl ConvSettings {
    /// The settings every conversation starts with.
    pub fn defaults(conv: ConvId) -> ConvSettings {
        ConvSettings {
            conv,
            ..ConvSettings::default()
        }
    }

    /// Whether these are the defaults (nothing set).
    pub fn is_default(&self) -> bool {
        *self == ConvSettings::defaults(self.conv)
    }

    /// Whether notifications are muted at `now` (ms since the epoch).
    pub fn muted_at(&self, now: i64) -> bool {
        self.muted_until == MUTED_FOREVER || self.muted_until > now
    }

    /// Whether the conversation is hidden while its newest entry that is
    /// not quiet has seq `last_seq`.
    pub fn hidden_with(&self, last_seq: Seq) -> bool {
        self.hidden_seq > 0 && last_seq <= self.hidden_seq
    }
}

/// `conv_set`: change some of the caller's settings of one conversation
/// they are a member of. Fields left out keep their value; at least one
/// must be given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSet {
    pub conv: ConvId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// `0` unmutes, [`MUTED_FOREVER`] (`-1`) mutes until unmuted, a
    /// future time (ms since the epoch) mutes until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marked_unread: Option<bool>,
    /// `true` hides the conversation up to its newest entry (until a new
    /// message arrives); `false` shows it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// The new draft (empty clears it): at most
    /// [`crate::limits::DRAFT_MAX`] bytes (or the server's
    /// `max_body_bytes`, if smaller), no U+0000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<String>,
}

impl ConvSet {
    /// Whether the request names any setting at all.
    pub fn is_empty(&self) -> bool {
        self.pinned.is_none()
            && self.muted_until.is_none()
            && self.marked_unread.is_none()
            && self.hidden.is_none()
            && self.draft.is_none()
    }
}

/// `conv_settings`: one page of the caller's conversations whose settings
/// are not the defaults, by ascending conversation id: what a new device
/// loads once, then keeps current from the change stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSettingsList {
    /// Continue after this conversation (the `next` of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ConvId>,
    /// Page size (default 200, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Result of `conv_settings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSettingsOk {
    pub settings: Vec<ConvSettings>,
    /// Present when more rows follow: pass it as `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<ConvId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_carry_every_field_and_default_when_absent() {
        let s = ConvSettings {
            conv: 7,
            pinned: true,
            muted_until: MUTED_FOREVER,
            marked_unread: false,
            hidden_seq: 0,
            draft: "half a thought".into(),
        };
        let json = serde_json::to_value(&s).expect("encode");
        assert_eq!(
            json,
            serde_json::json!({"conv": 7, "pinned": true, "muted_until": -1,
                "marked_unread": false, "hidden_seq": 0, "draft": "half a thought"})
        );
        let bare: ConvSettings = serde_json::from_str(r#"{"conv": 7}"#).expect("decode");
        assert!(bare.is_default());
        assert_eq!(bare, ConvSettings::defaults(7));
    }

    #[test]
    fn muted_and_hidden_follow_their_rules() {
        let mut s = ConvSettings::defaults(1);
        assert!(!s.muted_at(100));
        s.muted_until = MUTED_FOREVER;
        assert!(s.muted_at(i64::MAX));
        s.muted_until = 200;
        assert!(s.muted_at(199) && !s.muted_at(200));
        assert!(!s.hidden_with(5));
        s.hidden_seq = 5;
        assert!(s.hidden_with(5) && s.hidden_with(3) && !s.hidden_with(6));
    }

    #[test]
    fn an_empty_conv_set_names_nothing() {
        let set: ConvSet = serde_json::from_str(r#"{"conv": 3}"#).expect("decode");
        assert!(set.is_empty());
        let set: ConvSet = serde_json::from_str(r#"{"conv": 3, "draft": ""}"#).expect("decode");
        assert!(!set.is_empty());
    }
}
