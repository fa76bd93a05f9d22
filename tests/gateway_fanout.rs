//! Issue #17 item 2: how much one client may make the gateway hold.
//! - `[limits] max_streams_per_connection` caps the HTTP/2 streams (so the upstream
//!   requests) one client connection has at once: advertised in SETTINGS, and a client
//!   that ignores it gets REFUSED_STREAM for the rest; the upstream sees at most the cap.
//! - A configuration whose limits cannot fit in the open-file limit is refused at start,
//!   naming the numbers.

use std::time::Duration;

use gangway_tests::gateway::{gateway_config, route, start_gateway};
use gangway_tests::h2wire::{frame, PREFACE};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, wait_until, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one frame: (type, flags, stream id, payload).
async fn read_frame(tcp: &mut TcpStream) -> (u8, u8, u32, Vec<u8>) {
    let mut h = [0u8; 9];
    tcp.read_exact(&mut h).await.expect("frame header");
    let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.expect("frame payload");
    let id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
    (h[3], h[4], id, payload)
}

#[tokio::test]
async fn one_h2_connection_holds_at_most_its_stream_cap_upstream() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let toml = format!(
        "{}[limits]\nmax_streams_per_connection = 4\n",
        route("/", &up.url(""))
    );
    let gw = start_gateway(&toml).await;
    within("fan-out", async {
        let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(4, 0, 0, &[]));
        tcp.write_all(&hello).await.expect("preface");
        // The server's SETTINGS advertise the cap (SETTINGS_MAX_CONCURRENT_STREAMS = 3).
        let (kind, flags, _, settings) = read_frame(&mut tcp).await;
        assert_eq!((kind, flags), (4, 0));
        let advertised = settings
            .chunks(6)
            .find(|s| s[..2] == [0, 3])
            .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
        assert_eq!(advertised, Some(4), "{settings:?}");
        // Acknowledged: the cap is in force for what follows on the connection. Then 100
        // requests at once, as a client ignoring the setting would send them; each one
        // stays in flight upstream (the upstream sleeps before answering).
        let mut burst = frame(4, 1, 0, &[]);
        for i in 0..100u32 {
            let mut block = vec![0x82, 0x86, 0x44, 12];
            block.extend_from_slice(b"/sleep/20000");
            block.extend_from_slice(&[0x01, 7]);
            block.extend_from_slice(b"gw.test");
            burst.extend(frame(1, 0x5, 2 * i + 1, &block));
        }
        tcp.write_all(&burst).await.expect("burst");
        let mut refused = 0;
        while refused < 96 {
            let (kind, _, _, payload) = read_frame(&mut tcp).await;
            // RST_STREAM with REFUSED_STREAM (0x7).
            if kind == 3 && payload == [0, 0, 0, 7] {
                refused += 1;
            }
            assert_ne!(kind, 7, "GOAWAY: {payload:?}");
        }
        assert!(
            wait_until(Duration::from_secs(5), || up.in_flight() == 4).await,
            "in flight upstream: {}",
            up.in_flight()
        );
        assert_eq!(up.max_in_flight(), 4);
        assert!(
            up.connections_accepted() <= 4,
            "{}",
            up.connections_accepted()
        );
        assert_eq!(up.requests_seen(), 4);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn limits_beyond_the_open_file_limit_are_refused_at_start() {
    init_tracing();
    let up = Upstream::http1().run().await;
    // 10^12 client connections cannot fit in any RLIMIT_NOFILE.
    let toml = format!(
        "{}{}[limits]\nmax_connections = 1000000000000\n",
        route("/a", &up.url("")),
        route("/b", "http://127.0.0.2:9")
    );
    let config = gateway_config(&toml);
    let Err(e) = gangway::start(&config).await else {
        panic!("started with limits beyond the open-file limit");
    };
    assert!(e.is_fd_limit(), "{e}");
    let msg = e.to_string();
    for part in [
        "max_connections (1000000000000)",
        "max_connections_per_host (1024) × 2 upstream host(s)",
        "RLIMIT_NOFILE",
    ] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
}
