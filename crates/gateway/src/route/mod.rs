//! Prefix routing: a pure function from a request's path to an upstream URI.
//!
//! Matching is byte-exact and case-sensitive on path-segment boundaries; the longest prefix
//! wins. Nothing here does IO, so the whole module is covered by table-driven tests.
//!
//! # What is forwarded
//!
//! A path without dot-segments is forwarded byte-exact: no percent-decoding, no re-encoding,
//! no merging of `//`. Upstreams differ in how they normalise, and any rewrite we do is one
//! more parser differential an attacker can play with; passing the bytes through means the
//! upstream sees exactly what the client sent. Dot-segments are the exception, because they
//! change *which* route a path belongs to: a path containing `.`/`..` (also as `%2e`) is
//! resolved (RFC 3986 §5.2.4), matched in its resolved form, and forwarded resolved, so the
//! route is always chosen on the same path the upstream receives.

pub mod action;
pub mod escape;
pub mod headers;
pub mod host;
pub mod limits;
mod path;

use path::{dot_segment, normalize_prefix, resolve_dots};

use std::fmt;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme, Uri};

use host::{HostIndex, HostKey};

pub(crate) use crate::syntax::split_authority;

/// A valid URL to build a route without an upstream from, before its upstream is replaced
/// by [`Upstream::none`].
pub const NO_UPSTREAM: &str = "http://0.0.0.0:9";

/// Where a route sends its requests: `http(s)://host:port/base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `true` for `https://`.
    pub https: bool,
    /// `host:port`, port always explicit, host lower-cased.
    pub authority: Authority,
    /// Path prefix added in front of every forwarded path; no trailing `/`, `""` if none.
    pub base_path: String,
}

impl Upstream {
    /// Parses `http://host[:port][/path]` or `https://…`. Userinfo, query and fragment are
    /// refused: they would be silently dropped or leak credentials into logs.
    pub fn parse(url: &str) -> Result<Upstream, RouteError> {
        let bad = |reason: String| RouteError::InvalidUpstream {
            url: url.to_owned(),
            reason,
        };
        if url.contains('#') {
            return Err(bad("a fragment (#) is not allowed".into()));
        }
        let uri: Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) => return Err(bad(format!("scheme \"{s}\" is not http or https"))),
            None => return Err(bad("missing scheme (http:// or https://)".into())),
        };
        let authority = uri.authority().ok_or_else(|| bad("missing host".into()))?;
        if authority.port_u16() == Some(0) {
            return Err(bad("port 0 is not a valid upstream port".into()));
        }
        let (host, port) =
            split_authority(authority.as_str()).map_err(|r| bad(r.reason().into()))?;
        if uri.query().is_some() {
            return Err(bad("a query (?) is not allowed".into()));
        }
        let base_path = uri.path().trim_end_matches('/');
        if base_path.split('/').any(|seg| dot_segment(seg) > 0) {
            return Err(bad("dot-segments are not allowed in the path".into()));
        }
        let port = port.unwrap_or(if https { 443 } else { 80 });
        let authority = Authority::try_from(format!("{}:{port}", host.to_ascii_lowercase()))
            .map_err(|e| bad(format!("{e}")))?;
        Ok(Upstream {
            https,
            authority,
            base_path: base_path.to_owned(),
        })
    }

    /// The upstream of a route that answers itself (`respond`, `redirect`) and names none:
    /// port 0, which [`Upstream::parse`] refuses, so it never equals a configured one.
    pub fn none() -> Upstream {
        Upstream {
            https: false,
            authority: Authority::from_static("0.0.0.0:0"),
            base_path: String::new(),
        }
    }

    /// `true` for [`Upstream::none`].
    pub fn is_none(&self) -> bool {
        self.authority.port_u16() == Some(0)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        if self.https {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        }
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority, self.base_path)
    }
}

/// One `[[route]]`: a host pattern, a path prefix and the upstream it forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `api.example.com` or `*.example.com`, normalised by [`host::normalize_pattern`];
    /// `None` = any host.
    pub host: Option<String>,
    /// Starts with `/`; no trailing `/` except for the catch-all `/`.
    pub prefix: String,
    /// Where matching requests go.
    pub upstream: Upstream,
    /// Remove `prefix` from the forwarded path (`/users/42` → `/42`).
    pub strip_prefix: bool,
    /// Forward the client's `Host` instead of the upstream's authority.
    pub preserve_host: bool,
    /// Overrides `timeouts.upstream_response` for this route; `None` = the global value.
    pub response_timeout: Option<Duration>,
    /// Label for logs and metrics; defaults to the prefix.
    pub name: String,
    /// The `[[upstream]]` group this route sends to, when it names one; `upstream` is then
    /// the group's first server.
    pub group: Option<String>,
    /// `methods = [...]`: the only methods served (405 + `Allow` otherwise); `None` = all.
    pub methods: Option<Vec<http::Method>>,
    /// `respond` or `redirect`: answered here, `upstream` unused.
    pub action: Option<action::Action>,
    /// `rewrite_prefix`: replaces the matched prefix in the forwarded path.
    pub rewrite_prefix: Option<String>,
    /// `request_headers`: applied to the request as it leaves for the upstream.
    pub request_headers: headers::HeaderRules,
    /// `response_headers`: applied to the response as it leaves for the client.
    pub response_headers: headers::HeaderRules,
    /// `rate_limit`: a token bucket per client address (429 beyond); `None` = none.
    pub rate_limit: Option<limits::RateRule>,
    /// `max_body_bytes`: overrides `limits.max_body_bytes` for this route.
    pub max_body_bytes: Option<u64>,
    /// `timeouts.upstream_connect`: overrides `timeouts.upstream_connect` for this route.
    pub connect_timeout: Option<Duration>,
    /// `protocol` of the route or of its group: overrides `[pool]`'s version choice.
    pub protocol: Option<limits::Protocol>,
}

impl Route {
    /// A route with every option at its default.
    pub fn new(prefix: &str, upstream_url: &str) -> Result<Route, RouteError> {
        let prefix = normalize_prefix(prefix)?;
        Ok(Route {
            host: None,
            name: prefix.clone(),
            prefix,
            upstream: Upstream::parse(upstream_url)?,
            strip_prefix: false,
            preserve_host: false,
            response_timeout: None,
            group: None,
            methods: None,
            action: None,
            rewrite_prefix: None,
            request_headers: headers::HeaderRules::default(),
            response_headers: headers::HeaderRules::default(),
            rate_limit: None,
            max_body_bytes: None,
            connect_timeout: None,
            protocol: None,
        })
    }

    fn matches(&self, path: &str) -> bool {
        self.prefix == "/"
            || (path.starts_with(self.prefix.as_str())
                && matches!(path.as_bytes().get(self.prefix.len()), None | Some(b'/')))
    }

    /// Number of segments in the prefix (`/` → 0, `/a/b` → 2).
    fn depth(&self) -> usize {
        if self.prefix == "/" {
            0
        } else {
            self.prefix.bytes().filter(|b| *b == b'/').count()
        }
    }
}

/// The routing table.
#[derive(Debug, Clone, Default)]
pub struct Router {
    /// Sorted longest prefix first, so the first match is the longest one. A linear scan
    /// beats a trie for the dozens of routes a gateway config holds.
    routes: Vec<Route>,
    /// Route indices by host pattern.
    hosts: HostIndex,
}

/// A successful match.
#[derive(Debug, Clone)]
pub struct RouteMatch<'a> {
    /// The route that matched.
    pub route: &'a Route,
    /// Its position in [`Router::routes`] (what per-route metrics and groups are keyed by).
    pub index: usize,
    /// Absolute URI to send upstream: scheme, authority, base path, path, query. For a
    /// route to an `[[upstream]]` group, the path and query only (origin form): the server
    /// picked for each attempt supplies the rest.
    pub upstream_uri: Uri,
}

impl Router {
    /// Builds the table. Prefixes are normalised again, so a hand-edited [`Route`] is
    /// checked too; two routes with the same prefix are an error.
    pub fn new(mut routes: Vec<Route>) -> Result<Router, RouteError> {
        for route in &mut routes {
            route.prefix = normalize_prefix(&route.prefix)?;
        }
        for route in &mut routes {
            if let Some(h) = &route.host {
                route.host = Some(host::normalize_pattern(h)?);
            }
        }
        routes.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then(a.prefix.cmp(&b.prefix))
                .then(a.host.cmp(&b.host))
        });
        if let Some(pair) = routes
            .windows(2)
            .find(|w| matches!(w, [a, b] if a.prefix == b.prefix && a.host == b.host))
        {
            let dup = pair.first().map_or_else(String::new, |r| match &r.host {
                Some(h) => format!("{h}{}", r.prefix),
                None => r.prefix.clone(),
            });
            return Err(RouteError::DuplicatePrefix(dup));
        }
        let hosts = HostIndex::new(routes.iter().map(|r| r.host.as_deref()));
        Ok(Router { routes, hosts })
    }

    /// `true` when some route names a host.
    pub fn has_hosts(&self) -> bool {
        self.hosts.has_hosts()
    }

    /// The routes, longest prefix first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Gives the routes back, e.g. to add more and build a new table.
    pub fn into_routes(self) -> Vec<Route> {
        self.routes
    }

    /// Routes an origin-form request target (`/path?query`).
    pub fn route<'a>(&'a self, path_and_query: &str) -> Result<RouteMatch<'a>, RouteError> {
        self.route_target(None, path_and_query, None)
    }

    /// [`Router::route`] for a request to `host` (`Host` or `:authority`, port allowed).
    pub fn route_host<'a>(
        &'a self,
        host: Option<&str>,
        path_and_query: &str,
    ) -> Result<RouteMatch<'a>, RouteError> {
        self.route_target(host, path_and_query, None)
    }

    /// [`Router::route_pq`] for a request to `host`.
    pub fn route_host_pq<'a>(
        &'a self,
        host: Option<&str>,
        pq: &PathAndQuery,
    ) -> Result<RouteMatch<'a>, RouteError> {
        self.route_target(host, pq.as_str(), Some(pq))
    }

    /// [`Router::route`] for a request's own target: when the forwarded target is the
    /// inbound one byte for byte (no base path, no prefix stripped, no dot-segments: the
    /// common case), the inbound `PathAndQuery` is reused instead of copied (no allocation).
    pub fn route_pq<'a>(&'a self, pq: &PathAndQuery) -> Result<RouteMatch<'a>, RouteError> {
        self.route_target(None, pq.as_str(), Some(pq))
    }

    fn route_target<'a>(
        &'a self,
        host: Option<&str>,
        path_and_query: &str,
        original: Option<&PathAndQuery>,
    ) -> Result<RouteMatch<'a>, RouteError> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        // Also refuses `*` (OPTIONS *): it names the server, not a resource upstream. A `#`
        // never arrives from hyper, but `PathAndQuery` would silently cut the target there,
        // possibly leaving a dot-segment we never saw: refuse it.
        if !path.starts_with('/') || path_and_query.contains('#') {
            return Err(RouteError::BadPath);
        }
        let resolved = resolve_dots(path)?;
        let key = if self.hosts.has_hosts() {
            HostKey::new(host)
        } else {
            None
        };
        let (index, route) = self
            .hosts
            .find(key.as_ref(), |table| {
                table
                    .iter()
                    .filter_map(|&i| self.routes.get(i).map(|r| (i, r)))
                    .find(|(_, r)| r.matches(&resolved.path))
            })
            .ok_or(RouteError::NotFound)?;
        // Resolve-then-match alone would let `/users/../profiles/1` reach /profiles. A
        // client that names one route and walks into another is probing (browsers resolve
        // dot-segments before sending), and a front proxy or ACL may have decided on the
        // `/users` it saw; so `..` may never climb out of the route it ends up in.
        if resolved.lowest.is_some_and(|low| low < route.depth()) {
            return Err(RouteError::BadPath);
        }
        // `rewrite_prefix` puts `lead` where the prefix was (`/` as a rewrite adds nothing).
        let lead = match route.rewrite_prefix.as_deref() {
            Some("/") | None => "",
            Some(lead) => lead,
        };
        let rest = if (route.strip_prefix || route.rewrite_prefix.is_some()) && route.prefix != "/"
        {
            resolved.path.get(route.prefix.len()..).unwrap_or("")
        } else {
            &resolved.path
        };
        let rest = if rest.is_empty() && lead.is_empty() {
            "/"
        } else {
            rest
        };
        let base = &route.upstream.base_path;
        let unchanged =
            base.is_empty() && lead.is_empty() && rest.len() == path.len() && rest == path;
        let target = match original {
            Some(pq) if unchanged => pq.clone(),
            _ => {
                let mut target = String::with_capacity(
                    base.len() + lead.len() + rest.len() + query.map_or(0, |q| q.len() + 1),
                );
                target.push_str(base);
                target.push_str(lead);
                target.push_str(rest);
                if let Some(query) = query {
                    target.push('?');
                    target.push_str(query);
                }
                PathAndQuery::try_from(target).map_err(|_| RouteError::BadPath)?
            }
        };
        let upstream_uri = if route.group.is_some() {
            // A group's server is picked per attempt, which supplies the scheme and
            // authority: building them here would be thrown away on every request.
            Uri::from(target)
        } else {
            Uri::builder()
                .scheme(route.upstream.scheme())
                .authority(route.upstream.authority.clone())
                .path_and_query(target)
                .build()
                .map_err(|_| RouteError::BadPath)?
        };
        Ok(RouteMatch {
            route,
            index,
            upstream_uri,
        })
    }
}

/// The host a request is addressed to: the URI's authority (HTTP/2 `:authority`, or an
/// absolute-form HTTP/1 target), else the `Host` header.
pub fn request_host<B>(req: &http::Request<B>) -> Option<&str> {
    match req.uri().authority() {
        Some(a) => Some(a.as_str()),
        None => req
            .headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok()),
    }
}

/// Why routing or building a route failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No route matches the path (404).
    NotFound,
    /// Malformed path, or dot-segments climbing above `/` or out of the matched route (400).
    BadPath,
    /// A route prefix that cannot be used.
    InvalidPrefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An upstream URL that cannot be used.
    InvalidUpstream {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two routes with the same (normalised) host and prefix.
    DuplicatePrefix(String),
    /// A route host pattern that cannot be used.
    InvalidHost {
        /// The pattern as given.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl RouteError {
    /// The status a request-time error answers with (500 for configuration errors).
    pub fn status(&self) -> http::StatusCode {
        match self {
            RouteError::NotFound => http::StatusCode::NOT_FOUND,
            RouteError::BadPath => http::StatusCode::BAD_REQUEST,
            _ => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NotFound => f.write_str("no route for this path"),
            RouteError::BadPath => f.write_str("bad request path"),
            RouteError::InvalidPrefix { prefix, reason } => {
                write!(f, "invalid route prefix \"{prefix}\": {reason}")
            }
            RouteError::InvalidUpstream { url, reason } => {
                write!(f, "invalid upstream URL \"{url}\": {reason}")
            }
            RouteError::DuplicatePrefix(p) => write!(f, "duplicate route prefix \"{p}\""),
            RouteError::InvalidHost { host, reason } => {
                write!(f, "invalid route host \"{host}\": {reason}")
            }
        }
    }
}

impl std::error::Error for RouteError {}

#[cfg(test)]
mod tests;
