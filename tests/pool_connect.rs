//! Connecting with several addresses (Happy Eyeballs, RFC 8305): an address that never
//! answers costs one attempt delay, not the connect timeout.

#[path = "pool_common.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::fetch_ok;
use gangway_pool::{Client, Resolve, Resolving};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use tokio::net::{TcpSocket, TcpStream};

/// Answers every name with the same addresses, in order.
struct Fixed(Vec<SocketAddr>);

impl Resolve for Fixed {
    fn resolve(&self, _host: &str, _port: u16) -> Resolving {
        let addrs = self.0.clone();
        Box::pin(async move { Ok(addrs) })
    }
}

/// A loopback listener that never accepts, with its backlog filled: further SYNs are
/// dropped, so a connect to it hangs. Returns its address and what must stay alive.
async fn black_hole() -> (SocketAddr, tokio::net::TcpListener, Vec<TcpStream>) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut held = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            // A connect that hangs: the backlog is full.
            Err(_) => return (addr, listener, held),
            Ok(Err(e)) => panic!("filling the backlog: {e}"),
        }
    }
    panic!("the backlog never filled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_first_address_is_raced_not_waited_for() {
    init_tracing();
    let (dead, _listener, _held) = black_hole().await;
    let up = Upstream::http1().run().await;
    let client = Client::builder()
        .resolver(Arc::new(Fixed(vec![dead, up.addr()])))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let url = format!("http://eyeballs.test:{}/x", up.addr().port());
    // Bounded wait well under the 30 s connect timeout.
    let done = within("happy eyeballs", fetch_ok(&client, &url)).await;
    assert_eq!(done.status, 200);
    assert_eq!(client.stats().total.connect_errors, 0);
}

/// A per-attempt timeout ends a hanging attempt; with no other address, the request
/// fails as a connect error well before the overall timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_timeout_bounds_a_lone_dead_address() {
    init_tracing();
    let (dead, _listener, _held) = black_hole().await;
    let client = Client::builder()
        .resolver(Arc::new(Fixed(vec![dead])))
        .connect_timeout(Duration::from_secs(30))
        .connect_attempt_timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let url = format!("http://eyeballs.test:{}/x", dead.port());
    let err = within("attempt timeout", common::fetch(&client, common::get(&url)))
        .await
        .expect_err("nothing answers");
    assert!(err.is_connect(), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
}
