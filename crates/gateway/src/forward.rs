//! Route mode: route → rewrite → pool → stream the response back.
//!
//! Every failure becomes a short text response with one log line (see `error.rs`); the
//! upstream's own statuses pass through untouched, and its body streams frame by frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::app::{App, ConnInfo};
use crate::body::{OnEnd, Outcome, ProxyBody, StreamLimits};
use crate::error::{text_response, GatewayError};
use crate::inbound::{InboundBody, InboundError, Progress};
use crate::metrics::Slot;
use crate::rewrite::{self, RewriteCtx};
use crate::upgrade;

/// Serves one request on a route-mode listener.
pub async fn handle(
    app: &Arc<App>,
    conn: &ConnInfo,
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if pq.len() > app.settings.max_uri_bytes {
        let err = GatewayError::new(
            StatusCode::URI_TOO_LONG,
            crate::error::Blame::Client,
            format!(
                "request target longer than {} bytes",
                app.settings.max_uri_bytes
            ),
        );
        return refuse(app, app.metrics.unrouted(), &req, err, started);
    }
    // Reuses the inbound target when it is forwarded unchanged (no copy).
    let routed = match req.uri().path_and_query() {
        Some(pq) => app.router.route_pq(pq),
        None => app.router.route(pq),
    };
    let m = match routed {
        Ok(m) => m,
        Err(e) => {
            let err = GatewayError::new(e.status(), crate::error::Blame::Client, e.to_string());
            return refuse(app, app.metrics.unrouted(), &req, err, started);
        }
    };
    let route = m.route;
    let route_index = app
        .router
        .routes()
        .iter()
        .position(|r| std::ptr::eq(r, route));
    let slot = route_index.map_or(app.metrics.unrouted(), |i| app.metrics.route(i));
    if let Some(err) = body_too_large(app, &req) {
        return refuse(app, slot, &req, err, started);
    }
    let client_upgrade = upgrade::take_client_side(&mut req);
    let (mut parts, body) = req.into_parts();
    let ctx = RewriteCtx {
        client_addr: conn.peer,
        inbound_tls: conn.tls,
        upstream_authority: &route.upstream.authority,
        preserve_host: route.preserve_host,
        via: &app.settings.via,
    };
    let method = parts.method.clone();
    // Shares the request's bytes (no copy): only logs read it.
    let target = parts.uri.path_and_query().cloned();
    let path = target.as_ref().map_or("", PathAndQuery::as_str);
    if let Err(e) = rewrite::rewrite_request(&mut parts, m.upstream_uri, &ctx) {
        let err = GatewayError::bad_request(e.to_string());
        return refuse_parts(app, slot, &method, path, err, started);
    }
    // A request without a body never moves on: no shared clock needed.
    let progress = if http_body::Body::is_end_stream(&body) {
        Progress::fixed()
    } else {
        Progress::new()
    };
    let body = InboundBody::new(
        body,
        app.settings.client_body_idle,
        app.settings.max_body_bytes,
    )
    .with_progress(progress.clone())
    .with_end(parts.extensions.remove());
    let upstream_req = Request::from_parts(parts, body);
    let timeout = route
        .response_timeout
        .unwrap_or(app.settings.upstream_response_timeout);
    // Pinned here, not inside `response_within`: a future passed by value to an async fn
    // and pinned there is stored twice in its state (the argument and the pinned local).
    let request = std::pin::pin!(app.client.request(upstream_req));
    let resp = match response_within(request, timeout, &progress).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            let err = classify_pool_error(&e);
            tracing::warn!(%method, path = %path, route = %route.name, upstream = %route.upstream, status = err.status().as_u16(), error = %e, "upstream request failed");
            return finish_error(app, slot, &method, path, err, started);
        }
        Err(_) => {
            let err = GatewayError::new(
                StatusCode::GATEWAY_TIMEOUT,
                crate::error::Blame::Upstream,
                format!("upstream did not answer within {timeout:?}"),
            );
            tracing::warn!(%method, path = %path, route = %route.name, upstream = %route.upstream, status = 504, "upstream response timed out");
            return finish_error(app, slot, &method, path, err, started);
        }
    };
    let (mut parts, body) = resp.into_parts();
    let upgraded = parts.status == StatusCode::SWITCHING_PROTOCOLS && client_upgrade.is_some();
    rewrite::rewrite_response(&mut parts, &app.settings.via, upgraded);
    let status = parts.status.as_u16();
    let reused = body.is_reused();
    if upgraded {
        if let Some(client_side) = client_upgrade {
            upgrade::splice(client_side, &mut parts);
        }
    }
    let on_end = route_end_callback(
        app,
        slot,
        method,
        target,
        route_index,
        status,
        reused,
        started,
    );
    Response::from_parts(
        parts,
        ProxyBody::stream(
            body,
            StreamLimits {
                idle: app.settings.upstream_body_idle,
                ..Default::default()
            },
            Some(on_end),
        ),
    )
}

/// Awaits the upstream's response head, allowing `timeout` from the moment the request was
/// sent: the clock restarts whenever the request body moves on, so a slow upload is not
/// taken for a slow upstream, while an upstream that stops reading the body (no movement)
/// or answers nothing after it (no movement either) still times out.
async fn response_within<F: std::future::Future>(
    mut fut: std::pin::Pin<&mut F>,
    timeout: Duration,
    progress: &Progress,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, fut.as_mut()).await {
            Ok(out) => return Ok(out),
            Err(elapsed) => {
                let next = tokio::time::Instant::from_std(progress.last()) + timeout;
                if next <= deadline {
                    return Err(elapsed);
                }
                deadline = next;
            }
        }
    }
}

/// 413 before reading a byte when the declared length is over the limit.
fn body_too_large(app: &App, req: &Request<Incoming>) -> Option<GatewayError> {
    let max = app.settings.max_body_bytes?;
    let declared = http_body::Body::size_hint(req.body()).lower();
    (declared > max).then(|| {
        GatewayError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            crate::error::Blame::Client,
            format!("request body larger than {max} bytes"),
        )
    })
}

/// Maps a pool error, telling the client's own body failures (413, 408) apart.
pub(crate) fn classify_pool_error(e: &gangway_pool::Error) -> GatewayError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(inbound) = err.downcast_ref::<InboundError>() {
            let status = match inbound {
                InboundError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                InboundError::Idle(_) => StatusCode::REQUEST_TIMEOUT,
                InboundError::Client(_) => StatusCode::BAD_REQUEST,
            };
            return GatewayError::new(status, crate::error::Blame::Client, inbound.to_string());
        }
        cur = err.source();
    }
    GatewayError::from_pool(e)
}

fn refuse(
    app: &App,
    slot: Slot,
    req: &Request<Incoming>,
    err: GatewayError,
    started: Instant,
) -> Response<ProxyBody> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    tracing::info!(method = %req.method(), path, status = err.status().as_u16(), reason = err.message(), "request refused");
    finish_error(app, slot, req.method(), path, err, started)
}

fn refuse_parts(
    app: &App,
    slot: Slot,
    method: &http::Method,
    path: &str,
    err: GatewayError,
    started: Instant,
) -> Response<ProxyBody> {
    tracing::info!(%method, path, status = err.status().as_u16(), reason = err.message(), "request refused");
    finish_error(app, slot, method, path, err, started)
}

fn finish_error(
    app: &App,
    slot: Slot,
    method: &http::Method,
    path: &str,
    err: GatewayError,
    started: Instant,
) -> Response<ProxyBody> {
    let status = err.status().as_u16();
    let resp = err.into_response();
    let elapsed = started.elapsed();
    app.metrics.observe(slot, status, elapsed, 0);
    if app.settings.access_log {
        tracing::info!(target: "gangway::access", %method, path, status, duration_ms = elapsed.as_secs_f64() * 1e3, "access");
    }
    resp
}

/// [`end_callback`] for route mode, without a string built per request: the path shares
/// the request's bytes, and the route's name and upstream are read from the routing table
/// only when an access log line is written.
#[allow(clippy::too_many_arguments)]
fn route_end_callback(
    app: &Arc<App>,
    slot: Slot,
    method: http::Method,
    path: Option<PathAndQuery>,
    route_index: Option<usize>,
    status: u16,
    reused: bool,
    started: Instant,
) -> OnEnd {
    let app = Arc::clone(app);
    Box::new(move |bytes, outcome| {
        let elapsed = started.elapsed();
        app.metrics.observe(slot, status, elapsed, bytes);
        if app.settings.access_log {
            let route = route_index.and_then(|i| app.router.routes().get(i));
            let path = path.as_ref().map_or("", PathAndQuery::as_str);
            let name = route.map_or("", |r| r.name.as_str());
            let upstream: &dyn std::fmt::Display = match route {
                Some(r) => &r.upstream,
                None => &"",
            };
            log_access(
                &method, path, status, name, upstream, bytes, reused, outcome, elapsed,
            );
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn log_access(
    method: &http::Method,
    path: &str,
    status: u16,
    route: &str,
    upstream: &dyn std::fmt::Display,
    bytes: u64,
    reused: bool,
    outcome: Outcome,
    elapsed: Duration,
) {
    let outcome = match outcome {
        Outcome::Complete => "complete",
        Outcome::Aborted => "aborted",
        Outcome::ClientGone => "client_gone",
    };
    tracing::info!(
        target: "gangway::access",
        %method, path, status, route, %upstream, bytes, reused, outcome,
        duration_ms = elapsed.as_secs_f64() * 1e3,
        "access"
    );
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn end_callback(
    app: &Arc<App>,
    slot: Slot,
    method: http::Method,
    path: String,
    route: String,
    upstream: String,
    status: u16,
    reused: bool,
    started: Instant,
) -> OnEnd {
    let app = Arc::clone(app);
    Box::new(move |bytes, outcome| {
        let elapsed = started.elapsed();
        app.metrics.observe(slot, status, elapsed, bytes);
        if app.settings.access_log {
            log_access(
                &method, &path, status, &route, &upstream, bytes, reused, outcome, elapsed,
            );
        }
    })
}

/// The health check answer.
pub fn health() -> Response<ProxyBody> {
    text_response(StatusCode::OK, "ok\n")
}
