//! Active health checks, the pure part: what a probe's result means for a server's state,
//! and when the next probe goes out. HAProxy's `check inter 2s rise 2 fall 3` are the
//! defaults; the probes themselves (a GET through the gateway's pool) are wired with the
//! request path.

use std::time::Duration;

/// Settings of `[upstream.health]`; [`Default`] is the documented default (`path` aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Path probed on every server with a GET.
    pub path: String,
    /// Time between two probes of one server: 2 s (± 10 % jitter).
    pub interval: Duration,
    /// A probe without a response head by then failed: 1 s.
    pub timeout: Duration,
    /// Consecutive passes that bring an unhealthy server back: 2.
    pub healthy_after: u32,
    /// Consecutive failures that take a healthy server out: 3.
    pub unhealthy_after: u32,
    /// Statuses that pass: `2xx` by default.
    pub expected_status: Vec<StatusMatch>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            path: "/health".to_owned(),
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            healthy_after: 2,
            unhealthy_after: 3,
            expected_status: vec![StatusMatch::Class(2)],
        }
    }
}

impl Settings {
    /// Whether a probe's response status passes.
    pub fn expected(&self, status: u16) -> bool {
        self.expected_status.iter().any(|m| m.matches(status))
    }
}

/// One entry of `expected_status`: `200` or `"2xx"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// Exactly this status.
    Exact(u16),
    /// Every status of this hundred (`2` = 200–299).
    Class(u8),
}

impl StatusMatch {
    /// Parses `"2xx"` (1xx–5xx) or `"204"`.
    pub fn parse(text: &str) -> Result<StatusMatch, String> {
        let bad = || format!("\"{text}\" is not a status (100-599) or a class such as \"2xx\"");
        let lower = text.to_ascii_lowercase();
        if let Some(class) = lower.strip_suffix("xx") {
            return match class.parse::<u8>() {
                Ok(c @ 1..=5) if class.len() == 1 => Ok(StatusMatch::Class(c)),
                _ => Err(bad()),
            };
        }
        match text.parse::<u16>() {
            Ok(code @ 100..=599) => Ok(StatusMatch::Exact(code)),
            _ => Err(bad()),
        }
    }

    /// Whether `status` matches.
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusMatch::Exact(code) => status == code,
            StatusMatch::Class(c) => status / 100 == u16::from(c),
        }
    }
}

/// A server's state as the checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// No probe answered yet: the server takes traffic, and the first result decides at once
    /// (a server down at start leaves at the first probe; one that is up stays).
    #[default]
    Unknown,
    /// Takes traffic; `failures` consecutive failed probes so far.
    Healthy {
        /// Consecutive failed probes.
        failures: u32,
    },
    /// Out of rotation; `passes` consecutive passed probes so far.
    Unhealthy {
        /// Consecutive passed probes.
        passes: u32,
    },
}

impl State {
    /// Whether the server may receive requests.
    pub fn usable(self) -> bool {
        !matches!(self, State::Unhealthy { .. })
    }

    /// The state after one probe, and whether the server changed sides (log once, count).
    pub fn after(self, passed: bool, settings: &Settings) -> (State, Option<Change>) {
        let healthy = State::Healthy { failures: 0 };
        let unhealthy = State::Unhealthy { passes: 0 };
        match (self, passed) {
            (State::Unknown, true) => (healthy, None),
            (State::Unknown, false) => (unhealthy, Some(Change::Down)),
            (State::Healthy { .. }, true) => (healthy, None),
            (State::Healthy { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= settings.unhealthy_after {
                    (unhealthy, Some(Change::Down))
                } else {
                    (State::Healthy { failures }, None)
                }
            }
            (State::Unhealthy { .. }, false) => (unhealthy, None),
            (State::Unhealthy { passes }, true) => {
                let passes = passes.saturating_add(1);
                if passes >= settings.healthy_after {
                    (healthy, Some(Change::Up))
                } else {
                    (State::Unhealthy { passes }, None)
                }
            }
        }
    }
}

/// Whether a probe result ends a passive (outlier) ejection of the server: a pass that
/// brings it back ([`Change::Up`]), or the checks' first verdict being a pass. The second
/// case matters for a server that was down when the gateway started: live traffic ejects
/// it before its first probe goes out; if it is up by then, the checks move from `Unknown`
/// straight to `Healthy`, no side changes, and without this the ejection (10 s and more)
/// would keep out a server the checks have just seen answer.
pub fn releases_ejection(before: State, passed: bool, change: Option<Change>) -> bool {
    passed && (change == Some(Change::Up) || before == State::Unknown)
}

/// A server changing sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Back in rotation.
    Up,
    /// Out of rotation.
    Down,
}

/// Delay before the next probe: `interval` ± 10 %, from a uniform random `r`, so the probes
/// of many servers (and of several gateways) do not fall into step.
pub fn next_delay(interval: Duration, r: u64) -> Duration {
    let spread = interval / 5; // the ±10 % band
    let nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
    let offset = if nanos == 0 { 0 } else { r % nanos };
    (interval - interval / 10) + Duration::from_nanos(offset)
}

/// Delay before a server's first probe: anywhere in the first interval, so that a group's
/// servers are not all probed at the same instant after a start.
pub fn first_delay(interval: Duration, r: u64) -> Duration {
    let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(if nanos == 0 { 0 } else { r % nanos })
}

#[cfg(test)]
mod tests;
