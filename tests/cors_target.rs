//! CORS-proxy mode, the `url` parameter (issue #4): which requests are forwarded, to
//! where, and which are refused with a 400 that says why. Real gateway, real loopback
//! upstream (allowlisted as `127.0.0.1:PORT`), raw HTTP/1.1 client.

#[path = "cors_common.rs"]
mod common;

use common::{assert_cors, assert_untouched, cors_allowing, enc, exposed, proxied, Gateway, Req};
use gangway_tests::upstream::Upstream;
use gangway_tests::within;

/// Every proxied method reaches the target with the target's path and query byte for
/// byte (the `url` value is percent-decoded exactly once), the target's `Host`, and the
/// body; the answer comes back with CORS headers exposing the target's headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_is_forwarded_with_path_and_query_exact() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    // `%2F`, `%20`, `+` and `&` are the target's own: after one decode they must still be
    // there exactly as written.
    let path = "/a/b%2Fc/c++?x=1&y=a+b%20c&z=%25";
    let url = up.url(path);
    within("six methods", async {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] {
            let body: &[u8] = match method {
                "POST" | "PUT" | "PATCH" => b"{\"n\":1}",
                _ => b"",
            };
            let resp = gw.send(&Req::new(method, proxied(&url)).body(body)).await;
            assert_eq!(resp.status, 200, "{method}: {}", resp.body_str());
            assert_eq!(resp.header("x-method"), Some(method), "{method}");
            assert_eq!(resp.header("x-path"), Some(path), "{method}");
            if method == "HEAD" {
                assert!(resp.body.is_empty(), "HEAD has no body");
            } else {
                assert_eq!(resp.body, body, "{method}: body echoed");
            }
            assert_cors(&resp, "*", method);
            let names = exposed(&resp);
            for name in ["x-method", "x-path", "x-conn-id", "x-req-seq"] {
                assert!(
                    names.iter().any(|n| n == name),
                    "{method}: {name} exposed: {names:?}"
                );
            }
        }
    })
    .await;
    let seen = up.requests();
    let methods: Vec<&str> = seen.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);
    for r in &seen {
        assert_eq!(
            r.uri.to_string(),
            path,
            "{} reached the target's path",
            r.method
        );
        let host = r.headers.get("host").and_then(|h| h.to_str().ok());
        assert_eq!(
            host,
            Some(up.addr().to_string().as_str()),
            "Host is the target"
        );
    }
    gw.stop().await;
}

/// The `url` value is decoded once: a double-encoded `%252F` arrives as `%2F`, an
/// unencoded URL works as long as it has no `&`, and other query parameters of the
/// gateway request are ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_is_decoded_exactly_once() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    let a = up.addr();
    let cases = [
        (
            format!("/?url={}", enc(&format!("http://{a}/p%2F"))),
            "/p%2F",
        ),
        (format!("/?url=http://{a}/plain?q=1"), "/plain?q=1"),
        (
            format!("/?other=1&url={}&more=2", enc(&format!("http://{a}/x?k=v"))),
            "/x?k=v",
        ),
        (format!("/?url={}", enc(&format!("http://{a}"))), "/"),
        (
            format!("/?url={}", enc(&format!("HTTP://{a}/Case"))),
            "/Case",
        ),
    ];
    within("decode cases", async {
        for (target, want) in &cases {
            let resp = gw.send(&Req::new("GET", target.as_str())).await;
            assert_eq!(resp.status, 200, "{target}: {}", resp.body_str());
            assert_eq!(resp.header("x-path"), Some(*want), "{target}");
        }
    })
    .await;
    assert_eq!(up.requests_seen(), cases.len());
    gw.stop().await;
}

/// No `url` (or an empty one) is a 400 with the exact text of the issue, CORS headers
/// included so page code can read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_url_is_400() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    within("missing url", async {
        for target in [
            "/",
            "/?",
            "/?x=1",
            "/?url=",
            "/?url",
            "/?URL=http%3A%2F%2Fexample.com%2F",
            "/other/path",
        ] {
            let resp = gw.send(&Req::new("GET", target)).await;
            assert_eq!(resp.status, 400, "{target}");
            assert_eq!(
                resp.body_str().trim_end(),
                "Required \"url\" query parameter not found.",
                "{target}"
            );
            assert_cors(&resp, "*", target);
        }
    })
    .await;
    assert_untouched(&up, "missing url");
    gw.stop().await;
}

/// An unparsable URL, a scheme other than http(s), and userinfo are 400s whose text
/// names the problem; none of them reaches the (allowlisted) target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_are_400_naming_the_problem() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    let a = up.addr();
    let p = a.port();
    let cases: Vec<(String, &str)> = vec![
        ("not a url".into(), "Invalid \"url\" parameter"),
        (format!("{a}/no-scheme"), "Invalid \"url\" parameter"),
        (
            format!("//{a}/scheme-relative"),
            "Invalid \"url\" parameter",
        ),
        (format!("http:/{a}/one-slash"), "Invalid \"url\" parameter"),
        (format!("http://{a}/a b"), "Invalid \"url\" parameter"),
        ("file:///etc/passwd".into(), "Unsupported scheme \"file\""),
        (format!("ftp://{a}/"), "Unsupported scheme \"ftp\""),
        (format!("gopher://{a}/"), "Unsupported scheme \"gopher\""),
        (format!("ws://{a}/"), "Unsupported scheme \"ws\""),
        (
            "javascript:alert(1)".into(),
            "Unsupported scheme \"javascript\"",
        ),
        (
            format!("http://user:pass@{a}/"),
            "Credentials (user@host) are not allowed",
        ),
        (
            format!("http://user@{a}/"),
            "Credentials (user@host) are not allowed",
        ),
        (
            format!("http://good.example@{a}/"),
            "Credentials (user@host) are not allowed",
        ),
        ("http:///path-only".into(), "has no host"),
        ("http://127.0.0.1:0/".into(), "invalid port"),
        ("http://127.0.0.1:65536/".into(), "invalid port"),
        (format!("http://127.0.0.1:{p}x/"), "invalid port"),
    ];
    within("bad urls", async {
        for (url, want) in &cases {
            let resp = gw.send(&Req::get(url)).await;
            let body = resp.body_str();
            assert_eq!(resp.status, 400, "{url}: {body}");
            assert!(
                body.contains(want),
                "{url}: body {body:?} should contain {want:?}"
            );
            assert_cors(&resp, "*", url);
        }
        // CR LF after the one decode: a request-line injection attempt.
        let target = format!("/?url=http://{a}/%0d%0aX-Injected:%201");
        let resp = gw.send(&Req::new("GET", target.as_str())).await;
        assert_eq!(resp.status, 400, "{target}");
        assert!(
            resp.body_str().contains("control characters"),
            "{}",
            resp.body_str()
        );
        // A `%` not followed by two hex digits in the parameter itself.
        let resp = gw
            .send(&Req::new("GET", "/?url=http%3A%2F%2Fh.example%2F%zz"))
            .await;
        assert_eq!(resp.status, 400);
        assert!(
            resp.body_str().contains("percent-encoding"),
            "{}",
            resp.body_str()
        );
    })
    .await;
    assert_untouched(&up, "bad urls");
    gw.stop().await;
}

/// Methods outside GET, POST, PUT, PATCH, DELETE, HEAD (and a bare OPTIONS that is not a
/// preflight) are not proxied: 405 with CORS headers, nothing forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_are_405() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    let url = up.url("/");
    within("other methods", async {
        for method in ["TRACE", "OPTIONS", "PROPFIND"] {
            let resp = gw.send(&Req::new(method, proxied(&url))).await;
            assert_eq!(resp.status, 405, "{method}: {}", resp.body_str());
            assert!(
                resp.body_str().contains(method),
                "{method}: {}",
                resp.body_str()
            );
            assert_cors(&resp, "*", method);
        }
    })
    .await;
    assert_untouched(&up, "other methods");
    gw.stop().await;
}

/// A target that answers in HTTP/1.0 (Python's `http.server` does) is relayed to an
/// HTTP/1.1 client as HTTP/1.1: the downstream connection's protocol is the gateway's,
/// not the target's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http10_answer_is_relayed_as_http11() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tcp
                .write_all(
                    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
                )
                .await;
        }
    });
    let gw = Gateway::start(&cors_allowing(&[addr], "")).await;
    within("HTTP/1.0 target", async {
        let resp = gw.send(&Req::get(&format!("http://{addr}/"))).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body_str(), "ok");
        assert!(
            resp.head.starts_with(b"HTTP/1.1 200"),
            "status line: {:?}",
            String::from_utf8_lossy(&resp.head)
        );
        assert_cors(&resp, "*", "HTTP/1.0 target");
    })
    .await;
    server.abort();
    gw.stop().await;
}

/// The CORS listener speaks h2c too (prior knowledge): the same proxying and CORS
/// headers over HTTP/2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxying_works_over_h2c() {
    use bytes::Bytes;
    use http_body_util::Empty;
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    within("h2c", async {
        let mut client = gangway_tests::raw::h2c_client::<Empty<Bytes>>(gw.addr)
            .await
            .expect("h2c connect");
        let uri = format!("http://{}{}", gw.addr, proxied(&up.url("/h2?q=1")));
        let req = http::Request::get(uri)
            .header("origin", common::ORIGIN)
            .body(Empty::new())
            .expect("request");
        let resp = client.send_request(req).await.expect("response");
        let (parts, body) = gangway_tests::raw::collect(resp).await.expect("body");
        assert_eq!(parts.status, 200);
        assert_eq!(parts.version, http::Version::HTTP_2);
        let h = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
        assert_eq!(h("x-path"), Some("/h2?q=1"));
        assert_eq!(h("access-control-allow-origin"), Some("*"));
        assert!(body.is_empty());
    })
    .await;
    gw.stop().await;
}

/// `[limits] max_uri_bytes` applies to CORS listeners too: a longer request target (the
/// encoded target URL) is a 414 with CORS headers, and nothing is forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_target_is_414() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&format!(
        "[limits]\nmax_uri_bytes = \"1KiB\"\n\n{}",
        cors_allowing(&[up.addr()], "")
    ))
    .await;
    within("414", async {
        let long = up.url(&format!("/{}", "a".repeat(1100)));
        let resp = gw.send(&Req::get(&long)).await;
        assert_eq!(resp.status, 414, "{}", resp.body_str());
        assert!(
            resp.body_str().contains("longer than 1024 bytes"),
            "{}",
            resp.body_str()
        );
        assert_cors(&resp, "*", "414");
        let short = up.url(&format!("/{}", "a".repeat(900)));
        assert_eq!(gw.send(&Req::get(&short)).await.status, 200);
    })
    .await;
    assert_eq!(up.requests_seen(), 1);
    gw.stop().await;
}
