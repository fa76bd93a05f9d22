use super::*;

#[test]
fn ports_are_1_to_65535_everywhere() {
    let cases = [
        ("1", Some(1)),
        ("80", Some(80)),
        ("65535", Some(65535)),
        ("0", None),
        ("00", None),
        ("65536", None),
        ("", None),
        ("+80", None),
        (" 80", None),
        ("8x", None),
        ("000080", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_port(text), want, "{text:?}");
    }
}

/// What `split_authority` gives, errors reduced to `()`.
type Split<'a> = Result<(&'a str, Option<u16>), ()>;

#[test]
fn authorities_split_with_the_same_port_rule() {
    let cases: [(&str, Split<'_>); 9] = [
        ("example.com", Ok(("example.com", None))),
        ("example.com:8080", Ok(("example.com", Some(8080)))),
        ("[::1]:443", Ok(("[::1]", Some(443)))),
        ("[::1]", Ok(("[::1]", None))),
        ("h:0", Err(())),
        ("h:65536", Err(())),
        ("h:", Err(())),
        (":80", Err(())),
        ("user@h", Err(())),
    ];
    for (text, want) in cases {
        assert_eq!(split_authority(text).map_err(|_| ()), want, "{text:?}");
    }
}

#[test]
fn tokens_whitespace_and_decimals() {
    assert!(b"GET".iter().all(|b| is_tchar(*b)));
    assert!(!is_tchar(b' ') && !is_tchar(b':') && !is_tchar(0));
    assert_eq!(trim_ows(b" \t a b\t "), b"a b");
    assert_eq!(trim_ows(b"  "), b"");
    assert_eq!(parse_decimal(b"0042"), Some(42));
    assert_eq!(parse_decimal(b""), None);
    assert_eq!(parse_decimal(b"-1"), None);
    assert_eq!(parse_decimal(b"99999999999999999999"), None);
    assert!(is_dns_name("a-b.example_1.com"));
    assert!(!is_dns_name("a..b") && !is_dns_name(""));
}
