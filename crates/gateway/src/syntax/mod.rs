//! The small grammar every parser of request and config text shares: RFC 9110 tokens and
//! whitespace, decimal numbers, ports, DNS names and `host[:port]`. One definition each, so
//! `route`, `rewrite`, `strict` and `cors` cannot disagree (a port is 1-65535 everywhere:
//! port 0 is refused by all of them).

use std::fmt;
use std::net::Ipv6Addr;

use http::uri::Authority;

/// RFC 9110 §5.6.2 `tchar`. A table lookup: the strict checker asks this for every byte of
/// every field name, and a name like `user-agent` otherwise walks the symbol list per `-`.
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    table
};

/// Optional whitespace (RFC 9110 §5.6.3): SP or HTAB.
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !is_ows(*b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(*b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// `1*DIGIT` without overflow; anything else (signs, spaces inside, hex, lists) is `None`.
pub fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// 1-65535, ASCII digits only (no sign, no spaces).
pub fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|&p| p != 0)
}

/// Letters, digits, `-` and `_` in non-empty dot-separated labels (the
/// trailing dot is already removed), at most 253 bytes.
pub fn is_dns_name(name: &str) -> bool {
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

/// Why a `host[:port]` was refused. [`AuthorityError::reason`] is the short text the
/// callers put in their 400 bodies and config errors; the CORS proxy maps the cases onto its
/// own `TargetError`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorityError {
    /// `user@host`: credentials never travel in an authority here.
    UserInfo,
    /// Characters no authority holds.
    InvalidHost,
    /// Nothing before the `:` (`:80`).
    MissingHost,
    /// `[` without its `]`.
    UnclosedBracket,
    /// `[fe80::1%eth0]`: a zone id names an interface of the sender's machine; it means
    /// nothing to anyone else and would leak into `Host`.
    ZoneId,
    /// Brackets around something that is not an IPv6 address (`[v1.x]`, `[127.0.0.1]`).
    InvalidIpv6,
    /// More than one `:` outside brackets (`::1`).
    UnbracketedIpv6,
    /// A port that is not 1-5 ASCII digits (`h:`, `h:8x`, `h:+80`, `[::1]x`).
    InvalidPort,
    /// Digits, but not 1-65535 (`h:0`, `h:65536`).
    PortOutOfRange,
}

impl AuthorityError {
    /// The short text for an error body or log line.
    pub fn reason(self) -> &'static str {
        match self {
            AuthorityError::UserInfo => "userinfo (user@) is not allowed",
            AuthorityError::InvalidHost => "invalid host",
            AuthorityError::MissingHost => "missing host",
            AuthorityError::UnclosedBracket => "unclosed '[' in host",
            AuthorityError::ZoneId => "IPv6 zone identifiers are not supported",
            AuthorityError::InvalidIpv6 => "invalid IPv6 address in host",
            AuthorityError::UnbracketedIpv6 => "IPv6 addresses must be in brackets",
            AuthorityError::InvalidPort => "invalid port",
            AuthorityError::PortOutOfRange => "port out of range",
        }
    }
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Splits and checks `host[:port]` strictly: `http::uri::Authority` alone accepts userinfo,
/// an empty host, and ports like `99999`, `0` or `8x`, none of which may reach an upstream.
/// The host is returned as written (an IPv6 literal keeps its brackets); beyond the
/// characters `Authority` allows it is not judged here (see [`split_host_port`]).
pub fn split_authority(s: &str) -> Result<(&str, Option<u16>), AuthorityError> {
    // The common `Host` value, checked on every request: split in one pass, no `Authority`
    // parse (an allocation and a copy).
    if let Some((host_len, port)) = split_plain(s.as_bytes()) {
        return Ok((s.get(..host_len).unwrap_or(s), port));
    }
    // Letters, digits, `.`, `-` and at most one `:` are still a valid authority; only its
    // port can be wrong, which `split_host_port` names.
    let mut colons = 0;
    let simple = s.bytes().all(|b| {
        colons += usize::from(b == b':');
        b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':'
    }) && colons <= 1;
    if !simple {
        if s.contains('@') {
            return Err(AuthorityError::UserInfo);
        }
        Authority::try_from(s).map_err(|_| AuthorityError::InvalidHost)?;
    }
    split_host_port(s)
}

/// Letters, digits, `.` and `-`, then optionally `:` and a port of 1-65535 in 1-5 digits:
/// an authority [`split_authority`] accepts as it is. `false` says only "not this shape";
/// the full grammar decides.
pub fn is_plain_authority(bytes: &[u8]) -> bool {
    split_plain(bytes).is_some()
}

/// The plain shape of [`is_plain_authority`] in one pass: the host's length and the port.
/// `None` for anything else.
fn split_plain(bytes: &[u8]) -> Option<(usize, Option<u16>)> {
    let host_len = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-'))
        .unwrap_or(bytes.len());
    if host_len == 0 {
        return None;
    }
    let Some(rest) = bytes.get(host_len..).filter(|r| !r.is_empty()) else {
        return Some((host_len, None));
    };
    let digits = rest.strip_prefix(b":")?;
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    let mut port = 0u32;
    for &b in digits {
        port = port * 10 + u32::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
    }
    let port = u16::try_from(port).ok().filter(|p| *p != 0)?;
    Some((host_len, Some(port)))
}

/// The one `host[:port]` grammar: `[IPv6]` (no zone id) or a host without `:`, then
/// optionally `:` and a port of 1-65535 in at most 5 digits. The host is returned as
/// written, brackets included; what characters a host name may hold is the caller's rule
/// (`Authority`'s for `Host`, DNS names for the CORS proxy). Checked in reading order: the
/// host's shape first, then the port.
pub fn split_host_port(s: &str) -> Result<(&str, Option<u16>), AuthorityError> {
    if s.contains('@') {
        return Err(AuthorityError::UserInfo);
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or(AuthorityError::UnclosedBracket)?;
        if inner.contains('%') {
            return Err(AuthorityError::ZoneId);
        }
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| AuthorityError::InvalidIpv6)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(AuthorityError::InvalidPort)?),
        };
        (s.get(..inner.len() + 2).unwrap_or(s), port)
    } else {
        match s.split_once(':') {
            Some((_, port)) if port.contains(':') => return Err(AuthorityError::UnbracketedIpv6),
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(AuthorityError::MissingHost);
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(parse_port(p).ok_or(AuthorityError::PortOutOfRange)?)
        }
        Some(_) => return Err(AuthorityError::InvalidPort),
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests;
