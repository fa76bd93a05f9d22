//! Per-request deadlines: time to the response head and the total (body included), as
//! client defaults and per request, failing with `is_timeout()`.

#[path = "pool_common.rs"]
mod common;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::{fetch, fetch_ok, get, Gate};
use gangway_pool::{Client, RequestTimeouts};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http_body::{Body, Frame};
use http_body_util::BodyExt;

/// A response body that sends one chunk and then nothing, ever.
struct Stall(bool);

impl Body for Stall {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.0 {
            return Poll::Pending;
        }
        self.0 = true;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"x")))))
    }
}

/// The client's time-to-head default fails a request whose upstream does not answer; a
/// later request on the same client still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_head_timeout_default() {
    init_tracing();
    within("head timeout", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::builder()
            .response_head_timeout(Duration::from_millis(200))
            .build()
            .expect("client");
        let err = fetch(&client, get(&up.url("/gate/1/")))
            .await
            .expect_err("no head in time");
        assert!(err.is_timeout(), "{err}");
        assert!(err.to_string().contains("no response head within"), "{err}");
        gate.open(1);
        assert_eq!(fetch_ok(&client, &up.url("/ok")).await.status, 200);
    })
    .await;
}

/// A request extension overrides the client's default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_request_head_timeout_overrides() {
    init_tracing();
    within("per-request head timeout", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::builder()
            .response_head_timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut req = get(&up.url("/gate/1/"));
        req.extensions_mut().insert(RequestTimeouts {
            response_head: Some(Duration::from_millis(200)),
            ..RequestTimeouts::default()
        });
        let err = fetch(&client, req).await.expect_err("override applies");
        assert!(err.is_timeout(), "{err}");
        gate.open(1);
    })
    .await;
}

/// The total deadline also covers the body: a stalled body fails with a timeout, and its
/// connection is closed rather than returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_timeout_covers_the_body() {
    init_tracing();
    within("total timeout", async {
        let up = Upstream::http1()
            .handler(|_req, _ctx| async { http::Response::new(Stall(false).boxed_unsync()) })
            .run()
            .await;
        let client = Client::new();
        let mut req = get(&up.url("/stall"));
        req.extensions_mut().insert(RequestTimeouts {
            total: Some(Duration::from_millis(300)),
            ..RequestTimeouts::default()
        });
        let resp = client.request(req).await.expect("head arrives in time");
        let err = resp
            .into_body()
            .collect()
            .await
            .expect_err("body stalls past the deadline");
        assert!(err.is_timeout(), "{err}");
        assert!(err.to_string().contains("not complete within"), "{err}");
        assert!(
            gangway_tests::wait_until(Duration::from_secs(2), || up.open_connections() == 0).await
        );
        assert_eq!(client.stats().total.closed.error, 1);
    })
    .await;
}
