//! The access line: one per request, written by [`Exchange`](super::exchange::Exchange)
//! and nowhere else. The line is rendered by [`crate::observe::access`] in the `[log]
//! format` straight into the access log writer's per-thread buffer and queued for its
//! thread: the worker never writes to the destination, so a stalled stdout drops lines
//! (counted) instead of stalling requests.

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::uri::Authority;
use http::{Method, Version};

use crate::observe::access::AccessRecord;
use crate::observe::sink::AccessLog;

use super::body::Outcome;
use super::error::Fault;

/// What one access line says.
pub(super) struct Line<'a> {
    /// When the request arrived (the line's `time`).
    pub started: Instant,
    pub elapsed: Duration,
    pub client: SocketAddr,
    pub method: &'a Method,
    /// Header bytes as received: the renderer checks UTF-8 only where a byte needs it.
    pub host: Option<&'a [u8]>,
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
    pub request_id: &'a [u8],
    pub user_agent: Option<&'a [u8]>,
}

/// Writes `line` to `log`.
pub(super) fn write(log: &AccessLog, line: &Line<'_>) {
    let time = wall_clock(line.started);
    log.write(&AccessRecord {
        time,
        client: Some(line.client),
        method: line.method.as_str(),
        host: line.host,
        path: line.path,
        protocol: protocol(line.version),
        status: line.status,
        bytes_in: line.bytes_in,
        bytes_out: line.bytes_out,
        duration: line.elapsed,
        upstream: line.upstream.map(Authority::as_str),
        upstream_time: line.upstream_head,
        attempts: line.attempts,
        reused: line.reused,
        outcome: outcome(line.outcome),
        fault: line.fault.map(Fault::as_str),
        request_id: line.request_id,
        user_agent: line.user_agent,
        referer: None,
    });
}

/// A per-thread anchor's greatest age: how stale a line's wall-clock mapping may be.
const ANCHOR_AGE: Duration = Duration::from_secs(1);

/// The wall-clock time of `at`, from a per-thread anchor (a `SystemTime` and the `Instant`
/// it was read at) renewed once `at` is [`ANCHOR_AGE`] past it: one wall-clock read per
/// second and thread instead of one per line. A line's time is then off by at most the
/// two clocks' drift over a second, and a step of the wall clock shows within a second.
fn wall_clock(at: Instant) -> SystemTime {
    thread_local! {
        static ANCHOR: Cell<Option<(Instant, SystemTime)>> = const { Cell::new(None) };
    }
    ANCHOR.with(|anchor| {
        let (instant, wall) = match anchor.get() {
            Some(fresh) if at.saturating_duration_since(fresh.0) < ANCHOR_AGE => fresh,
            _ => {
                let fresh = (Instant::now(), SystemTime::now());
                anchor.set(Some(fresh));
                fresh
            }
        };
        match at.checked_duration_since(instant) {
            Some(after) => wall.checked_add(after),
            None => wall.checked_sub(instant.saturating_duration_since(at)),
        }
        .unwrap_or(UNIX_EPOCH)
    })
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
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

#[cfg(test)]
mod tests;
