//! `fanout`: one message, many connections to deliver it to. Until groups
//! exist this is the stand-in for the group scenario: one recipient online
//! on `devices` connections, one sender at a constant rate. Each message is
//! stored once, encoded once, and pushed to every device; the latency that
//! counts is until the *last* device has it.

use crate::direct::{body, open_loop, parse_body, progress_bar, wait_until};
use crate::report::{self, Latency, Report, ServerUse};
use crate::{BenchError, Common};
use crate::{fleet, procstat};
use clap::Args;
use magpie_client::PushStream;
use magpie_proto::Push;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// `fanout` options.
#[derive(Args, Debug, Clone)]
pub struct FanoutArgs {
    /// Connections (devices) the recipient has online.
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Messages per second from the sender.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Seconds to send for.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Seconds to wait for stragglers after the last send.
    #[arg(long, default_value_t = 10.0)]
    pub grace: f64,
}

/// Per message: how many devices have it, and the latency of the last one.
#[derive(Debug, Default)]
struct Deliveries {
    /// Indexed by message number.
    copies: Vec<u32>,
    last_micros: Vec<u64>,
    /// Every copy's latency.
    each: Option<hdrhistogram::Histogram<u64>>,
    duplicates: u64,
}

impl Deliveries {
    fn new(total: usize) -> Deliveries {
        Deliveries {
            copies: vec![0; total],
            last_micros: vec![0; total],
            each: Some(report::histogram()),
            duplicates: 0,
        }
    }

    /// Device `seen` (its own set of message numbers) got message `k`,
    /// scheduled `sent` µs after the epoch, at `now` µs.
    fn record(&mut self, seen: &mut [bool], k: usize, sent: u64, now: u64) {
        let (Some(copies), Some(was_seen)) = (self.copies.get_mut(k), seen.get_mut(k)) else {
            return;
        };
        if *was_seen {
            self.duplicates += 1;
            return;
        }
        *was_seen = true;
        *copies += 1;
        let micros = now.saturating_sub(sent);
        self.last_micros[k] = self.last_micros[k].max(micros);
        if let Some(each) = &mut self.each {
            report::record(each, micros);
        }
    }
}

pub async fn run(common: &Common, args: FanoutArgs) -> Result<Report, BenchError> {
    if args.devices == 0 || args.rate <= 0.0 || args.duration <= 0.0 {
        return Err(BenchError::Setup(
            "devices, rate and duration must be positive".into(),
        ));
    }
    fleet::raise_fd_limit();
    let prefix = fleet::run_prefix("fanout");
    let users = fleet::create_users(common, &prefix, 2).await?;
    let (sender, recipient) = (&users[0], &users[1]);
    let total = (args.rate * args.duration).round() as usize;
    let epoch = Instant::now();
    let deliveries = Arc::new(Mutex::new(Deliveries::new(total)));
    let spread = if fleet::is_loopback(common.server(0)) {
        Some(64)
    } else {
        None
    };
    let mut readers = Vec::with_capacity(args.devices);
    let mut devices = Vec::with_capacity(args.devices);
    for d in 0..args.devices {
        let bind_ip = spread.map(|s| fleet::source_ip(d, s));
        let mut client = fleet::connect_as(common.server(d), recipient, bind_ip).await?;
        let pushes = client.take_pushes();
        readers.push(tokio::spawn(read_pushes(
            pushes,
            deliveries.clone(),
            epoch,
            total,
        )));
        devices.push(client);
    }
    let client = Arc::new(fleet::connect_as(common.server(0), sender, None).await?);
    let before = common.server_pid.and_then(procstat::sample);
    let acked = Arc::new(Mutex::new(vec![false; total]));
    let errors = Arc::new(AtomicU64::new(0));
    let progress = progress_bar(common, total as u64);
    let sending = open_loop(total as u64, args.rate, progress.clone(), |k, scheduled| {
        let (client, to) = (client.clone(), recipient.name.clone());
        let text = body(epoch, scheduled, k, args.size);
        let (acked, errors) = (acked.clone(), errors.clone());
        async move {
            match client.send_with_cmid(&to, &format!("f{k}"), &text).await {
                Ok(_) => {
                    if let Some(a) = acked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_mut(k as usize)
                    {
                        *a = true;
                    }
                }
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    })
    .await;
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let wanted = acked.iter().filter(|a| **a).count() as u64;
    let devices_u32 = args.devices as u32;
    wait_until(args.grace, || {
        let d = deliveries.lock().unwrap_or_else(|p| p.into_inner());
        acked
            .iter()
            .zip(&d.copies)
            .all(|(a, c)| !a || *c >= devices_u32)
    })
    .await;
    let after = common.server_pid.and_then(procstat::sample);
    for reader in readers {
        reader.abort();
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    let mut d = std::mem::take(&mut *deliveries.lock().unwrap_or_else(|p| p.into_inner()));
    let mut last = report::histogram();
    let mut lost = 0u64;
    for (k, was_acked) in acked.iter().enumerate() {
        if !was_acked {
            continue;
        }
        lost += u64::from(devices_u32.saturating_sub(d.copies[k]));
        if d.copies[k] >= devices_u32 {
            report::record(&mut last, d.last_micros[k]);
        }
    }
    let copies = wanted * args.devices as u64;
    let each = d.each.take().unwrap_or_else(report::histogram);
    for device in devices {
        device.close().await;
    }
    Ok(Report {
        scenario: "fanout".into(),
        target: common.servers.join(","),
        params: serde_json::json!({"devices": args.devices, "rate": args.rate, "duration": args.duration, "size": args.size}),
        attempted: total as u64,
        succeeded: wanted,
        errors: errors.load(Ordering::Relaxed),
        lost,
        duplicates: d.duplicates,
        target_rate: Some(args.rate),
        achieved_rate: Some(wanted as f64 / sending),
        elapsed_seconds: sending,
        latency: Latency::from_micros(&last),
        ack_latency: None,
        server: ServerUse::per_unit(before, after, copies),
        client_peak_rss_kib: procstat::sample(std::process::id()).map(|s| s.peak_rss_kib),
        notes: vec![
            "latency: until the last device has the message; server CPU is per delivered copy"
                .into(),
            format!(
                "per-copy latency p50 {:.2} ms, p99 {:.2} ms",
                each.value_at_quantile(0.5) as f64 / 1000.0,
                each.value_at_quantile(0.99) as f64 / 1000.0
            ),
        ],
    })
}

async fn read_pushes(
    mut pushes: PushStream,
    deliveries: Arc<Mutex<Deliveries>>,
    epoch: Instant,
    total: usize,
) {
    let mut seen = vec![false; total];
    while let Some(push) = pushes.next_push().await {
        if let Push::Message(m) = push
            && let Some((sent, k)) = parse_body(m.body.as_bytes())
        {
            let now = epoch.elapsed().as_micros() as u64;
            deliveries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(&mut seen, k as usize, sent, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_device_latency_and_duplicates() {
        let mut d = Deliveries::new(2);
        let (mut a, mut b) = (vec![false; 2], vec![false; 2]);
        d.record(&mut a, 0, 100, 300);
        d.record(&mut b, 0, 100, 900);
        d.record(&mut b, 0, 100, 950);
        d.record(&mut a, 1, 200, 250);
        d.record(&mut a, 7, 0, 1);
        assert_eq!(d.copies, [2, 1]);
        assert_eq!(d.last_micros, [800, 50]);
        assert_eq!(d.duplicates, 1, "a device seeing a message twice");
    }
}
