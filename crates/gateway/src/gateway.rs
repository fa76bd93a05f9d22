//! Starting and stopping the whole gateway from a validated config: build the runtime
//! state, bind every listener (and the admin listener), serve until the shutdown signal,
//! then drain in-flight requests within the grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::app::{App, CorsMode, Mode, Settings};
use crate::config::{Config, ListenerMode};
use crate::conn::shutdown::Shutdown;
use crate::conn::workers::{self, Workers};
use crate::conn::{self as server, Listener, ListenerSpec, ServerLimits};
use crate::cors::{CorsPolicy, RateLimiter, TargetPolicy};
use crate::observe::metrics::Metrics;
use crate::reload::Live;
use crate::upstream::wiring::RouteGroups;

/// A gateway that is serving. Dropping it does not stop it: call [`Running::shutdown`].
#[derive(Debug)]
pub struct Running {
    /// Bound addresses of the listeners, in config order (useful with port 0).
    pub addrs: Vec<SocketAddr>,
    /// Bound address of the admin listener, if any.
    pub admin_addr: Option<SocketAddr>,
    /// Shared state (metrics, pools) as started, e.g. for tests.
    pub app: Arc<App>,
    /// The state serving now (swapped by reloads).
    pub live: Arc<Live>,
    /// `[shutdown] delay`: readiness fails this long before the drain starts.
    pub delay: Duration,
    /// The `[limits] max_connections` permits, all listeners together (resized on reload).
    pub permits: Arc<Semaphore>,
    shutdown: Shutdown,
    grace: Duration,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the gateway could not start: what it was doing (`context`), which kind of step
/// failed, and the underlying error as the source.
#[derive(Debug)]
pub struct StartError {
    kind: StartKind,
    context: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartKind {
    /// Building an upstream pool.
    Pool,
    /// Binding a listening socket.
    Bind,
    /// Loading a listener's certificate or key.
    Tls,
    /// Opening the access log.
    Log,
    /// Installing a signal handler.
    Signal,
    /// The limits need more file descriptors than the process may open.
    Fds,
}

impl StartError {
    fn new(
        kind: StartKind,
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            context: context.into(),
            source: source.into(),
        }
    }

    /// An upstream pool could not be built.
    pub fn is_pool(&self) -> bool {
        self.kind == StartKind::Pool
    }

    /// The configured limits need more file descriptors than RLIMIT_NOFILE allows.
    pub fn is_fd_limit(&self) -> bool {
        self.kind == StartKind::Fds
    }

    /// A signal handler could not be installed.
    pub fn is_signal(&self) -> bool {
        self.kind == StartKind::Signal
    }

    /// The SIGHUP handler could not be installed.
    pub fn signal(source: std::io::Error) -> Self {
        Self::new(StartKind::Signal, "signal handler", source)
    }

    /// A listening socket could not be bound.
    pub fn is_bind(&self) -> bool {
        self.kind == StartKind::Bind
    }

    /// A listener's certificate or key could not be loaded.
    pub fn is_tls(&self) -> bool {
        self.kind == StartKind::Tls
    }

    /// The access log could not be opened.
    pub fn is_log(&self) -> bool {
        self.kind == StartKind::Log
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.context.is_empty() {
            write!(f, "{}", self.source)
        } else {
            write!(f, "{}: {}", self.context, self.source)
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Builds the runtime state from a config. `own_addrs` are the gateway's bound addresses,
/// which the CORS mode refuses as targets.
pub fn build_app(config: &Config, own_addrs: &[SocketAddr]) -> Result<App, StartError> {
    let mut pool = config.pool.builder();
    pool.connect_timeout(config.timeouts.upstream_connect);
    if let Some(resolver) = &config.resolver {
        pool.resolver(Arc::clone(&resolver.0));
    }
    let client = pool
        .build()
        .map_err(|e| StartError::new(StartKind::Pool, "pool", e))?;
    let cors_needed = config
        .listeners
        .iter()
        .any(|l| l.mode == ListenerMode::Cors);
    let cors = if cors_needed {
        Some(build_cors(config, own_addrs)?)
    } else {
        None
    };
    let router = config.router.clone();
    let metrics =
        Metrics::new(router.routes().iter().map(|r| r.name.as_str())).with_listeners(own_addrs);
    let settings = Settings {
        health_path: config.health.path.clone(),
        ready_path: config.health.ready_path.clone(),
        ready_requires_servers: config.health.ready_requires_servers,
        via: "gangway".into(),
        upstream_response_timeout: config.timeouts.upstream_response,
        upstream_body_idle: non_zero(config.timeouts.upstream_body_idle),
        client_body_idle: non_zero(config.timeouts.client_body_idle),
        max_uri_bytes: config.limits.max_uri_bytes,
        max_body_bytes: config.limits.max_body_bytes,
        access_log: config.log.access_log,
        escaped_slashes: config.limits.escaped_slashes,
        forwarding: config.forwarding.clone(),
        tunnel_idle: config.timeouts.tunnel_idle,
    };
    let access = crate::observe::sink::AccessLog::start(&config.log)
        .map_err(|e| StartError::new(StartKind::Log, "opening the access log", e))?;
    let groups = RouteGroups::build(&config.upstreams, router.routes(), Instant::now());
    let tracer = crate::observe::span::start_tracer(config)
        .map_err(|e| StartError::new(StartKind::Pool, "OTLP exporter", e))?;
    let per_route = crate::request::per_route::PerRoute::build(
        &config.pool,
        config.timeouts.upstream_connect,
        router.routes(),
    )
    .map_err(|e| StartError::new(StartKind::Pool, "pool", e))?;
    Ok(App {
        router,
        client,
        cors,
        metrics,
        settings,
        access,
        request_id: config.request_id.policy(),
        flood: crate::observe::flood::Flood::default(),
        in_flight: std::sync::atomic::AtomicU64::new(0),
        groups,
        readiness: Arc::default(),
        tracer,
        per_route,
        tls: load_certificates(config)?,
        conn_limits: Arc::new(ServerLimits::from_config(config)),
    })
}

/// Every TLS listener's certificates, by listener index; the first failure names the
/// listener and the file (at start a start error, on reload a refused reload).
fn load_certificates(
    config: &Config,
) -> Result<Vec<Option<Arc<crate::conn::sni::CertSet>>>, StartError> {
    config
        .listeners
        .iter()
        .map(|l| match l.tls {
            None => Ok(None),
            Some(_) => crate::conn::sni::CertSet::load(&l.tls_files())
                .map(|set| Some(Arc::new(set)))
                .map_err(|e| {
                    StartError::new(StartKind::Tls, format!("listener {}: TLS", l.address), e)
                }),
        })
        .collect()
}

fn non_zero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

fn build_cors(config: &Config, own_addrs: &[SocketAddr]) -> Result<CorsMode, StartError> {
    let c = &config.cors;
    // Parsed once, when the config was validated; the proxy gets its own copies.
    let allow_targets = c.allow_targets.iter().map(|p| p.value().clone()).collect();
    let allow_origins = c.allow_origins.iter().map(|p| p.value().clone()).collect();
    let policy = CorsPolicy {
        allow_origins,
        allow_credentials: c.allow_credentials,
        max_age: c.max_age,
        require_header: c.require_header,
        forward_cookies: c.forward_cookies,
        forward_authorization: c.forward_authorization,
        pass_set_cookie: c.pass_set_cookie,
        ..CorsPolicy::default()
    };
    let targets = TargetPolicy {
        allow_targets,
        own_addrs: own_addrs.to_vec(),
    };
    let rate = c
        .rate_limit
        .as_ref()
        .map(|r| RateLimiter::new(r.per_second, r.burst));
    let mut pool = config.pool.builder();
    pool.connect_timeout(config.timeouts.upstream_connect);
    CorsMode::new(
        policy,
        targets,
        pool,
        rate,
        Some(c.max_response_bytes),
        c.total_timeout,
    )
    .map_err(|e| StartError::new(StartKind::Pool, "cors pool", e))
}

/// An inherited socket as a listener's: one for the current runtime, or a clone per worker.
fn adopt(socket: std::net::TcpListener, workers: Option<usize>) -> std::io::Result<Bound> {
    socket.set_nonblocking(true)?;
    match workers {
        Some(n) => (0..n.max(1))
            .map(|_| socket.try_clone())
            .collect::<std::io::Result<Vec<_>>>()
            .map(Bound::PerWorker),
        None => tokio::net::TcpListener::from_std(socket).map(Bound::One),
    }
}

/// A listener's socket(s): one accepted on by the current runtime, or one per worker.
enum Bound {
    One(tokio::net::TcpListener),
    PerWorker(Vec<std::net::TcpListener>),
}

impl Bound {
    fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Bound::One(l) => l.local_addr().ok(),
            Bound::PerWorker(ls) => ls.first().and_then(|l| l.local_addr().ok()),
        }
    }
}

/// Binds every listener and starts serving, every connection on the current runtime.
pub async fn start(config: &Config) -> Result<Running, StartError> {
    start_with(config, None).await
}

/// Binds every listener and starts serving. With `workers`, each worker accepts and serves
/// its own connections (the binary); without, the current runtime does (tests, embedding).
/// The admin listener is always served on the current runtime.
pub async fn start_with(
    config: &Config,
    workers: Option<Arc<Workers>>,
) -> Result<Running, StartError> {
    start_inherited(config, workers, Vec::new()).await
}

/// [`start_with`], with sockets inherited from the service manager (socket activation):
/// `inherited[i]`, when present, is listener `i`'s socket instead of binding one (see
/// [`crate::systemd::take_listeners`]), and the slot after the listeners' is the admin
/// listener's. Worker runtimes all accept on that one socket.
pub async fn start_inherited(
    config: &Config,
    workers: Option<Arc<Workers>>,
    mut inherited: Vec<Option<std::net::TcpListener>>,
) -> Result<Running, StartError> {
    if let Some(limit) = crate::conn::fds::raise_limit() {
        crate::conn::fds::Need::of(config)
            .check(limit)
            .map_err(|e| StartError::new(StartKind::Fds, "open-file limit", e))?;
    }
    let mut bound = Vec::new();
    for (i, l) in config.listeners.iter().enumerate() {
        let given = inherited.get_mut(i).and_then(Option::take);
        let listener = match (given, &workers) {
            (Some(socket), w) => adopt(socket, w.as_ref().map(|w| w.len())),
            (None, Some(w)) => workers::bind_shared(l.address, w.len()).map(Bound::PerWorker),
            (None, None) => server::bind(l.address).await.map(Bound::One),
        }
        .map_err(|e| StartError::new(StartKind::Bind, "", e))?;
        let tls = l.tls.is_some();
        let mode = match l.mode {
            ListenerMode::Routes => Mode::Routes,
            ListenerMode::Cors => Mode::Cors,
        };
        bound.push((listener, tls, mode));
    }
    let addrs: Vec<SocketAddr> = bound
        .iter()
        .filter_map(|(l, _, _)| l.local_addr())
        .collect();
    let admin_inherited = inherited
        .get_mut(config.listeners.len())
        .and_then(Option::take);
    let admin_listener = match (config.admin.address, admin_inherited) {
        (Some(_), Some(socket)) => Some(
            socket
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(socket))
                .map_err(|e| StartError::new(StartKind::Bind, "inherited admin socket", e))?,
        ),
        (Some(addr), None) => Some(
            server::bind(addr)
                .await
                .map_err(|e| StartError::new(StartKind::Bind, "", e))?,
        ),
        (None, _) => None,
    };
    let admin_addr = admin_listener.as_ref().and_then(|l| l.local_addr().ok());
    let mut own = addrs.clone();
    own.extend(admin_addr);
    let app = Arc::new(build_app(config, &own)?);
    let live = Live::new(Arc::clone(&app));
    let limits = Arc::clone(&app.conn_limits);
    let permits = Arc::new(Semaphore::new(config.limits.max_connections.max(1)));
    let shutdown = Shutdown::new();
    let mut tasks = Vec::new();
    for (index, ((listener, tls, mode), addr)) in bound.into_iter().zip(&addrs).enumerate() {
        let spec = ListenerSpec {
            addr: *addr,
            tls,
            index,
            mode,
        };
        tracing::info!(address = %addr, mode = %crate::observe::log_fmt::mode(mode), tls = spec.tls, "listening");
        let accepting = Listener {
            spec,
            app: Arc::clone(&live),
            limits: Arc::clone(&limits),
            permits: Arc::clone(&permits),
            shutdown: shutdown.clone(),
            worker: None,
        };
        match (listener, &workers) {
            (Bound::One(listener), _) => tasks.push(tokio::spawn(accepting.run(listener))),
            (Bound::PerWorker(listeners), Some(w)) => {
                for (i, listener) in listeners.into_iter().enumerate() {
                    let accepting = Listener {
                        worker: Some((Arc::clone(w.balance()), i)),
                        ..accepting.clone()
                    };
                    tasks.push(w.spawn_on(i, async move {
                        // Registered with this worker's reactor: its connections are
                        // accepted and served here.
                        match tokio::net::TcpListener::from_std(listener) {
                            Ok(listener) => accepting.run(listener).await,
                            Err(e) => {
                                tracing::error!(address = %accepting.spec.addr, error = %e, "worker cannot accept");
                            }
                        }
                    }));
                }
            }
            (Bound::PerWorker(_), None) => {}
        }
    }
    let current = Arc::clone(&live);
    tasks.extend(crate::observe::sink::background(&app, move || {
        current.load()
    }));
    let resolver = crate::upstream::dns::Resolver::of(config);
    // Each group's probes go through the pool its routes use (its `protocol`).
    tasks.extend(app.groups.spawn_tasks(
        |route| app.per_route.client_for(route, &app.client),
        &resolver,
    ));
    if let Some(listener) = admin_listener {
        tracing::info!(
            address = admin_addr.map(tracing::field::display),
            "admin listening"
        );
        tasks.push(tokio::spawn(crate::conn::admin::serve(
            listener,
            Arc::clone(&live),
            config.admin.metrics_path.clone(),
            shutdown.clone(),
        )));
    }
    Ok(Running {
        addrs,
        admin_addr,
        app,
        live,
        delay: config.shutdown.delay,
        permits,
        shutdown,
        grace: config.timeouts.shutdown_grace,
        tasks,
    })
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to the grace period), closes
    /// idle keep-alive connections. Returns how many connections were still open at the
    /// deadline (0 = clean).
    pub async fn shutdown(self) -> usize {
        // Readiness fails first; with a delay, requests are still served meanwhile, so the
        // load balancers that have not yet seen the failed probe are not refused.
        self.live.load().readiness.set_draining();
        if !self.delay.is_zero() {
            tracing::info!(
                delay_ms = crate::observe::log_fmt::millis(self.delay),
                "readiness failing; serving until the drain starts"
            );
            tokio::time::sleep(self.delay).await;
        }
        tracing::info!(
            live = self.shutdown.live(),
            grace_ms = crate::observe::log_fmt::millis(self.grace),
            "shutting down"
        );
        // The pools get the same grace period, counted from here.
        let pool_deadline = std::time::Instant::now() + self.grace;
        self.shutdown.trigger();
        for task in &self.tasks {
            task.abort();
        }
        let left = self.shutdown.drained(self.grace).await;
        if left > 0 {
            tracing::warn!(left, "grace period over; closing remaining connections");
            self.shutdown.close_all();
            // Dropping a connection is immediate; waiting (briefly) for the tasks to see
            // the signal means nothing is served any more once this returns.
            let still = self.shutdown.drained(CLOSE_WAIT).await;
            if still > 0 {
                tracing::warn!(
                    still,
                    "connection tasks did not stop after the close signal"
                );
            }
        } else {
            tracing::info!("all connections finished");
        }
        crate::upstream::close::close_pools(&self.live.load(), pool_deadline).await;
        left
    }
}

/// How long [`Running::shutdown`] waits for connection tasks to stop after closing them.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Runs the gateway until `signal` resolves, then shuts down gracefully.
pub async fn run(
    config: &Config,
    workers: Option<Arc<Workers>>,
    signal: impl Future<Output = ()>,
) -> Result<usize, StartError> {
    let running = start_with(config, workers).await?;
    signal.await;
    Ok(running.shutdown().await)
}
