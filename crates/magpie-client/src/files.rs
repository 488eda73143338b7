//! Files over HTTP: resumable upload (tus 1.0), instant upload by hash,
//! resumable download (Range).
//!
//! Bytes do not travel over the message connection; a [`FileClient`]
//! talks to the server's HTTP listener with the session token of a logged
//! in [`crate::Client`]. Memory stays flat whatever the file size: uploads
//! go in chunks of [`CHUNK_BYTES`] (each hashed for `Upload-Checksum`, so a
//! corrupted chunk is refused rather than stored), downloads stream to
//! disk.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use magpie_proto::{
    ErrorBody, FileInfo, InstantAnswer, InstantOffer, InstantProof, from_hex as unhex,
    to_hex as hex,
};
use reqwest::StatusCode;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Where a file message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendTo<'a> {
    /// A user, by username (their 1:1 conversation).
    User(&'a str),
    /// A conversation the caller is in (a group, or a 1:1 by its id).
    Conv(magpie_proto::ConvId),
}

impl crate::Client {
    /// Send file `file` (uploaded, or received and now forwarded) as a
    /// message of `kind` (`File`, `Image`, `Voice` or `Video`) with an
    /// optional `caption`, under a fresh client message id.
    pub async fn send_file(
        &self,
        to: SendTo<'_>,
        kind: magpie_proto::MessageKind,
        file: &str,
        caption: &str,
    ) -> Result<magpie_proto::SendOk, crate::ClientError> {
        let (to, conv) = match to {
            SendTo::User(user) => (Some(user.to_string()), None),
            SendTo::Conv(conv) => (None, Some(conv)),
        };
        self.call(magpie_proto::Request::Send(magpie_proto::Send {
            to,
            conv,
            cmid: uuid::Uuid::new_v4().to_string(),
            body: caption.to_string(),
            mentions: Vec::new(),
            mention_all: false,
            kind: Some(kind),
            file: Some(file.to_string()),
            reply: None,
        }))
        .await
    }

    /// One page of the files shared in group `conv`, newest first, before
    /// seq `before`.
    pub async fn group_files(
        &self,
        conv: magpie_proto::ConvId,
        before: Option<magpie_proto::Seq>,
        limit: Option<u32>,
    ) -> Result<magpie_proto::GroupFilesOk, crate::ClientError> {
        self.call(magpie_proto::Request::GroupFiles(
            magpie_proto::GroupFiles {
                conv,
                before,
                limit,
            },
        ))
        .await
    }

    /// Remove a file from group `conv`'s files (its sender, or an admin).
    pub async fn group_file_delete(
        &self,
        conv: magpie_proto::ConvId,
        file: &str,
    ) -> Result<(), crate::ClientError> {
        self.call::<magpie_proto::Empty>(magpie_proto::Request::GroupFileDelete(
            magpie_proto::GroupFileDelete {
                conv,
                file: file.to_string(),
            },
        ))
        .await
        .map(drop)
    }

    /// Make image `file` the caller's avatar, or group `conv`'s; the
    /// avatar's own file id (now the profile's or group's `avatar`).
    pub async fn avatar_set(
        &self,
        file: &str,
        conv: Option<magpie_proto::ConvId>,
    ) -> Result<String, crate::ClientError> {
        let ok: magpie_proto::AvatarSetOk = self
            .call(magpie_proto::Request::AvatarSet(magpie_proto::AvatarSet {
                file: file.to_string(),
                conv,
            }))
            .await?;
        Ok(ok.avatar)
    }

    /// One page of the caller's uploaded files, with their quota use.
    pub async fn files(
        &self,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<magpie_proto::FilesOk, crate::ClientError> {
        self.call(magpie_proto::Request::Files(magpie_proto::FilesList {
            after: after.map(str::to_string),
            limit,
        }))
        .await
    }

    /// A file the caller may read.
    pub async fn file_info(&self, file: &str) -> Result<FileInfo, crate::ClientError> {
        self.call(magpie_proto::Request::FileInfo(magpie_proto::FileRef {
            file: file.to_string(),
        }))
        .await
    }

    /// Delete one of the caller's uploaded files.
    pub async fn file_delete(&self, file: &str) -> Result<(), crate::ClientError> {
        self.call::<magpie_proto::Empty>(magpie_proto::Request::FileDelete(magpie_proto::FileRef {
            file: file.to_string(),
        }))
        .await
        .map(drop)
    }

    /// A signed URL (a path on the HTTP port) for a file the caller may
    /// read, usable without the token until it expires: for `<img src>`
    /// and download managers.
    pub async fn file_url(
        &self,
        file: &str,
        thumbnail: bool,
    ) -> Result<magpie_proto::FileUrlOk, crate::ClientError> {
        self.call(magpie_proto::Request::FileUrl(magpie_proto::FileUrl {
            file: file.to_string(),
            thumbnail,
        }))
        .await
    }
}

/// Bytes per PATCH.
pub const CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The server answered with an error.
    #[error("{status}: {}", .error.as_ref().map_or("", |e| e.message.as_str()))]
    Server {
        status: u16,
        error: Option<ErrorBody>,
    },
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server answered something this client does not understand.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl FileError {
    /// The HTTP status of a server error.
    pub fn status(&self) -> Option<u16> {
        match self {
            FileError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An upload's state on the server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UploadStatus {
    pub id: String,
    pub length: u64,
    pub offset: u64,
    pub expires_at: i64,
    pub file: Option<FileInfo>,
}

/// A client of the server's file API.
#[derive(Debug, Clone)]
pub struct FileClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl FileClient {
    /// A client of the server at `base` (`http://host:port`), acting with
    /// session token `token`.
    pub fn new(base: &str, token: &str) -> Result<FileClient, FileError> {
        let http = reqwest::Client::builder().build()?;
        Ok(FileClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// The HTTP base for a message server address: `ws://h:p/ws` →
    /// `http://h:p`; `tcp://h:p` → `http://h:7071` (the default HTTP port).
    pub fn http_base_for(server: &str) -> Option<String> {
        if let Some(rest) = server.strip_prefix("ws://") {
            return Some(format!("http://{}", rest.split('/').next()?));
        }
        if let Some(rest) = server.strip_prefix("wss://") {
            return Some(format!("https://{}", rest.split('/').next()?));
        }
        let rest = server.strip_prefix("tcp://").unwrap_or(server);
        let host = match rest.rsplit_once(':') {
            Some((host, _port)) => host,
            None => rest,
        };
        Some(format!("http://{host}:7071"))
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
    }

    /// Create an upload of `length` bytes named `name`; its URL (a path).
    pub async fn create_upload(&self, length: u64, name: &str) -> Result<String, FileError> {
        let metadata = format!("filename {}", BASE64.encode(name));
        let response = self
            .request(reqwest::Method::POST, "/api/uploads")
            .header("Upload-Length", length)
            .header("Upload-Metadata", metadata)
            .send()
            .await?;
        let response = ok(response).await?;
        response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| FileError::Protocol("no Location in the creation answer".into()))
    }

    /// How many bytes of upload `url` the server has (`HEAD`); `None` if
    /// the upload is gone (expired, terminated, never existed).
    pub async fn upload_offset(&self, url: &str) -> Result<Option<u64>, FileError> {
        let response = self.request(reqwest::Method::HEAD, url).send().await?;
        if response.status() == StatusCode::NOT_FOUND || response.status() == StatusCode::GONE {
            return Ok(None);
        }
        let response = ok(response).await?;
        Ok(Some(offset_of(&response)?))
    }

    /// The state of upload `url`, with its file once complete.
    pub async fn upload_status(&self, url: &str) -> Result<UploadStatus, FileError> {
        let response = self.request(reqwest::Method::GET, url).send().await?;
        Ok(ok(response).await?.json().await?)
    }

    /// Send one chunk at `offset`; the new offset.
    pub async fn patch(&self, url: &str, offset: u64, chunk: Vec<u8>) -> Result<u64, FileError> {
        let checksum = BASE64.encode(Sha256::digest(&chunk));
        let response = self
            .request(reqwest::Method::PATCH, url)
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Checksum", format!("sha256 {checksum}"))
            .body(chunk)
            .send()
            .await?;
        offset_of(&ok(response).await?)
    }

    /// Terminate upload `url` (tus DELETE).
    pub async fn terminate(&self, url: &str) -> Result<(), FileError> {
        let response = self.request(reqwest::Method::DELETE, url).send().await?;
        ok(response).await?;
        Ok(())
    }

    /// Upload the file at `path` as `name`, resuming upload `resume` if it
    /// is given and still there; `progress(sent, total)` after each chunk
    /// (and once at the start, with what the server already had). Returns
    /// the upload's URL and the stored file.
    pub async fn upload_file(
        &self,
        path: &Path,
        name: &str,
        resume: Option<&str>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(String, FileInfo), FileError> {
        let mut file = tokio::fs::File::open(path).await?;
        let total = file.metadata().await?.len();
        let (url, mut offset) = match resume {
            Some(url) => match self.upload_offset(url).await? {
                Some(offset) => (url.to_string(), offset),
                None => (self.create_upload(total, name).await?, 0),
            },
            None => (self.create_upload(total, name).await?, 0),
        };
        progress(offset, total);
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        while offset < total {
            let want =
                usize::try_from((total - offset).min(CHUNK_BYTES as u64)).unwrap_or(CHUNK_BYTES);
            let mut chunk = vec![0u8; want];
            file.read_exact(&mut chunk).await?;
            offset = self.patch(&url, offset, chunk).await?;
            file.seek(std::io::SeekFrom::Start(offset)).await?;
            progress(offset, total);
        }
        let status = self.upload_status(&url).await?;
        let info = status
            .file
            .ok_or_else(|| FileError::Protocol("the upload completed but has no file".into()))?;
        Ok((url, info))
    }

    /// Instant upload: if the server already stores the content of `path`,
    /// prove possession and get a file without sending it. `None` if the
    /// content is not stored (upload it instead).
    pub async fn instant(&self, path: &Path, name: &str) -> Result<Option<FileInfo>, FileError> {
        let (sha256, size) = hash_file(path).await?;
        let offer = InstantOffer {
            sha256: hex(&sha256),
            size,
            name: name.to_string(),
        };
        let response = self
            .request(reqwest::Method::POST, "/api/files/instant")
            .json(&offer)
            .send()
            .await?;
        let answer: InstantAnswer = ok(response).await?.json().await?;
        let Some(challenge) = answer.challenge.filter(|_| answer.stored) else {
            return Ok(None);
        };
        let nonce = unhex(&challenge.nonce)
            .ok_or_else(|| FileError::Protocol("the challenge nonce is not hex".into()))?;
        let mut file = tokio::fs::File::open(path).await?;
        let mut proofs = Vec::with_capacity(challenge.ranges.len());
        for range in &challenge.ranges {
            file.seek(std::io::SeekFrom::Start(range.offset)).await?;
            let mut hasher = Sha256::new();
            hasher.update(&nonce);
            let mut left = range.length;
            let mut buf = vec![0u8; 64 * 1024];
            while left > 0 {
                let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                file.read_exact(&mut buf[..want]).await?;
                hasher.update(&buf[..want]);
                left -= want as u64;
            }
            proofs.push(hex(&hasher.finalize()));
        }
        let proof = InstantProof {
            challenge: challenge.challenge,
            proofs,
        };
        let response = self
            .request(reqwest::Method::POST, "/api/files/instant/proof")
            .json(&proof)
            .send()
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            // Deleted between offer and proof: upload after all.
            return Ok(None);
        }
        Ok(Some(ok(response).await?.json().await?))
    }

    /// The [`FileInfo`] of file `id`.
    pub async fn info(&self, id: &str) -> Result<FileInfo, FileError> {
        let response = self
            .request(reqwest::Method::GET, &format!("/api/files/{id}/info"))
            .send()
            .await?;
        Ok(ok(response).await?.json().await?)
    }

    /// Download file `id` to `dest`. If `dest` already holds part of it
    /// (an interrupted download), only the rest is fetched (Range). The
    /// content under an id never changes, so what is on disk is trusted to
    /// be a prefix: check the result against `FileInfo::sha256` (as the
    /// CLI does) when the partial file may come from elsewhere.
    /// `progress(received, total)` as bytes arrive. Returns the size.
    pub async fn download(
        &self,
        id: &str,
        dest: &Path,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64, FileError> {
        let info = self.info(id).await?;
        let have = match tokio::fs::metadata(dest).await {
            Ok(meta) if meta.len() <= info.size => meta.len(),
            _ => 0,
        };
        let mut request = self.request(reqwest::Method::GET, &format!("/api/files/{id}"));
        if have > 0 {
            request = request
                .header(reqwest::header::RANGE, format!("bytes={have}-"))
                .header(reqwest::header::IF_RANGE, format!("\"{}\"", info.sha256));
        }
        if have == info.size && have > 0 {
            progress(have, info.size);
            return Ok(have);
        }
        let response = ok(request.send().await?).await?;
        save_body(response, dest, have, info.size, progress).await
    }
}

/// Write the body of a download's `response` to `dest`: after the `have`
/// bytes already there when the server sent only the rest (206 Partial
/// Content), replacing whatever was there otherwise. `progress(received,
/// total)` as bytes arrive; returns the bytes now in `dest`. Shared by
/// [`FileClient::download`] and [`crate::drive::ShareClient::download`],
/// so that both resume the same way.
pub(crate) async fn save_body(
    response: reqwest::Response,
    dest: &Path,
    have: u64,
    total: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, FileError> {
    let resumed = response.status() == StatusCode::PARTIAL_CONTENT;
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(!resumed)
        .append(resumed)
        .open(dest)
        .await?;
    // Network reads are ~10 KiB; each unbuffered write would be a hop
    // to a blocking thread.
    let mut out = tokio::io::BufWriter::with_capacity(1024 * 1024, file);
    let mut received = if resumed { have } else { 0 };
    progress(received, total);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        out.write_all(&chunk).await?;
        received += chunk.len() as u64;
        progress(received, total);
    }
    out.flush().await?;
    out.into_inner().sync_all().await?;
    Ok(received)
}

/// SHA-256 and size of the file at `path`, read in blocks.
pub async fn hash_file(path: &Path) -> Result<([u8; 32], u64), FileError> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// The response if it is a success; its error body otherwise.
pub(crate) async fn ok(response: reqwest::Response) -> Result<reqwest::Response, FileError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let error = response.json::<ErrorBody>().await.ok();
    Err(FileError::Server { status, error })
}

fn offset_of(response: &reqwest::Response) -> Result<u64, FileError> {
    response
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| FileError::Protocol("no Upload-Offset in the answer".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_base_follows_the_message_address() {
        let cases = [
            ("ws://chat.example:8080/ws", "http://chat.example:8080"),
            ("wss://chat.example/ws", "https://chat.example"),
            ("tcp://10.0.0.5:7070", "http://10.0.0.5:7071"),
            ("127.0.0.1:7070", "http://127.0.0.1:7071"),
        ];
        for (server, want) in cases {
            assert_eq!(FileClient::http_base_for(server).as_deref(), Some(want));
        }
    }
}
