//! Presence: whether a user is reachable now, and how they want to be
//! seen. A user is online while any of their devices is connected; the
//! status they chose (away, busy, invisible) and a short text go with it.
//! Presence reaches only the user's contacts, never strangers or blocked
//! users, and an invisible user is shown to them as offline.

use crate::types::UserId;
use serde::{Deserialize, Serialize};

/// What contacts see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Online,
    Away,
    Busy,
    /// Connected but shown to contacts as `offline`; only the user's own
    /// devices see `invisible`.
    Invisible,
    /// No device connected (or invisible, as contacts see it).
    #[default]
    Offline,
}

/// `presence_set`: choose how contacts see the caller while connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceSet {
    /// `online`, `away`, `busy` or `invisible` (not `offline`: that is
    /// what disconnecting is for).
    pub status: Status,
    /// A short status text; omitted keeps the current one, empty clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A user's presence as one viewer sees it: the `presence` push, and the
/// `presence` field of friend-list rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceState {
    pub user_id: UserId,
    pub user: String,
    pub status: Status,
    /// Empty when none, and always empty for `offline`.
    pub text: String,
}
