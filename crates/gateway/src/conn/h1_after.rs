//! What an HTTP/1 request's response needs from its connection, taken when hyper hands the
//! request over and applied to the response `request::handle` ends with.

use std::sync::Arc;

use http::header::CONNECTION;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::request::inbound::BodyEnd;
use crate::request::ProxyBody;
use crate::strict::Violation;

use super::strict_io::StrictConn;

/// What an HTTP/1 request's response needs from its connection (applied by the mapping
/// [`request::handle`] ends with): a response that turns
/// the connection into a tunnel stops the checking, and one given before the request body
/// was read to its end says `Connection: close` (hyper closes after it).
pub(super) struct H1After {
    strict: Arc<StrictConn>,
    connect: bool,
    /// Only a request with a body can be answered before its body ended.
    end: Option<BodyEnd>,
}

impl H1After {
    /// Taken before the request is handled (it flags the request's body end).
    pub(super) fn new(
        strict: Arc<StrictConn>,
        violation: Option<Violation>,
        req: &mut Request<Incoming>,
    ) -> Self {
        let connect = req.method() == Method::CONNECT;
        // The common bodiless request skips the flag (and the extension map it would
        // allocate).
        let end = (violation.is_none() && !req.body().is_end_stream()).then(BodyEnd::default);
        if let Some(end) = &end {
            req.extensions_mut().insert(end.clone());
        }
        Self {
            strict,
            connect,
            end,
        }
    }

    pub(super) fn apply(self, resp: &mut Response<ProxyBody>) {
        let status = resp.status();
        if status == StatusCode::SWITCHING_PROTOCOLS || (self.connect && status.is_success()) {
            self.strict.tunnel();
        } else if self.end.is_some_and(|end| !end.ended()) {
            // Answered before the body was read: hyper closes after this response; say so.
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
    }
}
