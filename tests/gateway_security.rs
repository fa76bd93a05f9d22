//! Issue #17, the request-path points wired: escaped slashes next to dot segments (item 1),
//! forwarding headers and trusted proxies (item 6), CONNECT and authority-form targets
//! (item 7). Raw HTTP/1 bytes and hyper's h2c client against the in-process gateway; each
//! test asserts what the upstream received (or that it received nothing).

use bytes::Bytes;
use gangway_tests::gateway::{get, get_with, route, start_gateway};
use gangway_tests::raw::{self, send_raw};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http::{Method, Request, StatusCode};
use http_body_util::Empty;

/// Sends `GET path` over h2c and returns the status.
async fn h2_get(addr: std::net::SocketAddr, path: &str) -> StatusCode {
    let mut c = raw::h2c_client::<Empty<Bytes>>(addr)
        .await
        .expect("h2c handshake");
    let req = Request::get(format!("http://gateway.test{path}"))
        .body(Empty::new())
        .expect("request");
    c.send_request(req).await.expect("h2 response").status()
}

#[tokio::test]
async fn escaped_slashes_next_to_dots_are_refused_by_default() {
    init_tracing();
    within("escaped slashes reject", async {
        let users = Upstream::http1().run().await;
        let admin = Upstream::http1().run().await;
        let toml = format!(
            "{}{}",
            route("/users", &users.url("")),
            route("/admin", &admin.url(""))
        );
        let gw = start_gateway(&toml).await;
        let addr = gw.addrs[0];
        let attacks = [
            "/users/..%2fadmin",
            "/users/..%2Fadmin",
            "/users/%2e%2e%2fadmin",
            "/users/..%5cadmin",
            "/users/..%5Cadmin",
            "/users/..\\admin",
            "/users/x\\y",
        ];
        for path in attacks {
            let r = send_raw(addr, &get(path)).await.expect("h1 request");
            assert_eq!(r.status, 400, "h1 {path}: {}", r.body_str());
            assert!(r.body.len() < 200 && !r.body.is_empty(), "{path}");
        }
        for path in attacks.iter().filter(|p| !p.contains('\\')) {
            assert_eq!(
                h2_get(addr, path).await,
                StatusCode::BAD_REQUEST,
                "h2 {path}"
            );
        }
        assert_eq!(users.requests_seen() + admin.requests_seen(), 0);

        // An escaped slash with no dot next to it is still passed through unchanged.
        let r = send_raw(addr, &get("/users/a%2Fb")).await.expect("plain");
        assert_eq!(r.status, 200);
        assert_eq!(h2_get(addr, "/users/c%2fd").await, StatusCode::OK);
        let seen: Vec<String> = users.requests().iter().map(|r| r.uri.to_string()).collect();
        assert_eq!(seen, ["/users/a%2Fb", "/users/c%2fd"]);
        assert_eq!(admin.requests_seen(), 0);
    })
    .await;
}

#[tokio::test]
async fn escaped_slashes_unescape_routes_what_the_upstream_would_serve() {
    init_tracing();
    within("escaped slashes unescape", async {
        let users = Upstream::http1().run().await;
        let admin = Upstream::http1().run().await;
        let toml = format!(
            "{}{}[limits]\nescaped_slashes = \"unescape\"\n",
            route("/users", &users.url("")),
            route("/admin", &admin.url(""))
        );
        let gw = start_gateway(&toml).await;
        let addr = gw.addrs[0];
        let r = send_raw(addr, &get("/users/..%2fadmin/keys?x=1"))
            .await
            .expect("h1");
        assert_eq!(r.status, 200, "{}", r.body_str());
        let r = send_raw(addr, &get("/users/..\\admin/k2"))
            .await
            .expect("h1");
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(
            h2_get(addr, "/users/%2e%2e%5cadmin/k3").await,
            StatusCode::OK
        );
        // Climbing above the root is refused.
        let r = send_raw(addr, &get("/users/..%2f..%2f..%2fetc"))
            .await
            .expect("h1");
        assert_eq!(r.status, 400);
        assert_eq!(users.requests_seen(), 0);
        let seen: Vec<String> = admin.requests().iter().map(|r| r.uri.to_string()).collect();
        assert_eq!(seen, ["/admin/keys?x=1", "/admin/k2", "/admin/k3"]);
    })
    .await;
}

#[tokio::test]
async fn escaped_slashes_keep_forwards_unchanged() {
    init_tracing();
    within("escaped slashes keep", async {
        let users = Upstream::http1().run().await;
        let toml = format!(
            "{}[limits]\nescaped_slashes = \"keep\"\n",
            route("/users", &users.url(""))
        );
        let gw = start_gateway(&toml).await;
        let r = send_raw(gw.addrs[0], &get("/users/..%2fadmin"))
            .await
            .expect("h1");
        assert_eq!(r.status, 200);
        assert_eq!(users.requests()[0].uri.to_string(), "/users/..%2fadmin");
    })
    .await;
}

const SPOOFED: &str = "x-forwarded-for: 1.2.3.4\r\nx-forwarded-proto: https\r\n\
x-forwarded-host: evil.test\r\nforwarded: for=1.2.3.4\r\nx-real-ip: 1.2.3.4\r\n\
x-forwarded-port: 443\r\nx-forwarded-prefix: /admin\r\nx-original-url: /admin\r\n\
x-rewrite-url: /admin\r\n";

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_replaced() {
    init_tracing();
    within("forwarding untrusted", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let r = send_raw(gw.addrs[0], &get_with("/x", SPOOFED))
            .await
            .expect("h1");
        assert_eq!(r.status, 200);
        let h = &up.requests()[0].headers;
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "gateway.test");
        for name in [
            "forwarded",
            "x-real-ip",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "x-original-url",
            "x-rewrite-url",
        ] {
            assert!(h.get(name).is_none(), "{name} reached the upstream: {h:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_peer_are_appended_to() {
    init_tracing();
    within("forwarding trusted", async {
        let up = Upstream::http1().run().await;
        let toml = format!(
            "{}[forwarding]\ntrusted_proxies = [\"127.0.0.0/8\"]\nemit_forwarded = true\n",
            route("/", &up.url(""))
        );
        let gw = start_gateway(&toml).await;
        let r = send_raw(gw.addrs[0], &get_with("/x", SPOOFED))
            .await
            .expect("h1");
        assert_eq!(r.status, 200);
        let h = &up.requests()[0].headers;
        assert_eq!(h["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "evil.test");
        assert_eq!(h["x-real-ip"], "1.2.3.4");
        assert_eq!(
            h["forwarded"],
            "for=1.2.3.4, for=127.0.0.1;proto=http;host=evil.test"
        );
    })
    .await;
}

#[tokio::test]
async fn rate_limit_counts_the_first_untrusted_hop() {
    init_tracing();
    within("rate limit client", async {
        let up = Upstream::http1().run().await;
        let toml = format!(
            "[[listener]]\naddress = \"127.0.0.1:0\"\nmode = \"cors\"\n\n\
             [cors]\nallow_targets = [\"{}\"]\nallow_origins = [\"*\"]\n\
             rate_limit = {{ per_second = 0.001, burst = 1 }}\n\
             [forwarding]\ntrusted_proxies = [\"127.0.0.1\"]\n",
            up.addr()
        );
        let gw = start_gateway(&toml).await;
        let target = format!("/?url=http%3A%2F%2F{}%2Fx", up.addr());
        let mut statuses = Vec::new();
        for client in ["198.51.100.1", "198.51.100.2", "198.51.100.1"] {
            let extra = format!("origin: http://app.test\r\nx-forwarded-for: {client}\r\n");
            let r = send_raw(gw.addrs[0], &get_with(&target, &extra))
                .await
                .expect("h1");
            statuses.push(r.status);
        }
        // Two clients behind one trusted proxy each get their own bucket.
        assert_eq!(statuses, [200, 200, 429]);
        assert_eq!(up.requests_seen(), 2);
    })
    .await;
}

#[tokio::test]
async fn connect_is_405_and_authority_form_is_400_before_routing() {
    init_tracing();
    within("connect", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let addr = gw.addrs[0];
        let r = send_raw(
            addr,
            b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n",
        )
        .await
        .expect("h1 connect");
        assert_eq!(r.status, 405, "{}", r.body_str());
        assert_eq!(r.header("connection"), Some("close"));
        let r = send_raw(
            addr,
            b"GET example.com:80 HTTP/1.1\r\nhost: example.com:80\r\n\r\n",
        )
        .await
        .expect("h1 authority-form");
        assert_eq!(r.status, 400, "{}", r.body_str());

        let mut c = raw::h2c_client::<Empty<Bytes>>(addr)
            .await
            .expect("h2c handshake");
        let req = Request::builder()
            .method(Method::CONNECT)
            .uri("example.com:443")
            .body(Empty::new())
            .expect("request");
        let resp = c.send_request(req).await.expect("h2 connect");
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(up.requests_seen(), 0);
    })
    .await;
}
