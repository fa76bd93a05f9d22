//! Issue #3 acceptance, failures: nothing listening is a 502, a stalled upstream a 504 (both
//! short text bodies from the gateway), the upstream's own error statuses pass through
//! untouched, and an upstream that dies mid-body aborts the client's response instead of
//! ending it cleanly.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gangway_tests::body::{full, is_pattern};
use gangway_tests::fault::Fault;
use gangway_tests::gateway::{closed_addr, get, route, start_gateway};
use gangway_tests::raw::{self, send_raw};
use gangway_tests::upstream::{echo, Upstream};
use gangway_tests::wire::End;
use gangway_tests::{init_tracing, within};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};

fn assert_gateway_text(r: &raw::RawResponse, what: &str) {
    assert!(r.closed_cleanly, "{what}: body cut");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{what}: {:?}",
        r.headers
    );
    assert!(
        !r.body.is_empty() && r.body.len() < 200,
        "{what}: {:?}",
        r.body_str()
    );
    assert!(
        r.header("x-conn-id").is_none(),
        "{what}: must be the gateway's own answer"
    );
}

#[tokio::test]
async fn nothing_listening_is_502() {
    init_tracing();
    within("502", async {
        let dead = closed_addr();
        let gw = start_gateway(&route("/users", &format!("http://{dead}"))).await;
        let r = send_raw(gw.addrs[0], &get("/users/1"))
            .await
            .expect("request");
        assert_eq!(r.status, 502, "{}", r.body_str());
        assert_gateway_text(&r, "502");
        // The connection stays usable after a 502 (keep-alive).
        let mut c = raw::RawConn::connect(gw.addrs[0]).await.expect("connect");
        for _ in 0..2 {
            let r = c.request(&get("/users/2")).await.expect("request");
            assert_eq!(r.status, 502);
        }
        assert_eq!(gw.shutdown().await, 0);
    })
    .await;
}

#[tokio::test]
async fn stalled_upstream_is_504_after_upstream_response_timeout() {
    init_tracing();
    within("504", async {
        let stall = Fault::Stall.run().await;
        let toml = format!(
            "{}[timeouts]\nupstream_response = \"300ms\"\n",
            route("/users", &stall.url(""))
        );
        let gw = start_gateway(&toml).await;
        let started = Instant::now();
        let r = send_raw(gw.addrs[0], &get("/users/1"))
            .await
            .expect("request");
        let waited = started.elapsed();
        assert_eq!(r.status, 504, "{}", r.body_str());
        assert_gateway_text(&r, "504");
        // Not a performance bound: 504 must come from the 300 ms timer, not from anything
        // shorter (and `within` bounds it above).
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert_eq!(stall.connections_accepted(), 1);
        assert_eq!(stall.requests_seen(), 1);
        // The stalled connection is closed, not returned to the pool.
        let closed =
            gangway_tests::wait_until(Duration::from_secs(2), || stall.open_connections() == 0)
                .await;
        assert!(
            closed,
            "the gateway kept the stalled upstream connection open"
        );
    })
    .await;
}

#[tokio::test]
async fn route_response_timeout_overrides_the_global_one() {
    init_tracing();
    within("504 per route", async {
        let up = Upstream::http1().run().await;
        let toml = format!(
            "[[route]]\nprefix = \"/\"\nupstream = \"{}\"\nresponse_timeout = \"1s\"\n\n\
             [timeouts]\nupstream_response = \"30s\"\n",
            up.url("")
        );
        let gw = start_gateway(&toml).await;
        let r = send_raw(gw.addrs[0], &get("/sleep/3500"))
            .await
            .expect("request");
        assert_eq!(r.status, 504, "{}", r.body_str());
        let r = send_raw(gw.addrs[0], &get("/sleep/10"))
            .await
            .expect("request");
        assert_eq!(r.status, 200);
    })
    .await;
}

#[tokio::test]
async fn upstream_statuses_pass_through_untouched() {
    init_tracing();
    within("statuses", async {
        let up = Upstream::http1()
            .handler(|req, ctx| async move {
                if req.uri().path() == "/teapot" {
                    return Response::builder()
                        .status(418)
                        .header("content-type", "application/x-teapot")
                        .header("x-custom", "short and stout")
                        .body(full("I'm a teapot\n"))
                        .expect("response");
                }
                echo(req, ctx).await
            })
            .run()
            .await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        for code in [503u16, 418, 500, 502, 504, 404, 400, 429, 204, 301] {
            let r = send_raw(gw.addrs[0], &get(&format!("/status/{code}")))
                .await
                .expect("request");
            assert_eq!(r.status, code);
            assert!(r.closed_cleanly, "{code}");
            assert!(
                r.body.is_empty(),
                "{code}: the gateway added a body: {:?}",
                r.body_str()
            );
            assert!(
                r.header("content-type").is_none(),
                "{code}: {:?}",
                r.headers
            );
            assert!(
                r.header("x-conn-id").is_some(),
                "{code}: not the upstream's response"
            );
        }
        let r = send_raw(gw.addrs[0], &get("/teapot"))
            .await
            .expect("teapot");
        assert_eq!(r.status, 418);
        assert_eq!(r.body_str(), "I'm a teapot\n");
        assert_eq!(r.header("content-type"), Some("application/x-teapot"));
        assert_eq!(r.header("x-custom"), Some("short and stout"));
    })
    .await;
}

#[tokio::test]
async fn garbage_from_upstream_is_502() {
    init_tracing();
    within("garbage", async {
        let bad = Fault::Garbage.run().await;
        let gw = start_gateway(&route("/", &bad.url(""))).await;
        let r = send_raw(gw.addrs[0], &get("/x")).await.expect("request");
        assert_eq!(r.status, 502, "{}", r.body_str());
        assert_gateway_text(&r, "garbage");
    })
    .await;
}

#[tokio::test]
async fn upstream_reset_mid_body_aborts_the_client_response() {
    init_tracing();
    within("reset mid-body", async {
        let bad = Fault::ResetMidBody.run().await;
        let gw = start_gateway(&route("/", &bad.url(""))).await;
        let r = send_raw(gw.addrs[0], &get("/big")).await.expect("request");
        assert_eq!(r.status, 200, "the head was already on its way");
        assert!(
            !r.closed_cleanly,
            "a cut body must not look complete: {:?}",
            r.end
        );
        assert!(r.body.len() < 1_000_000);
        assert!(
            is_pattern(&r.body, 0),
            "the bytes that did arrive are the upstream's"
        );
        // Never retried: response bytes had arrived.
        assert_eq!(bad.requests_seen(), 1);

        // The same through a hyper client: the body errors, it never ends cleanly.
        let mut c = raw::h1_client(gw.addrs[0]).await.expect("client");
        let req = Request::get("/big")
            .header("host", "gateway.test")
            .body(Empty::<Bytes>::new())
            .expect("request");
        let resp = c.send_request(req).await.expect("head");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.into_body().collect().await.is_err(), "body must fail");
    })
    .await;
}

#[tokio::test]
async fn upstream_truncated_body_aborts_the_client_response() {
    init_tracing();
    within("truncated body", async {
        let bad = Fault::TruncateBody.run().await;
        let gw = start_gateway(&route("/", &bad.url(""))).await;
        let r = send_raw(gw.addrs[0], &get("/short"))
            .await
            .expect("request");
        assert_eq!(r.status, 200);
        assert!(!r.closed_cleanly, "a truncated body must not look complete");
        assert_ne!(r.end, End::Complete);
        assert!(r.body.len() <= 500);
        // The gateway forwarded the upstream's length (or chunked) and did not pretend the
        // 500 bytes were the whole body.
        if let Some(len) = r.header("content-length") {
            assert_eq!(len, "1000");
        } else {
            assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        }
        assert_eq!(bad.requests_seen(), 1);
    })
    .await;
}
