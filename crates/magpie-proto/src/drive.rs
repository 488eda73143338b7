//! The personal drive (网盘): folders and files kept on the server, a
//! recycle bin, and share links protected by an extraction code (提取码).
//!
//! Drive files are files of the content store (see [`crate::files`]): an
//! entry carries its [`FileInfo`], whose id downloads it
//! (`/api/files/{id}`) and sends it into a chat (`send` with `file`). Bytes
//! go into the drive by uploading (tus or instant upload) and then
//! `drive_put`; a file received in a chat is saved with `drive_put` too.
//! Share links are opened over HTTP, without an account (`/s/{share}` for
//! a browser, `/api/shares/...` for programs); see `docs/PROTOCOL.md`,
//! "The drive".

use crate::files::{FileId, FileInfo};
use serde::{Deserialize, Serialize};

/// An entry's id: 32 lowercase hex digits, like a [`FileId`].
pub type EntryId = String;

/// A share link's id: 32 lowercase hex digits, the last part of its URL.
pub type ShareId = String;

/// Longest entry name, in characters.
pub const MAX_ENTRY_NAME_CHARS: usize = 255;

/// Most entries one request may name (`drive_move`, `drive_delete`, ...).
pub const MAX_ENTRIES_PER_REQUEST: usize = 100;

/// Shortest and longest extraction code a user may choose.
pub const SHARE_CODE_CHARS: std::ops::RangeInclusive<usize> = 4..=16;

/// Whether `name` is acceptable as an entry name: 1 to 255 characters, not
/// `.` or `..`, no `/` or `\`, no control characters, and no leading or
/// trailing white space (so two names never differ only by invisible
/// padding).
pub fn valid_entry_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=MAX_ENTRY_NAME_CHARS).contains(&chars)
        && name != "."
        && name != ".."
        && name.trim() == name
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control() || is_invisible_format(c))
}

/// Bidirectional overrides and other invisible formatting characters that
/// can make a name look like another one (`exe.txt` drawn as `txt.exe`).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Whether `code` is acceptable as an extraction code chosen by a user:
/// 4 to 16 ASCII letters or digits. Codes compare case-insensitively.
pub fn valid_share_code(code: &str) -> bool {
    SHARE_CODE_CHARS.contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Folder or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Folder,
    File,
}

/// A folder or file of the caller's drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveEntry {
    pub id: EntryId,
    pub kind: EntryKind,
    pub name: String,
    /// The folder it is in; absent at the top of the drive, and for an
    /// entry in the bin (see `home`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<EntryId>,
    /// Bytes of a file; 0 for a folder.
    pub size: u64,
    /// A file's content: its id downloads it and sends it into a chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    pub created_at: i64,
    /// Last rename, move or restore.
    pub updated_at: i64,
    /// In the bin: when it was deleted, where it came from (absent: the
    /// top), and when the bin will purge it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<EntryId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<i64>,
}

/// The `drive_removed` change: bin entries purged for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveRemoved {
    pub entries: Vec<EntryId>,
}

/// One folder of a path, from the top down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crumb {
    pub id: EntryId,
    pub name: String,
}

/// How `drive_list` orders a folder. Folders always come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriveSortKey {
    #[default]
    Name,
    Size,
    /// Last change.
    Time,
}

/// `drive_list`: one page of a folder.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DriveList {
    /// The folder; absent for the top of the drive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<EntryId>,
    #[serde(default)]
    pub sort: DriveSortKey,
    /// Largest, newest or Z first.
    #[serde(default)]
    pub desc: bool,
    /// Entries to skip (the previous page's `next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// Page size, 1 to 500 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The answer to `drive_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveListOk {
    /// The folder listed, from the top down (empty for the top): the
    /// breadcrumb.
    pub path: Vec<Crumb>,
    pub entries: Vec<DriveEntry>,
    /// Pass as `offset` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
}

/// `drive_info`: one entry of the caller's, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveRef {
    pub entry: EntryId,
}

/// The answer to `drive_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveInfoOk {
    pub entry: DriveEntry,
    /// The folders it is in, from the top down (empty at the top and for
    /// an entry in the bin).
    pub path: Vec<Crumb>,
}

/// `drive_mkdir`: a new folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveMkdir {
    /// Where; absent for the top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<EntryId>,
    pub name: String,
    /// On a name clash, take the first free `name (1)`, `name (2)`, ...
    /// instead of failing with `name_taken`.
    #[serde(default)]
    pub rename: bool,
}

/// `drive_put`: place a file in the drive. The caller's own upload (from
/// `/api/uploads` or instant upload) becomes the drive file; any other
/// file the caller may read (one received in a chat, a drive file) is
/// saved as a new reference to the same content, without copying bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrivePut {
    pub file: FileId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<EntryId>,
    /// The entry's name; the file's own name if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub rename: bool,
}

/// `drive_rename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveRename {
    pub entry: EntryId,
    pub name: String,
    #[serde(default)]
    pub rename: bool,
}

/// `drive_move`: move entries (all or none) into a folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveMove {
    pub entries: Vec<EntryId>,
    /// The destination; absent for the top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<EntryId>,
    #[serde(default)]
    pub rename: bool,
}

/// `drive_delete` (to the bin) and `drive_restore` (from it): 1 to 100
/// entries, all or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveEntries {
    pub entries: Vec<EntryId>,
}

/// The answer to operations that return entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveEntriesOk {
    pub entries: Vec<DriveEntry>,
    /// Pass as `offset` for the next page, where the operation pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
}

/// `drive_bin`, `drive_shares`: one page by offset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DrivePage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// 1 to 500 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `drive_purge`: delete bin entries for good (all of the bin when
/// `entries` is absent). Their content is released; bytes no one else
/// holds are deleted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DrivePurge {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<EntryId>>,
}

/// The answer to `drive_purge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrivePurgeOk {
    /// Bin entries marked for purging.
    pub purged: u64,
    /// Part of the purge goes on in the background (a very large folder);
    /// the quota frees up as it goes.
    pub pending: bool,
}

/// `drive_search`: the caller's entries whose name contains `query`
/// (case-insensitive; any script, Chinese included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveSearch {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// 1 to 100 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `drive_recent`: the caller's most recently added files.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DriveRecent {
    /// 1 to 100 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `drive_share`: make a share link over one of the caller's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveShare {
    pub entry: EntryId,
    /// The extraction code: 4 to 16 letters or digits; a random 4-character
    /// code if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// When the link stops working (ms since the epoch); never if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// How many downloads the link allows; unlimited if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u32>,
}

/// A share link, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub id: ShareId,
    /// The page to give out: a path on the HTTP port (`/s/{id}`).
    pub url: String,
    pub code: String,
    pub entry: EntryId,
    pub name: String,
    pub kind: EntryKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u64>,
    pub downloads: u64,
    pub saves: u64,
    pub created_at: i64,
    /// Whether the link works now: not expired, downloads left, and its
    /// entry not in the bin.
    pub active: bool,
}

/// The answer to `drive_shares`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveSharesOk {
    pub shares: Vec<ShareInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
}

/// `drive_unshare`: revoke a share link at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveUnshare {
    pub share: ShareId,
}

/// `drive_save`: save what a share link holds into the caller's drive,
/// as new references to the same content (no bytes are copied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveSave {
    pub share: ShareId,
    pub code: String,
    /// Entries inside a shared folder to save; the shared entry itself if
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<EntryId>>,
    /// Where in the caller's drive; absent for the top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<EntryId>,
}

/// `admin_quota_set`: set a user's storage quota, or return them to the
/// server's default (`bytes` absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminQuotaSet {
    /// The user's name.
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// `POST /api/shares/{id}/unlock`: the extraction code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareUnlock {
    pub code: String,
}

/// The answer to an unlock: a key for the share's other endpoints (header
/// `X-Share-Key`, or `?key=` on download links), valid until `expires_at`
/// or until the link is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareKey {
    pub key: String,
    pub expires_at: i64,
}

/// An entry as anyone with a share link sees it: no owner, no hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedItem {
    pub id: EntryId,
    pub kind: EntryKind,
    pub name: String,
    pub size: u64,
    /// A file's sniffed type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    pub updated_at: i64,
}

/// `GET /api/shares/{id}`: the shared entry and, for a folder, one page
/// of the folder asked for (`?folder=`, the shared folder by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedView {
    /// The shared entry itself.
    pub root: SharedItem,
    /// Who shared it (their nickname, or user name).
    pub sharer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// From the shared folder down to the folder listed.
    pub path: Vec<Crumb>,
    pub entries: Vec<SharedItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_bounded_and_plain() {
        for good in ["会议纪要.docx", "a", "x y", ".profile", &"长".repeat(255)] {
            assert!(valid_entry_name(good), "{good:?} should be accepted");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a\nb",
            " padded",
            "padded ",
            "evil\u{202e}txt.exe",
            &"长".repeat(256),
        ] {
            assert!(!valid_entry_name(bad), "{bad:?} should be refused");
        }
    }

    #[test]
    fn share_codes_are_short_alphanumerics() {
        assert!(valid_share_code("a1B2"));
        assert!(valid_share_code(&"z".repeat(16)));
        for bad in ["abc", "ab c", "密码密码", &"z".repeat(17), "ab-c"] {
            assert!(!valid_share_code(bad), "{bad:?} should be refused");
        }
    }
}
