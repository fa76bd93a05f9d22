//! `cors_url`: the CORS proxy's SSRF decision (docs/cors.md, "The SSRF guard").
//!
//! 1. The input as the `url` value (`url=<input>`) and as a whole query string →
//!    `target_from_query`. An accepted target has scheme http/https, a port 1–65535, a
//!    lowercase host without userinfo or `%`, and a URI whose authority is that host and port.
//!    Its host is read as an address literal by `parse_host_literal` exactly as an independent
//!    glibc `inet_aton` / IPv6 reference reads it, and re-reading the URI's authority gives the
//!    same address (no second parser disagrees). For a literal, `TargetPolicy::default()
//!    .check(host, port, &[addr])` allows it only if the reference says the address is public,
//!    and the literal refuses even when the resolved list holds a public address.
//! 2. Addresses straight from the bytes (raw, biased into each refused range, and embedded in
//!    `::ffff:0:0/96`, `64:ff9b::/96`, `2002::/16`, `::/96`) → `classify` and
//!    `TargetPolicy::check`, compared with a reference table of refused CIDRs:
//!    * every address inside a range docs/cors.md lists is refused;
//!    * `classify` agrees exactly with the full reference table (docs/cors.md plus the IANA
//!      special-purpose ranges the gateway also refuses), so over-refusal shows up too;
//!    * the default policy allows exactly the public ones, for a host name and for the literal;
//!    * an allowlist entry naming the address unlocks it, except unspecified, 0/8, multicast
//!      and broadcast (also embedded), which nothing unlocks; a host-name entry never unlocks;
//!    * the gateway's own listen address (also via `0.0.0.0:port` and IPv4-mapped) is refused.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use gangway::cors::{classify, parse_host_literal, target_from_query, TargetPattern, TargetPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_query(&format!("url={text}"), data);
        check_query(text, data);
    }
    check_addresses(data);
});

fn check_query(query: &str, data: &[u8]) {
    let target = match target_from_query(Some(query)) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let (host, port) = (target.host.as_str(), target.port);
    let uri = &target.uri;
    assert_eq!(
        uri.scheme_str(),
        Some(if target.scheme_https { "https" } else { "http" })
    );
    assert_ne!(port, 0);
    assert!(!host.is_empty());
    assert!(
        host.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b)),
        "host {host:?} has unexpected characters"
    );
    let authority = uri.authority().expect("target has an authority");
    assert!(
        !authority.as_str().contains('@'),
        "userinfo kept: {authority}"
    );
    let bare = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    assert_eq!(bare, host, "URI host and checked host differ");
    let default_port = if target.scheme_https { 443 } else { 80 };
    assert_eq!(
        authority.port_u16().unwrap_or(default_port),
        port,
        "URI port"
    );
    assert!(uri.path().starts_with('/'));

    // One reading of the host, by the gateway and by the reference, and again from the URI.
    let literal = parse_host_literal(host);
    assert_eq!(
        literal,
        reference_literal(host),
        "literal reading of {host:?}"
    );
    assert_eq!(parse_host_literal(authority.host()), literal, "URI re-read");

    let policy = TargetPolicy::default();
    match literal {
        Some(ip) => {
            let addr = SocketAddr::new(ip, port);
            let verdict = policy.check(host, port, &[addr]);
            assert_eq!(
                verdict.is_ok(),
                !reference_refused(ip),
                "{host:?} → {ip}: {verdict:?}"
            );
            if reference_must_refuse(ip) {
                assert!(verdict.is_err(), "documented address {ip} allowed");
                // The literal itself is checked, whatever the resolver returned.
                let public = SocketAddr::new(IpAddr::from([8, 8, 8, 8]), port);
                assert!(policy.check(host, port, &[public]).is_err());
            }
        }
        None => {
            // A name: the verdict is the resolved address's.
            let ip = addresses(data)
                .into_iter()
                .next()
                .unwrap_or(IpAddr::from([8, 8, 8, 8]));
            let verdict = policy.check(host, port, &[SocketAddr::new(ip, port)]);
            assert_eq!(verdict.is_ok(), !reference_refused(ip), "{host:?} at {ip}");
        }
    }
}

fn check_addresses(data: &[u8]) {
    let port = data
        .get(..2)
        .map_or(443, |b| u16::from_be_bytes([b[0], b[1]]))
        .max(1);
    let policy = TargetPolicy::default();
    let named = TargetPolicy {
        allow_targets: vec![TargetPattern::parse("example.com").expect("pattern")],
        own_addrs: Vec::new(),
    };
    for ip in addresses(data) {
        let refused = !classify(ip).is_public();
        if reference_must_refuse(ip) {
            assert!(refused, "{ip} is in a documented range but classify() allows it");
        }
        assert_eq!(
            refused,
            reference_refused(ip),
            "classify({ip}) = {:?} disagrees with the reference",
            classify(ip)
        );
        let addr = SocketAddr::new(ip, port);
        let literal_host = ip.to_string();
        for (host, p) in [
            ("example.com", &policy),
            (literal_host.as_str(), &policy),
            ("example.com", &named),
        ] {
            let verdict = p.check(host, port, &[addr]);
            assert_eq!(
                verdict.is_ok(),
                !refused,
                "check({host:?}, {addr}) = {verdict:?}"
            );
            if let Err(r) = &verdict {
                let _ = r.to_string();
            }
        }
        // An allowlist entry naming the address unlocks it, unless nothing may.
        let unlock = TargetPolicy {
            allow_targets: vec![TargetPattern::parse(&literal_host).expect("address pattern")],
            own_addrs: Vec::new(),
        };
        let verdict = unlock.check(&literal_host, port, &[addr]);
        assert_eq!(
            verdict.is_ok(),
            !reference_never(ip),
            "allowlisted {addr}: {verdict:?}"
        );
        // Our own listen address, directly, via the wildcard, and IPv4-mapped.
        let own = |a: SocketAddr| TargetPolicy {
            allow_targets: Vec::new(),
            own_addrs: vec![a],
        };
        let wildcard = SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port);
        for p in [own(addr), own(wildcard)] {
            assert!(
                p.check("example.com", port, &[addr]).is_err(),
                "own {addr} allowed"
            );
        }
        if let IpAddr::V4(v4) = ip {
            let mapped = SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), port);
            assert!(own(addr).check("example.com", port, &[mapped]).is_err());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Addresses from bytes.

const V4_RANGES: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
    ([255, 255, 255, 255], 32),
];

/// The documented ranges plus the IANA ones the gateway refuses on top (see `reference_refused`).
const V4_EXTRA: &[([u8; 4], u8)] = &[([192, 88, 99, 0], 24)];

fn take<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = data.get(at + i).copied().unwrap_or(0);
    }
    out
}

/// Raw v4 and v6 from the bytes, the same bits forced into one of the ranges (chosen by a
/// byte) or just outside one of its edges, and the v4 addresses embedded in one of the IPv6
/// forms that carry one (also chosen by a byte). A handful per input keeps runs fast; the
/// fuzzer varies the choice bytes.
fn addresses(data: &[u8]) -> Vec<IpAddr> {
    let raw4 = Ipv4Addr::from(take::<4>(data, 0));
    let raw6 = Ipv6Addr::from(take::<16>(data, 0));
    let pick = usize::from(data.get(16).copied().unwrap_or(0));
    let shape = data.get(17).copied().unwrap_or(0);
    let low = u32::from(raw4);

    let all4: Vec<_> = V4_RANGES.iter().chain(V4_EXTRA).collect();
    let (net, len) = all4[pick % all4.len()];
    let mask = if *len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(*len))
    };
    let base = u32::from(Ipv4Addr::from(*net)) & mask;
    let biased4 = Ipv4Addr::from(match shape % 3 {
        0 => base | (low & !mask),
        1 => base.wrapping_sub(1),
        _ => (base | !mask).wrapping_add(1),
    });

    let bits = u128::from(raw6);
    let all6: Vec<_> = V6_MUST.iter().chain(V6_EXTRA).collect();
    let (net, len) = all6[pick % all6.len()];
    let mask = if *len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(*len))
    };
    let base = net & mask;
    let biased6 = Ipv6Addr::from(match (shape / 3) % 3 {
        0 => base | (bits & !mask),
        1 => base.wrapping_sub(1),
        _ => (base | !mask).wrapping_add(1),
    });

    let mut out = vec![
        IpAddr::V4(raw4),
        IpAddr::V4(biased4),
        IpAddr::V6(raw6),
        IpAddr::V6(biased6),
    ];
    for v4 in [raw4, biased4] {
        let v = u128::from(u32::from(v4));
        // 2002:AABB:CCDD:<subnet>:<interface id>
        let tail = bits & ((1u128 << 80) - 1);
        out.push(IpAddr::V6(match (shape / 9) % 4 {
            0 => v4.to_ipv6_mapped(),
            1 => Ipv6Addr::from((0x64_ff9b_u128 << 96) | v),
            2 => Ipv6Addr::from((0x2002u128 << 112) | (v << 80) | tail),
            _ => Ipv6Addr::from(v),
        }));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Reference classification: CIDR tables, written from docs/cors.md's table and the IANA
// special-purpose registries, not from address.rs.

const fn v6(segments: [u16; 8]) -> u128 {
    let mut out = 0u128;
    let mut i = 0;
    while i < 8 {
        out = (out << 16) | segments[i] as u128;
        i += 1;
    }
    out
}

/// docs/cors.md's refused ranges (IPv6 part). The three ranges with an embedded IPv4
/// address are judged by that address, below.
const V6_MUST: &[(u128, u8)] = &[
    (0, 128),                                   // ::
    (1, 128),                                   // ::1
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7),     // unique local
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10),    // link-local
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8),     // multicast
    (v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96),    // IPv4-mapped (embedded)
    (v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96), // NAT64 (embedded)
    (v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16),    // 6to4 (embedded)
];

/// Refused by the gateway beyond the documented ranges (IANA IPv6 special-purpose registry).
const V6_EXTRA: &[(u128, u8)] = &[
    (0, 96),                                     // IPv4-compatible (deprecated)
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48),  // NAT64 local-use
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64),      // discard-only
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32),     // Teredo
    (v6([0x2001, 2, 0, 0, 0, 0, 0, 0]), 48),     // benchmarking
    (v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0]), 28),  // ORCHID
    (v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0]), 28),  // ORCHIDv2
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32), // documentation
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]), 20),     // documentation
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10),     // site-local
];

fn in4(ip: Ipv4Addr, table: &[([u8; 4], u8)]) -> bool {
    let a = u32::from(ip);
    table.iter().any(|(net, len)| {
        let shift = 32 - u32::from(*len);
        (a ^ u32::from(Ipv4Addr::from(*net)))
            .checked_shr(shift)
            .unwrap_or(0)
            == 0
    })
}

fn in6(a: u128, net: u128, len: u8) -> bool {
    let shift = 128 - u32::from(len);
    (a ^ net).checked_shr(shift).unwrap_or(0) == 0
}

/// The IPv4 address an IPv6 one carries, for the three forms docs/cors.md names.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let a = u128::from(ip);
    let low32 = Ipv4Addr::from((a & 0xffff_ffff) as u32);
    if in6(a, v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96)
        || in6(a, v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96)
    {
        return Some(low32);
    }
    if in6(a, v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16) {
        return Some(Ipv4Addr::from(((a >> 80) & 0xffff_ffff) as u32));
    }
    None
}

/// In a range docs/cors.md lists.
fn reference_must_refuse(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => in4(v4, V4_RANGES),
        IpAddr::V6(v) => match embedded_v4(v) {
            Some(v4) => in4(v4, V4_RANGES),
            None => V6_MUST
                .iter()
                .any(|(net, len)| in6(u128::from(v), *net, *len)),
        },
    }
}

/// Everything the gateway should refuse: the documented ranges, the extra special-purpose ranges, and any IPv6
/// outside global unicast 2000::/3.
fn reference_refused(ip: IpAddr) -> bool {
    let v4_refused = |v4| in4(v4, V4_RANGES) || in4(v4, V4_EXTRA);
    match ip {
        IpAddr::V4(v4) => v4_refused(v4),
        IpAddr::V6(v) => {
            let a = u128::from(v);
            match embedded_v4(v) {
                Some(v4) => v4_refused(v4),
                None => {
                    V6_MUST
                        .iter()
                        .chain(V6_EXTRA)
                        .any(|(net, len)| in6(a, *net, *len))
                        || !in6(a, v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), 3)
                }
            }
        }
    }
}

/// Never a TCP destination, so no allowlist entry unlocks it: unspecified, 0/8, multicast,
/// broadcast, and IPv4 forms of those carried in IPv6.
fn reference_never(ip: IpAddr) -> bool {
    let never4 = |v4: Ipv4Addr| {
        let o = v4.octets();
        o[0] == 0 || (224..=239).contains(&o[0]) || o == [255; 4]
    };
    match ip {
        IpAddr::V4(v4) => never4(v4),
        IpAddr::V6(v) => match embedded_v4(v) {
            Some(v4) => never4(v4),
            None => u128::from(v) == 0 || v.octets()[0] == 0xff,
        },
    }
}

// ---------------------------------------------------------------------------------------
// Reference host-literal reader: glibc inet_aton (each part strtoul base 0, must start with a
// digit, the last part fills the remaining bytes), exact (no trailing garbage), one trailing
// dot tolerated like WHATWG; IPv6 via std, with or without brackets, zone id dropped.

fn reference_literal(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[') {
        return v6_literal(inner.strip_suffix(']')?);
    }
    if host.contains(':') {
        return v6_literal(host);
    }
    inet_aton(host).map(IpAddr::V4)
}

fn v6_literal(s: &str) -> Option<IpAddr> {
    let addr = match s.find('%') {
        Some(i) if i + 1 < s.len() => &s[..i],
        Some(_) => return None,
        None => s,
    };
    addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

fn strtoul0(part: &str) -> Option<u64> {
    let first = part.chars().next()?;
    if !first.is_ascii_digit() {
        return None;
    }
    let lower = part.to_ascii_lowercase();
    let (radix, digits) = if let Some(hex) = lower.strip_prefix("0x") {
        (16, hex.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned())
    } else {
        (10, lower)
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in digits.chars() {
        n = n
            .checked_mul(radix)?
            .checked_add(u64::from(c.to_digit(radix as u32)?))?;
        if n > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(n)
}

fn inet_aton(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<u64> = host.split('.').map(strtoul0).collect::<Option<_>>()?;
    let value: u64 = match parts.as_slice() {
        [a] => *a,
        [a, b] if *a <= 0xff && *b <= 0xff_ffff => (a << 24) | b,
        [a, b, c] if *a <= 0xff && *b <= 0xff && *c <= 0xffff => (a << 24) | (b << 16) | c,
        [a, b, c, d] if [a, b, c, d].iter().all(|p| **p <= 0xff) => {
            (a << 24) | (b << 16) | (c << 8) | d
        }
        _ => return None,
    };
    u32::try_from(value).ok().map(Ipv4Addr::from)
}
