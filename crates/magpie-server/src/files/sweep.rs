//! The background sweep: removes what expiry and crashes leave behind.
//!
//! - uploads past `expires_at`: an unfinished one loses its row and staged
//!   bytes (its reservation returns to the quota); a finished one only its
//!   row (the file stays);
//! - staged files no upload row names, older than [`GRACE`] (a crash
//!   between creating the file and its row);
//! - blob bytes no row names, older than [`GRACE`] (a crash between
//!   writing new content and recording it, or between deleting a row and
//!   its bytes). The grace period covers a completion in progress, whose
//!   bytes are written just before their row.
//!
//! Every node sweeps; the steps are idempotent, so two nodes sweeping at
//! once do no harm.

use super::Files;
use crate::clock::now_ms;
use futures::StreamExt;
use std::time::Duration;

/// How often the sweep runs.
pub const INTERVAL: Duration = Duration::from_secs(600);
/// Bytes younger than this are never taken for orphans.
pub const GRACE: Duration = Duration::from_secs(3600);
/// Most items one pass handles of each kind, so a pass stays short.
const BATCH: u32 = 500;

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub expired_uploads: usize,
    pub stray_staged: usize,
    pub orphan_blobs: usize,
}

impl Files {
    /// One pass of the sweep, with `grace` as the age below which nothing
    /// is taken for an orphan (tests pass zero).
    pub async fn sweep(&self, grace: Duration) -> Swept {
        let mut swept = Swept::default();
        let now = now_ms();
        match self.store.expired_uploads(now, BATCH).await {
            Ok(expired) => {
                for upload in expired {
                    let Some(_claim) = self.claim(&upload.id) else {
                        continue;
                    };
                    if let Err(e) = self.store.delete_upload(&upload.id).await {
                        tracing::warn!(error = %e, "sweep: deleting an expired upload failed");
                        continue;
                    }
                    self.keep_hash(&upload.id, 0, None);
                    super::remove_staged(&self.staged_path(&upload.id)).await;
                    swept.expired_uploads += 1;
                }
            }
            Err(e) => tracing::warn!(error = %e, "sweep: listing expired uploads failed"),
        }
        swept.stray_staged = self.sweep_staging(grace).await;
        swept.orphan_blobs = self.sweep_blobs(grace, now).await;
        if swept != Swept::default() {
            tracing::info!(?swept, "file sweep");
        }
        swept
    }

    async fn sweep_staging(&self, grace: Duration) -> usize {
        let Ok(mut entries) = tokio::fs::read_dir(&self.staging).await else {
            return 0;
        };
        let mut removed = 0;
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            let Some(id) = name.to_str() else { continue };
            let old = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= grace);
            if !old || self.claim(id).is_none() {
                continue;
            }
            match self.store.upload(id).await {
                Ok(Some(upload)) if upload.file_id.is_none() => continue,
                Ok(_) => {
                    super::remove_staged(&entry.path()).await;
                    removed += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sweep: checking a staged upload failed");
                    break;
                }
            }
        }
        removed
    }

    async fn sweep_blobs(&self, grace: Duration, now: i64) -> usize {
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let before = now.saturating_sub(grace_ms);
        let mut listing = self.storage.list("blobs");
        let mut removed = 0;
        let mut chunk = Vec::new();
        loop {
            let next = listing.next().await;
            let done = next.is_none();
            match next {
                // `<=`: with no grace (tests), bytes written in this very
                // millisecond are old enough; file times come from the
                // kernel's coarse clock, so they never run ahead of `now`.
                Some(Ok((key, written))) if written <= before => chunk.push(key),
                Some(Ok(_)) | None => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "sweep: listing blobs failed");
                    return removed;
                }
            }
            if chunk.len() >= BATCH as usize || (done && !chunk.is_empty()) {
                match self.remove_unknown(&chunk).await {
                    Some(n) => removed += n,
                    None => return removed,
                }
                chunk.clear();
            }
            if done {
                return removed;
            }
        }
    }

    /// Delete those of `keys` no blob row names; `None` if the database
    /// could not be asked.
    async fn remove_unknown(&self, keys: &[String]) -> Option<usize> {
        let known = match self.store.known_keys(keys).await {
            Ok(known) => known,
            Err(e) => {
                tracing::warn!(error = %e, "sweep: checking blob keys failed");
                return None;
            }
        };
        let mut removed = 0;
        for key in keys {
            if known.contains(key) {
                continue;
            }
            match self.storage.delete(key).await {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(error = %e, key, "sweep: deleting orphan bytes failed"),
            }
        }
        Some(removed)
    }
}

/// Run the sweep every [`INTERVAL`] until `shutdown`.
pub async fn run(files: std::sync::Arc<Files>, shutdown: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                files.sweep(GRACE).await;
            }
        }
    }
}
