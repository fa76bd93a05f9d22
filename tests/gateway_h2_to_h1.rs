//! Issue #17 items 8 and 9, HTTP/2 clients in front of HTTP/1.1 upstreams: a `:path` with
//! bytes HTTP/1 refuses is refused (400) on HTTP/2 too; `cookie` crumbs reach the upstream
//! joined into one field; the upstream's trailers are filtered like headers (a hop-by-hop
//! field is removed, never aborting the response), and dropped in CORS mode, where they
//! would bypass the response-header rules.

use std::net::SocketAddr;

use bytes::Bytes;
use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::raw;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn non_ascii_path_is_refused_and_cookies_are_joined() {
    init_tracing();
    within("h2 path and cookies", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut c = raw::h2c_client::<Empty<Bytes>>(gw.addrs[0])
            .await
            .expect("h2c handshake");
        let uri = Uri::try_from(&b"http://gateway.test/caf\xc3\xa9"[..]).expect("uri");
        let resp = c
            .send_request(Request::get(uri).body(Empty::new()).expect("request"))
            .await
            .expect("response");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(up.requests_seen(), 0);

        let req = Request::get("http://gateway.test/c")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(Empty::new())
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
        let seen = &up.requests()[0];
        let cookies: Vec<_> = seen.headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1; b=2"]);
    })
    .await;
}

/// Answers every request with a chunked `ok` and trailers: `x-sum` (end to end), `te`
/// (hop-by-hop, forbidden in HTTP/2) and `set-cookie`.
async fn trailer_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    head.clear();
                    let reply = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\
                        trailer: x-sum, te, set-cookie\r\naccess-control-allow-origin: *\r\n\r\n\
                        2\r\nok\r\n0\r\nx-sum: 7\r\nte: trailers\r\nset-cookie: s=1\r\n\r\n";
                    if sock.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn trailers_are_filtered_not_fatal() {
    init_tracing();
    within("trailers", async {
        let addr = trailer_upstream().await;
        let gw = start_gateway(&route("/", &format!("http://{addr}"))).await;
        let mut c = raw::h2c_client::<Empty<Bytes>>(gw.addrs[0])
            .await
            .expect("h2c handshake");
        let req = Request::get("http://gateway.test/t")
            .header("te", "trailers")
            .body(Empty::new())
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
        let collected = resp.into_body().collect().await.expect("whole body");
        let trailers = collected.trailers().cloned();
        assert_eq!(&collected.to_bytes()[..], b"ok");
        let trailers = trailers.expect("trailers forwarded");
        assert_eq!(trailers["x-sum"], "7");
        assert!(trailers.get("te").is_none(), "{trailers:?}");
    })
    .await;
}

#[tokio::test]
async fn cors_mode_drops_the_targets_trailers() {
    init_tracing();
    within("cors trailers", async {
        let addr = trailer_upstream().await;
        let toml = format!(
            "[[listener]]\naddress = \"127.0.0.1:0\"\nmode = \"cors\"\n\n\
             [cors]\nallow_targets = [\"{addr}\"]\nallow_origins = [\"*\"]\n"
        );
        let gw = start_gateway(&toml).await;
        let mut c = raw::h2c_client::<Empty<Bytes>>(gw.addrs[0])
            .await
            .expect("h2c handshake");
        let req = Request::get(format!("http://gateway.test/?url=http%3A%2F%2F{addr}%2Ft"))
            .header("origin", "http://app.test")
            .header("te", "trailers")
            .body(Empty::new())
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
        let collected = resp.into_body().collect().await.expect("whole body");
        assert!(collected.trailers().is_none(), "{:?}", collected.trailers());
        assert_eq!(&collected.to_bytes()[..], b"ok");
    })
    .await;
}
