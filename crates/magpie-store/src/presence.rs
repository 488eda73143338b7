//! Presence as storage sees it: the status each user chose and who their
//! contacts are. Whether a user is connected is deliberately not stored
//! (see the server's presence service): only the routers know that, so a
//! crash cannot leave a user shown online.

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{PresenceState, Status, UserId};

/// Chosen statuses and contacts.
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Who is told when `user`'s presence changes: their friends, and the
    /// members of their department (except those they blocked).
    async fn contacts(&self, user: UserId) -> Result<Vec<UserId>>;

    /// Record the status `user` chose (`Status::Offline` is not a choice
    /// and is stored as online) and its text.
    async fn set_presence(&self, user: UserId, status: Status, text: &str) -> Result<()>;

    /// The chosen status and text of each of `users` that exists, in no
    /// particular order; `status` is never `Offline` here.
    async fn presences(&self, users: &[UserId]) -> Result<Vec<PresenceState>>;
}
