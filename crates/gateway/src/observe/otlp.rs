//! Span export over OTLP/HTTP protobuf (`POST {endpoint}/v1/traces`), through gangway-pool.
//!
//! Spans are built only for sampled requests, directly as the SDK's `SpanData` with the ids
//! [`super::trace`] chose (no tracer, no context propagation machinery on the hot path), and
//! handed to the SDK's `BatchSpanProcessor`: a bounded queue (spans dropped, not callers
//! blocked, when it is full) drained by its own thread, which batches and exports.
//!
//! That thread drives the export future with a plain executor, while gangway-pool needs a
//! tokio runtime: [`PoolHttpClient`] runs each request on a small current-thread runtime of
//! its own thread and hands the result back — the gateway's workers are never involved.
//! With no endpoint configured nothing here is started: [`OtlpExporter::start`] is simply
//! not called.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};
use opentelemetry_sdk::Resource;

use super::trace::TraceContext;

/// Largest collector response read (it is only checked for its status).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// An `opentelemetry_http::HttpClient` over a [`gangway_pool::Client`], run on a dedicated
/// current-thread runtime (see the module docs).
#[derive(Debug, Clone)]
pub struct PoolHttpClient {
    client: gangway_pool::Client,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

impl HttpClient for PoolHttpClient {
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let client = self.client.clone();
        let timeout = self.timeout;
        let task = self.runtime.spawn(async move {
            let exchange = async {
                let resp = client.request(request.map(Full::new)).await?;
                let (parts, body) = resp.into_parts();
                let body = Limited::new(body, MAX_RESPONSE_BYTES)
                    .collect()
                    .await?
                    .to_bytes();
                Ok::<_, HttpError>(Response::from_parts(parts, body))
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(result) => result,
                Err(_) => Err(HttpError::from("OTLP export timed out")),
            }
        });
        Box::pin(async move { task.await.map_err(HttpError::from)? })
    }
}

/// Settings for [`OtlpExporter::start`].
#[derive(Debug, Clone)]
pub struct OtlpSettings {
    /// The collector's base URL (`http://127.0.0.1:4318`); `/v1/traces` is appended unless
    /// the URL already ends with it.
    pub endpoint: String,
    /// `service.name` of the exported resource. Default `gangway`.
    pub service_name: String,
    /// One export request's deadline. Default 10 s.
    pub timeout: Duration,
}

impl OtlpSettings {
    /// Settings for this endpoint, other fields at their defaults.
    pub fn new(endpoint: impl Into<String>) -> OtlpSettings {
        OtlpSettings {
            endpoint: endpoint.into(),
            service_name: "gangway".to_owned(),
            timeout: Duration::from_secs(10),
        }
    }

    /// The URL spans are posted to.
    pub fn traces_url(&self) -> String {
        let base = self.endpoint.trim_end_matches('/');
        if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        }
    }
}

/// A running exporter: the batch processor's thread and the runtime thread for the pool.
#[derive(Debug)]
pub struct OtlpExporter {
    processor: BatchSpanProcessor,
    scope: InstrumentationScope,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Why the exporter could not start.
#[derive(Debug)]
pub struct OtlpError(String);

impl std::fmt::Display for OtlpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OTLP exporter: {}", self.0)
    }
}

impl std::error::Error for OtlpError {}

impl OtlpExporter {
    /// Starts the runtime thread and the batch processor; `client` carries the pool
    /// settings (TLS roots for an `https` collector). Give it a client of its own: its
    /// connections live on the exporter's runtime.
    pub fn start(
        settings: &OtlpSettings,
        client: gangway_pool::Client,
    ) -> Result<OtlpExporter, OtlpError> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("gangway-otlp".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(runtime.handle().clone()));
                // Runs the export requests until the exporter is dropped.
                let _ = runtime.block_on(stop_rx);
            })
            .map_err(|e| OtlpError(e.to_string()))?;
        let runtime = handle_rx
            .recv()
            .map_err(|e| OtlpError(e.to_string()))?
            .map_err(OtlpError)?;
        let http = PoolHttpClient {
            client,
            runtime,
            timeout: settings.timeout,
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(http)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(settings.traces_url())
            .with_timeout(settings.timeout)
            .build()
            .map_err(|e| OtlpError(e.to_string()))?;
        let mut processor = BatchSpanProcessor::builder(exporter).build();
        processor.set_resource(
            &Resource::builder_empty()
                .with_service_name(settings.service_name.clone())
                .build(),
        );
        Ok(OtlpExporter {
            processor,
            scope: InstrumentationScope::builder("gangway")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            stop: Some(stop),
        })
    }

    /// Queues a finished span; never blocks (a full queue drops it).
    pub fn export(&self, span: SpanRecord) {
        self.processor
            .on_end(span.into_span_data(self.scope.clone()));
    }

    /// Exports what is queued, waiting for it (call it off the workers: it blocks).
    pub fn flush(&self) -> Result<(), OtlpError> {
        self.processor
            .force_flush()
            .map_err(|e| OtlpError(e.to_string()))
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        // Shut the processor down first (it exports what is queued, through the runtime),
        // then the runtime.
        let _ = self.processor.shutdown_with_timeout(Duration::from_secs(5));
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A finished span, in gangway's terms.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// The trace.
    pub trace_id: [u8; 16],
    /// This span.
    pub span_id: [u8; 8],
    /// The parent span, if any.
    pub parent_id: Option<[u8; 8]>,
    /// Whether the parent is in another process (the client's span).
    pub parent_is_remote: bool,
    /// Server (the request) or client (an upstream attempt).
    pub kind: SpanKind,
    /// Span name (`GET /api`, `GET`).
    pub name: Cow<'static, str>,
    /// Start.
    pub start: SystemTime,
    /// End.
    pub end: SystemTime,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
    /// The span failed (a 5xx answer or an upstream error).
    pub error: bool,
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
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.to_owned()),
            KeyValue::new("http.response.status_code", i64::from(status)),
        ];
        if !route.is_empty() {
            attributes.push(KeyValue::new("http.route", route.to_owned()));
        }
        SpanRecord {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            parent_id: ctx.parent_id,
            parent_is_remote: ctx.parent_id.is_some(),
            kind: SpanKind::Server,
            // A request no route matched is named by its method alone.
            name: Cow::Owned(if route.is_empty() {
                method.to_owned()
            } else {
                format!("{method} {route}")
            }),
            start,
            end,
            attributes,
            error: status >= 500,
        }
    }

    /// One upstream attempt: a client span with its own id (the one sent upstream in
    /// `traceparent`), child of the server span.
    pub fn attempt(ctx: &TraceContext, span_id: [u8; 8], a: &Attempt<'_>) -> SpanRecord {
        let Attempt {
            start,
            end,
            method,
            server,
            attempt,
            retry_reason,
            reused,
            status,
        } = *a;
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.to_owned()),
            KeyValue::new("server.address", server.host().to_owned()),
            KeyValue::new("server.port", i64::from(server.port_u16().unwrap_or(0))),
            KeyValue::new(
                "http.request.resend_count",
                i64::from(attempt.saturating_sub(1)),
            ),
            KeyValue::new("gangway.pool.reused", reused),
        ];
        if let Some(reason) = retry_reason {
            attributes.push(KeyValue::new("gangway.retry_reason", reason.to_owned()));
        }
        if let Some(status) = status {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        SpanRecord {
            trace_id: ctx.trace_id,
            span_id,
            parent_id: Some(ctx.span_id),
            parent_is_remote: false,
            kind: SpanKind::Client,
            name: Cow::Owned(method.to_owned()),
            start,
            end,
            attributes,
            error: status.is_none_or(|s| s >= 500),
        }
    }

    fn into_span_data(self, scope: InstrumentationScope) -> SpanData {
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
            span_kind: self.kind,
            name: self.name,
            start_time: self.start,
            end_time: self.end,
            attributes: self.attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: if self.error {
                Status::error("")
            } else {
                Status::Unset
            },
            instrumentation_scope: scope,
        }
    }
}

#[cfg(test)]
mod tests;

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
    pub server: &'a http::uri::Authority,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Why this attempt is a retry, if it is one.
    pub retry_reason: Option<&'a str>,
    /// Sent on a pooled connection.
    pub reused: bool,
    /// The response status, if one arrived.
    pub status: Option<u16>,
}
