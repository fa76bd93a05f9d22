//! CORS-proxy mode's request path: rate limit → preflight → origin → target → SSRF check →
//! forward through the CORS pool → CORS headers on whatever comes back.
//!
//! The pure decisions live in `cors/`; this file is the IO glue. The SSRF check runs twice
//! on purpose: on literal hosts before anything else (no DNS lookup for `127.1`), and as the
//! pool's address filter on every resolved address right before connecting, so the pool
//! connects to exactly what was checked (no second lookup for DNS rebinding to exploit).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderValue, ORIGIN, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::app::{App, ConnInfo};
use crate::body::{ProxyBody, StreamLimits};
use crate::cors::{self, CorsPolicy, RateLimiter, TargetPolicy};
use crate::error::{Blame, GatewayError};
use crate::forward::{classify_pool_error, end_callback};
use crate::inbound::InboundBody;
use crate::rewrite::{self, RewriteCtx};

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

/// Serves one request on a CORS-mode listener.
pub async fn handle(
    app: &Arc<App>,
    mode: &CorsMode,
    conn: &ConnInfo,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let origin = req.headers().get(ORIGIN).cloned();
    let mut resp = match proxy(app, mode, conn, req, started).await {
        // Already complete: `add_response_headers` would strip its -Allow-Methods,
        // -Allow-Headers and -Max-Age as if they were the target's.
        Ok(Answer::Preflight(resp)) => return resp,
        Ok(Answer::Proxied(resp)) => resp,
        Err(err) => {
            let status = err.status().as_u16();
            tracing::info!(status, reason = err.message(), client = %conn.peer, "cors request refused");
            app.metrics
                .observe(app.metrics.gateway(), status, started.elapsed(), 0);
            err.into_response()
        }
    };
    // Every answer carries the CORS headers, errors included, so page code can read them.
    mode.policy
        .add_response_headers(origin.as_ref(), resp.headers_mut());
    resp
}

/// What [`proxy`] produced.
enum Answer {
    /// The gateway's preflight answer, with its CORS headers already set.
    Preflight(Response<ProxyBody>),
    /// The target's response (or the 429), still to be given the CORS headers.
    Proxied(Response<ProxyBody>),
}

async fn proxy(
    app: &Arc<App>,
    mode: &CorsMode,
    conn: &ConnInfo,
    mut req: Request<Incoming>,
    started: Instant,
) -> Result<Answer, GatewayError> {
    if let Some(rate) = &mode.rate {
        if let Err(wait) = rate.check(conn.peer.ip(), started) {
            let mut resp = GatewayError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Blame::Client,
                "Too many requests: slow down.",
            )
            .into_response();
            let secs = cors::retry_after_secs(wait);
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            app.metrics
                .observe(app.metrics.gateway(), 429, started.elapsed(), 0);
            return Ok(Answer::Proxied(resp));
        }
    }
    // `[limits] max_uri_bytes` holds on every listener; here the target URL is the
    // request target, so a client could otherwise make the gateway parse and send on
    // URLs as long as the header buffer.
    let target_len = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    if target_len > app.settings.max_uri_bytes {
        return Err(GatewayError::new(
            StatusCode::URI_TOO_LONG,
            Blame::Client,
            format!(
                "request target longer than {} bytes",
                app.settings.max_uri_bytes
            ),
        ));
    }
    if cors::is_preflight(req.method(), req.headers()) {
        mode.policy
            .check_origin(req.headers())
            .map_err(|e| GatewayError::new(StatusCode::FORBIDDEN, Blame::Client, e.to_string()))?;
        let (parts, ()) = mode.policy.preflight_response(req.headers()).into_parts();
        app.metrics.observe(
            app.metrics.gateway(),
            parts.status.as_u16(),
            started.elapsed(),
            0,
        );
        return Ok(Answer::Preflight(Response::from_parts(
            parts,
            ProxyBody::empty(),
        )));
    }
    mode.policy
        .check_origin(req.headers())
        .map_err(|e| GatewayError::new(StatusCode::FORBIDDEN, Blame::Client, e.to_string()))?;
    if !mode.policy.method_allowed(req.method()) {
        return Err(GatewayError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Blame::Client,
            format!("Method {} is not proxied.", req.method()),
        ));
    }
    let target = cors::target_from_query(req.uri().query())
        .map_err(|e| GatewayError::bad_request(e.to_string()))?;
    // Literals are checked whole here (no DNS for `127.1`); names only against the
    // allowlist, so an unlisted name costs no lookup. Their addresses are checked by the
    // pool's filter after its one lookup.
    let checked = match cors::parse_host_literal(&target.host) {
        Some(ip) => {
            let addr = SocketAddr::new(ip, target.port);
            mode.targets.check(&target.host, target.port, &[addr])
        }
        None => mode.targets.check_allowlist(&target.host, target.port),
    };
    checked.map_err(|r| GatewayError::new(StatusCode::FORBIDDEN, Blame::Client, r.to_string()))?;
    let authority = target
        .uri
        .authority()
        .cloned()
        .ok_or_else(|| GatewayError::bad_request("The \"url\" parameter has no host."))?;
    // The body follows the request; a 101 never comes back through this mode.
    let _ = crate::upgrade::take_client_side(&mut req);
    let (mut parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = target.uri.to_string();
    let ctx = RewriteCtx {
        client_addr: conn.peer,
        inbound_tls: conn.tls,
        upstream_authority: &authority,
        preserve_host: false,
        via: &app.settings.via,
    };
    rewrite::rewrite_request(&mut parts, target.uri.clone(), &ctx)
        .map_err(|e| GatewayError::bad_request(e.to_string()))?;
    // A proxied Upgrade would hand the client a raw tunnel to an arbitrary host.
    parts.headers.remove(http::header::UPGRADE);
    mode.policy.strip_request_headers(&mut parts.headers);
    let body = InboundBody::new(
        body,
        app.settings.client_body_idle,
        app.settings.max_body_bytes,
    )
    .with_end(parts.extensions.remove());
    let deadline = started + mode.total_timeout;
    let sent = tokio::time::timeout_at(
        deadline.into(),
        mode.client.request(Request::from_parts(parts, body)),
    )
    .await;
    let resp = match sent {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            if e.is_address_refused() {
                // The filter's own text names the rule and the address.
                let why = std::error::Error::source(&e)
                    .map_or_else(|| "target address refused".to_string(), ToString::to_string);
                return Err(GatewayError::new(StatusCode::FORBIDDEN, Blame::Client, why));
            }
            tracing::warn!(%method, target = %path, error = %e, "cors upstream request failed");
            return Err(classify_pool_error(&e));
        }
        Err(_) => {
            return Err(GatewayError::new(
                StatusCode::GATEWAY_TIMEOUT,
                Blame::Upstream,
                format!("target did not answer within {:?}", mode.total_timeout),
            ))
        }
    };
    let (mut parts, body) = resp.into_parts();
    if let (Some(max), Some(len)) = (
        mode.max_response_bytes,
        http_body::Body::size_hint(&body).exact(),
    ) {
        if len > max {
            return Err(GatewayError::new(
                StatusCode::BAD_GATEWAY,
                Blame::Upstream,
                format!("target response larger than {max} bytes"),
            ));
        }
    }
    // Redirects are passed to the client as they are: following them here would reach
    // targets the SSRF check never saw.
    rewrite::rewrite_response(&mut parts, &app.settings.via, false);
    let status = parts.status.as_u16();
    let reused = body.is_reused();
    let on_end = end_callback(
        app,
        app.metrics.gateway(),
        method,
        path,
        "cors".into(),
        authority.to_string(),
        status,
        reused,
        started,
    );
    let limits = StreamLimits {
        idle: app.settings.upstream_body_idle,
        max_bytes: mode.max_response_bytes,
        deadline: Some(deadline),
    };
    Ok(Answer::Proxied(Response::from_parts(
        parts,
        ProxyBody::stream(body, limits, Some(on_end)),
    )))
}
