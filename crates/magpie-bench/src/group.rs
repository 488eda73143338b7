//! `group`: messages into one large group, of which only some members are
//! online. This is what `fanout` (one user on many devices) stood in for
//! until groups existed, and it is built the same way so that the two
//! reports compare line for line: one sender at a constant rate, open loop,
//! latency until the *last* online member has each message, and server CPU
//! per delivered copy. What a group adds over the stand-in is the member
//! set: for every message the server has to find which of `members` users
//! are online, and the stored entry belongs to a conversation of thousands,
//! so the difference between this report and `fanout`'s is the cost of the
//! group machinery.
//!
//! Setup is most of the wall time and none of the measurement. Every
//! account costs the server an Argon2 hash, by design, so members are
//! registered without logging in (one hash each, over a few reused
//! connections: see [`fleet::register_only`]); only the `online` ones log
//! in (one more hash each) and keep that connection. The owner creates the
//! group and invites everyone in chunks of the protocol's maximum, *before*
//! anyone connects, so that the invite events are not part of what the
//! members read. Members connect round robin over `--server`, so a
//! cluster run has senders and receivers on different nodes. A member
//! counts as having lost a message when it still lacks it after the grace
//! period; a member connection the server closed (a slow consumer, say)
//! shows up there and in the notes.

use crate::direct::{body, open_loop, progress_bar, wait_until};
use crate::fanout::{Deliveries, Tally, read_pushes};
use crate::report::{self, Latency, Report, ServerUse};
use crate::{BenchError, Common};
use crate::{fleet, procstat};
use clap::Args;
use magpie_client::Client;
use magpie_proto::GroupCreate;
use magpie_proto::limits::GROUP_INVITE_MAX;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// `group` options.
#[derive(Args, Debug, Clone)]
pub struct GroupArgs {
    /// Group size (members besides the sender, who owns the group). The
    /// server's limit must allow one more: `magpie serve
    /// --group-member-limit`.
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Members online (each one connection), the first `online` of them.
    #[arg(long, default_value_t = 1000)]
    pub online: usize,
    /// Messages per second into the group.
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

/// Logins in flight while members come online: enough to keep the
/// server's hashing threads busy without filling its queue.
const LOGINS_IN_FLIGHT: usize = 8;

pub async fn run(common: &Common, args: GroupArgs) -> Result<Report, BenchError> {
    if args.members == 0 || args.rate <= 0.0 || args.duration <= 0.0 {
        return Err(BenchError::Setup(
            "members, rate and duration must be positive".into(),
        ));
    }
    if args.online == 0 || args.online > args.members {
        return Err(BenchError::Setup(format!(
            "online must be between 1 and members ({})",
            args.members
        )));
    }
    fleet::raise_fd_limit();
    let prefix = fleet::run_prefix("group");
    let owner_name = format!("{prefix}_owner");
    let names: Vec<String> = (0..args.members).map(|i| format!("{prefix}_{i}")).collect();
    let mut notes = Vec::new();

    // Accounts: one hash each.
    let began = Instant::now();
    let bar = progress_bar(common, args.members as u64 + 1);
    let mut everyone = names.clone();
    everyone.push(owner_name.clone());
    let tick = bar.clone();
    fleet::register_only(common, &everyone, move || {
        if let Some(b) = &tick {
            b.inc(1);
        }
    })
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let accounts_secs = began.elapsed().as_secs_f64();

    // The group, everyone invited before anyone is online.
    let began = Instant::now();
    let mut owner = fleet::login_as(common.server(0), &owner_name, None).await?;
    let info = owner
        .group_create(GroupCreate {
            name: format!("bench {prefix}"),
            ..GroupCreate::default()
        })
        .await?;
    if (info.member_limit as usize) < args.members + 1 {
        return Err(BenchError::Setup(format!(
            "the server allows {} members per group and this run needs {} (the owner too); \
             start it with `magpie serve --group-member-limit {}`",
            info.member_limit,
            args.members + 1,
            args.members + 1
        )));
    }
    let conv = info.conv;
    for chunk in names.chunks(GROUP_INVITE_MAX) {
        let users: Vec<&str> = chunk.iter().map(String::as_str).collect();
        owner.group_invite(conv, &users).await?;
    }
    let invite_secs = began.elapsed().as_secs_f64();
    // The owner's own pushes (its group events) are drained, never read.
    let mut owner_pushes = owner.take_pushes();
    let owner_drain =
        tokio::spawn(async move { while owner_pushes.next_push().await.is_some() {} });

    // The online members: log in (one hash each) and keep the connection.
    let total = (args.rate * args.duration).round() as usize;
    let epoch = Instant::now();
    let deliveries = Arc::new(Mutex::new(Deliveries::new(total)));
    let spread = fleet::is_loopback(common.server(0)).then_some(64);
    let began = Instant::now();
    let bar = progress_bar(common, args.online as u64);
    let limit = Arc::new(Semaphore::new(LOGINS_IN_FLIGHT));
    let mut logins = Vec::with_capacity(args.online);
    for (i, name) in names.iter().take(args.online).enumerate() {
        let (url, name, limit, bar) = (
            common.server(i).to_string(),
            name.clone(),
            limit.clone(),
            bar.clone(),
        );
        let bind_ip = spread.map(|s| fleet::source_ip(i, s));
        logins.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let client = fleet::login_as(&url, &name, bind_ip).await;
            if let Some(b) = bar {
                b.inc(1);
            }
            client
        }));
    }
    let mut readers = Vec::with_capacity(args.online);
    let mut members: Vec<Client> = Vec::with_capacity(args.online);
    for login in logins {
        let mut client = login
            .await
            .map_err(|e| BenchError::Setup(e.to_string()))??;
        readers.push(tokio::spawn(read_pushes(
            client.take_pushes(),
            deliveries.clone(),
            epoch,
            total,
            Some(conv),
        )));
        members.push(client);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let online_secs = began.elapsed().as_secs_f64();
    notes.push(format!(
        "setup: {} accounts {accounts_secs:.1} s, group + {} invites {invite_secs:.1} s, \
         {} logins {online_secs:.1} s",
        args.members + 1,
        args.members.div_ceil(GROUP_INVITE_MAX),
        args.online
    ));

    // Send.
    let owner = Arc::new(owner);
    let before = common.server_pid.and_then(procstat::sample);
    let acked = Arc::new(Mutex::new(vec![false; total]));
    let errors = Arc::new(AtomicU64::new(0));
    let ack_latency = Arc::new(Mutex::new(report::histogram()));
    let progress = progress_bar(common, total as u64);
    let sending = open_loop(total as u64, args.rate, progress.clone(), |k, scheduled| {
        let owner = owner.clone();
        let text = body(epoch, scheduled, k, args.size);
        let (acked, errors, ack_latency) = (acked.clone(), errors.clone(), ack_latency.clone());
        async move {
            match owner.send_in(conv, &format!("g{k}"), &text).await {
                Ok(_) => {
                    report::record(
                        &mut ack_latency.lock().unwrap_or_else(|p| p.into_inner()),
                        scheduled.elapsed().as_micros() as u64,
                    );
                    if let Some(a) = acked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_mut(k as usize)
                    {
                        *a = true;
                    }
                }
                Err(e) => {
                    if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("first send error: {e}");
                    }
                }
            }
        }
    })
    .await;
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let wanted = acked.iter().filter(|a| **a).count() as u64;
    let online = args.online as u32;
    wait_until(args.grace, || {
        deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .complete(&acked, online)
    })
    .await;
    let after = common.server_pid.and_then(procstat::sample);
    for reader in readers {
        reader.abort();
    }
    owner_drain.abort();
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    let closed = members.iter().filter(|c| c.is_closed()).count();
    if closed > 0 {
        notes.push(format!(
            "{closed} of {} member connections were closed by the end",
            args.online
        ));
    }
    let mut d = std::mem::take(&mut *deliveries.lock().unwrap_or_else(|p| p.into_inner()));
    let Tally {
        last,
        lost,
        delivered,
    } = d.tally(&acked, online);
    let each = d.take_each();
    for member in members {
        member.close().await;
    }
    if let Ok(owner) = Arc::try_unwrap(owner) {
        owner.close().await;
    }
    notes.insert(
        0,
        "latency: until the last online member has the message; server CPU is per delivered copy"
            .into(),
    );
    notes.insert(
        1,
        format!(
            "per-copy latency p50 {:.2} ms, p99 {:.2} ms; {delivered} copies delivered",
            each.value_at_quantile(0.5) as f64 / 1000.0,
            each.value_at_quantile(0.99) as f64 / 1000.0
        ),
    );
    let ack_latency = Latency::from_micros(&ack_latency.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Report {
        scenario: "group".into(),
        target: common.servers.join(","),
        params: serde_json::json!({
            "members": args.members,
            "online": args.online,
            "rate": args.rate,
            "duration": args.duration,
            "size": args.size,
        }),
        attempted: total as u64,
        succeeded: wanted,
        errors: errors.load(Ordering::Relaxed),
        lost,
        duplicates: d.duplicates(),
        target_rate: Some(args.rate),
        achieved_rate: Some(wanted as f64 / sending),
        elapsed_seconds: sending,
        latency: Latency::from_micros(&last),
        ack_latency: Some(ack_latency),
        server: ServerUse::per_unit(before, after, delivered),
        client_peak_rss_kib: procstat::sample(std::process::id()).map(|s| s.peak_rss_kib),
        notes,
    })
}
