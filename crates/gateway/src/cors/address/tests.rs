use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn host_literals_decode_like_glibc() {
    let cases: &[(&str, Option<&str>)] = &[
        ("127.0.0.1", Some("127.0.0.1")),
        ("127.1", Some("127.0.0.1")),
        ("0x7f.1", Some("127.0.0.1")),
        ("0X7F.1", Some("127.0.0.1")),
        ("2130706433", Some("127.0.0.1")),
        ("0x7f000001", Some("127.0.0.1")),
        ("0177.0.0.1", Some("127.0.0.1")),
        ("0177.1", Some("127.0.0.1")),
        ("127.000.000.001", Some("127.0.0.1")),
        ("0x7f.0.1", Some("127.0.0.1")),
        ("127.0.1", Some("127.0.0.1")),
        ("0x7f.0x0.0.01", Some("127.0.0.1")),
        ("0", Some("0.0.0.0")),
        ("0.0.0.0", Some("0.0.0.0")),
        ("00", Some("0.0.0.0")),
        ("0251.0376.0251.0376", Some("169.254.169.254")),
        ("0xa9fea9fe", Some("169.254.169.254")),
        ("2852039166", Some("169.254.169.254")),
        ("169.254.43518", Some("169.254.169.254")),
        ("0xa9.0376.169.254", Some("169.254.169.254")),
        ("10.1", Some("10.0.0.1")),
        ("4294967295", Some("255.255.255.255")),
        ("0xffffffff", Some("255.255.255.255")),
        ("0x00000000007f.1", Some("127.0.0.1")),
        ("8.8.8.8", Some("8.8.8.8")),
        ("127.0.0.1.", Some("127.0.0.1")), // WHATWG: one trailing dot
        // Not addresses: the resolver would look these up as names.
        ("4294967296", None),
        ("0x100000000", None),
        ("256.0.0.1", None),
        ("1.256.1", None),
        ("127.0.65536", None),
        ("127.16777216", None),
        ("08", None),
        ("0179.0.0.1", None),
        ("0x", None),
        ("0x.1", None),
        ("0xg", None),
        ("127..1", None),
        ("127.0.0.1..", None),
        (".127.0.0.1", None),
        ("1.2.3.4.5", None),
        ("127.0.0.1 ", None),
        ("+127.0.0.1", None),
        ("1.+2.3.4", None),
        ("", None),
        (".", None),
        ("localhost", None),
        ("example.com", None),
        ("127.0.0.1x", None),
        ("1e3", None),
        // IPv6, bracketed or not, zone ids dropped.
        ("[::1]", Some("::1")),
        ("::1", Some("::1")),
        ("[::ffff:127.0.0.1]", Some("::ffff:127.0.0.1")),
        ("[::ffff:7f00:1]", Some("::ffff:127.0.0.1")),
        ("[fe80::1%25lo]", Some("fe80::1")),
        ("fe80::1%lo", Some("fe80::1")),
        ("[FC00::1]", Some("fc00::1")),
        ("[fe80::1%]", None),
        ("[::1", None),
        ("::1]", None),
        ("[127.0.0.1]", None),
        ("[v1.x]", None),
        ("1:2", None),
    ];
    for (host, want) in cases {
        let want = want.map(ip);
        assert_eq!(parse_host_literal(host), want, "host {host:?}");
    }
}

#[test]
fn classifies_ipv4() {
    let cases: &[(&str, Option<&str>)] = &[
        ("0.0.0.0", Some("unspecified")),
        ("0.1.2.3", Some("this-network (0/8)")),
        ("10.0.0.1", Some("private")),
        ("10.9.0.10", Some("private")),
        ("10.255.255.255", Some("private")),
        ("11.0.0.1", None),
        ("100.63.255.255", None),
        ("100.64.0.1", Some("CGNAT")),
        ("100.127.255.255", Some("CGNAT")),
        ("100.128.0.0", None),
        ("127.0.0.1", Some("loopback")),
        ("127.255.255.254", Some("loopback")),
        ("169.254.169.254", Some("link-local (cloud metadata)")),
        ("169.255.0.1", None),
        ("172.15.255.255", None),
        ("172.16.0.1", Some("private")),
        ("172.31.255.255", Some("private")),
        ("172.32.0.0", None),
        ("192.0.0.8", Some("reserved")),
        ("192.0.2.1", Some("documentation")),
        ("192.0.3.1", None),
        ("192.88.99.1", Some("reserved")),
        ("192.168.0.1", Some("private")),
        ("192.169.0.1", None),
        ("198.17.255.255", None),
        ("198.18.0.1", Some("benchmarking")),
        ("198.19.255.255", Some("benchmarking")),
        ("198.20.0.0", None),
        ("198.51.100.10", Some("documentation")),
        ("203.0.113.7", Some("documentation")),
        ("224.0.0.1", Some("multicast")),
        ("239.255.255.255", Some("multicast")),
        ("240.0.0.1", Some("reserved")),
        ("255.255.255.254", Some("reserved")),
        ("255.255.255.255", Some("broadcast")),
        ("1.1.1.1", None),
        ("8.8.8.8", None),
        ("93.184.216.34", None),
        ("223.255.255.255", None),
    ];
    for (addr, want) in cases {
        let want = want.map_or(AddressClass::Public, AddressClass::Refused);
        assert_eq!(classify(ip(addr)), want, "address {addr}");
    }
}

#[test]
fn classifies_ipv6() {
    let cases: &[(&str, Option<&str>)] = &[
        ("::", Some("unspecified")),
        ("::1", Some("loopback")),
        ("::ffff:127.0.0.1", Some("IPv4-mapped loopback")),
        ("::ffff:7f00:1", Some("IPv4-mapped loopback")),
        (
            "::ffff:a9fe:a9fe",
            Some("IPv4-mapped link-local (cloud metadata)"),
        ),
        ("::ffff:10.0.0.1", Some("IPv4-mapped private")),
        ("::ffff:0.0.0.0", Some("IPv4-mapped unspecified")),
        ("::ffff:8.8.8.8", None),
        ("::127.0.0.1", Some("IPv4-compatible (deprecated)")),
        ("::8.8.8.8", Some("IPv4-compatible (deprecated)")),
        ("64:ff9b::7f00:1", Some("NAT64-embedded loopback")),
        (
            "64:ff9b::169.254.169.254",
            Some("NAT64-embedded link-local (cloud metadata)"),
        ),
        ("64:ff9b::8.8.8.8", None),
        ("64:ff9b:1::1", Some("NAT64 local-use")),
        ("100::1", Some("discard")),
        ("2001::1", Some("Teredo")),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some("Teredo")),
        ("2001:2::1", Some("benchmarking")),
        ("2001:10::1", Some("reserved (ORCHID)")),
        ("2001:20::1", Some("reserved (ORCHID)")),
        ("2001:db8::1", Some("documentation")),
        ("3fff::1", Some("documentation")),
        ("3fff:1000::1", None),
        ("2002:7f00:1::", Some("6to4-embedded loopback")),
        (
            "2002:a9fe:a9fe::1",
            Some("6to4-embedded link-local (cloud metadata)"),
        ),
        ("2002:0808:0808::1", None),
        ("fc00::1", Some("IPv6 unique-local")),
        ("fd00:ec2::254", Some("IPv6 unique-local")),
        ("fe80::1", Some("IPv6 link-local")),
        ("febf::1", Some("IPv6 link-local")),
        ("fec0::1", Some("IPv6 site-local (deprecated)")),
        ("ff02::1", Some("multicast")),
        ("ff0e::1", Some("multicast")),
        ("4000::1", Some("reserved")),
        ("1::1", Some("reserved")),
        ("2001:4860:4860::8888", None),
        ("2606:4700:4700::1111", None),
        ("2a00:1450:4001:80b::200e", None),
    ];
    for (addr, want) in cases {
        let want = want.map_or(AddressClass::Public, AddressClass::Refused);
        assert_eq!(classify(ip(addr)), want, "address {addr}");
    }
}

#[test]
fn every_listed_encoding_of_a_private_host_is_refused_before_dns() {
    let hosts = [
        "127.1",
        "0x7f.1",
        "2130706433",
        "0177.0.0.1",
        "0x7f000001",
        "127.000.000.001",
        "0",
        "0.0.0.0",
        "0251.0376.0251.0376",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::1]",
        "[fe80::1]",
        "[fe80::1%25lo]",
        "[fc00::1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "[::]",
    ];
    for host in hosts {
        let addr = parse_host_literal(host).expect("literal");
        assert!(!classify(addr).is_public(), "{host} must be refused");
    }
}

#[test]
fn only_unicast_refusals_are_unlockable() {
    let cases = [
        ("127.0.0.1", true),
        ("10.0.0.1", true),
        ("::1", true),
        ("::ffff:127.0.0.1", true),
        ("0.0.0.0", false),
        ("::", false),
        ("::ffff:0.0.0.0", false),
        ("224.0.0.1", false),
        ("ff02::1", false),
        ("255.255.255.255", false),
    ];
    for (addr, want) in cases {
        let r = refusal(ip(addr)).expect("refused");
        assert_eq!(r.unlockable, want, "address {addr}");
    }
}
