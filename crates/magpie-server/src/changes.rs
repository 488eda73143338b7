//! The change-stream service: reading a user's stream (`changes`) and
//! pushing what other services appended to it.
//!
//! Areas that change state around users (people today, groups next) get
//! back from the store the changes their transaction appended, and hand
//! them to [`Changes::push`]. Every device of each user gets them live,
//! including the device that caused them: a device's cursor then advances
//! without a gap, and applying a change twice is harmless by design.

use crate::error::from_store;
use crate::page::{ByteBudget, clamp_limit};
use crate::router::Router;
use magpie_proto::limits::{CHANGES_LIMIT_DEFAULT, CHANGES_LIMIT_MAX};
use magpie_proto::{ChangesOk, ErrorBody, Push, UserId};
use magpie_store::{Store, Written};
use std::sync::Arc;

/// The change-stream service.
#[derive(Debug)]
pub struct Changes {
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    max_frame_bytes: usize,
}

impl Changes {
    pub fn new(store: Arc<dyn Store>, router: Arc<dyn Router>, max_frame_bytes: usize) -> Changes {
        Changes {
            store,
            router,
            max_frame_bytes,
        }
    }

    /// Push each written change to every connection of its user, on every
    /// node. Best effort, like every push: a device that misses one finds
    /// it with `changes`.
    pub fn push(&self, written: Vec<Written>) {
        for w in written {
            let frame = Push::Change(w.change).encode();
            self.router.deliver(&[w.user], &frame, None);
        }
    }

    /// One page of `user`'s stream after `after`, within a frame.
    pub async fn page(
        &self,
        user: UserId,
        req: magpie_proto::Changes,
    ) -> Result<ChangesOk, ErrorBody> {
        let limit = clamp_limit(req.limit, CHANGES_LIMIT_DEFAULT, CHANGES_LIMIT_MAX)?;
        if req.after < 0 {
            return Err(crate::error::invalid_args("after must not be negative"));
        }
        let page = self
            .store
            .changes(user, req.after, limit)
            .await
            .map_err(from_store)?;
        let directory_version = self.store.directory_version().await.map_err(from_store)?;
        let mut more = page.changes.last().is_some_and(|c| c.seq < page.head);
        let mut budget = ByteBudget::new(self.max_frame_bytes);
        let mut changes = Vec::with_capacity(page.changes.len());
        for change in page.changes {
            if !budget.take(&change) {
                more = true;
                break;
            }
            changes.push(change);
        }
        Ok(ChangesOk {
            changes,
            more,
            head: page.head,
            directory_version,
            reset: page.reset,
        })
    }
}
