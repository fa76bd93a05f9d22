//! HTTP/2: many concurrent requests multiplexed over one connection (h2c and TLS ALPN),
//! and a second connection when the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached
//! instead of streams queued invisibly inside hyper.

#[path = "pool_common.rs"]
mod common;

use std::time::Duration;

use common::{fetch_ok, join_all, settle, spawn_gets, Counts, Gate};
use gangway_pool::Client;
use gangway_tests::tls::TestPki;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http::Version;

/// Checks each response answered 200 over HTTP/2.
fn all_h2(done: &[common::Done]) {
    for d in done {
        assert_eq!(d.status, 200);
        assert_eq!(d.version, Version::HTTP_2);
        assert_eq!(d.header("x-version"), "HTTP/2.0");
    }
}

async fn streams_done(client: &Client) {
    settle(client, "all streams ended", |s| {
        s.streams == 0 && s.waiting == 0 && s.connecting == 0
    })
    .await;
}

/// 100 concurrent requests from a cold pool to an h2c upstream (default stream limit 200):
/// one connection carries all of them, all in flight at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_multiplexes_100_concurrent_requests_over_one_connection() {
    init_tracing();
    within("h2c 100", async {
        let (up, gate) = Gate::install(Upstream::h2c());
        let up = up.run().await;
        let client = Client::builder().http2_only().build().expect("client");
        let tasks = spawn_gets(&client, &up, 100, "/gate/1/m");
        gate.held(&up, 100).await;
        gate.open(1);
        all_h2(&join_all(tasks).await);
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(gate.peaks(), [100], "all 100 were in flight together");
        streams_done(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 100,
                reused: 99,
                ..Counts::default()
            }
        );
        // A second burst reuses it.
        let tasks = spawn_gets(&client, &up, 100, "/gate/2/m");
        gate.held(&up, 100).await;
        gate.open(2);
        all_h2(&join_all(tasks).await);
        assert_eq!(up.connections_accepted(), 1);
        streams_done(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 200,
                reused: 199,
                ..Counts::default()
            }
        );
        assert_eq!(client.stats().total.active, 1, "one open HTTP/2 connection");
    })
    .await;
}

/// Same over TLS: ALPN picks h2 and the 100 requests share one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn_h2_multiplexes_100_concurrent_requests_over_one_connection() {
    init_tracing();
    within("tls h2 100", async {
        let pki = TestPki::new();
        let (up, gate) = Gate::install(Upstream::tls(&pki, &[b"h2", b"http/1.1"]));
        let up = up.run().await;
        let client = Client::builder()
            .tls_config(pki.client_config(&[]))
            .build()
            .expect("client");
        let tasks = spawn_gets(&client, &up, 100, "/gate/1/t");
        gate.held(&up, 100).await;
        gate.open(1);
        all_h2(&join_all(tasks).await);
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(gate.peaks(), [100]);
        streams_done(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 100,
                reused: 99,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// The upstream allows 10 streams per connection. 25 concurrent requests from a cold
/// pool: the pool waits for the server's SETTINGS before using a new connection, then
/// opens more connections instead of letting hyper queue streams past the limit (or the
/// server refuse them), so all 25 are in flight at the upstream at once: 10 + 10 + 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_stream_limit_opens_more_connections_cold() {
    init_tracing();
    within("h2 stream limit (cold)", async {
        let (up, gate) = Gate::install(Upstream::h2c().max_concurrent_streams(10));
        let up = up.run().await;
        let client = Client::builder().http2_only().build().expect("client");
        let tasks = spawn_gets(&client, &up, 25, "/gate/1/slow");
        gate.held(&up, 25).await;
        gate.open(1);
        all_h2(&join_all(tasks).await);
        assert_eq!(up.connections_accepted(), 3);
        assert_eq!(gate.peaks(), [10, 10, 5]);
        streams_done(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 3,
                requests: 25,
                reused: 22,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// Same with a warm connection (its SETTINGS already known): 20 concurrent requests take
/// the 10 streams of the first connection and open a second one for the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_stream_limit_opens_second_connection_warm() {
    init_tracing();
    within("h2 stream limit (warm)", async {
        let (up, gate) = Gate::install(Upstream::h2c().max_concurrent_streams(10));
        let up = up.run().await;
        let client = Client::builder().http2_only().build().expect("client");
        let done = fetch_ok(&client, &up.url("/warm")).await;
        assert_eq!(done.version, Version::HTTP_2);
        let tasks = spawn_gets(&client, &up, 20, "/gate/1/slow");
        gate.held(&up, 20).await;
        gate.open(1);
        all_h2(&join_all(tasks).await);
        assert_eq!(up.connections_accepted(), 2);
        assert_eq!(gate.peaks(), [10, 10]);
        streams_done(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 21,
                reused: 19,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// With `max_connections_per_host(1)` and a 10-stream server, 30 concurrent requests
/// queue in the pool (visible as `waiting`) rather than inside hyper, and all succeed on
/// one connection, never more than 10 at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_stream_limit_with_connection_limit_queues_in_the_pool() {
    init_tracing();
    within("h2 stream limit + connection limit", async {
        let (up, gate) = Gate::install(Upstream::h2c().max_concurrent_streams(10));
        let up = up.run().await;
        let client = Client::builder()
            .http2_only()
            .max_connections_per_host(1)
            .build()
            .expect("client");
        fetch_ok(&client, &up.url("/warm")).await;
        let tasks = spawn_gets(&client, &up, 30, "/gate/1/q");
        gate.held(&up, 10).await;
        let queued = gangway_tests::wait_until(Duration::from_secs(3), || {
            let s = client.stats().total;
            s.streams == 10 && s.waiting == 20
        })
        .await;
        assert!(
            queued,
            "expected 10 streams and 20 waiting: {:?}",
            client.stats().total
        );
        assert_eq!(up.in_flight(), 10);
        gate.open(1);
        all_h2(&join_all(tasks).await);
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(gate.peaks(), [10]);
        streams_done(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 31,
                reused: 30,
                ..Counts::default()
            }
        );
    })
    .await;
}
