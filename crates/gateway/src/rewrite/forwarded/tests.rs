use super::*;

fn cidr(s: &str) -> Cidr {
    s.parse().expect("cidr")
}

fn trusted(list: &[&str]) -> TrustedProxies {
    TrustedProxies::new(list.iter().map(|s| cidr(s)).collect())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in pairs {
        map.append(
            HeaderName::from_bytes(n.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    map
}

fn all(map: &HeaderMap, name: &str) -> Vec<String> {
    map.get_all(name)
        .iter()
        .map(|v| v.to_str().expect("text").to_owned())
        .collect()
}

#[test]
fn cidr_parsing() {
    for (text, shown) in [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("192.0.2.7", "192.0.2.7/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::1", "::1/128"),
        ("::/0", "::/0"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
    ] {
        assert_eq!(cidr(text).to_string(), shown, "{text}");
    }
    for bad in [
        "",
        "10.0.0.0/33",
        "::/129",
        "10.0.0/8",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/-1",
        "example.com",
        "10.0.0.0/8/8",
        " 10.0.0.1",
    ] {
        let e = bad.parse::<Cidr>().expect_err(bad);
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn cidr_contains() {
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    for (block, addr, inside) in [
        ("10.0.0.0/8", "10.255.1.2", true),
        ("10.0.0.0/8", "11.0.0.1", false),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true),
        ("192.0.2.7", "192.0.2.7", true),
        ("192.0.2.7", "192.0.2.8", false),
        ("0.0.0.0/0", "203.0.113.9", true),
        ("0.0.0.0/0", "2001:db8::1", false),
        ("2001:db8::/32", "2001:db8:ffff::1", true),
        ("2001:db8::/32", "2001:db9::1", false),
        ("::/0", "::1", true),
        ("::1", "127.0.0.1", false),
        ("fd00::/8", "fdff::1", true),
    ] {
        assert_eq!(cidr(block).contains(ip(addr)), inside, "{block} ∋ {addr}");
    }
}

fn peer(s: &str) -> SocketAddr {
    s.parse().expect("peer")
}

#[test]
fn untrusted_peer_replaces_and_removes() {
    let host = HeaderValue::from_static("gw.example");
    let mut h = headers(&[
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-for", "5.6.7.8"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil"),
        ("forwarded", "for=1.2.3.4"),
        ("x-real-ip", "1.2.3.4"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-prefix", "/admin"),
        ("x-original-url", "/admin"),
        ("x-rewrite-url", "/admin"),
        ("accept", "*/*"),
    ]);
    let input = ForwardInput {
        peer: peer("198.51.100.3:4000"),
        tls: false,
        host: Some(&host),
        emit_forwarded: false,
    };
    // Trusting someone else changes nothing for this peer.
    for proxies in [trusted(&[]), trusted(&["10.0.0.0/8"])] {
        let mut h = h.clone();
        let client = apply(&mut h, &input, &proxies);
        assert_eq!(client, "198.51.100.3".parse::<IpAddr>().expect("ip"));
        assert_eq!(all(&h, "x-forwarded-for"), ["198.51.100.3"]);
        assert_eq!(all(&h, "x-forwarded-proto"), ["http"]);
        assert_eq!(all(&h, "x-forwarded-host"), ["gw.example"]);
        for name in &UNTRUSTED_REMOVED {
            assert!(!h.contains_key(name), "{name} kept");
        }
        assert_eq!(all(&h, "accept"), ["*/*"]);
    }
    // Without a host, a spoofed X-Forwarded-Host goes.
    let input = ForwardInput {
        host: None,
        ..input
    };
    apply(&mut h, &input, &trusted(&[]));
    assert!(!h.contains_key("x-forwarded-host"));
}

#[test]
fn trusted_peer_appends() {
    let host = HeaderValue::from_static("gw.example");
    let mut h = headers(&[
        ("x-forwarded-for", "203.0.113.5, 10.0.0.9"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "shop.example"),
        ("x-real-ip", "203.0.113.5"),
        ("forwarded", "for=203.0.113.5"),
    ]);
    let input = ForwardInput {
        peer: peer("[::ffff:10.0.0.2]:999"),
        tls: false,
        host: Some(&host),
        emit_forwarded: true,
    };
    let client = apply(&mut h, &input, &trusted(&["10.0.0.0/8"]));
    assert_eq!(client, "203.0.113.5".parse::<IpAddr>().expect("ip"));
    assert_eq!(
        all(&h, "x-forwarded-for"),
        ["203.0.113.5, 10.0.0.9, 10.0.0.2"]
    );
    assert_eq!(all(&h, "x-forwarded-proto"), ["https"]);
    assert_eq!(all(&h, "x-forwarded-host"), ["shop.example"]);
    assert_eq!(all(&h, "x-real-ip"), ["203.0.113.5"]);
    assert_eq!(
        all(&h, "forwarded"),
        ["for=203.0.113.5, for=10.0.0.2;proto=http;host=gw.example"]
    );
}

#[test]
fn client_address_walks_from_the_right() {
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    let proxies = trusted(&["10.0.0.0/8", "2001:db8::/32"]);
    for (peer_ip, xff, client) in [
        // Untrusted peer: the peer, whatever it claims.
        ("198.51.100.1", "1.1.1.1", "198.51.100.1"),
        // Trusted peer: the rightmost untrusted element.
        ("10.0.0.1", "1.1.1.1, 2.2.2.2", "2.2.2.2"),
        ("10.0.0.1", "1.1.1.1, 2.2.2.2, 10.9.9.9", "2.2.2.2"),
        ("10.0.0.1", "2.2.2.2:8080", "2.2.2.2"),
        ("10.0.0.1", "[2001:db9::5]:80", "2001:db9::5"),
        ("2001:db8::7", "2001:db9::5", "2001:db9::5"),
        // All trusted: the leftmost.
        ("10.0.0.1", "10.1.1.1, 10.2.2.2", "10.1.1.1"),
        // Nothing forwarded: the peer.
        ("10.0.0.1", "", "10.0.0.1"),
        // Garbage stops the walk at the trusted hop that wrote it.
        ("10.0.0.1", "1.1.1.1, unknown", "10.0.0.1"),
        ("10.0.0.1", "1.1.1.1, unknown, 10.3.3.3", "10.3.3.3"),
    ] {
        let h = headers(&[("x-forwarded-for", xff)]);
        assert_eq!(
            client_address(ip(peer_ip), &h, &proxies),
            ip(client),
            "{peer_ip} {xff:?}"
        );
    }
}

#[test]
fn forwarded_elements() {
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    let v = HeaderValue::from_static;
    for (client, proto, host, want) in [
        ("192.0.2.7", "http", None, "for=192.0.2.7;proto=http"),
        (
            "2001:db8:cafe::17",
            "https",
            None,
            "for=\"[2001:db8:cafe::17]\";proto=https",
        ),
        ("::ffff:192.0.2.7", "http", None, "for=192.0.2.7;proto=http"),
        (
            "192.0.2.7",
            "http",
            Some(v("example.com")),
            "for=192.0.2.7;proto=http;host=example.com",
        ),
        (
            "192.0.2.7",
            "http",
            Some(v("example.com:8080")),
            "for=192.0.2.7;proto=http;host=\"example.com:8080\"",
        ),
        (
            "192.0.2.7",
            "http",
            Some(v("[::1]:80")),
            "for=192.0.2.7;proto=http;host=\"[::1]:80\"",
        ),
        // A host that cannot be quoted safely is left out.
        (
            "192.0.2.7",
            "http",
            Some(v("a\"b")),
            "for=192.0.2.7;proto=http",
        ),
    ] {
        assert_eq!(forwarded_element(ip(client), proto, host.as_ref()), want);
    }
}

#[test]
fn untrusted_forwarded_is_ours_only() {
    let mut h = headers(&[("forwarded", "for=1.2.3.4;host=evil")]);
    let input = ForwardInput {
        peer: peer("[2001:db8::1]:5000"),
        tls: true,
        host: None,
        emit_forwarded: true,
    };
    apply(&mut h, &input, &trusted(&[]));
    assert_eq!(all(&h, "forwarded"), ["for=\"[2001:db8::1]\";proto=https"]);
    assert_eq!(all(&h, "x-forwarded-for"), ["2001:db8::1"]);
    assert_eq!(all(&h, "x-forwarded-proto"), ["https"]);
}
