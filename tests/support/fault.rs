//! Raw-socket HTTP/1.1 servers that misbehave on purpose, for pool and gateway failure tests.
//!
//! ```ignore
//! let srv = Fault::StaleRace { close_after: 1, rst: false }.run().await;
//! // ... drive a client at srv.addr() ...
//! assert_eq!(srv.requests_seen(), 2);
//! ```
//!
//! Every server is a tokio `TcpListener` on 127.0.0.1 writing hand-made bytes. It counts
//! accepted connections and records every request it *fully* read (head and body, by
//! `Content-Length` or chunked) as a [`RawRequest`]. All responses carry `x-conn-id` (1-based
//! connection number) and `x-req-seq` (1-based request number on that connection), except
//! [`Fault::Garbage`] whose point is to be unparsable. The server and all its connections
//! stop when the [`FaultServer`] is dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::body::{pattern_chunk, CHUNK};
use crate::wire::{self, Wire};

/// What a fault server does on each connection.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Keep-alive: answers `close_after` requests on a connection (`200`, `Content-Length: 2`,
    /// body `ok`), then reads the next request completely (head and body), records it, and
    /// closes without answering: FIN, or RST when `rst` (zero linger, then drop).
    StaleRace {
        /// Requests answered per connection before the silent close.
        close_after: usize,
        /// Close with RST instead of FIN.
        rst: bool,
    },
    /// Keep-alive: answers every request (`200`, body `ok`), and closes (FIN) a connection
    /// that saw no new request for `after` (idle time counts from accept or from the end of
    /// the last response).
    IdleClose {
        /// Idle time before the close.
        after: Duration,
    },
    /// Reads a request, sends `200` with `Content-Length: 1000000` and 100 000 pattern body
    /// bytes, waits 20 ms for them to reach the client, then resets (RST) the connection.
    ResetMidBody,
    /// Reads a request, sends `200` with `Content-Length: 1000` and 500 pattern body bytes,
    /// then closes with FIN.
    TruncateBody,
    /// Reads a request, answers `HTTP/1.1 abc GARBAGE\r\n\r\n` (invalid status line), FIN.
    Garbage,
    /// Reads requests and never answers; the socket stays open until the client closes it or
    /// the server is dropped.
    Stall,
    /// Reads a request, answers `200` with `Connection: close` and body `ok`, then FIN.
    ConnectionClose,
    /// Keep-alive: answers every request with `200` and a `Content-Length: body_len` pattern
    /// body (see [`crate::body::is_pattern`]), written in 64 KiB chunks.
    BigBodyKeepAlive {
        /// Response body length.
        body_len: usize,
    },
}

/// A request a fault server read completely.
#[derive(Clone, Debug)]
pub struct RawRequest {
    /// The connection it came on (1-based, in accept order).
    pub conn_id: usize,
    /// Its number on that connection (1-based).
    pub seq: usize,
    /// The head bytes exactly as received, blank line included.
    pub head: Vec<u8>,
    /// The parsed head.
    pub parsed: wire::RequestHead,
    /// The body, de-chunked if it was chunked.
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The method, e.g. `POST`.
    pub fn method(&self) -> &str {
        &self.parsed.method
    }

    /// The request target as sent.
    pub fn target(&self) -> &str {
        &self.parsed.target
    }

    /// Case-insensitive header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        wire::header(&self.parsed.headers, name)
    }
}

#[derive(Debug, Default)]
struct Stats {
    accepted: AtomicUsize,
    open: AtomicUsize,
    requests: Mutex<Vec<RawRequest>>,
}

impl Stats {
    fn requests(&self) -> std::sync::MutexGuard<'_, Vec<RawRequest>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fault server. Dropping it stops the accept loop and every connection.
#[derive(Debug)]
pub struct FaultServer {
    addr: SocketAddr,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Fault {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn run(self) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(accept_loop(self, listener, stats.clone()));
        FaultServer { addr, stats, task }
    }
}

impl FaultServer {
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path` (`path` should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::SeqCst)
    }

    /// Connections currently open on the server side.
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::SeqCst)
    }

    /// Requests fully read so far.
    pub fn requests_seen(&self) -> usize {
        self.stats.requests().len()
    }

    /// Copies of the requests fully read so far, in the order they completed.
    pub fn requests(&self) -> Vec<RawRequest> {
        self.stats.requests().clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(fault: Fault, listener: TcpListener, stats: Arc<Stats>) {
    // Owning the connection tasks here means aborting this task aborts them all.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((tcp, _)) => {
                    let conn_id = stats.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                    let stats = stats.clone();
                    conns.spawn(async move {
                        stats.open.fetch_add(1, Ordering::SeqCst);
                        let _open = OpenGuard(&stats.open);
                        let _ = tcp.set_nodelay(true);
                        serve(fault, Wire::new(tcp), conn_id, &stats).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fault server accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

struct OpenGuard<'a>(&'a AtomicUsize);

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads one whole request and records it. `None` on EOF, error, or a request cut short.
async fn read_request(
    w: &mut Wire<TcpStream>,
    stats: &Stats,
    conn_id: usize,
    seq: usize,
) -> Option<RawRequest> {
    let head = w.read_head().await.ok()??;
    let parsed = wire::parse_request_head(&head).ok()?;
    let framing = wire::request_framing(&parsed.headers).ok()?;
    let (body, end) = w.read_body(framing).await;
    if end != wire::End::Complete {
        return None;
    }
    let req = RawRequest {
        conn_id,
        seq,
        head,
        parsed,
        body,
    };
    stats.requests().push(req.clone());
    Some(req)
}

fn response_head(conn_id: usize, seq: usize, content_length: usize, extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {content_length}\r\nx-conn-id: {conn_id}\r\n\
         x-req-seq: {seq}\r\n{extra}\r\n"
    )
    .into_bytes()
}

async fn write_ok(w: &mut Wire<TcpStream>, conn_id: usize, seq: usize) -> std::io::Result<()> {
    let mut bytes = response_head(conn_id, seq, 2, "");
    bytes.extend_from_slice(b"ok");
    w.write_all(&bytes).await
}

/// Writes `len` pattern bytes in CHUNK-sized writes.
async fn write_pattern(w: &mut Wire<TcpStream>, len: usize) -> std::io::Result<()> {
    let mut sent = 0;
    while sent < len {
        let n = (len - sent).min(CHUNK);
        w.get_mut()
            .write_all(&pattern_chunk(sent as u64, n))
            .await?;
        sent += n;
    }
    w.get_mut().flush().await
}

/// Graceful close: FIN, then drop.
async fn close_fin(mut w: Wire<TcpStream>) {
    let _ = w.get_mut().shutdown().await;
}

/// Abortive close: RST.
fn close_rst(w: Wire<TcpStream>) {
    let tcp = w.into_inner();
    if let Err(e) = tcp.set_zero_linger() {
        tracing::warn!(error = %e, "set_zero_linger failed; closing with FIN");
    }
    drop(tcp);
}

async fn serve(fault: Fault, mut w: Wire<TcpStream>, conn_id: usize, stats: &Stats) {
    let mut seq = 0;
    loop {
        seq += 1;
        let req = match fault {
            Fault::IdleClose { after } => {
                match tokio::time::timeout(after, read_request(&mut w, stats, conn_id, seq)).await {
                    Ok(req) => req,
                    Err(_) => return close_fin(w).await,
                }
            }
            _ => read_request(&mut w, stats, conn_id, seq).await,
        };
        if req.is_none() {
            return;
        }
        let written = match fault {
            Fault::StaleRace { close_after, rst } => {
                if seq > close_after {
                    return if rst {
                        close_rst(w)
                    } else {
                        close_fin(w).await
                    };
                }
                write_ok(&mut w, conn_id, seq).await
            }
            Fault::IdleClose { .. } => write_ok(&mut w, conn_id, seq).await,
            Fault::ResetMidBody => {
                let head = response_head(conn_id, seq, 1_000_000, "");
                if w.write_all(&head).await.is_ok() && write_pattern(&mut w, 100_000).await.is_ok()
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                return close_rst(w);
            }
            Fault::TruncateBody => {
                let head = response_head(conn_id, seq, 1000, "");
                if w.write_all(&head).await.is_ok() {
                    let _ = write_pattern(&mut w, 500).await;
                }
                return close_fin(w).await;
            }
            Fault::Garbage => {
                let _ = w.write_all(b"HTTP/1.1 abc GARBAGE\r\n\r\n").await;
                return close_fin(w).await;
            }
            Fault::Stall => Ok(()),
            Fault::ConnectionClose => {
                let mut bytes = response_head(conn_id, seq, 2, "connection: close\r\n");
                bytes.extend_from_slice(b"ok");
                let _ = w.write_all(&bytes).await;
                return close_fin(w).await;
            }
            Fault::BigBodyKeepAlive { body_len } => {
                let head = response_head(conn_id, seq, body_len, "");
                match w.write_all(&head).await {
                    Ok(()) => write_pattern(&mut w, body_len).await,
                    Err(e) => Err(e),
                }
            }
        };
        if written.is_err() {
            return;
        }
    }
}
