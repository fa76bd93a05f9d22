//! The one background task that closes idle connections when they expire.
//!
//! It runs only while something is idle, holds only a `Weak` reference (a dropped client
//! stops it), and wakes at the earliest idle deadline. Checkout also skips expired and
//! closed connections, so the reaper is about giving sockets back promptly, not about
//! correctness.

use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::pool::Shared;

/// Shortest sleep between passes, so a crowd of nearly simultaneous deadlines costs one
/// pass rather than one wake-up each.
const MIN_TICK: Duration = Duration::from_millis(50);
/// Longest sleep: bounds how late a connection whose deadline was shortened (by a
/// `Keep-Alive` hint) after the reaper went to sleep is closed.
const MAX_TICK: Duration = Duration::from_secs(1);

pub(crate) fn spawn(pool: Weak<Shared>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        // Outside a runtime nothing can be idle for long; checkout still expires lazily.
        if let Some(shared) = pool.upgrade() {
            shared.reap(Instant::now());
        }
        return;
    };
    handle.spawn(async move {
        loop {
            let next = {
                let Some(shared) = pool.upgrade() else {
                    return;
                };
                match shared.reap(Instant::now()) {
                    Some(next) => next,
                    None => return,
                }
            };
            let now = Instant::now();
            let wait = next
                .saturating_duration_since(now)
                .clamp(MIN_TICK, MAX_TICK);
            tokio::time::sleep(wait).await;
        }
    });
}
