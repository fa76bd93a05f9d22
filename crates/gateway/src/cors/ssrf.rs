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

use crate::syntax::{is_dns_name, split_host_port, AuthorityError};

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
        // The gateway's one `host[:port]` grammar; its cases keep this parser's texts.
        let (host, port) = split_host_port(pattern).map_err(|e| {
            err(match e {
                AuthorityError::InvalidPort | AuthorityError::PortOutOfRange => {
                    "port must be 1-65535"
                }
                AuthorityError::UnclosedBracket => "unclosed '['",
                AuthorityError::ZoneId | AuthorityError::InvalidIpv6 => "invalid IPv6 address",
                AuthorityError::UserInfo
                | AuthorityError::InvalidHost
                | AuthorityError::MissingHost
                | AuthorityError::UnbracketedIpv6 => "bad host:port syntax",
            })
        })?;
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
mod tests;
