//! Allowed-origin patterns and the `Origin` header they are matched against.

use std::fmt;
use std::net::Ipv6Addr;

use crate::syntax::{is_dns_name, split_host_port};

/// One allowed origin: `https://app.example.com`, `*.example.com`,
/// `https://*.example.com`, `http://localhost:3000` or `*`.
///
/// Without a scheme, `http` and `https` both match. Without a port, only the
/// scheme's default port matches (an origin is scheme + host + port;
/// `https://app.example.com:8443` is another origin). A wildcard matches
/// subdomains at any depth, not the apex. Matching is case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern(pub(super) OriginKind);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum OriginKind {
    Any,
    Match {
        scheme: Option<String>,
        host: HostMatch,
        port: Option<u16>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum HostMatch {
    Exact(String),
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
}

/// Why an [`OriginPattern`] did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPatternError(String);

impl fmt::Display for OriginPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid origin pattern {:?}: expected \"*\", [scheme://]host[:port] or [scheme://]*.domain[:port]",
            self.0
        )
    }
}

impl std::error::Error for OriginPatternError {}

/// An `Origin` header value split into its parts (lowercase).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Origin {
    scheme: String,
    host: String,
    /// Explicit port, else the scheme's default; `None` for schemes without one.
    port: Option<u16>,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `host[:port]` with host a name, IPv4 or `[v6]` (the gateway's one authority grammar,
/// `syntax::split_host_port`); host returned lowercase (IPv6 re-serialised in canonical
/// form, in brackets).
fn split_host(s: &str, allow_wildcard: bool) -> Option<(String, Option<u16>)> {
    let (host, port) = split_host_port(s).ok()?;
    let host = if let Some(inner) = host.strip_prefix('[') {
        let ip: Ipv6Addr = inner.strip_suffix(']')?.parse().ok()?;
        format!("[{ip}]")
    } else {
        let host = host.to_ascii_lowercase();
        let name = if allow_wildcard {
            host.strip_prefix("*.").unwrap_or(&host)
        } else {
            &host
        };
        if !is_dns_name(name) {
            return None;
        }
        host
    };
    Some((host, port))
}

pub(super) fn parse_origin(value: &str) -> Option<Origin> {
    let (scheme, rest) = value.split_once("://")?;
    if !is_scheme(scheme) {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let (host, port) = split_host(rest, false)?;
    let port = port.or_else(|| default_port(&scheme));
    Some(Origin { scheme, host, port })
}

impl OriginPattern {
    /// Parses one allowed-origin entry (see the type docs for the forms).
    pub fn parse(pattern: &str) -> Result<OriginPattern, OriginPatternError> {
        let err = || OriginPatternError(pattern.to_owned());
        if pattern == "*" {
            return Ok(OriginPattern(OriginKind::Any));
        }
        let (scheme, rest) = match pattern.split_once("://") {
            Some((s, rest)) if is_scheme(s) => (Some(s.to_ascii_lowercase()), rest),
            Some(_) => return Err(err()),
            None => (None, pattern),
        };
        let (host, port) = split_host(rest, true).ok_or_else(err)?;
        let host = match host.strip_prefix('*') {
            Some(suffix) => HostMatch::Suffix(suffix.to_owned()),
            None => HostMatch::Exact(host),
        };
        Ok(OriginPattern(OriginKind::Match { scheme, host, port }))
    }

    pub(super) fn matches(&self, origin: &Origin) -> bool {
        let OriginKind::Match { scheme, host, port } = &self.0 else {
            return true;
        };
        let scheme_ok = match scheme {
            Some(s) => *s == origin.scheme,
            None => matches!(origin.scheme.as_str(), "http" | "https"),
        };
        let host_ok = match host {
            HostMatch::Exact(h) => *h == origin.host,
            HostMatch::Suffix(s) => {
                origin.host.len() > s.len() && origin.host.ends_with(s.as_str())
            }
        };
        let port_ok = match port {
            Some(p) => origin.port == Some(*p),
            None => origin.port == default_port(&origin.scheme),
        };
        scheme_ok && host_ok && port_ok
    }
}
