//! The pool's shared state and every transition on it: checkout, return, discard, the
//! end of a connection. Each method takes the lock once, changes counts, hands freed
//! resources to waiting requests, and drops closed connections only after unlocking.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::config::{Config, HttpVersionPolicy};
use crate::conn::Established;
use crate::host::{Doomed, H1Conn, H2Conn, Host, Idle, Proto, Waiter};
use crate::key::Key;
use crate::lease::{ConnectPermit, Grant, Lease};
use crate::stats::{CloseReason, HostStats, Stats};
use crate::tls::Tls;

pub(crate) type SharedRef = Arc<Shared>;

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) tls: Option<Tls>,
    state: Mutex<State>,
    next_id: AtomicU64,
}

struct State {
    hosts: HashMap<Key, Host>,
    /// Counters of hosts removed from the map once they had nothing open.
    retired: HostStats,
    reaper_running: bool,
}

/// The outcome of a checkout that did not have to wait.
pub(crate) enum Ready {
    Grant(Grant),
    Wait(oneshot::Receiver<Grant>),
}

impl Shared {
    pub(crate) fn new(config: Config, tls: Option<Tls>) -> Self {
        Self {
            config,
            tls,
            state: Mutex::new(State {
                hosts: HashMap::new(),
                retired: HostStats::default(),
                reaper_running: false,
            }),
            next_id: AtomicU64::new(1),
        }
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether a new connection to `key` will (probably) speak HTTP/2.
    pub(crate) fn expect_h2(&self, key: &Key, proto: Proto) -> bool {
        match self.config.version {
            HttpVersionPolicy::Http2Only => true,
            HttpVersionPolicy::Http1Only => false,
            // Over TLS, ALPN decides; until the first handshake tells, assume HTTP/2 so a
            // burst of first requests waits for one connection rather than opening many.
            HttpVersionPolicy::Auto => key.is_https() && proto != Proto::H1,
        }
    }

    fn initial_proto(&self, key: &Key) -> Proto {
        if self.expect_h2(key, Proto::Unknown) {
            Proto::Unknown
        } else {
            Proto::H1
        }
    }

    /// Takes an idle connection or a stream, or the right to connect, or a place in line.
    pub(crate) fn checkout(self: &Arc<Self>, key: &Key, fresh_only: bool) -> Ready {
        let now = Instant::now();
        let mut doomed = Doomed::default();
        let ready = {
            let mut st = self.state.lock();
            let proto = self.initial_proto(key);
            let host = st
                .hosts
                .entry(key.clone())
                .or_insert_with(|| Host::new(proto));
            self.checkout_locked(host, key, fresh_only, now, &mut doomed)
        };
        drop(doomed);
        ready
    }

    fn checkout_locked(
        self: &Arc<Self>,
        host: &mut Host,
        key: &Key,
        fresh_only: bool,
        now: Instant,
        doomed: &mut Doomed,
    ) -> Ready {
        let config = &self.config;
        // Requests already waiting go first: no overtaking in the queue.
        let queue_empty = host.waiters.iter().all(|w| w.tx.is_closed());
        if queue_empty && !fresh_only {
            if let Some((id, tx, reused)) = host.take_stream(config, now) {
                host.stats.requests += 1;
                host.stats.reused += u64::from(reused);
                return Ready::Grant(Grant::Lease(Lease::h2(self, key, id, tx, reused)));
            }
            if let Some(conn) = host.pop_idle(config, now, doomed) {
                return Ready::Grant(Grant::Lease(host.lease_idle(self, key, conn)));
            }
        }
        let expect_h2 = self.expect_h2(key, host.proto);
        let queued = host.waiters.len();
        if queue_empty && host.may_connect(config, expect_h2 && !fresh_only, queued) {
            return Ready::Grant(Grant::Connect(host.permit(self, key, expect_h2)));
        }
        let (tx, rx) = oneshot::channel();
        host.waiters.push_back(Waiter { tx, fresh_only });
        // Something may be free that the fast path skipped because others were queued.
        host.dispatch(self, key, now, doomed);
        Ready::Wait(rx)
    }

    /// Turns a used-up permit into a lease on the connection it opened.
    pub(crate) fn register(
        self: &Arc<Self>,
        permit: ConnectPermit,
        id: u64,
        established: Established,
    ) -> Lease {
        let key = permit.key().clone();
        let expect_h2 = permit.expect_h2();
        permit.consume();
        let now = Instant::now();
        let mut doomed = Doomed::default();
        let lease = {
            let mut st = self.state.lock();
            let proto = self.initial_proto(&key);
            let host = st
                .hosts
                .entry(key.clone())
                .or_insert_with(|| Host::new(proto));
            host.connecting = host.connecting.saturating_sub(1);
            if expect_h2 {
                host.h2_connecting = host.h2_connecting.saturating_sub(1);
            }
            host.open += 1;
            host.stats.connections_opened += 1;
            host.stats.requests += 1;
            let lease = match established {
                Established::H1(tx) => {
                    host.proto = Proto::H1;
                    host.busy_h1 += 1;
                    let conn = H1Conn {
                        id,
                        tx,
                        opened: now,
                        requests: 1,
                        idle_hint: None,
                        home: crate::rt::worker_id(),
                    };
                    Lease::h1(self, &key, conn, false)
                }
                Established::H2 { tx, max_streams } => {
                    host.proto = Proto::H2;
                    host.h2.push(H2Conn {
                        id,
                        tx: tx.clone(),
                        opened: now,
                        requests: 1,
                        in_flight: 1,
                        max_streams,
                        usable: true,
                    });
                    Lease::h2(self, &key, id, tx, false)
                }
            };
            host.dispatch(self, &key, now, &mut doomed);
            lease
        };
        drop(doomed);
        lease
    }

    /// A connection attempt ended without a connection (failed, or the request went away).
    pub(crate) fn connect_failed(self: &Arc<Self>, key: &Key, expect_h2: bool, counted: bool) {
        self.with_host(key, |host, doomed| {
            host.connecting = host.connecting.saturating_sub(1);
            if expect_h2 {
                host.h2_connecting = host.h2_connecting.saturating_sub(1);
            }
            if !counted {
                host.stats.connect_errors += 1;
            }
            host.dispatch(self, key, Instant::now(), doomed);
        });
    }

    /// An HTTP/1.1 connection finished a request cleanly: keep it for the next one.
    pub(crate) fn put_idle(self: &Arc<Self>, key: &Key, conn: H1Conn) {
        let mut start_reaper = false;
        self.with_host(key, |host, doomed| {
            host.busy_h1 = host.busy_h1.saturating_sub(1);
            let now = Instant::now();
            let reason = if conn.tx.is_closed() {
                Some(CloseReason::ServerClose)
            } else {
                Host::retire_reason(&self.config, conn.opened, conn.requests, now)
            };
            if let Some(reason) = reason {
                host.close(reason);
                doomed.h1.push(conn);
                host.dispatch(self, key, now, doomed);
                return;
            }
            let life = match conn.idle_hint {
                Some(hint) => hint.min(self.config.idle_timeout),
                None => self.config.idle_timeout,
            };
            host.idle.push(Idle {
                conn,
                deadline: now + life,
            });
            // A waiter may take it right away; otherwise enforce the idle cap, closing the
            // oldest (least recently used) connections first.
            host.dispatch(self, key, now, doomed);
            while host.idle.len() > self.config.max_idle_per_host {
                let oldest = host.idle.remove(0);
                host.close(CloseReason::MaxIdle);
                doomed.h1.push(oldest.conn);
            }
            start_reaper = !host.idle.is_empty();
        });
        if start_reaper {
            self.ensure_reaper();
        }
    }

    /// An HTTP/1.1 connection will not be reused.
    pub(crate) fn discard_h1(self: &Arc<Self>, key: &Key, conn: H1Conn, reason: CloseReason) {
        self.with_host(key, |host, doomed| {
            host.busy_h1 = host.busy_h1.saturating_sub(1);
            host.close(reason);
            doomed.h1.push(conn);
            host.dispatch(self, key, Instant::now(), doomed);
        });
    }

    /// A response body was drained so the connection could be kept.
    pub(crate) fn count_drained(&self, key: &Key) {
        let mut st = self.state.lock();
        if let Some(host) = st.hosts.get_mut(key) {
            host.stats.drained += 1;
        }
    }

    /// One HTTP/2 stream ended.
    pub(crate) fn release_stream(self: &Arc<Self>, key: &Key, id: u64) {
        self.with_host(key, |host, doomed| {
            if let Some(c) = host.h2.iter_mut().find(|c| c.id == id) {
                c.in_flight = c.in_flight.saturating_sub(1);
                if c.tx.is_closed() {
                    c.usable = false;
                }
            }
            host.dispatch(self, key, Instant::now(), doomed);
        });
    }

    /// hyper's connection task for connection `id` ended.
    pub(crate) fn conn_closed(self: &Arc<Self>, key: &Key, id: u64) {
        self.with_host(key, |host, doomed| {
            if let Some(pos) = host.idle.iter().position(|i| i.conn.id == id) {
                let idle = host.idle.remove(pos);
                host.close(CloseReason::ServerClose);
                doomed.h1.push(idle.conn);
            }
            if let Some(c) = host.h2.iter_mut().find(|c| c.id == id) {
                c.usable = false;
            }
            host.dispatch(self, key, Instant::now(), doomed);
        });
    }

    /// Counts a retry by reason.
    pub(crate) fn count_retry(&self, key: &Key, failure: crate::retry::Failure) {
        let mut st = self.state.lock();
        if let Some(host) = st.hosts.get_mut(key) {
            let r = &mut host.stats.retries;
            match failure {
                crate::retry::Failure::NotWritten => r.not_written += 1,
                crate::retry::Failure::ClosedBeforeResponse => r.stale_connection += 1,
                crate::retry::Failure::Refused => r.refused_stream += 1,
                crate::retry::Failure::Other => {}
            }
        }
    }

    pub(crate) fn count_checkout_timeout(&self, key: &Key) {
        let mut st = self.state.lock();
        if let Some(host) = st.hosts.get_mut(key) {
            host.stats.checkout_timeouts += 1;
        }
    }

    fn with_host(self: &Arc<Self>, key: &Key, f: impl FnOnce(&mut Host, &mut Doomed)) {
        let mut doomed = Doomed::default();
        {
            let mut st = self.state.lock();
            if let Some(host) = st.hosts.get_mut(key) {
                f(host, &mut doomed);
            }
        }
        // Dropping connections may re-enter the pool (their tasks end, leases drop).
        drop(doomed);
    }

    /// Closes expired idle connections and forgets hosts with nothing left. Returns the
    /// earliest idle deadline still pending, or `None` when nothing is idle.
    pub(crate) fn reap(self: &Arc<Self>, now: Instant) -> Option<Instant> {
        let mut doomed = Doomed::default();
        let next = {
            let mut st = self.state.lock();
            let mut next: Option<Instant> = None;
            let mut retired = HostStats::default();
            st.hosts.retain(|_, host| {
                let mut i = 0;
                while i < host.idle.len() {
                    let reason = if host.idle[i].deadline <= now {
                        Some(CloseReason::IdleTimeout)
                    } else if host.idle[i].conn.tx.is_closed() {
                        Some(CloseReason::ServerClose)
                    } else {
                        None
                    };
                    match reason {
                        Some(reason) => {
                            let idle = host.idle.remove(i);
                            host.close(reason);
                            doomed.h1.push(idle.conn);
                        }
                        None => {
                            let d = host.idle[i].deadline;
                            next = Some(next.map_or(d, |n: Instant| n.min(d)));
                            i += 1;
                        }
                    }
                }
                if host.is_empty() && host.idle.is_empty() {
                    retired.accumulate(&host.stats);
                    return false;
                }
                true
            });
            st.retired.accumulate(&retired);
            if next.is_none() {
                st.reaper_running = false;
            }
            next
        };
        drop(doomed);
        next
    }

    fn ensure_reaper(self: &Arc<Self>) {
        {
            let mut st = self.state.lock();
            if st.reaper_running {
                return;
            }
            st.reaper_running = true;
        }
        crate::reaper::spawn(Arc::downgrade(self));
    }

    pub(crate) fn stats(&self) -> Stats {
        let st = self.state.lock();
        let mut total = st.retired;
        let mut hosts: Vec<(String, HostStats)> = st
            .hosts
            .iter()
            .map(|(k, h)| {
                let s = h.snapshot();
                total.accumulate(&s);
                (k.to_string(), s)
            })
            .collect();
        drop(st);
        hosts.sort_by(|a, b| a.0.cmp(&b.0));
        Stats { total, hosts }
    }
}
