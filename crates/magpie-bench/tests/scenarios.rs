//! Each scenario, small, against a real server on ephemeral ports: it
//! runs to the end and its delivery checks hold. (Speed is measured by the
//! standard run in `scripts/bench.sh`, never asserted here.)

use magpie_bench::direct::DirectArgs;
use magpie_bench::fanout::FanoutArgs;
use magpie_bench::group::GroupArgs;
use magpie_bench::sync::SyncArgs;
use magpie_bench::{Common, Report};
use magpie_server::{Config, RunningServer};
use tempfile::TempDir;

async fn server() -> (TempDir, RunningServer) {
    let dir = TempDir::new().expect("temporary directory");
    let server = magpie_server::start(Config::ephemeral(dir.path()))
        .await
        .expect("server starts");
    (dir, server)
}

fn common(server: &RunningServer) -> Common {
    Common {
        servers: vec![format!("tcp://{}", server.tcp_addr())],
        server_pid: Some(std::process::id()),
        progress: false,
    }
}

/// Every attempted operation succeeded, and nothing was lost or repeated.
fn assert_clean(report: &Report, attempted: u64) {
    assert_eq!(
        (report.attempted, report.succeeded, report.errors),
        (attempted, attempted, 0),
        "{report:?}"
    );
    assert_eq!((report.lost, report.duplicates), (0, 0), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_delivers_every_message_once() {
    let (_dir, server) = server().await;
    let args = DirectArgs {
        pairs: 3,
        rate: 200.0,
        duration: 1.0,
        size: 100,
        peer: None,
        grace: 10.0,
    };
    let report = magpie_bench::direct::run(&common(&server), args)
        .await
        .expect("direct runs");
    assert_clean(&report, 200);
    assert_eq!(report.latency.count, 200, "one receipt per message");
    assert!(
        report.server.is_some(),
        "reads its own process as the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reaches_every_device() {
    let (_dir, server) = server().await;
    let args = FanoutArgs {
        devices: 20,
        rate: 50.0,
        duration: 1.0,
        size: 64,
        grace: 10.0,
    };
    let report = magpie_bench::fanout::run(&common(&server), args)
        .await
        .expect("fanout runs");
    assert_clean(&report, 50);
    assert_eq!(
        report.latency.count, 50,
        "a last-device latency for every message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_reaches_every_online_member() {
    let (_dir, server) = server().await;
    let args = GroupArgs {
        members: 12,
        online: 8,
        rate: 50.0,
        duration: 1.0,
        size: 64,
        grace: 10.0,
    };
    let report = magpie_bench::group::run(&common(&server), args)
        .await
        .expect("group runs");
    assert_clean(&report, 50);
    assert_eq!(
        report.latency.count, 50,
        "a last-member latency for every message"
    );
    assert!(report.server.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_refuses_more_members_than_the_server_allows() {
    let dir = TempDir::new().expect("temporary directory");
    let mut config = Config::ephemeral(dir.path());
    config.group_member_limit = 4;
    let server = magpie_server::start(config).await.expect("server starts");
    let args = GroupArgs {
        members: 4,
        online: 1,
        rate: 10.0,
        duration: 1.0,
        size: 64,
        grace: 1.0,
    };
    let err = magpie_bench::group::run(&common(&server), args)
        .await
        .expect_err("4 members and the owner do not fit in 4");
    assert!(err.to_string().contains("--group-member-limit 5"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_catches_up_exactly() {
    let (_dir, server) = server().await;
    let args = SyncArgs {
        users: 1,
        conversations: 4,
        messages: 200,
    };
    let report = magpie_bench::sync::run(&common(&server), args)
        .await
        .expect("sync runs");
    assert_clean(&report, 1);
}
