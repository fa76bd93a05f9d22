//! A finished span as a worker hands it over ([`SpanRecord`]), and its conversion into the
//! SDK's `SpanData` on the exporter's thread.
//!
//! Why two steps: a sampled request is rare (one in a hundred at `sample_ratio = 0.01`), so
//! whatever code it runs on a worker runs cold. Building the SDK's span there (attribute
//! vectors, owned strings, the batch processor's queue) cost about 150 µs of CPU per sampled
//! request at 1 % (measured with the two configurations running at the same time, pinned,
//! on this project's 2-core benchmark host), against about 13 µs when every request is
//! sampled and that code stays hot. The worker now fills this plain record (ids, clock
//! readings, the method, the route or the server) and queues it; the exporter's thread
//! builds the attributes and names.

use std::borrow::Cow;
use std::time::SystemTime;

use http::uri::Authority;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::observe::trace::TraceContext;

/// A finished span, in gangway's terms: what a worker records, before any attribute is
/// built.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_id: Option<[u8; 8]>,
    /// The parent is in another process (the client's span).
    parent_is_remote: bool,
    start: SystemTime,
    end: SystemTime,
    /// The request method; the standard ones without an allocation.
    method: Cow<'static, str>,
    what: What,
}

/// What kind of span, with what only that kind records.
#[derive(Debug, Clone)]
enum What {
    /// The request: its route's name (empty when none matched) and status.
    Server { route: String, status: u16 },
    /// One upstream attempt.
    Attempt {
        server: Authority,
        attempt: u32,
        retry_reason: Option<&'static str>,
        reused: bool,
        status: Option<u16>,
    },
}

/// What one upstream attempt's span records (see [`SpanRecord::attempt`]).
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// When the attempt started.
    pub start: SystemTime,
    /// When its response head arrived (or it failed).
    pub end: SystemTime,
    /// The request method.
    pub method: &'a str,
    /// The server (`host:port`).
    pub server: &'a Authority,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Why this attempt is a retry, if it is one.
    pub retry_reason: Option<&'static str>,
    /// Sent on a pooled connection.
    pub reused: bool,
    /// The response status, if one arrived.
    pub status: Option<u16>,
}

impl SpanRecord {
    /// The request's server span: `ctx.span_id`, child of the client's span if continued;
    /// `route` is the matched route's name, empty when none matched.
    pub fn server(
        ctx: &TraceContext,
        start: SystemTime,
        end: SystemTime,
        method: &str,
        route: &str,
        status: u16,
    ) -> SpanRecord {
        SpanRecord {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            parent_id: ctx.parent_id,
            parent_is_remote: ctx.parent_id.is_some(),
            start,
            end,
            method: method_text(method),
            what: What::Server {
                route: route.to_owned(),
                status,
            },
        }
    }

    /// One upstream attempt: a client span with its own id (the one sent upstream in
    /// `traceparent`), child of the server span.
    pub fn attempt(ctx: &TraceContext, span_id: [u8; 8], a: &Attempt<'_>) -> SpanRecord {
        SpanRecord {
            trace_id: ctx.trace_id,
            span_id,
            parent_id: Some(ctx.span_id),
            parent_is_remote: false,
            start: a.start,
            end: a.end,
            method: method_text(a.method),
            what: What::Attempt {
                server: a.server.clone(),
                attempt: a.attempt,
                retry_reason: a.retry_reason,
                reused: a.reused,
                status: a.status,
            },
        }
    }

    /// The SDK's span, attributes and name built (on the exporter's thread).
    pub(super) fn into_span_data(self, scope: InstrumentationScope) -> SpanData {
        let method = self.method;
        let (kind, name, attributes, error) = match self.what {
            What::Server { route, status } => {
                let mut attributes = vec![
                    KeyValue::new("http.request.method", method.clone()),
                    KeyValue::new("http.response.status_code", i64::from(status)),
                ];
                // A request no route matched is named by its method alone.
                let name = if route.is_empty() {
                    method
                } else {
                    let name = format!("{method} {route}");
                    attributes.push(KeyValue::new("http.route", route));
                    Cow::Owned(name)
                };
                (SpanKind::Server, name, attributes, status >= 500)
            }
            What::Attempt {
                server,
                attempt,
                retry_reason,
                reused,
                status,
            } => {
                let mut attributes = vec![
                    KeyValue::new("http.request.method", method.clone()),
                    KeyValue::new("server.address", server.host().to_owned()),
                    KeyValue::new("server.port", i64::from(server.port_u16().unwrap_or(0))),
                    KeyValue::new(
                        "http.request.resend_count",
                        i64::from(attempt.saturating_sub(1)),
                    ),
                    KeyValue::new("gangway.pool.reused", reused),
                ];
                if let Some(reason) = retry_reason {
                    attributes.push(KeyValue::new("gangway.retry_reason", reason));
                }
                if let Some(status) = status {
                    attributes.push(KeyValue::new(
                        "http.response.status_code",
                        i64::from(status),
                    ));
                }
                let error = status.is_none_or(|s| s >= 500);
                (SpanKind::Client, method, attributes, error)
            }
        };
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_bytes(self.trace_id),
                SpanId::from_bytes(self.span_id),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id: self.parent_id.map_or(SpanId::INVALID, SpanId::from_bytes),
            parent_span_is_remote: self.parent_is_remote,
            span_kind: kind,
            name,
            start_time: self.start,
            end_time: self.end,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: if error {
                Status::error("")
            } else {
                Status::Unset
            },
            instrumentation_scope: scope,
        }
    }
}

/// A method's text, borrowed for the standard methods (no allocation on the worker).
fn method_text(method: &str) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ];
    match STANDARD.iter().find(|m| **m == method) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(method.to_owned()),
    }
}
