//! Issue #17 item 2: out of file descriptors, the gateway answers `503` where a request
//! needs a new upstream connection, backs off on accept instead of spinning, and recovers
//! once descriptors are free again.
//!
//! The gateway runs in this test's process, so lowering this process's soft
//! `RLIMIT_NOFILE` to the lowest free descriptor number exhausts it; this file holds this
//! one test so that no other test shares the process under the lowered limit (nextest runs
//! each test in its own process anyway). Client sockets are made before the limit drops:
//! connecting an existing socket needs no new descriptor, accepting it does.

use std::time::Duration;

use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::raw::RawConn;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use rlimit::Resource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// The descriptor number the next `open` would get.
fn lowest_free_fd() -> u64 {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open("/dev/null").expect("open /dev/null");
    u64::try_from(f.as_raw_fd()).expect("fd")
}

#[tokio::test]
async fn out_of_fds_is_503_then_recovers() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    within("fd exhaustion", async {
        // Accepted and served before the limit drops (the health check needs no upstream).
        let mut c1 = RawConn::connect(gw.addrs[0]).await.expect("connect");
        let r = c1
            .request(b"GET /healthcheck HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            .await
            .expect("health");
        assert_eq!(r.status, 200);
        let s2 = TcpSocket::new_v4().expect("socket");

        let (soft, hard) = Resource::NOFILE.get().expect("getrlimit");
        Resource::NOFILE
            .set(lowest_free_fd(), hard)
            .expect("lower the soft limit");

        // A request that needs an upstream connection: the socket cannot be made.
        let r = c1
            .request(b"GET /a HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            .await
            .expect("503");
        // A new client is queued by the kernel; the gateway's accept fails and backs off.
        let connected = s2.connect(gw.addrs[0]).await;
        // Time for the accept loop to meet EMFILE (it logs "accept failed; backing off")
        // and back off a few times; nothing waits on it.
        tokio::time::sleep(Duration::from_millis(300)).await;

        Resource::NOFILE.set(soft, hard).expect("restore the limit");
        assert_eq!(r.status, 503, "{}", r.body_str());
        assert!(
            r.body_str().contains("file descriptors"),
            "{}",
            r.body_str()
        );
        assert_eq!(up.connections_accepted(), 0);

        // Recovered: the same connection is served again, and the queued client is
        // accepted at the next try and served.
        let r = c1
            .request(b"GET /b HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            .await
            .expect("after");
        assert_eq!(r.status, 200, "{}", r.body_str());
        let mut s2 = connected.expect("connect");
        s2.write_all(b"GET /c HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")
            .await
            .expect("send");
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s2.read_to_end(&mut got))
            .await
            .expect("served within 10 s")
            .expect("read");
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(up.requests_seen(), 2);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}
