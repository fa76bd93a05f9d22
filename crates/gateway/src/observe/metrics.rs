//! Request counters and latency histograms, rendered as Prometheus text with the pool's
//! stats.
//!
//! Every route gets its slots when the gateway starts, so counting a request is a few
//! relaxed atomic adds: no lock and no allocation on the request path.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gangway_pool::Stats;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Status codes are counted by their exact value; 100..=599 covers every valid one.
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;

struct RouteMetrics {
    name: String,
    by_status: Box<[AtomicU64]>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    bytes_out: AtomicU64,
}

impl RouteMetrics {
    fn new(name: String) -> Self {
        Self {
            name,
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }
}

/// The gateway's metrics. Route indexes are those of the router's routes; the extra
/// slots after them are for requests no route matched and for the gateway's own answers.
#[derive(Debug)]
pub struct Metrics {
    routes: Vec<RouteMetrics>,
    connections_accepted: AtomicU64,
    connections_open: AtomicU64,
    /// Upgraded connections (WebSocket and friends) spliced right now.
    tunnels_open: AtomicU64,
    tunnels_total: AtomicU64,
    /// Idle HTTP/1 connections held outside hyper right now (`conn::park`).
    connections_parked: AtomicU64,
    /// Time to the upstream's response head, one per route slot.
    heads: Vec<super::histogram::Histogram>,
    /// Connections per listener.
    listeners: super::listeners::Listeners,
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteMetrics")
            .field("name", &self.name)
            .finish()
    }
}

/// Which slot a request is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

impl Metrics {
    /// Metrics for routes with these names, plus the `(none)` and `(gateway)` slots.
    pub fn new<'a>(route_names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut routes: Vec<RouteMetrics> = route_names
            .into_iter()
            .map(|n| RouteMetrics::new(n.to_string()))
            .collect();
        routes.push(RouteMetrics::new("(none)".into()));
        routes.push(RouteMetrics::new("(gateway)".into()));
        Self {
            heads: routes.iter().map(|_| Default::default()).collect(),
            listeners: Default::default(),
            routes,
            connections_accepted: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            tunnels_open: AtomicU64::new(0),
            tunnels_total: AtomicU64::new(0),
            connections_parked: AtomicU64::new(0),
        }
    }

    /// Counts connections per listener for these bound addresses (none by default).
    pub fn with_listeners(mut self, addrs: &[std::net::SocketAddr]) -> Self {
        self.listeners = super::listeners::Listeners::new(addrs);
        self
    }

    /// The upstream's response head came `head` after the request arrived.
    pub fn observe_head(&self, slot: Slot, head: Duration) {
        if let Some(h) = self.heads.get(slot.0) {
            h.observe(head);
        }
    }

    /// The slot of route number `index`.
    pub fn route(&self, index: usize) -> Slot {
        Slot(index.min(self.routes.len().saturating_sub(2)))
    }

    /// The slot for requests that matched no route.
    pub fn unrouted(&self) -> Slot {
        Slot(self.routes.len().saturating_sub(2))
    }

    /// The slot for the gateway's own endpoints (health check, CORS preflight).
    pub fn gateway(&self) -> Slot {
        Slot(self.routes.len().saturating_sub(1))
    }

    /// Counts one finished request.
    pub fn observe(&self, slot: Slot, status: u16, elapsed: Duration, bytes: u64) {
        let Some(m) = self.routes.get(slot.0) else {
            return;
        };
        if let Some(c) = status
            .checked_sub(STATUS_MIN)
            .and_then(|i| m.by_status.get(usize::from(i)))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            m.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        m.count.fetch_add(1, Ordering::Relaxed);
        m.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        m.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A downstream connection was accepted on the listener bound to `listener`.
    pub fn connection_opened(&self, listener: std::net::SocketAddr) {
        self.connections_accepted.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.listeners.opened(listener);
    }

    /// A downstream connection accepted on `listener` ended.
    pub fn connection_closed(&self, listener: std::net::SocketAddr) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
        self.listeners.closed(listener);
    }

    /// A tunnel (spliced upgrade) started.
    pub fn tunnel_opened(&self) {
        self.tunnels_total.fetch_add(1, Ordering::Relaxed);
        self.tunnels_open.fetch_add(1, Ordering::Relaxed);
    }

    /// An idle connection was parked (`true`) or woke up or closed parked (`false`).
    pub fn connection_parked(&self, parked: bool) {
        if parked {
            self.connections_parked.fetch_add(1, Ordering::Relaxed);
        } else {
            self.connections_parked.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A tunnel ended.
    pub fn tunnel_closed(&self) {
        self.tunnels_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition of everything, with the pool's stats.
    pub fn render(&self, pools: &[(&str, Stats)]) -> String {
        self.render_with(pools, &PoolOwners::new())
    }

    /// [`Metrics::render`], the pool hosts that are servers of an upstream group labelled
    /// with the group's name as `upstream` (see [`PoolOwners`]).
    pub fn render_with(&self, pools: &[(&str, Stats)], owners: &PoolOwners) -> String {
        let mut out = String::with_capacity(4096);
        let _ = self.render_into(&mut out, pools, owners);
        out
    }

    fn render_into(
        &self,
        out: &mut String,
        pools: &[(&str, Stats)],
        owners: &PoolOwners,
    ) -> std::fmt::Result {
        writeln!(
            out,
            "# HELP gangway_requests_total Requests answered, by route and status."
        )?;
        writeln!(out, "# TYPE gangway_requests_total counter")?;
        for m in &self.routes {
            for (i, c) in m.by_status.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let status = i + usize::from(STATUS_MIN);
                    writeln!(
                        out,
                        "gangway_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                        escape(&m.name)
                    )?;
                }
            }
        }
        writeln!(
            out,
            "# HELP gangway_request_duration_seconds Time to the end of the response body."
        )?;
        writeln!(out, "# TYPE gangway_request_duration_seconds histogram")?;
        for m in &self.routes {
            let count = m.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let route = escape(&m.name);
            let mut cumulative = 0;
            for (b, c) in BUCKETS.iter().zip(&m.buckets) {
                cumulative += c.load(Ordering::Relaxed);
                writeln!(
                    out,
                    "gangway_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cumulative}"
                )?;
            }
            writeln!(
                out,
                "gangway_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            )?;
            let sum = m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            writeln!(
                out,
                "gangway_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            )?;
            writeln!(
                out,
                "gangway_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            )?;
        }
        writeln!(
            out,
            "# HELP gangway_response_bytes_total Response body bytes sent, by route."
        )?;
        writeln!(out, "# TYPE gangway_response_bytes_total counter")?;
        for m in &self.routes {
            writeln!(
                out,
                "gangway_response_bytes_total{{route=\"{}\"}} {}",
                escape(&m.name),
                m.bytes_out.load(Ordering::Relaxed)
            )?;
        }
        writeln!(
            out,
            "# HELP gangway_connections_accepted_total Client connections accepted."
        )?;
        writeln!(out, "# TYPE gangway_connections_accepted_total counter")?;
        writeln!(
            out,
            "gangway_connections_accepted_total {}",
            self.connections_accepted.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "# HELP gangway_connections_open Client connections open now."
        )?;
        writeln!(out, "# TYPE gangway_connections_open gauge")?;
        writeln!(
            out,
            "gangway_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "# HELP gangway_tunnels_total Tunnels opened after a 101 (WebSocket and other upgrades)."
        )?;
        writeln!(out, "# TYPE gangway_tunnels_total counter")?;
        writeln!(
            out,
            "gangway_tunnels_total {}",
            self.tunnels_total.load(Ordering::Relaxed)
        )?;
        writeln!(out, "# HELP gangway_tunnels_open Tunnels open now.")?;
        writeln!(out, "# TYPE gangway_tunnels_open gauge")?;
        writeln!(
            out,
            "gangway_tunnels_open {}",
            self.tunnels_open.load(Ordering::Relaxed)
        )?;
        writeln!(
            out,
            "# HELP gangway_connections_parked Idle HTTP/1 keep-alive connections held outside the HTTP parser, with its buffers freed, until their next bytes."
        )?;
        writeln!(out, "# TYPE gangway_connections_parked gauge")?;
        writeln!(
            out,
            "gangway_connections_parked {}",
            self.connections_parked.load(Ordering::Relaxed)
        )?;
        self.listeners.render(out);
        super::histogram::render_heads(
            out,
            self.routes.iter().map(|m| m.name.as_str()).zip(&self.heads),
        );
        render_pools(out, pools, owners)
    }
}

/// Which upstream group each pool host serves: the pool's key text (`http://host:port`,
/// `… via addr` for one address of a host name) → the group's name. A host no group names
/// (a single-URL route) is its own `upstream`.
pub type PoolOwners = std::collections::HashMap<String, String>;

/// Reads one number out of a host's pool stats.
type HostStat = fn(&gangway_pool::HostStats) -> u64;

/// A labelled family's reasons and how to read each.
type Reasons<'a> = &'a [(&'a str, HostStat)];

/// The pool families: one series per pool and host, labelled `upstream` (the group the host
/// is a server of, or the host itself) and `server` (the host), with the reason of a close
/// or a retry as a label (not one family per reason).
fn render_pools(
    out: &mut String,
    pools: &[(&str, Stats)],
    owners: &PoolOwners,
) -> std::fmt::Result {
    use super::prom::{MetricType, PromText};
    let plain: [(&str, &str, MetricType, HostStat); 10] = [
        (
            "connections_opened_total",
            "Upstream connections opened.",
            MetricType::Counter,
            |s| s.connections_opened,
        ),
        (
            "connect_errors_total",
            "Failed connection attempts.",
            MetricType::Counter,
            |s| s.connect_errors,
        ),
        (
            "requests_total",
            "Requests sent upstream.",
            MetricType::Counter,
            |s| s.requests,
        ),
        (
            "reused_total",
            "Requests sent on a reused connection.",
            MetricType::Counter,
            |s| s.reused,
        ),
        (
            "drained_total",
            "Response bodies drained so their connection could be reused.",
            MetricType::Counter,
            |s| s.drained,
        ),
        (
            "checkout_timeouts_total",
            "Requests that waited too long for a connection.",
            MetricType::Counter,
            |s| s.checkout_timeouts,
        ),
        (
            "idle_connections",
            "Idle upstream connections.",
            MetricType::Gauge,
            |s| s.idle as u64,
        ),
        (
            "active_connections",
            "Upstream connections carrying a request.",
            MetricType::Gauge,
            |s| s.active as u64,
        ),
        (
            "connecting",
            "Upstream connections being established.",
            MetricType::Gauge,
            |s| s.connecting as u64,
        ),
        (
            "waiting",
            "Requests waiting for an upstream connection.",
            MetricType::Gauge,
            |s| s.waiting as u64,
        ),
    ];
    let closed: [(&str, HostStat); 7] = [
        ("idle_timeout", |s| s.closed.idle_timeout),
        ("max_idle", |s| s.closed.max_idle),
        ("server_close", |s| s.closed.server_close),
        ("error", |s| s.closed.error),
        ("unread_body", |s| s.closed.unread_body),
        ("lifetime", |s| s.closed.lifetime),
        ("requests_limit", |s| s.closed.requests_limit),
    ];
    let retries: [(&str, HostStat); 3] = [
        ("not_written", |s| s.retries.not_written),
        ("stale_connection", |s| s.retries.stale_connection),
        ("refused_stream", |s| s.retries.refused_stream),
    ];
    let mut text = PromText::new();
    for (name, help, kind, get) in plain {
        let full = format!("gangway_pool_{name}");
        let mut family = text.family(&full, help, kind);
        for (pool, stats) in pools {
            for (host, s) in &stats.hosts {
                family.sample(&labels(pool, host, owners), get(s) as f64);
            }
        }
    }
    let streams = text.family(
        "gangway_pool_streams",
        "Open HTTP/2 streams.",
        MetricType::Gauge,
    );
    let mut streams = streams;
    for (pool, stats) in pools {
        for (host, s) in &stats.hosts {
            streams.sample(&labels(pool, host, owners), s.streams as f64);
        }
    }
    let labelled: [(&str, &str, Reasons<'_>); 2] = [
        (
            "gangway_pool_connections_closed_total",
            "Upstream connections closed, by reason.",
            &closed,
        ),
        (
            "gangway_pool_retries_total",
            "Requests retried on a new connection, by reason.",
            &retries,
        ),
    ];
    for (name, help, reasons) in labelled {
        let mut family = text.family(name, help, MetricType::Counter);
        for (pool, stats) in pools {
            for (host, s) in &stats.hosts {
                let [pool, upstream, server] = labels(pool, host, owners);
                for (reason, get) in reasons {
                    family.sample(&[pool, upstream, server, ("reason", reason)], get(s) as f64);
                }
            }
        }
    }
    out.push_str(text.as_str());
    Ok(())
}

/// A pool host's labels: its pool, its group (or itself) as `upstream`, itself as `server`.
fn labels<'a>(pool: &'a str, host: &'a str, owners: &'a PoolOwners) -> [(&'a str, &'a str); 3] {
    let upstream = owners.get(host).map_or(host, String::as_str);
    [("pool", pool), ("upstream", upstream), ("server", host)]
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
