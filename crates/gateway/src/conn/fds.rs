//! File descriptors (issue #17 item 2): every client connection and every upstream
//! connection is one, and running out ("Too many open files") used to stall everything.
//!
//! - At startup the soft `RLIMIT_NOFILE` is raised to the hard limit ([`raise_limit`]); the
//!   default soft limit (often 1024) is far below what `max_connections` allows.
//! - A configuration whose limits cannot fit in it is refused, naming the numbers
//!   ([`Need::check`]): `[limits] max_connections` client sockets, plus
//!   `[pool] max_connections_per_host` for each upstream host the routes and groups name,
//!   plus [`RESERVE`]. CORS-mode targets are not known in advance and are not counted.
//! - Out of descriptors anyway (other processes' fds, CORS targets), an upstream connect
//!   fails with EMFILE/ENFILE: that request is answered `503` ([`is_out_of_fds`]), and the
//!   accept loop backs off instead of spinning (`conn::Listener::run`).

use std::collections::HashSet;

use crate::config::Config;

/// Descriptors kept for everything but connections: listeners, the admin listener, log
/// files, each runtime's event queue and wake-ups, DNS lookups, stdio.
pub const RESERVE: u64 = 128;

/// What a configuration may hold open at its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// `[limits] max_connections`.
    pub clients: u64,
    /// `[pool] max_connections_per_host`; `None` = unlimited (not counted).
    pub per_host: Option<u64>,
    /// Distinct upstream hosts (scheme + authority) the routes and groups name.
    pub upstream_hosts: u64,
}

impl Need {
    /// The limits of `config`.
    pub fn of(config: &Config) -> Need {
        let mut hosts = HashSet::new();
        for route in config.router.routes() {
            if route.action.is_none() {
                hosts.insert((route.upstream.https, route.upstream.authority.clone()));
            }
        }
        for group in &config.upstreams {
            for server in &group.servers {
                hosts.insert((server.upstream.https, server.upstream.authority.clone()));
            }
        }
        Need {
            clients: config.limits.max_connections as u64,
            per_host: config.pool.max_connections_per_host.map(|n| n as u64),
            upstream_hosts: hosts.len() as u64,
        }
    }

    /// Descriptors needed at the limits.
    pub fn total(&self) -> u64 {
        let upstream = self
            .per_host
            .unwrap_or(0)
            .saturating_mul(self.upstream_hosts);
        self.clients
            .saturating_add(upstream)
            .saturating_add(RESERVE)
    }

    /// `Ok` when the limits fit in `limit` open files; else what does not fit, and how to
    /// fix it.
    pub fn check(&self, limit: u64) -> Result<(), String> {
        let total = self.total();
        if total <= limit {
            return Ok(());
        }
        let upstream = match self.per_host {
            Some(per_host) => format!(
                " + [pool] max_connections_per_host ({per_host}) × {} upstream host(s)",
                self.upstream_hosts
            ),
            None => String::new(),
        };
        Err(format!(
            "the limits need {total} file descriptors: [limits] max_connections ({}){upstream} \
             + {RESERVE} reserved; the open-file limit (RLIMIT_NOFILE) is {limit}. Lower those \
             limits, or raise the hard limit (LimitNOFILE= in a systemd unit, ulimit -Hn)",
            self.clients
        ))
    }
}

/// Raises the soft open-file limit to the hard one; returns the limit now in force, or
/// `None` where it cannot be read (then nothing is checked).
pub fn raise_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(now) => Some(now),
            Err(e) => {
                tracing::warn!(error = %e, "could not raise the open-file limit");
                rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Whether `err` (or an error it wraps) is the process or the system out of file
/// descriptors (EMFILE, ENFILE).
pub fn is_out_of_fds(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if is_fd_exhaustion(io) {
                return true;
            }
        }
        cur = e.source();
    }
    false
}

/// EMFILE or ENFILE.
pub fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    // Linux, the BSDs and macOS agree on these two numbers.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Errors that concern one connection only (the client went away during accept).
pub(super) fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// How often a lasting accept failure is logged.
pub(super) const ACCEPT_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// An accept failure that is not one client's (out of descriptors or memory) repeats at
/// every back-off while it lasts, ten a second: the first is logged, then at most one line
/// per [`ACCEPT_LOG_EVERY`] that says how many went unlogged.
#[derive(Debug, Default)]
pub(super) struct AcceptFailures {
    logged_at: Option<std::time::Instant>,
    quiet: u64,
}

impl AcceptFailures {
    /// A failure at `now`: `Some(n)` to log it, `n` failures having gone unlogged since the
    /// last line; `None` to stay quiet.
    pub(super) fn note(&mut self, now: std::time::Instant) -> Option<u64> {
        match self.logged_at {
            Some(at) if now.saturating_duration_since(at) < ACCEPT_LOG_EVERY => {
                self.quiet += 1;
                None
            }
            _ => {
                self.logged_at = Some(now);
                Some(std::mem::take(&mut self.quiet))
            }
        }
    }
}

#[cfg(test)]
mod tests;
