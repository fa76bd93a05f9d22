//! The SSRF decision for one CORS-proxy target: is this host:port allowed,
//! and is every address it resolved to one we may connect to?
//!
//! Why this exists: the address class ([`classify`]) alone is not the whole
//! policy. Operators may restrict targets to an allowlist, may need to reach
//! one internal service on purpose, and the gateway must never connect to
//! itself (`?url=http://<gateway>/?url=...` recursion). This file combines
//! those rules into one pure check that runs on the exact `SocketAddr`s the
//! gateway is about to connect to, after its single DNS lookup.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::address::{classify, parse_host_literal, refusal, AddressClass};

/// One entry of the target allowlist: `host`, `host:port`, `*.example.com`,
/// `*.example.com:8443`, `127.0.0.1:3000`, `[::1]:80` or `::1`.
///
/// Host names match case-insensitively and ignore one trailing dot. A
/// wildcard matches subdomains at any depth but not the apex itself. A
/// pattern without a port matches every port. IP literals must be written in
/// their usual form (dotted quad, or IPv6 in brackets when a port follows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetPattern {
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    /// A host name, lowercase, without trailing dot.
    Name(String),
    /// `*.example.com`, stored as `.example.com`.
    Suffix(String),
    /// An address literal. Only these unlock non-public addresses.
    Ip(IpAddr),
}

/// Why a [`TargetPattern`] did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    reason: &'static str,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid target pattern {:?}: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for PatternError {}

impl TargetPattern {
    /// Parses one allowlist entry (see the type docs for the forms).
    pub fn parse(pattern: &str) -> Result<TargetPattern, PatternError> {
        let err = |reason| PatternError {
            pattern: pattern.to_owned(),
            reason,
        };
        // An unbracketed IPv6 address has no port.
        if let Ok(ip) = pattern.parse::<std::net::Ipv6Addr>() {
            return Ok(TargetPattern {
                host: HostPattern::Ip(IpAddr::V6(ip)),
                port: None,
            });
        }
        let (host, port) = split_host_port(pattern).ok_or_else(|| err("bad host:port syntax"))?;
        let port = match port {
            None => None,
            Some(p) => Some(parse_port(p).ok_or_else(|| err("port must be 1-65535"))?),
        };
        if let Some(inner) = host.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(|| err("unclosed '['"))?;
            let ip = inner
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| err("invalid IPv6 address"))?;
            return Ok(TargetPattern {
                host: HostPattern::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
            return Ok(TargetPattern {
                host: HostPattern::Ip(IpAddr::V4(ip)),
                port,
            });
        }
        if parse_host_literal(host).is_some() {
            // `127.1` or `0x7f.1` would silently mean an address: make the
            // operator write it plainly.
            return Err(err("write IPv4 addresses as four decimal numbers"));
        }
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host);
        let (pattern_host, name) = match host.strip_prefix("*.") {
            Some(rest) => (HostPattern::Suffix(format!(".{rest}")), rest),
            None => (HostPattern::Name(host.to_owned()), host),
        };
        if !is_dns_name(name) {
            return Err(err("invalid host name"));
        }
        Ok(TargetPattern {
            host: pattern_host,
            port,
        })
    }

    /// Does a request for `host:port` (host lowercase, no brackets) match?
    fn matches_target(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let name = host.strip_suffix('.').unwrap_or(host);
        let literal = parse_host_literal(host);
        match &self.host {
            // A name pattern never matches an address literal (`*.0.1` must
            // not admit `127.0.0.1`).
            HostPattern::Name(_) | HostPattern::Suffix(_) if literal.is_some() => false,
            HostPattern::Name(n) => n.eq_ignore_ascii_case(name),
            HostPattern::Suffix(suffix) => {
                name.len() > suffix.len()
                    && name
                        .get(name.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
            HostPattern::Ip(ip) => literal.is_some_and(|h| h.to_canonical() == ip.to_canonical()),
        }
    }

    /// Does this pattern name `addr` literally?
    fn names_addr(&self, addr: SocketAddr) -> bool {
        match self.host {
            HostPattern::Ip(ip) => {
                ip.to_canonical() == addr.ip().to_canonical()
                    && self.port.is_none_or(|p| p == addr.port())
            }
            HostPattern::Name(_) | HostPattern::Suffix(_) => false,
        }
    }
}

/// `host` or `host:port` or `[v6]:port`; `None` on bad syntax.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if s.starts_with('[') {
        let close = s.find(']')?;
        let (host, rest) = s.split_at(close + 1);
        return match rest {
            "" => Some((host, None)),
            _ => Some((host, Some(rest.strip_prefix(':')?))),
        };
    }
    match s.split_once(':') {
        None => Some((s, None)),
        Some((_, port)) if port.contains(':') => None,
        Some((host, port)) => Some((host, Some(port))),
    }
}

/// 1-65535, ASCII digits only (no sign, no spaces).
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|&p| p != 0)
}

/// Letters, digits, `-` and `_` in non-empty dot-separated labels (the
/// trailing dot is already removed), at most 253 bytes.
pub(crate) fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The SSRF policy of the CORS proxy.
#[derive(Clone, Debug, Default)]
pub struct TargetPolicy {
    /// When non-empty, only targets matching one of these are proxied.
    pub allow_targets: Vec<TargetPattern>,
    /// The gateway's own listen addresses; never a valid target. An
    /// unspecified address (`0.0.0.0:P`, `[::]:P`) refuses every target on
    /// port `P`, because without IO we cannot know which addresses are ours.
    pub own_addrs: Vec<SocketAddr>,
}

/// A refused target; `Display` is the text body of the 403.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    target: String,
    reason: &'static str,
    addr: Option<SocketAddr>,
}

impl Refusal {
    fn new(host: &str, port: u16, reason: &'static str, addr: Option<SocketAddr>) -> Refusal {
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Refusal {
            target,
            reason,
            addr,
        }
    }

    /// Why, e.g. `"loopback"` or `"target not in allowlist"`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The resolved address that was refused, if the refusal is about one.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Some(addr) => write!(
                f,
                "Refusing to proxy to {}: address {} is not allowed ({}).",
                self.target, addr, self.reason
            ),
            None => write!(f, "Refusing to proxy to {}: {}.", self.target, self.reason),
        }
    }
}

impl std::error::Error for Refusal {}

const NOT_ALLOWLISTED: &str = "target not in allowlist";
const NO_ADDRESSES: &str = "the host resolved to no addresses";
const OWN_ADDRESS: &str = "this gateway's own listen address";

impl TargetPolicy {
    /// Decides whether the gateway may connect to `host:port` at the
    /// `resolved` addresses. `host` is [`TargetUrl::host`] (lowercase, no
    /// brackets); `resolved` is exactly the list the gateway will connect
    /// to, with the port set. Every address must pass: one bad address in a
    /// DNS answer refuses the whole target, so a later connect attempt can
    /// never fall through to it. When `host` is an IP literal it is checked
    /// as well, so a literal refuses even if `resolved` came from elsewhere.
    ///
    /// [`TargetUrl::host`]: super::TargetUrl::host
    pub fn check(&self, host: &str, port: u16, resolved: &[SocketAddr]) -> Result<(), Refusal> {
        self.check_allowlist(host, port)?;
        if resolved.is_empty() {
            return Err(Refusal::new(host, port, NO_ADDRESSES, None));
        }
        let literal = parse_host_literal(host).map(|ip| SocketAddr::new(ip, port));
        for &addr in literal.iter().chain(resolved) {
            if let Err(reason) = self.check_addr(addr) {
                return Err(Refusal::new(host, port, reason, Some(addr)));
            }
        }
        Ok(())
    }

    /// The allowlist part of [`check`](TargetPolicy::check) alone: does `host:port`
    /// match `allow_targets` (always `Ok` when the list is empty)? Call it before
    /// resolving a host name, so an unlisted name is refused without a DNS lookup (no
    /// 502 for a name that does not resolve, no DNS queries on behalf of strangers).
    /// It says nothing about addresses: [`check`](TargetPolicy::check) must still run
    /// on the resolved ones.
    pub fn check_allowlist(&self, host: &str, port: u16) -> Result<(), Refusal> {
        if self.allow_targets.is_empty()
            || self
                .allow_targets
                .iter()
                .any(|p| p.matches_target(host, port))
        {
            return Ok(());
        }
        Err(Refusal::new(host, port, NOT_ALLOWLISTED, None))
    }

    fn check_addr(&self, addr: SocketAddr) -> Result<(), &'static str> {
        if self.is_own(addr) {
            return Err(OWN_ADDRESS);
        }
        if classify(addr.ip()) == AddressClass::Public {
            return Ok(());
        }
        let Some(refused) = refusal(addr.ip()) else {
            return Ok(());
        };
        // Only an IP literal in the allowlist unlocks a non-public address.
        // A host-name pattern (even `localhost`) does not: whoever controls
        // that name's DNS could point it at any internal address (DNS
        // rebinding), so the operator must name the address itself.
        if refused.unlockable && self.allow_targets.iter().any(|p| p.names_addr(addr)) {
            return Ok(());
        }
        Err(refused.text)
    }

    fn is_own(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.own_addrs.iter().any(|own| {
            own.port() == addr.port()
                && (own.ip().is_unspecified() || own.ip().to_canonical() == ip)
        })
    }
}

#[cfg(test)]
mod tests {
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
}
