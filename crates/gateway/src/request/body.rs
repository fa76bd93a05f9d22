//! The response body the gateway sends: either a small text of its own, or the upstream's
//! body streamed through frame by frame (never buffered), with an idle timeout between
//! frames. A streamed body carries its request's [`Exchange`] and ends it, with the bytes
//! sent and how it ended, when the body ends (or is dropped).

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use gangway_pool::rt::TokioTimer;
use gangway_pool::{BoxError, ResponseBody};
use hyper::rt::{Sleep, Timer};

use crate::rewrite::h2_to_h1::filter_trailers;

use super::exchange::Exchange;

/// How a streamed body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte was sent.
    Complete,
    /// The upstream failed or stalled mid-body: the client's response was aborted.
    Aborted,
    /// The client went away before the end.
    ClientGone,
}

/// The gateway's response body.
pub struct ProxyBody {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    Stream(Box<Streamed>),
}

struct Streamed {
    inner: ResponseBody,
    limits: StreamLimits,
    /// The idle timer, made on the first wait and reset (not remade) after progress.
    sleep: Option<Pin<Box<dyn Sleep>>>,
    /// A frame passed since `sleep` was last armed: re-arm it before the next wait.
    moved: bool,
    deadline: Option<Pin<Box<dyn Sleep>>>,
    sent: u64,
    /// Ended (once) when the body ends; held inline, the body is boxed already.
    exchange: Option<Exchange>,
    /// Returned on the next poll (see [`Streamed::fail`]).
    failed: Option<BoxError>,
    /// Drop the upstream's trailers instead of filtering them (CORS mode).
    drop_trailers: bool,
}

/// Bounds on a streamed upstream body.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamLimits {
    /// Longest wait for the next frame.
    pub idle: Option<Duration>,
    /// Most bytes passed through; the response is aborted beyond.
    pub max_bytes: Option<u64>,
    /// The whole body must have passed by then.
    pub deadline: Option<std::time::Instant>,
}

impl std::fmt::Debug for ProxyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Full(_) => f.write_str("ProxyBody::Full"),
            Kind::Stream(_) => f.write_str("ProxyBody::Stream"),
        }
    }
}

impl ProxyBody {
    /// A body the gateway produced itself.
    pub fn full(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::full(Bytes::new())
    }

    /// The upstream's body, streamed within `limits`.
    pub fn stream(inner: ResponseBody, limits: StreamLimits) -> Self {
        Self {
            kind: Kind::Stream(Box::new(Streamed {
                inner,
                deadline: limits.deadline.map(|d| TokioTimer.sleep_until(d)),
                limits,
                sleep: None,
                moved: false,
                sent: 0,
                exchange: None,
                failed: None,
                drop_trailers: false,
            })),
        }
    }

    /// Drops the upstream's trailers altogether (CORS mode: the target's trailers would
    /// bypass the response-header rules, `set-cookie` and `access-control-*` included).
    pub fn drop_trailers(&mut self) {
        if let Kind::Stream(s) = &mut self.kind {
            s.drop_trailers = true;
        }
    }

    /// The bytes of a body the gateway produced itself; `None` for a streamed one.
    pub(crate) fn full_len(&self) -> Option<u64> {
        match &self.kind {
            Kind::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(_) => None,
        }
    }

    /// Hands a streamed body its exchange, to end when the body does; gives it back for a
    /// body of the gateway's own.
    pub(crate) fn attach(&mut self, exchange: Exchange) -> Option<Exchange> {
        match &mut self.kind {
            Kind::Stream(s) => {
                s.exchange = Some(exchange);
                None
            }
            Kind::Full(_) => Some(exchange),
        }
    }
}

impl Streamed {
    fn end(&mut self, outcome: Outcome) {
        if let Some(exchange) = &mut self.exchange {
            exchange.end_in_place(self.sent, outcome);
        }
    }

    /// Aborts the response with `err` one poll later: `Pending` first lets hyper flush what
    /// it buffered (the head, earlier frames). Failing at once can close the connection with
    /// the head still unsent, and a client can't tell that from a request never read.
    fn fail(
        &mut self,
        cx: &mut Context<'_>,
        err: BoxError,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.end(Outcome::Aborted);
        self.failed = Some(err);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let s = match &mut self.get_mut().kind {
            Kind::Full(b) => return Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(s) => s,
        };
        if let Some(err) = s.failed.take() {
            return Poll::Ready(Some(Err(err)));
        }
        if let Some(deadline) = s.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                tracing::warn!("upstream response exceeded the total time limit; aborting the client's response");
                s.inner.abort();
                return s.fail(cx, "total time limit exceeded".into());
            }
        }
        match Pin::new(&mut s.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                // Only flagged: the timer is re-armed if the next poll waits (a boxed
                // timer made afresh after every frame cost an allocation per frame).
                s.moved = true;
                // Trailers are filtered like headers: a hop-by-hop or connection-specific
                // field would make an HTTP/2 response malformed and abort a good response.
                let frame = match frame.into_trailers() {
                    Ok(mut trailers) => {
                        if s.drop_trailers {
                            trailers.clear();
                        } else {
                            filter_trailers(&mut trailers, |_| false);
                        }
                        if trailers.is_empty() {
                            s.end(Outcome::Complete);
                            return Poll::Ready(None);
                        }
                        Frame::trailers(trailers)
                    }
                    Err(frame) => frame,
                };
                if let Some(d) = frame.data_ref() {
                    s.sent += d.len() as u64;
                    if s.limits.max_bytes.is_some_and(|max| s.sent > max) {
                        tracing::warn!(sent = s.sent, "upstream response exceeded the size limit; aborting the client's response");
                        s.inner.abort();
                        return s.fail(cx, "response size limit exceeded".into());
                    }
                }
                if s.inner.is_end_stream() {
                    s.end(Outcome::Complete);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::warn!(error = %e, "upstream response body failed; aborting the client's response");
                s.fail(cx, Box::new(e))
            }
            Poll::Ready(None) => {
                s.end(Outcome::Complete);
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(idle) = s.limits.idle else {
                    return Poll::Pending;
                };
                let sleep = match &mut s.sleep {
                    Some(sleep) => {
                        if std::mem::take(&mut s.moved) {
                            TokioTimer.reset(sleep, TokioTimer.now() + idle);
                        }
                        sleep
                    }
                    None => {
                        s.moved = false;
                        s.sleep.insert(TokioTimer.sleep(idle))
                    }
                };
                ready!(sleep.as_mut().poll(cx));
                tracing::warn!(
                    idle_ms = crate::observe::log_fmt::millis(idle),
                    "upstream response body stalled; aborting the client's response"
                );
                // Closed, not drained for reuse: draining would wait on the stalled upstream.
                s.inner.abort();
                s.fail(cx, "upstream body idle timeout".into())
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Stream(s) => s.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(s) => s.inner.size_hint(),
        }
    }
}

impl Drop for ProxyBody {
    fn drop(&mut self) {
        if let Kind::Stream(s) = &mut self.kind {
            // A body with nothing left (204, 304, HEAD, `Content-Length: 0`) is dropped
            // unpolled by hyper: that is a complete response, not a client that left.
            let outcome = if s.inner.is_end_stream() {
                Outcome::Complete
            } else {
                Outcome::ClientGone
            };
            s.end(outcome);
        }
    }
}
