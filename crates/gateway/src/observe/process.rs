//! The standard process metrics and `gangway_build_info`, read from `/proc` at scrape time
//! (Linux; elsewhere only the families that need no `/proc` are written).

use super::prom::{MetricType, PromText};

/// Linux reports process times in `USER_HZ` ticks, fixed at 100 by the kernel ABI on every
/// architecture gangway runs on (it is not `CONFIG_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;

/// What `/proc` says about this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// Resident set size.
    pub resident_memory_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// User + system CPU time.
    pub cpu_seconds: Option<f64>,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// Reads `/proc/self/*`; a field that cannot be read is `None`.
    pub fn read() -> ProcessStats {
        let status = std::fs::read_to_string("/proc/self/status").ok();
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let proc_stat = std::fs::read_to_string("/proc/stat").ok();
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            // The directory handle itself is one of the entries.
            .map(|dir| dir.count().saturating_sub(1) as u64);
        let times = stat.as_deref().and_then(parse_stat);
        let boot = proc_stat.as_deref().and_then(parse_btime);
        ProcessStats {
            resident_memory_bytes: status.as_deref().and_then(parse_vm_rss),
            open_fds,
            cpu_seconds: times.map(|t| (t.utime + t.stime) as f64 / TICKS_PER_SECOND),
            start_time_seconds: times
                .zip(boot)
                .map(|(t, boot)| boot as f64 + t.starttime as f64 / TICKS_PER_SECOND),
        }
    }
}

/// Writes the process families and `gangway_build_info{version="…"} 1`.
pub fn render(stats: &ProcessStats, text: &mut PromText) {
    let families: [(&str, &str, MetricType, Option<f64>); 4] = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            MetricType::Gauge,
            stats.resident_memory_bytes.map(|v| v as f64),
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            MetricType::Gauge,
            stats.open_fds.map(|v| v as f64),
        ),
        (
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            MetricType::Counter,
            stats.cpu_seconds,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            MetricType::Gauge,
            stats.start_time_seconds,
        ),
    ];
    for (name, help, kind, value) in families {
        if let Some(value) = value {
            text.family(name, help, kind).sample(&[], value);
        }
    }
    text.family(
        "gangway_build_info",
        "The running gangway's version; the value is always 1.",
        MetricType::Gauge,
    )
    .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
}

/// `VmRSS:   12345 kB` → bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct StatTimes {
    utime: u64,
    stime: u64,
    starttime: u64,
}

/// `/proc/self/stat`: fields after the parenthesised command name (which may itself hold
/// spaces and parentheses, hence the last `)`): utime and stime are fields 14 and 15,
/// starttime field 22 (1-based, counting pid and comm).
fn parse_stat(stat: &str) -> Option<StatTimes> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(StatTimes {
        utime: field(14)?,
        stime: field(15)?,
        starttime: field(22)?,
    })
}

/// `btime 1795900000` in `/proc/stat`: boot time, seconds since the epoch.
fn parse_btime(proc_stat: &str) -> Option<u64> {
    let line = proc_stat.lines().find(|l| l.starts_with("btime "))?;
    line[6..].trim().parse().ok()
}

#[cfg(test)]
mod tests;
