//! The bodies the pool sends and hands back.
//!
//! [`RequestBody`] is the one body type every pooled connection speaks, whatever body the
//! caller gave: a connection is shared by requests of different body types. A small body of
//! known length is held as [`Bytes`] so it can be replayed after a stale-connection failure.
//!
//! [`ResponseBody`] wraps hyper's `Incoming` so that the pool learns when the body ended (the
//! HTTP/1.1 connection goes back to the pool then, not when the head arrived) and when it
//! was dropped early (the remainder is drained in the background if small, or the connection
//! is closed).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::error::{BoxError, Error, Kind};
use crate::lease::Lease;

/// A request body as the pool sends it.
pub struct RequestBody {
    kind: ReqKind,
}

enum ReqKind {
    Full(Option<Bytes>),
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ReqKind::Full(b) => f
                .debug_tuple("RequestBody::Full")
                .field(&b.as_ref().map_or(0, Bytes::len))
                .finish(),
            ReqKind::Stream(_) => f.write_str("RequestBody::Stream"),
        }
    }
}

impl RequestBody {
    pub(crate) fn full(bytes: Bytes) -> Self {
        Self {
            kind: ReqKind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// Turns the caller's body into ours. Returns a copy of the body when the request can
    /// be replayed: the body is empty, or of known length up to `limit` (read here, before
    /// sending).
    pub(crate) async fn prepare<B>(body: B, limit: usize) -> Result<(Self, Option<Bytes>), Error>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        if body.is_end_stream() {
            return Ok((Self::full(Bytes::new()), Some(Bytes::new())));
        }
        let hint = body.size_hint();
        match hint.exact() {
            Some(len) if len <= limit as u64 => {
                let collected = body
                    .collect()
                    .await
                    .map_err(|e| Error::new(Kind::Body).with(e))?;
                // Trailers are dropped here; a body small enough to replay with trailers is
                // not worth a second code path.
                let bytes = collected.to_bytes();
                Ok((Self::full(bytes.clone()), Some(bytes)))
            }
            _ => {
                let boxed = body
                    .map_frame(|f| f.map_data(|mut d| d.copy_to_bytes(d.remaining())))
                    .map_err(Into::into)
                    .boxed_unsync();
                Ok((
                    Self {
                        kind: ReqKind::Stream(boxed),
                    },
                    None,
                ))
            }
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            ReqKind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqKind::Stream(s) => Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            ReqKind::Full(b) => b.is_none(),
            ReqKind::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            ReqKind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ReqKind::Stream(s) => s.size_hint(),
        }
    }
}

/// A response body from an upstream.
///
/// Read it to its end and the connection returns to the pool for the next request. Drop it
/// early and the pool reads and discards the rest in the background when at most
/// `drain_limit` bytes remain (the connection is kept), or closes the connection otherwise;
/// either way it is counted in [`Stats`](crate::Stats). Errors while streaming
/// (the upstream reset or truncated the body) come back as an [`Error`] for which
/// [`is_response_body`](Error::is_response_body) is true, never as a clean end.
pub struct ResponseBody {
    // `Option` only so `Drop` can hand the unread rest to the drain task.
    inner: Option<Incoming>,
    lease: Option<Lease>,
    reused: bool,
    /// The request's total deadline and its length, when it has one (boxed: rare, and a
    /// timer is not `Unpin`).
    deadline: Option<(Pin<Box<tokio::time::Sleep>>, std::time::Duration)>,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("pooled", &self.lease.is_some())
            .finish()
    }
}

impl ResponseBody {
    pub(crate) fn new(inner: Incoming, lease: Lease) -> Self {
        let done = inner.is_end_stream();
        let reused = lease.is_reused();
        let mut body = Self {
            inner: Some(inner),
            lease: Some(lease),
            reused,
            deadline: None,
        };
        // Empty bodies (HEAD, 204, 304, Content-Length: 0) are done already: give the
        // connection back now, even if the caller never polls the body.
        if done {
            body.finish();
        }
        body
    }

    /// The response came over a connection that had carried an earlier request (for
    /// access logs: "was the connection reused?").
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// Fails the body with a timeout error once `at` passes.
    pub(crate) fn with_deadline(
        mut self,
        at: tokio::time::Instant,
        total: std::time::Duration,
    ) -> Self {
        if self.lease.is_some() {
            self.deadline = Some((Box::pin(tokio::time::sleep_until(at)), total));
        }
        self
    }

    fn finish(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.body_done();
        }
    }

    /// Gives up on the rest of the body: an HTTP/1.1 connection is closed at once instead of
    /// drained for reuse, an HTTP/2 stream is reset. For a caller that stops reading because
    /// the upstream misbehaved (stalled, sent too much): draining would wait on the same
    /// upstream again. Polling afterwards yields an error, never a clean end.
    pub fn abort(&mut self) {
        // Unreturned, the lease closes the connection (see `Lease`'s `Drop`).
        self.lease = None;
        self.inner = None;
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if let Some((sleep, total)) = this.deadline.as_mut() {
            let live = this.lease.is_some() && this.inner.is_some();
            if live && std::future::Future::poll(sleep.as_mut(), cx).is_ready() {
                let total = *total;
                let host = this.lease.as_ref().map(|l| l.key().to_string());
                this.abort();
                let mut err = Error::new(Kind::Timeout)
                    .with(format!("response not complete within {total:?}"));
                if let Some(host) = host {
                    err = err.for_host(host);
                }
                return Poll::Ready(Some(Err(err)));
            }
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Some(Err(
                Error::new(Kind::ResponseBody).with("body aborted")
            )));
        };
        match ready!(Pin::new(&mut *inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if inner.is_end_stream() {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                let host = this.lease.as_ref().map(|l| l.key().to_string());
                // Dropping the lease unreturned closes the connection and counts an error.
                this.lease = None;
                let mut err = Error::new(Kind::ResponseBody).with(e);
                if let Some(host) = host {
                    err = err.for_host(host);
                }
                Poll::Ready(Some(Err(err)))
            }
            None => {
                this.finish();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_some_and(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let (Some(lease), Some(body)) = (self.lease.take(), self.inner.take()) {
            lease.body_dropped(body);
        }
    }
}
