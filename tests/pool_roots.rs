//! Where the pool's trust anchors come from: the bundled webpki roots (default), the
//! operating system's store (feature `native-roots`), PEM files, or a combination.

#[path = "pool_common.rs"]
mod common;

use common::{fetch, fetch_ok, get};
use gangway_pool::Client;
use gangway_tests::tls::TestPki;
use gangway_tests::tmpdir::TestDir;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};

/// The system store is read through rustls-native-certs, which on Linux takes
/// `SSL_CERT_FILE` in place of the distribution's bundle: pointing it at the test CA makes
/// that CA "the system store". Only this test in the file touches the environment (and
/// nextest runs each test in a process of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_roots_load_the_system_store() {
    init_tracing();
    within("native roots", async {
        let pki = TestPki::new();
        let dir = TestDir::new("pool-roots");
        let ca = pki.write_ca_pem(dir.path());
        std::env::set_var("SSL_CERT_FILE", &ca);
        std::env::remove_var("SSL_CERT_DIR");
        let up = Upstream::tls(&pki, &[b"http/1.1"]).run().await;

        // The default (webpki roots only) does not know the test CA.
        let webpki_only = Client::builder().build().expect("client");
        let err = fetch(&webpki_only, get(&up.url("/webpki")))
            .await
            .expect_err("the test CA is not a webpki root");
        assert!(err.is_tls(), "{err}");

        // The system store alone: trusted.
        let native = Client::builder()
            .webpki_roots(false)
            .native_roots(true)
            .build()
            .expect("client with the system store");
        let done = fetch_ok(&native, &up.url("/native")).await;
        assert_eq!(done.header("x-version"), "HTTP/1.1");

        // Both: trusted as well.
        let both = Client::builder()
            .native_roots(true)
            .build()
            .expect("client with both stores");
        fetch_ok(&both, &up.url("/both")).await;
    })
    .await;
}

/// No root source at all is a configuration error at build time, not a TLS failure on
/// every later request.
#[test]
fn no_root_source_is_refused_at_build() {
    let err = Client::builder()
        .webpki_roots(false)
        .build()
        .expect_err("no roots");
    assert!(
        err.to_string().contains("no TLS root certificates"),
        "{err}"
    );
}
