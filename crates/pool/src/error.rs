//! The crate's one error type: opaque, with `is_*` predicates, as hyper and reqwest do.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Mutex;

use http::Request;

use crate::body::RequestBody;

/// A boxed error from a lower layer (IO, hyper, rustls, a request body).
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// An error from the pool or from the upstream it talked to.
///
/// Ask what went wrong with the `is_*` predicates; the [`Display`](fmt::Display) text says
/// what failed and for which host, and [`source`](StdError::source) carries the cause. The
/// exact wording of messages is not stable: do not match on it.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    host: Option<String>,
    source: Option<BoxError>,
    /// The request, when it may be sent elsewhere (see [`Error::take_request`]). Behind a
    /// `Mutex` only so that `Error` stays `Sync` (a streamed body is not): `take_request`
    /// has `&mut self` and never locks.
    request: Option<Mutex<Request<RequestBody>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The request URI cannot be sent: no scheme/host, or an unsupported scheme.
    InvalidUri,
    /// DNS resolution failed or returned nothing.
    Resolve,
    /// The address filter refused every resolved address.
    AddressRefused,
    /// TCP connect failed.
    Connect,
    /// DNS + connect + TLS took longer than the connect timeout.
    ConnectTimeout,
    /// The TLS handshake failed.
    Tls,
    /// The HTTP/1.1 or HTTP/2 handshake failed.
    Handshake,
    /// Waited in the per-host queue past the checkout timeout.
    PoolExhausted,
    /// The request failed on the connection (before or after being written).
    Request,
    /// The request body failed while being read (by the caller's body).
    Body,
    /// The response body failed while streaming.
    ResponseBody,
    /// The client was dropped while this request waited.
    PoolClosed,
    /// The request's total or time-to-response-head deadline passed.
    Timeout,
    /// Reading root certificates failed while building the client.
    Config,
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                host: None,
                source: None,
                request: None,
            }),
        }
    }

    pub(crate) fn with<E: Into<BoxError>>(mut self, source: E) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn for_host(mut self, host: impl fmt::Display) -> Self {
        self.inner.host = Some(host.to_string());
        self
    }

    pub(crate) fn with_request(mut self, request: Option<Request<RequestBody>>) -> Self {
        self.inner.request = request.map(Mutex::new);
        self
    }

    /// Takes back the request this error is about, when it may be sent again elsewhere
    /// (another server, another pool): `Some` once at most, and only when
    /// - the request never reached the server: no connection could be had (a connect
    ///   failure or refusal, [`is_pool_exhausted`](Self::is_pool_exhausted),
    ///   [`is_closed`](Self::is_closed)), or hyper handed it back unwritten: then it is the
    ///   request itself, its body unread (a streamed body included), its extensions kept;
    /// - or it was written but failed before a response head, and the pool held a replay
    ///   copy of it: an idempotent method (RFC 9110 §9.2.2) with an empty body or one of
    ///   known length up to [`retry_body_limit`](crate::Builder::retry_body_limit), or any
    ///   such method when HTTP/2 said the stream was not processed (`REFUSED_STREAM`).
    ///   The copy has no extensions. A written POST is never given back.
    ///
    /// The request comes back as the pool would have sent it: an absolute URI with the
    /// pool key's scheme and authority, the headers with a `Host` header (the one given,
    /// or the URI's authority), and the body as a [`RequestBody`], which
    /// [`Client::request`](crate::Client::request) takes again. The caller re-targets it
    /// (URI, `Host`, [`ConnectTo`](crate::ConnectTo)) before sending it elsewhere.
    /// `None` for every other error (a timeout, a response-body failure, a bad URI).
    pub fn take_request(&mut self) -> Option<Request<RequestBody>> {
        let request = self.inner.request.take()?;
        // A poisoned lock is impossible (nothing locks it), but its data is fine anyway.
        Some(
            request
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The request's URI could not be sent (no scheme or host, or a scheme other than
    /// `http`/`https`).
    pub fn is_invalid_uri(&self) -> bool {
        self.inner.kind == Kind::InvalidUri
    }

    /// Establishing a connection failed: DNS, TCP connect, address filter, TLS or the
    /// HTTP handshake, or the connect timeout. Nothing of the request was sent.
    pub fn is_connect(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::Resolve
                | Kind::AddressRefused
                | Kind::Connect
                | Kind::ConnectTimeout
                | Kind::Tls
                | Kind::Handshake
        )
    }

    /// Host name resolution failed or returned no address.
    pub fn is_resolve(&self) -> bool {
        self.inner.kind == Kind::Resolve
    }

    /// The configured address filter refused every resolved address.
    pub fn is_address_refused(&self) -> bool {
        self.inner.kind == Kind::AddressRefused
    }

    /// A timeout fired: connect timeout or checkout (queue) timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::ConnectTimeout | Kind::PoolExhausted | Kind::Timeout
        )
    }

    /// The TLS handshake with the upstream failed (untrusted certificate, wrong name, …).
    pub fn is_tls(&self) -> bool {
        self.inner.kind == Kind::Tls
    }

    /// The per-host connection limit was reached and no connection became free within the
    /// checkout timeout.
    pub fn is_pool_exhausted(&self) -> bool {
        self.inner.kind == Kind::PoolExhausted
    }

    /// The request failed on an established connection: reset, closed before the response,
    /// or an invalid response.
    pub fn is_request(&self) -> bool {
        self.inner.kind == Kind::Request
    }

    /// The request body supplied by the caller returned an error.
    pub fn is_body(&self) -> bool {
        self.inner.kind == Kind::Body
    }

    /// The response body failed while it was being read (the upstream reset or truncated it).
    pub fn is_response_body(&self) -> bool {
        self.inner.kind == Kind::ResponseBody
    }

    /// The [`Client`](crate::Client) was shut down ([`Client::shutdown`](crate::Client::shutdown)),
    /// or dropped while the request waited for a connection.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == Kind::PoolClosed
    }

    /// The upstream host (`host:port`) this error is about, when known.
    pub fn host(&self) -> Option<&str> {
        self.inner.host.as_deref()
    }

    fn describe(&self) -> &'static str {
        match self.inner.kind {
            Kind::InvalidUri => "invalid request URI",
            Kind::Resolve => "failed to resolve upstream host",
            Kind::AddressRefused => "upstream address refused by the address filter",
            Kind::Connect => "failed to connect to upstream",
            Kind::ConnectTimeout => "timed out connecting to upstream",
            Kind::Tls => "TLS handshake with upstream failed",
            Kind::Handshake => "HTTP handshake with upstream failed",
            Kind::PoolExhausted => "timed out waiting for a free upstream connection",
            Kind::Request => "upstream request failed",
            Kind::Body => "request body failed",
            Kind::ResponseBody => "upstream response body failed",
            Kind::PoolClosed => "connection pool is closed",
            Kind::Timeout => "upstream request timed out",
            Kind::Config => "invalid pool configuration",
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("gangway_pool::Error");
        d.field("kind", &self.inner.kind);
        if let Some(host) = &self.inner.host {
            d.field("host", host);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        if self.inner.request.is_some() {
            d.field("request", &"given back");
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())?;
        if let Some(host) = &self.inner.host {
            write!(f, " ({host})")?;
        }
        // The cause is printed too: a proxy's log line is often the only place an operator
        // sees it, and "connection reset by peer" is what they need to read.
        if let Some(source) = &self.inner.source {
            write!(f, ": {source}")?;
            let mut next = source.source();
            while let Some(cause) = next {
                write!(f, ": {cause}")?;
                next = cause.source();
            }
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| &**e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_host_and_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(Kind::Connect).for_host("127.0.0.1:9").with(io);
        assert!(e.is_connect());
        assert!(!e.is_timeout());
        assert_eq!(e.host(), Some("127.0.0.1:9"));
        assert_eq!(
            e.to_string(),
            "failed to connect to upstream (127.0.0.1:9): refused"
        );
    }

    #[test]
    fn predicates_partition_kinds() {
        assert!(Error::new(Kind::PoolExhausted).is_pool_exhausted());
        assert!(Error::new(Kind::PoolExhausted).is_timeout());
        assert!(Error::new(Kind::ConnectTimeout).is_connect());
        assert!(Error::new(Kind::Tls).is_tls());
        assert!(!Error::new(Kind::Request).is_connect());
    }
}
