//! [`DriveStore`] on SQL: the `drive_entries` and `drive_shares` tables,
//! over the files and blobs of [`super::files`].
//!
//! A drive file is a `files` row of purpose drive, so every reference this
//! module adds or drops goes through the same helpers as the file area
//! (`insert_file_in` + `add_ref_in`, `delete_file_tx`), in the same
//! transaction as the entry that holds it: a blob's `refs` stays exact
//! whatever the drive does.
//!
//! Lock order, so that concurrent changes cannot deadlock each other: the
//! user row of the drive changed first (`lock_owner`), then blob rows in
//! hash order (a copy locks every blob it references before writing; a
//! purge step releases its files in hash order). Reads of another drive
//! (the sources of a copy) take no locks.

use super::files::{BLOB_SELECT, blob_at};
use super::{SqlStore, Tx, graph, opt_text_column, text_column};
use crate::drive::*;
use crate::files::{BlobRecord, FilePurpose, FileRecord};
use crate::{Outcome, Refusal, Result, StoreError, Written};
use async_trait::async_trait;
use magpie_proto::{ChangeEvent, DriveRemoved, UserId};
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Row};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The columns of an entry with its file and blob, in [`entry_from_row`]
/// order; the file columns are NULL for a folder.
macro_rules! entry_columns {
    () => {
        "e.id, e.owner, e.parent, e.name, e.size, e.state, e.home, e.trashed_at, \
         e.created_at, e.updated_at, \
         f.id, f.owner, f.name, f.purpose, f.conv_id, f.seq, f.created_at, \
         b.sha256, b.storage_key, b.size, b.mime, b.media, b.thumb_key"
    };
}

/// Joins of an entry (`e`) to its file and blob.
macro_rules! file_joins {
    () => {
        " LEFT JOIN files f ON f.id = e.file_id LEFT JOIN blobs b ON b.sha256 = f.sha256"
    };
}

const ENTRY_SELECT: &str = concat!(
    "SELECT ",
    entry_columns!(),
    " FROM drive_entries e",
    file_joins!()
);

/// An entry and its ancestors, nearest first, at most `?` steps up. The
/// depth column is cast to the 64-bit integer because a recursive CTE's
/// column types come from its first part (MySQL would otherwise type it
/// by the literal).
const ANCESTRY: &str = concat!(
    "WITH RECURSIVE chain (id, parent, depth) AS (",
    "SELECT id, parent, CAST(0 AS {int}) FROM drive_entries WHERE id = ? ",
    "UNION ALL ",
    "SELECT p.id, p.parent, c.depth + 1 FROM chain c JOIN drive_entries p ON p.id = c.parent ",
    "WHERE c.depth < ?) ",
    "SELECT ",
    entry_columns!(),
    " FROM chain ch JOIN drive_entries e ON e.id = ch.id",
    file_joins!(),
    " ORDER BY ch.depth"
);

/// How many levels the subtree of a folder spans (1 for the folder alone,
/// 2 if it holds anything...), walking folders only and at most `?` levels
/// down: files are leaves, so a level of files below the deepest folders is
/// found by looking for one file child, not by visiting them all.
///
/// `CROSS JOIN` fixes the join order on SQLite (the others treat it as an
/// inner join): each folder found looks up its sub-folders through
/// `drive_subfolders`. Left to itself, SQLite's planner drove the step from
/// `drive_file` (every folder of every drive: `file_id IS NULL`) and
/// scanned the working set for each, so the cost followed the number of
/// folders on the server (docs/BENCHMARKS.md, "Drive").
const SUBTREE_HEIGHT: &str = "WITH RECURSIVE sub (id, depth) AS (\
     SELECT id, CAST(1 AS {int}) FROM drive_entries WHERE id = ? \
     UNION ALL \
     SELECT d.id, s.depth + 1 FROM sub s CROSS JOIN drive_entries d \
     WHERE d.parent = s.id AND d.file_id IS NULL AND s.depth < ?) \
     SELECT CAST(COALESCE(MAX(s.depth + CASE WHEN EXISTS (\
         SELECT 1 FROM drive_entries x WHERE x.parent = s.id AND x.file_id IS NOT NULL) \
         THEN 1 ELSE 0 END), 1) AS {int}) FROM sub s";

const INSERT_ENTRY: &str = "INSERT INTO drive_entries \
     (id, owner, parent, name, name_key, file_id, size, state, home, trashed_at, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL, ?, ?)";

const SHARE_SELECT: &str = "SELECT id, owner, entry_id, code, expires_at, max_downloads, downloads, saves, \
     created_at FROM drive_shares";

/// Rows a search or the recent list reads per query while looking for
/// entries in the drive, and how many such reads one call may make: a page
/// deep in a drive whose matches are mostly in the bin comes back short
/// rather than scanning without end.
const SCAN_BATCH: u32 = 200;
const SCAN_BATCHES: u32 = 25;

/// Most ids one `drive_removed` change names (a change must fit a frame).
const REMOVED_PER_CHANGE: usize = 500;

/// Names tried for a clash under [`OnClash::Rename`] before giving up.
const RENAME_TRIES: u32 = 1000;

fn entry_from_row(row: &AnyRow) -> sqlx::Result<EntryRecord> {
    let file = match opt_text_column(row, 10)? {
        None => None,
        Some(id) => Some(FileRecord {
            id,
            owner: row.try_get(11)?,
            name: text_column(row, 12)?,
            purpose: FilePurpose::from_code(row.try_get::<i64, _>(13)?),
            conv: row.try_get(14)?,
            seq: row.try_get(15)?,
            created_at: row.try_get(16)?,
            blob: blob_at(row, 17)?,
        }),
    };
    Ok(EntryRecord {
        id: text_column(row, 0)?,
        owner: row.try_get(1)?,
        parent: opt_text_column(row, 2)?,
        name: text_column(row, 3)?,
        file,
        size: row.try_get(4)?,
        state: EntryState::from_code(row.try_get::<i64, _>(5)?),
        home: opt_text_column(row, 6)?,
        trashed_at: row.try_get(7)?,
        created_at: row.try_get(8)?,
        updated_at: row.try_get(9)?,
    })
}

fn entries_from(rows: &[AnyRow]) -> sqlx::Result<Vec<EntryRecord>> {
    rows.iter().map(entry_from_row).collect()
}

fn share_from_row(row: &AnyRow) -> sqlx::Result<ShareRecord> {
    Ok(ShareRecord {
        id: text_column(row, 0)?,
        owner: row.try_get(1)?,
        entry_id: text_column(row, 2)?,
        code: text_column(row, 3)?,
        expires_at: row.try_get(4)?,
        max_downloads: row.try_get(5)?,
        downloads: row.try_get(6)?,
        saves: row.try_get(7)?,
        created_at: row.try_get(8)?,
    })
}

/// Whether an ancestry (entry first) reaches the top of the drive.
fn reaches_top(chain: &[EntryRecord]) -> bool {
    chain
        .last()
        .is_some_and(|e| e.parent.as_deref() == Some(""))
        && chain.iter().all(|e| e.state == EntryState::Placed)
}

/// The `n`th alternative of `name`: `stem (n).ext` for a file whose name
/// has an extension (a dot that is not the first character), `name (n)`
/// otherwise.
fn numbered(name: &str, is_folder: bool, n: u32) -> String {
    let suffix = format!(" ({n})");
    let max = magpie_proto::MAX_ENTRY_NAME_CHARS;
    // Keep the result within the longest name: shorten the stem, not the
    // extension (it says what the file is) unless it leaves no stem.
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 && !is_folder => name.split_at(dot),
        _ => (name, ""),
    };
    let (stem, ext) = if ext.chars().count() + suffix.len() >= max {
        (name, "")
    } else {
        (stem, ext)
    };
    let room = max - suffix.len() - ext.chars().count();
    let stem: String = stem.chars().take(room).collect();
    let stem = stem.trim_end();
    format!("{stem}{suffix}{ext}")
}

/// `needle` as a LIKE pattern matching it anywhere, with `!` as the
/// escape character (a backslash would need escaping differently in
/// MySQL's string literals).
fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// A fresh entry or file id: 128 random bits in lowercase hex, like the
/// server's ids.
fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One entry a copy will make, in breadth-first order: `parent` indexes the
/// item it goes into (`None` at the top of the copy).
struct CopyItem {
    source: EntryRecord,
    parent: Option<usize>,
}

/// What a purge step found under its root.
struct PurgeChild {
    id: String,
    file_id: Option<String>,
    sha256: Option<Vec<u8>>,
}

impl SqlStore {
    async fn read_conn(&self) -> Result<PoolConnection<Any>> {
        self.readers
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Entry `id`, whoever's it is.
    async fn entry_in(&self, c: &mut AnyConnection, id: &str) -> sqlx::Result<Option<EntryRecord>> {
        let row = sqlx::query(self.query(&format!("{ENTRY_SELECT} WHERE e.id = ?")))
            .bind(id)
            .fetch_optional(&mut *c)
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// Entry `id` as just written (it must exist).
    async fn written_in(&self, c: &mut AnyConnection, id: &str) -> Tx<EntryRecord> {
        Ok(self
            .entry_in(c, id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?)
    }

    async fn ancestry_in(&self, c: &mut AnyConnection, id: &str) -> sqlx::Result<Vec<EntryRecord>> {
        let rows = sqlx::query(self.query(ANCESTRY))
            .bind(id)
            .bind(MAX_DEPTH as i64)
            .fetch_all(&mut *c)
            .await?;
        entries_from(&rows)
    }

    /// `owner`'s entry `id` in the drive, with its depth (1 at the top).
    async fn placed_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        id: &str,
    ) -> Tx<(EntryRecord, usize)> {
        let mut chain = self.ancestry_in(c, id).await?;
        let ours = chain
            .first()
            .is_some_and(|e| e.id == id && e.owner == owner);
        if !ours || !reaches_top(&chain) {
            return Err(Refusal::NoSuchEntry.into());
        }
        let depth = chain.len();
        chain.truncate(1);
        let entry = chain.pop().ok_or(Refusal::NoSuchEntry)?;
        Ok((entry, depth))
    }

    /// The depth of destination folder `parent` (`""` the top, depth 0) and
    /// its ancestry; refused unless it is `owner`'s folder in the drive.
    async fn folder_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        parent: &str,
    ) -> Tx<Vec<EntryRecord>> {
        if parent.is_empty() {
            return Ok(Vec::new());
        }
        let chain = self.ancestry_in(c, parent).await?;
        let ours = chain
            .first()
            .is_some_and(|e| e.id == parent && e.owner == owner && e.is_folder());
        if !ours || !reaches_top(&chain) {
            return Err(Refusal::NoSuchEntry.into());
        }
        Ok(chain)
    }

    /// Levels `entry` spans with what is inside it.
    async fn height_in(&self, c: &mut AnyConnection, entry: &EntryRecord) -> sqlx::Result<usize> {
        if !entry.is_folder() {
            return Ok(1);
        }
        let height: i64 = sqlx::query(self.query(SUBTREE_HEIGHT))
            .bind(entry.id.as_str())
            .bind(MAX_DEPTH as i64 + 1)
            .fetch_one(&mut *c)
            .await?
            .try_get(0)?;
        Ok(usize::try_from(height).unwrap_or(usize::MAX))
    }

    /// Refuse a change that would put `height` levels under a folder at
    /// `depth`, deeper than [`MAX_DEPTH`].
    fn check_depth(depth: usize, height: usize) -> Tx<()> {
        if depth.saturating_add(height) > MAX_DEPTH {
            return Err(Refusal::LimitReached("folder depth").into());
        }
        Ok(())
    }

    /// Refuse adding `more` entries to `owner`'s drive past `max_entries`.
    async fn check_room_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        more: usize,
        max_entries: i64,
    ) -> Tx<()> {
        let count: i64 =
            sqlx::query(self.query("SELECT COUNT(*) FROM drive_entries WHERE owner = ?"))
                .bind(owner)
                .fetch_one(&mut *c)
                .await?
                .try_get(0)?;
        if count.saturating_add(i64::try_from(more).unwrap_or(i64::MAX)) > max_entries {
            return Err(Refusal::LimitReached("drive entries").into());
        }
        Ok(())
    }

    /// The name `name` takes in `owner`'s folder `parent` (`except` being
    /// the entry itself when it is already there): itself if free, else
    /// refused or numbered as `on_clash` says.
    #[allow(clippy::too_many_arguments)]
    async fn free_name_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        parent: &str,
        name: &str,
        is_folder: bool,
        on_clash: OnClash,
        except: Option<&str>,
    ) -> Tx<String> {
        if self.name_free_in(c, owner, parent, name, except).await? {
            return Ok(name.to_string());
        }
        if on_clash == OnClash::Refuse {
            return Err(Refusal::NameTaken.into());
        }
        for n in 1..=RENAME_TRIES {
            let candidate = numbered(name, is_folder, n);
            if self
                .name_free_in(c, owner, parent, &candidate, except)
                .await?
            {
                return Ok(candidate);
            }
        }
        Err(Refusal::NameTaken.into())
    }

    async fn name_free_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        parent: &str,
        name: &str,
        except: Option<&str>,
    ) -> sqlx::Result<bool> {
        let row = sqlx::query(
            self.query("SELECT id FROM drive_entries WHERE owner = ? AND parent = ? AND name = ?"),
        )
        .bind(owner)
        .bind(parent)
        .bind(name)
        .fetch_optional(&mut *c)
        .await?;
        Ok(match row {
            None => true,
            Some(row) => {
                except.is_some_and(|id| text_column(&row, 0).is_ok_and(|found| found == id))
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_entry_in(
        &self,
        c: &mut AnyConnection,
        id: &str,
        owner: UserId,
        parent: &str,
        name: &str,
        file_id: Option<&str>,
        size: i64,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(self.query(INSERT_ENTRY))
            .bind(id)
            .bind(owner)
            .bind(parent)
            .bind(name)
            .bind(name.to_lowercase())
            .bind(file_id)
            .bind(size)
            .bind(now)
            .bind(now)
            .execute(&mut *c)
            .await?;
        Ok(())
    }

    /// Give entry `entry` a new place and name; a file's row takes the
    /// name too.
    async fn place_in(
        &self,
        c: &mut AnyConnection,
        entry: &EntryRecord,
        parent: &str,
        name: &str,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(self.query(
            "UPDATE drive_entries SET parent = ?, name = ?, name_key = ?, state = 0, \
             home = NULL, trashed_at = NULL, updated_at = ? WHERE id = ?",
        ))
        .bind(parent)
        .bind(name)
        .bind(name.to_lowercase())
        .bind(now)
        .bind(entry.id.as_str())
        .execute(&mut *c)
        .await?;
        if let Some(file) = &entry.file
            && file.name != name
        {
            sqlx::query(self.query("UPDATE files SET name = ? WHERE id = ?"))
                .bind(name)
                .bind(file.id.as_str())
                .execute(&mut *c)
                .await?;
        }
        Ok(())
    }

    /// Stored blob `sha256`, locked until the transaction ends.
    async fn lock_blob_in(
        &self,
        c: &mut AnyConnection,
        sha256: &[u8],
    ) -> sqlx::Result<Option<BlobRecord>> {
        sqlx::query(self.query(&format!("{BLOB_SELECT}{{for_update}}")))
            .bind(sha256.to_vec())
            .fetch_optional(&mut *c)
            .await?
            .map(|row| blob_at(&row, 0))
            .transpose()
    }

    /// Whether `owner` already holds a file over `sha256` (then more of it
    /// costs no quota).
    async fn holds_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        sha256: &[u8],
    ) -> sqlx::Result<bool> {
        Ok(
            sqlx::query(self.query("SELECT 1 FROM files WHERE owner = ? AND sha256 = ? LIMIT 1"))
                .bind(owner)
                .bind(sha256.to_vec())
                .fetch_optional(&mut *c)
                .await?
                .is_some(),
        )
    }

    /// Refuse `more` new bytes for `owner` past `quota`.
    async fn check_quota_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        more: i64,
        quota: i64,
    ) -> Tx<()> {
        if more == 0 {
            return Ok(());
        }
        let used = self.quota_use_in(c, owner).await?;
        if used
            .stored
            .saturating_add(used.reserved)
            .saturating_add(more)
            > quota
        {
            return Err(Refusal::QuotaExceeded.into());
        }
        Ok(())
    }

    /// Make `file` (a new drive file of `owner` named `name`) over its
    /// stored blob, counting the reference and the quota as
    /// `reference_blob` does.
    async fn reference_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        file: &FileRecord,
        name: &str,
        quota: i64,
    ) -> Tx<FileRecord> {
        let Some(blob) = self.lock_blob_in(c, &file.blob.sha256).await? else {
            return Err(Refusal::NoSuchFile.into());
        };
        if !self.holds_in(c, owner, &blob.sha256).await? {
            self.check_quota_in(c, owner, blob.size, quota).await?;
        }
        let file = FileRecord {
            id: file.id.clone(),
            owner,
            name: name.to_string(),
            purpose: FilePurpose::Drive,
            conv: None,
            seq: None,
            created_at: file.created_at,
            blob,
        };
        self.add_ref_in(c, &file.blob.sha256).await?;
        self.insert_file_in(c, &file).await?;
        Ok(file)
    }

    /// Turn `owner`'s upload `file_id` into a drive file named `name`.
    async fn adopt_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        file_id: &str,
        name: &str,
    ) -> Tx<FileRecord> {
        let file = self.file_in(c, file_id).await?;
        let Some(file) = file.filter(|f| f.owner == owner && f.purpose == FilePurpose::Upload)
        else {
            return Err(Refusal::NoSuchFile.into());
        };
        let done = sqlx::query(self.query(
            "UPDATE files SET purpose = ?, name = ? WHERE id = ? AND owner = ? AND purpose = ?",
        ))
        .bind(FilePurpose::Drive.code())
        .bind(name)
        .bind(file_id)
        .bind(owner)
        .bind(FilePurpose::Upload.code())
        .execute(&mut *c)
        .await?;
        if done.rows_affected() != 1 {
            return Err(Refusal::NoSuchFile.into());
        }
        Ok(file)
    }

    /// Append a `drive_entry` change with each entry's new state to its
    /// owner's stream.
    async fn entries_changed(
        &self,
        c: &mut AnyConnection,
        now: i64,
        entries: &[EntryRecord],
        bin_retention_ms: i64,
    ) -> sqlx::Result<Vec<Written>> {
        let items = entries
            .iter()
            .map(|e| {
                (
                    e.owner,
                    ChangeEvent::DriveEntry(Box::new(e.view(bin_retention_ms))),
                )
            })
            .collect();
        self.append_changes(c, now, items).await
    }

    /// Append `drive_removed` changes naming `ids` to `owner`'s stream.
    async fn entries_removed(
        &self,
        c: &mut AnyConnection,
        now: i64,
        owner: UserId,
        ids: &[String],
    ) -> sqlx::Result<Vec<Written>> {
        let items = ids
            .chunks(REMOVED_PER_CHANGE)
            .map(|chunk| {
                let removed = DriveRemoved {
                    entries: chunk.to_vec(),
                };
                (owner, ChangeEvent::DriveRemoved(removed))
            })
            .collect();
        self.append_changes(c, now, items).await
    }

    /// `value` with the `drive_entry` changes of `entries`.
    async fn with_changes<T>(
        &self,
        c: &mut AnyConnection,
        now: i64,
        entries: &[EntryRecord],
        value: T,
    ) -> Tx<Outcome<T>> {
        let written = self.entries_changed(c, now, entries, 0).await?;
        Ok(Outcome { value, written })
    }

    async fn drive_add_tx(
        &self,
        c: &mut AnyConnection,
        entry: &NewEntry,
        on_clash: OnClash,
        limits: DriveLimits,
    ) -> Tx<Outcome<EntryRecord>> {
        let owner = entry.owner;
        self.lock_owner(c, owner).await?;
        let chain = self.folder_in(c, owner, &entry.parent).await?;
        Self::check_depth(chain.len(), 1)?;
        self.check_room_in(c, owner, 1, limits.max_entries).await?;
        let is_folder = entry.content == NewContent::Folder;
        let name = self
            .free_name_in(
                c,
                owner,
                &entry.parent,
                &entry.name,
                is_folder,
                on_clash,
                None,
            )
            .await?;
        let (file_id, size) = match &entry.content {
            NewContent::Folder => (None, 0),
            NewContent::Adopt { file_id } => {
                let file = self.adopt_in(c, owner, file_id, &name).await?;
                (Some(file.id), file.blob.size)
            }
            NewContent::Reference { file } => {
                let file = self
                    .reference_in(c, owner, file, &name, limits.quota)
                    .await?;
                (Some(file.id), file.blob.size)
            }
        };
        self.insert_entry_in(
            c,
            &entry.id,
            owner,
            &entry.parent,
            &name,
            file_id.as_deref(),
            size,
            entry.now,
        )
        .await?;
        let made = self.written_in(c, &entry.id).await?;
        self.with_changes(c, entry.now, std::slice::from_ref(&made), made.clone())
            .await
    }

    async fn drive_rename_tx(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        id: &str,
        name: &str,
        on_clash: OnClash,
        now: i64,
    ) -> Tx<Outcome<EntryRecord>> {
        self.lock_owner(c, owner).await?;
        let (entry, _) = self.placed_in(c, owner, id).await?;
        if entry.name == name {
            return Ok(Outcome {
                value: entry,
                written: Vec::new(),
            });
        }
        let parent = entry.parent.clone().unwrap_or_default();
        let name = self
            .free_name_in(
                c,
                owner,
                &parent,
                name,
                entry.is_folder(),
                on_clash,
                Some(id),
            )
            .await?;
        self.place_in(c, &entry, &parent, &name, now).await?;
        let renamed = self.written_in(c, id).await?;
        self.with_changes(c, now, std::slice::from_ref(&renamed), renamed.clone())
            .await
    }

    async fn drive_move_tx(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        ids: &[String],
        parent: &str,
        on_clash: OnClash,
        now: i64,
    ) -> Tx<Outcome<Vec<EntryRecord>>> {
        self.lock_owner(c, owner).await?;
        let destination = self.folder_in(c, owner, parent).await?;
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let (entry, _) = self.placed_in(c, owner, id).await?;
            if destination.iter().any(|a| a.id == *id) {
                return Err(Refusal::InvalidMove.into());
            }
            let height = self.height_in(c, &entry).await?;
            Self::check_depth(destination.len(), height)?;
            entries.push(entry);
        }
        let mut moved = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.parent.as_deref() != Some(parent) {
                let name = self
                    .free_name_in(
                        c,
                        owner,
                        parent,
                        &entry.name,
                        entry.is_folder(),
                        on_clash,
                        Some(&entry.id),
                    )
                    .await?;
                self.place_in(c, &entry, parent, &name, now).await?;
            }
            moved.push(self.written_in(c, &entry.id).await?);
        }
        self.with_changes(c, now, &moved, moved.clone()).await
    }

    async fn drive_trash_tx(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        ids: &[String],
        now: i64,
        bin_retention_ms: i64,
    ) -> Tx<Outcome<()>> {
        self.lock_owner(c, owner).await?;
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if seen.insert(id.as_str()) {
                entries.push(self.placed_in(c, owner, id).await?.0);
            }
        }
        // Checked all first: trashing a folder takes what is inside out of
        // the drive, and a selected entry inside it is still trashed as a
        // bin entry of its own.
        let mut binned = Vec::with_capacity(entries.len());
        for entry in entries {
            sqlx::query(self.query(
                "UPDATE drive_entries SET state = 1, home = parent, parent = NULL, trashed_at = ? \
                 WHERE id = ?",
            ))
            .bind(now)
            .bind(entry.id.as_str())
            .execute(&mut *c)
            .await?;
            binned.push(self.written_in(c, &entry.id).await?);
        }
        let written = self
            .entries_changed(c, now, &binned, bin_retention_ms)
            .await?;
        Ok(Outcome { value: (), written })
    }

    async fn drive_restore_tx(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        ids: &[String],
        now: i64,
    ) -> Tx<Outcome<Vec<EntryRecord>>> {
        self.lock_owner(c, owner).await?;
        let mut restored = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let entry = self.entry_in(c, id).await?;
            let Some(entry) = entry.filter(|e| e.owner == owner && e.state == EntryState::Binned)
            else {
                return Err(Refusal::NoSuchEntry.into());
            };
            let parent = self.restore_place_in(c, owner, &entry).await?;
            let name = self
                .free_name_in(
                    c,
                    owner,
                    &parent,
                    &entry.name,
                    entry.is_folder(),
                    OnClash::Rename,
                    None,
                )
                .await?;
            self.place_in(c, &entry, &parent, &name, now).await?;
            restored.push(self.written_in(c, id).await?);
        }
        self.with_changes(c, now, &restored, restored.clone()).await
    }

    /// Where bin entry `entry` goes back to: its home folder if that is
    /// still in the drive and deep enough room is left there, else the
    /// top.
    async fn restore_place_in(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        entry: &EntryRecord,
    ) -> Tx<String> {
        let home = entry.home.clone().unwrap_or_default();
        if home.is_empty() {
            return Ok(home);
        }
        let chain = match self.folder_in(c, owner, &home).await {
            Ok(chain) => chain,
            Err(super::TxError::Refused(_)) => return Ok(String::new()),
            Err(e) => return Err(e),
        };
        let height = self.height_in(c, entry).await?;
        Ok(if Self::check_depth(chain.len(), height).is_ok() {
            home
        } else {
            String::new()
        })
    }

    async fn drive_purge_mark_tx(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        ids: Option<&[String]>,
        now: i64,
    ) -> Tx<Outcome<u64>> {
        self.lock_owner(c, owner).await?;
        let candidates: Vec<String> = match ids {
            Some(ids) => {
                let mut seen = HashSet::new();
                ids.iter()
                    .filter(|id| seen.insert(id.as_str()))
                    .cloned()
                    .collect()
            }
            None => {
                let rows = sqlx::query(
                    self.query("SELECT id FROM drive_entries WHERE owner = ? AND state = 1"),
                )
                .bind(owner)
                .fetch_all(&mut *c)
                .await?;
                rows.iter()
                    .map(|row| text_column(row, 0))
                    .collect::<sqlx::Result<_>>()?
            }
        };
        let mut marked = Vec::new();
        for id in candidates {
            let done = sqlx::query(self.query(
                "UPDATE drive_entries SET state = 2 WHERE id = ? AND owner = ? AND state = 1",
            ))
            .bind(id.as_str())
            .bind(owner)
            .execute(&mut *c)
            .await?;
            if done.rows_affected() == 1 {
                marked.push(id);
            }
        }
        let written = self.entries_removed(c, now, owner, &marked).await?;
        Ok(Outcome {
            value: marked.len() as u64,
            written,
        })
    }

    /// A bin root due for purging: marked, or binned before
    /// `binned_before`; with its owner.
    async fn purge_candidate_in(
        &self,
        c: &mut AnyConnection,
        owner: Option<UserId>,
        binned_before: i64,
    ) -> sqlx::Result<Option<(String, UserId)>> {
        let marked = match owner {
            Some(_) => {
                "SELECT id, owner FROM drive_entries WHERE state = 2 AND parent IS NULL \
                 AND owner = ? ORDER BY id LIMIT 1"
            }
            None => {
                "SELECT id, owner FROM drive_entries WHERE state = 2 AND parent IS NULL \
                 ORDER BY id LIMIT 1"
            }
        };
        let mut q = sqlx::query(self.query(marked));
        if let Some(owner) = owner {
            q = q.bind(owner);
        }
        let mut row = q.fetch_optional(&mut *c).await?;
        if row.is_none() {
            let expired = match owner {
                Some(_) => {
                    "SELECT id, owner FROM drive_entries WHERE state = 1 AND trashed_at < ? \
                     AND owner = ? ORDER BY trashed_at, id LIMIT 1"
                }
                None => {
                    "SELECT id, owner FROM drive_entries WHERE state = 1 AND trashed_at < ? \
                     ORDER BY trashed_at, id LIMIT 1"
                }
            };
            let mut q = sqlx::query(self.query(expired)).bind(binned_before);
            if let Some(owner) = owner {
                q = q.bind(owner);
            }
            row = q.fetch_optional(&mut *c).await?;
        }
        row.map(|row| Ok((text_column(&row, 0)?, row.try_get(1)?)))
            .transpose()
    }

    async fn drive_purge_step_tx(
        &self,
        c: &mut AnyConnection,
        owner: Option<UserId>,
        binned_before: i64,
        limit: u32,
        now: i64,
    ) -> Tx<PurgeStep> {
        let Some((root_id, root_owner)) = self.purge_candidate_in(c, owner, binned_before).await?
        else {
            return Ok(PurgeStep {
                idle: true,
                ..PurgeStep::default()
            });
        };
        self.lock_owner(c, root_owner).await?;
        // Seen again under the owner's lock: a restore may have come first.
        let root = self.entry_in(c, &root_id).await?;
        let Some(root) = root.filter(|r| {
            r.parent.is_none()
                && (r.state == EntryState::Purging
                    || (r.state == EntryState::Binned
                        && r.trashed_at.is_some_and(|t| t < binned_before)))
        }) else {
            return Ok(PurgeStep::default());
        };
        let mut step = PurgeStep::default();
        if root.state == EntryState::Binned {
            // Expired: it leaves the owner's bin now, as if purged by hand.
            sqlx::query(self.query("UPDATE drive_entries SET state = 2 WHERE id = ?"))
                .bind(root_id.as_str())
                .execute(&mut *c)
                .await?;
            step.written = self
                .entries_removed(c, now, root_owner, std::slice::from_ref(&root_id))
                .await?;
        }
        let limit = limit.max(1);
        let children = self.purge_children_in(c, &root_id, limit).await?;
        let all_taken = children.len() < limit as usize;
        let (mut files, folders): (Vec<_>, Vec<_>) = children
            .into_iter()
            .partition(|child| child.file_id.is_some());
        for folder in folders {
            sqlx::query(self.query(
                "UPDATE drive_entries SET parent = NULL, state = 2, home = NULL, trashed_at = ? \
                 WHERE id = ?",
            ))
            .bind(root.trashed_at)
            .bind(folder.id.as_str())
            .execute(&mut *c)
            .await?;
        }
        // Blob rows are locked in hash order (see the module docs).
        files.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        for file in files {
            self.remove_entry_in(c, &file.id, file.file_id.as_deref(), &mut step)
                .await?;
        }
        if all_taken {
            let file_id = root.file.as_ref().map(|f| f.id.as_str());
            self.remove_entry_in(c, &root.id, file_id, &mut step)
                .await?;
        }
        Ok(step)
    }

    /// Up to `limit` entries directly inside purge root `root`.
    async fn purge_children_in(
        &self,
        c: &mut AnyConnection,
        root: &str,
        limit: u32,
    ) -> sqlx::Result<Vec<PurgeChild>> {
        let rows = sqlx::query(self.query(
            "SELECT e.id, e.file_id, f.sha256 FROM drive_entries e \
             LEFT JOIN files f ON f.id = e.file_id WHERE e.parent = ? ORDER BY e.id LIMIT ?",
        ))
        .bind(root)
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PurgeChild {
                    id: text_column(row, 0)?,
                    file_id: opt_text_column(row, 1)?,
                    sha256: row.try_get(2)?,
                })
            })
            .collect()
    }

    /// Delete entry `id`, its share links and its file (`file_id`),
    /// adding what that releases to `step`.
    async fn remove_entry_in(
        &self,
        c: &mut AnyConnection,
        id: &str,
        file_id: Option<&str>,
        step: &mut PurgeStep,
    ) -> Tx<()> {
        sqlx::query(self.query("DELETE FROM drive_shares WHERE entry_id = ?"))
            .bind(id)
            .execute(&mut *c)
            .await?;
        sqlx::query(self.query("DELETE FROM drive_entries WHERE id = ?"))
            .bind(id)
            .execute(&mut *c)
            .await?;
        step.removed += 1;
        if let Some(file_id) = file_id
            && let Some(bytes) = self.delete_file_tx(c, file_id).await?
        {
            step.released.push(bytes);
        }
        Ok(())
    }

    /// Of the entries `template` lists for `owner` (bound as its first
    /// parameter, `pattern` as the second if given, then a limit and an
    /// offset), the ones in the drive, skipping `offset`, at most `limit`.
    /// Reads in batches of [`SCAN_BATCH`] rows, at most [`SCAN_BATCHES`].
    async fn scan_placed(
        &self,
        template: &str,
        owner: UserId,
        pattern: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<EntryRecord>> {
        let mut c = self.read_conn().await?;
        let mut found = Vec::new();
        let mut skipped = 0;
        // Folder id → whether it is in the drive, so that one walk up
        // serves every match under the same folders.
        let mut placed: HashMap<String, bool> = HashMap::new();
        for batch in 0..SCAN_BATCHES {
            if found.len() >= limit as usize {
                break;
            }
            let mut q = sqlx::query(self.query(template)).bind(owner);
            if let Some(pattern) = pattern {
                q = q.bind(pattern);
            }
            let rows = q
                .bind(i64::from(SCAN_BATCH))
                .bind(i64::from(batch * SCAN_BATCH))
                .fetch_all(&mut *c)
                .await
                .map_err(self.err())?;
            let entries = entries_from(&rows).map_err(self.err())?;
            let last = entries.len() < SCAN_BATCH as usize;
            for entry in entries {
                if !self
                    .in_drive_cached(&mut c, &entry, &mut placed)
                    .await
                    .map_err(self.err())?
                {
                    continue;
                }
                if skipped < offset {
                    skipped += 1;
                } else if found.len() < limit as usize {
                    found.push(entry);
                }
            }
            if last {
                break;
            }
        }
        Ok(found)
    }

    /// Whether placed entry `entry` is in the drive, walking up from its
    /// parent unless `placed` already knows.
    async fn in_drive_cached(
        &self,
        c: &mut AnyConnection,
        entry: &EntryRecord,
        placed: &mut HashMap<String, bool>,
    ) -> sqlx::Result<bool> {
        let parent = match entry.parent.as_deref() {
            None => return Ok(false),
            Some("") => return Ok(entry.state == EntryState::Placed),
            Some(parent) => parent,
        };
        if let Some(known) = placed.get(parent) {
            return Ok(*known);
        }
        let chain = self.ancestry_in(c, parent).await?;
        let inside = chain.first().is_some_and(|e| e.id == parent) && reaches_top(&chain);
        if !inside && chain.len() > MAX_DEPTH {
            // Cut off by the walk's bound: only the parent is known.
            placed.insert(parent.to_string(), false);
        } else {
            // A walk that ends at the top puts every entry on it in the
            // drive; one that ends anywhere else puts none of them there.
            for e in &chain {
                placed.insert(e.id.clone(), inside);
            }
            placed.insert(parent.to_string(), inside);
        }
        Ok(inside)
    }

    async fn drive_copy_tx(
        &self,
        c: &mut AnyConnection,
        owner: UserId,
        sources: &[String],
        parent: &str,
        limits: DriveLimits,
        now: i64,
    ) -> Tx<Outcome<Vec<EntryRecord>>> {
        self.lock_owner(c, owner).await?;
        let destination = self.folder_in(c, owner, parent).await?;
        let plan = self
            .copy_plan_in(c, sources, destination.len(), limits.max_copy)
            .await?;
        self.check_room_in(c, owner, plan.len(), limits.max_entries)
            .await?;
        // Every blob the copy references, locked in hash order before any
        // write, then charged once if the owner does not hold it yet.
        let mut blobs: BTreeMap<Vec<u8>, Option<BlobRecord>> = BTreeMap::new();
        for item in &plan {
            if let Some(file) = &item.source.file {
                blobs.insert(file.blob.sha256.to_vec(), None);
            }
        }
        let mut new_bytes: i64 = 0;
        for (sha256, slot) in blobs.iter_mut() {
            let Some(blob) = self.lock_blob_in(c, sha256).await? else {
                return Err(Refusal::NoSuchFile.into());
            };
            if !self.holds_in(c, owner, sha256).await? {
                new_bytes = new_bytes.saturating_add(blob.size);
            }
            *slot = Some(blob);
        }
        self.check_quota_in(c, owner, new_bytes, limits.quota)
            .await?;
        let mut ids: Vec<String> = Vec::with_capacity(plan.len());
        let mut top = Vec::new();
        for item in &plan {
            let id = new_id();
            let source = &item.source;
            let (into, name) = match item.parent {
                Some(at) => (ids[at].clone(), source.name.clone()),
                None => {
                    let name = self
                        .free_name_in(
                            c,
                            owner,
                            parent,
                            &source.name,
                            source.is_folder(),
                            OnClash::Rename,
                            None,
                        )
                        .await?;
                    top.push(id.clone());
                    (parent.to_string(), name)
                }
            };
            let mut file_id = None;
            let mut size = 0;
            if let Some(file) = &source.file {
                let blob = blobs
                    .get(file.blob.sha256.as_slice())
                    .cloned()
                    .flatten()
                    .ok_or(Refusal::NoSuchFile)?;
                let copy = FileRecord {
                    id: new_id(),
                    owner,
                    name: name.clone(),
                    purpose: FilePurpose::Drive,
                    conv: None,
                    seq: None,
                    created_at: now,
                    blob,
                };
                self.add_ref_in(c, &copy.blob.sha256).await?;
                self.insert_file_in(c, &copy).await?;
                size = copy.blob.size;
                file_id = Some(copy.id);
            }
            self.insert_entry_in(c, &id, owner, &into, &name, file_id.as_deref(), size, now)
                .await?;
            ids.push(id);
        }
        let mut copied = Vec::with_capacity(top.len());
        for id in &top {
            copied.push(self.written_in(c, id).await?);
        }
        self.with_changes(c, now, &copied, copied.clone()).await
    }

    /// The entries a copy of `sources` makes, breadth first: each source
    /// (which must be placed) and what is placed inside it. Refused past
    /// `max_copy` entries (reading at most one more), or if an entry would
    /// land deeper than [`MAX_DEPTH`] under a folder at `depth`.
    async fn copy_plan_in(
        &self,
        c: &mut AnyConnection,
        sources: &[String],
        depth: usize,
        max_copy: u32,
    ) -> Tx<Vec<CopyItem>> {
        let max_copy = max_copy as usize;
        let mut plan: Vec<CopyItem> = Vec::new();
        let mut levels: Vec<usize> = Vec::new();
        let mut seen = HashSet::new();
        for id in sources {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let entry = self.entry_in(c, id).await?;
            let Some(entry) = entry.filter(|e| e.state == EntryState::Placed) else {
                return Err(Refusal::NoSuchEntry.into());
            };
            plan.push(CopyItem {
                source: entry,
                parent: None,
            });
            levels.push(1);
        }
        if plan.len() > max_copy {
            return Err(Refusal::LimitReached("entries to save").into());
        }
        let mut next = 0;
        while next < plan.len() {
            Self::check_depth(depth, levels[next])?;
            if plan[next].source.is_folder() {
                let room = max_copy - plan.len();
                let rows = sqlx::query(self.query(&format!(
                    "{ENTRY_SELECT} WHERE e.parent = ? AND e.state = 0 ORDER BY e.id LIMIT ?"
                )))
                .bind(plan[next].source.id.as_str())
                .bind(i64::try_from(room + 1).unwrap_or(i64::MAX))
                .fetch_all(&mut *c)
                .await?;
                if rows.len() > room {
                    return Err(Refusal::LimitReached("entries to save").into());
                }
                for child in entries_from(&rows)? {
                    plan.push(CopyItem {
                        source: child,
                        parent: Some(next),
                    });
                    levels.push(levels[next] + 1);
                }
            }
            next += 1;
        }
        Ok(plan)
    }

    async fn share_create_tx(&self, c: &mut AnyConnection, share: &ShareRecord) -> Tx<()> {
        self.lock_owner(c, share.owner).await?;
        self.placed_in(c, share.owner, &share.entry_id).await?;
        sqlx::query(self.query(
            "INSERT INTO drive_shares (id, owner, entry_id, code, expires_at, max_downloads, \
             downloads, saves, failures, failure_window, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)",
        ))
        .bind(share.id.as_str())
        .bind(share.owner)
        .bind(share.entry_id.as_str())
        .bind(share.code.as_str())
        .bind(share.expires_at)
        .bind(share.max_downloads)
        .bind(share.downloads)
        .bind(share.saves)
        .bind(share.created_at)
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    /// A share's wrong codes and when their window began.
    async fn failures_in(
        &self,
        c: &mut AnyConnection,
        id: &str,
        lock: bool,
    ) -> sqlx::Result<Option<(i64, i64)>> {
        let template = if lock {
            "SELECT failures, failure_window FROM drive_shares WHERE id = ?{for_update}"
        } else {
            "SELECT failures, failure_window FROM drive_shares WHERE id = ?"
        };
        let row = sqlx::query(self.query(template))
            .bind(id)
            .fetch_optional(&mut *c)
            .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    async fn share_fail_tx(
        &self,
        c: &mut AnyConnection,
        id: &str,
        now: i64,
        window_ms: i64,
    ) -> Tx<i64> {
        let Some((failures, window)) = self.failures_in(c, id, true).await? else {
            return Err(Refusal::NoSuchShare.into());
        };
        let (failures, window) = if now >= window.saturating_add(window_ms) {
            (1, now)
        } else {
            (failures + 1, window)
        };
        sqlx::query(
            self.query("UPDATE drive_shares SET failures = ?, failure_window = ? WHERE id = ?"),
        )
        .bind(failures)
        .bind(window)
        .bind(id)
        .execute(&mut *c)
        .await?;
        Ok(failures)
    }

    /// Read-only access with the store's error mapping.
    async fn read<T>(
        &self,
        f: impl AsyncFnOnce(&mut AnyConnection) -> sqlx::Result<T>,
    ) -> Result<T> {
        let mut c = self.read_conn().await?;
        f(&mut c).await.map_err(self.err())
    }
}

#[async_trait]
impl DriveStore for SqlStore {
    async fn drive_entry(&self, owner: UserId, id: &str) -> Result<Option<EntryRecord>> {
        let entry = self.read(async |c| self.entry_in(c, id).await).await?;
        Ok(entry.filter(|e| e.owner == owner))
    }

    async fn drive_ancestry(&self, id: &str) -> Result<Vec<EntryRecord>> {
        self.read(async |c| self.ancestry_in(c, id).await).await
    }

    async fn drive_children(
        &self,
        owner: UserId,
        parent: &str,
        sort: DriveSort,
        descending: bool,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<EntryRecord>> {
        let order = match (sort, descending) {
            (DriveSort::Name, false) => "e.name ASC, e.id ASC",
            (DriveSort::Name, true) => "e.name DESC, e.id DESC",
            (DriveSort::Size, false) => "e.size ASC, e.id ASC",
            (DriveSort::Size, true) => "e.size DESC, e.id DESC",
            (DriveSort::Time, false) => "e.updated_at ASC, e.id ASC",
            (DriveSort::Time, true) => "e.updated_at DESC, e.id DESC",
        };
        let template = format!(
            "{ENTRY_SELECT} WHERE e.owner = ? AND e.parent = ? AND e.state = 0 \
             ORDER BY CASE WHEN e.file_id IS NULL THEN 0 ELSE 1 END, {order} LIMIT ? OFFSET ?"
        );
        self.read(async |c| {
            let rows = sqlx::query(self.query(&template))
                .bind(owner)
                .bind(parent)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&mut *c)
                .await?;
            entries_from(&rows)
        })
        .await
    }

    async fn drive_add(
        &self,
        entry: &NewEntry,
        on_clash: OnClash,
        limits: DriveLimits,
    ) -> Result<Outcome<EntryRecord>> {
        graph!(self.drive_add_tx(entry, on_clash, limits))
    }

    async fn drive_rename(
        &self,
        owner: UserId,
        id: &str,
        name: &str,
        on_clash: OnClash,
        now: i64,
    ) -> Result<Outcome<EntryRecord>> {
        graph!(self.drive_rename_tx(owner, id, name, on_clash, now))
    }

    async fn drive_move(
        &self,
        owner: UserId,
        ids: &[String],
        parent: &str,
        on_clash: OnClash,
        now: i64,
    ) -> Result<Outcome<Vec<EntryRecord>>> {
        graph!(self.drive_move_tx(owner, ids, parent, on_clash, now))
    }

    async fn drive_trash(
        &self,
        owner: UserId,
        ids: &[String],
        now: i64,
        bin_retention_ms: i64,
    ) -> Result<Outcome<()>> {
        graph!(self.drive_trash_tx(owner, ids, now, bin_retention_ms))
    }

    async fn drive_bin(&self, owner: UserId, offset: u32, limit: u32) -> Result<Vec<EntryRecord>> {
        self.read(async |c| {
            let rows = sqlx::query(self.query(&format!(
                "{ENTRY_SELECT} WHERE e.owner = ? AND e.state = 1 \
                 ORDER BY e.trashed_at DESC, e.id DESC LIMIT ? OFFSET ?"
            )))
            .bind(owner)
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&mut *c)
            .await?;
            entries_from(&rows)
        })
        .await
    }

    async fn drive_restore(
        &self,
        owner: UserId,
        ids: &[String],
        now: i64,
    ) -> Result<Outcome<Vec<EntryRecord>>> {
        graph!(self.drive_restore_tx(owner, ids, now))
    }

    async fn drive_purge_mark(
        &self,
        owner: UserId,
        ids: Option<&[String]>,
        now: i64,
    ) -> Result<Outcome<u64>> {
        graph!(self.drive_purge_mark_tx(owner, ids, now))
    }

    async fn drive_purge_step(
        &self,
        owner: Option<UserId>,
        binned_before: i64,
        limit: u32,
        now: i64,
    ) -> Result<PurgeStep> {
        // Look for work with a plain read first: an idle purge (the usual
        // case, every minute on every node) then takes no write
        // transaction, and on SQLite not the one writer connection.
        let work = self
            .read(async |c| self.purge_candidate_in(c, owner, binned_before).await)
            .await?;
        if work.is_none() {
            return Ok(PurgeStep {
                idle: true,
                ..PurgeStep::default()
            });
        }
        graph!(self.drive_purge_step_tx(owner, binned_before, limit, now))
    }

    async fn drive_search(
        &self,
        owner: UserId,
        needle: &str,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<EntryRecord>> {
        let template = format!(
            "{ENTRY_SELECT} WHERE e.owner = ? AND e.state = 0 AND e.name_key LIKE ? ESCAPE '!' \
             ORDER BY e.updated_at DESC, e.id DESC LIMIT ? OFFSET ?"
        );
        let pattern = contains_pattern(&needle.to_lowercase());
        self.scan_placed(&template, owner, Some(&pattern), offset, limit)
            .await
    }

    async fn drive_recent(&self, owner: UserId, limit: u32) -> Result<Vec<EntryRecord>> {
        let template = format!(
            "{ENTRY_SELECT} WHERE e.owner = ? AND e.state = 0 AND e.file_id IS NOT NULL \
             ORDER BY e.created_at DESC, e.id DESC LIMIT ? OFFSET ?"
        );
        self.scan_placed(&template, owner, None, 0, limit).await
    }

    async fn drive_copy(
        &self,
        owner: UserId,
        sources: &[String],
        parent: &str,
        limits: DriveLimits,
        now: i64,
    ) -> Result<Outcome<Vec<EntryRecord>>> {
        graph!(self.drive_copy_tx(owner, sources, parent, limits, now))
    }

    async fn user_quota(&self, user: UserId) -> Result<Option<i64>> {
        self.read(async |c| {
            let row = sqlx::query(self.query("SELECT quota_bytes FROM users WHERE id = ?"))
                .bind(user)
                .fetch_optional(&mut *c)
                .await?;
            Ok(match row {
                Some(row) => row.try_get::<Option<i64>, _>(0)?,
                None => None,
            })
        })
        .await
    }

    async fn set_user_quota(&self, user: UserId, quota: Option<i64>) -> Result<()> {
        let done = sqlx::query(self.query("UPDATE users SET quota_bytes = ? WHERE id = ?"))
            .bind(quota)
            .bind(user)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        if done.rows_affected() == 0 {
            // MySQL counts changed rows only: an unchanged value is not a
            // missing user.
            let exists = sqlx::query(self.query("SELECT 1 FROM users WHERE id = ?"))
                .bind(user)
                .fetch_optional(&self.writer)
                .await
                .map_err(self.err())?
                .is_some();
            if !exists {
                return Err(Refusal::UnknownUser.into());
            }
        }
        Ok(())
    }

    async fn share_create(&self, share: &ShareRecord) -> Result<()> {
        graph!(self.share_create_tx(share))
    }

    async fn share(&self, id: &str) -> Result<Option<ShareRecord>> {
        self.read(async |c| {
            let row = sqlx::query(self.query(&format!("{SHARE_SELECT} WHERE id = ?")))
                .bind(id)
                .fetch_optional(&mut *c)
                .await?;
            row.as_ref().map(share_from_row).transpose()
        })
        .await
    }

    async fn shares_of(&self, owner: UserId, offset: u32, limit: u32) -> Result<Vec<ShareRecord>> {
        self.read(async |c| {
            let rows = sqlx::query(self.query(&format!(
                "{SHARE_SELECT} WHERE owner = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            )))
            .bind(owner)
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(share_from_row).collect()
        })
        .await
    }

    async fn share_delete(&self, owner: UserId, id: &str) -> Result<bool> {
        let done = sqlx::query(self.query("DELETE FROM drive_shares WHERE id = ? AND owner = ?"))
            .bind(id)
            .bind(owner)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(done.rows_affected() == 1)
    }

    async fn share_count_download(&self, id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(self.query(
            "UPDATE drive_shares SET downloads = downloads + 1 WHERE id = ? \
             AND (max_downloads IS NULL OR downloads < max_downloads) \
             AND (expires_at IS NULL OR expires_at > ?)",
        ))
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(self.err())?;
        Ok(done.rows_affected() == 1)
    }

    async fn share_count_save(&self, id: &str) -> Result<()> {
        let done =
            sqlx::query(self.query("UPDATE drive_shares SET saves = saves + 1 WHERE id = ?"))
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(self.err())?;
        if done.rows_affected() == 0 {
            return Err(Refusal::NoSuchShare.into());
        }
        Ok(())
    }

    async fn share_fail(&self, id: &str, now: i64, window_ms: i64) -> Result<i64> {
        graph!(self.share_fail_tx(id, now, window_ms))
    }

    async fn share_failures(&self, id: &str, now: i64, window_ms: i64) -> Result<i64> {
        let found = self
            .read(async |c| self.failures_in(c, id, false).await)
            .await?;
        Ok(match found {
            Some((failures, window)) if now < window.saturating_add(window_ms) => failures,
            _ => 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clashing_names_are_numbered_before_the_extension() {
        assert_eq!(numbered("a.txt", false, 1), "a (1).txt");
        assert_eq!(numbered("a.tar.gz", false, 2), "a.tar (2).gz");
        assert_eq!(numbered(".bashrc", false, 1), ".bashrc (1)");
        assert_eq!(numbered("notes", false, 3), "notes (3)");
        assert_eq!(numbered("v1.2", true, 1), "v1.2 (1)");
        let long = format!("{}.txt", "长".repeat(251));
        let renamed = numbered(&long, false, 12);
        assert_eq!(renamed.chars().count(), 255);
        assert!(renamed.ends_with(" (12).txt"), "{renamed}");
        let long_ext = format!("a.{}", "x".repeat(253));
        assert_eq!(numbered(&long_ext, false, 1).chars().count(), 255);
    }

    #[test]
    fn search_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("会议"), "%会议%");
        assert_eq!(contains_pattern("50%_!"), "%50!%!_!!%");
    }
}
