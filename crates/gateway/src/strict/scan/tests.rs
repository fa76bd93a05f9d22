//! The word-at-a-time scanners against a byte-at-a-time reference: every byte value at
//! every position of lines that span one to three words (so hits land in every byte of a
//! word, in the byte tail, and after earlier clean words), high bytes included.

use super::*;

/// A line and what a scanner should make of it.
type Case<'a, T> = (&'a [u8], Option<T>);
/// A field line's name, value and length.
type Field<'a> = (&'a [u8], &'a [u8], usize);

fn value_end_ref(bytes: &[u8], i: usize) -> usize {
    (i..bytes.len())
        .find(|&j| (bytes[j] < 0x20 && bytes[j] != b'\t') || bytes[j] == 0x7f)
        .unwrap_or(bytes.len())
}

fn target_end_ref(bytes: &[u8], i: usize) -> usize {
    (i..bytes.len())
        .find(|&j| !(0x21..0x7f).contains(&bytes[j]))
        .unwrap_or(bytes.len())
}

#[test]
fn scans_agree_with_a_byte_loop_at_every_position() {
    for len in 0..=24 {
        for fill in [b'a', 0x80, 0xff, b'~'] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![fill; len];
                    bytes[at] = b;
                    for start in [0, 1, 7, 8, 9].into_iter().filter(|s| *s <= len) {
                        assert_eq!(
                            value_end(&bytes, start),
                            value_end_ref(&bytes, start),
                            "value_end len {len} fill {fill:#x} byte {b:#x} at {at} from {start}"
                        );
                        assert_eq!(
                            target_end(&bytes, start),
                            target_end_ref(&bytes, start),
                            "target_end len {len} fill {fill:#x} byte {b:#x} at {at} from {start}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_earliest_of_several_hits_wins() {
    // A borrow from a hit may flag bytes above it falsely; only the lowest flag counts.
    for first in 0..16 {
        for second in first + 1..17 {
            for (a, b) in [
                (0x00, 0x00),
                (0x1f, 0x7f),
                (0x7f, 0x00),
                (b'\r', b'\n'),
                (0x00, 0x20),
            ] {
                let mut bytes = vec![b'x'; 17];
                bytes[first] = a;
                bytes[second] = b;
                assert_eq!(value_end(&bytes, 0), value_end_ref(&bytes, 0));
                assert_eq!(target_end(&bytes, 0), target_end_ref(&bytes, 0));
            }
        }
    }
}

#[test]
fn htab_does_not_end_a_value() {
    assert_eq!(value_end(b"a\tb\t\t\tcdefghij\r\n", 0), 14);
    assert_eq!(value_end(b"\t\t\t\t\t\t\t\t\t", 0), 9);
    assert_eq!(value_end(b"\t\t\t\t\t\t\t\t\x7f", 0), 8);
}

#[test]
fn field_lines() {
    #[rustfmt::skip]
    let cases: &[Case<Field>] = &[
        (b"Host: a\r\n", Some((b"Host", b"a", 9))),
        (b"Host:a\r\nX: y\r\n", Some((b"Host", b"a", 8))),
        (b"X: \t a b \t\r\n", Some((b"X", b"a b", 12))),
        (b"X:\r\n", Some((b"X", b"", 4))),
        (b"X: \xff\x80\r\n", Some((b"X", b"\xff\x80", 7))),
        (b"User-Agent: h2load nghttp2/1.52.0\r\n\r\n", Some((b"User-Agent", b"h2load nghttp2/1.52.0", 35))),
        // Not sure: the general path decides.
        (b"Host: a\r", None),
        (b"Host: a", None),
        (b"Host: a\n", None),
        (b"Host: a\rb\r\n", None),
        (b"Host: a\0\r\n", None),
        (b"Host: a\x7f\r\n", None),
        (b"Host : a\r\n", None),
        (b" Host: a\r\n", None),
        (b": a\r\n", None),
        (b"Ho\0st: a\r\n", None),
        (b"Host\r\n", None),
        (b"\r\n", None),
        (b"", None),
    ];
    for (line, want) in cases {
        assert_eq!(
            field_line(line),
            *want,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn request_lines() {
    #[rustfmt::skip]
    let cases: &[Case<(bool, usize)>] = &[
        (b"GET / HTTP/1.1\r\n", Some((false, 16))),
        (b"GET / HTTP/1.0\r\nHost: a\r\n", Some((true, 16))),
        (b"GET /0123456789 HTTP/1.1\r\n", Some((false, 26))),
        (b"GET /01234567890 HTTP/1.1\r\n", None), // target over max_uri (10 + 1)
        (b"GET / HTTP/1.1\r", None),
        (b"GET / HTTP/1.1\n", None),
        (b"GET / HTTP/1.2\r\n", None),
        (b"GET / HTTP/1.1 \r\n", None),
        (b"GET  / HTTP/1.1\r\n", None),
        (b"GET /  HTTP/1.1\r\n", None),
        (b" GET / HTTP/1.1\r\n", None),
        (b"GET /\xff HTTP/1.1\r\n", None),
        (b"GET /\x7f HTTP/1.1\r\n", None),
        (b"GET /\t HTTP/1.1\r\n", None),
        (b"G(T / HTTP/1.1\r\n", None),
        (b"GET /\r\n", None),
        (b"", None),
    ];
    for (line, want) in cases {
        assert_eq!(
            request_line(line, 11),
            *want,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn is_host_is_a_case_insensitive_compare() {
    for name in [&b"host"[..], b"HOST", b"hOsT", b"Host"] {
        assert!(is_host(name), "{name:?}");
    }
    for name in [
        &b"hosts"[..],
        b"hos",
        b"",
        b"h0st",
        b"hos\x14",
        b"H\x0fST",
        b"ho-t",
    ] {
        assert!(!is_host(name), "{name:?}");
    }
    // Against the reference for every byte in every position.
    for at in 0..4 {
        for b in 0..=255u8 {
            let mut name = *b"host";
            name[at] = b;
            assert_eq!(
                is_host(&name),
                name.eq_ignore_ascii_case(b"host"),
                "{name:?}"
            );
        }
    }
}
