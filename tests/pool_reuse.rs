//! HTTP/1.1 connection reuse: sequential requests share one connection, and N concurrent
//! requests open at most N connections.

#[path = "pool_common.rs"]
mod common;

use std::sync::Arc;

use common::{fetch, fetch_ok, join_all, quiet_h1, spawn_gets, with_body, Counts, Gate};
use gangway_pool::Client;
use gangway_tests::body::is_pattern;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_share_one_connection() {
    init_tracing();
    within("sequential reuse", async {
        let up = Upstream::http1().run().await;
        let client = Client::new();
        let n = 50;
        for i in 1..=n {
            let done = fetch_ok(&client, &up.url(&format!("/seq/{i}"))).await;
            assert_eq!(done.status, 200);
            assert_eq!(done.conn_id(), 1, "request {i} went on another connection");
            assert_eq!(done.req_seq(), i);
            assert_eq!(done.header("x-path"), format!("/seq/{i}"));
        }
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(up.requests_seen(), n);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: n as u64,
                reused: n as u64 - 1,
                ..Counts::default()
            }
        );
        assert_eq!(client.stats().total.idle, 1);
    })
    .await;
}

/// Bodies in both directions, including ones large enough to arrive in many reads: the
/// connection goes back to the pool when the body ends, in time for the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_with_bodies_share_one_connection() {
    init_tracing();
    within("sequential reuse with bodies", async {
        let up = Upstream::http1().run().await;
        let client = Client::new();
        let mut expected_requests = 0u64;
        for i in 0..10 {
            let payload = format!("body number {i}").repeat(100);
            let done = fetch(
                &client,
                with_body("POST", &up.url("/echo"), payload.clone()),
            )
            .await
            .expect("POST echo");
            assert_eq!(done.body, payload.as_bytes());
            assert_eq!(done.conn_id(), 1);
            let done = fetch_ok(&client, &up.url("/bytes/300000")).await;
            assert_eq!(done.body.len(), 300_000);
            assert!(is_pattern(&done.body, 0));
            assert_eq!(done.conn_id(), 1);
            let done = fetch_ok(&client, &up.url("/bytes/70000?chunked")).await;
            assert_eq!(done.body.len(), 70_000);
            assert_eq!(done.conn_id(), 1);
            let done = fetch_ok(&client, &up.url("/status/204")).await;
            assert_eq!(done.status, 204);
            assert_eq!(done.conn_id(), 1);
            expected_requests += 4;
        }
        assert_eq!(up.connections_accepted(), 1);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: expected_requests,
                reused: expected_requests - 1,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// N requests in flight at once need N connections, no more; a second wave reuses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_burst_opens_exactly_n_connections_and_reuses_them() {
    init_tracing();
    within("concurrent burst", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::new();
        let n = 8;
        for wave in 1..=3 {
            let tasks = spawn_gets(&client, &up, n, &format!("/gate/{wave}/x"));
            gate.held(&up, n).await;
            gate.open(wave);
            for done in join_all(tasks).await {
                assert_eq!(done.status, 200);
            }
            quiet_h1(&client).await;
            assert_eq!(up.connections_accepted(), n, "after wave {wave}");
        }
        assert_eq!(up.max_in_flight(), n);
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: n as u64,
                requests: 3 * n as u64,
                reused: 2 * n as u64,
                ..Counts::default()
            }
        );
        assert_eq!(client.stats().total.idle, n);
    })
    .await;
}

/// N workers each sending requests back to back: never more than N connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_n_opens_at_most_n_connections() {
    init_tracing();
    within("concurrency n", async {
        let up = Arc::new(Upstream::http1().run().await);
        let client = Client::new();
        let (workers, each) = (6usize, 25usize);
        let tasks: Vec<_> = (0..workers)
            .map(|w| {
                let client = client.clone();
                let up = up.clone();
                tokio::spawn(async move {
                    for i in 0..each {
                        let path = if i % 5 == 0 {
                            "/sleep/10".to_owned()
                        } else {
                            format!("/w{w}/{i}")
                        };
                        let done = fetch_ok(&client, &up.url(&path)).await;
                        assert_eq!(done.status, 200);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("worker");
        }
        quiet_h1(&client).await;
        let accepted = up.connections_accepted();
        assert!(
            (1..=workers).contains(&accepted),
            "{workers} workers opened {accepted} connections"
        );
        let total = (workers * each) as u64;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: accepted as u64,
                requests: total,
                reused: total - accepted as u64,
                ..Counts::default()
            }
        );
        assert_eq!(up.requests_seen(), workers * each);
    })
    .await;
}
