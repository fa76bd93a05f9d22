//! Checks on the request target made before any routing (issue #17 items 1 and 7):
//! - `CONNECT` is refused with 405 on HTTP/1 and HTTP/2 (the gateway is no forward proxy),
//!   and an authority-form target (`GET example.com:80`) with 400: before, both reached the
//!   catch-all route as `CONNECT /` or `GET /`;
//! - escaped slashes next to dot segments are handled per `[limits] escaped_slashes`
//!   ([`crate::route::escape`] decides; this maps its answer to a response or a path).

use std::borrow::Cow;

use http::uri::PathAndQuery;
use http::{Method, StatusCode, Uri};

use crate::rewrite::h2_to_h1;
use crate::route::escape::{self, EscapedSlashes};

use super::error::{Fault, GatewayError};

/// 405 for `CONNECT`, 400 for an authority-form target on any other method.
pub fn request_form(method: &Method, uri: &Uri) -> Result<(), GatewayError> {
    if method == Method::CONNECT {
        return Err(GatewayError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Fault::Client,
            "CONNECT is not supported",
        ));
    }
    // Authority-form is a host and port with neither scheme nor path (RFC 9112 §3.2.3);
    // an HTTP/2 request always has a `:path`, so this is HTTP/1 only.
    if uri.scheme().is_none() && uri.authority().is_some() && uri.path_and_query().is_none() {
        return Err(GatewayError::bad_request(
            "authority-form request target is only allowed with CONNECT",
        ));
    }
    // HTTP/1's request-line check refuses these bytes; HTTP/2 carries `:path` as a field
    // value, so the same rule is applied here for both front ends to route the same targets.
    if let Some(pq) = uri.path_and_query() {
        if !h2_to_h1::path_is_http1_safe(pq.as_str().as_bytes()) {
            return Err(GatewayError::bad_request(
                "request target has bytes outside visible ASCII",
            ));
        }
    }
    Ok(())
}

/// The path and query to route: `None` to route `pq` unchanged, `Some` for the unescaped,
/// resolved one, or the 400 the setting calls for.
pub fn escapes(pq: &PathAndQuery, mode: EscapedSlashes) -> Result<Option<String>, GatewayError> {
    match escape::classify(pq.path(), mode) {
        Ok(Cow::Borrowed(_)) => Ok(None),
        Ok(Cow::Owned(mut path)) => {
            if let Some(query) = pq.query() {
                path.push('?');
                path.push_str(query);
            }
            Ok(Some(path))
        }
        Err(refusal) => Err(GatewayError::bad_request(refusal.to_string())),
    }
}
