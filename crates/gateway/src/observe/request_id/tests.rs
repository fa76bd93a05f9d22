use std::collections::HashSet;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

#[test]
fn sane_or_not() {
    let long = "a".repeat(128);
    let too_long = "a".repeat(129);
    let cases: [(&[u8], bool); 9] = [
        (b"abc-123", true),
        (b"0af7651916cd43dd8448eb211c80319c", true),
        (long.as_bytes(), true),
        (too_long.as_bytes(), false),
        (b"", false),
        (b"has space", false),
        (b"tab\t", false),
        (b"\xc3\xa9", false),
        (b"del\x7f", false),
    ];
    for (value, want) in cases {
        assert_eq!(is_sane(value), want, "{value:?}");
    }
}

#[test]
fn incoming_kept_when_trusted_and_sane() {
    let policy = RequestIdPolicy::default();
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("client-id-1"));
    assert_eq!(policy.choose(&headers), "client-id-1");

    let untrusting = RequestIdPolicy {
        trust_incoming: false,
        ..RequestIdPolicy::default()
    };
    assert_ne!(untrusting.choose(&headers), "client-id-1");

    let custom = RequestIdPolicy {
        header: HeaderName::from_static("x-correlation-id"),
        trust_incoming: true,
    };
    assert_ne!(custom.choose(&headers), "client-id-1");
    headers.insert("x-correlation-id", HeaderValue::from_static("corr"));
    assert_eq!(custom.choose(&headers), "corr");
}

#[test]
fn insane_or_repeated_incoming_replaced() {
    let policy = RequestIdPolicy::default();
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("with space"));
    let id = policy.choose(&headers);
    assert_eq!(id.len(), 32);

    let mut headers = HeaderMap::new();
    headers.append("x-request-id", HeaderValue::from_static("a"));
    headers.append("x-request-id", HeaderValue::from_static("b"));
    assert_eq!(policy.choose(&headers).len(), 32);
}

#[test]
fn generated_ids_are_32_hex_and_unique_across_threads() {
    let per_thread = 10_000;
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|_| generate().to_str().map(str::to_owned).unwrap_or_default())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for handle in handles {
        for id in handle.join().expect("thread") {
            assert_eq!(id.len(), 32, "{id}");
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert!(seen.insert(id), "duplicate id");
        }
    }
    assert_eq!(seen.len(), 4 * per_thread);
}
