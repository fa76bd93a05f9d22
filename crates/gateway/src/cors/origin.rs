//! The CORS side of the CORS proxy: which browser origins may use it, the
//! preflight answer, and the headers added to or removed from the proxied
//! exchange.
//!
//! Why this exists: the gateway answers preflights itself (they are never
//! forwarded) and is the only CORS authority for proxied responses, so these
//! rules must be in one place and testable without a server. `Origin` and
//! `X-Requested-With` can be forged by non-browser clients, so these checks
//! limit abuse from browsers only; the SSRF protection is `ssrf.rs`.

use std::fmt;
use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, COOKIE, ORIGIN,
    SET_COOKIE, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

mod pattern;

use pattern::{parse_origin, OriginKind};
pub use pattern::{OriginPattern, OriginPatternError};

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
mod tests;
