//! HTTP/2: many concurrent requests multiplexed over one connection (h2c and TLS ALPN),
//! and a second connection when the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached
//! instead of streams queued invisibly inside hyper.

#[path = "pool_common.rs"]
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{fetch_ok, settle, Counts};
use gangway_pool::Client;
use gangway_tests::tls::TestPki;
use gangway_tests::upstream::{echo, Listening, Upstream};
use gangway_tests::{init_tracing, within};
use http::Version;

/// Per upstream connection: (in flight now, peak in flight).
type PerConn = Arc<Mutex<HashMap<usize, (usize, usize)>>>;

/// An upstream whose handler records the peak number of requests in flight on each
/// connection (a request counts from its head until its handler returns; the handler
/// sleeps `sleep_ms` first).
fn tracking(up: Upstream, sleep_ms: u64) -> (Upstream, PerConn) {
    let per_conn: PerConn = Arc::default();
    let seen = per_conn.clone();
    let up = up.handler(move |req, ctx| {
        let seen = seen.clone();
        async move {
            {
                let mut map = seen.lock().expect("lock");
                let e = map.entry(ctx.conn_id).or_default();
                e.0 += 1;
                e.1 = e.1.max(e.0);
            }
            tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
            let resp = echo(req, ctx).await;
            seen.lock().expect("lock").entry(ctx.conn_id).or_default().0 -= 1;
            resp
        }
    });
    (up, per_conn)
}

fn peaks(per_conn: &PerConn) -> Vec<usize> {
    let map = per_conn.lock().expect("lock");
    let mut ids: Vec<_> = map.keys().copied().collect();
    ids.sort_unstable();
    ids.iter().map(|id| map[id].1).collect()
}

/// Runs `n` concurrent GETs of `path` and checks each answered 200 over HTTP/2.
async fn burst(client: &Client, up: &Listening, n: usize, path: &str) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let client = client.clone();
            let url = up.url(path);
            tokio::spawn(async move { fetch_ok(&client, &url).await })
        })
        .collect();
    for t in tasks {
        let done = t.await.expect("task");
        assert_eq!(done.status, 200);
        assert_eq!(done.version, Version::HTTP_2);
        assert_eq!(done.header("x-version"), "HTTP/2.0");
    }
}

async fn streams_done(client: &Client) {
    settle(client, "all streams ended", |s| s.streams == 0 && s.waiting == 0 && s.connecting == 0)
        .await;
}

/// 100 concurrent requests from a cold pool to an h2c upstream (default stream limit 200):
/// one connection carries all of them, all in flight at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_multiplexes_100_concurrent_requests_over_one_connection() {
    init_tracing();
    within("h2c 100", async {
        let (up, per_conn) = tracking(Upstream::h2c(), 200);
        let up = up.run().await;
        let client = Client::builder().http2_only().build().expect("client");
        burst(&client, &up, 100, "/m").await;
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(peaks(&per_conn), [100], "all 100 were in flight together");
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
        burst(&client, &up, 100, "/m2").await;
        assert_eq!(up.connections_accepted(), 1);
        streams_done(&client).await;
        assert_eq!(Counts::total(&client).reused, 199);
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
        let (up, per_conn) = tracking(Upstream::tls(&pki, &[b"h2", b"http/1.1"]), 200);
        let up = up.run().await;
        let client = Client::builder()
            .tls_config(pki.client_config(&[]))
            .build()
            .expect("client");
        burst(&client, &up, 100, "/t").await;
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(peaks(&per_conn), [100]);
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

/// The upstream allows 10 streams per connection. 25 concurrent slow requests from a
/// cold pool: the pool opens more connections instead of letting hyper queue streams
/// past the limit, so all 25 are in flight at the upstream at once, and no connection
/// ever carries more than 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_stream_limit_opens_more_connections_cold() {
    init_tracing();
    within("h2 stream limit (cold)", async {
        let (up, per_conn) = tracking(Upstream::h2c().max_concurrent_streams(10), 400);
        let up = up.run().await;
        let client = Client::builder().http2_only().build().expect("client");
        burst(&client, &up, 25, "/slow").await;
        let peaks = peaks(&per_conn);
        assert_eq!(up.connections_accepted(), 3, "peaks per connection: {peaks:?}");
        assert!(peaks.iter().all(|p| *p <= 10), "{peaks:?}");
        assert_eq!(peaks.iter().sum::<usize>(), 25, "{peaks:?}");
        assert_eq!(up.max_in_flight(), 25, "some requests were queued invisibly");
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

/// Same with a warm connection (its SETTINGS already known): 20 concurrent slow requests
/// take the 10 streams of the first connection and open a second one for the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_stream_limit_opens_second_connection_warm() {
    init_tracing();
    within("h2 stream limit (warm)", async {
        let (up, per_conn) = tracking(Upstream::h2c().max_concurrent_streams(10), 400);
        let up = up.run().await;
        let client = Client::builder().http2_only().build().expect("client");
        // Warm up: one request, so the server's SETTINGS are known.
        let done = fetch_ok(&client, &up.url("/warm")).await;
        assert_eq!(done.version, Version::HTTP_2);
        burst(&client, &up, 20, "/slow").await;
        let peaks = peaks(&per_conn);
        assert_eq!(up.connections_accepted(), 2, "peaks per connection: {peaks:?}");
        assert_eq!(peaks, [10, 10]);
        assert_eq!(up.max_in_flight(), 20, "some requests were queued invisibly");
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
        let (up, per_conn) = tracking(Upstream::h2c().max_concurrent_streams(10), 100);
        let up = up.run().await;
        let client = Client::builder()
            .http2_only()
            .max_connections_per_host(1)
            .build()
            .expect("client");
        fetch_ok(&client, &up.url("/warm")).await;
        let tasks: Vec<_> = (0..30)
            .map(|_| {
                let client = client.clone();
                let url = up.url("/q");
                tokio::spawn(async move { fetch_ok(&client, &url).await })
            })
            .collect();
        // While the first 10 run, the other 20 wait in the pool's queue.
        let queued = gangway_tests::wait_until(Duration::from_secs(1), || {
            let s = client.stats().total;
            s.streams == 10 && s.waiting == 20
        })
        .await;
        assert!(queued, "expected 10 streams and 20 waiting: {:?}", client.stats().total);
        for t in tasks {
            assert_eq!(t.await.expect("task").status, 200);
        }
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(peaks(&per_conn), [10]);
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
