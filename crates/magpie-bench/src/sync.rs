//! `sync`: users who missed messages while offline reconnect and catch up.
//! Setup sends `messages` messages to each user from `conversations`
//! different senders while the user is offline; the measurement is the time
//! from connecting to holding every message (resume + `sync` pages).

use crate::fleet::{self, BenchUser};
use crate::report::{self, Latency, Report};
use crate::{BenchError, Common};
use clap::Args;
use magpie_client::SyncState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// `sync` options.
#[derive(Args, Debug, Clone)]
pub struct SyncArgs {
    /// Users who reconnect.
    #[arg(long, default_value_t = 1)]
    pub users: usize,
    /// Conversations each user missed messages in.
    #[arg(long, default_value_t = 100)]
    pub conversations: usize,
    /// Messages each user missed, spread evenly over the conversations.
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
}

pub async fn run(common: &Common, args: SyncArgs) -> Result<Report, BenchError> {
    if args.users == 0 || args.conversations == 0 || args.messages < args.conversations {
        return Err(BenchError::Setup(
            "need users >= 1 and messages >= conversations >= 1".into(),
        ));
    }
    let prefix = fleet::run_prefix("sync");
    let people = fleet::create_users(common, &prefix, args.users + args.conversations).await?;
    let (victims, senders) = people.split_at(args.users);
    let per_conversation = args.messages / args.conversations;
    let setup = Instant::now();
    let mut tasks = Vec::new();
    for (s, sender) in senders.iter().enumerate() {
        let client = Arc::new(fleet::connect_as(common.server(s), sender, None).await?);
        let victims: Vec<BenchUser> = victims.to_vec();
        tasks.push(tokio::spawn(async move {
            // Pipelined: a window of sends in flight per sender.
            let mut window = Vec::new();
            for victim in &victims {
                for i in 0..per_conversation {
                    let (client, to) = (client.clone(), victim.name.clone());
                    window.push(tokio::spawn(async move {
                        client.send(&to, &format!("missed {i}")).await
                    }));
                    if window.len() >= 64 {
                        for w in window.drain(..) {
                            w.await.map_err(|e| BenchError::Setup(e.to_string()))??;
                        }
                    }
                }
            }
            for w in window {
                w.await.map_err(|e| BenchError::Setup(e.to_string()))??;
            }
            Ok::<_, BenchError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| BenchError::Setup(e.to_string()))??;
    }
    let setup_secs = setup.elapsed().as_secs_f64();
    let expected = per_conversation * args.conversations;

    let mut latency = report::histogram();
    let mut errors = 0;
    let mut complete = 0;
    let mut duplicates = 0;
    let mut lost = 0;
    let start = Instant::now();
    for (i, victim) in victims.iter().enumerate() {
        let began = Instant::now();
        let client = fleet::connect_as(common.server(i), victim, None).await?;
        let mut state = SyncState::new();
        match state.catch_up(&client).await {
            Ok(messages) => {
                report::record(&mut latency, began.elapsed().as_micros() as u64);
                let mut per_conv: HashMap<i64, usize> = HashMap::new();
                for m in &messages {
                    *per_conv.entry(m.conv).or_default() += 1;
                }
                duplicates += messages.len().saturating_sub(expected) as u64;
                lost += expected.saturating_sub(messages.len()) as u64;
                if messages.len() == expected && per_conv.values().all(|n| *n == per_conversation) {
                    complete += 1;
                }
            }
            Err(_) => errors += 1,
        }
        client.close().await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(Report {
        scenario: "sync".into(),
        target: common.servers.join(","),
        params: serde_json::json!({"users": args.users, "conversations": args.conversations, "messages": expected}),
        attempted: args.users as u64,
        succeeded: complete,
        errors,
        lost,
        duplicates,
        target_rate: None,
        achieved_rate: Some((expected * args.users) as f64 / elapsed),
        elapsed_seconds: elapsed,
        latency: Latency::from_micros(&latency),
        ack_latency: None,
        server: None,
        client_peak_rss_kib: None,
        notes: vec![format!(
            "setup sent {} messages in {setup_secs:.1} s",
            expected * args.users
        )],
    })
}
