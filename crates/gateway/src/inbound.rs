//! The client's request body on its way upstream: streamed as it arrives, with an idle
//! timeout between frames (a client that stops sending mid-body must not hold an upstream
//! connection forever) and an optional size cap.

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gangway_pool::rt::TokioTimer;
use gangway_pool::BoxError;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::rt::{Sleep, Timer};

/// The inbound body with its limits.
pub struct InboundBody {
    inner: Incoming,
    idle: Option<Duration>,
    sleep: Option<Pin<Box<dyn Sleep>>>,
    max_bytes: Option<u64>,
    seen: u64,
}

impl std::fmt::Debug for InboundBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundBody").field("seen", &self.seen).finish()
    }
}

/// Why the inbound body was cut.
#[derive(Debug)]
pub enum InboundError {
    /// No frame arrived within the idle timeout.
    Idle(Duration),
    /// More than the configured maximum arrived.
    TooLarge(u64),
}

impl std::fmt::Display for InboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Idle(d) => write!(f, "client body idle for {d:?}"),
            Self::TooLarge(max) => write!(f, "client body larger than {max} bytes"),
        }
    }
}

impl std::error::Error for InboundError {}

impl InboundBody {
    /// Wraps the client's body.
    pub fn new(inner: Incoming, idle: Option<Duration>, max_bytes: Option<u64>) -> Self {
        Self {
            inner,
            idle,
            sleep: None,
            max_bytes,
            seen: 0,
        }
    }
}

impl Body for InboundBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.sleep = None;
                if let Some(d) = frame.data_ref() {
                    this.seen += d.len() as u64;
                    if let Some(max) = this.max_bytes {
                        if this.seen > max {
                            return Poll::Ready(Some(Err(Box::new(InboundError::TooLarge(max)))));
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let Some(idle) = this.idle else {
                    return Poll::Pending;
                };
                let sleep = this.sleep.get_or_insert_with(|| TokioTimer.sleep(idle));
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(InboundError::Idle(idle)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
