//! One host's share of the pool: its idle HTTP/1.1 connections (newest first), its HTTP/2
//! connections with their streams in flight, the connection count against the per-host
//! limit, and the first-in first-out queue of requests waiting for any of those.
//!
//! Everything here runs under the pool's lock and never blocks or awaits. Connections that
//! must close are pushed onto a `Doomed` list and dropped by the caller after the lock is
//! released, because dropping a connection may run code that takes the lock again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::client::conn::{http1, http2};
use tokio::sync::oneshot;

use crate::body::RequestBody;
use crate::config::Config;
use crate::lease::{ConnectPermit, Grant, Lease};
use crate::stats::{CloseReason, HostStats};

/// An HTTP/1.1 connection owned by the pool (idle) or by a lease (busy).
pub(crate) struct H1Conn {
    pub(crate) id: u64,
    pub(crate) tx: http1::SendRequest<RequestBody>,
    pub(crate) opened: Instant,
    pub(crate) requests: u64,
    /// Idle life from the server's `Keep-Alive: timeout=` hint, already minus the margin.
    pub(crate) idle_hint: Option<Duration>,
    /// The worker thread its connection task runs on ([`crate::rt::worker_id`]).
    pub(crate) home: u32,
}

/// How many of the newest idle connections are looked at for one opened on the caller's
/// worker thread before taking the newest whatever its thread.
const AFFINITY_SCAN: usize = 8;

/// An HTTP/2 connection: shared by every lease that holds one of its streams.
pub(crate) struct H2Conn {
    pub(crate) id: u64,
    pub(crate) tx: http2::SendRequest<RequestBody>,
    pub(crate) opened: Instant,
    pub(crate) requests: u64,
    pub(crate) in_flight: usize,
    pub(crate) max_streams: Arc<AtomicUsize>,
    /// False once it must take no new streams (closed, GOAWAY, lifetime, request limit).
    pub(crate) usable: bool,
}

pub(crate) struct Idle {
    pub(crate) conn: H1Conn,
    pub(crate) deadline: Instant,
}

/// What the host has learnt about the upstream's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Unknown,
    H1,
    H2,
}

pub(crate) struct Waiter {
    pub(crate) tx: oneshot::Sender<Grant>,
    pub(crate) fresh_only: bool,
}

/// Closed connections waiting to be dropped outside the lock.
#[derive(Default)]
pub(crate) struct Doomed {
    pub(crate) h1: Vec<H1Conn>,
    pub(crate) h2: Vec<H2Conn>,
}

pub(crate) struct Host {
    pub(crate) idle: Vec<Idle>,
    pub(crate) h2: Vec<H2Conn>,
    /// Established connections: idle + busy HTTP/1.1 + HTTP/2.
    pub(crate) open: usize,
    pub(crate) connecting: usize,
    /// Connections being opened that are expected to speak HTTP/2.
    pub(crate) h2_connecting: usize,
    pub(crate) busy_h1: usize,
    pub(crate) proto: Proto,
    pub(crate) waiters: VecDeque<Waiter>,
    pub(crate) stats: HostStats,
}

impl Host {
    pub(crate) fn new(proto: Proto) -> Self {
        Self {
            idle: Vec::new(),
            h2: Vec::new(),
            open: 0,
            connecting: 0,
            h2_connecting: 0,
            busy_h1: 0,
            proto,
            waiters: VecDeque::new(),
            stats: HostStats::default(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.open == 0 && self.connecting == 0 && self.waiters.is_empty()
    }

    pub(crate) fn close(&mut self, reason: CloseReason) {
        self.open = self.open.saturating_sub(1);
        self.stats.closed.count(reason);
    }

    /// Why a connection opened at `opened` that carried `requests` may not be used again.
    pub(crate) fn retire_reason(
        config: &Config,
        opened: Instant,
        requests: u64,
        now: Instant,
    ) -> Option<CloseReason> {
        if let Some(max) = config.max_requests_per_connection {
            if requests >= max {
                return Some(CloseReason::RequestsLimit);
            }
        }
        if let Some(life) = config.max_connection_lifetime {
            if now.saturating_duration_since(opened) >= life {
                return Some(CloseReason::Lifetime);
            }
        }
        None
    }

    /// Pops the newest usable idle connection, closing the dead and expired ones on the way.
    /// One opened on the caller's worker thread, among the newest few, goes first.
    pub(crate) fn pop_idle(
        &mut self,
        config: &Config,
        now: Instant,
        doomed: &mut Doomed,
    ) -> Option<H1Conn> {
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
        idle: Idle,
        doomed: &mut Doomed,
    ) -> Option<H1Conn> {
        let reason = if now >= idle.deadline {
            Some(CloseReason::IdleTimeout)
        } else if idle.conn.tx.is_closed() {
            // Not `!is_ready()`: a connection returned the moment its body ended may
            // not be ready yet without being dead (the send waits for it).
            Some(CloseReason::ServerClose)
        } else {
            Self::retire_reason(config, idle.conn.opened, idle.conn.requests, now)
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
    pub(crate) fn take_stream(
        &mut self,
        config: &Config,
        now: Instant,
    ) -> Option<(u64, http2::SendRequest<RequestBody>, bool)> {
        for conn in self.h2.iter_mut().filter(|c| c.usable) {
            if conn.tx.is_closed() || !conn.tx.is_ready() {
                conn.usable = false;
                continue;
            }
            if Self::retire_reason(config, conn.opened, conn.requests, now).is_some() {
                conn.usable = false;
                continue;
            }
            let limit = conn.max_streams.load(Ordering::Relaxed).max(1);
            if conn.in_flight < limit {
                conn.in_flight += 1;
                let reused = conn.requests > 0;
                conn.requests += 1;
                return Some((conn.id, conn.tx.clone(), reused));
            }
        }
        None
    }

    /// Removes HTTP/2 connections that take no new streams and have none in flight.
    pub(crate) fn sweep_h2(&mut self, doomed: &mut Doomed) {
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

    /// Whether a request may open a new connection now.
    ///
    /// With HTTP/2 expected, a connection being opened will carry many streams, so further
    /// requests wait for it instead of each opening their own (a thundering herd of
    /// handshakes to a host that wants one connection).
    pub(crate) fn may_connect(&self, config: &Config, expect_h2: bool, queued: usize) -> bool {
        let under_limit = config
            .max_connections_per_host
            .is_none_or(|max| self.open + self.connecting < max);
        let h2_pending_room = self.h2_connecting * config.h2_default_max_streams;
        under_limit && !(expect_h2 && self.h2_connecting > 0 && queued < h2_pending_room)
    }

    /// Hands free resources to waiting requests, oldest first. A waiter that only accepts
    /// a fresh connection is skipped (not starved: it keeps its place) while only idle
    /// connections or streams are free.
    pub(crate) fn dispatch(
        &mut self,
        shared: &crate::pool::SharedRef,
        key: &crate::key::Key,
        now: Instant,
        doomed: &mut Doomed,
    ) {
        let config = &shared.config;
        let expect_h2 = shared.expect_h2(key, self.proto);
        let mut i = 0;
        while i < self.waiters.len() {
            if self.waiters[i].tx.is_closed() {
                self.waiters.remove(i);
                continue;
            }
            let fresh_only = self.waiters[i].fresh_only;
            let mut grant = None;
            if !fresh_only {
                if let Some((id, tx, reused)) = self.take_stream(config, now) {
                    self.stats.requests += 1;
                    self.stats.reused += u64::from(reused);
                    grant = Some(Grant::Lease(Lease::h2(shared, key, id, tx, reused)));
                } else if let Some(conn) = self.pop_idle(config, now, doomed) {
                    grant = Some(Grant::Lease(self.lease_idle(shared, key, conn)));
                }
            }
            if grant.is_none() {
                let queued_after = self.waiters.len() - i - 1;
                if self.may_connect(config, expect_h2 && !fresh_only, queued_after) {
                    grant = Some(Grant::Connect(self.permit(shared, key, expect_h2)));
                }
            }
            let Some(grant) = grant else {
                i += 1;
                continue;
            };
            let Some(waiter) = self.waiters.remove(i) else {
                break;
            };
            if let Err(grant) = waiter.tx.send(grant) {
                // The waiter gave up between our check and the send: take it back.
                self.undo(grant, now + config.idle_timeout);
            }
        }
        self.sweep_h2(doomed);
    }

    pub(crate) fn lease_idle(
        &mut self,
        shared: &crate::pool::SharedRef,
        key: &crate::key::Key,
        mut conn: H1Conn,
    ) -> Lease {
        self.busy_h1 += 1;
        conn.requests += 1;
        self.stats.requests += 1;
        self.stats.reused += 1;
        Lease::h1(shared, key, conn, true)
    }

    pub(crate) fn permit(
        &mut self,
        shared: &crate::pool::SharedRef,
        key: &crate::key::Key,
        expect_h2: bool,
    ) -> ConnectPermit {
        self.connecting += 1;
        if expect_h2 {
            self.h2_connecting += 1;
        }
        ConnectPermit::new(shared, key, expect_h2)
    }

    /// Puts back a grant that no waiter took, without dropping anything.
    pub(crate) fn undo(&mut self, grant: Grant, idle_deadline: Instant) {
        match grant {
            Grant::Lease(lease) => match lease.defuse() {
                crate::lease::Defused::H1(mut conn) => {
                    self.busy_h1 = self.busy_h1.saturating_sub(1);
                    conn.requests = conn.requests.saturating_sub(1);
                    self.stats.requests = self.stats.requests.saturating_sub(1);
                    self.stats.reused = self.stats.reused.saturating_sub(1);
                    self.idle.push(Idle {
                        conn,
                        deadline: idle_deadline,
                    });
                }
                crate::lease::Defused::H2(id) => {
                    if let Some(c) = self.h2.iter_mut().find(|c| c.id == id) {
                        c.in_flight = c.in_flight.saturating_sub(1);
                    }
                    self.stats.requests = self.stats.requests.saturating_sub(1);
                }
                crate::lease::Defused::None => {}
            },
            Grant::Connect(permit) => {
                let expect_h2 = permit.defuse();
                self.connecting = self.connecting.saturating_sub(1);
                if expect_h2 {
                    self.h2_connecting = self.h2_connecting.saturating_sub(1);
                }
            }
        }
    }

    /// A snapshot of the counters with the gauges filled in.
    pub(crate) fn snapshot(&self) -> HostStats {
        let mut s = self.stats;
        s.idle = self.idle.len();
        s.active = self.busy_h1 + self.h2.len();
        s.connecting = self.connecting;
        s.waiting = self.waiters.iter().filter(|w| !w.tx.is_closed()).count();
        s.streams = self.h2.iter().map(|c| c.in_flight).sum();
        s
    }
}
