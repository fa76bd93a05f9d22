//! Helpers shared by the `pool_*` suites (included with `#[path]`; not a test target).
//!
//! [`Counts`] is every counter of a [`HostStats`] as one comparable value, so each test
//! asserts all of them at once: a counter that moves when it should not fails the test too.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gangway_pool::{Client, Error, HostStats, ResponseBody};
use gangway_tests::upstream::{echo, Listening, Upstream};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};

/// Every counter (not the gauges) of a [`HostStats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub opened: u64,
    pub connect_errors: u64,
    pub requests: u64,
    pub reused: u64,
    pub drained: u64,
    pub checkout_timeouts: u64,
    pub closed_idle_timeout: u64,
    pub closed_max_idle: u64,
    pub closed_server_close: u64,
    pub closed_error: u64,
    pub closed_unread_body: u64,
    pub closed_lifetime: u64,
    pub closed_requests_limit: u64,
    pub closed_upgraded: u64,
    pub retry_not_written: u64,
    pub retry_stale: u64,
    pub retry_refused: u64,
}

impl Counts {
    pub fn of(s: &HostStats) -> Self {
        Self {
            opened: s.connections_opened,
            connect_errors: s.connect_errors,
            requests: s.requests,
            reused: s.reused,
            drained: s.drained,
            checkout_timeouts: s.checkout_timeouts,
            closed_idle_timeout: s.closed.idle_timeout,
            closed_max_idle: s.closed.max_idle,
            closed_server_close: s.closed.server_close,
            closed_error: s.closed.error,
            closed_unread_body: s.closed.unread_body,
            closed_lifetime: s.closed.lifetime,
            closed_requests_limit: s.closed.requests_limit,
            closed_upgraded: s.closed.upgraded,
            retry_not_written: s.retries.not_written,
            retry_stale: s.retries.stale_connection,
            retry_refused: s.retries.refused_stream,
        }
    }

    /// The counters of the client's total.
    pub fn total(client: &Client) -> Self {
        Self::of(&client.stats().total)
    }
}

/// The gauges of a [`HostStats`]: (idle, active, connecting, waiting, streams).
pub fn gauges(client: &Client) -> (usize, usize, usize, usize, usize) {
    let s = client.stats().total;
    (s.idle, s.active, s.connecting, s.waiting, s.streams)
}

/// A GET with an empty body.
pub fn get(url: &str) -> Request<Empty<Bytes>> {
    Request::get(url).body(Empty::new()).expect("valid request")
}

/// A request with a whole body.
pub fn with_body(method: &str, url: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(body.into()))
        .expect("valid request")
}

/// A response read to its end.
#[derive(Debug)]
pub struct Done {
    pub status: u16,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Done {
    /// A header's value as text; panics when missing.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("missing header {name} in {:?}", self.headers))
    }

    /// The upstream's `x-conn-id`.
    pub fn conn_id(&self) -> usize {
        self.header("x-conn-id").parse().expect("numeric x-conn-id")
    }

    /// The upstream's `x-req-seq`.
    pub fn req_seq(&self) -> usize {
        self.header("x-req-seq").parse().expect("numeric x-req-seq")
    }
}

/// Reads a response to its end.
pub async fn read(resp: Response<ResponseBody>) -> Result<Done, Error> {
    let (parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Done {
        status: parts.status.as_u16(),
        version: parts.version,
        headers: parts.headers,
        body,
    })
}

/// Sends a request through the pool and reads the whole response.
pub async fn fetch<B>(client: &Client, req: Request<B>) -> Result<Done, Error>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<gangway_pool::BoxError>,
{
    read(client.request(req).await?).await
}

/// GETs `url` and reads the whole response; panics on any error.
pub async fn fetch_ok(client: &Client, url: &str) -> Done {
    match fetch(client, get(url)).await {
        Ok(done) => done,
        Err(e) => panic!("GET {url} failed: {e}"),
    }
}

/// Waits (at most 2 s) until the client's total stats satisfy `cond`; panics with `what`
/// and the stats otherwise.
pub async fn settle(client: &Client, what: &str, cond: impl Fn(&HostStats) -> bool) {
    let ok =
        gangway_tests::wait_until(Duration::from_secs(2), || cond(&client.stats().total)).await;
    assert!(
        ok,
        "{what}: stats never got there: {:?}",
        client.stats().total
    );
}

/// Waits until no HTTP/1.1 connection is busy and nothing is being opened or waited for:
/// every response body has been handed back (some return through a short background task).
pub async fn quiet_h1(client: &Client) {
    settle(client, "pool quiet", |s| {
        s.active == 0 && s.connecting == 0 && s.waiting == 0 && s.streams == 0
    })
    .await;
}

/// Holds requests at the upstream until the test lets them go, so "these requests were in
/// flight together" is a fact the test waits for, not a timing assumption.
///
/// Requests to `/gate/N/...` wait until [`Gate::open`] was called with at least `N` (at
/// most 5 s, so a broken test cannot hang), then get the [`echo`] answer. Every request's
/// peak concurrency per upstream connection is recorded.
#[derive(Clone, Debug)]
pub struct Gate {
    level: Arc<tokio::sync::watch::Sender<usize>>,
    per_conn: Arc<Mutex<HashMap<usize, (usize, usize)>>>,
}

impl Gate {
    /// Wraps `up`'s handler with the gate.
    pub fn install(up: Upstream) -> (Upstream, Gate) {
        let gate = Gate {
            level: Arc::new(tokio::sync::watch::channel(0).0),
            per_conn: Arc::default(),
        };
        let g = gate.clone();
        let up = up.handler(move |req, ctx| {
            let g = g.clone();
            async move {
                g.enter(ctx.conn_id);
                let wanted = req
                    .uri()
                    .path()
                    .strip_prefix("/gate/")
                    .and_then(|rest| rest.split('/').next())
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(n) = wanted {
                    let mut rx = g.level.subscribe();
                    let _ = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|l| *l >= n))
                        .await;
                }
                let resp = echo(req, ctx).await;
                g.leave(ctx.conn_id);
                resp
            }
        });
        (up, gate)
    }

    /// Waits (at most 3 s) until exactly `n` requests are inside the handler at once
    /// (counted across connections), and `up` counts `n` in flight; panics otherwise.
    pub async fn held(&self, up: &Listening, n: usize) {
        in_flight(up, n).await;
        let ok = gangway_tests::wait_until(Duration::from_secs(3), || self.inside() == n).await;
        assert!(
            ok,
            "expected {n} requests held at the gate, saw {}",
            self.inside()
        );
    }

    fn inside(&self) -> usize {
        let map = self.per_conn.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(|(now, _)| now).sum()
    }

    /// Lets every request to `/gate/M/...` with `M <= n` through.
    pub fn open(&self, n: usize) {
        self.level.send_replace(n);
    }

    fn enter(&self, conn: usize) {
        let mut map = self.per_conn.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.entry(conn).or_default();
        e.0 += 1;
        e.1 = e.1.max(e.0);
    }

    fn leave(&self, conn: usize) {
        let mut map = self.per_conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = map.get_mut(&conn) {
            e.0 -= 1;
        }
    }

    /// The peak number of requests in the handler at once, per upstream connection, in
    /// connection order.
    pub fn peaks(&self) -> Vec<usize> {
        let map = self.per_conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<_> = map.keys().copied().collect();
        ids.sort_unstable();
        ids.iter().map(|id| map[id].1).collect()
    }
}

/// Waits (at most 3 s) until `up` has exactly `n` requests in flight; panics otherwise.
pub async fn in_flight(up: &Listening, n: usize) {
    let ok = gangway_tests::wait_until(Duration::from_secs(3), || up.in_flight() == n).await;
    assert!(
        ok,
        "expected {n} requests in flight at the upstream together, saw {} (peak {})",
        up.in_flight(),
        up.max_in_flight()
    );
}

/// Spawns `n` GETs of `path` on `up`; the handles yield the read responses.
pub fn spawn_gets(
    client: &Client,
    up: &Listening,
    n: usize,
    path: &str,
) -> Vec<tokio::task::JoinHandle<Done>> {
    (0..n)
        .map(|_| {
            let client = client.clone();
            let url = up.url(path);
            tokio::spawn(async move { fetch_ok(&client, &url).await })
        })
        .collect()
}

/// Awaits every handle, returning the responses.
pub async fn join_all(tasks: Vec<tokio::task::JoinHandle<Done>>) -> Vec<Done> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}
