//! The file commands of `magpie client` (`upload`, `download`, `files`,
//! `file rm`, `file url`) driven as a script would drive them against a
//! real server: round trips byte for byte, instant upload, uploads and
//! downloads interrupted and continued by a second run.

mod common;

use common::*;
use magpie_client::files::{FileClient, hash_file};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

/// Where a test's commands keep their upload state and write downloads.
struct Place {
    state: tempfile::TempDir,
    cwd: tempfile::TempDir,
}

impl Place {
    fn new() -> Place {
        Place {
            state: tempfile::tempdir().expect("tempdir"),
            cwd: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `magpie client ARGS` as `user` with their token, run in `cwd`.
    fn command(&self, user: &User, args: &[&str]) -> Command {
        let mut cmd = bare(&user.server, &user.name);
        cmd.env("MAGPIE_TOKEN", &user.token)
            .env("MAGPIE_STATE_DIR", self.state.path())
            .env_remove("MAGPIE_HTTP")
            .current_dir(self.cwd.path())
            .args(args);
        cmd
    }

    fn run(&self, user: &User, args: &[&str]) -> Output {
        self.command(user, args)
            .output()
            .expect("run magpie client")
    }

    /// `magpie client --json ARGS`, which must succeed with one document.
    fn json(&self, user: &User, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        document(&self.run(user, &all), args)
    }

    /// The upload state file's entries.
    fn uploads(&self) -> Vec<Value> {
        let path = self.state.path().join("uploads.json");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let doc: Value = serde_json::from_slice(&bytes).expect("state JSON");
                doc["uploads"].as_array().cloned().unwrap_or_default()
            }
            Err(_) => Vec::new(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.cwd.path().join(name)
    }
}

fn sha256(path: &Path) -> String {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (hash, _) = runtime.block_on(hash_file(path)).expect("hash");
    magpie_proto::to_hex(&hash)
}

fn http_base(server: &Server) -> String {
    FileClient::http_base_for(&server.process.ws_url).expect("HTTP base")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_file_goes_up_and_comes_back_byte_for_byte() {
    let server = start_server();
    // Over TCP, whose HTTP port cannot be derived: --http / MAGPIE_HTTP.
    let alice = User::register(&server.process.tcp_url, "alice");
    let http = http_base(&server);
    let place = Place::new();
    let src = tempfile::tempdir().expect("tempdir");
    let bytes = content(3 * MIB + 123, 1);
    let path = write(src.path(), "report.bin", &bytes);
    let path_arg = path.to_str().expect("UTF-8 path");

    // Uploaded with the password: a login for this command, whose token
    // the HTTP calls use.
    let mut cmd = bare(&alice.server, &alice.name);
    cmd.env("MAGPIE_PASSWORD", PASSWORD)
        .env("MAGPIE_STATE_DIR", place.state.path())
        .env("MAGPIE_HTTP", &http)
        .args(["--json", "upload", path_arg]);
    let uploaded = document(&cmd.output().expect("run"), &["upload"]);
    assert_eq!(uploaded["instant"], false, "{uploaded}");
    assert_eq!(uploaded["name"], "report.bin");
    assert_eq!(uploaded["size"], bytes.len());
    assert_eq!(uploaded["sha256"], sha256(&path));
    assert_eq!(uploaded["media"]["kind"], "file");
    let id = uploaded["id"].as_str().expect("id").to_owned();
    assert!(place.uploads().is_empty(), "{:?}", place.uploads());

    // Down under its own name in the current directory.
    let got = place.json(&alice, &["download", &id, "--http", &http]);
    assert_eq!(got["path"], "report.bin", "{got}");
    assert_eq!(got["size"], bytes.len());
    assert_eq!(got["sha256"], uploaded["sha256"]);
    assert!(std::fs::read(place.file("report.bin")).expect("saved") == bytes);
    assert!(!place.file("report.bin.part").exists());

    // Again: the same content is there already, nothing to do.
    let out = place.run(&alice, &["download", &id, "--http", &http]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("already there"), "{}", stderr(&out));

    // Text, and -o.
    let out = place.run(
        &alice,
        &["download", &id, "-o", "copy.bin", "--http", &http],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = format!("saved copy.bin ({} bytes)", bytes.len());
    assert_eq!(text(&out).trim(), expected);
    assert!(std::fs::read(place.file("copy.bin")).expect("saved") == bytes);

    // The text of an upload: id, name, size, kind.
    let small = write(src.path(), "note.txt", b"hello");
    let args = ["upload", small.to_str().expect("UTF-8"), "--http", &http];
    let out = place.run(&alice, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = text(&out);
    for want in ["id ", "name  note.txt", "size  5 bytes", "kind  file"] {
        assert!(shown.contains(want), "{want:?} in {shown}");
    }
}

#[test]
fn known_content_is_uploaded_instantly_and_files_are_listed_and_deleted() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");
    let place = Place::new();
    let bytes = content(2 * MIB, 2);
    let path = write(place.cwd.path(), "photo.raw", &bytes);
    let path_arg = path.to_str().expect("UTF-8 path");

    let first = place.json(&alice, &["upload", path_arg]);
    assert_eq!(first["instant"], false, "{first}");
    let alice_id = first["id"].as_str().expect("id").to_owned();

    // Bob has the same bytes: proved, not sent; a file of his own.
    let second = place.json(&bob, &["upload", path_arg, "--name", "mine.raw"]);
    assert_eq!(second["instant"], true, "{second}");
    assert_eq!(second["sha256"], first["sha256"]);
    assert_eq!(second["name"], "mine.raw");
    assert_ne!(second["id"], first["id"]);
    assert_ne!(second["owner"], first["owner"]);
    let bob_id = second["id"].as_str().expect("id").to_owned();
    // Unless told to send it anyway.
    let third = place.json(&bob, &["upload", path_arg, "--no-instant"]);
    assert_eq!(third["instant"], false, "{third}");

    // Alice's file is not bob's to read.
    let out = place.run(&bob, &["download", &alice_id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
    assert!(!place.file("photo.raw.part").exists());

    // A missing file or a malformed id is a usage error.
    let out = place.run(&alice, &["upload", "no-such-file"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = place.run(&alice, &["download", "../etc/passwd"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // The list, with the quota.
    let listed = place.json(&alice, &["files"]);
    let ids: Vec<&str> = listed["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, [alice_id.as_str()], "{listed}");
    assert_eq!(listed["quota"]["used"], bytes.len(), "{listed}");
    assert_eq!(listed["quota"]["reserved"], 0);
    assert!(listed["quota"]["limit"].as_u64() > Some(0), "{listed}");
    let paged = place.json(&bob, &["files", "--limit", "1"]);
    assert_eq!(paged["files"].as_array().map(Vec::len), Some(1), "{paged}");
    let after = paged["next"].as_str().expect("a next page");
    let rest = place.json(&bob, &["files", "--after", after]);
    assert_eq!(rest["files"].as_array().map(Vec::len), Some(1), "{rest}");
    let out = place.run(&alice, &["files"]);
    let shown = text(&out);
    assert!(
        shown.contains(&alice_id) && shown.contains("photo.raw"),
        "{shown}"
    );
    assert!(shown.contains("quota: 2.0 MiB of"), "{shown}");

    // A signed URL on the HTTP port.
    let out = place.run(&alice, &["file", "url", &alice_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let url = text(&out).trim().to_owned();
    let want = format!("{}/api/files/{alice_id}?", http_base(&server));
    assert!(url.starts_with(&want) && url.contains("sig="), "{url}");

    // Deleted: gone from alice's list; bob's copy of the content stays.
    let done = place.json(&alice, &["file", "rm", &alice_id]);
    assert_eq!(done["ok"], true, "{done}");
    let listed = place.json(&alice, &["files"]);
    assert_eq!(listed["files"], serde_json::json!([]), "{listed}");
    let out = place.run(&alice, &["download", &alice_id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let got = place.json(&bob, &["download", &bob_id]);
    assert_eq!(got["path"], "mine.raw");
    assert!(std::fs::read(place.file("mine.raw")).expect("saved") == bytes);
}

#[test]
fn an_interrupted_upload_is_continued_by_the_next_run() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    let place = Place::new();
    let src = tempfile::tempdir().expect("tempdir");
    let bytes = content(6 * MIB, 3);
    let path = write(src.path(), "big.bin", &bytes);
    let path_arg = path.to_str().expect("UTF-8 path");

    // A first run, killed as soon as it has made its upload (the state
    // file names it before any byte is sent).
    let mut first = place
        .command(&alice, &["upload", path_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = loop {
        if let Some(url) = place.uploads().first().and_then(|e| e["url"].as_str()) {
            break url.to_owned();
        }
        assert!(Instant::now() < deadline, "no upload state appeared");
        assert!(first.try_wait().expect("wait").is_none(), "the run ended");
        std::thread::sleep(Duration::from_millis(2));
    };
    first.kill().expect("kill");
    first.wait().expect("reap");

    // Part of the bytes arrive by other means, so the server surely holds
    // some: the second run must continue from there.
    let files = FileClient::new(&http_base(&server), &alice.token).expect("file client");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let offset = runtime.block_on(async {
        for _ in 0..200 {
            let offset = files
                .upload_offset(&url)
                .await
                .expect("HEAD")
                .expect("the upload exists");
            if offset >= 2 * MIB as u64 {
                return offset;
            }
            let start = usize::try_from(offset).expect("offset");
            let chunk = bytes[start..start + MIB].to_vec();
            // Refused while the killed run's request still holds the
            // upload: try again.
            if files.patch(&url, offset, chunk).await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("could not send part of the upload");
    });

    let out = place.run(&alice, &["--json", "upload", path_arg]);
    let uploaded = document(&out, &["upload"]);
    if offset < bytes.len() as u64 {
        let want = format!("resuming the upload at {offset} of {} bytes", bytes.len());
        assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    }
    assert_eq!(uploaded["instant"], false, "{uploaded}");
    assert_eq!(uploaded["size"], bytes.len());
    assert_eq!(uploaded["sha256"], sha256(&path));
    // The very upload the first run made, now complete.
    let status = runtime
        .block_on(files.upload_status(&url))
        .expect("upload status");
    let file = status.file.expect("complete");
    assert_eq!(uploaded["id"], file.id.as_str());
    assert!(place.uploads().is_empty(), "{:?}", place.uploads());
    // One file, nothing left reserved.
    let listed = place.json(&alice, &["files"]);
    assert_eq!(
        listed["files"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["quota"]["reserved"], 0, "{listed}");
    let got = place.json(&alice, &["download", &file.id]);
    assert_eq!(got["sha256"], uploaded["sha256"]);
    assert!(std::fs::read(place.file("big.bin")).expect("saved") == bytes);
}

#[test]
fn an_interrupted_download_is_continued_from_its_part_file() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    let place = Place::new();
    let src = tempfile::tempdir().expect("tempdir");
    let bytes = content(3 * MIB, 4);
    let path = write(src.path(), "movie.bin", &bytes);
    let uploaded = place.json(&alice, &["upload", path.to_str().expect("UTF-8")]);
    let id = uploaded["id"].as_str().expect("id").to_owned();

    // A run that stopped after the first MiB.
    std::fs::write(place.file("movie.bin.part"), &bytes[..MIB]).expect("part");
    let out = place.run(&alice, &["--json", "download", &id]);
    let got = document(&out, &["download"]);
    let want = format!("resuming the download at {MIB} of {} bytes", bytes.len());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert_eq!(got["path"], "movie.bin");
    assert_eq!(got["size"], bytes.len());
    assert!(std::fs::read(place.file("movie.bin")).expect("saved") == bytes);
    assert!(!place.file("movie.bin.part").exists());

    // A part file that is not a prefix of the file (another file of the
    // same name): the range is fetched, the hash does not match, and the
    // download starts over rather than saving a corrupt file.
    let mut wrong = bytes[..MIB].to_vec();
    wrong[10] ^= 0xff;
    std::fs::write(place.file("other.bin.part"), &wrong).expect("part");
    let out = place.run(&alice, &["--json", "download", &id, "-o", "other.bin"]);
    let got = document(&out, &["download"]);
    assert!(stderr(&out).contains("did not match"), "{}", stderr(&out));
    assert_eq!(got["sha256"], uploaded["sha256"]);
    assert!(std::fs::read(place.file("other.bin")).expect("saved") == bytes);
    assert!(!place.file("other.bin.part").exists());

    // An existing different file under the file's name is never replaced.
    std::fs::write(place.file("movie.bin"), b"my own notes").expect("write");
    let out = place.run(&alice, &["download", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(place.file("movie.bin")).expect("kept"),
        b"my own notes"
    );
}

// Files sent as messages: `send-file`, `send-image`, `send-voice`,
// `send-video`.

/// A 1x1 PNG (one transparent RGBA pixel), written out by hand: the
/// signature, IHDR (1x1, 8-bit RGBA), one IDAT (zlib of the filter byte and
/// four zero bytes) and IEND, each chunk with its CRC. 67 bytes. (The
/// `image` crate is not a dependency of this crate.)
const PIXEL_PNG: [u8; 67] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, // signature
    0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, // IHDR, 13 bytes
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // width 1, height 1
    0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, // 8-bit RGBA; CRC
    0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, // IDAT, 10 bytes
    0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, // zlib stream
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, // ...; CRC; IEND
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, // 0 bytes
    0x42, 0x60, 0x82, // CRC
];

/// The one JSON line a successful `send-*` printed: the acknowledgement
/// and the file id sent.
fn ack(out: &Output, args: &[&str]) -> Value {
    let ack = document(out, args);
    for field in ["msg_id", "conv", "seq", "ts"] {
        assert!(ack[field].is_i64(), "{args:?}: {field} in {ack}");
    }
    assert_eq!(ack["duplicate"], false, "{ack}");
    let file = ack["file"].as_str().unwrap_or_default();
    assert!(magpie_proto::is_file_id(file), "{args:?}: file in {ack}");
    ack
}

/// The newest message of `user`'s conversation with `peer`.
fn newest(place: &Place, user: &User, peer: &str) -> Value {
    let out = place.run(user, &["history", peer]);
    assert!(out.status.success(), "history: {}", stderr(&out));
    let text = text(&out);
    let last = text.lines().last().expect("a message");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON: {last:?}: {e}"))
}

#[test]
fn files_are_sent_as_messages_downloaded_and_forwarded() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");
    let carol = User::register(&server.process.ws_url, "carol");
    let (at_alice, at_bob, at_carol) = (Place::new(), Place::new(), Place::new());
    let png = write(at_alice.cwd.path(), "pixel.png", &PIXEL_PNG);
    let png = png.to_str().expect("UTF-8 path");

    // An image, uploaded first (nothing was there to take instantly).
    let args = ["send-image", "bob", png, "--caption", "a pixel"];
    let sent = ack(&at_alice.run(&alice, &args), &args);
    let uploaded = sent["file"].as_str().expect("file").to_owned();
    let listed = at_alice.json(&alice, &["files"]);
    assert_eq!(listed["files"][0]["id"], uploaded.as_str(), "{listed}");
    assert!(at_alice.uploads().is_empty(), "{:?}", at_alice.uploads());

    // Bob sees an image message whose file is a copy of its own.
    let got = newest(&at_bob, &bob, "alice");
    assert_eq!(got["kind"], "image", "{got}");
    assert_eq!(got["from"], "alice");
    assert_eq!(got["body"], "a pixel");
    assert_eq!((&got["seq"], &got["conv"]), (&sent["seq"], &sent["conv"]));
    let file = &got["file"];
    assert_eq!(file["name"], "pixel.png", "{got}");
    assert_eq!(file["size"], PIXEL_PNG.len());
    assert_eq!(file["media"]["kind"], "image");
    assert_eq!(
        (&file["media"]["width"], &file["media"]["height"]),
        (&1.into(), &1.into())
    );
    let received = file["id"].as_str().expect("file id").to_owned();
    assert_ne!(received, uploaded);

    // Which bob downloads, byte for byte.
    let saved = at_bob.json(&bob, &["download", &received]);
    assert_eq!(saved["path"], "pixel.png", "{saved}");
    assert!(std::fs::read(at_bob.file("pixel.png")).expect("saved") == PIXEL_PNG);

    // Any content goes as a file; by conversation id too.
    let notes = write(at_alice.cwd.path(), "notes.txt", b"meeting at noon\n");
    let conv = sent["conv"].to_string();
    let args = ["send-file", "--conv", &conv, notes.to_str().expect("UTF-8")];
    let note = ack(&at_alice.run(&alice, &args), &args);
    assert_eq!(note["conv"], sent["conv"]);
    let got = newest(&at_bob, &bob, "alice");
    assert_eq!(got["kind"], "file", "{got}");
    assert_eq!(got["body"], "");
    assert_eq!(got["file"]["name"], "notes.txt");
    assert_eq!(got["file"]["media"]["kind"], "file", "{got}");
    let mime = got["file"]["media"]["mime"].as_str().unwrap_or_default();
    assert!(mime.starts_with("text/plain"), "{got}");

    // An upload sent again by id: nothing is uploaded.
    let args = ["send-file", "bob", "--file", &uploaded];
    let again = ack(&at_alice.run(&alice, &args), &args);
    assert_eq!(again["file"], uploaded.as_str());
    let listed = at_alice.json(&alice, &["files"]);
    assert_eq!(
        listed["files"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );

    // Bob forwards the image he received to carol.
    let args = ["send-image", "carol", "--file", &received];
    let forwarded = ack(&at_bob.run(&bob, &args), &args);
    assert_eq!(forwarded["file"], received.as_str());
    let got = newest(&at_carol, &carol, "bob");
    assert_eq!(got["kind"], "image", "{got}");
    assert_eq!(got["from"], "bob");
    assert_eq!(got["file"]["name"], "pixel.png");
    let theirs = got["file"]["id"].as_str().expect("file id");
    at_carol.json(&carol, &["download", theirs]);
    assert!(std::fs::read(at_carol.file("pixel.png")).expect("saved") == PIXEL_PNG);

    // Carol cannot send what she was never given.
    let out = at_carol.run(&carol, &["send-file", "alice", "--file", &uploaded]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown_file"), "{}", stderr(&out));
}

#[test]
fn content_that_is_not_the_kind_is_refused_naming_the_kind() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    User::register(&server.process.ws_url, "bob");
    let place = Place::new();
    let notes = write(place.cwd.path(), "notes.txt", b"not a picture\n");
    let notes = notes.to_str().expect("UTF-8 path");
    let png = write(place.cwd.path(), "pixel.png", &PIXEL_PNG);
    let png = png.to_str().expect("UTF-8 path");

    for (command, path, kind) in [
        ("send-image", notes, "not an image"),
        (
            "send-voice",
            png,
            "not a voice recording (Opus in Ogg or WebM)",
        ),
        ("send-video", notes, "not a video"),
    ] {
        let out = place.run(&alice, &[command, "bob", path]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{command}: {err}");
        assert!(text(&out).is_empty(), "{command}: {}", text(&out));
        assert!(err.contains("error: invalid_media: the file is"), "{err}");
        assert!(err.contains(kind), "{command}: {kind:?} in {err}");
        // The upload is kept, and said so, for a retry by id.
        assert!(err.contains("stays uploaded as"), "{err}");
    }
    // The refused sends stored nothing.
    let out = place.run(&alice, &["history", "bob"]);
    assert!(text(&out).trim().is_empty(), "{}", text(&out));

    // Mistakes found before connecting: exit status 2.
    for args in [
        &["send-file", "bob"][..],
        &["send-file", "--conv", "1"],
        &[
            "send-file",
            "bob",
            png,
            "--file",
            "0123456789abcdef0123456789abcdef",
        ],
        &["send-file", "bob", "--file", "not-an-id"],
        &["send-image", "bob", "no-such-file.png"],
    ] {
        let out = place.run(&alice, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

/// `magpie client --json ARGS` as `user`, which must fail with exit
/// status 1 naming `code`.
fn refused(place: &Place, user: &User, args: &[&str], code: &str) {
    let out = place.run(user, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains(&format!("error: {code}")), "{args:?}: {err}");
}

#[test]
fn avatars_are_set_from_a_path_or_an_id_for_you_or_a_group() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");
    let (at_alice, at_bob) = (Place::new(), Place::new());
    let png = write(at_alice.cwd.path(), "pixel.png", &PIXEL_PNG);
    let png = png.to_str().expect("UTF-8 path");

    // Alice's own, from a path: the printed id is her profile's avatar.
    let out = at_alice.run(&alice, &["avatar", png]);
    assert!(out.status.success(), "{}", stderr(&out));
    let avatar = text(&out).trim().to_owned();
    assert!(magpie_proto::is_file_id(&avatar), "{avatar:?}");
    let profile = at_alice.json(&alice, &["profile"]);
    assert_eq!(profile["avatar"], avatar.as_str(), "{profile}");

    // Anyone can fetch it.
    let saved = at_bob.json(&bob, &["download", &avatar, "-o", "alice.png"]);
    assert_eq!(saved["size"], PIXEL_PNG.len(), "{saved}");
    assert!(std::fs::read(at_bob.file("alice.png")).expect("saved") == PIXEL_PNG);

    // By id, with --json.
    let uploaded = at_bob.json(&bob, &["upload", png]);
    let id = uploaded["id"].as_str().expect("id");
    let set = at_bob.json(&bob, &["avatar", "--file", id]);
    let bobs = set["avatar"].as_str().expect("avatar").to_owned();
    assert!(magpie_proto::is_file_id(&bobs), "{set}");
    assert_eq!(at_bob.json(&bob, &["profile"])["avatar"], bobs.as_str());

    // Only images.
    let notes = write(at_alice.cwd.path(), "notes.txt", b"not a picture\n");
    let notes = notes.to_str().expect("UTF-8 path");
    refused(&at_alice, &alice, &["avatar", notes], "invalid_media");
    assert_eq!(
        at_alice.json(&alice, &["profile"])["avatar"],
        avatar.as_str()
    );

    // A group's: its owner may, a plain member may not.
    let group = at_alice.json(&alice, &["group", "create", "Team", "--member", "bob"]);
    let conv = group["conv"].as_i64().expect("the group's id").to_string();
    refused(
        &at_bob,
        &bob,
        &["avatar", "--group", &conv, png],
        "forbidden",
    );
    let set = at_alice.json(&alice, &["avatar", "--group", &conv, png]);
    let info = at_bob.json(&bob, &["group", "info", &conv]);
    assert_eq!(info["avatar"], set["avatar"], "{info}");

    // Mistakes found before connecting: exit status 2.
    for args in [
        &["avatar"][..],
        &["avatar", png, "--file", id],
        &["avatar", "--file", "not-an-id"],
        &["avatar", "--group", "0", png],
        &["avatar", "no-such-file.png"],
    ] {
        let out = at_alice.run(&alice, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_groups_files_are_listed_and_removed() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");
    let carol = User::register(&server.process.ws_url, "carol");
    let dave = User::register(&server.process.ws_url, "dave");
    let place = Place::new();
    let group = place.json(
        &alice,
        &[
            "group", "create", "Team", "--member", "bob", "--member", "carol",
        ],
    );
    let conv = group["conv"].as_i64().expect("the group's id").to_string();

    let first = write(place.cwd.path(), "plan.txt", b"the plan\n");
    let args = [
        "send-file",
        "--group",
        &conv,
        first.to_str().expect("UTF-8"),
    ];
    let sent_first = ack(&place.run(&bob, &args), &args);
    let png = write(place.cwd.path(), "pixel.png", &PIXEL_PNG);
    let args = ["send-image", "--group", &conv, png.to_str().expect("UTF-8")];
    let sent_second = ack(&place.run(&carol, &args), &args);

    // Newest first, with who sent each and where.
    let listed = place.json(&alice, &["group-files", &conv]);
    let files = listed["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{listed}");
    assert_eq!(files[0]["name"], "pixel.png", "{listed}");
    assert_eq!(files[0]["seq"], sent_second["seq"]);
    assert_eq!(files[0]["media"]["kind"], "image");
    assert_eq!(files[1]["name"], "plan.txt");
    assert_eq!(files[1]["seq"], sent_first["seq"]);
    assert_ne!(files[0]["owner"], files[1]["owner"], "{listed}");
    assert!(listed.get("next").is_none(), "{listed}");
    let (pixel, plan) = (
        files[0]["id"].as_str().expect("id").to_owned(),
        files[1]["id"].as_str().expect("id").to_owned(),
    );

    // One per page, and every page with --all.
    let page = place.json(&bob, &["group-files", &conv, "--limit", "1"]);
    assert_eq!(page["files"][0]["id"], pixel.as_str(), "{page}");
    let next = page["next"].as_i64().expect("a next page").to_string();
    let page = place.json(&bob, &["group-files", &conv, "--before", &next]);
    assert_eq!(page["files"][0]["id"], plan.as_str(), "{page}");
    let all = place.json(&bob, &["group-files", &conv, "--limit", "1", "--all"]);
    assert_eq!(all["files"], listed["files"], "{all}");

    // The text table.
    let out = place.run(&bob, &["group-files", &conv]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = text(&out);
    for want in [
        "SEQ",
        "NAME",
        "SENDER",
        "plan.txt",
        "pixel.png",
        &pixel,
        &plan,
    ] {
        assert!(shown.contains(want), "{want:?} in {shown}");
    }

    // Not a member: no such conversation for dave.
    refused(
        &place,
        &dave,
        &["group-files", &conv],
        "unknown_conversation",
    );
    // A plain member may not remove another's file; its sender may.
    refused(
        &place,
        &bob,
        &["group-files", &conv, "rm", &pixel],
        "forbidden",
    );
    let done = place.json(&carol, &["group-files", &conv, "rm", &pixel]);
    assert_eq!(done["ok"], true, "{done}");
    let listed = place.json(&alice, &["group-files", &conv]);
    let files = listed["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{listed}");
    assert_eq!(files[0]["id"], plan.as_str());

    // rm takes no listing flags.
    let out = place.run(&carol, &["group-files", &conv, "rm", &plan, "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
