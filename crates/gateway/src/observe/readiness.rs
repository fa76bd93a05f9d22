//! The flag `[health] ready_path` answers from. A leaf: [`App`](crate::app::App) holds it
//! and `reload` re-exports it, so it imports nothing of the crate.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this instance should get traffic: `false` once draining (SIGTERM, including
/// `[shutdown] delay`). There is no "not loaded yet" state to represent: the listeners are
/// bound only after the config is loaded and validated.
#[derive(Debug)]
pub struct Readiness {
    draining: AtomicBool,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            draining: AtomicBool::new(false),
        }
    }
}

impl Readiness {
    /// Readiness fails from now on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// `true` while serving normally.
    pub fn is_ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed)
    }
}
