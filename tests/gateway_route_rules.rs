//! Issue #13 acceptance, per-route rules on real loopback upstreams: header rules seen
//! exactly at the upstream and the client, a refused rule named by file:line:col, fixed
//! answers with no upstream at all, the open-redirect guard, a per-route rate limit (429 +
//! `Retry-After`), body limit (413) and response timeout (504), and a per-route protocol
//! (an h2c upstream beside an HTTP/1.1 one).

use clap::Parser;
use gangway::cli::Cli;
use gangway_tests::gateway::{get, get_with, post, route, start_gateway};
use gangway_tests::raw::send_raw;
use gangway_tests::tmpdir::TestDir;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};

fn all<'a>(headers: &'a http::HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .collect()
}

#[tokio::test]
async fn header_rules_are_seen_exactly_at_the_upstream_and_the_client() {
    init_tracing();
    within("header rules", async {
        let up = Upstream::http1().run().await;
        let toml = format!(
            r#"[[route]]
prefix = "/api"
upstream = "{}"
request_headers = {{ set = {{ x-env = "prod", x-client = "{{client_ip}}", x-rid = "{{request_id}}" }}, add = {{ x-tag = "{{scheme}}://{{host}}" }}, remove = ["x-secret"] }}
response_headers = {{ set = {{ cache-control = "no-store" }}, add = {{ x-served = "gw {{scheme}}" }}, remove = ["x-method"] }}
"#,
            up.url("")
        );
        let gw = start_gateway(&toml).await;
        let r = send_raw(
            gw.addrs[0],
            &get_with(
                "/api/1",
                "x-secret: s\r\nx-tag: from-client\r\nx-env: client\r\nx-env: again\r\n",
            ),
        )
        .await
        .expect("response");
        assert_eq!(r.status, 200, "{}", r.body_str());
        let seen = up.requests();
        let h = &seen[0].headers;
        assert_eq!(all(h, "x-env"), ["prod"], "set replaces every value");
        assert_eq!(all(h, "x-client"), ["127.0.0.1"]);
        assert_eq!(all(h, "x-rid"), all(h, "x-request-id"), "{{request_id}}");
        assert_eq!(all(h, "x-rid").len(), 1);
        assert_eq!(all(h, "x-tag"), ["from-client", "http://gateway.test"]);
        assert!(all(h, "x-secret").is_empty(), "removed");
        // At the client: set, added, removed; the rest of the upstream's answer kept.
        assert_eq!(r.header_all("cache-control"), ["no-store"]);
        assert_eq!(r.header_all("x-served"), ["gw http"]);
        assert!(r.header("x-method").is_none(), "removed");
        assert_eq!(r.header("x-path"), Some("/api/1"));
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}

#[test]
fn a_refused_header_rule_is_named_by_file_line_and_column() {
    let dir = TestDir::new("route-rules");
    let path = dir.path().join("gangway.toml");
    let text = "[[listener]]\naddress = \"127.0.0.1:0\"\n\n[[route]]\nprefix = \"/a\"\nupstream = \"http://127.0.0.1:1\"\nresponse_headers = { set = { Transfer-Encoding = \"chunked\" } }\n";
    std::fs::write(&path, text).expect("write config");
    let path = path.to_string_lossy().into_owned();
    let cli = Cli::try_parse_from(["gangway", "--check-config", path.as_str()]).expect("flags");
    let err = cli.into_config().map(|_| ()).expect_err("refused");
    let text = err.to_string();
    assert!(
        text.ends_with("gangway.toml:7:30: route[0].response_headers.set: \"Transfer-Encoding\" is a hop-by-hop or framing header, which the gateway manages itself"),
        "{text}"
    );
}

/// `respond` and `redirect` routes load without `upstream` and never open a connection
/// (the only upstream, on another route, counts 0 accepts); a relative redirect never
/// sends the client to another host.
#[tokio::test]
async fn fixed_answers_need_no_upstream_and_redirects_stay_home() {
    init_tracing();
    within("fixed answers", async {
        let up = Upstream::http1().run().await;
        let toml = format!(
            r#"{}[[route]]
prefix = "/admin"
respond = {{ status = 403, body = "blocked" }}
response_headers = {{ set = {{ x-why = "policy" }} }}
[[route]]
prefix = "/old"
redirect = {{ to = "https://new.example{{path}}" }}
[[route]]
prefix = "/"
redirect = {{ to = "{{path}}?{{query}}", status = 302 }}
"#,
            route("/api", &up.url(""))
        );
        let gw = start_gateway(&toml).await;
        let addr = gw.addrs[0];
        let r = send_raw(addr, &get("/admin/users")).await.expect("403");
        assert_eq!(r.status, 403);
        assert_eq!(r.body_str(), "blocked");
        assert_eq!(r.header("x-why"), Some("policy"));
        let r = send_raw(addr, &get("/old/a?b=1")).await.expect("308");
        assert_eq!(r.status, 308);
        assert_eq!(r.header("location"), Some("https://new.example/old/a"));
        for (path, want) in [
            ("//evil.example/x", "/evil.example/x"),
            ("///evil.example?q=1", "/evil.example?q=1"),
            ("/fine//double", "/fine//double"),
        ] {
            let r = send_raw(addr, &get(path)).await.expect("302");
            assert_eq!(r.status, 302, "{path}: {}", r.body_str());
            assert_eq!(r.header("location"), Some(want), "{path}");
        }
        // A backslash never gets that far: the strict checker refuses it first.
        let r = send_raw(addr, &get("/\\evil.example")).await.expect("400");
        assert_eq!(r.status, 400);
        assert_eq!(up.connections_accepted(), 0, "no upstream connection");
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}

/// Burst 3 with a refill of one token per 1000 s: exactly 3 pass, then 429 with
/// `Retry-After`; a route without a limit is unaffected.
#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_after_the_burst() {
    init_tracing();
    within("rate limit", async {
        let up = Upstream::http1().run().await;
        let toml = format!(
            "{}rate_limit = {{ per_second = 0.001, burst = 3 }}\n\n{}",
            route("/limited", &up.url("")),
            route("/free", &up.url(""))
        );
        let gw = start_gateway(&toml).await;
        let addr = gw.addrs[0];
        let mut statuses = Vec::new();
        let mut retry_after = None;
        for _ in 0..5 {
            let r = send_raw(addr, &get("/limited/x")).await.expect("response");
            statuses.push(r.status);
            if r.status == 429 {
                retry_after = r.header("retry-after").map(str::to_owned);
            }
        }
        assert_eq!(statuses, [200, 200, 200, 429, 429]);
        let secs: u64 = retry_after
            .expect("Retry-After")
            .parse()
            .expect("whole seconds");
        assert!((1..=1000).contains(&secs), "{secs}");
        assert_eq!(
            up.requests_seen(),
            3,
            "refused requests never went upstream"
        );
        for _ in 0..5 {
            let r = send_raw(addr, &get("/free/x")).await.expect("response");
            assert_eq!(r.status, 200);
        }
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}

/// `max_body_bytes` on a route: 413 over it (before the upstream sees anything), 200 at
/// it, and another route keeps `[limits]` (unlimited). `timeouts.upstream_response` on a
/// route: 504 when its upstream is slower.
#[tokio::test]
async fn route_body_limit_and_response_timeout() {
    init_tracing();
    within("route limits", async {
        let up = Upstream::http1().run().await;
        let toml = format!(
            "{}max_body_bytes = 10\n\n{}strip_prefix = true\ntimeouts = {{ upstream_response = \"100ms\" }}\n\n{}",
            route("/small", &up.url("")),
            route("/quick", &up.url("")),
            route("/", &up.url(""))
        );
        let gw = start_gateway(&toml).await;
        let addr = gw.addrs[0];
        let r = send_raw(addr, &post("/small/x", &[b'a'; 11])).await.expect("413");
        assert_eq!(r.status, 413, "{}", r.body_str());
        assert_eq!(up.requests_seen(), 0);
        let r = send_raw(addr, &post("/small/x", &[b'a'; 10])).await.expect("200");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, [b'a'; 10]);
        let r = send_raw(addr, &post("/big", &[b'a'; 100])).await.expect("200");
        assert_eq!(r.status, 200);
        let r = send_raw(addr, &get("/quick/sleep/3000")).await.expect("504");
        assert_eq!(r.status, 504, "{}", r.body_str());
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}

/// `protocol = "http2"` on a route and on a group reaches an HTTP/2-only (h2c prior
/// knowledge) upstream; an HTTP/1.1 upstream beside it keeps HTTP/1.1.
#[tokio::test]
async fn per_route_protocol_h2c_beside_http1() {
    init_tracing();
    within("protocol", async {
        let h2 = Upstream::h2c().run().await;
        let h1 = Upstream::http1().run().await;
        let toml = format!(
            r#"[[upstream]]
name = "h2group"
servers = ["{h2}"]
protocol = "http2"
health = {{ path = "/probe", interval = "100ms" }}

{}protocol = "http2"

{}
[[route]]
prefix = "/g"
upstream = "h2group"
"#,
            route("/two", &h2.url("")),
            route("/one", &h1.url("")),
            h2 = h2.url("")
        );
        let gw = start_gateway(&toml).await;
        let addr = gw.addrs[0];
        for (path, want) in [
            ("/two/a", "HTTP/2.0"),
            ("/one/a", "HTTP/1.1"),
            ("/g/a", "HTTP/2.0"),
            ("/two/b", "HTTP/2.0"),
        ] {
            let r = send_raw(addr, &get(path)).await.expect("response");
            assert_eq!(r.status, 200, "{path}: {}", r.body_str());
            assert_eq!(r.header("x-version"), Some(want), "{path}");
        }
        assert_eq!(h1.requests_seen(), 1);
        // The group's health probes speak the group's protocol too (bounded wait).
        let probe = loop {
            let seen = h2.requests();
            if let Some(p) = seen.iter().find(|r| r.uri.path() == "/probe") {
                break p.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(probe.version, http::Version::HTTP_2);
        let routed = h2
            .requests()
            .iter()
            .filter(|r| r.uri.path() != "/probe")
            .count();
        assert_eq!(routed, 3);
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}
