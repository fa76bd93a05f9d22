//! Issue #17 item 8: a `GET` or `HEAD` with a body is forwarded with its body and its
//! framing, whatever the client's protocol: an HTTP/2 body without `content-length` and
//! an HTTP/1 chunked body reach an HTTP/1.1 upstream chunked, a sized one with
//! `Content-Length`. (hyper's HTTP/1 client would otherwise send such a GET bodiless.)
//! The upstream echoes the body; each test asserts what it received.

use bytes::Bytes;
use gangway_tests::body::{Body, BoxError};
use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::raw::{collect, h2c_client, RawConn};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http::{Method, Request};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

/// A body of two frames and no length.
fn unsized_body() -> Body {
    let frames = futures_util::stream::iter(
        ["hello ", "world"]
            .map(|s| Ok::<_, BoxError>(Frame::data(Bytes::from_static(s.as_bytes())))),
    );
    StreamBody::new(frames).boxed_unsync()
}

#[tokio::test]
async fn h2_get_and_head_bodies_reach_an_h1_upstream() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    within("h2 GET body", async {
        let mut client = h2c_client::<Body>(gw.addrs[0]).await.expect("h2c");
        let base = format!("http://{}", gw.addrs[0]);

        // No length: chunked upstream, echoed back whole.
        let req = Request::get(format!("{base}/unsized"))
            .body(unsized_body())
            .expect("request");
        let (parts, body) = collect(client.send_request(req).await.expect("response"))
            .await
            .expect("body");
        assert_eq!(parts.status, 200);
        assert_eq!(&body[..], b"hello world");

        // A content-length: sent with it.
        let req = Request::get(format!("{base}/sized"))
            .header("content-length", "5")
            .body(
                Full::new(Bytes::from_static(b"12345"))
                    .map_err(Into::into)
                    .boxed_unsync(),
            )
            .expect("request");
        let (parts, body) = collect(client.send_request(req).await.expect("response"))
            .await
            .expect("body");
        assert_eq!(parts.status, 200);
        assert_eq!(&body[..], b"12345");

        // HEAD: the body goes up too (the response to a HEAD has none).
        let req = Request::builder()
            .method(Method::HEAD)
            .uri(format!("{base}/head"))
            .body(unsized_body())
            .expect("request");
        let (parts, _) = collect(client.send_request(req).await.expect("response"))
            .await
            .expect("body");
        assert_eq!(parts.status, 200);

        let seen = up.requests();
        assert_eq!(seen.len(), 3);
        let framing = |i: usize| {
            let h = &seen[i].headers;
            (
                h.get("transfer-encoding")
                    .map(|v| v.to_str().unwrap_or("?").to_owned()),
                h.get("content-length")
                    .map(|v| v.to_str().unwrap_or("?").to_owned()),
            )
        };
        assert_eq!(framing(0), (Some("chunked".into()), None));
        assert_eq!(framing(1), (None, Some("5".into())));
        assert_eq!(framing(2), (Some("chunked".into()), None));
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn h1_chunked_get_body_is_forwarded_chunked() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    within("h1 GET body", async {
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        let r = c
            .request(
                b"GET /chunked HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n\
                  6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
            )
            .await
            .expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "hello world");
        // The connection stays in step: a next request is served.
        let r = c
            .request(b"GET /next HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            .await
            .expect("next");
        assert_eq!(r.status, 200);
        let seen = up.requests();
        assert_eq!(
            seen[0]
                .headers
                .get("transfer-encoding")
                .and_then(|v| v.to_str().ok()),
            Some("chunked")
        );
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}
