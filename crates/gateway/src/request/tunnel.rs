//! A spliced upgrade (issue #17 item 3): bytes copied both ways between the client and the
//! upstream until either side closes, the tunnel stays idle for `[timeouts] tunnel_idle`,
//! or the shutdown grace period ends. The tunnel keeps its client connection's
//! [`TunnelHold`] (the `max_connections` permit and the shutdown guard), so a tunnel counts
//! against the connection cap and graceful shutdown waits for it.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, OwnedSemaphorePermit};

use crate::conn::shutdown::{self, TaskGuard};

/// What a client connection lends its tunnel: dropped when the tunnel ends.
#[derive(Debug)]
pub struct TunnelHold {
    _permit: OwnedSemaphorePermit,
    _guard: TaskGuard,
    close: watch::Receiver<bool>,
}

impl TunnelHold {
    /// The connection's permit and guard, and the grace-period-over signal.
    pub fn new(
        permit: OwnedSemaphorePermit,
        guard: TaskGuard,
        close: watch::Receiver<bool>,
    ) -> Self {
        Self {
            _permit: permit,
            _guard: guard,
            close,
        }
    }
}

/// Copies both ways until a side closes, `idle` passes with no byte read on either side,
/// or (when `hold` is given) the grace period ends.
pub async fn run<A, B>(client: A, upstream: B, idle: Duration, hold: Option<Arc<TunnelHold>>)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let mut client = Activity::new(client, start, Arc::clone(&last));
    let mut upstream = Activity::new(upstream, start, Arc::clone(&last));
    let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
    let watchdog = async {
        loop {
            let seen = Duration::from_millis(last.load(Ordering::Relaxed));
            let at = start + seen + idle;
            if Instant::now() >= at {
                return;
            }
            tokio::time::sleep_until(at.into()).await;
        }
    };
    let mut close = hold.as_ref().map(|h| h.close.clone());
    let closed = async {
        match close.as_mut() {
            Some(rx) => shutdown::signalled(rx).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = copy => match r {
            Ok((up, down)) => tracing::debug!(client_to_upstream = up, upstream_to_client = down, "tunnel closed"),
            Err(e) => tracing::debug!(error = %e, "tunnel ended with error"),
        },
        _ = watchdog => tracing::debug!(idle = ?idle, "tunnel idle; closed"),
        _ = closed => tracing::debug!("grace period over; tunnel closed"),
    }
    drop(hold);
}

/// An IO that stamps the time of every read that moved bytes.
struct Activity<T> {
    inner: T,
    start: Instant,
    last: Arc<AtomicU64>,
}

impl<T> Activity<T> {
    fn new(inner: T, start: Instant, last: Arc<AtomicU64>) -> Self {
        Self { inner, start, last }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let ms = u64::try_from(this.start.elapsed().as_millis()).unwrap_or(u64::MAX);
            this.last.store(ms, Ordering::Relaxed);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    // Forwarded, not defaulted: the default writes only the first slice per call, so a
    // vectored writer underneath would see one small write per slice.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
