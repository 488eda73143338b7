//! Each member's own settings of a conversation (pinned, notifications
//! muted, marked unread, hidden, draft), kept on their membership row.
//!
//! Every change is one transaction that writes the settings and appends a
//! `conv_settings` change (the whole new settings) to the member's change
//! stream, so all their devices converge as they do on contacts (see
//! [`crate::ChangeStore`]). A change that changes nothing writes nothing.
//! The conversation list reads the settings with its rows
//! ([`crate::ConvSummary`]).

use crate::{Outcome, Result, Written};
use async_trait::async_trait;
use magpie_proto::{ConvId, ConvSettings, UserId};

/// What a `conv_set` changes; `None` keeps a setting as it is. The
/// service has checked the values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsUpdate {
    pub pinned: Option<bool>,
    /// `0`, [`magpie_proto::MUTED_FOREVER`] or a time (ms).
    pub muted_until: Option<i64>,
    pub marked_unread: Option<bool>,
    /// `true`: hide up to the conversation's newest entry now; `false`:
    /// show it again.
    pub hidden: Option<bool>,
    /// Empty clears the draft.
    pub draft: Option<String>,
}

/// Storage of the per-conversation settings.
#[async_trait]
pub trait ConvSettingsStore: Send + Sync {
    /// Apply `update` to `user`'s settings of `conv` and append the result
    /// to `user`'s stream, in one transaction. Refuses
    /// [`crate::Refusal::NotMember`] when `user` is not a member. Writes
    /// nothing (and returns no change) when nothing would change.
    async fn set_conv_settings(
        &self,
        user: UserId,
        conv: ConvId,
        update: &SettingsUpdate,
        now: i64,
    ) -> Result<Outcome<ConvSettings>>;

    /// `user`'s conversations with settings other than the defaults, with
    /// ids above `after`, ascending, at most `limit`.
    async fn conv_settings(
        &self,
        user: UserId,
        after: ConvId,
        limit: u32,
    ) -> Result<Vec<ConvSettings>>;

    /// After a `read` of `conv` by `user`: clear the unread mark if set,
    /// appending the new settings to the stream in the same transaction.
    /// Costs one primary-key read when there is no mark (the usual case).
    async fn clear_unread_mark(&self, user: UserId, conv: ConvId, now: i64)
    -> Result<Vec<Written>>;
}
