//! The drive commands of `magpie client drive` (and `magpie admin quota`)
//! driven as a script would drive them against a real server: folders
//! made, listed, moved and renamed by path with Chinese names; files up
//! and back down byte for byte; the bin; share links saved by another
//! user and opened over HTTP without an account; the quota; and the JSON
//! each command prints.

mod common;

use common::*;
use magpie_testkit::ServerProcess;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

    /// `magpie client drive ARGS` as `user` with their token, in `cwd`.
    fn command(&self, user: &User, args: &[&str]) -> Command {
        let mut cmd = bare(&user.server, &user.name);
        cmd.env("MAGPIE_TOKEN", &user.token)
            .env("MAGPIE_STATE_DIR", self.state.path())
            .env_remove("MAGPIE_HTTP")
            .current_dir(self.cwd.path())
            .stdin(Stdio::null())
            .arg("drive")
            .args(args);
        cmd
    }

    fn run(&self, user: &User, args: &[&str]) -> Output {
        self.command(user, args).output().expect("run magpie")
    }

    /// `magpie client --json drive ARGS`, which must succeed with one
    /// document.
    fn json(&self, user: &User, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        document(&self.run(user, &all), args)
    }

    /// `magpie client drive ARGS` in text mode, which must succeed.
    fn text(&self, user: &User, args: &[&str]) -> String {
        let out = self.run(user, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `magpie client drive ARGS`, which must fail with `code`.
    fn fails(&self, user: &User, args: &[&str], code: &str) -> String {
        let out = self.run(user, args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("error: {code}:")),
            "{args:?}: {code} in {err}"
        );
        err
    }

    fn file(&self, name: &str) -> PathBuf {
        self.cwd.path().join(name)
    }
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

fn entries(value: &Value) -> &Vec<Value> {
    value["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("entries in {value}"))
}

fn entry_names(value: &Value) -> Vec<&str> {
    entries(value)
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect()
}

/// The fields of a drive entry as every command prints it.
fn assert_entry_shape(entry: &Value) {
    for field in ["id", "kind", "name", "size", "created_at", "updated_at"] {
        assert!(!entry[field].is_null(), "{field} in {entry}");
    }
    assert_eq!(str_of(entry, "id").len(), 32, "{entry}");
    match str_of(entry, "kind") {
        "file" => assert!(entry["file"]["id"].is_string(), "{entry}"),
        "folder" => assert!(entry["file"].is_null(), "{entry}"),
        other => panic!("kind {other}"),
    }
}

#[test]
fn folders_files_and_the_bin_by_chinese_paths() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    let place = Place::new();
    let src = tempfile::tempdir().expect("tempdir");

    // mkdir -p makes the missing folders and returns the last.
    let made = place.json(&alice, &["mkdir", "-p", "/文档/2024"]);
    assert_entry_shape(&made);
    assert_eq!(made["kind"], "folder");
    assert_eq!(made["name"], "2024");
    assert!(made["parent"].is_string(), "{made}");
    // Again with -p: there already, no error; without: name_taken.
    let again = place.json(&alice, &["mkdir", "--parents", "/文档/2024"]);
    assert_eq!(again["id"], made["id"]);
    place.fails(&alice, &["mkdir", "/文档/2024"], "name_taken");
    // Without -p the parent must exist.
    place.fails(&alice, &["mkdir", "/没有/子"], "unknown_entry");
    // Names are checked before anything is sent.
    let out = place.run(&alice, &["rename", "/文档", "a/b"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Up into the folder, by path, under a Chinese name.
    let bytes = content(300 * 1024 + 7, 1);
    let local = write(src.path(), "会议纪要.txt", &bytes);
    let up = place.json(&alice, &["upload", utf8(&local), "/文档/2024"]);
    assert_entry_shape(&up);
    assert_eq!(up["name"], "会议纪要.txt");
    assert_eq!(up["kind"], "file");
    assert_eq!(up["size"], bytes.len());
    assert_eq!(up["parent"], made["id"]);
    assert_eq!(up["instant"], false, "{up}");
    // The same name again is refused before uploading, unless --rename.
    place.fails(
        &alice,
        &["upload", utf8(&local), "/文档/2024"],
        "name_taken",
    );
    let copy = place.json(&alice, &["upload", utf8(&local), "/文档/2024", "--rename"]);
    assert_eq!(copy["instant"], true, "the server has the content: {copy}");
    assert_ne!(copy["name"], "会议纪要.txt");
    // --name, into the top.
    let top = place.json(&alice, &["upload", utf8(&local), "--name", "顶层.txt"]);
    assert!(top["parent"].is_null(), "{top}");

    // ls: the breadcrumb and every entry, folders first.
    let listed = place.json(&alice, &["ls", "/文档/2024"]);
    let crumbs: Vec<&str> = listed["path"]
        .as_array()
        .expect("path")
        .iter()
        .map(|c| c["name"].as_str().expect("crumb name"))
        .collect();
    assert_eq!(crumbs, ["文档", "2024"]);
    assert!(listed.get("next").is_none(), "every page: {listed}");
    assert_eq!(entries(&listed).len(), 2, "{listed}");
    entries(&listed).iter().for_each(assert_entry_shape);
    let top_list = place.json(&alice, &["ls"]);
    assert_eq!(entry_names(&top_list), ["文档", "顶层.txt"], "{top_list}");
    assert_eq!(place.json(&alice, &["ls", "/"]), top_list);
    // By the folder's id too.
    let by_id = place.json(&alice, &["ls", str_of(&made, "id")]);
    assert_eq!(by_id["entries"], listed["entries"]);
    // A file: just itself, with its folder's breadcrumb.
    let one = place.json(&alice, &["ls", "/文档/2024/会议纪要.txt"]);
    assert_eq!(entry_names(&one), ["会议纪要.txt"]);
    assert_eq!(one["path"], listed["path"]);
    // Sorted by size, largest first: the folder still leads at the top.
    let sorted = place.json(&alice, &["ls", "--sort", "size", "--desc"]);
    assert_eq!(entry_names(&sorted)[0], "文档");
    // The text: the path, then the names.
    let shown = place.text(&alice, &["ls", "/文档"]);
    assert!(shown.starts_with("/文档\n"), "{shown}");
    assert!(shown.contains("2024/"), "{shown}");
    place.fails(&alice, &["ls", "/文档/none"], "unknown_entry");

    // Down, byte for byte, under the entry's name.
    let got = place.json(&alice, &["download", "/文档/2024/会议纪要.txt"]);
    assert_eq!(got["path"], "会议纪要.txt", "{got}");
    assert_eq!(got["size"], bytes.len());
    assert!(std::fs::read(place.file("会议纪要.txt")).expect("saved") == bytes);
    let got = place.json(&alice, &["download", "/文档/2024/会议纪要.txt", "copy.bin"]);
    assert_eq!(got["path"], "copy.bin");
    assert!(std::fs::read(place.file("copy.bin")).expect("saved") == bytes);
    place.fails(&alice, &["download", "/文档"], "not_a_file");

    // Rename and move, by path.
    let renamed = place.json(
        &alice,
        &["rename", "/文档/2024/会议纪要.txt", "纪要-终稿.txt"],
    );
    assert_eq!(renamed["name"], "纪要-终稿.txt");
    assert_eq!(renamed["id"], up["id"]);
    let archive = place.json(&alice, &["mkdir", "/归档"]);
    let moved = place.json(
        &alice,
        &["mv", "/文档/2024/纪要-终稿.txt", "顶层.txt", "/归档"],
    );
    assert_eq!(entries(&moved).len(), 2, "{moved}");
    for entry in entries(&moved) {
        assert_eq!(entry["parent"], archive["id"], "{entry}");
    }
    // A renamed entry downloads under its new name.
    let got = place.json(&alice, &["download", "/归档/纪要-终稿.txt"]);
    assert_eq!(got["path"], "纪要-终稿.txt");
    assert!(std::fs::read(place.file("纪要-终稿.txt")).expect("saved") == bytes);
    // Into a file: refused here.
    place.fails(
        &alice,
        &["mv", "/文档/2024", "/归档/纪要-终稿.txt"],
        "not_a_folder",
    );

    // Search by part of a Chinese name; recent files.
    let found = place.json(&alice, &["search", "终稿"]);
    assert_eq!(entry_names(&found), ["纪要-终稿.txt"]);
    let none = place.json(&alice, &["search", "不存在的"]);
    assert!(entries(&none).is_empty());
    let recent = place.json(&alice, &["recent"]);
    assert!(entry_names(&recent).contains(&"纪要-终稿.txt"), "{recent}");

    // To the bin, back, and away for good.
    let gone = place.json(&alice, &["rm", "/归档/纪要-终稿.txt"]);
    assert_eq!(gone, serde_json::json!({"ok": true}));
    assert_eq!(
        entry_names(&place.json(&alice, &["ls", "/归档"])),
        ["顶层.txt"]
    );
    let bin = place.json(&alice, &["bin"]);
    assert_eq!(entry_names(&bin), ["纪要-终稿.txt"]);
    let binned = &entries(&bin)[0];
    assert!(binned["trashed_at"].is_i64(), "{binned}");
    assert_eq!(binned["home"], archive["id"], "{binned}");
    let restored = place.json(&alice, &["restore", "纪要-终稿.txt"]);
    assert_eq!(entry_names(&restored), ["纪要-终稿.txt"]);
    let back = place.json(&alice, &["ls", "/归档"]);
    let mut names = entry_names(&back);
    names.sort_unstable();
    assert_eq!(names, ["纪要-终稿.txt", "顶层.txt"]);
    assert!(entries(&place.json(&alice, &["bin"])).is_empty());
    place.fails(&alice, &["restore", "纪要-终稿.txt"], "unknown_entry");

    // rm by id; purge by id.
    let id = str_of(&renamed, "id");
    place.json(&alice, &["rm", id]);
    let purged = place.json(&alice, &["purge", id]);
    assert_eq!(purged["purged"], 1, "{purged}");
    assert!(purged["pending"].is_boolean(), "{purged}");
    // A whole folder to the bin, then the bin emptied.
    place.json(&alice, &["rm", "/文档"]);
    let shown = place.text(&alice, &["bin"]);
    assert!(shown.contains("文档/"), "{shown}");
    // Not without --yes (no one to ask here).
    place.fails(&alice, &["purge"], "aborted");
    let purged = place.json(&alice, &["purge", "--yes"]);
    assert!(purged["purged"].as_u64() >= Some(1), "{purged}");
    assert!(entries(&place.json(&alice, &["bin"])).is_empty());
    assert_eq!(
        place.text(&alice, &["bin"]).trim(),
        "the bin is empty",
        "text"
    );
}

#[test]
fn shares_are_saved_by_another_user_and_opened_without_an_account() {
    let server = start_server();
    let alice = User::register(&server.process.ws_url, "alice");
    let bob = User::register(&server.process.ws_url, "bob");
    let place = Place::new();
    let src = tempfile::tempdir().expect("tempdir");
    let report = content(200 * 1024, 2);
    let photo = content(50 * 1024 + 1, 3);

    place.json(&alice, &["mkdir", "/共享资料"]);
    let local = write(src.path(), "季度报告.bin", &report);
    place.json(&alice, &["upload", utf8(&local), "/共享资料"]);
    place.json(&alice, &["mkdir", "/共享资料/照片"]);
    let local = write(src.path(), "合影.raw", &photo);
    place.json(&alice, &["upload", utf8(&local), "/共享资料/照片"]);

    // A folder shared with a chosen code: the link is absolute.
    let share = place.json(
        &alice,
        &["share", "/共享资料", "--code", "ab12", "--expires", "7d"],
    );
    let link = str_of(&share, "link").to_owned();
    let share_id = str_of(&share, "id").to_owned();
    assert!(link.starts_with("http://"), "{share}");
    assert!(link.ends_with(&format!("/s/{share_id}")), "{share}");
    assert_eq!(share["code"], "ab12");
    assert_eq!(share["kind"], "folder");
    assert_eq!(share["name"], "共享资料");
    assert_eq!(share["active"], true);
    assert!(share["expires_at"].is_i64(), "{share}");
    // Text: the link and the code.
    let shares = place.json(&alice, &["shares"]);
    let listed = shares["shares"].as_array().expect("shares");
    assert_eq!(listed.len(), 1, "{shares}");
    assert_eq!(listed[0]["link"], share["link"]);
    let shown = place.text(&alice, &["shares"]);
    assert!(shown.contains(&link) && shown.contains("ab12"), "{shown}");
    // Codes are checked before anything is sent.
    let out = place.run(&alice, &["share", "/共享资料", "--code", "密码"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Bob saves it by the link, into a folder of his.
    let bob_place = Place::new();
    bob_place.fails(&bob, &["save", &link, "wrong1"], "wrong_code");
    bob_place.json(&bob, &["mkdir", "/收到的"]);
    let saved = bob_place.json(&bob, &["save", &link, "AB12", "/收到的"]);
    assert_eq!(entry_names(&saved), ["共享资料"], "{saved}");
    entries(&saved).iter().for_each(assert_entry_shape);
    let his = bob_place.json(&bob, &["ls", "/收到的/共享资料"]);
    assert_eq!(entry_names(&his), ["照片", "季度报告.bin"]);
    let got = bob_place.json(&bob, &["download", "/收到的/共享资料/照片/合影.raw"]);
    assert_eq!(got["size"], photo.len());
    assert!(std::fs::read(bob_place.file("合影.raw")).expect("saved") == photo);
    // By the bare id too.
    let again = bob_place.json(&bob, &["save", &share_id, "ab12"]);
    assert_eq!(entry_names(&again), ["共享资料"]);
    // Alice's counts.
    let shares = place.json(&alice, &["shares"]);
    assert!(shares["shares"][0]["saves"].as_u64() >= Some(2), "{shares}");

    // Anyone opens it over HTTP, with no account at all.
    let anon = Place::new();
    let open = |args: &[&str]| {
        let mut cmd = bare(&alice.server, "nobody");
        cmd.current_dir(anon.cwd.path())
            .env_remove("MAGPIE_HTTP")
            .stdin(Stdio::null())
            .arg("drive")
            .args(args);
        cmd.output().expect("run magpie")
    };
    let view = document(&open(&["--json", "open", &link, "ab12"]), &["open"]);
    assert_eq!(view["root"]["name"], "共享资料");
    assert_eq!(view["root"]["kind"], "folder");
    assert_eq!(view["sharer"], "alice");
    assert_eq!(entry_names(&view), ["照片", "季度报告.bin"]);
    let got = document(
        &open(&[
            "--json",
            "open",
            &link,
            "ab12",
            "--download",
            "季度报告.bin",
        ]),
        &["open --download"],
    );
    assert_eq!(got["path"], "季度报告.bin");
    assert_eq!(got["size"], report.len());
    assert!(std::fs::read(anon.file("季度报告.bin")).expect("saved") == report);
    assert!(!anon.file("季度报告.bin.part").exists());
    // A path inside the shared folder, to a file named by the caller.
    let out = open(&[
        "open",
        &link,
        "ab12",
        "--download",
        "照片/合影.raw",
        "-o",
        "p.raw",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read(anon.file("p.raw")).expect("saved") == photo);
    let shown = String::from_utf8_lossy(&open(&["open", &link, "ab12"]).stdout).into_owned();
    assert!(shown.contains("共享资料/ shared by alice"), "{shown}");
    let out = open(&["open", &link, "nope"]);
    assert!(
        stderr(&out).contains("error: wrong_code:"),
        "{}",
        stderr(&out)
    );

    // One file, shared with a generated code.
    let single = place.json(
        &alice,
        &["share", "/共享资料/照片/合影.raw", "--max-downloads", "5"],
    );
    let code = str_of(&single, "code").to_owned();
    assert_eq!(code.len(), 4, "{single}");
    assert_eq!(single["max_downloads"], 5);
    let single_link = str_of(&single, "link").to_owned();
    let view = document(&open(&["--json", "open", &single_link, &code]), &["open"]);
    assert_eq!(view["root"]["kind"], "file");
    assert_eq!(view["root"]["size"], photo.len());
    let got = document(
        &open(&[
            "--json",
            "open",
            &single_link,
            &code,
            "--download",
            "合影.raw",
        ]),
        &["open --download"],
    );
    assert_eq!(got["size"], photo.len());
    assert!(std::fs::read(anon.file("合影.raw")).expect("saved") == photo);
    // An interrupted download continues from its `.part`; a `.part`
    // longer than the file cannot be a prefix of it and starts over.
    for part in [&photo[..1000], &content(photo.len() + 10, 6)[..]] {
        std::fs::write(anon.file("again.raw.part"), part).expect("write the part");
        let args = ["open", &single_link, &code, "--download", "合影.raw"];
        let out = open(&[&args[..], &["-o", "again.raw"]].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(std::fs::read(anon.file("again.raw")).expect("saved") == photo);
        assert!(!anon.file("again.raw.part").exists());
    }

    // Revoked: the link stops working for everyone at once.
    let revoked = place.json(&alice, &["unshare", &link]);
    assert_eq!(revoked, serde_json::json!({"ok": true}));
    bob_place.fails(&bob, &["save", &link, "ab12"], "unknown_share");
    let out = open(&["open", &link, "ab12"]);
    assert!(
        stderr(&out).contains("error: unknown_share:"),
        "{}",
        stderr(&out)
    );
    place.json(&alice, &["unshare", &single_link]);
    let shares = place.json(&alice, &["shares"]);
    assert!(
        shares["shares"]
            .as_array()
            .is_none_or(|s| s.iter().all(|s| s["active"] == false)),
        "{shares}"
    );
}

/// A server whose first administrator, `root`, was made before it started.
struct AdminServer {
    process: ServerProcess,
    root: User,
    _dir: tempfile::TempDir,
}

const ROOT_PASSWORD: &str = "root password 1";

fn admin_server() -> AdminServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_magpie");
    let out = Command::new(bin)
        .args(["admin", "bootstrap", "--user", "root", "--data-dir"])
        .arg(dir.path())
        .env("MAGPIE_PASSWORD", ROOT_PASSWORD)
        .env_remove("MAGPIE_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("bootstrap");
    assert!(out.status.success(), "bootstrap: {}", stderr(&out));
    let process = ServerProcess::spawn(ServerProcess::serve_command(bin, dir.path()));
    let mut login = bare(&process.ws_url, "root");
    login.env("MAGPIE_PASSWORD", ROOT_PASSWORD).arg("login");
    let out = login.output().expect("login");
    assert!(out.status.success(), "login root: {}", stderr(&out));
    let token: Value = serde_json::from_slice(&out.stdout).expect("login JSON");
    let root = User {
        server: process.ws_url.clone(),
        name: "root".into(),
        token: str_of(&token, "token").to_owned(),
    };
    AdminServer {
        process,
        root,
        _dir: dir,
    }
}

/// `magpie admin --json ARGS` as root.
fn admin(server: &AdminServer, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_magpie"));
    cmd.args(["admin", "--server", &server.root.server])
        .env("MAGPIE_TOKEN", &server.root.token)
        .env_remove("MAGPIE_PASSWORD")
        .env_remove("MAGPIE_USER")
        .env_remove("MAGPIE_SERVER")
        .stdin(Stdio::null())
        .args(args);
    cmd.output().expect("run magpie admin")
}

#[test]
fn the_quota_is_shown_and_set_by_an_administrator() {
    let server = admin_server();
    let bob = User::register(&server.process.ws_url, "bob");
    let place = Place::new();
    let src = tempfile::tempdir().expect("tempdir");

    let empty = place.json(&bob, &["quota"]);
    assert_eq!(empty["used"], 0, "{empty}");
    assert_eq!(empty["reserved"], 0, "{empty}");
    let default_limit = empty["limit"].as_u64().expect("limit");
    assert!(default_limit > 0, "{empty}");
    let shown = place.text(&bob, &["quota"]);
    assert!(shown.starts_with("0 B of "), "{shown}");
    assert!(shown.contains("GiB") || shown.contains("MiB"), "{shown}");

    let bytes = content(64 * 1024, 4);
    let local = write(src.path(), "数据.bin", &bytes);
    place.json(&bob, &["upload", utf8(&local)]);
    let used = place.json(&bob, &["quota"]);
    assert_eq!(used["used"], bytes.len(), "{used}");
    assert!(place.text(&bob, &["quota"]).starts_with("64.0 KiB of "));

    // Only an administrator sets quotas.
    let out = Command::new(env!("CARGO_BIN_EXE_magpie"))
        .args(["admin", "--server", &bob.server, "quota", "bob", "1G"])
        .env("MAGPIE_TOKEN", &bob.token)
        .env_remove("MAGPIE_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success(), "bob is no administrator");
    let out = admin(&server, &["quota", "bob", "lots"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Down to 100 KiB: the next 64 KiB no longer fit.
    let out = admin(&server, &["--json", "quota", "bob", "100K"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        document(&out, &["admin quota"]),
        serde_json::json!({"ok": true})
    );
    let small = place.json(&bob, &["quota"]);
    assert_eq!(small["limit"], 100 * 1024, "{small}");
    let more = write(src.path(), "更多.bin", &content(64 * 1024, 5));
    place.fails(&bob, &["upload", utf8(&more)], "quota_exceeded");

    // Back to the server's default.
    let out = admin(&server, &["quota", "bob", "default"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("default"));
    let back = place.json(&bob, &["quota"]);
    assert_eq!(back["limit"], default_limit, "{back}");
    let up = place.json(&bob, &["upload", utf8(&more)]);
    assert_eq!(up["name"], "更多.bin");
}
