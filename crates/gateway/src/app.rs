//! The gateway's runtime state, shared by every connection task: the routing table, the
//! upstream pool, the CORS mode's policies, metrics, and the settings the request path
//! reads. Built once from the validated config; read-only afterwards. A leaf below the
//! request path: it imports only the pure modules (`route`, `cors`) and `metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::cors::{CorsPolicy, RateLimiter, TargetPolicy};
use crate::observe::metrics::Metrics;
use crate::route::Router;

/// What the request path needs to know about limits and timeouts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Path answered 200 by the gateway itself.
    pub health_path: String,
    /// Readiness path: 200 while serving normally, 503 while draining.
    pub ready_path: String,
    /// Readiness also fails while an upstream group has no usable server.
    pub ready_requires_servers: bool,
    /// Pseudonym in `Via` headers.
    pub via: String,
    /// Time allowed for the upstream's response head.
    pub upstream_response_timeout: Duration,
    /// Longest silence between two frames of the upstream's body.
    pub upstream_body_idle: Option<Duration>,
    /// Longest silence between two frames of the client's body.
    pub client_body_idle: Option<Duration>,
    /// Longest request target accepted (414 beyond).
    pub max_uri_bytes: usize,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: Option<u64>,
    /// One info line per request.
    pub access_log: bool,
    /// `[limits] escaped_slashes`: escaped slashes next to dot segments.
    pub escaped_slashes: crate::route::escape::EscapedSlashes,
    /// `[forwarding]`: whose forwarding headers are believed.
    pub forwarding: crate::config::Forwarding,
    /// `[timeouts] tunnel_idle`: an idle tunnel is closed after this long.
    pub tunnel_idle: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            health_path: "/healthcheck".into(),
            ready_path: "/ready".into(),
            ready_requires_servers: false,
            via: "gangway".into(),
            upstream_response_timeout: Duration::from_secs(60),
            upstream_body_idle: Some(Duration::from_secs(60)),
            client_body_idle: Some(Duration::from_secs(60)),
            max_uri_bytes: 8 * 1024,
            max_body_bytes: None,
            access_log: true,
            escaped_slashes: crate::route::escape::EscapedSlashes::Reject,
            forwarding: crate::config::Forwarding::default(),
            tunnel_idle: Duration::from_secs(300),
        }
    }
}

/// The CORS proxy's policies and its own pool (whose address filter is the SSRF guard).
#[derive(Debug)]
pub struct CorsMode {
    /// Origins, preflight and response headers.
    pub policy: CorsPolicy,
    /// Which targets may be reached.
    pub targets: Arc<TargetPolicy>,
    /// The pool, filtering every resolved address through `targets`.
    pub client: gangway_pool::Client,
    /// Per-client-IP token bucket.
    pub rate: Option<RateLimiter>,
    /// Largest response body passed through.
    pub max_response_bytes: Option<u64>,
    /// Time allowed for the whole exchange, body included.
    pub total_timeout: Duration,
}

impl CorsMode {
    /// Builds the mode; `pool` holds the pool settings, to which the SSRF filter is added.
    pub fn new(
        policy: CorsPolicy,
        targets: TargetPolicy,
        mut pool: gangway_pool::Builder,
        rate: Option<RateLimiter>,
        max_response_bytes: Option<u64>,
        total_timeout: Duration,
    ) -> Result<Self, gangway_pool::Error> {
        let targets = Arc::new(targets);
        let filter_targets = Arc::clone(&targets);
        pool.address_filter(Arc::new(
            move |host: &str, port: u16, addrs: &[SocketAddr]| {
                filter_targets
                    .check(host, port, addrs)
                    .map_err(|refusal| refusal.to_string())
            },
        ));
        Ok(Self {
            policy,
            targets,
            client: pool.build()?,
            rate,
            max_response_bytes,
            total_timeout,
        })
    }
}

/// Which handler a listener's requests go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Prefix routes to configured upstreams.
    Routes,
    /// `/?url=` CORS proxy.
    Cors,
}

/// What the request path knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The listener's address.
    pub local: SocketAddr,
    /// Arrived over TLS.
    pub tls: bool,
    /// Which handler serves it.
    pub mode: Mode,
}

/// Everything the request path shares.
#[derive(Debug)]
pub struct App {
    /// Prefix routes.
    pub router: Router,
    /// The pool for routed upstreams.
    pub client: gangway_pool::Client,
    /// The CORS proxy's policies and pool, when a listener uses that mode.
    pub cors: Option<CorsMode>,
    /// Counters and histograms.
    pub metrics: Metrics,
    /// Limits and timeouts.
    pub settings: Settings,
    /// The access log, when on.
    pub access: Option<crate::observe::access_log::AccessLog>,
    /// How request ids are kept or made.
    pub request_id: crate::observe::request_id::RequestIdPolicy,
    /// Flood control for upstream failure lines.
    pub flood: crate::observe::flood::Flood,
    /// Requests whose exchange has not ended (`gangway_requests_in_flight`).
    pub in_flight: std::sync::atomic::AtomicU64,
    /// The upstream group of each route that names one.
    pub groups: crate::upstream::wiring::RouteGroups,
    /// Whether `ready_path` answers 200; one per process, carried across reloads.
    pub readiness: Arc<crate::observe::readiness::Readiness>,
    /// Span export, only when `[tracing] otlp_endpoint` is set.
    pub tracer: Option<crate::observe::span::Tracer>,
    /// Each route's rate limiter and, when its protocol or connect timeout differ, pool.
    pub per_route: crate::request::per_route::PerRoute,
    /// Each listener's certificates (by config index; `None` for a plain listener), read
    /// per handshake, so a reload changes them for new connections.
    pub tls: Vec<Option<Arc<crate::conn::sni::CertSet>>>,
    /// Connection-level limits and timeouts, read when a connection is accepted, so a
    /// reload applies them to new connections.
    pub conn_limits: Arc<crate::conn::limits::ServerLimits>,
}
