//! `[[upstream]]`: named groups of servers a route can send to (`upstream = "users"`), and
//! [`parse_server_list`] for the command line's `--route /users=http://a,http://b`.
//!
//! Single-value checks run in `Deserialize` (toml attaches the span); what needs several
//! keys, or names an array element, is checked in [`validate`] with the element's span.

mod raw;

use std::collections::HashMap;
use std::time::Duration;

use super::duration;
use super::error::ConfigError;
use super::validate::Source;
use crate::route::Upstream;
use crate::upstream::{budget, health, outlier, retry, HashOn, Policy, Settings};
use raw::Balance;
pub(super) use raw::RawUpstream;

/// Largest `weight`: enough for any ratio, small enough for round robin's precomputed order.
pub const MAX_WEIGHT: u32 = 10_000;
/// Largest `retries`: beyond a handful, retries only add latency to a failure.
pub const MAX_RETRIES: u32 = 10;

/// One validated `[[upstream]]` group.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamGroup {
    /// `name`, referenced by `[[route]] upstream`.
    pub name: String,
    /// `servers`, in order.
    pub servers: Vec<ServerSpec>,
    /// Policy, failover, budget, passive and active health.
    pub settings: Settings,
    /// How often host names among the servers are resolved again (`resolve_interval`, 5 s).
    pub resolve_interval: Duration,
    /// `protocol = "http1" | "http2"`: what is spoken to the servers; `None` = `[pool]`'s.
    pub protocol: Option<crate::route::limits::Protocol>,
}

impl UpstreamGroup {
    /// The command line's group (`--route /users=http://a,http://b`): every setting at its
    /// default (`least_requests`, 2 retries, passive health only).
    pub fn anonymous(name: String, servers: Vec<ServerSpec>) -> UpstreamGroup {
        UpstreamGroup {
            name,
            servers,
            settings: Settings {
                policy: Policy::LeastRequests,
                hash_on: None,
                retry: retry::Policy::default(),
                budget: budget::Settings::default(),
                outlier: outlier::Settings::default(),
                health: None,
            },
            resolve_interval: raw::default_resolve(),
            protocol: None,
        }
    }
}

/// One server of a group: `"http://host:port"` or `{ url = "…", weight = 3 }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// Scheme and authority; no path (the route's path is forwarded as it is).
    pub upstream: Upstream,
    /// Share of requests relative to the others: 1 to `MAX_WEIGHT` (10 000), default 1.
    pub weight: u32,
}

/// Parses a comma-separated server list (`http://127.0.0.1:3001,http://127.0.0.1:3002`),
/// the command line's anonymous group: every server weight 1, the default policy.
pub fn parse_server_list(text: &str) -> Result<Vec<ServerSpec>, String> {
    let mut servers: Vec<ServerSpec> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("empty server in the list \"{text}\""));
        }
        let upstream = server_url(item)?;
        if servers.iter().any(|s| s.upstream == upstream) {
            return Err(format!("server {upstream} is listed twice"));
        }
        servers.push(ServerSpec {
            upstream,
            weight: 1,
        });
    }
    Ok(servers)
}

/// A group server's URL: `http(s)://host[:port]`, nothing after the authority.
fn server_url(url: &str) -> Result<Upstream, String> {
    let upstream = Upstream::parse(url).map_err(|e| match e {
        crate::route::RouteError::InvalidUpstream { reason, .. } => format!("\"{url}\": {reason}"),
        other => other.to_string(),
    })?;
    if !upstream.base_path.is_empty() {
        return Err(format!(
            "\"{url}\": a group's server is scheme://host:port without a path (its servers are replicas; the route's path is forwarded as it is)"
        ));
    }
    Ok(upstream)
}

/// Checks every group; the result is in file order.
pub(super) fn validate(
    raw: Vec<RawUpstream>,
    src: &Source<'_>,
) -> Result<Vec<UpstreamGroup>, ConfigError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut groups = Vec::with_capacity(raw.len());
    for (i, raw) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("upstream[{i}].{k}");
        let name = raw.name.get_ref().clone();
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid_name {
            let message = format!("\"{name}\" is not a group name (letters, digits, _ - . only)");
            return Err(src.error(raw.name.span(), key("name"), message));
        }
        if let Some(other) = seen.insert(name.clone(), i) {
            let message = format!("duplicate upstream name \"{name}\" (also upstream[{other}])");
            return Err(src.error(raw.name.span(), key("name"), message));
        }
        if raw.servers.get_ref().is_empty() {
            let message = "empty servers: a group needs at least one server";
            return Err(src.error(raw.servers.span(), key("servers"), message));
        }
        let mut servers: Vec<ServerSpec> = Vec::new();
        for (j, server) in raw.servers.get_ref().iter().enumerate() {
            let at = |m: String| src.error(server.span(), key(&format!("servers[{j}]")), m);
            let upstream = server_url(server.get_ref().url.trim()).map_err(at)?;
            if servers.iter().any(|s| s.upstream == upstream) {
                return Err(at(format!("server {upstream} is listed twice")));
            }
            let weight = match server.get_ref().weight {
                None => 1,
                Some(w) if (1..=i64::from(MAX_WEIGHT)).contains(&w) => w as u32,
                Some(w) => {
                    let message = format!("weight {w}: must be 1 to {MAX_WEIGHT}");
                    return Err(src.error(
                        server.span(),
                        key(&format!("servers[{j}].weight")),
                        message,
                    ));
                }
            };
            servers.push(ServerSpec { upstream, weight });
        }

        let policy = match raw.balance.as_ref().map(|b| *b.get_ref()) {
            None | Some(Balance::LeastRequests) => Policy::LeastRequests,
            Some(Balance::RoundRobin) => Policy::RoundRobin,
            Some(Balance::Random) => Policy::Random,
            Some(Balance::Hash) => Policy::Hash,
        };
        let hash_on = match &raw.hash_on {
            Some(text) => Some(
                HashOn::parse(text.get_ref())
                    .map_err(|m| src.error(text.span(), key("hash_on"), m))?,
            ),
            None => None,
        };
        match (&raw.balance, &hash_on, &raw.hash_on) {
            (Some(b), None, _) if policy == Policy::Hash => {
                let message = "balance = \"hash\" needs hash_on (\"header:NAME\", \"cookie:NAME\" or \"client_ip\")";
                return Err(src.error(b.span(), key("balance"), message));
            }
            (_, Some(_), Some(text)) if policy != Policy::Hash => {
                let message = "hash_on is only used with balance = \"hash\"";
                return Err(src.error(text.span(), key("hash_on"), message));
            }
            _ => {}
        }

        let retries = match &raw.retries {
            Some(r) if *r.get_ref() > MAX_RETRIES => {
                let message = format!("at most {MAX_RETRIES}");
                return Err(src.error(r.span(), key("retries"), message));
            }
            Some(r) => *r.get_ref(),
            None => retry::Policy::default().retries,
        };
        let mut on_5xx = false;
        for (j, item) in raw.retry_on.iter().enumerate() {
            if item.get_ref() != "5xx" {
                let message = format!("\"{}\" is not a retry condition (only \"5xx\": 502, 503 and 504 for idempotent requests; connection failures are always retried)", item.get_ref());
                return Err(src.error(item.span(), key(&format!("retry_on[{j}]")), message));
            }
            on_5xx = true;
        }

        let health = match raw.health {
            Some(h) => {
                let mut expected_status = Vec::new();
                for (j, item) in h.expected_status.iter().enumerate() {
                    let parsed = health::StatusMatch::parse(&item.get_ref().0).map_err(|m| {
                        src.error(item.span(), key(&format!("health.expected_status[{j}]")), m)
                    })?;
                    expected_status.push(parsed);
                }
                let defaults = health::Settings::default();
                Some(health::Settings {
                    path: h.path,
                    interval: h.interval,
                    timeout: h.timeout,
                    healthy_after: h.healthy_after,
                    unhealthy_after: h.unhealthy_after,
                    expected_status: if expected_status.is_empty() {
                        defaults.expected_status
                    } else {
                        expected_status
                    },
                })
            }
            None => None,
        };

        let o = raw.outlier;
        let max_ejection = match &o.max_ejection {
            Some(text) => {
                let d = duration::parse_duration(text.get_ref())
                    .map_err(|m| src.error(text.span(), key("outlier.max_ejection"), m))?;
                if d < o.base_ejection {
                    let message = "must be at least base_ejection";
                    return Err(src.error(text.span(), key("outlier.max_ejection"), message));
                }
                d
            }
            None => outlier::Settings::default()
                .max_ejection
                .max(o.base_ejection),
        };
        if *o.max_ejected_percent.get_ref() > 100 {
            let span = o.max_ejected_percent.span();
            return Err(src.error(span, key("outlier.max_ejected_percent"), "at most 100"));
        }

        let b = raw.retry_budget;
        if *b.percent.get_ref() > 100 {
            return Err(src.error(b.percent.span(), key("retry_budget.percent"), "at most 100"));
        }
        let window = match &b.window {
            Some(text) => {
                let d = duration::parse_duration(text.get_ref())
                    .map_err(|m| src.error(text.span(), key("retry_budget.window"), m))?;
                if d.subsec_nanos() != 0 || !(1..=60).contains(&d.as_secs()) {
                    let message = "whole seconds from 1s to 60s";
                    return Err(src.error(text.span(), key("retry_budget.window"), message));
                }
                d
            }
            None => budget::Settings::default().window,
        };

        let protocol = match &raw.protocol {
            Some(p) => Some(super::route_extras::parse_protocol(
                p,
                &key("protocol"),
                src,
            )?),
            None => None,
        };
        groups.push(UpstreamGroup {
            protocol,
            name,
            servers,
            settings: Settings {
                policy,
                hash_on,
                retry: retry::Policy { retries, on_5xx },
                budget: budget::Settings {
                    ratio: f64::from(*b.percent.get_ref()) / 100.0,
                    min_per_second: b.min_per_second,
                    window,
                },
                outlier: outlier::Settings {
                    consecutive_failures: o.consecutive_failures,
                    base_ejection: o.base_ejection,
                    max_ejection,
                    max_ejected_percent: *o.max_ejected_percent.get_ref(),
                },
                health,
            },
            resolve_interval: raw.resolve_interval,
        });
    }
    Ok(groups)
}

/// What `[[route]] upstream = "…"` names: a group by its name, or (as before groups) a URL.
pub(super) fn find_group<'a>(groups: &'a [UpstreamGroup], text: &str) -> Option<&'a UpstreamGroup> {
    groups.iter().find(|g| g.name == text)
}

#[cfg(test)]
mod tests;
