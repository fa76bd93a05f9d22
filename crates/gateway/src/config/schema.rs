//! The validated configuration: plain data, every default in one place (the `Default`
//! impls), ready for the server. Sections without cross-field rules deserialize straight
//! into these types; the rest go through `validate.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use super::cors::Parsed;
use super::duration;
pub use super::ops::{Health, Shutdown};
use super::pool::PoolSection;
use crate::cors::{OriginPattern, TargetPattern};
use crate::route::Router;

/// Everything the gateway needs to run.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Downstream listeners; a loaded config has at least one.
    pub listeners: Vec<Listener>,
    /// The `[[route]]` table, built.
    pub router: Router,
    /// Upstream connection pool settings (`[pool]`).
    pub pool: PoolSection,
    /// Downstream resource limits (`[limits]`).
    pub limits: Limits,
    /// Timeouts (`[timeouts]`).
    pub timeouts: Timeouts,
    /// Liveness and readiness endpoints (`[health]`).
    pub health: Health,
    /// What happens after SIGTERM (`[shutdown]`).
    pub shutdown: Shutdown,
    /// Admin/metrics listener (`[admin]`).
    pub admin: Admin,
    /// Logging (`[log]`).
    pub log: Log,
    /// Settings for listeners in CORS-proxy mode (`[cors]`).
    pub cors: Cors,
    /// Worker threads (`[runtime]`).
    pub runtime: Runtime,
    /// Upstream groups (`[[upstream]]`), in file order.
    pub upstreams: Vec<super::upstream::UpstreamGroup>,
    /// Trace context and OTLP export (`[tracing]`).
    pub tracing: super::observe::Tracing,
    /// Request ids (`[request_id]`).
    pub request_id: super::observe::RequestId,
    /// Trusted proxies and forwarding headers (`[forwarding]`).
    pub forwarding: super::Forwarding,
    /// Resolves upstream host names, for the pool and the groups' DNS endpoints; `None` =
    /// the system resolver. Not a config key: the hook for embedders and tests.
    pub resolver: Option<crate::upstream::dns::Resolver>,
}

/// `[runtime]`: how many threads serve connections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Runtime {
    /// Worker threads, each with its own single-threaded event loop; every accepted
    /// connection is served start to end on one of them (round robin). 0 (the default) =
    /// one per CPU the process may run on.
    pub workers: usize,
}

impl Runtime {
    /// The number of workers to start: `workers`, or one per available CPU when 0.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// One `[[listener]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Address to bind (an IP, not a host name).
    pub address: SocketAddr,
    /// Serve HTTPS (HTTP/1.1 and h2 via ALPN) with these files.
    pub tls: Option<TlsFiles>,
    /// More certificates for the same TLS listener, chosen by SNI (`tls` stays the
    /// default); empty unless `tls` is set.
    pub certificates: Vec<TlsFiles>,
    /// What the listener does with requests.
    pub mode: ListenerMode,
}

impl Listener {
    /// Every certificate of a TLS listener, the default (`tls`) first; empty when plain.
    pub fn tls_files(&self) -> Vec<TlsFiles> {
        self.tls
            .iter()
            .chain(self.certificates.iter())
            .cloned()
            .collect()
    }
}

/// PEM files for a TLS listener; relative paths are resolved against the config file's
/// directory when the config is loaded from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// What a listener does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerMode {
    /// Prefix routing to the `[[route]]` upstreams.
    #[default]
    Routes,
    /// CORS proxy (`/?url=…` style), configured by `[cors]`.
    Cors,
}

/// `[limits]`: downstream resource caps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Concurrent downstream connections; beyond it new connections wait to be accepted.
    #[serde(deserialize_with = "at_least_one")]
    pub max_connections: usize,
    /// Request head size (request line + headers). At least 8 KiB: hyper's
    /// `max_buf_size` panics below that.
    #[serde(deserialize_with = "header_bytes")]
    pub max_header_bytes: usize,
    /// Number of request headers.
    #[serde(deserialize_with = "at_least_one")]
    pub max_headers: usize,
    /// Request-target length.
    #[serde(deserialize_with = "duration::size_usize")]
    pub max_uri_bytes: usize,
    /// Request body size; `None` = unlimited.
    #[serde(deserialize_with = "duration::optional_size")]
    pub max_body_bytes: Option<u64>,
    /// What to do with `%2F`/`%5C`/`\` next to dot segments in a request path:
    /// `reject` (400, the default), `unescape` (decode, resolve, route the result) or `keep`.
    pub escaped_slashes: crate::route::escape::EscapedSlashes,
    /// HTTP/2 streams one client connection may have open at once (so upstream requests
    /// it has in flight), advertised as SETTINGS_MAX_CONCURRENT_STREAMS.
    #[serde(deserialize_with = "at_least_one_u32")]
    pub max_streams_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
            max_body_bytes: None,
            escaped_slashes: crate::route::escape::EscapedSlashes::Reject,
            max_streams_per_connection: 100,
        }
    }
}

/// `[timeouts]`. All but `shutdown_grace` and `client_park` must be greater than zero.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Time to receive a complete request head (slowloris guard): for a connection's first
    /// request from the accept (the h2c sniffing and the TLS handshake included), for a later
    /// one from its first byte.
    #[serde(deserialize_with = "duration::non_zero")]
    pub header_read: Duration,
    /// A client connection with nothing in flight (HTTP/1.1 keep-alive between requests,
    /// HTTP/2 with no stream open) this long is closed; HTTP/2 gets a GOAWAY first.
    #[serde(deserialize_with = "duration::non_zero")]
    pub client_idle: Duration,
    /// A plain HTTP/1.1 keep-alive connection idle this long is parked: hyper's buffers
    /// (16 KiB) are freed until its next bytes, which pay for building them again (see
    /// `conn::park`). `0s` parks at every idle moment; at or above `client_idle` never.
    #[serde(deserialize_with = "duration::deserialize")]
    pub client_park: Duration,
    /// Longest pause between two reads of a request body.
    #[serde(deserialize_with = "duration::non_zero")]
    pub client_body_idle: Duration,
    /// DNS + TCP connect + TLS handshake to an upstream. The one place for this value:
    /// it is copied into the pool's `connect_timeout`.
    #[serde(deserialize_with = "duration::non_zero")]
    pub upstream_connect: Duration,
    /// From request sent to response head received; routes may override it.
    #[serde(deserialize_with = "duration::non_zero")]
    pub upstream_response: Duration,
    /// Longest pause between two reads of an upstream response body.
    #[serde(deserialize_with = "duration::non_zero")]
    pub upstream_body_idle: Duration,
    /// On shutdown, how long in-flight requests may finish; `0s` = close at once.
    #[serde(deserialize_with = "duration::deserialize")]
    pub shutdown_grace: Duration,
    /// An upgraded connection (a tunnel) with no byte in either direction this long is
    /// closed.
    #[serde(deserialize_with = "duration::non_zero")]
    pub tunnel_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let secs = Duration::from_secs;
        Timeouts {
            header_read: secs(30),
            client_idle: secs(75),
            client_park: secs(1),
            client_body_idle: secs(60),
            upstream_connect: secs(10),
            upstream_response: secs(60),
            upstream_body_idle: secs(60),
            shutdown_grace: secs(30),
            tunnel_idle: secs(300),
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Where to serve metrics; `None` = no admin listener.
    pub address: Option<SocketAddr>,
    /// Path of the metrics endpoint on the admin listener.
    pub metrics_path: String,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            address: None,
            metrics_path: "/metrics".to_owned(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A `tracing_subscriber::EnvFilter` directive: `info`, or `warn,gangway=debug`.
    #[serde(deserialize_with = "log_level")]
    pub level: String,
    /// One line per request.
    pub access_log: bool,
    /// Line format.
    pub format: LogFormat,
    /// Write the access log to this file (reopened on `SIGUSR1`) instead of stdout;
    /// relative to the config file's directory.
    pub access_log_path: Option<PathBuf>,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".to_owned(),
            access_log: true,
            format: LogFormat::Text,
            access_log_path: None,
        }
    }
}

/// `log.format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
    /// nginx/Apache `combined` plus the request id and duration (the access log; the error
    /// log is then human-readable text).
    Combined,
}

/// `[cors]`: how listeners in CORS mode behave.
#[derive(Debug, Clone, PartialEq)]
pub struct Cors {
    /// Target patterns (`host`, `host:port`, `*.domain`, IP literals) that may be fetched;
    /// empty = any public address. Parsed once, by `cors::TargetPattern::parse`.
    pub allow_targets: Vec<Parsed<TargetPattern>>,
    /// Origin patterns (`https://app.example`, `*.example.com`, `*`) served; empty = any
    /// origin. Parsed once, by `cors::OriginPattern::parse`.
    pub allow_origins: Vec<Parsed<OriginPattern>>,
    /// Send `Access-Control-Allow-Credentials: true`; requires an `allow_origins` list
    /// without `*`.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` for preflights.
    pub max_age: Duration,
    /// Require an `Origin` or `X-Requested-With` header (blocks plain open-proxy use).
    pub require_header: bool,
    /// Forward the client's `Cookie` to the target.
    pub forward_cookies: bool,
    /// Forward the client's `Authorization` to the target.
    pub forward_authorization: bool,
    /// Pass the target's `Set-Cookie` back to the client.
    pub pass_set_cookie: bool,
    /// Per-client token bucket; `None` = no limit.
    pub rate_limit: Option<RateLimit>,
    /// Largest target response passed on.
    pub max_response_bytes: u64,
    /// Whole-exchange deadline for one proxied request.
    pub total_timeout: Duration,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            allow_targets: Vec::new(),
            allow_origins: Vec::new(),
            allow_credentials: false,
            max_age: Duration::from_secs(600),
            require_header: true,
            forward_cookies: false,
            forward_authorization: false,
            pass_set_cookie: false,
            rate_limit: None,
            max_response_bytes: 100 * 1024 * 1024,
            total_timeout: Duration::from_secs(60),
        }
    }
}

/// `cors.rate_limit`: a token bucket per client IP.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Tokens added per second (> 0).
    #[serde(deserialize_with = "positive")]
    pub per_second: f64,
    /// Bucket size: the burst allowed after a quiet period (≥ 1).
    #[serde(deserialize_with = "at_least_one_u32")]
    pub burst: u32,
}

/// Checks a log level / `EnvFilter` directive list and returns it normalised.
///
/// Each comma-separated directive is trimmed first: tracing-subscriber 0.3 indexes a
/// directive by its trimmed characters but slices the untrimmed text, which panics when a
/// directive with leading whitespace holds a non-ASCII character (`"info, é=debug"`; found by
/// the `config` fuzz target).
///
/// Field filters (`[span{field=value}]`) are refused: tracing-subscriber compiles each value
/// into a dense DFA, and a short value such as `(a|b)*a(a|b){20}` can take minutes and gigabytes
/// to build (found by the `config` fuzz target). Levels, targets and span names are enough
/// for a gateway's log; `RUST_LOG` still takes any directive.
pub(crate) fn check_log_level(text: &str) -> Result<String, String> {
    let directives: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if directives.is_empty() {
        return Err("empty log level".to_owned());
    }
    if text.contains(['{', '}']) {
        return Err(
            "field filters ({field=value}) are not supported in the log level; use RUST_LOG"
                .to_owned(),
        );
    }
    let text = directives.join(",");
    tracing_subscriber::EnvFilter::try_new(&text)
        .map(|_| text.clone())
        .map_err(|e| format!("invalid log level \"{text}\": {e}"))
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(D::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

fn at_least_one_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        0 => Err(D::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(D::Error::custom("must be a number greater than 0"))
    }
}

fn header_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let value = duration::size_usize(d)?;
    if value < 8 * 1024 {
        return Err(D::Error::custom("must be at least 8KiB"));
    }
    Ok(value)
}

pub(crate) fn absolute_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let path = String::deserialize(d)?;
    let valid = path.starts_with('/')
        && !path.contains(['?', '#'])
        && http::uri::PathAndQuery::try_from(path.as_str()).is_ok();
    if !valid {
        return Err(D::Error::custom(format!(
            "\"{path}\" is not a URL path starting with /"
        )));
    }
    Ok(path)
}

fn log_level<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    check_log_level(&String::deserialize(d)?).map_err(D::Error::custom)
}
