//! The binary's serve loop: start, then reload on SIGHUP (and on file changes with
//! `--watch`) until SIGTERM/SIGINT, telling systemd about each step when it listens.

use std::net::TcpListener;
use std::sync::Arc;

use super::{apply, watch};
use crate::cli::Cli;
use crate::config::Config;
use crate::conn::shutdown::os_signal;
use crate::conn::systemd::{Notifier, State};
use crate::conn::workers::Workers;
use crate::gateway::{start_inherited, StartError};

/// Applies a reloaded config's `[log]` level and format (the binary's tracing reload
/// handles, see `observe::error_log`).
pub type LevelHook = Box<dyn Fn(&Config) + Send>;

/// What the serve loop needs besides the config.
pub struct Options {
    /// The command line, re-read on each reload (same file, same flags).
    pub cli: Cli,
    /// Worker runtimes (the binary) or none (serve on the current runtime).
    pub workers: Option<Arc<Workers>>,
    /// Sockets from the service manager, by listener (see `systemd::take_listeners`).
    pub inherited: Vec<Option<TcpListener>>,
    /// `NOTIFY_SOCKET`'s notifier, when set.
    pub notifier: Option<Notifier>,
    /// Called with each config taken on reload.
    pub on_reload: Option<LevelHook>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("cli", &self.cli)
            .field("workers", &self.workers)
            .field("inherited", &self.inherited)
            .field("notifier", &self.notifier)
            .field("on_reload", &self.on_reload.is_some())
            .finish()
    }
}

/// Serves `config` until SIGTERM/SIGINT, reloading on SIGHUP and (with `--watch`) file
/// changes, then shuts down gracefully. Returns the connections left at the deadline.
pub async fn serve(config: Config, opts: Options) -> Result<usize, StartError> {
    // Installed before anything binds: from here on SIGHUP never ends the process.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(StartError::signal)?;
    let mut running = start_inherited(&config, opts.workers, opts.inherited).await?;
    notify(&opts.notifier, State::Ready);
    let mut own = running.addrs.clone();
    own.extend(running.admin_addr);
    let mut watch = match (opts.cli.watch, &opts.cli.config) {
        (true, Some(path)) => Some(watch::spawn(path.clone())),
        _ => None,
    };
    let mut config = config;
    let term = os_signal();
    tokio::pin!(term);
    loop {
        let changed = async {
            match &mut watch {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            _ = &mut term => break,
            _ = hup.recv() => "SIGHUP",
            Some(()) = changed => "file change",
        };
        notify(&opts.notifier, State::Reloading);
        if let Some(new) = apply::reload(&opts.cli, &running.live, &config, &own, why) {
            running.delay = new.shutdown.delay;
            super::limits::resize(
                &running.permits,
                config.limits.max_connections,
                new.limits.max_connections,
            );
            if let Some(hook) = &opts.on_reload {
                hook(&new);
            }
            config = new;
        }
        notify(&opts.notifier, State::Ready);
    }
    notify(&opts.notifier, State::Stopping);
    Ok(running.shutdown().await)
}

fn notify(notifier: &Option<Notifier>, state: State) {
    if let Some(n) = notifier {
        if let Err(e) = n.notify(state) {
            tracing::warn!(error = %e, ?state, "sd_notify failed");
        }
    }
}
