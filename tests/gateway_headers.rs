//! Issue #3 acceptance, headers: hop-by-hop fields are stripped both ways (including every
//! field the `Connection` header names), the forwarding headers are added (appended to an
//! existing `X-Forwarded-For` / `Via`), `Host` is the upstream's authority unless the route
//! preserves it; and a client that closes after every request does not make the gateway
//! close (or open) upstream connections: they are pooled independently.

use std::time::Duration;

use gangway_tests::body::full;
use gangway_tests::gateway::{get, get_with, post, route, start_gateway};

/// Issue #17: a chain is appended to only from a trusted proxy (an untrusted client's
/// forwarding headers are replaced: `gateway_security.rs`), so the tests of appending
/// trust the loopback client.
const TRUST_LOOPBACK: &str = "[forwarding]\ntrusted_proxies = [\"127.0.0.1\"]\n";
use gangway_tests::raw::{send_raw, RawConn};
use gangway_tests::upstream::{echo, SeenRequest, Upstream};
use gangway_tests::wire::End;
use gangway_tests::{init_tracing, wait_until, within};
use http::Response;

fn header<'a>(seen: &'a SeenRequest, name: &str) -> Option<&'a str> {
    seen.headers
        .get(name)
        .map(|v| v.to_str().expect("ASCII header"))
}

fn all<'a>(seen: &'a SeenRequest, name: &str) -> Vec<&'a str> {
    seen.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("ASCII header"))
        .collect()
}

#[tokio::test]
async fn request_hop_by_hop_headers_are_stripped() {
    init_tracing();
    within("request hop-by-hop", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/users", &up.url(""))).await;
        let extra = "connection: keep-alive, X-Foo,x-bar\r\n\
                     x-foo: 1\r\n\
                     x-bar: 2\r\n\
                     x-kept: 3\r\n\
                     keep-alive: timeout=5, max=100\r\n\
                     proxy-connection: keep-alive\r\n\
                     te: gzip, trailers\r\n\
                     upgrade: websocket\r\n\
                     trailer: x-checksum\r\n\
                     proxy-authorization: Basic Zm9vOmJhcg==\r\n";
        let r = send_raw(gw.addrs[0], &get_with("/users/1", extra))
            .await
            .expect("request");
        assert_eq!(r.status, 200, "{}", r.body_str());
        let seen = &up.requests()[0];
        for name in [
            "connection",
            "x-foo",
            "x-bar",
            "keep-alive",
            "proxy-connection",
            "te",
            "upgrade",
            "trailer",
            "proxy-authorization",
            "http2-settings",
        ] {
            assert!(
                seen.headers.get(name).is_none(),
                "{name} reached the upstream: {:?}",
                seen.headers
            );
        }
        assert_eq!(header(seen, "x-kept"), Some("3"));

        // `TE: trailers` is the one TE value that is forwarded, also when (as RFC 9110
        // requires) the client names TE in Connection.
        let r = send_raw(
            gw.addrs[0],
            &get_with("/users/2", "te: trailers\r\nconnection: te\r\n"),
        )
        .await
        .expect("request");
        assert_eq!(r.status, 200);
        let seen = &up.requests()[1];
        assert_eq!(all(seen, "te"), ["trailers"]);
        assert!(seen.headers.get("connection").is_none());
    })
    .await;
}

#[tokio::test]
async fn forwarding_headers_are_added_and_appended() {
    init_tracing();
    within("forwarding headers", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&format!("{}{TRUST_LOOPBACK}", route("/users", &up.url("")))).await;
        let r = send_raw(
            gw.addrs[0],
            &get_with("/users/1", "x-forwarded-for: 1.2.3.4\r\nvia: 1.0 fred\r\n"),
        )
        .await
        .expect("request");
        assert_eq!(r.status, 200);
        let seen = &up.requests()[0];
        assert_eq!(all(seen, "x-forwarded-for"), ["1.2.3.4, 127.0.0.1"]);
        assert_eq!(all(seen, "x-forwarded-proto"), ["http"]);
        assert_eq!(all(seen, "x-forwarded-host"), ["gateway.test"]);
        assert_eq!(all(seen, "via"), ["1.0 fred, 1.1 gangway"]);
        assert_eq!(all(seen, "host"), [up.addr().to_string().as_str()]);

        // Without earlier hops: just ours. A client-sent X-Forwarded-Proto/Host is
        // replaced, not trusted (on a gateway that trusts no proxy, the default).
        let plain = start_gateway(&route("/users", &up.url(""))).await;
        let r = send_raw(
            plain.addrs[0],
            &get_with(
                "/users/2",
                "x-forwarded-proto: https\r\nx-forwarded-host: evil.test\r\n",
            ),
        )
        .await
        .expect("request");
        assert_eq!(r.status, 200);
        let seen = &up.requests()[1];
        assert_eq!(all(seen, "x-forwarded-for"), ["127.0.0.1"]);
        assert_eq!(all(seen, "x-forwarded-proto"), ["http"]);
        assert_eq!(all(seen, "x-forwarded-host"), ["gateway.test"]);
        assert_eq!(all(seen, "via"), ["1.1 gangway"]);

        // Two X-Forwarded-For lines are one list; ours goes at the end.
        let r = send_raw(
            gw.addrs[0],
            &get_with(
                "/users/3",
                "x-forwarded-for: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8\r\n",
            ),
        )
        .await
        .expect("request");
        assert_eq!(r.status, 200);
        assert_eq!(
            all(&up.requests()[2], "x-forwarded-for"),
            ["1.2.3.4, 5.6.7.8, 127.0.0.1"]
        );
    })
    .await;
}

#[tokio::test]
async fn connection_cannot_strip_host_or_the_forwarding_headers() {
    init_tracing();
    within("connection abuse", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&format!("{}{TRUST_LOOPBACK}", route("/users", &up.url("")))).await;
        let extra = "connection: x-forwarded-for, host, via, x-forwarded-host, content-length\r\n\
                     x-forwarded-for: 1.2.3.4\r\n";
        let mut bytes = format!(
            "POST /users/1 HTTP/1.1\r\nhost: gateway.test\r\ncontent-length: 5\r\n{extra}\r\nhello"
        )
        .into_bytes();
        let r = send_raw(gw.addrs[0], &std::mem::take(&mut bytes))
            .await
            .expect("request");
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "hello");
        let seen = &up.requests()[0];
        assert_eq!(all(seen, "x-forwarded-for"), ["1.2.3.4, 127.0.0.1"]);
        assert_eq!(all(seen, "x-forwarded-host"), ["gateway.test"]);
        assert_eq!(all(seen, "via"), ["1.1 gangway"]);
        assert_eq!(all(seen, "host"), [up.addr().to_string().as_str()]);
        assert_eq!(all(seen, "content-length"), ["5"]);
    })
    .await;
}

#[tokio::test]
async fn host_is_the_upstreams_unless_preserve_host() {
    init_tracing();
    within("host", async {
        let plain = Upstream::http1().run().await;
        let kept = Upstream::http1().run().await;
        let toml = format!(
            "{}[[route]]\nprefix = \"/profiles\"\nupstream = \"{}\"\npreserve_host = true\n",
            route("/users", &plain.url("")),
            kept.url("")
        );
        let gw = start_gateway(&toml).await;
        let r = send_raw(gw.addrs[0], &get("/users/1"))
            .await
            .expect("users");
        assert_eq!(r.status, 200);
        assert_eq!(
            all(&plain.requests()[0], "host"),
            [plain.addr().to_string().as_str()]
        );
        let r = send_raw(gw.addrs[0], &get("/profiles/1"))
            .await
            .expect("profiles");
        assert_eq!(r.status, 200);
        let seen = &kept.requests()[0];
        assert_eq!(all(seen, "host"), ["gateway.test"]);
        assert_eq!(all(seen, "x-forwarded-host"), ["gateway.test"]);
    })
    .await;
}

#[tokio::test]
async fn response_hop_by_hop_headers_are_stripped() {
    init_tracing();
    within("response hop-by-hop", async {
        let up = Upstream::http1()
            .handler(|req, ctx| async move {
                if req.uri().path() != "/secret" {
                    return echo(req, ctx).await;
                }
                Response::builder()
                    .header("connection", "x-secret")
                    .header("x-secret", "1")
                    .header("keep-alive", "timeout=5")
                    .header("proxy-connection", "keep-alive")
                    .header("upgrade", "h2c")
                    .header("x-public", "yes")
                    .body(full("body"))
                    .expect("response")
            })
            .run()
            .await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let r = send_raw(gw.addrs[0], &get("/secret"))
            .await
            .expect("request");
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "body");
        for name in ["x-secret", "keep-alive", "proxy-connection", "upgrade"] {
            assert!(
                r.header(name).is_none(),
                "{name} reached the client: {:?}",
                r.headers
            );
        }
        // hyper may add its own `Connection` for the client connection; never the
        // upstream's.
        for value in r.header_all("connection") {
            assert!(
                !value.to_ascii_lowercase().contains("x-secret"),
                "{:?}",
                r.headers
            );
        }
        assert_eq!(r.header("x-public"), Some("yes"));
        assert_eq!(r.header_all("via"), ["1.1 gangway"]);
    })
    .await;
}

#[tokio::test]
async fn connection_close_clients_share_one_upstream_connection() {
    init_tracing();
    within("connection: close", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/users", &up.url(""))).await;
        const N: usize = 20;
        for i in 0..N {
            let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
            let bytes = if i % 2 == 0 {
                get_with(&format!("/users/{i}"), "connection: close\r\n")
            } else {
                // A body too, so the upstream connection is reused after a real exchange.
                let mut b = post(&format!("/users/{i}"), b"payload");
                let at = b
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .expect("head end");
                b.splice(at + 2..at + 2, b"connection: close\r\n".iter().copied());
                b
            };
            let r = c.request(&bytes).await.expect("request");
            assert_eq!(r.status, 200, "{i}");
            assert!(r.closed_cleanly);
            // The gateway honours the client's close ...
            let rest = c.read_to_close().await.expect("close");
            assert!(rest.bytes.is_empty());
            assert_eq!(rest.end, End::Complete);
            // ... without passing it upstream.
            let seen = up.requests();
            assert!(
                seen[i].headers.get("connection").is_none(),
                "{:?}",
                seen[i].headers
            );
        }
        assert_eq!(up.requests_seen(), N);
        assert_eq!(
            up.connections_accepted(),
            1,
            "one pooled upstream connection for all"
        );
        assert!(wait_until(Duration::from_secs(1), || up.open_connections() == 1).await);
        let stats = gw.app.client.stats().total;
        assert_eq!(stats.connections_opened, 1);
        assert_eq!(stats.reused, (N - 1) as u64);
    })
    .await;
}
