//! Graceful shutdown: one signal every connection task listens to, and a count of the
//! tasks still running so `run` can wait for in-flight requests (up to a deadline).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

/// The shutdown signal and the tracker of live connection tasks.
///
/// Two signals, in order: [`Shutdown::trigger`] (stop accepting, finish in-flight
/// requests, close idle connections), then [`Shutdown::close_all`] when the grace period
/// is over (drop whatever connection is still open).
#[derive(Debug, Clone)]
pub struct Shutdown {
    signal: watch::Sender<bool>,
    close: watch::Sender<bool>,
    live: Arc<Live>,
}

#[derive(Debug, Default)]
struct Live {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by each connection task; dropping it marks the task finished.
#[derive(Debug)]
pub struct TaskGuard {
    live: Arc<Live>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.live.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.live.idle.notify_waiters();
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal not yet given.
    pub fn new() -> Self {
        Self {
            signal: watch::channel(false).0,
            close: watch::channel(false).0,
            live: Arc::default(),
        }
    }

    /// Registers a task that shutdown should wait for.
    pub fn track(&self) -> TaskGuard {
        self.live.count.fetch_add(1, Ordering::AcqRel);
        TaskGuard {
            live: Arc::clone(&self.live),
        }
    }

    /// A receiver that sees the signal.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.signal.subscribe()
    }

    /// Gives the signal: listeners stop accepting, connections finish and close.
    pub fn trigger(&self) {
        self.signal.send_replace(true);
    }

    /// A receiver that sees [`Shutdown::close_all`].
    pub fn subscribe_close(&self) -> watch::Receiver<bool> {
        self.close.subscribe()
    }

    /// The grace period is over: connections still open are dropped at once.
    pub fn close_all(&self) {
        self.close.send_replace(true);
    }

    /// Whether the signal was given.
    pub fn is_triggered(&self) -> bool {
        *self.signal.borrow()
    }

    /// Tasks still running.
    pub fn live(&self) -> usize {
        self.live.count.load(Ordering::Acquire)
    }

    /// Waits until every tracked task finished, or `grace` passed. Returns how many were
    /// still running at the deadline.
    pub async fn drained(&self, grace: Duration) -> usize {
        let wait = async {
            loop {
                let notified = self.live.idle.notified();
                if self.live() == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(grace, wait).await;
        self.live()
    }
}

/// Resolves once `rx` holds `true`, or at once if it already does (a receiver subscribed
/// after the signal was given still sees it). A dropped sender counts as the signal: nobody
/// is left to give it.
pub async fn signalled(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|given| *given).await;
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn os_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("received Ctrl-C, shutting down"),
        _ = term => tracing::info!("received SIGTERM, shutting down"),
    }
}
