//! Route mode: the request's limits, then the longest matching prefix → a [`Target`] for
//! the shared upstream leg (which `super::handle` awaits itself: no async level here).
//! The upstream's own statuses pass through untouched.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use std::sync::Arc;

use crate::app::{App, ConnInfo};
use crate::upstream::Group;

use super::body::ProxyBody;
use super::error::{Fault, GatewayError};
use super::exchange::Exchange;
use super::upstream::{Target, Wait};

/// What a route does with a request.
pub(super) enum Next<'a> {
    /// Forward to the upstream (through the route's group, when it names one).
    Forward(Target<'a>, Option<std::borrow::Cow<'a, Arc<Group>>>),
    /// The route answers itself (405, `respond`, `redirect`): no upstream connection.
    Answer(Response<ProxyBody>),
}

/// Picks the route: 414 for an over-long target, 404/400 from the router, 413 for a
/// declared body over the limit. With the route's upstream group, if it names one.
pub(super) fn target<'a>(
    app: &'a App,
    conn: &ConnInfo,
    ex: &mut Exchange,
    req: &Request<Incoming>,
) -> Result<Next<'a>, GatewayError> {
    let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if pq.len() > app.settings.max_uri_bytes {
        return Err(GatewayError::new(
            StatusCode::URI_TOO_LONG,
            Fault::Client,
            format!(
                "request target longer than {} bytes",
                app.settings.max_uri_bytes
            ),
        ));
    }
    // Reuses the inbound target when it is forwarded unchanged (no copy).
    let host = crate::route::request_host(req);
    let routed = match req.uri().path_and_query() {
        Some(pq) => match super::guard::escapes(pq, app.settings.escaped_slashes)? {
            None => app.router.route_host_pq(host, pq),
            // `unescape`: the decoded, resolved path is routed and forwarded.
            Some(resolved) => app.router.route_host(host, &resolved),
        },
        None => app.router.route_host(host, pq),
    };
    let m = routed.map_err(|e| GatewayError::new(e.status(), Fault::Client, e.to_string()))?;
    let route = m.route;
    ex.routed(m.index);
    let group = app.groups.for_route(m.index);
    if let Some(limiter) = app.per_route.limiter(m.index) {
        let client = super::forwarding::client_ip(app, conn, req.headers());
        if let Err(wait) = limiter.check(client, ex.started()) {
            return Ok(Next::Answer(super::route_rules::too_many(ex, wait)));
        }
    }
    let headers = super::route_rules::bind(app, route, conn, ex, req);
    if let Some(fixed) = super::route_rules::fixed(route, req) {
        let resp = super::route_rules::answer(ex, fixed)?;
        return Ok(Next::Answer(super::route_rules::on_response(
            headers.as_ref(),
            resp,
        )));
    }
    if let Some(max) = route.max_body_bytes.or(app.settings.max_body_bytes) {
        // 413 before reading a byte when the declared length is over the limit.
        if http_body::Body::size_hint(req.body()).lower() > max {
            return Err(GatewayError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Fault::Client,
                format!("request body larger than {max} bytes"),
            ));
        }
    }
    let target = Target {
        client: app.per_route.client(m.index, &app.client),
        uri: m.upstream_uri,
        authority: &route.upstream.authority,
        preserve_host: route.preserve_host,
        wait: Wait::Head(
            route
                .response_timeout
                .unwrap_or(app.settings.upstream_response_timeout),
        ),
        max_response_bytes: None,
        upgrades: true,
        max_body_bytes: route.max_body_bytes,
        headers,
    };
    Ok(Next::Forward(target, group))
}
