//! Files: resumable uploads (tus), instant upload by hash, content stored
//! once, and downloads only for those allowed.
//!
//! The service ([`Files`]) owns the rules; [`http`] maps them onto HTTP.
//! Bytes flow:
//! 1. `POST /api/uploads` reserves the declared length against the quota
//!    and creates an empty staging file under the data directory;
//! 2. each `PATCH` appends to the staging file from the durable offset
//!    (anything past it, from a cut connection or a crash, is cut off
//!    first), syncs it, and only then moves the offset in the database;
//! 3. the last byte completes the upload: the content's SHA-256 (kept
//!    running across PATCHes while the server stays up) names it, the
//!    media facts are read from the bytes ([`media`]), the staged file is
//!    stored in the blob storage ([`storage`]) under a fresh key (a hard
//!    link on the local backend), and one transaction makes the file and
//!    counts the blob reference, or references the same content already
//!    stored and drops the new copy. Only then does the staged file go, so
//!    a failure before the commit can be retried.
//!
//! Crash safety is by order: bytes before the rows that name them, rows
//! before the bytes they release. What a crash leaves behind (staged
//! files of expired uploads, bytes no row names) is removed by [`sweep`].

pub mod download;
pub mod http;
pub mod instant;
pub mod media;
pub mod storage;
pub mod sweep;

use crate::clock::now_ms;
use crate::error::from_store;
use magpie_proto::{ErrorBody, ErrorCode, FileInfo, MediaInfo, UserId};
pub use magpie_proto::{from_hex as unhex, to_hex as hex};
use magpie_store::Store;
use magpie_store::files::{BlobRecord, FilePurpose, FileRecord, Finished, UploadRecord};
use media::MediaLimits;
use rand::RngExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use storage::BlobStorage;

/// Longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Side of the square a thumbnail fits in, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;

/// Limits of the file area, from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Bytes one user's files may reference (content shared between them
    /// counts once), plus what their open uploads reserve.
    pub quota_bytes: u64,
    /// How long an unfinished upload may be resumed.
    pub upload_ttl: Duration,
    /// Most unfinished uploads per user.
    pub max_open_uploads: u32,
}

/// The file area's service.
#[derive(Debug)]
pub struct Files {
    store: Arc<dyn Store>,
    storage: BlobStorage,
    staging: PathBuf,
    limits: FileLimits,
    media_limits: MediaLimits,
    durable: bool,
    /// Key for signed download URLs and instant-upload challenges, shared
    /// by every node through the database.
    secret: Vec<u8>,
    /// Uploads a PATCH is writing now, with the running hash of their
    /// bytes so far (so completing does not read the file again).
    writing: Mutex<HashMap<String, ()>>,
    hashes: Mutex<HashMap<String, RunningHash>>,
}

/// The SHA-256 of an upload's first `offset` bytes, kept between PATCHes.
#[derive(Debug, Clone)]
struct RunningHash {
    offset: i64,
    hasher: Sha256,
}

/// Why a file operation failed, as the HTTP layer maps it.
pub type FileResult<T> = Result<T, ErrorBody>;

impl Files {
    /// The service over `store`, with blobs in `storage` and uploads
    /// staged under `staging` (which must be on the local backend's
    /// filesystem, so completing is a hard link).
    pub async fn new(
        store: Arc<dyn Store>,
        storage: BlobStorage,
        staging: PathBuf,
        limits: FileLimits,
        durable: bool,
    ) -> Result<Files, std::io::Error> {
        std::fs::create_dir_all(&staging)?;
        let candidate: [u8; 32] = rand::rng().random();
        let secret = store
            .server_secret("files", &candidate)
            .await
            .map_err(std::io::Error::other)?;
        Ok(Files {
            store,
            storage,
            staging,
            limits,
            media_limits: MediaLimits::default(),
            durable,
            secret,
            writing: Mutex::new(HashMap::new()),
            hashes: Mutex::new(HashMap::new()),
        })
    }

    /// The configured limits.
    pub fn limits(&self) -> FileLimits {
        self.limits
    }

    /// `user`'s storage quota in bytes: the one an administrator set for
    /// them, or the server's default.
    pub async fn quota_of(&self, user: UserId) -> FileResult<i64> {
        let set = self.store.user_quota(user).await.map_err(from_store)?;
        Ok(set.unwrap_or_else(|| to_i64(self.limits.quota_bytes)))
    }

    /// `user`'s storage use against their quota.
    pub async fn quota(&self, user: UserId) -> FileResult<magpie_proto::Quota> {
        let used = self.store.quota_use(user).await.map_err(from_store)?;
        Ok(magpie_proto::Quota {
            used: u64::try_from(used.stored).unwrap_or(0),
            reserved: u64::try_from(used.reserved).unwrap_or(0),
            limit: u64::try_from(self.quota_of(user).await?).unwrap_or(0),
        })
    }

    /// The blob storage.
    pub fn storage(&self) -> &BlobStorage {
        &self.storage
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn staged_path(&self, upload: &str) -> PathBuf {
        self.staging.join(upload)
    }

    /// Start an upload of `length` bytes named `name` for `owner`.
    pub async fn create_upload(
        &self,
        owner: UserId,
        length: u64,
        name: &str,
    ) -> FileResult<UploadRecord> {
        if length > self.limits.max_file_bytes {
            return Err(ErrorBody::new(
                ErrorCode::FileTooLarge,
                format!(
                    "the file is larger than this server's limit of {} bytes",
                    self.limits.max_file_bytes
                ),
            ));
        }
        let now = now_ms();
        let upload = UploadRecord {
            id: new_id(),
            owner,
            total_size: to_i64(length),
            received: 0,
            name: clean_name(name),
            created_at: now,
            expires_at: now.saturating_add(
                i64::try_from(self.limits.upload_ttl.as_millis()).unwrap_or(i64::MAX),
            ),
            file_id: None,
        };
        // The staging file exists before the row, so a row never names a
        // missing file (a crash in between leaves a stray empty file, which
        // the sweep removes).
        tokio::fs::File::create(self.staged_path(&upload.id))
            .await
            .map_err(internal)?;
        let quota = self.quota_of(owner).await?;
        self.store
            .create_upload(&upload, quota, self.limits.max_open_uploads)
            .await
            .map_err(from_store)?;
        Ok(upload)
    }

    /// `owner`'s upload `id`: the same `None` for someone else's as for
    /// none at all.
    pub async fn upload_of(&self, owner: UserId, id: &str) -> FileResult<Option<UploadRecord>> {
        if !magpie_proto::is_file_id(id) {
            return Ok(None);
        }
        let upload = self.store.upload(id).await.map_err(from_store)?;
        Ok(upload.filter(|u| u.owner == owner && u.expires_at > now_ms()))
    }

    /// Claim upload `id` for one writer; `None` if a PATCH is writing it.
    pub fn claim(&self, id: &str) -> Option<WriteClaim<'_>> {
        let mut writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if writing.contains_key(id) {
            return None;
        }
        writing.insert(id.to_string(), ());
        Some(WriteClaim {
            files: self,
            id: id.to_string(),
        })
    }

    /// The running hash of `id` if it covers exactly `offset` bytes.
    fn running_hash(&self, id: &str, offset: i64) -> Option<Sha256> {
        let hashes = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        hashes
            .get(id)
            .filter(|h| h.offset == offset)
            .map(|h| h.hasher.clone())
    }

    fn keep_hash(&self, id: &str, offset: i64, hasher: Option<Sha256>) {
        let mut hashes = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        match hasher {
            Some(hasher) => {
                hashes.insert(id.to_string(), RunningHash { offset, hasher });
            }
            None => {
                hashes.remove(id);
            }
        }
    }

    /// Complete `upload`, whose bytes are all staged: hash, inspect, store,
    /// record. Safe to repeat (a crash after the last offset moved but
    /// before the file was made is finished by the next HEAD or PATCH).
    pub async fn complete(&self, upload: &UploadRecord) -> FileResult<FileRecord> {
        let staged = self.staged_path(&upload.id);
        let running = self.running_hash(&upload.id, upload.total_size);
        let limits = self.media_limits;
        let path = staged.clone();
        let inspected = tokio::task::spawn_blocking(move || inspect(&path, running, &limits))
            .await
            .map_err(internal)?;
        let (sha256, media, thumbnail) = match inspected {
            Ok(found) => found,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Completed by a racing call: its file stands.
                return self.finished_file(upload).await;
            }
            Err(e) => return Err(internal(e)),
        };
        let key = blob_key(&sha256);
        let thumb_key = match thumbnail {
            Some(thumb) => {
                let ext = if thumb.mime == "image/png" {
                    "png"
                } else {
                    "jpg"
                };
                let thumb_key = format!("{key}.thumb.{ext}");
                self.storage
                    .put_bytes(&thumb_key, thumb.bytes.into())
                    .await
                    .map_err(internal)?;
                Some(thumb_key)
            }
            None => None,
        };
        self.storage
            .put_file(&key, &staged)
            .await
            .map_err(internal)?;
        let blob = BlobRecord {
            sha256,
            storage_key: key,
            size: upload.total_size,
            mime: media.mime.clone(),
            media: serde_json::to_string(&media).ok(),
            thumb_key,
        };
        let file = FileRecord {
            id: new_id(),
            owner: upload.owner,
            name: upload.name.clone(),
            purpose: FilePurpose::Upload,
            conv: None,
            seq: None,
            created_at: now_ms(),
            blob: blob.clone(),
        };
        let finished = match self
            .store
            .finish_upload(&upload.id, &blob, &file, now_ms())
            .await
        {
            Ok(finished) => finished,
            Err(e) => {
                // Nothing names the new bytes: drop them. The staged file
                // and the running hash stay, so a retry (the next HEAD or
                // PATCH) completes the upload after all.
                self.release(magpie_store::files::Unreferenced {
                    storage_key: blob.storage_key,
                    thumb_key: blob.thumb_key,
                })
                .await;
                return Err(from_store(e));
            }
        };
        // Recorded: the staged copy has served (a crash before this line
        // leaves it to the sweep, as the upload now names its file).
        remove_staged(&staged).await;
        self.keep_hash(&upload.id, 0, None);
        match finished {
            Finished::Stored(file) => Ok(file),
            Finished::Deduplicated { file, duplicate }
            | Finished::AlreadyFinished { file, duplicate } => {
                self.release(duplicate).await;
                Ok(file)
            }
        }
    }

    async fn finished_file(&self, upload: &UploadRecord) -> FileResult<FileRecord> {
        let again = self.store.upload(&upload.id).await.map_err(from_store)?;
        let file_id = again.and_then(|u| u.file_id).ok_or_else(unknown_file)?;
        self.store
            .file(&file_id)
            .await
            .map_err(from_store)?
            .ok_or_else(unknown_file)
    }

    /// Delete bytes no row references any more. A failure leaves orphan
    /// bytes for the sweep, never a dangling row.
    pub async fn release(&self, gone: magpie_store::files::Unreferenced) {
        for key in std::iter::once(gone.storage_key).chain(gone.thumb_key) {
            if let Err(e) = self.storage.delete(&key).await {
                tracing::warn!(error = %e, key, "deleting unreferenced bytes failed; the sweep will retry");
            }
        }
    }

    /// Cancel `owner`'s upload `id` (tus termination): an unfinished one
    /// loses its staged bytes; a finished one, its file, if that is still
    /// only an upload in the owner's list.
    pub async fn terminate(&self, owner: UserId, id: &str) -> FileResult<()> {
        let upload = self.upload_of(owner, id).await?.ok_or_else(unknown_file)?;
        let Some(_claim) = self.claim(id) else {
            return Err(ErrorBody::new(
                ErrorCode::Overloaded,
                "the upload is being written; retry when that request ends",
            ));
        };
        self.store.delete_upload(id).await.map_err(from_store)?;
        self.keep_hash(id, 0, None);
        remove_staged(&self.staged_path(id)).await;
        if let Some(file_id) = upload.file_id {
            self.delete_file(owner, &file_id).await.or_else(|e| {
                if e.code == ErrorCode::UnknownFile {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
        Ok(())
    }

    /// Delete `owner`'s uploaded file `id`.
    pub async fn delete_file(&self, owner: UserId, id: &str) -> FileResult<()> {
        let file = self
            .readable_by(owner, id)
            .await?
            .ok_or_else(unknown_file)?;
        if file.owner != owner || file.purpose != FilePurpose::Upload {
            return Err(unknown_file());
        }
        if let Some(gone) = self.store.delete_file(id).await.map_err(from_store)? {
            self.release(gone).await;
        }
        Ok(())
    }

    /// File `id` if `user` may read it: its owner; for a file sent in a
    /// conversation, the members who can see that seq; for an avatar,
    /// everyone. `None` otherwise, the same as for a missing file.
    pub async fn readable_by(&self, user: UserId, id: &str) -> FileResult<Option<FileRecord>> {
        if !magpie_proto::is_file_id(id) {
            return Ok(None);
        }
        let Some(file) = self.store.file(id).await.map_err(from_store)? else {
            return Ok(None);
        };
        let allowed = match file.purpose {
            FilePurpose::Avatar => true,
            _ if file.owner == user => true,
            FilePurpose::Upload | FilePurpose::Drive => false,
            FilePurpose::Message => match (file.conv, file.seq) {
                (Some(conv), Some(seq)) => self
                    .store
                    .joined_seq(user, conv)
                    .await
                    .map_err(from_store)?
                    .is_some_and(|joined| joined < seq),
                _ => false,
            },
        };
        Ok(allowed.then_some(file))
    }

    /// File `id` whatever its purpose, without an access check: for a
    /// signed URL, whose signature stands for the check.
    pub async fn stored(&self, id: &str) -> FileResult<Option<FileRecord>> {
        if !magpie_proto::is_file_id(id) {
            return Ok(None);
        }
        self.store.file(id).await.map_err(from_store)
    }

    /// Where upload `upload`'s bytes are staged.
    pub fn staged(&self, upload: &str) -> PathBuf {
        self.staged_path(upload)
    }

    pub(crate) fn durable(&self) -> bool {
        self.durable
    }

    /// Record that `upload` now has `to` bytes durably (they are synced),
    /// if it still had `from`.
    pub(crate) async fn advance(
        &self,
        upload: &str,
        from: i64,
        to: i64,
        hasher: Option<Sha256>,
    ) -> FileResult<bool> {
        let moved = self
            .store
            .advance_upload(upload, from, to)
            .await
            .map_err(from_store)?;
        self.keep_hash(upload, to, if moved { hasher } else { None });
        Ok(moved)
    }

    /// The running hash to continue from for an upload at `offset`.
    pub(crate) fn hash_from(&self, upload: &str, offset: i64) -> Option<Sha256> {
        if offset == 0 {
            Some(Sha256::new())
        } else {
            self.running_hash(upload, offset)
        }
    }
}

/// Default and largest page of `files`.
const FILES_PAGE: u32 = 50;
const FILES_PAGE_MAX: u32 = 500;

impl Files {
    /// One page of `owner`'s uploaded files, with their quota use.
    pub async fn list(
        &self,
        owner: UserId,
        req: magpie_proto::FilesList,
        max_frame_bytes: usize,
    ) -> FileResult<magpie_proto::FilesOk> {
        let limit = crate::page::clamp_limit(req.limit, FILES_PAGE, FILES_PAGE_MAX)?;
        let after = req.after.unwrap_or_default();
        let rows = self
            .store
            .files_of(owner, FilePurpose::Upload, &after, limit + 1)
            .await
            .map_err(from_store)?;
        let infos: Vec<FileInfo> = rows.iter().map(file_info).collect();
        let (files, next) =
            crate::page::ByteBudget::new(max_frame_bytes)
                .page_after(infos, limit, |f| f.id.clone());
        Ok(magpie_proto::FilesOk {
            files,
            next,
            quota: self.quota(owner).await?,
        })
    }

    /// One page of the files shared in group `req.conv`, newest first, as
    /// far back as `user` can read (from their join point).
    pub async fn group_files(
        &self,
        user: UserId,
        req: magpie_proto::GroupFiles,
        max_frame_bytes: usize,
    ) -> FileResult<magpie_proto::GroupFilesOk> {
        let limit = crate::page::clamp_limit(req.limit, FILES_PAGE, FILES_PAGE_MAX)?;
        let joined = self
            .store
            .joined_seq(user, req.conv)
            .await
            .map_err(from_store)?
            .ok_or_else(crate::conversations::unknown_conversation)?;
        let before = req.before.unwrap_or(magpie_proto::Seq::MAX);
        let rows = self
            .store
            .files_in(req.conv, joined, before, limit + 1)
            .await
            .map_err(from_store)?;
        let infos: Vec<FileInfo> = rows.iter().map(file_info).collect();
        let (files, next) =
            crate::page::ByteBudget::new(max_frame_bytes)
                .page_after(infos, limit, |f| f.seq.unwrap_or(0));
        Ok(magpie_proto::GroupFilesOk { files, next })
    }

    /// Remove file `file` from group `conv`'s files: its sender may, and
    /// the group's owner and admins. The message that carried it stays
    /// (it still says what was sent); the download then answers 404.
    pub async fn group_file_delete(
        &self,
        user: UserId,
        conv: magpie_proto::ConvId,
        file: &str,
    ) -> FileResult<()> {
        let info = self
            .store
            .group_info(conv, user)
            .await
            .map_err(from_store)?
            .ok_or_else(crate::conversations::unknown_conversation)?;
        let record = self
            .readable_by(user, file)
            .await?
            .filter(|f| f.purpose == FilePurpose::Message && f.conv == Some(conv))
            .ok_or_else(unknown_file)?;
        if record.owner != user && info.role < magpie_proto::GroupRole::Admin {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "not allowed: the file's sender, the owner or an admin",
            ));
        }
        if let Some(gone) = self.store.delete_file(file).await.map_err(from_store)? {
            self.release(gone).await;
        }
        Ok(())
    }

    /// A new avatar file over the content of `file`, which `user` must be
    /// able to read and which must be an image; for a group's avatar,
    /// `conv` marks it as that group's. Readable by every signed-in user.
    pub async fn make_avatar(
        &self,
        user: UserId,
        file: &str,
        conv: Option<magpie_proto::ConvId>,
    ) -> FileResult<FileRecord> {
        let source = self
            .readable_by(user, file)
            .await?
            .ok_or_else(unknown_file)?;
        if file_info(&source).media.kind != magpie_proto::ContentKind::Image {
            return Err(ErrorBody::new(
                ErrorCode::InvalidMedia,
                "an avatar must be an image (JPEG, PNG, GIF or WebP that decodes)",
            ));
        }
        let avatar = FileRecord {
            id: new_id(),
            owner: user,
            name: source.name.clone(),
            purpose: FilePurpose::Avatar,
            conv,
            seq: None,
            created_at: now_ms(),
            blob: source.blob,
        };
        let quota = self.quota_of(user).await?;
        self.store
            .reference_blob(&avatar, quota)
            .await
            .map_err(from_store)?
            .ok_or_else(unknown_file)
    }

    /// Delete the avatar file `id` if it is the avatar this context made:
    /// for a group (`conv`), that group's; otherwise one of `user`'s own.
    /// Anything else (a URL, another context's file) is left alone.
    pub async fn drop_avatar(&self, user: UserId, id: &str, conv: Option<magpie_proto::ConvId>) {
        let Ok(Some(file)) = self.stored(id).await else {
            return;
        };
        let ours = file.purpose == FilePurpose::Avatar
            && file.conv == conv
            && (conv.is_some() || file.owner == user);
        if !ours {
            return;
        }
        match self.store.delete_file(id).await {
            Ok(Some(gone)) => self.release(gone).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "dropping a replaced avatar failed"),
        }
    }

    /// A signed URL for file `id`, if `user` may read it (and, for the
    /// thumbnail, if there is one).
    pub async fn signed_url(
        &self,
        user: UserId,
        req: &magpie_proto::FileUrl,
    ) -> FileResult<magpie_proto::FileUrlOk> {
        let file = self
            .readable_by(user, &req.file)
            .await?
            .ok_or_else(unknown_file)?;
        let variant = if req.thumbnail {
            if file.blob.thumb_key.is_none() {
                return Err(unknown_file());
            }
            download::Variant::Thumbnail
        } else {
            download::Variant::Content
        };
        let expires_at = now_ms() + download::SIGNED_URL_TTL_MS;
        Ok(magpie_proto::FileUrlOk {
            url: download::signed_path(&self.secret, &file.id, variant, expires_at),
            expires_at,
        })
    }
}

/// The exclusive right to write one upload, released when dropped.
#[derive(Debug)]
pub struct WriteClaim<'a> {
    files: &'a Files,
    id: String,
}

impl Drop for WriteClaim<'_> {
    fn drop(&mut self) {
        let mut writing = self.files.writing.lock().unwrap_or_else(|e| e.into_inner());
        writing.remove(&self.id);
    }
}

/// What the client sees of a stored file.
/// An HMAC-SHA256 under the server's shared secret over `fields`, each
/// ended by a newline, after a `purpose` label (so that a signature made
/// for one use is never valid for another). What signed URLs, instant
/// upload challenges and share keys are made of.
pub(crate) fn keyed_mac(secret: &[u8], purpose: &str, fields: &[&[u8]]) -> hmac::Hmac<Sha256> {
    use hmac::{KeyInit, Mac};
    // A 32-byte key is always a valid HMAC key; the fallback is never taken.
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <hmac::Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(purpose.as_bytes());
    for field in fields {
        mac.update(b"\n");
        mac.update(field);
    }
    mac
}

pub fn file_info(file: &FileRecord) -> FileInfo {
    file.info()
}

/// Hash (unless the running hash covers the file), inspect and thumbnail
/// the staged file at `path`. Runs on a blocking thread.
fn inspect(
    path: &Path,
    running: Option<Sha256>,
    limits: &MediaLimits,
) -> std::io::Result<([u8; 32], MediaInfo, Option<media::Thumbnail>)> {
    let sha256: [u8; 32] = match running {
        Some(hasher) => {
            // Still check the file is there: a racing completion may have
            // moved it away.
            std::fs::metadata(path)?;
            hasher.finalize().into()
        }
        None => {
            use std::io::Read;
            let mut file = std::fs::File::open(path)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1024 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            hasher.finalize().into()
        }
    };
    let media = media::probe(path, limits).unwrap_or_else(|e| {
        tracing::debug!(error = %e, "stored as a plain file: the content did not read as media");
        let mut head = Vec::new();
        if let Ok(file) = std::fs::File::open(path) {
            use std::io::Read;
            let _ = file.take(8192).read_to_end(&mut head);
        }
        let (mime, _) = media::sniff(&head);
        MediaInfo {
            mime,
            ..MediaInfo::default()
        }
    });
    let mut media = media;
    // Only an image that decodes whole is an image: one whose header reads
    // but whose data is broken (or a bomb) is kept as a plain file.
    let thumbnail = if media.kind == magpie_proto::ContentKind::Image {
        match media::thumbnail(path, THUMBNAIL_SIDE, limits) {
            Ok(thumb) => Some(thumb),
            Err(e) => {
                tracing::debug!(error = %e, "stored as a plain file: the image does not decode");
                media = MediaInfo {
                    mime: media.mime,
                    ..MediaInfo::default()
                };
                None
            }
        }
    } else {
        None
    };
    Ok((sha256, media, thumbnail))
}

/// A fresh file or upload id: 128 random bits in hex.
pub fn new_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex(&bytes)
}

/// The storage key of new content: fanned out by the hash's first byte,
/// unique by a random suffix (see `magpie_store::files`).
fn blob_key(sha256: &[u8; 32]) -> String {
    let hex = hex(sha256);
    let suffix: [u8; 8] = rand::rng().random();
    format!("blobs/{}/{}-{}", &hex[..2], hex, self::hex(&suffix))
}

/// A file name as stored: the last path component, without control
/// characters, trimmed, at most [`MAX_NAME_CHARS`]; never empty, `.` or
/// `..`.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "file".to_string()
    } else {
        cleaned.to_string()
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn remove_staged(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "removing a staged upload failed"),
    }
}

/// The answer for a file that does not exist or that the caller may not
/// see: always the same.
pub fn unknown_file() -> ErrorBody {
    ErrorBody::new(ErrorCode::UnknownFile, "no such file")
}

fn internal(e: impl std::fmt::Display) -> ErrorBody {
    tracing::error!(error = %e, "file operation failed");
    ErrorBody::new(ErrorCode::Internal, "internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_of_paths_and_controls() {
        let cases = [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\x\\evil.exe", "evil.exe"),
            ("a\u{0}b\nc.txt", "abc.txt"),
            ("..", "file"),
            ("", "file"),
            ("   ", "file"),
            ("dir/", "file"),
            ("会议纪要.docx", "会议纪要.docx"),
            ("gpj.\u{202e}exe", "gpj.exe"),
        ];
        for (given, want) in cases {
            assert_eq!(clean_name(given), want, "{given:?}");
        }
        assert_eq!(
            clean_name(&"x".repeat(1000)).chars().count(),
            MAX_NAME_CHARS
        );
    }
}
