//! The change stream: one gapless sequence of changes per user, appended
//! by the areas that change state around a user (people today, groups
//! next) in the same transaction as the change itself, and read back by
//! devices that were away. See `magpie_proto::changes` for the protocol.

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{Change, UserId};

/// A page of one user's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    /// In seq order, the first right after the `after` asked for (unless
    /// `reset`).
    pub changes: Vec<Change>,
    /// The stream's newest seq when read.
    pub head: i64,
    /// The changes right after `after` are gone (trimmed, or `after` is
    /// beyond the head): the device must reload its state.
    pub reset: bool,
}

/// Reading the change stream.
#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// `user`'s changes after `after`, at most `limit`.
    async fn changes(&self, user: UserId, after: i64, limit: u32) -> Result<ChangePage>;
}
