//! Bodies at the edges: HEAD keeps the upstream's length, `Expect: 100-continue` works,
//! the body size limit answers 413 (declared or discovered while streaming), the response
//! timeout counts from the end of the request body (a slow upload is not a slow
//! upstream), and a client that leaves mid-download releases the upstream connection.

use std::time::Duration;

use bytes::Bytes;
use gangway_tests::body::{full, PatternBody, CHUNK};
use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::raw::{self, RawConn};
use gangway_tests::upstream::{drain, echo, Upstream};
use gangway_tests::{init_tracing, wait_until, within};
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn head_keeps_the_upstreams_content_length() {
    init_tracing();
    within("HEAD", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        let r = c
            .request(b"HEAD /bytes/12345 HTTP/1.1\r\nhost: gateway.test\r\n\r\n")
            .await
            .expect("HEAD");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("12345"), "{:?}", r.headers);
        assert!(r.body.is_empty());
        // No body bytes followed the head: the next response parses.
        let r = c
            .request(b"GET /bytes/10 HTTP/1.1\r\nhost: gateway.test\r\n\r\n")
            .await
            .expect("GET after HEAD");
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), 10);
        assert_eq!(up.connections_accepted(), 1);
    })
    .await;
}

#[tokio::test]
async fn expect_100_continue_upload() {
    init_tracing();
    within("100-continue", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
        let body = vec![b'x'; 100_000];
        tcp.write_all(
            format!(
                "PUT /upload HTTP/1.1\r\nhost: gateway.test\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("head");
        // Like curl: wait for the interim response before sending the body.
        let mut interim = [0u8; 25];
        tcp.read_exact(&mut interim).await.expect("read 100 Continue");
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        tcp.write_all(&body).await.expect("body");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let r = loop {
            let n = tcp.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
            let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
            if let Some(end) = head_end {
                let head = gangway_tests::wire::parse_response_head(&buf[..end + 4]).expect("head");
                let len: usize = gangway_tests::wire::header(&head.headers, "content-length")
                    .expect("content-length")
                    .parse()
                    .expect("number");
                if buf.len() >= end + 4 + len {
                    break (head, buf[end + 4..].to_vec());
                }
            }
        };
        assert_eq!(r.0.status, 200);
        assert_eq!(r.1, body);
    })
    .await;
}

#[tokio::test]
async fn body_limit_is_413_declared_or_streamed() {
    init_tracing();
    within("413", async {
        let up = Upstream::http1().run().await;
        let toml = format!(
            "{}[limits]\nmax_body_bytes = \"64KiB\"\n",
            route("/", &up.url(""))
        );
        let gw = start_gateway(&toml).await;
        // Declared too large: refused before anything goes upstream.
        let r = raw::send_raw(
            gw.addrs[0],
            b"POST /a HTTP/1.1\r\nhost: gateway.test\r\ncontent-length: 100000\r\n\r\n",
        )
        .await
        .expect("request");
        assert_eq!(r.status, 413, "{}", r.body_str());
        assert_eq!(up.requests_seen(), 0);

        // Chunked, found out while streaming.
        let mut c = raw::h1_client(gw.addrs[0]).await.expect("client");
        let req = Request::post("/b")
            .header("host", "gateway.test")
            .body(PatternBody::new(10 * CHUNK as u64, false))
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

        // At the limit: fine.
        let mut c = raw::h1_client(gw.addrs[0]).await.expect("client");
        let req = Request::post("/c")
            .header("host", "gateway.test")
            .body(PatternBody::new(64 * 1024, false))
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(body.len(), 64 * 1024);
    })
    .await;
}

#[tokio::test]
async fn response_timeout_starts_when_the_request_body_is_sent() {
    init_tracing();
    within("slow upload", async {
        // The upstream reads the whole body, then answers at once.
        let up = Upstream::http1()
            .handler(|req, _ctx| async move {
                drain(req.into_body()).await;
                Response::new(full("got it"))
            })
            .run()
            .await;
        let toml = format!(
            "{}[timeouts]\nupstream_response = \"1s\"\nclient_body_idle = \"3s\"\n",
            route("/", &up.url(""))
        );
        let gw = start_gateway(&toml).await;
        let mut c = raw::h1_client(gw.addrs[0]).await.expect("client");
        // 8 chunks, 250 ms apart: 2 s of upload (twice the response timeout), never idle
        // for long (margins for a loaded machine: 750 ms per gap).
        let chunks = futures_util::stream::unfold(0u8, |i| async move {
            if i == 8 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            Some((
                Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![i; 1000]))),
                i + 1,
            ))
        });
        let req = Request::post("/slow")
            .header("host", "gateway.test")
            .body(StreamBody::new(chunks))
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "a slow client is not a slow upstream"
        );
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], b"got it");
    })
    .await;
}

#[tokio::test]
async fn upstream_that_stops_reading_the_body_still_times_out() {
    init_tracing();
    within("upstream stalls mid-upload", async {
        // Accepts and never reads a byte: the upload fills the socket buffers and stops.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let holder = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                held.push(tcp);
            }
        });
        let toml = format!(
            "{}[timeouts]\nupstream_response = \"300ms\"\n",
            route("/", &format!("http://{addr}"))
        );
        let gw = start_gateway(&toml).await;
        let mut c = raw::h1_client(gw.addrs[0]).await.expect("client");
        let req = Request::post("/big")
            .header("host", "gateway.test")
            .body(PatternBody::new(256 * 1024 * 1024, true))
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
        holder.abort();
    })
    .await;
}

#[tokio::test]
async fn client_leaving_mid_download_releases_the_upstream() {
    init_tracing();
    within("client gone", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        c.send(b"GET /bytes/1000000000 HTTP/1.1\r\nhost: gateway.test\r\n\r\n")
            .await
            .expect("send");
        assert!(wait_until(Duration::from_secs(2), || up.in_flight() == 1).await);
        drop(c);
        // The gateway stops pulling the body: the upstream request ends and the upstream
        // connection is closed (1 GB is too much to drain).
        assert!(
            wait_until(Duration::from_secs(3), || up.in_flight() == 0
                && up.open_connections() == 0)
            .await,
            "in flight {}, open {}",
            up.in_flight(),
            up.open_connections()
        );
        let stats = gw.app.client.stats().total;
        assert_eq!(stats.closed.unread_body, 1, "{stats:?}");
        assert_eq!(stats.active, 0);
        // And the route still works.
        let r = raw::send_raw(
            gw.addrs[0],
            b"GET /x HTTP/1.1\r\nhost: gateway.test\r\n\r\n",
        )
        .await
        .expect("after");
        assert_eq!(r.status, 200);
    })
    .await;
}

#[tokio::test]
async fn status_without_body_passes_204_and_304() {
    init_tracing();
    within("204/304", async {
        let up = Upstream::http1()
            .handler(|req, ctx| async move {
                if req.uri().path() == "/etag" {
                    return Response::builder()
                        .status(304)
                        .header("etag", "\"abc\"")
                        .body(gangway_tests::body::empty())
                        .expect("response");
                }
                echo(req, ctx).await
            })
            .run()
            .await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        let r = c
            .request(b"GET /status/204 HTTP/1.1\r\nhost: gateway.test\r\n\r\n")
            .await
            .expect("204");
        assert_eq!(r.status, 204);
        assert!(r.header("content-length").is_none() && r.header("transfer-encoding").is_none());
        let r = c
            .request(b"GET /etag HTTP/1.1\r\nhost: gateway.test\r\nif-none-match: \"abc\"\r\n\r\n")
            .await
            .expect("304");
        assert_eq!(r.status, 304);
        assert_eq!(r.header("etag"), Some("\"abc\""));
        let r = c
            .request(b"GET /after HTTP/1.1\r\nhost: gateway.test\r\n\r\n")
            .await
            .expect("after");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-path"), Some("/after"));
    })
    .await;
}
