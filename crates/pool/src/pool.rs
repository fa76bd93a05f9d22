//! The pool's shared state: the map of hosts under one lock, and the glue between a host's
//! state machine ([`crate::host`]) and the leases and permits requests hold. Each method
//! takes the lock once, lets the host change its counts and hand freed resources to waiting
//! requests, and drops closed connections only after unlocking.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hyper::client::conn::{http1, http2};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::body::RequestBody;
use crate::config::Config;
use crate::handshake::Established;
use crate::host::{self, ExpectH2, Fresh, Host, Opened, Out};
use crate::key::Key;
use crate::lease::{ConnectPermit, Grant, InFlight, Lease};
use crate::stats::{CloseReason, HostStats, Stats};
use crate::tls::Tls;

pub(crate) type SharedRef = Arc<Shared>;
pub(crate) type H1Tx = http1::SendRequest<RequestBody>;
pub(crate) type H2Tx = http2::SendRequest<RequestBody>;
/// An HTTP/1.1 connection as leases hold it.
pub(crate) type H1Conn = host::H1Conn<H1Tx>;
type Doomed = host::Doomed<H1Tx, H2Tx>;
type PoolHost = Host<H1Tx, H2Tx, oneshot::Sender<Grant>>;
type PoolOut = Out<H1Tx, H2Tx>;

impl host::Sender for H1Tx {
    fn is_closed(&self) -> bool {
        H1Tx::is_closed(self)
    }
    fn is_ready(&self) -> bool {
        H1Tx::is_ready(self)
    }
}

impl host::Sender for H2Tx {
    fn is_closed(&self) -> bool {
        H2Tx::is_closed(self)
    }
    fn is_ready(&self) -> bool {
        H2Tx::is_ready(self)
    }
}

impl host::Waiting for oneshot::Sender<Grant> {
    fn is_gone(&self) -> bool {
        self.is_closed()
    }
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) tls: Option<Tls>,
    state: Mutex<State>,
    next_id: AtomicU64,
    /// Set by `Client::shutdown`: new requests are refused.
    closed: AtomicBool,
    /// Every open connection's task, to end those still running when a shutdown's
    /// deadline passes. Touched once when a connection opens and once when it closes.
    tasks: Mutex<HashMap<u64, tokio::task::AbortHandle>>,
}

mod close;

/// Hosts by key. foldhash rather than std's SipHash: every request looks its host up twice
/// (checkout, and giving the connection back), and SipHash over a key's host name cost
/// ≈ 400 instructions a lookup. Still randomly seeded per process, so host names a client
/// chooses (the CORS proxy mode) cannot be crafted into collisions offline.
type HostMap = HashMap<Key, PoolHost, foldhash::fast::RandomState>;

struct State {
    hosts: HostMap,
    /// Counters of hosts removed from the map once they had nothing open.
    retired: HostStats,
    reaper_running: bool,
}

/// The outcome of a checkout that did not have to wait.
pub(crate) enum Ready {
    Grant(Grant),
    Wait(oneshot::Receiver<Grant>),
    /// The client is shut down.
    Closed,
}

impl Shared {
    pub(crate) fn new(config: Config, tls: Option<Tls>) -> Self {
        Self {
            config,
            tls,
            state: Mutex::new(State {
                hosts: HostMap::default(),
                retired: HostStats::default(),
                reaper_running: false,
            }),
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            tasks: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    fn new_host(&self, key: &Key) -> PoolHost {
        Host::new(ExpectH2::new(self.config.version, key.is_https()))
    }

    /// Hands what `host` has free to its waiting requests.
    fn dispatch(
        self: &Arc<Self>,
        host: &mut PoolHost,
        key: &Key,
        now: Instant,
        doomed: &mut Doomed,
    ) {
        // The grant is built outside the host's borrow: `deliver` only sees the waiter.
        let handle = host.in_flight_handle().cloned();
        host.dispatch(&self.config, now, doomed, |tx, out| {
            let grant = self.grant_with(handle.as_ref(), key, out);
            tx.send(grant).map_err(Grant::defuse)
        });
    }

    fn grant_with(
        self: &Arc<Self>,
        handle: Option<&Arc<AtomicUsize>>,
        key: &Key,
        out: PoolOut,
    ) -> Grant {
        let in_flight = handle.map(InFlight::new);
        match out {
            Out::H1 { conn, reused } => Grant::Lease(Lease::h1(self, key, conn, reused, in_flight)),
            Out::H2 { id, tx, reused } => {
                Grant::Lease(Lease::h2(self, key, id, tx, reused, in_flight))
            }
            Out::Connect { expect_h2 } => {
                Grant::Connect(ConnectPermit::new(self, key, expect_h2, in_flight))
            }
        }
    }

    /// Takes an idle connection or a stream, or the right to connect, or a place in line.
    pub(crate) fn checkout(self: &Arc<Self>, key: &Key, fresh_only: bool) -> Ready {
        if self.is_closed() {
            return Ready::Closed;
        }
        let now = Instant::now();
        let mut doomed = Doomed::default();
        let ready = {
            let mut st = self.state.lock();
            let host = st
                .hosts
                .entry(key.clone())
                .or_insert_with(|| self.new_host(key));
            match host.checkout(&self.config, fresh_only, now, &mut doomed) {
                Some(out) => Ready::Grant(self.grant_with(host.in_flight_handle(), key, out)),
                None => {
                    let (tx, rx) = oneshot::channel();
                    let handle = host.in_flight_handle().cloned();
                    host.enqueue(tx, fresh_only, &self.config, now, &mut doomed, |tx, out| {
                        tx.send(self.grant_with(handle.as_ref(), key, out))
                            .map_err(Grant::defuse)
                    });
                    Ready::Wait(rx)
                }
            }
        };
        drop(doomed);
        ready
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
        let in_flight = permit.consume();
        let fresh = match established {
            Established::H1(tx) => Fresh::H1(tx),
            Established::H2 { tx, max_streams } => Fresh::H2 { tx, max_streams },
        };
        let now = Instant::now();
        let home = crate::rt::worker_id();
        let mut doomed = Doomed::default();
        let lease = {
            let mut st = self.state.lock();
            let host = st
                .hosts
                .entry(key.clone())
                .or_insert_with(|| self.new_host(&key));
            let lease = match host.connected(id, fresh, expect_h2, now, home) {
                Opened::H1(conn) => Lease::h1(self, &key, conn, false, in_flight),
                Opened::H2 { id, tx } => Lease::h2(self, &key, id, tx, false, in_flight),
            };
            self.dispatch(host, &key, now, &mut doomed);
            lease
        };
        drop(doomed);
        lease
    }

    /// A connection attempt ended without a connection (failed, or the request went away).
    pub(crate) fn connect_failed(self: &Arc<Self>, key: &Key, expect_h2: bool, counted: bool) {
        self.with_host(key, |host, _| host.connect_failed(expect_h2, counted));
    }

    /// An HTTP/1.1 connection finished a request cleanly: keep it for the next one.
    pub(crate) fn put_idle(self: &Arc<Self>, key: &Key, conn: H1Conn) {
        let mut start_reaper = false;
        let now = Instant::now();
        let mut doomed = Doomed::default();
        {
            let mut st = self.state.lock();
            if let Some(host) = st.hosts.get_mut(key) {
                let kept = host.put_idle(conn, &self.config, now, &mut doomed);
                // A waiter may take it right away; the idle cap applies to what is left.
                self.dispatch(host, key, now, &mut doomed);
                if kept {
                    start_reaper = host.trim_idle(&self.config, &mut doomed);
                }
            }
        }
        drop(doomed);
        if start_reaper {
            self.ensure_reaper();
        }
    }

    /// An HTTP/1.1 connection will not be reused.
    pub(crate) fn discard_h1(self: &Arc<Self>, key: &Key, conn: H1Conn, reason: CloseReason) {
        self.with_host(key, |host, doomed| host.discard_h1(conn, reason, doomed));
    }

    /// A response body was drained so the connection could be kept.
    pub(crate) fn count_drained(&self, key: &Key) {
        if let Some(host) = self.state.lock().hosts.get_mut(key) {
            host.stats_mut().drained += 1;
        }
    }

    /// One HTTP/2 stream ended.
    pub(crate) fn release_stream(self: &Arc<Self>, key: &Key, id: u64) {
        self.with_host(key, |host, _| host.release_stream(id));
    }

    /// hyper's connection task for connection `id` ended.
    pub(crate) fn conn_closed(self: &Arc<Self>, key: &Key, id: u64) {
        self.with_host(key, |host, doomed| host.conn_closed(id, doomed));
    }

    /// Counts a retry by reason.
    pub(crate) fn count_retry(&self, key: &Key, failure: crate::retry::Failure) {
        if let Some(host) = self.state.lock().hosts.get_mut(key) {
            let r = &mut host.stats_mut().retries;
            match failure {
                crate::retry::Failure::NotWritten => r.not_written += 1,
                crate::retry::Failure::ClosedBeforeResponse => r.stale_connection += 1,
                crate::retry::Failure::Refused => r.refused_stream += 1,
                crate::retry::Failure::Other => {}
            }
        }
    }

    pub(crate) fn count_checkout_timeout(&self, key: &Key) {
        if let Some(host) = self.state.lock().hosts.get_mut(key) {
            host.stats_mut().checkout_timeouts += 1;
        }
    }

    /// Runs one transition on `key`'s host, then hands out what it freed.
    fn with_host(self: &Arc<Self>, key: &Key, f: impl FnOnce(&mut PoolHost, &mut Doomed)) {
        let mut doomed = Doomed::default();
        {
            let mut st = self.state.lock();
            if let Some(host) = st.hosts.get_mut(key) {
                f(host, &mut doomed);
                self.dispatch(host, key, Instant::now(), &mut doomed);
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
                if let Some(d) = host.reap(now, &mut doomed) {
                    next = Some(next.map_or(d, |n: Instant| n.min(d)));
                    return true;
                }
                if host.is_empty() {
                    retired.accumulate(&host.snapshot());
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
