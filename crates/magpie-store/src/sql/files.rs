//! [`FileStore`] on SQL: the `blobs`, `files` and `uploads` tables.
//!
//! A blob's `refs` is the number of `files` rows over it; it moves in the
//! same transaction as the row that adds or drops a reference, so it is
//! always exact, and a blob row is deleted exactly when its count reaches
//! zero. Files are rare next to messages, so queries are rendered per call.

use super::{SqlStore, Tx, graph, opt_text_column, text_column};
use crate::files::{
    BlobRecord, FilePurpose, FileRecord, FileStore, Finished, QuotaUse, Unreferenced, UploadRecord,
};
use crate::{Refusal, Result};
use async_trait::async_trait;
use magpie_proto::{ConvId, Seq, UserId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

/// A file with its blob.
pub(super) const FILE_SELECT: &str = "SELECT f.id, f.owner, f.name, f.purpose, f.conv_id, f.seq, f.created_at, \
            b.sha256, b.storage_key, b.size, b.mime, b.media, b.thumb_key \
     FROM files f JOIN blobs b ON b.sha256 = f.sha256";

pub(super) const BLOB_SELECT: &str =
    "SELECT sha256, storage_key, size, mime, media, thumb_key FROM blobs WHERE sha256 = ?";

const UPLOAD_SELECT: &str = "SELECT id, owner, total_size, received, name, created_at, expires_at, file_id \
     FROM uploads";

fn hash_column(row: &AnyRow, index: usize) -> sqlx::Result<[u8; 32]> {
    let bytes: Vec<u8> = row.try_get(index)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A blob from the 6 columns starting at `at` (see [`BLOB_SELECT`]).
pub(super) fn blob_at(row: &AnyRow, at: usize) -> sqlx::Result<BlobRecord> {
    Ok(BlobRecord {
        sha256: hash_column(row, at)?,
        storage_key: text_column(row, at + 1)?,
        size: row.try_get(at + 2)?,
        mime: text_column(row, at + 3)?,
        media: opt_text_column(row, at + 4)?,
        thumb_key: opt_text_column(row, at + 5)?,
    })
}

pub(super) fn file_from_row(row: &AnyRow) -> sqlx::Result<FileRecord> {
    Ok(FileRecord {
        id: text_column(row, 0)?,
        owner: row.try_get(1)?,
        name: text_column(row, 2)?,
        purpose: FilePurpose::from_code(row.try_get::<i64, _>(3)?),
        conv: row.try_get(4)?,
        seq: row.try_get(5)?,
        created_at: row.try_get(6)?,
        blob: blob_at(row, 7)?,
    })
}

fn upload_from_row(row: &AnyRow) -> sqlx::Result<UploadRecord> {
    Ok(UploadRecord {
        id: text_column(row, 0)?,
        owner: row.try_get(1)?,
        total_size: row.try_get(2)?,
        received: row.try_get(3)?,
        name: text_column(row, 4)?,
        created_at: row.try_get(5)?,
        expires_at: row.try_get(6)?,
        file_id: opt_text_column(row, 7)?,
    })
}

impl SqlStore {
    /// The files of `rows` (in [`FILE_SELECT`] order).
    pub(super) fn files_from(&self, rows: &[AnyRow]) -> Result<Vec<FileRecord>> {
        rows.iter()
            .map(file_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    pub(super) fn query(&self, template: &str) -> AssertSqlSafe<std::sync::Arc<str>> {
        AssertSqlSafe(self.backend.render(template))
    }

    /// Lock `user`'s row so quota checks of one user run one at a time.
    pub(super) async fn lock_owner(&self, c: &mut AnyConnection, user: UserId) -> Tx<()> {
        let found = sqlx::query(self.query("SELECT id FROM users WHERE id = ?{for_update}"))
            .bind(user)
            .fetch_optional(&mut *c)
            .await?;
        if found.is_none() {
            return Err(Refusal::UnknownUser.into());
        }
        Ok(())
    }

    pub(super) async fn quota_use_in(&self, c: &mut AnyConnection, owner: UserId) -> Tx<QuotaUse> {
        let stored: i64 = sqlx::query(self.query(
            "SELECT CAST(COALESCE(SUM(b.size), 0) AS {int}) FROM blobs b \
             WHERE b.sha256 IN (SELECT f.sha256 FROM files f WHERE f.owner = ?)",
        ))
        .bind(owner)
        .fetch_one(&mut *c)
        .await?
        .try_get(0)?;
        let reserved: i64 = sqlx::query(self.query(
            "SELECT CAST(COALESCE(SUM(total_size), 0) AS {int}) FROM uploads \
             WHERE owner = ? AND file_id IS NULL",
        ))
        .bind(owner)
        .fetch_one(&mut *c)
        .await?
        .try_get(0)?;
        Ok(QuotaUse { stored, reserved })
    }

    async fn create_upload_tx(
        &self,
        c: &mut AnyConnection,
        upload: &UploadRecord,
        quota: i64,
        max_open: u32,
    ) -> Tx<()> {
        self.lock_owner(c, upload.owner).await?;
        let open: i64 = sqlx::query(
            self.query("SELECT COUNT(*) FROM uploads WHERE owner = ? AND file_id IS NULL"),
        )
        .bind(upload.owner)
        .fetch_one(&mut *c)
        .await?
        .try_get(0)?;
        if open >= i64::from(max_open) {
            return Err(Refusal::LimitReached("uploads").into());
        }
        let used = self.quota_use_in(c, upload.owner).await?;
        if used
            .stored
            .saturating_add(used.reserved)
            .saturating_add(upload.total_size)
            > quota
        {
            return Err(Refusal::QuotaExceeded.into());
        }
        sqlx::query(self.query(
            "INSERT INTO uploads (id, owner, total_size, received, name, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(upload.id.as_str())
        .bind(upload.owner)
        .bind(upload.total_size)
        .bind(upload.received)
        .bind(upload.name.as_str())
        .bind(upload.created_at)
        .bind(upload.expires_at)
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    pub(super) async fn file_in(&self, c: &mut AnyConnection, id: &str) -> Tx<Option<FileRecord>> {
        let row = sqlx::query(self.query(&format!("{FILE_SELECT} WHERE f.id = ?")))
            .bind(id)
            .fetch_optional(&mut *c)
            .await?;
        Ok(row.as_ref().map(file_from_row).transpose()?)
    }

    /// Insert `file` over blob `sha256` and count the reference.
    pub(super) async fn insert_file_in(&self, c: &mut AnyConnection, file: &FileRecord) -> Tx<()> {
        sqlx::query(self.query(
            "INSERT INTO files (id, owner, sha256, name, purpose, conv_id, seq, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(file.id.as_str())
        .bind(file.owner)
        .bind(file.blob.sha256.to_vec())
        .bind(file.name.as_str())
        .bind(file.purpose.code())
        .bind(file.conv)
        .bind(file.seq)
        .bind(file.created_at)
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    /// Add one reference to a stored blob; `false` if it is not stored.
    pub(super) async fn add_ref_in(&self, c: &mut AnyConnection, sha256: &[u8; 32]) -> Tx<bool> {
        let done = sqlx::query(self.query("UPDATE blobs SET refs = refs + 1 WHERE sha256 = ?"))
            .bind(sha256.to_vec())
            .execute(&mut *c)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_upload_tx(
        &self,
        c: &mut AnyConnection,
        upload_id: &str,
        blob: &BlobRecord,
        file: &FileRecord,
        now: i64,
    ) -> Tx<Finished> {
        let ours = Unreferenced {
            storage_key: blob.storage_key.clone(),
            thumb_key: blob.thumb_key.clone(),
        };
        let upload =
            sqlx::query(self.query(&format!("{UPLOAD_SELECT} WHERE id = ?{{for_update}}")))
                .bind(upload_id)
                .fetch_optional(&mut *c)
                .await?
                .as_ref()
                .map(upload_from_row)
                .transpose()?;
        let Some(upload) = upload else {
            return Err(Refusal::NoSuchFile.into());
        };
        if let Some(done) = &upload.file_id
            && let Some(file) = self.file_in(c, done).await?
        {
            return Ok(Finished::AlreadyFinished {
                file,
                duplicate: ours,
            });
        }
        let existing = sqlx::query(self.query(&format!("{BLOB_SELECT}{{for_update}}")))
            .bind(blob.sha256.to_vec())
            .fetch_optional(&mut *c)
            .await?
            .map(|row| blob_at(&row, 0))
            .transpose()?;
        let deduplicated = existing.is_some();
        if deduplicated {
            self.add_ref_in(c, &blob.sha256).await?;
        } else {
            sqlx::query(self.query(
                "INSERT INTO blobs (sha256, storage_key, size, mime, media, thumb_key, refs, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
            ))
            .bind(blob.sha256.to_vec())
            .bind(blob.storage_key.as_str())
            .bind(blob.size)
            .bind(blob.mime.as_str())
            .bind(blob.media.as_deref())
            .bind(blob.thumb_key.as_deref())
            .bind(now)
            .execute(&mut *c)
            .await?;
        }
        let mut file = file.clone();
        file.blob = existing.unwrap_or_else(|| blob.clone());
        self.insert_file_in(c, &file).await?;
        sqlx::query(
            self.query("UPDATE uploads SET received = total_size, file_id = ? WHERE id = ?"),
        )
        .bind(file.id.as_str())
        .bind(upload_id)
        .execute(&mut *c)
        .await?;
        Ok(if deduplicated {
            Finished::Deduplicated {
                file,
                duplicate: ours,
            }
        } else {
            Finished::Stored(file)
        })
    }

    async fn reference_blob_tx(
        &self,
        c: &mut AnyConnection,
        file: &FileRecord,
        quota: i64,
    ) -> Tx<Option<FileRecord>> {
        self.lock_owner(c, file.owner).await?;
        let blob = sqlx::query(self.query(&format!("{BLOB_SELECT}{{for_update}}")))
            .bind(file.blob.sha256.to_vec())
            .fetch_optional(&mut *c)
            .await?
            .map(|row| blob_at(&row, 0))
            .transpose()?;
        let Some(blob) = blob else {
            return Ok(None);
        };
        let holds = sqlx::query(self.query("SELECT 1 FROM files WHERE owner = ? AND sha256 = ?"))
            .bind(file.owner)
            .bind(blob.sha256.to_vec())
            .fetch_optional(&mut *c)
            .await?
            .is_some();
        if !holds {
            let used = self.quota_use_in(c, file.owner).await?;
            if used
                .stored
                .saturating_add(used.reserved)
                .saturating_add(blob.size)
                > quota
            {
                return Err(Refusal::QuotaExceeded.into());
            }
        }
        self.add_ref_in(c, &blob.sha256).await?;
        let mut file = file.clone();
        file.blob = blob;
        self.insert_file_in(c, &file).await?;
        Ok(Some(file))
    }

    pub(super) async fn delete_file_tx(
        &self,
        c: &mut AnyConnection,
        id: &str,
    ) -> Tx<Option<Unreferenced>> {
        let Some(file) = self.file_in(c, id).await? else {
            return Err(Refusal::NoSuchFile.into());
        };
        sqlx::query(self.query("DELETE FROM files WHERE id = ?"))
            .bind(id)
            .execute(&mut *c)
            .await?;
        let sha = file.blob.sha256.to_vec();
        sqlx::query(self.query("UPDATE blobs SET refs = refs - 1 WHERE sha256 = ?"))
            .bind(sha.clone())
            .execute(&mut *c)
            .await?;
        let gone = sqlx::query(self.query("DELETE FROM blobs WHERE sha256 = ? AND refs <= 0"))
            .bind(sha)
            .execute(&mut *c)
            .await?
            .rows_affected()
            == 1;
        Ok(gone.then_some(Unreferenced {
            storage_key: file.blob.storage_key,
            thumb_key: file.blob.thumb_key,
        }))
    }
}

#[async_trait]
impl FileStore for SqlStore {
    async fn create_upload(&self, upload: &UploadRecord, quota: i64, max_open: u32) -> Result<()> {
        graph!(self.create_upload_tx(upload, quota, max_open))
    }

    async fn upload(&self, id: &str) -> Result<Option<UploadRecord>> {
        let row = sqlx::query(self.query(&format!("{UPLOAD_SELECT} WHERE id = ?")))
            .bind(id)
            .fetch_optional(&self.writer)
            .await
            .map_err(self.err())?;
        row.as_ref()
            .map(upload_from_row)
            .transpose()
            .map_err(self.err())
    }

    async fn advance_upload(&self, id: &str, from: i64, to: i64) -> Result<bool> {
        let done = sqlx::query(self.query(
            "UPDATE uploads SET received = ? WHERE id = ? AND received = ? AND file_id IS NULL",
        ))
        .bind(to)
        .bind(id)
        .bind(from)
        .execute(&self.writer)
        .await
        .map_err(self.err())?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_upload(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(self.query("DELETE FROM uploads WHERE id = ?"))
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(self.err())?;
        Ok(done.rows_affected() == 1)
    }

    async fn expired_uploads(&self, now: i64, limit: u32) -> Result<Vec<UploadRecord>> {
        let rows = sqlx::query(self.query(&format!(
            "{UPLOAD_SELECT} WHERE expires_at < ? ORDER BY expires_at LIMIT ?"
        )))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(self.err())?;
        rows.iter()
            .map(upload_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(self.err())
    }

    async fn finish_upload(
        &self,
        upload_id: &str,
        blob: &BlobRecord,
        file: &FileRecord,
        now: i64,
    ) -> Result<Finished> {
        graph!(self.finish_upload_tx(upload_id, blob, file, now))
    }

    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<BlobRecord>> {
        let row = sqlx::query(self.query(BLOB_SELECT))
            .bind(sha256.to_vec())
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.map(|row| blob_at(&row, 0))
            .transpose()
            .map_err(self.err())
    }

    async fn reference_blob(&self, file: &FileRecord, quota: i64) -> Result<Option<FileRecord>> {
        graph!(self.reference_blob_tx(file, quota))
    }

    async fn file(&self, id: &str) -> Result<Option<FileRecord>> {
        let row = sqlx::query(self.query(&format!("{FILE_SELECT} WHERE f.id = ?")))
            .bind(id)
            .fetch_optional(&self.readers)
            .await
            .map_err(self.err())?;
        row.as_ref()
            .map(file_from_row)
            .transpose()
            .map_err(self.err())
    }

    async fn delete_file(&self, id: &str) -> Result<Option<Unreferenced>> {
        graph!(self.delete_file_tx(id))
    }

    async fn files_of(
        &self,
        owner: UserId,
        purpose: FilePurpose,
        after: &str,
        limit: u32,
    ) -> Result<Vec<FileRecord>> {
        let rows = sqlx::query(self.query(&format!(
            "{FILE_SELECT} WHERE f.owner = ? AND f.purpose = ? AND f.id > ? ORDER BY f.id LIMIT ?"
        )))
        .bind(owner)
        .bind(purpose.code())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(self.err())?;
        self.files_from(&rows)
    }

    async fn files_in(
        &self,
        conv: ConvId,
        above: Seq,
        before: Seq,
        limit: u32,
    ) -> Result<Vec<FileRecord>> {
        let rows = sqlx::query(self.query(&format!(
            "{FILE_SELECT} WHERE f.conv_id = ? AND f.purpose = 2 AND f.seq > ? AND f.seq < ? \
             ORDER BY f.seq DESC LIMIT ?"
        )))
        .bind(conv)
        .bind(above)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(self.err())?;
        self.files_from(&rows)
    }

    async fn quota_use(&self, owner: UserId) -> Result<QuotaUse> {
        graph!(self.quota_use_in(owner))
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            self.query("{insert_ignore} server_secrets (name, secret) VALUES (?, ?){on_conflict}"),
        )
        .bind(name)
        .bind(candidate.to_vec())
        .execute(&self.writer)
        .await
        .map_err(self.err())?;
        let row = sqlx::query(self.query("SELECT secret FROM server_secrets WHERE name = ?"))
            .bind(name)
            .fetch_one(&self.writer)
            .await
            .map_err(self.err())?;
        row.try_get(0).map_err(self.err())
    }

    async fn known_keys(&self, keys: &[String]) -> Result<Vec<String>> {
        let mut known = Vec::new();
        for chunk in keys.chunks(200) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let template = format!(
                "SELECT storage_key FROM blobs WHERE storage_key IN ({marks}) \
                 UNION SELECT thumb_key FROM blobs WHERE thumb_key IN ({marks})"
            );
            let mut q = sqlx::query(self.query(&template));
            for key in chunk.iter().chain(chunk) {
                q = q.bind(key.as_str());
            }
            let rows = q.fetch_all(&self.readers).await.map_err(self.err())?;
            for row in &rows {
                known.push(text_column(row, 0).map_err(self.err())?);
            }
        }
        Ok(known)
    }
}
