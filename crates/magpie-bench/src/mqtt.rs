//! The peer baseline: the `direct` workload against an MQTT broker
//! (Mosquitto), measured by the same harness. Each simulated user is one
//! MQTT client subscribed at QoS 1 to a topic of its own; a message is a
//! QoS 1 publish to the recipient's topic, with the same body (send time,
//! number, padding) as against Magpie. Mosquitto keeps nothing on disk, so
//! its numbers compare with Magpie's non-durable path, and the durable
//! Magpie figures are reported beside them.

use crate::direct::{DirectArgs, Received, open_loop, parse_body, progress_bar, route, wait_until};
use crate::report::{Latency, Report, ServerUse};
use crate::{BenchError, Common, procstat};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn host_port(url: &str) -> Result<(String, u16), BenchError> {
    let rest = url
        .strip_prefix("mqtt://")
        .ok_or_else(|| BenchError::Setup(format!("{url}: expected mqtt://host:port")))?;
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "1883"));
    let port = port
        .trim_end_matches('/')
        .parse()
        .map_err(|_| BenchError::Setup(format!("{url}: bad port")))?;
    Ok((host.to_string(), port))
}

pub async fn run_direct(
    common: &Common,
    args: &DirectArgs,
    url: &str,
) -> Result<Report, BenchError> {
    let (host, port) = host_port(url)?;
    let run: u32 = rand::random();
    let topic = |user: usize| format!("magpie-bench/{run:08x}/u{user}");
    let users = args.pairs * 2;
    let epoch = Instant::now();
    let received = Arc::new(Mutex::new(Received::new()));
    let acked = Arc::new(AtomicU64::new(0));
    let subscribed = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::with_capacity(users);
    let mut loops = Vec::with_capacity(users);
    for u in 0..users {
        let mut options = MqttOptions::new(format!("mb{run:08x}-{u}"), host.clone(), port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_inflight(1000);
        let (client, mut eventloop) = AsyncClient::new(options, 10_000);
        client
            .subscribe(topic(u), QoS::AtLeastOnce)
            .await
            .map_err(|e| BenchError::Mqtt(e.to_string()))?;
        let (received, acked, subscribed) = (received.clone(), acked.clone(), subscribed.clone());
        loops.push(tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Some((micros, k)) = parse_body(&p.payload) {
                            received
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .record(epoch, micros, k);
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subscribed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }));
        clients.push(client);
    }
    // Measure only once every subscription is acknowledged: a publish to
    // a topic nobody has subscribed to yet is dropped by the broker.
    let deadline = Instant::now() + Duration::from_secs(30);
    while subscribed.load(Ordering::Relaxed) < users as u64 {
        if Instant::now() > deadline {
            return Err(BenchError::Mqtt(format!(
                "only {} of {users} subscriptions acknowledged",
                subscribed.load(Ordering::Relaxed)
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = common.server_pid.and_then(procstat::sample);
    let total = (args.rate * args.duration).round() as u64;
    let errors = Arc::new(AtomicU64::new(0));
    let progress = progress_bar(common, total);
    let sending = open_loop(total, args.rate, progress.clone(), |k, scheduled| {
        let (from, to) = route(k, args.pairs);
        let (client, t) = (clients[from].clone(), topic(to));
        let body = crate::direct::body(epoch, scheduled, k, args.size);
        let errors = errors.clone();
        async move {
            if client
                .publish(t, QoS::AtLeastOnce, false, body.into_bytes())
                .await
                .is_err()
            {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
    .await;
    wait_until(args.grace, || {
        received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .len() as u64
            >= total
            && acked.load(Ordering::Relaxed) >= total
    })
    .await;
    let after = common.server_pid.and_then(procstat::sample);
    for l in loops {
        l.abort();
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    let received = std::mem::take(&mut *received.lock().unwrap_or_else(|e| e.into_inner()));
    let acked = acked.load(Ordering::Relaxed);
    let delivered = received.seen.len() as u64;
    let server = ServerUse::per_unit(before, after, delivered);
    Ok(Report {
        scenario: "direct (mqtt peer, QoS 1)".into(),
        target: url.to_string(),
        params: serde_json::json!({"pairs": args.pairs, "rate": args.rate, "duration": args.duration, "size": args.size}),
        attempted: total,
        succeeded: acked,
        errors: errors.load(Ordering::Relaxed),
        lost: acked.saturating_sub(delivered),
        duplicates: received.duplicates,
        target_rate: Some(args.rate),
        achieved_rate: Some(delivered as f64 / sending),
        elapsed_seconds: sending,
        latency: Latency::from_micros(&received.latency),
        ack_latency: None,
        server,
        client_peak_rss_kib: procstat::sample(std::process::id()).map(|s| s.peak_rss_kib),
        notes: vec![
            "the broker persists nothing: compare with Magpie's durable figures knowingly".into(),
        ],
    })
}
