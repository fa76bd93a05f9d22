//! CORS-proxy mode, the limits (issue #4): the per-client token bucket (429 with
//! `Retry-After`, the target not reached), the response size cap, and the total time cap
//! on the whole exchange, body included.

#[path = "cors_common.rs"]
mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{assert_cors, cors_allowing, free_port, Gateway, Req};
use gangway_tests::body::{full, is_pattern, Body, BoxError};
use gangway_tests::upstream::Upstream;
use gangway_tests::within;
use http::Response;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

/// `rate_limit = { per_second = 0.5, burst = 2 }`: two requests pass, the third is a 429
/// with `Retry-After` (whole seconds, rounded up) and CORS headers, and never reaches the
/// target. Preflights count too (they cost the gateway the same).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_bucket_answers_429_with_retry_after() {
    let up = Upstream::http1().run().await;
    let gw = Gateway::start(&cors_allowing(
        &[up.addr()],
        "rate_limit = { per_second = 0.5, burst = 2 }",
    ))
    .await;
    within("rate limit", async {
        for i in 0..2 {
            let resp = gw.send(&Req::get(&up.url(&format!("/{i}")))).await;
            assert_eq!(resp.status, 200, "request {i}");
        }
        for req in [
            Req::get(&up.url("/2")),
            Req::new("OPTIONS", common::proxied(&up.url("/3")))
                .header("Access-Control-Request-Method", "PUT"),
        ] {
            let resp = gw.send(&req).await;
            assert_eq!(resp.status, 429, "{}", resp.body_str());
            assert_eq!(resp.body_str().trim_end(), "Too many requests: slow down.");
            let secs: u64 = resp
                .header("retry-after")
                .and_then(|v| v.parse().ok())
                .expect("Retry-After in whole seconds");
            assert!((1..=2).contains(&secs), "Retry-After {secs}");
            assert_cors(&resp, "*", "429");
        }
    })
    .await;
    assert_eq!(up.requests_seen(), 2, "the 429s reached nothing");
    gw.stop().await;
}

/// `max_response_bytes = "1KiB"`: a response announcing more (`Content-Length`) is a 502
/// before any byte is passed on; one without a length is cut off at the cap (the client
/// sees a truncated body, never more than the cap); one at the cap passes whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_size_is_capped() {
    // `/frames/N`: N frames of 512 pattern bytes, no length (chunked on the wire).
    let up = Upstream::http1()
        .handler(|req, ctx| async move {
            let Some(n) = req.uri().path().strip_prefix("/frames/") else {
                return gangway_tests::upstream::echo(req, ctx).await;
            };
            let n: u64 = n.parse().expect("frame count");
            let frames = futures_util::stream::iter((0..n).map(|i| {
                Ok::<_, BoxError>(Frame::data(gangway_tests::body::pattern_chunk(
                    i * 512,
                    512,
                )))
            }));
            let body: Body = StreamBody::new(frames).boxed_unsync();
            Response::new(body)
        })
        .run()
        .await;
    let gw = Gateway::start(&cors_allowing(
        &[up.addr()],
        "max_response_bytes = \"1KiB\"",
    ))
    .await;
    within("size cap", async {
        let resp = gw.send(&Req::get(&up.url("/bytes/1024"))).await;
        assert_eq!(resp.status, 200);
        assert!(resp.closed_cleanly);
        assert_eq!(resp.body.len(), 1024);
        assert!(is_pattern(&resp.body, 0));

        let resp = gw.send(&Req::get(&up.url("/bytes/4096"))).await;
        assert_eq!(resp.status, 502, "{}", resp.body_str());
        assert!(
            resp.body_str().contains("larger than 1024 bytes"),
            "{}",
            resp.body_str()
        );
        assert_cors(&resp, "*", "too large");

        let resp = gw.send(&Req::get(&up.url("/frames/2"))).await;
        assert_eq!(resp.status, 200);
        assert!(resp.closed_cleanly);
        assert_eq!(resp.body.len(), 1024);

        // Without a length the cap is found while streaming: the head is already sent, so
        // the body is cut (never more than the cap) and does not end cleanly.
        let resp = gw.send(&Req::get(&up.url("/frames/400"))).await;
        assert_eq!(resp.status, 200);
        assert!(!resp.closed_cleanly, "a cut body must not look complete");
        assert!(resp.body.len() <= 1024, "passed {} bytes", resp.body.len());
        assert!(is_pattern(&resp.body, 0));
    })
    .await;
    gw.stop().await;
}

/// `total_timeout = "1s"` bounds the whole exchange: a target slow to answer gets a 504
/// (with CORS headers) after about a second, and a target that sends its head at once
/// but then dribbles its body is cut off at the same deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_time_is_capped_body_included() {
    let up = Upstream::http1()
        .handler(|req, ctx| async move {
            if req.uri().path() != "/dribble" {
                return gangway_tests::upstream::echo(req, ctx).await;
            }
            // One byte every 200 ms for 10 s.
            let frames = futures_util::stream::unfold(0u32, |n| async move {
                if n == 50 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                Some((
                    Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"."))),
                    n + 1,
                ))
            });
            let body: Body = StreamBody::new(frames).boxed_unsync();
            Response::new(body)
        })
        .run()
        .await;
    let gw = Gateway::start(&cors_allowing(&[up.addr()], "total_timeout = \"1s\"")).await;
    within("total timeout", async {
        let t = Instant::now();
        let resp = gw.send(&Req::get(&up.url("/sleep/4000"))).await;
        let took = t.elapsed();
        assert_eq!(resp.status, 504, "{}", resp.body_str());
        assert!(
            resp.body_str().contains("did not answer within"),
            "{}",
            resp.body_str()
        );
        assert_cors(&resp, "*", "504");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "{took:?}"
        );

        let t = Instant::now();
        let resp = gw.send(&Req::get(&up.url("/dribble"))).await;
        let took = t.elapsed();
        assert_eq!(resp.status, 200);
        assert!(!resp.closed_cleanly, "the body was cut at the deadline");
        assert!(resp.body.len() < 50, "got {} bytes", resp.body.len());
        assert!(took < Duration::from_secs(3), "{took:?}");
    })
    .await;
    gw.stop().await;
}

/// An allowlisted target that refuses connections is a 502 naming the problem, with CORS
/// headers; a small response is unaffected by the caps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_is_502() {
    let up = Upstream::http1()
        .handler(|_, _| async { Response::new(full("small")) })
        .run()
        .await;
    let dead: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let gw = Gateway::start(&cors_allowing(&[up.addr(), dead], "")).await;
    within("502", async {
        let resp = gw.send(&Req::get(&format!("http://{dead}/"))).await;
        assert_eq!(resp.status, 502, "{}", resp.body_str());
        assert!(
            resp.body_str().contains("unreachable"),
            "{}",
            resp.body_str()
        );
        assert_cors(&resp, "*", "502");
        let resp = gw.send(&Req::get(&up.url("/"))).await;
        assert_eq!((resp.status, resp.body_str().as_str()), (200, "small"));
    })
    .await;
    gw.stop().await;
}
