//! An HTTP/1 keep-alive connection idle for `[timeouts] client_park` is parked: hyper's
//! connection ends without closing the socket (its buffers freed), and the next bytes
//! build a new one.
//! Parked connections are counted in `gangway_connections_parked`, serve their next
//! request (pipelined ones too, and upgrades), close after `client_idle` and on shutdown.
//!
//! Waits are bounded; nothing asserts how long anything took.

use std::time::Duration;

use gangway::Running;
use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::raw::RawConn;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, wait_until, within};

const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: gw.test\r\n\r\n";

async fn parked(gw: &Running, n: usize) -> bool {
    let want = format!("gangway_connections_parked {n}\n");
    wait_until(Duration::from_secs(20), || {
        gw.app.render_metrics().contains(&want)
    })
    .await
}

#[tokio::test]
async fn a_parked_connection_serves_its_next_requests() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    within("park and wake", async {
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        assert_eq!(c.request(GET).await.expect("first").status, 200);
        assert!(parked(&gw, 1).await, "the idle connection was parked");
        // One more, then two pipelined in one write, on the same connection.
        assert_eq!(c.request(GET).await.expect("after the park").status, 200);
        assert!(parked(&gw, 1).await, "parked again");
        c.send(&[GET, GET].concat()).await.expect("pipelined");
        for i in 0..2 {
            let r = c.read_response().await.expect("pipelined response");
            assert_eq!(r.status, 200, "pipelined {i}");
        }
        assert_eq!(up.requests_seen(), 4);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn a_parked_connection_closes_after_client_idle() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let toml = format!(
        // Parked sooner than the default: the close comes from the parked state.
        "{}[timeouts]\nclient_idle = \"2s\"\nclient_park = \"100ms\"\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    within("parked then closed", async {
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        assert_eq!(c.request(GET).await.expect("first").status, 200);
        assert!(parked(&gw, 1).await, "parked");
        let closed = c.read_to_close().await.expect("closed");
        assert!(closed.bytes.is_empty(), "{:?}", closed.bytes);
        assert!(parked(&gw, 0).await, "uncounted");
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn shutdown_closes_parked_connections() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    let mut c = within("parked", async {
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        assert_eq!(c.request(GET).await.expect("first").status, 200);
        assert!(parked(&gw, 1).await, "parked");
        c
    })
    .await;
    // Nothing in flight: the stop closes it without waiting for the grace period.
    within("shutdown", async { assert_eq!(gw.shutdown().await, 0) }).await;
    let closed = within("closed", c.read_to_close()).await.expect("closed");
    assert!(closed.bytes.is_empty(), "{:?}", closed.bytes);
}
