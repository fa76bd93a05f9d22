//! Issue #17 items 4 and 11: `[timeouts] client_idle` closes client connections with
//! nothing in flight (HTTP/1.1 keep-alive; HTTP/2 with a GOAWAY first), and the h2c
//! preface sniffer and the request head share one `header_read` budget.
//!
//! Every wait is bounded; nothing asserts how long a timer took. The shared-budget test
//! tells one budget from two by the outcome: the head's last bytes arrive after one budget
//! but before the end of a second one started by the sniffer's end.

use std::time::Duration;

use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::h2wire::{frame, frames, get_headers, Frame, PREFACE};
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
        let mut hello = PREFACE.to_vec();
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
