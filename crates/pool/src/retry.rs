//! When a failed request may be sent again: one pure function, table-tested.
//!
//! The rules (RFC 9110 §9.2.2 on idempotent methods, RFC 9112 §9.3.1 on retrying after a
//! closed connection, RFC 9113 §8.7 on refused HTTP/2 streams; docs/pool.md tells users):
//!
//! | what happened | retry? |
//! |---|---|
//! | the request was never written (hyper handed it back) | any method, on another connection |
//! | a *reused* connection closed or reset after the request was written, before any response byte | once, on a fresh connection, idempotent methods with a replayable body only |
//! | HTTP/2 `REFUSED_STREAM`, or GOAWAY for a stream the server never processed | any method, once, if the body is replayable |
//! | anything else (a response byte arrived, a fresh connection failed, a timeout) | never |
//!
//! POST and PATCH are never replayed once written: the server may have acted on them.

use http::Method;

/// How a send failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// hyper returned the request untouched: nothing reached the wire.
    NotWritten,
    /// The connection closed or reset after (part of) the request was written and before a
    /// response head arrived.
    ClosedBeforeResponse,
    /// HTTP/2 said the stream was not processed (REFUSED_STREAM, or GOAWAY above it).
    Refused,
    /// Anything else.
    Other,
}

/// What to do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Give up and report the error.
    Fail,
    /// Send again on any connection the pool offers (idle or new).
    Retry,
    /// Send again on a newly opened connection only: another idle one may be just as stale.
    RetryFresh,
}

/// What has happened so far to this request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct History {
    /// Attempts made, including the one that just failed.
    pub(crate) attempts: u32,
    /// A written request was already replayed once.
    pub(crate) replayed: bool,
}

/// Bound on attempts where the request was provably never written: each such failure means
/// a pooled connection was found dead, and a pool holds a bounded number of them; past
/// this, something else is wrong.
pub(crate) const MAX_ATTEMPTS: u32 = 4;

/// RFC 9110 §9.2.2 idempotent methods (TRACE included; CONNECT never passes through here).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Decides whether to send the request again.
///
/// `reused`: the failed attempt ran on a connection that had carried an earlier request.
/// `replayable`: the pool holds a copy of the body (or it is empty).
pub(crate) fn decide(
    method: &Method,
    failure: Failure,
    reused: bool,
    replayable: bool,
    history: History,
) -> Decision {
    if history.attempts >= MAX_ATTEMPTS {
        return Decision::Fail;
    }
    match failure {
        // The request is still in our hands with its body intact: nothing to replay.
        Failure::NotWritten => Decision::Retry,
        Failure::ClosedBeforeResponse => {
            if reused && !history.replayed && replayable && is_idempotent(method) {
                Decision::RetryFresh
            } else {
                Decision::Fail
            }
        }
        Failure::Refused => {
            if !history.replayed && replayable {
                Decision::Retry
            } else {
                Decision::Fail
            }
        }
        Failure::Other => Decision::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use Failure::*;

    fn h(attempts: u32, replayed: bool) -> History {
        History { attempts, replayed }
    }

    #[test]
    fn table() {
        let get = Method::GET;
        let post = Method::POST;
        let put = Method::PUT;
        let patch = Method::PATCH;
        #[rustfmt::skip]
        let cases: &[(&Method, Failure, bool, bool, History, Decision)] = &[
            // never written: any method, any connection
            (&get,   NotWritten, true,  true,  h(1, false), Retry),
            (&post,  NotWritten, true,  false, h(1, false), Retry),
            (&patch, NotWritten, false, false, h(2, true),  Retry),
            (&post,  NotWritten, true,  false, h(MAX_ATTEMPTS, false), Fail),
            // stale reused connection after writing: idempotent + replayable, once, fresh
            (&get,   ClosedBeforeResponse, true,  true,  h(1, false), RetryFresh),
            (&put,   ClosedBeforeResponse, true,  true,  h(1, false), RetryFresh),
            (&put,   ClosedBeforeResponse, true,  false, h(1, false), Fail),
            (&get,   ClosedBeforeResponse, true,  true,  h(2, true),  Fail),
            (&get,   ClosedBeforeResponse, false, true,  h(1, false), Fail),
            (&post,  ClosedBeforeResponse, true,  true,  h(1, false), Fail),
            (&patch, ClosedBeforeResponse, true,  true,  h(1, false), Fail),
            // HTTP/2 refused: any method once, if it can be replayed
            (&post,  Refused, false, true,  h(1, false), Retry),
            (&post,  Refused, false, false, h(1, false), Fail),
            (&get,   Refused, true,  true,  h(2, true),  Fail),
            // anything else: never
            (&get,   Other, true,  true,  h(1, false), Fail),
        ];
        for (i, (m, f, reused, replayable, hist, want)) in cases.iter().enumerate() {
            assert_eq!(
                decide(m, *f, *reused, *replayable, *hist),
                *want,
                "case {i}: {m} {f:?} reused={reused} replayable={replayable} {hist:?}"
            );
        }
    }

    #[test]
    fn idempotent_methods() {
        for m in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            assert!(is_idempotent(&m.parse().expect("method")), "{m}");
        }
        for m in ["POST", "PATCH", "CONNECT", "LOCK"] {
            assert!(!is_idempotent(&m.parse().expect("method")), "{m}");
        }
    }
}
