use super::*;

fn map(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        m.append(
            HeaderName::from_bytes(n.as_bytes()).expect("name"),
            HeaderValue::from_bytes(v).expect("value"),
        );
    }
    m
}

#[test]
fn paths() {
    for (path, ok) in [
        (&b"/"[..], true),
        (b"/a/b?x=1&y=%20", true),
        (b"/~user/!$&'()*+,;=:@", true),
        (b"", false),
        (b"/caf\xc3\xa9", false),
        (b"/a b", false),
        (b"/a\tb", false),
        (b"/a\x7f", false),
        (b"/a\x00", false),
        (b"/\x80", false),
    ] {
        assert_eq!(
            path_is_http1_safe(path),
            ok,
            "{:?}",
            String::from_utf8_lossy(path)
        );
    }
}

#[test]
fn cookie_crumbs_joined() {
    let mut h = map(&[
        ("cookie", b"a=1"),
        ("accept", b"*/*"),
        ("cookie", b"b=2"),
        ("cookie", b"c=3"),
    ]);
    join_cookies(&mut h);
    assert_eq!(h.get_all("cookie").iter().count(), 1);
    assert_eq!(h["cookie"], "a=1; b=2; c=3");
    assert_eq!(h["accept"], "*/*");

    let mut one = map(&[("cookie", b"a=1; b=2")]);
    join_cookies(&mut one);
    assert_eq!(one["cookie"], "a=1; b=2");

    let mut none = map(&[("accept", b"*/*")]);
    join_cookies(&mut none);
    assert!(!none.contains_key("cookie"));

    let mut bytes = map(&[("cookie", b"a=\xe9"), ("cookie", b"b=2")]);
    join_cookies(&mut bytes);
    assert_eq!(bytes["cookie"].as_bytes(), b"a=\xe9; b=2");
}

#[test]
fn trailers_filtered_like_headers() {
    let mut t = map(&[
        ("grpc-status", b"0"),
        ("x-checksum", b"abc"),
        ("connection", b"x-secret, keep-alive"),
        ("x-secret", b"1"),
        ("keep-alive", b"timeout=5"),
        ("transfer-encoding", b"chunked"),
        ("te", b"trailers"),
        ("upgrade", b"h2c"),
        ("proxy-connection", b"close"),
        ("trailer", b"x-checksum"),
        ("content-length", b"5"),
        ("host", b"evil"),
    ]);
    let removed = filter_trailers(&mut t, |_| false);
    assert_eq!(removed, 10);
    let names: Vec<&str> = t.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["grpc-status", "x-checksum"]);
}

/// CORS mode: the target's cookies and CORS answers never reach the browser, not even as
/// trailers.
#[test]
fn cors_rule_applies_to_trailers() {
    let mut t = map(&[
        ("set-cookie", b"session=1"),
        ("access-control-allow-origin", b"*"),
        ("access-control-allow-credentials", b"true"),
        ("grpc-status", b"0"),
    ]);
    let cors_rule = |n: &HeaderName| n == "set-cookie" || n.as_str().starts_with("access-control-");
    assert_eq!(filter_trailers(&mut t, cors_rule), 3);
    assert_eq!(t.len(), 1);
    assert_eq!(t["grpc-status"], "0");
}

#[test]
fn empty_trailers() {
    let mut t = HeaderMap::new();
    assert_eq!(filter_trailers(&mut t, |_| true), 0);
}
