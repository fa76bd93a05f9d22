//! The access line: one per request, written by [`Exchange`](super::exchange::Exchange)
//! and nowhere else. The line is rendered by [`crate::observe::access`] in the `[log]
//! format` straight into the access log writer's per-thread buffer and queued for its
//! thread: the worker never writes to the destination, so a stalled stdout drops lines
//! (counted) instead of stalling requests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HOST, USER_AGENT};
use http::{HeaderMap, HeaderValue, Version};

use super::body::Outcome;

/// When a request that has taken `elapsed` so far arrived, since the Unix epoch: one
/// clock reading, converted once.
pub(super) fn arrival(elapsed: Duration) -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(elapsed)
}

/// The first `Host` and `User-Agent` values, as `HeaderMap::get` finds them.
pub(super) fn host_and_user_agent(
    headers: &HeaderMap,
) -> (Option<&HeaderValue>, Option<&HeaderValue>) {
    crate::observe::first_values(headers, &HOST, &USER_AGENT)
}

pub(super) fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

pub(super) fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Complete => "complete",
        Outcome::Aborted => "aborted",
        Outcome::ClientGone => "client_gone",
    }
}

#[cfg(test)]
mod tests;
