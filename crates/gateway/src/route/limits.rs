//! A route's own limits and upstream settings (#13 items 8 and 9): a rate limit per client
//! address, and the HTTP version spoken to its upstream. The request path reads them; the
//! state they need (token buckets, a pool per protocol) is built with the app.

/// `rate_limit = { per_second, burst }`: a token bucket per client address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRule {
    /// Tokens added per second; positive and finite (checked at load).
    pub per_second: f64,
    /// Requests allowed at once after a quiet period; at least 1.
    pub burst: u32,
}

// `per_second` is checked positive and finite at load, never NaN: equality is total.
impl Eq for RateRule {}

/// `protocol = "http1" | "http2"`: what is spoken to an upstream, overriding `[pool]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// HTTP/1.1 only (ALPN offers only `http/1.1` on `https://`).
    Http1,
    /// HTTP/2 only: h2c prior knowledge on `http://`, ALPN `h2` on `https://`.
    Http2,
}

impl Protocol {
    /// Parses the config spelling.
    pub fn parse(text: &str) -> Option<Protocol> {
        match text {
            "http1" => Some(Protocol::Http1),
            "http2" => Some(Protocol::Http2),
            _ => None,
        }
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::Http2 => "http2",
        }
    }
}
