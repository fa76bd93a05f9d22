//! Idle connections: the idle timeout, the per-host idle cap, and the server's
//! `Keep-Alive: timeout=N` hint.

#[path = "pool_common.rs"]
mod common;

use std::time::Duration;

use common::{fetch_ok, join_all, quiet_h1, settle, spawn_gets, Counts, Gate};
use gangway_pool::Client;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};

/// An idle connection is closed once idle longer than `idle_timeout` (by the reaper, with
/// nothing else happening), counted as `closed.idle_timeout`; the next request opens a new
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_expires_connections() {
    init_tracing();
    within("idle timeout", async {
        let up = Upstream::http1().run().await;
        let client = Client::builder()
            .idle_timeout(Duration::from_millis(300))
            .build()
            .expect("client");
        let first = fetch_ok(&client, &up.url("/a")).await;
        assert_eq!(first.conn_id(), 1);
        // Within the timeout: reused.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(fetch_ok(&client, &up.url("/b")).await.conn_id(), 1);
        quiet_h1(&client).await;
        assert_eq!(client.stats().total.idle, 1);

        // Past the timeout: the reaper closes it without any request coming.
        settle(&client, "idle connection reaped", |s| {
            s.closed.idle_timeout == 1 && s.idle == 0
        })
        .await;
        assert!(
            gangway_tests::wait_until(Duration::from_secs(1), || up.open_connections() == 0).await,
            "the upstream still sees the connection open"
        );

        let third = fetch_ok(&client, &up.url("/c")).await;
        assert_eq!(
            third.conn_id(),
            2,
            "the expired connection must not be used"
        );
        assert_eq!(up.connections_accepted(), 2);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 3,
                reused: 1,
                closed_idle_timeout: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// Five connections come back from a burst; only `max_idle_per_host` = 2 are kept, the
/// other three are closed and counted as `closed.max_idle`; the kept ones serve the next
/// requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_idle_per_host_is_enforced() {
    init_tracing();
    within("max idle", async {
        let (up, gate) = Gate::install(Upstream::http1());
        let up = up.run().await;
        let client = Client::builder()
            .max_idle_per_host(2)
            .build()
            .expect("client");
        let tasks = spawn_gets(&client, &up, 5, "/gate/1/x");
        gate.held(&up, 5).await;
        gate.open(1);
        for done in join_all(tasks).await {
            assert_eq!(done.status, 200);
        }
        quiet_h1(&client).await;
        assert_eq!(up.connections_accepted(), 5);
        assert_eq!(client.stats().total.idle, 2);
        assert!(
            gangway_tests::wait_until(Duration::from_secs(1), || up.open_connections() == 2).await,
            "upstream sees {} connections open, want 2",
            up.open_connections()
        );
        // Sequential requests now reuse the kept connections: nothing new is opened.
        for _ in 0..4 {
            fetch_ok(&client, &up.url("/again")).await;
        }
        quiet_h1(&client).await;
        assert_eq!(up.connections_accepted(), 5);
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 5,
                requests: 9,
                reused: 4,
                closed_max_idle: 3,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// `Keep-Alive: timeout=1` from the upstream: the pool keeps the connection idle for less
/// than a second (the hint minus a margin), so after 900 ms idle the next request goes on
/// a new connection, never on the one the server may be closing. A shorter pause reuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_timeout_hint_is_respected() {
    init_tracing();
    within("keep-alive hint", async {
        let up = Upstream::http1()
            .keep_alive_header(Some("timeout=1"))
            .run()
            .await;
        let client = Client::new(); // idle_timeout 90 s: only the hint can expire it
        let first = fetch_ok(&client, &up.url("/1")).await;
        assert_eq!(first.header("keep-alive"), "timeout=1");
        assert_eq!(first.conn_id(), 1);

        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = fetch_ok(&client, &up.url("/2")).await;
        assert_eq!(second.conn_id(), 1, "300 ms idle is within the hint");

        tokio::time::sleep(Duration::from_millis(900)).await;
        let third = fetch_ok(&client, &up.url("/3")).await;
        assert_eq!(
            third.conn_id(),
            2,
            "a connection idle past its Keep-Alive hint must not be reused"
        );
        // The upstream saw no request on connection 1 after the long pause.
        let on_first: Vec<_> = up
            .requests()
            .iter()
            .filter(|r| r.conn_id == 1)
            .map(|r| r.uri.path().to_owned())
            .collect();
        assert_eq!(on_first, ["/1", "/2"]);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 3,
                reused: 1,
                closed_idle_timeout: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}
