//! Counters, per host and in total, and the snapshot the client hands out.
//!
//! Counters live inside the pool's per-host state and are bumped under the lock the pool
//! takes anyway, so counting costs no extra synchronisation; [`Client::stats`](crate::Client::stats)
//! copies them out under one short lock, never across an await.

/// Why connections were closed. Each connection closed by the pool is counted once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClosedStats {
    /// Idle longer than the idle timeout or the server's `Keep-Alive: timeout` hint.
    pub idle_timeout: u64,
    /// Returned while `max_idle_per_host` idle connections were already kept.
    pub max_idle: u64,
    /// The server closed it (`Connection: close`, HTTP/1.0, FIN while idle, GOAWAY).
    pub server_close: u64,
    /// A request on it failed or was cancelled mid-flight.
    pub error: u64,
    /// A response body was dropped with more than `drain_limit` bytes left unread.
    pub unread_body: u64,
    /// Older than `max_connection_lifetime`.
    pub lifetime: u64,
    /// Carried `max_requests_per_connection` requests.
    pub requests_limit: u64,
    /// Upgraded (WebSocket and the like): handed to the caller, out of the pool.
    pub upgraded: u64,
    /// Closed by the client: [`Client::close_idle`](crate::Client::close_idle),
    /// [`Client::close_key`](crate::Client::close_key) or
    /// [`Client::shutdown`](crate::Client::shutdown).
    pub closed: u64,
}

impl ClosedStats {
    /// Total of every reason.
    pub fn total(&self) -> u64 {
        self.idle_timeout
            + self.max_idle
            + self.server_close
            + self.error
            + self.unread_body
            + self.lifetime
            + self.requests_limit
            + self.upgraded
            + self.closed
    }

    fn add(&mut self, o: &ClosedStats) {
        self.idle_timeout += o.idle_timeout;
        self.max_idle += o.max_idle;
        self.server_close += o.server_close;
        self.error += o.error;
        self.unread_body += o.unread_body;
        self.lifetime += o.lifetime;
        self.requests_limit += o.requests_limit;
        self.upgraded += o.upgraded;
        self.closed += o.closed;
    }
}

/// Why requests were sent again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryStats {
    /// The request never left: the pooled connection was found closed at send time.
    pub not_written: u64,
    /// A reused connection closed after the request was written, before any response
    /// byte; an idempotent request was replayed on a fresh connection.
    pub stale_connection: u64,
    /// HTTP/2 REFUSED_STREAM or GOAWAY for an unprocessed stream.
    pub refused_stream: u64,
}

impl RetryStats {
    /// Total of every reason.
    pub fn total(&self) -> u64 {
        self.not_written + self.stale_connection + self.refused_stream
    }
}

/// A snapshot of one host's counters (or of the sum over hosts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStats {
    /// Connections established (TCP, TLS and HTTP handshake done).
    pub connections_opened: u64,
    /// Connection attempts that failed (DNS, refused, filter, TLS, timeout).
    pub connect_errors: u64,
    /// Requests handed to a connection (each attempt counts).
    pub requests: u64,
    /// Requests sent on a connection that had already carried one (HTTP/1.1 reuse, or an
    /// additional HTTP/2 stream on an existing connection).
    pub reused: u64,
    /// Dropped response bodies whose remainder was read to keep the connection.
    pub drained: u64,
    /// Closed connections by reason.
    pub closed: ClosedStats,
    /// Retries by reason.
    pub retries: RetryStats,
    /// Checkouts that failed after waiting `checkout_timeout` in the queue.
    pub checkout_timeouts: u64,
    /// Idle HTTP/1.1 connections now.
    pub idle: usize,
    /// HTTP/1.1 connections carrying a request now, plus HTTP/2 connections.
    pub active: usize,
    /// Connections being established now.
    pub connecting: usize,
    /// Requests waiting in the queue now.
    pub waiting: usize,
    /// HTTP/2 streams in flight now.
    pub streams: usize,
}

impl HostStats {
    pub(crate) fn accumulate(&mut self, o: &HostStats) {
        self.connections_opened += o.connections_opened;
        self.connect_errors += o.connect_errors;
        self.requests += o.requests;
        self.reused += o.reused;
        self.drained += o.drained;
        self.closed.add(&o.closed);
        self.retries.not_written += o.retries.not_written;
        self.retries.stale_connection += o.retries.stale_connection;
        self.retries.refused_stream += o.retries.refused_stream;
        self.checkout_timeouts += o.checkout_timeouts;
        self.idle += o.idle;
        self.active += o.active;
        self.connecting += o.connecting;
        self.waiting += o.waiting;
        self.streams += o.streams;
    }
}

/// Counters for every host the client has talked to, and their sum.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Stats {
    /// The sum over all hosts (including hosts no longer in the map).
    pub total: HostStats,
    /// Per host, keyed `scheme://host:port`, sorted by key.
    pub hosts: Vec<(String, HostStats)>,
}

impl Stats {
    /// The counters for one host, by `scheme://host:port` (`http://127.0.0.1:3000`).
    pub fn host(&self, key: &str) -> Option<&HostStats> {
        self.hosts.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }
}

/// Reasons a connection leaves the pool, mapped onto [`ClosedStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    IdleTimeout,
    MaxIdle,
    ServerClose,
    Error,
    UnreadBody,
    Lifetime,
    RequestsLimit,
    Upgraded,
    /// Closed on the client's request (close_idle, close_host, shutdown).
    Closed,
}

impl ClosedStats {
    pub(crate) fn count(&mut self, reason: CloseReason) {
        let slot = match reason {
            CloseReason::IdleTimeout => &mut self.idle_timeout,
            CloseReason::MaxIdle => &mut self.max_idle,
            CloseReason::ServerClose => &mut self.server_close,
            CloseReason::Error => &mut self.error,
            CloseReason::UnreadBody => &mut self.unread_body,
            CloseReason::Lifetime => &mut self.lifetime,
            CloseReason::RequestsLimit => &mut self.requests_limit,
            CloseReason::Upgraded => &mut self.upgraded,
            CloseReason::Closed => &mut self.closed,
        };
        *slot += 1;
    }
}
