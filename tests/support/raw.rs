//! Clients for tests: a raw HTTP/1.1 client that writes exact bytes and reads one
//! response by hand (to see what really went over the wire), and thin helpers around
//! hyper's low-level `client::conn` for tests that just need a plain HTTP client.
//!
//! Every raw-client call is bounded by [`RAW_TIMEOUT`] and fails with `TimedOut` past it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use gangway_pool::rt::{TokioExecutor, TokioIo, TokioTimer};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::body::BoxError;
use crate::wire::{self, End, Wire};

/// Upper bound on every raw-client operation.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(10);

async fn bounded<T>(fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    match tokio::time::timeout(RAW_TIMEOUT, fut).await {
        Ok(res) => res,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "raw client operation timed out",
        )),
    }
}

/// One response as read off the wire.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The head bytes exactly as received, blank line included.
    pub head: Vec<u8>,
    /// Statuses of interim 1xx responses skipped before this one (not 101).
    pub informational: Vec<u16>,
    /// The body, de-chunked; possibly partial when [`RawResponse::closed_cleanly`] is false.
    pub body: Vec<u8>,
    /// How the body ended.
    pub end: End,
    /// True when the body ended where its framing says (`Content-Length` reached, last
    /// chunk read, or FIN for a close-delimited body); false when a FIN or an RST cut it
    /// short.
    pub closed_cleanly: bool,
}

impl RawResponse {
    /// Case-insensitive lookup of the first header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        wire::header(&self.headers, name)
    }

    /// All values of headers named `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as (lossy) UTF-8.
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Everything read until the peer closed.
#[derive(Clone, Debug)]
pub struct RawClose {
    /// The bytes received.
    pub bytes: Vec<u8>,
    /// `Complete` for a FIN, `Error(kind)` for e.g. a reset.
    pub end: End,
}

/// A raw TCP connection that speaks HTTP/1.1 by hand (keep-alive and pipelining are up to
/// the bytes the test sends).
#[derive(Debug)]
pub struct RawConn {
    wire: Wire<TcpStream>,
}

impl RawConn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let tcp = bounded(TcpStream::connect(addr)).await?;
        tcp.set_nodelay(true)?;
        Ok(Self {
            wire: Wire::new(tcp),
        })
    }

    /// The socket (e.g. for `local_addr`).
    pub fn tcp(&self) -> &TcpStream {
        self.wire.get_ref()
    }

    /// Writes `bytes` exactly and flushes.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        bounded(self.wire.write_all(bytes)).await
    }

    /// Reads one response (skipping 1xx interim responses except 101). Fails with
    /// `UnexpectedEof` when the peer closes before a response starts, with the read error
    /// (e.g. `ConnectionReset`) on a reset, with `InvalidData` on an unparsable head.
    pub async fn read_response(&mut self) -> io::Result<RawResponse> {
        bounded(self.read_response_inner(false)).await
    }

    /// Like [`RawConn::read_response`] for the response to a HEAD request (no body).
    pub async fn read_head_response(&mut self) -> io::Result<RawResponse> {
        bounded(self.read_response_inner(true)).await
    }

    /// Sends `bytes` and reads one response (a HEAD one if `bytes` starts with `HEAD `).
    pub async fn request(&mut self, bytes: &[u8]) -> io::Result<RawResponse> {
        self.send(bytes).await?;
        bounded(self.read_response_inner(bytes.starts_with(b"HEAD "))).await
    }

    /// Reads until the peer closes (buffered bytes first).
    pub async fn read_to_close(&mut self) -> io::Result<RawClose> {
        bounded(async {
            let (bytes, end) = self.wire.read_to_close().await;
            Ok(RawClose { bytes, end })
        })
        .await
    }

    async fn read_response_inner(&mut self, head_request: bool) -> io::Result<RawResponse> {
        let mut informational = Vec::new();
        loop {
            let Some(head) = self.wire.read_head().await? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before a response",
                ));
            };
            let parsed = wire::parse_response_head(&head)?;
            if (100..200).contains(&parsed.status) && parsed.status != 101 {
                informational.push(parsed.status);
                continue;
            }
            let framing = if parsed.status == 101 {
                wire::Framing::Empty
            } else {
                wire::response_framing(parsed.status, &parsed.headers, head_request)?
            };
            let (body, end) = self.wire.read_body(framing).await;
            return Ok(RawResponse {
                status: parsed.status,
                reason: parsed.reason,
                headers: parsed.headers,
                head,
                informational,
                body,
                end,
                closed_cleanly: end == End::Complete,
            });
        }
    }
}

/// Connects to `addr`, writes `bytes`, reads one response (a HEAD one if `bytes` starts
/// with `HEAD `). The connection is dropped afterwards.
pub async fn send_raw(addr: SocketAddr, bytes: &[u8]) -> io::Result<RawResponse> {
    RawConn::connect(addr).await?.request(bytes).await
}

/// Connects to `addr`, writes `bytes` and returns everything received until the peer
/// closes.
pub async fn read_to_close(addr: SocketAddr, bytes: &[u8]) -> io::Result<RawClose> {
    let mut conn = RawConn::connect(addr).await?;
    conn.send(bytes).await?;
    conn.read_to_close().await
}

/// HTTP/1.1 handshake over an established stream (TCP or TLS); the connection task is
/// spawned (with upgrades enabled) and ends when the `SendRequest` and the peer are done.
pub async fn h1_handshake<T, B>(io: T) -> Result<http1::SendRequest<B>, BoxError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (sender, conn) = http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "test h1 client connection ended with error");
        }
    });
    Ok(sender)
}

/// HTTP/2 handshake over an established stream (TCP prior knowledge, or TLS after ALPN
/// `h2`); the connection task is spawned.
pub async fn h2_handshake<T, B>(io: T) -> Result<http2::SendRequest<B>, BoxError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: http_body::Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (sender, conn) = http2::Builder::new(TokioExecutor)
        .timer(TokioTimer)
        .handshake(TokioIo::new(io))
        .await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "test h2 client connection ended with error");
        }
    });
    Ok(sender)
}

/// A plain HTTP/1.1 client connection to `addr`. Requests need a `Host` header and an
/// origin-form URI (`/path`).
pub async fn h1_client<B>(addr: SocketAddr) -> Result<http1::SendRequest<B>, BoxError>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    h1_handshake(tcp).await
}

/// A plain HTTP/2 (h2c, prior knowledge) client connection to `addr`. Requests need an
/// absolute URI (`http://127.0.0.1:PORT/path`).
pub async fn h2c_client<B>(addr: SocketAddr) -> Result<http2::SendRequest<B>, BoxError>
where
    B: http_body::Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    h2_handshake(tcp).await
}

/// Reads a whole hyper response body.
pub async fn collect(
    resp: http::Response<Incoming>,
) -> Result<(http::response::Parts, Bytes), hyper::Error> {
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await?.to_bytes();
    Ok((parts, bytes))
}
