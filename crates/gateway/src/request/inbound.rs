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
    end: Option<BodyEnd>,
}

/// Set once the client's body has been read to its end. The HTTP/1 service puts one in
/// the request's extensions (see `conn::Conn`): a response given before the
/// body ended gets `Connection: close`, because hyper then closes the connection after the
/// response without saying so, and a client reusing it would lose its next request.
#[derive(Debug, Clone, Default)]
pub struct BodyEnd(Arc<std::sync::atomic::AtomicBool>);

impl BodyEnd {
    /// The body was read to its end.
    pub fn ended(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// When the body last moved on (a frame handed on, or its end), shared with whoever waits
/// for the upstream's answer: "time for the response head" counts from the request *sent*,
/// and a large upload is sent only when its last frame is. Also counts the body's bytes
/// for the access line's `bytes_in`.
#[derive(Debug, Clone)]
pub struct Progress {
    origin: Instant,
    /// `None` for [`Progress::fixed`].
    shared: Option<Arc<Moved>>,
}

#[derive(Debug, Default)]
struct Moved {
    /// Milliseconds from `origin` to the last movement.
    last_ms: AtomicU64,
    /// Body bytes handed on.
    bytes: AtomicU64,
}

impl Progress {
    /// Starts now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            shared: Some(Arc::default()),
        }
    }

    /// Starts now and never moves on: for a request without a body, which is sent whole
    /// at once (saves the shared counter's allocation on the hot path).
    pub fn fixed() -> Self {
        Self {
            origin: Instant::now(),
            shared: None,
        }
    }

    fn touch(&self, bytes: u64) {
        if let Some(shared) = &self.shared {
            let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
            shared.last_ms.fetch_max(ms, Ordering::Relaxed);
            shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// The last movement (the start if none yet).
    pub fn last(&self) -> Instant {
        let ms = self
            .shared
            .as_ref()
            .map_or(0, |m| m.last_ms.load(Ordering::Relaxed));
        self.origin + Duration::from_millis(ms)
    }

    /// Body bytes handed on so far.
    pub fn bytes(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |m| m.bytes.load(Ordering::Relaxed))
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InboundBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundBody")
            .field("seen", &self.seen)
            .finish()
    }
}

/// Why the inbound body was cut.
#[derive(Debug)]
pub enum InboundError {
    /// No frame arrived within the idle timeout.
    Idle(Duration),
    /// More than the configured maximum arrived.
    TooLarge(u64),
    /// The client's body failed: the client went away, or its framing broke (a malformed
    /// chunk, see `strict_io`). The client's fault, not the upstream's.
    Client(hyper::Error),
}

impl std::fmt::Display for InboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Idle(d) => write!(
                f,
                "client body idle for {} ms",
                crate::observe::log_fmt::millis(*d)
            ),
            Self::TooLarge(max) => write!(f, "client body larger than {max} bytes"),
            Self::Client(e) => write!(f, "client body failed: {e}"),
        }
    }
}

impl std::error::Error for InboundError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Client(e) => Some(e),
            _ => None,
        }
    }
}

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
            end: None,
        }
    }

    /// Sets `end` when the body has been read to its end.
    pub fn with_end(mut self, end: Option<BodyEnd>) -> Self {
        self.end = end;
        self
    }

    fn ended(&self) {
        if let Some(end) = &self.end {
            end.set();
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
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if let Some(p) = &this.progress {
                    p.touch(len);
                }
                if frame.is_data() {
                    this.seen += len;
                    if let Some(max) = this.max_bytes {
                        if this.seen > max {
                            return Poll::Ready(Some(Err(Box::new(InboundError::TooLarge(max)))));
                        }
                    }
                }
                if this.inner.is_end_stream() {
                    this.ended();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(InboundError::Client(e))))),
            Poll::Ready(None) => {
                if let Some(p) = &this.progress {
                    p.touch(0);
                }
                this.ended();
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
