//! The personal drive (网盘): the rules over [`magpie_store::DriveStore`].
//!
//! The drive adds no bytes of its own: a drive file is a file of the
//! content store ([`crate::files`]), so uploads (tus, instant upload) and
//! downloads (`/api/files/{id}`) are the file area's, and the drive only
//! names, arranges and shares files. Saving from a share or from a chat
//! adds references to stored content, never copies.
//!
//! [`Drive`] checks what a request may do (names, ids, the caller's
//! ownership, the share's code) and leaves the tree's invariants to the
//! store's transactions. [`http`] opens share links to anyone with the
//! code; [`purge`] empties bins in bounded steps.

pub mod http;
pub mod purge;

use crate::changes::Changes;
use crate::clock::now_ms;
use crate::error::{from_store, invalid_args};
use crate::files::{FileResult, Files, new_id};
use magpie_proto::{
    Crumb, DriveEntriesOk, DriveEntry, DriveListOk, DriveSortKey, EntryKind, ErrorBody, ErrorCode,
    Quota, ShareInfo, UserId,
};
use magpie_store::Store;
use magpie_store::drive::{
    DriveLimits, DriveSort, EntryRecord, EntryState, NewContent, NewEntry, OnClash, ShareRecord,
};
use magpie_store::files::{FilePurpose, FileRecord};
use rand::RngExt;
use std::sync::Arc;
use std::time::Duration;

/// Default and largest page of a listing.
const LIST_PAGE: u32 = 100;
const LIST_PAGE_MAX: u32 = 500;
/// Default and largest page of search and recent files.
const SEARCH_PAGE: u32 = 50;
const SEARCH_PAGE_MAX: u32 = 100;
/// Longest search query, in characters.
const MAX_QUERY_CHARS: usize = 100;
/// Entries one purge step removes, and steps a `drive_purge` request runs
/// before leaving the rest to the background purge.
pub const PURGE_STEP: u32 = 200;
const PURGE_STEPS_INLINE: u32 = 20;
/// Characters of generated extraction codes: no `0/o`, `1/l/i`, which
/// are misread when a code is read aloud or copied by hand.
const CODE_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Length of a generated extraction code.
const CODE_LEN: usize = 4;
/// Wrong codes one link accepts per window before it refuses every code
/// (right or wrong) until the window ends. With 31^4 ≈ 920,000 codes,
/// guessing one takes about 46,000 windows: over 300 days.
pub const CODE_FAILURES_PER_WINDOW: i64 = 10;
pub const CODE_FAILURE_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Most entries one save from a share copies (a larger folder is saved
/// in parts, sub-folder by sub-folder).
pub const MAX_COPY: u32 = 2_000;
/// How long an unlocked share key lasts.
pub const SHARE_KEY_TTL_MS: i64 = 12 * 3600 * 1000;

/// The drive's settings, from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct DriveSettings {
    /// How long deleted entries stay in the bin.
    pub bin_retention: Duration,
    /// Most entries (folders and files, bin included) in one drive.
    pub max_entries: u64,
    /// Most entries one save from a share may copy.
    pub max_copy: u32,
}

/// The drive service.
#[derive(Debug)]
pub struct Drive {
    store: Arc<dyn Store>,
    files: Arc<Files>,
    /// Where the owner's other devices are told of changes.
    changes: Arc<Changes>,
    settings: DriveSettings,
}

impl Drive {
    pub fn new(
        store: Arc<dyn Store>,
        files: Arc<Files>,
        changes: Arc<Changes>,
        settings: DriveSettings,
    ) -> Drive {
        Drive {
            store,
            files,
            changes,
            settings,
        }
    }

    pub(crate) fn changes(&self) -> &Changes {
        &self.changes
    }

    pub fn settings(&self) -> DriveSettings {
        self.settings
    }

    pub(crate) fn files(&self) -> &Files {
        &self.files
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The bounds of `user`'s changes: their quota and the drive's limits.
    async fn limits_of(&self, user: UserId) -> FileResult<DriveLimits> {
        Ok(DriveLimits {
            quota: self.files.quota_of(user).await?,
            max_entries: i64::try_from(self.settings.max_entries).unwrap_or(i64::MAX),
            max_copy: self.settings.max_copy,
        })
    }

    /// `user`'s entry `id` if it is in their drive now.
    async fn placed_entry(&self, user: UserId, id: &str) -> FileResult<EntryRecord> {
        if !magpie_proto::is_file_id(id) {
            return Err(unknown_entry());
        }
        let ancestry = self.store.drive_ancestry(id).await.map_err(from_store)?;
        match ancestry.first() {
            Some(entry) if entry.owner == user && in_drive(&ancestry) => Ok(entry.clone()),
            _ => Err(unknown_entry()),
        }
    }

    /// The folder id a request named (`None`: the top, stored as `""`),
    /// checked to be `user`'s folder in the drive.
    async fn folder(&self, user: UserId, folder: Option<&str>) -> FileResult<String> {
        let Some(id) = folder.filter(|f| !f.is_empty()) else {
            return Ok(String::new());
        };
        let entry = self.placed_entry(user, id).await?;
        if !entry.is_folder() {
            return Err(ErrorBody::new(
                ErrorCode::InvalidArgs,
                "that entry is not a folder",
            ));
        }
        Ok(entry.id)
    }

    /// One page of a folder of `user`'s drive, with its path.
    pub async fn list(
        &self,
        user: UserId,
        req: magpie_proto::DriveList,
        max_frame_bytes: usize,
    ) -> FileResult<DriveListOk> {
        let limit = crate::page::clamp_limit(req.limit, LIST_PAGE, LIST_PAGE_MAX)?;
        let offset = req.offset.unwrap_or(0);
        let folder = self.folder(user, req.folder.as_deref()).await?;
        let path = if folder.is_empty() {
            Vec::new()
        } else {
            self.path_of(&folder).await?
        };
        let rows = self
            .store
            .drive_children(
                user,
                &folder,
                sort_of(req.sort),
                req.desc,
                offset,
                limit + 1,
            )
            .await
            .map_err(from_store)?;
        let (entries, next) =
            crate::page::ByteBudget::new(max_frame_bytes).page_at(self.views(&rows), limit, offset);
        Ok(DriveListOk {
            path,
            entries,
            next,
        })
    }

    /// `drive_info`: one of `user`'s entries in the drive or in the bin,
    /// with the folders it is in.
    pub async fn info(&self, user: UserId, id: &str) -> FileResult<magpie_proto::DriveInfoOk> {
        check_id(id)?;
        let ancestry = self.store.drive_ancestry(id).await.map_err(from_store)?;
        let Some(entry) = ancestry.first().filter(|e| e.owner == user) else {
            return Err(unknown_entry());
        };
        let listed = in_drive(&ancestry) || entry.state == EntryState::Binned;
        if !listed {
            return Err(unknown_entry());
        }
        let path = ancestry
            .iter()
            .skip(1)
            .rev()
            .map(|e| Crumb {
                id: e.id.clone(),
                name: e.name.clone(),
            })
            .collect();
        Ok(magpie_proto::DriveInfoOk {
            entry: self.entry_view(entry),
            path,
        })
    }

    /// The folders from the top down to `id` (included).
    async fn path_of(&self, id: &str) -> FileResult<Vec<Crumb>> {
        let ancestry = self.store.drive_ancestry(id).await.map_err(from_store)?;
        Ok(ancestry
            .iter()
            .rev()
            .map(|e| Crumb {
                id: e.id.clone(),
                name: e.name.clone(),
            })
            .collect())
    }

    /// `drive_mkdir`.
    pub async fn mkdir(
        &self,
        user: UserId,
        req: magpie_proto::DriveMkdir,
    ) -> FileResult<DriveEntry> {
        check_name(&req.name)?;
        let parent = self.folder(user, req.parent.as_deref()).await?;
        self.add(user, parent, req.name, NewContent::Folder, req.rename)
            .await
    }

    /// `drive_put`: the caller's own upload becomes the drive file; any
    /// other file they may read is saved as a new reference.
    pub async fn put(&self, user: UserId, req: magpie_proto::DrivePut) -> FileResult<DriveEntry> {
        let source = self
            .files
            .readable_by(user, &req.file)
            .await?
            .ok_or_else(crate::files::unknown_file)?;
        let name = match req.name {
            Some(name) => name,
            None => source.name.clone(),
        };
        check_name(&name)?;
        let parent = self.folder(user, req.parent.as_deref()).await?;
        let content = if source.owner == user && source.purpose == FilePurpose::Upload {
            NewContent::Adopt { file_id: source.id }
        } else {
            NewContent::Reference {
                file: Box::new(drive_file(user, &name, source)),
            }
        };
        self.add(user, parent, name, content, req.rename).await
    }

    async fn add(
        &self,
        user: UserId,
        parent: String,
        name: String,
        content: NewContent,
        rename: bool,
    ) -> FileResult<DriveEntry> {
        let entry = NewEntry {
            id: new_id(),
            owner: user,
            parent,
            name,
            content,
            now: now_ms(),
        };
        let limits = self.limits_of(user).await?;
        let made = self
            .store
            .drive_add(&entry, on_clash(rename), limits)
            .await
            .map_err(from_store)?;
        Ok(self.entry_view(&self.told(made)))
    }

    /// `drive_rename`.
    pub async fn rename(
        &self,
        user: UserId,
        req: magpie_proto::DriveRename,
    ) -> FileResult<DriveEntry> {
        check_name(&req.name)?;
        check_id(&req.entry)?;
        let renamed = self
            .store
            .drive_rename(user, &req.entry, &req.name, on_clash(req.rename), now_ms())
            .await
            .map_err(from_store)?;
        Ok(self.entry_view(&self.told(renamed)))
    }

    /// `drive_move`.
    pub async fn move_entries(
        &self,
        user: UserId,
        req: magpie_proto::DriveMove,
    ) -> FileResult<DriveEntriesOk> {
        check_ids(&req.entries)?;
        let parent = self.folder(user, req.parent.as_deref()).await?;
        let moved = self
            .store
            .drive_move(user, &req.entries, &parent, on_clash(req.rename), now_ms())
            .await
            .map_err(|e| match e {
                // Departments answer this refusal with `invalid_args`
                // (documented before the drive had its own code).
                magpie_store::StoreError::Refused(magpie_store::Refusal::InvalidMove) => {
                    ErrorBody::new(
                        ErrorCode::InvalidMove,
                        "a folder cannot move into itself or one of its own folders",
                    )
                }
                e => from_store(e),
            })?;
        Ok(self.entries_ok(&self.told(moved), None))
    }

    /// `drive_delete`: to the bin.
    pub async fn delete(&self, user: UserId, req: magpie_proto::DriveEntries) -> FileResult<()> {
        check_ids(&req.entries)?;
        let binned = self
            .store
            .drive_trash(user, &req.entries, now_ms(), self.retention_ms())
            .await
            .map_err(from_store)?;
        self.told(binned);
        Ok(())
    }

    /// `drive_bin`: what is in the bin, most recently deleted first.
    pub async fn bin(
        &self,
        user: UserId,
        req: magpie_proto::DrivePage,
        max_frame_bytes: usize,
    ) -> FileResult<DriveEntriesOk> {
        let limit = crate::page::clamp_limit(req.limit, LIST_PAGE, LIST_PAGE_MAX)?;
        let offset = req.offset.unwrap_or(0);
        let rows = self
            .store
            .drive_bin(user, offset, limit + 1)
            .await
            .map_err(from_store)?;
        let (entries, next) =
            crate::page::ByteBudget::new(max_frame_bytes).page_at(self.views(&rows), limit, offset);
        Ok(DriveEntriesOk { entries, next })
    }

    /// `drive_restore`.
    pub async fn restore(
        &self,
        user: UserId,
        req: magpie_proto::DriveEntries,
    ) -> FileResult<DriveEntriesOk> {
        check_ids(&req.entries)?;
        let restored = self
            .store
            .drive_restore(user, &req.entries, now_ms())
            .await
            .map_err(from_store)?;
        Ok(self.entries_ok(&self.told(restored), None))
    }

    /// `drive_purge`: mark, then purge as far as a few bounded steps go;
    /// the background purge finishes very large folders.
    pub async fn purge(
        &self,
        user: UserId,
        req: magpie_proto::DrivePurge,
    ) -> FileResult<magpie_proto::DrivePurgeOk> {
        if let Some(ids) = &req.entries {
            check_ids(ids)?;
        }
        let purged = self
            .store
            .drive_purge_mark(user, req.entries.as_deref(), now_ms())
            .await
            .map_err(from_store)?;
        let purged = self.told(purged);
        let mut pending = false;
        for step in 0..PURGE_STEPS_INLINE {
            let done = purge::step(self, Some(user), i64::MIN).await?;
            if done {
                break;
            }
            pending = step + 1 == PURGE_STEPS_INLINE;
        }
        Ok(magpie_proto::DrivePurgeOk { purged, pending })
    }

    /// `drive_search`: names containing the query, case-insensitively.
    pub async fn search(
        &self,
        user: UserId,
        req: magpie_proto::DriveSearch,
        max_frame_bytes: usize,
    ) -> FileResult<DriveEntriesOk> {
        let query = req.query.trim();
        if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
            return Err(invalid_args(format!(
                "the query must be 1 to {MAX_QUERY_CHARS} characters"
            )));
        }
        let limit = crate::page::clamp_limit(req.limit, SEARCH_PAGE, SEARCH_PAGE_MAX)?;
        let offset = req.offset.unwrap_or(0);
        let rows = self
            .store
            .drive_search(user, &query.to_lowercase(), offset, limit + 1)
            .await
            .map_err(from_store)?;
        let (entries, next) =
            crate::page::ByteBudget::new(max_frame_bytes).page_at(self.views(&rows), limit, offset);
        Ok(DriveEntriesOk { entries, next })
    }

    /// `drive_recent`.
    pub async fn recent(
        &self,
        user: UserId,
        req: magpie_proto::DriveRecent,
    ) -> FileResult<DriveEntriesOk> {
        let limit = crate::page::clamp_limit(req.limit, SEARCH_PAGE, SEARCH_PAGE_MAX)?;
        let rows = self
            .store
            .drive_recent(user, limit)
            .await
            .map_err(from_store)?;
        Ok(self.entries_ok(&rows, None))
    }

    /// `drive_quota`.
    pub async fn quota(&self, user: UserId) -> FileResult<Quota> {
        self.files.quota(user).await
    }

    /// `drive_share`: a new link over one of `user`'s entries.
    pub async fn share(
        &self,
        user: UserId,
        req: magpie_proto::DriveShare,
    ) -> FileResult<ShareInfo> {
        let entry = self.placed_entry(user, &req.entry).await?;
        let code = match req.code {
            Some(code) if magpie_proto::valid_share_code(&code) => code.to_ascii_lowercase(),
            Some(_) => {
                return Err(invalid_args(
                    "an extraction code is 4 to 16 letters or digits",
                ));
            }
            None => random_code(),
        };
        let now = now_ms();
        if req.expires_at.is_some_and(|at| at <= now) {
            return Err(invalid_args("expires_at must be in the future"));
        }
        if req.max_downloads == Some(0) {
            return Err(invalid_args("max_downloads must be at least 1"));
        }
        let share = ShareRecord {
            id: new_id(),
            owner: user,
            entry_id: entry.id.clone(),
            code,
            expires_at: req.expires_at,
            max_downloads: req.max_downloads.map(i64::from),
            downloads: 0,
            saves: 0,
            created_at: now,
        };
        self.store.share_create(&share).await.map_err(from_store)?;
        Ok(share_info(&share, &entry, true))
    }

    /// `drive_shares`: `user`'s links, newest first.
    pub async fn shares(
        &self,
        user: UserId,
        req: magpie_proto::DrivePage,
        max_frame_bytes: usize,
    ) -> FileResult<magpie_proto::DriveSharesOk> {
        let limit = crate::page::clamp_limit(req.limit, LIST_PAGE, LIST_PAGE_MAX)?;
        let offset = req.offset.unwrap_or(0);
        let rows = self
            .store
            .shares_of(user, offset, limit + 1)
            .await
            .map_err(from_store)?;
        let now = now_ms();
        let mut infos = Vec::with_capacity(rows.len());
        for share in rows {
            let ancestry = self
                .store
                .drive_ancestry(&share.entry_id)
                .await
                .map_err(from_store)?;
            let Some(entry) = ancestry.first() else {
                continue;
            };
            let active = in_drive(&ancestry) && share_open(&share, now) && downloads_left(&share);
            infos.push(share_info(&share, entry, active));
        }
        let (shares, next) =
            crate::page::ByteBudget::new(max_frame_bytes).page_at(infos, limit, offset);
        Ok(magpie_proto::DriveSharesOk { shares, next })
    }

    /// `drive_unshare`: the link stops working at once (every access
    /// reads the share's row).
    pub async fn unshare(&self, user: UserId, share: &str) -> FileResult<()> {
        if !magpie_proto::is_file_id(share) {
            return Err(unknown_share());
        }
        match self
            .store
            .share_delete(user, share)
            .await
            .map_err(from_store)?
        {
            true => Ok(()),
            false => Err(unknown_share()),
        }
    }

    /// `drive_save`: copy what a share holds (or `entries` inside a shared
    /// folder) into `user`'s folder `parent`, as new references.
    pub async fn save(
        &self,
        user: UserId,
        req: magpie_proto::DriveSave,
    ) -> FileResult<DriveEntriesOk> {
        let (share, root) = self.unlock_share(&req.share, &req.code).await?;
        let sources = match req.entries {
            None => vec![root.id.clone()],
            Some(ids) => {
                check_ids(&ids)?;
                for id in &ids {
                    self.shared_entry(&share, id).await?;
                }
                ids
            }
        };
        let parent = self.folder(user, req.parent.as_deref()).await?;
        let limits = self.limits_of(user).await?;
        let saved = self
            .store
            .drive_copy(user, &sources, &parent, limits, now_ms())
            .await
            .map_err(from_store)?;
        let saved = self.told(saved);
        if let Err(e) = self.store.share_count_save(&share.id).await {
            tracing::warn!(error = %e, "counting a share's save failed");
        }
        Ok(self.entries_ok(&saved, None))
    }

    /// `admin_quota_set`'s effect (the caller is checked by the admin
    /// service).
    pub async fn set_quota(&self, user: UserId, bytes: Option<u64>) -> FileResult<()> {
        let bytes = bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        self.store
            .set_user_quota(user, bytes)
            .await
            .map_err(from_store)
    }

    /// The share `id` if it works now, and its entry: not expired, and
    /// the entry in its owner's drive. Everything else is the same
    /// `unknown_share`.
    pub async fn open_share(&self, id: &str) -> FileResult<(ShareRecord, EntryRecord)> {
        if !magpie_proto::is_file_id(id) {
            return Err(unknown_share());
        }
        let share = self
            .store
            .share(id)
            .await
            .map_err(from_store)?
            .filter(|s| share_open(s, now_ms()))
            .ok_or_else(unknown_share)?;
        let ancestry = self
            .store
            .drive_ancestry(&share.entry_id)
            .await
            .map_err(from_store)?;
        match ancestry.first() {
            Some(entry) if in_drive(&ancestry) => Ok((share.clone(), entry.clone())),
            _ => Err(unknown_share()),
        }
    }

    /// Check `code` against share `id`, counting a wrong one against the
    /// link: past [`CODE_FAILURES_PER_WINDOW`] wrong codes, every code is
    /// refused until the window ends, so a short code cannot be guessed.
    pub async fn unlock_share(
        &self,
        id: &str,
        code: &str,
    ) -> FileResult<(ShareRecord, EntryRecord)> {
        let (share, root) = self.open_share(id).await?;
        let now = now_ms();
        let failures = self
            .store
            .share_failures(&share.id, now, CODE_FAILURE_WINDOW_MS)
            .await
            .map_err(from_store)?;
        if failures >= CODE_FAILURES_PER_WINDOW {
            return Err(too_many_codes());
        }
        if codes_match(&share.code, code) {
            return Ok((share, root));
        }
        let failures = self
            .store
            .share_fail(&share.id, now, CODE_FAILURE_WINDOW_MS)
            .await
            .map_err(from_store)?;
        if failures >= CODE_FAILURES_PER_WINDOW {
            return Err(too_many_codes());
        }
        Err(ErrorBody::new(
            ErrorCode::WrongCode,
            "the extraction code is wrong",
        ))
    }

    /// Entry `id` if it is `share`'s entry or inside its folder, and in
    /// the drive; otherwise the same `unknown_entry`.
    pub async fn shared_entry(&self, share: &ShareRecord, id: &str) -> FileResult<EntryRecord> {
        if !magpie_proto::is_file_id(id) {
            return Err(unknown_entry());
        }
        let ancestry = self.store.drive_ancestry(id).await.map_err(from_store)?;
        let inside = ancestry.iter().any(|e| e.id == share.entry_id);
        match ancestry.first() {
            Some(entry) if inside && in_drive(&ancestry) => Ok(entry.clone()),
            _ => Err(unknown_entry()),
        }
    }

    /// The path of `folder` inside `share`, from the shared entry down.
    pub async fn shared_path(&self, share: &ShareRecord, folder: &str) -> FileResult<Vec<Crumb>> {
        let ancestry = self
            .store
            .drive_ancestry(folder)
            .await
            .map_err(from_store)?;
        let mut path = Vec::new();
        for entry in &ancestry {
            path.push(Crumb {
                id: entry.id.clone(),
                name: entry.name.clone(),
            });
            if entry.id == share.entry_id {
                break;
            }
        }
        path.reverse();
        Ok(path)
    }

    /// Entries directly inside `folder` of the sharer's drive.
    pub async fn shared_children(
        &self,
        share: &ShareRecord,
        folder: &str,
        offset: u32,
        limit: u32,
    ) -> FileResult<Vec<EntryRecord>> {
        self.store
            .drive_children(share.owner, folder, DriveSort::Name, false, offset, limit)
            .await
            .map_err(from_store)
    }

    /// Count one download of `share`; `false` if it has none left.
    pub async fn count_download(&self, share: &ShareRecord) -> FileResult<bool> {
        self.store
            .share_count_download(&share.id, now_ms())
            .await
            .map_err(from_store)
    }

    /// Push what a change wrote to the owner's devices; its value.
    fn told<T>(&self, outcome: magpie_store::Outcome<T>) -> T {
        self.changes.push(outcome.written);
        outcome.value
    }

    /// The client's view of an entry.
    pub fn entry_view(&self, entry: &EntryRecord) -> DriveEntry {
        entry.view(self.retention_ms())
    }

    fn retention_ms(&self) -> i64 {
        i64::try_from(self.settings.bin_retention.as_millis()).unwrap_or(i64::MAX)
    }

    fn views(&self, rows: &[EntryRecord]) -> Vec<DriveEntry> {
        rows.iter().map(|e| self.entry_view(e)).collect()
    }

    fn entries_ok(&self, rows: &[EntryRecord], next: Option<u32>) -> DriveEntriesOk {
        DriveEntriesOk {
            entries: self.views(rows),
            next,
        }
    }
}

/// Whether an ancestry (entry first) reaches the top of the drive.
pub fn in_drive(ancestry: &[EntryRecord]) -> bool {
    ancestry
        .last()
        .is_some_and(|top| top.parent.as_deref() == Some(""))
}

fn kind_of(entry: &EntryRecord) -> EntryKind {
    if entry.is_folder() {
        EntryKind::Folder
    } else {
        EntryKind::File
    }
}

fn share_open(share: &ShareRecord, now: i64) -> bool {
    share.expires_at.is_none_or(|at| at > now)
}

fn downloads_left(share: &ShareRecord) -> bool {
    share.max_downloads.is_none_or(|max| share.downloads < max)
}

fn share_info(share: &ShareRecord, entry: &EntryRecord, active: bool) -> ShareInfo {
    ShareInfo {
        id: share.id.clone(),
        url: format!("/s/{}", share.id),
        code: share.code.clone(),
        entry: entry.id.clone(),
        name: entry.name.clone(),
        kind: kind_of(entry),
        expires_at: share.expires_at,
        max_downloads: share.max_downloads.and_then(|m| u64::try_from(m).ok()),
        downloads: u64::try_from(share.downloads).unwrap_or(0),
        saves: u64::try_from(share.saves).unwrap_or(0),
        created_at: share.created_at,
        active,
    }
}

/// A new drive file of `user` named `name` over `source`'s content.
fn drive_file(user: UserId, name: &str, source: FileRecord) -> FileRecord {
    FileRecord {
        id: new_id(),
        owner: user,
        name: name.to_string(),
        purpose: FilePurpose::Drive,
        conv: None,
        seq: None,
        created_at: now_ms(),
        blob: source.blob,
    }
}

fn sort_of(key: DriveSortKey) -> DriveSort {
    match key {
        DriveSortKey::Name => DriveSort::Name,
        DriveSortKey::Size => DriveSort::Size,
        DriveSortKey::Time => DriveSort::Time,
    }
}

fn on_clash(rename: bool) -> OnClash {
    if rename {
        OnClash::Rename
    } else {
        OnClash::Refuse
    }
}

fn random_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// Codes compare case-insensitively and in constant time.
fn codes_match(stored: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let given = given.trim().to_ascii_lowercase();
    stored.as_bytes().ct_eq(given.as_bytes()).into()
}

fn check_name(name: &str) -> FileResult<()> {
    if magpie_proto::valid_entry_name(name) {
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::InvalidName,
            "a name is 1 to 255 characters, not . or .., without / \\ control characters or \
             surrounding spaces",
        ))
    }
}

fn check_id(id: &str) -> FileResult<()> {
    if magpie_proto::is_file_id(id) {
        Ok(())
    } else {
        Err(unknown_entry())
    }
}

fn check_ids(ids: &[String]) -> FileResult<()> {
    if ids.is_empty() || ids.len() > magpie_proto::MAX_ENTRIES_PER_REQUEST {
        return Err(invalid_args(format!(
            "name 1 to {} entries",
            magpie_proto::MAX_ENTRIES_PER_REQUEST
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        check_id(id)?;
        if !seen.insert(id.as_str()) {
            return Err(invalid_args("an entry is named twice"));
        }
    }
    Ok(())
}

pub fn unknown_entry() -> ErrorBody {
    ErrorBody::new(ErrorCode::UnknownEntry, "no such drive entry")
}

pub fn unknown_share() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnknownShare,
        "no such share link, or it no longer works",
    )
}

fn too_many_codes() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::RateLimited,
        "too many wrong codes for this link; try again later",
    )
    .retry_after(Duration::from_millis(
        u64::try_from(CODE_FAILURE_WINDOW_MS).unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_valid_and_unambiguous() {
        for _ in 0..100 {
            let code = random_code();
            assert!(magpie_proto::valid_share_code(&code), "{code}");
            assert!(!code.contains(['0', 'o', '1', 'l', 'i']), "{code}");
        }
    }

    #[test]
    fn codes_compare_ignoring_case_and_padding() {
        assert!(codes_match("ab12", "AB12"));
        assert!(codes_match("ab12", " ab12 "));
        assert!(!codes_match("ab12", "ab13"));
        assert!(!codes_match("ab12", "ab1"));
        assert!(!codes_match("ab12", ""));
    }
}
