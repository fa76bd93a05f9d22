//! A route's own answers (#13): 405 + `Allow`, `respond`, `redirect`, decided by
//! [`crate::route::action::decide`] and built here, without touching an upstream.

use http::header::{HeaderValue, ALLOW, LOCATION};
use http::{Request, Response, StatusCode};

use crate::route::action::{self, Fixed};
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
