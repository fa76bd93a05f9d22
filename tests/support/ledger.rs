//! A scripted raw-socket upstream for "nothing lost" ledger tests, and the hash both ends
//! use.
//!
//! ```ignore
//! let up = LedgerServer::run().await;
//! // requests carry `x-test-id`, `x-body-sha` (FNV-1a 64 of the body, hex) and
//! // `x-test-behavior` (a `Behavior` name); see `arrivals()` afterwards.
//! ```
//!
//! Each request is recorded as an [`Arrival`] as soon as its head is read (so "reached the
//! upstream" counts a request even if its body never completes). It is then answered as
//! its `x-test-behavior` header says (default [`Behavior::Normal`]). Every response head
//! carries `x-test-id` (the request's) and `x-conn-id` (1-based connection number), so a
//! response given to the wrong request is visible. The server and its connections stop
//! when the [`LedgerServer`] is dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::body::pattern_chunk;
use crate::wire::{self, Wire};

/// The request id header.
pub const TEST_ID: &str = "x-test-id";
/// The body hash header (`{:016x}` of [`fnv1a64`]).
pub const BODY_SHA: &str = "x-body-sha";
/// The header naming the [`Behavior`].
pub const BEHAVIOR: &str = "x-test-behavior";

/// FNV-1a, 64 bit: small, deterministic, good enough to catch a wrong or cut body.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What the server does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Behavior {
    /// `200`, `Content-Length`, the request body echoed; keep-alive.
    Normal,
    /// `200` announcing 200 000 bytes, 1 000 sent, 20 ms pause, then RST.
    ResetMidBody,
    /// `200` announcing 2 000 bytes, 500 sent, then FIN.
    TruncateBody,
    /// Bytes that are not HTTP at all; the connection stays open, still reading requests.
    Garbage,
    /// A status line with a two-digit status; the connection stays open, still reading.
    BadStatus,
    /// No answer; the connection stays open, still reading requests.
    Stall,
    /// `200` announcing 1 000 bytes, 100 sent, then silence until the client closes.
    StallMidBody,
}

impl Behavior {
    /// Every behavior.
    pub const ALL: [Behavior; 7] = [
        Behavior::Normal,
        Behavior::ResetMidBody,
        Behavior::TruncateBody,
        Behavior::Garbage,
        Behavior::BadStatus,
        Behavior::Stall,
        Behavior::StallMidBody,
    ];

    /// The `x-test-behavior` value.
    pub fn name(self) -> &'static str {
        match self {
            Behavior::Normal => "normal",
            Behavior::ResetMidBody => "reset-mid-body",
            Behavior::TruncateBody => "truncate-body",
            Behavior::Garbage => "garbage",
            Behavior::BadStatus => "bad-status",
            Behavior::Stall => "stall",
            Behavior::StallMidBody => "stall-mid-body",
        }
    }

    fn parse(s: &str) -> Behavior {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .unwrap_or(Behavior::Normal)
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Arrival {
    /// The connection (1-based, accept order).
    pub conn_id: usize,
    /// Its number on that connection (1-based).
    pub seq: usize,
    /// `x-test-id`, if it parsed.
    pub id: Option<u64>,
    /// The method.
    pub method: String,
    /// What the request asked for.
    pub behavior: Behavior,
    /// FNV-1a of the body, once it was read completely.
    pub body_hash: Option<u64>,
}

#[derive(Debug, Default)]
struct Stats {
    accepted: AtomicUsize,
    open: AtomicUsize,
    arrivals: Mutex<Vec<Arrival>>,
}

impl Stats {
    fn arrivals(&self) -> std::sync::MutexGuard<'_, Vec<Arrival>> {
        self.arrivals.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running ledger server. Dropping it stops everything.
#[derive(Debug)]
pub struct LedgerServer {
    addr: SocketAddr,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl LedgerServer {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn run() -> LedgerServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(accept_loop(listener, stats.clone()));
        LedgerServer { addr, stats, task }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::SeqCst)
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::SeqCst)
    }

    /// Every request head seen so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.stats.arrivals().clone()
    }
}

impl Drop for LedgerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, stats: Arc<Stats>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((tcp, _)) => {
                    let conn_id = stats.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                    let stats = stats.clone();
                    conns.spawn(async move {
                        stats.open.fetch_add(1, Ordering::SeqCst);
                        let _ = tcp.set_nodelay(true);
                        serve(Wire::new(tcp), conn_id, &stats).await;
                        stats.open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ledger server accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Reads until the client closes (or fails).
async fn wait_for_close(mut w: Wire<TcpStream>) {
    let _ = w.read_to_close().await;
}

async fn serve(mut w: Wire<TcpStream>, conn_id: usize, stats: &Stats) {
    for seq in 1.. {
        let Ok(Some(head)) = w.read_head().await else {
            return;
        };
        let Ok(parsed) = wire::parse_request_head(&head) else {
            return;
        };
        let get = |name| wire::header(&parsed.headers, name);
        let id = get(TEST_ID).and_then(|v| v.parse::<u64>().ok());
        let behavior = get(BEHAVIOR).map_or(Behavior::Normal, Behavior::parse);
        let index = {
            let mut arrivals = stats.arrivals();
            arrivals.push(Arrival {
                conn_id,
                seq,
                id,
                method: parsed.method.clone(),
                behavior,
                body_hash: None,
            });
            arrivals.len() - 1
        };
        let Ok(framing) = wire::request_framing(&parsed.headers) else {
            return;
        };
        let (body, end) = w.read_body(framing).await;
        if end != wire::End::Complete {
            return;
        }
        let hash = fnv1a64(&body);
        stats.arrivals()[index].body_hash = Some(hash);
        let id_text = id.map_or_else(|| "none".to_owned(), |id| id.to_string());
        let head = |len: usize| {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n{TEST_ID}: {id_text}\r\n\
                 {BODY_SHA}: {hash:016x}\r\nx-conn-id: {conn_id}\r\n\r\n"
            )
            .into_bytes()
        };
        match behavior {
            Behavior::Normal => {
                let mut out = head(body.len());
                out.extend_from_slice(&body);
                if w.write_all(&out).await.is_err() {
                    return;
                }
            }
            Behavior::ResetMidBody => {
                let mut out = head(200_000);
                out.extend_from_slice(&pattern_chunk(0, 1000));
                if w.write_all(&out).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let tcp = w.into_inner();
                let _ = tcp.set_zero_linger();
                return;
            }
            Behavior::TruncateBody => {
                let mut out = head(2000);
                out.extend_from_slice(&pattern_chunk(0, 500));
                let _ = w.write_all(&out).await;
                let _ = w.get_mut().shutdown().await;
                return;
            }
            // These three leave the connection open and go on reading: a client that
            // (wrongly) sent another request on it would show up as an arrival.
            Behavior::Garbage => {
                let _ = w
                    .write_all(b"\x00\x01\x02 this is not HTTP \xff\r\n\r\n")
                    .await;
            }
            Behavior::BadStatus => {
                let _ = w
                    .write_all(b"HTTP/1.1 20 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            }
            Behavior::Stall => {}
            Behavior::StallMidBody => {
                let mut out = head(1000);
                out.extend_from_slice(&pattern_chunk(0, 100));
                let _ = w.write_all(&out).await;
                return wait_for_close(w).await;
            }
        }
    }
}
