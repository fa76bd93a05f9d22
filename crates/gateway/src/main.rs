//! The `gangway` binary: parse the command line, load the config, set up logging, serve
//! until SIGTERM or Ctrl-C, then shut down gracefully.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use gangway::cli::Cli;
use gangway::config::{Config, LogFormat};
use gangway::workers::Workers;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let check_only = cli.check_only();
    let print_config = cli.print_config;
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gangway: {e}");
            return ExitCode::from(2);
        }
    };
    if print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    if check_only {
        println!(
            "gangway: configuration OK ({} listener(s), {} route(s))",
            config.listeners.len(),
            config.router.routes().len()
        );
        return ExitCode::SUCCESS;
    }
    // Kept for the whole run: dropping it flushes the error log's last lines.
    let _error_log = init_logging(&config);
    // This thread serves the admin listener and waits for signals; the worker threads accept
    // and serve connections (see `gangway::workers` for why not work stealing).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gangway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = match Workers::start(config.runtime.worker_count()) {
        Ok(w) => Arc::new(w),
        Err(e) => {
            eprintln!("gangway: cannot start the worker threads: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(workers = workers.len(), "worker threads started");
    let result = runtime.block_on(gangway::run(
        &config,
        Some(Arc::clone(&workers)),
        gangway::shutdown::os_signal(),
    ));
    // Stops the workers (after the drain above: nothing is served any more).
    drop(workers);
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(left) => {
            tracing::warn!(
                left,
                "exited with connections still open at the end of the grace period"
            );
            ExitCode::SUCCESS
        }
        // Once, on stderr like the config errors above: not also as a log event, so a
        // failed start is one line to read (and to grep for) wherever the logs go.
        Err(e) => {
            eprintln!("gangway: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Installs the error log: formatted by `tracing_subscriber`, written by a dedicated thread
/// (`observe::writer`), so a stalled stdout drops lines instead of blocking workers.
fn init_logging(config: &Config) -> Option<gangway::observe::writer::WriterGuard> {
    // RUST_LOG wins over the config's level, so a one-off debug run needs no file edit.
    // Its directives are trimmed first: tracing-subscriber 0.3 panics on a directive with
    // leading whitespace and a non-ASCII character (found by the config fuzz target).
    let from_env = std::env::var("RUST_LOG").ok().and_then(|text| {
        let trimmed: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .collect();
        match EnvFilter::try_new(trimmed.join(",")) {
            Ok(filter) if !trimmed.is_empty() => Some(filter),
            Ok(_) => None,
            Err(e) => {
                eprintln!("gangway: ignoring RUST_LOG ({e}); using the configured level");
                None
            }
        }
    });
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(config.log.level.as_str()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let (writer, guard) = match gangway::observe::sink::install_error_log() {
        Ok((writer, guard)) => (Some(writer), Some(guard)),
        Err(e) => {
            eprintln!("gangway: cannot start the log writer ({e}); logging to stdout directly");
            (None, None)
        }
    };
    match (config.log.format, writer) {
        (LogFormat::Json, Some(w)) => builder.json().with_writer(w).init(),
        (LogFormat::Json, None) => builder.json().init(),
        (LogFormat::Text | LogFormat::Combined, Some(w)) => builder.with_writer(w).init(),
        (LogFormat::Text | LogFormat::Combined, None) => builder.init(),
    }
    guard
}
