//! Observability building blocks (#14): each piece stands alone and is tested alone, so
//! the request path can wire them in with small changes.
//!
//! - `writer`: the non-blocking log writer (access and error log), reopened on `SIGUSR1`.
//! - `access`: the access line in `json`, `text` (logfmt) and `combined`, hand-formatted.
//! - `request_id`: keep a sane incoming request id or make one.
//! - `trace`: W3C Trace Context, parsing and the continue-or-start decision.
//! - `otlp`: spans exported over OTLP/HTTP protobuf through gangway-pool; `span`: the
//!   tracer and each request's trace as the request path carries them.
//! - `prom`: the Prometheus text format; `process`: the standard process metrics;
//!   `histogram`: atomic latency histograms (time to head per route); `listeners`:
//!   connections per listener.
//! - `flood`: error-log flood control for upstream failures.
//! - `sink`: the wiring — the access log as the request path writes it, the error log's
//!   writer, background tasks (flood summaries, `SIGUSR1`), extra `/metrics` families.
//! - `error_log`: the error log's subscriber, level and format reloadable.
//! - `log_fmt`: how durations and modes appear in log fields (no Debug forms).
//! - [`first_values`]: two headers' first values in one walk of a small map.

pub mod access;
pub mod access_log;
pub mod error_log;
pub mod flood;
pub mod histogram;
pub mod listeners;
pub mod log_fmt;
pub mod metrics;
pub mod otlp;
pub mod process;
pub mod prom;
pub mod readiness;
pub mod request_id;
pub mod sink;
pub mod span;
pub mod trace;
pub mod writer;

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Up to this many header values, [`first_values`] walks them once instead of making two
/// hashed lookups (each costs about as much as comparing a handful of names, and a
/// non-standard name is hashed byte by byte).
const WALK_HEADERS: usize = 8;

/// The first values of `a` and `b`, as `HeaderMap::get` finds them: what the access line
/// (`Host`, `User-Agent`) and a request's trace (`traceparent`, `tracestate`) read of every
/// request. Always inlined: with the names known at the call, each comparison compiles to
/// what it was when each caller wrote its own walk (callgrind: not inlined, the walk cost
/// about 35 instructions more per call).
#[inline(always)]
pub fn first_values<'h>(
    headers: &'h HeaderMap,
    a: &HeaderName,
    b: &HeaderName,
) -> (Option<&'h HeaderValue>, Option<&'h HeaderValue>) {
    if headers.len() > WALK_HEADERS {
        return (headers.get(a), headers.get(b));
    }
    let (mut first_a, mut first_b) = (None, None);
    for (name, value) in headers {
        if name == a {
            first_a = first_a.or(Some(value));
        } else if name == b {
            first_b = first_b.or(Some(value));
        }
    }
    (first_a, first_b)
}
