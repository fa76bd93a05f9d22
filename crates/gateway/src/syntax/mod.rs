//! The small grammar every parser of request and config text shares: RFC 9110 tokens and
//! whitespace, decimal numbers, ports, DNS names and `host[:port]`. One definition each, so
//! `route`, `rewrite`, `strict` and `cors` cannot disagree (a port is 1-65535 everywhere:
//! port 0 is refused by all of them).

use http::uri::Authority;

/// RFC 9110 §5.6.2 `tchar`.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

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

/// Splits and checks `host[:port]` strictly: `http::uri::Authority` alone accepts userinfo,
/// an empty host, and ports like `99999`, `0` or `8x`, none of which may reach an upstream.
pub fn split_authority(s: &str) -> Result<(&str, Option<u16>), &'static str> {
    // Letters, digits, `.`, `-` and at most one `:` are always a valid authority: skip
    // `Authority`'s parse (an allocation and a copy) for the common `Host` value, which is
    // checked on every request.
    let mut colons = 0;
    let simple = s.bytes().all(|b| {
        colons += usize::from(b == b':');
        b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':'
    }) && colons <= 1;
    if !simple {
        if s.contains('@') {
            return Err("userinfo (user@) is not allowed");
        }
        Authority::try_from(s).map_err(|_| "invalid host")?;
    }
    let (host, port) = match s.rfind(':') {
        // `[::1]` has colons inside the brackets; a port only follows the `]`.
        Some(i) if !s.get(i..).is_some_and(|t| t.contains(']')) => {
            (s.get(..i).unwrap_or(""), Some(s.get(i + 1..).unwrap_or("")))
        }
        _ => (s, None),
    };
    if host.is_empty() {
        return Err("missing host");
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(parse_port(p).ok_or("port out of range")?)
        }
        Some(_) => return Err("invalid port"),
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests;
