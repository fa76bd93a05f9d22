//! Closing on purpose: every idle connection, one key's connections, or the whole client
//! (refuse new requests, let in-flight ones finish until a deadline, then end the rest);
//! and the per-key in-flight gauge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Doomed, Shared};
use crate::key::Key;

/// How often a shutdown looks whether the last connections have closed.
const SHUTDOWN_POLL: Duration = Duration::from_millis(10);

impl Shared {
    /// Remembers connection `id`'s task so a shutdown can end it.
    pub(crate) fn track(&self, id: u64, task: tokio::task::AbortHandle) {
        // Already ended (its `untrack` ran first): nothing to remember.
        if !task.is_finished() {
            self.tasks.lock().insert(id, task);
        }
    }

    pub(crate) fn untrack(&self, id: u64) {
        self.tasks.lock().remove(&id);
    }

    /// The in-flight gauge of `key`, created with its host if needed. The host is kept
    /// while anyone holds the gauge, so the handle stays live.
    pub(crate) fn in_flight(self: &Arc<Self>, key: &Key) -> Arc<AtomicUsize> {
        let mut st = self.state.lock();
        let host = st
            .hosts
            .entry(key.clone())
            .or_insert_with(|| self.new_host(key));
        Arc::clone(host.in_flight_gauge())
    }

    /// Closes every idle connection of every host now.
    pub(crate) fn close_idle(self: &Arc<Self>) {
        let mut doomed = Doomed::default();
        {
            let mut st = self.state.lock();
            for host in st.hosts.values_mut() {
                host.close_idle(&mut doomed);
            }
        }
        drop(doomed);
    }

    /// Drains `key`: idle connections close now, busy ones when their request ends.
    /// Requests after this open new connections.
    pub(crate) fn close_key(self: &Arc<Self>, key: &Key) {
        let now = Instant::now();
        self.with_host(key, |host, doomed| host.retire_all(now, doomed));
    }

    /// Refuses new requests and waiting ones, closes idle connections, lets requests in
    /// flight finish until `deadline`, then ends the connections still open. Returns
    /// whether everything finished in time.
    pub(crate) async fn shutdown(self: &Arc<Self>, deadline: Instant) -> bool {
        self.closed.store(true, Ordering::Relaxed);
        let mut refused = Vec::new();
        {
            let mut doomed = Doomed::default();
            let mut st = self.state.lock();
            // Every connection, even one still being opened, closes when its request ends.
            let never = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
            for host in st.hosts.values_mut() {
                refused.extend(host.clear_waiters());
                host.retire_all(never, &mut doomed);
            }
            drop(st);
            drop(doomed);
        }
        // Dropped senders: each waiting request fails as refused by the shutdown.
        drop(refused);
        loop {
            let quiet = self.state.lock().hosts.values().all(|h| h.is_quiet());
            if quiet {
                return true;
            }
            if Instant::now() >= deadline {
                break;
            }
            let next = (Instant::now() + SHUTDOWN_POLL).min(deadline);
            tokio::time::sleep_until(next.into()).await;
        }
        let tasks: Vec<_> = self.tasks.lock().drain().map(|(_, t)| t).collect();
        for task in &tasks {
            task.abort();
        }
        tracing::debug!(
            connections = tasks.len(),
            "pool shutdown deadline passed: ended connections still open"
        );
        false
    }
}
