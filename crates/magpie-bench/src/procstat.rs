//! The server's CPU time and memory, read from `/proc/<pid>` (Linux), so
//! that reports can state CPU-µs per message and bytes per connection.

use serde::Serialize;

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcSample {
    /// User + system CPU seconds so far.
    pub cpu_seconds: f64,
    /// Resident memory now, in KiB.
    pub rss_kib: u64,
    /// Peak resident memory so far, in KiB.
    pub peak_rss_kib: u64,
}

/// `/proc/<pid>/stat` counts CPU in clock ticks of `USER_HZ`, which is 100
/// on every Linux configuration that matters.
const TICKS_PER_SECOND: f64 = 100.0;

/// Read the counters of `pid`; `None` if the process is not visible.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: fields are counted
    // from the closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, i.e. 11 and
    // 12 after the command name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(ProcSample {
        cpu_seconds: ticks / TICKS_PER_SECOND,
        rss_kib: kib("VmRSS:"),
        peak_rss_kib: kib("VmHWM:"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_its_own_process() {
        let me = super::sample(std::process::id()).expect("own /proc entry");
        assert!(me.rss_kib > 0);
        assert!(me.peak_rss_kib >= me.rss_kib);
        assert!(me.cpu_seconds >= 0.0);
    }
}
