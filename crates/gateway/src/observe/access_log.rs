//! A running access log: a started [`LogWriter`] (stdout or `[log] access_log_path`) and
//! the line format. Held by [`App`](crate::app::App); imports nothing above `config` and
//! `observe`'s own leaves, so `app` can hold it without a cycle.

use std::io;

use crate::config::{Log, LogFormat};

use super::access::{render, AccessFormat, AccessRecord};
use super::writer::{Destination, LogWriter, Reopen, WriterGuard, WriterOptions};

/// A running access log.
#[derive(Debug)]
pub struct AccessLog {
    writer: LogWriter,
    format: AccessFormat,
    reopen: Reopen,
    /// Flushes and stops the writer thread when the gateway's state is dropped (in a mutex
    /// only to be `Sync`: it is never locked).
    _guard: parking_lot::Mutex<WriterGuard>,
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
            ..WriterOptions::default()
        };
        let (writer, guard, reopen) = LogWriter::start(destination, options)?;
        Ok(Some(AccessLog {
            writer,
            format: access_format(log.format),
            reopen,
            _guard: parking_lot::Mutex::new(guard),
        }))
    }

    /// Renders and queues one line; never blocks on the destination.
    pub fn write(&self, record: &AccessRecord<'_>) {
        self.writer
            .with_line(|buf| render(self.format, record, buf));
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

/// The access-line format for `[log] format` (`text` is logfmt).
pub fn access_format(format: LogFormat) -> AccessFormat {
    match format {
        LogFormat::Json => AccessFormat::Json,
        LogFormat::Text => AccessFormat::Text,
        LogFormat::Combined => AccessFormat::Combined,
    }
}
