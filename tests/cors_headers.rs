//! CORS-proxy mode, the CORS side (issue #4): preflights answered by the gateway and
//! never forwarded; CORS headers on every response, the gateway's own errors included;
//! credentials off by default (no `Cookie`/`Authorization` forwarded, no `Set-Cookie`
//! back) and configurable; `allow_origins` (exact and `*.` wildcard) and
//! `require_header`.

#[path = "cors_common.rs"]
mod common;

use common::{
    assert_cors, assert_untouched, cors_allowing, exposed, free_port, proxied, varies_on, Gateway,
    Req, ORIGIN,
};
use gangway_tests::body::full;
use gangway_tests::raw::RawResponse;
use gangway_tests::upstream::{echo, Upstream};
use gangway_tests::within;
use http::Response;

/// An upstream that answers like a typical API: a body, its own (wrong) CORS headers,
/// `Vary`, a cookie, an `ETag`.
fn api() -> Upstream {
    Upstream::http1().handler(|req, ctx| async move {
        if req.uri().path() != "/items/1" {
            return echo(req, ctx).await;
        }
        Response::builder()
            .header("content-type", "application/json")
            .header("etag", "\"v1\"")
            .header("x-request-id", "42")
            .header("vary", "Accept-Encoding")
            .header("set-cookie", "session=upstream; Path=/")
            .header("access-control-allow-origin", "http://upstream-choice.test")
            .header("access-control-allow-credentials", "true")
            .header("access-control-allow-methods", "GET")
            .body(full("{\"ok\":true}"))
            .expect("valid response")
    })
}

fn preflight(url: &str, origin: &str, method: &str, headers: &str) -> Req {
    Req::new("OPTIONS", common::proxied(url))
        .without("origin")
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
}

fn allow_methods(resp: &RawResponse) -> Vec<String> {
    resp.header("access-control-allow-methods")
        .map(|v| v.split(',').map(|m| m.trim().to_owned()).collect())
        .unwrap_or_default()
}

/// A preflight is answered 204 by the gateway with Allow-Origin (`*` for any origin, the
/// origin echoed when `allow_origins` lists it), -Methods, -Headers (the requested ones),
/// -Max-Age and `Vary: Origin`; the target never sees it. A preflight from an origin that
/// is not allowed gets a 403 without Allow-Origin, and is not forwarded either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_is_answered_by_the_gateway_and_never_forwarded() {
    let up = api().run().await;
    let url = up.url("/items/1");
    let open = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    let listed = Gateway::start(&cors_allowing(
        &[up.addr()],
        "allow_origins = [\"http://page.test\", \"https://*.example.com\"]\nmax_age = \"2m\"",
    ))
    .await;
    within("preflights", async {
        let resp = open
            .send(&preflight(&url, ORIGIN, "PUT", "X-Custom, Content-Type"))
            .await;
        assert_eq!(resp.status, 204, "{}", resp.body_str());
        assert_cors(&resp, "*", "open preflight");
        let methods = allow_methods(&resp);
        for m in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] {
            assert!(methods.iter().any(|x| x == m), "{m} offered: {methods:?}");
        }
        assert_eq!(
            resp.header("access-control-allow-headers"),
            Some("x-custom, content-type")
        );
        assert_eq!(resp.header("access-control-max-age"), Some("600"));
        assert!(resp.body.is_empty());
        assert_eq!(resp.header("access-control-allow-credentials"), None);

        for origin in [
            "http://page.test",
            "https://a.example.com",
            "https://b.c.example.com",
        ] {
            let resp = listed
                .send(&preflight(&url, origin, "DELETE", "x-api-key"))
                .await;
            assert_eq!(resp.status, 204, "{origin}");
            assert_cors(&resp, origin, origin);
            assert_eq!(
                resp.header("access-control-allow-headers"),
                Some("x-api-key")
            );
            assert_eq!(resp.header("access-control-max-age"), Some("120"));
        }
        for origin in [
            "http://evil.test",
            "https://example.com",
            "http://a.example.com",
            "null",
        ] {
            let resp = listed
                .send(&preflight(&url, origin, "PUT", "x-custom"))
                .await;
            assert_eq!(resp.status, 403, "{origin}: {}", resp.body_str());
            assert_eq!(resp.header("access-control-allow-origin"), None, "{origin}");
            assert_eq!(
                resp.header("access-control-allow-methods"),
                None,
                "{origin}"
            );
            assert!(varies_on(&resp, "origin"), "{origin}");
            assert!(
                resp.body_str().contains("is not allowed to use this proxy"),
                "{origin}: {}",
                resp.body_str()
            );
        }
        // A preflight for a target the SSRF guard would refuse is still answered (the
        // actual request then gets a readable 403); it is never forwarded anywhere.
        let resp = open
            .send(&preflight(
                "http://169.254.169.254/",
                ORIGIN,
                "PUT",
                "x-custom",
            ))
            .await;
        assert_eq!(resp.status, 204);
    })
    .await;
    assert_untouched(&up, "preflights");
    open.stop().await;
    listed.stop().await;
}

/// Upstream answers come back with the gateway's CORS headers, not the
/// target's: Allow-Origin `*`, the target's Allow-Credentials/-Methods removed,
/// Expose-Headers listing the response's own header names, `Vary` keeping the target's
/// value and adding Origin; `Set-Cookie` dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_responses_get_the_gateways_cors_headers() {
    let up = api().run().await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    within("upstream responses", async {
        let resp = gw.send(&Req::get(&up.url("/items/1"))).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body_str(), "{\"ok\":true}");
        assert_cors(&resp, "*", "api");
        assert_eq!(resp.header_all("access-control-allow-origin").len(), 1);
        assert_eq!(resp.header("access-control-allow-credentials"), None);
        assert_eq!(resp.header("access-control-allow-methods"), None);
        assert_eq!(
            resp.header("set-cookie"),
            None,
            "Set-Cookie dropped by default"
        );
        assert!(varies_on(&resp, "accept-encoding"), "{:?}", resp.headers);
        let names = exposed(&resp);
        for name in ["etag", "x-request-id", "x-conn-id", "vary"] {
            assert!(names.iter().any(|n| n == name), "{name} exposed: {names:?}");
        }
        for name in ["set-cookie", "content-type", "access-control-allow-origin"] {
            assert!(
                !names.iter().any(|n| n == name),
                "{name} not listed: {names:?}"
            );
        }
    })
    .await;
    gw.stop().await;
}

/// Every answer in CORS mode carries the CORS headers, so page code can read the status
/// and text: the target's 404 and 500, and the gateway's own 400, 403 (origin, SSRF),
/// 405, 429, 502 and 504.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_cors_headers() {
    let up = Upstream::http1().run().await;
    let dead = free_port(); // nothing listens there
    let dead_addr: std::net::SocketAddr = format!("127.0.0.1:{dead}").parse().expect("addr");
    let gw = Gateway::start(&cors_allowing(
        &[up.addr(), dead_addr],
        "total_timeout = \"1s\"",
    ))
    .await;
    let limited = Gateway::start(&cors_allowing(
        &[up.addr()],
        "rate_limit = { per_second = 0.01, burst = 1 }",
    ))
    .await;
    within("every status", async {
        let cases: Vec<(Req, u16)> = vec![
            (Req::get(&up.url("/status/404")), 404),
            (Req::get(&up.url("/status/500")), 500),
            (Req::get(&up.url("/status/204")), 204),
            (Req::new("GET", "/"), 400),
            (Req::get("ftp://example.com/"), 400),
            (Req::get("http://169.254.169.254/latest/meta-data/"), 403),
            (
                Req::get(&format!("http://127.0.0.2:{}/", up.addr().port())),
                403,
            ),
            (Req::new("TRACE", proxied(&up.url("/"))), 405),
            (Req::get(&format!("http://127.0.0.1:{dead}/")), 502),
            (Req::get(&up.url("/sleep/3000")), 504),
        ];
        for (req, status) in &cases {
            let what = format!("{} {}", req.method, req.target);
            let resp = gw.send(req).await;
            assert_eq!(resp.status, *status, "{what}: {}", resp.body_str());
            assert_cors(&resp, "*", &what);
            if *status >= 400 && *status != 404 && *status != 500 {
                // The gateway's own answers: a text body the page can show.
                assert_eq!(
                    resp.header("content-type"),
                    Some("text/plain; charset=utf-8"),
                    "{what}"
                );
                assert!(!resp.body.is_empty(), "{what}");
            }
        }
        let ok = limited.send(&Req::get(&up.url("/a"))).await;
        assert_eq!(ok.status, 200);
        let resp = limited.send(&Req::get(&up.url("/b"))).await;
        assert_eq!(resp.status, 429, "{}", resp.body_str());
        assert_cors(&resp, "*", "429");
        assert!(resp.header("retry-after").is_some());
        assert!(
            exposed(&resp).iter().any(|n| n == "retry-after"),
            "Retry-After must be readable by page code: {:?}",
            resp.headers
        );
    })
    .await;
    gw.stop().await;
    limited.stop().await;
}

/// By default the client's `Cookie` and `Authorization` stay at the gateway, the
/// target's `Set-Cookie` stays at the gateway, and there is no
/// `Access-Control-Allow-Credentials`. `Origin` and `X-Requested-With` are forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_off_by_default() {
    let up = api().run().await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    within("defaults", async {
        let req = Req::get(&up.url("/items/1"))
            .header("Cookie", "gateway-site=secret")
            .header("Authorization", "Bearer gateway-token")
            .header("X-Requested-With", "XMLHttpRequest");
        let resp = gw.send(&req).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("set-cookie"), None);
        assert_eq!(resp.header("access-control-allow-credentials"), None);
        assert_cors(&resp, "*", "defaults");
    })
    .await;
    let seen = up.requests();
    let h = &seen.first().expect("one request").headers;
    assert!(h.get("cookie").is_none(), "Cookie not forwarded: {h:?}");
    assert!(
        h.get("authorization").is_none(),
        "Authorization not forwarded: {h:?}"
    );
    assert_eq!(h.get("origin").and_then(|v| v.to_str().ok()), Some(ORIGIN));
    assert!(h.get("x-requested-with").is_some());
    gw.stop().await;
}

/// `forward_cookies`, `forward_authorization` and `pass_set_cookie` turn each one on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_credentials_is_configurable() {
    let up = api().run().await;
    let gw = Gateway::start(&cors_allowing(
        &[up.addr()],
        "forward_cookies = true\nforward_authorization = true\npass_set_cookie = true",
    ))
    .await;
    within("configured", async {
        let req = Req::get(&up.url("/items/1"))
            .header("Cookie", "a=1")
            .header("Authorization", "Bearer t");
        let resp = gw.send(&req).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("set-cookie"), Some("session=upstream; Path=/"));
    })
    .await;
    let seen = up.requests();
    let h = &seen.first().expect("one request").headers;
    assert_eq!(h.get("cookie").and_then(|v| v.to_str().ok()), Some("a=1"));
    assert_eq!(
        h.get("authorization").and_then(|v| v.to_str().ok()),
        Some("Bearer t")
    );
    gw.stop().await;
}

/// With `allow_credentials = true` (which needs `allow_origins`) the allowed origin is
/// echoed, never `*`, with `Access-Control-Allow-Credentials: true`, on preflights and
/// on responses; other origins are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_on_echo_the_origin() {
    let up = api().run().await;
    let gw = Gateway::start(&cors_allowing(
        &[up.addr()],
        "allow_origins = [\"http://page.test\"]\nallow_credentials = true",
    ))
    .await;
    let url = up.url("/items/1");
    within("credentials", async {
        let pre = gw.send(&preflight(&url, ORIGIN, "PUT", "x-custom")).await;
        assert_eq!(pre.status, 204);
        assert_cors(&pre, ORIGIN, "preflight");
        assert_eq!(pre.header("access-control-allow-credentials"), Some("true"));

        let resp = gw.send(&Req::get(&url)).await;
        assert_eq!(resp.status, 200);
        assert_cors(&resp, ORIGIN, "response");
        assert_eq!(
            resp.header("access-control-allow-credentials"),
            Some("true")
        );

        let resp = gw.send(&Req::get("http://10.0.0.1/")).await;
        assert_eq!(resp.status, 403);
        assert_cors(&resp, ORIGIN, "403");
        assert_eq!(
            resp.header("access-control-allow-credentials"),
            Some("true")
        );

        let evil = Req::get(&url)
            .without("origin")
            .header("Origin", "http://evil.test");
        let resp = gw.send(&evil).await;
        assert_eq!(resp.status, 403);
        assert_eq!(resp.header("access-control-allow-origin"), None);
        assert_eq!(resp.header("access-control-allow-credentials"), None);
    })
    .await;
    assert_eq!(up.requests_seen(), 1);
    gw.stop().await;
}

/// `allow_origins` with an exact origin and a `*.` wildcard: listed origins get their
/// origin echoed; any other origin gets a 403 naming it, and the target sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_origins_exact_and_wildcard() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(
        &[up.addr()],
        "allow_origins = [\"http://page.test\", \"https://*.example.com\"]",
    ))
    .await;
    let url = up.url("/x");
    within("origins", async {
        for origin in [
            "http://page.test",
            "https://app.example.com",
            "https://a.b.example.com",
        ] {
            let req = Req::get(&url).without("origin").header("Origin", origin);
            let resp = gw.send(&req).await;
            assert_eq!(resp.status, 200, "{origin}");
            assert_cors(&resp, origin, origin);
        }
        let before = up.requests_seen();
        for origin in [
            "http://evil.test",
            "https://page.test",
            "http://page.test:8080",
            "https://example.com",
            "http://app.example.com",
            "https://app.example.com.evil.test",
            "null",
        ] {
            let req = Req::get(&url).without("origin").header("Origin", origin);
            let resp = gw.send(&req).await;
            assert_eq!(resp.status, 403, "{origin}: {}", resp.body_str());
            assert_eq!(
                resp.body_str().trim_end(),
                format!("The origin \"{origin}\" is not allowed to use this proxy."),
            );
            assert_eq!(resp.header("access-control-allow-origin"), None, "{origin}");
            assert!(varies_on(&resp, "origin"), "{origin}");
        }
        assert_eq!(up.requests_seen(), before, "refused origins reach nothing");
    })
    .await;
    gw.stop().await;
}

/// `require_header` (default on): neither `Origin` nor `X-Requested-With` is a 403 with
/// cors-anywhere's text; either one is enough. Off: a bare request is proxied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_header() {
    let up = Upstream::http1().run().await;
    let on = Gateway::start(&cors_allowing(&[up.addr()], "")).await;
    let off = Gateway::start(&cors_allowing(&[up.addr()], "require_header = false")).await;
    let url = up.url("/x");
    within("require_header", async {
        let bare = Req::get(&url).without("origin");
        let resp = on.send(&bare).await;
        assert_eq!(resp.status, 403);
        assert_eq!(
            resp.body_str().trim_end(),
            "Missing required request header. Must specify one of: origin,x-requested-with"
        );
        assert_cors(&resp, "*", "missing header");
        assert_eq!(up.requests_seen(), 0);

        let xrw = bare.clone().header("X-Requested-With", "XMLHttpRequest");
        assert_eq!(on.send(&xrw).await.status, 200);
        assert_eq!(on.send(&Req::get(&url)).await.status, 200);
        assert_eq!(off.send(&bare).await.status, 200);
    })
    .await;
    assert_eq!(up.requests_seen(), 3);
    on.stop().await;
    off.stop().await;
}
