use super::*;

type Strs = &'static [&'static str];
/// `Ok` or the refusal reason.
type Verdict = Result<(), &'static str>;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test socket address")
}

fn pattern(s: &str) -> TargetPattern {
    TargetPattern::parse(s).expect("test pattern")
}

fn policy(allow: &[&str], own: &[&str]) -> TargetPolicy {
    TargetPolicy {
        allow_targets: allow.iter().map(|s| pattern(s)).collect(),
        own_addrs: own.iter().map(|s| sa(s)).collect(),
    }
}

#[test]
fn pattern_parsing() {
    let ok: &[(&str, HostPattern, Option<u16>)] = &[
        ("example.com", HostPattern::Name("example.com".into()), None),
        (
            "Example.COM.",
            HostPattern::Name("example.com".into()),
            None,
        ),
        (
            "api.example.com:8443",
            HostPattern::Name("api.example.com".into()),
            Some(8443),
        ),
        (
            "*.example.com",
            HostPattern::Suffix(".example.com".into()),
            None,
        ),
        (
            "*.Example.com:8443",
            HostPattern::Suffix(".example.com".into()),
            Some(8443),
        ),
        ("localhost", HostPattern::Name("localhost".into()), None),
        (
            "127.0.0.1:3000",
            HostPattern::Ip(IpAddr::from([127, 0, 0, 1])),
            Some(3000),
        ),
        (
            "10.0.0.5",
            HostPattern::Ip(IpAddr::from([10, 0, 0, 5])),
            None,
        ),
        (
            "[::1]:80",
            HostPattern::Ip("::1".parse().expect("v6")),
            Some(80),
        ),
        ("[::1]", HostPattern::Ip("::1".parse().expect("v6")), None),
        ("::1", HostPattern::Ip("::1".parse().expect("v6")), None),
    ];
    for (s, host, port) in ok {
        let p = pattern(s);
        assert_eq!((&p.host, p.port), (host, *port), "pattern {s:?}");
    }
    let bad = [
        "",
        "*",
        "*.",
        "a.*.com",
        "host:",
        "host:0",
        "host:65536",
        "host:+80",
        "host:80:80",
        "[::1",
        "[::1]80",
        "[nope]:80",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
        "bad host",
        "a..b",
        "user@host",
        "host:000080",
        "[::1]:0",
        "[fe80::1%lo]",
        "[fe80::1%25lo]:80",
        "[127.0.0.1]",
        "[]",
        ":80",
    ];
    for s in bad {
        assert!(
            TargetPattern::parse(s).is_err(),
            "pattern {s:?} should fail"
        );
    }
}

#[test]
fn allowlist_host_matching() {
    let cases: &[(&str, &str, u16, bool)] = &[
        ("example.com", "example.com", 443, true),
        ("example.com", "EXAMPLE.com", 80, true),
        ("example.com", "example.com.", 80, true),
        ("example.com", "www.example.com", 80, false),
        ("example.com", "example.com.evil", 80, false),
        ("example.com:8443", "example.com", 8443, true),
        ("example.com:8443", "example.com", 443, false),
        ("*.example.com", "a.example.com", 443, true),
        ("*.example.com", "a.b.example.com", 443, true),
        ("*.example.com", "A.EXAMPLE.COM", 443, true),
        ("*.example.com", "example.com", 443, false),
        ("*.example.com", "badexample.com", 443, false),
        ("*.example.com", "example.com.evil.net", 443, false),
        ("*.example.com:8443", "a.example.com", 8443, true),
        ("*.example.com:8443", "a.example.com", 443, false),
        ("127.0.0.1:3000", "127.0.0.1", 3000, true),
        ("127.0.0.1:3000", "127.1", 3000, true),
        ("127.0.0.1:3000", "127.0.0.1", 3001, false),
        ("127.0.0.1:3000", "localhost", 3000, false),
        ("[::1]:80", "::1", 80, true),
        ("[::1]:80", "0:0::1", 80, true),
        ("*.0.1", "127.0.0.1", 80, false),
        ("*.8.8", "8.8.8.8", 80, false),
    ];
    for (pat, host, port, want) in cases {
        assert_eq!(
            pattern(pat).matches_target(host, *port),
            *want,
            "{pat} vs {host}:{port}"
        );
    }
}

#[test]
fn allowlist_alone_is_checked_before_any_lookup() {
    let open = policy(&[], &[]);
    let listed = policy(&["api.example.com", "127.0.0.1:3000"], &[]);
    // (policy, host, port, verdict)
    let cases: &[(&TargetPolicy, &str, u16, Verdict)] = &[
        (&open, "anything.test", 80, Ok(())),
        (&open, "127.0.0.1", 80, Ok(())), // addresses are `check`'s job
        (&listed, "api.example.com", 443, Ok(())),
        (&listed, "127.1", 3000, Ok(())),
        (&listed, "unlisted.invalid", 80, Err(NOT_ALLOWLISTED)),
        (&listed, "127.0.0.1", 3001, Err(NOT_ALLOWLISTED)),
        (&listed, "localhost", 3000, Err(NOT_ALLOWLISTED)),
    ];
    for (p, host, port, want) in cases {
        let got = p.check_allowlist(host, *port).map_err(|r| r.reason());
        assert_eq!(got, *want, "{host}:{port}");
        // `check` agrees whenever the allowlist refuses, whatever the addresses.
        if want.is_err() {
            let addrs = [sa("93.184.216.34:80")];
            let full = p.check(host, *port, &addrs).map_err(|r| r.reason());
            assert_eq!(full, *want, "{host}:{port} via check");
        }
    }
}

#[test]
fn open_policy_refuses_non_public_addresses() {
    let p = policy(&[], &[]);
    let cases: &[(&str, &str, Result<(), &str>)] = &[
        ("example.com", "93.184.216.34:80", Ok(())),
        ("example.com", "[2606:2800:220:1::]:80", Ok(())),
        ("localhost", "127.0.0.1:80", Err("loopback")),
        ("localhost", "[::1]:80", Err("loopback")),
        (
            "meta",
            "169.254.169.254:80",
            Err("link-local (cloud metadata)"),
        ),
        ("intranet", "10.9.0.10:80", Err("private")),
        ("x", "[::ffff:127.0.0.1]:80", Err("IPv4-mapped loopback")),
        ("x", "[fd00:ec2::254]:80", Err("IPv6 unique-local")),
        ("x", "0.0.0.0:80", Err("unspecified")),
    ];
    for (host, addr, want) in cases {
        let got = p.check(host, sa(addr).port(), &[sa(addr)]);
        assert_eq!(got.map_err(|r| r.reason()), *want, "{host} -> {addr}");
    }
}

#[test]
fn every_resolved_address_must_pass() {
    let p = policy(&[], &[]);
    let mixed = [sa("93.184.216.34:80"), sa("127.0.0.1:80")];
    let err = p
        .check("multi.test", 80, &mixed)
        .expect_err("one private address");
    assert_eq!(err.addr(), Some(sa("127.0.0.1:80")));
    let empty = p.check("nothing.test", 80, &[]).expect_err("no addresses");
    assert_eq!(empty.reason(), NO_ADDRESSES);
}

#[test]
fn literal_host_is_checked_even_if_resolved_list_disagrees() {
    let p = policy(&[], &[]);
    let err = p
        .check("127.1", 80, &[sa("93.184.216.34:80")])
        .expect_err("literal host");
    assert_eq!(err.reason(), "loopback");
}

#[test]
fn allowlist_semantics() {
    // (allowlist, host, port, resolved, expected)
    let cases: &[(Strs, &str, u16, &str, Verdict)] = &[
        (
            &["example.com"],
            "example.com",
            443,
            "93.184.216.34:443",
            Ok(()),
        ),
        (
            &["example.com"],
            "other.com",
            443,
            "93.184.216.35:443",
            Err(NOT_ALLOWLISTED),
        ),
        // A name pattern does not unlock a private address, even localhost.
        (
            &["localhost"],
            "localhost",
            80,
            "127.0.0.1:80",
            Err("loopback"),
        ),
        (
            &["internal.corp"],
            "internal.corp",
            80,
            "10.0.0.5:80",
            Err("private"),
        ),
        (
            &["*.example.com"],
            "a.example.com",
            80,
            "10.0.0.5:80",
            Err("private"),
        ),
        // An IP literal in the allowlist unlocks exactly that address.
        (
            &["127.0.0.1:3000"],
            "127.0.0.1",
            3000,
            "127.0.0.1:3000",
            Ok(()),
        ),
        (
            &["127.0.0.1:3000"],
            "127.0.0.1",
            3001,
            "127.0.0.1:3001",
            Err(NOT_ALLOWLISTED),
        ),
        (
            &["127.0.0.1:3000"],
            "0x7f.1",
            3000,
            "127.0.0.1:3000",
            Ok(()),
        ),
        (
            &["127.0.0.1:3000"],
            "127.0.0.2",
            3000,
            "127.0.0.2:3000",
            Err(NOT_ALLOWLISTED),
        ),
        (&["127.0.0.1"], "127.0.0.1", 8081, "127.0.0.1:8081", Ok(())),
        (&["[::1]:80"], "::1", 80, "[::1]:80", Ok(())),
        (
            &["127.0.0.1:3000"],
            "::ffff:127.0.0.1",
            3000,
            "[::ffff:127.0.0.1]:3000",
            Ok(()),
        ),
        // Name allowed + the address it resolves to named literally.
        (
            &["svc.local", "10.0.0.5:80"],
            "svc.local",
            80,
            "10.0.0.5:80",
            Ok(()),
        ),
        (
            &["svc.local", "10.0.0.5:80"],
            "svc.local",
            80,
            "10.0.0.6:80",
            Err("private"),
        ),
        // Never unlockable: not a unicast destination.
        (
            &["0.0.0.0:80"],
            "0.0.0.0",
            80,
            "0.0.0.0:80",
            Err("unspecified"),
        ),
        (
            &["224.0.0.1"],
            "224.0.0.1",
            80,
            "224.0.0.1:80",
            Err("multicast"),
        ),
    ];
    for (allow, host, port, addr, want) in cases {
        let p = policy(allow, &[]);
        let got = p.check(host, *port, &[sa(addr)]);
        assert_eq!(
            got.map_err(|r| r.reason()),
            *want,
            "{allow:?} {host}:{port} -> {addr}"
        );
    }
}

#[test]
fn own_listen_addresses_are_never_targets() {
    // (own addrs, allowlist, resolved, expected)
    let cases: &[(Strs, Strs, &str, Verdict)] = &[
        (
            &["127.0.0.1:8080"],
            &["127.0.0.1"],
            "127.0.0.1:8080",
            Err(OWN_ADDRESS),
        ),
        (
            &["127.0.0.1:8080"],
            &["127.0.0.1"],
            "127.0.0.1:8081",
            Ok(()),
        ),
        (
            &["127.0.0.1:8080"],
            &["127.0.0.1"],
            "[::ffff:127.0.0.1]:8080",
            Err(OWN_ADDRESS),
        ),
        (
            &["0.0.0.0:8080"],
            &["127.0.0.1"],
            "127.0.0.1:8080",
            Err(OWN_ADDRESS),
        ),
        (
            &["0.0.0.0:8080"],
            &[],
            "93.184.216.34:8080",
            Err(OWN_ADDRESS),
        ),
        (&["0.0.0.0:8080"], &[], "93.184.216.34:80", Ok(())),
        (
            &["[::]:8080"],
            &[],
            "[2606:2800:220:1::]:8080",
            Err(OWN_ADDRESS),
        ),
        (
            &["93.184.216.34:443"],
            &[],
            "93.184.216.34:443",
            Err(OWN_ADDRESS),
        ),
        (
            &["93.184.216.34:443"],
            &["93.184.216.34:443"],
            "93.184.216.34:443",
            Err(OWN_ADDRESS),
        ),
    ];
    for (own, allow, addr, want) in cases {
        let p = policy(allow, own);
        let a = sa(addr);
        let host = a.ip().to_string();
        let got = p.check(&host, a.port(), &[a]);
        assert_eq!(
            got.map_err(|r| r.reason()),
            *want,
            "own {own:?} allow {allow:?} -> {addr}"
        );
    }
}

#[test]
fn refusal_text_names_reason_and_address() {
    let p = policy(&[], &[]);
    let err = p
        .check("localhost", 80, &[sa("127.0.0.1:80")])
        .expect_err("loopback");
    assert_eq!(
        err.to_string(),
        "Refusing to proxy to localhost:80: address 127.0.0.1:80 is not allowed (loopback)."
    );
    let p = policy(&["example.com"], &[]);
    let err = p
        .check("::1", 80, &[sa("[::1]:80")])
        .expect_err("allowlist");
    assert_eq!(
        err.to_string(),
        "Refusing to proxy to [::1]:80: target not in allowlist."
    );
}
