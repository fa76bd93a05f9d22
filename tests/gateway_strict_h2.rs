//! Issue #5 point 2, HTTP/2 side: field values with leading or trailing whitespace are
//! refused with 400 (h2 and `http` let them through; an HTTP/1.1 upstream would see a
//! different value), and connection-specific fields never reach the upstream (the h2
//! crate resets such a stream as malformed; the gateway's own check answers 400 should one
//! get through). The refusal is per stream: the connection keeps working.
//!
//! Clients can't send these through hyper's client, so the frames are written by hand:
//! HPACK literals without Huffman coding, no dynamic table.

use std::net::SocketAddr;

use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::h2wire::{frame, PREFACE};
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;

/// How the gateway answered one stream.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Status(u16),
    Reset(u32),
    GoAway(u32),
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    assert!(s.len() < 127);
    out.push(u8::try_from(s.len()).expect("short"));
    out.extend_from_slice(s);
}

/// `GET /x` to `gw.test` with `fields` as literal, never-indexed fields.
fn request_block(fields: &[(&str, &[u8])]) -> Vec<u8> {
    // :method GET, :scheme http, :path from the static table; :authority with an indexed name.
    let mut out = vec![0x82, 0x86, 0x01];
    string(&mut out, b"gw.test");
    out.push(0x04);
    string(&mut out, b"/x");
    for (name, value) in fields {
        out.push(0x10);
        string(&mut out, name.as_bytes());
        string(&mut out, value);
    }
    out
}

struct H2 {
    tcp: TcpStream,
}

impl H2 {
    async fn connect(addr: SocketAddr) -> H2 {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(PREFACE).await.expect("preface");
        tcp.write_all(&frame(SETTINGS, 0, 0, &[]))
            .await
            .expect("settings");
        H2 { tcp }
    }

    async fn send(&mut self, stream: u32, fields: &[(&str, &[u8])]) {
        // END_STREAM | END_HEADERS
        let f = frame(HEADERS, 0x5, stream, &request_block(fields));
        self.tcp.write_all(&f).await.expect("headers");
    }

    /// Reads frames until `stream` is answered (its response HEADERS or RST_STREAM) or the
    /// connection goes away.
    async fn answer(&mut self, stream: u32) -> Answer {
        loop {
            let mut head = [0u8; 9];
            self.tcp.read_exact(&mut head).await.expect("frame head");
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let (kind, flags) = (head[3], head[4]);
            let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
            let mut payload = vec![0u8; len];
            self.tcp
                .read_exact(&mut payload)
                .await
                .expect("frame payload");
            match kind {
                SETTINGS if flags & 1 == 0 => {
                    self.tcp
                        .write_all(&frame(SETTINGS, 1, 0, &[]))
                        .await
                        .expect("ack");
                }
                HEADERS if id == stream => return Answer::Status(status(&payload)),
                RST_STREAM if id == stream => {
                    return Answer::Reset(u32::from_be_bytes(payload[..4].try_into().expect("4")))
                }
                GOAWAY => {
                    return Answer::GoAway(u32::from_be_bytes(payload[4..8].try_into().expect("4")))
                }
                _ => {}
            }
        }
    }
}

/// The `:status` of a response block: the first field, from the static table.
fn status(block: &[u8]) -> u16 {
    match block.first().map(|b| b & 0x7f) {
        Some(8) => 200,
        Some(9) => 204,
        Some(10) => 206,
        Some(11) => 304,
        Some(12) => 400,
        Some(13) => 404,
        Some(14) => 500,
        other => panic!("unexpected first field {other:?} in {block:?}"),
    }
}

#[tokio::test]
async fn h2_whitespace_and_connection_fields_are_refused() {
    init_tracing();
    let up = Upstream::http1().run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    within("h2 strict", async {
        let mut c = H2::connect(gw.addrs[0]).await;
        let whitespace: [(&str, &[u8]); 3] =
            [("x-a", b" lead"), ("x-a", b"trail\t"), ("x-a", b"trail ")];
        let mut stream = 1;
        for field in whitespace {
            c.send(stream, &[field]).await;
            assert_eq!(c.answer(stream).await, Answer::Status(400), "{field:?}");
            stream += 2;
        }
        let connection: [(&str, &[u8]); 6] = [
            ("connection", b"keep-alive"),
            ("keep-alive", b"timeout=5"),
            ("proxy-connection", b"keep-alive"),
            ("transfer-encoding", b"chunked"),
            ("upgrade", b"websocket"),
            ("te", b"gzip"),
        ];
        for field in connection {
            c.send(stream, &[field]).await;
            let answer = c.answer(stream).await;
            // PROTOCOL_ERROR from h2, or the gateway's own 400.
            assert!(
                answer == Answer::Reset(1) || answer == Answer::Status(400),
                "{field:?}: {answer:?}"
            );
            stream += 2;
        }
        assert_eq!(up.connections_accepted(), 0, "reached the upstream");
        // Refusals are per stream: the same connection still serves a valid request,
        // `te: trailers` (the one allowed value) included.
        c.send(stream, &[("te", b"trailers"), ("x-a", b"in side")])
            .await;
        assert_eq!(c.answer(stream).await, Answer::Status(200));
        let seen = up.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].headers.get("x-a").map(|v| v.as_bytes()),
            Some(&b"in side"[..])
        );
    })
    .await;
    assert_eq!(gw.shutdown().await, 0);
}
