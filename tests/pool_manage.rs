//! What a gateway's upstream groups need from the pool: per-address keys ([`ConnectTo`]),
//! the lock-free in-flight gauge, draining one key, closing idle connections, and a
//! graceful shutdown with a deadline.

#[path = "pool_common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{fetch, fetch_ok, get, quiet_h1, settle, Gate};
use gangway_pool::{Client, ConnectTo};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};

/// A request pinned to an address reaches that address while the URI's host still goes
/// in the `Host` header; each address is a pool of its own, and the name is never resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_pins_the_address_and_keeps_the_host() {
    init_tracing();
    within("connect_to", async {
        let a = Upstream::http1().run().await;
        let b = Upstream::http1().run().await;
        // `.invalid` never resolves: success proves the resolver was skipped.
        let url = "http://upstream.invalid:8080/x";
        let client = Client::new();
        for up in [&a, &b, &a] {
            let mut req = get(url);
            req.extensions_mut().insert(ConnectTo(up.addr()));
            let done = fetch(&client, req).await.expect("pinned request");
            assert_eq!(done.status, 200);
        }
        assert_eq!((a.requests_seen(), b.requests_seen()), (2, 1));
        let host = a.requests()[0].headers.get("host").cloned();
        assert_eq!(
            host.as_ref().map(|h| h.as_bytes()),
            Some(&b"upstream.invalid:8080"[..])
        );
        let keys: Vec<String> = client.stats().hosts.into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), 2, "one pool per address: {keys:?}");
        assert!(keys
            .iter()
            .all(|k| k.starts_with("http://upstream.invalid:8080 via ")));
        // Without the pin, the name is resolved and fails.
        let err = fetch(&client, get(url)).await.expect_err("unresolvable");
        assert!(err.is_connect(), "{err}");
    })
    .await;
}

/// The in-flight gauge counts requests from checkout to the end of their response body,
/// obtained once and read without a lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_gauge_follows_requests() {
    init_tracing();
    within("in-flight gauge", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::new();
        let uri: http::Uri = up.url("/").parse().expect("uri");
        let gauge = client.in_flight(&uri, None).expect("gauge");
        assert_eq!(gauge.get(), 0);
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let client = client.clone();
                let url = up.url("/gate/1/");
                tokio::spawn(async move { fetch_ok(&client, &url).await })
            })
            .collect();
        gate.held(&up, 3).await;
        assert_eq!(gauge.get(), 3);
        gate.open(1);
        for t in tasks {
            t.await.expect("task");
        }
        quiet_h1(&client).await;
        assert_eq!(gauge.get(), 0);
        assert!(client
            .in_flight(&"/relative".parse().expect("uri"), None)
            .is_err());
    })
    .await;
}

/// Draining one key closes its idle connections now and its busy one when the request
/// ends; the other key is untouched, and the drained key opens fresh connections later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_key_drains_one_key() {
    init_tracing();
    within("close_key", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let other = Upstream::http1().run().await;
        let client = Client::new();
        fetch_ok(&client, &other.url("/warm")).await;
        // One busy connection to `up`, plus an idle one.
        let busy = {
            let client = client.clone();
            let url = up.url("/gate/1/");
            tokio::spawn(async move { fetch_ok(&client, &url).await })
        };
        gate.held(&up, 1).await;
        fetch_ok(&client, &up.url("/second")).await;
        settle(&client, "one idle on each key", |s| s.idle == 2).await;
        assert_eq!(up.open_connections(), 2);
        let uri: http::Uri = up.url("/").parse().expect("uri");
        client.close_key(&uri, None).expect("close_key");
        gangway_tests::wait_until(Duration::from_secs(2), || up.open_connections() == 1).await;
        assert_eq!(
            up.open_connections(),
            1,
            "the idle connection closed at once"
        );
        gate.open(1);
        let done = busy.await.expect("busy request");
        assert_eq!(done.status, 200, "the in-flight request finished");
        settle(&client, "drained", |s| s.closed.closed == 2).await;
        assert!(
            gangway_tests::wait_until(Duration::from_secs(2), || up.open_connections() == 0).await
        );
        assert_eq!(
            other.open_connections(),
            1,
            "the other key keeps its connection"
        );
        // Later requests open a fresh connection and keep it as usual.
        fetch_ok(&client, &up.url("/again")).await;
        quiet_h1(&client).await;
        assert_eq!(up.connections_accepted(), 3);
        assert_eq!(client.stats().total.idle, 2);
        client.close_idle();
        settle(&client, "all idle closed", |s| {
            s.idle == 0 && s.closed.closed == 4
        })
        .await;
    })
    .await;
}

/// Shutdown: idle connections close at once, new requests are refused with a clear error,
/// the in-flight request finishes before the deadline, and its connection then closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_and_refuses_new() {
    init_tracing();
    within("shutdown", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::new();
        fetch_ok(&client, &up.url("/warm")).await;
        quiet_h1(&client).await;
        let busy = {
            let client = client.clone();
            let url = up.url("/gate/1/");
            tokio::spawn(async move { fetch_ok(&client, &url).await })
        };
        gate.held(&up, 1).await;
        let deadline = Instant::now() + Duration::from_secs(4);
        let c = client.clone();
        let mut shutting = Box::pin(async move { c.shutdown(deadline).await });
        // Poll it once: that refuses new requests and closes idle connections.
        tokio::select! {
            biased;
            _ = &mut shutting => panic!("finished with a request in flight"),
            _ = std::future::ready(()) => {}
        }
        let shutting = tokio::spawn(shutting);
        assert!(
            gangway_tests::wait_until(Duration::from_secs(2), || up.open_connections() == 1).await
        );
        let err = fetch(&client, get(&up.url("/late")))
            .await
            .expect_err("refused");
        assert!(err.is_closed(), "{err}");
        assert!(err.to_string().contains("shut down"), "{err}");
        gate.open(1);
        assert_eq!(busy.await.expect("in-flight").status, 200);
        assert!(
            shutting.await.expect("shutdown task"),
            "finished before the deadline"
        );
        assert!(
            gangway_tests::wait_until(Duration::from_secs(2), || up.open_connections() == 0).await
        );
        assert_eq!(
            up.requests_seen(),
            2,
            "the refused request never reached the upstream"
        );
    })
    .await;
}

/// Past the deadline, connections still busy are closed and the request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_deadline_closes_the_rest() {
    init_tracing();
    within("shutdown deadline", async {
        let (up, _gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::new();
        let busy = {
            let client = client.clone();
            let url = up.url("/gate/1/");
            tokio::spawn(async move { fetch(&client, get(&url)).await })
        };
        _gate.held(&up, 1).await;
        let done = client
            .shutdown(Instant::now() + Duration::from_millis(100))
            .await;
        assert!(!done, "the request was still in flight at the deadline");
        let result = busy.await.expect("task");
        assert!(result.is_err(), "its connection was closed");
        assert!(
            gangway_tests::wait_until(Duration::from_secs(2), || up.open_connections() == 0).await
        );
    })
    .await;
}
