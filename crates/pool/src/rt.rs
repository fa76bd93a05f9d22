//! hyper's runtime traits over tokio: IO adapter, executor and timer.
//!
//! hyper 1.x does not know about tokio. It asks for four small things: something it can
//! read and write ([`hyper::rt::Read`]/[`hyper::rt::Write`]), somewhere to spawn background
//! futures ([`hyper::rt::Executor`]) and a clock ([`hyper::rt::Timer`]). This module is the
//! whole of that glue for gangway, shaped after hyper's own `benches/support/tokiort.rs`.
//! It is public so that a server built on the same runtime (the gangway gateway) reuses it.
//!
//! It is also the only place in the workspace with `unsafe` code: the read adapter hands
//! hyper's uninitialised buffer to tokio without zero-filling it first.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

thread_local! {
    static WORKER: Cell<u32> = const { Cell::new(0) };
}

/// Tags the calling thread as worker `id` (non-zero) of a thread-per-core server.
///
/// On a current-thread runtime, hyper's task for an upstream connection runs on the thread
/// that opened it. The pool records that thread's tag with each HTTP/1.1 connection and,
/// given the choice between idle connections, hands a request one opened on its own
/// thread first: the request and the connection task then wake each other without
/// crossing threads. Untagged threads (the default, and any multi-threaded runtime) see no
/// difference.
pub fn set_worker_id(id: u32) {
    WORKER.with(|w| w.set(id));
}

/// The calling thread's tag from [`set_worker_id`]; 0 when untagged.
pub fn worker_id() -> u32 {
    WORKER.with(Cell::get)
}

pin_project_lite::pin_project! {
    /// Adapts a tokio IO object (`AsyncRead + AsyncWrite`) to hyper's IO traits.
    ///
    /// The wrapper costs nothing at run time: every call forwards to the inner object.
    #[derive(Debug)]
    pub struct TokioIo<T> {
        #[pin]
        inner: T,
    }
}

impl<T> TokioIo<T> {
    /// Wraps a tokio IO object.
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    /// Borrows the wrapped IO object.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Mutably borrows the wrapped IO object.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the IO object.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: tokio::io::AsyncRead> hyper::rt::Read for TokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `as_mut` hands out the cursor's unfilled, possibly uninitialised tail.
        // We only ever give it to tokio's `ReadBuf::uninit`, which never reads those bytes
        // and never de-initialises any, and we read back only `filled().len()`, the count
        // of bytes tokio wrote (and so initialised) from the start of that tail.
        let filled = unsafe {
            let mut tbuf = tokio::io::ReadBuf::uninit(buf.as_mut());
            match tokio::io::AsyncRead::poll_read(self.project().inner, cx, &mut tbuf) {
                Poll::Ready(Ok(())) => tbuf.filled().len(),
                other => return other,
            }
        };
        // SAFETY: the `filled` bytes at the start of the unfilled tail were written by the
        // read above, so advancing the cursor by that much marks only initialised bytes.
        unsafe { buf.advance(filled) };
        Poll::Ready(Ok(()))
    }
}

impl<T: tokio::io::AsyncWrite> hyper::rt::Write for TokioIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(self.project().inner, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(self.project().inner, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(self.project().inner, cx)
    }

    fn is_write_vectored(&self) -> bool {
        tokio::io::AsyncWrite::is_write_vectored(&self.inner)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write_vectored(self.project().inner, cx, bufs)
    }
}

// The reverse direction, so an upgraded hyper connection (`hyper::upgrade::Upgraded`, which
// implements hyper's traits) can be driven with tokio's `copy_bidirectional`.
impl<T: hyper::rt::Read> tokio::io::AsyncRead for TokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        tbuf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let filled = tbuf.filled().len();
        // SAFETY: `unfilled_mut` gives the uninitialised tail of tokio's buffer. hyper's
        // `ReadBuf::uninit` never reads it and only records how much it wrote; we then
        // mark exactly that many bytes as initialised and filled.
        let written = unsafe {
            let mut hbuf = hyper::rt::ReadBuf::uninit(tbuf.unfilled_mut());
            match hyper::rt::Read::poll_read(self.project().inner, cx, hbuf.unfilled()) {
                Poll::Ready(Ok(())) => hbuf.filled().len(),
                other => return other,
            }
        };
        // SAFETY: the `written` bytes after `filled` were just written by hyper's reader.
        unsafe { tbuf.assume_init(filled + written) };
        tbuf.set_filled(filled + written);
        Poll::Ready(Ok(()))
    }
}

impl<T: hyper::rt::Write> tokio::io::AsyncWrite for TokioIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write(self.project().inner, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_flush(self.project().inner, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_shutdown(self.project().inner, cx)
    }

    fn is_write_vectored(&self) -> bool {
        hyper::rt::Write::is_write_vectored(&self.inner)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write_vectored(self.project().inner, cx, bufs)
    }
}

/// Runs hyper's background futures (HTTP/2 connection tasks and streams) on `tokio::spawn`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioExecutor;

impl<F> hyper::rt::Executor<F> for TokioExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(fut);
    }
}

/// hyper's clock over `tokio::time`, so hyper's timeouts (header read, keep-alive pings)
/// work and follow tokio's paused time in tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTimer;

pin_project_lite::pin_project! {
    /// A [`hyper::rt::Sleep`] backed by [`tokio::time::Sleep`].
    #[derive(Debug)]
    pub struct TokioSleep {
        #[pin]
        inner: tokio::time::Sleep,
    }
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl hyper::rt::Sleep for TokioSleep {}

impl hyper::rt::Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep {
            inner: tokio::time::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep {
            inner: tokio::time::sleep_until(deadline.into()),
        })
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        // Resetting in place saves a box per keep-alive request on hot connections.
        match sleep.as_mut().downcast_mut_pin::<TokioSleep>() {
            Some(ours) => ours.project().inner.reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    #[tokio::test(start_paused = true)]
    async fn timer_follows_paused_time_and_resets_in_place() {
        let timer = TokioTimer;
        let start = timer.now();
        let mut sleep = timer.sleep(Duration::from_secs(10));
        timer.reset(&mut sleep, start + Duration::from_secs(1));
        sleep.await;
        assert_eq!(timer.now() - start, Duration::from_secs(1));
    }

    #[tokio::test]
    async fn io_adapter_round_trips_bytes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (a, b) = tokio::io::duplex(64);
        // tokio -> hyper -> tokio: both adapters stacked must be transparent.
        let mut a = TokioIo::new(TokioIo::new(a));
        let mut b = TokioIo::new(TokioIo::new(b));
        a.write_all(b"hello").await.expect("write");
        let mut buf = [0u8; 5];
        b.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"hello");
    }
}
