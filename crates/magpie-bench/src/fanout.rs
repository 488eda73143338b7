//! `fanout`: one message, many connections to deliver it to. Before groups
//! existed this was the stand-in for the group scenario, and it stays as
//! its baseline (see [`crate::group`], which shares its bookkeeping): one
//! recipient online on `devices` connections, one sender at a constant
//! rate. Each message is stored once, encoded once, and pushed to every
//! device; the latency that counts is until the *last* device has it.

use crate::direct::{body, open_loop, parse_body, progress_bar, wait_until};
use crate::report::{self, Latency, Report, ServerUse};
use crate::{BenchError, Common};
use crate::{fleet, procstat};
use clap::Args;
use magpie_client::PushStream;
use magpie_proto::{ConvId, Push};
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
/// Shared with [`crate::group`], where the devices are group members.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    /// Indexed by message number.
    copies: Vec<u32>,
    last_micros: Vec<u64>,
    /// Every copy's latency.
    each: Option<hdrhistogram::Histogram<u64>>,
    duplicates: u64,
}

impl Deliveries {
    pub(crate) fn new(total: usize) -> Deliveries {
        Deliveries {
            copies: vec![0; total],
            last_micros: vec![0; total],
            each: Some(report::histogram()),
            duplicates: 0,
        }
    }

    /// Device `seen` (its own set of message numbers) got message `k`,
    /// scheduled `sent` µs after the epoch, at `now` µs.
    pub(crate) fn record(&mut self, seen: &mut [bool], k: usize, sent: u64, now: u64) {
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

    /// Whether every acked message has reached all `receivers`.
    pub(crate) fn complete(&self, acked: &[bool], receivers: u32) -> bool {
        acked
            .iter()
            .zip(&self.copies)
            .all(|(a, c)| !a || *c >= receivers)
    }

    /// After the grace period: the latency until the last of `receivers`
    /// had each acked message that reached them all, copies missing from
    /// acked messages (lost), and copies delivered of acked messages.
    pub(crate) fn tally(&self, acked: &[bool], receivers: u32) -> Tally {
        let mut tally = Tally {
            last: report::histogram(),
            lost: 0,
            delivered: 0,
        };
        for (k, was_acked) in acked.iter().enumerate() {
            if !was_acked {
                continue;
            }
            let copies = self.copies.get(k).copied().unwrap_or(0);
            tally.lost += u64::from(receivers.saturating_sub(copies));
            tally.delivered += u64::from(copies.min(receivers));
            if copies >= receivers {
                report::record(&mut tally.last, self.last_micros[k]);
            }
        }
        tally
    }

    /// Every copy's latency (taken: call once).
    pub(crate) fn take_each(&mut self) -> hdrhistogram::Histogram<u64> {
        self.each.take().unwrap_or_else(report::histogram)
    }

    pub(crate) fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

/// What [`Deliveries::tally`] found.
pub(crate) struct Tally {
    pub last: hdrhistogram::Histogram<u64>,
    pub lost: u64,
    pub delivered: u64,
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
            None,
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
        deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .complete(&acked, devices_u32)
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
    let Tally { last, lost, .. } = d.tally(&acked, devices_u32);
    let copies = wanted * args.devices as u64;
    let each = d.take_each();
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
        duplicates: d.duplicates(),
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

/// One device's (or member's) reader: records every bench message it is
/// pushed (only those in `conv`, when given) until the connection ends.
pub(crate) async fn read_pushes(
    mut pushes: PushStream,
    deliveries: Arc<Mutex<Deliveries>>,
    epoch: Instant,
    total: usize,
    conv: Option<ConvId>,
) {
    let mut seen = vec![false; total];
    while let Some(push) = pushes.next_push().await {
        if let Push::Message(m) = push
            && conv.is_none_or(|c| c == m.conv)
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

    #[test]
    fn tally_counts_missing_copies_of_acked_messages_only() {
        let mut d = Deliveries::new(3);
        let (mut a, mut b) = (vec![false; 3], vec![false; 3]);
        d.record(&mut a, 0, 0, 10);
        d.record(&mut b, 0, 0, 30);
        d.record(&mut a, 1, 0, 20);
        d.record(&mut a, 2, 0, 5);
        // Message 2 was never acked: its copy neither counts nor is missed.
        let acked = [true, true, false];
        assert!(!d.complete(&acked, 2));
        let t = d.tally(&acked, 2);
        assert_eq!((t.lost, t.delivered), (1, 3));
        assert_eq!(t.last.len(), 1, "only message 0 reached both");
        assert_eq!(t.last.max(), 30);
        assert!(d.complete(&acked, 1));
    }
}
