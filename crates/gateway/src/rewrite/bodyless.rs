//! Bodies on methods that usually have none (issue #17 item 8). A `GET` or `HEAD` may
//! carry a body (RFC 9110 §9.3.1 gives it no meaning, but does not forbid it), and the
//! gateway forwards it with its framing rather than dropping it or refusing it.
//!
//! The need: hyper's HTTP/1 client sends a `GET`/`HEAD` whose body has no known length and
//! no framing header *without* its body (it assumes there is none). That is the case for an
//! HTTP/2 client's body without `content-length`, and for an HTTP/1 client's chunked body
//! (the rewrite removes the inbound `Transfer-Encoding`, a hop-by-hop field). Such a
//! request gets `Transfer-Encoding: chunked` on its way upstream; an HTTP/2 upstream
//! connection drops the field again (it is connection-specific there) and frames the body
//! with DATA frames. A body of known length gets `Content-Length` from hyper anyway.

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method};

/// Whether a request must be sent with `Transfer-Encoding: chunked` for its body to reach
/// an HTTP/1.1 upstream: a `GET` or `HEAD` with a body (`end_stream` false) of unknown
/// length (`exact` none) and no framing header of its own.
pub fn needs_chunked(
    method: &Method,
    headers: &HeaderMap,
    end_stream: bool,
    exact: Option<u64>,
) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && !end_stream
        && exact.is_none()
        && !headers.contains_key(CONTENT_LENGTH)
        && !headers.contains_key(TRANSFER_ENCODING)
}

/// Adds `Transfer-Encoding: chunked` to the upstream request's `headers` when
/// [`needs_chunked`] says so for `body`.
pub fn frame_body<B: http_body::Body>(method: &Method, headers: &mut HeaderMap, body: &B) {
    if needs_chunked(
        method,
        headers,
        body.is_end_stream(),
        body.size_hint().exact(),
    ) {
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    }
}

#[cfg(test)]
mod tests;
