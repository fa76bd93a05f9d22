//! Issue #3 acceptance, protocols: an h2c (prior knowledge) client through the gateway to
//! an HTTP/1.1 upstream, and an HTTP/1.1 Upgrade (101 Switching Protocols) spliced through
//! to an upstream that then echoes raw bytes, like a WebSocket would carry frames. The
//! upgrade test uses a made-up `Upgrade: echo` protocol: the gateway treats every upgrade
//! the same (a blind byte tunnel after the 101), so WebSocket framing would add a
//! dependency without testing anything more of the gateway.

use bytes::Bytes;
use gangway_pool::rt::TokioIo;
use gangway_tests::body::{empty, PatternBody};
use gangway_tests::gateway::{get, get_with, route, start_gateway};
use gangway_tests::raw::{self, collect, RawConn};
use gangway_tests::upstream::{echo, Upstream};
use gangway_tests::{init_tracing, wait_until, within};
use http::{Request, Response, StatusCode, Version};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn hdr<'a>(parts: &'a http::response::Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn h2c_client_to_http1_upstream() {
    init_tracing();
    within("h2c to h1", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/users", &up.url(""))).await;
        let mut c = raw::h2c_client(gw.addrs[0]).await.expect("h2c handshake");

        let req = Request::post("http://gateway.test/users/42?x=1&y=%20")
            .body(Full::new(Bytes::from_static(b"over h2")))
            .expect("request");
        let (parts, body) = collect(c.send_request(req).await.expect("h2 request"))
            .await
            .expect("h2 body");
        assert_eq!(parts.status, StatusCode::OK);
        assert_eq!(parts.version, Version::HTTP_2);
        assert_eq!(&body[..], b"over h2");
        assert_eq!(hdr(&parts, "x-version"), Some("HTTP/1.1"));
        assert_eq!(hdr(&parts, "x-path"), Some("/users/42?x=1&y=%20"));
        assert_eq!(hdr(&parts, "via"), Some("1.1 gangway"));

        let seen = &up.requests()[0];
        assert_eq!(seen.version, Version::HTTP_11);
        assert_eq!(seen.uri.to_string(), "/users/42?x=1&y=%20");
        assert_eq!(seen.headers["host"], up.addr().to_string().as_str());
        assert_eq!(seen.headers["x-forwarded-host"], "gateway.test");
        assert_eq!(seen.headers["x-forwarded-proto"], "http");
        assert_eq!(seen.headers["via"], "2 gangway");

        // Concurrent streams on the one client connection: each becomes an HTTP/1.1
        // request, on as many upstream connections as are needed at once.
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let mut c = c.clone();
                tokio::spawn(async move {
                    let req = Request::get(format!("http://gateway.test/users/sleep/{}", 50 + i))
                        .body(Full::new(Bytes::new()))
                        .expect("request");
                    let resp = c.send_request(req).await.expect("h2 request");
                    collect(resp).await.expect("h2 body").0.status
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.await.expect("task"), StatusCode::OK);
        }
        // A streamed body of unknown length over h2 becomes chunked HTTP/1.1 upstream.
        let req = Request::post("http://gateway.test/users/stream")
            .body(PatternBody::new(300_000, false))
            .expect("request");
        let mut c2 = raw::h2c_client(gw.addrs[0]).await.expect("h2c handshake");
        let (parts, body) = collect(c2.send_request(req).await.expect("h2 request"))
            .await
            .expect("h2 body");
        assert_eq!(parts.status, StatusCode::OK);
        assert_eq!(body.len(), 300_000);
        assert!(gangway_tests::body::is_pattern(&body, 0));
        assert!(up.requests().iter().all(|r| r.version == Version::HTTP_11));
    })
    .await;
}

/// An upstream whose `/ws...` paths accept `Upgrade: echo` and then echo every byte until
/// the client closes its side; anything else is the normal echo handler.
async fn echo_upgrade_upstream() -> gangway_tests::upstream::Listening {
    Upstream::http1()
        .handler(|mut req, ctx| async move {
            let wants = req
                .headers()
                .get("upgrade")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"echo"));
            if !wants || !req.uri().path().starts_with("/ws") {
                return echo(req, ctx).await;
            }
            let on = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                let Ok(upgraded) = on.await else {
                    return;
                };
                let mut io = TokioIo::new(upgraded);
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if io.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = io.shutdown().await;
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("upgrade", "echo")
                .header("connection", "upgrade")
                .body(empty())
                .expect("response")
        })
        .run()
        .await
}

/// Reads a response head (up to the blank line) byte by byte, so nothing after it is
/// consumed.
async fn read_head(tcp: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tcp.read(&mut byte).await.expect("read head");
        assert_eq!(
            n,
            1,
            "EOF inside the head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    head
}

#[tokio::test]
async fn upgrade_is_spliced_through_both_ways() {
    init_tracing();
    within("upgrade", async {
        let up = echo_upgrade_upstream().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
        tcp.write_all(
            b"GET /ws/chat HTTP/1.1\r\nhost: gateway.test\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n",
        )
        .await
        .expect("write");
        let head = read_head(&mut tcp).await;
        let parsed = gangway_tests::wire::parse_response_head(&head).expect("parse");
        assert_eq!(parsed.status, 101, "{}", String::from_utf8_lossy(&head));
        let h = |n: &str| gangway_tests::wire::header(&parsed.headers, n).map(str::to_ascii_lowercase);
        assert_eq!(h("upgrade").as_deref(), Some("echo"));
        assert!(h("connection").is_some_and(|c| c.contains("upgrade")), "{parsed:?}");

        let seen = &up.requests()[0];
        assert_eq!(seen.headers["upgrade"], "echo");
        assert_eq!(seen.headers["connection"], "upgrade");

        // Small messages, one at a time.
        for msg in [&b"hello"[..], b"through the gateway", b"\x00\x01\xff binary"] {
            tcp.write_all(msg).await.expect("write");
            let mut back = vec![0u8; msg.len()];
            tcp.read_exact(&mut back).await.expect("read echo");
            assert_eq!(back, msg);
        }
        // A large one, written and read at the same time (a tunnel, not a buffer).
        let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
        let (mut rd, mut wr) = tcp.into_split();
        let writer = {
            let big = big.clone();
            tokio::spawn(async move {
                wr.write_all(&big).await.expect("write big");
                // Half-close: the upstream sees EOF, closes, and so do we.
                wr.shutdown().await.expect("shutdown");
                wr
            })
        };
        let mut back = Vec::with_capacity(big.len());
        rd.read_to_end(&mut back).await.expect("read to EOF");
        let _wr = writer.await.expect("writer");
        assert_eq!(back.len(), big.len());
        assert!(back == big, "tunnelled bytes differ");
        assert_eq!(up.connections_accepted(), 1);
        // The upgraded upstream connection is not pooled afterwards.
        assert!(wait_until(std::time::Duration::from_secs(2), || up.open_connections() == 0).await);
        let stats = gw.app.client.stats().total;
        assert_eq!(stats.idle, 0);
    })
    .await;
}

#[tokio::test]
async fn refused_upgrade_is_a_normal_response() {
    init_tracing();
    within("refused upgrade", async {
        let up = echo_upgrade_upstream().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        // The upstream only upgrades /ws...; here it answers 200.
        let r = c
            .request(&get_with(
                "/plain",
                "connection: upgrade\r\nupgrade: echo\r\n",
            ))
            .await
            .expect("request");
        assert_eq!(r.status, 200);
        assert!(r.closed_cleanly);
        assert!(r.header("upgrade").is_none());
        // The connection goes on as plain HTTP/1.1.
        let r = c.request(&get("/again")).await.expect("second request");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-path"), Some("/again"));
    })
    .await;
}

#[tokio::test]
async fn h2c_upgrade_is_never_forwarded() {
    init_tracing();
    within("no h2c upgrade", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let r = raw::send_raw(
            gw.addrs[0],
            &get_with(
                "/x",
                "connection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n",
            ),
        )
        .await
        .expect("request");
        assert_eq!(r.status, 200);
        let seen = &up.requests()[0];
        for name in ["upgrade", "connection", "http2-settings"] {
            assert!(seen.headers.get(name).is_none(), "{name}: {:?}", seen.headers);
        }
    })
    .await;
}
