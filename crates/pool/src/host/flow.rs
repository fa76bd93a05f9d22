//! The host's transitions: checkout, the queue, a connection opened, returned, closed,
//! expired. Each keeps the counts (`open`, `connecting`, `busy_h1`, streams) in step.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::AFFINITY_SCAN;
use super::{
    Doomed, Fresh, H1Conn, H2Conn, Host, Idle, Opened, Out, Proto, Sender, Waiter, Waiting,
};
use crate::config::Config;
use crate::stats::CloseReason;

impl<H1: Sender, H2: Sender + Clone, W: Waiting> Host<H1, H2, W> {
    /// What a new request gets without waiting, or `None`: then it must
    /// [`enqueue`](Host::enqueue). With `fresh_only`, only a new connection will do.
    pub(crate) fn checkout(
        &mut self,
        config: &Config,
        fresh_only: bool,
        now: Instant,
        doomed: &mut Doomed<H1, H2>,
    ) -> Option<Out<H1, H2>> {
        // Requests already waiting go first: no overtaking in the queue.
        if !self.waiters.iter().all(|w| w.w.is_gone()) {
            return None;
        }
        self.take(config, fresh_only, 0, now, doomed)
    }

    /// The one decision for a request at the head of the line (`queued_after` behind it).
    fn take(
        &mut self,
        config: &Config,
        fresh_only: bool,
        queued_after: usize,
        now: Instant,
        doomed: &mut Doomed<H1, H2>,
    ) -> Option<Out<H1, H2>> {
        if !fresh_only {
            if let Some(out) = self.take_stream(config, now) {
                return Some(out);
            }
            if let Some(mut conn) = self.pop_idle(config, now, doomed) {
                self.busy_h1 += 1;
                conn.requests += 1;
                self.stats.requests += 1;
                self.stats.reused += 1;
                return Some(Out::H1 { conn, reused: true });
            }
        }
        let expect_h2 = self.expect_h2();
        if self.may_connect(config, expect_h2 && !fresh_only, queued_after) {
            self.connecting += 1;
            self.h2_connecting += usize::from(expect_h2);
            return Some(Out::Connect { expect_h2 });
        }
        None
    }

    /// Queues a request that [`checkout`](Host::checkout) could not serve, then hands out
    /// whatever is free (the fast path skipped it because others were queued).
    pub(crate) fn enqueue(
        &mut self,
        w: W,
        fresh_only: bool,
        config: &Config,
        now: Instant,
        doomed: &mut Doomed<H1, H2>,
        deliver: impl FnMut(W, Out<H1, H2>) -> Result<(), Option<Out<H1, H2>>>,
    ) {
        self.waiters.push_back(Waiter { w, fresh_only });
        self.dispatch(config, now, doomed, deliver);
    }

    /// Hands free resources to waiting requests, oldest first, through `deliver`; what it
    /// refuses (the request just gave up) is taken back. A waiter that only accepts a fresh
    /// connection is skipped (not starved: it keeps its place) while only idle connections
    /// or streams are free.
    pub(crate) fn dispatch(
        &mut self,
        config: &Config,
        now: Instant,
        doomed: &mut Doomed<H1, H2>,
        mut deliver: impl FnMut(W, Out<H1, H2>) -> Result<(), Option<Out<H1, H2>>>,
    ) {
        let mut i = 0;
        while i < self.waiters.len() {
            if self.waiters[i].w.is_gone() {
                self.waiters.remove(i);
                continue;
            }
            let fresh_only = self.waiters[i].fresh_only;
            let queued_after = self.waiters.len() - i - 1;
            let Some(out) = self.take(config, fresh_only, queued_after, now, doomed) else {
                i += 1;
                continue;
            };
            let Some(waiter) = self.waiters.remove(i) else {
                break;
            };
            if let Err(Some(out)) = deliver(waiter.w, out) {
                self.undo(out, now + config.idle_timeout);
            }
        }
        self.sweep_h2(doomed);
    }

    /// Whether a request may open a new connection now.
    ///
    /// With HTTP/2 expected, a connection being opened will carry many streams, so further
    /// requests wait for it instead of each opening their own (a thundering herd of
    /// handshakes to a host that wants one connection).
    fn may_connect(&self, config: &Config, expect_h2: bool, queued: usize) -> bool {
        let under_limit = config
            .max_connections_per_host
            .is_none_or(|max| self.open + self.connecting < max);
        let h2_pending_room = self.h2_connecting * config.h2_default_max_streams;
        under_limit && !(expect_h2 && self.h2_connecting > 0 && queued < h2_pending_room)
    }

    /// Pops the newest usable idle connection, closing the dead and expired ones on the way.
    /// One opened on the caller's worker thread, among the newest few, goes first.
    fn pop_idle(
        &mut self,
        config: &Config,
        now: Instant,
        doomed: &mut Doomed<H1, H2>,
    ) -> Option<H1Conn<H1>> {
        let me = crate::rt::worker_id();
        if me != 0 {
            let len = self.idle.len();
            let local = self
                .idle
                .iter()
                .rev()
                .take(AFFINITY_SCAN)
                .position(|i| i.conn.home == me);
            if let Some(back) = local {
                let idle = self.idle.remove(len - 1 - back);
                if let Some(conn) = self.usable(config, now, idle, doomed) {
                    return Some(conn);
                }
            }
        }
        while let Some(idle) = self.idle.pop() {
            if let Some(conn) = self.usable(config, now, idle, doomed) {
                return Some(conn);
            }
        }
        None
    }

    /// The connection if it may carry a request; otherwise it is counted closed and doomed.
    fn usable(
        &mut self,
        config: &Config,
        now: Instant,
        idle: Idle<H1>,
        doomed: &mut Doomed<H1, H2>,
    ) -> Option<H1Conn<H1>> {
        let reason = if now >= idle.deadline {
            Some(CloseReason::IdleTimeout)
        } else if idle.conn.tx.is_closed() {
            // Not `!is_ready()`: a connection returned the moment its body ended may
            // not be ready yet without being dead (the send waits for it).
            Some(CloseReason::ServerClose)
        } else {
            self.retire_reason(config, idle.conn.opened, idle.conn.requests, now)
        };
        match reason {
            Some(reason) => {
                self.close(reason);
                doomed.h1.push(idle.conn);
                None
            }
            None => Some(idle.conn),
        }
    }

    /// Reserves a stream on an HTTP/2 connection with room, if any.
    fn take_stream(&mut self, config: &Config, now: Instant) -> Option<Out<H1, H2>> {
        for i in 0..self.h2.len() {
            let c = &self.h2[i];
            if !c.usable {
                continue;
            }
            if c.tx.is_closed()
                || !c.tx.is_ready()
                || self
                    .retire_reason(config, c.opened, c.requests, now)
                    .is_some()
            {
                self.h2[i].usable = false;
                continue;
            }
            let conn = &mut self.h2[i];
            let limit = conn.max_streams.load(Ordering::Relaxed).max(1);
            if conn.in_flight < limit {
                conn.in_flight += 1;
                let reused = conn.requests > 0;
                conn.requests += 1;
                self.stats.requests += 1;
                self.stats.reused += u64::from(reused);
                let (id, tx) = (conn.id, conn.tx.clone());
                return Some(Out::H2 { id, tx, reused });
            }
        }
        None
    }

    /// Removes HTTP/2 connections that take no new streams and have none in flight.
    pub(super) fn sweep_h2(&mut self, doomed: &mut Doomed<H1, H2>) {
        let mut i = 0;
        while i < self.h2.len() {
            let c = &self.h2[i];
            if !c.usable && c.in_flight == 0 {
                let conn = self.h2.swap_remove(i);
                self.close(CloseReason::ServerClose);
                doomed.h2.push(conn);
            } else {
                i += 1;
            }
        }
    }

    /// Puts back what no waiter took, without dropping anything.
    fn undo(&mut self, out: Out<H1, H2>, idle_deadline: Instant) {
        match out {
            Out::H1 { mut conn, reused } => {
                self.busy_h1 = self.busy_h1.saturating_sub(1);
                conn.requests = conn.requests.saturating_sub(1);
                self.stats.requests = self.stats.requests.saturating_sub(1);
                self.stats.reused = self.stats.reused.saturating_sub(u64::from(reused));
                self.idle.push(Idle {
                    conn,
                    deadline: idle_deadline,
                });
            }
            Out::H2 { id, reused, .. } => {
                if let Some(c) = self.h2.iter_mut().find(|c| c.id == id) {
                    c.in_flight = c.in_flight.saturating_sub(1);
                    c.requests = c.requests.saturating_sub(1);
                }
                self.stats.requests = self.stats.requests.saturating_sub(1);
                self.stats.reused = self.stats.reused.saturating_sub(u64::from(reused));
            }
            Out::Connect { expect_h2 } => self.connect_ended(expect_h2),
        }
    }

    fn connect_ended(&mut self, expect_h2: bool) {
        self.connecting = self.connecting.saturating_sub(1);
        if expect_h2 {
            self.h2_connecting = self.h2_connecting.saturating_sub(1);
        }
    }

    /// A connection attempt ended without a connection; `counted` when its error was
    /// already counted elsewhere.
    pub(crate) fn connect_failed(&mut self, expect_h2: bool, counted: bool) {
        self.connect_ended(expect_h2);
        if !counted {
            self.stats.connect_errors += 1;
        }
    }

    /// A connect permit produced connection `id`: it carries the permit holder's request.
    pub(crate) fn connected(
        &mut self,
        id: u64,
        fresh: Fresh<H1, H2>,
        expect_h2: bool,
        now: Instant,
        home: u32,
    ) -> Opened<H1, H2> {
        self.connect_ended(expect_h2);
        self.open += 1;
        self.stats.connections_opened += 1;
        self.stats.requests += 1;
        match fresh {
            Fresh::H1(tx) => {
                self.proto = Proto::H1;
                self.busy_h1 += 1;
                let conn = H1Conn {
                    id,
                    tx,
                    opened: now,
                    requests: 1,
                    idle_hint: None,
                    home,
                };
                Opened::H1(conn)
            }
            Fresh::H2 { tx, max_streams } => {
                self.proto = Proto::H2;
                self.h2.push(H2Conn {
                    id,
                    tx: tx.clone(),
                    opened: now,
                    requests: 1,
                    in_flight: 1,
                    max_streams,
                    usable: self.retire_before.is_none_or(|t| now >= t),
                });
                Opened::H2 { id, tx }
            }
        }
    }

    /// An HTTP/1.1 connection finished a request cleanly: keep it for the next one, unless
    /// it may not be reused. Returns whether it was kept (then the caller dispatches and
    /// calls [`trim_idle`](Host::trim_idle)).
    pub(crate) fn put_idle(
        &mut self,
        conn: H1Conn<H1>,
        config: &Config,
        now: Instant,
        doomed: &mut Doomed<H1, H2>,
    ) -> bool {
        self.busy_h1 = self.busy_h1.saturating_sub(1);
        let reason = if conn.tx.is_closed() {
            Some(CloseReason::ServerClose)
        } else {
            self.retire_reason(config, conn.opened, conn.requests, now)
        };
        if let Some(reason) = reason {
            self.close(reason);
            doomed.h1.push(conn);
            return false;
        }
        let life = match conn.idle_hint {
            Some(hint) => hint.min(config.idle_timeout),
            None => config.idle_timeout,
        };
        self.idle.push(Idle {
            conn,
            deadline: now + life,
        });
        true
    }

    /// Enforces the idle cap, closing the oldest (least recently used) connections first.
    /// Returns whether anything is still idle.
    pub(crate) fn trim_idle(&mut self, config: &Config, doomed: &mut Doomed<H1, H2>) -> bool {
        while self.idle.len() > config.max_idle_per_host {
            let oldest = self.idle.remove(0);
            self.close(CloseReason::MaxIdle);
            doomed.h1.push(oldest.conn);
        }
        !self.idle.is_empty()
    }

    /// A busy HTTP/1.1 connection will not be reused.
    pub(crate) fn discard_h1(
        &mut self,
        conn: H1Conn<H1>,
        reason: CloseReason,
        doomed: &mut Doomed<H1, H2>,
    ) {
        self.busy_h1 = self.busy_h1.saturating_sub(1);
        self.close(reason);
        doomed.h1.push(conn);
    }

    /// One stream on HTTP/2 connection `id` ended.
    pub(crate) fn release_stream(&mut self, id: u64) {
        let retire_before = self.retire_before;
        if let Some(c) = self.h2.iter_mut().find(|c| c.id == id) {
            c.in_flight = c.in_flight.saturating_sub(1);
            // A drained host's connections go as soon as their last stream ends.
            if c.tx.is_closed() || retire_before.is_some_and(|t| c.opened < t) {
                c.usable = false;
            }
        }
    }

    /// The connection task of connection `id` ended.
    pub(crate) fn conn_closed(&mut self, id: u64, doomed: &mut Doomed<H1, H2>) {
        if let Some(pos) = self.idle.iter().position(|i| i.conn.id == id) {
            let idle = self.idle.remove(pos);
            self.close(CloseReason::ServerClose);
            doomed.h1.push(idle.conn);
        }
        if let Some(c) = self.h2.iter_mut().find(|c| c.id == id) {
            c.usable = false;
        }
    }
}
