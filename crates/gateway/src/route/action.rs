//! What a route answers itself, without an upstream: 405 for a method it does not allow, a
//! fixed response (`respond`), a redirect (`redirect`). Pure decisions, table-tested.

use bytes::Bytes;
use http::{Method, StatusCode};

/// A route's own answer instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `respond = { status, body }`.
    Respond {
        /// Any status 200–599.
        status: StatusCode,
        /// Sent as `text/plain`; may be empty.
        body: Bytes,
    },
    /// `redirect = { to, status }`.
    Redirect {
        /// Location template; `{path}` and `{query}` are replaced per request.
        to: String,
        /// 301, 302, 303, 307 or 308 (default 308: method and body kept, cacheable).
        status: StatusCode,
    },
}

/// The answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fixed {
    /// 405 with this `Allow` value.
    MethodNotAllowed(String),
    /// A fixed status and body.
    Respond(StatusCode, Bytes),
    /// A redirect to this `Location`.
    Redirect(StatusCode, String),
}

/// The statuses a redirect may use.
pub const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// Checks a redirect template at load: only the known placeholders, no control bytes.
pub fn check_redirect(to: &str) -> Result<(), &'static str> {
    if to.is_empty() {
        return Err("must not be empty");
    }
    if to.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("must not contain spaces or control characters");
    }
    let bare = to.replace("{path}", "").replace("{query}", "");
    if bare.contains(['{', '}']) {
        return Err("the only placeholders are {path} and {query}");
    }
    // Where the redirect goes must be the config's choice, never the client's.
    if to.starts_with("{query}") {
        return Err("must not start with {query}: the client would choose the target");
    }
    if to.starts_with("//") || to.starts_with('\\') || to.starts_with("/\\") {
        return Err("a scheme-relative target (//host) is not supported: write https://host");
    }
    if let Some((scheme, rest)) = to.split_once("://") {
        if !scheme.contains(['/', '{', '?']) {
            let end = rest.find(['/', '?', '#', '{']).unwrap_or(rest.len());
            let (authority, after) = rest.split_at(end);
            if authority.is_empty() {
                return Err("an absolute target writes its host out");
            }
            if after.starts_with('{') && !after.starts_with("{path}") {
                return Err("after the host comes /, ? or {path}");
            }
        }
    }
    Ok(())
}

/// Whether `method` is allowed by `methods` (`None` = all). `GET` allows `HEAD` too, as
/// HEAD is GET without the body (RFC 9110 §9.3.2).
pub fn allowed(methods: Option<&[Method]>, method: &Method) -> bool {
    match methods {
        None => true,
        Some(list) => {
            list.contains(method) || (*method == Method::HEAD && list.contains(&Method::GET))
        }
    }
}

/// The `Allow` header for `methods`.
pub fn allow_header(methods: &[Method]) -> String {
    let mut names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
        names.push("HEAD");
    }
    names.join(", ")
}

/// Decides whether the route answers a request itself: `path` and `query` as received.
pub fn decide(
    methods: Option<&[Method]>,
    action: Option<&Action>,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<Fixed> {
    if let Some(list) = methods.filter(|_| !allowed(methods, method)) {
        return Some(Fixed::MethodNotAllowed(allow_header(list)));
    }
    match action? {
        Action::Respond { status, body } => Some(Fixed::Respond(*status, body.clone())),
        Action::Redirect { to, status } => {
            Some(Fixed::Redirect(*status, location(to, path, query)))
        }
    }
}

/// Fills in `{path}` and `{query}` (the query without `?`); a `?` left with nothing after
/// it, because the request had no query, is dropped.
///
/// Open-redirect guard: a relative `Location` (the template starts with `/` or `{path}`)
/// never starts with more than one slash or with a backslash. A request for `//evil.example`
/// would otherwise be sent to `//evil.example`, which a browser reads as another host (and
/// `/\evil.example` too); the leading run of `/` and `\` is collapsed to one `/`, so it
/// stays a path on this site. Absolute templates name their host at load
/// ([`check_redirect`]), so the path cannot change it.
pub fn location(to: &str, path: &str, query: Option<&str>) -> String {
    let mut out = to
        .replace("{path}", path)
        .replace("{query}", query.unwrap_or(""));
    if out.ends_with('?') {
        out.pop();
    }
    if out.starts_with(['/', '\\']) {
        let rest = out.trim_start_matches(['/', '\\']);
        out = format!("/{rest}");
    }
    out
}

#[cfg(test)]
mod tests;
