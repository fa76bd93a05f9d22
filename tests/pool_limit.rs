//! `max_connections_per_host`: requests past the limit wait in a first-in first-out queue,
//! and fail with `is_pool_exhausted()` after `checkout_timeout`.

#[path = "pool_common.rs"]
mod common;

use std::time::Duration;

use common::{fetch, fetch_ok, get, join_all, quiet_h1, spawn_gets, Counts, Gate};
use gangway_pool::Client;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};

/// Limit 1: a request held at the upstream keeps the only connection busy; waiters queued
/// in a known order (each one in the queue, plus 10 ms, before the next is spawned) are
/// served in exactly that order, on that one connection, once it is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_in_fifo_order() {
    init_tracing();
    within("fifo", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::builder()
            .max_connections_per_host(1)
            .build()
            .expect("client");
        let holder = {
            let client = client.clone();
            let url = up.url("/gate/1/hold");
            tokio::spawn(async move { fetch_ok(&client, &url).await })
        };
        // Let the holder take the connection before anyone queues.
        assert!(
            gangway_tests::wait_until(Duration::from_secs(1), || up.in_flight() == 1).await,
            "the slow request never reached the upstream"
        );
        let n = 8;
        let mut waiters = Vec::new();
        for i in 0..n {
            let c = client.clone();
            let url = up.url(&format!("/w/{i}"));
            waiters.push(tokio::spawn(async move { fetch_ok(&c, &url).await }));
            // Wait until this waiter is in the queue before spawning the next one.
            let want = i + 1;
            let queued = gangway_tests::wait_until(Duration::from_secs(1), || {
                client.stats().total.waiting == want
            })
            .await;
            assert!(
                queued,
                "waiter {i} never queued: {:?}",
                client.stats().total
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            up.requests_seen(),
            1,
            "a waiter overtook the held connection"
        );
        gate.open(1);
        assert_eq!(holder.await.expect("holder").conn_id(), 1);
        for w in waiters {
            assert_eq!(w.await.expect("waiter").conn_id(), 1);
        }
        let order: Vec<String> = up
            .requests()
            .iter()
            .map(|r| r.uri.path().to_owned())
            .collect();
        let mut want = vec!["/gate/1/hold".to_owned()];
        want.extend((0..n).map(|i| format!("/w/{i}")));
        assert_eq!(order, want, "the upstream saw the waiters out of order");
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(up.max_in_flight(), 1);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: n as u64 + 1,
                reused: n as u64,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// Limit 1 and a 100 ms checkout timeout while a held request keeps the connection: the
/// waiter fails with `is_pool_exhausted()` (and `is_timeout()`), counted once in
/// `checkout_timeouts`; the holder is unaffected and its connection serves the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_timeout_fails_with_pool_exhausted() {
    init_tracing();
    within("checkout timeout", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::builder()
            .max_connections_per_host(1)
            .checkout_timeout(Duration::from_millis(100))
            .build()
            .expect("client");
        let holder = {
            let client = client.clone();
            let url = up.url("/gate/1/hold");
            tokio::spawn(async move { fetch_ok(&client, &url).await })
        };
        assert!(gangway_tests::wait_until(Duration::from_secs(1), || up.in_flight() == 1).await);
        let started = tokio::time::Instant::now();
        let err = fetch(&client, get(&up.url("/late")))
            .await
            .expect_err("no connection within the checkout timeout");
        assert!(err.is_pool_exhausted(), "{err:?}");
        assert!(err.is_timeout(), "{err:?}");
        assert!(!err.is_connect() && !err.is_request(), "{err:?}");
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(
            err.to_string().contains("max_connections_per_host"),
            "{err}"
        );
        assert_eq!(
            client.stats().total.waiting,
            0,
            "the timed-out waiter left the queue"
        );

        gate.open(1);
        assert_eq!(holder.await.expect("holder").status, 200);
        assert_eq!(fetch_ok(&client, &up.url("/after")).await.conn_id(), 1);
        assert_eq!(up.connections_accepted(), 1);
        assert_eq!(
            up.requests_seen(),
            2,
            "the timed-out request never reached the upstream"
        );
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 2,
                reused: 1,
                checkout_timeouts: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// Limit 3 under 30 concurrent requests: 3 in flight at the upstream and 27 waiting in the
/// pool; never more than 3 connections, and every request succeeds (queued, not failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_holds_under_load() {
    init_tracing();
    within("limit under load", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::builder()
            .max_connections_per_host(3)
            .build()
            .expect("client");
        let tasks = spawn_gets(&client, &up, 30, "/gate/1/x");
        gate.held(&up, 3).await;
        let queued = gangway_tests::wait_until(Duration::from_secs(3), || {
            client.stats().total.waiting == 27
        })
        .await;
        assert!(queued, "expected 27 waiting: {:?}", client.stats().total);
        assert_eq!(up.in_flight(), 3);
        gate.open(1);
        for done in join_all(tasks).await {
            assert_eq!(done.status, 200);
        }
        assert_eq!(up.connections_accepted(), 3);
        assert_eq!(up.max_in_flight(), 3);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 3,
                requests: 30,
                reused: 27,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// Limit 1: a request cancelled mid-flight (its future dropped) gives its slot back. The
/// HTTP/1.1 connection it was on is closed (`closed.error`, hyper cannot abort one request
/// otherwise); a waiter queued behind it gets a new connection at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_request_frees_its_slot() {
    init_tracing();
    within("cancel frees slot", async {
        let up = Upstream::http1().run().await;
        let client = Client::builder()
            .max_connections_per_host(1)
            .build()
            .expect("client");
        let doomed = {
            let client = client.clone();
            let url = up.url("/sleep/3000");
            tokio::spawn(async move { fetch(&client, get(&url)).await })
        };
        assert!(gangway_tests::wait_until(Duration::from_secs(1), || up.in_flight() == 1).await);
        let waiter = {
            let client = client.clone();
            let url = up.url("/after");
            tokio::spawn(async move { fetch_ok(&client, &url).await })
        };
        assert!(
            gangway_tests::wait_until(Duration::from_secs(1), || client.stats().total.waiting == 1)
                .await
        );
        doomed.abort();
        assert!(doomed.await.expect_err("aborted").is_cancelled());
        let done = waiter.await.expect("waiter");
        assert_eq!(
            done.conn_id(),
            2,
            "the cancelled request's connection is not reused"
        );
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 2,
                closed_error: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}
