//! #16 item 5, outbound proxies: a forward proxy and a CONNECT proxy written here, on
//! loopback, record what they receive. `http://` targets reach the proxy in absolute-form
//! with `Proxy-Authorization`; `https://` targets open a `CONNECT host:port` tunnel (with
//! the credentials) and TLS runs end to end to the target; `NO_PROXY` sends a host direct;
//! the proxy is part of the pool key.

#[path = "pool_common.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::{fetch, fetch_ok, get};
use gangway_pool::{Client, Proxy};
use gangway_tests::tls::TestPki;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a test proxy received: each request head, as text.
type Seen = Arc<Mutex<Vec<String>>>;

/// Reads one head (up to the blank line) byte by byte; `None` at EOF.
async fn read_head(tcp: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.ok()?);
        if head.len() > 16 * 1024 {
            return None;
        }
    }
    String::from_utf8(head).ok()
}

/// A loopback proxy. `CONNECT host:port` opens a tunnel to 127.0.0.1:port; any other
/// request is answered by the proxy itself with its request line as the body (enough to
/// see the absolute-form), on a kept-alive connection.
async fn test_proxy() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("proxy addr");
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                while let Some(head) = read_head(&mut tcp).await {
                    if let Ok(mut l) = log.lock() {
                        l.push(head.clone());
                    }
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    if let Some(target) = line.strip_prefix("CONNECT ") {
                        let port = target
                            .split(' ')
                            .next()
                            .and_then(|t| t.rsplit(':').next())
                            .and_then(|p| p.parse::<u16>().ok())
                            .unwrap_or(0);
                        let Ok(mut up) = TcpStream::connect(("127.0.0.1", port)).await else {
                            let _ = tcp.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                            return;
                        };
                        let _ = tcp
                            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                            .await;
                        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut up).await;
                        return;
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{line}",
                        line.len()
                    );
                    if tcp.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn heads(seen: &Seen) -> Vec<String> {
    seen.lock().map(|l| l.clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_targets_go_in_absolute_form_with_credentials() {
    init_tracing();
    within("forward proxy", async {
        let (proxy, seen) = test_proxy().await;
        let client = Client::builder()
            .proxy(Proxy::new(&format!("http://user:secret@{proxy}")).expect("proxy url"))
            .build()
            .expect("client");
        for i in 0..2 {
            let done = fetch_ok(&client, &format!("http://backend.test:8080/p/{i}?q=1")).await;
            assert_eq!(
                done.body,
                format!("GET http://backend.test:8080/p/{i}?q=1 HTTP/1.1").as_bytes()
            );
        }
        let heads = heads(&seen);
        assert_eq!(heads.len(), 2, "{heads:?}");
        for head in &heads {
            let lower = head.to_ascii_lowercase();
            assert!(
                lower.contains("\r\nproxy-authorization: basic dxnlcjpzzwnyzxq=\r\n"),
                "{head}"
            );
            assert!(lower.contains("\r\nhost: backend.test:8080\r\n"), "{head}");
        }
        // One kept-alive connection to the proxy, counted under the target's key.
        let stats = client.stats();
        let (key, host) = stats
            .hosts
            .iter()
            .find(|(k, _)| k.starts_with("http://backend.test:8080"))
            .unwrap_or_else(|| panic!("no stats for the target: {stats:?}"));
        assert_eq!(
            key,
            &format!("http://backend.test:8080 via proxy http://{proxy}")
        );
        assert_eq!(host.connections_opened, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_tunnel_through_connect() {
    init_tracing();
    within("connect proxy", async {
        let pki = TestPki::new();
        let up = Upstream::tls(&pki, &[b"h2", b"http/1.1"]).run().await;
        let (proxy, seen) = test_proxy().await;
        let client = Client::builder()
            .tls_config(pki.client_config(&[]))
            .proxy(Proxy::new(&format!("http://user:secret@{proxy}/")).expect("proxy url"))
            .build()
            .expect("client");
        for _ in 0..3 {
            let done = fetch(&client, get(&up.url("/tunnel")))
                .await
                .expect("GET through the tunnel");
            assert_eq!(done.status, 200);
            assert_eq!(done.version, http::Version::HTTP_2, "ALPN runs end to end");
        }
        let heads = heads(&seen);
        assert_eq!(heads.len(), 1, "one tunnel, reused: {heads:?}");
        let port = up.addr().port();
        assert!(
            heads[0].starts_with(&format!(
                "CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n"
            )),
            "{}",
            heads[0]
        );
        assert!(
            heads[0].contains("\r\nProxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n"),
            "{}",
            heads[0]
        );
        assert_eq!(up.requests_seen(), 3);
    })
    .await;
}

/// The only test here that sets environment variables (nextest runs each test in a
/// process of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_proxy_and_no_proxy() {
    init_tracing();
    within("env proxy", async {
        let up = Upstream::http1().run().await;
        let (proxy, seen) = test_proxy().await;
        std::env::set_var("http_proxy", format!("http://{proxy}"));
        std::env::set_var("no_proxy", "direct.test, 127.0.0.1");
        let from_env = Client::builder()
            .proxy_from_env(true)
            .build()
            .expect("client");
        let ignoring = Client::builder().build().expect("client");
        std::env::remove_var("http_proxy");
        std::env::remove_var("no_proxy");

        // 127.0.0.1 is in NO_PROXY: straight to the upstream.
        let done = fetch_ok(&from_env, &up.url("/direct")).await;
        assert_eq!(done.status, 200);
        assert_eq!(up.requests_seen(), 1);
        // Any other host goes through the proxy.
        let done = fetch_ok(&from_env, "http://elsewhere.test/x").await;
        assert_eq!(done.body, &b"GET http://elsewhere.test/x HTTP/1.1"[..]);
        assert_eq!(heads(&seen).len(), 1);
        // Without the opt-in, the environment is not read.
        let done = fetch_ok(&ignoring, &up.url("/plain")).await;
        assert_eq!(done.status, 200);
        assert_eq!(heads(&seen).len(), 1, "no proxy without proxy_from_env");
        assert_eq!(up.requests_seen(), 2);
    })
    .await;
}
