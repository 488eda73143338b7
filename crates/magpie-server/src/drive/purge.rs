//! Emptying bins: entries marked by `drive_purge`, and entries in a bin
//! longer than the retention, lose their references in bounded steps.
//!
//! Each step is one transaction of the store over at most [`PURGE_STEP`]
//! entries of one bin root ([`magpie_store::DriveStore::drive_purge_step`]);
//! a folder's sub-folders become roots of their own instead of being
//! walked, so no step's cost depends on the size of a tree, and a crash
//! between steps leaves a tree the next step continues. The bytes a step
//! releases are deleted after its commit, like every release of the file
//! area (a crash in between leaves orphan bytes for the file sweep).
//!
//! Every node purges; two nodes stepping at once serialise on the owner's
//! row and find different work or none.

use super::{Drive, PURGE_STEP};
use crate::clock::now_ms;
use crate::error::from_store;
use crate::files::FileResult;
use magpie_proto::UserId;
use std::sync::Arc;
use std::time::Duration;

/// How often the background purge looks for work.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// Most steps one background pass runs, so a pass stays short; the rest
/// waits for the next pass.
const STEPS_PER_PASS: u32 = 500;

/// One purge step for `owner` (or anyone), taking entries binned before
/// `binned_before` as expired. `true` when there was nothing to do.
pub async fn step(drive: &Drive, owner: Option<UserId>, binned_before: i64) -> FileResult<bool> {
    let done = drive
        .store()
        .drive_purge_step(owner, binned_before, PURGE_STEP, now_ms())
        .await
        .map_err(from_store)?;
    drive.changes().push(done.written);
    for gone in done.released {
        drive.files().release(gone).await;
    }
    Ok(done.idle)
}

/// One background pass: purge what is marked or expired, until there is
/// nothing left or the pass has run its share of steps. Returns the steps
/// that did work.
pub async fn pass(drive: &Drive) -> u32 {
    let retention = i64::try_from(drive.settings().bin_retention.as_millis()).unwrap_or(i64::MAX);
    let binned_before = now_ms().saturating_sub(retention);
    let mut worked = 0;
    for _ in 0..STEPS_PER_PASS {
        match step(drive, None, binned_before).await {
            Ok(true) => break,
            Ok(false) => worked += 1,
            Err(e) => {
                tracing::warn!(error = %e.message, "drive purge step failed; retrying next pass");
                break;
            }
        }
    }
    if worked > 0 {
        tracing::info!(steps = worked, "drive purge");
    }
    worked
}

/// Run [`pass`] every [`INTERVAL`] until `shutdown`, the first an
/// interval after start (a node starting is busy enough).
pub async fn run(drive: Arc<Drive>, shutdown: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + INTERVAL, INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                pass(&drive).await;
            }
        }
    }
}
