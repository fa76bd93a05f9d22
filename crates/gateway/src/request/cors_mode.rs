//! CORS-proxy mode: rate limit → preflight → origin → target URL → SSRF check → a
//! [`Target`] for the shared upstream leg; CORS headers on whatever comes back.
//!
//! The pure decisions live in `cors/`; this file is the glue. The SSRF check runs twice
//! on purpose: on literal hosts before anything else (no DNS lookup for `127.1`), and as the
//! pool's address filter on every resolved address right before connecting, so the pool
//! connects to exactly what was checked (no second lookup for DNS rebinding to exploit).

use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{HeaderValue, ORIGIN, RETRY_AFTER};
use http::uri::Authority;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::app::{App, ConnInfo, CorsMode};
use crate::cors;

use super::body::ProxyBody;
use super::error::{Fault, GatewayError};
use super::exchange::Exchange;
use super::upstream::{self, Target, Wait};

/// Serves one request on a CORS-mode listener.
pub async fn handle(
    app: &Arc<App>,
    mode: &CorsMode,
    conn: &ConnInfo,
    ex: &mut Exchange,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    ex.count_in(app.metrics.gateway());
    let origin = req.headers().get(ORIGIN).cloned();
    let mut resp = match answer(app, mode, conn, ex, req).await {
        // Already complete: `add_response_headers` would strip its -Allow-Methods,
        // -Allow-Headers and -Max-Age as if they were the target's.
        Ok(Answer::Preflight(resp)) => return resp,
        Ok(Answer::Proxied(mut resp)) => {
            resp.body_mut().drop_trailers();
            resp
        }
        Err(err) => ex.fail(err),
    };
    // Every answer carries the CORS headers, errors included, so page code can read them.
    mode.policy
        .add_response_headers(origin.as_ref(), resp.headers_mut());
    resp
}

/// What [`answer`] produced.
enum Answer {
    /// The gateway's preflight answer, with its CORS headers already set.
    Preflight(Response<ProxyBody>),
    /// The target's response, still to be given the CORS headers.
    Proxied(Response<ProxyBody>),
}

async fn answer(
    app: &Arc<App>,
    mode: &CorsMode,
    conn: &ConnInfo,
    ex: &mut Exchange,
    req: Request<Incoming>,
) -> Result<Answer, GatewayError> {
    if let Some(rate) = &mode.rate {
        if let Err(wait) = rate.check(
            super::forwarding::client_ip(app, conn, req.headers()),
            ex.started(),
        ) {
            let mut resp = ex.fail(GatewayError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Fault::Client,
                "Too many requests: slow down.",
            ));
            let secs = cors::retry_after_secs(wait);
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
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
            Fault::Client,
            format!(
                "request target longer than {} bytes",
                app.settings.max_uri_bytes
            ),
        ));
    }
    let forbidden = |e: &dyn std::fmt::Display| {
        GatewayError::new(StatusCode::FORBIDDEN, Fault::Client, e.to_string())
    };
    if cors::is_preflight(req.method(), req.headers()) {
        mode.policy
            .check_origin(req.headers())
            .map_err(|e| forbidden(&e))?;
        let (parts, ()) = mode.policy.preflight_response(req.headers()).into_parts();
        return Ok(Answer::Preflight(Response::from_parts(
            parts,
            ProxyBody::empty(),
        )));
    }
    mode.policy
        .check_origin(req.headers())
        .map_err(|e| forbidden(&e))?;
    if !mode.policy.method_allowed(req.method()) {
        return Err(GatewayError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Fault::Client,
            format!("Method {} is not proxied.", req.method()),
        ));
    }
    let (uri, authority) = target(mode, &req)?;
    let target = Target {
        client: &mode.client,
        uri,
        authority: &authority,
        preserve_host: false,
        wait: Wait::Total(mode.total_timeout),
        max_response_bytes: mode.max_response_bytes,
        upgrades: false,
        max_body_bytes: None,
        headers: None,
    };
    let strip = |headers: &mut http::HeaderMap| mode.policy.strip_request_headers(headers);
    let resp = upstream::call(app, conn, ex, req, target, strip).await?;
    Ok(Answer::Proxied(resp))
}

/// The target URL from `?url=`, checked against the SSRF policy as far as it can be
/// before a lookup.
fn target(
    mode: &CorsMode,
    req: &Request<Incoming>,
) -> Result<(http::Uri, Authority), GatewayError> {
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
    checked.map_err(|r| GatewayError::new(StatusCode::FORBIDDEN, Fault::Client, r.to_string()))?;
    let authority = target
        .uri
        .authority()
        .cloned()
        .ok_or_else(|| GatewayError::bad_request("The \"url\" parameter has no host."))?;
    Ok((target.uri, authority))
}
