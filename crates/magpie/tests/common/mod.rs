//! What the `magpie client` suites share: a real server process on free
//! ports, and a user who registers once and then runs commands with their
//! session token, as a script would.

#![allow(dead_code)]

use magpie_testkit::ServerProcess;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PASSWORD: &str = "correct horse battery";

pub struct Server {
    pub process: ServerProcess,
    _dir: tempfile::TempDir,
}

pub fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let command = ServerProcess::serve_command(env!("CARGO_BIN_EXE_magpie"), dir.path());
    Server {
        process: ServerProcess::spawn(command),
        _dir: dir,
    }
}

/// One user of the test: registered, logged in once, and from then on
/// using the session token (a password login per command would soon hit
/// the per-account login rate limit).
pub struct User {
    pub server: String,
    pub name: String,
    pub token: String,
}

impl User {
    pub fn register(server: &str, name: &str) -> User {
        let with_password = |op: &str| {
            let mut cmd = bare(server, name);
            cmd.env("MAGPIE_PASSWORD", PASSWORD).arg(op);
            let out = cmd.output().expect("run magpie client");
            assert!(out.status.success(), "{op} {name}: {}", stderr(&out));
            out
        };
        with_password("register");
        let login: Value =
            serde_json::from_slice(&with_password("login").stdout).expect("login JSON");
        User {
            server: server.to_string(),
            name: name.to_string(),
            token: login["token"].as_str().expect("token").to_string(),
        }
    }

    /// `magpie client ARGS` as this user.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = bare(&self.server, &self.name);
        cmd.env("MAGPIE_TOKEN", &self.token).args(args);
        cmd.output().expect("run magpie client")
    }

    /// `magpie client ARGS` as this user, logging in with the password
    /// (--user and MAGPIE_PASSWORD) instead of the session token.
    pub fn run_with_password(&self, args: &[&str]) -> Output {
        let mut cmd = bare(&self.server, &self.name);
        cmd.env("MAGPIE_PASSWORD", PASSWORD).args(args);
        cmd.output().expect("run magpie client")
    }

    /// `magpie client --json ARGS`, which must succeed and print exactly
    /// one JSON document.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let lines = self.lines(&all);
        assert_eq!(lines.len(), 1, "{args:?}: one document: {lines:?}");
        lines.into_iter().next().expect("one document")
    }

    /// A messaging command (`send`, `history`, `conversations`), which
    /// must succeed; it prints one JSON document per line.
    pub fn lines(&self, args: &[&str]) -> Vec<Value> {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
            .collect()
    }

    /// `magpie client ARGS` in text mode, which must succeed.
    pub fn text(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

pub fn bare(server: &str, user: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_magpie"));
    cmd.args(["client", "--server", server, "--user", user]);
    cmd.env_remove("MAGPIE_PASSWORD")
        .env_remove("MAGPIE_TOKEN")
        .env_remove("MAGPIE_SERVER")
        .env_remove("MAGPIE_USER");
    cmd
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one JSON document a successful command printed.
pub fn document(out: &Output, args: &[&str]) -> Value {
    assert!(out.status.success(), "{args:?}: {}", stderr(out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one document: {text}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON: {text:?}: {e}"))
}

/// `len` bytes that do not repeat (xorshift), different for each seed.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the file");
    path
}
