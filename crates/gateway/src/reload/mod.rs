//! Reloading the configuration without a restart, and the process state around it.
//!
//! - [`Live`]: the running [`App`] behind one lock. Every request reads it once
//!   ([`Live::load`]: an uncontended read lock and an `Arc` clone), so a reload is one
//!   pointer swap and a request in flight finishes on the `App` it started with. A std
//!   `RwLock<Arc<App>>` rather than the `arc-swap` crate: the read is a few nanoseconds
//!   next to a proxied request, writes happen once per reload, and no dependency is needed.
//! - [`Readiness`]: the flag `[health] ready_path` answers from; shared by every `App` of
//!   the process (a reload does not make a draining gateway ready again).
//! - `apply`: a new `App` from a new `Config`, keeping the upstream pool when `[pool]` did
//!   not change; `plan`: what may change on reload (pure, table-tested); `watch`: `--watch`;
//!   `limits`: `[limits] max_connections` resized on reload.

pub mod apply;
pub mod limits;
pub mod plan;
pub mod run;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::app::App;

pub use crate::observe::readiness::Readiness;

/// The running `App`, swapped whole on reload, and the reload counters.
#[derive(Debug)]
pub struct Live {
    current: RwLock<Arc<App>>,
    reloads_ok: AtomicU64,
    reloads_error: AtomicU64,
    last_success: AtomicU64,
}

impl Live {
    /// Starts with `app`; its start counts as the last successful load.
    pub fn new(app: Arc<App>) -> Arc<Live> {
        Arc::new(Live {
            current: RwLock::new(app),
            reloads_ok: AtomicU64::new(0),
            reloads_error: AtomicU64::new(0),
            last_success: AtomicU64::new(unix_now()),
        })
    }

    /// The `App` to serve one request (or one connection's bookkeeping) with.
    pub fn load(&self) -> Arc<App> {
        // A poisoned lock only means a writer panicked mid-swap; the Arc inside is whole.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Installs `app` for new requests; returns the one it replaces.
    pub fn store(&self, app: Arc<App>) -> Arc<App> {
        let mut slot = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, app)
    }

    /// Counts a reload attempt.
    pub fn record(&self, ok: bool) {
        if ok {
            self.reloads_ok.fetch_add(1, Ordering::Relaxed);
            self.last_success.store(unix_now(), Ordering::Relaxed);
        } else {
            self.reloads_error.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text for `/metrics`: the current `App`'s, then the reload series
    /// (kept here, outside any `App`, so they survive the reloads they count).
    pub fn render_metrics(&self) -> String {
        let mut out = self.load().render_metrics();
        out.push_str(&reload_metrics(
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_error.load(Ordering::Relaxed),
            self.last_success.load(Ordering::Relaxed),
        ));
        out
    }
}

/// The reload series in the Prometheus text format.
pub fn reload_metrics(ok: u64, error: u64, last_success: u64) -> String {
    format!(
        "# HELP gangway_config_reloads_total Configuration reloads, by result.\n\
         # TYPE gangway_config_reloads_total counter\n\
         gangway_config_reloads_total{{result=\"ok\"}} {ok}\n\
         gangway_config_reloads_total{{result=\"error\"}} {error}\n\
         # HELP gangway_config_last_reload_success_timestamp_seconds When the running configuration was loaded.\n\
         # TYPE gangway_config_last_reload_success_timestamp_seconds gauge\n\
         gangway_config_last_reload_success_timestamp_seconds {last_success}\n"
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
