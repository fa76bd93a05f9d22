//! The gateway's one error type, and the short text responses it turns into.
//!
//! Every failure on the request path ends here: a status (400, 404, 413, 502, 504, …), a
//! one-line text body, and whose fault it was (the access line's `fault`), so the log can
//! tell a bad client from a bad upstream. Nothing on the request path panics or hangs
//! instead.

use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use super::body::ProxyBody;
use super::inbound::InboundError;

/// Who caused a failure: the access line's `fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The client sent something we refuse.
    Client,
    /// The upstream failed or was unreachable.
    Upstream,
    /// The gateway itself (limits, shutdown).
    Gateway,
}

impl Fault {
    /// The access line's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Gateway => "gateway",
        }
    }
}

/// A failure on the request path, ready to become a response.
#[derive(Debug)]
pub struct GatewayError {
    status: StatusCode,
    fault: Fault,
    message: String,
}

impl GatewayError {
    /// A failure answered with `status` and `message` as its text body.
    pub fn new(status: StatusCode, fault: Fault, message: impl Into<String>) -> Self {
        Self {
            status,
            fault,
            message: message.into(),
        }
    }

    /// 400 Bad Request: the client's request cannot be forwarded as it is.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Fault::Client, message)
    }

    /// Maps a pool error: connect failures are 502, timeouts 504, anything else 502.
    pub fn from_pool(err: &gangway_pool::Error) -> Self {
        if crate::conn::fds::is_out_of_fds(err) {
            // Our limit, not the upstream's fault: the client may retry shortly.
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Fault::Gateway,
                "gateway out of file descriptors",
            );
        }
        let status = if err.is_timeout() {
            StatusCode::GATEWAY_TIMEOUT
        } else if err.is_address_refused() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_GATEWAY
        };
        let what = if err.is_pool_exhausted() {
            "upstream connection pool exhausted"
        } else if err.is_timeout() {
            "upstream connect timed out"
        } else if err.is_address_refused() {
            "upstream address refused"
        } else if err.is_connect() {
            "upstream unreachable"
        } else if err.is_body() {
            // The client's own body failed (it went away or was too slow).
            return Self::new(
                StatusCode::BAD_REQUEST,
                Fault::Client,
                "request body failed",
            );
        } else {
            "upstream request failed"
        };
        Self::new(status, Fault::Upstream, what)
    }

    /// Maps a pool error, telling the client's own body failures (413, 408, 400) apart, and
    /// naming the rule and address when the SSRF filter refused every resolved address.
    pub fn from_call(e: &gangway_pool::Error) -> Self {
        if e.is_address_refused() {
            // The filter's own text names the rule and the address.
            let why = std::error::Error::source(e)
                .map_or_else(|| "target address refused".to_string(), ToString::to_string);
            return Self::new(StatusCode::FORBIDDEN, Fault::Client, why);
        }
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(inbound) = err.downcast_ref::<InboundError>() {
                let status = match inbound {
                    InboundError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                    InboundError::Idle(_) => StatusCode::REQUEST_TIMEOUT,
                    InboundError::Client(_) => StatusCode::BAD_REQUEST,
                };
                return Self::new(status, Fault::Client, inbound.to_string());
            }
            cur = err.source();
        }
        Self::from_pool(e)
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whose fault it was.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// The short text sent as the body.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The response: status, `text/plain` body with the message. `Connection: close` for
    /// client errors on HTTP/1.1 is left to the server (it closes after a 400 it produced).
    pub fn to_response(&self) -> Response<ProxyBody> {
        text_response(self.status, format!("{}\n", self.message))
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for GatewayError {}

/// A small text response produced by the gateway itself.
pub fn text_response(status: StatusCode, text: impl Into<Bytes>) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::full(text.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
