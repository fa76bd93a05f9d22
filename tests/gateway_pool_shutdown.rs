//! Gateway ↔ pool shutdown: after the listeners stop and the downstream connections are
//! drained, `Running::shutdown` shuts the upstream pools down too, so the upstream sees its
//! idle keep-alive connections closed at shutdown, not at process exit, and the pool
//! refuses later requests with `is_closed()`.

use std::time::Duration;

use bytes::Bytes;
use gangway_tests::gateway::{get, route, start_gateway};
use gangway_tests::raw::RawConn;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, wait_until, within};
use http::Request;
use http_body_util::Full;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_upstream_connections() {
    init_tracing();
    within("pool shutdown", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        // Three concurrent requests leave three idle keep-alive connections to the upstream.
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(RawConn::connect(gw.addrs[0]).await.expect("connect"));
        }
        let req = get("/sleep/100");
        let sends = conns
            .iter_mut()
            .map(|c| c.request(&req))
            .collect::<Vec<_>>();
        for r in futures_util::future::join_all(sends).await {
            assert_eq!(r.expect("response").status, 200);
        }
        drop(conns);
        assert!(
            up.open_connections() >= 1,
            "the pool keeps upstream connections alive between requests"
        );
        // Kept past `shutdown`: without the pool shutdown its idle connections would stay
        // open as long as this handle lives.
        let app = std::sync::Arc::clone(&gw.app);
        assert_eq!(gw.shutdown().await, 0, "clean downstream shutdown");
        let closed = wait_until(Duration::from_secs(5), || up.open_connections() == 0).await;
        assert!(
            closed,
            "{} upstream connections still open after shutdown",
            up.open_connections()
        );
        let req = Request::get(up.url("/after"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let err = app
            .client
            .request(req)
            .await
            .expect_err("pool is shut down");
        assert!(err.is_closed(), "{err}");
    })
    .await;
}
