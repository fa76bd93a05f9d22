//! Per-server and per-group counters of upstream groups: what `/metrics` exports (labels
//! `upstream` and `server`) and what the admin listener's `GET /upstreams` shows. Relaxed
//! atomics only: the request path pays one `fetch_add` per event, and a reader sees each
//! counter on its own (not a consistent snapshot of all of them, which no scraper needs).
//!
//! A server's counters live in an `Arc` of their own so that they outlive one generation of
//! its group: when a host name's addresses are resolved again, the addresses that stay keep
//! their counters and their in-flight count in the new server set.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::retry::Failure;

/// Upper bounds of the time-to-response-head buckets, in seconds (as the routes' latency
/// histogram, so the two compare bucket by bucket).
pub const HEAD_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// [`HEAD_BUCKETS`] in nanoseconds, for the per-request bucket search (a unit test keeps
/// the two equal).
pub(crate) const HEAD_BUCKET_NANOS: [u64; HEAD_BUCKETS.len()] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Why an attempt failed, as the metrics and `/upstreams` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No connection (refused, unreachable, connect timeout, TLS).
    Connect,
    /// The connection failed under the request before any response byte.
    Reset,
    /// No response head within the deadline.
    Timeout,
    /// The server answered 502, 503 or 504.
    Status,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// Every kind, in the order of the counters.
    pub const ALL: [FailureKind; 5] = [
        FailureKind::Connect,
        FailureKind::Reset,
        FailureKind::Timeout,
        FailureKind::Status,
        FailureKind::Other,
    ];

    /// The label value (`kind="connect"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect",
            FailureKind::Reset => "reset",
            FailureKind::Timeout => "timeout",
            FailureKind::Status => "status",
            FailureKind::Other => "other",
        }
    }

    /// The kind of a failure the retry rules saw; `timed_out` when the attempt's deadline
    /// passed (the retry rules call that [`Failure::Other`]).
    pub fn of(failure: Failure, timed_out: bool) -> FailureKind {
        match failure {
            _ if timed_out => FailureKind::Timeout,
            Failure::Connect => FailureKind::Connect,
            Failure::Unwritten | Failure::StaleConnection | Failure::RefusedStream => {
                FailureKind::Reset
            }
            Failure::Status(_) => FailureKind::Status,
            Failure::Other => FailureKind::Other,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn from_index(i: u8) -> Option<FailureKind> {
        FailureKind::ALL.get(usize::from(i)).copied()
    }
}

/// One server's counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub(super) in_flight: AtomicUsize,
    pub(super) requests: AtomicU64,
    failures: [AtomicU64; FailureKind::ALL.len()],
    pub(super) ejections: AtomicU64,
    /// The active checks' verdict: 0 unknown, 1 healthy, 2 unhealthy.
    pub(super) checked: AtomicU8,
    head_buckets: [AtomicU64; HEAD_BUCKETS.len() + 1],
    head_sum_micros: AtomicU64,
    /// The last failure: its kind + 1 (0 = none yet) and when (Unix milliseconds).
    last_failure_kind: AtomicU8,
    last_failure_ms: AtomicU64,
}

impl ServerStats {
    /// Requests in flight now (from the pick to the response head).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Attempts sent to it, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Failed attempts of one kind.
    pub fn failures_of(&self, kind: FailureKind) -> u64 {
        self.failures
            .get(kind.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Failed attempts, every kind.
    pub fn failures(&self) -> u64 {
        FailureKind::ALL.iter().map(|k| self.failures_of(*k)).sum()
    }

    /// Times passive health ejected it.
    pub fn ejections(&self) -> u64 {
        self.ejections.load(Ordering::Relaxed)
    }

    /// The last failure's kind and Unix time in milliseconds.
    pub fn last_failure(&self) -> Option<(FailureKind, u64)> {
        let kind = self
            .last_failure_kind
            .load(Ordering::Relaxed)
            .checked_sub(1)?;
        Some((
            FailureKind::from_index(kind)?,
            self.last_failure_ms.load(Ordering::Relaxed),
        ))
    }

    /// Counts a failed attempt.
    pub fn record_failure(&self, kind: FailureKind) {
        if let Some(c) = self.failures.get(kind.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.last_failure_ms.store(ms, Ordering::Relaxed);
        // `kind as u8 + 1` fits: five kinds.
        self.last_failure_kind
            .store(kind as u8 + 1, Ordering::Relaxed);
    }

    /// Records the time from sending an attempt to its response head.
    pub fn record_head(&self, elapsed: Duration) {
        // Integer nanoseconds against integer bounds: no float conversion per request.
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = HEAD_BUCKET_NANOS
            .iter()
            .position(|b| nanos <= *b)
            .unwrap_or(HEAD_BUCKET_NANOS.len());
        if let Some(c) = self.head_buckets.get(bucket) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.head_sum_micros
            .fetch_add(nanos / 1000, Ordering::Relaxed);
    }

    /// The histogram's per-bucket counts (not cumulative; the last is `+Inf`) and its sum
    /// in seconds.
    pub fn head_histogram(&self) -> (Vec<u64>, f64) {
        let counts = self
            .head_buckets
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let sum = self.head_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        (counts, sum)
    }

    /// The active checks' verdict: `None` before the first probe (or without checks).
    pub fn checked(&self) -> Option<bool> {
        match self.checked.load(Ordering::Relaxed) {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        }
    }
}

/// A group's own counters.
#[derive(Debug, Default)]
pub struct GroupStats {
    pub(super) retries: AtomicU64,
    pub(super) budget_refusals: AtomicU64,
}

impl GroupStats {
    /// Retries sent (attempts after a request's first).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Retries the retry budget refused.
    pub fn budget_refusals(&self) -> u64 {
        self.budget_refusals.load(Ordering::Relaxed)
    }

    /// Counts a retry sent.
    pub fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a retry the budget refused.
    pub fn record_budget_refusal(&self) {
        self.budget_refusals.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
