//! Issue #17 items 4 and 11: `[timeouts] client_idle` closes client connections with
//! nothing in flight (HTTP/1.1 keep-alive; HTTP/2 with a GOAWAY first), and the h2c
//! preface sniffer and the request head share one `header_read` budget.
//!
//! Every wait is bounded; nothing asserts how long a timer took. The shared-budget test
//! tells one budget from two by the outcome: the head's last bytes arrive after one budget
//! but before the end of a second one started by the sniffer's end.

use std::time::Duration;

use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::raw::RawConn;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes (within `limit`); the bytes read, or `None` if still open.
async fn read_to_eof(tcp: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_client_idle() {
    init_tracing();
    let up = Upstream::http1().run().await;
    // header_read stays at its 30 s default: only client_idle can close within the wait.
    let toml = format!(
        "{}[timeouts]\nclient_idle = \"300ms\"\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    within("h1 idle", async {
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        for _ in 0..2 {
            let r = c
                .request(b"GET /a HTTP/1.1\r\nHost: gw.test\r\n\r\n")
                .await
                .expect("response");
            assert_eq!(r.status, 200);
        }
        let closed = c.read_to_close().await.expect("closed");
        assert!(closed.bytes.is_empty(), "{:?}", closed.bytes);
        // Both requests were served on the connection before it went idle.
        assert_eq!(up.requests_seen(), 2);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

/// One HTTP/2 frame: (type, flags, stream id, payload).
type Frame = (u8, u8, u32, Vec<u8>);

/// Splits `bytes` into whole frames; returns them and how many bytes they took.
fn frames(bytes: &[u8]) -> (Vec<Frame>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 9 {
        let h = &bytes[at..at + 9];
        let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
        if bytes.len() < at + 9 + len {
            break;
        }
        let id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        out.push((h[3], h[4], id, bytes[at + 9..at + 9 + len].to_vec()));
        at += 9 + len;
    }
    (out, at)
}

fn frame(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A GET of `/` with an `:authority`, as an HPACK block of static-table indexes and one
/// literal (no dynamic table).
fn get_headers() -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x84, 0x01, 7];
    block.extend_from_slice(b"gw.test");
    block
}

#[tokio::test]
async fn an_idle_h2_connection_gets_goaway_then_close_after_client_idle() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let toml = format!(
        "{}[timeouts]\nclient_idle = \"300ms\"\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    within("h2 idle", async {
        let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend(frame(4, 0, 0, &[]));
        // One request (END_STREAM | END_HEADERS), then nothing.
        hello.extend(frame(1, 0x5, 1, &get_headers()));
        tcp.write_all(&hello).await.expect("hello");
        let mut seen: Vec<Frame> = Vec::new();
        let mut pending = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = match tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) => 0,
                Err(_) => panic!("still open after 10 s; frames: {seen:?}"),
            };
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            let (got, used) = frames(&pending);
            pending.drain(..used);
            for f in got {
                match (f.0, f.1 & 1) {
                    // SETTINGS and PING get their ACK, as any client would send.
                    (4, 0) => tcp.write_all(&frame(4, 1, 0, &[])).await.expect("ack"),
                    (6, 0) => tcp.write_all(&frame(6, 1, 0, &f.3)).await.expect("pong"),
                    _ => {}
                }
                seen.push(f);
            }
        }
        let kinds: Vec<u8> = seen.iter().map(|f| f.0).collect();
        // The response (HEADERS on stream 1) came before the idle GOAWAY.
        let headers = kinds
            .iter()
            .position(|&k| k == 1)
            .expect("response HEADERS");
        let goaway = kinds.iter().position(|&k| k == 7).expect("a GOAWAY");
        assert!(headers < goaway, "{kinds:?}");
        assert_eq!(up.requests_seen(), 1);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn the_sniffer_and_the_head_share_one_header_read_budget() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let toml = format!(
        "{}[timeouts]\nheader_read = \"1s\"\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    within("one budget", async {
        let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
        // "P" may start the h2c preface: the sniffer waits for more.
        tcp.write_all(b"P").await.expect("P");
        tokio::time::sleep(Duration::from_millis(900)).await;
        // Now it is HTTP/1. With a second budget starting here the rest (at ~1.4 s) would
        // be in time (~1.9 s); with one it is late (1 s).
        let _ = tcp.write_all(b"OST /late HTTP/1.1\r\n").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = tcp
            .write_all(b"Host: gw.test\r\nContent-Length: 0\r\n\r\n")
            .await;
        let got = read_to_eof(&mut tcp, Duration::from_secs(10))
            .await
            .expect("closed");
        assert!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(up.requests_seen(), 0);

        // A head in time after the same sniffing pause is served.
        let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
        tcp.write_all(b"P").await.expect("P");
        tokio::time::sleep(Duration::from_millis(200)).await;
        tcp.write_all(
            b"OST /ok HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("rest");
        let got = read_to_eof(&mut tcp, Duration::from_secs(10))
            .await
            .expect("closed");
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(up.requests_seen(), 1);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}
