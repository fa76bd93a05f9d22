//! Error-log flood control: the first failure of an (upstream, reason) pair is logged at
//! once; repeats are only counted, and summarised once per window (10 s by default) as one
//! line per pair — a dead upstream under load writes a few lines every 10 s, not one per
//! request. A pair quiet for a whole window is forgotten, so its next failure is "first"
//! again.
//!
//! [`FloodState`] is the pure core (the clock is an argument); [`Flood`] is the shared,
//! locked wrapper the request path calls and that emits the lines through `tracing`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The default summary window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// Pairs tracked at most; beyond, new pairs are counted together (a bound on memory when
/// upstream names come from requests, as in CORS mode).
const MAX_PAIRS: usize = 1024;

/// One summary line: `count` repeats of `reason` at `upstream` in the last window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The upstream, or `*` for pairs beyond the tracking bound.
    pub upstream: String,
    /// The failure reason.
    pub reason: &'static str,
    /// Repeats not logged individually.
    pub count: u64,
}

/// What to do with one failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Log this failure now (the first of its pair in the window).
    pub log: bool,
    /// Summaries that fell due; log them too.
    pub summaries: Vec<Summary>,
}

/// The pure state.
#[derive(Debug)]
pub struct FloodState {
    window: Duration,
    window_start: Instant,
    /// upstream → reason → repeats in this window.
    pairs: HashMap<String, HashMap<&'static str, u64>>,
    tracked: usize,
    overflow: HashMap<&'static str, u64>,
}

impl FloodState {
    /// Empty state, the first window starting at `now`.
    pub fn new(window: Duration, now: Instant) -> FloodState {
        FloodState {
            window,
            window_start: now,
            pairs: HashMap::new(),
            tracked: 0,
            overflow: HashMap::new(),
        }
    }

    /// Records one failure at `now`.
    pub fn note(&mut self, upstream: &str, reason: &'static str, now: Instant) -> Decision {
        let summaries = self.flush(now);
        // Looked up by `&str`: the common case (a repeat) allocates nothing.
        if let Some(count) = self.pairs.get_mut(upstream).and_then(|r| r.get_mut(reason)) {
            *count += 1;
            return Decision {
                log: false,
                summaries,
            };
        }
        if self.tracked >= MAX_PAIRS {
            *self.overflow.entry(reason).or_insert(0) += 1;
            return Decision {
                log: false,
                summaries,
            };
        }
        self.tracked += 1;
        self.pairs
            .entry(upstream.to_owned())
            .or_default()
            .insert(reason, 0);
        Decision {
            log: true,
            summaries,
        }
    }

    /// The summaries due at `now` (none before the window ends). Pairs with repeats are
    /// reported and kept (their next failure is still a repeat); pairs without are
    /// forgotten.
    pub fn flush(&mut self, now: Instant) -> Vec<Summary> {
        if now.saturating_duration_since(self.window_start) < self.window {
            return Vec::new();
        }
        self.window_start = now;
        let mut summaries: Vec<Summary> = self
            .pairs
            .iter()
            .flat_map(|(upstream, reasons)| {
                reasons
                    .iter()
                    .filter(|(_, count)| **count > 0)
                    .map(move |(reason, count)| Summary {
                        upstream: upstream.clone(),
                        reason,
                        count: *count,
                    })
            })
            .collect();
        summaries.extend(self.overflow.drain().map(|(reason, count)| Summary {
            upstream: "*".to_owned(),
            reason,
            count,
        }));
        summaries.sort_by(|a, b| (&a.upstream, a.reason).cmp(&(&b.upstream, b.reason)));
        for reasons in self.pairs.values_mut() {
            reasons.retain(|_, count| *count > 0);
            reasons.values_mut().for_each(|count| *count = 0);
        }
        self.pairs.retain(|_, reasons| !reasons.is_empty());
        self.tracked = self.pairs.values().map(HashMap::len).sum();
        summaries
    }
}

/// The shared wrapper: logs through `tracing` at `warn`.
#[derive(Debug)]
pub struct Flood {
    state: Mutex<FloodState>,
}

impl Default for Flood {
    fn default() -> Self {
        Flood::new(DEFAULT_WINDOW)
    }
}

impl Flood {
    /// A flood control with this summary window.
    pub fn new(window: Duration) -> Flood {
        Flood {
            state: Mutex::new(FloodState::new(window, Instant::now())),
        }
    }

    /// One upstream failure: logged if it is the first of its kind, else counted.
    /// `detail` is only formatted when the line is written.
    pub fn upstream_failure(
        &self,
        upstream: &str,
        reason: &'static str,
        detail: &dyn std::fmt::Display,
    ) {
        let decision = self.state.lock().note(upstream, reason, Instant::now());
        if decision.log {
            tracing::warn!(
                upstream,
                reason,
                "upstream failure: {detail} (repeats are summarised every 10s)"
            );
        }
        log_summaries(&decision.summaries);
    }

    /// Writes the summaries that are due; call it from a periodic task so the last window's
    /// repeats are reported even when failures stop.
    pub fn flush(&self) {
        let summaries = self.state.lock().flush(Instant::now());
        log_summaries(&summaries);
    }
}

fn log_summaries(summaries: &[Summary]) {
    for s in summaries {
        tracing::warn!(
            upstream = %s.upstream,
            reason = s.reason,
            repeats = s.count,
            "upstream failures repeated"
        );
    }
}

#[cfg(test)]
mod tests;
