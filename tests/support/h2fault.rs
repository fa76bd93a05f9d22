//! An HTTP/2 (prior knowledge, cleartext) upstream on 127.0.0.1 that misbehaves on purpose,
//! counting what it received (issue #17 item 11).
//!
//! ```ignore
//! let up = H2Fault::start(H2Mode::RefuseFirst(3)).await;   // RST_STREAM(REFUSED_STREAM) ×3
//! let up = H2Fault::start(H2Mode::GoAwayBelow { streams: 4, last_stream_id: 1 }).await;
//! ```
//!
//! * [`H2Mode::RefuseFirst`]: the `h2` crate's server; the first `n` streams (across
//!   connections) are reset with `REFUSED_STREAM` without reading them, the rest answered.
//! * [`H2Mode::GoAwayBelow`]: the first connection is hand-written frames, because the `h2`
//!   crate always puts the highest stream it has seen in a GOAWAY: it waits until `streams`
//!   requests are in flight, sends `GOAWAY(last_stream_id, NO_ERROR)`, answers the streams
//!   at or below `last_stream_id` and closes. Later connections are the `h2` crate's server.
//!
//! Every answer is `200` with `x-conn: <1-based connection number>` and the request path
//! as its body. [`H2Fault::received`] lists the streams each connection saw; on the
//! hand-written connection only stream ids are known (paths are HPACK-coded).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::h2wire::{frame, PREFACE};

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Mode {
    /// Answer everything.
    Normal,
    /// Reset the first `n` streams with `REFUSED_STREAM`.
    RefuseFirst(usize),
    /// On the first connection, once `streams` requests are in flight, send a GOAWAY whose
    /// last-stream-id is `last_stream_id` and answer only the streams at or below it.
    GoAwayBelow {
        /// Requests to wait for on the first connection.
        streams: usize,
        /// The GOAWAY's last-stream-id (odd, below the highest in-flight stream).
        last_stream_id: u32,
    },
}

/// One stream as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// 1-based connection number, in accept order.
    pub conn: usize,
    /// The HTTP/2 stream id.
    pub stream_id: u32,
    /// Method and path; empty on the hand-written connection.
    pub method: String,
    /// The request path (empty on the hand-written connection).
    pub path: String,
    /// Body bytes read (0 when the stream was refused before reading).
    pub body_len: usize,
    /// What the server did: `"answered"`, `"refused"` or `"goaway"` (above the last id).
    pub outcome: &'static str,
}

#[derive(Debug, Default)]
struct State {
    received: Mutex<Vec<Received>>,
    connections: AtomicUsize,
    refused: AtomicUsize,
}

/// A running fault server; dropping it stops accepting (open connections end with their
/// tasks).
#[derive(Debug)]
pub struct H2Fault {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl Drop for H2Fault {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl H2Fault {
    /// Binds 127.0.0.1:0 and serves in the background.
    pub async fn start(mode: H2Mode) -> H2Fault {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        let st = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let conn = st.connections.fetch_add(1, Ordering::SeqCst) + 1;
                let st = st.clone();
                tokio::spawn(async move {
                    match mode {
                        H2Mode::GoAwayBelow {
                            streams,
                            last_stream_id,
                        } if conn == 1 => goaway_conn(tcp, conn, streams, last_stream_id, st).await,
                        _ => h2_conn(tcp, conn, mode, st).await,
                    }
                });
            }
        });
        H2Fault {
            addr,
            state,
            accept,
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Streams reset with `REFUSED_STREAM` so far.
    pub fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }

    /// Every stream received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("lock").clone()
    }
}

fn record(st: &State, r: Received) {
    st.received.lock().expect("lock").push(r);
}

/// The `h2` crate's server side: answer, or refuse the first streams.
async fn h2_conn(tcp: TcpStream, conn: usize, mode: H2Mode, st: Arc<State>) {
    let Ok(mut h2) = h2::server::handshake(tcp).await else {
        return;
    };
    while let Some(Ok((req, mut respond))) = h2.accept().await {
        let stream_id = respond.stream_id().as_u32();
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        if let H2Mode::RefuseFirst(n) = mode {
            // Claim a refusal slot atomically: concurrent streams may race for the last one.
            let claimed = st
                .refused
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
                    (r < n).then_some(r + 1)
                })
                .is_ok();
            if claimed {
                respond.send_reset(h2::Reason::REFUSED_STREAM);
                record(
                    &st,
                    Received {
                        conn,
                        stream_id,
                        method,
                        path,
                        body_len: 0,
                        outcome: "refused",
                    },
                );
                continue;
            }
        }
        let st = st.clone();
        tokio::spawn(async move {
            let mut body = req.into_body();
            let mut body_len = 0;
            while let Some(Ok(chunk)) = body.data().await {
                body_len += chunk.len();
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            record(
                &st,
                Received {
                    conn,
                    stream_id,
                    method,
                    path: path.clone(),
                    body_len,
                    outcome: "answered",
                },
            );
            let resp = Response::builder()
                .status(StatusCode::OK)
                .header("x-conn", conn.to_string())
                .body(())
                .expect("response");
            if let Ok(mut send) = respond.send_response(resp, false) {
                let _ = send.send_data(Bytes::from(path), true);
            }
        });
    }
}

const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

/// `:status: 200` (static table index 8) and `x-conn: <conn>` as a literal without
/// indexing, no Huffman: the whole HPACK block, by hand.
fn response_block(conn: usize) -> Vec<u8> {
    let value = conn.to_string();
    let mut b = vec![0x88, 0x00, 6];
    b.extend_from_slice(b"x-conn");
    b.push(u8::try_from(value.len()).expect("short"));
    b.extend_from_slice(value.as_bytes());
    b
}

/// Hand-written frames: collect `streams` requests, GOAWAY below them, answer the ones at
/// or below the last id, close.
async fn goaway_conn(
    mut tcp: TcpStream,
    conn: usize,
    streams: usize,
    last_stream_id: u32,
    st: Arc<State>,
) {
    let mut preface = [0u8; 24];
    if tcp.read_exact(&mut preface).await.is_err() || preface != PREFACE {
        return;
    }
    if tcp.write_all(&frame(SETTINGS, 0, 0, &[])).await.is_err() {
        return;
    }
    let mut seen: Vec<u32> = Vec::new();
    while seen.len() < streams {
        let mut head = [0u8; 9];
        if tcp.read_exact(&mut head).await.is_err() {
            return;
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        if tcp.read_exact(&mut payload).await.is_err() {
            return;
        }
        match kind {
            SETTINGS
                if flags & ACK == 0
                    && tcp.write_all(&frame(SETTINGS, ACK, 0, &[])).await.is_err() =>
            {
                return;
            }
            HEADERS if !seen.contains(&stream) => seen.push(stream),
            _ => {}
        }
    }
    let mut goaway = last_stream_id.to_be_bytes().to_vec();
    goaway.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
    let mut out = frame(GOAWAY, 0, 0, &goaway);
    for &id in &seen {
        let outcome = if id <= last_stream_id {
            out.extend_from_slice(&frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                id,
                &response_block(conn),
            ));
            "answered"
        } else {
            "goaway"
        };
        record(
            &st,
            Received {
                conn,
                stream_id: id,
                method: String::new(),
                path: String::new(),
                body_len: 0,
                outcome,
            },
        );
    }
    if tcp.write_all(&out).await.is_err() {
        return;
    }
    // Let the client read everything, then close: read until it hangs up (bounded).
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}
