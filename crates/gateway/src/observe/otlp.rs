//! Span export over OTLP/HTTP protobuf (`POST {endpoint}/v1/traces`), through gangway-pool.
//!
//! Spans are recorded only for sampled requests, as plain [`SpanRecord`]s with the ids
//! [`super::trace`] chose (no tracer, no context propagation machinery on the hot path),
//! queued without waking anyone, and moved every 200 ms by the exporter's runtime thread
//! into the SDK's `BatchSpanProcessor` as `SpanData` (see `record.rs` for why the SDK's
//! spans are not built on the workers): a bounded queue (spans dropped, not callers
//! blocked, when it is full) drained by its own thread, which batches and exports.
//!
//! That thread drives the export future with a plain executor, while gangway-pool needs a
//! tokio runtime: [`PoolHttpClient`] runs each request on a small current-thread runtime of
//! its own thread and hands the result back — the gateway's workers are never involved.
//! With no endpoint configured nothing here is started: [`OtlpExporter::start`] is simply
//! not called.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use opentelemetry::InstrumentationScope;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SpanProcessor};
use opentelemetry_sdk::Resource;
use parking_lot::Mutex;

mod record;
pub use record::{Attempt, SpanRecord};

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
    handover: Arc<Handover>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Spans queued by the workers, moved into the batch processor by the runtime thread every
/// [`HANDOVER_EVERY`] (and by [`OtlpExporter::flush`] and the shutdown): a worker only
/// pushes a plain record under a lock that no one holds for longer than a swap of two
/// vectors, and wakes no thread.
#[derive(Debug)]
struct Handover {
    queued: Mutex<Vec<SpanRecord>>,
    processor: BatchSpanProcessor,
    scope: InstrumentationScope,
    /// The first dropped span was warned about (once per exporter).
    warned: AtomicBool,
}

/// How often queued spans move into the batch processor (which exports every 5 s or per
/// 512 spans).
const HANDOVER_EVERY: Duration = Duration::from_millis(200);

/// Spans queued at most between two handovers; more are dropped, with one warning (the batch
/// processor's own queue holds 2 048).
const MAX_QUEUED: usize = 4096;

impl Handover {
    fn push(&self, span: SpanRecord) {
        let mut queued = self.queued.lock();
        if queued.len() < MAX_QUEUED {
            queued.push(span);
            return;
        }
        drop(queued);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!("OTLP: spans are dropped, the exporter does not keep up");
        }
    }

    /// Moves the queued spans into the batch processor, built as the SDK's spans here.
    fn hand_over(&self, spare: &mut Vec<SpanRecord>) {
        std::mem::swap(&mut *self.queued.lock(), spare);
        for span in spare.drain(..) {
            self.processor
                .on_end(span.into_span_data(self.scope.clone()));
        }
    }
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
        let runtime: tokio::runtime::Handle = handle_rx
            .recv()
            .map_err(|e| OtlpError(e.to_string()))?
            .map_err(OtlpError)?;
        let http = PoolHttpClient {
            client,
            runtime: runtime.clone(),
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
        let handover = Arc::new(Handover {
            queued: Mutex::new(Vec::new()),
            processor,
            scope: InstrumentationScope::builder("gangway")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            warned: AtomicBool::new(false),
        });
        let periodic = Arc::clone(&handover);
        runtime.spawn(async move {
            let mut spare = Vec::new();
            let mut tick = tokio::time::interval(HANDOVER_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                periodic.hand_over(&mut spare);
            }
        });
        Ok(OtlpExporter {
            handover,
            stop: Some(stop),
        })
    }

    /// Queues a finished span; never blocks (a full queue drops it, with one warning per
    /// exporter).
    pub fn export(&self, span: SpanRecord) {
        self.handover.push(span);
    }

    /// Exports what is queued, waiting for it (call it off the workers: it blocks).
    pub fn flush(&self) -> Result<(), OtlpError> {
        self.handover.hand_over(&mut Vec::new());
        self.handover
            .processor
            .force_flush()
            .map_err(|e| OtlpError(e.to_string()))
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        // Hand the last spans over and shut the processor down first (it exports what is
        // queued, through the runtime), then the runtime.
        self.handover.hand_over(&mut Vec::new());
        let _ = self
            .handover
            .processor
            .shutdown_with_timeout(Duration::from_secs(5));
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests;
