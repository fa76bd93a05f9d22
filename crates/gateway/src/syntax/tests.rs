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

/// A split `host[:port]`.
type HostPort<'a> = (&'a str, Option<u16>);

/// The structured errors: the CORS proxy maps each case onto its own `TargetError`.
#[test]
fn authority_errors_say_which_rule() {
    use AuthorityError::*;
    let cases: &[(&str, Result<HostPort<'_>, AuthorityError>)] = &[
        ("h.example", Ok(("h.example", None))),
        ("h.example:080", Ok(("h.example", Some(80)))),
        ("[::ffff:7f00:1]:8080", Ok(("[::ffff:7f00:1]", Some(8080)))),
        ("u@h", Err(UserInfo)),
        (":80", Err(MissingHost)),
        ("", Err(MissingHost)),
        ("[::1", Err(UnclosedBracket)),
        ("[fe80::1%eth0]", Err(ZoneId)),
        ("[fe80::1%25eth0]:80", Err(ZoneId)),
        ("[v1.x]", Err(InvalidIpv6)),
        ("[127.0.0.1]", Err(InvalidIpv6)),
        ("[]", Err(InvalidIpv6)),
        ("::1", Err(UnbracketedIpv6)),
        ("h:1:2", Err(UnbracketedIpv6)),
        ("h:", Err(InvalidPort)),
        ("h:8x", Err(InvalidPort)),
        ("h:+80", Err(InvalidPort)),
        ("h:000080", Err(InvalidPort)),
        ("[::1]x", Err(InvalidPort)),
        ("[::1]:", Err(InvalidPort)),
        ("h:0", Err(PortOutOfRange)),
        ("h:65536", Err(PortOutOfRange)),
        ("[::1]:0", Err(PortOutOfRange)),
    ];
    for (text, want) in cases {
        assert_eq!(split_host_port(text), *want, "{text:?}");
    }
    // The `Host` checker adds `Authority`'s character rules in front of the same grammar.
    assert_eq!(split_authority("h!\"x"), Err(InvalidHost));
    assert_eq!(split_authority("[fe80::1%25eth0]"), Err(ZoneId));
    assert_eq!(split_authority("h:0"), Err(PortOutOfRange));
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

#[test]
fn tchar_table_matches_the_rfc_list() {
    for b in 0..=255u8 {
        let listed = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        assert_eq!(is_tchar(b), listed, "byte {b:#04x}");
    }
}

#[test]
fn simple_authorities_split_like_the_full_grammar() {
    for text in [
        "a", "a:1", "a:65535", "a:65536", "a:0", "a:", ":80", "a:080", "a:123456", "a:1x",
    ] {
        let fast = split_authority(text);
        let full = split_host_port(text);
        assert_eq!(fast, full, "{text:?}");
    }
}

#[test]
fn plain_authorities_are_ones_the_full_grammar_accepts() {
    let cases = [
        "a", "a.b-c", "a:1", "a:65535", "a:65536", "a:0", "a:00000", "a:", ":80", "a:080",
        "a:123456", "a:1x", "a:1:2", "[::1]", "[::1]:80", "a_b", "a@b", "", "A.B:8080",
    ];
    for text in cases {
        if is_plain_authority(text.as_bytes()) {
            assert!(split_authority(text).is_ok(), "{text:?} plain but refused");
        }
    }
    assert!(is_plain_authority(b"127.0.0.1:29181"));
    assert!(is_plain_authority(b"example.com"));
    assert!(!is_plain_authority(b"a:0"));
    assert!(!is_plain_authority(b"a:65536"));
}
