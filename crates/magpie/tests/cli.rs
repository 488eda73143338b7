//! The `magpie client` command line, driven as a script would drive it.

use magpie_testkit::ServerProcess;
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "correct horse battery";

struct Server {
    process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Server {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let command = ServerProcess::serve_command(env!("CARGO_BIN_EXE_magpie"), dir.path());
    Server {
        process: ServerProcess::spawn(command),
        _dir: dir,
    }
}

fn client(server: &str, user: &str, password: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_magpie"));
    cmd.args(["client", "--server", server, "--user", user]);
    cmd.env_remove("MAGPIE_PASSWORD").env_remove("MAGPIE_TOKEN");
    if let Some(p) = password {
        cmd.env("MAGPIE_PASSWORD", p);
    }
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run magpie client")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

#[test]
fn register_send_listen_history_conversations() {
    let server = start_server();
    for (url, alice, bob) in [
        (&server.tcp_url, "alice", "bob"),
        (&server.ws_url, "alice2", "bob2"),
    ] {
        for name in [alice, bob] {
            let mut cmd = client(url, name, Some(PASSWORD));
            cmd.arg("register");
            let out = run(cmd);
            assert!(
                out.status.success(),
                "register {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        // Bob listens for two messages while alice sends them.
        let mut listen = client(url, bob, Some(PASSWORD));
        listen
            .args(["listen", "--count", "2", "--timeout", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut listener = listen.spawn().expect("listen");
        // Wait until listen has its starting positions: messages sent from
        // then on are the ones it must print.
        // (The reader stays open until listen ends: a closed pipe would
        // fail its later writes to stderr.)
        let mut stderr = std::io::BufReader::new(listener.stderr.take().expect("piped stderr"));
        let mut ready = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut ready).expect("read listen's stderr");
        assert_eq!(ready.trim(), "listening", "listen did not start");
        for text in ["hello bob", "it's me, 'alice'"] {
            let mut cmd = client(url, alice, Some(PASSWORD));
            cmd.args(["send", bob, text]);
            let out = run(cmd);
            assert!(
                out.status.success(),
                "send: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let ack = &json_lines(&out)[0];
            assert!(ack["seq"].as_i64().is_some_and(|s| s >= 1), "{ack}");
        }
        let heard = listener.wait_with_output().expect("listener ends");
        drop(stderr);
        assert!(
            heard.status.success(),
            "listen: {}",
            String::from_utf8_lossy(&heard.stderr)
        );
        let msgs = json_lines(&heard);
        let bodies: Vec<_> = msgs
            .iter()
            .map(|m| m["body"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(bodies, ["hello bob", "it's me, 'alice'"]);
        assert_eq!(msgs[0]["from"], alice);

        let mut cmd = client(url, bob, Some(PASSWORD));
        cmd.args(["history", alice]);
        let hist = json_lines(&run(cmd));
        assert_eq!(
            hist.iter()
                .map(|m| m["seq"].as_i64().unwrap_or(0))
                .collect::<Vec<_>>(),
            [1, 2]
        );

        let mut cmd = client(url, bob, Some(PASSWORD));
        cmd.arg("conversations");
        let convs = json_lines(&run(cmd));
        assert_eq!(convs.len(), 1);
        assert_eq!(convs[0]["peer"], alice);
        assert_eq!(convs[0]["unread"], 2);

        // A reply addressed by conversation id lands in the same conversation.
        let conv = convs[0]["conv"].as_i64().expect("conv id").to_string();
        let mut cmd = client(url, bob, Some(PASSWORD));
        cmd.args(["send", "--conv", &conv, "by id"]);
        let out = run(cmd);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ack = &json_lines(&out)[0];
        assert_eq!(
            (ack["conv"].to_string(), ack["seq"].as_i64()),
            (conv.clone(), Some(3))
        );
        // Bad combinations are refused before anything is sent.
        for bad in [
            &["send", "--conv", &conv, alice, "both"][..],
            &["send", "only-text"],
            &["send", "--conv", "999999", "not mine"],
        ] {
            let mut cmd = client(url, bob, Some(PASSWORD));
            cmd.args(bad);
            assert!(!run(cmd).status.success(), "{bad:?} should fail");
        }
    }
}

#[test]
fn login_prints_a_token_that_later_commands_can_use() {
    let server = start_server();
    let mut cmd = client(&server.tcp_url, "carol", Some(PASSWORD));
    cmd.arg("register");
    assert!(run(cmd).status.success());
    let mut cmd = client(&server.tcp_url, "carol", Some(PASSWORD));
    cmd.arg("login");
    let out = run(cmd);
    assert!(out.status.success());
    let token = json_lines(&out)[0]["token"]
        .as_str()
        .expect("token")
        .to_string();

    let mut cmd = client(&server.tcp_url, "carol", None);
    cmd.env("MAGPIE_TOKEN", &token).arg("conversations");
    assert!(run(cmd).status.success(), "token works without a password");

    let mut cmd = client(&server.tcp_url, "carol", None);
    cmd.env("MAGPIE_TOKEN", &token).arg("logout");
    assert!(run(cmd).status.success());
    let mut cmd = client(&server.tcp_url, "carol", None);
    cmd.env("MAGPIE_TOKEN", &token).arg("conversations");
    let out = run(cmd);
    assert!(!out.status.success(), "revoked token refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_token"));
}

#[test]
fn failures_exit_non_zero_with_the_error_code() {
    let server = start_server();
    // No password in the environment: a usage error, nothing sent.
    let mut cmd = client(&server.tcp_url, "dave", None);
    cmd.arg("register");
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MAGPIE_PASSWORD"));

    let mut cmd = client(&server.tcp_url, "dave", Some("wrong password"));
    cmd.args(["send", "erin", "hi"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid_credentials"), "{stderr}");
    assert!(
        !stderr.contains("wrong password"),
        "the password is never printed"
    );

    let mut cmd = client("tcp://127.0.0.1:1", "dave", Some(PASSWORD));
    cmd.arg("conversations");
    assert_eq!(run(cmd).status.code(), Some(1), "unreachable server");
}
