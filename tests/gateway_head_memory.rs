//! Issue #17 item 10: memory per stalled request head. N connections each send 60 KB of a
//! head that never ends (the request line and one long field, no CRLF after it); the
//! gateway (in this process) holds them until `header_read`. Prints the RSS growth per
//! connection, from `/proc/self/status`; the target is ≤ 80 KB. Not a CI test (RSS is a
//! process-wide figure): run it alone,
//!
//! ```text
//! cargo nextest run -p gangway-tests --test gateway_head_memory --run-ignored all --no-capture
//! ```

use std::time::Duration;

use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const CONNECTIONS: usize = 400;
const HEAD_BYTES: usize = 60 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints RSS per stalled head"]
async fn rss_per_stalled_60k_head() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let toml = format!(
        "{}[timeouts]\nheader_read = \"120s\"\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    let mut head = b"GET /stalled HTTP/1.1\r\nHost: gw.test\r\nX-Long: ".to_vec();
    head.resize(HEAD_BYTES, b'a');
    within("stalled heads", async {
        // Warm up the allocator and the runtime with a few, then measure from there.
        let mut conns = Vec::with_capacity(CONNECTIONS + 10);
        for _ in 0..10 {
            let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
            tcp.write_all(&head).await.expect("send");
            conns.push(tcp);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = rss_kib();
        for _ in 0..CONNECTIONS {
            let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
            tcp.write_all(&head).await.expect("send");
            conns.push(tcp);
        }
        // Let the gateway read everything (loopback: well within a second).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib();
        let per = (after.saturating_sub(before)) as f64 / CONNECTIONS as f64;
        println!(
            "stalled {HEAD_BYTES}-byte heads: {CONNECTIONS} connections, RSS {before} KiB → \
             {after} KiB: {per:.1} KiB per connection"
        );
        assert_eq!(up.requests_seen(), 0);
        drop(conns);
    })
    .await;
    gw.shutdown().await;
}
