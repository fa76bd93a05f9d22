//! Issue #17 item 4: the h2c preface sniffer reads (and hands back) the first bytes instead
//! of peeking in a poll loop. A preface or an HTTP/1 request dribbled a byte at a time is
//! still served right; clients that send just `P` and stall cost no CPU while they wait
//! (the CPU time of the test process over that second is printed, not asserted: run with
//! `--nocapture` to see it).

use std::time::Duration;

use bytes::Bytes;
use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::raw::{h2_handshake, RawConn};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http::{Request, StatusCode};
use http_body_util::Empty;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// utime + stime of this process, in clock ticks (Linux `/proc/self/stat`).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[tokio::test]
async fn dribbled_preface_and_request_are_served() {
    init_tracing();
    within("sniff", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let addr = gw.addrs[0];

        // HTTP/1, first bytes one at a time ("P" could start either protocol).
        let mut c = RawConn::connect(addr).await.expect("connect");
        let req = b"POST /h1 HTTP/1.1\r\nhost: gateway.test\r\ncontent-length: 0\r\n\r\n";
        for b in &req[..6] {
            c.send(std::slice::from_ref(b)).await.expect("byte");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.send(&req[6..]).await.expect("rest");
        let r = c.read_response().await.expect("h1 response");
        assert_eq!(r.status, 200);

        // HTTP/2 prior knowledge, the preface one byte at a time.
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        for b in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
            tcp.write_all(std::slice::from_ref(b)).await.expect("byte");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // An empty SETTINGS frame; an HTTP/2 server answers with its own SETTINGS.
        tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
            .await
            .expect("settings");
        let mut frame = [0u8; 9];
        tcp.read_exact(&mut frame).await.expect("server settings");
        assert_eq!(frame[3], 4, "first frame is SETTINGS: {frame:?}");
        drop(tcp);
        // And a whole client on a fresh connection.
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut client = h2_handshake::<_, Empty<Bytes>>(tcp).await.expect("h2");
        let resp = client
            .send_request(
                Request::get("http://gateway.test/h2")
                    .body(Empty::new())
                    .expect("request"),
            )
            .await
            .expect("h2 response");
        assert_eq!(resp.status(), StatusCode::OK);
        let seen: Vec<String> = up.requests().iter().map(|r| r.uri.to_string()).collect();
        assert_eq!(seen, ["/h1", "/h2"]);

        // 200 connections that sent only "P": one second of waiting.
        let before = cpu_ticks();
        let mut stalled = Vec::new();
        for _ in 0..200 {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_all(b"P").await.expect("P");
            stalled.push(s);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let (Some(a), Some(b)) = (before, cpu_ticks()) {
            println!(
                "CPU over 1 s with 200 stalled 'P' connections: {} ticks (1 tick = 10 ms)",
                b - a
            );
        }
        drop(stalled);
    })
    .await;
}
