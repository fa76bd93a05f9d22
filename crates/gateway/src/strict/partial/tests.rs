//! The representative of a line in pieces must get the verdict the whole line gets: each
//! head is fed whole (every line checked where it lies), a byte at a time and in two
//! pieces split at every position, and the verdicts compared. The lines are long where a
//! part is summarised (names, methods, targets, versions, values).

use super::super::{Checker, Limits, Verdict, Violation};

const LIMITS: Limits = Limits {
    max_header_bytes: 4096,
    max_headers: 16,
    max_uri_bytes: 64,
};

fn verdict(pieces: &[&[u8]]) -> Option<Verdict> {
    let mut c = Checker::new(LIMITS);
    for p in pieces {
        c.feed(p);
    }
    c.verdict()
}

fn head(request_line: &str, field: &str) -> Vec<u8> {
    format!("{request_line}\r\nHost: a\r\n{field}\r\n\r\n").into_bytes()
}

#[test]
fn split_lines_get_the_whole_line_verdict() {
    let a40 = "a".repeat(40);
    let fields = [
        format!("X-{a40}: v"),
        format!("X-{a40}b c: v"),
        format!("X-{a40} : v"),
        format!("X-{a40}\" : v"),
        format!("X-{a40}\": v"),
        format!("X-{a40}\x01{a40}: v"),
        format!("X-{a40}"),
        format!(" X-{a40}: v"),
        format!("X: {a40}\x01{a40}"),
        format!("X: {a40}\t{a40} "),
        format!("X-{a40}: \x7f"),
        format!("Content-Length: {}3", "0".repeat(50)),
        format!("Content-Length: 3{a40}"),
        format!("Transfer-Encoding: {}chunked", "gzip, ".repeat(10)),
        format!("Transfer-Encoding: {} chunked", " ".repeat(40)),
        "transfer-encodingX: chunked".to_owned(),
        "Transfer-Encoding : chunked".to_owned(),
        "content-length: 3".to_owned(),
        format!("Host{a40}: b"),
        ": v".to_owned(),
        format!("{a40}:{a40}"),
    ];
    let lines = [
        "GET / HTTP/1.1".to_owned(),
        format!("{} / HTTP/1.1", "A".repeat(40)),
        format!("{}({} / HTTP/1.1", "A".repeat(20), "A".repeat(20)),
        format!("{}) / HTTP/1.1", "A".repeat(20)),
        "GET / HTTP/1.1xxxxxxxxxx".to_owned(),
        "GET / HTTP/1.1 ".to_owned(),
        "GET / HTTP/1.1 x y".to_owned(),
        "GET  / HTTP/1.1".to_owned(),
        format!("GET /{} HTTP/1.1", "x".repeat(63)),
        format!("GET /{} HTTP/1.1", "x".repeat(64)),
        format!("GET /{} HTTP/1.1", "x".repeat(200)),
        format!("GET /{}\x01 HTTP/1.1", "x".repeat(62)),
        format!("GET /{}\x01{} HTTP/1.1", "x".repeat(100), "x".repeat(10)),
        format!("GET /{} x HTTP/1.1", "x".repeat(100)),
        format!("(ET /{} HTTP/1.1", "x".repeat(100)),
        "GET / HTTP/1.0".to_owned(),
        "GET / HTTP/1.01".to_owned(),
    ];
    let mut heads: Vec<Vec<u8>> = Vec::new();
    for f in &fields {
        heads.push(head("GET / HTTP/1.1", f));
        // In a trailer section too (no value is parsed there).
        heads.push(
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n{f}\r\n\r\n"
            )
            .into_bytes(),
        );
    }
    for l in &lines {
        heads.push(head(l, "X: y"));
    }
    let mut refused = 0;
    for bytes in &heads {
        let whole = verdict(&[bytes]);
        refused += usize::from(whole.is_some());
        let name = String::from_utf8_lossy(bytes);
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(verdict(&bytewise), whole, "{name:?} byte by byte");
        for at in 0..bytes.len() {
            let got = verdict(&[&bytes[..at], &bytes[at..]]);
            assert_eq!(got, whole, "{name:?} split at {at}");
        }
    }
    // The corpus exercises refusals, not only clean heads.
    assert!(refused > heads.len() / 3, "{refused} of {}", heads.len());
}

#[test]
fn a_long_partial_line_is_not_copied() {
    let mut c = Checker::new(Limits {
        max_header_bytes: 64 * 1024,
        max_headers: 100,
        max_uri_bytes: 8 * 1024,
    });
    c.feed(b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ");
    for _ in 0..60 {
        c.feed(&[b'a'; 1024]);
    }
    assert_eq!(c.verdict(), None);
    assert!(
        c.partial.bytes.capacity() < 64,
        "{}",
        c.partial.bytes.capacity()
    );
    // A long target is kept only up to one byte past the limit.
    let mut c = Checker::new(Limits {
        max_header_bytes: 64 * 1024,
        max_headers: 100,
        max_uri_bytes: 8 * 1024,
    });
    c.feed(b"GET /");
    for _ in 0..60 {
        c.feed(&[b'a'; 1024]);
    }
    assert!(
        c.partial.bytes.len() <= 8 * 1024 + 8,
        "{}",
        c.partial.bytes.len()
    );
    c.feed(b" HTTP/1.1\r\n");
    assert_eq!(
        c.verdict().map(|v| v.violation),
        Some(Violation::TargetTooLong)
    );
}
