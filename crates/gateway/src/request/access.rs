//! The access line: one `info` event on the `gangway::access` target per request, written
//! by [`Exchange`](super::exchange::Exchange) and nowhere else. The `[log] format` decides
//! whether it is text or JSON; the keys are the same in both.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::uri::Authority;
use http::{Method, Version};

use super::body::Outcome;
use super::error::Fault;

/// What one access line says.
pub(super) struct Line<'a> {
    pub elapsed: Duration,
    pub client: SocketAddr,
    pub method: &'a Method,
    pub host: Option<&'a str>,
    pub path: &'a str,
    pub version: Version,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub upstream: Option<&'a Authority>,
    pub upstream_head: Option<Duration>,
    pub attempts: u32,
    pub reused: bool,
    pub outcome: Outcome,
    pub fault: Option<Fault>,
    pub user_agent: Option<&'a str>,
    pub route: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// Writes `line`.
pub(super) fn write(line: &Line<'_>) {
    let started = SystemTime::now()
        .checked_sub(line.elapsed)
        .unwrap_or(UNIX_EPOCH);
    tracing::info!(
        target: "gangway::access",
        time = %Rfc3339(started),
        client = %line.client,
        method = %line.method,
        host = line.host,
        path = line.path,
        protocol = protocol(line.version),
        status = line.status,
        bytes_in = line.bytes_in,
        bytes_out = line.bytes_out,
        duration_ms = ms(line.elapsed),
        upstream = line.upstream.map(display),
        upstream_ms = line.upstream_head.map(ms),
        attempts = line.attempts,
        reused = line.reused,
        outcome = outcome(line.outcome),
        fault = line.fault.map(Fault::as_str),
        user_agent = line.user_agent,
        route = line.route,
        error = line.error,
        "access"
    );
}

fn ms(d: Duration) -> f64 {
    crate::observe::log_fmt::millis(d)
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Complete => "complete",
        Outcome::Aborted => "aborted",
        Outcome::ClientGone => "client_gone",
    }
}

/// A UTC time as RFC 3339 with milliseconds: `2026-11-29T04:21:49.123Z`.
pub(super) struct Rfc3339(pub SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            since.subsec_millis()
        )
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
