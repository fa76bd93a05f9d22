//! Host routing: which routes a request's `Host` (HTTP/1) or `:authority` (HTTP/2) selects.
//!
//! A route's `host` is an exact name (`api.example.com`) or a wildcard (`*.example.com`,
//! matching any name that ends in `.example.com`, at any depth, but not `example.com`
//! itself). Names compare case-insensitively, without the port and a trailing dot.
//!
//! The index keeps, per host pattern, the indices of its routes longest prefix first. A
//! lookup tries the exact name, then each wildcard suffix from the longest to the shortest,
//! then the routes without a host; the first table with a matching prefix wins. So a host's
//! routes take precedence, and a path none of them covers falls through to the less specific
//! ones (as if `/` of the default site were shared). Cost per request: one hash lookup per
//! label of the name, no allocation.

use std::collections::HashMap;

use super::RouteError;

/// Longest DNS name (RFC 1035 §2.3.4, without the trailing dot).
const MAX_NAME: usize = 253;

/// Normalises a configured host pattern: lower-case, no trailing dot, no port; `*.` only as
/// the first label.
pub fn normalize_pattern(text: &str) -> Result<String, RouteError> {
    let bad = |reason| RouteError::InvalidHost {
        host: text.to_owned(),
        reason,
    };
    let name = text.strip_suffix('.').unwrap_or(text);
    let (wild, rest) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    if rest.is_empty() || rest.len() > MAX_NAME {
        return Err(bad(
            "must be a host name such as api.example.com or *.example.com",
        ));
    }
    if rest.contains('*') {
        return Err(bad(
            "a * is only supported as the whole first label (*.example.com)",
        ));
    }
    if rest.contains(':') {
        return Err(bad(
            "must not contain a port (the port of a request is ignored)",
        ));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !rest.split('.').all(label_ok) {
        return Err(bad(
            "must be letters, digits, - and _ in dot-separated labels (IDNs as xn--)",
        ));
    }
    let rest = rest.to_ascii_lowercase();
    Ok(if wild { format!("*.{rest}") } else { rest })
}

/// A request host lower-cased into a stack buffer, without port and trailing dot.
#[derive(Debug)]
pub struct HostKey {
    buf: [u8; MAX_NAME],
    len: usize,
}

impl HostKey {
    /// `None` for a missing, empty or over-long host: such a request only sees the routes
    /// without a host.
    pub fn new(authority: Option<&str>) -> Option<HostKey> {
        let name = strip_port(authority?);
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_NAME {
            return None;
        }
        let mut key = HostKey {
            buf: [0; MAX_NAME],
            len: name.len(),
        };
        for (dst, src) in key.buf.iter_mut().zip(name.bytes()) {
            *dst = src.to_ascii_lowercase();
        }
        Some(key)
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        // Lower-casing ASCII bytes of a `str` keeps it UTF-8; the fallback never runs.
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

/// `host` of `host:port`, `[v6]` of `[v6]:port`.
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => authority.get(..=end).unwrap_or(authority),
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Route indices grouped by host pattern; each list in router order (longest prefix first).
#[derive(Debug, Clone, Default)]
pub struct HostIndex {
    exact: HashMap<Box<str>, Vec<usize>>,
    /// Keyed by the suffix with its leading dot: `*.example.com` → `.example.com`.
    wildcard: HashMap<Box<str>, Vec<usize>>,
    any: Vec<usize>,
}

impl HostIndex {
    /// Builds the index from each route's host pattern, in router order.
    pub fn new<'a>(hosts: impl Iterator<Item = Option<&'a str>>) -> HostIndex {
        let mut index = HostIndex::default();
        for (i, host) in hosts.enumerate() {
            match host {
                None => index.any.push(i),
                Some(h) => match h.strip_prefix('*') {
                    Some(suffix) => index.wildcard.entry(suffix.into()).or_default().push(i),
                    None => index.exact.entry(h.into()).or_default().push(i),
                },
            }
        }
        index
    }

    /// `true` when some route names a host (otherwise the request host is not looked at).
    pub fn has_hosts(&self) -> bool {
        !self.exact.is_empty() || !self.wildcard.is_empty()
    }

    /// The candidate tables for `host`, most specific first; calls `pick` on each until it
    /// returns `Some`.
    pub fn find<T>(
        &self,
        host: Option<&HostKey>,
        mut pick: impl FnMut(&[usize]) -> Option<T>,
    ) -> Option<T> {
        if let Some(name) = host.map(HostKey::as_str) {
            if let Some(found) = self.exact.get(name).and_then(|t| pick(t)) {
                return Some(found);
            }
            if !self.wildcard.is_empty() {
                // Suffixes from the longest: `a.b.c` tries `.b.c`, then `.c`.
                for (at, _) in name.match_indices('.') {
                    let suffix = name.get(at..).unwrap_or("");
                    if let Some(found) = self.wildcard.get(suffix).and_then(|t| pick(t)) {
                        return Some(found);
                    }
                }
            }
        }
        pick(&self.any)
    }
}
