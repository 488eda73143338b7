//! What a scenario measured, as a table for people or JSON for scripts.

use crate::procstat::ProcSample;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Summarise a histogram of microseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Latency {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

/// A histogram for latencies from 1 µs to 60 s at 3 significant digits;
/// larger values are clamped to the top bucket.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant, valid bounds")
}

/// Record `micros`, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, micros: u64) {
    let _ = h.record(micros.clamp(1, 60_000_000));
}

/// The server's resource use over the measured interval.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerUse {
    pub cpu_seconds: f64,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub peak_rss_kib: u64,
    /// Server CPU per delivered message (direct) or per connection (connect).
    pub cpu_us_per_unit: Option<f64>,
    /// Resident memory added per held connection (connect).
    pub bytes_per_connection: Option<f64>,
}

impl ServerUse {
    /// Use between two readings, with CPU per unit of work (message,
    /// connection) when there were any; `None` without both readings.
    pub fn per_unit(
        before: Option<ProcSample>,
        after: Option<ProcSample>,
        units: u64,
    ) -> Option<ServerUse> {
        let mut usage = ServerUse::between(before?, after?);
        if units > 0 {
            usage.cpu_us_per_unit = Some(usage.cpu_seconds * 1e6 / units as f64);
        }
        Some(usage)
    }

    pub fn between(before: ProcSample, after: ProcSample) -> ServerUse {
        ServerUse {
            cpu_seconds: after.cpu_seconds - before.cpu_seconds,
            rss_before_kib: before.rss_kib,
            rss_after_kib: after.rss_kib,
            peak_rss_kib: after.peak_rss_kib,
            cpu_us_per_unit: None,
            bytes_per_connection: None,
        }
    }
}

/// One scenario's results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    pub params: serde_json::Value,
    /// Operations attempted (messages sent, connections opened, users synced).
    pub attempted: u64,
    /// Operations that succeeded (acked, connected, fully synced).
    pub succeeded: u64,
    pub errors: u64,
    /// Messages acked but never received (must be 0).
    pub lost: u64,
    /// Messages received more than once (must be 0).
    pub duplicates: u64,
    pub target_rate: Option<f64>,
    pub achieved_rate: Option<f64>,
    pub elapsed_seconds: f64,
    /// End-to-end latency: from the scheduled send to the receipt (direct),
    /// connect + authenticate (connect), reconnect to fully synced (sync).
    pub latency: Latency,
    /// Send to ack (direct).
    pub ack_latency: Option<Latency>,
    pub server: Option<ServerUse>,
    /// The load generator's own peak memory, KiB.
    pub client_peak_rss_kib: Option<u64>,
    pub notes: Vec<String>,
}

impl Report {
    /// A human-readable table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: String| out.push_str(&format!("{k:<24} {v}\n"));
        line(
            "scenario",
            format!("{} against {}", self.scenario, self.target),
        );
        line("parameters", self.params.to_string());
        line(
            "attempted / succeeded",
            format!("{} / {}", self.attempted, self.succeeded),
        );
        line("errors", self.errors.to_string());
        line(
            "lost / duplicated",
            format!("{} / {}", self.lost, self.duplicates),
        );
        if let (Some(t), Some(a)) = (self.target_rate, self.achieved_rate) {
            line("rate target / achieved", format!("{t:.0}/s / {a:.0}/s"));
        }
        line("elapsed", format!("{:.2} s", self.elapsed_seconds));
        let l = &self.latency;
        line(
            "latency ms",
            format!(
                "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  (n={})",
                l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.count
            ),
        );
        if let Some(a) = &self.ack_latency {
            line(
                "ack latency ms",
                format!(
                    "p50 {:.3}  p99 {:.3}  max {:.3}",
                    a.p50_ms, a.p99_ms, a.max_ms
                ),
            );
        }
        if let Some(s) = &self.server {
            line(
                "server cpu",
                format!(
                    "{:.2} s{}",
                    s.cpu_seconds,
                    s.cpu_us_per_unit
                        .map_or(String::new(), |u| format!(" ({u:.1} µs per unit)"))
                ),
            );
            line(
                "server rss",
                format!(
                    "{} KiB -> {} KiB (peak {} KiB){}",
                    s.rss_before_kib,
                    s.rss_after_kib,
                    s.peak_rss_kib,
                    s.bytes_per_connection
                        .map_or(String::new(), |b| format!(", {b:.0} B per connection"))
                ),
            );
        }
        if let Some(rss) = self.client_peak_rss_kib {
            line("load generator peak rss", format!("{rss} KiB"));
        }
        for note in &self.notes {
            line("note", note.clone());
        }
        out
    }
}
