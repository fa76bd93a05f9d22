//! Issue #3 acceptance, routing: the users/profiles gateway in-process against two real
//! HTTP/1.1 upstreams on loopback; request targets and bodies reach the right upstream
//! byte-exact, unknown paths are 404 and dot-segment escapes 400 (short text bodies,
//! upstreams untouched); the health check never reaches an upstream; `/metrics` on the
//! admin listener counts by route and status and shows the pool's stats.

use gangway_tests::body::{pattern_byte, PatternBody};
use gangway_tests::gateway::{get, post, route, start_gateway};
use gangway_tests::raw::{self, collect, send_raw};
use gangway_tests::upstream::{Listening, Upstream};
use gangway_tests::{init_tracing, within};
use http::{Request, StatusCode};

/// The example config's two routes, on two upstreams.
async fn users_profiles() -> (Listening, Listening, gangway::Running) {
    let users = Upstream::http1().run().await;
    let profiles = Upstream::http1().run().await;
    let toml = format!(
        "{}{}",
        route("/users", &users.url("")),
        route("/profiles", &profiles.url(""))
    );
    let gw = start_gateway(&toml).await;
    (users, profiles, gw)
}

/// FNV-1a, enough to compare large bodies without keeping two copies.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[tokio::test]
async fn users_and_profiles_reach_their_upstream_byte_exact() {
    init_tracing();
    within("routing", async {
        let (users, profiles, gw) = users_profiles().await;
        let addr = gw.addrs[0];

        let r = send_raw(addr, &get("/users/42?x=1&y=%20"))
            .await
            .expect("users");
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert_eq!(r.header("x-path"), Some("/users/42?x=1&y=%20"));
        let seen = users.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].uri.to_string(), "/users/42?x=1&y=%20");
        assert_eq!(seen[0].method, http::Method::GET);

        // Odd but legal bytes pass through unchanged: no decoding, no `//` merging.
        let odd = "/users/a%2Fb//c;p=1?q=%E2%82%AC&&z";
        let r = send_raw(addr, &get(odd)).await.expect("users odd");
        assert_eq!(r.status, 200);
        assert_eq!(users.requests()[1].uri.to_string(), odd);

        let r = send_raw(addr, &get("/profiles/7")).await.expect("profiles");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-path"), Some("/profiles/7"));
        assert_eq!(profiles.requests().len(), 1);
        assert_eq!(profiles.requests()[0].uri.to_string(), "/profiles/7");
        // The bare prefix and a query on it match too.
        let r = send_raw(addr, &get("/users?all"))
            .await
            .expect("bare prefix");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-path"), Some("/users?all"));
        assert_eq!(users.requests_seen(), 3);
        assert_eq!(profiles.requests_seen(), 1);
    })
    .await;
}

#[tokio::test]
async fn post_body_is_forwarded_byte_exact() {
    init_tracing();
    within("post body", async {
        let (users, _profiles, gw) = users_profiles().await;
        // Every byte value, in an order that makes shifts and drops visible.
        let body: Vec<u8> = (0..300_000u64).map(|i| (i * 7 + i / 251) as u8).collect();
        let r = send_raw(gw.addrs[0], &post("/users/upload", &body))
            .await
            .expect("post");
        assert_eq!(r.status, 200);
        assert!(r.closed_cleanly);
        assert_eq!(r.header("x-method"), Some("POST"));
        assert_eq!(r.body.len(), body.len());
        assert_eq!(fnv1a(&r.body), fnv1a(&body), "echoed body differs");
        let seen = users.requests();
        assert_eq!(
            seen[0].headers["content-length"],
            body.len().to_string().as_str()
        );

        // A chunked upload (no length) through a hyper client: still byte-exact.
        let mut c = raw::h1_client(gw.addrs[0]).await.expect("h1 client");
        let req = Request::post("/users/chunked")
            .header("host", "gateway.test")
            .body(PatternBody::new(1_000_003, false))
            .expect("request");
        let (parts, bytes) = collect(c.send_request(req).await.expect("send"))
            .await
            .expect("body");
        assert_eq!(parts.status, StatusCode::OK);
        assert_eq!(bytes.len(), 1_000_003);
        assert!(bytes
            .iter()
            .enumerate()
            .all(|(i, b)| *b == pattern_byte(i as u64)));
        let seen = users.requests();
        assert_eq!(seen.len(), 2);
        assert!(seen[1].headers.get("content-length").is_none());
        assert_eq!(seen[1].headers["transfer-encoding"], "chunked");
    })
    .await;
}

#[tokio::test]
async fn unknown_prefix_is_404_with_a_short_text_body() {
    init_tracing();
    within("404", async {
        let (users, profiles, gw) = users_profiles().await;
        for path in ["/usersx", "/usersx/1", "/", "/profile", "/Users/1"] {
            let r = send_raw(gw.addrs[0], &get(path)).await.expect("request");
            assert_eq!(r.status, 404, "{path}");
            assert!(r.closed_cleanly, "{path}");
            assert!(
                r.header("content-type")
                    .is_some_and(|t| t.starts_with("text/plain")),
                "{path}: {:?}",
                r.headers
            );
            assert!(
                !r.body.is_empty() && r.body.len() < 200,
                "{path}: {}",
                r.body_str()
            );
        }
        assert_eq!(users.requests_seen() + profiles.requests_seen(), 0);
        assert_eq!(
            users.connections_accepted() + profiles.connections_accepted(),
            0
        );
    })
    .await;
}

#[tokio::test]
async fn dot_segment_escapes_are_400() {
    init_tracing();
    within("dot segments", async {
        let (users, profiles, gw) = users_profiles().await;
        for path in [
            "/users/../../etc",
            "/users/../../etc/passwd",
            "/users/%2e%2e/%2E%2E/etc",
            "/users/../profiles/1",
            "/../users/1",
        ] {
            let r = send_raw(gw.addrs[0], &get(path)).await.expect("request");
            assert_eq!(r.status, 400, "{path}: {}", r.body_str());
            assert!(
                !r.body.is_empty() && r.body.len() < 200,
                "{path}: {}",
                r.body_str()
            );
        }
        assert_eq!(users.requests_seen() + profiles.requests_seen(), 0);

        // Dot-segments that stay inside the route are resolved and forwarded resolved.
        let r = send_raw(gw.addrs[0], &get("/users/a/../42/./x?q=1"))
            .await
            .expect("request");
        assert_eq!(r.status, 200);
        assert_eq!(users.requests()[0].uri.to_string(), "/users/42/x?q=1");
    })
    .await;
}

#[tokio::test]
async fn healthcheck_is_answered_without_touching_upstreams() {
    init_tracing();
    within("healthcheck", async {
        let (users, profiles, gw) = users_profiles().await;
        let r = send_raw(gw.addrs[0], &get("/healthcheck"))
            .await
            .expect("health");
        assert_eq!(r.status, 200);
        assert!(r.closed_cleanly);
        let r = raw::RawConn::connect(gw.addrs[0])
            .await
            .expect("connect")
            .request(b"HEAD /healthcheck HTTP/1.1\r\nhost: gateway.test\r\n\r\n")
            .await
            .expect("head");
        assert_eq!(r.status, 200);
        assert_eq!(users.requests_seen() + profiles.requests_seen(), 0);
        assert_eq!(
            users.connections_accepted() + profiles.connections_accepted(),
            0
        );
        assert_eq!(gw.app.client.stats().total.requests, 0);
    })
    .await;
}

#[tokio::test]
async fn metrics_on_the_admin_listener() {
    init_tracing();
    within("metrics", async {
        let users = Upstream::http1().run().await;
        let profiles = Upstream::http1().run().await;
        let toml = format!(
            "{}{}[admin]\naddress = \"127.0.0.1:0\"\n",
            route("/users", &users.url("")),
            route("/profiles", &profiles.url(""))
        );
        let gw = start_gateway(&toml).await;
        let admin = gw.admin_addr.expect("admin listener bound");
        for _ in 0..3 {
            let r = send_raw(gw.addrs[0], &get("/users/1"))
                .await
                .expect("users");
            assert_eq!(r.status, 200);
        }
        let r = send_raw(gw.addrs[0], &get("/profiles/7"))
            .await
            .expect("profiles");
        assert_eq!(r.status, 200);
        let r = send_raw(gw.addrs[0], &get("/nowhere")).await.expect("404");
        assert_eq!(r.status, 404);
        let r = send_raw(gw.addrs[0], &get("/healthcheck"))
            .await
            .expect("health");
        assert_eq!(r.status, 200);

        let m = send_raw(admin, &get("/metrics")).await.expect("metrics");
        assert_eq!(m.status, 200);
        let text = m.body_str();
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(
            has("gangway_requests_total{route=\"/users\",status=\"200\"} 3"),
            "{text}"
        );
        assert!(
            has("gangway_requests_total{route=\"/profiles\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(
            has("gangway_requests_total{route=\"(none)\",status=\"404\"} 1"),
            "{text}"
        );
        let users_host = users.addr().to_string();
        // The keys the pool uses for hosts are not ours to define: accept any label
        // spelling that names the upstream's address, and check the values.
        let pool_value = |name: &str| -> Option<u64> {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!("gangway_pool_{name}{{pool=\"routes\""))
                        && l.contains(&users_host)
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
        };
        assert_eq!(pool_value("requests_total"), Some(3), "{text}");
        assert_eq!(pool_value("connections_opened_total"), Some(1), "{text}");
        assert_eq!(pool_value("reused_total"), Some(2), "{text}");
        assert!(pool_value("idle_connections").is_some(), "{text}");
        assert!(
            text.contains("# TYPE gangway_pool_active_connections gauge"),
            "{text}"
        );
        // The admin listener answers nothing else.
        let r = send_raw(admin, &get("/users/1")).await.expect("admin 404");
        assert_eq!(r.status, 404);
        assert_eq!(users.requests_seen(), 3);
    })
    .await;
}
