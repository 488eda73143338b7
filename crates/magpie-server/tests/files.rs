//! Files end to end over real HTTP: tus uploads (whole, cut, resumed,
//! across a restart), hostile requests each answered with the status tus
//! names and harming nothing, instant upload with proof of possession,
//! content stored once and released with its last reference, downloads
//! with Range, thumbnails, and the sweep.
//!
//! Third-party tus clients (tuspy, tus-js-client) are exercised by
//! `interop/tus/run.sh`, which `.ci/run` runs.

mod common;

use common::{TestServer, blob_files, code_of, random_bytes, unique, user};
use futures::StreamExt;
use magpie_client::files::{FileClient, FileError};
use magpie_proto::{ContentKind, InstantAnswer, InstantProof};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A logged-in user with an HTTP client of the file API.
struct Person {
    /// The message connection.
    client: magpie_client::Client,
    name: String,
    files: FileClient,
    token: String,
    base: String,
}

async fn person(server: &TestServer) -> Person {
    let url = format!("tcp://{}", server.running().tcp_addr());
    let name = unique("file");
    let (client, auth) = user(&url, &name).await;
    let token = auth.token.expect("login gives a token");
    let base = format!("http://{}", server.running().http_addr());
    Person {
        client,
        name,
        files: FileClient::new(&base, &token).expect("file client"),
        token,
        base,
    }
}

impl Person {
    /// The same user on a restarted server (same token, new ports).
    async fn again(self, server: &TestServer) -> Person {
        let base = format!("http://{}", server.running().http_addr());
        let client = connect_as(
            &format!("tcp://{}", server.running().tcp_addr()),
            &self.token,
        )
        .await;
        Person {
            client,
            files: FileClient::new(&base, &self.token).expect("file client"),
            base,
            ..self
        }
    }
}

impl Person {
    /// A raw tus request (Tus-Resumable and the token set).
    fn tus(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
    }

    async fn create(&self, length: u64) -> String {
        self.files
            .create_upload(length, "x.bin")
            .await
            .expect("create upload")
    }

    async fn offset(&self, url: &str) -> Option<u64> {
        self.files.upload_offset(url).await.expect("HEAD")
    }

    async fn patch(&self, url: &str, offset: u64, body: Vec<u8>) -> reqwest::Response {
        self.tus(Method::PATCH, url)
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .body(body)
            .send()
            .await
            .expect("PATCH sent")
    }
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

fn sha_hex(bytes: &[u8]) -> String {
    magpie_proto::to_hex(&Sha256::digest(bytes))
}

async fn download_bytes(person: &Person, id: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("out");
    person
        .files
        .download(id, &dest, |_, _| {})
        .await
        .expect("download");
    std::fs::read(&dest).expect("read download")
}

#[tokio::test]
async fn a_file_uploads_in_chunks_and_downloads_whole_and_by_range() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let content = random_bytes(magpie_client::files::CHUNK_BYTES * 2 + 12_345, 1);
    let path = write_temp(dir.path(), "report.bin", &content);
    let mut seen = Vec::new();
    let (_url, info) = alice
        .files
        .upload_file(&path, "季度报告.bin", None, |sent, total| {
            seen.push((sent, total))
        })
        .await
        .expect("upload");
    assert_eq!(info.size, content.len() as u64);
    assert_eq!(info.sha256, sha_hex(&content));
    assert_eq!(info.name, "季度报告.bin");
    assert_eq!(seen.len(), 4, "a start and three chunks: {seen:?}");
    let staging = server.dir.path().join("files/staging");
    assert_eq!(
        std::fs::read_dir(&staging).expect("staging").count(),
        0,
        "the staged copy goes once the file is recorded"
    );
    assert_eq!(blob_files(&server).len(), 1);
    assert_eq!(download_bytes(&alice, &info.id).await, content);

    let response = alice
        .tus(Method::GET, &format!("/api/files/{}", info.id))
        .header("Range", "bytes=100-199")
        .send()
        .await
        .expect("range GET");
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let total = content.len();
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes 100-199/{total}").as_str()
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        disposition.starts_with("attachment;")
            && disposition.contains("filename*=UTF-8''%E5%AD%A3%E5%BA%A6"),
        "{disposition}"
    );
    let etag = response.headers()["etag"].clone();
    assert_eq!(response.bytes().await.expect("body"), &content[100..200]);

    let cached = alice
        .tus(Method::GET, &format!("/api/files/{}", info.id))
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    let past_end = alice
        .tus(Method::GET, &format!("/api/files/{}", info.id))
        .header("Range", format!("bytes={total}-"))
        .send()
        .await
        .expect("range past the end");
    assert_eq!(past_end.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        past_end.headers()["content-range"],
        format!("bytes */{total}").as_str()
    );
}

#[tokio::test]
async fn a_cut_connection_keeps_the_bytes_that_arrived_and_the_upload_resumes() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let content = random_bytes(1024 * 1024, 2);
    let url = alice.create(content.len() as u64).await;

    // Declare the whole length, send 300 KiB, then close the connection:
    // a client killed mid-request.
    let mut raw = tokio::net::TcpStream::connect(server.running().http_addr())
        .await
        .expect("connect");
    let head = format!(
        "PATCH {url} HTTP/1.1\r\nHost: magpie\r\nAuthorization: Bearer {}\r\n\
         Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        alice.token,
        content.len()
    );
    raw.write_all(head.as_bytes()).await.expect("head");
    raw.write_all(&content[..300 * 1024]).await.expect("part");
    raw.shutdown().await.expect("shutdown");
    drop(raw);

    // The server keeps what it got (no checksum was asked for).
    let mut offset = 0;
    for _ in 0..50 {
        offset = alice.offset(&url).await.expect("upload exists");
        if offset > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        offset > 0 && offset <= 300 * 1024,
        "offset after the cut: {offset}"
    );
    let response = alice
        .patch(&url, offset, content[offset as usize..].to_vec())
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let status = alice.files.upload_status(&url).await.expect("status");
    let file = status.file.expect("complete");
    assert_eq!(file.sha256, sha_hex(&content));
    assert_eq!(download_bytes(&alice, &file.id).await, content);
}

#[tokio::test]
async fn an_upload_resumes_after_a_restart_and_a_rerun_continues() {
    let mut server = TestServer::start().await;
    let alice = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let content = random_bytes(600 * 1024, 3);
    let path = write_temp(dir.path(), "a.bin", &content);
    let url = alice.create(content.len() as u64).await;
    let response = alice.patch(&url, 0, content[..250_000].to_vec()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    server.restart().await;
    let alice = alice.again(&server).await;
    assert_eq!(alice.offset(&url).await, Some(250_000));
    let mut first_report = None;
    let (same_url, info) = alice
        .files
        .upload_file(&path, "a.bin", Some(&url), |sent, _| {
            first_report.get_or_insert(sent);
        })
        .await
        .expect("resume");
    assert_eq!(same_url, url, "the rerun continued the same upload");
    assert_eq!(
        first_report,
        Some(250_000),
        "it started where the server was"
    );
    assert_eq!(download_bytes(&alice, &info.id).await, content);
}

/// One hostile or malformed request and the status it must get.
struct Case {
    name: &'static str,
    method: Method,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
}

fn case(name: &'static str, method: Method, headers: &[(&'static str, &str)], status: u16) -> Case {
    Case {
        name,
        method,
        headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        body: Vec::new(),
        status,
    }
}

#[tokio::test]
async fn hostile_tus_requests_get_the_status_tus_names_and_change_nothing() {
    let server = TestServer::start_with(|c| {
        c.max_file_bytes = 10 * 1024 * 1024;
        c.quota_bytes = 16 * 1024 * 1024;
    })
    .await;
    let alice = person(&server).await;
    let bob = person(&server).await;
    let url = alice.create(1000).await;
    assert_eq!(alice.patch(&url, 0, vec![1; 100]).await.status(), 204);
    let octet = ("Content-Type", "application/offset+octet-stream");
    let sha1_of_wrong = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(sha1_digest(b"other"))
    };

    let creation = [
        case(
            "no Tus-Resumable",
            Method::POST,
            &[("Upload-Length", "10")],
            412,
        ),
        case(
            "no Upload-Length",
            Method::POST,
            &[("Tus-Resumable", "1.0.0")],
            400,
        ),
        case(
            "negative length",
            Method::POST,
            &[("Tus-Resumable", "1.0.0"), ("Upload-Length", "-1")],
            400,
        ),
        case(
            "absurd length",
            Method::POST,
            &[
                ("Tus-Resumable", "1.0.0"),
                ("Upload-Length", "99999999999999999999999"),
            ],
            400,
        ),
        case(
            "over the file limit",
            Method::POST,
            &[("Tus-Resumable", "1.0.0"), ("Upload-Length", "10485761")],
            413,
        ),
        case(
            "metadata not base64",
            Method::POST,
            &[
                ("Tus-Resumable", "1.0.0"),
                ("Upload-Length", "10"),
                ("Upload-Metadata", "filename ***"),
            ],
            400,
        ),
        case(
            "deferred length",
            Method::POST,
            &[("Tus-Resumable", "1.0.0"), ("Upload-Defer-Length", "1")],
            400,
        ),
    ];
    let patches = [
        case(
            "wrong content type",
            Method::PATCH,
            &[("Upload-Offset", "100"), ("Content-Type", "text/plain")],
            415,
        ),
        case(
            "offset behind",
            Method::PATCH,
            &[("Upload-Offset", "50"), octet],
            409,
        ),
        case(
            "offset ahead",
            Method::PATCH,
            &[("Upload-Offset", "500"), octet],
            409,
        ),
        case(
            "negative offset",
            Method::PATCH,
            &[("Upload-Offset", "-100"), octet],
            400,
        ),
        case("no offset", Method::PATCH, &[octet], 400),
        case(
            "unknown checksum algorithm",
            Method::PATCH,
            &[
                ("Upload-Offset", "100"),
                octet,
                ("Upload-Checksum", "md5 AAAA"),
            ],
            400,
        ),
        Case {
            body: vec![7; 50],
            ..case(
                "wrong checksum",
                Method::PATCH,
                &[
                    ("Upload-Offset", "100"),
                    octet,
                    ("Upload-Checksum", &format!("sha1 {sha1_of_wrong}")),
                ],
                460,
            )
        },
        Case {
            body: vec![7; 901],
            ..case(
                "past Upload-Length",
                Method::PATCH,
                &[("Upload-Offset", "100"), octet],
                413,
            )
        },
    ];
    for c in creation {
        let mut request = reqwest::Client::new()
            .request(c.method.clone(), format!("{}/api/uploads", alice.base))
            .bearer_auth(&alice.token);
        for (k, v) in &c.headers {
            request = request.header(*k, v);
        }
        let response = request.body(c.body).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), c.status, "{}", c.name);
    }
    for c in patches {
        let mut request = alice.tus(c.method.clone(), &url);
        for (k, v) in &c.headers {
            request = request.header(*k, v);
        }
        let response = request.body(c.body).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), c.status, "{}", c.name);
        assert_eq!(
            alice.offset(&url).await,
            Some(100),
            "{} changed the upload",
            c.name
        );
    }

    // Someone else's upload, a missing one and a path trick all look alike.
    for (who, path) in [
        (&bob, url.clone()),
        (
            &alice,
            "/api/uploads/00000000000000000000000000000000".to_string(),
        ),
        (&alice, "/api/uploads/..%2F..%2Fetc%2Fpasswd".to_string()),
    ] {
        let head = who.tus(Method::HEAD, &path).send().await.expect("HEAD");
        assert_eq!(head.status(), StatusCode::NOT_FOUND, "HEAD {path}");
        let patch = who.patch(&path, 100, vec![1; 10]).await;
        assert_eq!(patch.status(), StatusCode::NOT_FOUND, "PATCH {path}");
    }
    assert_eq!(alice.offset(&url).await, Some(100));

    // No token, or a wrong one.
    for token in ["", "not-a-token"] {
        let response = reqwest::Client::new()
            .head(format!("{}{}", alice.base, url))
            .header("Tus-Resumable", "1.0.0")
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "token {token:?}"
        );
    }

    // The quota counts open uploads: 1000 + 10 MiB fit in 16 MiB, a
    // further 10 MiB does not.
    let big = alice.create(10 * 1024 * 1024).await;
    let refused = alice.files.create_upload(10 * 1024 * 1024, "y").await;
    assert!(
        matches!(&refused, Err(FileError::Server { status: 413, error: Some(e) }) if e.code == magpie_proto::ErrorCode::QuotaExceeded),
        "{refused:?}"
    );
    // Terminating returns the reservation.
    alice.files.terminate(&big).await.expect("terminate");
    assert_eq!(alice.offset(&big).await, None);
    alice
        .files
        .create_upload(10 * 1024 * 1024, "y")
        .await
        .expect("fits again");
}

fn sha1_digest(bytes: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(bytes).to_vec()
}

#[tokio::test]
async fn a_chunk_with_the_right_checksum_is_kept() {
    use base64::Engine;
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let url = alice.create(10).await;
    for (algorithm, digest) in [
        ("sha1", sha1_digest(b"01234")),
        ("sha256", Sha256::digest(b"01234").to_vec()),
    ] {
        let offset = alice.offset(&url).await.expect("exists");
        let response = alice
            .tus(Method::PATCH, &url)
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .header(
                "Upload-Checksum",
                format!(
                    "{algorithm} {}",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                ),
            )
            .body(b"01234".to_vec())
            .send()
            .await
            .expect("PATCH");
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{algorithm}");
    }
    let file = alice.files.upload_status(&url).await.expect("status").file;
    assert_eq!(file.expect("complete").sha256, sha_hex(b"0123401234"));
}

#[tokio::test]
async fn a_second_writer_of_one_upload_is_told_it_is_locked() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let url = alice.create(2000).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
    let slow = {
        let request = alice
            .tus(Method::PATCH, &url)
            .header("Upload-Offset", 0)
            .header("Content-Type", "application/offset+octet-stream")
            .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)));
        tokio::spawn(async move { request.send().await })
    };
    tx.send(Ok(bytes::Bytes::from(vec![1u8; 1000])))
        .await
        .expect("first half");
    // Wait until the first PATCH holds the upload (its bytes arrived).
    let mut status = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Offset 1 is never right here, so a try that comes before the
        // first PATCH holds the upload writes nothing (409); one while it
        // holds it is refused as locked before the offset is looked at.
        status = alice.patch(&url, 1, vec![2; 10]).await.status().as_u16();
        if status == 423 {
            break;
        }
    }
    assert_eq!(status, 423, "a concurrent PATCH is refused as locked");
    tx.send(Ok(bytes::Bytes::from(vec![1u8; 1000])))
        .await
        .expect("second half");
    drop(tx);
    let first = slow.await.expect("join").expect("first PATCH");
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    let file = alice.files.upload_status(&url).await.expect("status").file;
    assert_eq!(file.expect("complete").sha256, sha_hex(&[1u8; 2000]));
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn an_expired_upload_is_gone_and_the_sweep_removes_its_bytes() {
    let server = TestServer::start_with(|c| c.upload_ttl = Duration::from_secs(1)).await;
    let alice = person(&server).await;
    let url = alice.create(1000).await;
    assert_eq!(alice.patch(&url, 0, vec![1; 10]).await.status(), 204);
    let staging = server.dir.path().join("files/staging");
    assert_eq!(std::fs::read_dir(&staging).expect("staging").count(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(alice.offset(&url).await, None, "expired uploads are gone");
    assert_eq!(
        alice.patch(&url, 10, vec![1; 10]).await.status(),
        StatusCode::NOT_FOUND
    );
    let swept = server.running().state().files.sweep(Duration::ZERO).await;
    assert_eq!(swept.expired_uploads, 1);
    assert_eq!(std::fs::read_dir(&staging).expect("staging").count(), 0);
}

#[tokio::test]
async fn others_get_the_same_404_for_a_file_as_for_no_file() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let bob = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp(dir.path(), "secret.txt", b"the plan");
    let (_url, info) = alice
        .files
        .upload_file(&path, "secret.txt", None, |_, _| {})
        .await
        .expect("upload");
    let mut answers = Vec::new();
    for id in [
        info.id.as_str(),
        "0123456789abcdef0123456789abcdef",
        "..%2Fsecret",
    ] {
        for suffix in ["", "/info", "/thumbnail"] {
            let response = bob
                .tus(Method::GET, &format!("/api/files/{id}{suffix}"))
                .send()
                .await
                .expect("GET");
            let status = response.status();
            let body = response.bytes().await.expect("body");
            answers.push((format!("{id}{suffix}"), status, body));
        }
    }
    for (what, status, body) in &answers {
        assert_eq!(*status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(body, &answers[0].2, "{what} answers like a missing file");
    }
    let deleted = bob
        .tus(Method::DELETE, &format!("/api/files/{}", info.id))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), StatusCode::NOT_FOUND);
    assert_eq!(download_bytes(&alice, &info.id).await, b"the plan");
}

#[tokio::test]
async fn instant_upload_needs_proof_and_stores_content_once() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let bob = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Large enough to be proved by ranges, not whole.
    let content = random_bytes(3 * 1024 * 1024 + 7, 4);
    let path = write_temp(dir.path(), "movie.bin", &content);
    assert_eq!(
        bob.files.instant(&path, "movie.bin").await.expect("offer"),
        None,
        "nothing stored yet"
    );
    let (_url, original) = alice
        .files
        .upload_file(&path, "movie.bin", None, |_, _| {})
        .await
        .expect("upload");
    assert_eq!(blob_files(&server).len(), 1);

    let copy = bob
        .files
        .instant(&path, "my copy.bin")
        .await
        .expect("instant")
        .expect("stored, so instant");
    assert_ne!(copy.id, original.id);
    assert_eq!(
        (copy.sha256.as_str(), copy.name.as_str()),
        (original.sha256.as_str(), "my copy.bin")
    );
    assert_eq!(blob_files(&server).len(), 1, "stored once");
    assert_eq!(download_bytes(&bob, &copy.id).await, content);

    // A hash alone gets nothing: wrong proofs, someone else's challenge,
    // a wrong size.
    let offer = serde_json::json!({"sha256": original.sha256, "size": content.len(), "name": "x"});
    let ask = |who: &Person| {
        who.tus(Method::POST, "/api/files/instant")
            .json(&offer)
            .send()
    };
    let answer: InstantAnswer = ask(&bob).await.expect("offer").json().await.expect("json");
    let challenge = answer.challenge.expect("stored");
    assert_eq!(challenge.ranges.len(), 4);
    let wrong = InstantProof {
        challenge: challenge.challenge.clone(),
        proofs: vec![sha_hex(b"guess"); 4],
    };
    let refused = bob
        .tus(Method::POST, "/api/files/instant/proof")
        .json(&wrong)
        .send()
        .await
        .expect("proof");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let carol = person(&server).await;
    let stolen = carol
        .tus(Method::POST, "/api/files/instant/proof")
        .json(&wrong)
        .send()
        .await
        .expect("proof");
    assert_eq!(stolen.status(), StatusCode::FORBIDDEN);
    let mut tampered = challenge.challenge.clone();
    tampered.insert(3, 'x');
    let forged = bob
        .tus(Method::POST, "/api/files/instant/proof")
        .json(&InstantProof {
            challenge: tampered,
            proofs: wrong.proofs.clone(),
        })
        .send()
        .await
        .expect("proof");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let other_size = serde_json::json!({"sha256": original.sha256, "size": 5, "name": "x"});
    let answer: InstantAnswer = bob
        .tus(Method::POST, "/api/files/instant")
        .json(&other_size)
        .send()
        .await
        .expect("offer")
        .json()
        .await
        .expect("json");
    assert!(!answer.stored);
}

#[tokio::test]
async fn content_goes_with_its_last_reference_and_the_sweep_takes_orphans() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let bob = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp(dir.path(), "shared.bin", &random_bytes(4096, 5));
    let (_url, original) = alice
        .files
        .upload_file(&path, "shared.bin", None, |_, _| {})
        .await
        .expect("upload");
    let copy = bob
        .files
        .instant(&path, "shared.bin")
        .await
        .expect("instant")
        .expect("stored");
    let delete =
        |who: &Person, id: &str| who.tus(Method::DELETE, &format!("/api/files/{id}")).send();
    assert_eq!(
        delete(&alice, &original.id).await.expect("DELETE").status(),
        204
    );
    assert_eq!(blob_files(&server).len(), 1, "bob still references it");
    assert_eq!(download_bytes(&bob, &copy.id).await.len(), 4096);
    assert_eq!(delete(&bob, &copy.id).await.expect("DELETE").status(), 204);
    assert!(
        blob_files(&server).is_empty(),
        "the last reference took the bytes"
    );

    // Bytes no row names (a crash between writing and recording) go with
    // the sweep; referenced bytes stay.
    let (_url, kept) = alice
        .files
        .upload_file(&path, "again.bin", None, |_, _| {})
        .await
        .expect("upload");
    let orphan = server.dir.path().join("files/blobs/00/orphan");
    std::fs::create_dir_all(orphan.parent().expect("parent")).expect("mkdir");
    std::fs::write(&orphan, b"left by a crash").expect("write orphan");
    let swept = server.running().state().files.sweep(Duration::ZERO).await;
    assert_eq!(swept.orphan_blobs, 1);
    assert!(!orphan.exists());
    assert_eq!(download_bytes(&alice, &kept.id).await.len(), 4096);
}

#[tokio::test]
async fn an_image_gets_its_dimensions_and_a_thumbnail_from_its_bytes() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let image = image::RgbImage::from_fn(800, 600, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let path = dir.path().join("photo.png");
    image.save(&path).expect("encode png");
    // The name claims a PDF; the bytes say PNG, and the bytes win.
    let (_url, info) = alice
        .files
        .upload_file(&path, "photo.pdf", None, |_, _| {})
        .await
        .expect("upload");
    assert_eq!(info.media.kind, ContentKind::Image);
    assert_eq!(info.media.mime, "image/png");
    assert_eq!(
        (info.media.width, info.media.height),
        (Some(800), Some(600))
    );
    assert!(info.thumbnail);
    let response = alice
        .tus(Method::GET, &format!("/api/files/{}/thumbnail", info.id))
        .send()
        .await
        .expect("thumbnail");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let bytes = response.bytes().await.expect("body");
    let thumb = image::load_from_memory(&bytes).expect("decodes");
    assert_eq!((thumb.width(), thumb.height()), (320, 240));
    let download = alice
        .tus(Method::GET, &format!("/api/files/{}", info.id))
        .send()
        .await
        .expect("GET");
    assert_eq!(download.headers()["content-type"], "image/png");
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("inline;")
    );

    // A broken "image" is stored as a plain file, without a thumbnail.
    let mut broken = std::fs::read(&path).expect("read");
    broken.truncate(100);
    let broken_path = write_temp(dir.path(), "broken.png", &broken);
    let (_url, info) = alice
        .files
        .upload_file(&broken_path, "broken.png", None, |_, _| {})
        .await
        .expect("upload");
    assert_eq!(info.media.kind, ContentKind::File);
    assert!(!info.thumbnail);
}

#[tokio::test]
async fn files_are_listed_and_a_signed_url_works_without_the_token_for_its_file_only() {
    let server = TestServer::start().await;
    let url = format!("tcp://{}", server.running().tcp_addr());
    let name = unique("file");
    let (client, auth) = user(&url, &name).await;
    let base = format!("http://{}", server.running().http_addr());
    let files = FileClient::new(&base, auth.token.as_deref().expect("token")).expect("client");
    let (_bob_client, bob_auth) = user(&url, &unique("file")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ids = Vec::new();
    for i in 0..3u8 {
        let path = write_temp(dir.path(), "f.bin", &random_bytes(1000, 10 + i));
        let (_url, info) = files
            .upload_file(&path, &format!("f{i}.bin"), None, |_, _| {})
            .await
            .expect("upload");
        ids.push(info.id);
    }
    let first = client.files(None, Some(2)).await.expect("files");
    assert_eq!(first.files.len(), 2);
    assert_eq!(first.quota.used, 3000);
    let rest = client
        .files(first.next.as_deref(), Some(2))
        .await
        .expect("files");
    assert_eq!(rest.files.len(), 1);
    assert_eq!(rest.next, None);
    let mut listed: Vec<String> = first
        .files
        .iter()
        .chain(&rest.files)
        .map(|f| f.id.clone())
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);

    let signed = client.file_url(&ids[0], false).await.expect("signed url");
    let plain = reqwest::get(format!("{base}{}", signed.url))
        .await
        .expect("GET");
    assert_eq!(plain.status(), StatusCode::OK, "no token needed");
    assert_eq!(plain.bytes().await.expect("body").len(), 1000);
    let tampered = signed.url.replace(&ids[0], &ids[1]);
    let refused = reqwest::get(format!("{base}{tampered}"))
        .await
        .expect("GET");
    assert_eq!(
        refused.status(),
        StatusCode::NOT_FOUND,
        "a signature is for one file"
    );
    assert_eq!(
        code_of(client.file_url(&ids[0], true).await),
        "unknown_file",
        "no thumbnail for a plain file"
    );

    // Bob may not see, sign or delete Alice's files.
    let bob = connect_as(&url, bob_auth.token.as_deref().expect("token")).await;
    assert_eq!(code_of(bob.file_url(&ids[0], false).await), "unknown_file");
    assert_eq!(code_of(bob.file_info(&ids[0]).await), "unknown_file");
    assert_eq!(code_of(bob.file_delete(&ids[0]).await), "unknown_file");
    assert_eq!(code_of(bob.file_info("not-an-id").await), "unknown_file");

    client.file_delete(&ids[0]).await.expect("delete");
    assert_eq!(code_of(client.file_info(&ids[0]).await), "unknown_file");
    let after = client.files(None, None).await.expect("files");
    assert_eq!((after.files.len(), after.quota.used), (2, 2000));
}

async fn connect_as(url: &str, token: &str) -> magpie_client::Client {
    let client = common::connect(url).await;
    client.resume(token).await.expect("resume");
    client
}

async fn upload(who: &Person, dir: &Path, name: &str, bytes: &[u8]) -> magpie_proto::FileInfo {
    let path = write_temp(dir, name, bytes);
    who.files
        .upload_file(&path, name, None, |_, _| {})
        .await
        .expect("upload")
        .1
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

#[tokio::test]
async fn a_file_sent_in_a_chat_reaches_the_peer_who_alone_may_download_it() {
    use magpie_client::files::SendTo;
    use magpie_proto::MessageKind;
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let mut bob = person(&server).await;
    let carol = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = upload(&alice, dir.path(), "photo.png", &png(64, 48)).await;
    let doc = upload(&alice, dir.path(), "notes.txt", b"plain words").await;

    let ack = alice
        .client
        .send_file(
            SendTo::User(&bob.name),
            MessageKind::Image,
            &photo.id,
            "看看这个",
        )
        .await
        .expect("send image");
    let pushed = common::next_message(&mut bob.client).await;
    assert_eq!(
        (pushed.kind, pushed.body.as_str()),
        (MessageKind::Image, "看看这个")
    );
    let sent = pushed.file.clone().expect("the message carries its file");
    assert_ne!(sent.id, photo.id, "the message has a file of its own");
    assert_eq!((sent.conv, sent.seq), (Some(ack.conv), Some(ack.seq)));
    assert_eq!((sent.media.width, sent.media.height), (Some(64), Some(48)));
    assert_eq!(
        (sent.sha256.as_str(), sent.name.as_str()),
        (photo.sha256.as_str(), "photo.png")
    );

    // Bob (in the chat) may download it; Carol may not, and learns nothing.
    let mine = tempfile::tempdir().expect("tempdir");
    let dest = mine.path().join("got.png");
    bob.files
        .download(&sent.id, &dest, |_, _| {})
        .await
        .expect("bob downloads");
    assert_eq!(std::fs::read(&dest).expect("read"), png(64, 48));
    let refused = carol.files.download(&sent.id, &dest, |_, _| {}).await;
    assert_eq!(refused.err().and_then(|e| e.status()), Some(404));

    // The history carries it the same way, and it survives the uploader
    // deleting their own upload: the message holds its own reference.
    alice
        .client
        .file_delete(&photo.id)
        .await
        .expect("delete upload");
    let history = common::newest_history(&bob.client, &alice.name).await;
    let entry = history
        .messages
        .iter()
        .find(|m| m.seq == ack.seq)
        .expect("in history");
    assert_eq!(
        entry.file.as_ref().map(|f| f.id.as_str()),
        Some(sent.id.as_str())
    );
    bob.files
        .download(&sent.id, &mine.path().join("again.png"), |_, _| {})
        .await
        .expect("still there");

    // Bob forwards what he received, to Carol.
    let forwarded = bob
        .client
        .send_file(SendTo::User(&carol.name), MessageKind::Image, &sent.id, "")
        .await;
    assert!(forwarded.is_ok(), "{forwarded:?}");

    // Kinds must match the bytes; a file kind needs a file and text none.
    for (kind, file, code) in [
        (MessageKind::Image, doc.id.as_str(), "invalid_media"),
        (MessageKind::Voice, doc.id.as_str(), "invalid_media"),
        (MessageKind::Video, doc.id.as_str(), "invalid_media"),
        (
            MessageKind::File,
            "0123456789abcdef0123456789abcdef",
            "unknown_file",
        ),
        (MessageKind::Event, doc.id.as_str(), "invalid_args"),
    ] {
        let result = alice
            .client
            .send_file(SendTo::User(&bob.name), kind, file, "")
            .await;
        assert_eq!(common::code_of(result), code, "{kind:?}");
    }
    // Carol cannot send a file she cannot read.
    let result = carol
        .client
        .send_file(SendTo::User(&alice.name), MessageKind::File, &doc.id, "")
        .await;
    assert_eq!(common::code_of(result), "unknown_file");
    alice
        .client
        .send_file(SendTo::User(&bob.name), MessageKind::File, &doc.id, "")
        .await
        .expect("any content goes as a file");
}

#[tokio::test]
async fn a_group_file_is_readable_by_members_from_when_they_could_read_it() {
    use magpie_client::files::SendTo;
    use magpie_proto::MessageKind;
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let bob = person(&server).await;
    let late = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let group = alice
        .client
        .group_create(magpie_proto::GroupCreate {
            name: "files".into(),
            members: vec![bob.name.clone()],
            ..Default::default()
        })
        .await
        .expect("group");
    let report = upload(&alice, dir.path(), "report.pdf", b"%PDF-1.4 not really").await;
    let ack = alice
        .client
        .send_file(
            SendTo::Conv(group.conv),
            MessageKind::File,
            &report.id,
            "Q3",
        )
        .await
        .expect("send into the group");
    alice
        .client
        .group_invite(group.conv, &[late.name.as_str()])
        .await
        .expect("invite");
    let history = bob
        .client
        .history(magpie_proto::History {
            conv: Some(group.conv),
            ..Default::default()
        })
        .await
        .expect("history");
    let file = history
        .messages
        .iter()
        .find(|m| m.seq == ack.seq)
        .and_then(|m| m.file.clone())
        .expect("file entry");
    let out = tempfile::tempdir().expect("tempdir");
    bob.files
        .download(&file.id, &out.path().join("r.pdf"), |_, _| {})
        .await
        .expect("a member before it may read it");
    let refused = late
        .files
        .download(&file.id, &out.path().join("x.pdf"), |_, _| {})
        .await;
    assert_eq!(
        refused.err().and_then(|e| e.status()),
        Some(404),
        "a member who joined after it may not"
    );

    // The group's files: newest first, as far back as each member reads.
    let second = upload(&bob, dir.path(), "minutes.txt", b"minutes").await;
    let second_ack = bob
        .client
        .send_file(SendTo::Conv(group.conv), MessageKind::File, &second.id, "")
        .await
        .expect("bob shares one too");
    let listed = bob
        .client
        .group_files(group.conv, None, None)
        .await
        .expect("group files");
    let seqs: Vec<_> = listed.files.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, vec![Some(second_ack.seq), Some(ack.seq)]);
    assert_eq!(listed.files[1].name, "report.pdf");
    let page = bob
        .client
        .group_files(group.conv, None, Some(1))
        .await
        .expect("page");
    assert_eq!((page.files.len(), page.next), (1, Some(second_ack.seq)));
    let rest = bob
        .client
        .group_files(group.conv, page.next, Some(1))
        .await
        .expect("page");
    assert_eq!((rest.files[0].seq, rest.next), (Some(ack.seq), None));
    let late_list = late
        .client
        .group_files(group.conv, None, None)
        .await
        .expect("late member's list");
    assert_eq!(
        late_list.files.len(),
        1,
        "only what was shared after joining"
    );
    let stranger = person(&server).await;
    assert_eq!(
        code_of(stranger.client.group_files(group.conv, None, None).await),
        "unknown_conversation"
    );

    // Its sender or an admin may remove a file; another member may not.
    assert_eq!(
        code_of(bob.client.group_file_delete(group.conv, &file.id).await),
        "forbidden"
    );
    alice
        .client
        .group_file_delete(group.conv, &file.id)
        .await
        .expect("the owner removes it");
    let after = bob
        .client
        .group_files(group.conv, None, None)
        .await
        .expect("files");
    assert_eq!(after.files.len(), 1);
    let gone = bob
        .files
        .download(&file.id, &out.path().join("gone.pdf"), |_, _| {})
        .await;
    assert_eq!(gone.err().and_then(|e| e.status()), Some(404));
    let history = bob
        .client
        .history(magpie_proto::History {
            conv: Some(group.conv),
            ..Default::default()
        })
        .await
        .expect("history");
    assert!(
        history
            .messages
            .iter()
            .any(|m| m.seq == ack.seq && m.file.is_some()),
        "the message still says what was sent"
    );
}

#[tokio::test]
async fn a_refused_first_chunk_leaves_no_upload_behind_and_malformed_bodies_get_json_errors() {
    let server = TestServer::start_with(|c| c.max_open_uploads = 2).await;
    let alice = person(&server).await;
    // Creation with data that goes past Upload-Length, or fails its
    // checksum: refused, and nothing stays open.
    for (length, checksum) in [
        ("5", None),
        ("100", Some("sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
    ] {
        for _ in 0..3 {
            let mut request = alice
                .tus(Method::POST, "/api/uploads")
                .header("Upload-Length", length)
                .header("Content-Type", "application/offset+octet-stream");
            if let Some(checksum) = checksum {
                request = request.header("Upload-Checksum", checksum);
            }
            let response = request.body(vec![1u8; 50]).send().await.expect("POST");
            assert!(
                [413, 460].contains(&response.status().as_u16()),
                "{}",
                response.status()
            );
            assert!(response.headers().get("location").is_none());
        }
    }
    alice.create(10).await;
    alice.create(10).await;

    // Malformed JSON bodies and queries answer in the protocol's error
    // shape, after authentication.
    for (path, body) in [
        ("/api/files/instant", &b"\x00"[..]),
        (
            "/api/files/instant",
            br#"{"sha256": "ab", "size": 1.5, "name": "x"}"#,
        ),
        (
            "/api/files/instant/proof",
            br#"{"challenge": null, "proofs": [14]}"#,
        ),
    ] {
        let response = alice
            .tus(Method::POST, path)
            .body(body.to_vec())
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let error: magpie_proto::ErrorBody = response.json().await.expect("JSON error");
        assert_eq!(error.code, magpie_proto::ErrorCode::InvalidArgs);
        let anonymous = reqwest::Client::new()
            .post(format!("{}{path}", alice.base))
            .body(body.to_vec())
            .send()
            .await
            .expect("POST");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // A query that is no signature is an unsigned request (the token is
    // then needed); a signature that does not hold is a missing file.
    for (query, status) in [
        ("exp=99999999999999999999&sig=zz", StatusCode::UNAUTHORIZED),
        ("exp=abc&sig=00", StatusCode::UNAUTHORIZED),
        ("exp=99999999999999&sig=zz", StatusCode::NOT_FOUND),
        ("exp=99999999999999&sig=0000", StatusCode::NOT_FOUND),
    ] {
        let response = reqwest::Client::new()
            .get(format!(
                "{}/api/files/0123456789abcdef0123456789abcdef?{query}",
                alice.base
            ))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), status, "{query}");
    }
    let wrong_method = alice
        .tus(Method::GET, "/api/files/instant")
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn an_uploaded_image_becomes_an_avatar_everyone_may_see() {
    let server = TestServer::start().await;
    let alice = person(&server).await;
    let bob = person(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = upload(&alice, dir.path(), "me.png", &png(400, 400)).await;
    let text = upload(&alice, dir.path(), "me.txt", b"not a face").await;
    assert_eq!(
        code_of(alice.client.avatar_set(&text.id, None).await),
        "invalid_media"
    );
    let avatar = alice
        .client
        .avatar_set(&photo.id, None)
        .await
        .expect("avatar");
    let profile = bob
        .client
        .profile(Some(&alice.name))
        .await
        .expect("profile");
    assert_eq!(profile.avatar, avatar);
    let base = format!("http://{}", server.running().http_addr());
    // Anyone signed in may fetch the avatar and its server-made size.
    let out = tempfile::tempdir().expect("tempdir");
    bob.files
        .download(&avatar, &out.path().join("a.png"), |_, _| {})
        .await
        .expect("bob reads alice's avatar");
    let thumb = bob
        .client
        .file_url(&avatar, true)
        .await
        .expect("thumbnail url");
    let response = reqwest::get(format!("{base}{}", thumb.url))
        .await
        .expect("GET");
    let bytes = response.bytes().await.expect("body");
    let image = image::load_from_memory(&bytes).expect("decodes");
    assert_eq!((image.width(), image.height()), (320, 320));

    // A new avatar replaces the old, whose file goes.
    let second = upload(&alice, dir.path(), "me2.png", &png(50, 60)).await;
    let newer = alice
        .client
        .avatar_set(&second.id, None)
        .await
        .expect("avatar");
    assert_ne!(newer, avatar);
    assert_eq!(code_of(bob.client.file_info(&avatar).await), "unknown_file");

    // A group's avatar follows the group's rules.
    let group = alice
        .client
        .group_create(magpie_proto::GroupCreate {
            name: "faces".into(),
            members: vec![bob.name.clone()],
            ..Default::default()
        })
        .await
        .expect("group");
    let bobs = upload(&bob, dir.path(), "bob.png", &png(10, 10)).await;
    assert_eq!(
        code_of(bob.client.avatar_set(&bobs.id, Some(group.conv)).await),
        "forbidden"
    );
    let group_avatar = alice
        .client
        .avatar_set(&photo.id, Some(group.conv))
        .await
        .expect("owner sets it");
    let info = bob.client.group_info(group.conv).await.expect("info");
    assert_eq!(info.avatar, group_avatar);
}

/// S3: two nodes sharing a database and a bucket of a real S3-compatible
/// server (moto, started by `interop/s3/start.sh`; `.ci/run` sets
/// `MAGPIE_TEST_S3` to its URL and `MAGPIE_E2E_DATABASE` to a shared
/// engine). A file uploaded through one node downloads through the other,
/// instant upload proves against the bucket, and the last reference takes
/// the object with it.
#[tokio::test]
#[ignore = "needs MAGPIE_TEST_S3 and MAGPIE_E2E_DATABASE; run by .ci/run"]
async fn s3_content_is_shared_by_the_nodes_of_a_cluster() {
    let cluster = common::S3Cluster::start(2).await;
    let (nodes, dirs) = (&cluster.nodes, &cluster.dirs);
    let on = |node: &magpie_server::RunningServer, token: &str| {
        FileClient::new(&format!("http://{}", node.http_addr()), token).expect("client")
    };
    let url_a = format!("tcp://{}", nodes[0].tcp_addr());
    let (_alice, alice_auth) = user(&url_a, &unique("file")).await;
    let (_bob, bob_auth) = user(&url_a, &unique("file")).await;
    let alice_token = alice_auth.token.expect("token");
    let bob_token = bob_auth.token.expect("token");

    // Over 8 MiB, so the object is written in more than one part.
    let content = random_bytes(9 * 1024 * 1024 + 5, 9);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_temp(dir.path(), "big.bin", &content);
    let (_url, info) = on(&nodes[0], &alice_token)
        .upload_file(&path, "big.bin", None, |_, _| {})
        .await
        .expect("upload through node A");
    assert!(
        !dirs[0].path().join("files/blobs").exists(),
        "nothing kept on the node's disk"
    );
    let dest = dir.path().join("via-b.bin");
    on(&nodes[1], &alice_token)
        .download(&info.id, &dest, |_, _| {})
        .await
        .expect("download through node B");
    assert_eq!(std::fs::read(&dest).expect("read"), content);

    let copy = on(&nodes[1], &bob_token)
        .instant(&path, "mine.bin")
        .await
        .expect("instant")
        .expect("stored, so instant");
    let objects = |node: &magpie_server::RunningServer| {
        let storage = node.state().files.storage().clone();
        async move {
            let listed: Vec<_> = storage.list("blobs").collect().await;
            assert!(listed.iter().all(Result::is_ok), "listing the bucket");
            listed.len()
        }
    };
    assert_eq!(objects(&nodes[0]).await, 1, "stored once");
    for (token, id) in [(&alice_token, &info.id), (&bob_token, &copy.id)] {
        let response = reqwest::Client::new()
            .delete(format!("http://{}/api/files/{id}", nodes[1].http_addr()))
            .bearer_auth(token)
            .send()
            .await
            .expect("DELETE");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        objects(&nodes[1]).await,
        0,
        "the last reference took the object"
    );
    cluster.shutdown().await;
}
