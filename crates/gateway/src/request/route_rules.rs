//! A route's own answers (#13): 405 + `Allow`, `respond`, `redirect`, decided by
//! [`crate::route::action::decide`] and built here, without touching an upstream; 429 for
//! its rate limit; its header rules bound to a request.

use http::header::{HeaderValue, ALLOW, LOCATION};
use http::{Request, Response, StatusCode};

use crate::app::{App, ConnInfo};
use crate::route::action::{self, Fixed};
use crate::route::headers::{Bound, Var, Vars};
use crate::route::Route;

use super::body::ProxyBody;
use super::error::{text_response, Fault, GatewayError};
use super::exchange::Exchange;

/// The route's own answer to `req`, if it has one.
pub(super) fn fixed<B>(route: &Route, req: &Request<B>) -> Option<Fixed> {
    if route.methods.is_none() && route.action.is_none() {
        return None;
    }
    action::decide(
        route.methods.as_deref(),
        route.action.as_ref(),
        req.method(),
        req.uri().path(),
        req.uri().query(),
    )
}

/// Builds the response; a 405 is logged as a client error, `respond`/`redirect` are normal
/// answers. A `Location` that is not a valid header value (a placeholder filled with odd
/// bytes) is a 400, not a panic.
pub(super) fn answer(ex: &mut Exchange, fixed: Fixed) -> Result<Response<ProxyBody>, GatewayError> {
    Ok(match fixed {
        Fixed::MethodNotAllowed(allow) => {
            let err = GatewayError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Fault::Client,
                format!("method not allowed on this route (allowed: {allow})"),
            );
            let mut resp = ex.fail(err);
            if let Ok(value) = HeaderValue::try_from(allow) {
                resp.headers_mut().insert(ALLOW, value);
            }
            resp
        }
        Fixed::Respond(status, body) => text_response(status, body),
        Fixed::Redirect(status, location) => {
            let value = HeaderValue::try_from(location)
                .map_err(|_| GatewayError::bad_request("redirect target is not a valid URL"))?;
            let mut resp = text_response(status, "");
            resp.headers_mut().insert(LOCATION, value);
            resp
        }
    })
}

/// 429 for a route's rate limit, with `Retry-After` in whole seconds (at least 1).
pub(super) fn too_many(ex: &mut Exchange, wait: std::time::Duration) -> Response<ProxyBody> {
    let mut resp = ex.fail(GatewayError::new(
        StatusCode::TOO_MANY_REQUESTS,
        Fault::Client,
        "too many requests: slow down",
    ));
    let secs = crate::cors::retry_after_secs(wait);
    resp.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// The route's header rules bound to this request's variables; `None` (and no work) for a
/// route without rules.
pub(super) fn bind<'a, B>(
    app: &App,
    route: &'a Route,
    conn: &ConnInfo,
    ex: &Exchange,
    req: &Request<B>,
) -> Option<Bound<'a>> {
    if route.request_headers.is_empty() && route.response_headers.is_empty() {
        return None;
    }
    // `{host}` is a copy of the request's bytes: made only for rules that use it.
    let host = (route.request_headers.uses(Var::Host) || route.response_headers.uses(Var::Host))
        .then(|| crate::route::request_host(req).and_then(|h| HeaderValue::from_str(h).ok()))
        .flatten();
    let vars = Vars {
        client_ip: super::forwarding::client_ip(app, conn, req.headers()),
        request_id: ex.request_id().clone(),
        host,
        https: conn.tls,
    };
    Some(Bound {
        request: &route.request_headers,
        response: &route.response_headers,
        vars,
    })
}

/// Applies the route's `response_headers` to a response it forwarded or answered itself.
pub(super) fn on_response(
    rules: Option<&Bound<'_>>,
    mut resp: Response<ProxyBody>,
) -> Response<ProxyBody> {
    if let Some(rules) = rules {
        rules.on_response(resp.headers_mut());
    }
    resp
}
