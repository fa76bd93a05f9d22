//! Response bodies dropped before their end: a small remainder is drained in the
//! background and the connection kept; a large one closes the connection.

#[path = "pool_common.rs"]
mod common;

use common::{fetch_ok, get, quiet_h1, settle, Counts};
use gangway_pool::Client;
use gangway_tests::fault::Fault;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http_body_util::BodyExt;

/// A 1 KiB response dropped unread: drained (`drained == 1`), the next request reuses the
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_small_body_keeps_the_connection() {
    init_tracing();
    within("unread small body", async {
        let up = Upstream::http1().run().await;
        let client = Client::new();
        let resp = client
            .request(get(&up.url("/bytes/1024")))
            .await
            .expect("head");
        assert_eq!(resp.status(), 200);
        drop(resp);
        settle(&client, "drained and idle", |s| {
            s.drained == 1 && s.idle == 1
        })
        .await;
        let done = fetch_ok(&client, &up.url("/next")).await;
        assert_eq!((done.conn_id(), done.req_seq()), (1, 2));
        assert_eq!(up.connections_accepted(), 1);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 2,
                reused: 1,
                drained: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// A small chunked body (no length known up front) half read, then dropped: drained too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partly_read_small_chunked_body_keeps_the_connection() {
    init_tracing();
    within("partly read chunked body", async {
        let up = Upstream::http1().run().await;
        let client = Client::new();
        let resp = client
            .request(get(&up.url("/bytes/40000?chunked")))
            .await
            .expect("head");
        let mut body = resp.into_body();
        let first = body.frame().await.expect("a frame").expect("data");
        assert!(first.is_data());
        drop(body);
        settle(&client, "drained and idle", |s| {
            s.drained == 1 && s.idle == 1
        })
        .await;
        assert_eq!(fetch_ok(&client, &up.url("/next")).await.conn_id(), 1);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 2,
                reused: 1,
                drained: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// A 1 MiB response (`Content-Length`) dropped unread: the connection is closed
/// (`closed.unread_body == 1`), the next request opens a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_large_body_closes_the_connection() {
    init_tracing();
    within("unread large body", async {
        let up = Upstream::http1().run().await;
        let client = Client::new();
        let resp = client
            .request(get(&up.url("/bytes/1048576")))
            .await
            .expect("head");
        drop(resp);
        settle(&client, "closed for unread body", |s| {
            s.closed.unread_body == 1
        })
        .await;
        let done = fetch_ok(&client, &up.url("/next")).await;
        assert_eq!(done.conn_id(), 2);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 2,
                closed_unread_body: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// The same with the raw `BigBodyKeepAlive` server, and with a chunked 1 MiB body (length
/// unknown: the drain gives up past the limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_large_body_variants_close_the_connection() {
    init_tracing();
    within("unread large body variants", async {
        let srv = Fault::BigBodyKeepAlive {
            body_len: 1024 * 1024,
        }
        .run()
        .await;
        let client = Client::new();
        drop(client.request(get(&srv.url("/"))).await.expect("head"));
        settle(&client, "closed for unread body", |s| {
            s.closed.unread_body == 1
        })
        .await;
        let done = fetch_ok(&client, &srv.url("/")).await;
        assert_eq!(done.body.len(), 1024 * 1024);
        assert_eq!(done.conn_id(), 2);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 2,
                closed_unread_body: 1,
                ..Counts::default()
            }
        );

        let up = Upstream::http1().run().await;
        let client = Client::new();
        drop(
            client
                .request(get(&up.url("/bytes/1048576?chunked")))
                .await
                .expect("head"),
        );
        settle(&client, "closed for unread body", |s| {
            s.closed.unread_body == 1
        })
        .await;
        assert_eq!(fetch_ok(&client, &up.url("/next")).await.conn_id(), 2);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 2,
                closed_unread_body: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// A body read to its end is not "drained": the counters separate the two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_bodies_are_not_counted_as_drained() {
    init_tracing();
    within("read bodies", async {
        let up = Upstream::http1().run().await;
        let client = Client::new();
        for _ in 0..3 {
            let done = fetch_ok(&client, &up.url("/bytes/1048576")).await;
            assert_eq!(done.body.len(), 1048576);
        }
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 3,
                reused: 2,
                ..Counts::default()
            }
        );
    })
    .await;
}
