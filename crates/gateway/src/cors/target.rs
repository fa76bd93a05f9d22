//! Reads the proxied target out of a CORS-proxy request: `/?url=<encoded>`.
//!
//! Why this exists: the target URL is the attacker-controlled input of an
//! open proxy. It is parsed exactly once, here, into one [`TargetUrl`] whose
//! host and port are what the policy checks, what the gateway connects to
//! and what it sends as `Host` (reliability.md check X4: no second parser
//! that could disagree). Anything ambiguous is a 400.

use std::fmt;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::Uri;

use super::address::parse_host_literal;
use super::ssrf::{is_dns_name, parse_port};

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
    // After one decode the URL must be plain visible ASCII. Anything else
    // (space, control, non-ASCII) is either a request-line injection or a
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
    let port = match port {
        None => default_port,
        Some(p) => parse_port(p).ok_or(TargetError::InvalidPort)?,
    };

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

/// RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Splits `host[:port]` / `[v6]:port` and validates the host: an IPv6
/// literal in brackets, or a DNS-style name / IPv4 (letters, digits, `-`,
/// `_`, dots). Everything else (`%`-escapes, sub-delims, IPvFuture) is
/// refused so no later component can read the host differently.
fn split_authority(authority: &str) -> Result<(&str, Option<&str>), TargetError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or(TargetError::Unparsable("unclosed '[' in host"))?;
        // Zone ids (`fe80::1%25eth0`) are refused like WHATWG URL does:
        // they only make sense for link-local addresses, which are refused
        // anyway, and would leak into the `Host` header.
        if inner.contains('%') {
            return Err(TargetError::Unparsable(
                "IPv6 zone identifiers are not supported",
            ));
        }
        if !parse_host_literal(inner).is_some_and(|ip| ip.is_ipv6()) {
            return Err(TargetError::Unparsable("invalid IPv6 address in host"));
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(TargetError::InvalidPort)?),
        };
        return Ok((inner, port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((_, port)) if port.contains(':') => {
            return Err(TargetError::Unparsable(
                "IPv6 addresses must be in brackets",
            ))
        }
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(TargetError::MissingHost);
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if !is_dns_name(name) {
        return Err(TargetError::Unparsable("invalid host"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (query, expected uri, https, host, port)
    type Ok5 = (&'static str, &'static str, bool, &'static str, u16);

    #[test]
    fn accepts_and_canonicalises() {
        let cases: &[Ok5] = &[
            (
                "url=http://example.com/",
                "http://example.com/",
                false,
                "example.com",
                80,
            ),
            (
                "url=https://example.com",
                "https://example.com/",
                true,
                "example.com",
                443,
            ),
            (
                "url=http%3A%2F%2Fexample.com%2Fa%3Fb%3Dc",
                "http://example.com/a?b=c",
                false,
                "example.com",
                80,
            ),
            (
                "url=HTTP://GOOD.example/",
                "http://good.example/",
                false,
                "good.example",
                80,
            ),
            (
                "url=https://h.example:443/x",
                "https://h.example/x",
                true,
                "h.example",
                443,
            ),
            (
                "url=http://h.example:080/x",
                "http://h.example/x",
                false,
                "h.example",
                80,
            ),
            (
                "url=http://h.example:8080/x",
                "http://h.example:8080/x",
                false,
                "h.example",
                8080,
            ),
            (
                "url=https://h.example:80/",
                "https://h.example:80/",
                true,
                "h.example",
                80,
            ),
            (
                "url=http://h.example?x=1",
                "http://h.example/?x=1",
                false,
                "h.example",
                80,
            ),
            (
                "url=http://h.example/p#frag",
                "http://h.example/p",
                false,
                "h.example",
                80,
            ),
            (
                "url=http://[::1]:8080/a",
                "http://[::1]:8080/a",
                false,
                "::1",
                8080,
            ),
            (
                "url=http://[::FFFF:7f00:1]/",
                "http://[::ffff:7f00:1]/",
                false,
                "::ffff:7f00:1",
                80,
            ),
            ("url=http://127.1/", "http://127.1/", false, "127.1", 80),
            (
                "url=http://LOCALHOST./",
                "http://localhost./",
                false,
                "localhost.",
                80,
            ),
            (
                "url=http://xn--bcher-kva.example/",
                "http://xn--bcher-kva.example/",
                false,
                "xn--bcher-kva.example",
                80,
            ),
            // Path and query stay byte-exact, `+` included; only one decode.
            (
                "url=http://h.example/c++/a+b?q=a+b%26r=%2520",
                "http://h.example/c++/a+b?q=a+b&r=%20",
                false,
                "h.example",
                80,
            ),
            // An unencoded `&` ends the parameter: the client must encode
            // the whole target URL (encodeURIComponent).
            (
                "url=http://h.example/?a=1&b=2",
                "http://h.example/?a=1",
                false,
                "h.example",
                80,
            ),
            (
                "url=http%3A%2F%2Fh.example%2Fa%252Fb",
                "http://h.example/a%2Fb",
                false,
                "h.example",
                80,
            ),
            (
                "url=http://h.example/a%2fb%3F",
                "http://h.example/a/b?",
                false,
                "h.example",
                80,
            ),
            // First `url` wins; other parameters are ignored.
            (
                "a=1&url=http://first.example/&url=http://second.example/",
                "http://first.example/",
                false,
                "first.example",
                80,
            ),
            (
                "xurl=http://no.example/&url=http://yes.example/",
                "http://yes.example/",
                false,
                "yes.example",
                80,
            ),
        ];
        for (query, uri, https, host, port) in cases {
            let t = target_from_query(Some(query)).expect(query);
            assert_eq!(t.uri.to_string(), *uri, "query {query:?}");
            assert_eq!(
                (t.scheme_https, t.host.as_str(), t.port),
                (*https, *host, *port),
                "query {query:?}"
            );
        }
    }

    #[test]
    fn refuses() {
        use TargetError::*;
        let scheme = |s: &str| UnsupportedScheme(s.to_owned());
        let bad = Unparsable("");
        let cases: Vec<(Option<&str>, TargetError)> = vec![
            (None, Missing),
            (Some(""), Missing),
            (Some("url="), Missing),
            (Some("url"), Missing),
            (Some("u=http://h.example/"), Missing),
            (Some("URL=http://h.example/"), Missing),
            (Some("url=file:///etc/passwd"), scheme("file")),
            (Some("url=gopher://h.example/"), scheme("gopher")),
            (Some("url=dict://h.example:11211/"), scheme("dict")),
            (Some("url=ftp://h.example/"), scheme("ftp")),
            (Some("url=ws://h.example/"), scheme("ws")),
            (Some("url=javascript:alert(1)"), scheme("javascript")),
            (Some("url=http://user:pass@198.51.100.10/"), UserInfo),
            (Some("url=http://good.example@127.0.0.1/"), UserInfo),
            (Some("url=http://@h.example/"), UserInfo),
            (Some("url=http%3A%2F%2Fu%40h.example/"), UserInfo),
            (Some("url=http://"), MissingHost),
            (Some("url=http:///x"), MissingHost),
            (Some("url=http://?x"), MissingHost),
            (Some("url=http://:80/"), MissingHost),
            (Some("url=http://h.example:/"), InvalidPort),
            (Some("url=http://h.example:0/"), InvalidPort),
            (Some("url=http://h.example:65536/"), InvalidPort),
            (Some("url=http://h.example:99999/"), InvalidPort),
            (Some("url=http://h.example:+80/"), InvalidPort),
            (Some("url=http://h.example:8x/"), InvalidPort),
            (Some("url=http://[::1]x/"), InvalidPort),
            (Some("url=http://[::1]:/"), InvalidPort),
            (Some("url=h.example"), bad.clone()),
            (Some("url=//h.example/"), bad.clone()),
            (Some("url=http:/127.0.0.1"), bad.clone()),
            (Some("url=http:\\\\127.0.0.1"), bad.clone()),
            // WHATWG reads `\` as `/` (host good.example); we see userinfo.
            // Either way it is refused.
            (Some("url=http://good.example\\@127.0.0.1/"), UserInfo),
            (Some("url=http://127.0.0.1:80\\@good/"), UserInfo),
            (Some("url=http://h.example/a b"), bad.clone()),
            (Some("url=http://h.example/a%20b"), bad.clone()),
            (Some("url=http://h.example/%0d%0aX:1"), bad.clone()),
            (Some("url=http://h.example/%C3%A9"), bad.clone()),
            (Some("url=http://h.example/%zz"), bad.clone()),
            (Some("url=http://h.example/%4"), bad.clone()),
            (Some("url=http%253A%252F%252Fh.example%252F"), bad.clone()),
            (Some("url=http://h%252e.example/"), bad.clone()),
            (Some("url=http://h!$.example/"), bad.clone()),
            (Some("url=http://h..example/"), bad.clone()),
            (Some("url=http://[v1.x]/"), bad.clone()),
            (Some("url=http://[fe80::1%25lo]/"), bad.clone()),
            (Some("url=http://[fe80::1%2525lo]/"), bad.clone()),
            (Some("url=http://[127.0.0.1]/"), bad.clone()),
            (Some("url=http://[::1/"), bad.clone()),
            (Some("url=http://::1/"), bad.clone()),
        ];
        for (query, want) in cases {
            let got = target_from_query(query);
            let same = match (&got, &want) {
                (Err(Unparsable(_)), Unparsable(_)) => true,
                (Err(e), w) => e == w,
                (Ok(_), _) => false,
            };
            assert!(same, "query {query:?}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn error_texts() {
        let cases = [
            (TargetError::Missing, "Required \"url\" query parameter not found."),
            (
                TargetError::UnsupportedScheme("file".into()),
                "Unsupported scheme \"file\" in \"url\" parameter: only http and https are proxied.",
            ),
            (TargetError::MissingHost, "The \"url\" parameter has no host."),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }

    #[test]
    fn percent_decoding_is_single_pass_and_keeps_plus() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("a+b", Some(b"a+b")),
            ("%2B", Some(b"+")),
            ("%2b%2F", Some(b"+/")),
            ("%252F", Some(b"%2F")),
            ("%", None),
            ("%2", None),
            ("%g0", None),
            ("%%41", None),
            ("%e2%82%ac", Some(&[0xe2, 0x82, 0xac])),
        ];
        for (input, want) in cases {
            assert_eq!(percent_decode(input).as_deref(), *want, "input {input:?}");
        }
    }
}
