//! The host's deliberate closes: expiry (the reaper), closing idle connections, draining
//! every connection, and refusing the queue at shutdown.

use std::time::Instant;

use super::{Doomed, Host, Sender, Waiting};
use crate::stats::CloseReason;

impl<H1: Sender, H2: Sender + Clone, W: Waiting> Host<H1, H2, W> {
    /// Closes expired and dead idle connections; returns the earliest deadline left.
    pub(crate) fn reap(&mut self, now: Instant, doomed: &mut Doomed<H1, H2>) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut i = 0;
        while i < self.idle.len() {
            let reason = if self.idle[i].deadline <= now {
                Some(CloseReason::IdleTimeout)
            } else if self.idle[i].conn.tx.is_closed() {
                Some(CloseReason::ServerClose)
            } else {
                None
            };
            match reason {
                Some(reason) => {
                    let idle = self.idle.remove(i);
                    self.close(reason);
                    doomed.h1.push(idle.conn);
                }
                None => {
                    let d = self.idle[i].deadline;
                    next = Some(next.map_or(d, |n| n.min(d)));
                    i += 1;
                }
            }
        }
        next
    }

    /// Closes every idle connection now.
    pub(crate) fn close_idle(&mut self, doomed: &mut Doomed<H1, H2>) {
        for idle in self.idle.drain(..) {
            self.open = self.open.saturating_sub(1);
            self.stats.closed.count(CloseReason::Closed);
            doomed.h1.push(idle.conn);
        }
    }

    /// Drains the host: idle connections close now, busy ones close when their request
    /// ends, HTTP/2 connections take no new streams; connections opened later are normal.
    pub(crate) fn retire_all(&mut self, now: Instant, doomed: &mut Doomed<H1, H2>) {
        self.retire_before = Some(self.retire_before.map_or(now, |t| t.max(now)));
        self.close_idle(doomed);
        for c in &mut self.h2 {
            c.usable = false;
        }
        self.sweep_h2(doomed);
    }

    /// Refuses every waiting request (the pool shuts down): they are dropped, so their
    /// receivers see the pool closed.
    pub(crate) fn clear_waiters(&mut self) -> Vec<W> {
        self.waiters.drain(..).map(|w| w.w).collect()
    }
}
