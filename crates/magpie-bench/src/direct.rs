//! `direct`: pairs of online users exchange 1:1 messages at a constant
//! total rate (open loop). Latency runs from each message's *scheduled*
//! send time to its receipt by the recipient's connection, so a server that
//! falls behind shows as latency rather than as a lower offered rate. Every
//! acked message must arrive exactly once.

use crate::fleet;
use crate::report::{self, Latency, Report, ServerUse};
use crate::{BenchError, Common, procstat};
use clap::Args;
use hdrhistogram::Histogram;
use magpie_client::{Client, PushStream};
use magpie_proto::Push;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `direct` options.
#[derive(Args, Debug, Clone)]
pub struct DirectArgs {
    /// Pairs of users (each user one connection).
    #[arg(long, default_value_t = 100)]
    pub pairs: usize,
    /// Messages per second, all pairs together.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Seconds to send for.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Drive an MQTT broker instead (mqtt://host:port): QoS 1, one topic
    /// per user, same workload; the peer baseline.
    #[arg(long)]
    pub peer: Option<String>,
    /// Seconds to wait for stragglers after the last send.
    #[arg(long, default_value_t = 10.0)]
    pub grace: f64,
}

/// Who sends message `k` to whom: pairs take turns, and each pair
/// alternates direction every round.
pub fn route(k: u64, pairs: usize) -> (usize, usize) {
    let pair = (k as usize) % pairs;
    if (k as usize / pairs).is_multiple_of(2) {
        (2 * pair, 2 * pair + 1)
    } else {
        (2 * pair + 1, 2 * pair)
    }
}

/// The body: scheduled send time (µs since the run's epoch), the message
/// number, then padding up to the requested size.
pub fn body(epoch: Instant, scheduled: Instant, k: u64, size: usize) -> String {
    let micros = scheduled.duration_since(epoch).as_micros();
    let mut body = format!("{micros}:{k}:");
    while body.len() < size {
        body.push('x');
    }
    body
}

/// Parse what [`body`] wrote.
pub fn parse_body(body: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(body.get(..body.len().min(48))?).ok()?;
    let mut parts = text.splitn(3, ':');
    let micros = parts.next()?.parse().ok()?;
    let k = parts.next()?.parse().ok()?;
    Some((micros, k))
}

/// What the receivers collect.
#[derive(Debug)]
pub struct Received {
    pub latency: Histogram<u64>,
    pub seen: HashSet<u64>,
    pub duplicates: u64,
}

impl Received {
    pub fn new() -> Received {
        Received {
            latency: report::histogram(),
            seen: HashSet::new(),
            duplicates: 0,
        }
    }

    /// Count one receipt of message `k` scheduled at `sent_micros`.
    pub fn record(&mut self, epoch: Instant, sent_micros: u64, k: u64) {
        let now = epoch.elapsed().as_micros() as u64;
        report::record(&mut self.latency, now.saturating_sub(sent_micros));
        if !self.seen.insert(k) {
            self.duplicates += 1;
        }
    }
}

impl Default for Received {
    fn default() -> Self {
        Received::new()
    }
}

pub async fn run(common: &Common, args: DirectArgs) -> Result<Report, BenchError> {
    if let Some(peer) = &args.peer {
        return crate::mqtt::run_direct(common, &args, peer).await;
    }
    if args.pairs == 0 || args.rate <= 0.0 || args.duration <= 0.0 {
        return Err(BenchError::Setup(
            "pairs, rate and duration must be positive".into(),
        ));
    }
    fleet::raise_fd_limit();
    let prefix = fleet::run_prefix("direct");
    let users = fleet::create_users(common, &prefix, args.pairs * 2).await?;
    let epoch = Instant::now();
    let received = Arc::new(Mutex::new(Received::new()));
    let mut clients: Vec<Arc<Client>> = Vec::with_capacity(users.len());
    let mut readers = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let mut client = fleet::connect_as(common.server(i), user, None).await?;
        // Pushes are read in a task of their own; sends share the client.
        let pushes = client.take_pushes();
        readers.push(tokio::spawn(read_pushes(pushes, received.clone(), epoch)));
        clients.push(Arc::new(client));
    }
    let before = common.server_pid.and_then(procstat::sample);
    let total = (args.rate * args.duration).round() as u64;
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let ack_latency = Arc::new(Mutex::new(report::histogram()));
    let acked_set = Arc::new(Mutex::new(HashSet::new()));
    let progress = progress_bar(common, total);
    let sending = open_loop(total, args.rate, progress.clone(), |k, scheduled| {
        let (from, to) = route(k, args.pairs);
        let client = clients[from].clone();
        let (peer, body) = (users[to].name.clone(), body(epoch, scheduled, k, args.size));
        let (acked, errors) = (acked.clone(), errors.clone());
        let (ack_latency, acked_set) = (ack_latency.clone(), acked_set.clone());
        async move {
            match client.send_with_cmid(&peer, &format!("k{k}"), &body).await {
                Ok(_) => {
                    let micros = scheduled.elapsed().as_micros() as u64;
                    report::record(
                        &mut ack_latency.lock().unwrap_or_else(|p| p.into_inner()),
                        micros,
                    );
                    acked_set
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(k);
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    })
    .await;
    // Wait until everything acked has arrived (or the grace period ends).
    let wanted = acked.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs_f64(args.grace);
    while Instant::now() < deadline {
        let got = received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seen
            .len() as u64;
        if got >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = common.server_pid.and_then(procstat::sample);
    for reader in readers {
        reader.abort();
    }
    let received = std::mem::take(&mut *received.lock().unwrap_or_else(|p| p.into_inner()));
    let acked_set = acked_set.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let lost = acked_set.difference(&received.seen).count() as u64;
    let server = ServerUse::per_unit(before, after, wanted);
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    let ack_latency = Latency::from_micros(&ack_latency.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Report {
        scenario: "direct".into(),
        target: common.servers.join(","),
        params: serde_json::json!({"pairs": args.pairs, "rate": args.rate, "duration": args.duration, "size": args.size}),
        attempted: total,
        succeeded: wanted,
        errors: errors.load(Ordering::Relaxed),
        lost,
        duplicates: received.duplicates,
        target_rate: Some(args.rate),
        achieved_rate: Some(wanted as f64 / sending),
        elapsed_seconds: sending,
        latency: Latency::from_micros(&received.latency),
        ack_latency: Some(ack_latency),
        server,
        client_peak_rss_kib: procstat::sample(std::process::id()).map(|s| s.peak_rss_kib),
        notes: vec![],
    })
}

async fn read_pushes(mut pushes: PushStream, received: Arc<Mutex<Received>>, epoch: Instant) {
    while let Some(push) = pushes.next_push().await {
        if let Push::Message(m) = push
            && let Some((micros, k)) = parse_body(m.body.as_bytes())
        {
            received
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(epoch, micros, k);
        }
    }
}

/// Run `send(k, scheduled_time)` for k in 0..total at `rate` per second,
/// open loop: each is spawned at its time whether or not earlier ones have
/// finished. Returns the seconds from the first schedule to the last
/// completion.
pub async fn open_loop<F, Fut>(
    total: u64,
    rate: f64,
    progress: Option<indicatif::ProgressBar>,
    mut send: F,
) -> f64
where
    F: FnMut(u64, Instant) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for k in 0..total {
        let scheduled = start + interval.mul_f64(k as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let work = send(k, scheduled);
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            work.await;
            if let Some(p) = progress {
                p.inc(1);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    start.elapsed().as_secs_f64()
}

/// Poll `done` until it holds or `seconds` pass (stragglers after a run).
pub async fn wait_until(seconds: f64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline && !done() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A progress bar, unless quiet.
pub fn progress_bar(common: &Common, total: u64) -> Option<indicatif::ProgressBar> {
    common.progress.then(|| {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} {per_sec}",
        ) {
            bar.set_style(style);
        }
        bar
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_their_send_time_and_number() {
        let epoch = Instant::now();
        let later = epoch + Duration::from_micros(1234);
        let b = body(epoch, later, 42, 100);
        assert_eq!(b.len(), 100);
        assert_eq!(parse_body(b.as_bytes()), Some((1234, 42)));
        assert_eq!(parse_body(b"garbage"), None);
    }

    #[test]
    fn every_pair_sends_both_ways() {
        let routes: Vec<_> = (0..6).map(|k| route(k, 3)).collect();
        assert_eq!(routes, [(0, 1), (2, 3), (4, 5), (1, 0), (3, 2), (5, 4)]);
    }

    #[test]
    fn receipts_count_duplicates() {
        let mut r = Received::new();
        let epoch = Instant::now();
        r.record(epoch, 0, 1);
        r.record(epoch, 0, 2);
        r.record(epoch, 0, 1);
        assert_eq!((r.seen.len(), r.duplicates), (2, 1));
    }
}
