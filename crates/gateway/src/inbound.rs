//! The client's request body on its way upstream: streamed as it arrives, with an idle
//! timeout between frames (a client that stops sending mid-body must not hold an upstream
//! connection forever) and an optional size cap.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

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
    progress: Option<Progress>,
}

/// When the body last moved on (a frame handed on, or its end), shared with whoever waits
/// for the upstream's answer: "time for the response head" counts from the request *sent*,
/// and a large upload is sent only when its last frame is.
#[derive(Debug, Clone)]
pub struct Progress {
    origin: Instant,
    /// Milliseconds from `origin` to the last movement.
    last_ms: Arc<AtomicU64>,
}

impl Progress {
    /// Starts now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            last_ms: Arc::default(),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// The last movement (the start if none yet).
    pub fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
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
            progress: None,
        }
    }

    /// Records every frame and the end in `progress`.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
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
                if let Some(p) = &this.progress {
                    p.touch();
                }
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
            Poll::Ready(None) => {
                if let Some(p) = &this.progress {
                    p.touch();
                }
                Poll::Ready(None)
            }
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
