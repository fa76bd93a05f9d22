//! Passive health (outlier detection): a server that fails `consecutive_failures` times in
//! a row (connect failures and gateway errors, not the application's own 5xx) is ejected for
//! `base_ejection` × the number of times it has been ejected, capped at `max_ejection`; at
//! most `max_ejected_percent` of a group is ejected at once, so one bad deploy cannot empty
//! a group by itself. Envoy's `consecutive_gateway_failure` with its ejection multiplier.
//!
//! Every counter is an atomic per server; the clock is passed in (`now`), so tests drive
//! it without sleeping.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Outlier settings; [`Default`] is the documented default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Consecutive failures that eject a server: 5.
    pub consecutive_failures: u32,
    /// First ejection's length; the n-th lasts n × this: 10 s.
    pub base_ejection: Duration,
    /// Longest ejection: 5 min.
    pub max_ejection: Duration,
    /// Most of the group ejected at once, in percent: 50. 0 turns ejection off.
    pub max_ejected_percent: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(300),
            max_ejected_percent: 50,
        }
    }
}

/// What happened to one request on one server, as far as its health is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response head arrived (whatever its status, unless a gateway error below).
    Success,
    /// Connect refused, timed out or reset before a response; or 502/503/504 from the server.
    Failure,
}

/// A change worth one log line and a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The server was ejected until `now + for_`.
    Ejected {
        /// The ejection's length.
        for_: Duration,
        /// How many times it has been ejected, this one included.
        times: u32,
    },
    /// Enough failures to eject, but `max_ejected_percent` of the group is already out.
    EjectionRefused,
}

#[derive(Debug, Default)]
struct Server {
    consecutive: AtomicU32,
    times_ejected: AtomicU32,
    /// Milliseconds since `start` until which the server is out; 0 = never ejected.
    until_ms: AtomicU64,
}

/// One group's outlier state.
#[derive(Debug)]
pub struct Detector {
    settings: Settings,
    start: Instant,
    servers: Box<[Server]>,
}

impl Detector {
    /// State for `servers` servers, clock starting at `start`.
    pub fn new(settings: Settings, servers: usize, start: Instant) -> Detector {
        Detector {
            settings,
            start,
            servers: (0..servers).map(|_| Server::default()).collect(),
        }
    }

    /// Not ejected at `now`.
    pub fn usable(&self, server: usize, now: Instant) -> bool {
        self.usable_at(server, self.ms(now))
    }

    /// [`Detector::usable`] at a time already converted with [`Detector::ms`]: a pick looks
    /// at several servers and converts its clock reading once.
    pub fn usable_at(&self, server: usize, now_ms: u64) -> bool {
        self.servers
            .get(server)
            .is_none_or(|s| s.until_ms.load(Ordering::Relaxed) <= now_ms)
    }

    /// How many servers are ejected at `now`.
    pub fn ejected(&self, now: Instant) -> usize {
        (0..self.servers.len())
            .filter(|s| !self.usable(*s, now))
            .count()
    }

    /// Times `server` has been ejected.
    pub fn times_ejected(&self, server: usize) -> u32 {
        self.servers
            .get(server)
            .map_or(0, |s| s.times_ejected.load(Ordering::Relaxed))
    }

    /// Records one outcome; returns an ejection (or a refused one) when this outcome causes it.
    pub fn report(&self, server: usize, outcome: Outcome, now: Instant) -> Option<Event> {
        let s = self.servers.get(server)?;
        if outcome == Outcome::Success {
            // Loads first: on a healthy server (the common case) nothing is written, so the
            // workers' successes do not contend on these cache lines.
            if s.consecutive.load(Ordering::Relaxed) != 0 {
                s.consecutive.store(0, Ordering::Relaxed);
            }
            // A server that stayed healthy for a whole max_ejection since its last ejection
            // ended starts again from the base time.
            let until = s.until_ms.load(Ordering::Relaxed);
            if until != 0
                && s.times_ejected.load(Ordering::Relaxed) != 0
                && self.ms(now) >= until.saturating_add(millis(self.settings.max_ejection))
            {
                s.times_ejected.store(0, Ordering::Relaxed);
            }
            return None;
        }
        let now_ms = self.ms(now);
        let failures = s.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        if failures < self.settings.consecutive_failures || !self.usable(server, now) {
            return None;
        }
        let limit = max_ejected(self.servers.len(), self.settings.max_ejected_percent);
        if self.ejected(now) >= limit {
            return Some(Event::EjectionRefused);
        }
        // Only the thread that resets the count ejects: two failures racing past the
        // threshold make one ejection.
        if s.consecutive
            .compare_exchange(failures, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        let times = s.times_ejected.fetch_add(1, Ordering::Relaxed) + 1;
        let for_ = ejection_time(&self.settings, times);
        s.until_ms
            .store(now_ms + millis(for_).max(1), Ordering::Relaxed);
        Some(Event::Ejected { for_, times })
    }

    /// Ends `server`'s ejection now (an active check saw it answer again: Envoy's
    /// `successful_active_health_check_uneject_host`, on by default there too). Its
    /// ejection count is kept, so a relapse is ejected for longer.
    pub fn uneject(&self, server: usize, now: Instant) {
        if let Some(s) = self.servers.get(server) {
            s.consecutive.store(0, Ordering::Relaxed);
            let now_ms = self.ms(now);
            if s.until_ms.load(Ordering::Relaxed) > now_ms {
                s.until_ms.store(now_ms, Ordering::Relaxed);
            }
        }
    }

    /// `now` as milliseconds on this detector's clock (for [`Detector::usable_at`]).
    pub fn ms(&self, now: Instant) -> u64 {
        millis(now.saturating_duration_since(self.start))
    }
}

/// base × times, capped at max.
pub fn ejection_time(settings: &Settings, times: u32) -> Duration {
    settings
        .base_ejection
        .saturating_mul(times.max(1))
        .min(settings.max_ejection)
}

/// The most servers of a group of `n` that may be ejected at once: `percent` of it, rounded
/// down, but at least one when ejection is on and the group has two or more servers (with
/// 50 % of 3, one server; a group of one is never ejected: there would be nowhere to go).
pub fn max_ejected(n: usize, percent: u8) -> usize {
    if percent == 0 || n < 2 {
        return 0;
    }
    (n * usize::from(percent.min(100)) / 100).max(1)
}

fn millis(d: Duration) -> u64 {
    // In u64 (`as_millis` widens to u128): this runs on every pick.
    d.as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()))
}

#[cfg(test)]
mod tests;
