//! The retry budget: retries may add at most `ratio` of the requests seen in the last
//! `window`, plus `min_per_second` × the window's seconds, so a brownout (every server
//! answering 503) never multiplies the load on the servers. Envoy's `retry_budget` and
//! linkerd's `retry_ratio` / `min_retries_per_second` work the same way.
//!
//! The window is a ring of one-second buckets of atomic counters. A bucket that belongs to
//! a past second is reset by the first thread to notice (a compare-and-swap on its second
//! number); counts racing with the reset may be lost, which only makes the budget a few
//! requests looser or tighter for that second. No lock, no allocation per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Budget settings; [`Default`] is the documented default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Retries allowed per request in the window: 0.2 = 20 %.
    pub ratio: f64,
    /// Retries allowed per second whatever the traffic, so a quiet group can still fail
    /// over: 3.
    pub min_per_second: u32,
    /// How far back requests and retries are counted: 10 s (whole seconds, 1 to 60).
    pub window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ratio: 0.2,
            min_per_second: 3,
            window: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Default)]
struct Bucket {
    /// Which second since `start` the counts belong to, plus one (0 = never used).
    second: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

/// One group's retry budget.
#[derive(Debug)]
pub struct Budget {
    settings: Settings,
    start: Instant,
    buckets: Box<[Bucket]>,
}

impl Budget {
    /// A budget whose clock starts at `start` (the tests' injected clock; `Instant::now()`
    /// otherwise).
    pub fn new(settings: Settings, start: Instant) -> Budget {
        let seconds = settings.window.as_secs().clamp(1, 60) as usize;
        Budget {
            settings,
            start,
            buckets: (0..seconds).map(|_| Bucket::default()).collect(),
        }
    }

    /// Counts one client request (not its retries).
    pub fn record_request(&self, now: Instant) {
        if let Some(b) = self.bucket(now) {
            b.requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes one retry from the budget if there is room; `false` = refused (count it).
    pub fn try_retry(&self, now: Instant) -> bool {
        let (requests, retries) = self.totals(now);
        let seconds = self.buckets.len() as f64;
        let allowed = requests as f64 * self.settings.ratio
            + f64::from(self.settings.min_per_second) * seconds;
        if (retries as f64) < allowed {
            if let Some(b) = self.bucket(now) {
                b.retries.fetch_add(1, Ordering::Relaxed);
            }
            true
        } else {
            false
        }
    }

    /// `(requests, retries)` in the window ending at `now`.
    pub fn totals(&self, now: Instant) -> (u64, u64) {
        let current = self.second(now);
        let oldest = current.saturating_sub(self.buckets.len() as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| {
                let s = b.second.load(Ordering::Acquire);
                (oldest + 1..=current + 1).contains(&s)
            })
            .fold((0, 0), |(req, ret), b| {
                (
                    req + b.requests.load(Ordering::Relaxed),
                    ret + b.retries.load(Ordering::Relaxed),
                )
            })
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs()
    }

    /// The bucket for `now`'s second, reset first if it still holds an older second.
    fn bucket(&self, now: Instant) -> Option<&Bucket> {
        let second = self.second(now);
        let bucket = self
            .buckets
            .get((second % self.buckets.len() as u64) as usize)?;
        let stamp = second + 1;
        let seen = bucket.second.load(Ordering::Acquire);
        if seen != stamp {
            if seen > stamp {
                // A thread with a later clock reading already moved on: count nothing
                // rather than pollute the newer second.
                return None;
            }
            if bucket
                .second
                .compare_exchange(seen, stamp, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                bucket.requests.store(0, Ordering::Relaxed);
                bucket.retries.store(0, Ordering::Relaxed);
            }
        }
        Some(bucket)
    }
}

#[cfg(test)]
mod tests;
