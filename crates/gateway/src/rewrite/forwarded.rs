//! Forwarding headers and trusted proxies (issue #17 item 6), as pure functions.
//!
//! A client can send `X-Forwarded-For: 1.2.3.4` and, without this module, the upstream sees
//! `1.2.3.4, <client>` and may believe the first element. So by default nobody is trusted:
//! from an untrusted peer `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are
//! replaced by the gateway's own values, and `Forwarded`, `X-Real-IP`, `X-Forwarded-Port`,
//! `X-Forwarded-Prefix`, `X-Original-URL` and `X-Rewrite-URL` are removed (Caddy's and
//! Traefik's default). From a peer inside `[forwarding] trusted_proxies` the chain is
//! appended to, and the client address (for logs and rate limits) is the first untrusted
//! hop, walking `X-Forwarded-For` from the right.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use http::header::{HeaderMap, HeaderName, HeaderValue, FORWARDED};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removed when the peer is not trusted: each can make an upstream believe something about
/// the client, the scheme or the URL that only a trusted hop may say.
pub static UNTRUSTED_REMOVED: [HeaderName; 6] = [
    FORWARDED,
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-prefix"),
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-rewrite-url"),
];

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address (`192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A [`Cidr`] that does not parse; the text says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CidrError {}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, Some(len)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| CidrError(format!("{s:?} is not an IP address or CIDR block")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match len {
            None => max,
            Some(len) => len
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max && !len.starts_with('+'))
                .ok_or_else(|| CidrError(format!("{s:?}: the prefix length must be 0 to {max}")))?,
        };
        // `::ffff:10.0.0.0/104` is written as IPv4 so one rule matches both socket kinds.
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is in the block; an IPv4-mapped IPv6 address counts as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `[forwarding] trusted_proxies`: the peers whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// The blocks, in configuration order.
    pub fn new(blocks: Vec<Cidr>) -> TrustedProxies {
        TrustedProxies(blocks)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The blocks, in configuration order (for `--print-config`).
    pub fn blocks(&self) -> &[Cidr] {
        &self.0
    }

    /// No proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The connection and request facts [`apply`] needs.
#[derive(Debug, Clone, Copy)]
pub struct ForwardInput<'a> {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The client connection was TLS.
    pub tls: bool,
    /// The host the client asked for (`Host`, or the target's authority), if any.
    pub host: Option<&'a HeaderValue>,
    /// Also write an RFC 7239 `Forwarded` element.
    pub emit_forwarded: bool,
}

/// Rewrites the forwarding headers of a request about to go upstream and returns the client
/// address: the peer, or (from a trusted peer) the first untrusted hop of the chain.
pub fn apply(
    headers: &mut HeaderMap,
    input: &ForwardInput<'_>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = input.peer.ip().to_canonical();
    let proto = if input.tls { "https" } else { "http" };
    let trusted_peer = trusted.contains(peer);
    let client = if trusted_peer {
        client_address(peer, headers, trusted)
    } else {
        peer
    };

    let mut xff = if trusted_peer {
        join_list(headers, &X_FORWARDED_FOR)
    } else {
        String::new()
    };
    if !xff.is_empty() {
        xff.push_str(", ");
    }
    let _ = write!(xff, "{peer}");
    set(headers, &X_FORWARDED_FOR, &xff);

    // A trusted proxy's scheme and host describe the original request; otherwise ours.
    if !(trusted_peer && headers.contains_key(&X_FORWARDED_PROTO)) {
        set(headers, &X_FORWARDED_PROTO, proto);
    }
    if !(trusted_peer && headers.contains_key(&X_FORWARDED_HOST)) {
        match input.host {
            Some(host) => {
                headers.insert(X_FORWARDED_HOST.clone(), host.clone());
            }
            None => {
                headers.remove(&X_FORWARDED_HOST);
            }
        }
    }
    if !trusted_peer {
        for name in &UNTRUSTED_REMOVED {
            headers.remove(name);
        }
    }
    if input.emit_forwarded {
        let mut value = if trusted_peer {
            join_list(headers, &FORWARDED)
        } else {
            String::new()
        };
        if !value.is_empty() {
            value.push_str(", ");
        }
        value.push_str(&forwarded_element(peer, proto, input.host));
        set(headers, &FORWARDED, &value);
    }
    client
}

/// The first untrusted address walking `peer`, then `X-Forwarded-For` from the right. An
/// element that is not an address stops the walk at the trusted hop that wrote it; a chain
/// of trusted hops only gives its leftmost address.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let mut hop = peer;
    let elements: Vec<&str> = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    for element in elements.iter().rev() {
        let Some(ip) = parse_element(element) else {
            return hop;
        };
        hop = ip.to_canonical();
        if !trusted.contains(hop) {
            return hop;
        }
    }
    hop
}

/// An `X-Forwarded-For` element: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_element(e: &str) -> Option<IpAddr> {
    if let Ok(ip) = e.parse() {
        return Some(ip);
    }
    if let Ok(sa) = e.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    e.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// One RFC 7239 element: `for=192.0.2.7;proto=http;host=example.com`, IPv6 quoted in
/// brackets, the host quoted unless it is a token.
pub fn forwarded_element(client: IpAddr, proto: &str, host: Option<&HeaderValue>) -> String {
    let mut out = match client.to_canonical() {
        IpAddr::V4(v4) => format!("for={v4}"),
        IpAddr::V6(v6) => format!("for=\"[{v6}]\""),
    };
    let _ = write!(out, ";proto={proto}");
    if let Some(host) = host.and_then(|h| h.to_str().ok()) {
        if !host.is_empty() && host.bytes().all(is_tchar) {
            let _ = write!(out, ";host={host}");
        } else if host
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            let _ = write!(out, ";host=\"{host}\"");
        }
    }
    out
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Every value of `name` joined with `", "`, empty elements dropped.
fn join_list(headers: &HeaderMap, name: &HeaderName) -> String {
    let mut out = String::new();
    for v in headers.get_all(name).iter().filter_map(|v| v.to_str().ok()) {
        let v = v.trim_matches([' ', '\t']);
        if v.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(v);
    }
    out
}

/// Sets `name` to `value`; the values built here are always valid field values (they come
/// from valid values, addresses and fixed text).
fn set(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            headers.insert(name.clone(), v);
        }
        Err(_) => {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests;
