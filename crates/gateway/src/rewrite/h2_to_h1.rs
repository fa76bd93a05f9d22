//! HTTP/2 → HTTP/1.1 gaps (issue #17 items 8 and 9), as pure helpers:
//! - a `:path` with bytes HTTP/1 refuses (non-ASCII, controls, space) is refused the same
//!   way over HTTP/2, so both front ends route the same set of targets;
//! - HTTP/2 clients may split `cookie` into crumbs; RFC 9113 §8.2.3 says they MUST be joined
//!   with `"; "` before the message goes to a non-HTTP/2 hop;
//! - trailer fields are filtered like header fields: hop-by-hop and connection-specific
//!   fields (which make an h2 HEADERS frame malformed) are removed instead of aborting the
//!   response, and a caller (CORS mode) can remove more with the same rules it applies to
//!   response headers.

use http::header::{
    HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, COOKIE, HOST,
    PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};

/// Fields never forwarded in a trailer section: hop-by-hop (RFC 9110 §7.6.1), the
/// connection-specific ones HTTP/2 forbids (RFC 9113 §8.2.2), and framing and routing fields
/// that have no meaning after the body (RFC 9110 §6.5.1).
pub static TRAILER_DENY: [HeaderName; 12] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
    HeaderName::from_static("http2-settings"),
    CONTENT_LENGTH,
    HOST,
];

/// Whether an HTTP/2 `:path` (path and query) may be forwarded on an HTTP/1.1 request line:
/// visible ASCII only, as the HTTP/1 request-line check demands.
pub fn path_is_http1_safe(path_and_query: &[u8]) -> bool {
    !path_and_query.is_empty() && path_and_query.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Joins several `cookie` fields into one, with `"; "` (RFC 9113 §8.2.3). Values that are
/// not text are joined byte for byte. Nothing changes with zero or one field.
pub fn join_cookies(headers: &mut HeaderMap) {
    if headers.get_all(COOKIE).iter().nth(1).is_none() {
        return;
    }
    let mut joined: Vec<u8> = Vec::new();
    for crumb in headers.get_all(COOKIE) {
        if !joined.is_empty() {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(crumb.as_bytes());
    }
    // Joining valid values with "; " keeps the value valid.
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(COOKIE, value);
    }
}

/// Removes from `trailers` every [`TRAILER_DENY`] field, every field the trailers'
/// `Connection` names, and every field `also_remove` matches (CORS mode passes its
/// response-header rule). Returns how many fields were removed.
pub fn filter_trailers(
    trailers: &mut HeaderMap,
    also_remove: impl Fn(&HeaderName) -> bool,
) -> usize {
    let before = trailers.len();
    let nominated: Vec<HeaderName> = trailers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in TRAILER_DENY.iter().chain(nominated.iter()) {
        trailers.remove(name);
    }
    let extra: Vec<HeaderName> = trailers
        .keys()
        .filter(|n| also_remove(n))
        .cloned()
        .collect();
    for name in &extra {
        trailers.remove(name);
    }
    before - trailers.len()
}

#[cfg(test)]
mod tests;
