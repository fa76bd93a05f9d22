//! The file as written (`Raw*`, with spans on every key a semantic check looks at) and the
//! checks that turn it into a [`Config`]. Single-value checks live in `Deserialize` impls,
//! where toml attaches the span for us; what remains here needs several keys, the routing
//! table, or the filesystem.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use toml::Spanned;

use super::cors::{each as patterns, normalize_origin, normalize_target};
use super::duration;
use super::error::ConfigError;
use super::pool::RawPool;
use super::route_extras;
use super::route_rules;
use super::schema::{
    self, Admin, Config, Cors, Health, Limits, Listener, ListenerMode, Log, RateLimit, Runtime,
    Shutdown, Timeouts, TlsFiles,
};
use super::upstream::{self, RawUpstream, UpstreamGroup};
use crate::route::{Route, RouteError, Router};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    listener: Vec<RawListener>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    pool: RawPool,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    timeouts: Timeouts,
    #[serde(default)]
    health: Health,
    #[serde(default)]
    shutdown: Shutdown,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    log: Log,
    #[serde(default)]
    cors: RawCors,
    #[serde(default)]
    runtime: Runtime,
    #[serde(default)]
    upstream: Vec<RawUpstream>,
    #[serde(default)]
    tracing: super::observe::Tracing,
    #[serde(default)]
    request_id: super::observe::RequestId,
    #[serde(default)]
    forwarding: super::Forwarding,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    address: Spanned<Addr>,
    tls: Option<RawTls>,
    certificates: Option<Spanned<Vec<RawTls>>>,
    #[serde(default)]
    mode: ListenerMode,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    host: Option<Spanned<String>>,
    prefix: Spanned<String>,
    /// Optional only for a route that answers itself (`respond`, `redirect`).
    upstream: Option<Spanned<String>>,
    #[serde(default)]
    strip_prefix: bool,
    #[serde(default)]
    preserve_host: bool,
    #[serde(default, deserialize_with = "duration::optional")]
    response_timeout: Option<Duration>,
    name: Option<String>,
    methods: Option<Spanned<Vec<String>>>,
    respond: Option<Spanned<route_rules::RawRespond>>,
    redirect: Option<Spanned<route_rules::RawRedirect>>,
    rewrite_prefix: Option<Spanned<String>>,
    request_headers: Option<route_extras::RawHeaderRules>,
    response_headers: Option<route_extras::RawHeaderRules>,
    rate_limit: Option<schema::RateLimit>,
    #[serde(default, deserialize_with = "duration::optional_size")]
    max_body_bytes: Option<u64>,
    timeouts: Option<Spanned<route_extras::RawRouteTimeouts>>,
    protocol: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAdmin {
    address: Option<Spanned<Addr>>,
    #[serde(deserialize_with = "schema::absolute_path")]
    metrics_path: String,
}

impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin {
            address: None,
            metrics_path: Admin::default().metrics_path,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCors {
    allow_targets: Vec<Spanned<String>>,
    allow_origins: Vec<Spanned<String>>,
    allow_credentials: Option<Spanned<bool>>,
    #[serde(deserialize_with = "duration::deserialize")]
    max_age: Duration,
    require_header: bool,
    forward_cookies: bool,
    forward_authorization: bool,
    pass_set_cookie: bool,
    rate_limit: Option<RateLimit>,
    #[serde(deserialize_with = "duration::size")]
    max_response_bytes: u64,
    #[serde(deserialize_with = "duration::non_zero")]
    total_timeout: Duration,
}

impl Default for RawCors {
    fn default() -> Self {
        let d = Cors::default();
        RawCors {
            allow_targets: Vec::new(),
            allow_origins: Vec::new(),
            allow_credentials: None,
            max_age: d.max_age,
            require_header: d.require_header,
            forward_cookies: d.forward_cookies,
            forward_authorization: d.forward_authorization,
            pass_set_cookie: d.pass_set_cookie,
            rate_limit: d.rate_limit,
            max_response_bytes: d.max_response_bytes,
            total_timeout: d.total_timeout,
        }
    }
}

/// A socket address with a message that says what went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Addr(SocketAddr);

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Addr, D::Error> {
        let text = String::deserialize(d)?;
        parse_listen_address(&text)
            .map(Addr)
            .map_err(D::Error::custom)
    }
}

/// Reads a listen address as Caddy and Traefik users write them: `IP:PORT`
/// (`127.0.0.1:2000`, `[::]:2000`), `:PORT` for every IPv4 address (`0.0.0.0`), and
/// `localhost:PORT` for `127.0.0.1`. Other host names are refused rather than resolved: a
/// listener bound to whatever DNS said at startup is a surprise waiting to happen.
pub(crate) fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "\"{text}\" is not IP:PORT, :PORT or localhost:PORT (e.g. \"127.0.0.1:2000\", \":2000\", \"[::]:443\"; host names are not resolved)"
        )
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let ip = match host {
        "" => std::net::Ipv4Addr::UNSPECIFIED,
        h if h.eq_ignore_ascii_case("localhost") => std::net::Ipv4Addr::LOCALHOST,
        _ => return Err(bad()),
    };
    // Digits only: `u16::from_str` would also take `+2000`.
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok(SocketAddr::new(ip.into(), port))
}

/// Two binds that would collide. Port 0 asks the OS for a fresh port each time, so
/// several `127.0.0.1:0` listeners (tests do this) never clash.
pub(crate) fn same_port(a: SocketAddr, b: SocketAddr) -> bool {
    a == b && a.port() != 0
}

/// Where the text came from, to turn spans into `file:line:col` and resolve relative paths.
pub(crate) struct Source<'a> {
    pub(super) origin: &'a str,
    pub(super) text: &'a str,
    /// Directory relative paths are resolved against; `None` = the working directory.
    pub(super) base_dir: Option<&'a Path>,
}

impl Source<'_> {
    pub(super) fn error(
        &self,
        span: Range<usize>,
        key: String,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::at(self.origin, self.text, Some(span), key, message)
    }

    fn existing_file(&self, path: &Spanned<PathBuf>, key: String) -> Result<PathBuf, ConfigError> {
        let resolved = match self.base_dir {
            Some(dir) if path.get_ref().is_relative() => dir.join(path.get_ref()),
            _ => path.get_ref().clone(),
        };
        if resolved.is_file() {
            Ok(resolved)
        } else {
            let message = format!("file not found: {}", resolved.display());
            Err(self.error(path.span(), key, message))
        }
    }
}

impl RawConfig {
    /// Everything but "at least one listener", which the command line may still satisfy.
    pub(super) fn validate(self, src: &Source<'_>) -> Result<Config, ConfigError> {
        let mut listeners: Vec<Listener> = Vec::with_capacity(self.listener.len());
        for (i, raw) in self.listener.into_iter().enumerate() {
            let address = raw.address.get_ref().0;
            if let Some(other) = listeners.iter().position(|l| same_port(l.address, address)) {
                let message = format!("{address} is already used by listener[{other}]");
                return Err(src.error(
                    raw.address.span(),
                    format!("listener[{i}].address"),
                    message,
                ));
            }
            let tls = match raw.tls {
                Some(tls) => Some(TlsFiles {
                    cert: src.existing_file(&tls.cert, format!("listener[{i}].tls.cert"))?,
                    key: src.existing_file(&tls.key, format!("listener[{i}].tls.key"))?,
                }),
                None => None,
            };
            let mut certificates = Vec::new();
            if let Some(more) = raw.certificates {
                if tls.is_none() {
                    let message = "needs `tls` (the default certificate) on the same listener";
                    let key = format!("listener[{i}].certificates");
                    return Err(src.error(more.span(), key, message));
                }
                for (j, c) in more.into_inner().into_iter().enumerate() {
                    let key = |what| format!("listener[{i}].certificates[{j}].{what}");
                    certificates.push(TlsFiles {
                        cert: src.existing_file(&c.cert, key("cert"))?,
                        key: src.existing_file(&c.key, key("key"))?,
                    });
                }
            }
            listeners.push(Listener {
                address,
                tls,
                certificates,
                mode: raw.mode,
            });
        }

        // Groups before routes: a route may name one.
        let upstreams = upstream::validate(self.upstream, src)?;
        let mut routes = Vec::with_capacity(self.route.len());
        let mut seen: HashMap<(Option<String>, String), usize> = HashMap::new();
        for (i, raw) in self.route.into_iter().enumerate() {
            let table_span = raw.span();
            let raw = raw.into_inner();
            let prefix_span = raw.prefix.span();
            let route = raw.into_route(i, src, &upstreams, table_span)?;
            if let Some(other) = seen.insert((route.host.clone(), route.prefix.clone()), i) {
                let message = format!(
                    "duplicate prefix \"{}\" (also route[{other}])",
                    route.prefix
                );
                return Err(src.error(prefix_span, format!("route[{i}].prefix"), message));
            }
            routes.push(route);
        }
        let router = Router::new(routes)
            .map_err(|e| ConfigError::new(src.origin, "route", e.to_string()))?;

        if let (Some(h1), Some(h2)) = (&self.pool.http1_only, &self.pool.http2_only) {
            if *h1.get_ref() && *h2.get_ref() {
                let message = "http1_only and http2_only cannot both be true";
                return Err(src.error(h2.span(), "pool.http2_only".into(), message));
            }
        }
        let ca_file = match &self.pool.ca_file {
            Some(path) => Some(src.existing_file(path, "pool.ca_file".into())?),
            None => None,
        };
        let pool = self
            .pool
            .into_section(self.timeouts.upstream_connect, ca_file);

        let admin_address = self.admin.address.map(|a| (a.get_ref().0, a.span()));
        if let Some((address, span)) = &admin_address {
            if let Some(other) = listeners
                .iter()
                .position(|l| same_port(l.address, *address))
            {
                let message = format!("{address} is already used by listener[{other}]");
                return Err(src.error(span.clone(), "admin.address".into(), message));
            }
        }
        let admin = Admin {
            address: admin_address.map(|(address, _)| address),
            metrics_path: self.admin.metrics_path,
        };

        let cors = self.cors;
        if let Some(credentials) = &cors.allow_credentials {
            let any_origin = cors.allow_origins.is_empty()
                || cors.allow_origins.iter().any(|o| o.get_ref().trim() == "*");
            if *credentials.get_ref() && any_origin {
                let message = "allow_credentials needs an allow_origins list without \"*\": credentials are never offered to every site";
                return Err(src.error(
                    credentials.span(),
                    "cors.allow_credentials".into(),
                    message,
                ));
            }
        }
        let cors = Cors {
            allow_credentials: cors.allow_credentials.is_some_and(|b| *b.get_ref()),
            allow_targets: patterns(src, &cors.allow_targets, "allow_targets", normalize_target)?,
            allow_origins: patterns(src, &cors.allow_origins, "allow_origins", normalize_origin)?,
            max_age: cors.max_age,
            require_header: cors.require_header,
            forward_cookies: cors.forward_cookies,
            forward_authorization: cors.forward_authorization,
            pass_set_cookie: cors.pass_set_cookie,
            rate_limit: cors.rate_limit,
            max_response_bytes: cors.max_response_bytes,
            total_timeout: cors.total_timeout,
        };

        Ok(Config {
            listeners,
            router,
            pool,
            limits: self.limits,
            runtime: self.runtime,
            timeouts: self.timeouts,
            health: self.health,
            shutdown: self.shutdown,
            admin,
            log: super::observe::resolve_log_path(self.log, src.base_dir),
            cors,
            upstreams,
            tracing: self.tracing,
            request_id: self.request_id,
            forwarding: self.forwarding,
            resolver: None,
        })
    }
}

impl RawRoute {
    fn into_route(
        self,
        i: usize,
        src: &Source<'_>,
        groups: &[UpstreamGroup],
        table_span: Range<usize>,
    ) -> Result<Route, ConfigError> {
        // A route that answers itself needs no upstream; it gets a placeholder that can
        // never be a configured one (port 0), which nothing dials.
        let answers = self.respond.is_some() || self.redirect.is_some();
        let (text, upstream_span) = match &self.upstream {
            Some(u) => (u.get_ref().as_str(), u.span()),
            None if answers => (crate::route::NO_UPSTREAM, self.prefix.span()),
            None => {
                let message =
                    "missing field `upstream` (only a route with respond or redirect has none)";
                return Err(src.error(table_span, format!("route[{i}]"), message));
            }
        };
        // `upstream` names a group, or is a URL as before groups existed. A bare word that
        // is neither gets its own message; anything with `:` or `/` keeps the URL errors.
        let group = upstream::find_group(groups, text);
        if group.is_none() && !text.contains([':', '/']) {
            let message = format!(
                "no [[upstream]] named \"{text}\" (a single server is a URL: http://host:port)"
            );
            return Err(src.error(upstream_span, format!("route[{i}].upstream"), message));
        }
        // Until groups are wired into the request path, a group's route forwards to its
        // first server.
        let url = group
            .and_then(|g| g.servers.first())
            .map(|s| s.upstream.to_string());
        let new = Route::new(self.prefix.get_ref(), url.as_deref().unwrap_or(text));
        let new = if self.upstream.is_none() {
            new.map(|mut r| {
                r.upstream = crate::route::Upstream::none();
                r
            })
        } else {
            new
        };
        let mut route = new.map_err(|e| match e {
            RouteError::InvalidUpstream { reason, .. } => src.error(
                upstream_span.clone(),
                format!("route[{i}].upstream"),
                reason,
            ),
            RouteError::InvalidPrefix { reason, .. } => {
                src.error(self.prefix.span(), format!("route[{i}].prefix"), reason)
            }
            other => src.error(self.prefix.span(), format!("route[{i}]"), other.to_string()),
        })?;
        if let Some(host) = &self.host {
            let pattern = crate::route::host::normalize_pattern(host.get_ref())
                .map_err(|e| src.error(host.span(), format!("route[{i}].host"), e.to_string()))?;
            route.host = Some(pattern);
        }
        route_rules::apply(
            &mut route,
            route_rules::Rules {
                methods: self.methods,
                respond: self.respond,
                redirect: self.redirect,
                rewrite_prefix: self.rewrite_prefix,
            },
            i,
            src,
        )?;
        route.strip_prefix = self.strip_prefix;
        route.preserve_host = self.preserve_host;
        route.response_timeout = self.response_timeout;
        route_extras::apply(
            &mut route,
            route_extras::Extras {
                request_headers: self.request_headers,
                response_headers: self.response_headers,
                rate_limit: self.rate_limit,
                max_body_bytes: self.max_body_bytes,
                timeouts: self.timeouts,
                protocol: self.protocol,
            },
            group.map(|g| g.protocol),
            i,
            src,
        )?;
        route.group = group.map(|g| g.name.clone());
        if let Some(name) = self.name {
            route.name = name;
        }
        Ok(route)
    }
}
