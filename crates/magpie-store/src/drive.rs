//! The personal drive: each user's tree of folders and files, its recycle
//! bin, and share links, on top of the content store of [`crate::files`].
//!
//! A drive file is a [`FilePurpose::Drive`] file row owned by the drive's
//! owner, so content is stored once and counted by the blob's `refs` like
//! every other file: saving a shared folder or a chat file into a drive
//! adds references, never bytes, and the last reference gone releases the
//! bytes exactly as [`crate::FileStore::delete_file`] does.
//!
//! The tree is one parent pointer per entry, so every change a user asks
//! for writes a bounded number of rows whatever the size of the folder:
//! - moving a folder changes its own row (after walking up from the
//!   destination to refuse a move under itself, and reading how deep the
//!   folder's sub-folders go, folders only and at most [`MAX_DEPTH`]
//!   levels, so no entry ends up deeper than the walk up can follow);
//! - deleting puts the entry in the bin by detaching it (`parent` NULL,
//!   `home` the folder it was in); what is inside goes with it unchanged;
//! - emptying the bin only marks bin entries for purging; the purge then
//!   releases references in small transactions
//!   ([`DriveStore::drive_purge_step`]), each leaving a consistent tree,
//!   so a crash mid-purge is resumed by the next step.
//!
//! An entry is *in the drive* when following parents from it reaches the
//! top (`parent = ''`); [`DriveStore::drive_ancestry`] is that walk.
//!
//! Every change of one user's tree locks that user's row first, so changes
//! of one drive are serial (no two moves can make a cycle together) and
//! quota checks see the bytes of the changes before them.
//!
//! Every change the owner can see appends to the owner's change stream in
//! the same transaction (`drive_entry` with the entry's new state,
//! `drive_removed` for entries leaving the bin for good), so the owner's
//! other devices converge like they do on contacts; the caller pushes the
//! returned [`Written`]s. What happens inside a folder that is in the bin
//! (the purge's steps) is not seen and appends nothing.

use crate::files::{FileRecord, Unreferenced};
use crate::{Outcome, Result, Written};
use async_trait::async_trait;
use magpie_proto::UserId;

/// Deepest folder nesting accepted when creating or moving into a folder,
/// and the longest walk [`DriveStore::drive_ancestry`] follows.
pub const MAX_DEPTH: usize = 64;

/// Where an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// In the tree (though possibly inside a folder that is in the bin).
    Placed,
    /// Deleted by its owner and in the bin: restorable.
    Binned,
    /// Being purged: its references are being released.
    Purging,
}

impl EntryState {
    pub fn code(self) -> i64 {
        match self {
            EntryState::Placed => 0,
            EntryState::Binned => 1,
            EntryState::Purging => 2,
        }
    }

    pub fn from_code(code: i64) -> EntryState {
        match code {
            1 => EntryState::Binned,
            2 => EntryState::Purging,
            _ => EntryState::Placed,
        }
    }
}

/// A folder or file of a drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    /// 32 lowercase hex digits, like file ids.
    pub id: String,
    pub owner: UserId,
    /// `Some("")` at the top of the drive; `Some(folder)` inside a folder;
    /// `None` when the entry itself is in the bin or being purged.
    pub parent: Option<String>,
    pub name: String,
    /// `None` for a folder; the file (of purpose drive) for a file.
    pub file: Option<FileRecord>,
    /// The file's size; 0 for a folder.
    pub size: i64,
    pub state: EntryState,
    /// For an entry in the bin: the folder it was deleted from (`""` the
    /// top).
    pub home: Option<String>,
    pub trashed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl EntryRecord {
    pub fn is_folder(&self) -> bool {
        self.file.is_none()
    }

    /// The entry as its owner's clients see it; a bin entry's `purge_at`
    /// is `bin_retention_ms` after it was deleted.
    pub fn view(&self, bin_retention_ms: i64) -> magpie_proto::DriveEntry {
        let purge_at = match (self.state, self.trashed_at) {
            (EntryState::Binned, Some(at)) => Some(at.saturating_add(bin_retention_ms)),
            _ => None,
        };
        magpie_proto::DriveEntry {
            id: self.id.clone(),
            kind: if self.is_folder() {
                magpie_proto::EntryKind::Folder
            } else {
                magpie_proto::EntryKind::File
            },
            name: self.name.clone(),
            parent: self.parent.clone().filter(|p| !p.is_empty()),
            size: u64::try_from(self.size).unwrap_or(0),
            file: self.file.as_ref().map(FileRecord::info),
            created_at: self.created_at,
            updated_at: self.updated_at,
            trashed_at: self.trashed_at,
            home: self.home.clone().filter(|h| !h.is_empty()),
            purge_at,
        }
    }
}

/// What to do when a name is already used in the destination folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnClash {
    /// Refuse with [`crate::Refusal::NameTaken`].
    #[default]
    Refuse,
    /// Use the first free name of `name (1).ext`, `name (2).ext`, ...
    Rename,
}

/// How a folder is listed. Folders always come before files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriveSort {
    #[default]
    Name,
    Size,
    /// Last change (`updated_at`).
    Time,
}

/// What a new entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewContent {
    Folder,
    /// The owner's own uploaded file (purpose upload), which becomes the
    /// drive file itself: no new reference, nothing more counted.
    Adopt {
        file_id: String,
    },
    /// A new drive file over the stored blob `file.blob.sha256` (a file
    /// received in a chat, or another drive file): a new reference, counted
    /// against the quota unless the owner already holds that content.
    Reference {
        file: Box<FileRecord>,
    },
}

/// A new entry for [`DriveStore::drive_add`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub id: String,
    pub owner: UserId,
    /// `""` for the top of the drive.
    pub parent: String,
    /// Already validated (see the server's name rules).
    pub name: String,
    pub content: NewContent,
    pub now: i64,
}

/// Bounds every change is checked against, from the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveLimits {
    /// The owner's storage quota in bytes (their override or the default).
    pub quota: i64,
    /// Most entries one drive may hold, bin included.
    pub max_entries: i64,
    /// Most entries one save of a shared folder may copy.
    pub max_copy: u32,
}

/// A share link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// 32 lowercase hex digits: the link's path.
    pub id: String,
    pub owner: UserId,
    pub entry_id: String,
    /// The extraction code, compared in constant time by the server.
    pub code: String,
    pub expires_at: Option<i64>,
    pub max_downloads: Option<i64>,
    pub downloads: i64,
    pub saves: i64,
    pub created_at: i64,
}

/// One step of the purge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PurgeStep {
    /// Bytes no row references any more, for the caller to delete.
    pub released: Vec<Unreferenced>,
    /// Entries removed in this step.
    pub removed: u32,
    /// Changes appended (a bin entry leaving the bin), for the caller to
    /// push.
    pub written: Vec<Written>,
    /// Nothing was left to purge (the caller can stop stepping).
    pub idle: bool,
}

/// The drive, its bin and its share links.
#[async_trait]
pub trait DriveStore: Send + Sync {
    /// Entry `id` of `owner`, in any state; `None` if it is not theirs.
    async fn drive_entry(&self, owner: UserId, id: &str) -> Result<Option<EntryRecord>>;

    /// Entry `id` and its ancestors, the entry first, following parents
    /// for at most [`MAX_DEPTH`] + 1 entries. The entry is in the drive
    /// exactly when the last one has `parent == Some("")`.
    async fn drive_ancestry(&self, id: &str) -> Result<Vec<EntryRecord>>;

    /// The entries directly inside folder `parent` (`""` the top) of
    /// `owner`, folders first, then by `sort` (ties by id), skipping
    /// `offset`, at most `limit`.
    async fn drive_children(
        &self,
        owner: UserId,
        parent: &str,
        sort: DriveSort,
        descending: bool,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<EntryRecord>>;

    /// Add an entry. Refused with `NoSuchEntry` if `parent` is not a folder
    /// of the owner in the drive, `NameTaken` on a clash under
    /// [`OnClash::Refuse`], `LimitReached("drive entries")` past
    /// `limits.max_entries`, `LimitReached("folder depth")` past
    /// [`MAX_DEPTH`], `NoSuchFile` if the content is gone or (for
    /// [`NewContent::Adopt`]) not the owner's upload, `QuotaExceeded` if a
    /// new reference would pass the quota. Returns the entry as stored
    /// (with its final name).
    async fn drive_add(
        &self,
        entry: &NewEntry,
        on_clash: OnClash,
        limits: DriveLimits,
    ) -> Result<Outcome<EntryRecord>>;

    /// Rename `owner`'s entry `id` (which must be in the drive). A drive
    /// file's file row takes the same name (downloads are named by it).
    async fn drive_rename(
        &self,
        owner: UserId,
        id: &str,
        name: &str,
        on_clash: OnClash,
        now: i64,
    ) -> Result<Outcome<EntryRecord>>;

    /// Move `owner`'s entries `ids` (each in the drive) into folder
    /// `parent` (`""` the top), all or none. Refused with `InvalidMove` if
    /// `parent` is one of them or inside one of them, and with
    /// `LimitReached("folder depth")` if a moved folder's sub-folders would
    /// end up deeper than [`MAX_DEPTH`].
    async fn drive_move(
        &self,
        owner: UserId,
        ids: &[String],
        parent: &str,
        on_clash: OnClash,
        now: i64,
    ) -> Result<Outcome<Vec<EntryRecord>>>;

    /// Put `owner`'s entries `ids` (each in the drive) in the bin, all or
    /// none. Shares of them stop working until they are restored. The
    /// changes carry `purge_at`, `bin_retention_ms` after `now`.
    async fn drive_trash(
        &self,
        owner: UserId,
        ids: &[String],
        now: i64,
        bin_retention_ms: i64,
    ) -> Result<Outcome<()>>;

    /// `owner`'s bin, most recently deleted first.
    async fn drive_bin(&self, owner: UserId, offset: u32, limit: u32) -> Result<Vec<EntryRecord>>;

    /// Restore `owner`'s bin entries `ids` to the folder they were deleted
    /// from, or the top if that folder is no longer in the drive; a name
    /// clash there always renames ("name (1)").
    async fn drive_restore(
        &self,
        owner: UserId,
        ids: &[String],
        now: i64,
    ) -> Result<Outcome<Vec<EntryRecord>>>;

    /// Mark `owner`'s bin entries `ids` (all of the bin if `None`) for
    /// purging; returns how many were marked. The purge itself is
    /// [`DriveStore::drive_purge_step`].
    async fn drive_purge_mark(
        &self,
        owner: UserId,
        ids: Option<&[String]>,
        now: i64,
    ) -> Result<Outcome<u64>>;

    /// One bounded step of the purge, in one transaction: removes at most
    /// `limit` entries of one bin root that is marked for purging, or in
    /// the bin since before `binned_before` (of `owner` only, when given).
    /// A folder's sub-folders become purge roots of their own, so no step
    /// walks a tree. Share links of removed entries go with them.
    async fn drive_purge_step(
        &self,
        owner: Option<UserId>,
        binned_before: i64,
        limit: u32,
        now: i64,
    ) -> Result<PurgeStep>;

    /// `owner`'s entries in the drive whose lower-cased name contains
    /// `needle` (already lower-cased), newest change first.
    async fn drive_search(
        &self,
        owner: UserId,
        needle: &str,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<EntryRecord>>;

    /// `owner`'s files in the drive, most recently added first.
    async fn drive_recent(&self, owner: UserId, limit: u32) -> Result<Vec<EntryRecord>>;

    /// Copy the subtrees at `sources` (entries of another drive, already
    /// checked to be shared) into `owner`'s folder `parent` as new entries
    /// over the same blobs: no bytes move. Refused with `QuotaExceeded` if
    /// content the owner does not hold yet would pass `limits.quota`, and
    /// `LimitReached("entries to save")` past `limits.max_copy` entries.
    /// Top-level name clashes always rename.
    async fn drive_copy(
        &self,
        owner: UserId,
        sources: &[String],
        parent: &str,
        limits: DriveLimits,
        now: i64,
    ) -> Result<Outcome<Vec<EntryRecord>>>;

    /// The quota set for `user` by an administrator, if any.
    async fn user_quota(&self, user: UserId) -> Result<Option<i64>>;

    /// Set or clear (`None`) `user`'s quota override.
    async fn set_user_quota(&self, user: UserId, quota: Option<i64>) -> Result<()>;

    /// Record a new share link over `share.entry_id`, which must be
    /// `share.owner`'s entry in the drive (`NoSuchEntry` otherwise).
    async fn share_create(&self, share: &ShareRecord) -> Result<()>;

    /// Share `id`, whatever its state.
    async fn share(&self, id: &str) -> Result<Option<ShareRecord>>;

    /// `owner`'s shares, newest first.
    async fn shares_of(&self, owner: UserId, offset: u32, limit: u32) -> Result<Vec<ShareRecord>>;

    /// Delete `owner`'s share `id`; `false` if there was none.
    async fn share_delete(&self, owner: UserId, id: &str) -> Result<bool>;

    /// Count one download of share `id` if it has downloads left and is
    /// not expired at `now`; `false` otherwise. One conditional update, so
    /// concurrent downloads cannot pass the limit together.
    async fn share_count_download(&self, id: &str, now: i64) -> Result<bool>;

    /// Count one save into a drive from share `id`.
    async fn share_count_save(&self, id: &str) -> Result<()>;

    /// Record a wrong code for share `id` at `now`, in windows of
    /// `window_ms`; returns the wrong codes in the current window,
    /// this one included.
    async fn share_fail(&self, id: &str, now: i64, window_ms: i64) -> Result<i64>;

    /// Wrong codes for share `id` in the window that contains `now`.
    async fn share_failures(&self, id: &str, now: i64, window_ms: i64) -> Result<i64>;
}
