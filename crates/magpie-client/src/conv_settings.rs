//! The caller's own settings of each conversation, as client calls: one
//! typed method per change (pin, mute, mark unread, hide, draft), the
//! general [`Client::conv_set`], and [`Client::conv_settings`] to load
//! them all on a new device. Changes made on other devices arrive as
//! `change` pushes of kind `conv_settings` (and through `changes` after
//! a reconnect); the conversation list carries them on its rows.

use crate::{Client, ClientError};
use magpie_proto::{
    ConvId, ConvSet, ConvSettings, ConvSettingsList, ConvSettingsOk, MUTED_FOREVER, Request,
};

impl Client {
    /// Change some settings of `conv` (fields left `None` keep their
    /// value); the answer is the conversation's settings after it.
    pub async fn conv_set(&self, set: ConvSet) -> Result<ConvSettings, ClientError> {
        self.call(Request::ConvSet(set)).await
    }

    /// Pin `conv` above the others (or unpin it).
    pub async fn pin(&self, conv: ConvId, pinned: bool) -> Result<ConvSettings, ClientError> {
        self.conv_set(ConvSet {
            conv,
            pinned: Some(pinned),
            ..ConvSet::default()
        })
        .await
    }

    /// Mute notifications of `conv` until `until` (ms since the epoch),
    /// or [`MUTED_FOREVER`]; `0` unmutes.
    pub async fn mute(&self, conv: ConvId, until: i64) -> Result<ConvSettings, ClientError> {
        self.conv_set(ConvSet {
            conv,
            muted_until: Some(until),
            ..ConvSet::default()
        })
        .await
    }

    /// Mute notifications of `conv` until unmuted.
    pub async fn mute_forever(&self, conv: ConvId) -> Result<ConvSettings, ClientError> {
        self.mute(conv, MUTED_FOREVER).await
    }

    /// Mark `conv` unread (or clear the mark; a `read` clears it too).
    pub async fn mark_unread(
        &self,
        conv: ConvId,
        marked: bool,
    ) -> Result<ConvSettings, ClientError> {
        self.conv_set(ConvSet {
            conv,
            marked_unread: Some(marked),
            ..ConvSet::default()
        })
        .await
    }

    /// Hide `conv` from the list until a new message arrives (or show it
    /// again).
    pub async fn hide(&self, conv: ConvId, hidden: bool) -> Result<ConvSettings, ClientError> {
        self.conv_set(ConvSet {
            conv,
            hidden: Some(hidden),
            ..ConvSet::default()
        })
        .await
    }

    /// Save `text` as the draft of `conv` for every device (`""` clears
    /// it).
    pub async fn set_draft(&self, conv: ConvId, text: &str) -> Result<ConvSettings, ClientError> {
        self.conv_set(ConvSet {
            conv,
            draft: Some(text.to_string()),
            ..ConvSet::default()
        })
        .await
    }

    /// One page of the conversations whose settings are not the defaults,
    /// by conversation id.
    pub async fn conv_settings_page(
        &self,
        after: Option<ConvId>,
        limit: Option<u32>,
    ) -> Result<ConvSettingsOk, ClientError> {
        self.call(Request::ConvSettings(ConvSettingsList { after, limit }))
            .await
    }

    /// Every conversation whose settings are not the defaults (hidden
    /// ones included), page by page: what a new device loads once.
    pub async fn conv_settings(&self) -> Result<Vec<ConvSettings>, ClientError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.conv_settings_page(after, None).await?;
            all.extend(page.settings);
            match page.next {
                Some(next) => after = crate::next_cursor(after, next)?,
                None => return Ok(all),
            }
        }
    }
}
