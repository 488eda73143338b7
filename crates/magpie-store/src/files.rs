//! Files: content stored once by hash (blobs), the files people hold over
//! it, and resumable uploads in progress.
//!
//! The bytes themselves are not here: they live in the server's blob
//! storage (a directory or S3) under each blob's `storage_key`. This store
//! keeps the truth about which bytes are wanted, so the order of the two
//! writes is what makes it crash-safe:
//! - new content: bytes are written under a fresh key first, then the row
//!   that references them is committed ([`FileStore::finish_upload`]);
//!   a crash in between leaves bytes no row names, which the orphan sweep
//!   removes;
//! - the last reference gone: the row goes first, in the same transaction
//!   as the file that held it ([`FileStore::delete_file`]), and the bytes
//!   after; a crash in between again leaves only orphan bytes. Since keys
//!   are never reused, deleting old bytes cannot touch a new upload of the
//!   same content.

use crate::Result;
use async_trait::async_trait;
use magpie_proto::{ConvId, Seq, UserId};

/// What holds a file, and so who may read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePurpose {
    /// In its owner's list of uploads: the owner only.
    Upload,
    /// Sent in a conversation at a seq: its members from that point on.
    Message,
    /// A user's or a group's avatar: every signed-in user.
    Avatar,
    /// A file in its owner's drive: the owner, and whoever holds a share
    /// link over it (checked by the drive, not by file id).
    Drive,
}

impl FilePurpose {
    /// The stored code.
    pub fn code(self) -> i64 {
        match self {
            FilePurpose::Upload => 1,
            FilePurpose::Message => 2,
            FilePurpose::Avatar => 3,
            FilePurpose::Drive => 4,
        }
    }

    /// The purpose of a stored code; unknown codes read as uploads (the
    /// narrowest access).
    pub fn from_code(code: i64) -> FilePurpose {
        match code {
            2 => FilePurpose::Message,
            3 => FilePurpose::Avatar,
            4 => FilePurpose::Drive,
            _ => FilePurpose::Upload,
        }
    }
}

/// Stored content, described by what was read from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRecord {
    pub sha256: [u8; 32],
    /// Where the bytes are in the blob storage; unique to this row.
    pub storage_key: String,
    pub size: i64,
    /// Sniffed from the content, never the client's claim.
    pub mime: String,
    /// Media facts (dimensions, duration) as JSON, when there are any.
    pub media: Option<String>,
    /// The key of the server-made thumbnail, for images.
    pub thumb_key: Option<String>,
}

/// A file as its holder sees it: a name over a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub id: String,
    /// Who uploaded (or sent) it.
    pub owner: UserId,
    pub name: String,
    pub purpose: FilePurpose,
    /// For [`FilePurpose::Message`]: where and at which seq it was sent.
    pub conv: Option<ConvId>,
    pub seq: Option<Seq>,
    pub created_at: i64,
    pub blob: BlobRecord,
}

impl FileRecord {
    /// The file as clients see it.
    pub fn info(&self) -> magpie_proto::FileInfo {
        let media: magpie_proto::MediaInfo = self
            .blob
            .media
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_else(|| magpie_proto::MediaInfo {
                mime: self.blob.mime.clone(),
                ..magpie_proto::MediaInfo::default()
            });
        magpie_proto::FileInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            size: u64::try_from(self.blob.size).unwrap_or(0),
            sha256: magpie_proto::to_hex(&self.blob.sha256),
            owner: self.owner,
            created_at: self.created_at,
            media,
            thumbnail: self.blob.thumb_key.is_some(),
            conv: self.conv,
            seq: self.seq,
        }
    }
}

/// A tus upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub owner: UserId,
    /// The declared length (`Upload-Length`).
    pub total_size: i64,
    /// How many bytes are durably stored.
    pub received: i64,
    /// The file name from `Upload-Metadata`, already checked.
    pub name: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The file made from it, once complete.
    pub file_id: Option<String>,
}

/// What a user's files take from their quota, and what their uploads in
/// progress have reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaUse {
    /// Distinct content the user's files reference (content referenced
    /// twice counts once).
    pub stored: i64,
    /// Declared lengths of the user's unfinished uploads.
    pub reserved: i64,
}

/// Bytes no row references any more, for the caller to delete from the
/// blob storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreferenced {
    pub storage_key: String,
    pub thumb_key: Option<String>,
}

/// How [`FileStore::finish_upload`] went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// The file was made over the new blob.
    Stored(FileRecord),
    /// The same content was already stored: the file references it, and
    /// the caller's freshly written bytes (`duplicate`) are not needed.
    Deduplicated {
        file: FileRecord,
        duplicate: Unreferenced,
    },
    /// The upload was finished before (a retried completion): this is its
    /// file, and the caller's bytes are not needed.
    AlreadyFinished {
        file: FileRecord,
        duplicate: Unreferenced,
    },
}

/// Files, blobs and uploads.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Record a new upload, refused with `QuotaExceeded` if the
    /// owner's stored and reserved bytes plus its length would pass
    /// `quota`, or `LimitReached("uploads")` past `max_open` unfinished
    /// uploads. The check and the insert are one transaction, so parallel
    /// creations cannot together pass the quota.
    async fn create_upload(&self, upload: &UploadRecord, quota: i64, max_open: u32) -> Result<()>;

    /// The upload with this id, finished or not (expired ones included
    /// until [`FileStore::expired_uploads`] removes them).
    async fn upload(&self, id: &str) -> Result<Option<UploadRecord>>;

    /// Move an upload's durable offset from `from` to `to`. `false` if it
    /// was not at `from` (another PATCH moved it, or it is gone): the
    /// caller's bytes past `from` are then not the upload's.
    async fn advance_upload(&self, id: &str, from: i64, to: i64) -> Result<bool>;

    /// Delete an upload's row; `false` if there was none.
    async fn delete_upload(&self, id: &str) -> Result<bool>;

    /// Up to `limit` uploads whose `expires_at` is before `now`.
    async fn expired_uploads(&self, now: i64, limit: u32) -> Result<Vec<UploadRecord>>;

    /// Complete upload `upload_id` as file `file` over `blob`, whose bytes
    /// the caller has written under `blob.storage_key`. If the content is
    /// already stored, the file references the existing blob instead.
    /// The upload row is kept (with its file id) until it expires.
    async fn finish_upload(
        &self,
        upload_id: &str,
        blob: &BlobRecord,
        file: &FileRecord,
        now: i64,
    ) -> Result<Finished>;

    /// The stored blob with this hash, if any.
    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<BlobRecord>>;

    /// Make `file` over the stored blob `file.blob.sha256` without any
    /// bytes (instant upload), if its owner's quota allows. `Ok(None)` if
    /// the blob is no longer stored.
    async fn reference_blob(&self, file: &FileRecord, quota: i64) -> Result<Option<FileRecord>>;

    /// The file with this id.
    async fn file(&self, id: &str) -> Result<Option<FileRecord>>;

    /// Delete a file. When it was the blob's last reference the blob's
    /// row goes too, and its keys are returned for the caller to delete.
    async fn delete_file(&self, id: &str) -> Result<Option<Unreferenced>>;

    /// `owner`'s files of `purpose` with ids after `after`, in id order,
    /// at most `limit`.
    async fn files_of(
        &self,
        owner: UserId,
        purpose: FilePurpose,
        after: &str,
        limit: u32,
    ) -> Result<Vec<FileRecord>>;

    /// The files sent in `conv` with seqs in (`above`, `before`), newest
    /// first, at most `limit`.
    async fn files_in(
        &self,
        conv: ConvId,
        above: Seq,
        before: Seq,
        limit: u32,
    ) -> Result<Vec<FileRecord>>;

    /// What `owner` uses of their quota.
    async fn quota_use(&self, owner: UserId) -> Result<QuotaUse>;

    /// The secret named `name`, shared by every node: `candidate` if no
    /// node stored one before (first start), the stored one otherwise.
    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>>;

    /// Of `keys` (storage keys found in the blob storage), the ones some
    /// blob row names, as a storage key or a thumbnail key.
    async fn known_keys(&self, keys: &[String]) -> Result<Vec<String>>;
}
