//! The access line: one per request, written by [`Exchange`](super::exchange::Exchange)
//! and nowhere else. The line is rendered by [`crate::observe::access`] in the `[log]
//! format` straight into the access log writer's per-thread buffer and queued for its
//! thread: the worker never writes to the destination, so a stalled stdout drops lines
//! (counted) instead of stalling requests.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HOST, USER_AGENT};
use http::uri::Authority;
use http::{HeaderMap, HeaderValue, Method, Version};

use crate::observe::access::AccessRecord;
use crate::observe::sink::AccessLog;

use super::body::Outcome;
use super::error::Fault;

/// What one access line says.
pub(super) struct Line<'a> {
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
    pub request_id_made: bool,
    pub user_agent: Option<&'a [u8]>,
}

/// Writes `line` to `log`.
pub(super) fn write(log: &AccessLog, line: &Line<'_>) {
    // One conversion of the clock reading: the line's time is a `Duration` since the epoch.
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(line.elapsed);
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
        request_id_plain: line.request_id_made,
        user_agent: line.user_agent,
        referer: None,
    });
}

/// Up to this many header values, [`host_and_user_agent`] walks them once instead of making
/// two hashed lookups (each costs about as much as comparing a handful of names).
const WALK_HEADERS: usize = 8;

/// The first `Host` and `User-Agent` values, as `HeaderMap::get` finds them.
pub(super) fn host_and_user_agent(
    headers: &HeaderMap,
) -> (Option<&HeaderValue>, Option<&HeaderValue>) {
    if headers.len() > WALK_HEADERS {
        return (headers.get(HOST), headers.get(USER_AGENT));
    }
    let (mut host, mut user_agent) = (None, None);
    for (name, value) in headers {
        if *name == HOST {
            host = host.or(Some(value));
        } else if *name == USER_AGENT {
            user_agent = user_agent.or(Some(value));
        }
    }
    (host, user_agent)
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
