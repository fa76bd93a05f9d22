use super::*;
use http::{Request, Response};

fn req(version: Version, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = Request::builder().version(version).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("test request").into_parts().0
}

fn h1(headers: &[(&str, &str)]) -> http::request::Parts {
    req(Version::HTTP_11, "/users/1?x=1", headers)
}

const UPSTREAM: &str = "http://127.0.0.1:3000/users/1?x=1";

fn rewrite_with(
    mut parts: http::request::Parts,
    client: &str,
    tls: bool,
    preserve_host: bool,
) -> Result<http::request::Parts, RewriteError> {
    let authority = Authority::from_static("127.0.0.1:3000");
    let ctx = RewriteCtx {
        client_addr: client.parse().expect("client addr"),
        inbound_tls: tls,
        upstream_authority: &authority,
        preserve_host,
        via: "gangway",
    };
    let uri: Uri = UPSTREAM.parse().expect("uri");
    rewrite_request(&mut parts, uri, &ctx).map(|()| parts)
}

fn rewrite(parts: http::request::Parts) -> Result<http::request::Parts, RewriteError> {
    rewrite_with(parts, "10.0.0.1:5555", false, false)
}

fn ok(parts: http::request::Parts) -> http::request::Parts {
    rewrite(parts).expect("rewrite succeeds")
}

fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

fn one(headers: &HeaderMap, name: &str) -> Option<String> {
    let all = values(headers, name);
    assert!(all.len() <= 1, "{name}: {all:?}");
    all.into_iter().next()
}

#[test]
fn basic_request() {
    let out = ok(h1(&[("host", "gw.example"), ("accept", "*/*")]));
    assert_eq!(out.uri, UPSTREAM);
    assert_eq!(out.version, Version::HTTP_11);
    let h = &out.headers;
    assert_eq!(one(h, "host").as_deref(), Some("127.0.0.1:3000"));
    assert_eq!(one(h, "x-forwarded-for").as_deref(), Some("10.0.0.1"));
    assert_eq!(one(h, "x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(one(h, "x-forwarded-host").as_deref(), Some("gw.example"));
    assert_eq!(one(h, "via").as_deref(), Some("1.1 gangway"));
    assert_eq!(one(h, "accept").as_deref(), Some("*/*"));
}

#[test]
fn connection_cannot_strip_framing_or_our_headers() {
    let out = ok(h1(&[
        ("host", "gw"),
        (
            "connection",
            "close, X-Forwarded-For, Via, Host, Content-Length, x-forwarded-proto",
        ),
        ("x-forwarded-for", "1.2.3.4"),
        ("via", "1.0 front"),
        ("content-length", "5"),
    ]));
    let h = &out.headers;
    assert_eq!(
        one(h, "x-forwarded-for").as_deref(),
        Some("1.2.3.4, 10.0.0.1")
    );
    assert_eq!(one(h, "via").as_deref(), Some("1.0 front, 1.1 gangway"));
    assert_eq!(one(h, "host").as_deref(), Some("127.0.0.1:3000"));
    assert_eq!(one(h, "content-length").as_deref(), Some("5"));
    assert_eq!(one(h, "x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(one(h, "connection"), None);
}

#[test]
fn connection_nominations_are_removed() {
    let out = ok(h1(&[
        ("host", "gw"),
        ("connection", "keep-alive, Foo"),
        ("connection", " x-secret ,, bad token, \t"),
        ("foo", "1"),
        ("x-secret", "s"),
        ("keep-alive", "timeout=5"),
        ("bar", "2"),
    ]));
    let h = &out.headers;
    for gone in ["connection", "foo", "x-secret", "keep-alive"] {
        assert!(!h.contains_key(gone), "{gone} forwarded");
    }
    assert_eq!(one(h, "bar").as_deref(), Some("2"));
}

#[test]
fn fixed_hop_by_hop_list_is_removed() {
    let out = ok(h1(&[
        ("host", "gw"),
        ("proxy-connection", "keep-alive"),
        ("te", "trailers, gzip"),
        ("trailer", "x-checksum"),
        ("upgrade", "foo"),
        ("proxy-authorization", "Basic eA=="),
        ("proxy-authenticate", "Basic"),
        ("transfer-encoding", "chunked"),
        ("http2-settings", "AAA"),
    ]));
    let h = &out.headers;
    for gone in [
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "transfer-encoding",
        "http2-settings",
        "connection",
    ] {
        assert!(!h.contains_key(gone), "{gone} forwarded");
    }
}

#[test]
fn te_trailers_only_survives_alone() {
    let te = |headers: &[(&str, &str)]| {
        let mut all = vec![("host", "gw"), ("connection", "TE")];
        all.extend_from_slice(headers);
        one(&ok(h1(&all)).headers, "te")
    };
    assert_eq!(te(&[("te", "trailers")]).as_deref(), Some("trailers"));
    assert_eq!(te(&[("te", " Trailers ")]).as_deref(), Some("trailers"));
    assert_eq!(te(&[("te", "gzip")]), None);
    assert_eq!(te(&[("te", "trailers, gzip")]), None);
    assert_eq!(te(&[("te", "trailers"), ("te", "trailers")]), None);
}

#[test]
fn x_forwarded_for_is_appended_and_joined() {
    let out = ok(h1(&[
        ("host", "gw"),
        ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
        ("x-forwarded-for", " 3.3.3.3 "),
        ("x-forwarded-for", ""),
    ]));
    assert_eq!(
        one(&out.headers, "x-forwarded-for").as_deref(),
        Some("1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.1")
    );
}

#[test]
fn client_addresses_are_written_canonically() {
    for (client, want) in [
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[::ffff:192.0.2.7]:1", "192.0.2.7"),
        ("192.0.2.8:1", "192.0.2.8"),
    ] {
        let out = rewrite_with(h1(&[("host", "gw")]), client, true, false).expect("rewrite");
        assert_eq!(one(&out.headers, "x-forwarded-for").as_deref(), Some(want));
        assert_eq!(
            one(&out.headers, "x-forwarded-proto").as_deref(),
            Some("https")
        );
    }
}

#[test]
fn client_forwarding_headers_are_overwritten() {
    let out = ok(h1(&[
        ("host", "gw"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil"),
    ]));
    assert_eq!(
        one(&out.headers, "x-forwarded-proto").as_deref(),
        Some("http")
    );
    assert_eq!(one(&out.headers, "x-forwarded-host").as_deref(), Some("gw"));
}

#[test]
fn host_policy_both_ways() {
    let preserved = rewrite_with(
        h1(&[("host", "gw.example:8443")]),
        "10.0.0.1:1",
        false,
        true,
    )
    .expect("rewrite");
    assert_eq!(
        one(&preserved.headers, "host").as_deref(),
        Some("gw.example:8443")
    );
    let replaced = ok(h1(&[("host", "gw.example:8443")]));
    assert_eq!(
        one(&replaced.headers, "host").as_deref(),
        Some("127.0.0.1:3000")
    );

    // HTTP/2: the client's host is `:authority`, which becomes Host when preserved.
    let h2 = req(Version::HTTP_2, "https://gw.example/users/1", &[]);
    let out = rewrite_with(h2, "10.0.0.1:1", true, true).expect("rewrite");
    assert_eq!(one(&out.headers, "host").as_deref(), Some("gw.example"));
    assert_eq!(
        one(&out.headers, "x-forwarded-host").as_deref(),
        Some("gw.example")
    );
    assert_eq!(one(&out.headers, "via").as_deref(), Some("2 gangway"));
    assert_eq!(out.version, Version::HTTP_11);
}

#[test]
fn host_validation() {
    let err = |parts| rewrite(parts).err();
    assert_eq!(err(h1(&[])), Some(RewriteError::MissingHost));
    assert_eq!(
        err(h1(&[("host", "a"), ("host", "a")])),
        Some(RewriteError::MultipleHosts)
    );
    for bad in ["a@b", "a:99999", "a b", ":80", "", "a:8x"] {
        assert_eq!(
            err(h1(&[("host", bad)])),
            Some(RewriteError::BadHeader("host")),
            "{bad:?}"
        );
    }
    let h2 = |host: &[(&str, &str)]| req(Version::HTTP_2, "https://gw.example/x", host);
    assert_eq!(
        err(h2(&[("host", "other")])),
        Some(RewriteError::HostMismatch)
    );
    assert_eq!(err(h2(&[("host", "GW.example")])), None);
    assert_eq!(
        err(req(Version::HTTP_2, "/x", &[])),
        Some(RewriteError::MissingHost)
    );
    // Absolute-form target on HTTP/1.1 must agree with Host too.
    let absolute = |host| req(Version::HTTP_11, "http://gw.example/x", &[("host", host)]);
    assert_eq!(err(absolute("evil")), Some(RewriteError::HostMismatch));
    assert_eq!(err(absolute("gw.example")), None);
    assert_eq!(RewriteError::MissingHost.to_string(), "missing Host header");
}

#[test]
fn http10_without_host_gets_the_upstream_host() {
    let parts = req(Version::HTTP_10, "/x", &[("x-forwarded-host", "spoofed")]);
    let out = rewrite_with(parts, "10.0.0.1:1", false, true).expect("rewrite");
    assert_eq!(one(&out.headers, "host").as_deref(), Some("127.0.0.1:3000"));
    assert_eq!(one(&out.headers, "x-forwarded-host"), None);
    assert_eq!(one(&out.headers, "via").as_deref(), Some("1.0 gangway"));
}

#[test]
fn content_length_is_canonical() {
    let cl = |headers: &[(&str, &str)]| {
        let mut all = vec![("host", "gw")];
        all.extend_from_slice(headers);
        rewrite(h1(&all)).map(|p| values(&p.headers, "content-length"))
    };
    assert_eq!(cl(&[("content-length", "005")]), Ok(vec!["5".to_owned()]));
    assert_eq!(cl(&[("content-length", "0")]), Ok(vec!["0".to_owned()]));
    assert_eq!(cl(&[("content-length", "00")]), Ok(vec!["0".to_owned()]));
    assert_eq!(cl(&[("content-length", "42")]), Ok(vec!["42".to_owned()]));
    assert_eq!(
        cl(&[("content-length", "5"), ("content-length", "05")]),
        Ok(vec!["5".to_owned()])
    );
    assert_eq!(
        cl(&[("content-length", "5"), ("transfer-encoding", "chunked")]),
        Ok(vec![])
    );
    let bad = Err(RewriteError::BadHeader("content-length"));
    for value in ["+5", "-1", "0x5", "5,5", "", " 5", "99999999999999999999"] {
        assert_eq!(cl(&[("content-length", value)]), bad, "{value:?}");
    }
    assert_eq!(cl(&[("content-length", "5"), ("content-length", "6")]), bad);
}

#[test]
fn websocket_upgrade_keeps_upgrade() {
    let parts = h1(&[
        ("host", "gw"),
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]);
    assert!(is_upgrade_request(&parts));
    let out = ok(parts);
    assert_eq!(one(&out.headers, "connection").as_deref(), Some("upgrade"));
    assert_eq!(one(&out.headers, "upgrade").as_deref(), Some("websocket"));
    assert!(out.headers.contains_key("sec-websocket-key"));
}

#[test]
fn h2c_and_non_11_upgrades_are_stripped() {
    let h2c = h1(&[
        ("host", "gw"),
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAAQAAP__"),
    ]);
    assert!(!is_upgrade_request(&h2c));
    let out = ok(h2c);
    for gone in ["connection", "upgrade", "http2-settings"] {
        assert!(!out.headers.contains_key(gone), "{gone} forwarded");
    }
    let h10 = req(
        Version::HTTP_10,
        "/",
        &[("connection", "upgrade"), ("upgrade", "websocket")],
    );
    assert!(!is_upgrade_request(&h10));
    let no_token = h1(&[("host", "gw"), ("upgrade", "websocket")]);
    assert!(!is_upgrade_request(&no_token));
}

fn resp(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("test response").into_parts().0
}

#[test]
fn response_hop_by_hop_is_removed() {
    let mut parts = resp(
        200,
        &[
            ("connection", "close, X-Internal, Content-Length"),
            ("x-internal", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "close"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("content-length", "3"),
            ("via", "1.1 upstream"),
            ("content-type", "text/plain"),
        ],
    );
    rewrite_response(&mut parts, "gangway", true);
    let h = &parts.headers;
    for gone in [
        "connection",
        "x-internal",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        assert!(!h.contains_key(gone), "{gone} passed back");
    }
    assert_eq!(one(h, "content-length").as_deref(), Some("3"));
    assert_eq!(one(h, "content-type").as_deref(), Some("text/plain"));
    assert_eq!(one(h, "via").as_deref(), Some("1.1 upstream, 1.1 gangway"));
}

#[test]
fn switching_protocols_keeps_upgrade_only_when_upgraded() {
    let headers = [("connection", "Upgrade"), ("upgrade", "websocket")];
    let mut accepted = resp(101, &headers);
    rewrite_response(&mut accepted, "gangway", true);
    assert_eq!(
        one(&accepted.headers, "upgrade").as_deref(),
        Some("websocket")
    );
    assert_eq!(
        one(&accepted.headers, "connection").as_deref(),
        Some("upgrade")
    );
    let mut unasked = resp(101, &headers);
    rewrite_response(&mut unasked, "gangway", false);
    assert!(!unasked.headers.contains_key("upgrade"));
    assert!(!unasked.headers.contains_key("connection"));
}

#[test]
fn client_ips_format_like_display() {
    for ip in [
        "0.0.0.0",
        "1.2.3.4",
        "10.20.30.40",
        "127.0.0.1",
        "100.99.9.255",
        "255.255.255.255",
        "::1",
        "2001:db8::8a2e:370:7334",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        let ip: std::net::IpAddr = ip.parse().expect("test ip");
        let mut buf = [0u8; 64];
        let len = super::format_ip(&mut buf, ip);
        assert_eq!(
            std::str::from_utf8(&buf[..len]).ok(),
            Some(ip.to_string().as_str())
        );
    }
}

#[test]
fn hop_by_hop_index_matches_the_list() {
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        assert_eq!(hop_by_hop_index(name), Some(i), "{name}");
    }
    for other in [HOST, UPGRADE, CONTENT_LENGTH, VIA] {
        assert_eq!(hop_by_hop_index(&other), None, "{other}");
    }
}
