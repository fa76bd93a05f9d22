//! Failover: whether a failed attempt is tried again on another server of the group, as one
//! pure function ([`decide`]) the request path calls after each failure.
//!
//! The rules, in order (the first that applies wins):
//! 1. Never once a response byte arrived: the client may already have part of an answer.
//! 2. Only failures that prove the request was not processed are retried for any method:
//!    no connection, a request hyper handed back unwritten, HTTP/2 REFUSED_STREAM (RFC 9113
//!    §8.7: the server promises it did nothing with the stream).
//! 3. A written request is sent again only if it is idempotent and its body can be
//!    replayed: the stale keep-alive connection closed under us, or (with
//!    `retry_on = ["5xx"]`) a 502/503/504. A written POST is never sent again anywhere.
//! 4. Within `retries`, on a server not yet tried, and only if the retry budget agrees (asked
//!    last, so a refused retry for another reason spends nothing).

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be made (refused, unreachable, timed out, TLS).
    Connect,
    /// hyper gave the request back: it was never written.
    Unwritten,
    /// A reused keep-alive connection closed before any response byte; the request may
    /// have been written.
    StaleConnection,
    /// HTTP/2 REFUSED_STREAM.
    RefusedStream,
    /// A response head with this status (only 502/503/504 may be retried).
    Status(u16),
    /// Anything else after the request was written (reset mid-request, timeout): the
    /// server may have acted on it.
    Other,
}

/// What the request path knows about the request and this attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// GET, HEAD, OPTIONS, TRACE, PUT, DELETE (RFC 9110 §9.2.2).
    pub idempotent: bool,
    /// The body is empty or still held in full (the pool's `retry_body_limit`), so it can
    /// be sent again.
    pub body_replayable: bool,
    /// A byte of the response has arrived (or been passed on to the client).
    pub response_started: bool,
}

/// The group's retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Retries after the first attempt: `retries`, default 2.
    pub retries: u32,
    /// Also retry 502/503/504 (idempotent, replayable requests): `retry_on = ["5xx"]`,
    /// off by default: the application's own errors are passed on as they are.
    pub on_5xx: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retries: 2,
            on_5xx: false,
        }
    }
}

/// Where the request stands in its failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Attempts made so far, the failed one included (≥ 1).
    pub attempts: u32,
    /// Servers of the group not yet tried by this request (and usable).
    pub untried: usize,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again on a server not yet tried.
    Retry,
    /// Give the failure to the client (a 5xx status is passed on as it is).
    Stop(Stop),
}

/// Why there is no retry (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A response byte had arrived.
    ResponseStarted,
    /// The failure may have left effects (or is the application's own answer).
    NotRetryable,
    /// `retries` used up.
    Exhausted,
    /// Every server of the group has been tried.
    NoServerLeft,
    /// The retry budget refused (count it: a sign of a brownout).
    Budget,
}

impl Stop {
    /// A short label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::ResponseStarted => "response_started",
            Stop::NotRetryable => "not_retryable",
            Stop::Exhausted => "exhausted",
            Stop::NoServerLeft => "no_server_left",
            Stop::Budget => "budget",
        }
    }
}

/// Whether to retry; `budget` is asked (and a retry taken from it) only when every other
/// rule allows the retry.
pub fn decide(
    failure: Failure,
    request: Request,
    policy: Policy,
    progress: Progress,
    budget: impl FnOnce() -> bool,
) -> Decision {
    if request.response_started {
        return Decision::Stop(Stop::ResponseStarted);
    }
    let safe_to_resend = request.idempotent && request.body_replayable;
    let retryable = match failure {
        Failure::Connect | Failure::Unwritten => true,
        Failure::RefusedStream => request.body_replayable,
        Failure::StaleConnection => safe_to_resend,
        Failure::Status(502..=504) => policy.on_5xx && safe_to_resend,
        Failure::Status(_) | Failure::Other => false,
    };
    if !retryable {
        return Decision::Stop(Stop::NotRetryable);
    }
    if progress.attempts > policy.retries {
        return Decision::Stop(Stop::Exhausted);
    }
    if progress.untried == 0 {
        return Decision::Stop(Stop::NoServerLeft);
    }
    if !budget() {
        return Decision::Stop(Stop::Budget);
    }
    Decision::Retry
}

#[cfg(test)]
mod tests;
