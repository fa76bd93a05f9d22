//! In-process hyper upstream servers on 127.0.0.1 with a small builder DSL.
//!
//! ```ignore
//! let up = Upstream::http1().run().await;                 // HTTP/1.1 only
//! let up = Upstream::h2c().max_concurrent_streams(2).run().await;
//! let up = Upstream::tls(&pki, &[b"h2", b"http/1.1"]).run().await; // ALPN picks per conn
//! let up = Upstream::auto().run().await;  // h1, or h2 on the prior-knowledge preface
//! ```
//!
//! The default handler is [`echo`]. Every response, whatever the handler, gets `x-conn-id`
//! (1-based connection number, in accept order) and `x-req-seq` (1-based request number on
//! that connection) unless the handler set them, plus `Keep-Alive: <value>` on HTTP/1
//! responses when [`Upstream::keep_alive_header`] is set. Each request head is recorded
//! as a [`SeenRequest`] before the handler runs. Dropping the [`Listening`] handle aborts
//! the accept loop and every connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gangway_pool::rt::{TokioExecutor, TokioIo, TokioTimer};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::body::{empty, full, Body, BoxError, PatternBody};
use crate::tls::TestPki;

/// What a handler gets besides the request.
#[derive(Clone, Copy, Debug)]
pub struct ReqCtx {
    /// 1-based connection number (the `x-conn-id` value).
    pub conn_id: usize,
    /// 1-based request number on the connection (the `x-req-seq` value).
    pub req_seq: usize,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A request handler: request and context in, response out.
pub type Handler =
    Arc<dyn Fn(Request<Incoming>, ReqCtx) -> BoxFuture<Response<Body>> + Send + Sync>;

/// One request head as the server saw it.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    /// The connection it came on.
    pub conn_id: usize,
    /// Its number on that connection.
    pub req_seq: usize,
    /// The method.
    pub method: Method,
    /// The URI as parsed by hyper (origin-form for normal HTTP/1 requests).
    pub uri: Uri,
    /// The protocol version.
    pub version: Version,
    /// The headers.
    pub headers: HeaderMap,
}

#[derive(Clone, Debug)]
enum Mode {
    Http1,
    H2c,
    Auto,
    Tls(Arc<rustls::ServerConfig>),
}

/// Builder for an upstream test server; finish with [`Upstream::run`].
pub struct Upstream {
    mode: Mode,
    max_concurrent_streams: Option<u32>,
    keep_alive_header: Option<HeaderValue>,
    handler: Handler,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("mode", &self.mode)
            .field("max_concurrent_streams", &self.max_concurrent_streams)
            .field("keep_alive_header", &self.keep_alive_header)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            max_concurrent_streams: None,
            keep_alive_header: None,
            handler: Arc::new(|req, ctx| Box::pin(echo(req, ctx))),
        }
    }

    /// Plain-text HTTP/1.1 (keep-alive, upgrades enabled).
    pub fn http1() -> Self {
        Self::new(Mode::Http1)
    }

    /// Plain-text HTTP/2 with prior knowledge only.
    pub fn h2c() -> Self {
        Self::new(Mode::H2c)
    }

    /// TLS with the `pki` leaf, offering `alpn`; each connection is served as HTTP/2 when
    /// ALPN picked `h2`, else as HTTP/1.1. URLs are `https://localhost:PORT/...`.
    pub fn tls(pki: &TestPki, alpn: &[&[u8]]) -> Self {
        Self::new(Mode::Tls(pki.server_config(alpn)))
    }

    /// Plain text: HTTP/2 when a connection starts with the h2 prior-knowledge preface,
    /// else HTTP/1.1 (decided by peeking, nothing is consumed).
    pub fn auto() -> Self {
        Self::new(Mode::Auto)
    }

    /// SETTINGS_MAX_CONCURRENT_STREAMS the HTTP/2 server advertises (hyper's default is
    /// 200).
    pub fn max_concurrent_streams(mut self, n: u32) -> Self {
        self.max_concurrent_streams = Some(n);
        self
    }

    /// Adds `Keep-Alive: <value>` to every HTTP/1 response (e.g. `Some("timeout=1")`).
    pub fn keep_alive_header(mut self, value: Option<&str>) -> Self {
        self.keep_alive_header =
            value.map(|v| HeaderValue::from_str(v).expect("valid Keep-Alive header value"));
        self
    }

    /// Replaces the [`echo`] handler. A custom handler can still call [`echo`].
    pub fn handler<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Request<Incoming>, ReqCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        self.handler = Arc::new(move |req, ctx| Box::pin(f(req, ctx)));
        self
    }

    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn run(self) -> Listening {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let stats = Arc::new(Stats::default());
        let tls = matches!(self.mode, Mode::Tls(_));
        let shared = Arc::new(Shared {
            mode: self.mode,
            max_concurrent_streams: self.max_concurrent_streams,
            keep_alive_header: self.keep_alive_header,
            handler: self.handler,
            stats: stats.clone(),
        });
        let task = tokio::spawn(accept_loop(listener, shared));
        Listening {
            addr,
            tls,
            stats,
            task,
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    accepted: AtomicUsize,
    open: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    seen: Mutex<Vec<SeenRequest>>,
}

impl Stats {
    fn seen(&self) -> std::sync::MutexGuard<'_, Vec<SeenRequest>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Shared {
    mode: Mode,
    max_concurrent_streams: Option<u32>,
    keep_alive_header: Option<HeaderValue>,
    handler: Handler,
    stats: Arc<Stats>,
}

/// A running upstream server. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct Listening {
    addr: SocketAddr,
    tls: bool,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Listening {
    /// The listening address (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path`, or `https://localhost:PORT` + `path` for TLS
    /// (the leaf certificate is for `localhost`). `path` should start with `/`.
    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://{}{path}", self.addr)
        }
    }

    /// Connections accepted so far (TCP level, before any TLS handshake).
    pub fn connections_accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::SeqCst)
    }

    /// Connections currently open on the server side.
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::SeqCst)
    }

    /// Requests seen so far (counted when the head arrives).
    pub fn requests_seen(&self) -> usize {
        self.stats.seen().len()
    }

    /// Copies of the request heads seen so far, in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.stats.seen().clone()
    }

    /// Requests in flight right now (head received, response body not finished/dropped).
    pub fn in_flight(&self) -> usize {
        self.stats.in_flight.load(Ordering::SeqCst)
    }

    /// The peak of [`Listening::in_flight`] so far.
    pub fn max_in_flight(&self) -> usize {
        self.stats.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Counted {
    counter: Arc<Stats>,
    which: fn(&Stats) -> &AtomicUsize,
}

impl Counted {
    /// Increments the counter; returns the guard and the counter's new value.
    fn enter(stats: &Arc<Stats>, which: fn(&Stats) -> &AtomicUsize) -> (Self, usize) {
        let now = which(stats).fetch_add(1, Ordering::SeqCst) + 1;
        let guard = Self {
            counter: stats.clone(),
            which,
        };
        (guard, now)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        (self.which)(&self.counter).fetch_sub(1, Ordering::SeqCst);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Owning the connection tasks here means aborting this task aborts them all.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((tcp, _)) => {
                    let conn_id = shared.stats.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                    conns.spawn(serve_conn(tcp, conn_id, shared.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "upstream accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Peeks until the h2 preface is known to be there or not. Never consumes bytes.
async fn starts_with_h2_preface(tcp: &TcpStream) -> bool {
    let mut buf = [0u8; 24];
    for _ in 0..2500 {
        let n = match tcp.peek(&mut buf).await {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n == 0 || buf[..n] != H2_PREFACE[..n] {
            return false;
        }
        if n == H2_PREFACE.len() {
            return true;
        }
        // A matching prefix, but short: wait for more bytes (bounded: ~5 s in all).
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

async fn serve_conn(tcp: TcpStream, conn_id: usize, shared: Arc<Shared>) {
    let (_open, _) = Counted::enter(&shared.stats, |s| &s.open);
    let _ = tcp.set_nodelay(true);
    match shared.mode.clone() {
        Mode::Http1 => serve_h1(tcp, conn_id, shared).await,
        Mode::H2c => serve_h2(tcp, conn_id, shared).await,
        Mode::Auto => {
            if starts_with_h2_preface(&tcp).await {
                serve_h2(tcp, conn_id, shared).await
            } else {
                serve_h1(tcp, conn_id, shared).await
            }
        }
        Mode::Tls(config) => {
            let accept = tokio_rustls::TlsAcceptor::from(config).accept(tcp);
            let tls = match tokio::time::timeout(Duration::from_secs(5), accept).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!(error = %e, "upstream TLS accept failed"),
                Err(_) => return tracing::debug!("upstream TLS accept timed out"),
            };
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                serve_h2(tls, conn_id, shared).await
            } else {
                serve_h1(tls, conn_id, shared).await
            }
        }
    }
}

async fn serve_h1<T>(io: T, conn_id: usize, shared: Arc<Shared>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let seq = Arc::new(AtomicUsize::new(0));
    let svc =
        hyper::service::service_fn(move |req| handle(req, conn_id, seq.clone(), shared.clone()));
    let res = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades()
        .await;
    if let Err(e) = res {
        tracing::debug!(error = %e, conn_id, "upstream h1 connection ended with error");
    }
}

async fn serve_h2<T>(io: T, conn_id: usize, shared: Arc<Shared>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor);
    builder.timer(TokioTimer);
    if let Some(n) = shared.max_concurrent_streams {
        builder.max_concurrent_streams(n);
    }
    let seq = Arc::new(AtomicUsize::new(0));
    let svc =
        hyper::service::service_fn(move |req| handle(req, conn_id, seq.clone(), shared.clone()));
    if let Err(e) = builder.serve_connection(TokioIo::new(io), svc).await {
        tracing::debug!(error = %e, conn_id, "upstream h2 connection ended with error");
    }
}

async fn handle(
    req: Request<Incoming>,
    conn_id: usize,
    seq: Arc<AtomicUsize>,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Infallible> {
    let req_seq = seq.fetch_add(1, Ordering::SeqCst) + 1;
    shared.stats.seen().push(SeenRequest {
        conn_id,
        req_seq,
        method: req.method().clone(),
        uri: req.uri().clone(),
        version: req.version(),
        headers: req.headers().clone(),
    });
    let (guard, now) = Counted::enter(&shared.stats, |s| &s.in_flight);
    shared.stats.max_in_flight.fetch_max(now, Ordering::SeqCst);

    let h1 = req.version() < Version::HTTP_2;
    let mut resp = (shared.handler)(req, ReqCtx { conn_id, req_seq }).await;
    let headers = resp.headers_mut();
    headers
        .entry("x-conn-id")
        .or_insert_with(|| HeaderValue::from(conn_id));
    headers
        .entry("x-req-seq")
        .or_insert_with(|| HeaderValue::from(req_seq));
    if let (true, Some(v)) = (h1, &shared.keep_alive_header) {
        headers.insert("keep-alive", v.clone());
    }
    Ok(resp.map(|inner| {
        Tracked {
            inner,
            _in_flight: guard,
        }
        .boxed_unsync()
    }))
}

/// A response body that keeps its request counted as in flight until it is dropped.
struct Tracked {
    inner: Body,
    _in_flight: Counted,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads and discards a request body.
pub async fn drain(mut body: Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

/// The default handler. Answers 200 with `x-method`, `x-path` (path and query exactly as
/// received), `x-version` (`HTTP/1.1`, `HTTP/2.0`) and the request body echoed back
/// (streamed, same length hint), except on these paths:
/// - `/bytes/N`: drains the request, answers N pattern bytes ([`crate::body::is_pattern`])
///   in 64 KiB frames with `Content-Length`; with a query containing `chunked`, without
///   a length (HTTP/1 then uses chunked coding).
/// - `/sleep/MS`: sleeps MS milliseconds, then echoes.
/// - `/status/CODE`: drains the request, answers CODE with an empty body.
///
/// A malformed N, MS or CODE gets a 400.
pub async fn echo(req: Request<Incoming>, _ctx: ReqCtx) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    let chunked = req.uri().query().is_some_and(|q| q.contains("chunked"));
    let mut builder = Response::builder()
        .header("x-method", req.method().as_str())
        .header("x-version", format!("{:?}", req.version()));
    if let Ok(v) = HeaderValue::from_str(&path_and_query) {
        builder = builder.header("x-path", v);
    }
    let bad = |what: &str| {
        Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(full(format!("bad {what}\n")))
            .expect("static response parts are valid")
    };

    if let Some(n) = path.strip_prefix("/bytes/") {
        let Ok(n) = n.parse::<u64>() else {
            return bad("byte count");
        };
        drain(req.into_body()).await;
        return builder
            .body(PatternBody::new(n, !chunked).boxed())
            .expect("valid response parts");
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let Some(status) = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        else {
            return bad("status code");
        };
        drain(req.into_body()).await;
        return builder
            .status(status)
            .body(empty())
            .expect("valid response parts");
    }
    if let Some(ms) = path.strip_prefix("/sleep/") {
        let Ok(ms) = ms.parse::<u64>() else {
            return bad("sleep time");
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let body = req
        .into_body()
        .map_err(|e| -> BoxError { Box::new(e) })
        .boxed_unsync();
    builder.body(body).expect("valid response parts")
}
