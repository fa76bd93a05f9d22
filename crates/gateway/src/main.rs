//! The `gangway` binary: parse the command line, load the config, set up logging, serve
//! until SIGTERM or Ctrl-C (reloading the config on SIGHUP and, with `--watch`, when the file
//! changes), then shut down gracefully.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use gangway::cli::Cli;
use gangway::config::Config;
use gangway::observe::error_log::{self, ErrorLog};
use gangway::workers::Workers;

/// jemalloc, not the platform's malloc: it returns the memory of a burst (thousands of
/// connections' buffers, freed when they park) to the kernel within about a second, where
/// glibc's malloc keeps most of it in its heaps. Its settings are compiled in from
/// `.cargo/config.toml`. No cost per request was measurable (benches/observe_cost.sh, the
/// two allocators side by side).
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let check_only = cli.check_only();
    let print_config = cli.print_config;
    let reload_cli = cli.clone();
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
    // Both read and clear environment variables: before any other thread starts.
    // The admin listener's address last: an inherited socket may serve it too (its slot
    // follows the listeners', see `start_inherited`).
    let addresses: Vec<_> = config
        .listeners
        .iter()
        .map(|l| l.address)
        .chain(config.admin.address)
        .collect();
    let inherited = match gangway::systemd::take_listeners(&addresses) {
        Ok(sockets) => sockets,
        Err(e) => {
            eprintln!("gangway: {e}");
            return ExitCode::from(2);
        }
    };
    let notifier = match gangway::systemd::Notifier::from_env() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("gangway: NOTIFY_SOCKET: {e}");
            return ExitCode::from(2);
        }
    };
    // The guard is kept for the whole run: dropping it flushes the error log's last lines.
    let (error_log, _error_log_guard) = init_logging(&config);
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
    let on_reload: gangway::reload::run::LevelHook =
        Box::new(move |config: &Config| error_log.apply(&config.log));
    let options = gangway::reload::run::Options {
        cli: reload_cli,
        workers: Some(Arc::clone(&workers)),
        inherited,
        notifier,
        on_reload: Some(on_reload),
    };
    let result = runtime.block_on(gangway::reload::run::serve(config, options));
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
/// (`observe::writer`), so a stalled stdout drops lines instead of blocking workers. Returns
/// the handles a reload applies `[log]` with (level and format).
fn init_logging(config: &Config) -> (ErrorLog, Option<gangway::observe::writer::WriterGuard>) {
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
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (writer, guard) = match gangway::observe::sink::install_error_log() {
        Ok((writer, guard)) => (Some(writer), Some(guard)),
        Err(e) => {
            eprintln!("gangway: cannot start the log writer ({e}); logging to stdout directly");
            (None, None)
        }
    };
    let (subscriber, handles) = error_log::build(&config.log, from_env, writer, ansi);
    subscriber.init();
    (handles, guard)
}
