//! The public face: `Client::request` = checkout → send → retry when safe → hand back the
//! response with a body that returns the connection when read to its end.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::header::HOST;
use http::uri::{PathAndQuery, Scheme, Uri};
use http::{HeaderValue, Request, Response, Version};
use http_body::Body;

use crate::body::{RequestBody, ResponseBody};
use crate::config::Builder;
use crate::error::{BoxError, Error, Kind};
use crate::key::Key;
use crate::lease::Lease;
use crate::pool::Shared;
use crate::replay::Replay;
use crate::retry::{self, Decision, Failure, History};
use crate::stats::Stats;
use crate::tls::Tls;

mod either;
mod manage;
pub use manage::{ConnectTo, InFlightCount, RequestTimeouts};

/// An HTTP client over a per-host connection pool.
///
/// Cloning is cheap and every clone shares the one pool; dropping the last clone closes
/// the idle connections and stops the background reaper. Requests need a tokio runtime.
///
/// ```no_run
/// # async fn run() -> Result<(), gangway_pool::Error> {
/// use http_body_util::{BodyExt, Empty};
/// let client = gangway_pool::Client::new();
/// let req = http::Request::get("http://127.0.0.1:3000/users/42")
///     .body(Empty::<bytes::Bytes>::new())
///     .expect("valid request");
/// let resp = client.request(req).await?;
/// let body = resp.into_body().collect().await?.to_bytes();
/// println!("{} bytes; pool: {:?}", body.len(), client.stats().total);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.shared.config)
            .finish()
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// The time limits one request asked for (or the client's defaults), when any.
#[derive(Clone, Copy)]
struct Timeouts {
    /// Until the response head.
    head: Option<Duration>,
    /// Until the whole response body.
    total: Option<Duration>,
}

impl Client {
    /// A client with every setting at its default (see [`Builder`]).
    ///
    /// # Panics
    /// Never: the default configuration reads no file.
    pub fn new() -> Self {
        // The default config has no PEM files to read, so building cannot fail; fall back
        // to a client without TLS rather than panic if rustls ever refuses its defaults.
        Self::from_config(Default::default()).unwrap_or_else(|_| Self {
            shared: Arc::new(Shared::new(Default::default(), None)),
        })
    }

    /// A builder to change the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_config(mut config: crate::config::Config) -> Result<Self, Error> {
        if config.proxies.from_env {
            let proxies = std::mem::take(&mut config.proxies);
            config.proxies = proxies.with_env(|name| std::env::var(name).ok())?;
        }
        let roots = crate::tls::RootSources {
            webpki: config.webpki_roots,
            native: config.native_roots,
            pem_files: &config.extra_roots_pem,
        };
        let tls = Tls::new(config.tls.clone(), &roots, config.version)?;
        Ok(Self {
            shared: Arc::new(Shared::new(config, Some(tls))),
        })
    }

    /// Sends a request and returns the response head with a streaming body.
    ///
    /// The URI must be absolute (`http://host:port/path` or `https://…`): it selects the
    /// pool. A `Host` header, if set, is sent as is (HTTP/1.1) or as `:authority` (HTTP/2);
    /// otherwise it is the URI's authority.
    ///
    /// Failures on a pooled connection are retried only when it is safe (see the crate
    /// docs, "Retries"); everything else is returned as an [`Error`].
    ///
    /// # Cancel safety
    /// Dropping the future cancels the request. An HTTP/1.1 connection with a request in
    /// flight is closed (HTTP/1.1 cannot abort one request otherwise); an HTTP/2 stream is
    /// reset and its connection kept.
    pub fn request<B>(
        &self,
        req: Request<B>,
    ) -> impl Future<Output = Result<Response<ResponseBody>, Error>> + Send + '_
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        // Not an `async fn`: its state would keep `req` beside the `send` future that took
        // it, and every caller up the chain copies that state when it moves the future. The
        // common request (no timeout asked) is the `send` future itself.
        let (key, timeouts) = match self.plan(&req) {
            Ok(plan) => plan,
            Err(e) => return either::Either::Failed { error: Some(e) },
        };
        match timeouts {
            None => either::Either::Plain {
                future: self.send(key, req),
            },
            Some(timeouts) => either::Either::Timed {
                future: Box::pin(self.send_timed(key, req, timeouts)),
            },
        }
    }

    /// The pool key and, when any was asked, the timeouts.
    fn plan<B>(&self, req: &Request<B>) -> Result<(Key, Option<Timeouts>), Error> {
        // Extensions are empty on most requests: then these are one branch each.
        let pinned = req.extensions().get::<ConnectTo>().map(|c| c.0);
        let key = self.shared.config.proxies.key(req.uri(), pinned)?;
        let config = &self.shared.config;
        let asked = req.extensions().get::<RequestTimeouts>();
        let total = asked.and_then(|t| t.total).or(config.request_timeout);
        let head = asked
            .and_then(|t| t.response_head)
            .or(config.response_head_timeout);
        let timeouts = (total.is_some() || head.is_some()).then_some(Timeouts { head, total });
        Ok((key, timeouts))
    }

    /// [`Client::request`] with a head and/or total timeout (boxed there: the rarer path).
    async fn send_timed<B>(
        &self,
        key: Key,
        req: Request<B>,
        Timeouts { head, total }: Timeouts,
    ) -> Result<Response<ResponseBody>, Error>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let start = tokio::time::Instant::now();
        let total_at = total.map(|t| start + t);
        let head_at = match (head.map(|h| start + h), total_at) {
            (Some(h), Some(t)) => Some(h.min(t)),
            (h, t) => h.or(t),
        };
        let resp = match head_at {
            Some(at) => {
                let host = key.clone();
                match tokio::time::timeout_at(at, self.send(key, req)).await {
                    Ok(resp) => resp?,
                    Err(_) => {
                        let waited = at.saturating_duration_since(start);
                        return Err(Error::new(Kind::Timeout)
                            .for_host(&host)
                            .with(format!("no response head within {waited:?}")));
                    }
                }
            }
            None => self.send(key, req).await?,
        };
        Ok(match total_at {
            Some(at) => {
                resp.map(|body| body.with_deadline(at, at.saturating_duration_since(start)))
            }
            None => resp,
        })
    }

    /// Sends with retries and returns the response head.
    async fn send<B>(&self, key: Key, req: Request<B>) -> Result<Response<ResponseBody>, Error>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = req.into_parts();
        let limit = self.shared.config.retry_body_limit;
        let (body, replay_body) = RequestBody::prepare(body, limit)
            .await
            .map_err(|e| e.for_host(&key))?;
        // A copy of the head, to replay a request that was written on a connection that
        // then died. Only kept when a replay could be allowed at all.
        let may_replay = retry::is_idempotent(&parts.method)
            || self.shared.config.version != crate::config::HttpVersionPolicy::Http1Only;
        let replay = match (may_replay, replay_body) {
            (true, Some(bytes)) => Some(Replay::capture(&parts, bytes)),
            _ => None,
        };
        let mut req = Request::from_parts(parts, body);
        let mut history = History::default();
        let mut fresh_only = false;
        loop {
            history.attempts += 1;
            let mut lease = match crate::checkout::lease(&self.shared, &key, fresh_only).await {
                Ok(lease) => lease,
                // No connection: the request never left, another server may take it.
                Err(e) => return Err(e.with_request(Some(give_back(req, &key)))),
            };
            let reused = lease.is_reused();
            let method = req.method().clone();
            let outgoing = shape_for_wire(req, &key, lease.is_h2())?;
            match lease.send(outgoing).await {
                Ok(resp) => return Ok(self.finish(resp, lease)),
                Err(failed) => {
                    let decision =
                        retry::decide(&method, failed.failure, reused, replay.is_some(), history);
                    let (next, back) = match (decision, failed.request, &replay) {
                        (Decision::Fail, back, _) => (None, back),
                        (_, Some(back), _) => (Some(back), None),
                        (_, None, Some(replay)) => {
                            history.replayed = true;
                            (replay.request(), None)
                        }
                        (_, None, None) => (None, None),
                    };
                    let Some(next) = next else {
                        drop(lease);
                        // Given back: the unwritten request, else the replay copy when
                        // another server may safely take it (see `Error::take_request`).
                        let back = back.or_else(|| {
                            let safe =
                                retry::is_idempotent(&method) || failed.failure == Failure::Refused;
                            replay.as_ref().filter(|_| safe).and_then(Replay::request)
                        });
                        let back = back.map(|req| give_back(req, &key));
                        return Err(
                            send_error(&key, failed.failure, failed.error).with_request(back)
                        );
                    };
                    tracing::debug!(upstream = %key, failure = ?failed.failure, attempt = history.attempts, "retrying upstream request");
                    self.shared.count_retry(&key, failed.failure);
                    fresh_only = decision == Decision::RetryFresh;
                    req = next;
                    // The failed connection is closed as the lease drops here.
                    drop(lease);
                }
            }
        }
    }

    fn finish(
        &self,
        resp: Response<hyper::body::Incoming>,
        mut lease: Lease,
    ) -> Response<ResponseBody> {
        lease.note_response(&resp, self.shared.config.keep_alive_margin);
        resp.map(|body| ResponseBody::new(body, lease))
    }

    /// A snapshot of the pool's counters, per host and in total. Cheap: one short lock.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

fn send_error(key: &Key, failure: Failure, error: BoxError) -> Error {
    let err = Error::new(Kind::Request).for_host(key).with(error);
    tracing::debug!(upstream = %key, ?failure, error = %err, "upstream request failed");
    err
}

/// The request as [`Error::take_request`] documents it, whatever form it was in (the
/// caller's, shaped for the wire, or a replay copy in origin form): an absolute URI with
/// the key's scheme and authority, and a `Host` header.
fn give_back(mut req: Request<RequestBody>, key: &Key) -> Request<RequestBody> {
    if !req.headers().contains_key(HOST) {
        // Shaped for HTTP/2, the caller's `Host` moved into the URI's authority.
        let authority = req.uri().authority().unwrap_or(key.authority());
        if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
            req.headers_mut().insert(HOST, host);
        }
    }
    if key.proxy().is_some() && !key.is_https() {
        // Ours, for the proxy: not the caller's to send elsewhere.
        req.headers_mut().remove(http::header::PROXY_AUTHORIZATION);
    }
    let pq = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    if let Ok(uri) = Uri::builder()
        .scheme(key.scheme())
        .authority(key.authority().clone())
        .path_and_query(pq)
        .build()
    {
        *req.uri_mut() = uri;
    }
    req
}

/// Puts the request in the form the connection's protocol wants: origin-form and a `Host`
/// header for HTTP/1.1, absolute-form with the authority for HTTP/2.
fn shape_for_wire(
    mut req: Request<RequestBody>,
    key: &Key,
    h2: bool,
) -> Result<Request<RequestBody>, Error> {
    let pq = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    if h2 {
        // HTTP/2 carries the host in :authority; a Host header (the caller's choice of
        // virtual host) takes its place there.
        let authority = match req.headers_mut().remove(HOST) {
            Some(host) => http::uri::Authority::try_from(host.as_bytes())
                .map_err(|e| Error::new(Kind::InvalidUri).for_host(key).with(e))?,
            None => key.authority().clone(),
        };
        let uri = Uri::builder()
            .scheme(key.scheme())
            .authority(authority)
            .path_and_query(pq)
            .build()
            .map_err(|e| Error::new(Kind::InvalidUri).for_host(key).with(e))?;
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_2;
    } else {
        if !req.headers().contains_key(HOST) {
            let host = HeaderValue::from_str(key.authority().as_str())
                .map_err(|e| Error::new(Kind::InvalidUri).for_host(key).with(e))?;
            req.headers_mut().insert(HOST, host);
        }
        match key.proxy() {
            // A forward proxy takes the absolute-form and our credentials on every request;
            // https targets go through a CONNECT tunnel and look direct from here.
            Some(proxy) if !key.is_https() => {
                if let Some(auth) = proxy.auth() {
                    req.headers_mut()
                        .insert(http::header::PROXY_AUTHORIZATION, auth.clone());
                }
                *req.uri_mut() = Uri::builder()
                    .scheme(Scheme::HTTP)
                    .authority(key.authority().clone())
                    .path_and_query(pq)
                    .build()
                    .map_err(|e| Error::new(Kind::InvalidUri).for_host(key).with(e))?;
            }
            _ => *req.uri_mut() = Uri::from(pq),
        }
        *req.version_mut() = Version::HTTP_11;
    }
    Ok(req)
}
