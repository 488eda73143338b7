//! `connect`: ramp up authenticated connections at a target rate, hold
//! them idle with heartbeats, and report the server's memory per
//! connection. Connections resume tokens (one login per simulated user, not
//! one per connection), because the point is the cost of holding
//! connections, not of Argon2.

use crate::fleet;
use crate::report::{self, Latency, Report, ServerUse};
use crate::{BenchError, Common, procstat};
use clap::Args;
use magpie_client::Client;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `connect` options.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Connections to open and hold.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// New connections per second.
    #[arg(long, default_value_t = 2_000.0)]
    pub rate: f64,
    /// Distinct users the connections log in as (as many devices each).
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// Seconds to hold every connection open after the ramp.
    #[arg(long, default_value_t = 10.0)]
    pub hold: f64,
    /// Loopback source addresses to spread over (127.0.0.2 and up), each
    /// good for ~28k connections to one server port.
    #[arg(long, default_value_t = 32)]
    pub source_ips: usize,
}

pub async fn run(common: &Common, args: ConnectArgs) -> Result<Report, BenchError> {
    let limit = fleet::raise_fd_limit();
    let mut notes = Vec::new();
    if limit > 0 && (args.connections as u64) + 256 > limit {
        return Err(BenchError::Setup(format!(
            "{} connections need that many file descriptors, but this process may open {limit}; \
             raise the hard limit (ulimit -Hn, or LimitNOFILE= in systemd) and the server's too",
            args.connections
        )));
    }
    notes.push(format!("open-file limit {limit}"));
    let users =
        fleet::create_users(common, &fleet::run_prefix("connect"), args.users.max(1)).await?;
    let before = common.server_pid.and_then(procstat::sample);
    let held: Arc<Mutex<Vec<Client>>> = Arc::new(Mutex::new(Vec::with_capacity(args.connections)));
    let errors = Arc::new(AtomicU64::new(0));
    let latency = Arc::new(Mutex::new(report::histogram()));
    let progress = crate::direct::progress_bar(common, args.connections as u64);
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(1.0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        tokio::time::sleep_until((start + interval.mul_f64(i as f64)).into()).await;
        let url = common.server(i).to_string();
        let user = users[i % users.len()].clone();
        let bind = fleet::is_loopback(&url).then(|| fleet::source_ip(i, args.source_ips));
        let (held, errors, latency, progress) = (
            held.clone(),
            errors.clone(),
            latency.clone(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let began = Instant::now();
            match fleet::connect_as(&url, &user, bind).await {
                Ok(client) => {
                    report::record(
                        &mut latency.lock().unwrap_or_else(|p| p.into_inner()),
                        began.elapsed().as_micros() as u64,
                    );
                    held.lock().unwrap_or_else(|p| p.into_inner()).push(client);
                }
                Err(e) => {
                    if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                        tracing_note(&e);
                    }
                }
            }
            if let Some(p) = progress {
                p.inc(1);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let ramp = start.elapsed().as_secs_f64();
    if let Some(p) = &progress {
        p.finish_and_clear();
    }
    tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    let after = common.server_pid.and_then(procstat::sample);
    let connected = held.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
    // Still alive after the hold (heartbeats kept them open)?
    let alive = held
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|c| !c.is_closed())
        .count();
    notes.push(format!(
        "{alive} of {connected} still open after holding {:.0} s",
        args.hold
    ));
    let server = ServerUse::per_unit(before, after, connected).map(|mut usage| {
        if connected > 0 {
            let grown = usage.rss_after_kib.saturating_sub(usage.rss_before_kib) as f64 * 1024.0;
            usage.bytes_per_connection = Some(grown / connected as f64);
        }
        usage
    });
    let client_peak = procstat::sample(std::process::id()).map(|s| s.peak_rss_kib);
    let clients = std::mem::take(&mut *held.lock().unwrap_or_else(|p| p.into_inner()));
    drop(clients);
    Ok(Report {
        scenario: "connect".into(),
        target: common.servers.join(","),
        params: serde_json::json!({"connections": args.connections, "rate": args.rate, "users": args.users, "hold": args.hold}),
        attempted: args.connections as u64,
        succeeded: connected,
        errors: errors.load(Ordering::Relaxed),
        lost: 0,
        duplicates: 0,
        target_rate: Some(args.rate),
        achieved_rate: Some(connected as f64 / ramp),
        elapsed_seconds: ramp,
        latency: Latency::from_micros(&latency.lock().unwrap_or_else(|p| p.into_inner())),
        ack_latency: None,
        server,
        client_peak_rss_kib: client_peak,
        notes,
    })
}

fn tracing_note(e: &BenchError) {
    eprintln!("first connection error: {e}");
}
