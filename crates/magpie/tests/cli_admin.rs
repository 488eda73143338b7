//! `magpie admin` and the presence, device and directory commands of
//! `magpie client`, driven as an operator's script would drive them: the
//! first administrator made in the database before the server ever ran,
//! then accounts and departments managed over the protocol.

use magpie_testkit::ServerProcess;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const ROOT_PASSWORD: &str = "root password 1";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_magpie")
}

/// `magpie ARGS` with none of the caller's MAGPIE_* settings.
fn magpie(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MAGPIE_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args).stdin(Stdio::null());
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exactly one JSON document on stdout.
fn document(out: &Output, what: &str) -> Value {
    let text = stdout(out);
    assert_eq!(text.lines().count(), 1, "{what}: one document: {text:?}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON: {text:?}: {e}"))
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run magpie")
}

/// `magpie admin bootstrap --user NAME --data-dir DIR --json`.
fn bootstrap(dir: &Path, name: &str, password: Option<&str>) -> Value {
    let mut cmd = magpie(&["admin", "bootstrap", "--json", "--user", name, "--data-dir"]);
    cmd.arg(dir);
    if let Some(p) = password {
        cmd.env("MAGPIE_PASSWORD", p);
    }
    let out = run(cmd);
    assert!(out.status.success(), "bootstrap {name}: {}", stderr(&out));
    document(&out, "bootstrap")
}

/// Log in with `magpie client login`; the session token.
fn login(server: &str, name: &str, password: &str) -> Result<String, Output> {
    let mut cmd = magpie(&["client", "--server", server, "--user", name, "login"]);
    cmd.env("MAGPIE_PASSWORD", password);
    let out = run(cmd);
    if !out.status.success() {
        return Err(out);
    }
    let login: Value = serde_json::from_slice(&out.stdout).expect("login JSON");
    Ok(login["token"].as_str().expect("token").to_owned())
}

/// Someone signed in with a token, running `magpie admin` or `magpie
/// client` commands.
struct Session {
    server: String,
    token: String,
}

impl Session {
    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let mut cmd = magpie(&[tool, "--server", &self.server]);
        cmd.env("MAGPIE_TOKEN", &self.token).args(args);
        cmd
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        run(self.command(tool, args))
    }

    /// `magpie TOOL --json ARGS`, which must succeed.
    fn json(&self, tool: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(tool, &all);
        assert!(out.status.success(), "{tool} {args:?}: {}", stderr(&out));
        document(&out, &format!("{tool} {args:?}"))
    }

    fn admin(&self, args: &[&str]) -> Value {
        self.json("admin", args)
    }

    fn client(&self, args: &[&str]) -> Value {
        self.json("client", args)
    }

    /// `magpie TOOL ARGS` in text mode, which must succeed.
    fn text(&self, tool: &str, args: &[&str]) -> String {
        let out = self.run(tool, args);
        assert!(out.status.success(), "{tool} {args:?}: {}", stderr(&out));
        stdout(&out)
    }
}

fn id(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_manage_accounts_and_departments() {
    // The first administrators, made in a data dir no server has used yet:
    // one with the password given, one with a generated password.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let root = bootstrap(&data, "Root", Some(ROOT_PASSWORD));
    assert_eq!(root["user"], "root");
    assert_eq!(root["created"], true);
    assert!(root.get("password").is_none(), "given, so not printed");
    let ops = bootstrap(&data, "ops", None);
    let ops_password = ops["password"].as_str().expect("generated").to_owned();
    assert!(ops_password.len() >= 16, "{ops}");
    // Again: the account exists, and stays an administrator.
    let again = bootstrap(&data, "root", None);
    assert_eq!(
        (&again["created"], &again["user_id"]),
        (&false.into(), &root["user_id"])
    );

    let server = ServerProcess::spawn(ServerProcess::serve_command(bin(), &data));
    let url = server.tcp_url.clone();
    let session = |token: String| Session {
        server: url.clone(),
        token,
    };
    let admin = session(login(&url, "root", ROOT_PASSWORD).expect("root logs in"));
    login(&url, "ops", &ops_password).expect("the generated password works");

    // Departments.
    let eng = admin.admin(&["dept", "add", "Engineering"]);
    let eng_id = id(&eng);
    let backend = admin.admin(&[
        "dept",
        "add",
        "Backend",
        "--parent",
        &eng_id.to_string(),
        "--order",
        "1",
    ]);
    let backend_id = id(&backend);
    assert_eq!(backend["parent"], eng_id);
    let tree = admin.admin(&["dept", "list"]);
    assert!(tree["version"].as_i64().is_some_and(|v| v > 0), "{tree}");
    let depts = tree["departments"].as_array().expect("departments");
    let names: Vec<&str> = depts.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ["Engineering", "Backend"]);
    assert_eq!(depts[1]["parent"], eng_id);
    let text = admin.text("admin", &["dept", "list"]);
    assert!(
        text.contains("Engineering") && text.contains("\n  Backend"),
        "{text}"
    );

    // An account with a generated password, which works.
    let alice = admin.admin(&[
        "user",
        "add",
        "alice",
        "--nickname",
        "Alice",
        "--dept",
        &backend_id.to_string(),
        "--title",
        "Engineer",
    ]);
    assert_eq!(alice["user"], "alice");
    let alice_password = alice["password"].as_str().expect("generated password");
    let alice_session = session(login(&url, "alice", alice_password).expect("alice logs in"));

    // An import with one bad row: reported, the others created.
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "username,nickname,dept,title\n\
         carol,Carol,Engineering/Backend,Lead\n\
         bad name!,Nobody,,\n\
         dave,\"Dave, Jr.\",Engineering,\n",
    )
    .expect("write csv");
    let csv_path = csv.to_str().expect("utf-8 path");
    let out = admin.run("admin", &["--json", "user", "import", csv_path]);
    assert_eq!(out.status.code(), Some(1), "a row failed: {}", stderr(&out));
    assert!(
        stderr(&out).contains("1 of 3 rows failed"),
        "{}",
        stderr(&out)
    );
    let report = document(&out, "import");
    assert_eq!(
        (&report["created"], &report["failed"]),
        (&2.into(), &1.into())
    );
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (&rows[0]["user"], &rows[0]["status"]),
        (&"carol".into(), &"created".into())
    );
    assert_eq!(rows[1]["line"], 3);
    assert_eq!(rows[1]["status"], "failed");
    assert_eq!(rows[1]["error"]["code"], "invalid_username", "{report}");
    assert_eq!(rows[2]["status"], "created");
    let dave_password = rows[2]["password"].as_str().expect("generated").to_owned();
    let carol = admin.admin(&["user", "show", "carol"]);
    assert_eq!(
        (&carol["dept"], &carol["title"]),
        (&backend_id.into(), &"Lead".into())
    );
    let dave = admin.admin(&["user", "show", "dave"]);
    assert_eq!(
        (&dave["dept"], &dave["nickname"]),
        (&eng_id.into(), &"Dave, Jr.".into())
    );
    let listed = admin.admin(&["user", "list"]);
    let users: Vec<&str> = listed["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["user"].as_str())
        .collect();
    assert_eq!(users, ["root", "ops", "alice", "carol", "dave"]);
    let table = admin.text("admin", &["user", "list", "--prefix", "ca"]);
    assert!(
        table.contains("carol") && table.contains("Backend"),
        "{table}"
    );
    assert!(!table.contains("alice"), "{table}");

    // Disabling closes dave's session at once (long before any periodic
    // token check), and he cannot log in again.
    let mut dave_client = magpie_client::Client::connect(&url).await.expect("connect");
    dave_client
        .login("dave", &dave_password, None)
        .await
        .expect("dave logs in");
    let disable = admin.command("admin", &["--json", "user", "disable", "dave"]);
    let out = tokio::task::spawn_blocking(move || run(disable))
        .await
        .expect("join");
    assert!(out.status.success(), "disable: {}", stderr(&out));
    assert_eq!(document(&out, "disable")["state"], "disabled");
    let goaway = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match dave_client.next_push().await {
                Some(magpie_proto::Push::Goaway(notice)) => return Some(notice.reason),
                Some(_) => continue,
                None => return None,
            }
        }
    })
    .await
    .expect("the session closes at once");
    assert_eq!(goaway.as_deref(), Some("account_disabled"));
    let refused = login(&url, "dave", &dave_password).expect_err("disabled");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("error: account_disabled:"),
        "{}",
        stderr(&refused)
    );

    // A non-administrator is refused, clearly.
    for args in [&["user", "list"][..], &["dept", "add", "Rogue"]] {
        let out = alice_session.run("admin", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).starts_with("error: forbidden: "),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty());
    }
    // bootstrap also works while the server runs: alice is an
    // administrator from her next request on.
    assert_eq!(bootstrap(&data, "alice", None)["created"], false);
    assert_eq!(
        alice_session.admin(&["user", "show", "carol"])["user"],
        "carol"
    );

    // Presence, devices and the directory from `magpie client`.
    let presence = alice_session.client(&["presence", "busy", "--text", "in a meeting"]);
    assert_eq!(
        presence,
        serde_json::json!({
            "user_id": alice["user_id"],
            "user": "alice",
            "status": "busy",
            "text": "in a meeting",
        })
    );
    let devices = alice_session.client(&["devices"]);
    let devices = devices["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0]["platform"], "cli");
    assert_eq!(devices[0]["current"], true);
    assert_eq!(devices[0]["online"], true);
    let text = alice_session.text("client", &["devices"]);
    assert!(text.starts_with("ID "), "{text}");
    let members = alice_session.client(&["dept", "members", &backend_id.to_string()]);
    let members: Vec<&str> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["user"]["user"].as_str())
        .collect();
    assert_eq!(members, ["alice", "carol"]);
    let tree = alice_session.text("client", &["dept", "list"]);
    assert!(
        tree.contains("Backend  [") && tree.contains("2 members"),
        "{tree}"
    );

    // Deleting asks first; without an answer nothing happens.
    let out = admin.run("admin", &["user", "delete", "carol"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("aborted"), "{}", stderr(&out));
    assert_eq!(admin.admin(&["user", "show", "carol"])["state"], "active");
    let deleted = admin.admin(&["user", "delete", "carol", "--yes"]);
    assert_eq!(deleted["state"], "deleted");
}

#[test]
fn usage_mistakes_exit_2_before_anything_happens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("never-created");
    // No --user for bootstrap; a bad name; a bad config file.
    let mut cmd = magpie(&["admin", "bootstrap", "--data-dir"]);
    cmd.arg(&data);
    assert_eq!(run(cmd).status.code(), Some(2));
    let mut cmd = magpie(&["admin", "bootstrap", "--user", "no!", "--data-dir"]);
    cmd.arg(&data);
    assert_eq!(run(cmd).status.code(), Some(2));
    let config = dir.path().join("magpie.toml");
    std::fs::write(&config, "listen_tpc = 1\n").expect("write config");
    let mut cmd = magpie(&["admin", "bootstrap", "--user", "root", "--config"]);
    cmd.arg(&config);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!data.exists(), "nothing was created");
    // No credentials for a server command; an import file that is not one.
    let out = run(magpie(&["admin", "user", "list"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: usage: "),
        "{}",
        stderr(&out)
    );
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "name,dept\nbob,1\n").expect("write");
    let mut cmd = magpie(&["admin", "--server", "tcp://127.0.0.1:1", "user", "import"]);
    cmd.arg(&csv).env("MAGPIE_TOKEN", "t");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("header"), "{}", stderr(&out));
    let out = run(magpie(&["client", "--user", "x", "presence", "offline"]));
    assert_eq!(out.status.code(), Some(2));
}
