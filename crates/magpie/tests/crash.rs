//! The core promise under the harshest failure: the server process is
//! killed with SIGKILL while a client streams messages. After a restart on
//! the same data directory, every message that had been acked is there,
//! exactly once, in a gapless sequence.

use magpie_client::{Client, SyncState};
use magpie_testkit::ServerProcess;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

/// `magpie serve` on ephemeral loopback ports over `data_dir`.
fn start_server(data_dir: &Path) -> ServerProcess {
    let mut command = ServerProcess::serve_command(env!("CARGO_BIN_EXE_magpie"), data_dir);
    // The streams below send from one user as fast as acks come back; the
    // per-user send rate would end them long before the kill.
    command.env("MAGPIE_SEND_RATE_PER_USER", "off");
    ServerProcess::spawn(command)
}

async fn login(url: &str, name: &str, register: bool) -> Client {
    let client = Client::connect(url).await.expect("connect");
    if register {
        client.register(name, PASSWORD).await.expect("register");
    }
    client.login(name, PASSWORD, None).await.expect("login");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_survive_sigkill_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start_server(dir.path());
    let url = server.tcp_url.clone();
    login(&url, "bob", true).await;
    let alice = login(&url, "alice", true).await;

    // Several concurrent streams so that group commit has batches in flight
    // at the moment of the kill.
    let alice = std::sync::Arc::new(alice);
    let mut streams = Vec::new();
    for s in 0..4 {
        let alice = alice.clone();
        streams.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let cmid = format!("s{s}-{i}");
                match alice
                    .send_with_cmid("bob", &cmid, &format!("msg {cmid}"))
                    .await
                {
                    Ok(ack) => acked.push((cmid, ack)),
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    let mut acked = Vec::new();
    for stream in streams {
        acked.extend(
            tokio::time::timeout(Duration::from_secs(30), stream)
                .await
                .expect("streams end")
                .expect("join"),
        );
    }
    assert!(
        acked.len() > 50,
        "only {} messages acked before the kill",
        acked.len()
    );

    let server = start_server(dir.path());
    let bob = login(&server.tcp_url, "bob", false).await;
    let stored = SyncState::new().catch_up(&bob).await.expect("sync");

    // Gapless, duplicate-free sequence...
    let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=stored.len() as i64).collect::<Vec<_>>());
    let cmids: BTreeSet<&str> = stored.iter().map(|m| m.cmid.as_str()).collect();
    assert_eq!(cmids.len(), stored.len(), "a cmid stored twice");
    // ...containing every acked message, with the seq its ack promised.
    let by_cmid: HashMap<&str, i64> = stored.iter().map(|m| (m.cmid.as_str(), m.seq)).collect();
    for (cmid, ack) in &acked {
        assert_eq!(
            by_cmid.get(cmid.as_str()),
            Some(&ack.seq),
            "acked message {cmid} lost or moved"
        );
    }

    // Retrying the unacked tail with the same cmids stores each at most once.
    let alice = login(&server.tcp_url, "alice", false).await;
    let retry = alice
        .send_with_cmid("bob", &acked[0].0, "msg again")
        .await
        .expect("retry");
    assert!(retry.duplicate);
    assert_eq!(retry.seq, acked[0].1.seq);
}
