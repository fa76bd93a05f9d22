//! The error log's `tracing` subscriber, with its level and its format both reloadable.
//!
//! Two `tracing_subscriber::reload` layers: the level filter, and the formatter (JSON or
//! text) boxed so that either can take the other's place. A reload swaps the formatter
//! between two events; an event being written when it happens finishes in the old format.
//! `combined` is an access-line format only: the error log is then text.

use std::sync::Mutex;

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

use super::writer::LogWriter;
use crate::config::{Log, LogFormat};

/// The registry under its level filter: what the formatter layer sits on.
pub type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;

/// The formatter, boxed so a reload can replace JSON with text and back.
type Formatter = Box<dyn Layer<Filtered> + Send + Sync>;

/// The assembled subscriber: install it with `SubscriberInitExt::init` (or use it as a
/// default in a test).
pub type Subscriber = Layered<reload::Layer<Formatter, Filtered>, Filtered>;

/// The error log's reload handles.
pub struct ErrorLog {
    /// `None` when `RUST_LOG` set the level: it wins over reloads too.
    level: Option<reload::Handle<EnvFilter, Registry>>,
    format: reload::Handle<Formatter, Filtered>,
    /// The current format's JSON-ness, so a reload with the same format changes nothing.
    json: Mutex<bool>,
    writer: Option<LogWriter>,
    ansi: bool,
}

impl std::fmt::Debug for ErrorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorLog")
            .field("level_reloads", &self.level.is_some())
            .field("writer", &self.writer)
            .field("ansi", &self.ansi)
            .finish()
    }
}

/// Whether the error log is JSON for `[log] format` (`text` and `combined` are text).
pub fn is_json(format: LogFormat) -> bool {
    format == LogFormat::Json
}

/// The subscriber for `log` and its reload handles. `env_filter` (from `RUST_LOG`), when
/// given, replaces `log.level` for the whole run; `writer` is the non-blocking writer
/// (`None`: stdout directly); `ansi` colours text lines (a terminal).
pub fn build(
    log: &Log,
    env_filter: Option<EnvFilter>,
    writer: Option<LogWriter>,
    ansi: bool,
) -> (Subscriber, ErrorLog) {
    let from_config = env_filter.is_none();
    let filter = env_filter.unwrap_or_else(|| EnvFilter::new(log.level.as_str()));
    let (filter, level) = reload::Layer::new(filter);
    let json = is_json(log.format);
    let (formatter, format) = reload::Layer::new(formatter(json, writer.as_ref(), ansi));
    let subscriber = tracing_subscriber::registry().with(filter).with(formatter);
    let handles = ErrorLog {
        level: from_config.then_some(level),
        format,
        json: Mutex::new(json),
        writer,
        ansi,
    };
    (subscriber, handles)
}

impl ErrorLog {
    /// Applies a reloaded `[log]`: its level (unless `RUST_LOG` set it) and its format.
    pub fn apply(&self, log: &Log) {
        if let Some(level) = &self.level {
            if let Err(e) = level.reload(EnvFilter::new(log.level.as_str())) {
                tracing::warn!(error = %e, "cannot change the log level");
            }
        }
        let json = is_json(log.format);
        let mut current = self.json.lock().unwrap_or_else(|e| e.into_inner());
        if *current == json {
            return;
        }
        match self
            .format
            .reload(formatter(json, self.writer.as_ref(), self.ansi))
        {
            Ok(()) => *current = json,
            Err(e) => tracing::warn!(error = %e, "cannot change the log format"),
        }
    }
}

fn formatter(json: bool, writer: Option<&LogWriter>, ansi: bool) -> Formatter {
    let make = match writer {
        Some(w) => BoxMakeWriter::new(w.clone()),
        None => BoxMakeWriter::new(std::io::stdout),
    };
    let layer = tracing_subscriber::fmt::layer().with_writer(make);
    if json {
        // JSON has no colours to turn off or on.
        layer.json().boxed()
    } else {
        layer.with_ansi(ansi).boxed()
    }
}

#[cfg(test)]
mod tests;
