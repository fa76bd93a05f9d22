//! A running access log: a started [`LogWriter`] (stdout or `[log] access_log_path`) and
//! the line format. Requests queue their records as frames; the writer thread renders them.
//! Held by [`App`](crate::app::App); imports nothing above `config` and `observe`'s own
//! leaves, so `app` can hold it without a cycle.
//!
//! The format is the `App`'s; the writer is shared: a reload that keeps the destination
//! ([`AccessLog::carried`]) hands the running writer to the new `App` with the new format,
//! so one thread writes the file (requests in flight on the old `App` finish their lines in
//! the old format, into the same writer) and `SIGUSR1` still reopens it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Log, LogFormat};

use super::access::{frame, render, AccessFormat, AccessRecord};
use super::writer::{Destination, LogWriter, Reopen, WriterGuard, WriterOptions};

/// A running access log.
#[derive(Debug)]
pub struct AccessLog {
    writer: LogWriter,
    format: AccessFormat,
    reopen: Reopen,
    /// `[log] access_log_path` (`None`: stdout), to tell whether a reload keeps the writer.
    path: Option<PathBuf>,
    /// Flushes and stops the writer thread when the last `App` using it is dropped (in a
    /// mutex only to be `Sync`: it is never locked).
    _guard: Arc<parking_lot::Mutex<WriterGuard>>,
}

impl AccessLog {
    /// Starts the writer for `[log]`, or `None` when the access log is off.
    pub fn start(log: &Log) -> io::Result<Option<AccessLog>> {
        if !log.access_log {
            return Ok(None);
        }
        let destination = match &log.access_log_path {
            Some(path) => Destination::File(path.clone()),
            None => Destination::Stdout,
        };
        let options = WriterOptions {
            thread_name: "gangway-access".to_owned(),
            render: Some(render_frame),
            ..WriterOptions::default()
        };
        let (writer, guard, reopen) = LogWriter::start(destination, options)?;
        Ok(Some(AccessLog {
            writer,
            format: access_format(log.format),
            reopen,
            path: log.access_log_path.clone(),
            _guard: Arc::new(parking_lot::Mutex::new(guard)),
        }))
    }

    /// This log's writer with `log`'s format, when a reload to `log` keeps the destination
    /// (the access log still on, the same path or stdout); `None` when it does not.
    pub fn carried(&self, log: &Log) -> Option<AccessLog> {
        (log.access_log && log.access_log_path == self.path).then(|| AccessLog {
            writer: self.writer.clone(),
            format: access_format(log.format),
            reopen: self.reopen.clone(),
            path: self.path.clone(),
            _guard: Arc::clone(&self._guard),
        })
    }

    /// The line format.
    pub fn format(&self) -> AccessFormat {
        self.format
    }

    /// Queues one line; never blocks on the destination. The writer thread renders it: the
    /// caller only copies the record's fields (see `access::frame`).
    pub fn write(&self, record: &AccessRecord<'_, [u8]>) {
        self.writer
            .with_frame(|buf| frame::encode(self.format, record, buf));
    }

    /// Reopens the destination (`SIGUSR1`).
    pub fn reopener(&self) -> Reopen {
        self.reopen.clone()
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.writer.dropped()
    }
}

/// The writer thread's half of [`AccessLog::write`]: one frame into its line.
fn render_frame(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    match frame::decode(bytes) {
        Some((format, record)) => {
            render(format, &record, out);
            true
        }
        None => false,
    }
}

/// The access-line format for `[log] format` (`text` is logfmt).
pub fn access_format(format: LogFormat) -> AccessFormat {
    match format {
        LogFormat::Json => AccessFormat::Json,
        LogFormat::Text => AccessFormat::Text,
        LogFormat::Combined => AccessFormat::Combined,
    }
}

#[cfg(test)]
mod tests;
