//! Issue #17 item 5: a `101 Switching Protocols` from the upstream is spliced only when the
//! request as forwarded asked for an upgrade and the 101 names a protocol it offered.
//! Otherwise the client gets a 502 and the upstream connection is closed: no raw tunnel
//! past the strict checker and routing. The upstream is a hand-written server that answers
//! every request with a 101 naming a fixed protocol, then echoes what it reads.

use std::net::SocketAddr;

use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::raw::send_raw;
use gangway_tests::{init_tracing, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the switching upstream saw on one connection: the request head, and whether the
/// connection then ended (EOF from the gateway).
#[derive(Debug)]
struct Seen {
    head: String,
    closed: bool,
}

/// Answers each connection's first request with `101` and `Upgrade: proto`, then echoes
/// until EOF; reports each connection on the channel when it ends.
async fn switching_upstream(proto: &'static str) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nupgrade: {proto}\r\nconnection: upgrade\r\n\r\n"
                );
                if sock.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
                let closed = loop {
                    match sock.read(&mut buf).await {
                        Ok(0) => break true,
                        Err(_) => break true,
                        Ok(n) => {
                            if sock.write_all(&buf[..n]).await.is_err() {
                                break true;
                            }
                        }
                    }
                };
                let _ = tx.send(Seen {
                    head: String::from_utf8_lossy(&head).into_owned(),
                    closed,
                });
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_101_that_answers_no_upgrade_is_a_502_and_closes_the_upstream() {
    init_tracing();
    within("101 without upgrade", async {
        let cases: [(&'static str, &str); 3] = [
            // h2c is stripped by the gateway: the forwarded request asks for nothing.
            (
                "h2c",
                "upgrade: h2c\r\nconnection: upgrade, http2-settings\r\nhttp2-settings: AAMAAABkAAQAAP__\r\n",
            ),
            // Upgrade without `Connection: upgrade` is no upgrade request.
            ("websocket", "upgrade: websocket\r\n"),
            // A protocol the client did not offer.
            ("other", "upgrade: websocket\r\nconnection: upgrade\r\n"),
        ];
        for (proto, extra) in cases {
            let (addr, mut seen) = switching_upstream(proto).await;
            let gw = start_gateway(&route("/", &format!("http://{addr}"))).await;
            let req = format!("GET /ws HTTP/1.1\r\nhost: gateway.test\r\n{extra}\r\n");
            let r = send_raw(gw.addrs[0], req.as_bytes()).await.expect("request");
            assert_eq!(r.status, 502, "{proto}: {}", r.body_str());
            let s = seen.recv().await.expect("upstream connection reported");
            assert!(s.closed, "{proto}: upstream connection left open");
            if proto == "h2c" {
                assert!(
                    !s.head.to_ascii_lowercase().contains("upgrade: h2c"),
                    "h2c forwarded: {}",
                    s.head
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_101_that_answers_the_upgrade_is_spliced() {
    init_tracing();
    within("101 spliced", async {
        let (addr, _seen) = switching_upstream("websocket").await;
        let gw = start_gateway(&route("/", &format!("http://{addr}"))).await;
        let mut c = tokio::net::TcpStream::connect(gw.addrs[0]).await.expect("connect");
        c.write_all(b"GET /ws HTTP/1.1\r\nhost: gateway.test\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n")
            .await
            .expect("send");
        // Nothing follows the 101's head until we write: read it byte by byte.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.expect("101 head");
            head.push(b[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
        c.write_all(b"ping").await.expect("tunnel write");
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.expect("echo");
        assert_eq!(&buf, b"ping");
    })
    .await;
}
