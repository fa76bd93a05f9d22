//! HTTP/2 faults from the upstream against the pool (issue #17 item 11): REFUSED_STREAM,
//! and GOAWAY with a last-stream-id below streams in flight. RFC 9113 §8.7 guarantees such
//! streams were not processed, so the pool may send them again, whatever the method, once;
//! streams at or below the GOAWAY's last id are answered and must not be sent twice.

#[path = "pool_common.rs"]
mod common;

use common::{fetch, get, with_body, Done};
use gangway_pool::Client;
use gangway_tests::h2fault::{H2Fault, H2Mode, Received};
use gangway_tests::{init_tracing, within};

fn h2_client() -> Client {
    Client::builder().http2_only().build().expect("client")
}

fn outcomes(received: &[Received], path: &str) -> Vec<&'static str> {
    received
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.outcome)
        .collect()
}

/// A GET refused once is sent again and answered; the next request is sent once.
#[tokio::test]
async fn refused_get_is_retried_once_and_succeeds() {
    init_tracing();
    within("refused GET", async {
        let up = H2Fault::start(H2Mode::RefuseFirst(1)).await;
        let client = h2_client();
        for path in ["/a", "/b"] {
            let done = fetch(&client, get(&up.url(path))).await.expect(path);
            assert_eq!(done.status, 200, "{path}");
            assert_eq!(done.body, path.as_bytes());
        }
        let received = up.received();
        assert_eq!(outcomes(&received, "/a"), ["refused", "answered"]);
        assert_eq!(outcomes(&received, "/b"), ["answered"], "not replayed");
        assert_eq!(up.refused(), 1);
    })
    .await;
}

/// A POST whose body the pool holds is retried after REFUSED_STREAM too, body intact.
#[tokio::test]
async fn refused_post_is_retried_with_its_body() {
    init_tracing();
    within("refused POST", async {
        let up = H2Fault::start(H2Mode::RefuseFirst(1)).await;
        let client = h2_client();
        let done = fetch(&client, with_body("POST", &up.url("/p"), "hello"))
            .await
            .expect("POST");
        assert_eq!(done.status, 200);
        let received = up.received();
        assert_eq!(outcomes(&received, "/p"), ["refused", "answered"]);
        let answered = received
            .iter()
            .find(|r| r.outcome == "answered")
            .expect("answered");
        assert_eq!((answered.method.as_str(), answered.body_len), ("POST", 5));
    })
    .await;
}

/// Refused twice: retried once only, then the error reaches the caller.
#[tokio::test]
async fn refused_twice_is_not_retried_again() {
    init_tracing();
    within("refused twice", async {
        let up = H2Fault::start(H2Mode::RefuseFirst(2)).await;
        let client = h2_client();
        let err = fetch(&client, get(&up.url("/twice")))
            .await
            .expect_err("second refusal is final");
        let _ = err.to_string();
        assert_eq!(outcomes(&up.received(), "/twice"), ["refused", "refused"]);
        // The connection still works.
        let done = fetch(&client, get(&up.url("/after"))).await.expect("after");
        assert_eq!(done.status, 200);
    })
    .await;
}

/// Four requests in flight on one connection; GOAWAY(last_stream_id = 1): stream 1 is
/// answered there, the three above it are sent once more on a new connection and answered;
/// stream 1's request is not replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goaway_below_in_flight_streams_retries_only_those_above() {
    init_tracing();
    within("GOAWAY below in-flight", async {
        let up = H2Fault::start(H2Mode::GoAwayBelow {
            streams: 4,
            last_stream_id: 1,
        })
        .await;
        let client = h2_client();
        let mut tasks = Vec::new();
        for (i, method) in ["GET", "GET", "POST", "POST"].into_iter().enumerate() {
            let (client, url) = (client.clone(), up.url(&format!("/r{i}")));
            tasks.push(tokio::spawn(async move {
                let done: Done = if method == "GET" {
                    fetch(&client, get(&url)).await
                } else {
                    fetch(&client, with_body(method, &url, "body!")).await
                }
                .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
                (url, done)
            }));
        }
        let mut on_first = Vec::new();
        let mut on_second = Vec::new();
        for t in tasks {
            let (url, done) = t.await.expect("task");
            assert_eq!(done.status, 200, "{url}");
            match done.header("x-conn") {
                "1" => on_first.push(url),
                "2" => {
                    assert!(url.ends_with(std::str::from_utf8(&done.body).expect("path")));
                    on_second.push(url);
                }
                other => panic!("{url} answered on connection {other}"),
            }
        }
        assert_eq!(
            on_first.len(),
            1,
            "only stream 1 is answered before the GOAWAY"
        );
        assert_eq!(on_second.len(), 3, "the three streams above it are retried");
        assert_eq!(up.connections(), 2);

        let received = up.received();
        let first: Vec<_> = received.iter().filter(|r| r.conn == 1).collect();
        assert_eq!(first.len(), 4, "{received:?}");
        assert_eq!(
            first.iter().filter(|r| r.outcome == "goaway").count(),
            3,
            "{received:?}"
        );
        let second: Vec<_> = received.iter().filter(|r| r.conn == 2).collect();
        assert_eq!(
            second.len(),
            3,
            "exactly the three refused streams: {received:?}"
        );
        for r in &second {
            assert!(
                on_second.iter().any(|u| u.ends_with(&r.path)),
                "{} replayed but was answered on connection 1",
                r.path
            );
            let want = if r.method == "POST" { 5 } else { 0 };
            assert_eq!(r.body_len, want, "{} body on replay", r.path);
        }
    })
    .await;
}
