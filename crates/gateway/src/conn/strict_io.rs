//! Strict request checking wired into a connection: [`StrictIo`] shows the
//! [`Checker`] a copy of every byte hyper reads from an HTTP/1
//! connection, and the connection's service asks [`StrictConn::next_request`] before
//! handing each request on (the refusal itself is `request`'s to answer).
//!
//! The wrapper sits between the socket (or TLS stream) and `TokioIo`, so the checker sees
//! the bytes before hyper parses them. hyper only hands request *k* to the service once
//! its whole head has been read, so at that point the verdict on that head is known, and
//! the service answers the refusal itself (with `Connection: close`, so hyper closes after
//! it): nothing of the request reaches an upstream, and nothing after it on the
//! connection is served.
//!
//! A violation in the body of a request that is already being forwarded (a bad chunk
//! arriving later) can't be answered that way; the wrapper then ends the stream before the
//! offending bytes (EOF). hyper fails the body, the upstream request is aborted before its
//! end (the upstream never sees a complete request), and the client gets a 400 if no
//! response had started, then the connection closes.
//!
//! After a `101 Switching Protocols` (or a 2xx to `CONNECT`) the bytes are no longer HTTP:
//! [`StrictConn::tunnel`] turns the checking off.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, ReadBuf};

use crate::strict::{Checker, Limits, Violation};

/// Per-connection checking state, shared by the IO wrapper and the service.
#[derive(Debug)]
pub struct StrictConn {
    state: Mutex<ConnState>,
}

#[derive(Debug)]
struct ConnState {
    checker: Checker,
    /// Requests handed to the service so far.
    dispatched: u64,
    /// The connection is a tunnel now: nothing is checked.
    tunnel: bool,
    /// The stream was ended under a request already being served.
    cut: bool,
}

impl StrictConn {
    /// State for a new connection.
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(ConnState {
                checker: Checker::new(limits),
                dispatched: 0,
                tunnel: false,
                cut: false,
            }),
        })
    }

    /// Called once for each request hyper hands to the service, in order: the violation to
    /// refuse it with, if it (or, defensively, an earlier request) broke the rules.
    pub fn next_request(&self) -> Option<Violation> {
        let mut s = self.state.lock();
        let index = s.dispatched;
        s.dispatched += 1;
        if s.tunnel {
            return None;
        }
        s.checker
            .verdict()
            .filter(|v| v.request <= index)
            .map(|v| v.violation)
    }

    /// The connection now carries another protocol: stop checking.
    pub fn tunnel(&self) {
        self.state.lock().tunnel = true;
    }

    /// Checks freshly read bytes; false when the stream must end before them.
    fn observe(&self, bytes: &[u8]) -> bool {
        let mut s = self.state.lock();
        if s.tunnel {
            return true;
        }
        if s.cut {
            return false;
        }
        s.checker.feed(bytes);
        match s.checker.verdict() {
            // The request is with the service already: only ending its body stops it.
            Some(v) if v.request < s.dispatched => {
                tracing::debug!(violation = %v.violation, request = v.request, "malformed request body; ending the stream");
                s.cut = true;
                false
            }
            _ => true,
        }
    }
}

/// An IO stream whose received bytes are checked by a [`StrictConn`].
#[derive(Debug)]
pub struct StrictIo<T> {
    io: T,
    conn: Arc<StrictConn>,
    eof: bool,
}

impl<T> StrictIo<T> {
    /// Wraps `io`.
    pub fn new(io: T, conn: Arc<StrictConn>) -> Self {
        Self {
            io,
            conn,
            eof: false,
        }
    }

    /// The wrapped IO.
    pub fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StrictIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.eof {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        let fresh = &buf.filled()[before..];
        if !fresh.is_empty() && !this.conn.observe(fresh) {
            buf.set_filled(before);
            this.eof = true;
        }
        Poll::Ready(Ok(()))
    }
}

super::forward::forward_async_write!(StrictIo, io);
