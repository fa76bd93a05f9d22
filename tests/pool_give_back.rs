//! `Error::take_request`: a request that failed where another server may take it comes
//! back with the error — unsent (its body intact, streamed or not) when no connection could
//! be had, or as the pool's replay copy when an idempotent request was written and the
//! connection closed before a response. A written POST never comes back.

#[path = "pool_common.rs"]
mod common;

use bytes::Bytes;
use common::{fetch, get, with_body};
use gangway_pool::Client;
use gangway_tests::fault::Fault;
use gangway_tests::{init_tracing, within};
use http_body_util::BodyExt;

/// A loopback port nothing listens on (bound, then closed): connecting is refused.
fn refused_addr() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

async fn body_of(req: http::Request<gangway_pool::RequestBody>) -> Bytes {
    req.into_body()
        .collect()
        .await
        .expect("body given back")
        .to_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_port_gives_the_request_back() {
    init_tracing();
    within("refused, given back", async {
        let addr = refused_addr();
        let client = Client::new();
        // A small body (held for replay) and a large one (streamed, never read by the pool).
        for len in [5usize, 200 * 1024] {
            let body: Bytes = (0..len).map(|i| (i % 251) as u8).collect();
            let mut req = with_body("POST", &format!("http://{addr}/up?x=1"), body.clone());
            req.headers_mut()
                .insert("x-mark", http::HeaderValue::from_static("kept"));
            let mut err = fetch(&client, req).await.expect_err("refused");
            assert!(err.is_connect(), "{err}");
            let back = err.take_request().expect("the request comes back");
            assert!(err.take_request().is_none(), "given back once");
            assert_eq!(back.method(), http::Method::POST);
            assert_eq!(back.uri().to_string(), format!("http://{addr}/up?x=1"));
            assert_eq!(back.headers()["x-mark"], "kept");
            assert_eq!(back.headers()["host"], addr.to_string().as_str());
            assert_eq!(body_of(back).await, body, "body of {len} bytes intact");
        }
    })
    .await;
}

/// The server reads the whole request on a fresh connection and closes without answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_get_gives_back_its_replay_copy_post_nothing() {
    init_tracing();
    within("closed before response", async {
        let srv = Fault::StaleRace {
            close_after: 0,
            rst: false,
        }
        .run()
        .await;
        let client = Client::new();

        let mut req = get(&srv.url("/g?q=1"));
        req.headers_mut()
            .insert("x-mark", http::HeaderValue::from_static("kept"));
        let mut err = fetch(&client, req).await.expect_err("closed");
        assert!(err.is_request(), "{err}");
        let back = err.take_request().expect("a GET's replay copy comes back");
        assert_eq!(back.method(), http::Method::GET);
        assert_eq!(back.uri().to_string(), srv.url("/g?q=1"));
        assert_eq!(back.headers()["x-mark"], "kept");
        assert!(body_of(back).await.is_empty());

        let mut err = fetch(&client, with_body("POST", &srv.url("/p"), "once"))
            .await
            .expect_err("closed");
        assert!(err.is_request(), "{err}");
        assert!(
            err.take_request().is_none(),
            "a written POST never comes back"
        );
        // Each was sent once: the pool did not replay either on a fresh connection.
        assert_eq!(srv.requests_seen(), 2);
    })
    .await;
}
