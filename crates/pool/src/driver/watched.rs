//! The IO of an HTTP/1.1 connection, registering its connection's [`Watch`] as the waker of
//! every read and write instead of the caller's.
//!
//! Whoever polls the connection, the socket then wakes the watch, which forwards the
//! wake-up to the request holding the connection, or checks the connection if it is idle.
//! So a connection goes idle without one more turn of hyper's dispatcher just to point
//! the socket's waker elsewhere. After an upgrade the IO belongs to the caller: it then
//! registers the caller's waker.

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Watch;

pub(crate) struct Watched<T> {
    io: T,
    watch: Arc<Watch>,
    /// `watch` as a waker, made once.
    waker: Waker,
}

impl<T> Watched<T> {
    pub(crate) fn new(io: T, watch: Arc<Watch>) -> Self {
        let waker = Waker::from(Arc::clone(&watch));
        Self { io, watch, waker }
    }

    /// The waker to register: the watch's, until the connection was detached (upgraded).
    fn with_cx<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> R,
    ) -> R
    where
        T: Unpin,
    {
        if self.watch.detached.load(Ordering::Acquire) {
            return f(Pin::new(&mut self.io), cx);
        }
        let mut watched = Context::from_waker(&self.waker);
        f(Pin::new(&mut self.io), &mut watched)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().with_cx(cx, |io, cx| io.poll_read(cx, buf))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().with_cx(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().with_cx(cx, |io, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().with_cx(cx, |io, cx| io.poll_shutdown(cx))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .with_cx(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }
}
