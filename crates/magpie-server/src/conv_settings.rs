//! The per-conversation settings service: `conv_set` and `conv_settings`,
//! and clearing an unread mark after a `read`.
//!
//! Settings are a member's own (pinned, notifications muted, marked
//! unread, hidden, draft). Each change is one store transaction that also
//! appends a `conv_settings` change to the member's stream; the service
//! pushes it to every device of the member on every node
//! ([`Changes::push`]), and a device that was away converges through
//! `changes`, exactly as for contacts.

use crate::changes::Changes;
use crate::error::{from_store, invalid_args};
use crate::page::{ByteBudget, clamp_limit};
use magpie_proto::limits::{DRAFT_MAX, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use magpie_proto::{
    ConvId, ConvSet, ConvSettings, ConvSettingsList, ConvSettingsOk, ErrorBody, MUTED_FOREVER,
    UserId,
};
use magpie_store::{SettingsUpdate, Store};
use std::sync::Arc;

/// The per-conversation settings service.
#[derive(Debug)]
pub struct ConvSettingsService {
    store: Arc<dyn Store>,
    changes: Arc<Changes>,
    /// Longest draft: [`DRAFT_MAX`], or `max_body_bytes` if smaller (a
    /// draft is a message not sent yet).
    draft_max: usize,
    max_frame_bytes: usize,
}

impl ConvSettingsService {
    /// The service over `store`, pushing through `changes`.
    pub fn new(
        store: Arc<dyn Store>,
        changes: Arc<Changes>,
        max_body_bytes: usize,
        max_frame_bytes: usize,
    ) -> ConvSettingsService {
        ConvSettingsService {
            store,
            changes,
            draft_max: DRAFT_MAX.min(max_body_bytes),
            max_frame_bytes,
        }
    }

    /// `conv_set`: check the values, write them with their change, push
    /// the change to every device of `me`. `unknown_conversation` when
    /// `me` is not a member.
    pub async fn set(&self, me: UserId, req: ConvSet, now: i64) -> Result<ConvSettings, ErrorBody> {
        if req.is_empty() {
            return Err(invalid_args(
                "conv_set needs at least one of pinned, muted_until, marked_unread, hidden, draft",
            ));
        }
        if let Some(until) = req.muted_until
            && until != 0
            && until != MUTED_FOREVER
            && until <= now
        {
            return Err(invalid_args(
                "muted_until must be 0 (unmute), -1 (until unmuted) or a future time in ms",
            ));
        }
        if let Some(draft) = &req.draft {
            if draft.len() > self.draft_max {
                return Err(invalid_args(format!(
                    "draft is {} bytes; the limit is {}",
                    draft.len(),
                    self.draft_max
                )));
            }
            if draft.contains('\0') {
                return Err(invalid_args("draft must not contain U+0000"));
            }
        }
        let update = SettingsUpdate {
            pinned: req.pinned,
            muted_until: req.muted_until,
            marked_unread: req.marked_unread,
            hidden: req.hidden,
            draft: req.draft,
        };
        let outcome = self
            .store
            .set_conv_settings(me, req.conv, &update, now)
            .await
            .map_err(from_store)?;
        self.changes.push(outcome.written);
        Ok(outcome.value)
    }

    /// `conv_settings`: one page of `me`'s conversations whose settings
    /// are not the defaults, within a frame.
    pub async fn list(
        &self,
        me: UserId,
        req: ConvSettingsList,
    ) -> Result<ConvSettingsOk, ErrorBody> {
        let limit = clamp_limit(req.limit, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        let rows = self
            .store
            .conv_settings(me, req.after.unwrap_or(0), limit + 1)
            .await
            .map_err(from_store)?;
        let (settings, next) =
            ByteBudget::new(self.max_frame_bytes).page_after(rows, limit, |s| s.conv);
        Ok(ConvSettingsOk { settings, next })
    }

    /// After `me` read `conv`: clear its unread mark, if set, and push the
    /// change. Best effort: the read itself has succeeded, so a failure
    /// here is logged, not answered (the mark stays until the next read).
    pub async fn read_done(&self, me: UserId, conv: ConvId, now: i64) {
        match self.store.clear_unread_mark(me, conv, now).await {
            Ok(written) => self.changes.push(written),
            Err(e) => tracing::warn!(user = me, conv, error = %e, "clearing an unread mark failed"),
        }
    }
}
