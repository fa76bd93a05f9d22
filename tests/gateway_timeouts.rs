//! Issue #5 point 3: every timeout, configured small, with a test — header read
//! (slowloris), client body idle, upstream connect (TCP and TLS), upstream body idle — and
//! 1 000 slow clients holding connections while a normal client is served. The upstream
//! response-head timeout is proven by `gateway_errors::stalled_upstream_is_504_after_
//! upstream_response_timeout` (and its per-route override next to it).
//!
//! The timing asserts are lower bounds (the timer fired, nothing shorter did) plus a
//! generous upper bound (it fired at all).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gangway_tests::gateway::{closed_addr, route, start_gateway};
use gangway_tests::ledger::{Behavior, LedgerServer, BEHAVIOR};
use gangway_tests::raw::{send_raw, RawConn};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, wait_until, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Reads until the peer closes; true if it did (FIN or RST) within `limit`, and what came.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> (bool, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return (false, got),
            Ok(Ok(0)) | Ok(Err(_)) => return (true, got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slowloris_is_closed_at_the_header_read_timeout() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let toml = format!(
        "{}[timeouts]\nheader_read = \"500ms\"\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    within("slowloris", async {
        let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
        let head =
            b"GET /slow HTTP/1.1\r\nHost: gw.test\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let started = Instant::now();
        // One byte every 100 ms: the head would take ~7 s; the gateway must not wait.
        let mut sent = 0;
        for b in head {
            if tcp.write_all(std::slice::from_ref(b)).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            if started.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
        let (closed, got) = closed_within(&mut tcp, Duration::from_secs(2)).await;
        let took = started.elapsed();
        assert!(closed, "the slow client was not closed");
        assert!(
            sent < head.len(),
            "the whole head went through ({sent} bytes)"
        );
        assert!(
            took >= Duration::from_millis(500),
            "closed before the timeout: {took:?}"
        );
        assert!(took < Duration::from_secs(3), "closed late: {took:?}");
        // hyper closes without a response (no 408); a 408 would be acceptable too.
        assert!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
            "{got:?}"
        );
        assert_eq!(up.connections_accepted(), 0);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn stalled_client_body_is_408_and_the_upstream_request_aborted() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let toml = format!(
        "{}[timeouts]\nclient_body_idle = \"300ms\"\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    within("client body idle", async {
        // A small body is read whole before it is sent (so it can be replayed): the
        // stall is caught before the upstream hears of the request.
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        let started = Instant::now();
        c.send(b"POST /status/200 HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 10\r\n\r\nhalf-")
            .await
            .expect("send half");
        let r = c.read_response().await.expect("response");
        let took = started.elapsed();
        assert_eq!(r.status, 408, "{}", r.body_str());
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert_eq!(up.connections_accepted(), 0);

        // A large one streams: the upstream has the head and half the body when the
        // client stalls; its connection is closed under the cut body, not pooled.
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        let started = Instant::now();
        let mut bytes =
            b"POST /status/200 HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 200000\r\n\r\n"
                .to_vec();
        bytes.resize(bytes.len() + 100_000, b'x');
        c.send(&bytes).await.expect("send half");
        let r = c.read_response().await.expect("response");
        let took = started.elapsed();
        assert_eq!(r.status, 408, "{}", r.body_str());
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert_eq!(up.requests_seen(), 1);
        let closed = wait_until(Duration::from_secs(2), || up.open_connections() == 0).await;
        assert!(closed, "the upstream connection stayed open");
        // The next request gets a fresh connection.
        let r = send_raw(gw.addrs[0], &gangway_tests::gateway::get("/after"))
            .await
            .expect("next");
        assert_eq!(r.status, 200);
        assert_eq!(up.connections_accepted(), 2);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

/// A listener whose accept queue is full: SYNs to it are dropped, so a TCP connect hangs.
async fn full_backlog() -> (TcpListener, Vec<TcpStream>) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let connect = TcpStream::connect(addr);
        if let Ok(Ok(tcp)) = tokio::time::timeout(Duration::from_millis(100), connect).await {
            fillers.push(tcp);
        }
    }
    (listener, fillers)
}

async fn assert_connect_timeout(gw_addr: SocketAddr, what: &str) {
    let started = Instant::now();
    let r = send_raw(gw_addr, &gangway_tests::gateway::get("/x"))
        .await
        .expect("response");
    let took = started.elapsed();
    assert_eq!(r.status, 504, "{what}: {}", r.body_str());
    assert!(r.body_str().contains("connect"), "{what}: {}", r.body_str());
    assert!(took >= Duration::from_millis(300), "{what}: {took:?}");
    assert!(took < Duration::from_secs(3), "{what}: {took:?}");
}

#[tokio::test]
async fn upstream_tcp_connect_timeout_is_504() {
    init_tracing();
    let (listener, _fillers) = full_backlog().await;
    let addr = listener.local_addr().expect("addr");
    let toml = format!(
        "{}[timeouts]\nupstream_connect = \"300ms\"\n",
        route("/", &format!("http://{addr}"))
    );
    let gw = start_gateway(&toml).await;
    within(
        "tcp connect timeout",
        assert_connect_timeout(gw.addrs[0], "tcp"),
    )
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn upstream_tls_handshake_counts_in_the_connect_timeout() {
    init_tracing();
    // Accepts TCP, never says a word: the TLS handshake can't finish.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let toml = format!(
        "{}[timeouts]\nupstream_connect = \"300ms\"\n",
        route("/", &format!("https://localhost:{port}"))
    );
    let gw = start_gateway(&toml).await;
    within(
        "tls connect timeout",
        assert_connect_timeout(gw.addrs[0], "tls"),
    )
    .await;
    assert_eq!(gw.shutdown().await, 0);
    holder.abort();
}

#[tokio::test]
async fn refused_upstream_is_502_quickly() {
    init_tracing();
    let gw = start_gateway(&route("/", &format!("http://{}", closed_addr()))).await;
    within("refused", async {
        let started = Instant::now();
        let r = send_raw(gw.addrs[0], &gangway_tests::gateway::get("/x"))
            .await
            .expect("response");
        assert_eq!(r.status, 502);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn stalled_upstream_body_aborts_the_client_response_at_the_idle_timeout() {
    init_tracing();
    let up = LedgerServer::run().await;
    let toml = format!(
        "{}[timeouts]\nupstream_body_idle = \"300ms\"\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    within("upstream body idle", async {
        let started = Instant::now();
        let extra = format!(
            "{BEHAVIOR}: {}\r\nx-test-id: 7\r\n",
            Behavior::StallMidBody.name()
        );
        let r = send_raw(gw.addrs[0], &gangway_tests::gateway::get_with("/x", &extra))
            .await
            .expect("response");
        let took = started.elapsed();
        assert_eq!(r.status, 200, "the head was already on its way");
        assert_eq!(r.header("x-test-id"), Some("7"));
        assert!(!r.closed_cleanly, "a stalled body must not end cleanly");
        assert_eq!(r.body.len(), 100);
        assert!(took >= Duration::from_millis(300), "{took:?}");
        // Closed at once, not held for a drain of the stalled rest.
        let closed = wait_until(Duration::from_millis(500), || up.open_connections() == 0).await;
        assert!(closed, "the stalled upstream connection stayed open");
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

/// Slow clients, each holding a connection with half a request head.
const SLOW_CLIENTS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_clients_do_not_stop_normal_clients() {
    init_tracing();
    let up = Upstream::http1().run().await;
    // The default header_read (30 s) keeps the slow clients for the whole test.
    let gw = start_gateway(&route("/", &up.url(""))).await;
    let addr = gw.addrs[0];
    let mut slow = Vec::with_capacity(SLOW_CLIENTS);
    for _ in 0..SLOW_CLIENTS {
        let mut tcp = TcpStream::connect(addr).await.expect("slow connect");
        tcp.write_all(b"GET /slow HTTP/1.1\r\nHost: gw.test\r\nX-Slow: ")
            .await
            .expect("partial head");
        slow.push(tcp);
    }
    let started = Instant::now();
    let normal = async {
        for i in 0..100 {
            // A new connection each time: accepting must keep up too.
            let r = send_raw(addr, &gangway_tests::gateway::get(&format!("/n/{i}")))
                .await
                .expect("normal request");
            assert_eq!(r.status, 200);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), normal)
        .await
        .expect("100 normal requests within 20 s");
    let took = started.elapsed();
    println!("100 normal requests next to {SLOW_CLIENTS} slow clients: {took:?}");
    assert_eq!(
        up.requests_seen(),
        100,
        "only the normal requests reached the upstream"
    );
    // The slow clients were held all along (not closed to make room).
    let mut open = 0;
    let mut buf = [0u8; 16];
    for tcp in &slow {
        if matches!(tcp.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            open += 1;
        }
    }
    assert_eq!(open, SLOW_CLIENTS);
    drop(slow);
    assert_eq!(gw.shutdown().await, 0);
}
