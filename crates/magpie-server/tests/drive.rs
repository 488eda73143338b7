//! The personal drive end to end, through a real server: folders and files
//! arranged and refused by name, the bin and the purge releasing content,
//! share links opened over HTTP without an account (JSON and the browser
//! page), saving into another drive without copying bytes, quotas, chat
//! integration, search, and every refusal of another user's entries.

mod common;

use common::{TestServer, blob_files, code_of, random_bytes, unique, user};
use magpie_client::files::{FileClient, SendTo};
use magpie_client::{Client, ClientError};
use magpie_proto::*;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use std::path::Path;

/// A logged-in user with an HTTP client of the file API.
struct Person {
    client: Client,
    name: String,
    files: FileClient,
}

async fn person(server: &TestServer) -> Person {
    let url = format!("tcp://{}", server.running().tcp_addr());
    let name = unique("drv");
    let (client, auth) = user(&url, &name).await;
    let token = auth.token.expect("login gives a token");
    let base = base(server);
    Person {
        client,
        name,
        files: FileClient::new(&base, &token).expect("file client"),
    }
}

fn base(server: &TestServer) -> String {
    format!("http://{}", server.running().http_addr())
}

/// Any request, its answer decoded.
async fn call<T: DeserializeOwned>(client: &Client, request: Request) -> Result<T, ClientError> {
    let raw = client.request(request).await?;
    Ok(serde_json::from_str(raw.get()).expect("answer decodes"))
}

async fn mkdir(who: &Person, parent: Option<&str>, name: &str) -> DriveEntry {
    call(
        &who.client,
        Request::DriveMkdir(DriveMkdir {
            parent: parent.map(str::to_string),
            name: name.to_string(),
            rename: false,
        }),
    )
    .await
    .expect("mkdir")
}

async fn put(who: &Person, file: &str, parent: Option<&str>, name: Option<&str>) -> DriveEntry {
    try_put(who, file, parent, name, false).await.expect("put")
}

async fn try_put(
    who: &Person,
    file: &str,
    parent: Option<&str>,
    name: Option<&str>,
    rename: bool,
) -> Result<DriveEntry, ClientError> {
    call(
        &who.client,
        Request::DrivePut(DrivePut {
            file: file.to_string(),
            parent: parent.map(str::to_string),
            name: name.map(str::to_string),
            rename,
        }),
    )
    .await
}

async fn list(who: &Person, folder: Option<&str>) -> DriveListOk {
    try_list(who, folder, DriveSortKey::Name, false)
        .await
        .expect("list")
}

async fn try_list(
    who: &Person,
    folder: Option<&str>,
    sort: DriveSortKey,
    desc: bool,
) -> Result<DriveListOk, ClientError> {
    call(
        &who.client,
        Request::DriveList(DriveList {
            folder: folder.map(str::to_string),
            sort,
            desc,
            offset: None,
            limit: None,
        }),
    )
    .await
}

/// Delete entry `id` of `who`'s to the bin.
async fn delete(who: &Person, id: &str) {
    call::<serde_json::Value>(
        &who.client,
        Request::DriveDelete(DriveEntries {
            entries: vec![id.to_string()],
        }),
    )
    .await
    .expect("delete");
}

/// Empty `who`'s bin.
async fn purge(who: &Person) -> DrivePurgeOk {
    call(&who.client, Request::DrivePurge(DrivePurge::default()))
        .await
        .expect("purge")
}

fn names(entries: &[DriveEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

async fn quota(who: &Person) -> Quota {
    call(&who.client, Request::DriveQuota).await.expect("quota")
}

/// Upload `bytes` as `name` and place it in the drive.
async fn upload_to_drive(
    who: &Person,
    dir: &Path,
    name: &str,
    bytes: &[u8],
    parent: Option<&str>,
) -> DriveEntry {
    let info = upload(who, dir, name, bytes).await;
    put(who, &info.id, parent, None).await
}

async fn upload(who: &Person, dir: &Path, name: &str, bytes: &[u8]) -> FileInfo {
    let path = dir.join(unique("upload"));
    std::fs::write(&path, bytes).expect("write temp file");
    who.files
        .upload_file(&path, name, None, |_, _| {})
        .await
        .expect("upload")
        .1
}

async fn download(who: &Person, file: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("out");
    who.files
        .download(file, &dest, |_, _| {})
        .await
        .expect("download");
    std::fs::read(&dest).expect("read download")
}

async fn share(who: &Person, entry: &str, code: Option<&str>) -> ShareInfo {
    try_share(who, entry, code, None, None)
        .await
        .expect("share")
}

async fn try_share(
    who: &Person,
    entry: &str,
    code: Option<&str>,
    expires_at: Option<i64>,
    max_downloads: Option<u32>,
) -> Result<ShareInfo, ClientError> {
    call(
        &who.client,
        Request::DriveShare(DriveShare {
            entry: entry.to_string(),
            code: code.map(str::to_string),
            expires_at,
            max_downloads,
        }),
    )
    .await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

async fn unlock(server: &TestServer, share: &str, code: &str) -> reqwest::Response {
    http()
        .post(format!("{}/api/shares/{share}/unlock", base(server)))
        .json(&ShareUnlock {
            code: code.to_string(),
        })
        .send()
        .await
        .expect("unlock sent")
}

async fn key_for(server: &TestServer, share: &str, code: &str) -> String {
    let response = unlock(server, share, code).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<ShareKey>().await.expect("key").key
}

async fn view(
    server: &TestServer,
    share: &str,
    key: &str,
    folder: Option<&str>,
) -> reqwest::Response {
    let folder = folder.map_or(String::new(), |f| format!("?folder={f}"));
    http()
        .get(format!("{}/api/shares/{share}{folder}", base(server)))
        .header("X-Share-Key", key)
        .send()
        .await
        .expect("view sent")
}

async fn error_code(response: reqwest::Response) -> String {
    let body: ErrorBody = response.json().await.expect("error body");
    body.code.as_str().to_string()
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn folders_and_files_are_arranged_listed_and_named_safely() {
    let server = TestServer::start().await;
    let me = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let docs = mkdir(&me, None, "文档").await;
    assert_eq!(docs.kind, EntryKind::Folder);
    let year = mkdir(&me, Some(&docs.id), "2026").await;
    let small = upload_to_drive(
        &me,
        dir.path(),
        "b-small.txt",
        &random_bytes(10, 1),
        Some(&year.id),
    )
    .await;
    let big = upload_to_drive(
        &me,
        dir.path(),
        "a-big.bin",
        &random_bytes(5000, 2),
        Some(&year.id),
    )
    .await;
    mkdir(&me, Some(&year.id), "z-folder").await;
    assert_eq!(small.parent.as_deref(), Some(year.id.as_str()));
    assert_eq!(big.size, 5000);
    assert_eq!(
        big.file.as_ref().map(|f| f.name.as_str()),
        Some("a-big.bin"),
        "the upload became the drive file"
    );

    // Folders first, then by the key asked for.
    let by_name = list(&me, Some(&year.id)).await;
    assert_eq!(
        names(&by_name.entries),
        ["z-folder", "a-big.bin", "b-small.txt"]
    );
    assert_eq!(
        by_name
            .path
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["文档", "2026"],
        "the breadcrumb runs from the top down"
    );
    let by_size = try_list(&me, Some(&year.id), DriveSortKey::Size, true)
        .await
        .expect("by size");
    assert_eq!(
        names(&by_size.entries),
        ["z-folder", "a-big.bin", "b-small.txt"]
    );
    let by_size_up = try_list(&me, Some(&year.id), DriveSortKey::Size, false)
        .await
        .expect("by size");
    assert_eq!(
        names(&by_size_up.entries),
        ["z-folder", "b-small.txt", "a-big.bin"]
    );
    assert_eq!(names(&list(&me, None).await.entries), ["文档"]);
    let info: DriveInfoOk = call(
        &me.client,
        Request::DriveInfo(DriveRef {
            entry: small.id.clone(),
        }),
    )
    .await
    .expect("info");
    assert_eq!(info.entry, small);
    assert_eq!(
        info.path
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["文档", "2026"]
    );

    // Names: refused when unsafe, clashes refused or renamed on request.
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "tab\there",
        " pad",
        "\u{202e}exe.txt",
    ] {
        let refused = call::<DriveEntry>(
            &me.client,
            Request::DriveMkdir(DriveMkdir {
                parent: None,
                name: bad.to_string(),
                rename: false,
            }),
        )
        .await;
        assert_eq!(code_of(refused), "invalid_name", "{bad:?}");
    }
    let again = upload(&me, dir.path(), "b-small.txt", &random_bytes(11, 3)).await;
    assert_eq!(
        code_of(try_put(&me, &again.id, Some(&year.id), None, false).await),
        "name_taken"
    );
    let renamed = try_put(&me, &again.id, Some(&year.id), None, true)
        .await
        .expect("put with rename");
    assert_eq!(renamed.name, "b-small (1).txt");

    // Rename, move, and moves that would make a cycle.
    let moved: DriveEntry = call(
        &me.client,
        Request::DriveRename(DriveRename {
            entry: renamed.id.clone(),
            name: "会议纪要.txt".into(),
            rename: false,
        }),
    )
    .await
    .expect("rename");
    assert_eq!(
        moved.file.as_ref().map(|f| f.name.as_str()),
        Some("会议纪要.txt")
    );
    let moved: DriveEntriesOk = call(
        &me.client,
        Request::DriveMove(DriveMove {
            entries: vec![moved.id.clone()],
            parent: None,
            rename: false,
        }),
    )
    .await
    .expect("move to the top");
    assert_eq!(moved.entries[0].parent, None);
    for into in [&docs.id, &year.id] {
        let refused = call::<DriveEntriesOk>(
            &me.client,
            Request::DriveMove(DriveMove {
                entries: vec![docs.id.clone()],
                parent: Some(into.clone()),
                rename: false,
            }),
        )
        .await;
        assert_eq!(code_of(refused), "invalid_move", "into {into}");
    }
    let file_as_folder = try_list(&me, Some(&small.id), DriveSortKey::Name, false).await;
    assert_eq!(code_of(file_as_folder), "invalid_args");
}

#[tokio::test]
async fn another_users_entries_are_unknown_to_every_operation() {
    let server = TestServer::start().await;
    let owner = person(&server).await;
    let other = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = mkdir(&owner, None, "private").await;
    let file = upload_to_drive(
        &owner,
        dir.path(),
        "secret.txt",
        b"secret",
        Some(&folder.id),
    )
    .await;
    let file_id = file.file.as_ref().expect("file info").id.clone();
    let mine = mkdir(&other, None, "mine").await;

    let folder_id = Some(folder.id.clone());
    let cases: Vec<(&str, Request)> = vec![
        (
            "info",
            Request::DriveInfo(DriveRef {
                entry: folder.id.clone(),
            }),
        ),
        (
            "list",
            Request::DriveList(DriveList {
                folder: folder_id.clone(),
                ..DriveList::default()
            }),
        ),
        (
            "mkdir in",
            Request::DriveMkdir(DriveMkdir {
                parent: folder_id.clone(),
                name: "x".into(),
                rename: false,
            }),
        ),
        (
            "rename",
            Request::DriveRename(DriveRename {
                entry: folder.id.clone(),
                name: "x".into(),
                rename: false,
            }),
        ),
        (
            "move theirs",
            Request::DriveMove(DriveMove {
                entries: vec![folder.id.clone()],
                parent: None,
                rename: false,
            }),
        ),
        (
            "move into theirs",
            Request::DriveMove(DriveMove {
                entries: vec![mine.id.clone()],
                parent: folder_id.clone(),
                rename: false,
            }),
        ),
        (
            "delete",
            Request::DriveDelete(DriveEntries {
                entries: vec![file.id.clone()],
            }),
        ),
        (
            "share",
            Request::DriveShare(DriveShare {
                entry: file.id.clone(),
                code: None,
                expires_at: None,
                max_downloads: None,
            }),
        ),
        (
            "put into theirs",
            Request::DrivePut(DrivePut {
                file: file_id.clone(),
                parent: None,
                name: None,
                rename: false,
            }),
        ),
    ];
    for (what, request) in cases {
        let refused = call::<serde_json::Value>(&other.client, request).await;
        let code = code_of(refused);
        assert!(
            code == "unknown_entry" || code == "unknown_file",
            "{what}: {code}"
        );
    }
    // The drive file's own id downloads for its owner only.
    let refused = other
        .files
        .download(&file_id, &dir.path().join("x"), |_, _| {})
        .await;
    assert!(refused.is_err());
    assert_eq!(download(&owner, &file_id).await, b"secret");
    // Nothing changed for the owner.
    assert_eq!(
        names(&list(&owner, Some(&folder.id)).await.entries),
        ["secret.txt"]
    );
}

#[tokio::test]
async fn the_bin_keeps_entries_restorable_and_purging_releases_their_content() {
    let server = TestServer::start().await;
    let me = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = mkdir(&me, None, "project").await;
    let inner = mkdir(&me, Some(&folder.id), "inner").await;
    upload_to_drive(
        &me,
        dir.path(),
        "a.bin",
        &random_bytes(3000, 7),
        Some(&inner.id),
    )
    .await;
    upload_to_drive(
        &me,
        dir.path(),
        "b.bin",
        &random_bytes(4000, 8),
        Some(&folder.id),
    )
    .await;
    assert_eq!(quota(&me).await.used, 7000);
    let stored = blob_files(&server).len();

    delete(&me, &folder.id).await;
    assert!(list(&me, None).await.entries.is_empty());
    assert_eq!(
        code_of(try_list(&me, Some(&inner.id), DriveSortKey::Name, false).await),
        "unknown_entry"
    );
    let bin: DriveEntriesOk = call(&me.client, Request::DriveBin(DrivePage::default()))
        .await
        .expect("bin");
    assert_eq!(names(&bin.entries), ["project"]);
    assert!(bin.entries[0].purge_at.is_some());
    assert_eq!(
        quota(&me).await.used,
        7000,
        "the bin still holds the content"
    );

    // Restored with everything inside, to where it was.
    let restored: DriveEntriesOk = call(
        &me.client,
        Request::DriveRestore(DriveEntries {
            entries: vec![folder.id.clone()],
        }),
    )
    .await
    .expect("restore");
    assert_eq!(restored.entries[0].parent, None);
    assert_eq!(names(&list(&me, Some(&inner.id)).await.entries), ["a.bin"]);

    // Deleted again and purged: content and bytes go.
    delete(&me, &folder.id).await;
    let purged = purge(&me).await;
    assert_eq!(purged.purged, 1);
    assert!(!purged.pending);
    assert_eq!(quota(&me).await.used, 0);
    assert_eq!(
        blob_files(&server).len(),
        stored - 2,
        "both files' bytes are deleted"
    );
    let bin: DriveEntriesOk = call(&me.client, Request::DriveBin(DrivePage::default()))
        .await
        .expect("bin");
    assert!(bin.entries.is_empty());
    let restore_gone = call::<DriveEntriesOk>(
        &me.client,
        Request::DriveRestore(DriveEntries {
            entries: vec![folder.id.clone()],
        }),
    )
    .await;
    assert!(
        restore_gone.map(|ok| ok.entries.is_empty()).unwrap_or(true),
        "a purged entry cannot come back"
    );
}

#[tokio::test]
async fn a_share_link_opens_with_its_code_only_and_stops_when_revoked() {
    let server = TestServer::start().await;
    let me = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = mkdir(&me, None, "照片").await;
    let sub = mkdir(&me, Some(&folder.id), "sub").await;
    let content = random_bytes(10_000, 9);
    let file = upload_to_drive(&me, dir.path(), "a.bin", &content, Some(&sub.id)).await;
    let outside = upload_to_drive(&me, dir.path(), "outside.txt", b"not shared", None).await;

    let link = share(&me, &folder.id, Some("Ab12")).await;
    assert_eq!(link.code, "ab12");
    assert_eq!(link.url, format!("/s/{}", link.id));
    assert!(link.active);

    // Without the right code: nothing, not even the name.
    let no_key = view(&server, &link.id, "", None).await;
    assert_eq!(no_key.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(no_key).await, "wrong_code");
    let wrong = unlock(&server, &link.id, "zzzz").await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let text = wrong.text().await.expect("body");
    assert!(!text.contains("照片") && !text.contains("sub"), "{text}");
    let unknown = unlock(&server, &"0".repeat(32), "ab12").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let malformed = unlock(&server, "../../etc", "ab12").await;
    assert_eq!(malformed.status(), StatusCode::NOT_FOUND);

    // With it (any case): the folder, its sub-folder, and the bytes.
    let key = key_for(&server, &link.id, "AB12").await;
    let shown: SharedView = view(&server, &link.id, &key, None)
        .await
        .json()
        .await
        .expect("view");
    assert_eq!(shown.root.name, "照片");
    assert_eq!(shown.sharer, me.name);
    assert_eq!(
        shown
            .entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["sub"]
    );
    let inside: SharedView = view(&server, &link.id, &key, Some(&sub.id))
        .await
        .json()
        .await
        .expect("sub view");
    assert_eq!(
        inside
            .path
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["照片", "sub"]
    );
    assert_eq!(inside.entries[0].size, 10_000);
    let escape = view(&server, &link.id, &key, Some(&outside.id)).await;
    assert_eq!(
        escape.status(),
        StatusCode::NOT_FOUND,
        "entries outside the share are not served"
    );

    let url = format!("{}/api/shares/{}/files/{}", base(&server), link.id, file.id);
    let whole = http()
        .get(&url)
        .header("X-Share-Key", &key)
        .send()
        .await
        .expect("get");
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(
        whole.bytes().await.expect("bytes").as_ref(),
        content.as_slice()
    );
    let part = http()
        .get(&url)
        .header("X-Share-Key", &key)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.bytes().await.expect("bytes").as_ref(),
        &content[100..200]
    );
    let outside_bytes = http()
        .get(format!(
            "{}/api/shares/{}/files/{}",
            base(&server),
            link.id,
            outside.id
        ))
        .header("X-Share-Key", &key)
        .send()
        .await
        .expect("get");
    assert_eq!(outside_bytes.status(), StatusCode::NOT_FOUND);
    // A key is for its own link only.
    let other_link = share(&me, &outside.id, None).await;
    assert_eq!(
        view(&server, &other_link.id, &key, None).await.status(),
        StatusCode::FORBIDDEN
    );

    // The owner sees the link with its count, and revokes it at once.
    let mine: DriveSharesOk = call(&me.client, Request::DriveShares(DrivePage::default()))
        .await
        .expect("shares");
    let listed = mine
        .shares
        .iter()
        .find(|s| s.id == link.id)
        .expect("listed");
    assert_eq!(listed.downloads, 1, "the range request did not count");
    call::<serde_json::Value>(
        &me.client,
        Request::DriveUnshare(DriveUnshare {
            share: link.id.clone(),
        }),
    )
    .await
    .expect("unshare");
    assert_eq!(
        view(&server, &link.id, &key, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let again = http()
        .get(&url)
        .header("X-Share-Key", &key)
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let other = person(&server).await;
    let refused = call::<serde_json::Value>(
        &other.client,
        Request::DriveUnshare(DriveUnshare {
            share: other_link.id.clone(),
        }),
    )
    .await;
    assert_eq!(code_of(refused), "unknown_share", "only the owner revokes");

    // Deleting the entry stops its links; restoring brings them back.
    delete(&me, &outside.id).await;
    assert_eq!(
        unlock(&server, &other_link.id, &other_link.code)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn expiry_and_download_limits_end_a_link() {
    let server = TestServer::start().await;
    let me = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = upload_to_drive(&me, dir.path(), "once.txt", b"only once", None).await;

    let past = call::<ShareInfo>(
        &me.client,
        Request::DriveShare(DriveShare {
            entry: file.id.clone(),
            code: None,
            expires_at: Some(1),
            max_downloads: None,
        }),
    )
    .await;
    assert_eq!(code_of(past), "invalid_args");
    let bad_code = try_share(&me, &file.id, Some("ab"), None, None).await;
    assert_eq!(code_of(bad_code), "invalid_args");

    let soon = now_ms() + 1500;
    let expiring = try_share(&me, &file.id, None, Some(soon), None)
        .await
        .expect("share");
    assert_eq!(expiring.code.len(), 4);
    assert_eq!(
        unlock(&server, &expiring.id, &expiring.code).await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(
        unlock(&server, &expiring.id, &expiring.code).await.status(),
        StatusCode::NOT_FOUND
    );

    let limited = try_share(&me, &file.id, None, None, Some(2))
        .await
        .expect("share");
    let key = key_for(&server, &limited.id, &limited.code).await;
    let url = format!(
        "{}/api/shares/{}/files/{}",
        base(&server),
        limited.id,
        file.id
    );
    let get = |headers: &[(&str, &str)]| {
        let mut request = http().get(&url).header("X-Share-Key", &key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let first = get(&[]).await.expect("get");
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an etag")
        .to_string();
    // Neither a 304 nor a resumption counts.
    let cached = get(&[("If-None-Match", &etag)]).await.expect("get");
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let resumed = get(&[("Range", "bytes=5-")]).await.expect("get");
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    let second = get(&[]).await.expect("get");
    assert_eq!(second.status(), StatusCode::OK);
    // Spent: every way of asking for the whole file is refused.
    for headers in [
        vec![],
        vec![("Range", "bytes=-100000")],
        vec![("Range", "items=0-")],
        vec![("Range", "bytes=1-2,0-")],
        vec![("Range", "bytes=5-"), ("If-Range", "\"other\"")],
        vec![("Range", "bytes=0-0")],
    ] {
        let refused = get(&headers).await.expect("get");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(error_code(refused).await, "limit_reached");
    }
    let mine: DriveSharesOk = call(&me.client, Request::DriveShares(DrivePage::default()))
        .await
        .expect("shares");
    let listed = mine
        .shares
        .iter()
        .find(|s| s.id == limited.id)
        .expect("listed");
    assert_eq!((listed.downloads, listed.active), (2, false));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[tokio::test]
async fn guessing_codes_is_cut_off_per_link_and_per_address() {
    let server = TestServer::start().await;
    let me = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = upload_to_drive(&me, dir.path(), "x.txt", b"x", None).await;
    let link = share(&me, &file.id, Some("right1")).await;

    // Ten wrong codes, then even the right one is refused for a while.
    for i in 0..9 {
        let wrong = unlock(&server, &link.id, &format!("wrong{i}")).await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "attempt {i}");
    }
    let tenth = unlock(&server, &link.id, "wrong9").await;
    assert_eq!(tenth.status(), StatusCode::TOO_MANY_REQUESTS);
    let right = unlock(&server, &link.id, "right1").await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(right).await, "rate_limited");
    // Saving through the link is refused the same way.
    let other = person(&server).await;
    let save = call::<DriveEntriesOk>(
        &other.client,
        Request::DriveSave(DriveSave {
            share: link.id.clone(),
            code: "right1".into(),
            entries: None,
            parent: None,
        }),
    )
    .await;
    assert_eq!(code_of(save), "rate_limited");

    // Per address: across links, past the address's rate.
    let limited = TestServer::start_with(|c| {
        c.share_code_rate_per_ip = magpie_server::throttle::RateLimit::per_minute(3, 3);
    })
    .await;
    let me = person(&limited).await;
    let mut codes = Vec::new();
    for n in 0..4 {
        let file = upload_to_drive(&me, dir.path(), &format!("{n}.txt"), &[n], None).await;
        codes.push(share(&me, &file.id, None).await);
    }
    for link in &codes[..3] {
        assert_eq!(
            unlock(&limited, &link.id, &link.code).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        unlock(&limited, &codes[3].id, &codes[3].code)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_share_page_works_in_a_browser_and_renders_names_as_text() {
    let server = TestServer::start().await;
    let me = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = mkdir(&me, None, "<img src=x onerror=alert(1)>").await;
    let file = upload_to_drive(
        &me,
        dir.path(),
        "\"><script>alert(2)</script>.txt",
        b"hello",
        Some(&folder.id),
    )
    .await;
    let link = share(&me, &folder.id, None).await;
    let page = format!("{}{}", base(&server), link.url);

    let form = http().get(&page).send().await.expect("page");
    assert_eq!(form.status(), StatusCode::OK);
    let csp = form
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = form.text().await.expect("html");
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert!(
        !html.contains("onerror"),
        "the name is not shown before the code"
    );

    let wrong = http()
        .post(&page)
        .body("code=nope")
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(wrong.text().await.expect("html").contains("wrong"));

    let right = http()
        .post(&page)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("code={}", link.code.to_uppercase()))
        .send()
        .await
        .expect("post");
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let cookie = right
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap_or_default().to_string();

    let listing = http()
        .get(&page)
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("listing");
    assert_eq!(listing.status(), StatusCode::OK);
    let html = listing.text().await.expect("html");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<img") && !html.contains("<script>"),
        "{html}"
    );
    let href = format!("/api/shares/{}/files/{}", link.id, file.id);
    assert!(html.contains(&href), "{html}");
    let bytes = http()
        .get(format!("{}{href}", base(&server)))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("download");
    assert_eq!(bytes.status(), StatusCode::OK);
    assert!(
        bytes
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .starts_with("attachment")
    );
    assert_eq!(bytes.bytes().await.expect("bytes").as_ref(), b"hello");

    // A link carrying its code opens straight away.
    let direct = http()
        .get(format!("{page}?pwd={}", link.code))
        .send()
        .await
        .expect("direct");
    assert_eq!(direct.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn saving_a_share_adds_references_not_bytes_and_counts_against_the_quota() {
    let server = TestServer::start().await;
    let owner = person(&server).await;
    let saver = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = mkdir(&owner, None, "资料").await;
    let inner = mkdir(&owner, Some(&folder.id), "inner").await;
    upload_to_drive(
        &owner,
        dir.path(),
        "one.bin",
        &random_bytes(2000, 11),
        Some(&folder.id),
    )
    .await;
    upload_to_drive(
        &owner,
        dir.path(),
        "two.bin",
        &random_bytes(3000, 12),
        Some(&inner.id),
    )
    .await;
    let link = share(&owner, &folder.id, None).await;
    let stored = blob_files(&server).len();

    let wrong = call::<DriveEntriesOk>(
        &saver.client,
        Request::DriveSave(DriveSave {
            share: link.id.clone(),
            code: "nope".into(),
            entries: None,
            parent: None,
        }),
    )
    .await;
    assert_eq!(code_of(wrong), "wrong_code");

    let target = mkdir(&saver, None, "saved").await;
    let saved: DriveEntriesOk = call(
        &saver.client,
        Request::DriveSave(DriveSave {
            share: link.id.clone(),
            code: link.code.clone(),
            entries: None,
            parent: Some(target.id.clone()),
        }),
    )
    .await
    .expect("save");
    assert_eq!(names(&saved.entries), ["资料"]);
    let copy = &saved.entries[0];
    assert_ne!(copy.id, folder.id);
    let top = list(&saver, Some(&copy.id)).await;
    assert_eq!(names(&top.entries), ["inner", "one.bin"]);
    let deep = list(&saver, Some(&top.entries[0].id)).await;
    assert_eq!(names(&deep.entries), ["two.bin"]);
    assert_eq!(blob_files(&server).len(), stored, "no bytes were copied");
    assert_eq!(quota(&saver).await.used, 5000);
    let two = deep.entries[0].file.as_ref().expect("file").id.clone();
    assert_eq!(download(&saver, &two).await, random_bytes(3000, 12));

    // The owner deleting and purging leaves the saver's copy whole.
    delete(&owner, &folder.id).await;
    purge(&owner).await;
    assert_eq!(quota(&owner).await.used, 0);
    assert_eq!(download(&saver, &two).await, random_bytes(3000, 12));
    assert_eq!(blob_files(&server).len(), stored);

    // A save beyond the saver's quota is refused before anything changes.
    let third = person(&server).await;
    let source =
        upload_to_drive(&saver, dir.path(), "big.bin", &random_bytes(6000, 13), None).await;
    let big = share(&saver, &source.id, None).await;
    let (admin_client, _) = admin(&server).await;
    call::<serde_json::Value>(
        &admin_client,
        Request::AdminQuotaSet(AdminQuotaSet {
            user: third.name.clone(),
            bytes: Some(5000),
        }),
    )
    .await
    .expect("set quota");
    assert_eq!(quota(&third).await.limit, 5000);
    let refused = call::<DriveEntriesOk>(
        &third.client,
        Request::DriveSave(DriveSave {
            share: big.id.clone(),
            code: big.code.clone(),
            entries: None,
            parent: None,
        }),
    )
    .await;
    assert_eq!(code_of(refused), "quota_exceeded");
    assert!(list(&third, None).await.entries.is_empty());
    let plain = call::<serde_json::Value>(
        &third.client,
        Request::AdminQuotaSet(AdminQuotaSet {
            user: third.name.clone(),
            bytes: None,
        }),
    )
    .await;
    assert_eq!(
        code_of(plain),
        "forbidden",
        "only administrators set quotas"
    );
}

/// A new user made administrator directly in the store, as `magpie admin
/// bootstrap` does.
async fn admin(server: &TestServer) -> (Client, String) {
    use magpie_store::AccountChange;
    let url = format!("tcp://{}", server.running().tcp_addr());
    let name = unique("root");
    let (client, _) = user(&url, &name).await;
    let store = &server.running().state().store;
    let id = store
        .user_by_name(&name)
        .await
        .expect("lookup")
        .expect("user exists")
        .id;
    store
        .change_account(
            id,
            &AccountChange {
                role: Some(Role::Admin),
                ..AccountChange::default()
            },
            0,
        )
        .await
        .expect("promote");
    (client, name)
}

#[tokio::test]
async fn drive_files_go_into_chats_and_received_files_into_the_drive() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let mut bob = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let entry = upload_to_drive(
        &alice,
        dir.path(),
        "报告.pdf",
        &random_bytes(4096, 21),
        None,
    )
    .await;
    let file_id = entry.file.as_ref().expect("file").id.clone();

    alice
        .client
        .send_file(SendTo::User(&bob.name), MessageKind::File, &file_id, "")
        .await
        .expect("send from the drive");
    let message = common::next_message(&mut bob.client).await;
    let received = message.file.as_ref().expect("a file message").id.clone();
    assert_eq!(download(&bob, &received).await, random_bytes(4096, 21));

    let kept = put(&bob, &received, None, None).await;
    assert_eq!(kept.name, "报告.pdf");
    assert_eq!(quota(&bob).await.used, 4096);
    // Alice's drive copy goes; Bob's saved copy and the chat's stay.
    delete(&alice, &entry.id).await;
    purge(&alice).await;
    let bob_file = kept.file.as_ref().expect("file").id.clone();
    assert_eq!(download(&bob, &bob_file).await, random_bytes(4096, 21));
    assert_eq!(download(&bob, &received).await, random_bytes(4096, 21));
    // A file Bob cannot read is not his to save.
    let carol = person(&server).await;
    assert_eq!(
        code_of(try_put(&carol, &received, None, None, false).await),
        "unknown_file"
    );
}

#[tokio::test]
async fn search_finds_names_in_any_script_and_recent_lists_new_files() {
    let server = TestServer::start().await;
    let me = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = mkdir(&me, None, "Work").await;
    for (n, name) in [
        "明天会议纪要.docx",
        "Résumé FINAL.pdf",
        "100%_done.txt",
        "notes.md",
    ]
    .iter()
    .enumerate()
    {
        upload_to_drive(&me, dir.path(), name, &[n as u8; 3], Some(&folder.id)).await;
    }
    let search = |query: &str| {
        let query = query.to_string();
        let client = &me.client;
        async move {
            let found: DriveEntriesOk = call(
                client,
                Request::DriveSearch(DriveSearch {
                    query,
                    offset: None,
                    limit: None,
                }),
            )
            .await
            .expect("search");
            found
                .entries
                .into_iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("会议").await, ["明天会议纪要.docx"]);
    assert_eq!(search("résumé final").await, ["Résumé FINAL.pdf"]);
    assert_eq!(
        search("%").await,
        ["100%_done.txt"],
        "wildcards are literal"
    );
    assert_eq!(search("_").await, ["100%_done.txt"]);
    assert!(search("nothing").await.is_empty());
    // Entries in the bin are not found.
    delete(&me, &folder.id).await;
    assert!(search("会议").await.is_empty());
    let long = call::<DriveEntriesOk>(
        &me.client,
        Request::DriveSearch(DriveSearch {
            query: "x".repeat(101),
            offset: None,
            limit: None,
        }),
    )
    .await;
    assert_eq!(code_of(long), "invalid_args");

    call::<DriveEntriesOk>(
        &me.client,
        Request::DriveRestore(DriveEntries {
            entries: vec![folder.id.clone()],
        }),
    )
    .await
    .expect("restore");
    let recent: DriveEntriesOk = call(&me.client, Request::DriveRecent(DriveRecent::default()))
        .await
        .expect("recent");
    assert_eq!(recent.entries.len(), 4);
    assert_eq!(recent.entries[0].name, "notes.md", "newest first");
}

#[tokio::test]
#[ignore = "needs MAGPIE_TEST_S3 and MAGPIE_E2E_DATABASE; run by .ci/run"]
async fn s3_a_share_unlocked_on_one_node_opens_on_another() {
    let cluster = common::S3Cluster::start(2).await;
    let nodes = &cluster.nodes;
    let on = |node: &magpie_server::RunningServer| format!("http://{}", node.http_addr());
    let person_on = async |node: &magpie_server::RunningServer| {
        let name = unique("drv");
        let (client, auth) = user(&format!("tcp://{}", node.tcp_addr()), &name).await;
        let token = auth.token.expect("token");
        Person {
            client,
            name,
            files: FileClient::new(&on(node), &token).expect("file client"),
        }
    };
    let alice = person_on(&nodes[0]).await;
    let bob = person_on(&nodes[1]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let content = random_bytes(100_000, 31);
    let entry = upload_to_drive(&alice, dir.path(), "共享.bin", &content, None).await;
    let link = share(&alice, &entry.id, None).await;

    // Unlocked through node A; the key works on node B (one shared secret).
    let unlocked = http()
        .post(format!("{}/api/shares/{}/unlock", on(&nodes[0]), link.id))
        .json(&ShareUnlock {
            code: link.code.clone(),
        })
        .send()
        .await
        .expect("unlock");
    assert_eq!(unlocked.status(), StatusCode::OK);
    let key = unlocked.json::<ShareKey>().await.expect("key").key;
    let bytes = http()
        .get(format!(
            "{}/api/shares/{}/files/{}",
            on(&nodes[1]),
            link.id,
            entry.id
        ))
        .header("X-Share-Key", &key)
        .send()
        .await
        .expect("download through node B");
    assert_eq!(bytes.status(), StatusCode::OK);
    assert_eq!(
        bytes.bytes().await.expect("bytes").as_ref(),
        content.as_slice()
    );

    // Saved by a user of node B; revoked through node A, refused on B.
    let saved: DriveEntriesOk = call(
        &bob.client,
        Request::DriveSave(DriveSave {
            share: link.id.clone(),
            code: link.code.clone(),
            entries: None,
            parent: None,
        }),
    )
    .await
    .expect("save through node B");
    let kept = saved.entries[0].file.as_ref().expect("a file").id.clone();
    call::<serde_json::Value>(
        &alice.client,
        Request::DriveUnshare(DriveUnshare {
            share: link.id.clone(),
        }),
    )
    .await
    .expect("unshare through node A");
    let after = http()
        .get(format!("{}/api/shares/{}", on(&nodes[1]), link.id))
        .header("X-Share-Key", &key)
        .send()
        .await
        .expect("view");
    assert_eq!(after.status(), StatusCode::NOT_FOUND);
    assert_eq!(download(&bob, &kept).await, content);
    cluster.shutdown().await;
}

#[tokio::test]
async fn the_owners_other_devices_are_told_of_drive_changes() {
    let server = TestServer::start().await;
    let me = person(&server).await;
    let url = format!("tcp://{}", server.running().tcp_addr());
    let mut phone = common::connect(&url).await;
    phone
        .login(&me.name, common::PASSWORD, None)
        .await
        .expect("phone logs in");
    let folder = mkdir(&me, None, "共享").await;
    let change = common::next_change(&mut phone).await;
    match change.event {
        ChangeEvent::DriveEntry(entry) => assert_eq!(*entry, folder),
        other => panic!("a drive_entry change, not {other:?}"),
    }
    delete(&me, &folder.id).await;
    match common::next_change(&mut phone).await.event {
        ChangeEvent::DriveEntry(entry) => {
            assert_eq!(entry.id, folder.id);
            assert!(entry.trashed_at.is_some() && entry.purge_at.is_some());
        }
        other => panic!("a drive_entry change, not {other:?}"),
    }
    purge(&me).await;
    match common::next_change(&mut phone).await.event {
        ChangeEvent::DriveRemoved(removed) => {
            assert_eq!(removed.entries, std::slice::from_ref(&folder.id))
        }
        other => panic!("a drive_removed change, not {other:?}"),
    }
    // A device that was away catches up through `changes`.
    let caught: ChangesOk = call(
        &phone,
        Request::Changes(Changes {
            after: 0,
            limit: None,
        }),
    )
    .await
    .expect("changes");
    let kinds: Vec<&str> = caught
        .changes
        .iter()
        .filter_map(|c| match &c.event {
            ChangeEvent::DriveEntry(_) => Some("drive_entry"),
            ChangeEvent::DriveRemoved(_) => Some("drive_removed"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["drive_entry", "drive_entry", "drive_removed"]);
}
