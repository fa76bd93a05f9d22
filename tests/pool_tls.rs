//! TLS upstreams with a test CA: ALPN picks h2 or http/1.1 and the response says which.

#[path = "pool_common.rs"]
mod common;

use common::{fetch, fetch_ok, join_all, quiet_h1, settle, spawn_gets, with_body, Counts, Gate};
use gangway_pool::Client;
use gangway_tests::tls::TestPki;
use gangway_tests::tmpdir::TestDir;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http::Version;

/// CA passed as a rustls config; the server prefers h2: HTTP/2, one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_negotiates_h2_with_tls_config() {
    init_tracing();
    within("alpn h2", async {
        let pki = TestPki::new();
        let up = Upstream::tls(&pki, &[b"h2", b"http/1.1"]).run().await;
        let client = Client::builder()
            .tls_config(pki.client_config(&[]))
            .build()
            .expect("client");
        for i in 1..=3 {
            let done = fetch(
                &client,
                with_body("POST", &up.url("/h2"), format!("tls {i}")),
            )
            .await
            .expect("POST over TLS");
            assert_eq!(done.version, Version::HTTP_2);
            assert_eq!(done.header("x-version"), "HTTP/2.0");
            assert_eq!(done.body, format!("tls {i}").as_bytes());
            assert_eq!(done.conn_id(), 1);
            assert_eq!(done.req_seq(), i);
        }
        assert_eq!(up.connections_accepted(), 1);
        settle(&client, "streams ended", |s| s.streams == 0).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 1,
                requests: 3,
                reused: 2,
                ..Counts::default()
            }
        );
        let s = client.stats();
        let host = s
            .host(&format!("https://localhost:{}", up.addr().port()))
            .expect("per-host stats keyed scheme://host:port");
        assert_eq!(host.connections_opened, 1);
    })
    .await;
}

/// CA passed as a PEM file; the server offers only http/1.1: HTTP/1.1, and the pool
/// treats the host as HTTP/1.1 from then on (concurrent requests open their own
/// connections, sequential ones reuse).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_negotiates_http1_with_pem_root() {
    init_tracing();
    within("alpn http/1.1", async {
        let pki = TestPki::new();
        let dir = TestDir::new("pool-tls");
        let ca = pki.write_ca_pem(dir.path());
        let (up, gate) = Gate::install(Upstream::tls(&pki, &[b"http/1.1"]));
        let up = up.run().await;
        let client = Client::builder()
            .add_root_certificates_pem(&ca)
            .build()
            .expect("client");
        let done = fetch_ok(&client, &up.url("/one")).await;
        assert_eq!(done.version, Version::HTTP_11);
        assert_eq!(done.header("x-version"), "HTTP/1.1");
        let done = fetch_ok(&client, &up.url("/two")).await;
        assert_eq!((done.conn_id(), done.req_seq()), (1, 2));

        let tasks = spawn_gets(&client, &up, 4, "/gate/1/x");
        gate.held(&up, 4).await;
        gate.open(1);
        for done in join_all(tasks).await {
            assert_eq!(done.version, Version::HTTP_11);
        }
        assert_eq!(
            up.connections_accepted(),
            4,
            "1 reused + 3 new for 4 concurrent"
        );
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 4,
                requests: 6,
                reused: 2,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// A cold burst against an http/1.1-only TLS server: the pool first assumes h2 (one
/// handshake while the others wait), learns http/1.1 from ALPN, then opens connections
/// for the waiters. Everything succeeds; never more connections than requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_burst_against_http1_only_tls() {
    init_tracing();
    within("cold burst http/1.1 tls", async {
        let pki = TestPki::new();
        let (up, gate) = Gate::install(Upstream::tls(&pki, &[b"http/1.1"]));
        let up = up.run().await;
        let client = Client::builder()
            .tls_config(pki.client_config(&[]))
            .build()
            .expect("client");
        let tasks = spawn_gets(&client, &up, 6, "/gate/1/x");
        gate.held(&up, 6).await;
        gate.open(1);
        for done in join_all(tasks).await {
            assert_eq!(done.version, Version::HTTP_11);
        }
        assert_eq!(up.connections_accepted(), 6);
        quiet_h1(&client).await;
        assert_eq!(
            Counts::total(&client),
            Counts {
                opened: 6,
                requests: 6,
                ..Counts::default()
            }
        );
    })
    .await;
}

/// `http1_only()` offers only http/1.1 even to a server preferring h2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_only_client_gets_http1_from_h2_server() {
    init_tracing();
    within("http1_only over tls", async {
        let pki = TestPki::new();
        let up = Upstream::tls(&pki, &[b"h2", b"http/1.1"]).run().await;
        let client = Client::builder()
            .tls_config(pki.client_config(&[b"h2"]))
            .http1_only()
            .build()
            .expect("client");
        let done = fetch_ok(&client, &up.url("/x")).await;
        assert_eq!(done.version, Version::HTTP_11);
        assert_eq!(done.header("x-version"), "HTTP/1.1");
    })
    .await;
}

/// `http2_only()` against a server offering only http/1.1: a connect error (handshake),
/// not a silent downgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_only_client_refuses_http1_server() {
    init_tracing();
    within("http2_only vs http/1.1 server", async {
        let pki = TestPki::new();
        let up = Upstream::tls(&pki, &[b"http/1.1"]).run().await;
        let client = Client::builder()
            .tls_config(pki.client_config(&[]))
            .http2_only()
            .build()
            .expect("client");
        let err = fetch(&client, common::get(&up.url("/x")))
            .await
            .expect_err("no h2");
        assert!(err.is_connect(), "{err:?}");
        assert_eq!(up.requests_seen(), 0);
        assert_eq!(
            Counts::total(&client),
            Counts {
                connect_errors: 1,
                ..Counts::default()
            }
        );
    })
    .await;
}
