//! Reads the proxied target out of a CORS-proxy request: `/?url=<encoded>`.
//!
//! Why this exists: the target URL is the attacker-controlled input of an
//! open proxy. It is parsed exactly once, here, into one [`TargetUrl`] whose
//! host and port are what the policy checks, what the gateway connects to
//! and what it sends as `Host` (no second parser that could disagree; the
//! `cors_target` tests check it). Anything ambiguous is a 400.

use std::fmt;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::Uri;

use crate::syntax::{is_dns_name, split_host_port, AuthorityError};

/// A validated absolute `http`/`https` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetUrl {
    /// Absolute URI with a canonical authority (lowercase host, port only
    /// when not the scheme's default) and the path and query exactly as the
    /// client sent them (`/` when empty). Fragments are dropped: they are
    /// never sent to a server.
    pub uri: Uri,
    /// `true` for `https`.
    pub scheme_https: bool,
    /// Lowercase host as written (a name, a possibly unusual IPv4 form such
    /// as `127.1`, or IPv6 without brackets). Check it with
    /// `parse_host_literal` before any DNS lookup.
    pub host: String,
    /// Explicit port, or 80/443.
    pub port: u16,
}

/// Why the `url` parameter was refused; `Display` is the 400 body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// No (or an empty) `url` parameter.
    Missing,
    /// Not an absolute URL we can read; the text says what is wrong.
    Unparsable(&'static str),
    /// A scheme other than `http`/`https` (lowercased).
    UnsupportedScheme(String),
    /// `user@host` or `user:pass@host`.
    UserInfo,
    /// No host after `scheme://`.
    MissingHost,
    /// A port that is not 1-65535 written in decimal digits.
    InvalidPort,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Missing => f.write_str("Required \"url\" query parameter not found."),
            TargetError::Unparsable(why) => write!(f, "Invalid \"url\" parameter: {why}."),
            TargetError::UnsupportedScheme(s) => write!(
                f,
                "Unsupported scheme \"{s}\" in \"url\" parameter: only http and https are proxied."
            ),
            TargetError::UserInfo => {
                f.write_str("Credentials (user@host) are not allowed in the \"url\" parameter.")
            }
            TargetError::MissingHost => f.write_str("The \"url\" parameter has no host."),
            TargetError::InvalidPort => {
                f.write_str("The \"url\" parameter has an invalid port (must be 1-65535).")
            }
        }
    }
}

impl std::error::Error for TargetError {}

/// Finds the first `url` parameter in `query` (the request URI's query,
/// without `?`), percent-decodes it once and validates it.
///
/// The parameter name is matched literally (`url`); only its value is
/// decoded.
pub fn target_from_query(query: Option<&str>) -> Result<TargetUrl, TargetError> {
    let raw = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| match pair.split_once('=') {
            Some(("url", value)) => Some(value),
            None if pair == "url" => Some(""),
            _ => None,
        })
        .ok_or(TargetError::Missing)?;
    if raw.is_empty() {
        return Err(TargetError::Missing);
    }
    let decoded = percent_decode(raw).ok_or(TargetError::Unparsable(
        "malformed percent-encoding (expected %XX)",
    ))?;
    parse_target(&decoded)
}

/// Decodes `%XX` once. `+` stays `+`: this is a URL, not form data, and `+`
/// is an ordinary character in the target's path and query (`/c++`,
/// `?q=a+b` where the *target* decides what `+` means). Turning it into a
/// space would change the target request. `None` on a `%` not followed by
/// two hex digits.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = char::from(*bytes.get(i + 1)?).to_digit(16)?;
            let lo = char::from(*bytes.get(i + 2)?).to_digit(16)?;
            // Both digits are < 16, so this fits a byte.
            out.push(((hi << 4) | lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

fn parse_target(url: &[u8]) -> Result<TargetUrl, TargetError> {
    let converted = international_host_to_ascii(url)?;
    let url = converted.as_deref().map_or(url, str::as_bytes);
    // After one decode (and an international host's conversion) the URL must be plain
    // visible ASCII. Anything else (space, control, non-ASCII) is either a request-line injection or a
    // client that did not encode the URL; both get a 400.
    if !url.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(TargetError::Unparsable(
            "it contains spaces, control characters or non-ASCII bytes; percent-encode them",
        ));
    }
    let url = std::str::from_utf8(url).map_err(|_| TargetError::Unparsable("not ASCII"))?;

    let (scheme, rest) = url
        .split_once(':')
        .filter(|(s, _)| is_scheme(s))
        .ok_or(TargetError::Unparsable("not an absolute URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    let https = match scheme.as_str() {
        "http" => false,
        "https" => true,
        _ => return Err(TargetError::UnsupportedScheme(scheme)),
    };
    let after_slashes = rest
        .strip_prefix("//")
        .ok_or(TargetError::Unparsable("expected \"//\" after the scheme"))?;
    let authority_end = after_slashes
        .find(['/', '?', '#'])
        .unwrap_or(after_slashes.len());
    let authority = after_slashes.get(..authority_end).unwrap_or_default();
    if authority.is_empty() {
        return Err(TargetError::MissingHost);
    }
    if authority.contains('@') {
        return Err(TargetError::UserInfo);
    }

    let (host, port) = split_authority(authority)?;
    let default_port = if https { 443 } else { 80 };
    let port = port.unwrap_or(default_port);

    let uri: Uri = url
        .parse()
        .map_err(|_| TargetError::Unparsable("not a valid URL"))?;
    // Our authority split and http::Uri must agree on where the host is;
    // if they do not, the URL is ambiguous and we refuse it.
    if uri.authority().map(Authority::as_str) != Some(authority) {
        return Err(TargetError::Unparsable("ambiguous authority"));
    }
    let host = host.to_ascii_lowercase();

    let canonical_authority = match (host.contains(':'), port == default_port) {
        (true, true) => format!("[{host}]"),
        (true, false) => format!("[{host}]:{port}"),
        (false, true) => host.clone(),
        (false, false) => format!("{host}:{port}"),
    };
    let path_and_query = match uri.path_and_query().map(PathAndQuery::as_str) {
        None | Some("") => "/".to_owned(),
        Some(pq) if pq.starts_with('?') => format!("/{pq}"),
        Some(pq) => pq.to_owned(),
    };
    let uri = Uri::builder()
        .scheme(if https { Scheme::HTTPS } else { Scheme::HTTP })
        .authority(canonical_authority)
        .path_and_query(path_and_query)
        .build()
        .map_err(|_| TargetError::Unparsable("not a valid URL"))?;
    Ok(TargetUrl {
        uri,
        scheme_https: https,
        host,
        port,
    })
}

/// `https://münchen.de/x` → `https://xn--mnchen-3ya.de/x`: a URL whose host (and only
/// its host) holds non-ASCII text gets that host converted to its ASCII (punycode) form
/// the way browsers do (UTS #46 as in the WHATWG URL standard, by the `idna` crate).
/// Everything after is checked on the result, so the allowlist, the literal-address checks
/// and the resolved-address filter all see the name that is actually looked up: a fullwidth
/// `ｌｏｃａｌｈｏｓｔ` is `localhost`, `１２７.０.０.１` is `127.0.0.1`.
///
/// `None`: nothing to convert (ASCII already, or the non-ASCII is elsewhere, which the
/// caller refuses).
fn international_host_to_ascii(url: &[u8]) -> Result<Option<String>, TargetError> {
    if url.is_ascii() {
        return Ok(None);
    }
    let Ok(text) = std::str::from_utf8(url) else {
        return Ok(None);
    };
    let Some((scheme, rest)) = text.split_once("://").filter(|(s, _)| is_scheme(s)) else {
        return Ok(None);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_ascii() || authority.contains(['@', '[', ']']) {
        return Ok(None);
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if port.is_ascii() => (host, Some(port)),
        _ => (authority, None),
    };
    let ascii = host_to_ascii(host)?;
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    Ok(Some(format!("{scheme}://{ascii}{port}{tail}")))
}

/// One host name to its ASCII form (see [`international_host_to_ascii`]); the result is
/// a plain DNS-style name or IPv4 text, or an error. Also used for allowlist patterns, so
/// `münchen.de` in the config matches the converted target.
pub(crate) fn host_to_ascii(host: &str) -> Result<String, TargetError> {
    const INVALID: TargetError = TargetError::Unparsable("invalid international domain name");
    let ascii = idna::domain_to_ascii_cow(host.as_bytes(), idna::AsciiDenyList::URL)
        .map_err(|_| INVALID)?;
    // The mapping can produce characters that mean something in a URL (a fullwidth `：`
    // becomes `:`); only a plain name may come out.
    let name = ascii.strip_suffix('.').unwrap_or(&ascii);
    if name.is_empty() || !is_dns_name(name) {
        return Err(INVALID);
    }
    Ok(ascii.into_owned())
}

/// RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Splits `host[:port]` / `[v6]:port` with the gateway's one authority grammar
/// (`syntax::split_host_port`: an IPv6 literal in brackets without zone id, a port of
/// 1-65535) and then holds the host to the proxy's own rule: a DNS-style name or IPv4
/// (letters, digits, `-`, `_`, dots). Everything else (`%`-escapes, sub-delims,
/// IPvFuture) is refused so no later component can read the host differently. The host
/// comes back without brackets.
///
/// Zone ids (`fe80::1%25eth0`) are refused like WHATWG URL does: they only make sense for
/// link-local addresses, which are refused anyway, and would leak into the `Host` header.
fn split_authority(authority: &str) -> Result<(&str, Option<u16>), TargetError> {
    let (host, port) = split_host_port(authority).map_err(|e| match e {
        AuthorityError::UserInfo => TargetError::UserInfo,
        AuthorityError::MissingHost => TargetError::MissingHost,
        AuthorityError::InvalidPort | AuthorityError::PortOutOfRange => TargetError::InvalidPort,
        AuthorityError::InvalidHost
        | AuthorityError::UnclosedBracket
        | AuthorityError::ZoneId
        | AuthorityError::InvalidIpv6
        | AuthorityError::UnbracketedIpv6 => TargetError::Unparsable(e.reason()),
    })?;
    if let Some(inner) = host.strip_prefix('[') {
        return Ok((inner.strip_suffix(']').unwrap_or(inner), port));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if !is_dns_name(name) {
        return Err(TargetError::Unparsable("invalid host"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests;
