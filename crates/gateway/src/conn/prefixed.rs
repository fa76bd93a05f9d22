//! The bytes the h2c preface sniffer read, given back to the connection before the socket's
//! own. Reading (instead of peeking) is what lets the sniffer wait for *new* bytes: a peek
//! returns the same prefix again at once, and waiting for readability after it does not
//! wait either while those bytes sit unread, so a client that sent just `P` cost a poll
//! loop per connection (issue #17 item 4).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// At most the HTTP/2 preface's length: the sniffer stops reading as soon as the bytes
/// can't be a preface, or are one.
pub const PREFIX_MAX: usize = 24;

/// `inner`, after the sniffed bytes.
#[derive(Debug)]
pub struct Prefixed<S> {
    head: [u8; PREFIX_MAX],
    start: usize,
    end: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `head[..len]` is read first, then `inner`.
    pub fn new(inner: S, head: [u8; PREFIX_MAX], len: usize) -> Self {
        Self {
            head,
            start: 0,
            end: len.min(PREFIX_MAX),
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.start < this.end {
            let n = (this.end - this.start).min(buf.remaining());
            buf.put_slice(&this.head[this.start..this.start + n]);
            this.start += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
