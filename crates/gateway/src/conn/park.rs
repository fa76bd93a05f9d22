//! An idle HTTP/1 keep-alive connection held outside hyper.
//!
//! hyper's HTTP/1 server keeps an 8 KiB read buffer and an 8 KiB write buffer for a
//! connection's whole life, idle or not, and has no setting to release them. A gateway
//! with tens of thousands of idle keep-alive clients (browsers, mobile apps, other proxies'
//! pools) pays that for each. So a plain HTTP/1 connection idle for `[timeouts]
//! client_park` (1 s by default) is *parked*: hyper's connection is ended without closing
//! the socket (see `idle::Watched`), its buffers and state are dropped, and the task waits
//! for the socket to become readable with nothing but the socket, the service and the
//! strict checker's state. The next bytes build a new hyper connection on the same socket.
//! nginx does the same at every keep-alive wait (`ngx_http_set_keepalive` frees the
//! request's buffers). Here it waits: the next request after a park costs a timer wake-up
//! and a new hyper connection, measured at +34 to +45 µs of CPU for a request after a
//! 150 ms pause (about 118 µs without the park; everything is cold at that pace;
//! `benches/park_cost.sh`), so a connection busy enough to notice never waits long enough
//! to be parked.
//!
//! What hyper had read but not parsed comes back in its `Parts::read_buf` and is given
//! to the new connection first ([`Replay`]), above the strict checker, which has seen
//! those bytes already.
//!
//! TLS connections are not parked: rustls may hold decrypted bytes the socket's readiness
//! does not show, and it keeps buffers of its own anyway.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

use super::idle::Watched;
use super::prefixed::Prefixed;
use super::strict_io::StrictIo;

/// An IO that can say when it has bytes to read without reading them.
pub trait ReadReady {
    /// Whether connections over this IO are parked at all.
    const PARKS: bool;

    /// Ready when a read would not block (bytes, EOF or an error).
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl ReadReady for TcpStream {
    const PARKS: bool = true;

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }
}

impl<S: ReadReady> ReadReady for Prefixed<S> {
    const PARKS: bool = S::PARKS;

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.has_unread() {
            return Poll::Ready(Ok(()));
        }
        self.get_ref().poll_read_ready(cx)
    }
}

impl<S> ReadReady for tokio_rustls::server::TlsStream<S> {
    const PARKS: bool = false;

    fn poll_read_ready(&self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Never asked: `PARKS` is false.
        Poll::Ready(Ok(()))
    }
}

impl<S: ReadReady> ReadReady for Watched<S> {
    const PARKS: bool = S::PARKS;

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_ref().poll_read_ready(cx)
    }
}

impl<S: ReadReady> ReadReady for StrictIo<S> {
    const PARKS: bool = S::PARKS;

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_ref().poll_read_ready(cx)
    }
}

impl<S: ReadReady> ReadReady for Replay<S> {
    const PARKS: bool = S::PARKS;

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.unread.is_empty() {
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_read_ready(cx)
    }
}

/// `inner`, after bytes a previous hyper connection read but did not parse.
#[derive(Debug)]
pub struct Replay<S> {
    unread: Bytes,
    inner: S,
}

impl<S> Replay<S> {
    /// `inner` with nothing to replay.
    pub fn new(inner: S) -> Self {
        Self {
            unread: Bytes::new(),
            inner,
        }
    }

    /// Reads `bytes` before anything else (what hyper's `Parts::read_buf` held). An
    /// empty buffer is dropped here, and with it the capacity hyper had reserved.
    pub fn replay(&mut self, bytes: Bytes) {
        self.unread = if bytes.is_empty() {
            Bytes::new()
        } else {
            bytes
        };
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.unread.is_empty() {
            let n = this.unread.len().min(buf.remaining());
            buf.put_slice(&this.unread[..n]);
            this.unread.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

super::forward::forward_async_write!(Replay, inner);

#[cfg(test)]
mod tests;
