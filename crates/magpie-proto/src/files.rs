//! Files: what a stored file looks like to clients, and the JSON bodies of
//! the HTTP file API that are not tus (instant upload).
//!
//! Bytes never travel over the message protocol: they go up by tus
//! (`/api/uploads`) and down by HTTP GET (`/api/files/{id}`), and the
//! protocol carries only [`FileInfo`]s. See `docs/PROTOCOL.md`, "Files".

use crate::types::{ConvId, Seq, UserId};
use serde::{Deserialize, Serialize};

/// A file's id: 32 lowercase hex digits (128 random bits), so ids cannot
/// be guessed.
pub type FileId = String;

/// Whether `id` has the shape of a [`FileId`] (also the shape of an
/// upload id). Checked before any lookup, so a path with `..` or `/` never
/// reaches storage.
pub fn is_file_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Lowercase hex of `bytes` (file ids, hashes and proofs travel as hex).
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Bytes from hex (either case); `None` if malformed.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What kind of content a file is, decided by the server from its bytes,
/// never from the client's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// Anything else.
    #[default]
    File,
    /// A JPEG, PNG, GIF or WebP image the server could read.
    Image,
    /// Opus audio in an Ogg container.
    Voice,
    /// A video container (MP4, WebM, ...).
    Video,
}

/// Facts read from the content by the server. `kind` and `mime` are always
/// set; the rest where they apply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MediaInfo {
    /// Sniffed from the bytes; `application/octet-stream` when unknown.
    pub mime: String,
    #[serde(default)]
    pub kind: ContentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Voice and video: the duration read from the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Voice: the codec, e.g. `opus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
}

/// A file as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: FileId,
    /// The name it was uploaded with, cleaned of paths and control
    /// characters.
    pub name: String,
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Who uploaded or sent it.
    pub owner: UserId,
    pub created_at: i64,
    /// What the server read from the bytes (type, dimensions, duration).
    pub media: MediaInfo,
    /// Whether `/api/files/{id}/thumbnail` has a server-made thumbnail.
    #[serde(default)]
    pub thumbnail: bool,
    /// For a file sent in a conversation: where, and at which seq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<Seq>,
}

/// `file_info`, `file_delete`: one file by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub file: FileId,
}

/// `file_url`: a signed download URL for a file the caller may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUrl {
    pub file: FileId,
    /// The thumbnail's URL instead of the content's.
    #[serde(default)]
    pub thumbnail: bool,
}

/// The answer to `file_url`: a path on the HTTP port, usable without the
/// session token until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUrlOk {
    pub url: String,
    pub expires_at: i64,
}

/// `files`: one page of the caller's uploaded files, by id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FilesList {
    /// Start after this file id (the previous page's `next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<FileId>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The answer to `files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesOk {
    pub files: Vec<FileInfo>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<FileId>,
    /// What the caller uses of their storage quota.
    pub quota: Quota,
}

/// A user's storage use, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Content the user's files reference (shared content counts once).
    pub used: u64,
    /// Declared lengths of the user's unfinished uploads.
    pub reserved: u64,
    pub limit: u64,
}

/// `group_files`: the files shared in a group, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFiles {
    pub conv: ConvId,
    /// Files sent before this seq (the previous page's `next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Seq>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The answer to `group_files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFilesOk {
    /// Newest first; each with `conv`, `seq` and `owner` (who shared it).
    pub files: Vec<FileInfo>,
    /// Pass as `before` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Seq>,
}

/// `group_file_delete`: remove a file from a group's files (its sender,
/// or the group's owner and admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFileDelete {
    pub conv: ConvId,
    pub file: FileId,
}

/// `avatar_set`: make an image the caller may read their avatar, or with
/// `conv` a group's (owner and admins, as for `group_set`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvatarSet {
    pub file: FileId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvId>,
}

/// The answer to `avatar_set`: the avatar's own file id, now the
/// profile's (or group's) `avatar`. Every signed-in user may read it:
/// `/api/files/{avatar}/thumbnail` is the server-made size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvatarSetOk {
    pub avatar: FileId,
}

/// `POST /api/files/instant`: "I have content with this hash and size;
/// make it a file of mine without sending it, if you already store it."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantOffer {
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    pub size: u64,
    pub name: String,
}

/// One byte range of a proof-of-possession challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteRange {
    pub offset: u64,
    pub length: u64,
}

/// The answer to an [`InstantOffer`] when the content is stored: prove you
/// have it. For each range, send `SHA-256(nonce || bytes of the range)` in
/// hex, in order, to `POST /api/files/instant/proof` with the challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantChallenge {
    /// Opaque and signed by the server; send it back unchanged.
    pub challenge: String,
    /// Random bytes (hex) to prefix to each range before hashing.
    pub nonce: String,
    pub ranges: Vec<ByteRange>,
    /// The challenge is refused after this time (ms since the epoch).
    pub expires_at: i64,
}

/// `POST /api/files/instant/proof`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantProof {
    pub challenge: String,
    /// One hex SHA-256 per range of the challenge, in order.
    pub proofs: Vec<String>,
}

/// The answer to an [`InstantOffer`]: a challenge, or "not stored: upload
/// it" (`stored: false`, no challenge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantAnswer {
    pub stored: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<InstantChallenge>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_malformed_text() {
        assert_eq!(to_hex(&[0, 15, 255]), "000fff");
        assert_eq!(from_hex("000fFF"), Some(vec![0, 15, 255]));
        assert_eq!(from_hex("0g"), None);
        assert_eq!(from_hex("abc"), None);
        assert!(is_file_id(&to_hex(&[7; 16])));
        assert!(!is_file_id("../../../../etc/passwd/aaaaaaaaa"));
        assert!(!is_file_id(&"A".repeat(32)));
    }
}
