//! Issue #17 item 3: a spliced upgrade (a tunnel) keeps its client connection's
//! `max_connections` permit and shutdown guard, is closed after `[timeouts] tunnel_idle`
//! without traffic, is waited for by graceful shutdown until the grace period and then
//! closed, and is counted in `/metrics` (`gangway_tunnels_open`, `gangway_tunnels_total`).
//! The upstream is a hand-written server that answers `101` (websocket) and echoes.

use std::net::SocketAddr;
use std::time::Duration;

use gangway_tests::gateway::{get, route, start_gateway};
use gangway_tests::raw::send_raw;
use gangway_tests::{init_tracing, wait_until, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Answers each connection's first request with a websocket `101` and echoes until EOF,
/// then reports the connection's end on the channel. A plain `GET /plain` gets a 200.
async fn echo_upstream() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
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
                if head.starts_with(b"GET /plain") {
                    let _ = sock
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    return;
                }
                let reply = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n";
                if sock.write_all(reply).await.is_err() {
                    return;
                }
                loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if sock.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = tx.send(());
            });
        }
    });
    (addr, rx)
}

/// Opens a tunnel through the gateway and checks one echo.
async fn open_tunnel(gw: SocketAddr) -> TcpStream {
    upgrade_and_echo(TcpStream::connect(gw).await.expect("connect")).await
}

/// Asks for a websocket upgrade on `c` and checks one echo through the tunnel.
async fn upgrade_and_echo(mut c: TcpStream) -> TcpStream {
    c.write_all(
        b"GET /ws HTTP/1.1\r\nhost: gateway.test\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
    )
    .await
    .expect("send");
    let head = read_until(&mut c, b"\r\n\r\n", "101 head").await;
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    c.write_all(b"ping").await.expect("tunnel write");
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).await.expect("echo");
    assert_eq!(&buf, b"ping");
    c
}

/// Reads byte by byte until what was read ends with `end` (nothing past it is consumed).
async fn read_until(c: &mut TcpStream, end: &[u8], what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    while !got.ends_with(end) {
        let mut b = [0u8; 1];
        c.read_exact(&mut b).await.expect(what);
        got.push(b[0]);
    }
    got
}

/// Reads until EOF (or an error such as a reset); the tunnel was closed.
async fn until_closed(c: &mut TcpStream) {
    let mut buf = [0u8; 64];
    while let Ok(n) = c.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

#[tokio::test]
async fn an_idle_tunnel_is_closed_after_tunnel_idle() {
    init_tracing();
    within("tunnel idle", async {
        let (addr, mut ended) = echo_upstream().await;
        let toml = format!(
            "{}[timeouts]\ntunnel_idle = \"300ms\"\n",
            route("/", &format!("http://{addr}"))
        );
        let gw = start_gateway(&toml).await;
        let mut c = open_tunnel(gw.addrs[0]).await;
        assert!(
            wait_until(Duration::from_secs(5), || gw
                .app
                .render_metrics()
                .contains("gangway_tunnels_open 1"))
            .await,
            "tunnel counted"
        );
        until_closed(&mut c).await;
        ended.recv().await.expect("upstream side closed too");
        assert!(
            wait_until(Duration::from_secs(5), || gw
                .app
                .render_metrics()
                .contains("gangway_tunnels_open 0"))
            .await,
            "tunnel uncounted"
        );
        assert!(gw.app.render_metrics().contains("gangway_tunnels_total 1"));
    })
    .await;
}

#[tokio::test]
async fn a_tunnel_keeps_its_connection_permit() {
    init_tracing();
    within("tunnel permit", async {
        let (addr, mut ended) = echo_upstream().await;
        let toml = format!(
            "{}[limits]\nmax_connections = 1\n",
            route("/", &format!("http://{addr}"))
        );
        let gw = start_gateway(&toml).await;
        let tunnel = open_tunnel(gw.addrs[0]).await;
        // At the cap: the next connection is not served while the tunnel lives.
        let waiting = tokio::spawn({
            let gw = gw.addrs[0];
            async move { send_raw(gw, &get("/plain")).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "served past max_connections");
        drop(tunnel);
        ended.recv().await.expect("tunnel ended");
        let r = waiting
            .await
            .expect("join")
            .expect("served after the tunnel");
        assert_eq!(r.status, 200);
    })
    .await;
}

#[tokio::test]
async fn shutdown_waits_for_tunnels_then_closes_them() {
    init_tracing();
    within("tunnel shutdown", async {
        let (addr, mut ended) = echo_upstream().await;
        let toml = format!(
            "{}[timeouts]\nshutdown_grace = \"300ms\"\n",
            route("/", &format!("http://{addr}"))
        );
        let gw = start_gateway(&toml).await;
        let mut c = open_tunnel(gw.addrs[0]).await;
        // The tunnel is still live at the deadline, then closed.
        assert_eq!(gw.shutdown().await, 1);
        until_closed(&mut c).await;
        ended.recv().await.expect("upstream side closed");
    })
    .await;
}

#[tokio::test]
async fn an_upgrade_on_a_parked_connection_still_tunnels() {
    init_tracing();
    let (up, _ended) = echo_upstream().await;
    let toml = format!(
        "{}[timeouts]\nclient_park = \"100ms\"\n",
        route("/", &format!("http://{up}"))
    );
    let gw = start_gateway(&toml).await;
    within("upgrade after park", async {
        let mut c = TcpStream::connect(gw.addrs[0]).await.expect("connect");
        c.write_all(&get("/plain")).await.expect("plain");
        let head = read_until(&mut c, b"ok", "plain response").await;
        assert!(
            head.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        // Idle past the park (see tests/gateway_park.rs), then the upgrade on it.
        assert!(
            wait_until(Duration::from_secs(20), || gw
                .app
                .render_metrics()
                .contains("gangway_connections_parked 1\n"))
            .await,
            "parked"
        );
        let c = upgrade_and_echo(c).await;
        drop(c);
    })
    .await;
    gw.shutdown().await;
}
