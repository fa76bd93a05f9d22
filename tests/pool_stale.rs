//! The keep-alive race: the server closes a reused connection after reading the request
//! and before answering (FIN or RST). Idempotent requests are replayed once on a fresh
//! connection, so no GET fails; POSTs are never replayed, so none is duplicated.

#[path = "pool_common.rs"]
mod common;

use std::collections::HashMap;

use common::{fetch, fetch_ok, quiet_h1, with_body, Counts};
use gangway_pool::Client;
use gangway_tests::fault::{Fault, FaultServer};
use gangway_tests::{init_tracing, within};

async fn stale_server(rst: bool) -> FaultServer {
    Fault::StaleRace {
        close_after: 3,
        rst,
    }
    .run()
    .await
}

/// 200 sequential GETs, each connection answering 3 then closing on the 4th: every GET
/// succeeds. Each connection carries 3 answered requests plus the one it dropped, which is
/// replayed as the first request of the next connection: 67 connections, 66 replays.
async fn gets_never_fail(rst: bool) {
    let srv = stale_server(rst).await;
    let client = Client::new();
    let n = 200u64;
    for i in 0..n {
        let done = fetch_ok(&client, &srv.url(&format!("/get/{i}"))).await;
        assert_eq!(done.status, 200);
        assert_eq!(&done.body[..], b"ok");
    }
    quiet_h1(&client).await;
    let conns = n.div_ceil(3); // 67
    let replays = conns - 1; // 66
    assert_eq!(srv.connections_accepted() as u64, conns);
    assert_eq!(srv.requests_seen() as u64, n + replays);
    // Every GET reached the server once, or twice when its first copy was dropped unanswered.
    let mut per_target: HashMap<String, usize> = HashMap::new();
    for r in srv.requests() {
        *per_target.entry(r.target().to_owned()).or_default() += 1;
    }
    assert_eq!(per_target.len() as u64, n);
    assert_eq!(
        per_target.values().filter(|c| **c == 2).count() as u64,
        replays
    );
    assert!(per_target.values().all(|c| *c <= 2));
    assert_eq!(
        Counts::total(&client),
        Counts {
            opened: conns,
            requests: n + replays,
            // 3 reuses per full connection (2 answered + 1 dropped), 1 on the last.
            reused: 3 * replays + 1,
            retry_stale: replays,
            closed_error: replays,
            ..Counts::default()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_fin_gets_never_fail() {
    init_tracing();
    within("stale FIN GET", gets_never_fail(false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_rst_gets_never_fail() {
    init_tracing();
    within("stale RST GET", gets_never_fail(true)).await;
}

/// 200 sequential POSTs with a unique body each: every 4th on a connection is dropped by
/// the server after it read it; that POST fails (`is_request`), is not replayed, and the
/// server's record shows every body exactly once.
async fn posts_never_duplicated(rst: bool) {
    let srv = stale_server(rst).await;
    let client = Client::new();
    let n = 200usize;
    let mut failed = Vec::new();
    for i in 0..n {
        let body = format!("post-id-{i}");
        match fetch(&client, with_body("POST", &srv.url("/post"), body)).await {
            Ok(done) => assert_eq!(&done.body[..], b"ok"),
            Err(e) => {
                assert!(e.is_request(), "POST {i}: {e:?}");
                failed.push(i);
            }
        }
    }
    quiet_h1(&client).await;
    // Every 4th POST is the one a connection drops.
    let want_failed: Vec<usize> = (0..n).filter(|i| i % 4 == 3).collect();
    assert_eq!(failed, want_failed);
    let bodies: Vec<String> = srv
        .requests()
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).expect("utf-8 body"))
        .collect();
    assert_eq!(bodies.len(), n, "the server saw each POST once");
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for b in &bodies {
        *counts.entry(b.as_str()).or_default() += 1;
    }
    let duplicated: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(duplicated.is_empty(), "duplicated POSTs: {duplicated:?}");
    assert_eq!(counts.len(), n);
    let conns = (n / 4) as u64;
    assert_eq!(srv.connections_accepted() as u64, conns);
    assert_eq!(
        Counts::total(&client),
        Counts {
            opened: conns,
            requests: n as u64,
            reused: 3 * conns,
            closed_error: conns,
            ..Counts::default()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_fin_posts_never_duplicated() {
    init_tracing();
    within("stale FIN POST", posts_never_duplicated(false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_rst_posts_never_duplicated() {
    init_tracing();
    within("stale RST POST", posts_never_duplicated(true)).await;
}

/// PUT (idempotent) with a small body is replayed like a GET, body intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_put_is_replayed_with_its_body() {
    init_tracing();
    within("stale PUT", async {
        let srv = stale_server(false).await;
        let client = Client::new();
        for i in 0..8 {
            let done = fetch(
                &client,
                with_body("PUT", &srv.url("/put"), format!("put-{i}")),
            )
            .await
            .expect("PUT is replayed");
            assert_eq!(&done.body[..], b"ok");
        }
        let bodies: Vec<String> = srv
            .requests()
            .iter()
            .map(|r| String::from_utf8(r.body.clone()).expect("utf-8"))
            .collect();
        // put-3 and put-6 were dropped on a reused connection and replayed.
        assert_eq!(
            bodies,
            [
                "put-0", "put-1", "put-2", "put-3", "put-3", "put-4", "put-5", "put-6", "put-6",
                "put-7"
            ]
        );
        quiet_h1(&client).await;
        assert_eq!(Counts::total(&client).retry_stale, 2);
    })
    .await;
}

/// Concurrent GETs from 4 workers against the racing server: still no failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_concurrent_gets_never_fail() {
    init_tracing();
    within("stale concurrent GET", async {
        let srv = stale_server(false).await;
        let client = Client::new();
        let tasks: Vec<_> = (0..4)
            .map(|w| {
                let client = client.clone();
                let url = srv.url(&format!("/w{w}"));
                tokio::spawn(async move {
                    for _ in 0..50 {
                        assert_eq!(fetch_ok(&client, &url).await.status, 200);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("worker");
        }
        quiet_h1(&client).await;
        let c = Counts::total(&client);
        assert!(c.retry_stale > 0, "{c:?}");
        assert_eq!(c.requests, 200 + c.retry_stale, "{c:?}");
        assert_eq!(srv.requests_seen() as u64, c.requests);
        assert_eq!(c.closed_error, c.retry_stale, "{c:?}");
    })
    .await;
}
