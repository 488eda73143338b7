//! Where blob bytes live: [`BlobStorage`], one `dyn ObjectStore` for
//! reading, listing and deleting, whatever the backend.
//!
//! Writing differs by backend, because tus stages an upload in a local
//! file first (object stores cannot append): on the local backend the
//! staged file is hard-linked into place (no copy, however large), elsewhere it
//! is streamed up in parts.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A failure of the blob storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("blob storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("blob storage I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// The blob storage of this server.
#[derive(Debug, Clone)]
pub struct BlobStorage {
    store: Arc<dyn ObjectStore>,
    /// Set for the local backend: the directory keys are relative to.
    local_root: Option<PathBuf>,
    /// fsync after writing (the server's `durable` setting).
    durable: bool,
}

impl BlobStorage {
    /// Blobs as files under `root` (created if missing).
    pub fn local(root: &Path, durable: bool) -> Result<BlobStorage, StorageError> {
        std::fs::create_dir_all(root)?;
        let store = LocalFileSystem::new_with_prefix(root)?;
        Ok(BlobStorage {
            store: Arc::new(store),
            local_root: Some(root.to_path_buf()),
            durable,
        })
    }

    /// Blobs in an S3-compatible bucket. Uploads are still staged on local
    /// disk (object stores cannot append) and streamed up in parts when
    /// complete.
    pub fn s3(config: &crate::config::S3Config) -> Result<BlobStorage, StorageError> {
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key);
        if !config.endpoint.is_empty() {
            builder = builder
                .with_endpoint(&config.endpoint)
                .with_allow_http(config.endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        Ok(BlobStorage {
            store: Arc::new(builder.build()?),
            local_root: None,
            durable: true,
        })
    }

    /// Store the staged file at `staged` as `key`, leaving `staged` in
    /// place: the caller removes it once the row naming `key` is
    /// committed, so a failure in between can be retried from it. On the
    /// local backend this is a hard link (no copy, however large), so
    /// `staged` must be on the same filesystem as the root (the server
    /// stages under the data directory for that reason).
    pub async fn put_file(&self, key: &str, staged: &Path) -> Result<(), StorageError> {
        match &self.local_root {
            Some(root) => {
                let target = root.join(key);
                let parent = target.parent().map(Path::to_path_buf);
                let staged = staged.to_path_buf();
                let durable = self.durable;
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    if let Some(parent) = &parent {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::hard_link(&staged, &target)?;
                    if durable && let Some(parent) = &parent {
                        // The link is durable once its directory is.
                        std::fs::File::open(parent)?.sync_all()?;
                    }
                    Ok(())
                })
                .await
                .map_err(std::io::Error::other)??;
                Ok(())
            }
            None => {
                let file = tokio::fs::File::open(staged).await?;
                let mut upload = self.store.put_multipart(&ObjectPath::from(key)).await?;
                let mut chunks = tokio_util::io::ReaderStream::with_capacity(file, PART_BYTES);
                let mut part = Vec::with_capacity(PART_BYTES);
                while let Some(chunk) = chunks.next().await {
                    part.extend_from_slice(&chunk?);
                    if part.len() >= PART_BYTES {
                        let full = std::mem::replace(&mut part, Vec::with_capacity(PART_BYTES));
                        upload.put_part(full.into()).await?;
                    }
                }
                if !part.is_empty() {
                    upload.put_part(part.into()).await?;
                }
                upload.complete().await?;
                Ok(())
            }
        }
    }

    /// Store small bytes (a thumbnail) as `key`.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store.put(&ObjectPath::from(key), bytes.into()).await?;
        Ok(())
    }

    /// The bytes of `key` in `range` (the whole object if `None`), as a
    /// stream, so a download never holds more than a chunk in memory.
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, StorageError>>, StorageError> {
        if let Some(root) = &self.local_root {
            // object_store's local reads go 8 KiB at a time, each a hop to
            // a blocking thread; a download of 1.5 GiB made 200,000 of
            // them. Read the file directly in large pieces instead.
            use tokio::io::{AsyncReadExt, AsyncSeekExt};
            let mut file = tokio::fs::File::open(root.join(key)).await?;
            let reader = match range {
                Some(range) => {
                    file.seek(std::io::SeekFrom::Start(range.start)).await?;
                    file.take(range.end - range.start)
                }
                None => file.take(u64::MAX),
            };
            return Ok(
                tokio_util::io::ReaderStream::with_capacity(reader, READ_BYTES)
                    .map_err(StorageError::from)
                    .boxed(),
            );
        }
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&ObjectPath::from(key), options).await?;
        Ok(result.into_stream().map_err(StorageError::from).boxed())
    }

    /// The bytes of `key` in `range`, collected (for proofs of possession:
    /// small ranges only).
    pub async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        Ok(self.store.get_range(&ObjectPath::from(key), range).await?)
    }

    /// Delete `key`; a key that is already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every key under `prefix` with when it was last written (ms since
    /// the epoch), as a stream (for the orphan sweep).
    pub fn list(&self, prefix: &str) -> BoxStream<'static, Result<(String, i64), StorageError>> {
        let prefix = ObjectPath::from(prefix);
        self.store
            .list(Some(&prefix))
            .map_ok(|meta| {
                (
                    meta.location.to_string(),
                    meta.last_modified.timestamp_millis(),
                )
            })
            .map_err(StorageError::from)
            .boxed()
    }
}

/// Piece size of local reads (a download streams this much at a time).
const READ_BYTES: usize = 256 * 1024;

/// Part size for multipart uploads: S3 needs at least 5 MiB per part but
/// the last; more parts in flight would cost memory.
const PART_BYTES: usize = 8 * 1024 * 1024;
