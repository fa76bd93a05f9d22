//! Observability wiring above [`App`](crate::app::App): `/metrics` rendering, the error
//! log's writer and the background tasks. The access log itself ([`AccessLog`], re-exported
//! from `access_log`) is a leaf that `App` holds; the
//! [`Exchange`](crate::request::Exchange) renders each line into the writer's per-thread
//! buffer, so a request costs a format and a short memcpy — never a write to the
//! destination, which happens on the writer's own thread.

use std::io;
use std::sync::atomic::Ordering;

use super::prom::{MetricType, PromText};
use super::writer::{Destination, LogWriter, WriterGuard, WriterOptions};

pub use super::access_log::{access_format, AccessLog};

/// Writes `gangway_log_lines_dropped_total`: lines of the access log and the error log
/// that a stalled destination made the gateway drop.
pub fn render_dropped(text: &mut PromText, dropped: u64) {
    text.family(
        "gangway_log_lines_dropped_total",
        "Log lines (access and error log) dropped because the destination did not keep up.",
        MetricType::Counter,
    )
    .sample(&[], dropped as f64);
}

/// The error log's writer, installed once by the binary ([`install_error_log`]) so that
/// `/metrics` can count its drops too.
static ERROR_LOG: std::sync::OnceLock<LogWriter> = std::sync::OnceLock::new();

/// Starts the error log's non-blocking writer on stdout: pass the returned writer to
/// `tracing_subscriber::fmt().with_writer(…)` and keep the guard alive for the process.
/// Its own drops are counted but not warned about (a full error log cannot feed itself).
pub fn install_error_log() -> io::Result<(LogWriter, WriterGuard)> {
    let options = WriterOptions {
        warn_on_drop: false,
        thread_name: "gangway-errlog".to_owned(),
        ..WriterOptions::default()
    };
    let (writer, guard, _reopen) = LogWriter::start(Destination::Stdout, options)?;
    let _ = ERROR_LOG.set(writer.clone());
    Ok((writer, guard))
}

/// The families the observe wiring adds to `/metrics`, after those of
/// [`Metrics`](super::metrics::Metrics): see [`render_families`].
pub fn render_extra(app: &crate::app::App) -> String {
    let mut text = PromText::new();
    render_families(app, &mut text);
    text.into_string()
}

/// Writes the build, process, in-flight and dropped-log-line families into `text`. The
/// hook for more families: a module with metrics of its own adds a function taking the
/// same `&mut PromText` and is called from here.
pub fn render_families(app: &crate::app::App, text: &mut PromText) {
    text.family(
        "gangway_build_info",
        "The running gangway's version (the value is always 1).",
        MetricType::Gauge,
    )
    .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    text.family(
        "gangway_requests_in_flight",
        "Requests received whose response has not ended yet.",
        MetricType::Gauge,
    )
    .sample(&[], app.in_flight.load(Ordering::Relaxed) as f64);
    let dropped = app.access.as_ref().map_or(0, AccessLog::dropped)
        + ERROR_LOG.get().map_or(0, LogWriter::dropped);
    render_dropped(text, dropped);
    super::process::render(&super::process::ProcessStats::read(), text);
    crate::upstream::report::render(&app.groups.current(), text);
}

/// Background tasks on the current runtime for as long as the gateway runs: the flood
/// control's summaries every 10 s, and `SIGUSR1` reopening the access log file.
///
/// `current` gives the running `App` (a reload replaces it): the summaries are those of
/// the config serving now, and a replaced one's pending summaries are written once more.
pub fn background(
    app: &std::sync::Arc<crate::app::App>,
    current: impl Fn() -> std::sync::Arc<crate::app::App> + Send + 'static,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let mut last = std::sync::Arc::clone(app);
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(super::flood::DEFAULT_WINDOW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = current();
            if !std::sync::Arc::ptr_eq(&now, &last) {
                last.flood.flush();
                last = now;
            }
            last.flood.flush();
        }
    }));
    if let Some(access) = &app.access {
        if let Err(e) = super::writer::reopen_on_sigusr1(vec![access.reopener()]) {
            tracing::warn!(error = %e, "cannot listen for SIGUSR1; the access log will not be reopened");
        }
    }
    tasks
}

// Here rather than in app.rs: `app` sits below `observe`'s wiring and does not call it.
impl crate::app::App {
    /// The Prometheus text for `/metrics`.
    pub fn render_metrics(&self) -> String {
        let mut pools = vec![("routes", self.client.stats())];
        pools.extend(self.per_route.pools().map(|(label, c)| (label, c.stats())));
        if let Some(cors) = &self.cors {
            pools.push(("cors", cors.client.stats()));
        }
        let mut owners = super::metrics::PoolOwners::new();
        for group in self.groups.all() {
            for server in group.servers() {
                owners.insert(server.pool_key(), group.name().to_owned());
            }
        }
        let mut out = self.metrics.render_with(&pools, &owners);
        out.push_str(&render_extra(self));
        out
    }
}
