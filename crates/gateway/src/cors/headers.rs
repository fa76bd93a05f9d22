//! The CORS side of the CORS proxy: which browser origins may use it, the
//! preflight answer, and the headers added to or removed from the proxied
//! exchange.
//!
//! Why this exists: the gateway answers preflights itself (they are never
//! forwarded) and is the only CORS authority for proxied responses, so these
//! rules must be in one place and testable without a server. `Origin` and
//! `X-Requested-With` can be forged by non-browser clients, so these checks
//! limit abuse from browsers only; the SSRF protection is `policy.rs`.

use std::fmt;
use std::net::Ipv6Addr;
use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, COOKIE, ORIGIN,
    SET_COOKIE, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

use super::policy::{is_dns_name, parse_port};

const X_REQUESTED_WITH: &str = "x-requested-with";

/// Response header names a browser exposes to scripts without
/// `Access-Control-Expose-Headers` (Fetch: CORS-safelisted response-header
/// names), plus the ones it never exposes (`Set-Cookie`).
const NOT_EXPOSED: &[&str] = &[
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "set-cookie",
    "set-cookie2",
];

/// One allowed origin: `https://app.example.com`, `*.example.com`,
/// `https://*.example.com`, `http://localhost:3000` or `*`.
///
/// Without a scheme, `http` and `https` both match. Without a port, only the
/// scheme's default port matches (an origin is scheme + host + port;
/// `https://app.example.com:8443` is another origin). A wildcard matches
/// subdomains at any depth, not the apex. Matching is case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern(OriginKind);

#[derive(Clone, Debug, PartialEq, Eq)]
enum OriginKind {
    Any,
    Match {
        scheme: Option<String>,
        host: HostMatch,
        port: Option<u16>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostMatch {
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
struct Origin {
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

/// `host[:port]` with host a name, IPv4 or `[v6]`; host returned lowercase
/// (IPv6 re-serialised in canonical form, in brackets).
fn split_host(s: &str, allow_wildcard: bool) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inner.parse().ok()?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{ip}]"), port)
    } else {
        let (host, port) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        let host = host.to_ascii_lowercase();
        let name = if allow_wildcard {
            host.strip_prefix("*.").unwrap_or(&host)
        } else {
            &host
        };
        if !is_dns_name(name) {
            return None;
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Some((host, port))
}

fn parse_origin(value: &str) -> Option<Origin> {
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

    fn matches(&self, origin: &Origin) -> bool {
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

/// Why a request may not use the proxy; `Display` is the 403 body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginError {
    /// The `Origin` is not in `allow_origins` (text: the origin, sanitised).
    NotAllowed(String),
    /// `require_header` is on and neither `Origin` nor `X-Requested-With`
    /// was sent.
    MissingRequiredHeader,
    /// More than one `Origin` header.
    DuplicateOrigin,
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginError::NotAllowed(o) => {
                write!(f, "The origin \"{o}\" is not allowed to use this proxy.")
            }
            OriginError::MissingRequiredHeader => f.write_str(
                "Missing required request header. Must specify one of: origin,x-requested-with",
            ),
            OriginError::DuplicateOrigin => f.write_str("Multiple Origin headers."),
        }
    }
}

impl std::error::Error for OriginError {}

/// Echoable text of a header value: printable ASCII only, at most 100 chars.
fn sanitise(value: &HeaderValue) -> String {
    value
        .as_bytes()
        .iter()
        .take(100)
        .map(|&b| match b {
            0x20..=0x7e => char::from(b),
            _ => '?',
        })
        .collect()
}

/// CORS configuration of the proxy.
#[derive(Clone, Debug)]
pub struct CorsPolicy {
    /// Origins allowed to use the proxy; empty (or containing `*`) = any.
    pub allow_origins: Vec<OriginPattern>,
    /// Send `Access-Control-Allow-Credentials: true` (the origin is then
    /// always echoed, never `*`). Combined with "any origin" this lets every
    /// site make credentialed requests through the proxy: avoid. Default off.
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` of preflight answers (whole seconds).
    /// Default 600 s.
    pub max_age: Duration,
    /// Methods offered in preflights. Default GET, POST, PUT, PATCH, DELETE, HEAD.
    pub allow_methods: Vec<Method>,
    /// Request headers offered in preflights; `None` (default) = echo what
    /// was requested.
    pub allow_headers: Option<Vec<HeaderName>>,
    /// Refuse requests with neither `Origin` nor `X-Requested-With`
    /// (cors-anywhere's `requireHeader`). Default on.
    pub require_header: bool,
    /// Forward the client's `Cookie` to the target. Default off.
    pub forward_cookies: bool,
    /// Forward the client's `Authorization` to the target. Default off.
    pub forward_authorization: bool,
    /// Pass the target's `Set-Cookie` back to the client. Default off.
    pub pass_set_cookie: bool,
}

impl Default for CorsPolicy {
    fn default() -> Self {
        CorsPolicy {
            allow_origins: Vec::new(),
            allow_credentials: false,
            max_age: Duration::from_secs(600),
            allow_methods: vec![
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::HEAD,
            ],
            allow_headers: None,
            require_header: true,
            forward_cookies: false,
            forward_authorization: false,
            pass_set_cookie: false,
        }
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`. The gateway answers it itself with
/// [`CorsPolicy::preflight_response`]; it is never forwarded.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

impl CorsPolicy {
    fn any_origin(&self) -> bool {
        self.allow_origins.is_empty() || self.allow_origins.iter().any(|p| p.0 == OriginKind::Any)
    }

    fn origin_allowed(&self, value: &HeaderValue) -> bool {
        let origin = value.to_str().ok().and_then(parse_origin);
        if self.any_origin() {
            // `null` (sandboxed frames, file:) and other opaque origins get
            // `*` only; echoing them with credentials would let any page in.
            return origin.is_some() || !self.allow_credentials;
        }
        origin.is_some_and(|o| self.allow_origins.iter().any(|p| p.matches(&o)))
    }

    /// `true` when `method` is in `allow_methods`. Browsers skip the
    /// preflight method check for GET, HEAD and POST, and non-browser
    /// clients never preflight, so the gateway must call this on the actual
    /// request too.
    pub fn method_allowed(&self, method: &Method) -> bool {
        self.allow_methods.contains(method)
    }

    /// Checks the request's `Origin` / `X-Requested-With`. `Ok(Some(origin))`
    /// is the allowed origin to pass to [`add_response_headers`]; `Ok(None)`
    /// a request without `Origin` that is still acceptable. An error is a 403
    /// whose body is the error's `Display`.
    ///
    /// [`add_response_headers`]: CorsPolicy::add_response_headers
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, OriginError> {
        let mut origins = headers.get_all(ORIGIN).iter();
        let origin = origins.next();
        if origins.next().is_some() {
            return Err(OriginError::DuplicateOrigin);
        }
        match origin {
            Some(o) if self.origin_allowed(o) => Ok(Some(o.clone())),
            Some(o) => Err(OriginError::NotAllowed(sanitise(o))),
            None if self.require_header && !headers.contains_key(X_REQUESTED_WITH) => {
                Err(OriginError::MissingRequiredHeader)
            }
            None => Ok(None),
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`:
    /// `*` when any origin may use the proxy and credentials are off,
    /// otherwise the allowed origin echoed, otherwise none.
    fn allow_origin_value(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        if self.any_origin() && !self.allow_credentials {
            return Some(HeaderValue::from_static("*"));
        }
        origin.filter(|o| self.origin_allowed(o)).cloned()
    }

    /// The answer to a preflight (body left to the caller).
    ///
    /// * Origin not allowed (or duplicated): `403` without CORS headers.
    ///   Call [`check_origin`] first to get the body text.
    /// * Otherwise `204` with `Access-Control-Allow-Origin`, `-Methods` (all
    ///   of `allow_methods`), `-Headers` (the requested ones that are
    ///   allowed), `-Max-Age` and, when on, `-Credentials`.
    /// * A requested method outside `allow_methods` still gets `204` listing
    ///   only the allowed methods: the browser then refuses the request and
    ///   its console names the method, which a bare `403` would not.
    ///
    /// Always `Vary: Origin, Access-Control-Request-Method,
    /// Access-Control-Request-Headers`, since the answer depends on them.
    ///
    /// [`check_origin`]: CorsPolicy::check_origin
    pub fn preflight_response(&self, headers: &HeaderMap) -> Response<()> {
        let allow_origin = match self.check_origin(headers) {
            Ok(origin) => self.allow_origin_value(origin.as_ref()),
            Err(_) => None,
        };
        let mut res = Response::new(());
        *res.status_mut() = match allow_origin {
            Some(_) => StatusCode::NO_CONTENT,
            None => StatusCode::FORBIDDEN,
        };
        let out = res.headers_mut();
        for name in [
            "origin",
            "access-control-request-method",
            "access-control-request-headers",
        ] {
            append_vary(out, name);
        }
        let Some(allow_origin) = allow_origin else {
            return res;
        };
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.allow_credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        let methods: Vec<&str> = self.allow_methods.iter().map(Method::as_str).collect();
        if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
            out.insert(ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        let requested = requested_headers(headers);
        let allowed: Vec<&str> = requested
            .iter()
            .filter(|h| {
                self.allow_headers
                    .as_ref()
                    .is_none_or(|list| list.contains(*h))
            })
            .map(HeaderName::as_str)
            .collect();
        if !allowed.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                out.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
        }
        out.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age.as_secs()),
        );
        res
    }

    /// Makes a proxied response a CORS response. `origin` is what
    /// [`check_origin`] returned. Upstream `Access-Control-*` headers are
    /// removed first (the gateway is the CORS authority for what it serves),
    /// then: `Access-Control-Allow-Origin` (`*` only when any origin is
    /// allowed and credentials are off, else the origin echoed),
    /// `Access-Control-Allow-Credentials: true` when on,
    /// `Access-Control-Expose-Headers` listing the response's other header
    /// names, `Vary: Origin` (once). `Set-Cookie` is dropped unless
    /// `pass_set_cookie`. Call it after hop-by-hop headers are removed, or
    /// they end up in the expose list.
    ///
    /// [`check_origin`]: CorsPolicy::check_origin
    pub fn add_response_headers(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        let upstream_cors: Vec<HeaderName> = headers
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in upstream_cors {
            headers.remove(name);
        }
        if !self.pass_set_cookie {
            headers.remove(SET_COOKIE);
            headers.remove("set-cookie2");
        }
        if let Some(allow_origin) = self.allow_origin_value(origin) {
            let mut exposed: Vec<&str> = headers
                .keys()
                .map(HeaderName::as_str)
                .filter(|k| !NOT_EXPOSED.contains(k))
                .collect();
            // HeaderMap order changes on removal; sort for a stable value.
            exposed.sort_unstable();
            if !exposed.is_empty() {
                if let Ok(v) = HeaderValue::from_str(&exposed.join(", ")) {
                    headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v);
                }
            }
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
            if self.allow_credentials {
                headers.insert(
                    ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
        }
        append_vary(headers, "origin");
    }

    /// Removes client credentials before forwarding: `Cookie` unless
    /// `forward_cookies`, `Authorization` unless `forward_authorization`.
    /// They belong to the gateway's site, not to the target. `Origin` and
    /// `X-Requested-With` are kept: the target sees the real browser origin
    /// (as with cors-anywhere), so its own CORS/CSRF checks still work.
    pub fn strip_request_headers(&self, headers: &mut HeaderMap) {
        if !self.forward_cookies {
            headers.remove(COOKIE);
        }
        if !self.forward_authorization {
            headers.remove(AUTHORIZATION);
        }
    }
}

/// The valid header names in `Access-Control-Request-Headers`, lowercase,
/// without duplicates, in request order. Invalid tokens are dropped (the
/// browser then fails the preflight for them).
fn requested_headers(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names
}

/// Adds `name` to `Vary` unless it (or `*`) is already listed.
fn append_vary(headers: &mut HeaderMap, name: &'static str) {
    let present = headers.get_all(VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.eq_ignore_ascii_case(name))
        })
    });
    if !present {
        headers.append(VARY, HeaderValue::from_static(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Opt = Option<&'static str>;
    type Pairs = &'static [(&'static str, &'static str)];
    /// (policy, request headers, expected origin or error)
    type OriginCase<'a> = (&'a CorsPolicy, HeaderMap, Result<Opt, OriginError>);
    /// (name, policy, request, status, allow-origin, allow-headers, allow-credentials)
    type PreflightCase = (&'static str, CorsPolicy, HeaderMap, u16, Opt, Opt, Opt);
    /// (name, policy, origin, allow-origin, allow-credentials, set-cookie kept)
    type ResponseCase = (&'static str, CorsPolicy, Opt, Opt, Opt, bool);

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).expect("test header value")
    }

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            let name = HeaderName::from_bytes(k.as_bytes()).expect("test header name");
            m.append(name, hv(v));
        }
        m
    }

    fn policy(origins: &[&str], credentials: bool) -> CorsPolicy {
        CorsPolicy {
            allow_origins: origins
                .iter()
                .map(|o| OriginPattern::parse(o).expect("test pattern"))
                .collect(),
            allow_credentials: credentials,
            ..CorsPolicy::default()
        }
    }

    fn get<'a>(m: &'a HeaderMap, name: &str) -> Option<&'a str> {
        m.get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn origin_patterns() {
        // (pattern, origin, allowed)
        let cases: &[(&str, &str, bool)] = &[
            ("https://app.example.com", "https://app.example.com", true),
            ("https://app.example.com", "https://APP.example.com", true),
            ("https://app.example.com", "HTTPS://app.example.com", true),
            (
                "https://app.example.com",
                "https://app.example.com:443",
                true,
            ),
            ("https://app.example.com", "http://app.example.com", false),
            (
                "https://app.example.com",
                "https://app.example.com:8443",
                false,
            ),
            (
                "https://app.example.com",
                "https://evil.app.example.com",
                false,
            ),
            (
                "https://app.example.com",
                "https://app.example.com.evil.net",
                false,
            ),
            ("https://app.example.com", "https://app.example.com/", false),
            ("https://app.example.com", "null", false),
            ("*.example.com", "https://a.example.com", true),
            ("*.example.com", "http://a.b.example.com", true),
            ("*.example.com", "https://example.com", false),
            ("*.example.com", "https://badexample.com", false),
            ("*.example.com", "https://a.example.com:8443", false),
            ("*.example.com", "ftp://a.example.com", false),
            ("https://*.example.com", "https://a.example.com", true),
            ("https://*.example.com", "http://a.example.com", false),
            (
                "https://*.example.com:8443",
                "https://a.example.com:8443",
                true,
            ),
            ("http://localhost:3000", "http://localhost:3000", true),
            ("http://localhost:3000", "http://localhost", false),
            ("http://[::1]:3000", "http://[0::1]:3000", true),
            ("app.example.com", "http://app.example.com", true),
            ("app.example.com", "https://app.example.com", true),
            (
                "chrome-extension://abcdef",
                "chrome-extension://abcdef",
                true,
            ),
            ("*", "https://anything.test", true),
            ("*", "null", true),
        ];
        for (pattern, origin, want) in cases {
            let p = policy(&[pattern], false);
            let got = p.check_origin(&map(&[("origin", origin)]));
            assert_eq!(
                got.is_ok(),
                *want,
                "pattern {pattern} origin {origin}: {got:?}"
            );
        }
        for bad in [
            "",
            "https://",
            "https://a b",
            "*.",
            "a.*.com",
            "https://h:0",
            "https://h/x",
            "1x://h",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "pattern {bad:?}");
        }
    }

    #[test]
    fn check_origin_results() {
        let any = policy(&[], false);
        let listed = policy(&["https://app.example.com"], false);
        let optional = CorsPolicy {
            require_header: false,
            ..CorsPolicy::default()
        };
        let any_creds = policy(&[], true);
        let cases: Vec<OriginCase> = vec![
            (
                &any,
                map(&[("origin", "https://x.test")]),
                Ok(Some("https://x.test")),
            ),
            (
                &any,
                map(&[("x-requested-with", "XMLHttpRequest")]),
                Ok(None),
            ),
            (&any, map(&[]), Err(OriginError::MissingRequiredHeader)),
            (&optional, map(&[]), Ok(None)),
            (&any, map(&[("origin", "null")]), Ok(Some("null"))),
            (
                &any_creds,
                map(&[("origin", "null")]),
                Err(OriginError::NotAllowed("null".into())),
            ),
            (
                &any_creds,
                map(&[("origin", "https://x.test")]),
                Ok(Some("https://x.test")),
            ),
            (
                &listed,
                map(&[("origin", "https://evil.test")]),
                Err(OriginError::NotAllowed("https://evil.test".into())),
            ),
            (
                &listed,
                map(&[
                    ("origin", "https://app.example.com"),
                    ("origin", "https://app.example.com"),
                ]),
                Err(OriginError::DuplicateOrigin),
            ),
            // X-Requested-With does not bypass the origin allowlist when an
            // Origin is present.
            (
                &listed,
                map(&[("origin", "https://evil.test"), ("x-requested-with", "x")]),
                Err(OriginError::NotAllowed("https://evil.test".into())),
            ),
        ];
        for (i, (p, headers, want)) in cases.into_iter().enumerate() {
            let got = p.check_origin(&headers);
            let got = match &got {
                Ok(o) => Ok(o.as_ref().and_then(|v| v.to_str().ok())),
                Err(e) => Err(e.clone()),
            };
            assert_eq!(got, want, "case {i}");
        }
        assert_eq!(
            OriginError::MissingRequiredHeader.to_string(),
            "Missing required request header. Must specify one of: origin,x-requested-with"
        );
        let weird = HeaderValue::from_bytes(b"https://a\xffb\tc").expect("obs-text");
        assert_eq!(sanitise(&weird), "https://a?b?c");
    }

    #[test]
    fn preflight_detection() {
        let cases: &[(Method, Pairs, bool)] = &[
            (
                Method::OPTIONS,
                &[
                    ("origin", "https://a.test"),
                    ("access-control-request-method", "PUT"),
                ],
                true,
            ),
            (Method::OPTIONS, &[("origin", "https://a.test")], false),
            (
                Method::OPTIONS,
                &[("access-control-request-method", "PUT")],
                false,
            ),
            (
                Method::GET,
                &[
                    ("origin", "https://a.test"),
                    ("access-control-request-method", "PUT"),
                ],
                false,
            ),
        ];
        for (method, headers, want) in cases {
            assert_eq!(
                is_preflight(method, &map(headers)),
                *want,
                "{method} {headers:?}"
            );
        }
    }

    #[test]
    fn preflight_answers() {
        let req = |origin: &str, method: &str, hdrs: &str| {
            map(&[
                ("origin", origin),
                ("access-control-request-method", method),
                ("access-control-request-headers", hdrs),
            ])
        };
        // (policy, request, status, allow-origin, allow-headers, credentials)
        let restricted = CorsPolicy {
            allow_headers: Some(vec![HeaderName::from_static("x-api-key")]),
            ..policy(&["https://app.example.com"], false)
        };
        let creds_any = policy(&[], true);
        let cases: Vec<PreflightCase> = vec![
            (
                "any origin, no credentials: *",
                policy(&[], false),
                req("https://a.test", "PUT", "X-Foo, content-type,x-foo"),
                204,
                Some("*"),
                Some("x-foo, content-type"),
                None,
            ),
            (
                "credentials: origin echoed, never *",
                creds_any.clone(),
                req("https://a.test", "PUT", ""),
                204,
                Some("https://a.test"),
                None,
                Some("true"),
            ),
            (
                "listed origin with header allowlist",
                restricted.clone(),
                req("https://app.example.com", "DELETE", "x-api-key, x-other"),
                204,
                Some("https://app.example.com"),
                Some("x-api-key"),
                None,
            ),
            (
                "origin not allowed: 403",
                restricted.clone(),
                req("https://evil.test", "GET", ""),
                403,
                None,
                None,
                None,
            ),
            (
                "null origin with credentials: 403",
                creds_any,
                req("null", "GET", ""),
                403,
                None,
                None,
                None,
            ),
        ];
        for (name, p, headers, status, acao, acah, acac) in cases {
            let res = p.preflight_response(&headers);
            let h = res.headers();
            assert_eq!(res.status().as_u16(), status, "{name}");
            assert_eq!(get(h, "access-control-allow-origin"), acao, "{name}");
            assert_eq!(get(h, "access-control-allow-headers"), acah, "{name}");
            assert_eq!(get(h, "access-control-allow-credentials"), acac, "{name}");
            let vary: Vec<&str> = h
                .get_all(VARY)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            assert_eq!(
                vary,
                [
                    "origin",
                    "access-control-request-method",
                    "access-control-request-headers"
                ],
                "{name}"
            );
            if status == 204 {
                assert_eq!(
                    get(h, "access-control-allow-methods"),
                    Some("GET, POST, PUT, PATCH, DELETE, HEAD"),
                    "{name}"
                );
                assert_eq!(get(h, "access-control-max-age"), Some("600"), "{name}");
            } else {
                assert_eq!(get(h, "access-control-allow-methods"), None, "{name}");
            }
        }
    }

    #[test]
    fn preflight_for_a_method_not_allowed_does_not_list_it() {
        let p = CorsPolicy {
            allow_methods: vec![Method::GET],
            ..CorsPolicy::default()
        };
        let res = p.preflight_response(&map(&[
            ("origin", "https://a.test"),
            ("access-control-request-method", "DELETE"),
        ]));
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            get(res.headers(), "access-control-allow-methods"),
            Some("GET")
        );
        assert!(!p.method_allowed(&Method::DELETE));
        assert!(p.method_allowed(&Method::GET));
    }

    #[test]
    fn response_headers() {
        let upstream = || {
            map(&[
                ("content-type", "text/plain"),
                ("content-length", "2"),
                ("x-request-id", "7"),
                ("etag", "\"abc\""),
                ("set-cookie", "a=1"),
                (
                    "access-control-allow-origin",
                    "https://upstream-choice.test",
                ),
                ("access-control-allow-credentials", "true"),
                ("vary", "Accept-Encoding"),
            ])
        };
        // (name, policy, origin, acao, acac, set-cookie kept)
        let pass = CorsPolicy {
            pass_set_cookie: true,
            ..policy(&[], false)
        };
        let cases: Vec<ResponseCase> = vec![
            (
                "any origin: *",
                policy(&[], false),
                Some("https://a.test"),
                Some("*"),
                None,
                false,
            ),
            (
                "no Origin, any: *",
                policy(&[], false),
                None,
                Some("*"),
                None,
                false,
            ),
            (
                "credentials: echoed",
                policy(&[], true),
                Some("https://a.test"),
                Some("https://a.test"),
                Some("true"),
                false,
            ),
            (
                "credentials, no Origin: none",
                policy(&[], true),
                None,
                None,
                None,
                false,
            ),
            (
                "listed: echoed",
                policy(&["*.example.com"], false),
                Some("https://a.example.com"),
                Some("https://a.example.com"),
                None,
                false,
            ),
            (
                "listed, other origin: none",
                policy(&["*.example.com"], false),
                Some("https://evil.test"),
                None,
                None,
                false,
            ),
            (
                "pass_set_cookie",
                pass,
                Some("https://a.test"),
                Some("*"),
                None,
                true,
            ),
        ];
        for (name, p, origin, acao, acac, cookie) in cases {
            let mut h = upstream();
            let origin = origin.map(hv);
            p.add_response_headers(origin.as_ref(), &mut h);
            assert_eq!(get(&h, "access-control-allow-origin"), acao, "{name}");
            assert_eq!(get(&h, "access-control-allow-credentials"), acac, "{name}");
            assert_eq!(h.contains_key("set-cookie"), cookie, "{name}");
            let vary: Vec<&str> = h
                .get_all(VARY)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            assert_eq!(vary, ["Accept-Encoding", "origin"], "{name}");
            let expose = get(&h, "access-control-expose-headers");
            match acao {
                Some(_) => assert_eq!(expose, Some("etag, vary, x-request-id"), "{name}"),
                None => assert_eq!(expose, None, "{name}"),
            }
            assert!(
                !h.contains_key("access-control-allow-credentials") || p.allow_credentials,
                "{name}"
            );
        }
    }

    #[test]
    fn credentials_never_produce_a_wildcard() {
        let origins: &[&[&str]] = &[&[], &["*"], &["*.example.com"], &["https://a.example.com"]];
        for allow in origins {
            let p = policy(allow, true);
            for origin in [
                None,
                Some("https://a.example.com"),
                Some("null"),
                Some("https://evil.test"),
            ] {
                let origin = origin.map(hv);
                let mut h = HeaderMap::new();
                p.add_response_headers(origin.as_ref(), &mut h);
                assert_ne!(
                    get(&h, "access-control-allow-origin"),
                    Some("*"),
                    "{allow:?} {origin:?}"
                );
                let mut req = map(&[("access-control-request-method", "GET")]);
                if let Some(o) = &origin {
                    req.insert(ORIGIN, o.clone());
                }
                let pre = p.preflight_response(&req);
                assert_ne!(
                    get(pre.headers(), "access-control-allow-origin"),
                    Some("*"),
                    "{allow:?} {origin:?}"
                );
            }
        }
    }

    #[test]
    fn vary_is_not_duplicated() {
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &["origin"]),
            (&["Origin"], &["Origin"]),
            (&["accept-encoding, ORIGIN"], &["accept-encoding, ORIGIN"]),
            (&["*"], &["*"]),
            (&["accept"], &["accept", "origin"]),
        ];
        for (before, after) in cases {
            let mut h = HeaderMap::new();
            for v in *before {
                h.append(VARY, hv(v));
            }
            append_vary(&mut h, "origin");
            let got: Vec<&str> = h
                .get_all(VARY)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            assert_eq!(got, *after, "{before:?}");
        }
    }

    #[test]
    fn request_credentials_are_stripped_unless_configured() {
        let client = || {
            map(&[
                ("cookie", "session=1"),
                ("authorization", "Bearer x"),
                ("origin", "https://a.test"),
                ("x-requested-with", "XMLHttpRequest"),
                ("accept", "*/*"),
            ])
        };
        // (forward_cookies, forward_authorization, cookie kept, auth kept)
        let cases = [
            (false, false, false, false),
            (true, false, true, false),
            (false, true, false, true),
        ];
        for (cookies, auth, keep_cookie, keep_auth) in cases {
            let p = CorsPolicy {
                forward_cookies: cookies,
                forward_authorization: auth,
                ..CorsPolicy::default()
            };
            let mut h = client();
            p.strip_request_headers(&mut h);
            assert_eq!(h.contains_key("cookie"), keep_cookie);
            assert_eq!(h.contains_key("authorization"), keep_auth);
            assert!(
                h.contains_key("origin")
                    && h.contains_key("x-requested-with")
                    && h.contains_key("accept")
            );
        }
    }
}
