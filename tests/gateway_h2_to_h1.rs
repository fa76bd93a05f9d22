//! Issue #17 items 8 and 9, HTTP/2 clients in front of HTTP/1.1 upstreams: a `:path` with
//! bytes HTTP/1 refuses is refused (400) on HTTP/2 too; `cookie` crumbs reach the upstream
//! joined into one field; the upstream's trailers are filtered like headers (a hop-by-hop
//! field is removed, never aborting the response), and dropped in CORS mode, where they
//! would bypass the response-header rules. And the request id goes out as a never-indexed
//! HPACK literal.

use std::net::SocketAddr;

use bytes::Bytes;
use gangway_tests::gateway::{route, start_gateway};
use gangway_tests::h2wire::{frame, frames, get_headers, PREFACE};
use gangway_tests::raw;
use gangway_tests::upstream::Upstream;
use gangway_tests::{init_tracing, within};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn non_ascii_path_is_refused_and_cookies_are_joined() {
    init_tracing();
    within("h2 path and cookies", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut c = raw::h2c_client::<Empty<Bytes>>(gw.addrs[0])
            .await
            .expect("h2c handshake");
        let uri = Uri::try_from(&b"http://gateway.test/caf\xc3\xa9"[..]).expect("uri");
        let resp = c
            .send_request(Request::get(uri).body(Empty::new()).expect("request"))
            .await
            .expect("response");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(up.requests_seen(), 0);

        let req = Request::get("http://gateway.test/c")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(Empty::new())
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
        let seen = &up.requests()[0];
        let cookies: Vec<_> = seen.headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1; b=2"]);
    })
    .await;
}

/// Answers every request with a chunked `ok` and trailers: `x-sum` (end to end), `te`
/// (hop-by-hop, forbidden in HTTP/2) and `set-cookie`.
async fn trailer_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    head.clear();
                    let reply = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\
                        trailer: x-sum, te, set-cookie\r\naccess-control-allow-origin: *\r\n\r\n\
                        2\r\nok\r\n0\r\nx-sum: 7\r\nte: trailers\r\nset-cookie: s=1\r\n\r\n";
                    if sock.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn trailers_are_filtered_not_fatal() {
    init_tracing();
    within("trailers", async {
        let addr = trailer_upstream().await;
        let gw = start_gateway(&route("/", &format!("http://{addr}"))).await;
        let mut c = raw::h2c_client::<Empty<Bytes>>(gw.addrs[0])
            .await
            .expect("h2c handshake");
        let req = Request::get("http://gateway.test/t")
            .header("te", "trailers")
            .body(Empty::new())
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
        let collected = resp.into_body().collect().await.expect("whole body");
        let trailers = collected.trailers().cloned();
        assert_eq!(&collected.to_bytes()[..], b"ok");
        let trailers = trailers.expect("trailers forwarded");
        assert_eq!(trailers["x-sum"], "7");
        assert!(trailers.get("te").is_none(), "{trailers:?}");
    })
    .await;
}

#[tokio::test]
async fn cors_mode_drops_the_targets_trailers() {
    init_tracing();
    within("cors trailers", async {
        let addr = trailer_upstream().await;
        let toml = format!(
            "[[listener]]\naddress = \"127.0.0.1:0\"\nmode = \"cors\"\n\n\
             [cors]\nallow_targets = [\"{addr}\"]\nallow_origins = [\"*\"]\n"
        );
        let gw = start_gateway(&toml).await;
        let mut c = raw::h2c_client::<Empty<Bytes>>(gw.addrs[0])
            .await
            .expect("h2c handshake");
        let req = Request::get(format!("http://gateway.test/?url=http%3A%2F%2F{addr}%2Ft"))
            .header("origin", "http://app.test")
            .header("te", "trailers")
            .body(Empty::new())
            .expect("request");
        let resp = c.send_request(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK);
        let collected = resp.into_body().collect().await.expect("whole body");
        assert!(collected.trailers().is_none(), "{:?}", collected.trailers());
        assert_eq!(&collected.to_bytes()[..], b"ok");
    })
    .await;
}

/// The request id of each HTTP/2 response is sent as a never-indexed literal: a value that
/// never repeats would otherwise take an HPACK table entry per response, evicting the ones
/// that repeat. Read from the raw frames (a decoding client does not show how a field was
/// coded); every other field of these responses may be indexed, so exactly one field of
/// each response head is never-indexed.
#[tokio::test]
async fn request_ids_are_never_indexed_in_hpack() {
    init_tracing();
    within("h2 request id coding", async {
        let up = Upstream::http1().run().await;
        let gw = start_gateway(&route("/", &up.url(""))).await;
        let mut sock = tokio::net::TcpStream::connect(gw.addrs[0])
            .await
            .expect("connect");
        let mut out = PREFACE.to_vec();
        out.extend(frame(4, 0, 0, &[])); // SETTINGS, all defaults
        for stream in [1u32, 3, 5] {
            // HEADERS, END_STREAM | END_HEADERS
            out.extend(frame(1, 0x5, stream, &get_headers()));
        }
        sock.write_all(&out).await.expect("write");
        let mut never_indexed = Vec::new();
        let mut buf = Vec::new();
        while never_indexed.len() < 3 {
            let mut chunk = [0u8; 4096];
            let n = sock.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before three responses");
            buf.extend_from_slice(&chunk[..n]);
            let (whole, used) = frames(&buf);
            buf.drain(..used);
            for (kind, flags, _, payload) in whole {
                if kind == 4 && flags & 1 == 0 {
                    sock.write_all(&frame(4, 1, 0, &[]))
                        .await
                        .expect("settings ack");
                }
                if kind == 1 {
                    assert_ne!(flags & 0x4, 0, "one HEADERS frame per response head");
                    never_indexed.push(count_never_indexed(&payload));
                }
            }
        }
        assert_eq!(
            never_indexed,
            [1, 1, 1],
            "the request id, and only it, in each head"
        );
        assert_eq!(up.requests_seen(), 3);
    })
    .await;
}

/// Walks an HPACK header block's field representations (RFC 7541 §6) by their lengths
/// alone, counting the never-indexed literals (`0001xxxx`).
fn count_never_indexed(block: &[u8]) -> usize {
    let mut at = 0;
    let mut count = 0;
    while at < block.len() {
        let b = block[at];
        let (prefix, literal) = match b {
            _ if b & 0x80 != 0 => (7, false),    // indexed field
            _ if b & 0xc0 == 0x40 => (6, true),  // literal, incremental indexing
            _ if b & 0xe0 == 0x20 => (5, false), // table size update
            _ => (4, true),                      // literal, not or never indexed
        };
        if b & 0xf0 == 0x10 {
            count += 1;
        }
        let name_index = integer(block, &mut at, prefix);
        if literal {
            if name_index == 0 {
                skip_string(block, &mut at);
            }
            skip_string(block, &mut at);
        }
    }
    count
}

/// An HPACK integer with an N-bit prefix, starting at `block[*at]`.
fn integer(block: &[u8], at: &mut usize, prefix: u32) -> usize {
    let max = (1usize << prefix) - 1;
    let mut value = usize::from(block[*at]) & max;
    *at += 1;
    if value == max {
        let mut shift = 0;
        loop {
            let b = block[*at];
            *at += 1;
            value += (usize::from(b) & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    value
}

fn skip_string(block: &[u8], at: &mut usize) {
    let len = integer(block, at, 7);
    *at += len;
}
