//! One host's share of the pool as a state machine: its idle HTTP/1.1 connections (newest
//! first), its HTTP/2 connections with their streams in flight, the connection count against
//! the per-host limit, and the first-in first-out queue of requests waiting for any of those.
//!
//! A leaf: generic over the connection senders (`H1`, `H2`) and the waiting requests (`W`),
//! so the unit tests drive it with fakes; it knows nothing of leases or the shared pool.
//! Every method runs under the pool's lock and never blocks or awaits. It returns what to
//! hand out ([`Out`]); connections that must close go onto a [`Doomed`] list that the caller
//! drops after releasing the lock, because dropping one may run code that takes it again.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, HttpVersionPolicy};
use crate::stats::{CloseReason, HostStats};

/// The sending half of a connection, as far as the bookkeeping needs it. Implemented by
/// hyper's senders, and by fakes in the tests.
pub(crate) trait Sender {
    /// The connection task ended: it will never carry another request.
    fn is_closed(&self) -> bool;
    /// It takes a new request now (HTTP/2: not going away).
    fn is_ready(&self) -> bool;
}

/// A request waiting in the queue, as far as the bookkeeping needs it.
pub(crate) trait Waiting {
    /// The request gave up (timed out or cancelled): skip it.
    fn is_gone(&self) -> bool;
}

/// An HTTP/1.1 connection owned by the pool (idle) or by a lease (busy).
pub(crate) struct H1Conn<T> {
    id: u64,
    tx: T,
    opened: Instant,
    requests: u64,
    /// Idle life from the server's `Keep-Alive: timeout=` hint, already minus the margin.
    idle_hint: Option<Duration>,
    /// The worker thread its connection task runs on ([`crate::rt::worker_id`]).
    home: u32,
}

impl<T> H1Conn<T> {
    pub(crate) fn tx_mut(&mut self) -> &mut T {
        &mut self.tx
    }

    /// Shortens this connection's idle life to the server's hint (already minus the margin).
    pub(crate) fn set_idle_hint(&mut self, life: Duration) {
        self.idle_hint = Some(life);
    }
}

/// How many of the newest idle connections are looked at for one opened on the caller's
/// worker thread before taking the newest whatever its thread.
const AFFINITY_SCAN: usize = 8;

/// An HTTP/2 connection: shared by every lease that holds one of its streams.
struct H2Conn<T> {
    id: u64,
    tx: T,
    opened: Instant,
    requests: u64,
    in_flight: usize,
    max_streams: Arc<AtomicUsize>,
    /// False once it must take no new streams (closed, GOAWAY, lifetime, request limit).
    usable: bool,
}

struct Idle<T> {
    conn: H1Conn<T>,
    deadline: Instant,
}

struct Waiter<W> {
    w: W,
    fresh_only: bool,
}

/// What the host has learnt about the upstream's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Unknown,
    H1,
    H2,
}

/// Whether a new connection will (probably) speak HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExpectH2 {
    Always,
    Never,
    /// Over TLS with ALPN: until the first handshake tells, assume HTTP/2 so a burst of
    /// first requests waits for one connection rather than opening many.
    UntilH1,
}

impl ExpectH2 {
    pub(crate) fn new(policy: HttpVersionPolicy, https: bool) -> Self {
        match policy {
            HttpVersionPolicy::Http2Only => Self::Always,
            HttpVersionPolicy::Http1Only => Self::Never,
            HttpVersionPolicy::Auto if https => Self::UntilH1,
            HttpVersionPolicy::Auto => Self::Never,
        }
    }
}

/// What the host hands to a request.
pub(crate) enum Out<H1, H2> {
    /// An HTTP/1.1 connection, now busy.
    H1 { conn: H1Conn<H1>, reused: bool },
    /// One stream on HTTP/2 connection `id`.
    H2 { id: u64, tx: H2, reused: bool },
    /// The right to open a connection, counted against the limit.
    Connect { expect_h2: bool },
}

/// A connection just opened, carrying the request that opened it.
pub(crate) enum Opened<H1, H2> {
    H1(H1Conn<H1>),
    H2 { id: u64, tx: H2 },
}

/// A connection just opened under a connect permit.
pub(crate) enum Fresh<H1, H2> {
    H1(H1),
    H2 {
        tx: H2,
        max_streams: Arc<AtomicUsize>,
    },
}

/// Closed connections waiting to be dropped outside the lock.
pub(crate) struct Doomed<H1, H2> {
    h1: Vec<H1Conn<H1>>,
    h2: Vec<H2Conn<H2>>,
}

impl<H1, H2> Default for Doomed<H1, H2> {
    fn default() -> Self {
        Self {
            h1: Vec::new(),
            h2: Vec::new(),
        }
    }
}

impl<H1, H2> Doomed<H1, H2> {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.h1.len() + self.h2.len()
    }
}

pub(crate) struct Host<H1, H2, W> {
    idle: Vec<Idle<H1>>,
    h2: Vec<H2Conn<H2>>,
    /// Established connections: idle + busy HTTP/1.1 + HTTP/2.
    open: usize,
    connecting: usize,
    /// Connections being opened that are expected to speak HTTP/2.
    h2_connecting: usize,
    busy_h1: usize,
    proto: Proto,
    expect: ExpectH2,
    /// Connections opened before this instant are not reused ([`Host::retire_all`]).
    retire_before: Option<Instant>,
    waiters: VecDeque<Waiter<W>>,
    /// Requests holding a connection, a stream or a connect permit; shared lock-free with
    /// whoever asked for it ([`Host::in_flight_gauge`]). Created on the first ask: until
    /// somebody reads it, requests skip the two atomic updates (and the `Arc` clone) that
    /// keeping it costs.
    in_flight: Option<Arc<AtomicUsize>>,
    stats: HostStats,
}

mod close;
mod flow;
#[cfg(test)]
mod tests;

impl<H1: Sender, H2: Sender + Clone, W: Waiting> Host<H1, H2, W> {
    pub(crate) fn new(expect: ExpectH2) -> Self {
        let proto = if expect == ExpectH2::Never {
            Proto::H1
        } else {
            Proto::Unknown
        };
        Self {
            idle: Vec::new(),
            h2: Vec::new(),
            open: 0,
            connecting: 0,
            h2_connecting: 0,
            busy_h1: 0,
            proto,
            expect,
            retire_before: None,
            waiters: VecDeque::new(),
            in_flight: None,
            stats: HostStats::default(),
        }
    }

    /// Nothing open, opening, waiting, and nobody holds the in-flight counter: the host
    /// may be forgotten.
    pub(crate) fn is_empty(&self) -> bool {
        self.open == 0
            && self.connecting == 0
            && self.waiters.is_empty()
            && self
                .in_flight
                .as_ref()
                .is_none_or(|c| Arc::strong_count(c) == 1)
    }

    /// Nothing open or opening (waiting requests may remain).
    pub(crate) fn is_quiet(&self) -> bool {
        self.open == 0 && self.connecting == 0
    }

    /// The in-flight counter, if anybody asked for it.
    pub(crate) fn in_flight_handle(&self) -> Option<&Arc<AtomicUsize>> {
        self.in_flight.as_ref()
    }

    /// The in-flight counter, created on the first call. Requests already holding a
    /// connection then are not in it (they never took a place), so it starts at zero and
    /// only counts requests checked out after it was created.
    pub(crate) fn in_flight_gauge(&mut self) -> &Arc<AtomicUsize> {
        self.in_flight
            .get_or_insert_with(|| Arc::new(AtomicUsize::new(0)))
    }

    pub(crate) fn stats_mut(&mut self) -> &mut HostStats {
        &mut self.stats
    }

    fn expect_h2(&self) -> bool {
        match self.expect {
            ExpectH2::Always => true,
            ExpectH2::Never => false,
            ExpectH2::UntilH1 => self.proto != Proto::H1,
        }
    }

    fn close(&mut self, reason: CloseReason) {
        self.open = self.open.saturating_sub(1);
        self.stats.closed.count(reason);
    }

    /// Why a connection opened at `opened` that carried `requests` may not be used again.
    fn retire_reason(
        &self,
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
        if self.retire_before.is_some_and(|t| opened < t) {
            return Some(CloseReason::Closed);
        }
        None
    }

    /// A snapshot of the counters with the gauges filled in.
    pub(crate) fn snapshot(&self) -> HostStats {
        let mut s = self.stats;
        s.idle = self.idle.len();
        s.active = self.busy_h1 + self.h2.len();
        s.connecting = self.connecting;
        s.waiting = self.waiters.iter().filter(|w| !w.w.is_gone()).count();
        s.streams = self.h2.iter().map(|c| c.in_flight).sum();
        s
    }
}
