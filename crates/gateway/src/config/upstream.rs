//! `[[upstream]]`: named groups of servers a route can send to (`upstream = "users"`), and
//! [`parse_server_list`] for the command line's `--route /users=http://a,http://b`.
//!
//! Single-value checks run in `Deserialize` (toml attaches the span); what needs several
//! keys, or names an array element, is checked in [`validate`] with the element's span.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::duration;
use super::error::ConfigError;
use super::validate::Source;
use crate::route::Upstream;
use crate::upstream::{budget, health, outlier, retry, HashOn, Policy, Settings};

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
}

/// One server of a group: `"http://host:port"` or `{ url = "…", weight = 3 }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// Scheme and authority; no path (the route's path is forwarded as it is).
    pub upstream: Upstream,
    /// Share of requests relative to the others: 1 to [`MAX_WEIGHT`], default 1.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    name: Spanned<String>,
    servers: Spanned<Vec<Spanned<RawServer>>>,
    #[serde(default)]
    balance: Option<Spanned<Balance>>,
    hash_on: Option<Spanned<String>>,
    retries: Option<Spanned<u32>>,
    #[serde(default)]
    retry_on: Vec<Spanned<String>>,
    #[serde(default = "default_resolve", deserialize_with = "duration::non_zero")]
    resolve_interval: Duration,
    health: Option<RawHealth>,
    #[serde(default)]
    outlier: RawOutlier,
    #[serde(default)]
    retry_budget: RawBudget,
}

fn default_resolve() -> Duration {
    Duration::from_secs(5)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Balance {
    LeastRequests,
    RoundRobin,
    Random,
    Hash,
}

/// A server as written: a URL string, or a table with `url` and `weight`.
#[derive(Debug)]
struct RawServer {
    url: String,
    weight: Option<i64>,
}

impl<'de> Deserialize<'de> for RawServer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawServer, D::Error> {
        d.deserialize_any(ServerVisitor)
    }
}

struct ServerVisitor;

impl<'de> Visitor<'de> for ServerVisitor {
    type Value = RawServer;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a URL string or { url = \"…\", weight = N }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawServer, E> {
        Ok(RawServer {
            url: v.to_owned(),
            weight: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawServer, A::Error> {
        let (mut url, mut weight) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "url" => url = Some(map.next_value::<String>()?),
                "weight" => weight = Some(map.next_value::<i64>()?),
                other => {
                    return Err(de::Error::unknown_field(other, &["url", "weight"]));
                }
            }
        }
        let url = url.ok_or_else(|| de::Error::missing_field("url"))?;
        Ok(RawServer { url, weight })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    #[serde(deserialize_with = "super::schema::absolute_path")]
    path: String,
    #[serde(default = "health_interval", deserialize_with = "duration::non_zero")]
    interval: Duration,
    #[serde(default = "health_timeout", deserialize_with = "duration::non_zero")]
    timeout: Duration,
    #[serde(default = "two", deserialize_with = "at_least_one")]
    healthy_after: u32,
    #[serde(default = "three", deserialize_with = "at_least_one")]
    unhealthy_after: u32,
    #[serde(default)]
    expected_status: Vec<Spanned<StatusText>>,
}

fn health_interval() -> Duration {
    health::Settings::default().interval
}
fn health_timeout() -> Duration {
    health::Settings::default().timeout
}
fn two() -> u32 {
    2
}
fn three() -> u32 {
    3
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        0 => Err(de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

/// `200` or `"2xx"`, kept as text until validation (which knows the element's span).
#[derive(Debug)]
struct StatusText(String);

impl<'de> Deserialize<'de> for StatusText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StatusText, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status such as 200 or a class such as \"2xx\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusText, E> {
                Ok(StatusText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusText, E> {
                Ok(StatusText(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusText, E> {
                Ok(StatusText(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOutlier {
    #[serde(deserialize_with = "at_least_one")]
    consecutive_failures: u32,
    #[serde(deserialize_with = "duration::non_zero")]
    base_ejection: Duration,
    max_ejection: Option<Spanned<String>>,
    max_ejected_percent: Spanned<u8>,
}

impl Default for RawOutlier {
    fn default() -> Self {
        let d = outlier::Settings::default();
        RawOutlier {
            consecutive_failures: d.consecutive_failures,
            base_ejection: d.base_ejection,
            max_ejection: None,
            max_ejected_percent: Spanned::new(0..0, d.max_ejected_percent),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBudget {
    percent: Spanned<u8>,
    min_per_second: u32,
    window: Option<Spanned<String>>,
}

impl Default for RawBudget {
    fn default() -> Self {
        RawBudget {
            percent: Spanned::new(0..0, 20),
            min_per_second: budget::Settings::default().min_per_second,
            window: None,
        }
    }
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

        groups.push(UpstreamGroup {
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
