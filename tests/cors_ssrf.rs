//! CORS-proxy mode, the SSRF guard (issue #4): without an allowlist a loopback upstream
//! is refused however its address is written, and it never sees a connection; the
//! allowlist makes exactly the listed address reachable; the gateway's own addresses are
//! never targets; redirects are handed to the client, never followed.

#[path = "cors_common.rs"]
mod common;

use common::{assert_cors, assert_untouched, config_text, cors_allowing, free_port, Gateway, Req};
use gangway_tests::body::empty;
use gangway_tests::upstream::Upstream;
use gangway_tests::within;
use http::Response;

/// A 403 from the SSRF guard: the text names the rule; CORS headers let the page read it.
#[track_caller]
fn assert_refused(resp: &gangway_tests::raw::RawResponse, reason: &str, what: &str) {
    let body = resp.body_str();
    assert_eq!(resp.status, 403, "{what}: {body}");
    assert!(
        body.starts_with("Refusing to proxy to ") && body.contains(reason),
        "{what}: body {body:?} should name {reason:?}"
    );
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "{what}"
    );
    assert_cors(resp, "*", what);
}

/// The default policy (no allowlist) refuses a live loopback upstream in every spelling
/// glibc or a URL parser would accept, including a host name that resolves to it, and
/// the upstream accepts no connection at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_refused_in_every_spelling_and_the_upstream_sees_nothing() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start("").await;
    let p = up.addr().port();
    let hosts = [
        "127.0.0.1",
        "127.1",
        "127.0.1",
        "0x7f.1",
        "0X7F.0.0.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "0177.1",
        "127.000.000.001",
        "127.0.0.1.",
        "127.255.255.254",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "[::127.0.0.1]",
        "localhost",
        "LOCALHOST",
    ];
    within("loopback spellings", async {
        for host in hosts {
            let url = format!("http://{host}:{p}/secret");
            let resp = gw.send(&Req::get(&url)).await;
            let body = resp.body_str();
            assert_eq!(resp.status, 403, "{url}: {body}");
            let named = ["loopback", "IPv4-compatible", "6to4", "NAT64"]
                .iter()
                .any(|r| body.contains(r));
            assert!(named, "{url}: the reason is named: {body:?}");
            assert_refused(&resp, "", &url);
        }
    })
    .await;
    assert_untouched(&up, "loopback spellings");
    gw.stop().await;
}

/// Every refused address class answers 403 naming the class. Literals are refused before
/// any connection attempt, so none of these waits for a connect timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_address_classes_answer_403_naming_the_reason() {
    let gw = Gateway::start("").await;
    let cases = [
        (
            "http://169.254.169.254/latest/meta-data/",
            "link-local (cloud metadata)",
        ),
        (
            "http://0251.0376.0251.0376/latest/meta-data/",
            "link-local (cloud metadata)",
        ),
        ("http://2852039166/", "link-local (cloud metadata)"),
        (
            "http://[::ffff:169.254.169.254]/",
            "IPv4-mapped link-local (cloud metadata)",
        ),
        ("http://0/", "unspecified"),
        ("http://0.0.0.0:8080/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[::ffff:10.1.2.3]/", "IPv4-mapped private"),
        ("http://100.64.0.1/", "CGNAT"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://192.0.2.10/", "documentation"),
        ("http://198.51.100.10/", "documentation"),
        ("http://203.0.113.7/", "documentation"),
        ("http://[2001:db8::1]/", "documentation"),
        ("http://198.18.0.1/", "benchmarking"),
        ("http://[fc00::1]/", "IPv6 unique-local"),
        ("http://[fd00:ec2::254]/", "IPv6 unique-local"),
        ("http://[fe80::1]/", "IPv6 link-local"),
        (
            "http://[64:ff9b::a9fe:a9fe]/",
            "NAT64-embedded link-local (cloud metadata)",
        ),
        ("http://[2002:a00:1::]/", "6to4-embedded private"),
        ("https://10.0.0.1/", "private"),
    ];
    within("address classes", async {
        for (url, reason) in cases {
            let resp = gw.send(&Req::get(url)).await;
            assert_refused(&resp, &format!("({reason})"), url);
        }
    })
    .await;
    gw.stop().await;
}

/// With `allow_targets = ["127.0.0.1:A"]` upstream A is reachable and upstream B on the
/// same loopback address is not ("target not in allowlist"), nor is any other host, and
/// B sees nothing. Unlisted names are refused before any DNS lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlist_reaches_only_the_listed_address() {
    let a = Upstream::http1().run().await;
    let b = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(&[a.addr()], "")).await;
    within("allowlist", async {
        let resp = gw.send(&Req::get(&a.url("/ok"))).await;
        assert_eq!(resp.status, 200, "{}", resp.body_str());
        assert_eq!(resp.header("x-path"), Some("/ok"));
        assert_cors(&resp, "*", "allowlisted");

        let bp = b.addr().port();
        for url in [
            b.url("/no"),
            format!("http://127.1:{bp}/no"),
            format!("http://localhost:{bp}/no"),
            format!("http://localhost:{}/no", a.addr().port()),
            "http://8.8.8.8/".into(),
            "http://10.0.0.1/".into(),
            // `.invalid` never resolves: a 403 (not a 502) proves no lookup was needed.
            "http://unlisted.invalid/".into(),
            "https://unlisted.invalid:8443/".into(),
        ] {
            let resp = gw.send(&Req::get(&url)).await;
            assert_refused(&resp, "target not in allowlist", &url);
        }
    })
    .await;
    assert_eq!(a.requests_seen(), 1);
    assert_untouched(&b, "not allowlisted");
    gw.stop().await;
}

/// A host-name pattern never unlocks a non-public address: `allow_targets =
/// ["localhost:A"]` lets `localhost` through the allowlist, but the address it resolves
/// to is loopback, so the pool's address filter refuses it before connecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_in_the_allowlist_does_not_unlock_its_loopback_address() {
    let up = Upstream::http1().run().await;
    let p = up.addr().port();
    let gw = Gateway::start(&format!("[cors]\nallow_targets = [\"localhost:{p}\"]\n")).await;
    within("name pattern", async {
        let resp = gw.send(&Req::get(&format!("http://localhost:{p}/x"))).await;
        assert_refused(&resp, "is not allowed (loopback)", "localhost");
    })
    .await;
    assert_untouched(&up, "localhost by name");
    gw.stop().await;
}

/// The gateway's own listen addresses (the CORS listener, a second listener, the admin
/// listener) are refused even when the allowlist names them: `?url=` pointing back at the
/// gateway would let a client loop it or reach its admin endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_listen_addresses_are_refused_even_when_allowlisted() {
    let (cors_port, routes_port, admin_port) = (free_port(), free_port(), free_port());
    let text = config_text(
        &format!("127.0.0.1:{cors_port}"),
        &format!(
            "[[listener]]\naddress = \"127.0.0.1:{routes_port}\"\n\n\
             [admin]\naddress = \"127.0.0.1:{admin_port}\"\n\n\
             [cors]\nallow_targets = [\"127.0.0.1:{cors_port}\", \"127.0.0.1:{routes_port}\", \"127.0.0.1:{admin_port}\"]\n"
        ),
    );
    let gw = Gateway::start_text(&text).await;
    assert_eq!(gw.addr.port(), cors_port);
    within("own addresses", async {
        for port in [cors_port, routes_port, admin_port] {
            let url = format!("http://127.0.0.1:{port}/metrics");
            let resp = gw.send(&Req::get(&url)).await;
            assert_refused(&resp, "this gateway's own listen address", &url);
            // Another spelling of the same address is the same address.
            let url = format!("http://127.1:{port}/healthcheck");
            let resp = gw.send(&Req::get(&url)).await;
            assert_refused(&resp, "this gateway's own listen address", &url);
        }
        // Recursion through the gateway itself.
        let inner = format!("http://127.0.0.1:{cors_port}/?url=http%3A%2F%2F169.254.169.254%2F");
        let resp = gw.send(&Req::get(&inner)).await;
        assert_refused(&resp, "this gateway's own listen address", "recursion");
    })
    .await;
    gw.stop().await;
}

/// A 3xx from the target is passed to the client as it is (status and `Location`,
/// readable thanks to `Access-Control-Expose-Headers`); the gateway does not follow it,
/// so the (allowlisted) redirect target sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_passed_through_never_followed() {
    let inner = Upstream::http1().run().await;
    let location = inner.url("/internal");
    let loc = location.clone();
    let outer = Upstream::http1()
        .handler(move |req, _| {
            let loc = loc.clone();
            async move {
                let status = match req.uri().path() {
                    "/301" => 301,
                    "/307" => 307,
                    _ => 302,
                };
                Response::builder()
                    .status(status)
                    .header("location", loc)
                    .body(empty())
                    .expect("valid response")
            }
        })
        .run()
        .await;
    let gw = Gateway::start(&cors_allowing(&[outer.addr(), inner.addr()], "")).await;
    within("redirects", async {
        for (path, status) in [("/302", 302), ("/301", 301), ("/307", 307)] {
            let resp = gw.send(&Req::get(&outer.url(path))).await;
            assert_eq!(resp.status, status, "{path}");
            assert_eq!(resp.header("location"), Some(location.as_str()), "{path}");
            assert_cors(&resp, "*", path);
            assert!(
                common::exposed(&resp).iter().any(|n| n == "location"),
                "{path}: Location exposed"
            );
        }
        // POST redirected with 307 is not replayed either.
        let resp = gw
            .send(&Req::new("POST", common::proxied(&outer.url("/307"))).body(b"x"))
            .await;
        assert_eq!(resp.status, 307);
    })
    .await;
    assert_eq!(outer.requests_seen(), 4);
    assert_untouched(&inner, "redirect target");
    gw.stop().await;
}
