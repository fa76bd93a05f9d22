//! A route's header rules, limits and upstream protocol (#13 items 5, 8, 9), as read and
//! checked: `request_headers`, `response_headers`, `rate_limit`, `max_body_bytes`,
//! `timeouts`, `protocol`. Each error names the key and where it is.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration;
use super::schema::RateLimit;
use super::validate::Source;
use super::ConfigError;
use crate::route::headers::{check_name, HeaderRules, Template};
use crate::route::limits::{Protocol, RateRule};
use crate::route::Route;

/// `request_headers = { set = {...}, add = {...}, remove = [...] }` (and the response's).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHeaderRules {
    set: BTreeMap<Spanned<String>, Spanned<String>>,
    add: BTreeMap<Spanned<String>, Spanned<String>>,
    remove: Vec<Spanned<String>>,
}

/// `timeouts = { upstream_response = "5s", upstream_connect = "2s" }` on a route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRouteTimeouts {
    #[serde(deserialize_with = "duration::optional")]
    upstream_response: Option<Duration>,
    #[serde(deserialize_with = "duration::optional")]
    upstream_connect: Option<Duration>,
}

/// The raw keys, as read.
pub(super) struct Extras {
    pub request_headers: Option<RawHeaderRules>,
    pub response_headers: Option<RawHeaderRules>,
    pub rate_limit: Option<RateLimit>,
    pub max_body_bytes: Option<u64>,
    pub timeouts: Option<Spanned<RawRouteTimeouts>>,
    pub protocol: Option<Spanned<String>>,
}

/// Checks the keys of `route[i]` and sets them on `route`. `in_group` is the protocol of
/// the `[[upstream]]` group the route names (`Some(None)` for a group without one).
pub(super) fn apply(
    route: &mut Route,
    extras: Extras,
    in_group: Option<Option<Protocol>>,
    i: usize,
    src: &Source<'_>,
) -> Result<(), ConfigError> {
    if let Some(raw) = extras.request_headers {
        route.request_headers = header_rules(raw, &format!("route[{i}].request_headers"), src)?;
    }
    if let Some(raw) = extras.response_headers {
        route.response_headers = header_rules(raw, &format!("route[{i}].response_headers"), src)?;
    }
    route.rate_limit = extras.rate_limit.map(|r| RateRule {
        per_second: r.per_second,
        burst: r.burst,
    });
    route.max_body_bytes = extras.max_body_bytes;
    if let Some(timeouts) = extras.timeouts {
        let span = timeouts.span();
        let t = timeouts.into_inner();
        if let Some(response) = t.upstream_response {
            if route.response_timeout.is_some() {
                let message = "set either response_timeout or timeouts.upstream_response";
                return Err(src.error(span, format!("route[{i}].timeouts"), message));
            }
            route.response_timeout = Some(response);
        }
        route.connect_timeout = t.upstream_connect;
    }
    route.protocol = match (extras.protocol, in_group) {
        (None, group) => group.flatten(),
        (Some(p), None) => Some(parse_protocol(&p, &format!("route[{i}].protocol"), src)?),
        (Some(p), Some(_)) => {
            let message = "a route naming an [[upstream]] group takes the group's protocol";
            return Err(src.error(p.span(), format!("route[{i}].protocol"), message));
        }
    };
    Ok(())
}

/// `"http1"` or `"http2"`.
pub(super) fn parse_protocol(
    text: &Spanned<String>,
    key: &str,
    src: &Source<'_>,
) -> Result<Protocol, ConfigError> {
    Protocol::parse(text.get_ref()).ok_or_else(|| {
        src.error(
            text.span(),
            key.to_owned(),
            "must be \"http1\" or \"http2\"",
        )
    })
}

fn header_rules(
    raw: RawHeaderRules,
    key: &str,
    src: &Source<'_>,
) -> Result<HeaderRules, ConfigError> {
    let name = |n: &Spanned<String>, kind: &str| {
        check_name(n.get_ref())
            .map_err(|reason| src.error(n.span(), format!("{key}.{kind}"), reason))
    };
    let pairs = |map: BTreeMap<Spanned<String>, Spanned<String>>, kind: &str| {
        map.into_iter()
            .map(|(n, v)| {
                let header = name(&n, kind)?;
                let value = Template::parse(v.get_ref()).map_err(|reason| {
                    src.error(v.span(), format!("{key}.{kind}.{}", n.get_ref()), reason)
                })?;
                Ok((header, value))
            })
            .collect::<Result<Vec<_>, ConfigError>>()
            .map(|mut list| {
                // By the lower-case name, as printed and read back.
                list.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
                list
            })
    };
    Ok(HeaderRules {
        set: pairs(raw.set, "set")?,
        add: pairs(raw.add, "add")?,
        remove: raw
            .remove
            .iter()
            .map(|n| name(n, "remove"))
            .collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests;
