//! The bytes the h2c preface sniffer read, given back to the connection before the socket's
//! own. Reading (instead of peeking) is what lets the sniffer wait for *new* bytes: a peek
//! returns the same prefix again at once, and waiting for readability after it does not
//! wait either while those bytes sit unread, so a client that sent just `P` cost a poll
//! loop per connection (issue #17 item 4).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

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

    /// Sniffed bytes not read yet.
    pub fn has_unread(&self) -> bool {
        self.start < self.end
    }

    /// The wrapped IO.
    pub fn get_ref(&self) -> &S {
        &self.inner
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
            // The rest of what already arrived in the same read: hyper's read buffer grows
            // (doubles, to 16 KiB, kept for the connection's life) when a first read leaves
            // a request head unfinished. What the socket cannot give at once waits for the
            // next read; the bytes given are returned either way.
            if this.start == this.end && buf.remaining() > 0 {
                if let Poll::Ready(Err(e)) = Pin::new(&mut this.inner).poll_read(cx, buf) {
                    tracing::trace!(error = %e, "read after the sniffed bytes failed");
                }
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

super::forward::forward_async_write!(Prefixed, inner);

/// The client's connection preface for HTTP/2 with prior knowledge (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads the first bytes into `buf` until they are the h2c prior-knowledge preface
/// (`true`) or cannot be (`false`), returning how many were read; the connection reads
/// them again through [`Prefixed`]. Each read waits for new bytes: no polling.
pub(super) async fn sniff_h2_preface(
    stream: &mut tokio::net::TcpStream,
    buf: &mut [u8; PREFIX_MAX],
) -> io::Result<(bool, usize)> {
    use tokio::io::AsyncReadExt as _;
    let mut n = 0;
    loop {
        let got = stream.read(&mut buf[n..]).await?;
        if got == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        n += got;
        let seen = &buf[..n];
        if !PREFACE.starts_with(seen) {
            return Ok((false, n));
        }
        if n == PREFACE.len() {
            return Ok((true, n));
        }
    }
}

#[cfg(test)]
mod tests;
