//! One [`Exchange`] per request: built when the request arrives, carried through whichever
//! path serves it, and ended exactly once, which is where the request is counted in the
//! metrics and its access line written. Every exit path reaches that end by construction:
//! a response of the gateway's own ends it at once ([`Exchange::finish`]), a streamed one
//! carries it in its body and ends it with the body, and a request abandoned before it had a
//! response (the client went away) ends it when it is dropped.
//!
//! Built from what the request already holds: the target and header values share the
//! request's bytes, so building one allocates nothing. What only the access line reads is
//! kept out of line (`Detail`) and gathered only when access lines are written: the
//! exchange is moved into the response body's box, and every byte of it is copied there.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, HeaderValue, Method, Request, Response, Version};

use crate::app::{App, ConnInfo};
use crate::observe::metrics::Slot;
use crate::observe::span::RequestTrace;

use crate::observe::access::AccessRecord;

use super::access;
use super::body::{Outcome, ProxyBody};
use super::error::{Fault, GatewayError};
use super::inbound::Progress;

/// Status recorded for a request abandoned before it had a response (nginx's spelling).
const CLIENT_CLOSED: u16 = 499;

/// One request, from its head to the end of its response body.
#[derive(Debug)]
pub struct Exchange {
    app: Arc<App>,
    started: Instant,
    method: Method,
    version: Version,
    target: Option<PathAndQuery>,
    slot: Slot,
    route: Option<u32>,
    /// `Some` only when access lines are written.
    detail: Option<Box<Detail>>,
    attempts: u32,
    reused: bool,
    status: u16,
    bytes_in: Option<Progress>,
    error: Option<GatewayError>,
    /// Kept from the client or made here; sent upstream, returned, logged.
    request_id: HeaderValue,
    /// The id was made here: hex, logged as it is.
    request_id_made: bool,
    /// `Some` only when spans are exported (`[tracing] otlp_endpoint`).
    /// Boxed: inline, it would make every request's exchange larger to move, traced or not.
    trace: Option<Box<RequestTrace>>,
    done: bool,
}

/// What only the access line reads.
#[derive(Debug)]
struct Detail {
    client: SocketAddr,
    /// `Host` (or `:authority`) and `User-Agent`, copied into buffers the recycled box keeps:
    /// a copy of a few dozen bytes costs less than holding the header values, whose
    /// reference counts are taken here and released at the line (often the last release of
    /// the connection's read buffer, which then frees it here instead of in hyper).
    host: Copied,
    user_agent: Copied,
    upstream: Option<Authority>,
    /// From the start to the upstream's response head.
    upstream_head: Option<Duration>,
}

/// Spare [`Detail`] boxes kept per thread, at most this many: one per request in flight
/// on a worker, up to a bound (a few KiB).
const SPARE_DETAILS: usize = 64;

thread_local! {
    /// Boxes of ended exchanges, reused by the next ones on the same thread: with the
    /// access log on, a request costs no malloc and free for its `Detail` (which, at its
    /// size and with several requests in flight, often missed glibc's fast caches).
    // Boxes, not `Detail`s: the point is to keep the allocations the exchanges point to.
    #[allow(clippy::vec_box)]
    static SPARES: RefCell<Vec<Box<Detail>>> = const { RefCell::new(Vec::new()) };
}

/// Largest [`Copied`] buffer a spare box keeps.
const KEEP_COPIED: usize = 1024;

/// An optional header value's bytes, in a buffer kept from request to request.
#[derive(Debug, Default)]
struct Copied {
    bytes: Vec<u8>,
    present: bool,
}

impl Copied {
    fn set(&mut self, value: Option<&[u8]>) {
        if let Some(value) = value {
            self.bytes.extend_from_slice(value);
            self.present = true;
        }
    }

    fn get(&self) -> Option<&[u8]> {
        self.present.then_some(self.bytes.as_slice())
    }

    fn clear(&mut self) {
        // A rare huge value does not stay with a spare box for the thread's life.
        if self.bytes.capacity() > KEEP_COPIED {
            self.bytes = Vec::new();
        }
        self.bytes.clear();
        self.present = false;
    }
}

impl Detail {
    fn boxed(client: SocketAddr) -> Box<Detail> {
        let spare = SPARES.try_with(|spares| spares.try_borrow_mut().ok()?.pop());
        match spare.ok().flatten() {
            // The spare's buffers keep their capacity; `recycle` emptied everything else.
            Some(mut spare) => {
                spare.client = client;
                spare
            }
            None => Box::new(Detail {
                client,
                host: Copied::default(),
                user_agent: Copied::default(),
                upstream: None,
                upstream_head: None,
            }),
        }
    }

    /// Keeps `detail`'s box (and its buffers) for the next exchange on this thread.
    fn recycle(mut detail: Box<Detail>) {
        detail.host.clear();
        detail.user_agent.clear();
        detail.upstream = None;
        detail.upstream_head = None;
        // During thread teardown the spares are gone: the box is then just freed.
        let _ = SPARES.try_with(|spares| {
            if let Ok(mut spares) = spares.try_borrow_mut() {
                if spares.len() < SPARE_DETAILS {
                    spares.push(detail);
                }
            }
        });
    }
}

impl Exchange {
    /// Starts the exchange for `req`, counted as unrouted until a path says otherwise.
    pub fn new<B>(app: &Arc<App>, conn: &ConnInfo, req: &Request<B>) -> Self {
        let (request_id, made) = app.request_id.choose_marked(req.headers());
        let mut ex = Self::blank(app, conn, req.method().clone(), request_id);
        ex.request_id_made = made;
        ex.version = req.version();
        ex.target = req.uri().path_and_query().cloned();
        if let Some(tracer) = &app.tracer {
            ex.trace = Some(RequestTrace::start_boxed(tracer, req.headers()));
        }
        if let Some(detail) = &mut ex.detail {
            let (host, user_agent) = access::host_and_user_agent(req.headers());
            // HTTP/2 carries the host as `:authority`.
            let authority = || Some(req.uri().authority()?.as_str().as_bytes());
            detail
                .host
                .set(host.map(HeaderValue::as_bytes).or_else(authority));
            detail.user_agent.set(user_agent.map(HeaderValue::as_bytes));
        }
        ex
    }

    /// Records a request hyper answered itself with `status` before handing it over (a
    /// head it could not parse, or over its size limits): its method and target are
    /// unknown (`-`).
    pub fn unparsed(app: &Arc<App>, conn: &ConnInfo, status: http::StatusCode) {
        // An extension method this short is stored inline: no allocation.
        let method = Method::from_bytes(b"-").unwrap_or_default();
        let request_id = crate::observe::request_id::generate();
        let mut ex = Self::blank(app, conn, method, request_id);
        ex.request_id_made = true;
        ex.status = status.as_u16();
        ex.error = Some(GatewayError::new(
            status,
            Fault::Client,
            "malformed request head",
        ));
        ex.end(0, Outcome::Complete);
    }

    fn blank(app: &Arc<App>, conn: &ConnInfo, method: Method, mut request_id: HeaderValue) -> Self {
        // A value that never repeats is not worth an HPACK table entry: marked sensitive, an
        // HTTP/2 encoder sends it as a never-indexed literal instead of inserting it (and
        // evicting the entries that do repeat, like `via`) and comparing it with every
        // earlier id still in the table, on every response. HTTP/1 ignores the mark.
        request_id.set_sensitive(true);
        app.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            app: Arc::clone(app),
            started: Instant::now(),
            method,
            version: Version::HTTP_11,
            target: None,
            slot: app.metrics.unrouted(),
            route: None,
            detail: app.access.is_some().then(|| Detail::boxed(conn.peer)),
            attempts: 0,
            reused: false,
            status: 0,
            bytes_in: None,
            error: None,
            request_id,
            request_id_made: false,
            trace: None,
            done: false,
        }
    }

    /// The client for the access line when it is not the peer (a trusted proxy's
    /// `X-Forwarded-For`); the port is unknown, so 0.
    pub fn set_client(&mut self, ip: std::net::IpAddr) {
        if let Some(detail) = &mut self.detail {
            detail.client = SocketAddr::new(ip, 0);
        }
    }

    /// When the request arrived.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The request id (visible ASCII).
    pub fn request_id(&self) -> &HeaderValue {
        &self.request_id
    }

    /// Counts the request in `slot` (a route's, or the gateway's own).
    pub fn count_in(&mut self, slot: Slot) {
        self.slot = slot;
    }

    /// The request matched route number `index`.
    pub fn routed(&mut self, index: usize) {
        self.route = u32::try_from(index).ok();
        self.slot = self.app.metrics.route(index);
    }

    /// The upstream the request is sent to, and the count of its body's bytes.
    pub fn sending(&mut self, upstream: &Authority, body: &Progress) {
        if let Some(detail) = &mut self.detail {
            detail.upstream = Some(upstream.clone());
        }
        self.bytes_in = Some(body.clone());
        self.attempts = 1;
    }

    /// A further attempt of a group route, on another server: the access line names the
    /// server that answered and counts every attempt.
    pub fn retrying(&mut self, upstream: &Authority) {
        if let Some(detail) = &mut self.detail {
            detail.upstream = Some(upstream.clone());
        }
        self.attempts = self.attempts.saturating_add(1);
    }

    /// An upstream attempt to `server` starts: with tracing on, its `traceparent` (and
    /// `tracestate`) go into the upstream request's `headers`.
    pub(super) fn trace_attempt(&mut self, headers: &mut HeaderMap, server: &Authority) {
        if let (Some(trace), Some(tracer)) = (&mut self.trace, &self.app.tracer) {
            trace.begin_attempt(tracer, self.method.as_str(), headers, server);
        }
    }

    /// The upstream's response head arrived at `at` with `status`, on a reused connection or
    /// not: observed in the route's time-to-head histogram and kept for the access line; the
    /// attempt's span (with tracing on) ends there.
    pub(super) fn head_arrived(&mut self, status: http::StatusCode, reused: bool, at: Instant) {
        // One conversion of the clock reading for the histogram and the line.
        let to_head = at.saturating_duration_since(self.started);
        self.reused = reused;
        self.app.metrics.observe_head(self.slot, to_head);
        if let Some(detail) = &mut self.detail {
            detail.upstream_head = Some(to_head);
        }
        if let (Some(trace), Some(tracer)) = (&mut self.trace, &self.app.tracer) {
            trace.answered(tracer, self.method.as_str(), self.reused, status.as_u16());
        }
    }

    /// The attempt failed with `failure` and is tried again on another server (a group's
    /// hook: the next attempt's span names the reason).
    pub fn attempt_failed(&mut self, failure: crate::upstream::retry::Failure) {
        if let (Some(trace), Some(tracer)) = (&mut self.trace, &self.app.tracer) {
            trace.attempt_failed(tracer, self.method.as_str(), failure);
        }
    }

    /// Answers with `err`, which the access line reports.
    pub fn fail(&mut self, err: GatewayError) -> Response<ProxyBody> {
        let resp = err.to_response();
        self.error = Some(err);
        resp
    }

    /// The response is ready: a body of the gateway's own ends the exchange now, a
    /// streamed one carries it to its end.
    pub fn finish(mut self, mut resp: Response<ProxyBody>) -> Response<ProxyBody> {
        self.status = resp.status().as_u16();
        resp.headers_mut()
            .insert(self.app.request_id.header.clone(), self.request_id.clone());
        let own = resp.body().full_len();
        if let Some(exchange) = resp.body_mut().attach(self) {
            exchange.end(own.unwrap_or(0), Outcome::Complete);
        }
        resp
    }

    /// The response body ended after `bytes_out` bytes.
    pub fn end(mut self, bytes_out: u64, outcome: Outcome) {
        self.record(bytes_out, outcome);
    }

    /// [`Exchange::end`] where it lies (a streamed body's box): no copy of it is made.
    pub(super) fn end_in_place(&mut self, bytes_out: u64, outcome: Outcome) {
        if !self.done {
            self.record(bytes_out, outcome);
        }
    }

    /// The one place a request is counted and logged.
    fn record(&mut self, bytes_out: u64, outcome: Outcome) {
        self.done = true;
        self.app.in_flight.fetch_sub(1, Ordering::Relaxed);
        let elapsed = self.started.elapsed();
        let status = if self.status == 0 {
            CLIENT_CLOSED
        } else {
            self.status
        };
        self.app
            .metrics
            .observe(self.slot, status, elapsed, bytes_out);
        let fault = self
            .error
            .as_ref()
            .map(GatewayError::fault)
            .or(match outcome {
                Outcome::Complete => None,
                Outcome::Aborted => Some(Fault::Upstream),
                Outcome::ClientGone => Some(Fault::Client),
            });
        if let (Some(trace), Some(tracer)) = (self.trace.take(), &self.app.tracer) {
            let route = self
                .route
                .and_then(|i| self.app.router.routes().get(i as usize))
                .map_or("", |r| r.name.as_str());
            trace.finish(tracer, self.method.as_str(), route, status, elapsed);
        }
        let path = self.target.as_ref().map_or("", PathAndQuery::as_str);
        if let (Some(detail), Some(log)) = (&self.detail, &self.app.access) {
            // Built here, in the record's own terms: no intermediate copy of the fields.
            log.write(&AccessRecord::<[u8]> {
                time: access::arrival(elapsed),
                client: Some(detail.client),
                method: self.method.as_str(),
                host: detail.host.get(),
                path,
                protocol: access::protocol(self.version),
                status,
                bytes_in: self.bytes_in.as_ref().map_or(0, Progress::bytes),
                bytes_out,
                duration: elapsed,
                upstream: detail.upstream.as_ref().map(Authority::as_str),
                upstream_time: detail.upstream_head,
                attempts: self.attempts,
                reused: self.reused,
                outcome: access::outcome(outcome),
                fault: fault.map(Fault::as_str),
                request_id: self.request_id.as_bytes(),
                request_id_plain: self.request_id_made,
                user_agent: detail.user_agent.get(),
                referer: None,
            });
        } else if let Some(err) = self.error.as_ref().filter(|e| e.fault() != Fault::Upstream) {
            // Without access lines, a refusal still gets its one line. Upstream failures
            // are logged where they happen, under flood control (`request::upstream`).
            let (method, status) = (&self.method, err.status().as_u16());
            tracing::info!(%method, path, status, reason = err.message(), "request refused");
        }
        if let Some(detail) = self.detail.take() {
            Detail::recycle(detail);
        }
    }
}

impl Drop for Exchange {
    /// Dropped without having ended: the request was abandoned before its response (the
    /// client went away, or the connection was closed at shutdown).
    fn drop(&mut self) {
        if !self.done {
            self.record(0, Outcome::ClientGone);
        }
    }
}
