//! Pool settings: plain data with one documented default per field, and the builder that
//! fills it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::connect::{AddressFilter, Resolve};
use crate::error::Error;

/// Which HTTP versions the pool may speak to upstreams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpVersionPolicy {
    /// HTTP/1.1 over plain TCP; over TLS, whatever ALPN negotiates (`h2` or `http/1.1`).
    #[default]
    Auto,
    /// HTTP/1.1 only (TLS offers only `http/1.1`).
    Http1Only,
    /// HTTP/2 only: prior knowledge (h2c) over plain TCP, ALPN `h2` over TLS.
    Http2Only,
}

/// Every pool setting. Filled by [`Builder`]; read-only once the [`Client`] exists.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) idle_timeout: Duration,
    pub(crate) max_idle_per_host: usize,
    pub(crate) max_connections_per_host: Option<usize>,
    pub(crate) checkout_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_requests_per_connection: Option<u64>,
    pub(crate) max_connection_lifetime: Option<Duration>,
    pub(crate) version: HttpVersionPolicy,
    pub(crate) retry_body_limit: usize,
    pub(crate) drain_limit: u64,
    pub(crate) keep_alive_margin: Duration,
    pub(crate) h2_default_max_streams: usize,
    pub(crate) h2_keep_alive_interval: Option<Duration>,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) extra_roots_pem: Vec<PathBuf>,
    pub(crate) webpki_roots: bool,
    pub(crate) native_roots: bool,
    pub(crate) resolver: Option<Arc<dyn Resolve>>,
    pub(crate) address_filter: Option<Arc<dyn AddressFilter>>,
    pub(crate) local_address: Option<std::net::IpAddr>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) response_head_timeout: Option<Duration>,
    pub(crate) connect_attempt_timeout: Option<Duration>,
    pub(crate) proxies: crate::proxy::Proxies,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(90),
            max_idle_per_host: 32,
            max_connections_per_host: None,
            checkout_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_requests_per_connection: None,
            max_connection_lifetime: None,
            version: HttpVersionPolicy::Auto,
            retry_body_limit: 64 * 1024,
            drain_limit: 64 * 1024,
            keep_alive_margin: Duration::from_secs(1),
            h2_default_max_streams: 256,
            h2_keep_alive_interval: None,
            tls: None,
            extra_roots_pem: Vec::new(),
            webpki_roots: true,
            native_roots: false,
            resolver: None,
            address_filter: None,
            local_address: None,
            request_timeout: None,
            response_head_timeout: None,
            connect_attempt_timeout: None,
            proxies: crate::proxy::Proxies::default(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("idle_timeout", &self.idle_timeout)
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("max_connections_per_host", &self.max_connections_per_host)
            .field("checkout_timeout", &self.checkout_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field(
                "max_requests_per_connection",
                &self.max_requests_per_connection,
            )
            .field("max_connection_lifetime", &self.max_connection_lifetime)
            .field("version", &self.version)
            .field("retry_body_limit", &self.retry_body_limit)
            .field("drain_limit", &self.drain_limit)
            .field("custom_tls", &self.tls.is_some())
            .field("extra_roots_pem", &self.extra_roots_pem)
            .field("webpki_roots", &self.webpki_roots)
            .field("native_roots", &self.native_roots)
            .field("custom_resolver", &self.resolver.is_some())
            .field("address_filter", &self.address_filter.is_some())
            .field("request_timeout", &self.request_timeout)
            .field("response_head_timeout", &self.response_head_timeout)
            .field("connect_attempt_timeout", &self.connect_attempt_timeout)
            .field("proxies", &self.proxies)
            .finish()
    }
}

/// Builds a [`Client`]. Every setter documents its default.
///
/// ```
/// # use std::time::Duration;
/// let client = gangway_pool::Client::builder()
///     .max_connections_per_host(64)
///     .idle_timeout(Duration::from_secs(30))
///     .build()?;
/// # Ok::<(), gangway_pool::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    config: Config,
}

impl Builder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long an idle connection is kept before it is closed.
    ///
    /// A server's `Keep-Alive: timeout=N` response header shortens this for that
    /// connection (see [`Builder::keep_alive_margin`]). Default is 90 seconds.
    pub fn idle_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// The most idle HTTP/1.1 connections kept per host; more are closed when returned.
    ///
    /// Default is 32, a client's default. Keep it at or above the concurrency a host sees:
    /// below it, a burst of responses returns more connections than are kept, and the next
    /// burst of requests opens new ones (measured in a gateway at concurrency 64: one
    /// upstream connection opened per eight requests). The gateway's `[pool]` default is
    /// 1024 for that reason.
    pub fn max_idle_per_host(&mut self, max: usize) -> &mut Self {
        self.config.max_idle_per_host = max;
        self
    }

    /// The most open connections (idle, busy or connecting) per host.
    ///
    /// When the limit is reached, further requests wait in a first-in first-out queue for a
    /// connection (or a free HTTP/2 stream) for at most [`Builder::checkout_timeout`], then
    /// fail with an error for which [`Error::is_pool_exhausted`] is true. This is what keeps
    /// a busy client from exhausting the machine's ephemeral ports. Default is no limit.
    pub fn max_connections_per_host(&mut self, max: usize) -> &mut Self {
        self.config.max_connections_per_host = Some(max.max(1));
        self
    }

    /// How long a request may wait in the per-host queue when
    /// [`Builder::max_connections_per_host`] is reached. Default is 30 seconds.
    pub fn checkout_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config.checkout_timeout = timeout;
        self
    }

    /// How long DNS, TCP connect and the TLS handshake together may take (for HTTP/2,
    /// until the server's SETTINGS arrived).
    ///
    /// Default is 10 seconds.
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long one TCP connect attempt to one address may take. With several addresses
    /// the pool races them (Happy Eyeballs, RFC 8305: families interleaved, the next
    /// attempt 250 ms after the previous one, the first to connect wins), so a dead
    /// address costs 250 ms, not this; [`Builder::connect_timeout`] bounds the whole.
    /// Default is none (only the connect timeout).
    pub fn connect_attempt_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config.connect_attempt_timeout = Some(timeout);
        self
    }

    /// Close a connection after it has carried this many requests. Default is no limit.
    pub fn max_requests_per_connection(&mut self, max: u64) -> &mut Self {
        self.config.max_requests_per_connection = Some(max.max(1));
        self
    }

    /// Stop reusing a connection this long after it was opened, so DNS changes are picked
    /// up and load spreads over new upstream instances. Default is no limit.
    pub fn max_connection_lifetime(&mut self, lifetime: Duration) -> &mut Self {
        self.config.max_connection_lifetime = Some(lifetime);
        self
    }

    /// Speak only HTTP/1.1 to upstreams. Default is off (see [`HttpVersionPolicy::Auto`]).
    pub fn http1_only(&mut self) -> &mut Self {
        self.config.version = HttpVersionPolicy::Http1Only;
        self
    }

    /// Speak only HTTP/2 to upstreams: h2c prior knowledge on `http://`, ALPN `h2` on
    /// `https://`. Default is off (see [`HttpVersionPolicy::Auto`]).
    pub fn http2_only(&mut self) -> &mut Self {
        self.config.version = HttpVersionPolicy::Http2Only;
        self
    }

    /// Sets the HTTP version policy directly. Default is [`HttpVersionPolicy::Auto`].
    pub fn version_policy(&mut self, policy: HttpVersionPolicy) -> &mut Self {
        self.config.version = policy;
        self
    }

    /// The largest request body the pool keeps a copy of, so that an idempotent request
    /// can be replayed once on a fresh connection when a reused one was closed under it.
    ///
    /// Bodies of known length up to this size are read before sending; larger or
    /// streaming bodies are sent as they come and never replayed. Default is 64 KiB.
    pub fn retry_body_limit(&mut self, bytes: usize) -> &mut Self {
        self.config.retry_body_limit = bytes;
        self
    }

    /// When a response body is dropped before its end, the pool reads and discards up to
    /// this many remaining bytes in the background to keep the HTTP/1.1 connection;
    /// beyond that the connection is closed. Default is 64 KiB.
    pub fn drain_limit(&mut self, bytes: u64) -> &mut Self {
        self.config.drain_limit = bytes;
        self
    }

    /// How much earlier than a server's `Keep-Alive: timeout=N` hint the pool stops reusing
    /// the connection, to stay clear of the race with the server's close. The margin is
    /// capped at a quarter of the hint. Default is 1 second.
    pub fn keep_alive_margin(&mut self, margin: Duration) -> &mut Self {
        self.config.keep_alive_margin = margin;
        self
    }

    /// How many requests the pool expects one HTTP/2 connection still being opened to
    /// carry: up to this many wait for it rather than open connections of their own. Once
    /// it is open (the pool waits for the server's SETTINGS), the server's
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` decides, and requests past it open further
    /// connections. Default is 256 (above nginx's 128 and Go's 250, so a cold burst to a
    /// typical server waits for one handshake instead of racing several).
    pub fn http2_initial_max_streams(&mut self, streams: usize) -> &mut Self {
        self.config.h2_default_max_streams = streams.max(1);
        self
    }

    /// Send HTTP/2 PING frames at this interval to detect dead connections.
    /// Default is off.
    pub fn http2_keep_alive_interval(&mut self, interval: Duration) -> &mut Self {
        self.config.h2_keep_alive_interval = Some(interval);
        self
    }

    /// Use this rustls configuration for `https://` upstreams instead of the default one
    /// (webpki roots, ring provider). Its ALPN list is replaced according to the version
    /// policy. Default is none.
    pub fn tls_config(&mut self, config: Arc<rustls::ClientConfig>) -> &mut Self {
        self.config.tls = Some(config);
        self
    }

    /// Trust the CA certificates in this PEM file in addition to the webpki roots.
    /// Read when [`Builder::build`] runs. Default is none.
    pub fn add_root_certificates_pem(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.config.extra_roots_pem.push(path.into());
        self
    }

    /// Trust the webpki roots (Mozilla's CA list, compiled in). Turn it off to trust only
    /// the operating system's store (`Builder::native_roots`, feature `native-roots`)
    /// and/or PEM files ([`Builder::add_root_certificates_pem`]). Default is on.
    pub fn webpki_roots(&mut self, enabled: bool) -> &mut Self {
        self.config.webpki_roots = enabled;
        self
    }

    /// Trust the operating system's certificate store as well (read through
    /// `rustls-native-certs` when [`Builder::build`] runs; on Linux it honours
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR`). Needs the cargo feature `native-roots`.
    ///
    /// `build` fails if the store yields no usable certificate; certificates the store
    /// holds but rustls rejects are skipped. Default is off.
    #[cfg(feature = "native-roots")]
    pub fn native_roots(&mut self, enabled: bool) -> &mut Self {
        self.config.native_roots = enabled;
        self
    }

    /// Resolve host names with this resolver instead of the system's (`getaddrinfo` via
    /// tokio). Default is the system resolver.
    pub fn resolver(&mut self, resolver: Arc<dyn Resolve>) -> &mut Self {
        self.config.resolver = Some(resolver);
        self
    }

    /// Vet every resolved address before connecting. The pool connects only to addresses
    /// the filter accepted, without a second lookup, so DNS rebinding cannot slip a
    /// different address in. Default is none (every address accepted).
    pub fn address_filter(&mut self, filter: Arc<dyn AddressFilter>) -> &mut Self {
        self.config.address_filter = Some(filter);
        self
    }

    /// Bind outgoing connections to this local address. Default is the OS's choice.
    pub fn local_address(&mut self, addr: std::net::IpAddr) -> &mut Self {
        self.config.local_address = Some(addr);
        self
    }

    /// The most a request may take in total, from [`Client::request`] to the end of the
    /// response body (waiting for a connection, connecting, retries and streaming
    /// included). Past it the request or its body fails with [`Error::is_timeout`].
    /// Overridden per request by a [`RequestTimeouts`](crate::RequestTimeouts) extension.
    /// Default is none.
    pub fn request_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config.request_timeout = Some(timeout);
        self
    }

    /// The most a request may take until the response head arrived (waiting for a
    /// connection, connecting and retries included; the body is not). Past it the
    /// request fails with [`Error::is_timeout`]. Overridden per request by a
    /// [`RequestTimeouts`](crate::RequestTimeouts) extension. Default is none.
    pub fn response_head_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config.response_head_timeout = Some(timeout);
        self
    }

    /// Sends every request through `proxy`: `http://` targets in absolute-form, `https://`
    /// targets through a `CONNECT` tunnel (TLS stays end to end). Default: no proxy.
    /// Requests pinned with [`ConnectTo`](crate::ConnectTo) connect directly.
    pub fn proxy(&mut self, proxy: crate::Proxy) -> &mut Self {
        self.config.proxies.http = Some(proxy.clone());
        self.config.proxies.https = Some(proxy);
        self
    }

    /// Whether [`build`](Self::build) reads `http_proxy`/`HTTP_PROXY`,
    /// `https_proxy`/`HTTPS_PROXY` and `no_proxy`/`NO_PROXY` (comma-separated host names
    /// or domain suffixes, `*` for all) for what [`proxy`](Self::proxy) left unset.
    /// Default: `false`, so a library never picks up a proxy its user did not ask for.
    pub fn proxy_from_env(&mut self, enabled: bool) -> &mut Self {
        self.config.proxies.from_env = enabled;
        self
    }

    /// Builds the client: loads the TLS roots and starts nothing else; the idle reaper is
    /// started lazily by the first idle connection. Must be called within a tokio runtime
    /// only when requests are made.
    ///
    /// # Errors
    /// A root certificate file that cannot be read or parsed; an operating system store
    /// (`native_roots`) without a usable certificate; no root source at all; a proxy
    /// environment variable that is not an `http://` URL.
    pub fn build(&self) -> Result<Client, Error> {
        Client::from_config(self.config.clone())
    }
}
