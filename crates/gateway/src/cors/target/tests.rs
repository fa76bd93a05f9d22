use super::*;

/// (query, expected uri, https, host, port)
type Ok5 = (&'static str, &'static str, bool, &'static str, u16);

#[test]
fn accepts_and_canonicalises() {
    let cases: &[Ok5] = &[
        (
            "url=http://example.com/",
            "http://example.com/",
            false,
            "example.com",
            80,
        ),
        (
            "url=https://example.com",
            "https://example.com/",
            true,
            "example.com",
            443,
        ),
        (
            "url=http%3A%2F%2Fexample.com%2Fa%3Fb%3Dc",
            "http://example.com/a?b=c",
            false,
            "example.com",
            80,
        ),
        (
            "url=HTTP://GOOD.example/",
            "http://good.example/",
            false,
            "good.example",
            80,
        ),
        (
            "url=https://h.example:443/x",
            "https://h.example/x",
            true,
            "h.example",
            443,
        ),
        (
            "url=http://h.example:080/x",
            "http://h.example/x",
            false,
            "h.example",
            80,
        ),
        (
            "url=http://h.example:8080/x",
            "http://h.example:8080/x",
            false,
            "h.example",
            8080,
        ),
        (
            "url=https://h.example:80/",
            "https://h.example:80/",
            true,
            "h.example",
            80,
        ),
        (
            "url=http://h.example?x=1",
            "http://h.example/?x=1",
            false,
            "h.example",
            80,
        ),
        (
            "url=http://h.example/p#frag",
            "http://h.example/p",
            false,
            "h.example",
            80,
        ),
        (
            "url=http://[::1]:8080/a",
            "http://[::1]:8080/a",
            false,
            "::1",
            8080,
        ),
        (
            "url=http://[::FFFF:7f00:1]/",
            "http://[::ffff:7f00:1]/",
            false,
            "::ffff:7f00:1",
            80,
        ),
        ("url=http://127.1/", "http://127.1/", false, "127.1", 80),
        (
            "url=http://LOCALHOST./",
            "http://localhost./",
            false,
            "localhost.",
            80,
        ),
        (
            "url=http://xn--bcher-kva.example/",
            "http://xn--bcher-kva.example/",
            false,
            "xn--bcher-kva.example",
            80,
        ),
        // Path and query stay byte-exact, `+` included; only one decode.
        (
            "url=http://h.example/c++/a+b?q=a+b%26r=%2520",
            "http://h.example/c++/a+b?q=a+b&r=%20",
            false,
            "h.example",
            80,
        ),
        // An unencoded `&` ends the parameter: the client must encode
        // the whole target URL (encodeURIComponent).
        (
            "url=http://h.example/?a=1&b=2",
            "http://h.example/?a=1",
            false,
            "h.example",
            80,
        ),
        (
            "url=http%3A%2F%2Fh.example%2Fa%252Fb",
            "http://h.example/a%2Fb",
            false,
            "h.example",
            80,
        ),
        (
            "url=http://h.example/a%2fb%3F",
            "http://h.example/a/b?",
            false,
            "h.example",
            80,
        ),
        // First `url` wins; other parameters are ignored.
        (
            "a=1&url=http://first.example/&url=http://second.example/",
            "http://first.example/",
            false,
            "first.example",
            80,
        ),
        (
            "xurl=http://no.example/&url=http://yes.example/",
            "http://yes.example/",
            false,
            "yes.example",
            80,
        ),
    ];
    for (query, uri, https, host, port) in cases {
        let t = target_from_query(Some(query)).expect(query);
        assert_eq!(t.uri.to_string(), *uri, "query {query:?}");
        assert_eq!(
            (t.scheme_https, t.host.as_str(), t.port),
            (*https, *host, *port),
            "query {query:?}"
        );
    }
}

#[test]
fn refuses() {
    use TargetError::*;
    let scheme = |s: &str| UnsupportedScheme(s.to_owned());
    let bad = Unparsable("");
    let cases: Vec<(Option<&str>, TargetError)> = vec![
        (None, Missing),
        (Some(""), Missing),
        (Some("url="), Missing),
        (Some("url"), Missing),
        (Some("u=http://h.example/"), Missing),
        (Some("URL=http://h.example/"), Missing),
        (Some("url=file:///etc/passwd"), scheme("file")),
        (Some("url=gopher://h.example/"), scheme("gopher")),
        (Some("url=dict://h.example:11211/"), scheme("dict")),
        (Some("url=ftp://h.example/"), scheme("ftp")),
        (Some("url=ws://h.example/"), scheme("ws")),
        (Some("url=javascript:alert(1)"), scheme("javascript")),
        (Some("url=http://user:pass@198.51.100.10/"), UserInfo),
        (Some("url=http://good.example@127.0.0.1/"), UserInfo),
        (Some("url=http://@h.example/"), UserInfo),
        (Some("url=http%3A%2F%2Fu%40h.example/"), UserInfo),
        (Some("url=http://"), MissingHost),
        (Some("url=http:///x"), MissingHost),
        (Some("url=http://?x"), MissingHost),
        (Some("url=http://:80/"), MissingHost),
        (Some("url=http://h.example:/"), InvalidPort),
        (Some("url=http://h.example:0/"), InvalidPort),
        (Some("url=http://h.example:65536/"), InvalidPort),
        (Some("url=http://h.example:99999/"), InvalidPort),
        (Some("url=http://h.example:+80/"), InvalidPort),
        (Some("url=http://h.example:8x/"), InvalidPort),
        (Some("url=http://[::1]x/"), InvalidPort),
        (Some("url=http://[::1]:/"), InvalidPort),
        (Some("url=http://[::1]:0/"), InvalidPort),
        (Some("url=http://[::1]:65536/"), InvalidPort),
        (Some("url=http://h.example:000080/"), InvalidPort),
        (Some("url=h.example"), bad.clone()),
        (Some("url=//h.example/"), bad.clone()),
        (Some("url=http:/127.0.0.1"), bad.clone()),
        (Some("url=http:\\\\127.0.0.1"), bad.clone()),
        // WHATWG reads `\` as `/` (host good.example); we see userinfo.
        // Either way it is refused.
        (Some("url=http://good.example\\@127.0.0.1/"), UserInfo),
        (Some("url=http://127.0.0.1:80\\@good/"), UserInfo),
        (Some("url=http://h.example/a b"), bad.clone()),
        (Some("url=http://h.example/a%20b"), bad.clone()),
        (Some("url=http://h.example/%0d%0aX:1"), bad.clone()),
        (Some("url=http://h.example/%C3%A9"), bad.clone()),
        (Some("url=http://h.example/%zz"), bad.clone()),
        (Some("url=http://h.example/%4"), bad.clone()),
        (Some("url=http%253A%252F%252Fh.example%252F"), bad.clone()),
        (Some("url=http://h%252e.example/"), bad.clone()),
        (Some("url=http://h!$.example/"), bad.clone()),
        (Some("url=http://h..example/"), bad.clone()),
        (Some("url=http://[v1.x]/"), bad.clone()),
        (Some("url=http://[fe80::1%25lo]/"), bad.clone()),
        (Some("url=http://[fe80::1%2525lo]/"), bad.clone()),
        (Some("url=http://[127.0.0.1]/"), bad.clone()),
        (Some("url=http://[::1/"), bad.clone()),
        (Some("url=http://::1/"), bad.clone()),
        (Some("url=http://[]/"), bad.clone()),
        (Some("url=http://[::1]]/"), InvalidPort),
        (Some("url=http://h.example:80:81/"), bad.clone()),
    ];
    for (query, want) in cases {
        let got = target_from_query(query);
        let same = match (&got, &want) {
            (Err(Unparsable(_)), Unparsable(_)) => true,
            (Err(e), w) => e == w,
            (Ok(_), _) => false,
        };
        assert!(same, "query {query:?}: got {got:?}, want {want:?}");
    }
}

#[test]
fn error_texts() {
    let cases = [
        (
            TargetError::Missing,
            "Required \"url\" query parameter not found.",
        ),
        (
            TargetError::UnsupportedScheme("file".into()),
            "Unsupported scheme \"file\" in \"url\" parameter: only http and https are proxied.",
        ),
        (
            TargetError::MissingHost,
            "The \"url\" parameter has no host.",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}

#[test]
fn percent_decoding_is_single_pass_and_keeps_plus() {
    let cases: &[(&str, Option<&[u8]>)] = &[
        ("a+b", Some(b"a+b")),
        ("%2B", Some(b"+")),
        ("%2b%2F", Some(b"+/")),
        ("%252F", Some(b"%2F")),
        ("%", None),
        ("%2", None),
        ("%g0", None),
        ("%%41", None),
        ("%e2%82%ac", Some(&[0xe2, 0x82, 0xac])),
    ];
    for (input, want) in cases {
        assert_eq!(percent_decode(input).as_deref(), *want, "input {input:?}");
    }
}

/// Issue #18: an international host is converted to its ASCII (punycode) form, and
/// everything downstream sees the converted name; the path must still be encoded.
#[test]
fn international_hosts_become_punycode() {
    let cases: &[(&str, &str, &str, u16)] = &[
        (
            "https://münchen.de/",
            "https://xn--mnchen-3ya.de/",
            "xn--mnchen-3ya.de",
            443,
        ),
        (
            "http://MÜNCHEN.de:8080/a?b=c",
            "http://xn--mnchen-3ya.de:8080/a?b=c",
            "xn--mnchen-3ya.de",
            8080,
        ),
        (
            "https://bücher.example./",
            "https://xn--bcher-kva.example./",
            "xn--bcher-kva.example.",
            443,
        ),
        // Fullwidth letters and digits map to ASCII: the SSRF checks see `localhost`, `127.0.0.1`.
        (
            "http://ｌｏｃａｌｈｏｓｔ:81/",
            "http://localhost:81/",
            "localhost",
            81,
        ),
        (
            "http://１２７.０.０.１/",
            "http://127.0.0.1/",
            "127.0.0.1",
            80,
        ),
        (
            "http://例え.テスト/",
            "http://xn--r8jz45g.xn--zckzah/",
            "xn--r8jz45g.xn--zckzah",
            80,
        ),
    ];
    for &(url, uri, host, port) in cases {
        let query = format!("url={}", encode(url));
        let t = target_from_query(Some(&query)).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            (t.uri.to_string().as_str(), t.host.as_str(), t.port),
            (uri, host, port),
            "{url}"
        );
    }
    for url in [
        "http://münchen.de/straße",       // non-ASCII path: percent-encode it
        "http://ｌｏｃａｌｈｏｓｔ：80/", // fullwidth colon would become a port separator
        "http://a b.de/",
        "http://xn--a.ü/", // invalid punycode label
        "http://ü@h.example/",
        "http://[ü]/",
    ] {
        let query = format!("url={}", encode(url));
        assert!(
            matches!(
                target_from_query(Some(&query)),
                Err(TargetError::Unparsable(_))
            ),
            "{url}"
        );
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
