//! Error predicates: each failure comes back as the right kind of error, counted once,
//! and a connection that failed is never pooled.

#[path = "pool_common.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{fetch, fetch_ok, get, quiet_h1, read, Counts};
use gangway_pool::Client;
use gangway_tests::body::is_pattern;
use gangway_tests::fault::Fault;
use gangway_tests::tls::TestPki;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http_body_util::BodyExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_connect_error() {
    init_tracing();
    within("refused", async {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        let client = Client::new();
        let err = fetch(&client, get(&format!("http://{addr}/")))
            .await
            .expect_err("nothing listens");
        assert!(err.is_connect(), "{err:?}");
        assert!(
            !err.is_tls() && !err.is_request() && !err.is_timeout(),
            "{err:?}"
        );
        assert_eq!(err.host(), Some(format!("http://{addr}").as_str()));
        assert_eq!(
            Counts::total(&client),
            Counts {
                connect_errors: 1,
                ..Counts::default()
            }
        );
        let s = client.stats().total;
        assert_eq!((s.connecting, s.waiting, s.active, s.idle), (0, 0, 0, 0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_tls_error() {
    init_tracing();
    within("untrusted cert", async {
        let pki = TestPki::new();
        let up = Upstream::tls(&pki, &[b"h2", b"http/1.1"]).run().await;
        // Trusts only the webpki roots, not the test CA.
        let client = Client::new();
        let err = fetch(&client, get(&up.url("/")))
            .await
            .expect_err("untrusted");
        assert!(err.is_tls(), "{err:?}");
        assert!(err.is_connect(), "{err:?}");
        // Trusting another CA fails the same way.
        let other = TestPki::new();
        let client2 = Client::builder()
            .tls_config(other.client_config(&[]))
            .build()
            .expect("client");
        let err = fetch(&client2, get(&up.url("/")))
            .await
            .expect_err("untrusted");
        assert!(err.is_tls(), "{err:?}");
        assert_eq!(up.requests_seen(), 0);
        for c in [&client, &client2] {
            assert_eq!(
                Counts::total(c),
                Counts {
                    connect_errors: 1,
                    ..Counts::default()
                }
            );
        }
    })
    .await;
}

/// The address filter refuses 127.0.0.1: `is_address_refused()`, and the server never
/// sees a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_filter_refusal_never_connects() {
    init_tracing();
    within("address filter", async {
        let up = Upstream::http1().run().await;
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let client = Client::builder()
            .address_filter(Arc::new(
                move |host: &str, port: u16, addrs: &[SocketAddr]| {
                    seen.fetch_add(1, Ordering::SeqCst);
                    if addrs.iter().any(|a| a.ip().is_loopback()) {
                        Err(format!("{host}:{port} resolves to loopback"))
                    } else {
                        Ok(())
                    }
                },
            ))
            .build()
            .expect("client");
        let err = fetch(&client, get(&up.url("/")))
            .await
            .expect_err("refused by the filter");
        assert!(err.is_address_refused(), "{err:?}");
        assert!(err.is_connect(), "{err:?}");
        assert!(err.to_string().contains("resolves to loopback"), "{err}");
        // Also through a name: "localhost" resolves to loopback, the filter sees it.
        let url = format!("http://localhost:{}/", up.addr().port());
        let err = fetch(&client, get(&url)).await.expect_err("refused");
        assert!(err.is_address_refused(), "{err:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            up.connections_accepted(),
            0,
            "the filter let a connection through"
        );
        assert_eq!(
            Counts::total(&client),
            Counts {
                connect_errors: 2,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// A reset in the middle of the body: the body read fails with `is_response_body()`,
/// after the bytes that did arrive (all correct), never a clean short end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_body_is_response_body_error() {
    init_tracing();
    within("reset mid body", async {
        let srv = Fault::ResetMidBody.run().await;
        let client = Client::new();
        let resp = client
            .request(get(&srv.url("/")))
            .await
            .expect("head arrives");
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let mut got = Vec::new();
        let err = loop {
            match body.frame().await {
                Some(Ok(frame)) => got.extend_from_slice(frame.data_ref().expect("data")),
                Some(Err(e)) => break e,
                None => panic!("clean end after {} of 1000000 bytes", got.len()),
            }
        };
        assert!(err.is_response_body(), "{err:?}");
        assert!(!err.is_request() && !err.is_connect(), "{err:?}");
        assert!(got.len() <= 100_000 && is_pattern(&got, 0));
        drop(body);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 1,
                closed_error: 1,
                ..Counts::default()
            }
        );
        assert_eq!(client.stats().total.idle, 0);
    })
    .await;
}

/// A FIN before `Content-Length` is reached: `is_response_body()`, never a clean end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body_is_response_body_error() {
    init_tracing();
    within("truncated body", async {
        let srv = Fault::TruncateBody.run().await;
        let client = Client::new();
        for i in 1..=2 {
            let resp = client
                .request(get(&srv.url("/")))
                .await
                .expect("head arrives");
            assert_eq!(resp.status(), 200);
            let err = read(resp).await.expect_err("a truncated body must fail");
            assert!(err.is_response_body(), "{err:?}");
            quiet_h1(&client).await;
            assert_eq!(
                srv.connections_accepted(),
                i,
                "a failed connection was reused"
            );
        }
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 2,
                closed_error: 2,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// An unparsable response: a request error, and the connection is not pooled (the next
/// request opens a new one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_response_is_request_error_and_not_pooled() {
    init_tracing();
    within("garbage", async {
        let srv = Fault::Garbage.run().await;
        let client = Client::new();
        for i in 1..=2 {
            let err = fetch(&client, get(&srv.url("/")))
                .await
                .expect_err("garbage is not a response");
            assert!(err.is_request(), "{err:?}");
            assert!(!err.is_connect() && !err.is_response_body(), "{err:?}");
            quiet_h1(&client).await;
            assert_eq!(client.stats().total.idle, 0);
            assert_eq!(srv.connections_accepted(), i);
        }
        assert_eq!(srv.requests_seen(), 2, "never retried");
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 2,
                requests: 2,
                closed_error: 2,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// `Connection: close` from the server: the response is fine, the connection is not
/// reused, counted as `closed.server_close`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_response_is_not_reused() {
    init_tracing();
    within("connection close", async {
        let srv = Fault::ConnectionClose.run().await;
        let client = Client::new();
        for i in 1..=3 {
            let done = fetch_ok(&client, &srv.url("/")).await;
            assert_eq!(&done.body[..], b"ok");
            assert_eq!(done.conn_id(), i);
        }
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 3,
                requests: 3,
                closed_server_close: 3,
                ..Counts::default()
            }
        );
    })
    .await;
}
