//! Accepting and serving downstream connections: one tokio task per connection, HTTP/1.1
//! with keep-alive and upgrades, HTTP/2 by prior knowledge (h2c) on plain listeners and by
//! ALPN on TLS listeners, a cap on concurrent connections, and graceful shutdown.
//!
//! A [`Listener`] accepts; each accepted socket becomes a `Conn`, which serves it and
//! hands every request to [`crate::request::handle`] with the strict checker's verdict.
//! Nothing here knows the modes.
//!
//! - `strict_io`: the IO wrapper that shows the strict checker every HTTP/1 byte;
//! - `h1`: an HTTP/1 connection served, and rebuilt after each `park` (an idle connection
//!   held outside hyper with its buffers freed); `idle`: the connection's timeouts;
//! - `sni`: the TLS listeners' certificates, chosen by SNI, and the 421 rule; `workers`:
//!   the single-threaded runtimes connections are served on; `shutdown`: the stop and
//!   close signals; `systemd`: socket activation and `sd_notify`.

pub mod admin;
pub mod fds;
mod forward;
pub mod idle;
pub mod limits;
pub use limits::ServerLimits;
mod drive;
mod h1;
mod h1_after;
mod park;
mod prefixed;
pub mod shutdown;
pub mod sni;
pub mod strict_io;
pub mod systemd;
pub mod workers;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use gangway_pool::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::app::{ConnInfo, Mode};
use crate::reload::Live;
use crate::request;
use crate::request::tunnel::TunnelHold;
use crate::strict::check_h2;

use drive::{drive, Watchdog};
use shutdown::Shutdown;
use workers::Balance;

/// One listening socket and how its connections are served.
#[derive(Clone)]
pub struct ListenerSpec {
    /// Address to bind (or already bound, see [`bind`]).
    pub addr: SocketAddr,
    /// TLS (HTTPS, and HTTP/2 by ALPN), with the certificates the `App` holds for it.
    pub tls: bool,
    /// The listener's place in the config (its certificates in `App::tls`).
    pub index: usize,
    /// Route or CORS mode.
    pub mode: Mode,
}

impl std::fmt::Debug for ListenerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerSpec")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .field("mode", &self.mode)
            .finish()
    }
}

/// Binds a listener, with a clear error naming the address.
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// One listening socket's accept loop, with what its connections share.
#[derive(Debug, Clone)]
pub struct Listener {
    /// How its connections are served.
    pub spec: ListenerSpec,
    /// The request path's state, read once per request (swapped on reload).
    pub app: Arc<Live>,
    /// Connection limits and timeouts as started; each connection takes the ones of the
    /// `App` serving when it is accepted (a reload changes them for new connections).
    pub limits: Arc<ServerLimits>,
    /// The cap on concurrent connections, all listeners together.
    pub permits: Arc<Semaphore>,
    /// Stop accepting, and drain, when signalled.
    pub shutdown: Shutdown,
    /// With worker runtimes: their balance and the worker this loop runs on.
    pub worker: Option<(Arc<Balance>, usize)>,
}

impl Listener {
    /// Accepts on `socket` until shutdown; each connection is served on its own task.
    pub async fn run(self, socket: TcpListener) {
        let local = socket.local_addr().unwrap_or(self.spec.addr);
        let mut stop = self.shutdown.subscribe();
        let mut failures = fds::AcceptFailures::default();
        loop {
            // Waiting for a permit first means that at the cap we stop accepting (the
            // kernel's backlog holds new clients) instead of accepting and dropping them.
            let permit = tokio::select! {
                p = Arc::clone(&self.permits).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                _ = stop.changed() => return,
            };
            let (stream, peer) = tokio::select! {
                r = socket.accept() => match r {
                    Ok(pair) => pair,
                    Err(e) => {
                        if fds::is_connection_error(&e) {
                            continue;
                        }
                        // Out of file descriptors or memory: back off instead of spinning.
                        if let Some(quiet) = failures.note(std::time::Instant::now()) {
                            tracing::error!(error = %e, listener = %local, unlogged = quiet, "accept failed; backing off");
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            // The permit and the shutdown guard go to whoever ends last: the connection
            // (its task drops it with the `Conn`), or the tunnel an upgrade turned it into.
            let hold = Arc::new(TunnelHold::new(
                permit,
                self.shutdown.track(),
                self.shutdown.subscribe_close(),
            ));
            let conn = Conn {
                hold,
                info: ConnInfo {
                    peer,
                    local,
                    tls: self.spec.tls,
                    mode: self.spec.mode,
                },
                tls: self.spec.tls.then_some(self.spec.index),
                app: Arc::clone(&self.app),
                limits: Arc::clone(&self.limits),
                signals: Signals {
                    stop: self.shutdown.subscribe(),
                    close: self.shutdown.subscribe_close(),
                },
            };
            let _ = stream.set_nodelay(true);
            // With workers: the one that serves it (this one unless it is clearly busier
            // than another), which counts the connection while it lives.
            let (hand_to, live) = match &self.worker {
                Some((balance, me)) => {
                    let target = balance.pick(*me);
                    let other = (target != *me).then_some((balance, target));
                    (other, Some(balance.enter(target)))
                }
                None => (None, None),
            };
            let task = move |stream: TcpStream| async move {
                conn.run(stream).await;
                drop(live);
            };
            match hand_to {
                Some((balance, target)) => balance.hand_over(target, stream, task),
                None => {
                    tokio::spawn(task(stream));
                }
            }
        }
    }
}

/// The shutdown signals a connection task watches (see [`Shutdown`]).
struct Signals {
    /// Finish the request in flight, then close; close at once when idle.
    stop: watch::Receiver<bool>,
    /// The grace period is over: close now.
    close: watch::Receiver<bool>,
}

/// One accepted connection and what serving it needs.
struct Conn {
    info: ConnInfo,
    /// A TLS listener's index in `App::tls`.
    tls: Option<usize>,
    app: Arc<Live>,
    limits: Arc<ServerLimits>,
    signals: Signals,
    /// Lent to a tunnel (see [`TunnelHold`]).
    hold: Arc<TunnelHold>,
}

impl Conn {
    /// Serves the connection to its end (counted as open meanwhile).
    ///
    /// The task's future is allocated whole for the connection's life, idle or not, so its
    /// size is every idle connection's: the `Conn` is owned here once and lent below (an
    /// `async fn` taking it by value keeps it twice), and what only one phase needs (the
    /// sniffer, the TLS handshake, HTTP/2, hyper's connection) is boxed.
    // Not an `async fn`: its by-value arguments would be stored twice in the future.
    #[allow(clippy::manual_async_fn)]
    fn run(mut self, stream: TcpStream) -> impl std::future::Future<Output = ()> + Send {
        async move {
            let app = self.app.load();
            self.limits = Arc::clone(&app.conn_limits);
            let listener = self.info.local;
            app.metrics.connection_opened(listener);
            self.serve(stream).await;
            app.metrics.connection_closed(listener);
        }
    }

    async fn serve(&mut self, stream: TcpStream) {
        // One header_read budget from the accept: sniffing or the TLS handshake spend it,
        // the first head gets what is left (see `idle`).
        let activity = idle::Activity::new(tokio::time::Instant::now());
        let head_by = tokio::time::Instant::now() + self.limits.header_read_timeout;
        let Some(index) = self.tls.take() else {
            let mut stream = stream;
            let mut head = [0u8; prefixed::PREFIX_MAX];
            // Boxed: the sniffer's timers and futures are needed once, and the task
            // (allocated whole for the connection's life) must not keep room for them.
            let sniffed = Box::pin(sniff(&mut stream, &mut head, head_by, &mut self.signals));
            let Some((h2, len)) = sniffed.await else {
                return;
            };
            return self
                .serve_http(
                    prefixed::Prefixed::new(stream, head, len),
                    h2,
                    activity,
                    None,
                )
                .await;
        };
        // Boxed: the rustls state is large, and a plain connection's task (allocated whole
        // for every connection, idle ones too) must not carry room for it.
        Box::pin(self.serve_tls(stream, index, activity, head_by)).await;
    }

    async fn serve_tls(
        &mut self,
        stream: TcpStream,
        index: usize,
        activity: Arc<idle::Activity>,
        head_by: tokio::time::Instant,
    ) {
        // The certificates serving now: a reload changes them for the next handshake.
        let Some(certs) = self.app.load().tls.get(index).cloned().flatten() else {
            tracing::error!(listener = %self.info.local, "TLS listener without certificates");
            return;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(certs.config());
        // Boxed: the handshake's state is larger than the stream's.
        let handshake = tokio::time::timeout_at(head_by, Box::pin(acceptor.accept(stream)));
        // No request has started yet: on shutdown the connection just closes (it would
        // otherwise hold the drain up to the handshake timeout).
        let handshake = tokio::select! {
            biased;
            r = handshake => r,
            _ = shutdown::signalled(&mut self.signals.stop) => return,
        };
        let stream = match handshake {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(client = %self.info.peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(client = %self.info.peer, "TLS handshake timed out");
                return;
            }
        };
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let names = Arc::clone(certs.names());
        let sni = sni::Chosen::new(names, stream.get_ref().1.server_name());
        self.serve_http(stream, h2, activity, sni).await;
    }

    async fn serve_http<S>(
        &mut self,
        stream: S,
        h2: bool,
        activity: Arc<idle::Activity>,
        sni: Option<sni::Chosen>,
    ) where
        S: AsyncRead + AsyncWrite + park::ReadReady + Unpin + Send + 'static,
    {
        let limits = &self.limits;
        let budget = idle::Budget {
            header_read: limits.header_read_timeout,
            client_idle: limits.client_idle,
            park_after: None,
        };
        if h2 {
            // Boxed: an HTTP/2 connection's state is large and an HTTP/1 connection's task
            // (allocated whole, for its whole life, parked or not) must not carry room for it.
            Box::pin(self.serve_h2(stream, activity, sni, budget)).await;
        } else {
            self.serve_h1(stream, activity, sni, budget).await;
        }
    }

    /// Serves `stream` as HTTP/2 to its end.
    async fn serve_h2<S>(
        &mut self,
        stream: S,
        activity: Arc<idle::Activity>,
        sni: Option<sni::Chosen>,
        budget: idle::Budget,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (info, limits) = (self.info, Arc::clone(&self.limits));
        // Past the preface: from now on only client_idle applies, while no stream is open.
        activity.waiting();
        let io = TokioIo::new(stream);
        let live = Arc::clone(&self.app);
        let streams = Arc::clone(&activity);
        let service = service_fn(move |mut req: Request<Incoming>| {
            sni::mark_misdirected(sni.as_ref(), &mut req);
            // Once per request: a reload applies to the next request, on every connection.
            let app = live.load();
            let busy = streams.begin();
            // Refused (this stream only) when a field breaks the rules.
            let violation = check_h2(req.headers()).err();
            // Boxed: hyper spawns each stream's future as a task of its own and moves it
            // several times on the way (into the task, through the scheduler); a pointer
            // moves instead of the future's kilobytes.
            Box::pin(request::handle(app, info, violation, req, move |resp| {
                Ok::<_, Infallible>(resp.map(|b| idle::Tracked::new(b, busy)))
            }))
        });
        let mut builder = http2::Builder::new(TokioExecutor);
        builder
            .timer(TokioTimer)
            .max_concurrent_streams(limits.h2_max_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .adaptive_window(true);
        // Boxed: the HTTP/2 state would otherwise size every HTTP/1 connection's task.
        let mut conn = Box::pin(builder.serve_connection(io, service));
        let expired = activity.expired(budget);
        drive(
            conn.as_mut(),
            |c| c.graceful_shutdown(),
            &self.app.load(),
            &info,
            &mut self.signals,
            Watchdog {
                expired,
                h2: true,
                activity: &activity,
            },
        )
        .await;
    }
}

/// Reads the first bytes into `head` until they are the h2c preface or cannot be one:
/// whether they are and how many were read; `None` when the connection is to close.
async fn sniff(
    stream: &mut TcpStream,
    head: &mut [u8; prefixed::PREFIX_MAX],
    head_by: tokio::time::Instant,
    signals: &mut Signals,
) -> Option<(bool, usize)> {
    let sniff = tokio::time::timeout_at(head_by, prefixed::sniff_h2_preface(stream, head));
    let mut sniff = std::pin::pin!(sniff);
    tokio::select! {
        biased;
        r = &mut sniff => r.ok()?.ok(),
        // Nothing arrived yet. A connection accepted just before the stop (a socket handed
        // over to another process, a load balancer not yet told) usually has its first
        // request in flight: serve it if it comes at once, else close.
        _ = shutdown::signalled(&mut signals.stop) => {
            tokio::time::timeout(LATE_FIRST_BYTES, &mut sniff).await.ok()?.ok()?.ok()
        }
    }
}

/// How long a connection accepted just before the stop signal may take to send its first
/// bytes before it is closed as idle.
const LATE_FIRST_BYTES: Duration = Duration::from_millis(500);
