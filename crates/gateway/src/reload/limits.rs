//! `[limits] max_connections` on reload: the one semaphore all listeners take a permit from
//! per connection, grown or shrunk to the new cap.
//!
//! Growing adds permits at once. Shrinking cannot take back permits held by open
//! connections (they are not cut), so a task acquires the difference as connections end
//! and forgets it: the cap reaches the new value as soon as enough connections have closed,
//! and new connections wait in the kernel's backlog meanwhile, as at any cap. The total
//! stays exact across several reloads: every change is an add or a forget of its own size.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// How the permits change from `old` to `new` (both at least 1, as at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Unchanged.
    Keep,
    /// Add this many permits.
    Grow(usize),
    /// Take this many permits out as they are released.
    Shrink(usize),
}

/// The change from `old` to `new` (pure).
pub fn plan(old: usize, new: usize) -> Resize {
    let (old, new) = (old.max(1), new.max(1));
    match new.cmp(&old) {
        std::cmp::Ordering::Equal => Resize::Keep,
        std::cmp::Ordering::Greater => Resize::Grow(new - old),
        std::cmp::Ordering::Less => Resize::Shrink(old - new),
    }
}

/// Applies [`plan`] to `permits`. Shrinking spawns a task on the current runtime.
pub fn resize(permits: &Arc<Semaphore>, old: usize, new: usize) {
    match plan(old, new) {
        Resize::Keep => {}
        Resize::Grow(n) => permits.add_permits(n),
        Resize::Shrink(n) => {
            let taken = permits.forget_permits(n);
            let rest = u32::try_from(n - taken).unwrap_or(u32::MAX);
            if rest > 0 {
                let permits = Arc::clone(permits);
                tokio::spawn(async move {
                    if let Ok(p) = permits.acquire_many_owned(rest).await {
                        p.forget();
                    }
                });
            }
        }
    }
    if old != new {
        tracing::info!(from = old, to = new, "max_connections changed");
    }
}

#[cfg(test)]
mod tests;
