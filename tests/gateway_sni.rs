//! A TLS listener with several certificates: SNI chooses one (the client sees it), the
//! first is the default, and a request whose host another of the listener's certificates
//! serves gets 421 Misdirected Request, over HTTP/1.1 and HTTP/2, with one access line.

use std::time::Duration;

use bytes::Bytes;
use gangway_tests::access::{json_field, AccessFile};
use gangway_tests::gateway::start_gateway;
use gangway_tests::raw::{self, collect};
use gangway_tests::tls::{tls_connect, TestPki};
use gangway_tests::tmpdir::TestDir;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, wait_until, within};
use http::{Request, StatusCode};
use http_body_util::Empty;
use rustls::pki_types::CertificateDer;

/// The certificate the server presented on this connection.
fn peer_cert(
    tls: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> CertificateDer<'static> {
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("server certificate")
        .clone()
        .into_owned()
}

fn get(uri: &str, host: Option<&str>) -> Request<Empty<Bytes>> {
    let mut b = Request::get(uri);
    if let Some(host) = host {
        b = b.header("host", host);
    }
    b.body(Empty::new()).expect("request")
}

#[tokio::test]
async fn sni_picks_the_certificate_and_a_foreign_host_gets_421() {
    init_tracing();
    let pki = TestPki::new();
    let dir = TestDir::new("sni");
    // A is the default: it also names 127.0.0.1, so a client sending no SNI can verify it.
    let (a_pem, a_key, a_der) = pki.issue(&["a.test", "127.0.0.1"]);
    let (b_pem, b_key, b_der) = pki.issue(&["b.test", "*.b.test"]);
    for (file, text) in [
        ("a.pem", &a_pem),
        ("a.key", &a_key),
        ("b.pem", &b_pem),
        ("b.key", &b_key),
    ] {
        std::fs::write(dir.path().join(file), text).expect("write PEM");
    }
    let access = AccessFile::new("sni-access");
    let up = Upstream::http1().run().await;
    let p = |f: &str| dir.path().join(f).display().to_string();
    let toml = format!(
        "[[listener]]\naddress = \"127.0.0.1:0\"\n\
         tls = {{ cert = \"{}\", key = \"{}\" }}\n\
         certificates = [{{ cert = \"{}\", key = \"{}\" }}]\n\n\
         [[route]]\nprefix = \"/\"\nupstream = \"{}\"\n\n{}",
        p("a.pem"),
        p("a.key"),
        p("b.pem"),
        p("b.key"),
        up.url(""),
        access.log_section()
    );
    let gw = start_gateway(&toml).await;
    let addr = gw.addrs[0];
    within("sni", async {
        // HTTP/1.1: SNI a.test → certificate A; its own host passes, B's host is 421.
        let tls = tls_connect(addr, pki.client_config(&[b"http/1.1"]), "a.test")
            .await
            .expect("connect a.test");
        assert_eq!(peer_cert(&tls), a_der);
        let mut c = raw::h1_handshake(tls).await.expect("h1 handshake");
        let (parts, _) = collect(
            c.send_request(get("/one", Some("A.TEST:443")))
                .await
                .expect("send"),
        )
        .await
        .expect("body");
        assert_eq!(parts.status, StatusCode::OK);
        let (parts, body) = collect(
            c.send_request(get("/two", Some("x.b.test")))
                .await
                .expect("send"),
        )
        .await
        .expect("body");
        assert_eq!(parts.status, StatusCode::MISDIRECTED_REQUEST);
        assert!(
            String::from_utf8_lossy(&body).contains("misdirected"),
            "{body:?}"
        );
        // A host no certificate names is served as before (here: the default's).
        let (parts, _) = collect(
            c.send_request(get("/three", Some("other.test")))
                .await
                .expect("send"),
        )
        .await
        .expect("body");
        assert_eq!(parts.status, StatusCode::OK);

        // HTTP/2: SNI under B's wildcard → certificate B; :authority a.test is 421.
        let tls = tls_connect(addr, pki.client_config(&[b"h2"]), "x.b.test")
            .await
            .expect("connect x.b.test");
        assert_eq!(peer_cert(&tls), b_der);
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut c = raw::h2_handshake(tls).await.expect("h2 handshake");
        let (parts, _) = collect(
            c.send_request(get("https://x.b.test/four", None))
                .await
                .expect("send"),
        )
        .await
        .expect("body");
        assert_eq!(parts.status, StatusCode::OK);
        let (parts, _) = collect(
            c.send_request(get("https://a.test/five", None))
                .await
                .expect("send"),
        )
        .await
        .expect("body");
        assert_eq!(parts.status, StatusCode::MISDIRECTED_REQUEST);

        // No SNI (an IP address): the default certificate.
        let tls = tls_connect(addr, pki.client_config(&[b"http/1.1"]), "127.0.0.1")
            .await
            .expect("connect without SNI");
        assert_eq!(peer_cert(&tls), a_der);
        let mut c = raw::h1_handshake(tls).await.expect("h1 handshake");
        let (parts, _) = collect(
            c.send_request(get("/six", Some("b.test")))
                .await
                .expect("send"),
        )
        .await
        .expect("body");
        assert_eq!(parts.status, StatusCode::MISDIRECTED_REQUEST);
    })
    .await;
    // One access line per request, the 421s among them, none reaching the upstream.
    let done = wait_until(Duration::from_secs(5), || access.lines().len() >= 6).await;
    let lines = access.lines();
    assert!(done && lines.len() == 6, "{lines:#?}");
    let misdirected: Vec<&str> = lines
        .iter()
        .filter(|l| json_field(l, "status") == Some("421"))
        .filter_map(|l| json_field(l, "path"))
        .collect();
    assert_eq!(misdirected, ["/two", "/five", "/six"], "{lines:#?}");
    gw.shutdown().await;
}
