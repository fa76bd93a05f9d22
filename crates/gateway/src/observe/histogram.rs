//! A latency histogram of relaxed atomics (no lock, no allocation per observation), and
//! the per-route "time to the upstream's response head" family built from it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::prom::{MetricType, PromText};

/// Upper bounds of the latency buckets, in seconds (those of
/// `gangway_request_duration_seconds`, so the two families compare bucket by bucket).
pub const LATENCY_BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counts per bucket (the last one is `+Inf`), and the sum in microseconds.
#[derive(Debug)]
pub struct Histogram {
    counts: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Writes this histogram as one series of `family`.
    pub fn render(&self, family: &mut super::prom::Family<'_>, labels: super::prom::Labels<'_>) {
        let counts: [u64; LATENCY_BOUNDS.len() + 1] =
            std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed));
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        family.histogram(labels, &LATENCY_BOUNDS, &counts, sum);
    }
}

/// `gangway_request_head_duration_seconds{route}`: from the request's arrival to the
/// upstream's response head, one histogram per route (requests that reached no upstream
/// are not observed). Routes with no observation are left out.
pub fn render_heads<'a>(out: &mut String, routes: impl Iterator<Item = (&'a str, &'a Histogram)>) {
    let mut text = PromText::new();
    let mut family = text.family(
        "gangway_request_head_duration_seconds",
        "Time from the request's arrival to the upstream's response head, by route.",
        MetricType::Histogram,
    );
    for (route, h) in routes {
        if h.count() > 0 {
            h.render(&mut family, &[("route", route)]);
        }
    }
    out.push_str(text.as_str());
}

#[cfg(test)]
mod tests;
