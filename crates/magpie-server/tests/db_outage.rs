//! The database goes away and comes back: sends fail with a retryable
//! `unavailable` (never a false ack), and the server recovers by itself.
//! Uses PostgreSQL, whose per-database `ALLOW_CONNECTIONS` lets one test's
//! database go dark without touching anything else on the server.

mod common;

use common::*;
use magpie_client::SyncState;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; .ci/run runs it"]
async fn a_database_outage_gives_retryable_errors_then_recovers() {
    let admin_url = std::env::var("MAGPIE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string());
    let db = TestDatabase::create(&admin_url).await;
    let url = db.url.clone();
    let server = TestServer::start_with(move |c| c.database_url = Some(url)).await;
    let tcp = server.url(Transport::Tcp);
    let (alice, bob) = (unique("alice"), unique("bob"));
    let (a, _) = user(&tcp, &alice).await;
    let (b, _) = user(&tcp, &bob).await;
    a.send_with_cmid(&bob, "before", "before the outage")
        .await
        .expect("send");

    // Outage: no new connections, and every open one cut.
    let name = db.name().to_string();
    db.admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await;
    db.admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let during = a
        .send_with_cmid(&bob, "during", "sent during the outage")
        .await;
    assert_eq!(code_of(during), "unavailable", "a clear, retryable error");
    assert_eq!(code_of(b.conversations().await), "unavailable");
    a.ping().await.expect("the connection itself stays up");

    // Recovery, with no restart: the client retries the same cmid.
    db.admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ack = loop {
        match a
            .send_with_cmid(&bob, "during", "sent during the outage")
            .await
        {
            Ok(ack) => break ack,
            Err(e) => {
                assert_eq!(e.code().map(|c| c.as_str()), Some("unavailable"), "{e}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "server did not recover"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(ack.seq, 2);
    let stored = SyncState::new()
        .catch_up(&b)
        .await
        .expect("sync after recovery");
    let cmids: Vec<_> = stored.iter().map(|m| m.cmid.as_str()).collect();
    assert_eq!(cmids, ["before", "during"], "exactly once each");
    drop(server);
}
