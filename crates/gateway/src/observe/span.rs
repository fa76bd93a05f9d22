//! Trace context and spans as the request path carries them (#14 items 4): the
//! [`Tracer`] lives in the `App` only when `[tracing] otlp_endpoint` is set, and each
//! request's [`RequestTrace`] exists only then — with no endpoint the request path pays one
//! `Option` check and nothing else.
//!
//! A request's trace:
//! - starts from the client's `traceparent` (continued: same trace id, its sampled flag) or
//!   a new trace sampled at `sample_ratio` ([`super::trace::decide`]);
//! - every upstream attempt gets a span id of its own, sent upstream as the parent in
//!   `traceparent` (with the client's `tracestate`), so the upstream's spans hang under the
//!   attempt that reached it;
//! - when sampled, each attempt becomes a client span (server address, retry reason, pool
//!   reuse) and the request a server span, queued for export when they end. Unsampled
//!   requests read no clock and queue nothing.

use std::cell::RefCell;
use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;

use super::otlp::{Attempt, OtlpError, OtlpExporter, OtlpSettings, SpanRecord};
use super::trace::{decide, new_span_id, FreshIds, TraceContext};
use crate::upstream::retry::Failure;

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The process's span export, when `[tracing] otlp_endpoint` is set.
#[derive(Debug)]
pub struct Tracer {
    /// `None` only while dropping (the exporter is shut down off the dropping thread).
    exporter: Option<OtlpExporter>,
    sample_ratio: f64,
}

impl Tracer {
    /// Starts the exporter (its threads) for `config`; `pool` carries the pool settings.
    pub fn start(
        config: &crate::config::Tracing,
        pool: gangway_pool::Client,
        endpoint: &str,
    ) -> Result<Tracer, OtlpError> {
        let mut settings = OtlpSettings::new(endpoint);
        settings.service_name.clone_from(&config.service_name);
        Ok(Tracer {
            exporter: Some(OtlpExporter::start(&settings, pool)?),
            sample_ratio: config.sample_ratio,
        })
    }

    /// Exports what is queued and waits for it. Blocks: call it off the workers.
    pub fn flush(&self) -> Result<(), OtlpError> {
        match &self.exporter {
            Some(exporter) => exporter.flush(),
            None => Ok(()),
        }
    }

    fn export(&self, span: SpanRecord) {
        if let Some(exporter) = &self.exporter {
            exporter.export(span);
        }
    }
}

impl Drop for Tracer {
    /// The last `App` holding the tracer may be dropped on a worker (a request outliving a
    /// reload): the exporter's shutdown, which waits for a final export, then runs on a
    /// thread of its own. Off the runtime (the binary's exit) it runs here, so the last
    /// spans are exported before the process ends.
    fn drop(&mut self) {
        if let Some(exporter) = self.exporter.take() {
            if tokio::runtime::Handle::try_current().is_err() {
                drop(exporter);
                return;
            }
            let spawned = std::thread::Builder::new()
                .name("gangway-otlp-stop".to_owned())
                .spawn(move || drop(exporter));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "OTLP exporter shut down without a final export");
            }
        }
    }
}

/// The tracer `[tracing]` asks for: `None` without an endpoint. Its pool is a client of
/// its own (with the `[pool]` settings), whose connections live on the exporter's thread.
pub fn start_tracer(
    config: &crate::config::Config,
) -> Result<Option<Tracer>, Box<dyn std::error::Error + Send + Sync>> {
    let Some(endpoint) = &config.tracing.otlp_endpoint else {
        return Ok(None);
    };
    let mut pool = config.pool.builder();
    pool.connect_timeout(config.timeouts.upstream_connect);
    let tracer = Tracer::start(&config.tracing, pool.build()?, endpoint)?;
    Ok(Some(tracer))
}

/// Spare [`RequestTrace`] boxes kept per thread, at most this many (one per request in
/// flight on a worker, up to a bound of a few KiB).
const SPARE_TRACES: usize = 64;

thread_local! {
    /// Boxes of ended requests' traces, reused by the next requests on the same thread.
    // Boxes, not traces: the point is to keep the allocations.
    #[allow(clippy::vec_box)]
    static SPARES: RefCell<Vec<Box<RequestTrace>>> = const { RefCell::new(Vec::new()) };
}

/// One request's trace (see the module docs). What only a sampled request needs is boxed
/// apart, so an unsampled request's trace stays small.
#[derive(Debug)]
pub struct RequestTrace {
    ctx: TraceContext,
    /// The client sent a `tracestate` that is not passed on (its `traceparent` was missing
    /// or not valid): each attempt removes it. Without one there is nothing to remove, and
    /// the attempt does not look.
    drop_state: bool,
    /// Sampled requests only.
    spans: Option<Box<Spans>>,
}

/// The spans of a sampled request while it runs.
#[derive(Debug)]
struct Spans {
    /// When the request arrived.
    start: SystemTime,
    attempt: Option<OpenAttempt>,
    attempts: u32,
    /// Why the next attempt is a retry.
    retry_reason: Option<&'static str>,
}

/// An attempt whose span is still open (sampled requests only).
#[derive(Debug)]
struct OpenAttempt {
    span_id: [u8; 8],
    start: SystemTime,
    server: Authority,
    number: u32,
    retry_reason: Option<&'static str>,
}

impl RequestTrace {
    /// Continues the trace of `headers`' `traceparent`, or starts one.
    pub fn start(tracer: &Tracer, headers: &HeaderMap) -> RequestTrace {
        let (parent, state) = trace_headers(headers);
        let ctx = decide(
            parent.map(HeaderValue::as_bytes),
            state,
            tracer.sample_ratio,
            FreshIds::random(),
        );
        RequestTrace {
            drop_state: state.is_some() && ctx.tracestate.is_none(),
            spans: ctx.sampled.then(|| {
                Box::new(Spans {
                    start: SystemTime::now(),
                    attempt: None,
                    attempts: 0,
                    retry_reason: None,
                })
            }),
            ctx,
        }
    }

    /// The trace context (ids, sampled flag).
    pub fn context(&self) -> &TraceContext {
        &self.ctx
    }

    /// An attempt to `server` starts: its `traceparent` (and the client's `tracestate`, or
    /// none) go into the upstream request's `headers`. An attempt still open failed.
    pub fn begin_attempt(
        &mut self,
        tracer: &Tracer,
        method: &str,
        headers: &mut HeaderMap,
        server: &Authority,
    ) {
        self.end_attempt(tracer, method, false, None);
        let span_id = new_span_id();
        headers.insert(TRACEPARENT.clone(), self.ctx.traceparent_for(&span_id));
        match &self.ctx.tracestate {
            Some(state) => {
                headers.insert(TRACESTATE.clone(), state.clone());
            }
            None if self.drop_state => {
                headers.remove(&TRACESTATE);
            }
            None => {}
        }
        if let Some(spans) = &mut self.spans {
            spans.attempts = spans.attempts.saturating_add(1);
            spans.attempt = Some(OpenAttempt {
                span_id,
                start: SystemTime::now(),
                server: server.clone(),
                number: spans.attempts,
                retry_reason: spans.retry_reason.take(),
            });
        }
    }

    /// The open attempt failed with `failure` and the request is tried again.
    pub fn attempt_failed(&mut self, tracer: &Tracer, method: &str, failure: Failure) {
        self.end_attempt(tracer, method, false, None);
        if let Some(spans) = &mut self.spans {
            spans.retry_reason = Some(retry_reason(failure));
        }
    }

    /// The open attempt's response head arrived.
    pub fn answered(&mut self, tracer: &Tracer, method: &str, reused: bool, status: u16) {
        self.end_attempt(tracer, method, reused, Some(status));
    }

    /// [`RequestTrace::start`] in a box, reusing one that an ended request on this thread
    /// gave back ([`RequestTrace::finish`]): no malloc and free per request.
    pub fn start_boxed(tracer: &Tracer, headers: &HeaderMap) -> Box<RequestTrace> {
        let trace = RequestTrace::start(tracer, headers);
        let spare = SPARES.try_with(|spares| spares.try_borrow_mut().ok()?.pop());
        match spare.ok().flatten() {
            Some(mut spare) => {
                *spare = trace;
                spare
            }
            None => Box::new(trace),
        }
    }

    /// The request ended after `elapsed`, answered with `status`: its spans are queued, and
    /// the box is kept for the next request on this thread ([`RequestTrace::start_boxed`]).
    pub fn finish(
        mut self: Box<Self>,
        tracer: &Tracer,
        method: &str,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        self.end_attempt(tracer, method, false, None);
        if let Some(spans) = &self.spans {
            let start = spans.start;
            let end = start + elapsed;
            tracer.export(SpanRecord::server(
                &self.ctx, start, end, method, route, status,
            ));
        }
        // What the next request does not need goes now: the client's `tracestate` shares
        // the bytes of its connection's read buffer.
        self.ctx.tracestate = None;
        self.spans = None;
        // During thread teardown the spares are gone: the box is then just freed.
        let _ = SPARES.try_with(|spares| {
            if let Ok(mut spares) = spares.try_borrow_mut() {
                if spares.len() < SPARE_TRACES {
                    spares.push(self);
                }
            }
        });
    }

    fn end_attempt(&mut self, tracer: &Tracer, method: &str, reused: bool, status: Option<u16>) {
        let Some(open) = self.spans.as_mut().and_then(|s| s.attempt.take()) else {
            return;
        };
        tracer.export(SpanRecord::attempt(
            &self.ctx,
            open.span_id,
            &Attempt {
                start: open.start,
                end: SystemTime::now(),
                method,
                server: &open.server,
                attempt: open.number,
                retry_reason: open.retry_reason,
                reused,
                status,
            },
        ));
    }
}

/// The first `traceparent` and `tracestate` values, as `HeaderMap::get` finds them.
fn trace_headers(headers: &HeaderMap) -> (Option<&HeaderValue>, Option<&HeaderValue>) {
    super::first_values(headers, &TRACEPARENT, &TRACESTATE)
}

/// How a failed attempt's retry is named on the next attempt's span
/// (`gangway.retry_reason`).
pub fn retry_reason(failure: Failure) -> &'static str {
    match failure {
        Failure::Connect => "connect",
        Failure::Unwritten => "unwritten",
        Failure::StaleConnection => "stale_connection",
        Failure::RefusedStream => "refused_stream",
        Failure::Status(502) => "status_502",
        Failure::Status(503) => "status_503",
        Failure::Status(504) => "status_504",
        Failure::Status(_) => "status",
        Failure::Other => "other",
    }
}

#[cfg(test)]
mod tests;
