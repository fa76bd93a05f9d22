use super::*;
use http::{HeaderMap, HeaderValue};
use Violation::*;

const LIMITS: Limits = Limits {
    max_header_bytes: 1024,
    max_headers: 8,
    max_uri_bytes: 64,
};

fn check(bytes: &[u8]) -> Option<Verdict> {
    let mut c = Checker::new(LIMITS);
    c.feed(bytes);
    c.verdict()
}

/// The same bytes fed one at a time must give the same verdict.
fn check_bytewise(bytes: &[u8]) -> Option<Verdict> {
    let mut c = Checker::new(LIMITS);
    for b in bytes {
        c.feed(std::slice::from_ref(b));
    }
    c.verdict()
}

fn v(request: u64, violation: Violation) -> Option<Verdict> {
    Some(Verdict { request, violation })
}

const GET: &str = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

#[test]
fn table() {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "x".repeat(64));
    let max_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "x".repeat(63));
    let long_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "x".repeat(1024)
    );
    let nine = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: 1\r\n".repeat(8));
    let eight = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: 1\r\n".repeat(7));
    let pipelined_bad = format!("{GET}GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    let after_body = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc{GET}\n");
    #[rustfmt::skip]
    let cases: &[(&str, &[u8], Option<Verdict>)] = &[
        // valid
        ("simple get", GET.as_bytes(), None),
        ("http/1.0 without host", b"GET / HTTP/1.0\r\n\r\n", None),
        ("leading CRLF", b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", None),
        ("cl body", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", None),
        ("cl leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 003\r\n\r\nabc", None),
        ("cl repeated equal", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", None),
        ("chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", None),
        ("chunked upper case", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", None),
        ("chunk ext and trailer", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;a=b\r\nabc\r\n00\r\nX: y\r\n\r\n", None),
        ("value with tab and obs-text", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\xff\r\n\r\n", None),
        ("target at the limit", max_target.as_bytes(), None),
        ("fields at the limit", eight.as_bytes(), None),
        // line endings
        ("bare LF in head", b"GET / HTTP/1.1\nHost: a\r\n\r\n", v(0, BareLf)),
        ("bare LF ends head", b"GET / HTTP/1.1\r\nHost: a\r\n\n", v(0, BareLf)),
        ("bare CR in value", b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", v(0, BareCr)),
        ("bare LF before request", b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", v(0, BareLf)),
        ("bare LF after a body", after_body.as_bytes(), v(2, BareLf)),
        // field syntax
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", v(0, ObsFold)),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", v(0, SpaceBeforeColon)),
        ("tab before colon", b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", v(0, SpaceBeforeColon)),
        ("NUL in name", b"GET / HTTP/1.1\r\nHost: a\r\nX\0Y: 1\r\n\r\n", v(0, BadFieldName)),
        ("empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", v(0, BadFieldName)),
        ("NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", v(0, BadFieldValue)),
        ("control in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", v(0, BadFieldValue)),
        ("DEL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", v(0, BadFieldValue)),
        ("no colon", b"GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", v(0, MissingColon)),
        // request line
        ("two spaces", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", v(0, BadRequestLine)),
        ("http/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", v(0, BadRequestLine)),
        ("http/0.9", b"GET /\r\n\r\n", v(0, BadRequestLine)),
        ("control in target", b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", v(0, BadRequestLine)),
        ("target too long", long_target.as_bytes(), v(0, TargetTooLong)),
        // limits
        ("head too large", long_head.as_bytes(), v(0, HeadTooLarge)),
        ("too many fields", nine.as_bytes(), v(0, TooManyFields)),
        // host
        ("no host", b"GET / HTTP/1.1\r\n\r\n", v(0, MissingHost)),
        ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", v(0, MultipleHosts)),
        ("two hosts on 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", v(0, MultipleHosts)),
        ("second request", pipelined_bad.as_bytes(), v(1, MultipleHosts)),
        // content-length
        ("cl plus", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", v(0, BadContentLength)),
        ("cl minus", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", v(0, BadContentLength)),
        ("cl inner space", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", v(0, BadContentLength)),
        ("cl hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n", v(0, BadContentLength)),
        ("cl empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", v(0, BadContentLength)),
        ("cl list equal", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", v(0, BadContentLength)),
        ("cl list differs", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", v(0, BadContentLength)),
        ("cl overflow", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", v(0, BadContentLength)),
        ("cl differ", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", v(0, ConflictingContentLength)),
        ("cl and te", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", v(0, LengthAndTransferEncoding)),
        ("te and cl", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", v(0, LengthAndTransferEncoding)),
        // transfer-encoding
        ("te identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", v(0, BadTransferEncoding)),
        ("te xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", v(0, BadTransferEncoding)),
        ("te chunked not last", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", v(0, BadTransferEncoding)),
        ("te chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", v(0, BadTransferEncoding)),
        ("te empty element", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n", v(0, BadTransferEncoding)),
        ("te with parameter", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", v(0, BadTransferEncoding)),
        ("te on 1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", v(0, BadTransferEncoding)),
        ("te gzip, chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", v(0, UnsupportedTransferEncoding)),
        ("te gzip line + chunked line", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", v(0, UnsupportedTransferEncoding)),
        // chunks
        ("empty chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n\r\n", v(0, BadChunk)),
        ("chunk size 0x", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", v(0, BadChunk)),
        ("chunk size sign", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n", v(0, BadChunk)),
        ("chunk size leading space", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n", v(0, BadChunk)),
        ("chunk size trailing space", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", v(0, BadChunk)),
        ("chunk size overflow", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", v(0, BadChunk)),
        ("chunk size bare LF", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", v(0, BareLf)),
        ("chunk data too long", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", v(0, BadChunk)),
        ("chunk ext control", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a\x01\r\nabc\r\n0\r\n\r\n", v(0, BadChunk)),
        ("trailer obs-fold", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n\r\n", v(0, ObsFold)),
        ("trailer space before colon", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : 1\r\n\r\n", v(0, SpaceBeforeColon)),
    ];
    for (name, bytes, want) in cases {
        assert_eq!(check(bytes), *want, "{name}");
        assert_eq!(check_bytewise(bytes), *want, "{name} (byte by byte)");
        // Every two-piece split: the line-at-a-time fast path meets partial lines.
        for at in 0..bytes.len() {
            let mut c = Checker::new(LIMITS);
            c.feed(&bytes[..at]);
            c.feed(&bytes[at..]);
            assert_eq!(c.verdict(), *want, "{name} (split at {at})");
        }
    }
}

#[test]
fn requests_are_counted_through_bodies() {
    let mut c = Checker::new(LIMITS);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(GET.as_bytes());
    bytes.extend_from_slice(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab\r\nc");
    bytes.extend_from_slice(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    bytes.extend_from_slice(b"2\r\n\r\n\r\n0\r\n\r\n");
    bytes.extend_from_slice(b"\r\nGET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    c.feed(&bytes);
    assert_eq!(c.verdict(), v(3, MultipleHosts));
    // Nothing is checked after the first violation.
    c.feed(b"\n\n\0garbage");
    assert_eq!(c.verdict(), v(3, MultipleHosts));
}

#[test]
fn statuses() {
    assert_eq!(TargetTooLong.status(), 414);
    assert_eq!(HeadTooLarge.status(), 431);
    assert_eq!(TooManyFields.status(), 431);
    assert_eq!(UnsupportedTransferEncoding.status(), 501);
    for v in [
        BareLf,
        BareCr,
        ObsFold,
        MissingHost,
        LengthAndTransferEncoding,
        BadChunk,
    ] {
        assert_eq!(v.status(), 400, "{v}");
    }
}

#[test]
fn h2_fields() {
    let ok = |pairs: &[(&'static str, &'static [u8])]| {
        let mut h = HeaderMap::new();
        for (n, val) in pairs {
            h.append(*n, HeaderValue::from_bytes(val).expect("value"));
        }
        check_h2(&h)
    };
    assert_eq!(ok(&[("x", b"a b"), ("te", b"trailers")]), Ok(()));
    assert_eq!(ok(&[("x", b" a")]), Err(H2Whitespace));
    assert_eq!(ok(&[("x", b"a\t")]), Err(H2Whitespace));
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ] {
        assert_eq!(
            ok(&[("x", b"a"), (name, b"x")]),
            Err(H2ConnectionField),
            "{name}"
        );
    }
    assert_eq!(ok(&[("te", b"gzip")]), Err(H2ConnectionField));
}

/// The whole-line fast path (`scan`) against the general path: fed byte by byte, no line
/// is ever whole in one piece, so `check_bytewise` is the general path alone. Every byte of
/// a few heads replaced by each byte that matters to some rule must get the same verdict.
#[test]
fn whole_lines_agree_with_the_general_path() {
    let heads: &[&[u8]] = &[
        b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com:80\r\nUser-Agent: h2load nghttp2/1.52.0\r\nAccept: */*\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nhost: b\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"\r\nPOST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n",
    ];
    let bytes_that_matter = [
        0x00, b'\t', b'\n', b'\r', b' ', b':', b',', b';', b'0', b'a', b'A', 0x7f, 0x80, 0xff,
    ];
    let tight = Limits {
        max_header_bytes: 64,
        max_headers: 2,
        max_uri_bytes: 4,
    };
    for head in heads {
        for at in 0..head.len() {
            for b in bytes_that_matter {
                let mut bytes = head.to_vec();
                bytes[at] = b;
                for limits in [LIMITS, tight] {
                    let mut whole = Checker::new(limits);
                    whole.feed(&bytes);
                    let mut bytewise = Checker::new(limits);
                    for b in &bytes {
                        bytewise.feed(std::slice::from_ref(b));
                    }
                    assert_eq!(
                        whole.verdict(),
                        bytewise.verdict(),
                        "{:?} {limits:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
        }
    }
}
