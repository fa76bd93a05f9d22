//! Issue #5 point 2: ambiguous and malformed HTTP/1 requests are refused before any byte
//! reaches an upstream, with 400 (431 / 414 / 501 where those fit), and the connection is
//! closed. Every case is sent raw on a fresh connection and asserts the status, that
//! nothing else comes back on the connection, and that the upstream accepted no
//! connection at all. Some of these hyper refuses itself (obs-fold, whitespace before the
//! colon, NUL, >100 headers, a >64 KiB head); the others are the gateway's strict checker
//! (`crates/gateway/src/strict/`). HTTP/2 cases are in `gateway_strict_h2.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use gangway::Running;
use gangway_tests::fault::Fault;
use gangway_tests::gateway::{get, route, start_gateway};
use gangway_tests::raw::RawConn;
use gangway_tests::upstream::{Listening, Upstream};
use gangway_tests::wire::End;
use gangway_tests::{init_tracing, within};

async fn setup(extra: &str) -> (Listening, Running) {
    init_tracing();
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&format!("{}{extra}", route("/", &up.url("")))).await;
    (up, gw)
}

/// Sends `bytes` on a new connection; asserts `status`, that the connection then closes
/// with nothing more, and that the upstream never saw a connection.
async fn refused(addr: SocketAddr, up: &Listening, name: &str, bytes: &[u8], status: u16) {
    let mut c = RawConn::connect(addr).await.expect("connect");
    c.send(bytes).await.expect("send");
    let r = c
        .read_response()
        .await
        .unwrap_or_else(|e| panic!("{name}: no response: {e}"));
    assert_eq!(r.status, status, "{name}: {}", r.body_str());
    let rest = c.read_to_close().await.expect("read to close");
    assert!(
        rest.bytes.is_empty(),
        "{name}: more after the refusal: {:?}",
        String::from_utf8_lossy(&rest.bytes)
    );
    assert_eq!(up.connections_accepted(), 0, "{name}: reached the upstream");
    assert_eq!(up.requests_seen(), 0, "{name}: reached the upstream");
}

fn post(headers: &str, body: &str) -> Vec<u8> {
    format!("POST /x HTTP/1.1\r\nHost: gw.test\r\n{headers}\r\n{body}").into_bytes()
}

async fn refuse_all(cases: &[(&str, Vec<u8>, u16)], extra: &str) {
    let (up, gw) = setup(extra).await;
    within("strict cases", async {
        for (name, bytes, status) in cases {
            refused(gw.addrs[0], &up, name, bytes, *status).await;
        }
    })
    .await;
    // A valid request still goes through afterwards.
    let r = gangway_tests::raw::send_raw(gw.addrs[0], &get("/ok"))
        .await
        .expect("valid request");
    assert_eq!(r.status, 200);
    assert_eq!(up.requests_seen(), 1);
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn ambiguous_framing_is_refused() {
    let te = |v: &str| post(&format!("Transfer-Encoding: {v}\r\n"), "0\r\n\r\n");
    let cl = |v: &str| post(&format!("Content-Length: {v}\r\n"), "abcde");
    let cases = [
        (
            "CL+TE",
            post(
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            400,
        ),
        (
            "TE+CL",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                "0\r\n\r\n",
            ),
            400,
        ),
        (
            "differing CL",
            post("Content-Length: 5\r\nContent-Length: 6\r\n", "abcde"),
            400,
        ),
        ("CL +5", cl("+5"), 400),
        ("CL -1", cl("-1"), 400),
        ("CL space inside", cl("5 5"), 400),
        ("CL hex", cl("0x5"), 400),
        ("CL empty", cl(""), 400),
        ("CL list equal", cl("5, 5"), 400),
        ("CL list differing", cl("5, 6"), 400),
        ("TE identity", te("identity"), 400),
        ("TE xchunked", te("xchunked"), 400),
        ("TE chunked, gzip", te("chunked, gzip"), 400),
        (
            "TE chunked twice",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            400,
        ),
        ("TE gzip, chunked", te("gzip, chunked"), 501),
        (
            "TE on HTTP/1.0",
            b"POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            400,
        ),
    ];
    refuse_all(&cases, "").await;
}

#[tokio::test]
async fn malformed_lines_are_refused() {
    let cases = [
        (
            "obs-fold",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\r\n 2\r\n\r\n".to_vec(),
            400,
        ),
        (
            "bare LF",
            b"GET /x HTTP/1.1\nHost: gw.test\n\n".to_vec(),
            400,
        ),
        (
            "bare LF in one line",
            b"GET /x HTTP/1.1\r\nHost: gw.test\nX-A: 1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "bare CR",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\r2\r\n\r\n".to_vec(),
            400,
        ),
        (
            "NUL in name",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nX\0A: 1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "NUL in value",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\x002\r\n\r\n".to_vec(),
            400,
        ),
        (
            "control in value",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\x1b2\r\n\r\n".to_vec(),
            400,
        ),
        (
            "DEL in value",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\x7f2\r\n\r\n".to_vec(),
            400,
        ),
        (
            "space before colon",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nX-A : 1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "space before colon, TE",
            post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"),
            400,
        ),
        (
            "two Host",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nHost: other.test\r\n\r\n".to_vec(),
            400,
        ),
        (
            "two equal Host",
            b"GET /x HTTP/1.1\r\nHost: gw.test\r\nHost: gw.test\r\n\r\n".to_vec(),
            400,
        ),
        (
            "no Host on 1.1",
            b"GET /x HTTP/1.1\r\nX-A: 1\r\n\r\n".to_vec(),
            400,
        ),
    ];
    refuse_all(&cases, "").await;
}

#[tokio::test]
async fn malformed_chunks_are_refused() {
    let chunked = |body: &str| post("Transfer-Encoding: chunked\r\n", body);
    let cases = [
        ("empty chunk size", chunked("\r\n\r\n"), 400),
        ("chunk size 0x", chunked("0x5\r\nabcde\r\n0\r\n\r\n"), 400),
        ("chunk size sign", chunked("+5\r\nabcde\r\n0\r\n\r\n"), 400),
        (
            "chunk size leading space",
            chunked(" 5\r\nabcde\r\n0\r\n\r\n"),
            400,
        ),
        (
            "chunk size trailing space",
            chunked("5 \r\nabcde\r\n0\r\n\r\n"),
            400,
        ),
        (
            "chunk size overflow",
            chunked("10000000000000000\r\nabcde\r\n0\r\n\r\n"),
            400,
        ),
        ("chunk size bare LF", chunked("5\nabcde\r\n0\r\n\r\n"), 400),
        (
            "chunk longer than its size",
            chunked("5\r\nabcdefgh\r\n0\r\n\r\n"),
            400,
        ),
        ("chunk data bare LF", chunked("5\r\nabcde\n0\r\n\r\n"), 400),
        (
            "trailer obs-fold",
            chunked("0\r\nX-T: 1\r\n 2\r\n\r\n"),
            400,
        ),
    ];
    refuse_all(&cases, "").await;
}

#[tokio::test]
async fn limits_are_431_and_414() {
    let many: String = (0..101).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let big = format!("X-Big: {}\r\n", "a".repeat(65 * 1024));
    let target = format!("/{}", "t".repeat(8 * 1024));
    let cases = [
        ("101 headers", get_raw("/x", &many), 431),
        ("head over 64 KiB", get_raw("/x", &big), 431),
        ("target over 8 KiB", get_raw(&target, ""), 414),
    ];
    refuse_all(&cases, "").await;
}

#[tokio::test]
async fn limits_are_configurable() {
    let eleven: String = (0..11).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let head = format!("X-Big: {}\r\n", "a".repeat(9 * 1024));
    let cases = [
        ("11 headers", get_raw("/x", &eleven), 431),
        ("head over 8 KiB", get_raw("/x", &head), 431),
        (
            "target over 100 bytes",
            get_raw(&format!("/{}", "t".repeat(100)), ""),
            414,
        ),
    ];
    let limits = "[limits]\nmax_headers = 10\nmax_header_bytes = \"8KiB\"\nmax_uri_bytes = 100\n";
    refuse_all(&cases, limits).await;
}

fn get_raw(target: &str, headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: gw.test\r\n{headers}\r\n").into_bytes()
}

#[tokio::test]
async fn pipelined_valid_request_after_a_bad_one_is_not_served() {
    let (up, gw) = setup("").await;
    within("pipelined", async {
        let mut bytes = post(
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "0\r\n\r\n",
        );
        bytes.extend_from_slice(&get("/victim"));
        refused(gw.addrs[0], &up, "CL+TE then valid", &bytes, 400).await;

        // Valid first, then a bad one: the first is served, the second refused, the
        // third never read.
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        let mut bytes = get("/first");
        bytes.extend_from_slice(b"GET /second HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        bytes.extend_from_slice(&get("/third"));
        c.send(&bytes).await.expect("send");
        let first = c.read_response().await.expect("first");
        assert_eq!(first.status, 200);
        assert_eq!(first.header("x-path"), Some("/first"));
        let second = c.read_response().await.expect("second");
        assert_eq!(second.status, 400, "{}", second.body_str());
        assert_eq!(second.header("connection"), Some("close"));
        let rest = c.read_to_close().await.expect("close");
        assert!(
            rest.bytes.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&rest.bytes)
        );
        let paths: Vec<String> = up
            .requests()
            .iter()
            .map(|r| r.uri.path().to_owned())
            .collect();
        assert_eq!(paths, ["/first"]);
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn bad_chunk_arriving_after_forwarding_began_aborts_the_upstream_request() {
    init_tracing();
    // The fault server records only requests it read completely.
    let up = Fault::Stall.run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    within("late bad chunk", async {
        let mut c = RawConn::connect(gw.addrs[0]).await.expect("connect");
        c.send(&post("Transfer-Encoding: chunked\r\n", "5\r\nabcde\r\n"))
            .await
            .expect("send head");
        // Forwarding has begun: the upstream has the connection.
        let connected =
            gangway_tests::wait_until(Duration::from_secs(2), || up.connections_accepted() == 1)
                .await;
        assert!(connected);
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.send(b"zz\r\nabc\r\n0\r\n\r\n")
            .await
            .expect("send bad chunk");
        let r = c.read_response().await.expect("a response");
        assert_eq!(r.status, 400, "{}", r.body_str());
        let rest = c.read_to_close().await.expect("close");
        assert!(matches!(rest.end, End::Complete | End::Error(_)));
        // The upstream connection is closed under the incomplete request.
        let closed =
            gangway_tests::wait_until(Duration::from_secs(2), || up.open_connections() == 0).await;
        assert!(closed, "upstream connection left open");
        assert_eq!(up.requests_seen(), 0, "the upstream got a complete request");
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn content_length_with_leading_zeros_is_forwarded_canonically() {
    // Valid by RFC 9110 (`1*DIGIT`), accepted, and re-emitted as plain decimal so an
    // upstream that reads `010` as octal can't be confused.
    let (up, gw) = setup("").await;
    within("CL 005", async {
        let r =
            gangway_tests::raw::send_raw(gw.addrs[0], &post("Content-Length: 005\r\n", "abcde"))
                .await
                .expect("request");
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "abcde");
        let seen = up.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0]
                .headers
                .get_all("content-length")
                .iter()
                .collect::<Vec<_>>(),
            ["5"]
        );
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}

#[tokio::test]
async fn cors_listeners_refuse_too() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let gw = start_gateway("[[listener]]\naddress = \"127.0.0.1:0\"\nmode = \"cors\"\n").await;
    within("cors mode", async {
        let target = format!("/?url={}", up.url("/x"));
        let bytes = format!(
            "POST {target} HTTP/1.1\r\nHost: gw.test\r\nOrigin: https://app.test\r\n\
             Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        );
        refused(gw.addrs[0], &up, "CORS CL+TE", bytes.as_bytes(), 400).await;
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}
