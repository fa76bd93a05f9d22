//! Issue #3 acceptance, graceful shutdown (what SIGTERM triggers in the binary, here called
//! in-process through `Running::shutdown`): in-flight requests finish, new connections are
//! refused, idle connections are closed at once, and `shutdown` reports 0 connections left;
//! past the grace period the remaining connections are counted and closed.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use gangway_tests::gateway::{get, start_gateway};
use gangway_tests::raw::{self, collect, RawConn};
use gangway_tests::upstream::Upstream;
use gangway_tests::wire::End;
use gangway_tests::{init_tracing, wait_until, within};
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

fn config(upstream: &str, grace: &str) -> String {
    format!(
        "[[route]]\nprefix = \"/\"\nupstream = \"{upstream}\"\n\n[timeouts]\nshutdown_grace = \"{grace}\"\n"
    )
}

/// Connects until the gateway refuses (its listener is closed); panics after `limit`.
async fn wait_refused(addr: SocketAddr, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return,
            // Accepted by the kernel just before the listener closed, then reset with it.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("unexpected connect error: {e}"),
            Ok(_) => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting connections {limit:?} after shutdown started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads until the peer closes; `true` when it closed (FIN or RST), `false` on data.
async fn closed_by_peer(tcp: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match tcp.read(&mut buf).await {
        Ok(0) => true,
        Ok(_) => false,
        Err(_) => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_under_load_finishes_in_flight_requests() {
    init_tracing();
    within("graceful shutdown", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&config(&up.url(""), "10s")).await;
        let addr = gw.addrs[0];

        // An idle keep-alive connection, after one request.
        let mut idle = RawConn::connect(addr).await.expect("connect idle");
        let r = idle.request(&get("/warm")).await.expect("warm-up");
        assert_eq!(r.status, 200);
        // A connection that never sends a byte.
        let mut silent = TcpStream::connect(addr).await.expect("connect silent");

        // 45 requests on their own HTTP/1.1 connections, 5 as streams of one h2c one.
        let mut tasks = Vec::new();
        for i in 0..45 {
            tasks.push(tokio::spawn(async move {
                let mut c = raw::h1_client(addr).await.expect("h1 client");
                let req = Request::post(format!("/sleep/500?n={i}"))
                    .header("host", "gateway.test")
                    .body(Full::new(Bytes::from(format!("body {i}"))))
                    .expect("request");
                let (parts, body) = collect(c.send_request(req).await.expect("response head"))
                    .await
                    .expect("response body");
                (parts.status, body, format!("body {i}"))
            }));
        }
        let h2 = raw::h2c_client::<Full<Bytes>>(addr)
            .await
            .expect("h2c client");
        for i in 45..50 {
            let mut c = h2.clone();
            tasks.push(tokio::spawn(async move {
                let req = Request::post(format!("http://gateway.test/sleep/500?n={i}"))
                    .body(Full::new(Bytes::from(format!("body {i}"))))
                    .expect("request");
                let (parts, body) = collect(c.send_request(req).await.expect("response head"))
                    .await
                    .expect("response body");
                (parts.status, body, format!("body {i}"))
            }));
        }
        let all_in = wait_until(Duration::from_secs(3), || up.in_flight() == 50).await;
        assert!(
            all_in,
            "only {} requests reached the upstream",
            up.in_flight()
        );

        let shutdown = tokio::spawn(gw.shutdown());
        wait_refused(addr, Duration::from_secs(1)).await;
        // Idle connections do not wait for the in-flight ones.
        let rest = idle.read_to_close().await.expect("idle connection closed");
        assert!(
            rest.bytes.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&rest.bytes)
        );
        assert!(
            within("silent connection closed", closed_by_peer(&mut silent)).await,
            "the silent connection got data"
        );

        for t in tasks {
            let (status, body, sent) = t.await.expect("request task");
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, sent.as_bytes());
        }
        let left = shutdown.await.expect("shutdown task");
        assert_eq!(left, 0, "connections left at the deadline");
        assert_eq!(up.requests_seen(), 51);
        // And still nothing accepts.
        wait_refused(addr, Duration::ZERO).await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_with_nothing_in_flight_is_immediate() {
    init_tracing();
    within("idle shutdown", async {
        let up = Upstream::http1().run().await;
        // A grace period longer than `within`: finishing in time means nothing waited
        // for it.
        let gw = start_gateway(&config(&up.url(""), "60s")).await;
        let addr = gw.addrs[0];
        let mut idle = RawConn::connect(addr).await.expect("connect");
        assert_eq!(idle.request(&get("/a")).await.expect("request").status, 200);
        let mut silent = TcpStream::connect(addr).await.expect("connect silent");
        // Let the gateway accept both before shutting down.
        let accepted = wait_until(Duration::from_secs(1), || {
            gw.app
                .render_metrics()
                .contains("gangway_connections_open 2\n")
        });
        assert!(accepted.await, "{}", gw.app.render_metrics());
        assert_eq!(gw.shutdown().await, 0);
        let rest = idle.read_to_close().await.expect("closed");
        assert_eq!(rest.end, End::Complete);
        assert!(closed_by_peer(&mut silent).await);
        wait_refused(addr, Duration::ZERO).await;
    })
    .await;
}

#[tokio::test]
async fn a_request_whose_head_is_arriving_is_still_served() {
    init_tracing();
    within("partial head at shutdown", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&config(&up.url(""), "10s")).await;
        let addr = gw.addrs[0];
        let mut partial = RawConn::connect(addr).await.expect("connect");
        partial.send(b"GET /half HTTP/1.1\r\n").await.expect("send");
        let started = wait_until(Duration::from_secs(1), || {
            gw.app
                .render_metrics()
                .contains("gangway_connections_open 1\n")
        });
        assert!(started.await);
        // Accepted is not yet read: give the gateway a moment to see the first bytes (a
        // connection whose bytes it has not seen yet is closed like a silent one).
        tokio::time::sleep(Duration::from_millis(100)).await;
        let shutdown = tokio::spawn(gw.shutdown());
        wait_refused(addr, Duration::from_secs(1)).await;
        let r = partial
            .request(b"host: gateway.test\r\n\r\n")
            .await
            .expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-path"), Some("/half"));
        assert_eq!(r.header("connection"), Some("close"));
        assert_eq!(shutdown.await.expect("shutdown task"), 0);
    })
    .await;
}

#[tokio::test]
async fn past_the_grace_period_connections_are_counted_and_closed() {
    init_tracing();
    within("grace over", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&config(&up.url(""), "200ms")).await;
        let addr = gw.addrs[0];
        let mut slow = RawConn::connect(addr).await.expect("connect");
        slow.send(&get("/sleep/4000")).await.expect("send");
        assert!(wait_until(Duration::from_secs(2), || up.in_flight() == 1).await);
        assert_eq!(gw.shutdown().await, 1, "the slow request is still running");
        // The gateway closes it rather than leaving it running after shutdown returned
        // (the 4 s request cannot finish within `within`'s bound: a response here would
        // mean it was not closed).
        let rest = slow.read_to_close().await.expect("read");
        assert!(
            rest.bytes.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&rest.bytes)
        );
        assert!(
            wait_until(Duration::from_secs(2), || up.open_connections() == 0).await,
            "the upstream request was not cancelled"
        );
    })
    .await;
}
