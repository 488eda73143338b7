//! The personal drive (网盘), as client calls: one method per operation,
//! named like it, plus [`Client::drive_list_all`], [`Client::drive_bin_all`],
//! [`Client::drive_shares_all`] and [`Client::drive_search_all`] that read
//! every page, and [`Client::drive_resolve`] that finds an entry by its
//! path (`/docs/2024/plan.txt`).
//!
//! Bytes do not go through these calls: a file is uploaded with
//! [`crate::files::FileClient`] (instantly or by tus) and then placed in
//! the drive with [`Client::drive_put`]; a drive file is downloaded by its
//! [`DriveEntry::file`] id like any other file.
//!
//! Share links are opened over HTTP without an account: [`ShareClient`]
//! unlocks one with its extraction code, lists what it holds and downloads
//! from it (resumably, as [`crate::files::FileClient`] does).

use crate::files::{FileError, ok, save_body};
use crate::{Client, ClientError};
use magpie_proto::{
    DriveEntries, DriveEntriesOk, DriveEntry, DriveInfoOk, DriveList, DriveListOk, DriveMkdir,
    DriveMove, DrivePage, DrivePurge, DrivePurgeOk, DrivePut, DriveRecent, DriveRef, DriveRename,
    DriveSave, DriveSearch, DriveShare, DriveSharesOk, DriveSortKey, DriveUnshare, Empty, EntryId,
    EntryKind, Quota, Request, ShareId, ShareInfo, ShareKey, ShareUnlock, SharedView, is_file_id,
};
use reqwest::StatusCode;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Page size used when a helper reads every page: the largest the server
/// takes, so that long folders need few round trips.
const ALL_PAGES_LIMIT: u32 = 500;

/// Page size of [`Client::drive_search_all`] (the largest `drive_search`
/// takes).
const SEARCH_PAGE_LIMIT: u32 = 100;

/// The names of a drive path, from the top down: `/docs/2024/` →
/// `["docs", "2024"]`. Empty components (doubled or trailing slashes)
/// are skipped, so `/`, `` and `//` all name the top of the drive, which
/// has no entry of its own.
pub fn drive_path_names(path: &str) -> Vec<&str> {
    path.split('/').filter(|name| !name.is_empty()).collect()
}

/// Whether `path` names the top of the drive (`/` or empty).
pub fn is_drive_top(path: &str) -> bool {
    drive_path_names(path).is_empty()
}

impl Client {
    /// One page of a folder (the top of the drive when `list.folder` is
    /// absent), folders first, with the folder's breadcrumb.
    pub async fn drive_list(&self, list: DriveList) -> Result<DriveListOk, ClientError> {
        self.call(Request::DriveList(list)).await
    }

    /// `drive_info`: one entry by id, with the folders it is in.
    pub async fn drive_info(&self, entry: &str) -> Result<DriveInfoOk, ClientError> {
        self.call(Request::DriveInfo(DriveRef {
            entry: entry.to_owned(),
        }))
        .await
    }

    /// Every entry of `folder` (the top when `None`), page by page, in the
    /// order asked for. The answer's `next` is always absent.
    pub async fn drive_list_all(
        &self,
        folder: Option<&str>,
        sort: DriveSortKey,
        desc: bool,
    ) -> Result<DriveListOk, ClientError> {
        let mut offset = None;
        let mut all: Option<DriveListOk> = None;
        loop {
            let page = self
                .drive_list(DriveList {
                    folder: folder.map(str::to_owned),
                    sort,
                    desc,
                    offset,
                    limit: Some(ALL_PAGES_LIMIT),
                })
                .await?;
            let next = page.next;
            match &mut all {
                None => all = Some(page),
                Some(all) => all.entries.extend(page.entries),
            }
            match next {
                Some(next) => offset = crate::next_cursor(offset, next)?,
                None => break,
            }
        }
        // The loop runs at least once, so `all` is set; the fallback only
        // keeps this free of a panic path.
        let mut all = all.unwrap_or(DriveListOk {
            path: Vec::new(),
            entries: Vec::new(),
            next: None,
        });
        all.next = None;
        Ok(all)
    }

    /// The entry at `path` (`/docs/2024/plan.txt`; a leading `/` is
    /// optional), found by listing each folder from the top and matching
    /// names exactly. `None` if some name along the way does not exist, or
    /// names a file where a folder is needed. The top of the drive (see
    /// [`is_drive_top`]) has no entry and resolves to `None` too: callers
    /// that accept it check for it first.
    pub async fn drive_resolve(&self, path: &str) -> Result<Option<DriveEntry>, ClientError> {
        let names = drive_path_names(path);
        let mut folder: Option<EntryId> = None;
        let mut found = None;
        for (i, name) in names.iter().enumerate() {
            let Some(entry) = self.drive_find(folder.as_deref(), name).await? else {
                return Ok(None);
            };
            let last = i + 1 == names.len();
            if !last && entry.kind != EntryKind::Folder {
                return Ok(None);
            }
            folder = Some(entry.id.clone());
            found = Some(entry);
        }
        Ok(found)
    }

    /// The entry named exactly `name` in `folder` (the top when `None`),
    /// reading pages only until it is found: a name is unique within its
    /// folder, and there is no lookup by name on the server.
    pub async fn drive_find(
        &self,
        folder: Option<&str>,
        name: &str,
    ) -> Result<Option<DriveEntry>, ClientError> {
        let mut offset = None;
        loop {
            let page = self
                .drive_list(DriveList {
                    folder: folder.map(str::to_owned),
                    sort: DriveSortKey::Name,
                    desc: false,
                    offset,
                    limit: Some(ALL_PAGES_LIMIT),
                })
                .await?;
            if let Some(entry) = page.entries.into_iter().find(|e| e.name == name) {
                return Ok(Some(entry));
            }
            match page.next {
                Some(next) => offset = crate::next_cursor(offset, next)?,
                None => return Ok(None),
            }
        }
    }

    /// A new folder `name` in `parent` (the top when `None`). With
    /// `rename`, a clash takes the first free `name (1)`, `name (2)`, ...
    /// instead of failing with `name_taken`.
    pub async fn drive_mkdir(
        &self,
        parent: Option<&str>,
        name: &str,
        rename: bool,
    ) -> Result<DriveEntry, ClientError> {
        self.call(Request::DriveMkdir(DriveMkdir {
            parent: parent.map(str::to_owned),
            name: name.to_owned(),
            rename,
        }))
        .await
    }

    /// Place file `file` in the drive, in `parent`, as `name` (the file's
    /// own name if `None`): the caller's own upload becomes the drive file,
    /// any other readable file is saved as a new reference to it.
    pub async fn drive_put(
        &self,
        file: &str,
        parent: Option<&str>,
        name: Option<&str>,
        rename: bool,
    ) -> Result<DriveEntry, ClientError> {
        self.call(Request::DrivePut(DrivePut {
            file: file.to_owned(),
            parent: parent.map(str::to_owned),
            name: name.map(str::to_owned),
            rename,
        }))
        .await
    }

    /// Rename an entry (in place).
    pub async fn drive_rename(
        &self,
        entry: &str,
        name: &str,
        rename: bool,
    ) -> Result<DriveEntry, ClientError> {
        self.call(Request::DriveRename(DriveRename {
            entry: entry.to_owned(),
            name: name.to_owned(),
            rename,
        }))
        .await
    }

    /// Move `entries` (all or none) into `parent` (the top when `None`);
    /// the moved entries as they are now.
    pub async fn drive_move(
        &self,
        entries: &[EntryId],
        parent: Option<&str>,
        rename: bool,
    ) -> Result<DriveEntriesOk, ClientError> {
        self.call(Request::DriveMove(DriveMove {
            entries: entries.to_vec(),
            parent: parent.map(str::to_owned),
            rename,
        }))
        .await
    }

    /// Move `entries` (1 to 100, all or none) to the bin.
    pub async fn drive_delete(&self, entries: &[EntryId]) -> Result<(), ClientError> {
        self.call::<Empty>(Request::DriveDelete(DriveEntries {
            entries: entries.to_vec(),
        }))
        .await
        .map(drop)
    }

    /// One page of the bin.
    pub async fn drive_bin(
        &self,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<DriveEntriesOk, ClientError> {
        self.call(Request::DriveBin(DrivePage { offset, limit }))
            .await
    }

    /// Everything in the bin, page by page.
    pub async fn drive_bin_all(&self) -> Result<Vec<DriveEntry>, ClientError> {
        let mut all = Vec::new();
        let mut offset = None;
        loop {
            let page = self.drive_bin(offset, Some(ALL_PAGES_LIMIT)).await?;
            all.extend(page.entries);
            match page.next {
                Some(next) => offset = crate::next_cursor(offset, next)?,
                None => return Ok(all),
            }
        }
    }

    /// Take `entries` (1 to 100, all or none) out of the bin, back where
    /// they came from; the restored entries.
    pub async fn drive_restore(&self, entries: &[EntryId]) -> Result<DriveEntriesOk, ClientError> {
        self.call(Request::DriveRestore(DriveEntries {
            entries: entries.to_vec(),
        }))
        .await
    }

    /// Delete bin entries for good: `entries`, or the whole bin when
    /// `None`.
    pub async fn drive_purge(
        &self,
        entries: Option<&[EntryId]>,
    ) -> Result<DrivePurgeOk, ClientError> {
        self.call(Request::DrivePurge(DrivePurge {
            entries: entries.map(<[EntryId]>::to_vec),
        }))
        .await
    }

    /// One page of the caller's entries whose name contains `query`
    /// (case-insensitive).
    pub async fn drive_search(
        &self,
        query: &str,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<DriveEntriesOk, ClientError> {
        self.call(Request::DriveSearch(DriveSearch {
            query: query.to_owned(),
            offset,
            limit,
        }))
        .await
    }

    /// Every entry whose name contains `query`, page by page.
    pub async fn drive_search_all(&self, query: &str) -> Result<Vec<DriveEntry>, ClientError> {
        let mut all = Vec::new();
        let mut offset = None;
        loop {
            let page = self
                .drive_search(query, offset, Some(SEARCH_PAGE_LIMIT))
                .await?;
            all.extend(page.entries);
            match page.next {
                Some(next) => offset = crate::next_cursor(offset, next)?,
                None => return Ok(all),
            }
        }
    }

    /// The caller's most recently added files, newest first.
    pub async fn drive_recent(&self, limit: Option<u32>) -> Result<DriveEntriesOk, ClientError> {
        self.call(Request::DriveRecent(DriveRecent { limit })).await
    }

    /// The caller's storage: bytes used, reserved by unfinished uploads,
    /// and the limit.
    pub async fn drive_quota(&self) -> Result<Quota, ClientError> {
        self.call(Request::DriveQuota).await
    }

    /// Make a share link over one of the caller's entries.
    pub async fn drive_share(&self, share: DriveShare) -> Result<ShareInfo, ClientError> {
        self.call(Request::DriveShare(share)).await
    }

    /// One page of the caller's share links.
    pub async fn drive_shares(
        &self,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<DriveSharesOk, ClientError> {
        self.call(Request::DriveShares(DrivePage { offset, limit }))
            .await
    }

    /// Every share link of the caller's, page by page.
    pub async fn drive_shares_all(&self) -> Result<Vec<ShareInfo>, ClientError> {
        let mut all = Vec::new();
        let mut offset = None;
        loop {
            let page = self.drive_shares(offset, Some(ALL_PAGES_LIMIT)).await?;
            all.extend(page.shares);
            match page.next {
                Some(next) => offset = crate::next_cursor(offset, next)?,
                None => return Ok(all),
            }
        }
    }

    /// Revoke share link `share` at once.
    pub async fn drive_unshare(&self, share: &str) -> Result<(), ClientError> {
        self.call::<Empty>(Request::DriveUnshare(DriveUnshare {
            share: share.to_owned(),
        }))
        .await
        .map(drop)
    }

    /// Save what a share link holds (or `save.entries` of a shared
    /// folder) into the caller's drive; the new entries.
    pub async fn drive_save(&self, save: DriveSave) -> Result<DriveEntriesOk, ClientError> {
        self.call(Request::DriveSave(save)).await
    }
}

/// A share link taken apart: the HTTP base it was given with, if it was a
/// full URL, and the share's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// `http://host:port` of a link given as a URL; `None` for a bare id
    /// or a path (`/s/ID`).
    pub base: Option<String>,
    pub share: ShareId,
}

impl ShareLink {
    /// Read a link as people pass it around: `http://host/s/<id>` (with
    /// or without a trailing `/`, query or fragment), `/s/<id>`, or the
    /// bare 32-hex id. `None` if it is none of those.
    pub fn parse(link: &str) -> Option<ShareLink> {
        let link = link.trim();
        if is_file_id(link) {
            return Some(ShareLink {
                base: None,
                share: link.to_owned(),
            });
        }
        let (base, path) = match link.find("://") {
            Some(scheme_end) => {
                let scheme = &link[..scheme_end];
                if scheme != "http" && scheme != "https" {
                    return None;
                }
                let after = &link[scheme_end + 3..];
                let host_end = after.find('/').unwrap_or(after.len());
                let host = &after[..host_end];
                if host.is_empty() {
                    return None;
                }
                (Some(format!("{scheme}://{host}")), &after[host_end..])
            }
            None => (None, link),
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        let id = path.strip_prefix("/s/")?.trim_end_matches('/');
        is_file_id(id).then(|| ShareLink {
            base,
            share: id.to_owned(),
        })
    }
}

/// A client of the HTTP share endpoints (`/api/shares/...`), which need
/// no account: a share is unlocked with its extraction code, and the key
/// that answers opens it until the key expires or the link is revoked.
#[derive(Debug, Clone)]
pub struct ShareClient {
    http: reqwest::Client,
    base: String,
}

impl ShareClient {
    /// A client of the server whose HTTP base is `base` (`http://host:port`).
    pub fn new(base: &str) -> Result<ShareClient, FileError> {
        Ok(ShareClient {
            http: reqwest::Client::builder().build()?,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The HTTP base this client talks to.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, share: &str, rest: &str) -> String {
        format!("{}/api/shares/{}{rest}", self.base, encode(share))
    }

    /// Trade the extraction code for a key to the share. Refusals come as
    /// [`FileError::Server`]: 404 `unknown_share` (no such link, or it no
    /// longer works), 403 `wrong_code`, 429 `rate_limited`.
    pub async fn unlock(&self, share: &str, code: &str) -> Result<ShareKey, FileError> {
        let response = self
            .http
            .post(self.url(share, "/unlock"))
            .json(&ShareUnlock {
                code: code.to_owned(),
            })
            .send()
            .await?;
        Ok(ok(response).await?.json().await?)
    }

    /// The shared entry and, for a folder, one page of `folder` (the shared
    /// folder itself when `None`).
    pub async fn view(
        &self,
        share: &str,
        key: &str,
        folder: Option<&str>,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<SharedView, FileError> {
        let mut query = Vec::new();
        if let Some(folder) = folder {
            query.push(format!("folder={}", encode(folder)));
        }
        if let Some(offset) = offset {
            query.push(format!("offset={offset}"));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        let rest = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        let response = self
            .http
            .get(self.url(share, &rest))
            .header(SHARE_KEY_HEADER, key)
            .send()
            .await?;
        Ok(ok(response).await?.json().await?)
    }

    /// Download `entry` (the shared file, or a file in the shared folder)
    /// to `dest`. The bytes go to `dest.part` first, which is renamed to
    /// `dest` once complete (replacing any file there); an interrupted
    /// download leaves `dest.part`, and the next call fetches only the rest
    /// (Range), trusting it to be a prefix: an entry's content never
    /// changes. `progress(received, total)` as bytes arrive. Returns the
    /// size.
    pub async fn download(
        &self,
        share: &str,
        key: &str,
        entry: &str,
        dest: &Path,
        progress: impl FnMut(u64, u64),
    ) -> Result<u64, FileError> {
        let part = part_path(dest);
        let have = match tokio::fs::metadata(&part).await {
            Ok(meta) if meta.is_file() => meta.len(),
            _ => 0,
        };
        let url = self.url(share, &format!("/files/{}", encode(entry)));
        let mut request = self.http.get(&url).header(SHARE_KEY_HEADER, key);
        if have > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let response = request.send().await?;
        let (response, have) = if response.status() == StatusCode::RANGE_NOT_SATISFIABLE {
            match content_range(&response).map(|(_, total)| total) {
                // The whole file was there already.
                Some(Some(total)) if total == have => {
                    tokio::fs::rename(&part, dest).await?;
                    return Ok(have);
                }
                // Longer than the file: not a prefix of it. Start over.
                _ => {
                    let response = self.http.get(&url).header(SHARE_KEY_HEADER, key).send();
                    (ok(response.await?).await?, 0)
                }
            }
        } else {
            (ok(response).await?, have)
        };
        let total = match response.status() {
            StatusCode::PARTIAL_CONTENT => match content_range(&response) {
                Some((start, Some(total))) if start == have => total,
                _ => {
                    return Err(FileError::Protocol(
                        "the server sent another part of the file than the one asked for".into(),
                    ));
                }
            },
            _ => response.content_length().ok_or_else(|| {
                FileError::Protocol("the download's answer has no Content-Length".into())
            })?,
        };
        let size = save_body(response, &part, have, total, progress).await?;
        if size != total {
            return Err(FileError::Protocol(format!(
                "the download ended at {size} of {total} bytes; run it again to continue"
            )));
        }
        tokio::fs::rename(&part, dest).await?;
        Ok(size)
    }
}

/// The header that carries a share key.
const SHARE_KEY_HEADER: &str = "X-Share-Key";

/// `PATH.part`: where [`ShareClient::download`] writes until it is done.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut part = OsString::from(dest.as_os_str());
    part.push(".part");
    PathBuf::from(part)
}

/// The first byte and the total of a `Content-Range` header (`bytes
/// 100-199/1000`, or `bytes */1000` on a 416); the total is `None` when
/// the server does not know it (`/*`).
fn content_range(response: &reqwest::Response) -> Option<(u64, Option<u64>)> {
    let value = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let total = match total {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    let start = match range {
        "*" => 0,
        range => range.split_once('-')?.0.parse().ok()?,
    };
    Some((start, total))
}

/// `text` made safe as one URL path segment or query value: every byte
/// but the unreserved ones percent-encoded. Ids are plain hex, but they
/// may come from a user's command line.
fn encode(text: &str) -> String {
    use std::fmt::Write;
    text.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn paths_split_into_names() {
        assert_eq!(drive_path_names("/docs/2024/"), ["docs", "2024"]);
        assert_eq!(
            drive_path_names("docs//会议纪要.docx"),
            ["docs", "会议纪要.docx"]
        );
        for top in ["", "/", "//"] {
            assert!(is_drive_top(top), "{top:?}");
        }
        assert!(!is_drive_top("/a"));
    }

    #[test]
    fn share_links_are_read_in_every_form() {
        let full = ShareLink::parse(&format!("http://chat.example:8080/s/{ID}"));
        assert_eq!(
            full,
            Some(ShareLink {
                base: Some("http://chat.example:8080".into()),
                share: ID.into(),
            })
        );
        let with_tail = ShareLink::parse(&format!("https://h/s/{ID}/?code=abcd#x"));
        assert_eq!(with_tail.map(|l| l.base), Some(Some("https://h".into())));
        assert_eq!(
            ShareLink::parse(&format!("/s/{ID}")).map(|l| (l.base, l.share)),
            Some((None, ID.into()))
        );
        assert_eq!(ShareLink::parse(ID).map(|l| l.share), Some(ID.into()));
        for bad in [
            "",
            "http:///s/x",
            "ftp://h/s/0123456789abcdef0123456789abcdef",
            "http://h/x/0123456789abcdef0123456789abcdef",
            "http://h/s/short",
            "0123456789ABCDEF0123456789ABCDEF",
        ] {
            assert_eq!(ShareLink::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode(ID), ID);
        assert_eq!(encode("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
