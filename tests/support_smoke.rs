//! Smoke tests of the test harness itself: every server once, with the raw client or a
//! plain hyper client. Each test is bounded by `within` (5 s) and runs on loopback only.

use std::time::Duration;

use bytes::Bytes;
use gangway_tests::body::{full, is_pattern};
use gangway_tests::fault::Fault;
use gangway_tests::raw::{self, collect, RawConn};
use gangway_tests::tls::{tls_connect, TestPki};
use gangway_tests::tmpdir::TestDir;
use gangway_tests::upstream::{echo, Upstream};
use gangway_tests::wire::End;
use gangway_tests::{init_tracing, wait_until, within};
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};

fn get(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n").into_bytes()
}

fn post(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn h1_req(method: &str, path: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("valid request")
}

fn h2_req(url: String, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method("POST")
        .uri(url)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("valid request")
}

/// Runs the futures concurrently (spawned) and returns their outputs in order.
async fn all<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task did not panic"));
    }
    out
}

fn hdr<'a>(parts: &'a http::response::Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("missing header {name}"))
}

#[tokio::test]
async fn echo_over_http1_with_stats() {
    init_tracing();
    within("h1 echo", async {
        let up = Upstream::http1().run().await;
        let mut c = raw::h1_client(up.addr()).await.expect("h1 handshake");
        for seq in 1..=2 {
            let resp = c
                .send_request(h1_req("POST", "/a/b?x=1&y=%20", "hello"))
                .await
                .expect("h1 request");
            let (parts, body) = collect(resp).await.expect("h1 body");
            assert_eq!(parts.status, StatusCode::OK);
            assert_eq!(hdr(&parts, "x-conn-id"), "1");
            assert_eq!(hdr(&parts, "x-req-seq"), seq.to_string());
            assert_eq!(hdr(&parts, "x-method"), "POST");
            assert_eq!(hdr(&parts, "x-path"), "/a/b?x=1&y=%20");
            assert_eq!(hdr(&parts, "x-version"), "HTTP/1.1");
            assert_eq!(&body[..], b"hello");
        }
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(up.open_connections(), 1);
        assert_eq!(up.requests_seen(), 2);
        let seen = up.requests();
        assert_eq!(seen[1].req_seq, 2);
        assert_eq!(seen[1].uri.path(), "/a/b");
        assert_eq!(seen[1].headers["content-length"], "5");
        drop(c);
        assert!(wait_until(Duration::from_secs(1), || up.open_connections() == 0).await);
    })
    .await;
}

#[tokio::test]
async fn echo_over_h2c_concurrent_and_max_in_flight() {
    init_tracing();
    within("h2c echo", async {
        let up = Upstream::h2c().run().await;
        let c = raw::h2c_client(up.addr()).await.expect("h2c handshake");
        let reqs = (0..3).map(|_| {
            let mut c = c.clone();
            let req = h2_req(up.url("/sleep/150"), "ping");
            async move { collect(c.send_request(req).await.expect("h2 request")).await }
        });
        for r in all(reqs).await {
            let (parts, body) = r.expect("h2 body");
            assert_eq!(parts.version, Version::HTTP_2);
            assert_eq!(hdr(&parts, "x-version"), "HTTP/2.0");
            assert_eq!(hdr(&parts, "x-conn-id"), "1");
            assert_eq!(&body[..], b"ping");
        }
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(up.max_in_flight(), 3);
        assert!(wait_until(Duration::from_secs(1), || up.in_flight() == 0).await);
    })
    .await;
}

#[tokio::test]
async fn h2_max_concurrent_streams_is_honoured() {
    init_tracing();
    within("h2c max streams", async {
        let up = Upstream::h2c().max_concurrent_streams(1).run().await;
        let mut c = raw::h2c_client(up.addr()).await.expect("h2c handshake");
        // One request first, so the client has the server's SETTINGS before the burst.
        collect(
            c.send_request(h2_req(up.url("/"), ""))
                .await
                .expect("first"),
        )
        .await
        .expect("first body");
        let reqs = (0..3).map(|_| {
            let mut c = c.clone();
            let req = h2_req(up.url("/sleep/50"), "");
            async move { collect(c.send_request(req).await.expect("h2 request")).await }
        });
        for r in all(reqs).await {
            assert_eq!(r.expect("h2 body").0.status, StatusCode::OK);
        }
        assert_eq!(up.max_in_flight(), 1);
    })
    .await;
}

#[tokio::test]
async fn tls_alpn_picks_h2_or_http1() {
    init_tracing();
    within("tls alpn", async {
        let pki = TestPki::new();
        let up = Upstream::tls(&pki, &[b"h2", b"http/1.1"]).run().await;
        assert!(up.url("/x").starts_with("https://localhost:"));

        let tls = tls_connect(up.addr(), pki.client_config(&[b"h2"]), "localhost")
            .await
            .expect("tls h2 connect");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut c = raw::h2_handshake(tls).await.expect("h2 handshake");
        let (parts, body) = collect(
            c.send_request(h2_req(up.url("/tls"), "secure"))
                .await
                .expect("h2 request"),
        )
        .await
        .expect("h2 body");
        assert_eq!(hdr(&parts, "x-version"), "HTTP/2.0");
        assert_eq!(&body[..], b"secure");

        let tls = tls_connect(up.addr(), pki.client_config(&[b"http/1.1"]), "127.0.0.1")
            .await
            .expect("tls h1 connect (IP SAN)");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let mut c = raw::h1_handshake(tls).await.expect("h1 handshake");
        let (parts, body) = collect(
            c.send_request(h1_req("PUT", "/tls1", "one"))
                .await
                .expect("h1 request"),
        )
        .await
        .expect("h1 body");
        assert_eq!(hdr(&parts, "x-version"), "HTTP/1.1");
        assert_eq!(hdr(&parts, "x-conn-id"), "2");
        assert_eq!(&body[..], b"one");
    })
    .await;
}

#[tokio::test]
async fn tls_pki_files_and_untrusted_client() {
    init_tracing();
    let pki = TestPki::new();
    let dir = TestDir::new("smoke");
    let ca = pki.write_ca_pem(dir.path());
    let text = std::fs::read_to_string(&ca).expect("read ca.pem");
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(text, pki.ca_pem());
    let (cert, key) = pki.write_cert_and_key(dir.path());
    assert!(cert.exists() && key.exists());
    assert!(pki.key_pem().contains("PRIVATE KEY"));
    assert!(pki.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let path = dir.path().to_owned();
    drop(dir);
    assert!(!path.exists());

    within("tls untrusted", async {
        let up = Upstream::tls(&pki, &[b"http/1.1"]).run().await;
        let other = TestPki::new();
        let res = tls_connect(up.addr(), other.client_config(&[]), "localhost").await;
        assert!(res.is_err(), "a client trusting another CA must fail");
    })
    .await;
}

#[tokio::test]
async fn auto_serves_h1_and_h2c_prior_knowledge() {
    init_tracing();
    within("auto", async {
        let up = Upstream::auto().run().await;
        let r = raw::send_raw(up.addr(), &post("x", "/h1", "abc"))
            .await
            .expect("raw h1");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-version"), Some("HTTP/1.1"));
        assert_eq!(r.body, b"abc");

        let mut c = raw::h2c_client(up.addr()).await.expect("h2c handshake");
        let (parts, body) = collect(
            c.send_request(h2_req(up.url("/h2"), "def"))
                .await
                .expect("h2"),
        )
        .await
        .expect("h2 body");
        assert_eq!(hdr(&parts, "x-version"), "HTTP/2.0");
        assert_eq!(&body[..], b"def");
    })
    .await;
}

#[tokio::test]
async fn bytes_status_and_keep_alive_header() {
    init_tracing();
    within("bytes/status", async {
        let up = Upstream::http1()
            .keep_alive_header(Some("timeout=1"))
            .run()
            .await;
        let mut conn = RawConn::connect(up.addr()).await.expect("connect");
        let r = conn
            .request(&get("x", "/bytes/300000"))
            .await
            .expect("bytes");
        assert_eq!(r.header("content-length"), Some("300000"));
        assert_eq!(r.body.len(), 300_000);
        assert!(is_pattern(&r.body, 0));
        assert_eq!(r.header("keep-alive"), Some("timeout=1"));

        let r = conn
            .request(&get("x", "/bytes/70000?chunked"))
            .await
            .expect("chunked bytes");
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert_eq!(r.body.len(), 70_000);
        assert!(is_pattern(&r.body, 0));

        let r = conn
            .request(&get("x", "/status/503"))
            .await
            .expect("status");
        assert_eq!(r.status, 503);
        assert!(r.body.is_empty());
        assert_eq!(r.header("x-req-seq"), Some("3"));

        let r = conn
            .request(b"HEAD /bytes/10 HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("head");
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty() && r.closed_cleanly);
        assert_eq!(up.connections_accepted(), 1);
    })
    .await;
}

#[tokio::test]
async fn custom_handler_still_gets_conn_headers() {
    init_tracing();
    within("custom handler", async {
        let up = Upstream::http1()
            .handler(|req, ctx| async move {
                if req.uri().path() == "/teapot" {
                    http::Response::builder()
                        .status(418)
                        .body(full("short and stout"))
                        .expect("valid response")
                } else {
                    echo(req, ctx).await
                }
            })
            .run()
            .await;
        let r = raw::send_raw(up.addr(), &get("x", "/teapot"))
            .await
            .expect("teapot");
        assert_eq!(r.status, 418);
        assert_eq!(r.header("x-conn-id"), Some("1"));
        assert_eq!(r.body_str(), "short and stout");
        let r = raw::send_raw(up.addr(), &post("x", "/e", "z"))
            .await
            .expect("echo");
        assert_eq!(r.header("x-conn-id"), Some("2"));
        assert_eq!(r.body, b"z");
    })
    .await;
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    init_tracing();
    within("drop", async {
        let up = Upstream::http1().run().await;
        let addr = up.addr();
        let mut conn = RawConn::connect(addr).await.expect("connect");
        assert_eq!(
            conn.request(&get("x", "/")).await.expect("first").status,
            200
        );
        drop(up);
        let closed = conn.read_to_close().await.expect("read to close");
        assert!(closed.bytes.is_empty());
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn fault_stale_race_fin() {
    init_tracing();
    within("stale fin", async {
        let srv = Fault::StaleRace {
            close_after: 1,
            rst: false,
        }
        .run()
        .await;
        let mut conn = RawConn::connect(srv.addr()).await.expect("connect");
        let r = conn.request(&get("x", "/1")).await.expect("first answered");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"ok");
        assert_eq!(r.header("x-conn-id"), Some("1"));
        let err = conn
            .request(&post("x", "/2", "payload"))
            .await
            .expect_err("second is never answered");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        let seen = srv.requests();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].method(), "POST");
        assert_eq!(seen[1].body, b"payload");
        assert_eq!((seen[1].conn_id, seen[1].seq), (1, 2));
    })
    .await;
}

#[tokio::test]
async fn fault_stale_race_rst_with_hyper() {
    init_tracing();
    within("stale rst", async {
        let srv = Fault::StaleRace {
            close_after: 0,
            rst: true,
        }
        .run()
        .await;
        let mut conn = RawConn::connect(srv.addr()).await.expect("connect");
        let err = conn
            .request(&post("x", "/", "once"))
            .await
            .expect_err("reset");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);

        let mut c = raw::h1_client(srv.addr()).await.expect("h1 handshake");
        let err = c
            .send_request(h1_req("POST", "/", "again"))
            .await
            .expect_err("hyper sees the reset");
        tracing::debug!(error = %err, "hyper error on RST");
        assert_eq!(srv.requests_seen(), 2);
        assert_eq!(srv.connections_accepted(), 2);
    })
    .await;
}

#[tokio::test]
async fn fault_idle_close() {
    init_tracing();
    within("idle close", async {
        let srv = Fault::IdleClose {
            after: Duration::from_millis(150),
        }
        .run()
        .await;
        let mut conn = RawConn::connect(srv.addr()).await.expect("connect");
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            assert_eq!(
                conn.request(&get("x", "/")).await.expect("kept").status,
                200
            );
        }
        let started = tokio::time::Instant::now();
        let closed = conn.read_to_close().await.expect("closed");
        assert_eq!(closed.end, End::Complete);
        assert!(closed.bytes.is_empty());
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(srv.requests_seen(), 3);
    })
    .await;
}

#[tokio::test]
async fn fault_reset_mid_body() {
    init_tracing();
    within("reset mid body", async {
        let srv = Fault::ResetMidBody.run().await;
        let mut c = raw::h1_client(srv.addr()).await.expect("h1 handshake");
        let resp = c
            .send_request(h1_req("GET", "/", ""))
            .await
            .expect("head arrives");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.into_body().collect().await.is_err());

        let r = raw::send_raw(srv.addr(), &get("x", "/"))
            .await
            .expect("raw");
        assert!(!r.closed_cleanly);
        assert!(r.body.len() <= 100_000);
        assert!(is_pattern(&r.body, 0));
        assert_eq!(srv.requests_seen(), 2);
    })
    .await;
}

#[tokio::test]
async fn fault_truncate_body() {
    init_tracing();
    within("truncate", async {
        let srv = Fault::TruncateBody.run().await;
        let r = raw::send_raw(srv.addr(), &get("x", "/"))
            .await
            .expect("raw");
        assert_eq!(r.header("content-length"), Some("1000"));
        assert_eq!(r.body.len(), 500);
        assert_eq!(r.end, End::Eof);
        assert!(!r.closed_cleanly);

        let mut c = raw::h1_client(srv.addr()).await.expect("h1 handshake");
        let resp = c.send_request(h1_req("GET", "/", "")).await.expect("head");
        assert!(resp.into_body().collect().await.is_err());
    })
    .await;
}

#[tokio::test]
async fn fault_garbage() {
    init_tracing();
    within("garbage", async {
        let srv = Fault::Garbage.run().await;
        let err = raw::send_raw(srv.addr(), &get("x", "/"))
            .await
            .expect_err("unparsable");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        let mut c = raw::h1_client(srv.addr()).await.expect("h1 handshake");
        let err = c
            .send_request(h1_req("GET", "/", ""))
            .await
            .expect_err("hyper rejects it");
        assert!(err.is_parse(), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn fault_stall() {
    init_tracing();
    within("stall", async {
        let srv = Fault::Stall.run().await;
        let mut conn = RawConn::connect(srv.addr()).await.expect("connect");
        conn.send(&post("x", "/", "wait")).await.expect("send");
        let read = tokio::time::timeout(Duration::from_millis(200), conn.read_response()).await;
        assert!(read.is_err(), "no answer ever comes");
        assert_eq!(srv.requests_seen(), 1);
        assert_eq!(srv.open_connections(), 1);
        drop(srv);
        let closed = conn.read_to_close().await.expect("closed on drop");
        assert!(closed.bytes.is_empty());
    })
    .await;
}

#[tokio::test]
async fn fault_connection_close() {
    init_tracing();
    within("connection close", async {
        let srv = Fault::ConnectionClose.run().await;
        let closed = raw::read_to_close(srv.addr(), &get("x", "/"))
            .await
            .expect("read");
        assert_eq!(closed.end, End::Complete);
        let text = String::from_utf8_lossy(&closed.bytes);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nok"));
    })
    .await;
}

#[tokio::test]
async fn fault_big_body_keep_alive() {
    init_tracing();
    within("big body", async {
        let srv = Fault::BigBodyKeepAlive { body_len: 200_000 }.run().await;
        let mut conn = RawConn::connect(srv.addr()).await.expect("connect");
        for seq in 1..=2 {
            let r = conn.request(&get("x", "/")).await.expect("big");
            assert_eq!(r.body.len(), 200_000);
            assert!(is_pattern(&r.body, 0));
            assert_eq!(r.header("x-req-seq"), Some(seq.to_string().as_str()));
        }
        assert_eq!(srv.connections_accepted(), 1);
    })
    .await;
}
