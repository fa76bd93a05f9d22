//! Thread affinity of idle HTTP/1.1 connections: on a thread tagged with
//! `gangway_pool::rt::set_worker_id`, the pool hands out an idle connection opened on that
//! thread before a newer one opened elsewhere (the gateway's workers rely on it so a
//! request and its upstream connection's task share a thread).

#[path = "pool_common.rs"]
mod common;

use std::future::Future;

use common::{fetch_ok, get, read, settle};
use gangway_pool::Client;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};

/// A thread running a current-thread runtime, tagged as worker `id`, like the gateway's.
struct Worker {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn start(id: u32) -> Worker {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            gangway_pool::rt::set_worker_id(id);
            let _ = rt.block_on(stopped);
        });
        Worker {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Runs `fut` on the worker's thread and waits for its output.
    async fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T {
        self.handle.spawn(fut).await.expect("worker task")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_go_back_to_the_thread_that_opened_them() {
    init_tracing();
    within("affinity", async {
        let up = Upstream::http1().run().await;
        let client = Client::new();
        let (w1, w2) = (Worker::start(1), Worker::start(2));

        // Worker 1 opens connection 1 and keeps it busy (the body is not read yet), so
        // worker 2 must open connection 2.
        let (c, url) = (client.clone(), up.url("/bytes/100"));
        let held = w1
            .run(async move { c.request(get(&url)).await.expect("GET /w1/hold") })
            .await;
        let (c, url) = (client.clone(), up.url("/bytes/10"));
        let first = w2.run(async move { fetch_ok(&c, &url).await }).await;
        assert_eq!(first.conn_id(), 2);
        // Connection 1 goes idle last: it is the newest idle connection.
        let held = w1.run(async move { read(held).await.expect("body") }).await;
        assert_eq!(held.conn_id(), 1);
        settle(&client, "two idle connections", |s| s.idle == 2).await;

        // Newest-first would give worker 2 connection 1; affinity gives it its own.
        for round in 0..3 {
            let (c, url) = (client.clone(), up.url(&format!("/w2/{round}")));
            let done = w2.run(async move { fetch_ok(&c, &url).await }).await;
            assert_eq!(done.conn_id(), 2, "worker 2, round {round}");
            let (c, url) = (client.clone(), up.url(&format!("/w1/{round}")));
            let done = w1.run(async move { fetch_ok(&c, &url).await }).await;
            assert_eq!(done.conn_id(), 1, "worker 1, round {round}");
        }
        // An untagged thread (this test's runtime) takes the newest: connection 1, which
        // worker 1 used last.
        let done = fetch_ok(&client, &up.url("/untagged")).await;
        assert_eq!(done.conn_id(), 1);
        // A worker with no connection of its own takes the newest as well, never opens one.
        let w3 = Worker::start(3);
        let (c, url) = (client.clone(), up.url("/w3"));
        let done = w3.run(async move { fetch_ok(&c, &url).await }).await;
        assert_eq!(done.conn_id(), 1);
        assert_eq!(up.connections_accepted(), 2);
        let stats = client.stats().total;
        assert_eq!(
            (stats.connections_opened, stats.requests, stats.reused),
            (2, 10, 8)
        );
        drop(client);
    })
    .await;
}
