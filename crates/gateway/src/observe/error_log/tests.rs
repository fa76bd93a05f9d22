use std::io::Write;
use std::sync::{Arc, Mutex};

use super::*;
use crate::observe::writer::{Destination, WriterOptions};

/// A writer destination the test reads back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log(level: &str, format: LogFormat) -> Log {
    Log {
        level: level.to_owned(),
        format,
        ..Log::default()
    }
}

#[test]
fn only_json_makes_a_json_error_log() {
    for (format, json) in [
        (LogFormat::Json, true),
        (LogFormat::Text, false),
        (LogFormat::Combined, false),
    ] {
        assert_eq!(is_json(format), json, "{format:?}");
    }
}

/// Text, then JSON after `apply`, then text again; the level reloads with it, and an
/// unchanged format leaves the formatter alone.
#[test]
fn apply_switches_the_format_and_the_level_between_events() {
    let out = Shared::default();
    let (writer, guard, _) = LogWriter::start(
        Destination::Writer(Box::new(out.clone())),
        WriterOptions::default(),
    )
    .expect("start the writer");
    let (subscriber, handles) = build(&log("info", LogFormat::Text), None, Some(writer), false);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(n = 1, "first");
        handles.apply(&log("info", LogFormat::Json));
        tracing::info!(n = 2, "second");
        handles.apply(&log("warn", LogFormat::Json));
        tracing::info!(n = 3, "filtered out");
        tracing::warn!(n = 4, "fourth");
        handles.apply(&log("info", LogFormat::Combined));
        tracing::info!(n = 5, "fifth");
    });
    drop(guard);
    let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        !lines[0].starts_with('{') && lines[0].contains("first"),
        "{text}"
    );
    assert!(lines[0].contains("n=1"), "{text}");
    for (line, n) in [(lines[1], 2), (lines[2], 4)] {
        assert!(line.starts_with('{'), "{text}");
        assert!(line.contains(&format!("\"n\":{n}")), "{text}");
    }
    assert!(
        !lines[3].starts_with('{') && lines[3].contains("n=5"),
        "{text}"
    );
}

/// With `RUST_LOG` the level stays; the format still follows the file.
#[test]
fn env_level_wins_but_the_format_reloads() {
    let out = Shared::default();
    let (writer, guard, _) = LogWriter::start(
        Destination::Writer(Box::new(out.clone())),
        WriterOptions::default(),
    )
    .expect("start the writer");
    let (subscriber, handles) = build(
        &log("info", LogFormat::Text),
        Some(EnvFilter::new("debug")),
        Some(writer),
        false,
    );
    tracing::subscriber::with_default(subscriber, || {
        handles.apply(&log("error", LogFormat::Json));
        tracing::debug!(n = 1, "still shown");
    });
    drop(guard);
    let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(text.starts_with('{') && text.contains("\"n\":1"), "{text}");
}
